"""`@ttfuse.jit`: capture a TTNN function into IR, optimise it, generate code, cache the result.

    @ttfuse.jit                                  # or @ttfuse.jit(max_grid=(7, 7), math_fidelity=...)
    def block(x, w, b, *, act="silu"): ...
    y = block(x, w, b)                           # traces + compiles once per key, then runs generated code
    lowered = block.lower(x_spec, w_spec, b_spec)  # IR before/after passes, source, cost, key; runs nothing

Call path. Hit: flatten the arguments into (tensor leaves, fast key) in one walk (each tensor's TensorSpec and
device, static leaves with their types, container markers), look the key up in the function's MemoryLRU, run
the entry. Miss: build the full CacheKey (function identity, input specs, statics, tree, options, device,
ttfuse source, pipeline version), look it up in this function's memory by hex, then on disk (the graph JSON
is verified and its code regenerated), else trace -> passes -> verify -> codegen -> store on disk.
`enable_cache=False` compiles on every call (counted as bypass). Calls made while another jit function is
being traced are inlined into that trace.

Options (also stored in `PassContext.options` for passes): `max_grid=(x_end, y_end)` (7,7 means 8x8),
`math_fidelity`, `memory_config` (output memory config), `passes` (None: all; a list of names: only those;
names prefixed '-' are disabled; [] runs none), `backend` ('sim' | 'ttnn', default $TTFUSE_BACKEND or sim),
`debug` (True = debug level 3 while compiling, or a level 0-4), `compile_only` (a call returns the Lowered
artifact), `fallback` (run eagerly when tracing/compiling fails; `fallback_used`, a warning once),
`graph_capture` (accepted for ttnn-jit compatibility; ttfuse always captures through the facade),
`l1_budget` (bytes of L1 per chip the chunk and place_memory passes may fill with tensors; default: the
device's L1 minus the circular-buffer reserve). `TTFUSE_DISABLE_PASSES=a,b` disables passes by name.
The IR is verified after passes on every compile, and after each pass with TTFUSE_DEBUG>=1 or TTFUSE_VERIFY=1.

Invariants: static arguments are hashable and treated as immutable (a method's `self` and the function's
globals are read at trace time; mutating them later does not retrace). The hit path allocates two lists and
a tuple, does no hashing of big structures, no inspect calls and no logging.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import os
import threading
import time
import types
import warnings
from dataclasses import dataclass, field
from typing import Any

from ttfuse import cache
from ttfuse.capture.pytree import describe, flatten_key, hashable_key, unflattener
from ttfuse.capture.trace import GraphTrace, trace
from ttfuse.codegen import Compiled, generate
from ttfuse.configs import MathFidelity
from ttfuse.errors import TtfuseError
from ttfuse.flags import dlog, flags, get_flag, logger
from ttfuse.ir import Graph
from ttfuse.opdef import _state, device_spec_context
from ttfuse.passes.cost import CostComparison, LazyCost
from ttfuse.passes.pipeline import (
    PIPELINE,
    PIPELINE_VERSION,
    PassContext,
    PassRecord,
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
) -> JitOptions:
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
    backend = backend or os.environ.get("TTFUSE_BACKEND") or "sim"
    if backend not in ("sim", "ttnn"):
        raise ValueError(f"ttfuse.jit: unknown backend {backend!r}; known: 'sim', 'ttnn'")
    level = 3 if debug is True else int(debug or 0)
    if l1_budget is not None and (
        isinstance(l1_budget, bool) or not isinstance(l1_budget, int) or l1_budget <= 0
    ):
        raise ValueError(f"ttfuse.jit: l1_budget must be a positive number of bytes, got {l1_budget!r}")
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
):
    """Decorator: `@ttfuse.jit` or `@ttfuse.jit(max_grid=(7, 7), ...)`. See the module docstring."""
    opts = _make_options(
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
    )
    if fn is None:
        return lambda f: JitFunction(f, opts)
    if not callable(fn):
        raise TypeError(f"ttfuse.jit: expected a function, got {type(fn).__name__}")
    return JitFunction(fn, opts)


# ------------------------------------------------------------------------------------------------ artifacts
@dataclass
class Lowered:
    """A compiled function without running it: IR before/after passes, code, cost report, cache key."""

    name: str
    graph_before: Graph | None
    graph: Graph
    passes: list[PassRecord]
    compiled: Compiled
    cost: CostComparison  # eager (traced) and jit graphs on the target, per-arch totals (a LazyCost)
    key: cache.CacheKey | None
    compile_ms: float = 0.0
    program_configs: list = field(default_factory=list)

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


@dataclass
class _Entry:
    """A compiled entry as the memory caches hold it."""

    run: Any  # (leaves, args, kwargs) -> result
    lowered: Lowered | None = None
    key_hex: str | None = None


def _runner(fn, out_tree):
    if out_tree == "*":

        def run(leaves, args, kwargs):
            return fn(*leaves)[0]
    else:
        unflatten = unflattener(out_tree)

        def run(leaves, args, kwargs):
            return unflatten(fn(*leaves))

    return run


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
        self._lru = cache.MemoryLRU(64) if options.enable_cache and not options.compile_only else None
        self._by_hex = cache.MemoryLRU(64)  # full key hex -> _Entry (a new device object, same compile)
        self._lock = threading.RLock()
        self._fn_identity: dict | None = None

    # ---------------------------------------------------------------------------------------- hot path
    def __call__(self, *args, **kwargs):
        stack = _state.stack
        if stack and type(stack[-1]) is GraphTrace:  # called while tracing another jit function: inline
            return self.fn(*args, **kwargs)
        lru = self._lru
        if lru is None:
            return self._uncached(args, kwargs)
        leaves: list = []
        key: list = []
        flatten_key(args, kwargs, leaves, key)
        try:
            fast = tuple(key)
            run = lru.get(fast)
        except TypeError:  # an unhashable static argument
            fast = hashable_key(key)
            run = lru.get(fast)
        if run is not None:
            cache.counters.hit += 1
            return run(leaves, args, kwargs)
        return self._miss(args, kwargs, leaves, fast)

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        return _BoundJit(self, obj)

    @property
    def num_entries(self) -> int:
        return len(self._lru) if self._lru is not None else 0

    def clear_cache(self) -> None:
        """Forget this function's compiled entries in memory (the disk store is untouched)."""
        if self._lru is not None:
            self._lru.clear()
        self._by_hex.clear()

    def __repr__(self) -> str:
        return f"<ttfuse.jit {self._name} entries={self.num_entries} traces={self.trace_count}>"

    # ---------------------------------------------------------------------------------------- slow path
    def _miss(self, args, kwargs, leaves, fast):
        with self._lock:
            run = self._lru.get(fast)
            if run is not None:
                cache.counters.hit += 1
            else:
                run = self._build(args, kwargs)
                self._lru.put(fast, run)
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
            if not self.options.fallback:
                raise
            reason = f"{type(e).__name__}: {e}"
            first = not self.fallback_used
            self.fallback_used = True
            self.fallback_reason = reason
            if first:
                warnings.warn(
                    f"ttfuse.jit({self._name}): compiling failed, running eagerly instead: {reason}",
                    RuntimeWarning,
                    stacklevel=4,
                )
            dlog(1, "jit %s: fallback to eager (%s)", self._name, reason)
            fn = self.fn

            def eager(leaves, a, k):
                return fn(*a, **k)

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
    ) -> _Entry:
        level = self.options.debug
        if level:
            with flags(debug=max(level, get_flag("debug"))):
                return self._compile_inner(args, kwargs, use_cache, specs_are_tensors, keep_graphs)
        return self._compile_inner(args, kwargs, use_cache, specs_are_tensors, keep_graphs)

    def _compile_inner(self, args, kwargs, use_cache, specs_are_tensors, keep_graphs) -> _Entry:
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
        with device_spec_context(dspec, mesh):
            key = self._key(tree, statics, leaves, dspec, mesh)
            self.last_key = key
            disk = use_cache and key is not None and cache.disk_enabled()
            if use_cache and key is not None:
                hit = self._by_hex.get(key.hex)
                if hit is not None:
                    cache.counters.hit += 1
                    dlog(1, "jit %s: memory hit %s (new fast key)", self._name, key.short)
                    return hit
                if disk:
                    entry = self._load(key, dspec)
                    if entry is not None:
                        cache.counters.hit += 1
                        self._by_hex.put(key.hex, entry)
                        return entry
                cache.explain_miss(self._name, key)

            # trace -> passes -> verify -> codegen
            self.trace_count += 1
            g0 = trace(
                self.fn,
                args,
                kwargs,
                name=self._qual,
                device_spec=dspec,
                mesh_shape=mesh,
                specs_are_tensors=specs_are_tensors,
            )
            ctx = PassContext(
                dspec,
                self._pass_options(),
                self.options.disabled_passes(),
                mesh,
                debug=get_flag("debug"),
                keep_graphs=keep_graphs,
            )
            verify_each = get_flag("debug") >= 1 or os.environ.get("TTFUSE_VERIFY") == "1"
            g, records = run_pipeline(g0, ctx, verify=verify_each)
            verify(g)
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
                LazyCost(g0, g, dspec, max_grid=self.options.max_grid),
                key,
                ms,
                program_configs(g),
            )
            entry = _Entry(_runner(compiled.fn, g.out_tree), lowered, key.hex if key else None)
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
                        self._store(key, g, leaves, dspec, ms)
            return entry

    def _pass_options(self) -> dict:
        o = self.options
        return {
            "max_grid": o.max_grid,
            "math_fidelity": o.math_fidelity,
            "memory_config": o.memory_config,
            "backend": o.backend,
            "l1_budget": o.l1_budget,
        }

    def _load(self, key: cache.CacheKey, dspec) -> _Entry | None:
        built: dict = {}

        def check(entry: dict) -> None:
            g = Graph.from_json(entry["graph"])
            verify(g)
            built["graph"] = g
            built["compiled"] = generate(g, name=self._short, backend=self.backend)

        t0 = time.perf_counter()
        e = cache.disk_load(key.hex, check=check)
        if e is None:
            return None
        g, compiled = built["graph"], built["compiled"]
        ms = (time.perf_counter() - t0) * 1e3
        dlog(1, "jit %s: disk hit %s (regenerated code in %.1f ms)", self._name, key.short, ms)
        lowered = Lowered(
            self._name,
            None,
            g,
            [],
            compiled,
            LazyCost(None, g, dspec, max_grid=self.options.max_grid),
            key,
            ms,
            program_configs(g),
        )
        return _Entry(_runner(compiled.fn, g.out_tree), lowered, key.hex)

    def _store(self, key: cache.CacheKey, g: Graph, leaves, dspec, ms: float) -> None:
        try:
            gj = g.to_json()
        except (TypeError, ValueError) as e:
            dlog(1, "jit %s: graph not storable on disk (%s)", self._name, e)
            return
        specs = [x if isinstance(x, TensorSpec) else x.spec for x in leaves]
        entry = cache.make_entry(
            key,
            function=self._name,
            graph=gj,
            arg_specs=specs,
            device=dspec.name,
            compile_ms=ms,
            pipeline_version=PIPELINE_VERSION,
        )
        cache.disk_store(key.hex, entry)

    # ------------------------------------------------------------------------------------------------ keys
    def _key(self, tree, statics, leaves, dspec, mesh) -> cache.CacheKey | None:
        """The full cache key, or None when a static argument cannot be keyed by content (memory-only)."""
        try:
            static = [_static_canon(v) for v in statics]
        except _Unkeyable as e:
            dlog(1, "jit %s: not cached on disk: %s", self._name, e)
            return None
        if self._fn_identity is None:
            self._fn_identity = _function_identity(self.fn)
        specs = [x if isinstance(x, TensorSpec) else x.spec for x in leaves]
        fields = {
            "function": self._fn_identity,
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
        try:
            return cache.make_key(fields)
        except TtfuseError as e:
            dlog(1, "jit %s: not cached on disk: %s", self._name, e)
            return None


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


# ---------------------------------------------------------------------------------------- key components
class _Unkeyable(Exception):
    pass


_SIMPLE = (type(None), bool, int, float, str, bytes)


def _static_canon(v: Any, depth: int = 0) -> Any:
    """A content-based, process-independent description of a static argument (for the disk key)."""
    from ttfuse.sim.device import MeshDevice

    if depth > 6:
        raise _Unkeyable("static argument nested too deeply")
    if isinstance(v, _SIMPLE):
        return v
    if isinstance(v, MeshDevice):
        return {"$device": v.spec.name, "mesh": [v.shape.rows, v.shape.cols]}
    if isinstance(v, Tensor):
        return {"$tensor": str(v.spec)}
    if isinstance(v, tuple | list):
        return [_static_canon(x, depth + 1) for x in v]
    if isinstance(v, dict):
        return {"$dict": sorted([repr(k), _static_canon(x, depth + 1)] for k, x in v.items())}
    if isinstance(
        v, types.FunctionType | types.MethodType | type | types.ModuleType | types.BuiltinFunctionType
    ):
        return _fn_canon(v)
    try:
        cache.make_key({"static": v})  # ttfuse types, configs, enums, dataclasses, repr-able objects
        return v
    except Exception:  # noqa: BLE001 - fall through to the object's state
        pass
    state = getattr(v, "__dict__", None)
    if state is None:
        raise _Unkeyable(f"a {type(v).__qualname__} argument has no content-based identity")
    return {
        "$obj": f"{type(v).__module__}.{type(v).__qualname__}",
        "state": {k: _static_canon(x, depth + 1) for k, x in sorted(state.items())},
    }


def _fn_canon(v: Any) -> Any:
    if isinstance(v, types.MethodType):
        v = v.__func__
    if isinstance(v, types.FunctionType):
        return {"$fn": f"{v.__module__}.{v.__qualname__}", "code": _code_hash(v.__code__)}
    return {
        "$ref": f"{getattr(v, '__module__', '?')}.{getattr(v, '__qualname__', getattr(v, '__name__', '?'))}"
    }


def _code_hash(code: types.CodeType) -> str:
    h = hashlib.sha256()
    h.update(code.co_code)
    h.update(repr(code.co_names).encode())
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            h.update(_code_hash(c).encode())
        else:
            h.update(repr(c).encode())
    return h.hexdigest()[:32]


def _is_ttfuse(obj: Any) -> bool:
    return (getattr(obj, "__module__", None) or "").split(".")[0] == "ttfuse"


def _function_identity(fn) -> dict:
    """Qualified name + source + closure constants + referenced simple globals + helper functions' code."""
    try:
        src = inspect.getsource(fn)
    except (OSError, TypeError):
        src = None
    ident: dict = {
        "qualname": f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', '?')}",
        "source": src,
    }
    code = getattr(fn, "__code__", None)
    if code is None:  # a callable object
        return ident
    ident["code"] = _code_hash(code)
    ident["closure"] = [_const_canon(c.cell_contents) for c in (fn.__closure__ or ()) if _cell_ok(c)]
    ident["defaults"] = [_const_canon(d) for d in (fn.__defaults__ or ())]
    ident["kwdefaults"] = {k: _const_canon(d) for k, d in sorted((fn.__kwdefaults__ or {}).items())}
    ident["globals"] = _globals_canon(fn, set(), 0)
    return ident


def _cell_ok(c) -> bool:
    try:
        c.cell_contents  # noqa: B018
        return True
    except ValueError:
        return False


def _const_canon(v: Any) -> Any:
    """Closure / global values: simple values by content, functions by code, anything else by type only."""
    if isinstance(v, _SIMPLE):
        return v if not isinstance(v, bytes) else v.hex()
    if isinstance(v, tuple | list) and len(v) < 64:
        return [_const_canon(x) for x in v]
    if isinstance(
        v, types.FunctionType | types.MethodType | type | types.ModuleType | types.BuiltinFunctionType
    ):
        return _fn_canon(v)
    try:
        cache.make_key({"static": v})
        from ttfuse.types import to_json_value

        return to_json_value(v)
    except Exception:  # noqa: BLE001 - tensors, devices, arbitrary objects: not part of the identity
        return {"$type": f"{type(v).__module__}.{type(v).__qualname__}"}


def _code_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            names |= _code_names(c)
    return names


def _globals_canon(fn, seen: set, depth: int) -> dict:
    """Referenced globals of `fn` (and, recursively, of user helper functions it calls)."""
    out: dict = {}
    g = getattr(fn, "__globals__", {})
    for name in sorted(_code_names(fn.__code__)):
        if name not in g:
            continue
        v = g[name]
        if isinstance(v, types.ModuleType):
            continue
        if isinstance(v, types.FunctionType) and not _is_ttfuse(v):
            fid = id(v.__code__)
            if fid in seen or depth >= 4:
                out[name] = _fn_canon(v)
                continue
            seen.add(fid)
            out[name] = {"fn": _fn_canon(v), "globals": _globals_canon(v, seen, depth + 1)}
        elif isinstance(v, JitFunction):
            out[name] = _fn_canon(v.fn)
        elif _is_ttfuse(v):
            continue  # covered by the ttfuse source hash
        else:
            out[name] = _const_canon(v)
    return out
