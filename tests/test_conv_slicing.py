"""conv2d's DRAM slicing by output rows (Conv2dSliceConfig) and its per-device configs.

- the simulator runs a sliced conv as tt-metal's op_slicing does (one conv per range of output rows or columns over
  its input window, halo included): the values equal the unsliced conv's bit for bit;
- select_configs slices a conv whose per-core L1 figure overflows (the smallest DRAMSliceHeight count that fits),
  and the cost rule shows the trade (3 launches per slice, halo rows and weights read again);
- SD1.4's ResnetBlock2D (models/sd14/resnet.py) captured spec-only at UNet and VAE-decoder sizes: Wormhole n150 and
  Blackhole p150 pick different valid configs, and the VAE decoder's 512x512 convs are sliced on n150.
"""

import dataclasses

import pytest
import torch

import ttfuse
from tests.test_conv2d import nhwc_flat
from ttfuse import ttnn
from ttfuse.device import device_spec
from ttfuse.errors import SpecError
from ttfuse.ops.conv import (
    conv_auto_slicing,
    conv_geometry,
    conv_parallel_config,
    transpose_as_conv,
    transpose_geometry,
)
from ttfuse.ops.conv_config import (
    auto_slice_budget,
    auto_slicing,
    best_guess_slice_axis,
    conv_choice,
    output_slices,
    slice_geometry,
    slice_ranges,
)
from ttfuse.passes.place_memory import CB_RESERVE_FRACTION
from ttfuse.types import TensorSpec

HEIGHT = ttnn.Conv2dSliceConfig.SliceTypeEnum.DRAMSliceHeight
WIDTH = ttnn.Conv2dSliceConfig.SliceTypeEnum.DRAMSliceWidth
TILE = ttnn.TILE_LAYOUT
ARCHS = {"wormhole_b0": "wormhole_b0:n150", "blackhole": "blackhole:p150:13x10"}


