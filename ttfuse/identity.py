"""What a jit function is, for its cache key; and the per-call guard that notices when that changes.

`function_identity(fn)` walks everything a traced function can read besides its arguments: its code, its
closure cells, its defaults, the globals its code loads (and, recursively, the closures and globals of the user
helper functions it calls), and for a bound method or a callable object, the object. Every value is described by
content (`content_of`), process-independently, for the disk key:
- simple values by type and value (`1`, `1.0`, `True` and `-0.0` stay distinct), containers element-wise;
- functions by qualified name and code, user functions also by their closure, defaults and loaded globals;
  library functions (stdlib, site-packages) and ttfuse's own objects by name (ttfuse's source is in the key);
- enums by name, ttfuse configs and types by value, ttnn tensors by spec, devices by spec and mesh;
- any other object by its state: `__dict__` and `__slots__` (dataclasses included), recursively, plus its
  user class (method code and simple class attributes), within `_BUDGET` values and `_DEPTH` levels.
What cannot be described faithfully (torch and numpy arrays and modules, C objects with neither `__dict__` nor
`__slots__`, structures over the budget) makes the identity *unkeyable*: `Identity.canon` is None, the function
is compiled per process only (no disk entry) and the jit wrapper warns once, naming the variable.

The same walk records a guard (`Identity.guard`): a generated function that checks, on every call, that each
closure cell, loaded global and default still holds the same object (`is`), and that each mutable object reached
(object `__dict__`/`__slots__`, lists, dicts, sets) still holds the same values (identity per element; never `==`,
which tensors and arrays overload). A failed guard makes the jit wrapper recompute the identity, so mutating a
closure object, rebinding a `nonlocal` or a global gives a new key; flipping back finds the old memory entry.

Invariants: equal content gives equal `canon` in every process (no ids or addresses); a value is either keyed
by content or makes the identity unkeyable (never keyed by its type alone). Not guarded (documented in
docs/cache.md): the state inside unkeyable objects, class attributes and methods (keyed, not re-checked), and
the internals of library functions.
Static arguments of a call are keyed here too: `static_canon` (by value, by content for other objects),
`static_paths` / `find_arg` (argument paths for messages), `changed_reads` (what differs between identities).
Extend: a new kind of value is a branch in `_Walk.value` (content) and, if mutable, a `_Walk._snap_*` guard item.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import decimal
import dis
import enum
import functools
import hashlib
import json
import math
import operator
import re
import sys
import sysconfig
import types
import uuid
from collections.abc import Callable
from typing import Any

from ttfuse.backend import is_device
from ttfuse.cache_key import make_key
from ttfuse.capture.trace import input_names
from ttfuse.tensor import Tensor

__all__ = [
    "Identity",
    "Unkeyable",
    "changed_reads",
    "content_of",
    "find_arg",
    "function_identity",
    "global_names",
    "state_guard",
    "static_canon",
    "static_paths",
    "type_name",
]

_BUDGET = 2000  # values one identity may describe; past it the function is not keyed by content
_DEPTH = 24  # nesting levels (objects in objects, helpers calling helpers)
_MISSING = object()


class Unkeyable(Exception):
    """A value that cannot be described by content (the message names it and says why)."""


@dataclasses.dataclass
class Identity:
    """A function's identity: `canon` (JSON-able content, None when unkeyable), `token` (its sha256),
    `guard` (None when nothing can change), `problems` (why unkeyable), `calls_print`.

    `memory_token` tells states apart within this process: the token, or for an unkeyable identity the content
    with each unkeyable object described by its id (`keep` holds those objects, so no other object can take
    the id while the token is in use); None when the walk stopped at its budget (content not fully seen)."""

    canon: dict | None
    token: str | None
    guard: Callable[[], bool] | None
    problems: list[str]
    n_guards: int = 0
    calls_print: bool = False
    memory_token: str | None = None
    keep: list = dataclasses.field(default_factory=list, repr=False)


# ------------------------------------------------------------------------------------------------ helpers
def _qual(x: Any) -> str:
    mod = getattr(x, "__module__", None) or "?"
    return f"{mod}.{getattr(x, '__qualname__', None) or getattr(x, '__name__', '?')}"


def _type_name(v: Any) -> str:
    t = type(v)
    return t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


@functools.lru_cache(maxsize=4096)
def code_hash(code: types.CodeType) -> str:
    """sha256 of a code object's bytecode, names and constants (nested code objects included)."""
    h = hashlib.sha256()
    h.update(code.co_code)
    h.update(repr(code.co_names).encode())
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            h.update(code_hash(c).encode())
        else:
            h.update(repr(c).encode())
    return h.hexdigest()[:32]


