"""Row-blocked regions of JIT code on the simulator (ttfuse/sim/blocked.py): same values bit for bit, same launch
counts and device-memory peaks as running the graph op by op; the planner's region boundaries; errors."""

import pytest
import torch

import ttfuse
from ttfuse import ttnn
from ttfuse.capture.pytree import flatten_key
from ttfuse.codegen import generate
from ttfuse.errors import DeviceError
from ttfuse.sim import count_launches, memory_report
from ttfuse.sim.blocked import HOIST_BYTES, RegionPlan, plan

L1 = ttnn.L1_MEMORY_CONFIG


def tt(x, device, dtype=ttnn.bfloat16):
    return ttnn.from_torch(x, dtype=dtype, layout=ttnn.TILE_LAYOUT, device=device)


def run(graph, device, flat, block_bytes):
    """(outputs as torch, launches, peak L1, peak DRAM, regions in the source) of the graph's generated code."""
    c = generate(graph, name="blocked_test", block_bytes=block_bytes)
    rep = memory_report(device)
    rep.reset_peak()
    with count_launches(device) as launches:
        outs = c.fn(*flat)
    res = [ttnn.to_torch(o) for o in outs]
    del outs
    return res, launches.total, rep.peak_l1_bytes, rep.peak_dram_bytes, c.source.count("= _region")


def assert_same_as_op_by_op(fn, device, *args, block_bytes=(1 << 12, 1 << 16), **kwargs):
    low = ttfuse.jit(fn).lower(*args, **kwargs)
    flat: list = []
    flatten_key(args, kwargs, flat, [])
    run(low.graph, device, flat, 0)  # warm-up: memoised weight kernels launch on the first call only
    base = run(low.graph, device, flat, 0)
    assert base[4] == 0
    regions = 0
    for bb in block_bytes:
        got = run(low.graph, device, flat, bb)
        assert len(got[0]) == len(base[0])
        for x, y in zip(got[0], base[0]):
            assert torch.equal(x, y), f"block_bytes={bb}: values differ from the op-by-op run"
        assert got[1] == base[1], f"block_bytes={bb}: {got[1]} launches != {base[1]} op by op"
        # peaks: those of the op-by-op run, up to the small nodes hoisted in front of a region (ttfuse/sim/blocked.py)
        for what, g, b in (("L1", got[2], base[2]), ("DRAM", got[3], base[3])):
            assert b <= g <= b + HOIST_BYTES, f"block_bytes={bb}: peak {what} {g} vs {b} op by op"
        regions = max(regions, got[4])
    return low, regions


def mlp_block(x, lnw, lnb, w1, w2, w3):
    h = ttnn.layer_norm(x, weight=lnw, bias=lnb, memory_config=L1)
    a = ttnn.linear(h, w1, activation="silu", memory_config=L1)
    b = ttnn.linear(h, w2, memory_config=L1)
    y = ttnn.linear(ttnn.multiply(a, b, memory_config=L1), w3, memory_config=L1)
    return ttnn.add(y, x)


def attention_block(x, wqkv, wo, mask):
    n, s, c = x.shape
    qkv = ttnn.linear(x, wqkv, memory_config=L1)
    q, k, v = ttnn.transformer.split_query_key_value_and_split_heads(qkv, num_heads=2, transpose_key=False)
    o = ttnn.transformer.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=False)
    o = ttnn.transformer.concatenate_heads(o)
    o = ttnn.reshape(ttnn.linear(o, wo), (1, n, s, c))
    return ttnn.permute(o, (0, 2, 1, 3))


def _mlp_args(device, rows=8, n=64, c=64, hid=256, dtype=ttnn.bfloat16):
    x = tt(torch.randn(1, rows, n, c), device, dtype)
    return (
        x,
        tt(1 + 0.1 * torch.randn(c), device),
        tt(0.1 * torch.randn(c), device),
        *(tt(torch.randn(i, o) / i**0.5, device, dtype) for i, o in ((c, hid), (c, hid), (hid, c))),
    )


@pytest.mark.parametrize("dtype", [ttnn.bfloat16, ttnn.bfloat8_b])
def test_mlp_block_bit_exact_with_op_by_op(device, dtype):
    low, regions = assert_same_as_op_by_op(mlp_block, device, *_mlp_args(device, dtype=dtype))
    assert regions >= 1


def test_attention_block_bit_exact_across_reshape_heads_and_permute(device):
    n, s, c = 16, 64, 64
    x = tt(torch.randn(n, s, c), device)
    wqkv, wo = tt(torch.randn(c, 3 * c) / 8, device), tt(torch.randn(c, c) / 8, device)
    mask = tt(torch.randn(1, 2, s, s), device)
    low, regions = assert_same_as_op_by_op(attention_block, device, x, wqkv, wo, mask)
    assert regions >= 1


