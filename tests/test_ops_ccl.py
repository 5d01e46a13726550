"""Collectives on 1x2, 2x1, 2x2 and 2x4 meshes with cluster_axis None/0/1 vs torch goldens; async forms,
output specs, launch counts, link-byte costs and bad inputs."""

import pytest
import torch

from tests.conftest import mesh_groups
from ttfuse import sim, ttnn
from ttfuse.errors import SpecError
from ttfuse.numerics import round_to_dtype
from ttfuse.opdef import CostCtx, set_device_spec
from ttfuse.testing import pcc

MESHES = [(1, 2), (2, 1), (2, 2), (2, 4)]
AXES = [None, 0, 1]


def shard_per_device(mesh, shape, dtype):
    """One distinct tensor of `shape` per device (sharded on a leading stacking dim), and the rounded values."""
    n = mesh.get_num_devices()
    full = torch.randn(n * shape[0], *shape[1:])
    t = ttnn.from_torch(
        full, dtype=dtype, layout=ttnn.TILE_LAYOUT, device=mesh, mesh_mapper=ttnn.ShardTensorToMesh(mesh, 0)
    )
    return t, list(ttnn.to_torch(t, mesh_composer=ttnn.ConcatMeshToTensor(mesh, 0)).float().chunk(n, 0))


def per_device(t, mesh):
    return list(
        ttnn.to_torch(t, mesh_composer=ttnn.ConcatMeshToTensor(mesh, 0))
        .float()
        .chunk(mesh.get_num_devices(), 0)
    )


def axis_size(mesh, axis):
    return mesh.get_num_devices() if axis is None else tuple(mesh.shape)[axis]


def assert_within_bf16_ulp(out, golden):
    ref = golden.float().to(torch.bfloat16).float()
    ulp = torch.exp2(torch.floor(torch.log2(ref.abs().clamp_min(2.0**-120))) - 7)
    assert ((out - ref).abs() <= ulp).all()


@pytest.mark.parametrize("mesh", MESHES, indirect=True)
@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("dim", [0, 3, -2])
def test_all_gather(mesh, axis, dim):
    t, xs = shard_per_device(mesh, (1, 2, 32, 64), ttnn.float32)
    p = axis_size(mesh, axis)
    with sim.count_launches(mesh) as ctr:
        out = ttnn.all_gather(t, dim, cluster_axis=axis)
    assert ctr.by_op == {"all_gather": 1}
    shape = [1, 2, 32, 64]
    shape[dim] *= p
    assert out.shape == tuple(shape) and out.dtype == ttnn.float32 and out.layout == ttnn.TILE_LAYOUT
    assert out.memory_config() == ttnn.DRAM_MEMORY_CONFIG
    got = per_device(out, mesh)
    for grp in mesh_groups(*mesh.shape, axis):
        want = torch.cat([xs[i] for i in grp], dim)
        for i in grp:
            assert torch.equal(got[i], want)


