"""chunk: split ops whose working set does not fit the memory of their placement into row chunks.

    %5: bf16[1,768,768,512]@L1 = linear %4 %1 {activation=silu}      # 604 MB: more than the L1 of a chip
  becomes, for each chunk i of 26 along dim 1 (30 rows of 768 x 768 each, the last 18):
    %40: bf16[1,30,768,128]@DRAM = slice %0 {slice_start=[0,30i,0,0], ...}
    %41: bf16[1,30,768,128]@L1 = layer_norm %40 ...   %42 = linear %41 %1 ...   ...
  and one `concat` per value leaving the chunked region (in the placement the value had).

Pre: a verified graph (after fuse). Post: a verified graph computing the same values (the chunked ops are
independent along the split dim, so every element is computed by the same op on the same inputs) in which no
chunked region's per-chunk working set exceeds the budget of its placement. Nodes that cannot be chunked keep
their shape and get a note saying why (`chunk: ...`), as do regions that do not fit even at the smallest chunk.

Working set of a node: its distinct inputs and its outputs in one memory kind (L1 or DRAM), at their dtypes,
layouts and placements (`TensorSpec.nbytes`; a view's output is its input's buffer: `OpDef.is_view`), plus, in L1, the internal intermediates a fused kernel declares
(`Traits.working_set(ctx: CostCtx) -> int`, bytes held beyond its inputs and outputs). A node whose working set
exceeds the budget of its kind (see place_memory.tensor_budget: `jit(l1_budget=...)`, else the device's L1
minus the circular-buffer reserve; DRAM: the chip's DRAM) seeds a region.

Regions. Splitting one op alone does not help when its output must exist whole in L1, so the seed grows into a
region: every value of the seed's kind that is split (row-indexed) pulls in its producer and all its readers
that are chunkable along the same dim with the same extent; values of the other kind (a DRAM activation, a
weight) end the region, and are sliced on the way in / concatenated on the way out. The region is emitted as
one block per chunk (slices, then the region's ops in order) followed by the concats, so each chunk's
intermediates die before the next chunk starts.

Spill instead of chunk. A fused kernel whose overflow is its own L1 intermediates may declare a spilled variant
(`Traits.spill`, e.g. kernels.transition's `hidden_memory_config=DRAM`), used only where the code left those
arguments to ttfuse (None). Then both graphs are costed (passes/cost.py, device time, then untraced time) and the
cheaper is kept; a spilled node's note gives both predictions. The spilled variant is also the fallback when the
region cannot be chunked.

Chunk size: the largest that fits, found by bisection on the per-chunk peak (liveness inside one chunk, plus
the region's inputs and outputs of the budget's kind at full size), then balanced over the chunk count.
Sizes are whole tile rows: on the tile-row dim (rank-2) a multiple of 32; on an outer dim any count (each
slice then holds whole tile rows). Outer dims are tried first (fewer, contiguous slices).

Which dims an op is independent over is its `Traits.split`, declared at its registration (ttfuse/axes.py reads
it: "eltwise", "rows" with `split_inputs`, or a callable giving `Axis` lists). Extend: declare it on the op.
"""

from __future__ import annotations

import heapq
import math

from ttfuse.axes import Axis, axes_of
from ttfuse.errors import SpecError
from ttfuse.ir import (
    Decision,
    FrozenList,
    Graph,
    In,
    Node,
    NodeSide,
    Ref,
    interpret,
    make_attrs,
)
from ttfuse.passes.place_memory import (
    infer,
    internal_bytes,
    is_view_node,
    kind_of,
    set_attrs,
    target_device,
    tensor_budget,
    with_side,
)
from ttfuse.types import TensorSpec

_BY = "chunk"  # Decision.by of this pass's decisions: a node with one is never chunked again


# ------------------------------------------------------------------------------------------- working set
def working_set(node: Node, in_specs: list[TensorSpec], kind: str, device_spec=None) -> int:
    """Bytes of `kind` ('L1' | 'DRAM') the node touches: distinct inputs, outputs, (L1) internal buffers."""
    seen = set()
    total = 0
    for r, s in zip(node.inputs, in_specs):
        if r.value not in seen and kind_of(s) == kind:
            seen.add(r.value)
            total += s.nbytes
    # an in-place op's or a view's output is an input's buffer (counted above)
    if node.opdef.traits.inplace is None and not is_view_node(node, in_specs):
        total += sum(s.nbytes for s in node.outs if kind_of(s) == kind)
    if kind == "L1":
        total += internal_bytes(node, in_specs, device_spec)
    return total