@functools.lru_cache(maxsize=4096)
def global_names(code: types.CodeType) -> tuple[str, ...]:
    """Names the code (and code nested in it: lambdas, comprehensions, inner functions) loads as globals.

    NOTE: from the bytecode, not `co_names`, which also holds attribute names: `x.shape` must not make a
    module-level `shape` part of the key."""
    names: set[str] = set()
    for ins in dis.get_instructions(code):
        if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME") and isinstance(ins.argval, str):
            names.add(ins.argval)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            names.update(global_names(c))
    return tuple(sorted(names))


def _lib_dirs() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    return tuple(sorted({paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths}))


_LIBS = _lib_dirs()


@functools.lru_cache(maxsize=4096)
def _is_library_file(f: str) -> bool:
    """Code of the standard library, an installed package or ttfuse itself (keyed by name, not walked)."""
    return bool(f) and (
        f.startswith("<frozen")
        or f.startswith(_LIBS)
        or "/site-packages/" in f
        or "/dist-packages/" in f
        or _is_ttfuse_file(f)
    )


def _is_ttfuse_file(f: str) -> bool:
    from ttfuse.errors import _PKG_DIR

    return f.startswith(_PKG_DIR) or f.startswith("<ttfuse")


def _is_ttfuse(x: Any) -> bool:
    mod = getattr(x, "__module__", None)
    return isinstance(mod, str) and (mod == "ttfuse" or mod.startswith("ttfuse."))


def _heavy(t: type) -> str | None:
    """'a torch.nn.Module' and the like for array/module types from torch, numpy, jax, tensorflow."""
    for c in t.__mro__[:-1]:
        mod = c.__module__ or ""
        if mod.split(".")[0] in ("torch", "numpy", "jax", "jaxlib", "tensorflow"):
            return f"{mod}.{c.__qualname__}"
    return None


def _is_torch_tensor(v: Any) -> bool:
    t = type(v)
    return t.__module__.split(".")[0] == "torch" and any(
        c.__name__ == "Tensor" and c.__module__ == "torch" for c in t.__mro__
    )


def _small_repr(v: Any) -> Any | None:
    """Content of library values whose repr is exact and complete (dtypes, devices, numpy scalars)."""
    t = type(v)
    mod = t.__module__.split(".")[0]
    if mod == "torch" and t.__name__ in ("dtype", "device", "layout", "memory_format", "Size"):
        return {"$repr": _qual(t), "r": repr(v)}
    if mod == "numpy":
        import numpy as np

        if isinstance(v, np.dtype):
            return {"$np_dtype": v.str}
        if isinstance(v, np.generic) and v.dtype.kind in "biufc":
            return {"$np": v.dtype.str, "v": repr(v.item())}
    return None


# the plain value of a subclass of a builtin scalar, bypassing overridden __int__ / __str__ / ...
_SCALAR_BASES = (
    (int, int.__int__),
    (float, float.__float__),
    (str, str.__str__),
    (bytes, lambda v: bytes(memoryview(v))),
    # complex.__complex__ is 3.11+: the base type's real/imag descriptors bypass a subclass's overrides too
    (complex, lambda v: complex(complex.real.__get__(v), complex.imag.__get__(v))),
)
_REPR_TYPES = (range, slice, datetime.date, datetime.time, datetime.timedelta, decimal.Decimal, uuid.UUID)
_BUILTIN_CALLABLES = (
    types.BuiltinFunctionType,
    types.MethodDescriptorType,
    types.WrapperDescriptorType,
    types.MethodWrapperType,
    types.ClassMethodDescriptorType,
    types.GetSetDescriptorType,
    types.MemberDescriptorType,
)


