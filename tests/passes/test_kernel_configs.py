"""Configs all the way down (issue 20, build item 1): every matmul / SDPA / layer_norm step inside a fused kernel
gets a program config chosen by select_configs (the rule the stock op gets in a graph), valid by the stock op's
spec rule on the target device, passed by the kernel's ttnn rule, listed by `lower().program_configs` with its step,
and costed from its grid and blocking."""

from __future__ import annotations

import dataclasses

import pytest
import torch

import ttfuse
from ttfuse import ttnn
from ttfuse.configs import MinimalMatmulConfig
from ttfuse.device import TILE, device_spec
from ttfuse.errors import SpecError
from ttfuse.ir import spec_args
from ttfuse.kernels.common import record_steps
from ttfuse.opdef import OPS, Group, device_spec_context
from ttfuse.passes.cost import node_cost
from ttfuse.passes.place_memory import set_attrs
from ttfuse.passes.select import grid_of
from ttfuse.types import TensorSpec

BF16 = ttnn.bfloat16
SIG = ttnn.UnaryWithParam(ttnn.UnaryOpType.SIGMOID)
SILU = ttnn.UnaryWithParam(ttnn.UnaryOpType.SILU)
ARCHS = ("wormhole_b0:n150", "blackhole:p150")
PC_ARG = {"experimental.minimal_matmul": "config"}
CONFIG_STEP_OPS = {
    "linear", "matmul", "experimental.minimal_matmul", "layer_norm", "transformer.scaled_dot_product_attention",
}  # fmt: skip


def S(*shape, dtype=BF16):
    return TensorSpec(tuple(shape), dtype, ttnn.TILE_LAYOUT, ttnn.DRAM_MEMORY_CONFIG)


# ---------------------------------------------------------------------------- plain ttnn blocks the fuse pass fuses
def transition(x, g, b, w1, w2, w3):  # the Boltz Transition
    h = ttnn.layer_norm(x, epsilon=1e-5, weight=g, bias=b)
    return ttnn.linear(ttnn.multiply(ttnn.linear(h, w1, activation="silu"), ttnn.linear(h, w2)), w3)


def adaln(a, s, sw, wsc, bsc, wsh):
    a = ttnn.layer_norm(a, epsilon=1e-5)
    s = ttnn.layer_norm(s, epsilon=1e-5, weight=sw)
    scale, shift = ttnn.linear(s, wsc, bias=bsc), ttnn.linear(s, wsh)
    return ttnn.add(ttnn.multiply(a, scale, input_tensor_b_activations=[SIG]), shift)


def ctb(a, s, sw, wsc, bsc, wsh, wx, wg, wab, wba, wo, bo):
    a = adaln(a, s, sw, wsc, bsc, wsh)
    b = ttnn.multiply(ttnn.linear(a, wg), ttnn.linear(a, wx), input_tensor_a_activations=[SILU])
    b = ttnn.multiply(b, ttnn.linear(a, wab))
    gate = ttnn.linear(s, wo, bias=bo)
    return ttnn.multiply(ttnn.linear(b, wba), gate, input_tensor_b_activations=[SIG])


def trimul(x, mask, wp, wg):
    b, n, _, _ = x.shape
    d = wp.shape[-1] // 2
    pg = ttnn.multiply(ttnn.linear(x, wp), ttnn.linear(x, wg), input_tensor_b_activations=[SIG])
    pg = ttnn.multiply(ttnn.permute(pg, (0, 3, 1, 2)), ttnn.reshape(mask, (b, 1, n, n)))
    a = ttnn.slice(pg, (0, 0, 0, 0), (b, d, n, n))
    c = ttnn.slice(pg, (0, d, 0, 0), (b, 2 * d, n, n))
    return ttnn.permute(ttnn.matmul(a, c, transpose_b=True), (0, 2, 3, 1))


def cross_attention(s, k_in, bias, wq, bq, wkv, wg, wo):
    q = ttnn.linear(s, wq, bias=bq)
    kv = ttnn.linear(k_in, wkv)
    q, k, v = ttnn.transformer.split_query_key_value_and_split_heads(q, kv, num_heads=2, transpose_key=False)
    o = ttnn.transformer.scaled_dot_product_attention(q, k, v, attn_mask=bias, is_causal=False, scale=1.0)
    o = ttnn.multiply(
        ttnn.transformer.concatenate_heads(o), ttnn.linear(s, wg), input_tensor_b_activations=[SIG]
    )
    return ttnn.linear(o, wo)


