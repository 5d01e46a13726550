"""Selection ops: `ttnn.topk` (values and indices of the k largest / smallest along a dim), `ttnn.gather`,
`ttnn.scatter` (see the note above each).

Validation follows tt-metal ttnn/cpp/ttnn/operations/reduction/topk/device/topk_device_operation.cpp and the
ttnn 0.81.1 docstring: the input is a TILE tensor (BFLOAT16, BFLOAT8_B or FLOAT32) on the device; `k` is in
[1, size of `dim`]; the values keep the input's dtype and TILE layout, the indices are UINT16, or UINT32 when the
tile-padded reduced dim exceeds 65536 or the input is FLOAT32. The result is the pair (values, indices).
`indices_tensor`, `stable` and preallocated outputs are not modelled (SpecError naming them).

Sim: `torch.topk` on the stored values (ties resolved as torch does; ttnn's order among equal values may differ).
"""

from __future__ import annotations

import torch

from ttfuse.opdef import Group, Traits, register_op
from ttfuse.ops.common import fail, need_dtype, need_memory_config, need_spec, need_tile, norm_dim
from ttfuse.ops.data_movement import static_cost
from ttfuse.types import DataType, Layout, TensorSpec

_TOPK_DTYPES = (DataType.BFLOAT16, DataType.BFLOAT8_B, DataType.FLOAT32)
_UINT16_MAX_DIM = 65536


# NOTE: tt-metal files topk under reduction, but it has two outputs and no reduce algebra: passes keyed on
# Group.REDUCE (one output, a reduce dim) must not see it, so it is grouped with the data-movement ops.
@register_op("topk", Group.DATA_MOVEMENT, traits=Traits())
def topk(
    input_tensor,
    k=32,
    dim=-1,
    largest=True,
    sorted=True,
    *,
    memory_config=None,
    output_tensor=None,
    sub_core_grids=None,
    indices_tensor=None,
    stable=False,
):
    """(values, indices) of the `k` largest (or smallest) elements along `dim`."""


@topk.spec
def _topk_spec(
    input_tensor,
    k=32,
    dim=-1,
    largest=True,
    sorted=True,
    *,
    memory_config=None,
    output_tensor=None,
    indices_tensor=None,
    stable=False,
    **_,
):
    op = "topk"
    s = need_spec(op, "input_tensor", input_tensor)
    need_tile(op, "input_tensor", s)
    need_dtype(op, "input_tensor", s, _TOPK_DTYPES)
    d = norm_dim(op, dim, s.rank)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= s.shape[d]:
        raise fail(op, f"argument 'k'={k!r} must be an int in [1, {s.shape[d]}] (the size of dim {dim})")
    for arg, v in (("largest", largest), ("sorted", sorted), ("stable", stable)):
        if not isinstance(v, bool):
            raise fail(op, f"argument {arg!r} must be a bool, got {v!r}")
    for arg, v in (
        ("indices_tensor", indices_tensor),
        ("output_tensor", output_tensor),
        ("stable", stable or None),
    ):
        if v is not None:
            raise fail(op, f"argument {arg!r} is not modelled by the simulator")
    need_memory_config(op, memory_config)
    mc = memory_config or s.memory_config
    shape = (*s.shape[:d], k, *s.shape[d + 1 :])
    wide = s.dtype is DataType.FLOAT32 or s.padded_shape[d] > _UINT16_MAX_DIM
    idx = DataType.UINT32 if wide else DataType.UINT16
    return (TensorSpec(shape, s.dtype, Layout.TILE, mc), TensorSpec(shape, idx, Layout.TILE, mc))


@topk.sim
def _topk_sim(ctx, input_tensor, k=32, dim=-1, largest=True, sorted=True, **_):
    values, indices = torch.topk(input_tensor, k, dim=dim, largest=largest, sorted=True)
    return values, indices.float()


topk.cost_rule = static_cost


# ------------------------------------------------------------------------------------------------- gather
# ttnn 0.81.1 `ttnn.gather` docstring (tt-metal ttnn/cpp/ttnn/operations/data_movement/gather): torch.gather
# semantics, no broadcasting; values TILE in BFLOAT16/FLOAT32/UINT16/UINT32/INT32, indices TILE UINT16/UINT32;
# the output has the index's shape and the input's dtype. Indices outside [0, input.shape[dim]) give unspecified
# values on the device; the simulator raises instead.
_GATHER_DTYPES = (DataType.BFLOAT16, DataType.FLOAT32, DataType.UINT16, DataType.UINT32, DataType.INT32)
_GATHER_INDEX_DTYPES = (DataType.UINT16, DataType.UINT32)


@register_op("gather", Group.DATA_MOVEMENT, traits=Traits())
def gather(input, dim, index, *, sparse_grad=False, memory_config=None, out=None, sub_core_grids=None):
    """torch.gather: `out[i][j] = input[index[i][j]][j]` along `dim` (output shape = index shape)."""


