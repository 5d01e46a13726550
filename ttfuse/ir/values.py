"""Values of the IR and the static data nodes hold: refs, attribute markers, frozen lists, their JSON coding.

A `Ref(node, out)` names one value (an input is `Ref(i, 0)` with i < n inputs; its value number is node + out).
Attributes hold every parameter of an op by name as hashable static values: a tensor parameter an `In(k)` marker
(the k-th entry of `node.inputs`), a list of tensors a FrozenList/tuple of markers, a device argument
`DeviceArg()` (the device the graph runs on); list-valued static arguments are `FrozenList`s.
Extend: a new static value kind needs an encoding in `encode_value`/`decode_value` (or in
ttfuse.types.to_json_value) and a literal form in ttfuse/codegen.py.
"""

from __future__ import annotations

import enum
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from ttfuse.types import TensorSpec, from_json_value, to_json_value


# ------------------------------------------------------------------------------------------------ values
class Ref(NamedTuple):
    """One value: output `out` of node `node` (or graph input `node` when node < len(graph.inputs))."""

    node: int
    out: int = 0

    @property
    def value(self) -> int:
        return self.node + self.out

    def __repr__(self) -> str:
        return f"%{self.node + self.out}"


@dataclass(frozen=True, slots=True)
class In:
    """Attribute marker: this tensor parameter is `node.inputs[i]`."""

    i: int

    def __repr__(self) -> str:
        return f"In({self.i})"


@dataclass(frozen=True, slots=True)
class DeviceArg:
    """Attribute marker: the device the graph runs on (the device of its tensor inputs)."""

    def __repr__(self) -> str:
        return "DeviceArg()"


class FrozenList(tuple):
    """A list-valued static argument, frozen to be hashable; codegen passes it as a list again."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"FrozenList({list(self)!r})"


def freeze(v: Any) -> Any:
    """A hashable form of a static value: lists -> FrozenList, tuples frozen element-wise."""
    if type(v) is list:
        return FrozenList(freeze(x) for x in v)
    if type(v) is tuple:
        return tuple(freeze(x) for x in v)
    return v


def thaw(v: Any) -> Any:
    """Inverse of `freeze` (FrozenList -> list), for calling an op with the original argument types."""
    if type(v) is FrozenList:
        return [thaw(x) for x in v]
    if type(v) is tuple:
        return tuple(thaw(x) for x in v)
    return v


# ----------------------------------------------------------------------------------------- value coding
def encode_value(v: Any) -> Any:
    """JSON data for a static attribute value (markers, frozen lists, then ttfuse.types.to_json_value)."""
    t = type(v)
    if t is In:
        return {"$in": v.i}
    if t is DeviceArg:
        return {"$device": 0}
    if t is FrozenList:
        return {"$flist": [encode_value(x) for x in v]}
    if t is tuple:
        return {"$tuple": [encode_value(x) for x in v]}
    if t is list:
        return {"$list": [encode_value(x) for x in v]}
    try:
        return to_json_value(v)
    except TypeError:
        # enums defined by op modules (ttnn.Topology, GeluVariant, ...): by module path and member name
        if isinstance(v, enum.Enum) and t.__module__.startswith("ttfuse."):
            return {"$penum": f"{t.__module__}:{t.__qualname__}", "v": v.name}
        raise


def decode_value(d: Any) -> Any:
    if not isinstance(d, dict):
        return d
    if "$in" in d:
        return In(int(d["$in"]))
    if "$device" in d:
        return DeviceArg()
    if "$flist" in d:
        return FrozenList(decode_value(x) for x in d["$flist"])
    if "$tuple" in d:
        return tuple(decode_value(x) for x in d["$tuple"])
    if "$list" in d:
        return [decode_value(x) for x in d["$list"]]
    if "$penum" in d:
        return _op_enum(d["$penum"])[d["v"]]
    return from_json_value(d)


def _op_enum(path: str) -> type:
    """An enum class of a ttfuse module by 'module:Qualname'. Only an already imported ttfuse module is
    searched (a cache file never causes an import; every op module is imported with ttfuse), by `vars`."""
    mod, _, qual = path.partition(":")
    obj = sys.modules.get(mod)
    if not mod.startswith("ttfuse.") or obj is None or not all(p.isidentifier() for p in qual.split(".")):
        raise ValueError(f"bad enum reference {path!r}")
    for part in qual.split("."):
        try:
            obj = vars(obj)[part]
        except (TypeError, KeyError):
            raise ValueError(f"bad enum reference {path!r}") from None
    if not (isinstance(obj, type) and issubclass(obj, enum.Enum)):
        raise ValueError(f"{path!r} is not an enum")
    return obj


def decode_spec(d: Any) -> TensorSpec:
    s = from_json_value(d)
    if not isinstance(s, TensorSpec):
        raise ValueError(f"expected a TensorSpec, got {s!r}")
    return s


def substitute(v: Any, tensor: Callable[[In], Any], device: Any = None) -> Any:
    """A static attribute value with its In markers replaced by `tensor(marker)` and DeviceArg by `device`;
    FrozenLists become lists again (what an op receives when it is called)."""
    t = type(v)
    if t is In:
        return tensor(v)
    if t is DeviceArg:
        return device
    if t is FrozenList:
        return [substitute(x, tensor, device) for x in v]
    if t is tuple:
        return tuple(substitute(x, tensor, device) for x in v)
    return v


def attr_tensor_positions(v: Any) -> list[int]:
    """The In markers inside an attribute value (a tensor param or a list of tensors)."""
    if type(v) is In:
        return [v.i]
    if type(v) in (tuple, FrozenList, list):
        out = []
        for x in v:
            out.extend(attr_tensor_positions(x))
        return out
    return []
