"""Compile-cache keys: each key field hashed on its own, then the field hashes together (see ttfuse/cache.py).

`make_key(fields)` canonicalises every component to deterministic JSON (`_canon`: dict and set order
normalised, floats exact with their sign, `1`/`1.0`/`True` distinct, functions by code and closure content,
ttnn types and configs through `ttfuse.types.to_json_value`) and hashes it; `CacheKey.diff` names the fields
two keys disagree on and `field_changes` says what changed inside one, as spec text (`arg x: bf16[32,64]@DRAM
-> bf16[32,128]@DRAM`, `arg scale: 1.0 -> 2.0`, `call: (T) -> (T, S)`). `source_hash()` covers ttfuse's own source
files, so a ttfuse edit starts a new cache.

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

__all__ = ["KEY_FIELDS", "CacheKey", "make_key", "source_hash", "field_changes"]

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


# ------------------------------------------------------------------------------------ readable differences
class _Text(str):
    """Decoded canonical JSON that prints as itself (a spec, an enum member, a function), not as a quoted str."""

    def __repr__(self) -> str:
        return str(self)


def _decode(v: Any) -> Any:
    """Canonical key JSON (what `_canon` wrote, parsed) -> plain Python values that print as the user wrote them:
    tuples, lists, dicts, TensorSpecs as spec text (`bf16[32,64]@DRAM`), enums as `Class.member`. For messages
    only: the values come from keys this process built, never from a file."""
    if isinstance(v, list):
        return [_decode(x) for x in v]
    if not isinstance(v, dict):
        return v
    if "$list" in v:
        return [_decode(x) for x in v["$list"]]
    if "$tuple" in v:
        return tuple(_decode(x) for x in v["$tuple"])
    if "$dict" in v:
        return {_hashable(_decode(json.loads(k))): _decode(x) for k, x in v["$dict"]}
    if "$set" in v:
        return _Text("{" + ", ".join(repr(_decode(json.loads(x))) for x in v["$set"]) + "}")
    if "$float" in v:
        return _Text(v["$float"])
    if "$enum" in v:
        return _Text(f"{str(v['$enum']).rsplit('.', 1)[-1]}.{v.get('v')}")
    if "$obj" in v and v["$obj"] == "TensorSpec":
        try:
            from ttfuse.types import from_json_value

            return _Text(str(from_json_value(v)))
        except Exception:  # noqa: BLE001 - a message: fall back to the fields
            pass
    for tag in ("$obj", "$dc", "$keyed"):
        if tag in v:
            name = str(v[tag]).rsplit(".", 1)[-1]
            fields = _decode(v.get("f"))
            if isinstance(fields, dict):
                return _Text(f"{name}(" + ", ".join(f"{k}={x!r}" for k, x in fields.items()) + ")")
            return _Text(f"{name}({fields!r})")
    for tag, word in (("$fn", "function"), ("$method", "method"), ("$code", "code"), ("$cycle", "cycle")):
        if tag in v:
            return _Text(f"<{word} {v[tag] if isinstance(v[tag], str) else '...'}>")
    for tag in ("$ref", "$path", "$module"):
        if tag in v:
            return _Text(str(v[tag]))
    if "$repr" in v:
        return _Text(str(v.get("r")))
    if "$bytes" in v:
        return _Text(f"bytes.fromhex({v['$bytes']!r})")
    return {k: _decode(x) for k, x in v.items()}


def _hashable(v: Any) -> Any:
    return _Text(repr(v)) if isinstance(v, list | dict) else v


def _call_shape(tree: Any) -> str:
    """The call's pytree (`tree` field) as a signature: T a tensor, S a static value, `(T, S, act=S)`."""

    def node(n: Any) -> str:
        if n == "*":
            return "T"
        if isinstance(n, dict):
            if "s" in n:
                return "S"
            if "t" in n or "l" in n or "k" in n:
                kids = ", ".join(node(c) for c in n.get("t", n.get("l", n.get("k", []))))
                return f"[{kids}]" if "l" in n else f"({kids}{',' if len(n.get('t', ())) == 1 else ''})"
            if "d" in n:
                return "{" + ", ".join(f"{k!r}: {node(c)}" for k, c in n["d"]) + "}"
        return repr(n)

    if not isinstance(tree, dict) or "args" not in tree:
        return repr(tree)
    parts = [node(a) for a in tree.get("args", [])]
    parts += [f"{k}={node(c)}" for k, c in tree.get("kwargs", [])]
    return "(" + ", ".join(parts) + ")"


