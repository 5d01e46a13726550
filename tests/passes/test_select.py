"""select_configs: a validated program config and compute kernel config for every matmul/linear/SDPA/norm."""

import itertools

import pytest
import torch

import ttfuse
from ttfuse import ttnn
from ttfuse.device import TILE, device_spec
from ttfuse.ops.attention import sdpa_cb_bytes
from ttfuse.ops.matmul_config import validate_matmul_program_config
from ttfuse.passes.place_memory import cb_limit_per_core
from ttfuse.passes.select import choose_matmul_config, grid_of, program_configs, select_configs, select_ctx
from ttfuse.passes.select_configs import compute_kernel_config_for, select_sdpa_config
from ttfuse.sim import count_launches
from ttfuse.testing import pcc

BF16, BFP8 = ttnn.bfloat16, ttnn.bfloat8_b
# every config must be valid for: Wormhole 8x8, Blackhole 13x10 (older firmware) and 11x10
DEVICES = ("wormhole_b0:n150", "blackhole:p150:13x10", "blackhole:p150:11x10")

# (M, K, N): decode rows, square, tall, wide, non-powers of two, a batched pair activation
SHAPES = [
    ((32, 4096), (4096, 4096)),
    ((128, 1024), (1024, 3072)),
    ((1000, 384), (384, 1536)),
    ((2048, 2048), (2048, 2048)),
    ((8192, 512), (512, 64)),
    ((64, 8192), (8192, 256)),
    ((1, 100, 100, 128), (128, 512)),
    ((1, 32, 768, 512), (512, 128)),
    ((4096, 96), (96, 16384)),
    ((320, 1152), (1152, 320)),
]


def _check(cfg, a, b, out, ckc, ds, max_grid=None, bias=None):
    """The simulator's own validation, the DST budget and the grid limits."""
    validate_matmul_program_config("linear", cfg, a, b, out, ckc, ds, bias=bias)
    if hasattr(cfg, "out_subblock_h"):
        assert cfg.out_subblock_h * cfg.out_subblock_w <= ds.dst_tiles(
            ckc.fp32_dest_acc_en, ckc.dst_full_sync_en
        )
    g = grid_of(cfg)
    if g is not None:
        assert 1 <= g[0] <= ds.grid[0] and 1 <= g[1] <= ds.grid[1]
        if max_grid is not None:
            assert g[0] <= max_grid[0] + 1 and g[1] <= max_grid[1] + 1


@pytest.mark.parametrize("kind", DEVICES)
@pytest.mark.parametrize("dtype", [BF16, BFP8], ids=["bf16", "bfp8"])
@pytest.mark.parametrize("fp32_acc", [False, True], ids=["acc16", "acc32"])
def test_config_sweep_is_valid_on_every_device(kind, dtype, fp32_acc, make_ctx, spec):
    ds = device_spec(kind)
    for (sa, sb), max_grid, bias in itertools.product(SHAPES, [None, (3, 5)], [False, True]):
        ctx = make_ctx(kind, max_grid=max_grid, fp32_dest_acc_en=fp32_acc)
        sc = select_ctx(ctx)
        a, b = spec(sa, dtype), spec(sb, dtype)
        out = spec((*sa[:-1], sb[-1]), BF16)
        bs = spec((sb[-1],), BF16) if bias else None
        ckc = compute_kernel_config_for((a.dtype, b.dtype, out.dtype), fp32_acc=fp32_acc)
        assert ckc.fp32_dest_acc_en is fp32_acc
        cfg, why = choose_matmul_config(a, b, out, ckc, sc, bias=bs)
        assert cfg is not None, (sa, sb, why)
        _check(cfg, a, b, out, ckc, ds, max_grid, bs)


def test_batched_b_gets_the_reuse_config(make_ctx, spec):
    for kind in DEVICES:
        sc = select_ctx(make_ctx(kind))
        a, b = spec((8, 4, 256, 64)), spec((8, 4, 64, 256))
        out = spec((8, 4, 256, 256))
        ckc = compute_kernel_config_for((BF16, BF16, BF16))
        cfg, _ = choose_matmul_config(a, b, out, ckc, sc)
        assert type(cfg).__name__ == "MatmulMultiCoreReuseProgramConfig" and cfg.per_core_N == 256 // TILE
        _check(cfg, a, b, out, ckc, device_spec(kind))


