"""chunk: per-op split rules, working sets, regions on small graphs, and the Transition proof on the allocator."""

import dataclasses
import re
import time

import pytest
import torch

import ttfuse
from ttfuse import ttnn
from ttfuse.errors import OutOfMemoryError
from ttfuse.passes.chunk import Axis, axes_of, chunk, working_set
from ttfuse.passes.pipeline import run_pipeline
from ttfuse.sim import count_launches, memory_report
from ttfuse.testing import pcc

BF16, L1, DRAM = ttnn.bfloat16, ttnn.L1_MEMORY_CONFIG, ttnn.DRAM_MEMORY_CONFIG


def traced(fn, *specs, **kw):
    return ttfuse.jit(fn, passes=[]).lower(*specs, **kw).graph


def node(fn, *specs, op=None, **kw):
    g = traced(fn, *specs, **kw)
    n = next(n for n in g.nodes if op is None or n.op == op)
    return n, [g.spec_of(r) for r in n.inputs]


# ------------------------------------------------------------------------------------------ rules alone
def test_eltwise_rule_broadcasts_like_binary_ops(spec):
    n, ins = node(lambda a, b: ttnn.add(a, b), spec((2, 64, 96)), spec((1, 1, 96)))
    assert axes_of(n, ins) == [Axis(0, (0, None), 1), Axis(1, (1, None), 32)]  # b is passed whole


def test_layer_norm_splits_rows_and_keeps_gamma_whole(spec):
    n, ins = node(lambda x, w: ttnn.layer_norm(x, weight=w), spec((1, 8, 64, 128)), spec((128,)))
    assert axes_of(n, ins) == [Axis(1, (1, None), 1), Axis(2, (2, None), 32)]


def test_linear_splits_rows_of_a_only(spec):
    n, ins = node(lambda a, w, b: ttnn.linear(a, w, bias=b), spec((4, 64, 32)), spec((32, 64)), spec((64,)))
    assert axes_of(n, ins) == [Axis(0, (0, None, None), 1), Axis(1, (1, None, None), 32)]
    n, ins = node(lambda a, w: ttnn.linear(a, w, transpose_a=True), spec((64, 32)), spec((64, 64)))
    assert axes_of(n, ins) == []  # M runs along a's columns: not chunkable by rows


def test_batched_matmul_splits_batch_of_both(spec):
    n, ins = node(lambda a, b: ttnn.matmul(a, b), spec((8, 64, 32)), spec((8, 32, 64)))
    assert axes_of(n, ins)[0] == Axis(0, (0, 0), 1)


def test_sdpa_splits_query_rows_only_when_not_causal(spec):
    q, k = spec((1, 2, 128, 64)), spec((1, 2, 256, 64))
    n, ins = node(
        lambda q, k, v: ttnn.transformer.scaled_dot_product_attention(q, k, v, is_causal=False), q, k, k
    )
    assert Axis(2, (2, None, None), 32) in axes_of(n, ins) and Axis(1, (1, 1, 1), 1) in axes_of(n, ins)
    n, ins = node(lambda q, k, v: ttnn.transformer.scaled_dot_product_attention(q, k, v), q, q, q)
    assert Axis(2, (2, None, None), 32) not in axes_of(n, ins)  # causal: rows depend on their position


def test_non_row_wise_ops_are_not_chunked(spec):
    n, ins = node(lambda x: ttnn.permute(x, (0, 2, 1)), spec((1, 64, 64)))
    assert axes_of(n, ins) == []
    n, ins = node(lambda x: ttnn.softmax(x, dim=1), spec((1, 64, 64)))
    assert axes_of(n, ins) == []  # reduces over a dim the rows span


def test_working_set_counts_each_kind_and_distinct_inputs(spec):
    n, ins = node(lambda x: ttnn.multiply(x, x, memory_config=L1), spec((256, 256)))
    size = 256 * 256 * 2
    assert (
        working_set(n, ins, "L1") == size and working_set(n, ins, "DRAM") == size
    )  # x read twice, counted once


# ------------------------------------------------------------------------------------------- small graphs
def chain(x, w, *, mc=L1):
    h = ttnn.layer_norm(x, memory_config=mc)
    a = ttnn.linear(h, w, activation="relu", memory_config=mc)
    return ttnn.add(a, x, memory_config=DRAM)


