"""Data-movement ops: layouts, dtypes, memory configs and sharding; the shared machinery of ttfuse/ops/shapes.py
(reshape, permute, slice, concat, pad, repeat, ...) and ttfuse/ops/creation.py (zeros, full, arange, rand, ...).

These ops move or re-describe data and compute nothing: their sim rules return the logical float32 shards
unchanged (or cast them), and the shape ops are exact torch reshapes, permutes, slices and concatenations.
The executor then rounds each output to its dtype, which only changes values for a new dtype (typecast, clone,
to_layout / to_memory_config with dtype=) and for block floats whose tiles a new shape re-blocks.

Zero-cost calls. Real ttnn returns the input itself, or a view sharing its buffer, when an op has nothing to
do: to_layout to the layout the tensor has, reshape/view/squeeze/unsqueeze that keep the last dim (and, when
tiled, the second-last dim or its tile alignment), identity permutes and slices, one-tensor concats,
to_memory_config to the memory config it has, repeat by ones. Such calls launch no kernel and allocate
nothing. `with_launch_rule(op, rule)` sets `op.launches` and `Traits.may_view`: the executor asks `rule(**spec_args)`
per call; 0 returns the input (same spec) or a view sharing its storage (`ViewStorage`), n > 0 allocates and
counts n launches (composite ttnn ops launch several kernels, e.g. a bfloat8_b tiled reshape typecasts around
the reshape kernel). The same rule feeds the cost rule, so eager counts and the cost model agree.

Invariants: spec rules validate like ttnn and never look at values; sim rules are vectorized torch and
dtype-agnostic (integer shards may be integer tensors); ops ttnn also runs on host tensors set `host_ok`.

upsample (ttnn.upsample, nearest) lives here too: an NHWC [N, H, W, C] gather of rows and columns with the
device's source indices, ROW_MAJOR output, one launch, costed by its bytes like the other movement ops;
mode='bilinear' is rejected as not modelled yet.

Extend: register the op with its real ttnn signature, write spec and sim rules, and wrap it with
`with_launch_rule(op, rule)` if some calls are free or launch more than one kernel. Tests live in
tests/test_ops_data_movement.py.
"""

from __future__ import annotations

import math

import torch

from ttfuse.axes import Axis
from ttfuse.opdef import Group, OpCost, Traits, current_device_spec, register_op
from ttfuse.ops.common import (
    fail,
    flat_specs,
    io_bytes,
    need_dtype,
    need_dtype_arg,
    need_memory_config,
    need_spec,
)
from ttfuse.types import (
    DRAM_MEMORY_CONFIG,
    BufferType,
    CoreCoord,
    CoreGrid,
    CoreRange,
    CoreRangeSet,
    DataType,
    Layout,
    MemoryConfig,
    ShardOrientation,
    ShardSpec,
    ShardStrategy,
    TensorMemoryLayout,
    TensorSpec,
    padded_shape_of,
)

__ttnn_exports__ = ("create_sharded_memory_config",)

TILE = 32
MAX_RANK = 8


# ------------------------------------------------------------------------------------ zero-cost machinery
def with_launch_rule(op, rule) -> None:
    """Give `op` a per-call launch count `rule(**spec_args)`; 0 means ttnn returns the input or a view of it
    (`Traits.may_view`: the executor then allocates nothing, see ttfuse/sim/executor.py). The cost rule follows."""

    def launches(out_specs, args=None) -> int:
        return 1 if args is None else rule(**args)

    def cost(ctx) -> OpCost:
        return movement_cost(ctx, rule(**ctx.args))

    op.launches = launches
    op.declare(may_view=True)
    op.cost_rule = cost


def movement_cost(ctx, n: int) -> OpCost:
    """Data movement: no FLOPs; reads every input and writes every output once (nothing when it is a view)."""
    if n == 0:
        return OpCost(launches=0)
    dram, l1 = io_bytes(flat_specs(ctx.in_specs) + list(ctx.out_specs))
    return OpCost(flops=0.0, dram_bytes=dram, l1_bytes=l1, launches=n)


def static_cost(ctx) -> OpCost:
    return movement_cost(ctx, ctx.op.num_launches(ctx.out_specs, ctx.args))


