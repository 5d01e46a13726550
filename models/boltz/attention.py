"""Token-level attention with pair bias: port of `boltz.model.layers.attentionv2.AttentionPairBias` (Boltz-2).

q = proj_q(s), k = proj_k(k_in), v = proj_v(k_in) split into heads; bias = proj_z(z) (LN + linear to one
logit per head, when `compute_pair_bias`) or the heads-last bias `z` itself; keys masked with
`(mask - 1) * inf`; one SDPA call (scale=1: q is pre-scaled by 1/sqrt(head_dim) in its weights, so the
additive bias enters unscaled as in the reference); o = proj_o(sigmoid(proj_g(s)) * o).

Heads whose width is not a tile multiple (Boltz: 16 x 24 in the Pairformer, 16 x 48 in the diffusion token
transformer) are zero-padded per head in the weights (q, k, v, g columns and o rows), so SDPA sees
tile-aligned heads and the padded channels contribute nothing; no crop is needed.

The block function takes the bias heads-first ([B or 1, H, N, N]) so that a DiffusionTransformer permutes
its stacked bias once for all layers; `AttentionPairBias.forward_ttnn` takes `z` as the reference does.
Atom-level windowed attention (queries of a window against its keys, `to_keys`): `windowed_attention`, used by
models.boltz.diffusion's DiffusionTransformerLayer / AtomTransformer.
"""

from __future__ import annotations

import torch

from models.boltz.common import (
    SIGMOID,
    Port,
    additive_mask,
    from_tokens,
    head_dims,
    linear_weight,
    norm_weights,
    pad_heads,
    vector,
)
from ttfuse import ttnn


def pair_bias(z, ln_w, ln_b, z_w, *, cfg):
    """z [B, N, N, c_z] -> heads-first pair bias [B, H, N, N] (LayerNorm + linear to H logits)."""
    z = ttnn.layer_norm(z, epsilon=1e-5, weight=ln_w, bias=ln_b, compute_kernel_config=cfg)
    z = ttnn.linear(z, z_w, compute_kernel_config=cfg)
    return ttnn.permute(z, (0, 3, 1, 2))


def key_mask_bias(mask, *, inf: float):
    """Token mask [B, N] -> additive key mask [B, 1, 1, N]."""
    b, n = mask.shape
    return additive_mask(ttnn.reshape(mask, (b, 1, 1, n)), inf)


def attention(s, k_in, bias, mask, q_w, q_b, kv_w, g_w, o_w, *, n_heads: int, inf: float, cfg):
    """s [B, S, c], k_in [B, S, c], heads-first bias [B or 1, H, S, S], mask [B, S] -> [B, S, c]."""
    q = ttnn.linear(s, q_w, bias=q_b, compute_kernel_config=cfg)  # [B, S, H*Dp]
    kv = ttnn.linear(k_in, kv_w, compute_kernel_config=cfg)  # [B, S, 2*H*Dp]
    q, k, v = ttnn.transformer.split_query_key_value_and_split_heads(
        q, kv, num_heads=n_heads, transpose_key=False
    )
    return _attend(s, q, k, v, bias, mask, g_w, o_w, inf=inf, cfg=cfg)


