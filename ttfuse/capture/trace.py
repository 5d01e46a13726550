"""Graph capture: tracers flow through the facade's OpDefs and every op call becomes an IR Node.

`trace(fn, args, kwargs, ...)` replaces each tensor leaf of the arguments by a `Tracer` (a storage-less
`ttnn.Tensor` subclass), pushes a `GraphTrace` on the trace stack and calls `fn`. Every `ttnn.<op>` call,
tensor method and operator ends in `OpDef.__call__`, which hands the bound arguments to
`GraphTrace.process`: it runs the op's spec rule on TensorSpecs (for the jit's target device, set with
`set_device_spec`), records a Node (static args by parameter name, the user's source line as side data)
and returns tracers for the outputs. Python control flow on static values is simply executed (unrolled).

Errors (all TraceError, with the user's file:line and a fix-it hint):
- a call that does not fit the function's signature (at the call), unbounded recursion (at the recursing
  line), a torch tensor returned;
- data-dependent Python on a tracer: `t.item()`, `float(t)`, `int(t)`, iteration, `ttnn.to_torch`
  (`bool(t)` is True, as in ttnn: a tensor is an object, so `if mask:` tests presence);
- escaped tracers: a tracer stored outside the function and used after its trace ended (eagerly, via the
  executor's check, or inside another trace);
- concrete tensors read from self, a closure or a global that no source path reaches (with `params`; without,
  every captured concrete tensor), and in-place writes into such tensors;
- host ops (from_torch, to_torch, to_device, from_device) inside a traced function.
`ttnn.deallocate` inside a traced function records nothing (the JIT manages memory); using the tensor
afterwards is an error, as in eager.

Weights on `self`, in closures or globals: with a `ParamIndex` (ttfuse/capture/params.py, as `@ttfuse.jit` traces)
a concrete device tensor an op reads is lifted to an implicit parameter, a graph input after the arguments'
tensors, found again on every call through its source path (`self.proj.weight`).

In-place writes are functionalised here, once, so that no pass reasons about aliasing: an in-place op
(`Traits.inplace`: `add_`, `copy`, `softmax_in_place`, ...) or an op given a preallocated output (`output_tensor=`)
records a node whose output is a *new* value, and the written tensor's tracer object is rebound to it, so every
later use through that object reads the new value and earlier reads keep the old one. An argument whose tracer
ends the trace bound to another value was written by the function: the graph copies that value back into it
(`Graph.writes`). A call that launches nothing and returns its input in eager (`OpDef.returns_input`: a reshape
to the same shape, a to_memory_config to the same config) returns the same tracer object, as eager returns the
same tensor object, so a later in-place write through either name is seen by both.

Invariant: a Tracer belongs to exactly one GraphTrace; `trace.done` is set when its function returns.
"""

from __future__ import annotations

import difflib
import inspect
import re
from typing import Any

from ttfuse.backend import is_device
from ttfuse.capture.params import ParamIndex, path_text
from ttfuse.capture.pytree import describe, flatten_out, substitute
from ttfuse.errors import ArgumentError, DeviceError, TraceError, user_frame, warn, with_user_frame
from ttfuse.ir import DeviceArg, FrozenList, Graph, In, Node, NodeSide, Ref, freeze, set_tracer
from ttfuse.opdef import (
    OPS,
    Group,
    OpDef,
    Trace,
    check_preallocated,
    current_mesh_shape,
    pop_trace,
    push_trace,
    set_device_spec,
)
from ttfuse.tensor import Tensor
from ttfuse.types import TensorSpec

_DATA_HINT = (
    "hint: Python control flow inside @ttfuse.jit may depend only on static values (shapes, dtypes, "
    "non-tensor arguments); use ttnn.where / ttnn.gt ... for data-dependent selection, or compute the value "
    "outside the jit function and pass it as a static argument"
)


def _escaped_msg(what: str) -> str:
    return (
        f"{what}: this tensor is a tracer of a @ttfuse.jit function whose trace has ended (an escaped "
        "tracer, e.g. stored in a global, a list or on self while tracing). Tracers have no values; return "
        "the tensor from the jit function and use the returned tensor instead"
    )


