"""Row-blocked execution of JIT graphs on the simulator: a fused region's intermediates stay in the CPU's cache.

On a TT device the point of fusion is locality: a fused region keeps its intermediates in L1 (or in the
kernel's registers) instead of writing each one to DRAM and reading it back. Run op by op, the simulator
loses the same thing on the CPU: every op writes a full float32 tensor to main memory and the next op reads it
back. For the sim backend, codegen therefore runs each *region* of consecutive row-independent ops block by
block along a shared row dim:

    %8  = layer_norm %0 ...                 [1, 128, 128, 128]  rows: dim 1
    %16 = reshape %8 {shape=(128,128,128)}  [128, 128, 128]     rows: dim 0
    %17 = linear %16 %5 ...                 [128, 128, 384]     rows: dim 0
  becomes, in the generated code, one call `v17, = _region0(_a)` that for each block of rows (sized so the
  widest value of a block is about `sim_block_bytes`, 16 MiB by default) runs the three sim rules on the
  block and copies the region's outputs into place.

Which ops qualify: those declaring how they split (`Traits.split`, read by `ttfuse.axes.axes_of`: eltwise,
norms, softmax, matmuls over rows and batch dims, SDPA, the row-wise fused kernels, typecast/clone) plus the
pure data movement declaring row blocks (`Traits.block`: reshape keeping the leading rows, permute, head
split/merge, to_memory_config). A region grows
while each next node has an axis whose inputs from the region are blocked on the dims they were produced on;
a node that reads nothing of the open region is moved in front of it (it is independent), any other node
ends it (it is moved only when its outputs total at most HOIST_BYTES: it then holds them a little longer than
op by op, which raises a memory peak by at most that much). Ops with eager implementations, collectives (`mesh_rule`), in-place ops and ops taking a device
argument never join.

Invariants (tests/test_sim_blocked.py):
- values are bit-identical to running the ops one by one: every op is row-independent along the axis, each
  block has at least `MIN_ROWS` matrix rows (below that BLAS switches kernels and may sum in another order),
  and each output is rounded per block exactly as the executor rounds the whole tensor;
- the device model is unchanged: launch counts are recorded per node, and device memory is allocated and
  freed in node order at full size *before* the blocks run (so peaks and OutOfMemoryErrors are those of the
  op-by-op run, up to the small hoisted nodes above; an input whose last use is inside the region is
  released at that point);
- an error inside the region names the node it happened in (`err.ttfuse_node_id`, read by codegen).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from ttfuse.axes import Axis, axes_of
from ttfuse.backend import OBSERVERS, notify_op
from ttfuse.errors import DeviceError, SpecError
from ttfuse.ir import (
    DeviceArg,
    FrozenList,
    Graph,
    In,
    Node,
    Ref,
    bind_args,
    interpret,
    substitute,
    value_specs,
)
from ttfuse.numerics import round_to_dtype
from ttfuse.opdef import CostCtx, Group, SimCtx, set_device_spec
from ttfuse.sim.device import program_key, record_launches, record_programs
from ttfuse.types import TensorSpec

MIN_ROWS = (
    64  # matrix rows per block (flattened leading dims): BLAS row results are independent of M above 32
)
MIN_NODES = 2  # a single op gains nothing from blocking
HOIST_BYTES = 64 << 10  # a node moved in front of a region holds its outputs that much longer: keep it small
_GEMM_GROUPS = frozenset({Group.MATMUL, Group.ATTENTION, Group.FUSED})  # ops that may run a matrix product
_NO_GEMM = frozenset({"kernels.eltwise"})


# ------------------------------------------------------------------------------------------------- axes
def _axes(node: Node, in_specs: list[TensorSpec]) -> list[Axis]:
    """The axes a node may be blocked on: its op's `Traits.block` rule when it has one, else the axes it splits
    along (`Traits.split`, ttfuse.axes.axes_of), with every chunk alignment dropped (a block holds whole rows)."""
    op = node.opdef
    t = op.traits
    if (
        t.eager_impl is not None
        or t.mesh_rule
        or t.inplace is not None
        or t.consumes is not None
        or not node.outs
        or any(type(v) is DeviceArg for _, v in node.attrs)
    ):
        return []
    if any(s.memory_config.is_sharded() for s in list(in_specs) + list(node.outs)):
        return []
    if t.block is not None:
        try:
            return list(t.block(node, in_specs))
        except (TypeError, IndexError, KeyError, AttributeError):
            return []
    return [Axis(a.out_dim, a.in_dims) for a in axes_of(node, in_specs)]


# ------------------------------------------------------------------------------------------------- plan
@dataclass
class RegionPlan:
    """A run of nodes executed block by block along one row extent."""

    nodes: list[Node]
    axes: list[Axis]  # per node, the axis it is blocked on
    extent: int  # rows along the blocked dims
    block: int = 0  # rows per block (0 until sized)
    dims: dict[int, int] = field(default_factory=dict)  # value -> blocked dim (region-produced values)
    inputs: list[int] = field(default_factory=list)  # values read from outside, in first-use order
    outputs: list[int] = field(default_factory=list)  # values used after the region or returned

    @property
    def produced(self) -> set[int]:
        return set(self.dims)


def _fits(region: RegionPlan, node: Node, in_specs: list[TensorSpec]) -> Axis | None:
    for ax in _axes(node, in_specs):
        if node.outs[0].shape[ax.out_dim] != region.extent:
            continue
        ok = True
        for i, (r, k) in enumerate(zip(node.inputs, ax.in_dims)):
            if r.value in region.dims:
                if k != region.dims[r.value]:
                    ok = False
                    break
            elif k is not None and in_specs[i].shape[k] != region.extent:
                ok = False
                break
        if ok:
            return ax
    return None


def _start(node: Node, in_specs: list[TensorSpec]) -> RegionPlan | None:
    for ax in _axes(node, in_specs):
        ext = node.outs[0].shape[ax.out_dim]
        if ext > 1:
            reg = RegionPlan([node], [ax], ext)
            for j in range(len(node.outs)):
                reg.dims[node.id + j] = ax.out_dim
            return reg
    return None


def _add(region: RegionPlan, node: Node, ax: Axis) -> None:
    region.nodes.append(node)
    region.axes.append(ax)
    for j in range(len(node.outs)):
        region.dims[node.id + j] = ax.out_dim


def _size(region: RegionPlan, graph: Graph, block_bytes: int) -> bool:
    """Pick rows per block; False when the region should run unblocked (one block, too few rows)."""
    index = graph.node_index()
    widest = 0
    min_rows = None  # matrix rows per unit of the blocked dim, over every blocked value
    for n, ax in zip(region.nodes, region.axes):
        specs = list(n.outs) + [
            graph.spec_of(r, index) for r, k in zip(n.inputs, ax.in_dims) if k is not None
        ]
        dims = [ax.out_dim] * len(n.outs) + [k for k in ax.in_dims if k is not None]
        gemm = n.opdef.group in _GEMM_GROUPS and n.op not in _NO_GEMM
        for s in _intermediates(n, graph, index):  # a fused kernel's internal tensors count as block values
            widest = max(widest, s.numel * 4 // region.extent)
        for s, d in zip(specs, dims):
            widest = max(widest, s.numel * 4 // region.extent)
            if gemm:  # BLAS results depend on M only below ~32 rows: keep every block's M above MIN_ROWS
                rows = math.prod(s.shape[d + 1 : -1]) if d < s.rank - 1 else 1
                min_rows = rows if min_rows is None else min(min_rows, rows)
    if widest == 0 or block_bytes <= 0:
        return False
    bs = max(1, block_bytes // widest, -(-MIN_ROWS // max(1, min_rows or 1)))
    n_blocks = -(-region.extent // bs)
    if n_blocks < 2:
        return False
    region.block = -(-region.extent // n_blocks)  # balanced: every block within one row of the others
    if (region.extent // n_blocks) * (min_rows or 1) < MIN_ROWS:
        return False
    return True


def _intermediates(n: Node, graph: Graph, index: dict) -> list[TensorSpec]:
    fn = n.opdef.traits.intermediate_specs
    if fn is None:
        return []
    from ttfuse.verify import spec_args

    ins = [graph.spec_of(r, index) for r in n.inputs]
    try:
        return list(fn(CostCtx(n.opdef, {}, list(n.outs), spec_args(n, ins), None)))
    except SpecError:
        return []


def plan(graph: Graph, block_bytes: int) -> list:
    """The graph's nodes in execution order, runs of row-blocked nodes grouped into RegionPlans."""
    if block_bytes <= 0:
        return list(graph.nodes)
    specs = value_specs(graph)
    items: list = []
    region: RegionPlan | None = None
    hoisted: list[Node] = []

    def close():
        nonlocal region, hoisted
        if region is not None:
            items.extend(hoisted)
            worth = len(region.nodes) >= MIN_NODES or region.nodes[0].opdef.group is Group.FUSED
            if worth and _size(region, graph, block_bytes):
                items.append(region)
            else:
                items.extend(region.nodes)
        region, hoisted = None, []

    for n in graph.nodes:
        in_specs = [specs[r.value] for r in n.inputs]
        if region is not None:
            ax = _fits(region, n, in_specs)
            if ax is not None:
                _add(region, n, ax)
                continue
            if (
                not any(r.value in region.dims for r in n.inputs)
                and sum(o.nbytes for o in n.outs) <= HOIST_BYTES
            ):
                hoisted.append(n)  # small and independent of the open region: runs before it
                continue
            close()
        region = _start(n, in_specs)
        if region is None:
            items.append(n)
    close()
    _io(items, graph)
    return items


