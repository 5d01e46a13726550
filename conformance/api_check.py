"""The facade's API surface compared with the real ttnn 0.81.1 (issue 5 item 4): names, keywords, types, enums.

Main-environment side (imports ttfuse, never ttnn). `facade_surface()` lists what `from ttfuse import ttnn`
exposes: every op (its OpDef signature), every other public function and class (constructor signature,
public attributes), every enum and enum member, every constant. `oracle_names(surface)` is the one batch
of qualified names sent to the oracle's `api` command; `compare(surface, reply)` turns the two into findings:

    missing_name     the facade exposes a name real ttnn lacks                       error
    missing_param    a facade parameter no overload of the real callable accepts      error
    kind             the facade accepts positionally what ttnn takes only by keyword, or by keyword what
                     ttnn takes only positionally (nanobind `arg0`, ...)              error
    default          a parameter's default differs (simple values: None, bools, numbers, strings, enums),
                     or the facade requires what ttnn makes optional                  error
    value            a constant or enum member differs in value (int enums, ints, memory-config fields)
    doc_only         a facade parameter ttnn documents in the op's docstring (``Keyword Args:``) but whose
                     binding signature text lacks it (nanobind `nb::sig` overrides): note
    not_modelled     a real parameter the facade lacks: coverage, never an error

Every finding that is not `not_modelled` fails the test unless it is listed in `EXTENSIONS` (a deliberate
ttfuse addition, with the reason) or in `KNOWN` (a facade bug reported to the owner of the op module, which
the owner removes from the list when fixing it). An entry that no longer matches any finding also fails, so
both lists stay exact. Every finding and its resolution is recorded in conformance/FINDINGS.md.

Extend: a new kind of facade name needs a branch in `facade_surface` and in `compare`.
"""

from __future__ import annotations

import enum
import inspect
import types
from collections import Counter
from dataclasses import dataclass, field, fields, is_dataclass

from conformance.ttnn_introspect import default_text

