"""Attention and head ops vs torch goldens: SDPA (causal, masked, GQA, window, sink, windowed), joint SDPA,
QKV head split/merge round trips, output specs, launch counts, costs, and bad inputs."""

import math

import pytest
import torch
import torch.nn.functional as F

import ttfuse.ops.attention as attn
from ttfuse import sim, ttnn
from ttfuse.errors import SpecError
from ttfuse.numerics import round_to_dtype
from ttfuse.opdef import CostCtx
from ttfuse.testing import pcc

T = ttnn.transformer
X = ttnn.experimental


def dev_tensor(x, dev, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, **kw):
    return ttnn.from_torch(x, dtype=dtype, layout=layout, device=dev, **kw)


def values(t) -> torch.Tensor:
    return ttnn.to_torch(t).float()


def bf16_ref(x: torch.Tensor) -> torch.Tensor:
    """Independent bfloat16 reference: round-to-nearest-even of a float64/float32 golden."""
    return x.float().to(torch.bfloat16).float()


def assert_within_bf16_ulp(out: torch.Tensor, golden: torch.Tensor, atol: float = 2.0**-16) -> None:
    """|out - bf16(golden)| <= one bf16 ulp of the reference (plus `atol`: the float32 accumulation error of a
    softmax-weighted sum, which matters only for outputs that nearly cancel to 0)."""
    ref = bf16_ref(golden)
    ulp = torch.exp2(torch.floor(torch.log2(ref.abs().clamp_min(2.0**-120))) - 7)
    bad = (out - ref).abs() > ulp + atol
    assert not bad.any(), (
        f"{int(bad.sum())} elements off by more than one bf16 ulp; max err {(out - ref).abs().max()}"
    )


def golden_sdpa(q, k, v, *, scale=None, mask=None, causal=False, keep=None, sink=None):
    """float64 TT-rule attention: softmax(scale*(QK^T + mask)) V, K/V repeated for GQA."""
    q, k, v = q.double(), k.double(), v.double()
    g = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(g, 1), v.repeat_interleave(g, 1)
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    s = q @ k.transpose(-1, -2)
    if mask is not None:
        s = s + mask.double()
    sq, sk = s.shape[-2:]
    if causal:
        keep = torch.ones(sq, sk, dtype=torch.bool).tril() if keep is None else keep
    if keep is not None:
        s = s.masked_fill(~keep, float("-inf"))
    s = s * scale
    if sink is not None:
        s = torch.cat([s, (sink.double() * scale).expand(*s.shape[:-1], 1)], -1)
    p = torch.softmax(s, -1)
    if sink is not None:
        p = p[..., :-1]
    return p @ v


def qkv(dev, b, nqh, nkv, sq, dh, sk=None, dtype=ttnn.bfloat16):
    sk = sq if sk is None else sk
    ts = [
        dev_tensor(torch.randn(*shape), dev, dtype)
        for shape in ((b, nqh, sq, dh), (b, nkv, sk, dh), (b, nkv, sk, dh))
    ]
    return ts, [values(t) for t in ts]


# ----------------------------------------------------------------------------------------------------- SDPA
@pytest.mark.parametrize("b,nqh,nkv,s,dh", [(1, 2, 2, 64, 32), (2, 4, 1, 96, 64), (1, 8, 2, 128, 32)])
def test_sdpa_causal_default_gqa(device, b, nqh, nkv, s, dh):
    (tq, tk, tv), (q, k, v) = qkv(device, b, nqh, nkv, s, dh)
    with sim.count_launches(device) as ctr:
        out = T.scaled_dot_product_attention(tq, tk, tv)  # is_causal defaults to True
    assert ctr.by_op == {"scaled_dot_product_attention": 1}
    assert out.shape == (b, nqh, s, dh) and out.padded_shape == (b, nqh, s, dh)
    assert out.dtype == ttnn.bfloat16 and out.layout == ttnn.TILE_LAYOUT
    assert out.memory_config() == ttnn.DRAM_MEMORY_CONFIG
    assert_within_bf16_ulp(values(out), golden_sdpa(q, k, v, causal=True))
    g = nqh // nkv
    torch_ref = F.scaled_dot_product_attention(
        q, k.repeat_interleave(g, 1), v.repeat_interleave(g, 1), is_causal=True
    )
    assert_within_bf16_ulp(values(out), torch_ref)


