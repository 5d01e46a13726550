"""Collectives over a mesh: all_gather, reduce_scatter, all_reduce and their experimental async forms.

What: `ttnn.all_gather` (concatenate along `dim` over the devices of `cluster_axis`, the whole mesh when None),
`ttnn.reduce_scatter` (sum, then device p of the group keeps slice p along `dim`), `ttnn.all_reduce` (sum,
replicated), `ttnn.experimental.all_gather_async` / `reduce_scatter_minimal_async` (same math; semaphores,
barrier semaphores and persistent buffers are accepted, validated for shape and otherwise ignored: the sim has
no asynchrony), plus the `ttnn.Topology` enum and a `create_global_semaphore` stand-in. The MoE all-to-all pair
(`all_to_all_dispatch` / `all_to_all_combine`) lives with the other MoE routing ops in ttfuse/ops/moe.py.

Invariants:
- Sim rules are mesh rules (`Traits.mesh_rule`): they get the list of per-device shards in row-major device
  order and return one output per device. Spec rules give the per-device output spec; the axis size comes from
  `ttfuse.opdef.current_mesh_shape()` (set by the eager trace from the input's mesh, by capture from the target).
- Groups: cluster_axis=0 groups the devices of one mesh column (ordered by row), cluster_axis=1 those of one
  row (ordered by column), None the whole mesh in row-major order.
- Sums are computed in float32 and rounded once to the output dtype by the executor.
- Cost: `OpCost.link_bytes` is the per-device ethernet traffic of a ring algorithm: all_gather (P-1)/P of the
  output, reduce_scatter (P-1)/P of the input, all_reduce twice that of reduce_scatter.

Extend: a new collective is a spec rule built on `axis_size`, a mesh sim rule built on `axis_groups`, and a cost rule
on `_ccl_cost`; register the async variant with the same rules.
"""

from __future__ import annotations

import torch

from ttfuse.configs import register_enum
from ttfuse.opdef import CostCtx, Group, OpCost, Traits, current_mesh_shape, register_op
from ttfuse.ops.common import fail, io_bytes, need_memory_config, need_spec, norm_dim
from ttfuse.types import BufferType, DataType, TensorSpec, TtnnEnum

__ttnn_exports__ = ("Topology", "create_global_semaphore")

_MESH = Traits(mesh_rule=True)  # sim rules see every device's shard
_REDUCE_DTYPES = frozenset({DataType.BFLOAT16, DataType.BFLOAT8_B, DataType.FLOAT32})


@register_enum
class Topology(TtnnEnum):
    """`ttnn.Topology`: fabric topology of a collective (the sim computes the same result for all)."""

    Linear = 1  # values as in ttnn 0.81.1
    Ring = 2
    Mesh = 3
    Torus = 4


class GlobalSemaphore:
    """Stand-in for `ttnn.GlobalSemaphore`: async collectives accept it; the eager sim never waits on it."""

    def __init__(self, mesh_device, cores=None, initial_value: int = 0, buffer_type=None):
        self.mesh_device, self.cores, self.initial_value, self.buffer_type = (
            mesh_device,
            cores,
            initial_value,
            buffer_type,
        )

    def __repr__(self) -> str:
        return f"ttnn.GlobalSemaphore(initial_value={self.initial_value})"


def create_global_semaphore(mesh_device, cores, initial_value, buffer_type=BufferType.L1) -> GlobalSemaphore:
    """`ttnn.create_global_semaphore(mesh_device, cores, initial_value)`: a semaphore handle for async CCLs."""
    return GlobalSemaphore(mesh_device, cores, initial_value, buffer_type)


# --------------------------------------------------------------------------------------------------- helpers
def axis_size(op: str, cluster_axis) -> int:
    rows, cols = current_mesh_shape()
    if cluster_axis is None:
        return rows * cols
    if cluster_axis not in (0, 1) or isinstance(cluster_axis, bool):
        raise fail(op, f"argument 'cluster_axis' must be 0, 1 or None for a 2-D mesh, got {cluster_axis!r}")
    return (rows, cols)[cluster_axis]