def _slot_names(t: type) -> tuple[str, ...]:
    names: list[str] = []
    for c in t.__mro__:
        s = c.__dict__.get("__slots__", ())
        for n in (s,) if isinstance(s, str) else s:
            if n not in ("__dict__", "__weakref__") and n not in names:
                names.append(n)
    return tuple(names)


def _float(v: float) -> Any:
    # NOTE: json would write nan/inf as non-JSON; -0.0 and 0.0 stay distinct ("-0.0")
    return v if math.isfinite(v) else {"$float": repr(v)}


def _dumps(v: Any) -> str:
    return json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


# --------------------------------------------------------------------------------------------------- walk
class _Walk:
    """One walk over a function's reachable values: content (for the key) and guard items (for the call)."""

    def __init__(self, *, guard: bool = True, tensors: str = "spec", torch_meta: bool = False):
        self.torch_meta = torch_meta  # torch tensors by shape and dtype (see static_canon)
        self.left = _BUDGET
        self.do_guard = guard
        self.items: list[tuple] = []  # guard items, see _make_guard
        self.snapped: set[int] = set()  # ids of objects whose state is in `items`
        self.bound: set[tuple[int, Any]] = set()  # (id of holder, name) of the bindings in `items`
        self.problems: list[str] = []
        self.opaque: list = []  # the unkeyable objects met
        self.truncated = False  # the budget ran out: values past it are not described
        self.on_path: dict[int, int] = {}  # id -> depth, for cycles
        self.fns: set[int] = set()
        self.classes: dict[int, Any] = {}

    # -------------------------------------------------------------------------------- problems, guards
    def bad(self, v: Any, where: str, why: str) -> dict:
        self.problems.append(f"{where} (a {_type_name(v)}) {why}")
        self.opaque.append(v)
        return {"$unkeyable": _type_name(v), "id": id(v)}  # the id: for the in-process memory token only

    def bind(self, kind: str, holder: Any, name: Any, obj: Any) -> None:
        """Guard that `holder` still binds `obj` (a cell's contents, a global, a function attribute)."""
        if self.do_guard and (id(holder), name) not in self.bound:  # helpers share their module's globals
            self.bound.add((id(holder), name))
            self.items.append((kind, holder, name, obj))

    def _snap(self, v: Any, item: tuple) -> None:
        if self.do_guard and id(v) not in self.snapped:
            self.snapped.add(id(v))
            self.items.append(item)

    # ---------------------------------------------------------------------------------------------- values
    def value(self, v: Any, where: str, depth: int = 0) -> Any:
        self.left -= 1
        if self.left < 0:
            self.truncated = True
            if self.left == -1:
                self.bad(
                    v, where, f"is part of a structure too large to key by content (over {_BUDGET} values)"
                )
            return None
        if depth > _DEPTH:
            return self.bad(v, where, f"is nested too deeply to key by content (over {_DEPTH} levels)")
        t = type(v)
        if v is None or t is bool or t is int or t is str:
            return v
        if t is float:
            return _float(v)
        if t is bytes:
            return {"$bytes": v.hex()}
        if t is complex:
            return {"$complex": [_float(v.real), _float(v.imag)]}
        if isinstance(v, enum.Enum):
            return {"$enum": _qual(t), "v": v.name}
        if _is_ttfuse(t):
            return self.ttfuse_value(v, where, depth)
        if t is types.FunctionType:
            return self.function(v, where, depth)
        if isinstance(v, type):
            return self.cls(v, where, depth)
        if t is types.ModuleType:
            return {"$module": v.__name__}
        if t is types.MethodType:
            return {
                "$method": self.value(v.__func__, where, depth + 1),
                "self": self.value(v.__self__, f"{where}.__self__", depth + 1),
            }
        if t is functools.partial:
            return {
                "$partial": self.value(v.func, f"{where}.func", depth + 1),
                "args": self.value(v.args, f"{where}.args", depth + 1),
                "kw": self.value(v.keywords, f"{where}.keywords", depth + 1),
            }
        if isinstance(v, _BUILTIN_CALLABLES):
            owner = getattr(v, "__self__", None)
            out = {"$ref": _qual(v)}
            if owner is not None and not isinstance(owner, types.ModuleType | type):
                out["self"] = self.value(owner, f"{where}.__self__", depth + 1)  # e.g. a dict's bound .get
            return out
        if isinstance(v, int | float | str | bytes | complex):  # a subclass (not an enum): value and state
            plain = next(conv(v) for b, conv in _SCALAR_BASES if isinstance(v, b))
            return {
                "$scalar": _qual(t),
                "v": self.value(plain, where, depth + 1),
                "f": self.state(v, where, depth),
            }
        heavy = _heavy(t)
        if heavy is not None and self.torch_meta and _is_torch_tensor(v):
            return {"$torch_meta": [list(v.shape), str(v.dtype)]}
        if heavy is not None:
            small = _small_repr(v)
            if small is not None:
                return small
            return self.bad(v, where, "cannot be keyed by content")
        if isinstance(v, list | dict | collections.deque) and id(v) in self.on_path:
            return {"$cycle": depth - self.on_path[id(v)]}  # a container holding itself
        if isinstance(v, tuple | list | collections.deque):  # namedtuples and list subclasses too
            return self.nested(self.sequence, v, where, depth)
        if isinstance(v, dict):
            return self.nested(self.mapping, v, where, depth)
        if isinstance(v, set | frozenset):
            return self.set_(v, where, depth)
        if t is object:
            return {"$sentinel": "object"}  # `_MISSING = object()`: only its identity can be used
        if isinstance(v, re.Pattern):
            return {"$re": v.pattern if isinstance(v.pattern, str) else v.pattern.hex(), "flags": v.flags}
        if isinstance(v, types.CodeType):
            return {"$code": code_hash(v)}
        return self.obj(v, where, depth)

    def ttfuse_value(self, v: Any, where: str, depth: int) -> Any:
        from ttfuse.backend import is_device
        from ttfuse.tensor import Tensor
        from ttfuse.types import to_json_value

        if isinstance(v, Tensor):
            # NOTE: a concrete tensor an op reads is an implicit parameter (ttfuse/capture/params.py): the
            # compiled code reads it again on every call, so only its spec is part of the key
            return {"$tensor": str(v.spec)}
        if is_device(v):
            return {"$device": v.spec.name, "mesh": [v.shape.rows, v.shape.cols]}
        if isinstance(v, types.FunctionType | type | types.BuiltinFunctionType):
            return {"$ref": _qual(v)}  # ttfuse's own code: its source hash is a key field
        if type(v).__name__ == "JitFunction":
            return self.value(v.fn, where, depth)
        from ttfuse.opdef import OpDef

        if isinstance(v, OpDef):  # `RING_OP = kernels.ring_joint_attention`: an op, by name
            return {"$op": v.qualname}
        try:
            return {"$tt": to_json_value(v)}
        except TypeError:
            return self.obj(v, where, depth)

    def nested(self, walk: Callable, v: Any, where: str, depth: int) -> Any:
        self.on_path[id(v)] = depth
        try:
            return walk(v, where, depth)
        finally:
            self.on_path.pop(id(v), None)

    def too_big(self, v, where: str) -> dict | None:
        """A container with more items than the budget left is refused before it is walked (or guarded)."""
        if len(v) <= self.left:
            return None
        return self.bad(
            v, where, f"is too large to key by content ({len(v)} items; the limit is {_BUDGET} values)"
        )

    def sequence(self, v, where: str, depth: int) -> Any:
        big = self.too_big(v, where)
        if big is not None:
            return big
        t = type(v)
        items = [self.value(x, f"{where}[{i}]", depth + 1) for i, x in enumerate(v)]
        if not isinstance(v, tuple):
            self._snap(v, ("seq", v, len(v), tuple(v)))
        tag = {tuple: "$tuple", list: "$list"}.get(t)
        if tag is not None:
            return {tag: items}
        out = {"$seq": _qual(t), "items": items}
        state = self.state(v, where, depth)
        if state:
            out["state"] = state
        return out

    def mapping(self, v: dict, where: str, depth: int) -> Any:
        big = self.too_big(v, where)
        if big is not None:
            return big
        items = []
        for k, x in v.items():
            kc = self.value(k, f"{where} key", depth + 1)
            items.append((_dumps(kc), self.value(x, f"{where}[{k!r}]", depth + 1)))
        items.sort(key=lambda kv: kv[0])
        self._snap(v, ("map", v, len(v), tuple(v), tuple(v.values())))
        out: dict = {"$dict": [list(kv) for kv in items]}
        if type(v) is not dict:
            out["type"] = _qual(type(v))
            if isinstance(v, collections.defaultdict):
                out["factory"] = self.value(v.default_factory, f"{where}.default_factory", depth + 1)
            state = self.state(v, where, depth)
            if state:
                out["state"] = state
        return out

    def set_(self, v, where: str, depth: int) -> Any:
        big = self.too_big(v, where)
        if big is not None:
            return big
        items = sorted(_dumps(self.value(x, f"{where} item", depth + 1)) for x in v)
        if isinstance(v, set):
            self._snap(v, ("set", v, frozenset(v)))
        return {"$set" if isinstance(v, set) else "$frozenset": items}

    def obj(self, v: Any, where: str, depth: int) -> Any:
        t = type(v)
        if isinstance(v, _REPR_TYPES):
            return {"$repr": _qual(t), "r": repr(v)}
        try:
            d = v.__dict__
        except Exception:  # noqa: BLE001 - no __dict__, or a property that raises
            d = None
        if not isinstance(d, dict):
            d = None
        slots = _slot_names(t)
        if d is None and not slots:
            return self.bad(v, where, "cannot be keyed by content (it has neither __dict__ nor __slots__)")
        if id(v) in self.on_path:  # a cycle: a back reference, by how far up the path it points
            return {"$cycle": depth - self.on_path[id(v)]}
        return {"$obj": _qual(t), "cls": self.cls(t, where, depth + 1), "f": self.state(v, where, depth)}

    def state(self, v: Any, where: str, depth: int) -> dict:
        """The values of an object's __dict__ and __slots__ (guarded as one snapshot each)."""
        self.on_path[id(v)] = depth
        try:
            out: dict = {}
            d = getattr(v, "__dict__", None)
            if isinstance(d, dict):
                for k in sorted(d, key=str):
                    out[str(k)] = self.value(d[k], f"{where}.{k}", depth + 1)
                self._snap(d, ("map", d, len(d), tuple(d), tuple(d.values())))
            slots = _slot_names(type(v))
            if slots:
                vals = tuple(getattr(v, n, _MISSING) for n in slots)
                for n, x in zip(slots, vals):
                    out[n] = {"$unset": True} if x is _MISSING else self.value(x, f"{where}.{n}", depth + 1)
                self._snap(v, ("slots", v, slots, vals))
            return out
        finally:
            del self.on_path[id(v)]

    def cls(self, t: type, where: str, depth: int) -> Any:
        """A class: by name; a user class also by its methods' code and simple class attributes."""
        known = self.classes.get(id(t))
        if known is not None:
            return known
        out: dict = {"$class": _qual(t)}
        self.classes[id(t)] = out
        mod = getattr(t, "__module__", "") or ""
        if _is_ttfuse(t) or mod == "builtins" or issubclass(t, enum.Enum) or _heavy(t):
            return out
        src_file = getattr(sys.modules.get(mod), "__file__", None) or ""
        if _is_library_file(src_file):
            return out
        attrs: dict = {}
        for k, x in sorted(t.__dict__.items()):
            if k in ("__dict__", "__weakref__", "__doc__", "__module__", "__qualname__", "__slots__"):
                continue
            f = x.__func__ if isinstance(x, staticmethod | classmethod) else x
            if isinstance(f, property):
                f = f.fget
            if isinstance(f, types.FunctionType):
                attrs[k] = {"$code": code_hash(f.__code__)}
            elif f is None or type(f) in (bool, int, float, str, tuple):
                attrs[k] = self.value(f, f"{where}: class attribute {_qual(t)}.{k}", depth + 1)
        out["attrs"] = attrs
        return out

    # ------------------------------------------------------------------------------------------- functions
    def function(self, fn: types.FunctionType, where: str, depth: int) -> Any:
        code = fn.__code__
        out: dict = {"$fn": _qual(fn), "code": code_hash(code)}
        if id(fn) in self.fns or _is_library_file(code.co_filename):
            return out  # walked already (recursion), or a library function: name and code
        self.fns.add(id(fn))
        self.function_parts(fn, out, where, depth)
        return out

    def function_parts(self, fn: types.FunctionType, out: dict, where: str, depth: int) -> None:
        """Closure cells, defaults and loaded globals of a user function (cells and globals guarded; the
        defaults' own state too, but `f.__defaults__ = ...` only for the jit function itself)."""
        code = fn.__code__
        pre = f"{where} -> " if where else ""
        cells = {}
        for name, cell in zip(code.co_freevars, fn.__closure__ or ()):
            try:
                x = cell.cell_contents
            except ValueError:  # not assigned yet (a function defined before its nonlocal)
                self.bind("cell", cell, None, _MISSING)
                cells[name] = {"$empty": True}
                continue
            self.bind("cell", cell, None, x)
            cells[name] = self.value(x, f"{pre}closure variable {name!r}", depth + 1)
        if cells:
            out["closure"] = cells
        defaults = fn.__defaults__
        if defaults:
            if not where:
                self.bind("attr", fn, "__defaults__", defaults)
            n0 = code.co_argcount - len(defaults)
            names = code.co_varnames[n0 : code.co_argcount]
            out["defaults"] = [
                self.value(x, f"{pre}default of {n!r}", depth + 1) for n, x in zip(names, defaults)
            ]
        kwdefaults = fn.__kwdefaults__
        if kwdefaults:
            if not where:
                self.bind("attr", fn, "__kwdefaults__", kwdefaults)
            out["kwdefaults"] = {
                k: self.value(x, f"{pre}default of {k!r}", depth + 1) for k, x in sorted(kwdefaults.items())
            }
            if not where:  # `f.__kwdefaults__['k'] = ...`: as exotic as rebinding __defaults__
                self._snap(
                    kwdefaults,
                    ("map", kwdefaults, len(kwdefaults), tuple(kwdefaults), tuple(kwdefaults.values())),
                )
        g = fn.__globals__
        glb = {}
        for name in global_names(code):
            x = g.get(name, _MISSING)
            if x is _MISSING:
                continue  # a builtin (or a NameError when traced)
            if isinstance(x, types.ModuleType):
                continue  # `ttnn.add`, `math.sqrt`: modules are not rebound in practice
            self.bind("global", g, name, x)
            if _is_ttfuse(x) and isinstance(x, types.FunctionType | type):
                continue  # ttfuse's own functions: in the ttfuse source hash; the binding is guarded
            glb[name] = self.value(x, f"{pre}global {name!r}", depth + 1)
        if glb:
            out["globals"] = glb


