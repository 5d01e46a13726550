"""`ttfuse.kernels.group_norm_act`: group_norm with an elementwise activation epilogue, optionally on a sum.

    out = act_k(... act_1(group_norm(input_tensor [+ residual], num_groups, epsilon, mask, weight, bias)))

The ResNet blocks of SD1.4's UNet and VAE write `silu(group_norm(x))` twice per block, the second time on
`conv1(...) + time_emb_proj(...)` (ttfuse/passes/fuse.py `rules_group_norm` recognises both forms).
Composite (the ttnn rule: tt-metal 0.81.1 has no group_norm with a fused activation, so on a TT device without a
generated kernel the stock calls run, 2 to 3 launches): `s = ttnn.add(input_tensor, residual)` (only with a
residual), `y = ttnn.group_norm(s, ..., inplace=False, memory_config=memory_config)`, then one stock unary op per
activation (`kernels.eltwise.stock_act`).
Fused kernel (1 launch, the figure the simulator and the cost model count, as for kernels.eltwise): the group
norm's compute kernel reads `input_tensor + residual` tile by tile (the sum is never written out), normalises, and
applies the activations in DST before packing the output once. Numerics: the values held in DST (the sum, the
normalised value, each activation's result but the last) take DST's format: float32 when a tensor is float32 or
`compute_kernel_config.fp32_dest_acc_en` is set, else bfloat16. So with a bfloat16 DST the sim equals the stock
composite bit for bit, and with a float32 DST it skips the composite's roundings of the sum and of the normalised
value (one bfloat16 rounding each: the fused result is at least as close to float32 math; tests/passes/
test_group_norm_act.py checks both bounds).
Inputs are validated by the stock add / group_norm spec rules (errors name the kernel and the step); the
activations are UnaryWithParams (or strings / UnaryOpTypes) any fused activation list accepts.
"""

from __future__ import annotations

from ttfuse.errors import SpecError
from ttfuse.kernels.common import kfail, register_kernel, set_ttnn_rule, step_sim, step_spec
from ttfuse.kernels.eltwise import stock_act
from ttfuse.numerics import round_to_dtype
from ttfuse.opdef import CostCtx, OpCost, Traits
from ttfuse.ops.activations import apply_activation, normalize_activations
from ttfuse.ops.common import flat_specs, io_bytes
from ttfuse.types import DataType

NAME = "group_norm_act"
GN_FLOPS_PER_ELEM = 10.0  # as the stock group_norm's cost rule (ttfuse/ops/norm.py)
ACT_FLOPS_PER_ELEM = 4.0  # one SFPU activation per element, as the eltwise kernel counts a unary instruction


def keep_default_configs(node, in_specs, sctx) -> tuple[dict, list]:
    """select_configs rule: none chosen. ttfuse selects no config for the stock group_norm either (ttnn's default
    compute kernel config runs), so the kernel keeps the one the code passed and rounds as the eager op does."""
    return {}, []


@register_kernel(NAME, launches=1, traits=Traits(config_rule=keep_default_configs))
def group_norm_act(
    input_tensor,
    *,
    num_groups,
    activations,
    residual=None,
    epsilon=1e-12,
    input_mask=None,
    weight=None,
    bias=None,
    memory_config=None,
    compute_kernel_config=None,
):
    """act(group_norm(input_tensor [+ residual])) in one kernel: [N, 1, H*W, C] TILE, groups along C."""


def _acts(activations) -> tuple:
    try:
        acts = normalize_activations(NAME, activations, "activations")
    except SpecError as e:
        raise kfail(NAME, str(e).split(": ", 1)[-1]) from None
    if not acts:
        raise kfail(
            NAME, "argument 'activations' must name at least one activation (else use ttnn.group_norm)"
        )
    return acts


def _gn_args(a: dict) -> dict:
    return {
        k: a[k]
        for k in (
            "num_groups",
            "epsilon",
            "input_mask",
            "weight",
            "bias",
            "memory_config",
            "compute_kernel_config",
        )
    }


def _steps(a: dict) -> tuple:
    """(the sum's spec or None, the group norm's output spec = the kernel's output spec)."""
    _acts(a["activations"])
    s = None
    if a["residual"] is not None:
        s = step_spec(NAME, "add", input_tensor_a=a["input_tensor"], input_tensor_b=a["residual"])
    y = step_spec(NAME, "group_norm", input_tensor=s or a["input_tensor"], inplace=False, **_gn_args(a))
    return s, y


@group_norm_act.spec
def _spec(**a):
    return _steps(a)[1]


def dst_format(specs, compute_kernel_config) -> str:
    """The format of the values the kernel holds in DST (see the module docstring)."""
    fp32 = any(s.dtype is DataType.FLOAT32 for s in specs) or bool(
        compute_kernel_config is not None and compute_kernel_config.fp32_dest_acc_en
    )
    return (DataType.FLOAT32 if fp32 else DataType.BFLOAT16).value


@group_norm_act.sim
def _sim(ctx, input_tensor, *, residual, activations, **a):
    specs = dict(ctx.in_specs)
    s_spec, y_spec = _steps({**a, **specs, "residual": specs.get("residual"), "activations": activations})
    tensors = [specs["input_tensor"], y_spec] + ([specs["residual"]] if residual is not None else [])
    fmt = dst_format(tensors, a["compute_kernel_config"])
    x = input_tensor
    if residual is not None:
        ab = {"input_tensor_a": specs["input_tensor"], "input_tensor_b": specs["residual"]}
        x = step_sim("add", s_spec, ab, round_out=False, input_tensor_a=input_tensor, input_tensor_b=residual)
        x = round_to_dtype(x, fmt)
    gn_in = {k: specs[k] for k in ("input_mask", "weight", "bias") if k in specs}
    gn_in["input_tensor"] = s_spec or specs["input_tensor"]
    y = step_sim("group_norm", y_spec, gn_in, round_out=False, input_tensor=x, inplace=False, **_gn_args(a))
    acts = _acts(activations)
    y = round_to_dtype(y, fmt)
    for k, act in enumerate(acts):
        y = apply_activation(y, act)
        if k < len(acts) - 1:
            y = round_to_dtype(y, fmt)
    return y  # the executor rounds the output once, to its dtype


@group_norm_act.cost
def _cost(ctx: CostCtx) -> OpCost:
    """One pass over the input (and residual), the group norm's arithmetic plus the epilogue's, one output."""
    out = ctx.out_specs[0]
    dram, l1 = io_bytes(flat_specs(ctx.in_specs) + list(ctx.out_specs))
    acts = _acts(ctx.args["activations"])
    per_elem = GN_FLOPS_PER_ELEM + ACT_FLOPS_PER_ELEM * len(acts) + (ctx.args["residual"] is not None)
    return OpCost(flops=per_elem * out.numel, dram_bytes=dram, l1_bytes=l1, launches=1, fidelity="HiFi4")


def _ttnn(ttnn, input_tensor, *, residual, activations, **a):
    """The stock composite: [add], group_norm, one unary op per activation."""
    x = input_tensor if residual is None else ttnn.add(input_tensor, residual)
    y = ttnn.group_norm(x, inplace=False, **_gn_args(a))
    for act in _acts(activations):
        y = stock_act(ttnn, y, act)
    return y


set_ttnn_rule(group_norm_act, _ttnn)
