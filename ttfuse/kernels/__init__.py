"""ttfuse's fused kernels: the ops the fuse pass emits (Group.FUSED, named `kernels.<name>`).

Importing this package registers every kernel in `ttfuse.opdef.OPS` (ttfuse/__init__.py imports it, so graphs
holding kernels can be verified, costed and run wherever ttfuse is imported). Kernels print as
`ttfuse.kernels.<name>` and are not part of the ttnn facade. Each module registers one kernel family with its
spec, sim, cost and ttnn rules; see ttfuse/kernels/common.py for the composite-step helpers.

Kernels: eltwise (fused elementwise programs), concat_weights (weights concatenated once, memoised),
linear_split (one matmul, several outputs), transition (SwiGLU MLP), adaln and conditioned_transition (boltz
diffusion conditioning), triangle_mult (triangle multiplication channel chunk), pair_bias_attention (gated
attention with an additive pair bias), ring_joint_attention (sequence-parallel joint attention over a mesh ring),
group_norm_act (group_norm with an activation epilogue, absorbing an add on its input).
Recipe: a new fused kernel touches 2 files (plus its tests):
1. ttfuse/kernels/<name>.py: `@register_kernel("<name>", launches=n, traits=Traits(...))` on a signature
   function, with its spec, sim and cost rules and `set_ttnn_rule` (the stock composite); the traits say how
   the passes may treat it: `split="rows"` (+ `split_inputs`) or a callable for the chunk pass and the
   simulator's row blocks, `spill` (its spilled variant), `config_rule`, ...; `declare_intermediates(op, steps)`
   declares its internal tensors (`working_set`, `intermediate_specs`). A kernel with matmul / SDPA / norm /
   softmax steps takes `step_configs=None`, names those steps (`step_spec(..., step="w_in", config=step_config(a,
   "w_in"))`) and passes `step_config(a, name)` in its ttnn, sim and cost rules: select_configs fills it.
   This package imports every module in it (below), so nothing else registers it.
2. ttfuse/passes/fuse_blocks.py: a rule `(Pat(root op), callback)` in `rules_blocks` recognising the block in
   model code and emitting `kernels.<name>` (shared matchers: ttfuse/passes/predicates.py).
Tests: tests/passes/test_kernels.py (its sim against its ttnn rule run on the simulator), a fuse test, and a row
in tests/passes/test_kernel_configs.py::BLOCKS when it has configured steps.
"""

import importlib
import pkgutil

# every module of this package but the shared helpers registers kernels; imported in name order
MODULES = tuple(
    importlib.import_module(f"{__name__}.{m.name}")
    for m in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name)
    if m.name != "common"
)
