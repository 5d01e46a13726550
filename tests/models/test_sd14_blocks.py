"""SD1.4 UNet blocks (models/sd14) against diffusers at tiny random-weight configs (every parameter re-drawn):
ResnetBlock2D (GroupNorm, SiLU, 3x3 ttnn.conv2d, time embedding, 1x1 shortcut), Downsample2D / Upsample2D,
TimestepEmbedding and Transformer2DModel (GroupNorm, 1x1 projections, BasicTransformerBlock with self + cross
attention and GEGLU). Targets: PCC >= 0.999 per block vs the float32 reference (also on the block's update,
output - input, so the residual cannot carry the score); JIT vs eager PCC >= 0.9995, with fewer launches where
the passes can fuse (Transformer2DModel; ResnetBlock2D's group_norm + silu epilogues, see its test)."""

from __future__ import annotations

import pytest
import torch
from diffusers.models.resnet import ResnetBlock2D as RefResnetBlock2D
from diffusers.models.transformers.transformer_2d import Transformer2DModel as RefTransformer2DModel

import ttfuse.sim
from models.sd14 import ResnetBlock2D, Transformer2DModel
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
    [(64, 2, 1, (8, 8), 77), (96, 3, 2, (6, 5), 20), (160, 4, 1, (6, 6), 77)],
    ids=["sd14-like", "2-layers-hw30-ctx20", "head-dim-40-padded"],  # SD1.4's own head dim 40 (320 / 8)
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


# ------------------------------------------------------------------------------------------ ResnetBlock2D
def resnet(redraw, seed: int, cin: int, cout: int, temb: int = 128):
    return redraw(
        RefResnetBlock2D(in_channels=cin, out_channels=cout, temb_channels=temb, groups=32, eps=1e-5), seed
    )


@pytest.mark.parametrize(
    "cin, cout, hw",
    [(64, 64, (8, 8)), (64, 96, (6, 5)), (96, 64, (4, 4))],
    ids=["same", "widen-hw30", "narrow"],
)
def test_resnet_block_vs_diffusers(device, redraw, pcc, pcc_report, cin, cout, hw):
    ref = resnet(redraw, 0, cin, cout)
    x, temb = latents((2, cin, *hw), 1), latents((2, 128), 2)
    with torch.no_grad():
        want = ref(x, temb)
        shortcut = x if ref.conv_shortcut is None else ref.conv_shortcut(x)
    got = ResnetBlock2D.from_torch(ref, device, jit=False)(x, temb)
    assert got.shape == want.shape
    p, pu = pcc(got, want), pcc(got - shortcut, want - shortcut)
    pcc_report(f"ResnetBlock2D {cin}->{cout} HW={hw}", p)
    pcc_report(f"ResnetBlock2D {cin}->{cout} HW={hw} update", pu)
    assert p >= PCC_BLOCK and pu >= PCC_BLOCK


def test_resnet_block_uses_temb(device, redraw, pcc):
    """A different time embedding changes the output the way the reference's does (temb is not dropped): the
    difference of two bfloat16 outputs (~1 against outputs ~20) carries their rounding, hence PCC >= 0.99; a
    dropped or mis-projected temb gives PCC near 0."""
    ref = resnet(redraw, 3, 64, 64)
    x, t1, t2 = latents((1, 64, 4, 4), 1), latents((1, 128), 2), latents((1, 128), 3)
    port = ResnetBlock2D.from_torch(ref, device, jit=False)
    with torch.no_grad():
        want = ref(x, t2) - ref(x, t1)
    assert pcc(port(x, t2) - port(x, t1), want) >= 0.99


