"""The IR: printer (golden), verifier rules (IR corrupted on purpose), JSON round trip (parametrised and
hypothesis-generated graphs), structural hash, networkx view."""

from __future__ import annotations

import dataclasses
import json

import networkx as nx
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import cfg1d, sharded
from ttfuse import ttnn
from ttfuse.capture import trace
from ttfuse.errors import VerifyError
from ttfuse.ir import Decision, DeviceArg, FrozenList, Graph, In, Node, NodeSide, Ref, make_attrs
from ttfuse.verify import infer_outs, verify

BF16, L1, DRAM = ttnn.bfloat16, ttnn.L1_MEMORY_CONFIG, ttnn.DRAM_MEMORY_CONFIG
S = ttnn.TensorSpec


def node(nid, op, inputs, in_specs, loc=None, **static):
    attrs = make_attrs(op, **static)
    outs, multi = infer_outs(op, attrs, in_specs)
    return Node(nid, op, tuple(inputs), attrs, outs, multi, NodeSide(loc=loc))


def block_graph() -> Graph:
    """A hand-built graph: linear(+silu) -> split -> multiply; two outputs."""
    x, w = S((32, 1024), BF16, memory_config=L1), S((1024, 1024), BF16)
    lin = node(
        2,
        "linear",
        [Ref(0), Ref(1)],
        [x, w],
        ("/src/model.py", 41, "block"),
        input_tensor_a=In(0),
        input_tensor_b=In(1),
        memory_config=L1,
        activation="silu",
    )
    sp = node(
        3,
        "split",
        [Ref(2)],
        [lin.outs[0]],
        ("/src/model.py", 42, "block"),
        input_tensor=In(0),
        split_size=512,
        dim=-1,
    )
    mul = node(
        5, "multiply", [Ref(3, 0), Ref(3, 1)], list(sp.outs), None, input_tensor_a=In(0), input_tensor_b=In(1)
    )
    return Graph((x, w), [lin, sp, mul], (Ref(5), Ref(2)), {"t": ["*", "*"]}, {"name": "block"})


GOLDEN_BLOCK = """\
graph block(%0: bf16[32,1024]@L1, %1: bf16[1024,1024]@DRAM):
  %2: bf16[32,1024]@L1 = linear %0 %1 {memory_config=L1, activation=silu}  # model.py:41
  %3: bf16[32,512]@L1, %4: bf16[32,512]@L1 = split %2 {split_size=512, dim=-1}  # model.py:42
  %5: bf16[32,512]@L1 = multiply %3 %4
  return %5, %2"""


# ------------------------------------------------------------------------------------------------ printer
def test_printer_golden():
    g = block_graph()
    verify(g)
    assert str(g) == GOLDEN_BLOCK


def test_printer_shows_non_default_statics_compactly():
    x = S((1, 32, 64), BF16, ttnn.ROW_MAJOR_LAYOUT)
    n = node(1, "permute", [Ref(0)], [x], input_tensor=In(0), dims=[0, 2, 1])
    t = node(2, "typecast", [Ref(1)], list(n.outs), input_tensor=In(0), dtype=ttnn.float32)
    g = Graph((x,), [n, t], (Ref(2),), "*", {"name": "f"})
    lines = str(g).split("\n")
    assert lines[1] == "  %1: bf16[1,64,32]rm@DRAM = permute %0 {dims=[0, 2, 1]}"
    assert lines[2] == "  %2: f32[1,64,32]rm@DRAM = typecast %1 {dtype=f32}"


# ----------------------------------------------------------------------------------------------- verifier
def corrupt(g: Graph, k: int, **kw) -> Graph:
    nodes = list(g.nodes)
    nodes[k] = nodes[k].replace(**kw)
    return g.replace(nodes=nodes)


def test_verify_accepts_captured_graphs(device):
    x = ttnn.from_torch(torch.randn(32, 64), dtype=BF16, layout=ttnn.TILE_LAYOUT, device=device)
    assert verify(trace(lambda a: ttnn.softmax(a + a, dim=-1), (x,), {}))