class Tracer(Tensor):
    """A traced tensor: a TensorSpec and the IR value it names; no storage."""

    __slots__ = ("_trace", "_ref", "_freed")

    def __init__(self, trace: GraphTrace, ref: Ref, spec: TensorSpec, device=None):
        self.spec = spec
        self._shards = None
        self._device = device
        self._bufs = None
        self._version = 0
        self._trace = trace
        self._ref = ref
        self._freed = False

    # data-dependent Python: refuse with a hint and the user's line
    def _no_value(self, what: str):
        if self._trace.done:
            err = TraceError(_escaped_msg(what))
        else:
            err = TraceError(
                f"{what} on a traced tensor {self.spec}: tensor values do not exist while "
                f"@ttfuse.jit traces (data-dependent Python control flow).\n  {_DATA_HINT}"
            )
        return with_user_frame(err)

    def __bool__(self) -> bool:
        # NOTE: truthiness is presence, as on a concrete ttnn.Tensor (ttfuse/tensor.py): `if mask:` on an
        # optional tensor argument traces the branch taken for a tensor; it never reads values
        return True

    def item(self):
        raise self._no_value("tensor.item()")

    def __float__(self) -> float:
        raise self._no_value("float(tensor)")

    def __int__(self) -> int:
        raise self._no_value("int(tensor)")

    def __index__(self) -> int:
        raise self._no_value("using a tensor as an index")

    def __complex__(self) -> complex:
        raise self._no_value("complex(tensor)")

    def __iter__(self):
        raise self._no_value("iterating over a tensor (use ttnn.split / ttnn.chunk or slicing)")

    def __array__(self, *a, **k):
        raise self._no_value("numpy conversion of a tensor")

    def tolist(self):
        raise self._no_value("tensor.tolist()")

    def numpy(self):
        raise self._no_value("tensor.numpy()")

    def is_allocated(self) -> bool:
        return not self._freed

    def __repr__(self) -> str:
        state = "escaped " if self._trace.done else ""
        return f"ttfuse.Tracer({state}{self.spec}, {self._ref!r})"


