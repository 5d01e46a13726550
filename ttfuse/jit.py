"""`@ttfuse.jit`: capture a TTNN function into IR, optimise it, generate code, cache the result.

    @ttfuse.jit                                  # or @ttfuse.jit(max_grid=(7, 7), math_fidelity=...)
    def block(x, w, b, *, act="silu"): ...
    y = block(x, w, b)                           # traces + compiles once per key, then runs generated code
    lowered = block.lower(x_spec, w_spec, b_spec)  # IR before/after passes, source, cost, key; runs nothing

Call path. Hit: check the function's guard (only when its closure, defaults or loaded globals hold something
that can change: ttfuse/identity.py), flatten the arguments into (tensor leaves, fast key) in one walk (each
tensor's TensorSpec and device, static leaves with their types, container markers), look the key up in the
MemoryLRU of the function's current identity, run the entry. A failed guard recomputes the identity (the
closure / global state by content) and switches to that identity's LRU: a state seen before hits in memory.
Miss: build the full CacheKey (function identity, input specs, statics, tree, options, device, ttfuse source,
pipeline version), look it up in this function's memory by hex, then on disk (the entry passes the schema of
ttfuse/cache_schema.py, its graph is verified and its code regenerated), else trace -> passes -> verify ->
codegen -> store on disk. A function whose identity or static arguments cannot be keyed by content is compiled
per process only, with one CacheWarning naming why.
`enable_cache=False` compiles on every call (counted as bypass). Calls made while another jit function is
being traced are inlined into that trace.

Options (those passes read reach them as the typed `PassOptions` of `ttfuse.passes.context.pass_options`): `max_grid=(x_end, y_end)` (7,7 means 8x8),
`math_fidelity`, `memory_config` (output memory config), `passes` (None: all; a list of names: only those;
names prefixed '-' are disabled; [] runs none), `backend` ('sim' | 'ttnn', default $TTFUSE_BACKEND or sim),
`debug` (True = debug level 3 while compiling, or a level 0-4), `compile_only` (a call returns the Lowered
artifact), `fallback` (run eagerly when tracing/compiling fails; `fallback_used`, a warning once),
`graph_capture` (accepted for ttnn-jit compatibility; ttfuse always captures through the facade),
`l1_budget` (bytes of L1 per chip the chunk and place_memory passes may fill with tensors; default: the
device's L1 minus the circular-buffer reserve), `dram_budget` (the same for DRAM, chunk pass; default: the
device's DRAM), `fp32_dest_acc_en` (True/False forces fp32 accumulation on/off in the compute kernel configs
select_configs chooses; None: by dtype). `TTFUSE_DISABLE_PASSES=a,b` disables passes by name.
The IR is verified after passes on every compile, and after each pass with TTFUSE_DEBUG>=1 or TTFUSE_VERIFY=1.

Implicit parameters: device tensors the function reads from `self`, closures or globals are lifted to graph
inputs with source paths (ttfuse/capture/params.py); keys describe them by spec, so one entry serves every layer
of a shape, and its `ParamRunner` reads each call's tensors and runs the parameter-only prologue once per
parameter set and version. A disk entry keeps the sources as data (`graph.meta.params`).

Invariants: what the function reads besides its arguments (closure cells, defaults, loaded globals, and what
they hold) is keyed by content and re-checked on every call by identity, never by `==`. Static arguments are
keyed by value per call (lists, dicts and sets by content); another object (a method's `self`) is recognised
by its hash (usually identity; an unhashable one by identity, with a warning), keyed by content when compiled,
and its entry guards what it holds (`identity.state_guard`): a changed attribute re-keys the call. The hit path allocates two lists and a tuple, runs
the guard (a flat `and` of `is` tests, none when nothing can change), does no hashing of big structures, no
inspect calls, and reads no flag: `TTFUSE_DEBUG>=1` logs every hit (memory and disk), but the hit path only tests
`flags.DEBUG_WATCH[0]`, a bool that is False while no debug level >= 1 is in effect anywhere.
"""

from __future__ import annotations

import functools
import inspect
import os
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, fields
from typing import Any

from torch.overrides import TorchFunctionMode

