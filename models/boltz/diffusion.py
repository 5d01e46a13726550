"""Diffusion token transformer: ports of `boltz.model.modules.transformersv2.AdaLN`, `ConditionedTransitionBlock`,
`DiffusionTransformerLayer` and `DiffusionTransformer` (token level).

* AdaLN: sigmoid(s_scale(LN_w(s))) * LN(a) + s_bias(LN_w(s)) (a_norm without affine, s_norm without bias).
* ConditionedTransitionBlock: a = AdaLN(a, s); b = silu(gates) * x * a_to_b(a), with swish_gate's weight split
  on upload into its x and gates halves; out = sigmoid(output_projection(s)) * b_to_a(b).
* DiffusionTransformerLayer: b = AdaLN(a, s); b = attention(b, bias) (no pair-bias projection: the bias is
  given, heads-last in the reference); a += sigmoid(output_projection_linear(s)) * b; a += CTB(a, s).
* DiffusionTransformer: the bias [B, N, N, L*H] is permuted heads-first once and layer i takes channels
  [i*H, (i+1)*H), the reference's `view(B, N, M, L, D // L)` split.

`multiplicity` (diffusion samples) is the batch of a and s; the bias is shared (batch 1) and broadcast by SDPA.
Atom-level windowed attention (`to_keys`) is not part of this port.
"""

from __future__ import annotations

import torch

from models.boltz.attention import attention, attention_weights
from models.boltz.common import (
    SIGMOID,
    SILU,
    Port,
    crop_dims,
    linear_weight,
    pad_dims,
    round_up,
    to_host,
    to_tt,
    vector,
)
from ttfuse import ttnn


# --------------------------------------------------------------------------------------------------- AdaLN
def adaln(a, s, s_norm_w, s_scale_w, s_scale_b, s_bias_w, *, cfg):
    """a [B, N, d], s [B, N, d_s] -> [B, N, d]."""
    a = ttnn.layer_norm(a, epsilon=1e-5, compute_kernel_config=cfg)
    s = ttnn.layer_norm(s, epsilon=1e-5, weight=s_norm_w, compute_kernel_config=cfg)
    scale = ttnn.linear(s, s_scale_w, bias=s_scale_b, compute_kernel_config=cfg)
    shift = ttnn.linear(s, s_bias_w, compute_kernel_config=cfg)
    return ttnn.add(ttnn.multiply(a, scale, input_tensor_b_activations=[SIGMOID]), shift)


def adaln_weights(ref, device) -> tuple:
    return (
        vector(ref.s_norm.weight, device),
        linear_weight(ref.s_scale.weight, device),
        vector(ref.s_scale.bias, device),
        linear_weight(ref.s_bias.weight, device),
    )


class AdaLN(Port):
    """Port of `boltz.model.modules.transformersv2.AdaLN`."""

    @classmethod
    def from_torch(cls, reference_module, device, *, dtype=ttnn.bfloat16, jit: bool = True):
        port = cls(device, dtype=dtype, jit=jit)
        port.weights = adaln_weights(reference_module, device)
        return port

    def forward_ttnn(self, a, s):
        return self.run(adaln, a, s, *self.weights, cfg=self.cfg)

    def __call__(self, a, s):
        return to_host(self.forward_ttnn(to_tt(a, self.device), to_tt(s, self.device)))


# -------------------------------------------------------------------------------- conditioned transition
def conditioned_transition(a, s, w_adaln, x_w, gates_w, a_to_b_w, b_to_a_w, out_w, out_b, *, cfg):
    """ConditionedTransitionBlock: a [B, N, d], s [B, N, d_s] -> [B, N, d]."""
    a = adaln(a, s, *w_adaln, cfg=cfg)
    x = ttnn.linear(a, x_w, compute_kernel_config=cfg)
    gates = ttnn.linear(a, gates_w, compute_kernel_config=cfg)
    b = ttnn.multiply(gates, x, input_tensor_a_activations=[SILU])
    b = ttnn.multiply(b, ttnn.linear(a, a_to_b_w, compute_kernel_config=cfg))
    gate = ttnn.linear(s, out_w, bias=out_b, compute_kernel_config=cfg)
    b = ttnn.linear(b, b_to_a_w, compute_kernel_config=cfg)
    return ttnn.multiply(b, gate, input_tensor_b_activations=[SIGMOID])


def conditioned_transition_weights(ref, device) -> tuple:
    w = ref.swish_gate[0].weight  # [2 * inner, d]: rows [:inner] are x, [inner:] the gates (SwiGLU chunk)
    inner = w.shape[0] // 2
    return (
        adaln_weights(ref.adaln, device),
        linear_weight(w[:inner], device),
        linear_weight(w[inner:], device),
        linear_weight(ref.a_to_b.weight, device),
        linear_weight(ref.b_to_a.weight, device),
        linear_weight(ref.output_projection[0].weight, device),
        vector(ref.output_projection[0].bias, device),
    )


class ConditionedTransitionBlock(Port):
    """Port of `boltz.model.modules.transformersv2.ConditionedTransitionBlock`."""

    @classmethod
    def from_torch(cls, reference_module, device, *, dtype=ttnn.bfloat16, jit: bool = True):
        port = cls(device, dtype=dtype, jit=jit)
        port.weights = conditioned_transition_weights(reference_module, device)
        return port

    def forward_ttnn(self, a, s):
        return self.run(conditioned_transition, a, s, *self.weights, cfg=self.cfg)

    def __call__(self, a, s):
        return to_host(self.forward_ttnn(to_tt(a, self.device), to_tt(s, self.device)))


