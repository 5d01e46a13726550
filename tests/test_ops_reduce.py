"""Reductions (sum, mean, max, min, std, var, argmax) vs torch goldens: shapes, keepdim, dims, dtypes, errors."""

import math

import pytest
import torch

import ttfuse
from ttfuse import ttnn
from ttfuse.errors import DeviceError, SpecError
from ttfuse.numerics import round_to_dtype
from ttfuse.opdef import CostCtx
from ttfuse.ops.reduce import reduce_dims, reduce_launches
from ttfuse.testing import pcc


def dev(device, x, dtype=ttnn.float32, layout=ttnn.TILE_LAYOUT, memory_config=None):
    return ttnn.from_torch(x, dtype=dtype, layout=layout, device=device, memory_config=memory_config)


def vals(t):
    out = ttnn.to_torch(t)
    return out.float() if out.is_floating_point() else out


def torch_dims(dim, rank):
    if dim is None or dim == []:
        return tuple(range(rank))
    return (dim,) if isinstance(dim, int) else tuple(dim)


GOLDEN = {
    "sum": lambda x, d, k: torch.sum(x, d, keepdim=k),
    "mean": lambda x, d, k: torch.mean(x, d, keepdim=k),
    "max": lambda x, d, k: torch.amax(x, d, keepdim=k),
    "min": lambda x, d, k: torch.amin(x, d, keepdim=k),
    "std": lambda x, d, k: torch.std(x, d, keepdim=k),
    "var": lambda x, d, k: torch.var(x, d, keepdim=k),
}
DIMS = [-1, -2, [-2, -1], 0, [0, 2], None, [], (1, 2)]


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", DIMS, ids=str)
@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_reduce_float32(device, name, dim, keepdim):
    x = torch.randn(3, 40, 72)
    with ttfuse.sim.count_launches(device) as launches:
        y = getattr(ttnn, name)(dev(device, x), dim, keepdim)
    golden = GOLDEN[name](x, torch_dims(dim, 3), keepdim)
    assert y.shape == list(golden.shape) and y.dtype == ttnn.float32 and y.layout == ttnn.TILE_LAYOUT
    assert y.memory_config() == ttnn.DRAM_MEMORY_CONFIG
    spec = ttnn.TensorSpec((3, 40, 72), ttnn.float32, ttnn.TILE_LAYOUT)
    assert launches.by_op == {name: reduce_launches(name, spec, reduce_dims(name, dim, 3))}
    assert torch.equal(vals(y), golden)  # same float32 computation


@pytest.mark.parametrize("dim", [-1, -2, [0, 1, 2]], ids=str)
@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_reduce_bfloat16(device, name, dim):
    t = dev(device, torch.randn(2, 64, 96) + 0.5, ttnn.bfloat16)
    x = vals(t)
    y = getattr(ttnn, name)(t, dim=dim, memory_config=ttnn.L1_MEMORY_CONFIG)
    assert y.dtype == ttnn.bfloat16 and y.memory_config() == ttnn.L1_MEMORY_CONFIG
    golden = GOLDEN[name](x.double(), torch_dims(dim, 3), False)
    ref = golden.float().to(torch.bfloat16).float()  # independent bf16 rounding of the float64 golden
    out = vals(y)
    _, e = torch.frexp(ref.abs().clamp_min(2.0**-126))
    ulp = torch.ldexp(torch.ones_like(ref), e - 8)
    assert ((out - ref).abs() <= ulp).all()


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min", "var"])
def test_reduce_bfloat8_b(device, name):
    t = dev(device, torch.randn(64, 128), ttnn.bfloat8_b)
    x = vals(t)
    out = vals(getattr(ttnn, name)(t, dim=-1, keepdim=True))
    golden = GOLDEN[name](x, (1,), True)
    assert torch.equal(out, round_to_dtype(golden, "bfloat8_b"))
    assert pcc(out, GOLDEN[name](x.double(), (1,), True)) >= 0.99


