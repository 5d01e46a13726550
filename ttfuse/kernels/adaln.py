"""`ttfuse.kernels.adaln` and `ttfuse.kernels.conditioned_transition` (boltz.md 3.6).

AdaLN:  out = LN(a) * sigmoid(LN_w(s) @ W_scale + b_scale) + LN_w(s) @ W_shift            (4 kernels, eager 6)
  1. a_n = layer_norm(a, epsilon)                  2. s_n = layer_norm(s, cond_epsilon, weight=cond_norm_weight)
  3. scale, shift = kernels.linear_split(s_n, W_ss, bias=b_ss)   W_ss = concat_weights([W_scale, W_shift]) and
     b_ss = concat_weights([b_scale], zero_widths=(d,)), computed once per set of weights
  4. one elementwise epilogue a_n * sigmoid(scale) + shift (float32, rounded once)
ConditionedTransitionBlock (expansion 2):                                                  (10 kernels, eager 14)
  a2 = adaln(a, s);  sw = minimal_matmul(a2, W_gx, fuse_swiglu=True)  (W_gx = swiglu concat of W_gates, W_x:
  silu(a2 @ W_gates) * (a2 @ W_x) in one matmul);  ab = linear(a2, W_ab);  b = multiply(sw, ab);
  gate = linear(s, W_o, bias=b_o);  ba = linear(b, W_ba);  out = multiply(ba, gate, b_activations=[SIGMOID]).
Each step uses the stock op's numerics and rounds what it writes; inputs are validated by the steps' stock
spec rules (errors name the kernel and the step). Both are row-wise (any leading dim may be chunked).
Configs (`step_configs`, chosen by select_configs): "norm_a", "norm_s" (layer_norm), "ss.mm" (the scale|shift
minimal_matmul), and for the ConditionedTransition "swiglu" (minimal_matmul), "ab", "gate", "ba" (linear).
"""

from __future__ import annotations

import torch

from ttfuse.configs import UnaryOpType, UnaryWithParam
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
    swiglu_step_sim,
)
from ttfuse.kernels.linear_split import linear_split_values
from ttfuse.numerics import round_to_dtype
from ttfuse.opdef import OPS, Traits

SIGMOID = UnaryWithParam(UnaryOpType.SIGMOID)
# both kernels are row-wise: the activation and its conditioning split with the output, the weights stay whole
_ROWS = Traits(split="rows", split_inputs=("input_tensor", "cond"))
MM = "experimental.minimal_matmul"


# ------------------------------------------------------------------------------------------------- AdaLN
@register_kernel("adaln", launches=4, traits=_ROWS)
def adaln(
    input_tensor,
    cond,
    weight_ss,
    *,
    bias_ss=None,
    cond_norm_weight=None,
    epsilon=1e-12,
    cond_epsilon=1e-12,
    dtype=None,
    memory_config=None,
    compute_kernel_config=None,
    norm_compute_kernel_config=None,
    step_configs=None,
):
    """LN(a) * sigmoid(LN(s) @ W_scale + b) + LN(s) @ W_shift, scale|shift as one matmul (4 kernels)."""


@memo_steps
def _adaln_steps(k: str, a: dict) -> tuple:
    an = step_spec(
        k,
        "layer_norm",
        step="norm_a",
        input_tensor=a["input_tensor"],
        epsilon=a["epsilon"],
        program_config=step_config(a, "norm_a"),
        compute_kernel_config=a["norm_compute_kernel_config"],
    )
    sn = step_spec(
        k,
        "layer_norm",
        step="norm_s",
        input_tensor=a["cond"],
        epsilon=a["cond_epsilon"],
        weight=a["cond_norm_weight"],
        program_config=step_config(a, "norm_s"),
        compute_kernel_config=a["norm_compute_kernel_config"],
    )
    w = a["weight_ss"]
    if w.shape[-1] % 2:
        raise kfail(k, f"argument 'weight_ss' must hold scale|shift halves, got width {w.shape[-1]}")
    d = w.shape[-1] // 2
    ss = step_spec(
        k,
        "kernels.linear_split",
        step="ss",
        step_configs=step_config(a, "ss"),
        input_tensor_a=sn,
        input_tensor_b=w,
        sizes=(d, d),
        bias=a["bias_ss"],
        activation=None,
        dtype=None,
        memory_config=None,
        compute_kernel_config=a["compute_kernel_config"],
    )
    prod = step_spec(
        k, "multiply", input_tensor_a=an, input_tensor_b=ss[0], input_tensor_b_activations=[SIGMOID]
    )
    out = step_spec(
        k,
        "add",
        input_tensor_a=prod,
        input_tensor_b=ss[1],
        dtype=a["dtype"],
        memory_config=a["memory_config"],
    )
    return an, sn, ss, out