@pytest.mark.parametrize("mesh", MESHES, indirect=True)
@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("dtype", [ttnn.float32, ttnn.bfloat16])
def test_reduce_scatter(mesh, axis, dtype):
    t, xs = shard_per_device(mesh, (1, 1, 32, 256), dtype)
    p = axis_size(mesh, axis)
    out = ttnn.reduce_scatter(t, 3, cluster_axis=axis, memory_config=ttnn.L1_MEMORY_CONFIG)
    assert out.shape == (1, 1, 32, 256 // p) and out.dtype == dtype
    assert out.memory_config() == ttnn.L1_MEMORY_CONFIG
    got = per_device(out, mesh)
    for grp in mesh_groups(*mesh.shape, axis):
        total = torch.stack([xs[i].double() for i in grp]).sum(0)
        for pos, i in enumerate(grp):
            want = total.chunk(len(grp), 3)[pos]
            if dtype == ttnn.float32:
                assert torch.allclose(got[i].double(), want, rtol=0, atol=1e-5)
            else:
                assert_within_bf16_ulp(got[i], want)


@pytest.mark.parametrize("mesh", MESHES, indirect=True)
@pytest.mark.parametrize("axis", AXES)
def test_all_reduce(mesh, axis):
    t, xs = shard_per_device(mesh, (1, 1, 64, 32), ttnn.bfloat16)
    with sim.count_launches(mesh) as ctr:
        out = ttnn.all_reduce(t, cluster_axis=axis)
    assert ctr.total == 1 and out.shape == (1, 1, 64, 32)
    got = per_device(out, mesh)
    for grp in mesh_groups(*mesh.shape, axis):
        want = torch.stack([xs[i].double() for i in grp]).sum(0)
        for i in grp:
            assert_within_bf16_ulp(got[i], want)


@pytest.mark.parametrize("mesh", [(2, 2)], indirect=True)
def test_reduce_scatter_bfloat8_b(mesh):
    t, xs = shard_per_device(mesh, (1, 1, 32, 128), ttnn.bfloat8_b)
    out = ttnn.reduce_scatter(t, 3, cluster_axis=1)
    assert out.dtype == ttnn.bfloat8_b and out.shape == (1, 1, 32, 64)
    got = per_device(out, mesh)
    for grp in mesh_groups(2, 2, 1):
        total = (xs[grp[0]] + xs[grp[1]]).chunk(2, 3)
        for pos, i in enumerate(grp):
            want = round_to_dtype(total[pos].contiguous(), "bfloat8_b")
            assert pcc(got[i], want) > 0.9999
            assert torch.allclose(got[i], want, atol=1e-6)


@pytest.mark.parametrize("mesh", [(2, 4)], indirect=True)
def test_async_variants_match_sync(mesh):
    sem = ttnn.create_global_semaphore(mesh, None, 0)
    t, xs = shard_per_device(mesh, (1, 1, 32, 128), ttnn.bfloat16)
    ag = ttnn.experimental.all_gather_async(
        t,
        dim=3,
        multi_device_global_semaphore=[sem, sem],
        cluster_axis=1,
        topology=ttnn.Topology.Linear,
        num_links=1,
    )
    assert torch.equal(
        ttnn.to_torch(ag, mesh_composer=ttnn.ConcatMeshToTensor(mesh, 0)),
        ttnn.to_torch(ttnn.all_gather(t, 3, cluster_axis=1), mesh_composer=ttnn.ConcatMeshToTensor(mesh, 0)),
    )
    buf = ttnn.from_torch(
        torch.zeros(8, 1, 32, 32),
        dtype=ttnn.bfloat16,
        layout=ttnn.TILE_LAYOUT,
        device=mesh,
        mesh_mapper=ttnn.ShardTensorToMesh(mesh, 0),
    )
    rs = ttnn.experimental.reduce_scatter_minimal_async(
        t,
        persistent_output_buffers=[buf],
        dim=3,
        multi_device_global_semaphore=[sem],
        cluster_axis=1,
        barrier_semaphore=sem,
    )
    assert rs.shape == (1, 1, 32, 32)
    assert torch.equal(
        ttnn.to_torch(rs, mesh_composer=ttnn.ConcatMeshToTensor(mesh, 0)),
        ttnn.to_torch(
            ttnn.reduce_scatter(t, 3, cluster_axis=1), mesh_composer=ttnn.ConcatMeshToTensor(mesh, 0)
        ),
    )


def test_single_device_collectives_are_identity(device):
    x = torch.randn(1, 1, 32, 64)
    t = ttnn.from_torch(x, dtype=ttnn.float32, layout=ttnn.TILE_LAYOUT, device=device)
    assert torch.equal(ttnn.to_torch(ttnn.all_gather(t, 3)), x)
    assert torch.equal(ttnn.to_torch(ttnn.reduce_scatter(t, 3)), x)
    assert torch.equal(ttnn.to_torch(ttnn.all_reduce(t)), x)


def test_link_bytes_cost():
    from ttfuse.device import device_spec

    x = ttnn.TensorSpec((1, 1, 32, 256), ttnn.bfloat16)
    prev = set_device_spec(device_spec(), (2, 4))
    try:
        ag_out = ttnn.TensorSpec((1, 1, 32, 1024), ttnn.bfloat16)
        c = ttnn.all_gather.cost_rule(
            CostCtx(ttnn.all_gather, {"input_tensor": x}, [ag_out], {"cluster_axis": 1})
        )
        assert c.link_bytes == 3 * x.nbytes and c.launches == 1  # (P-1)/P of the output
        rs_out = ttnn.TensorSpec((1, 1, 32, 32), ttnn.bfloat16)
        c = ttnn.reduce_scatter.cost_rule(CostCtx(ttnn.reduce_scatter, {"input_tensor": x}, [rs_out], {}))
        assert c.link_bytes == 7 * rs_out.nbytes  # (P-1)/P of the input, whole mesh P = 8
        c = ttnn.all_reduce.cost_rule(CostCtx(ttnn.all_reduce, {"input_tensor": x}, [x], {"cluster_axis": 0}))
        assert c.link_bytes == x.nbytes  # 2 (P-1)/P with P = 2
    finally:
        set_device_spec(prev)


@pytest.mark.parametrize("mesh", [(2, 2)], indirect=True)
def test_ccl_bad_inputs(mesh):
    t, _ = shard_per_device(mesh, (1, 1, 32, 96), ttnn.bfloat16)
    with pytest.raises(
        SpecError,
        match="ttnn.reduce_scatter: argument 'dim'=1: size 1 is not divisible by the 4 devices of the mesh",
    ):
        ttnn.reduce_scatter(t, 1)
    odd, _ = shard_per_device(mesh, (1, 1, 32, 33), ttnn.bfloat16)
    with pytest.raises(
        SpecError,
        match="ttnn.reduce_scatter: argument 'dim'=-1: size 33 is not divisible by the 2 "
        "devices of the cluster axis 1",
    ):
        ttnn.reduce_scatter(odd, -1, cluster_axis=1)
    with pytest.raises(SpecError, match="ttnn.all_gather: argument 'cluster_axis' must be 0, 1 or None"):
        ttnn.all_gather(t, 3, cluster_axis=2)
    with pytest.raises(SpecError, match="ttnn.all_gather: argument 'dim'=4 is out of range"):
        ttnn.all_gather(t, 4)
    with pytest.raises(SpecError, match="ttnn.all_gather: argument 'topology' must be a ttnn.Topology"):
        ttnn.all_gather(t, 3, topology="Ring")
    ints = ttnn.from_torch(
        torch.zeros(4, 1, 32, 32, dtype=torch.int32),
        dtype=ttnn.int32,
        layout=ttnn.TILE_LAYOUT,
        device=mesh,
        mesh_mapper=ttnn.ShardTensorToMesh(mesh, 0),
    )
    with pytest.raises(SpecError, match="ttnn.all_reduce: argument 'input_tensor' has dtype int32"):
        ttnn.all_reduce(ints)
    vec = ttnn.from_torch(
        torch.zeros(4 * 32),
        dtype=ttnn.bfloat16,
        layout=ttnn.TILE_LAYOUT,
        device=mesh,
        mesh_mapper=ttnn.ShardTensorToMesh(mesh, 0),
    )
    with pytest.raises(SpecError, match="ttnn.reduce_scatter: argument 'input_tensor' must have rank >= 2"):
        ttnn.reduce_scatter(vec, 0)
    with pytest.raises(SpecError, match="ttnn.all_gather: argument 'output_tensor' is .*; the op computes"):
        ttnn.all_gather(t, 3, output_tensor=t)
    with pytest.raises(
        SpecError,
        match="ttnn.experimental.all_gather_async: argument 'multi_device_global_semaphore' is required",
    ):
        ttnn.experimental.all_gather_async(t, dim=3)
    with pytest.raises(
        SpecError, match="ttnn.experimental.reduce_scatter_minimal_async: argument 'dim' is required"
    ):
        ttnn.experimental.reduce_scatter_minimal_async(t, multi_device_global_semaphore=[object()])
    assert repr(ttnn.Topology.Ring) == "ttnn.Topology.Ring"
