"""Golden functions: `op.golden_function` for every registered ttnn op, and `get_golden_function(op)`.

As in ttnn (`ttnn.get_golden_function(ttnn.add)(torch_a, torch_b)`), a golden function takes torch tensors in the
op's tensor parameters and the op's other arguments by the same names, ignores keywords the op does not have
(ttnn's goldens swallow `**kwargs`: `device=`, `memory_config=`, ...), and returns torch tensors. The values come
from the op's own sim rule run in float32, with no rounding to a TT format: the reference math the simulator
rounds from, never ttnn code. How a call becomes a sim call:
- each torch tensor becomes a TensorSpec (float dtypes as float32, or bfloat16 for ops refusing float32; integer
  dtypes as int32 / uint8 / uint16 / uint32) in TILE layout, or ROW_MAJOR where the op's spec rule refuses TILE
  (the values stay float32 torch tensors: no rounding to the format); the spec rule validates the call and
  gives the output specs the sim rule may read; integer outputs are wrapped to their dtype as a kernel packs them;
- a collective (`Traits.mesh_rule`) takes a list of per-device torch tensors (a 1 x N mesh) in its tensor parameter,
  or one tensor (a single device), and returns one result per device;
- keywords: the op's own names, ttnn's golden spellings of its first two inputs (`input_tensor_a=`, `value=`, ...)
  and of typecast's `output_dtype=`; other keywords are ignored unless they carry a tensor (an error);
- host and memory ops that run no device kernel (from_torch, to_torch, to_device, from_device, deallocate) return
  their tensor (ttnn's goldens of these are the identity too).

Invariant: every op in ttfuse.opdef.OPS that is ttnn API has a golden after `attach_all()` (tests/test_ttnn_api.py
checks it for every op the facade exports). Extend: nothing to do for an op with spec and sim rules; an op whose
golden differs from its sim (none today) assigns `op.golden_function` after `attach_all()`.
"""

from __future__ import annotations

import types
from collections.abc import Callable

import torch

from ttfuse.device import device_spec
from ttfuse.errors import SpecError
from ttfuse.numerics import round_to_dtype
from ttfuse.opdef import OPS, Group, OpDef, SimCtx, device_spec_context
from ttfuse.types import DRAM_MEMORY_CONFIG, DataType, Layout, TensorSpec

_INT_DTYPES = {
    torch.int32: DataType.INT32,
    torch.int64: DataType.INT32,
    torch.int16: DataType.INT32,
    torch.int8: DataType.INT32,
    torch.uint8: DataType.UINT8,
    torch.bool: DataType.UINT8,
}
for _name, _dt in (("uint16", DataType.UINT16), ("uint32", DataType.UINT32)):
    if hasattr(torch, _name):
        _INT_DTYPES[getattr(torch, _name)] = _dt


# torch dtype of an integer result computed from float inputs (uint32 needs int64 for its range)
_TORCH_INT = {
    DataType.INT32: torch.int32,
    DataType.UINT32: torch.int64,
    DataType.UINT16: torch.int32,
    DataType.UINT8: torch.uint8,
}


def get_golden_function(operation) -> Callable:
    """`ttnn.get_golden_function(op)`: the op's golden function; RuntimeError when it has none (as ttnn)."""
    golden = getattr(operation, "golden_function", None)
    if (
        golden is None and isinstance(operation, OpDef) and _is_api(operation)
    ):  # registered after attach_all()
        golden = operation.golden_function = make_golden(operation)
    if golden is None:
        raise RuntimeError(f"{operation} does not have a golden function")
    return golden


def attach_golden_function(operation, golden_function: Callable) -> None:
    """`ttnn.attach_golden_function(op, golden_function=...)`: set (or replace) the op's golden function."""
    operation.golden_function = golden_function


def _tt_dtype(t: torch.Tensor, float_dtype: DataType) -> DataType:
    return float_dtype if t.is_floating_point() else _INT_DTYPES.get(t.dtype, DataType.INT32)


