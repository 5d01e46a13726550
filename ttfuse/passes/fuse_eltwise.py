"""Elementwise clustering, the last step of the fuse pass: trees, chains and fan-outs into kernels.eltwise.

Plan (on the graph left by the fuse pass's rule tables), visiting nodes in reverse execution order; each
fusible node not yet placed roots a cluster that grows through its producers. A fusible producer p joins as
- a member when every reader of p is in the cluster (trees, chains, diamonds);
- a recomputed copy when every reader of p is fusible and p is cheap (one op, at most two tensor inputs): each
  consumer cluster recomputes p instead of reading it, so p's own kernel disappears;
- an extra output (multi-output kernel) when p has other readers, the cluster stays convex (no reader of p
  reaches the cluster again: no cycle between kernels) and p has the cluster's shape;
- else it stays outside (its value is a cluster input); the reason is noted on the cluster root.
A member is rejected when it would exceed the device's circular-buffer limit (`DeviceSpec.max_cb_inputs`
inputs + outputs; 7 inputs with 32-bit tensors): clusters are cut there and continue as separate kernels.
Clusters of two or more ops become one `kernels.eltwise` node (ttfuse/kernels/eltwise.py): a program in float32,
one rounding per output; outputs keep the dtypes and memory configs of the values they replace.
Fusible: elementwise ops (unary, binary incl. fused activations and in-place forms on intermediates, clamp,
where/addcmul/lerp) on TILE tensors of float dtypes in interleaved memory, without output_tensor/sub-core args.
"""

from __future__ import annotations

import torch

from ttfuse.ir import Decision, Graph, Node, Ref
from ttfuse.kernels import eltwise as K
from ttfuse.opdef import ELTWISE, OPS
from ttfuse.ops.activations import apply_activations, normalize_activations
from ttfuse.passes.rewrite import Rewriter
from ttfuse.types import DataType, Layout

FLOATS = frozenset({DataType.FLOAT32, DataType.BFLOAT16, DataType.BFLOAT8_B, DataType.BFLOAT4_B})
_IO = ("memory_config", "output_tensor", "sub_core_grids", "sub_device_id")
TABLE = "fuse.eltwise"


# ------------------------------------------------------------------------------------------ fusibility
def base_op(node: Node) -> str:
    op = OPS[node.op]
    return node.op[:-1] if op.traits.inplace is not None and node.op.endswith("_") else node.op


def why_not(rw: Rewriter, node: Node) -> str | None:
    """Why `node` cannot be part of an eltwise kernel (None: it can)."""
    op = OPS.get(node.op)
    if op is None or op.group not in ELTWISE:
        return "not elementwise"
    for k in ("output_tensor", "sub_core_grids", "sub_device_id"):
        if node.attr(k) is not None:
            return f"uses {k}"
    b = base_op(node)
    if not (K.known(b) or b == "clip"):
        return f"no fused form for {node.op}"
    for s in list(node.outs) + [rw.spec(r) for r in node.inputs]:
        if s.layout is not Layout.TILE or s.dtype not in FLOATS or s.memory_config.is_sharded():
            return f"{s} is not an interleaved TILE tensor of a float dtype"
    return None


def _tensor_inputs(node: Node) -> list[Ref]:
    return list(dict.fromkeys(node.inputs))


# ----------------------------------------------------------------------------------------- translation
def translate(rw: Rewriter, node: Node) -> list[tuple]:
    """Instructions for one node; args are ("ref", Ref), ("tmp", k) (k-th instruction of this list), floats
    or None (resolved to slots when the program is assembled)."""
    from ttfuse.ops.eltwise import scalar_for

    a = rw.attrs(node)
    op = base_op(node)
    if op == "clip":
        op = "clamp"

    def val(v):
        if isinstance(v, Ref):
            return ("ref", v)
        return None if v is None else float(v)

    if op == "clamp":
        return [("clamp", (val(a["input_tensor"]), val(a["min"]), val(a["max"])), ())]
    if K.is_unary(op):
        params = tuple((k, v) for k, v in node.attrs if k != "input_tensor" and k not in _IO)
        return [(op, (val(a["input_tensor"]),), params)]
    if op in ("where", "addcmul", "lerp"):
        names = [k for k, _ in node.attrs][:3]
        params = (("value", float(a["value"])),) if op == "addcmul" else ()
        return [(op, tuple(val(a[n]) for n in names), params)]
    names = [k for k, _ in node.attrs][:2]
    va, vb = a[names[0]], a[names[1]]
    tensor = va if isinstance(va, Ref) else vb
    dtype = rw.spec(tensor).dtype
    ins: list[tuple] = []

    def operand(v, acts_arg):
        acts = normalize_activations(op, a.get(acts_arg), acts_arg)
        if isinstance(v, Ref):
            if acts:
                ins.append(("act", (("ref", v),), (("acts", acts),)))
                return ("tmp", len(ins) - 1)
            return ("ref", v)
        x = float(v)
        if acts:
            x = float(apply_activations(torch.tensor(x), acts))
        return float(scalar_for(x, dtype))

    oa = operand(va, "input_tensor_a_activations")
    ob = operand(vb, "input_tensor_b_activations")
    params = (("rounding_mode", a["rounding_mode"]),) if op == "divide" and a.get("rounding_mode") else ()
    ins.append((op, (oa, ob), params))
    post = normalize_activations(op, a.get("activations"), "activations")
    if post:
        ins.append(("act", (("tmp", len(ins) - 1),), (("acts", post),)))
    return ins


