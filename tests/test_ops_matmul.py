"""ttnn.matmul / linear / addmm / experimental.minimal_matmul on the simulator, and the matmul config rules."""

import math

import pytest
import torch

import ttfuse.sim
from tests.conftest import cfg1d, cfg2d, pcc
from ttfuse import ttnn
from ttfuse.device import device_spec
from ttfuse.errors import SpecError
from ttfuse.numerics import round_to_dtype
from ttfuse.ops import matmul as mm
from ttfuse.ops.matmul_config import (
    matmul_2d_program_config,
    matmul_default_compute_kernel_config,
    pick_subblock,
    validate_matmul_program_config,
)
from ttfuse.types import TensorSpec


def dev_tensor(device, t, dtype=ttnn.float32, memory_config=None):
    return ttnn.from_torch(
        t, dtype=dtype, layout=ttnn.TILE_LAYOUT, device=device, memory_config=memory_config
    )


def host(t):
    return ttnn.to_torch(t).float()


def bf16_ulp(x: torch.Tensor) -> torch.Tensor:
    """One bfloat16 ulp at |x| (2^(e-7)); tiny values get the smallest normal's ulp."""
    e = torch.floor(torch.log2(x.abs().clamp_min(1e-30)))
    return torch.pow(2.0, e - 7)


def spec(shape, dtype=ttnn.bfloat16, mc=ttnn.DRAM_MEMORY_CONFIG):
    return TensorSpec(tuple(shape), dtype, ttnn.TILE_LAYOUT, mc)


# ------------------------------------------------------------------------------------------ float32
@pytest.mark.parametrize(
    "sa, sb, ta, tb",
    [
        ((64, 96), (96, 128), False, False),  # 2-D
        ((3, 40, 70), (3, 70, 50), False, False),  # equal batch, unaligned dims
        ((2, 3, 64, 32), (32, 96), False, False),  # b broadcast over a's batch
        ((2, 3, 64, 32), (1, 1, 32, 96), False, False),  # b batch dims all 1
        ((96, 64), (96, 128), True, False),  # transpose_a
        ((2, 64, 96), (128, 96), False, True),  # transpose_b (torch weight layout)
        ((1, 1, 32, 64), (1, 4, 64, 32), False, False),  # a unbatched, b batched, equal ranks
        ((64, 96), (96,), False, False),  # matrix @ vector
    ],
)
def test_matmul_float32_exact(device, sa, sb, ta, tb):
    a, b = torch.randn(sa), torch.randn(sb)
    with ttfuse.sim.count_launches(device) as launches:
        y = ttnn.matmul(dev_tensor(device, a), dev_tensor(device, b), transpose_a=ta, transpose_b=tb)
    golden = torch.matmul(a.transpose(-1, -2) if ta else a, b.transpose(-1, -2) if tb else b)
    assert tuple(y.shape) == tuple(golden.shape)
    torch.testing.assert_close(host(y), golden, rtol=1e-6, atol=1e-6)
    assert y.dtype == ttnn.float32 and y.layout == ttnn.TILE_LAYOUT
    assert y.memory_config() == ttnn.DRAM_MEMORY_CONFIG
    assert tuple(y.padded_shape[-1:]) == (math.ceil(golden.shape[-1] / 32) * 32,)
    assert launches.total == 1 and launches.by_op == {"matmul": 1}


def test_matmul_output_spec_defaults(device):
    a = dev_tensor(device, torch.randn(2, 40, 64), ttnn.bfloat16, ttnn.L1_MEMORY_CONFIG)
    b = dev_tensor(device, torch.randn(64, 50), ttnn.bfloat8_b)
    y = ttnn.matmul(a, b)
    assert y.shape == [2, 40, 50] and y.padded_shape == [2, 64, 64]
    assert y.dtype == ttnn.bfloat16  # input a's dtype
    assert y.memory_config() == ttnn.DRAM_MEMORY_CONFIG  # ttnn default, not a's L1
    y = ttnn.matmul(a, b, dtype=ttnn.float32, memory_config=ttnn.L1_MEMORY_CONFIG)
    assert y.dtype == ttnn.float32 and y.memory_config() == ttnn.L1_MEMORY_CONFIG


HIFI4 = ttnn.WormholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.HiFi4)


def test_matmul_bfloat16_within_one_ulp(device):
    a = torch.randn(3, 64, 128).bfloat16().float()
    b = torch.randn(128, 96).bfloat16().float()
    ta, tb = dev_tensor(device, a, ttnn.bfloat16), dev_tensor(device, b, ttnn.bfloat16)
    y = host(ttnn.matmul(ta, tb, compute_kernel_config=HIFI4))
    golden = (a.double() @ b.double()).float()
    ref = golden.to(torch.bfloat16).float()  # independent bf16 reference
    assert torch.all((y - ref).abs() <= bf16_ulp(ref))


