"""The benchmark sweep JIT vs eager (`ttfuse bench`, `make run`): cases x sizes x arch, measured side by side.

    ttfuse bench [--quick | --full] [--case NAME]... [--arch KIND]... [--size N]... [--compare OLD.json]

Per row (case, size, arch), in one process and one run:
- eager and JIT simulator medians, timed in interleaved rounds (eager, JIT, reference; the order alternates
  each round so drift cancels); both clocks are recorded, the headline one is process CPU time with one
  torch thread (`--clock`, `--threads`): on a shared 2-core machine wall time is mostly waiting for a core,
  and torch's spinning worker threads make it worse; speedup = eager / JIT;
- compile: every top-level `ttfuse.jit` call the JIT callable makes is recorded on its first call; each is
  then compiled cold (`cache.fresh_cache()`: empty memory and disk) and disk-warm (memory LRUs cleared, the
  disk entry kept) without running it; cache-hit overhead = the wrapper's own time on a hit (the entry's
  generated function swapped for a stub returning its outputs), summed over the block's jit calls;
- kernel launches (`ttfuse.sim.count_launches`) and peak L1/DRAM bytes above the resident baseline
  (`ttfuse.sim.memory_report`) of one eager and one JIT call;
- DRAM bytes and predicted time, eager (the traced graph, one kernel per op) vs JIT (after passes), from the
  cost model (ttfuse/passes/cost.py, `Lowered.cost`) on the row's device kind: device time (kernels + device
  dispatch, a traced run) and untraced time (every launch also pays the host round trip);
- the PyTorch float32 reference time, `torch.compile` (inductor, in a child process with a fresh inductor cache
  and a timeout, alongside the sweep with the CPU clock: cold compile and steady state), and PCC of the JIT
  (and eager) outputs vs the reference;
- for a case with a hand-tuned TTNN version (`Case.handtuned`), the predicted device time of the hand-tuned
  code op for op and of the port under jit (bench/handtuned.py), traced and untraced.
Targets (`TARGETS`, reported with MISSED, never fatal): cold compile, warm start from disk and cache-hit overhead
per block, JIT / float32 reference, predicted JIT / hand-tuned; JIT vs eager on the simulator is a figure.
A case that fails is recorded (status "failed", the step, the reason, the traceback) and the sweep goes on;
the command then exits with status 1 after printing everything (a FAILED row is an error, not a figure).
`bench/test_quick_sweep.py` (in `make test`) runs every row of the quick sweep once (`Config(smoke=True)`)
and fails on a FAILED row.

Invariants: the harness never changes what it measures (same inputs, same code for eager and JIT); every
clock reading goes through `Timer` (tests inject a fake one); compiled entries are published to the user's
cache after the run unless --no-publish. Extend: add a case in bench/cases.py; a new per-row figure is a
key in `_new_row` plus the code filling it in `_measure_into` (and a column in bench/report.py).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import torch

from bench import report
from bench.cases import CASES, PENDING, Case, outputs_to_torch, select

__all__ = [
    "Config",
    "Timer",
    "TARGETS",
    "REQUIRED_KEYS",
    "run_sweep",
    "measure_row",
    "quick_jobs",
    "failures",
    "main",
]

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEFAULT_ARCHS = ("wormhole_b0:n150", "blackhole:p150")
SCHEMA = 1
# Targets (cmp "<=": lower is better), issue 20: the JIT's own costs (cold compile, warm start from disk, cache
# hit), the price of emulating TT numerics (JIT sim time / the float32 PyTorch reference, measured side by side
# in one run) and the predicted device time against hand-tuned TTNN (rows of a case with a hand-tuned version
# only: the 4th field names the row key that must be set for the target to apply). The simulator's wall-time
# JIT-vs-eager ratios are figures only (retired as targets: both sides run the same float32 math on the CPU, so
# they measure the CPU, not a chip).
TARGETS: dict[str, tuple[str, float, str, str | None]] = {
    "compile_cold_ms": ("<=", 100.0, "ms", None),
    "compile_warm_ms": ("<=", 10.0, "ms", None),
    "hit_overhead_us": ("<=", 20.0, "us", None),
    "jit_vs_reference": ("<=", 1.25, "x", None),
    "jit_vs_handtuned": ("<=", 0.9, "x", "handtuned_source"),
    "jit_vs_handtuned_untraced": ("<=", 0.9, "x", "handtuned_source"),
}
# The hand-tuned side of a case with one (`Case.handtuned`): tt-boltz's src/boltz/model/modules/tenstorrent.py
# when given (--ttboltz PATH or this variable), else the repo's stand-in (bench/handtuned.py's STANDIN).
TTBOLTZ_ENV = "TTFUSE_TTBOLTZ"
# The keys every row carries (issue 8), with their type; each may be None (not measured / not available)
# except the first three.
_INT_KEYS = ("size", "launches_eager", "launches_jit", "dram_bytes_eager", "dram_bytes_jit")
REQUIRED_KEYS: dict[str, tuple[type, ...]] = {
    k: (str,) if k in ("case", "arch") else (int,) if k in _INT_KEYS else (float,)
    for k in (
        "case size arch eager_ms jit_ms speedup launches_eager launches_jit dram_bytes_eager dram_bytes_jit "
        "predicted_us_eager predicted_us_jit compile_cold_ms compile_warm_ms hit_overhead_us reference_ms "
        "torch_compile_ms pcc"
    ).split()
}
# Further per-row figures (None until measured); samples hold every raw measurement.
_EXTRA_KEYS = (
    "error failed_step jit_vs_reference first_call_ms torch_compile_cold_ms torch_compile_error pcc_eager "
    "peak_l1_bytes_eager peak_dram_bytes_eager peak_l1_bytes_jit peak_dram_bytes_jit launches_by_op_eager "
    "launches_by_op_jit predicted_source predicted_untraced_us_eager predicted_untraced_us_jit flops "
    "nodes_eager nodes_jit wall_s handtuned_source handtuned_us handtuned_untraced_us handtuned_jit_us "
    "handtuned_jit_untraced_us jit_vs_handtuned jit_vs_handtuned_untraced"
).split()


@dataclass
class Timer:
    """Every clock the harness reads (tests pass a fake one: deterministic, no sleeping). `primary` names the
    clock of the headline figures: "cpu" (process CPU time; with one torch thread it is the time the work took,
    not the time spent waiting for a core on a shared machine) or "wall"."""

    wall: Callable[[], float] = time.perf_counter
    cpu: Callable[[], float] = time.process_time
    primary: str = "cpu"

    def now(self) -> float:
        return self.cpu() if self.primary == "cpu" else self.wall()


@dataclass
class Config:
    full: bool = False
    cases: tuple[str, ...] = ()
    archs: tuple[str, ...] = DEFAULT_ARCHS
    sizes: tuple[int, ...] = ()  # override every case's sizes
    out_dir: Path = RESULTS_DIR
    torch_compile: str = "auto"  # auto (quick: anchor cases only; full: all) | all | none
    torch_compile_timeout_s: float | None = None
    compare: Path | None = None
    threshold: float = 0.10
    plots: bool = True
    publish_cache: bool = True
    min_rounds: int | None = None
    threads: int = 1  # torch intra-op threads for the run (0: leave torch's default)
    timer: Timer = field(default_factory=Timer)
    smoke: bool = False  # every step once (one timing round, one compile each): the bench smoke test
    ttboltz: str | None = None  # tt-boltz's tenstorrent.py for the hand-tuned columns (None: $TTFUSE_TTBOLTZ)

    @property
    def handtuned_path(self) -> tuple[str, str]:
        """(path, label) of the hand-tuned code: tt-boltz's file when given, else the repo's stand-in."""
        from bench.handtuned import ROOT, STANDIN

        given = self.ttboltz or os.environ.get(TTBOLTZ_ENV)
        if given:
            return str(given), f"tt-boltz {given}"
        return str(ROOT / STANDIN), f"stand-in {STANDIN} (hand-tuned-style TTNN of this repo)"

    @property
    def mode(self) -> str:
        return "full" if self.full else "quick"

    # rounds of the interleaved timing: enough to fill `budget_s`, within [min, max]
    @property
    def rounds(self) -> tuple[int, int, float]:
        if self.smoke:
            return 1, 1, 0.0
        lo, hi, budget = (7, 31, 8.0) if self.full else (5, 15, 2.0)
        return (self.min_rounds or lo), max(hi, self.min_rounds or 0), budget

    @property
    def compile_repeats(self) -> int:
        return 1 if self.smoke else 5 if self.full else 3

    @property
    def tc_timeout(self) -> float:
        return self.torch_compile_timeout_s or (300.0 if self.full else 120.0)


# ------------------------------------------------------------------------------------------------ rows
def _new_row(case: Case, size: int, arch: str, cfg: Config | None = None) -> dict:
    row: dict[str, Any] = dict.fromkeys(REQUIRED_KEYS)
    row.update(case=case.name, size=int(size), arch=arch, size_label=case.size_label, status="running")
    row.update(dict.fromkeys(_EXTRA_KEYS), jit_functions=[], rounds=0)
    row.update(samples={}, warnings=[])
    if case.handtuned is not None:  # set before measuring: a FAILED row still counts its hand-tuned targets
        row["handtuned_source"] = (cfg or Config()).handtuned_path[1]
    return row


def _median(xs: list[float]) -> float | None:
    return float(statistics.median(xs)) if xs else None


@contextlib.contextmanager
def record_jit_calls():
    """Record the top-level `ttfuse.jit` calls made inside the block: [(jit_fn, args, kwargs, result)]."""
    from ttfuse.jit import JitFunction

    calls: list[tuple] = []
    original = JitFunction.__call__
    depth = [0]

    def recording(self, *args, **kwargs):
        depth[0] += 1
        try:
            out = original(self, *args, **kwargs)
        finally:
            depth[0] -= 1
        if depth[0] == 0:
            calls.append((self, args, kwargs, out))
        return out

    JitFunction.__call__ = recording
    try:
        yield calls
    finally:
        JitFunction.__call__ = original


def _observe(device, fn: Callable[[], Any]) -> tuple[Any, Any, int, int]:
    """(output, launch counter, peak L1 bytes, peak DRAM bytes above what was allocated before) of one call."""
    from ttfuse.sim import count_launches, memory_report

    rep = memory_report(device)
    base_l1, base_dram = rep.l1_bytes, rep.dram_bytes
    rep.reset_peak()
    with count_launches(device) as launches:
        out = fn()
    return out, launches, rep.peak_l1_bytes - base_l1, rep.peak_dram_bytes - base_dram


def _observed_run(row: dict, mode: str, device, fn: Callable[[], Any], timer, to_torch) -> tuple[Any, float]:
    """One observed call of the `mode` ("eager" or "jit") path: its launches and peak memory go into `row`
    (launches_<mode>, launches_by_op_<mode>, peak_l1_bytes_<mode>, peak_dram_bytes_<mode>); returns the
    output on the host (the device tensors are dropped here) and the call's wall seconds."""
    w0 = timer.wall()
    out, launches, l1, dram = _observe(device, fn)
    dt = timer.wall() - w0
    row[f"launches_{mode}"] = launches.total
    row[f"launches_by_op_{mode}"] = dict(launches.by_op)
    row[f"peak_l1_bytes_{mode}"] = l1
    row[f"peak_dram_bytes_{mode}"] = dram
    return to_torch(out), dt


