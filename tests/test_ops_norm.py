"""ttnn.layer_norm / rms_norm / softmax family on the simulator, and the norm program-config rules."""

import math

import pytest
import torch
import torch.nn.functional as F

import ttfuse.sim
from tests.conftest import pcc, sharded
from ttfuse import ttnn
from ttfuse.device import device_spec
from ttfuse.errors import SpecError
from ttfuse.numerics import round_to_dtype
from ttfuse.ops.norm import validate_norm_program_config
from ttfuse.types import TensorSpec


def dev(device, t, dtype=ttnn.float32, layout=ttnn.TILE_LAYOUT, mc=None):
    return ttnn.from_torch(t, dtype=dtype, layout=layout, device=device, memory_config=mc)


def host(t):
    return ttnn.to_torch(t).float()


def bf16_ulp(x):
    return torch.pow(2.0, torch.floor(torch.log2(x.abs().clamp_min(1e-30))) - 7)


def rms_ref(x, eps, w=None, b=None):
    y = x / torch.sqrt(x.double().square().mean(-1, keepdim=True) + eps).to(x.dtype)
    return y * (1 if w is None else w) + (0 if b is None else b)


# --------------------------------------------------------------------------------------------- norms
@pytest.mark.parametrize(
    "w_shape, layout",
    [
        ((96,), ttnn.TILE_LAYOUT),
        ((1, 96), ttnn.TILE_LAYOUT),
        ((1, 1, 1, 96), ttnn.TILE_LAYOUT),
        ((3, 32), ttnn.ROW_MAJOR_LAYOUT),
    ],
)
def test_layer_norm_float32(device, w_shape, layout):
    x, r = torch.randn(2, 3, 50, 96), torch.randn(2, 3, 50, 96)
    g, b = torch.randn(96), torch.randn(96)
    with ttfuse.sim.count_launches(device) as launches:
        y = ttnn.layer_norm(
            dev(device, x),
            epsilon=1e-5,
            weight=dev(device, g.reshape(w_shape), layout=layout),
            bias=dev(device, b.reshape(w_shape), layout=layout),
            residual_input_tensor=dev(device, r),
        )
    torch.testing.assert_close(host(y), F.layer_norm(x + r, (96,), g, b, 1e-5), rtol=1e-5, atol=1e-5)
    assert launches.by_op == {"layer_norm": 1}
    assert y.shape == [2, 3, 50, 96] and y.padded_shape == [2, 3, 64, 96]
    assert (
        y.dtype == ttnn.float32
        and y.layout == ttnn.TILE_LAYOUT
        and y.memory_config() == ttnn.DRAM_MEMORY_CONFIG
    )