def test_dram_sharded_for_width_sharded_activation(make_ctx, spec):
    ds = device_spec("wormhole_b0")
    grid = ttnn.CoreRangeSet({ttnn.CoreRange(ttnn.CoreCoord(0, 0), ttnn.CoreCoord(7, 3))})  # 32 cores
    a_mc = ttnn.MemoryConfig(
        ttnn.TensorMemoryLayout.WIDTH_SHARDED,
        ttnn.BufferType.L1,
        ttnn.ShardSpec(grid, (32, 128), ttnn.ShardOrientation.ROW_MAJOR),
    )
    banks = ttnn.CoreRangeSet({ttnn.CoreRange(ttnn.CoreCoord(0, 0), ttnn.CoreCoord(11, 0))})
    b_mc = ttnn.MemoryConfig(
        ttnn.TensorMemoryLayout.WIDTH_SHARDED,
        ttnn.BufferType.DRAM,
        ttnn.ShardSpec(banks, (4096, 384), ttnn.ShardOrientation.ROW_MAJOR),
    )
    a, b = spec((32, 4096), BF16, a_mc), spec((4096, 4608), BFP8, b_mc)
    out = spec((32, 4608), BF16, ttnn.MemoryConfig(ttnn.TensorMemoryLayout.WIDTH_SHARDED, ttnn.BufferType.L1))
    ckc = compute_kernel_config_for((BF16, BFP8, BF16))
    cfg, why = choose_matmul_config(a, b, out, ckc, select_ctx(make_ctx()))
    assert type(cfg).__name__ == "MatmulMultiCoreReuseMultiCastDRAMShardedProgramConfig", why
    assert cfg.per_core_M == 1 and cfg.per_core_N == -(-4608 // TILE // 32)
    _check(cfg, a, b, out, ckc, ds)


@pytest.mark.parametrize("kind", DEVICES)
def test_sdpa_chunks_are_tile_multiples_that_fit(kind, make_ctx):
    ds = device_spec(kind)
    limit = cb_limit_per_core(make_ctx(kind))
    for b, h, s, dh in [
        (1, 8, 128, 64),
        (1, 16, 4096, 128),
        (4, 4, 1000, 32),
        (1, 1, 32, 256),
        (8, 16, 256, 64),
    ]:
        cfg = select_sdpa_config(b, h, s, s, dh, BF16, ds, cb_limit=limit)
        qc, kc = cfg.q_chunk_size, cfg.k_chunk_size
        assert qc % TILE == 0 and kc % TILE == 0 and qc <= max(TILE, s) + TILE - 1
        assert sdpa_cb_bytes(qc, kc, dh, BF16) <= limit <= ds.l1_per_core
        assert tuple(cfg.compute_with_storage_grid_size) == ds.grid
    big = select_sdpa_config(1, 16, 4096, 4096, 64, BF16, ds, cb_limit=limit)
    assert big.q_chunk_size >= 128 and big.k_chunk_size >= 128  # long sequences get large chunks


# -------------------------------------------------------------------------------------------- the pass
def block(x, w1, b1, w2, q, k, v, g):
    h = ttnn.layer_norm(x, weight=g, epsilon=1e-5)
    h = ttnn.linear(h, w1, bias=b1, activation="gelu")
    y = ttnn.softmax(ttnn.matmul(h, w2), dim=-1)
    att = ttnn.transformer.scaled_dot_product_attention(q, k, v, is_causal=False)
    return y, att


def block_specs(spec):
    return [spec((1, 256, 256)), spec((256, 1024)), spec((1024,)), spec((1024, 256)),
            spec((1, 4, 256, 64)), spec((1, 4, 256, 64)), spec((1, 4, 256, 64)), spec((256,))]  # fmt: skip


@pytest.mark.parametrize("kind", DEVICES)
def test_every_config_op_gets_configs_valid_for_its_grid(kind, monkeypatch, spec):
    monkeypatch.setenv("TTFUSE_ARCH", kind)
    ds = device_spec(kind)
    low = ttfuse.jit(block, passes=["-fuse"]).lower(*block_specs(spec))
    rows = program_configs(low.graph)
    assert [r.op for r in rows] == [
        "ttnn.layer_norm", "ttnn.linear", "ttnn.matmul", "ttnn.softmax",
        "ttnn.transformer.scaled_dot_product_attention",
    ]  # fmt: skip
    assert rows[1].input_shapes == ((1, 256, 256), (256, 1024), (1024,))
    for r in rows:
        assert isinstance(r.compute_kernel_config, ttnn.WormholeComputeKernelConfig)
        assert r.chosen_by["compute_kernel_config"] == "select_configs"
        g = grid_of(r.program_config)
        assert g is None or (g[0] <= ds.grid[0] and g[1] <= ds.grid[1])
    lin = rows[1].program_config
    assert type(lin) in (
        ttnn.MatmulMultiCoreReuseMultiCastProgramConfig,
        ttnn.MatmulMultiCoreReuseMultiCast1DProgramConfig,
    )
    assert lin.fused_activation == ttnn.UnaryWithParam(ttnn.UnaryOpType.GELU)  # moved out of `activation`
    assert isinstance(rows[0].program_config, ttnn.LayerNormDefaultProgramConfig)
    assert isinstance(rows[4].program_config, ttnn.SDPAProgramConfig)
    # stored as the ops' own arguments (the generated code passes them) and mirrored in side data
    assert "program_config=ttnn.MatmulMultiCoreReuseMultiCast" in low.source
    assert "compute_kernel_config=ttnn.WormholeComputeKernelConfig(" in low.source
    n = next(n for n in low.graph.nodes if n.op == "linear")
    assert n.side.config["program_config"] == n.attr("program_config") and n.attr("activation") is None
    assert low.program_configs == rows


def test_max_grid_and_math_fidelity_are_honoured(spec):
    low = ttfuse.jit(block, passes=["-fuse"], max_grid=(3, 2), math_fidelity="LoFi").lower(*block_specs(spec))
    for r in low.program_configs:
        g = grid_of(r.program_config)
        assert g is None or (g[0] <= 4 and g[1] <= 3)
        assert r.compute_kernel_config.math_fidelity is ttnn.MathFidelity.LoFi


def test_user_configs_are_kept(spec):
    mine = ttnn.MatmulMultiCoreReuseMultiCastProgramConfig(
        compute_with_storage_grid_size=(2, 2), in0_block_w=1, out_subblock_h=1, out_subblock_w=1,
        per_core_M=4, per_core_N=4,
    )  # fmt: skip

    def f(x, w):
        return ttnn.linear(x, w, program_config=mine)

    low = ttfuse.jit(f).lower(spec((256, 64)), spec((64, 256)))
    (row,) = low.program_configs
    assert row.program_config == mine and row.chosen_by["program_config"] == "user"
    assert row.chosen_by["compute_kernel_config"] == "select_configs"


def test_select_pass_alone_on_a_small_graph(make_ctx, spec):
    g = ttfuse.jit(lambda a, b: ttnn.matmul(a, b), passes=[]).lower(spec((64, 64)), spec((64, 64))).graph
    out = select_configs(g, make_ctx())
    (n,) = out.nodes
    assert (
        n.attr("program_config") is not None
        and n.side.config["configs_by"]["program_config"] == "select_configs"
    )
    assert select_configs(g, type(make_ctx())()) is g  # no device: nothing to choose


def test_jit_with_configs_runs_and_matches_eager(device, tt):
    def f(x, w, b):
        return ttnn.linear(x, w, bias=b, activation="silu")

    x, w, b = tt(torch.randn(256, 128)), tt(torch.randn(128, 256) / 11), tt(torch.randn(256))
    with count_launches(device) as eager_launches:
        want = ttnn.to_torch(f(x, w, b))
    jf = ttfuse.jit(f)
    jf(x, w, b)  # compile
    with count_launches(device) as jit_launches:
        got = ttnn.to_torch(jf(x, w, b))
    assert pcc(got, want) >= 0.9999
    assert jit_launches.total == 1 < eager_launches.total  # the activation rides in the program config
