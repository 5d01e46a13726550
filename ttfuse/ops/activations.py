"""Fused activations: the `activation=` strings of linear/matmul and the UnaryWithParam lists of binary ops.

`normalize_activation(op, act)` turns a string ("relu", "silu", "gelu", "sigmoid", ...), a UnaryOpType or a
UnaryWithParam into a UnaryWithParam (SpecError naming the op otherwise); `apply_activation(x, act)` applies
it in float32 to a torch tensor. Add an activation by adding a row to `_FNS` (and the string to `_STRINGS`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from ttfuse.configs import UnaryOpType as U
from ttfuse.configs import UnaryWithParam
from ttfuse.errors import SpecError


def _p(a: UnaryWithParam, i: int = 0, default: float = 0.0) -> float:
    return a.params[i] if len(a.params) > i else default


def _of_x(f: Callable) -> Callable:
    """An activation without parameters: `f(x)`."""
    return lambda x, a: f(x)


# the activations that are `torch.<name>(x)`, <name> their UnaryOpType's name in lower case
_TORCH_NAMED = "relu sigmoid exp log tanh sqrt rsqrt sin cos abs neg erf".split()
_FNS = {
    **{U[name.upper()]: _of_x(getattr(torch, name)) for name in _TORCH_NAMED},
    U.RELU6: lambda x, a: torch.clamp(x, 0.0, 6.0),
    U.SILU: _of_x(F.silu),
    U.GELU: lambda x, a: F.gelu(x, approximate="tanh" if _p(a, 0, 0.0) else "none"),
    U.RECIP: _of_x(torch.reciprocal),
    U.SQUARE: lambda x, a: x * x,
    U.IDENTITY: lambda x, a: x,
    U.POWER: lambda x, a: torch.pow(x, _p(a, 0, 1.0)),
    U.MUL_UNARY_SFPU: lambda x, a: x * _p(a),
    U.ADD_UNARY_SFPU: lambda x, a: x + _p(a),
    U.SUB_UNARY_SFPU: lambda x, a: x - _p(a),
    U.DIV_UNARY_SFPU: lambda x, a: x / _p(a, 0, 1.0),
    U.LEAKY_RELU: lambda x, a: F.leaky_relu(x, _p(a, 0, 0.01)),
    U.CLAMP_TSS: lambda x, a: torch.clamp(x, _p(a, 0, -math.inf), _p(a, 1, math.inf)),
}

_STRINGS = {
    "relu": U.RELU,
    "relu6": U.RELU6,
    "silu": U.SILU,
    "gelu": U.GELU,
    "sigmoid": U.SIGMOID,
    "exp": U.EXP,
    "tanh": U.TANH,
    "sqrt": U.SQRT,
    "rsqrt": U.RSQRT,
    "recip": U.RECIP,
    "log": U.LOG,
    "abs": U.ABS,
    "square": U.SQUARE,
    "identity": U.IDENTITY,
}


def normalize_activation(op: str, act, arg: str = "activation") -> UnaryWithParam | None:
    if act is None:
        return None
    if isinstance(act, UnaryWithParam):
        if act.op_type not in _FNS:
            raise SpecError(f"ttnn.{op}: argument {arg!r}: activation {act.op_type!r} is not supported")
        return act
    if isinstance(act, U):
        return UnaryWithParam(act)
    if isinstance(act, str):
        key = act.lower()
        if key not in _STRINGS:
            raise SpecError(
                f"ttnn.{op}: argument {arg!r}: unknown activation {act!r}; "
                f"known: {', '.join(sorted(_STRINGS))}"
            )
        return UnaryWithParam(_STRINGS[key])
    raise SpecError(
        f"ttnn.{op}: argument {arg!r} must be a string, ttnn.UnaryOpType or ttnn.UnaryWithParam, "
        f"got {type(act).__name__}"
    )


def normalize_activations(op: str, acts, arg: str) -> tuple[UnaryWithParam, ...]:
    if acts is None:
        return ()
    if not isinstance(acts, list | tuple):
        acts = [acts]
    return tuple(normalize_activation(op, a, arg) for a in acts)


def apply_activation(x: torch.Tensor, act: UnaryWithParam | None) -> torch.Tensor:
    if act is None:
        return x
    return _FNS[act.op_type](x, act)


def apply_activations(x: torch.Tensor, acts) -> torch.Tensor:
    for a in acts or ():
        x = _FNS[a.op_type](x, a)
    return x
