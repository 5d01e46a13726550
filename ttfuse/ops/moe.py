"""MoE routing ops of ttnn 0.81.1: `ttnn.all_to_all_dispatch` / `ttnn.all_to_all_combine` (collectives: tokens to the
devices of their experts and back, mesh sim rules over ccl.axis_groups; see their docstrings for the shape rule and
its evidence) and `ttnn.moe_expert_token_remap`: per device, the top-k scores of the tokens routed to its local
experts, and a per-chunk "any token routed here" mask that `ttnn.sparse_matmul` takes as its sparsity.

`moe_expert_token_remap(topk_tensor, expert_mapping_tensor, expert_metadata_tensor, *, memory_config=None,
optional_output_mapping_tensor=None, optional_output_reduced_tensor=None, reduction_size=16)` on each device d of
a mesh of D devices (tt-metal ttnn/cpp/ttnn/operations/data_movement/moe_expert_token_remap):
- topk_tensor [1, B, S, E] scores over all E experts (ROW_MAJOR); expert_mapping_tensor [1, 1, E, D] UINT16
  ROW_MAJOR, one-hot: expert g lives on device d where it is non-zero; expert_metadata_tensor [1, B, S, K] UINT16
  ROW_MAJOR, the K experts each token selected. Validation: mapping's last dim is D, its dim -2 is E (topk's last
  dim), metadata's batch equals topk's; reduction_size positive and dividing B*S (the writer flushes whole chunks).
- mapping output [1, B, S, E/D] (topk's dtype and layout): for local expert j (the j-th expert of device d in
  expert order) out[.., j] = topk[.., g_j] if the token selected g_j, else 0 (the writer kernel's rule);
- reduced output [1, 1, B*S/reduction_size, E/D] UINT16 (topk's layout): 1 where any token of the chunk has a
  non-zero mapping entry for expert j ("reduces the mapping tensor by chunks of reduction_size"), else 0.
Both in `memory_config` or DRAM interleaved. Preallocated outputs are not modelled (SpecError naming them).
"""

from __future__ import annotations

import torch

from ttfuse.opdef import CostCtx, Group, OpCost, Traits, current_mesh_shape, register_op
from ttfuse.ops.ccl import Topology, axis_groups, axis_size
from ttfuse.ops.common import fail, io_bytes, need_dtype, need_memory_config, need_spec
from ttfuse.ops.data_movement import static_cost
from ttfuse.types import DRAM_MEMORY_CONFIG, BufferType, DataType, Layout, TensorSpec

_OP = "moe_expert_token_remap"


@register_op(_OP, Group.DATA_MOVEMENT, traits=Traits())
def moe_expert_token_remap(
    topk_tensor,
    expert_mapping_tensor,
    expert_metadata_tensor,
    *,
    memory_config=None,
    optional_output_mapping_tensor=None,
    optional_output_reduced_tensor=None,
    reduction_size=16,
):
    """(scores of the tokens routed to this device's experts, per-chunk routed mask) -- see the module docstring."""


