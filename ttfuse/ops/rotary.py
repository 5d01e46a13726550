"""`ttnn.experimental.rotary_embedding`: rotary position embedding, rotate-half form.

    out = x * cos[:S] + rotate_half(x) * sin[:S],   rotate_half(x) = concat(-x[..., D/2:], x[..., :D/2])

Validation follows tt-metal ttnn/cpp/ttnn/operations/experimental/transformer/rotary_embedding/device/
rotary_embedding_device_operation.cpp (ttnn 0.81.1): input, cos and sin TILE; the input's padded head dim a
multiple of 64 (two tiles); cos and sin of the same dtype and padded shape [1, 1, L, D] with D the input's padded
head dim and L (padded) >= the input's padded sequence, or > `token_index` when one is given; no width sharding.
The output has the input's dtype and, without `token_index`, its sequence dim rounded up to a tile (tt-metal
computes on the padded sequence: callers slice back, as tt-symbiote's TTNNRotaryPositionEmbedding does). With
`token_index` the input is [1, 1, B, D] (one decode position per batch row) and every row takes cos/sin row
`token_index`.

`ttnn.experimental.rotary_embedding_llama` (Meta / interleaved-pair form) and `rotary_embedding_hf` (rotate-half
form), prefill [1, H, S, D] or decode [1, B, H, D] (one position per batch row, HEIGHT_SHARDED):

    llama:  out = x * cos + (x @ T) * sin   with T the 32x32 `trans_mat`, applied to each 32-wide tile of x
    hf:     out = x * cos + rotate_half(x) * sin

Validation follows tt-metal's rotary_embedding_llama_device_operation.cpp (every operand TILE and bfloat16; head
dim a multiple of 32 and <= 256; prefill: interleaved operands, cos/sin [1, 1 or H, >= S, D], trans_mat [1, 1, 32,
32]; decode: HEIGHT_SHARDED operands, x [1, B, H, D] with B <= the core count, cos/sin [1, B, *, D] with a 32-row
shard, trans_mat shards of 32x32) and rotary_embedding_hf_device_operation.cpp (padded head dim 32 or a multiple of
64; cos/sin of one dtype and padded shape [1, 1, >= S, D] in prefill, [1, B, 1, D] sharded in decode; decode input
HEIGHT_SHARDED; no WIDTH_SHARDED input or output). Both keep the input's logical shape and dtype. In decode mode a
cos/sin with one row per batch is broadcast over the heads (the decode kernels multiply by a row-broadcast tile).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ttfuse.device import TILE
from ttfuse.opdef import Group, OpCost, Traits, current_device_spec, register_op
from ttfuse.ops.common import fail, need_dtype, need_memory_config, need_spec, need_tile
from ttfuse.ops.data_movement import static_cost
from ttfuse.types import DataType, Layout, MemoryConfig, TensorMemoryLayout, TensorSpec

_DTYPES = (DataType.BFLOAT16, DataType.BFLOAT8_B, DataType.FLOAT32)


@register_op("experimental.rotary_embedding", Group.DATA_MOVEMENT, traits=Traits())
def rotary_embedding(
    input_tensor, cos_cache, sin_cache, token_index=None, *, memory_config=None, compute_kernel_config=None
):
    """Rotary embedding of `input_tensor` [B, H, S, D] with caches [1, 1, L, D] (rotate-half form)."""


def _pad_rows(n: int) -> int:
    return -(-n // TILE) * TILE


@rotary_embedding.spec
def _rotary_spec(input_tensor, cos_cache, sin_cache, token_index=None, *, memory_config=None, **_):
    op = "experimental.rotary_embedding"
    x = need_spec(op, "input_tensor", input_tensor)
    c = need_spec(op, "cos_cache", cos_cache)
    s = need_spec(op, "sin_cache", sin_cache)
    for arg, t in (("input_tensor", x), ("cos_cache", c), ("sin_cache", s)):
        need_tile(op, arg, t)
        need_dtype(op, arg, t, _DTYPES)
    if x.rank != 4:
        raise fail(op, f"argument 'input_tensor' must be 4-D [B, H, S, D], got {list(x.shape)}")
    d = x.padded_shape[-1]
    if d % (2 * TILE):
        raise fail(op, f"argument 'input_tensor' has head dim {x.shape[-1]}; it must be a multiple of 64")
    if c.dtype is not s.dtype or c.padded_shape != s.padded_shape:
        raise fail(op, "arguments 'cos_cache' and 'sin_cache' must have the same dtype and shape")
    if c.rank != 4 or c.shape[0] != 1 or c.shape[1] != 1 or c.padded_shape[-1] != d:
        raise fail(
            op, f"argument 'cos_cache' must be [1, 1, L, {d}] (the input's head dim), got {list(c.shape)}"
        )
    if token_index is not None:
        if isinstance(token_index, bool) or not isinstance(token_index, int) or token_index < 0:
            raise fail(op, f"argument 'token_index' must be a non-negative int, got {token_index!r}")
        if x.shape[0] != 1:
            raise fail(
                op, f"with 'token_index' the input must be [1, 1, B, D] (one position), got {list(x.shape)}"
            )
        if c.shape[-2] <= token_index:
            raise fail(
                op, f"argument 'token_index'={token_index} is past the cos/sin cache ({c.shape[-2]} rows)"
            )
        shape = x.shape
    else:
        if c.padded_shape[-2] < x.padded_shape[-2]:
            raise fail(
                op,
                f"argument 'cos_cache' has {c.shape[-2]} rows; it needs at least the input's padded sequence "
                f"{x.padded_shape[-2]}",
            )
        shape = (*x.shape[:-2], _pad_rows(x.shape[-2]), x.shape[-1])
    need_memory_config(op, memory_config)
    mc = memory_config or x.memory_config
    if TensorMemoryLayout.WIDTH_SHARDED in (x.memory_config.memory_layout, mc.memory_layout):
        raise fail(op, "width-sharded tensors are not supported")
    return TensorSpec(shape, x.dtype, Layout.TILE, mc)


@rotary_embedding.sim
def _rotary_sim(ctx, input_tensor, cos_cache, sin_cache, token_index=None, **_):
    rows = ctx.out_spec.shape[-2]
    x = F.pad(input_tensor, (0, 0, 0, rows - input_tensor.shape[-2]))
    if token_index is not None:
        cos, sin = (
            cos_cache[..., token_index : token_index + 1, :],
            sin_cache[..., token_index : token_index + 1, :],
        )
    else:
        cos = F.pad(cos_cache, (0, 0, 0, max(0, rows - cos_cache.shape[-2])))[..., :rows, :]
        sin = F.pad(sin_cache, (0, 0, 0, max(0, rows - sin_cache.shape[-2])))[..., :rows, :]
    half = x.shape[-1] // 2
    rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
    return x * cos + rotated * sin


rotary_embedding.cost_rule = static_cost


# --------------------------------------------------------------------------- rotary_embedding_llama / _hf
_LLAMA = "experimental.rotary_embedding_llama"
_HF = "experimental.rotary_embedding_hf"


def _rope_out_mc(op: str, x: TensorSpec, memory_config) -> MemoryConfig:
    need_memory_config(op, memory_config)
    mc = memory_config or x.memory_config
    if mc.memory_layout is not x.memory_config.memory_layout:
        raise fail(
            op,
            f"argument 'memory_config' must have the input's memory layout {x.memory_config.memory_layout.name}",
        )
    if mc.is_sharded() and mc.shard_spec is None:
        mc = MemoryConfig(mc.memory_layout, mc.buffer_type, x.memory_config.shard_spec)
    return mc


def _need_height_sharded(op: str, arg: str, t: TensorSpec) -> None:
    if t.memory_config.memory_layout is not TensorMemoryLayout.HEIGHT_SHARDED:
        raise fail(
            op,
            f"argument {arg!r} must be HEIGHT_SHARDED in decode mode (is_decode_mode=True), got "
            f"{t.memory_config.memory_layout.name}",
        )


def _decode_batch(op: str, x: TensorSpec, c: TensorSpec) -> None:
    """Decode mode: x [1, B, H, D] with B <= cores, cos/sin [1, B, 1 or H, D]."""
    if x.rank != 4 or x.shape[0] != 1:
        raise fail(op, f"argument 'input_tensor' must be [1, B, H, D] in decode mode, got {list(x.shape)}")
    dev = current_device_spec()
    cores = dev.num_cores if dev is not None else 64
    if x.shape[1] > cores:
        raise fail(
            op, f"argument 'input_tensor': batch {x.shape[1]} exceeds the {cores} cores decode runs on"
        )
    if c.rank != 4 or c.shape[0] != 1 or c.shape[1] != x.shape[1] or c.shape[2] not in (1, x.shape[2]):
        raise fail(
            op,
            f"argument 'cos_cache' must be [1, {x.shape[1]}, 1, D] in decode mode (one row per batch), got "
            f"{list(c.shape)}",
        )


@register_op(_LLAMA, Group.DATA_MOVEMENT, traits=Traits())
def rotary_embedding_llama(
    input_tensor,
    cos_cache,
    sin_cache,
    trans_mat,
    *,
    is_decode_mode=False,
    memory_config=None,
    compute_kernel_config=None,
):
    """Rotary embedding in Meta's interleaved-pair form: x * cos + (x @ trans_mat per tile) * sin."""