# ------------------------------------------------------------------------------------------ arg checks
def int_list(op: str, arg: str, v, *, allow_neg: bool = True) -> tuple[int, ...]:
    if not isinstance(v, list | tuple) or not all(isinstance(d, int) and not isinstance(d, bool) for d in v):
        raise fail(op, f"argument {arg!r} must be a list of ints, got {v!r}")
    if not allow_neg and any(d < 0 for d in v):
        raise fail(op, f"argument {arg!r}={list(v)} must not have negative entries")
    return tuple(int(d) for d in v)


def _need_dtype(op: str, arg: str, dtype) -> None:
    if not isinstance(dtype, DataType):
        raise fail(op, f"argument {arg!r} must be a ttnn.DataType, got {dtype!r}")


def check_dtype_layout(op: str, arg: str, dtype: DataType, layout: Layout) -> None:
    if dtype.is_block_float and layout is not Layout.TILE:
        raise fail(
            op, f"argument {arg!r}={dtype!r} needs TILE layout (block floats are tiled), got {layout!r}"
        )


def _two_d(shape: tuple, layout: Layout) -> tuple[int, int]:
    """The tensor as ttnn shards it: [prod(leading dims) x H, W] of the physical (tile-padded) shape."""
    p = padded_shape_of(tuple(shape), layout)
    if not p:
        return 1, 1
    return math.prod(p[:-1]), p[-1]