def test_matmul_default_fidelity_is_emulated(device):
    """Without a compute_kernel_config ttnn runs its default (HiFi2 for bf16 x bf16): the sim emulates the
    default exactly as the same config passed explicitly, so a JIT that makes the config explicit computes the
    same values as eager."""
    a = torch.randn(64, 128).bfloat16().float()
    b = torch.randn(128, 96).bfloat16().float()
    ta, tb = dev_tensor(device, a, ttnn.bfloat16), dev_tensor(device, b, ttnn.bfloat16)
    default = host(ttnn.matmul(ta, tb))
    hifi2 = ttnn.WormholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.HiFi2, packer_l1_acc=True)
    assert torch.equal(default, host(ttnn.matmul(ta, tb, compute_kernel_config=hifi2)))
    assert torch.equal(default, round_to_dtype(mm.matmul_values(a, b, ttnn.MathFidelity.HiFi2), "bfloat16"))
    assert not torch.equal(default, host(ttnn.matmul(ta, tb, compute_kernel_config=HIFI4)))


def test_matmul_bfloat8_weight_pcc(device):
    a = torch.randn(64, 256)
    w = torch.randn(256, 128)
    y = ttnn.matmul(
        dev_tensor(device, a, ttnn.bfloat16), dev_tensor(device, w, ttnn.bfloat8_b), dtype=ttnn.bfloat8_b
    )
    assert y.dtype == ttnn.bfloat8_b
    golden = a @ w
    assert pcc(host(y), golden) > 0.999
    hifi2 = mm.matmul_values(a.bfloat16().float(), round_to_dtype(w, "bfloat8_b"), ttnn.MathFidelity.HiFi2)
    assert torch.equal(host(y), round_to_dtype(hifi2, "bfloat8_b"))  # ttnn's default for bf16 x bfp8: HiFi2


# ------------------------------------------------------------------------------------------- linear
@pytest.mark.parametrize(
    "activation, fn",
    [
        (None, lambda x: x),
        ("relu", torch.relu),
        ("silu", torch.nn.functional.silu),
        ("gelu", torch.nn.functional.gelu),
        ("sigmoid", torch.sigmoid),
        (ttnn.UnaryWithParam(ttnn.UnaryOpType.RELU), torch.relu),
    ],
)
@pytest.mark.parametrize("bias_shape", [(96,), (1, 96), (1, 1, 1, 96)])
def test_linear_bias_activation_float32(device, activation, fn, bias_shape):
    x, w, bias = torch.randn(2, 64, 80), torch.randn(80, 96), torch.randn(bias_shape)
    y = ttnn.linear(
        dev_tensor(device, x), dev_tensor(device, w), bias=dev_tensor(device, bias), activation=activation
    )
    torch.testing.assert_close(host(y), fn(x @ w + bias.reshape(96)), rtol=1e-5, atol=1e-5)
    assert y.shape == [2, 64, 96]


def test_linear_counts_one_kernel(device):
    x, w, bias = (dev_tensor(device, t) for t in (torch.randn(64, 64), torch.randn(64, 32), torch.randn(32)))
    with ttfuse.sim.count_launches(device) as launches:
        ttnn.linear(x, w, bias=bias)
        ttnn.linear(x, w, bias=bias, activation="relu", core_grid=ttnn.CoreGrid(y=2, x=2))
    assert launches.by_op == {"linear": 2}


def test_linear_launch_rules_follow_ttnn():
    """ttnn bound_matmul: bias post-processed off DRAM; activation without core_grid is its own unary kernel."""
    x, w, b = spec((64, 64)), spec((64, 32)), spec((32,))
    out = [spec((64, 32))]
    base = {"input_tensor_a": x, "input_tensor_b": w, "bias": b, "program_config": None, "core_grid": None}
    assert mm._mm_launches(out) == 1
    assert mm._mm_launches(out, {**base, "activation": None}) == 1
    assert mm._mm_launches(out, {**base, "activation": "relu"}) == 2
    assert mm._mm_launches(out, {**base, "activation": "relu", "core_grid": ttnn.CoreGrid(y=1, x=1)}) == 1
    out_l1 = [spec((64, 32), mc=ttnn.L1_MEMORY_CONFIG)]
    assert mm._mm_launches(out_l1, {**base, "activation": "relu"}) == 3


def test_linear_cost_rule():
    op = ttnn.linear
    a, b = spec((2, 64, 96)), spec((96, 128))
    out = [spec((2, 64, 128))]
    args = {
        "input_tensor_a": a,
        "input_tensor_b": b,
        "bias": None,
        "activation": None,
        "core_grid": None,
        "program_config": None,
        "compute_kernel_config": None,
        "transpose_a": False,
    }
    c = op.cost_rule(ttfuse.opdef.CostCtx(op, {"input_tensor_a": a, "input_tensor_b": b}, out, args))
    assert c.matmul_flops == 2 * 2 * 64 * 128 * 96 and c.flops == c.matmul_flops
    assert c.fidelity == "HiFi2" and c.launches == 1
    assert c.dram_bytes == a.nbytes + b.nbytes + out[0].nbytes
    args["program_config"] = cfg2d()
    assert (
        op.cost_rule(ttfuse.opdef.CostCtx(op, {"input_tensor_a": a, "input_tensor_b": b}, out, args)).fidelity
        == "LoFi"
    )


