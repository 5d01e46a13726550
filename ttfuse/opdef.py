"""OpDef: one place per TTNN op, and `bind()`, which asks the current trace what to do with a call.

An op is registered once with its real ttnn name and Python signature (the real ttnn keyword names):

    @register_op("linear", Group.MATMUL)
    def linear(input_tensor_a, input_tensor_b, *, bias=None, ..., activation=None): "doc"

    @linear.spec      # (tensor args as TensorSpecs, static args) -> TensorSpec | tuple/list of them
    @linear.sim       # (ctx, tensor args as float32 torch tensors, static args) -> torch tensor(s)
    @linear.cost      # (ctx: CostCtx) -> OpCost                     (optional: a default exists)
    linear.ttnn_rule  # how to call real ttnn (default: the attribute path `ttnn.<name>`)

Everything else a pass, the simulator, capture or codegen must know about an op (how it splits, whether it
folds into a fused activation, what it writes in place, ...) is its `Traits`: a frozen, typed record given at
registration, `@register_op("layer_norm", Group.NORM, traits=Traits(split=rows("input_tensor")))`. Readers use
`op.traits.<field>`; there are no side tables keyed by op name and no hook attributes looked up by getattr.

Recipes (docs/architecture.md "Recipes" lists the files touched):
- a new elementwise op (1 file, ttfuse/ops/eltwise.py): register it in an ELTWISE group with its spec and sim
  rules. The ELTWISE groups split like ttnn binary ops by default (`Traits.split = "eltwise"`), so the chunk
  pass and the simulator's row blocks take it, and the fuse pass's eltwise clustering fuses any registered
  unary op. When a fused activation computes it exactly, add `Traits(activation=UnaryOpType.X)`: binary ops,
  linear epilogues (see passes/fuse.py) then absorb it.
- a new chunkable op (1 file, its ops module): `Traits(split="rows")` (independent over every output dim but
  the last; `split_inputs` names the inputs split with the output, default the first tensor parameter) or a
  callable `(node, in_specs) -> list[Axis]` from ttfuse/axes.py's helpers, written next to the op.
- a new fused kernel: see ttfuse/kernels/__init__.py.

Calling `ttnn.linear(...)` binds the arguments to the signature (unknown keywords are a SpecError naming
the op and the user's line), then hands `(op, args)` to the innermost trace on the trace stack:
the eager trace runs it now on the backend (ttfuse.sim by default); a graph trace (ttfuse.capture)
records a Node. Rules never see Tensor objects: spec rules get TensorSpecs, sim rules get torch tensors.

Invariant: spec rules are pure functions of (specs, static args), and raise SpecError on input real TTNN
rejects; sim rules compute in float32 and return unrounded values (the executor rounds once to the
output dtype, as a TT kernel packs its result).
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import inspect
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ttfuse import metal_trace as _metal_trace
from ttfuse.errors import SpecError, TtfuseError, got, with_user_frame


class Group(enum.Enum):
    HOST = "host"  # host-side conversion, no device kernel
    MEMORY = "memory"  # allocation bookkeeping (deallocate, reallocate)
    DATA_MOVEMENT = "data_movement"
    ELTWISE_UNARY = "eltwise_unary"
    ELTWISE_BINARY = "eltwise_binary"
    ELTWISE_TERNARY = "eltwise_ternary"
    REDUCE = "reduce"
    MATMUL = "matmul"
    NORM = "norm"
    SOFTMAX = "softmax"
    ATTENTION = "attention"
    CONV = "conv"  # sliding-window ops: conv2d (ttfuse/ops/conv.py)
    CCL = "ccl"
    FUSED = "fused"  # ttfuse kernels emitted by passes


ELTWISE = frozenset({Group.ELTWISE_UNARY, Group.ELTWISE_BINARY, Group.ELTWISE_TERNARY})


@dataclass
class OpCost:
    """Work of one op call: FLOPs, bytes moved per memory, kernel launches, bytes over ethernet links."""

    flops: float = 0.0
    dram_bytes: int = 0
    l1_bytes: int = 0
    launches: int = 1
    link_bytes: int = 0
    fidelity: str = "HiFi2"
    matmul_flops: float = 0.0  # the part of flops done on the matrix engine
    # tile multiply-accumulates of the busiest core for the part `core_tiles_flops` of matmul_flops whose program
    # config says how it spreads over cores (fused kernels' configured steps); the rest is spread evenly
    core_tiles: float = 0.0
    core_tiles_flops: float = 0.0

    def accumulate(self, other: OpCost, *, launches: bool = True) -> None:
        """Add `other`'s work into this cost, its launches too unless told not; the fidelity stays."""
        self.flops += other.flops
        self.matmul_flops += other.matmul_flops
        self.core_tiles += getattr(other, "core_tiles", 0.0)  # NodeCost rows have none
        self.core_tiles_flops += getattr(other, "core_tiles_flops", 0.0)
        self.dram_bytes += other.dram_bytes
        self.l1_bytes += other.l1_bytes
        if launches:
            self.launches += other.launches
        self.link_bytes += other.link_bytes


