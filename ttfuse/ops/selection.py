"""Selection ops: `ttnn.topk` (values and indices of the k largest / smallest along a dim).

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