@pytest.mark.parametrize("mask_b,mask_h", [(1, 1), (2, 1), (1, 4), (2, 4)])
def test_sdpa_mask_is_scaled_inside_exponent(device, mask_b, mask_h):
    (tq, tk, tv), (q, k, v) = qkv(device, 2, 4, 2, 64, 32, sk=96)
    mask = bf16_ref(torch.randn(mask_b, mask_h, 64, 96) * 4)
    tm = dev_tensor(mask, device)
    out = values(T.scaled_dot_product_attention(tq, tk, tv, attn_mask=tm, is_causal=False))
    scale = 1 / math.sqrt(32)
    # TT rule: the additive mask is scaled with QK^T, i.e. torch SDPA with attn_mask * scale
    torch_ref = F.scaled_dot_product_attention(
        q, k.repeat_interleave(2, 1), v.repeat_interleave(2, 1), attn_mask=mask * scale
    )
    assert_within_bf16_ulp(out, golden_sdpa(q, k, v, mask=mask))
    assert_within_bf16_ulp(out, torch_ref)
    unscaled = F.scaled_dot_product_attention(
        q, k.repeat_interleave(2, 1), v.repeat_interleave(2, 1), attn_mask=mask
    )
    assert (bf16_ref(unscaled) - out).abs().max() > 1e-2  # the plain torch convention would be wrong


def test_sdpa_scale_and_program_config_chunks_not_dividing(device):
    (tq, tk, tv), (q, k, v) = qkv(device, 1, 2, 2, 96, 64)
    cfg = ttnn.SDPAProgramConfig(compute_with_storage_grid_size=(8, 8), q_chunk_size=64, k_chunk_size=128)
    out = T.scaled_dot_product_attention(tq, tk, tv, is_causal=False, scale=0.3, program_config=cfg)
    assert_within_bf16_ulp(values(out), golden_sdpa(q, k, v, scale=0.3))


def test_sdpa_memory_config_and_bfloat8_b(device):
    (tq, tk, tv), (q, k, v) = qkv(device, 1, 2, 2, 64, 32, dtype=ttnn.bfloat8_b)
    out = T.scaled_dot_product_attention(tq, tk, tv, memory_config=ttnn.L1_MEMORY_CONFIG)
    assert out.dtype == ttnn.bfloat8_b and out.memory_config() == ttnn.L1_MEMORY_CONFIG
    golden = golden_sdpa(q, k, v, causal=True).float()
    got = values(out)
    assert pcc(got, golden) > 0.999
    assert torch.allclose(got, round_to_dtype(golden, "bfloat8_b"), atol=0.05)


@pytest.mark.parametrize("causal", [True, False])
def test_sdpa_sliding_window(device, causal):
    (tq, tk, tv), (q, k, v) = qkv(device, 1, 2, 2, 64, 32)
    w = 16
    i, j = torch.arange(64).unsqueeze(1), torch.arange(64)
    keep = (j <= i) & (j > i - w) if causal else (i - j).abs() <= w // 2
    out = T.scaled_dot_product_attention(tq, tk, tv, is_causal=causal, sliding_window_size=w)
    assert_within_bf16_ulp(values(out), golden_sdpa(q, k, v, keep=keep))


def test_sdpa_attention_sink(device):
    (tq, tk, tv), (q, k, v) = qkv(device, 2, 4, 2, 64, 32)
    sink = bf16_ref(torch.randn(1, 4, 1, 1) * 3)
    out = T.scaled_dot_product_attention(tq, tk, tv, attention_sink=dev_tensor(sink, device))
    assert_within_bf16_ulp(values(out), golden_sdpa(q, k, v, causal=True, sink=sink))