def test_resnet_block_jit_vs_eager(device, redraw, pcc, pcc_report):
    ref = resnet(redraw, 5, 64, 96)
    x, temb = latents((1, 64, 8, 8), 6), latents((1, 128), 7)
    eager = ResnetBlock2D.from_torch(ref, device, jit=False)
    jit = ResnetBlock2D.from_torch(ref, device, jit=True)
    p = pcc(jit(x, temb), eager(x, temb))
    pcc_report("ResnetBlock2D JIT vs eager", p)
    assert p >= 0.9995
    xt, tt = nchw_to_tt(x, device), upload(temb.reshape(1, 1, 1, -1), device)
    counts = {}
    for port in (eager, jit):
        port.forward_ttnn(xt, tt, hw=(8, 8))  # JIT: compile outside the count
        with ttfuse.sim.count_launches(device) as c:
            port.forward_ttnn(xt, tt, hw=(8, 8))
        counts[port.jit] = c.total
    pcc_report("ResnetBlock2D launches eager -> JIT", f"{counts[False]} -> {counts[True]}")
    # eager: group_norm, silu, conv2d, silu, linear, add, group_norm, silu, conv2d, linear (shortcut), add.
    # JIT: group_norm + silu and add + group_norm + silu become kernels.group_norm_act (one launch each, a
    # generated kernel: tt-metal has no group_norm with a fused activation, so its ttnn rule runs the stock calls)
    assert counts[False] == 11
    assert counts[True] == 8


# ------------------------------------------------------------------ Downsample2D, Upsample2D, time embedding
@pytest.mark.parametrize("hw", [(8, 6), (5, 7)], ids=["even", "odd"])
@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_resample_vs_diffusers(device, redraw, pcc, pcc_report, hw, jit):
    from diffusers.models.downsampling import Downsample2D as RefDown
    from diffusers.models.upsampling import Upsample2D as RefUp

    from models.sd14 import Downsample2D, Upsample2D

    x = latents((2, 64, *hw), 1)
    for ref, port_cls in (
        (redraw(RefDown(64, use_conv=True, out_channels=96, padding=1, name="op"), 0), Downsample2D),
        (redraw(RefUp(64, use_conv=True, out_channels=96), 0), Upsample2D),
    ):
        with torch.no_grad():
            want = ref(x)
        got = port_cls.from_torch(ref, device, jit=jit)(x)
        assert got.shape == want.shape
        p = pcc(got, want)
        pcc_report(f"{port_cls.__name__} HW={hw} jit={jit}", p)
        assert p >= PCC_BLOCK


def test_timestep_embedding_vs_diffusers(device, redraw, pcc, pcc_report):
    from diffusers.models.embeddings import TimestepEmbedding as RefTimestepEmbedding
    from diffusers.models.embeddings import Timesteps

    from models.sd14 import TimestepEmbedding, timestep_features

    t = torch.tensor([981, 500, 1])
    feats = Timesteps(64, flip_sin_to_cos=True, downscale_freq_shift=0)(t)  # SD1.4's time_proj
    torch.testing.assert_close(timestep_features(t, 64), feats, rtol=1e-5, atol=1e-5)
    ref = redraw(RefTimestepEmbedding(64, 256), 0)
    with torch.no_grad():
        want = ref(feats)
    for jit in (False, True):
        p = pcc(TimestepEmbedding.from_torch(ref, device, jit=jit)(feats), want)
        pcc_report(f"TimestepEmbedding jit={jit}", p)
        assert p >= PCC_BLOCK


def test_blocks_on_blackhole(redraw, pcc, pcc_report):
    """The same port code on a Blackhole sim device (13x10 grid, its own compute config defaults) as on the
    default Wormhole n150: PCC vs diffusers holds there too."""
    from ttfuse import ttnn

    dev = ttnn.open_device(device_id=0, arch="blackhole")
    try:
        assert dev.arch() == ttnn.Arch.BLACKHOLE
        res = resnet(redraw, 0, 64, 96)
        x, temb = latents((1, 64, 8, 8), 1), latents((1, 128), 2)
        t2d = transformer2d(redraw, 0)
        ctx = latents((1, 77, 48), 3)
        with torch.no_grad():
            want_r, want_t = res(x, temb), t2d(x, encoder_hidden_states=ctx).sample
        p_r = pcc(ResnetBlock2D.from_torch(res, dev, jit=True)(x, temb), want_r)
        p_t = pcc(Transformer2DModel.from_torch(t2d, dev, jit=True)(x, ctx), want_t)
        pcc_report("Blackhole ResnetBlock2D", p_r)
        pcc_report("Blackhole Transformer2DModel", p_t)
        assert p_r >= PCC_BLOCK and p_t >= PCC_BLOCK
    finally:
        ttnn.close_device(dev)


