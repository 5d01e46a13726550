"""Attention ops: ttnn.transformer.scaled_dot_product_attention and joint_scaled_dot_product_attention.

What: SDPA (FlashAttention-2 on TT; causal by default, GQA, additive mask broadcast over batch/heads, sliding
window, attention sink, windowed `cu_window_seqlens` mode, block-map skipping, concatenated-heads output) and
joint SDPA (non-causal attention over the sequence concatenation [x; joint], output split back). The head
split/merge ops live in ttfuse/ops/heads.py.

Invariants:
- Signatures are the installed ttnn's nanobind signatures (keyword names and defaults: `is_causal=True`; joint
  SDPA's `joint_strategy` and `program_config` are required keywords); validation mirrors the TT_FATALs of
  tt-metal's `sdpa_device_operation.cpp` / `joint_sdpa_device_operation.cpp` (bfloat16/bfloat8_b/bfloat4_b
  inputs only: TT SDPA has no float32 path).
- TT SDPA kernels apply the scale inside the exponent, exp((S - m) * scale) with S = QK^T + mask, so the
  additive mask (and the attention sink logit) is scaled too: the sim computes softmax(scale * (QK^T + mask)).
- The sim computes in float32, never holds more than ~`SIM_SCORE_BYTES` of scores at a time (it walks query
  rows in blocks) and computes GQA without repeating K/V.

Extend: a new attention variant is a spec rule reusing `_check_program_config` / `_check_l1`, a sim rule on
`sdpa_reference` (its `keep_fn` adds structural masks) and a cost rule on `_attention_cost`, plus a test in
tests/test_ops_attention.py. `sdpa_cb_bytes` is the per-core L1 model the config-selection pass may reuse.
"""

from __future__ import annotations

import math

import torch

from ttfuse.axes import Axis, positions, sharded
from ttfuse.configs import SDPAProgramConfig
from ttfuse.device import TILE, TILE_BYTES
from ttfuse.opdef import CostCtx, Group, OpCost, Traits, current_device_spec, register_op
from ttfuse.ops.common import fail, io_bytes, need_memory_config, need_spec, need_tile
from ttfuse.ops.heads import dtype_names, need_int, need_tiled_spec
from ttfuse.types import (
    DRAM_MEMORY_CONFIG,
    BufferType,
    DataType,
    Layout,
    TensorSpec,
)

SDPA = "transformer.scaled_dot_product_attention"
JOINT = "transformer.joint_scaled_dot_product_attention"
SIM_SCORE_BYTES = 128 * 1024**2  # largest float32 score block the sim allocates at once
# Vector (FPU/SFPU) operations per attention score of the online softmax: scale, running max, subtract, exp (a
# range reduction and polynomial on the SFPU, tens of operations), row sum, and the rescale of the running output
# and sum. The cost model charges VECTOR_CYCLES_PER_TILE per operation per tile (ttfuse/passes/cost.py), so 48 is
# ~1500 cycles per 32x32 score tile. Fit (bench/published_perf.json, role "fit") on three Blackhole P150 SDPA
# times of tt-metal tech_reports/FlashAttention/SDPAPrecisionRecipes.md @ 031c320 (legacy kernel): causal 32/8
# heads D128 S4096 on 8x8 (7.62 ms), 16 heads D64 S8192 with a mask (10.02 ms), joint 24 heads S4096 + L128
# (6.16 ms); the matmul part alone explains 18-46% of them. The other rows of that table are held out.
SDPA_SOFTMAX_FLOPS_PER_SCORE = 48.0

# q, k, v and attn_mask each on its own (they need not match): tt-metal
# ttnn/cpp/ttnn/operations/transformer/sdpa/device/sdpa_device_operation.cpp, validate_on_program_cache_miss.
_SDPA_DTYPES = frozenset({DataType.BFLOAT16, DataType.BFLOAT8_B, DataType.BFLOAT4_B})
_JOINT_DTYPES = frozenset({DataType.BFLOAT16, DataType.BFLOAT8_B})
_INT_DTYPES = frozenset({DataType.INT32, DataType.UINT32})
# the tensor parameters of joint attention (and of ttfuse.kernels.ring_joint_attention), in signature order
JOINT_TENSORS = (
    "input_tensor_q",
    "input_tensor_k",
    "input_tensor_v",
    "joint_tensor_q",
    "joint_tensor_k",
    "joint_tensor_v",
)


