"""The real ttnn and ttfuse in one process: resolving generated `ttnn.*` calls and binding their arguments.

Runs where ttnn 0.81.1, torch and ttfuse share one interpreter (Python 3.12, `conformance/setup_venv.sh --full`,
used by tests/conformance312). Where the main suite (tests/conformance, Python 3.11) asks a subprocess oracle
which names exist, this module holds the real objects: every `ttnn.a.b(...)` call in a source text is resolved
with `ttnn_introspect.resolve`, must be callable, and its arguments (the number of positional ones and the keyword
names) must bind to one overload of the real signature: positional slots, keywords by name, every required
parameter given. Signatures come from `ttnn_introspect.signatures` (nanobind functions have no
`inspect.signature`: their `__nb_signature__` text is parsed there).

    ttnn = import_real_ttnn()                          # mock cluster descriptor, as oracle.py does
    report = check_calls(ttnn, call_sites(source, "graph mlp"))
    report.errors  # [] when every call resolves and binds; report.counts: calls, bound, by_doc, names

Pure parts (`call_sites`, `bind`) need no ttnn and are tested with hand-written signatures.
"""

from __future__ import annotations

import ast
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.backend_check import _chain

HERE = Path(__file__).resolve().parent
CLUSTERS = {
    "wormhole_b0": HERE / "cluster" / "wormhole_n150.yaml",
    "blackhole": HERE / "cluster" / "blackhole_p150.yaml",
}


def import_real_ttnn(arch: str = "wormhole_b0") -> Any:
    """`import ttnn` (the real wheel) with a mock UMD cluster descriptor; no device is opened. The descriptor is
    read once per process: the first call's `arch` (or a caller's TT_METAL_MOCK_CLUSTER_DESC_PATH) wins."""
    os.environ.setdefault("TT_METAL_MOCK_CLUSTER_DESC_PATH", str(CLUSTERS[arch]))
    os.environ.setdefault("TT_METAL_LOGGER_LEVEL", "ERROR")
    os.environ.setdefault("LOGURU_LEVEL", "WARNING")
    import ttnn

    if not hasattr(ttnn, "Tensor") or not hasattr(ttnn, "decorators"):
        raise ImportError(f"`import ttnn` gave {ttnn!r}, not the real ttnn wheel")
    return ttnn


@dataclass(frozen=True)
class CallSite:
    chain: str  # "ttnn.transformer.scaled_dot_product_attention"
    positional: int  # number of positional arguments
    keywords: tuple[str, ...]
    star: bool  # *args or **kwargs in the call: arity unknown, only names checked
    where: str


def call_sites(source: str, where: str) -> list[CallSite]:
    """Every call of a `ttnn.*` attribute chain in `source`, with its argument shape."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            chain = _chain(node.func)
            if chain is None:
                continue
            star = any(isinstance(a, ast.Starred) for a in node.args) or any(
                k.arg is None for k in node.keywords
            )
            out.append(
                CallSite(
                    chain,
                    sum(not isinstance(a, ast.Starred) for a in node.args),
                    tuple(k.arg for k in node.keywords if k.arg is not None),
                    star,
                    f"{where} line {node.lineno}",
                )
            )
    return out


def bind(params: list[dict], positional: int, keywords: tuple[str, ...], star: bool = False) -> str | None:
    """None when a call with `positional` arguments and these keywords binds to the parameter list (the
    `ttnn_introspect.parse_nb_signature` form), else why not (the first reason, as Python would say it)."""
    slots = [p for p in params if p["kind"] in ("positional_only", "positional_or_keyword")]
    var_pos = any(p["kind"] == "var_positional" for p in params)
    var_kw = any(p["kind"] == "var_keyword" for p in params)
    if positional > len(slots) and not var_pos and not star:
        return f"takes {len(slots)} positional arguments but {positional} were given"
    given = {p["name"] for p in slots[:positional]}
    by_name = {p["name"]: p for p in params if p["kind"] in ("positional_or_keyword", "keyword_only")}
    for kw in keywords:
        if kw in given:
            return f"got multiple values for argument {kw!r}"
        if kw not in by_name and not var_kw:
            return f"got an unexpected keyword argument {kw!r}"
        given.add(kw)
    if star:
        return None
    lacking = [
        p["name"]
        for p in params
        if p["kind"] not in ("var_positional", "var_keyword")
        and not p["has_default"]
        and p["name"] not in given
    ]
    if lacking:
        return f"missing required argument{'s' * (len(lacking) > 1)} {', '.join(map(repr, lacking))}"
    return None


@dataclass(frozen=True)
class Finding:
    kind: str  # unresolved | not_callable | unbound | unreadable
    chain: str
    detail: str
    where: str

    def __str__(self) -> str:
        return f"{self.kind:12} {self.chain}: {self.detail} ({self.where})"


@dataclass
class CallReport:
    findings: list[Finding] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)  # calls, bound, by_doc, names

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.kind != "unreadable"]


def check_calls(ttnn: Any, sites: list[CallSite]) -> CallReport:
    """Resolve every call site in the real module and bind its arguments (see the module docstring).

    A callable whose signature cannot be read at all (no `__nb_signature__`, no `inspect.signature`) is checked
    by its documented parameter names (keywords only) and reported as `unreadable`, which is not an error."""
    from conformance.ttnn_introspect import doc_params, resolve, signatures

    rep = CallReport()
    rep.counts["names"] = len({s.chain for s in sites})
    seen: set[tuple[str, str, str]] = set()

    def add(f: Finding) -> None:
        if (f.kind, f.chain, f.detail) not in seen:
            seen.add((f.kind, f.chain, f.detail))
            rep.findings.append(f)

    for s in sites:
        rep.counts["calls"] += 1
        obj, missing = resolve(ttnn, s.chain)
        if missing is not None:
            add(Finding("unresolved", s.chain, missing, s.where))
            continue
        if not callable(obj):
            add(Finding("not_callable", s.chain, f"a {type(obj).__name__}, called here", s.where))
            continue
        overloads, _src = signatures(obj)
        if not overloads:
            documented = set(doc_params(getattr(obj, "__doc__", None)))
            unknown = [k for k in s.keywords if k not in documented]
            if unknown:
                add(Finding("unbound", s.chain, f"undocumented keywords {unknown}", s.where))
            else:
                rep.counts["by_doc"] += 1
                add(
                    Finding("unreadable", s.chain, "no signature; keywords checked against its docs", s.where)
                )
            continue
        reasons = [bind(o["params"], s.positional, s.keywords, s.star) for o in overloads]
        if any(r is None for r in reasons):
            rep.counts["bound"] += 1
        else:
            why = "; ".join(sorted(set(reasons)))
            add(
                Finding(
                    "unbound",
                    s.chain,
                    f"({s.positional} positional, keywords {list(s.keywords)}): {why}",
                    s.where,
                )
            )
    return rep
