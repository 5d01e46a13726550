"""bench/handtuned.py on its CI stand-in (tests/fixtures/handtuned_pairformer.py, a small hand-written TTNN
Pairformer layer in tt-boltz's constructor style): the stand-in computes boltz's PairformerLayer; the command's
table holds positive predicted times, traced below untraced, ratios and goal marks that follow from them, on
both archs; the breakdown adds up to the totals; `--write` keeps the rest of the file.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from bench import handtuned as ht

ROOT = Path(__file__).resolve().parent.parent
STANDIN = str(ROOT / ht.STANDIN)
ARCHS = ("wormhole_b0", "blackhole")
N = 32


@pytest.fixture(scope="module")
def sim_ttnn():
    """`import ttnn` is the simulator for the module (as the command makes it); undone afterwards."""
    from ttfuse import switch

    was = switch.installed()
    saved = sys.modules.get("models.common.utility_functions")
    yield
    if saved is None:
        sys.modules.pop("models.common.utility_functions", None)
    if not was:
        switch.uninstall()


@pytest.fixture(scope="module")
def rows(sim_ttnn):
    return ht.measure(STANDIN, [N], ARCHS)


@pytest.mark.slow  # ~10 s of CPU: the layer runs eagerly on the sim (bfloat8_b rounding of weights and outputs)
def test_standin_computes_the_boltz_layer(sim_ttnn, monkeypatch):
    """The stand-in is a real Pairformer layer: tools/check_ttboltz.py runs it against boltz 2.2.1."""
    monkeypatch.setenv("TTFUSE_ARCH", "wormhole_b0")
    (row,) = ht.harness().run_arch(STANDIN, "wormhole_b0", [N], ["PairformerLayer"], False)
    assert "error" not in row, row.get("error")
    assert row["pcc"] >= 0.999, row


def test_rows_are_positive_and_traced_below_untraced(rows):
    assert [(r.arch, r.n) for r in rows] == [(a, N) for a in ARCHS]
    assert rows[0].device != rows[1].device
    for r in rows:
        for side in (r.hand, r.jit, r.port_eager, r.hand_jit):
            assert 0 < side.traced_ms < side.untraced_ms, r
            assert side.launches > 0 and side.nodes
        # the JIT graph is the port after passes: fewer launches than the port op for op
        assert r.jit.launches < r.port_eager.launches
        assert r.met == (r.ratio("traced") <= ht.GOAL and r.ratio("untraced") <= ht.GOAL)


def test_hand_side_is_the_op_sequence(rows, monkeypatch):
    """The hand-tuned figure is its code op for op: the same as ttfuse.jit with no pass at all."""
    import ttfuse
    from ttfuse.passes.cost import graph_cost

    monkeypatch.setenv("TTFUSE_ARCH", "wormhole_b0")
    h = ht.harness()
    ttnn = h.map_ttnn()
    dev = ttnn.open_device(device_id=0)
    try:
        T = h.load_ttboltz(STANDIN)
        T.device = dev
        case = next(c for c in h.build_cases(ttnn, T, dev)[0] if c.name == ht.CASE)
        module = case.tt(h.reference(case).state_dict(), h.compute_kernel_config(ttnn))
        specs = ht._specs(ttnn, (1, N, ht.C_S), (1, N, N, ht.C_Z), (1, N, N), (1, N, N))
        low = ttfuse.jit(type(module).__call__, passes=[]).lower(module, *specs)
        plain = graph_cost(low.graph, low.device_spec)
    finally:
        ttnn.close_device(dev)
    hand = rows[0].hand
    assert [n.op for n in low.graph.nodes] == [c.op for c in hand.nodes]
    assert (plain.device_ms, plain.untraced_ms) == pytest.approx((hand.traced_ms, hand.untraced_ms))


def test_breakdown_adds_up_to_the_totals(rows):
    for r in rows:
        for side in (r.hand, r.jit):
            for key in ("block", "op"):
                parts = side.by(key).values()
                assert sum(p[0] for p in parts) == len(side.nodes)
                assert sum(p[1] for p in parts) / 1e3 == pytest.approx(side.traced_ms)
                assert sum(p[2] for p in parts) / 1e3 == pytest.approx(side.untraced_ms)
        # the stand-in's blocks are its classes, the port's its functions, matched by name
        assert {"TriangleMultiplication", "TriangleAttention", "Transition"} <= set(r.hand.by("block"))
        text = ht.breakdown(r)
        assert "TriangleMultiplication / triangle_multiplication" in text
        assert "TriangleAttention / " in text and "AttentionPairBias / " in text


def _table(text: str) -> list[list[str]]:
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("| device | N | hand-tuned traced ms"))
    body = []
    for ln in lines[start + 2 :]:
        if not ln.startswith("|"):
            break
        body.append([c.strip() for c in ln.strip("|").split("|")])
    return body


def test_rendered_table_matches_the_rows(rows):
    text = ht.render(rows, "python -m bench.handtuned --ttboltz X", breakdowns="auto")
    assert text.startswith("## Hand-tuned TTNN vs ttfuse's JIT")
    assert "prediction" in text and "python -m bench.handtuned --ttboltz X" in text
    body = _table(text)
    assert len(body) == len(rows)
    for cells, r in zip(body, rows, strict=True):
        assert cells[0] == ht._label(r.arch) and int(cells[1]) == r.n
        ht_, jt, rt, hu, ju, ru = (float(c.rstrip("x")) for c in cells[2:8])
        assert (ht_, jt, hu, ju) == pytest.approx(
            (r.hand.traced_ms, r.jit.traced_ms, r.hand.untraced_ms, r.jit.untraced_ms), abs=5e-4
        )
        assert 0 < ht_ < hu and 0 < jt < ju
        assert rt == pytest.approx(jt / ht_, abs=0.01) and ru == pytest.approx(ju / hu, abs=0.01)
        assert cells[8] == f"{r.hand.launches} / {r.jit.launches}"
        assert cells[9] == ("met" if rt <= ht.GOAL and ru <= ht.GOAL else "MISSED")
        # auto: a breakdown exactly for the rows that miss the goal
        assert (f"Predicted per block and per op, {cells[0]}, N={r.n}" in text) == (cells[9] == "MISSED")
    assert f"met on {sum(r.met for r in rows)} of {len(rows)} rows" in text


def test_a_missed_goal_brings_the_breakdown(rows, monkeypatch):
    """With a goal no row meets, every row says MISSED and gets its side-by-side breakdown."""
    monkeypatch.setattr(ht, "GOAL", min(min(r.ratio("traced"), r.ratio("untraced")) for r in rows) / 2)
    text = ht.render(rows, "cmd")
    assert [c[9] for c in _table(text)] == ["MISSED"] * len(rows)
    assert text.count("Predicted per block and per op") == len(rows)
    assert f"met on 0 of {len(rows)} rows" in text
    assert "Predicted per block" not in ht.render(rows, "cmd", breakdowns="never")


def test_cli_writes_its_section_only(rows, tmp_path, monkeypatch, capsys):
    doc = tmp_path / "performance.md"
    doc.write_text("# Performance\n\n<!-- costval:begin -->\nother section\n<!-- costval:end -->\n")
    monkeypatch.setattr(ht, "measure", lambda *a, **k: rows)  # measured once, by the fixture
    args = ["--ttboltz", STANDIN, "--n", str(N), "--breakdown", "always", "--write", str(doc)]
    assert ht.main(args) == 0
    out = capsys.readouterr().out
    first = doc.read_text()
    assert "other section" in first and first.count(ht.BEGIN) == 1 and first.count(ht.END) == 1
    section = re.search(f"{re.escape(ht.BEGIN)}\n(.*){re.escape(ht.END)}", first, re.S).group(1)
    assert section.strip() == out.strip()
    assert f"--n {N} --arch wormhole_b0 blackhole --breakdown always --write {doc}" in section
    assert section.count("Predicted per block and per op") == len(rows)
    ht.main(args)  # rewriting replaces the section, nothing else
    assert doc.read_text() == first
    fresh = tmp_path / "new" / "perf.md"
    ht.write_section(fresh, "x\n")
    assert fresh.read_text().endswith(f"{ht.BEGIN}\nx\n{ht.END}\n")


def test_cli_refuses_a_missing_file(capsys):
    with pytest.raises(SystemExit):
        ht.main(["--ttboltz", "/nonexistent/tenstorrent.py"])
    assert "no such file" in capsys.readouterr().err
