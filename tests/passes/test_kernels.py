"""The fused kernels (ttfuse/kernels): each against a torch golden or its ttnn rule (the stock composite run on the
simulator), output specs, launch counts, and bad inputs whose errors name the kernel and the argument."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F

from ttfuse import ttnn
from ttfuse.errors import SpecError
from ttfuse.kernels import weights as W
from ttfuse.kernels.eltwise import stock_launches
from ttfuse.opdef import OPS
from ttfuse.sim import count_launches
from ttfuse.testing import pcc

BF16, F32, BFP8 = ttnn.bfloat16, ttnn.float32, ttnn.bfloat8_b
SIG = ttnn.UnaryWithParam(ttnn.UnaryOpType.SIGMOID)
SILU = ttnn.UnaryWithParam(ttnn.UnaryOpType.SILU)
K = {name[len("kernels.") :]: op for name, op in OPS.items() if name.startswith("kernels.")}


def dev_t(device, t, dtype=BF16):
    return ttnn.from_torch(t, dtype=dtype, layout=ttnn.TILE_LAYOUT, device=device)


def host(t):
    return ttnn.to_torch(t).float()


def rnd(*shape, scale=1.0):
    return torch.randn(shape) * scale


def test_kernels_registered_outside_the_facade():
    assert set(K) >= {
        "eltwise",
        "concat_weights",
        "linear_split",
        "transition",
        "adaln",
        "conditioned_transition",
        "triangle_mult",
        "pair_bias_attention",
        "ring_joint_attention",
        "group_norm_act",
    }
    for op in K.values():
        assert op.qualname.startswith("ttfuse.kernels.") and op.group.name == "FUSED"
    assert not hasattr(ttnn, "kernels")


# ------------------------------------------------------------------------------------------------- eltwise
PROG = (("silu", (0,), ()), ("multiply", (3, 1), ()), ("add", (4, 2), ()), ("act", (5,), (("acts", (SIG,)),)))


def _golden(x, y, z):
    s = F.silu(x) * y + z
    return s, torch.sigmoid(s)


def _elt(device, dtype, outputs=(6,), dtypes=None):
    xs = [rnd(64, 96), rnd(64, 96), rnd(1, 96)]
    ins = [dev_t(device, t, dtype) for t in xs]
    vals = [host(t) for t in ins]
    dtypes = dtypes or (dtype,) * len(outputs)
    mcs = (ttnn.DRAM_MEMORY_CONFIG,) * len(outputs)
    out = K["eltwise"](ins, program=PROG, outputs=outputs, dtypes=dtypes, memory_configs=mcs)
    return out, vals


def test_eltwise_float32_exact(device):
    out, vals = _elt(device, F32)
    assert out.spec == ttnn.TensorSpec((64, 96), F32, ttnn.TILE_LAYOUT, ttnn.DRAM_MEMORY_CONFIG)
    torch.testing.assert_close(host(out), _golden(*vals)[1], rtol=1e-6, atol=1e-6)


def test_eltwise_bfloat16_intermediates_are_dst_bf16(device):
    """bf16 tiles: DST holds bf16, so each instruction's result is a bf16 value, as in the eager op-by-op chain
    on the simulator): the fused kernel equals it exactly, in one launch."""
    with count_launches(device) as c:
        out, vals = _elt(device, BF16)
    assert c.total == 1 and c.by_op == {"eltwise": 1}
    x, y, z = (dev_t(device, v) for v in vals)
    eager = ttnn.add(ttnn.multiply(ttnn.silu(x), y), z, activations=[SIG])
    assert torch.equal(host(out), host(eager))
    # not the float32 chain rounded once: some element differs from it
    assert not torch.equal(host(out), _golden(*vals)[1].to(torch.bfloat16).float())


def test_eltwise_block_float_output_is_rounded_once(device):
    """A bfloat8_b output: the eager op rounds its float32 result straight to bfloat8_b, so the kernel's written
    value skips the DST (bf16) rounding: sigmoid(2.0) = 0.8808 is 0.8828 in bfloat8_b, not 0.875 via 0.8789
    (found by the random-program test: softmax -> add_ 2 -> sigmoid in bfloat8_b)."""
    x = ttnn.from_torch(
        torch.full((32, 32), 2.0), dtype=ttnn.bfloat8_b, layout=ttnn.TILE_LAYOUT, device=device
    )
    prog = (("sigmoid", (0,), ()),)
    out = OPS["kernels.eltwise"](
        [x], program=prog, outputs=(1,), dtypes=(ttnn.bfloat8_b,), memory_configs=(ttnn.DRAM_MEMORY_CONFIG,)
    )
    assert torch.equal(host(out), host(ttnn.sigmoid(x)))
    assert host(out)[0, 0].item() == 0.8828125


def test_eltwise_multi_output(device):
    (s, sig), vals = _elt(device, BF16, outputs=(5, 6), dtypes=(F32, BF16))
    gs, gsig = _golden(*vals)
    assert s.dtype == F32 and sig.dtype == BF16
    torch.testing.assert_close(host(s), gs, rtol=1e-6, atol=1e-5)
    assert pcc(host(sig), gsig) > 0.9999


def test_eltwise_ttnn_rule_matches_sim(device):
    out, vals = _elt(device, BF16)
    ins = [dev_t(device, v) for v in vals]
    stock = OPS["kernels.eltwise"].ttnn_rule(
        ttnn, ins, program=PROG, outputs=(6,), dtypes=(BF16,), memory_configs=(ttnn.DRAM_MEMORY_CONFIG,)
    )
    assert pcc(host(stock), host(out)) > 0.9999
    assert stock_launches(PROG) == 4


@pytest.mark.parametrize(
    "program, outputs, match",
    [
        ((("nope", (0,), ()),), (1,), "unknown instruction 'nope'"),
        ((("exp", (5,), ()),), (1,), "args .* must be earlier slots"),
        ((("add", (0,), ()),), (1,), "add takes 2 args"),
        ((("exp", (0,), ()),), (7,), "argument 'outputs'"),
    ],
)
def test_eltwise_bad_programs(device, program, outputs, match):
    x = dev_t(device, rnd(32, 32))
    with pytest.raises(SpecError, match=f"ttfuse.kernels.eltwise: .*{match}"):
        K["eltwise"](
            [x], program=program, outputs=outputs, dtypes=(BF16,), memory_configs=(ttnn.DRAM_MEMORY_CONFIG,)
        )


def test_eltwise_bad_inputs(device):
    def exp(x, mc=ttnn.DRAM_MEMORY_CONFIG):
        return K["eltwise"](
            [x], program=(("exp", (0,), ()),), outputs=(1,), dtypes=(BF16,), memory_configs=(mc,)
        )

    rm = ttnn.from_torch(rnd(32, 32), dtype=BF16, layout=ttnn.ROW_MAJOR_LAYOUT, device=device)
    with pytest.raises(
        SpecError, match=r"ttfuse.kernels.eltwise: argument 'inputs'\[0\] must be a TILE tensor"
    ):
        exp(rm)
    with pytest.raises(SpecError, match="argument 'memory_configs'"):
        exp(dev_t(device, rnd(32, 32)), ttnn.L1_HEIGHT_SHARDED_MEMORY_CONFIG)


def test_eltwise_circular_buffer_limit(device):
    from ttfuse.kernels import eltwise as E

    small = dataclasses.replace(device.spec, max_cb_inputs=4)
    specs = [ttnn.TensorSpec((32, 32), BF16, ttnn.TILE_LAYOUT, ttnn.DRAM_MEMORY_CONFIG)] * 4
    assert E.cb_check(specs, (BF16,), 1, small) and E.cb_check(specs[:3], (BF16,), 1, small) is None
    wide = [s.replace(dtype=F32) for s in specs] * 2
    assert "32-bit" in E.cb_check(wide, (F32,), 1, device.spec)
    xs = [dev_t(device, rnd(32, 32)) for _ in range(40)]
    prog = tuple(("add", (i, 1), ()) for i in range(1))
    with pytest.raises(SpecError, match="ttfuse.kernels.eltwise: argument 'inputs': 40 inputs"):
        K["eltwise"](
            xs, program=prog, outputs=(40,), dtypes=(BF16,), memory_configs=(ttnn.DRAM_MEMORY_CONFIG,)
        )


# ------------------------------------------------------------------------------------------ concat_weights
def test_concat_weights_modes(device):
    a, b = dev_t(device, rnd(64, 64)), dev_t(device, rnd(64, 64))
    W.memo.clear()
    cat = K["concat_weights"]([a, b])
    assert cat.spec.shape == ttnn.Shape([64, 128]) and torch.equal(
        host(cat), torch.cat([host(a), host(b)], -1)
    )
    sw = host(K["concat_weights"]([a, b], mode="swiglu"))
    assert torch.equal(sw[:, :32], host(a)[:, :32]) and torch.equal(sw[:, 32:64], host(b)[:, :32])
    bias = dev_t(device, rnd(1, 64))
    z = host(K["concat_weights"]([bias], zero_widths=(64,)))
    assert torch.equal(z[:, :64], host(bias)) and not z[:, 64:].any()
    w8 = dev_t(device, rnd(64, 64), BFP8)
    up = K["concat_weights"]([w8, w8], dtype=BF16)
    assert up.dtype == BF16 and torch.equal(host(up)[:, :64], host(w8))  # bfp8 -> bf16 is exact


def test_concat_weights_is_memoised_per_weight_tensors(device):
    a, b = dev_t(device, rnd(64, 64)), dev_t(device, rnd(64, 64))
    W.memo.clear()
    with count_launches(device) as first:
        r1 = K["concat_weights"]([a, b])
    with count_launches(device) as second:
        r2 = K["concat_weights"]([a, b])
    assert first.total == 1 and second.total == 0 and r1 is r2 and W.memo.hits == 1
    ttnn.add_(a, 1.0)  # a new storage version: recompute
    with count_launches(device) as third:
        r3 = K["concat_weights"]([a, b])
    assert third.total == 1 and torch.equal(host(r3)[:, :64], host(a))
    n = len(W.memo)
    del a, r1, r2, r3
    import gc

    gc.collect()
    assert len(W.memo) < n  # entries die with their weights


def test_concat_weights_bad_inputs(device):
    a, b = dev_t(device, rnd(64, 64)), dev_t(device, rnd(32, 64))
    with pytest.raises(SpecError, match=r"ttfuse.kernels.concat_weights: argument 'tensors'\[1\] has shape"):
        K["concat_weights"]([a, b])
    with pytest.raises(SpecError, match="argument 'mode'='swiglu' takes two tensors"):
        K["concat_weights"]([a], mode="swiglu")
    with pytest.raises(SpecError, match="argument 'tensors' mixes dtypes"):
        K["concat_weights"]([a, dev_t(device, rnd(64, 64), BFP8)])


# -------------------------------------------------------------------------------------------- linear_split
def test_linear_split(device):
    x, w, b = dev_t(device, rnd(64, 64)), dev_t(device, rnd(64, 96, scale=0.1)), dev_t(device, rnd(96))
    outs = K["linear_split"](x, w, bias=b, sizes=(32, 64), activation="relu")
    want = torch.relu(host(x) @ host(w) + host(b))
    assert [tuple(o.shape) for o in outs] == [(64, 32), (64, 64)]
    got = torch.cat([host(o) for o in outs], -1)
    assert pcc(got, want) > 0.99999
    stock = K["linear_split"].ttnn_rule(
        ttnn,
        x,
        w,
        sizes=(32, 64),
        bias=b,
        activation="relu",
        dtype=None,
        memory_config=None,
        compute_kernel_config=None,
    )
    assert pcc(torch.cat([host(o) for o in stock], -1), got) > 0.9999
    with pytest.raises(
        SpecError, match=r"ttfuse.kernels.linear_split: argument 'sizes' \(32, 32\) must sum to N=96"
    ):
        K["linear_split"](x, w, sizes=(32, 32))
    with pytest.raises(SpecError, match="multiple of 32"):
        K["linear_split"](x, w, sizes=(48, 48))


# ---------------------------------------------------------------------------------------------- blocks
def _compare_with_stock(op, args, kw, device, launches):
    with count_launches(device) as c:
        got = op(*args, **kw)
    assert c.total == launches
    stock = op.ttnn_rule(ttnn, *args, **kw)
    assert got.spec == stock.spec
    assert pcc(host(got), host(stock)) > 0.9999
    return got


def _cw(device, *ws, **kw):
    return K["concat_weights"](list(ws), **kw)


def test_transition(device):
    d, h = 64, 128
    x = dev_t(device, rnd(2, 32, d))
    g, b = dev_t(device, rnd(d)), dev_t(device, rnd(d))
    w1, w2, w3 = (
        dev_t(device, rnd(d, h, scale=0.1)),
        dev_t(device, rnd(d, h, scale=0.1)),
        dev_t(device, rnd(h, d, scale=0.1)),
    )
    w12 = _cw(device, w1, w2, mode="swiglu")
    kw = dict(norm_weight=g, norm_bias=b, epsilon=1e-5)
    got = _compare_with_stock(K["transition"], (x, w12, w3), kw, device, 3)
    ln = F.layer_norm(host(x), (d,), host(g), host(b), 1e-5)
    want = (F.silu(ln @ host(w1)) * (ln @ host(w2))) @ host(w3)
    assert pcc(host(got), want) > 0.9999
    with pytest.raises(
        SpecError, match="ttfuse.kernels.transition: step ttnn.linear rejects .*input_tensor_b"
    ):
        K["transition"](x, w12, w1, **kw)  # fc3's K must be the hidden width
    # a bfloat8_b weight with a bfloat16 input: minimal_matmul checks each operand's dtype on its own, as
    # tt-metal's minimal_matmul_device_operation.cpp does (tt-boltz runs exactly this)
    mixed = K["transition"](x, _cw(device, w1, w2, mode="swiglu", dtype=BFP8), w3, **kw)
    assert pcc(host(mixed), want) > 0.999


def test_transition_intermediates_are_its_l1_working_set(device):
    """The composite writes h and m to L1 (as tt-boltz does per chunk) and frees them; the declared working set
    is their bytes, while a kernel whose steps follow a DRAM input (AdaLN) declares no L1 bytes."""
    from ttfuse.opdef import CostCtx

    d, h = 64, 128
    x = dev_t(device, rnd(2, 32, d))
    w12 = _cw(device, dev_t(device, rnd(d, h)), dev_t(device, rnd(d, h)), mode="swiglu")
    w3 = dev_t(device, rnd(h, d))
    calls = []

    class Spy:  # the facade, recording each call's memory_config and what is deallocated
        def __getattr__(self, name):
            return getattr(ttnn, name)

        def layer_norm(self, *a, **k):
            calls.append(("layer_norm", k.get("memory_config")))
            return ttnn.layer_norm(*a, **k)

        def deallocate(self, t):
            calls.append(("deallocate", tuple(t.shape)))
            return ttnn.deallocate(t)

        class experimental:
            @staticmethod
            def minimal_matmul(*a, **k):
                calls.append(("minimal_matmul", k.get("memory_config")))
                return ttnn.experimental.minimal_matmul(*a, **k)

    K["transition"].ttnn_rule(Spy(), x, w12, w3, epsilon=1e-5)
    assert calls == [
        ("layer_norm", ttnn.L1_MEMORY_CONFIG),
        ("minimal_matmul", ttnn.L1_MEMORY_CONFIG),
        ("deallocate", (2, 32, d)),
        ("deallocate", (2, 32, h)),
    ]
    op = K["transition"]
    args = {
        "input_tensor": x.spec, "weight12": w12.spec, "weight3": w3.spec, "norm_weight": None,
        "norm_bias": None, "epsilon": 1e-5, "hidden_dtype": None, "hidden_memory_config": None, "dtype": None,
        "memory_config": None, "compute_kernel_config": None, "norm_compute_kernel_config": None,
    }  # fmt: skip
    ctx = CostCtx(op, {}, [], args, device.chips[0].spec)
    inter = op.traits.intermediate_specs(ctx)
    assert [s.memory_config.buffer_type.name for s in inter] == ["L1", "L1"]
    assert op.traits.working_set(ctx) == sum(s.nbytes for s in inter) == 2 * 32 * (d + h) * 2
    # the spilled variant (what the chunk pass may pick instead of chunking): h and m in DRAM, no L1 working set
    assert op.traits.spill == {"hidden_memory_config": ttnn.DRAM_MEMORY_CONFIG}
    spilled = CostCtx(op, {}, [], {**args, **op.traits.spill}, device.chips[0].spec)
    assert [s.memory_config.buffer_type.name for s in op.traits.intermediate_specs(spilled)] == [
        "DRAM",
        "DRAM",
    ]
    assert op.traits.working_set(spilled) == 0
    calls.clear()
    K["transition"].ttnn_rule(Spy(), x, w12, w3, epsilon=1e-5, **op.traits.spill)
    assert calls[:2] == [("layer_norm", ttnn.DRAM_MEMORY_CONFIG), ("minimal_matmul", ttnn.DRAM_MEMORY_CONFIG)]
    # a sharded input already lives in L1: the steps follow its sharding (an interleaved L1 config would be
    # rejected by layer_norm)
    xs = ttnn.from_torch(rnd(256, d), dtype=BF16, layout=ttnn.TILE_LAYOUT, device=device)
    sharded = ttnn.create_sharded_memory_config((256, d), ttnn.CoreGrid(y=1, x=2), ttnn.ShardStrategy.WIDTH)
    xs = ttnn.to_memory_config(xs, sharded)
    assert tuple(op(xs, w12, w3).shape) == (256, d)
    assert tuple(op.ttnn_rule(ttnn, xs, w12, w3).shape) == (256, d)

    ad = K["adaln"]
    s_ = dev_t(device, rnd(2, 32, 96))
    w_ss = _cw(device, dev_t(device, rnd(96, d)), dev_t(device, rnd(96, d)))
    ad_args = {
        "input_tensor": x.spec, "cond": s_.spec, "weight_ss": w_ss.spec, "bias_ss": None,
        "cond_norm_weight": None, "epsilon": 1e-5, "cond_epsilon": 1e-5, "dtype": None, "memory_config": None,
        "compute_kernel_config": None, "norm_compute_kernel_config": None,
    }  # fmt: skip
    actx = CostCtx(ad, {}, [], ad_args, device.chips[0].spec)
    assert all(s.memory_config.buffer_type.name == "DRAM" for s in ad.traits.intermediate_specs(actx))
    assert ad.traits.working_set(actx) == 0


def test_adaln_and_conditioned_transition(device):
    d, ds = 64, 96
    a, s = dev_t(device, rnd(2, 32, d)), dev_t(device, rnd(2, 32, ds))
    sw = dev_t(device, rnd(ds))
    w_sc, w_sh, b_sc = (
        dev_t(device, rnd(ds, d, scale=0.1)),
        dev_t(device, rnd(ds, d, scale=0.1)),
        dev_t(device, rnd(d)),
    )
    w_ss, b_ss = _cw(device, w_sc, w_sh), _cw(device, b_sc, zero_widths=(d,))
    kw = dict(bias_ss=b_ss, cond_norm_weight=sw, epsilon=1e-5, cond_epsilon=1e-5)
    got = _compare_with_stock(K["adaln"], (a, s, w_ss), kw, device, 4)
    an = F.layer_norm(host(a), (d,), eps=1e-5)
    sn = F.layer_norm(host(s), (ds,), host(sw), None, 1e-5)
    want = an * torch.sigmoid(sn @ host(w_sc) + host(b_sc)) + sn @ host(w_sh)
    assert pcc(host(got), want) > 0.9999

    wg, wx, wab = (dev_t(device, rnd(d, 2 * d, scale=0.1)) for _ in range(3))
    wba, wo, bo = (
        dev_t(device, rnd(2 * d, d, scale=0.1)),
        dev_t(device, rnd(ds, d, scale=0.1)),
        dev_t(device, rnd(d)),
    )
    w_gx = _cw(device, wg, wx, mode="swiglu")
    ckw = dict(kw, bias_o=bo)
    got = _compare_with_stock(K["conditioned_transition"], (a, s, w_ss, w_gx, wab, wba, wo), ckw, device, 10)
    a2 = want
    b_ = F.silu(a2 @ host(wg)) * (a2 @ host(wx)) * (a2 @ host(wab))
    ref = torch.sigmoid(host(s) @ host(wo) + host(bo)) * (b_ @ host(wba))
    assert pcc(host(got), ref) > 0.999
    with pytest.raises(SpecError, match="ttfuse.kernels.adaln: argument 'weight_ss' must hold scale\\|shift"):
        K["adaln"](a, s, dev_t(device, rnd(ds, 63)), epsilon=1e-5)
    with pytest.raises(SpecError, match="ttfuse.kernels.adaln: step ttfuse.kernels.linear_split .* 'sizes'"):
        K["adaln"](a, s, dev_t(device, rnd(ds, 96)), epsilon=1e-5)


@pytest.mark.parametrize("outgoing", [True, False])
@pytest.mark.parametrize("chunk", [None, 32])
def test_triangle_mult(device, outgoing, chunk):
    b, n, c, d = 1, 32, 64, 64
    x = dev_t(device, rnd(b, n, n, c))
    mask = dev_t(device, (torch.rand(b, n, n) > 0.2).float())
    wp, wg = dev_t(device, rnd(c, 2 * d, scale=0.1)), dev_t(device, rnd(c, 2 * d, scale=0.1))
    w_pg = _cw(device, wp, wg)
    kw = dict(mask=mask, outgoing=outgoing, chunk_channels=chunk)
    launches = 5 if chunk is None else 6 * (d // chunk) + 1
    got = _compare_with_stock(K["triangle_mult"], (x, w_pg), kw, device, launches)
    p, g = host(x) @ host(wp), host(x) @ host(wg)
    gated = p * torch.sigmoid(g) * host(mask).unsqueeze(-1)
    A, B = gated[..., :d], gated[..., d:]
    eq = "bikd,bjkd->bijd" if outgoing else "bkid,bkjd->bijd"
    assert pcc(host(got), torch.einsum(eq, A, B)) > 0.9999
    with pytest.raises(SpecError, match="ttfuse.kernels.triangle_mult: argument 'mask' must be"):
        K["triangle_mult"](x, w_pg, mask=dev_t(device, rnd(b, n, 2 * n)))


def test_pair_bias_attention(device):
    bsz, s, c, h, dh = 1, 64, 64, 2, 32
    x, kin = dev_t(device, rnd(bsz, s, c)), dev_t(device, rnd(bsz, s, c))
    bias = dev_t(device, rnd(1, h, s, s))
    wq, wg = dev_t(device, rnd(c, h * dh, scale=0.1)), dev_t(device, rnd(c, h * dh, scale=0.1))
    bq, wkv, wo = (
        dev_t(device, rnd(h * dh)),
        dev_t(device, rnd(c, 2 * h * dh, scale=0.1)),
        dev_t(device, rnd(h * dh, c, scale=0.1)),
    )
    w_qg, b_qg = _cw(device, wq, wg), _cw(device, bq, zero_widths=(h * dh,))
    kw = dict(attn_mask=bias, bias_qg=b_qg, num_heads=h, scale=0.5)
    got = _compare_with_stock(K["pair_bias_attention"], (x, kin, w_qg, wkv, wo), kw, device, 7)
    q = (host(x) @ host(wq) + host(bq)).reshape(bsz, s, h, dh).transpose(1, 2)
    kv = host(kin) @ host(wkv)
    k, v = (kv[..., i * h * dh : (i + 1) * h * dh].reshape(bsz, s, h, dh).transpose(1, 2) for i in range(2))
    att = torch.softmax(0.5 * (q @ k.transpose(-1, -2) + host(bias)), -1) @ v
    o = att.transpose(1, 2).reshape(bsz, s, h * dh) * torch.sigmoid(host(x) @ host(wg))
    assert pcc(host(got), o @ host(wo)) > 0.9999
    with pytest.raises(SpecError, match="ttfuse.kernels.pair_bias_attention: step"):
        K["pair_bias_attention"](x, kin, w_qg, wkv, wo, num_heads=3)


def test_pair_bias_attention_self_form(device):
    """kv_input_tensor=None: q|k|v|g from one input (triangle attention), 6 kernels; golden and bad input."""
    bsz, s, c, h, dh = 4, 64, 64, 2, 32
    x, bias = dev_t(device, rnd(bsz, s, c)), dev_t(device, rnd(1, h, s, s))
    wqkv, wg = dev_t(device, rnd(c, 3 * h * dh, scale=0.1)), dev_t(device, rnd(c, h * dh, scale=0.1))
    wo = dev_t(device, rnd(h * dh, c, scale=0.1))
    w_qkvg = _cw(device, wqkv, wg)
    kw = dict(attn_mask=bias, num_heads=h, scale=1.0)
    got = _compare_with_stock(K["pair_bias_attention"], (x, None, w_qkvg, None, wo), kw, device, 6)
    qkv = host(x) @ host(wqkv)
    q, k, v = (
        qkv[..., i * h * dh : (i + 1) * h * dh].reshape(bsz, s, h, dh).transpose(1, 2) for i in range(3)
    )
    att = torch.softmax(q @ k.transpose(-1, -2) + host(bias), -1) @ v
    o = att.transpose(1, 2).reshape(bsz, s, h * dh) * torch.sigmoid(host(x) @ host(wg))
    assert pcc(host(got), o @ host(wo)) > 0.9999
    with pytest.raises(SpecError, match="argument 'weight_kv' must be None"):
        K["pair_bias_attention"](x, None, w_qkvg, wo, wo, num_heads=h)
    with pytest.raises(SpecError, match="argument 'weight_qg' must hold q\\|k\\|v\\|g, four parts"):
        K["pair_bias_attention"](x, None, _cw(device, wqkv, wg, wg), None, wo, num_heads=h)


@pytest.mark.parametrize("form", ["cross", "self"])
@pytest.mark.parametrize("dtype", [BF16, BFP8])
def test_pair_bias_attention_views_equal_steps(device, monkeypatch, form, dtype):
    """The sim reads heads as views of the projection buffer and skips the split/concat copies: bit for bit the
    stock steps' result (the path kept for format changes), in both forms and formats."""
    import ttfuse.kernels.attention as KA

    bsz, s, c, h, dh = 2, 64, 64, 2, 32
    x, bias = dev_t(device, rnd(bsz, s, c), dtype), dev_t(device, rnd(1, h, s, s), dtype)
    wo = dev_t(device, rnd(h * dh, c, scale=0.1), dtype)
    if form == "self":
        w = _cw(
            device, dev_t(device, rnd(c, 3 * h * dh, scale=0.1), dtype), dev_t(device, rnd(c, h * dh), dtype)
        )
        args = (x, None, w, None, wo)
    else:
        w = _cw(device, dev_t(device, rnd(c, h * dh, scale=0.1), dtype), dev_t(device, rnd(c, h * dh), dtype))
        args = (
            x,
            dev_t(device, rnd(bsz, s, c), dtype),
            w,
            dev_t(device, rnd(c, 2 * h * dh, scale=0.1), dtype),
            wo,
        )
    kw = dict(attn_mask=bias, num_heads=h, scale=0.5)
    views = host(K["pair_bias_attention"](*args, **kw))
    monkeypatch.setattr(KA, "_views_apply", lambda steps: False)
    steps = host(K["pair_bias_attention"](*args, **kw))
    assert torch.equal(views, steps)


def test_kernel_costs_sum_their_steps(device):
    from ttfuse.opdef import CostCtx

    spec = lambda *s: ttnn.TensorSpec(s, BF16, ttnn.TILE_LAYOUT, ttnn.DRAM_MEMORY_CONFIG)  # noqa: E731
    x, w12, w3 = spec(64, 64), spec(64, 256), spec(128, 64)
    op = K["transition"]
    args = dict(
        input_tensor=x,
        weight12=w12,
        weight3=w3,
        norm_weight=None,
        norm_bias=None,
        epsilon=1e-5,
        hidden_dtype=None,
        dtype=None,
        memory_config=None,
        compute_kernel_config=None,
        norm_compute_kernel_config=None,
    )
    out = op.spec_rule(**args)
    c = op.cost_rule(
        CostCtx(op, {"input_tensor": x, "weight12": w12, "weight3": w3}, [out], args, device.spec)
    )
    assert c.launches == 3 and c.matmul_flops == 2 * 64 * 64 * 256 + 2 * 64 * 128 * 64
    assert math.isfinite(c.flops) and c.dram_bytes > 0