def _timed_rounds(fns: dict[str, Callable[[], Any]], est_s: float, cfg: Config) -> dict[str, dict]:
    """Interleaved rounds (the order reverses every round); per name wall and CPU milliseconds per call."""
    lo, hi, budget = cfg.rounds
    rounds = max(lo, min(hi, math.ceil(budget / max(est_s, 1e-6))))
    t = cfg.timer
    out = {n: {"wall": [], "cpu": []} for n in fns}
    names = list(fns)
    for r in range(rounds):
        for n in names if r % 2 == 0 else names[::-1]:
            w0, c0 = t.wall(), t.cpu()
            res = fns[n]()
            w1, c1 = t.wall(), t.cpu()
            del res
            out[n]["wall"].append((w1 - w0) * 1e3)
            out[n]["cpu"].append((c1 - c0) * 1e3)
    return out


def _compile_pass(calls: list[tuple], timer: Timer, *, cold: bool) -> tuple[float, list]:
    """Compile every recorded jit call without running it: cold (an empty cache: trace, passes, verify,
    codegen, disk store) or disk-warm (memory LRUs cleared: disk load, verify, regenerate). Milliseconds."""
    from ttfuse import cache

    lowered = []
    total = 0.0
    with cache.fresh_cache() if cold else contextlib.nullcontext():
        if not cold:
            cache.clear_memory()
        for jf, args, kwargs, _ in calls:
            t0 = timer.now()
            entry = jf._compile(args, kwargs, use_cache=True)
            total += timer.now() - t0
            lowered.append(entry.lowered)
    return total * 1e3, lowered