def self_attention(s, bias, wqkv, wg, wo):
    qkv = ttnn.linear(s, wqkv)
    q, k, v = ttnn.transformer.split_query_key_value_and_split_heads(qkv, num_heads=2, transpose_key=False)
    o = ttnn.transformer.scaled_dot_product_attention(q, k, v, attn_mask=bias, is_causal=False, scale=1.0)
    o = ttnn.multiply(
        ttnn.transformer.concatenate_heads(o), ttnn.linear(s, wg), input_tensor_b_activations=[SIG]
    )
    return ttnn.linear(o, wo)


def qkv(x, wq, wk, wv):
    return ttnn.linear(x, wq), ttnn.linear(x, wk), ttnn.linear(x, wv)


D = 64
# name -> (function, input specs, kernel, the steps that must have a program config)
BLOCKS = {
    "transition": (
        transition,
        (S(1, 1, 2048, 128), S(128), S(128), S(128, 512), S(128, 512), S(512, 128)),
        "transition",
        {"norm", "w_in", "w_out"},
    ),
    "adaln": (adaln, (S(2, 32, D), S(2, 32, 96), S(96), S(96, D), S(D), S(96, D)), "adaln", {"norm_a", "norm_s", "ss.mm"}),
    "conditioned_transition": (
        ctb,
        (S(2, 32, D), S(2, 32, 96), S(96), S(96, D), S(D), S(96, D),
         S(D, 2 * D), S(D, 2 * D), S(D, 2 * D), S(2 * D, D), S(96, D), S(D)),
        "conditioned_transition",
        {"norm_a", "norm_s", "ss.mm", "swiglu", "ab", "gate", "ba"},
    ),
    "triangle_mult": (trimul, (S(1, 32, 32, D), S(1, 32, 32), S(D, 2 * D), S(D, 2 * D)), "triangle_mult", {"proj", "tri"}),
    "pair_bias_attention (cross)": (
        cross_attention,
        (S(1, 64, 64), S(1, 64, 64), S(1, 2, 64, 64), S(64, 64), S(64), S(64, 128), S(64, 64), S(64, 64)),
        "pair_bias_attention",
        {"qg.mm", "kv", "sdpa", "out"},
    ),
    "pair_bias_attention (self)": (
        self_attention,
        (S(4, 64, 64), S(1, 2, 64, 64), S(64, 192), S(64, 64), S(64, 64)),
        "pair_bias_attention",
        {"qg.mm", "sdpa", "out"},
    ),
    "linear_split": (qkv, (S(1, 256, 128), S(128, 128), S(128, 128), S(128, 128)), "linear_split", {"mm"}),
}  # fmt: skip


def _lower(block: str, arch: str, monkeypatch, **jit_kw):
    monkeypatch.setenv("TTFUSE_ARCH", arch)
    fn, specs, kernel, _ = BLOCKS[block]
    low = ttfuse.jit(fn, **jit_kw).lower(*specs)
    nodes = [n for n in low.graph.nodes if n.op == "kernels." + kernel]
    assert len(nodes) == 1, [n.op for n in low.graph.nodes]
    return low, nodes[0]


