"""The bench harness itself (bench/harness.py, bench/report.py): known timings through a fake clock, the JSON
schema, --compare flagging a planted regression, a failing case recorded (not fatal), one real JIT case end to
end, and the `ttfuse bench` wiring. No sleeping: fake cases advance a fake clock.
"""

from __future__ import annotations

import copy
import io
import json
import re

import pytest
import torch
from click.testing import CliRunner
from rich.console import Console

from bench import report
from bench.cases import Built, Case, Inputs
from bench.harness import REQUIRED_KEYS, Config, Timer, run_sweep
from ttfuse import ttnn

LOAD_LABEL = re.compile(r"\(load \d+\.\d\)\s*$")  # bench/conftest.py's label of an absolute figure


class FakeClock:
    def __init__(self):
        self.t = 100.0

    def __call__(self) -> float:
        return self.t

    def work(self, seconds: float):
        """A callable that 'takes' `seconds` on the fake clock and returns a fixed tensor."""

        def run(*_):
            self.t += seconds
            return torch.arange(8, dtype=torch.float32)

        return run


def fake_case(clock: FakeClock, name="fake.block", eager=0.010, jit=0.004, ref=0.005, **kw) -> Case:
    def build(size, device):
        return Built(clock.work(eager * size), clock.work(jit * size), clock.work(ref * size), Inputs((), ()))

    return Case(name, build, quick=(1,), full=(1, 2), **kw)


def _config(tmp_path, clock: FakeClock | None = None, **kw) -> Config:
    timer = Timer(wall=clock, cpu=clock) if clock else Timer()
    kw = {"archs": ("wormhole_b0",), "plots": False, **kw}
    return Config(out_dir=tmp_path, torch_compile="none", publish_cache=False, timer=timer, **kw)


def _run(cfg: Config, cases: dict) -> tuple[dict, str]:
    buf = io.StringIO()
    results = run_sweep(cfg, {c.name: c for c in cases.values()}, console=Console(file=buf, width=250))
    return results, buf.getvalue()


def test_known_timings_and_marks(tmp_path):
    clock = FakeClock()
    results, text = _run(_config(tmp_path, clock), {"a": fake_case(clock)})
    (row,) = results["cases"]
    assert row["status"] == "ok", row.get("traceback")
    assert row["eager_ms"] == pytest.approx(10.0)
    assert row["jit_ms"] == pytest.approx(4.0)
    assert row["speedup"] == pytest.approx(2.5)
    assert row["reference_ms"] == pytest.approx(5.0)
    assert row["jit_vs_reference"] == pytest.approx(0.8)
    assert row["samples"]["jit_vs_reference"] == pytest.approx([0.8] * row["rounds"])
    assert row["pcc"] == pytest.approx(1.0)
    assert row["launches_eager"] == row["launches_jit"] == 0
    assert (
        row["compile_cold_ms"] is None and row["hit_overhead_us"] is None
    )  # no ttfuse.jit call: not measured
    assert len(row["samples"]["eager_ms"]) == row["rounds"] >= 3
    assert row["samples"]["jit_ms"] == pytest.approx([4.0] * row["rounds"])
    # the simulator's JIT-vs-eager ratio is a figure (both sides run float32 on the CPU): shown, never marked;
    # JIT / the float32 reference is a target (<= 1.25x: the price of emulating TT numerics)
    assert "2.50x" in text and "2.50x ✓" not in text and "2.50x ✗" not in text
    assert "0.80x ✓" in text
    checks = {c["what"]: c["met"] for c in results["target_checks"]}
    # no hand-tuned version: the hand-tuned targets do not apply (not counted as "not measured" either)
    assert set(checks) == {"hit_overhead_us", "compile_cold_ms", "compile_warm_ms", "jit_vs_reference"}
    assert checks["jit_vs_reference"] is True
    assert checks["compile_cold_ms"] is None  # not measured, never counted as met


