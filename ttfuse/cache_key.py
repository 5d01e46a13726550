"""Compile-cache keys: each key field hashed on its own, then the field hashes together (see ttfuse/cache.py).

`make_key(fields)` canonicalises every component to deterministic JSON (`_canon`: dict and set order
normalised, floats exact with their sign, `1`/`1.0`/`True` distinct, functions by code and closure content,
ttnn types and configs through `ttfuse.types.to_json_value`) and hashes it; `CacheKey.diff` names the fields
two keys disagree on. `source_hash()` covers ttfuse's own source files, so a ttfuse edit starts a new cache.

Invariant: equal values give equal keys in every process (no ids, no addresses); a value that cannot be
described by content raises CacheError rather than risk two different values sharing a key.
Extend: a new key field is a new name in `KEY_FIELDS` (the caller supplies its value).
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import math
import os
import types
from pathlib import Path
from typing import Any

from ttfuse.errors import CacheError
from ttfuse.types import to_json_value

__all__ = ["KEY_FIELDS", "CacheKey", "make_key", "source_hash"]

KEY_FIELDS = ("function", "inputs", "static", "tree", "options", "device", "ttfuse", "pipeline")


def _canon(v: Any, depth: int = 0, seen: frozenset = frozenset()) -> Any:
    """A deterministic JSON-able form of a key component (dict order, sets and float quirks normalised).

    Content-based throughout, so equal values give equal keys in every process; raises TypeError for a value
    it cannot describe by content (an object with neither state nor a meaningful repr).
    """
    if depth > 12:
        raise TypeError("value nested too deeply to key")
    d = depth + 1
    if v is None or isinstance(v, bool | int | str):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else {"$float": repr(v)}
    if isinstance(v, tuple | list):
        return {"$list" if isinstance(v, list) else "$tuple": [_canon(x, d, seen) for x in v]}
    if isinstance(v, dict):
        items = [(_dumps(_canon(k, d, seen)), _canon(x, d, seen)) for k, x in v.items()]
        return {"$dict": sorted(items, key=lambda kv: kv[0])}
    if isinstance(v, set | frozenset):
        return {"$set": sorted(_dumps(_canon(x, d, seen)) for x in v)}
    if isinstance(v, bytes):
        return {"$bytes": v.hex()}
    if isinstance(v, enum.Enum):
        return {"$enum": _qual(type(v)), "v": v.name}
    if hasattr(v, "key_fields") and callable(v.key_fields):  # DeviceSpec and anything keyed like it
        return {"$keyed": _qual(type(v)), "f": _canon(v.key_fields(), d, seen)}
    try:
        return to_json_value(v)
    except TypeError:
        pass
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        fields = {
            f.name: _canon(getattr(v, f.name), d, seen)
            for f in dataclasses.fields(v)
            if not f.name.startswith("_")
        }
        return {"$dc": _qual(type(v)), "f": fields}
    if isinstance(v, types.CodeType):
        return {
            "$code": getattr(v, "co_qualname", v.co_name),  # co_qualname is 3.11+
            "b": v.co_code.hex(),
            "n": list(v.co_names),
            "c": [_canon(c, d, seen) for c in v.co_consts],
        }
    if isinstance(v, types.FunctionType | types.MethodType) or hasattr(v, "__dict__"):
        if id(v) in seen:  # a recursive closure or a self-referencing object
            return {"$cycle": _qual(v if isinstance(v, types.FunctionType) else type(v))}
        seen = seen | {id(v)}
    if isinstance(v, types.FunctionType):
        cells = [c.cell_contents for c in (v.__closure__ or ()) if _cell_set(c)]
        return {
            "$fn": _qual(v),
            "code": _canon(v.__code__, d, seen),
            "closure": _canon(cells, d, seen),
            "defaults": _canon(v.__defaults__, d, seen),
            "kwdefaults": _canon(v.__kwdefaults__, d, seen),
        }
    if isinstance(v, types.MethodType):
        return {"$method": _canon(v.__func__, d, seen), "self": _canon(v.__self__, d, seen)}
    if isinstance(v, type | types.BuiltinFunctionType | types.ModuleType):
        return {"$ref": _qual(v)}
    if isinstance(v, os.PathLike):
        return {"$path": os.fspath(v)}
    r = repr(v)
    if " at 0x" not in r:
        return {"$repr": _qual(type(v)), "r": r}
    # NOTE: a default repr holds a memory address, which another process may reuse for another object:
    # key such objects by their state instead, or refuse.
    state = getattr(v, "__dict__", None)
    if state is None:
        raise TypeError(
            f"cannot key a {_qual(type(v))} by content (give it a __repr__ or make it a dataclass)"
        )
    return {"$obj": _qual(type(v)), "f": _canon(state, d, seen)}


def _qual(x: Any) -> str:
    return f"{getattr(x, '__module__', None) or '?'}.{getattr(x, '__qualname__', None) or getattr(x, '__name__', '?')}"


def _cell_set(cell: Any) -> bool:
    try:
        cell.cell_contents  # noqa: B018
    except ValueError:
        return False
    return True


def _dumps(v: Any) -> str:
    return json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _combine(field_hashes: dict[str, str]) -> str:
    return _sha("\n".join(f"{k}={field_hashes[k]}" for k in sorted(field_hashes)))


@dataclasses.dataclass(frozen=True, eq=False)
class CacheKey:
    """A compile-cache key: `.hex` (the key) and `.fields` (field name -> sha256 of that component)."""

    hex: str
    fields: dict[str, str]
    values: dict[str, str] = dataclasses.field(default_factory=dict, repr=False)  # canonical JSON, for diffs

    @property
    def short(self) -> str:
        return self.hex[:12]

    def diff(self, other: CacheKey | dict[str, str]) -> list[str]:
        """Names of the fields whose hashes differ from `other` (a CacheKey or a field-hash dict)."""
        of = other.fields if isinstance(other, CacheKey) else other
        return [k for k in sorted(set(self.fields) | set(of)) if self.fields.get(k) != of.get(k)]

    def debug_lines(self) -> list[str]:
        return [f"{k}: {self.fields[k][:16]}  {self.values.get(k, '')[:120]}" for k in sorted(self.fields)]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CacheKey) and other.hex == self.hex

    def __hash__(self) -> int:
        return hash(self.hex)


def make_key(fields: dict[str, object]) -> CacheKey:
    """Hash each component of a key separately, then the sorted field hashes together.

    `fields` names a subset of KEY_FIELDS; "ttfuse" defaults to `source_hash()` and "pipeline" to None when
    absent (the caller names its pipeline: jit passes the version, the pass names and the disabled ones;
    this module does not import the passes, which sit below the caches). Values may be any mix of JSON scalars, tuples/lists/dicts, enums,
    ttfuse types (TensorSpec, MemoryConfig, configs), DeviceSpecs and dataclasses.
    """
    unknown = set(fields) - set(KEY_FIELDS)
    if unknown:
        raise ValueError(f"make_key: unknown key field(s) {sorted(unknown)}; known: {list(KEY_FIELDS)}")
    fields = dict(fields)
    fields.setdefault("ttfuse", source_hash())
    fields.setdefault("pipeline", None)
    values = {}
    for k, v in fields.items():
        try:
            values[k] = _dumps(_canon(v))
        except (TypeError, ValueError) as e:
            raise CacheError(f"cannot build the cache key field {k!r}: {e}") from None
    hashes = {k: _sha(s) for k, s in values.items()}
    return CacheKey(_combine(hashes), hashes, values)


_source_hash: str | None = None


def source_hash() -> str:
    """sha256 over ttfuse's own .py files (relative path + bytes), computed once per process.

    Any edit to ttfuse changes every key, so a cache never outlives the code that produced it.
    """
    global _source_hash
    if _source_hash is None:
        root = Path(__file__).resolve().parent
        h = hashlib.sha256()
        for p in sorted(root.rglob("*.py")):
            rel = p.relative_to(root).as_posix()
            if "__pycache__" in rel:
                continue
            h.update(rel.encode() + b"\0")
            h.update(p.read_bytes())
            h.update(b"\0")
        _source_hash = h.hexdigest()
    return _source_hash
