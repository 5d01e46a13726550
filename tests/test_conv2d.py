"""ttnn.conv2d / prepare_conv_weights / prepare_conv_bias on the simulator, against torch.nn.functional.conv2d."""

import re

import pytest
import torch
import torch.nn.functional as F

import ttfuse
from tests.conftest import pcc
from ttfuse import ttnn
from ttfuse.device import device_spec
from ttfuse.errors import SpecError
from ttfuse.testing import max_abs_error


def nhwc_flat(x: torch.Tensor) -> torch.Tensor:
    """torch NCHW -> TT's [1, 1, N*H*W, C]."""
    n, c, h, w = x.shape
    return x.permute(0, 2, 3, 1).reshape(1, 1, n * h * w, c)


def nchw(t, n: int, oh: int, ow: int) -> torch.Tensor:
    y = ttnn.to_torch(t).float()
    return y.reshape(n, oh, ow, -1).permute(0, 3, 1, 2)


def torch_conv(x, w, b, stride, padding, dilation, groups):
    if len(padding) == 2:
        padding = (padding[0], padding[0], padding[1], padding[1])
    top, bottom, left, right = padding
    xp = F.pad(x.double(), (left, right, top, bottom))
    return F.conv2d(xp, w.double(), None if b is None else b.double(), stride, 0, dilation, groups).float()


def run_conv(device, x, w, b=None, *, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1,
             in_dtype=ttnn.bfloat16, w_dtype=None, layout=ttnn.ROW_MAJOR_LAYOUT, **kw):  # fmt: skip
    n, c, h, wd = x.shape
    tx = ttnn.from_torch(nhwc_flat(x), dtype=in_dtype, layout=layout, device=device)
    tw = ttnn.from_torch(w, dtype=ttnn.float32)
    tb = None if b is None else ttnn.from_torch(b.reshape(1, 1, 1, -1), dtype=ttnn.float32)
    cfg = ttnn.Conv2dConfig(weights_dtype=w_dtype) if w_dtype is not None else kw.pop("conv_config", None)
    out, (oh, ow) = ttnn.conv2d(
        input_tensor=tx, weight_tensor=tw, bias_tensor=tb, device=device, in_channels=c, out_channels=w.shape[0],
        batch_size=n, input_height=h, input_width=wd, kernel_size=tuple(w.shape[2:]), stride=stride,
        padding=padding, dilation=dilation, groups=groups, conv_config=cfg, return_output_dim=True, **kw,
    )  # fmt: skip
    assert tuple(out.shape) == (1, 1, n * oh * ow, w.shape[0])
    return nchw(out, n, oh, ow)


# (N, C, H, W, OC, kernel, stride, padding, dilation, groups): non-tile channel counts (3, 4, 8), SD's 320,
# strided, asymmetric 4-sided padding, dilation, grouped and depthwise
CASES = [
    (1, 3, 16, 16, 32, (3, 3), (1, 1), (1, 1), (1, 1), 1),
    (2, 4, 9, 11, 8, (3, 3), (2, 1), (1, 2), (1, 1), 1),
    (1, 16, 12, 12, 24, (3, 3), (1, 1), (2, 2), (2, 2), 4),
    (1, 8, 7, 7, 8, (3, 3), (1, 1), (1, 1), (1, 1), 8),
    (1, 320, 8, 8, 320, (3, 3), (1, 1), (1, 1), (1, 1), 1),
    (2, 12, 6, 10, 40, (1, 1), (1, 1), (0, 0), (1, 1), 1),
    (1, 5, 10, 9, 7, (2, 3), (2, 2), (0, 1, 2, 0), (1, 1), 1),
]


