"""fuse (ttfuse/passes/fuse.py, fuse_blocks.py, fuse_eltwise.py): each rule alone (expected node or no match, with
the reason noted), eltwise clustering, and fusion asserted by the kernels a jit function dispatches."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F

import ttfuse
from ttfuse import ttnn
from ttfuse.capture.trace import trace
from ttfuse.device import device_spec
from ttfuse.kernels import weights as W
from ttfuse.passes import fuse as FU
from ttfuse.passes import fuse_blocks as FB
from ttfuse.passes.fuse_eltwise import fuse_eltwise
from ttfuse.passes.pipeline import PassContext, run_pipeline
from ttfuse.passes.rewrite import rewrite, rule_name
from ttfuse.sim import count_launches
from ttfuse.testing import pcc
from ttfuse.verify import verify

BF16, F32, BFP8 = ttnn.bfloat16, ttnn.float32, ttnn.bfloat8_b
SIG, SILU = ttnn.UnaryOpType.SIGMOID, ttnn.UnaryOpType.SILU
CTX = PassContext(device_spec())


def S(*shape, dtype=BF16):
    return ttnn.TensorSpec(shape, dtype, ttnn.TILE_LAYOUT, ttnn.DRAM_MEMORY_CONFIG)


def traced(fn, *specs, **kw):
    return trace(fn, specs, kw, specs_are_tensors=True, device_spec=device_spec())


def rules(table, name):
    found = [r for r in table if rule_name(r) == name]
    assert found, name
    return found


def apply(g, rs, table="t"):
    out = rewrite(g, rs, CTX, table=table)
    verify(out)
    return out


def ops(g):
    return [n.op for n in g.nodes]


def notes(g):
    return [s for n in g.nodes for s in n.side.notes if not s.startswith("from=")]


def dev_t(device, *shape, scale=1.0, dtype=BF16):
    return ttnn.from_torch(torch.randn(shape) * scale, dtype=dtype, layout=ttnn.TILE_LAYOUT, device=device)


def jit_vs_eager(fn, args, device, passes=("dce", "cleanup", "fuse"), **kw):
    """(eager launches, jit launches of a warm call, min PCC over outputs, the jit function)."""
    with count_launches(device) as ce:
        want = fn(*args, **kw)
    jf = ttfuse.jit(fn, passes=list(passes))
    jf(*args, **kw)
    with count_launches(device) as cj:
        got = jf(*args, **kw)
    want = want if isinstance(want, tuple) else (want,)
    got = got if isinstance(got, tuple) else (got,)
    p = min(pcc(ttnn.to_torch(a).float(), ttnn.to_torch(b).float()) for a, b in zip(got, want))
    return ce.total, cj.total, p, jf


# -------------------------------------------------------------------------------------- (b) linear epilogues
def test_linear_bias_rule():
    g = traced(lambda x, w, b: ttnn.add(ttnn.linear(x, w), b), S(64, 64), S(64, 96), S(96))
    out = apply(g, rules(FU.rules_linear, "linear_bias"))
    assert ops(out) == ["linear"] and out.nodes[0].attr("bias") is not None
    g = traced(
        lambda x, w, b: ttnn.add(b, ttnn.matmul(x, w), activations=["relu"]), S(64, 64), S(64, 96), S(1, 96)
    )
    out = apply(g, rules(FU.rules_linear, "linear_bias"))  # matmul + bias (+ the add's relu) -> linear
    assert ops(out) == ["linear"] and out.nodes[0].attr("activation") == "relu"


def test_linear_bias_rule_no_match():
    g = traced(lambda x, w, b: ttnn.add(ttnn.linear(x, w), b), S(64, 64), S(64, 96), S(64, 96))
    out = apply(g, rules(FU.rules_linear, "linear_bias"))
    assert ops(out) == ["linear", "add"] and "not a bias row vector" in notes(out)[0]
    shared = traced(
        lambda x, w, b: (lambda y: (ttnn.add(y, b), y))(ttnn.linear(x, w)), S(64, 64), S(64, 96), S(96)
    )
    assert ops(apply(shared, rules(FU.rules_linear, "linear_bias"))) == ["linear", "add"]


@pytest.mark.parametrize("act", ["relu", "silu", "gelu", "sigmoid"])
def test_linear_activation_rule(act):
    g = traced(lambda x, w: getattr(ttnn, act)(ttnn.linear(x, w)), S(64, 64), S(64, 64))
    out = apply(g, rules(FU.rules_linear, "linear_activation"))
    assert ops(out) == ["linear"] and out.nodes[0].attr("activation") == act


def test_linear_activation_rule_no_match():
    g = traced(
        lambda x, w: ttnn.gelu(ttnn.linear(x, w), fast_and_approximate_mode=True), S(64, 64), S(64, 64)
    )
    out = apply(g, rules(FU.rules_linear, "linear_activation"))
    assert ops(out) == ["linear", "gelu"] and "approximate" in notes(out)[0]


# ------------------------------------------------------------------------------------ (c) binary activations
def test_binary_absorbs_unary_inputs_and_outputs():
    g = traced(lambda p, g_: ttnn.multiply(p, ttnn.sigmoid(g_)), S(64, 64), S(64, 64))
    out = apply(g, rules(FU.rules_binary(), "binary_input_activation"))
    assert ops(out) == ["multiply"] and [
        a.op_type for a in out.nodes[0].attr("input_tensor_b_activations")
    ] == [SIG]
    g = traced(lambda x: ttnn.add(ttnn.exp(x), 1.0), S(64, 64))
    out = apply(g, rules(FU.rules_binary(), "binary_input_activation"))
    assert ops(out) == ["add"] and out.nodes[0].attr("input_tensor_a_activations")
    g = traced(lambda a, b: ttnn.relu(ttnn.add(a, b)), S(64, 64), S(64, 64))
    out = apply(g, rules(FU.rules_binary(), "binary_output_activation"))
    assert ops(out) == ["add"] and out.nodes[0].attr("activations")[0].op_type is ttnn.UnaryOpType.RELU


def test_binary_activation_no_match():
    g = traced(lambda a, b: ttnn.multiply_(ttnn.relu(a), b), S(64, 64), S(64, 64))  # in-place into the relu
    out = apply(g, rules(FU.rules_binary(), "binary_input_activation"))
    assert ops(out) == ["relu", "multiply_"] and "in-place" in notes(out)[0]
    g = traced(lambda a, b: ttnn.multiply(ttnn.hardswish(a), b), S(64, 64), S(64, 64))  # no exact fused form
    assert ops(apply(g, rules(FU.rules_binary(), "binary_input_activation"))) == ["hardswish", "multiply"]


# ------------------------------------------------------------------------------------------ (d) horizontal
def _qkv(x, wq, wk, wv, bq, bk, bv):
    return tuple(ttnn.linear(x, w, bias=b) for w, b in ((wq, bq), (wk, bk), (wv, bv)))


def test_horizontal_linears_rule():
    g = traced(_qkv, S(64, 64), *[S(64, 64)] * 3, *[S(64)] * 3)
    out = apply(g, rules(FU.rules_horizontal, "horizontal_linears"))
    assert ops(out) == ["kernels.concat_weights", "kernels.concat_weights", "kernels.linear_split"]
    ls = out.nodes[-1]
    assert ls.attr("sizes") == (64, 64, 64) and out.outputs == ls.out_refs
    assert all(out.is_input(r) for n in out.nodes[:2] for r in n.inputs)


def test_horizontal_linears_no_match():
    uneven = traced(_qkv, S(64, 64), S(64, 64), S(64, 96), S(64, 128), S(64), S(96), S(128))
    assert ops(apply(uneven, rules(FU.rules_horizontal, "horizontal_linears"))) == ["linear"] * 3
    two = traced(_qkv, S(64, 64), S(64, 64), S(64, 64), S(64, 96), S(64), S(64), S(96))
    out = apply(two, rules(FU.rules_horizontal, "horizontal_linears"))  # the equal pair fuses, the third not
    assert ops(out) == ["kernels.concat_weights", "kernels.concat_weights", "kernels.linear_split", "linear"]
    derived = traced(lambda x, w: (ttnn.linear(x, ttnn.neg(w)), ttnn.linear(x, w)), S(64, 64), S(64, 64))
    assert "kernels.linear_split" not in ops(apply(derived, rules(FU.rules_horizontal, "horizontal_linears")))
    narrow = traced(lambda x, a, b: (ttnn.linear(x, a), ttnn.linear(x, b)), S(64, 64), S(64, 48), S(64, 48))
    out = apply(narrow, rules(FU.rules_horizontal, "horizontal_linears"))
    assert ops(out) == ["linear", "linear"] and "multiple of 32" in notes(out)[0]


def test_weights_are_concatenated_once(device):
    """A second call of the jit function does not re-concatenate (launch count): memoised per weight tensors."""
    x = dev_t(device, 64, 64)
    ws = [dev_t(device, 64, 64, scale=0.1) for _ in range(3)] + [dev_t(device, 64) for _ in range(3)]
    W.memo.clear()
    jf = ttfuse.jit(_qkv, passes=["dce", "cleanup", "fuse"])
    with count_launches(device) as first:
        got = jf(x, *ws)
    with count_launches(device) as second:
        again = jf(x, *ws)
    assert first.by_op == {"concat_weights": 2, "linear_split": 1}
    assert second.by_op == {"linear_split": 1}
    want = _qkv(x, *ws)
    for a, b, c in zip(got, again, want):
        assert pcc(ttnn.to_torch(a).float(), ttnn.to_torch(c).float()) > 0.9999
        assert torch.equal(ttnn.to_torch(a), ttnn.to_torch(b))
    other = [dev_t(device, 64, 64, scale=0.1) for _ in range(3)] + ws[3:]
    with count_launches(device) as third:
        jf(x, *other)  # other weights (another layer): concatenated for them, once
    assert third.by_op == {"concat_weights": 1, "linear_split": 1}


# ------------------------------------------------------------------------------------------ (e) norm residual
@pytest.mark.parametrize("op", ["layer_norm", "rms_norm"])
def test_norm_residual_rule(op):
    fn = lambda x, r, w: getattr(ttnn, op)(ttnn.add(x, r), epsilon=1e-5, weight=w)  # noqa: E731
    out = apply(traced(fn, S(64, 64), S(64, 64), S(64)), FU.rules_norm())
    (n,) = out.nodes
    assert n.op == op and n.attr("residual_input_tensor") is not None and n.attr("epsilon") == 1e-5


def test_norm_residual_no_match():
    bcast = traced(lambda x, r: ttnn.layer_norm(ttnn.add(x, r), epsilon=1e-5), S(64, 64), S(1, 64))
    out = apply(bcast, FU.rules_norm())
    assert ops(out) == ["add", "layer_norm"] and "broadcasts" in notes(out)[0]
    used = traced(lambda x, r: (lambda h: (ttnn.layer_norm(h), h))(ttnn.add(x, r)), S(64, 64), S(64, 64))
    assert ops(apply(used, FU.rules_norm())) == ["add", "layer_norm"]  # the sum is needed: keep the add


# ------------------------------------------------------------------------------- (e') group_norm + activation
GN_C = 64


def _gn(x, w, b, m, **kw):
    return ttnn.group_norm(
        x, num_groups=32, input_mask=m, weight=w, bias=b, epsilon=1e-5, inplace=False, **kw
    )


def _gn_specs(c=GN_C):
    rm = ttnn.TensorSpec((1, 1, c // 32, 32), BF16, ttnn.ROW_MAJOR_LAYOUT, ttnn.DRAM_MEMORY_CONFIG)
    return S(2, 1, 64, c), rm, rm, S(1, 32, 32, 32)


def test_group_norm_activation_rule():
    x, w, b, m = _gn_specs()
    out = apply(traced(lambda x, w, b, m: ttnn.silu(_gn(x, w, b, m)), x, w, b, m), FU.rules_group_norm())
    (n,) = out.nodes
    assert n.op == "kernels.group_norm_act" and n.attr("residual") is None
    assert [a.op_type for a in n.attr("activations")] == [SILU] and n.attr("epsilon") == 1e-5
    # the add on the input (conv1 output + time embedding, broadcast over H*W) is absorbed; a second act appended
    fn = lambda x, t, w, b, m: ttnn.relu(ttnn.silu(_gn(ttnn.add(t, x), w, b, m)))  # noqa: E731
    out = apply(traced(fn, x, S(2, 1, 1, GN_C), w, b, m), FU.rules_group_norm())
    (n,) = out.nodes
    assert n.attr("residual") is not None and out.inputs[n.inputs[0].node].shape == (2, 1, 64, GN_C)
    assert [a.op_type for a in n.attr("activations")] == [SILU, ttnn.UnaryOpType.RELU]


def test_group_norm_activation_no_match():
    x, w, b, m = _gn_specs()
    welford = traced(lambda x, w, b, m: ttnn.silu(_gn(x, w, b, m, use_welford=True)), x, w, b, m)
    out = apply(welford, FU.rules_group_norm())
    assert ops(out) == ["group_norm", "silu"] and "use_welford=True is not handled" in notes(out)[0]
    approx = traced(lambda x, w, b, m: ttnn.gelu(_gn(x, w, b, m), fast_and_approximate_mode=True), x, w, b, m)
    out = apply(approx, FU.rules_group_norm())
    assert ops(out) == ["group_norm", "gelu"] and "approximate" in notes(out)[0]
    used = traced(lambda x, w, b, m: (lambda h: (ttnn.silu(h), h))(_gn(x, w, b, m)), x, w, b, m)
    assert ops(apply(used, FU.rules_group_norm())) == ["group_norm", "silu"]  # the norm is an output too
    # the sum is needed elsewhere: the norm + silu fuse, the add stays
    kept = traced(
        lambda x, t, w, b, m: (lambda s: (ttnn.silu(_gn(s, w, b, m)), s))(ttnn.add(x, t)), x, x, w, b, m
    )
    out = apply(kept, FU.rules_group_norm())
    assert ops(out) == ["add", "kernels.group_norm_act"] and out.nodes[1].attr("residual") is None


def test_group_norm_activation_jit_vs_eager(device):
    def block(x, t, w, b, m):
        return ttnn.silu(_gn(ttnn.add(x, t), w, b, m))

    g = torch.Generator().manual_seed(0)
    w, b = (
        ttnn.from_torch(
            ttnn.create_group_norm_weight_bias_rm(torch.randn(GN_C, generator=g), GN_C, 1),
            dtype=BF16,
            device=device,
        )  # fmt: skip
        for _ in range(2)
    )
    m = ttnn.to_device(ttnn.create_group_norm_input_mask(GN_C, 32, 1), device)
    args = [dev_t(device, 2, 1, 64, GN_C, scale=2.0), dev_t(device, 2, 1, 1, GN_C), w, b, m]
    ne, nj, p, jf = jit_vs_eager(block, args, device)
    assert (ne, nj) == (3, 1) and p == pytest.approx(1.0, abs=1e-6)  # bf16 DST: the same roundings as eager
    assert "kernels.group_norm_act" in str(jf.lower(*args).ir)


# ------------------------------------------------------------------------------------------ (b') conv2d epilogues
def _conv(x, w, b=None, *, act=None, oc=64, cin=32, n=1):
    return ttnn.conv2d(
        input_tensor=x, weight_tensor=w, bias_tensor=b, device=None, in_channels=cin, out_channels=oc,
        batch_size=n, input_height=8, input_width=8, kernel_size=(3, 3), padding=(1, 1),
        conv_config=ttnn.Conv2dConfig(weights_dtype=BF16, activation=act),
    )  # fmt: skip


_CX, _CW, _CB = S(1, 1, 64, 32), S(1, 1, 288, 64), S(1, 1, 1, 64)


@pytest.mark.parametrize("act", ["relu", "silu", "gelu", "sigmoid"])
def test_conv_activation_rule(act):
    g = traced(lambda x, w, b: getattr(ttnn, act)(_conv(x, w, b)), _CX, _CW, _CB)
    out = apply(g, rules(FU.rules_conv(), "conv_activation"))
    (n,) = out.nodes
    assert n.op == "conv2d" and n.attr("conv_config").activation.op_type.name.lower() == act


def test_conv_activation_no_match():
    g = traced(lambda x, w, b: ttnn.exp(_conv(x, w, b)), _CX, _CW, _CB)
    out = apply(g, rules(FU.rules_conv(), "conv_activation"))
    assert ops(out) == ["conv2d", "exp"] and "conv2d fuses only" in notes(out)[0]
    g = traced(lambda x, w, b: ttnn.gelu(_conv(x, w, b), fast_and_approximate_mode=True), _CX, _CW, _CB)
    out = apply(g, rules(FU.rules_conv(), "conv_activation"))
    assert ops(out) == ["conv2d", "gelu"] and "approximate" in notes(out)[0]
    g = traced(lambda x, w, b: ttnn.relu(_conv(x, w, b, act=ttnn.UnaryWithParam(SIG))), _CX, _CW, _CB)
    assert ops(apply(g, rules(FU.rules_conv(), "conv_activation"))) == [
        "conv2d",
        "relu",
    ]  # one activation only


def test_conv_bias_rule():
    g = traced(lambda x, w, b: ttnn.add(b, _conv(x, w), activations=["relu"]), _CX, _CW, _CB)
    out = apply(g, rules(FU.rules_conv(), "conv_bias"))
    (n,) = out.nodes
    assert n.op == "conv2d" and n.attr("bias_tensor") is not None
    assert n.attr("conv_config").activation.op_type is ttnn.UnaryOpType.RELU


def test_conv_bias_no_match():
    for b_spec, why in (
        (S(1, 1, 64, 64), "is not a prepared bias"),
        (S(1, 1, 1, 64, dtype=F32), "differs from the prepared weights'"),
    ):
        g = traced(lambda x, w, b: ttnn.add(_conv(x, w), b), _CX, _CW, b_spec)
        out = apply(g, rules(FU.rules_conv(), "conv_bias"))
        assert ops(out) == ["conv2d", "add"] and why in notes(out)[0]
    raw_w = ttnn.TensorSpec((64, 32, 3, 3), BF16, ttnn.ROW_MAJOR_LAYOUT, ttnn.DRAM_MEMORY_CONFIG)
    g = traced(lambda x, w, b: ttnn.add(_conv(x, w), b), _CX, raw_w, _CB)
    out = apply(g, rules(FU.rules_conv(), "conv_bias"))
    assert ops(out) == ["conv2d", "add"] and "not prepared" in notes(out)[0]


def test_conv_epilogues_jit_vs_eager(device):
    """relu(conv2d(x, w) + b): eager 3 launches, JIT 1 (bias and relu in the conv); the JIT rounds once where
    eager rounds the conv and the sum to bfloat16 too."""
    g = torch.Generator().manual_seed(1)
    x = ttnn.from_torch(
        torch.randn(1, 1, 64, 32, generator=g), dtype=BF16, layout=ttnn.TILE_LAYOUT, device=device
    )
    wt = torch.randn(64, 32, 3, 3, generator=g) * 0.1
    prep = dict(
        input_memory_config=ttnn.DRAM_MEMORY_CONFIG, input_layout=ttnn.TILE_LAYOUT, in_channels=32, out_channels=64,
        batch_size=1, input_height=8, input_width=8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1),
        dilation=(1, 1), groups=1, device=device, input_dtype=BF16, conv_config=ttnn.Conv2dConfig(weights_dtype=BF16),
    )  # fmt: skip
    w = ttnn.prepare_conv_weights(weight_tensor=ttnn.from_torch(wt, dtype=F32), weights_format="OIHW", has_bias=True, **prep)  # fmt: skip
    b = ttnn.prepare_conv_bias(bias_tensor=ttnn.from_torch(torch.randn(1, 1, 1, 64, generator=g), dtype=F32), **prep)  # fmt: skip

    def block(x, w, b):
        return ttnn.relu(ttnn.add(_conv(x, w), b))

    ne, nj, p, jf = jit_vs_eager(block, [x, w, b], device)
    assert (ne, nj) == (3, 1) and p > 0.9999
    (n,) = [n for n in jf.lower(x, w, b).graph.nodes if n.op == "conv2d"]
    assert n.attr("bias_tensor") is not None and n.attr("conv_config").activation is not None
    want = F.relu(F.conv2d(ttnn.to_torch(x).float().reshape(1, 8, 8, 32).permute(0, 3, 1, 2), wt.bfloat16().float(), ttnn.to_torch(b).float().reshape(-1), padding=1))  # fmt: skip
    got = ttnn.to_torch(jf(x, w, b)).float().reshape(1, 8, 8, 64).permute(0, 3, 1, 2)
    assert pcc(got, want) > 0.9999


# ------------------------------------------------------------------------------------------------- (f) SDPA
def _attn(q, k, v, m, *, form):
    if form == "transpose_b":
        s = ttnn.multiply(ttnn.matmul(q, k, transpose_b=True), 0.125)
    elif form == "permute":
        s = ttnn.divide(ttnn.matmul(q, ttnn.permute(k, (0, 1, 3, 2))), 8.0)
    else:
        s = ttnn.matmul(q, ttnn.transpose(k, -2, -1))
    if m is not None:
        s = ttnn.add(s, m)
    return ttnn.matmul(ttnn.softmax(s, dim=-1), v)


@pytest.mark.parametrize("form", ["transpose_b", "permute", "transpose"])
@pytest.mark.parametrize("mask", [True, False])
def test_sdpa_rule(device, form, mask):
    qkv = [dev_t(device, 1, 2, 64, 64) for _ in range(3)]
    m = dev_t(device, 1, 1, 64, 64) if mask else None
    g = traced(
        lambda q, k, v, mm: _attn(q, k, v, mm, form=form),
        *[S(1, 2, 64, 64)] * 3,
        S(1, 1, 64, 64) if mask else None,
    )
    out = apply(g, FU.rules_attention)
    scale = 1.0 if form == "transpose" else 0.125
    want = ["transformer.scaled_dot_product_attention"]
    if mask and scale != 1.0:
        want = ["multiply", *want]  # the mask pre-divided by the scale: TT scales it inside the exponent
    assert (
        ops(out) == want and out.nodes[-1].attr("scale") == scale and out.nodes[-1].attr("is_causal") is False
    )
    ne, nj, p, _ = jit_vs_eager(lambda q, k, v, mm: _attn(q, k, v, mm, form=form), (*qkv, m), device)
    assert p > 0.999 and nj < ne


def test_sdpa_rule_no_match():
    g = traced(
        lambda q, k, v: _attn(q, k, v, None, form="transpose_b"),
        S(1, 2, 64, 48),
        S(1, 2, 64, 48),
        S(1, 2, 64, 48),
    )
    out = apply(g, FU.rules_attention)  # head_dim 48: SDPA needs a multiple of 32
    assert "transformer.scaled_dot_product_attention" not in ops(out) and "rejects" in notes(out)[0]
    g = traced(
        lambda q, k, v: ttnn.matmul(ttnn.softmax(ttnn.matmul(q, k), dim=-1), v), *[S(1, 2, 64, 64)] * 3
    )
    out = apply(g, FU.rules_attention)
    assert (
        "transformer.scaled_dot_product_attention" not in ops(out) and "K is not transposed" in notes(out)[0]
    )


# ------------------------------------------------------------------------------------------- (g) blocks
def transition(x, g, b, w1, w2, w3, *, form="linear_act"):
    h = ttnn.layer_norm(x, epsilon=1e-5, weight=g, bias=b)
    if form == "linear_act":
        y = ttnn.multiply(ttnn.linear(h, w1, activation="silu"), ttnn.linear(h, w2))
    elif form == "unary":
        y = ttnn.multiply(ttnn.linear(h, w2), ttnn.silu(ttnn.linear(h, w1)))
    else:
        y = ttnn.multiply(ttnn.linear(h, w1), ttnn.linear(h, w2), input_tensor_a_activations=[SILU])
    return ttnn.linear(y, w3)


def _transition_args(device, d=64, hid=256):
    return (
        dev_t(device, 2, 64, d),
        dev_t(device, d),
        dev_t(device, d),
        dev_t(device, d, hid, scale=0.1),
        dev_t(device, d, hid, scale=0.1),
        dev_t(device, hid, d, scale=0.05),
    )


@pytest.mark.parametrize("form", ["linear_act", "unary", "operand_act"])
def test_transition_rule(device, form):
    g = traced(
        lambda *a: transition(*a, form=form), S(2, 64, 64), S(64), S(64), S(64, 256), S(64, 256), S(256, 64)
    )
    out = apply(g, rules(FB.rules_blocks, "transition"))
    assert ops(out) == ["kernels.concat_weights", "kernels.transition"]
    assert out.nodes[0].attr("mode") == "swiglu"


def test_transition_dispatches_at_most_3_kernels(device):
    """Must show: the Transition pattern dispatches <= 3 kernels under JIT vs 5+ eager."""
    args = _transition_args(device)
    ne, nj, p, jf = jit_vs_eager(transition, args, device, passes=("dce", "cleanup", "fuse"))
    assert ne >= 5 and nj <= 3 and p > 0.999
    ne2, nj2, p2, _ = jit_vs_eager(transition, args, device, passes=[n for n, _ in ttfuse.passes.PIPELINE])
    assert nj2 <= 3 and p2 > 0.999  # with every pass of the pipeline


def test_transition_rule_no_match():
    def with_bias(x, g, b, w1, w2, w3, b1):
        h = ttnn.layer_norm(x, epsilon=1e-5, weight=g, bias=b)
        return ttnn.linear(
            ttnn.multiply(ttnn.linear(h, w1, bias=b1, activation="silu"), ttnn.linear(h, w2)), w3
        )

    g = traced(with_bias, S(64, 64), S(64), S(64), S(64, 256), S(64, 256), S(256, 64), S(256))
    out = apply(g, rules(FB.rules_blocks, "transition"))
    assert "kernels.transition" not in ops(out) and "without bias" in notes(out)[0]


def adaln(a, s, sw, wsc, bsc, wsh):
    a = ttnn.layer_norm(a, epsilon=1e-5)
    s = ttnn.layer_norm(s, epsilon=1e-5, weight=sw)
    scale = ttnn.linear(s, wsc, bias=bsc)
    shift = ttnn.linear(s, wsh)
    return ttnn.add(ttnn.multiply(a, scale, input_tensor_b_activations=[SIG]), shift)


def ctb(a, s, sw, wsc, bsc, wsh, wx, wg, wab, wba, wo, bo):
    a = adaln(a, s, sw, wsc, bsc, wsh)
    b = ttnn.multiply(ttnn.linear(a, wg), ttnn.linear(a, wx), input_tensor_a_activations=[SILU])
    b = ttnn.multiply(b, ttnn.linear(a, wab))
    gate = ttnn.linear(s, wo, bias=bo)
    return ttnn.multiply(ttnn.linear(b, wba), gate, input_tensor_b_activations=[SIG])


def _ada_specs(d=64, ds=96):
    return (S(2, 32, d), S(2, 32, ds), S(ds), S(ds, d), S(d), S(ds, d))


def test_adaln_and_ctb_rules(device):
    g = traced(adaln, *_ada_specs())
    out = apply(g, rules(FB.rules_blocks, "adaln"))
    assert ops(out) == ["kernels.concat_weights", "kernels.concat_weights", "kernels.adaln"]
    d = 64
    specs = _ada_specs() + (S(d, 2 * d), S(d, 2 * d), S(d, 2 * d), S(2 * d, d), S(96, d), S(d))
    out = apply(
        traced(ctb, *specs),
        rules(FB.rules_blocks, "adaln") + rules(FB.rules_blocks, "conditioned_transition"),
    )
    assert ops(out)[-1] == "kernels.conditioned_transition" and len(out.nodes) == 4
    args = [dev_t(device, *s.shape, scale=0.1 if s.rank == 2 and s.shape[0] > 1 else 1.0) for s in specs]
    ne, nj, p, _ = jit_vs_eager(ctb, args, device)
    assert nj == 10 and ne >= 14 and p > 0.999


def test_adaln_rule_no_match():
    def affine_a(a, s, sw, wsc, wsh):  # LN(a) with a weight: not AdaLN's parameter-free norm
        an = ttnn.layer_norm(a, epsilon=1e-5, weight=sw)
        sn = ttnn.layer_norm(s, epsilon=1e-5)
        scale, shift = ttnn.linear(sn, wsc), ttnn.linear(sn, wsh)
        return ttnn.add(ttnn.multiply(an, scale, input_tensor_b_activations=[SIG]), shift)

    g = traced(affine_a, S(2, 32, 96), S(2, 32, 96), S(96), S(96, 96), S(96, 96))
    out = apply(g, rules(FB.rules_blocks, "adaln"))
    assert "kernels.adaln" not in ops(out) and "parameter-free" in notes(out)[0]


def trimul(x, mask, wp, wg, *, outgoing):
    b, n, _, c = x.shape
    d = wp.shape[-1] // 2
    pg = ttnn.multiply(ttnn.linear(x, wp), ttnn.linear(x, wg), input_tensor_b_activations=[SIG])
    pg = ttnn.permute(pg, (0, 3, 1, 2))
    pg = ttnn.multiply(pg, ttnn.reshape(mask, (b, 1, n, n)))
    a = ttnn.slice(pg, (0, 0, 0, 0), (b, d, n, n))
    c_ = ttnn.slice(pg, (0, d, 0, 0), (b, 2 * d, n, n))
    o = ttnn.matmul(a, c_, transpose_b=outgoing, transpose_a=not outgoing)
    return ttnn.permute(o, (0, 2, 3, 1))


@pytest.mark.parametrize("outgoing", [True, False])
def test_triangle_mult_rule(device, outgoing):
    n, c = 32, 64
    g = traced(lambda *a: trimul(*a, outgoing=outgoing), S(1, n, n, c), S(1, n, n), S(c, 2 * c), S(c, 2 * c))
    out = apply(g, rules(FB.rules_blocks, "triangle_mult"))
    assert ops(out) == ["kernels.concat_weights", "kernels.triangle_mult"]
    assert out.nodes[-1].attr("outgoing") is outgoing
    mask = ttnn.from_torch(
        (torch.rand(1, n, n) > 0.3).float(), dtype=BF16, layout=ttnn.TILE_LAYOUT, device=device
    )
    args = (
        dev_t(device, 1, n, n, c),
        mask,
        dev_t(device, c, 2 * c, scale=0.1),
        dev_t(device, c, 2 * c, scale=0.1),
    )
    ne, nj, p, _ = jit_vs_eager(lambda *a: trimul(*a, outgoing=outgoing), args, device)
    assert nj == 5 and ne >= 9 and p > 0.999


def gated_attention(s, k_in, bias, wq, bq, wkv, wg, wo):
    q = ttnn.linear(s, wq, bias=bq)
    kv = ttnn.linear(k_in, wkv)
    q, k, v = ttnn.transformer.split_query_key_value_and_split_heads(q, kv, num_heads=2, transpose_key=False)
    o = ttnn.transformer.scaled_dot_product_attention(q, k, v, attn_mask=bias, is_causal=False, scale=1.0)
    o = ttnn.multiply(
        ttnn.transformer.concatenate_heads(o), ttnn.linear(s, wg), input_tensor_b_activations=[SIG]
    )
    return ttnn.linear(o, wo)


def test_pair_bias_attention_rule(device):
    specs = (S(1, 64, 64), S(1, 64, 64), S(1, 2, 64, 64), S(64, 64), S(64), S(64, 128), S(64, 64), S(64, 64))
    out = apply(traced(gated_attention, *specs), rules(FB.rules_blocks, "pair_bias_attention"))
    assert ops(out)[-1] == "kernels.pair_bias_attention" and out.nodes[-1].attr("num_heads") == 2
    args = [dev_t(device, *s.shape, scale=0.1 if s.rank == 2 else 1.0) for s in specs]
    ne, nj, p, _ = jit_vs_eager(gated_attention, args, device)
    assert nj == 7 and ne == 8 and p > 0.999


def gated_self_attention(s, bias, wqkv, wg, wo):
    """The triangle-attention form: q|k|v from one linear, no k/v input."""
    qkv = ttnn.linear(s, wqkv)
    q, k, v = ttnn.transformer.split_query_key_value_and_split_heads(qkv, num_heads=2, transpose_key=False)
    o = ttnn.transformer.scaled_dot_product_attention(q, k, v, attn_mask=bias, is_causal=False, scale=1.0)
    o = ttnn.multiply(
        ttnn.transformer.concatenate_heads(o), ttnn.linear(s, wg), input_tensor_b_activations=[SIG]
    )
    return ttnn.linear(o, wo)


def test_pair_bias_attention_rule_self_form(device):
    specs = (S(4, 64, 64), S(1, 2, 64, 64), S(64, 192), S(64, 64), S(64, 64))
    out = apply(traced(gated_self_attention, *specs), rules(FB.rules_blocks, "pair_bias_attention"))
    node = out.nodes[-1]
    assert node.op == "kernels.pair_bias_attention" and node.attr("kv_input_tensor") is None
    args = [dev_t(device, *s.shape, scale=0.1 if s.rank == 2 else 1.0) for s in specs]
    ne, nj, p, _ = jit_vs_eager(gated_self_attention, args, device)
    assert nj == 6 and ne == 7 and p > 0.9999


@pytest.mark.parametrize("block", ["transition", "gated self-attention"])
def test_compile_checks_ops_against_its_own_device(device, monkeypatch, block):
    """Every spec rule run while compiling for a Blackhole (passes, the fused kernels' steps and working sets, code
    generation) sees the Blackhole, even right after an eager op on a Wormhole (they once saw the last eager
    device: the fused attention's 11x10 SDPA config was checked against the Wormhole's 8x8)."""
    from ttfuse.opdef import OPS, current_device_spec

    if block == "transition":
        fn, args = transition, list(_transition_args(device))
    else:
        specs = (S(4, 64, 64), S(1, 2, 64, 64), S(64, 192), S(64, 64), S(64, 64))
        fn = gated_self_attention
        args = [dev_t(device, *s.shape, scale=0.1 if s.rank == 2 else 1.0) for s in specs]
    seen = []
    for name in ("layer_norm", "linear", "kernels.pair_bias_attention"):  # stock steps and the kernel itself
        op = OPS[name]

        def spy(_rule=op.spec_rule, **a):
            seen.append(getattr(current_device_spec(), "name", None))
            return _rule(**a)

        monkeypatch.setattr(op, "spec_rule", spy)
    bh = ttnn.open_device(device_id=0, arch="blackhole:p150")
    try:
        bh_args = [
            ttnn.from_torch(ttnn.to_torch(a), dtype=BF16, layout=ttnn.TILE_LAYOUT, device=bh) for a in args
        ]
        ttfuse.jit(fn).lower(*args)  # a Wormhole compile first (it also builds the passes' rule tables once)
        ttnn.relu(args[0])  # an eager op on the Wormhole: the current device spec is the n150's
        seen.clear()
        low = ttfuse.jit(fn).lower(*bh_args)
    finally:
        ttnn.close_device(bh)
    assert seen and set(seen) == {"blackhole:p150:13x10"}, set(seen)
    if block != "transition":
        (row,) = [r for r in low.program_configs if r.step == "pair_bias_attention.sdpa"]
        assert tuple(row.program_config.compute_with_storage_grid_size)[0] > 8  # sized for the Blackhole grid


# ------------------------------------------------------------------------------------ (a) eltwise clustering
def silu_mul_add(x, y, z):
    return ttnn.add(ttnn.multiply(ttnn.silu(x), y), z)


def test_silu_mul_add_dispatches_one_kernel(device):
    """Must show: a silu-mul-add chain dispatches 1 kernel."""
    args = [dev_t(device, 64, 64) for _ in range(3)]
    ne, nj, p, jf = jit_vs_eager(silu_mul_add, args, device, passes=[n for n, _ in ttfuse.passes.PIPELINE])
    assert ne == 3 and nj == 1 and p > 0.9999
    assert [n.op for n in jf.lower(*args).graph.nodes] == ["kernels.eltwise"]


def test_eltwise_tree_with_broadcast_and_scalars(device):
    def fn(x, y, b):
        return ttnn.clamp(ttnn.subtract(ttnn.multiply(ttnn.tanh(x), 0.5), ttnn.add(y, b)), -1.0, 1.0)  # noqa: E731

    args = (dev_t(device, 64, 64), dev_t(device, 64, 64), dev_t(device, 1, 64))
    ne, nj, p, jf = jit_vs_eager(fn, args, device)
    assert ne == 5 and nj == 1 and p > 0.9999


def test_fanout_multi_output(device):
    def fn(x, y, w):
        h = ttnn.add(x, y)
        return ttnn.linear(h, w), ttnn.relu(ttnn.multiply(h, 2.0))

    args = (dev_t(device, 64, 64), dev_t(device, 64, 64), dev_t(device, 64, 64, scale=0.1))
    ne, nj, p, jf = jit_vs_eager(fn, args, device)
    g = jf.lower(*args).graph
    (k,) = [n for n in g.nodes if n.op == "kernels.eltwise"]
    assert len(k.outs) == 2 and nj == 2 and ne == 4 and p > 0.9999


def test_fanout_recomputation(device):
    def fn(x, y, z):
        s = ttnn.sigmoid(x)
        return ttnn.multiply(s, y), ttnn.exp(ttnn.add(s, z))

    args = [dev_t(device, 64, 64) for _ in range(3)]
    ne, nj, p, jf = jit_vs_eager(fn, args, device)
    g = jf.lower(*args).graph
    assert ops(g) == ["kernels.eltwise", "kernels.eltwise"] and "sigmoid" not in ops(g)  # recomputed in both
    assert nj == 2 and ne == 4 and p > 0.9999


def test_no_cycle_through_outside_readers(device):
    def fn(x, w):
        h = ttnn.add(x, 1.0)
        return ttnn.multiply(h, ttnn.linear(h, w))  # h feeds the linear that feeds the consumer: no fusion

    g = traced(fn, S(64, 64), S(64, 64))
    out = fuse_eltwise(g, CTX)
    verify(out)
    assert ops(out) == ["add", "linear", "multiply"] and any("cycle" in s for s in notes(out))


def test_circular_buffer_limit_cuts_clusters(device):
    n = 6

    def many(*xs):
        acc = xs[0]
        for x in xs[1:]:
            acc = ttnn.add(acc, x)
        return acc

    small = PassContext(dataclasses.replace(device.spec, max_cb_inputs=4))
    g = traced(many, *[S(64, 64)] * n)
    out = fuse_eltwise(g, small)
    verify(out)
    kernels = [k for k in out.nodes if k.op == "kernels.eltwise"]
    assert kernels and all(len(k.inputs) + len(k.outs) <= 4 for k in kernels)
    assert len(out.nodes) > 1 and any("circular buffers" in s for s in notes(out))
    assert ops(fuse_eltwise(g, CTX)) == ["kernels.eltwise"]


def test_eltwise_not_fusible_reasons():
    g = traced(lambda x: ttnn.relu(ttnn.exp(x)), S(32, 32))
    assert ops(fuse_eltwise(g, CTX)) == ["kernels.eltwise"]
    ints = traced(lambda x: ttnn.relu(ttnn.neg(x)), S(32, 32, dtype=ttnn.int32))
    out = fuse_eltwise(ints, CTX)
    assert ops(out) == ["neg", "relu"] and all("not fusible" in s for s in notes(out))


# -------------------------------------------------------------------------------------------- the pass
def test_fuse_pass_verifies_after_every_pass(device):
    args = _transition_args(device)
    g = trace(transition, args, {}, device_spec=device.spec)
    out, records = run_pipeline(g, PassContext(device.spec, keep_graphs=True), verify=True)
    assert [r.name for r in records][:3] == ["dce", "cleanup", "fuse"]
    assert "kernels.transition" in ops(out)


def test_fuse_pass_leaves_unfusable_graphs_alone():
    g = traced(lambda x, w: ttnn.softmax(ttnn.linear(x, w), dim=-1), S(64, 64), S(64, 64))
    out = FU.fuse(g, CTX)
    assert out == g


def test_scale_semantics_documented():
    assert "inside the exponent" in FU.__doc__ and math.isclose(1 / 0.125, 8.0)


def test_group_norm_and_conv_fusions_survive_the_disk_cache_format():
    """The fused nodes' static data (activation lists, a Conv2dConfig holding a UnaryWithParam) round-trip through
    the JSON the disk cache stores, and the code generated from the reloaded graph passes them as literals."""
    import json

    from ttfuse.codegen import generate_source
    from ttfuse.ir import Graph

    x, w, b, m = _gn_specs()

    def block(x, t, w, b, m, cw, cb):
        h = ttnn.silu(_gn(ttnn.add(x, t), w, b, m))
        return ttnn.relu(_conv(ttnn.reshape(h, (1, 1, 128, GN_C)), cw, cb, oc=64, cin=GN_C, n=2))

    g = traced(block, x, S(2, 1, 1, GN_C), w, b, m, S(1, 1, 9 * GN_C, 64), _CB)
    out = apply(g, FU.rules_group_norm() + FU.rules_conv())
    assert [op for op in ops(out) if op != "reshape"] == ["kernels.group_norm_act", "conv2d"]
    back = Graph.from_json(json.loads(json.dumps(out.to_json())))
    assert str(back) == str(out)
    src, _, _ = generate_source(back, name="f")
    assert "activations=[ttnn.UnaryWithParam(ttnn.UnaryOpType.SILU)]" in src
    assert "activation=ttnn.UnaryWithParam(ttnn.UnaryOpType.RELU)" in src
