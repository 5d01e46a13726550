"""The simulator's profiler outputs (ttfuse/profiler): tt-metal's ops perf CSV and the ttnn report folder.

These tests read the files with the standard library (csv, sqlite3, json); tests/test_profiler_readers.py reads
them with tt-perf-report and ttnn-visualizer themselves. A Boltz Pairformer layer (N=32) runs eagerly and under
jit; both runs' rows must carry the cost model's predictions for the ops that ran.
"""

from __future__ import annotations

import json
import os
import sqlite3

import pytest
import torch

import ttfuse
from tests.conftest import read_csv
from ttfuse import ttnn
from ttfuse.passes.cost import graph_cost
from ttfuse.profiler import PREDICTED_NOTE, from_environment
from ttfuse.profiler.perf_csv import METAL_COLUMNS

pytest.importorskip("boltz")


@pytest.fixture(scope="module")
def pairformer_profile(pairformer32, module_device, tmp_path_factory):
    """The profile of one run of the Pairformer layer (compiled first under jit), and the launches it made."""
    mode, port, args = pairformer32
    out = tmp_path_factory.mktemp(f"prof_{mode}")
    with (
        ttfuse.sim.count_launches(module_device) as launches,
        ttfuse.profile(out, name=f"pairformer_{mode}") as p,
    ):
        port.forward_ttnn(*args)
    return mode, p, launches, port, args


def test_csv_has_tt_metal_columns_and_one_row_per_op(pairformer_profile):
    mode, p, launches, _, _ = pairformer_profile
    rows = read_csv(p.csv_path)
    header = list(rows[0].keys())
    assert header[: len(METAL_COLUMNS)] == METAL_COLUMNS
    assert {"INPUT_0_W_PAD[LOGICAL]", "INPUT_0_DATATYPE", "OUTPUT_0_MEMORY", "DURATION SOURCE"} <= set(header)
    assert len(rows) == len(p.records) > 10
    # the launches the sim counted are the launches the rows say ran
    assert sum(int(r["TTFUSE LAUNCHES"]) for r in rows) == launches.total
    assert all(r["DURATION SOURCE"] == PREDICTED_NOTE for r in rows)
    assert all(int(r["DEVICE KERNEL DURATION [ns]"]) > 0 for r in rows)
    assert all(r["DEVICE ARCH"] == "WORMHOLE_B0" and r["AVAILABLE WORKER CORE COUNT"] == "64" for r in rows)
    assert {r["TTFUSE JIT"] for r in rows} == {"1" if mode == "jit" else "0"}
    codes = {r["OP CODE"] for r in rows}
    assert "MatmulDeviceOperation" in codes or any(c.startswith("ttfuse::kernels.") for c in codes), codes
    # timestamps increase (tt-perf-report sorts by HOST START TS)
    ts = [int(r["HOST START TS"]) for r in rows]
    assert ts == sorted(ts) and len(set(ts)) == len(ts)


def test_jit_run_fuses_what_eager_runs_op_by_op(pairformer_profile, request):
    mode, p, _, _, _ = pairformer_profile
    rows = read_csv(p.csv_path)
    fused = [r for r in rows if r["OP CODE"].startswith("ttfuse::kernels.")]
    if mode == "jit":
        assert fused, {r["OP CODE"] for r in rows}
        # a jit row's program config is in ATTRIBUTES, as tt-metal reports it
        mm = [r for r in rows if r["OP CODE"] == "MatmulDeviceOperation"]
        assert any("ProgramConfig(" in r["ATTRIBUTES"] for r in mm + fused)
    else:
        assert not fused


