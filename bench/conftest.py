"""Benchmark plumbing: the `target` fixture records a measured figure next to its target.

Every bench test that has a target calls `target("sim linear / torch", ratio, 1.3, "x")`; the terminal summary
prints all figures with MET / MISSED, so a missed target is always visible and never fails the run
(targets are reported, not asserted: timings on a shared 2-core machine are not pass/fail material).
With --benchmark-disable (as `make test` runs them) each bench body runs once as a smoke test.
"""

from __future__ import annotations

import statistics
import time

import pytest

_RESULTS: list[tuple[str, float, float, str, bool, bool]] = []


@pytest.fixture
def target():
    def record(name: str, value: float, limit: float, unit: str = "", higher_is_better: bool = False) -> bool:
        ok = value >= limit if higher_is_better else value <= limit
        _RESULTS.append((name, value, limit, unit, higher_is_better, ok))
        return ok

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
    if not _RESULTS:
        return
    tr = terminalreporter
    tr.section("ttfuse targets (medians; MISSED targets are reported, never hidden)")
    for name, value, limit, unit, hib, ok in _RESULTS:
        cmp = ">=" if hib else "<="
        tr.write_line(
            f"  {'MET   ' if ok else 'MISSED'}  {name:<58} {value:10.3f} {unit:<6} target {cmp} {limit:g} {unit}"
        )
