"""The strict schema of a disk cache entry: what a loaded entry must be before a graph is built from it.

Why: an entry is data that anyone who can write the cache directory can edit, and its sha256 checksum only
catches accidents (an editor recomputes it). On load the graph is decoded, verified and its code regenerated
and exec'd, so every string that can reach generated source, every value codegen may eval() and every name
that is looked up (ops, enum and config classes, result namedtuples) must be of a known, inert form first.

`check_entry(entry)` runs the rules of `RULES` in order over the JSON (nothing is imported or constructed
before its rule has accepted the data) and raises `SchemaError` naming the rule and the JSON path of the first
violation (`schema [nodes] graph.nodes[2].side.loc[2]: ...`). `JitFunction._load` runs it before
`Graph.from_json` + verify + codegen; a rejection is a counted `load_error` like any corrupt entry
(ttfuse/cache.py: warned, moved aside, recompiled; `TTFUSE_STRICT_CACHE=1` raises CacheError).

Rules (what `Graph.to_json` and `cache.make_entry` write, nothing else):
- envelope: `function` a dotted qualified name, `device` a device name, `arg_specs` printable strings, `run`
  (absent in entries written before run ids) a run id (ttfuse/cache.py `run_id`).
- graph: exactly the keys Graph.to_json writes, `ir_version` the current IR_VERSION.
- meta: only `name` (a qualified name), `device` (a device name or null), `mesh` ([rows, cols] >= 1),
  `input_names` (printable strings, one per input at most) and `params` (the source paths of the implicit
  parameters, the last inputs: per parameter 1-4 paths, each a root `["arg", int]`, `["kw", text]` or `["fn"]`
  then `["a", text]` / `["i", int or text]` steps; generated code reads them as `.name` when `name` is an
  identifier, else `.__dict__[repr]`, and items as `[repr]`, so no text reaches the source unquoted).
- inputs, outs: TensorSpecs (`$obj` TensorSpec with a `$Shape`, DataType, Layout and MemoryConfig).
- nodes: only the keys Node.to_json writes; `id` an int (never a bool) >= the number of inputs, unique; `op`
  registered in `ttfuse.opdef.OPS`; `inputs` refs to a graph input or an earlier node's output; `attrs`
  exactly the op's parameters, once each, values in the value grammar with markers; `multi` a bool; `side`
  only `loc` ([file, line, function]), `config` ([identifier, value] pairs), `notes` (printable strings),
  `replaced` (op names), `origins` and `cse` (node ids: ints >= 0) and `decisions` ([by, rule, reason], printable
  strings).
- outputs: refs to defined values; writes: distinct input indices, one per trailing written-back output.
  out_tree: the pytree grammar of ttfuse/capture/pytree.py, one leaf per returned output.
Every string anywhere is printable (no line breaks of any kind, no control, format or surrogate characters).

Value grammar (ttfuse.ir.decode_value / ttfuse.types.from_json_value): null, bool, int, finite float, printable
string, or an object with exactly the keys of one form: `$in` (attributes only; an input position), `$device`
(attributes only; 0), `$flist`/`$tuple`/`$list` (a list of values), `$penum` + `v` (an enum class of an
already imported ttfuse module and a member name), `$float` (nan/inf/-inf), `$Shape` (non-negative ints),
`$dict` (pairs with scalar keys), `$enum` + `v` (a registered enum and a member name), `$obj` + `f` (a registered
type or config class and exactly its fields). Inside `$float`/`$Shape`/`$dict`/`$enum`/`$obj` only the
from_json_value forms nest (no markers, no `$flist`, no `$penum`). Any other key starting with `$` is rejected.

Extend: a new field written by a `to_json` or a new value kind needs a rule here too. A legitimate entry that
fails the schema is recompiled on every load: tests/test_cache_hostile.py compiles real graphs and checks them.
"""

from __future__ import annotations

import enum
import math
import re
import sys
from collections.abc import Callable
from typing import Any

from ttfuse import configs, types
from ttfuse.ir import IR_VERSION
from ttfuse.opdef import OPS

__all__ = ["SchemaError", "check_entry", "check_graph", "RULES"]

