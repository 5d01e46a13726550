"""Reductions: sum, mean, max, min, std, var (ttnn generic reductions) and argmax, with the real ttnn 0.81.1
signatures (`ttnn.sum(input_tensor, dim=None, keepdim=False, *, memory_config=None, compute_kernel_config=None,
scalar=1.0, correction=None, sub_core_grids=None, fast_and_approximate_mode=False, output_layout=None)`).

Semantics modelled (ttnn generic_reductions.cpp and the 0.81.1 docstrings):
- `dim`: int, list/tuple of ints, or None / [] for every dim; negative dims count from the end; output
  shape drops reduced dims (keeps them as 1 with `keepdim=True`); reducing every dim without keepdim gives
  a rank-0 tensor. A rank-0 input is returned as a copy.
- Output dtype = input dtype; layout TILE, except sum/mean of a rank-4 interleaved ROW_MAJOR bf16/f32
  tensor over dim -1 or -2, which stays ROW_MAJOR; `output_layout=` overrides (never ROW_MAJOR for block
  floats). Memory config: `memory_config=` or the input's.
- `scalar` scales the result (sum, max, min: scalar * op(x); mean: scalar * sum / N); for std/var it
  scales the input, as documented. `correction` (std/var) selects N-1 (Bessel) or N.
- Numerics: computed in float32 and rounded once to the output dtype (ttnn's multi-axis sum keeps fp32
  intermediates and packs once); bf16 DST accumulation without fp32_dest_acc_en is not modelled.
- argmax returns uint32 indices, ROW_MAJOR, interleaved; dim=None reduces every element (ROW_MAJOR only).

Launches (eager counts and the cost rule agree): what ttnn runs: one reduce for W, H or HW, else one reduce per
axis plus a transpose pair per non-H/W axis.
`ttnn.experimental.fast_reduce_nc` (a sum over outer dims, kept) is at the end, with its note.
Extend: add a row to `_REDUCERS` (torch function of (x, dims, keepdim, args)) and register it with `_reduction`.
"""

from __future__ import annotations

import inspect
import math

import torch

from ttfuse.configs import WormholeComputeKernelConfig
from ttfuse.numerics import round_to_dtype
from ttfuse.opdef import CostCtx, Group, OpCost, register_op
from ttfuse.ops.common import default_cost, fail, need_dtype, need_memory_config, need_spec
from ttfuse.types import DRAM_MEMORY_CONFIG, BufferType, DataType, Layout, TensorMemoryLayout, TensorSpec

D = DataType
_REDUCE_DTYPES = frozenset({D.FLOAT32, D.BFLOAT16, D.BFLOAT8_B, D.INT32})
_STATS_DTYPES = frozenset({D.FLOAT32, D.BFLOAT16, D.BFLOAT8_B})
_DIM_TYPES = "an int, a list of ints or None"


def reduce_dims(op: str, dim, rank: int) -> tuple[int, ...]:
    """`dim` as sorted non-negative axes (every axis for None or [])."""
    if dim is None:
        dims = list(range(rank))
    elif isinstance(dim, int) and not isinstance(dim, bool):
        dims = [dim]
    elif isinstance(dim, list | tuple) and all(isinstance(d, int) and not isinstance(d, bool) for d in dim):
        dims = list(dim) or list(range(rank))
    else:
        raise fail(op, f"argument 'dim' must be {_DIM_TYPES}, got {dim!r}")
    out = []
    for d in dims:
        if not -rank <= d < rank:
            raise fail(op, f"argument 'dim'={dim!r}: dim {d} is out of range for a rank-{rank} tensor")
        d %= rank
        if d in out:
            raise fail(op, f"argument 'dim'={dim!r} names dim {d} twice")
        out.append(d)
    return tuple(sorted(out))


def reduced_shape(shape, dims, keepdim: bool) -> tuple[int, ...]:
    return tuple(1 if i in dims else n for i, n in enumerate(shape) if keepdim or i not in dims)


def _check_common(
    op: str, s: TensorSpec, keepdim, memory_config, compute_kernel_config, scalar, dims
) -> None:
    if not isinstance(keepdim, bool):
        raise fail(op, f"argument 'keepdim' must be a bool, got {keepdim!r}")
    need_memory_config(op, memory_config)
    if compute_kernel_config is not None and not isinstance(
        compute_kernel_config, WormholeComputeKernelConfig
    ):
        raise fail(
            op,
            "argument 'compute_kernel_config' must be a ttnn.WormholeComputeKernelConfig, got "
            f"{type(compute_kernel_config).__name__}",
        )
    if not isinstance(scalar, int | float):
        raise fail(op, f"argument 'scalar' must be a number, got {type(scalar).__name__}")
    mc = s.memory_config
    if mc.is_sharded():
        if s.layout is not Layout.TILE:
            raise fail(
                op, "sharded ROW_MAJOR inputs are not supported; use TILE layout or an interleaved input"
            )
        if mc.buffer_type is BufferType.DRAM and mc.memory_layout is TensorMemoryLayout.BLOCK_SHARDED:
            raise fail(op, "DRAM block-sharded inputs are not supported")
        if any(d < s.rank - 2 for d in dims):
            raise fail(op, f"a sharded input can only be reduced along dims -1 / -2, got dims {list(dims)}")