def _hit_overhead_us(call: tuple, timer: Timer, number: int = 200, rounds: int = 7) -> float | None:
    """The jit wrapper's own time on a cache hit (flatten args, fast key, LRU lookup, counters, rebuild the
    result): the hit entry's generated function is swapped for a stub returning the call's outputs."""
    from ttfuse.capture.pytree import flatten_out, lookup
    from ttfuse.jit import _runner
    from ttfuse.tensor import Tensor

    jf, args, kwargs, result = call
    lru = getattr(jf, "_lru", None)
    if lru is None:
        return None
    run, fast, _ = lookup(lru, args, kwargs)
    if run is None:
        return None
    flat, tree = flatten_out(result, lambda v: isinstance(v, Tensor))
    flat = tuple(flat)
    lru.put(fast, _runner(lambda *_: flat, tree))
    samples = []
    try:
        for _ in range(rounds):
            t0 = timer.now()
            for _ in range(number):
                jf(*args, **kwargs)
            samples.append((timer.now() - t0) / number * 1e6)
    finally:
        lru.put(fast, run)
    return _median(samples)


def _costs(row: dict, lowered: list, spec) -> None:
    """DRAM bytes and predicted times, eager (the traced graph) vs JIT (after passes), summed over the block's
    jit calls, from the cost model (`Lowered.cost`: ttfuse/passes/cost.py) on the row's device kind.

    Each lowered is costed on the device it was compiled for (`Lowered.device_spec`, else `spec`), passed
    explicitly: the eager and JIT runs before this left the thread's current device on whatever ran last."""
    from ttfuse.passes.cost import graph_cost

    keys = (
        "dram_bytes_eager",
        "dram_bytes_jit",
        "predicted_us_eager",
        "predicted_us_jit",
        "predicted_untraced_us_eager",
        "predicted_untraced_us_jit",
        "flops",
        "nodes_eager",
        "nodes_jit",
    )
    acc = dict.fromkeys(keys, 0)
    for low in lowered:
        ds = getattr(low, "device_spec", None) or spec
        mesh = getattr(low, "mesh_shape", None)
        jit = getattr(low.cost, "jit", None) or graph_cost(low.graph, ds, mesh_shape=mesh)
        eager = getattr(low.cost, "eager", None)
        if eager is None:
            if low.graph_before is None:
                return
            eager = graph_cost(low.graph_before, ds, mesh_shape=mesh)
        for side, g, gc in (("eager", low.graph_before, eager), ("jit", low.graph, jit)):
            acc[f"dram_bytes_{side}"] += int(gc.total.dram_bytes)
            acc[f"predicted_us_{side}"] += float(gc.predicted_us)
            acc[f"predicted_untraced_us_{side}"] += float(gc.untraced_us)
            acc[f"nodes_{side}"] += len(g.nodes)
        acc["flops"] += float(eager.total.flops)
    row.update(acc, predicted_source="ttfuse.passes.cost (device time: kernels + device dispatch)")


