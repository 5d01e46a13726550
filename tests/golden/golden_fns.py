"""Representative functions whose generated code is kept as golden files (tests/test_codegen.py).

Regenerate the goldens after an intended codegen change with `TTFUSE_UPDATE_GOLDEN=1 pytest tests/test_codegen.py`.
Line numbers of this file appear in the goldens (source locations): edit it only together with them.
"""

from ttfuse import ttnn

HIFI4 = ttnn.WormholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.HiFi4, fp32_dest_acc_en=True)


def mlp_block(x, w1, b1, w2, gamma, *, eps=1e-5):
    h = ttnn.linear(x, w1, bias=b1, activation="gelu", compute_kernel_config=HIFI4)
    h = ttnn.linear(h, w2, memory_config=ttnn.L1_MEMORY_CONFIG)
    y = ttnn.add(x, h)
    return ttnn.layer_norm(y, epsilon=eps, weight=gamma)


def attention(qkv, mask, *, heads):
    q, k, v = ttnn.transformer.split_query_key_value_and_split_heads(
        qkv, num_heads=heads, transpose_key=False
    )
    cfg = ttnn.SDPAProgramConfig(compute_with_storage_grid_size=(8, 8), q_chunk_size=32, k_chunk_size=32)
    o = ttnn.transformer.scaled_dot_product_attention(
        q, k, v, attn_mask=mask, is_causal=False, program_config=cfg
    )
    return ttnn.transformer.concatenate_heads(o), k


def sharded_pytree(params, xs, device):
    grid = ttnn.CoreRangeSet({ttnn.CoreRange(ttnn.CoreCoord(0, 0), ttnn.CoreCoord(3, 0))})
    mc = ttnn.MemoryConfig(
        ttnn.TensorMemoryLayout.HEIGHT_SHARDED,
        ttnn.BufferType.L1,
        ttnn.ShardSpec(grid, (64, 64), ttnn.ShardOrientation.ROW_MAJOR),
    )
    a = ttnn.interleaved_to_sharded(xs[0], mc)
    b = ttnn.sharded_to_interleaved(a, ttnn.DRAM_MEMORY_CONFIG)
    z = ttnn.zeros((256, 64), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    unused = ttnn.relu(xs[1])  # noqa: F841 - dead: removed by DCE
    c = ttnn.clamp(ttnn.multiply(b, params["scale"]), float("-inf"), 4.0)
    return {"out": ttnn.add(c, z), "parts": ttnn.split(c, 128, dim=0)[0]}