MAX_TEXT = 10_000  # characters in any string
MAX_DEPTH = 32  # nesting of values and out_tree nodes
MAX_INT = 2**31  # value numbers, input positions, line numbers, shape dims
_DEVICE_NAME = re.compile(r"[A-Za-z0-9_.:+\-]{1,200}")
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:+-]{0,63}")  # as ttfuse/cache.py writes it
_ANGLE = re.compile(r"<\w+>")  # <locals>, <lambda>, <module>, <genexpr> ...


class SchemaError(ValueError):
    """A cache entry does not have the form ttfuse writes (raised by `check_entry`)."""


def _fail(at: str, msg: str) -> None:
    raise SchemaError(f"{at}: {msg}")


# ---------------------------------------------------------------------------------------------- scalars
def _is_int(v: Any, lo: int = 0, hi: int = MAX_INT) -> bool:
    return type(v) is int and lo <= v < hi


def _text(v: Any, at: str) -> str:
    """A printable string: no line breaks (\\n \\r \\f \\v \\x1c-\\x1e \\x85 \\u2028 \\u2029), NUL or other
    control, format (bidi) or surrogate characters, at most MAX_TEXT long."""
    if type(v) is not str:
        _fail(at, f"expected a string, got {type(v).__name__}")
    if len(v) > MAX_TEXT:
        _fail(at, f"string of {len(v)} characters (at most {MAX_TEXT})")
    if not v.isprintable():
        bad = next(c for c in v if not c.isprintable())
        _fail(at, f"string holds the non-printable character {bad!r}")
    return v


def _name_part(p: str) -> bool:
    return p.isidentifier() or bool(_ANGLE.fullmatch(p))


def _qualname(v: Any, at: str, *, allow_unknown: bool = False) -> str:
    """Dotted identifiers (`Block.forward`, `f.<locals>.g`); `allow_unknown` also takes a `?` part."""
    s = _text(v, at)
    if not s or not all(_name_part(p) or (allow_unknown and p == "?") for p in s.split(".")):
        _fail(at, f"{s!r} is not a qualified name")
    return s


def _module_path(v: Any, at: str) -> tuple[str, str]:
    """'module.path:Qual.name' (what pytree's `nt` and ir's `$penum` write) -> (module, qualname)."""
    s = _text(v, at)
    mod, sep, qual = s.partition(":")
    if not sep or not mod or not all(p.isidentifier() for p in mod.split(".")):
        _fail(at, f"{s!r} is not 'module:qualname'")
    _qualname(qual, at)
    return mod, qual


def _list(v: Any, at: str, max_len: int = 1_000_000) -> list:
    if type(v) is not list:
        _fail(at, f"expected a list, got {type(v).__name__}")
    if len(v) > max_len:
        _fail(at, f"list of {len(v)} items (at most {max_len})")
    return v


def _keys(d: Any, at: str, required: set[str], optional: set[str] = frozenset()) -> dict:
    if type(d) is not dict:
        _fail(at, f"expected an object, got {type(d).__name__}")
    missing = required - d.keys()
    if missing:
        _fail(at, f"missing key(s) {sorted(missing)}")
    extra = d.keys() - required - optional
    if extra:
        _fail(at, f"unexpected key(s) {sorted(map(str, extra))}")
    return d


# ------------------------------------------------------------------------------------------------ values
_REGISTRIES: dict[tuple[int, int], tuple[dict, dict]] = {}


def _registries() -> tuple[dict, dict]:
    """(enum classes, type and config classes) by name, with from_json_value's precedence (types first)."""
    key = (len(configs.CONFIG_ENUMS), len(configs.CONFIG_CLASSES))  # registries only grow
    reg = _REGISTRIES.get(key)
    if reg is None:
        reg = {**configs.CONFIG_ENUMS, **types._ENUMS}, {**configs.CONFIG_CLASSES, **types._DATACLASSES}
        _REGISTRIES[key] = reg
    return reg


