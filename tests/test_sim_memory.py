"""Allocator: L1/DRAM accounting, out-of-memory errors, deallocate, peaks, launch counting."""

import gc

import pytest
import torch

import ttfuse
from ttfuse import ttnn
from ttfuse.errors import DeviceError, OutOfMemoryError


def _l1_tensor(device, rows, cols=1024, dtype=ttnn.bfloat16):
    return ttnn.from_torch(
        torch.zeros(rows, cols),
        dtype=dtype,
        layout=ttnn.TILE_LAYOUT,
        device=device,
        memory_config=ttnn.L1_MEMORY_CONFIG,
    )


def test_bytes_and_peak(device):
    rep = ttfuse.sim.memory_report(device)
    assert rep.l1_bytes == 0 and rep.dram_bytes == 0
    a = _l1_tensor(device, 64)  # 64x1024 bf16 = 2x32 tiles of 2048 B
    assert rep.l1_bytes == 64 * 2048
    b = _l1_tensor(device, 32, dtype=ttnn.bfloat8_b)  # 32 tiles of 1088 B
    assert rep.l1_bytes == 64 * 2048 + 32 * 1088
    assert rep.peak_l1_bytes == rep.l1_bytes
    ttnn.deallocate(a)
    assert rep.l1_bytes == 32 * 1088
    assert rep.peak_l1_bytes == 64 * 2048 + 32 * 1088
    rep.reset_peak()
    assert rep.peak_l1_bytes == 32 * 1088
    del b
    gc.collect()
    assert rep.l1_bytes == 0


def test_padding_counts(device):
    rep = ttfuse.sim.memory_report(device)
    t = ttnn.from_torch(torch.zeros(3, 40), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    assert t.padded_shape == [32, 64]
    assert rep.dram_bytes == 2 * 2048  # two padded tiles
    rm = ttnn.from_torch(torch.zeros(3, 40), dtype=ttnn.bfloat16, device=device)
    assert rep.dram_bytes == 2 * 2048 + 3 * 40 * 2
    del t, rm


def test_l1_overflow_raises(device):
    cap = device.spec.l1_bytes
    rep = ttfuse.sim.memory_report(device)
    assert rep.l1_capacity == cap == 64 * 1_499_136
    rows = 32 * 700  # 700 x 32 tiles x 2048 B = 45.9 MB each: two fit in the 95.9 MB of L1, a third does not
    keep = [_l1_tensor(device, rows), _l1_tensor(device, rows)]
    used = rep.l1_bytes
    with pytest.raises(OutOfMemoryError) as e:
        _l1_tensor(device, rows)
    msg = str(e.value)
    assert "ttnn.to_device" in msg and "out of L1 memory" in msg
    assert f"asked {rows * 1024 * 2:,} B" in msg and f"{cap - used:,} B free" in msg
    assert "test_sim_memory.py" in msg  # the user's line
    del keep


def test_deallocated_use_raises(device):
    a = _l1_tensor(device, 32)
    ttnn.deallocate(a)
    assert not a.is_allocated()
    with pytest.raises(DeviceError, match="deallocated"):
        ttnn.to_torch(a)
    ttnn.deallocate(a)  # idempotent


def test_dram_capacity(device):
    assert ttfuse.sim.memory_report(device).dram_bytes == 0
    assert device.spec.dram_bytes == 12 * 1024**3


def test_launch_counter_host_ops_not_counted(device):
    with ttfuse.sim.count_launches(device) as launches:
        t = ttnn.from_torch(torch.zeros(32, 32), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
        ttnn.to_torch(t)
    assert launches.total == 0 and launches.by_op == {}


def test_mesh_allocations_per_chip():
    mesh = ttnn.open_mesh_device(ttnn.MeshShape(1, 2))
    t = ttnn.from_torch(
        torch.zeros(64, 64),
        dtype=ttnn.bfloat16,
        layout=ttnn.TILE_LAYOUT,
        device=mesh,
        mesh_mapper=ttnn.ShardTensorToMesh(mesh, dim=1),
    )
    assert t.shape == [64, 32]
    rep = ttfuse.sim.memory_report(mesh)
    assert [d["dram"] for d in rep.per_device] == [2 * 2048, 2 * 2048]
    back = ttnn.to_torch(t, mesh_composer=ttnn.ConcatMeshToTensor(mesh, dim=1))
    assert back.shape == (64, 64)