def test_default_compute_kernel_config_matches_ttnn():
    f = matmul_default_compute_kernel_config
    assert f(ttnn.bfloat16, ttnn.bfloat16, ttnn.bfloat16).math_fidelity == ttnn.MathFidelity.HiFi2
    assert f(ttnn.bfloat8_b, ttnn.bfloat4_b, ttnn.bfloat16).math_fidelity == ttnn.MathFidelity.LoFi
    assert (
        f(ttnn.bfloat16, ttnn.bfloat16, ttnn.bfloat16, has_core_grid=True).math_fidelity
        == ttnn.MathFidelity.LoFi
    )
    c = f(ttnn.float32, ttnn.float32, ttnn.float32, has_program_config=True)
    assert c.math_fidelity == ttnn.MathFidelity.HiFi4 and c.fp32_dest_acc_en and not c.packer_l1_acc


@pytest.mark.parametrize("fid", ["LoFi", "HiFi2", "HiFi3", "HiFi4"])
def test_math_fidelity_emulation(device, fid):
    a = torch.randn(64, 128).bfloat16().float()
    b = torch.randn(128, 64).bfloat16().float()
    ckc = ttnn.WormholeComputeKernelConfig(math_fidelity=getattr(ttnn.MathFidelity, fid))
    y = host(ttnn.matmul(dev_tensor(device, a), dev_tensor(device, b), compute_kernel_config=ckc))

    def trunc(x, bits):  # keep `bits` explicit mantissa bits
        m, e = torch.frexp(x)
        return torch.ldexp(torch.trunc(m * 2.0 ** (bits + 1)) / 2.0 ** (bits + 1), e)

    a_hi, b_hi = trunc(a, 6), trunc(b, 4)
    golden = {"LoFi": a_hi @ b_hi, "HiFi2": a_hi @ b, "HiFi3": a_hi @ b + (a - a_hi) @ b_hi, "HiFi4": a @ b}[
        fid
    ]
    torch.testing.assert_close(y, golden, rtol=1e-5, atol=1e-4)
    err = (y - a @ b).abs().mean().item()
    assert (err == 0.0) == (fid == "HiFi4")


# --------------------------------------------------------------------------------------- bad inputs
def test_matmul_bad_inputs(device):
    a = dev_tensor(device, torch.randn(64, 96))
    with pytest.raises(
        SpecError,
        match=r"ttnn.matmul: the width of argument 'input_tensor_a' \(96\) must equal the "
        r"height of argument 'input_tensor_b' \(64\)",
    ):
        ttnn.matmul(a, dev_tensor(device, torch.randn(64, 32)))
    rm = ttnn.from_torch(torch.randn(96, 32), dtype=ttnn.float32, device=device)
    with pytest.raises(SpecError, match="ttnn.matmul: argument 'input_tensor_b' must be in TILE layout"):
        ttnn.matmul(a, rm)
    i32 = ttnn.from_torch(torch.ones(96, 32, dtype=torch.int32), layout=ttnn.TILE_LAYOUT, device=device)
    with pytest.raises(SpecError, match="ttnn.matmul: argument 'input_tensor_b' has dtype int32"):
        ttnn.matmul(a, i32)
    with pytest.raises(
        SpecError, match=r"ttnn.matmul: batch dims of 'input_tensor_a' \[2\] and 'input_tensor_b' \[3\]"
    ):
        ttnn.matmul(dev_tensor(device, torch.randn(2, 32, 32)), dev_tensor(device, torch.randn(3, 32, 32)))
    with pytest.raises(
        SpecError, match="ttnn.matmul: arguments 'core_grid' and 'program_config' cannot both"
    ):
        ttnn.matmul(
            a,
            dev_tensor(device, torch.randn(96, 32)),
            core_grid=ttnn.CoreGrid(y=1, x=1),
            program_config=cfg2d(),
        )
    with pytest.raises(SpecError, match="ttnn.matmul: argument 'core_grid'=.* does not fit"):
        ttnn.matmul(a, dev_tensor(device, torch.randn(96, 32)), core_grid=ttnn.CoreGrid(y=9, x=8))
    with pytest.raises(SpecError, match="ttnn.matmul: argument 'activation': unknown activation 'swish'"):
        ttnn.matmul(a, dev_tensor(device, torch.randn(96, 32)), activation="swish")
    with pytest.raises(
        SpecError, match="ttnn.matmul: argument 'optional_output_tensor' is .*; the op computes"
    ):
        ttnn.matmul(a, dev_tensor(device, torch.randn(96, 32)), optional_output_tensor=a)
    bad_ckc = ttnn.WormholeComputeKernelConfig(math_fidelity="HiFi2")
    with pytest.raises(
        SpecError, match="ttnn.matmul: argument 'compute_kernel_config': math_fidelity must be"
    ):
        ttnn.matmul(a, dev_tensor(device, torch.randn(96, 32)), compute_kernel_config=bad_ckc)


