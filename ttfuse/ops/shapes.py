"""Shape ops: reshape/view/squeeze/unsqueeze, permute/transpose, slice, concat/split/chunk, pad, repeat/expand,
experimental.broadcast_to.

Companion of ttfuse/ops/data_movement.py, which holds the zero-cost machinery (`with_launch_rule`) and the
argument checks these ops share. Sim rules are exact torch reshapes, permutes, slices and concatenations.

Launch counts follow ttnn's composite implementations: reshape is free when ttnn takes its view path
(`_is_view`: last dim kept and, tiled, the second-last dim kept or tile-aligned on both sides); identity
permutes/slices/one-tensor concats/repeat-by-ones return the input; split and chunk launch one slice per
piece; repeat launches one kernel per repeated dim (plus a tilize/untilize pair when a TILE input is not
tile-aligned).

Invariants: spec rules never look at values; out-of-range dims, shape mismatches and unsupported
dtype/layout combinations raise SpecError naming the op and the argument.

Extend: add the op here with spec + sim rules; wrap it with `with_launch_rule` if some calls are free or
launch more than one kernel; test it in tests/test_ops_data_movement.py.
"""

from __future__ import annotations

import builtins
import math

import torch
import torch.nn.functional as F

from ttfuse.axes import Axis
from ttfuse.opdef import CostCtx, Group, OpCost, Traits, register_op
from ttfuse.ops.common import fail, need_memory_config, need_spec, norm_dim
from ttfuse.ops.data_movement import (
    MAX_RANK,
    TILE,
    int_list,
    movement_cost,
    out_memory_config,
    static_cost,
    with_launch_rule,
)
from ttfuse.types import BufferType, DataType, Layout, MemoryConfig, TensorSpec


