"""Shared helpers for op rules: argument checks with ttnn-style messages, output specs, default costs.

Spec rules raise SpecError whose message names the op and the argument (`ttnn.linear: argument 'bias' ...`);
the user's source line is attached by OpDef.__call__. Cost rules return OpCost; `default_cost` charges
reading every input and writing every output once, one launch, and one FLOP per output element.
"""

from __future__ import annotations

import inspect

from ttfuse.errors import SpecError, got
from ttfuse.opdef import CostCtx, OpCost, OpDef
from ttfuse.types import BufferType, DataType, Layout, MemoryConfig, TensorSpec


def fail(op: str, msg: str) -> SpecError:
    return SpecError(f"ttnn.{op}: {msg}")


def signature_of(src, *, drop=()):
    """Decorator of an op's registration stub: give it the signature of `src` (a function or an OpDef) less the
    parameters named in `drop`, for ops that take another op's arguments (rms_norm those of layer_norm)."""
    sig = src.signature if isinstance(src, OpDef) else inspect.signature(src)
    sig = sig.replace(parameters=[p for p in sig.parameters.values() if p.name not in drop])

    def deco(fn):
        fn.__signature__ = sig
        return fn

    return deco


def need_spec(op: str, arg: str, v) -> TensorSpec:
    if not isinstance(v, TensorSpec):
        raise fail(op, f"argument {arg!r} must be a ttnn.Tensor, got {got(v)}")
    return v


def need_tile(op: str, arg: str, s: TensorSpec) -> None:
    if s.layout is not Layout.TILE:
        raise fail(op, f"argument {arg!r} must be in TILE layout, got {s.layout!r} (use ttnn.to_layout)")


def need_dtype(op: str, arg: str, s: TensorSpec, allowed) -> None:
    if s.dtype not in allowed:
        names = ", ".join(sorted(d.value for d in allowed))
        raise fail(op, f"argument {arg!r} has dtype {s.dtype.value}; supported: {names}")


def need_memory_config(op: str, mc) -> None:
    if mc is not None and not isinstance(mc, MemoryConfig):
        raise fail(op, f"argument 'memory_config' must be a ttnn.MemoryConfig, got {mc!r}")


def need_dtype_arg(op: str, dtype) -> None:
    if dtype is not None and not isinstance(dtype, DataType):
        raise fail(op, f"argument 'dtype' must be a ttnn.DataType, got {dtype!r}")


def norm_dim(op: str, dim: int, rank: int, arg: str = "dim") -> int:
    if not isinstance(dim, int) or not -rank <= dim < rank:
        raise fail(op, f"argument {arg!r}={dim!r} is out of range for a rank-{rank} tensor")
    return dim % rank


def out_spec(like: TensorSpec, *, shape=None, dtype=None, layout=None, memory_config=None) -> TensorSpec:
    """Output spec derived from an input: same shape/dtype/layout/memory config unless overridden."""
    return TensorSpec(
        like.shape if shape is None else tuple(shape),
        dtype or like.dtype,
        layout or like.layout,
        memory_config or like.memory_config,
    )


def io_bytes(specs) -> tuple[int, int]:
    """(DRAM bytes, L1 bytes) of reading/writing these tensors once."""
    dram = l1 = 0
    for s in specs:
        if s.memory_config.buffer_type is BufferType.L1:
            l1 += s.nbytes
        else:
            dram += s.nbytes
    return dram, l1


def flat_specs(in_specs: dict) -> list[TensorSpec]:
    out = []
    for v in in_specs.values():
        if isinstance(v, TensorSpec):
            out.append(v)
        elif isinstance(v, list | tuple):
            out.extend(x for x in v if isinstance(x, TensorSpec))
    return out


def default_cost(ctx: CostCtx) -> OpCost:
    dram, l1 = io_bytes(flat_specs(ctx.in_specs) + list(ctx.out_specs))
    flops = float(sum(s.numel for s in ctx.out_specs))
    return OpCost(
        flops=flops, dram_bytes=dram, l1_bytes=l1, launches=ctx.op.num_launches(ctx.out_specs, ctx.args)
    )