def test_linear_bad_bias(device):
    x, w = dev_tensor(device, torch.randn(64, 64)), dev_tensor(device, torch.randn(64, 32))
    with pytest.raises(
        SpecError, match=r"ttnn.linear: argument 'bias' must be a row vector .* N=32; got \[64, 32\]"
    ):
        ttnn.linear(x, w, bias=dev_tensor(device, torch.randn(64, 32)))
    with pytest.raises(SpecError, match=r"ttnn.linear: argument 'bias' must be a row vector .* got \[16\]"):
        ttnn.linear(x, w, bias=dev_tensor(device, torch.randn(16)))
    with pytest.raises(SpecError, match="ttnn.linear: argument 'bias' is not supported with a batched"):
        ttnn.linear(
            dev_tensor(device, torch.randn(2, 64, 64)),
            dev_tensor(device, torch.randn(2, 64, 32)),
            bias=dev_tensor(device, torch.randn(32)),
        )


def test_sharded_input_activation_must_go_in_program_config(device):
    grid = ttnn.CoreRangeSet(ttnn.CoreRange(ttnn.CoreCoord(0, 0), ttnn.CoreCoord(1, 0)))
    mc = ttnn.MemoryConfig(
        ttnn.TensorMemoryLayout.WIDTH_SHARDED, ttnn.BufferType.L1, ttnn.ShardSpec(grid, (32, 32))
    )
    x = dev_tensor(device, torch.randn(32, 64), ttnn.bfloat16, mc)
    with pytest.raises(SpecError, match="ttnn.linear: argument 'activation' \\(RELU\\) with sharded inputs"):
        ttnn.linear(x, dev_tensor(device, torch.randn(64, 32), ttnn.bfloat16), activation="relu")


# ---------------------------------------------------------------------------------- program configs
def test_program_config_valid_and_sharded_output(device):
    a, b = torch.randn(256, 128), torch.randn(128, 256)
    cfg = cfg2d(
        gx=8, gy=8, w=4, sh=1, sw=1, pm=1, pn=1, fused_activation=ttnn.UnaryWithParam(ttnn.UnaryOpType.RELU)
    )
    y = ttnn.matmul(dev_tensor(device, a), dev_tensor(device, b), program_config=cfg)
    torch.testing.assert_close(host(y), torch.relu(a @ b), rtol=1e-5, atol=1e-5)
    y = ttnn.matmul(
        dev_tensor(device, a),
        dev_tensor(device, b),
        program_config=cfg2d(gx=4, gy=4, pm=2, pn=2),
        memory_config=ttnn.L1_BLOCK_SHARDED_MEMORY_CONFIG,
    )
    sp = y.memory_config().shard_spec
    assert sp.shape == (64, 64) and sp.num_cores() == 16 and sp.orientation == ttnn.ShardOrientation.ROW_MAJOR


@pytest.mark.parametrize("fp32_acc, sub, budget", [(False, (4, 4), 8), (True, (2, 4), 4)])
def test_program_config_subblock_over_dst_budget(device, fp32_acc, sub, budget):
    a, b = dev_tensor(device, torch.randn(256, 64)), dev_tensor(device, torch.randn(64, 256))
    ckc = ttnn.WormholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.HiFi2, fp32_dest_acc_en=fp32_acc)
    cfg = cfg2d(gx=2, gy=2, w=2, sh=sub[0], sw=sub[1], pm=4, pn=4)
    with pytest.raises(
        SpecError,
        match=rf"ttnn.matmul: argument 'program_config' .*out_subblock_h\*out_subblock_w = "
        rf"{sub[0]}\*{sub[1]} = {sub[0] * sub[1]} tiles exceeds the DST register "
        rf"budget of {budget} tiles",
    ):
        ttnn.matmul(a, b, program_config=cfg, compute_kernel_config=ckc)
    ok = (
        cfg2d(gx=2, gy=2, w=2, sh=1, sw=budget, pm=4, pn=4)
        if budget == 4
        else cfg2d(gx=2, gy=2, sh=2, sw=4, pm=4, pn=4)
    )
    ttnn.matmul(a, b, program_config=ok, compute_kernel_config=ckc)


def test_program_config_errors(device):
    a, b = dev_tensor(device, torch.randn(256, 96)), dev_tensor(device, torch.randn(96, 256))
    with pytest.raises(
        SpecError,
        match=r"compute_with_storage_grid_size=\(13, 10\) does not fit the device's compute "
        r"grid \(8, 8\) on wormhole_b0:n150",
    ):
        ttnn.matmul(a, b, program_config=cfg2d(gx=13, gy=10, w=1))
    with pytest.raises(SpecError, match=r"Kt=3 \(K=96 in tiles\) is not divisible by in0_block_w=2"):
        ttnn.matmul(a, b, program_config=cfg2d(w=2))
    with pytest.raises(SpecError, match="in0_block_w=0 must be a positive integer"):
        ttnn.matmul(a, b, program_config=cfg2d(w=0))
    with pytest.raises(
        SpecError, match=r"per_core_M=1 x 4 cores along grid y = 4 tile rows do not cover M=8 tiles"
    ):
        ttnn.matmul(a, b, program_config=cfg2d(gx=8, gy=4, w=1, pm=1, pn=1))
    with pytest.raises(SpecError, match="per_core_M=2 is not divisible by out_subblock_h=4"):
        ttnn.matmul(a, b, program_config=cfg2d(w=1, sh=4, pm=2))
    with pytest.raises(SpecError, match="ttnn.matmul: argument 'program_config' must be one of"):
        ttnn.matmul(a, b, program_config=ttnn.SoftmaxDefaultProgramConfig())
    with pytest.raises(
        SpecError, match="circular buffers need .* B per core .* but a core has 1,499,136 B of L1"
    ):
        big_a = dev_tensor(device, torch.randn(32, 512), ttnn.bfloat16)
        big_b = dev_tensor(device, torch.randn(512, 4096), ttnn.bfloat16)
        ttnn.matmul(big_a, big_b, program_config=cfg2d(gx=1, gy=1, w=16, pm=1, pn=128, sw=8))


