"""Smoke test of the `ttfuse bench --quick` sweep (`make run`): every row it measures, on every arch it
covers (Wormhole n150 and Blackhole p150), runs once through the harness (`measure_row` with
`Config(smoke=True)`: build, eager, JIT first call, one cold and one disk-warm compile, hit overhead, one
timing round, the cost-model columns, PCC) at the case's quick size.

A row that ends FAILED (an exception in any step or column) fails its test, named by case, size and arch, with
the step, the error and the traceback: `make run` printed FAILED Blackhole rows while `make test` was green
(the cost columns of a Blackhole compile were checked against the Wormhole). Timings are not checked here.
Unavailable cases (a port or reference package that does not import) are skipped with their reason.
"""

from __future__ import annotations

import pytest

from bench.cases import CASES
from bench.harness import Config, failures, measure_row, quick_jobs
from ttfuse import ttnn

JOBS = quick_jobs()


@pytest.mark.parametrize("name,size,arch", JOBS, ids=[f"{n}-{s}-{a}" for n, s, a in JOBS])
def test_quick_sweep_row_does_not_fail(name, size, arch, tmp_path):
    case = CASES[name]
    why = case.unavailable()
    if why:
        pytest.skip(f"{name}: {why}")
    cfg = Config(
        archs=(arch,), out_dir=tmp_path, torch_compile="none", plots=False, publish_cache=False, smoke=True
    )
    dev = ttnn.open_device(device_id=0, arch=arch)
    try:
        row = measure_row(case, size, arch, dev, cfg)
    finally:
        ttnn.close_device(dev)
    (failed,) = failures({"cases": [row]}) or (None,)
    assert failed is None, f"FAILED {failed}\n{row.get('traceback', '')}"
    # the cost-model columns are filled for every row with a compiled block
    if row["jit_functions"]:
        assert row["predicted_us_jit"] is not None and row["dram_bytes_jit"] is not None, row["case"]
    # a case with a hand-tuned version (boltz.PairformerLayer): its predicted time and JIT / hand-tuned are filled
    if case.handtuned is not None:
        assert row["handtuned_us"] > 0 and row["handtuned_untraced_us"] > row["handtuned_us"], row
        assert row["jit_vs_handtuned"] > 0 and row["jit_vs_handtuned_untraced"] > 0, row
        assert row["handtuned_source"], row


def test_quick_sweep_covers_both_archs():
    """The smoke covers the rows `make run` shows: every quick case on the sweep's default archs (Wormhole n150
    and Blackhole p150), among them the Blackhole attention rows that once FAILED there."""
    assert {a for _, _, a in JOBS} == set(Config().archs) == {"wormhole_b0:n150", "blackhole:p150"}
    assert {n for n, _, _ in JOBS} == set(CASES)
    for name in ("boltz.TriangleAttentionStartingNode", "boltz.AttentionPairBias", "boltz.PairformerLayer"):
        assert (name, 32, "blackhole:p150") in JOBS, name
