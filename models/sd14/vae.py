"""SD1.4 VAE decoder: port of diffusers' `Decoder` (the `AutoencoderKL.decoder` of SD1.4).

    h = conv_in(z)
    mid: resnet -> attention -> resnet       (resnets without time embedding)
    up blocks (UpDecoderBlock2D): resnets, then Upsample2D (all but the last)
    out = conv_out(silu(GroupNorm(h)))

The mid-block attention (diffusers `Attention` with a group norm, one head of the full channel width, residual
connection) is one jitted block: group_norm -> fused q|k|v linear (with biases) -> SDPA -> out linear -> + x.
`AutoencoderKL` ports diffusers' `AutoencoderKL.decode`: `post_quant_conv` (1x1, a linear over channels on the
device; absent when the config's `use_post_quant_conv` is False, as in SD3.5's VAE) then the decoder. As in
diffusers, the latent scale (1 / scaling_factor, 0.18215 for SD1.4; SD3.5 also shifts) is the pipeline's.
"""

from __future__ import annotations

import torch

from models.sd14.common import Port, _t, upload, vector
from models.sd14.resnet import ResnetBlock2D, conv_params, prepare_conv3x3
from models.sd14.sampling import Upsample2D
from models.sd14.transformer2d import conv1x1_weight, group_norm_params, nchw_to_tt, tt_to_nchw
from models.sd14.unet import conv_in, conv_out
from ttfuse import ttnn


def vae_attention(x, gn_w, gn_b, gn_m, qkv_w, qkv_b, o_w, o_b, *, groups: int, eps: float, heads: int, scale: float,
                  rescale: float, dtype, cfg):  # fmt: skip
    """x [B, 1, HW, C] -> x + out(SDPA(qkv(GN x))) (divided by `rescale`)."""
    bsz, _, n, c = x.shape
    h = ttnn.group_norm(
        x, num_groups=groups, input_mask=gn_m, weight=gn_w, bias=gn_b, epsilon=eps, inplace=False
    )
    qkv = ttnn.linear(ttnn.reshape(h, (bsz, n, c)), qkv_w, bias=qkv_b, dtype=dtype, compute_kernel_config=cfg)
    q, k, v = ttnn.transformer.split_query_key_value_and_split_heads(
        qkv, num_heads=heads, transpose_key=False
    )
    o = ttnn.transformer.scaled_dot_product_attention(
        q, k, v, is_causal=False, scale=scale, compute_kernel_config=cfg
    )
    o = ttnn.linear(
        ttnn.transformer.concatenate_heads(o), o_w, bias=o_b, dtype=dtype, compute_kernel_config=cfg
    )
    out = ttnn.add(ttnn.reshape(o, (bsz, 1, n, c)), x)
    return out if rescale == 1.0 else ttnn.multiply(out, 1.0 / rescale)


class VAEAttention(Port):
    """Port of the VAE mid-block's diffusers `Attention` (group norm, residual connection, no cross attention)."""

    def load(self, ref) -> None:
        if ref.group_norm is None or ref.spatial_norm is not None or not ref.residual_connection or ref.is_cross_attention:  # fmt: skip
            raise ValueError(
                "VAEAttention: only the VAE's form is ported (group norm, residual, self-attention)"
            )
        dev, dt = self.device, self.dtype
        self.norm = group_norm_params(ref.group_norm, dev)
        self.static = {
            "groups": ref.group_norm.num_groups, "eps": float(ref.group_norm.eps), "heads": ref.heads,
            "scale": float(ref.scale), "rescale": float(ref.rescale_output_factor), "dtype": dt, "cfg": self.cfg,
        }  # fmt: skip
        qkv_w = torch.cat([_t(m.weight).t() for m in (ref.to_q, ref.to_k, ref.to_v)], -1)
        qkv_b = torch.cat([_t(m.bias) for m in (ref.to_q, ref.to_k, ref.to_v)])
        self.weights = (
            upload(qkv_w, dev, dt),
            vector(qkv_b, dev),
            upload(_t(ref.to_out[0].weight).t(), dev, dt),
            vector(ref.to_out[0].bias, dev),
        )

    def forward_ttnn(self, x):
        return self.run(vae_attention, x, *self.norm, *self.weights, **self.static)


