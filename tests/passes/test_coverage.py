"""The coverage report (ttfuse/passes/coverage.py, `Lowered.coverage`): fused / single (with why) / removed /
fallback, as data and as text."""

from __future__ import annotations

import json

import ttfuse
from ttfuse import ttnn
from ttfuse.passes import pipeline
from ttfuse.passes.coverage import FALLBACK, FUSED, REMOVED, SINGLE, coverage_fallback, coverage_of

BF16 = ttnn.bfloat16
SIG = ttnn.UnaryOpType.SIGMOID


def S(*shape, dtype=BF16):
    return ttnn.TensorSpec(shape, dtype, ttnn.TILE_LAYOUT, ttnn.DRAM_MEMORY_CONFIG)


def block(x, g, b, w1, w2, w3, y, w4):
    h = ttnn.layer_norm(x, epsilon=1e-5, weight=g, bias=b)
    t = ttnn.linear(
        ttnn.multiply(ttnn.linear(h, w1, activation="silu"), ttnn.linear(h, w2)), w3
    )  # transition
    t = ttnn.typecast(t, BF16)  # a no-op cast: removed
    e = ttnn.add(ttnn.multiply(ttnn.silu(y), y), 1.0)  # one eltwise kernel
    r = ttnn.reshape(e, (32, 128))  # stays single
    s = ttnn.softmax(ttnn.linear(t, w4), dim=-1)  # linear + softmax: no pattern
    return s, r


SPECS = (S(64, 64), S(64), S(64), S(64, 256), S(64, 256), S(256, 64), S(64, 64), S(64, 64))


def _lowered():
    return ttfuse.jit(block, passes=["dce", "cleanup", "fuse"]).lower(*SPECS)


def test_every_traced_op_has_exactly_one_entry():
    low = _lowered()
    rep = low.coverage
    assert sorted(e.id for e in rep.entries) == sorted(n.id for n in low.graph_before.nodes)
    assert set(rep.counts()) == {FUSED, SINGLE, REMOVED, FALLBACK}


def test_fused_ops_name_their_kernel():
    rep = _lowered().coverage
    fused = {e.op: e for e in rep.by_status(FUSED)}
    trans = [e for e in rep.by_status(FUSED) if e.kernel == "kernels.transition"]
    assert sorted(e.op for e in trans) == ["layer_norm", "linear", "linear", "linear", "multiply"]
    elt = [e for e in rep.by_status(FUSED) if e.kernel == "kernels.eltwise"]
    assert sorted(e.op for e in elt) == ["add", "multiply", "silu"]
    assert "layer_norm" in fused and all(e.kernel_id is not None for e in rep.by_status(FUSED))
    kernels = {k.op: k for k in rep.kernels}
    assert kernels["kernels.transition"].launches == 3 and kernels["kernels.eltwise"].launches == 1
    assert sorted(kernels["kernels.transition"].replaced) == [
        "layer_norm",
        "linear",
        "linear",
        "linear",
        "multiply",
    ]


def test_single_ops_say_why_and_removed_ops_say_by_whom():
    rep = _lowered().coverage
    single = {e.op: e for e in rep.by_status(SINGLE)}
    assert set(single) == {"reshape", "linear", "softmax"}
    assert "data movement" in single["reshape"].reason
    assert single["softmax"].reason and single["linear"].reason
    (cast,) = rep.by_status(REMOVED)
    assert cast.op == "typecast" and cast.by_pass == "cleanup" and "cleanup" in cast.reason


def test_rule_near_misses_are_reported():
    def f(x, w, b):
        return ttnn.add(ttnn.linear(x, w), b)  # b is not a row vector: linear_bias declines, with its reason

    rep = ttfuse.jit(f, passes=["dce", "cleanup", "fuse"]).lower(S(64, 64), S(64, 64), S(64, 64)).coverage
    add = next(e for e in rep.entries if e.op == "add")
    assert add.status == SINGLE and add.reason.startswith("fuse.linear.linear_bias: ")
    assert "not a bias row vector" in add.reason and "fuse.linear.linear_bias" in str(rep)


def test_text_and_data_forms():
    rep = _lowered().coverage
    text = str(rep)
    assert (
        text.startswith("coverage of ") and "fused   %" in text and "kernels.transition (3 launches)" in text
    )
    assert "once    %" in text and "single  %" in text and "removed %" in text and "summary:" in text
    d = json.loads(json.dumps(rep.to_dict()))
    assert d["counts"][FUSED] == 8 and d["eager_launches"] > d["jit_launches"]
    assert rep.jit_launches <= 7 and rep.eager_launches >= 11


def test_fallback_report():
    low = _lowered()
    rep = coverage_fallback("m.block", "TraceError: data-dependent branch", low.graph_before)
    assert rep.counts()[FALLBACK] == len(low.graph_before.nodes) and "FALLBACK" in str(rep)
    empty = coverage_fallback("m.block", "could not trace")
    assert empty.entries == [] and empty.fallback == "could not trace"


def test_coverage_without_fusion_is_all_single():
    rep = ttfuse.jit(block, passes=[]).lower(*SPECS).coverage
    assert rep.counts()[SINGLE] == len(rep.entries) and rep.kernels == []


def test_coverage_of_reports_fallbacks(monkeypatch):
    jf = ttfuse.jit(block, passes=["dce", "cleanup", "fuse"])
    assert coverage_of(jf, *SPECS).counts()[FUSED] == 8

    def boom(graph, ctx):
        raise RuntimeError("pass exploded")

    monkeypatch.setattr(pipeline, "PIPELINE", [("dce", pipeline.dce), ("fuse", boom)])
    rep = coverage_of(ttfuse.jit(block), *SPECS)
    assert rep.fallback.startswith("PassError") and rep.counts()[FALLBACK] == len(rep.entries) > 0

    def branchy(x):
        return ttnn.relu(x) if float(x) > 0 else x  # data-dependent: cannot be traced

    rep = coverage_of(ttfuse.jit(branchy), S(32, 32))
    assert rep.entries == [] and rep.fallback.startswith("TraceError")