def test_program_config_1d_dram_sharded_and_reuse():
    ds = device_spec("wormhole_b0:n150")
    a, b, out = spec((1, 1, 32, 256)), spec((1, 1, 256, 512)), spec((1, 1, 32, 512))
    ok = cfg1d(gx=8, gy=2, w=8, mcast_in0=True)
    validate_matmul_program_config("matmul", ok, a, b, out, None, ds)
    bad = cfg1d(gx=8, gy=1, w=8, mcast_in0=True)
    with pytest.raises(SpecError, match=r"1x16 = 16 output blocks .* need more cores than the 8x1 grid"):
        validate_matmul_program_config("matmul", bad, a, b, out, None, ds)
    dram = ttnn.MatmulMultiCoreReuseMultiCastDRAMShardedProgramConfig(
        in0_block_w=1, per_core_M=1, per_core_N=2
    )
    with pytest.raises(SpecError, match="DRAM-sharded matmul needs 'input_tensor_a' WIDTH_SHARDED in L1"):
        validate_matmul_program_config("linear", dram, a, b, out, None, ds)
    grid = ttnn.CoreRangeSet(ttnn.CoreRange(ttnn.CoreCoord(0, 0), ttnn.CoreCoord(7, 0)))
    a_ws = spec(
        a.shape,
        mc=ttnn.MemoryConfig(
            ttnn.TensorMemoryLayout.WIDTH_SHARDED, ttnn.BufferType.L1, ttnn.ShardSpec(grid, (32, 32))
        ),
    )
    b_ws = spec(
        b.shape,
        mc=ttnn.MemoryConfig(
            ttnn.TensorMemoryLayout.WIDTH_SHARDED, ttnn.BufferType.DRAM, ttnn.ShardSpec(grid, (256, 64))
        ),
    )
    out_ws = spec(out.shape, mc=ttnn.MemoryConfig(ttnn.TensorMemoryLayout.WIDTH_SHARDED, ttnn.BufferType.L1))
    validate_matmul_program_config("linear", dram, a_ws, b_ws, out_ws, None, ds)
    reuse = cfg2d(w=2, sw=4, pm=1, pn=8, cls=ttnn.MatmulMultiCoreReuseProgramConfig)
    ba, bb, bo = spec((4, 64, 64)), spec((4, 64, 256)), spec((4, 64, 256))
    validate_matmul_program_config("matmul", reuse, ba, bb, bo, None, ds)
    with pytest.raises(SpecError, match="per_core_N=8 must equal N=4 tiles"):
        validate_matmul_program_config("matmul", reuse, ba, spec((4, 64, 128)), spec((4, 64, 128)), None, ds)


def test_eager_matmul_with_dram_sharded_config(device):
    grid = ttnn.CoreRangeSet(ttnn.CoreRange(ttnn.CoreCoord(0, 0), ttnn.CoreCoord(3, 0)))
    a_mc = ttnn.MemoryConfig(
        ttnn.TensorMemoryLayout.WIDTH_SHARDED, ttnn.BufferType.L1, ttnn.ShardSpec(grid, (32, 64))
    )
    b_mc = ttnn.MemoryConfig(
        ttnn.TensorMemoryLayout.WIDTH_SHARDED, ttnn.BufferType.DRAM, ttnn.ShardSpec(grid, (256, 64))
    )
    out_mc = ttnn.MemoryConfig(ttnn.TensorMemoryLayout.WIDTH_SHARDED, ttnn.BufferType.L1)
    x, w = torch.randn(32, 256), torch.randn(256, 256)
    cfg = ttnn.MatmulMultiCoreReuseMultiCastDRAMShardedProgramConfig(
        in0_block_w=2, per_core_M=1, per_core_N=2
    )
    y = ttnn.linear(
        dev_tensor(device, x, ttnn.bfloat16, a_mc),
        dev_tensor(device, w, ttnn.bfloat8_b, b_mc),
        program_config=cfg,
        memory_config=out_mc,
    )
    assert y.memory_config().shard_spec.shape == (32, 64) and y.memory_config().shard_spec.num_cores() == 4
    assert pcc(host(y), x @ w) > 0.999