def _value(v: Any, at: str, *, ir: bool, n_inputs: int | None = None, depth: int = 0) -> None:
    """Check one encoded value. `ir`: the decode_value grammar (markers, $flist, $penum) rather than the
    from_json_value one; `n_inputs`: attribute of a node with that many inputs ($in/$device allowed)."""
    if depth > MAX_DEPTH:
        _fail(at, f"values nested deeper than {MAX_DEPTH}")
    t = type(v)
    if v is None or t is bool or t is int:
        return
    if t is float:
        if not math.isfinite(v):
            _fail(at, "a non-finite float must be written as {'$float': ...}")
        return
    if t is str:
        _text(v, at)
        return
    if t is not dict:
        _fail(at, f"a {t.__name__} is not a value (lists are written as $list/$tuple/$flist)")
    tags = [k for k in v if type(k) is str and k.startswith("$")]
    if len(tags) != 1:
        _fail(at, f"a value object has exactly one $ key, got {sorted(map(str, v))}")
    tag = tags[0]
    sub = {"ir": ir, "n_inputs": n_inputs, "depth": depth + 1}
    plain = {"ir": False, "n_inputs": None, "depth": depth + 1}
    if ir and tag == "$in":
        _keys(v, at, {"$in"})
        if n_inputs is None:
            _fail(at, "$in marker outside a node attribute")
        if not _is_int(v["$in"], 0, n_inputs):
            _fail(at, f"$in {v['$in']!r} is not an input position < {n_inputs}")
    elif ir and tag == "$device":
        _keys(v, at, {"$device"})
        if n_inputs is None or not _is_int(v["$device"], 0, 1):
            _fail(at, "$device marker outside a node attribute or not 0")
    elif tag in ("$tuple", "$list") or (ir and tag == "$flist"):
        _keys(v, at, {tag})
        for i, x in enumerate(_list(v[tag], f"{at}.{tag}")):
            _value(x, f"{at}.{tag}[{i}]", **sub)
    elif ir and tag == "$penum":
        _keys(v, at, {"$penum", "v"})
        _penum(v, at)
    elif tag == "$float":
        _keys(v, at, {"$float"})
        if v["$float"] not in ("nan", "inf", "-inf"):
            _fail(at, f"$float {v['$float']!r} is not nan, inf or -inf")
    elif tag == "$Shape":
        _keys(v, at, {"$Shape"})
        if not all(_is_int(d) for d in _list(v["$Shape"], f"{at}.$Shape", 16)):
            _fail(at, "$Shape dims must be non-negative ints")
    elif tag == "$dict":
        _keys(v, at, {"$dict"})
        for i, kv in enumerate(_list(v["$dict"], f"{at}.$dict")):
            if type(kv) is not list or len(kv) != 2:
                _fail(f"{at}.$dict[{i}]", "expected a [key, value] pair")
            if kv[0] is not None and type(kv[0]) not in (bool, int, str):
                _fail(
                    f"{at}.$dict[{i}][0]", f"dict keys are null, bool, int or str, not {type(kv[0]).__name__}"
                )
            _value(kv[0], f"{at}.$dict[{i}][0]", **plain)
            _value(kv[1], f"{at}.$dict[{i}][1]", **plain)
    elif tag == "$enum":
        cls = _registered(v, at, tag, "v", _registries()[0], "enum")
        _member(cls, v["v"], at)
    elif tag == "$obj":
        cls = _registered(v, at, tag, "f", _registries()[1], "type or config class")
        _keys(v["f"], f"{at}.f", set(types.fields_of_class(cls)))
        for k, x in v["f"].items():
            _value(x, f"{at}.f.{k}", **plain)
    else:
        where = "" if ir else " (in a from_json_value form)"
        _fail(at, f"unknown value marker {tag!r}{where}")


def _registered(v: dict, at: str, tag: str, body: str, registry: dict, what: str) -> type:
    """The class a `{tag: name, body: ...}` value names in `registry` ($enum or $obj)."""
    _keys(v, at, {tag, body})
    cls = registry.get(v[tag]) if type(v[tag]) is str else None
    if cls is None:
        _fail(at, f"{tag} {v[tag]!r} is not a registered {what}")
    return cls


def _member(cls: type, name: Any, at: str) -> None:
    if type(name) is not str or name not in cls.__members__:
        _fail(at, f"{name!r} is not a member of {cls.__name__}")


