"""The one graph interpreter: walk nodes in order, bind each input ref to its value, call a per-node callback.

    env = interpret(graph.nodes, lambda n, ins: n.outs, graph_env(graph))   # every value's TensorSpec
    env = interpret(graph.nodes, run_node, graph_env(graph, tensors))      # every value's tensor

`interpret(nodes, visit, env)` reads each input of a node from `env` (value number -> binding; or through
`read(node, k, ref)` when the caller binds values its own way, e.g. a row block of a region input), calls
`visit(node, ins)` and binds what it returns (one value per output; None: nothing) to the node's output values.
It is what the verifier (specs), the cost model (specs), the chunk pass (the specs of one chunk) and the
simulator's row-blocked regions (tensors of one block) run; `bind_args` turns a node's attributes into the
keyword arguments its rules receive, markers replaced by the bound values.

Invariants: nodes are visited in the given order (a graph's nodes are in execution order); `env` is the dict
passed in, updated in place, so a callback may drop values it knows dead (`env.pop`).
Extend: a new graph walk is a `visit` function, not a new loop over `graph.nodes`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ttfuse.ir.graph import Graph, Node
from ttfuse.ir.values import Ref, substitute

Visit = Callable[[Node, list], "Sequence[Any] | None"]


def graph_env(graph: Graph, inputs: Sequence[Any] | None = None) -> dict[int, Any]:
    """The starting environment of a graph: input i bound to `inputs[i]` (default: the input specs)."""
    return dict(enumerate(graph.inputs if inputs is None else inputs))


def interpret(
    nodes: Iterable[Node],
    visit: Visit,
    env: dict[int, Any],
    *,
    read: Callable[[Node, int, Ref], Any] | None = None,
) -> dict[int, Any]:
    """Visit `nodes` in order with their inputs bound (see the module docstring); returns `env`."""
    for n in nodes:
        if read is None:
            ins = [env[r.value] for r in n.inputs]
        else:
            ins = [read(n, k, r) for k, r in enumerate(n.inputs)]
        outs = visit(n, ins)
        if outs is not None:
            for j, v in enumerate(outs):
                env[n.id + j] = v
    return env


def value_specs(graph: Graph) -> dict[int, Any]:
    """Value number -> TensorSpec of every input and node output of `graph`."""
    return interpret(graph.nodes, lambda n, ins: n.outs, graph_env(graph))


def bind_args(node: Node, ins: Sequence[Any], device: Any = None) -> dict[str, Any]:
    """The node's keyword arguments with its In markers replaced by `ins` (the bound input values) and
    DeviceArg by `device`; frozen lists become lists again (what an op's rules receive)."""
    return {k: substitute(v, lambda m: ins[m.i], device) for k, v in node.attrs}