# ---------------------------------------------------------------------------------------------- plan
class Cluster:
    def __init__(self, root: Node):
        self.root = root
        self.members: dict[int, Node] = {root.id: root}
        self.dups: dict[int, Node] = {}
        self.outputs: set[int] = {root.id}
        self.why: list[str] = []  # producers left outside, with the reason

    def internal(self) -> dict[int, Node]:
        return {**self.dups, **self.members}

    def refresh(self, rw: Rewriter) -> bool:
        """Point at the graph's current nodes (inputs renamed by earlier rewrites); False if one is gone."""
        index = rw._index
        if any(nid not in index for nid in (*self.members, *self.dups)):
            return False
        self.root = index[self.root.id]
        self.members = {nid: index[nid] for nid in self.members}
        self.dups = {nid: index[nid] for nid in self.dups}
        return True

    def size(self) -> int:
        return len(self.members) + len(self.dups)


def _external_inputs(c: Cluster, extra: Node | None = None) -> list[Ref]:
    inner = c.internal()
    if extra is not None:
        inner = {**inner, extra.id: extra}
    refs: dict[Ref, None] = {}
    for n in sorted(inner.values(), key=lambda n: n.id):
        for r in n.inputs:
            if r.node not in inner:
                refs[r] = None
    return list(refs)


def _fits(rw: Rewriter, c: Cluster, p: Node, as_output: bool) -> str | None:
    ins = _external_inputs(c, p)
    n_out = len(c.outputs) + (1 if as_output else 0)
    dtypes = tuple(n.outs[0].dtype for n in c.members.values()) + (p.outs[0].dtype,)
    return K.cb_check([rw.spec(r) for r in ins], dtypes, n_out, rw.device_spec)


def _reaches(rw: Rewriter, start: Node, targets: set[int], limit: int) -> bool:
    """Whether node `start` flows into any node of `targets` (positions up to `limit`)."""
    stack, seen = [start], {start.id}
    while stack:
        n = stack.pop()
        for k in range(n.num_values):
            for u in rw.users(Ref(n.id, k)):
                if u.id in targets:
                    return True
                if u.id not in seen and rw.position(u) <= limit:
                    seen.add(u.id)
                    stack.append(u)
    return False


def _readers(rw: Rewriter, p: Node) -> list[Node]:
    out: dict[int, Node] = {}
    for k in range(p.num_values):
        for u in rw.users(Ref(p.id, k)):
            out[u.id] = u
    return list(out.values())


def plan(rw: Rewriter) -> tuple[list[Cluster], dict[int, str]]:
    """Clusters to build, and a reason per eltwise node left on its own (see the module docstring)."""
    g = rw.graph
    fusible = {n.id: why_not(rw, n) for n in g.nodes}
    ok = {i for i, w in fusible.items() if w is None}
    placed: dict[int, Cluster] = {}
    dupable: set[int] = set()
    for n in g.nodes:
        if n.id not in ok or len(n.outs) != 1 or rw.is_output(Ref(n.id, 0)):
            continue
        readers = _readers(rw, n)
        if len(readers) > 1 and all(u.id in ok for u in readers) and len(_tensor_inputs(n)) <= 2:
            dupable.add(n.id)
    dup_count: dict[int, int] = {}
    clusters: list[Cluster] = []
    reasons: dict[int, str] = {}
    for n in reversed(g.nodes):
        if n.id not in ok or n.id in placed:
            continue
        if n.id in dupable and dup_count.get(n.id, 0) == len(_readers(rw, n)):
            continue  # every reader recomputes it: it will die
        c = Cluster(n)
        placed[n.id] = c
        why: list[str] = []
        work = [n]
        while work:
            cur = work.pop()
            if cur.id in c.dups:
                continue
            for r in _tensor_inputs(cur):
                p = rw.node(r)
                if p is None or p.id in c.members or p.id in c.dups:
                    continue
                if p.id not in ok:
                    continue
                if p.id in placed:
                    continue
                decided = _decide(rw, c, p, p.id in dupable)
                if decided not in _KINDS:
                    why.append(f"%{p.id} {p.op}: {decided}")
                    continue
                if decided == "dup":
                    c.dups[p.id] = p
                    dup_count[p.id] = dup_count.get(p.id, 0) + 1
                else:
                    c.members[p.id] = p
                    placed[p.id] = c
                    if decided == "output":
                        c.outputs.add(p.id)
                    work.append(p)
        if c.size() >= 2:
            c.why = why
            clusters.append(c)
        else:
            reasons[n.id] = why[0] if why else "no elementwise neighbour to fuse with"
    for i, w in fusible.items():
        if w is not None and w != "not elementwise":
            reasons.setdefault(i, f"not fusible: {w}")
    return clusters, reasons