def axis_groups(mesh, cluster_axis) -> list[list[int]]:
    """Device indices (row-major) of each independent collective group, each group in axis order."""
    rows, cols = mesh.shape.rows, mesh.shape.cols
    if cluster_axis is None:
        return [list(range(rows * cols))]
    if cluster_axis == 0:
        return [[r * cols + c for r in range(rows)] for c in range(cols)]
    return [[r * cols + c for c in range(cols)] for r in range(rows)]


def _check_common(
    op: str, input_tensor, memory_config, topology, *, dtypes=None, min_rank: int = 1
) -> TensorSpec:
    x = need_spec(op, "input_tensor", input_tensor)
    if x.rank < min_rank:
        raise fail(op, f"argument 'input_tensor' must have rank >= {min_rank}, got shape {list(x.shape)}")
    if dtypes is not None and x.dtype not in dtypes:
        names = ", ".join(sorted(d.value for d in dtypes))
        raise fail(op, f"argument 'input_tensor' has dtype {x.dtype.value}; supported: {names}")
    need_memory_config(op, memory_config)
    if topology is not None and not isinstance(topology, Topology):
        raise fail(op, f"argument 'topology' must be a ttnn.Topology, got {topology!r}")
    return x


def _check_output(op: str, arg: str, t, out: TensorSpec) -> None:
    """Preallocated/persistent output buffers: validated, not aliased (the sim returns a fresh tensor)."""
    if t is None:
        return
    o = need_spec(op, arg, t)
    if o.shape != out.shape or o.dtype is not out.dtype:
        raise fail(op, f"argument {arg!r} is {o}; the output is {out}")


def _gather_spec(op: str, input_tensor, dim, cluster_axis, memory_config, topology) -> TensorSpec:
    x = _check_common(op, input_tensor, memory_config, topology)
    d = norm_dim(op, dim, x.rank)
    p = axis_size(op, cluster_axis)
    shape = list(x.shape)
    shape[d] *= p
    return x.replace(shape=tuple(shape), memory_config=memory_config or x.memory_config)


def _scatter_spec(op: str, input_tensor, dim, cluster_axis, memory_config, topology) -> TensorSpec:
    x = _check_common(op, input_tensor, memory_config, topology, dtypes=_REDUCE_DTYPES, min_rank=2)
    d = norm_dim(op, dim, x.rank)
    p = axis_size(op, cluster_axis)
    if x.shape[d] % p:
        raise fail(
            op,
            f"argument 'dim'={dim}: size {x.shape[d]} is not divisible by the {p} devices of the "
            f"{'mesh' if cluster_axis is None else f'cluster axis {cluster_axis}'}",
        )
    shape = list(x.shape)
    shape[d] //= p
    return x.replace(shape=tuple(shape), memory_config=memory_config or x.memory_config)


def _gather_sim(ctx, shards, dim, cluster_axis) -> list:
    d = dim % shards[0].dim()
    out = [None] * len(shards)
    for grp in axis_groups(ctx.mesh, cluster_axis):
        full = torch.cat([shards[i] for i in grp], d)
        for i in grp:
            out[i] = full
    return out


def _scatter_sim(ctx, shards, dim, cluster_axis) -> list:
    d = dim % shards[0].dim()
    out = [None] * len(shards)
    for grp in axis_groups(ctx.mesh, cluster_axis):
        parts = torch.stack([shards[i] for i in grp]).sum(0).chunk(len(grp), d)
        for pos, i in enumerate(grp):
            out[i] = parts[pos].contiguous()
    return out


def _reduce_sim(ctx, shards, cluster_axis) -> list:
    out = [None] * len(shards)
    for grp in axis_groups(ctx.mesh, cluster_axis):
        total = torch.stack([shards[i] for i in grp]).sum(0)
        for i in grp:
            out[i] = total
    return out


