"""`ttfuse.kernels.transition`: the SwiGLU transition block (boltz.md 3.4) as three kernels.

    y = fc3( silu(LN(x) @ W1) * (LN(x) @ W2) )

Composite (the ttnn rule, what a hardware run dispatches; 3 launches instead of the 5-6 of the eager code):
  1. h = ttnn.layer_norm(x, epsilon, weight=norm_weight, bias=norm_bias, memory_config=L1)
  2. m = ttnn.experimental.minimal_matmul(h, w12, fuse_swiglu=True, dtype=hidden_dtype, memory_config=L1): fc1
     and fc2 as ONE matmul over the tile-interleaved weight w12 = kernels.concat_weights([W1, W2], mode="swiglu")
     (computed once per set of weights), silu(gate) * up applied in the kernel;
  3. y = ttnn.linear(m, w3, dtype=dtype, memory_config=memory_config); h and m are deallocated as soon as read.
The intermediates h and m live in L1 whatever the placement of x and y (as tt-boltz places its per-chunk LN and
fc1/fc2 outputs): they are the kernel's working set, which the chunk pass fits to the L1 budget by splitting rows.
`hidden_memory_config` places them elsewhere (DRAM_MEMORY_CONFIG: spilled, no L1 working set); None (the default,
as the fuse pass emits it unless the block's code placed its hidden tensor) leaves L1 to the passes: when the
rows do not fit, the chunk pass weighs chunking against spilling them (`Traits.spill`).
The sim runs those steps with the stock ops' numerics and rounds what each step writes (h, m, y). Inputs are
validated by the stock spec rules of the three steps (errors name the kernel and the step). The op is
row-wise: any leading dims may be chunked (the chunk pass may split rows).
Configs: the steps "norm" (layer_norm), "w_in" (minimal_matmul: a MinimalMatmulConfig) and "w_out" (linear) take
the program configs select_configs puts in `step_configs`; the ttnn rule passes them to the three calls.
"""

from __future__ import annotations

