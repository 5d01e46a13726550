"""`ttfuse.kernels.pair_bias_attention`: gated multi-head attention with an additive pair bias (boltz.md 3.3).

    cross form (AttentionPairBias):   q, g = s @ W_q + b_q, s @ W_g          k, v = k_in @ W_kv
    self form (triangle attention):   q, k, v, g = s @ W_qkv + b_qkv, s @ W_g   (kv_input_tensor=None)
    o = SDPA(heads(q), heads(k), heads(v), attn_mask=bias, scale)      (softmax(scale * (q k^T + bias)) v)
    out = (concat_heads(o) * sigmoid(g)) @ W_o
Composite (ttnn rule; 7 kernels for the cross form, 6 for the self form; the eager code takes one more): the
projections as ONE matmul on the concatenated weight (`kernels.linear_split` over concat_weights([W_q, W_g]) or
([W_qkv, W_g]) and the bias [b | 0], computed once per set of weights), the k|v linear (cross form),
split_query_key_value_and_split_heads, scaled_dot_product_attention (is_causal=False, the additive bias as
attn_mask: TT applies `scale` inside the exponent, so the bias is scaled too, exactly as in the code this kernel
replaces), concatenate_heads, the sigmoid gate multiply, the output linear.
Numerics: each step as its stock op, rounded where it writes. The sim takes q, k, v and the gate by column
from the one rounded projection and leaves the attention output in the concatenated-heads layout (fewer copies:
the split outputs and the concat move data without changing a value): bit-identical to running the steps,
checked in tests/passes/test_kernels.py. Inputs are validated by the steps' spec rules.
"""

from __future__ import annotations

from ttfuse.axes import Axis, positions, sharded
from ttfuse.configs import UnaryOpType, UnaryWithParam
from ttfuse.device import TILE
from ttfuse.kernels.common import (
    ab_step_sim,
    add_costs,
    declare_intermediates,
    kfail,
    linear_step_cost,
    memo_steps,
    register_kernel,
    set_ttnn_rule,
    step_config,
    step_cost,
    step_sim,
    step_spec,
)
from ttfuse.kernels.linear_split import linear_split_values
from ttfuse.numerics import round_to_dtype
from ttfuse.opdef import OPS, SimCtx, Traits
from ttfuse.ops.attention import sdpa_reference

NAME = "pair_bias_attention"
SDPA = "transformer.scaled_dot_product_attention"
SPLIT = "transformer.split_query_key_value_and_split_heads"
CONCAT = "transformer.concatenate_heads"
SIGMOID = UnaryWithParam(UnaryOpType.SIGMOID)


def _launches(out_specs, args=None) -> int:
    return 6 if args is not None and args.get("kv_input_tensor") is None else 7


def _split_axes(node, in_specs) -> list[Axis]:
    """Independent over the attention batch (dim 0: the rows of a triangle attention); its activations split
    with the output, the bias when it has that batch (else broadcast)."""
    out = node.outs[0]
    if out.rank < 3 or out.shape[0] <= 1 or sharded(node, in_specs):
        return []
    pos = positions(node)
    dims: list[int | None] = [None] * len(in_specs)
    for i in pos.get("input_tensor", []) + pos.get("kv_input_tensor", []):
        if in_specs[i].rank != out.rank or in_specs[i].shape[0] != out.shape[0]:
            return []
        dims[i] = 0
    for i in pos.get("attn_mask", []):
        if in_specs[i].shape[0] == out.shape[0]:
            dims[i] = 0
        elif in_specs[i].shape[0] != 1:
            return []
    return [Axis(0, tuple(dims), 1)]


# configs (passes/select.py, the "fused" rule): the compute kernel config, and in `step_configs` the program
# configs of the steps "qg.mm" (the split projection's minimal_matmul), "kv" and "out" (linear) and "sdpa"
@register_kernel(NAME, launches=_launches, traits=Traits(split=_split_axes))
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
    step_configs=None,
):
    """Gated attention with an additive bias: q|g (or q|k|v|g) and k|v projections, SDPA, sigmoid gate, output
    linear. kv_input_tensor=None (and weight_kv=None) is the self form: weight_qg holds q|k|v|g.
    step_configs: the steps' program configs ("qg", "kv", "sdpa", "out"), chosen by select_configs."""


