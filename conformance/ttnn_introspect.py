"""Reading the real ttnn's API surface: name resolution, op signatures, config objects (oracle side).

Runs in conformance/.venv312 next to the real ttnn (oracle.py imports it); it takes the ttnn module as an
argument and never imports it itself, so its pure-text part (`parse_nb_signature`, `doc_params`) is also
testable from the main environment. Everything returned is wire.py data (JSON values only).

Where a signature lives in ttnn 0.81.1:
- most ops are `ttnn.decorators.FastOperation` objects; `.function` is the bound C++ op, an instance of a
  nanobind class `<op>_t` whose `__call__` is an `nb_method`: its `__nb_signature__` holds one
  `(text, doc, defaults)` triple per overload, the text being `def __call__(self, a: T, *, kw: T = \\0) -> R`
  with `\\N` standing for `defaults[N]`;
- some FastOperations wrap a plain nanobind function (`nb_func`, e.g. deallocate) or a Python function
  (from_torch): `__nb_signature__` of the function, or `inspect.signature`;
- plain functions (open_device, create_sharded_memory_config) and classes (`__init__`) likewise.
The op's documentation (`__doc__`) lists the same names under ``Args:`` / ``Keyword Args:``; both are returned.

Extend: a new kind of object needs a branch in `describe` (and in `_kind`).
"""

from __future__ import annotations

import enum
import inspect
import re
from typing import Any

# ------------------------------------------------------------------------------------------ resolution


def resolve(ttnn: Any, qualname: str) -> tuple[Any, str | None]:
    """(object, None) for `ttnn.a.b.c`, or (None, 'ttnn.a has no attribute b') at the first missing part."""
    parts = qualname.split(".")
    if parts[0] != "ttnn":
        return None, f"{qualname!r} does not start with 'ttnn.'"
    obj, path = ttnn, "ttnn"
    for p in parts[1:]:
        try:
            obj = getattr(obj, p)
        except AttributeError:
            return None, f"{path} has no attribute {p!r}"
        except Exception as e:  # noqa: BLE001 - a property that raises on the class: the name exists
            return f"<{type(e).__name__} on access>", None
        path += "." + p
    return obj, None


def _kind(obj: Any) -> str:
    tname = type(obj).__name__
    if tname == "FastOperation":
        return "operation"
    if inspect.ismodule(obj):
        return "module"
    if isinstance(obj, enum.Enum):
        return "enum_value"
    if isinstance(obj, type):
        return "enum" if issubclass(obj, enum.Enum) else "class"
    if callable(obj):
        return "function"
    return "value"


# ------------------------------------------------------------------------------------------ signatures

_DEFAULT_REF = re.compile(r"^\\(\d+)$")


def _scan(text: str, start: int = 0):
    """Yield (index, char, bracket depth after the char, quoted) for each char of text[start:]; brackets inside
    quotes do not count, and the quote marks themselves are quoted."""
    depth, quote = 0, None
    for i in range(start, len(text)):
        ch = text[i]
        quoted = quote is not None
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote, quoted = ch, True
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        yield i, ch, depth, quoted


def _split_top(text: str, sep: str = ",") -> list[str]:
    """Split at `sep` outside brackets and quotes."""
    out, cur = [], []
    for _, ch, depth, quoted in _scan(text):
        if ch == sep and depth == 0 and not quoted:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if "".join(cur).strip():
        out.append("".join(cur))
    return out


def _arglist(sig_text: str) -> str:
    """The text between the parentheses of `def name(...) -> R`."""
    start = sig_text.index("(")
    for i, ch, depth, quoted in _scan(sig_text, start):
        if ch in ")]}" and depth == 0 and not quoted:
            return sig_text[start + 1 : i]
    raise ValueError(f"unbalanced signature: {sig_text[:120]!r}")


def default_text(v: Any) -> Any:
    """A default value as JSON data: None/bool/int/float/str as is, enums as 'Type.NAME', else repr()."""
    if isinstance(v, enum.Enum):  # before the scalars: IntEnum members are ints too
        return f"{type(v).__name__}.{v.name}"
    if v is None or isinstance(v, bool | int | float | str):
        return v if not isinstance(v, float) or v == v else "nan"
    if isinstance(v, list | tuple) and not v:
        return [] if isinstance(v, list) else ()
    return repr(v)