# ------------------------------------------------------------------------------------------- allow lists
# (qualname, parameter or attribute or None, finding kind) -> why ttfuse differs on purpose
_POSITIONAL_DATACLASS = (
    "ttfuse builds this dataclass by field name (IR JSON round trip); ttnn's constructor is "
    "positional-only: model code must call it positionally"
)
EXTENSIONS: dict[tuple[str, str | None, str], str] = {
    (
        "ttnn.BlackholeComputeKernelConfig",
        None,
        "missing_name",
    ): "alias of WormholeComputeKernelConfig kept for "
    "tt-boltz code, which uses it (newer tt-metal has it; 0.81.1 has one class for both arches)",
    (
        "ttnn.open_device",
        "arch",
        "missing_param",
    ): "ttfuse: names the simulated device kind (else $TTFUSE_ARCH)",
    ("ttnn.open_mesh_device", "arch", "missing_param"): "ttfuse: names the simulated device kind",
    ("ttnn.model_preprocessing", None, "missing_name"): "the wheel's ttnn/model_preprocessing.py, a module "
    "its `ttnn/__init__` does not import (`import ttnn.model_preprocessing` there); the facade attaches it",
    (
        "ttnn.TensorSpec",
        "buffer_type",
        "default",
    ): "None means 'not given': the facade's TensorSpec also takes memory_config= (its own constructor), "
    "and an omitted buffer_type is BufferType.DRAM as in ttnn (ttfuse/types.py _spec_memory_config)",
    ("ttnn.CoreCoord", "x", "kind"): _POSITIONAL_DATACLASS,
    ("ttnn.CoreCoord", "y", "kind"): _POSITIONAL_DATACLASS,
    ("ttnn.UnaryWithParam", "op_type", "kind"): _POSITIONAL_DATACLASS,
    ("ttnn.UnaryWithParam", "param", "kind"): _POSITIONAL_DATACLASS,
    ("ttnn.UnaryWithParam", "params", "missing_param"): _POSITIONAL_DATACLASS,
    ("ttnn.PlacementShard", "dim", "kind"): _POSITIONAL_DATACLASS,
    ("ttnn.Tensor", "spec", "missing_param"): "ttfuse's Tensor constructor is internal: tensors come from "
    "ttnn.from_torch and ops (ttnn.Tensor(numpy, dtype) overloads are not modelled)",
    ("ttnn.Tensor", "shards", "missing_param"): "internal constructor (see ttnn.Tensor spec=)",
    ("ttnn.Tensor", "bufs", "missing_param"): "internal constructor (see ttnn.Tensor spec=)",
    (
        "ttnn.TensorSpec",
        "memory_config",
        "missing_param",
    ): "ttfuse's TensorSpec takes a whole MemoryConfig (ttnn's "
    "takes buffer_type / memory_layout / shard_spec); its .memory_config property matches ttnn's",
    (
        "ttnn.MeshDevice.spec",
        None,
        "missing_name",
    ): "simulator: the chip's DeviceSpec (jit and passes read it)",
    ("ttnn.MeshDevice.check_open", None, "missing_name"): "simulator: raises DeviceError on a closed device",
    ("ttnn.MeshDevice.allocate", None, "missing_name"): "ttfuse.backend.Device: a tensor's storage on every "
    "chip (what ttnn.to_device allocates through)",
    ("ttnn.MeshDevice.close", None, "missing_name"): "ttfuse.backend.Device: what ttnn.close_device and "
    "close_mesh_device call",
}
# (qualname, parameter or None, finding kind) -> owner and fix: facade bugs reported to the lead; the owner
# deletes the line with the fix (the test then holds the fix)
KNOWN: dict[tuple[str, str | None, str], str] = {
    ("ttnn.reshape", "reshape_tile_mode", "default"): "ops/shapes.py: ttnn's default is "
    "TileReshapeMapMode.CACHE (a type the facade lacks)",
    (
        "ttnn.WormholeComputeKernelConfig",
        "math_fidelity",
        "default",
    ): "lead: ttnn's default MathFidelity.Invalid "
    "means the op's own default fidelity; ttfuse's LoFi is applied as is (sim and cost)",
}
# public names of the facade that are not API (Python artefacts of the module itself)
IGNORED = {"annotations": "`from __future__ import annotations` binds it in the facade module"}
# classes whose public attributes are compared with the real class (what model code touches)
ATTRIBUTE_CLASSES = ("Tensor", "MeshDevice")


# ------------------------------------------------------------------------------------------- the surface
@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # positional_only | positional_or_keyword | keyword_only | var_positional | var_keyword
    has_default: bool
    default: object = None  # default_text() of the default


@dataclass(frozen=True)
class FacadeName:
    qualname: str  # "ttnn.linear", "ttnn.UnaryOpType.SILU", "ttnn.Tensor.shape"
    category: str  # op | function | class | enum | enum_value | constant | module | attribute | alias
    params: tuple[Param, ...] = ()
    group: str = ""  # op group, or the defining module
    value: object = None  # constants and enum members: comparable value data (see _value_data)


_KINDS = {
    inspect.Parameter.POSITIONAL_ONLY: "positional_only",
    inspect.Parameter.POSITIONAL_OR_KEYWORD: "positional_or_keyword",
    inspect.Parameter.KEYWORD_ONLY: "keyword_only",
    inspect.Parameter.VAR_POSITIONAL: "var_positional",
    inspect.Parameter.VAR_KEYWORD: "var_keyword",
}


def _params(sig: inspect.Signature, drop_self: bool = False) -> tuple[Param, ...]:
    out = []
    for i, p in enumerate(sig.parameters.values()):
        if (drop_self and i == 0 and p.name == "self") or p.name.startswith("_"):
            continue  # private dataclass fields (TensorSpec._hash) are not API
        has = p.default is not p.empty
        out.append(Param(p.name, _KINDS[p.kind], has, default_text(p.default) if has else None))
    return tuple(out)


def _value_data(v: object) -> object:
    """What of a constant is compared: ints/strs as is, enum members as 'Type.NAME', memory configs by field."""
    if isinstance(v, bool | int | float | str):
        return v
    if isinstance(v, enum.Enum):
        return f"{type(v).__name__}.{v.name}"
    if type(v).__name__ == "MemoryConfig":
        return {
            "memory_layout": _value_data(v.memory_layout),
            "buffer_type": _value_data(v.buffer_type),
            "shard_spec": None if v.shard_spec is None else repr(v.shard_spec),
        }
    return None