def _value(t: torch.Tensor) -> torch.Tensor:
    return t.detach().to(torch.float32) if t.is_floating_point() else t.detach().to(torch.int64)


def _to_spec(
    t: torch.Tensor, layout: Layout, float_dtype: DataType, int_layout: Layout | None = None
) -> TensorSpec:
    """`t` as a DRAM TensorSpec; integer tensors take `int_layout` when given (page tables, positions: ROW_MAJOR
    beside TILE activations)."""
    lay = int_layout if int_layout is not None and not t.is_floating_point() else layout
    return TensorSpec(tuple(t.shape), _tt_dtype(t, float_dtype), lay, DRAM_MEMORY_CONFIG)


def _is_torch_list(v) -> bool:
    return isinstance(v, list | tuple) and bool(v) and all(isinstance(x, torch.Tensor) for x in v)


class _NoDevice:
    """What a golden call's spec rule sees as `device=` when none is given: goldens run on the host, but creation
    ops (`ttnn.empty`, `ttnn.rand`) refuse a missing device (ttnn's goldens of them take none)."""

    def __repr__(self) -> str:
        return "<golden: no device>"


_NO_DEVICE = _NoDevice()


def _spec_args(op: OpDef, args: dict, layout: Layout, fdt: DataType, ilay: Layout) -> tuple[dict, dict]:
    """(arguments with tensors as TensorSpecs, {tensor parameter: its spec(s)}) for one layout choice."""
    spec_args, in_specs = dict(args), {}
    if "device" in args and args["device"] is None:
        spec_args["device"] = _NO_DEVICE
    for k, v in args.items():
        if isinstance(v, torch.Tensor):
            spec_args[k] = in_specs[k] = _to_spec(v, layout, fdt, ilay)
        elif _is_torch_list(v):
            if op.traits.mesh_rule:  # per-device tensors of one mesh tensor: the spec of one device's part
                spec_args[k] = in_specs[k] = _to_spec(v[0], layout, fdt, ilay)
            else:
                spec_args[k] = in_specs[k] = type(v)(_to_spec(x, layout, fdt, ilay) for x in v)
    return spec_args, in_specs


def _finish(v, spec: TensorSpec, like: torch.dtype | None):
    if not isinstance(v, torch.Tensor):
        return v
    if spec.dtype.is_integer:
        v = round_to_dtype(v, spec.dtype.value)
        if like is not None and not like.is_floating_point and like is not torch.bool:
            return v.to(like)  # integer inputs: their torch dtype
        return v.to(_TORCH_INT[spec.dtype])
    return v.to(torch.float32)


# How torch inputs are described to the spec rule, in order of preference: float32 tiles first; bfloat16 for
# ops that take no float32 (SDPA); integer tensors in the same layout first, then ROW_MAJOR (paged ops: TILE caches,
# ROW_MAJOR page tables); the sim rule computes in float32 either way
_CHOICES = tuple(
    (lay, fdt, ilay)
    for fdt in (DataType.FLOAT32, DataType.BFLOAT16)
    for lay in (Layout.TILE, Layout.ROW_MAJOR)
    for ilay in dict.fromkeys((lay, Layout.ROW_MAJOR))
)


