"""cleanup (ttfuse/passes/cleanup.py): every rule alone (expected node or no match), CSE, the pass end to end."""

from __future__ import annotations

import pytest
import torch

import ttfuse
from ttfuse import ttnn
from ttfuse.capture.trace import trace
from ttfuse.device import device_spec
from ttfuse.passes import cleanup as C
from ttfuse.passes.pipeline import PassContext
from ttfuse.passes.rewrite import rewrite, rule_name
from ttfuse.testing import pcc
from ttfuse.verify import verify

BF16, F32, BFP8 = ttnn.bfloat16, ttnn.float32, ttnn.bfloat8_b
CTX = PassContext(device_spec())


def S(*shape, dtype=BF16, layout=None):
    return ttnn.TensorSpec(shape, dtype, layout or ttnn.TILE_LAYOUT, ttnn.DRAM_MEMORY_CONFIG)


def traced(fn, *specs):
    return trace(fn, specs, {}, specs_are_tensors=True, device_spec=device_spec())


def pick(table, op, name):
    """The rules of `table` named `name` whose root matches `op` (one rule, tested alone)."""
    found = [r for r in table if rule_name(r) == name and op in r[0].ops]
    assert found, (op, name)
    return found


def apply(g, rules):
    out = rewrite(g, rules, CTX, table="cleanup")
    verify(out)
    return out


def ops(g):
    return [n.op for n in g.nodes]


X = S(32, 64)


# ---------------------------------------------------------------------------------------------------- casts
def test_noop_typecast_removed():
    g = traced(lambda x: ttnn.exp(ttnn.typecast(x, BF16)), X)
    assert ops(apply(g, pick(C.rules_cast, "typecast", "noop_copy"))) == ["exp"]
    g = traced(lambda x: ttnn.exp(ttnn.typecast(x, F32)), X)
    assert ops(apply(g, pick(C.rules_cast, "typecast", "noop_copy"))) == ["typecast", "exp"]


def test_lossless_cast_chain():
    rules = pick(C.rules_cast, "typecast", "lossless_cast_chain")
    g = traced(
        lambda x: ttnn.exp(ttnn.typecast(ttnn.typecast(x, F32), BF16)), X
    )  # bf16 -> f32 -> bf16: exact
    assert ops(apply(g, rules)) == ["exp"]
    g = traced(lambda x: ttnn.typecast(ttnn.typecast(x, F32), BFP8), X)
    out = apply(g, rules)
    assert ops(out) == ["typecast"] and out.nodes[0].attr("dtype") is BFP8
    lossy = traced(lambda x: ttnn.typecast(ttnn.typecast(x, BFP8), BF16), X)  # bf16 -> bfp8 rounds
    out = apply(lossy, rules)
    assert ops(out) == ["typecast", "typecast"] and "rounds" in out.nodes[-1].side.notes[0]


# --------------------------------------------------------------------------------------------------- copies
@pytest.mark.parametrize("op", ["clone", "reallocate"])
def test_noop_copy_removed(op):
    fn = (lambda x: ttnn.exp(ttnn.clone(x))) if op == "clone" else (lambda x: ttnn.exp(ttnn.reallocate(x)))
    assert ops(apply(traced(fn, X), pick(C.rules_copy, op, "noop_copy"))) == ["exp"]


def test_copy_kept_where_aliasing_would_show():
    rules = pick(C.rules_copy, "clone", "noop_copy")
    out = apply(traced(lambda x: ttnn.clone(x), X), rules)  # an output must not alias the input
    assert ops(out) == ["clone"] and "alias" in out.nodes[0].side.notes[0]
    # an in-place write into the copy: the IR is functional, so the copy goes; codegen clones the argument
    # before writing in place (the caller's tensor keeps its value)
    out = apply(traced(lambda x: ttnn.add_(ttnn.clone(x), 1.0), X), rules)
    assert ops(out) == ["add_"] and not out.writes
    from ttfuse.codegen import generate_source

    src = generate_source(out)[0]
    assert "v2 = ttnn.clone(v0)" in src and "ttnn.add_(v2, 1.0)" in src
    other = apply(traced(lambda x: ttnn.exp(ttnn.clone(x, dtype=F32)), X), rules)  # a converting clone
    assert ops(other) == ["clone", "exp"]