from ttfuse import cache
from ttfuse import metal_trace as _metal_trace
from ttfuse.backend import backend_names, current_backend_name
from ttfuse.capture.params import ParamIndex
from ttfuse.capture.pytree import ByIdentity, describe, flatten_key, lookup
from ttfuse.capture.trace import GraphTrace, input_names, trace
from ttfuse.codegen import generate
from ttfuse.configs import MathFidelity
from ttfuse.errors import ArgumentError, TtfuseError, warn
from ttfuse.flags import DEBUG_WATCH, dlog, flags, get_flag, logger
from ttfuse.identity import (
    Identity,
    Unkeyable,
    changed_reads,
    find_arg,
    function_identity,
    state_guard,
    static_canon,
    static_paths,
    type_name,
)
from ttfuse.jit_runner import DiskEntries, Entry, Lowered, check_outputs, param_run, runner
from ttfuse.jit_runner import runner as _runner  # noqa: F401  (bench/ imports it from here)
from ttfuse.opdef import _state, device_spec_context
from ttfuse.passes.context import pass_options
from ttfuse.passes.cost import LazyCost
from ttfuse.passes.pipeline import (
    PIPELINE,
    PIPELINE_VERSION,
    PassContext,
    env_disabled_passes,
    run_pipeline,
)
from ttfuse.passes.select import program_configs
from ttfuse.tensor import Tensor
from ttfuse.types import MemoryConfig, TensorSpec
from ttfuse.verify import verify

__all__ = ["jit", "JitFunction", "Lowered"]

_OPTION_NAMES = (
    "max_grid",
    "enable_cache",
    "graph_capture",
    "debug",
    "compile_only",
    "math_fidelity",
    "memory_config",
    "fallback",
    "passes",
    "backend",
    "l1_budget",
    "dram_budget",
    "fp32_dest_acc_en",
)
# options that change the compiled result (part of the cache key)
_KEYED_OPTIONS = (
    "max_grid",
    "math_fidelity",
    "memory_config",
    "passes",
    "backend",
    "graph_capture",
    "l1_budget",
    "dram_budget",
    "fp32_dest_acc_en",
)


@dataclass(frozen=True)
class JitOptions:
    max_grid: tuple[int, int] | None = None
    enable_cache: bool = True
    graph_capture: bool = True
    debug: int = 0
    compile_only: bool = False
    math_fidelity: MathFidelity | None = None
    memory_config: MemoryConfig | None = None
    fallback: bool = False
    passes: tuple[str, ...] | None = None
    backend: str = "sim"
    l1_budget: int | None = None  # bytes of L1 tensors per chip the chunk/place passes plan for (tests)
    dram_budget: int | None = None  # bytes of DRAM tensors per chip the chunk pass plans for (tests)
    fp32_dest_acc_en: bool | None = None  # force fp32 accumulation on/off in chosen compute kernel configs

    def key_json(self) -> dict:
        return {k: _opt_json(getattr(self, k)) for k in _KEYED_OPTIONS}

    def disabled_passes(self) -> frozenset:
        names = [n for n, _ in PIPELINE]
        env = env_disabled_passes(names)  # TTFUSE_DISABLE_PASSES, read when compiling
        if self.passes is None:
            return env
        if self.passes and all(p.startswith("-") for p in self.passes):
            return frozenset(p[1:] for p in self.passes) | env
        return frozenset(n for n in names if n not in self.passes) | env


def _opt_json(v: Any) -> Any:
    if isinstance(v, MathFidelity):
        return v.name
    if isinstance(v, MemoryConfig):
        from ttfuse.types import to_json_value

        return to_json_value(v)
    return list(v) if isinstance(v, tuple) else v