def parse_nb_signature(text: str, defaults: tuple | None = None) -> list[dict]:
    """Parameters of one nanobind signature text: [{name, kind, has_default, default, annotation}].

    kind is 'positional_only', 'positional_or_keyword', 'keyword_only', 'var_positional' or 'var_keyword';
    `self` is dropped. Defaults `\\N` are looked up in `defaults` (else kept as text).
    """
    params: list[dict] = []
    keyword_only = False
    for raw in _split_top(_arglist(text)):
        piece = raw.strip()
        if not piece:
            continue
        if piece in ("*", "\\*"):
            keyword_only = True
            continue
        if piece == "/":
            for p in params:
                if p["kind"] == "positional_or_keyword":
                    p["kind"] = "positional_only"
            continue
        if piece.startswith("**") or piece.startswith("\\*\\*"):
            params.append(_param(piece.lstrip("\\*").split(":")[0].strip(), "var_keyword"))
            continue
        if piece.startswith("*") or piece.startswith("\\*"):
            params.append(_param(piece.lstrip("\\*").split(":")[0].strip(), "var_positional"))
            keyword_only = True
            continue
        eq = _split_top(piece, "=")
        head = eq[0]
        name, _, annotation = head.partition(":")
        name = name.strip()
        if name == "self" and not params:
            continue
        p = _param(name, "keyword_only" if keyword_only else "positional_or_keyword", annotation.strip())
        if len(eq) > 1:
            dtext = "=".join(eq[1:]).strip()
            p["has_default"] = True
            m = _DEFAULT_REF.match(dtext)
            if m and defaults is not None and int(m.group(1)) < len(defaults):
                p["default"] = default_text(defaults[int(m.group(1))])
            else:
                p["default"] = dtext
        params.append(p)
    return params


def _param(name: str, kind: str, annotation: str = "") -> dict:
    return {"name": name, "kind": kind, "has_default": False, "default": None, "annotation": annotation}


_KIND = {
    inspect.Parameter.POSITIONAL_ONLY: "positional_only",
    inspect.Parameter.POSITIONAL_OR_KEYWORD: "positional_or_keyword",
    inspect.Parameter.KEYWORD_ONLY: "keyword_only",
    inspect.Parameter.VAR_POSITIONAL: "var_positional",
    inspect.Parameter.VAR_KEYWORD: "var_keyword",
}


def _py_signature(fn: Any, drop_self: bool = False) -> list[dict]:
    sig = inspect.signature(fn)
    out = []
    for i, p in enumerate(sig.parameters.values()):
        if drop_self and i == 0 and p.name == "self":
            continue
        d = _param(p.name, _KIND[p.kind], "" if p.annotation is p.empty else str(p.annotation))
        if p.default is not p.empty:
            d["has_default"] = True
            d["default"] = default_text(p.default)
        out.append(d)
    return out


def _nb_overloads(fn: Any) -> list[dict] | None:
    sigs = getattr(fn, "__nb_signature__", None)
    if not sigs:
        return None
    return [{"text": s[0], "params": parse_nb_signature(s[0], s[2] if len(s) > 2 else None)} for s in sigs]


def signatures(obj: Any) -> tuple[list[dict], str]:
    """([{text, params}] one per overload, where the signature was read); [] when none could be read."""
    target, where = obj, "object"
    if type(obj).__name__ == "FastOperation":
        target, where = obj.function, "FastOperation.function"
    if isinstance(target, type):  # a class: its constructor
        ov = _nb_overloads(target.__init__)
        if ov is not None:
            return ov, where + ".__init__ (nanobind)"
        return _inspected(target, where)
    ov = _nb_overloads(target)  # nb_func
    if ov is not None:
        return ov, where + " (nanobind function)"
    call = type(target).__dict__.get("__call__")  # the nanobind class's nb_method (not an instance binding)
    ov = _nb_overloads(call) if call is not None else None
    if ov is not None:  # a nanobind op object `<op>_t`
        return ov, where + ".__call__ (nanobind)"
    return _inspected(target, where)