def windowed_attention(s, k_in, bias, key_mask, q_w, q_b, kv_w, g_w, o_w, *, n_heads: int, inf: float, cfg):
    """Atom level: each window's W queries s [B', W, c] attend to its H keys k_in [B', H, c] (`window_keys`);
    heads-first bias [B', H_heads, W, H], key_mask [B', H] -> [B', W, c]. Query and key lengths differ, so the
    heads are split by reshape + permute (ttnn's fused head split takes one sequence length)."""
    q = ttnn.linear(s, q_w, bias=q_b, compute_kernel_config=cfg)  # [B', W, H*Dp]
    kv = ttnn.linear(k_in, kv_w, compute_kernel_config=cfg)  # [B', H, 2*H*Dp]
    b, sk, hd2 = kv.shape
    k = ttnn.slice(kv, (0, 0, 0), (b, sk, hd2 // 2))
    v = ttnn.slice(kv, (0, 0, hd2 // 2), (b, sk, hd2))
    q, k, v = (split_heads(t, n_heads) for t in (q, k, v))
    return _attend(s, q, k, v, bias, key_mask, g_w, o_w, inf=inf, cfg=cfg)


def split_heads(x, n_heads: int):
    """[B, S, heads * d] -> [B, heads, S, d]."""
    b, n, c = x.shape
    return ttnn.permute(ttnn.reshape(x, (b, n, n_heads, c // n_heads)), (0, 2, 1, 3))


def _attend(s, q, k, v, bias, mask, g_w, o_w, *, inf: float, cfg):
    """SDPA with the bias (plus the key mask), heads concatenated, gated by sigmoid(s @ g_w), projected by o_w."""
    if mask is not None:
        bias = ttnn.add(bias, key_mask_bias(mask, inf=inf))
    o = ttnn.transformer.scaled_dot_product_attention(
        q, k, v, attn_mask=bias, is_causal=False, scale=1.0, compute_kernel_config=cfg
    )
    o = ttnn.transformer.concatenate_heads(o)
    g = ttnn.linear(s, g_w, compute_kernel_config=cfg)
    o = ttnn.multiply(o, g, input_tensor_b_activations=[SIGMOID])
    return ttnn.linear(o, o_w, compute_kernel_config=cfg)


def attention_pair_bias(
    s, z, mask, k_in, q_w, q_b, kv_w, g_w, o_w, z_ln_w, z_ln_b, z_w, *, n_heads: int, inf: float, dtype, cfg
):
    """The Pairformer's attention: pair bias from z [B, N, N, c_z]; s [B, N, c_s] -> [B, N, c_s]."""
    bias = pair_bias(z, z_ln_w, z_ln_b, z_w, cfg=cfg)
    return attention(s, k_in, bias, mask, q_w, q_b, kv_w, g_w, o_w, n_heads=n_heads, inf=inf, cfg=cfg)


def attention_given_bias(
    s, bias, mask, k_in, q_w, q_b, kv_w, g_w, o_w, *, n_heads: int, inf: float, dtype, cfg
):
    """compute_pair_bias=False: the bias is given heads-last [B, N, N, H], as the reference takes it."""
    bias = ttnn.permute(bias, (0, 3, 1, 2))
    return attention(s, k_in, bias, mask, q_w, q_b, kv_w, g_w, o_w, n_heads=n_heads, inf=inf, cfg=cfg)


def attention_weights(ref, device) -> tuple:
    """(q_w, q_b, kv_w, g_w, o_w): k|v fused, heads zero-padded to a tile, q pre-scaled by 1/sqrt(d)."""
    h = ref.num_heads
    d, dp, scale = head_dims(ref.c_s, h)

    def heads(w, dim, s=1.0):
        return pad_heads(w, h, d, dp, dim) * s

    kv = torch.cat([heads(ref.proj_k.weight, 0), heads(ref.proj_v.weight, 0)])
    return (
        linear_weight(heads(ref.proj_q.weight, 0, scale), device),
        vector(heads(ref.proj_q.bias, 0, scale), device),
        linear_weight(kv, device),
        linear_weight(heads(ref.proj_g.weight, 0), device),
        linear_weight(heads(ref.proj_o.weight, 1), device),
    )


def pair_bias_weights(ref, device) -> tuple:
    """(ln_w, ln_b, z_w) of `proj_z` (compute_pair_bias=True)."""
    return (*norm_weights(ref.proj_z[0], device), linear_weight(ref.proj_z[1].weight, device))


class AttentionPairBias(Port):
    """Port of `boltz.model.layers.attentionv2.AttentionPairBias` (token level)."""

    def load(self, ref) -> None:
        self.n_heads = ref.num_heads
        self.inf = float(ref.inf)
        self.compute_pair_bias = bool(ref.compute_pair_bias)
        self.weights = attention_weights(ref, self.device)
        self.z_weights = pair_bias_weights(ref, self.device) if self.compute_pair_bias else ()

    def forward_ttnn(self, s, z, mask, k_in, multiplicity: int = 1):
        """s [B*m, S, c_s]; z [B, N, N, c_z] (or the heads-last bias [B, N, N, H]); mask [B*m or 1, N]."""
        fn = attention_pair_bias if self.compute_pair_bias else attention_given_bias
        return self.run(
            fn,
            s,
            z,
            mask,
            k_in,
            *self.weights,
            *self.z_weights,
            **self.static(n_heads=self.n_heads, inf=self.inf),
        )

    def __call__(self, s, z, mask, k_in, multiplicity: int = 1):
        if multiplicity != 1 and z.shape[0] != 1:
            raise ValueError("models.boltz AttentionPairBias: multiplicity > 1 needs a batch-1 z/bias")
        n = s.shape[1]
        st, kt = self.to_tokens(s, (1,), n), self.to_tokens(k_in, (1,), n)
        zt, mt = self.to_tokens(z, (1, 2), n), self.to_tokens(mask.float(), (1,), n)
        return from_tokens(self.forward_ttnn(st, zt, mt, kt, multiplicity=multiplicity), (1,), n)
