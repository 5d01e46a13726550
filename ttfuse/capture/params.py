"""Implicit parameters: device tensors a jit function reads from `self`, closures or globals.

Real TTNN model code keeps its weights on `self` (`self.w = ttnn.from_torch(...)` in `__init__`, sub-modules as
attributes, lists of layers). As torch.compile does with nn.Module parameters, capture *lifts* each such tensor
to a graph input with a **source**: how it is reached from what the call passes in, e.g. `self.proj.weight`
(`args[0].proj.weight`), `self.layers[2].w`, `cfg['w']`, a closure cell, a global name. The compiled entry is
keyed by the tensors' specs (the function's identity and its static arguments describe tensors by spec), so one
entry serves every layer object of the same shapes; each call re-reads the sources to get its own tensors.

- `ParamIndex(fn, args, kwargs)`: a bounded walk over what the call can reach (the arguments' objects, the
  function's closure cells, defaults and loaded globals, and those of the user functions it reaches), giving
  every device tensor found its source paths. Built lazily, the first time a trace meets a concrete tensor.
- `resolver(sources)`: generated code reading this call's tensors from the sources (attribute and item loads).
- `split_params(g, n_explicit)`: the nodes that depend only on parameters (weight concatenation, transposes,
  typecasts of weights), moved into a prologue graph that runs once per parameter set.
- `ParamRunner`: runs an entry with parameters: resolves them, checks them once per (tensor, version), runs the
  prologue once per parameter set (keyed by identity and `Tensor._version`, bumped by every write), then the
  main graph.

Invariants: a source is a path of attribute / item steps from a root (`args[i]`, `kwargs[k]` or the jit function
`fn`); a lifted tensor's every path is recorded, and a tensor reached by several paths is checked on each call
to still be one object (else the call is recompiled). A tensor with no path (made by a function call the walk
does not follow, a class attribute) is a TraceError naming it, never keyed silently.
Extend: a new kind of container the walk should enter is a branch in `ParamIndex._walk`.
"""

from __future__ import annotations

import dis
import keyword
import types
import weakref
from typing import Any

from ttfuse.errors import DeviceError, TraceError, with_user_frame
from ttfuse.ir import Graph, Node, Ref
from ttfuse.tensor import Tensor

__all__ = [
    "ParamIndex",
    "ParamRunner",
    "Source",
    "decode_sources",
    "encode_sources",
    "resolver",
    "split_params",
]

_BUDGET = 20000  # objects the walk visits at most
_DEPTH = 16  # nesting levels
_MAX_PATHS = 4  # paths kept per tensor (aliases)

# a step: ("a", name) attribute, ("i", key) item; a root: ("arg", i), ("kw", name), ("fn",)
Source = tuple


def _is_ttfuse_internal(v: Any) -> bool:
    mod = getattr(type(v), "__module__", "") or ""
    return mod == "ttfuse" or mod.startswith("ttfuse.")


def _heavy(t: type) -> bool:
    for c in t.__mro__[:-1]:
        if (c.__module__ or "").split(".")[0] in ("torch", "numpy", "jax", "jaxlib", "tensorflow"):
            return True
    return False


def _global_names(code: types.CodeType) -> list[str]:
    names: set[str] = set()
    for ins in dis.get_instructions(code):
        if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME") and isinstance(ins.argval, str):
            names.add(ins.argval)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            names.update(_global_names(c))
    return sorted(names)


def path_text(src: Source, arg_names: list[str] | None = None) -> str:
    """`self.proj.weight`, `layers[2].w`, `global 'W'`, `closure variable 'w'` for messages."""
    root, steps = src[0], src[1:]
    if root[0] == "arg":
        i = root[1]
        out = arg_names[i] if arg_names and i < len(arg_names) else f"args[{i}]"
    elif root[0] == "kw":
        out = root[1]
    else:  # the function: closures, globals, defaults
        fn_steps = list(steps)
        if len(fn_steps) >= 2 and fn_steps[0] == ("a", "__globals__"):
            out, steps = f"global {fn_steps[1][1]!r}", tuple(fn_steps[2:])
        elif (
            len(fn_steps) >= 3
            and fn_steps[0] == ("a", "__closure__")
            and fn_steps[2] == ("a", "cell_contents")
        ):
            out, steps = "closure variable", tuple(fn_steps[3:])
            names = root[1] if len(root) > 1 else ()
            j = fn_steps[1][1]
            if j < len(names):
                out = f"closure variable {names[j]!r}"
        elif fn_steps and fn_steps[0] == ("a", "__self__"):
            out, steps = "self", tuple(fn_steps[1:])
        else:
            out = "the function"
    for kind, x in steps:
        out += f".{x}" if kind == "a" else f"[{x!r}]"
    return out