def _output_layout(op: str, s: TensorSpec, dims, output_layout, rm_ok: bool) -> Layout:
    layout = Layout.TILE
    if (
        rm_ok
        and s.layout is Layout.ROW_MAJOR
        and s.rank == 4
        and s.dtype in (D.BFLOAT16, D.FLOAT32)
        and not s.memory_config.is_sharded()
        and dims in ((2,), (3,))
    ):
        layout = Layout.ROW_MAJOR  # sum/mean of a 4-D interleaved RM tensor over -1 or -2 stays RM
    if output_layout is not None:
        if not isinstance(output_layout, Layout):
            raise fail(op, f"argument 'output_layout' must be a ttnn.Layout, got {output_layout!r}")
        if output_layout is Layout.ROW_MAJOR and s.dtype.is_block_float:
            raise fail(
                op,
                f"output_layout=ROW_MAJOR is not supported for a {s.dtype.value} result (block floats "
                "exist only in TILE layout); reduce to TILE and typecast",
            )
        layout = output_layout
    return layout


# ---------------------------------------------------------------------------------- sum / mean / max / min
def _scaled(reduce):
    """The sim of a reduction that multiplies its result by `scalar` (sum, mean, max, min)."""

    def fn(x, dims, keepdim, a):
        out = reduce(x, dims, keepdim=keepdim)
        return out if a["scalar"] == 1.0 else out * a["scalar"]

    return fn


def _var_like(std: bool):
    def fn(x, dims, keepdim, a):
        if a["scalar"] != 1.0:
            x = x * a["scalar"]
        n = math.prod(x.shape[d] for d in dims)
        if n == 1:  # ttnn (like torch) gives NaN with Bessel's correction, 0 without
            return torch.full(reduced_shape(x.shape, dims, keepdim), math.nan if a["correction"] else 0.0)
        fn = torch.std if std else torch.var
        return fn(x, dims, correction=1 if a["correction"] else 0, keepdim=keepdim)

    return fn


_REDUCERS = {
    "sum": _scaled(torch.sum),
    "mean": _scaled(torch.mean),
    "max": _scaled(torch.amax),
    "min": _scaled(torch.amin),
    "std": _var_like(True),
    "var": _var_like(False),
}
_DOCS = {
    "sum": "Sum over `dim` (all dims when None), times `scalar`.",
    "mean": "Mean over `dim` (all dims when None), times `scalar`.",
    "max": "Maximum over `dim` (all dims when None), times `scalar`.",
    "min": "Minimum over `dim` (all dims when None), times `scalar`.",
    "std": "Standard deviation over `dim` (N-1 divisor when `correction`).",
    "var": "Variance over `dim` (N-1 divisor when `correction`).",
}


def reduce_launches(kind: str, s: TensorSpec, dims) -> int:
    """Device kernels ttnn runs for one reduction (generic_reductions.cpp)."""
    rank = s.rank
    if rank == 0:
        return 1
    hw = [d for d in dims if d >= rank - 2]
    other = [d for d in dims if d < rank - 2]
    rm = 0 if s.layout is Layout.TILE else 1  # tilize
    if kind in (
        "std",
        "var",
    ):  # Welford: H/W directly, one other axis permuted there and back, else one permute
        if len(dims) == 1:
            return rm + (1 if hw else 3)
        return rm + (1 if list(dims) == list(range(rank - len(dims), rank)) else 2)
    padded = s.layout is Layout.TILE and tuple(s.padded_shape[-2:]) != tuple(s.shape[-2:])
    n = 1 if padded else 0  # fill_implicit_tile_padding with the reduction's neutral value
    if not other:
        return n + 1
    if kind == "sum" and s.dtype in (D.BFLOAT16, D.BFLOAT8_B):
        return n + 2 + (1 if hw else 0)  # fast_reduce_nc + slice, then the H/W reduce
    return n + len(hw) + 3 * len(other)  # one reduce per axis; transposes around non-H/W axes


def _reduce_cost(ctx: CostCtx) -> OpCost:
    c = default_cost(ctx)
    s = ctx.in_specs["input_tensor"]
    per_elem = 3 if ctx.op.short in ("std", "var") else 1
    c.flops = float(s.numel * per_elem)
    c.launches = ctx.op.num_launches(ctx.out_specs, ctx.args)
    return c