class VAEDecoder(Port):
    """Port of diffusers' VAE `Decoder`: `port(z [B, 4, h, w]) -> image [B, 3, 2^k h, 2^k w]` (float32)."""

    def load(self, ref) -> None:
        if getattr(ref, "mid_block", None) is None or len(ref.mid_block.attentions) != 1:
            raise ValueError("VAEDecoder: a mid block with one attention is expected (SD1.4's decoder)")
        sub = {"dtype": self.dtype, "jit": self.jit}
        dev = self.device
        self.conv_config = ttnn.Conv2dConfig(weights_dtype=self.dtype)
        self.conv_in_w = conv_params(ref.conv_in, dev)
        self.conv_out_w = conv_params(ref.conv_out, dev)
        self.norm_out = group_norm_params(ref.conv_norm_out, dev)
        self.norm_out_groups, self.norm_out_eps = ref.conv_norm_out.num_groups, float(ref.conv_norm_out.eps)
        self.mid_resnets = [ResnetBlock2D.from_torch(r, dev, **sub) for r in ref.mid_block.resnets]
        self.mid_attn = VAEAttention.from_torch(ref.mid_block.attentions[0], dev, **sub)
        self.up = [
            (
                [ResnetBlock2D.from_torch(r, dev, **sub) for r in block.resnets],
                [Upsample2D.from_torch(u, dev, **sub) for u in block.upsamplers or []],
            )
            for block in ref.up_blocks
        ]

    def forward_ttnn(self, z, *, hw: tuple[int, int]):
        """z [B, 1, hw, 4] -> [B, 1, HW, 3] with HW the upsampled size."""
        hw, bsz = tuple(hw), z.shape[0]
        conv = {"device": self.device, "conv_config": self.conv_config, "cfg": self.cfg}
        w_in = self.prepared(("in", bsz, hw), lambda: prepare_conv3x3(self, *self.conv_in_w, bsz=bsz, hw=hw))
        wi = self.conv_in_w[0]
        h = self.run(conv_in, z, *w_in, hw=hw, cin=wi.shape[1], cout=wi.shape[0], **conv)
        h = self.mid_resnets[0].forward_ttnn(h, None, hw=hw)
        h = self.mid_attn.forward_ttnn(h)
        h = self.mid_resnets[1].forward_ttnn(h, None, hw=hw)
        for resnets, ups in self.up:
            for r in resnets:
                h = r.forward_ttnn(h, None, hw=hw)
            for u in ups:
                h, hw = u.forward_ttnn(h, hw=hw), u.out_hw(hw)
        w_out = self.prepared(
            ("out", bsz, hw), lambda: prepare_conv3x3(self, *self.conv_out_w, bsz=bsz, hw=hw)
        )
        wo = self.conv_out_w[0]
        out = self.run(
            conv_out, h, *self.norm_out, *w_out, groups=self.norm_out_groups, eps=self.norm_out_eps,
            hw=hw, cin=wo.shape[1], cout=wo.shape[0], **conv,
        )  # fmt: skip
        return out, hw

    def __call__(self, sample: torch.Tensor, latent_embeds=None) -> torch.Tensor:
        if latent_embeds is not None:
            raise ValueError("VAEDecoder: latent_embeds (spatial norm) is not ported (SD1.4 has none)")
        _, _, h, w = sample.shape
        out, hw = self.forward_ttnn(nchw_to_tt(sample, self.device), hw=(h, w))
        return tt_to_nchw(out, *hw)


def post_quant_conv(z, w, b, *, dtype, cfg):
    """The 1x1 post_quant_conv as a linear over channels: z [B, 1, hw, C] -> [B, 1, hw, C]."""
    return ttnn.linear(z, w, bias=b, dtype=dtype, compute_kernel_config=cfg)


class AutoencoderKL(Port):
    """Port of diffusers' `AutoencoderKL` decode path: `port.decode(z [B, C_lat, h, w]) -> image [B, 3, H, W]`
    (float32, what `AutoencoderKL.decode(z).sample` returns; the encoder is not ported);
    `decode_ttnn(z [B, 1, hw, C_lat], hw=(h, w))` (also `forward_ttnn`) -> (image [B, 1, HW, 3], (H, W))."""

    def load(self, ref) -> None:
        if getattr(ref, "use_slicing", False) or getattr(ref, "use_tiling", False):
            raise ValueError("AutoencoderKL: sliced / tiled decoding is not ported")
        sub = {"dtype": self.dtype, "jit": self.jit}
        self.decoder = VAEDecoder.from_torch(ref.decoder, self.device, **sub)
        pq = ref.post_quant_conv  # None when config.use_post_quant_conv is False
        self.post_quant = None if pq is None else (upload(conv1x1_weight(pq), self.device, self.dtype), vector(pq.bias, self.device))  # fmt: skip
        self.latent_channels = int(ref.config.latent_channels)
        self.scaling_factor = float(ref.config.scaling_factor)
        self.shift_factor = float(ref.config.shift_factor or 0.0)

    def decode_ttnn(self, z, *, hw: tuple[int, int]):
        """z [B, 1, hw, C_lat] -> (image [B, 1, HW, 3], HW)."""
        if self.post_quant is not None:
            z = self.run(post_quant_conv, z, *self.post_quant, dtype=self.dtype, cfg=self.cfg)
        return self.decoder.forward_ttnn(z, hw=hw)

    forward_ttnn = decode_ttnn  # the ports' entry name (models/sd14/common.py lower_spec_only captures it)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        if z.shape[1] != self.latent_channels:
            raise ValueError(
                f"AutoencoderKL.decode: argument 'z' has {z.shape[1]} channels; the VAE takes {self.latent_channels}"
            )
        _, _, h, w = z.shape
        out, hw = self.decode_ttnn(nchw_to_tt(z, self.device), hw=(h, w))
        return tt_to_nchw(out, *hw)