@rotary_embedding_llama.spec
def _llama_spec(
    input_tensor,
    cos_cache,
    sin_cache,
    trans_mat,
    *,
    is_decode_mode=False,
    memory_config=None,
    compute_kernel_config=None,
):
    op = _LLAMA
    named = (
        ("input_tensor", input_tensor),
        ("cos_cache", cos_cache),
        ("sin_cache", sin_cache),
        ("trans_mat", trans_mat),
    )
    specs = {arg: need_spec(op, arg, v) for arg, v in named}
    for arg, t in specs.items():
        need_tile(op, arg, t)
        need_dtype(op, arg, t, (DataType.BFLOAT16,))  # "All input tensors must have dtype = bfloat16"
    x, c, s, t = specs["input_tensor"], specs["cos_cache"], specs["sin_cache"], specs["trans_mat"]
    if x.rank != 4:
        raise fail(op, f"argument 'input_tensor' must be 4-D, got {list(x.shape)}")
    d = x.shape[-1]
    if d % TILE or d > 256:
        raise fail(
            op, f"argument 'input_tensor' has head dim {d}; it must be a multiple of {TILE} and <= 256"
        )
    if d > 128 and getattr(compute_kernel_config, "fp32_dest_acc_en", False):
        raise fail(op, f"argument 'compute_kernel_config': head dim {d} > 128 needs fp32_dest_acc_en=False")
    if c.shape != s.shape:
        raise fail(op, f"arguments 'cos_cache' {list(c.shape)} and 'sin_cache' {list(s.shape)} must match")
    if t.rank != 4 or t.shape[0] != 1 or t.shape[1] != 1:
        raise fail(op, f"argument 'trans_mat' must be [1, 1, ., {TILE}], got {list(t.shape)}")
    if not isinstance(is_decode_mode, bool):
        raise fail(op, f"argument 'is_decode_mode' must be a bool, got {is_decode_mode!r}")
    if is_decode_mode:
        for arg, spec in specs.items():
            _need_height_sharded(op, arg, spec)
        _decode_batch(op, x, c)
        if c.memory_config.shard_spec is not None and c.memory_config.shard_spec.shape[0] != TILE:
            raise fail(op, f"argument 'cos_cache' must be sharded in {TILE}-row shards in decode mode")
        ts = t.memory_config.shard_spec
        if ts is not None and tuple(ts.shape) != (TILE, TILE) or t.shape[-1] != TILE or t.shape[-2] % TILE:
            raise fail(op, f"argument 'trans_mat' must be sharded in {TILE}x{TILE} shards in decode mode")
    else:
        for arg, spec in specs.items():
            if spec.memory_config.is_sharded():
                raise fail(op, f"argument {arg!r} must be interleaved in prefill mode (is_decode_mode=False)")
        if c.rank != 4 or c.shape[0] != 1 or c.shape[1] not in (1, x.shape[1]) or c.shape[-1] != d:
            raise fail(
                op, f"argument 'cos_cache' must be [1, 1, S, {d}] (or [1, H, S, {d}]), got {list(c.shape)}"
            )
        # NOTE: stricter than ttnn, whose prefill kernel would read rows past a short cos/sin cache
        if c.shape[-2] < x.shape[-2]:
            raise fail(op, f"argument 'cos_cache' has {c.shape[-2]} positions; the input has {x.shape[-2]}")
        if t.shape[-2:] != (TILE, TILE):
            raise fail(op, f"argument 'trans_mat' must be [1, 1, {TILE}, {TILE}], got {list(t.shape)}")
    return TensorSpec(x.shape, x.dtype, Layout.TILE, _rope_out_mc(op, x, memory_config))


