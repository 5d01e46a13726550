"""SD1.4 denoiser: port of diffusers' `UNet2DConditionModel` assembled from the block ports.

    emb = TimestepEmbedding(Timesteps(t))                       features on the host, MLP on the device
    h = conv_in(sample); skips = [h]
    down blocks: (resnet [-> transformer]) per layer, each output a skip; then Downsample2D (also a skip)
    mid: resnet -> transformer -> resnet
    up blocks: per layer h = resnet(concat(h, skips.pop()) on channels) [-> transformer]; then Upsample2D
    out = conv_out(silu(GroupNorm(h)))

Every tensor stays on the device between blocks in the [B, 1, H*W, C] layout; skips are concatenated on the
channel dim (`ttnn.concat(dim=3)`). Supports SD1.4's block kinds (CrossAttnDownBlock2D, DownBlock2D,
UNetMidBlock2DCrossAttn, CrossAttnUpBlock2D, UpBlock2D) and even spatial sizes at every level.
"""

from __future__ import annotations

import torch

from models.sd14.common import Port, upload
from models.sd14.resnet import ResnetBlock2D, conv3x3, conv_params, prepare_conv3x3
from models.sd14.sampling import Downsample2D, TimestepEmbedding, Upsample2D, timestep_features
from models.sd14.transformer2d import Transformer2DModel, group_norm_params, nchw_to_tt, tt_to_nchw
from ttfuse import ttnn


def conv_in(x, w, b, *, hw, cin: int, cout: int, device, conv_config, cfg):
    return conv3x3(x, w, b, hw=hw, cin=cin, cout=cout, device=device, conv_config=conv_config, cfg=cfg)


def conv_out(x, gn_w, gn_b, gn_m, w, b, *, groups: int, eps: float, hw, cin: int, cout: int, device, conv_config, cfg):  # fmt: skip
    h = ttnn.silu(
        ttnn.group_norm(
            x, num_groups=groups, input_mask=gn_m, weight=gn_w, bias=gn_b, epsilon=eps, inplace=False
        )
    )
    return conv3x3(h, w, b, hw=hw, cin=cin, cout=cout, device=device, conv_config=conv_config, cfg=cfg)