# ------------------------------------------------------------------------------------- config sweep
@pytest.mark.parametrize("kind", ["wormhole_b0:n150", "blackhole:p150:13x10", "blackhole:p150:11x10"])
@pytest.mark.parametrize(
    "m, k, n, dtype",
    [
        (32, 32, 32, ttnn.bfloat16),
        (256, 512, 1024, ttnn.bfloat16),
        (1000, 768, 3072, ttnn.bfloat8_b),
        (4096, 4096, 4096, ttnn.bfloat16),
        (77, 4096, 333, ttnn.float32),
        (8192, 1536, 6144, ttnn.bfloat16),
    ],
)
def test_tt_rule_configs_validate(kind, m, k, n, dtype):
    ds = device_spec(kind)
    a, b = spec((1, m, k), dtype), spec((k, n), dtype)
    cfg = matmul_2d_program_config(a, b, ds)
    gx, gy = ds.grid
    assert cfg.compute_with_storage_grid_size == (gx, gy)
    assert cfg.per_core_M == math.ceil(math.ceil(m / 32) / gy) and cfg.per_core_N == math.ceil(
        math.ceil(n / 32) / gx
    )
    ckc = matmul_default_compute_kernel_config(dtype, dtype, dtype, has_program_config=True)
    sub = pick_subblock(cfg.per_core_M, cfg.per_core_N, ds.dst_tiles(ckc.fp32_dest_acc_en))
    assert (cfg.out_subblock_h, cfg.out_subblock_w) == sub
    validate_matmul_program_config("matmul", cfg, a, b, spec((1, m, n), dtype), ckc, ds)


def test_blackhole_device_grid_is_used():
    bh = ttnn.open_device(device_id=0, arch="blackhole:p150:13x10")
    try:
        a, b = torch.randn(320, 64), torch.randn(64, 416)
        cfg = cfg2d(gx=13, gy=10, w=2, pm=1, pn=1)
        y = ttnn.matmul(dev_tensor(bh, a), dev_tensor(bh, b), program_config=cfg)
        torch.testing.assert_close(host(y), a @ b, rtol=1e-5, atol=1e-5)
        with pytest.raises(SpecError, match=r"\(14, 10\) does not fit the device's compute grid \(13, 10\)"):
            ttnn.matmul(dev_tensor(bh, a), dev_tensor(bh, b), program_config=cfg2d(gx=14, gy=10))
    finally:
        ttnn.close_device(bh)


def test_pick_subblock_priority():
    assert pick_subblock(4, 4, 8) == (4, 2)
    assert pick_subblock(4, 4, 4) == (2, 2)
    assert pick_subblock(3, 5, 8) == (1, 5)
    assert pick_subblock(1, 8, 8) == (1, 8)
    assert pick_subblock(7, 7, 4) == (1, 1)


# ---------------------------------------------------------------------------------------------- addmm
def test_addmm_float32_and_bf16(device):
    c, m1, m2 = torch.randn(64, 96), torch.randn(64, 32), torch.randn(32, 96)
    y = ttnn.addmm(dev_tensor(device, c), dev_tensor(device, m1), dev_tensor(device, m2), alpha=0.5, beta=2.0)
    torch.testing.assert_close(host(y), 2.0 * c + 0.5 * (m1 @ m2), rtol=1e-5, atol=1e-5)
    assert y.shape == [64, 96] and y.dtype == ttnn.float32
    cb, m1b, m2b = (t.bfloat16().float() for t in (c, m1, m2))
    y = host(
        ttnn.addmm(
            *(dev_tensor(device, t, ttnn.bfloat16) for t in (cb, m1b, m2b)), compute_kernel_config=HIFI4
        )
    )
    mm_bf16 = (m1b.double() @ m2b.double()).float().to(torch.bfloat16).float()  # ttnn: matmul, then add_
    ref = (mm_bf16 + cb).to(torch.bfloat16).float()
    assert torch.all((y - ref).abs() <= bf16_ulp(ref))


def test_addmm_bad_inputs(device):
    c, m1, m2 = (dev_tensor(device, torch.randn(s)) for s in ((64, 64), (64, 32), (32, 96)))
    with pytest.raises(SpecError, match="ttnn.addmm: argument 'alpha' cannot be 0"):
        ttnn.addmm(c, m1, m2, alpha=0.0)
    with pytest.raises(
        SpecError, match=r"ttnn.addmm: argument 'input_tensor' must have the shape of mat1 @ mat2 \[64, 96\]"
    ):
        ttnn.addmm(c, m1, m2)
    with pytest.raises(SpecError, match="ttnn.addmm: the width of argument 'mat1_tensor'"):
        ttnn.addmm(c, m1, m1)


# ------------------------------------------------------------------------------------- minimal_matmul
def minimal_cfg(subblock_w: int) -> ttnn.MinimalMatmulConfig:
    """A minimal_matmul config: 4x2x4 blocks of tiles, subblocks 2 x `subblock_w`, the 8x8 grid."""
    return ttnn.MinimalMatmulConfig(
        M_block_size=4,
        K_block_size=2,
        N_block_size=4,
        subblock_h=2,
        subblock_w=subblock_w,
        compute_with_storage_grid_size=(8, 8),
    )


