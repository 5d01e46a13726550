"""Node predicates shared by the fuse pass's rule tables (passes/fuse.py, passes/fuse_blocks.py).

A rule may rebuild a node only when the node uses nothing the rebuilt form would drop: these say when a unary,
binary or matmul node is "plain" (default modes, no preallocated output, no core subsets, no program config),
and which unary ops fold into a fused activation (`Traits.activation`, declared at the op's registration).
Pure functions of a node; no module here imports a pass, so every rule table can read them.
"""

from __future__ import annotations

from ttfuse.configs import UnaryWithParam
from ttfuse.opdef import OPS

ACT_ARGS = ("activations", "input_tensor_a_activations", "input_tensor_b_activations")


def act_ops() -> tuple[str, ...]:
    """The registered unary ops a fused activation computes exactly (their `Traits.activation` is set)."""
    return tuple(name for name, op in OPS.items() if op.traits.activation is not None)


def plain_unary(node, rw=None) -> bool:
    """A unary op with default behaviour: exact mode, no output tensor, no core subsets."""
    if node.attr("output_tensor") is not None or node.attr("sub_core_grids") is not None:
        return False
    if node.attr("fast_and_approximate_mode"):
        return False
    if node.op == "gelu":
        return node.attr("variant").name == "Accurate"
    if node.op == "sigmoid":
        return node.attr("vector_mode") == 4 and node.attr("mode").name == "Accurate"
    return True


def unary_act(node) -> UnaryWithParam | None:
    """The fused activation equal to this unary node (None when there is none)."""
    op = OPS.get(node.op)
    if op is None or op.traits.activation is None or not plain_unary(node):
        return None
    return UnaryWithParam(op.traits.activation)


def plain_binary(node, rw=None) -> bool:
    return (
        node.attr("output_tensor") is None
        and node.attr("sub_core_grids") is None
        and node.attr("sub_device_id") is None
    )


def no_acts(node) -> bool:
    return all(not node.attr(k) for k in ACT_ARGS)


def plain_mm(node, rw=None) -> bool:
    """A matmul/linear without program config, core grid, transposed a, or extras (what rules may rebuild)."""
    return (
        node.attr("program_config") is None
        and node.attr("core_grid") is None
        and not node.attr("transpose_a")
        and node.attr("output_tile") is None
        and node.attr("global_cb") is None
        and node.attr("optional_output_tensor") is None
        and not node.attr("prefetcher_pipes")
        and node.attr("in0_column_offset") is None
    )