def _make_options(
    *,
    max_grid,
    enable_cache,
    graph_capture,
    debug,
    compile_only,
    math_fidelity,
    memory_config,
    fallback,
    passes,
    backend,
    l1_budget,
    dram_budget,
    fp32_dest_acc_en,
) -> JitOptions:
    """Validate jit()'s keyword arguments (their defaults are jit's) into a JitOptions."""
    if max_grid is not None:
        if (
            not isinstance(max_grid, tuple | list)
            or len(max_grid) != 2
            or not all(isinstance(x, int) and x >= 0 for x in max_grid)
        ):
            raise ValueError(
                f"ttfuse.jit: max_grid must be an end coordinate (x, y) of ints >= 0, e.g. (7, 7) "
                f"for an 8x8 grid; got {max_grid!r}"
            )
        max_grid = (int(max_grid[0]), int(max_grid[1]))
    if isinstance(math_fidelity, str):
        try:
            math_fidelity = MathFidelity[math_fidelity]
        except KeyError:
            raise ValueError(
                f"ttfuse.jit: unknown math_fidelity {math_fidelity!r}; "
                f"known: {[m.name for m in MathFidelity]}"
            ) from None
    if math_fidelity is not None and not isinstance(math_fidelity, MathFidelity):
        raise ValueError(f"ttfuse.jit: math_fidelity must be a ttnn.MathFidelity, got {math_fidelity!r}")
    if memory_config is not None and not isinstance(memory_config, MemoryConfig):
        raise ValueError(f"ttfuse.jit: memory_config must be a ttnn.MemoryConfig, got {memory_config!r}")
    if passes is not None:
        if passes is False:
            passes = ()
        if isinstance(passes, str):
            passes = (passes,)
        passes = tuple(passes)
        known = {n for n, _ in PIPELINE}
        bad = [p for p in passes if p.lstrip("-") not in known]
        if bad:
            raise ValueError(f"ttfuse.jit: unknown pass(es) {bad}; the pipeline has {sorted(known)}")
        if any(p.startswith("-") for p in passes) and not all(p.startswith("-") for p in passes):
            raise ValueError(
                "ttfuse.jit: passes= lists either passes to run or passes to disable ('-name'), not both"
            )
    backend = backend or current_backend_name()
    if backend not in backend_names():
        known = ", ".join(repr(n) for n in backend_names())
        raise ValueError(f"ttfuse.jit: unknown backend {backend!r}; known: {known}")
    level = 3 if debug is True else int(debug or 0)
    if l1_budget is not None and (
        isinstance(l1_budget, bool) or not isinstance(l1_budget, int) or l1_budget <= 0
    ):
        raise ValueError(f"ttfuse.jit: l1_budget must be a positive number of bytes, got {l1_budget!r}")
    if dram_budget is not None and (
        isinstance(dram_budget, bool) or not isinstance(dram_budget, int) or dram_budget <= 0
    ):
        raise ValueError(f"ttfuse.jit: dram_budget must be a positive number of bytes, got {dram_budget!r}")
    if fp32_dest_acc_en is not None and not isinstance(fp32_dest_acc_en, bool):
        raise ValueError(
            f"ttfuse.jit: fp32_dest_acc_en must be True, False or None, got {fp32_dest_acc_en!r}"
        )
    return JitOptions(
        max_grid,
        bool(enable_cache),
        bool(graph_capture),
        level,
        bool(compile_only),
        math_fidelity,
        memory_config,
        bool(fallback),
        passes,
        backend,
        l1_budget,
        dram_budget,
        fp32_dest_acc_en,
    )


def jit(
    fn=None,
    *,
    max_grid=None,
    enable_cache=True,
    graph_capture=True,
    debug=False,
    compile_only=False,
    math_fidelity=None,
    memory_config=None,
    fallback=False,
    passes=None,
    backend=None,
    l1_budget=None,
    dram_budget=None,
    fp32_dest_acc_en=None,
):
    """Decorator: `@ttfuse.jit` or `@ttfuse.jit(max_grid=(7, 7), ...)`. See the module docstring."""
    # NOTE: jit's keywords are JitOptions' fields, one for one; this reads them before any other local.
    args = locals()
    opts = _make_options(**{f.name: args[f.name] for f in fields(JitOptions)})
    if fn is None:
        return lambda f: JitFunction(f, opts)
    if not callable(fn):
        raise TypeError(f"ttfuse.jit: expected a function, got {type(fn).__name__}")
    return JitFunction(fn, opts)