# ---------------------------------------------------------------------------------------------- layers
def diffusion_transformer_layer(
    a,
    s,
    bias,
    mask,
    w_adaln,
    w_att,
    out_w,
    out_b,
    w_transition,
    *,
    n_heads: int,
    inf: float,
    heads_last: bool,
    cfg,
):
    """a [B*m, N, d], s [B*m, N, d_s], bias [1, H, N, N] (heads_last: [1, N, N, H]), mask [B*m or 1, N] -> a."""
    if heads_last:
        bias = ttnn.permute(bias, (0, 3, 1, 2))
    b = adaln(a, s, *w_adaln, cfg=cfg)
    b = attention(b, b, bias, mask, *w_att, n_heads=n_heads, inf=inf, cfg=cfg)
    gate = ttnn.linear(s, out_w, bias=out_b, compute_kernel_config=cfg)
    a = ttnn.add(a, ttnn.multiply(b, gate, input_tensor_b_activations=[SIGMOID]))
    return ttnn.add(a, conditioned_transition(a, s, *w_transition, cfg=cfg))


def layer_biases(bias, *, n_layers: int):
    """The stacked bias [B, N, N, L*H] -> per-layer heads-first biases: layer i owns channels [i*H, (i+1)*H)."""
    bias = ttnn.permute(bias, (0, 3, 1, 2))
    b, lh, n, m = bias.shape
    h = lh // n_layers
    return tuple(ttnn.slice(bias, (0, i * h, 0, 0), (b, (i + 1) * h, n, m)) for i in range(n_layers))


def _check_layer(ref) -> None:
    if not isinstance(ref.post_lnorm, torch.nn.Identity):
        raise ValueError("models.boltz DiffusionTransformerLayer: post_layer_norm=True is not ported")
    if not ref.pair_bias_attn:
        raise ValueError("models.boltz DiffusionTransformerLayer: only pair_bias_attn=True is ported")


class DiffusionTransformerLayer(Port):
    """Port of `boltz.model.modules.transformersv2.DiffusionTransformerLayer` (token level)."""

    @classmethod
    def from_torch(cls, reference_module, device, *, dtype=ttnn.bfloat16, jit: bool = True):
        ref = reference_module
        _check_layer(ref)
        port = cls(device, dtype=dtype, jit=jit)
        port.n_heads = ref.pair_bias_attn.num_heads
        port.inf = float(ref.pair_bias_attn.inf)
        port.weights = (
            adaln_weights(ref.adaln, device),
            attention_weights(ref.pair_bias_attn, device),
            linear_weight(ref.output_projection_linear.weight, device),
            vector(ref.output_projection_linear.bias, device),
            conditioned_transition_weights(ref.transition, device),
        )
        return port

    def forward_heads_first(self, a, s, bias, mask):
        """Like forward_ttnn with the bias already heads-first [1, H, N, N] (the DiffusionTransformer's split)."""
        return self._run(a, s, bias, mask, heads_last=False)

    def forward_ttnn(self, a, s, bias=None, mask=None, to_keys=None, multiplicity: int = 1):
        _no_keys(to_keys)
        return self._run(a, s, bias, mask, heads_last=True)

    def _run(self, a, s, bias, mask, *, heads_last: bool):
        return self.run(
            diffusion_transformer_layer,
            a,
            s,
            bias,
            mask,
            *self.weights,
            n_heads=self.n_heads,
            inf=self.inf,
            heads_last=heads_last,
            cfg=self.cfg,
        )

    def __call__(self, a, s, bias=None, mask=None, to_keys=None, multiplicity: int = 1):
        _no_keys(to_keys)
        return _call_transformer(self, a, s, bias, mask)


def _no_keys(to_keys) -> None:
    if to_keys is not None:
        raise NotImplementedError("models.boltz: atom-level windowed attention (to_keys) is not ported")


def _call_transformer(port: Port, a, s, bias, mask):
    """torch in/out: pad tokens to a tile (mask zero there), run forward_ttnn, crop."""
    if bias is None or mask is None:
        raise ValueError(
            "models.boltz diffusion transformer: bias and mask are required (as in the reference)"
        )
    if bias.shape[0] != 1:
        raise ValueError(
            "models.boltz diffusion transformer: the port runs a batch-1 bias (shared by samples)"
        )
    n = a.shape[1]
    n_pad = round_up(n)
    ap, sp = pad_dims(a, (1,), n_pad), pad_dims(s, (1,), n_pad)
    bp, mp = pad_dims(bias, (1, 2), n_pad), pad_dims(mask.float(), (1,), n_pad)
    out = port.forward_ttnn(*(to_tt(t, port.device) for t in (ap, sp, bp, mp)))
    return crop_dims(to_host(out), (1,), n)


class DiffusionTransformer(Port):
    """Port of `boltz.model.modules.transformersv2.DiffusionTransformer` (token level, pair-bias attention)."""

    @classmethod
    def from_torch(cls, reference_module, device, *, dtype=ttnn.bfloat16, jit: bool = True):
        if not reference_module.pair_bias_attn:
            raise ValueError("models.boltz DiffusionTransformer: only pair_bias_attn=True is ported")
        port = cls(device, dtype=dtype, jit=jit)
        port.layers = [
            DiffusionTransformerLayer.from_torch(layer, device, dtype=dtype, jit=jit)
            for layer in reference_module.layers
        ]
        return port

    def forward_ttnn(self, a, s, bias=None, mask=None, to_keys=None, multiplicity: int = 1):
        _no_keys(to_keys)
        biases = self.run(layer_biases, bias, n_layers=len(self.layers))
        for layer, bias_i in zip(self.layers, biases):
            a = layer.forward_heads_first(a, s, bias_i, mask)
        return a

    def __call__(self, a, s, bias=None, mask=None, to_keys=None, multiplicity: int = 1):
        _no_keys(to_keys)
        return _call_transformer(self, a, s, bias, mask)