def test_sdpa_windowed_and_output_concat_heads(device):
    (tq, tk, tv), (q, k, v) = qkv(device, 1, 2, 2, 96, 32)
    cu = torch.tensor([0, 32, 40, 96], dtype=torch.int32)
    tcu = ttnn.from_torch(cu, dtype=ttnn.int32, device=device)
    wid = torch.searchsorted(cu.long(), torch.arange(96), right=True)
    keep = wid.unsqueeze(1) == wid
    out = T.scaled_dot_product_attention(tq, tk, tv, is_causal=False, cu_window_seqlens=tcu)
    assert_within_bf16_ulp(values(out), golden_sdpa(q, k, v, keep=keep))
    causal = T.scaled_dot_product_attention(tq, tk, tv, cu_window_seqlens=tcu)
    assert_within_bf16_ulp(values(causal), golden_sdpa(q, k, v, keep=keep & torch.ones(96, 96).tril().bool()))
    cat = T.scaled_dot_product_attention(
        tq, tk, tv, is_causal=False, cu_window_seqlens=tcu, output_concat_heads=True
    )
    assert cat.shape == (1, 1, 96, 64)
    assert torch.equal(values(cat), values(X.nlp_concat_heads(out)))


def test_sdpa_block_map_skips_blocks(device):
    (tq, tk, tv), (q, k, v) = qkv(device, 1, 2, 2, 64, 32)
    mask = torch.zeros(1, 1, 64, 64)
    blocks = torch.tensor([[1, 0], [1, 1]], dtype=torch.int32).reshape(1, 1, 2, 2)
    tb = ttnn.from_torch(blocks, dtype=ttnn.int32, device=device)
    out = T.scaled_dot_product_attention(
        tq, tk, tv, attn_mask=dev_tensor(mask, device), is_causal=False, attn_mask_block_map=tb
    )
    keep = blocks[0, 0].bool().repeat_interleave(32, 0).repeat_interleave(32, 1)
    assert_within_bf16_ulp(values(out), golden_sdpa(q, k, v, keep=keep))


def test_sdpa_sim_is_memory_bounded(device, monkeypatch):
    (tq, tk, tv), (q, k, v) = qkv(device, 1, 4, 2, 128, 32)
    full = values(T.scaled_dot_product_attention(tq, tk, tv))
    monkeypatch.setattr(attn, "SIM_SCORE_BYTES", 4 * 128 * 4 * 7)  # 7 query rows per block
    blocked = values(T.scaled_dot_product_attention(tq, tk, tv))
    assert torch.allclose(blocked, full, atol=1e-2)
    assert_within_bf16_ulp(blocked, golden_sdpa(q, k, v, causal=True))


def test_sdpa_cost():
    q = ttnn.TensorSpec((2, 4, 128, 64), ttnn.bfloat16)
    kv = ttnn.TensorSpec((2, 2, 256, 64), ttnn.bfloat16)
    op = attn.scaled_dot_product_attention
    ctx = CostCtx(
        op,
        {"input_tensor_q": q, "input_tensor_k": kv, "input_tensor_v": kv},
        [q],
        {"is_causal": False, "program_config": None, "compute_kernel_config": None},
    )
    c = op.cost_rule(ctx)
    assert c.matmul_flops == 4 * 2 * 4 * 128 * 256 * 64 and c.launches == 1 and c.fidelity == "HiFi2"
    assert c.dram_bytes > q.nbytes * 2 + kv.nbytes * 2  # K/V re-streamed per q chunk


def _sdpa_bad(device, **kw):
    (tq, tk, tv), _ = qkv(device, 1, 4, 2, 64, 32)
    args = {"input_tensor_q": tq, "input_tensor_k": tk, "input_tensor_v": tv}
    args.update(kw)
    return T.scaled_dot_product_attention(
        args.pop("input_tensor_q"), args.pop("input_tensor_k"), args.pop("input_tensor_v"), **args
    )


