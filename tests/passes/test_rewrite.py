"""The rule engine (ttfuse/passes/rewrite.py): pattern matching, the iterative driver, search/replacement rules."""

from __future__ import annotations

import pytest

from ttfuse import ttnn
from ttfuse.capture.trace import trace
from ttfuse.device import device_spec
from ttfuse.ir import Ref, toposort
from ttfuse.passes.pipeline import PassContext
from ttfuse.passes.rewrite import (
    Bind,
    Miss,
    Pat,
    RewriteLimitError,
    Rewriter,
    origins,
    replacement,
    rewrite,
)
from ttfuse.verify import verify

BF16 = ttnn.bfloat16


def S(*shape, dtype=BF16):
    return ttnn.TensorSpec(shape, dtype, ttnn.TILE_LAYOUT, ttnn.DRAM_MEMORY_CONFIG)


def traced(fn, *specs, **kw):
    return trace(fn, specs, kw, specs_are_tensors=True, device_spec=device_spec())


def ops(g):
    return [n.op for n in g.nodes]


CTX = PassContext(device_spec())


def run(g, rules, **kw):
    out = rewrite(g, rules, CTX, **kw)
    verify(out)
    return out


# ------------------------------------------------------------------------------------------------ matching
def _first(rw, pat, op):
    from ttfuse.passes.rewrite import _Matcher

    node = next(n for n in rw.graph.nodes if n.op == op)
    return _Matcher(rw).match(pat, node)


def test_pat_binds_values_nodes_and_scalars():
    g = traced(lambda x, y: ttnn.add(ttnn.relu(x), ttnn.multiply(y, 3.0)), S(32, 32), S(32, 32))
    rw = Rewriter(g, CTX)
    pat = Pat(
        "add", Pat("relu", Pat.any("x"), name="r"), Pat("multiply", Pat.any("y"), input_tensor_b=Bind("c"))
    )
    m = _first(rw, pat, "add")
    assert m is not None and m.x == Ref(0) and m.ref("y") == Ref(1) and m.scalar("c") == 3.0
    assert m.node("r").op == "relu" and [n.op for n in m.nodes] == ["add", "relu", "multiply"]


def test_pat_attr_equality_predicates_and_none():
    g = traced(lambda x: ttnn.multiply(x, 2.0), S(32, 32))
    rw = Rewriter(g, CTX)
    assert _first(rw, Pat("multiply", Pat.any(), input_tensor_b=2.0), "multiply") is not None
    assert _first(rw, Pat("multiply", Pat.any(), input_tensor_b=3.0), "multiply") is None
    assert _first(rw, Pat("multiply", Pat.any(), input_tensor_b=lambda v: v > 1), "multiply") is not None
    assert _first(rw, Pat("multiply", Pat.any(), activations=None), "multiply") is not None
    assert _first(rw, Pat("multiply", Pat.any(), where=lambda n, rw: False), "multiply") is None


def test_pat_commute_tries_both_operand_orders():
    g = traced(lambda x, y: ttnn.add(x, ttnn.relu(y)), S(32, 32), S(32, 32))
    rw = Rewriter(g, CTX)
    pat = Pat("add", Pat("relu", Pat.any("y")), Pat.any("x"))
    assert _first(rw, pat, "add") is None
    pat.commute = True
    m = _first(rw, pat, "add")
    assert m is not None and m.x == Ref(0) and m.ref("y") == Ref(1)


def test_pat_same_name_must_bind_same_value():
    g = traced(lambda x, y: (ttnn.add(x, x), ttnn.add(x, y)), S(32, 32), S(32, 32))
    rw = Rewriter(g, CTX)
    from ttfuse.passes.rewrite import _Matcher

    pat = Pat("add", Pat.any("a"), Pat.any("a"))
    hits = [n.id for n in g.nodes if _Matcher(rw).match(pat, n) is not None]
    assert hits == [g.nodes[0].id]


def test_pat_one_use_rejects_shared_intermediates():
    g = traced(lambda x: (ttnn.neg(ttnn.relu(x)), ttnn.relu(x)), S(32, 32))
    shared = traced(lambda x: (lambda r: (ttnn.neg(r), ttnn.exp(r)))(ttnn.relu(x)), S(32, 32))
    pat = Pat("neg", Pat("relu", Pat.any(), one_use=True))
    assert _first(Rewriter(g, CTX), pat, "neg") is not None
    assert _first(Rewriter(shared, CTX), pat, "neg") is None


# -------------------------------------------------------------------------------------------------- driver
def _drop_relu(rw, m):
    return m.ref("x")


RULE_RELU = (Pat("relu", Pat("relu", Pat.any("x"), name="inner")), lambda rw, m: m.ref("inner"))


def test_driver_applies_to_fixpoint_and_is_pure():
    g = traced(lambda x: ttnn.relu(ttnn.relu(ttnn.relu(ttnn.relu(x)))), S(32, 32))
    before = g.to_json()
    out = run(g, [RULE_RELU])  # relu(relu(a)) -> relu(a), three times
    assert ops(out) == ["relu"] and g.to_json() == before


def test_driver_no_match_returns_equal_graph():
    g = traced(lambda x: ttnn.exp(x), S(32, 32))
    assert run(g, [RULE_RELU]) == g


