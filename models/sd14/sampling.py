"""SD1.4's resolution changes and time embedding: ports of diffusers' `Downsample2D` (3x3 conv, stride 2,
padding 1), `Upsample2D` (nearest 2x, then 3x3 conv) and `TimestepEmbedding` (linear -> silu -> linear), with
`timestep_features` computing diffusers' sinusoidal `Timesteps` projection on the host (a [B] -> [B, C] table
lookup-sized computation per step, as tt-metal's SD1.4 demo does on the host).

Layout as the other UNet blocks: [B, 1, H*W, C] TILE; `ttnn.upsample` reads NHWC [B, H, W, C].
"""

from __future__ import annotations

import math

import torch

from models.sd14.common import Port, linear_weight, upload, vector
from models.sd14.resnet import conv3x3, conv_out_hw, conv_params, prepare_conv3x3
from models.sd14.transformer2d import nchw_to_tt, tt_to_nchw
from ttfuse import ttnn


def downsample(x, w, b, *, hw: tuple[int, int], cin: int, cout: int, device, conv_config, cfg):
    return conv3x3(
        x, w, b, hw=hw, cin=cin, cout=cout, device=device, conv_config=conv_config, cfg=cfg, stride=2
    )


def upsample(x, w, b, *, hw: tuple[int, int], cin: int, cout: int, device, conv_config, cfg):
    bsz = x.shape[0]
    # a TILE input to ttnn.upsample must be tile aligned (W and C multiples of 32); ROW_MAJOR takes any shape
    x = ttnn.to_layout(x, ttnn.ROW_MAJOR_LAYOUT)
    u = ttnn.upsample(ttnn.reshape(x, (bsz, hw[0], hw[1], cin)), 2)
    u = ttnn.reshape(u, (bsz, 1, 4 * hw[0] * hw[1], cin))
    return conv3x3(u, w, b, hw=(2 * hw[0], 2 * hw[1]), cin=cin, cout=cout, device=device, conv_config=conv_config, cfg=cfg)  # fmt: skip


class _ConvResample(Port):
    STRIDE = 1
    SCALE = 1

    def load(self, ref) -> None:
        if ref.conv is None or getattr(ref, "norm", None) is not None or ref.conv.kernel_size != (3, 3):
            raise ValueError(f"{type(self).__name__}: only SD1.4's form is ported (3x3 conv, no norm)")
        self.cin, self.cout = ref.conv.in_channels, ref.conv.out_channels
        self.conv_config = ttnn.Conv2dConfig(weights_dtype=self.dtype)
        self.w = conv_params(ref.conv, self.device)

    def out_hw(self, hw: tuple[int, int]) -> tuple[int, int]:
        return conv_out_hw(hw, 2) if self.STRIDE == 2 else (2 * hw[0], 2 * hw[1])

    def forward_ttnn(self, x, *, hw: tuple[int, int]):
        hw = tuple(hw)
        conv_hw = hw if self.STRIDE == 2 else (2 * hw[0], 2 * hw[1])
        w = self.prepared(
            (x.shape[0], hw),
            lambda: prepare_conv3x3(self, *self.w, bsz=x.shape[0], hw=conv_hw, stride=self.STRIDE),
        )
        st = {
            "hw": hw,
            "cin": self.cin,
            "cout": self.cout,
            "device": self.device,
            "conv_config": self.conv_config,
        }
        return self.run(self.BLOCK, x, *w, cfg=self.cfg, **st)

    def __call__(self, hidden_states: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        _, _, h, w = hidden_states.shape
        out = self.forward_ttnn(nchw_to_tt(hidden_states, self.device), hw=(h, w))
        return tt_to_nchw(out, *self.out_hw((h, w)))


class Downsample2D(_ConvResample):
    """Port of diffusers' `Downsample2D(use_conv=True, padding=1)`: [B, C, H, W] -> [B, Cout, ceil(H/2), ceil(W/2)]."""

    STRIDE = 2
    BLOCK = staticmethod(downsample)

    def load(self, ref) -> None:
        if ref.padding != 1:
            raise ValueError(f"Downsample2D: padding {ref.padding} is not ported (1, as SD1.4)")
        super().load(ref)


class Upsample2D(_ConvResample):
    """Port of diffusers' `Upsample2D(use_conv=True)` (nearest 2x): [B, C, H, W] -> [B, Cout, 2H, 2W]."""

    BLOCK = staticmethod(upsample)

    def load(self, ref) -> None:
        if ref.use_conv_transpose or ref.interpolate is False:
            raise ValueError("Upsample2D: only nearest interpolation + conv is ported (SD1.4)")
        super().load(ref)


def timestep_features(timesteps: torch.Tensor, dim: int, *, flip_sin_to_cos: bool = True, shift: float = 0.0):
    """diffusers' `Timesteps(dim, flip_sin_to_cos, downscale_freq_shift=shift)` on the host: [B] -> [B, dim]
    (SD1.4: flip_sin_to_cos=True, shift 0); frequencies exp(-ln(10000) i / (dim/2 - shift))."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / (half - shift))
    arg = timesteps.float()[:, None] * freqs[None]
    sin, cos = torch.sin(arg), torch.cos(arg)
    emb = torch.cat([cos, sin] if flip_sin_to_cos else [sin, cos], -1)
    return torch.nn.functional.pad(emb, (0, dim % 2))


def time_mlp(t, w1, b1, w2, b2, *, dtype, cfg):
    h = ttnn.linear(t, w1, bias=b1, activation="silu", dtype=dtype, compute_kernel_config=cfg)
    return ttnn.linear(h, w2, bias=b2, dtype=dtype, compute_kernel_config=cfg)


class TimestepEmbedding(Port):
    """Port of diffusers' `TimestepEmbedding` (act "silu", no cond projection, no post act):
    `port(sample [B, C]) -> [B, D]`; `forward_ttnn(t [B, 1, 1, C])` -> [B, 1, 1, D] (the resnets' temb form)."""

    def load(self, ref) -> None:
        if ref.cond_proj is not None or ref.post_act is not None or not isinstance(ref.act, torch.nn.SiLU):
            raise ValueError("TimestepEmbedding: only SD1.4's form is ported (linear, silu, linear)")
        dev, dt = self.device, self.dtype
        self.weights = (
            linear_weight(ref.linear_1.weight, dev, dt),
            vector(ref.linear_1.bias, dev),
            linear_weight(ref.linear_2.weight, dev, dt),
            vector(ref.linear_2.bias, dev),
        )

    def forward_ttnn(self, t):
        return self.run(time_mlp, t, *self.weights, dtype=self.dtype, cfg=self.cfg)

    def __call__(self, sample: torch.Tensor, condition=None) -> torch.Tensor:
        b = sample.shape[0]
        out = self.forward_ttnn(upload(sample.reshape(b, 1, 1, -1), self.device))
        return ttnn.to_torch(out).float().reshape(b, -1)
