"""Op definitions, one module per op group; importing this package registers every op in ttfuse.opdef.OPS.

To add an op: add it to the module of its group with `@register_op(name, group)` plus its spec and sim rules
(and a cost rule where the default is wrong), then a test in tests/test_ops_<group>.py.
"""

from ttfuse.ops import (  # noqa: F401
    attention,
    ccl,
    creation,
    data_movement,
    eltwise,
    heads,
    host,
    matmul,
    norm,
    reduce,
    shapes,
)

MODULES = (host, data_movement, shapes, creation, eltwise, reduce, matmul, norm, attention, heads, ccl)
