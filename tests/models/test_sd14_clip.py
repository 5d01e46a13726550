"""SD1.4 CLIP text encoder port (models/sd14/clip.py) against transformers' CLIPTextModel.

Tiny random-weight configs (every parameter re-drawn with a fixed seed): SD1.4's structure (quick_gelu, causal,
77 tokens, not a tile multiple -> padded to 96 inside the port), and a variant with a head dim that is not a tile
multiple (40 -> padded per head) and exact gelu. Targets: PCC >= 0.999 vs the float32 reference; JIT vs eager
PCC >= 0.9995 with fewer kernel launches.
"""

from __future__ import annotations

import pytest
import torch
from transformers import CLIPTextConfig
from transformers import CLIPTextModel as RefCLIPTextModel

import ttfuse
import ttfuse.sim
from models.sd14 import CLIPTextModel
from ttfuse import ttnn

VOCAB = 1000


def tiny(redraw, seed: int, **overrides) -> RefCLIPTextModel:
    cfg = {
        "vocab_size": VOCAB,
        "hidden_size": 64,
        "intermediate_size": 256,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "max_position_embeddings": 77,
        "hidden_act": "quick_gelu",  # SD1.4's text encoder
        "bos_token_id": 0,
        "eos_token_id": VOCAB - 1,
        "pad_token_id": 1,
    }
    cfg.update(overrides)
    return redraw(RefCLIPTextModel(CLIPTextConfig(**cfg)), seed)


def prompt_ids(batch: int, s: int, seed: int) -> torch.Tensor:
    """Random tokens with an EOS somewhere in each row (so the pooled output is defined)."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(2, VOCAB - 1, (batch, s), generator=g)
    for i in range(batch):
        ids[i, int(torch.randint(1, s, (1,), generator=g))] = VOCAB - 1
    return ids


@pytest.fixture(scope="module")
def sd14_clip():
    from ttfuse.testing import redraw_parameters

    ref = tiny(redraw_parameters, 0)
    ids = prompt_ids(2, 77, 1)
    with torch.no_grad():
        out = ref(ids)
    return ref, ids, out


def test_clip_text_model_vs_transformers(device, pcc, pcc_report, sd14_clip):
    ref, ids, out = sd14_clip
    port = CLIPTextModel.from_torch(ref, device, jit=False)
    got = port(ids)
    assert got.shape == out.last_hidden_state.shape
    p = pcc(got, out.last_hidden_state)
    pcc_report("CLIPTextModel S=77 eager vs transformers", p)
    assert p >= 0.999
    pp = pcc(port.pooled_output(ids, got), out.pooler_output)
    pcc_report("CLIPTextModel pooled output", pp)
    assert pp >= 0.999


def test_clip_text_model_jit_vs_eager(device, pcc, pcc_report, sd14_clip):
    ref, ids, out = sd14_clip
    eager = CLIPTextModel.from_torch(ref, device, jit=False)
    jit = CLIPTextModel.from_torch(ref, device, jit=True)
    got_e, got_j = eager(ids), jit(ids)
    p = pcc(got_j, got_e)
    pcc_report("CLIPTextModel JIT vs eager", p)
    assert p >= 0.9995
    assert pcc(got_j, out.last_hidden_state) >= 0.999

    counts = {}
    for port in (eager, jit):
        port(ids)  # JIT: compile outside the count
        with ttfuse.sim.count_launches(device) as c:
            port.forward_ttnn(port.embed(ids))
        counts[port.jit] = c.total
    pcc_report("CLIPTextModel launches eager -> JIT", f"{counts[False]} -> {counts[True]}")
    assert counts[True] < counts[False]


def test_clip_text_model_padded_head_dim_and_gelu(device, redraw, pcc, pcc_report):
    """hidden 80 / 2 heads: head dim 40 is zero-padded to 64 per head; exact gelu MLP; 50 tokens."""
    ref = tiny(redraw, 3, hidden_size=80, intermediate_size=160, num_hidden_layers=1, hidden_act="gelu")
    ids = prompt_ids(1, 50, 4)
    with torch.no_grad():
        want = ref(ids).last_hidden_state
    p = pcc(CLIPTextModel.from_torch(ref, device, jit=False)(ids), want)
    pcc_report("CLIPTextModel head dim 40, gelu", p)
    assert p >= 0.999


def test_clip_text_model_errors(device, redraw, sd14_clip):
    ref, ids, _ = sd14_clip
    port = CLIPTextModel.from_torch(ref, device, jit=False)
    with pytest.raises(ValueError, match="max_position_embeddings"):
        port(torch.zeros(1, 80, dtype=torch.long))
    with pytest.raises(ValueError, match="attention_mask"):
        port(ids, attention_mask=torch.ones_like(ids))


def test_clip_embedding_on_device(device, pcc_report, sd14_clip):
    """Token + position embedding runs as `ttnn.embedding` on the device (no host lookup): the [B, S', D] tile
    tensor equals the reference's embeddings in bfloat16 (the tables are bfloat16 in ttnn's embedding), with the
    sequence padded at the end to a tile multiple."""
    ref, ids, _ = sd14_clip
    port = CLIPTextModel.from_torch(ref, device, jit=False)
    with ttfuse.sim.count_launches(device) as c:
        x = port.embed(ids)
    assert c.by_op.get("embedding") == 2, dict(c.by_op)
    assert tuple(x.shape) == (2, 96, 64) and x.layout == ttnn.TILE_LAYOUT
    with torch.no_grad():
        want = ref.embeddings(input_ids=ids)
    got = ttnn.to_torch(x).float()[:, :77]
    err = (got - want).abs().max().item()
    pcc_report("CLIP embeddings (ttnn.embedding) max error", err)
    assert err <= 2 * 2**-8 * want.abs().max().item()
