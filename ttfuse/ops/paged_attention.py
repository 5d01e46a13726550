"""Attention over a paged KV cache: `ttnn.transformer.paged_scaled_dot_product_attention_decode` (Flash-Decode, one
query token per user) and `ttnn.transformer.chunked_scaled_dot_product_attention` (causal prefill of one query
chunk against the cache).

A paged cache is [num_blocks, nkv, block_size, dh]; user b's logical sequence is the concatenation of blocks
page_table[b, 0], page_table[b, 1], ... The sim gathers the blocks it needs and runs `sdpa_reference` (float32,
TT scale-inside-exponent softmax, GQA without repeating K/V):

    decode:   out[0, b] = softmax(scale * q[0, b] K_b[: p + 1]^T) V_b[: p + 1],  p = cur_pos_tensor[b]
              (is_causal=False: every position the page table addresses); p = -1 skips user b (zeros here; the
              device leaves those rows unwritten); sliding_window_size w keeps keys in (p - w, p]
    chunked:  query row r sits at position chunk_start_idx + r and attends keys 0 .. chunk_start_idx + r

Validation follows tt-metal's sdpa_decode_device_operation.cpp (ttnn 0.81.1: q, k, v bfloat16/bfloat8_b/bfloat4_b;
k, v TILE in DRAM; q HEIGHT_SHARDED or DRAM interleaved; output HEIGHT_SHARDED or interleaved, default DRAM; causal
needs an INT32 ROW_MAJOR `cur_pos_tensor` with one entry per user and no `attn_mask`; INT32 ROW_MAJOR page table
with one row per user; k and v of one block size; q, k, v of one head dim; GQA: q bfloat16, q heads a multiple of
the kv heads, no sharded output; the output has q's logical shape and dtype) and sdpa_device_operation.cpp's
chunked mode (q [b, nqh, s, dh] TILE, the page table [b, pages], `chunk_start_idx` a multiple of the program
config's q and k chunk sizes, the chunk within the pages). Not modelled (a SpecError names them): attention sinks,
the paged-cache geometry override, `cache_position_modulo`, `spec_multi_pos_tiles`, a sharded (UINT16) page
table, and a mask in non-causal paged decode.
"""

from __future__ import annotations

import math

import torch

from ttfuse.device import TILE
from ttfuse.opdef import CostCtx, Group, OpCost, Traits, register_op
from ttfuse.ops.attention import _SDPA_DTYPES, _attention_cost, _check_program_config, sdpa_reference
from ttfuse.ops.common import fail, need_dtype, need_memory_config, need_spec, need_tile
from ttfuse.ops.kv_cache import _int_table
from ttfuse.types import DRAM_MEMORY_CONFIG, BufferType, DataType, Layout, TensorMemoryLayout, TensorSpec

DECODE = "transformer.paged_scaled_dot_product_attention_decode"
CHUNKED = "transformer.chunked_scaled_dot_product_attention"


def _not_modelled(op: str, **args) -> None:
    for name, v in args.items():
        if v is not None:
            raise fail(op, f"argument {name!r} is not modelled by the simulator (got {v!r})")


def _paged_kv(
    op: str, q: TensorSpec, k_in, v_in, page_table, batch: int
) -> tuple[TensorSpec, TensorSpec, TensorSpec]:
    """k, v [blocks, nkv, block_size, dh] TILE in DRAM with q's head dim; the INT32 page table [batch, pages]."""
    k = need_spec(op, "input_tensor_k", k_in)
    v = need_spec(op, "input_tensor_v", v_in)
    for arg, t in (("input_tensor_k", k), ("input_tensor_v", v)):
        need_tile(op, arg, t)
        need_dtype(op, arg, t, _SDPA_DTYPES)
        if t.rank != 4:
            raise fail(
                op,
                f"argument {arg!r} must be a paged cache [blocks, nkv, block_size, dh], got {list(t.shape)}",
            )
        if t.memory_config.buffer_type is not BufferType.DRAM:
            raise fail(op, f"argument {arg!r} must be in DRAM")
    if k.shape[1:3] != v.shape[1:3] or k.shape[0] != v.shape[0]:
        raise fail(
            op, f"arguments 'input_tensor_k' {list(k.shape)} and 'input_tensor_v' {list(v.shape)} must match"
        )
    if k.padded_shape[-1] != q.padded_shape[-1] or v.padded_shape[-1] != q.padded_shape[-1]:
        raise fail(
            op, f"q, k and v must have the same head dim, got {q.shape[-1]}, {k.shape[-1]}, {v.shape[-1]}"
        )
    if k.shape[2] % TILE:
        raise fail(
            op, f"argument 'input_tensor_k' has block size {k.shape[2]}; it must be a multiple of {TILE}"
        )
    pt = _int_table(op, "page_table_tensor", page_table)
    if pt.rank != 2 or pt.shape[0] != batch:
        raise fail(
            op,
            f"argument 'page_table_tensor' must be [{batch}, pages] (one row per user), got {list(pt.shape)}",
        )
    return k, v, pt


