"""Elementwise ops: unary (exp, gelu, clamp, ...), binary (add, multiply, comparisons, in-place forms) and
ternary (addcmul, where, lerp), with the real ttnn 0.81.1 signatures and keyword names.

Semantics modelled (ref/ttnn.md s2.7 and the 0.81.1 docstrings):
- Output shape: unary = input; binary/ternary = the broadcast of the tensor operands (size-1 dims expand,
  ranks align on the right; dims above the 5th from the right must match). Output layout: that of
  `input_tensor_a` (of the tensor operand when `a` is a number); memory config: `memory_config=` or that
  operand's; dtype: `dtype=` or a's (a float operand wins over an int32/uint32 one, which ttnn typecasts).
- Comparisons produce 1.0 / 0.0 in the output dtype. In-place forms (`add_`, `multiply_`, ...) write into
  their first argument and keep its spec; a broadcast that would grow it is an error.
- Scalar operands stay Python numbers (no tensor is built); as binary_ng packs them, a scalar combined
  with a bf16/bfp8/bfp4 tensor is rounded to bfloat16 first.
- Fused activations: `input_tensor_{a,b}_activations` apply to that operand and are packed back to the
  operand's dtype (binary_ng's intermediate CB has the input's data format); `activations` apply to the
  result before the single output rounding.
- Approximate modes (`fast_and_approximate_mode=True`, SigmoidMode.FastApproximate) compute the exact
  function; the SFPU's approximation error is not reproduced. GELU's fast modes use the tanh form.

Invariant: sim rules never modify their inputs and never return an input object (outputs are fresh tensors).
Extend: a unary op is one `_unary(...)` row (torch function of (x, static args)); a binary op one `_binary(...)`
row. A preallocated `output_tensor=` receives the result (ttfuse.opdef.PREALLOCATED_OUTPUTS: in place in the
simulator; under @ttfuse.jit it names the result, or an in-place ttnn.copy writes a caller's tensor).
"""

from __future__ import annotations

import inspect
import math
import struct

import torch
import torch.nn.functional as F

from ttfuse import configs
from ttfuse.configs import UnaryOpType as U
from ttfuse.errors import got
from ttfuse.numerics import round_to_dtype
from ttfuse.opdef import OPS, CostCtx, Group, OpCost, Traits, register_op
from ttfuse.ops.activations import apply_activations, normalize_activations
from ttfuse.ops.common import (
    default_cost,
    fail,
    need_dtype,
    need_dtype_arg,
    need_memory_config,
    need_spec,
    out_spec,
)
from ttfuse.types import DataType, Layout, TensorSpec, TtnnEnum

D = DataType
FLOATS = frozenset({D.FLOAT32, D.BFLOAT16, D.BFLOAT8_B, D.BFLOAT4_B})
INTS = frozenset({D.INT32, D.UINT32, D.UINT16, D.UINT8})
ALL = FLOATS | INTS
_BF16_SCALAR = frozenset({D.BFLOAT16, D.BFLOAT8_B, D.BFLOAT4_B})  # scalars packed as bfloat16 with these
_PROMOTABLE = frozenset({D.INT32, D.UINT32})  # int operands ttnn typecasts to a float partner's dtype
MAX_BCAST_RANK = 5


class GeluVariant(TtnnEnum):
    """`ttnn.GeluVariant`: Accurate (erf form), FastLut (piecewise-linear LUT), Tanh (tanh form)."""

    Accurate = 0
    FastLut = 1
    Tanh = 2


class SigmoidMode(TtnnEnum):
    """`ttnn.SigmoidMode` of `ttnn.sigmoid(mode=)`."""

    FastApproximate = 0  # values as in ttnn 0.81.1
    AccurateWithFastExp = 1
    Accurate = 2


# NOTE: ops default to these enums, so they appear in every captured node; the IR JSON decoder finds enums
# by class name in configs.CONFIG_ENUMS.
configs.register_enum(GeluVariant)
configs.register_enum(SigmoidMode)

__ttnn_exports__ = ("GeluVariant", "SigmoidMode", "sub", "mul", "div", "sub_", "mul_", "div_")


# ------------------------------------------------------------------------------------------------ helpers
_REQ = inspect.Parameter.empty


def _stub(name: str, doc: str, positional, keywords):
    """A signature carrier for register_op: positional-or-keyword params, then keyword-only ones."""
    params = [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=d) for n, d in positional]
    params += [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=d) for n, d in keywords]

    def fn(*args, **kwargs):  # pragma: no cover - OpDef.__call__ dispatches; this only carries the signature
        raise NotImplementedError

    fn.__name__ = fn.__qualname__ = name.rsplit(".", 1)[-1]
    fn.__doc__ = doc
    fn.__signature__ = inspect.Signature(params)
    return fn


