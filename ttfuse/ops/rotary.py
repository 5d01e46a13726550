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
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ttfuse.device import TILE
from ttfuse.opdef import Group, Traits, register_op
from ttfuse.ops.common import fail, need_dtype, need_memory_config, need_spec, need_tile
from ttfuse.ops.data_movement import static_cost
from ttfuse.types import DataType, Layout, TensorMemoryLayout, TensorSpec

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
