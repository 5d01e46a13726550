"""Spec rules over the IR: a node's output specs from its inputs' specs, and re-deriving a graph's specs.

`infer_outs(op, attrs, in_specs)` runs an op's spec rule on a node's arguments (`spec_args`: markers replaced by
the input specs, the device by a `DevicePlaceholder` standing for the graph's device); `respec(graph, new)`
replaces nodes and re-infers the outs of every node downstream of a change, walking the graph with the
interpreter (ttfuse/ir/interp.py). Spec rules see the current device spec (`ttfuse.opdef.set_device_spec`);
`graph_device(graph)` is the device a graph was traced for (its `meta`), what verify and cost check against.
"""

from __future__ import annotations

from typing import Any

from ttfuse.ir.graph import Graph, Node
from ttfuse.ir.interp import bind_args, graph_env, interpret
from ttfuse.ir.values import thaw
from ttfuse.mesh import MeshShape
from ttfuse.types import TensorSpec


class DevicePlaceholder:
    """Stands for the graph's device (a DeviceArg) when a spec rule runs outside a trace (verify, cost)."""

    def __init__(self, spec=None, mesh=(1, 1)):
        self.spec = spec
        self.mesh = tuple(mesh)
        self.chips = [None] * (self.mesh[0] * self.mesh[1])

    @property
    def shape(self):
        return MeshShape(*self.mesh)

    def get_num_devices(self) -> int:
        return len(self.chips)

    def check_open(self, op_name: str) -> None:
        return None

    def __repr__(self) -> str:
        return f"<device placeholder {getattr(self.spec, 'name', '?')} {self.mesh[0]}x{self.mesh[1]}>"


def spec_args(n: Node, in_specs: list, device=None) -> dict:
    """The node's arguments with In markers replaced by input specs (what a spec rule receives)."""
    return bind_args(n, in_specs, device if device is not None else DevicePlaceholder())


def infer_outs(
    op_name: str, attrs: tuple, in_specs: list, device=None
) -> tuple[tuple[TensorSpec, ...], bool]:
    """(output specs, multi) of a node of `op_name` with these attributes and input specs, by its spec rule.

    For passes building new nodes: `Node(id, op, inputs, attrs, *infer_outs(op, attrs, specs))`. Spec rules
    see the current device spec (`ttfuse.opdef.set_device_spec`); raises SpecError for invalid inputs.
    """
    from ttfuse.opdef import OPS

    op = OPS[op_name]
    probe = Node(-1, op_name, (), attrs, ())
    res = op.spec_rule(**{k: thaw(v) for k, v in spec_args(probe, in_specs, device).items()})
    multi = isinstance(res, tuple | list)
    return (tuple(res) if multi else (res,)), multi


def infer(node: Node, in_specs: list, attrs=None) -> tuple[tuple[TensorSpec, ...], bool]:
    """(outs, multi) of `node` (or of its op with other attrs) on these input specs, by its spec rule."""
    return infer_outs(node.op, node.attrs if attrs is None else attrs, in_specs)


def respec(graph: Graph, new: dict[int, Node]) -> Graph:
    """The graph with nodes replaced by `new` (by id) and the outs of every node whose inputs changed
    re-inferred by its spec rule. Pre: replacements keep their ids. Raises SpecError when a node no longer
    validates."""
    before = {n.id: n for n in graph.nodes}
    changed: set[int] = set()
    nodes: list[Node] = []

    def visit(m: Node, ins: list) -> tuple:
        n = before[m.id]
        if m is not n or any(r.value in changed for r in m.inputs):
            outs, multi = infer(m, ins)
            if outs != n.outs:
                changed.update(m.id + j for j in range(len(outs)))
            m = m.replace(outs=outs, multi=multi)
        nodes.append(m)
        return m.outs

    interpret([new.get(n.id, n) for n in graph.nodes], visit, graph_env(graph))
    return graph.replace(nodes=nodes)


def graph_device(graph: Graph) -> tuple:
    """(DeviceSpec or None, mesh shape) of the device a graph was traced for (its `meta`): what its spec and
    cost rules are checked against when no device is given."""
    return device_of(graph), tuple(graph.meta.get("mesh", (1, 1)))


def device_of(graph: Graph) -> Any:
    """The DeviceSpec named by the graph's `meta["device"]` (None when unnamed or unknown)."""
    name = graph.meta.get("device")
    if not name:
        return None
    from ttfuse.device import device_spec

    try:
        return device_spec(name)
    except Exception:  # noqa: BLE001 - an unknown device name: verify without device limits
        return None