def test_rms_norm_float32_unaligned_width(device):
    x, g = torch.randn(64, 80), torch.randn(80)
    g_rm = F.pad(g, (0, 16)).reshape(3, 32)  # sticks of 32 over the padded width 96
    y = ttnn.rms_norm(
        dev(device, x, mc=ttnn.L1_MEMORY_CONFIG),
        epsilon=1e-6,
        weight=dev(device, g_rm, layout=ttnn.ROW_MAJOR_LAYOUT),
    )
    torch.testing.assert_close(host(y), rms_ref(x, 1e-6, g), rtol=1e-5, atol=1e-5)
    assert y.memory_config() == ttnn.L1_MEMORY_CONFIG  # defaults to the input's memory config
    y = ttnn.rms_norm(dev(device, x), epsilon=1e-6)
    torch.testing.assert_close(host(y), rms_ref(x, 1e-6), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("op", ["layer_norm", "rms_norm"])
def test_norm_bfloat16_within_one_ulp(device, op):
    x = torch.randn(4, 64, 256).bfloat16().float()
    g = torch.randn(256).bfloat16().float()
    y = host(
        getattr(ttnn, op)(dev(device, x, ttnn.bfloat16), epsilon=1e-5, weight=dev(device, g, ttnn.bfloat16))
    )
    xd = x.double()
    golden = (
        F.layer_norm(xd, (256,), g.double(), None, 1e-5)
        if op == "layer_norm"
        else rms_ref(xd, 1e-5, g.double())
    )
    ref = golden.float().to(torch.bfloat16).float()
    assert torch.all((y - ref).abs() <= bf16_ulp(ref))


def test_layer_norm_bfloat8_b(device):
    x = torch.randn(2, 64, 128)
    y = ttnn.layer_norm(dev(device, x, ttnn.bfloat8_b), epsilon=1e-5)
    assert y.dtype == ttnn.bfloat8_b
    xq = round_to_dtype(x, "bfloat8_b")
    torch.testing.assert_close(host(y), round_to_dtype(F.layer_norm(xq, (128,), eps=1e-5), "bfloat8_b"))
    assert pcc(host(y), F.layer_norm(x, (128,), eps=1e-5)) > 0.999


def test_norm_bad_inputs(device):
    x = dev(device, torch.randn(64, 96))
    with pytest.raises(SpecError, match="ttnn.layer_norm: argument 'input_tensor' must be in TILE layout"):
        ttnn.layer_norm(dev(device, torch.randn(64, 96), layout=ttnn.ROW_MAJOR_LAYOUT))
    with pytest.raises(
        SpecError,
        match=r"ttnn.rms_norm: argument 'weight' in TILE layout must have last dim 96 .* "
        r"got \[33, 96\]",
    ):  # 33 rows pad to two tile rows; tt-metal wants one (padded height 32), [2, 96] and [32, 96] pass
        ttnn.rms_norm(x, weight=dev(device, torch.randn(33, 96)))
    with pytest.raises(
        SpecError,
        match=r"ttnn.layer_norm: argument 'bias' in ROW_MAJOR layout must be sticks of 32, "
        r"shape \[3, 32\]",
    ):
        ttnn.layer_norm(x, bias=dev(device, torch.randn(96), layout=ttnn.ROW_MAJOR_LAYOUT))
    with pytest.raises(
        SpecError, match=r"ttnn.layer_norm: argument 'residual_input_tensor' has shape \[32, 96\]"
    ):
        ttnn.layer_norm(x, residual_input_tensor=dev(device, torch.randn(32, 96)))
    with pytest.raises(SpecError, match="ttnn.layer_norm: argument 'input_tensor' has dtype int32"):
        ttnn.layer_norm(
            ttnn.from_torch(torch.ones(32, 32, dtype=torch.int32), layout=ttnn.TILE_LAYOUT, device=device)
        )
    with pytest.raises(SpecError, match="ttnn.layer_norm: argument 'epsilon' must be a non-negative float"):
        ttnn.layer_norm(x, epsilon=-1.0)
    with pytest.raises(
        SpecError, match="ttnn.layer_norm: arguments 'weight' and 'bias' must have the same layout"
    ):
        ttnn.layer_norm(
            x,
            weight=dev(device, torch.randn(96)),
            bias=dev(device, torch.randn(3, 32), layout=ttnn.ROW_MAJOR_LAYOUT),
        )
    hs = dev(
        device, torch.randn(64, 96), mc=sharded(ttnn.TensorMemoryLayout.HEIGHT_SHARDED, (2, 1), (32, 96))
    )
    with pytest.raises(SpecError, match="ttnn.layer_norm: argument 'input_tensor' is height sharded"):
        ttnn.layer_norm(hs)


def test_layer_norm_sharded_program_config(device):
    mc = sharded(ttnn.TensorMemoryLayout.BLOCK_SHARDED, (4, 2), (32, 64))
    x = torch.randn(1, 1, 64, 256)
    tx = dev(device, x, ttnn.bfloat16, mc=mc)
    cfg = ttnn.LayerNormShardedMultiCoreProgramConfig(
        compute_with_storage_grid_size=(4, 2), subblock_w=2, block_h=1, block_w=2
    )
    y = ttnn.layer_norm(tx, epsilon=1e-5, program_config=cfg)
    assert y.memory_config() == mc
    assert pcc(host(y), F.layer_norm(x, (256,), eps=1e-5)) > 0.9999
    bad = ttnn.LayerNormShardedMultiCoreProgramConfig(
        compute_with_storage_grid_size=(4, 2), subblock_w=2, block_h=1, block_w=4
    )
    with pytest.raises(SpecError, match=r"block_w=4 must equal K tiles \(8\) / 4 core columns = 2"):
        ttnn.layer_norm(tx, program_config=bad)
    with pytest.raises(SpecError, match="block_w=2 is not divisible by subblock_w=4"):
        ttnn.layer_norm(
            tx,
            program_config=ttnn.LayerNormShardedMultiCoreProgramConfig(
                compute_with_storage_grid_size=(4, 2), subblock_w=4, block_h=1, block_w=2
            ),
        )
    with pytest.raises(
        SpecError, match="ttnn.layer_norm: argument 'program_config' .* needs a sharded 'input_tensor'"
    ):
        ttnn.layer_norm(dev(device, x), program_config=cfg)
    with pytest.raises(SpecError, match="must be ttnn.LayerNormDefaultProgramConfig or"):
        ttnn.layer_norm(tx, program_config=ttnn.SoftmaxDefaultProgramConfig())


@pytest.mark.parametrize("fp32_acc, budget", [(True, 4), (False, 8)])
def test_norm_config_subblock_over_dst_budget(fp32_acc, budget):
    a = TensorSpec(
        (1, 1, 32, 512),
        ttnn.bfloat16,
        ttnn.TILE_LAYOUT,
        sharded(ttnn.TensorMemoryLayout.WIDTH_SHARDED, (1, 1), (32, 512)),
    )
    cfg = ttnn.LayerNormShardedMultiCoreProgramConfig(
        compute_with_storage_grid_size=(1, 1), subblock_w=16, block_h=1, block_w=16
    )
    ckc = ttnn.WormholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.HiFi4, fp32_dest_acc_en=fp32_acc)
    with pytest.raises(
        SpecError, match=rf"subblock_w=16 tiles exceeds the DST register budget of {budget} tiles"
    ):
        validate_norm_program_config("layer_norm", cfg, a, a, ckc, device_spec("wormhole_b0"))
    ok = ttnn.LayerNormShardedMultiCoreProgramConfig(
        compute_with_storage_grid_size=(1, 1), subblock_w=budget, block_h=1, block_w=16
    )
    validate_norm_program_config("layer_norm", ok, a, a, ckc, device_spec("wormhole_b0"))