def _inspected(target: Any, where: str) -> tuple[list[dict], str]:
    """signatures() of a Python callable or class, by inspect; [] when it has none."""
    try:
        return [
            {"text": str(inspect.signature(target)), "params": _py_signature(target)}
        ], where + " (inspect)"
    except (TypeError, ValueError):
        return [], where + " (no signature)"


_SECTION = re.compile(
    r"^(\s*)(Args|Arguments|Keyword Args|Keyword args|Keyword Arguments|Parameters)\s*:\s*$"
)
_DOC_PARAM = re.compile(r"^(\s+)\*{0,2}([A-Za-z_]\w*)\s*(\([^)]*\))?\s*:")


def doc_params(doc: str | None) -> list[str]:
    """Parameter names documented under Args / Keyword Args sections of a Google-style docstring.

    A section runs until a non-blank line indented no deeper than its header (``Returns:``, ``Note:``...);
    a parameter is a line ``name (type): ...`` or ``name: ...`` at the section's first entry indent.
    """
    if not doc:
        return []
    names: list[str] = []
    header: int | None = None  # indent of the current section header, None outside a section
    entry: int | None = None
    for line in doc.expandtabs().splitlines():
        if not line.strip():
            continue
        lead = len(line) - len(line.lstrip())
        m = _SECTION.match(line)
        if m:
            header, entry = lead, None
            continue
        if header is None:
            continue
        if lead <= header:
            header = None
            continue
        p = _DOC_PARAM.match(line)
        if p and (entry is None or lead == entry):
            entry = lead
            if p.group(2) not in names:
                names.append(p.group(2))
    return names


# ------------------------------------------------------------------------------------------ describe


def describe(ttnn: Any, qualname: str, *, with_signatures: bool = True) -> dict:
    """Everything the checks need about one qualified name (JSON data)."""
    obj, missing = resolve(ttnn, qualname)
    if missing is not None:
        return {"exists": False, "missing": missing}
    kind = _kind(obj)
    out: dict = {"exists": True, "kind": kind, "type": f"{type(obj).__module__}.{type(obj).__qualname__}"}
    if kind == "enum":
        out["members"] = {m.name: _enum_value(m) for m in obj}
    elif kind == "enum_value":
        out["enum"] = type(obj).__name__
        out["name"] = obj.name
        out["value"] = _enum_value(obj)
    elif kind == "value":
        out["repr"] = repr(obj)[:300]
        if isinstance(obj, bool | int | float | str):
            out["value"] = obj
        else:
            try:
                out["fields"] = read_fields(obj)
            except Exception as e:  # noqa: BLE001 - best effort: the existence check does not need it
                out["fields"] = {"$error": f"{type(e).__name__}: {e}"}
    if kind == "class":
        out["attrs"] = sorted(a for a in dir(obj) if not a.startswith("_"))
    if with_signatures and kind in ("operation", "function", "class"):
        sigs, where = signatures(obj)
        out["signatures"] = sigs
        out["signature_source"] = where
        doc = obj.__doc__ if kind != "class" else None
        out["doc_params"] = doc_params(doc)
    return out


def _enum_value(m: enum.Enum) -> Any:
    v = m.value
    return v if isinstance(v, bool | int | float | str) else repr(v)


# ------------------------------------------------------------------------------------------ public tree

# The namespaces whose names docs/ttnn_coverage.md covers, and the classes whose members it lists.
PUBLIC_NAMESPACES = ("ttnn", "ttnn.experimental", "ttnn.transformer", "ttnn.types")
PUBLIC_MEMBER_CLASSES = ("ttnn.MeshDevice", "ttnn.Tensor")
# Module-level variables ttnn/__init__.py leaves behind while it imports its submodules (loop variables of
# `for _, name, ispkg in pkgutil.iter_modules(...)`, the root-dir lookup): public by spelling only.
IMPORT_LEFTOVERS = ("ttnn.ispkg", "ttnn.name", "ttnn.submodule", "ttnn.root_dir", "ttnn.this_dir")


