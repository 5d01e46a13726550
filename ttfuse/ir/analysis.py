"""Analyses of a graph's dataflow: users, liveness, dead-code elimination, topological order.

Liveness (one definition, used by `dce` and so by every pass that drops dead nodes): a value is live when a
graph output depends on it; graph outputs include the write-backs (`Graph.writes`: values copied back into the
caller's arguments), so an in-place write the function makes is never dead. A node is live when any of its
output values is live; a live node makes every value it reads live. Values are compared by value number
(`Ref.value`), so `Ref(4, 1)` and `Ref(5, 0)` name the same value.
"""

from __future__ import annotations

from ttfuse.ir.graph import Graph, Node


def users(graph: Graph) -> dict[int, list[Node]]:
    """Value number -> nodes that read it, in execution order (each node once)."""
    return graph.users()


def live_values(graph: Graph) -> set[int]:
    """Value numbers a graph output (returned or written back) depends on, outputs included."""
    live = {r.value for r in graph.outputs}
    for n in reversed(graph.nodes):
        if any(n.id + k in live for k in range(n.num_values)):
            live.update(r.value for r in n.inputs)
    return live


def dce(graph: Graph, ctx=None) -> Graph:
    """Dead-code elimination (also the pipeline's `dce` pass; `ctx` is unused). Pre: a valid graph. Post: only
    live nodes (see the module docstring) remain, in their original order; the graph itself is returned when
    none died."""
    live = live_values(graph)
    keep = [n for n in graph.nodes if any(n.id + k in live for k in range(n.num_values))]
    if len(keep) == len(graph.nodes):
        return graph
    return graph.replace(nodes=keep)


def in_order(nodes: list[Node], n_inputs: int) -> bool:
    """Whether every node reads only graph inputs and values of earlier nodes (no sort needed)."""
    defined: set[int] = set()
    for n in nodes:
        for r in n.inputs:
            if r.node >= n_inputs and r.node not in defined:
                return False
        defined.add(n.id)
    return True


def toposort(nodes: list[Node], n_inputs: int) -> list[Node] | None:
    """A topological order of `nodes` that keeps their order wherever dependencies allow (each node as late
    as its first reader needs it); None on a cycle or a ref no node defines."""
    producer: dict[int, Node] = {}
    for n in nodes:
        for k in range(n.num_values):
            producer[n.id + k] = n
    done: set[int] = set()
    active: set[int] = set()
    out: list[Node] = []
    for start in nodes:
        if start.id in done:
            continue
        stack: list[tuple[Node, int]] = [(start, 0)]
        active.add(start.id)
        while stack:
            n, i = stack[-1]
            if i < len(n.inputs):
                stack[-1] = (n, i + 1)
                r = n.inputs[i]
                if r.node < n_inputs:
                    continue
                p = producer.get(r.value)
                if p is None:
                    return None
                if p.id in done:
                    continue
                if p.id in active:
                    return None
                active.add(p.id)
                stack.append((p, 0))
            else:
                stack.pop()
                active.discard(n.id)
                done.add(n.id)
                out.append(n)
    return out