def _gather(op: str, cache: torch.Tensor, table: torch.Tensor, user: int, length: int) -> torch.Tensor:
    """The first `length` positions of `user`'s sequence, [1, nkv, length, dh], through the page table."""
    bs = cache.shape[2]
    ids = [int(i) for i in table[user, : -(-length // bs)].tolist()]
    bad = [i for i in ids if not 0 <= i < cache.shape[0]]
    if bad:
        raise fail(
            op,
            f"argument 'page_table_tensor' maps user {user} to block {bad[0]}, outside the {cache.shape[0]}",
        )
    seq = cache[ids].permute(1, 0, 2, 3).reshape(cache.shape[1], len(ids) * bs, cache.shape[3])
    return seq[:, :length].unsqueeze(0)


# ------------------------------------------------------------------------------------- paged decode SDPA
@register_op(DECODE, Group.ATTENTION, traits=Traits())
def paged_scaled_dot_product_attention_decode(
    input_tensor_q,
    input_tensor_k,
    input_tensor_v,
    page_table_tensor,
    *,
    is_causal=True,
    attn_mask=None,
    cur_pos_tensor=None,
    attention_sink=None,
    scale=None,
    sliding_window_size=None,
    memory_config=None,
    program_config=None,
    compute_kernel_config=None,
    paged_cache_geometry=None,
    cache_position_modulo=None,
    spec_multi_pos_tiles=0,
):
    """Flash-Decode over a paged KV cache: q [1, b, nh, dh], k/v [blocks, nkv, block_size, dh]."""


@paged_scaled_dot_product_attention_decode.spec
def _decode_spec(
    input_tensor_q,
    input_tensor_k,
    input_tensor_v,
    page_table_tensor,
    *,
    is_causal=True,
    attn_mask=None,
    cur_pos_tensor=None,
    attention_sink=None,
    scale=None,
    sliding_window_size=None,
    memory_config=None,
    program_config=None,
    paged_cache_geometry=None,
    cache_position_modulo=None,
    spec_multi_pos_tiles=0,
    **_,
):
    op = DECODE
    _not_modelled(
        op,
        attention_sink=attention_sink,
        paged_cache_geometry=paged_cache_geometry,
        cache_position_modulo=cache_position_modulo,
    )
    if spec_multi_pos_tiles:
        raise fail(
            op, f"argument 'spec_multi_pos_tiles'={spec_multi_pos_tiles!r} is not modelled by the simulator"
        )
    q = need_spec(op, "input_tensor_q", input_tensor_q)
    need_tile(op, "input_tensor_q", q)
    need_dtype(op, "input_tensor_q", q, _SDPA_DTYPES)
    if q.rank != 4 or q.shape[0] != 1:
        raise fail(op, f"argument 'input_tensor_q' must be [1, b, nh, dh], got {list(q.shape)}")
    qmc = q.memory_config
    if qmc.is_sharded() and qmc.memory_layout is not TensorMemoryLayout.HEIGHT_SHARDED:
        raise fail(op, f"argument 'input_tensor_q' must be HEIGHT_SHARDED or DRAM interleaved, got {qmc!r}")
    if not qmc.is_sharded() and qmc.buffer_type is not BufferType.DRAM:
        raise fail(op, "argument 'input_tensor_q' must be in DRAM when interleaved")
    batch, nh = q.shape[1], q.shape[2]
    k, _, _ = _paged_kv(op, q, input_tensor_k, input_tensor_v, page_table_tensor, batch)
    if not isinstance(is_causal, bool):
        raise fail(op, f"argument 'is_causal' must be a bool, got {is_causal!r}")
    if is_causal:
        if attn_mask is not None:
            raise fail(op, "argument 'attn_mask' must be None with is_causal=True")
        if cur_pos_tensor is None:
            raise fail(op, "argument 'cur_pos_tensor' is required for paged attention with is_causal=True")
        cp = _int_table(op, "cur_pos_tensor", cur_pos_tensor)
        if cp.shape[-1] != batch:
            raise fail(
                op,
                f"argument 'cur_pos_tensor' must hold one position per user ({batch}), got {list(cp.shape)}",
            )
    elif attn_mask is not None:
        raise fail(
            op, "argument 'attn_mask' (non-causal paged decode with a mask) is not modelled by the simulator"
        )
    _check_program_config(op, program_config)
    nkv = k.shape[1]
    if nkv > 1:
        if nh % nkv:
            raise fail(op, f"GQA needs the {nh} query heads to be a multiple of the {nkv} kv heads")
        if q.dtype is not DataType.BFLOAT16:
            raise fail(op, f"argument 'input_tensor_q' must be bfloat16 with GQA, got {q.dtype.value}")
    if scale is not None and not isinstance(scale, int | float):
        raise fail(op, f"argument 'scale' must be a float, got {scale!r}")
    if sliding_window_size is not None and (
        not isinstance(sliding_window_size, int) or sliding_window_size < 1
    ):
        raise fail(op, f"argument 'sliding_window_size' must be a positive int, got {sliding_window_size!r}")
    need_memory_config(op, memory_config)
    mc = memory_config or DRAM_MEMORY_CONFIG
    if mc.is_sharded() and (mc.memory_layout is not TensorMemoryLayout.HEIGHT_SHARDED or nkv > 1):
        raise fail(
            op, f"argument 'memory_config' must be interleaved or (without GQA) HEIGHT_SHARDED, got {mc!r}"
        )
    return TensorSpec(q.shape, q.dtype, Layout.TILE, mc)


@paged_scaled_dot_product_attention_decode.sim
def _decode_sim(
    ctx,
    input_tensor_q,
    input_tensor_k,
    input_tensor_v,
    page_table_tensor,
    *,
    is_causal=True,
    cur_pos_tensor=None,
    scale=None,
    sliding_window_size=None,
    **_,
):
    op = DECODE
    q = input_tensor_q
    batch, nh, dh = q.shape[1], q.shape[2], q.shape[3]
    scale = 1.0 / math.sqrt(dh) if scale is None else float(scale)
    bs, pages = input_tensor_k.shape[2], page_table_tensor.shape[1]
    out = torch.zeros(q.shape, dtype=torch.float32)
    positions = cur_pos_tensor.flatten().tolist() if is_causal else [pages * bs - 1] * batch
    for b, p in enumerate(int(v) for v in positions):
        if p < 0:  # a skipped user
            continue
        if p >= pages * bs:
            raise fail(
                op, f"argument 'cur_pos_tensor': user {b} is at position {p}, past its {pages} pages of {bs}"
            )
        k = _gather(op, input_tensor_k, page_table_tensor, b, p + 1)
        v = _gather(op, input_tensor_v, page_table_tensor, b, p + 1)
        qb = q[0, b].reshape(1, nh, 1, dh)
        res = sdpa_reference(
            qb, k, v, scale=scale, is_causal=True, sliding_window=sliding_window_size, q_offset=p
        )
        out[0, b] = res.reshape(nh, dh)
    return out


@paged_scaled_dot_product_attention_decode.cost
def _decode_cost(ctx: CostCtx) -> OpCost:
    q, k, pt = (
        ctx.in_specs["input_tensor_q"],
        ctx.in_specs["input_tensor_k"],
        ctx.in_specs["page_table_tensor"],
    )
    # NOTE: the positions live on the device: costed as the whole span the page table addresses
    return _attention_cost(ctx, q.shape[1], q.shape[2], 1, pt.shape[1] * k.shape[2], q.shape[3], False)


# ------------------------------------------------------------------------------------------ chunked SDPA
@register_op(CHUNKED, Group.ATTENTION, traits=Traits())
def chunked_scaled_dot_product_attention(
    input_tensor_q,
    input_tensor_k,
    input_tensor_v,
    page_table_tensor,
    chunk_start_idx=None,
    *,
    chunk_start_idx_tensor=None,
    scale=None,
    memory_config=None,
    program_config=None,
    compute_kernel_config=None,
    paged_cache_geometry=None,
    sliding_window_size=None,
    attention_sink=None,
):
    """Causal attention of a query chunk [b, nqh, s, dh] starting at `chunk_start_idx` over a paged KV cache."""


@chunked_scaled_dot_product_attention.spec
def _chunked_spec(
    input_tensor_q,
    input_tensor_k,
    input_tensor_v,
    page_table_tensor,
    chunk_start_idx=None,
    *,
    chunk_start_idx_tensor=None,
    scale=None,
    memory_config=None,
    program_config=None,
    paged_cache_geometry=None,
    sliding_window_size=None,
    attention_sink=None,
    **_,
):
    op = CHUNKED
    _not_modelled(op, paged_cache_geometry=paged_cache_geometry, attention_sink=attention_sink)
    q = need_spec(op, "input_tensor_q", input_tensor_q)
    need_tile(op, "input_tensor_q", q)
    need_dtype(op, "input_tensor_q", q, _SDPA_DTYPES)
    if q.rank != 4:
        raise fail(op, f"argument 'input_tensor_q' must be [b, nqh, s, dh], got {list(q.shape)}")
    k, _, pt = _paged_kv(op, q, input_tensor_k, input_tensor_v, page_table_tensor, q.shape[0])
    if q.shape[1] % k.shape[1]:
        raise fail(op, f"the {q.shape[1]} query heads must be a multiple of the {k.shape[1]} kv heads")
    qc, kc = _check_program_config(op, program_config)
    if (chunk_start_idx is None) == (chunk_start_idx_tensor is None):
        raise fail(op, "exactly one of 'chunk_start_idx' and 'chunk_start_idx_tensor' must be given")
    if chunk_start_idx_tensor is not None:
        t = need_spec(op, "chunk_start_idx_tensor", chunk_start_idx_tensor)
        need_dtype(op, "chunk_start_idx_tensor", t, (DataType.INT32,))
        if t.numel != 1:
            raise fail(op, f"argument 'chunk_start_idx_tensor' must hold one int, got {list(t.shape)}")
    else:
        if isinstance(chunk_start_idx, bool) or not isinstance(chunk_start_idx, int) or chunk_start_idx < 0:
            raise fail(op, f"argument 'chunk_start_idx' must be a non-negative int, got {chunk_start_idx!r}")
        if chunk_start_idx % qc or chunk_start_idx % kc:
            raise fail(
                op,
                f"argument 'chunk_start_idx'={chunk_start_idx} must be a multiple of q_chunk_size={qc} and "
                f"k_chunk_size={kc}",
            )
        if chunk_start_idx + q.shape[2] > pt.shape[1] * k.shape[2]:
            raise fail(
                op,
                f"the chunk [{chunk_start_idx}, {chunk_start_idx + q.shape[2]}) runs past the {pt.shape[1]} pages "
                f"of {k.shape[2]} positions",
            )
    if scale is not None and not isinstance(scale, int | float):
        raise fail(op, f"argument 'scale' must be a float, got {scale!r}")
    if sliding_window_size is not None and (
        not isinstance(sliding_window_size, int) or sliding_window_size < 1
    ):
        raise fail(op, f"argument 'sliding_window_size' must be a positive int, got {sliding_window_size!r}")
    need_memory_config(op, memory_config)
    return TensorSpec(q.shape, q.dtype, Layout.TILE, memory_config or DRAM_MEMORY_CONFIG)


@chunked_scaled_dot_product_attention.sim
def _chunked_sim(
    ctx,
    input_tensor_q,
    input_tensor_k,
    input_tensor_v,
    page_table_tensor,
    chunk_start_idx=None,
    *,
    chunk_start_idx_tensor=None,
    scale=None,
    sliding_window_size=None,
    program_config=None,
    **_,
):
    op = CHUNKED
    q = input_tensor_q
    b, _, s, dh = q.shape
    scale = 1.0 / math.sqrt(dh) if scale is None else float(scale)
    start = (
        int(chunk_start_idx_tensor.flatten()[0]) if chunk_start_idx_tensor is not None else chunk_start_idx
    )
    qc, kc = _check_program_config(op, program_config)
    bs, pages = input_tensor_k.shape[2], page_table_tensor.shape[1]
    if start < 0 or start % qc or start % kc or start + s > pages * bs:
        raise fail(op, f"argument 'chunk_start_idx_tensor' holds {start}: not a chunk start within the pages")
    out = torch.empty(q.shape, dtype=torch.float32)
    for u in range(b):
        k = _gather(op, input_tensor_k, page_table_tensor, u, start + s)
        v = _gather(op, input_tensor_v, page_table_tensor, u, start + s)
        out[u : u + 1] = sdpa_reference(
            q[u : u + 1],
            k,
            v,
            scale=scale,
            is_causal=True,
            sliding_window=sliding_window_size,
            q_offset=start,
        )
    return out


@chunked_scaled_dot_product_attention.cost
def _chunked_cost(ctx: CostCtx) -> OpCost:
    q = ctx.in_specs["input_tensor_q"]
    start = ctx.args.get("chunk_start_idx") or 0
    return _attention_cost(ctx, q.shape[0], q.shape[1], q.shape[2], start + q.shape[2], q.shape[3], True)
