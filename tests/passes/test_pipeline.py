"""The pass manager: the literal pipeline, verify-after-each, timing, IR dumps, disabling by name, PassError."""

import json
import os

import pytest

import ttfuse
from ttfuse import ttnn
from ttfuse.errors import PassError
from ttfuse.ir import Graph
from ttfuse.passes.pipeline import PIPELINE, PassContext, dce, run_pipeline

BF16 = ttnn.bfloat16


def fn(x, y):
    return ttnn.relu(ttnn.add(ttnn.multiply(x, y), y))


def lowered(**opts):
    return ttfuse.jit(fn, **opts).lower(ttnn.TensorSpec((64, 64), BF16), ttnn.TensorSpec((64, 64), BF16))


def break_outs(graph, ctx):
    """A buggy pass: claims the first node's output is float32 (the spec rule says otherwise)."""
    n = graph.nodes[0]
    bad = n.replace(outs=(n.outs[0].replace(dtype=ttnn.float32),))
    return graph.replace(nodes=[bad, *graph.nodes[1:]])


def explode(graph, ctx):
    raise RuntimeError("boom")


def test_pipeline_is_one_literal_ordered_list():
    assert [n for n, _ in PIPELINE] == [
        "dce", "cleanup", "fuse", "chunk", "select_configs", "place_memory", "cost"
    ]  # fmt: skip


def test_the_suite_verifies_after_every_pass():
    assert os.environ.get("TTFUSE_VERIFY_PASSES") == "1"
    g = lowered(passes=[]).graph
    # verify=False, yet the environment makes the manager verify: the broken pass is caught by name
    with pytest.raises(PassError, match=r"pass 'broken' failed: VerifyError: verify \[spec_matches\]"):
        run_pipeline(g, PassContext(), verify=False, pipeline=[("dce", dce), ("broken", break_outs)])


def test_verification_off_without_the_env(monkeypatch):
    monkeypatch.delenv("TTFUSE_VERIFY_PASSES")
    g = lowered(passes=[]).graph
    out, _ = run_pipeline(g, PassContext(), pipeline=[("broken", break_outs)])
    assert out.nodes[0].outs[0].dtype is ttnn.float32  # nothing checked it


def test_pass_error_names_the_pass_and_those_before_with_a_reproducer():
    g = lowered(passes=[]).graph
    with pytest.raises(PassError) as e:
        run_pipeline(g, PassContext(), pipeline=[("dce", dce), ("other", dce), ("explode", explode)])
    msg = str(e.value)
    assert "pass 'explode' failed: RuntimeError: boom" in msg and "passes run before it: dce, other" in msg
    path = msg.split("input IR saved to ")[1].split(" ")[0]
    with open(path) as f:
        assert Graph.from_json(json.load(f)) == g  # the reproducer is the failing pass's input


def test_every_pass_is_timed_and_recorded():
    low = lowered()
    assert [r.name for r in low.passes] == [n for n, _ in PIPELINE]
    assert all(r.ms >= 0 and not r.skipped for r in low.passes)
    assert any(r.changed for r in low.passes) and all(r.graph_after is not None for r in low.passes)


def test_debug_level_3_dumps_ir_before_and_after_each_changing_pass(capsys):
    with ttfuse.flags(debug=3):
        lowered()
    err = capsys.readouterr().err
    assert "IR before fuse:" in err and "IR after fuse:" in err and "graph fn(" in err
    assert "pass select_configs" in err  # level 2 timing lines are included


def test_disable_by_name_in_the_decorator():
    low = lowered(passes=["-chunk", "-fuse"])
    skipped = {r.name for r in low.passes if r.skipped}
    assert skipped == {"chunk", "fuse"}
    only = lowered(passes=["dce", "select_configs"])
    assert {r.name for r in only.passes if not r.skipped} == {"dce", "select_configs"}


def test_disable_by_env_is_part_of_the_key(monkeypatch):
    base = lowered()
    monkeypatch.setenv("TTFUSE_DISABLE_PASSES", "fuse,chunk")
    low = lowered()
    assert {r.name for r in low.passes if r.skipped} == {"fuse", "chunk"}
    assert low.key.fields["pipeline"] != base.key.fields["pipeline"]
    assert len(low.graph.nodes) > len(base.graph.nodes)  # nothing fused
    monkeypatch.setenv("TTFUSE_DISABLE_PASSES", "fuse,nosuchpass")
    with pytest.raises(ValueError, match=r"TTFUSE_DISABLE_PASSES names unknown pass\(es\) \['nosuchpass'\]"):
        lowered()


def test_jit_rejects_unknown_pass_names_and_bad_budgets():
    with pytest.raises(ValueError, match="unknown pass"):
        ttfuse.jit(fn, passes=["-nosuch"])
    with pytest.raises(ValueError, match="l1_budget must be a positive number of bytes"):
        ttfuse.jit(fn, l1_budget=-5)
    a = lowered(l1_budget=1 << 20)
    b = lowered(l1_budget=2 << 20)
    assert a.key.fields["options"] != b.key.fields["options"]  # the budget is part of the key
