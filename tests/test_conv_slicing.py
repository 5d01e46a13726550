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
from ttfuse.ops.conv import conv_geometry, conv_parallel_config, transpose_as_conv, transpose_geometry
from ttfuse.ops.conv_config import conv_choice, output_slices, slice_geometry
from ttfuse.passes.place_memory import CB_RESERVE_FRACTION
from ttfuse.types import TensorSpec

HEIGHT = ttnn.Conv2dSliceConfig.SliceTypeEnum.DRAMSliceHeight
WIDTH = ttnn.Conv2dSliceConfig.SliceTypeEnum.DRAMSliceWidth
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
    assert (first["in_start"], first["input_height"], first["pt"], first["pb"], first["oh"]) == (0, 5, 1, 0, 4)
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
