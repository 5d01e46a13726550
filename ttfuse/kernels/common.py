"""Shared helpers of the fused kernels: registration under `ttfuse.kernels.*`, composite steps, errors.

A fused kernel is an OpDef in Group.FUSED named `kernels.<name>` (qualname `ttfuse.kernels.<name>`, never
exported by the ttnn facade). Most block kernels are defined as a *composite*: an ordered list of steps, each a
stock ttnn op (layer_norm, minimal_matmul, linear, ...) or an elementwise epilogue. The helpers here let a
kernel reuse the stock ops' rules step by step:
- `step_spec(kernel, op, **args)`: the stock op's spec rule on TensorSpecs (defaults applied); its SpecError
  is re-raised naming the kernel and the step, so a kernel accepts exactly what its composite would;
- `step_sim(op, out_spec, in_specs, **args)`: the stock op's sim rule on float32 values, rounded once to the
  step's output dtype: the tensor that step really writes out (one rounding per written tensor);
- `composite_cost(ctx, steps)`: the sum of the steps' cost rules, with the kernel's own launch count;
- configs all the way down: a kernel with matmul / SDPA / norm / softmax steps takes `step_configs`, a tuple of
  `(step name, program config)` pairs chosen by the select_configs pass (a nested kernel step's entry is its own
  `step_configs` tuple). Its step-spec function names those steps (`step_spec(..., step="w12", config=
  step_config(a, "w12"))`), its ttnn rule passes `step_config(a, name)` to the stock call, its sim and cost rules
  pass it to the stock rules; `record_steps(op, args)` lists the named steps for the pass.
Invariant: a kernel's sim equals running its ttnn rule (the composite of stock calls) on the simulator, up to
the intermediate roundings the fused form saves (tests/passes/test_kernels.py checks each kernel).
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from ttfuse.errors import SpecError, got
from ttfuse.numerics import round_to_dtype
from ttfuse.opdef import (
    OPS,
    CostCtx,
    Group,
    OpCost,
    SimCtx,
    Traits,
    current_device_spec,
    current_mesh_shape,
    register_op,
)
from ttfuse.types import BufferType, TensorSpec

PREFIX = "kernels."


def register_kernel(name: str, *, launches: int | Callable = 1, traits: Traits | None = None) -> Callable:
    """`@register_kernel("transition", launches=3, traits=Traits(split="rows"))` on a signature function: a
    Group.FUSED OpDef named `kernels.<name>` (`traits`: how passes may split, spill and configure it)."""
    return register_op(
        PREFIX + name, Group.FUSED, launches=launches, qualname="ttfuse.kernels." + name, traits=traits
    )


def set_ttnn_rule(op, fn: Callable) -> None:
    """Install `fn(ttnn, **args)` as the kernel's ttnn rule, called like the kernel itself (defaults applied):
    `op.ttnn_rule(ttnn_module, *args, **kwargs)` runs the stock composite on that ttnn module."""

    def rule(ttnn, *args, **kwargs):
        return fn(ttnn, **op.bind_args(args, kwargs))

    rule.__doc__ = fn.__doc__
    op.ttnn_rule = rule


def kfail(kernel: str, msg: str) -> SpecError:
    """A SpecError naming the kernel, like `fail` names ttnn ops."""
    return SpecError(f"ttfuse.kernels.{kernel}: {msg}")


_DEFAULTS: dict[str, dict] = {}


def bind(op: str, args: dict) -> dict:
    """Arguments of a stock op by parameter name with its defaults applied (unknown names: TypeError)."""
    d = _DEFAULTS.get(op)
    if d is None:
        params = OPS[op].signature.parameters
        d = _DEFAULTS[op] = {k: p.default for k, p in params.items() if p.default is not p.empty}
        d["__names__"] = frozenset(params)
    bad = [k for k in args if k not in d["__names__"]]
    if bad:
        raise TypeError(f"{op}: unknown argument(s) {bad}")
    out = {k: v for k, v in d.items() if k != "__names__"}
    out.update(args)
    return out


_STEP_SPECS: dict = {}  # (op, args, device spec) -> output spec(s): spec rules are pure functions of these
_STEP_SPECS_MAX = 4096


# ------------------------------------------------------------------------------------------ step configs
@dataclass(frozen=True)
class StepCall:
    """One named step of a composite kernel as its spec rule asked for it: the path of step names (nested kernels
    prefix theirs), the stock op, its arguments by parameter name (TensorSpecs for tensors, defaults applied) and
    its output spec(s)."""

    path: tuple[str, ...]
    op: str
    args: dict
    out: Any


_RECORD: contextvars.ContextVar[list | None] = contextvars.ContextVar("ttfuse_step_record", default=None)
_PREFIX: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("ttfuse_step_prefix", default=())


def record_steps(op, args: dict) -> list[StepCall]:
    """The named steps (`step_spec(..., step=...)`) kernel `op`'s spec rule runs for `args` (defaults applied,
    TensorSpecs for tensors), nested kernels' steps included, in order. SpecErrors propagate."""
    log: list[StepCall] = []
    tok = _RECORD.set(log)
    try:
        op.spec_rule(**args)
    finally:
        _RECORD.reset(tok)
    return log


