"""MSA module pieces: ports of `boltz.model.layers.pair_averaging.PairWeightedAveraging`,
`boltz.model.layers.outer_product_mean.OuterProductMean` and `boltz.model.modules.trunkv2.MSALayer`.

* PairWeightedAveraging: w = softmax_j(proj_z(LN(z)) + (mask - 1) * inf) per head; o[s, i] = sum_j w[i, j] v[s, j]
  as one batched matmul with the heads as batch and (MSA row, channel) flattened into the columns;
  o = proj_o(sigmoid(proj_g(m)) * o). No per-head loop: chunking is the compiler's job.
* OuterProductMean: a, b = proj_{a,b}(LN(m)) * mask; the outer product summed over MSA rows is one matmul
  [N*c, S] @ [S, N*c]; it is divided by the per-pair count of valid rows (mask^T mask, clamped at 1) after
  proj_o (division by a per-(i, j) scalar commutes with the bias-free projection), then the bias is added.
* MSALayer: m += PWA(m, z, token_mask); m += Transition(m); z += OPM(m, msa_mask); z = PairformerNoSeqLayer(z).
  `token_mask` is the pair mask [B, N, N], as the reference's MSAModule passes it.

Batch 1 (B = 1) throughout, as the Boltz-2 trunk runs; the MSA depth S needs no padding (it is a batch/K dim).
"""

from __future__ import annotations

from models.boltz.common import (
    SIGMOID,
    Port,
    additive_mask,
    from_tokens,
    linear_weights,
    norm_weights,
    vector,
)
from models.boltz.pairformer import pairformer_z, z_weights
from models.boltz.transition import transition, transition_weights
from ttfuse import ttnn


# ------------------------------------------------------------------------------------ pair weighted averaging
def pair_weighted_averaging(
    m, z, mask, norm_m_w, norm_m_b, norm_z_w, norm_z_b, m_w, g_w, z_w, o_w, *, n_heads: int, inf: float, cfg
):
    """m [1, S, N, c_m], z [1, N, N, c_z], mask [1, N, N] -> [1, S, N, c_m]."""
    _, s, n, _ = m.shape
    m = ttnn.layer_norm(m, epsilon=1e-5, weight=norm_m_w, bias=norm_m_b, compute_kernel_config=cfg)
    z = ttnn.layer_norm(z, epsilon=1e-5, weight=norm_z_w, bias=norm_z_b, compute_kernel_config=cfg)
    logits = ttnn.permute(ttnn.linear(z, z_w, compute_kernel_config=cfg), (0, 3, 1, 2))  # [1, H, N, N]
    logits = ttnn.add(logits, additive_mask(ttnn.reshape(mask, (1, 1, n, n)), inf))
    w = ttnn.softmax(logits, dim=-1, numeric_stable=True, compute_kernel_config=cfg)
    v = ttnn.linear(m, m_w, compute_kernel_config=cfg)  # [1, S, N, H*c]
    c = v.shape[-1] // n_heads
    v = ttnn.permute(ttnn.reshape(v, (s, n, n_heads, c)), (2, 1, 0, 3))  # [H, N(j), S, c]
    v = ttnn.reshape(v, (1, n_heads, n, s * c))
    o = ttnn.matmul(w, v, compute_kernel_config=cfg)  # [1, H, N(i), S*c]
    o = ttnn.permute(ttnn.reshape(o, (n_heads, n, s, c)), (2, 1, 0, 3))  # [S, N, H, c]
    o = ttnn.reshape(o, (1, s, n, n_heads * c))
    g = ttnn.linear(m, g_w, compute_kernel_config=cfg)
    o = ttnn.multiply(o, g, input_tensor_b_activations=[SIGMOID])
    return ttnn.linear(o, o_w, compute_kernel_config=cfg)


def pair_weighted_averaging_weights(ref, device) -> tuple:
    return (
        *norm_weights(ref.norm_m, device),
        *norm_weights(ref.norm_z, device),
        *linear_weights(device, ref.proj_m, ref.proj_g, ref.proj_z, ref.proj_o),
    )


class PairWeightedAveraging(Port):
    """Port of `boltz.model.layers.pair_averaging.PairWeightedAveraging`."""

    def load(self, ref) -> None:
        self.n_heads = ref.num_heads
        self.inf = float(ref.inf)
        self.weights = pair_weighted_averaging_weights(ref, self.device)

    def forward_ttnn(self, m, z, mask, chunk_heads=False):
        return self.run(
            pair_weighted_averaging,
            m,
            z,
            mask,
            *self.weights,
            n_heads=self.n_heads,
            inf=self.inf,
            cfg=self.cfg,
        )

    def __call__(self, m, z, mask, chunk_heads=False):
        n = m.shape[2]
        mt, zt = self.to_tokens(m, (2,), n), self.to_tokens(z, (1, 2), n)
        kt = self.to_tokens(mask.float(), (1, 2), n)
        return from_tokens(self.forward_ttnn(mt, zt, kt), (2,), n)