def _split_sizes(a: dict) -> tuple[int, ...]:
    """Column sizes of the split projection: (q, g) in the cross form, (q|k|v, g) in the self form."""
    w = a["weight_qg"].shape[-1]
    if a["kv_input_tensor"] is None:
        if a["weight_kv"] is not None:
            raise kfail(
                NAME, "argument 'weight_kv' must be None when 'kv_input_tensor' is None (the self form)"
            )
        if w % (4 * TILE):
            raise kfail(
                NAME, f"argument 'weight_qg' must hold q|k|v|g, four parts of whole tiles, got width {w}"
            )
        return (3 * w // 4, w // 4)
    if a["weight_kv"] is None:
        raise kfail(NAME, "argument 'weight_kv' is required with a 'kv_input_tensor'")
    if w % (2 * TILE):
        raise kfail(NAME, f"argument 'weight_qg' must hold q|g halves of whole tiles, got width {w}")
    return (w // 2, w // 2)


@memo_steps
def _steps(a: dict) -> tuple:
    k = NAME
    ckc = a["compute_kernel_config"]
    qg = step_spec(
        k,
        "kernels.linear_split",
        step="qg",
        input_tensor_a=a["input_tensor"],
        input_tensor_b=a["weight_qg"],
        sizes=_split_sizes(a),
        bias=a["bias_qg"],
        activation=None,
        dtype=None,
        memory_config=None,
        compute_kernel_config=ckc,
        step_configs=step_config(a, "qg"),
    )
    kv = None
    if a["kv_input_tensor"] is not None:
        kv = step_spec(
            k,
            "linear",
            step="kv",
            input_tensor_a=a["kv_input_tensor"],
            input_tensor_b=a["weight_kv"],
            program_config=step_config(a, "kv"),
            compute_kernel_config=ckc,
        )
    heads = step_spec(
        k, SPLIT, input_tensor=qg[0], kv_input_tensor=kv, num_heads=a["num_heads"], transpose_key=False
    )
    o = step_spec(
        k,
        SDPA,
        step="sdpa",
        input_tensor_q=heads[0],
        input_tensor_k=heads[1],
        input_tensor_v=heads[2],
        attn_mask=a["attn_mask"],
        is_causal=False,
        scale=a["scale"],
        program_config=step_config(a, "sdpa"),
        compute_kernel_config=ckc,
    )
    oc = step_spec(k, CONCAT, input_tensor=o)
    gated = step_spec(
        k, "multiply", input_tensor_a=oc, input_tensor_b=qg[1], input_tensor_b_activations=[SIGMOID]
    )
    out = step_spec(
        k,
        "linear",
        step="out",
        input_tensor_a=gated,
        input_tensor_b=a["weight_o"],
        dtype=a["dtype"],
        memory_config=a["memory_config"],
        program_config=step_config(a, "out"),
        compute_kernel_config=ckc,
    )
    return qg, kv, heads, o, oc, gated, out


@pair_bias_attention.spec
def _spec(**a):
    return _steps(a)[-1]


@pair_bias_attention.sim
def _sim(ctx, input_tensor, kv_input_tensor, weight_qg, weight_kv, weight_o, **a):
    specs = dict(ctx.in_specs)
    steps = _steps(
        {**a, **specs, "kv_input_tensor": specs.get("kv_input_tensor"), "weight_kv": specs.get("weight_kv")}
    )
    run = _sim_views if _views_apply(steps) else _sim_steps
    return run(steps, specs, input_tensor, kv_input_tensor, weight_qg, weight_kv, weight_o, a)


def _views_apply(steps) -> bool:
    """The in-place head views reproduce the split and concat steps exactly when nothing changes format between
    the projection and the gate (one float dtype, unsharded: the sharded split groups heads differently)."""
    qg_s, kv_s, heads_s, o_s, oc_s, _, _ = steps
    specs = [*qg_s, *heads_s, o_s, oc_s] + ([kv_s] if kv_s is not None else [])
    return len({s.dtype for s in specs}) == 1 and not any(s.memory_config.is_sharded() for s in specs)


def _sim_views(steps, specs, x, kv_in, w_qg, w_kv, w_o, a):
    """The steps with fewer copies: the projection is rounded once (as the split matmul writes it) and q, k, v
    and the gate are taken from it by column (the split matmul's separate outputs are never materialised); SDPA
    leaves its output in the concatenated-heads layout (no concat copy)."""
    qg_s, _, heads_s, o_s, oc_s, _, _ = steps
    ckc = a["compute_kernel_config"]
    fmt = o_s.dtype.value
    b, nh, sq, d = heads_s[0].shape
    hd = nh * d
    proj = linear_split_values(x, w_qg, a.get("bias_qg"), None, ckc)
    proj = round_to_dtype(proj, fmt, inplace=True).view(b, sq, proj.shape[-1])
    if kv_in is None:  # columns [q heads | k heads | v heads | gate]
        qkv = proj[..., : 3 * hd].unflatten(-1, (3 * nh, d)).transpose(1, 2)
        q, k, v = qkv[:, :nh], qkv[:, nh : 2 * nh], qkv[:, 2 * nh :]
        g = proj[..., 3 * hd :]
    else:
        kv = _kv(steps, specs, kv_in, w_kv, ckc, step_config(a, "kv"))
        kvh = kv.reshape(b, kv.shape[-2], 2 * nh, d).transpose(1, 2)
        q = proj[..., :hd].unflatten(-1, (nh, d)).transpose(1, 2)
        k, v = kvh[:, :nh], kvh[:, nh:]
        g = proj[..., hd:]
    # torch's fused attention reads strided heads ~20% slower than it takes to copy them out (measured), so the
    # heads are copied as the split would write them; the gate is read once more below, also contiguous
    q, k, v = q.contiguous(), k.contiguous(), v.contiguous()
    scale = 1.0 / d**0.5 if a["scale"] is None else float(a["scale"])
    o = sdpa_reference(q, k, v, scale=scale, mask=a.get("attn_mask"), contiguous=False)
    oc = round_to_dtype(o.transpose(1, 2).reshape(oc_s.shape), fmt)
    return _gate_out(steps, specs, oc, g.reshape(qg_s[1].shape).contiguous(), w_o, ckc, step_config(a, "out"))


def _kv(steps, specs, kv_in, w_kv, ckc, pc=None):
    """The cross form's k|v linear step, rounded as written."""
    kv_s, w_s = specs["kv_input_tensor"], specs["weight_kv"]
    return ab_step_sim(
        "linear", steps[1], kv_s, w_s, kv_in, w_kv, compute_kernel_config=ckc, program_config=pc
    )


def _gate_out(steps, specs, oc, g, w_o, ckc, pc=None):
    """The last two steps: concatenated heads * sigmoid(gate) (rounded as written), then the output linear."""
    qg_s, _, _, _, oc_s, gated_s, out_s = steps
    gated = ab_step_sim("multiply", gated_s, oc_s, qg_s[1], oc, g, input_tensor_b_activations=[SIGMOID])
    w_s = specs["weight_o"]
    return ab_step_sim(
        "linear",
        out_s,
        gated_s,
        w_s,
        gated,
        w_o,
        round_out=False,
        compute_kernel_config=ckc,
        program_config=pc,
    )


def _sim_steps(steps, specs, x, kv_in, w_qg, w_kv, w_o, a):
    """Each step through its stock sim rule (formats that change between the steps; the reference the view
    path is checked against)."""
    qg_s, kv_s, heads_s, o_s, oc_s, _, _ = steps
    ckc = a["compute_kernel_config"]
    ls = OPS["kernels.linear_split"]
    ls_in = {"input_tensor_a": specs["input_tensor"], "input_tensor_b": specs["weight_qg"]}
    q, g = (
        round_to_dtype(v, s.dtype.value)
        for v, s in zip(
            ls.sim_rule(
                SimCtx(ls, qg_s, ls_in),
                x,
                w_qg,
                sizes=tuple(s.shape[-1] for s in qg_s),
                bias=a.get("bias_qg"),
                activation=None,
                compute_kernel_config=ckc,
            ),
            qg_s,
        )
    )
    kv = None if kv_in is None else _kv(steps, specs, kv_in, w_kv, ckc, step_config(a, "kv"))
    split_in = {"input_tensor": qg_s[0]}
    if kv_s is not None:
        split_in["kv_input_tensor"] = kv_s
    qh, kh, vh = step_sim(
        SPLIT,
        heads_s,
        split_in,
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
        program_config=step_config(a, "sdpa"),
        compute_kernel_config=ckc,
    )
    oc = step_sim(CONCAT, oc_s, {"input_tensor": o_s}, input_tensor=o)
    return _gate_out(steps, specs, oc, g, w_o, ckc, step_config(a, "out"))


@pair_bias_attention.cost
def _cost(ctx):
    a = dict(ctx.args)
    qg, kv, heads, o, oc, gated, out = _steps(a)
    ds = ctx.device_spec
    ckc = a["compute_kernel_config"]
    sd_in = {"input_tensor_q": heads[0], "input_tensor_k": heads[1], "input_tensor_v": heads[2]}
    if a["attn_mask"] is not None:
        sd_in["attn_mask"] = a["attn_mask"]
    split_in = {"input_tensor": qg[0]} if kv is None else {"input_tensor": qg[0], "kv_input_tensor": kv}
    costs = [
        step_cost(
            "experimental.minimal_matmul",
            {"input_tensor": a["input_tensor"], "weight_tensor": a["weight_qg"]},
            list(qg),
            ds,
            input_tensor=a["input_tensor"],
            weight_tensor=a["weight_qg"],
            config=step_config(a, "qg.mm"),
            compute_kernel_config=ckc,
        ),
        *(
            []
            if kv is None
            else [linear_step_cost(a["kv_input_tensor"], a["weight_kv"], kv, ds, ckc, step_config(a, "kv"))]
        ),
        step_cost(SPLIT, split_in, list(heads), ds, num_heads=a["num_heads"], transpose_key=False),
        step_cost(
            SDPA,
            sd_in,
            o,
            ds,
            is_causal=False,
            scale=a["scale"],
            program_config=step_config(a, "sdpa"),
            compute_kernel_config=ckc,
            **sd_in,
        ),
        step_cost(CONCAT, {"input_tensor": o}, oc, ds),
        step_cost("multiply", {"input_tensor_a": oc, "input_tensor_b": qg[1]}, gated, ds),
        linear_step_cost(gated, a["weight_o"], out, ds, ckc, step_config(a, "out")),
    ]
    return add_costs(costs, len(costs))


def _ttnn(ttnn, input_tensor, kv_input_tensor, weight_qg, weight_kv, weight_o, **a):
    ckc = a["compute_kernel_config"]
    sizes = _split_sizes(
        {**a, "weight_qg": weight_qg, "kv_input_tensor": kv_input_tensor, "weight_kv": weight_kv}
    )
    q, g = OPS["kernels.linear_split"].ttnn_rule(
        ttnn,
        input_tensor,
        weight_qg,
        sizes=sizes,
        bias=a["bias_qg"],
        activation=None,
        dtype=None,
        memory_config=None,
        compute_kernel_config=ckc,
        step_configs=step_config(a, "qg"),
    )
    kv = (
        None
        if kv_input_tensor is None
        else ttnn.linear(
            kv_input_tensor, weight_kv, program_config=step_config(a, "kv"), compute_kernel_config=ckc
        )
    )
    qh, kh, vh = ttnn.transformer.split_query_key_value_and_split_heads(
        q, kv, num_heads=a["num_heads"], transpose_key=False
    )
    o = ttnn.transformer.scaled_dot_product_attention(
        qh,
        kh,
        vh,
        attn_mask=a["attn_mask"],
        is_causal=False,
        scale=a["scale"],
        program_config=step_config(a, "sdpa"),
        compute_kernel_config=ckc,
    )
    o = ttnn.multiply(ttnn.transformer.concatenate_heads(o), g, input_tensor_b_activations=[SIGMOID])
    return ttnn.linear(
        o,
        weight_o,
        dtype=a["dtype"],
        memory_config=a["memory_config"],
        program_config=step_config(a, "out"),
        compute_kernel_config=ckc,
    )


set_ttnn_rule(pair_bias_attention, _ttnn)
# the steps write q|k|v, g, the heads and the attention output with default (DRAM) memory configs, as the
# eager code does: the kernel needs no L1 beyond the steps' circular buffers, so the chunk pass leaves it whole
declare_intermediates(pair_bias_attention, _steps, in_l1=False)
