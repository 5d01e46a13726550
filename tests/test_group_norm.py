"""ttnn.group_norm on the sim vs torch.nn.functional.group_norm, in TT's [N, 1, H*W, C] layout with the
weight/bias/mask helpers; JIT equals eager; bad arguments raise SpecErrors naming the op and the argument."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import ttfuse
from tests.conftest import pcc
from ttfuse import ttnn
from ttfuse.errors import SpecError


def _nhwc(x: torch.Tensor) -> torch.Tensor:
    n, c, h, w = x.shape
    return x.permute(0, 2, 3, 1).reshape(n, 1, h * w, c)


def _nchw(y: torch.Tensor, n, c, h, w) -> torch.Tensor:
    return y.float().reshape(n, h, w, c).permute(0, 3, 1, 2)


def _inputs(device, x, w, b, groups, dtype):
    c = x.shape[1]
    xt = ttnn.from_torch(_nhwc(x), dtype=dtype, layout=ttnn.TILE_LAYOUT, device=device)
    wt = ttnn.from_torch(ttnn.create_group_norm_weight_bias_rm(w, c, 1), dtype=dtype, device=device)
    bt = ttnn.from_torch(ttnn.create_group_norm_weight_bias_rm(b, c, 1), dtype=dtype, device=device)
    m = ttnn.to_device(ttnn.create_group_norm_input_mask(c, groups, 1), device)
    return xt, wt, bt, m


@pytest.mark.parametrize(
    ("n", "c", "h", "w", "groups"),
    [(1, 64, 4, 4, 32), (2, 320, 8, 8, 32), (1, 96, 5, 3, 8), (1, 128, 6, 6, 4), (1, 640, 4, 4, 32)],
)
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_group_norm_vs_torch(device, n, c, h, w, groups, dtype):
    torch.manual_seed(c + groups)
    x = torch.randn(n, c, h, w) * 2 + 0.5
    wgt, bias = torch.randn(c), torch.randn(c)
    td = getattr(ttnn, dtype)
    xt, wt, bt, m = _inputs(device, x, wgt, bias, groups, td)
    y = ttnn.group_norm(xt, num_groups=groups, input_mask=m, weight=wt, bias=bt, epsilon=1e-5)
    assert list(y.shape) == [n, 1, h * w, c] and y.dtype == td
    out = _nchw(ttnn.to_torch(y), n, c, h, w)
    ref = F.group_norm(x, groups, wgt, bias, 1e-5)
    err = (out - ref).abs().max().item()
    if dtype == "float32":
        assert pcc(ref, out) > 0.99999 and err < 1e-3
    else:  # bf16 inputs and params, float32 math, bf16 output
        assert pcc(ref, out) > 0.999 and err < 0.15


def test_group_norm_is_per_group(device):
    """Shifting one group's channels moves nothing in the others (the groups are C/num_groups channels)."""
    torch.manual_seed(1)
    x = torch.randn(1, 64, 4, 4)
    ones, zeros = torch.ones(64), torch.zeros(64)
    y0 = ttnn.to_torch(ttnn.group_norm(_inputs(device, x, ones, zeros, 4, ttnn.float32)[0], num_groups=4))
    x2 = x.clone()
    x2[:, 16:32] = x2[:, 16:32] * 5 + 3  # group 1 only: its normalized values stay, the others too
    x2[:, 0] += 10  # group 0 changes
    y1 = ttnn.to_torch(ttnn.group_norm(_inputs(device, x2, ones, zeros, 4, ttnn.float32)[0], num_groups=4))
    d = (y1 - y0).abs().reshape(16, 64).amax(0)
    assert d[16:].max() < 1e-4 and d[:16].max() > 0.1


def test_group_norm_mask_shape_matches_wheel():
    """Shapes read from ttnn 0.81.1's create_group_norm_input_mask (64,32,1) (320,32,1) (640,32,4,rows=3)."""
    assert list(ttnn.create_group_norm_input_mask(64, 32, 1).shape) == [1, 32, 32, 32]
    assert list(ttnn.create_group_norm_input_mask(320, 32, 1).shape) == [1, 32, 32, 64]
    assert list(ttnn.create_group_norm_input_mask(640, 32, 4, rows_in_last_tile=3).shape) == [1, 64, 32, 64]
    wb = ttnn.create_group_norm_weight_bias_rm(torch.arange(96.0), 96, 2)  # 48 per core -> padded to 64
    assert list(wb.shape) == [1, 1, 4, 32]
    assert (
        wb.reshape(2, 64)[0, :48].tolist() == list(range(48)) and wb.reshape(2, 64)[0, 48:].abs().sum() == 0
    )


def test_group_norm_jit_equals_eager(device):
    torch.manual_seed(2)
    x = torch.randn(1, 320, 8, 8)
    xt, wt, bt, m = _inputs(device, x, torch.randn(320), torch.randn(320), 32, ttnn.bfloat16)

    def block(a):
        return ttnn.silu(ttnn.group_norm(a, num_groups=32, input_mask=m, weight=wt, bias=bt, epsilon=1e-5))

    eager = ttnn.to_torch(block(xt)).float()
    jit = ttnn.to_torch(ttfuse.jit(block)(xt)).float()
    assert pcc(eager, jit) > 0.9995
    assert (eager - jit).abs().max() < 0.05


def test_group_norm_bad_arguments(device):
    x = torch.randn(1, 64, 4, 4)
    xt, wt, _, m = _inputs(device, x, torch.ones(64), torch.zeros(64), 32, ttnn.bfloat16)
    with pytest.raises(SpecError, match=r"ttnn\.group_norm.*'num_groups'"):
        ttnn.group_norm(xt, num_groups=3)
    x48 = ttnn.from_torch(
        torch.randn(1, 1, 16, 48), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device
    )
    with pytest.raises(SpecError, match=r"ttnn\.group_norm.*'input_tensor'.*multiple of 32"):
        ttnn.group_norm(x48, num_groups=3)
    with pytest.raises(SpecError, match=r"ttnn\.group_norm.*'dtype'"):
        ttnn.group_norm(xt, num_groups=32, dtype=ttnn.float32)
    with pytest.raises(SpecError, match=r"ttnn\.group_norm.*'input_mask'"):
        ttnn.group_norm(xt, num_groups=8, input_mask=m)
    with pytest.raises(SpecError, match=r"ttnn\.group_norm.*'core_grid'"):
        ttnn.group_norm(xt, num_groups=32, core_grid=ttnn.CoreGrid(y=20, x=20))
    bad_w = ttnn.from_torch(torch.ones(1, 1, 1, 32), dtype=ttnn.bfloat16, device=device)
    with pytest.raises(SpecError, match=r"ttnn\.group_norm.*'weight'"):
        ttnn.group_norm(xt, num_groups=32, weight=bad_w)
    rm = ttnn.from_torch(_nhwc(x), dtype=ttnn.bfloat16, device=device)
    with pytest.raises(SpecError, match=r"ttnn\.group_norm.*'input_tensor'.*TILE"):
        ttnn.group_norm(rm, num_groups=32)