def _lookup(mod: str, qual: str) -> Any:
    """The object 'mod:qual' names in an already imported module, or None. Never imports; reads `vars()`,
    not getattr, so no module __getattr__ or descriptor runs for a name read from a file."""
    obj: Any = sys.modules.get(mod)
    for part in qual.split("."):
        try:
            obj = vars(obj).get(part)
        except TypeError:  # None, or an object without __dict__
            return None
    return obj


def _penum(v: dict, at: str) -> None:
    """An enum class of a ttfuse module that is already imported (a cache entry never causes an import)."""
    mod, qual = _module_path(v["$penum"], f"{at}.$penum")
    if not mod.startswith("ttfuse.") or mod not in sys.modules:
        _fail(at, f"$penum module {mod!r} is not an imported ttfuse module")
    obj = _lookup(mod, qual)
    if not (isinstance(obj, type) and issubclass(obj, enum.Enum) and obj.__module__ == mod):
        _fail(at, f"$penum {v['$penum']!r} is not an enum class of {mod}")
    _member(obj, v["v"], f"{at}.v")


def _spec(v: Any, at: str) -> None:
    """A TensorSpec as to_json_value writes it, its fields typed: checked as JSON, decoded later by from_json
    (a `$Shape`, DataType and Layout enums, a MemoryConfig of enums and a ShardSpec or null)."""
    _value(v, at, ir=False)

    def form(x: Any, where: str, tag: str, name: str) -> dict:
        if type(x) is not dict or x.get(tag) != name:
            _fail(f"{at}{where}", f"expected {tag} {name}")
        return x

    f = form(v, "", "$obj", "TensorSpec")["f"]
    if type(f["shape"]) is not dict or "$Shape" not in f["shape"]:
        _fail(f"{at}.f.shape", "expected a $Shape")
    form(f["dtype"], ".f.dtype", "$enum", "DataType")
    form(f["layout"], ".f.layout", "$enum", "Layout")
    mc = form(f["memory_config"], ".f.memory_config", "$obj", "MemoryConfig")["f"]
    form(mc["memory_layout"], ".f.memory_config.f.memory_layout", "$enum", "TensorMemoryLayout")
    form(mc["buffer_type"], ".f.memory_config.f.buffer_type", "$enum", "BufferType")
    if mc["shard_spec"] is not None:
        ss = form(mc["shard_spec"], ".f.memory_config.f.shard_spec", "$obj", "ShardSpec")["f"]
        form(ss["grid"], ".f.memory_config.f.shard_spec.f.grid", "$obj", "CoreRangeSet")
        form(ss["orientation"], ".f.memory_config.f.shard_spec.f.orientation", "$enum", "ShardOrientation")
        dims = ss["shape"].get("$tuple") if type(ss["shape"]) is dict else None
        if type(dims) is not list or len(dims) != 2 or not all(_is_int(d) for d in dims):
            _fail(f"{at}.f.memory_config.f.shard_spec.f.shape", "expected a tuple of two non-negative ints")


def _ref(v: Any, at: str, defined: dict[int, int], n_inputs: int) -> None:
    """[node, out]: a graph input (out 0) or an output of a node in `defined` (node id -> value count)."""
    if type(v) is not list or len(v) != 2 or not all(_is_int(x) for x in v):
        _fail(at, f"a ref is [node, out] with non-negative ints, got {v!r}")
    node, out = v
    if node < n_inputs:
        if out != 0:
            _fail(at, f"ref {v!r} to graph input {node} must have out 0")
    elif node not in defined or out >= defined[node]:
        _fail(at, f"ref {v!r} names no input or earlier node output")


# ------------------------------------------------------------------------------------------------- rules
class _Ctx:
    def __init__(self, entry: dict | None, graph: Any):
        self.entry = entry
        self.g = graph
        self.n_inputs = 0
        self.defined: dict[int, int] = {}  # node id -> number of values it defines