class ParamIndex:
    """Every device tensor reachable from a call (see the module docstring), with its source paths."""

    def __init__(self, fn: Any, args: tuple, kwargs: dict, arg_names: list[str] | None = None):
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.arg_names = arg_names or []
        self._paths: dict[int, list[Source]] | None = None
        self._objs: dict[int, Tensor] = {}
        self._tracers: tuple | None = None  # (trace, found) while `roll_back` looks for stored tracers
        self.truncated = False
        # the tensors lifted by a trace, in input order: (tensor, source paths)
        self.lifted: list[tuple[Tensor, list[Source]]] = []
        self._lifted_ids: dict[int, int] = {}

    # ------------------------------------------------------------------------------------------- the walk
    def paths(self, t: Tensor) -> list[Source]:
        if self._paths is None:
            self._build()
        return self._paths.get(id(t), [])

    def aliases(self) -> list[list[str]]:
        """Path groups (as text) of every reachable tensor with more than one path: part of the cache key."""
        if self._paths is None:
            self._build()
        return sorted(sorted(repr(p) for p in ps) for ps in self._paths.values() if len(ps) > 1)

    def _build(self) -> None:
        self._paths = {}
        self._objs = {}
        self._seen: set[int] = set()
        self._left = _BUDGET
        for i, a in enumerate(self.args):
            self._walk(a, (("arg", i),), 0)
        for k, v in self.kwargs.items():
            self._walk(v, (("kw", k),), 0)
        fn = self.fn
        root: Source = (("fn", _freevars(fn)),)
        self._function(fn, root, 0)

    def roll_back(self, trace_obj: Any, roots: tuple) -> list[str]:
        """Undo what a finished trace stored on reachable objects (`self.cache = t` inside the function): each
        tracer of `trace_obj` found there is replaced by the tensor the path held before the trace, or removed.
        The compiled function recomputes such a value on every call (a jit function's graph is what runs; state
        written on objects during the trace is not persisted). Returns the paths rolled back, for a warning."""
        if self._paths is None:
            self._build()
        before: dict[Source, Tensor] = {}
        for tid, ps in self._paths.items():
            for p in ps:
                before[p] = self._objs[tid]
        saved = (self._paths, self._objs, self._seen, self._left)
        found: list[tuple[Source, Any]] = []
        self._tracers = (trace_obj, found)
        try:
            self._build()
        finally:
            self._paths, self._objs, self._seen, self._left = saved
            self._tracers = None
        done = []
        fn, args, kwargs = roots
        for path, _t in found:
            parent_src, (kind, name) = path[:-1], path[-1]
            try:
                parent = eval(_expr(parent_src), {}, {"fn": fn, "args": args, "kwargs": kwargs})  # noqa: S307
                old = before.get(path)
                if kind == "a":
                    if old is not None:
                        setattr(parent, name, old)
                    else:
                        delattr(parent, name)
                elif old is not None:
                    parent[name] = old
                elif isinstance(parent, dict):
                    del parent[name]
                else:
                    continue
            except Exception:  # noqa: BLE001 - a path that cannot be written back: left as it is (and named)
                pass
            done.append(path_text(path, self.arg_names))
        return done

    def _add_tensor(self, t: Tensor, path: Source) -> None:
        ps = self._paths.setdefault(id(t), [])
        self._objs[id(t)] = t
        if len(ps) < _MAX_PATHS:
            ps.append(path)

    def _walk(self, v: Any, path: Source, depth: int) -> None:
        if isinstance(v, Tensor):
            if type(v) is Tensor:  # tracers (explicit arguments) are not parameters
                self._add_tensor(v, path)
            elif self._tracers is not None and getattr(v, "_trace", None) is self._tracers[0]:
                self._tracers[1].append((path, v))
            return
        t = type(v)
        if (
            v is None
            or t in (bool, int, float, str, bytes, complex)
            or isinstance(v, type | types.ModuleType)
        ):
            return
        if depth > _DEPTH:
            return
        if id(v) in self._seen:
            return
        self._left -= 1
        if self._left < 0:
            self.truncated = True
            return
        self._seen.add(id(v))
        if isinstance(v, tuple | list):
            for i, x in enumerate(v):
                self._walk(x, path + (("i", i),), depth + 1)
            return
        if isinstance(v, dict):
            for k, x in list(v.items()):
                if type(k) in (str, int):
                    self._walk(x, path + (("i", k),), depth + 1)
            return
        if isinstance(v, types.FunctionType | types.MethodType | types.BuiltinFunctionType):
            self._function(v, path, depth)
            return
        if _heavy(t) or _is_ttfuse_internal(v):
            if type(v).__name__ == "JitFunction":  # a jit helper (inlined when traced): its function
                self._walk(v.fn, path + (("a", "fn"),), depth + 1)
            return
        d = getattr(v, "__dict__", None)
        if isinstance(d, dict):
            for k, x in list(d.items()):
                if type(k) is str:
                    self._walk(x, path + (("a", k),), depth + 1)
        for c in t.__mro__:
            slots = c.__dict__.get("__slots__", ())
            for n in (slots,) if isinstance(slots, str) else slots:
                if n in ("__dict__", "__weakref__"):
                    continue
                try:
                    x = getattr(v, n)
                except AttributeError:
                    continue
                self._walk(x, path + (("a", n),), depth + 1)

    def _function(self, fn: Any, path: Source, depth: int) -> None:
        if id(fn) in self._seen and depth:
            return
        self._seen.add(id(fn))
        if isinstance(fn, types.MethodType):
            self._walk(fn.__self__, path + (("a", "__self__"),), depth + 1)
            self._function(fn.__func__, path + (("a", "__func__"),), depth + 1)
            return
        if not isinstance(fn, types.FunctionType):
            if type(fn).__name__ == "JitFunction":
                self._function(fn.fn, path + (("a", "fn"),), depth + 1)
            elif not isinstance(fn, types.BuiltinFunctionType):
                self._walk_object_only(fn, path, depth)
            return
        code = fn.__code__
        if (code.co_filename or "").startswith("<frozen") or "/site-packages/" in (code.co_filename or ""):
            return  # library code: its globals are not the model's weights
        for j, cell in enumerate(fn.__closure__ or ()):
            try:
                x = cell.cell_contents
            except ValueError:
                continue
            self._walk(x, path + (("a", "__closure__"), ("i", j), ("a", "cell_contents")), depth + 1)
        for j, x in enumerate(fn.__defaults__ or ()):
            self._walk(x, path + (("a", "__defaults__"), ("i", j)), depth + 1)
        for k, x in (fn.__kwdefaults__ or {}).items():
            self._walk(x, path + (("a", "__kwdefaults__"), ("i", k)), depth + 1)
        g = fn.__globals__
        for name in _global_names(code):
            if name in g:
                self._walk(g[name], path + (("a", "__globals__"), ("i", name)), depth + 1)

    def _walk_object_only(self, v: Any, path: Source, depth: int) -> None:
        """A callable object (a partial, an instance with __call__): its state."""
        self._seen.discard(id(v))
        self._walk(v, path, depth)

    # ------------------------------------------------------------------------------------------- lifting
    def lift(self, t: Tensor, op_name: str, arg: str, trace_device) -> int:
        """The parameter index of concrete tensor `t` met by a trace (lifted the first time)."""
        k = self._lifted_ids.get(id(t))
        if k is not None:
            return k
        ps = self.paths(t)
        if not ps:
            more = " (the walk stopped at its budget)" if self.truncated else ""
            raise TraceError(
                f"{op_name}: argument {arg!r} is a concrete ttnn.Tensor ({t.spec}) that the @ttfuse.jit function "
                f"reads from outside its arguments, but not through an attribute or item of an argument, a closure "
                f"variable, a default or a global{more}, so the compiled function could not find it again on the "
                "next call. Hold it on self (or in a closure / global), or pass it as an argument"
            )
        where = path_text(ps[0], self.arg_names)
        if t._device is None:
            raise TraceError(
                f"{op_name}: argument {arg!r} is {where}, a host tensor ({t.spec}); inside @ttfuse.jit a tensor "
                "read from self, a closure or a global must be on the device (ttnn.to_device it once, outside)"
            )
        if not t.is_allocated():
            raise DeviceError(
                f"{op_name}: argument {arg!r} is {where}, which was deallocated (ttnn.deallocate)"
            )
        if (
            trace_device is not None
            and t._device is not trace_device
            and t._device.chips != trace_device.chips
        ):
            raise TraceError(
                f"{op_name}: argument {arg!r} is {where}, on device {t._device.id}, but the jit function's tensors "
                f"are on device {trace_device.id}; a compiled function runs on the device of its inputs"
            )
        k = len(self.lifted)
        self.lifted.append((t, ps))
        self._lifted_ids[id(t)] = k
        return k

    def sources(self) -> list[list[Source]]:
        return [ps for _, ps in self.lifted]

    def names(self) -> list[str]:
        return [path_text(ps[0], self.arg_names) for _, ps in self.lifted]


