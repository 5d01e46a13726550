"""place_memory: intermediates to L1 when they fit next to what is live, else DRAM; freed after last use."""

import torch

import ttfuse
from ttfuse import ttnn
from ttfuse.passes.pipeline import run_pipeline
from ttfuse.passes.place_memory import kind_of, lifetimes, place_memory, tensor_budget
from ttfuse.sim import memory_report
from ttfuse.testing import pcc

BF16, L1, DRAM = ttnn.bfloat16, ttnn.L1_MEMORY_CONFIG, ttnn.DRAM_MEMORY_CONFIG


def relus(x, *, mc=None, n=6):
    for _ in range(n):
        x = ttnn.relu(ttnn.multiply(x, 1.5, memory_config=mc), memory_config=mc)
    return ttnn.add(x, 1.0)


def traced(fn, *specs, **kw):
    return ttfuse.jit(fn, passes=[]).lower(*specs, **kw).graph


def l1_usage(g) -> int:
    """Peak L1 bytes live over the node order of a graph (inputs live throughout)."""
    _, last = lifetimes(g)
    steps = [sum(s.nbytes for s in g.inputs if kind_of(s) == "L1")] * (len(g.nodes) + 1)
    for k, n in enumerate(g.nodes):
        for j, s in enumerate(n.outs):
            if kind_of(s) == "L1":
                for p in range(k, last[n.id + j] + 1):
                    steps[p] += s.nbytes
    return max(steps)


def test_intermediates_go_to_l1_and_outputs_stay(make_ctx, spec):
    g = traced(relus, spec((256, 256)))
    out, _ = run_pipeline(g, make_ctx(), verify=True, pipeline=[("place_memory", place_memory)])
    *mid, last = out.nodes
    assert all(n.outs[0].buffer_type is ttnn.BufferType.L1 for n in mid)
    assert last.outs[0] == g.nodes[-1].outs[0]  # the output keeps its traced DRAM placement
    assert all(n.side.config == {"memory": "L1", "placed_by": "place_memory"} for n in mid)


def test_sharded_defaults_keep_their_sharding(make_ctx):
    # ops left to their default memory_config follow a sharded input (ttnn's rule); the pass must not
    # re-place them interleaved, or a reader taking sharded inputs only would fail under the JIT alone
    mc = ttnn.create_sharded_memory_config(
        (256, 256),
        ttnn.CoreGrid(y=8, x=1),
        ttnn.ShardStrategy.HEIGHT,
        use_height_and_width_as_shard_shape=False,
    )
    x = ttnn.TensorSpec((256, 256), BF16, ttnn.TILE_LAYOUT, mc)
    g = traced(relus, x)
    assert all(n.outs[0].memory_config.is_sharded() for n in g.nodes)
    out = place_memory(g, make_ctx())
    assert [n.outs[0] for n in out.nodes] == [n.outs[0] for n in g.nodes]