def _steps(low, node) -> dict:
    """The kernel's named steps, its spec rule run on the device the graph was compiled for."""
    from ttfuse.ir import graph_device

    index = low.graph.node_index()
    ins = [low.graph.spec_of(r, index) for r in node.inputs]
    with device_spec_context(*graph_device(low.graph)):
        return {".".join(st.path): st for st in record_steps(node.opdef, spec_args(node, ins))}


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("block", list(BLOCKS))
def test_every_fused_matmul_step_has_a_valid_config(block, arch, monkeypatch):
    """`lower().program_configs` lists each configured step of the kernel; every config passes the stock op's own
    spec rule on the target device (the check the simulator runs on the call) and fits its grid."""
    low, node = _lower(block, arch, monkeypatch)
    kernel, want = BLOCKS[block][2], BLOCKS[block][3]
    rows = {r.step: r for r in low.program_configs if r.node == node.id}
    assert set(rows) == {f"{kernel}.{s}" for s in want}, sorted(rows)
    steps = _steps(low, node)
    ds = device_spec(arch)
    ckc = node.attr("compute_kernel_config")
    assert ckc is not None
    for name, st in steps.items():
        if st.op not in CONFIG_STEP_OPS:
            continue
        r = rows.get(f"{kernel}.{name}")
        assert r is not None, f"step {name} ({st.op}) has no config"
        assert r.step_op == OPS[st.op].qualname and r.chosen_by["program_config"] == "select_configs"
        assert r.program_config is not None and r.compute_kernel_config is not None
        g = grid_of(r.program_config)
        assert g is None or (g[0] <= ds.grid[0] and g[1] <= ds.grid[1]), (name, g, ds.grid)
        # the stock op's spec rule on this device, with the config as the step passes it
        arg = PC_ARG.get(st.op, "program_config")
        with device_spec_context(ds):
            OPS[st.op].spec_rule(**{**st.args, arg: r.program_config})
        if st.op in ("linear", "matmul", "experimental.minimal_matmul"):
            assert r.compute_kernel_config == ckc  # the kernel's own compute config runs its matmul steps
        # a config made for the other device's grid is rejected here when it does not fit
        if g is not None and (g[0] > 8 or g[1] > 8):
            with device_spec_context(device_spec("wormhole_b0:n150")), pytest.raises(SpecError):
                OPS[st.op].spec_rule(**{**st.args, arg: r.program_config})


def test_configs_follow_the_device(monkeypatch):
    """Wormhole n150 (8x8) and Blackhole p150 (13x10) get different grids for the Boltz Transition."""
    grids = {}
    for arch in ARCHS:
        low, _ = _lower("transition", arch, monkeypatch)
        grids[arch] = {r.step: grid_of(r.program_config) for r in low.program_configs if r.step}
    wh, bh = grids.values()
    assert wh["transition.w_in"] == (8, 8) and wh["transition.w_out"] is not None
    assert max(bh["transition.w_in"]) > 8 and max(bh["transition.w_out"]) > 8, bh


def test_boltz_transition_shows_its_configs(monkeypatch):
    """The Boltz Transition (1x1x2048x128, D=128, H=512): one row per step, named by the step, and the generated
    code passes them to the kernel."""
    low, node = _lower("transition", "wormhole_b0:n150", monkeypatch)
    rows = [r for r in low.program_configs if r.node == node.id]
    text = "\n".join(map(str, rows))
    assert [r.step for r in rows] == ["transition.norm", "transition.w_in", "transition.w_out"], text
    assert (
        "transition.w_in = ttnn.experimental.minimal_matmul([1,1,2048,128], [128,1024]): MinimalMatmulConfig("
        in text
    )
    assert "transition.w_out = ttnn.linear([1,1,2048,512], [512,128]): MatmulMultiCoreReuseMultiCast" in text
    assert isinstance(rows[0].program_config, ttnn.LayerNormDefaultProgramConfig)
    w_in = rows[1].program_config
    assert w_in.N_block_size % 2 == 0 and w_in.subblock_w % 2 == 0  # SwiGLU: whole gate/up pairs
    assert "step_configs=((" in low.source and "ttnn.MinimalMatmulConfig(" in low.source


def test_user_step_configs_are_kept(monkeypatch):
    """Step configs already on the kernel (a user's, or a cache entry's) are not replaced by the pass."""
    from ttfuse.ir import respec
    from ttfuse.passes.context import PassContext
    from ttfuse.passes.select import select_configs

    low, node = _lower("transition", "wormhole_b0:n150", monkeypatch)
    assert node.side.config["configs_by"]["step_configs"] == "select_configs"
    mine = (("w_out", ttnn.MatmulMultiCoreReuseMultiCast1DProgramConfig(
        compute_with_storage_grid_size=(2, 1), in0_block_w=1, out_subblock_h=1, out_subblock_w=1,
        per_core_M=64, per_core_N=2, fuse_batch=True, mcast_in0=True,
    )),)  # fmt: skip
    g2 = respec(low.graph, {node.id: node.replace(attrs=set_attrs(node.attrs, step_configs=mine))})
    out = select_configs(g2, PassContext(device_spec("wormhole_b0:n150"), {}, frozenset()))
    n2 = next(n for n in out.nodes if n.id == node.id)
    assert n2.attr("step_configs") == mine


