"""The layering of ttfuse (docs/architecture.md): no import cycle, no import pointing up a layer, the doc's
generated import graph current; and the checker itself catches what it is there to catch.

The checker is tools/import_graph.py (ast only: nothing is imported), loaded here by path.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.conftest import load_tool

ROOT = Path(__file__).resolve().parent.parent


ig = load_tool("import_graph")


@pytest.fixture(scope="module")
def edges():
    return ig.collect()


def test_no_cycle_and_no_upward_import(edges):
    bad = ig.violations(edges)
    assert not bad, "layering violations (see docs/architecture.md):\n" + "\n".join(bad)


def test_every_module_has_a_layer(edges):
    for m in sorted({e.src for e in edges} | {e.dst for e in edges} | set(ig.find_modules())):
        ig.layer_of(m)  # KeyError names a module no layer claims


def test_doc_section_is_current(edges):
    text = (ROOT / "docs" / "architecture.md").read_text()
    assert ig.BEGIN in text and ig.END in text
    assert ig.updated_doc(text, ig.render(edges)) == text, (
        "docs/architecture.md's import graph is stale: run `python tools/import_graph.py --write`"
    )


def test_render_is_deterministic(edges):
    assert ig.render(edges) == ig.render(list(reversed(edges)))


def test_the_seam_holds(edges):
    """Nothing above the backends names the simulator except the facade, which installs it."""
    users = {e.src for e in edges if e.dst.startswith("ttfuse.sim") and not e.src.startswith("ttfuse.sim")}
    allowed = {"ttfuse", "ttfuse.ttnn.device"}  # ttfuse/__init__.py exports the public ttfuse.sim API
    assert {u for u in users if u.startswith("ttfuse")} <= allowed, users


# ---------------------------------------------------------------------------------------- the checker itself
def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, src in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(src))
    return tmp_path


def test_planted_upward_import_and_cycle_fail(tmp_path):
    root = _tree(
        tmp_path,
        {
            "ttfuse/__init__.py": "",
            "ttfuse/ops/__init__.py": "",
            "ttfuse/ops/eltwise.py": "from ttfuse.passes.fuse import rule\n",  # core -> passes: up
            "ttfuse/passes/__init__.py": "",
            "ttfuse/passes/fuse.py": "rule = 1\n",
            "ttfuse/errors.py": "def f():\n    from ttfuse import flags\n",  # lazy, still a cycle
            "ttfuse/flags.py": "from ttfuse.errors import f\n",
            "ttfuse/types.py": (
                "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ttfuse.jit import J\n"
            ),  # never runs: neither a cycle nor an upward import
            "ttfuse/jit.py": "from ttfuse import types\n",
        },
    )
    edges = ig.collect(root)
    bad = ig.violations(edges, known_upward={}, known_cycles={})
    assert any(
        b.startswith("upward import: ttfuse.ops.eltwise:1") and "ttfuse.passes.fuse" in b for b in bad
    ), bad
    assert any(b.startswith("cycle between ttfuse.errors, ttfuse.flags") and "(lazy)" in b for b in bad), bad
    assert not any("ttfuse.types" in b for b in bad), bad
    assert len(bad) == 2, bad
    # an allowance silences exactly its entry; one that matches nothing is reported as stale
    known = {("ttfuse.ops.eltwise", "ttfuse.passes.fuse"): "planted", ("ttfuse.jit", "ttfuse.ttnn"): "gone"}
    bad = ig.violations(
        edges, known_upward=known, known_cycles={frozenset({"ttfuse.errors", "ttfuse.flags"}): ""}
    )
    assert bad == ["stale allowance: KNOWN_UPWARD ttfuse.jit -> ttfuse.ttnn is no longer imported"], bad


def test_synthetic_import_map():
    imp = ig.Import
    ok = [
        imp("ttfuse.jit", "ttfuse.passes.pipeline", 1, False),
        imp("ttfuse.sim.device", "ttfuse.backend", 2, False),
    ]
    assert ig.violations(ok, known_upward={}, known_cycles={}) == []
    up = ok + [imp("ttfuse.tensor", "ttfuse.ttnn", 20, True)]
    assert ig.violations(up, known_upward={}, known_cycles={}) == [
        "upward import: ttfuse.tensor:20 (core) imports ttfuse.ttnn (facade) (lazy)"
    ]
    cyc = ok + [imp("ttfuse.passes.pipeline", "ttfuse.jit", 5, False)]
    bad = ig.violations(cyc, known_upward={}, known_cycles={})
    assert any(b.startswith("cycle between ttfuse.jit, ttfuse.passes.pipeline") for b in bad), bad


def test_unplaced_module_is_an_error():
    with pytest.raises(KeyError, match="ttfuse.newthing is in no layer"):
        ig.layer_of("ttfuse.newthing")  # `=ttfuse` places only ttfuse/__init__.py
    assert ig.LAYERS[ig.layer_of("ttfuse")][0] == "facade"


def test_main_exit_status(capsys):
    assert ig.main([]) == 0
    assert "layering ok" in capsys.readouterr().out