# ------------------------------------------------------------------------------- down and up blocks
def cross_attn_down(redraw, seed: int, cin: int = 32, cout: int = 64, ctx_dim: int = 48):
    from diffusers.models.unets.unet_2d_blocks import CrossAttnDownBlock2D as Ref

    ref = Ref(in_channels=cin, out_channels=cout, temb_channels=128, num_layers=1, resnet_groups=32,
              num_attention_heads=2, cross_attention_dim=ctx_dim, add_downsample=True)  # fmt: skip
    return redraw(ref, seed)


def up_block(redraw, seed: int, cross: bool, ctx_dim: int = 48):
    """SD1.4's up-block shape at two levels: in 64 (skip channels), prev 64 -> out 32, 2 layers."""
    from diffusers.models.unets.unet_2d_blocks import CrossAttnUpBlock2D, UpBlock2D

    kw = dict(in_channels=32, prev_output_channel=64, out_channels=64, temb_channels=128, num_layers=2,
              resnet_groups=32, add_upsample=True)  # fmt: skip
    ref = (
        CrossAttnUpBlock2D(**kw, num_attention_heads=2, cross_attention_dim=ctx_dim)
        if cross
        else UpBlock2D(**kw)
    )
    return redraw(ref, seed)


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_cross_attn_down_block_vs_diffusers(device, redraw, pcc, pcc_report, jit):
    from models.sd14 import CrossAttnDownBlock2D

    ref = cross_attn_down(redraw, 0)
    x, temb, ctx = latents((1, 32, 8, 8), 1), latents((1, 128), 2), latents((1, 77, 48), 3)
    with torch.no_grad():
        want, want_skips = ref(x, temb, encoder_hidden_states=ctx)
    got, skips = CrossAttnDownBlock2D.from_torch(ref, device, jit=jit)(x, temb, ctx)
    assert got.shape == want.shape and len(skips) == len(want_skips) == 2
    ps = [pcc(g, w) for g, w in zip(skips, want_skips)]
    pcc_report(f"CrossAttnDownBlock2D jit={jit} output / skips", f"{pcc(got, want):.6f} / {min(ps):.6f}")
    assert pcc(got, want) >= PCC_BLOCK and min(ps) >= PCC_BLOCK


@pytest.mark.parametrize("cross", [False, True], ids=["UpBlock2D", "CrossAttnUpBlock2D"])
def test_up_block_vs_diffusers(device, redraw, pcc, pcc_report, cross):
    from models.sd14 import CrossAttnUpBlock2D, UpBlock2D

    ref = up_block(redraw, 4, cross)
    x, temb, ctx = latents((1, 64, 4, 4), 5), latents((1, 128), 6), latents((1, 77, 48), 7)
    skips = (latents((1, 32, 4, 4), 8), latents((1, 64, 4, 4), 9))  # popped from the end: 64 first, then 32
    with torch.no_grad():
        kw = {"encoder_hidden_states": ctx} if cross else {}
        want = ref(x, skips, temb, **kw)
    port = (CrossAttnUpBlock2D if cross else UpBlock2D).from_torch(ref, device, jit=True)
    got = port(x, skips, temb, ctx if cross else None)
    assert got.shape == want.shape == (1, 64, 8, 8)
    p = pcc(got, want)
    pcc_report(f"{type(port).__name__} (JIT) vs diffusers", p)
    assert p >= PCC_BLOCK
