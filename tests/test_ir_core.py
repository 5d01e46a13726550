"""The graph core (ttfuse/ir/): the interpreter, liveness and dce (write-backs live), toposort, respec."""

from __future__ import annotations

import pytest

from ttfuse import ttnn
from ttfuse.errors import SpecError
from ttfuse.ir import (
    Graph,
    In,
    Node,
    NodeSide,
    Ref,
    bind_args,
    dce,
    graph_env,
    in_order,
    infer_outs,
    interpret,
    live_values,
    make_attrs,
    respec,
    toposort,
    value_specs,
)
from ttfuse.verify import verify

BF16, F32 = ttnn.bfloat16, ttnn.float32
S = ttnn.TensorSpec


def node(nid, op, inputs, in_specs, **static):
    attrs = make_attrs(op, **static)
    outs, multi = infer_outs(op, attrs, in_specs)
    return Node(nid, op, tuple(inputs), attrs, outs, multi, NodeSide())


def chain() -> Graph:
    """%2 = add %0 %1 ; %3 = relu %2 ; %4 = exp %0 (dead) ; %5 = multiply %3 %1 ; return %5."""
    a = S((32, 64), BF16)
    add = node(2, "add", [Ref(0), Ref(1)], [a, a], input_tensor_a=In(0), input_tensor_b=In(1))
    relu = node(3, "relu", [Ref(2)], [a], input_tensor=In(0))
    dead = node(4, "exp", [Ref(0)], [a], input_tensor=In(0))
    mul = node(5, "multiply", [Ref(3), Ref(1)], [a, a], input_tensor_a=In(0), input_tensor_b=In(1))
    return Graph((a, a), [add, relu, dead, mul], (Ref(5),), "*", {"name": "chain"})


# ------------------------------------------------------------------------------------------- interpreter
def test_interpret_binds_inputs_in_order_and_binds_outputs():
    g = chain()
    seen = []

    def visit(n, ins):
        seen.append((n.id, list(ins)))
        return [f"v{n.id}"]

    env = interpret(g.nodes, visit, graph_env(g, ["x", "y"]))
    assert seen == [(2, ["x", "y"]), (3, ["v2"]), (4, ["x"]), (5, ["v3", "y"])]
    assert env == {0: "x", 1: "y", 2: "v2", 3: "v3", 4: "v4", 5: "v5"}


def test_interpret_custom_read_and_none_binds_nothing():
    g = chain()
    reads = []

    def read(n, k, r):
        reads.append((n.id, k, r.value))
        return r.value * 10

    env = interpret(g.nodes[:2], lambda n, ins: None, {}, read=read)
    assert env == {} and reads == [(2, 0, 0), (2, 1, 1), (3, 0, 2)]


def test_value_specs_and_bind_args():
    g = chain()
    specs = value_specs(g)
    assert specs[0] == g.inputs[0] and specs[5] == g.nodes[-1].outs[0] and len(specs) == 6
    args = bind_args(g.nodes[0], ["A", "B"])
    assert args["input_tensor_a"] == "A" and args["input_tensor_b"] == "B"


def test_multi_output_values_are_numbered_from_the_node_id():
    x = S((32, 128), BF16)
    sp = node(1, "split", [Ref(0)], [x], input_tensor=In(0), split_size=64, dim=-1)
    mul = node(
        3, "multiply", [Ref(1, 1), Ref(1, 0)], list(sp.outs), input_tensor_a=In(0), input_tensor_b=In(1)
    )
    g = Graph((x,), [sp, mul], (Ref(3),), "*", {"name": "split"})
    env = interpret(g.nodes, lambda n, ins: [(n.id, j, tuple(ins)) for j in range(len(n.outs))], graph_env(g))
    assert env[2] == (1, 1, (x,)) and env[3] == (3, 0, ((1, 1, (x,)), (1, 0, (x,))))


# ----------------------------------------------------------------------------------------- liveness / dce
def test_dce_drops_dead_nodes_keeps_order():
    g = chain()
    out = dce(g)
    assert [n.id for n in out.nodes] == [2, 3, 5]
    verify(out)
    assert dce(out) is out  # nothing dead: the same graph
    assert live_values(g) == {0, 1, 2, 3, 5}


def test_dce_keeps_written_back_values():
    """An in-place write into an argument (a trailing output written back) is live though nothing returns it."""
    a = S((32, 64), BF16)
    add = node(2, "add", [Ref(0), Ref(1)], [a, a], input_tensor_a=In(0), input_tensor_b=In(1))
    relu = node(3, "relu", [Ref(2)], [a], input_tensor=In(0))
    dead = node(4, "exp", [Ref(1)], [a], input_tensor=In(0))
    g = Graph((a, a), [add, relu, dead], (Ref(0), Ref(3)), "*", {"name": "w"}, writes=(1,))
    verify(g)
    out = dce(g)
    assert [n.id for n in out.nodes] == [2, 3] and out.write_backs() == ((1, Ref(3)),)
    # without the write-back, the written value is dead too
    assert [n.id for n in dce(g.replace(outputs=(Ref(0),), writes=())).nodes] == []


def test_dce_is_the_pipeline_pass():
    from ttfuse.passes import cleanup, fuse, pipeline, rewrite

    assert pipeline.dce is dce and cleanup.dce is dce and fuse.dce is dce and rewrite.dce is dce
    assert dict(pipeline.PIPELINE)["dce"] is dce


# ---------------------------------------------------------------------------------------------- toposort
def test_toposort_keeps_order_where_it_can():
    g = chain()
    add, relu, dead, mul = g.nodes
    assert in_order(g.nodes, 2) and not in_order([relu, add], 2)
    assert [n.id for n in toposort([mul, dead, relu, add], 2)] == [2, 3, 5, 4]
    loop = relu.replace(inputs=(Ref(5),))
    assert toposort([add, loop, mul], 2) is None  # %3 <- %5 <- %3
    assert toposort([relu], 2) is None  # %2 is defined by no node


# ------------------------------------------------------------------------------------------------- respec
def test_respec_propagates_a_changed_spec_downstream():
    g = chain()
    add = g.nodes[0]
    wide = add.replace(attrs=make_attrs("add", input_tensor_a=In(0), input_tensor_b=In(1), dtype=F32))
    out = respec(g, {add.id: wide})
    by_id = out.node_index()
    assert by_id[2].outs[0].dtype is F32 and by_id[3].outs[0].dtype is F32  # relu follows its input
    assert by_id[4].outs == g.node_index()[4].outs  # untouched
    assert by_id[4] is g.node_index()[4]
    verify(out)
    assert respec(g, {}) == g


def test_respec_raises_when_a_node_no_longer_validates():
    g = chain()
    add = g.nodes[0]
    bad = add.replace(
        inputs=(Ref(0), Ref(1)), attrs=make_attrs("add", input_tensor_a=In(0), input_tensor_b=In(1))
    )
    narrow = S((32, 32), BF16)
    g2 = g.replace(inputs=(g.inputs[0], narrow))
    with pytest.raises(SpecError):
        respec(g2, {add.id: bad})