def _io(items: list, graph: Graph) -> None:
    """Fill each region's inputs (outside values it reads) and outputs (values read after it or returned)."""
    later_reads: set[int] = {r.value for r in graph.outputs}
    for it in reversed(items):
        nodes = it.nodes if isinstance(it, RegionPlan) else [it]
        if isinstance(it, RegionPlan):
            produced = it.produced
            it.outputs = sorted(v for v in produced if v in later_reads)
            seen: list[int] = []
            for n in nodes:
                for r in n.inputs:
                    if r.value not in produced and r.value not in seen:
                        seen.append(r.value)
            it.inputs = seen
        for n in nodes:
            later_reads.update(r.value for r in n.inputs)


# ---------------------------------------------------------------------------------------------- runtime
class _Slot:
    """A tensor argument of a region step: value `v` (blocked on `dim`, or whole when dim is None)."""

    __slots__ = ("v", "dim")

    def __init__(self, v: int, dim: int | None):
        self.v, self.dim = v, dim


def _template(node: Node, ax: Axis) -> dict:
    return {k: substitute(v, lambda m: _Slot(node.inputs[m.i].value, ax.in_dims[m.i])) for k, v in node.attrs}


def _block_spec(s: TensorSpec, dim: int | None, rows: int) -> TensorSpec:
    if dim is None or s.shape[dim] == rows:
        return s
    shape = list(s.shape)
    shape[dim] = rows
    return s.replace(shape=tuple(shape))