def _check_program_config(op: str, program_config, *, required: bool = False) -> tuple[int, int]:
    """(q_chunk_size, k_chunk_size) of an SDPAProgramConfig (32/32 without one, as the TT program factory)."""
    if program_config is None:
        if required:
            raise fail(op, "argument 'program_config' is required (a ttnn.SDPAProgramConfig)")
        return TILE, TILE
    if not isinstance(program_config, SDPAProgramConfig):
        raise fail(op, f"argument 'program_config' must be a ttnn.SDPAProgramConfig, got {program_config!r}")
    qc, kc = program_config.q_chunk_size, program_config.k_chunk_size
    for name, c in (("q_chunk_size", qc), ("k_chunk_size", kc)):
        if not isinstance(c, int) or c <= 0 or c % TILE:
            raise fail(
                op, f"argument 'program_config': {name} must be a positive multiple of {TILE}, got {c!r}"
            )
    dev = current_device_spec()
    gx, gy = program_config.compute_with_storage_grid_size
    if gx < 1 or gy < 1:
        raise fail(op, f"argument 'program_config': compute_with_storage_grid_size ({gx}, {gy}) is empty")
    if dev is not None and (gx > dev.grid[0] or gy > dev.grid[1]):
        raise fail(
            op,
            f"argument 'program_config': compute_with_storage_grid_size ({gx}, {gy}) exceeds the "
            f"{dev.grid[0]}x{dev.grid[1]} compute grid of {dev.name}",
        )
    return qc, kc


def sdpa_cb_bytes(
    q_chunk: int,
    k_chunk: int,
    head_dim: int,
    dtype: DataType,
    *,
    mask: DataType | None = None,
    head_dim_v: int | None = None,
) -> int:
    """Per-core circular-buffer bytes of the SDPA kernel for one (q_chunk, k_chunk) pair.

    Model of the TT program factory: double-buffered Q, K, V chunks in the input format; mask, QK^T scores,
    output accumulator, output and ~6 rows of softmax statistics per Q tile row in Float16_b (mask in its own
    format, bfloat4_b when generated internally).
    """
    sq_t, sk_t, dh_t = q_chunk // TILE, k_chunk // TILE, head_dim // TILE
    dv_t = (head_dim_v or head_dim) // TILE
    in_tile = TILE_BYTES[dtype.value]
    im_tile = TILE_BYTES["bfloat16"]
    mask_tile = TILE_BYTES[(mask or DataType.BFLOAT4_B).value]
    inputs = 2 * (sq_t * dh_t + sk_t * dh_t + sk_t * dv_t) * in_tile
    scratch = (sq_t * sk_t + 2 * sq_t * dv_t + 6 * sq_t) * im_tile
    return inputs + scratch + sq_t * sk_t * mask_tile


def _check_l1(op: str, qc: int, kc: int, dh: int, dtype: DataType, mask: DataType | None) -> None:
    dev = current_device_spec()
    if dev is None:
        return
    need = sdpa_cb_bytes(qc, kc, dh, dtype, mask=mask)
    if need > dev.l1_per_core:
        raise fail(
            op,
            f"argument 'program_config': q_chunk_size={qc}, k_chunk_size={kc} with head_dim={dh} need "
            f"~{need:,} B of circular buffers per core, more than the {dev.l1_per_core:,} B of L1 per "
            "core; use smaller chunk sizes",
        )