class GraphTrace(Trace):
    """Records op calls into IR nodes (one per call) while a jit function is traced."""

    def __init__(self, name: str = "fn", device=None, params=None):
        self.name = name
        self.params = params  # a ParamIndex: concrete tensors read from self / closures / globals are lifted
        self.device = device  # the device of the concrete inputs (None for abstract specs)
        self.nodes: list[Node] = []
        self.next_value = 0
        self.done = False

    # ---------------------------------------------------------------------------------------- inputs
    def new_input(self, spec: TensorSpec, device=None) -> Tracer:
        t = Tracer(self, Ref(self.next_value, 0), spec, device)
        self.next_value += 1
        return t

    def ref_of(self, op_name: str, arg: str, v: Tensor) -> Ref:
        if isinstance(v, Tracer):
            if v._trace is not self:
                if v._trace.done:
                    raise TraceError(_escaped_msg(f"{op_name}: argument {arg!r}"))
                raise TraceError(
                    f"{op_name}: argument {arg!r} is a tracer of another @ttfuse.jit trace "
                    f"({v._trace.name}); pass tensors between jit functions as arguments"
                )
            if v._freed:
                raise TraceError(
                    f"{op_name}: argument {arg!r} was deallocated earlier in this traced "
                    "function (use after ttnn.deallocate)"
                )
            return v._ref
        if self.params is not None:
            # a weight on self, in a closure or a global: an implicit parameter (ttfuse/capture/params.py)
            return Ref(-1 - self.params.lift(v, op_name, arg, self.device), 0)
        raise TraceError(
            f"{op_name}: argument {arg!r} is a concrete ttnn.Tensor ({v.spec}) captured from outside the traced "
            f"function {self.name} (a closure variable, global or attribute). Under @ttfuse.jit such tensors are "
            "lifted to implicit parameters; this bare trace has no way to find them again: pass it as an argument"
        )

    # ------------------------------------------------------------------------------------------ ops
    def process(self, op: OpDef, args: dict):
        if op.name == "deallocate":
            return self._deallocate(op, args)
        if op.group is Group.HOST or (op.traits.eager_impl is not None and op.spec_rule is None):
            raise TraceError(
                f"{op.qualname} cannot run inside a @ttfuse.jit function: it moves data between the host "
                f"and the device. Convert tensors outside the jit function and pass device tensors in "
                f"(return device tensors and call {op.qualname} on the result)"
            )
        if op.spec_rule is None:
            raise TraceError(f"{op.qualname} has no spec rule, so it cannot be traced")
        if op.traits.inplace is not None:
            self._check_writable(op, op.traits.inplace, args.get(op.traits.inplace))

        inputs: list[Ref] = []
        attrs: list[tuple[str, Any]] = []
        spec_args: dict[str, Any] = {}
        for name, v in args.items():
            a, s = self._convert(op, name, v, inputs)
            attrs.append((name, a))
            spec_args[name] = s
        out = op.spec_rule(**spec_args)
        multi = isinstance(out, tuple | list)
        outs = tuple(out) if multi else (out,)
        for s in outs:
            if not isinstance(s, TensorSpec):
                raise TypeError(f"{op.qualname}: spec rule returned {type(s).__name__}, not TensorSpec")
        if op.traits.may_view and inputs:
            base = _first_tensor(args)
            if op.returns_input(outs, spec_args, base.spec, multi):
                return base  # as eager: the same tensor object, no kernel
        node = Node(
            self.next_value, op.name, tuple(inputs), tuple(attrs), outs, multi, NodeSide(loc=user_frame())
        )
        self.next_value += node.num_values
        self.nodes.append(node)

        if op.traits.inplace is not None:
            # functionalised: the node's output is a new value; the written tensor's tracer now names it
            target = args[op.traits.inplace]
            target._ref = Ref(node.id, 0)
            target.spec = outs[0]
            return target
        device = self._device_of(args)
        tracers = [Tracer(self, Ref(node.id, k), s, device) for k, s in enumerate(outs)]
        if not multi:
            return tracers[0]
        return tuple(tracers) if isinstance(out, tuple) else tracers

    def process_into(self, op: OpDef, args: dict, name: str, into):
        """A preallocated output: the op's result is a new value that the tensor `into` names from now on
        (functionalised like an in-place op; an argument of the function is written back at the end)."""
        if not (isinstance(into, Tracer) and into._trace is self):
            self._check_writable(op, name, into)
            return super().process_into(op, args, name, into)  # a concrete tensor: ref_of names the error
        self.ref_of(op.qualname, name, into)
        if "memory_config" in op.params:
            # eager computes into `into`'s memory: the value gets its placement, so later ops see eager's specs
            args = {**args, "memory_config": into.spec.memory_config}
        out = self.process(op, args)
        check_preallocated(op, name, into, out.spec if isinstance(out, Tracer) else None)
        if (
            out.spec != into.spec
        ):  # an op without a memory_config of its own: move the value to `into`'s place
            out = OPS["to_memory_config"](out, into.spec.memory_config)
        into._ref, into.spec = out._ref, out.spec
        return into

    def _convert(self, op: OpDef, name: str, v: Any, inputs: list) -> tuple[Any, Any]:
        """(attribute value, spec-rule value) of one argument; tensors become In markers."""
        if isinstance(v, Tensor):
            inputs.append(self.ref_of(op.qualname, name, v))
            return In(len(inputs) - 1), v.spec
        t = type(v)
        if (t is list or t is tuple) and any(isinstance(x, Tensor) for x in v):
            pairs = [self._convert(op, name, x, inputs) for x in v]
            attr = FrozenList(p[0] for p in pairs) if t is list else tuple(p[0] for p in pairs)
            return attr, t(p[1] for p in pairs)
        if is_device(v):
            if self.device is not None and v is not self.device and v.chips != self.device.chips:
                raise TraceError(
                    f"{op.qualname}: argument {name!r} is device {v.id}, but the jit function's tensors are on "
                    f"device {self.device.id}; a compiled function runs on the device of its inputs"
                )
            return DeviceArg(), v
        if _is_torch(v):
            raise TraceError(
                f"{op.qualname}: argument {name!r} is a torch.Tensor; inside @ttfuse.jit only "
                "ttnn tensors flow through ops (convert with ttnn.from_torch outside the function)"
            )
        a = freeze(v)
        try:
            hash(a)
        except TypeError:
            raise TraceError(
                f"{op.qualname}: argument {name!r} of type {type(v).__name__} cannot be captured: "
                "static arguments must be hashable (use tuples instead of dicts or sets)"
            ) from None
        return a, v

    def _device_of(self, args: dict):
        for v in args.values():
            if isinstance(v, Tensor):
                return v._device
            if isinstance(v, list | tuple):
                for x in v:
                    if isinstance(x, Tensor):
                        return x._device
        return self.device

    def _check_writable(self, op: OpDef, name: str, t: Any) -> None:
        """An in-place write (or ttnn.deallocate) into a tensor read from outside the arguments is refused: the
        compiled function writes back only into its arguments, and must never drop a write silently."""
        if self.params is None or not isinstance(t, Tensor) or isinstance(t, Tracer):
            return
        ps = self.params.paths(t)
        where = f"{path_text(ps[0], self.params.arg_names)}, " if ps else ""
        raise TraceError(
            f"{op.qualname}: argument {name!r} is {where}a tensor the @ttfuse.jit function reads from outside its "
            "arguments (self, a closure or a global); writing into it (in place, as a preallocated output, or "
            "deallocating it) inside the jit function is not supported. Pass it as an argument (writes into "
            "arguments are written back), or write into it outside the jit function"
        )

    def _deallocate(self, op: OpDef, args: dict) -> None:
        t = args.get("tensor")
        self._check_writable(op, "tensor", t)
        if isinstance(t, Tensor):
            self.ref_of(op.qualname, "tensor", t)  # closure / escaped tensors are errors here too
            t._freed = True
        return None