# ------------------------------------------------------------------------------------------- the ttnn rules
class Spy:
    """The facade, recording the config arguments of every matmul / norm / SDPA call a ttnn rule makes."""

    def __init__(self):
        self.calls: list[tuple[str, object, object]] = []
        spy = self

        class Experimental:
            def __getattr__(self, name):
                return getattr(ttnn.experimental, name)

            def minimal_matmul(self, *a, **k):
                spy.calls.append(("minimal_matmul", k.get("config"), k.get("compute_kernel_config")))
                return ttnn.experimental.minimal_matmul(*a, **k)

            def minimal_matmul_split(self, x, w, *, chunks, dim, bias_tensor=None, fused_activation=None,
                                     config=None, compute_kernel_config=None, **_):  # fmt: skip
                spy.calls.append(("minimal_matmul_split", config, compute_kernel_config))
                y = ttnn.experimental.minimal_matmul(
                    x, w, bias_tensor=bias_tensor, fused_activation=fused_activation,
                    compute_kernel_config=compute_kernel_config,
                )  # fmt: skip
                n = y.shape[-1] // chunks
                lead = tuple(y.shape[:-1])
                z = (0,) * len(lead)
                return [ttnn.slice(y, (*z, i * n), (*lead, (i + 1) * n)) for i in range(chunks)]

        class Transformer:
            def __getattr__(self, name):
                return getattr(ttnn.transformer, name)

            def scaled_dot_product_attention(self, *a, **k):
                spy.calls.append(("sdpa", k.get("program_config"), k.get("compute_kernel_config")))
                return ttnn.transformer.scaled_dot_product_attention(*a, **k)

        self.experimental, self.transformer = Experimental(), Transformer()

    def __getattr__(self, name):
        return getattr(ttnn, name)

    def _rec(self, name, a, k):
        self.calls.append((name, k.get("program_config"), k.get("compute_kernel_config")))
        return getattr(ttnn, name)(*a, **k)

    def linear(self, *a, **k):
        return self._rec("linear", a, k)

    def matmul(self, *a, **k):
        return self._rec("matmul", a, k)

    def layer_norm(self, *a, **k):
        return self._rec("layer_norm", a, k)


def _device_args(node, graph, device) -> dict:
    """The kernel's arguments with a random device tensor of each input's spec."""
    index = graph.node_index()
    args = spec_args(node, [graph.spec_of(r, index) for r in node.inputs])
    out = {}
    for k, v in args.items():
        if isinstance(v, TensorSpec):
            t = torch.randn(v.shape) * 0.1
            out[k] = ttnn.from_torch(
                t, dtype=v.dtype, layout=v.layout, device=device, memory_config=v.memory_config
            )
        else:
            out[k] = v
    return out


@pytest.mark.parametrize("block", list(BLOCKS))
def test_ttnn_rule_passes_the_selected_configs(block, device, monkeypatch):
    """Run the kernel's ttnn rule (the composite a TT device runs) on the simulator through a spy: every matmul,
    norm and SDPA call receives exactly the program config select_configs chose for its step and the kernel's
    compute kernel config."""
    low, node = _lower(block, "wormhole_b0:n150", monkeypatch)
    kernel = BLOCKS[block][2]
    rows = [r for r in low.program_configs if r.node == node.id]
    spy = Spy()
    node.opdef.ttnn_rule(spy, **_device_args(node, low.graph, device))
    got = [pc for _, pc, _ in spy.calls if pc is not None]
    want = [r.program_config for r in rows]
    assert sorted(map(repr, got)) == sorted(map(repr, want)), (kernel, spy.calls)
    ckcs = {repr(ck) for name, _, ck in spy.calls if name != "layer_norm"}
    assert ckcs == {repr(node.attr("compute_kernel_config"))}
    for name, _, ck in spy.calls:
        if name == "layer_norm":
            assert ck == node.attr("norm_compute_kernel_config")


def test_jit_with_step_configs_matches_eager(device):
    """Configs do not change what the Transition computes (the sim honours what they change: fused bias,
    fidelity): JIT with its step configs against eager, on the Boltz shape."""
    from ttfuse.testing import pcc

    _, specs, _, _ = BLOCKS["transition"]
    args = [
        ttnn.from_torch(torch.randn(s.shape) * (0.1 if s.rank == 2 else 1.0), dtype=BF16,
                        layout=ttnn.TILE_LAYOUT, device=device)
        for s in specs
    ]  # fmt: skip
    want = ttnn.to_torch(transition(*args))
    got = ttnn.to_torch(ttfuse.jit(transition)(*args))
    assert pcc(got, want) > 0.9999


