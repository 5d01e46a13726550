"""ttfuse's fused kernels: the ops the fuse pass emits (Group.FUSED, named `kernels.<name>`).

Importing this package registers every kernel in `ttfuse.opdef.OPS` (ttfuse/__init__.py imports it, so graphs
holding kernels can be verified, costed and run wherever ttfuse is imported). Kernels print as
`ttfuse.kernels.<name>` and are not part of the ttnn facade. Each module registers one kernel family with its
spec, sim, cost and ttnn rules; see ttfuse/kernels/common.py for the composite-step helpers.

Kernels: eltwise (fused elementwise programs), concat_weights (weights concatenated once, memoised),
linear_split (one matmul, several outputs), transition (SwiGLU MLP), adaln and conditioned_transition (boltz
diffusion conditioning), triangle_mult (triangle multiplication channel chunk), pair_bias_attention (gated
attention with an additive pair bias), ring_joint_attention (sequence-parallel joint attention over a mesh ring).
Add a kernel: a module here, imported below, and a test in
tests/passes/test_kernels.py comparing its sim with its ttnn rule run on the simulator.
"""

from ttfuse.kernels import (  # noqa: F401
    adaln,
    attention,
    eltwise,
    linear_split,
    ring_attention,
    transition,
    trimul,
    weights,
)

MODULES = (eltwise, weights, linear_split, transition, adaln, trimul, attention, ring_attention)