# ---------------------------------------------------------------------------------------------- SDPA numerics
def sdpa_reference(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    scale: float,
    mask=None,
    is_causal: bool = False,
    sliding_window: int | None = None,
    sink=None,
    keep_fn=None,
    q_offset: int = 0,
    contiguous: bool = True,
) -> torch.Tensor:
    """softmax(scale * (q k^T + mask)) v in float32, TT style (scale inside the exponent), memory-bounded.

    q [b, nqh, sq, dh]; k, v [b, nkv, sk, dh] with nqh % nkv == 0 (query head h reads kv head h // (nqh/nkv));
    mask additive [mb, mh, sq, sk] with mb in {1, b}, mh in {1, nqh}; sink [*, nqh, 1, 1] is an extra logit per
    head (in unscaled units) that joins the normaliser but not the output; keep_fn(rows, cols) -> bool mask of
    attendable keys broadcastable to [b, nqh, rows, sk] (or None). Query row r has global position q_offset + r.
    q, k, v may be strided views; contiguous=False may return the result as a view of a [b, sq, nqh, dh] buffer
    (the concatenated-heads layout torch's fused kernel writes).
    """
    b, nqh, sq, dh = q.shape
    nkv, sk = k.shape[1], k.shape[2]
    if not is_causal and not sliding_window and sink is None and keep_fn is None:
        fast = _sdpa_fused(q, k, v, scale, mask, contiguous)
        if fast is not None:
            return fast
    g = nqh // nkv
    qg = q.reshape(b, nkv, g, sq, dh)
    kt = k.unsqueeze(2).transpose(-1, -2)
    vv = v.unsqueeze(2)
    m5 = None
    if mask is not None:
        mb, mh = mask.shape[0], mask.shape[1]
        m5 = mask.reshape(mb, nkv, g, sq, sk) if mh == nqh and nqh > 1 else mask.reshape(mb, 1, 1, sq, sk)
    s5 = None
    if sink is not None:
        s5 = sink.reshape(1, nkv, g, 1, 1) * scale
    out = torch.empty(b, nkv, g, sq, dh, dtype=torch.float32)
    rows = max(1, min(sq, SIM_SCORE_BYTES // max(1, b * nqh * sk * 4)))
    kpos = torch.arange(sk)
    for r0 in range(0, sq, rows):
        r1 = min(sq, r0 + rows)
        s = torch.matmul(qg[..., r0:r1, :], kt)  # [b, nkv, g, rows, sk]
        if m5 is not None:
            s.add_(m5[..., r0:r1, :])
        keep = None
        qpos = torch.arange(r0, r1).unsqueeze(1) + q_offset
        if is_causal:
            keep = kpos <= qpos
            if sliding_window:
                keep = keep & (kpos > qpos - sliding_window)
        elif sliding_window:
            keep = (kpos - qpos).abs() <= sliding_window // 2
        if keep_fn is not None:
            extra = keep_fn(r0, r1)
            if extra is not None:
                keep = extra if keep is None else keep & extra
        if keep is not None:
            if keep.dim() == 4:  # [b or 1, nqh or 1, rows, sk]
                kb, kh = keep.shape[0], keep.shape[1]
                keep = (
                    keep.reshape(kb, nkv, g, *keep.shape[2:])
                    if kh == nqh and nqh > 1
                    else keep.reshape(kb, 1, 1, *keep.shape[2:])
                )
            s.masked_fill_(~keep, float("-inf"))
        s.mul_(scale)
        mx = s.amax(-1, keepdim=True)
        if s5 is not None:
            mx = torch.maximum(mx, s5)
        s.sub_(mx).exp_()
        denom = s.sum(-1, keepdim=True)
        if s5 is not None:
            denom = denom + torch.exp(s5 - mx)
        out[..., r0:r1, :] = torch.matmul(s, vv).div_(denom)
    return out.reshape(b, nqh, sq, dh)


def _sdpa_fused(q, k, v, scale: float, mask, contiguous: bool = True) -> torch.Tensor | None:
    """The plain case (no causal/window/sink/structural masks) through torch's fused CPU attention in float32.

    Same math as the blocked walk below (softmax(scale * (q k^T + mask)) v, float32 throughout; the scale is
    folded into the mask as scale * mask), computed in one pass over the scores instead of ~8: the results
    differ from the walk only in float32 summation order (~1e-6; after rounding to bfloat16, 1 ulp on ~0.005%
    of values, measured). None, and the caller walks, when the mask holds a non-finite value (a row masked
    with -inf everywhere is NaN in the walk, as on the device) or torch lacks the fused kernel's arguments.
    """
    if mask is not None:
        if not bool(torch.isfinite(mask).all()):
            return None
        mask = mask if scale == 1.0 else mask * scale
    gqa = q.shape[1] != k.shape[1]
    try:
        out = torch.nn.functional.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, scale=float(scale), enable_gqa=gqa
        )
    except (TypeError, RuntimeError):  # an older torch or an unsupported broadcast: the walk handles it
        return None
    return out.contiguous() if contiguous else out


# -------------------------------------------------------------------------------------------------------- SDPA
_NOT_SPLIT = (
    "sliding_window_size",
    "attention_sink",
    "cu_window_seqlens",
    "attn_mask_block_map",
    "windowed_q_token_offset_tensor",
)


def _sdpa_axes(node, in_specs) -> list[Axis]:
    """SDPA: independent over batch and heads, and over query rows when not causal (keys stay whole)."""
    if node.attr("is_causal") or node.attr("output_concat_heads") or sharded(node, in_specs):
        return []
    if any(node.attr(k) is not None for k in _NOT_SPLIT):
        return []
    pos = positions(node)
    out = node.outs[0]
    q = pos["input_tensor_q"][0]
    kv = pos["input_tensor_k"] + pos["input_tensor_v"]
    mask = pos.get("attn_mask", [])
    axes = []
    for d, align in ((0, 1), (1, 1), (2, TILE)):
        if out.shape[d] <= align:
            continue
        dims: list[int | None] = [None] * len(in_specs)
        dims[q] = d
        ok = True
        for i in kv + mask:
            if d == 2 and i in kv:
                continue  # every query row reads all keys
            ext = in_specs[i].shape[d]
            if ext == out.shape[d]:
                dims[i] = d
            elif ext != 1:
                ok = False
        if ok:
            axes.append(Axis(d, tuple(dims), align))
    return axes


@register_op(SDPA, Group.ATTENTION, traits=Traits(split=_sdpa_axes, config_rule="sdpa"))
def scaled_dot_product_attention(
    input_tensor_q,
    input_tensor_k,
    input_tensor_v,
    *,
    attn_mask=None,
    is_causal=True,
    scale=None,
    sliding_window_size=None,
    memory_config=None,
    program_config=None,
    compute_kernel_config=None,
    attention_sink=None,
    cu_window_seqlens=None,
    windowed_q_token_offset=0,
    windowed_q_token_offset_tensor=None,
    output_concat_heads=False,
    attn_mask_block_map=None,
):
    """FlashAttention-2 SDPA: softmax(scale*(QK^T + mask))V; causal by default; GQA; q [b,nqh,s,dh]."""


@scaled_dot_product_attention.spec
def _sdpa_spec(
    input_tensor_q,
    input_tensor_k,
    input_tensor_v,
    *,
    attn_mask,
    is_causal,
    scale,
    sliding_window_size,
    memory_config,
    program_config,
    compute_kernel_config,
    attention_sink,
    cu_window_seqlens,
    windowed_q_token_offset,
    windowed_q_token_offset_tensor,
    output_concat_heads,
    attn_mask_block_map,
):
    op = SDPA
    q = need_tiled_spec(op, "input_tensor_q", input_tensor_q, _SDPA_DTYPES)
    k = need_tiled_spec(op, "input_tensor_k", input_tensor_k, _SDPA_DTYPES)
    v = need_tiled_spec(op, "input_tensor_v", input_tensor_v, _SDPA_DTYPES)
    for name, s in (("input_tensor_q", q), ("input_tensor_k", k), ("input_tensor_v", v)):
        if s.memory_config.is_sharded():
            raise fail(op, f"argument {name!r} is sharded; SDPA operands must be DRAM/L1 interleaved")
    if not isinstance(is_causal, bool):
        raise fail(op, f"argument 'is_causal' must be a bool, got {is_causal!r}")
    if scale is not None and (isinstance(scale, bool) or not isinstance(scale, int | float)):
        raise fail(op, f"argument 'scale' must be a float or None, got {scale!r}")
    need_int(op, "sliding_window_size", sliding_window_size, optional=True)
    need_memory_config(op, memory_config)
    b, nqh, sq, dh = q.shape
    nkv, sk = k.shape[1], k.shape[2]
    # NOTE: checked in this order, the first failing row raises (every row is cheap to evaluate).
    for bad, message in (
        (
            dh % TILE,
            f"argument 'input_tensor_q': head_dim {dh} must be a multiple of {TILE} (padding is not "
            "supported on the head_dim dimension)",
        ),
        (
            k.shape[0] != b or v.shape[0] != b,
            f"arguments 'input_tensor_k'/'input_tensor_v': batch must match Q ({b}), got K {k.shape[0]}, "
            f"V {v.shape[0]}",
        ),
        (
            v.shape[1] != nkv or v.shape[2] != sk,
            f"argument 'input_tensor_v' shape {list(v.shape)} must match K {list(k.shape)} in heads "
            "and sequence length",
        ),
        (
            k.shape[3] != dh or v.shape[3] != dh,
            f"arguments 'input_tensor_k'/'input_tensor_v': head_dim must match Q ({dh}), got K "
            f"{k.shape[3]}, V {v.shape[3]}",
        ),
    ):
        if bad:
            raise fail(op, message)
    if nqh < nkv or nqh % nkv:  # after the table: K num_heads may be 0
        raise fail(
            op,
            f"argument 'input_tensor_k': Q num_heads ({nqh}) must be >= and divisible by K num_heads ({nkv})",
        )
    windowed = cu_window_seqlens is not None
    need_int(op, "windowed_q_token_offset", windowed_q_token_offset)
    if windowed:
        cu = need_spec(op, "cu_window_seqlens", cu_window_seqlens)
        if attn_mask is not None or sliding_window_size or attention_sink is not None:
            raise fail(
                op,
                "argument 'cu_window_seqlens' is mutually exclusive with attn_mask, sliding_window_size "
                "and attention_sink",
            )
        if cu.dtype not in _INT_DTYPES or cu.layout is not Layout.ROW_MAJOR or cu.rank != 1:
            raise fail(
                op, f"argument 'cu_window_seqlens' must be a 1-D int32/uint32 ROW_MAJOR tensor, got {cu}"
            )
        if not 2 <= cu.shape[0] <= TILE * TILE:
            raise fail(
                op,
                f"argument 'cu_window_seqlens' must have between 2 and {TILE * TILE} elements, got "
                f"{cu.shape[0]}",
            )
        if windowed_q_token_offset % TILE or windowed_q_token_offset + sq > sk:
            raise fail(
                op,
                f"argument 'windowed_q_token_offset'={windowed_q_token_offset} must be a multiple of "
                f"{TILE} with offset + Sq ({sq}) <= Sk ({sk})",
            )
        if windowed_q_token_offset_tensor is not None:
            t = need_spec(op, "windowed_q_token_offset_tensor", windowed_q_token_offset_tensor)
            if t.dtype not in _INT_DTYPES or t.layout is not Layout.ROW_MAJOR or t.numel != 1:
                raise fail(
                    op,
                    "argument 'windowed_q_token_offset_tensor' must be a 1-element int32/uint32 "
                    f"ROW_MAJOR tensor, got {t}",
                )
    else:
        if windowed_q_token_offset or windowed_q_token_offset_tensor is not None:
            raise fail(
                op,
                "arguments 'windowed_q_token_offset'/'windowed_q_token_offset_tensor' are for windowed "
                "mode only (pass cu_window_seqlens)",
            )
        if is_causal and attn_mask is not None:
            raise fail(
                op,
                "arguments 'is_causal' and 'attn_mask' cannot both be set; pass is_causal=False with a mask",
            )
        if sliding_window_size and attn_mask is not None:
            raise fail(
                op,
                "arguments 'sliding_window_size' and 'attn_mask' cannot both be set; bake the "
                "sliding window into attn_mask",
            )
    if is_causal and not windowed and sq != sk:
        raise fail(
            op, f"argument 'is_causal': causal SDPA needs equal Q and K sequence lengths, got Q {sq}, K {sk}"
        )
    mask_dtype = None
    if attn_mask is not None:
        m = need_spec(op, "attn_mask", attn_mask)
        need_tile(op, "attn_mask", m)
        if m.dtype not in _SDPA_DTYPES:
            raise fail(
                op, f"argument 'attn_mask' has dtype {m.dtype.value}; supported: {dtype_names(_SDPA_DTYPES)}"
            )
        if m.memory_config.buffer_type is not BufferType.DRAM:
            raise fail(op, "argument 'attn_mask' must be in DRAM")
        if (
            m.rank != 4
            or m.shape[0] not in (1, b)
            or m.shape[1] not in (1, nqh)
            or m.shape[2] != sq
            or m.shape[3] != sk
        ):
            raise fail(
                op,
                f"argument 'attn_mask' has shape {list(m.shape)}; expected [{b} or 1, {nqh} or 1, {sq}, "
                f"{sk}] (batch and head dims broadcast from 1)",
            )
        mask_dtype = m.dtype
    if attention_sink is not None:
        a = need_spec(op, "attention_sink", attention_sink)
        need_tile(op, "attention_sink", a)
        if a.dtype not in _SDPA_DTYPES or a.memory_config.buffer_type is not BufferType.DRAM:
            raise fail(
                op, f"argument 'attention_sink' must be a {dtype_names(_SDPA_DTYPES)} tensor in DRAM, got {a}"
            )
        if tuple(a.shape) != (1, nqh, 1, 1):
            raise fail(op, f"argument 'attention_sink' must have shape [1, {nqh}, 1, 1], got {list(a.shape)}")
    qc, kc = _check_program_config(op, program_config)
    if attn_mask_block_map is not None:
        bm = need_spec(op, "attn_mask_block_map", attn_mask_block_map)
        if attn_mask is None or is_causal:
            raise fail(op, "argument 'attn_mask_block_map' needs is_causal=False with an attn_mask")
        want = (attn_mask.shape[0], attn_mask.shape[1], -(-sq // qc), -(-sk // kc))
        if bm.dtype not in _INT_DTYPES or bm.layout is not Layout.ROW_MAJOR or tuple(bm.shape) != want:
            raise fail(
                op,
                f"argument 'attn_mask_block_map' must be an int32/uint32 ROW_MAJOR tensor of shape "
                f"{list(want)}, got {bm}",
            )
    if program_config is not None:
        _check_l1(op, qc, kc, dh, q.dtype, mask_dtype)
    if not isinstance(output_concat_heads, bool):
        raise fail(op, f"argument 'output_concat_heads' must be a bool, got {output_concat_heads!r}")
    shape = (b, 1, sq, nqh * dh) if output_concat_heads else (b, nqh, sq, dh)
    return TensorSpec(shape, q.dtype, Layout.TILE, memory_config or DRAM_MEMORY_CONFIG)


def sdpa_scale(scale, head_dim: int) -> float:
    """The softmax scale an attention op applies: 1/sqrt(head_dim) unless given."""
    return 1.0 / math.sqrt(head_dim) if scale is None else float(scale)


def _sdpa_masking(
    sq: int,
    sk: int,
    *,
    attn_mask,
    is_causal,
    sliding_window_size,
    program_config,
    attention_sink,
    cu_window_seqlens,
    windowed_q_token_offset,
    windowed_q_token_offset_tensor,
    attn_mask_block_map,
    **_,
) -> dict:
    """`sdpa_reference`'s masking keywords for one SDPA call: the additive mask, causal / sliding window, sink,
    and the structural keep-mask of windowed mode (`cu_window_seqlens`) or of a block map."""
    keep_fn = None
    q_offset = 0
    if cu_window_seqlens is not None:
        q_offset = int(windowed_q_token_offset)
        if windowed_q_token_offset_tensor is not None:
            q_offset = int(windowed_q_token_offset_tensor.reshape(-1)[0].item())
        cu = cu_window_seqlens.reshape(-1).to(torch.int64)
        kwin = torch.searchsorted(cu, torch.arange(sk), right=True)
        qwin = torch.searchsorted(cu, torch.arange(sq) + q_offset, right=True)
        keep_fn = lambda r0, r1: qwin[r0:r1].unsqueeze(1) == kwin  # noqa: E731
    elif attn_mask_block_map is not None:
        qc, kc = _check_program_config(SDPA, program_config)
        blk = attn_mask_block_map != 0  # [mb, mh, q chunks, k chunks]
        kb = torch.arange(sk) // kc
        keep_fn = lambda r0, r1: blk[:, :, torch.arange(r0, r1) // qc][..., kb]  # noqa: E731
    return dict(
        mask=attn_mask,
        is_causal=is_causal,
        sliding_window=sliding_window_size,
        sink=attention_sink,
        keep_fn=keep_fn,
        q_offset=q_offset,
    )


@scaled_dot_product_attention.sim
def _sdpa_sim(ctx, input_tensor_q, input_tensor_k, input_tensor_v, *, scale, output_concat_heads, **kw):
    q, k = input_tensor_q, input_tensor_k
    b, nqh, sq, dh = q.shape
    out = sdpa_reference(
        q, k, input_tensor_v, scale=sdpa_scale(scale, dh), **_sdpa_masking(sq, k.shape[2], **kw)
    )
    if output_concat_heads:
        out = out.permute(0, 2, 1, 3).reshape(b, 1, sq, nqh * dh)
    return out


def _fidelity(cfg, default: str = "HiFi2") -> str:
    mf = getattr(cfg, "math_fidelity", None)
    return mf.name if mf is not None else default


def _attention_cost(ctx: CostCtx, b: int, nqh: int, sq: int, sk: int, dh: int, causal: bool) -> OpCost:
    qc = getattr(ctx.args.get("program_config"), "q_chunk_size", TILE)
    mm = 4.0 * b * nqh * sq * sk * dh * (0.5 if causal else 1.0)
    soft = SDPA_SOFTMAX_FLOPS_PER_SCORE * b * nqh * sq * sk * (0.5 if causal else 1.0)
    dram, l1 = io_bytes([s for s in ctx.in_specs.values() if isinstance(s, TensorSpec)] + list(ctx.out_specs))
    # NOTE: every (batch, head, q chunk) work unit streams that head's K and V once.
    kv = [
        ctx.in_specs[n]
        for n in ("input_tensor_k", "input_tensor_v", "joint_tensor_k", "joint_tensor_v")
        if isinstance(ctx.in_specs.get(n), TensorSpec)
    ]
    dram += sum(s.nbytes for s in kv) * max(0, -(-sq // qc) - 1)
    cost = OpCost(
        flops=mm + soft,
        matmul_flops=mm,
        dram_bytes=dram,
        l1_bytes=l1,
        launches=1,
        fidelity=_fidelity(ctx.args.get("compute_kernel_config")),
    )
    grid = getattr(ctx.args.get("program_config"), "compute_with_storage_grid_size", None)
    if grid is not None and mm > 0:
        # the config's grid: tt-metal's SDPA program factory hands each core whole (batch, head, q chunk) work
        # units (sdpa_program_factory.cpp: q_per_core over B * NQH * q_num_chunks), so the busiest core does
        # ceil(units / cores) of them; costed here as that core's tile multiply-accumulates (`core_tiles`)
        gx, gy = (grid.x, grid.y) if hasattr(grid, "x") else tuple(grid)
        units = b * nqh * -(-sq // qc)
        per_core = -(-units // max(gx * gy, 1))
        cost.core_tiles = per_core * (mm / units) / (2 * TILE**3)
        cost.core_tiles_flops = mm
    return cost


@scaled_dot_product_attention.cost
def _sdpa_cost(ctx: CostCtx) -> OpCost:
    q, k = ctx.in_specs["input_tensor_q"], ctx.in_specs["input_tensor_k"]
    b, nqh, sq, dh = q.shape
    return _attention_cost(ctx, b, nqh, sq, k.shape[2], dh, bool(ctx.args.get("is_causal")))


# -------------------------------------------------------------------------------------------------- joint SDPA
@register_op(JOINT, Group.ATTENTION)
def joint_scaled_dot_product_attention(
    input_tensor_q,
    input_tensor_k,
    input_tensor_v,
    joint_tensor_q,
    joint_tensor_k,
    joint_tensor_v,
    *,
    joint_strategy,
    program_config,
    scale=None,
    compute_kernel_config=None,
):
    """Non-causal SDPA over the sequence concatenation [x; joint] (joint at the rear) -> (out, joint_out)."""


@joint_scaled_dot_product_attention.spec
def _joint_spec(*, joint_strategy, program_config, scale, compute_kernel_config, **tensors):
    op = JOINT
    if joint_strategy != "rear":
        raise fail(op, f"argument 'joint_strategy' must be 'rear', got {joint_strategy!r}")
    names = JOINT_TENSORS
    specs = {n: tensors[n] for n in names}
    for n in names:
        s = specs[n] = need_tiled_spec(op, n, specs[n], _JOINT_DTYPES)
        if s.memory_config.buffer_type is not BufferType.DRAM:
            raise fail(op, f"argument {n!r} must be in DRAM, got {s.memory_config!r}")
        if s.dtype is not specs["input_tensor_q"].dtype:
            raise fail(
                op,
                f"argument {n!r} has dtype {s.dtype.value}; all six tensors must share input_tensor_q's "
                f"dtype {specs['input_tensor_q'].dtype.value}",
            )
    q, k, v = specs["input_tensor_q"], specs["input_tensor_k"], specs["input_tensor_v"]
    jq, jk, jv = specs["joint_tensor_q"], specs["joint_tensor_k"], specs["joint_tensor_v"]
    b, nh, _, dh = q.shape
    if dh % TILE:
        raise fail(op, f"argument 'input_tensor_q': head_dim {dh} must be a multiple of {TILE}")
    for n in names[1:]:
        s = specs[n]
        if s.shape[0] != b or s.shape[1] != nh or s.shape[3] != dh:
            raise fail(
                op,
                f"argument {n!r} has shape {list(s.shape)}; batch, heads and head_dim must match "
                f"input_tensor_q {list(q.shape)} (joint attention has no GQA)",
            )
    if v.shape[2] != k.shape[2] or jk.shape[2] != jq.shape[2] or jv.shape[2] != jq.shape[2]:
        raise fail(
            op,
            f"arguments 'input_tensor_v'/'joint_tensor_k'/'joint_tensor_v': sequence lengths must match "
            f"K ({k.shape[2]}) and joint Q ({jq.shape[2]}); got V {v.shape[2]}, joint K {jk.shape[2]}, "
            f"joint V {jv.shape[2]}",
        )
    if scale is not None and (isinstance(scale, bool) or not isinstance(scale, int | float)):
        raise fail(op, f"argument 'scale' must be a float or None, got {scale!r}")
    qc, kc = _check_program_config(op, program_config, required=True)
    _check_l1(op, qc, kc, dh, q.dtype, None)
    return (
        TensorSpec(q.shape, q.dtype, Layout.TILE, DRAM_MEMORY_CONFIG),
        TensorSpec(jq.shape, jq.dtype, Layout.TILE, DRAM_MEMORY_CONFIG),
    )


@joint_scaled_dot_product_attention.sim
def _joint_sim(ctx, *, scale, **a):
    q, k, v, jq, jk, jv = (a[n] for n in JOINT_TENSORS)
    n = q.shape[2]
    out = sdpa_reference(
        torch.cat([q, jq], 2),
        torch.cat([k, jk], 2),
        torch.cat([v, jv], 2),
        scale=sdpa_scale(scale, q.shape[3]),
    )
    return out[:, :, :n].contiguous(), out[:, :, n:].contiguous()


@joint_scaled_dot_product_attention.cost
def _joint_cost(ctx: CostCtx) -> OpCost:
    q, k, jq = ctx.in_specs["input_tensor_q"], ctx.in_specs["input_tensor_k"], ctx.in_specs["joint_tensor_q"]
    b, nh, n, dh = q.shape
    return _attention_cost(ctx, b, nh, n + jq.shape[2], k.shape[2] + jq.shape[2], dh, False)
