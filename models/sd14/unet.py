"""SD1.4 denoiser: port of diffusers' `UNet2DConditionModel` assembled from the block ports.

    emb = TimestepEmbedding(Timesteps(t))                       features on the host, MLP on the device
    h = conv_in(sample); skips = [h]
    down blocks: (resnet [-> transformer]) per layer, each output a skip; then Downsample2D (also a skip)
    mid: resnet -> transformer -> resnet
    up blocks: per layer h = resnet(concat(h, skips.pop()) on channels) [-> transformer]; then Upsample2D
    out = conv_out(silu(GroupNorm(h)))

Every tensor stays on the device between blocks in the [B, 1, H*W, C] layout; skips are concatenated on the
channel dim (`ttnn.concat(dim=3)`). Supports SD1.4's block kinds (CrossAttnDownBlock2D, DownBlock2D,
UNetMidBlock2DCrossAttn, CrossAttnUpBlock2D, UpBlock2D) and even spatial sizes at every level. The down and up
blocks are ports of their own (`CrossAttnDownBlock2D` / `DownBlock2D`, `CrossAttnUpBlock2D` / `UpBlock2D`, torch in
and out like diffusers' blocks), so a block can be tested and benchmarked alone.
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


def _hw(t: torch.Tensor) -> tuple[int, int]:
    return (t.shape[2], t.shape[3])


class CrossAttnDownBlock2D(Port):
    """Port of diffusers' `CrossAttnDownBlock2D` (and, with no attentions, `DownBlock2D`): per layer a resnet
    [-> Transformer2DModel], each output a skip, then the Downsample2D (its output a skip too).

    `port(hidden_states [B, C, H, W], temb [B, T], encoder_hidden_states [B, L, Dc]) -> (hidden_states,
    output_states)` like diffusers; `forward_ttnn(h, emb, ctx, hw=)` -> (h, hw, [(skip, skip_hw), ...])."""

    def load(self, ref) -> None:
        sub = {"dtype": self.dtype, "jit": self.jit}
        self.resnets = [ResnetBlock2D.from_torch(r, self.device, **sub) for r in ref.resnets]
        self.attentions = [Transformer2DModel.from_torch(a, self.device, **sub) for a in getattr(ref, "attentions", None) or []]  # fmt: skip
        self.downsamplers = [Downsample2D.from_torch(d, self.device, **sub) for d in ref.downsamplers or []]

    def forward_ttnn(self, h, emb, ctx, *, hw: tuple[int, int]):
        skips = []
        for i, resnet in enumerate(self.resnets):
            h = resnet.forward_ttnn(h, emb, hw=hw)
            if self.attentions:
                h = self.attentions[i].forward_ttnn(h, ctx)
            skips.append((h, hw))
        for d in self.downsamplers:
            h, hw = d.forward_ttnn(h, hw=hw), d.out_hw(hw)
            skips.append((h, hw))
        return h, hw, skips

    def __call__(self, hidden_states: torch.Tensor, temb: torch.Tensor, encoder_hidden_states=None, **_):
        b = hidden_states.shape[0]
        ctx = None if encoder_hidden_states is None else upload(encoder_hidden_states, self.device)
        emb = upload(temb.reshape(b, 1, 1, -1), self.device)
        h, hw, skips = self.forward_ttnn(
            nchw_to_tt(hidden_states, self.device), emb, ctx, hw=_hw(hidden_states)
        )
        return tt_to_nchw(h, *hw), tuple(tt_to_nchw(s, *s_hw) for s, s_hw in skips)


class DownBlock2D(CrossAttnDownBlock2D):
    """Port of diffusers' `DownBlock2D` (resnets and a Downsample2D, no attention)."""


class CrossAttnUpBlock2D(Port):
    """Port of diffusers' `CrossAttnUpBlock2D` (and, with no attentions, `UpBlock2D`): per layer
    h = resnet(concat(h, skip) on channels) [-> Transformer2DModel], the skips taken from the END of the list;
    then the Upsample2D.

    `port(hidden_states, res_hidden_states_tuple, temb, encoder_hidden_states) -> hidden_states` like diffusers;
    `forward_ttnn(h, skips, emb, ctx, hw=)` -> (h, hw), popping the skips it uses from `skips`."""

    def load(self, ref) -> None:
        sub = {"dtype": self.dtype, "jit": self.jit}
        self.resnets = [ResnetBlock2D.from_torch(r, self.device, **sub) for r in ref.resnets]
        self.attentions = [Transformer2DModel.from_torch(a, self.device, **sub) for a in getattr(ref, "attentions", None) or []]  # fmt: skip
        self.upsamplers = [Upsample2D.from_torch(u, self.device, **sub) for u in ref.upsamplers or []]

    def forward_ttnn(self, h, skips: list, emb, ctx, *, hw: tuple[int, int]):
        for i, resnet in enumerate(self.resnets):
            skip, skip_hw = skips.pop()
            if skip_hw != hw:
                raise ValueError(f"{type(self).__name__}: skip at {skip_hw} meets {hw}; use even sizes at every level")  # fmt: skip
            h = resnet.forward_ttnn(ttnn.concat([h, skip], dim=3), emb, hw=hw)
            if self.attentions:
                h = self.attentions[i].forward_ttnn(h, ctx)
        for u in self.upsamplers:
            h, hw = u.forward_ttnn(h, hw=hw), u.out_hw(hw)
        return h, hw

    def __call__(self, hidden_states: torch.Tensor, res_hidden_states_tuple, temb: torch.Tensor, encoder_hidden_states=None, **_):  # fmt: skip
        b = hidden_states.shape[0]
        ctx = None if encoder_hidden_states is None else upload(encoder_hidden_states, self.device)
        emb = upload(temb.reshape(b, 1, 1, -1), self.device)
        skips = [(nchw_to_tt(s, self.device), _hw(s)) for s in res_hidden_states_tuple]
        h, hw = self.forward_ttnn(
            nchw_to_tt(hidden_states, self.device), skips, emb, ctx, hw=_hw(hidden_states)
        )
        return tt_to_nchw(h, *hw)


class UpBlock2D(CrossAttnUpBlock2D):
    """Port of diffusers' `UpBlock2D` (resnets over the concatenated skips and an Upsample2D, no attention)."""


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

        self.down = [
            (CrossAttnDownBlock2D if getattr(b, "attentions", None) else DownBlock2D).from_torch(
                b, self.device, **sub
            )
            for b in ref.down_blocks
        ]
        mid = ref.mid_block
        self.mid = (
            [ResnetBlock2D.from_torch(r, self.device, **sub) for r in mid.resnets],
            [Transformer2DModel.from_torch(a, self.device, **sub) for a in mid.attentions],
        )
        self.up = [
            (CrossAttnUpBlock2D if getattr(b, "attentions", None) else UpBlock2D).from_torch(
                b, self.device, **sub
            )
            for b in ref.up_blocks
        ]

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
        for block in self.down:
            h, hw, block_skips = block.forward_ttnn(h, emb, ctx, hw=hw)
            skips += block_skips
        resnets, attns = self.mid
        h = resnets[0].forward_ttnn(h, emb, hw=hw)
        for attn, resnet in zip(attns, resnets[1:]):
            h = resnet.forward_ttnn(attn.forward_ttnn(h, ctx), emb, hw=hw)
        for block in self.up:
            h, hw = block.forward_ttnn(h, skips, emb, ctx, hw=hw)
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