def test_durations_are_the_cost_models(pairformer_profile, module_device):
    """Each jit row's prediction is the cost model's for its node of `lower().graph` (one source of predictions):
    the profile's ops are the graph's launching nodes, less the parameter-only work the runtime does once per
    weight version (kernels.concat_weights: in the graph, its time kept apart as `once`)."""
    mode, p, _, port, args = pairformer_profile
    assert sum(r.cost().device_us for r in p.records) > 0
    if mode == "jit":
        from collections import Counter

        from models.boltz.common import jitted
        from models.boltz.pairformer import pairformer_layer

        lo = jitted(pairformer_layer).lower(*args, *port.weights, **port._static())
        graph = Counter(
            (n.op, round(n.device_us, 6))
            for n in graph_cost(lo.graph, module_device.spec).nodes
            if n.launches
        )
        prof = Counter((r.op.name, round(r.cost().device_us, 6)) for r in p.records)
        assert not prof - graph, prof - graph
        assert {op for op, _ in graph - prof} <= {"kernels.concat_weights"}, graph - prof


def test_report_db_has_ops_tensors_buffers(pairformer_profile):
    mode, p, _, _, _ = pairformer_profile
    cfg = json.loads((p.report_path / "config.json").read_text())
    assert cfg["enable_logging"] is True and cfg["report_name"] == f"pairformer_{mode}"
    assert cfg["ttfuse_durations"] == PREDICTED_NOTE
    con = sqlite3.connect(p.report_path / "db.sqlite")
    try:
        n_ops = con.execute("select count(*) from operations").fetchone()[0]
        assert n_ops == len(p.records)
        assert con.execute("select min(duration) from operations").fetchone()[0] > 0
        # every op has at least one live buffer after it, DRAM (0) and L1 (1) both appear over the run
        per_op = con.execute("select count(distinct operation_id) from buffers").fetchone()[0]
        assert per_op == n_ops
        kinds = {k for (k,) in con.execute("select distinct buffer_type from buffers")}
        assert 0 in kinds
        # no two live buffers of one op and chip overlap
        rows = con.execute(
            "select operation_id, device_id, buffer_type, address, max_size_per_bank from buffers "
            "order by operation_id, device_id, buffer_type, address"
        ).fetchall()
        for a, b in zip(rows, rows[1:]):
            if a[:3] == b[:3]:
                assert a[3] + a[4] <= b[3], (a, b)
        assert con.execute("select count(*) from input_tensors").fetchone()[0] >= n_ops
        assert con.execute("select count(*) from stack_traces").fetchone()[0] == n_ops
        meta = dict(con.execute("select key, value from report_metadata"))
        assert meta["schema_version"] == "3.5" and meta["durations"] == PREDICTED_NOTE
        args = dict(
            con.execute("select name, value from operation_arguments where operation_id = 0").fetchall()
        )
        assert args["duration_source"] == PREDICTED_NOTE and float(args["predicted_device_kernel_ns"]) > 0
    finally:
        con.close()


