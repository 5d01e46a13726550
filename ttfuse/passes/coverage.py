"""Coverage report: for a jit function, which traced ops were fused into which kernel, which stayed single ops
and why, which were removed, which fell back (the function ran eagerly).

    lowered = block.lower(x, w)            # or ttfuse.jit(fn).lower(...)
    print(lowered.coverage)                # text; lowered.coverage.to_dict() / .entries / .kernels as data
    coverage_of(block, x, w)               # the same, or the fallback report when compiling fails

Sources (no pass-private channel): the traced graph, the final graph and, when kept (`lower()` keeps them), the
per-pass graphs. A node created by a rewrite carries `side.replaced` (op names) and `side.origins` (the
traced node ids it replaced, nested fusions flattened): those ops are *fused* into it. A traced node still
present in the final graph is *single*; its reason is the first fuse or cleanup decision on it (`side.decisions`:
`fuse.<table>.<rule>: why`, `fuse.eltwise: why`), else a default by op group. A traced node that disappeared
without being fused was *removed* (by the first pass after which it is gone: cleanup's no-op/folding/CSE rules,
DCE, chunking). When the function fell back to eager execution, every op is reported as *fallback* with the reason.
Invariant: every traced node appears in exactly one entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ttfuse.ir import Graph, Node, trace_function
from ttfuse.opdef import OPS, Group
from ttfuse.passes.rewrite import origins

FUSED, SINGLE, REMOVED, FALLBACK = "fused", "single", "removed", "fallback"

_DEFAULT_REASON = {
    Group.DATA_MOVEMENT: "data movement: no fusion rule absorbs it here",
    Group.MATMUL: "no epilogue, horizontal or block pattern matched",
    Group.NORM: "no residual, activation or block pattern matched",
    Group.CONV: "no activation or bias epilogue matched",
    Group.SOFTMAX: "not part of an attention pattern",
    Group.ATTENTION: "already a fused ttnn kernel",
    Group.REDUCE: "reductions are not fused",
    Group.CCL: "collectives are not fused",
    Group.MEMORY: "memory op",
    Group.FUSED: "a ttfuse kernel",
}


@dataclass
class OpEntry:
    """One traced op: its fate in the compiled function."""

    id: int
    op: str
    loc: str
    status: str  # fused | single | removed | fallback
    kernel: str | None = None  # op of the node it was fused into
    kernel_id: int | None = None
    reason: str = ""
    by_pass: str | None = None

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items()}


@dataclass
class KernelEntry:
    """One node of the final graph created by fusion: what it replaced."""

    id: int
    op: str
    replaced: list[str]
    origins: list[int]
    launches: int

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class CoverageReport:
    function: str
    entries: list[OpEntry] = field(default_factory=list)
    kernels: list[KernelEntry] = field(default_factory=list)
    fallback: str | None = None
    eager_launches: int | None = None
    jit_launches: int | None = None  # per call, memoised weight preparation excluded
    once: list[tuple[int, str]] = field(default_factory=list)  # nodes run once per set of weights

    def by_status(self, status: str) -> list[OpEntry]:
        return [e for e in self.entries if e.status == status]

    def entry(self, node_id: int) -> OpEntry:
        return next(e for e in self.entries if e.id == node_id)

    def counts(self) -> dict[str, int]:
        out = {FUSED: 0, SINGLE: 0, REMOVED: 0, FALLBACK: 0}
        for e in self.entries:
            out[e.status] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "function": self.function,
            "fallback": self.fallback,
            "counts": self.counts(),
            "eager_launches": self.eager_launches,
            "jit_launches": self.jit_launches,
            "entries": [e.to_dict() for e in self.entries],
            "kernels": [k.to_dict() for k in self.kernels],
            "once": [list(x) for x in self.once],
        }

    def __str__(self) -> str:
        c = self.counts()
        head = f"coverage of {self.function}: {len(self.entries)} traced ops"
        if self.eager_launches is not None and self.jit_launches is not None:
            head += f"; kernel launches per call: eager {self.eager_launches}, jit {self.jit_launches}"
        lines = [head]
        if self.fallback:
            lines.append(f"  FALLBACK: the function runs eagerly: {self.fallback}")
        for k in self.kernels:
            ops = ", ".join(
                f"%{i} {e.op}" for i, e in ((i, self._get(i)) for i in k.origins) if e is not None
            )
            lines.append(
                f"  fused   %{k.id} {k.op} ({k.launches} launch{'es' if k.launches != 1 else ''}) <- {ops}"
            )
        for nid, op in self.once:
            lines.append(
                f"  once    %{nid} {op}: computed once per set of weight tensors (memoised), not per call"
            )
        for e in self.entries:
            if e.status == FUSED:
                continue
            where = f" ({e.loc})" if e.loc else ""
            by = f" [{e.by_pass}]" if e.by_pass else ""
            lines.append(f"  {e.status:<7} %{e.id} {e.op}{where}{by}: {e.reason}")
        lines.append(
            f"  summary: {c[FUSED]} fused into {len(self.kernels)} nodes, {c[SINGLE]} single, "
            f"{c[REMOVED]} removed, {c[FALLBACK]} fallback"
        )
        return "\n".join(lines)

    def _get(self, node_id: int) -> OpEntry | None:
        return next((e for e in self.entries if e.id == node_id), None)


def _reason(node: Node) -> str:
    for d in node.side.decisions:  # why a fusion or cleanup rule that matched here did not fire
        if d.pass_name in ("fuse", "cleanup"):
            return str(d)
    op = OPS.get(node.op)
    if op is not None and op.group in (Group.ELTWISE_UNARY, Group.ELTWISE_BINARY, Group.ELTWISE_TERNARY):
        return "elementwise op with no fusion partner"
    return _DEFAULT_REASON.get(op.group if op else None, "no fusion rule applies")


def _launches(g: Graph, n: Node) -> int:
    from ttfuse.verify import spec_args

    op = OPS[n.op]
    try:
        return op.num_launches(list(n.outs), spec_args(n, [g.spec_of(r) for r in n.inputs]))
    except Exception:  # noqa: BLE001 - a launch rule that cannot run here: the static count
        return op.launches if isinstance(op.launches, int) else 1


def coverage_from_graphs(
    before: Graph, after: Graph, records: list | None = None, *, name: str = "fn", fallback: str | None = None
) -> CoverageReport:
    """The report for a traced graph `before` compiled into `after` (records: per-pass graphs, optional)."""
    rep = CoverageReport(name, fallback=fallback)
    final = {n.id: n for n in after.nodes}
    fused_into: dict[int, Node] = {}
    for n in after.nodes:
        o = origins(n)
        if o:
            for i in o:
                fused_into.setdefault(i, n)
            rep.kernels.append(KernelEntry(n.id, n.op, list(n.side.replaced), list(o), _launches(after, n)))
    merged: dict[int, int] = {}
    for n in after.nodes:
        for i in n.side.cse:
            merged[i] = n.id
    rep.once = [(n.id, n.op) for n in after.nodes if _once(n.op)]
    removed_by = _removal_passes(records or [])
    for n in before.nodes:
        loc = n.side.short_loc()
        if fallback is not None:
            rep.entries.append(OpEntry(n.id, n.op, loc, FALLBACK, reason=fallback))
        elif n.id in fused_into:
            k = fused_into[n.id]
            rep.entries.append(OpEntry(n.id, n.op, loc, FUSED, k.op, k.id, by_pass=removed_by.get(n.id)))
        elif n.id in final and final[n.id].op == n.op:
            rep.entries.append(OpEntry(n.id, n.op, loc, SINGLE, reason=_reason(final[n.id])))
        else:
            p = removed_by.get(n.id)
            if n.id in merged:
                why = f"computed once with %{merged[n.id]} (CSE)"
            elif p == "cleanup":
                why = "no-op or folded into a neighbour (cleanup rules)"
            elif p == "dce":
                why = "dead: no output depends on it"
            elif p is not None:
                why = f"rewritten by {p}"
            else:
                why = "not in the compiled graph"
            rep.entries.append(OpEntry(n.id, n.op, loc, REMOVED, reason=why, by_pass=p))
    return rep


def _removal_passes(records: list) -> dict[int, str]:
    out: dict[int, str] = {}
    for r in records:
        b, a = getattr(r, "graph_before", None), getattr(r, "graph_after", None)
        if b is None or a is None:
            continue
        alive = {n.id for n in a.nodes}
        for n in b.nodes:
            if n.id not in alive:
                for i in origins(n) or (n.id,):
                    out.setdefault(i, r.name)
    return out


def coverage_report(lowered) -> CoverageReport:
    """The report of a `Lowered` artifact (`jit_fn.lower(...)`), for the device it was compiled for (its
    `device_spec`, else the graph's `meta`): it is often read long after the compile, when the thread's
    current device is whatever the last eager op ran on."""
    from ttfuse.opdef import device_spec_context
    from ttfuse.passes.pipeline import cost_report
    from ttfuse.verify import graph_device

    before = lowered.graph_before
    if before is None:  # loaded from the disk cache: no traced graph
        before = lowered.graph
    spec, mesh = graph_device(lowered.graph)
    spec = getattr(lowered, "device_spec", None) or spec
    mesh = tuple(getattr(lowered, "mesh_shape", None) or mesh)
    with device_spec_context(spec, mesh):  # launch rules of fused kernels ask their steps' spec rules
        rep = coverage_from_graphs(before, lowered.graph, lowered.passes, name=lowered.name)
        try:
            rep.eager_launches = cost_report(before, spec, mesh).total.launches
            jit = cost_report(lowered.graph, spec, mesh)
            rep.jit_launches = sum(c.launches for _, op, c in jit.nodes if not _once(op))
        except Exception:  # noqa: BLE001 - launch counts are informative only
            pass
    return rep


def _once(op: str) -> bool:
    """Ops the runtime memoises (kernels.concat_weights): they run once per set of weights, not per call."""
    opdef = OPS.get(op)
    return opdef is not None and opdef.traits.persistent


def coverage_fallback(name: str, reason: str, graph: Graph | None = None) -> CoverageReport:
    """The report of a function that runs eagerly (jit fallback): every traced op falls back."""
    if graph is None:
        return CoverageReport(name, fallback=reason)
    return coverage_from_graphs(graph, graph, name=name, fallback=reason)


def coverage_of(jit_fn, *args, **kwargs) -> CoverageReport:
    """`jit_fn.lower(*args, **kwargs).coverage`; when tracing or compiling fails (a jit with fallback=True then
    runs eagerly) the fallback report: every traced op (if tracing got that far) with the reason."""
    name = getattr(jit_fn, "_name", getattr(jit_fn, "__qualname__", "fn"))
    try:
        return jit_fn.lower(*args, **kwargs).coverage
    except Exception as e:  # noqa: BLE001 - any compile failure is a fallback, reported with its reason
        reason = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    graph = None
    try:
        graph = trace_function(getattr(jit_fn, "fn", jit_fn), args, kwargs, specs_are_tensors=True)
    except Exception:  # noqa: BLE001 - the trace itself failed: no ops to list
        graph = None
    return coverage_fallback(name, reason, graph)