@pytest.mark.parametrize(
    "case", CASES, ids=lambda c: "x".join(map(str, c[:5])) + f"_k{c[5][0]}s{c[6][0]}g{c[9]}"
)
def test_conv2d_float32_matches_torch(device, case):
    """float32 activations and weights: the layout, padding, stride, dilation and group logic is exact."""
    n, c, h, w, oc, k, s, p, d, g = case
    x, wt, b = torch.randn(n, c, h, w), torch.randn(oc, c // g, *k), torch.randn(oc)
    got = run_conv(device, x, wt, b, stride=s, padding=p, dilation=d, groups=g, in_dtype=ttnn.float32)
    ref = torch_conv(x, wt, b, s, p, d, g)
    assert got.shape == ref.shape
    assert max_abs_error(got, ref) < 1e-4 * max(1.0, ref.abs().max().item())


@pytest.mark.parametrize(
    "case", CASES, ids=lambda c: "x".join(map(str, c[:5])) + f"_k{c[5][0]}s{c[6][0]}g{c[9]}"
)
@pytest.mark.parametrize("w_dtype", [ttnn.bfloat16, ttnn.bfloat8_b], ids=["bf16w", "bf8w"])
def test_conv2d_bf16_activations_vs_torch(device, case, w_dtype):
    n, c, h, w, oc, k, s, p, d, g = case
    x, wt, b = torch.randn(n, c, h, w), torch.randn(oc, c // g, *k), torch.randn(oc)
    got = run_conv(device, x, wt, b, stride=s, padding=p, dilation=d, groups=g, w_dtype=w_dtype)
    ref = torch_conv(x, wt, b, s, p, d, g)
    scale = ref.abs().max().item()
    if w_dtype is ttnn.bfloat16:
        assert pcc(ref, got) >= 0.9995
        assert max_abs_error(got, ref) < 0.03 * scale
    else:
        assert pcc(ref, got) >= 0.998
        assert max_abs_error(got, ref) < 0.08 * scale


def test_conv2d_bf8_weights_are_coarser_than_bf16(device):
    """bfloat8_b weights really are rounded to the block format: a larger error than bfloat16 weights."""
    x, wt = torch.randn(1, 32, 8, 8), torch.randn(64, 32, 3, 3)
    ref = torch_conv(x, wt, None, (1, 1), (1, 1), (1, 1), 1)
    e16 = max_abs_error(
        run_conv(device, x, wt, padding=(1, 1), w_dtype=ttnn.bfloat16, in_dtype=ttnn.float32), ref
    )
    e8 = max_abs_error(
        run_conv(device, x, wt, padding=(1, 1), w_dtype=ttnn.bfloat8_b, in_dtype=ttnn.float32), ref
    )
    assert e8 > 2 * e16 > 0


def test_conv2d_accepts_nhwc_input_and_tile_layout(device):
    x, wt = torch.randn(2, 4, 6, 5), torch.randn(6, 4, 3, 3)
    ref = torch_conv(x, wt, None, (1, 1), (1, 1), (1, 1), 1)
    tx = ttnn.from_torch(x.permute(0, 2, 3, 1), dtype=ttnn.float32, layout=ttnn.TILE_LAYOUT, device=device)
    out = ttnn.conv2d(
        input_tensor=tx, weight_tensor=ttnn.from_torch(wt), device=device, in_channels=4, out_channels=6,
        batch_size=2, input_height=6, input_width=5, kernel_size=(3, 3), padding=(1, 1),
    )  # fmt: skip
    assert tuple(out.shape) == (1, 1, 2 * 6 * 5, 6) and out.layout == ttnn.TILE_LAYOUT
    assert max_abs_error(nchw(out, 2, 6, 5), ref) < 1e-4 * ref.abs().max().item()


def _conv_args(device, c, oc, n, h, w, k=(3, 3), **kw):
    return dict(
        device=device, in_channels=c, out_channels=oc, batch_size=n, input_height=h, input_width=w,
        kernel_size=k, stride=(1, 1), padding=(1, 1), dilation=(1, 1), groups=1, **kw,
    )  # fmt: skip


@pytest.mark.parametrize("w_dtype", [ttnn.bfloat16, ttnn.bfloat8_b])
def test_prepared_weights_equal_on_the_fly(device, w_dtype):
    n, c, h, w, oc = 1, 20, 7, 9, 48
    x, wt, b = torch.randn(n, h, w, c), torch.randn(oc, c, 3, 3), torch.randn(1, 1, 1, oc)
    tx = ttnn.from_torch(x.reshape(1, 1, -1, c), dtype=ttnn.bfloat16, device=device)
    tw, tb = ttnn.from_torch(wt, dtype=ttnn.float32), ttnn.from_torch(b, dtype=ttnn.float32)
    cfg = ttnn.Conv2dConfig(weights_dtype=w_dtype)
    args = _conv_args(device, c, oc, n, h, w, conv_config=cfg)
    pw = ttnn.prepare_conv_weights(
        weight_tensor=tw, input_memory_config=tx.memory_config(), input_layout=tx.layout, weights_format="OIHW",
        has_bias=True, input_dtype=ttnn.bfloat16, **args,
    )  # fmt: skip
    pb = ttnn.prepare_conv_bias(
        bias_tensor=tb, input_memory_config=tx.memory_config(), input_layout=tx.layout, input_dtype=ttnn.bfloat16,
        **args,
    )  # fmt: skip
    assert pw.dtype == w_dtype and pw.layout == ttnn.TILE_LAYOUT and pb.layout == ttnn.TILE_LAYOUT
    assert pw.device() is device and pb.device() is device
    fly = ttnn.conv2d(input_tensor=tx, weight_tensor=tw, bias_tensor=tb, **args)
    prep = ttnn.conv2d(input_tensor=tx, weight_tensor=pw, bias_tensor=pb, **args)
    assert torch.equal(ttnn.to_torch(fly), ttnn.to_torch(prep))
    # and the returned weights and bias are the prepared ones (the same values as prepare_conv_*)
    out, (oh, ow), (rw, rb) = ttnn.conv2d(
        input_tensor=tx,
        weight_tensor=tw,
        bias_tensor=tb,
        return_output_dim=True,
        return_weights_and_bias=True,
        **args,
    )
    assert (oh, ow) == (h, w)
    assert torch.equal(ttnn.to_torch(rw), ttnn.to_torch(pw)) and torch.equal(
        ttnn.to_torch(rb), ttnn.to_torch(pb)
    )
    assert torch.equal(ttnn.to_torch(out), ttnn.to_torch(fly))


def test_return_forms(device):
    n, c, h, w, oc = 1, 3, 9, 9, 4
    tx = ttnn.from_torch(torch.randn(1, 1, n * h * w, c), dtype=ttnn.bfloat16, device=device)
    tw = ttnn.from_torch(torch.randn(oc, c, 3, 3))
    args = dict(_conv_args(device, c, oc, n, h, w), stride=(2, 2), padding=(0, 0))
    plain = ttnn.conv2d(input_tensor=tx, weight_tensor=tw, **args)
    assert isinstance(plain, ttnn.Tensor) and tuple(plain.shape) == (1, 1, 16, oc)
    out, dims = ttnn.conv2d(input_tensor=tx, weight_tensor=tw, return_output_dim=True, **args)
    assert tuple(dims) == (4, 4)
    out, (rw, rb) = ttnn.conv2d(input_tensor=tx, weight_tensor=tw, return_weights_and_bias=True, **args)
    assert rb is None and tuple(rw.shape) == (1, 1, 27, oc)
    # prepared weights passed back in are returned as they are
    out2, dims2, (rw2, _) = ttnn.conv2d(
        input_tensor=tx, weight_tensor=rw, return_output_dim=True, return_weights_and_bias=True, **args
    )
    assert rw2 is rw and tuple(dims2) == (4, 4)
    assert torch.equal(ttnn.to_torch(out2), ttnn.to_torch(out))


@pytest.mark.parametrize(
    "act, fn",
    [
        (ttnn.UnaryWithParam(ttnn.UnaryOpType.RELU), F.relu),
        (ttnn.UnaryWithParam(ttnn.UnaryOpType.SILU), F.silu),
        ("relu", F.relu),
    ],
)
def test_fused_activation(device, act, fn):
    x, wt, b = torch.randn(1, 8, 6, 6), torch.randn(16, 8, 3, 3), torch.randn(16)
    cfg = ttnn.Conv2dConfig(activation=act)
    got = run_conv(device, x, wt, b, padding=(1, 1), in_dtype=ttnn.float32, conv_config=cfg)
    raw = torch_conv(x, wt, b, (1, 1), (1, 1), (1, 1), 1)
    ref = fn(raw)
    assert max_abs_error(ref, raw) > 1.0  # the activation changes the result
    assert max_abs_error(got, ref) < 1e-3 * ref.abs().max().item()


@pytest.mark.parametrize("groups", [1, 2])
def test_low_fidelity_runs_the_matmul_emulation(device, groups):
    """LoFi goes through im2col + matmul_values: exact on small integers (few mantissa bits), lossy on randn."""
    x, wt = torch.randint(-3, 4, (2, 4, 6, 7)).float(), torch.randint(-3, 4, (6, 4 // groups, 3, 3)).float()
    ck = ttnn.WormholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.LoFi)
    got = run_conv(device, x, wt, padding=(1, 0), in_dtype=ttnn.float32, groups=groups, compute_config=ck)
    assert torch.equal(got, torch_conv(x, wt, None, (1, 1), (1, 0), (1, 1), groups))
    xr, wr = torch.randn(1, 16, 6, 6), torch.randn(16, 16, 3, 3)
    lofi = run_conv(device, xr, wr, in_dtype=ttnn.float32, compute_config=ck)
    hifi = run_conv(device, xr, wr, in_dtype=ttnn.float32)
    ref = torch_conv(xr, wr, None, (1, 1), (0, 0), (1, 1), 1)
    assert max_abs_error(lofi, ref) > 10 * max_abs_error(hifi, ref)
    assert pcc(ref, lofi) > 0.999


def test_conv2d_under_jit_equals_eager(device):
    n, c, h, w, oc = 1, 16, 8, 8, 32
    x, wt, b = torch.randn(1, 1, n * h * w, c), torch.randn(oc, c, 3, 3), torch.randn(1, 1, 1, oc)
    tx = ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    args = _conv_args(device, c, oc, n, h, w, conv_config=ttnn.Conv2dConfig(activation="silu"))
    _, _, (pw, pb) = ttnn.conv2d(
        input_tensor=tx, weight_tensor=ttnn.from_torch(wt), bias_tensor=ttnn.from_torch(b), return_output_dim=True,
        return_weights_and_bias=True, **args,
    )  # fmt: skip

    def block(x, pw, pb):
        y = ttnn.conv2d(input_tensor=x, weight_tensor=pw, bias_tensor=pb, **args)
        return ttnn.add(y, 1.0)

    eager = ttnn.to_torch(block(tx, pw, pb))
    jitted = ttnn.to_torch(ttfuse.jit(block)(tx, pw, pb))
    assert torch.equal(eager, jitted)


@pytest.mark.parametrize(
    "change, arg",
    [
        (dict(in_channels=5), "in_channels"),
        (dict(out_channels=12), "weight_tensor"),
        (dict(groups=3), "groups"),
        (dict(batch_size=2), "input_tensor"),
        (dict(kernel_size=(3,)), "kernel_size"),
        (dict(padding=(1, 1, 1)), "padding"),
        (dict(conv_config="relu"), "conv_config"),
    ],
)
def test_bad_arguments_name_the_op_and_argument(device, change, arg):
    tx = ttnn.from_torch(torch.randn(1, 1, 36, 4), dtype=ttnn.bfloat16, device=device)
    tw = ttnn.from_torch(torch.randn(8, 4, 3, 3))
    args = {**_conv_args(device, 4, 8, 1, 6, 6), **change}
    with pytest.raises(SpecError) as e:
        ttnn.conv2d(input_tensor=tx, weight_tensor=tw, **args)
    msg = str(e.value)
    assert "ttnn.conv2d" in msg and repr(arg) in msg and "test_conv2d.py" in msg


def test_keywords_are_ttnn_0_81_1():
    import inspect

    params = inspect.signature(ttnn.conv2d).parameters
    assert list(params) == [
        "input_tensor", "weight_tensor", "device", "in_channels", "out_channels", "batch_size", "input_height",
        "input_width", "kernel_size", "stride", "padding", "dilation", "groups", "dtype", "bias_tensor",
        "conv_config", "compute_config", "memory_config", "slice_config", "return_output_dim",
        "return_weights_and_bias",
    ]  # fmt: skip
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params.values())
    with pytest.raises(TypeError):
        ttnn.Conv2dConfig(ttnn.bfloat16)  # keyword-only, as the wheel's __init__


# ------------------------------------------------------------------------------ config selection and cost
def _sd_conv(c, hw, oc, k=3, conv_config=None, compute_config=None):
    """An SD1.4 UNet-shaped conv as a jit function of (x, prepared w, b) specs."""

    def f(x, w, b):
        return ttnn.conv2d(
            input_tensor=x, weight_tensor=w, bias_tensor=b, device=None, in_channels=c, out_channels=oc,
            batch_size=1, input_height=hw, input_width=hw, kernel_size=(k, k), stride=(1, 1),
            padding=(k // 2, k // 2), conv_config=conv_config, compute_config=compute_config,
        )  # fmt: skip

    from ttfuse.types import TensorSpec

    specs = (
        TensorSpec((1, 1, hw * hw, c), ttnn.bfloat16, ttnn.TILE_LAYOUT),
        TensorSpec((1, 1, k * k * c, oc), ttnn.bfloat16, ttnn.TILE_LAYOUT),
        TensorSpec((1, 1, 1, oc), ttnn.bfloat16, ttnn.TILE_LAYOUT),
    )
    return f, specs


def _lower(monkeypatch, arch, f, specs):
    monkeypatch.setenv("TTFUSE_ARCH", arch)
    low = ttfuse.jit(f).lower(*specs)
    (row,) = low.program_configs
    (node,) = [n for n in low.graph.nodes if n.op == "conv2d"]
    (cost,) = [c for c in low.cost.jit.nodes if c.op == "conv2d"]
    return row, node, cost


@pytest.mark.parametrize("c, hw", [(640, 32), (320, 64)])
def test_wormhole_and_blackhole_pick_different_valid_configs(monkeypatch, c, hw):
    f, specs = _sd_conv(c, hw, c)
    picked = {}
    for arch in ("wormhole_b0", "blackhole"):
        row, node, _ = _lower(monkeypatch, arch, f, specs)
        cfg = row.program_config
        assert isinstance(cfg, ttnn.Conv2dConfig) and row.chosen_by["conv_config"] == "select_configs"
        assert cfg.shard_layout in (ttnn.TensorMemoryLayout.HEIGHT_SHARDED, ttnn.TensorMemoryLayout.BLOCK_SHARDED,
                                    ttnn.TensorMemoryLayout.WIDTH_SHARDED)  # fmt: skip
        assert cfg.act_block_h_override > 0 and cfg.act_block_h_override % 32 == 0
        assert row.compute_kernel_config.math_fidelity == ttnn.MathFidelity.HiFi4  # conv2d's default
        assert node.attr("conv_config") == cfg  # on the node: the generated code passes it to ttnn.conv2d
        (note,) = [d.reason for d in node.side.decisions if d.by == "select_configs"]
        assert arch in note and cfg.shard_layout.name in note
        gx, gy = map(int, re.search(r" on (\d+)x(\d+) cores", note).groups())
        dev_grid = device_spec(arch).grid
        assert gx <= dev_grid[0] and gy <= dev_grid[1]  # the cores it uses exist on that chip
        picked[arch] = (cfg.shard_layout, cfg.act_block_h_override, (gx, gy))
    assert picked["wormhole_b0"] != picked["blackhole"]


def test_user_shard_layout_is_kept(monkeypatch):
    user = ttnn.Conv2dConfig(shard_layout=ttnn.TensorMemoryLayout.HEIGHT_SHARDED)
    f, specs = _sd_conv(320, 32, 320, conv_config=user)
    row, _, _ = _lower(monkeypatch, "wormhole_b0", f, specs)
    assert row.program_config.shard_layout == ttnn.TensorMemoryLayout.HEIGHT_SHARDED
    assert row.program_config.act_block_h_override > 0


def test_cost_follows_grid_and_fidelity(monkeypatch):
    c, hw, oc = 320, 64, 320
    f, specs = _sd_conv(c, hw, oc)
    _, _, wh = _lower(monkeypatch, "wormhole_b0", f, specs)
    _, _, bh = _lower(monkeypatch, "blackhole", f, specs)
    assert wh.flops == bh.flops == 2.0 * hw * hw * oc * 9 * c
    assert wh.fidelity == "HiFi4" and bh.math_us < wh.math_us  # a larger grid: less work on the busiest core
    lofi = ttnn.WormholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.LoFi)
    f2, _ = _sd_conv(c, hw, oc, compute_config=lofi)
    _, _, wh_lofi = _lower(monkeypatch, "wormhole_b0", f2, specs)
    assert wh_lofi.fidelity == "LoFi" and wh_lofi.math_us < 0.5 * wh.math_us


def test_bad_conv_config_fields(device):
    tx = ttnn.from_torch(torch.randn(1, 1, 36, 4), dtype=ttnn.bfloat16, device=device)
    tw = ttnn.from_torch(torch.randn(8, 4, 3, 3))
    for bad in (
        ttnn.Conv2dConfig(act_block_h_override=48),
        ttnn.Conv2dConfig(shard_layout=ttnn.TensorMemoryLayout.INTERLEAVED),
    ):
        with pytest.raises(SpecError, match="conv_config"):
            ttnn.conv2d(
                input_tensor=tx, weight_tensor=tw, **_conv_args(device, 4, 8, 1, 6, 6, conv_config=bad)
            )


# ------------------------------------------------------------------------------------------------ max_pool2d
@pytest.mark.parametrize(
    "n, c, h, w, k, s, p, d, ceil",
    [
        (1, 3, 8, 8, (2, 2), (2, 2), (0, 0), (1, 1), False),
        (2, 40, 9, 11, (3, 3), (2, 2), (1, 1), (1, 1), False),
        (1, 16, 9, 9, (3, 3), (2, 2), (1, 1), (1, 1), True),
        (1, 8, 10, 10, (3, 2), (1, 2), (1, 0), (2, 1), False),
    ],
)
def test_max_pool2d_matches_torch(device, n, c, h, w, k, s, p, d, ceil):
    x = torch.randn(n, c, h, w)
    tx = ttnn.from_torch(nhwc_flat(x), dtype=ttnn.float32, device=device)
    out = ttnn.max_pool2d(tx, n, h, w, c, k, s, p, d, ceil, dtype=ttnn.float32)
    ref = F.max_pool2d(x, k, s, p, d, ceil_mode=ceil)
    oh, ow = ref.shape[2:]
    assert tuple(out.shape) == (1, 1, n * oh * ow, c) and out.layout == ttnn.ROW_MAJOR_LAYOUT
    assert torch.equal(nchw(out, n, oh, ow), ref)
    bf = ttnn.max_pool2d(tx, n, h, w, c, k, s, p, d, ceil)  # default output dtype: bfloat16
    assert (
        bf.dtype == ttnn.bfloat16
        and max_abs_error(nchw(bf, n, oh, ow), ref) <= 2**-7 * ref.abs().max().item()
    )


def test_max_pool2d_bad_channels(device):
    tx = ttnn.from_torch(torch.randn(1, 1, 64, 4), device=device)
    with pytest.raises(SpecError, match=r"ttnn.max_pool2d: argument 'channels'"):
        ttnn.max_pool2d(tx, 1, 8, 8, 5, (2, 2), (2, 2), (0, 0), (1, 1))


# ------------------------------------------------------------------------------------------ conv_transpose2d
@pytest.mark.parametrize(
    "n, c, h, w, oc, k, s, p, op, d, g",
    [
        (1, 4, 5, 6, 8, (3, 3), (2, 2), (1, 1), (1, 1), (1, 1), 1),
        (2, 8, 4, 4, 6, (4, 4), (2, 2), (1, 1), (0, 0), (1, 1), 2),
        (1, 3, 6, 5, 5, (3, 2), (1, 2), (0, 1), (0, 1), (2, 1), 1),
    ],
)
def test_conv_transpose2d_matches_torch(device, n, c, h, w, oc, k, s, p, op, d, g):
    x, wt, b = torch.randn(n, c, h, w), torch.randn(c, oc // g, *k), torch.randn(oc)
    ref = F.conv_transpose2d(x.double(), wt.double(), b.double(), s, p, op, g, d).float()
    tx = ttnn.from_torch(nhwc_flat(x), dtype=ttnn.float32, device=device)
    args = dict(
        device=device, in_channels=c, out_channels=oc, batch_size=n, input_height=h, input_width=w, kernel_size=k,
        stride=s, padding=p, output_padding=op, dilation=d, groups=g,
        bias_tensor=ttnn.from_torch(b.reshape(1, 1, 1, -1)),
    )  # fmt: skip
    out, (oh, ow) = ttnn.conv_transpose2d(
        input_tensor=tx, weight_tensor=ttnn.from_torch(wt), return_output_dim=True, **args
    )
    assert (oh, ow) == tuple(ref.shape[2:])
    assert max_abs_error(nchw(out, n, oh, ow), ref) < 1e-4 * ref.abs().max().item()
    mirrored = ttnn.conv_transpose2d(
        input_tensor=tx, weight_tensor=ttnn.from_torch(wt.flip(-1, -2)), mirror_kernel=False, **args
    )
    assert torch.equal(ttnn.to_torch(mirrored), ttnn.to_torch(out))
    bf = ttnn.conv_transpose2d(
        input_tensor=tx, weight_tensor=ttnn.from_torch(wt), conv_config=ttnn.Conv2dConfig(weights_dtype=ttnn.bfloat8_b),
        dtype=ttnn.bfloat16, **args,
    )  # fmt: skip
    got = nchw(bf, n, oh, ow)
    assert pcc(ref, got) > 0.998 and 0 < max_abs_error(got, ref) < 0.08 * ref.abs().max().item()


def test_conv_transpose2d_bad_weight(device):
    tx = ttnn.from_torch(torch.randn(1, 1, 16, 4), device=device)
    with pytest.raises(SpecError, match=r"ttnn.conv_transpose2d: argument 'weight_tensor'"):
        ttnn.conv_transpose2d(
            input_tensor=tx, weight_tensor=ttnn.from_torch(torch.randn(8, 4, 3, 3)), device=device, in_channels=4,
            out_channels=8, batch_size=1, input_height=4, input_width=4, kernel_size=(3, 3),
        )  # fmt: skip


# ------------------------------------------------------------------------------ default output placement
# tt-metal conv2d.cpp: the L1 path (an L1 input without a slice_config, or Conv2dL1FullSliceConfig) returns the
# conv's own sharded L1 output (conv_out_memory_config, built by create_sharded_memory_config_from_parallel_config
# from determine_output_parallel_config); the DRAM path (a DRAM input) returns DRAM interleaved.
def _grid(x0, y0, x1, y1):
    return ttnn.CoreRangeSet({ttnn.CoreRange(ttnn.CoreCoord(x0, y0), ttnn.CoreCoord(x1, y1))})


def _sharded(layout, grid, shape):
    return ttnn.MemoryConfig(
        layout, ttnn.BufferType.L1, ttnn.ShardSpec(grid, shape, ttnn.ShardOrientation.ROW_MAJOR)
    )


def _placed_conv(device, in_mc, c, oc, k, **kw):
    """A 16x16 conv of c -> oc channels (kernel k, 'same' padding) on an input placed in `in_mc`: (output, PCC)."""
    x, wt = torch.randn(1, c, 16, 16), torch.randn(oc, c, k, k) / (c * k * k) ** 0.5
    tx = ttnn.from_torch(nhwc_flat(x), dtype=ttnn.bfloat16, device=device, memory_config=in_mc)
    out = ttnn.conv2d(
        input_tensor=tx, weight_tensor=ttnn.from_torch(wt), device=device, in_channels=c, out_channels=oc,
        batch_size=1, input_height=16, input_width=16, kernel_size=(k, k), padding=(k // 2, k // 2), **kw,
    )  # fmt: skip
    ref = torch_conv(x, wt, None, (1, 1), (k // 2, k // 2), (1, 1), 1)
    return out, pcc(ref, nchw(out, 1, 16, 16))


HS, BS, WS = (
    ttnn.TensorMemoryLayout.HEIGHT_SHARDED,
    ttnn.TensorMemoryLayout.BLOCK_SHARDED,
    ttnn.TensorMemoryLayout.WIDTH_SHARDED,
)


@pytest.mark.parametrize(
    "in_mc, c, oc, k, want",
    [
        # HEIGHT: the input's 8 cores; 256 rows / 8 = 32 per core, the 64 channels whole
        (_sharded(HS, _grid(0, 0, 7, 0), (32, 32)), 32, 64, 3, _sharded(HS, _grid(0, 0, 7, 0), (32, 64))),
        # BLOCK 2x4 in: the 4 nhw rows of cores kept, the 3 output channel tiles on 3 cores of their own
        (_sharded(BS, _grid(0, 0, 1, 3), (64, 32)), 64, 96, 3, _sharded(BS, _grid(0, 0, 2, 3), (64, 32))),
        # WIDTH: every row on each core, output channels over their own 3 cores
        (_sharded(WS, _grid(0, 0, 1, 0), (256, 32)), 64, 96, 3, _sharded(WS, _grid(0, 0, 2, 0), (256, 32))),
        # a 1x1 conv runs as a matmul: the output keeps the input's parallel config (BLOCK 2x4, 1 channel tile
        # per column of cores), 40 channels padded to 2 x 32
        (_sharded(BS, _grid(0, 0, 1, 3), (64, 32)), 64, 40, 1, _sharded(BS, _grid(0, 0, 1, 3), (64, 32))),
    ],
    ids=["height", "block", "width", "block_1x1"],
)
def test_conv2d_sharded_input_gives_its_sharded_l1_output(device, in_mc, c, oc, k, want):
    out, p = _placed_conv(device, in_mc, c, oc, k)
    assert out.memory_config() == want
    assert p > 0.999


def test_conv2d_interleaved_l1_input_gives_the_auto_shard_output(device):
    # 8x8 output = 2 row tiles; BLOCK (4 channel x 2 nhw cores, a full grid row, least L1) wins the auto-shard;
    # the 16 output channels take one core per nhw row: shards of 32 rows x 32 (padded) channels on 1x2 cores
    kw = dict(
        in_channels=32, out_channels=16, batch_size=1, input_height=8, input_width=8, kernel_size=(3, 3)
    )
    x, wt = torch.randn(1, 1, 64, 32), torch.randn(16, 32, 3, 3)
    want = _sharded(BS, _grid(0, 0, 0, 1), (32, 32))
    for in_mc, sc in ((ttnn.L1_MEMORY_CONFIG, None), (ttnn.DRAM_MEMORY_CONFIG, ttnn.Conv2dL1FullSliceConfig)):
        tx = ttnn.from_torch(x, dtype=ttnn.bfloat16, device=device, memory_config=in_mc)
        out = ttnn.conv2d(
            input_tensor=tx,
            weight_tensor=ttnn.from_torch(wt),
            device=device,
            padding=(1, 1),
            slice_config=sc,
            **kw,
        )
        assert out.memory_config() == want, (in_mc, sc)
    # the same 1x1 conv left to auto-shard runs an interleaved matmul: matmul's default output, DRAM
    out = ttnn.conv2d(
        input_tensor=ttnn.from_torch(x, dtype=ttnn.bfloat16, device=device, memory_config=ttnn.L1_MEMORY_CONFIG),
        weight_tensor=ttnn.from_torch(torch.randn(16, 32, 1, 1)), device=device, **{**kw, "kernel_size": (1, 1)},
    )  # fmt: skip
    assert out.memory_config() == ttnn.DRAM_MEMORY_CONFIG


def test_conv2d_dram_input_gives_dram_and_ignores_memory_config(device):
    # the DRAM path writes DRAM interleaved; ttnn warns and ignores a memory_config there
    for mc in (None, ttnn.L1_MEMORY_CONFIG):
        out, p = _placed_conv(device, ttnn.DRAM_MEMORY_CONFIG, 8, 16, 3, memory_config=mc)
        assert out.memory_config() == ttnn.DRAM_MEMORY_CONFIG and p > 0.999
    # a 1x1 conv goes to conv2d_L1 from the DRAM path and honours it
    out, p = _placed_conv(device, ttnn.DRAM_MEMORY_CONFIG, 8, 16, 1, memory_config=ttnn.L1_MEMORY_CONFIG)
    assert out.memory_config() == ttnn.L1_MEMORY_CONFIG and p > 0.999


@pytest.mark.parametrize("given", [ttnn.DRAM_MEMORY_CONFIG, ttnn.L1_MEMORY_CONFIG])
def test_conv2d_given_memory_config_on_the_l1_path(device, given):
    out, p = _placed_conv(device, _sharded(HS, _grid(0, 0, 7, 0), (32, 32)), 32, 64, 3, memory_config=given)
    assert out.memory_config() == given and p > 0.999


def test_conv_transpose2d_default_placement(device):
    # conv_transpose2d routes as conv2d (determine_conv_transpose2d_execution_path): DRAM in -> DRAM out,
    # a sharded L1 input -> its sharded L1 output (HEIGHT on the input's 4 cores: 16x16 = 256 rows / 4)
    x, wt = torch.randn(1, 8, 8, 8), torch.randn(8, 16, 2, 2)
    ref = F.conv_transpose2d(x.double(), wt.double(), stride=2).float()
    for in_mc, want in (
        (ttnn.DRAM_MEMORY_CONFIG, ttnn.DRAM_MEMORY_CONFIG),
        (_sharded(HS, _grid(0, 0, 3, 0), (16, 8)), _sharded(HS, _grid(0, 0, 3, 0), (64, 32))),
    ):
        tx = ttnn.from_torch(nhwc_flat(x), dtype=ttnn.float32, device=device, memory_config=in_mc)
        out = ttnn.conv_transpose2d(
            input_tensor=tx, weight_tensor=ttnn.from_torch(wt), device=device, in_channels=8, out_channels=16,
            batch_size=1, input_height=8, input_width=8, kernel_size=(2, 2), stride=(2, 2),
        )  # fmt: skip
        assert out.memory_config() == want
        assert max_abs_error(nchw(out, 1, 16, 16), ref) < 1e-4 * ref.abs().max().item()


def test_max_pool2d_default_placement(device):
    # tt-metal generic_pools.cpp: pool2d_L1 unless a dram_slice_config slices (>1 slice) -> DRAM interleaved. The L1
    # path shards an interleaved input (auto-shard or applied_shard_scheme) and writes that parallel config's shards.
    # 32x32x32, k3 s2 p1 -> 256 output rows (ROW_MAJOR: no tile padding, 16-wide channel padding)
    x = torch.randn(1, 32, 32, 32)
    ref = F.max_pool2d(x.bfloat16().float(), 3, 2, 1)  # a max of bfloat16 values is exact

    def pool(in_mc, **kw):
        tx = ttnn.from_torch(nhwc_flat(x), dtype=ttnn.bfloat16, device=device, memory_config=in_mc)
        out = ttnn.max_pool2d(tx, 1, 32, 32, 32, (3, 3), (2, 2), (1, 1), (1, 1), **kw)
        assert torch.equal(nchw(out, 1, 16, 16), ref)
        return out.memory_config()

    # auto-shard: HEIGHT on all 64 cores (4 rows of 32 channels each) needs the least L1
    assert pool(ttnn.DRAM_MEMORY_CONFIG) == _sharded(HS, _grid(0, 0, 7, 7), (4, 32))
    # BLOCK: 8 nhw cores (the grid's height), 2 channel cores (2 half tiles of 16 channels)
    assert pool(ttnn.DRAM_MEMORY_CONFIG, applied_shard_scheme=BS) == _sharded(BS, _grid(0, 0, 1, 7), (32, 16))
    # a sharded input keeps its grid: 256 rows over 8 cores
    assert pool(_sharded(HS, _grid(0, 0, 7, 0), (128, 32))) == _sharded(HS, _grid(0, 0, 7, 0), (32, 32))
    assert pool(ttnn.DRAM_MEMORY_CONFIG, memory_config=ttnn.L1_MEMORY_CONFIG) == ttnn.L1_MEMORY_CONFIG
    two = ttnn.Conv2dSliceConfig(slice_type=ttnn.Conv2dDRAMSliceHeight, num_slices=2)
    for mc in (None, ttnn.L1_MEMORY_CONFIG):  # pool2d_DRAM writes DRAM interleaved and ignores memory_config
        assert (
            pool(ttnn.DRAM_MEMORY_CONFIG, dram_slice_config=two, memory_config=mc) == ttnn.DRAM_MEMORY_CONFIG
        )


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("in_mc", [ttnn.DRAM_MEMORY_CONFIG, ttnn.L1_MEMORY_CONFIG], ids=["dram", "l1"])
def test_conv2d_jit_keeps_eager_placement(device, k, in_mc):
    # select_configs writes a shard_layout into conv_config; where that decides the output's placement (an
    # interleaved L1 input; a 1x1 conv, which auto-shard runs as an interleaved matmul) it keeps eager's
    x, wt = torch.randn(1, 1, 256, 32), torch.randn(64, 32, k, k)
    tx = ttnn.from_torch(x, dtype=ttnn.bfloat16, device=device, memory_config=in_mc)
    tw = ttnn.from_torch(wt, dtype=ttnn.bfloat16)
    args = _conv_args(device, 32, 64, 1, 16, 16, k=(k, k))
    args["padding"] = (k // 2, k // 2)

    def conv(x, w):
        return ttnn.conv2d(input_tensor=x, weight_tensor=w, **args)

    eager, jitted = conv(tx, tw), ttfuse.jit(conv)(tx, tw)
    assert jitted.memory_config() == eager.memory_config()
    assert torch.equal(ttnn.to_torch(eager), ttnn.to_torch(jitted))