from ttfuse.kernels.common import (
    ab_step_sim,
    add_costs,
    declare_intermediates,
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
from ttfuse.opdef import Traits
from ttfuse.types import DRAM_MEMORY_CONFIG, L1_MEMORY_CONFIG

NAME = "transition"
MM = "experimental.minimal_matmul"


# rows: independent over every leading (row) dim, for the chunk pass. spill: h and m live in L1 with the kernel
# unless hidden_memory_config places them; spilling them to DRAM is the chunk pass's alternative to chunking it
@register_kernel(
    NAME, launches=3, traits=Traits(split="rows", spill={"hidden_memory_config": DRAM_MEMORY_CONFIG})
)
def transition(
    input_tensor,
    weight12,
    weight3,
    *,
    norm_weight=None,
    norm_bias=None,
    epsilon=1e-12,
    hidden_dtype=None,
    hidden_memory_config=None,
    dtype=None,
    memory_config=None,
    compute_kernel_config=None,
    norm_compute_kernel_config=None,
    step_configs=None,
):
    """fc3(silu(LN(x) @ W1) * (LN(x) @ W2)) with fc1|fc2 as one SwiGLU matmul (3 kernels)."""


def _hidden_mc(hidden_mc, input_mc, l1):
    """Where h and m go: `hidden_memory_config` when given, else L1 interleaved; for a sharded (so L1) input,
    None: the steps follow its sharding."""
    if hidden_mc is not None:
        return hidden_mc
    return None if input_mc.is_sharded() else l1


@memo_steps
def _steps(a: dict) -> tuple:
    hidden_mc = _hidden_mc(a.get("hidden_memory_config"), a["input_tensor"].memory_config, L1_MEMORY_CONFIG)
    h = step_spec(
        NAME,
        "layer_norm",
        step="norm",
        input_tensor=a["input_tensor"],
        epsilon=a["epsilon"],
        weight=a["norm_weight"],
        bias=a["norm_bias"],
        memory_config=hidden_mc,
        program_config=step_config(a, "norm"),
        compute_kernel_config=a["norm_compute_kernel_config"],
    )
    m = step_spec(
        NAME,
        MM,
        step="w_in",
        input_tensor=h,
        weight_tensor=a["weight12"],
        fuse_swiglu=True,
        dtype=a["hidden_dtype"],
        memory_config=hidden_mc,
        config=step_config(a, "w_in"),
        compute_kernel_config=a["compute_kernel_config"],
    )
    y = step_spec(
        NAME,
        "linear",
        step="w_out",
        input_tensor_a=m,
        input_tensor_b=a["weight3"],
        dtype=a["dtype"],
        memory_config=a["memory_config"],
        program_config=step_config(a, "w_out"),
        compute_kernel_config=a["compute_kernel_config"],
    )
    return h, m, y


@transition.spec
def _spec(**a):
    return _steps(a)[2]


@transition.sim
def _sim(ctx, input_tensor, weight12, weight3, **a):
    specs = dict(ctx.in_specs)
    h_s, m_s, y_s = _steps({**a, **specs})
    ckc = a["compute_kernel_config"]
    h = step_sim(
        "layer_norm",
        h_s,
        {"input_tensor": specs["input_tensor"]},
        input_tensor=input_tensor,
        epsilon=a["epsilon"],
        weight=a["norm_weight"],
        bias=a["norm_bias"],
    )
    m = swiglu_step_sim(m_s, h_s, specs["weight12"], h, weight12, ckc)
    return ab_step_sim(
        "linear",
        y_s,
        m_s,
        specs["weight3"],
        m,
        weight3,
        round_out=False,
        compute_kernel_config=ckc,
        program_config=step_config(a, "w_out"),
    )


@transition.cost
def _cost(ctx):
    a = dict(ctx.args)
    h, m, y = _steps(a)
    ckc = a["compute_kernel_config"]
    return add_costs(
        [
            step_cost("layer_norm", {"input_tensor": a["input_tensor"]}, h, ctx.device_spec),
            step_cost(
                MM,
                {"input_tensor": h, "weight_tensor": a["weight12"]},
                m,
                ctx.device_spec,
                input_tensor=h,
                weight_tensor=a["weight12"],
                fuse_swiglu=True,
                config=step_config(a, "w_in"),
                compute_kernel_config=ckc,
            ),
            linear_step_cost(m, a["weight3"], y, ctx.device_spec, ckc, step_config(a, "w_out")),
        ],
        3,
    )


def _ttnn(ttnn, input_tensor, weight12, weight3, **a):
    hidden_mc = _hidden_mc(a["hidden_memory_config"], input_tensor.memory_config(), ttnn.L1_MEMORY_CONFIG)
    h = ttnn.layer_norm(
        input_tensor,
        epsilon=a["epsilon"],
        weight=a["norm_weight"],
        bias=a["norm_bias"],
        memory_config=hidden_mc,
        program_config=step_config(a, "norm"),
        compute_kernel_config=a["norm_compute_kernel_config"],
    )
    m = ttnn.experimental.minimal_matmul(
        h,
        weight12,
        fuse_swiglu=True,
        dtype=a["hidden_dtype"],
        memory_config=hidden_mc,
        config=step_config(a, "w_in"),
        compute_kernel_config=a["compute_kernel_config"],
    )
    ttnn.deallocate(h)
    y = ttnn.linear(
        m,
        weight3,
        dtype=a["dtype"],
        memory_config=a["memory_config"],
        program_config=step_config(a, "w_out"),
        compute_kernel_config=a["compute_kernel_config"],
    )
    ttnn.deallocate(m)
    return y


set_ttnn_rule(transition, _ttnn)
declare_intermediates(transition, _steps)  # h and m, in L1 unless hidden_memory_config places them