def _freevars(fn: Any) -> tuple[str, ...]:
    code = getattr(fn, "__code__", None)
    return tuple(code.co_freevars) if isinstance(code, types.CodeType) else ()


def encode_sources(sources: list[list[Source]]) -> list:
    """JSON form of parameter sources (a disk entry's `graph.meta.params`): [[path, ...], ...], a path being
    [["arg", i] | ["kw", name] | ["fn"], ["a", name] | ["i", key], ...]."""
    out = []
    for ps in sources:
        paths = []
        for p in ps:
            root = p[0]
            head = ["fn"] if root[0] == "fn" else [root[0], root[1]]
            paths.append([head] + [[k, x] for k, x in p[1:]])
        out.append(paths)
    return out


def decode_sources(data: list, fn: Any) -> list[list[Source]]:
    """`encode_sources` undone (the form was checked by ttfuse/cache_schema.py)."""
    fv = _freevars(fn)
    out = []
    for paths in data:
        ps = []
        for p in paths:
            head = p[0]
            root = ("fn", fv) if head[0] == "fn" else (str(head[0]), head[1])
            ps.append((root,) + tuple((str(k), x) for k, x in p[1:]))
        out.append(ps)
    return out


# ----------------------------------------------------------------------------------------------- resolving
def _expr(src: Source) -> str:
    root = src[0]
    if root[0] == "arg":
        out = f"args[{int(root[1])}]"
    elif root[0] == "kw":
        out = f"kwargs[{str(root[1])!r}]"
    else:
        out = "fn"
    for kind, x in src[1:]:
        if kind == "a":
            name = str(x)
            out += (
                f".{name}" if name.isidentifier() and not keyword.iskeyword(name) else f".__dict__[{name!r}]"
            )
        elif type(x) is int:
            out += f"[{int(x)}]"
        else:
            out += f"[{str(x)!r}]"
    return out