def _handtuned(row: dict, case: Case, size: int, cfg: Config) -> None:
    """The predicted device time of the case's hand-tuned version (`Case.handtuned`: bench/handtuned.py on the
    hand-tuned code of `cfg.handtuned_path`), traced and untraced, beside the JIT of the plain port. The JIT side
    of the ratio is bench/handtuned.py's own (the port in the hand-tuned code's dtypes), so the bench's ratio is
    the one docs/performance.md reports; predicted_us_jit stays the bench port's figure."""
    path, label = cfg.handtuned_path
    got = case.handtuned(size, row["arch"], path)
    row.update(got, handtuned_source=label)
    for kind in ("", "_untraced"):
        hand, jit = got.get(f"handtuned{kind}_us"), got.get(f"handtuned_jit{kind}_us")
        row[f"jit_vs_handtuned{kind}"] = jit / hand if hand and jit is not None else None


def _pcc(got: list[torch.Tensor], want: list[torch.Tensor]) -> float | None:
    from ttfuse.testing import pcc

    if not got or not want or len(got) != len(want):
        return None
    vals = []
    for g, w in zip(got, want):
        if g.shape != w.shape:
            if g.numel() != w.numel():
                return None
            g = g.reshape(w.shape)
        vals.append(pcc(g, w))
    return float(min(vals))


def measure_row(case: Case, size: int, arch: str, device, cfg: Config) -> dict:
    """One row: never raises (a failure is recorded in the row with the step it happened in)."""
    row = _new_row(case, size, arch, cfg)
    row["device"] = getattr(getattr(device, "spec", None), "name", arch)
    t0 = cfg.timer.wall()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            _measure_into(row, case, size, device, cfg)
            row["status"] = "ok"
        except Exception as e:  # noqa: BLE001 - a failing case is a result, not a crash
            msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
            row.update(
                status="failed", error=f"{type(e).__name__}: {msg}"[:300], traceback=traceback.format_exc()
            )
    row["warnings"] = sorted({f"{w.category.__name__}: {w.message}"[:200] for w in caught})[:10]
    row["wall_s"] = cfg.timer.wall() - t0
    return row


