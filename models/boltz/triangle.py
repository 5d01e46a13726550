"""Triangle updates of the pair representation: multiplication (outgoing/incoming) and attention (start/end).

References: `boltz.model.layers.triangular_mult.TriangleMultiplication{Outgoing,Incoming}` and
`boltz.model.layers.triangular_attention.attention.TriangleAttention{StartingNode,EndingNode}` (boltz 2.2.1).

* Multiplication: LN -> p_in(x) * sigmoid(g_in(x)) -> * mask -> channels to the batch dim -> one batched
  N x N x N matmul per channel (outgoing `a @ b^T`, incoming `a^T @ b`) -> LN -> p_out * sigmoid(g_out(x_in)).
  No channel chunk loop (tt-boltz's TRIANGLE_MULT_CHUNK_SIZE): chunking is the compiler's job.
* Attention: LN -> triangle bias linear -> per-row multi-head attention as one SDPA call with the rows as the
  SDPA batch and the bias [1, H, N, N] as the additive mask (broadcast over rows) -> sigmoid gate -> linear_o.
  q is pre-scaled by 1/sqrt(c_hidden) in the weights (as the reference scales q), so SDPA runs with scale=1
  and the bias is added unscaled. The ending node works on the transposed pair tensor, as the reference.
* Masks: multiplication multiplies by the pair mask as the reference. Attention masks keys k of row i by
  `pair_mask[i, k]`; the port takes the key mask of every row as the column max of the pair mask, which is
  exact for the token-separable masks Boltz builds (`m_i * m_k`) on every unmasked row (rows of masked tokens
  differ from the reference but never reach unmasked entries).
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
    linear_weights,
    norm_weights,
    pad_heads,
    round_up,
    to_tt,
    token_mask,
)
from ttfuse import ttnn


# ---------------------------------------------------------------------------------------- multiplication
def triangle_multiplication(
    x,
    mask,
    norm_in_w,
    norm_in_b,
    p_in_w,
    g_in_w,
    norm_out_w,
    norm_out_b,
    p_out_w,
    g_out_w,
    *,
    outgoing: bool,
    dtype,
    cfg,
):
    """x [B, N, N, D], mask [B, N, N] -> [B, N, N, D]."""
    b, n, _, d = x.shape
    x_in = ttnn.layer_norm(x, epsilon=1e-5, weight=norm_in_w, bias=norm_in_b, compute_kernel_config=cfg)
    p = ttnn.linear(x_in, p_in_w, dtype=dtype, compute_kernel_config=cfg)
    g = ttnn.linear(x_in, g_in_w, dtype=dtype, compute_kernel_config=cfg)
    pg = ttnn.multiply(p, g, input_tensor_b_activations=[SIGMOID])
    pg = ttnn.permute(pg, (0, 3, 1, 2))  # [B, 2D, N, N]: channels become the matmul batch
    pg = ttnn.multiply(pg, ttnn.reshape(mask, (b, 1, n, n)))
    a = ttnn.slice(pg, (0, 0, 0, 0), (b, d, n, n))
    c = ttnn.slice(pg, (0, d, 0, 0), (b, 2 * d, n, n))
    if outgoing:  # out[i, j] = sum_k a[i, k] c[j, k]
        o = ttnn.matmul(a, c, transpose_b=True, dtype=ttnn.bfloat16, compute_kernel_config=cfg)
    else:  # out[i, j] = sum_k a[k, i] c[k, j]
        o = ttnn.matmul(a, c, transpose_a=True, dtype=ttnn.bfloat16, compute_kernel_config=cfg)
    o = ttnn.permute(o, (0, 2, 3, 1))  # [B, N, N, D]
    o = ttnn.layer_norm(o, epsilon=1e-5, weight=norm_out_w, bias=norm_out_b, compute_kernel_config=cfg)
    o = ttnn.linear(o, p_out_w, dtype=dtype, compute_kernel_config=cfg)
    g_out = ttnn.linear(x_in, g_out_w, dtype=dtype, compute_kernel_config=cfg)
    return ttnn.multiply(o, g_out, input_tensor_b_activations=[SIGMOID], dtype=ttnn.bfloat16)


def triangle_multiplication_weights(ref, device, dtype) -> tuple:
    return (
        *norm_weights(ref.norm_in, device),
        *linear_weights(device, ref.p_in, ref.g_in, dtype=dtype),
        *norm_weights(ref.norm_out, device),
        *linear_weights(device, ref.p_out, ref.g_out, dtype=dtype),
    )


class _TriangleMultiplication(Port):
    outgoing = True

    def load(self, ref) -> None:
        self.weights = triangle_multiplication_weights(ref, self.device, self.dtype)

    def forward_ttnn(self, x, mask):
        return self.run(
            triangle_multiplication, x, mask, *self.weights, **self.static(outgoing=self.outgoing)
        )

    def __call__(self, x, mask, use_kernels: bool = False):
        n = x.shape[1]
        out = self.forward_ttnn(self.to_tokens(x, (1, 2), n), self.to_tokens(mask.float(), (1, 2), n))
        return from_tokens(out, (1, 2), n)


class TriangleMultiplicationOutgoing(_TriangleMultiplication):
    """Port of `boltz.model.layers.triangular_mult.TriangleMultiplicationOutgoing`."""

    outgoing = True


class TriangleMultiplicationIncoming(_TriangleMultiplication):
    """Port of `boltz.model.layers.triangular_mult.TriangleMultiplicationIncoming`."""

    outgoing = False


# --------------------------------------------------------------------------------------------- attention
def key_bias(mask, *, starting: bool, inf: float):
    """Pair mask [1, N, N] -> additive key mask [1, 1, 1, N] of every row (column max of the row-major mask)."""
    b, n, _ = mask.shape
    if not starting:
        mask = ttnn.permute(mask, (0, 2, 1))
    keys = ttnn.max(mask, dim=1, keepdim=True)  # [B, 1, N]
    return additive_mask(ttnn.reshape(keys, (b, 1, 1, n)), inf)


def triangle_attention(
    x, mask, ln_w, ln_b, bias_w, qkv_w, g_w, o_w, *, n_heads: int, starting: bool, inf: float, dtype, cfg
):
    """x [1, N, N, C], mask [1, N, N] or None -> [1, N, N, C]."""
    b, n, m, c = x.shape
    if b != 1:
        raise ValueError(f"models.boltz triangle attention: batch {b} unsupported (the port runs batch 1)")
    if not starting:
        x = ttnn.permute(x, (0, 2, 1, 3))
    x = ttnn.layer_norm(x, epsilon=1e-5, weight=ln_w, bias=ln_b, compute_kernel_config=cfg)
    bias = ttnn.linear(x, bias_w, dtype=dtype, compute_kernel_config=cfg)  # [1, I, J, H]
    bias = ttnn.permute(bias, (0, 3, 1, 2))  # [1, H, J(query), J(key)], shared by every row i
    if mask is not None:  # NOTE: bfloat16 out: a -inf in a bfloat8_b block would flush its 15 neighbours to 0
        bias = ttnn.add(bias, key_bias(mask, starting=starting, inf=inf), dtype=ttnn.bfloat16)
    x = ttnn.reshape(x, (n, m, c))  # rows are the attention batch
    qkv = ttnn.linear(x, qkv_w, dtype=dtype, compute_kernel_config=cfg)  # [I, J, 3*H*Dp]
    q, k, v = ttnn.transformer.split_query_key_value_and_split_heads(
        qkv, num_heads=n_heads, transpose_key=False
    )
    o = ttnn.transformer.scaled_dot_product_attention(
        q, k, v, attn_mask=bias, is_causal=False, scale=1.0, compute_kernel_config=cfg
    )
    o = ttnn.transformer.concatenate_heads(o)  # [I, J, H*Dp]
    g = ttnn.linear(x, g_w, dtype=dtype, compute_kernel_config=cfg)
    o = ttnn.multiply(o, g, input_tensor_b_activations=[SIGMOID])
    o = ttnn.linear(o, o_w, dtype=dtype, compute_kernel_config=cfg)
    o = ttnn.reshape(o, (1, n, m, c))
    if not starting:
        o = ttnn.permute(o, (0, 2, 1, 3))
    return o


def triangle_attention_weights(ref, device, dtype) -> tuple:
    """(ln_w, ln_b, bias_w, qkv_w, g_w, o_w): q|k|v fused, heads zero-padded to a tile, q pre-scaled."""
    mha = ref.mha
    h = ref.no_heads
    d, dp, scale = head_dims(h * ref.c_hidden, h)

    def heads(w, dim, s=1.0):
        return pad_heads(w, h, d, dp, dim) * s

    qkv = torch.cat(
        [heads(mha.linear_q.weight, 0, scale), heads(mha.linear_k.weight, 0), heads(mha.linear_v.weight, 0)]
    )
    return (
        *norm_weights(ref.layer_norm, device),
        linear_weight(ref.linear.weight, device, dtype),
        linear_weight(qkv, device, dtype),
        linear_weight(heads(mha.linear_g.weight, 0), device, dtype),
        linear_weight(heads(mha.linear_o.weight, 1), device, dtype),
    )


class _TriangleAttention(Port):
    starting = True

    def load(self, ref) -> None:
        if bool(ref.starting) != self.starting:
            raise ValueError(f"{type(self).__name__}.from_torch: reference has starting={ref.starting}")
        self.n_heads = ref.no_heads
        self.inf = float(ref.inf)
        self.weights = triangle_attention_weights(ref, self.device, self.dtype)

    def forward_ttnn(self, x, mask=None):
        return self.run(
            triangle_attention,
            x,
            mask,
            *self.weights,
            **self.static(n_heads=self.n_heads, starting=self.starting, inf=self.inf),
        )

    def __call__(self, x, mask=None, chunk_size=None, use_kernels: bool = False):
        n = x.shape[-2]
        if mask is None and round_up(n) == n:
            out = self.forward_ttnn(to_tt(x, self.device))
        else:  # pad the pair tensor and its mask (zero on the padding) to a tile
            mask = token_mask(mask, x.shape[:-1], x)
            out = self.forward_ttnn(self.to_tokens(x, (1, 2), n), self.to_tokens(mask, (1, 2), n))
        return from_tokens(out, (1, 2), n)


class TriangleAttentionStartingNode(_TriangleAttention):
    """Port of `boltz.model.layers.triangular_attention.attention.TriangleAttentionStartingNode`."""

    starting = True


class TriangleAttentionEndingNode(_TriangleAttention):
    """Port of `boltz.model.layers.triangular_attention.attention.TriangleAttentionEndingNode`."""

    starting = False