# ---------------------------------------------------------------------------------------------- the pass
def chunk(graph: Graph, ctx) -> Graph:
    """Chunk the regions around ops that overflow their memory (see the module docstring)."""
    if ctx.device_spec is None or not graph.nodes:
        return graph
    notes: dict[int, str] = {}  # node id -> why it was not chunked (or was spilled instead)
    with target_device(ctx):
        for _ in range(len(graph.nodes) + 1):
            g2 = _chunk_one(graph, ctx, notes)
            if g2 is None:
                break
            graph = g2
    if not notes:
        return graph
    nodes = [
        n.replace(side=with_side(n, decisions=(Decision(_BY, "", notes[n.id]),))) if n.id in notes else n
        for n in graph.nodes
    ]
    return graph.replace(nodes=nodes)


class _G:
    """Queries on one graph version: specs, users, node positions."""

    def __init__(self, g: Graph):
        self.g = g
        self.index = g.node_index()
        self.pos = {n.id: k for k, n in enumerate(g.nodes)}
        self.users = g.users()
        self.outputs = {r.value for r in g.outputs}

    def spec(self, r: Ref) -> TensorSpec:
        return self.g.spec_of(r, self.index)

    def in_specs(self, n: Node) -> list[TensorSpec]:
        return [self.spec(r) for r in n.inputs]


def _chunk_one(graph: Graph, ctx, notes: dict[int, str]) -> Graph | None:
    """Chunk the first overflowing region; None when no (new) node overflows."""
    q = _G(graph)
    for n in graph.nodes:
        if n.id in notes or any(d.by == _BY for d in n.side.decisions):
            continue
        ins = q.in_specs(n)
        for kind in ("L1", "DRAM"):
            budget = tensor_budget(ctx, kind)
            ws = working_set(n, ins, kind, ctx.device_spec)
            if budget is None or ws <= budget:
                continue
            res = _chunk_region(q, n, kind, budget, ctx)
            spilled = _spilled(q, n, ins, budget, ctx) if kind == "L1" else None
            if spilled is not None:
                g2, why = _spill_or_chunk(spilled, res, ctx)
                if g2 is not res:
                    notes[n.id] = f"working set {ws:,} B of L1 exceeds the budget {budget:,} B; {why}"
                    return g2
            if isinstance(res, Graph):
                return res
            notes[n.id] = f"working set {ws:,} B of {kind} exceeds the budget {budget:,} B; {res}"
            break
    return None


def _spilled(q: _G, n: Node, ins: list[TensorSpec], budget: int, ctx) -> Graph | None:
    """The graph with `n` switched to its spilled variant (`Traits.spill`: the arguments that move a fused
    kernel's internal intermediates out of L1) when it declares one, the code left those arguments to ttfuse
    (None), and the spilled node fits the L1 budget; else None."""
    attrs = n.opdef.traits.spill
    if not attrs or any(n.attr(k) is not None for k in attrs):
        return None
    new_attrs = set_attrs(n.attrs, **attrs)
    try:
        outs, _ = infer(n, ins, new_attrs)
    except SpecError:
        return None
    m = n.replace(attrs=new_attrs, outs=outs)
    if outs != n.outs or working_set(m, ins, "L1", ctx.device_spec) > budget:
        return None
    return q.g.replace(nodes=[m if x.id == n.id else x for x in q.g.nodes])


def _spill_or_chunk(spilled: Graph, chunked: Graph | str, ctx) -> tuple[Graph | str, str]:
    """The cheaper of the spilled and the chunked graph by the cost model's device time (a traced run: what the
    chip spends; the untraced time, dominated by the per-launch host round trip, breaks ties), or the spilled
    one when chunking failed. Returns (graph, why) for the node's note.

    Device time, not untraced time: the host round trip the untraced model charges per launch (360 us) would
    always favour the fewest launches, whereas on the chip the chunked form keeps its intermediates in L1 (tt-boltz
    chunks its Transition that way); `Lowered.cost` shows both times."""
    from ttfuse.passes.cost import graph_cost

    mg = ctx.options.max_grid
    s = graph_cost(spilled, ctx.device_spec, max_grid=mg)
    said = f"{s.untraced_ms:.3f} ms untraced / {s.device_ms:.3f} ms traced"
    if not isinstance(chunked, Graph):
        return spilled, f"intermediates spilled to DRAM ({chunked}); predicted {said}"
    c = graph_cost(chunked, ctx.device_spec, max_grid=mg)
    versus = f"{c.untraced_ms:.3f} / {c.device_ms:.3f} ms chunked"
    if (c.device_ms, c.untraced_ms) <= (s.device_ms, s.untraced_ms):
        return chunked, ""
    return spilled, f"intermediates spilled to DRAM, not chunked: predicted {said}, {versus}"