def test_sdpa_bad_inputs(device):
    name = "ttnn.transformer.scaled_dot_product_attention"
    f32 = dev_tensor(torch.randn(1, 4, 64, 32), device, ttnn.float32)
    with pytest.raises(SpecError, match=f"{name}: argument 'input_tensor_q' has dtype float32"):
        _sdpa_bad(device, input_tensor_q=f32)
    k3 = dev_tensor(torch.randn(1, 3, 64, 32), device)
    with pytest.raises(SpecError, match=f"{name}: argument 'input_tensor_k': Q num_heads \\(4\\) must be"):
        _sdpa_bad(device, input_tensor_k=k3, input_tensor_v=k3)
    rm = dev_tensor(torch.randn(1, 4, 64, 32), device, layout=ttnn.ROW_MAJOR_LAYOUT)
    with pytest.raises(SpecError, match=f"{name}: argument 'input_tensor_q' must be in TILE layout"):
        _sdpa_bad(device, input_tensor_q=rm)
    cfg = ttnn.SDPAProgramConfig(compute_with_storage_grid_size=(8, 8), q_chunk_size=48, k_chunk_size=32)
    with pytest.raises(
        SpecError, match=f"{name}: argument 'program_config': q_chunk_size must be a positive multiple of 32"
    ):
        _sdpa_bad(device, program_config=cfg)
    big = ttnn.SDPAProgramConfig(compute_with_storage_grid_size=(13, 10), q_chunk_size=32, k_chunk_size=32)
    with pytest.raises(SpecError, match=f"{name}: argument 'program_config': compute_with_storage_grid_size"):
        _sdpa_bad(device, program_config=big)
    huge = ttnn.SDPAProgramConfig(compute_with_storage_grid_size=(8, 8), q_chunk_size=1024, k_chunk_size=1024)
    with pytest.raises(SpecError, match=f"{name}: argument 'program_config': .* more than the .* L1"):
        _sdpa_bad(device, program_config=huge)
    bad_mask = dev_tensor(torch.zeros(1, 2, 64, 64), device)
    with pytest.raises(SpecError, match=f"{name}: argument 'attn_mask' has shape \\[1, 2, 64, 64\\]"):
        _sdpa_bad(device, attn_mask=bad_mask, is_causal=False)
    mask = dev_tensor(torch.zeros(1, 1, 64, 64), device)
    with pytest.raises(SpecError, match=f"{name}: arguments 'is_causal' and 'attn_mask' cannot both be set"):
        _sdpa_bad(device, attn_mask=mask)
    k_long = dev_tensor(torch.randn(1, 2, 96, 32), device)
    with pytest.raises(SpecError, match=f"{name}: argument 'is_causal': causal SDPA needs equal"):
        _sdpa_bad(device, input_tensor_k=k_long, input_tensor_v=k_long)
    with pytest.raises(
        SpecError, match=f"{name}: argument 'attention_sink' must have shape \\[1, 4, 1, 1\\]"
    ):
        _sdpa_bad(device, attention_sink=dev_tensor(torch.zeros(1, 2, 1, 1), device))
    with pytest.raises(SpecError, match=f"{name}: .*unexpected keyword argument 'causal'"):
        _sdpa_bad(device, causal=False)