def _ccl_cost(kind: str):
    def cost(ctx: CostCtx) -> OpCost:
        x = ctx.in_specs["input_tensor"]
        out = ctx.out_specs[0]
        p = axis_size(ctx.op.name, ctx.args.get("cluster_axis"))
        dram, l1 = io_bytes([x, out])
        if kind == "gather":
            link = (p - 1) * x.nbytes
            flops = 0.0
        elif kind == "scatter":
            link = (p - 1) * out.nbytes
            flops = float((p - 1) * out.numel)
        else:
            link = 2 * (p - 1) * x.nbytes // max(p, 1)
            flops = float((p - 1) * x.numel / max(p, 1))
        return OpCost(flops=flops, dram_bytes=dram, l1_bytes=l1, launches=1, link_bytes=link)

    return cost


# ---------------------------------------------------------------------------------------------- all_gather
@register_op("all_gather", Group.CCL, traits=_MESH)
def all_gather(
    input_tensor,
    dim,
    *,
    cluster_axis=None,
    memory_config=None,
    output_tensor=None,
    subdevice_id=None,
    sub_core_grids=None,
    num_links=None,
    topology=None,
    chunks_per_sync=None,
    num_workers_per_link=None,
    num_buffers_per_channel=None,
    use_l1_small_for_semaphores=False,
):
    """Concatenate the per-device tensors along `dim` across the devices of `cluster_axis` (whole mesh if None)."""


@all_gather.spec
def _all_gather_spec(input_tensor, dim, *, cluster_axis, memory_config, output_tensor, topology, **_):
    out = _gather_spec("all_gather", input_tensor, dim, cluster_axis, memory_config, topology)
    return out


@all_gather.sim
def _all_gather_sim(ctx, input_tensor, dim, *, cluster_axis, **_):
    return _gather_sim(ctx, input_tensor, dim, cluster_axis)


# ------------------------------------------------------------------------------------------ reduce_scatter
@register_op("reduce_scatter", Group.CCL, traits=_MESH)
def reduce_scatter(
    input_tensor,
    dim,
    *,
    cluster_axis=None,
    subdevice_id=None,
    memory_config=None,
    intermediate_memory_config=None,
    output_tensor=None,
    num_links=None,
    topology=None,
    chunks_per_sync=None,
    num_workers_per_link=None,
    num_buffers_per_channel=None,
    compute_kernel_config=None,
    use_l1_small_for_semaphores=False,
):
    """Sum over the devices of `cluster_axis`, then device p keeps slice p of `dim` (dim divisible by P)."""


@reduce_scatter.spec
def _reduce_scatter_spec(
    input_tensor,
    dim,
    *,
    cluster_axis,
    memory_config,
    intermediate_memory_config,
    output_tensor,
    topology,
    **_,
):
    need_memory_config("reduce_scatter", intermediate_memory_config)
    out = _scatter_spec("reduce_scatter", input_tensor, dim, cluster_axis, memory_config, topology)
    return out


@reduce_scatter.sim
def _reduce_scatter_sim(ctx, input_tensor, dim, *, cluster_axis, **_):
    return _scatter_sim(ctx, input_tensor, dim, cluster_axis)


# ---------------------------------------------------------------------------------------------- all_reduce
@register_op("all_reduce", Group.CCL, traits=_MESH)
def all_reduce(
    input_tensor, *, cluster_axis=None, subdevice_id=None, memory_config=None, num_links=None, topology=None
):
    """Sum over the devices of `cluster_axis` (whole mesh if None); the result is replicated on each."""


@all_reduce.spec
def _all_reduce_spec(input_tensor, *, cluster_axis, memory_config, topology, **_):
    x = _check_common("all_reduce", input_tensor, memory_config, topology, dtypes=_REDUCE_DTYPES, min_rank=2)
    axis_size("all_reduce", cluster_axis)
    return x.replace(memory_config=memory_config or x.memory_config)


@all_reduce.sim
def _all_reduce_sim(ctx, input_tensor, *, cluster_axis, **_):
    return _reduce_sim(ctx, input_tensor, cluster_axis)


# ------------------------------------------------------------------------------------------- async variants
def _need_async_args(op: str, dim, sem) -> None:
    if dim is None or isinstance(dim, bool) or not isinstance(dim, int):
        raise fail(
            op,
            f"argument 'dim' is required (an int), got {dim!r}; pass dim= and "
            "multi_device_global_semaphore= by keyword",
        )
    if sem is None or isinstance(sem, int):
        raise fail(
            op,
            f"argument 'multi_device_global_semaphore' is required (from ttnn.create_global_semaphore), "
            f"got {sem!r}",
        )


