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

Atom level (`AtomTransformer`, and the layers given `to_keys`): atoms are cut into windows of W queries
([B * K, W, d], K = N / W windows); each window attends to H keys gathered from the atoms around it. boltz's
`single_to_keys` does the gathering as an einsum with a 0/1 indexing matrix [2K, h*K] over half-windows of W/2
atoms; here the same matrix is uploaded transposed ([1, h*K, 2K], `WindowKeys`) and `window_keys` is one
ttnn.matmul on the half-window view of the activations (exact: every key is one atom times 1, or zero), as
tt-boltz's keys_indexing matmul. The key mask goes through the same matmul. `WindowKeys.from_boltz` reads the
matrix, W and H off the reference's callable: the `functools.partial(single_to_keys, ...)` the atom encoder
makes, or AtomTransformer's per-window wrapper of it.
"""

from __future__ import annotations

import functools
import inspect

import torch

from models.boltz.attention import attention, attention_weights, windowed_attention
from models.boltz.common import (
    SIGMOID,
    SILU,
    Port,
    from_tokens,
    linear_weight,
    linear_weights,
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

    def load(self, ref) -> None:
        self.weights = adaln_weights(ref, self.device)

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
        *linear_weights(device, ref.a_to_b, ref.b_to_a, ref.output_projection[0]),
        vector(ref.output_projection[0].bias, device),
    )


class ConditionedTransitionBlock(Port):
    """Port of `boltz.model.modules.transformersv2.ConditionedTransitionBlock`."""

    def load(self, ref) -> None:
        self.weights = conditioned_transition_weights(ref, self.device)

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
    keys=None,
    *,
    n_heads: int,
    inf: float,
    heads_last: bool,
    cfg,
):
    """a [B*m, N, d], s [B*m, N, d_s], bias [1, H, N, N] (heads_last: [1, N, N, H]), mask [B*m or 1, N] -> a.
    With `keys` (WindowKeys.indexing): windows a [B*K, W, d], bias [B*K, H, W, keys], mask [B*K, W]."""
    if heads_last:
        bias = ttnn.permute(bias, (0, 3, 1, 2))
    b = adaln(a, s, *w_adaln, cfg=cfg)
    if keys is None:
        b = attention(b, b, bias, mask, *w_att, n_heads=n_heads, inf=inf, cfg=cfg)
    else:
        k_in, key_mask = window_keys(b, keys), window_keys(mask, keys)
        b = windowed_attention(b, k_in, bias, key_mask, *w_att, n_heads=n_heads, inf=inf, cfg=cfg)
    gate = ttnn.linear(s, out_w, bias=out_b, compute_kernel_config=cfg)
    a = ttnn.add(a, ttnn.multiply(b, gate, input_tensor_b_activations=[SIGMOID]))
    return ttnn.add(a, conditioned_transition(a, s, *w_transition, cfg=cfg))


def window_keys(x, indexing):
    """boltz `single_to_keys` per window: x [B*K, W, D] (or a mask [B*K, W]) -> [B*K, keys, D] ([B*K, keys]),
    with indexing [1, h*K, 2K] (WindowKeys): one matmul over the half-window view [B, 2K, W/2 * D]."""
    bk, w = x.shape[0], x.shape[1]
    d = x.shape[2] if len(x.shape) == 3 else 1
    _, hk, k2 = indexing.shape
    k = k2 // 2
    keys = hk // k * (w // 2)
    y = ttnn.matmul(indexing, ttnn.reshape(x, (bk // k, k2, w // 2 * d)))
    return ttnn.reshape(y, (bk, keys, d) if len(x.shape) == 3 else (bk, keys))


class WindowKeys:
    """The atom-window key gathering of a boltz `to_keys` callable on a device: `indexing` [1, h*K, 2K] (boltz's
    indexing matrix, transposed), `window` (W queries) and `keys` (H)."""

    def __init__(self, indexing_matrix: torch.Tensor, window: int, keys: int, device):
        k2, hk = indexing_matrix.shape
        if window % 2 or keys % (window // 2) or k2 % 2 or hk % (k2 // 2):
            raise ValueError(
                f"models.boltz to_keys: indexing matrix {list(indexing_matrix.shape)} with W={window}, H={keys} "
                "is not boltz's get_indexing_matrix(K, W, H) layout"
            )
        self.window, self.keys, self.windows = window, keys, k2 // 2
        self.source = indexing_matrix
        self.indexing = to_tt(indexing_matrix.detach().float().cpu().t().unsqueeze(0).contiguous(), device)

    @classmethod
    def from_boltz(cls, to_keys, device, previous: WindowKeys | None = None) -> WindowKeys:
        """From the reference's `to_keys`: `functools.partial(single_to_keys, indexing_matrix=, W=, H=)`
        (boltz encodersv2), or AtomTransformer's wrapper lambda around one (found among its closure variables).
        `previous` is returned when it was made from the same matrix object and sizes (no new upload)."""
        if isinstance(to_keys, cls):
            return to_keys
        fn = to_keys
        if not isinstance(fn, functools.partial) and inspect.isfunction(fn):
            inner = [
                v for v in inspect.getclosurevars(fn).nonlocals.values() if isinstance(v, functools.partial)
            ]
            fn = inner[0] if len(inner) == 1 else fn
        kw = getattr(fn, "keywords", None) or {}
        if not (isinstance(fn, functools.partial) and {"indexing_matrix", "W", "H"} <= kw.keys()):
            raise ValueError(
                "models.boltz: argument 'to_keys' must be boltz's functools.partial(single_to_keys, "
                "indexing_matrix=..., W=..., H=...) or AtomTransformer's window wrapper of it, got "
                f"{to_keys!r}"
            )
        matrix, window, keys = kw["indexing_matrix"], int(kw["W"]), int(kw["H"])
        if (
            previous is not None
            and previous.source is matrix
            and (previous.window, previous.keys) == (window, keys)
        ):
            return previous
        return cls(matrix, window, keys, device)

    def check(self, windows_batch: int, window: int) -> None:
        if window != self.window or windows_batch % self.windows:
            raise ValueError(
                f"models.boltz to_keys: inputs of {windows_batch} windows of {window} atoms do not match "
                f"the indexing matrix ({self.windows} windows of {self.window} per sample)"
            )


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
    """Port of `boltz.model.modules.transformersv2.DiffusionTransformerLayer` (token level; atom level with
    `to_keys`)."""

    def load(self, ref) -> None:
        _check_layer(ref)
        self.n_heads = ref.pair_bias_attn.num_heads
        self.inf = float(ref.pair_bias_attn.inf)
        self.weights = (
            adaln_weights(ref.adaln, self.device),
            attention_weights(ref.pair_bias_attn, self.device),
            linear_weight(ref.output_projection_linear.weight, self.device),
            vector(ref.output_projection_linear.bias, self.device),
            conditioned_transition_weights(ref.transition, self.device),
        )

    def forward_heads_first(self, a, s, bias, mask, keys: WindowKeys | None = None):
        """Like forward_ttnn with the bias already heads-first (the DiffusionTransformer's split)."""
        return self._run(a, s, bias, mask, keys, heads_last=False)

    def forward_ttnn(self, a, s, bias=None, mask=None, to_keys=None, multiplicity: int = 1):
        """Token level: a [B*m, N, d], s, bias [1, N, N, H], mask [B*m or 1, N]. Atom level (to_keys: the
        reference's callable or a WindowKeys): a [B*K, W, d], s, bias [B*K, W, keys, H], mask [B*K, W]."""
        return self._run(a, s, bias, mask, to_keys, heads_last=True)

    def _run(self, a, s, bias, mask, keys, *, heads_last: bool):
        if keys is not None:
            keys = keys_for(self, keys)
            keys.check(a.shape[0], a.shape[1])
        return self.run(
            diffusion_transformer_layer,
            a,
            s,
            bias,
            mask,
            *self.weights,
            keys=None if keys is None else keys.indexing,
            n_heads=self.n_heads,
            inf=self.inf,
            heads_last=heads_last,
            cfg=self.cfg,
        )

    def __call__(self, a, s, bias=None, mask=None, to_keys=None, multiplicity: int = 1):
        return _call_transformer(self, a, s, bias, mask, to_keys)


def keys_for(port: Port, to_keys) -> WindowKeys:
    """The port's WindowKeys for a reference `to_keys` (uploaded once per indexing matrix)."""
    port.last_keys = WindowKeys.from_boltz(to_keys, port.device, getattr(port, "last_keys", None))
    return port.last_keys


def _call_transformer(port: Port, a, s, bias, mask, to_keys=None):
    """torch in/out: token level, pad tokens to a tile (mask zero there), run forward_ttnn, crop; atom level
    (to_keys), the windows as given."""
    if bias is None or mask is None:
        raise ValueError(
            "models.boltz diffusion transformer: bias and mask are required (as in the reference)"
        )
    if to_keys is not None:
        args = (to_tt(t, port.device) for t in (a, s, bias, mask.float()))
        return to_host(port.forward_ttnn(*args, to_keys=to_keys))
    if bias.shape[0] != 1:
        raise ValueError(
            "models.boltz diffusion transformer: the port runs a batch-1 bias (shared by samples)"
        )
    n = a.shape[1]
    at, st = port.to_tokens(a, (1,), n), port.to_tokens(s, (1,), n)
    bt, mt = port.to_tokens(bias, (1, 2), n), port.to_tokens(mask.float(), (1,), n)
    return from_tokens(port.forward_ttnn(at, st, bt, mt), (1,), n)


class DiffusionTransformer(Port):
    """Port of `boltz.model.modules.transformersv2.DiffusionTransformer` (pair-bias attention; token level, or
    atom level with `to_keys`)."""

    def load(self, ref) -> None:
        if not ref.pair_bias_attn:
            raise ValueError("models.boltz DiffusionTransformer: only pair_bias_attn=True is ported")
        self.layers = [self.port_of(DiffusionTransformerLayer, layer) for layer in ref.layers]

    def forward_ttnn(self, a, s, bias=None, mask=None, to_keys=None, multiplicity: int = 1):
        keys = None if to_keys is None else keys_for(self, to_keys)  # one upload shared by the layers
        biases = self.run(layer_biases, bias, n_layers=len(self.layers))
        for layer, bias_i in zip(self.layers, biases):
            a = layer.forward_heads_first(a, s, bias_i, mask, keys)
        return a

    def __call__(self, a, s, bias=None, mask=None, to_keys=None, multiplicity: int = 1):
        return _call_transformer(self, a, s, bias, mask, to_keys)


class AtomTransformer(Port):
    """Port of `boltz.model.modules.transformersv2.AtomTransformer`: the DiffusionTransformer over windows of
    `attn_window_queries` atoms, each attending to `attn_window_keys` keys (the reference's reshapes, on the
    host at the torch boundary; `forward_ttnn` takes the windows)."""

    def load(self, ref) -> None:
        self.window = ref.attn_window_queries
        self.keys = ref.attn_window_keys
        self.transformer = self.port_of(DiffusionTransformer, ref.diffusion_transformer)

    def forward_ttnn(self, q, c, bias, to_keys, mask):
        """q [B*K, W, d], c [B*K, W, d_s], bias [B*K, W, H, L*heads] (samples expanded), mask [B*K, W];
        to_keys: the reference's callable or a WindowKeys."""
        return self.transformer.forward_ttnn(q, c, bias, mask, to_keys)

    def __call__(self, q, c, bias, to_keys, mask, multiplicity: int = 1):
        b, n, d = q.shape
        w, h = self.window, self.keys
        if n % w:
            raise ValueError(f"models.boltz AtomTransformer: {n} atoms is not a multiple of the window {w}")
        bias = bias.repeat_interleave(multiplicity, 0)
        bias = bias.reshape(bias.shape[0] * (n // w), w, h, -1)
        windows = (q.reshape(-1, w, d), c.reshape(-1, w, c.shape[-1]), bias, mask.float().reshape(-1, w))
        out = self.forward_ttnn(
            *(to_tt(t, self.device) for t in windows[:3]), to_keys, to_tt(windows[3], self.device)
        )
        return to_host(out).reshape(b, n, d)
