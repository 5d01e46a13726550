"""place_memory: put intermediates in L1 when they fit next to what is live, else in DRAM.

Pre: a verified graph (after chunk and select_configs). Post: a verified graph computing the same values, where
every node output whose placement was left to ttfuse (the op's `memory_config` argument is None) has an explicit
interleaved `memory_config`: L1 when, over the value's whole lifetime (from its node to its last use), the L1
bytes live at every step plus the value fit the L1 tensor budget; DRAM otherwise. Graph outputs keep the
traced placement unless `jit(memory_config=...)` names one (then they get it). A value whose only reader is a
graph output `to_memory_config(v, mc)` (same dtype and layout) is written in `mc` when its op can write it
there, so the move is a no-op that launches nothing (ttnn_jit's output placement ends every function so).
User-given memory configs,
sharded layouts and in-place ops are respected as they are. Every decision is mirrored in the node's side data
(`side.config["memory"] = "L1" | "DRAM"`, `side.config["placed_by"] = "place_memory"`).

Views (`OpDef.is_view` on the traced specs: a reshape/unsqueeze/squeeze on ttnn's view path, which launches no
kernel) get no placement of their own: they live in their input's buffer, so that buffer is placed for the
lifetime of all its views, as a graph output when one of them is returned, and in L1 only when every view stays
a view there and its readers accept it. Invariant: a traced view is a view after this pass (no kernel that the
eager call would not launch; tests/test_jit_launches.py).

Fused kernels' internal L1 intermediates (`Traits.working_set`, `internal_bytes`) count at their step.
Liveness: values are numbered by node position; a value is live from its node to its last reader (graph
outputs and graph inputs: the whole function, since the caller holds them). Generated code releases each value
after its last use (`del v<n>`: the simulator frees its allocation when the last reference dies), so the
simulator's peak-L1 report (`ttfuse.sim.memory_report`) stays within the budget this pass plans for.

Budgets (shared with the chunk pass): the L1 *tensor* budget is `jit(l1_budget=...)` when given, else the
device's L1 (l1_per_core x compute cores) minus `CB_RESERVE_FRACTION` of every core, left to circular
buffers (select_configs fits matmul / SDPA circular buffers in that reserve). DRAM: the chip's DRAM.
Greedy in node order: the first value that fits gets L1 (simple, predictable; a value that is read soon after
it is written is as likely to come first as any other).
Extend: a placement policy is a function of (value size, lifetime, usage); change `_fits` / the order here.
"""

from __future__ import annotations

from ttfuse.errors import SpecError
from ttfuse.ir import Decision, Graph, In, Node, NodeSide, attr_tensor_positions, infer, spec_args
from ttfuse.opdef import CostCtx, current_device_spec, current_mesh_shape, device_spec_context
from ttfuse.passes.context import target_device  # (chunk and select import it from here too)
from ttfuse.types import (
    DRAM_MEMORY_CONFIG,
    L1_MEMORY_CONFIG,
    BufferType,
    MemoryConfig,
    TensorSpec,
)

# Share of every core's L1 kept for circular buffers: large matmul and SDPA configs take 0.4-0.7 MB per core
# (in0/in1 double buffers, the output block, an fp32 intermediate; ref/ttnn.md s5), the rest holds tensors.
CB_RESERVE_FRACTION = 0.5


# ------------------------------------------------------------------------------------------------ helpers
def kind_of(spec: TensorSpec) -> str:
    """'L1' or 'DRAM': the memory a tensor occupies."""
    return "L1" if spec.memory_config.buffer_type in (BufferType.L1, BufferType.L1_SMALL) else "DRAM"


def tensor_budget(ctx, kind: str = "L1") -> int | None:
    """Bytes the tensors of one chip may occupy in `kind` ('L1' | 'DRAM'); None when the device is unknown."""
    ds = ctx.device_spec
    if kind == "DRAM":
        b = ctx.options.dram_budget
        return int(b) if b is not None else (ds.dram_bytes if ds is not None else None)
    b = ctx.options.l1_budget
    if b is not None:
        return int(b)
    if ds is None:
        return None
    return int(ds.l1_bytes * (1.0 - CB_RESERVE_FRACTION))