@pytest.mark.parametrize(
    "how,match",
    [
        (
            lambda g: corrupt(g, 2, inputs=(Ref(3, 0), Ref(9, 0))),
            r"verify \[refs_defined\] at %5 \(multiply\): dangling ref %9",
        ),
        (
            lambda g: corrupt(g, 0, outs=(S((32, 1000), BF16, memory_config=L1),)),
            r"verify \[spec_matches\] at %2 \(linear\): wrong spec: node says bf16\[32,1000\]@L1, the spec rule gives "
            r"bf16\[32,1024\]@L1",
        ),
        (
            lambda g: corrupt(g, 1, op="no_such_op"),
            r"verify \[known_op\] at %3 \(no_such_op\): unknown op 'no_such_op'",
        ),
        (
            lambda g: corrupt(g, 0, inputs=(Ref(0), Ref(5))),
            r"verify \[refs_defined\] at %2 \(linear\): cycle: %2 reads %5",
        ),
        (
            lambda g: g.replace(nodes=[g.nodes[1], g.nodes[0], g.nodes[2]]),
            r"verify \[refs_defined\] at %3 \(split\): reads %2 before its definition \(nodes out of order\)",
        ),
        (lambda g: corrupt(g, 2, id=4), r"verify \[unique_values\]: value %4 is defined twice"),
        (
            lambda g: corrupt(g, 1, attrs=g.nodes[1].attrs[:-1]),
            r"verify \[attrs_match_params\] at %3 .*missing",
        ),
        (lambda g: corrupt(g, 1, attrs=g.nodes[1].attrs + (("bogus", 1),)), r"not parameters of ttnn.split"),
        (lambda g: corrupt(g, 2, inputs=(Ref(3, 0),)), r"verify \[markers_cover_inputs\] at %5"),
        (
            lambda g: corrupt(g, 1, attrs=tuple((k, [v] if k == "dim" else v) for k, v in g.nodes[1].attrs)),
            r"verify \[attrs_hashable\] at %3 \(split\): attribute 'dim' holds an unhashable list",
        ),
        (lambda g: corrupt(g, 1, multi=False), r"verify \[outs_are_specs\] at %3 .*multi=False"),
        (lambda g: g.replace(outputs=(Ref(7),)), r"verify \[outputs_defined\]: output 0 names %7"),
        (lambda g: g.replace(out_tree="*"), r"verify \[out_tree_matches\]: out_tree has 1 tensor leaves"),
        (lambda g: g.replace(inputs=(g.inputs[0], "x")), r"verify \[inputs_are_specs\]: input %1 is a str"),
    ],
)
def test_verifier_catches_corruption(how, match):
    bad = how(block_graph())
    with pytest.raises(VerifyError, match=match) as e:
        verify(bad)
    assert "graph block(" in str(e.value)  # the IR window


def test_verifier_window_marks_the_failing_node():
    g = corrupt(block_graph(), 1, op="no_such_op")
    with pytest.raises(VerifyError) as e:
        verify(g)
    marked = [ln for ln in str(e.value).split("\n") if ln.startswith(">> ")]
    assert marked == [
        ">> %3: bf16[32,512]@L1, %4: bf16[32,512]@L1 = no_such_op %2 {split_size=512, dim=-1, "
        "memory_config=None}  # model.py:42"
    ]


def test_inplace_ops_are_functional_in_the_ir():
    """Reading an in-place op's target afterwards reads the old value: valid IR (codegen clones if needed)."""
    a = S((32, 32), BF16)
    add_ = node(2, "add_", [Ref(0), Ref(1)], [a, a], input_tensor_a=In(0), input_tensor_b=In(1))
    relu = node(3, "relu", [Ref(0)], [a], input_tensor=In(0))  # reads the value before the write
    verify(Graph((a, a), [add_, relu], (Ref(3),), "*", {"name": "f"}))


