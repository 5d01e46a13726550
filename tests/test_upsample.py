"""ttnn.upsample (nearest) on the sim vs torch.nn.functional.interpolate, NHWC [N, H, W, C]."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import ttfuse
from tests.conftest import pcc
from ttfuse import ttnn
from ttfuse.errors import SpecError


@pytest.mark.parametrize(
    ("scale", "shape"), [(2, (1, 4, 4, 320)), ((2, 3), (2, 3, 5, 40)), (3, (1, 2, 2, 7))]
)
@pytest.mark.parametrize("layout", ["ROW_MAJOR_LAYOUT", "TILE_LAYOUT"])
def test_upsample_nearest_vs_torch(device, scale, shape, layout):
    torch.manual_seed(0)
    x = torch.randn(*shape)
    t = ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=getattr(ttnn, layout), device=device)
    y = ttnn.upsample(t, list(scale) if isinstance(scale, tuple) else scale)
    sf = scale if isinstance(scale, tuple) else (scale, scale)
    ref = F.interpolate(x.permute(0, 3, 1, 2), scale_factor=sf, mode="nearest").permute(0, 2, 3, 1)
    out = ttnn.to_torch(y).float()
    assert out.shape == ref.shape
    assert pcc(ref, out) > 0.999
    assert (out - ref.bfloat16().float()).abs().max() == 0  # nearest copies stored values


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
