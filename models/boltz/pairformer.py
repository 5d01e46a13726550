"""Pairformer (Boltz-2, v2): ports of `boltz.model.layers.pairformer.PairformerLayer`, `PairformerModule`,
`PairformerNoSeqLayer` and `PairformerNoSeqModule`.

z += TriMulOut(z, pair_mask); z += TriMulIn; z += TriAttStart; z += TriAttEnd; z += Transition_z(z); then, with
a single track: s += AttentionPairBias(LN(s), z, mask, k_in=LN(s)); s += Transition_s(s). Eval mode: no
dropout; `s_post_norm` is the identity (post_layer_norm=False, as Boltz-2). The s track stays bfloat16 (the
reference runs it in float32).

`pairformer_layer` is one function over the whole layer taking every weight as tensor arguments (grouped in
one tuple per block), so under jit every layer of a stack shares one compiled entry and the compiler sees
across block boundaries (residual adds, layer norms).
"""

from __future__ import annotations

from models.boltz.attention import attention_pair_bias, attention_weights, pair_bias_weights
from models.boltz.common import Port, from_tokens, norm_weights, token_mask
from models.boltz.transition import transition, transition_weights
from models.boltz.triangle import (
    triangle_attention,
    triangle_attention_weights,
    triangle_multiplication,
    triangle_multiplication_weights,
)
from ttfuse import ttnn


def pairformer_z(
    z,
    pair_mask,
    w_mul_out,
    w_mul_in,
    w_att_start,
    w_att_end,
    w_trans_z,
    *,
    tri_heads: int,
    tri_inf: float,
    dtype,
    cfg,
):
    """The pair track of a Pairformer layer: z [1, N, N, C], pair_mask [1, N, N] -> z."""
    st = {"dtype": dtype, "cfg": cfg}
    z = ttnn.add(z, triangle_multiplication(z, pair_mask, *w_mul_out, outgoing=True, **st))
    z = ttnn.add(z, triangle_multiplication(z, pair_mask, *w_mul_in, outgoing=False, **st))
    att = {"n_heads": tri_heads, "inf": tri_inf, **st}
    z = ttnn.add(z, triangle_attention(z, pair_mask, *w_att_start, starting=True, **att))
    z = ttnn.add(z, triangle_attention(z, pair_mask, *w_att_end, starting=False, **att))
    return ttnn.add(z, transition(z, *w_trans_z, **st))


def pairformer_layer(
    s,
    z,
    mask,
    pair_mask,
    w_z,
    w_pre_norm,
    w_att,
    w_trans_s,
    *,
    tri_heads: int,
    tri_inf: float,
    heads: int,
    inf: float,
    dtype,
    cfg,
):
    """One Pairformer layer: s [1, N, c_s], z [1, N, N, c_z], mask [1, N], pair_mask [1, N, N] -> (s, z).
    `w_z` is the pair track's weights (`z_weights`)."""
    z = pairformer_z(z, pair_mask, *w_z, tri_heads=tri_heads, tri_inf=tri_inf, dtype=dtype, cfg=cfg)
    s_n = ttnn.layer_norm(
        s, epsilon=1e-5, weight=w_pre_norm[0], bias=w_pre_norm[1], compute_kernel_config=cfg
    )
    s = ttnn.add(
        s, attention_pair_bias(s_n, z, mask, s_n, *w_att, n_heads=heads, inf=inf, dtype=dtype, cfg=cfg)
    )
    s = ttnn.add(s, transition(s, *w_trans_s, dtype=dtype, cfg=cfg))
    return s, z


def z_weights(ref, device, dtype) -> tuple:
    return (
        triangle_multiplication_weights(ref.tri_mul_out, device, dtype),
        triangle_multiplication_weights(ref.tri_mul_in, device, dtype),
        triangle_attention_weights(ref.tri_att_start, device, dtype),
        triangle_attention_weights(ref.tri_att_end, device, dtype),
        transition_weights(ref.transition_z, device, dtype),
    )


def _check_eval(ref) -> None:
    if getattr(ref, "post_layer_norm", False):
        raise ValueError("models.boltz Pairformer: post_layer_norm=True is not ported (Boltz-2 uses False)")