@register_op("experimental.all_gather_async", Group.CCL, traits=_MESH)
def all_gather_async(
    input_tensor,
    dim=None,
    multi_device_global_semaphore=None,
    *,
    persistent_output_buffer=None,
    persistent_output_tensor=None,
    cluster_axis=None,
    mesh_device=None,
    num_links=None,
    memory_config=None,
    topology=Topology.Ring,
    subdevice_id=None,
    use_optimal_ccl_for_llama=False,
    use_broadcast=False,
    barrier_semaphore=None,
    chunks_per_sync=None,
    num_workers_per_link=None,
    num_buffers_per_channel=None,
    sub_core_grids=None,
):
    """all_gather with fabric semaphores (ignored by the sim); ttnn's three overloads merged, keywords only."""


@all_gather_async.spec
def _all_gather_async_spec(
    input_tensor,
    dim,
    multi_device_global_semaphore,
    *,
    persistent_output_buffer,
    persistent_output_tensor,
    cluster_axis,
    memory_config,
    topology,
    **_,
):
    op = "experimental.all_gather_async"
    _need_async_args(op, dim, multi_device_global_semaphore)
    out = _gather_spec(op, input_tensor, dim, cluster_axis, memory_config, topology)
    _check_output(op, "persistent_output_buffer", persistent_output_buffer, out)
    _check_output(op, "persistent_output_tensor", persistent_output_tensor, out)
    return out


@all_gather_async.sim
def _all_gather_async_sim(ctx, input_tensor, dim, multi_device_global_semaphore, *, cluster_axis, **_):
    return _gather_sim(ctx, input_tensor, dim, cluster_axis)


@register_op("experimental.reduce_scatter_minimal_async", Group.CCL, traits=_MESH)
def reduce_scatter_minimal_async(
    input_tensor,
    persistent_output_buffers=None,
    dim=None,
    multi_device_global_semaphore=None,
    *,
    barrier_semaphore=None,
    num_links=None,
    memory_config=None,
    intermediate_memory_config=None,
    topology=Topology.Ring,
    subdevice_id=None,
    cluster_axis=None,
    chunks_per_sync=None,
    num_workers_per_link=None,
    num_buffers_per_channel=None,
    compute_kernel_config=None,
):
    """reduce_scatter with fabric semaphores and optional persistent [intermediate, output] buffers (ignored)."""


@reduce_scatter_minimal_async.spec
def _rs_async_spec(
    input_tensor,
    persistent_output_buffers,
    dim,
    multi_device_global_semaphore,
    *,
    memory_config,
    intermediate_memory_config,
    topology,
    cluster_axis,
    **_,
):
    op = "experimental.reduce_scatter_minimal_async"
    _need_async_args(op, dim, multi_device_global_semaphore)
    need_memory_config(op, intermediate_memory_config)
    out = _scatter_spec(op, input_tensor, dim, cluster_axis, memory_config, topology)
    if persistent_output_buffers is not None:
        bufs = list(persistent_output_buffers)
        if not bufs or not all(isinstance(b, TensorSpec) for b in bufs):
            raise fail(
                op,
                "argument 'persistent_output_buffers' must be a list of ttnn.Tensors "
                "([intermediate, output])",
            )
        _check_output(op, "persistent_output_buffers", bufs[-1], out)
    return out


@reduce_scatter_minimal_async.sim
def _rs_async_sim(
    ctx, input_tensor, persistent_output_buffers, dim, multi_device_global_semaphore, *, cluster_axis, **_
):
    return _scatter_sim(ctx, input_tensor, dim, cluster_axis)


for _op, _kind in (
    (all_gather, "gather"),
    (all_gather_async, "gather"),
    (reduce_scatter, "scatter"),
    (reduce_scatter_minimal_async, "scatter"),
    (all_reduce, "reduce"),
):
    _op.cost(_ccl_cost(_kind))