@gather.spec
def _gather_spec(input, dim, index, *, sparse_grad=False, memory_config=None, out=None, **_):
    op = "gather"
    s = need_spec(op, "input", input)
    i = need_spec(op, "index", index)
    need_tile(op, "input", s)
    need_tile(op, "index", i)
    need_dtype(op, "input", s, _GATHER_DTYPES)
    need_dtype(op, "index", i, _GATHER_INDEX_DTYPES)
    if i.rank != s.rank:
        raise fail(op, f"argument 'index' has rank {i.rank}; it must have the input's rank {s.rank}")
    d = norm_dim(op, dim, s.rank)
    if any(a > b for k, (a, b) in enumerate(zip(i.shape, s.shape, strict=True)) if k != d):
        raise fail(op, f"argument 'index' {list(i.shape)} exceeds the input {list(s.shape)} off dim {dim}")
    if sparse_grad:
        raise fail(op, "argument 'sparse_grad'=True is not supported (as in ttnn)")
    if out is not None:
        raise fail(op, "argument 'out' is not modelled by the simulator")
    need_memory_config(op, memory_config)
    return TensorSpec(i.shape, s.dtype, Layout.TILE, memory_config or s.memory_config)


@gather.sim
def _gather_sim(ctx, input, dim, index, **_):
    idx = index.long()
    size = input.shape[dim]
    if bool(((idx < 0) | (idx >= size)).any()):
        raise fail(
            "gather", f"argument 'index' holds a value outside [0, {size}) (unspecified on the device)"
        )
    return torch.gather(input, dim, idx)


gather.cost_rule = static_cost


# ------------------------------------------------------------------------------------------------ scatter
# ttnn 0.81.1 `ttnn.scatter(input, dim, index, src, *, memory_config=None, reduce=None, sub_core_grids=None)`:
# torch.Tensor.scatter semantics (tt-metal ttnn/cpp/ttnn/operations/data_movement/scatter/scatter.cpp): input,
# index and src have one rank; index.shape[d] <= src.shape[d] for every d and <= input.shape[d] off `dim`; src has
# the input's dtype; the index is INT32/UINT8/UINT16/UINT32; nothing sharded; FLOAT32 TILE input or src is refused
# ("Scatter doesn't work for fp32 tiled tensors yet"). The output has the input's shape, dtype and layout (ttnn
# runs the device op on ROW_MAJOR copies with `dim` transposed last and converts back) in `memory_config` or the
# input's. `reduce` is documented "currently not supported" in 0.81.1: a SpecError. Duplicate indices write one
# of the values (unspecified on the device; the simulator keeps torch's choice); an index outside
# [0, input.shape[dim]) raises in the simulator.
_SCATTER_INDEX_DTYPES = (DataType.INT32, DataType.UINT8, DataType.UINT16, DataType.UINT32)


def _scatter_launches(out_specs, args) -> int:
    """The device scatter plus ttnn's layout conversions (TILE -> ROW_MAJOR for each of the three inputs and
    back) and the transposes that put `dim` last (three in, one out) when it is not already."""
    if args is None:
        return 1
    tiled = sum(1 for a in ("input", "index", "src") if args[a].layout is Layout.TILE)
    back = 1 if args["input"].layout is Layout.TILE else 0
    last = args["dim"] % args["input"].rank == args["input"].rank - 1
    return 1 + tiled + back + (0 if last else 4)


@register_op("scatter", Group.DATA_MOVEMENT, traits=Traits(), launches=_scatter_launches)
def scatter(input, dim, index, src, *, memory_config=None, reduce=None, sub_core_grids=None):
    """torch.Tensor.scatter: a copy of `input` with `out[..., index[i], ...] = src[i]` along `dim`."""


@scatter.spec
def _scatter_spec(input, dim, index, src, *, memory_config=None, reduce=None, **_):
    op = "scatter"
    s, i, v = need_spec(op, "input", input), need_spec(op, "index", index), need_spec(op, "src", src)
    need_dtype(op, "index", i, _SCATTER_INDEX_DTYPES)
    if v.dtype is not s.dtype:
        raise fail(
            op, f"argument 'src' has dtype {v.dtype.value}; it must have the input's ({s.dtype.value})"
        )
    for arg, t in (("input", s), ("src", v)):
        if t.dtype is DataType.FLOAT32 and t.layout is Layout.TILE:
            raise fail(op, f"argument {arg!r} is FLOAT32 in TILE layout, which ttnn's scatter refuses")
    for arg, t in (("input", s), ("index", i), ("src", v)):
        if t.memory_config.is_sharded():
            raise fail(op, f"argument {arg!r} is sharded; ttnn's scatter takes interleaved tensors")
    if not i.rank == v.rank == s.rank:
        raise fail(
            op, f"arguments 'index' (rank {i.rank}) and 'src' (rank {v.rank}) need the input's rank {s.rank}"
        )
    d = norm_dim(op, dim, s.rank)
    for k in range(s.rank):
        if i.shape[k] > v.shape[k] or (k != d and i.shape[k] > s.shape[k]):
            raise fail(
                op,
                f"argument 'index' {list(i.shape)} must not exceed 'src' {list(v.shape)} in any dim nor the "
                f"input {list(s.shape)} off dim {dim}",
            )
    if reduce is not None:
        raise fail(op, f"argument 'reduce'={reduce!r}: ttnn 0.81.1's scatter does not support a reduction")
    need_memory_config(op, memory_config)
    return TensorSpec(s.shape, s.dtype, s.layout, memory_config or s.memory_config)


@scatter.sim
def _scatter_sim(ctx, input, dim, index, src, **_):
    idx = index.long()
    size = input.shape[dim]
    if bool(((idx < 0) | (idx >= size)).any()):
        raise fail(
            "scatter", f"argument 'index' holds a value outside [0, {size}) (unspecified on the device)"
        )
    part = src[tuple(slice(0, n) for n in idx.shape)]
    return input.scatter(dim, idx, part)


scatter.cost_rule = static_cost
