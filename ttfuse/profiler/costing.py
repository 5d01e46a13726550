"""The predicted duration of one profiled op: its call as a one-node graph, costed by ttfuse/passes/cost.py.

The same `node_cost` that `lower().cost` uses, on the DeviceSpec of the device the op ran on and its mesh shape,
so a profile and `ttfuse explain` never disagree about an op. Calls with the same program key (op, argument
specs, other arguments) share one costing.
"""

from __future__ import annotations

from ttfuse.backend import is_device
from ttfuse.ir import DeviceArg, FrozenList, Graph, In, Node, Ref
from ttfuse.passes.cost import node_cost
from ttfuse.types import TensorSpec

_CACHE: dict = {}


def _attr(v, inputs: list):
    """The attribute form of one argument: TensorSpecs -> In markers (their specs appended to `inputs`)."""
    if isinstance(v, TensorSpec):
        inputs.append(v)
        return In(len(inputs) - 1)
    if is_device(v):
        return DeviceArg()
    if isinstance(v, list | FrozenList):
        return FrozenList(_attr(x, inputs) for x in v)
    if isinstance(v, tuple):
        return tuple(_attr(x, inputs) for x in v)
    return v


def one_node_graph(op_name: str, args: dict, out_specs, multi: bool, mesh) -> tuple[Graph, Node]:
    inputs: list[TensorSpec] = []
    attrs = tuple((k, _attr(v, inputs)) for k, v in args.items())
    n = len(inputs)
    node = Node(n, op_name, tuple(Ref(i, 0) for i in range(n)), attrs, tuple(out_specs), multi)
    g = Graph(tuple(inputs), [node], node.out_refs, meta={"mesh": tuple(mesh)})
    return g, node


def cost_of(rec):
    """NodeCost of an OpRecord on its device (None-safe: an op the model cannot cost gets a zero-work row)."""
    dev = rec.device
    spec = dev.spec
    mesh = (dev.shape.rows, dev.shape.cols)
    multi = rec.node.multi if rec.node is not None else len(rec.out_specs) > 1
    try:
        key = (rec.op.name, _key(rec.args), tuple(rec.out_specs), spec, mesh)
        hash(key)
    except TypeError:
        key = None
    got = _CACHE.get(key) if key is not None else None
    if got is None:
        g, node = one_node_graph(rec.op.name, rec.args, rec.out_specs, multi, mesh)
        got = node_cost(g, node, spec, mesh_shape=mesh, in_specs=list(g.inputs))
        if key is not None:
            _CACHE[key] = got
    return got


def _key(args: dict) -> tuple:
    out = []
    for k, v in args.items():
        if is_device(v):
            v = "device"
        elif isinstance(v, list):
            v = tuple(v)
        out.append((k, v))
    return tuple(out)