@adaln.spec
def _adaln_spec(**a):
    return _adaln_steps("adaln", a)[3]


def adaln_values(a: dict, vals: dict, specs: dict) -> torch.Tensor:
    """AdaLN on float32 values (unrounded result); `specs` are the tensor arguments' TensorSpecs."""
    an_s, sn_s, ss_s, _ = _adaln_steps("adaln", {**a, **specs})
    an = step_sim(
        "layer_norm",
        an_s,
        {"input_tensor": specs["input_tensor"]},
        input_tensor=vals["input_tensor"],
        epsilon=a["epsilon"],
    )
    sn = step_sim(
        "layer_norm",
        sn_s,
        {"input_tensor": specs["cond"]},
        input_tensor=vals["cond"],
        epsilon=a["cond_epsilon"],
        weight=vals.get("cond_norm_weight"),
    )
    d = specs["weight_ss"].shape[-1] // 2
    ss = linear_split_values(sn, vals["weight_ss"], vals.get("bias_ss"), None, a["compute_kernel_config"])
    # ss (scale | shift) and an are this function's own fresh tensors: rounded and combined in place, the two
    # halves read as column views (one rounding pass when they share a format, as they do unless overridden)
    fmt_scale, fmt_shift = ss_s[0].dtype.value, ss_s[1].dtype.value
    if fmt_scale == fmt_shift:
        ss = round_to_dtype(ss, fmt_scale, inplace=True)
        scale, shift = ss[..., :d], ss[..., d:]
    else:
        scale = round_to_dtype(ss[..., :d].contiguous(), fmt_scale, inplace=True)
        shift = round_to_dtype(ss[..., d:].contiguous(), fmt_shift, inplace=True)
    scale.sigmoid_()
    if an.shape != scale.shape:  # the condition broadcasts over a's rows (or a over its batch)
        return an * scale + shift
    return an.mul_(scale).add_(shift)


_ADALN_TENSORS = ("input_tensor", "cond", "weight_ss", "bias_ss", "cond_norm_weight")


@adaln.sim
def _adaln_sim(ctx, input_tensor, cond, weight_ss, **a):
    vals = {"input_tensor": input_tensor, "cond": cond, "weight_ss": weight_ss}
    vals.update({k: a[k] for k in ("bias_ss", "cond_norm_weight") if a.get(k) is not None})
    return adaln_values(a, vals, dict(ctx.in_specs))


def _adaln_costs(k: str, a: dict, device_spec) -> list:
    an, sn, ss, out = _adaln_steps(k, a)
    mm_ins = {"input_tensor": sn, "weight_tensor": a["weight_ss"]}
    return [
        step_cost("layer_norm", {"input_tensor": a["input_tensor"]}, an, device_spec),
        step_cost("layer_norm", {"input_tensor": a["cond"]}, sn, device_spec),
        step_cost(
            MM,
            mm_ins,
            list(ss),
            device_spec,
            input_tensor=sn,
            weight_tensor=a["weight_ss"],
            config=step_config(a, "ss.mm"),
            compute_kernel_config=a["compute_kernel_config"],
        ),
        step_cost("add", {"input_tensor_a": an, "input_tensor_b": ss[0], "shift": ss[1]}, out, device_spec),
    ]


@adaln.cost
def _adaln_cost(ctx):
    return add_costs(_adaln_costs("adaln", dict(ctx.args), ctx.device_spec), 4)