# ------------------------------------------------------------------------------------------------ joint SDPA
@pytest.mark.parametrize("n,L", [(64, 32), (96, 45)])
def test_joint_sdpa_matches_full_attention(device, n, L):
    (tq, tk, tv), (q, k, v) = qkv(device, 1, 2, 2, n, 64)
    (jq, jk, jv), (q2, k2, v2) = qkv(device, 1, 2, 2, L, 64)
    cfg = ttnn.SDPAProgramConfig(compute_with_storage_grid_size=(8, 8), q_chunk_size=32, k_chunk_size=64)
    with sim.count_launches(device) as ctr:
        out, jout = T.joint_scaled_dot_product_attention(
            tq, tk, tv, jq, jk, jv, joint_strategy="rear", program_config=cfg
        )
    assert ctr.total == 1
    assert (
        out.shape == (1, 2, n, 64)
        and jout.shape == (1, 2, L, 64)
        and jout.padded_shape[2] == -(-L // 32) * 32
    )
    assert out.dtype == ttnn.bfloat16 and out.memory_config() == ttnn.DRAM_MEMORY_CONFIG
    full = F.scaled_dot_product_attention(torch.cat([q, q2], 2), torch.cat([k, k2], 2), torch.cat([v, v2], 2))
    golden = golden_sdpa(torch.cat([q, q2], 2), torch.cat([k, k2], 2), torch.cat([v, v2], 2))
    assert_within_bf16_ulp(values(out), golden[:, :, :n])
    assert_within_bf16_ulp(values(jout), golden[:, :, n:])
    assert_within_bf16_ulp(values(out), full[:, :, :n])


def test_joint_sdpa_bad_inputs(device):
    name = "ttnn.transformer.joint_scaled_dot_product_attention"
    (tq, tk, tv), _ = qkv(device, 1, 2, 2, 64, 64)
    (jq, jk, jv), _ = qkv(device, 1, 2, 2, 32, 64)
    cfg = ttnn.SDPAProgramConfig(compute_with_storage_grid_size=(8, 8), q_chunk_size=32, k_chunk_size=32)
    with pytest.raises(SpecError, match=f"{name}: argument 'joint_strategy' must be 'rear'"):
        T.joint_scaled_dot_product_attention(
            tq, tk, tv, jq, jk, jv, joint_strategy="front", program_config=cfg
        )
    with pytest.raises(SpecError, match=f"{name}: missing a required argument: 'program_config'"):
        T.joint_scaled_dot_product_attention(tq, tk, tv, jq, jk, jv, joint_strategy="rear")
    (gq, _, _), _ = qkv(device, 1, 4, 4, 32, 64)
    with pytest.raises(SpecError, match=f"{name}: argument 'joint_tensor_q' has shape \\[1, 4, 32, 64\\]"):
        T.joint_scaled_dot_product_attention(
            tq, tk, tv, gq, jk, jv, joint_strategy="rear", program_config=cfg
        )
    f8 = dev_tensor(torch.randn(1, 2, 32, 64), device, ttnn.bfloat8_b)
    with pytest.raises(SpecError, match=f"{name}: argument 'joint_tensor_v' has dtype bfloat8_b"):
        T.joint_scaled_dot_product_attention(
            tq, tk, tv, jq, jk, f8, joint_strategy="rear", program_config=cfg
        )


# -------------------------------------------------------------------------------------------------- head ops
def split_golden(x, nq, nkv, d):
    b, s, _ = x.shape
    t = x.reshape(b, s, nq + 2 * nkv, d).permute(0, 2, 1, 3)
    return t[:, :nq], t[:, nq : nq + nkv], t[:, nq + nkv :]


@pytest.mark.parametrize("dtype", [ttnn.float32, ttnn.bfloat16])
@pytest.mark.parametrize("nq,nkv,transpose", [(2, None, True), (4, 2, False), (4, 1, True)])
def test_split_heads_and_concatenate_round_trip(device, dtype, nq, nkv, transpose):
    b, s, d = 2, 40, 32
    kvh = nq if nkv is None else nkv
    x = torch.randn(b, s, (nq + 2 * kvh) * d)
    tx = dev_tensor(x, device, dtype)
    xr = values(tx)  # already rounded to dtype: head ops must copy it exactly
    with sim.count_launches(device) as ctr:
        q, k, v = T.split_query_key_value_and_split_heads(
            tx, num_heads=nq, num_kv_heads=nkv, transpose_key=transpose
        )
    assert ctr.total == 1
    gq, gk, gv = split_golden(xr, nq, kvh, d)
    assert q.shape == (b, nq, s, d) and v.shape == (b, kvh, s, d) and q.padded_shape == (b, nq, 64, d)
    assert k.shape == ((b, kvh, d, s) if transpose else (b, kvh, s, d))
    assert q.dtype == dtype and q.layout == ttnn.TILE_LAYOUT and q.memory_config() == tx.memory_config()
    assert torch.equal(values(q), gq) and torch.equal(values(v), gv)
    assert torch.equal(values(k), gk.transpose(-1, -2) if transpose else gk)
    merged = T.concatenate_heads(q)
    assert merged.shape == (b, s, nq * d)
    assert torch.equal(values(merged), xr[..., : nq * d])


def test_split_heads_with_kv_input_and_memory_config(device):
    q_in, kv_in = torch.randn(1, 32, 64), torch.randn(1, 32, 128)
    tq, tkv = dev_tensor(q_in, device, ttnn.float32), dev_tensor(kv_in, device, ttnn.float32)
    q, k, v = T.split_query_key_value_and_split_heads(
        tq, tkv, num_heads=2, transpose_key=False, memory_config=ttnn.L1_MEMORY_CONFIG
    )
    gq, gk, gv = split_golden(torch.cat([q_in, kv_in], -1), 2, 2, 32)
    assert q.memory_config() == ttnn.L1_MEMORY_CONFIG
    assert torch.equal(values(q), gq) and torch.equal(values(k), gk) and torch.equal(values(v), gv)


@pytest.mark.parametrize("dtype", [ttnn.float32, ttnn.bfloat16, ttnn.bfloat8_b])
def test_nlp_create_and_concat_heads(device, dtype):
    b, s, h, d = 2, 64, 3, 32
    x = torch.randn(b, 1, s, 3 * h * d)
    tx = dev_tensor(x, device, dtype)
    xr = values(tx)
    q, k, v = X.nlp_create_qkv_heads(tx, num_heads=h, transpose_k_heads=False)
    gq, gk, gv = split_golden(xr[:, 0], h, h, d)
    for got, want in ((q, gq), (k, gk), (v, gv)):
        assert got.dtype == dtype
        assert torch.equal(values(got), round_to_dtype(want.contiguous(), dtype.value))
    out = X.nlp_concat_heads(q)
    assert out.shape == (b, 1, s, h * d)
    assert torch.equal(values(out), round_to_dtype(xr[..., : h * d].contiguous(), dtype.value))


def test_nlp_create_qkv_heads_input_kv_tied_and_transpose(device):
    x, kv = torch.randn(1, 1, 32, 128), torch.randn(1, 1, 32, 64)
    tx, tkv = dev_tensor(x, device, ttnn.float32), dev_tensor(kv, device, ttnn.float32)
    q, k, v = X.nlp_create_qkv_heads(tx, tkv, num_heads=4, num_kv_heads=1)
    assert k.shape == (1, 1, 32, 32)
    assert torch.equal(values(k), kv[:, :, :, :32].transpose(-1, -2)) and torch.equal(
        values(v), kv[:, :, :, 32:]
    )
    tied = dev_tensor(torch.randn(1, 1, 32, 96), device, ttnn.float32)
    q, k, v = X.nlp_create_qkv_heads(tied, num_heads=2, num_kv_heads=1, transpose_k_heads=False, kv_tied=True)
    assert torch.equal(values(k), values(v)) and torch.equal(values(k)[0, 0], values(tied)[0, 0, :, 64:])


@pytest.mark.parametrize("dtype", [ttnn.float32, ttnn.bfloat16])
def test_boltz_heads_round_trip(device, dtype):
    s, h, d = 32, 2, 32
    x = torch.randn(1, s, s, 3 * h * d)
    tx = dev_tensor(x, device, dtype)
    xr = values(tx)
    q, k, v = X.nlp_create_qkv_heads_boltz(
        tx, num_heads=h, num_kv_heads=h, transpose_k_heads=False, memory_config=ttnn.DRAM_MEMORY_CONFIG
    )
    t = xr[0].reshape(s, s, 3 * h, d).permute(2, 0, 1, 3)
    assert q.shape == (h, s, s, d)
    assert (
        torch.equal(values(q), t[:h])
        and torch.equal(values(k), t[h : 2 * h])
        and torch.equal(values(v), t[2 * h :])
    )
    back = X.nlp_concat_heads_boltz(q, memory_config=ttnn.DRAM_MEMORY_CONFIG)
    assert back.shape == (1, s, s, h * d)
    assert torch.equal(values(back), xr[..., : h * d])


def test_head_op_cost_is_data_movement():
    x = ttnn.TensorSpec((1, 8, 64, 32), ttnn.bfloat16)
    out = ttnn.TensorSpec((1, 1, 64, 256), ttnn.bfloat16)
    c = X.nlp_concat_heads.cost_rule(CostCtx(X.nlp_concat_heads, {"input_tensor": x}, [out], {}))
    assert c.flops == 0 and c.dram_bytes == x.nbytes + out.nbytes and c.launches == 1


def test_head_ops_bad_inputs(device):
    name = "ttnn.transformer.split_query_key_value_and_split_heads"
    tx = dev_tensor(torch.randn(1, 32, 3 * 2 * 32), device)
    with pytest.raises(
        SpecError,
        match=f"{name}: argument 'input_tensor': last dim 192 is not divisible by "
        "num_heads \\+ 2 \\* num_kv_heads = 5",
    ):
        T.split_query_key_value_and_split_heads(tx, num_heads=3, num_kv_heads=1)
    small = dev_tensor(torch.randn(1, 32, 3 * 4 * 16), device)
    with pytest.raises(SpecError, match=f"{name}: argument 'input_tensor': head_dim 16 .* multiple of 32"):
        T.split_query_key_value_and_split_heads(small, num_heads=4)
    with pytest.raises(SpecError, match=f"{name}: argument 'input_tensor' must be rank 3"):
        T.split_query_key_value_and_split_heads(dev_tensor(torch.randn(1, 1, 32, 192), device), num_heads=2)
    with pytest.raises(SpecError, match=f"{name}: argument 'num_heads' must be an int >= 1"):
        T.split_query_key_value_and_split_heads(tx, num_heads=0)
    nlp = "ttnn.experimental.nlp_create_qkv_heads"
    with pytest.raises(SpecError, match=f"{nlp}: argument 'input' must be \\[B, 1, S, W\\]: dim 1 is 2"):
        X.nlp_create_qkv_heads(dev_tensor(torch.randn(1, 2, 32, 192), device), num_heads=2)
    with pytest.raises(SpecError, match=f"{nlp}: argument 'memory_config' must be interleaved"):
        X.nlp_create_qkv_heads(
            dev_tensor(torch.randn(1, 1, 32, 192), device),
            num_heads=2,
            memory_config=ttnn.L1_HEIGHT_SHARDED_MEMORY_CONFIG,
        )
    boltz = "ttnn.experimental.nlp_create_qkv_heads_boltz"
    with pytest.raises(
        SpecError, match=f"{boltz}: argument 'input' must be \\[1, S, S, \\(H\\+2Hkv\\)\\*d\\]"
    ):
        X.nlp_create_qkv_heads_boltz(
            dev_tensor(torch.randn(1, 32, 64, 192), device), num_heads=2, transpose_k_heads=False
        )
    with pytest.raises(SpecError, match=f"{boltz}: argument 'transpose_k_heads'=True is not modelled"):
        X.nlp_create_qkv_heads_boltz(dev_tensor(torch.randn(1, 32, 32, 192), device), num_heads=2)
    cat = "ttnn.transformer.concatenate_heads"
    with pytest.raises(
        SpecError, match=f"{cat}: argument 'input_tensor': head_dim 16 must be a multiple of 32"
    ):
        T.concatenate_heads(dev_tensor(torch.randn(1, 2, 32, 16), device))
    with pytest.raises(
        SpecError, match="ttnn.experimental.nlp_concat_heads: argument 'input_tensor' has dtype int32"
    ):
        X.nlp_concat_heads(
            ttnn.from_torch(
                torch.zeros(1, 2, 32, 32, dtype=torch.int32), layout=ttnn.TILE_LAYOUT, device=device
            )
        )


def test_split_heads_sharded_input_uses_grouped_layout(device):
    b, s, h, d = 1, 64, 2, 32
    x = torch.randn(b, s, 3 * h * d)
    grid = ttnn.CoreRangeSet([ttnn.CoreRange(ttnn.CoreCoord(0, 0), ttnn.CoreCoord(1, 0))])
    mc = ttnn.MemoryConfig(
        ttnn.TensorMemoryLayout.HEIGHT_SHARDED, ttnn.BufferType.L1, ttnn.ShardSpec(grid, (32, 3 * h * d))
    )
    tx = dev_tensor(x, device, ttnn.float32, memory_config=mc)
    q, k, v = T.split_query_key_value_and_split_heads(tx, num_heads=h, transpose_key=False)
    t = x.reshape(b, s, h, 3, d).permute(0, 2, 1, 3, 4)  # per head [q_i | k_i | v_i]
    assert q.memory_config().is_sharded()
    assert torch.equal(values(q), t[..., 0, :]) and torch.equal(values(k), t[..., 1, :])
    assert torch.equal(values(v), t[..., 2, :])
