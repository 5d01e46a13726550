"""ttfuse.numerics vs the real ttnn 0.81.1 host conversion, bit for bit.

One oracle run per session converts every case of conformance/cases.py with ttnn; each test then
compares the simulator's rounding of the same input. A mismatch is a simulator bug: fix numerics.py
and record it in conformance/FINDINGS.md, never loosen the test.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conformance.cases import FLOAT_FORMATS, INT_FORMATS, Case, hard_cases, int_cases, random_cases
from conformance.client import SETUP_HINT, OracleError, oracle_available, run_oracle
from conformance.compare import Comparison, compare_bits
from ttfuse.numerics import round_bf16, round_bfp, round_to_dtype

pytestmark = pytest.mark.conformance


def _all_cases() -> list[Case]:
    return random_cases() + hard_cases() + int_cases()


@pytest.fixture(scope="session")
def ttnn_results() -> dict[str, tuple[Case, np.ndarray]]:
    """label -> (case, ttnn's round trip of case.x), from one oracle run."""
    if not oracle_available():
        pytest.fail(f"ttnn conformance oracle not installed: {SETUP_HINT}", pytrace=False)
    cases = _all_cases()
    request = {"cases": [{"x": c.x, "dtype": c.dtype, "layout": c.layout} for c in cases]}
    try:
        reply = run_oracle("formats", request)
    except OracleError as e:
        pytest.fail(str(e), pytrace=False)
    assert reply["ttnn_version"] == "0.81.1", reply["ttnn_version"]
    return {c.label: (c, y) for c, y in zip(cases, reply["results"], strict=True)}


def _sim(case: Case) -> np.ndarray:
    return round_to_dtype(torch.from_numpy(case.x.copy()), case.dtype).numpy()


def _check_all(results, select, stats, sim=_sim) -> list[Comparison]:
    comps = []
    for label, (case, expected) in results.items():
        if select(case):
            comp = compare_bits(label, sim(case), expected, inputs=case.x)
            stats["compared"][case.dtype] += comp.compared
            stats["mismatches"][case.dtype] += comp.mismatches
            stats["cases"][case.dtype] += 1
            comps.append(comp)
    assert comps, "no case selected"
    failed = [c for c in comps if not c.ok]
    if failed:
        total = sum(c.mismatches for c in failed)
        details = "\n".join(str(_error(c)) for c in failed[:8])
        raise AssertionError(f"{len(failed)} cases, {total} values differ from ttnn:\n{details}")
    return comps


def _error(comp: Comparison) -> AssertionError | None:
    try:
        comp.check()
    except AssertionError as e:
        return e
    return None


@pytest.mark.parametrize("fmt", [*FLOAT_FORMATS, "float32"])
def test_random_data_bit_exact(ttnn_results, conformance_stats, fmt):
    comps = _check_all(ttnn_results, lambda c: c.dtype == fmt and "/hard/" not in c.label, conformance_stats)
    assert sum(c.compared for c in comps) > 1000


@pytest.mark.parametrize("fmt", FLOAT_FORMATS)
def test_hard_cases_bit_exact(ttnn_results, conformance_stats, fmt):
    _check_all(ttnn_results, lambda c: c.dtype == fmt and "/hard/" in c.label, conformance_stats)


@pytest.mark.parametrize("fmt", INT_FORMATS)
def test_float_to_int_conversion(ttnn_results, conformance_stats, fmt):
    comps = _check_all(ttnn_results, lambda c: c.dtype == fmt, conformance_stats)
    assert any("out_of_range" in c.label for c in comps)


# --- the checker itself: a planted error must be caught -------------------------------------------


def _bf16_ties_away(x: torch.Tensor) -> torch.Tensor:
    """Wrong on purpose: bfloat16 rounding with ties away from zero (one ulp off on even ties)."""
    u = x.contiguous().view(torch.int32)
    return ((u + 0x8000) & -(1 << 16)).view(torch.float32)


def _bfp_true_rne(x: torch.Tensor, mantissa_bits: int) -> torch.Tensor:
    """Wrong on purpose: block float with exact round-to-nearest (no truncation before rounding)."""
    pad = (-x.shape[-1]) % 16
    xp = torch.nn.functional.pad(x.reshape(-1, x.shape[-1]).double(), (0, pad)).reshape(-1, 16)
    e = (xp.float().view(torch.int32) >> 23) & 0xFF
    shared = e.amax(dim=1, keepdim=True).double()
    step = torch.exp2(shared - 127 - (mantissa_bits - 1))
    limit = (2**mantissa_bits - 1) * step
    q = (torch.round(xp / step) * step).clamp(-limit, limit)
    q = torch.where(e == 0, 0.0, q) + 0.0
    return q.reshape(-1, x.shape[-1] + pad)[:, : x.shape[-1]].reshape(x.shape).float()


def test_checker_catches_planted_bf16_error(ttnn_results):
    sim = lambda c: _bf16_ties_away(torch.from_numpy(c.x.copy())).numpy()  # noqa: E731
    case, expected = ttnn_results["bfloat16/ties_bf16/(32, 32)"]
    comp = compare_bits(case.label, sim(case), expected, inputs=case.x)
    assert comp.mismatches > 0, "a ties-away-from-zero bf16 rounding went unnoticed"
    with pytest.raises(AssertionError, match="values differ from ttnn"):
        comp.check()
    # and the real implementation passes the very same comparison
    good = round_bf16(torch.from_numpy(case.x.copy())).numpy()
    assert compare_bits(case.label, good, expected).ok


def test_checker_catches_planted_bfp_error(ttnn_results):
    case, expected = ttnn_results["bfloat8_b/hard/tile"]
    wrong = _bfp_true_rne(torch.from_numpy(np.nan_to_num(case.x, nan=0.0, posinf=0.0, neginf=0.0)), 7)
    finite = np.isfinite(expected).all(axis=1) & np.isfinite(case.x).all(axis=1)
    comp = compare_bits(case.label, wrong.numpy()[finite], expected[finite])
    assert comp.mismatches > 0, "exact RNE instead of truncate-then-round went unnoticed"
    good = round_bfp(torch.from_numpy(case.x.copy()), 7).numpy()
    assert compare_bits(case.label, good, expected).ok


def test_blackhole_host_conversion_is_the_same(conformance_stats):
    """The packer is host code shared by both arches; check with the Blackhole p150 descriptor."""
    if not oracle_available():
        pytest.fail(f"ttnn conformance oracle not installed: {SETUP_HINT}", pytrace=False)
    cases = [c for c in hard_cases() if "/hard/rank1/" not in c.label]
    reply = run_oracle(
        "formats", {"arch": "blackhole", "cases": [{"x": c.x, "dtype": c.dtype} for c in cases]}
    )
    for case, expected in zip(cases, reply["results"], strict=True):
        comp = compare_bits(f"blackhole/{case.label}", _sim(case), expected, inputs=case.x).check()
        conformance_stats["compared"][case.dtype] += comp.compared
        conformance_stats["cases"][case.dtype] += 1