def _is_number(v) -> bool:
    return isinstance(v, int | float)


def bf16_scalar(v: float) -> float:
    """`v` rounded to bfloat16 (round to nearest even), as binary_ng packs a scalar for a 16-bit operand."""
    v = float(v)
    if not math.isfinite(v) or abs(v) > 3.3895313892515355e38:  # beyond bf16 max: inf/nan pass through
        return v if not math.isfinite(v) else math.copysign(math.inf, v)
    bits = struct.unpack("<I", struct.pack("<f", v))[0]
    bits = ((bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000) & 0xFFFFFFFF
    return struct.unpack("<f", struct.pack("<I", bits))[0]


def scalar_for(v, dtype: DataType):
    """A scalar operand as the kernel sees it next to a tensor of `dtype`."""
    if dtype in _BF16_SCALAR:
        return bf16_scalar(v)
    if dtype.is_integer:
        return int(v)
    return v


def broadcast_shape(op: str, operands) -> tuple[int, ...]:
    """Broadcast of `(arg name, shape)` pairs as ttnn binary ops do it; SpecError naming both shapes otherwise."""
    (n0, out), rest = operands[0], operands[1:]
    out, label = tuple(out), repr(n0)
    for n1, s in rest:
        s = tuple(s)
        rank = max(len(out), len(s))
        x, y = (1,) * (rank - len(out)) + out, (1,) * (rank - len(s)) + s
        res = []
        for i, (p, q) in enumerate(zip(x, y)):
            from_right = rank - i
            if p == q or (from_right <= MAX_BCAST_RANK and (p == 1 or q == 1)):
                res.append(max(p, q) if p != q else p)
                continue
            why = (
                ""
                if from_right <= MAX_BCAST_RANK
                else f" (dims above the {MAX_BCAST_RANK}th from the right must match)"
            )
            raise fail(
                op,
                f"shapes of {label} {list(out)} and {n1!r} {list(s)} are not broadcast-compatible: "
                f"dim {i - rank} is {p} vs {q}{why}",
            )
        out, label = tuple(res), f"{label} x {n1!r}"
    return out


_ACT_ARGS = ("activations", "input_tensor_a_activations", "input_tensor_b_activations")


def _eltwise_cost(ctx: CostCtx) -> OpCost:
    """Default bytes; FLOPs = output elements x (1 + fused activations)."""
    c = default_cost(ctx)
    n = sum(len(normalize_activations(ctx.op.short, ctx.args.get(k), k)) for k in _ACT_ARGS)
    c.flops = float(sum(s.numel for s in ctx.out_specs)) * (1 + n)
    return c


# -------------------------------------------------------------------------------------------------- unary
_UNARY_TAIL = (("memory_config", None), ("output_tensor", None), ("sub_core_grids", None))
_FAST = (("fast_and_approximate_mode", False),)


def _unary(name, doc, fn, *, pos=(), kw=(), dtypes=FLOATS, check=None, tail=_UNARY_TAIL, activation=None):
    """Register a unary op: `fn(x, static_args) -> tensor`; `check(op, spec, static_args)` validates extras;
    `activation`: the UnaryOpType a fused activation computes it with (`Traits.activation`)."""
    op = register_op(name, Group.ELTWISE_UNARY, traits=Traits(activation=activation))(
        _stub(name, doc, (("input_tensor", _REQ), *pos), (*kw, *tail))
    )
    defaults = {n: d for n, d in (*pos, *kw) if d is not _REQ}

    @op.spec
    def _spec(input_tensor, memory_config=None, output_tensor=None, **static):
        s = need_spec(name, "input_tensor", input_tensor)
        need_dtype(name, "input_tensor", s, dtypes)
        need_memory_config(name, memory_config)
        if check is not None:
            check(name, s, static)
        return out_spec(s, memory_config=memory_config)

    @op.sim
    def _sim(ctx, input_tensor, **static):
        # defaults first, so callers that pass only some static args (fused kernels) get ttnn's defaults
        return fn(input_tensor, {**defaults, **static})

    op.cost(_eltwise_cost)
    return op


def _need_number(op: str, arg: str, v) -> None:
    if not _is_number(v):
        raise fail(op, f"argument {arg!r} must be a number, got {type(v).__name__}")


def _check_numbers(*args):
    def check(op, s, a):
        for k in args:
            _need_number(op, k, a[k])

    return check


def _check_gelu(op, s, a):
    if not isinstance(a["variant"], GeluVariant):
        raise fail(op, f"argument 'variant' must be a ttnn.GeluVariant, got {a['variant']!r}")
    if a["fast_and_approximate_mode"] and a["variant"] is not GeluVariant.Accurate:
        raise fail(op, "pass either 'variant' or the legacy 'fast_and_approximate_mode', not both")


def _gelu(x, a):
    exact = a["variant"] is GeluVariant.Accurate and not a["fast_and_approximate_mode"]
    return F.gelu(x, approximate="none" if exact else "tanh")


_VECTOR_MODES = {
    1: "R (faces 0-1: rows 0-15 of each tile)",
    2: "C (faces 0, 2: columns 0-15 of each tile)",
    4: "RC (whole tile)",
}


def _check_sigmoid(op, s, a):
    if a["vector_mode"] not in _VECTOR_MODES:
        raise fail(
            op,
            f"argument 'vector_mode'={a['vector_mode']!r} is not supported; use 2 (VectorMode::C) "
            "or 4 (VectorMode::RC)",
        )
    if not isinstance(a["mode"], SigmoidMode):
        raise fail(op, f"argument 'mode' must be a ttnn.SigmoidMode, got {a['mode']!r}")


def _sigmoid(x, a):
    vm = a["vector_mode"]
    if vm == 4:
        return torch.sigmoid(x)
    # VectorMode R/C: the SFPU touches only half of each tile's faces; the rest packs the copied input
    if vm == 1 and x.dim() < 2:  # a rank-1 tensor is row 0 of its tiles
        return torch.sigmoid(x)
    out = x.clone()
    if vm == 2:
        idx = torch.arange(x.shape[-1]) % 32 < 16
        out[..., idx] = torch.sigmoid(x[..., idx])
    else:
        idx = torch.arange(x.shape[-2]) % 32 < 16
        out[..., idx, :] = torch.sigmoid(x[..., idx, :])
    return out


def _selu(x, a):
    return F.elu(x, a["alpha"]) * a["scale"]


_I32 = frozenset({D.INT32})
_BF16_F32 = frozenset({D.BFLOAT16, D.FLOAT32})
_unary("exp", "Elementwise e**x.", lambda x, a: torch.exp(x), kw=_FAST, activation=U.EXP)
_unary("exp2", "Elementwise 2**x.", lambda x, a: torch.exp2(x))
_unary("expm1", "Elementwise e**x - 1.", lambda x, a: torch.expm1(x))
_unary("log", "Elementwise natural logarithm.", lambda x, a: torch.log(x), kw=_FAST, activation=U.LOG)
_unary("log1p", "Elementwise log(1 + x).", lambda x, a: torch.log1p(x), kw=_FAST)
# ttnn.digamma: a composite unary (tt-metal ttnn/cpp/ttnn/operations/eltwise/unary/device/unary_composite_op.cpp,
# `_digamma`, "support for the range of (1, inf)"): log(x) minus the asymptotic series
# 1/(2x) - B2/(2x^2) - B4/(4x^4) - ... with seven Bernoulli terms, not the exact psi; the sim computes that series
# (below 1 it departs from psi as the device's op does). Docs list BFLOAT16 and FLOAT32.
_DIGAMMA_TERMS = (-1 / 12, 1 / 120, -1 / 252, 1 / 240, -1 / 132, 691 / 32760, -1 / 12)


def _digamma(x, a):
    r = torch.reciprocal(x)
    r2 = r * r
    series, p = r * 0.5, r2
    for c in _DIGAMMA_TERMS:
        series = series + p * c
        p = p * r2
    return torch.log(x) - series


_unary("digamma", "Elementwise digamma as ttnn's asymptotic series (x > 1).", _digamma, dtypes=_BF16_F32)
_unary("sqrt", "Elementwise square root.", lambda x, a: torch.sqrt(x), kw=_FAST, activation=U.SQRT)
_unary("rsqrt", "Elementwise 1 / sqrt(x).", lambda x, a: torch.rsqrt(x), kw=_FAST, activation=U.RSQRT)
_unary("reciprocal", "Elementwise 1 / x.", lambda x, a: torch.reciprocal(x), activation=U.RECIP)
_unary("neg", "Elementwise -x.", lambda x, a: torch.neg(x), dtypes=FLOATS | _I32, activation=U.NEG)
_unary("abs", "Elementwise |x|.", lambda x, a: torch.abs(x), dtypes=FLOATS | _I32, activation=U.ABS)
_unary("sign", "Elementwise sign (-1, 0, 1).", lambda x, a: torch.sign(x))
_unary(
    "square",
    "Elementwise x * x.",
    lambda x, a: x * x,
    dtypes=FLOATS | {D.INT32, D.UINT32, D.UINT16},
    activation=U.SQUARE,
)
_unary("relu", "Elementwise max(x, 0).", lambda x, a: torch.relu(x), dtypes=ALL, activation=U.RELU)
_unary(
    "relu6",
    "Elementwise min(max(x, 0), 6).",
    lambda x, a: torch.clamp(x, 0, 6),
    dtypes=ALL,
    activation=U.RELU6,
)
_unary(
    "leaky_relu",
    "Elementwise x if x >= 0 else negative_slope * x.",
    lambda x, a: F.leaky_relu(x, a["negative_slope"]),
    pos=(("negative_slope", _REQ),),
    check=_check_numbers("negative_slope"),
)
_unary(
    "elu",
    "Elementwise x if x > 0 else alpha * (e**x - 1).",
    lambda x, a: F.elu(x, a["alpha"]),
    kw=(("alpha", 1.0),),
    check=_check_numbers("alpha"),
)
_unary(
    "selu",
    "Elementwise scale * (max(0, x) + min(0, alpha * (e**x - 1))).",
    _selu,
    kw=(("scale", 1.0506999492645264), ("alpha", 1.673259973526001)),
    check=_check_numbers("scale", "alpha"),
)
_unary("silu", "Elementwise x * sigmoid(x).", lambda x, a: F.silu(x), activation=U.SILU)
_unary(
    "gelu",
    "Elementwise GELU: exact erf form, or the tanh form for the fast variants.",
    _gelu,
    kw=(("variant", GeluVariant.Accurate), *_FAST),
    check=_check_gelu,
    activation=U.GELU,
)
_unary(
    "sigmoid",
    "Elementwise 1 / (1 + e**-x) (vector_mode 2/1 apply it to half of each tile's faces).",
    _sigmoid,
    kw=(("vector_mode", 4), ("mode", SigmoidMode.Accurate)),
    check=_check_sigmoid,
    activation=U.SIGMOID,
)
_unary(
    "sigmoid_accurate",
    "Elementwise sigmoid (deprecated alias of ttnn.sigmoid).",
    lambda x, a: torch.sigmoid(x),
    pos=_FAST,
    activation=U.SIGMOID,
)
_unary("hardsigmoid", "Elementwise clamp(x / 6 + 0.5, 0, 1).", lambda x, a: F.hardsigmoid(x))
_unary("hardswish", "Elementwise x * hardsigmoid(x).", lambda x, a: F.hardswish(x))
_unary(
    "hardtanh",
    "Elementwise clamp(x, min_val, max_val).",
    lambda x, a: torch.clamp(x, a["min_val"], a["max_val"]),
    kw=(("min_val", -1.0), ("max_val", 1.0)),
    check=_check_numbers("min_val", "max_val"),
)
_unary(
    "softplus",
    "Elementwise log(1 + e**(beta x)) / beta, linear above `threshold`.",
    lambda x, a: F.softplus(x, a["beta"], a["threshold"]),
    kw=(("beta", 1.0), ("threshold", 20.0)),
    check=_check_numbers("beta", "threshold"),
)
_unary("mish", "Elementwise x * tanh(softplus(x)).", lambda x, a: F.mish(x), kw=_FAST)
_unary(
    "tanh",
    "Elementwise hyperbolic tangent.",
    lambda x, a: torch.tanh(x),
    tail=(("memory_config", None), ("output_tensor", None), *_FAST, ("sub_core_grids", None)),
    activation=U.TANH,
)
_unary("sin", "Elementwise sine.", lambda x, a: torch.sin(x), activation=U.SIN)
_unary("cos", "Elementwise cosine.", lambda x, a: torch.cos(x), activation=U.COS)
_unary("tan", "Elementwise tangent.", lambda x, a: torch.tan(x))
_unary(
    "cosh", "Elementwise hyperbolic cosine (ttnn documents the range -9 to 9).", lambda x, a: torch.cosh(x)
)
_unary("sinh", "Elementwise hyperbolic sine (ttnn documents the range -9 to 9).", lambda x, a: torch.sinh(x))
_unary("erf", "Elementwise Gauss error function.", lambda x, a: torch.erf(x), kw=_FAST, activation=U.ERF)
_unary("erfc", "Elementwise 1 - erf(x).", lambda x, a: torch.erfc(x))
_unary("floor", "Elementwise floor.", lambda x, a: torch.floor(x))
_unary("ceil", "Elementwise ceil.", lambda x, a: torch.ceil(x))
_unary(
    "logical_not", "Elementwise 1 where x == 0, else 0.", lambda x, a: (x == 0).to(torch.float32), dtypes=ALL
)


def _clamp_like(name: str, doc: str, keywords):
    op = register_op(name, Group.ELTWISE_UNARY)(
        _stub(name, doc, (("input_tensor", _REQ), ("min", None), ("max", None)), keywords)
    )

    @op.spec
    def _spec(input_tensor, min=None, max=None, memory_config=None, output_tensor=None):  # noqa: A002
        s = need_spec(name, "input_tensor", input_tensor)
        need_memory_config(name, memory_config)
        if min is None and max is None:
            raise fail(name, "arguments 'min' and 'max' are both None; pass at least one bound")
        shapes = [("input_tensor", s.shape)]
        for arg, v in (("min", min), ("max", max)):
            if isinstance(v, TensorSpec):
                need_dtype(name, arg, v, FLOATS)
                shapes.append((arg, v.shape))
            elif v is not None and not _is_number(v):
                raise fail(name, f"argument {arg!r} must be a ttnn.Tensor, a number or None, got {got(v)}")
        # INT32 is supported only for the tensor-scalar-scalar form
        need_dtype(name, "input_tensor", s, FLOATS if len(shapes) > 1 else FLOATS | _I32)
        if broadcast_shape(name, shapes) != tuple(s.shape):
            raise fail(name, f"'min'/'max' tensors must broadcast to the input shape {list(s.shape)}")
        return out_spec(s, memory_config=memory_config)

    @op.sim
    def _sim(ctx, input_tensor, min=None, max=None, **_):  # noqa: A002
        out = input_tensor
        if min is not None:
            out = torch.maximum(out, min) if isinstance(min, torch.Tensor) else torch.clamp_min(out, min)
        if max is not None:
            out = torch.minimum(out, max) if isinstance(max, torch.Tensor) else torch.clamp_max(out, max)
        return out

    op.cost(_eltwise_cost)
    return op


clamp = _clamp_like(
    "clamp",
    "Elementwise clamp to [min, max] (numbers or tensors; either bound may be None).",
    (("memory_config", None), ("output_tensor", None)),
)
clip = _clamp_like("clip", "Alias of ttnn.clamp.", (("memory_config", None),))


# ------------------------------------------------------------------------------------------------- binary
_OUT = (("dtype", None), ("memory_config", None), ("output_tensor", None))
_ACTS = tuple((k, None) for k in _ACT_ARGS)
_SUB = (("sub_core_grids", None), ("sub_device_id", None))
_AB = ("input_tensor_a", "input_tensor_b")


def _binary(
    name,
    doc,
    fn,
    *,
    kw,
    names=_AB,
    dtypes=ALL,
    scalar_a=False,
    compare=False,
    inplace=False,
    int_div=False,
    check=None,
):
    """Register a binary op: `fn(a, b, static_args)` on float32 tensors or (rounded) Python scalars.

    `check(op, args)` validates op-specific static arguments before the shared binary rules.
    """
    an, bn = names
    op = register_op(name, Group.ELTWISE_BINARY, traits=Traits(inplace=an if inplace else None))(
        _stub(name, doc, ((an, _REQ), (bn, _REQ)), kw)
    )

    @op.spec
    def _spec(**k):
        if check is not None:
            check(name, k)
        return binary_spec(
            name, k, an, bn, dtypes=dtypes, scalar_a=scalar_a, inplace=inplace, int_div=int_div
        )

    @op.sim
    def _sim(ctx, **k):
        a, b = k[an], k[bn]
        ta, tb = isinstance(a, torch.Tensor), isinstance(b, torch.Tensor)
        if k.get("input_tensor_a_activations"):
            a = _operand_activations(
                ctx, an, a, k["input_tensor_a_activations"], "input_tensor_a_activations"
            )
        if k.get("input_tensor_b_activations"):
            b = _operand_activations(
                ctx, bn, b, k["input_tensor_b_activations"], "input_tensor_b_activations"
            )
        if not tb:
            b = scalar_for(b, ctx.in_specs[an].dtype)
        elif not ta:
            a = scalar_for(a, ctx.in_specs[bn].dtype)
        out = fn(a, b, k)
        if compare:
            out = out.to(torch.float32)
        if k.get("activations"):
            out = apply_activations(out, normalize_activations(name, k["activations"], "activations"))
        return out

    op.cost(_eltwise_cost)
    return op


def _operand_activations(ctx, arg: str, v, acts, acts_arg: str):
    acts = normalize_activations(ctx.op.short, acts, acts_arg)
    if not isinstance(v, torch.Tensor):  # a number takes its activation list on the host
        return float(apply_activations(torch.tensor(float(v)), acts))
    dtype = ctx.in_specs[arg].dtype
    out = apply_activations(v, acts)
    # binary_ng packs the activated operand to an intermediate CB in the operand's data format
    return out if dtype is D.FLOAT32 else round_to_dtype(out, dtype.value)


def binary_spec(op, k, an, bn, *, dtypes=ALL, scalar_a=False, inplace=False, int_div=False) -> TensorSpec:
    """Output spec of a binary op call (arguments by name in `k`); SpecError for calls ttnn rejects."""
    a, b = k[an], k[bn]
    need_memory_config(op, k.get("memory_config"))
    need_dtype_arg(op, k.get("dtype"))
    ta, tb = isinstance(a, TensorSpec), isinstance(b, TensorSpec)
    if not ta:
        if not (scalar_a and _is_number(a)):
            what = "a ttnn.Tensor or a number" if scalar_a else "a ttnn.Tensor"
            raise fail(op, f"argument {an!r} must be {what}, got {type(a).__name__}")
        if not tb:
            raise fail(op, f"one of {an!r} and {bn!r} must be a ttnn.Tensor (there is no scalar-scalar form)")
    if not tb and not _is_number(b):
        raise fail(op, f"argument {bn!r} must be a ttnn.Tensor or a number, got {got(b)}")
    for arg in _ACT_ARGS:
        normalize_activations(op, k.get(arg), arg)
    for arg, s, is_t in ((an, a, ta), (bn, b, tb)):
        if is_t:
            need_dtype(op, arg, s, dtypes)
    ref = a if ta else b
    dtype = ref.dtype
    if ta and tb and a.dtype != b.dtype:
        fa, fb = a.dtype in FLOATS, b.dtype in FLOATS
        if fa and not fb and b.dtype in _PROMOTABLE:
            pass
        elif fb and not fa and a.dtype in _PROMOTABLE:
            dtype = b.dtype  # ttnn typecasts the integer operand to the float one's dtype
        elif not (fa and fb):
            raise fail(
                op,
                f"dtypes of {an!r} ({a.dtype.value}) and {bn!r} ({b.dtype.value}) must match; only "
                "float dtypes mix, and int32/uint32 with a float",
            )
    if (
        int_div
        and k.get("rounding_mode") is None
        and all(s.dtype.is_integer for s in (a, b) if isinstance(s, TensorSpec))
    ):
        if k.get("dtype") not in (None, D.FLOAT32):
            raise fail(
                op, f"integer division with rounding_mode=None yields float32; got dtype={k['dtype']!r}"
            )
        dtype = D.FLOAT32
    shape = broadcast_shape(op, [(n, s.shape) for n, s in ((an, a), (bn, b)) if isinstance(s, TensorSpec)])
    if inplace:
        if shape != tuple(a.shape):
            raise fail(
                op,
                f"in-place result shape {list(shape)} differs from {an!r} {list(a.shape)}: "
                f"broadcasting {bn!r} {list(b.shape)} would grow the output",
            )
        return a
    dtype = k.get("dtype") or dtype
    if dtype.is_block_float and ref.layout is not Layout.TILE:
        raise fail(op, f"output dtype {dtype!r} needs TILE layout but {an if ta else bn!r} is {ref.layout!r}")
    return TensorSpec(shape, dtype, ref.layout, k.get("memory_config") or ref.memory_config)


def _maximum(a, b, k):
    return torch.maximum(a, b) if isinstance(b, torch.Tensor) else torch.clamp_min(a, b)


def _minimum(a, b, k):
    return torch.minimum(a, b) if isinstance(b, torch.Tensor) else torch.clamp_max(a, b)


def _check_rounding_mode(op, k):
    if k["rounding_mode"] not in (None, "floor", "trunc"):
        raise fail(
            op, f"argument 'rounding_mode' must be None, 'floor' or 'trunc', got {k['rounding_mode']!r}"
        )


def _divide(a, b, k):
    q = a / b
    rm = k.get("rounding_mode")
    return q if rm is None else torch.floor(q) if rm == "floor" else torch.trunc(q)


def _logical(f):
    def fn(a, b, k):
        return f(a != 0, b != 0 if isinstance(b, torch.Tensor) else torch.tensor(b != 0)).to(torch.float32)

    return fn


_ADD_KW = (("fast_and_approximate_mode", True), *_OUT, *_ACTS, *_SUB)
_MUL_KW = (("fast_and_approximate_mode", False), *_OUT, *_ACTS, *_SUB)
_CMP_KW = (*_OUT, *_ACTS, *_SUB)
_binary(
    "add", "Elementwise a + b (either may be a number).", lambda a, b, k: a + b, kw=_ADD_KW, scalar_a=True
)
_binary(
    "subtract",
    "Elementwise a - b (either may be a number).",
    lambda a, b, k: a - b,
    kw=_ADD_KW,
    scalar_a=True,
)
_binary(
    "multiply",
    "Elementwise a * b (either may be a number).",
    lambda a, b, k: a * b,
    kw=_MUL_KW,
    scalar_a=True,
)
_binary(
    "divide",
    "Elementwise a / b, optionally rounded ('floor' or 'trunc').",
    _divide,
    kw=(("fast_and_approximate_mode", False), ("rounding_mode", None), *_OUT, *_ACTS, *_SUB),
    scalar_a=True,
    int_div=True,
    check=_check_rounding_mode,
)
_binary(
    "rsub",
    "Elementwise b - a (reversed subtraction).",
    lambda a, b, k: b - a,
    kw=(*_OUT, *_ACTS, ("fast_and_approximate_mode", True)),
)
_binary("maximum", "Elementwise max(a, b).", _maximum, kw=(*_OUT, *_ACTS))
_binary("minimum", "Elementwise min(a, b).", _minimum, kw=(*_OUT, *_ACTS))
_binary("squared_difference", "Elementwise (a - b)**2.", lambda a, b, k: torch.square(a - b), kw=_CMP_KW)
for _name, _fn, _sym in (
    ("eq", torch.eq, "=="),
    ("ne", torch.ne, "!="),
    ("gt", torch.gt, ">"),
    ("ge", torch.ge, ">="),
    ("lt", torch.lt, "<"),
    ("le", torch.le, "<="),
):
    _binary(
        _name,
        f"Elementwise 1.0 where a {_sym} b else 0.0, in the output dtype.",
        (lambda f: lambda a, b, k: f(a, b))(_fn),
        kw=_CMP_KW,
        compare=True,
    )
for _name, _fn in (
    ("logical_and", torch.logical_and),
    ("logical_or", torch.logical_or),
    ("logical_xor", torch.logical_xor),
):
    _binary(
        _name,
        f"Elementwise {_name.split('_')[1]} of (a != 0) and (b != 0), as 1.0 / 0.0.",
        _logical(_fn),
        kw=_CMP_KW,
    )
_binary(
    "pow",
    "Elementwise input_tensor ** exponent (number or tensor exponent; a number base takes a tensor "
    "exponent).",
    lambda a, b, k: torch.pow(a, b),
    kw=(*_OUT, *_ACTS),
    names=("input_tensor", "exponent"),
    dtypes=FLOATS,
    scalar_a=True,
)

# in-place forms: write into the first argument (no allocation); ttnn names their arguments input_a/input_b
# except add_/subtract_
_INPUT_AB = ("input_a", "input_b")
for _name, _doc, _fn, _names, _fast in (
    ("add_", "In-place a += b.", lambda a, b, k: a + b, _AB, True),
    ("subtract_", "In-place a -= b.", lambda a, b, k: a - b, _AB, True),
    ("multiply_", "In-place a *= b.", lambda a, b, k: a * b, _INPUT_AB, False),
    ("divide_", "In-place a /= b.", lambda a, b, k: a / b, _INPUT_AB, False),
    ("rsub_", "In-place a = b - a.", lambda a, b, k: b - a, _INPUT_AB, True),
):
    _binary(
        _name,
        _doc,
        _fn,
        inplace=True,
        names=_names,
        kw=(*_ACTS, ("fast_and_approximate_mode", _fast), *_SUB),
    )


# ------------------------------------------------------------------------------------------------ ternary
_TERNARY_DTYPES = frozenset({D.FLOAT32, D.BFLOAT16, D.BFLOAT8_B, D.INT32, D.UINT32})


def _ternary_operand(op: str, arg: str, v, dtypes, number_ok: bool):
    if isinstance(v, TensorSpec):
        if v.layout is not Layout.TILE:
            raise fail(op, f"argument {arg!r} must be in TILE layout, got {v.layout!r} (use ttnn.to_layout)")
        need_dtype(op, arg, v, dtypes)
        return v
    if number_ok and _is_number(v):
        return None
    what = "a ttnn.Tensor or a number" if number_ok else "a ttnn.Tensor"
    raise fail(op, f"argument {arg!r} must be {what}, got {type(v).__name__}")


def _ternary_spec(op, named, dtype_from, memory_config, output_tensor, dtypes, number_ok=()):
    need_memory_config(op, memory_config)
    specs = {n: _ternary_operand(op, n, v, dtypes, n in number_ok) for n, v in named}
    shape = broadcast_shape(op, [(n, s.shape) for n, s in specs.items() if s is not None])
    first = next(s for s in specs.values() if s is not None)
    dtype = next(specs[n].dtype for n in dtype_from if specs[n] is not None)
    return TensorSpec(shape, dtype, Layout.TILE, memory_config or first.memory_config)


@register_op("addcmul", Group.ELTWISE_TERNARY)
def addcmul(input_a, input_b, input_c, *, value=1.0, memory_config=None, output_tensor=None):
    """Elementwise input_a + value * input_b * input_c (three tensors)."""


@addcmul.spec
def _addcmul_spec(input_a, input_b, input_c, value=1.0, memory_config=None, output_tensor=None):
    _need_number("addcmul", "value", value)
    return _ternary_spec(
        "addcmul",
        (("input_a", input_a), ("input_b", input_b), ("input_c", input_c)),
        ("input_a",),
        memory_config,
        output_tensor,
        _TERNARY_DTYPES,
    )


@addcmul.sim
def _addcmul_sim(ctx, input_a, input_b, input_c, value=1.0, **_):
    if input_a.is_floating_point():
        return torch.addcmul(input_a, input_b, input_c, value=value)
    return input_a + input_b * input_c * value


@register_op("where", Group.ELTWISE_TERNARY)
def where(predicate, true_value, false_value, *, memory_config=None, output_tensor=None, sub_core_grids=None):
    """Elementwise true_value where predicate != 0 else false_value (values may be numbers)."""


@where.spec
def _where_spec(
    predicate, true_value, false_value, memory_config=None, output_tensor=None, sub_core_grids=None
):
    return _ternary_spec(
        "where",
        (("predicate", predicate), ("true_value", true_value), ("false_value", false_value)),
        ("true_value", "false_value", "predicate"),
        memory_config,
        output_tensor,
        _TERNARY_DTYPES | {D.BFLOAT4_B},
        number_ok=("true_value", "false_value"),
    )


@where.sim
def _where_sim(ctx, predicate, true_value, false_value, **_):
    return torch.where(predicate != 0, true_value, false_value).to(torch.float32)


@register_op("lerp", Group.ELTWISE_TERNARY)
def lerp(input, end, weight, *, memory_config=None, output_tensor=None):  # noqa: A002
    """Elementwise input + weight * (end - input) (weight a tensor or a number)."""


@lerp.spec
def _lerp_spec(input, end, weight, memory_config=None, output_tensor=None):  # noqa: A002
    floats = frozenset({D.FLOAT32, D.BFLOAT16, D.BFLOAT8_B})
    spec = _ternary_spec(
        "lerp",
        (("input", input), ("end", end), ("weight", weight)),
        ("input",),
        memory_config,
        output_tensor,
        floats,
        number_ok=("weight",),
    )
    for arg, v in (("end", end), ("weight", weight)):
        if isinstance(v, TensorSpec) and v.dtype is not input.dtype:
            raise fail(
                "lerp",
                f"argument {arg!r} has dtype {v.dtype.value} but 'input' has {input.dtype.value}; "
                "they must match",
            )
    return spec


@lerp.sim
def _lerp_sim(ctx, input, end, weight, **_):  # noqa: A002
    return torch.lerp(input, end, weight)


for _op in (addcmul, where, lerp):
    _op.cost(_eltwise_cost)

# ttnn's short names are the same operation objects (`ttnn.sub is ttnn.subtract` in ttnn 0.81.1)
sub, mul, div = OPS["subtract"], OPS["multiply"], OPS["divide"]
sub_, mul_, div_ = OPS["subtract_"], OPS["multiply_"], OPS["divide_"]