_MISSING = _Text("(not passed)")
# the order of ttfuse/device.py DeviceSpec.key_fields(), for messages
_DEVICE_KEY_FIELDS = ("arch", "board", "grid", "l1_per_core", "dram_bytes", "num_chips")


def _walk(path: str, a: Any, b: Any, out: list[tuple[str, str, str]]) -> None:
    if a == b:
        return
    if isinstance(a, dict) and isinstance(b, dict):
        for k in list(a) + [k for k in b if k not in a]:
            sub = f"{path}.{k}" if isinstance(k, str) and k.isidentifier() else f"{path}[{k!r}]"
            _walk(sub, a.get(k, _MISSING), b.get(k, _MISSING), out)
        return
    # a short sequence reads best whole (`(8, 8) -> (8, 7)`), a long one by its items that differ
    long = len(repr(a)) + len(repr(b)) > 80
    if isinstance(a, list | tuple) and isinstance(b, list | tuple) and len(a) == len(b) > 1 and long:
        for i, (x, y) in enumerate(zip(a, b)):
            _walk(f"{path}[{i}]", x, y, out)
        return
    out.append((path, repr(a), repr(b)))


def field_changes(
    field: str,
    was: str,
    now: str,
    names_was: list[str] | None = None,
    names_now: list[str] | None = None,
) -> list[tuple[str, str, str]]:
    """What changed inside key field `field` between two canonical values (`CacheKey.values[field]`), as
    (where, was, now) text: `("arg x", "bf16[32,64]@DRAM", "bf16[32,128]@DRAM")`. `names_*`: the names of the
    field's items (the jit passes the input names for `inputs` and the argument names for `static`), else
    items are numbered. Only the innermost values that differ are listed."""
    a, b = _decode(json.loads(was)), _decode(json.loads(now))
    out: list[tuple[str, str, str]] = []
    if field == "tree":
        a, b = _call_shape(a), _call_shape(b)
        return [("call", a, b)] if a != b else []
    if field in ("inputs", "static") and isinstance(a, list | tuple) and isinstance(b, list | tuple):
        what = "arg" if field == "inputs" else "static"

        def named(items: list, names: list[str] | None) -> dict[str, Any]:
            if names is None or len(names) != len(items):
                names = [f"{what} {i}" for i in range(len(items))]
            else:
                names = [f"arg {n}" for n in names]
            return dict(zip(names, items))

        na, nb = named(a, names_was), named(b, names_now)
        for k in list(na) + [k for k in nb if k not in na]:
            _walk(k, na.get(k, _MISSING), nb.get(k, _MISSING), out)
        return out
    if field == "function" and isinstance(a, dict) and isinstance(b, dict):
        short = {k: _Text(v[:12]) if isinstance(v, str) and len(v) == 64 else v for k, v in a.items()}
        a, b = short, {k: _Text(v[:12]) if isinstance(v, str) and len(v) == 64 else v for k, v in b.items()}
        _walk(field, a, b, out)
        return [
            (w.replace("function.content", "function content (code, closures, globals, defaults)"), x, y)
            for w, x, y in out
        ]
    if field == "device" and isinstance(a, dict) and isinstance(b, dict):
        for d in (a, b):  # name DeviceSpec.key_fields() (ttfuse/device.py) by its fields
            if isinstance(d.get("spec"), list) and len(d["spec"]) == len(_DEVICE_KEY_FIELDS):
                d["spec"] = dict(zip(_DEVICE_KEY_FIELDS, d["spec"]))
    if field == "ttfuse":
        return [("ttfuse source hash (ttfuse was edited)", repr(a)[1:13], repr(b)[1:13])]
    _walk(field, a, b, out)
    return out


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
