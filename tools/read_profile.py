"""Read a simulator profile back with the readers TT developers use: tt-perf-report and ttnn-visualizer.

    .venv-profiler/bin/python tools/read_profile.py --csv prof/ops_perf_results.csv --report prof/report [--json]

Runs in the readers' own venv (tools/setup_profiler_venv.sh: their pins would replace packages of .venv), imports
their packages and calls their own code, nothing copied:
- tt-perf-report: `generate_perf_report` on the CSV with its `--csv` output, which is read back (one row per op
  it understood, with the device time it took from DEVICE KERNEL DURATION [ns]);
- ttnn-visualizer: its Flask app (`create_app`), an instance made by `create_instance_from_local_paths` from the
  report folder (db.sqlite) and the folder holding the CSV, exactly what `ttnn-visualizer --profiler-path
  --performance-path` does, then its REST API: /api/operations, /api/operation-buffers/<id>, /api/devices,
  /api/tensors, /api/performance/perf-results.
Prints a JSON summary (`--json`) that tests/test_profiler_readers.py checks; exits 1 when a reader fails.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import sys
import tempfile
from pathlib import Path


def perf_report(csv_path: Path) -> dict:
    from tt_perf_report.perf_report import generate_perf_report

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.csv"
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            generate_perf_report(
                [str(csv_path)], None, None, False, False, 0, None, None, str(out), True, False, False, False,
                True, None, False, None, True, True, None, False,
            )  # fmt: skip
        rows = list(csv.DictReader(open(out)))
    text = buf.getvalue()
    return {
        "rows": len(rows),
        "columns": list(rows[0].keys()) if rows else [],
        "op_codes": [r.get("OP Code") for r in rows],
        "device_time_us": [r.get("Device Time [μs]") or r.get("Device Time") for r in rows],
        "cores": [r.get("Cores") for r in rows],
        "architecture_line": next((ln for ln in text.splitlines() if "Architecture" in ln), ""),
        "format_line": next((ln for ln in text.splitlines() if "CSV format" in ln), ""),
    }


def visualizer(report: Path, perf_dir: Path | None) -> dict:
    from ttnn_visualizer.app import create_app
    from ttnn_visualizer.extensions import db
    from ttnn_visualizer.instances import create_instance_from_local_paths

    with tempfile.TemporaryDirectory() as tmp:
        settings = {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/app.db",
            "APP_DATA_DIRECTORY": tmp,
            "REPORT_DATA_DIRECTORY": tmp,
            "SERVER_MODE": False,
            "TT_METAL_HOME": None,
            "USE_WEBSOCKETS": False,
        }
        app = create_app(settings_override=settings)
        with app.app_context():
            inst = create_instance_from_local_paths(str(report), str(perf_dir) if perf_dir else None)
            iid = inst.instance_id
        client = app.test_client()

        def get(url: str):
            sep = "&" if "?" in url else "?"
            r = client.get(f"{url}{sep}instanceId={iid}")
            if r.status_code != 200:
                raise RuntimeError(f"GET {url}: HTTP {r.status_code}: {r.get_data(as_text=True)[:500]}")
            return r.get_json()

        ops = get("/api/operations")
        first = ops[0]["id"] if ops else 0
        op_bufs = get(f"/api/operation-buffers/{first}")
        devices = get("/api/devices")
        tensors = get("/api/tensors")
        out = {
            "operations": len(ops),
            "names": [o.get("name") for o in ops],
            "durations": [o.get("duration") for o in ops],
            "arguments_of_first": {a["name"]: a["value"] for a in ops[0].get("arguments", [])} if ops else {},
            "inputs_of_first": len(ops[0].get("inputs", [])) if ops else 0,
            "outputs_of_first": len(ops[0].get("outputs", [])) if ops else 0,
            "stack_trace_of_first": ops[0].get("stack_trace") if ops else None,
            "buffers_of_first": len(op_bufs.get("buffers", []))
            if isinstance(op_bufs, dict)
            else len(op_bufs),
            "devices": len(devices),
            "tensors": len(tensors),
        }
        if perf_dir is not None:
            perf = get("/api/performance/perf-results")
            out["perf_results"] = len(perf) if isinstance(perf, list) else len(perf.get("data", []))
        with app.app_context():
            db.session.remove()
        return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--csv", type=Path, help="ops_perf_results.csv")
    ap.add_argument("--report", type=Path, help="the report folder (config.json + db.sqlite)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    a = ap.parse_args(argv)
    res = {}
    if a.csv:
        res["tt_perf_report"] = perf_report(a.csv)
    if a.report:
        res["ttnn_visualizer"] = visualizer(a.report, a.csv.parent if a.csv else None)
    if a.json:
        print(json.dumps(res))
    else:
        for k, v in res.items():
            print(k)
            for kk, vv in v.items():
                print(f"  {kk}: {vv if not isinstance(vv, list) or len(vv) < 8 else vv[:8] + ['...']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