def test_full_mode_sizes_and_json_schema(tmp_path):
    clock = FakeClock()
    results, _ = _run(_config(tmp_path, clock, full=True), {"a": fake_case(clock)})
    assert [r["size"] for r in results["cases"]] == [1, 2]
    assert results["cases"][1]["eager_ms"] == pytest.approx(20.0)
    data = json.loads((tmp_path / "latest.json").read_text())
    stamped = [p for p in tmp_path.glob("*.json") if p.name != "latest.json"]
    assert len(stamped) == 1 and json.loads(stamped[0].read_text()) == data
    assert (tmp_path / "latest.md").read_text().startswith("# ttfuse bench (full)")
    for key in ("machine", "versions", "targets", "cases", "created", "mode", "clock", "wall_s"):
        assert key in data, key
    assert data["machine"]["cpus"] and data["versions"]["torch"] == torch.__version__
    for row in data["cases"]:
        for key, types in REQUIRED_KEYS.items():
            assert key in row, key
            assert row[key] is None or isinstance(row[key], types), (key, row[key])
            if key in ("case", "size", "arch", "eager_ms", "jit_ms", "speedup"):
                assert row[key] is not None, key
        assert isinstance(row["samples"], dict) and row["samples"]["eager_ms"]
        assert row["torch_compile_ms"] is None  # --torch-compile none


def test_failing_case_is_recorded_not_fatal(tmp_path):
    clock = FakeClock()

    def boom(*_):
        raise RuntimeError("boom in the jit path")

    def broken_build(size, device):
        raise ImportError("no such port")

    def build_failing_jit(size, device):
        return Built(clock.work(0.01), boom, None, Inputs((), ()))

    cases = {
        "x": Case("fake.jit_fails", build_failing_jit, (1,), (1,)),
        "y": Case("fake.build_fails", broken_build, (1,), (1,)),
        "z": fake_case(clock, "fake.ok"),
        "w": Case("fake.missing", broken_build, (1,), (1,), requires=lambda: "port not written yet"),
    }
    results, text = _run(_config(tmp_path, clock), cases)
    rows = {r["case"]: r for r in results["cases"]}
    assert rows["fake.ok"]["status"] == "ok"
    assert rows["fake.jit_fails"]["status"] == "failed"
    assert rows["fake.jit_fails"]["error"] == "RuntimeError: boom in the jit path"
    assert rows["fake.jit_fails"]["failed_step"].startswith("jit")
    assert rows["fake.jit_fails"]["launches_eager"] == 0  # what was measured before the failure is kept
    assert rows["fake.build_fails"]["failed_step"] == "build"
    assert "Traceback" in rows["fake.build_fails"]["traceback"]
    assert results["unavailable"] == [{"case": "fake.missing", "reason": "port not written yet"}]
    assert "FAILED fake.jit_fails" in text and "not run: fake.missing" in text
    # one tally for the terminal and the markdown: a FAILED row's targets count as MISSED, never dropped
    tally = report.summary(results)
    assert len(tally.failed_rows) == 2 and len(tally.unavailable) == 1 and tally.rows == 3
    assert sum(1 for c in tally.missed if c["failed"]) == 2 * 4  # four targets on each FAILED row
    assert tally.line() in text and tally.line() in (tmp_path / "latest.md").read_text()
    assert "rows: 1 ok, 2 FAILED; cases not run: 1" in tally.line()
    assert json.loads((tmp_path / "latest.json").read_text())["cases"][0]["status"] == "failed"


def test_compare_flags_a_planted_regression(tmp_path):
    clock = FakeClock()
    results, _ = _run(_config(tmp_path / "new", clock), {"a": fake_case(clock)})
    old = copy.deepcopy(results)
    old["cases"][0].update(speedup=4.0, jit_ms=2.5)  # the old run was faster: the new one regressed
    cmp = report.compare(old, results, threshold=0.10)
    assert len(cmp["regressions"]) == 1 and "speedup 4 -> 2.5" in cmp["regressions"][0]
    assert cmp["rows"][0]["metrics"]["jit_ms"]["regressed"]
    assert not cmp["rows"][0]["metrics"]["eager_ms"]["regressed"]
    # within the threshold: no flag; an improvement is never a regression
    assert not report.compare(copy.deepcopy(results), results)["regressions"]
    better = copy.deepcopy(results)
    better["cases"][0].update(speedup=1.0, jit_ms=10.0)
    assert not report.compare(better, results)["regressions"]
    # through the harness: --compare OLD.json
    old_path = tmp_path / "old.json"
    old_path.write_text(json.dumps(old))
    results2, text = _run(_config(tmp_path / "again", clock, compare=old_path), {"a": fake_case(clock)})
    assert results2["compare"]["regressions"] and "REGRESSION" in text
    assert "REGRESSION" in (tmp_path / "again" / "latest.md").read_text()


