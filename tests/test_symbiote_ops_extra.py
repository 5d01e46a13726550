"""The ttnn 0.81.1 names from tt-symbiote's NOT_YET / CONV_FAMILY lists that the facade gained (issue 22): the
distributed RMSNorm pair (rms_norm_pre/post_all_gather, on one device and across a 1x2 mesh with all_gather),
scatter, experimental.fast_reduce_nc, move, fold, and the types Tile, MeshComposerConfig, Conv2dL1FullSliceConfig.
Each is checked against a torch reference and its rejections name the op and the argument."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import pcc
from ttfuse import ttnn
from ttfuse.errors import SpecError
from ttfuse.numerics import round_to_dtype

BF16, TILE = ttnn.bfloat16, ttnn.TILE_LAYOUT


def _dev(x, device, dtype=BF16, layout=TILE, **kw):
    return ttnn.from_torch(x, dtype=dtype, layout=layout, device=device, **kw)


def _bf(x):
    return round_to_dtype(x, "bfloat16")


def _rms_ref(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


# ------------------------------------------------------------------------------------ distributed RMSNorm
def test_rms_norm_pre_all_gather_puts_the_row_sum_of_squares_in_column_0(device):
    g = torch.Generator().manual_seed(0)
    x, r = torch.randn(1, 2, 32, 96, generator=g), torch.randn(1, 2, 32, 96, generator=g)
    st = ttnn.rms_norm_pre_all_gather(_dev(x, device), residual_input_tensor=_dev(r, device))
    assert tuple(st.shape) == (1, 2, 32, 32) and st.dtype == BF16 and st.layout == TILE
    got = ttnn.to_torch(st).float()
    torch.testing.assert_close(got[..., 0], _bf((_bf(x) + _bf(r)).pow(2).sum(-1)), rtol=0, atol=0)
    assert not got[..., 1:].any()
    f32 = ttnn.rms_norm_pre_all_gather(_dev(x, device), dtype=ttnn.float32)
    assert f32.dtype == ttnn.float32


def test_rms_norm_over_width_shards_matches_torch(device):
    # two "devices" by hand: each shard's stats, concatenated as all_gather would, then post per shard
    g = torch.Generator().manual_seed(1)
    x, w = torch.randn(1, 1, 64, 128, generator=g), 1 + 0.1 * torch.randn(128, generator=g)
    shards = [_dev(x[..., i * 64 : (i + 1) * 64], device) for i in range(2)]
    stats = ttnn.concat([ttnn.rms_norm_pre_all_gather(s) for s in shards], dim=3)
    assert tuple(stats.shape) == (1, 1, 64, 64)
    outs = []
    for i, s in enumerate(shards):  # tt-symbiote's weight form: ROW_MAJOR sticks [1, 1, W/32, 32] per shard
        wi = _dev(w[i * 64 : (i + 1) * 64].reshape(1, 1, 2, 32), device, layout=ttnn.ROW_MAJOR_LAYOUT)
        outs.append(ttnn.to_torch(ttnn.rms_norm_post_all_gather(s, stats, epsilon=1e-6, weight=wi)).float())
    got = torch.cat(outs, -1)
    ref = _rms_ref(_bf(x), _bf(w), 1e-6)
    assert pcc(got, ref) >= 0.9999 and (got - ref).abs().max() < 0.05
    # one device: the pair is ttnn.rms_norm
    one = ttnn.rms_norm_post_all_gather(
        _dev(x, device), ttnn.rms_norm_pre_all_gather(_dev(x, device)), epsilon=1e-6
    )
    assert pcc(ttnn.to_torch(one).float(), _rms_ref(_bf(x), 1.0, 1e-6)) >= 0.9999


@pytest.fixture
def mesh():
    m = ttnn.open_mesh_device(ttnn.MeshShape(1, 2))
    yield m
    ttnn.close_mesh_device(m)


def test_rms_norm_across_a_mesh_with_all_gather(mesh):
    g = torch.Generator().manual_seed(2)
    x, w = torch.randn(1, 1, 32, 128, generator=g), 1 + 0.1 * torch.randn(128, generator=g)
    t = _dev(x, mesh, mesh_mapper=ttnn.ShardTensorToMesh(mesh, 3))
    tw = _dev(
        w.reshape(1, 1, 4, 32),
        mesh,
        layout=ttnn.ROW_MAJOR_LAYOUT,
        mesh_mapper=ttnn.ShardTensorToMesh(mesh, 2),
    )
    stats = ttnn.all_gather(ttnn.rms_norm_pre_all_gather(t), 3)
    out = ttnn.rms_norm_post_all_gather(t, stats, epsilon=1e-6, weight=tw)
    got = ttnn.to_torch(
        out, mesh_composer=ttnn.create_mesh_composer(mesh, ttnn.MeshComposerConfig([3]))
    ).float()
    assert got.shape == x.shape
    assert pcc(got, _rms_ref(_bf(x), _bf(w), 1e-6)) >= 0.9999


def test_distributed_rms_norm_rejects_what_ttnn_rejects(device):
    x = _dev(torch.randn(1, 1, 32, 64), device)
    with pytest.raises(
        SpecError, match="ttnn.rms_norm_pre_all_gather: argument 'input_tensor' must be in TILE"
    ):
        ttnn.rms_norm_pre_all_gather(_dev(torch.randn(1, 1, 32, 64), device, layout=ttnn.ROW_MAJOR_LAYOUT))
    with pytest.raises(
        SpecError, match="ttnn.rms_norm_pre_all_gather: argument 'input_tensor' must be rank 4"
    ):
        ttnn.rms_norm_pre_all_gather(_dev(torch.randn(32, 64), device))
    bad = _dev(torch.randn(1, 1, 64, 32), device)
    with pytest.raises(SpecError, match="ttnn.rms_norm_post_all_gather: argument 'stats'"):
        ttnn.rms_norm_post_all_gather(x, bad)
    with pytest.raises(SpecError, match="ttnn.rms_norm_post_all_gather: argument 'weight'"):
        ttnn.rms_norm_post_all_gather(
            x, ttnn.rms_norm_pre_all_gather(x), weight=_dev(torch.ones(1, 1, 32, 32), device)
        )


# ------------------------------------------------------------------------------------------------ scatter
def test_scatter_is_torch_scatter_in_the_input_layout(device):
    g = torch.Generator().manual_seed(3)
    inp, src = torch.randn(2, 32, 64, generator=g), torch.randn(2, 32, 8, generator=g)
    idx = torch.stack([torch.randperm(64, generator=g)[:8] for _ in range(64)]).reshape(2, 32, 8)
    for dim, i, s in ((-1, idx, src), (1, idx.transpose(1, 2)[:, :, :8] % 32, src[:, :8, :8])):
        out = ttnn.scatter(_dev(inp, device), dim, _dev(i, device, ttnn.uint32), _dev(s, device))
        assert tuple(out.shape) == tuple(inp.shape) and out.layout == TILE and out.dtype == BF16
        torch.testing.assert_close(
            ttnn.to_torch(out).float(), _bf(inp).scatter(dim, i, _bf(s)), rtol=0, atol=0
        )


def test_scatter_rejects_what_ttnn_rejects(device):
    x, i = _dev(torch.randn(1, 32, 32), device), _dev(torch.zeros(1, 32, 4), device, ttnn.uint32)
    with pytest.raises(SpecError, match="ttnn.scatter: argument 'src' has dtype float32"):
        ttnn.scatter(x, -1, i, _dev(torch.randn(1, 32, 4), device, ttnn.float32, ttnn.ROW_MAJOR_LAYOUT))
    with pytest.raises(SpecError, match="ttnn.scatter: argument 'index' has dtype bfloat16; supported"):
        ttnn.scatter(x, -1, _dev(torch.zeros(1, 32, 4), device), _dev(torch.randn(1, 32, 4), device))
    with pytest.raises(SpecError, match="ttnn.scatter: argument 'reduce'"):
        ttnn.scatter(x, -1, i, _dev(torch.randn(1, 32, 4), device), reduce="add")
    with pytest.raises(SpecError, match="ttnn.scatter: argument 'input' is FLOAT32 in TILE"):
        ttnn.scatter(
            _dev(torch.randn(1, 32, 32), device, ttnn.float32),
            -1,
            i,
            _dev(torch.randn(1, 32, 4), device, ttnn.float32),
        )


# ------------------------------------------------------------------------------------- fast_reduce_nc, move
def test_fast_reduce_nc_sums_outer_dims_and_keeps_them(device):
    x = torch.randn(4, 3, 32, 64)
    out = ttnn.experimental.fast_reduce_nc(_dev(x, device, ttnn.float32), dims=[0, 1])
    assert tuple(out.shape) == (1, 1, 32, 64) and out.memory_config() == ttnn.DRAM_MEMORY_CONFIG
    torch.testing.assert_close(ttnn.to_torch(out), x.sum((0, 1), keepdim=True), rtol=1e-5, atol=1e-5)
    one = ttnn.experimental.fast_reduce_nc(_dev(x, device), dims=[1], memory_config=ttnn.L1_MEMORY_CONFIG)
    assert tuple(one.shape) == (4, 1, 32, 64) and one.memory_config() == ttnn.L1_MEMORY_CONFIG
    torch.testing.assert_close(ttnn.to_torch(one).float(), _bf(_bf(x).sum(1, keepdim=True)))
    golden = ttnn.get_golden_function(ttnn.experimental.fast_reduce_nc)(x, dims=[0, 1])
    torch.testing.assert_close(golden, x.sum((0, 1), keepdim=True))
    with pytest.raises(SpecError, match="ttnn.experimental.fast_reduce_nc: argument 'dims'=\\[3\\]"):
        ttnn.experimental.fast_reduce_nc(_dev(x, device), dims=[3])
    with pytest.raises(
        SpecError, match="ttnn.experimental.fast_reduce_nc: argument 'dims' must be a non-empty"
    ):
        ttnn.experimental.fast_reduce_nc(_dev(x, device))


def test_move_copies_and_frees_the_input(device):
    x = torch.randn(1, 1, 32, 64)
    t = _dev(x, device)
    out = ttnn.move(t, memory_config=ttnn.L1_MEMORY_CONFIG)
    assert not t.is_allocated() and out.memory_config() == ttnn.L1_MEMORY_CONFIG
    torch.testing.assert_close(ttnn.to_torch(out).float(), _bf(x))


# -------------------------------------------------------------------------------------------------- fold
def _fold_ref(x, sh, sw):
    """Space-to-depth by loops: channel block (i * sw + j) holds x[:, i::sh, j::sw, :]."""
    n, h, w, c = x.shape
    out = torch.empty(n, h // sh, w // sw, c * sh * sw)
    for i in range(sh):
        for j in range(sw):
            out[..., (i * sw + j) * c : (i * sw + j + 1) * c] = x[:, i::sh, j::sw, :]
    return out


@pytest.mark.parametrize("stride", [(2, 2), (4, 1), (1, 3)])
def test_fold_is_space_to_depth(device, stride):
    x = torch.randn(2, 8, 12, 4)
    out = ttnn.fold(_dev(x, device, layout=ttnn.ROW_MAJOR_LAYOUT), *stride)
    assert out.layout == ttnn.ROW_MAJOR_LAYOUT and out.dtype == BF16
    torch.testing.assert_close(ttnn.to_torch(out).float(), _fold_ref(_bf(x), *stride), rtol=0, atol=0)
    flat = ttnn.fold(_dev(x, device, layout=ttnn.ROW_MAJOR_LAYOUT), *stride, collapse_output=True)
    assert tuple(flat.shape) == (1, 1, 2 * 8 * 12 // (stride[0] * stride[1]), 4 * stride[0] * stride[1])


def test_fold_rejects_what_it_does_not_model(device):
    x = _dev(torch.randn(1, 8, 8, 4), device, layout=ttnn.ROW_MAJOR_LAYOUT)
    with pytest.raises(SpecError, match="ttnn.fold: input height 8 and width 8 must divide by stride_h=3"):
        ttnn.fold(x, 3, 1)
    with pytest.raises(SpecError, match="ttnn.fold: argument 'padding'"):
        ttnn.fold(x, 2, 2, padding=[1, 1])
    with pytest.raises(SpecError, match="ttnn.fold: argument 'input' is in TILE layout"):
        ttnn.fold(_dev(torch.randn(1, 8, 8, 32), device), 2, 2)


# ------------------------------------------------------------------------------------------------- types
def test_tile_reports_the_fields_the_real_binding_reports():
    # values read from ttnn 0.81.1's ttnn.Tile (conformance venv): face shape, faces, flags, bytes per tile
    t = ttnn.Tile([16, 32])
    assert (t.tile_shape, t.face_shape, t.num_faces, t.partial_face, t.narrow_tile) == (
        [16, 32],
        [16, 16],
        2,
        1,
        0,
    )
    assert t.get_tile_size(ttnn.bfloat16) == 1024 and t.get_tile_size(ttnn.bfloat8_b) == 544
    assert ttnn.Tile([32, 16]).narrow_tile == 1 and ttnn.Tile([1, 32]).face_shape == [1, 16]
    assert ttnn.Tile([32, 32], transpose_tile=True).transpose_of_faces and t == ttnn.Tile([16, 32])
    assert repr(t) == "Tile with shape: [16, 32]"
    with pytest.raises(SpecError, match="ttnn.Tile: argument 'tile_shape'"):
        ttnn.Tile([3, 32])


def test_conv2d_l1_full_slice_config_and_mesh_composer_config(device):
    assert ttnn.Conv2dL1FullSliceConfig == ttnn.Conv2dSliceConfig(slice_type=ttnn.Conv2dL1Full)
    assert ttnn.Op2DL1FullSliceConfig == ttnn.Conv2dL1FullSliceConfig
    # tt-symbiote's use (core/run_config.py): compose a replicated tensor over [0, rank]
    x = torch.randn(2, 32, 64)
    t = _dev(x, device)
    back = ttnn.to_torch(t, mesh_composer=ttnn.create_mesh_composer(device, ttnn.MeshComposerConfig([0, 3])))
    torch.testing.assert_close(back.float(), _bf(x))
    with pytest.raises(SpecError, match="ttnn.MeshComposerConfig: argument 'dims'"):
        ttnn.MeshComposerConfig([0, 1, 2])


# ------------------------------------------------------------------------------------------- sparse_matmul
def _cfg1d(mcast_in0=True):
    return ttnn.MatmulMultiCoreReuseMultiCast1DProgramConfig(
        compute_with_storage_grid_size=(8, 8),
        in0_block_w=1,
        out_subblock_h=1,
        out_subblock_w=1,
        out_block_h=1,
        out_block_w=1,
        per_core_M=1,
        per_core_N=1,
        fuse_batch=False,
        fused_activation=None,
        mcast_in0=mcast_in0,
    )


_HIFI4 = ttnn.WormholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.HiFi4, fp32_dest_acc_en=True)


@pytest.mark.parametrize(
    "a_sparse, b_sparse, a_shape, mask_shape",
    [
        (True, True, (1, 4, 32, 64), (1, 1, 1, 4)),
        (False, True, (2, 3, 32, 64), (2, 3, 1, 4)),
        (True, False, (3, 4, 32, 64), (1, 1, 3, 4)),
    ],
)
def test_sparse_matmul_computes_only_the_unmasked_pairs(device, a_sparse, b_sparse, a_shape, mask_shape):
    g = torch.Generator().manual_seed(4)
    a, b = torch.randn(a_shape, generator=g), torch.randn(1, 4, 64, 32, generator=g)
    mask = (torch.rand(mask_shape, generator=g) > 0.4).float()
    ab, bb = _bf(a), _bf(b)[0]
    if a_sparse and b_sparse:  # pair (0, e): a[0, e] @ b[e]
        ref = torch.einsum("emk,ekn->emn", ab[0], bb)[None] * mask[0, 0, 0][None, :, None, None]
    elif b_sparse:  # every token block against every expert: [A, B, 1, E, M, N]
        ref = torch.einsum("ijmk,ekn->ijemn", ab, bb)[:, :, None] * mask[..., None, None]
    else:  # pair (i, e): a[i, e] @ b[e]
        ref = torch.einsum("iemk,ekn->iemn", ab, bb) * mask[0, 0][..., None, None]
    out = ttnn.sparse_matmul(
        _dev(a, device),
        _dev(b, device),
        sparsity=_dev(mask, device, layout=ttnn.ROW_MAJOR_LAYOUT),
        program_config=_cfg1d(),
        compute_kernel_config=_HIFI4,
        is_input_a_sparse=a_sparse,
        is_input_b_sparse=b_sparse,
        nnz=int(mask.count_nonzero()),
        output_tile=ttnn.Tile([32, 32]),
    )
    got = ttnn.to_torch(out).float()
    assert got.shape == ref.shape and out.memory_config() == ttnn.DRAM_MEMORY_CONFIG
    if mask_shape == (2, 3, 1, 4):  # the volume counts, not the shape: tt-symbiote's [1, 1, blocks, E] mask
        flat = _dev(mask.reshape(1, 1, 6, 4), device, layout=ttnn.ROW_MAJOR_LAYOUT)
        again = ttnn.sparse_matmul(
            _dev(a, device),
            _dev(b, device),
            sparsity=flat,
            program_config=_cfg1d(),
            compute_kernel_config=_HIFI4,
        )
        assert torch.equal(ttnn.to_torch(again), ttnn.to_torch(out))
        # moe_expert_token_remap's UINT16 mask, as tt-symbiote passes it (the kernel tests 16-bit words != 0)
        u16 = _dev(mask.reshape(1, 1, 6, 4), device, dtype=ttnn.uint16, layout=ttnn.ROW_MAJOR_LAYOUT)
        again = ttnn.sparse_matmul(
            _dev(a, device),
            _dev(b, device),
            sparsity=u16,
            program_config=_cfg1d(),
            compute_kernel_config=_HIFI4,
        )
        assert torch.equal(ttnn.to_torch(again), ttnn.to_torch(out))
    assert not got[ref == 0].any()  # masked pairs are zero
    assert pcc(got, ref) >= 0.9999 and (got - _bf(ref)).abs().max() <= 0.07 * ref.abs().max()


def test_sparse_matmul_rejects_what_ttnn_rejects(device):
    a, b = _dev(torch.randn(1, 2, 32, 64), device), _dev(torch.randn(1, 2, 64, 32), device)
    mask = _dev(torch.ones(1, 2, 1, 2), device, layout=ttnn.ROW_MAJOR_LAYOUT)
    with pytest.raises(SpecError, match="ttnn.sparse_matmul: argument 'program_config' must be"):
        ttnn.sparse_matmul(a, b, sparsity=mask, program_config=_cfg1d(mcast_in0=False))
    with pytest.raises(
        SpecError, match="ttnn.sparse_matmul: is_input_a_sparse=False with is_input_b_sparse=False"
    ):
        ttnn.sparse_matmul(a, b, sparsity=mask, program_config=_cfg1d(), is_input_b_sparse=False)
    with pytest.raises(
        SpecError, match="ttnn.sparse_matmul: argument 'sparsity' \\[1, 1, 1, 2\\] must hold 4 entries"
    ):
        ttnn.sparse_matmul(
            a,
            b,
            sparsity=_dev(torch.ones(1, 1, 1, 2), device, layout=ttnn.ROW_MAJOR_LAYOUT),
            program_config=_cfg1d(),
        )
    with pytest.raises(SpecError, match="ttnn.sparse_matmul: argument 'nnz'=3 but 'sparsity' has 4 non-zero"):
        ttnn.sparse_matmul(a, b, sparsity=mask, program_config=_cfg1d(), nnz=3)


# ---------------------------------------------------------------------------------- moe_expert_token_remap
def _remap_ref(topk, mapping, meta, device_index, r):
    """By loops: local expert j of the device is its j-th expert; keep the score where the token chose it."""
    local = [g for g in range(mapping.shape[2]) if mapping[0, 0, g, device_index]]
    _, b, s, _ = topk.shape
    out = torch.zeros(1, b, s, len(local))
    for i in range(b):
        for t in range(s):
            for j, g in enumerate(local):
                if g in meta[0, i, t].tolist():
                    out[0, i, t, j] = topk[0, i, t, g]
    flat = out.reshape(-1, len(local))
    red = torch.stack([(flat[c : c + r] != 0).any(0) for c in range(0, flat.shape[0], r)]).float()
    return out, red[None, None]


def _routing(g, b, s, experts, k, devices):
    topk = torch.rand(1, b, s, experts, generator=g) + 0.1
    meta = torch.stack([torch.randperm(experts, generator=g)[:k] for _ in range(b * s)]).reshape(1, b, s, k)
    mapping = torch.zeros(1, 1, experts, devices)
    for e in range(experts):
        mapping[0, 0, e, (e * 7) % devices] = 1  # interleaved placement: local order is not contiguous
    return topk, mapping, meta


def _rm(x, device, dtype, **kw):
    return ttnn.from_torch(x, dtype=dtype, layout=ttnn.ROW_MAJOR_LAYOUT, device=device, **kw)


def test_moe_expert_token_remap_on_one_device(device):
    g = torch.Generator().manual_seed(5)
    topk, mapping, meta = _routing(g, 2, 16, 4, 2, 1)
    got_map, got_red = ttnn.moe_expert_token_remap(
        _rm(topk, device, BF16),
        _rm(mapping, device, ttnn.uint16),
        _rm(meta, device, ttnn.uint16),
        reduction_size=8,
    )
    want_map, want_red = _remap_ref(_bf(topk), mapping, meta, 0, 8)
    assert tuple(got_map.shape) == (1, 2, 16, 4) and got_red.dtype == ttnn.uint16
    torch.testing.assert_close(ttnn.to_torch(got_map).float(), want_map, rtol=0, atol=0)
    torch.testing.assert_close(ttnn.to_torch(got_red).float(), want_red, rtol=0, atol=0)
    with pytest.raises(
        SpecError, match="ttnn.moe_expert_token_remap: argument 'reduction_size'=5 must divide"
    ):
        ttnn.moe_expert_token_remap(
            _rm(topk, device, BF16),
            _rm(mapping, device, ttnn.uint16),
            _rm(meta, device, ttnn.uint16),
            reduction_size=5,
        )


def test_moe_expert_token_remap_per_device_of_a_mesh(mesh):
    g = torch.Generator().manual_seed(6)
    topk, mapping, meta = _routing(g, 1, 32, 8, 2, 2)
    rep = ttnn.ReplicateTensorToMesh(mesh)
    got_map, got_red = ttnn.moe_expert_token_remap(
        _rm(topk, mesh, BF16, mesh_mapper=rep),
        _rm(mapping, mesh, ttnn.uint16, mesh_mapper=rep),
        _rm(meta, mesh, ttnn.uint16, mesh_mapper=rep),
        reduction_size=32,
    )
    for d, (m, r) in enumerate(
        zip(ttnn.get_device_tensors(got_map), ttnn.get_device_tensors(got_red), strict=True)
    ):
        want_map, want_red = _remap_ref(_bf(topk), mapping, meta, d, 32)
        torch.testing.assert_close(ttnn.to_torch(m).float(), want_map, rtol=0, atol=0)
        torch.testing.assert_close(ttnn.to_torch(r).float(), want_red, rtol=0, atol=0)


def test_from_torch_of_a_parameter_leaves_no_autograd_in_device_storage(device):
    # tt-symbiote uploads nn.Parameters; a requires-grad tensor in storage broke later out= kernels (bfloat8_b
    # rounding of any op reading it: "functions with out=... arguments don't support automatic differentiation")
    w = torch.nn.Parameter(torch.randn(64, 64))
    t = ttnn.from_torch(w, dtype=ttnn.float32, layout=TILE, device=device)
    out = ttnn.add(_dev(torch.randn(64, 64), device, ttnn.bfloat8_b), t)
    assert out.dtype == ttnn.bfloat8_b and not ttnn.to_torch(t).requires_grad


@pytest.mark.parametrize(
    "a_sparse, a_shape, mask_shape",
    [(False, (2, 3, 32, 64), (1, 1, 6, 4)), (True, (3, 4, 32, 64), (1, 1, 3, 4))],
)
def test_sparse_matmul_takes_3d_expert_weights(device, a_sparse, a_shape, mask_shape):
    # tt-symbiote's TTNNExperts passes [E, K, N] weights; the 0.81.1 golden appends b's batch dims to a's
    g = torch.Generator().manual_seed(7)
    a, b = torch.randn(a_shape, generator=g), torch.randn(4, 64, 32, generator=g)
    mask = (torch.rand(mask_shape, generator=g) > 0.4).float()
    ab, bb = _bf(a), _bf(b)
    if a_sparse:  # pair (i, e): a[i, e] @ b[e] -> [A, E, M, N]
        ref = torch.einsum("iemk,ekn->iemn", ab, bb) * mask[0, 0][..., None, None]
    else:  # every token block against every expert: [A, B, E, M, N] (no 1 before E)
        ref = torch.einsum("ijmk,ekn->ijemn", ab, bb) * mask.reshape(2, 3, 4)[..., None, None]
    out = ttnn.sparse_matmul(
        _dev(a, device),
        _dev(b, device),
        sparsity=_dev(mask, device, dtype=ttnn.uint16, layout=ttnn.ROW_MAJOR_LAYOUT),
        program_config=_cfg1d(),
        compute_kernel_config=_HIFI4,
        is_input_a_sparse=a_sparse,
        is_input_b_sparse=not a_sparse,
    )
    got = ttnn.to_torch(out).float()
    assert got.shape == ref.shape and not got[ref == 0].any()
    assert pcc(got, ref) >= 0.9999 and (got - _bf(ref)).abs().max() <= 0.07 * ref.abs().max()