# ------------------------------------------------------------------------------------------- softmax
@pytest.mark.parametrize("dim", [-1, 0, 1, 2, 3])
def test_softmax_float32(device, dim):
    x = torch.randn(2, 3, 40, 72)
    y = ttnn.softmax(dev(device, x), dim)
    torch.testing.assert_close(host(y), torch.softmax(x, dim), rtol=1e-6, atol=1e-7)
    assert (
        y.shape == [2, 3, 40, 72] and y.dtype == ttnn.float32 and y.memory_config() == ttnn.DRAM_MEMORY_CONFIG
    )


def test_softmax_unstable_and_bf16(device):
    x = torch.randn(64, 96).bfloat16().float()
    y = host(ttnn.softmax(dev(device, x, ttnn.bfloat16), numeric_stable=False))
    golden = torch.exp(x.double()) / torch.exp(x.double()).sum(-1, keepdim=True)
    ref = golden.float().to(torch.bfloat16).float()
    assert torch.all((y - ref).abs() <= bf16_ulp(ref))
    y = host(ttnn.softmax(dev(device, torch.full((32, 32), 100.0)), numeric_stable=False))
    assert torch.isnan(y).all()  # exp overflows without the max subtraction, as on device
    y8 = ttnn.softmax(dev(device, x, ttnn.bfloat8_b))
    assert y8.dtype == ttnn.bfloat8_b and pcc(host(y8), torch.softmax(x, -1)) > 0.999


def test_softmax_launches_and_bad_inputs(device):
    x = dev(device, torch.randn(64, 96))
    with ttfuse.sim.count_launches(device) as launches:
        ttnn.softmax(x)
    assert launches.by_op == {"softmax": 1}
    with pytest.raises(SpecError, match="ttnn.softmax: argument 'dim'=2 is out of range for a rank-2 tensor"):
        ttnn.softmax(x, 2)
    ws = dev(device, torch.randn(32, 64), mc=sharded(ttnn.TensorMemoryLayout.WIDTH_SHARDED, (2, 1), (32, 32)))
    with pytest.raises(
        SpecError, match="ttnn.softmax: argument 'input_tensor' is L1/width.*interleaved or height"
    ):
        ttnn.softmax(ws)
    with pytest.raises(SpecError, match="ttnn.softmax: argument 'input_tensor' must be in TILE layout"):
        ttnn.softmax(dev(device, torch.randn(8, 8), layout=ttnn.ROW_MAJOR_LAYOUT))


