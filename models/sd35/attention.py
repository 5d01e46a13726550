"""Joint attention of the SD3.5 port: the public ring-attention entry point and the sp = 1 / sp > 1 dispatch.

`ring_joint_attention(q, k, v, joint_q, joint_k, joint_v, *, mesh_device, cluster_axis, ...)` is the fused ring
kernel `ttfuse.kernels.ring_joint_attention` (see ttfuse/kernels/ring_attention.py): each device of the ring
along `cluster_axis` holds a query/key/value shard [b, h, N/P, d]; the replicated prompt q/k/v [b, h, L, d]
joins as one more K/V shard. Returns `(out, joint_out, lse)` like `ttnn.transformer.ring_joint_scaled_dot_
product_attention`. `joint_attention` picks the ring kernel for sp > 1 and `ttnn.transformer.joint_scaled_dot_
product_attention` for sp = 1 (as TT-DiT does); both are traceable by `ttfuse.jit`.
"""

from __future__ import annotations

import ttfuse.kernels.ring_attention as _ring
from models.sd35.common import sdpa_program_config
from ttfuse import ttnn

RING_OP = _ring.ring_joint_attention  # the registered OpDef "kernels.ring_joint_attention"


def ring_joint_attention(
    q,
    k,
    v,
    joint_q=None,
    joint_k=None,
    joint_v=None,
    *,
    mesh_device,
    cluster_axis: int,
    logical_n: int | None = None,
    scale: float | None = None,
    program_config=None,
    compute_kernel_config=None,
    num_links: int = 1,
    topology=None,
):
    """Ring joint attention over the devices of `cluster_axis` of `mesh_device` -> (out, joint_out, lse).

    q, k, v: sequence-sharded [b, h, N/P, d] mesh tensors (N padded to P shards; keys past `logical_n` are
    masked); joint_q/k/v: the replicated prompt [b, h, L, d] (or None)."""
    return RING_OP(
        q,
        k,
        v,
        joint_q,
        joint_k,
        joint_v,
        joint_strategy="rear",
        logical_n=logical_n,
        program_config=program_config,
        scale=scale,
        compute_kernel_config=compute_kernel_config,
        dim=2,
        num_links=num_links,
        cluster_axis=cluster_axis,
        mesh_device=mesh_device,
        topology=topology if topology is not None else ttnn.Topology.Linear,
    )


def joint_attention(
    q,
    k,
    v,
    jq=None,
    jk=None,
    jv=None,
    *,
    sp: int,
    sp_axis: int,
    logical_n: int,
    mesh_device,
    cfg,
    links: int = 1,
):
    """(spatial out, prompt out) of joint attention: one joint SDPA for sp = 1, the ring kernel otherwise. Without
    a prompt (jq None: the dual-attention blocks' spatial self-attention) a plain SDPA or the ring kernel without
    joint tensors, and the prompt out is None."""
    if sp == 1:
        if jq is None:
            o = ttnn.transformer.scaled_dot_product_attention(
                q,
                k,
                v,
                is_causal=False,
                program_config=sdpa_program_config(mesh_device, ring=False),
                compute_kernel_config=cfg,
            )
            return o, None
        return ttnn.transformer.joint_scaled_dot_product_attention(
            q,
            k,
            v,
            jq,
            jk,
            jv,
            joint_strategy="rear",
            program_config=sdpa_program_config(mesh_device, ring=False),
            compute_kernel_config=cfg,
        )
    o, jo, _lse = ring_joint_attention(
        q,
        k,
        v,
        jq,
        jk,
        jv,
        mesh_device=mesh_device,
        cluster_axis=sp_axis,
        logical_n=logical_n,
        program_config=sdpa_program_config(mesh_device, ring=True),
        compute_kernel_config=cfg,
        num_links=links,
    )
    return o, (jo if jq is not None else None)