def test_reduce_int32(device):
    x = torch.randint(-50, 50, (4, 32, 64), dtype=torch.int32)
    t = dev(device, x, ttnn.int32)
    for name, f in (("sum", torch.sum), ("max", torch.amax), ("min", torch.amin)):
        y = getattr(ttnn, name)(t, -1)
        assert y.dtype == ttnn.int32 and torch.equal(ttnn.to_torch(y).long(), f(x.long(), -1))
    with pytest.raises(
        SpecError, match="ttnn.mean: argument 'input_tensor' has dtype int32; ttnn.mean does not"
    ):
        ttnn.mean(t, -1)
    with pytest.raises(SpecError, match="ttnn.std: argument 'input_tensor' has dtype int32; supported: "):
        ttnn.std(t, -1)


def test_reduce_scalar_and_correction(device):
    x = torch.randn(4, 64, 64)
    t = dev(device, x)
    assert torch.equal(vals(ttnn.sum(t, -1, scalar=0.5)), x.sum(-1) * 0.5)
    assert torch.equal(vals(ttnn.mean(t, [0, 1], scalar=2.0)), x.mean((0, 1)) * 2.0)
    assert torch.equal(vals(ttnn.max(t, -2, scalar=-1.0)), x.amax(-2) * -1.0)  # scalar * max(x)
    assert torch.equal(vals(ttnn.var(t, -1, correction=False)), x.var(-1, correction=0))
    assert torch.equal(vals(ttnn.std(t, -1, scalar=3.0)), (x * 3.0).std(-1))  # scales the input
    # one element per reduction: NaN with Bessel's correction, 0 without (as torch and ttnn)
    one = dev(device, torch.randn(4, 1, 64))
    assert vals(ttnn.var(one, 1)).isnan().all()
    assert torch.equal(vals(ttnn.std(one, 1, correction=False)), torch.zeros(4, 64))


def test_reduce_output_specs(device):
    x = torch.randn(2, 3, 40, 72)
    t = dev(device, x)
    y = ttnn.sum(t, -1)
    assert y.shape == [2, 3, 40] and y.padded_shape == [2, 32, 64]
    y = ttnn.sum(t, -1, keepdim=True)
    assert y.shape == [2, 3, 40, 1] and y.padded_shape == [2, 3, 64, 32]
    y = ttnn.mean(t)
    assert y.shape == [] and y.padded_shape == [] and vals(y).shape == ()
    assert torch.equal(vals(y), x.mean())
    y = ttnn.max(t, keepdim=True)
    assert y.shape == [1, 1, 1, 1]
    # sum/mean of a 4-D interleaved ROW_MAJOR bf16/f32 tensor over -1 or -2 stays ROW_MAJOR; others are TILE
    rm = dev(device, x, layout=ttnn.ROW_MAJOR_LAYOUT)
    assert ttnn.sum(rm, -1).layout == ttnn.ROW_MAJOR_LAYOUT
    assert ttnn.mean(rm, -2).layout == ttnn.ROW_MAJOR_LAYOUT
    assert ttnn.max(rm, -1).layout == ttnn.TILE_LAYOUT
    assert ttnn.sum(rm, 0).layout == ttnn.TILE_LAYOUT
    assert ttnn.sum(dev(device, x[0], layout=ttnn.ROW_MAJOR_LAYOUT), -1).layout == ttnn.TILE_LAYOUT
    assert ttnn.sum(t, -1, output_layout=ttnn.ROW_MAJOR_LAYOUT).layout == ttnn.ROW_MAJOR_LAYOUT
    assert torch.equal(vals(ttnn.sum(rm, -1)), x.sum(-1))
    # rank 0 input: a copy
    s = ttnn.sum(t)
    c = ttnn.sum(s)
    assert c.shape == [] and torch.equal(vals(c), vals(s))