def _reduction(name: str):
    kind = name
    stats = kind in ("std", "var")
    tail = {"sum": "output_layout", "mean": "output_layout"}.get(kind)
    keywords = [
        ("memory_config", None),
        ("compute_kernel_config", None),
        ("scalar", 1.0),
        ("correction", True if stats else None),
        ("sub_core_grids", None),
    ]
    if not stats:
        keywords.append(("fast_and_approximate_mode", False))
    if tail:
        keywords.append((tail, None))
    defaults = dict(keywords)

    def spec(input_tensor, dim=None, keepdim=False, **kw):
        a = {**defaults, **kw}
        memory_config, scalar = a["memory_config"], a["scalar"]
        s = need_spec(kind, "input_tensor", input_tensor)
        if kind == "mean" and s.dtype.is_integer:
            raise fail(
                kind,
                f"argument 'input_tensor' has dtype {s.dtype.value}; ttnn.mean does not support "
                "integer inputs",
            )
        need_dtype(kind, "input_tensor", s, _STATS_DTYPES if stats else _REDUCE_DTYPES)
        if s.layout is not Layout.TILE and (s.dtype.is_integer or s.dtype.is_block_float):
            raise fail(kind, f"argument 'input_tensor': {s.dtype.value} is supported in TILE layout only")
        if kind == "min" and a["fast_and_approximate_mode"] and s.dtype is D.FLOAT32:
            raise fail(kind, "fast_and_approximate_mode=True is rejected for a float32 min (no FPU min pool)")
        dims = reduce_dims(kind, dim, s.rank) if s.rank else ()
        _check_common(kind, s, keepdim, memory_config, a["compute_kernel_config"], scalar, dims)
        if not s.rank:
            return s.replace(memory_config=memory_config or s.memory_config)
        layout = _output_layout(kind, s, dims, a.get("output_layout"), rm_ok=kind in ("sum", "mean"))
        shape = reduced_shape(s.shape, dims, keepdim)
        return TensorSpec(shape, s.dtype, layout, memory_config or s.memory_config)

    fn = _REDUCERS[kind]

    def sim(ctx, input_tensor, dim=None, keepdim=False, **args):
        if input_tensor.dim() == 0:
            return input_tensor.clone()
        return fn(input_tensor, reduce_dims(kind, dim, input_tensor.dim()), keepdim, args)

    def launches(out_specs, args=None) -> int:
        if args is None:
            return 1
        s = args["input_tensor"]
        return reduce_launches(kind, s, reduce_dims(kind, args.get("dim"), s.rank))

    op = register_op(kind, Group.REDUCE, launches=launches)(_stub(kind, _DOCS[kind], keywords))
    op.spec(spec)
    op.sim(sim)
    op.cost(_reduce_cost)
    return op


def _stub(name: str, doc: str, keywords):
    """Signature carrier: (input_tensor, dim=None, keepdim=False, *, <keywords>)."""
    P = inspect.Parameter
    params = [
        P("input_tensor", P.POSITIONAL_OR_KEYWORD),
        P("dim", P.POSITIONAL_OR_KEYWORD, default=None),
        P("keepdim", P.POSITIONAL_OR_KEYWORD, default=False),
    ]
    params += [P(n, P.KEYWORD_ONLY, default=d) for n, d in keywords]

    def fn(*args, **kwargs):  # pragma: no cover - OpDef.__call__ dispatches; this only carries the signature
        raise NotImplementedError

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    fn.__signature__ = inspect.Signature(params)
    return fn


for _name in _REDUCERS:
    _reduction(_name)


# ------------------------------------------------------------------------------------------------- argmax
_ARGMAX_RM = frozenset({D.BFLOAT16, D.FLOAT32, D.INT32, D.UINT32, D.UINT16})
_ARGMAX_FLOAT = frozenset({D.BFLOAT16, D.FLOAT32})


@register_op("argmax", Group.REDUCE)
def argmax(
    input_tensor,
    dim=None,
    keepdim=False,
    *,
    sub_core_grids=None,
    memory_config=None,
    output_tensor=None,
    enable_secondary_dm=None,
):
    """Indices (uint32, ROW_MAJOR) of the maximum along `dim`, or over every element when None."""