def test_copy_of_a_buffer_written_later_in_place_is_kept(device):
    # found by the random-program test: the move chain copies x's value; forwarding it would make the output
    # share x's buffer, which the last add_ then changes (eager returns the value from before that write)
    def prog(x):
        ttnn.add_(x, 1.5)
        y = ttnn.to_memory_config(ttnn.to_memory_config(x, ttnn.L1_MEMORY_CONFIG), ttnn.DRAM_MEMORY_CONFIG)
        ttnn.add_(x, 1.5)
        return y

    rm = S(32, 32, layout=ttnn.ROW_MAJOR_LAYOUT)  # ROW_MAJOR: no eltwise kernel absorbs the in-place adds
    out = apply(traced(prog, rm), pick(C.rules_layout, "to_memory_config", "memory_chain"))
    assert ops(out) == ["add_", "to_memory_config", "to_memory_config", "add_"]
    assert any("written in place" in note for n in out.nodes for note in n.side.notes)
    t = torch.randn(32, 32)
    ins = [ttnn.from_torch(t, dtype=BF16, layout=ttnn.ROW_MAJOR_LAYOUT, device=device) for _ in range(2)]
    eager, jit = prog(ins[0]), ttfuse.jit(prog, enable_cache=False)(ins[1])
    assert torch.equal(ttnn.to_torch(jit), ttnn.to_torch(eager))
    assert torch.equal(ttnn.to_torch(ins[1]), ttnn.to_torch(ins[0]))


def test_clone_chain():
    g = traced(
        lambda x: ttnn.exp(ttnn.clone(ttnn.clone(x, dtype=F32), memory_config=ttnn.L1_MEMORY_CONFIG)), X
    )
    out = apply(g, pick(C.rules_copy, "clone", "copy_chain"))  # the inner bf16 -> f32 copy is exact
    assert ops(out) == ["clone", "exp"] and out.nodes[0].outs[0] == g.nodes[1].outs[0]
    lossy = traced(lambda x: ttnn.clone(ttnn.clone(x, dtype=BF16), dtype=F32), S(32, 64, dtype=F32))
    out = apply(lossy, pick(C.rules_copy, "clone", "copy_chain"))
    assert ops(out) == ["clone", "clone"] and "rounds" in out.nodes[-1].side.notes[0]


# --------------------------------------------------------------------------------------- layout and memory
def test_layout_round_trip_removed():
    rules = pick(C.rules_layout, "to_layout", "layout_round_trip")
    g = traced(
        lambda x: ttnn.exp(ttnn.to_layout(ttnn.to_layout(x, ttnn.ROW_MAJOR_LAYOUT), ttnn.TILE_LAYOUT)), X
    )
    assert ops(apply(g, rules)) == ["exp"]
    g8 = traced(
        lambda x: ttnn.to_layout(ttnn.to_layout(x, ttnn.ROW_MAJOR_LAYOUT), ttnn.TILE_LAYOUT),
        S(32, 64, dtype=BFP8),
    )
    assert ops(apply(g8, rules)) == [
        "to_layout",
        "to_layout",
    ]  # untilize unpacks bfp8 to bf16: not a round trip


def test_noop_layout_and_memory_moves():
    g = traced(lambda x: ttnn.exp(ttnn.to_layout(x, ttnn.TILE_LAYOUT)), X)
    assert ops(apply(g, pick(C.rules_layout, "to_layout", "noop_copy"))) == ["exp"]
    g = traced(lambda x: ttnn.exp(ttnn.to_memory_config(x, ttnn.DRAM_MEMORY_CONFIG)), X)
    assert ops(apply(g, pick(C.rules_layout, "to_memory_config", "noop_copy"))) == ["exp"]