def _chunk_region(q: _G, seed: Node, kind: str, budget: int, ctx) -> Graph | str:
    """The graph with the region around `seed` chunked, or the reason it cannot be."""
    axes = axes_of(seed, q.in_specs(seed))
    if not axes:
        return f"{seed.op} cannot be split (no independent dim declared for it)"
    why = "no split fits"
    for ax in axes:
        region = _grow(q, seed, ax, kind)
        if region is None:
            why = f"inconsistent split dims around dim {ax.out_dim}"
            continue
        order = [q.index[i] for i in sorted(region, key=q.pos.__getitem__)]
        extent = seed.outs[0].shape[ax.out_dim]
        size = _fit(q, order, region, extent, ax.align, kind, budget, ctx.device_spec)
        if size is None:
            why = f"even one chunk of {ax.align} along dim {ax.out_dim} exceeds the budget"
            continue
        try:
            return _rebuild(q, order, region, extent, size, kind)
        except _Abort as e:
            why = str(e)
    return why


def _pick(
    n: Node,
    ins: list[TensorSpec],
    extent: int,
    *,
    reads: dict[int, int] | None = None,
    out_dim: int | None = None,
) -> Axis | None:
    """The first axis of `n` splitting its outputs to `extent` along `out_dim` and reading input i split
    along `reads[i]`; None when there is none."""
    for a in axes_of(n, ins):
        if out_dim is not None and a.out_dim != out_dim:
            continue
        if reads and any(a.in_dims[i] != d for i, d in reads.items()):
            continue
        if all(o.shape[a.out_dim] == extent for o in n.outs):
            return a
    return None


def _grow(q: _G, seed: Node, ax0: Axis, kind: str) -> dict[int, Axis] | None:
    """Region node id -> axis: the seed plus, transitively, producers and readers of its split values of
    `kind` that chunk along the same extent. None when split dims conflict."""
    extent = seed.outs[0].shape[ax0.out_dim]
    region: dict[int, Axis] = {seed.id: ax0}
    todo = [seed.id]
    while todo:
        n = q.index[todo.pop()]
        ax = region[n.id]
        for j, o in enumerate(n.outs):
            v = n.id + j
            if kind_of(o) != kind:
                continue
            for c in q.users.get(v, []):
                if c.id in region:
                    continue
                reads = {i: ax.out_dim for i, r in enumerate(c.inputs) if r.value == v}
                cax = _pick(c, q.in_specs(c), extent, reads=reads)
                if cax is not None:
                    region[c.id] = cax
                    todo.append(c.id)
        for i, r in enumerate(n.inputs):
            d = ax.in_dims[i]
            if d is None or q.g.is_input(r) or r.node in region or kind_of(q.spec(r)) != kind:
                continue
            p = q.index[r.node]
            pax = _pick(p, q.in_specs(p), extent, out_dim=d)
            if pax is not None:
                region[p.id] = pax
                todo.append(p.id)
    # every value made inside the region must be read split along the dim it is made along
    for nid, ax in region.items():
        n = q.index[nid]
        for i, r in enumerate(n.inputs):
            if r.node in region and ax.in_dims[i] != region[r.node].out_dim:
                return None
    return region


def _sliced(s: TensorSpec, d: int, size: int) -> TensorSpec:
    shape = list(s.shape)
    shape[d] = size
    return s.replace(shape=tuple(shape))


def _chunk_specs(q: _G, order: list[Node], region: dict[int, Axis], size: int) -> dict[int, tuple]:
    """Node id -> (input specs, outs) of one chunk of `size` (spec rules validate every op)."""
    vals: dict[int, TensorSpec] = {}
    res = {}

    def read(n: Node, i: int, r: Ref) -> TensorSpec:
        d = region[n.id].in_dims[i]
        if r.node in region:
            return vals[r.value]
        return q.spec(r) if d is None else _sliced(q.spec(r), d, size)

    def visit(n: Node, ins: list) -> tuple:
        outs, _ = infer(n, ins)
        res[n.id] = (ins, outs)
        return outs

    interpret(order, visit, vals, read=read)
    return res