def _measure_into(row: dict, case: Case, size: int, device, cfg: Config) -> None:
    from ttfuse import cache

    timer = cfg.timer

    def step(name: str) -> None:
        row["failed_step"] = name  # cleared on success

    step("build")
    built = case.build(size, device)
    if built.device is not None:
        device = built.device
        row["device"] = f"{device.spec.name} mesh {device.shape.rows}x{device.shape.cols}"
    args, targs = built.inputs.tt, built.inputs.torch
    to_torch = built.to_torch or outputs_to_torch
    est = 0.0

    step("eager")
    eager_out, dt = _observed_run(row, "eager", device, lambda: built.eager(*args), timer, to_torch)
    est += dt

    ref_out = None
    if built.reference is not None:
        step("reference")
        w0 = timer.wall()
        with torch.no_grad():
            ref_out = outputs_to_torch(built.reference(*targs))
        est += timer.wall() - w0

    with cache.fresh_cache() as row_cache:
        step("jit (first call, cold cache)")
        with record_jit_calls() as calls:
            w0 = timer.now()
            out = built.jit(*args)
            row["first_call_ms"] = (timer.now() - w0) * 1e3
        del out
        row["jit_functions"] = sorted({getattr(c[0], "_name", repr(c[0])) for c in calls})

        lowered: list = []
        if calls:
            step("compile")
            cold, warm = [], []
            for _ in range(cfg.compile_repeats):
                ms, lowered = _compile_pass(calls, timer, cold=True)
                cold.append(ms)
            for _ in range(cfg.compile_repeats):
                warm.append(_compile_pass(calls, timer, cold=False)[0])
            row["samples"].update(compile_cold_ms=cold, compile_warm_ms=warm)
            row.update(compile_cold_ms=_median(cold), compile_warm_ms=_median(warm))

        step("jit")
        jit_out, dt = _observed_run(row, "jit", device, lambda: built.jit(*args), timer, to_torch)
        est += dt

        step("timing")
        fns = {"eager": lambda: built.eager(*args), "jit": lambda: built.jit(*args)}
        if built.reference is not None:

            def ref_call():
                with torch.no_grad():
                    return built.reference(*targs)

            fns["reference"] = ref_call
        samples = _timed_rounds(fns, est, cfg)
        row["rounds"] = len(samples["eager"]["wall"])
        main = timer.primary
        for n, s in samples.items():
            row["samples"][f"{n}_ms"] = s[main]
            for clock in ("wall", "cpu"):
                row["samples"][f"{n}_{clock}_ms"] = s[clock]
                row[f"{n}_{clock}_ms"] = _median(s[clock])
        row.update(eager_ms=_median(samples["eager"][main]), jit_ms=_median(samples["jit"][main]))
        if "reference" in samples:
            row["reference_ms"] = _median(samples["reference"][main])
        if row["jit_ms"]:
            row["speedup"] = row["eager_ms"] / row["jit_ms"]
        if row["reference_ms"]:
            row["jit_vs_reference"] = row["jit_ms"] / row["reference_ms"]
            # per round too (the JSON): the spread of the side-by-side ratio
            row["samples"]["jit_vs_reference"] = [
                j / r for j, r in zip(samples["jit"][main], samples["reference"][main], strict=True) if r > 0
            ]

        if calls:
            step("hit overhead")
            reps = {"number": 10, "rounds": 1} if cfg.smoke else {}
            per_call = [_hit_overhead_us(c, timer, **reps) for c in calls]
            if all(v is not None for v in per_call):
                row["hit_overhead_us"] = float(sum(per_call))
                row["samples"]["hit_overhead_us"] = per_call
        if cfg.publish_cache:
            row["_entries"] = _read_entries(row_cache)
        calls.clear()

    if lowered:
        step("cost")
        _costs(row, lowered, getattr(device, "spec", None))
    if case.handtuned is not None:
        step("hand-tuned (predicted)")
        _handtuned(row, case, size, cfg)
    if ref_out is not None:
        step("pcc")
        row["pcc"] = _pcc(jit_out, ref_out)
        row["pcc_eager"] = _pcc(eager_out, ref_out)
    row["failed_step"] = None


def _read_entries(root: Path) -> list[tuple[str, dict]]:
    from ttfuse import cache

    out = []
    for p in sorted((root / f"v{cache.SCHEMA_VERSION}").glob("??/*.json")):
        with contextlib.suppress(Exception):
            out.append((p.stem, cache.read_entry(p, p.stem)))
    return out