def test_minimal_matmul_bias_activation(device):
    x, w, b = torch.randn(1, 2, 64, 96), torch.randn(96, 128), torch.randn(128)
    mmx = ttnn.experimental.minimal_matmul
    act = ttnn.UnaryWithParam(ttnn.UnaryOpType.SILU)
    with ttfuse.sim.count_launches(device) as launches:
        y = mmx(
            dev_tensor(device, x),
            dev_tensor(device, w),
            bias_tensor=dev_tensor(device, b),
            fused_activation=act,
            compute_kernel_config=HIFI4,  # the default is HiFi2, emulated (a's mantissa truncated)
        )
    torch.testing.assert_close(host(y), torch.nn.functional.silu(x @ w + b), rtol=1e-5, atol=1e-5)
    assert launches.total == 1
    xl1 = dev_tensor(device, x, ttnn.bfloat16, ttnn.L1_MEMORY_CONFIG)
    y = mmx(xl1, dev_tensor(device, w, ttnn.bfloat16))
    assert y.memory_config() == ttnn.L1_MEMORY_CONFIG and y.dtype == ttnn.bfloat16  # input's defaults
    cfg = minimal_cfg(subblock_w=2)
    mmx(xl1, dev_tensor(device, w, ttnn.bfloat16), config=cfg)


def test_minimal_matmul_swiglu_and_concat(device):
    x, w = torch.randn(64, 96), torch.randn(96, 128)
    y = host(
        ttnn.experimental.minimal_matmul(
            dev_tensor(device, x), dev_tensor(device, w), fuse_swiglu=True, compute_kernel_config=HIFI4
        )
    )
    full = (x @ w).reshape(64, 2, 2, 32)
    torch.testing.assert_close(y, (torch.nn.functional.silu(full[:, :, 0]) * full[:, :, 1]).reshape(64, 64))
    p, s = torch.randn(64, 40), torch.randn(64, 20)  # padded K: 64 + 32
    wk = torch.randn(96, 32)
    y = host(
        ttnn.experimental.minimal_matmul(
            [dev_tensor(device, p), dev_tensor(device, s)],
            dev_tensor(device, wk),
            compute_kernel_config=HIFI4,
        )
    )
    torch.testing.assert_close(y, p @ wk[:40] + s @ wk[64:84], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "a_dtype, w_dtype",
    [
        (ttnn.bfloat16, ttnn.bfloat8_b),  # tt-boltz's triangle attention: bf8_b fused QKVG weight, bf16 input
        (ttnn.bfloat16, ttnn.bfloat4_b),
        (ttnn.float32, ttnn.bfloat16),
        (ttnn.bfloat8_b, ttnn.bfloat16),
    ],
)
def test_minimal_matmul_mixed_operand_dtypes(device, a_dtype, w_dtype):
    """Each operand only has to be one of BF16/BFP8_B/BFP4_B/FP32 (tt-metal minimal_matmul_device_operation.cpp);
    the product is of the operands as stored (each rounded to its own format), output dtype as asked."""
    g = torch.Generator().manual_seed(3)
    x, w = torch.randn(64, 96, generator=g), torch.randn(96, 64, generator=g) / 10
    xt, wt = dev_tensor(device, x, a_dtype), dev_tensor(device, w, w_dtype)
    y = ttnn.experimental.minimal_matmul(xt, wt, dtype=ttnn.float32, compute_kernel_config=HIFI4)
    assert y.dtype == ttnn.float32 and tuple(y.shape) == (64, 64)
    want = host(xt) @ host(wt)  # the stored (rounded) operands
    torch.testing.assert_close(host(y), want, rtol=1e-4, atol=1e-4)
    assert ttnn.experimental.minimal_matmul(xt, wt).dtype == a_dtype  # default output: the input's dtype


@pytest.mark.parametrize(
    "a_dtype, b_dtype",
    [(ttnn.bfloat16, ttnn.bfloat8_b), (ttnn.bfloat16, ttnn.bfloat4_b), (ttnn.float32, ttnn.bfloat8_b)],
)
def test_matmul_and_linear_mixed_operand_dtypes(device, a_dtype, b_dtype):
    """matmul/linear/addmm: each operand's dtype is checked on its own (tt-metal matmul_device_operation.cpp,
    matmul.cpp AddmmOperation::validate); the product is of the stored operands."""
    g = torch.Generator().manual_seed(5)
    at = dev_tensor(device, torch.randn(64, 96, generator=g), a_dtype)
    bt = dev_tensor(device, torch.randn(96, 64, generator=g) / 10, b_dtype)
    want = host(at) @ host(bt)
    for y in (
        ttnn.matmul(at, bt, dtype=ttnn.float32, compute_kernel_config=HIFI4),
        ttnn.linear(at, bt, dtype=ttnn.float32, compute_kernel_config=HIFI4),
    ):
        assert y.dtype == ttnn.float32
        torch.testing.assert_close(host(y), want, rtol=1e-4, atol=1e-4)
    with pytest.raises(
        SpecError, match="ttnn.matmul: argument 'input_tensor_b' has dtype uint32; supported: "
    ):
        ttnn.matmul(at, dev_tensor(device, torch.randint(0, 4, (96, 64)), ttnn.uint32))
    if b_dtype is not ttnn.bfloat4_b:  # addmm takes bf16/fp32/bf8_b operands, each on its own
        c = dev_tensor(device, torch.randn(64, 64, generator=g), ttnn.bfloat8_b)
        y = ttnn.addmm(c, at, bt, dtype=ttnn.float32, compute_kernel_config=HIFI4)
        torch.testing.assert_close(host(y), host(c) + want, rtol=1e-4, atol=1e-4)
    else:
        with pytest.raises(SpecError, match="addmm: argument 'mat2_tensor' has dtype bfloat4_b; supported: "):
            ttnn.addmm(at, at, bt)