def resolver(sources: list[list[Source]]):
    """(resolve, check): `resolve(fn, args, kwargs)` -> (this call's parameter tensors (first path of each), their
    key: id and `_version` of each); `check` tells that every parameter reached by several paths is still one
    object (None when no parameter has aliases). Generated straight-line code: this is on the jit's hit path."""
    loads = "".join(f"    p{k} = {_expr(ps[0])}\n" for k, ps in enumerate(sources))
    tup = ", ".join(f"p{k}" for k in range(len(sources))) + ("," if len(sources) == 1 else "")
    key = ", ".join(f"id(p{k}), p{k}._version" for k in range(len(sources)))
    src = f"def resolve(fn, args, kwargs):\n{loads}    return ({tup}), ({key})\n"
    conds = [f"{_expr(ps[0])} is {_expr(p)}" for ps in sources for p in ps[1:]]
    if conds:
        src += "def check(fn, args, kwargs):\n    try:\n        return " + " and ".join(conds)
        src += "\n    except Exception:\n        return False\n"
    env: dict[str, Any] = {}
    exec(compile(src, "<ttfuse-params>", "exec"), env)  # noqa: S102 - attribute/item loads built from our paths
    return env["resolve"], env.get("check")


# ---------------------------------------------------------------------------------------------- partition
def _renumber(nodes: list[Node], ref_map: dict[Ref, Ref], start: int) -> tuple[list[Node], dict[Ref, Ref]]:
    out = []
    nxt = start
    for n in nodes:
        new = n.replace(id=nxt, inputs=tuple(ref_map[r] for r in n.inputs))
        for k in range(len(n.outs)):
            ref_map[Ref(n.id, k)] = Ref(nxt, k)
        nxt += n.num_values
        out.append(new)
    return out, ref_map


