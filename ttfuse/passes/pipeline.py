"""The pass manager: one literal ordered list of passes, run with timing, verification and reproducers.

`run_pipeline(graph, ctx, verify=False)` runs every pass of `PIPELINE` not disabled in `ctx.disabled`, in
order, and returns the final graph plus one `PassRecord` per pass (name, milliseconds, whether the graph
changed; the graphs before/after when `ctx.keep_graphs` or debug level >= 3). With `verify=True` the IR is
verified after each pass. A pass that raises (or breaks the IR) becomes a PassError naming the pass and the
passes run before it; its input graph is saved as JSON (a reproducer: `Graph.from_json` + the pass).

Debug levels: 2 logs each pass's time, 3 the IR before and after each pass that changed it.
Environment: `TTFUSE_VERIFY_PASSES=1` verifies after every pass (the test suite sets it, so no pass can
break the IR unnoticed); `TTFUSE_DISABLE_PASSES=fuse,chunk` disables passes by name (added to
`ctx.disabled`, like `jit(passes=["-fuse", "-chunk"])`; an unknown name is a ValueError).

Passes are transformations except `cost`, an analysis: it returns its input graph and leaves the cost
comparison of the traced and the final graph on `ctx.cost` (computed when first read; see passes/cost.py).

Invariants: passes are pure (they return a new Graph or the same one unchanged, never mutate their input);
`PIPELINE_VERSION` changes whenever a pass's behaviour changes (it is part of every cache key).
Extend: write `def my_pass(graph, ctx) -> Graph` with a docstring giving pre/postconditions, add a line to
`PIPELINE` with a comment, bump `PIPELINE_VERSION`.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ttfuse.errors import PassError
from ttfuse.ir import Graph, dce
from ttfuse.opdef import CostCtx, OpCost, device_spec_context
from ttfuse.passes.context import PassContext, PassOptions, target_device  # noqa: F401  (re-exported)


@dataclass
class PassRecord:
    name: str
    ms: float
    changed: bool
    skipped: bool = False
    graph_before: Graph | None = field(default=None, repr=False)
    graph_after: Graph | None = field(default=None, repr=False)


# 7: cleanup keeps copies of buffers written in place; 6: conv2d placement and automatic DRAM slicing
PIPELINE_VERSION = 7

from ttfuse.passes.chunk import chunk  # noqa: E402
from ttfuse.passes.cleanup import cleanup  # noqa: E402  (pass modules import this one lazily)
from ttfuse.passes.cost import cost  # noqa: E402
from ttfuse.passes.fuse import fuse  # noqa: E402
from ttfuse.passes.place_memory import place_memory  # noqa: E402
from ttfuse.passes.select import select_configs  # noqa: E402

PIPELINE: list[tuple[str, Callable[[Graph, PassContext], Graph]]] = [
    ("dce", dce),  # cleanup: drop nodes no output depends on (ttfuse/ir/analysis.py; write-backs are outputs)
    ("cleanup", cleanup),  # no-op casts/copies, layout round trips, scalar folding, CSE (passes/cleanup.py)
    ("fuse", fuse),  # every fusion decision: blocks, SDPA, norm+residual, epilogues, horizontal, eltwise
    ("chunk", chunk),  # split regions whose working set overflows L1/DRAM into row chunks (passes/chunk.py)
    ("select_configs", select_configs),  # program + compute kernel configs by TT's rules (passes/select.py)
    ("place_memory", place_memory),  # intermediates to L1 when they fit beside live ones (place_memory.py)
    ("cost", cost),  # analysis: eager vs JIT work and predicted time into ctx.cost, lazily (passes/cost.py)
]


# ---------------------------------------------------------------------------------------------- driver
def run_pipeline(
    graph: Graph, ctx: PassContext, *, verify: bool = False, pipeline: list | None = None
) -> tuple[Graph, list[PassRecord]]:
    """Run the passes in order (see the module docstring); returns (final graph, records). Spec and cost rules
    called by the passes see `ctx.device_spec` and `ctx.mesh_shape` as the device, whatever the caller's (the
    one `target_device` of a compile). `ctx.graph_in` is set to `graph` (the cost pass compares against it)."""
    ctx.graph_in = graph
    with target_device(ctx):
        return _run_pipeline(graph, ctx, verify, pipeline)


def _run_pipeline(graph: Graph, ctx: PassContext, verify: bool, pipeline: list | None):
    from ttfuse.flags import dlog, logger
    from ttfuse.verify import verify as verify_graph

    records: list[PassRecord] = []
    done: list[str] = []
    keep = ctx.keep_graphs or ctx.debug >= 3
    passes = pipeline if pipeline is not None else PIPELINE
    verify = verify or verify_passes_env()
    disabled = ctx.disabled | env_disabled_passes([n for n, _ in PIPELINE] + [n for n, _ in passes])
    for name, fn in passes:
        if name in disabled:
            records.append(PassRecord(name, 0.0, False, skipped=True))
            continue
        t0 = time.perf_counter()
        try:
            out = fn(graph, ctx)
            if verify:
                verify_graph(out)
        except Exception as e:
            repro = _save_reproducer(graph, name)
            before = ", ".join(done) or "none"
            msg = (
                f"pass {name!r} failed: {type(e).__name__}: {e}\n  passes run before it: {before}\n"
                f"  input IR saved to {repro} (reload with ttfuse.ir.Graph.from_json)"
            )
            raise PassError(msg) from e
        ms = (time.perf_counter() - t0) * 1e3
        changed = out is not graph and out != graph
        records.append(
            PassRecord(
                name, ms, changed, graph_before=graph if keep else None, graph_after=out if keep else None
            )
        )
        done.append(name)
        if ctx.debug >= 2:
            dlog(2, "pass %-16s %8.3f ms %s", name, ms, "changed" if changed else "unchanged")
        if ctx.debug >= 3 and changed:
            logger.info("IR before %s:\n%s", name, graph)
            logger.info("IR after %s:\n%s", name, out)
        graph = out
    return graph, records


def verify_passes_env() -> bool:
    """Whether `TTFUSE_VERIFY_PASSES=1` asks for verification after every pass."""
    return os.environ.get("TTFUSE_VERIFY_PASSES", "") == "1"


def env_disabled_passes(known: list[str] | None = None) -> frozenset:
    """Pass names disabled by `TTFUSE_DISABLE_PASSES` (comma separated); ValueError for an unknown name."""
    raw = os.environ.get("TTFUSE_DISABLE_PASSES", "")
    names = frozenset(x.strip() for x in raw.split(",") if x.strip())
    if not names:
        return names
    known = known if known is not None else [n for n, _ in PIPELINE]
    bad = sorted(names - set(known))
    if bad:
        raise ValueError(
            f"TTFUSE_DISABLE_PASSES names unknown pass(es) {bad}; the pipeline has {list(known)}"
        )
    return names


def _save_reproducer(graph: Graph, pass_name: str) -> str:
    try:
        d = os.path.join(tempfile.gettempdir(), "ttfuse-repro")
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, f"{pass_name}-{graph.structural_hash()[:12]}.json")
        with open(path, "w") as f:
            json.dump(graph.to_json(), f, indent=1)
        return path
    except Exception as e:  # noqa: BLE001 - the reproducer is best effort
        return f"<not saved: {e}>"


# ------------------------------------------------------------------------------------------------ cost
@dataclass
class CostReport:
    """Per-node and total work of a graph by the ops' cost rules (default_cost where an op has none)."""

    nodes: list[tuple[int, str, OpCost]]
    total: OpCost
    device: str | None = None

    def __str__(self) -> str:
        lines = [
            f"cost on {self.device or 'unknown device'}:",
            f"  {'node':>6}  {'op':<40} {'MFLOP':>10} {'DRAM KB':>10} {'L1 KB':>10} {'launch':>6}",
        ]
        for nid, op, c in self.nodes:
            lines.append(
                f"  {'%' + str(nid):>6}  {op:<40} {c.flops / 1e6:10.3f} {c.dram_bytes / 1024:10.1f} "
                f"{c.l1_bytes / 1024:10.1f} {c.launches:6d}"
            )
        t = self.total
        lines.append(
            f"  {'total':>6}  {'':<40} {t.flops / 1e6:10.3f} {t.dram_bytes / 1024:10.1f} "
            f"{t.l1_bytes / 1024:10.1f} {t.launches:6d}"
        )
        return "\n".join(lines)