# ------------------------------------------------------------------------------------------ reshapes
def _infer_shape(op: str, arg: str, s: TensorSpec, shape) -> tuple[int, ...]:
    shape = int_list(op, arg, shape)
    if shape.count(-1) > 1:
        raise fail(op, f"argument {arg!r}={list(shape)}: only one dimension can be -1")
    if any(d < -1 for d in shape):
        raise fail(op, f"argument {arg!r}={list(shape)} has a negative dimension")
    if len(shape) > MAX_RANK:
        raise fail(op, f"argument {arg!r}={list(shape)}: ttnn tensors have rank at most {MAX_RANK}")
    known = math.prod(d for d in shape if d != -1)
    if -1 in shape:
        if known == 0 or s.numel % known:
            raise fail(
                op,
                f"argument {arg!r}={list(shape)}: cannot infer the -1 dimension for a tensor of shape "
                f"{list(s.shape)}",
            )
        shape = tuple(s.numel // known if d == -1 else d for d in shape)
    if math.prod(shape) != s.numel:
        raise fail(
            op,
            f"argument {arg!r}={list(shape)} has {math.prod(shape)} elements but the input "
            f"{list(s.shape)} has {s.numel}",
        )
    return shape


def _last2(shape: tuple) -> tuple[int, int]:
    return (shape[-2] if len(shape) >= 2 else 1), (shape[-1] if shape else 1)


def _is_view(s: TensorSpec, shape: tuple, mc: MemoryConfig | None = None) -> bool:
    """ttnn's zero-cost reshape: last dim kept and, when tiled, the second-last kept or tile-aligned on both
    sides; same sharded-ness and L1-ness of the memory config (tt-metal
    ttnn/cpp/ttnn/operations/data_movement/reshape_view/reshape.cpp, `this_is_view` -> PerformView). A reshape
    given another placement than its input's is a copy: place_memory never gives a view one."""
    mc = mc or s.memory_config
    if tuple(shape) == tuple(s.shape):
        return True
    if mc.is_sharded() != s.memory_config.is_sharded() or (mc.buffer_type is BufferType.L1) != (
        s.buffer_type is BufferType.L1
    ):
        return False
    (h_in, w_in), (h_out, w_out) = _last2(tuple(s.shape)), _last2(tuple(shape))
    if w_in != w_out:
        return False
    return s.layout is Layout.ROW_MAJOR or h_in == h_out or (h_in % TILE == 0 and h_out % TILE == 0)


def _reshape_out(op: str, s: TensorSpec, new: tuple, memory_config) -> TensorSpec:
    if _is_view(s, new, memory_config):
        return s.replace(shape=new)  # a view keeps the input's memory config
    mc = out_memory_config(op, memory_config, s.memory_config, new, s.layout)
    return TensorSpec(new, s.dtype, s.layout, mc)


def _reshape_kernel_launches(s: TensorSpec, new: tuple, memory_config) -> int:
    if _is_view(s, new, memory_config):
        return 0
    mc = memory_config or s.memory_config
    n = 1
    if s.layout is Layout.TILE and s.dtype is DataType.BFLOAT8_B:
        n += 2  # typecast to bfloat16 and back around the tiled reshape kernel
    return n + s.memory_config.is_sharded() + mc.is_sharded()  # via interleaved when sharded


def _reshape_blocks(node, in_specs) -> list[Axis]:
    """Row blocks of the simulator for reshape/view: output dim d and input dim k hold the same rows when the dims
    before them flatten to the same count and the two extents are equal (then every slice of k is the same
    memory range as a slice of d)."""
    src, out = in_specs[0].shape, node.outs[0].shape
    axes = []
    for d in range(len(out) - 1):
        lead = math.prod(out[:d])
        for k in range(len(src) - 1):
            if src[k] == out[d] > 1 and math.prod(src[:k]) == lead:
                axes.append(Axis(d, (k,) + (None,) * (len(in_specs) - 1)))
                break
    return axes


@register_op("reshape", Group.DATA_MOVEMENT, traits=Traits(host_ok=True, block=_reshape_blocks))
def reshape(
    input_tensor,
    shape,
    *,
    memory_config=None,
    pad_value=None,
    reshape_tile_mode=None,
    sub_core_grids=None,
    skip_padding_fill=False,
):
    """Reshape (one dim may be -1); a zero-cost view when the last dim is kept and tiles stay aligned."""


@reshape.spec
def _reshape_spec(input_tensor, shape, *, memory_config=None, **_):
    s = need_spec("reshape", "input_tensor", input_tensor)
    need_memory_config("reshape", memory_config)
    return _reshape_out("reshape", s, _infer_shape("reshape", "shape", s, shape), memory_config)


def _reshape_launches(input_tensor, shape, *, memory_config=None, **_):
    return _reshape_kernel_launches(
        input_tensor, _infer_shape("reshape", "shape", input_tensor, shape), memory_config
    )


@register_op("view", Group.DATA_MOVEMENT, launches=0, traits=Traits(block=_reshape_blocks))
def view(input_tensor, shape):
    """Zero-cost reshape of a device tensor; the last dim (and tiled, the second-last alignment) must hold."""


@view.spec
def _view_spec(input_tensor, shape):
    s = need_spec("view", "input_tensor", input_tensor)
    new = _infer_shape("view", "shape", s, shape)
    (h_in, w_in), (h_out, w_out) = _last2(tuple(s.shape)), _last2(new)
    if w_in != w_out:
        raise fail(
            "view",
            f"argument 'shape'={list(new)} changes the last dimension from {w_in} to {w_out}; use "
            "ttnn.reshape",
        )
    if not _is_view(s, new):
        raise fail(
            "view",
            f"argument 'shape'={list(new)} changes the second-last dimension of a TILE tensor from "
            f"{h_in} to {h_out} across tile padding; use ttnn.reshape",
        )
    return s.replace(shape=new)


@register_op("squeeze", Group.DATA_MOVEMENT, traits=Traits(host_ok=True))
def squeeze(input_tensor, dim=None):
    """Remove size-1 dims (all of them, one, or a list; dims of other sizes are left alone)."""


def _squeezed(input_tensor, dim) -> tuple[TensorSpec, tuple]:
    s = need_spec("squeeze", "input_tensor", input_tensor)
    rank = s.rank
    if dim is None:
        dims = range(rank)
    elif isinstance(dim, int) and not isinstance(dim, bool):
        dims = [norm_dim("squeeze", dim, rank)]
    else:
        dims = [norm_dim("squeeze", d, rank) for d in int_list("squeeze", "dim", dim)]
    drop = {d for d in dims if s.shape[d] == 1}
    return s, tuple(d for i, d in enumerate(s.shape) if i not in drop)


@squeeze.spec
def _squeeze_spec(input_tensor, dim=None):
    s, new = _squeezed(input_tensor, dim)
    return _reshape_out("squeeze", s, new, None)


def _squeeze_launches(input_tensor, dim=None):
    s, new = _squeezed(input_tensor, dim)
    return _reshape_kernel_launches(s, new, None)


@register_op("unsqueeze", Group.DATA_MOVEMENT, traits=Traits(host_ok=True))
def unsqueeze(input_tensor, dim):
    """Insert a size-1 dim at `dim` (in [-rank-1, rank])."""


def _unsqueezed(input_tensor, dim) -> tuple[TensorSpec, tuple]:
    s = need_spec("unsqueeze", "input_tensor", input_tensor)
    d = norm_dim("unsqueeze", dim, s.rank + 1)
    if s.rank + 1 > MAX_RANK:
        raise fail(
            "unsqueeze", f"argument 'input_tensor' already has rank {s.rank}; ttnn allows at most {MAX_RANK}"
        )
    return s, (*s.shape[:d], 1, *s.shape[d:])


@unsqueeze.spec
def _unsqueeze_spec(input_tensor, dim):
    s, new = _unsqueezed(input_tensor, dim)
    return _reshape_out("unsqueeze", s, new, None)


def _unsqueeze_launches(input_tensor, dim):
    s, new = _unsqueezed(input_tensor, dim)
    return _reshape_kernel_launches(s, new, None)


def _reshape_sim(ctx, input_tensor, **_):
    return input_tensor.reshape(tuple(ctx.out_spec.shape))


for _op, _rule in (
    (reshape, _reshape_launches),
    (view, lambda **_: 0),
    (squeeze, _squeeze_launches),
    (unsqueeze, _unsqueeze_launches),
):
    _op.sim(_reshape_sim)
    with_launch_rule(_op, _rule)


# ------------------------------------------------------------------------------------------ permutes
def _perm(op: str, s: TensorSpec, dims) -> tuple[int, ...]:
    dims = int_list(op, "dims", dims)
    if len(dims) != s.rank:
        raise fail(op, f"argument 'dims'={list(dims)} has {len(dims)} entries for a rank-{s.rank} tensor")
    dims = tuple(norm_dim(op, d, s.rank, "dims") for d in dims)
    if sorted(dims) != list(range(s.rank)):
        raise fail(op, f"argument 'dims'={list(dims)} is not a permutation of the {s.rank} dims")
    return dims


def _permute_is_nop(s: TensorSpec, dims: tuple) -> bool:
    """ttnn's is_permute_nop: identity, or only size-1 dims move and the tile/row layout is untouched."""
    rank = s.rank
    if rank <= 1 or dims == tuple(range(rank)):
        return True
    if s.layout is Layout.TILE and (dims[-1] != rank - 1 or dims[-2] != rank - 2):
        return False
    if s.layout is Layout.ROW_MAJOR and dims[-1] != rank - 1:
        return False
    return all(i == j or s.shape[i] == 1 for i, j in enumerate(dims)) and tuple(
        s.shape[d] for d in dims
    ) == tuple(s.shape)


def _permute_blocks(node, in_specs) -> list[Axis]:
    """Row blocks of the simulator: every output dim but the last that does not come from the input's last."""
    dims = [int(x) % node.outs[0].rank for x in node.attr("dims")]
    last = node.outs[0].rank - 1
    return [
        Axis(d, (dims[d],))
        for d in range(len(dims))
        if d != last and dims[d] != last and node.outs[0].shape[d] > 1
    ]


@register_op("permute", Group.DATA_MOVEMENT, traits=Traits(block=_permute_blocks))
def permute(input_tensor, dims, pad_value=0.0, *, memory_config=None):
    """Reorder dims (`dims` a permutation, negatives allowed); identity permutes return the input."""


@permute.spec
def _permute_spec(input_tensor, dims, pad_value=0.0, *, memory_config=None):
    s = need_spec("permute", "input_tensor", input_tensor)
    dims = _perm("permute", s, dims)
    new = tuple(s.shape[d] for d in dims)
    if _permute_is_nop(s, dims) and memory_config in (None, s.memory_config):
        return s
    mc = out_memory_config("permute", memory_config, s.memory_config, new, s.layout)
    return TensorSpec(new, s.dtype, s.layout, mc)


@permute.sim
def _permute_sim(ctx, input_tensor, dims, **_):
    dims = [d % input_tensor.dim() for d in dims]
    return input_tensor.permute(dims).contiguous()


def _permute_launches(input_tensor, dims, pad_value=0.0, *, memory_config=None):
    s, dims = input_tensor, _perm("permute", input_tensor, dims)
    if _permute_is_nop(s, dims):
        return 0 if memory_config in (None, s.memory_config) else 1
    dims4 = tuple(range(4 - s.rank)) + tuple(d + 4 - s.rank for d in dims) if s.rank < 4 else dims
    bf8_native = dims4 in ((0, 1, 3, 2), (1, 0, 2, 3), (1, 0, 3, 2))
    if s.dtype is DataType.BFLOAT8_B and s.rank <= 4 and not bf8_native and not s.memory_config.is_sharded():
        return 3  # typecast to bfloat16, permute, typecast back
    return 1


with_launch_rule(permute, _permute_launches)


@register_op("transpose", Group.DATA_MOVEMENT)
def transpose(input_tensor, dim1, dim2, pad_value=0.0, *, memory_config=None):
    """Swap two dims; the same dim twice returns the input."""


@transpose.spec
def _transpose_spec(input_tensor, dim1, dim2, pad_value=0.0, *, memory_config=None):
    s = need_spec("transpose", "input_tensor", input_tensor)
    a, b = norm_dim("transpose", dim1, s.rank, "dim1"), norm_dim("transpose", dim2, s.rank, "dim2")
    if a == b:
        return s
    new = list(s.shape)
    new[a], new[b] = new[b], new[a]
    mc = out_memory_config("transpose", memory_config, s.memory_config, tuple(new), s.layout)
    return TensorSpec(tuple(new), s.dtype, s.layout, mc)


@transpose.sim
def _transpose_sim(ctx, input_tensor, dim1, dim2, **_):
    return input_tensor.transpose(dim1, dim2).contiguous()


def _transpose_launches(input_tensor, dim1, dim2, **_):
    return 0 if dim1 % input_tensor.rank == dim2 % input_tensor.rank else 1


with_launch_rule(transpose, _transpose_launches)


# ------------------------------------------------------------------------------------------ slicing
def _slice_bounds(s: TensorSpec, slice_start, slice_end, slice_step):
    op, rank = "slice", s.rank
    start, end = int_list(op, "slice_start", slice_start), int_list(op, "slice_end", slice_end)
    step = (1,) * rank if slice_step is None else int_list(op, "slice_step", slice_step)
    for arg, v in (("slice_start", start), ("slice_end", end), ("slice_step", step)):
        if len(v) != rank:
            raise fail(op, f"argument {arg!r}={list(v)} needs one entry per dim of the rank-{rank} tensor")
    if any(st <= 0 for st in step):
        raise fail(op, f"argument 'slice_step'={list(step)} must be positive")
    if s.dtype is DataType.BFLOAT8_B and any(st != 1 for st in step):
        raise fail(op, "argument 'slice_step': strided slicing is not supported for bfloat8_b tensors")
    out = []
    for i, (b, e, n) in enumerate(zip(start, end, s.shape)):
        b, e = b + n if b < 0 else b, e + n if e < 0 else e
        if not 0 <= b < n:
            raise fail(
                op,
                f"argument 'slice_start'={list(start)}: index {start[i]} is out of range for dim {i} of "
                f"size {n}",
            )
        if not b < e <= n:
            raise fail(
                op,
                f"argument 'slice_end'={list(end)}: end {end[i]} of dim {i} (size {n}) must be in "
                f"({b}, {n}] (empty slices are not supported)",
            )
        out.append((b, e))
    return out, step


@register_op("slice", Group.DATA_MOVEMENT)
def slice(
    input_tensor,
    slice_start,
    slice_end,
    slice_step=None,
    *,
    memory_config=None,
    output_tensor=None,
    pad_value=None,
    sub_core_grids=None,
):
    """Slice [start, end) with positive steps along every dim (negative indices count from the end)."""


@slice.spec
def _slice_spec(
    input_tensor, slice_start, slice_end, slice_step=None, *, memory_config=None, output_tensor=None, **_
):
    s = need_spec("slice", "input_tensor", input_tensor)
    bounds, step = _slice_bounds(s, slice_start, slice_end, slice_step)
    new = tuple(-(-(e - b) // st) for (b, e), st in zip(bounds, step))
    if new == tuple(s.shape) and memory_config in (None, s.memory_config):
        return s
    mc = out_memory_config("slice", memory_config, s.memory_config, new, s.layout)
    return TensorSpec(new, s.dtype, s.layout, mc)


@slice.sim
def _slice_sim(ctx, input_tensor, slice_start, slice_end, slice_step=None, **_):
    bounds, step = _slice_bounds(ctx.in_specs["input_tensor"], slice_start, slice_end, slice_step)
    return input_tensor[tuple(builtins.slice(b, e, st) for (b, e), st in zip(bounds, step))].contiguous()


def _slice_launches(input_tensor, slice_start, slice_end, slice_step=None, *, memory_config=None, **_):
    bounds, step = _slice_bounds(input_tensor, slice_start, slice_end, slice_step)
    full = all(b == 0 and e == n for (b, e), n in zip(bounds, input_tensor.shape)) and all(
        st == 1 for st in step
    )
    return 0 if full and memory_config in (None, input_tensor.memory_config) else 1


with_launch_rule(slice, _slice_launches)


def _slice_cost(ctx: CostCtx) -> OpCost:
    """Like any data movement, except that it reads only the region it copies: the output's extent at the
    input's placement and format (not the whole input)."""
    region = ctx.in_specs["input_tensor"].replace(shape=ctx.out_specs[0].shape)
    ins = {**ctx.in_specs, "input_tensor": region}
    return movement_cost(
        CostCtx(ctx.op, ins, ctx.out_specs, ctx.args, ctx.device_spec), _slice_launches(**ctx.args)
    )


slice.cost_rule = _slice_cost


# ------------------------------------------------------------------------------------------ joining, splitting
@register_op("concat", Group.DATA_MOVEMENT)
def concat(tensors, dim=0, *, memory_config=None, output_tensor=None, groups=1, sub_core_grids=None):
    """Concatenate tensors of one rank, dtype and layout along `dim` (other dims must match)."""


def _concat_dim(tensors, dim) -> tuple[list[TensorSpec], int]:
    op = "concat"
    if not isinstance(tensors, list | tuple) or not tensors:
        raise fail(op, f"argument 'tensors' must be a non-empty list of ttnn.Tensor, got {tensors!r}")
    specs = [need_spec(op, f"tensors[{i}]", t) for i, t in enumerate(tensors)]
    s0 = specs[0]
    d = norm_dim(op, dim, s0.rank)
    for i, s in enumerate(specs[1:], 1):
        if s.rank != s0.rank:
            raise fail(op, f"argument 'tensors[{i}]' has rank {s.rank} but tensors[0] has rank {s0.rank}")
        if s.dtype is not s0.dtype or s.layout is not s0.layout:
            raise fail(
                op,
                f"argument 'tensors[{i}]' is {s.dtype!r}/{s.layout!r} but tensors[0] is "
                f"{s0.dtype!r}/{s0.layout!r}; all inputs need one dtype and layout",
            )
        if any(a != b for j, (a, b) in enumerate(zip(s.shape, s0.shape)) if j != d):
            raise fail(
                op,
                f"argument 'tensors[{i}]' has shape {list(s.shape)}, which differs from tensors[0] "
                f"{list(s0.shape)} outside dim {d}",
            )
    return specs, d


@concat.spec
def _concat_spec(tensors, dim=0, *, memory_config=None, output_tensor=None, groups=1, sub_core_grids=None):
    specs, d = _concat_dim(tensors, dim)
    if groups != 1:
        raise fail(
            "concat",
            f"argument 'groups'={groups!r}: only groups=1 is modelled (ttnn supports groups > 1 "
            "only for two height-sharded inputs)",
        )
    s0 = specs[0]
    if len(specs) == 1 and memory_config in (None, s0.memory_config):
        return s0
    new = list(s0.shape)
    new[d] = sum(s.shape[d] for s in specs)
    mc = out_memory_config("concat", memory_config, s0.memory_config, tuple(new), s0.layout)
    return TensorSpec(tuple(new), s0.dtype, s0.layout, mc)


@concat.sim
def _concat_sim(ctx, tensors, dim=0, **_):
    return torch.cat(list(tensors), dim=dim % tensors[0].dim())


def _concat_launches(tensors, dim=0, *, memory_config=None, **_):
    return 0 if len(tensors) == 1 and memory_config in (None, tensors[0].memory_config) else 1


with_launch_rule(concat, _concat_launches)


def _split_sizes(op: str, s: TensorSpec, d: int, split_size) -> list[int]:
    n = s.shape[d]
    if n == 0:
        raise fail(op, f"argument 'dim'={d}: cannot split a zero-size dim")
    if isinstance(split_size, int) and not isinstance(split_size, bool):
        if split_size <= 0:
            raise fail(op, f"argument 'split_size'={split_size} must be positive")
        return [min(split_size, n - i) for i in range(0, n, split_size)]
    sizes = list(int_list(op, "split_size", split_size))
    if not sizes or any(x <= 0 for x in sizes):
        raise fail(op, f"argument 'split_size'={sizes} must be positive sizes")
    if sum(sizes) != n:
        raise fail(op, f"argument 'split_size'={sizes} sums to {sum(sizes)}, but dim {d} has size {n}")
    return sizes


def _pieces(s: TensorSpec, d: int, sizes: list[int], mc: MemoryConfig, op: str) -> list[TensorSpec]:
    out = []
    for k in sizes:
        shape = list(s.shape)
        shape[d] = k
        out.append(
            TensorSpec(
                tuple(shape),
                s.dtype,
                s.layout,
                out_memory_config(op, mc, s.memory_config, tuple(shape), s.layout),
            )
        )
    return out


@register_op("split", Group.DATA_MOVEMENT, launches=lambda outs, args=None: len(outs))
def split(input_tensor, split_size, dim=0, *, memory_config=None):
    """Split into pieces of `split_size` (the last may be smaller) or of the listed sizes; one slice per piece."""


@split.spec
def _split_spec(input_tensor, split_size, dim=0, *, memory_config=None):
    s = need_spec("split", "input_tensor", input_tensor)
    need_memory_config("split", memory_config)
    d = norm_dim("split", dim, s.rank)
    return _pieces(s, d, _split_sizes("split", s, d, split_size), memory_config, "split")


@split.sim
def _split_sim(ctx, input_tensor, split_size, dim=0, **_):
    d = dim % input_tensor.dim()
    return [p.contiguous() for p in torch.split(input_tensor, [o.shape[d] for o in ctx.out_spec], dim=d)]


@register_op("chunk", Group.DATA_MOVEMENT, launches=lambda outs, args=None: len(outs))
def chunk(input_tensor, chunks, dim):
    """Split into `chunks` pieces of ceil(size / chunks) (as torch.chunk: maybe fewer); one slice per piece."""


@chunk.spec
def _chunk_spec(input_tensor, chunks, dim):
    s = need_spec("chunk", "input_tensor", input_tensor)
    if not isinstance(chunks, int) or isinstance(chunks, bool) or chunks <= 0:
        raise fail("chunk", f"argument 'chunks'={chunks!r} must be a positive int")
    d = norm_dim("chunk", dim, s.rank)
    size = -(-s.shape[d] // chunks) if s.shape[d] else 0
    return _pieces(s, d, _split_sizes("chunk", s, d, max(size, 1)), None, "chunk")


@chunk.sim
def _chunk_sim(ctx, input_tensor, chunks, dim):
    d = dim % input_tensor.dim()
    return [p.contiguous() for p in torch.split(input_tensor, [o.shape[d] for o in ctx.out_spec], dim=d)]


split.cost_rule = chunk.cost_rule = static_cost


# ------------------------------------------------------------------------------------------ padding, repeats
@register_op("pad", Group.DATA_MOVEMENT)
def pad(input_tensor, padding, value, *, use_multicore=True, memory_config=None, sub_core_grids=None):
    """Pad with `value`: `padding` lists (before, after) per dim, for the trailing dims when shorter than rank."""


def _padding(s: TensorSpec, padding) -> list[tuple[int, int]]:
    op = "pad"
    if not isinstance(padding, list | tuple) or not all(
        isinstance(p, list | tuple) and len(p) == 2 for p in padding
    ):
        raise fail(op, f"argument 'padding' must be a list of (before, after) pairs, got {padding!r}")
    pairs = [tuple(int_list(op, "padding", p, allow_neg=False)) for p in padding]
    if len(pairs) > s.rank:
        raise fail(op, f"argument 'padding' has {len(pairs)} pairs for a rank-{s.rank} tensor")
    pairs = [(0, 0)] * (s.rank - len(pairs)) + pairs
    if s.layout is Layout.TILE and any(b for b, _ in pairs):
        raise fail(
            op,
            f"argument 'padding'={[list(p) for p in pairs]}: TILE-layout tensors cannot be padded at "
            "the front on device; convert to ROW_MAJOR_LAYOUT first",
        )
    return pairs


@pad.spec
def _pad_spec(input_tensor, padding, value, *, use_multicore=True, memory_config=None, sub_core_grids=None):
    s = need_spec("pad", "input_tensor", input_tensor)
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise fail("pad", f"argument 'value' must be a number, got {value!r}")
    pairs = _padding(s, padding)
    new = tuple(n + b + a for n, (b, a) in zip(s.shape, pairs))
    mc = out_memory_config("pad", memory_config, s.memory_config, new, s.layout)
    return TensorSpec(new, s.dtype, s.layout, mc)


@pad.sim
def _pad_sim(ctx, input_tensor, padding, value, **_):
    pairs = _padding(ctx.in_specs["input_tensor"], padding)
    flat = [x for b, a in reversed(pairs) for x in (b, a)]
    if not input_tensor.is_floating_point():
        value = int(value)
    return F.pad(input_tensor, flat, value=value)


pad.cost_rule = static_cost


def _reps(op: str, s: TensorSpec, reps) -> tuple[tuple, tuple]:
    """(input shape at the repetition rank, repetitions) as ttnn aligns them: the shorter is padded with 1s."""
    reps = int_list(op, "repeat_dims", reps, allow_neg=False)
    if not reps:
        raise fail(op, "argument 'repeat_dims' must not be empty")
    rank = max(len(reps), s.rank)
    if rank > MAX_RANK:
        raise fail(
            op, f"argument 'repeat_dims' has {len(reps)} entries; ttnn tensors have rank at most {MAX_RANK}"
        )
    return (1,) * (rank - s.rank) + tuple(s.shape), (1,) * (rank - len(reps)) + reps


def _repeat_kernels(s: TensorSpec, reps: tuple) -> int:
    repeated = sum(r != 1 for r in reps)
    if repeated == 0 or 0 in reps:
        return 0 if repeated == 0 else 1  # by ones: the input itself; by zero: one fill of an empty tensor
    h, w = s.shape[-2] if s.rank >= 2 else 1, s.shape[-1]
    if s.layout is Layout.TILE and not (h % TILE == 0 and w % TILE == 0):
        return repeated + 2  # untilize, repeat per dim, tilize
    return repeated


@register_op("repeat", Group.DATA_MOVEMENT)
def repeat(input_tensor, repeat_dims, *, memory_config=None, optional_output_tensor=None):
    """Tile the tensor `repeat_dims[i]` times along each dim (as torch.Tensor.repeat)."""


@repeat.spec
def _repeat_spec(input_tensor, repeat_dims, *, memory_config=None, optional_output_tensor=None):
    s = need_spec("repeat", "input_tensor", input_tensor)
    shape, reps = _reps("repeat", s, repeat_dims)
    if all(r == 1 for r in reps) and len(shape) == s.rank:
        return s
    new = tuple(n * r for n, r in zip(shape, reps))
    like = s.memory_config if not s.memory_config.is_sharded() else MemoryConfig(buffer_type=s.buffer_type)
    mc = out_memory_config("repeat", memory_config, like, new, s.layout)
    return TensorSpec(new, s.dtype, s.layout, mc)


@repeat.sim
def _repeat_sim(ctx, input_tensor, repeat_dims, **_):
    shape, reps = _reps("repeat", ctx.in_specs["input_tensor"], repeat_dims)
    return input_tensor.reshape(shape).repeat(reps)


def _repeat_launches(input_tensor, repeat_dims, **_):
    return _repeat_kernels(input_tensor, _reps("repeat", input_tensor, repeat_dims)[1])


with_launch_rule(repeat, _repeat_launches)


def _expand_target(op: str, arg: str, s: TensorSpec, output_shape, *, keep_minus_one: bool) -> tuple:
    out = int_list(op, arg, output_shape)
    if len(out) < s.rank:
        raise fail(op, f"argument {arg!r}={list(out)} has fewer dims than the rank-{s.rank} input")
    if len(out) > MAX_RANK:
        raise fail(op, f"argument {arg!r}={list(out)}: ttnn tensors have rank at most {MAX_RANK}")
    lead = len(out) - s.rank
    res = []
    for i, d in enumerate(out):
        n = s.shape[i - lead] if i >= lead else None
        if d == -1 and keep_minus_one and n is not None:
            d = n
        if d < 0 or (n is not None and n != 1 and d != n):
            raise fail(
                op,
                f"argument {arg!r}={list(out)} cannot broadcast input {list(s.shape)}: dim {i} is "
                f"{n if n is not None else 'new'} (only size-1 dims expand)",
            )
        res.append(d)
    return tuple(res)


@register_op("expand", Group.DATA_MOVEMENT)
def expand(input_tensor, output_shape, *, memory_config=None):
    """Broadcast size-1 dims to `output_shape` (-1 keeps a dim) by copying, as torch.expand does lazily."""


@expand.spec
def _expand_spec(input_tensor, output_shape, *, memory_config=None):
    s = need_spec("expand", "input_tensor", input_tensor)
    new = _expand_target("expand", "output_shape", s, output_shape, keep_minus_one=True)
    if new == tuple(s.shape) and memory_config in (None, s.memory_config):
        return s
    mc = out_memory_config("expand", memory_config, s.memory_config, new, s.layout)
    return TensorSpec(new, s.dtype, s.layout, mc)


def _expand_launches(input_tensor, output_shape, *, memory_config=None):
    new = _expand_target("expand", "output_shape", input_tensor, output_shape, keep_minus_one=True)
    lead = (1,) * (len(new) - input_tensor.rank) + tuple(input_tensor.shape)
    n = _repeat_kernels(input_tensor, tuple(o // i if i else 1 for o, i in zip(new, lead)))
    return n if n or memory_config in (None, input_tensor.memory_config) else 1


with_launch_rule(expand, _expand_launches)


@register_op("experimental.broadcast_to", Group.DATA_MOVEMENT)
def broadcast_to(input, output_shape, *, memory_config=None, output=None):
    """Broadcast size-1 dims to `output_shape` in one kernel (TILE, bfloat16/float32, rank <= 4, interleaved)."""


@broadcast_to.spec
def _broadcast_to_spec(input, output_shape, *, memory_config=None, output=None):
    op = "experimental.broadcast_to"
    s = need_spec(op, "input", input)
    if s.layout is not Layout.TILE:
        raise fail(op, f"argument 'input' must be in TILE layout, got {s.layout!r}")
    if s.dtype not in (DataType.BFLOAT16, DataType.FLOAT32):
        raise fail(op, f"argument 'input' has dtype {s.dtype.value}; supported: bfloat16, float32")
    new = _expand_target(op, "output_shape", s, output_shape, keep_minus_one=False)
    if len(new) > 4:
        raise fail(op, f"argument 'output_shape'={list(new)}: broadcast_to supports rank <= 4")
    need_memory_config(op, memory_config)
    mc = memory_config or s.memory_config
    if mc.is_sharded() or s.memory_config.is_sharded():
        raise fail(op, "argument 'memory_config': broadcast_to supports interleaved (DRAM/L1) tensors only")
    return TensorSpec(new, s.dtype, s.layout, mc)


def _expand_sim(ctx, input_tensor=None, output_shape=None, input=None, **_):
    x = input_tensor if input_tensor is not None else input
    new = tuple(ctx.out_spec.shape)
    return x.reshape((1,) * (len(new) - x.dim()) + tuple(x.shape)).expand(new).contiguous()


expand.sim(_expand_sim)
broadcast_to.sim(_expand_sim)
broadcast_to.cost_rule = static_cost
