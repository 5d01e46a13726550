"""The simulator's profile read back by the tools TT developers use: tt-perf-report and ttnn-visualizer.

A Boltz Pairformer layer (N=32) runs eagerly and under jit inside `ttfuse.profile`; tools/read_profile.py, run in
.venv-profiler (tools/setup_profiler_venv.sh, made by `make test`), calls tt-perf-report's `generate_perf_report`
on the CSV and serves the report folder through ttnn-visualizer's own Flask app and REST API. The readers must
see every op, its predicted duration, its tensors and its buffers.

Without .venv-profiler the tests skip, except under CI or TTFUSE_REQUIRE_PROFILER_READERS=1, where they fail.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

import ttfuse
from tests.conftest import read_csv

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("TTFUSE_PROFILER_VENV", ROOT / ".venv-profiler"))
READER = VENV / "bin" / "python"

pytest.importorskip("boltz")

if not READER.exists():
    if os.environ.get("CI") or os.environ.get("TTFUSE_REQUIRE_PROFILER_READERS"):
        raise RuntimeError(f"{READER} is missing: run `bash tools/setup_profiler_venv.sh` (make test does)")
    pytest.skip("no .venv-profiler (bash tools/setup_profiler_venv.sh makes it)", allow_module_level=True)


def read_back(p) -> dict:
    cmd = [str(READER), str(ROOT / "tools" / "read_profile.py"), "--json"]
    if p.csv_path is not None:
        cmd += ["--csv", str(p.csv_path)]
    if p.report_path is not None:
        cmd += ["--report", str(p.report_path)]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TT_METAL_HOME")}
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def read(pairformer32, tmp_path_factory):
    mode, port, args = pairformer32
    with ttfuse.profile(tmp_path_factory.mktemp(f"readers_{mode}"), name=mode) as p:
        port.forward_ttnn(*args)
    return mode, p, read_back(p)


def test_tt_perf_report_reads_every_op(read):
    mode, p, got = read
    rep = got["tt_perf_report"]
    rows = read_csv(p.csv_path)
    assert "v2.1" in rep["format_line"] and "wormhole" in rep["architecture_line"].lower()
    assert rep["rows"] == len(rows) == len(p.records)
    # the device time it reports is the CSV's predicted kernel duration, op by op (it prints microseconds)
    theirs = [float(t) for t in rep["device_time_us"]]
    ours = [int(r["DEVICE KERNEL DURATION [ns]"]) / 1e3 for r in rows]
    assert theirs == pytest.approx(ours, rel=1e-3, abs=1e-3)
    assert all(t > 0 for t in theirs)
    # it recognised the matmuls (its op code gains the M x K x N it parsed from our INPUT_/OUTPUT_ columns)
    mm = [c for c in rep["op_codes"] if c.startswith("MatmulDeviceOperation")]
    if mode == "eager":
        assert mm and all(" x " in c for c in mm), rep["op_codes"]
    assert [int(c) for c in rep["cores"]] == [int(r["CORE COUNT"]) for r in rows]


def test_ttnn_visualizer_loads_ops_tensors_buffers(read):
    mode, p, got = read
    vis = got["ttnn_visualizer"]
    assert vis["operations"] == len(p.records) > 10
    assert vis["names"] == [r.op.qualname for r in p.records]
    assert vis["durations"] == pytest.approx([r.cost().device_us / 1e6 for r in p.records], rel=1e-9)
    args = vis["arguments_of_first"]
    assert "predicted" in args["duration_source"] and float(args["predicted_device_kernel_ns"]) > 0
    assert args["jit"] == ("true" if mode == "jit" else "false")
    assert vis["inputs_of_first"] >= 1 and vis["outputs_of_first"] >= 1
    assert vis["buffers_of_first"] >= 2  # the inputs' and the output's buffers at least
    assert vis["devices"] == 1 and vis["tensors"] >= vis["operations"]
    assert (
        "test_profiler.py" in (vis["stack_trace_of_first"] or "")
        or "models/boltz" in vis["stack_trace_of_first"]
    )
    # the performance view of the same instance reads the CSV (tt-perf-report inside ttnn-visualizer)
    assert vis["perf_results"] == len(p.records)
