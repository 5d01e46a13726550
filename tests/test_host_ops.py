"""from_torch / to_torch / to_device / from_device / deallocate and mesh mappers."""

import pytest
import torch

from ttfuse import ttnn
from ttfuse.errors import DeviceError, SpecError


def test_round_trip_float32_exact(device):
    x = torch.randn(5, 37)
    t = ttnn.from_torch(x, dtype=ttnn.float32, layout=ttnn.TILE_LAYOUT, device=device)
    assert t.shape == [5, 37] and t.padded_shape == [32, 64]
    assert t.dtype == ttnn.float32 and t.layout == ttnn.TILE_LAYOUT
    assert t.memory_config() == ttnn.DRAM_MEMORY_CONFIG
    assert torch.equal(ttnn.to_torch(t), x)


def test_bfloat16_rounds_like_torch(device):
    x = torch.randn(64, 64) * 100
    t = ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    out = ttnn.to_torch(t)
    assert out.dtype == torch.bfloat16
    assert torch.equal(out, x.to(torch.bfloat16))  # both round to nearest even


def test_default_dtype_from_torch():
    assert ttnn.from_torch(torch.zeros(2, dtype=torch.bfloat16)).dtype == ttnn.bfloat16
    assert ttnn.from_torch(torch.zeros(2)).dtype == ttnn.float32
    assert ttnn.from_torch(torch.zeros(2, dtype=torch.int32)).dtype == ttnn.int32


def test_unsigned_dtypes_round_trip_as_the_wheel(device):
    # ttnn 0.81.1 (checked on the wheel): int64 -> UINT32 -> torch.uint32, UINT16 -> torch.uint16, and a torch
    # uint32 tensor comes in as UINT32
    ids = torch.tensor([[0, 7, 65535, 2**24]])
    t = ttnn.from_torch(ids, layout=ttnn.ROW_MAJOR_LAYOUT, device=device)
    assert t.dtype == ttnn.uint32
    out = ttnn.to_torch(t)
    assert out.dtype == torch.uint32 and torch.equal(out.to(torch.int64), ids)
    assert ttnn.to_torch(t, dtype=torch.int32).dtype == torch.int32
    assert ttnn.from_torch(ids.to(torch.uint32)).dtype == ttnn.uint32
    u16 = ttnn.from_torch(ids[:, :3].int(), dtype=ttnn.uint16)
    assert ttnn.to_torch(u16).dtype == torch.uint16 and torch.equal(
        ttnn.to_torch(u16).int(), ids[:, :3].int()
    )


def test_host_then_device(device):
    h = ttnn.from_torch(torch.ones(4, 4), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT)
    assert h.storage_type() == ttnn.StorageType.HOST and h.device() is None
    d = ttnn.to_device(h, device, memory_config=ttnn.L1_MEMORY_CONFIG)
    assert d.device() is device and d.memory_config() == ttnn.L1_MEMORY_CONFIG
    back = ttnn.from_device(d)
    assert back.device() is None and torch.equal(ttnn.to_torch(back), torch.ones(4, 4, dtype=torch.bfloat16))
    assert d.to(device) is d
    assert ttnn.to_torch(d.cpu()).sum().item() == 16


def test_bad_inputs(device):
    with pytest.raises(SpecError, match="ttnn.from_torch: argument 'tensor' must be a torch.Tensor"):
        ttnn.from_torch([1, 2, 3])
    with pytest.raises(
        SpecError, match="ttnn.from_torch: dtype=ttnn.bfloat4_b requires layout=ttnn.TILE_LAYOUT"
    ):
        ttnn.from_torch(torch.zeros(4), dtype=ttnn.bfloat4_b)
    with pytest.raises(SpecError, match="ttnn.from_torch: got an unexpected keyword argument 'layuot'"):
        ttnn.from_torch(torch.zeros(4), layuot=ttnn.TILE_LAYOUT)
    with pytest.raises(SpecError, match="ttnn.to_device: argument 'device' must be an open device"):
        ttnn.to_device(ttnn.from_torch(torch.zeros(4)), None)
    with pytest.raises(SpecError, match="ttnn.to_torch: argument 'tensor' must be a ttnn.Tensor"):
        ttnn.to_torch(torch.zeros(3))


def test_closed_device(device):
    ttnn.close_device(device)
    with pytest.raises(DeviceError, match="closed"):
        ttnn.from_torch(torch.zeros(4), device=device)


def test_mesh_mappers_2d():
    mesh = ttnn.open_mesh_device(ttnn.MeshShape(2, 4))
    x = torch.randn(8, 16, 32)
    t = ttnn.from_torch(
        x,
        dtype=ttnn.float32,
        layout=ttnn.TILE_LAYOUT,
        device=mesh,
        mesh_mapper=ttnn.ShardTensor2dMesh(mesh, mesh_shape=(2, 4), dims=(0, 2)),
    )
    assert t.shape == [4, 16, 8]
    back = ttnn.to_torch(t, mesh_composer=ttnn.ConcatMesh2dToTensor(mesh, mesh_shape=(2, 4), dims=(0, 2)))
    assert torch.equal(back, x)
    r = ttnn.from_torch(x, dtype=ttnn.float32, device=mesh, mesh_mapper=ttnn.ReplicateTensorToMesh(mesh))
    assert r.shape == [8, 16, 32]
    with pytest.raises(DeviceError, match="mesh_composer"):
        ttnn.to_torch(r)
    with pytest.raises(SpecError, match="does not split evenly"):
        ttnn.from_torch(torch.zeros(3, 5), device=mesh, mesh_mapper=ttnn.ShardTensorToMesh(mesh, dim=1))


def test_submeshes_share_chips():
    mesh = ttnn.open_mesh_device(ttnn.MeshShape(2, 4))
    subs = mesh.create_submeshes(ttnn.MeshShape(2, 2))
    assert len(subs) == 2 and all(s.get_num_devices() == 4 for s in subs)
    assert subs[0].chips[0] is mesh.chips[0] and subs[1].chips[0] is mesh.chips[2]
