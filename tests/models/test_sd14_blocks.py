"""SD1.4 UNet blocks (models/sd14) against diffusers at tiny random-weight configs (every parameter re-drawn):
Transformer2DModel (GroupNorm, 1x1 projections, BasicTransformerBlock with self + cross attention and GEGLU).
Targets: PCC >= 0.999 per block vs the float32 reference (also on the block's update, output - input, so the
residual cannot carry the score); JIT vs eager PCC >= 0.9995 with fewer launches."""

from __future__ import annotations

import pytest
import torch
from diffusers.models.transformers.transformer_2d import Transformer2DModel as RefTransformer2DModel

import ttfuse.sim
from models.sd14 import Transformer2DModel
from models.sd14.common import upload
from models.sd14.transformer2d import nchw_to_tt

PCC_BLOCK = 0.999


def transformer2d(
    redraw, seed: int, *, channels: int = 64, heads: int = 2, layers: int = 1, ctx_dim: int = 48
):
    ref = RefTransformer2DModel(
        num_attention_heads=heads,
        attention_head_dim=channels // heads,
        in_channels=channels,
        num_layers=layers,
        cross_attention_dim=ctx_dim,
        norm_num_groups=32,
    )
    return redraw(ref, seed)


def latents(shape, seed: int) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize(
    "channels, heads, layers, hw, text",
    [(64, 2, 1, (8, 8), 77), (96, 3, 2, (6, 5), 20)],
    ids=["sd14-like", "2-layers-hw30-ctx20"],
)
def test_transformer2d_vs_diffusers(device, redraw, pcc, pcc_report, channels, heads, layers, hw, text):
    ref = transformer2d(redraw, 0, channels=channels, heads=heads, layers=layers)
    x = latents((2, channels, *hw), 1)
    ctx = latents((2, text, 48), 2)
    with torch.no_grad():
        want = ref(x, encoder_hidden_states=ctx).sample
    got = Transformer2DModel.from_torch(ref, device, jit=False)(x, ctx)
    assert got.shape == want.shape
    p, pu = pcc(got, want), pcc(got - x, want - x)
    pcc_report(f"Transformer2DModel C={channels} HW={hw} L={text}", p)
    pcc_report(f"Transformer2DModel C={channels} HW={hw} L={text} update", pu)
    assert p >= PCC_BLOCK and pu >= PCC_BLOCK


def test_transformer2d_jit_vs_eager(device, redraw, pcc, pcc_report):
    ref = transformer2d(redraw, 5)
    x, ctx = latents((1, 64, 8, 8), 6), latents((1, 77, 48), 7)
    eager = Transformer2DModel.from_torch(ref, device, jit=False)
    jit = Transformer2DModel.from_torch(ref, device, jit=True)
    p = pcc(jit(x, ctx), eager(x, ctx))
    pcc_report("Transformer2DModel JIT vs eager", p)
    assert p >= 0.9995
    xt, ct = nchw_to_tt(x, device), upload(ctx, device)
    counts = {}
    for port in (eager, jit):
        port.forward_ttnn(xt, ct)  # JIT: compile outside the count
        with ttfuse.sim.count_launches(device) as c:
            port.forward_ttnn(xt, ct)
        counts[port.jit] = c.total
    pcc_report("Transformer2DModel launches eager -> JIT", f"{counts[False]} -> {counts[True]}")
    assert counts[True] < counts[False]
