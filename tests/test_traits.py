"""Op traits (ttfuse/opdef.py `Traits`): passes read what an op declares at registration, nothing else.

A throwaway elementwise op registered here (and unregistered after) chunks, joins eltwise kernels and folds into
a binary op as a fused activation through its traits alone; the passes and the simulator hold no getattr hook
lookups and no tables keyed by op name.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import torch

import ttfuse
from ttfuse import ttnn
from ttfuse.axes import Axis, axes_of
from ttfuse.configs import UnaryOpType
from ttfuse.device import device_spec
from ttfuse.opdef import OPS, Group, Traits, register_op
from ttfuse.passes import chunk as chunk_mod
from ttfuse.passes import fuse as fuse_mod
from ttfuse.passes import select as select_mod
from ttfuse.passes.chunk import chunk
from ttfuse.passes.pipeline import PassContext
from ttfuse.passes.rewrite import rewrite, rule_name
from ttfuse.sim import blocked as blocked_mod
from ttfuse.testing import pcc
from ttfuse.types import TensorSpec

ROOT = Path(__file__).resolve().parent.parent
BF16 = ttnn.bfloat16


def spec(*shape) -> TensorSpec:
    return TensorSpec(tuple(shape), BF16, ttnn.TILE_LAYOUT, ttnn.DRAM_MEMORY_CONFIG)


def _register(name: str, traits: Traits | None, fn) -> None:
    @register_op(name, Group.ELTWISE_UNARY, traits=traits)
    def op(input_tensor, *, memory_config=None, output_tensor=None, sub_core_grids=None):
        """A throwaway unary op for tests/test_traits.py."""

    @op.spec
    def _spec(input_tensor, memory_config=None, output_tensor=None, sub_core_grids=None):
        return input_tensor.replace(memory_config=memory_config or input_tensor.memory_config)

    @op.sim
    def _sim(ctx, input_tensor, **_):
        return fn(input_tensor)


@pytest.fixture
def cube():
    """`test_cube`: x**3, declared with no traits at all (its group gives it the eltwise split)."""
    _register("test_cube", None, lambda x: x * x * x)
    yield OPS["test_cube"]
    OPS.pop("test_cube")


@pytest.fixture
def my_relu():
    """`test_relu`: max(x, 0), declaring that a fused RELU activation computes it."""
    _register("test_relu", Traits(activation=UnaryOpType.RELU), torch.relu)
    yield OPS["test_relu"]
    OPS.pop("test_relu")


def _lower(fn, *specs, **kw):
    return ttfuse.jit(fn, **kw).lower(*specs)


# ------------------------------------------------------------------------------------- a new eltwise op
def test_new_eltwise_op_splits_by_its_group(cube):
    assert cube.traits.split == "eltwise"
    g = _lower(lambda x: cube(x), spec(2, 64, 96), passes=[]).graph
    n = g.nodes[0]
    assert axes_of(n, [g.spec_of(r) for r in n.inputs]) == [Axis(0, (0,), 1), Axis(1, (1,), 32)]


def test_new_eltwise_op_joins_an_eltwise_kernel(cube, device):
    def f(x):
        return ttnn.add(cube(ttnn.multiply(x, 2.0)), 1.0)

    low = _lower(f, spec(64, 64))
    assert [n.op for n in low.graph.nodes] == ["kernels.eltwise"]
    xt = torch.randn(64, 64)
    x = ttnn.from_torch(xt, dtype=BF16, layout=ttnn.TILE_LAYOUT, device=device)
    out = ttnn.to_torch(ttfuse.jit(f)(x))
    assert pcc(out, (xt * 2) ** 3 + 1) > 0.999


def test_new_eltwise_op_is_chunked(cube):
    def f(x):  # test_cube's 1 MiB result in L1 does not fit a 512 KiB budget
        return ttnn.add(
            cube(x, memory_config=ttnn.L1_MEMORY_CONFIG), x, memory_config=ttnn.DRAM_MEMORY_CONFIG
        )

    g = _lower(f, spec(1, 8, 256, 256), passes=[]).graph
    ctx = PassContext(device_spec("wormhole_b0"), {"l1_budget": 512 * 1024}, frozenset())
    out = chunk(g, ctx)
    assert [n.op for n in out.nodes].count("test_cube") == 2  # the region (test_cube, add) in two row chunks
    assert out.nodes[-1].op == "concat"


def test_activation_trait_folds_into_a_binary_op(my_relu):
    from ttfuse.capture.trace import trace
    from ttfuse.verify import verify

    g = trace(
        lambda x, y: ttnn.multiply(my_relu(x), y),
        (spec(64, 64), spec(64, 64)),
        {},
        specs_are_tensors=True,
        device_spec=device_spec(),
    )
    rules = [r for r in fuse_mod.rules_binary() if rule_name(r) == "binary_input_activation"]
    out = rewrite(g, rules, PassContext(device_spec(), {}, frozenset()), table="t")
    verify(out)
    assert [n.op for n in out.nodes] == ["multiply"]
    acts = out.nodes[0].attr("input_tensor_a_activations") or out.nodes[0].attr("input_tensor_b_activations")
    assert [a.op_type for a in acts] == [UnaryOpType.RELU]


def test_unregistered_op_leaves_no_trace(cube):
    assert "test_cube" in OPS
    OPS.pop("test_cube")
    assert "test_cube" not in fuse_mod.rules_binary()[0][0].src[0].ops
    _register("test_cube", None, lambda x: x)  # the fixture pops it again


# ------------------------------------------------------------------------------------------ no side channels
_HOOK = re.compile(r"getattr\(\s*(op|opdef|n\.opdef|node\.opdef|self\.op|OPS\b)")


@pytest.mark.parametrize("pkg", ["ttfuse/passes", "ttfuse/sim"])
def test_no_getattr_hook_lookups(pkg):
    bad = [
        f"{p.relative_to(ROOT)}:{i}: {line.strip()}"
        for p in sorted((ROOT / pkg).rglob("*.py"))
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if _HOOK.search(line)
    ]
    assert not bad, bad


_TRAIT_NAMES = {f for f in Traits.__dataclass_fields__} | {
    "spill_attrs", "row_wise", "chunk_dims", "chunk_dim", "chunk_inputs", "select_config", "stock_launches",
}  # fmt: skip


@pytest.mark.parametrize("pkg", ["ttfuse/ops", "ttfuse/kernels"])
def test_no_trait_set_after_registration(pkg):
    """No module assigns a trait-like attribute on an object (`transition.row_wise = True`): traits are given to
    register_op, or through `op.declare(...)` by registration helpers."""
    bad = []
    for p in sorted((ROOT / pkg).rglob("*.py")):
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.Assign):
                for t in node.targets:
                    if isinstance(t, ast.Attribute) and t.attr in _TRAIT_NAMES:
                        bad.append(f"{p.relative_to(ROOT)}:{node.lineno}: .{t.attr} =")
    assert not bad, bad


def test_the_side_tables_are_gone():
    assert not hasattr(chunk_mod, "CHUNK_RULES") and not hasattr(chunk_mod, "ROW_INPUTS")
    assert not hasattr(blocked_mod, "BLOCK_RULES")
    assert not hasattr(fuse_mod, "UNARY_ACT")
    assert not hasattr(select_mod, "SELECT_RULES")


def test_sim_blocked_does_not_import_the_passes():
    src = (ROOT / "ttfuse/sim/blocked.py").read_text()
    assert "ttfuse.passes" not in src.split('"""', 2)[2]  # outside the module docstring


def test_traits_are_frozen(cube):
    with pytest.raises(AttributeError):
        cube.traits.split = None  # type: ignore[misc]