# ---------------------------------------------------------------------------------------- torch.compile
def _torch_compile_child(case_name: str, size: int, timer: Timer, budget_s: float = 3.0) -> dict:
    """Runs in a child process: cold torch.compile (fresh inductor cache; wall time, since inductor compiles in
    worker processes) and the steady state per call (the run's clock) of a case's reference."""
    case = CASES[case_name]
    built = case.build(size, None)
    if built.reference is None:
        return {"error": "no reference"}
    xs = built.inputs.torch
    compiled = torch.compile(built.reference)
    with torch.no_grad():
        t0 = timer.wall()
        compiled(*xs)
        first = timer.wall() - t0
        samples, walls = [], []
        while len(samples) < 3 or (sum(walls) < budget_s and len(samples) < 20):
            t0, w0 = timer.now(), timer.wall()
            compiled(*xs)
            samples.append(timer.now() - t0)
            walls.append(timer.wall() - w0)
    return {
        "torch_compile_ms": statistics.median(samples) * 1e3,
        "torch_compile_cold_ms": max(0.0, first - statistics.median(walls)) * 1e3,
        "samples_ms": [s * 1e3 for s in samples],
    }


def run_torch_compile(case_name: str, size: int, cfg: Config) -> dict:
    """torch.compile of a case's reference in a child process (a hard timeout; a failure is a reason)."""
    timeout_s = cfg.tc_timeout
    with tempfile.TemporaryDirectory(prefix="ttfuse-bench-inductor-") as d:
        env = dict(os.environ, TORCHINDUCTOR_CACHE_DIR=d, TORCHINDUCTOR_FX_GRAPH_CACHE="0")
        cmd = [
            sys.executable,
            "-m",
            "bench.harness",
            "--torch-compile-worker",
            f"{case_name}:{size}",
            "--threads",
            str(cfg.threads),
            "--clock",
            cfg.timer.primary,
        ]
        root = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, env=env, cwd=root)
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {timeout_s:.0f} s"}
    for line in reversed(p.stdout.splitlines()):
        if line.startswith("TTFUSE-TC "):
            return json.loads(line[len("TTFUSE-TC ") :])
    tail = (p.stderr or p.stdout).strip().splitlines()
    return {"error": f"exit {p.returncode}: {tail[-1][:200] if tail else 'no output'}"}


# ------------------------------------------------------------------------------------------------ sweep
def quick_jobs(archs: tuple[str, ...] = DEFAULT_ARCHS) -> list[tuple[str, int, str]]:
    """(case, size, arch) of every row `ttfuse bench --quick` (`make run`) measures, unavailable cases included
    (the bench smoke test runs each of them)."""
    return [(c.name, s, a) for c in CASES.values() for s in c.sizes(False) for a in archs]


def failures(results: dict) -> list[str]:
    """One line per FAILED row of a sweep: case, size, arch, the step and the error."""
    return [
        f"{r['case']} {r['size']} {r['arch']} at {r.get('failed_step')}: {r.get('error')}"
        for r in results.get("cases", [])
        if r.get("status") != "ok"
    ]


def _tc_wanted(case: Case, cfg: Config) -> bool:
    if cfg.torch_compile == "none":
        return False
    return cfg.torch_compile == "all" or cfg.full or case.torch_compile_quick


def run_sweep(cfg: Config, cases: dict[str, Case] | None = None, console=None) -> dict:
    """Run the sweep, write JSON/markdown/plots under cfg.out_dir, print the tables; returns the results."""

    console = console or report.console()
    t_start = cfg.timer.wall()
    threads_before = torch.get_num_threads()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    try:
        return _sweep(cfg, cases, console, t_start)
    finally:
        torch.set_num_threads(threads_before)


