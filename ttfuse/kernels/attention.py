"""`ttfuse.kernels.pair_bias_attention`: gated multi-head attention with an additive pair bias (boltz.md 3.3).

    q, g = s @ W_q + b_q, s @ W_g          kv = k_in @ W_kv
    o = SDPA(heads(q), heads(k), heads(v), attn_mask=bias, scale)      (softmax(scale * (q k^T + bias)) v)
    out = (concat_heads(o) * sigmoid(g)) @ W_o
Composite (ttnn rule; 7 kernels, the eager code takes 8): q|g as ONE matmul on the concatenated weight
(`kernels.linear_split` over concat_weights([W_q, W_g]) and the bias [b_q | 0], computed once per set of
weights), the k|v linear, split_query_key_value_and_split_heads, scaled_dot_product_attention (is_causal=False,
the additive bias as attn_mask: TT applies `scale` inside the exponent, so the bias is scaled too, exactly as in
the code this kernel replaces), concatenate_heads, the sigmoid gate multiply, the output linear.
Numerics: each step as its stock op, rounded where it writes. Inputs are validated by the steps' spec rules.
"""

from __future__ import annotations

from ttfuse.configs import UnaryOpType, UnaryWithParam
from ttfuse.kernels.common import (
    add_costs,
    declare_intermediates,
    kfail,
    linear_step_cost,
    register_kernel,
    set_ttnn_rule,
    step_cost,
    step_sim,
    step_spec,
)
from ttfuse.opdef import OPS, SimCtx

NAME = "pair_bias_attention"
SDPA = "transformer.scaled_dot_product_attention"
SPLIT = "transformer.split_query_key_value_and_split_heads"
CONCAT = "transformer.concatenate_heads"
SIGMOID = UnaryWithParam(UnaryOpType.SIGMOID)


@register_kernel(NAME, launches=7)
def pair_bias_attention(
    input_tensor,
    kv_input_tensor,
    weight_qg,
    weight_kv,
    weight_o,
    *,
    attn_mask=None,
    bias_qg=None,
    num_heads,
    scale=None,
    dtype=None,
    memory_config=None,
    compute_kernel_config=None,
):
    """Gated attention with an additive bias: q|g and k|v projections, SDPA, sigmoid gate, output linear."""


def _steps(a: dict) -> tuple:
    k = NAME
    w = a["weight_qg"]
    if w.shape[-1] % 2:
        raise kfail(k, f"argument 'weight_qg' must hold q|g halves, got width {w.shape[-1]}")
    hd = w.shape[-1] // 2
    ckc = a["compute_kernel_config"]
    qg = step_spec(
        k,
        "kernels.linear_split",
        input_tensor_a=a["input_tensor"],
        input_tensor_b=w,
        sizes=(hd, hd),
        bias=a["bias_qg"],
        activation=None,
        dtype=None,
        memory_config=None,
        compute_kernel_config=ckc,
    )
    kv = step_spec(
        k,
        "linear",
        input_tensor_a=a["kv_input_tensor"],
        input_tensor_b=a["weight_kv"],
        compute_kernel_config=ckc,
    )
    heads = step_spec(
        k, SPLIT, input_tensor=qg[0], kv_input_tensor=kv, num_heads=a["num_heads"], transpose_key=False
    )
    o = step_spec(
        k,
        SDPA,
        input_tensor_q=heads[0],
        input_tensor_k=heads[1],
        input_tensor_v=heads[2],
        attn_mask=a["attn_mask"],
        is_causal=False,
        scale=a["scale"],
        compute_kernel_config=ckc,
    )
    oc = step_spec(k, CONCAT, input_tensor=o)
    gated = step_spec(
        k, "multiply", input_tensor_a=oc, input_tensor_b=qg[1], input_tensor_b_activations=[SIGMOID]
    )
    out = step_spec(
        k,
        "linear",
        input_tensor_a=gated,
        input_tensor_b=a["weight_o"],
        dtype=a["dtype"],
        memory_config=a["memory_config"],
        compute_kernel_config=ckc,
    )
    return qg, kv, heads, o, oc, gated, out


@pair_bias_attention.spec
def _spec(**a):
    return _steps(a)[-1]