def test_verifier_checks_write_backs():
    a = S((32, 32), BF16)
    add_ = node(2, "add_", [Ref(0), Ref(1)], [a, a], input_tensor_a=In(0), input_tensor_b=In(1))
    ok = Graph((a, a), [add_], (Ref(0), Ref(2)), "*", {"name": "f"}, writes=(0,))
    assert "%0 <- %2" in str(verify(ok))
    with pytest.raises(VerifyError, match=r"writes_valid.*not a graph input"):
        verify(ok.replace(writes=(5,)))
    with pytest.raises(VerifyError, match=r"writes_valid.*written back twice"):
        verify(ok.replace(outputs=(Ref(2), Ref(2)), writes=(0, 0), out_tree=None))
    wide = node(2, "concat", [Ref(0), Ref(1)], [a, a], tensors=FrozenList([In(0), In(1)]), dim=-1)
    with pytest.raises(VerifyError, match=r"writes_valid.*shape, dtype, layout differ"):
        verify(Graph((a, a), [wide], (Ref(2),), None, {"name": "f"}, writes=(1,)))


# -------------------------------------------------------------------------------------------- JSON round trip
def _sharded():
    return sharded(ttnn.TensorMemoryLayout.HEIGHT_SHARDED, (4, 1), (64, 64))


def _graphs():
    x = S((32, 64), BF16)
    ckc = ttnn.WormholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.HiFi4, fp32_dest_acc_en=True)
    relu = ttnn.UnaryWithParam(ttnn.UnaryOpType.RELU)
    pc = cfg1d(gx=2, gy=1, w=2, fuse_batch=True, fused_activation=relu, mcast_in0=True)
    yield "block", block_graph()
    yield (
        "configs",
        trace(
            lambda a, w: ttnn.linear(
                a,
                w,
                compute_kernel_config=ckc,
                program_config=pc,
                activation=ttnn.UnaryWithParam(ttnn.UnaryOpType.GELU, 1.0),
            ),
            (x, S((64, 64), BF16)),
            {},
            specs_are_tensors=True,
        ),
    )
    yield (
        "enums_and_lists",
        trace(lambda a: ttnn.gelu(ttnn.permute(ttnn.sigmoid(a), [1, 0])), (x,), {}, specs_are_tensors=True),
    )
    yield (
        "sharded",
        trace(
            lambda a: ttnn.interleaved_to_sharded(a, _sharded()),
            (S((256, 64), BF16),),
            {},
            specs_are_tensors=True,
        ),
    )
    yield (
        "binary_activations",
        trace(
            lambda a, b: ttnn.multiply(
                a, b, input_tensor_b_activations=[ttnn.UnaryOpType.SIGMOID], dtype=ttnn.float32
            ),
            (x, x),
            {},
            specs_are_tensors=True,
        ),
    )
    yield (
        "floats",
        trace(lambda a: ttnn.clamp(a, float("-inf"), 0.5) * 1e-30, (x,), {}, specs_are_tensors=True),
    )


@pytest.mark.parametrize("name,g", list(_graphs()), ids=lambda v: v if isinstance(v, str) else "")
def test_json_round_trip(name, g):
    d = json.loads(json.dumps(g.to_json()))
    back = Graph.from_json(d)
    assert back == g
    assert back.to_json() == g.to_json()  # side data and meta too
    assert [n.side for n in back.nodes] == [n.side for n in g.nodes]
    assert back.structural_hash() == g.structural_hash()
    assert str(back) == str(g)
    verify(back)


def test_json_round_trip_of_side_data_and_markers():
    g = block_graph()
    side = NodeSide(
        loc=("m.py", 1, "f"),
        config={"program_config": ttnn.SoftmaxDefaultProgramConfig(), "k": 3},
        notes=("fused by x",),
        replaced=("add", "relu"),
        origins=(3, 4),
        cse=(7,),
        decisions=(Decision("fuse.linear", "bias", "no bias"), Decision("chunk", "", "fits")),
    )
    assert side.decisions[0].pass_name == "fuse" and str(side.decisions[0]) == "fuse.linear.bias: no bias"
    assert str(side.plus(decisions=(Decision("chunk", "", "x"),)).notes[-1]) == "chunk: x"
    g = corrupt(g, 0, side=side)
    back = Graph.from_json(json.loads(json.dumps(g.to_json())))
    assert back.nodes[0].side == side
    n = g.nodes[0].replace(attrs=(("a", DeviceArg()), ("b", FrozenList([In(0), (1, [2])]))))
    assert Node.from_json(json.loads(json.dumps(n.to_json()))).attrs == n.attrs


