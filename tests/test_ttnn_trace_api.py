"""ttnn API that tt-mlir's ttnn-jit demos use: TensorSpec(buffer_type=).block_sharded(), from_torch(spec=),
allocate_tensor_on_device, copy_host_to_device_tensor, metal traces, ttnn.digamma, and ttnn-jit's programs kept
apart from the eager ops' in the program cache."""

from __future__ import annotations

import pytest
import torch

import ttfuse.ttnn_jit as ttnn_jit
from ttfuse import ttnn
from ttfuse.errors import DeviceError, SpecError
from ttfuse.testing import pcc


@pytest.fixture
def device():
    d = ttnn.open_device(device_id=0)
    yield d
    ttnn.close_device(d)


def _l1_spec(h, w):
    return ttnn.TensorSpec(
        shape=(h, w), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, buffer_type=ttnn.BufferType.L1
    )


def test_tensor_spec_buffer_type_and_block_sharded():
    s = _l1_spec(256, 512)
    assert s.memory_config == ttnn.L1_MEMORY_CONFIG
    grid = ttnn.CoreRangeSet([ttnn.CoreRange(ttnn.CoreCoord(0, 0), ttnn.CoreCoord(7, 3))])
    b = s.block_sharded(grid)
    mc = b.memory_config
    assert mc.memory_layout == ttnn.TensorMemoryLayout.BLOCK_SHARDED and mc.buffer_type == ttnn.BufferType.L1
    assert mc.shard_spec.shape == (64, 64)  # 256 rows over 4 grid rows, 512 cols over 8 grid columns
    assert (
        ttnn.TensorSpec((64, 64), ttnn.float32, ttnn.TILE_LAYOUT, ttnn.BufferType.L1).buffer_type
        == ttnn.BufferType.L1
    )
    with pytest.raises(SpecError):
        ttnn.TensorSpec(
            (64, 64), ttnn.float32, ttnn.TILE_LAYOUT, ttnn.L1_MEMORY_CONFIG, buffer_type=ttnn.BufferType.DRAM
        )


def test_from_torch_spec(device):
    s = _l1_spec(64, 64)
    t = ttnn.from_torch(torch.rand(64, 64), spec=s, device=device)
    assert t.spec == s
    with pytest.raises(SpecError, match="dtype"):
        ttnn.from_torch(torch.rand(64, 64), ttnn.float32, spec=s)
    with pytest.raises(SpecError, match="shape"):
        ttnn.from_torch(torch.rand(32, 64), spec=s)


def test_allocate_copy_and_trace_replay(device):
    s = _l1_spec(64, 64)
    t = ttnn.allocate_tensor_on_device(s, device)
    assert t.spec == s
    ttnn.copy_host_to_device_tensor(ttnn.from_torch(torch.rand(64, 64), spec=s), t)
    tid = ttnn.begin_trace_capture(device)
    out = ttnn.exp(ttnn.neg(t))
    with pytest.raises(DeviceError, match="Reads are not supported during trace capture"):
        ttnn.to_torch(out)
    ttnn.end_trace_capture(device, tid)
    x = torch.rand(64, 64) * 3
    ttnn.copy_host_to_device_tensor(ttnn.from_torch(x, spec=s), t)
    ttnn.execute_trace(device, tid, blocking=True)  # the replay reads the new input into `out`
    want = torch.exp(-x.bfloat16().float())
    assert pcc(ttnn.to_torch(out).float(), want) > 0.999
    ttnn.release_trace(device, tid)
    with pytest.raises(DeviceError):
        ttnn.execute_trace(device, tid)


def test_digamma(device):
    x = torch.rand(64, 64) * 50 + 1.5  # the range ttnn.digamma serves (its asymptotic series)
    t = ttnn.from_torch(x, ttnn.float32, layout=ttnn.TILE_LAYOUT, device=device)
    assert pcc(ttnn.to_torch(ttnn.digamma(t)), torch.digamma(x)) > 0.9999
    assert ttnn.get_golden_function(ttnn.digamma) is not None


def test_ttnn_jit_programs_are_apart_from_eager_ones(device):
    device.enable_program_cache()
    device.clear_program_cache()
    t = ttnn.from_torch(torch.rand(64, 64), ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    ttnn.abs(t)
    assert device.num_program_cache_entries() == 1
    ttnn_jit.jit(memory_config=ttnn.DRAM_MEMORY_CONFIG)(lambda x: ttnn.abs(x))(t)
    assert device.num_program_cache_entries() == 2  # a generic_op program of its own
