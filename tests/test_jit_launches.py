"""A JIT never launches a kernel that the same eager call would not.

Eagerly a reshape / unsqueeze / squeeze that ttnn runs as a view of its input (`OpDef.is_view`: the view path of
ttnn's reshape) launches nothing. The compiled plan asks the same rule, and place_memory must not give such a
view a placement of its own (ttnn would then copy): the view lives in its input's buffer, which is placed for the
view's whole lifetime, and a value a view of which is returned keeps its traced placement. tt-boltz's
TriangleAttention (reshape of the input, unsqueezes, a final reshape of a bfloat8_b result) launched 18 kernels
eagerly and 20 under JIT before this rule; the modules below reproduce that pattern in a few ops.
"""

import pytest
import torch

import ttfuse
from tests.conftest import T
from ttfuse import ttnn
from ttfuse.ir import spec_args
from ttfuse.sim import count_launches
from ttfuse.testing import pcc

VIEWS = ("reshape", "unsqueeze", "squeeze")


class Block:
    """tt-boltz's TriangleAttention in miniature: views around a projection and a gate, a bfloat8_b result."""

    def __init__(self, device, d=64, out_dtype=None):
        self.w = T(device, d, d)
        self.g = T(device, d, d, dtype=ttnn.bfloat8_b)
        self.out_dtype = out_dtype or ttnn.bfloat8_b

    def __call__(self, x):  # x: [1, S, S, d] in DRAM
        h = ttnn.reshape(x, tuple(x.shape)[1:])  # a view of the input
        h = ttnn.layer_norm(h, epsilon=1e-5)
        y = ttnn.linear(h, self.w, dtype=self.out_dtype)
        g = ttnn.unsqueeze(ttnn.linear(h, self.g), 0)  # a view of an intermediate
        y = ttnn.multiply(ttnn.unsqueeze(y, 0), ttnn.sigmoid(g))
        y = ttnn.squeeze(y, 0)
        return ttnn.reshape(y, (1, *tuple(y.shape)))  # a view of an intermediate, returned


def _by_op(device, fn, *args):
    with count_launches(device) as launches:
        out = fn(*args)
    return out, launches


@pytest.mark.parametrize("out_dtype", ["bfloat8_b", "bfloat16"])
def test_views_launch_nothing_under_jit_as_eagerly(fresh, device, out_dtype):
    dt = getattr(ttnn, out_dtype)
    eager_block = Block(device, out_dtype=dt)
    x = T(device, 1, 32, 32, 64)
    want, eager = _by_op(device, eager_block, x)
    assert not any(eager.by_op.get(v) for v in VIEWS), eager.by_op  # the premise: every view is free eagerly

    jf = ttfuse.jit(Block.__call__)
    jf(eager_block, x)  # trace + compile + run
    got, jit = _by_op(device, jf, eager_block, x)  # the cached call
    assert not any(jit.by_op.get(v) for v in VIEWS), jit.by_op  # before the fix: reshape x4 (bf8) / x2
    assert jit.total <= eager.total, (eager.by_op, jit.by_op)
    assert got.spec == want.spec  # the returned view keeps the traced (DRAM) placement
    assert pcc(ttnn.to_torch(got).float(), ttnn.to_torch(want).float()) >= 0.9995


def test_compiled_views_are_views_of_the_same_rule(fresh, device):
    """Every node that is a view in the traced graph is still one after the passes (same `OpDef.is_view`)."""
    block = Block(device)
    x = T(device, 1, 32, 32, 64)
    lowered = ttfuse.jit(Block.__call__).lower(block, x)

    def views(g):
        index = g.node_index()
        return {
            n.id
            for n in g.nodes
            if n.op in VIEWS
            and n.opdef.is_view(list(n.outs), spec_args(n, [g.spec_of(r, index) for r in n.inputs]))
        }

    before = {n.id for n in lowered.graph_before.nodes if n.op in VIEWS}
    assert before and views(lowered.graph_before) == before
    after = {n.id for n in lowered.graph.nodes if n.op in VIEWS}
    assert views(lowered.graph) == after  # none became a copy
    assert all(n.attr("memory_config") is None for n in lowered.graph.nodes if n.id in after)


class ExplicitView:
    """A view whose memory_config is explicit (DRAM, where its input was traced): its input must stay in DRAM."""

    def __init__(self, device, d=64):
        self.w = T(device, d, d)

    def __call__(self, x):
        h = ttnn.linear(x, self.w)
        v = ttnn.reshape(h, (1, *tuple(h.shape)), memory_config=ttnn.DRAM_MEMORY_CONFIG)
        return ttnn.relu(v)


def test_an_explicitly_placed_view_keeps_its_input_where_it_stays_a_view(fresh, device):
    m = ExplicitView(device)
    x = T(device, 64, 64)
    want, eager = _by_op(device, m, x)
    assert not eager.by_op.get("reshape")
    jf = ttfuse.jit(ExplicitView.__call__)
    jf(m, x)
    got, jit = _by_op(device, jf, m, x)
    assert not jit.by_op.get("reshape"), jit.by_op
    assert jit.total <= eager.total
    assert torch.equal(ttnn.to_torch(got).float(), ttnn.to_torch(want).float())