def test_memory_move_chain():
    l1, dram = ttnn.L1_MEMORY_CONFIG, ttnn.DRAM_MEMORY_CONFIG
    g = traced(lambda x: ttnn.exp(ttnn.to_memory_config(ttnn.to_memory_config(x, l1), dram)), X)
    assert ops(apply(g, pick(C.rules_layout, "to_memory_config", "memory_chain"))) == ["exp"]
    g = traced(lambda x: ttnn.to_memory_config(ttnn.to_memory_config(x, l1), l1), S(32, 64))
    out = apply(g, pick(C.rules_layout, "to_memory_config", "memory_chain"))
    assert ops(out) == ["to_memory_config"]


# ------------------------------------------------------------------------------------------ reshape, permute
def test_reshape_chain_and_noop():
    g = traced(lambda x: ttnn.exp(ttnn.reshape(ttnn.reshape(x, (64, 32)), (2, 32, 32))), X)
    out = apply(g, pick(C.rules_shape, "reshape", "reshape_chain"))
    assert ops(out) == ["reshape", "exp"] and tuple(out.nodes[0].attr("shape")) == (2, 32, 32)
    g = traced(lambda x: ttnn.exp(ttnn.reshape(x, (32, 64))), X)
    assert ops(apply(g, pick(C.rules_shape, "reshape", "noop_copy"))) == ["exp"]


def test_permute_chain_composes(device):
    g = traced(lambda x: ttnn.permute(ttnn.permute(x, (2, 0, 1)), (0, 2, 1)), S(2, 32, 64))
    out = apply(g, pick(C.rules_shape, "permute", "permute_chain"))
    assert ops(out) == ["permute"] and tuple(out.nodes[0].attr("dims")) == (2, 1, 0)
    back = traced(lambda x: ttnn.exp(ttnn.permute(ttnn.permute(x, (1, 0)), (1, 0))), X)
    assert ops(apply(back, pick(C.rules_shape, "permute", "permute_chain"))) == ["exp"]


def test_square_permute_is_not_a_noop():
    """Regression: a permute of square dims keeps the spec but moves data."""
    g = traced(lambda x: ttnn.permute(x, (0, 1, 3, 2)), S(1, 2, 64, 64))
    assert ops(apply(g, pick(C.rules_shape, "permute", "noop_copy"))) == ["permute"]
    unit = traced(lambda x: ttnn.exp(ttnn.permute(x, (1, 0, 2, 3))), S(1, 1, 64, 64))
    assert ops(apply(unit, pick(C.rules_shape, "permute", "noop_copy"))) == ["exp"]


# ------------------------------------------------------------------------------------------------- scalars
@pytest.mark.parametrize(
    "fn",
    [
        lambda x: ttnn.multiply(x, 1.0),
        lambda x: ttnn.multiply(1, x),
        lambda x: ttnn.add(x, 0.0),
        lambda x: ttnn.add(0, x),
        lambda x: ttnn.subtract(x, 0.0),
        lambda x: ttnn.divide(x, 1.0),
    ],
)
def test_identity_scalars_removed(fn):
    g = traced(lambda x: ttnn.exp(fn(x)), X)
    rules = [r for r in C.rules_scalar if rule_name(r) == "identity_scalar"]
    assert ops(apply(g, rules)) == ["exp"]


def test_identity_scalar_kept_with_activations():
    g = traced(lambda x: ttnn.multiply(x, 1.0, activations=["relu"]), X)
    rules = [r for r in C.rules_scalar if rule_name(r) == "identity_scalar"]
    assert ops(apply(g, rules)) == ["multiply"]


def test_scalar_chains_fold(device):
    rules = [r for r in C.rules_scalar if rule_name(r) == "scalar_chain"]
    g = traced(lambda x: ttnn.multiply(ttnn.multiply(x, 2.0), 3.0), X)
    out = apply(g, rules)
    assert ops(out) == ["multiply"] and out.nodes[0].attr("input_tensor_b") == 6.0
    g = traced(lambda x: ttnn.subtract(ttnn.add(x, 2.0), 0.5), X)
    out = apply(g, rules)
    assert ops(out) == ["add"] and out.nodes[0].attr("input_tensor_b") == 1.5
    g = traced(lambda x: ttnn.add(ttnn.subtract(x, 2.0), 0.5), X)
    assert apply(g, rules).nodes[0].attr("input_tensor_b") == -1.5
    shared = traced(lambda x: (lambda m: (ttnn.multiply(m, 3.0), m))(ttnn.multiply(x, 2.0)), X)
    assert ops(apply(shared, rules)) == ["multiply", "multiply"]  # the inner product is an output