def step_config(a: dict, step: str):
    """The config the select_configs pass chose for `step` of a kernel called with arguments `a` (None: none
    chosen; ttnn picks its default). For a nested kernel step: its `step_configs` tuple; a dotted name
    ("qg.mm") reads a nested kernel's step."""
    entries = a.get("step_configs") or ()
    for part in step.split("."):
        entries = next((cfg for name, cfg in entries or () if name == part), None)
    return entries


def step_spec(kernel: str, op: str, *, step: str | None = None, **args: Any) -> Any:
    """The spec rule of stock op `op` for one step of `kernel`; SpecErrors name the kernel and the step.

    `step`: the step's name when it takes a program config (`step_configs`), listed by `record_steps`.
    Memoised (a kernel's spec and sim rules ask for the same steps on every call; a rejection is not stored, so
    it is raised again). Arguments that cannot be hashed (lists) skip the memo."""
    log = _RECORD.get()

    def compute():
        tok = _PREFIX.set(_PREFIX.get() + (step,)) if log is not None and step is not None else None
        try:
            return OPS[op].spec_rule(**bind(op, args))
        except SpecError as e:
            raise kfail(kernel, f"step {OPS[op].qualname} rejects its inputs: {e}") from None
        finally:
            if tok is not None:
                _PREFIX.reset(tok)

    if log is None:
        return _memoised((op,), args, compute)
    out = compute()  # recording: no memo, so nested steps are seen
    if step is not None:
        log.append(StepCall(_PREFIX.get() + (step,), op, bind(op, args), out))
    return out


def _memoised(head: tuple, args: dict, compute: Callable) -> Any:
    """compute() memoised in _STEP_SPECS under head + the sorted `args` + the current device and mesh; arguments
    holding torch tensors or unhashable values are computed every time (an exception is never stored)."""
    try:
        if _RECORD.get() is not None or any(isinstance(v, torch.Tensor) for v in args.values()):
            raise TypeError
        key = (*head, tuple(sorted(args.items())), current_device_spec(), current_mesh_shape())
        hit = _STEP_SPECS.get(key)
    except TypeError:
        return compute()
    if hit is None:
        hit = compute()
        if len(_STEP_SPECS) >= _STEP_SPECS_MAX:
            _STEP_SPECS.clear()
        _STEP_SPECS[key] = hit
    return hit


def memo_steps(fn: Callable) -> Callable:
    """Memoise a kernel's step-spec function `fn(*static, args_dict) -> step specs`: a pure function of its
    arguments (TensorSpecs and plain values) and the device, asked by the kernel's spec rule and again by its sim
    rule on every call (50 us for AdaLN's five steps, 5 us from the memo)."""
    name = fn.__qualname__

    def wrapper(*args):
        return _memoised(("steps", name, args[:-1]), args[-1], lambda: fn(*args))

    wrapper.__wrapped__ = fn
    wrapper.__doc__ = fn.__doc__
    return wrapper


def step_sim(op: str, out_spec, in_specs: dict, *, round_out: bool = True, **args: Any):
    """Run the stock op's sim rule for one step; the result is rounded to the step's output dtype(s)."""
    opdef = OPS[op]
    res = opdef.sim_rule(SimCtx(opdef, out_spec, in_specs), **bind(op, args))
    if not round_out:
        return res
    if isinstance(out_spec, tuple | list):
        return [round_to_dtype(v, s.dtype.value) for v, s in zip(res, out_spec)]
    return round_to_dtype(res, out_spec.dtype.value)


def ab_step_sim(op: str, out_spec, a_spec, b_spec, a, b, *, round_out: bool = True, **args: Any):
    """`step_sim` of a stock op on `input_tensor_a` / `input_tensor_b` (linear, multiply, add): values a, b whose
    TensorSpecs are a_spec, b_spec; `args` are the op's other arguments."""
    in_specs = {"input_tensor_a": a_spec, "input_tensor_b": b_spec}
    return step_sim(op, out_spec, in_specs, round_out=round_out, input_tensor_a=a, input_tensor_b=b, **args)