def cost_report(graph: Graph, device_spec=None, mesh_shape: tuple[int, int] | None = None):
    """Cost of every node (OpDef cost rule, else ttfuse.ops.common.default_cost) and the total; with a device,
    the cost model's `GraphCost` (ttfuse/passes/cost.py: also predicted times), else a basic CostReport whose
    rules (and the spec rules they call) see the graph's own device (`meta`), not the thread's current one."""
    if device_spec is not None:
        from ttfuse.passes.cost import graph_cost

        return graph_cost(graph, device_spec, mesh_shape=mesh_shape)
    from ttfuse.ir import graph_device

    dev, mesh = graph_device(graph)
    with device_spec_context(dev, mesh if mesh_shape is None else tuple(mesh_shape)):
        return _basic_cost_report(graph)


def _basic_cost_report(graph: Graph) -> CostReport:
    from ttfuse.ir import graph_env, interpret, spec_args
    from ttfuse.ops.common import default_cost

    device_spec = None  # work only: no device figures in CostCtx
    rows = []
    total = OpCost(launches=0)

    def visit(n, in_specs_list: list) -> tuple:
        op = n.opdef
        args = spec_args(n, in_specs_list)
        tensor_params = {k for k, v in n.attrs if _has_marker(v)}
        in_specs = {k: args[k] for k in tensor_params}
        ctx = CostCtx(op, in_specs, list(n.outs), args, device_spec)
        c = (op.cost_rule or default_cost)(ctx)
        rows.append((n.id, n.op, c))
        total.accumulate(c)
        return n.outs

    interpret(graph.nodes, visit, graph_env(graph))
    return CostReport(rows, total, getattr(device_spec, "name", None))


def _has_marker(v) -> bool:
    from ttfuse.ir import attr_tensor_positions

    return bool(attr_tensor_positions(v))