def test_from_json_rejects_other_versions():
    d = block_graph().to_json()
    d["ir_version"] = 999
    with pytest.raises(ValueError, match="not a ttfuse IR v3 graph"):
        Graph.from_json(d)


UNARY = ["relu", "exp", "neg", "silu", "sigmoid", "tanh", "abs", "square"]
BINARY = ["add", "subtract", "multiply", "maximum"]


@st.composite
def programs(draw):
    """A random straight-line program over two inputs: (op, operand indices, static) steps."""
    steps = []
    for i in range(draw(st.integers(1, 8))):
        avail = i + 2
        kind = draw(st.sampled_from(["unary", "binary", "scalar", "reduce"]))
        a = draw(st.integers(0, avail - 1))
        if kind == "unary":
            steps.append((draw(st.sampled_from(UNARY)), (a,), None))
        elif kind == "binary":
            steps.append((draw(st.sampled_from(BINARY)), (a, draw(st.integers(0, avail - 1))), None))
        elif kind == "scalar":
            steps.append(("multiply", (a,), draw(st.floats(-4, 4, allow_nan=False, width=32))))
        else:
            steps.append(("sum", (a,), None))
    return steps


def run_program(steps, a, b):
    vals = [a, b]
    for op, args, static in steps:
        fn = getattr(ttnn, op)
        if op == "sum":
            v = ttnn.add(vals[args[0]], ttnn.sum(vals[args[0]], dim=-1, keepdim=True))
        elif static is not None:
            v = fn(vals[args[0]], static)
        else:
            v = fn(*[vals[i] for i in args])
        vals.append(v)
    return vals[-1], vals[2]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_json_round_trip_property(steps):
    x = S((32, 64), BF16)
    g = trace(run_program, (steps, x, x), {}, specs_are_tensors=True)
    verify(g)
    back = Graph.from_json(json.loads(json.dumps(g.to_json())))
    assert back == g and back.structural_hash() == g.structural_hash()
    verify(back)


# ------------------------------------------------------------------------------------- hash and networkx
def test_structural_hash_ignores_side_data_and_numbering():
    g = block_graph()
    h = g.structural_hash()
    assert corrupt(g, 0, side=NodeSide(loc=("other.py", 9, "g"))).structural_hash() == h
    g2 = dataclasses.replace(g, meta={"name": "renamed"})
    assert g2.structural_hash() == h
    # renumber: every node id +10
    shift = {n.id: n.id + 10 for n in g.nodes}

    def rr(r):
        return Ref(shift.get(r.node, r.node), r.out)

    renum = g.replace(
        nodes=[n.replace(id=shift[n.id], inputs=tuple(map(rr, n.inputs))) for n in g.nodes],
        outputs=tuple(map(rr, g.outputs)),
    )
    verify(renum)
    assert renum != g and renum.structural_hash() == h
    changed = corrupt(g, 1, attrs=tuple((k, 256 if k == "split_size" else v) for k, v in g.nodes[1].attrs))
    assert changed.structural_hash() != h


def test_networkx_view():
    g = block_graph()
    d = g.to_networkx()
    assert nx.is_directed_acyclic_graph(d)
    assert set(d.nodes) == {"in0", "in1", 2, 3, 5, "out0", "out1"}
    assert d.edges[3, 5]["refs"] == [Ref(3, 0), Ref(3, 1)]
    order = [v for v in nx.topological_sort(d) if isinstance(v, int)]
    assert order == [2, 3, 5]
    assert d.nodes[2]["op"] == "linear"


def test_graph_helpers():
    g = block_graph()
    assert g.next_id() == 6
    assert [n.id for n in g.users()[2]] == [3]
    assert g.spec_of(Ref(3, 1)) == g.nodes[1].outs[1] and g.spec_of(Ref(1)) == g.inputs[1]
    with pytest.raises(TypeError, match="missing required parameter 'input_tensor'"):
        make_attrs("relu")
    with pytest.raises(TypeError, match=r"unknown parameter\(s\) \['nope'\]"):
        make_attrs("relu", input_tensor=In(0), nope=1)