def test_region_is_chunked_to_fit_and_verified(spec, make_ctx):
    g = traced(chain, spec((1, 512, 128)), spec((128, 128)))
    budget = 96 * 1024
    out, _ = run_pipeline(g, make_ctx(l1_budget=budget), verify=True, pipeline=[("chunk", chunk)])
    ops = [n.op for n in out.nodes]
    assert (
        ops.count("concat") == 1 and ops.count("layer_norm") == ops.count("linear") == ops.count("slice") > 1
    )
    ln = [n for n in out.nodes if n.op == "layer_norm"]
    sizes = {n.outs[0].shape[1] for n in ln[:-1]}
    assert len(sizes) == 1 and sizes.pop() % 32 == 0  # tile-row chunks, all equal but the last
    for n in out.nodes:  # every chunked op fits: L1 inputs + outputs
        ins = [out.spec_of(r) for r in n.inputs]
        assert n.op == "concat" or working_set(n, ins, "L1") <= budget
    assert out.outputs != g.outputs and out.spec_of(out.outputs[0]) == g.spec_of(g.outputs[0])


def test_region_that_fits_is_left_alone(spec, make_ctx):
    g = traced(chain, spec((1, 512, 128)), spec((128, 128)))
    assert chunk(g, make_ctx()) is g


def test_nothing_fits_leaves_a_note(spec, make_ctx):
    g = traced(chain, spec((1, 512, 128)), spec((128, 128)))
    out = chunk(g, make_ctx(l1_budget=1024))
    assert [n.op for n in out.nodes] == [n.op for n in g.nodes]
    assert any(
        "chunk: working set" in x and "exceeds the budget 1,024 B" in x for x in out.nodes[0].side.notes
    )


def test_dram_overflow_is_chunked_too(spec, make_ctx):
    def mlp(x, w1, w2):  # x 1 MiB -> 8 MiB hidden in DRAM -> 1 MiB
        return ttnn.linear(ttnn.relu(ttnn.linear(x, w1)), w2)

    g = traced(mlp, spec((1, 2048, 256)), spec((256, 2048)), spec((2048, 256)))
    out, _ = run_pipeline(g, make_ctx(dram_budget=6 << 20), verify=True, pipeline=[("chunk", chunk)])
    assert sum(n.op == "relu" for n in out.nodes) > 1 and out.nodes[-1].op == "concat"
    hidden = [n.outs[0] for n in out.nodes if n.op == "relu"]
    assert max(s.nbytes for s in hidden) < (8 << 20) // 2


def test_chunked_jit_runs_within_budget_and_matches(device, tt):
    x, w = tt(torch.randn(1, 1024, 128)), tt(torch.randn(128, 128) / 12)
    budget = 256 * 1024  # less than one whole intermediate (1024 x 128 bf16 = 256 KiB) plus its input
    ref = ttnn.to_torch(chain(x, w, mc=DRAM))
    f = ttfuse.jit(chain, l1_budget=budget, passes=["-fuse"])
    rep = memory_report(device)
    rep.reset_peak()
    base = rep.l1_bytes
    got = ttnn.to_torch(f(x, w))
    assert rep.peak_l1_bytes - base <= budget and rep.peak_l1_bytes > base  # L1 used, within the plan
    assert pcc(got, ref) >= 0.9999


def test_row_wise_fused_kernel_is_chunked(device, tt):
    from ttfuse.kernels.transition import transition

    c, h = 64, 128

    def block(x, w12, w3):
        y = transition(x, w12, w3, epsilon=1e-5, memory_config=L1)
        return ttnn.add(y, x, memory_config=DRAM)

    x, w12, w3 = tt(torch.randn(1, 512, c)), tt(torch.randn(c, 2 * h) / 8), tt(torch.randn(h, c) / 11)
    whole = ttnn.to_torch(ttfuse.jit(block, passes=["-fuse"])(x, w12, w3))
    f = ttfuse.jit(block, passes=["-fuse"], l1_budget=48 * 1024)
    low = f.lower(x, w12, w3)
    assert sum(n.op == "kernels.transition" for n in low.graph.nodes) > 1
    assert pcc(ttnn.to_torch(f(x, w12, w3)), whole) >= 0.9999


def test_declared_internal_working_set_drives_chunking(spec, make_ctx, monkeypatch):
    """A fused kernel holding intermediates in L1 says so with `Traits.working_set(ctx)`; the chunk pass splits
    it although its inputs and outputs are in DRAM."""
    from ttfuse.kernels.transition import transition

    def block(x, w12, w3):
        return transition(x, w12, w3, epsilon=1e-5)

    g = traced(block, spec((1, 1024, 64)), spec((64, 256)), spec((128, 64)))
    ctx = make_ctx(l1_budget=256 * 1024)
    monkeypatch.setattr(transition, "traits", dataclasses.replace(transition.traits, working_set=None))
    assert chunk(g, ctx) is g  # nothing in L1 (no internal working set declared): nothing to split

    def hidden(c):  # LN output and SwiGLU hidden kept in L1: rows x (64 + 128) bf16
        x = c.in_specs["input_tensor"]
        return x.numel // x.shape[-1] * (64 + 128) * 2

    monkeypatch.setattr(transition, "traits", dataclasses.replace(transition.traits, working_set=hidden))
    out, _ = run_pipeline(g, ctx, verify=True, pipeline=[("chunk", chunk)])
    pieces = [n for n in out.nodes if n.op == "kernels.transition"]
    assert len(pieces) >= 2 and all(hidden_of(n, out) <= 256 * 1024 for n in pieces)