def _class_attrs(cls: type) -> list[str]:
    """Public attributes defined by a facade class itself (methods, properties, dataclass fields)."""
    names = set()
    for klass in cls.__mro__:
        if klass is object or not klass.__module__.startswith("ttfuse"):
            continue
        names.update(n for n in vars(klass) if not n.startswith("_"))
        if is_dataclass(klass):
            names.update(f.name for f in fields(klass) if not f.name.startswith("_"))
    return sorted(names)


def facade_surface() -> list[FacadeName]:
    """Every public name of `ttfuse.ttnn` (ops in their namespaces), in a stable order."""
    from ttfuse import ttnn
    from ttfuse.opdef import OPS, Group, OpDef

    out: list[FacadeName] = []
    for name, op in sorted(OPS.items()):
        if name.startswith("kernels.") or op.group is Group.FUSED:
            continue  # ttfuse's own fused kernels: not ttnn API
        out.append(FacadeName(op.qualname, "op", _params(op.signature), op.group.value))
    for name in sorted(vars(ttnn)):
        v = getattr(ttnn, name)
        if name.startswith("_") or name in IGNORED or isinstance(v, OpDef):
            continue
        q = f"ttnn.{name}"
        if isinstance(v, types.ModuleType):
            out.extend(_describe_module(q, v))
            continue
        out.extend(_describe_value(q, v))
    return out


def _describe_module(q: str, mod: types.ModuleType) -> list[FacadeName]:
    """A facade submodule and, for the facade's own ones (ttnn.device, ttnn.types, ttnn.operations.ccl), every name
    of its `__all__`, recursing into submodules (ttnn.operations.<module>)."""
    from ttfuse import ttnn

    out = [FacadeName(q, "module", group=mod.__name__)]
    if mod.__name__.startswith("ttfuse."):
        for sub in getattr(mod, "__all__", ()):
            v = getattr(mod, sub)
            if isinstance(v, types.ModuleType):
                out.extend(_describe_module(f"{q}.{sub}", v))
            elif getattr(ttnn, sub, None) is v and not isinstance(v, bool | int | float | str):
                # the top-level object again (ttnn.types.bfloat16 is ttnn.bfloat16): its signature, members and
                # value are compared under ttnn.<sub>; here only that the wheel has the name at this path
                out.append(FacadeName(f"{q}.{sub}", "alias", group=f"ttnn.{sub}"))
            else:
                out.extend(_describe_value(f"{q}.{sub}", v, attributes=False))
    return out


def _describe_value(q: str, v: object, attributes: bool = True) -> list[FacadeName]:
    mod = getattr(v, "__module__", "") or ""
    if isinstance(v, type) and issubclass(v, enum.Enum):
        res = [FacadeName(q, "enum", group=mod)]
        res += [FacadeName(f"{q}.{m.name}", "enum_value", group=mod, value=m.value) for m in v]
        return res
    if isinstance(v, type):
        try:
            params = _params(inspect.signature(v))
        except (TypeError, ValueError):
            params = ()
        res = [FacadeName(q, "class", params, group=mod)]
        if attributes and q.rsplit(".", 1)[-1] in ATTRIBUTE_CLASSES:
            res += [FacadeName(f"{q}.{a}", "attribute", group=mod) for a in _class_attrs(v)]
        return res
    if callable(v):
        try:
            params = _params(inspect.signature(v))
        except (TypeError, ValueError):
            params = ()
        return [FacadeName(q, "function", params, group=mod)]
    return [FacadeName(q, "constant", group=type(v).__name__, value=_value_data(v))]


def oracle_names(surface: list[FacadeName]) -> list[str]:
    return sorted({n.qualname for n in surface})


# ------------------------------------------------------------------------------------------- comparison
NOTE_KINDS = frozenset({"not_modelled", "doc_only"})  # coverage notes, never errors


