"""Ring joint attention (issue 7): the fused kernel on the simulated mesh, its cost and ttnn rules, and the
same ring over torch.distributed (gloo, local processes)."""

import math
import types

import pytest
import torch

import ttfuse
from models.sd35 import ring_joint_attention
from models.sd35.distributed import run_ring_attention_processes
from ttfuse import ttnn
from ttfuse.errors import SpecError
from ttfuse.kernels.ring_attention import ring_time_s
from ttfuse.opdef import OPS, CostCtx, set_device_spec

B, H, D, L = 1, 2, 64, 40


def full_joint(q, k, v, jq, jk, jv):
    """float64 golden of joint attention over [spatial; prompt]: (out, joint_out, lse)."""
    qq, kk, vv = (torch.cat(t, 2).double() for t in ((q, jq), (k, jk), (v, jv)))
    s = qq @ kk.transpose(-1, -2) / math.sqrt(q.shape[-1])
    o = torch.softmax(s, -1) @ vv
    n = q.shape[2]
    return o[:, :, :n].float(), o[:, :, n:].float(), torch.logsumexp(s, -1, keepdim=True).float()


def shard_and_run(shape, axis, n, dtype=ttnn.float32, joint=True, seed=0, tiles=False):
    """Random q/k/v of n tokens sharded over the ring along `axis` of a `shape` mesh (the tail padded: to equal
    shards, or with tiles=True to whole tiles per shard as the model pads)."""
    g = torch.Generator().manual_seed(seed)
    mesh = ttnn.open_mesh_device(ttnn.MeshShape(*shape))
    ring = shape[axis]
    n_pad = -(-n // (32 * ring)) * 32 * ring if tiles else -(-n // ring) * ring
    q, k, v = (torch.randn(B, H, n, D, generator=g) for _ in range(3))
    jq, jk, jv = (torch.randn(B, H, L if joint else 0, D, generator=g) for _ in range(3))
    dims = [None, None]
    dims[axis] = 2

    def up(t, sharded):
        if sharded:
            t = torch.nn.functional.pad(t, (0, 0, 0, n_pad - n))
        mapper = ttnn.ShardTensor2dMesh(mesh, dims=tuple(dims) if sharded else (None, None))
        return ttnn.from_torch(t, dtype=dtype, layout=ttnn.TILE_LAYOUT, device=mesh, mesh_mapper=mapper)

    js = (up(jq, False), up(jk, False), up(jv, False)) if joint else (None, None, None)
    with ttfuse.sim.count_launches(mesh) as ctr:
        out = ring_joint_attention(
            up(q, True), up(k, True), up(v, True), *js, mesh_device=mesh, cluster_axis=axis, logical_n=n
        )
    return mesh, out, (q, k, v, jq, jk, jv), ctr


def gather(mesh, t, axis, n):
    cd = [0, 0]
    cd[axis] = 2
    full = ttnn.to_torch(t, mesh_composer=ttnn.ConcatMesh2dToTensor(mesh, dims=tuple(cd)))
    return full[:B, :, :n]


@pytest.mark.parametrize(
    "shape, axis, n, tiles",
    [
        ((2, 1), 0, 70, False),  # ring 2, last shard 34 of 35
        ((1, 4), 1, 150, False),  # ring 4, last shard 36 of 38
        ((8, 1), 0, 291, False),  # ring 8, last shard 32 of 37
        ((2, 4), 1, 128, False),  # two rings of 4 (one per mesh row), even shards
        ((1, 4), 1, 70, True),  # ring 4 of 32-token shards: 32, 32, 6, 0 valid (the last one skipped)
    ],
)
def test_ring_equals_full_joint_attention_float32(shape, axis, n, tiles):
    mesh, (o, jo, lse), ref_in, ctr = shard_and_run(shape, axis, n, tiles=tiles)
    ro, rjo, rlse = full_joint(*ref_in)
    assert torch.allclose(gather(mesh, o, axis, n), ro, atol=1e-5, rtol=0)
    ring = shape[axis]
    nl = o.shape[2]
    lse_sp = ttnn.to_torch(lse, mesh_composer=ttnn.ConcatMesh2dToTensor(mesh, dims=(0, 0)))
    for dev in range(shape[0] * shape[1]):  # every device computes the (replicated) prompt rows
        pos = (dev // shape[1]) if axis == 0 else (dev % shape[1])
        assert torch.allclose(jo._shards[dev], rjo, atol=1e-5, rtol=0)
        own = lse_sp[dev * B : (dev + 1) * B]
        valid = max(0, min(nl, n - pos * nl))
        assert torch.allclose(own[:, :, :valid], rlse[:, :, pos * nl : pos * nl + valid], atol=1e-5, rtol=0)
        assert torch.allclose(own[:, :, nl:], rlse[:, :, n:], atol=1e-5, rtol=0)
    assert ctr.by_op == {"ring_joint_attention": 1} and ring > 1
    assert (o.spec.shape, jo.spec.shape, lse.spec.shape) == ((B, H, nl, D), (B, H, L, D), (B, H, nl + L, 1))


def test_ring_without_prompt_and_in_bfloat16(pcc):
    mesh, (o, jo, _), ref_in, _ = shard_and_run((4, 1), 0, 128, joint=False)
    assert jo.shape[2] == 0
    q, k, v = ref_in[:3]
    ref = torch.softmax(q.double() @ k.double().transpose(-1, -2) / 8.0, -1) @ v.double()
    assert torch.allclose(gather(mesh, o, 0, 128), ref.float(), atol=1e-5)
    mesh, (o, jo, lse), ref_in, _ = shard_and_run((2, 1), 0, 96, dtype=ttnn.bfloat16)
    assert o.dtype == ttnn.bfloat16 and lse.dtype == ttnn.bfloat16
    ro, rjo, _ = full_joint(*ref_in)
    assert pcc(gather(mesh, o, 0, 96), ro) > 0.9999 and pcc(jo._shards[1], rjo) > 0.9999


def test_ring_rejects_bad_inputs():
    mesh = ttnn.open_mesh_device(ttnn.MeshShape(2, 1))

    def t(shape, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT):
        return ttnn.from_torch(torch.zeros(shape), dtype=dtype, layout=layout, device=mesh)

    q = t((1, 2, 64, 64))
    j = t((1, 2, 32, 64))
    with pytest.raises(SpecError, match="ttfuse.kernels.ring_joint_attention: argument 'cluster_axis'"):
        ring_joint_attention(q, q, q, j, j, j, mesh_device=mesh, cluster_axis=2)
    with pytest.raises(SpecError, match="argument 'logical_n'=129 must be an int in"):
        ring_joint_attention(q, q, q, j, j, j, mesh_device=mesh, cluster_axis=0, logical_n=129)
    with pytest.raises(SpecError, match="argument 'input_tensor_k' has dtype float32"):
        ring_joint_attention(q, t((1, 2, 64, 64), ttnn.float32), q, mesh_device=mesh, cluster_axis=0)
    with pytest.raises(SpecError, match="argument 'joint_tensor_v' has shape"):
        ring_joint_attention(q, q, q, j, j, t((1, 3, 32, 64)), mesh_device=mesh, cluster_axis=0)
    with pytest.raises(SpecError, match="'joint_tensor_q/k/v' must be given together"):
        ring_joint_attention(q, q, q, j, None, None, mesh_device=mesh, cluster_axis=0)
    with pytest.raises(SpecError, match="argument 'input_tensor_q' must be in TILE layout"):
        ring_joint_attention(
            t((1, 2, 64, 64), layout=ttnn.ROW_MAJOR_LAYOUT), q, q, mesh_device=mesh, cluster_axis=0
        )


def test_kernel_is_not_a_ttnn_op():
    assert "kernels.ring_joint_attention" in OPS
    assert OPS["kernels.ring_joint_attention"].qualname == "ttfuse.kernels.ring_joint_attention"
    assert not hasattr(ttnn.transformer, "ring_joint_attention") and not hasattr(ttnn, "ring_joint_attention")


# --------------------------------------------------------------------------------------------- cost rule
def _cost(ring, n_local, links=1):
    op = OPS["kernels.ring_joint_attention"]
    spec = ttnn.TensorSpec((1, 19, n_local, 64), ttnn.bfloat16, ttnn.TILE_LAYOUT, ttnn.DRAM_MEMORY_CONFIG)
    joint = ttnn.TensorSpec((1, 19, 333, 64), ttnn.bfloat16, ttnn.TILE_LAYOUT, ttnn.DRAM_MEMORY_CONFIG)
    ins = dict(zip(("input_tensor_q", "input_tensor_k", "input_tensor_v"), (spec,) * 3))
    ins.update(dict(zip(("joint_tensor_q", "joint_tensor_k", "joint_tensor_v"), (joint,) * 3)))
    args = {**ins, "cluster_axis": 0, "logical_n": ring * n_local, "num_links": links, "program_config": None}
    outs = [spec, joint, spec.replace(shape=(1, 19, n_local + 333, 1))]
    dev = ttfuse.device_spec("wormhole_b0")
    prev = set_device_spec(dev, (ring, 1))
    try:
        return op.cost_rule(CostCtx(op, ins, outs, args, dev)), spec, dev
    finally:
        set_device_spec(prev, (1, 1))


def test_cost_counts_link_bytes_and_overlaps_them():
    assert OPS[
        "kernels.ring_joint_attention"
    ].traits.overlaps_communication  # ttfuse.passes.cost: max, not sum
    c, spec, dev = _cost(4, 1024)
    assert c.link_bytes == 3 * 2 * spec.nbytes  # three K/V shards arrive at every device
    assert c.matmul_flops == 4.0 * 19 * (1024 + 333) * (4096 + 333) * 64
    t = ring_time_s(c, dev)
    t_compute = c.matmul_flops / (dev.matmul_tflops("HiFi2") * 1e12)
    t_link = c.link_bytes / (dev.eth_link_gbps * 1e9)
    assert max(t_compute, t_link) <= t < t_compute + t_link  # overlapped, never better than either side
    small, spec, _ = _cost(4, 64)  # little compute per step: the links dominate
    t_small = ring_time_s(small, dev)
    per_step_link = small.link_bytes / 3 / (dev.eth_link_gbps * 1e9)
    assert t_small == pytest.approx(
        small.matmul_flops / 4 / (dev.matmul_tflops("HiFi2") * 1e12) + 3 * per_step_link
    )


# --------------------------------------------------------------------------------------------- ttnn rule
# keyword parameters of ttnn.transformer.ring_joint_scaled_dot_product_attention in the installed ttnn 0.81.1
# (its nanobind signature, read from conformance/.venv312)
REAL_RING_KEYWORDS = {
    "persistent_output_buffer_k", "persistent_output_buffer_v", "joint_strategy", "logical_n", "logical_l",
    "program_config", "scale", "compute_kernel_config", "dim", "multi_device_global_semaphore", "num_links",
    "cluster_axis", "mesh_device", "topology", "subdevice_id", "ccl_core_grid_offset", "use_column_major_ccl",
    "is_causal", "is_balanced", "is_cross", "kv_cache_batch_idx", "kv_actual_isl", "attention_sink",
    "sliding_window_size", "circular_kv_cache", "persistent_output_buffer_joint_k",
    "persistent_output_buffer_joint_v", "slot_id", "kv_actual_isl_tensor", "kv_cache_num_layers",
    "kv_cache_layer_idx", "kv_valid_end_tensor",
}  # fmt: skip
REQUIRED = {
    "persistent_output_buffer_k", "persistent_output_buffer_v", "joint_strategy", "logical_n", "program_config",
    "dim", "multi_device_global_semaphore", "num_links", "cluster_axis", "mesh_device", "topology",
    "ccl_core_grid_offset",
}  # fmt: skip


def test_ttnn_rule_emits_the_real_op_with_its_keywords():
    calls = []

    class Fake(types.SimpleNamespace):
        pass

    mesh = ttnn.open_mesh_device(ttnn.MeshShape(2, 4))
    fake = Fake(
        float32=ttnn.float32,
        bfloat16=ttnn.bfloat16,
        TILE_LAYOUT=ttnn.TILE_LAYOUT,
        DRAM_MEMORY_CONFIG=ttnn.DRAM_MEMORY_CONFIG,
        SDPAProgramConfig=ttnn.SDPAProgramConfig,
        CoreCoord=ttnn.CoreCoord,
        CoreRange=ttnn.CoreRange,
        CoreRangeSet=ttnn.CoreRangeSet,
        Topology=ttnn.Topology,
        typecast=lambda t, dt: t,
        empty=lambda shape, dtype, layout, device, mc: ("buffer", tuple(shape)),
        create_global_semaphore=lambda *a: "sem",
        transformer=Fake(
            ring_joint_scaled_dot_product_attention=lambda *a, **kw: calls.append((a, kw)) or "out"
        ),
    )
    q = ttnn.TensorSpec((1, 2, 64, 64), ttnn.bfloat16)
    rule = OPS["kernels.ring_joint_attention"].ttnn_rule
    assert rule(fake, q, q, q, q, q, q, logical_n=100, cluster_axis=1, mesh_device=mesh, num_links=1) == "out"
    ((args, kw),) = calls
    assert len(args) == 6 and set(kw) <= REAL_RING_KEYWORDS and REQUIRED <= set(kw)
    assert kw["persistent_output_buffer_k"] == ("buffer", (1, 2, 256, 64))  # the gathered K of a ring of 4
    assert kw["joint_strategy"] == "rear" and kw["logical_n"] == 100 and kw["cluster_axis"] == 1
    assert kw["program_config"].compute_with_storage_grid_size == (8, 7)  # last row: the ring's CCL workers
    assert (
        kw["ccl_core_grid_offset"] == ttnn.CoreCoord(0, 7) and len(kw["multi_device_global_semaphore"]) == 2
    )


# ---------------------------------------------------------------------------------------------- capture
def test_ring_kernel_traces_into_jit_graphs():
    mesh = ttnn.open_mesh_device(ttnn.MeshShape(2, 1))

    def attn(q, k, v, jq, jk, jv):
        return ring_joint_attention(q, k, v, jq, jk, jv, mesh_device=mesh, cluster_axis=0, logical_n=120)

    up = [
        ttnn.from_torch(torch.randn(1, 2, n, 64), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=mesh)
        for n in (64, 64, 64, 32, 32, 32)
    ]
    fn = ttfuse.jit(attn, passes=["dce"])
    lo = fn.lower(*up)
    assert [n.op for n in lo.graph.nodes] == ["kernels.ring_joint_attention"]
    eager = attn(*up)
    jitted = fn(*up)
    for a, b in zip(eager, jitted):
        assert all(torch.equal(x, y) for x, y in zip(a._shards, b._shards))


# --------------------------------------------------------------------------------------- torch.distributed
@pytest.mark.slow  # spawns torch.distributed workers
def test_torch_distributed_ring_matches_single_process():
    g = torch.Generator().manual_seed(3)
    n = 150  # 4 ranks of 38 tokens, the last one padded
    q, k, v = (torch.randn(B, H, n, D, generator=g) for _ in range(3))
    jq, jk, jv = (torch.randn(B, H, L, D, generator=g) for _ in range(3))
    out, _, joint_outs = run_ring_attention_processes(4, q, k, v, jq, jk, jv, logical_n=n, timeout_s=150)
    ro, rjo, _ = full_joint(q, k, v, jq, jk, jv)
    assert torch.allclose(out, ro, atol=1e-5, rtol=0)
    assert all(torch.allclose(j, rjo, atol=1e-5, rtol=0) for j in joint_outs)


@pytest.mark.parametrize("ring, n_local, logical_n", [(3, 16, 48), (4, 32, 70), (4, 32, 33)])
def test_batched_sim_form_equals_per_rank_reference(ring, n_local, logical_n):
    from ttfuse.kernels.ring_attention import ring_all_ranks, ring_reference

    g = torch.Generator().manual_seed(5)
    qs = torch.randn(ring, 1, 2, n_local + 8, 64, generator=g)
    ks, vs = (torch.randn(ring, 1, 2, n_local, 64, generator=g) for _ in range(2))
    jk, jv = (torch.randn(ring, 1, 2, 8, 64, generator=g) for _ in range(2))
    o, lse = ring_all_ranks(qs, ks, vs, jk, jv, logical_n=logical_n, scale=0.125)
    for r in range(ring):
        ro, rl = ring_reference(
            qs[r], list(ks), list(vs), jk[r], jv[r], rank=r, logical_n=logical_n, scale=0.125
        )
        assert torch.allclose(o[r], ro, atol=1e-6) and torch.allclose(lse[r], rl, atol=1e-6)
