"""The cost model checked against published measurements (tools/costcheck.py, bench/published_perf.json):
docs/performance.md holds the table the model gives now, every point has a source, at most half the points are
fit points, the goal (>= 20 points within 25%) holds, and the checker catches a stale doc and a bad data file.

The tool is loaded by path (tools/ is not a package); the model's predictions are computed once per module.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from tests.conftest import load_tool

ROOT = Path(__file__).resolve().parent.parent


cc = load_tool("costcheck")


@pytest.fixture(scope="module")
def data():
    return cc.load()


@pytest.fixture(scope="module")
def rows(data):
    return cc.predict_all(data)


@pytest.fixture(scope="module")
def section(data, rows):
    return cc.render(data, rows)


def test_doc_holds_the_current_table(section):
    text = cc.DOC.read_text()
    assert cc.current_section(text) is not None, "docs/performance.md has no costcheck section"
    assert cc.current_section(text) == section, (
        "docs/performance.md's cost-model table is stale: run `python tools/costcheck.py --write`"
    )
    assert cc.updated_doc(text, section) == text


def test_whole_model_section_matches_the_data(data):
    """The whole-model rows (predicted by `--slow`, about a minute, so not recomputed here) list every slow point
    with the measured value and source the data file gives."""
    text = cc.DOC.read_text()
    section = cc.current_section(text, slow=True)
    assert section is not None, (
        "docs/performance.md has no whole-model section: run tools/costcheck.py --slow --write"
    )
    table = [line for line in section.splitlines() if line.startswith("| ") and line[2].isdigit()]
    slow = cc.points(data, slow=True)
    assert slow and len(table) == len(slow)
    for line, p in zip(table, slow, strict=True):
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[1] == cc._describe(p) and cells[2] == p["device"]
        assert cells[3] == f"{cc._num(p['measured'])} {p['unit']}" and cells[8] == cc._source(data, p)
        predicted = float(cells[4].split()[0].replace(",", ""))
        assert abs(float(cells[5].rstrip("%")) - (predicted / p["measured"] - 1) * 100) < 0.2  # rounded cells


def test_every_point_has_a_source_and_a_role(data):
    assert cc.check_points(data) == []
    for p in data["points"]:
        s = data["sources"][p["source"]]
        assert s["url"] == f"https://github.com/{s['repo']}/blob/{s['commit']}/{s['path']}"
        assert p["role"] in ("fit", "held_out") and p["device"]
    fit = [p for p in data["points"] if p["role"] == "fit"]
    assert 0 < 2 * len(fit) <= len(data["points"])


def test_the_goal_holds_and_every_held_out_point_is_reported(data, rows, section):
    """>= 20 points within 25%; every point (held-out misses too) is a row of the table, in the data's order."""
    assert len(rows) == len(cc.points(data)) == len(data["points"]) - len(cc.points(data, slow=True))
    assert sum(r.within for r in rows) >= 20
    held = [r for r in rows if r.point["role"] == "held_out"]
    assert sum(r.within for r in held) >= 10
    table = [line for line in section.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert len(table) == len(rows)
    for line, r in zip(table, rows, strict=True):
        assert f"{r.error * 100:+.1f}%" in line and r.point["role"].replace("_", " ") in line


def test_rows_are_the_model_not_the_data(data, rows, monkeypatch):
    """A prediction comes from the cost model: changing a model constant changes the matmul rows (and the table
    would then be stale), not the measured column."""
    from ttfuse.passes import cost

    p = next(
        r for r in rows if r.point["kind"] == "matmul" and r.point["traced"] and r.point["shape"][0] >= 4096
    )
    monkeypatch.setattr(cost, "MM_UNPACK_BYTES_PER_CYCLE", cost.MM_UNPACK_BYTES_PER_CYCLE / 2)
    slower = cc.PREDICT["matmul"](p.point)
    assert slower > 1.2 * p.predicted


def test_check_catches_a_stale_doc_and_a_bad_data_file(data, rows, section, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(
        cc, "predict_all", lambda data, slow=False: [] if slow else rows
    )  # predicted once above
    doc = tmp_path / "performance.md"
    doc.write_text(cc.updated_doc(None, section))
    data_file = tmp_path / "points.json"
    data_file.write_text(cc.DATA.read_text())
    assert cc.main(["--doc", str(doc), "--data", str(data_file)]) == 0

    doc.write_text(
        doc.read_text().replace(f"{rows[0].error * 100:+.1f}%", "+0.0%", 1)
    )  # a hand-edited figure
    assert cc.main(["--doc", str(doc), "--data", str(data_file)]) == 1
    assert "does not hold the current table" in capsys.readouterr().out
    assert cc.main(["--doc", str(doc), "--data", str(data_file), "--write"]) == 0
    assert cc.current_section(doc.read_text()) == section

    bad = copy.deepcopy(data)
    bad["points"][0]["source"] = "nowhere"
    bad["points"][1]["role"] = "tuned"
    for p in bad["points"][2:]:
        p["role"] = "fit"
    problems = cc.check_points(bad)
    assert any("source 'nowhere'" in s for s in problems)
    assert any("role 'tuned'" in s for s in problems)
    assert any("at most half" in s for s in problems)
