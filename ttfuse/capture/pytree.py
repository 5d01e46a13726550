"""Pytrees of jit arguments and results: tuples, lists, dicts and namedtuples of tensors and static values.

Three walks over the same order (positional args, then kwargs in call order; dicts in insertion order):
- `flatten_key(args, kwargs, leaves, key)`: the jit hot path. Fills the tensor leaves and a flat hashable key
  list in one pass (container markers, two tokens per tensor: its spec's `TensorSpec._key`, made once with the
  spec, and its device object; each static leaf with its type, so 1, 1.0 and True stay distinct). Mutable statics are keyed by content on
  every call: lists and dicts are containers, a set becomes a frozenset token; any other unhashable static is
  recognised by identity (`ByIdentity`; the jit warns once, and guards its content on every call).
- `describe(args, kwargs)`: the slow path. A JSON-able tree (tensor leaves "*", static leaves {"s": k}) and
  the static values, for the cache key and for error messages (leaf paths like `args[1]['w']`).
- `substitute(args, kwargs, new_leaves)`: the same structure with tensor leaves replaced (by tracers).
Results: `flatten_out(result)` -> (tensor leaves, out_tree JSON with constants {"c": value}); an out_tree is
turned once into a fast rebuild function by `unflattener(out_tree)`.

Invariant: the three argument walks visit tensor leaves in the same order.
Extend: a new container kind needs a branch in all four walks (and `unflattener`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from ttfuse.ir import decode_value, encode_value
from ttfuse.tensor import Tensor
from ttfuse.types import TensorSpec

_LIST, _TUPLE, _DICT, _KW = list, tuple, dict, "**"
_SCALARS = frozenset((int, str, bool, type(None)))


def _is_namedtuple(t: type) -> bool:
    return issubclass(t, tuple) and hasattr(t, "_fields")


# ------------------------------------------------------------------------------------------- hot path
def flatten_key(args: tuple, kwargs: dict, leaves: list, key: list) -> None:
    """Append tensor leaves to `leaves` and hashable key tokens to `key` (see module docstring)."""
    walk = _walk
    for a in args:
        walk(a, leaves, key)
    if kwargs:
        key.append(_KW)
        key.append(tuple(kwargs))
        for v in kwargs.values():
            walk(v, leaves, key)


def _walk(v: Any, leaves: list, key: list) -> None:
    t = type(v)
    if t is Tensor:
        # NOTE: the spec's token (`TensorSpec._key`, built once with the spec: its compared fields as a tuple of
        # strs and a plain tuple), not the TensorSpec: hashing/comparing the frozen dataclass (and its enums)
        # costs ~1 us per tensor. Same equality.
        leaves.append(v)
        key.append(v.spec._key)
        key.append(v._device)
    elif t is tuple or t is list:
        key.append(t)
        key.append(len(v))
        for x in v:
            if type(x) is Tensor:  # inlined: a layer's weights are lists of tensors (one call less per leaf)
                leaves.append(x)
                key.append(x.spec._key)
                key.append(x._device)
            else:
                _walk(x, leaves, key)
    elif t is dict:
        key.append(t)
        key.append(tuple(v))
        for x in v.values():
            _walk(x, leaves, key)
    elif t in _SCALARS:  # the common statics, before the isinstance/namedtuple tests below
        key.append(t)
        key.append(v)
    elif isinstance(v, Tensor):  # tracers (escaped ones are reported on the slow path)
        leaves.append(v)
        key.append((v.spec, v._device))
    elif _is_namedtuple(t):
        key.append(t)
        for x in v:
            _walk(x, leaves, key)
    elif t is float:
        # NOTE: 0.0 == -0.0 and nan != nan would conflate or never hit; the hex form is exact for every float
        key.append(t)
        key.append(v.hex())
    elif t is set or t is bytearray:
        # mutable statics by content on every call (a set keyed by identity would miss a later .add)
        key.append(t)
        key.append(frozenset(v) if t is set else bytes(v))
    else:
        key.append(t)
        key.append(v)


class ByIdentity:
    """Key token for an unhashable static argument: equal only to itself (keeps the object alive)."""

    __slots__ = ("obj",)

    def __init__(self, obj: Any):
        self.obj = obj

    def __hash__(self) -> int:
        return id(self.obj)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ByIdentity) and other.obj is self.obj


def hashable_key(key: list) -> tuple:
    """`tuple(key)`, with unhashable static leaves wrapped in ByIdentity (slow path only)."""
    out = []
    for tok in key:
        try:
            hash(tok)
        except TypeError:
            tok = ByIdentity(tok)
        out.append(tok)
    return tuple(out)


# ------------------------------------------------------------------------------------------ slow path
def describe(args: tuple, kwargs: dict, *, specs_are_tensors: bool = False) -> tuple[dict, list, list, list]:
    """(tree JSON, static values, tensor leaves, leaf paths) of a call's arguments.

    With `specs_are_tensors`, TensorSpec leaves count as (abstract) tensors, as `jit_fn.lower` wants.
    """
    statics: list = []
    leaves: list = []
    paths: list = []

    def is_tensor(v) -> bool:
        return isinstance(v, Tensor) or (specs_are_tensors and isinstance(v, TensorSpec))

    def walk(v, path: str):
        t = type(v)
        if is_tensor(v):
            leaves.append(v)
            paths.append(path)
            return "*"
        if t is tuple or t is list:
            return {"t" if t is tuple else "l": [walk(x, f"{path}[{i}]") for i, x in enumerate(v)]}
        if t is dict:
            return {"d": [[_key_json(k), walk(x, f"{path}[{k!r}]")] for k, x in v.items()]}
        if _is_namedtuple(t):
            return {
                "nt": f"{t.__module__}:{t.__qualname__}",
                "k": [walk(x, f"{path}.{f}") for f, x in zip(t._fields, v)],
            }
        statics.append(v)
        return {"s": len(statics) - 1}

    tree = {
        "args": [walk(a, _arg_name(i)) for i, a in enumerate(args)],
        "kwargs": [[k, walk(v, k)] for k, v in kwargs.items()],
    }
    return tree, statics, leaves, paths


def lookup(lru, args: tuple, kwargs: dict) -> tuple:
    """(entry or None, key, tensor leaves) of a call in a jit function's LRU: the key from `flatten_key`, made
    hashable the slow way only when a static argument is unhashable."""
    leaves: list = []
    key: list = []
    flatten_key(args, kwargs, leaves, key)
    try:
        fast = tuple(key)
        return lru.get(fast), fast, leaves
    except TypeError:  # an unhashable static argument
        fast = hashable_key(key)
        return lru.get(fast), fast, leaves


def _arg_name(i: int) -> str:
    return f"args[{i}]"


def _key_json(k: Any) -> Any:
    if isinstance(k, str | int | bool) or k is None:
        return k
    return repr(k)


def substitute(
    args: tuple, kwargs: dict, new_leaves: list, *, specs_are_tensors: bool = False
) -> tuple[tuple, dict]:
    """The call's arguments with tensor leaves replaced by `new_leaves` (in `describe` order)."""
    it = iter(new_leaves)

    def is_tensor(v) -> bool:
        return isinstance(v, Tensor) or (specs_are_tensors and isinstance(v, TensorSpec))

    def walk(v):
        t = type(v)
        if is_tensor(v):
            return next(it)
        if t is tuple or t is list:
            return t(walk(x) for x in v)
        if t is dict:
            return {k: walk(x) for k, x in v.items()}
        if _is_namedtuple(t):
            return t(*(walk(x) for x in v))
        return v

    new_args = tuple(walk(a) for a in args)
    new_kwargs = {k: walk(v) for k, v in kwargs.items()}
    return new_args, new_kwargs


