"""`ttnn.moe_expert_token_remap` (ttnn 0.81.1): per device, the top-k scores of the tokens routed to its local
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

from ttfuse.opdef import Group, Traits, current_mesh_shape, register_op
from ttfuse.ops.common import fail, need_dtype, need_memory_config, need_spec
from ttfuse.ops.data_movement import static_cost
from ttfuse.types import DRAM_MEMORY_CONFIG, DataType, Layout, TensorSpec

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