def test_nothing_is_recorded_outside_a_profile(device, tmp_path):
    x = ttnn.from_torch(torch.randn(32, 64), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    with ttfuse.profile(tmp_path) as p:
        ttnn.relu(x)
    ttnn.relu(x)  # after the profile ended
    assert [r.op.short for r in p.records] == ["relu"]
    assert not ttfuse.profiler.active_profiles()


def test_profile_needs_a_destination():
    with pytest.raises(ttfuse.TtfuseError, match="output folder"):
        ttfuse.profile()


def test_tt_metal_profiler_switch(tmp_path):
    env = {"TT_METAL_DEVICE_PROFILER": "1", "TT_METAL_PROFILER_DIR": str(tmp_path / "prof")}
    p = from_environment(env, at_exit=False)
    try:
        assert p is not None and p.active and p.report_path is None
        assert p.csv_path.parent.parent == tmp_path / "prof" and p.csv_path.name.startswith(
            "ops_perf_results_"
        )
    finally:
        p.stop()
    assert from_environment({}, at_exit=False) is None
    assert from_environment({"TT_METAL_DEVICE_PROFILER": "0"}, at_exit=False) is None


def test_ttnn_config_enable_logging_writes_the_report(device, tmp_path):
    """ttnn's way: CONFIG.enable_logging with a report_name; the report lands at CONFIG.report_path
    (root_report_path/<name>_<mon><dd>_<HHMM>, as ttnn names it) when logging is switched off."""
    x = ttnn.from_torch(torch.randn(32, 64), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    with ttnn.manage_config("root_report_path", str(tmp_path)), ttnn.manage_config("report_name", "my run"):
        with ttnn.manage_config("enable_logging", True):
            ttnn.relu(x)
            ttnn.exp(x)
        path = ttnn.CONFIG.report_path
        ttnn.relu(x)  # not logged any more
    assert path.parent == tmp_path and path.name.startswith("my_run_")
    cfg = json.loads((path / "config.json").read_text())
    assert cfg["report_name"] == "my run" and cfg["ttfuse_durations"] == PREDICTED_NOTE
    con = sqlite3.connect(path / "db.sqlite")
    try:
        assert [n for (n,) in con.execute("select name from operations order by operation_id")] == [
            "ttnn.relu",
            "ttnn.exp",
        ]
    finally:
        con.close()
    assert ttnn.CONFIG.enable_logging is False and not ttfuse.profiler.active_profiles()
    with pytest.raises(AttributeError, match="no field"):
        ttnn.CONFIG.enable_loging = True


def test_ttnn_config_overrides_env_at_import(tmp_path):
    """TTNN_CONFIG_OVERRIDES is applied when ttnn (here the facade) is imported; the report is written at exit."""
    import subprocess
    import sys

    code = (
        "import torch, ttfuse\n"
        "from ttfuse import ttnn\n"
        "assert ttnn.CONFIG.enable_logging is True\n"
        "dev = ttnn.open_device(device_id=0)\n"
        "x = ttnn.from_torch(torch.randn(32, 32), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=dev)\n"
        "ttnn.softmax(x, dim=-1)\n"
    )
    env = dict(os.environ)
    env["TTNN_CONFIG_OVERRIDES"] = json.dumps(
        {"enable_logging": True, "report_name": "env_run", "root_report_path": str(tmp_path)}
    )
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    (folder,) = list(tmp_path.iterdir())
    assert folder.name.startswith("env_run_")
    con = sqlite3.connect(folder / "db.sqlite")
    try:
        assert [n for (n,) in con.execute("select name from operations")] == ["ttnn.softmax"]
    finally:
        con.close()


def test_mesh_rows_per_chip(tmp_path):
    mesh = ttnn.open_mesh_device(ttnn.MeshShape(1, 2))
    try:
        x = ttnn.from_torch(
            torch.randn(64, 64),
            dtype=ttnn.bfloat16,
            layout=ttnn.TILE_LAYOUT,
            device=mesh,
            mesh_mapper=ttnn.ReplicateTensorToMesh(mesh),
        )
        with ttfuse.profile(tmp_path, report=False) as p:
            ttnn.add(x, x)
        rows = read_csv(p.csv_path)
        assert [r["DEVICE ID"] for r in rows] == ["0", "1"] or len({r["DEVICE ID"] for r in rows}) == 2
        assert p.report_path is None
    finally:
        ttnn.close_mesh_device(mesh)


def test_ttfuse_run_profile(tmp_path):
    """`ttfuse run --profile DIR script.py`: a plain `import ttnn` script, profiled without a line changed."""
    import subprocess
    import sys

    script = tmp_path / "script.py"
    script.write_text(
        "import torch, ttnn\n"
        "dev = ttnn.open_device(device_id=0)\n"
        "x = ttnn.from_torch(torch.randn(64, 64), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=dev)\n"
        "y = ttnn.matmul(ttnn.gelu(x), x)\n"
        "raise SystemExit(3)\n"  # the run's exit code is kept, and the profile still written
    )
    out = tmp_path / "prof"
    r = subprocess.run(
        [sys.executable, "-m", "ttfuse", "run", "--profile", str(out), str(script)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 3, r.stderr
    assert "predicted" in r.stderr
    rows = read_csv(out / "ops_perf_results.csv")
    assert [row["TTFUSE OP"] for row in rows] == ["ttnn.gelu", "ttnn.matmul"]
    assert rows[0]["TTFUSE LOCATION"].endswith("script.py:4")
    con = sqlite3.connect(out / "report" / "db.sqlite")
    try:
        assert con.execute("select count(*) from operations").fetchone()[0] == 2
    finally:
        con.close()