# ------------------------------------------------------------------------------------------------ results
def flatten_out(result: Any, is_tensor: Callable[[Any], bool]) -> tuple[list, Any]:
    """(tensor leaves, out_tree JSON) of a function's result; non-tensor leaves become constants."""
    leaves: list = []

    def walk(v):
        t = type(v)
        if is_tensor(v):
            leaves.append(v)
            return "*"
        if t is tuple or t is list:
            return {"t" if t is tuple else "l": [walk(x) for x in v]}
        if t is dict:
            if not all(isinstance(k, str | int) for k in v):
                raise TypeError("dict results need str or int keys")
            return {"d": [[k, walk(x)] for k, x in v.items()]}
        if _is_namedtuple(t):
            return {"nt": f"{t.__module__}:{t.__qualname__}", "k": [walk(x) for x in v]}
        return {"c": encode_value(v)}

    return leaves, walk(result)


def _resolve(qual: str):
    """The namedtuple class 'module:Qual.name' names, or None (then a plain tuple is rebuilt).

    An out_tree may come from a disk cache entry: only a module that is already imported is searched (no
    import runs), by `vars` (no module __getattr__), and only a namedtuple class is returned (never another
    callable, which the rebuild would call with the outputs)."""
    mod, _, name = qual.partition(":")
    obj = sys.modules.get(mod)
    for part in name.split("."):
        try:
            obj = vars(obj).get(part)
        except TypeError:  # None (not imported, or a class defined in a function), or no __dict__
            return None
    return obj if isinstance(obj, type) and _is_namedtuple(obj) else None


def unflattener(tree: Any) -> Callable[[tuple], Any]:
    """A function rebuilding the result from the flat output tuple (built once per compiled entry)."""
    if tree == "*":
        return _first
    if isinstance(tree, dict) and "t" in tree and all(c == "*" for c in tree["t"]):
        return _same if len(tree["t"]) else _empty_tuple
    counter = [0]

    def build(node) -> Callable[[tuple], Any]:
        if node == "*":
            i = counter[0]
            counter[0] += 1
            return lambda outs: outs[i]
        if "c" in node:
            const = decode_value(node["c"])
            return lambda outs: const
        if "t" in node:
            kids = [build(c) for c in node["t"]]
            return lambda outs: tuple(k(outs) for k in kids)
        if "l" in node:
            kids = [build(c) for c in node["l"]]
            return lambda outs: [k(outs) for k in kids]
        if "d" in node:
            items = [(k, build(c)) for k, c in node["d"]]
            return lambda outs: {k: f(outs) for k, f in items}
        if "nt" in node:
            cls = _resolve(node["nt"])
            kids = [build(c) for c in node["k"]]
            if cls is None:
                return lambda outs: tuple(k(outs) for k in kids)
            return lambda outs: cls(*(k(outs) for k in kids))
        raise ValueError(f"bad out_tree node {node!r}")

    return build(tree)


def _first(outs: tuple) -> Any:
    return outs[0]


def _same(outs: tuple) -> tuple:
    return outs


def _empty_tuple(outs: tuple) -> tuple:
    return ()
