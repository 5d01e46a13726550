"""ttnn.upsample (nearest) on the sim vs torch.nn.functional.interpolate, NHWC [N, H, W, C]; the device's
source indices for fractional scales; height-sharded inputs; bad arguments raise SpecErrors naming them."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import ttfuse
from tests.conftest import pcc
from ttfuse import ttnn
from ttfuse.errors import SpecError
from ttfuse.ops.data_movement import upsample_source_index


@pytest.mark.parametrize(
    ("scale", "shape", "layout"),
    [
        (2, (1, 4, 4, 320), "ROW_MAJOR_LAYOUT"),
        ((2, 3), (2, 3, 5, 40), "ROW_MAJOR_LAYOUT"),
        (3, (1, 2, 2, 7), "ROW_MAJOR_LAYOUT"),
        (2, (1, 2, 32, 64), "TILE_LAYOUT"),
        (1.5, (1, 6, 10, 32), "ROW_MAJOR_LAYOUT"),
        ((2.5, 1.25), (1, 5, 7, 16), "ROW_MAJOR_LAYOUT"),
    ],
)
def test_upsample_nearest_vs_torch(device, scale, shape, layout):
    torch.manual_seed(0)
    x = torch.randn(*shape)
    t = ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=getattr(ttnn, layout), device=device)
    y = ttnn.upsample(t, list(scale) if isinstance(scale, tuple) else scale)
    assert y.layout == ttnn.ROW_MAJOR_LAYOUT and y.dtype == ttnn.bfloat16  # ttnn writes row-major sticks
    sf = scale if isinstance(scale, tuple) else (scale, scale)
    ref = F.interpolate(x.permute(0, 3, 1, 2), scale_factor=sf, mode="nearest").permute(0, 2, 3, 1)
    out = ttnn.to_torch(y).float()
    assert out.shape == ref.shape
    assert pcc(ref, out) > 0.999
    assert (out - ref.bfloat16().float()).abs().max() == 0  # nearest copies stored values


def test_upsample_float_scale_device_indices():
    """Non-integer scales read input row (dst * ceil(2^16 / s)) >> 16 (Q16.16, reciprocal rounded up)."""
    assert upsample_source_index(10, 4, 2.5).tolist() == [min(int(d / 2.5 + 1e-6), 3) for d in range(10)]
    assert upsample_source_index(6, 2, 3).tolist() == [0, 0, 0, 1, 1, 1]
    assert upsample_source_index(5, 4, 1.25).tolist() == [0, 0, 1, 2, 3]


def test_upsample_height_sharded(device):
    x = torch.randn(1, 8, 8, 64)
    mc = ttnn.create_sharded_memory_config(
        (1, 1, 64, 64), core_grid=ttnn.CoreGrid(y=1, x=2), strategy=ttnn.ShardStrategy.HEIGHT
    )
    t = ttnn.from_torch(x, dtype=ttnn.bfloat16, device=device, memory_config=mc)
    y = ttnn.upsample(t, 2)
    assert y.memory_config().shard_spec.shape == (128, 64)
    ref = F.interpolate(x.permute(0, 3, 1, 2), scale_factor=2, mode="nearest").permute(0, 2, 3, 1)
    assert torch.equal(ttnn.to_torch(y).float(), ref.bfloat16().float())


def test_upsample_jit_equals_eager(device):
    x = ttnn.from_torch(torch.randn(1, 4, 4, 64), dtype=ttnn.bfloat16, device=device)

    def block(a):
        return ttnn.upsample(a, 2)

    assert torch.equal(ttnn.to_torch(block(x)), ttnn.to_torch(ttfuse.jit(block)(x)))


def test_upsample_bad_arguments(device):
    x = ttnn.from_torch(torch.randn(1, 4, 4, 64), dtype=ttnn.bfloat16, device=device)
    with pytest.raises(SpecError, match=r"ttnn\.upsample.*'scale_factor'"):
        ttnn.upsample(x, [2, 2, 2])
    with pytest.raises(SpecError, match=r"ttnn\.upsample.*'mode'"):
        ttnn.upsample(x, 2, mode="bicubic")
    x3 = ttnn.from_torch(torch.randn(4, 4, 64), dtype=ttnn.bfloat16, device=device)
    with pytest.raises(SpecError, match=r"ttnn\.upsample.*'input_tensor'"):
        ttnn.upsample(x3, 2)
    xt = ttnn.from_torch(
        torch.randn(1, 4, 4, 64), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device
    )
    with pytest.raises(SpecError, match=r"ttnn\.upsample.*'input_tensor'.*tile aligned"):
        ttnn.upsample(xt, 2)