def _envelope(c: _Ctx) -> None:
    if c.entry is None:
        return
    e = c.entry
    _qualname(e.get("function"), "function", allow_unknown=True)
    _device_name(e.get("device"), "device")
    for i, s in enumerate(_list(e.get("arg_specs"), "arg_specs")):
        _text(s, f"arg_specs[{i}]")
    if "run" in e and (type(e["run"]) is not str or not _RUN_ID.fullmatch(e["run"])):
        _fail("run", f"{str(e['run'])[:70]!r} is not a run id")
    kf = e.get("key_fields")
    if type(kf) is not dict or not all(
        type(k) is str and k.isidentifier() and type(h) is str and re.fullmatch(r"[0-9a-f]{64}", h)
        for k, h in kf.items()
    ):
        _fail("key_fields", "expected identifier -> 64 hex digits")


def _device_name(v: Any, at: str) -> None:
    if type(v) is not str or not _DEVICE_NAME.fullmatch(v):
        _fail(at, f"{v!r} is not a device name")


def _graph_keys(c: _Ctx) -> None:
    _keys(c.g, "graph", {"ir_version", "inputs", "nodes", "outputs", "out_tree", "meta", "writes"})
    if not _is_int(c.g["ir_version"]) or c.g["ir_version"] != IR_VERSION:
        _fail("graph.ir_version", f"{c.g['ir_version']!r} is not IR version {IR_VERSION}")


def _meta(c: _Ctx) -> None:
    m = _keys(c.g["meta"], "graph.meta", set(), {"name", "device", "mesh", "input_names", "params"})
    if "params" in m:
        _param_sources(m["params"], c.n_inputs)
    if "name" in m:
        _qualname(m["name"], "graph.meta.name")
    if m.get("device") is not None:
        _device_name(m["device"], "graph.meta.device")
        if c.entry is not None and m["device"] != c.entry["device"]:
            _fail("graph.meta.device", "differs from the entry's device")
    if "mesh" in m:
        mesh = m["mesh"]
        if type(mesh) is not list or len(mesh) != 2 or not all(_is_int(x, 1, 1025) for x in mesh):
            _fail("graph.meta.mesh", f"expected [rows, cols] of positive ints, got {mesh!r}")
    if "input_names" in m:
        for i, s in enumerate(_list(m["input_names"], "graph.meta.input_names", c.n_inputs)):
            _text(s, f"graph.meta.input_names[{i}]")


def _param_sources(v: Any, n_inputs: int) -> None:
    """`graph.meta.params` (ttfuse/capture/params.py `encode_sources`)."""
    for k, paths in enumerate(_list(v, "graph.meta.params", n_inputs)):
        at = f"graph.meta.params[{k}]"
        if not 1 <= len(_list(paths, at, 4)) <= 4:
            _fail(at, "expected 1 to 4 source paths")
        for j, path in enumerate(paths):
            pat = f"{at}[{j}]"
            if not 1 <= len(_list(path, pat, 64)):
                _fail(pat, "an empty path")
            head = _list(path[0], f"{pat}[0]", 2)
            if not (
                head == ["fn"]
                or (len(head) == 2 and head[0] == "arg" and _is_int(head[1], 0, 1_000_000))
                or (len(head) == 2 and head[0] == "kw" and type(head[1]) is str and head[1].isidentifier())
            ):
                _fail(f"{pat}[0]", f"{head!r} is not a root ['arg', i], ['kw', name] or ['fn']")
            for i, step in enumerate(path[1:], 1):
                st = _list(step, f"{pat}[{i}]", 2)
                ok = len(st) == 2 and (
                    (st[0] == "a" and type(st[1]) is str)
                    or (st[0] == "i" and (type(st[1]) is str or _is_int(st[1], -MAX_INT, MAX_INT)))
                )
                if not ok:
                    _fail(f"{pat}[{i}]", f"{st!r} is not a step ['a', name] or ['i', key]")
                if type(st[1]) is str:
                    _text(st[1], f"{pat}[{i}][1]")


def _inputs(c: _Ctx) -> None:
    specs = _list(c.g["inputs"], "graph.inputs", 100_000)
    for i, s in enumerate(specs):
        _spec(s, f"graph.inputs[{i}]")
    c.n_inputs = len(specs)