def test_reduce_bad_inputs(device):
    t = dev(device, torch.randn(2, 32, 64))
    with pytest.raises(
        SpecError, match=r"ttnn.sum: argument 'dim'=3: dim 3 is out of range for a rank-3 tensor"
    ):
        ttnn.sum(t, 3)
    with pytest.raises(SpecError, match=r"ttnn.max: argument 'dim'=\[1, -2\] names dim 1 twice"):
        ttnn.max(t, [1, -2])
    with pytest.raises(
        SpecError, match="ttnn.mean: argument 'dim' must be an int, a list of ints or None, got 'x'"
    ):
        ttnn.mean(t, "x")
    with pytest.raises(SpecError, match="ttnn.sum: argument 'keepdim' must be a bool"):
        ttnn.sum(t, -1, 1)
    with pytest.raises(SpecError, match="ttnn.sum: argument 'scalar' must be a number"):
        ttnn.sum(t, -1, scalar="2")
    with pytest.raises(
        SpecError, match="ttnn.min: fast_and_approximate_mode=True is rejected for a float32 min"
    ):
        ttnn.min(t, -1, fast_and_approximate_mode=True)
    with pytest.raises(
        SpecError, match="ttnn.var: argument 'input_tensor' must be a ttnn.Tensor, got a torch.Tensor"
    ):
        ttnn.var(torch.ones(3))
    with pytest.raises(SpecError, match="ttnn.sum: argument 'compute_kernel_config' must be a"):
        ttnn.sum(t, -1, compute_kernel_config={"math_fidelity": "HiFi4"})
    bfp4 = dev(device, torch.randn(32, 64), ttnn.bfloat4_b)
    with pytest.raises(SpecError, match="ttnn.sum: argument 'input_tensor' has dtype bfloat4_b; supported: "):
        ttnn.sum(bfp4, -1)
    bfp8 = dev(device, torch.randn(32, 64), ttnn.bfloat8_b)
    with pytest.raises(SpecError, match="ttnn.sum: output_layout=ROW_MAJOR is not supported for a bfloat8_b"):
        ttnn.sum(bfp8, -1, output_layout=ttnn.ROW_MAJOR_LAYOUT)
    with pytest.raises(SpecError, match="ttnn.max: got an unexpected keyword argument 'output_layout'"):
        ttnn.max(t, -1, output_layout=ttnn.TILE_LAYOUT)
    host = ttnn.from_torch(torch.randn(32, 32), dtype=ttnn.float32, layout=ttnn.TILE_LAYOUT)
    with pytest.raises(SpecError, match="ttnn.sum: argument 'input_tensor' is on the host"):
        ttnn.sum(host, -1)
    ttnn.deallocate(t)
    with pytest.raises(DeviceError, match="ttnn.mean: argument 'input_tensor' was deallocated"):
        ttnn.mean(t, -1)


def test_reduce_sharded(device):
    cfg = ttnn.MemoryConfig(
        ttnn.TensorMemoryLayout.HEIGHT_SHARDED,
        ttnn.BufferType.L1,
        ttnn.ShardSpec(
            ttnn.CoreRangeSet([ttnn.CoreRange(ttnn.CoreCoord(0, 0), ttnn.CoreCoord(1, 0))]), (64, 64)
        ),
    )
    x = torch.randn(2, 64, 64)
    t = dev(device, x, memory_config=cfg)
    y = ttnn.sum(t, -1, keepdim=True)
    assert y.memory_config() == cfg and torch.equal(vals(y), x.sum(-1, keepdim=True))
    with pytest.raises(SpecError, match=r"ttnn.sum: a sharded input can only be reduced along dims -1 / -2"):
        ttnn.sum(t, 0)


