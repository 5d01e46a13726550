"""Benchmark plumbing: the `target` fixture records a measured figure next to its target, `figure` one without.

Every bench test that has a target calls `target("sim linear / torch", ratio, 1.3, "x")`; the terminal summary
prints all figures with MET / MISSED, so a missed target is always visible and never fails the run
(targets are reported, not asserted: timings on a shared 2-core machine are not pass/fail material).
`figure(...)` records a figure that has no target: the simulator's wall-time JIT-vs-eager ratios (both sides run
the same float32 math on the CPU, so they say nothing about a chip; the cost model predicts device time).
Absolute figures (us, ms, s, GB/s) carry the 1-minute load average at the moment they were recorded: on a busy
machine they move with the load, ratios measured side by side much less.
With --benchmark-disable (as `make test` runs them) each bench body runs once as a smoke test.
"""

from __future__ import annotations

import os
import statistics
import time

import pytest

_RESULTS: list[tuple[str, float, float, str, bool, bool, str]] = []
_FIGURES: list[tuple[str, float, str, str]] = []
_ABSOLUTE_UNITS = {"us", "ms", "s", "GB/s"}
_LOAD_START = os.getloadavg()[0]


def _load_note(unit: str) -> str:
    return f"(load {os.getloadavg()[0]:.1f})" if unit in _ABSOLUTE_UNITS else ""


@pytest.fixture
def target():
    def record(name: str, value: float, limit: float, unit: str = "", higher_is_better: bool = False) -> bool:
        ok = value >= limit if higher_is_better else value <= limit
        _RESULTS.append((name, value, limit, unit, higher_is_better, ok, _load_note(unit)))
        return ok

    return record


@pytest.fixture
def figure():
    def record(name: str, value: float, unit: str = "") -> None:
        _FIGURES.append((name, value, unit, _load_note(unit)))

    return record


def median_time(fn, *, repeat: int = 7, number: int = 1, warmup: int = 1) -> float:
    """Median seconds per call of `fn` over `repeat` rounds of `number` calls (after `warmup` calls)."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - t0) / number)
    return statistics.median(samples)


def pytest_terminal_summary(terminalreporter):
    if not _RESULTS and not _FIGURES:
        return
    tr = terminalreporter
    tr.section("ttfuse targets (medians; MISSED targets are reported, never hidden)")
    tr.write_line(
        f"  load average {_LOAD_START:.1f} at start, {os.getloadavg()[0]:.1f} now, on {os.cpu_count()} CPUs: "
        "absolute figures (us, ms, GB/s) move with it"
    )
    for name, value, limit, unit, hib, ok, load in _RESULTS:
        cmp = ">=" if hib else "<="
        tr.write_line(
            f"  {'MET   ' if ok else 'MISSED'}  {name:<58} {value:10.3f} {unit:<6} target {cmp} {limit:g} {unit} {load}"
        )
    for name, value, unit, load in _FIGURES:
        tr.write_line(f"  figure  {name:<58} {value:10.3f} {unit:<6} (no target) {load}")
