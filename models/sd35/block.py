"""The MMDiT joint transformer block of SD3.5 (diffusers `JointTransformerBlock`) in TTNN, parallel as in TT-DiT.

Per device (sd35.md section 3; P = sp, T = tp, Dl = D / T, Hl = padded heads / T):
  x  [B, N/P, Dl]  spatial residual stream, sequence-sharded on the sp axis, D-fractured on the tp axis
  c  [B, L, Dl]    prompt residual stream, replicated on sp, D-fractured on tp
  st [B, 1, D]     silu(temb), replicated (computed once per forward)

  mod  = st @ W_ada (column-parallel, chunks reordered per device, +1 folded into the scale biases)
         -> local chunks [B, 1, Dl] (gates) and, all-gathered on tp, full chunks [B, 1, D] (shift, 1 + scale)
  x̂    = LN(all_gather_tp(x)) * (1 + scale1) + shift1                      (likewise ĉ)
  q,k,v = split_heads(x̂ @ W_qkv) (column-parallel: Hl whole heads per device); RMSNorm over head_dim
  o, oc = joint attention over [spatial; prompt] (ring attention over sp when sp > 1)
  x    += gate1 * reduce_scatter_tp(concat_heads(o) @ W_out)                (row-parallel; bias on tp rank 0)
  (dual attention, SD3.5 Medium's MMDiT-X blocks: three more adaLN chunks; a second, spatial-only self-attention
   on x̂2 = LN(x) * (1 + scale3) + shift3 of the same LN(x), ring attention without a prompt over sp:
  x    += gate3 * reduce_scatter_tp(concat_heads(attention(qkv2(x̂2))) @ W_out2))
  x    += gate2 * reduce_scatter_tp(gelu_tanh(LN(all_gather_tp(x)) * (1 + scale2) + shift2) @ W1) @ W2)
  (c likewise with the context weights, except in the last block: context_pre_only, whose prompt only
   feeds q/k/v through AdaLayerNormContinuous (scale, shift) and returns no prompt.)

Collectives over an axis of size 1 are skipped. The block function `joint_block` takes activations and weights
(a dict of tensors) as arguments and everything else as static keywords, so one compiled JIT entry serves every
block with the same shapes.
"""

from __future__ import annotations

import torch

from models.sd35.attention import joint_attention
from models.sd35.common import (
    EPS,
    GELU_TANH,
    chunked_columns,
    fold_scale_one,
    head_rows,
    lin,
    matmul_config,
    norm_config,
    qkv_columns,
    round_up,
    row_parallel_bias,
    run,
    sdpa_config,
    upload,
)
from models.sd35.parallel import DiTParallelConfig
from ttfuse import ttnn

ZERO_ORDER = ("shift", "scale", "gate", "shift", "scale", "gate")  # AdaLayerNormZero chunks
DUAL_ORDER = ZERO_ORDER + ("shift", "scale", "gate")  # SD35AdaLayerNormZeroX: + the second attention's
CONT_ORDER = ("scale", "shift")  # AdaLayerNormContinuous chunks


# ------------------------------------------------------------------------------------------ ttnn helpers
def all_gather_tp(x, *, tp: int, tp_axis: int, links: int = 1):
    """Replicate the feature dim over the tp axis (no-op for tp = 1)."""
    if tp == 1:
        return x
    return ttnn.all_gather(x, dim=len(x.shape) - 1, cluster_axis=tp_axis, num_links=links)


def reduce_scatter_tp(x, *, tp: int, tp_axis: int, links: int = 1):
    """Sum row-parallel partial products over tp and keep this device's D/tp slice (no-op for tp = 1)."""
    if tp == 1:
        return x
    return ttnn.reduce_scatter(x, dim=len(x.shape) - 1, cluster_axis=tp_axis, num_links=links)


def adaln_chunks(st, w, b, *, chunks: int, tp: int, tp_axis: int, cfg, links: int = 1):
    """Column-parallel adaLN linear -> (local chunks [B, 1, Dl], full chunks [B, 1, D]) in chunk order."""
    m = ttnn.linear(st, w, bias=b, compute_kernel_config=cfg)  # [B, 1, chunks * Dl]
    bsz, dl = m.shape[0], m.shape[-1] // chunks
    local = [m[:, :, i * dl : (i + 1) * dl] for i in range(chunks)]
    if tp == 1:
        return local, local
    full = all_gather_tp(ttnn.reshape(m, (bsz, chunks, dl)), tp=tp, tp_axis=tp_axis, links=links)  # [B, k, D]
    return local, [full[:, i : i + 1, :] for i in range(chunks)]