def _region_io(q: _G, order: list[Node], region: dict[int, Axis]):
    """(inputs: {(value, dim) -> Ref}, outputs: [(value, Ref, dim)]) of a region."""
    ins: dict[tuple[int, int | None], Ref] = {}
    outs = []
    for n in order:
        ax = region[n.id]
        for i, r in enumerate(n.inputs):
            if r.node not in region:
                ins.setdefault((r.value, ax.in_dims[i]), r)
        for j in range(len(n.outs)):
            v = n.id + j
            if v in q.outputs or any(u.id not in region for u in q.users.get(v, [])):
                outs.append((v, Ref(n.id, j), ax.out_dim))
    return ins, outs


def _peak(q: _G, order, region, size: int, kind: str, device_spec) -> int:
    """Peak bytes of `kind` while the chunked region runs, for chunks of `size`."""
    specs = _chunk_specs(q, order, region, size)
    ins, outs = _region_io(q, order, region)
    # whole values of the region's kind that exist while it runs: its inputs and (accumulated) outputs
    whole = {v: r for (v, _d), r in ins.items()}
    const = sum(q.spec(r).nbytes for r in whole.values() if kind_of(q.spec(r)) == kind)
    out_full = sum(q.spec(r).nbytes for _v, r, _d in outs if kind_of(q.spec(r)) == kind)
    peak = const + 2 * out_full  # the concats: all pieces plus the whole result
    last: dict[int, int] = {}
    for k, n in enumerate(order):
        for r in n.inputs:
            last[r.value] = k
    out_vals = {v for v, _r, _d in outs}
    live: dict[int, int] = {}  # value -> bytes of the chunk value (slices count as made at step 0)
    for (v, d), r in ins.items():
        if d is not None:
            s = _sliced(q.spec(r), d, size)
            if kind_of(s) == kind:
                live[(v, d)] = s.nbytes
    slice_last = {
        key: max(
            k
            for k, n in enumerate(order)
            for i, r in enumerate(n.inputs)
            if (r.value, region[n.id].in_dims[i]) == key
        )
        for key in live
    }
    for k, n in enumerate(order):
        n_ins, n_outs = specs[n.id]
        here = sum(live.values())
        if n.opdef.traits.inplace is None:
            here += sum(s.nbytes for s in n_outs if kind_of(s) == kind)
        if kind == "L1":
            here += internal_bytes(n.replace(outs=n_outs), n_ins, device_spec)
        peak = max(peak, const + out_full + here)
        for key in [key for key, lk in slice_last.items() if lk == k]:
            live.pop(key, None)
        for r in n.inputs:
            if r.node in region and last.get(r.value) == k and r.value not in out_vals:
                live.pop(r.value, None)
        if n.opdef.traits.inplace is None:
            for j, s in enumerate(n_outs):
                v = n.id + j
                if kind_of(s) == kind and v not in out_vals and v in last:
                    live[v] = s.nbytes
    return peak


