"""The IR verifier: invariants of a ttfuse Graph, written as a table of rules (tinygrad spec.py style).

`verify(graph)` runs the graph rules, then every node rule on every node in order, and raises VerifyError
naming the rule, the node and an IR window around it (the failing node marked `>>`). It runs after capture,
after every pass in tests (`run_pipeline(..., verify=True)`), and on every graph loaded from the disk cache.

Rules (each returns None when fine, else a message):
- graph: inputs are TensorSpecs; value numbers are unique; outputs name defined values; out_tree has one
  leaf per returned output; each write-back names a distinct input and a value of its shape, dtype and layout;
- node: the op is registered; every input ref names an earlier value (dangling refs, cycles and misordered
  nodes are told apart); attributes name exactly the op's parameters; In markers cover the inputs once each;
  attributes are hashable; outs are TensorSpecs and equal the op's spec rule on the input specs. (In-place
  ops are functional in the IR: reading their target afterwards reads the old value, see ttfuse/ir/graph.py.)
Extend: append `(name, fn)` to NODE_RULES or GRAPH_RULES; keep each rule one short function.
"""

from __future__ import annotations

from collections.abc import Callable

from ttfuse.errors import SpecError, VerifyError
from ttfuse.ir import (
    DevicePlaceholder,
    Graph,
    Node,
    attr_tensor_positions,
    format_graph,
    graph_device,
    graph_env,
    infer_outs,
    interpret,
)
from ttfuse.ir import spec_args as spec_args  # re-exported: spec rules over nodes live in ttfuse/ir/specs.py
from ttfuse.ir.specs import device_of
from ttfuse.types import TensorSpec


class _Env:
    """What node rules may look at: values defined so far, the whole graph, the node positions."""

    def __init__(self, g: Graph):
        self.g = g
        self.n_in = len(g.inputs)
        self.defined: dict[int, TensorSpec] = graph_env(g)
        self.index = {n.id: n for n in g.nodes}
        self.pos = {n.id: k for k, n in enumerate(g.nodes)}
        self.device = DevicePlaceholder(device_of(g), g.meta.get("mesh", (1, 1)))


# ------------------------------------------------------------------------------------------- graph rules
def _inputs_are_specs(g: Graph) -> str | None:
    for i, s in enumerate(g.inputs):
        if not isinstance(s, TensorSpec):
            return f"input %{i} is a {type(s).__name__}, not a TensorSpec"
    return None


def _unique_values(g: Graph) -> str | None:
    seen = set(range(len(g.inputs)))
    for n in g.nodes:
        if n.id < len(g.inputs):
            return f"node %{n.id} ({n.op}) reuses an input's value number"
        for v in range(n.id, n.id + n.num_values):
            if v in seen:
                return f"value %{v} is defined twice (node %{n.id} {n.op})"
            seen.add(v)
    return None


def _outputs_defined(g: Graph) -> str | None:
    index = {n.id: n for n in g.nodes}
    for k, r in enumerate(g.outputs):
        if r.node < len(g.inputs):
            if r.out != 0:
                return f"output {k} names {r!r}: input refs have out=0"
            continue
        n = index.get(r.node)
        if n is None or not 0 <= r.out < len(n.outs):
            return f"output {k} names {r!r}, which no node defines (dangling ref)"
    return None


def _count_leaves(tree) -> int:
    if tree == "*":
        return 1
    if isinstance(tree, dict):
        if "c" in tree:
            return 0
        kids = tree.get("t") or tree.get("l") or tree.get("nt") or []
        if "d" in tree:
            kids = [c for _, c in tree["d"]]
        elif "nt" in tree:
            kids = tree.get("k", [])
        return sum(_count_leaves(c) for c in kids)
    return 0


def _out_tree_matches(g: Graph) -> str | None:
    n = _count_leaves(g.out_tree)
    if n != len(g.user_outputs):
        return f"out_tree has {n} tensor leaves but the graph returns {len(g.user_outputs)} outputs"
    return None


def _writes_valid(g: Graph) -> str | None:
    if len(g.writes) > len(g.outputs):
        return f"{len(g.writes)} write-backs but only {len(g.outputs)} outputs"
    if len(set(g.writes)) != len(g.writes):
        return f"an input is written back twice: writes={list(g.writes)}"
    index = {n.id: n for n in g.nodes}
    for k, r in g.write_backs():
        if not (type(k) is int and 0 <= k < len(g.inputs)):
            return f"write-back into %{k}, which is not a graph input"
        src = g.inputs[r.node] if r.node < len(g.inputs) else index[r.node].outs[r.out]
        dst = g.inputs[k]
        if (src.shape, src.dtype, src.layout) != (dst.shape, dst.dtype, dst.layout):
            return (
                f"write-back %{k} <- {r!r}: the value is {src}, the input {dst} (shape, dtype, layout differ)"
            )
    return None


GRAPH_RULES: list[tuple[str, Callable[[Graph], str | None]]] = [
    ("inputs_are_specs", _inputs_are_specs),
    ("unique_values", _unique_values),
    ("outputs_defined", _outputs_defined),
    ("out_tree_matches", _out_tree_matches),
    ("writes_valid", _writes_valid),
]


# -------------------------------------------------------------------------------------------- node rules
def _known_op(n: Node, env: _Env) -> str | None:
    from ttfuse.opdef import OPS

    if n.op not in OPS:
        return f"unknown op {n.op!r} (not in the OpDef registry)"
    return None