def norm_tp(x, *, tp: int, tp_axis: int, cfg, links: int = 1):
    """LN(all_gather_tp(x)) (no affine) -> [B, S, D] replicated over tp."""
    x = all_gather_tp(x, tp=tp, tp_axis=tp_axis, links=links)
    return ttnn.layer_norm(x, epsilon=EPS, compute_kernel_config=cfg)


def modulate(xn, shift, scale1p):
    """xn * (1 + scale) + shift (scale1p already holds 1 + scale)."""
    return ttnn.add(ttnn.multiply(xn, scale1p), shift)


def modulated_norm(x, shift, scale1p, *, tp: int, tp_axis: int, cfg, links: int = 1):
    """LN(all_gather_tp(x)) * (1 + scale) + shift -> [B, S, D] replicated."""
    return modulate(norm_tp(x, tp=tp, tp_axis=tp_axis, cfg=cfg, links=links), shift, scale1p)


def qkv_heads(x, w, b, nq, nk, *, heads: int, mm_cfg, norm_cfg):
    """Fused QKV projection of this device's heads, split, per-head RMSNorm on q and k."""
    qkv = ttnn.linear(x, w, bias=b, compute_kernel_config=mm_cfg)
    q, k, v = ttnn.transformer.split_query_key_value_and_split_heads(
        qkv, num_heads=heads, transpose_key=False
    )
    q = ttnn.rms_norm(q, epsilon=EPS, weight=nq, compute_kernel_config=norm_cfg)
    k = ttnn.rms_norm(k, epsilon=EPS, weight=nk, compute_kernel_config=norm_cfg)
    return q, k, v


def gated_residual(x, y, gate):
    return ttnn.add(x, ttnn.multiply(y, gate))


def feed_forward(x, w1, b1, w2, b2, *, tp: int, tp_axis: int, cfg, links: int = 1):
    """ff1 column-parallel with fused GELU-tanh, ff2 row-parallel, reduce-scattered to D/tp."""
    h = ttnn.linear(x, w1, bias=b1, activation=GELU_TANH, compute_kernel_config=cfg)
    y = ttnn.linear(h, w2, bias=b2, compute_kernel_config=cfg)
    return reduce_scatter_tp(y, tp=tp, tp_axis=tp_axis, links=links)


def joint_block(
    x,
    c,
    st,
    w: dict,
    *,
    heads: int,
    context_pre_only: bool,
    dual: bool = False,
    sp: int,
    sp_axis: int,
    tp: int,
    tp_axis: int,
    logical_n: int,
    mesh_device,
    mm_cfg,
    norm_cfg,
    attn_cfg,
    links: int = 1,
):
    """One JointTransformerBlock on per-device shards -> (c or None, x). `heads`: heads per device; `dual`: the
    block has the second (spatial) attention; `links`: ethernet links per collective."""
    par = {"tp": tp, "tp_axis": tp_axis, "links": links}
    xl, xf = adaln_chunks(st, w["norm1_w"], w["norm1_b"], chunks=9 if dual else 6, cfg=mm_cfg, **par)
    x_ln = norm_tp(x, cfg=norm_cfg, **par)
    xn = modulate(x_ln, xf[0], xf[1])
    if context_pre_only:
        _, cf = adaln_chunks(st, w["norm1c_w"], w["norm1c_b"], chunks=2, cfg=mm_cfg, **par)
        cn = modulated_norm(c, cf[1], cf[0], cfg=norm_cfg, **par)  # (scale, shift) order
    else:
        cl, cf = adaln_chunks(st, w["norm1c_w"], w["norm1c_b"], chunks=6, cfg=mm_cfg, **par)
        cn = modulated_norm(c, cf[0], cf[1], cfg=norm_cfg, **par)

    hd = {"heads": heads, "mm_cfg": mm_cfg, "norm_cfg": norm_cfg}
    q, k, v = qkv_heads(xn, w["qkv_w"], w["qkv_b"], w["norm_q"], w["norm_k"], **hd)
    jq, jk, jv = qkv_heads(cn, w["qkv_c_w"], w["qkv_c_b"], w["norm_added_q"], w["norm_added_k"], **hd)
    att = {"sp": sp, "sp_axis": sp_axis, "logical_n": logical_n, "mesh_device": mesh_device, "cfg": attn_cfg}
    o, oc = joint_attention(q, k, v, jq, jk, jv, links=links, **att)

    o = ttnn.linear(
        ttnn.transformer.concatenate_heads(o), w["out_w"], bias=w["out_b"], compute_kernel_config=mm_cfg
    )
    x = gated_residual(x, reduce_scatter_tp(o, **par), xl[2])
    if dual:
        q2, k2, v2 = qkv_heads(
            modulate(x_ln, xf[6], xf[7]), w["qkv2_w"], w["qkv2_b"], w["norm_q2"], w["norm_k2"], **hd
        )
        o2, _ = joint_attention(q2, k2, v2, links=links, **att)  # spatial only: no prompt
        o2 = ttnn.linear(
            ttnn.transformer.concatenate_heads(o2),
            w["out2_w"],
            bias=w["out2_b"],
            compute_kernel_config=mm_cfg,
        )
        x = gated_residual(x, reduce_scatter_tp(o2, **par), xl[8])
    h = modulated_norm(x, xf[3], xf[4], cfg=norm_cfg, **par)
    x = gated_residual(
        x, feed_forward(h, w["ff1_w"], w["ff1_b"], w["ff2_w"], w["ff2_b"], cfg=mm_cfg, **par), xl[5]
    )
    if context_pre_only:
        return None, x

    oc = ttnn.linear(
        ttnn.transformer.concatenate_heads(oc), w["out_c_w"], bias=w["out_c_b"], compute_kernel_config=mm_cfg
    )
    c = gated_residual(c, reduce_scatter_tp(oc, **par), cl[2])
    h = modulated_norm(c, cf[3], cf[4], cfg=norm_cfg, **par)
    c = gated_residual(
        c, feed_forward(h, w["ffc1_w"], w["ffc1_b"], w["ffc2_w"], w["ffc2_b"], cfg=mm_cfg, **par), cl[5]
    )
    return c, x