@dataclass
class SimCtx:
    """What a sim rule may know beyond its arguments."""

    op: OpDef
    out_spec: object  # TensorSpec or tuple/list of TensorSpecs
    in_specs: dict  # param name -> TensorSpec (or list of them)
    device: object = None  # the sim chip running this shard (None on host)
    device_index: int = 0  # position of the chip in its mesh
    mesh: object = None


@dataclass
class CostCtx:
    op: OpDef
    in_specs: dict
    out_specs: list
    args: dict  # static args by name (tensor params hold their TensorSpec)
    device_spec: object = None
    mesh_shape: tuple[int, int] = (1, 1)


@dataclass(frozen=True)
class Traits:
    """What passes, the simulator, capture and codegen may assume about an op, declared at its registration.

    Every field has a neutral default, so an op declares only what differs. Callables receive IR nodes and
    TensorSpecs, never tensors; `Axis` is ttfuse.axes.Axis.
    """

    # --- splitting (the chunk pass and the simulator's row blocks)
    split: str | Callable | None = None
    """How the op splits into independent pieces: "eltwise" (every output dim but the last, inputs broadcast
    like a ttnn binary op; the default of the ELTWISE groups), "rows" (the same, only `split_inputs` split with
    the output, the other inputs passed whole), or `(node, in_specs) -> list[Axis]`; None: never split."""
    split_inputs: tuple[str, ...] = ()
    """With split="rows": the tensor parameters split with the output (default: the first tensor parameter)."""
    block: Callable | None = None
    """`(node, in_specs) -> list[Axis]` for the simulator's row-blocked regions when they differ from `split`
    (pure data movement the chunk pass does not split: reshape, permute, head split/merge)."""
    working_set: Callable[[CostCtx], int] | None = None
    """L1 bytes a fused kernel holds beyond its inputs and outputs (the chunk pass and place_memory count them)."""
    intermediate_specs: Callable[[CostCtx], list] | None = None
    """A fused kernel's internal tensors (TensorSpecs): the simulator's row blocks size their blocks with them."""
    spill: Mapping[str, Any] | None = None
    """Arguments giving a fused kernel's spilled variant (its L1 intermediates in DRAM), weighed by the chunk pass
    against chunking when the kernel overflows L1; applied only where the code left them None."""

    # --- fusion, configs, cost
    activation: Any = None
    """The UnaryOpType a fused activation computes this (plain, default-mode) unary op with, else None: binary
    ops and linear epilogues absorb it (passes/fuse.py)."""
    config_rule: str | Callable | None = None
    """How select_configs chooses the op's program / compute kernel configs: a rule kind the pass knows ("matmul",
    "sdpa", "norm", "softmax", "minimal_matmul", "fused", "ring_sdpa") or `(node, in_specs, select_ctx) -> (updates, notes)`.
    None: no configs (Group.FUSED ops default to "fused")."""
    overlaps_communication: bool = False
    """The cost model overlaps the op's link time with its compute (max), instead of adding it."""
    persistent: bool = False
    """The runtime memoises the op's result (kernels.concat_weights): passes never deallocate it, and it runs once
    per set of weights, not per call."""

    # --- execution
    inplace: str | None = None
    """The parameter the op writes in place (add_, copy, softmax_in_place), else None."""
    may_view: bool = False
    """A call launching 0 kernels returns its first input or a view of it (reshape, to_memory_config, ...)."""
    host_ok: bool = False
    """The op also runs on host tensors (to_layout, reshape, creation ops, ...)."""
    mesh_rule: bool = False
    """The sim rule sees the shards of all the mesh's devices at once (collectives)."""
    consumes: str | None = None
    """The input parameter the op frees (reallocate moves its input)."""
    eager_impl: Callable | None = None
    """Bypasses the executor when run eagerly (host conversions, deallocate); capture refuses such ops unless
    they have a spec rule."""