def split_params(g: Graph, n_explicit: int, *, demote: bool = True) -> tuple[Graph | None, Graph, list[int]]:
    """(prologue, main, param inputs the main graph still reads) of a graph whose inputs are `n_explicit`
    explicit tensors followed by the lifted parameters.

    The prologue holds the nodes whose inputs are all parameters or prologue values (never a graph output:
    a returned tensor must be the caller's own) whose values crossing into the main graph live in DRAM (an
    L1 value held across calls would hold L1 between them: with `demote`, an L1-interleaved crossing value of
    an op with a `memory_config` is written to DRAM instead, which the caller verifies; a sharded one keeps
    its producer in the main graph); it takes the parameters and returns the crossing values. The main graph's
    inputs: the explicit tensors, the parameters it reads, then the crossing values. None for the prologue
    when no node depends only on parameters."""
    if demote:
        g = _demoted(g, n_explicit)
    n_in = len(g.inputs)
    params = set(range(n_explicit, n_in))
    outputs = {r.value for r in g.outputs}
    excluded: set[int] = set()
    while True:
        pre: list[Node] = []
        pvals = set(params)
        for n in g.nodes:
            if (
                n.id not in excluded
                and n.inputs
                and all(r.value in pvals for r in n.inputs)
                and not any(n.id + k in outputs for k in range(len(n.outs)))
            ):
                pre.append(n)
                pvals.update(n.id + k for k in range(len(n.outs)))
        pre_ids = {n.id for n in pre}
        crossing: list[Ref] = []
        for n in g.nodes:
            if n.id in pre_ids:
                continue
            for r in n.inputs:
                if r.node >= n_in and r.node in pre_ids and r not in crossing:
                    crossing.append(r)
        index = g.node_index()
        bad = [r for r in crossing if g.spec_of(r, index).memory_config.buffer_type.value != "DRAM"]
        if not bad:
            break
        excluded.update(r.node for r in bad)
    if not pre:
        return None, g, list(range(n_explicit, n_in))
    # the prologue: inputs = the parameters
    pmap = {Ref(i, 0): Ref(i - n_explicit, 0) for i in params}
    pnodes, pmap = _renumber(pre, pmap, len(params))
    prologue = Graph(
        tuple(g.inputs[n_explicit:]),
        pnodes,
        tuple(pmap[r] for r in crossing),
        {"t": ["*"] * len(crossing)},
        {**g.meta, "name": f"{g.meta.get('name', 'fn')}.params"},
    )
    # the main graph: explicit inputs, the parameters it still reads, the crossing values
    rest = [n for n in g.nodes if n.id not in pre_ids]
    read = sorted(
        {r.node for n in rest for r in n.inputs if r.node in params}
        | {r.node for r in g.outputs if r.node in params}
    )
    mmap: dict[Ref, Ref] = {Ref(i, 0): Ref(i, 0) for i in range(n_explicit)}
    for j, i in enumerate(read):
        mmap[Ref(i, 0)] = Ref(n_explicit + j, 0)
    base = n_explicit + len(read)
    for j, r in enumerate(crossing):
        mmap[r] = Ref(base + j, 0)
    n_main_in = base + len(crossing)
    mnodes, mmap = _renumber(rest, mmap, n_main_in)
    index = g.node_index()
    names = list(g.meta.get("input_names") or [])
    main_names = names[:n_explicit] + [names[i] if i < len(names) else f"param {i}" for i in read]
    main_names += [f"params.%{r.node} ({index[r.node].op})" for r in crossing]
    main = Graph(
        tuple(g.inputs[:n_explicit])
        + tuple(g.inputs[i] for i in read)
        + tuple(g.spec_of(r, index) for r in crossing),
        mnodes,
        tuple(mmap[r] for r in g.outputs),
        g.out_tree,
        {**g.meta, "input_names": main_names},
        g.writes,
    )
    return prologue, main, read