def test_softmax_in_place(device):
    x = torch.randn(1, 2, 64, 96)
    t = dev(device, x)
    with ttfuse.sim.count_launches(device) as launches:
        out = ttnn.softmax_in_place(t)
    assert out is t and launches.total == 1
    torch.testing.assert_close(host(t), torch.softmax(x, -1), rtol=1e-6, atol=1e-7)
    with pytest.raises(
        SpecError, match="ttnn.softmax_in_place: argument 'dim'=1: softmax_in_place supports only"
    ):
        ttnn.softmax_in_place(t, 1)
    with pytest.raises(SpecError, match="ttnn.softmax_in_place: argument 'input_tensor' has rank 5"):
        ttnn.softmax_in_place(dev(device, torch.randn(1, 1, 1, 32, 32)))


def test_softmax_sharded_program_config(device):
    mc = sharded(ttnn.TensorMemoryLayout.HEIGHT_SHARDED, (8, 1), (32, 64))
    x = torch.randn(1, 1, 256, 64)
    t = dev(device, x, ttnn.bfloat16, mc=mc)
    cfg = ttnn.SoftmaxShardedMultiCoreProgramConfig(
        compute_with_storage_grid_size=(8, 1), subblock_w=2, block_h=1, block_w=2
    )
    ttnn.softmax_in_place(t, program_config=cfg)
    assert t.memory_config() == mc and pcc(host(t), torch.softmax(x, -1)) > 0.9999
    bad = ttnn.SoftmaxShardedMultiCoreProgramConfig(
        compute_with_storage_grid_size=(4, 1), subblock_w=2, block_h=1, block_w=2
    )
    with pytest.raises(SpecError, match="make 8 shards, but the grid \\(4, 1\\) has 4 cores"):
        ttnn.softmax_in_place(t, program_config=bad)
    with pytest.raises(SpecError, match=r"compute_with_storage_grid_size=\(9, 1\) does not fit"):
        ttnn.softmax_in_place(
            t,
            program_config=ttnn.SoftmaxShardedMultiCoreProgramConfig(
                compute_with_storage_grid_size=(9, 1), subblock_w=2, block_h=1, block_w=2
            ),
        )
    a = TensorSpec(x.shape, ttnn.bfloat16, ttnn.TILE_LAYOUT, mc)
    with pytest.raises(SpecError, match="sharded softmax runs in place only"):
        validate_norm_program_config("scale_mask_softmax", cfg, a, a, None, None)