def test_involution_and_idempotence():
    g = traced(lambda x: ttnn.exp(ttnn.neg(ttnn.neg(x))), X)
    assert ops(apply(g, [r for r in C.rules_scalar if rule_name(r) == "involution"])) == ["exp"]
    g = traced(lambda x: ttnn.relu(ttnn.relu(x)), X)
    assert ops(apply(g, [r for r in C.rules_scalar if rule_name(r) == "idempotent"])) == ["relu"]


# ----------------------------------------------------------------------------------------------------- CSE
def test_cse_merges_duplicates_and_notes_it():
    g = traced(lambda x: ttnn.add(ttnn.exp(x), ttnn.exp(x)), X)
    out = C.cse(g)
    verify(out)
    assert ops(out) == ["exp", "add"] and out.nodes[0].side.notes == (f"cse=%{g.nodes[1].id}",)
    assert out.nodes[1].inputs[0] == out.nodes[1].inputs[1]


def test_cse_skips_nondeterministic_ops_and_merges_inplace_targets(device):
    rand = traced(
        lambda x: ttnn.add(
            ttnn.rand((32, 64), device=device, layout=ttnn.TILE_LAYOUT),
            ttnn.rand((32, 64), device=device, layout=ttnn.TILE_LAYOUT),
        ),
        X,
    )
    assert C.cse(rand) == rand
    # in-place ops are functional in the IR: the two exp merge; codegen then writes into a clone of the one exp
    # (its old value is still returned), and the values are eager's
    f = lambda x: (ttnn.add_(ttnn.exp(x), 1.0), ttnn.exp(x))  # noqa: E731
    merged = C.cse(traced(f, X))
    assert [n.op for n in merged.nodes] == ["exp", "add_"]
    x = ttnn.from_torch(torch.randn(32, 64), dtype=BF16, layout=ttnn.TILE_LAYOUT, device=device)
    jf = ttfuse.jit(f, passes=["cleanup"])
    assert "ttnn.clone(" in jf.lower(x).source
    for a, b in zip(jf(x), f(x)):
        assert torch.equal(ttnn.to_torch(a), ttnn.to_torch(b))


# -------------------------------------------------------------------------------------------------- the pass
def _messy(x):
    y = ttnn.typecast(ttnn.typecast(x, F32), BF16)
    y = ttnn.to_layout(ttnn.to_layout(y, ttnn.ROW_MAJOR_LAYOUT), ttnn.TILE_LAYOUT)
    y = ttnn.multiply(ttnn.multiply(y, 2.0), 3.0)
    y = ttnn.permute(ttnn.permute(ttnn.add(y, 0.0), (1, 0)), (1, 0))
    y = ttnn.clone(ttnn.reallocate(y))
    return ttnn.add(ttnn.relu(y), ttnn.relu(y))


def test_cleanup_pass_end_to_end(device):
    g = traced(_messy, X)
    out = C.cleanup(g, CTX)
    verify(out)
    assert ops(out) == ["multiply", "relu", "add"]
    x = ttnn.from_torch(torch.randn(32, 64), dtype=BF16, layout=ttnn.TILE_LAYOUT, device=device)
    jf = ttfuse.jit(_messy, passes=["dce", "cleanup"])
    assert pcc(ttnn.to_torch(jf(x)), ttnn.to_torch(_messy(x))) > 0.9999


def test_cleanup_returns_the_same_graph_when_nothing_applies():
    g = traced(lambda x: ttnn.exp(x), X)
    assert C.cleanup(g, CTX) is g