class _Step:
    __slots__ = (
        "node",
        "op",
        "args",
        "in_specs",
        "outs",
        "dims",
        "launches",
        "program",
        "keep",
        "view",
        "block_specs",
        "full_args",
    )

    def __init__(self, node: Node, ax: Axis, in_specs: list[TensorSpec]):
        from ttfuse.verify import spec_args

        self.node = node
        self.op = node.opdef
        self.args = _template(node, ax)
        full = spec_args(node, in_specs)
        self.full_args = full  # every argument, tensors as their full TensorSpecs (the profiler's view)
        self.in_specs = {k: full[k] for k, v in node.attrs if _has_in(v)}
        self.outs = list(node.outs)
        self.dims = ax
        self.launches = self.op.num_launches(self.outs, full)
        self.program = program_key(self.op.qualname, full, self.outs)  # the key the eager call has
        tensor_specs = list(in_specs)
        self.keep = (
            self.op.group is Group.DATA_MOVEMENT
            and bool(tensor_specs)
            and all(s.dtype is self.outs[0].dtype and not s.dtype.is_block_float for s in tensor_specs)
            and all(s.dtype is self.outs[0].dtype for s in self.outs)
        )
        self.view = self.op.is_view(self.outs, full, self.launches)  # no allocation of its own (a view)
        self.block_specs: dict[int, tuple] = {}

    def specs_for(self, rows: int) -> tuple:
        got = self.block_specs.get(rows)
        if got is None:
            ins = {k: _sub_specs(v, self.args[k], rows) for k, v in self.in_specs.items()}
            outs = [_block_spec(s, self.dims.out_dim, rows) for s in self.outs]
            out = tuple(outs) if self.node.multi else outs[0]
            got = self.block_specs[rows] = (ins, out, outs)
        return got


def _has_in(v) -> bool:
    if type(v) is In:
        return True
    return type(v) in (tuple, FrozenList) and any(_has_in(x) for x in v)


def _sub_specs(spec, slot, rows: int):
    if isinstance(spec, TensorSpec):
        return _block_spec(spec, slot.dim, rows)
    return type(spec)(
        _sub_specs(s, sl, rows) if isinstance(sl, _Slot | list | tuple) else s for s, sl in zip(spec, slot)
    )