def test_transition_declares_its_l1_intermediates(spec):
    """kernels.transition's working set is its LN output and SwiGLU hidden (the composite's h and m)."""
    from ttfuse.kernels.transition import transition
    from ttfuse.passes.chunk import internal_bytes

    def block(x, w12, w3):
        return transition(x, w12, w3, epsilon=1e-5)

    g = traced(block, spec((1, 1024, 64)), spec((64, 256)), spec((128, 64)))
    n = g.nodes[0]
    rows = 1024
    assert (
        internal_bytes(n, [g.spec_of(r) for r in n.inputs]) == rows * (64 + 128) * 2
    )  # bf16 h [.., 64], m [.., 128]


def hidden_of(n, g):
    x = g.spec_of(n.inputs[0])
    return x.numel // x.shape[-1] * (64 + 128) * 2


# ---------------------------------------------------------------------------------- the Transition proof
def transition_block(x, lnw, lnb, w1, w2, w3, *, mc):
    """boltz.md 3.4 with every intermediate in `mc`; the result goes to DRAM like tt-boltz's fc3."""
    h = ttnn.layer_norm(x, weight=lnw, bias=lnb, epsilon=1e-5, memory_config=mc)
    a = ttnn.linear(h, w1, activation="silu", memory_config=mc)
    b = ttnn.linear(h, w2, memory_config=mc)
    return ttnn.linear(ttnn.multiply(a, b, memory_config=mc), w3, memory_config=DRAM)


@pytest.mark.slow
def test_transition_768_pair_chunks_into_l1(device, tt):
    """[1, 768, 768, 128] bf16 (589,824 rows x 512 hidden): forced into L1 it cannot run; under JIT the chunk
    pass splits it so the simulator's allocator never holds more L1 than the budget, with the DRAM result."""
    t0 = time.perf_counter()
    n, c, hid = 768, 128, 512
    x = tt(torch.randn(1, n, n, c))
    lnw, lnb = tt(1 + 0.1 * torch.randn(c)), tt(0.1 * torch.randn(c))
    w1, w2, w3 = (tt(torch.randn(i, o) / i**0.5) for i, o in ((c, hid), (c, hid), (hid, c)))
    args = (x, lnw, lnb, w1, w2, w3)
    with pytest.raises(OutOfMemoryError, match="out of L1 memory"):  # unchunked, everything forced to L1
        transition_block(*args, mc=L1)
    ref = ttnn.to_torch(transition_block(*args, mc=DRAM))  # the unchunked DRAM run

    f = ttfuse.jit(transition_block, passes=["-fuse"])  # unfused: every intermediate is a real L1 tensor
    low = f.lower(*args, mc=L1)
    budget = device.spec.l1_bytes // 2  # the default tensor budget (place_memory.CB_RESERVE_FRACTION)
    chunks = [m for m in low.graph.nodes if m.op == "layer_norm"]
    assert len(chunks) > 20 and low.graph.nodes[-1].op == "concat"
    rep = memory_report(device)
    rep.reset_peak()
    with count_launches(device) as launches:
        got = ttnn.to_torch(f(*args, mc=L1))
    peak = rep.peak_l1_bytes
    assert 0.5 * budget < peak <= budget  # L1 really used, never beyond the plan
    assert pcc(got, ref) >= 0.9999
    print(
        f"transition 768: {len(chunks)} chunks, peak L1 {peak:,} B of {budget:,} B budget, "
        f"{launches.total} launches, PCC {pcc(got, ref):.6f}, {time.perf_counter() - t0:.1f} s"
    )


def test_transition_768_with_all_passes_plans_within_budget(spec):
    """With every pass on, the same function compiles to a graph no node of which needs more L1 than the
    budget (the fused kernel keeps its intermediates out of L1 or is chunked)."""
    n, c, hid = 768, 128, 512
    specs = [spec((1, n, n, c)), spec((c,)), spec((c,)), spec((c, hid)), spec((c, hid)), spec((hid, c))]
    low = ttfuse.jit(transition_block).lower(*specs, mc=L1)
    budget = ttfuse.device.device_spec().l1_bytes // 2
    for m in low.graph.nodes:
        assert working_set(m, [low.graph.spec_of(r) for r in m.inputs], "L1") <= budget