class UNet2DConditionModel(Port):
    """Port of diffusers' `UNet2DConditionModel` as SD1.4 configures it.

    `port(sample [B, 4, H, W], timestep (int or [B]), encoder_hidden_states [B, L, Dc]) -> [B, 4, H, W]`."""

    def load(self, ref) -> None:
        cfg = ref.config
        if cfg.class_embed_type or cfg.addition_embed_type or cfg.time_embedding_type != "positional":
            raise ValueError(
                "UNet2DConditionModel: only SD1.4's form is ported (positional time embedding only)"
            )
        self.time_dim = ref.time_proj.num_channels
        self.flip, self.shift = bool(ref.time_proj.flip_sin_to_cos), float(ref.time_proj.downscale_freq_shift)
        sub = {"dtype": self.dtype, "jit": self.jit}
        self.time_embedding = TimestepEmbedding.from_torch(ref.time_embedding, self.device, **sub)
        self.conv_config = ttnn.Conv2dConfig(weights_dtype=self.dtype)
        self.conv_in_w = conv_params(ref.conv_in, self.device)
        self.conv_out_w = conv_params(ref.conv_out, self.device)
        self.norm_out = group_norm_params(ref.conv_norm_out, self.device)
        self.norm_out_groups, self.norm_out_eps = ref.conv_norm_out.num_groups, float(ref.conv_norm_out.eps)

        def blocks(block):
            resnets = [ResnetBlock2D.from_torch(r, self.device, **sub) for r in block.resnets]
            attns = [Transformer2DModel.from_torch(a, self.device, **sub) for a in getattr(block, "attentions", None) or []]  # fmt: skip
            return resnets, attns

        self.down = []
        for block in ref.down_blocks:
            resnets, attns = blocks(block)
            down = [Downsample2D.from_torch(d, self.device, **sub) for d in block.downsamplers or []]
            self.down.append((resnets, attns, down))
        self.mid = blocks(ref.mid_block)
        self.up = []
        for block in ref.up_blocks:
            resnets, attns = blocks(block)
            up = [Upsample2D.from_torch(u, self.device, **sub) for u in block.upsamplers or []]
            self.up.append((resnets, attns, up))

    def _convs(self, bsz: int, hw: tuple[int, int]) -> tuple:
        return self.prepared(
            (bsz, hw),
            lambda: (
                *prepare_conv3x3(self, *self.conv_in_w, bsz=bsz, hw=hw),
                *prepare_conv3x3(self, *self.conv_out_w, bsz=bsz, hw=hw),
            ),
        )

    def forward_ttnn(self, x, temb, ctx, *, hw: tuple[int, int]):
        """x [B, 1, HW, Cin], temb [B, 1, 1, time_dim] (the sinusoidal features), ctx [B, L, Dc] -> [B, 1, HW, Cout]."""
        hw = tuple(hw)
        ci_w, ci_b, co_w, co_b = self._convs(x.shape[0], hw)
        conv = {"device": self.device, "conv_config": self.conv_config, "cfg": self.cfg}
        emb = self.time_embedding.forward_ttnn(temb)
        h = self.run(conv_in, x, ci_w, ci_b, hw=hw, cin=self.conv_in_w[0].shape[1], cout=self.conv_in_w[0].shape[0], **conv)  # fmt: skip
        skips = [(h, hw)]
        for resnets, attns, down in self.down:
            for i, resnet in enumerate(resnets):
                h = resnet.forward_ttnn(h, emb, hw=hw)
                if attns:
                    h = attns[i].forward_ttnn(h, ctx)
                skips.append((h, hw))
            for d in down:
                h, hw = d.forward_ttnn(h, hw=hw), d.out_hw(hw)
                skips.append((h, hw))
        resnets, attns = self.mid
        h = resnets[0].forward_ttnn(h, emb, hw=hw)
        for attn, resnet in zip(attns, resnets[1:]):
            h = resnet.forward_ttnn(attn.forward_ttnn(h, ctx), emb, hw=hw)
        for resnets, attns, up in self.up:
            for i, resnet in enumerate(resnets):
                skip, skip_hw = skips.pop()
                if skip_hw != hw:
                    raise ValueError(f"UNet2DConditionModel: skip at {skip_hw} meets {hw}; use even sizes at every level")  # fmt: skip
                h = resnet.forward_ttnn(ttnn.concat([h, skip], dim=3), emb, hw=hw)
                if attns:
                    h = attns[i].forward_ttnn(h, ctx)
            for u in up:
                h, hw = u.forward_ttnn(h, hw=hw), u.out_hw(hw)
        return self.run(
            conv_out, h, *self.norm_out, co_w, co_b, groups=self.norm_out_groups, eps=self.norm_out_eps, hw=hw,
            cin=self.conv_out_w[0].shape[1], cout=self.conv_out_w[0].shape[0], **conv,
        )  # fmt: skip

    def time_features(self, timestep, batch: int) -> torch.Tensor:
        t = torch.as_tensor(timestep).reshape(-1).expand(batch)
        return timestep_features(t, self.time_dim, flip_sin_to_cos=self.flip, shift=self.shift)

    def __call__(
        self, sample: torch.Tensor, timestep, encoder_hidden_states: torch.Tensor, **_
    ) -> torch.Tensor:
        b, _, h, w = sample.shape
        temb = upload(self.time_features(timestep, b).reshape(b, 1, 1, -1), self.device)
        ctx = upload(encoder_hidden_states, self.device)
        return tt_to_nchw(self.forward_ttnn(nchw_to_tt(sample, self.device), temb, ctx, hw=(h, w)), h, w)