@argmax.spec
def _argmax_spec(input_tensor, dim=None, keepdim=False, *, memory_config=None, **_):
    op = "argmax"
    s = need_spec(op, "input_tensor", input_tensor)
    if not isinstance(keepdim, bool):
        raise fail(op, f"argument 'keepdim' must be a bool, got {keepdim!r}")
    need_memory_config(op, memory_config)
    if s.memory_config.is_sharded() or (memory_config is not None and memory_config.is_sharded()):
        raise fail(op, "sharded tensors are not supported; input and output must be INTERLEAVED")
    rank = s.rank
    if dim is None:
        if s.layout is not Layout.ROW_MAJOR:
            raise fail(
                op, "dim=None (reduce every element) needs a ROW_MAJOR input; got TILE (use ttnn.to_layout)"
            )
        need_dtype(op, "input_tensor", s, _ARGMAX_RM)
        shape = (1,) * rank if keepdim else ()
    else:
        if isinstance(dim, bool) or not isinstance(dim, int):
            raise fail(op, f"argument 'dim' must be an int or None, got {dim!r}")
        if not -rank <= dim < rank:
            raise fail(op, f"argument 'dim'={dim} is out of range for a rank-{rank} tensor")
        d = dim % rank
        allowed = _ARGMAX_RM if d == rank - 1 and s.layout is Layout.ROW_MAJOR else _ARGMAX_FLOAT
        need_dtype(op, "input_tensor", s, allowed)
        shape = reduced_shape(s.shape, (d,), keepdim)
    return TensorSpec(shape, D.UINT32, Layout.ROW_MAJOR, memory_config or s.memory_config)


@argmax.sim
def _argmax_sim(ctx, input_tensor, dim=None, keepdim=False, **_):
    if dim is None:
        out = torch.argmax(input_tensor).reshape(ctx.out_spec.shape)
    else:
        out = torch.argmax(input_tensor, dim, keepdim=keepdim)
    return out.to(torch.float32)


# ------------------------------------------------------------------------------------------ fast_reduce_nc
# `ttnn.experimental.fast_reduce_nc(input, *, dims=[], output=None, memory_config=DRAM, compute_kernel_config=None,
# sub_core_grids=None)` (tt-metal ttnn/cpp/ttnn/operations/experimental/reduction/fast_reduce_nc): a sum over
# outer dims (whole tiles: N, C, ... never H or W), keeping them as 1. `dims` must not be empty; a TILE input in
# BFLOAT16, BFLOAT8_B or FLOAT32; the output is TILE in the input's dtype, in `memory_config` (default DRAM
# interleaved, not the input's). Several dims run as one kernel per dim, highest first, each rounding its output
# to the dtype (the simulator does the same). A preallocated `output` is not modelled.
@register_op(
    "experimental.fast_reduce_nc",
    Group.REDUCE,
    launches=lambda out_specs, args=None: max(1, len(args["dims"])) if args else 1,
)
def fast_reduce_nc(
    input, *, dims=(), output=None, memory_config=None, compute_kernel_config=None, sub_core_grids=None
):
    """Sum over the outer (non-H/W) dims `dims`, kept as size 1."""


def _nc_dims(op: str, dims, rank: int) -> tuple[int, ...]:
    if not isinstance(dims, list | tuple) or not dims:
        raise fail(
            op,
            f"argument 'dims' must be a non-empty list of ints (ttnn: dims should not be empty), got {dims!r}",
        )
    out = reduce_dims(op, list(dims), rank)
    if len(out) != len(dims):
        raise fail(op, f"argument 'dims'={list(dims)} names a dim twice")
    if any(d >= rank - 2 for d in out):
        raise fail(
            op,
            f"argument 'dims'={list(dims)}: fast_reduce_nc reduces outer dims only, not H or W (the last two)",
        )
    return out


@fast_reduce_nc.spec
def _fast_reduce_nc_spec(input, *, dims=(), output=None, memory_config=None, compute_kernel_config=None, **_):
    op = "experimental.fast_reduce_nc"
    s = need_spec(op, "input", input)
    if s.layout is not Layout.TILE:
        raise fail(op, "argument 'input' must be in TILE layout")
    need_dtype(op, "input", s, _STATS_DTYPES)
    red = _nc_dims(op, dims, s.rank)
    if output is not None:
        raise fail(op, "argument 'output': a preallocated output is not modelled by ttfuse")
    if s.memory_config.is_sharded():
        raise fail(op, "argument 'input' is sharded: ttfuse models the interleaved fast_reduce_nc only")
    _check_common(op, s, True, memory_config, compute_kernel_config, 1.0, red)
    mc = memory_config or DRAM_MEMORY_CONFIG
    return TensorSpec(reduced_shape(s.shape, red, True), s.dtype, Layout.TILE, mc)


@fast_reduce_nc.sim
def _fast_reduce_nc_sim(ctx, input, *, dims=(), **_):
    red = sorted({d % input.dim() for d in dims}, reverse=True)
    x = input
    for k, d in enumerate(red):
        x = x.sum(d, keepdim=True)
        if k < len(red) - 1:  # an intermediate stage packs its output; the executor rounds the last
            x = round_to_dtype(x.contiguous(), ctx.out_spec.dtype.value)
    return x


fast_reduce_nc.cost(_reduce_cost)