def _first_tensor(args: dict) -> Tensor:
    """The first tensor argument (inside a list argument too), the one a free call returns (as the executor)."""
    for v in args.values():
        if isinstance(v, Tensor):
            return v
        if isinstance(v, list | tuple):
            for x in v:
                if isinstance(x, Tensor):
                    return x
    raise AssertionError("no tensor argument")


def _is_torch(v: Any) -> bool:
    return type(v).__module__ == "torch" and type(v).__name__ in ("Tensor", "Parameter")


# --------------------------------------------------------------------------------------------- driver
def trace(
    fn,
    args: tuple,
    kwargs: dict,
    *,
    name: str | None = None,
    device_spec=None,
    mesh_shape: tuple[int, int] | None = None,
    specs_are_tensors: bool = False,
    params: ParamIndex | None = None,
) -> Graph:
    """Trace `fn(*args, **kwargs)` into a Graph (no passes). Tensor leaves of the arguments are the inputs.

    `device_spec`/`mesh_shape` name the target device for spec rules (default: the inputs' device).
    With `specs_are_tensors`, TensorSpec leaves are abstract inputs (for `jit_fn.lower`).
    With `params`, concrete device tensors the function reads from self, closures or globals are lifted to
    implicit parameters: graph inputs after the arguments' tensors, in the order met (`params.lifted`).
    """
    name = name or getattr(fn, "__qualname__", "fn")
    _check_call(fn, args, kwargs, name)
    _tree, statics, leaves, paths = describe(args, kwargs, specs_are_tensors=specs_are_tensors)
    for s in statics:
        if _is_torch(s):
            raise with_user_frame(
                TraceError(
                    f"@ttfuse.jit {name}: a torch.Tensor was passed as an argument; jit functions take ttnn tensors "
                    "(convert with ttnn.from_torch(..., device=device) first)"
                )
            )
    device = next((x._device for x in leaves if isinstance(x, Tensor) and x._device is not None), None)
    if device_spec is None and device is not None:
        device_spec = device.spec
        mesh_shape = mesh_shape or (device.shape.rows, device.shape.cols)
    mesh_shape = tuple(mesh_shape or (1, 1))

    gt = GraphTrace(name, device, params)
    in_specs: list[TensorSpec] = []
    tracers: list[Tracer] = []
    names = input_names(fn, paths)
    for leaf, path in zip(leaves, names):
        if isinstance(leaf, Tracer) and leaf._trace.done:
            raise with_user_frame(TraceError(_escaped_msg(f"@ttfuse.jit {name}: argument {path}")))
        spec = leaf if isinstance(leaf, TensorSpec) else leaf.spec
        if isinstance(leaf, Tensor) and not leaf.is_allocated():
            raise with_user_frame(
                DeviceError(
                    f"@ttfuse.jit {name}: argument {path} was deallocated (use after ttnn.deallocate)"
                )
            )
        in_specs.append(spec)
        tracers.append(gt.new_input(spec, leaf._device if isinstance(leaf, Tensor) else None))
    targs, tkwargs = substitute(args, kwargs, tracers, specs_are_tensors=specs_are_tensors)

    from ttfuse import opdef

    prev_spec, prev_mesh = opdef.current_device_spec(), current_mesh_shape()
    push_trace(gt)
    set_device_spec(device_spec, mesh_shape)
    try:
        result = fn(*targs, **tkwargs)
    except RecursionError as e:
        raise _recursion_error(name, e) from None
    finally:
        pop_trace(gt)
        set_device_spec(prev_spec, prev_mesh)
        gt.done = True
        if params is not None:
            stored = params.roll_back(gt, (fn, args, kwargs))
            if stored:
                msg = (
                    f"@ttfuse.jit {name}: the function stored a tensor it computed on {', '.join(stored)}; a jit "
                    "function runs as its compiled graph, so that value is recomputed on every call and not kept "
                    "(the attribute was restored). Compute it once outside the jit function, or return it"
                )
                warn(msg, UserWarning)

    _check_result(result, name)
    try:
        out_leaves, out_tree = flatten_out(result, lambda v: isinstance(v, Tensor))
    except TypeError as e:
        raise TraceError(
            f"@ttfuse.jit {name}: cannot return {type(result).__name__} values: {e}; return tensors, "
            "scalars, strings or tuples/lists/dicts of them"
        ) from None
    outputs = []
    for k, t in enumerate(out_leaves):
        where = f"@ttfuse.jit {name}: output {k}"
        if isinstance(t, Tracer) and t._trace is gt:
            if t._freed:
                raise TraceError(f"{where} was deallocated inside the function and cannot be returned")
            outputs.append(t._ref)
        elif isinstance(t, Tracer):
            raise TraceError(_escaped_msg(where))
        elif params is not None:
            outputs.append(
                gt.ref_of(where, "output", t)
            )  # a parameter returned as it is: eager's same tensor
        else:
            raise TraceError(
                f"{where} is a concrete ttnn.Tensor from outside the function (a closure or global); "
                "pass it as an argument if it should flow through"
            )
    # an argument whose tracer names another value now was written in place: copy that value back into it
    writes = [(k, t._ref) for k, t in enumerate(tracers) if t._ref != Ref(k, 0) and not t._freed]
    outputs += [r for _, r in writes]
    meta = {
        "name": name,
        "device": device_spec.name if device_spec is not None else None,
        "mesh": list(mesh_shape),
        "input_names": names,
    }
    g = Graph(tuple(in_specs), gt.nodes, tuple(outputs), out_tree, meta, tuple(k for k, _ in writes))
    if params is not None and params.lifted:
        g = _with_params(g, params)
    return g


