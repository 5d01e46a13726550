"""SD1.4 spatial transformer: port of diffusers' `Transformer2DModel` (continuous input, conv 1x1 projections)
with `BasicTransformerBlock`s (self-attention, cross-attention on the text states, GEGLU feed-forward).

Layout: the UNet's activations live as TT's group-norm layout [B, 1, H*W, C] (channels last, TILE); the port's
`__call__` takes diffusers' NCHW and converts on the host. GroupNorm (32 groups, eps 1e-6) is `ttnn.group_norm`
with the weight/bias/mask helpers of ttnn; the 1x1 convolutions proj_in/proj_out are linears over channels
(a 1x1 conv with stride 1 is exactly that). Inside a block the tokens are [B, H*W, D]:
    x += out(SDPA(split(qkv(LN1 x))))                                  self-attention, fused q|k|v, no bias
    x += out(SDPA(heads(q(LN2 x)), heads(k(ctx)), heads(v(ctx))))     cross-attention on ctx [B, L, Dc]
    x += ff2(h * gelu(g)), h|g = ff1(LN3 x)                           GEGLU (exact gelu)
Cross-attention heads are made with reshape + permute (K/V have the text's length L, Q the image's H*W, which
`split_query_key_value_and_split_heads(kv_input_tensor=)` does not allow); L needs no padding to a tile.
Head dims that are not a tile multiple (SD1.4's 40/80/160 at 320/640/1280 channels, 8 heads) are zero-padded per
head in the q/k/v columns and the out-projections' rows (`pad_head_cols`), the softmax scale kept at the real one.
"""

from __future__ import annotations

import torch

from models.sd14.common import (
    Port,
    _t,
    linear_weight,
    norm_weights,
    pad_head_cols,
    place,
    round_up,
    to_host,
    upload,
    vector,
)
from ttfuse import ttnn

GN_EPS = 1e-6