# -------------------------------------------------------------------------------------------------- guard
def _make_guard(items: list[tuple]) -> Callable[[], bool] | None:
    """One generated function checking every guard item: a flat `and` of identity tests on closure variables.

    NOTE: unrolled (`d['k'] is v`, `s[0] is v`) rather than `all(map(operator.is_, ...))`, which costs ~4x
    more per element; a missing key or a shorter list raises inside the `try`, which fails the guard."""
    if not items:
        return None
    params: list[str] = []
    values: list[Any] = []

    def var(prefix: str, x: Any) -> str:
        params.append(f"{prefix}{len(params)}")
        values.append(x)
        return params[-1]

    conds: list[str] = []
    for it in items:
        kind = it[0]
        if kind == "cell":
            conds.append(f"{var('c', it[1])}.cell_contents is {var('o', it[3])}")
        elif kind == "global":
            conds.append(f"{var('g', it[1])}[{it[2]!r}] is {var('o', it[3])}")
        elif kind == "attr":
            conds.append(f"{var('h', it[1])}.{it[2]} is {var('o', it[3])}")
        elif kind == "seq":
            _, v, n, snap = it
            s_ = var("s", v)
            if n > 32:
                conds.append(f"len({s_}) == {n} and all(map(is_, {s_}, {var('v', snap)}))")
            else:
                conds.append(
                    " and ".join(
                        [f"len({s_}) == {n}"] + [f"{s_}[{j}] is {var('v', x)}" for j, x in enumerate(snap)]
                    )
                )
        elif kind == "map":
            _, d, n, keys, vals = it
            d_ = var("d", d)
            if n > 32:
                k_, v_ = var("k", keys), var("v", vals)
                conds.append(
                    f"len({d_}) == {n} and all(map(is_, {d_}, {k_})) and all(map(is_, {d_}.values(), {v_}))"
                )
                continue
            parts = [f"len({d_}) == {n}"]
            for k, x in zip(keys, vals):
                kk = repr(k) if type(k) is str else var("k", k)
                parts.append(f"{d_}[{kk}] is {var('v', x)}")
            conds.append(" and ".join(parts))
        elif kind == "slots":
            _, o, names, vals = it
            o_ = var("o", o)
            conds.extend(f"getattr({o_}, {n!r}, M) is {var('v', x)}" for n, x in zip(names, vals))
        elif kind == "set":
            conds.append(f"{var('s', it[1])} == {var('f', it[2])}")
        else:  # pragma: no cover - a new item kind without its check
            raise AssertionError(kind)
    src = (
        f"def factory(is_, M, {', '.join(params)}):\n"
        "    def guard():\n        try:\n            return (\n                "
        + "\n                and ".join(conds)
        + "\n            )\n        except Exception:\n            return False\n    return guard\n"
    )
    factory = _FACTORIES.get(src)
    if factory is None:  # a state flipping back and forth has the same shape: compiled once
        env: dict[str, Any] = {}
        exec(compile(src, "<ttfuse-guard>", "exec"), env)  # noqa: S102 - our own source, identity tests only
        factory = _FACTORIES[src] = env["factory"]
        if len(_FACTORIES) > 256:
            _FACTORIES.pop(next(iter(_FACTORIES)))
    return factory(operator.is_, _MISSING, *values)


