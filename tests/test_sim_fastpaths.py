"""The simulator's fast paths compute what the walks they replace compute.

`sdpa_reference`'s fused plain case (torch's float32 CPU attention) against its score walk, ring attention's
fused block attention against the explicit softmax and its one-call form for replicated prompts against the per-rank
ring walk, and the triangle-multiplication kernel's channel-major sim against its channel-chunk walk (bit-identical).
"""

from __future__ import annotations

import torch

from ttfuse.kernels import ring_attention as ra
from ttfuse.kernels import trimul
from ttfuse.numerics import round_bf16
from ttfuse.ops import attention


def _bf16(*shape, seed=0, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return round_bf16(torch.randn(*shape, generator=g) * scale)


def _walk(q, k, v, scale, mask):
    """sdpa_reference with a no-op structural mask: takes the score walk, never the fused path."""
    return attention.sdpa_reference(q, k, v, scale=scale, mask=mask, keep_fn=lambda r0, r1: None)


def test_sdpa_fused_matches_the_walk():
    q, k, v = _bf16(3, 4, 64, 32, seed=1), _bf16(3, 4, 96, 32, seed=2), _bf16(3, 4, 96, 32, seed=3)
    mask = _bf16(1, 4, 64, 96, seed=4, scale=3.0)
    for scale, m in ((1.0, mask), (0.125, mask), (0.2, None)):
        fast = attention.sdpa_reference(q, k, v, scale=scale, mask=m)
        assert torch.allclose(fast, _walk(q, k, v, scale, m), rtol=1e-5, atol=1e-5), scale


def test_sdpa_fused_gqa_matches_the_walk():
    q, k, v = _bf16(2, 8, 64, 32, seed=5), _bf16(2, 2, 64, 32, seed=6), _bf16(2, 2, 64, 32, seed=7)
    fast = attention.sdpa_reference(q, k, v, scale=0.5)
    assert torch.allclose(fast, _walk(q, k, v, 0.5, None), rtol=1e-5, atol=1e-5)


def test_sdpa_fully_masked_row_keeps_the_walks_nan():
    """A -inf mask is left to the walk: a row with every key masked is NaN there, as on the device."""
    q, k, v = _bf16(1, 1, 32, 32, seed=8), _bf16(1, 1, 32, 32, seed=9), _bf16(1, 1, 32, 32, seed=10)
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., 3, :] = float("-inf")
    out = attention.sdpa_reference(q, k, v, scale=1.0, mask=mask)
    assert torch.isnan(out[..., 3, :]).all() and not torch.isnan(out[..., 4, :]).any()


def test_ring_block_attention_fused_matches_the_softmax():
    q, k, v = (
        _bf16(4, 1, 2, 48, 64, seed=11),
        _bf16(4, 1, 2, 80, 64, seed=12),
        _bf16(4, 1, 2, 80, 64, seed=13),
    )
    o, lse = ra.block_attention(q, k, v, 0.125)
    s = torch.matmul(q, k.transpose(-1, -2)) * 0.125
    assert torch.allclose(o, torch.softmax(s, -1) @ v, rtol=1e-5, atol=1e-5)
    assert torch.allclose(lse, torch.logsumexp(s, -1, keepdim=True), rtol=1e-5, atol=1e-5)
    assert o.shape == (4, 1, 2, 48, 64) and lse.shape == (4, 1, 2, 48, 1)


def test_trimul_channel_major_sim_is_bit_identical_to_the_channel_walk():
    n, c, d = 64, 32, 32
    x = _bf16(1, n, n, c, seed=14)
    w = _bf16(c, 4 * d, seed=15, scale=0.2)
    mask = (torch.rand(1, n, n, generator=torch.Generator().manual_seed(16)) > 0.2).float()
    for outgoing in (True, False):
        fast = round_bf16(trimul._sim_channel_major(x, w, mask, outgoing, "bfloat16", None))
        walk = trimul._sim_channel_chunks(x, w, mask, outgoing, 8, "bfloat16", "bfloat16", None)
        assert torch.equal(fast, walk), outgoing


def _ring_inputs(ring, rows, n_joint, seed):
    qs = _bf16(ring, 1, 2, rows + n_joint, 64, seed=seed)
    ks, vs = _bf16(ring, 1, 2, rows, 64, seed=seed + 1), _bf16(ring, 1, 2, rows, 64, seed=seed + 2)
    jk, jv = _bf16(1, 1, 2, n_joint, 64, seed=seed + 3), _bf16(1, 1, 2, n_joint, 64, seed=seed + 4)
    qs[:, ..., rows:, :] = qs[:1, ..., rows:, :]  # the prompt rows are replicated on every rank
    return qs, ks, vs, jk.expand(ring, -1, -1, -1, -1).clone(), jv.expand(ring, -1, -1, -1, -1).clone()


def test_ring_replicated_prompt_computed_once_per_ring():
    """Replicated joint tensors: all ranks' rows in one call (the prompt rows once) give each rank what the per-rank
    step walk (`ring_reference`) gives; joint tensors that differ per rank take the per-rank path."""
    ring, rows, n_joint, scale = 4, 48, 32, 0.125
    qs, ks, vs, jk, jv = _ring_inputs(ring, rows, n_joint, 20)
    keys = [(ks[p], vs[p]) for p in range(ring)]
    shared = ra._shared_keys_attention(qs, keys, jk, jv, scale)
    assert shared is not None
    o, lse = ra.ring_all_ranks(qs, ks, vs, jk, jv, logical_n=ring * rows, scale=scale)
    for rank in range(ring):
        want_o, want_l = ra.ring_reference(
            qs[rank], list(ks), list(vs), jk[rank], jv[rank], rank=rank, logical_n=ring * rows, scale=scale
        )
        assert torch.allclose(o[rank], want_o, rtol=1e-5, atol=1e-5), rank
        assert torch.allclose(lse[rank], want_l, rtol=1e-5, atol=1e-5), rank
    jk[2] += 1.0  # rank 2's prompt keys differ: not shared, and rank 2's result shows it
    assert ra._shared_keys_attention(qs, keys, jk, jv, scale) is None
    o2, _ = ra.ring_all_ranks(qs, ks, vs, jk, jv, logical_n=ring * rows, scale=scale)
    want2, _ = ra.ring_reference(
        qs[2], list(ks), list(vs), jk[2], jv[2], rank=2, logical_n=ring * rows, scale=scale
    )
    assert torch.allclose(o2[2], want2, rtol=1e-5, atol=1e-5) and not torch.allclose(o2[2], o[2], atol=1e-3)
