"""The decode-path ttnn ops tt-symbiote's attention modules use, against torch references (issue 22): rotary
embedding (Meta interleaved-pair `rotary_embedding_llama`, HF rotate-half `rotary_embedding_hf`, prefill and
decode), KV-cache writes (`fill_cache`, `paged_fill_cache`, `paged_update_cache`: in place, as ttnn), decode head
split/merge, paged decode SDPA and chunked SDPA over a paged cache; plus bad inputs, and a jitted decode step
equal to eager."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import ttfuse
from tests.conftest import sharded
from ttfuse import ttnn
from ttfuse.errors import SpecError
from ttfuse.opdef import CostCtx
from ttfuse.testing import pcc

X, TR = ttnn.experimental, ttnn.transformer
BF16, F32, I32 = ttnn.bfloat16, ttnn.float32, ttnn.int32
HEIGHT = ttnn.TensorMemoryLayout.HEIGHT_SHARDED


def dev(x, device, dtype=BF16, layout=ttnn.TILE_LAYOUT, **kw):
    return ttnn.from_torch(x, dtype=dtype, layout=layout, device=device, **kw)


def ints(x, device):
    return ttnn.from_torch(
        torch.as_tensor(x, dtype=torch.int32), dtype=I32, layout=ttnn.ROW_MAJOR_LAYOUT, device=device
    )


def per_user(users: int, d: int):
    """Height-sharded L1, one user's tile of heads [32, d] per core (the decode layout)."""
    return sharded(HEIGHT, (users, 1), (32, d))


def host(t) -> torch.Tensor:
    return ttnn.to_torch(t).float()


def bf16(x: torch.Tensor) -> torch.Tensor:
    return x.to(torch.bfloat16).float()


def angles(positions, d: int) -> torch.Tensor:
    inv = 1.0 / (10000 ** (torch.arange(0, d, 2).float() / d))
    return torch.as_tensor(positions, dtype=torch.float32)[:, None] * inv[None]  # [P, d/2]


def trans_mat() -> torch.Tensor:
    """tt-transformers' rotation matrix: (x @ T) swaps each pair (x0, x1) to (-x1, x0) within a 32-wide tile."""
    t = torch.zeros(32, 32)
    t[torch.arange(0, 32, 2), torch.arange(1, 32, 2)] = 1.0
    t[torch.arange(1, 32, 2), torch.arange(0, 32, 2)] = -1.0
    return t