def test_driver_loop_limit():
    flip = (Pat("neg", Pat.any("x")), lambda rw, m: rw.emit("neg", input_tensor=m.x))  # never converges
    g = traced(lambda x: ttnn.neg(x), S(32, 32))
    with pytest.raises(RewriteLimitError, match="more than 5 rewrites"):
        rewrite(g, [flip], CTX, max_rewrites=5)


def test_miss_is_recorded_as_a_note_on_the_root():
    def never(rw, m):
        return Miss("because")

    never.rule_name = "never"
    g = traced(lambda x: ttnn.exp(x), S(32, 32))
    out = run(g, [(Pat("exp"), never)], table="t")
    assert out.nodes[0].side.notes == ("t.never: because",)


def test_replacement_with_another_spec_is_rejected():
    g = traced(lambda x: ttnn.exp(x), S(32, 32))
    rule = (Pat("exp", Pat.any("x")), lambda rw, m: rw.emit("typecast", input_tensor=m.x, dtype=ttnn.float32))
    out = run(g, [rule], table="t")
    assert ops(out) == ["exp"] and "differs" in out.nodes[0].side.notes[0]


def test_new_nodes_record_what_they_replaced():
    g = traced(lambda x, y: ttnn.add(ttnn.multiply(x, y), y), S(32, 32), S(32, 32))
    ids = [n.id for n in g.nodes]
    rule = (
        Pat("add", Pat("multiply", Pat.any("x"), Pat.any("y")), Pat.any("y")),
        lambda rw, m: rw.emit("addcmul", input_a=m.y, input_b=m.x, input_c=m.y),
    )  # x*y + y -> addcmul(y, x, y)
    out = run(g, [rule])
    (n,) = out.nodes
    assert n.op == "addcmul" and n.side.replaced == ("multiply", "add") and origins(n) == tuple(ids)
    # a node replacing a fused node inherits its traced origins (nested fusions are flattened)
    twice = (
        Pat("addcmul"),
        lambda rw, m: rw.emit("neg", input_tensor=rw.emit("neg", input_tensor=m.root.inputs[0])),
    )
    nested = run(out, [twice])
    assert origins(nested.nodes[-1]) == tuple(ids) and nested.nodes[-1].side.replaced == ("multiply", "add")
    assert origins(nested.nodes[0]) == ()  # an auxiliary node replaces nothing


def test_also_replace_rewrites_siblings_in_one_step():
    g = traced(lambda x: (ttnn.exp(x), ttnn.exp(x)), S(32, 32))
    first, second = g.nodes

    def merge(rw, m):
        if m.root.id != first.id:
            return None
        r = rw.emit("exp", input_tensor=m.root.inputs[0])
        rw.also_replace(second, r)
        return r

    out = run(g, [(Pat("exp"), merge)])
    assert ops(out) == ["exp"] and out.outputs[0] == out.outputs[1]


def test_toposort_keeps_order_and_detects_cycles():
    g = traced(lambda x: ttnn.exp(ttnn.relu(x)), S(32, 32))
    a, b = g.nodes
    assert [n.id for n in toposort([b, a], 1)] == [a.id, b.id]
    loop = a.replace(inputs=(Ref(b.id),))
    assert toposort([loop, b], 1) is None


# ---------------------------------------------------------------------------------------------- replacements
def _search(x, r, *, eps):
    return ttnn.layer_norm(ttnn.add(x, r), epsilon=eps)


def _replace(x, r, *, eps):
    return ttnn.layer_norm(x, residual_input_tensor=r, epsilon=eps)


def test_replacement_from_two_functions():
    rule = replacement(_search, _replace, (S(32, 64), S(32, 64)), scalars={"eps": 1.25e-7})
    g = traced(lambda x, r: ttnn.layer_norm(ttnn.add(x, r), epsilon=1e-5), S(64, 128), S(64, 128))
    out = run(g, [rule])
    (n,) = out.nodes
    assert n.op == "layer_norm" and n.attr("epsilon") == 1e-5 and n.side.replaced == ("add", "layer_norm")
    assert n.attr("residual_input_tensor") is not None and n.attr("memory_config") is None


def test_replacement_requires_single_use_intermediates_and_extra_check():
    rule = replacement(_search, _replace, (S(32, 64), S(32, 64)), scalars={"eps": 1.25e-7})
    shared = traced(
        lambda x, r: (lambda h: (ttnn.layer_norm(h, epsilon=1e-5), h))(ttnn.add(x, r)), S(32, 64), S(32, 64)
    )
    assert ops(run(shared, [rule])) == ["add", "layer_norm"]
    veto = replacement(
        _search,
        _replace,
        (S(32, 64), S(32, 64)),
        scalars={"eps": 1.25e-7},
        extra_check=lambda rw, m: Miss("vetoed"),
        name="veto",
    )
    g = traced(lambda x, r: ttnn.layer_norm(ttnn.add(x, r), epsilon=1e-5), S(32, 64), S(32, 64))
    out = run(g, [veto], table="t")
    assert ops(out) == ["add", "layer_norm"] and out.nodes[-1].side.notes == ("t.veto: vetoed",)


def test_replacement_does_not_match_other_static_values():
    rule = replacement(_search, _replace, (S(32, 64), S(32, 64)), scalars={"eps": 1.25e-7})
    g = traced(
        lambda x, r: ttnn.layer_norm(ttnn.add(x, r, activations=["relu"]), epsilon=1e-5), S(32, 64), S(32, 64)
    )
    assert ops(run(g, [rule])) == ["add", "layer_norm"]