def check_sharded(op: str, arg: str, shape: tuple, layout: Layout, mc: MemoryConfig) -> None:
    """A sharded memory config must carry a shard spec whose shards, laid over its grid, cover the tensor."""
    ss = mc.shard_spec
    if ss is None:
        raise fail(
            op,
            f"argument {arg!r} is {mc.memory_layout.value} but has no shard_spec "
            "(build one with ttnn.create_sharded_memory_config)",
        )
    if mc.buffer_type not in (BufferType.L1, BufferType.DRAM):
        raise fail(op, f"argument {arg!r}: sharded tensors live in L1 or DRAM, got {mc.buffer_type!r}")
    sh, sw = ss.shape if len(ss.shape) == 2 else (0, 0)
    if sh <= 0 or sw <= 0:
        raise fail(op, f"argument {arg!r}: shard shape {list(ss.shape)} must be two positive ints")
    if layout is Layout.TILE and (sh % TILE or sw % TILE):
        raise fail(
            op,
            f"argument {arg!r}: shard shape {list(ss.shape)} must be a multiple of the 32x32 tile for a "
            "TILE-layout tensor",
        )
    h, w = _two_d(shape, layout)
    nh, nw = -(-h // sh), -(-w // sw)
    cores = ss.num_cores()
    view = f"the tensor viewed as [{h}, {w}]"
    ml = mc.memory_layout
    if ml is TensorMemoryLayout.HEIGHT_SHARDED:
        if sw != w:
            raise fail(
                op, f"argument {arg!r}: HEIGHT_SHARDED shard width {sw} must equal the width of {view}"
            )
        if nh > cores:
            raise fail(op, f"argument {arg!r}: {cores} cores x {sh} rows do not cover {view} ({nh} shards)")
    elif ml is TensorMemoryLayout.WIDTH_SHARDED:
        if sh != h:
            raise fail(
                op, f"argument {arg!r}: WIDTH_SHARDED shard height {sh} must equal the height of {view}"
            )
        if nw > cores:
            raise fail(
                op, f"argument {arg!r}: {cores} cores x {sw} columns do not cover {view} ({nw} shards)"
            )
    else:
        bb = ss.grid.bounding_box().grid_size
        rows, cols = (bb.y, bb.x) if ss.orientation is ShardOrientation.ROW_MAJOR else (bb.x, bb.y)
        if nh > rows or nw > cols:
            raise fail(
                op,
                f"argument {arg!r}: BLOCK_SHARDED shards {sh}x{sw} over a {rows}x{cols} grid of "
                f"{ss.orientation.value} shards do not cover {view} (needs {nh}x{nw})",
            )
    ds = current_device_spec()
    if ds is not None:
        end = ss.grid.bounding_box().end
        if end.x >= ds.grid[0] or end.y >= ds.grid[1]:
            raise fail(
                op,
                f"argument {arg!r}: shard grid reaches core ({end.x}, {end.y}) outside the "
                f"{ds.grid[0]}x{ds.grid[1]} compute grid of {ds.name}",
            )


def out_memory_config(
    op: str, mc, like: MemoryConfig, shape: tuple, layout: Layout, arg: str = "memory_config"
):
    need_memory_config(op, mc)
    mc = mc or like
    if mc.is_sharded():
        check_sharded(op, arg, shape, layout, mc)
    return mc


# ------------------------------------------------------------------------------------------ layout, dtype
@register_op("to_layout", Group.DATA_MOVEMENT, traits=Traits(host_ok=True))
def to_layout(tensor, layout, dtype=None, memory_config=None, sub_core_grids=None, pad_value=0.0):
    """Convert to TILE (pads H, W to 32) or ROW_MAJOR (unpads); returns the input when the layout matches."""


@to_layout.spec
def _to_layout_spec(tensor, layout, dtype=None, memory_config=None, sub_core_grids=None, pad_value=0.0):
    s = need_spec("to_layout", "tensor", tensor)
    if not isinstance(layout, Layout):
        raise fail(
            "to_layout",
            f"argument 'layout' must be ttnn.TILE_LAYOUT or ttnn.ROW_MAJOR_LAYOUT, got {layout!r}",
        )
    need_dtype_arg("to_layout", dtype)
    need_memory_config("to_layout", memory_config)
    if layout is s.layout:
        return s  # ttnn returns the tensor unchanged (dtype / memory_config ignored with a warning)
    if layout is Layout.ROW_MAJOR:
        if dtype is not None and dtype is not s.dtype:
            raise fail(
                "to_layout",
                f"argument 'dtype'={dtype!r} cannot differ from the tensor's {s.dtype!r} when "
                "converting to ROW_MAJOR_LAYOUT (use ttnn.typecast)",
            )
        out_dtype = DataType.BFLOAT16 if s.dtype.is_block_float else s.dtype  # untilize unpacks block floats
    else:
        out_dtype = dtype or s.dtype
        if s.memory_config.is_sharded() and s.memory_config.shard_spec is not None:
            sh, sw = s.memory_config.shard_spec.shape
            if sh % TILE or sw % TILE:
                raise fail(
                    "to_layout",
                    f"argument 'tensor' is sharded with shard shape [{sh}, {sw}]; tilizing a "
                    "sharded tensor needs a shard shape that is a multiple of 32",
                )
    mc = out_memory_config("to_layout", memory_config, s.memory_config, s.shape, layout)
    return TensorSpec(s.shape, out_dtype, layout, mc)


@to_layout.sim
def _to_layout_sim(ctx, tensor, layout, **_):
    return tensor


def _to_layout_launches(tensor, layout, **_):
    return 0 if layout is tensor.layout else 1


with_launch_rule(to_layout, _to_layout_launches)


def _cast(x: torch.Tensor, src: DataType, dst: DataType) -> torch.Tensor:
    """TT typecast: float -> int truncates toward zero; uint8 wraps modulo 256; unsigned clamps negatives."""
    if not dst.is_integer:
        return x.float()
    if not src.is_integer:
        x = torch.trunc(x.float())
    if dst is DataType.UINT8:
        return torch.remainder(x, 256)
    if dst in (DataType.UINT16, DataType.UINT32):
        return torch.clamp(x, min=0)
    return x


@register_op("typecast", Group.DATA_MOVEMENT, traits=Traits(host_ok=True, split="eltwise"))
def typecast(input_tensor, dtype, *, memory_config=None, output_tensor=None, sub_core_grids=None):
    """Convert to `dtype` in the same layout (host tensors convert on host)."""


@typecast.spec
def _typecast_spec(input_tensor, dtype, *, memory_config=None, output_tensor=None, sub_core_grids=None):
    s = need_spec("typecast", "input_tensor", input_tensor)
    _need_dtype("typecast", "dtype", dtype)
    check_dtype_layout("typecast", "dtype", dtype, s.layout)
    mc = out_memory_config("typecast", memory_config, s.memory_config, s.shape, s.layout)
    return TensorSpec(s.shape, dtype, s.layout, mc)


@typecast.sim
def _typecast_sim(ctx, input_tensor, dtype, **_):
    return _cast(input_tensor, ctx.in_specs["input_tensor"].dtype, dtype)


typecast.cost_rule = static_cost


@register_op("clone", Group.DATA_MOVEMENT, traits=Traits(split="eltwise"))
def clone(input, *, dtype=None, memory_config=None, compute_kernel_config=None):
    """Copy into a new tensor, optionally with another dtype and memory config (layout unchanged)."""


def _recast_spec(op: str, s: TensorSpec, dtype, memory_config) -> TensorSpec:
    """A copy of `s` in `dtype` (default: its own) placed by `memory_config` (clone, to_memory_config)."""
    out_dtype = dtype or s.dtype
    check_dtype_layout(op, "dtype", out_dtype, s.layout)
    mc = out_memory_config(op, memory_config, s.memory_config, s.shape, s.layout)
    return TensorSpec(s.shape, out_dtype, s.layout, mc)


@clone.spec
def _clone_spec(input, *, dtype=None, memory_config=None, compute_kernel_config=None):
    s = need_spec("clone", "input", input)
    need_dtype_arg("clone", dtype)
    return _recast_spec("clone", s, dtype, memory_config)


@clone.sim
def _clone_sim(ctx, input, **_):
    return _cast(input, ctx.in_specs["input"].dtype, ctx.out_spec.dtype)


clone.cost_rule = static_cost


@register_op("copy", Group.DATA_MOVEMENT, traits=Traits(inplace="input_b"))
def copy(input_a, input_b):
    """Copy the elements of `input_a` into `input_b` in place (same shape and layout; values take b's dtype)."""


@copy.spec
def _copy_spec(input_a, input_b):
    a, b = need_spec("copy", "input_a", input_a), need_spec("copy", "input_b", input_b)
    if a.shape != b.shape or a.layout is not b.layout:
        raise fail("copy", f"argument 'input_b' is {b}; it must have the shape and layout of 'input_a' ({a})")
    return b


@copy.sim
def _copy_sim(ctx, input_a, input_b):
    return _cast(input_a, ctx.in_specs["input_a"].dtype, ctx.out_spec.dtype)


copy.cost_rule = static_cost


# ------------------------------------------------------------------------------------------ memory configs
def _same_shape_blocks(node, in_specs) -> list[Axis]:
    """Row blocks of the simulator: a copy with the input's shape is independent over every dim but the last."""
    out = node.outs[0]
    if len(in_specs) != 1 or in_specs[0].shape != out.shape:
        return []
    return [Axis(d, (d,)) for d in range(out.rank - 1) if out.shape[d] > 1]


@register_op("to_memory_config", Group.DATA_MOVEMENT, traits=Traits(block=_same_shape_blocks))
def to_memory_config(tensor, memory_config, dtype=None, output_tensor=None):
    """Move between DRAM and L1, interleaved and sharded; returns the input when the config already matches."""


@to_memory_config.spec
def _to_memory_config_spec(tensor, memory_config, dtype=None, output_tensor=None):
    s = need_spec("to_memory_config", "tensor", tensor)
    if not isinstance(memory_config, MemoryConfig):
        raise fail(
            "to_memory_config", f"argument 'memory_config' must be a ttnn.MemoryConfig, got {memory_config!r}"
        )
    need_dtype_arg("to_memory_config", dtype)
    if memory_config == s.memory_config:
        return s  # ttnn returns the tensor itself (dtype is then ignored)
    return _recast_spec("to_memory_config", s, dtype, memory_config)


@to_memory_config.sim
def _to_memory_config_sim(ctx, tensor, **_):
    return _cast(tensor, ctx.in_specs["tensor"].dtype, ctx.out_spec.dtype)


def _to_memory_config_launches(tensor, memory_config, **_):
    return 0 if memory_config == tensor.memory_config else 1  # one copy / (un)shard / reshard kernel


with_launch_rule(to_memory_config, _to_memory_config_launches)


def _grid_set(op: str, grid) -> CoreRangeSet:
    if isinstance(grid, CoreRangeSet):
        return grid
    if isinstance(grid, CoreRange):
        return CoreRangeSet([grid])
    if isinstance(grid, CoreCoord):
        return CoreRangeSet([CoreRange(CoreCoord(0, 0), CoreCoord(grid.x - 1, grid.y - 1))])
    if isinstance(grid, CoreGrid):
        return CoreRangeSet([CoreRange(CoreCoord(0, 0), CoreCoord(grid.x - 1, grid.y - 1))])
    raise fail(
        op, f"argument 'grid' must be a ttnn.CoreCoord (grid size), CoreGrid or CoreRangeSet, got {grid!r}"
    )


def _i2s_config(
    *, grid, shard_shape, shard_scheme, shard_orientation, output_dtype, sharded_memory_config, **_
):
    """Both ttnn overloads: (grid, shard_shape, shard_scheme, shard_orientation) or a sharded MemoryConfig."""
    op = "interleaved_to_sharded"
    if isinstance(grid, MemoryConfig):  # positional sharded_memory_config; output_dtype may follow it
        if isinstance(shard_shape, DataType) and output_dtype is None:
            output_dtype = shard_shape
        elif shard_shape is not None:
            raise fail(op, f"argument 'output_dtype' must be a ttnn.DataType, got {shard_shape!r}")
        return grid, output_dtype
    if sharded_memory_config is not None:
        if not isinstance(sharded_memory_config, MemoryConfig):
            raise fail(
                op,
                f"argument 'sharded_memory_config' must be a ttnn.MemoryConfig, got "
                f"{sharded_memory_config!r}",
            )
        return sharded_memory_config, output_dtype
    if grid is None:
        raise fail(
            op,
            "pass either 'sharded_memory_config' or 'grid', 'shard_shape', 'shard_scheme' and "
            "'shard_orientation'",
        )
    shape = (
        int_list(op, "shard_shape", shard_shape, allow_neg=False)
        if isinstance(shard_shape, list | tuple)
        else ()
    )
    if len(shape) != 2:
        raise fail(op, f"argument 'shard_shape' must be [height, width], got {shard_shape!r}")
    if not isinstance(shard_scheme, TensorMemoryLayout) or shard_scheme is TensorMemoryLayout.INTERLEAVED:
        raise fail(
            op, f"argument 'shard_scheme' must be a sharded ttnn.TensorMemoryLayout, got {shard_scheme!r}"
        )
    if not isinstance(shard_orientation, ShardOrientation):
        raise fail(
            op, f"argument 'shard_orientation' must be a ttnn.ShardOrientation, got {shard_orientation!r}"
        )
    ss = ShardSpec(_grid_set(op, grid), shape, shard_orientation)
    return MemoryConfig(shard_scheme, BufferType.L1, ss), output_dtype


@register_op("interleaved_to_sharded", Group.DATA_MOVEMENT)
def interleaved_to_sharded(
    input_tensor,
    grid=None,
    shard_shape=None,
    shard_scheme=None,
    shard_orientation=None,
    output_dtype=None,
    *,
    sharded_memory_config=None,
    keep_l1_aligned=False,
    preallocated_output=None,
):
    """Shard an interleaved tensor over a core grid (give a sharded MemoryConfig or grid + shard shape)."""


@interleaved_to_sharded.spec
def _i2s_spec(input_tensor, **kw):
    op = "interleaved_to_sharded"
    s = need_spec(op, "input_tensor", input_tensor)
    mc, out_dtype = _i2s_config(**kw)
    if s.memory_config.is_sharded():
        raise fail(
            op,
            f"argument 'input_tensor' is already {s.memory_config.memory_layout.value}; use ttnn.reshard "
            "or ttnn.to_memory_config",
        )
    if not mc.is_sharded():
        raise fail(op, f"argument 'sharded_memory_config' must be sharded, got {mc!r}")
    need_dtype_arg(op, out_dtype)
    out_dtype = out_dtype or s.dtype
    check_dtype_layout(op, "output_dtype", out_dtype, s.layout)
    check_sharded(op, "sharded_memory_config", s.shape, s.layout, mc)
    return TensorSpec(s.shape, out_dtype, s.layout, mc)


@register_op("sharded_to_interleaved", Group.DATA_MOVEMENT)
def sharded_to_interleaved(input_tensor, memory_config=None, output_dtype=None):
    """Gather a sharded tensor into an interleaved one (DRAM unless `memory_config` says L1)."""


@sharded_to_interleaved.spec
def _s2i_spec(input_tensor, memory_config=None, output_dtype=None):
    op = "sharded_to_interleaved"
    s = need_spec(op, "input_tensor", input_tensor)
    need_memory_config(op, memory_config)
    need_dtype_arg(op, output_dtype)
    if not s.memory_config.is_sharded():
        raise fail(op, "argument 'input_tensor' must be sharded; it is interleaved")
    mc = memory_config or DRAM_MEMORY_CONFIG
    if mc.is_sharded():
        raise fail(op, f"argument 'memory_config' must be interleaved, got {mc!r}")
    out_dtype = output_dtype or s.dtype
    check_dtype_layout(op, "output_dtype", out_dtype, s.layout)
    return TensorSpec(s.shape, out_dtype, s.layout, mc)


@register_op("reshard", Group.DATA_MOVEMENT)
def reshard(input_tensor, output_memory_config, output_tensor=None):
    """Move a sharded tensor to another sharded memory config."""


@reshard.spec
def _reshard_spec(input_tensor, output_memory_config, output_tensor=None):
    s = need_spec("reshard", "input_tensor", input_tensor)
    if not s.memory_config.is_sharded():
        raise fail("reshard", "argument 'input_tensor' must be sharded; use ttnn.interleaved_to_sharded")
    if not isinstance(output_memory_config, MemoryConfig) or not output_memory_config.is_sharded():
        raise fail(
            "reshard",
            f"argument 'output_memory_config' must be a sharded ttnn.MemoryConfig, got "
            f"{output_memory_config!r}",
        )
    check_sharded("reshard", "output_memory_config", s.shape, s.layout, output_memory_config)
    return s.replace(memory_config=output_memory_config)


for _op in (interleaved_to_sharded, sharded_to_interleaved, reshard):
    _op.sim(
        lambda ctx, input_tensor, **_: _cast(
            input_tensor, ctx.in_specs["input_tensor"].dtype, ctx.out_spec.dtype
        )
    )
    _op.cost_rule = static_cost


@register_op("reallocate", Group.MEMORY, traits=Traits(consumes="tensor"))  # ttnn.move frees its input
def reallocate(tensor, memory_config=None):
    """Copy into a fresh allocation and free the input (defragments L1)."""


@reallocate.spec
def _reallocate_spec(tensor, memory_config=None):
    s = need_spec("reallocate", "tensor", tensor)
    mc = out_memory_config("reallocate", memory_config, s.memory_config, s.shape, s.layout)
    return s.replace(memory_config=mc)


@reallocate.sim
def _reallocate_sim(ctx, tensor, **_):
    return tensor


reallocate.cost_rule = static_cost


@register_op("move", Group.MEMORY, traits=Traits(consumes="input_tensor"))
def move(input_tensor, *, memory_config=None):
    """Move the tensor to a new buffer (in `memory_config`, default the input's) and free the input."""


@move.spec
def _move_spec(input_tensor, *, memory_config=None):
    return _reallocate_spec(input_tensor, memory_config)


@move.sim
def _move_sim(ctx, input_tensor, **_):
    return input_tensor


move.cost_rule = static_cost


def create_sharded_memory_config(
    shape, core_grid, strategy, orientation=None, use_height_and_width_as_shard_shape=False
) -> MemoryConfig:
    """An L1 sharded MemoryConfig for a tensor of `shape` over `core_grid`, as `ttnn.create_sharded_memory_config`.

    Without `use_height_and_width_as_shard_shape` the tensor is viewed as [prod(leading dims), W] and the grid
    must divide it evenly: HEIGHT [H/cores, W], WIDTH [H, W/cores], BLOCK [H/grid.y, W/grid.x] (COL_MAJOR
    orientation swaps grid.x and grid.y). With the flag, the last two dims are the shard shape.
    """
    op = "create_sharded_memory_config"
    if not isinstance(shape, list | tuple) or len(shape) < 2:
        raise fail(op, f"argument 'shape' must be a list of at least two ints, got {shape!r}")
    shape = int_list(op, "shape", shape, allow_neg=False)
    layouts = {
        ShardStrategy.HEIGHT: TensorMemoryLayout.HEIGHT_SHARDED,
        ShardStrategy.WIDTH: TensorMemoryLayout.WIDTH_SHARDED,
        ShardStrategy.BLOCK: TensorMemoryLayout.BLOCK_SHARDED,
    }
    if strategy not in layouts:
        raise fail(op, f"argument 'strategy' must be a ttnn.ShardStrategy, got {strategy!r}")
    orientation = ShardOrientation.ROW_MAJOR if orientation is None else orientation
    if not isinstance(orientation, ShardOrientation):
        raise fail(op, f"argument 'orientation' must be a ttnn.ShardOrientation, got {orientation!r}")
    if isinstance(core_grid, CoreGrid):
        grid = CoreRangeSet([CoreRange(CoreCoord(0, 0), CoreCoord(core_grid.x - 1, core_grid.y - 1))])
    elif (
        isinstance(core_grid, list | tuple)
        and len(core_grid) == 2
        and all(isinstance(g, CoreGrid) for g in core_grid)
    ):
        a, b = core_grid
        grid = CoreRangeSet(
            [
                CoreRange(CoreCoord(0, 0), CoreCoord(a.x - 1, a.y - 1)),
                CoreRange(CoreCoord(0, a.y), CoreCoord(b.x - 1, a.y)),
            ]
        )
    elif isinstance(core_grid, CoreRangeSet):
        grid = core_grid
    else:
        raise fail(op, f"argument 'core_grid' must be a ttnn.CoreGrid or CoreRangeSet, got {core_grid!r}")
    *batch, h, w = shape
    if use_height_and_width_as_shard_shape:
        shard = (h, w) if orientation is ShardOrientation.ROW_MAJOR else (w, h)
    else:
        if not isinstance(core_grid, CoreGrid):
            raise fail(
                op,
                "argument 'core_grid' must be a ttnn.CoreGrid unless use_height_and_width_as_shard_shape"
                "=True (the shard shape is derived from the grid)",
            )
        hh = math.prod(batch) * h
        if strategy is ShardStrategy.BLOCK:
            gy, gx = (
                (core_grid.y, core_grid.x)
                if orientation is ShardOrientation.ROW_MAJOR
                else (core_grid.x, core_grid.y)
            )
            parts = (gy, gx)
        elif strategy is ShardStrategy.HEIGHT:
            parts = (core_grid.num_cores, 1)
        else:
            parts = (1, core_grid.num_cores)
        if hh % parts[0] or w % parts[1]:
            raise fail(
                op,
                f"argument 'core_grid'={core_grid!r} does not divide the tensor viewed as [{hh}, {w}] "
                f"into {parts[0]}x{parts[1]} {strategy.value} shards",
            )
        shard = (hh // parts[0], w // parts[1])
    return MemoryConfig(layouts[strategy], BufferType.L1, ShardSpec(grid, shard, orientation))


# -------------------------------------------------------------------------------------------- upsample
# ttnn.upsample (ttnn 0.81.1): input [N, H, W, C]; scale_factor an int/float or [sh, sw]; mode "nearest" or
# "bilinear" (integer scales, BF16). Facts from tt-metal ttnn/cpp/ttnn/operations/pool/upsample/upsample.cpp and
# device/upsample_device_operation.cpp: output [N, floor(H*sh), floor(W*sw), C], always ROW_MAJOR, dtype the
# input's (BFLOAT8_B -> BFLOAT16), memory config the input's by default; a TILE input must be tile aligned.
# Nearest source index: integer scales dst // s; other scales (upsample_nearest_float_program_factory.cpp and
# its reader kernel) (dst * ceil(float32(1/s) * 2^16)) >> 16, clamped to the input size. ttfuse models
# "nearest" on interleaved inputs and on height-sharded inputs with integer scales (shard height * sh * sw).
_UPSAMPLE_DTYPES = frozenset({DataType.BFLOAT16, DataType.FLOAT32, DataType.BFLOAT8_B})


def _upsample_scales(op: str, scale_factor) -> tuple[float, float]:
    sf = scale_factor
    if isinstance(sf, list | tuple):
        if len(sf) != 2:
            raise fail(op, f"argument 'scale_factor' must be a number or [scale_h, scale_w], got {sf!r}")
        vals = tuple(sf)
    else:
        vals = (sf, sf)
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and v > 0 for v in vals):
        raise fail(op, f"argument 'scale_factor' must hold positive numbers, got {scale_factor!r}")
    return vals


def _is_int_scale(v) -> bool:
    return float(v).is_integer()


def upsample_source_index(out_size: int, in_size: int, scale) -> torch.Tensor:
    """The input row (or column) each output row reads, as the device computes it (see above)."""
    dst = torch.arange(out_size, dtype=torch.int64)
    if _is_int_scale(scale):
        src = dst // int(scale)
    else:
        recip = torch.tensor(1.0, dtype=torch.float32) / torch.tensor(float(scale), dtype=torch.float32)
        fixed = int(torch.ceil(recip * torch.tensor(65536.0, dtype=torch.float32)).item())
        src = (dst * fixed) >> 16
    return src.clamp(max=in_size - 1)


@register_op("upsample", Group.DATA_MOVEMENT)
def upsample(input_tensor, scale_factor, *, mode="nearest", memory_config=None, compute_kernel_config=None):
    """Nearest-neighbour upsampling of an [N, H, W, C] tensor by scale_factor along H and W."""


@upsample.spec
def _upsample_spec(input_tensor, scale_factor, *, mode, memory_config, compute_kernel_config):
    op = "upsample"
    x = need_spec(op, "input_tensor", input_tensor)
    need_dtype(op, "input_tensor", x, _UPSAMPLE_DTYPES)
    if x.rank != 4:
        raise fail(op, f"argument 'input_tensor' must be 4-D [N, H, W, C], got {list(x.shape)}")
    sh, sw = _upsample_scales(op, scale_factor)
    if mode not in ("nearest", "bilinear"):
        raise fail(op, f"argument 'mode' must be 'nearest' or 'bilinear', got {mode!r}")
    if mode == "bilinear":
        if not (_is_int_scale(sh) and _is_int_scale(sw)):
            raise fail(op, f"argument 'scale_factor'={scale_factor!r}: mode='bilinear' needs integer scales")
        raise fail(op, "argument 'mode'='bilinear' is not modelled by ttfuse yet (use 'nearest')")
    if x.layout is Layout.TILE and tuple(x.padded_shape) != tuple(x.shape):
        raise fail(
            op,
            f"argument 'input_tensor' is TILE with padding ({list(x.shape)} padded to {list(x.padded_shape)}); "
            "a tiled input must be tile aligned (W and C multiples of 32) or ROW_MAJOR",
        )
    need_memory_config(op, memory_config)
    n, h, w, c = x.shape
    oh, ow = math.floor(h * sh), math.floor(w * sw)
    if oh < 1 or ow < 1:
        raise fail(op, f"argument 'scale_factor'={scale_factor!r} gives an empty output ({oh}x{ow})")
    mc = memory_config or x.memory_config
    if mc.is_sharded():
        xs = x.memory_config
        if not xs.is_sharded():
            raise fail(
                op, "argument 'memory_config' is sharded but the input is not; ttnn needs a sharded input"
            )
        if (
            xs.memory_layout is not TensorMemoryLayout.HEIGHT_SHARDED
            or not (_is_int_scale(sh) and _is_int_scale(sw))
            or xs.shard_spec is None
        ):
            raise fail(
                op,
                f"argument 'input_tensor' is {xs.short}: ttfuse models sharded upsample only for height-sharded "
                "inputs with integer scales",
            )
        sp = xs.shard_spec
        shard = (sp.shape[0] * int(sh) * int(sw), sp.shape[1])
        mc = MemoryConfig(
            TensorMemoryLayout.HEIGHT_SHARDED, BufferType.L1, ShardSpec(sp.grid, shard, sp.orientation)
        )
    dtype = DataType.BFLOAT16 if x.dtype is DataType.BFLOAT8_B else x.dtype
    return TensorSpec((n, oh, ow, c), dtype, Layout.ROW_MAJOR, mc)


@upsample.sim
def _upsample_sim(ctx, input_tensor, scale_factor, *, mode, **_):
    sh, sw = _upsample_scales("upsample", scale_factor)
    n, h, w, c = input_tensor.shape
    ih = upsample_source_index(math.floor(h * sh), h, sh)
    iw = upsample_source_index(math.floor(w * sw), w, sw)
    return input_tensor[:, ih][:, :, iw]


upsample.cost(static_cost)
