"""Creation ops: zeros, ones, full, empty and their *_like forms, arange, rand.

They take no input tensor (the *_like forms read only the template's spec), so the executor, which finds the
device through tensor arguments, cannot place them: `_create` is their eager path. It validates with the
spec rule, fills values with the sim rule, rounds them to the dtype, allocates on `device` (host tensor when
there is none) and counts one launch per device-side fill (`empty` only allocates: no launch). Under capture
the spec and sim rules are used as for any op.

Defaults follow ttnn 0.81: zeros/ones/full without dtype/layout give bfloat16 ROW_MAJOR; `empty` and
`arange` default to bfloat16 ROW_MAJOR in DRAM; `rand` to bfloat16 TILE. Block floats need TILE layout.

Extend: register the op with its real ttnn signature, a spec rule returning the TensorSpec, a sim rule
returning float32 values of that shape, then `_create_op(op)`.
"""

from __future__ import annotations

import math

import torch

from ttfuse.opdef import Group, register_op
from ttfuse.ops.common import fail, need_dtype_arg, need_memory_config, need_spec
from ttfuse.ops.data_movement import MAX_RANK, check_dtype_layout, check_sharded, int_list, static_cost
from ttfuse.types import DRAM_MEMORY_CONFIG, DataType, Layout, TensorSpec


def _need_device(op: str, device) -> None:
    if device is None:
        raise fail(op, "argument 'device' is required (ttnn creates this tensor on a device)")


def _spec(
    op: str,
    shape,
    dtype,
    layout,
    memory_config,
    *,
    default_dtype=DataType.BFLOAT16,
    default_layout=Layout.ROW_MAJOR,
) -> TensorSpec:
    if isinstance(shape, int) and not isinstance(shape, bool):
        shape = (shape,)
    shape = int_list(op, "shape", shape, allow_neg=False)
    if not shape or len(shape) > MAX_RANK:
        raise fail(op, f"argument 'shape'={list(shape)} must have 1 to {MAX_RANK} dims")
    need_dtype_arg(op, dtype)
    need_memory_config(op, memory_config)
    if layout is not None and not isinstance(layout, Layout):
        raise fail(op, f"argument 'layout' must be ttnn.TILE_LAYOUT or ttnn.ROW_MAJOR_LAYOUT, got {layout!r}")
    dtype, layout = dtype or default_dtype, layout or default_layout
    check_dtype_layout(op, "dtype", dtype, layout)
    mc = memory_config or DRAM_MEMORY_CONFIG
    if mc.is_sharded():
        check_sharded(op, "memory_config", shape, layout, mc)
    return TensorSpec(shape, dtype, layout, mc)


def _like(op: str, tensor, dtype, layout, memory_config) -> TensorSpec:
    s = need_spec(op, "tensor", tensor)
    return _spec(
        op,
        s.shape,
        dtype,
        layout,
        memory_config or s.memory_config,
        default_dtype=s.dtype,
        default_layout=s.layout,
    )


def _fill(ctx, fill_value=0.0, **_):
    return torch.full(tuple(ctx.out_spec.shape), float(fill_value))


def _create_op(op, launches: int = 1) -> None:
    """A creation op: values from its sim rule, on its `device=` (or its template tensor's device), else host.

    The executor finds the device from the `device` argument when the op has no tensor input on a device.
    """
    op.launches = launches
    op.declare(host_ok=True)
    op.cost_rule = static_cost


# ------------------------------------------------------------------------------------------ fills
@register_op("zeros", Group.DATA_MOVEMENT)
def zeros(shape, dtype=None, layout=None, device=None, memory_config=None):
    """A tensor of zeros (bfloat16 ROW_MAJOR unless told; on `device` when given)."""


@register_op("ones", Group.DATA_MOVEMENT)
def ones(shape, dtype=None, layout=None, device=None, memory_config=None):
    """A tensor of ones (bfloat16 ROW_MAJOR unless told; on `device` when given)."""


@register_op("full", Group.DATA_MOVEMENT)
def full(shape, fill_value, dtype=None, layout=None, device=None, memory_config=None, optional_tensor=None):
    """A tensor filled with `fill_value` (bfloat16 ROW_MAJOR unless told; on `device` when given)."""


def _fill_value(op: str, v) -> None:
    if not isinstance(v, int | float) or isinstance(v, bool):
        raise fail(op, f"argument 'fill_value' must be a number, got {v!r}")


def _no_optional(op: str, v) -> None:
    if v is not None:
        raise fail(op, "argument 'optional_tensor': preallocated outputs are not modelled by ttfuse")


zeros.sim(lambda ctx, **a: _fill(ctx, 0.0))
ones.sim(lambda ctx, **a: _fill(ctx, 1.0))
full.sim(lambda ctx, fill_value, **a: _fill(ctx, fill_value))


@register_op("zeros_like", Group.DATA_MOVEMENT)
def zeros_like(tensor, dtype=None, layout=None, device=None, memory_config=None, optional_tensor=None):
    """Zeros shaped like `tensor` (its dtype, layout, device and memory config unless told)."""


@register_op("ones_like", Group.DATA_MOVEMENT)
def ones_like(tensor, dtype=None, layout=None, device=None, memory_config=None, optional_tensor=None):
    """Ones shaped like `tensor` (its dtype, layout, device and memory config unless told)."""


@register_op("full_like", Group.DATA_MOVEMENT)
def full_like(
    tensor, fill_value, dtype=None, layout=None, device=None, memory_config=None, optional_tensor=None
):
    """`fill_value` shaped like `tensor` (its dtype, layout, device and memory config unless told)."""