# --------------------------------------------------------------------------------------------- weights
def block_is_dual(block) -> bool:
    """Whether a diffusers JointTransformerBlock has the second attention (SD3.5 Medium's dual-attention layers)."""
    dual = bool(getattr(block, "use_dual_attention", False))
    if dual and block.attn2.heads != block.attn.heads:
        raise ValueError(
            f"JointTransformerBlock: attn2 has {block.attn2.heads} heads, attn {block.attn.heads}"
        )
    return dual


def block_weights_torch(block, tp: int) -> tuple[dict, dict, int]:
    """(torch weights re-laid out for tp, their placements, padded head count) of a diffusers block."""
    attn = block.attn
    heads = attn.heads
    padded = round_up(heads, tp)
    pre = block.context_pre_only
    col, row, rep = {"tp_dim": -1}, {"tp_dim": 0}, {}
    w, place = {}, {}

    def put(name, t, where):
        w[name], place[name] = t, where

    def ada(name, lin_mod, order):
        put(name + "_w", chunked_columns(lin(lin_mod.weight), len(order), tp), col)
        put(
            name + "_b",
            chunked_columns(fold_scale_one(lin_mod.bias, order), len(order), tp).reshape(1, -1),
            col,
        )

    dual = block_is_dual(block)
    ada("norm1", block.norm1.linear, DUAL_ORDER if dual else ZERO_ORDER)
    ada("norm1c", block.norm1_context.linear, CONT_ORDER if pre else ZERO_ORDER)

    def qkv(name, mods):
        ws = [lin(m.weight) for m in mods]
        bs = [m.bias.detach().float() for m in mods]
        put(name + "_w", qkv_columns(ws, heads, padded, tp), col)
        put(name + "_b", qkv_columns(bs, heads, padded, tp).reshape(1, -1), col)

    qkv("qkv", (attn.to_q, attn.to_k, attn.to_v))
    if dual:
        a2 = block.attn2
        qkv("qkv2", (a2.to_q, a2.to_k, a2.to_v))
        put("norm_q2", a2.norm_q.weight.detach().float().reshape(1, -1), rep)
        put("norm_k2", a2.norm_k.weight.detach().float().reshape(1, -1), rep)
    qkv("qkv_c", (attn.add_q_proj, attn.add_k_proj, attn.add_v_proj))
    for n in ("norm_q", "norm_k", "norm_added_q", "norm_added_k"):
        put(n, getattr(attn, n).weight.detach().float().reshape(1, -1), rep)

    def row_linear(name, m):
        put(name + "_w", head_rows(lin(m.weight), heads, padded), row)
        put(name + "_b", row_parallel_bias(m.bias, tp), row)

    def ff(name, f):
        put(name + "1_w", lin(f.net[0].proj.weight), col)
        put(name + "1_b", f.net[0].proj.bias.detach().float().reshape(1, -1), col)
        put(name + "2_w", lin(f.net[2].weight), row)
        put(name + "2_b", row_parallel_bias(f.net[2].bias, tp), row)

    row_linear("out", attn.to_out[0])
    if dual:
        row_linear("out2", block.attn2.to_out[0])
    ff("ff", block.ff)
    if not pre:
        row_linear("out_c", attn.to_add_out)
        ff("ffc", block.ff_context)
    return w, place, padded