class PairformerNoSeqLayer(Port):
    """Port of `boltz.model.layers.pairformer.PairformerNoSeqLayer` (pair track only)."""

    def load(self, ref) -> None:
        _check_eval(ref)
        self.tri_heads = ref.tri_att_start.no_heads
        self.tri_inf = float(ref.tri_att_start.inf)
        self.weights = z_weights(ref, self.device, self.dtype)

    def forward_ttnn(self, z, pair_mask, chunk_size_tri_attn=None, use_kernels: bool = False):
        return self.run(
            pairformer_z,
            z,
            pair_mask,
            *self.weights,
            **self.static(tri_heads=self.tri_heads, tri_inf=self.tri_inf),
        )

    def __call__(
        self,
        z,
        pair_mask,
        chunk_size_tri_attn=None,
        use_kernels=False,
        use_cuequiv_mul=False,
        use_cuequiv_attn=False,
    ):
        return _call_pair(self, z, pair_mask)


class PairformerLayer(Port):
    """Port of `boltz.model.layers.pairformer.PairformerLayer` with v2=True."""

    def load(self, ref) -> None:
        _check_eval(ref)
        from boltz.model.layers.attentionv2 import AttentionPairBias as V2

        if not isinstance(ref.attention, V2):
            raise ValueError(
                "models.boltz PairformerLayer: the reference must be built with v2=True (Boltz-2)"
            )
        self.tri_heads = ref.tri_att_start.no_heads
        self.tri_inf = float(ref.tri_att_start.inf)
        self.heads = ref.attention.num_heads
        self.inf = float(ref.attention.inf)
        self.weights = (
            z_weights(ref, self.device, self.dtype),
            norm_weights(ref.pre_norm_s, self.device),
            (*attention_weights(ref.attention, self.device), *pair_bias_weights(ref.attention, self.device)),
            transition_weights(ref.transition_s, self.device, self.dtype),
        )

    def _static(self) -> dict:
        return self.static(tri_heads=self.tri_heads, tri_inf=self.tri_inf, heads=self.heads, inf=self.inf)

    def forward_ttnn(self, s, z, mask, pair_mask, chunk_size_tri_attn=None, use_kernels: bool = False):
        return self.run(pairformer_layer, s, z, mask, pair_mask, *self.weights, **self._static())

    def __call__(
        self,
        s,
        z,
        mask,
        pair_mask,
        chunk_size_tri_attn=None,
        use_kernels=False,
        use_cuequiv_mul=False,
        use_cuequiv_attn=False,
    ):
        return _call_stack(self, [self], s, z, mask, pair_mask)


def _call_stack(port: Port, layers, s, z, mask, pair_mask):
    """torch in/out around a chain of layer ports: pad tokens to a tile, run every layer, crop."""
    n = z.shape[1]
    mask = token_mask(mask, z.shape[:2], z)
    st, zt = port.to_tokens(s, (1,), n), port.to_tokens(z, (1, 2), n)
    mt, pt = port.to_tokens(mask, (1,), n), port.to_tokens(pair_mask.float(), (1, 2), n)
    for layer in layers:
        st, zt = layer.forward_ttnn(st, zt, mt, pt)
    return from_tokens(st, (1,), n), from_tokens(zt, (1, 2), n)


def _call_pair(port: Port, z, pair_mask):
    """torch in/out around a pair-track port (`forward_ttnn(z, pair_mask)`): pad tokens to a tile, run, crop."""
    n = z.shape[1]
    zt, mt = port.to_tokens(z, (1, 2), n), port.to_tokens(pair_mask.float(), (1, 2), n)
    return from_tokens(port.forward_ttnn(zt, mt), (1, 2), n)


class PairformerModule(Port):
    """Port of `boltz.model.layers.pairformer.PairformerModule` with v2=True (a stack of PairformerLayer)."""

    def load(self, ref) -> None:
        self.layers = [self.port_of(PairformerLayer, layer) for layer in ref.layers]

    def forward_ttnn(self, s, z, mask, pair_mask, use_kernels: bool = False):
        for layer in self.layers:
            s, z = layer.forward_ttnn(s, z, mask, pair_mask)
        return s, z

    def __call__(self, s, z, mask, pair_mask, use_kernels: bool = False):
        return _call_stack(self, self.layers, s, z, mask, pair_mask)


class PairformerNoSeqModule(Port):
    """Port of `boltz.model.layers.pairformer.PairformerNoSeqModule` (a stack of PairformerNoSeqLayer)."""

    def load(self, ref) -> None:
        self.layers = [self.port_of(PairformerNoSeqLayer, layer) for layer in ref.layers]

    def forward_ttnn(self, z, pair_mask, use_kernels: bool = False):
        for layer in self.layers:
            z = layer.forward_ttnn(z, pair_mask)
        return z

    def __call__(self, z, pair_mask, use_kernels: bool = False):
        return _call_pair(self, z, pair_mask)