@pair_bias_attention.sim
def _sim(ctx, input_tensor, kv_input_tensor, weight_qg, weight_kv, weight_o, **a):
    specs = dict(ctx.in_specs)
    qg_s, kv_s, heads_s, o_s, oc_s, gated_s, out_s = _steps({**a, **specs})
    ckc = a["compute_kernel_config"]
    ls = OPS["kernels.linear_split"]
    hd = weight_qg.shape[-1] // 2
    ls_in = {"input_tensor_a": specs["input_tensor"], "input_tensor_b": specs["weight_qg"]}
    from ttfuse.sim.numerics import round_to_dtype

    q, g = (
        round_to_dtype(v, s.dtype.value)
        for v, s in zip(
            ls.sim_rule(
                SimCtx(ls, qg_s, ls_in),
                input_tensor,
                weight_qg,
                sizes=(hd, hd),
                bias=a.get("bias_qg"),
                activation=None,
                compute_kernel_config=ckc,
            ),
            qg_s,
        )
    )
    kv = step_sim(
        "linear",
        kv_s,
        {"input_tensor_a": specs["kv_input_tensor"], "input_tensor_b": specs["weight_kv"]},
        input_tensor_a=kv_input_tensor,
        input_tensor_b=weight_kv,
        compute_kernel_config=ckc,
    )
    qh, kh, vh = step_sim(
        SPLIT,
        heads_s,
        {"input_tensor": qg_s[0], "kv_input_tensor": kv_s},
        input_tensor=q,
        kv_input_tensor=kv,
        num_heads=a["num_heads"],
        transpose_key=False,
    )
    sd_in = {"input_tensor_q": heads_s[0], "input_tensor_k": heads_s[1], "input_tensor_v": heads_s[2]}
    if a.get("attn_mask") is not None:
        sd_in["attn_mask"] = specs["attn_mask"]
    o = step_sim(
        SDPA,
        o_s,
        sd_in,
        input_tensor_q=qh,
        input_tensor_k=kh,
        input_tensor_v=vh,
        attn_mask=a.get("attn_mask"),
        is_causal=False,
        scale=a["scale"],
        compute_kernel_config=ckc,
    )
    oc = step_sim(CONCAT, oc_s, {"input_tensor": o_s}, input_tensor=o)
    gated = step_sim(
        "multiply",
        gated_s,
        {"input_tensor_a": oc_s, "input_tensor_b": qg_s[1]},
        input_tensor_a=oc,
        input_tensor_b=g,
        input_tensor_b_activations=[SIGMOID],
    )
    return step_sim(
        "linear",
        out_s,
        {"input_tensor_a": gated_s, "input_tensor_b": specs["weight_o"]},
        round_out=False,
        input_tensor_a=gated,
        input_tensor_b=weight_o,
        compute_kernel_config=ckc,
    )


@pair_bias_attention.cost
def _cost(ctx):
    a = dict(ctx.args)
    qg, kv, heads, o, oc, gated, out = _steps(a)
    ds = ctx.device_spec
    ckc = a["compute_kernel_config"]
    sd_in = {"input_tensor_q": heads[0], "input_tensor_k": heads[1], "input_tensor_v": heads[2]}
    if a["attn_mask"] is not None:
        sd_in["attn_mask"] = a["attn_mask"]
    costs = [
        step_cost(
            "experimental.minimal_matmul",
            {"input_tensor": a["input_tensor"], "weight_tensor": a["weight_qg"]},
            list(qg),
            ds,
            compute_kernel_config=ckc,
        ),
        linear_step_cost(a["kv_input_tensor"], a["weight_kv"], kv, ds, ckc),
        step_cost(
            SPLIT,
            {"input_tensor": qg[0], "kv_input_tensor": kv},
            list(heads),
            ds,
            num_heads=a["num_heads"],
            transpose_key=False,
        ),
        step_cost(
            SDPA,
            sd_in,
            o,
            ds,
            is_causal=False,
            scale=a["scale"],
            compute_kernel_config=ckc,
            **sd_in,
        ),
        step_cost(CONCAT, {"input_tensor": o}, oc, ds),
        step_cost("multiply", {"input_tensor_a": oc, "input_tensor_b": qg[1]}, gated, ds),
        linear_step_cost(gated, a["weight_o"], out, ds, ckc),
    ]
    return add_costs(costs, 7)


def _ttnn(ttnn, input_tensor, kv_input_tensor, weight_qg, weight_kv, weight_o, **a):
    ckc = a["compute_kernel_config"]
    hd = weight_qg.shape[-1] // 2
    q, g = OPS["kernels.linear_split"].ttnn_rule(
        ttnn,
        input_tensor,
        weight_qg,
        sizes=(hd, hd),
        bias=a["bias_qg"],
        activation=None,
        dtype=None,
        memory_config=None,
        compute_kernel_config=ckc,
    )
    kv = ttnn.linear(kv_input_tensor, weight_kv, compute_kernel_config=ckc)
    qh, kh, vh = ttnn.transformer.split_query_key_value_and_split_heads(
        q, kv, num_heads=a["num_heads"], transpose_key=False
    )
    o = ttnn.transformer.scaled_dot_product_attention(
        qh, kh, vh, attn_mask=a["attn_mask"], is_causal=False, scale=a["scale"], compute_kernel_config=ckc
    )
    o = ttnn.multiply(ttnn.transformer.concatenate_heads(o), g, input_tensor_b_activations=[SIGMOID])
    return ttnn.linear(
        o, weight_o, dtype=a["dtype"], memory_config=a["memory_config"], compute_kernel_config=ckc
    )


set_ttnn_rule(pair_bias_attention, _ttnn)
declare_intermediates(pair_bias_attention, _steps)