def swiglu_step_sim(out_spec, x_spec, w_spec, x, w, compute_kernel_config):
    """`step_sim` of a stock minimal_matmul step with fuse_swiglu=True: silu(x @ W_gate) * (x @ W_up) from the
    tile-interleaved weight w (the SwiGLU steps of the transition kernels)."""
    return step_sim(
        "experimental.minimal_matmul",
        out_spec,
        {"input_tensor": x_spec, "weight_tensor": w_spec},
        input_tensor=x,
        weight_tensor=w,
        fuse_swiglu=True,
        compute_kernel_config=compute_kernel_config,
    )


def step_cost(op: str, in_specs: dict, out_specs, device_spec=None, **args: Any) -> OpCost:
    """The stock op's cost for one step (tensor args as TensorSpecs)."""
    from ttfuse.ops.common import default_cost

    opdef = OPS[op]
    outs = list(out_specs) if isinstance(out_specs, tuple | list) else [out_specs]
    full = bind(op, args)
    ctx = CostCtx(opdef, in_specs, outs, full, device_spec)
    return (opdef.cost_rule or default_cost)(ctx)


def linear_step_cost(x, w, out, device_spec, compute_kernel_config, program_config=None) -> OpCost:
    """`step_cost` of a stock `ttnn.linear` step x @ w (TensorSpecs) -> out, with the step's program config."""
    return step_cost(
        "linear",
        {"input_tensor_a": x, "input_tensor_b": w},
        out,
        device_spec,
        input_tensor_a=x,
        input_tensor_b=w,
        compute_kernel_config=compute_kernel_config,
        program_config=program_config,
    )


def step_fidelity(compute_kernel_config):
    """The math fidelity a composite's matmul steps run at, for its sim: the config passed, else what ttnn's
    matmuls default to for the bf16 / bfp8 operands the kernels take (HiFi2; ttfuse/ops/matmul_config.py), the
    same fidelity the simulator emulates for those stock steps run eagerly."""
    from ttfuse.configs import MathFidelity

    return compute_kernel_config.math_fidelity if compute_kernel_config is not None else MathFidelity.HiFi2


def add_costs(costs: list[OpCost], launches: int) -> OpCost:
    """Sum of step costs with the kernel's launch count (its fidelity: the first matmul step's)."""
    out = OpCost(launches=launches)
    fid = None
    for c in costs:
        out.accumulate(c, launches=False)
        if fid is None and c.matmul_flops:
            fid = c.fidelity
    out.fidelity = fid or "HiFi2"
    return out


def need_tensor(kernel: str, arg: str, v) -> TensorSpec:
    if not isinstance(v, TensorSpec):
        raise kfail(kernel, f"argument {arg!r} must be a ttnn.Tensor, got {got(v)}")
    return v


def dtype_of(spec: TensorSpec):
    return spec.dtype


def tensors_ctx(ctx) -> dict:
    """The kernel call's input specs by parameter name (from its SimCtx or CostCtx)."""
    return dict(ctx.in_specs)


def declare_intermediates(op, steps: Callable[[dict], tuple], *, in_l1: bool = True) -> None:
    """Declare a composite kernel's internal tensors from its step-spec function `steps(args) -> (step outputs,
    ..., final output)`: `Traits.intermediate_specs(ctx)` lists every step output but the last, and
    `Traits.working_set(ctx)` is the bytes of those the steps place in L1 (what the chunk pass and place_memory count
    in L1 beyond the kernel's inputs and outputs; a sum over the steps, an upper bound of the composite's peak):
    the same placement the composite's ttnn rule and cost rule use. in_l1=False: working set 0 (a composite
    whose step memory configs do not follow its step specs')."""

    def specs(ctx) -> list[TensorSpec]:
        out: list[TensorSpec] = []

        def walk(v):
            if isinstance(v, TensorSpec):
                out.append(v)
            elif isinstance(v, tuple | list):
                for x in v:
                    walk(x)

        # NOTE: without the step configs: the tensors the steps write do not depend on them, and a config chosen
        # for another device's grid would fail the steps' checks on whatever device asks
        args = dict(ctx.args)
        if args.get("step_configs") is not None:
            args["step_configs"] = None
        for v in steps(args)[:-1]:
            walk(v)
        return out

    def l1_bytes(ctx) -> int:
        return sum(s.nbytes for s in specs(ctx) if s.memory_config.buffer_type is not BufferType.DRAM)

    op.declare(intermediate_specs=specs, working_set=l1_bytes if in_l1 else (lambda ctx: 0))
