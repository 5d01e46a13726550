"""Conformance tests: the simulator compared bit-exactly with the real ttnn wheel (ground truth).

They need conformance/.venv312 (``make conformance`` builds it); without it they FAIL with that hint.
``TTFUSE_CONFORMANCE=0`` leaves this directory out of collection (``make test-fast``).
At the end of the session the number of values compared per dtype is printed.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # the `conformance` package lives at the repo root

if os.environ.get("TTFUSE_CONFORMANCE", "1") == "0":
    collect_ignore_glob = ["test_*.py"]

_STATS: dict[str, Counter] = {"compared": Counter(), "mismatches": Counter(), "cases": Counter()}


@pytest.fixture(scope="session")
def conformance_stats() -> dict[str, Counter]:
    """Counters keyed by dtype: values compared, values mismatching, cases run."""
    return _STATS


def pytest_terminal_summary(terminalreporter) -> None:
    compared = _STATS["compared"]
    if not compared:
        return
    total = sum(compared.values())
    bad = sum(_STATS["mismatches"].values())
    per = ", ".join(f"{k} {v:,} in {_STATS['cases'][k]} cases" for k, v in sorted(compared.items()))
    terminalreporter.write_sep("-", "ttnn conformance")
    terminalreporter.write_line(
        f"values compared bit-exactly with ttnn: {total:,} ({per}); mismatches: {bad:,}"
    )
