"""Types and configs: ttnn constructors, Shape semantics, TensorSpec bytes, JSON round trip."""

import pytest

from ttfuse import ttnn
from ttfuse.types import from_json_value, to_json_value


def test_shape_semantics():
    s = ttnn.Shape([1, 32, 64])
    assert s == [1, 32, 64] and s == (1, 32, 64) and s.rank == 3 and s[-1] == 64 and s[1:] == [32, 64]
    assert hash(s) == hash((1, 32, 64))


@pytest.mark.parametrize(
    "dtype, tile_bytes",
    [(ttnn.bfloat16, 2048), (ttnn.float32, 4096), (ttnn.bfloat8_b, 1088), (ttnn.bfloat4_b, 576)],
)
def test_tile_bytes(dtype, tile_bytes):
    spec = ttnn.TensorSpec((2, 40, 70), dtype, ttnn.TILE_LAYOUT)
    assert spec.padded_shape == [2, 64, 96]
    assert spec.nbytes == 2 * 2 * 3 * tile_bytes


VALUES = [
    ttnn.bfloat8_b,
    ttnn.TILE_LAYOUT,
    ttnn.DRAM_MEMORY_CONFIG,
    ttnn.MemoryConfig(
        ttnn.TensorMemoryLayout.BLOCK_SHARDED,
        ttnn.BufferType.L1,
        ttnn.ShardSpec(
            ttnn.CoreRangeSet({ttnn.CoreRange(ttnn.CoreCoord(0, 0), ttnn.CoreCoord(7, 7))}),
            (64, 128),
            ttnn.ShardOrientation.ROW_MAJOR,
        ),
    ),
    ttnn.CoreGrid(y=10, x=13),
    ttnn.TensorSpec((1, 128, 128), ttnn.bfloat16, ttnn.TILE_LAYOUT, ttnn.L1_MEMORY_CONFIG),
    ttnn.WormholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.HiFi4, fp32_dest_acc_en=True),
    ttnn.MatmulMultiCoreReuseMultiCastProgramConfig(
        compute_with_storage_grid_size=(8, 8),
        in0_block_w=2,
        out_subblock_h=1,
        out_subblock_w=4,
        per_core_M=4,
        per_core_N=8,
        transpose_mcast=False,
        fused_activation=ttnn.UnaryWithParam(ttnn.UnaryOpType.SILU),
        fuse_batch=False,
    ),
    ttnn.SDPAProgramConfig(compute_with_storage_grid_size=(8, 8), q_chunk_size=256, k_chunk_size=256),
    ttnn.UnaryWithParam(ttnn.UnaryOpType.CLAMP_TSS, -1.0, 1.0),
    (1, "a", 2.5, None, True, float("inf")),
    [1, 2],
    {"k": ttnn.float32},
]


@pytest.mark.parametrize("v", VALUES, ids=lambda v: type(v).__name__)
def test_json_round_trip(v):
    import json

    d = json.loads(json.dumps(to_json_value(v)))
    back = from_json_value(d)
    assert back == v and type(back) is type(v)


def test_config_grid_accepts_corecoord():
    cfg = ttnn.SDPAProgramConfig(
        compute_with_storage_grid_size=ttnn.CoreCoord(8, 7), q_chunk_size=64, k_chunk_size=64
    )
    assert cfg.compute_with_storage_grid_size == (8, 7)


def test_compute_kernel_config_defaults():
    c = ttnn.WormholeComputeKernelConfig()
    assert c.math_fidelity == ttnn.MathFidelity.LoFi and c.math_approx_mode and not c.fp32_dest_acc_en
    assert ttnn.BlackholeComputeKernelConfig is ttnn.WormholeComputeKernelConfig
    with pytest.raises(TypeError):
        ttnn.WormholeComputeKernelConfig(ttnn.MathFidelity.HiFi4)  # keyword-only as in ttnn


def test_spec_key_token_compares_as_the_spec():
    """`TensorSpec._key` (the jit hit path's key token, built once per spec) is equal exactly when the specs are:
    a spec differing in any compared field (shape, dtype, layout, memory layout, buffer, shard spec) differs."""
    import pickle

    from tests.conftest import sharded

    base = ttnn.TensorSpec((64, 128), ttnn.bfloat16, ttnn.TILE_LAYOUT, ttnn.DRAM_MEMORY_CONFIG)
    shard = ttnn.TensorMemoryLayout.HEIGHT_SHARDED
    variants = [
        base,
        ttnn.TensorSpec(
            (64, 128), ttnn.bfloat16, ttnn.TILE_LAYOUT, ttnn.DRAM_MEMORY_CONFIG
        ),  # equal, not same
        base.replace(shape=(128, 64)),
        base.replace(shape=(1, 64, 128)),
        base.replace(dtype=ttnn.bfloat8_b),
        base.replace(layout=ttnn.ROW_MAJOR_LAYOUT),
        base.replace(memory_config=ttnn.L1_MEMORY_CONFIG),
        base.replace(memory_config=sharded(shard, (2, 1), (32, 128))),
        base.replace(memory_config=sharded(shard, (1, 2), (32, 128))),
        base.replace(memory_config=sharded(shard, (2, 1), (32, 128), ttnn.ShardOrientation.COL_MAJOR)),
        pickle.loads(pickle.dumps(base)),  # a spec read back from a disk entry
    ]
    for a in variants:
        for b in variants:
            assert (a == b) == (a._key == b._key), (a, b)
    assert sum(v == base for v in variants) == 3