# -------------------------------------------------------------------------------------------- the wrapper
class JitFunction:
    """A jit-compiled function. Attributes: `trace_count`, `fallback_used`, `fallback_reason`, `backend`,
    `options`, `num_entries`, `last_key`; methods `lower(*args, **kw)`, `clear_cache()`."""

    def __init__(self, fn, options: JitOptions):
        if isinstance(fn, staticmethod | classmethod):
            raise TypeError("ttfuse.jit: put @ttfuse.jit below @staticmethod/@classmethod")
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.options = options
        self.backend = options.backend
        self.trace_count = 0
        self.fallback_used = False
        self.fallback_reason: str | None = None
        self.last_key: cache.CacheKey | None = None
        self._name = f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', type(fn).__qualname__)}"
        self._short = getattr(fn, "__name__", type(fn).__name__)
        self._qual = getattr(fn, "__qualname__", self._short)
        self._disk = DiskEntries(self._name, self._short, self.backend, fn)
        self._lru = cache.MemoryLRU(64) if options.enable_cache and not options.compile_only else None
        self._by_hex = cache.MemoryLRU(64)  # full key hex -> Entry (a new device object, same compile)
        self._lock = threading.RLock()
        # the function's identity (ttfuse/identity.py) and its guard, checked on every call: None until the
        # first compile, and when the function reads nothing that can change (closures, globals, defaults)
        self._ident: Identity | None = None
        self._guard = None
        # memory token of each identity seen -> (its entries, the identity)
        self._lrus: OrderedDict[str, tuple[cache.MemoryLRU, Identity]] = OrderedDict()
        self._source: tuple[Any, str | None] | None = None  # (code object, source text): read once
        self._ident_changes = 0
        self._warned: set[str] = set()
        self._unkeyable_static: str | None = None  # why the last key had no disk form (not the function)
        self._disk.stale = self._stale  # entries with implicit parameters re-key a call that no longer fits
        # a trace called torch (read the values of a torch tensor, e.g. one in `self.state_dict`): from then on
        # torch tensors in static arguments are unkeyable again (by identity, memory only), not keyed by shape
        self._reads_torch = False
        self._restaling = False

    # ---------------------------------------------------------------------------------------- hot path
    def __call__(self, *args, **kwargs):
        stack = _state.stack
        if stack and type(stack[-1]) is GraphTrace:  # called while tracing another jit function: inline
            return self.fn(*args, **kwargs)
        if _metal_trace.ACTIVE:  # a device captures a metal trace: record this call (ttfuse/metal_trace.py)
            return _metal_trace.call(self._call, args, kwargs)
        return self._call(*args, **kwargs)

    def _call(self, *args, **kwargs):
        lru = self._lru
        if lru is None:
            return self._uncached(args, kwargs)
        guard = self._guard
        if guard is not None and not guard():  # a closure / global / default changed: re-key
            lru = self._reguard()
        run, fast, leaves = lookup(lru, args, kwargs)
        if run is not None:
            cache.counters.hit += 1
            if DEBUG_WATCH[0]:  # NOTE: False unless some debug level >= 1 may be on (ttfuse/flags.py)
                self._log_hit(leaves)
            return run(leaves, args, kwargs)
        return self._miss(args, kwargs, leaves, fast)

    def _log_hit(self, leaves) -> None:
        """TTFUSE_DEBUG>=1: a memory hit of the fast path, with the input specs it was keyed by."""
        if get_flag("debug") >= 1:
            specs = ", ".join(str(x.spec) for x in leaves if isinstance(x, Tensor)) or "no tensors"
            logger.info("jit %s: memory hit (%s)", self._name, specs)

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        return _BoundJit(self, obj)

    @property
    def num_entries(self) -> int:
        """Compiled entries in memory for the current state of the function's closure and globals: distinct
        compiles, not fast-path slots (a method's `self` is a static argument keyed by identity, so two layers of
        one shape hold two slots and one compiled entry, as ttnn-jit's JitFunction.num_entries counts its cache
        of compiled programs). Calls that fell back to eager are no entry."""
        if self._lru is None:
            return 0
        runs = {id(r) for r in map(_compiled_of, self._lru.values()) if r is not None}
        return len(runs)

    def clear_cache(self) -> None:
        """Forget this function's compiled entries in memory (the disk store is untouched)."""
        if self._lru is not None:
            self._lru.clear()
        for lru, _ident in self._lrus.values():
            lru.clear()
        self._by_hex.clear()

    def __repr__(self) -> str:
        return f"<ttfuse.jit {self._name} entries={self.num_entries} traces={self.trace_count}>"

    # ---------------------------------------------------------------------------------------- slow path
    def _miss(self, args, kwargs, leaves, fast):
        with self._lock:
            run = self._lru.get(fast)
            if run is not None:
                cache.counters.hit += 1  # another thread compiled it meanwhile
                self._log_hit(leaves)
            else:
                if any(type(t) is ByIdentity for t in fast):
                    self._warn_unhashable(args, kwargs, fast)
                run = self._guarded(self._build(args, kwargs), args, kwargs)
                self._lru.put(fast, run)  # NOTE: after _build, which may have moved to another identity's LRU
        return run(leaves, args, kwargs)

    def _guarded(self, run, args, kwargs):
        """`run` checking, on every call, that the objects among the static arguments (a method's `self` and what
        it holds) still hold what they held when this entry was keyed (ttfuse/identity.py `state_guard`): a
        changed attribute re-keys the call by content (a retrace, or another entry's hit)."""
        _tree, statics, _leaves, _paths = describe(args, kwargs)
        guard = state_guard(statics)
        if guard is None:
            return run

        def guarded(leaves, a, k):
            if guard():
                return run(leaves, a, k)
            return self._stale(a, k)

        guarded._ttfuse_compiled = _compiled_of(run)  # what num_entries counts: one per compile, not per slot
        return guarded

    def _stale(self, args, kwargs):
        """A call whose entry no longer fits what it reads (a changed attribute of `self`, a parameter now
        reached differently): key it again by content, replace its memory entry, run."""
        with self._lock:
            if self._restaling:
                raise TtfuseError(f"ttfuse.jit({self._name}): the recompiled entry does not fit its own call")
            self._restaling = True
            try:
                _run, fast, leaves = lookup(self._lru, args, kwargs)
                dlog(1, "jit %s: an argument's state changed since it was keyed; re-keying", self._name)
                run = self._guarded(self._build(args, kwargs), args, kwargs)
                self._lru.put(fast, run)
            finally:
                self._restaling = False
        return run(leaves, args, kwargs)

    def _uncached(self, args, kwargs):
        if self.options.compile_only:
            return self._compile(args, kwargs, use_cache=False).lowered
        cache.counters.bypass += 1
        with self._lock:
            run = self._build(args, kwargs, use_cache=False)
        leaves: list = []
        flatten_key(args, kwargs, leaves, [])
        return run(leaves, args, kwargs)

    def _build(self, args, kwargs, use_cache: bool = True):
        """The runner for this call's key: compiled (memory / disk / fresh), or eager when falling back."""
        try:
            return self._compile(args, kwargs, use_cache=use_cache).run
        except Exception as e:
            if not self.options.fallback or isinstance(
                e, ArgumentError
            ):  # a bad call is not a compile failure
                raise
            reason = f"{type(e).__name__}: {e}"
            first = not self.fallback_used
            self.fallback_used = True
            self.fallback_reason = reason
            if first:
                warn(
                    f"ttfuse.jit({self._name}): compiling failed, running eagerly instead: {reason}",
                    RuntimeWarning,
                )
            dlog(1, "jit %s: fallback to eager (%s)", self._name, reason)
            fn = self.fn

            def eager(leaves, a, k):
                return fn(*a, **k)

            eager._ttfuse_compiled = None  # not a compiled entry (num_entries)
            return eager

    def lower(self, *args, **kwargs) -> Lowered:
        """Trace and compile for these arguments (tensors or TensorSpecs) without running; always traces."""
        with self._lock:
            return self._compile(
                args, kwargs, use_cache=False, specs_are_tensors=True, keep_graphs=True
            ).lowered

    # ------------------------------------------------------------------------------------------ compile
    def _compile(
        self, args, kwargs, *, use_cache: bool, specs_are_tensors: bool = False, keep_graphs: bool = False
    ) -> Entry:
        level = self.options.debug
        if level:
            with flags(debug=max(level, get_flag("debug"))):
                return self._compile_inner(args, kwargs, use_cache, specs_are_tensors, keep_graphs)
        return self._compile_inner(args, kwargs, use_cache, specs_are_tensors, keep_graphs)

    def _compile_inner(self, args, kwargs, use_cache, specs_are_tensors, keep_graphs) -> Entry:
        t0 = time.perf_counter()
        tree, statics, leaves, _paths = describe(args, kwargs, specs_are_tensors=specs_are_tensors)
        device = next((x._device for x in leaves if isinstance(x, Tensor) and x._device is not None), None)
        if device is not None:
            dspec, mesh = device.spec, (device.shape.rows, device.shape.cols)
        else:
            from ttfuse.device import device_spec

            dspec, mesh = device_spec(), (1, 1)
        # everything below (passes, code generation, a disk entry's regeneration) checks ops against this device,
        # whatever device the caller's last eager op ran on
        # the tensors the function may read from self, closures or globals (walked when first needed)
        params = ParamIndex(
            self.fn, args, kwargs, input_names(self.fn, [f"args[{i}]" for i in range(len(args))])
        )
        with device_spec_context(dspec, mesh):
            key = self._key(tree, statics, leaves, dspec, mesh, params)
            self.last_key = key
            disk = use_cache and key is not None and cache.disk_enabled()
            if use_cache and key is not None:
                hit = self._by_hex.get(key.hex)
                if hit is not None:
                    cache.counters.hit += 1
                    dlog(1, "jit %s: memory hit %s (new fast key)", self._name, key.short)
                    return hit
                if disk:
                    entry = self._disk.load(key, dspec, mesh, max_grid=self.options.max_grid)
                    if entry is not None:
                        cache.counters.hit += 1
                        self._by_hex.put(key.hex, entry)
                        return entry
                cache.explain_miss(self._name, key, lambda: self._key_names(tree, _paths))

            # trace -> passes -> verify -> codegen
            self.trace_count += 1
            with _TorchCalls() as torch_calls:
                g0 = trace(
                    self.fn,
                    args,
                    kwargs,
                    name=self._qual,
                    device_spec=dspec,
                    mesh_shape=mesh,
                    specs_are_tensors=specs_are_tensors,
                    params=params,
                )
            check_outputs(g0, self._qual)
            if torch_calls.seen is not None and not self._reads_torch:
                # the key described torch tensors by shape only: not this entry's (it may hold their values)
                self._reads_torch = True
                dlog(
                    1,
                    "jit %s: the trace called torch (%s): torch tensors keyed by identity",
                    self._name,
                    torch_calls.seen,
                )
                key = self._key(tree, statics, leaves, dspec, mesh, params)
                self.last_key = key
                disk = use_cache and key is not None and cache.disk_enabled()
            if params.lifted:
                dlog(
                    1, "jit %s: %d implicit parameter(s): %s", self._name, len(params.lifted), params.names()
                )
            if self._guard is not None and not self._guard():
                # the trace changed what the function reads (a counter in a closure object): the calls that
                # follow find the state as the trace left it
                self._identity()
            self._warn_after_compile(use_cache)
            ctx = PassContext(
                dspec,
                pass_options(self.options),
                self.options.disabled_passes(),
                mesh,
                debug=get_flag("debug"),
                keep_graphs=keep_graphs,
            )
            verify_each = get_flag("debug") >= 1 or os.environ.get("TTFUSE_VERIFY") == "1"
            g, records = run_pipeline(g0, ctx, verify=verify_each)
            verify(g)
            prologue = pr = None
            if params.lifted:
                run, compiled, prologue, pr = param_run(
                    g,
                    len(leaves),
                    params.sources(),
                    fn=self.fn,
                    short=self._short,
                    backend=self.backend,
                    stale=self._stale,
                )
            else:
                compiled = generate(g, name=self._short, backend=self.backend)
            ms = (time.perf_counter() - t0) * 1e3
            if get_flag("debug") >= 4:
                logger.info("generated code for %s:\n%s", self._name, compiled.source)
            lowered = Lowered(
                self._name,
                g0,
                g,
                records,
                compiled,
                # the cost pass's comparison; built here when the pass was disabled
                ctx.cost or LazyCost(g0, g, dspec, max_grid=self.options.max_grid, mesh_shape=mesh),
                key,
                ms,
                program_configs(g),
                dspec,
                tuple(mesh),
            )
            if params.lifted:
                lowered.prologue, lowered.param_runner = prologue, pr
                if prologue is not None:  # the JIT's cost per call: the prologue runs once per set of weights
                    lowered.cost = LazyCost(
                        g0, compiled.graph, dspec, max_grid=self.options.max_grid, mesh_shape=mesh
                    )
                entry = Entry(run, lowered, key.hex if key else None)
            else:
                entry = Entry(
                    runner(compiled.fn, g.out_tree, self.fn if g.writes else None),
                    lowered,
                    key.hex if key else None,
                )
            if use_cache:
                cache.counters.miss += 1
                dlog(
                    1,
                    "jit %s: compiled %s in %.1f ms (%d nodes)",
                    self._name,
                    key.short if key else "-",
                    ms,
                    len(g.nodes),
                )
                if key is not None:
                    self._by_hex.put(key.hex, entry)
                    if disk:
                        self._disk.store(key, g, leaves, dspec, ms, params.sources())
            return entry

    # ------------------------------------------------------------------------------------------------ keys
    def _key_names(self, tree: dict, paths: list[str]) -> dict[str, list[str]]:
        """The names of the key's tensor inputs and static values (`x`, `params['w']`, `scale`), for the
        explanation of a cache miss."""
        statics = [re.sub(r"^argument '(.*)'$", r"\1", p) for p in static_paths(tree, self.fn)]
        return {"inputs": input_names(self.fn, list(paths)), "static": statics}

    def _key(self, tree, statics, leaves, dspec, mesh, params=None) -> cache.CacheKey | None:
        """The full cache key, or None when the function or a static argument cannot be keyed by content
        (memory only; the jit warns once after compiling, naming the value)."""
        ident = self._identity()
        self._unkeyable_static = None
        if ident.canon is None:
            dlog(1, "jit %s: not cached on disk: %s", self._name, ident.problems[0])
            return None
        try:
            meta = not self._reads_torch
            static = [
                static_canon(v, w, torch_meta=meta) for v, w in zip(statics, static_paths(tree, self.fn))
            ]
        except Unkeyable as e:
            dlog(1, "jit %s: not cached on disk: %s", self._name, e)
            self._unkeyable_static = str(e)
            return None
        specs = [x if isinstance(x, TensorSpec) else x.spec for x in leaves]
        fields = {
            # NOTE: the content's sha256 (ttfuse/identity.py canonicalises it); nested configs in globals go
            # deeper than make_key's own walk allows
            "function": {"qualname": ident.canon["qualname"], "content": ident.token},
            "inputs": specs,
            "static": static,
            "tree": tree,
            "options": self.options.key_json(),
            "device": {"spec": list(dspec.key_fields()), "mesh": list(mesh)},
            "pipeline": {
                "version": PIPELINE_VERSION,
                "passes": [n for n, _ in PIPELINE],
                "disabled": sorted(self.options.disabled_passes()),
            },
        }
        aliases = params.aliases() if params is not None else None
        if aliases:
            # which reachable tensors are one object: the compiled code reads each parameter through one path
            fields["function"]["param_aliases"] = aliases
        try:
            return cache.make_key(fields)
        except TtfuseError as e:
            dlog(1, "jit %s: not cached on disk: %s", self._name, e)
            self._unkeyable_static = str(e)
            return None

    # -------------------------------------------------------------------------------------- identity, guards
    def _identity(self) -> Identity:
        """Recompute the function's identity (what its closure, globals and defaults hold now) and make it the
        current one: its guard is checked on every call, its memory LRU serves the hits."""
        fn = self.fn
        code = getattr(fn, "__code__", None)
        if self._source is None or self._source[0] is not code:
            try:
                src = inspect.getsource(fn)
            except (OSError, TypeError):
                src = None
            self._source = (code, src)
        ident = function_identity(fn, self._source[1])
        self._set_identity(ident)
        return ident

    def _set_identity(self, ident: Identity) -> None:
        old, self._ident = self._ident, ident
        self._guard = ident.guard
        tok = ident.memory_token
        if self._lru is None or (old is not None and tok is not None and tok == old.memory_token):
            return  # uncached mode, or the same content (an equal value rebound): the same entries
        held = self._lrus.get(tok) if tok is not None else None
        if old is None:
            lru = self._lru  # the first identity: the LRU created with the function (empty until now)
        elif held is not None:
            lru = held[0]  # a state seen before: its entries
        else:
            # NOTE: a state never seen, or one that cannot be told apart (the walk stopped at its budget)
            lru = cache.MemoryLRU(64)
            if old.token is not None and ident.token is not None:
                self._ident_changes += 1
                if self._ident_changes == 8:
                    self._warn_once(
                        "changes",
                        f"ttfuse.jit({self._name}): {changed_reads(old.canon, ident.canon)} changed between calls "
                        "8 times; each new value is keyed (and compiled once) separately. Pass values that "
                        "change between calls as arguments",
                    )
        if tok is not None:
            self._lrus[tok] = (lru, ident)  # the identity keeps its unkeyable objects (their ids) alive
            self._lrus.move_to_end(tok)
            while len(self._lrus) > 8:
                self._lrus.popitem(last=False)
        self._lru = lru

    def _reguard(self) -> cache.MemoryLRU:
        """The guard failed: recompute the identity (a memory hit when the content is one seen before)."""
        with self._lock:
            guard = self._guard
            if guard is None or not guard():  # another thread may have re-keyed already
                ident = self._identity()
                dlog(
                    1, "jit %s: closure / globals changed (%s)", self._name, (ident.token or "unkeyable")[:12]
                )
            return self._lru

    # -------------------------------------------------------------------------------------------- warnings
    def _warn_once(self, what: str, msg: str, category: type[Warning] = cache.CacheWarning) -> None:
        """Warn once per function and `what`, at the user's line (the call that compiled)."""
        if what in self._warned:
            return
        self._warned.add(what)
        warn(msg, category)

    def _warn_after_compile(self, use_cache: bool) -> None:
        """Once per function: why it is not on disk (a value not keyable by content), and print() calls."""
        ident = self._ident
        if use_cache and ident is not None and ident.problems:
            self._warn_once(
                "unkeyable",
                f"ttfuse.jit({self._name}): {ident.problems[0]}; the function is compiled per process (not "
                "cached on disk), and changes inside that object after a call are not seen. Pass what the "
                "function reads from it as arguments, or hold plain values, dataclasses or objects of them",
            )
        elif use_cache and self._unkeyable_static:
            self._warn_once(
                "unkeyable",
                f"ttfuse.jit({self._name}): {self._unkeyable_static}; this call is compiled per process (not "
                "cached on disk)",
            )
        if ident is not None and ident.calls_print:
            self._warn_once(
                "print",
                f"ttfuse.jit({self._name}): the function calls print(); Python code in a jit function (print, "
                "appending to a list, counters) runs when the function is traced, once per cache key, not on "
                "every call",
                UserWarning,
            )

    def _warn_unhashable(self, args, kwargs, fast) -> None:
        objs = [t.obj for t in fast if type(t) is ByIdentity]
        where = find_arg(self.fn, args, kwargs, objs[0]) or "a static argument"
        self._warn_once(
            "unhashable",
            f"ttfuse.jit({self._name}): {where} (a {type_name(objs[0])}) is unhashable, so calls recognise it "
            "by identity: it is keyed by content when compiled and its content is re-checked on every call. "
            "Pass a hashable value (a tuple, a frozen dataclass) to share entries between equal objects",
        )


def _compiled_of(run):
    """The compiled runner a memory slot's runner calls (itself unless wrapped by a guard; None: eager)."""
    return getattr(run, "_ttfuse_compiled", run)


class _TorchCalls(TorchFunctionMode):
    """Notes the first torch function a trace calls (`seen`), other than reading a tensor's metadata."""

    _META = frozenset({"size", "dim", "__get__", "__len__"})

    def __init__(self):
        super().__init__()
        self.seen = None

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if self.seen is None and getattr(func, "__name__", "") not in self._META:
            self.seen = getattr(func, "__qualname__", None) or repr(func)
        return func(*args, **(kwargs or {}))


class _BoundJit:
    """`obj.method` for a jit-compiled method: calls the JitFunction with `obj` first (a static argument)."""

    __slots__ = ("_jit", "_obj")

    def __init__(self, jf: JitFunction, obj):
        self._jit = jf
        self._obj = obj

    def __call__(self, *args, **kwargs):
        return self._jit(self._obj, *args, **kwargs)

    def lower(self, *args, **kwargs) -> Lowered:
        return self._jit.lower(self._obj, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._jit, name)

    def __repr__(self) -> str:
        return f"<bound {self._jit!r} of {type(self._obj).__name__}>"