_MISSING = object()


def _fast_binder(sig: inspect.Signature) -> tuple | None:
    """(positional parameter names, {name: default or _MISSING} in signature order) for `OpDef.bind_args`'s fast
    path; None for signatures with *args / **kwargs / positional-only parameters (they always use bind)."""
    P = inspect.Parameter
    if any(p.kind not in (P.POSITIONAL_OR_KEYWORD, P.KEYWORD_ONLY) for p in sig.parameters.values()):
        return None
    positional = tuple(n for n, p in sig.parameters.items() if p.kind is P.POSITIONAL_OR_KEYWORD)
    template = {n: (_MISSING if p.default is P.empty else p.default) for n, p in sig.parameters.items()}
    return positional, template


def _rule_setter(attr: str) -> Callable:
    """An OpDef decorator method: store the decorated function as the op's `attr` rule and return it."""

    def set_rule(self: OpDef, f: Callable) -> Callable:
        setattr(self, attr, f)
        return f

    return set_rule


class OpDef:
    """One TTNN op: name, signature and its rules. Callable like the ttnn function it models."""

    def __init__(
        self,
        name: str,
        fn: Callable,
        group: Group,
        *,
        launches: int | Callable = 1,
        qualname: str | None = None,
        traits: Traits | None = None,
    ):
        self.name = name  # "linear", "transformer.scaled_dot_product_attention"
        self.qualname = qualname or "ttnn." + name  # ttfuse kernels: "ttfuse.kernels.transition"
        self.short = name.rsplit(".", 1)[-1]
        self.group = group
        self.signature = inspect.signature(fn)
        self.params = tuple(self.signature.parameters)
        self._binder = _fast_binder(self.signature)
        self.launches = launches
        traits = traits or Traits()
        if traits.split is None and group in ELTWISE:
            traits = dataclasses.replace(traits, split="eltwise")
        self.traits = traits
        # the keyword ttnn names a preallocated output with (output_tensor=, optional_output_tensor=, ...), else None
        self.prealloc = next((p for p in PREALLOCATED_OUTPUTS if p in self.params), None)
        self.spec_rule: Callable | None = None
        self.sim_rule: Callable | None = None
        self.cost_rule: Callable | None = None
        self.ttnn_rule: Callable | None = None
        # torch in, torch out reference, as ttnn attaches one to each op (ttfuse/ops/golden.py fills it)
        self.golden_function: Callable | None = None
        self.__doc__ = fn.__doc__
        self.__name__ = self.short
        self.__qualname__ = self.qualname
        self.__wrapped__ = fn

    def declare(self, **traits: Any) -> None:
        """Add traits to the op's record (a new frozen `Traits`), for registration helpers that give a family of
        ops the same behaviour (`with_launch_rule`, `declare_intermediates`); run at registration only."""
        self.traits = dataclasses.replace(self.traits, **traits)

    # rule registration (decorators): `@op.spec` sets op.spec_rule, and so on
    spec = _rule_setter("spec_rule")
    sim = _rule_setter("sim_rule")
    cost = _rule_setter("cost_rule")
    ttnn = _rule_setter("ttnn_rule")

    def bind_args(self, args: tuple, kwargs: dict) -> dict:
        """Arguments by parameter name, defaults applied; a SpecError for a call ttnn would reject."""
        b = self._binder
        if b is not None and len(args) <= len(b[0]):  # the common call: no inspect.Signature.bind (~30 us)
            positional, template = b
            out = dict(template)
            out.update(zip(positional, args))
            if kwargs.keys() <= out.keys() and not any(p in kwargs for p in positional[: len(args)]):
                out.update(kwargs)
                if not any(v is _MISSING for v in out.values()):  # identity: values may be tensors
                    return out
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as e:
            raise with_user_frame(SpecError(f"{self.qualname}: {e}")) from None
        bound.apply_defaults()
        return bound.arguments

    def __call__(self, *args, **kwargs):
        if _metal_trace.ACTIVE:  # a device is capturing a metal trace (ttfuse/metal_trace.py)
            if self.group is Group.HOST:
                try:
                    _metal_trace.check_host_transfer(self.qualname, (*args, *kwargs.values()))
                except TtfuseError as e:
                    raise with_user_frame(e) from None
            return _metal_trace.call(self._call, args, kwargs)
        return self._call(*args, **kwargs)

    def _call(self, *args, **kwargs):
        a = self.bind_args(args, kwargs)
        trace = _state.stack[-1]
        try:
            if self.prealloc is not None and a[self.prealloc] is not None:
                into = a[self.prealloc]
                a[self.prealloc] = None  # the op computes as without it; the trace writes the result into it
                return trace.process_into(self, a, self.prealloc, into)
            return trace.process(self, a)
        except TtfuseError as e:
            raise with_user_frame(e) from None

    def num_launches(self, out_specs, args: dict | None = None) -> int:
        """Kernels one eager call launches; a `launches` callable gets (out_specs, spec args or None)."""
        return self.launches(out_specs, args) if callable(self.launches) else self.launches

    def is_view(self, out_specs, spec_args: dict, launches: int | None = None) -> bool:
        """Whether this call is free: no kernel, its output is its first tensor input or a view sharing that
        input's buffer (ttnn's view path of reshape, an identity permute, a move to the config it has).
        `launches`: this call's `num_launches` when the caller has it already.
        NOTE: the one rule for "is this call a launch": the eager executor, the compiled plan (ttfuse/sim/
        blocked.py, codegen's buffer sharing) and place_memory (which must not turn a view into a copy) all ask
        it, so a JIT never counts a launch the same eager call would not."""
        if not self.traits.may_view:
            return False
        return (self.num_launches(out_specs, spec_args) if launches is None else launches) == 0

    def returns_input(self, out_specs, spec_args: dict, base_spec, multi: bool) -> bool:
        """Whether this call returns its first tensor argument itself, as ttnn does for a free call (no kernel)
        whose result would equal the input (a reshape to the same shape, a to_memory_config to the same config).
        The eager executor and the graph trace both ask this, so an in-place write later is seen the same way."""
        t = self.traits
        return (
            not multi
            and t.inplace is None
            and t.consumes is None
            and out_specs[0] == base_spec
            and self.is_view(out_specs, spec_args)
        )

    def __repr__(self) -> str:
        return f"<OpDef {self.qualname}>"


