"""Bitwise ops on integer tensors: `bitwise_and/or/xor`, `bitwise_not`, `bitwise_left_shift/right_shift`,
with the real ttnn 0.81.1 signatures (positional tensors, `memory_config` / `output_tensor` / `sub_core_grids`
/ `sub_device_id` keywords).

Dtype rules (tt-metal `ttnn/cpp/ttnn/operations/eltwise/binary/binary_nanobind.cpp` and
`ttnn/cpp/ttnn/operations/eltwise/unary/unary_nanobind.cpp`, the "Supported dtypes and layouts" tables that
0.81.1 ships in each op's docstring):
- binary forms: INT32, UINT16, UINT32, TILE or ROW_MAJOR; both operands the same dtype; the second operand may
  be a Python int; output: the first operand's dtype, layout and (default) memory config, shapes broadcast as
  the other binary ops do (ttfuse/ops/eltwise.py `broadcast_shape`).
- `bitwise_not`: INT32 only.
- `bitwise_right_shift`: arithmetic for int32, logical for unsigned; uint32 counts >= 32 saturate to 31, int32
  counts outside [0, 31] give 0 (the 0.81.1 docstring). Left shifts wrap to the dtype's width.

Values: integer shards are int64 torch tensors (ttfuse/numerics.py); the executor wraps each result to its
dtype once (`round_to_dtype`), as the kernel packs it.
Extend: a new bitwise binary op is one `_bitwise_binary(...)` row (a torch function of (a, b)).
"""

from __future__ import annotations

import torch

from ttfuse.opdef import Group, register_op
from ttfuse.ops.common import default_cost, fail, need_dtype, need_memory_config, need_spec, out_spec
from ttfuse.ops.eltwise import _REQ, _stub, broadcast_shape
from ttfuse.types import DataType, TensorSpec

D = DataType
BITWISE_DTYPES = frozenset({D.INT32, D.UINT32, D.UINT16})
_TAIL = (("memory_config", None), ("output_tensor", None), ("sub_core_grids", None), ("sub_device_id", None))
_AB = (("input_tensor_a", _REQ), ("input_tensor_b", _REQ))


def _bitwise_binary(name: str, doc: str, fn):
    """Register `name(a, b)`: `fn(a, b, dtype)` on int64 values (b a tensor or a Python int)."""
    op = register_op(name, Group.ELTWISE_BINARY)(_stub(name, doc, _AB, _TAIL))

    @op.spec
    def _spec(input_tensor_a, input_tensor_b, memory_config=None, **_):
        a = need_spec(name, "input_tensor_a", input_tensor_a)
        need_dtype(name, "input_tensor_a", a, BITWISE_DTYPES)
        need_memory_config(name, memory_config)
        shape = tuple(a.shape)
        if isinstance(input_tensor_b, TensorSpec):
            need_dtype(name, "input_tensor_b", input_tensor_b, BITWISE_DTYPES)
            if input_tensor_b.dtype is not a.dtype:
                raise fail(
                    name,
                    f"operands must have the same dtype: 'input_tensor_a' is {a.dtype.value}, "
                    f"'input_tensor_b' is {input_tensor_b.dtype.value}",
                )
            shape = broadcast_shape(
                name, [("input_tensor_a", a.shape), ("input_tensor_b", input_tensor_b.shape)]
            )
        elif isinstance(input_tensor_b, bool) or not isinstance(input_tensor_b, int):
            raise fail(
                name,
                f"argument 'input_tensor_b' must be a ttnn.Tensor or an int, got {type(input_tensor_b).__name__}",
            )
        return out_spec(a, shape=shape, memory_config=memory_config)

    @op.sim
    def _sim(ctx, input_tensor_a, input_tensor_b, **_):
        a = input_tensor_a.to(torch.int64)
        b = input_tensor_b.to(torch.int64) if isinstance(input_tensor_b, torch.Tensor) else input_tensor_b
        return fn(a, b, ctx.in_specs["input_tensor_a"].dtype)

    op.cost(default_cost)
    return op


def _right_shift(a, b, dtype):
    b = b if isinstance(b, torch.Tensor) else torch.tensor(b, dtype=torch.int64)
    if dtype is D.INT32:  # arithmetic; counts outside [0, 31] give 0
        return torch.where((b >= 0) & (b <= 31), a >> b.clamp(0, 31), torch.zeros_like(a))
    return a >> b.clamp(0, 31)  # unsigned values are non-negative int64: logical; counts saturate at 31


def _left_shift(a, b, dtype):
    b = b if isinstance(b, torch.Tensor) else torch.tensor(b, dtype=torch.int64)
    return torch.where((b >= 0) & (b <= 31), a << b.clamp(0, 31), torch.zeros_like(a))


_bitwise_binary("bitwise_and", "Elementwise a & b (int32, uint16, uint32).", lambda a, b, d: a & b)
_bitwise_binary("bitwise_or", "Elementwise a | b (int32, uint16, uint32).", lambda a, b, d: a | b)
_bitwise_binary("bitwise_xor", "Elementwise a ^ b (int32, uint16, uint32).", lambda a, b, d: a ^ b)
_bitwise_binary("bitwise_left_shift", "Elementwise a << b (shift counts in [0, 31]).", _left_shift)
_bitwise_binary(
    "bitwise_right_shift", "Elementwise a >> b (arithmetic for int32, logical for unsigned).", _right_shift
)


@register_op("bitwise_not", Group.ELTWISE_UNARY)
def bitwise_not(input_tensor, *, memory_config=None, output_tensor=None, sub_core_grids=None):
    """Elementwise ~x (int32)."""


@bitwise_not.spec
def _not_spec(input_tensor, memory_config=None, **_):
    s = need_spec("bitwise_not", "input_tensor", input_tensor)
    need_dtype("bitwise_not", "input_tensor", s, frozenset({D.INT32}))
    need_memory_config("bitwise_not", memory_config)
    return out_spec(s, memory_config=memory_config)


@bitwise_not.sim
def _not_sim(ctx, input_tensor, **_):
    return ~input_tensor.to(torch.int64)


bitwise_not.cost(default_cost)