class Region:
    """The runtime of one RegionPlan: `region(args)` with `args` the input tensors (a list it may clear:
    an input whose last use is inside the region is dropped there) -> tuple of the output tensors."""

    def __init__(self, rp: RegionPlan, graph: Graph):
        specs = value_specs(graph)
        self.plan = rp
        self.steps = [_Step(n, ax, [specs[r.value] for r in n.inputs]) for n, ax in zip(rp.nodes, rp.axes)]
        self.at = {st.node.id: k for k, st in enumerate(self.steps)}
        self.specs = {v: specs[v] for v in rp.inputs}  # every value's full spec
        for st in self.steps:
            for j, s in enumerate(st.outs):
                self.specs[st.node.id + j] = s
        self.pos = {v: i for i, v in enumerate(rp.inputs)}
        outputs = set(rp.outputs)
        # last step reading each value inside the region
        last: dict[int, int] = {}
        for k, st in enumerate(self.steps):
            for r in st.node.inputs:
                last[r.value] = k
        self.last = last
        # views share their source's storage: the root value that owns the device allocation
        root: dict[int, int] = {}
        for st in self.steps:
            for j in range(len(st.outs)):
                v = st.node.id + j
                root[v] = root.get(st.node.inputs[0].value, st.node.inputs[0].value) if st.view else v
        self.root = root
        holders: dict[int, list[int]] = {}
        for v, r in root.items():
            holders.setdefault(r, []).append(v)
        self.holders = holders
        self.outputs_set = outputs
        # per block: values to drop after step k (block-local values and blocked input slices)
        self.drop_after: list[list[int]] = [[] for _ in self.steps]
        for v, k in last.items():
            if v not in outputs:
                self.drop_after[k].append(v)

    def label(self) -> str:
        n = self.plan.nodes
        return (
            f"%{n[0].id}..%{n[-1].id} ({len(n)} ops) row-blocked: {-(-self.plan.extent // self.plan.block)} "
            f"blocks of {self.plan.block} of {self.plan.extent} rows"
        )

    # ----------------------------------------------------------------------------------- device model
    def _account(self, device, args: list) -> dict[int, list]:
        """Allocate and free device memory in node order at full size; returns the output allocations."""
        from ttfuse.sim.executor import ViewStorage, _allocate

        live: dict[int, list] = {}  # root value -> per-chip allocations
        outs: dict[int, list] = {}
        dead: set[int] = set()
        for k, st in enumerate(self.steps):
            device.check_open(st.op.qualname)
            if not st.view:
                for j, s in enumerate(st.outs):
                    live[st.node.id + j] = _allocate(device, s, st.op.qualname)
            for j in range(len(st.outs)):
                v = st.node.id + j
                if v in self.outputs_set:
                    r = self.root[v]
                    if r in live:
                        outs[v] = live[r]
                    elif r in self.pos:  # a view of a region input
                        outs[v] = [ViewStorage(args[self.pos[r]]) for _ in device.chips]
            if st.launches:
                record_launches(device, st.op.short, st.launches)
                record_programs(device, st.program, st.launches, st.op.qualname)
                if OBSERVERS:  # a profile is active (ttfuse/profiler): the node, at full size
                    ins = [
                        getattr(args[self.pos[r.value]], "_bufs", None)
                        if r.value in self.pos
                        else live.get(self.root.get(r.value))
                        for r in st.node.inputs
                    ]
                    bufs = [live.get(self.root.get(st.node.id + j)) for j in range(len(st.outs))]
                    notify_op(device, st.op, st.full_args, st.outs, st.launches, ins, bufs, st.node)
            for r in st.node.inputs:
                if self.last.get(r.value) != k or r.value in dead:
                    continue
                dead.add(r.value)
                if (
                    r.value in self.pos
                ):  # an input dies here: drop the region's reference (frees it if unshared)
                    if not any(h in self.outputs_set for h in self.holders.get(r.value, [])):
                        args[self.pos[r.value]] = None  # (unless an output is a view of it: that keeps it)
                    continue
                rt = self.root.get(r.value)
                if (
                    rt is not None
                    and rt in live
                    and all(h in dead and h not in self.outputs_set for h in self.holders.get(rt, []))
                ):
                    for a in live.pop(rt):
                        a.free()
        for v in list(live):  # produced but never read nor returned (dead code kept by the graph)
            if not any(h in self.outputs_set for h in self.holders.get(v, [])) and all(
                h not in self.last for h in self.holders.get(v, [])
            ):
                for a in live.pop(v):
                    a.free()
        return outs

    # ------------------------------------------------------------------------------------------ values
    def __call__(self, args: list):
        from ttfuse.tensor import Tensor

        device = None
        for v, i in self.pos.items():
            t = args[i]
            if t._bufs is None or t._shards is None:
                st = next(st for st in self.steps if any(r.value == v for r in st.node.inputs))
                raise _tag(
                    DeviceError(
                        f"{st.op.qualname}: an input tensor was deallocated (use after ttnn.deallocate)"
                    ),
                    st.node,
                )
            device = device or t._device
        t = None  # the region holds its inputs through `args` only: _account drops the ones that die inside
        set_device_spec(device.spec, (device.shape.rows, device.shape.cols))
        shards = {v: args[i]._shards for v, i in self.pos.items()}
        try:
            bufs = self._account(device, args)
        except Exception as e:
            raise _tag(e, self._current_node(e)) from None
        args.clear()
        rp = self.plan
        results = {v: [] for v in rp.outputs}
        for ci, chip in enumerate(device.chips):
            full = {
                v: torch.empty(tuple(self.specs[v].shape), dtype=_torch_dtype(self.specs[v]))
                for v in rp.outputs
            }
            for start in range(0, rp.extent, rp.block):
                rows = min(rp.block, rp.extent - start)
                self._block(device, chip, ci, shards, full, start, rows)
            for v in rp.outputs:
                results[v].append(full[v])
        return tuple(Tensor(self.specs[v], results[v], device, bufs[v]) for v in rp.outputs)

    def _block(self, device, chip, ci: int, shards: dict, full: dict, start: int, rows: int) -> None:
        """One block of rows through the region's steps, by the graph interpreter (ttfuse/ir/interp.py)."""
        env: dict[int, torch.Tensor] = {}
        sliced: dict[tuple[int, int | None], torch.Tensor] = {}

        def read(n: Node, i: int, r: Ref):
            """A region value of this block, or this block's rows of a region input (whole when not blocked)."""
            if r.value in env:
                return env[r.value]
            dim = self.steps[self.at[n.id]].dims.in_dims[i]
            key = (r.value, dim)
            t = sliced.get(key)
            if t is None:
                t = shards[r.value][ci]
                if dim is not None:
                    t = t.narrow(dim, start, rows)
                sliced[key] = t
            return t

        def step(n: Node, in_values: list) -> list:
            k = self.at[n.id]
            st = self.steps[k]
            ins, out_spec, outs = st.specs_for(rows)
            vals = bind_args(n, in_values)
            try:
                res = st.op.sim_rule(SimCtx(st.op, out_spec, ins, chip, ci, device), **vals)
            except Exception as e:
                raise _tag(e, st.node) from None
            res = list(res) if st.node.multi else [res]
            made = []
            taken = None
            for j, (r, s) in enumerate(zip(res, outs)):
                if not st.keep:
                    if taken is None:
                        taken = {x.untyped_storage().data_ptr() for x in _flat(vals.values())}
                    fresh = (
                        r._base is None and r.is_contiguous() and r.untyped_storage().data_ptr() not in taken
                    )
                    r = round_to_dtype(r, s.dtype.value, inplace=fresh)
                    if fresh:
                        taken.add(r.untyped_storage().data_ptr())
                v = st.node.id + j
                if v in full:
                    full[v].narrow(st.dims.out_dim, start, rows).copy_(r)
                made.append(r)
            for v in self.drop_after[k]:
                env.pop(v, None)
            return made  # bound to the node's values by the interpreter

        interpret([st.node for st in self.steps], step, env, read=read)

    def _current_node(self, e: BaseException) -> Node:
        name = str(e).split(":", 1)[0]
        for st in self.steps:
            if st.op.qualname == name:
                return st.node
        return self.steps[0].node


def _flat(vals):
    for v in vals:
        if isinstance(v, torch.Tensor):
            yield v
        elif isinstance(v, list | tuple):
            yield from _flat(v)


def _torch_dtype(spec: TensorSpec) -> torch.dtype:
    return torch.int64 if spec.dtype.is_integer else torch.float32


def _tag(e: BaseException, node: Node) -> BaseException:
    """The error with the node it happened in (codegen's error mapping names it)."""
    try:
        e.ttfuse_node_id = node.id  # type: ignore[attr-defined]
    except AttributeError:
        pass
    return e