def test_boltz_triangle_attention_bit_exact(device):
    from boltz.model.layers.triangular_attention.attention import TriangleAttentionStartingNode

    import models.boltz as mb
    from models.boltz.common import to_tt
    from ttfuse.testing import redraw_parameters

    ref = redraw_parameters(TriangleAttentionStartingNode(64, 32, 2, inf=1e9), seed=3)
    port = mb.TriangleAttentionStartingNode.from_torch(ref, device)
    z, pm = torch.randn(1, 64, 64, 64), torch.ones(1, 64, 64)
    from models.boltz.triangle import triangle_attention

    args = (to_tt(z, device), to_tt(pm, device), *port.weights)
    _, regions = assert_same_as_op_by_op(
        triangle_attention,
        device,
        *args,
        n_heads=2,
        starting=True,
        inf=1e9,
        dtype=ttnn.bfloat16,
        cfg=port.cfg,
    )
    assert regions >= 2


def test_region_source_lists_the_ops_it_runs(device):
    args = _mlp_args(device)
    low = ttfuse.jit(mlp_block).lower(*args)
    src = generate(low.graph, name="mlp", block_bytes=1 << 14).source
    assert "row-blocked:" in src and "= _region0(_a)" in src
    assert "#   v13 = _op_kernels_transition(" in src and "#   v11 = ttnn.add(" in src  # the region's ops


def test_plan_rules(device):
    args = _mlp_args(device)
    g = ttfuse.jit(mlp_block, passes=["-fuse"]).lower(*args).graph
    items = plan(g, 1 << 14)
    regions = [it for it in items if isinstance(it, RegionPlan)]
    assert len(regions) == 1
    ops = [n.op for n in regions[0].nodes]
    assert ops[0] == "layer_norm" and ops.count("linear") == 3 and ops[-1] == "add"
    assert regions[0].extent == 8 and regions[0].block < 8  # blocked along the 8 rows of dim 1
    assert plan(g, 0) == list(g.nodes)  # 0: no blocking
    assert not any(isinstance(it, RegionPlan) for it in plan(g, 1 << 30))  # one block: run whole


def reduce_then_rows(x, w):
    h = ttnn.layer_norm(x, memory_config=L1)
    s = ttnn.sum(h, dim=-2, keepdim=True)  # reads every row of h: ends the region
    y = ttnn.linear(h, w, memory_config=L1)
    return ttnn.add(y, s)


def test_a_node_reading_all_rows_ends_the_region(device):
    x, w = tt(torch.randn(1, 4, 256, 64), device), tt(torch.randn(64, 64) / 8, device)
    g = ttfuse.jit(reduce_then_rows, passes=["-fuse"]).lower(x, w).graph
    for it in plan(g, 1 << 12):
        if isinstance(it, RegionPlan):
            assert "sum" not in [n.op for n in it.nodes]
    assert_same_as_op_by_op(reduce_then_rows, device, x, w)


def independent_side(x, w, m):
    h = ttnn.layer_norm(x, memory_config=L1)
    small = ttnn.multiply(m, 2.0)  # independent of h: moved in front of the region when small
    y = ttnn.linear(h, w, memory_config=L1)
    return ttnn.add(y, small)


@pytest.mark.parametrize("side_rows", [1, 8])
def test_only_small_independent_nodes_move_in_front(device, side_rows):
    x, w = tt(torch.randn(1, 8, 256, 64), device), tt(torch.randn(64, 64) / 8, device)
    m = tt(torch.randn(1, side_rows, 256, 64), device)  # 32 KiB (moves) or as big as the activation (stays)
    g = ttfuse.jit(independent_side, passes=["-fuse"]).lower(x, w, m).graph
    items = plan(g, 1 << 12)
    mul = next(n for n in g.nodes if n.op == "multiply")
    assert (sum(o.nbytes for o in mul.outs) <= HOIST_BYTES) == (side_rows == 1)
    first_region = next(k for k, it in enumerate(items) if isinstance(it, RegionPlan))
    assert (mul in items and items.index(mul) < first_region) == (side_rows == 1)
    assert_same_as_op_by_op(independent_side, device, x, w, m)


def test_jit_call_error_in_region_names_op_and_user_line(device):
    args = list(_mlp_args(device))
    f = ttfuse.jit(mlp_block)
    with ttfuse.flags(sim_block_bytes=1 << 14):
        f(*args)  # compiles with regions
        ttnn.deallocate(args[0])  # x, read inside the region
        with pytest.raises(DeviceError) as e:
            f(*args)
    msg = str(e.value)
    assert "deallocated" in msg and "ttfuse.kernels.transition" in msg  # the fused node reading x
    assert "test_sim_blocked.py" in msg  # the user's line of the op