def chain(x, y):
    return ttnn.multiply(ttnn.relu(ttnn.add(x, y)), y)


def build_chain(size, device):
    import ttfuse

    g = torch.Generator().manual_seed(0)
    xs = [torch.randn(size, 64, generator=g).bfloat16().float() for _ in range(2)]
    tt = tuple(ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device) for x in xs)
    return Built(chain, ttfuse.jit(chain), lambda x, y: torch.relu(x + y) * y, Inputs(tt, tuple(xs)))


def test_real_jit_case_end_to_end(tmp_path):
    """A small real case with the real clocks: every figure is filled; JSON, markdown and both PNGs exist."""
    cfg = _config(tmp_path, archs=("wormhole_b0", "blackhole"), plots=True, min_rounds=2)
    results, text = _run(cfg, {"c": Case("test.chain", build_chain, (64,), (64,))})
    assert [r["arch"] for r in results["cases"]] == ["wormhole_b0", "blackhole"]
    for row in results["cases"]:
        assert row["status"] == "ok", row.get("traceback")
        assert row["launches_eager"] == 3 and 1 <= row["launches_jit"] <= 3
        assert row["jit_functions"] == [f"{__name__}.chain"]
        assert row["compile_cold_ms"] > 0 and row["compile_warm_ms"] > 0 and row["hit_overhead_us"] > 0
        assert row["dram_bytes_eager"] >= row["dram_bytes_jit"] > 0
        assert row["predicted_us_eager"] > 0 and row["predicted_us_jit"] > 0 and row["predicted_source"]
        assert row["pcc"] > 0.999 and row["speedup"] > 0
        assert row["nodes_eager"] == 3
    for name in ("latest.json", "latest.md", "speedup.png", "predicted.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert (tmp_path / "speedup.png").read_bytes()[:4] == b"\x89PNG"
    assert "test.chain" in text and "cost model: predicted device time" in text


def test_ttfuse_bench_command_wiring(tmp_path):
    from ttfuse.cli import main

    r = CliRunner().invoke(main, ["bench", "--list"])
    assert r.exit_code == 0, r.output
    assert "boltz.PairformerLayer" in r.output and "chain.silu_mul_add" in r.output
    r = CliRunner().invoke(main, ["bench", "--help"])
    assert r.exit_code == 0 and "--compare" in r.output and "--quick / --full" in r.output
    r = CliRunner().invoke(main, ["bench", "--case", "no_such_case", "--out", str(tmp_path)])
    assert r.exit_code == 2 and "no bench case matches" in r.output
    missing = str(tmp_path / "no_tenstorrent.py")
    r = CliRunner().invoke(main, ["bench", "--ttboltz", missing, "--out", str(tmp_path)])
    assert r.exit_code == 2 and "--ttboltz" in r.output and "no such file" in r.output, r.output


def test_bench_command_exits_1_when_a_row_failed(tmp_path, monkeypatch):
    """`ttfuse bench` (so `make run`) exits non-zero when a row ends FAILED, naming case, size, arch, step and
    error; a sweep without FAILED rows exits 0."""
    import bench.harness as harness
    from ttfuse.cli import main

    clock = FakeClock()

    def build_failing_cost(size, device):
        return Built(clock.work(0.01), lambda *_: 1 / 0, None, Inputs((), ()))

    cases = {
        "fake.ok": fake_case(clock, "fake.ok"),
        "fake.bad": Case("fake.bad", build_failing_cost, (1,), (1,)),
    }
    real = harness.run_sweep

    def sweep(cfg, pool=None, console=None):
        cfg = _config(tmp_path, clock, cases=cfg.cases)
        return real(cfg, cases, console=Console(file=io.StringIO()))

    monkeypatch.setattr(harness, "run_sweep", sweep)
    r = CliRunner().invoke(main, ["bench", "--case", "fake.ok", "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["bench", "--out", str(tmp_path)])
    assert r.exit_code == 1, r.output
    assert "1 row(s) FAILED" in r.output
    assert "fake.bad 1 wormhole_b0 at jit (first call, cold cache): ZeroDivisionError" in r.output


def test_report_fits_the_terminal_width(tmp_path):
    """At 100 columns every table fits (split by column group) and no figure is cut; wide terminals merge groups."""
    clock = FakeClock()
    cases = {n: fake_case(clock, f"boltz.TriangleMultiplicationOutgoing{n}") for n in "ab"}
    results, _ = _run(_config(tmp_path, clock), cases)
    for width in (100, 160):
        buf = io.StringIO()
        report.render(results, Console(file=buf, width=width, highlight=False, soft_wrap=False))
        lines = buf.getvalue().splitlines()
        assert max(len(line.rstrip()) for line in lines) <= width, width
        assert not any("…" in line for line in lines)
        for col in report.GROUPS[0][1] + report.GROUPS[-1][1]:
            assert col.title in buf.getvalue(), (width, col.title)
    assert len(report.fit_tables(results, 100)) > len(report.fit_tables(results, 160))


def test_report_units_are_consistent(tmp_path):
    """Every column title that names a unit uses one of report.UNITS (times in ms or us, never s), the cell holds
    the figure in that unit, and the terminal and markdown tables use the same titles (issue 19: torch.compile's
    cold compile was "cold s" beside the JIT's "cold ms")."""
    clock = FakeClock()
    results, _ = _run(_config(tmp_path, clock), {"a": fake_case(clock)})
    row = results["cases"][0]
    row.update(torch_compile_ms=0.25, torch_compile_cold_ms=2500.0, compile_cold_ms=12.5, hit_overhead_us=7.5)
    unit_words = {"s", "sec", "ms", "us", "ns", "min", "MB", "KB", "GB", "MiB", "KiB", "B", "x"}
    cols = {c.title: c for _, cols in report.GROUPS for c in cols}
    for title in cols:
        last = title.split()[-1]
        assert last not in unit_words or last in report.UNITS, title
    cell = {t: c.cell(row, results)[0] for t, c in cols.items()}
    assert cell["t.c. cold ms"] == "2500" and cell["t.compile ms"] == "0.250"
    assert cell["cold ms"].startswith("12.5") and cell["hit us"].startswith("7.5")
    md = report.markdown(results)
    buf = io.StringIO()
    report.render(results, Console(file=buf, width=100, highlight=False, soft_wrap=False))
    for text in (md, buf.getvalue()):
        assert "t.c. cold ms" in text and "cold s " not in text and "2500" in text


def test_report_labels_absolute_times_with_the_load_average(tmp_path, monkeypatch):
    """The report's absolute figures (ms, us) move with the machine's load: the report says the load average
    measured at the start of the run, in the terminal and the markdown (issue 19)."""
    monkeypatch.setattr(report.os, "getloadavg", lambda: (3.25, 2.0, 1.0))
    clock = FakeClock()
    results, text = _run(_config(tmp_path, clock), {"a": fake_case(clock)})
    assert results["machine"]["loadavg_start"][0] == 3.25
    assert "load average 3.2 at start" in text  # 3.25 rounds to even
    assert "load average at start 3.2" in report.markdown(results)
    results["machine"]["loadavg_start"] = [9.0, 9.0, 9.0]
    results["machine"]["cpus"] = 2
    buf = io.StringIO()
    report.render(results, Console(file=buf, width=100, highlight=False, soft_wrap=False))
    assert "load average 9.0 at start (a busy machine" in buf.getvalue()


def test_bench_smoke_summary_labels_absolute_figures_with_the_load(tmp_path):
    """bench/conftest.py (the bench smoke in `make test`): a target or figure in an absolute unit (us, ms, s, GB/s)
    carries the load average when it was recorded; a ratio carries none; the summary opens with the load."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    shutil.copy(root / "bench" / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_figs.py").write_text(
        "def test_figs(target, figure):\n"
        "    target('rounding throughput', 0.063, 1.0, 'GB/s', higher_is_better=True)\n"
        "    target('hit overhead', 7.0, 20, 'us')\n"
        "    target('sim / torch', 1.1, 1.3, 'x')\n"
        "    figure('JIT / eager', 0.9, 'x')\n"
        "    figure('cold compile', 42.0, 'ms')\n"
    )
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_figs.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    summary = [ln for ln in r.stdout.splitlines() if ln.startswith("  ")]
    assert any("load average" in ln and "at start" in ln and "now" in ln for ln in summary), r.stdout

    def line(name: str) -> str:
        return next(ln for ln in summary if name in ln)

    for name in ("rounding throughput", "hit overhead", "cold compile"):
        assert LOAD_LABEL.search(line(name)), line(name)
    for name in ("sim / torch", "JIT / eager"):
        assert not LOAD_LABEL.search(line(name)), line(name)
    assert "MISSED" in line("rounding throughput") and "MET" in line("hit overhead")


def handtuned_case(clock: FakeClock, name: str, hand_us: float, jit_us: float, **kw) -> Case:
    """A fake case with a hand-tuned version: the hook returns known predicted figures (untraced = 10x traced)
    and records the (size, arch, path) it was asked for."""
    asked: list[tuple] = []

    def hook(size, arch, path):
        asked.append((size, arch, path))
        return {
            "handtuned_us": hand_us,
            "handtuned_untraced_us": 10 * hand_us,
            "handtuned_jit_us": jit_us,
            "handtuned_jit_untraced_us": 10 * jit_us,
        }

    case = fake_case(clock, name, handtuned=hook, **kw)
    case.build.asked = asked  # type: ignore[attr-defined]
    return case


def test_handtuned_columns_targets_and_source(tmp_path, monkeypatch):
    """Issue 20: a case with a hand-tuned version gets its predicted device time (traced and untraced) beside the
    JIT's, JIT / hand-tuned checked against <= 0.9x (MISSED stays visible), the source labelled; the hand-tuned
    targets do not apply to a case without one; --ttboltz / $TTFUSE_TTBOLTZ choose the hand-tuned code."""
    from bench.harness import TTBOLTZ_ENV

    monkeypatch.delenv(TTBOLTZ_ENV, raising=False)
    clock = FakeClock()
    cases = {
        "met": handtuned_case(clock, "fake.tuned_met", hand_us=500.0, jit_us=400.0),
        "miss": handtuned_case(clock, "fake.tuned_missed", hand_us=500.0, jit_us=475.0),
        "plain": fake_case(clock, "fake.plain"),
    }
    results, text = _run(_config(tmp_path, clock), cases)
    rows = {r["case"]: r for r in results["cases"]}
    assert rows["fake.tuned_met"]["jit_vs_handtuned"] == pytest.approx(0.8)
    assert rows["fake.tuned_met"]["jit_vs_handtuned_untraced"] == pytest.approx(0.8)
    assert rows["fake.tuned_missed"]["jit_vs_handtuned"] == pytest.approx(0.95)
    assert rows["fake.plain"]["jit_vs_handtuned"] is None and rows["fake.plain"]["handtuned_source"] is None
    # the stand-in by default, asked for the row's size and arch
    (asked,) = cases["met"].build.asked
    assert asked[:2] == (1, "wormhole_b0") and asked[2].endswith("tests/fixtures/handtuned_pairformer.py")
    assert rows["fake.tuned_met"]["handtuned_source"].startswith(
        "stand-in tests/fixtures/handtuned_pairformer.py"
    )
    checks = [(c["case"], c["what"], c["met"]) for c in results["target_checks"]]
    tuned = [c for c in checks if c[1].startswith("jit_vs_handtuned")]
    assert sorted(tuned) == sorted(
        [
            ("fake.tuned_met", "jit_vs_handtuned", True),
            ("fake.tuned_met", "jit_vs_handtuned_untraced", True),
            ("fake.tuned_missed", "jit_vs_handtuned", False),
            ("fake.tuned_missed", "jit_vs_handtuned_untraced", False),
        ]
    )
    md = (tmp_path / "latest.md").read_text()
    for out in (text, md):
        assert "500.0→400.0" in out and "0.80x ✓" in out and "0.95x ✗ MISSED" in out
        assert "hand-tuned (predicted" in out and "stand-in tests/fixtures/handtuned_pairformer.py" in out
        assert "MISSED fake.tuned_missed 1 WH: JIT/hand 0.95x (target <= 0.9x)" in out
    # a tt-boltz checkout: --ttboltz (Config.ttboltz) wins over the environment, both over the stand-in
    monkeypatch.setenv(TTBOLTZ_ENV, "/env/tenstorrent.py")
    assert Config().handtuned_path == ("/env/tenstorrent.py", "tt-boltz /env/tenstorrent.py")
    assert Config(ttboltz="/opt/tb.py").handtuned_path[1] == "tt-boltz /opt/tb.py"
    results, _ = _run(_config(tmp_path / "tb", clock), {"met": cases["met"]})
    assert results["cases"][0]["handtuned_source"] == "tt-boltz /env/tenstorrent.py"
    assert cases["met"].build.asked[-1][2] == "/env/tenstorrent.py"


def test_new_targets_tally_and_width(tmp_path):
    """The issue-20 targets (disk-warm <= 10 ms, JIT/ref <= 1.25x, JIT/hand <= 0.9x) with a MISSED each: the
    tally counts every applicable check once (met + MISSED + not measured), the terminal line and the markdown
    agree, every MISSED is listed, and the report still fits 100 columns with no figure cut."""
    clock = FakeClock()
    cases = {
        "slow": fake_case(clock, "boltz.TriangleMultiplicationOutgoing", ref=0.002),  # JIT/ref 2.0x: MISSED
        "tuned": handtuned_case(clock, "boltz.PairformerLayer", hand_us=100.0, jit_us=250.0),
    }
    results, text = _run(_config(tmp_path, clock), cases)
    row = results["cases"][0]
    row.update(compile_cold_ms=150.0, compile_warm_ms=12.5, hit_overhead_us=25.0)
    results["target_checks"] = report.target_checks(results)
    tally = report.summary(results)
    checks = results["target_checks"]
    assert len(checks) == 4 + 6  # a plain case: 4 targets; a hand-tuned one: 6
    assert tally.met + len(tally.missed) + tally.not_measured == len(checks)
    missed = {(c["case"], c["what"]) for c in tally.missed}
    for what in ("compile_cold_ms", "compile_warm_ms", "hit_overhead_us", "jit_vs_reference"):
        assert ("boltz.TriangleMultiplicationOutgoing", what) in missed, what
    assert ("boltz.PairformerLayer", "jit_vs_handtuned") in missed
    md = report.markdown(results)
    for width in (100, 160):
        buf = io.StringIO()
        report.render(results, Console(file=buf, width=width, highlight=False, soft_wrap=False))
        out = buf.getvalue()
        lines = out.splitlines()
        assert max(len(line.rstrip()) for line in lines) <= width, width
        assert not any("…" in line for line in lines)
        assert tally.line() in out and tally.line() in md
        for cell in ("12.5 ✗ MISSED", "2.00x ✗ MISSED", "2.50x ✗ MISSED", "100.0→250.0"):
            assert cell in out and cell in md, (width, cell)
        for _, cols in report.GROUPS:
            for col in cols:
                assert col.title in out, (width, col.title)
        assert len(
            [ln for ln in lines if "✗ MISSED boltz." in ln or ln.strip().startswith("✗ MISSED")]
        ) == len(tally.missed)


def test_predicted_png_draws_the_hand_tuned_bar(tmp_path, monkeypatch):
    """predicted.png: a row with a hand-tuned figure gets a third bar (eager, JIT, hand-tuned), named in the
    legend once; a sweep without one has no such entry."""
    import matplotlib.axes
    import matplotlib.figure

    legends, bars = [], []
    real_legend, real_barh = matplotlib.figure.Figure.legend, matplotlib.axes.Axes.barh
    monkeypatch.setattr(
        matplotlib.figure.Figure,
        "legend",
        lambda self, handles, names, **kw: (
            legends.append(list(names)) or real_legend(self, handles, names, **kw)
        ),
    )
    monkeypatch.setattr(
        matplotlib.axes.Axes, "barh", lambda self, y, w, **kw: bars.append(w) or real_barh(self, y, w, **kw)
    )
    rows = [
        dict(
            case="chain.x",
            size=64,
            arch="wormhole_b0:n150",
            speedup=1.5,
            predicted_us_eager=40.0,
            predicted_us_jit=20.0,
        ),
        dict(
            case="boltz.PairformerLayer",
            size=32,
            arch="wormhole_b0:n150",
            speedup=1.2,
            predicted_us_eager=650.0,
            predicted_us_jit=500.0,
            handtuned_us=672.5,
        ),
    ]
    report.write_plots({"cases": rows, "archs": ["wormhole_b0:n150"]}, tmp_path)
    assert legends[-1] == ["eager", "JIT", "hand-tuned TTNN"]
    assert 672.5 in bars and bars.count(672.5) == 1
    legends.clear()
    report.write_plots({"cases": rows[:1], "archs": ["wormhole_b0:n150"]}, tmp_path)
    assert legends[-1] == ["eager", "JIT"]