def _sweep(cfg: Config, cases: dict[str, Case] | None, console, t_start: float) -> dict:
    from ttfuse import ttnn

    pool = cases if cases is not None else CASES
    chosen = select(list(cfg.cases), pool)
    runnable, unavailable = [], []
    for c in chosen:
        why = c.unavailable()
        (unavailable.append({"case": c.name, "reason": why}) if why else runnable.append(c))
    if not cfg.cases and cases is None:
        unavailable += [{"case": n, "reason": r} for n, r in PENDING.items()]
    jobs = [(c, s, a) for c in runnable for s in (cfg.sizes or c.sizes(cfg.full)) for a in cfg.archs]
    tc_jobs = sorted({(c.name, s) for c, s, _ in jobs if _tc_wanted(c, cfg)})
    results: dict[str, Any] = {
        "schema": SCHEMA,
        "tool": "ttfuse bench",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "mode": cfg.mode,
        "clock": cfg.timer.primary,
        "argv": sys.argv[1:],
        "archs": list(cfg.archs),
        "machine": report.machine_info(),
        "versions": report.versions(),
        "targets": {
            k: {"cmp": c, "value": v, "unit": u, "applies_if": a} for k, (c, v, u, a) in TARGETS.items()
        },
        "handtuned_source": cfg.handtuned_path[1],
        "cases": [],
        "unavailable": unavailable,
    }
    devices: dict[str, Any] = {}
    entries: list = []
    # NOTE: with the CPU clock, torch.compile children run alongside the sweep (one at a time, on the other
    # core): process CPU time is barely affected and the run is ~1 cold compile shorter. Wall clock: after it.
    results["torch_compile_concurrent"] = concurrent = bool(tc_jobs) and cfg.timer.primary == "cpu"
    pool = ThreadPoolExecutor(max_workers=1) if concurrent else None
    futures = {job: pool.submit(run_torch_compile, *job, cfg) for job in tc_jobs} if pool else {}
    with report.progress(console, len(jobs) + len(tc_jobs)) as prog:
        for case, size, arch in jobs:
            prog.step(f"{case.name} {size} {arch}")
            try:
                if arch not in devices:
                    devices[arch] = ttnn.open_device(device_id=0, arch=arch)
                row = measure_row(case, size, arch, devices[arch], cfg)
            except Exception as e:  # noqa: BLE001 - e.g. an unknown arch: recorded like a failing case
                row = _new_row(case, size, arch, cfg)
                row.update(status="failed", failed_step="open device", error=f"{type(e).__name__}: {e}"[:300])
            entries += row.pop("_entries", [])
            results["cases"].append(row)
            prog.done(report.row_line(row))
        tc: dict[tuple[str, int], dict] = {}
        for name, size in tc_jobs:
            prog.step(f"torch.compile {name} {size}")
            job = (name, size)
            tc[job] = r = futures[job].result() if job in futures else run_torch_compile(name, size, cfg)
            prog.done(
                f"torch.compile {name} {size}: " + (r.get("error") or f"{r['torch_compile_ms']:.2f} ms")
            )
    for row in results["cases"]:
        r = tc.get((row["case"], row["size"]))
        if r:
            row["torch_compile_ms"] = r.get("torch_compile_ms")
            row["torch_compile_cold_ms"] = r.get("torch_compile_cold_ms")
            row["torch_compile_error"] = r.get("error")
            if "samples_ms" in r:
                row["samples"]["torch_compile_ms"] = r["samples_ms"]
    if pool is not None:
        pool.shutdown(wait=True)
    for dev in devices.values():
        with contextlib.suppress(Exception):
            ttnn.close_device(dev)
    results["published_entries"] = _publish(entries) if cfg.publish_cache else 0
    results["target_checks"] = report.target_checks(results)
    with contextlib.suppress(OSError, AttributeError):
        results["machine"]["loadavg_end"] = list(os.getloadavg())
    if cfg.compare is not None:
        results["compare"] = report.compare(json.loads(Path(cfg.compare).read_text()), results, cfg.threshold)
        results["compare"]["old_path"] = str(cfg.compare)
    results["wall_s"] = cfg.timer.wall() - t_start
    paths = report.write_outputs(results, Path(cfg.out_dir), plots=cfg.plots)
    results["wall_s"] = cfg.timer.wall() - t_start
    report.render(results, console, paths)
    return results


BENCH_NAMESPACE = "bench"


def _publish(entries: list[tuple[str, dict]]) -> int:
    """Store the run's compiled entries in the bench's namespace of the user's cache (`ttfuse cache -n bench
    list` shows what was built; a model's own entries in the main store never mix with them)."""
    from ttfuse import cache
    from ttfuse.flags import flags

    n = 0
    with flags(cache_namespace=BENCH_NAMESPACE):
        for key, entry in entries:
            with contextlib.suppress(Exception):
                n += bool(cache.disk_store(key, entry))
    return n