def _adaln_ttnn(ttnn, input_tensor, cond, weight_ss, **a):
    an = ttnn.layer_norm(
        input_tensor,
        epsilon=a["epsilon"],
        program_config=step_config(a, "norm_a"),
        compute_kernel_config=a["norm_compute_kernel_config"],
    )
    sn = ttnn.layer_norm(
        cond,
        epsilon=a["cond_epsilon"],
        weight=a["cond_norm_weight"],
        program_config=step_config(a, "norm_s"),
        compute_kernel_config=a["norm_compute_kernel_config"],
    )
    d = weight_ss.shape[-1] // 2
    scale, shift = OPS["kernels.linear_split"].ttnn_rule(
        ttnn,
        sn,
        weight_ss,
        sizes=(d, d),
        bias=a["bias_ss"],
        activation=None,
        dtype=None,
        memory_config=None,
        compute_kernel_config=a["compute_kernel_config"],
        step_configs=step_config(a, "ss"),
    )
    prod = ttnn.multiply(an, scale, input_tensor_b_activations=[SIGMOID])
    return ttnn.add(prod, shift, dtype=a["dtype"], memory_config=a["memory_config"])


set_ttnn_rule(adaln, _adaln_ttnn)


# -------------------------------------------------------------------------------- ConditionedTransition
@register_kernel("conditioned_transition", launches=10, traits=_ROWS)
def conditioned_transition(
    input_tensor,
    cond,
    weight_ss,
    weight_gx,
    weight_ab,
    weight_ba,
    weight_o,
    *,
    bias_ss=None,
    cond_norm_weight=None,
    bias_o=None,
    epsilon=1e-12,
    cond_epsilon=1e-12,
    dtype=None,
    memory_config=None,
    compute_kernel_config=None,
    norm_compute_kernel_config=None,
    step_configs=None,
):
    """sigmoid(s @ W_o + b_o) * ((silu(a2 @ W_g) * (a2 @ W_x) * (a2 @ W_ab)) @ W_ba), a2 = AdaLN(a, s)."""


@memo_steps
def _ctb_steps(a: dict) -> tuple:
    k = "conditioned_transition"
    a2 = _adaln_steps(k, a)[3]
    ckc = a["compute_kernel_config"]
    sw = step_spec(
        k,
        MM,
        step="swiglu",
        input_tensor=a2,
        weight_tensor=a["weight_gx"],
        fuse_swiglu=True,
        config=step_config(a, "swiglu"),
        compute_kernel_config=ckc,
    )
    ab = step_spec(
        k,
        "linear",
        step="ab",
        input_tensor_a=a2,
        input_tensor_b=a["weight_ab"],
        program_config=step_config(a, "ab"),
        compute_kernel_config=ckc,
    )
    b = step_spec(k, "multiply", input_tensor_a=sw, input_tensor_b=ab)
    gate = step_spec(
        k,
        "linear",
        step="gate",
        input_tensor_a=a["cond"],
        input_tensor_b=a["weight_o"],
        bias=a["bias_o"],
        program_config=step_config(a, "gate"),
        compute_kernel_config=ckc,
    )
    ba = step_spec(
        k,
        "linear",
        step="ba",
        input_tensor_a=b,
        input_tensor_b=a["weight_ba"],
        program_config=step_config(a, "ba"),
        compute_kernel_config=ckc,
    )
    out = step_spec(
        k,
        "multiply",
        input_tensor_a=ba,
        input_tensor_b=gate,
        input_tensor_b_activations=[SIGMOID],
        dtype=a["dtype"],
        memory_config=a["memory_config"],
    )
    return a2, sw, ab, b, gate, ba, out


@conditioned_transition.spec
def _ctb_spec(**a):
    return _ctb_steps(a)[-1]


