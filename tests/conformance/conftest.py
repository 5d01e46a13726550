"""Conformance tests: ttfuse compared with the real ttnn wheel (ground truth): data formats bit-exactly, config
objects field by field, the facade's API (names, keywords, enums) and the ttnn backend's code (names resolved).

They need conformance/.venv312 (``make conformance`` builds it); without it they FAIL with that hint.
``TTFUSE_CONFORMANCE=0`` leaves this directory out of collection (``make test-fast``).
Each oracle command runs once per session (session fixtures below); at the end of the session the counts are
printed: values compared per dtype, configs and fields compared, ops / names / keywords checked, names resolved.
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
# section -> counter: "api" (names, op, keywords, enum_value, ...), "configs", "backend"; "notes" -> messages
_COUNTS: dict[str, Counter] = {"api": Counter(), "configs": Counter(), "backend": Counter()}
_NOTES: list[str] = []

# names sent with the facade's own in the one `api` request, for the tests of the checker (planted mismatches)
PLANTED_NAMES = (
    "ttnn.ttfuse_planted_op",
    "ttnn.experimental.ttfuse_planted_op",
    "ttnn.UnaryOpType.TTFUSE_PLANTED",
)


@pytest.fixture(scope="session")
def conformance_stats() -> dict[str, Counter]:
    """Counters keyed by dtype: values compared, values mismatching, cases run."""
    return _STATS


@pytest.fixture(scope="session")
def conformance_counts() -> dict[str, Counter]:
    """Counters printed at the end: api / configs / backend sections."""
    return _COUNTS


@pytest.fixture(scope="session")
def conformance_notes() -> list[str]:
    """Lines printed at the end (e.g. model blocks that could not be lowered)."""
    return _NOTES


def record_counts(c: Counter, report, **extra: int) -> None:
    """A check report's counts (its own, then `extra`, errors, known findings) into one summary section, once."""
    if not c:
        c.update(report.counts)
        c.update(extra)
        c["errors"] = len(report.errors)
        c["known"] = sum(f.resolution.startswith("known") for f in report.findings)


def fail_on(findings, what: str) -> None:
    """Fail with every finding listed, after `what` (what they are and how to resolve them)."""
    if findings:
        raise AssertionError(f"{len(findings)} {what}:\n" + "\n".join(map(str, findings)))


def oracle(command: str, payload: dict) -> dict:
    """Run an oracle command; a missing venv or an oracle failure fails the test with the reason."""
    from conformance.client import SETUP_HINT, OracleError, oracle_available, run_oracle

    if not oracle_available():
        pytest.fail(f"ttnn conformance oracle not installed: {SETUP_HINT}", pytrace=False)
    try:
        reply = run_oracle(command, payload)
    except OracleError as e:
        pytest.fail(str(e), pytrace=False)
    assert reply["ttnn_version"] == "0.81.1", reply["ttnn_version"]
    return reply


@pytest.fixture(scope="session")
def oracle_call():
    """`oracle_call(command, payload) -> reply` (fails the test when the oracle is missing or fails)."""
    return oracle


@pytest.fixture(scope="session")
def api_surface():
    from conformance.api_check import facade_surface

    return facade_surface()


@pytest.fixture(scope="session")
def api_reply(api_surface) -> dict:
    """The oracle's `api` description of every facade name (and the planted names), from one run."""
    from conformance.api_check import oracle_names

    return oracle("api", {"names": sorted({*oracle_names(api_surface), *PLANTED_NAMES})})


@pytest.fixture(scope="session")
def lowered_corpus():
    """(lowered, failed): the backend corpus (small functions, Boltz and SD3.5 blocks) lowered by ttfuse.jit."""
    from conformance import backend_corpus as bc
    from ttfuse import ttnn

    cases = bc.small_cases()
    failed: list[tuple[str, str]] = []
    dev = ttnn.open_device(device_id=0)
    try:
        try:
            more, f = bc.boltz_cases(dev)
            cases += more
            failed += f
        except ImportError as e:  # boltz not installed: report, the rest still runs
            failed.append(("boltz blocks", f"ImportError: {e}"))
    finally:
        ttnn.close_device(dev)
    mesh = ttnn.open_mesh_device(ttnn.MeshShape(1, 1))
    try:
        try:
            more, f = bc.sd35_cases(mesh)
            cases += more
            failed += f
        except ImportError as e:
            failed.append(("sd35 blocks", f"ImportError: {e}"))
        lowered, f = bc.lower_all(cases)
    finally:
        ttnn.close_mesh_device(mesh)
    failed += f
    for name, err in failed:
        _NOTES.append(f"not checked (could not capture or lower): {name}: {err}")
    return lowered, failed


def pytest_terminal_summary(terminalreporter) -> None:
    compared = _STATS["compared"]
    if not compared and not any(_COUNTS.values()):
        return
    terminalreporter.write_sep("-", "ttnn conformance")
    if compared:
        total = sum(compared.values())
        bad = sum(_STATS["mismatches"].values())
        per = ", ".join(f"{k} {v:,} in {_STATS['cases'][k]} cases" for k, v in sorted(compared.items()))
        terminalreporter.write_line(
            f"values compared bit-exactly with ttnn: {total:,} ({per}); mismatches: {bad:,}"
        )
    api = _COUNTS["api"]
    if api:
        terminalreporter.write_line(
            f"API names checked against ttnn: {api['names']} ({api['op']} ops, {api['class']} classes, "
            f"{api['enum']} enums with {api['enum_value']} values, {api['function']} functions, "
            f"{api['constant']} constants, {api['attribute']} attributes); keywords checked: {api['keywords']} "
            f"({api['op_keywords']} of ops); errors: {api['errors']}, known: {api['known']}, "
            f"extensions: {api['extensions']}"
        )
    cfg = _COUNTS["configs"]
    if cfg:
        terminalreporter.write_line(
            f"configs constructed as the real ttnn class and compared: {cfg['configs']} ({cfg['selected']} from "
            f"the selection sweep, {cfg['graph']} from lowered graphs, {cfg['samples']} class samples), "
            f"{cfg['fields']} fields; {cfg['classes']} classes' schemas ({cfg['schema fields']} fields); "
            f"errors: {cfg['errors']}"
        )
    be = _COUNTS["backend"]
    if be:
        terminalreporter.write_line(
            f"ttnn backend code: {be['sources']} sources ({be['graphs']} generated, {be['rules']} kernel ttnn "
            f"rules); names resolved in ttnn: {be['names']} ({be['references']} references), call keywords "
            f"checked: {be['keywords']}, config literals evaluated: {be['expressions']}; errors: {be['errors']}, "
            f"known: {be['known']}"
        )
    for line in _NOTES:
        terminalreporter.write_line(line)