def test_minimal_matmul_bad_inputs(device):
    mmx = ttnn.experimental.minimal_matmul
    x = dev_tensor(device, torch.randn(64, 96))
    with pytest.raises(
        SpecError,
        match="ttnn.experimental.minimal_matmul: argument 'weight_tensor' must be .* all leading dims 1",
    ):
        mmx(x, dev_tensor(device, torch.randn(2, 96, 32)))
    with pytest.raises(SpecError, match="argument 'weight_tensor' has dtype uint32; supported: "):
        mmx(x, dev_tensor(device, torch.randint(0, 4, (96, 32)), ttnn.uint32))
    with pytest.raises(SpecError, match="argument 'bias_tensor' has dtype int32; supported: "):
        mmx(
            x,
            dev_tensor(device, torch.randn(96, 32)),
            bias_tensor=dev_tensor(device, torch.ones(32), ttnn.int32),
        )
    with pytest.raises(
        SpecError, match="arguments 'fuse_swiglu' and 'fused_activation' are mutually exclusive"
    ):
        mmx(x, dev_tensor(device, torch.randn(96, 64)), fuse_swiglu=True, fused_activation="relu")
    cfg = minimal_cfg(subblock_w=4)
    with pytest.raises(
        SpecError, match=r"subblock_h\*subblock_w = 2\*4 exceeds the DST register budget of 4 tiles"
    ):
        mmx(x, dev_tensor(device, torch.randn(96, 32)), config=cfg)  # default config accumulates in fp32
    with pytest.raises(SpecError, match="unexpected keyword|too many positional"):
        mmx(
            x, dev_tensor(device, torch.randn(96, 32)), dev_tensor(device, torch.randn(32))
        )  # bias is keyword-only


# ------------------------------------------------------------------------------------- the sim's float32 GEMM
@pytest.mark.parametrize("k", [64, 384, 1536])
def test_mm_f32_rows_do_not_depend_on_the_rows_computed_with_them(k):
    """Row-blocked JIT regions (ttfuse/sim/blocked.py) are bit-identical to the op-by-op run only if a row's
    product is the same bits whatever block of (at least MIN_ROWS) rows it is computed in; checked for the
    backend in use (measured: oneDNN differs only at M=1, MKL at M<=2)."""
    g = torch.Generator().manual_seed(k)
    a = round_to_dtype(torch.randn(1000, k, generator=g), "bfloat16")
    b = round_to_dtype(torch.randn(k, 320, generator=g) / math.sqrt(k), "bfloat16")
    whole = mm.mm_f32(a, b)
    for n in (2, 3, 7, 15):  # balanced blocks of >= 64 rows, as blocked.py plans them (M < 3 may differ)
        blocks = torch.cat([mm.mm_f32(p, b) for p in torch.tensor_split(a, n)])
        assert torch.equal(blocks, whole), n
    assert torch.allclose(whole, (a.double() @ b.double()).float(), rtol=1e-5, atol=1e-5)
    batched = mm.mm_f32(a.reshape(10, 100, k), b)  # leading dims fold into rows
    assert batched.shape == (10, 100, 320) and torch.equal(batched.reshape(1000, 320), whole)


def test_mm_f32_falls_back_for_strided_and_batched_operands():
    a = torch.randn(4, 64, 32)
    b = torch.randn(4, 32, 48)
    assert torch.equal(mm.mm_f32(a, b), torch.matmul(a, b))  # batched right operand: torch.matmul
    at = torch.randn(32, 64).t()  # a transposed view
    w = torch.randn(32, 16)
    assert torch.allclose(mm.mm_f32(at, w), at @ w, rtol=1e-6, atol=1e-6)


def test_sim_matmul_backend_setting(monkeypatch):
    monkeypatch.setenv("TTFUSE_SIM_MATMUL", "blas")
    assert mm._onednn_linear() is None
    monkeypatch.setenv("TTFUSE_SIM_MATMUL", "fastest")
    with pytest.raises(ValueError, match="TTFUSE_SIM_MATMUL"):
        mm._onednn_linear()
    monkeypatch.setenv("TTFUSE_SIM_MATMUL", "onednn")
    fn = mm._onednn_linear()
    if fn is not None:  # a torch build with oneDNN: x [M, K], w [N, K] -> x @ w^T
        x, w = torch.randn(5, 7), torch.randn(3, 7)
        assert torch.allclose(fn(x, w, None, "none", [], ""), x @ w.t(), rtol=1e-6, atol=1e-6)