def _fill_spec_rule(op: str, like: bool):
    """The spec rule of fill op `op`: a number for fill_value (full, full_like), no optional_tensor, then the
    output spec of `shape`, or like `tensor` for the _like forms (spec rules get every argument by name)."""

    def rule(dtype, layout, device, memory_config, fill_value=None, optional_tensor=None, **src):
        if op.startswith("full"):
            _fill_value(op, fill_value)
        _no_optional(op, optional_tensor)
        if like:
            return _like(op, src["tensor"], dtype, layout, memory_config)
        return _spec(op, src["shape"], dtype, layout, memory_config)

    return rule


for _op in (zeros, ones, full, zeros_like, ones_like, full_like):
    _op.spec(_fill_spec_rule(_op.name, like=_op.name.endswith("_like")))
zeros_like.sim(lambda ctx, **a: _fill(ctx, 0.0))
ones_like.sim(lambda ctx, **a: _fill(ctx, 1.0))
full_like.sim(lambda ctx, fill_value, **a: _fill(ctx, fill_value))


@register_op("empty", Group.DATA_MOVEMENT, launches=0)
def empty(
    shape, dtype=DataType.BFLOAT16, layout=Layout.ROW_MAJOR, device=None, memory_config=DRAM_MEMORY_CONFIG
):
    """An uninitialised device tensor (the simulator fills it with zeros); allocation only, no kernel."""


@empty.spec
def _empty_spec(
    shape, dtype=DataType.BFLOAT16, layout=Layout.ROW_MAJOR, device=None, memory_config=DRAM_MEMORY_CONFIG
):
    _need_device("empty", device)
    return _spec("empty", shape, dtype, layout, memory_config)


@register_op("empty_like", Group.DATA_MOVEMENT, launches=0)
def empty_like(tensor, *, dtype=None, layout=None, device=None, memory_config=None):
    """An uninitialised tensor shaped like `tensor` (zeros in the simulator); allocation only, no kernel."""


@empty_like.spec
def _empty_like_spec(tensor, *, dtype=None, layout=None, device=None, memory_config=None):
    return _like("empty_like", tensor, dtype, layout, memory_config)


empty.sim(lambda ctx, **a: _fill(ctx, 0.0))
empty_like.sim(lambda ctx, **a: _fill(ctx, 0.0))


# ------------------------------------------------------------------------------------------ ranges, random
@register_op("arange", Group.DATA_MOVEMENT)
def arange(
    start,
    end=None,
    step=1,
    *,
    dtype=DataType.BFLOAT16,
    device=None,
    memory_config=DRAM_MEMORY_CONFIG,
    layout=Layout.ROW_MAJOR,
):
    """[start, end) by `step` as a rank-1 tensor (`arange(end)` counts from 0)."""


_ARANGE_DTYPES = (DataType.BFLOAT16, DataType.FLOAT32, DataType.UINT16, DataType.UINT32, DataType.INT32)


def _arange_bounds(start, end, step) -> tuple[int, int, int]:
    op = "arange"
    if end is None:
        start, end = 0, start
    for name, v in (("start", start), ("end", end), ("step", step)):
        if not isinstance(v, int) or isinstance(v, bool):
            raise fail(op, f"argument {name!r} must be an int, got {v!r}")
    if step == 0 or (end - start) * step < 0:
        raise fail(op, f"argument 'step'={step} must be non-zero and point from start={start} to end={end}")
    return start, end, step


@arange.spec
def _arange_spec(start, end, step, *, dtype, memory_config, layout, **_):
    start, end, step = _arange_bounds(start, end, step)
    n = math.ceil((end - start) / step)
    if n == 0:
        raise fail("arange", f"arguments start={start}, end={end} give an empty range")
    if dtype not in _ARANGE_DTYPES:
        raise fail(
            "arange",
            f"argument 'dtype'={dtype!r} is not supported; use one of "
            f"{', '.join(d.value for d in _ARANGE_DTYPES)}",
        )
    return _spec("arange", (n,), dtype, layout, memory_config)


@arange.sim
def _arange_sim(ctx, start, end=None, step=1, **_):
    start, end, step = _arange_bounds(start, end, step)
    return torch.arange(start, end, step, dtype=torch.float64).float()


@register_op("rand", Group.DATA_MOVEMENT)
def rand(
    shape,
    device=None,
    *,
    dtype=DataType.BFLOAT16,
    layout=Layout.TILE,
    memory_config=DRAM_MEMORY_CONFIG,
    low=0.0,
    high=1.0,
    seed=0,
    mesh_mapper=None,
):
    """Uniform random values in [low, high) on `device` (`seed` != 0 makes them reproducible)."""


@rand.spec
def _rand_spec(shape, device, *, dtype, layout, memory_config, low, high, mesh_mapper, **_):
    _need_device("rand", device)
    if dtype is DataType.UINT8:
        raise fail("rand", "argument 'dtype'=ttnn.uint8 is not supported")
    if not (isinstance(low, int | float) and isinstance(high, int | float)) or not low < high:
        raise fail("rand", f"arguments low={low!r}, high={high!r} must be numbers with low < high")
    if mesh_mapper is not None:
        raise fail("rand", "argument 'mesh_mapper' is not modelled by ttfuse")
    return _spec("rand", shape, dtype, layout, memory_config)


@rand.sim
def _rand_sim(ctx, shape, device=None, *, low=0.0, high=1.0, seed=0, **_):
    gen = None
    if seed:
        gen = torch.Generator().manual_seed(int(seed) + ctx.device_index)
    u = torch.rand(tuple(ctx.out_spec.shape), generator=gen)
    return low + (high - low) * u


for _op in (zeros, ones, full, arange, rand):
    _create_op(_op)
for _op in (zeros_like, ones_like, full_like):
    _create_op(_op)
_create_op(empty, launches=0)
_create_op(empty_like, launches=0)
