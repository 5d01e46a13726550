"""The ttnn backend's code checked against the real ttnn 0.81.1 module (issue 5 item 5).

Main-environment side (imports ttfuse, never ttnn). Two kinds of source are checked:
- the source `ttfuse.codegen.generate_source(graph, backend="ttnn")` emits for a jit-lowered graph. The real ttnn
  cannot be imported here (Python 3.11), so `ttnn_backend_source` puts a stand-in module named `ttnn` (the
  facade's names) in `sys.modules` while generating: the text is what the backend writes; whether the names in
  it exist is then decided by the real module in the oracle;
- the Python source of every fused kernel's ttnn rule (`OpDef.ttnn_rule`, how the kernel runs on a TT device
  without a generated kernel): its `ttnn.*` references and call keywords.

`scan(source)` parses the text (ast) and collects: every maximal attribute chain rooted at the name `ttnn`
(`ttnn.experimental.minimal_matmul`), every call of such a chain with the keyword names it passes, and (for
generated code) every *static* call expression (only literals, ttnn chains and nested static calls as
arguments, e.g. a program config literal) together with the globals the code needs besides `ttnn` (`_c0`:
objects without a literal form). The oracle's `resolve` command resolves all chains, returns the parameters of
callables and evaluates the static expressions with the real ttnn. `check` turns that into findings:

    unresolved   `ttnn.a.b` does not exist in real ttnn                                       error
    keyword      a call passes a keyword the real callable does not accept (nor documents)    error
    construct    a static expression (config literal) raises in real ttnn                     error
    global       the code needs an object that has no source form (a ttfuse object)           error

Findings listed in `KNOWN` (reported to the lead, with the owner and the fix) do not fail the test; entries
matching nothing do (so the list stays exact). Every finding and its resolution is in conformance/FINDINGS.md.
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import sys
import textwrap
import types
from collections import Counter
from dataclasses import dataclass, field, replace

# (kind, subject) -> owner and fix. subject: the chain for unresolved, "chain(keyword=)" for keyword, the
# class chain for construct (first line of the error), the global's type name for global.
KNOWN: dict[tuple[str, str], str] = {}  # every finding fixed so far (see conformance/FINDINGS.md)
RUNTIME_GLOBALS = frozenset({"ttnn", "_ttfuse_rethrow", "_ttfuse_device", "float", "int", "tuple", "list"})


@dataclass(frozen=True)
class Reference:
    chain: str  # "ttnn.transformer.scaled_dot_product_attention"
    where: str  # "graph mlp line 3" / "kernel ttfuse.kernels.transition ttnn rule"


@dataclass(frozen=True)
class Call:
    chain: str
    keywords: tuple[str, ...]
    where: str


@dataclass
class Scan:
    references: list[Reference] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    expressions: list[tuple[str, str, str]] = field(default_factory=list)  # (text, callee chain, where)
    globals: list[tuple[str, str, str]] = field(default_factory=list)  # (name, type name, where)


@dataclass(frozen=True)
class Finding:
    kind: str  # unresolved | keyword | construct | global
    subject: str
    detail: str
    where: str
    resolution: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.subject)

    @property
    def is_error(self) -> bool:
        return not self.resolution

    def __str__(self) -> str:
        r = f"  [{self.resolution}]" if self.resolution else ""
        return f"{self.kind:10} {self.subject}: {self.detail} ({self.where}){r}"


@dataclass
class BackendReport:
    findings: list[Finding] = field(default_factory=list)
    counts: Counter = field(
        default_factory=Counter
    )  # sources, references, names, calls, keywords, expressions
    stale: list[tuple[str, str]] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.is_error]


# ------------------------------------------------------------------------------------------------ sources
@contextlib.contextmanager
def stand_in_ttnn():
    """`import ttnn` gives a module named `ttnn` holding the facade's names, unless a real ttnn is importable."""
    try:
        import ttnn  # noqa: F401 - on a TT machine the backend uses the real module: leave it alone

        yield sys.modules["ttnn"]
        return
    except ImportError:
        pass
    from ttfuse import ttnn as facade

    mod = types.ModuleType("ttnn", "stand-in for the real ttnn while generating ttnn-backend source")
    mod.__dict__.update({k: v for k, v in vars(facade).items() if not k.startswith("__")})
    sys.modules["ttnn"] = mod
    try:
        yield mod
    finally:
        if sys.modules.get("ttnn") is mod:
            del sys.modules["ttnn"]