def _run(op: OpDef, args: dict):
    if op.spec_rule is None or op.sim_rule is None:  # host / memory ops: no kernel, the tensor itself
        for v in args.values():
            if isinstance(v, torch.Tensor):
                return v
        return None
    n_dev = max((len(v) for v in args.values() if op.traits.mesh_rule and _is_torch_list(v)), default=1)
    mesh_shape = (1, n_dev)
    err = None
    for layout, fdt, ilay in _CHOICES:
        spec_args, in_specs = _spec_args(op, args, layout, fdt, ilay)
        try:
            with device_spec_context(device_spec(), mesh_shape):
                out_spec = op.spec_rule(**spec_args)
            break
        except SpecError as e:
            err = err or e
    else:
        raise SpecError(f"{op.qualname} golden function: {err}") from None
    multi = isinstance(out_spec, tuple | list)
    out_specs = list(out_spec) if multi else [out_spec]
    like = next((v.dtype for v in args.values() if isinstance(v, torch.Tensor)), None)
    values = {}
    for k, v in args.items():
        if isinstance(v, torch.Tensor):
            values[k] = _value(v)
        elif _is_torch_list(v):
            values[k] = type(v)(_value(x) for x in v)
        else:
            values[k] = v
    if op.traits.mesh_rule:
        for k, v in values.items():  # one tensor is a one-device mesh
            if isinstance(v, torch.Tensor) and k in in_specs:
                values[k] = [v]
        mesh = types.SimpleNamespace(shape=types.SimpleNamespace(rows=1, cols=n_dev))
        with device_spec_context(device_spec(), mesh_shape):
            per_dev = op.sim_rule(SimCtx(op, out_spec, in_specs, None, 0, mesh), **values)
    else:
        per_dev = [op.sim_rule(SimCtx(op, out_spec, in_specs, None, 0, None), **values)]
    results = []
    for res in per_dev:
        res_list = list(res) if multi else [res]
        done = [_finish(v, s, like) for v, s in zip(res_list, out_specs)]
        results.append(type(res)(done) if multi else done[0])
    if op.traits.mesh_rule:
        return results
    return results[0]


# Keywords ttnn 0.81.1's golden functions name an op's first / second input by where the op's own parameter is
# named otherwise (`ttnn.abs` golden: input_tensor_a; `ttnn.bitwise_and`: value; `ttnn.bitwise_left_shift`:
# input_tensor, shift_amt; `ttnn.clone`: tensor; read from the wheel's `op.golden_function` signatures)
_POSITION_KEYWORDS = {
    "input_tensor": 0,
    "input_tensor_a": 0,
    "input_a": 0,
    "tensor": 0,
    "input": 0,
    "input_tensor_b": 1,
    "input_b": 1,
    "value": 1,
    "shift_amt": 1,
}
_RENAMES = {"typecast": {"output_dtype": "dtype"}, "repeat": {"shape": "repeat_dims"}}


def _golden_kwargs(op: OpDef, n_args: int, kwargs: dict) -> dict:
    """`kwargs` in the op's parameter names: ttnn's golden keyword spellings mapped, the keywords ttnn's goldens
    swallow (device=, memory_config=, ...) dropped; a tensor under a keyword the op lacks is an error, never
    silently ignored (ttnn's matmul golden takes bias=, ttnn.matmul does not)."""
    renames = _RENAMES.get(op.name, {})
    positional = [p for p in op.params if op.signature.parameters[p].kind.name == "POSITIONAL_OR_KEYWORD"]
    out = {}
    for k, v in kwargs.items():
        if k not in op.params:
            if k in renames:
                k = renames[k]
            elif k in _POSITION_KEYWORDS and _POSITION_KEYWORDS[k] < len(positional):
                k = positional[_POSITION_KEYWORDS[k]]
            elif isinstance(v, torch.Tensor):
                raise SpecError(f"{op.qualname} golden function: {op.qualname} has no tensor parameter {k!r}")
            else:
                continue
        out[k] = v
    return out


def make_golden(op: OpDef) -> Callable:
    """The golden function of `op` (see the module docstring)."""

    def golden(*args, **kwargs):
        args = args[: len(op.params)]
        return _run(op, op.bind_args(args, _golden_kwargs(op, len(args), kwargs)))

    golden.__name__ = f"golden_{op.short}"
    golden.__qualname__ = f"golden_function({op.qualname})"
    golden.__doc__ = f"Golden (torch, float32) reference of {op.qualname}, from its simulator rule."
    return golden


def attach_all() -> None:
    """Give every ttnn op (not ttfuse's fused kernels) its golden function, unless it already has one."""
    for op in OPS.values():
        if _is_api(op) and op.golden_function is None:
            op.golden_function = make_golden(op)


def _is_api(op: OpDef) -> bool:
    """A ttnn op (ttfuse's fused kernels are not API and have no golden)."""
    return op.group is not Group.FUSED and not op.name.startswith("kernels.")