def _nodes(c: _Ctx) -> None:
    for k, n in enumerate(_list(c.g["nodes"], "graph.nodes", 1_000_000)):
        at = f"graph.nodes[{k}]"
        _keys(n, at, {"id", "op", "inputs", "attrs", "outs"}, {"multi", "side"})
        nid = n["id"]
        if not _is_int(nid, c.n_inputs) or nid in c.defined:
            _fail(f"{at}.id", f"{nid!r} is not a fresh value number >= {c.n_inputs}")
        op = OPS.get(n["op"]) if type(n["op"]) is str else None
        if op is None:
            _fail(f"{at}.op", f"{n['op']!r} is not a registered op")
        refs = _list(n["inputs"], f"{at}.inputs")
        for i, r in enumerate(refs):
            _ref(r, f"{at}.inputs[{i}]", c.defined, c.n_inputs)
        names = []
        for i, kv in enumerate(_list(n["attrs"], f"{at}.attrs")):
            if type(kv) is not list or len(kv) != 2 or type(kv[0]) is not str:
                _fail(f"{at}.attrs[{i}]", "expected a [name, value] pair")
            names.append(kv[0])
            _value(kv[1], f"{at}.attrs[{i}] ({kv[0]})", ir=True, n_inputs=len(refs))
        if sorted(names) != sorted(op.params) or len(set(names)) != len(names):
            _fail(f"{at}.attrs", f"names {names} are not the parameters of {op.qualname}, once each")
        outs = _list(n["outs"], f"{at}.outs", 10_000)
        for i, s in enumerate(outs):
            _spec(s, f"{at}.outs[{i}]")
        if type(n.get("multi", False)) is not bool:
            _fail(f"{at}.multi", "expected a bool")
        _side(n.get("side", {}), f"{at}.side")
        c.defined[nid] = max(1, len(outs))  # overlapping value ranges are verify's unique_values rule


def _side(s: Any, at: str) -> None:
    _keys(s, at, set(), {"loc", "config", "notes", "replaced", "origins", "cse", "decisions"})
    if "loc" in s:
        loc = s["loc"]
        if type(loc) is not list or len(loc) != 3:
            _fail(f"{at}.loc", "expected [file, line, function]")
        if not _text(loc[0], f"{at}.loc[0]"):
            _fail(f"{at}.loc[0]", "empty file name")
        if not _is_int(loc[1]):
            _fail(f"{at}.loc[1]", f"line {loc[1]!r} is not a non-negative int")
        if not _name_part(_text(loc[2], f"{at}.loc[2]")):
            _fail(f"{at}.loc[2]", f"{loc[2]!r} is not a function name")
    for i, kv in enumerate(_list(s.get("config", []), f"{at}.config")):
        if type(kv) is not list or len(kv) != 2 or type(kv[0]) is not str or not kv[0].isidentifier():
            _fail(f"{at}.config[{i}]", "expected an [identifier, value] pair")
        _value(kv[1], f"{at}.config[{i}] ({kv[0]})", ir=True)
    for i, note in enumerate(_list(s.get("notes", []), f"{at}.notes")):
        _text(note, f"{at}.notes[{i}]")
    for i, name in enumerate(_list(s.get("replaced", []), f"{at}.replaced")):
        if not all(p.isidentifier() for p in _text(name, f"{at}.replaced[{i}]").split(".")):
            _fail(f"{at}.replaced[{i}]", f"{name!r} is not an op name")
    for k in ("origins", "cse"):
        for i, v in enumerate(_list(s.get(k, []), f"{at}.{k}")):
            if not _is_int(v):
                _fail(f"{at}.{k}[{i}]", f"{v!r} is not a node id")
    for i, d in enumerate(_list(s.get("decisions", []), f"{at}.decisions")):
        if type(d) is not list or len(d) != 3:
            _fail(f"{at}.decisions[{i}]", "expected [by, rule, reason]")
        for j, x in enumerate(d):
            _text(x, f"{at}.decisions[{i}][{j}]")


def _outputs(c: _Ctx) -> None:
    outs = _list(c.g["outputs"], "graph.outputs")
    for i, r in enumerate(outs):
        _ref(r, f"graph.outputs[{i}]", c.defined, c.n_inputs)
    writes = _list(c.g["writes"], "graph.writes")
    if len(writes) > len(outs) or len(set(map(repr, writes))) != len(writes):
        _fail("graph.writes", f"{len(writes)} write-backs (distinct inputs) for {len(outs)} outputs")
    for i, k in enumerate(writes):
        if not _is_int(k) or not 0 <= k < c.n_inputs:
            _fail(f"graph.writes[{i}]", f"{k!r} is not a graph input index")