# ------------------------------------------------------------------------------------------ chunk or spill
HIFI4 = ttnn.WormholeComputeKernelConfig(
    math_fidelity=ttnn.MathFidelity.HiFi4, fp32_dest_acc_en=True, packer_l1_acc=True
)


def plain_transition(x, lnw, lnb, w1, w2, w3, *, cfg=None, hidden_mc=None):
    """boltz.md 3.4 as a model writes it (placement left to ttfuse unless `hidden_mc`); fuses to kernels.transition."""
    h = ttnn.layer_norm(x, weight=lnw, bias=lnb, epsilon=1e-5, compute_kernel_config=cfg)
    a = ttnn.linear(h, w1, activation="silu", compute_kernel_config=cfg)
    b = ttnn.linear(h, w2, compute_kernel_config=cfg)
    return ttnn.linear(ttnn.multiply(a, b, memory_config=hidden_mc), w3, compute_kernel_config=cfg)


def transition_specs(spec, rows_shape, c=128):
    return [
        spec((*rows_shape, c)),
        spec((c,)),
        spec((c,)),
        spec((c, 4 * c)),
        spec((c, 4 * c)),
        spec((4 * c, c)),
    ]


def kernels_of(low):
    return [n for n in low.graph.nodes if n.op == "kernels.transition"]


def test_overflowing_transition_is_spilled_when_chunking_is_predicted_slower(spec):
    """[1, 256, 256, 128] with tt-boltz's HiFi4 config on a Wormhole n150: h and m (16 + 64 MB) overflow L1; the
    kernel is math-bound, so chunks would add slices and a concat for nothing: its intermediates go to DRAM, one
    kernel, and the note gives both predictions (the spilled one lower)."""
    low = ttfuse.jit(plain_transition).lower(*transition_specs(spec, (1, 256, 256)), cfg=HIFI4)
    (k,) = kernels_of(low)
    assert k.attr("hidden_memory_config") == DRAM
    note = next(t for t in k.side.notes if "spilled to DRAM" in t)
    m = re.search(r"predicted [\d.]+ ms untraced / ([\d.]+) ms traced, [\d.]+ / ([\d.]+) ms chunked", note)
    assert m and float(m[1]) < float(m[2]), note
    assert (
        working_set(k, [low.graph.spec_of(r) for r in k.inputs], "L1")
        <= ttfuse.device.device_spec().l1_bytes // 2
    )


def test_overflowing_transition_is_chunked_when_chunking_is_predicted_faster(spec):
    """The same shape at the default (HiFi2) fidelity is DRAM-bound when spilled: chunking keeps h and m in L1
    and is predicted faster on the device than the spilled graph the code could have asked for."""
    specs = transition_specs(spec, (1, 256, 256))
    low = ttfuse.jit(plain_transition).lower(*specs)
    assert len(kernels_of(low)) > 1 and not any(
        t for k in kernels_of(low) for t in k.side.notes if "spilled" in t
    )
    spilled = ttfuse.jit(plain_transition).lower(
        *specs, hidden_mc=DRAM
    )  # the code placing its hidden in DRAM
    assert len(kernels_of(spilled)) == 1 and kernels_of(spilled)[0].attr("hidden_memory_config") == DRAM
    assert low.cost.jit.device_ms < spilled.cost.jit.device_ms


def test_a_placement_written_in_the_code_is_kept(spec):
    """hidden in L1 as the code wrote it: never spilled, chunked although spilling is predicted faster."""
    low = ttfuse.jit(plain_transition).lower(*transition_specs(spec, (1, 256, 256)), cfg=HIFI4, hidden_mc=L1)
    assert len(kernels_of(low)) > 1 and all(k.attr("hidden_memory_config") == L1 for k in kernels_of(low))


def test_spill_is_the_fallback_when_no_chunk_fits(spec):
    """One tile row cannot be split: instead of running over the budget (a note only, before), the kernel spills."""
    c = 512
    specs = [spec((32, c)), spec((c,)), spec((c,)), spec((c, 4 * c)), spec((c, 4 * c)), spec((4 * c, c))]
    low = ttfuse.jit(plain_transition, l1_budget=64 * 1024).lower(*specs)
    (k,) = kernels_of(low)
    assert k.attr("hidden_memory_config") == DRAM
    assert any("spilled to DRAM (kernels.transition cannot be split" in t for t in k.side.notes), k.side.notes