def test_reduce_cost_launches(device):
    f32 = dev(device, torch.randn(2, 3, 64, 64)).spec
    bf16 = dev(device, torch.randn(2, 3, 64, 64), ttnn.bfloat16).spec
    odd = dev(device, torch.randn(2, 3, 40, 72)).spec
    assert reduce_launches("sum", f32, (3,)) == 1
    assert reduce_launches("max", f32, (2, 3)) == 1
    assert reduce_launches("max", odd, (3,)) == 2  # + fill_implicit_tile_padding
    assert reduce_launches("mean", f32, (1,)) == 3  # transpose, reduce, transpose
    assert reduce_launches("mean", f32, (0, 3)) == 4
    assert reduce_launches("sum", bf16, (0, 1)) == 2  # fast_reduce_nc + slice
    assert reduce_launches("var", f32, (3,)) == 1
    assert reduce_launches("var", f32, (1,)) == 3  # permute, welford, permute
    op = ttnn.mean
    c = op.cost_rule(
        CostCtx(op, {"input_tensor": f32}, [op.spec_rule(f32, 1)], {"input_tensor": f32, "dim": 1})
    )
    assert c.launches == 3 and c.flops == f32.numel


@pytest.mark.parametrize("dtype", [ttnn.float32, ttnn.bfloat16])
def test_argmax(device, dtype):
    x = torch.randn(2, 8, 48)
    rm = dev(device, x, dtype, ttnn.ROW_MAJOR_LAYOUT)
    xv = vals(rm)
    y = ttnn.argmax(rm, dim=-1)
    assert y.shape == [2, 8] and y.dtype == ttnn.uint32 and y.layout == ttnn.ROW_MAJOR_LAYOUT
    assert torch.equal(ttnn.to_torch(y).long(), torch.argmax(xv, -1))
    y = ttnn.argmax(rm, dim=1, keepdim=True)
    assert y.shape == [2, 1, 48] and torch.equal(ttnn.to_torch(y).long(), torch.argmax(xv, 1, keepdim=True))
    y = ttnn.argmax(rm)
    assert y.shape == [] and ttnn.to_torch(y).item() == torch.argmax(xv).item()
    assert ttnn.argmax(rm, keepdim=True).shape == [1, 1, 1]
    tile = dev(device, x, dtype)
    assert torch.equal(ttnn.to_torch(ttnn.argmax(tile, dim=-1)).long(), torch.argmax(vals(tile), -1))


def test_argmax_bad_inputs(device):
    tile = dev(device, torch.randn(32, 64))
    with pytest.raises(SpecError, match="ttnn.argmax: dim=None .* needs a ROW_MAJOR input"):
        ttnn.argmax(tile)
    with pytest.raises(SpecError, match="ttnn.argmax: argument 'dim'=2 is out of range for a rank-2 tensor"):
        ttnn.argmax(tile, dim=2)
    with pytest.raises(SpecError, match="ttnn.argmax: argument 'dim' must be an int or None"):
        ttnn.argmax(tile, dim=[0, 1])
    i = dev(device, torch.randint(0, 9, (32, 64), dtype=torch.int32), ttnn.int32)
    with pytest.raises(SpecError, match="ttnn.argmax: argument 'input_tensor' has dtype int32; supported: "):
        ttnn.argmax(i, dim=-1)  # TILE last-dim argmax: bf16/f32 only
    irm = dev(device, torch.randint(0, 9, (32, 64), dtype=torch.int32), ttnn.int32, ttnn.ROW_MAJOR_LAYOUT)
    assert torch.equal(ttnn.to_torch(ttnn.argmax(irm, dim=-1)).long(), torch.argmax(vals(irm), -1))
    with pytest.raises(SpecError, match="ttnn.argmax: argument 'output_tensor' is .*; the op computes"):
        ttnn.argmax(tile, dim=-1, output_tensor=tile)
    with pytest.raises(SpecError, match="ttnn.argmax: sharded tensors are not supported"):
        ttnn.argmax(tile, dim=-1, memory_config=ttnn.L1_HEIGHT_SHARDED_MEMORY_CONFIG)


def test_mean_matches_torch_large(device):
    x = torch.randn(8, 256, 512) * 3 + 1
    t = dev(device, x, ttnn.bfloat16)
    out = vals(ttnn.mean(t, -1))
    assert pcc(out, vals(t).double().mean(-1)) > 0.9999
    assert math.isclose(float(vals(ttnn.sum(t)).item()), float(vals(t).double().sum()), rel_tol=2**-8)