def _out_tree(c: _Ctx) -> None:
    """The result pytree (ttfuse/capture/pytree.py flatten_out): "*" a tensor, {"t"|"l": [..]} a tuple or
    list, {"d": [[key, ..]]} a dict with str/int keys, {"nt": "module:Qual", "k": [..]} a namedtuple,
    {"c": value} a constant."""

    def walk(t: Any, at: str, depth: int) -> int:
        if depth > MAX_DEPTH:
            _fail(at, f"out_tree nested deeper than {MAX_DEPTH}")
        if t == "*" and type(t) is str:
            return 1
        if type(t) is not dict or len(t) not in (1, 2):
            _fail(at, f"{t!r} is not an out_tree node")
        if "c" in t:
            _keys(t, at, {"c"})
            _value(t["c"], f"{at}.c", ir=True)
            return 0
        if "nt" in t:
            _keys(t, at, {"nt", "k"})
            # a class that no longer resolves (defined in a function) rebuilds a plain tuple; one that names
            # something else than a namedtuple class was edited
            obj = _lookup(*_module_path(t["nt"], f"{at}.nt"))
            if obj is not None and not (
                isinstance(obj, type) and issubclass(obj, tuple) and hasattr(obj, "_fields")
            ):
                _fail(f"{at}.nt", f"{t['nt']!r} is not a namedtuple class")
            kids = t["k"]
        elif "d" in t:
            _keys(t, at, {"d"})
            kids = []
            for i, kv in enumerate(_list(t["d"], f"{at}.d")):
                if type(kv) is not list or len(kv) != 2 or type(kv[0]) not in (str, int, bool):
                    _fail(f"{at}.d[{i}]", "expected a [str or int key, subtree] pair")
                if type(kv[0]) is str:
                    _text(kv[0], f"{at}.d[{i}][0]")
                kids.append(kv[1])
        else:
            tag = next(iter(t))
            if tag not in ("t", "l"):
                _fail(at, f"unknown out_tree node key {tag!r}")
            _keys(t, at, {tag})
            kids = t[tag]
        return sum(walk(k, f"{at}[{i}]", depth + 1) for i, k in enumerate(_list(kids, at)))

    leaves = walk(c.g["out_tree"], "graph.out_tree", 0)
    returned = len(c.g["outputs"]) - len(c.g["writes"])  # the last outputs are written back, not returned
    if leaves != returned:
        _fail("graph.out_tree", f"{leaves} tensor leaves for {returned} returned outputs")


RULES: list[tuple[str, Callable[[_Ctx], None]]] = [
    ("envelope", _envelope),
    ("graph", _graph_keys),
    ("inputs", _inputs),
    ("meta", _meta),
    ("nodes", _nodes),
    ("outputs", _outputs),
    ("out_tree", _out_tree),
]


def _registry_complete() -> None:
    # NOTE: op and kernel modules register themselves on import; `import ttfuse` does it, but a caller that
    # imported only ttfuse.cache_schema must not see a partial registry (a legitimate op would be "unknown")
    import ttfuse.kernels  # noqa: F401
    import ttfuse.ops  # noqa: F401


def check_graph(graph: Any, entry: dict | None = None) -> None:
    """Run the graph rules on `Graph.to_json()` data (and the envelope rule when `entry` is given)."""
    _registry_complete()
    c = _Ctx(entry, graph)
    for name, rule in RULES:
        try:
            rule(c)
        except SchemaError as e:
            raise SchemaError(f"schema [{name}] {e}") from None
        except RecursionError:
            raise SchemaError(f"schema [{name}]: nested too deeply") from None


def check_entry(entry: Any) -> None:
    """Check a cache entry (already through `cache.read_entry`'s envelope check); raise SchemaError."""
    if type(entry) is not dict or type(entry.get("graph")) is not dict:
        raise SchemaError("schema [envelope]: an entry is an object with a 'graph' object")
    check_graph(entry["graph"], entry)