def _with_params(g: Graph, params: ParamIndex) -> Graph:
    """The traced graph with the lifted parameters as inputs after the arguments' tensors: the provisional
    refs `Ref(-1 - k, 0)` become inputs n + k, node values move up by the number of parameters."""
    n, p = len(g.inputs), len(params.lifted)

    def ref(r: Ref) -> Ref:
        if r.node < 0:
            return Ref(n - 1 - r.node, 0)
        return r if r.node < n else Ref(r.node + p, r.out)

    nodes = [m.replace(id=m.id + p, inputs=tuple(ref(r) for r in m.inputs)) for m in g.nodes]
    specs = tuple(t.spec for t, _ in params.lifted)
    meta = {**g.meta, "input_names": list(g.meta["input_names"]) + params.names()}
    return g.replace(
        inputs=g.inputs + specs, nodes=nodes, outputs=tuple(ref(r) for r in g.outputs), meta=meta
    )


def input_names(fn, paths: list[str]) -> list[str]:
    """Leaf paths with positional indices replaced by parameter names (`args[1]['w']` -> `params['w']`)."""
    try:
        params = [
            p.name
            for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        return paths
    out = []
    for p in paths:
        if p.startswith("args["):
            i = int(p[5 : p.index("]")])
            if i < len(params):
                p = params[i] + p[p.index("]") + 1 :]
        out.append(p)
    return out


# ------------------------------------------------------------------------------------- call and result checks
def _check_call(fn, args: tuple, kwargs: dict, name: str) -> None:
    """ArgumentError (a TraceError and a TypeError) at the caller's line when the arguments do not fit the
    function's signature (checked before tracing, so a missing argument is not reported from inside the trace
    machinery): it names the function, its parameters, the argument and the nearest parameter name."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # a builtin or an object without a signature: the call itself says
        return
    try:
        sig.bind(*args, **kwargs)
    except TypeError as e:
        msg = f"@ttfuse.jit {name}{sig}: {e}"
        bad = re.search(r"unexpected keyword argument '(\w+)'", str(e))
        if bad:
            near = difflib.get_close_matches(bad.group(1), list(sig.parameters), n=1)
            accepted = ", ".join(repr(p) for p in sig.parameters) or "none"
            msg += f" (its parameters: {accepted}{f'; did you mean {near[0]!r}?' if near else ''})"
        raise with_user_frame(ArgumentError(msg)) from None


def _recursion_error(name: str, e: RecursionError) -> TraceError:
    """The user's line that recursed (the most repeated frame outside ttfuse in the traceback)."""
    from collections import Counter

    from ttfuse.errors import _PKG_DIR

    counts: Counter = Counter()
    tb = e.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if not code.co_filename.startswith(_PKG_DIR):
            counts[(code.co_filename, tb.tb_lineno, code.co_name)] += 1
        tb = tb.tb_next
    frame, n = counts.most_common(1)[0] if counts else (None, 0)
    where = f"{frame[2]}() calls itself" if frame is not None and n > 1 else "the traced code recursed"
    err = TraceError(
        f"@ttfuse.jit {name}: unbounded recursion while tracing ({where} {n} times, past Python's recursion "
        "limit). Tracing runs the function's Python once and unrolls recursion, so it must end on a static value "
        "(a depth or count argument), never on tensor data"
    )
    return with_user_frame(err, frame if n > 1 else None)


def _torch_path(v: Any, path: str = "") -> str | None:
    if _is_torch(v):
        return path or "the result"
    t = type(v)
    if t is tuple or t is list or (issubclass(t, tuple) and hasattr(t, "_fields")):
        for i, x in enumerate(v):
            p = _torch_path(x, f"{path}[{i}]")
            if p:
                return p
    elif t is dict:
        for k, x in v.items():
            p = _torch_path(x, f"{path}[{k!r}]")
            if p:
                return p
    return None


def _check_result(result: Any, name: str) -> None:
    where = _torch_path(result)
    if where is not None:
        what = "the result" if where == "the result" else f"output {where}"
        raise with_user_frame(
            TraceError(
                f"@ttfuse.jit {name}: {what} is a torch.Tensor; a jit function computes and returns ttnn "
                "tensors (torch code in it would run once, when it is traced).\n  hint: return the ttnn tensor "
                "and call ttnn.to_torch on the result outside the function"
            )
        )


set_tracer(trace)  # passes reach capture through the core (ttfuse.ir.trace_function): it sits above them