OPS: dict[str, OpDef] = {}


def register_op(
    name: str,
    group: Group,
    *,
    launches: int | Callable = 1,
    qualname: str | None = None,
    traits: Traits | None = None,
) -> Callable[[Callable], OpDef]:
    """Decorator: register a ttnn op by its real (namespaced) name; the function gives the signature.

    `launches`: kernels one call launches (or `(out_specs, spec args) -> int`); `qualname`: the printed name
    (default `ttnn.<name>`); `traits`: how passes may split, fuse and run it (`Traits`; see the module
    docstring for the recipes). Unregister a throwaway op (tests) with `OPS.pop(name)`."""

    def deco(fn: Callable) -> OpDef:
        if name in OPS:
            raise ValueError(f"op {name} registered twice")
        op = OpDef(name, fn, group, launches=launches, qualname=qualname, traits=traits)
        OPS[name] = op
        return op

    return deco


def get_op(name: str) -> OpDef:
    try:
        return OPS[name]
    except KeyError:
        raise SpecError(f"ttfuse does not model ttnn.{name}") from None


# ------------------------------------------------------------------------------------------------- traces
class Trace:
    """What an op call does: the eager trace runs it, a graph trace records it."""

    def process(self, op: OpDef, args: dict):  # pragma: no cover - interface
        raise NotImplementedError

    def process_into(self, op: OpDef, args: dict, name: str, into):
        """The op with a preallocated output `into` (its argument `name`): computed as without it, then written
        into it (the in-place `ttnn.copy`); returns `into`, as ttnn does. The simulator overrides this to write
        the result into `into`'s storage directly (no extra kernel)."""
        out = self.process(op, args)
        check_preallocated(op, name, into, out.spec if not isinstance(out, tuple | list) else None)
        return OPS["copy"](out, into)


# Keywords under which ttnn ops take a preallocated output to write their result into.
PREALLOCATED_OUTPUTS = ("output_tensor", "optional_output_tensor", "preallocated_output", "output")