_FACTORIES: dict[str, Callable] = {}


# ---------------------------------------------------------------------------------------------- entries
def function_identity(fn: Any, source: str | None) -> Identity:
    """The identity of a jit function `fn` (a function, bound method, partial or callable object).

    `source` is the function's source text (the caller caches it: reading it is the slow part)."""
    w = _Walk()
    canon: dict = {"qualname": _qual(fn), "source": source}
    target = fn
    if isinstance(fn, types.MethodType):
        canon["self"] = w.value(fn.__self__, "the bound 'self'", 1)
        target = fn.__func__
    if isinstance(target, types.FunctionType):
        canon["code"] = code_hash(target.__code__)
        w.fns.add(id(target))
        w.function_parts(target, canon, "", 0)
    else:  # a partial or a callable object: its content
        canon["callable"] = w.value(target, "the callable", 0)
    calls_print = False
    code = getattr(target, "__code__", None)
    if isinstance(code, types.CodeType):
        calls_print = "print" in global_names(code) and "print" not in target.__globals__
    guard = _make_guard(w.items)
    token = hashlib.sha256(_dumps(canon).encode("utf-8", "surrogatepass")).hexdigest()
    if w.problems:
        memory = None if w.truncated else "mem:" + token
        return Identity(None, None, guard, w.problems, len(w.items), calls_print, memory, w.opaque)
    return Identity(canon, token, guard, [], len(w.items), calls_print, token)