def cb_limit(arch: str) -> int:
    """select_configs' per-core budget with the default jit options (place_memory.cb_limit_per_core)."""
    ds = device_spec(arch)
    return ds.l1_per_core - -(-int(ds.l1_bytes * (1 - CB_RESERVE_FRACTION)) // ds.num_cores)


# ------------------------------------------------------------------------------------------ slice geometry
def test_output_slices_follow_tt_metal():
    # ceil(size / rounding) units shared evenly, the first `rem` slices one unit longer
    assert output_slices(10, 3) == [(0, 4), (4, 7), (7, 10)]
    assert output_slices(100, 3, 32) == [(0, 64), (64, 96), (96, 100)]  # 4 tile columns: 2, 1, 1
    assert output_slices(5, 5) == [(i, i + 1) for i in range(5)]


def test_slice_geometry_reads_the_halo_rows():
    a = dict(in_channels=8, out_channels=8, batch_size=1, input_height=10, input_width=7, kernel_size=(3, 3),
             stride=(1, 1), padding=(1, 1), dilation=(1, 1), groups=1)  # fmt: skip
    g = conv_geometry("conv2d", a)
    first, mid, last = (slice_geometry(g, *r) for r in output_slices(10, 3))
    # output rows 0..3 read input rows 0..4 and one row of top padding; 4..6 read rows 3..7 (1 halo row each side)
    assert (first["in_start"], first["input_height"], first["pt"], first["pb"], first["oh"]) == (
        0,
        5,
        1,
        0,
        4,
    )
    assert (mid["in_start"], mid["input_height"], mid["pt"], mid["pb"], mid["oh"]) == (3, 5, 0, 0, 3)
    assert (last["in_start"], last["input_height"], last["pt"], last["pb"], last["oh"]) == (6, 4, 0, 1, 3)
    s2 = conv_geometry("conv2d", {**a, "stride": (2, 2), "dilation": (2, 1)})  # 5 output rows, reach 5
    sub = slice_geometry(s2, 2, 4)  # output rows 2, 3: input rows 3..9
    assert (sub["in_start"], sub["input_height"], sub["pt"], sub["pb"], sub["oh"]) == (3, 7, 0, 0, 2)


# ------------------------------------------------------------------------------------- sliced = unsliced
CASES = [  # (N, C, H, W, OC, kernel, stride, padding, dilation, groups)
    (1, 8, 13, 10, 16, (3, 3), (1, 1), (1, 1), (1, 1), 1),
    (2, 4, 11, 9, 8, (3, 3), (2, 1), (1, 2, 0, 1), (1, 1), 1),
    (1, 16, 12, 12, 24, (3, 3), (1, 1), (2, 2), (2, 2), 4),
    (1, 8, 9, 40, 8, (5, 3), (2, 2), (2, 1), (1, 1), 1),
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("fidelity", [None, ttnn.MathFidelity.LoFi])
def test_sliced_conv_is_bit_equal_to_unsliced(device, case, fidelity):
    n, c, h, w, oc, k, s, p, d, g = case
    torch.manual_seed(1)
    x, wt, b = torch.randn(n, c, h, w), torch.randn(oc, c // g, *k), torch.randn(oc)
    args = dict(
        input_tensor=ttnn.from_torch(nhwc_flat(x), dtype=ttnn.float32, device=device),
        weight_tensor=ttnn.from_torch(wt), bias_tensor=ttnn.from_torch(b.reshape(1, 1, 1, -1)), device=device,
        in_channels=c, out_channels=oc, batch_size=n, input_height=h, input_width=w, kernel_size=k, stride=s,
        padding=p, dilation=d, groups=g, dtype=ttnn.float32,
        conv_config=ttnn.Conv2dConfig(output_layout=ttnn.ROW_MAJOR_LAYOUT, activation="relu"),
        compute_config=None if fidelity is None else ttnn.WormholeComputeKernelConfig(math_fidelity=fidelity),
    )  # fmt: skip
    whole = ttnn.to_torch(ttnn.conv2d(**args))
    oh = conv_geometry("conv2d", args)["oh"]
    for kind, count in ((HEIGHT, 2), (HEIGHT, 3), (HEIGHT, oh), (WIDTH, 2)):
        cfg = ttnn.Conv2dSliceConfig(slice_type=kind, num_slices=count)
        got = ttnn.to_torch(ttnn.conv2d(**args, slice_config=cfg))
        assert torch.equal(got, whole), (kind, count)


def test_bad_slice_config(device):
    tx = ttnn.from_torch(torch.randn(1, 1, 36, 4), dtype=ttnn.bfloat16, device=device)
    a = dict(input_tensor=tx, weight_tensor=ttnn.from_torch(torch.randn(8, 4, 3, 3)), device=device, in_channels=4,
             out_channels=8, batch_size=1, input_height=6, input_width=6, kernel_size=(3, 3), padding=(1, 1))  # fmt: skip
    with pytest.raises(SpecError, match=r"ttnn.conv2d: argument 'slice_config': num_slices=7 .* 6 rows"):
        ttnn.conv2d(**a, slice_config=ttnn.Conv2dSliceConfig(slice_type=HEIGHT, num_slices=7))
    with pytest.raises(SpecError, match=r"argument 'slice_config': num_slices=2 .* 1 32-column tile groups"):
        ttnn.conv2d(**a, slice_config=ttnn.Conv2dSliceConfig(slice_type=WIDTH, num_slices=2))  # TILE output
    with pytest.raises(SpecError, match=r"argument 'slice_config' must be a ttnn.Conv2dSliceConfig"):
        ttnn.conv2d(**a, slice_config=4)
    with pytest.raises(SpecError, match=r"ttnn.max_pool2d: argument 'dram_slice_config': num_slices=9"):
        ttnn.max_pool2d(ttnn.from_torch(torch.randn(1, 1, 64, 4), device=device), 1, 8, 8, 4, (2, 2), (2, 2),
                        (0, 0), (1, 1), dram_slice_config=ttnn.Conv2dSliceConfig(slice_type=HEIGHT, num_slices=9))  # fmt: skip


# --------------------------------------------------------------------------------- the pass slices, JIT = eager
def _prepared(device, c, hw, oc, seed=0):
    torch.manual_seed(seed)
    x, w, b = torch.randn(1, c, hw, hw), torch.randn(oc, c, 3, 3) * 0.05, torch.randn(oc)
    args = dict(device=device, in_channels=c, out_channels=oc, batch_size=1, input_height=hw, input_width=hw,
                kernel_size=(3, 3), padding=(1, 1))  # fmt: skip
    tx = ttnn.from_torch(nhwc_flat(x), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    _, (pw, pb) = ttnn.conv2d(
        input_tensor=tx, weight_tensor=ttnn.from_torch(w), bias_tensor=ttnn.from_torch(b.reshape(1, 1, 1, -1)),
        return_weights_and_bias=True, **args,
    )  # fmt: skip
    return tx, pw, pb, args


def test_jit_slices_a_conv_whose_activations_overflow_l1(device):
    """On one core (max_grid) a 64x64x64 conv needs ~1.2 MB of L1: the pass slices it by output rows; the values
    are the eager conv's bit for bit, and lower() shows the slice count, shard layout and act block."""
    tx, pw, pb, args = _prepared(device, 64, 64, 64)

    def f(x, w, b):
        return ttnn.relu(ttnn.conv2d(input_tensor=x, weight_tensor=w, bias_tensor=b, **args))

    jf = ttfuse.jit(f, max_grid=(0, 0))
    low = jf.lower(tx, pw, pb)
    (row,) = low.program_configs
    (node,) = [n for n in low.graph.nodes if n.op == "conv2d"]
    sl = node.attr("slice_config")
    assert sl == row.slice_config and sl.slice_type == HEIGHT and sl.num_slices == 2
    assert row.chosen_by["slice_config"] == "select_configs"
    (note,) = [d.reason for d in node.side.decisions if d.by == "select_configs"]
    assert "DRAMSliceHeight x 2 slices" in note and "on 1x1 cores" in note
    assert (
        "num_slices=2" in str(row) and "act_block_h_override=32" in str(row) and "shard_layout=" in str(row)
    )
    assert torch.equal(ttnn.to_torch(jf(tx, pw, pb)), ttnn.to_torch(f(tx, pw, pb)))
    # a slice_config the user gave is kept, even L1Full
    keep = ttnn.Conv2dSliceConfig(slice_type=ttnn.Conv2dSliceConfig.SliceTypeEnum.L1Full)

    def g(x, w, b):
        return ttnn.conv2d(input_tensor=x, weight_tensor=w, bias_tensor=b, slice_config=keep, **args)

    (row,) = ttfuse.jit(g, max_grid=(0, 0)).lower(tx, pw, pb).program_configs
    assert row.slice_config == keep and row.chosen_by["slice_config"] == "user"


# ------------------------------------------------------------------ ttnn slices a DRAM conv by itself (eager too)
def _geometry(c: int, h: int, w: int, oc: int) -> dict:
    return conv_geometry("conv2d", dict(in_channels=c, out_channels=oc, batch_size=1, input_height=h, input_width=w,
                                        kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), dilation=(1, 1), groups=1))  # fmt: skip


def test_auto_slice_type_follows_tt_metal_best_guess_and_falls_back():
    """op_slicing `best_guess_slice_type`, and the other type when the first finds no count that fits."""
    hw = {"input_height": 0, "input_width": 0}
    guess = {(h, w, tile): best_guess_slice_axis({**hw, "input_height": h, "input_width": w}, tile)
             for h, w, tile in [(512, 512, True), (512, 128, True), (300, 256, True), (256, 300, True),
                                (300, 128, False), (400, 100, False)]}  # fmt: skip
    assert guess == {(512, 512, True): "w", (512, 128, True): "h", (300, 256, True): "h", (256, 300, True): "w",
                     (300, 128, False): "w", (400, 100, False): "h"}  # fmt: skip
    ds = device_spec("wormhole_b0")
    kw = dict(in_dtype=ttnn.bfloat16, w_dtype=ttnn.bfloat16, out_dtype=ttnn.bfloat16, in_layout=TILE,
              l1_budget=auto_slice_budget(ds), out_tile=True)  # fmt: skip
    sl, largest = auto_slicing(_geometry(256, 224, 224, 256), ds.grid, **kw)
    assert (sl.slice_type, sl.num_slices) == (WIDTH, 2) and largest.l1_bytes <= kw["l1_budget"]
    # 512 channels at 224x224: 7 tile-column slices (the most a TILE output has) do not fit: height slices do
    sl, _ = auto_slicing(_geometry(512, 224, 224, 512), ds.grid, **kw)
    assert sl.slice_type == HEIGHT and sl.num_slices > 7
    # a slice type given with num_slices 0 (ttnn chooses the count) is kept: no fallback
    assert auto_slicing(_geometry(512, 224, 224, 512), ds.grid, slice_type=WIDTH, **kw) is None
    assert auto_slicing(_geometry(32, 64, 64, 32), ds.grid, **kw)[0].num_slices == 1  # fits whole


def _conv_hw(c: int, h: int, w: int, oc: int, slice_config=None):
    """A 3x3 conv of a [1, 1, h*w, c] DRAM input (TensorSpecs: nothing allocated) and its function."""

    def f(x, wt, b):
        return ttnn.conv2d(input_tensor=x, weight_tensor=wt, bias_tensor=b, device=None, in_channels=c,
                           out_channels=oc, batch_size=1, input_height=h, input_width=w, kernel_size=(3, 3),
                           padding=(1, 1), slice_config=slice_config)  # fmt: skip

    bf = ttnn.bfloat16
    specs = (TensorSpec((1, 1, h * w, c), bf, TILE), TensorSpec((1, 1, 9 * c, oc), bf, TILE),
             TensorSpec((1, 1, 1, oc), bf, TILE))  # fmt: skip
    return f, specs


@pytest.mark.parametrize("c, h, w, kind, n", [(128, 256, 256, WIDTH, 2), (128, 512, 128, HEIGHT, 2)])
def test_eager_slices_a_dram_conv_as_the_jit_records(monkeypatch, c, h, w, kind, n):
    """ttnn 0.81.1: "If set to None and input is in DRAM, DRAM slicing is automatically enabled". Eager's cost rule
    launches the slices (3 per slice: padded_slice, conv, slice_write); select_configs records the same choice,
    by the same rule, and the JIT launches the same (figures PREDICTED, n150)."""
    monkeypatch.setenv("TTFUSE_ARCH", "wormhole_b0")
    f, specs = _conv_hw(c, h, w, c)
    low = ttfuse.jit(f).lower(*specs)
    (eager,) = [k for k in low.cost.eager.nodes if k.op == "conv2d"]
    (jit,) = [k for k in low.cost.jit.nodes if k.op == "conv2d"]
    (row,) = low.program_configs
    assert (row.slice_config.slice_type, row.slice_config.num_slices) == (kind, n)
    assert row.chosen_by["slice_config"] == "select_configs"
    assert eager.launches == jit.launches == 3 * n
    assert (
        eager.dram_bytes + eager.l1_bytes == jit.dram_bytes + jit.l1_bytes
    )  # the same halo and weight rereads
    (node,) = [k for k in low.graph.nodes if k.op == "conv2d"]
    (note,) = [d.reason for d in node.side.decisions if d.by == "select_configs"]
    assert "ttnn slices it itself" in note and f"{kind.name} x {n} slices" in note
    # an input in L1 runs conv2d_L1: neither eager nor the JIT slices it
    l1 = TensorSpec(specs[0].shape, specs[0].dtype, TILE, ttnn.L1_MEMORY_CONFIG)
    low = ttfuse.jit(f).lower(l1, *specs[1:])
    assert low.program_configs[0].slice_config is None
    assert [k.launches for k in low.cost.eager.nodes if k.op == "conv2d"] == [1]


def test_eager_auto_sliced_conv_runs_the_slices_bit_equal(device, monkeypatch):
    """The simulator runs eager's automatic slices (one conv per slice over its input window, halo included): as
    many convs as slices, the values those of the unsliced conv (L1Full) bit for bit, and the JIT's equal."""
    import ttfuse.ops.conv as conv_mod

    tx, pw, pb, args = _prepared(device, 128, 256, 128)
    calls = []
    real = conv_mod._conv_nhwc
    monkeypatch.setattr(conv_mod, "_conv_nhwc", lambda *a: calls.append(1) or real(*a))

    def f(x, w, b, sl=None):
        return ttnn.conv2d(input_tensor=x, weight_tensor=w, bias_tensor=b, slice_config=sl, **args)

    auto = ttnn.to_torch(f(tx, pw, pb))
    assert len(calls) == 2  # DRAMSliceWidth x 2 on n150
    whole = ttnn.to_torch(
        f(tx, pw, pb, ttnn.Conv2dSliceConfig(slice_type=ttnn.Conv2dSliceConfig.SliceTypeEnum.L1Full))
    )
    assert len(calls) == 3 and torch.equal(auto, whole)
    assert torch.equal(ttnn.to_torch(ttfuse.jit(f)(tx, pw, pb)), auto)


def _conv_fn(c, hw, oc, slice_config=None):
    def f(x, w, b):
        return ttnn.conv2d(
            input_tensor=x, weight_tensor=w, bias_tensor=b, device=None, in_channels=c, out_channels=oc,
            batch_size=1, input_height=hw, input_width=hw, kernel_size=(3, 3), padding=(1, 1),
            slice_config=slice_config,
        )  # fmt: skip

    specs = (
        TensorSpec((1, 1, hw * hw, c), ttnn.bfloat16, ttnn.TILE_LAYOUT),
        TensorSpec((1, 1, 9 * c, oc), ttnn.bfloat16, ttnn.TILE_LAYOUT),
        TensorSpec((1, 1, 1, oc), ttnn.bfloat16, ttnn.TILE_LAYOUT),
    )
    return f, specs


def _lower_conv(monkeypatch, arch, f, specs):
    monkeypatch.setenv("TTFUSE_ARCH", arch)
    low = ttfuse.jit(f).lower(*specs)
    (node,) = [n for n in low.graph.nodes if n.op == "conv2d"]
    (cost,) = [c for c in low.cost.jit.nodes if c.op == "conv2d"]
    return low, node, cost


def test_sliced_cost_shows_the_trade(monkeypatch):
    """VAE-decoder size 256x256x256 on n150: the whole conv's per-core figure overflows, each slice's fits; the sliced
    call costs 3 launches per slice and reads its halo columns and the weights again (figures PREDICTED)."""
    f, specs = _conv_fn(256, 256, 256)
    _, node, sliced = _lower_conv(monkeypatch, "wormhole_b0", f, specs)
    n = node.attr("slice_config").num_slices
    assert n > 1 and sliced.launches == 3 * n
    full = ttnn.Conv2dSliceConfig(slice_type=ttnn.Conv2dSliceConfig.SliceTypeEnum.L1Full)
    f1, _ = _conv_fn(256, 256, 256, slice_config=full)
    _, node1, whole = _lower_conv(monkeypatch, "wormhole_b0", f1, specs)
    assert whole.launches == 1 and whole.flops == sliced.flops
    weights = specs[1].nbytes + specs[2].nbytes
    halo = (n - 1) * 2 * 256 * 256 * 2  # each inner slice boundary: two input columns read by both neighbours
    assert sliced.dram_bytes + sliced.l1_bytes == whole.dram_bytes + whole.l1_bytes + (n - 1) * weights + halo
    budget, spec = cb_limit("wormhole_b0"), device_spec("wormhole_b0")
    assert auto_slice_budget(spec) == budget  # eager's auto-slicing budget is the default JIT's
    a = {k: v for k, v in node.attrs}
    ins = {"input_tensor": specs[0], "weight_tensor": specs[1]}
    assert (
        conv_parallel_config({**dict(node1.attrs), "conv_config": None}, ins, spec, budget)[0].l1_bytes
        > budget
    )
    g = conv_geometry("conv2d", a)
    again, largest = conv_auto_slicing({**a, "conv_config": None, "slice_config": None}, ins, g, TILE, spec)
    assert again == node.attr("slice_config") and largest.l1_bytes <= budget
    print(f"\n256x256x256 conv on n150 (PREDICTED): whole {whole.launches} launch, {whole.dram_bytes / 2**20:.1f} MiB; "
          f"{n} slices {sliced.launches} launches, {sliced.dram_bytes / 2**20:.1f} MiB")  # fmt: skip


# ------------------------------------------------------------------------- SD1.4 blocks spec-only, per device
def _resnet_specs(c: int, hw: int, *, temb: int | None):
    """(args, static kwargs) of models.sd14.resnet.resnet_block as TensorSpecs: nothing is allocated."""
    bf, tile = ttnn.bfloat16, ttnn.TILE_LAYOUT
    gw = ttnn.from_torch(ttnn.create_group_norm_weight_bias_rm(torch.ones(c), c, 1), dtype=bf).spec
    gn = (gw, gw, ttnn.create_group_norm_input_mask(c, 32, 1).spec)
    conv = (TensorSpec((1, 1, 9 * c, c), bf, tile), TensorSpec((1, 1, 1, c), bf, tile))
    t = (None, None, None)
    if temb:
        t = (
            TensorSpec((1, 1, 1, temb), bf, tile),
            TensorSpec((temb, c), bf, tile),
            TensorSpec((1, c), bf, tile),
        )
    x = TensorSpec((1, 1, hw * hw, c), bf, tile)
    args = (x, t[0], *gn, *conv, t[1], t[2], *gn, *conv, None, None)
    static = dict(groups=32, eps=1e-5, hw=(hw, hw), cin=c, cout=c, scale=1.0, device=None,
                  conv_config=ttnn.Conv2dConfig(weights_dtype=bf), dtype=bf, cfg=None)  # fmt: skip
    return args, static


def _block_configs(monkeypatch, arch: str, c: int, hw: int, temb: int | None) -> list:
    from models.sd14.resnet import resnet_block

    monkeypatch.setenv("TTFUSE_ARCH", arch)
    args, static = _resnet_specs(c, hw, temb=temb)
    low = ttfuse.jit(resnet_block).lower(*args, **static)
    convs = [n for n in low.graph.nodes if n.op == "conv2d"]
    rows = [r for r in low.program_configs if r.op == "ttnn.conv2d"]
    assert len(convs) == len(rows) == 2
    return [(n, r) for n, r in zip(convs, rows)]


def _check_valid(node, row, arch: str) -> tuple:
    """The config the pass chose for `node` (the call's args as lowered), checked: a scheme ttnn takes, a multiple
    of 32 rows per act block, its cores within the device grid and its per-core L1 figure (of the largest slice
    when sliced) within a core's L1. Returns (shard layout, act_block_h, grid, num_slices)."""
    cfg, sl = row.program_config, row.slice_config
    assert cfg.shard_layout in (ttnn.TensorMemoryLayout.HEIGHT_SHARDED, ttnn.TensorMemoryLayout.BLOCK_SHARDED,
                                ttnn.TensorMemoryLayout.WIDTH_SHARDED)  # fmt: skip
    assert cfg.act_block_h_override > 0 and cfg.act_block_h_override % 32 == 0
    a = dict(node.attrs)
    g = conv_geometry("conv2d", a)
    spec = device_spec(arch)
    axis, ranges = slice_ranges(g, sl.slice_type.name, sl.num_slices, True) if sl else ("h", [(0, g["oh"])])
    worst = None
    for lo, hi in ranges:
        sg = slice_geometry(g, lo, hi, axis) if sl is not None else g
        ch = conv_choice(cfg.shard_layout, sg, spec.grid, in_dtype=ttnn.bfloat16, w_dtype=ttnn.bfloat16,
                         out_dtype=ttnn.bfloat16, in_layout=ttnn.TILE_LAYOUT,
                         act_block_h_override=cfg.act_block_h_override)  # fmt: skip
        worst = ch if worst is None or ch.l1_bytes > worst.l1_bytes else worst
    assert worst.grid[0] <= spec.grid[0] and worst.grid[1] <= spec.grid[1], (arch, worst)
    assert worst.l1_bytes <= spec.l1_per_core, (arch, worst.describe())
    return cfg.shard_layout.name, cfg.act_block_h_override, worst.grid, sl.num_slices if sl else 1


# SD1.4 UNet at 512x512 (64x64 latents): the ResnetBlock2D of each down level, time embedding 1280
UNET_LEVELS = [(320, 64), (640, 32), (1280, 16), (1280, 8)]


def test_sd14_unet_resnets_pick_different_valid_configs_per_device(monkeypatch, capsys):
    picked = {}
    for arch in ARCHS:
        picked[arch] = []
        for c, hw in UNET_LEVELS:
            for node, row in _block_configs(monkeypatch, arch, c, hw, temb=1280):
                picked[arch].append(((c, hw), _check_valid(node, row, arch)))
    with capsys.disabled():
        print("\nSD1.4 UNet ResnetBlock2D convs (shard layout, act_block_h, grid, slices):")
        for arch, rows in picked.items():
            for (c, hw), cfg in rows[::2]:  # both convs of a block get the same config
                print(f"  {ARCHS[arch]:22s} {c:5d}ch {hw:3d}x{hw:<3d} {cfg}")
    assert picked["wormhole_b0"] != picked["blackhole"]
    differ = [wh[0] for wh, bh in zip(picked["wormhole_b0"], picked["blackhole"]) if wh[1] != bh[1]]
    assert (320, 64) in differ  # the 64x64 level: the grids differ (8x8 vs 13x10) and so does its config


@pytest.mark.parametrize("c, hw", [(128, 512), (256, 256)])
def test_vae_decoder_convs_are_sliced_on_n150(monkeypatch, c, hw):
    """SD1.4's VAE decoder at 512x512: its last up blocks' 3x3 convs (128ch at 512x512, 256ch at 256x256) do not
    fit a core's L1 whole on n150: each gets the slices tt-metal's auto slicing picks (width slices for an input at
    least 200 wide and as wide as tall, with a TILE output) whose largest fits; the p150's larger grid needs no more
    slices than the n150's."""
    counts = {}
    for arch in ARCHS:
        for node, row in _block_configs(monkeypatch, arch, c, hw, temb=None):
            layout, abh, grid, n = _check_valid(node, row, arch)
            assert row.slice_config.slice_type == WIDTH and n > 1, (arch, row)
            assert dataclasses.asdict(row.slice_config)["num_slices"] == n
            counts.setdefault(arch, set()).add(n)
    assert max(counts["blackhole"]) <= min(counts["wormhole_b0"])


# ------------------------------------------------------------------------------------------ conv_transpose2d
def test_conv_transpose2d_gets_conv_configs_and_cost(device, monkeypatch):
    """conv_transpose2d is chosen for and costed as the stride-1 conv tt-metal runs it as (its input spread by the
    stride and padded): the pass writes its conv_config; JIT equals eager; the cost counts the equivalent conv's
    MACs spread as its config spreads them (PREDICTED)."""
    n, c, h, w, oc = 1, 32, 32, 32, 64
    torch.manual_seed(2)
    tx = ttnn.from_torch(nhwc_flat(torch.randn(n, c, h, w)), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT,
                         device=device)  # fmt: skip
    tw = ttnn.from_torch(torch.randn(c, oc, 4, 4) * 0.1)
    a = dict(device=device, in_channels=c, out_channels=oc, batch_size=n, input_height=h, input_width=w,
             kernel_size=(4, 4), stride=(2, 2), padding=(1, 1), output_padding=(0, 0), dilation=(1, 1), groups=1)  # fmt: skip

    def f(x, wt):
        return ttnn.conv_transpose2d(input_tensor=x, weight_tensor=wt, **a)

    g = transpose_geometry(a)
    eq = transpose_as_conv(g)
    assert (eq["input_height"], eq["sh"], eq["pt"], eq["oh"]) == (67, 1, 0, 64)
    rows = {}
    for arch in ARCHS:
        monkeypatch.setenv("TTFUSE_ARCH", arch)
        low = ttfuse.jit(f).lower(tx.spec, tw.spec)  # spec-only: the target is TTFUSE_ARCH's device
        (row,) = low.program_configs
        (cost,) = [x for x in low.cost.jit.nodes if x.op == "conv_transpose2d"]
        assert ARCHS[arch] in [d.reason for d in low.graph.nodes[-1].side.decisions][0]
        assert row.op == "ttnn.conv_transpose2d" and row.chosen_by["conv_config"] == "select_configs"
        assert row.program_config.act_block_h_override % 32 == 0 and row.slice_config is None
        assert cost.flops == 2.0 * 64 * 64 * oc * 16 * c  # OH*OW*OC*KH*KW*IC: the zeros are multiplied too
        rows[arch] = (row.program_config, cost.math_us)
    assert rows["blackhole"][1] < rows["wormhole_b0"][1]  # more cores share the tiles
    monkeypatch.setenv("TTFUSE_ARCH", "wormhole_b0")
    assert torch.equal(ttnn.to_torch(ttfuse.jit(f)(tx, tw)), ttnn.to_torch(f(tx, tw)))


# ------------------------------------------------------------------------------------------------- explain
def test_explain_shows_slices_shard_layout_and_act_block(tmp_path):
    from click.testing import CliRunner

    from ttfuse.cli import main

    mod = tmp_path / "explain_conv_mod.py"
    mod.write_text(
        "from ttfuse import ttnn\n\n"
        "def conv(x, w, b):\n"
        "    return ttnn.conv2d(input_tensor=x, weight_tensor=w, bias_tensor=b, device=None, in_channels=256,\n"
        "                       out_channels=256, batch_size=1, input_height=256, input_width=256,\n"
        "                       kernel_size=(3, 3), padding=(1, 1))\n"
    )
    specs = ["bf16[1,1,65536,256]", "bf16[1,1,2304,256]", "bf16[1,1,1,256]"]
    r = CliRunner().invoke(main, ["explain", f"{mod}:conv", "--arch", "wormhole_b0", "--args", *specs])
    assert r.exit_code == 0, r.output
    configs = r.output.split("program configs", 1)[1].split("fusion coverage", 1)[0]
    assert "%3 ttnn.conv2d" in configs and "slice_type=ttnn.SliceTypeEnum.DRAMSliceWidth" in configs
    assert "num_slices=2" in configs and "shard_layout=ttnn.TensorMemoryLayout.BLOCK_SHARDED" in configs
    assert "act_block_h_override=256" in configs
    after = r.output.split("IR after passes", 1)[1].split("generated source", 1)[0]
    assert "slice_config=Conv2dSliceConfig(" in after
    cost = r.output.split("cost report", 1)[1]
    assert "conv2d" in cost and "predicted" in cost


def test_max_pool2d_dram_slices_cost_launches_and_halo(device):
    """max_pool2d with a dram_slice_config: the same values (a max needs no order), 3 launches per slice and the
    shared window rows read again (PREDICTED)."""
    x = ttnn.from_torch(torch.randn(1, 1, 16 * 12, 8), dtype=ttnn.bfloat16, device=device)
    sl = ttnn.Conv2dSliceConfig(slice_type=HEIGHT, num_slices=3)

    def pool(t, cfg=None):
        return ttnn.max_pool2d(t, 1, 16, 12, 8, (3, 3), (1, 1), (1, 1), (1, 1), dram_slice_config=cfg)

    assert torch.equal(ttnn.to_torch(pool(x, sl)), ttnn.to_torch(pool(x)))
    costs = {}
    for cfg in (None, sl):
        low = ttfuse.jit(pool).lower(x.spec, cfg)
        (costs[cfg],) = [c for c in low.cost.jit.nodes if c.op == "max_pool2d"]
    whole, sliced = costs[None], costs[sl]
    assert (whole.launches, sliced.launches) == (1, 9)
    # slices of output rows 0-5, 6-10, 11-15 read input rows 0-6, 5-11, 10-15: 4 rows twice
    assert sliced.dram_bytes + sliced.l1_bytes - whole.dram_bytes - whole.l1_bytes == 4 * 12 * 8 * 2