def _tilewise(x: torch.Tensor, trans: torch.Tensor) -> torch.Tensor:
    """x @ trans on each 32-wide column tile of x; trans [32, 32], or [1, B, 1, 32, 32] (one block per user)."""
    tiles = x.reshape(*x.shape[:-1], x.shape[-1] // TILE, TILE)
    return (tiles @ trans).reshape(x.shape)


@rotary_embedding_llama.sim
def _llama_sim(ctx, input_tensor, cos_cache, sin_cache, trans_mat, *, is_decode_mode=False, **_):
    x, rows = input_tensor, input_tensor.shape[-2]
    if is_decode_mode:
        b = x.shape[1]
        # core b holds batch b's shard of trans_mat (or the one 32x32 block when all cores share it)
        blocks = trans_mat.reshape(-1, TILE, TILE)
        trans = blocks[torch.arange(b) % blocks.shape[0]].reshape(1, b, 1, TILE, TILE)
        cos, sin = cos_cache, sin_cache
    else:
        trans = trans_mat.reshape(TILE, TILE)
        cos, sin = cos_cache[..., :rows, :], sin_cache[..., :rows, :]
    return x * cos + _tilewise(x, trans) * sin


def _rope_cost(ctx) -> OpCost:
    """Data movement of the operands plus 3 vector ops per output element (x*cos, r*sin, add); the Meta form adds
    the 32x32 tile matmul x @ trans_mat on the matrix engine (64 FLOPs per element)."""
    cost = static_cost(ctx)
    n = ctx.out_specs[0].numel
    mm = 2.0 * TILE * n if ctx.op.name == _LLAMA else 0.0
    cost.flops += 3.0 * n + mm
    cost.matmul_flops += mm
    return cost


rotary_embedding_llama.cost_rule = _rope_cost


@register_op(_HF, Group.DATA_MOVEMENT, traits=Traits())
def rotary_embedding_hf(
    input_tensor,
    cos_cache,
    sin_cache,
    *,
    is_decode_mode=False,
    memory_config=None,
    compute_kernel_config=None,
):
    """Rotary embedding in HuggingFace's rotate-half form, prefill [1, H, S, D] or decode [1, B, H, D]."""


@rotary_embedding_hf.spec
def _hf_spec(input_tensor, cos_cache, sin_cache, *, is_decode_mode=False, memory_config=None, **_):
    op = _HF
    x = need_spec(op, "input_tensor", input_tensor)
    c = need_spec(op, "cos_cache", cos_cache)
    s = need_spec(op, "sin_cache", sin_cache)
    for arg, t in (("input_tensor", x), ("cos_cache", c), ("sin_cache", s)):
        need_tile(op, arg, t)
        need_dtype(op, arg, t, _DTYPES)
    d = x.padded_shape[-1]
    if x.rank != 4 or (d != TILE and d % (2 * TILE)):
        raise fail(
            op,
            f"argument 'input_tensor' must be 4-D with head dim 32 or a multiple of 64, got {list(x.shape)}",
        )
    if c.dtype is not s.dtype or c.padded_shape != s.padded_shape:
        raise fail(op, "arguments 'cos_cache' and 'sin_cache' must have the same dtype and shape")
    if c.rank != 4 or c.shape[0] != 1 or c.padded_shape[-1] != d:
        raise fail(
            op,
            f"argument 'cos_cache' must be [1, ., ., {x.shape[-1]}] (the input's head dim), got {list(c.shape)}",
        )
    if not isinstance(is_decode_mode, bool):
        raise fail(op, f"argument 'is_decode_mode' must be a bool, got {is_decode_mode!r}")
    if is_decode_mode:
        _need_height_sharded(op, "input_tensor", x)
        for arg, t in (("cos_cache", c), ("sin_cache", s)):
            if not t.memory_config.is_sharded():
                raise fail(op, f"argument {arg!r} must be sharded in decode mode (is_decode_mode=True)")
        _decode_batch(op, x, c)
    else:
        if c.shape[1] != 1:
            raise fail(op, f"argument 'cos_cache' must have batch dim 1 in prefill mode, got {list(c.shape)}")
        if c.shape[-2] < x.shape[-2]:
            raise fail(op, f"argument 'cos_cache' has {c.shape[-2]} positions; the input has {x.shape[-2]}")
        if x.memory_config.memory_layout is TensorMemoryLayout.WIDTH_SHARDED:
            raise fail(op, "argument 'input_tensor' cannot be WIDTH_SHARDED")
    need_memory_config(op, memory_config)
    mc = memory_config or x.memory_config
    if mc.memory_layout is TensorMemoryLayout.WIDTH_SHARDED:
        raise fail(op, "argument 'memory_config' cannot be WIDTH_SHARDED")
    if mc.is_sharded() and mc.shard_spec is None:
        mc = MemoryConfig(mc.memory_layout, mc.buffer_type, x.memory_config.shard_spec)
    return TensorSpec(x.shape, x.dtype, Layout.TILE, mc)


@rotary_embedding_hf.sim
def _hf_sim(ctx, input_tensor, cos_cache, sin_cache, *, is_decode_mode=False, **_):
    x = input_tensor
    cos, sin = (
        (cos_cache, sin_cache)
        if is_decode_mode
        else (cos_cache[..., : x.shape[-2], :], sin_cache[..., : x.shape[-2], :])
    )
    half = x.shape[-1] // 2
    return x * cos + torch.cat((-x[..., half:], x[..., :half]), dim=-1) * sin


rotary_embedding_hf.cost_rule = _rope_cost