@pytest.mark.parametrize("mask_kind", ["row", "row_rm", "causal"])
def test_scale_mask_softmax_in_place(device, mask_kind):
    b, h, s = 2, 3, 64
    x = torch.randn(b, h, s, s)
    if mask_kind == "causal":
        m = torch.triu(torch.full((s, s), -1e4), 1).expand(b, 1, s, s).contiguous()
        tm = dev(device, m, ttnn.bfloat16)
    elif mask_kind == "row":
        m = torch.where(torch.rand(b, 1, 1, s) > 0.3, 0.0, -1e4)
        tm = dev(device, m, ttnn.bfloat16)
    else:
        m = torch.where(torch.rand(b, 1, 1, s) > 0.3, 0.0, -1e4)
        tm = dev(device, m.reshape(b, 1, s // 32, 32), ttnn.bfloat16, layout=ttnn.ROW_MAJOR_LAYOUT)
    t = dev(device, x)
    out = ttnn.scale_mask_softmax_in_place(t, 0.125, tm, is_causal_mask=mask_kind == "causal")
    assert out is t
    mb = m.bfloat16().float()
    golden = torch.exp(x * 0.125 + mb) / torch.exp(x * 0.125 + mb).sum(
        -1, keepdim=True
    )  # numeric_stable=False
    torch.testing.assert_close(host(t), golden, rtol=1e-5, atol=1e-6)


def test_scale_mask_softmax_not_in_place(device):
    x, m = torch.randn(2, 4, 32, 64), torch.randn(2, 1, 1, 64).bfloat16().float()
    y = ttnn.scale_mask_softmax(dev(device, x), 0.5, dev(device, m, ttnn.bfloat16))
    torch.testing.assert_close(host(y), torch.softmax(x * 0.5 + m, -1), rtol=1e-6, atol=1e-7)
    y = ttnn.scale_mask_softmax(dev(device, x))
    torch.testing.assert_close(host(y), torch.softmax(x, -1), rtol=1e-6, atol=1e-7)


def test_scale_mask_softmax_bad_masks(device):
    x = dev(device, torch.randn(2, 2, 64, 64))
    op = ttnn.scale_mask_softmax_in_place
    with pytest.raises(
        SpecError, match="ttnn.scale_mask_softmax_in_place: argument 'scale' must not be set when 'mask'"
    ):
        op(x, 0.5)
    with pytest.raises(SpecError, match="argument 'mask' has 64 rows, expected 1: without is_causal_mask"):
        op(x, 0.5, dev(device, torch.zeros(2, 1, 64, 64), ttnn.bfloat16))
    with pytest.raises(
        SpecError, match=r"argument 'mask' \(as 4-D \[1, 1, 1, 64\]\) must be \[B, 1, rows, W\] with B=2"
    ):
        op(x, 0.5, dev(device, torch.zeros(1, 64), ttnn.bfloat16))
    with pytest.raises(
        SpecError, match=r"argument 'mask' in ROW_MAJOR layout must be \[batch, 1, W/32, 32\]"
    ):
        op(x, 0.5, dev(device, torch.zeros(2, 1, 1, 64), ttnn.bfloat16, layout=ttnn.ROW_MAJOR_LAYOUT))
    with pytest.raises(
        SpecError, match="ttnn.scale_mask_softmax: argument 'mask' height must be 1 or one tile"
    ):
        ttnn.scale_mask_softmax(
            x, 0.5, dev(device, torch.zeros(2, 1, 64, 64), ttnn.bfloat16), is_causal_mask=True
        )


def test_attention_softmax(device):
    x = torch.randn(2, 4, 32, 64)
    m = torch.where(torch.rand(2, 1, 1, 64) > 0.5, 0.0, -1e4)
    with ttfuse.sim.count_launches(device) as launches:
        y = ttnn.transformer.attention_softmax(dev(device, x), head_size=16, attention_mask=dev(device, m))
    assert launches.total == 1
    golden = torch.exp(x / 4 + m) / torch.exp(x / 4 + m).sum(-1, keepdim=True)
    torch.testing.assert_close(host(y), golden, rtol=1e-5, atol=1e-6)
    y = ttnn.transformer.attention_softmax(dev(device, x, ttnn.bfloat16), head_size=16)
    xs = (x.bfloat16().float() / 4).bfloat16().float()  # ttnn.multiply writes a bf16 tensor first
    ref = (
        (torch.exp(xs.double()) / torch.exp(xs.double()).sum(-1, keepdim=True))
        .float()
        .to(torch.bfloat16)
        .float()
    )
    assert torch.all((host(y) - ref).abs() <= bf16_ulp(ref))
    t = dev(device, x)
    assert ttnn.transformer.attention_softmax_(t, head_size=16, attention_mask=dev(device, m)) is t
    torch.testing.assert_close(host(t), golden, rtol=1e-5, atol=1e-6)
    with pytest.raises(
        SpecError, match="ttnn.transformer.attention_softmax_: argument 'attention_mask' is required"
    ):
        ttnn.transformer.attention_softmax_(t, head_size=16)
    with pytest.raises(
        SpecError, match="ttnn.transformer.attention_softmax: argument 'head_size' must be a positive"
    ):
        ttnn.transformer.attention_softmax(t, head_size=0)
    c = ttnn.transformer.attention_softmax.cost_rule(
        ttfuse.opdef.CostCtx(
            ttnn.transformer.attention_softmax,
            {"tensor": t.spec},
            [t.spec],
            {"tensor": t.spec, "attention_mask": None},
        )
    )
    assert c.launches == 2 and math.isclose(c.flops, 7.0 * t.spec.numel)