def _demoted(g: Graph, n_explicit: int) -> Graph:
    """`g` with the L1-interleaved outputs of parameter-only single-output ops moved to DRAM (see split_params)."""
    from ttfuse.types import DRAM_MEMORY_CONFIG

    params = set(range(n_explicit, len(g.inputs)))
    pvals = set(params)
    nodes = []
    for n in g.nodes:
        if n.inputs and all(r.value in pvals for r in n.inputs):
            pvals.update(n.id + k for k in range(len(n.outs)))
            mc = n.outs[0].memory_config if len(n.outs) == 1 else None
            if (
                mc is not None
                and mc.buffer_type.value == "L1"
                and not mc.is_sharded()
                and any(k == "memory_config" for k, _ in n.attrs)
            ):
                n = n.replace(
                    attrs=tuple((k, DRAM_MEMORY_CONFIG if k == "memory_config" else v) for k, v in n.attrs),
                    outs=(n.outs[0].replace(memory_config=DRAM_MEMORY_CONFIG),),
                )
        nodes.append(n)
    return g.replace(nodes=nodes)


# ------------------------------------------------------------------------------------------------- running
class ParamRunner:
    """Runs a compiled entry whose graph has lifted parameters (see the module docstring).

    `main(*explicit, *read params, *prologue outputs)`, `prologue(*params)` (or None); `stale(args, kwargs)` is
    called when a parameter reached by several paths is no longer one object, or a parameter is gone or has
    another spec (the jit keys the call again by content).
    `sets` maps (id, version) of each parameter of a set seen to its prologue outputs; an entry drops itself when
    one of its tensors dies (a weakref callback), so an id in a live entry is never reused by another object."""

    MAX_SETS = 1024

    def __init__(self, fn, names, specs, sources, main, prologue, read, n_explicit, run_out, stale):
        self.fn = fn
        self.names = names
        self.specs = specs
        self.resolve, self.check = resolver(sources)
        self.main = main
        self.prologue = prologue
        self.read = [i - n_explicit for i in read]
        self.all_read = self.read == list(range(len(sources)))
        self.run_out = run_out  # tuple of flat outputs -> result
        self.stale = stale
        self.sets: dict = {}  # (id, version, ...) -> (prologue outputs, weakrefs)
        self.prologue_runs = 0

    def __call__(self, leaves, args, kwargs):
        fn = self.fn
        if self.check is not None and not self.check(fn, args, kwargs):
            return self.stale(args, kwargs)
        try:
            ps, key = self.resolve(fn, args, kwargs)
        except Exception:  # noqa: BLE001 - an attribute gone or not a tensor: the guard missed it; re-key
            return self.stale(args, kwargs)
        hit = self.sets.get(key)
        if hit is not None:
            pre = hit[0]
        else:
            pre = self._prepare(key, ps)
            if pre is None:
                return self.stale(args, kwargs)
        if self.all_read:
            return self.run_out(self.main(*leaves, *ps, *pre))
        return self.run_out(self.main(*leaves, *(ps[i] for i in self.read), *pre))

    def _prepare(self, key, ps) -> tuple | None:
        """Check this call's parameters (first time this set / version is seen) and run the prologue."""
        for name, spec, t in zip(self.names, self.specs, ps):
            if not isinstance(t, Tensor):
                raise with_user_frame(
                    TraceError(f"@ttfuse.jit: {name} is now a {type(t).__name__}, not a ttnn.Tensor")
                )
            if t._device is None:
                raise with_user_frame(
                    TraceError(f"@ttfuse.jit: {name} is now a host tensor; it must be on the device")
                )
            if not t.is_allocated():
                raise with_user_frame(DeviceError(f"@ttfuse.jit: {name} was deallocated (ttnn.deallocate)"))
            if t.spec != spec:
                return None  # written with a new spec: the caller recompiles
        pre: tuple = ()
        if self.prologue is not None:
            self.prologue_runs += 1
            pre = tuple(self.prologue(*ps))
        sets = self.sets

        def drop(_ref, key=key, sets=sets):
            sets.pop(key, None)

        sets[key] = (pre, [weakref.ref(t, drop) for t in ps])
        while len(sets) > self.MAX_SETS:
            sets.pop(next(iter(sets)), None)
        return pre