def _public_kind(obj: Any) -> str:
    """op | function | class | enum | constant | module (the vocabulary of the public-names data file)."""
    kind = _kind(obj)
    return {"operation": "op", "enum_value": "constant", "value": "constant"}.get(kind, kind)


def _foreign(obj: Any) -> str | None:
    """Why `obj` is a re-export of something outside ttnn (stdlib or third party), or None when it is ttnn's."""
    if inspect.ismodule(obj):
        top = obj.__name__.split(".")[0]
        return None if top == "ttnn" else f"re-exported module {obj.__name__}"
    if isinstance(obj, type) or inspect.isfunction(obj) or inspect.isbuiltin(obj):
        mod = getattr(obj, "__module__", None) or ""
        if mod.split(".")[0] not in ("ttnn", ""):
            return f"re-exported {mod}.{getattr(obj, '__qualname__', '?')}"
        return None
    tmod = type(obj).__module__.split(".")[0]
    if tmod not in ("ttnn", "builtins", "pathlib", "enum") and not callable(obj):
        return f"re-exported {type(obj).__module__}.{type(obj).__name__} object"
    return None


# ttnn's torch graph tracer modules: imported by ttnn/__init__.py only when torch is importable (so the oracle venv
# has them not, the 3.12 venv with torch has them)
TORCH_ONLY = frozenset({"ttnn.tracer", "ttnn.torch_tracer"})


def public_tree(ttnn: Any) -> dict:
    """Every public name of ttnn's namespaces (PUBLIC_NAMESPACES: what `dir()` shows without a leading
    underscore, re-exports included) and the members of MeshDevice and Tensor, each with its kind; and the names
    left out with the reason: re-exported stdlib / third-party modules, classes, functions and objects
    (`ttnn.os`, `ttnn.types.dataclasses`, `ttnn.logger`), the package's references to itself (`ttnn.ttnn`),
    and IMPORT_LEFTOVERS. Members: `property` (a data descriptor) or `method`."""
    names: dict[str, str] = {}
    excluded: dict[str, str] = {}
    for ns in PUBLIC_NAMESPACES:
        mod, missing = resolve(ttnn, ns)
        if missing is not None:
            raise AttributeError(missing)
        for short in dir(mod):
            if short.startswith("_"):
                continue
            qualname = f"{ns}.{short}"
            if qualname in TORCH_ONLY:
                continue  # exists only where torch imports: the tree must read the same with or without torch
            obj = getattr(mod, short)
            if qualname in IMPORT_LEFTOVERS:
                excluded[qualname] = "a variable left behind by ttnn/__init__.py's import-time setup"
            elif obj is ttnn:
                excluded[qualname] = "the ttnn package itself (a back-reference)"
            elif (why := _foreign(obj)) is not None:
                excluded[qualname] = why
            else:
                names[qualname] = _public_kind(obj)
    for cls_name in PUBLIC_MEMBER_CLASSES:
        cls, missing = resolve(ttnn, cls_name)
        if missing is not None:
            raise AttributeError(missing)
        for short in dir(cls):
            if short.startswith("_"):
                continue
            raw = inspect.getattr_static(cls, short)
            is_data = hasattr(type(raw), "__get__") and (
                hasattr(type(raw), "__set__") or isinstance(raw, property)
            )
            names[f"{cls_name}.{short}"] = "property" if is_data else "method"
    return {"names": dict(sorted(names.items())), "excluded": dict(sorted(excluded.items()))}


# ------------------------------------------------------------------------------------------ configs


# enums ttnn nests in a class rather than exporting at the top level: ttfuse's class name -> ttnn's path
NESTED_ENUMS = {"SliceTypeEnum": ("Conv2dSliceConfig", "SliceTypeEnum")}


def _enum_class(ttnn: Any, name: str) -> Any:
    obj = ttnn
    for part in NESTED_ENUMS.get(name, (name,)):
        obj = getattr(obj, part)
    return obj