def ttnn_backend_source(graph, name: str) -> tuple[str, dict]:
    """(source, globals) codegen emits for `graph` with backend='ttnn'."""
    from ttfuse.codegen import generate_source

    with stand_in_ttnn():
        src, glb, _ = generate_source(graph, name=name, backend="ttnn")
    return src, glb


def kernel_rule_sources() -> list[tuple[str, str]]:
    """(kernel qualname, source of its ttnn rule) for every registered fused kernel."""
    import ttfuse.kernels  # noqa: F401 - registers the kernels
    from ttfuse.opdef import OPS, Group

    out = []
    for _name, op in sorted(OPS.items()):
        if op.group is not Group.FUSED:
            continue
        rule = op.ttnn_rule
        if rule is None:
            out.append((op.qualname, ""))
            continue
        out.append((op.qualname, textwrap.dedent(inspect.getsource(rule))))
    return out


# ------------------------------------------------------------------------------------------------ scanning
def _chain(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name) and node.id == "ttnn" and parts:
        return ".".join(["ttnn", *reversed(parts)])
    return None


def _is_static(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return all(_is_static(e) for e in node.elts)
    if isinstance(node, ast.Dict):
        return all(k is not None and _is_static(k) for k in node.keys) and all(
            _is_static(v) for v in node.values
        )
    if isinstance(node, ast.UnaryOp):
        return _is_static(node.operand)
    if isinstance(node, ast.Attribute):
        return _chain(node) is not None
    if isinstance(node, ast.Call):
        callee_ok = _chain(node.func) is not None or (
            isinstance(node.func, ast.Name) and node.func.id in ("float", "int", "tuple", "list")
        )
        return (
            callee_ok
            and all(_is_static(a) for a in node.args)
            and all(_is_static(k.value) for k in node.keywords)
        )
    return False


def scan(source: str, where: str, *, glb: dict | None = None, expressions: bool = True) -> Scan:
    """References, calls, static expressions and needed globals of one source text."""
    tree = ast.parse(source)
    out = Scan()
    inner: set[int] = set()  # attribute nodes that are the prefix of a longer chain
    static_inner: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _chain(node) is not None:
            if id(node) not in inner:
                line = f"{where} line {node.lineno}"
                out.references.append(Reference(_chain(node), line))
            v = node.value
            while isinstance(v, ast.Attribute):
                inner.add(id(v))
                v = v.value
        if isinstance(node, ast.Call) and _chain(node.func) is not None:
            kws = tuple(k.arg for k in node.keywords if k.arg is not None)
            out.calls.append(Call(_chain(node.func), kws, f"{where} line {node.lineno}"))
            if expressions and id(node) not in static_inner and _is_static(node):
                text = ast.get_source_segment(source, node) or ast.unparse(node)
                out.expressions.append((text, _chain(node.func), f"{where} line {node.lineno}"))
                for sub in ast.walk(node):
                    static_inner.add(id(sub))
        if glb is not None and isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            if node.id in glb and node.id not in RUNTIME_GLOBALS and not _kernel_rule(glb[node.id]):
                out.globals.append((node.id, type(glb[node.id]).__name__, f"{where} line {node.lineno}"))
    return out


def _kernel_rule(obj) -> bool:
    """A `_k_<kernel>` global of the ttnn backend: a fused kernel's ttnn rule bound to the ttnn module. Its source
    is checked on its own (the kernel corpus), so the generated code may call it."""
    import functools

    from ttfuse.opdef import OPS

    if not isinstance(obj, functools.partial):
        return False
    return any(op.ttnn_rule is obj.func for op in OPS.values() if op.ttnn_rule is not None)


def merge(scans: list[Scan]) -> Scan:
    out = Scan()
    for s in scans:
        out.references += s.references
        out.calls += s.calls
        out.expressions += s.expressions
        out.globals += s.globals
    return out


def oracle_request(s: Scan) -> dict:
    names = sorted({r.chain for r in s.references} | {c.chain for c in s.calls})
    exprs = sorted({e[0] for e in s.expressions})
    return {"names": names, "expressions": exprs}


# ------------------------------------------------------------------------------------------------ checking
def check(
    s: Scan, reply: dict, request: dict | None = None, *, known: dict[tuple[str, str], str] | None = None
) -> BackendReport:
    """Findings for a scan against the oracle's `resolve` reply to `request` (default `oracle_request(s)`; a
    larger request is fine: the scan's names and expressions must be in it)."""
    known = KNOWN if known is None else known
    request = oracle_request(s) if request is None else request
    rep = BackendReport()
    results = reply["results"]
    exprs = dict(zip(request["expressions"], reply["expressions"], strict=True))
    out: list[Finding] = []
    seen: set[tuple[str, str]] = set()

    def add(f: Finding) -> None:
        if f.key not in seen:  # one finding per subject (its first place), counts stay per occurrence
            seen.add(f.key)
            out.append(f)

    rep.counts["references"] = len(s.references)
    rep.counts["names"] = len({r.chain for r in s.references} | {c.chain for c in s.calls})
    for r in s.references:
        res = results[r.chain]
        if not res["exists"]:
            add(Finding("unresolved", r.chain, res.get("missing", "not in ttnn"), r.where))
    for c in s.calls:
        rep.counts["calls"] += 1
        res = results[c.chain]
        if not res["exists"] or "params" not in res or not res.get("signature_readable", True):
            continue
        allowed = set(res["params"]) | set(res.get("doc_params", ()))
        for kw in c.keywords:
            rep.counts["keywords"] += 1
            if kw not in allowed and not res.get("var_keyword"):
                add(
                    Finding(
                        "keyword", f"{c.chain}({kw}=)", f"ttnn's {c.chain} has no parameter {kw!r}", c.where
                    )
                )
    for text, callee, where in s.expressions:
        rep.counts["expressions"] += 1
        res = exprs[text]
        if not res["ok"]:
            why = []
            if res.get("missing_required"):
                why.append(f"lacks required {', '.join(res['missing_required'])}")
            if res.get("unknown_keywords"):
                why.append(f"unknown keywords {', '.join(res['unknown_keywords'])}")
            err = "; ".join(why) or res["error"].splitlines()[0]
            add(Finding("construct", callee, f"ttnn rejects it ({err}): `{_short(text, 120)}`", where))
    for name, tname, where in s.globals:
        rep.counts["globals"] += 1
        add(
            Finding(
                "global",
                tname,
                f"generated code needs global {name} (a {tname} object, no source form)",
                where,
            )
        )
    used: set[tuple[str, str]] = set()
    findings = []
    for f in out:
        k = _known_key(f, known)
        if k is not None:
            used.add(k)
            f = replace(f, resolution="known: " + known[k])
        findings.append(f)
    rep.findings = findings
    rep.stale = sorted(k for k in known if k not in used)
    return rep


def _known_key(f: Finding, known: dict) -> tuple[str, str] | None:
    """The KNOWN entry of a finding: exact, or a namespace wildcard (`ttnn.kernels.*`)."""
    if f.key in known:
        return f.key
    parts = f.subject.split(".")
    for i in range(len(parts) - 1, 1, -1):
        k = (f.kind, ".".join(parts[:i]) + ".*")
        if k in known:
            return k
    return None


def _short(text: str, n: int = 200) -> str:
    t = " ".join(text.split())
    return t if len(t) <= n else t[: n - 3] + "..."