_KINDS = ("member", "dup", "output")


def _decide(rw: Rewriter, c: Cluster, p: Node, dupable: bool) -> str:
    """'member' | 'dup' | 'output', or the reason p stays outside cluster c."""
    readers = _readers(rw, p)
    inside = set(c.members)
    outside = [u for u in readers if u.id not in inside]
    is_out = any(rw.is_output(Ref(p.id, k)) for k in range(p.num_values))
    if len(p.outs) != 1:
        return "has several outputs"
    if not outside and not is_out:
        why = _fits(rw, c, p, False)
        return why or "member"
    if dupable:
        why = _fits(rw, c, p, False)
        if why is None:
            return "dup"
    if p.outs[0].shape != c.root.outs[0].shape:
        return "has readers outside the cluster and another shape (no multi-output)"
    limit = max(rw.position(m) for m in c.members.values())
    if any(_reaches(rw, u, inside, limit) for u in outside):
        return "a reader outside the cluster feeds back into it (fusing would make a cycle)"
    why = _fits(rw, c, p, True)
    return why or "output"


# --------------------------------------------------------------------------------------------- build
def _build(rw: Rewriter, c: Cluster):
    inner = c.internal()
    order = sorted(inner.values(), key=lambda n: rw.position(n))
    inputs = _external_inputs(c)
    slot: dict[int, int] = {}  # value number of an internal node -> slot
    ext = {r: i for i, r in enumerate(inputs)}
    program: list[tuple] = []
    n_in = len(inputs)

    def resolve(arg, local: list[int]):
        if isinstance(arg, tuple) and arg and arg[0] == "ref":
            r = arg[1]
            if r.value in slot and r.node in inner:
                return slot[r.value]
            return ext[r]
        if isinstance(arg, tuple) and arg and arg[0] == "tmp":
            return local[arg[1]]
        return arg

    for n in order:
        local: list[int] = []
        for op, args, params in translate(rw, n):
            program.append((op, tuple(resolve(a, local) for a in args), params))
            local.append(n_in + len(program) - 1)
        slot[n.id] = local[-1]
    outs = [n for n in order if n.id in c.outputs]
    kernel = rw.emit(
        "kernels.eltwise",
        note=f"{TABLE}: stops at {c.why[0]}" if c.why else None,
        inputs=list(inputs),
        program=tuple(program),
        outputs=tuple(slot[n.id] for n in outs),
        dtypes=tuple(n.outs[0].dtype for n in outs),
        memory_configs=tuple(n.outs[0].memory_config for n in outs),
    )
    refs = (kernel,) if isinstance(kernel, Ref) else kernel
    by_node = dict(zip((n.id for n in outs), refs))
    for n in outs:
        if n.id != c.root.id:
            rw.also_replace(n, by_node[n.id])
    return by_node[c.root.id]


def fuse_eltwise(graph: Graph, ctx) -> Graph:
    """Cluster and build (see the module docstring). Pure; notes why eltwise ops stayed single."""
    from ttfuse.passes.context import target_device

    rw = Rewriter(graph, ctx, TABLE)
    with target_device(ctx):
        clusters, reasons = plan(rw)
        for c in clusters:
            # an earlier kernel may have replaced values this cluster reads: build from the nodes as they are now
            if not c.refresh(rw):
                continue
            res = rw.edit(c.root, lambda r, c=c: _build(r, c))
            if isinstance(res, str):
                reasons[c.root.id] = f"kernel rejected: {res}"
    g = rw.graph
    if not reasons:
        return g
    nodes = []
    for n in g.nodes:
        w = reasons.get(n.id)
        if w is not None:
            d = Decision(TABLE, "", w)
            if d not in n.side.decisions:
                n = n.replace(side=n.side.plus(decisions=(d,)))
        nodes.append(n)
    return g.replace(nodes=nodes)