def decode_value(ttnn: Any, v: Any, field: str | None = None) -> Any:
    """ttfuse.types.to_json_value data -> a real ttnn value ($enum, $obj, $tuple/$list, grids as CoreCoord)."""
    if isinstance(v, dict):
        if "$enum" in v:
            return getattr(_enum_class(ttnn, v["$enum"]), v["v"])
        if "$float" in v:
            return float(v["$float"])
        if "$tuple" in v or "$list" in v:
            items = [decode_value(ttnn, x) for x in v.get("$tuple", v.get("$list"))]
            if field == "compute_with_storage_grid_size":
                return ttnn.CoreCoord(*items)
            return tuple(items) if "$tuple" in v else items
        if "$obj" in v:
            return build_object(ttnn, v["$obj"], v["f"])
    return v


def build_object(ttnn: Any, cls_name: str, fields: dict) -> Any:
    """Construct the real ttnn object of class `cls_name` from ttfuse field data (keyword arguments)."""
    kw = {k: decode_value(ttnn, x, k) for k, x in fields.items()}
    if cls_name == "UnaryWithParam":  # positional-only constructor: (op_type[, p1[, p2]])
        return ttnn.UnaryWithParam(kw["op_type"], *kw.get("params", ()))
    if cls_name == "CoreCoord":
        return ttnn.CoreCoord(kw["x"], kw["y"])
    if cls_name == "CoreGrid":
        return ttnn.CoreGrid(x=kw["x"], y=kw["y"])
    if cls_name == "CoreRange":
        return ttnn.CoreRange(kw["start"], kw["end"])
    if cls_name == "CoreRangeSet":
        return ttnn.CoreRangeSet(list(kw["ranges"]))
    return getattr(ttnn, cls_name)(**kw)


def read_value(v: Any) -> Any:
    """A real ttnn field value as JSON data in ttfuse's to_json_value vocabulary."""
    if v is None or isinstance(v, bool | int | str):
        return v
    if isinstance(v, float):
        return v if v == v and abs(v) != float("inf") else {"$float": repr(v)}
    if isinstance(v, enum.Enum):
        return {"$enum": type(v).__name__, "v": v.name}
    tname = type(v).__name__
    if tname == "CoreCoord":
        return {"$tuple": [v.x, v.y]}
    if tname == "UnaryWithParam":
        return {
            "$obj": "UnaryWithParam",
            "f": {"op_type": read_value(v.op_type), "params": read_value(v.params)},
        }
    if tname == "CoreRange":
        return {"$obj": "CoreRange", "f": {"start": read_value(v.start), "end": read_value(v.end)}}
    if tname == "CoreRangeSet":
        ranges = sorted(v.ranges(), key=lambda r: (r.start.y, r.start.x, r.end.y, r.end.x))
        return {"$obj": "CoreRangeSet", "f": {"ranges": {"$tuple": [read_value(r) for r in ranges]}}}
    if isinstance(v, list | tuple):
        return {"$tuple": [read_value(x) for x in v]}
    return {"$repr": repr(v)}


def read_fields(obj: Any) -> dict:
    """Every public non-callable attribute of a real config object, read back."""
    out = {}
    for a in sorted(dir(obj)):
        if a.startswith("_"):
            continue
        try:
            val = getattr(obj, a)
        except Exception as e:  # noqa: BLE001
            out[a] = {"$error": f"{type(e).__name__}: {e}"}
            continue
        if callable(val) and not isinstance(val, enum.Enum):
            continue
        out[a] = read_value(val)
    return out


def class_schema(ttnn: Any, cls_name: str) -> dict:
    """A real class's constructor overloads (parameters with their defaults) and its data properties."""
    cls = getattr(ttnn, cls_name, None)
    if cls is None:
        return {"exists": False}
    sigs, _ = signatures(cls)
    props = sorted(
        a for a in dir(cls) if not a.startswith("_") and type(inspect.getattr_static(cls, a)) is property
    )
    return {"exists": True, "overloads": [s["params"] for s in sigs], "properties": props}