# ------------------------------------------------------------------------------------ outer product mean
def outer_product_mean(m, mask, norm_w, norm_b, a_w, b_w, o_w, o_b, *, cfg):
    """m [1, S, N, c_in], mask [1, S, N] -> [1, N, N, c_out]."""
    _, s, n, _ = m.shape
    mask4 = ttnn.reshape(mask, (1, s, n, 1))
    m = ttnn.layer_norm(m, epsilon=1e-5, weight=norm_w, bias=norm_b, compute_kernel_config=cfg)
    a = ttnn.multiply(ttnn.linear(m, a_w, compute_kernel_config=cfg), mask4)  # [1, S, N, c]
    b = ttnn.multiply(ttnn.linear(m, b_w, compute_kernel_config=cfg), mask4)
    c = a.shape[-1]
    a = ttnn.reshape(ttnn.permute(a, (0, 2, 3, 1)), (1, 1, n * c, s))  # rows (i, c)
    b = ttnn.reshape(b, (1, 1, s, n * c))  # columns (j, d)
    outer = ttnn.matmul(a, b, compute_kernel_config=cfg)  # [1, 1, N*c, N*c] = sum_s a[s, i, c] b[s, j, d]
    outer = ttnn.permute(ttnn.reshape(outer, (n, c, n, c)), (0, 2, 1, 3))  # [i, j, c, d]
    outer = ttnn.reshape(outer, (1, n, n, c * c))
    z = ttnn.linear(outer, o_w, compute_kernel_config=cfg)
    count = ttnn.matmul(
        mask, mask, transpose_a=True, compute_kernel_config=cfg
    )  # [1, N, N] valid rows per pair
    count = ttnn.reshape(ttnn.clamp(count, min=1.0), (1, n, n, 1))
    return ttnn.add(ttnn.divide(z, count), o_b)


def outer_product_mean_weights(ref, device) -> tuple:
    return (
        *norm_weights(ref.norm, device),
        *linear_weights(device, ref.proj_a, ref.proj_b, ref.proj_o),
        vector(ref.proj_o.bias, device),
    )


class OuterProductMean(Port):
    """Port of `boltz.model.layers.outer_product_mean.OuterProductMean`."""

    def load(self, ref) -> None:
        self.weights = outer_product_mean_weights(ref, self.device)

    def forward_ttnn(self, m, mask, chunk_size=None):
        return self.run(outer_product_mean, m, mask, *self.weights, cfg=self.cfg)

    def __call__(self, m, mask, chunk_size=None):
        n = m.shape[2]
        mt, kt = self.to_tokens(m, (2,), n), self.to_tokens(mask.float(), (2,), n)
        return from_tokens(self.forward_ttnn(mt, kt), (1, 2), n)


# ------------------------------------------------------------------------------------------------ MSA layer
def msa_layer(
    z,
    m,
    token_mask,
    msa_mask,
    w_pwa,
    w_trans,
    w_opm,
    w_pair,
    *,
    pwa_heads: int,
    pwa_inf: float,
    tri_heads: int,
    tri_inf: float,
    dtype,
    cfg,
):
    """z [1, N, N, c_z], m [1, S, N, c_m], token_mask (pair) [1, N, N], msa_mask [1, S, N] -> (z, m)."""
    m = ttnn.add(
        m, pair_weighted_averaging(m, z, token_mask, *w_pwa, n_heads=pwa_heads, inf=pwa_inf, cfg=cfg)
    )
    m = ttnn.add(m, transition(m, *w_trans, dtype=dtype, cfg=cfg))
    z = ttnn.add(z, outer_product_mean(m, msa_mask, *w_opm, cfg=cfg))
    z = pairformer_z(z, token_mask, *w_pair, tri_heads=tri_heads, tri_inf=tri_inf, dtype=dtype, cfg=cfg)
    return z, m


class MSALayer(Port):
    """Port of `boltz.model.modules.trunkv2.MSALayer` (eval: dropout off)."""

    def load(self, ref) -> None:
        pwa, pf = ref.pair_weighted_averaging, ref.pairformer_layer
        self.kw = {
            "pwa_heads": pwa.num_heads,
            "pwa_inf": float(pwa.inf),
            "tri_heads": pf.tri_att_start.no_heads,
            "tri_inf": float(pf.tri_att_start.inf),
        }
        self.weights = (
            pair_weighted_averaging_weights(pwa, self.device),
            transition_weights(ref.msa_transition, self.device, self.dtype),
            outer_product_mean_weights(ref.outer_product_mean, self.device),
            z_weights(pf, self.device, self.dtype),
        )

    def forward_ttnn(self, z, m, token_mask, msa_mask, *args, **kwargs):
        return self.run(msa_layer, z, m, token_mask, msa_mask, *self.weights, **self.static(**self.kw))

    def __call__(
        self,
        z,
        m,
        token_mask,
        msa_mask,
        chunk_heads_pwa=False,
        chunk_size_transition_z=None,
        chunk_size_transition_msa=None,
        chunk_size_outer_product=None,
        chunk_size_tri_attn=None,
        use_kernels=False,
    ):
        n = z.shape[1]
        zt, mt = self.to_tokens(z, (1, 2), n), self.to_tokens(m, (2,), n)
        tt, kt = self.to_tokens(token_mask.float(), (1, 2), n), self.to_tokens(msa_mask.float(), (2,), n)
        zo, mo = self.forward_ttnn(zt, mt, tt, kt)
        return from_tokens(zo, (1, 2), n), from_tokens(mo, (2,), n)