def upload_weights(w: dict, place: dict, layout, dtype) -> dict:
    """Upload every weight with its placement; norm weights stay bfloat16 (TT-DiT keeps them full precision)."""
    return {
        n: upload(t, layout, dtype=dtype if n.endswith("_w") else ttnn.bfloat16, **place[n])
        for n, t in w.items()
    }


# -------------------------------------------------------------------------------------------- the module
class JointTransformerBlock:
    """Port of diffusers `JointTransformerBlock` (with or without dual attention) on one (sub)mesh.

    `JointTransformerBlock.from_torch(block, mesh_device, parallel_config=None, *, dtype, jit)`; call it like
    the diffusers block with torch tensors (`hidden_states` [B, N, D], `encoder_hidden_states` [B, L, D],
    `temb` [B, D]) -> `(encoder_hidden_states or None, hidden_states)`; `forward_ttnn(x, c, st)` on mesh tensors
    (x sequence/feature sharded, c feature sharded, st = silu(temb) [B, 1, D] replicated)."""

    def __init__(self, mesh_device, parallel_config: DiTParallelConfig | None, *, dtype, jit: bool | dict):
        self.config = parallel_config or DiTParallelConfig()
        if self.config.cfg != 1:
            raise ValueError(
                "JointTransformerBlock: cfg parallelism splits the mesh between whole models; use SD3Transformer "
                f"or a parallel config with cfg factor 1 (got {tuple(self.config.cfg_parallel)})"
            )
        self.config.submesh_shape(tuple(mesh_device.shape))  # validates factors against the mesh
        self.layout = self.config.layout(mesh_device)
        self.mesh = mesh_device
        self.dtype = dtype
        self.jit = jit
        self.mm_cfg, self.norm_cfg, self.attn_cfg = (
            matmul_config(mesh_device),
            norm_config(mesh_device),
            sdpa_config(mesh_device),
        )

    @classmethod
    def from_torch(
        cls, block, mesh_device, parallel_config=None, *, dtype=ttnn.bfloat16, jit: bool | dict = True
    ):
        port = cls(mesh_device, parallel_config, dtype=dtype, jit=jit)
        w, place = port.describe(block)
        port.weights = upload_weights(w, place, port.layout, dtype)
        return port

    def describe(self, block) -> tuple[dict, dict]:
        """Take the block's structure (dims, heads, kind) and return its re-laid-out torch weights and placements."""
        self.context_pre_only = bool(block.context_pre_only)
        self.dual = block_is_dual(block)
        self.dim = block.norm1.linear.in_features
        self.heads = block.attn.heads
        w, place, self.padded_heads = block_weights_torch(block, self.layout.tp)
        return w, place

    def statics(self, logical_n: int) -> dict:
        lay = self.layout
        return {
            "heads": self.padded_heads // lay.tp,
            "context_pre_only": self.context_pre_only,
            "dual": self.dual,
            "sp": lay.sp,
            "sp_axis": lay.sp_axis,
            "tp": lay.tp,
            "tp_axis": lay.tp_axis,
            "logical_n": logical_n,
            "mesh_device": self.mesh,
            "mm_cfg": self.mm_cfg,
            "norm_cfg": self.norm_cfg,
            "attn_cfg": self.attn_cfg,
            "links": lay.links,
        }

    def forward_ttnn(self, x, c, st, *, logical_n: int | None = None):
        """x [B, N/sp, D/tp], c [B, L, D/tp], st [B, 1, D] mesh tensors -> (c or None, x)."""
        n = logical_n if logical_n is not None else x.shape[1] * self.layout.sp
        return run(self.jit, joint_block, x, c, st, self.weights, **self.statics(n))

    def __call__(self, hidden_states, encoder_hidden_states, temb, joint_attention_kwargs=None):
        lay = self.layout
        n = hidden_states.shape[1]
        n_pad = round_up(n, TILE_SP * lay.sp) if lay.sp > 1 else n
        xs = torch.nn.functional.pad(hidden_states.float(), (0, 0, 0, n_pad - n))
        x = upload(xs, lay, sp_dim=1, tp_dim=2)
        c = upload(encoder_hidden_states, lay, tp_dim=2)
        st = upload(torch.nn.functional.silu(temb.float()).reshape(temb.shape[0], 1, -1), lay)
        c_out, x_out = self.forward_ttnn(x, c, st, logical_n=n)
        x_host = lay.to_torch(x_out, sp_dim=1, tp_dim=2)[:, :n]
        c_host = None if c_out is None else lay.to_torch(c_out, tp_dim=2)
        return c_host, x_host


TILE_SP = 32  # spatial tokens per device are padded to whole tiles when sequence parallel