def check_preallocated(op: OpDef, name: str, into, out_spec) -> None:
    """SpecError unless `into` can hold the op's single output `out_spec` (same shape, dtype and layout; the
    result lives in `into`'s memory)."""
    from ttfuse.types import TensorSpec

    spec = getattr(into, "spec", None)
    if not isinstance(spec, TensorSpec):
        raise SpecError(f"{op.qualname}: argument {name!r} must be a ttnn.Tensor, got {got(into)}")
    if out_spec is None:
        raise SpecError(
            f"{op.qualname}: argument {name!r}: a preallocated output of a multi-output op is not supported"
        )
    if (spec.shape, spec.dtype, spec.layout) != (out_spec.shape, out_spec.dtype, out_spec.layout):
        raise SpecError(
            f"{op.qualname}: argument {name!r} is {spec}; the op computes {out_spec} (shape, dtype and layout "
            "must match)"
        )


_EAGER: list[Trace] = []  # the process-wide eager trace, at the bottom of every thread's stack


class _State(threading.local):
    def __init__(self):
        self.stack: list[Trace] = list(_EAGER)
        self.device_spec = None
        self.mesh_shape = (1, 1)


_state = _State()


def push_trace(t: Trace) -> None:
    _state.stack.append(t)


def pop_trace(t: Trace) -> None:
    if not _state.stack or _state.stack[-1] is not t:
        raise TtfuseError("trace stack corrupted: popped a trace that is not innermost")
    _state.stack.pop()


def current_trace() -> Trace:
    return _state.stack[-1]


def current_device_spec():
    """The DeviceSpec of the device an op is being validated for (None when unknown, e.g. host ops).

    Set by the eager trace (the inputs' device) and by capture (the jit target), so spec rules can check
    grids and L1 against the real device without taking it as an argument. The eager trace leaves the last
    op's device here, so only spec rules read it: whatever runs a compile's rules later (passes, verify, the
    cost model, `LazyCost`, coverage, the bench's cost columns) enters its own device first
    (`device_spec_context`, from `PassContext`, `Lowered.device_spec` or the graph's `meta`).
    """
    return _state.device_spec


def current_mesh_shape() -> tuple[int, int]:
    """(rows, cols) of the mesh an op runs on (1x1 when unknown); spec rules of collectives use it."""
    return _state.mesh_shape


def set_device_spec(spec, mesh_shape: tuple[int, int] = (1, 1)) -> object:
    """Set the target device (DeviceSpec and mesh shape) for spec rules; returns the previous DeviceSpec."""
    prev = _state.device_spec
    _state.device_spec = spec
    _state.mesh_shape = mesh_shape
    return prev


@contextlib.contextmanager
def device_spec_context(spec, mesh_shape: tuple[int, int] = (1, 1)):
    """Spec rules run inside see `spec` and `mesh_shape` as the target device; the previous ones are restored."""
    prev, prev_mesh = _state.device_spec, _state.mesh_shape
    set_device_spec(spec, tuple(mesh_shape))
    try:
        yield
    finally:
        set_device_spec(prev, prev_mesh)


def set_eager_trace(t: Trace) -> None:
    """Install the bottom-of-stack eager trace (done once by ttfuse.ttnn on import; new threads inherit it)."""
    _EAGER[:] = [t]
    if _state.stack:
        _state.stack[0] = t
    else:
        _state.stack.append(t)


def map_tensor_args(args: dict, is_tensor: Callable, fn: Callable) -> dict:
    """A copy of `args` with every tensor (also inside list/tuple arguments) replaced by fn(tensor)."""
    out = {}
    for k, v in args.items():
        if is_tensor(v):
            out[k] = fn(v)
        elif isinstance(v, list | tuple) and v and any(is_tensor(x) for x in v):
            out[k] = type(v)(fn(x) if is_tensor(x) else x for x in v)
        else:
            out[k] = v
    return out


def tensor_args(args: dict, is_tensor: Callable) -> list:
    """Tensors among the arguments, in parameter order (list arguments flattened)."""
    res = []
    for v in args.values():
        if is_tensor(v):
            res.append(v)
        elif isinstance(v, list | tuple) and v:
            res.extend(x for x in v if is_tensor(x))
    return res