def _refs_defined(n: Node, env: _Env) -> str | None:
    for r in n.inputs:
        if r.node < env.n_in:
            if r.out != 0:
                return f"input ref {r!r} of a graph input must have out=0"
            continue
        src = env.index.get(r.node)
        if src is None or not 0 <= r.out < max(1, len(src.outs)):
            return f"dangling ref {r!r}: no node defines it"
        if r.value not in env.defined:
            if _reaches(env, src, n.id):
                return f"cycle: %{n.id} reads {r!r}, which depends on %{n.id}"
            return f"reads {r!r} before its definition (nodes out of order)"
    return None


def _reaches(env: _Env, start: Node, target: int) -> bool:
    """Whether `start` depends (transitively) on node `target`."""
    stack, seen = [start], set()
    while stack:
        cur = stack.pop()
        for r in cur.inputs:
            if r.node == target:
                return True
            nxt = env.index.get(r.node)
            if nxt is not None and nxt.id not in seen:
                seen.add(nxt.id)
                stack.append(nxt)
    return False


def _attrs_match_params(n: Node, env: _Env) -> str | None:
    from ttfuse.opdef import OPS

    op = OPS.get(n.op)
    if op is None:
        return None
    names = [k for k, _ in n.attrs]
    if len(set(names)) != len(names):
        return f"duplicate attribute names {names}"
    unknown = [k for k in names if k not in op.params]
    if unknown:
        return f"attribute(s) {unknown} are not parameters of {op.qualname}{op.signature}"
    missing = [p for p in op.params if p not in names]
    if missing:
        return f"attribute(s) {missing} missing (attrs hold every parameter of {op.qualname})"
    return None


def _markers_cover_inputs(n: Node, env: _Env) -> str | None:
    pos = []
    for _, v in n.attrs:
        pos.extend(attr_tensor_positions(v))
    if sorted(pos) != list(range(len(n.inputs))):
        return f"In markers {sorted(pos)} do not match the {len(n.inputs)} inputs once each"
    return None


def _attrs_hashable(n: Node, env: _Env) -> str | None:
    for k, v in n.attrs:
        try:
            hash(v)
        except TypeError:
            return f"attribute {k!r} holds an unhashable {type(v).__name__}"
    return None


def _outs_are_specs(n: Node, env: _Env) -> str | None:
    for k, s in enumerate(n.outs):
        if not isinstance(s, TensorSpec):
            return f"output {k} is a {type(s).__name__}, not a TensorSpec"
    if len(n.outs) != 1 and not n.multi:
        return f"{len(n.outs)} outputs but multi=False"
    return None


def _spec_matches(n: Node, env: _Env) -> str | None:
    from ttfuse.opdef import OPS

    op = OPS.get(n.op)
    if op is None or op.spec_rule is None:
        return None if op is None else f"{op.qualname} has no spec rule"
    try:
        in_specs = [env.defined[r.value] for r in n.inputs]
    except KeyError:
        return None  # reported by refs_defined
    try:
        got, multi = infer_outs(n.op, n.attrs, in_specs, env.device)
    except SpecError as e:
        return f"the spec rule rejects the node's inputs: {e}"
    except (IndexError, TypeError) as e:
        return f"the spec rule cannot run on the node's attributes: {type(e).__name__}: {e}"
    if multi != n.multi:
        return f"multi={n.multi} but the spec rule returns {'a sequence' if multi else 'one tensor'}"
    if got != n.outs:
        want = ", ".join(map(str, got))
        have = ", ".join(map(str, n.outs))
        return f"wrong spec: node says {have}, the spec rule gives {want}"
    return None


NODE_RULES: list[tuple[str, Callable[[Node, _Env], str | None]]] = [
    ("known_op", _known_op),
    ("refs_defined", _refs_defined),
    ("attrs_match_params", _attrs_match_params),
    ("markers_cover_inputs", _markers_cover_inputs),
    ("attrs_hashable", _attrs_hashable),
    ("outs_are_specs", _outs_are_specs),
    ("spec_matches", _spec_matches),
]


# ----------------------------------------------------------------------------------------------- driver
def ir_window(g: Graph, node_id: int | None, radius: int = 3) -> str:
    """The printed graph around one node (marked '>>'), for error messages."""
    lines = format_graph(g, mark=node_id).split("\n")
    if node_id is None:
        return "\n".join(lines[: 2 * radius + 2])
    at = next((i for i, ln in enumerate(lines) if ln.startswith(">> ")), 0)
    lo, hi = max(1, at - radius), min(len(lines), at + radius + 1)
    body = lines[lo:hi]
    if lo > 1:
        body.insert(0, "  ...")
    if hi < len(lines):
        body.append("  ...")
    return "\n".join([lines[0], *body])


def verify(graph: Graph) -> Graph:
    """Run every rule; raise VerifyError (rule, node, IR window) on the first failure. Returns `graph`."""
    from ttfuse import opdef

    for name, rule in GRAPH_RULES:
        msg = rule(graph)
        if msg:
            raise VerifyError(f"verify [{name}]: {msg}\n{ir_window(graph, None)}")
    env = _Env(graph)

    def check(n: Node, ins: list) -> tuple:
        for name, rule in NODE_RULES:
            msg = rule(n, env)
            if msg:
                raise VerifyError(f"verify [{name}] at %{n.id} ({n.op}): {msg}\n{ir_window(graph, n.id)}")
        return n.outs

    # spec rules check the graph against the device it was compiled for, not the caller's last eager device;
    # a ref to a value not defined yet reads None here (the refs_defined rule reports it)
    with opdef.device_spec_context(*graph_device(graph)):
        interpret(graph.nodes, check, env.defined, read=lambda n, k, r: env.defined.get(r.value))
    return graph