def meta_rope(x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Reference: each pair (x[2i], x[2i+1]) as a complex number times e^{i theta_i}."""
    z = torch.view_as_complex(x.float().reshape(*x.shape[:-1], -1, 2).contiguous())
    return torch.view_as_real(z * torch.polar(torch.ones_like(theta), theta)).reshape(x.shape)


def hf_rope(x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Reference: HF's rotate-half form with cos/sin of [theta, theta]."""
    cos, sin = torch.cat((theta, theta), -1).cos(), torch.cat((theta, theta), -1).sin()
    half = x.shape[-1] // 2
    return x * cos + torch.cat((-x[..., half:], x[..., :half]), -1) * sin


def close(out: torch.Tensor, ref: torch.Tensor, atol: float = 0.05) -> None:
    assert pcc(out, ref) >= 0.9999, pcc(out, ref)
    assert (out - ref).abs().max() <= atol, (out - ref).abs().max()


# ------------------------------------------------------------------------------------------------ rotary
def test_rotary_embedding_llama_prefill_is_the_interleaved_pair_rotation(device):
    h, s, d = 2, 64, 64
    x = bf16(torch.randn(1, h, s, d))
    theta = angles(range(s), d)
    cos = theta.cos().repeat_interleave(2, -1)[None, None]  # Meta layout: each pair's angle twice
    sin = theta.sin().repeat_interleave(2, -1)[None, None]
    out = X.rotary_embedding_llama(
        dev(x, device), dev(cos, device), dev(sin, device), dev(trans_mat()[None, None], device)
    )
    assert tuple(out.shape) == (1, h, s, d) and out.dtype == BF16
    close(host(out), meta_rope(x, theta))


def test_rotary_embedding_llama_decode_rotates_each_user_at_its_position(device):
    users, heads, d = 4, 8, 64
    pos = [3, 17, 0, 40]
    x = bf16(torch.randn(1, users, heads, d))
    theta = angles(pos, d)  # [users, d/2]
    cos = theta.cos().repeat_interleave(2, -1)[None, :, None]  # [1, users, 1, d]
    sin = theta.sin().repeat_interleave(2, -1)[None, :, None]
    mc = per_user(users, d)
    tm = trans_mat().repeat(users, 1)[None, None]  # one 32x32 block per core
    out = X.rotary_embedding_llama(
        dev(x, device, memory_config=mc),
        dev(cos, device, memory_config=mc),
        dev(sin, device, memory_config=mc),
        dev(tm, device, memory_config=per_user(users, 32)),
        is_decode_mode=True,
    )
    assert out.memory_config().memory_layout == HEIGHT
    close(host(out), meta_rope(x, theta[None, :, None, :]))


def test_rotary_embedding_llama_rejects_what_tt_metal_rejects(device):
    x = dev(torch.randn(1, 2, 32, 64), device)
    c = dev(torch.randn(1, 1, 32, 64), device)
    t = dev(trans_mat()[None, None], device)
    with pytest.raises(SpecError, match="rotary_embedding_llama: argument 'input_tensor' has dtype float32"):
        X.rotary_embedding_llama(dev(torch.randn(1, 2, 32, 64), device, dtype=F32), c, c, t)
    with pytest.raises(SpecError, match="argument 'trans_mat' must be"):
        X.rotary_embedding_llama(x, c, c, dev(torch.randn(1, 1, 32, 64), device))
    with pytest.raises(SpecError, match="must be HEIGHT_SHARDED in decode mode"):
        X.rotary_embedding_llama(x, c, c, t, is_decode_mode=True)
    with pytest.raises(SpecError, match="'cos_cache' has 32 positions; the input has 64"):
        X.rotary_embedding_llama(dev(torch.randn(1, 2, 64, 64), device), c, c, t)


@pytest.mark.parametrize("d", [32, 64, 128])
def test_rotary_embedding_hf_prefill_matches_rotate_half(device, d):
    s = 40
    x = bf16(torch.randn(1, 3, s, d))
    theta = angles(range(48), d)
    cos, sin = torch.cat((theta, theta), -1).cos(), torch.cat((theta, theta), -1).sin()
    out = X.rotary_embedding_hf(dev(x, device), dev(cos[None, None], device), dev(sin[None, None], device))
    assert tuple(out.shape) == (1, 3, s, d)
    close(host(out), hf_rope(x, theta[:s]))


def test_rotary_embedding_hf_decode_and_bad_inputs(device):
    users, heads, d = 3, 4, 64
    pos = [5, 0, 31]
    x = bf16(torch.randn(1, users, heads, d))
    theta = angles(pos, d)
    cos, sin = torch.cat((theta, theta), -1).cos(), torch.cat((theta, theta), -1).sin()
    mc = per_user(users, d)
    out = X.rotary_embedding_hf(
        dev(x, device, memory_config=mc),
        dev(cos[None, :, None], device, memory_config=mc),
        dev(sin[None, :, None], device, memory_config=mc),
        is_decode_mode=True,
    )
    close(host(out), hf_rope(x, theta[None, :, None, :]))
    with pytest.raises(
        SpecError, match="rotary_embedding_hf: argument 'input_tensor' must be 4-D with head dim"
    ):
        X.rotary_embedding_hf(
            dev(torch.randn(1, 1, 32, 96), device), *[dev(torch.randn(1, 1, 32, 96), device)] * 2
        )
    with pytest.raises(SpecError, match="must be sharded in decode mode"):
        X.rotary_embedding_hf(
            dev(x, device, memory_config=mc), *[dev(cos[None, :, None], device)] * 2, is_decode_mode=True
        )


# ------------------------------------------------------------------------------------------------ caches
def test_fill_cache_writes_in_place_at_the_user_and_offset(device):
    cache = torch.randn(3, 2, 96, 32)
    x = torch.randn(1, 2, 32, 32)
    t = dev(cache, device)
    res = ttnn.fill_cache(t, dev(x, device), 1, update_idx=64)
    ref = bf16(cache).clone()
    ref[1, :, 64:96] = bf16(x[0])
    assert res is t  # the cache tensor itself, as ttnn returns it
    assert torch.equal(host(t), ref)
    with pytest.raises(
        SpecError, match="fill_cache: argument 'update_idx' must be a non-negative multiple of 32"
    ):
        ttnn.fill_cache(t, dev(x, device), 0, update_idx=16)
    with pytest.raises(SpecError, match="argument 'input_tensor' has dtype float32; it must be the cache's"):
        ttnn.fill_cache(t, dev(x, device, dtype=F32), 0)
    with pytest.raises(SpecError, match="argument 'batch_idx' must be an int in \\[0, 3\\)"):
        ttnn.fill_cache(t, dev(x, device), 3)


def test_paged_fill_cache_scatters_blocks_through_the_page_table(device):
    blocks, nkv, bs, d = 8, 2, 32, 64
    cache = torch.zeros(blocks, nkv, bs, d)
    table = torch.tensor([[0, 1, 2], [6, 3, 5]], dtype=torch.int32)
    x = bf16(torch.randn(1, nkv, 80, d))  # 80 positions: blocks 6, 3 and the first 16 rows of 5
    t = dev(cache, device)
    X.paged_fill_cache(t, dev(x, device), ints(table, device), batch_idx=1)
    ref = cache.clone()
    for i, block in enumerate([6, 3, 5]):
        chunk = x[0, :, i * bs : (i + 1) * bs]
        ref[block, :, : chunk.shape[1]] = chunk
    assert torch.equal(host(t), ref)
    # batch_idx_tensor (one index per input row) picks the page-table row instead
    t2 = dev(cache, device)
    X.paged_fill_cache(t2, dev(x, device), ints(table, device), batch_idx_tensor=ints([1], device))
    assert torch.equal(host(t2), ref)
    with pytest.raises(SpecError, match="paged_fill_cache: argument 'page_table' has dtype bfloat16"):
        X.paged_fill_cache(t, dev(x, device), dev(table.float(), device, layout=ttnn.ROW_MAJOR_LAYOUT))
    with pytest.raises(SpecError, match="the page table holds 3 blocks of 32"):
        X.paged_fill_cache(t, dev(torch.randn(1, nkv, 128, d), device), ints(table, device))
    with pytest.raises(SpecError, match="argument 'block_size' is not modelled"):
        X.paged_fill_cache(t, dev(x, device), ints(table, device), block_size=64)


@pytest.mark.parametrize("paged", [False, True])
def test_paged_update_cache_writes_one_token_per_user(device, paged):
    users, nkv, d, seq = 3, 2, 64, 64
    x = bf16(torch.randn(1, users, nkv, d))
    pos = [5, -1, 63]  # user 1 is inactive: -1 in the index tensor skips it
    kw = {"update_idxs_tensor": ints(pos, device)}
    if paged:
        bs, table = 32, torch.tensor([[4, 0], [1, 2], [3, 5]], dtype=torch.int32)
        cache = torch.randn(6, nkv, bs, d)
        kw["page_table"] = ints(table, device)
    else:
        cache = torch.randn(users, nkv, seq, d)
    t = dev(cache, device)
    X.paged_update_cache(t, dev(x, device, memory_config=per_user(users, d)), **kw)
    ref = bf16(cache).clone()
    for u, p in enumerate(pos):
        if p < 0:
            continue
        if paged:
            ref[int(table[u, p // bs]), :, p % bs] = x[0, u]
        else:
            ref[u, :, p] = x[0, u]
    assert torch.equal(host(t), ref)
    if not paged:  # the host list form: no skipping, every user written
        X.paged_update_cache(t, dev(x, device, memory_config=per_user(users, d)), update_idxs=[5, 0, 63])
        ref[1, :, 0] = x[0, 1]
        assert torch.equal(host(t), ref)


def test_paged_update_cache_rejects_what_tt_metal_rejects(device):
    t = dev(torch.zeros(2, 1, 64, 32), device)
    x = torch.randn(1, 2, 1, 32)
    with pytest.raises(SpecError, match="paged_update_cache: argument 'input_tensor' must be HEIGHT_SHARDED"):
        X.paged_update_cache(t, dev(x, device), update_idxs=[0, 1])
    xs = dev(x, device, memory_config=per_user(2, 32))
    with pytest.raises(SpecError, match="exactly one of 'update_idxs' and 'update_idxs_tensor'"):
        X.paged_update_cache(t, xs)
    with pytest.raises(SpecError, match="'update_idxs' must be a list of non-negative ints"):
        X.paged_update_cache(t, xs, update_idxs=[0, -1])
    with pytest.raises(SpecError, match="'update_idxs' has 1 indices for 2 users"):
        X.paged_update_cache(t, xs, update_idxs=[0])
    with pytest.raises(SpecError, match="a paged cache \\(page_table=\\) needs 'update_idxs_tensor'"):
        X.paged_update_cache(t, xs, update_idxs=[0, 1], page_table=ints([[0], [1]], device))
    with pytest.raises(SpecError, match="update index 64 of user 1 is past the cache's 64 positions"):
        X.paged_update_cache(t, xs, update_idxs=[0, 64])


# ------------------------------------------------------------------------------------------------- heads
def test_decode_heads_split_and_merge(device):
    users, nh, nkv, d = 5, 8, 2, 32
    x = bf16(torch.randn(1, 1, users, (nh + 2 * nkv) * d))
    q, k, v = X.nlp_create_qkv_heads_decode(dev(x, device), num_heads=nh, num_kv_heads=nkv)
    heads = x.reshape(users, nh + 2 * nkv, d)
    for t, ref in ((q, heads[:, :nh]), (k, heads[:, nh : nh + nkv]), (v, heads[:, nh + nkv :])):
        assert t.memory_config().memory_layout == HEIGHT
        assert torch.equal(host(t), ref[None])
    merged = X.nlp_concat_heads_decode(q, num_heads=nh)
    assert tuple(merged.shape) == (1, 1, 32, nh * d)  # ttnn pads the users to a tile
    assert merged.memory_config().memory_layout == ttnn.TensorMemoryLayout.WIDTH_SHARDED
    assert torch.equal(host(merged)[..., :users, :], x[..., : nh * d])
    with pytest.raises(SpecError, match="nlp_create_qkv_heads_decode: argument 'input_tensor': last dim"):
        X.nlp_create_qkv_heads_decode(dev(x, device), num_heads=10, num_kv_heads=nkv)
    with pytest.raises(
        SpecError, match="nlp_concat_heads_decode: argument 'input_tensor' must be HEIGHT_SHARDED"
    ):
        X.nlp_concat_heads_decode(dev(torch.randn(1, users, nh, d), device), num_heads=nh)


# ------------------------------------------------------------------------------------------- paged SDPA
def paged_kv(seq_by_user: torch.Tensor, table: torch.Tensor, blocks: int, bs: int) -> torch.Tensor:
    """A paged cache [blocks, nkv, bs, d] holding user u's sequence [nkv, S, d] in blocks table[u]."""
    users, nkv, s, d = seq_by_user.shape
    cache = torch.randn(blocks, nkv, bs, d)  # unmapped blocks hold garbage: must never be read
    for u in range(users):
        for i in range(s // bs):
            cache[int(table[u, i])] = seq_by_user[u, :, i * bs : (i + 1) * bs]
    return cache


@pytest.mark.parametrize("window", [None, 8])
def test_paged_sdpa_decode_matches_torch_attention_over_the_prefix(device, window):
    users, nh, nkv, d, bs, pages = 3, 8, 2, 64, 32, 3
    blocks = users * pages + 2
    table = torch.randperm(blocks)[: users * pages].reshape(users, pages).int()
    k = bf16(torch.randn(users, nkv, pages * bs, d))
    v = bf16(torch.randn(users, nkv, pages * bs, d))
    q = bf16(torch.randn(1, users, nh, d))
    pos = [0, 37, 95]
    out = TR.paged_scaled_dot_product_attention_decode(
        dev(q, device),
        dev(paged_kv(k, table, blocks, bs), device),
        dev(paged_kv(v, table, blocks, bs), device),
        ints(table, device),
        cur_pos_tensor=ints(pos, device),
        sliding_window_size=window,
    )
    assert tuple(out.shape) == (1, users, nh, d) and out.dtype == BF16
    ref = torch.empty(1, users, nh, d)
    for u, p in enumerate(pos):
        lo = 0 if window is None else max(0, p - window + 1)
        kk = k[u, :, lo : p + 1].repeat_interleave(nh // nkv, 0)
        vv = v[u, :, lo : p + 1].repeat_interleave(nh // nkv, 0)
        ref[0, u] = F.scaled_dot_product_attention(q[0, u][:, None], kk, vv)[:, 0]
    close(host(out), ref, atol=0.03)


def test_paged_sdpa_decode_skips_users_at_minus_one_and_validates(device):
    users, nh, d, bs = 2, 4, 32, 32
    table = torch.tensor([[0, 1], [2, 3]], dtype=torch.int32)
    kv = dev(torch.randn(4, 1, bs, d), device)
    q = dev(torch.randn(1, users, nh, d), device)
    out = TR.paged_scaled_dot_product_attention_decode(
        q, kv, kv, ints(table, device), cur_pos_tensor=ints([-1, 3], device)
    )
    assert torch.equal(host(out)[0, 0], torch.zeros(nh, d))
    with pytest.raises(
        SpecError, match="'cur_pos_tensor' is required for paged attention with is_causal=True"
    ):
        TR.paged_scaled_dot_product_attention_decode(q, kv, kv, ints(table, device))
    with pytest.raises(SpecError, match="'page_table_tensor' must be \\[2, pages\\]"):
        TR.paged_scaled_dot_product_attention_decode(
            q, kv, kv, ints(table[:1], device), cur_pos_tensor=ints([0, 0], device)
        )
    with pytest.raises(SpecError, match="argument 'attention_sink' is not modelled"):
        TR.paged_scaled_dot_product_attention_decode(
            q, kv, kv, ints(table, device), cur_pos_tensor=ints([0, 0], device), attention_sink=q
        )


def test_chunked_sdpa_is_causal_from_the_chunk_start(device):
    b, nh, nkv, d, bs, pages, chunk = 1, 4, 2, 64, 32, 4, 64
    start = 64
    blocks = pages + 1
    table = torch.tensor([[3, 0, 4, 1]], dtype=torch.int32)
    k = bf16(torch.randn(b, nkv, pages * bs, d))
    v = bf16(torch.randn(b, nkv, pages * bs, d))
    q = bf16(torch.randn(b, nh, chunk, d))
    out = TR.chunked_scaled_dot_product_attention(
        dev(q, device),
        dev(paged_kv(k, table, blocks, bs), device),
        dev(paged_kv(v, table, blocks, bs), device),
        ints(table, device),
        start,
    )
    kk = k[:, :, : start + chunk].repeat_interleave(nh // nkv, 1)
    vv = v[:, :, : start + chunk].repeat_interleave(nh // nkv, 1)
    keep = torch.arange(start + chunk)[None] <= (torch.arange(chunk)[:, None] + start)
    ref = F.scaled_dot_product_attention(q, kk, vv, attn_mask=keep)
    close(host(out), ref, atol=0.03)
    with pytest.raises(SpecError, match="'chunk_start_idx'=48 must be a multiple of q_chunk_size=32"):
        cfg = ttnn.SDPAProgramConfig(compute_with_storage_grid_size=(8, 8), q_chunk_size=32, k_chunk_size=64)
        TR.chunked_scaled_dot_product_attention(
            dev(q, device),
            dev(torch.randn(blocks, nkv, bs, d), device),
            dev(torch.randn(blocks, nkv, bs, d), device),
            ints(table, device),
            48,
            program_config=cfg,
        )


# ---------------------------------------------------------------------------------------------- jit
def test_a_jitted_decode_step_writes_the_cache_and_matches_eager(device):
    """rope -> paged_update_cache (in place) -> paged decode SDPA -> concat heads, eager and under @ttfuse.jit:
    the same output and the same cache afterwards."""
    users, nh, d, bs = 2, 4, 64, 32
    table = torch.tensor([[1, 0], [3, 2]], dtype=torch.int32)
    pos = [9, 40]
    theta = angles(pos, d)
    cos, sin = (
        torch.cat((theta, theta), -1).cos()[None, :, None],
        torch.cat((theta, theta), -1).sin()[None, :, None],
    )
    gen = torch.Generator().manual_seed(1)
    q0, k0, cache0 = (
        torch.randn(1, users, nh, d, generator=gen),
        torch.randn(1, users, 1, d, generator=gen),
        torch.randn(4, 1, bs, d, generator=gen),
    )

    def step(q, k, cache, cos, sin, table, cur):
        # NOTE: explicit memory configs: jit's place_memory re-places a None memory_config as interleaved, which
        # paged_update_cache (sharded input only) rejects
        q = X.rotary_embedding_hf(q, cos, sin, is_decode_mode=True, memory_config=q.memory_config())
        k = X.rotary_embedding_hf(k, cos, sin, is_decode_mode=True, memory_config=k.memory_config())
        X.paged_update_cache(cache, k, update_idxs_tensor=cur, page_table=table)
        o = TR.paged_scaled_dot_product_attention_decode(
            ttnn.to_memory_config(q, ttnn.DRAM_MEMORY_CONFIG), cache, cache, table, cur_pos_tensor=cur
        )
        o = X.nlp_concat_heads_decode(ttnn.to_memory_config(o, per_user(users, d)), num_heads=nh)
        return ttnn.slice(
            ttnn.to_memory_config(o, ttnn.L1_MEMORY_CONFIG), [0, 0, 0, 0], [1, 1, users, nh * d]
        )

    results = []
    for fn in (step, ttfuse.jit(step)):
        mc = per_user(users, d)
        args = (
            dev(q0, device, memory_config=mc),
            dev(k0, device, memory_config=mc),
            dev(cache0, device),
            dev(cos, device, memory_config=mc),
            dev(sin, device, memory_config=mc),
            ints(table, device),
            ints(pos, device),
        )
        out = fn(*args)
        results.append((host(out), host(args[2])))
    (eo, ec), (jo, jc) = results
    assert torch.equal(eo, jo) and torch.equal(ec, jc)
    assert not torch.equal(ec, bf16(cache0))  # the step wrote the cache
    # the reference: user u's key at its position holds the rotated k
    krot = hf_rope(bf16(k0), theta[None, :, None, :])
    for u, p in enumerate(pos):
        assert (ec[int(table[u, p // bs]), 0, p % bs] - krot[0, u, 0]).abs().max() < 0.05
    assert math.isfinite(float(eo.abs().max()))


def test_goldens_of_the_paged_ops_take_row_major_page_tables():
    """ttnn.get_golden_function works for ops mixing TILE activations and ROW_MAJOR integer tables."""
    gen = torch.Generator().manual_seed(0)
    q, kv = torch.randn(1, 2, 4, 32, generator=gen), torch.randn(4, 1, 32, 32, generator=gen)
    table, cur = torch.tensor([[0, 1], [2, 3]], dtype=torch.int32), torch.tensor([3, 40], dtype=torch.int32)
    out = ttnn.get_golden_function(TR.paged_scaled_dot_product_attention_decode)(
        q, kv, kv, table, cur_pos_tensor=cur
    )
    for u, p in enumerate(cur.tolist()):
        seq = kv[table[u].long()].permute(1, 0, 2, 3).reshape(1, 64, 32)[:, : p + 1]
        ref = F.scaled_dot_product_attention(q[0, u][:, None], seq, seq)[:, 0]
        assert torch.allclose(out[0, u], ref, atol=1e-5)
    cache = torch.zeros(4, 1, 32, 32)
    filled = ttnn.get_golden_function(X.paged_fill_cache)(cache, kv[:1, :, :, :].reshape(1, 1, 32, 32), table)
    assert torch.equal(filled[0], kv[0]) and torch.equal(filled[1:], cache[1:])


def test_costs_bill_a_decode_write_for_the_token_not_the_cache():
    """A one-token cache write moves the token's bytes (in and out), whatever the cache's size; rotary embedding
    counts its vector work and, in the Meta form, the 32x32 tile matmul (predicted costs)."""
    cache = ttnn.TensorSpec((64, 8, 64, 128), BF16)  # 8 MiB
    tok = ttnn.TensorSpec((1, 32, 8, 128), BF16)
    idx = ttnn.TensorSpec((32,), I32, ttnn.ROW_MAJOR_LAYOUT)
    op = X.paged_update_cache
    c = op.cost_rule(
        CostCtx(op, {"cache_tensor": cache, "input_tensor": tok, "update_idxs_tensor": idx}, [cache], {})
    )
    assert c.launches == 1 and c.flops == 0
    assert c.dram_bytes == 2 * tok.nbytes + idx.nbytes < cache.nbytes // 10
    x = ttnn.TensorSpec((1, 8, 128, 64), BF16)
    cs = ttnn.TensorSpec((1, 1, 128, 64), BF16)
    t = ttnn.TensorSpec((1, 1, 32, 32), BF16)
    hf = X.rotary_embedding_hf.cost_rule(
        CostCtx(X.rotary_embedding_hf, {"input_tensor": x, "cos_cache": cs, "sin_cache": cs}, [x], {})
    )
    meta = X.rotary_embedding_llama.cost_rule(
        CostCtx(
            X.rotary_embedding_llama,
            {"input_tensor": x, "cos_cache": cs, "sin_cache": cs, "trans_mat": t},
            [x],
            {},
        )
    )
    assert hf.flops == 3 * x.numel and hf.matmul_flops == 0
    assert meta.matmul_flops == 64 * x.numel and meta.flops == hf.flops + meta.matmul_flops