# ------------------------------------------------------------------------------------------------- cost
def test_kernel_cost_follows_its_step_configs(monkeypatch):
    """The cost model times a fused kernel's matmul steps by their configs' busiest core: the same kernel with
    1x1-grid configs for its matmul steps is predicted much slower than with the selected ones."""
    from ttfuse.passes.select_configs import MatmulProblem, select_matmul_config, select_minimal_matmul_config

    low, node = _lower("transition", "wormhole_b0:n150", monkeypatch)
    ds = device_spec("wormhole_b0:n150")
    steps = _steps(low, node)
    ckc = node.attr("compute_kernel_config")
    m_in = steps["w_in"].args
    x, w = m_in["input_tensor"], m_in["weight_tensor"]
    one_in = select_minimal_matmul_config(
        x.padded_shape[-2] // TILE, w.shape[-2] // TILE, w.shape[-1] // TILE, (BF16, w.dtype, BF16), ds,
        max_grid=(0, 0), fp32_acc=ckc.fp32_dest_acc_en, fuse_swiglu=True,
    )  # fmt: skip
    o = steps["w_out"].args
    one_out = select_matmul_config(
        MatmulProblem.from_shapes(o["input_tensor_a"].shape, o["input_tensor_b"].shape, BF16, BF16, BF16),
        ds, max_grid=(0, 0), fp32_acc=ckc.fp32_dest_acc_en,
    )  # fmt: skip
    assert (
        isinstance(one_in, MinimalMatmulConfig) and grid_of(one_in) == (1, 1) and grid_of(one_out) == (1, 1)
    )
    sel = dict(node.attr("step_configs"))
    slow = node.replace(
        attrs=set_attrs(
            node.attrs, step_configs=(("norm", sel["norm"]), ("w_in", one_in), ("w_out", one_out))
        )
    )
    fast_c = node_cost(low.graph, node, ds)
    slow_c = node_cost(low.graph, slow, ds)
    assert slow_c.math_us > 20 * fast_c.math_us, (slow_c.math_us, fast_c.math_us)
    # and a config on fewer cores than the grid is not costed as if spread over all of it
    unset = node.replace(attrs=set_attrs(node.attrs, step_configs=None))
    assert node_cost(low.graph, unset, ds).math_us < slow_c.math_us