def state_guard(values: list) -> Callable[[], bool] | None:
    """A guard that the mutable state reachable from `values` (a call's static arguments: a method's `self`, its
    sub-modules, lists of layers, config objects) is still what it is now, by identity (`_make_guard`); None
    when nothing in them can change. The jit checks it on every hit of the entry keyed for these values."""
    w = _Walk()
    for v in values:
        w.value(v, "a static argument", 0)
    return _make_guard(w.items)


def content_of(v: Any, where: str, *, torch_meta: bool = False) -> dict:
    """Process-independent content of one value (a static argument), as {"type", "sha256"} (the content can
    nest deeper than make_key walks); raises Unkeyable naming `where`. `torch_meta`: see `static_canon`."""
    w = _Walk(guard=False, torch_meta=torch_meta)
    out = w.value(v, where, 0)
    if w.problems:
        raise Unkeyable(w.problems[0])
    sha = hashlib.sha256(_dumps(out).encode("utf-8", "surrogatepass")).hexdigest()
    return {"$content": _type_name(v), "sha256": sha}


# ------------------------------------------------------------------------------------ call key components
_SIMPLE = (type(None), bool, int, float, str, bytes)


def static_canon(v: Any, where: str, depth: int = 0, *, torch_meta: bool = False) -> Any:
    """A content-based, process-independent description of a static argument (for the disk key).

    With `torch_meta`, torch tensors held by an object (a module's `self.state_dict` of the weights it converted
    in `__init__`) are described by shape and dtype only: the jit passes it while the function's traces read no
    torch values (ttfuse/jit.py watches every trace for torch calls), so two layers of a shape share an entry."""
    if depth > 6:
        raise Unkeyable(f"{where} is nested too deeply to key")
    if isinstance(v, _SIMPLE):
        return v
    if is_device(v):
        return {"$device": v.spec.name, "mesh": [v.shape.rows, v.shape.cols]}
    if isinstance(v, Tensor):
        return {"$tensor": str(v.spec)}
    if isinstance(v, tuple | list):
        return [static_canon(x, f"{where}[{i}]", depth + 1, torch_meta=torch_meta) for i, x in enumerate(v)]
    if isinstance(v, dict):
        return {
            "$dict": sorted(
                [repr(k), static_canon(x, f"{where}[{k!r}]", depth + 1, torch_meta=torch_meta)]
                for k, x in v.items()
            )
        }
    if isinstance(v, types.ModuleType):
        return {"$module": v.__name__}
    if (getattr(type(v), "__module__", "") or "").startswith("ttfuse"):
        try:
            make_key({"static": v})  # ttfuse enums, configs and types: by value
            return v
        except Exception:  # noqa: BLE001 - fall through to the object's content
            pass
    # NOTE: not by repr: a user __repr__ rarely shows every field the trace may read
    return content_of(v, where, torch_meta=torch_meta)