# ------------------------------------------------------------------------------------------------- CLI
@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--quick/--full", "quick", default=True, help="Quick sweep (default, a few minutes) or full.")
@click.option(
    "--case", "cases", multiple=True, metavar="NAME", help="Case name, glob or substring (repeatable)."
)
@click.option(
    "--arch", "archs", multiple=True, metavar="KIND", help="Device kind (repeatable); default both."
)
@click.option(
    "--size", "sizes", multiple=True, type=int, metavar="N", help="Override the sizes (repeatable)."
)
@click.option(
    "--compare",
    "compare_with",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    metavar="OLD.json",
    help="Compare with an earlier result and flag regressions.",
)
@click.option("--threshold", default=0.10, show_default=True, help="Relative change flagged by --compare.")
@click.option("--fail-on-regression", is_flag=True, help="Exit 1 when --compare flags a regression.")
@click.option(
    "--torch-compile",
    "torch_compile",
    type=click.Choice(["auto", "all", "none"]),
    default="auto",
    show_default=True,
    help="torch.compile anchor: auto = anchor cases in --quick, all in --full.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default=str(RESULTS_DIR),
    show_default=False,
    help="Results directory (default bench/results).",
)
@click.option("--rounds", "min_rounds", type=int, default=None, help="Minimum timing rounds per row.")
@click.option(
    "--threads",
    type=int,
    default=1,
    show_default=True,
    help="torch intra-op threads (0: torch's default). 1 gives stable medians on a shared machine.",
)
@click.option(
    "--clock",
    type=click.Choice(["cpu", "wall"]),
    default="cpu",
    show_default=True,
    help="Clock of the headline times: process CPU time or wall time (both are in the JSON).",
)
@click.option(
    "--ttboltz",
    default=None,
    metavar="PATH",
    help=f"tt-boltz's src/boltz/model/modules/tenstorrent.py for the hand-tuned columns (default ${TTBOLTZ_ENV}, "
    "else the stand-in tests/fixtures/handtuned_pairformer.py).",
)
@click.option("--no-plots", is_flag=True, help="Skip the PNG plots.")
@click.option("--no-publish", is_flag=True, help="Do not copy compiled entries into the user's cache.")
@click.option("--list", "list_cases", is_flag=True, help="List the cases and exit.")
@click.option("--torch-compile-worker", hidden=True, default=None)
def main(
    quick,
    cases,
    archs,
    sizes,
    compare_with,
    threshold,
    fail_on_regression,
    torch_compile,
    out_dir,
    min_rounds,
    threads,
    clock,
    ttboltz,
    no_plots,
    no_publish,
    list_cases,
    torch_compile_worker,
):
    """Benchmark sweep JIT vs eager on the simulator: tables, bench/results/latest.{json,md}, plots.

    Targets (printed next to each figure, MISSED when missed): cold compile <= 100 ms, warm start from disk
    <= 10 ms and cache-hit overhead <= 20 us per block; JIT sim time / float32 PyTorch reference <= 1.25x;
    predicted device time JIT / hand-tuned TTNN <= 0.9x, traced and untraced (cases with a hand-tuned
    version). JIT vs eager on the simulator is a figure, not a target (both sides run float32 on the CPU;
    device time is the cost model's prediction). Tables fit the terminal ($COLUMNS). Exit status 1 when a
    row FAILED.
    """
    if torch_compile_worker:
        name, _, size = torch_compile_worker.rpartition(":")
        if threads:
            torch.set_num_threads(threads)
        try:
            r = _torch_compile_child(name, int(size), Timer(primary=clock))
        except Exception as e:  # noqa: BLE001
            r = {
                "error": f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"[
                    :300
                ]
            }
        print("TTFUSE-TC " + json.dumps(r), flush=True)
        return
    if list_cases:
        report.list_cases(CASES, PENDING)
        return
    cfg = Config(
        full=not quick,
        cases=tuple(cases),
        archs=tuple(archs) or DEFAULT_ARCHS,
        sizes=tuple(sizes),
        out_dir=Path(out_dir),
        torch_compile=torch_compile,
        compare=Path(compare_with) if compare_with else None,
        threshold=threshold,
        plots=not no_plots,
        publish_cache=not no_publish,
        min_rounds=min_rounds,
        threads=threads,
        timer=Timer(primary=clock),
        ttboltz=ttboltz,
    )
    if cfg.ttboltz and not Path(cfg.ttboltz).is_file():
        raise click.BadParameter(
            f"{cfg.ttboltz}: no such file (tt-boltz's tenstorrent.py)", param_hint="--ttboltz"
        )
    from ttfuse import DeviceError, device_spec

    for a in cfg.archs:  # a bad --arch is a usage error naming the option, before anything runs
        try:
            device_spec(a, source="the --arch option")
        except DeviceError as e:
            raise click.BadParameter(str(e), param_hint="--arch") from None
    try:
        results = run_sweep(cfg)
    except KeyError as e:
        raise click.BadParameter(str(e.args[0]), param_hint="--case") from None
    failed = failures(results)
    if failed:  # a FAILED row is an error of the run, not a figure: `make run` must not look green
        click.echo(f"ttfuse bench: {len(failed)} row(s) FAILED:", err=True)
        for line in failed:
            click.echo(f"  {line}", err=True)
        sys.exit(1)
    if fail_on_regression and results.get("compare", {}).get("regressions"):
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
