"""`ttfuse.kernels.linear_split`: one matmul on concatenated weights, written out as several tensors.

Horizontal fusion turns linears that share their input (Q/K/V, gate/up, AdaLN scale/shift) into one matmul over
the concatenated weight (`kernels.concat_weights`, computed once) whose result is split along N. On TT hardware
this is `ttnn.experimental.minimal_matmul_split` (one kernel writing k output chunks, bias and activation
applied in the kernel); the ttnn rule uses it when the installed ttnn has it, else `ttnn.linear` + slices.
Semantics: y = act(a @ b + bias) in float32, split into `sizes` columns (multiples of 32); each part rounded
once to `dtype`. Validation: the stock `ttnn.linear` spec rule on the whole product, then the split sizes.
Config: step "mm" takes the config select_configs puts in `step_configs`: with equal parts a MinimalMatmulConfig
for minimal_matmul_split (a ttnn without it falls back to ttnn.linear on defaults), else a matmul program config
for the ttnn.linear.
"""

from __future__ import annotations

from ttfuse.device import TILE
from ttfuse.errors import SpecError
from ttfuse.kernels.common import (
    kfail,
    register_kernel,
    set_ttnn_rule,
    step_config,
    step_cost,
    step_fidelity,
    step_spec,
)
from ttfuse.opdef import CostCtx, OpCost
from ttfuse.ops.activations import apply_activation, normalize_activation
from ttfuse.ops.matmul import matmul_values

NAME = "linear_split"
MM = "experimental.minimal_matmul"


@register_kernel(NAME)
def linear_split(
    input_tensor_a,
    input_tensor_b,
    *,
    sizes,
    bias=None,
    activation=None,
    dtype=None,
    memory_config=None,
    compute_kernel_config=None,
    step_configs=None,
):
    """act(a @ b + bias) split along the last dim into `sizes` outputs, in one matmul kernel."""


def _whole(
    a, b, bias, activation, dtype, memory_config, compute_kernel_config, step=None, program_config=None
):
    return step_spec(
        NAME,
        "linear",
        step=step,
        program_config=program_config,
        input_tensor_a=a,
        input_tensor_b=b,
        bias=bias,
        activation=activation,
        dtype=dtype,
        memory_config=memory_config,
        compute_kernel_config=compute_kernel_config,
    )


def _uses_split(sizes) -> bool:
    """Equal parts: hardware runs ttnn.experimental.minimal_matmul_split (chunks=len(sizes)); else ttnn.linear
    and slices."""
    return isinstance(sizes, tuple) and len(sizes) >= 2 and len(set(sizes)) == 1


@linear_split.spec
def _spec(
    input_tensor_a,
    input_tensor_b,
    *,
    sizes,
    bias,
    activation,
    dtype,
    memory_config,
    compute_kernel_config,
    step_configs,
):
    cfg = step_config({"step_configs": step_configs}, "mm")
    split = _uses_split(sizes)
    out = _whole(
        input_tensor_a,
        input_tensor_b,
        bias,
        activation,
        dtype,
        memory_config,
        compute_kernel_config,
        step=None if split else "mm",
        program_config=None if split else cfg,
    )
    try:  # minimal_matmul_split on hardware: step "mm" takes a MinimalMatmulConfig
        if not split:
            raise SpecError("")
        step_spec(
            NAME,
            MM,
            step="mm",
            input_tensor=input_tensor_a,
            weight_tensor=input_tensor_b,
            bias_tensor=bias,
            fused_activation=activation,
            dtype=dtype,
            config=cfg,
            compute_kernel_config=compute_kernel_config,
        )
    except SpecError:
        if split and cfg is not None:  # the chosen config is invalid; without one ttnn.linear's rule decides
            raise
    if not isinstance(sizes, tuple) or len(sizes) < 2 or not all(isinstance(s, int) and s > 0 for s in sizes):
        raise kfail(NAME, f"argument 'sizes' must be a tuple of at least two positive ints, got {sizes!r}")
    if sum(sizes) != out.shape[-1]:
        raise kfail(NAME, f"argument 'sizes' {sizes} must sum to N={out.shape[-1]}")
    if any(s % TILE for s in sizes):
        raise kfail(NAME, f"argument 'sizes' {sizes}: each part must be a multiple of {TILE} columns")
    return tuple(out.replace(shape=(*out.shape[:-1], s)) for s in sizes)


def linear_split_values(a, b, bias=None, activation=None, compute_kernel_config=None):
    """The whole product act(a @ b + bias) in float32, before the split: a fresh tensor, so a caller that reads
    the parts as column views of it (and rounds it once, when the parts share a format) may work in place."""
    ckc = compute_kernel_config
    y = matmul_values(a, b, step_fidelity(ckc))
    if bias is not None:
        y = y + bias.reshape(-1)
    if activation is not None:
        y = apply_activation(y, normalize_activation(f"kernels.{NAME}", activation))
    return y


@linear_split.sim
def _sim(ctx, input_tensor_a, input_tensor_b, *, sizes, bias, activation, compute_kernel_config, **_):
    y = linear_split_values(input_tensor_a, input_tensor_b, bias, activation, compute_kernel_config)
    return tuple(p.contiguous() for p in y.split(list(sizes), dim=-1))


@linear_split.cost
def _cost(ctx: CostCtx) -> OpCost:
    """The cost of the one minimal_matmul kernel it is on hardware (bias and activation applied in it)."""
    a = ctx.args
    ins = {"input_tensor": a["input_tensor_a"], "weight_tensor": a["input_tensor_b"]}
    if a["bias"] is not None:
        ins["bias_tensor"] = a["bias"]
    return step_cost(
        "experimental.minimal_matmul",
        ins,
        list(ctx.out_specs),
        ctx.device_spec,
        input_tensor=a["input_tensor_a"],
        weight_tensor=a["input_tensor_b"],
        bias_tensor=a["bias"],
        config=step_config(a, "mm"),
        compute_kernel_config=a["compute_kernel_config"],
    )


def _ttnn(
    ttnn,
    input_tensor_a,
    input_tensor_b,
    *,
    sizes,
    bias,
    activation,
    dtype,
    memory_config,
    compute_kernel_config,
    step_configs=None,
):
    cfg = step_config({"step_configs": step_configs}, "mm")
    mm_split = getattr(getattr(ttnn, "experimental", None), "minimal_matmul_split", None)
    if getattr(
        mm_split, "__ttfuse_stub__", None
    ):  # the facade lists it (the real ttnn has it) but cannot run it
        mm_split = None
    if mm_split is not None and _uses_split(sizes):
        return tuple(
            mm_split(
                input_tensor_a,
                input_tensor_b,
                bias_tensor=bias,
                chunks=len(sizes),
                dim=-1,
                fused_activation=activation,
                config=cfg,
                compute_kernel_config=compute_kernel_config,
            )
        )
    y = ttnn.linear(
        input_tensor_a,
        input_tensor_b,
        bias=bias,
        activation=activation,
        dtype=dtype,
        memory_config=memory_config,
        # unequal parts: step "mm" is this linear; equal parts where ttnn lacks minimal_matmul_split: defaults
        program_config=None if _uses_split(sizes) else cfg,
        compute_kernel_config=compute_kernel_config,
    )
    lead = tuple(y.shape[:-1])
    outs, start = [], 0
    for s in sizes:
        outs.append(ttnn.slice(y, (0,) * len(lead) + (start,), (*lead, start + s)))
        start += s
    return tuple(outs)


set_ttnn_rule(linear_split, _ttnn)