def heads_of(x, *, heads: int):
    """[B, S, H*d] -> [B, H, S, d]."""
    b, s, w = x.shape
    return ttnn.permute(ttnn.reshape(x, (b, s, heads, w // heads)), (0, 2, 1, 3))


def basic_transformer_block(
    x, ctx, n1_w, n1_b, qkv_w, o1_w, o1_b, n2_w, n2_b, q2_w, k2_w, v2_w, o2_w, o2_b, n3_w, n3_b,
    ffh_w, ffh_b, ffg_w, ffg_b, ff2_w, ff2_b, *, heads: int, scale: float, eps: float, dtype, cfg,
):  # fmt: skip
    """One BasicTransformerBlock on x [B, N, D] with text states ctx [B, L, Dc] -> [B, N, D]."""
    h = ttnn.layer_norm(x, epsilon=eps, weight=n1_w, bias=n1_b, compute_kernel_config=cfg)
    qkv = ttnn.linear(h, qkv_w, dtype=dtype, compute_kernel_config=cfg)
    q, k, v = ttnn.transformer.split_query_key_value_and_split_heads(
        qkv, num_heads=heads, transpose_key=False
    )
    o = ttnn.transformer.scaled_dot_product_attention(
        q, k, v, is_causal=False, scale=scale, compute_kernel_config=cfg
    )
    x = ttnn.add(x, ttnn.linear(ttnn.transformer.concatenate_heads(o), o1_w, bias=o1_b, dtype=dtype, compute_kernel_config=cfg))  # fmt: skip

    h = ttnn.layer_norm(x, epsilon=eps, weight=n2_w, bias=n2_b, compute_kernel_config=cfg)
    q = heads_of(ttnn.linear(h, q2_w, dtype=dtype, compute_kernel_config=cfg), heads=heads)
    k = heads_of(ttnn.linear(ctx, k2_w, dtype=dtype, compute_kernel_config=cfg), heads=heads)
    v = heads_of(ttnn.linear(ctx, v2_w, dtype=dtype, compute_kernel_config=cfg), heads=heads)
    o = ttnn.transformer.scaled_dot_product_attention(
        q, k, v, is_causal=False, scale=scale, compute_kernel_config=cfg
    )
    x = ttnn.add(x, ttnn.linear(ttnn.transformer.concatenate_heads(o), o2_w, bias=o2_b, dtype=dtype, compute_kernel_config=cfg))  # fmt: skip

    h = ttnn.layer_norm(x, epsilon=eps, weight=n3_w, bias=n3_b, compute_kernel_config=cfg)
    a = ttnn.linear(h, ffh_w, bias=ffh_b, dtype=dtype, compute_kernel_config=cfg)
    g = ttnn.gelu(ttnn.linear(h, ffg_w, bias=ffg_b, dtype=dtype, compute_kernel_config=cfg))
    return ttnn.add(
        x, ttnn.linear(ttnn.multiply(a, g), ff2_w, bias=ff2_b, dtype=dtype, compute_kernel_config=cfg)
    )


def proj_in(x, gn_w, gn_b, gn_mask, w, b, *, groups: int, dtype, cfg):
    """GroupNorm then the 1x1 proj_in: x [B, 1, HW, C] -> tokens [B, HW, D]."""
    bsz, _, n, c = x.shape
    h = ttnn.group_norm(
        x, num_groups=groups, input_mask=gn_mask, weight=gn_w, bias=gn_b, epsilon=GN_EPS, inplace=False
    )
    h = ttnn.linear(h, w, bias=b, dtype=dtype, compute_kernel_config=cfg)
    return ttnn.reshape(h, (bsz, n, h.shape[-1]))


def proj_out(tokens, residual, w, b, *, dtype, cfg):
    """The 1x1 proj_out plus the block's residual: tokens [B, HW, D], residual [B, 1, HW, C] -> [B, 1, HW, C]."""
    bsz, _, n, c = residual.shape
    o = ttnn.linear(tokens, w, bias=b, dtype=dtype, compute_kernel_config=cfg)
    return ttnn.add(ttnn.reshape(o, (bsz, 1, n, c)), residual)


def conv1x1_weight(conv: torch.nn.Module) -> torch.Tensor:
    """A 1x1 Conv2d weight [out, in, 1, 1] (or a Linear's [out, in]) as [in, out]."""
    return _t(conv.weight).reshape(conv.weight.shape[0], -1).t()


def group_norm_params(norm: torch.nn.GroupNorm, device) -> tuple:
    """(weight, bias, input mask) of a GroupNorm for `ttnn.group_norm` on an interleaved input (one core)."""
    c, rm = norm.num_channels, {"dtype": ttnn.bfloat16, "layout": ttnn.ROW_MAJOR_LAYOUT}
    w = place(ttnn.create_group_norm_weight_bias_rm(_t(norm.weight), c, 1), device, **rm)
    b = place(ttnn.create_group_norm_weight_bias_rm(_t(norm.bias), c, 1), device, **rm)
    mask = ttnn.to_device(ttnn.create_group_norm_input_mask(c, norm.num_groups, 1), device)
    return w, b, mask


def nchw_to_tt(x: torch.Tensor, device) -> ttnn.Tensor:
    """[B, C, H, W] torch -> [B, 1, H*W, C] TILE on `device`."""
    b, c, h, w = x.shape
    return upload(x.permute(0, 2, 3, 1).reshape(b, 1, h * w, c), device)


def tt_to_nchw(t: ttnn.Tensor, h: int, w: int) -> torch.Tensor:
    x = to_host(t)
    b, c = x.shape[0], x.shape[-1]
    return x.reshape(b, h, w, c).permute(0, 3, 1, 2).contiguous()


class BasicTransformerBlock(Port):
    """Port of diffusers' `BasicTransformerBlock` as SD1.4 uses it (layer_norm, self + cross attention, GEGLU)."""

    def load(self, ref) -> None:
        if (
            ref.norm_type != "layer_norm"
            or ref.only_cross_attention
            or ref.pos_embed is not None
            or ref.attn2 is None
        ):
            raise ValueError("BasicTransformerBlock: only SD1.4's form is ported (layer_norm, self + cross attention)")  # fmt: skip
        geglu = ref.ff.net[0]
        if type(geglu).__name__ != "GEGLU":
            raise ValueError(
                f"BasicTransformerBlock: feed-forward {type(geglu).__name__} is not ported (GEGLU)"
            )
        a1, a2 = ref.attn1, ref.attn2
        if a1.heads != a2.heads or a1.inner_dim != a2.inner_dim:
            raise ValueError("BasicTransformerBlock: self- and cross-attention must have the same heads")
        self.heads = heads = a1.heads
        self.scale = float(a1.scale)  # the real head dim's scale: the padding adds nothing to q.k
        self.eps = float(ref.norm1.eps)
        dev, dt = self.device, self.dtype
        hd = a1.inner_dim // heads
        p = round_up(hd)  # SD1.4's head dims 40/80/160 -> 64/96/160: zero-padded per head

        def cols(m):  # a q/k/v projection as [in, heads*p]
            return pad_head_cols(_t(m.weight).t(), heads, hd, p)

        def rows(m):  # an out projection as [heads*p, out] (zero rows for the padded dims)
            return upload(pad_head_cols(_t(m.weight), heads, hd, p).t(), dev, dt)

        qkv = torch.cat([cols(m) for m in (a1.to_q, a1.to_k, a1.to_v)], -1)
        hw, gw = _t(geglu.proj.weight).chunk(2, 0)
        hb, gb = _t(geglu.proj.bias).chunk(2, 0)
        self.weights = (
            *norm_weights(ref.norm1, dev),
            upload(qkv, dev, dt),
            rows(a1.to_out[0]),
            vector(a1.to_out[0].bias, dev),
            *norm_weights(ref.norm2, dev),
            *(upload(cols(m), dev, dt) for m in (a2.to_q, a2.to_k, a2.to_v)),
            rows(a2.to_out[0]),
            vector(a2.to_out[0].bias, dev),
            *norm_weights(ref.norm3, dev),
            linear_weight(hw, dev, dt),
            vector(hb, dev),
            linear_weight(gw, dev, dt),
            vector(gb, dev),
            linear_weight(ref.ff.net[2].weight, dev, dt),
            vector(ref.ff.net[2].bias, dev),
        )

    def forward_ttnn(self, x, ctx):
        st = {"heads": self.heads, "scale": self.scale, "eps": self.eps, "dtype": self.dtype, "cfg": self.cfg}
        return self.run(basic_transformer_block, x, ctx, *self.weights, **st)


class Transformer2DModel(Port):
    """Port of diffusers' `Transformer2DModel` (SD1.4: continuous input, 1x1 conv projections).

    `port(hidden_states [B, C, H, W], encoder_hidden_states [B, L, Dc]) -> [B, C, H, W]` (float32);
    `forward_ttnn(x [B, 1, HW, C], ctx [B, L, Dc])` -> [B, 1, HW, C]."""

    def load(self, ref) -> None:
        if not ref.is_input_continuous or ref.use_linear_projection:
            raise ValueError(
                "Transformer2DModel: only continuous input with conv 1x1 projections is ported (SD1.4)"
            )
        self.groups = ref.norm.num_groups
        dev, dt = self.device, self.dtype
        self.norm = group_norm_params(ref.norm, dev)
        self.proj_in_w = (upload(conv1x1_weight(ref.proj_in), dev, dt), vector(ref.proj_in.bias, dev))
        self.proj_out_w = (upload(conv1x1_weight(ref.proj_out), dev, dt), vector(ref.proj_out.bias, dev))
        self.blocks = [BasicTransformerBlock.from_torch(b, dev, dtype=dt, jit=self.jit) for b in ref.transformer_blocks]  # fmt: skip

    def forward_ttnn(self, x, ctx):
        st = {"dtype": self.dtype, "cfg": self.cfg}
        t = self.run(proj_in, x, *self.norm, *self.proj_in_w, groups=self.groups, **st)
        for block in self.blocks:
            t = block.forward_ttnn(t, ctx)
        return self.run(proj_out, t, x, *self.proj_out_w, **st)

    def __call__(self, hidden_states: torch.Tensor, encoder_hidden_states: torch.Tensor, **_) -> torch.Tensor:
        _, _, h, w = hidden_states.shape
        out = self.forward_ttnn(
            nchw_to_tt(hidden_states, self.device), upload(encoder_hidden_states, self.device)
        )
        return tt_to_nchw(out, h, w)