def test_kernel_sdpa_step_is_costed_from_its_config(monkeypatch):
    """A kernel's SDPA step is timed by its config: tt-metal's SDPA gives each core whole (batch, head, q chunk)
    units, so the same step on a 1x1 grid, or with fewer q chunks than cores, costs its busiest core's units."""
    low, node = _lower("pair_bias_attention (self)", "wormhole_b0:n150", monkeypatch)
    ds = device_spec("wormhole_b0:n150")
    sel = dict(node.attr("step_configs"))
    sdpa = sel["sdpa"]
    assert grid_of(sdpa) != (1, 1)

    def with_sdpa(cfg):
        steps = tuple((k, cfg if k == "sdpa" else v) for k, v in node.attr("step_configs"))
        return node_cost(low.graph, node.replace(attrs=set_attrs(node.attrs, step_configs=steps)), ds)

    fast = node_cost(low.graph, node, ds)
    one = with_sdpa(dataclasses.replace(sdpa, compute_with_storage_grid_size=(1, 1)))
    assert one.math_us > 2 * fast.math_us, (one.math_us, fast.math_us)
    # one q chunk per (batch, head): the busiest core does one unit however many cores the grid has
    q_len = next(n for n in low.graph.nodes if n is node).outs[0].shape[-2]
    whole = with_sdpa(dataclasses.replace(sdpa, q_chunk_size=-(-q_len // TILE) * TILE))
    assert whole.math_us >= fast.math_us


def test_minimal_matmul_config_is_checked(device):
    """The simulator's minimal_matmul rejects configs the TT program factory rejects: an odd N block with
    fuse_swiglu, circular buffers beyond a core's L1."""
    x = ttnn.from_torch(torch.randn(256, 128), dtype=BF16, layout=ttnn.TILE_LAYOUT, device=device)
    w = ttnn.from_torch(torch.randn(128, 256), dtype=BF16, layout=ttnn.TILE_LAYOUT, device=device)
    ok = MinimalMatmulConfig(M_block_size=4, K_block_size=4, N_block_size=4, subblock_h=2, subblock_w=2,
                             compute_with_storage_grid_size=(4, 4))  # fmt: skip
    ttnn.experimental.minimal_matmul(x, w, fuse_swiglu=True, config=ok)
    odd = MinimalMatmulConfig(M_block_size=4, K_block_size=4, N_block_size=3, subblock_h=1, subblock_w=3,
                              compute_with_storage_grid_size=(4, 4))  # fmt: skip
    with pytest.raises(SpecError, match="N_block_size=3 must be even with fuse_swiglu"):
        ttnn.experimental.minimal_matmul(x, w, fuse_swiglu=True, config=odd)
    huge = MinimalMatmulConfig(M_block_size=64, K_block_size=64, N_block_size=64, subblock_h=2, subblock_w=2,
                               compute_with_storage_grid_size=(4, 4))  # fmt: skip
    with pytest.raises(SpecError, match="circular buffers need .* per core"):
        ttnn.experimental.minimal_matmul(x, w, config=huge)


def test_stock_minimal_matmul_gets_a_config_too(monkeypatch):
    """The same rule configures an unfused minimal_matmul in a graph (its `config` argument)."""
    monkeypatch.setenv("TTFUSE_ARCH", "blackhole:p150")

    def f(x, w):
        return ttnn.experimental.minimal_matmul(x, w)

    low = ttfuse.jit(f).lower(S(1, 1024, 256), S(256, 512))
    (row,) = low.program_configs
    assert isinstance(row.program_config, MinimalMatmulConfig) and row.step is None
    assert row.chosen_by["config"] == "select_configs" and "config=ttnn.MinimalMatmulConfig(" in low.source
    assert max(grid_of(row.program_config)) > 8


def test_every_kernel_with_matmul_steps_declares_them():
    """Every registered fused kernel whose composite runs a matmul takes `step_configs` (or, for the ring
    attention, its own program_config); the kernels without a matmul step are listed."""
    no_matmul = ("kernels.eltwise", "kernels.concat_weights", "kernels.group_norm_act")
    for name, op in OPS.items():
        if op.group is not Group.FUSED or name in no_matmul:
            continue
        assert "step_configs" in op.params or op.traits.config_rule == "ring_sdpa", name


def test_step_configs_survive_the_disk_cache_format(monkeypatch):
    """The kernels' step configs are static data of the graph: the JSON round trip (what the disk cache stores)
    gives them back equal, and the code generated from the reloaded graph passes the same literals."""
    import json

    from ttfuse.codegen import generate_source
    from ttfuse.ir import Graph

    for block in ("transition", "conditioned_transition", "pair_bias_attention (cross)"):
        low, node = _lower(block, "blackhole:p150", monkeypatch)
        back = Graph.from_json(json.loads(json.dumps(low.graph.to_json())))
        n2 = next(n for n in back.nodes if n.id == node.id)
        assert n2.attr("step_configs") == node.attr("step_configs") and node.attr("step_configs")
        src, _, _ = generate_source(back, name="f")
        assert "step_configs=((" in src and "ttnn.MinimalMatmulConfig(" in src
        if block != "conditioned_transition":  # large enough for the whole 13x10 grid
            assert "compute_with_storage_grid_size=(13, 10)" in src


@pytest.mark.parametrize("arch", ARCHS)
def test_every_configured_kernel_is_costed_by_its_configs(arch, monkeypatch):
    """The cost rule of every kernel runs with its step configs on its device, and times its configured matmul
    steps by their configs (`OpCost.core_tiles`): those tiles are what the busiest core of each config does, never
    less than an even spread of the same work over the whole grid."""
    from ttfuse.passes.cost import TILE_MAC_FLOPS, graph_cost, op_cost

    ds = device_spec(arch)
    for block in BLOCKS:
        low, node = _lower(block, arch, monkeypatch)
        graph_cost(low.graph, ds)  # every node, the kernel included, costs without error
        c = op_cost(low.graph, node, low.graph.node_index(), ds, None, None)
        assert c.core_tiles > 0 and 0 < c.core_tiles_flops <= c.matmul_flops * (1 + 1e-9), block
        assert c.core_tiles >= c.core_tiles_flops / TILE_MAC_FLOPS / ds.num_cores * (1 - 1e-9), block