def cb_limit_per_core(ctx) -> int | None:
    """Per-core L1 bytes circular buffers may use: what the tensor budget leaves of one core's L1."""
    ds = ctx.device_spec
    if ds is None:
        return None
    per_core_tensors = -(-(tensor_budget(ctx, "L1") or 0) // ds.num_cores)
    return max(ds.l1_per_core - min(per_core_tensors, ds.l1_per_core), ds.l1_per_core // 8)


def set_attrs(attrs: tuple, **kw) -> tuple:
    """A copy of a node's attrs with some parameters replaced (they must exist)."""
    out, seen = [], set()
    for k, v in attrs:
        if k in kw:
            out.append((k, kw[k]))
            seen.add(k)
        else:
            out.append((k, v))
    missing = set(kw) - seen
    if missing:
        raise KeyError(f"no parameter(s) {sorted(missing)}")
    return tuple(out)


def with_side(
    node: Node, *, config: dict | None = None, notes: tuple[str, ...] = (), decisions: tuple = ()
) -> NodeSide:
    """A new NodeSide for `node` with config entries merged in, notes and typed decisions appended (each
    decision's text among the notes; side data is never mutated)."""
    return node.side.plus(config=config, notes=notes, decisions=decisions)


def internal_bytes(node: Node, in_specs: list[TensorSpec], device_spec=None) -> int:
    """L1 bytes a (fused) op holds beyond its inputs and outputs (`Traits.working_set`), 0 when it declares none.
    With `device_spec`, the rule (and the step spec rules it asks) see that device, not the thread's current."""
    fn = node.opdef.traits.working_set
    if fn is None:
        return 0
    args = spec_args(node, in_specs)
    tensors = {k: args[k] for k, v in node.attrs if attr_tensor_positions(v)}
    ctx = CostCtx(node.opdef, tensors, list(node.outs), args, device_spec)
    if device_spec is None or device_spec is current_device_spec():  # the pass already set it: no re-entry
        return int(fn(ctx))
    with device_spec_context(device_spec, current_mesh_shape()):
        return int(fn(ctx))


def lifetimes(graph: Graph) -> tuple[dict[int, int], dict[int, int]]:
    """(first position, last position) of every value; inputs from -1, outputs and inputs to len(nodes)."""
    end = len(graph.nodes)
    first: dict[int, int] = {i: -1 for i in range(len(graph.inputs))}
    last: dict[int, int] = {i: end for i in range(len(graph.inputs))}
    for k, n in enumerate(graph.nodes):
        for j in range(len(n.outs)):
            first[n.id + j] = k
            last[n.id + j] = k
        for r in n.inputs:
            last[r.value] = max(last.get(r.value, k), k)
    for r in graph.outputs:
        last[r.value] = end
    return first, last


def _inplace_target(n: Node) -> int | None:
    op = n.opdef
    if op.traits.inplace is None:
        return None
    m = n.attr(op.traits.inplace)
    return n.inputs[m.i].value if type(m) is In else None


# --------------------------------------------------------------------------------------------------- pass
def place_memory(graph: Graph, ctx) -> Graph:
    """Place intermediates in L1 when they fit next to what is live, else DRAM (see the module docstring).
    Spec rules (kernels' working sets, readers' checks) run on the context's device."""
    with target_device(ctx):
        return _place(graph, ctx)


def _place(graph: Graph, ctx) -> Graph:
    budget = tensor_budget(ctx, "L1")
    if budget is None or not graph.nodes:
        return graph
    _first, last = lifetimes(graph)
    index = graph.node_index()
    # in-place ops and views (free calls: `OpDef.is_view`) live in their target's / input's storage: that storage
    # lives to the last use of any of them, and is a graph output when one of them is
    alias: dict[int, int] = {}
    views: set[int] = set()
    for n in graph.nodes:
        t = _inplace_target(n)
        if t is None and is_view_node(n, [graph.spec_of(r, index) for r in n.inputs]):
            t = n.inputs[0].value
            views.add(n.id)
        if t is not None:
            root = alias.get(t, t)
            alias[n.id] = root
            last[root] = max(last[root], last[n.id])
    steps = len(graph.nodes) + 1
    usage = [0] * (steps + 1)  # L1 bytes live at each position (index k+1 for node k, 0 for the inputs)

    def add(k: int, outs, sign: int = 1) -> None:
        for j, s in enumerate(outs):
            if kind_of(s) == "L1":
                for p in range(k + 1, (steps - 1 if k < 0 else last[graph.nodes[k].id + j]) + 2):
                    usage[p] += sign * s.nbytes

    for s in graph.inputs:
        add(-1, [s])
    outputs = {r.value for r in graph.outputs}
    out_mc: MemoryConfig | None = ctx.options.memory_config
    into = _moved_into(graph, outputs)
    # a value a view of which is returned is returned: it keeps its traced placement as a graph output would
    outputs |= {alias[v] for v in outputs if v in views}
    # values placed by someone else (the user, ttnn's rules) are live first: ours must fit around them. A view is
    # never ours: given a placement of its own, ttnn would copy (a kernel eager code does not launch; tt-metal
    # reshape_view/reshape.cpp `this_is_view` needs the input's sharded-ness and L1-ness; tt-mlir's optimizer
    # likewise leaves view-eligible reshapes on their input's memory config)
    ours = [_ours(n, outputs) and n.id not in views for n in graph.nodes]
    # a kernel's working set comes from its steps' spec rules, which check the device
    for k, n in enumerate(graph.nodes):
        if not ours[k] and n.id not in alias:
            add(k, n.outs)
        usage[k + 1] += internal_bytes(n, [graph.spec_of(r, index) for r in n.inputs], ctx.device_spec)
    specs: dict[int, TensorSpec] = {i: s for i, s in enumerate(graph.inputs)}
    respecced: set[int] = set()  # values whose spec differs from the input graph's
    nodes: list[Node] = []
    changed = False
    users = graph.users()

    def readers_accept(n: Node, outs) -> bool:
        """Every reader of n's outputs still validates with them in L1 (e.g. joint SDPA wants DRAM inputs), and so
        do the readers of views of them (which follow their input's placement)."""
        new = {n.id + j: o for j, o in enumerate(outs)}
        for u in {id(x): x for j in range(len(outs)) for x in users.get(n.id + j, ())}.values():
            u_ins = [new.get(r.value) or specs.get(r.value) or graph.spec_of(r, index) for r in u.inputs]
            try:
                u_outs, _ = infer(u, u_ins)
            except SpecError:
                return False
            if u.id in views and not (
                u.opdef.is_view(list(u_outs), spec_args(u, u_ins)) and readers_accept(u, u_outs)
            ):
                return False  # the view would become a copy, or a reader of it rejects L1
        return True

    for k, n in enumerate(graph.nodes):
        ins = [specs[r.value] for r in n.inputs]
        m = n
        if ours[k] and n.id in into:  # written straight into the placement a final move gives it
            m = _try(
                n, ins, into[n.id], kind_of_mc(into[n.id]), "graph output: written where its move puts it"
            )
        if m is n:
            m = _decide(n, k, ins, last, usage, budget, outputs, out_mc, readers_accept) if ours[k] else n
        if m is n and any(r.value in respecced for r in n.inputs):
            outs, multi = infer(n, ins)
            m = n.replace(outs=outs, multi=multi) if outs != n.outs else n
        if m is not n:
            changed = True
            respecced.update(m.id + j for j, (a, b) in enumerate(zip(m.outs, n.outs)) if a != b)
        if n.id not in alias:  # in-place outputs live in their target's storage
            if ours[k]:
                add(k, m.outs)
            elif m.outs != n.outs:  # an inherited placement changed with its input's
                add(k, n.outs, -1)
                add(k, m.outs)
        for j, s in enumerate(m.outs):
            specs[m.id + j] = s
        nodes.append(m)
    return graph.replace(nodes=nodes) if changed else graph


def kind_of_mc(mc: MemoryConfig) -> str:
    return "L1" if mc.buffer_type in (BufferType.L1, BufferType.L1_SMALL) else "DRAM"


def _moved_into(graph: Graph, outputs: set[int]) -> dict[int, MemoryConfig]:
    """Producers whose value only feeds a graph output `to_memory_config(v, mc)` that keeps its dtype: node id ->
    mc. Writing such a value in `mc` makes the move a no-op, which launches no kernel (ttfuse/ops/data_movement.py:
    ttnn returns the input of a move to the memory config it has), as `op(..., memory_config=mc)` would."""
    users = graph.users()
    producer = {n.id + j: n for n in graph.nodes for j in range(len(n.outs))}
    into: dict[int, MemoryConfig] = {}
    for n in graph.nodes:
        if n.op != "to_memory_config" or n.id not in outputs or len(n.outs) != 1 or not n.inputs:
            continue
        v = n.inputs[0].value
        p = producer.get(v)
        if p is None or len(p.outs) != 1 or v in outputs or len(users.get(v, ())) != 1:
            continue
        if p.outs[0].dtype != n.outs[0].dtype or p.outs[0].layout != n.outs[0].layout:
            continue
        into[p.id] = n.outs[0].memory_config
    return into


def is_view_node(n: Node, in_specs: list[TensorSpec]) -> bool:
    """Whether the traced call is free (`OpDef.is_view`: ttnn returns its input or a view of its buffer)."""
    if not n.inputs or len(n.outs) != 1:
        return False
    try:
        return n.opdef.is_view(list(n.outs), spec_args(n, in_specs))
    except SpecError:
        return False


def _ours(n: Node, outputs: set[int]) -> bool:
    """Whether this pass chooses the node's placement: a memory_config left to the default, not in place, and not
    sharded by the op's own rule (an op given no memory_config keeps its input's sharding, as ttnn does; moving
    it to an interleaved buffer would change what a reader taking sharded inputs only, e.g.
    paged_update_cache, receives)."""
    op = n.opdef
    return (
        bool(n.outs)
        and "memory_config" in op.params
        and n.attr("memory_config") is None
        and op.traits.inplace is None
        and not any(s.memory_config.is_sharded() for s in n.outs)
    )


def _decide(n: Node, k: int, ins, last, usage, budget, outputs, out_mc, readers_accept) -> Node:
    """The node with its memory_config chosen (`n` itself when nothing changes)."""
    is_out = any(n.id + j in outputs for j in range(len(n.outs)))
    if is_out:
        if out_mc is None:  # keep the traced placement (an input moved to L1 must not drag the output along)
            if len({s.memory_config for s in n.outs}) != 1:
                return n
            mc = n.outs[0].memory_config
            try:
                if infer(n, ins)[0] == n.outs:
                    return n
            except SpecError:
                pass
            return _try(n, ins, mc, kind_of(n.outs[0]), "graph output: keeps its traced placement")
        label = "L1" if out_mc.buffer_type is BufferType.L1 else "DRAM"
        return _try(n, ins, out_mc, label, "graph output: jit(memory_config=...)")
    hi = max(last[n.id + j] for j in range(len(n.outs)))
    try:
        l1_outs, _ = infer(n, ins, _with_mc(n, L1_MEMORY_CONFIG))
    except SpecError:
        l1_outs = None
    if l1_outs is not None and not readers_accept(n, l1_outs):
        return _try(
            n,
            ins,
            DRAM_MEMORY_CONFIG,
            "DRAM",
            "DRAM: a reader (or a view) of this value takes DRAM inputs only",
        )
    if l1_outs is not None and all(not s.memory_config.is_sharded() for s in l1_outs):
        need = sum(s.nbytes for s in l1_outs)
        peak = max(usage[k + 1 : hi + 2])
        if peak + need <= budget:
            why = f"L1: {need:,} B fits next to {peak:,} B live (budget {budget:,} B) until step {hi}"
            m = _try(n, ins, L1_MEMORY_CONFIG, "L1", why)
            if m is not n:
                return m
        why = f"DRAM: {need:,} B does not fit next to {peak:,} B live in L1 (budget {budget:,} B)"
    else:
        why = "DRAM: the op cannot write an interleaved L1 output here"
    return _try(n, ins, DRAM_MEMORY_CONFIG, "DRAM", why)


def _with_mc(n: Node, mc: MemoryConfig) -> tuple:
    return set_attrs(n.attrs, memory_config=mc)


def _try(n: Node, ins, mc: MemoryConfig, label: str, why: str) -> Node:
    attrs = _with_mc(n, mc)
    try:
        outs, multi = infer(n, ins, attrs)
    except SpecError:
        return n
    side = with_side(
        n,
        config={"memory": label, "placed_by": "place_memory"},
        decisions=(Decision("place_memory", "", why),),
    )
    return n.replace(attrs=attrs, outs=outs, multi=multi, side=side)
