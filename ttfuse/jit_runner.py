"""The artifacts of a jit compile and how a compiled entry runs: `Lowered`, the memory entry, the runner, disk
load/store of entries, the checks on what a traced function produced.

`runner(fn, out_tree, py_fn)` turns generated code into `(leaves, args, kwargs) -> result`; a graph that writes
into its arguments runs eagerly (`alias_checked`) when one tensor object is passed twice. `DiskEntries` loads a
disk entry (schema check, verify, regenerate code: the entry is data, never code) and stores one.
Invariant: nothing here decides what is compiled; ttfuse/jit.py (the wrapper) does, ttfuse/cache.py stores.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ttfuse import cache
from ttfuse.backend import OBSERVERS, jit_scope
from ttfuse.cache_schema import check_entry
from ttfuse.capture.params import ParamRunner, decode_sources, encode_sources, split_params
from ttfuse.capture.pytree import unflattener
from ttfuse.codegen import Compiled, generate
from ttfuse.errors import TraceError, warn, with_user_frame
from ttfuse.flags import dlog
from ttfuse.ir import Graph
from ttfuse.opdef import OPS
from ttfuse.passes.cost import CostComparison, LazyCost
from ttfuse.passes.pipeline import PIPELINE_VERSION, PassRecord
from ttfuse.passes.select import program_configs
from ttfuse.types import TensorSpec
from ttfuse.verify import verify

__all__ = [
    "DiskEntries",
    "Entry",
    "Lowered",
    "alias_checked",
    "check_outputs",
    "param_run",
    "runner",
    "writes_arguments",
]


# ------------------------------------------------------------------------------------------------ artifacts
@dataclass
class Lowered:
    """A compiled function without running it: IR before/after passes, code, cost report, cache key."""

    name: str
    graph_before: Graph | None
    graph: Graph
    passes: list[PassRecord]
    compiled: Compiled
    # eager (traced) and jit graphs on the target, per-arch totals (a LazyCost); the jit side is one call: without
    # the parameter prologue, which runs once per set of weights (eager runs those ops in every call)
    cost: CostComparison
    key: cache.CacheKey | None
    compile_ms: float = 0.0
    program_configs: list = field(default_factory=list)
    # the target the graph was compiled for: everything read later (cost, coverage) is computed for it
    device_spec: Any = None
    mesh_shape: tuple[int, int] = (1, 1)
    # with implicit parameters (weights read from self / closures / globals, ttfuse/capture/params.py): the code
    # run once per parameter set (None when no op depends only on parameters), and the entry's runner
    prologue: Compiled | None = None
    param_runner: Any = None

    @property
    def ir_before(self) -> str:
        return str(self.graph_before) if self.graph_before is not None else "<loaded from cache: not traced>"

    @property
    def ir(self) -> str:
        return str(self.graph)

    @property
    def source(self) -> str:
        return self.compiled.source

    @property
    def coverage(self):
        """Which traced ops were fused into which kernel, stayed single (and why) or were removed
        (`ttfuse.passes.coverage.CoverageReport`: text via str(), data via .to_dict())."""
        from ttfuse.passes.coverage import coverage_report

        return coverage_report(self)

    def __str__(self) -> str:
        parts = [f"== {self.name}: IR before passes ==", self.ir_before]
        for r in self.passes:
            state = "skipped" if r.skipped else ("changed" if r.changed else "unchanged")
            parts.append(f"== pass {r.name}: {r.ms:.3f} ms, {state} ==")
            if r.changed and r.graph_after is not None:
                parts.append(str(r.graph_after))
        parts += [
            "== IR after passes ==",
            self.ir,
            "== generated code ==",
            self.source.rstrip(),
            "== cost ==",
            str(self.cost),
        ]
        if self.key is not None:
            parts += [f"== cache key {self.key.hex} =="] + [
                f"  {k}: {h[:16]}" for k, h in sorted(self.key.fields.items())
            ]
        return "\n".join(parts)


# ------------------------------------------------------------------------------------------------ running
@dataclass
class Entry:
    """A compiled entry as the memory caches hold it."""

    run: Any  # (leaves, args, kwargs) -> result
    lowered: Lowered | None = None
    key_hex: str | None = None


def runner(fn, out_tree, py_fn=None):
    """(leaves, args, kwargs) -> result for generated code `fn`; with `py_fn` (the graph writes into its
    arguments) a call passing one tensor object twice runs `py_fn` eagerly instead (see alias_checked)."""
    name = getattr(fn, "__name__", "jit")
    if out_tree == "*":

        def run(leaves, args, kwargs):
            if OBSERVERS:  # a profile is active: it marks the ops of generated code (ttfuse/profiler)
                with jit_scope(name):
                    return fn(*leaves)[0]
            return fn(*leaves)[0]
    else:
        unflatten = unflattener(out_tree)

        def run(leaves, args, kwargs):
            if OBSERVERS:
                with jit_scope(name):
                    return unflatten(fn(*leaves))
            return unflatten(fn(*leaves))

    return run if py_fn is None else alias_checked(run, py_fn)


def alias_checked(run, py_fn):
    """A graph that writes into its arguments was traced with every tensor argument its own tensor; called with
    one tensor object in two places, the writes through one name must show through the other, which the
    compiled code does not model: such a call runs eagerly (with a warning, once)."""
    warned = []

    def checked(leaves, args, kwargs):
        if len({id(x) for x in leaves}) == len(leaves):
            return run(leaves, args, kwargs)
        if not warned:
            warned.append(True)
            warn(
                f"ttfuse.jit({getattr(py_fn, '__qualname__', py_fn)}): the same tensor is passed as two arguments "
                "and the function writes into an argument in place; this call runs eagerly",
                cache.CacheWarning,
            )
        return py_fn(*args, **kwargs)

    return checked


def param_run(g: Graph, n_explicit: int, sources, *, fn, short: str, backend: str, stale):
    """(run, main code, prologue code or None, ParamRunner) of a graph with implicit parameters (its inputs after
    the first `n_explicit` are the lifted tensors, reached through `sources`): split into the per-call graph and
    the parameter-only prologue (ttfuse/capture/params.py), both verified and generated."""
    from ttfuse.errors import TtfuseError

    try:
        pre_g, main_g, read = split_params(g, n_explicit)
        for part in (pre_g, main_g):
            if part is not None:
                verify(part)
    except TtfuseError:  # an op whose spec rule refuses its output in DRAM: that work stays per call
        pre_g, main_g, read = split_params(g, n_explicit, demote=False)
    compiled = generate(main_g, name=short, backend=backend)
    prologue = generate(pre_g, name=f"{short}_params", backend=backend) if pre_g is not None else None
    names = list(g.meta.get("input_names") or [])[n_explicit:]
    names += [f"parameter {i}" for i in range(len(names), len(g.inputs) - n_explicit)]
    pr = ParamRunner(
        fn,
        names,
        list(g.inputs[n_explicit:]),
        sources,
        compiled.fn,
        prologue.fn if prologue is not None else None,
        read,
        n_explicit,
        unflattener(g.out_tree),
        stale,
    )
    return (alias_checked(pr, fn) if g.writes else pr), compiled, prologue, pr


# ---------------------------------------------------------------------------------------------- disk cache
@dataclass
class DiskEntries:
    """Disk load/store of one jit function's entries: its name (messages, entries), short name (generated
    code), backend, and the Python function (run eagerly on aliased arguments)."""

    name: str
    short: str
    backend: str
    py_fn: Any
    stale: Any = (
        None  # an entry with implicit parameters calls it when a call no longer fits (the jit's _stale)
    )

    def load(self, key: cache.CacheKey, dspec, mesh, *, max_grid=None) -> Entry | None:
        """The disk entry under `key` as a memory entry (schema-checked, verified, code regenerated), or None
        (a miss, or a bad entry: counted, warned and moved aside by ttfuse/cache.py)."""
        built: dict = {}

        def check(entry: dict) -> None:
            # the entry is data anyone may have edited (the checksum only catches accidents): its form is
            # checked before anything is built from it; any failure here is a counted load_error
            check_entry(entry)
            g = Graph.from_json(entry["graph"])
            verify(g)
            built["graph"] = g
            built["prologue"] = built["pr"] = None
            params = g.meta.get("params")
            if params:
                n = len(g.inputs) - len(params)
                run, compiled, prologue, pr = param_run(
                    g,
                    n,
                    decode_sources(params, self.py_fn),
                    fn=self.py_fn,
                    short=self.short,
                    backend=self.backend,
                    stale=self.stale,
                )
                built.update(compiled=compiled, run=run, prologue=prologue, pr=pr)
            else:
                built["compiled"] = generate(g, name=self.short, backend=self.backend)
                built["run"] = runner(built["compiled"].fn, g.out_tree, self.py_fn if g.writes else None)

        t0 = time.perf_counter()
        e = cache.disk_load(key.hex, check=check)
        if e is None:
            return None
        g, compiled = built["graph"], built["compiled"]
        ms = (time.perf_counter() - t0) * 1e3
        dlog(1, "jit %s: disk hit %s (regenerated code in %.1f ms)", self.name, key.short, ms)
        lowered = Lowered(
            self.name,
            None,
            g,
            [],
            compiled,
            # per call: a parameter prologue runs once per set of weights (as in jit.py)
            LazyCost(
                None,
                built["compiled"].graph if built["prologue"] is not None else g,
                dspec,
                max_grid=max_grid,
                mesh_shape=mesh,
            ),
            key,
            ms,
            program_configs(g),
            dspec,
            tuple(mesh),
            built["prologue"],
            built["pr"],
        )
        return Entry(built["run"], lowered, key.hex)

    def store(self, key: cache.CacheKey, g: Graph, leaves, dspec, ms: float, sources=None) -> None:
        """Write the compiled graph to the disk cache under `key` (data only; see ttfuse/cache.py); `sources`:
        the source paths of its implicit parameters (its last inputs), kept as `graph.meta.params`."""
        if sources:
            g = g.replace(meta={**g.meta, "params": encode_sources(sources)})
        try:
            gj = g.to_json()
        except (TypeError, ValueError) as e:
            dlog(1, "jit %s: graph not storable on disk (%s)", self.name, e)
            return
        specs = [x if isinstance(x, TensorSpec) else x.spec for x in leaves]
        entry = cache.make_entry(
            key,
            function=self.name,
            graph=gj,
            arg_specs=specs,
            device=dspec.name,
            compile_ms=ms,
            pipeline_version=PIPELINE_VERSION,
        )
        cache.disk_store(key.hex, entry)


# ------------------------------------------------------------------------------------------------ checks
def writes_arguments(g: Graph) -> bool:
    """Whether the traced function writes into its arguments (in place, `output_tensor=`)."""
    if getattr(g, "writes", ()):
        return True
    return any(OPS[n.op].traits.inplace is not None for n in g.nodes if n.op in OPS)


def check_outputs(g: Graph, name: str) -> None:
    """A jit function must produce a tensor (or write into an argument): everything else it does in Python
    (print, appending to a list, counting, returning a Python value) runs only when it is traced."""
    if g.outputs or writes_arguments(g):
        return
    tree = g.out_tree
    ret = f"{tree['c']!r} (no tensor)" if isinstance(tree, dict) and "c" in tree else "no tensor"
    raise with_user_frame(
        TraceError(
            f"@ttfuse.jit {name}: the function returned {ret} and writes no tensor argument, so the compiled "
            "function would compute nothing. A jit function runs as its traced graph: Python code in it "
            "(print, appending to a list, counters, a returned Python value) runs once when it is traced, not "
            "on every call.\n  hint: return the tensors it computes; compute Python values outside the function"
        )
    )