def static_paths(tree: dict, fn) -> list[str]:
    """The argument path of each static leaf of a call's tree (`describe` order), for messages."""
    paths: list[tuple[int, str]] = []

    def walk(node, path: str) -> None:
        if node == "*":
            return
        if "s" in node:
            paths.append((node["s"], path))
        for tag in ("t", "l", "k"):
            for i, c in enumerate(node.get(tag, ())):
                walk(c, f"{path}[{i}]")
        for k, c in node.get("d", ()):
            walk(c, f"{path}[{k!r}]")

    for i, a in enumerate(tree["args"]):
        walk(a, f"args[{i}]")
    for k, a in tree["kwargs"]:
        walk(a, k)
    names = input_names(fn, [p for _, p in sorted(paths)])
    return [f"argument {n!r}" for n in names]


def find_arg(fn, args, kwargs, obj) -> str | None:
    """'argument 'cfg'' (or a path inside it) for the argument holding `obj`, found by identity."""

    def walk(v, path):
        if v is obj:
            return path
        if type(v) in (tuple, list):
            for i, x in enumerate(v):
                r = walk(x, f"{path}[{i}]")
                if r:
                    return r
        elif type(v) is dict:
            for k, x in v.items():
                r = walk(x, f"{path}[{k!r}]")
                if r:
                    return r
        return None

    found = [walk(a, f"args[{i}]") for i, a in enumerate(args)] + [walk(v, k) for k, v in kwargs.items()]
    found = [p for p in found if p]
    return f"argument {input_names(fn, found[:1])[0]!r}" if found else None


def type_name(v: Any) -> str:
    """`int` for builtins, else `module.Qualname`: how messages name a value's type."""
    return _type_name(v)


def changed_reads(old: dict | None, new: dict | None) -> str:
    """Which closure variables / globals / defaults differ between two identities ('what it reads')."""
    names = []
    for part, label in (("closure", "closure variable"), ("globals", "global"), ("defaults", "defaults")):
        a, b = (old or {}).get(part), (new or {}).get(part)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            names += [f"{label} {k!r}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
        else:
            names.append(label)
    return ", ".join(names) or "what the function reads from its closure and globals"