def _fit(q: _G, order, region, extent: int, align: int, kind: str, budget: int, device_spec) -> int | None:
    """The largest chunk size (a multiple of `align`, below `extent`) whose peak fits, balanced; or None."""

    def fits(j: int) -> bool:
        try:
            return _peak(q, order, region, j * align, kind, device_spec) <= budget
        except SpecError:
            return False

    top = -(-extent // align) - 1  # at least two chunks
    if top < 1 or not fits(1):
        return None
    lo, hi = 1, top
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid - 1
    n = -(-extent // (lo * align))  # fewest chunks at the largest fitting size, then balanced over them
    per = -(-extent // n)
    return -(-per // align) * align


class _Abort(Exception):
    pass


def _rebuild(q: _G, order: list[Node], region: dict[int, Axis], extent: int, size: int, kind: str) -> Graph:
    g = q.g
    nxt = g.next_id()
    n_chunks = math.ceil(extent / size)
    ins, outs = _region_io(q, order, region)
    pieces: dict[int, list[Ref]] = {v: [] for v, _r, _d in outs}
    block: list[Node] = []
    made: dict[int, Node] = {}

    def spec_in(r: Ref) -> TensorSpec:
        return made[r.node].outs[r.out] if r.node in made else q.spec(r)

    def emit(node: Node) -> None:
        block.append(node)
        made[node.id] = node

    for c in range(n_chunks):
        lo, hi = c * size, min(extent, (c + 1) * size)
        local: dict[int, Ref] = {}
        slices: dict[tuple[int, int], Ref] = {}
        for n in order:
            ax = region[n.id]
            refs = []
            for i, r in enumerate(n.inputs):
                d = ax.in_dims[i]
                if r.node in region:
                    refs.append(local[r.value])
                elif d is None:
                    refs.append(r)
                else:
                    key = (r.value, d)
                    if key not in slices:
                        s = q.spec(r)
                        start, end = [0] * s.rank, list(s.shape)
                        start[d], end[d] = lo, hi
                        attrs = make_attrs("slice", input_tensor=In(0), slice_start=start, slice_end=end)
                        o, m = infer(Node(-1, "slice", (r,), attrs, ()), [s])
                        note = Decision(
                            _BY, "", f"slice {c + 1}/{n_chunks} of %{r.value} along dim {d} [{lo}:{hi})"
                        )
                        emit(Node(nxt, "slice", (r,), attrs, o, m, NodeSide().plus(decisions=(note,))))
                        slices[key] = Ref(nxt, 0)
                        nxt += 1
                    refs.append(slices[key])
            in_specs = [spec_in(x) for x in refs]
            try:
                o, m = infer(n, in_specs)
            except SpecError as e:
                raise _Abort(f"chunk {c + 1} of %{n.id} does not validate: {e}") from None
            note = Decision(_BY, "", f"{c + 1}/{n_chunks} of %{n.id} along dim {ax.out_dim} [{lo}:{hi})")
            side = n.side.plus(decisions=(note,))
            new = Node(nxt, n.op, tuple(refs), n.attrs, o, m, side)
            emit(new)
            for j in range(len(o)):
                local[n.id + j] = Ref(nxt, j)
                if n.id + j in pieces:
                    pieces[n.id + j].append(Ref(nxt, j))
            nxt += new.num_values
    remap: dict[tuple[int, int], Ref] = {}
    for v, r, d in outs:
        full = q.spec(r)
        refs = tuple(pieces[v])
        attrs = make_attrs(
            "concat",
            tensors=FrozenList(In(k) for k in range(len(refs))),
            dim=d,
            memory_config=full.memory_config,
        )
        o, m = infer(Node(-1, "concat", refs, attrs, ()), [spec_in(x) for x in refs])
        if o != (full,):
            raise _Abort(f"the concat of %{v} gives {o[0]}, not {full}")
        note = Decision(_BY, "", f"concat of {len(refs)} chunks of %{v} along dim {d}")
        emit(Node(nxt, "concat", refs, attrs, o, m, NodeSide().plus(decisions=(note,))))
        remap[(r.node, r.out)] = Ref(nxt, 0)
        nxt += 1
    return _splice(q, order, block, remap)


def _splice(q: _G, order: list[Node], block: list[Node], remap: dict) -> Graph:
    """Replace the region by the block (one unit), references remapped, in a stable topological order."""
    g = q.g
    region = {n.id for n in order}

    def fix(r: Ref) -> Ref:
        return remap.get((r.node, r.out), r)

    units: list[tuple[int, list[Node]]] = []  # (priority, nodes)
    first = min(q.pos[i] for i in region)
    for k, n in enumerate(g.nodes):
        if n.id in region:
            if k == first:
                units.append((k, block))
            continue
        units.append((k, [n.replace(inputs=tuple(fix(r) for r in n.inputs))]))
    defined_by: dict[int, int] = {}  # node id -> unit index
    for u, (_k, ns) in enumerate(units):
        for n in ns:
            defined_by[n.id] = u
    deps = []
    for _k, ns in units:
        own = {n.id for n in ns}
        deps.append(
            {defined_by[r.node] for n in ns for r in n.inputs if r.node in defined_by and r.node not in own}
        )
    indeg = [len(d) for d in deps]
    rdeps: dict[int, list[int]] = {}
    for u, d in enumerate(deps):
        for x in d:
            rdeps.setdefault(x, []).append(u)
    heap = [(units[u][0], u) for u in range(len(units)) if indeg[u] == 0]
    heapq.heapify(heap)
    nodes: list[Node] = []
    done = 0
    while heap:
        _k, u = heapq.heappop(heap)
        nodes.extend(units[u][1])
        done += 1
        for w in rdeps.get(u, []):
            indeg[w] -= 1
            if indeg[w] == 0:
                heapq.heappush(heap, (units[w][0], w))
    if done != len(units):
        raise _Abort("the region is not convex (a path leaves it and comes back)")
    return g.replace(nodes=nodes, outputs=tuple(fix(r) for r in g.outputs))