@conditioned_transition.sim
def _ctb_sim(ctx, input_tensor, cond, weight_ss, weight_gx, weight_ab, weight_ba, weight_o, **a):
    specs = dict(ctx.in_specs)
    a2_s, sw_s, ab_s, b_s, gate_s, ba_s, out_s = _ctb_steps({**a, **specs})
    vals = {"input_tensor": input_tensor, "cond": cond, "weight_ss": weight_ss}
    vals.update({k: a[k] for k in ("bias_ss", "cond_norm_weight") if a.get(k) is not None})
    a2 = round_to_dtype(adaln_values(a, vals, specs), a2_s.dtype.value)
    ckc = a["compute_kernel_config"]
    sw = swiglu_step_sim(sw_s, a2_s, specs["weight_gx"], a2, weight_gx, ckc)
    ab = ab_step_sim(
        "linear",
        ab_s,
        a2_s,
        specs["weight_ab"],
        a2,
        weight_ab,
        compute_kernel_config=ckc,
        program_config=step_config(a, "ab"),
    )
    b = ab_step_sim("multiply", b_s, sw_s, ab_s, sw, ab)
    gate_in = {"input_tensor_a": specs["cond"], "input_tensor_b": specs["weight_o"]}
    if a.get("bias_o") is not None:
        gate_in["bias"] = specs["bias_o"]
    gate = step_sim(
        "linear",
        gate_s,
        gate_in,
        input_tensor_a=cond,
        input_tensor_b=weight_o,
        bias=a.get("bias_o"),
        compute_kernel_config=ckc,
        program_config=step_config(a, "gate"),
    )
    ba = ab_step_sim(
        "linear",
        ba_s,
        b_s,
        specs["weight_ba"],
        b,
        weight_ba,
        compute_kernel_config=ckc,
        program_config=step_config(a, "ba"),
    )
    return ab_step_sim(
        "multiply", out_s, ba_s, gate_s, ba, gate, round_out=False, input_tensor_b_activations=[SIGMOID]
    )


@conditioned_transition.cost
def _ctb_cost(ctx):
    a = dict(ctx.args)
    a2, sw, ab, b, gate, ba, out = _ctb_steps(a)
    ckc = a["compute_kernel_config"]
    ds = ctx.device_spec
    costs = _adaln_costs("conditioned_transition", a, ds) + [
        step_cost(
            MM,
            {"input_tensor": a2, "weight_tensor": a["weight_gx"]},
            sw,
            ds,
            input_tensor=a2,
            weight_tensor=a["weight_gx"],
            fuse_swiglu=True,
            config=step_config(a, "swiglu"),
            compute_kernel_config=ckc,
        ),
        linear_step_cost(a2, a["weight_ab"], ab, ds, ckc, step_config(a, "ab")),
        step_cost("multiply", {"input_tensor_a": sw, "input_tensor_b": ab}, b, ds),
        linear_step_cost(a["cond"], a["weight_o"], gate, ds, ckc, step_config(a, "gate")),
        linear_step_cost(b, a["weight_ba"], ba, ds, ckc, step_config(a, "ba")),
        step_cost("multiply", {"input_tensor_a": ba, "input_tensor_b": gate}, out, ds),
    ]
    return add_costs(costs, 10)


def _ctb_ttnn(ttnn, input_tensor, cond, weight_ss, weight_gx, weight_ab, weight_ba, weight_o, **a):
    ada = {
        k: a[k]
        for k in (
            "bias_ss",
            "cond_norm_weight",
            "epsilon",
            "cond_epsilon",
            "compute_kernel_config",
            "norm_compute_kernel_config",
            "step_configs",
        )
    }
    a2 = _adaln_ttnn(ttnn, input_tensor, cond, weight_ss, dtype=None, memory_config=None, **ada)
    ckc = a["compute_kernel_config"]
    sw = ttnn.experimental.minimal_matmul(
        a2, weight_gx, fuse_swiglu=True, config=step_config(a, "swiglu"), compute_kernel_config=ckc
    )
    ab = ttnn.linear(a2, weight_ab, program_config=step_config(a, "ab"), compute_kernel_config=ckc)
    b = ttnn.multiply(sw, ab)
    gate = ttnn.linear(
        cond, weight_o, bias=a["bias_o"], program_config=step_config(a, "gate"), compute_kernel_config=ckc
    )
    ba = ttnn.linear(b, weight_ba, program_config=step_config(a, "ba"), compute_kernel_config=ckc)
    return ttnn.multiply(
        ba, gate, input_tensor_b_activations=[SIGMOID], dtype=a["dtype"], memory_config=a["memory_config"]
    )


set_ttnn_rule(conditioned_transition, _ctb_ttnn)
declare_intermediates(adaln, lambda a: _adaln_steps("adaln", a))
declare_intermediates(conditioned_transition, _ctb_steps)