def test_what_does_not_fit_goes_to_dram(make_ctx, spec):
    g = traced(relus, spec((256, 256)))
    size = 256 * 256 * 2
    out = place_memory(g, make_ctx(l1_budget=size + size // 2))  # room for one intermediate at a time
    kinds = [kind_of(n.outs[0]) for n in out.nodes[:-1]]
    assert "L1" in kinds and "DRAM" in kinds
    assert l1_usage(out) <= size + size // 2
    dram = next(n for n in out.nodes if kind_of(n.outs[0]) == "DRAM")
    assert "does not fit next to" in dram.side.notes[-1]


def test_liveness_budget_holds_on_a_branching_graph(make_ctx, spec):
    def f(x, y):
        a = ttnn.multiply(x, y)  # lives until the end
        b = ttnn.add(x, 1.0)
        c = ttnn.relu(b)
        d = ttnn.exp(c)
        return ttnn.add(ttnn.add(d, a), y)

    g = traced(f, spec((512, 256)), spec((512, 256)))
    for budget in (1, 300_000, 600_000, 10**9):
        out = place_memory(g, make_ctx(l1_budget=budget))
        assert l1_usage(out) <= budget


def test_user_placements_are_respected(make_ctx, spec):
    g = traced(relus, spec((256, 256)), mc=DRAM)
    out = place_memory(g, make_ctx())
    assert all(kind_of(n.outs[0]) == "DRAM" for n in out.nodes)
    assert not any(n.side.config for n in out.nodes[:-1])  # the user chose: nothing recorded as ours


def test_decorator_memory_config_places_outputs(make_ctx, spec):
    g = traced(relus, spec((256, 256)))
    out = place_memory(g, make_ctx(memory_config=L1))
    assert out.nodes[-1].outs[0].buffer_type is ttnn.BufferType.L1


def test_a_final_move_is_written_in_place(make_ctx, spec, device, tt):
    """`return ttnn.to_memory_config(op(x), mc)`: the op writes its output in mc, so the move is a no-op that
    launches nothing (what ttnn_jit's output placement and hand-written code ending in a move rely on)."""
    sharded = ttnn.create_sharded_memory_config(
        shape=(256, 256), core_grid=ttnn.CoreGrid(x=8, y=8), strategy=ttnn.ShardStrategy.BLOCK
    )

    def f(a, b, *, mc):
        return ttnn.to_memory_config(ttnn.abs(ttnn.matmul(a, b)), mc)

    def g(a, b, *, mc):
        y = ttnn.abs(ttnn.matmul(a, b))
        return ttnn.to_memory_config(y, mc), y  # y is an output too: it keeps its own placement

    for mc in (sharded, L1):
        out = place_memory(traced(f, spec((256, 256)), spec((256, 256)), mc=mc), make_ctx())
        *_, producer, move = out.nodes
        assert producer.outs[0] == move.outs[0] and producer.outs[0].memory_config == mc
        assert "written where its move puts it" in producer.side.notes[-1]
    out = place_memory(traced(g, spec((256, 256)), spec((256, 256)), mc=sharded), make_ctx())
    assert out.nodes[-2].outs[0].memory_config != sharded
    a, b = tt(torch.randn(256, 256)), tt(torch.randn(256, 256))
    jf = ttfuse.jit(f)
    jf(a, b, mc=sharded)
    with ttfuse.sim.count_launches(device) as launches:
        y = jf(a, b, mc=sharded)
    assert launches.by_op == {"matmul": 1, "abs": 1}
    assert y.memory_config() == sharded
    assert pcc(ttnn.to_torch(y), ttnn.to_torch(f(a, b, mc=sharded))) > 0.9999


def test_budget_defaults_to_l1_minus_the_cb_reserve(make_ctx):
    ctx = make_ctx("blackhole:p150:13x10")
    assert tensor_budget(ctx) == ctx.device_spec.l1_bytes // 2 and tensor_budget(make_ctx(l1_budget=7)) == 7


def hold_all(x, *, mc=L1):
    """Code that keeps every intermediate referenced (as a model holding tensors in a list would)."""
    held = [x]
    for _ in range(6):
        held.append(ttnn.relu(ttnn.multiply(held[-1], 1.5, memory_config=mc), memory_config=mc))
    return ttnn.add(held[-1], 1.0)


def test_sim_frees_each_value_after_its_last_use(device, tt):
    """Eager, every intermediate of `hold_all` stays allocated until the call returns; the JIT of the same
    function drops each value after its last use and the simulator frees its storage right then."""
    x = tt(torch.randn(256, 512))
    size = 256 * 512 * 2
    rep = memory_report(device)
    rep.reset_peak()
    base = rep.l1_bytes
    want = ttnn.to_torch(hold_all(x))
    eager_peak = rep.peak_l1_bytes - base
    assert eager_peak >= 6 * size
    f = ttfuse.jit(hold_all, passes=["-fuse"])  # unfused: 12 intermediates, each a real allocation
    f(x)
    rep.reset_peak()
    base = rep.l1_bytes
    got = f(x)
    jit_peak = rep.peak_l1_bytes - base
    assert jit_peak <= 2 * size
    assert rep.l1_bytes - base == got.spec.nbytes  # every intermediate freed, only the result is left
    assert pcc(ttnn.to_torch(got), want) >= 0.9999