@dataclass(frozen=True)
class Finding:
    qualname: str
    param: str | None
    kind: str  # missing_name | missing_param | kind | default | value | not_modelled
    detail: str
    resolution: str = ""  # "extension: ...", "known: ...", "" (an error)

    @property
    def key(self) -> tuple[str, str | None, str]:
        return (self.qualname, self.param, self.kind)

    @property
    def is_error(self) -> bool:
        return self.kind not in NOTE_KINDS and not self.resolution

    def __str__(self) -> str:
        where = self.qualname + (f"({self.param}=)" if self.param and self.kind != "missing_name" else "")
        return f"{self.kind:13} {where}: {self.detail}" + (
            f"  [{self.resolution}]" if self.resolution else ""
        )


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)  # names, ops, functions, keywords, enum_values, ...
    real_params: dict[str, list[str]] = field(
        default_factory=dict
    )  # qualname -> union of real parameter names
    stale: list[tuple] = field(default_factory=list)  # EXTENSIONS / KNOWN entries matching nothing

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.is_error]

    def of(self, qualname: str) -> list[Finding]:
        return [f for f in self.findings if f.qualname == qualname]


def _real_params(desc: dict) -> tuple[list[list[dict]], list[str]]:
    overloads = [s["params"] for s in desc.get("signatures", [])]
    names: list[str] = []
    for ov in overloads:
        for p in ov:
            if p["kind"] not in ("var_positional", "var_keyword") and p["name"] not in names:
                names.append(p["name"])
    return overloads, names


_POSITIONAL = ("positional_only", "positional_or_keyword")


def _simple(d: object) -> bool:
    return d is None or isinstance(d, bool | int | float) or (isinstance(d, str) and "(" not in d)


def _check_params(n: FacadeName, desc: dict, report: Report, out: list[Finding]) -> None:
    overloads, real_names = _real_params(desc)
    report.real_params[n.qualname] = real_names
    if not overloads:
        if n.category != "class":  # classes built by factories (MeshDevice) have no constructor to compare
            out.append(
                Finding(n.qualname, None, "missing_param", "no signature readable from the real object")
            )
        return
    var_kw = any(p["kind"] == "var_keyword" for ov in overloads for p in ov)
    by_name: dict[str, list[dict]] = {}
    for ov in overloads:
        for p in ov:
            by_name.setdefault(p["name"], []).append(p)
    facade_names = {p.name for p in n.params}
    for i, p in enumerate(n.params):
        if p.kind in ("var_positional", "var_keyword"):
            continue
        report.counts["keywords"] += 1
        real = by_name.get(p.name)
        if real is None and p.name in desc.get("doc_params", ()):
            out.append(
                Finding(
                    n.qualname,
                    p.name,
                    "doc_only",
                    "documented in ttnn's docstring but absent from the binding's signature text",
                )
            )
            continue
        if real is None:
            pos_only = [
                ov[i]["name"] for ov in overloads if i < len(ov) and ov[i]["kind"] == "positional_only"
            ]
            if pos_only and p.kind != "keyword_only":
                out.append(
                    Finding(
                        n.qualname,
                        p.name,
                        "kind",
                        f"ttnn takes it positionally only (as `{pos_only[0]}`);"
                        f" the facade also accepts `{p.name}=`",
                    )
                )
            elif not var_kw:
                sig = desc["signatures"][0]["text"]
                out.append(
                    Finding(
                        n.qualname,
                        p.name,
                        "missing_param",
                        f"parameter {p.name!r} is not in the real signature `{_short(sig)}`",
                    )
                )
            continue
        # positional use: the facade accepts it, every real overload refuses it (or the reverse)
        if p.kind in _POSITIONAL and all(r["kind"] == "keyword_only" for r in real):
            out.append(
                Finding(
                    n.qualname, p.name, "kind", "the facade accepts it positionally; ttnn only by keyword"
                )
            )
        elif p.kind == "keyword_only" and all(r["kind"] in _POSITIONAL for r in real) and not p.has_default:
            out.append(
                Finding(n.qualname, p.name, "kind", "required keyword-only in the facade; positional in ttnn")
            )
        if p.has_default:
            real_defaults = [r["default"] for r in real if r["has_default"]]
            if real_defaults and all(_simple(d) for d in real_defaults) and _simple(p.default):
                if not any(_same_default(p.default, d) for d in real_defaults):
                    out.append(
                        Finding(
                            n.qualname,
                            p.name,
                            "default",
                            f"facade default {p.default!r}, ttnn {real_defaults[0]!r}",
                        )
                    )
        elif all(r["has_default"] for r in real):
            out.append(
                Finding(
                    n.qualname,
                    p.name,
                    "default",
                    f"required in the facade, optional in ttnn (default {real[0]['default']!r})",
                )
            )
    missing = [r for r in real_names if r not in facade_names]
    if missing:
        out.append(Finding(n.qualname, None, "not_modelled", ", ".join(missing)))


