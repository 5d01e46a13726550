"""The ttnn 0.81.1 names tt-symbiote needs that the facade gained for it (issue 22): ttnn.embedding, as_tensor,
unsqueeze_to_4D, model_preprocessing, Device, ttnn.core, and rms_norm's one-tile-row TILE weight."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import pcc
from ttfuse import ttnn
from ttfuse.errors import SpecError
from ttfuse.numerics import round_to_dtype


def test_embedding_gathers_rows_in_the_requested_layout(device):
    g = torch.Generator().manual_seed(0)
    table = torch.randn(50, 64, generator=g)
    ids = torch.randint(0, 50, (2, 7), generator=g)
    tw = ttnn.from_torch(table, dtype=ttnn.bfloat16, layout=ttnn.ROW_MAJOR_LAYOUT, device=device)
    ti = ttnn.from_torch(ids, dtype=ttnn.uint32, layout=ttnn.ROW_MAJOR_LAYOUT, device=device)
    for layout in (ttnn.ROW_MAJOR_LAYOUT, ttnn.TILE_LAYOUT):
        out = ttnn.embedding(ti, tw, layout=layout)
        assert tuple(out.shape) == (2, 7, 64) and out.layout == layout and out.dtype == ttnn.bfloat16
        torch.testing.assert_close(ttnn.to_torch(out).float(), round_to_dtype(table, "bfloat16")[ids])


def test_embedding_rejects_what_ttnn_rejects(device):
    tw = ttnn.from_torch(torch.randn(10, 32), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    ti = ttnn.from_torch(torch.zeros(1, 4, dtype=torch.int32), dtype=ttnn.uint32, device=device)
    with pytest.raises(SpecError, match="ttnn.embedding: argument 'weight' must be in ROW_MAJOR layout"):
        ttnn.embedding(ti, tw)
    rm = ttnn.from_torch(torch.randn(10, 32), dtype=ttnn.bfloat16, device=device)
    big = ttnn.from_torch(torch.full((1, 4), 12, dtype=torch.int32), dtype=ttnn.uint32, device=device)
    with pytest.raises(SpecError, match="ttnn.embedding: argument 'input_tensor' holds index 12 outside"):
        ttnn.embedding(big, rm)


def test_as_tensor_preprocesses_and_requires_a_memory_config_with_a_device(device):
    w = torch.randn(64, 32)
    t = ttnn.as_tensor(
        w,
        dtype=ttnn.bfloat16,
        layout=ttnn.TILE_LAYOUT,
        device=device,
        memory_config=ttnn.DRAM_MEMORY_CONFIG,
        preprocess=lambda x: x.T.contiguous(),
        cache_file_name="/nonexistent/never_written",
    )
    assert tuple(t.shape) == (32, 64) and t.layout == ttnn.TILE_LAYOUT and ttnn.is_tensor_storage_on_device(t)
    torch.testing.assert_close(ttnn.to_torch(t).float(), round_to_dtype(w.T, "bfloat16"))
    with pytest.raises(SpecError, match="ttnn.as_tensor: argument 'memory_config' must be specified"):
        ttnn.as_tensor(w, dtype=ttnn.bfloat16, device=device)
    assert not ttnn.is_tensor_storage_on_device(ttnn.as_tensor(w, dtype=ttnn.bfloat16))


def test_unsqueeze_to_4d(device):
    x = ttnn.from_torch(torch.randn(5, 64), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    assert tuple(ttnn.unsqueeze_to_4D(x).shape) == (1, 1, 5, 64)
    y = ttnn.from_torch(torch.randn(1, 2, 5, 64), dtype=ttnn.bfloat16, device=device)
    assert ttnn.unsqueeze_to_4D(y) is y
    z = ttnn.from_torch(torch.randn(1, 1, 2, 3, 4), dtype=ttnn.bfloat16)
    with pytest.raises(SpecError, match="ttnn.unsqueeze_to_4D: argument 'tensor' has rank 5"):
        ttnn.unsqueeze_to_4D(z)


def test_model_preprocessing_linear_matches_torch(device):
    from ttfuse.ttnn.model_preprocessing import preprocess_linear_bias, preprocess_linear_weight

    torch.manual_seed(0)
    lin = torch.nn.Linear(64, 96)
    x = torch.randn(3, 32, 64)
    w = ttnn.to_device(preprocess_linear_weight(lin.weight.data, dtype=ttnn.bfloat16), device)
    b = ttnn.to_device(preprocess_linear_bias(lin.bias.data, dtype=ttnn.bfloat16), device)
    assert tuple(w.shape) == (64, 96) and tuple(b.shape) == (1, 96) and w.layout == ttnn.TILE_LAYOUT
    tx = ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    out = ttnn.to_torch(ttnn.linear(tx, w, bias=b)).float()
    assert pcc(out, lin(x).detach()) > 0.999


def test_fold_batch_norm_matches_conv_then_bn():
    from ttfuse.ttnn.model_preprocessing import fold_batch_norm2d_into_conv2d

    torch.manual_seed(0)
    conv, bn = torch.nn.Conv2d(3, 8, 3, bias=True), torch.nn.BatchNorm2d(8)
    bn.running_mean.uniform_(-1, 1)
    bn.running_var.uniform_(0.5, 2)
    bn.weight.data.uniform_(0.5, 2)
    bn.eval()
    x = torch.randn(1, 3, 9, 9)
    w, b = fold_batch_norm2d_into_conv2d(conv, bn)
    torch.testing.assert_close(
        torch.nn.functional.conv2d(x, w, b.reshape(-1)), bn(conv(x)), atol=1e-5, rtol=1e-5
    )


def test_device_and_binding_paths_are_mesh_device(device):
    assert ttnn.Device is ttnn.MeshDevice
    assert ttnn._ttnn.multi_device.MeshDevice is ttnn.MeshDevice
    assert ttnn.core.divup(33, 32) == 2 and ttnn.core.roundup(33, 32) == 64


@pytest.mark.parametrize("rows", [1, 32])
def test_rms_norm_takes_a_one_tile_row_weight_as_tt_symbiote_passes_it(device, rows):
    # tt-symbiote's TTNNRMSNorm: weight.unsqueeze(0).expand(32, -1) in TILE layout (row 0 is read)
    torch.manual_seed(0)
    x, gamma = torch.randn(64, 96), torch.randn(96)
    tw = ttnn.from_torch(
        gamma.unsqueeze(0).expand(rows, -1), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device
    )
    tx = ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    out = ttnn.to_torch(ttnn.rms_norm(tx, weight=tw, epsilon=1e-6)).float()
    ref = x * torch.rsqrt(x.square().mean(-1, keepdim=True) + 1e-6) * gamma
    assert pcc(out, ref) > 0.999


@pytest.mark.parametrize("largest", [True, False])
def test_topk_values_and_indices(device, largest):
    x = torch.randn(2, 3, 64)
    t = ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    values, indices = ttnn.topk(t, 5, dim=-1, largest=largest)
    assert tuple(values.shape) == (2, 3, 5) and values.dtype == ttnn.bfloat16 and indices.dtype == ttnn.uint16
    ref_v, ref_i = torch.topk(round_to_dtype(x, "bfloat16"), 5, largest=largest)
    torch.testing.assert_close(ttnn.to_torch(values).float(), ref_v)
    assert torch.equal(ttnn.to_torch(indices).long(), ref_i)
    f32 = ttnn.from_torch(x, dtype=ttnn.float32, layout=ttnn.TILE_LAYOUT, device=device)
    assert ttnn.topk(f32, 3)[1].dtype == ttnn.uint32  # float32 inputs need 32-bit indices
    with pytest.raises(SpecError, match=r"ttnn.topk: argument 'k'=65 must be an int in \[1, 64\]"):
        ttnn.topk(t, 65)


def _rotate_half_ref(x, cos, sin):
    half = x.shape[-1] // 2
    return x * cos + torch.cat((-x[..., half:], x[..., :half]), -1) * sin


def test_rotary_embedding_prefill_pads_the_sequence_like_ttnn(device):
    b, h, s, d, cache = 1, 2, 20, 64, 48
    x, ang = torch.randn(b, h, s, d), torch.randn(1, 1, cache, d)
    cos, sin = ang.cos(), ang.sin()
    tt = [
        ttnn.from_torch(v, dtype=ttnn.float32, layout=ttnn.TILE_LAYOUT, device=device) for v in (x, cos, sin)
    ]
    out = ttnn.experimental.rotary_embedding(*tt)
    assert tuple(out.shape) == (b, h, 32, d)  # tt-metal computes on the tile-padded sequence
    got = ttnn.to_torch(out).float()
    assert pcc(got[:, :, :s], _rotate_half_ref(x, cos[..., :s, :], sin[..., :s, :])) > 0.9999
    assert bool((got[:, :, s:] == 0).all())
    with pytest.raises(
        SpecError, match="experimental.rotary_embedding: argument 'input_tensor' has head dim 32"
    ):
        ttnn.experimental.rotary_embedding(*(t[..., :32] for t in tt))


def test_rotary_embedding_decode_uses_the_token_row(device):
    x, ang = torch.randn(1, 1, 4, 64), torch.randn(1, 1, 16, 64)
    cos, sin = ang.cos(), ang.sin()
    tt = [
        ttnn.from_torch(v, dtype=ttnn.float32, layout=ttnn.TILE_LAYOUT, device=device) for v in (x, cos, sin)
    ]
    got = ttnn.to_torch(ttnn.experimental.rotary_embedding(*tt, 7)).float()
    assert pcc(got, _rotate_half_ref(x, cos[..., 7:8, :], sin[..., 7:8, :])) > 0.9999
    with pytest.raises(SpecError, match="'token_index'=16 is past the cos/sin cache"):
        ttnn.experimental.rotary_embedding(*tt, 16)


def test_gather_is_torch_gather(device):
    x = torch.randn(4, 64)
    idx = torch.randint(0, 64, (4, 10))
    tx = ttnn.from_torch(x, dtype=ttnn.float32, layout=ttnn.TILE_LAYOUT, device=device)
    ti = ttnn.from_torch(idx, dtype=ttnn.uint32, layout=ttnn.TILE_LAYOUT, device=device)
    out = ttnn.gather(tx, -1, ti)
    assert tuple(out.shape) == (4, 10) and out.dtype == ttnn.float32
    torch.testing.assert_close(ttnn.to_torch(out).float(), torch.gather(x, -1, idx))
    wide = ttnn.from_torch(
        torch.zeros(5, 10, dtype=torch.int32), dtype=ttnn.uint32, layout=ttnn.TILE_LAYOUT, device=device
    )
    with pytest.raises(
        SpecError, match=r"ttnn.gather: argument 'index' \[5, 10\] exceeds the input \[4, 64\]"
    ):
        ttnn.gather(tx, -1, wide)