@moe_expert_token_remap.spec
def _remap_spec(
    topk_tensor,
    expert_mapping_tensor,
    expert_metadata_tensor,
    *,
    memory_config,
    optional_output_mapping_tensor,
    optional_output_reduced_tensor,
    reduction_size,
):
    t = need_spec(_OP, "topk_tensor", topk_tensor)
    m = need_spec(_OP, "expert_mapping_tensor", expert_mapping_tensor)
    md = need_spec(_OP, "expert_metadata_tensor", expert_metadata_tensor)
    for arg, s in (("topk_tensor", t), ("expert_mapping_tensor", m), ("expert_metadata_tensor", md)):
        if s.layout is not Layout.ROW_MAJOR:
            raise fail(_OP, f"argument {arg!r} must be in ROW_MAJOR layout")
        if s.rank != 4:
            raise fail(_OP, f"argument {arg!r} must be rank 4, got {list(s.shape)}")
    need_dtype(_OP, "expert_mapping_tensor", m, (DataType.UINT16,))
    need_dtype(_OP, "expert_metadata_tensor", md, (DataType.UINT16,))
    rows, cols = current_mesh_shape()
    devices = rows * cols
    if m.shape[-1] != devices:
        raise fail(
            _OP,
            f"argument 'expert_mapping_tensor' {list(m.shape)}: its last dim must be the {devices} devices",
        )
    experts = m.shape[-2]
    if experts != t.shape[-1]:
        raise fail(
            _OP, f"argument 'expert_mapping_tensor' has {experts} experts; 'topk_tensor' has {t.shape[-1]}"
        )
    if md.shape[1] != t.shape[1]:
        raise fail(
            _OP,
            f"argument 'expert_metadata_tensor' batch {md.shape[1]} differs from the topk batch {t.shape[1]}",
        )
    if experts % devices:
        raise fail(_OP, f"{experts} experts do not split evenly over {devices} devices")
    b, s = md.shape[1], md.shape[2]
    if isinstance(reduction_size, bool) or not isinstance(reduction_size, int) or reduction_size < 1:
        raise fail(_OP, f"argument 'reduction_size' must be a positive int, got {reduction_size!r}")
    if (b * s) % reduction_size:
        raise fail(_OP, f"argument 'reduction_size'={reduction_size} must divide batch * seq = {b * s}")
    for arg, v in (
        ("optional_output_mapping_tensor", optional_output_mapping_tensor),
        ("optional_output_reduced_tensor", optional_output_reduced_tensor),
    ):
        if v is not None:
            raise fail(_OP, f"argument {arg!r}: preallocated outputs are not modelled by ttfuse")
    need_memory_config(_OP, memory_config)
    mc = memory_config or DRAM_MEMORY_CONFIG
    local = experts // devices
    return (
        TensorSpec((1, b, s, local), t.dtype, t.layout, mc),
        TensorSpec((1, 1, b * s // reduction_size, local), DataType.UINT16, t.layout, mc),
    )


@moe_expert_token_remap.sim
def _remap_sim(ctx, topk_tensor, expert_mapping_tensor, expert_metadata_tensor, *, reduction_size=16, **_):
    d = ctx.device_index
    local = torch.nonzero(
        expert_mapping_tensor[0, 0, :, d]
    ).flatten()  # this device's experts, in expert order
    meta = expert_metadata_tensor[0].long()  # [B, S, K]
    chosen = (meta[..., None] == local).any(-2)  # [B, S, E_local]: the token selected local expert j
    mapping = torch.where(chosen, topk_tensor[0][..., local], torch.zeros(()))[None]
    b, s, n = mapping.shape[1:]
    reduced = (mapping.reshape(-1, reduction_size, n) != 0).any(1).float()[None, None]
    return mapping, reduced


moe_expert_token_remap.cost_rule = static_cost


# ------------------------------------------------------------------------------------ all-to-all dispatch/combine
# Both are collectives (mesh sim rules) over the devices of `cluster_axis`, P of them ("the group", ccl.axis_groups).
# The hardware works on flat token rows (one ROW_MAJOR page of H per token), so the sim does too: a device's T input
# tokens are its input rows in order, and token t of the device at position p of the group is global token p*T + t.
_DISPATCH, _COMBINE = "all_to_all_dispatch", "all_to_all_combine"
_MOE_CCL = Traits(mesh_rule=True)


def _rm_rank4(op: str, arg: str, v, dtype: DataType) -> TensorSpec:
    s = need_spec(op, arg, v)
    if s.layout is not Layout.ROW_MAJOR:
        raise fail(op, f"argument {arg!r} must be in ROW_MAJOR layout, got {s.layout!r} (use ttnn.to_layout)")
    need_dtype(op, arg, s, (dtype,))
    if s.rank != 4:
        raise fail(op, f"argument {arg!r} must be rank 4, got {list(s.shape)}")
    return s


def _mapping(op: str, expert_mapping_tensor) -> tuple[int, int]:
    """(experts, devices) of the one-hot [1, 1, E, D] mapping; its last dim must be the mesh's D devices (the
    kernels index it by the linearised mesh coordinate)."""
    m = _rm_rank4(op, "expert_mapping_tensor", expert_mapping_tensor, DataType.UINT16)
    rows, cols = current_mesh_shape()
    if m.shape[-1] != rows * cols:
        raise fail(
            op,
            f"argument 'expert_mapping_tensor' {list(m.shape)}: its last dim must be the {rows * cols} devices "
            f"of the {rows}x{cols} mesh",
        )
    return m.shape[-2], rows * cols


def _ccl_kwargs(op: str, arg: str, dim, memory_config, topology, num_links) -> None:
    if dim not in (1, 2) or isinstance(dim, bool):
        raise fail(op, f"argument {arg!r} must be 1 or 2, got {dim!r}")
    need_memory_config(op, memory_config)
    if memory_config is not None and memory_config.is_sharded():
        raise fail(op, "argument 'memory_config' must not be sharded (interleaved DRAM or L1 only)")
    if topology is not None and not isinstance(topology, Topology):
        raise fail(op, f"argument 'topology' must be a ttnn.Topology, got {topology!r}")
    if num_links is not None and (
        isinstance(num_links, bool) or not isinstance(num_links, int) or num_links < 1
    ):
        raise fail(op, f"argument 'num_links' must be a positive int or None, got {num_links!r}")


def _check_experts(op: str, arg: str, idx: torch.Tensor, experts: int) -> None:
    """Expert indices address rows of the mapping table; the hardware reads past it for a larger one."""
    if idx.numel() and int(idx.max()) >= experts:
        raise fail(
            op, f"argument {arg!r} holds expert {int(idx.max())}, but the mapping has {experts} experts"
        )


@register_op(_DISPATCH, Group.CCL, traits=_MOE_CCL)
def all_to_all_dispatch(
    input_tensor,
    expert_indices_tensor,
    expert_mapping_tensor,
    *,
    cluster_axis=None,
    output_tensors=None,
    num_links=None,
    topology=None,
    memory_config=None,
    subdevice_id=None,
    output_concat_dim=1,
):
    """Send each token to the devices of its group that hold one of its K selected experts.

    Per device: input_tensor [B, 1, S, H] BFLOAT16, expert_indices_tensor [B, 1, S, K] UINT16 (both ROW_MAJOR,
    sharded along the group), expert_mapping_tensor [1, 1, E, D] UINT16 one-hot, replicated. Returns (tokens,
    metadata): tokens [1, B*P, S, H] (output_concat_dim=1) or [1, B, S*P, H] (=2), row p*B*S + t holding token t
    of group position p where it selected an expert of this device, a zero row elsewhere (ttnn: "placeholder rows
    populated with garbage", an uninitialised buffer); metadata [1, B*P, S, K] / [1, B, S*P, K] UINT16, the
    indices all-gathered over the group (identical on each of its devices).

    Shape rule, from ttnn 0.81.1's own sources (the wheel ships them: ttnn/cpp/ttnn/operations/ccl/
    all_to_all_dispatch/device/all_to_all_dispatch_device_operation.cpp `compute_output_specs`): batch =
    input.shape[0] * P (concat dim 1), seq = indices.shape[-2] (* P for concat dim 2). The writer kernel sends
    input page t (T = B * shape[1] * S rows) to output page p*T + t, and the wheel's golden function reads
    input_tensor[:, 0]: so tokens are [B, 1, S, H], as tt-symbiote passes them. The nanobind docstring's
    [B, S, 1, H] gives an output of B*P*1 rows for B*P*S written ones (out of bounds on the device); ttfuse
    rejects input dim 1 != 1 rather than model that. Preallocated `output_tensors` are not modelled.
    """


@all_to_all_dispatch.spec
def _dispatch_spec(
    input_tensor,
    expert_indices_tensor,
    expert_mapping_tensor,
    *,
    cluster_axis,
    output_tensors,
    num_links,
    topology,
    memory_config,
    output_concat_dim,
    **_,
):
    op = _DISPATCH
    x = _rm_rank4(op, "input_tensor", input_tensor, DataType.BFLOAT16)
    idx = _rm_rank4(op, "expert_indices_tensor", expert_indices_tensor, DataType.UINT16)
    _mapping(op, expert_mapping_tensor)
    if x.shape[:-1] != idx.shape[:-1]:
        raise fail(
            op,
            f"argument 'expert_indices_tensor' {list(idx.shape)} must match 'input_tensor' {list(x.shape)} on "
            "all dims but the last",
        )
    if x.shape[1] != 1:
        raise fail(
            op,
            f"argument 'input_tensor' {list(x.shape)}: tokens must be [B, 1, S, H] (ttnn 0.81.1 sizes the output "
            "from dims 0 and 2; tokens along dim 1 would be written past it)",
        )
    _ccl_kwargs(op, "output_concat_dim", output_concat_dim, memory_config, topology, num_links)
    if output_tensors is not None:
        raise fail(op, "argument 'output_tensors': preallocated outputs are not modelled by ttfuse")
    p = axis_size(op, cluster_axis)
    b, s = x.shape[0], x.shape[2]
    b, s = (b * p, s) if output_concat_dim == 1 else (b, s * p)
    mc = memory_config or x.memory_config
    return (
        TensorSpec((1, b, s, x.shape[-1]), x.dtype, Layout.ROW_MAJOR, mc),
        TensorSpec((1, b, s, idx.shape[-1]), idx.dtype, Layout.ROW_MAJOR, mc),
    )


@all_to_all_dispatch.sim
def _dispatch_sim(
    ctx, input_tensor, expert_indices_tensor, expert_mapping_tensor, *, cluster_axis, output_concat_dim, **_
):
    tok_spec, meta_spec = ctx.out_spec
    hidden, k = tok_spec.shape[-1], meta_spec.shape[-1]
    n_dev = len(input_tensor)
    tokens = [torch.zeros(tok_spec.numel // hidden, hidden) for _ in range(n_dev)]
    meta = [torch.zeros(meta_spec.numel // k, k) for _ in range(n_dev)]
    for grp in axis_groups(ctx.mesh, cluster_axis):
        for pos, src in enumerate(grp):
            x = input_tensor[src].reshape(-1, hidden)
            idx = expert_indices_tensor[src].reshape(-1, k).long()
            mapping = expert_mapping_tensor[src][0, 0] != 0  # [E, D]: the source device's own copy
            _check_experts(_DISPATCH, "expert_indices_tensor", idx, mapping.shape[0])
            rows = pos * x.shape[0] + torch.arange(x.shape[0])
            wanted = mapping[idx].any(1)  # [T, D]: the token selected an expert living on device d
            for d in grp:
                sel = wanted[:, d]
                tokens[d][rows[sel]] = x[sel]
                meta[d][rows] = idx.float()
    return [(t.reshape(tok_spec.shape), m.reshape(meta_spec.shape)) for t, m in zip(tokens, meta)]


@register_op(_COMBINE, Group.CCL, traits=_MOE_CCL)
def all_to_all_combine(
    input_tensor,
    expert_metadata_tensor,
    expert_mapping_tensor,
    *,
    local_reduce=False,
    output_shard_dim=1,
    cluster_axis=None,
    subdevice_id=None,
    memory_config=None,
    output_tensor=None,
    num_links=None,
    topology=None,
):
    """The inverse of all_to_all_dispatch: return each expert's output row to the device its token came from.

    Per device: input_tensor [E/D, B*P, S, H] BFLOAT16 (row (j, t): local expert j's output for global token t;
    [1, B*P, S, H] with local_reduce), expert_metadata_tensor [1, B*P, S, K] UINT16 (dispatch's metadata),
    expert_mapping_tensor [1, 1, E, D] UINT16; all ROW_MAJOR. `cluster_axis` is required (ttnn asserts). Returns
    [K, B, S, H] (output_shard_dim=1; [K, B*P, S/P, H] for 2): row (k, t) is the output of the expert the token
    chose k-th when that expert lives on a device of the group, else zero (ttnn zero-fills the output first).

    From ttnn 0.81.1's sources in the wheel (all_to_all_combine_device_operation.cpp `compute_output_specs`:
    [K, batch * R / D, seq, H] with batch, seq from the metadata and R the devices of the other mesh axis; the
    reader/writer kernels): on device d, local expert j is the j-th expert e with mapping[e, d] = 1; for each
    global token t whose metadata row holds e (first at position k), row (j, t) goes to the device at group
    position t // (B*S) as output row k*B*S + t % (B*S). With local_reduce only the first such local expert of a
    token sends, reading input row (0, t). Preallocated `output_tensor` is not modelled.
    """


@all_to_all_combine.spec
def _combine_spec(
    input_tensor,
    expert_metadata_tensor,
    expert_mapping_tensor,
    *,
    local_reduce,
    output_shard_dim,
    cluster_axis,
    memory_config,
    output_tensor,
    num_links,
    topology,
    **_,
):
    op = _COMBINE
    x = _rm_rank4(op, "input_tensor", input_tensor, DataType.BFLOAT16)
    md = _rm_rank4(op, "expert_metadata_tensor", expert_metadata_tensor, DataType.UINT16)
    experts, devices = _mapping(op, expert_mapping_tensor)
    _ccl_kwargs(op, "output_shard_dim", output_shard_dim, memory_config, topology, num_links)
    if cluster_axis is None:
        raise fail(
            op, "argument 'cluster_axis' is required (ttnn 0.81.1: 'Axis must be specified at the moment')"
        )
    p = axis_size(op, cluster_axis)
    if experts % devices:
        raise fail(op, f"{experts} experts do not split evenly over {devices} devices")
    if not isinstance(local_reduce, bool):
        raise fail(op, f"argument 'local_reduce' must be a bool, got {local_reduce!r}")
    want = 1 if local_reduce else experts // devices
    if x.shape[0] != want:
        raise fail(
            op,
            f"argument 'input_tensor' {list(x.shape)}: dim 0 must be {want} "
            + ("(local_reduce)" if local_reduce else f"(the {experts} experts over {devices} devices)"),
        )
    b, s = md.shape[1], md.shape[2]
    if x.shape[1] * x.shape[2] != b * s:
        raise fail(
            op,
            f"argument 'input_tensor' {list(x.shape)} must hold the {b * s} tokens of 'expert_metadata_tensor' "
            f"{list(md.shape)} per expert",
        )
    split = b if output_shard_dim == 1 else s
    if split % p:
        raise fail(
            op,
            f"argument 'output_shard_dim'={output_shard_dim}: {'batch' if output_shard_dim == 1 else 'seq'} "
            f"{split} of 'expert_metadata_tensor' is not divisible by the {p} devices of cluster axis {cluster_axis}",
        )
    if output_tensor is not None:
        raise fail(op, "argument 'output_tensor': a preallocated output is not modelled by ttfuse")
    b, s = (b // p, s) if output_shard_dim == 1 else (b, s // p)
    return TensorSpec(
        (md.shape[-1], b, s, x.shape[-1]), x.dtype, Layout.ROW_MAJOR, memory_config or x.memory_config
    )


@all_to_all_combine.sim
def _combine_sim(
    ctx, input_tensor, expert_metadata_tensor, expert_mapping_tensor, *, local_reduce, cluster_axis, **_
):
    spec = ctx.out_spec
    k, hidden = spec.shape[0], spec.shape[-1]
    per_dev = spec.numel // (k * hidden)  # tokens each device gets back
    out = [torch.zeros(k * per_dev, hidden) for _ in input_tensor]
    for grp in axis_groups(ctx.mesh, cluster_axis):
        for d in grp:
            meta = expert_metadata_tensor[d].reshape(-1, k).long()  # [tokens of the group, K]
            data = input_tensor[d].reshape(input_tensor[d].shape[0], meta.shape[0], hidden)
            local = torch.nonzero(expert_mapping_tensor[d][0, 0, :, d]).flatten()  # this device's experts
            _check_experts(_COMBINE, "expert_metadata_tensor", meta, expert_mapping_tensor[d].shape[2])
            if not local_reduce and len(local) > data.shape[0]:  # the reader would read past the input
                raise fail(
                    _COMBINE,
                    f"argument 'expert_mapping_tensor' puts {len(local)} experts on device {d}; 'input_tensor' "
                    f"holds {data.shape[0]} per device",
                )
            t = torch.arange(meta.shape[0])
            sent = torch.zeros(meta.shape[0], dtype=torch.bool)
            for j, e in enumerate(local.tolist()):
                hit = meta == e
                found = hit.any(1) & ~sent
                slot = hit.int().argmax(1)  # the first position k holding the expert
                src = data[0 if local_reduce else j]
                for pos, dest in enumerate(grp):
                    sel = found & (t // per_dev == pos)
                    out[dest][slot[sel] * per_dev + t[sel] % per_dev] = src[sel]
                if local_reduce:
                    sent |= found
    return [o.reshape(spec.shape) for o in out]


def _a2a_cost(ctx: CostCtx) -> OpCost:
    """PREDICTED work; routing is data, so each of a token's K experts is taken to sit on a uniformly random device
    of the group (E experts, E/D per device). Dispatch reads every token, index and the mapping, writes the
    metadata and the rows it receives: a token reaches `reach` = P(1 - (1 - 1/P)^K) of the P devices, (P-1)/P of
    them remote, and the indices are all-gathered. Combine reads the metadata, the mapping and only the expert rows
    some token selected (K/(D * input dim 0) of its input, at most all), zero-fills its output and writes it; the
    K rows of each token come (P-1)/P from remote devices."""
    p = axis_size(ctx.op.name, ctx.args.get("cluster_axis"))
    remote = (p - 1) / p
    x, mapping = ctx.in_specs["input_tensor"], ctx.in_specs["expert_mapping_tensor"]
    if ctx.op.name == _DISPATCH:
        idx = ctx.in_specs["expert_indices_tensor"]
        out, meta = ctx.out_specs
        reach = p * (1 - (1 - 1 / p) ** idx.shape[-1])
        dram, l1 = io_bytes([x, idx, mapping, meta])
        part, part_spec = int(out.nbytes * reach / p), out
        link = int(x.nbytes * reach * remote) + (p - 1) * idx.nbytes
    else:
        md, out = ctx.in_specs["expert_metadata_tensor"], ctx.out_specs[0]
        devices = mapping.shape[-1]
        dram, l1 = io_bytes([md, mapping, out, out])
        part, part_spec = int(x.nbytes * min(1.0, md.shape[-1] / (devices * x.shape[0]))), x
        link = int(out.nbytes * remote)
    if part_spec.memory_config.buffer_type is BufferType.L1:
        l1 += part
    else:
        dram += part
    return OpCost(dram_bytes=dram, l1_bytes=l1, launches=1, link_bytes=link)


all_to_all_dispatch.cost(_a2a_cost)
all_to_all_combine.cost(_a2a_cost)
