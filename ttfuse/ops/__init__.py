"""Op definitions, one module per op group; importing this package registers every op in ttfuse.opdef.OPS.

To add an op: add it to the module of its group with `@register_op(name, group, traits=Traits(...))` plus its
spec and sim rules (and a cost rule where the default is wrong), then a test in tests/test_ops_<group>.py.
Recipes (one file each; ttfuse/opdef.py documents every `Traits` field):
- a new elementwise op: ttfuse/ops/eltwise.py only (`_unary(...)` / `_binary(...)` or `@register_op` in an
  ELTWISE group). The group makes it split like a ttnn binary op (chunk pass, simulator row blocks) and the
  fuse pass's eltwise clustering fuses any registered unary op; `activation=UnaryOpType.X` (a trait) lets binary
  ops absorb it as a fused activation.
- a new chunkable op: its ops module only: `traits=Traits(split="rows", split_inputs=(...))`, or a callable
  `(node, in_specs) -> list[ttfuse.axes.Axis]` written next to the op (see matmul.py, attention.py).
"""

from ttfuse.ops import (  # noqa: F401
    attention,
    bitwise,
    ccl,
    conv,
    creation,
    data_movement,
    eltwise,
    embedding,
    fold,
    golden,
    heads,
    host,
    kv_cache,
    matmul,
    moe,
    norm,
    norm_distributed,
    paged_attention,
    reduce,
    rotary,
    selection,
    shapes,
    sparse_matmul,
)

MODULES = (
    host,
    data_movement,
    shapes,
    creation,
    eltwise,
    bitwise,
    reduce,
    matmul,
    norm,
    norm_distributed,
    attention,
    conv,
    heads,
    ccl,
    embedding,
    selection,
    rotary,
    kv_cache,
    paged_attention,
    fold,
    sparse_matmul,
    moe,
)

golden.attach_all()  # every op above gets `golden_function` (ttnn.get_golden_function)