def _same_default(a: object, b: object) -> bool:
    if a == b and type(a) is type(b):
        return True
    if isinstance(b, str) and not isinstance(a, str) and b == repr(a):
        return (
            True  # a Python-level ttnn function whose signature text the oracle kept as is ("None", "True")
        )
    if isinstance(a, bool) or isinstance(b, bool):
        return False
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    return False


def _short(sig: str, n: int = 160) -> str:
    s = " ".join(sig.split())
    return s if len(s) <= n else s[: n - 3] + "..."


def compare(surface: list[FacadeName], reply: dict) -> Report:
    """Findings for every facade name against the oracle's `api` reply ({qualname: description})."""
    report = Report()
    out: list[Finding] = []
    for n in surface:
        desc = reply.get(n.qualname)
        if desc is None:
            raise KeyError(f"the oracle reply lacks {n.qualname} (was it in oracle_names?)")
        report.counts["names"] += 1
        report.counts[n.category] += 1
        if not desc["exists"]:
            out.append(Finding(n.qualname, None, "missing_name", desc.get("missing", "not in ttnn")))
            continue
        if n.category in ("op", "function", "class") and desc["kind"] in ("operation", "function", "class"):
            _check_params(n, desc, report, out)
        if n.category == "enum_value":
            v = desc.get("value")
            if isinstance(n.value, int) and not isinstance(n.value, bool) and n.value != v:
                out.append(Finding(n.qualname, None, "value", f"facade value {n.value!r}, ttnn {v!r}"))
        if n.category == "constant" and n.value is not None:
            _check_constant(n, desc, out)
    # resolutions
    keys = {f.key for f in out}
    resolved = []
    for f in out:
        if f.key in EXTENSIONS:
            f = Finding(f.qualname, f.param, f.kind, f.detail, "extension: " + EXTENSIONS[f.key])
        elif f.key in KNOWN:
            f = Finding(f.qualname, f.param, f.kind, f.detail, "known: " + KNOWN[f.key])
        resolved.append(f)
    report.findings = resolved
    report.stale = sorted(k for k in (*EXTENSIONS, *KNOWN) if k not in keys)
    return report


def _check_constant(n: FacadeName, desc: dict, out: list[Finding]) -> None:
    v = n.value
    if desc["kind"] == "enum_value":
        real = enum_value_text(desc)
        if v != real:
            out.append(Finding(n.qualname, None, "value", f"facade {v!r}, ttnn {real!r}"))
        return
    if isinstance(v, dict):  # a memory config: compare its fields
        real = desc.get("fields", {})
        for k, x in v.items():
            r = real.get(k)
            r_text = f"{r['$enum']}.{r['v']}" if isinstance(r, dict) and "$enum" in r else r
            if k == "shard_spec":
                if (x is None) != (r is None):
                    out.append(Finding(n.qualname, k, "value", f"facade shard_spec {x!r}, ttnn {r!r}"))
            elif r_text != x:
                out.append(Finding(n.qualname, k, "value", f"facade {k}={x!r}, ttnn {r_text!r}"))
        return
    if desc.get("value") != v:
        out.append(
            Finding(n.qualname, None, "value", f"facade {v!r}, ttnn {desc.get('value', desc.get('repr'))!r}")
        )


def enum_value_text(desc: dict) -> str:
    return f"{desc.get('enum')}.{desc.get('name')}"
