"""SD1.4 residual block: port of diffusers' `ResnetBlock2D` with a time embedding ("default" norm: temb added).

    h = conv1(silu(GN1 x)) + time_emb_proj(silu(temb))[:, :, None, None]
    h = conv2(silu(GN2 h))           (dropout is the identity in eval)
    out = (shortcut(x) + h) / output_scale_factor,   shortcut = 1x1 conv when in != out channels, else identity

Layout: activations [B, 1, H*W, C] TILE (TT's group-norm layout); `ttnn.conv2d` reads them flattened as
[1, 1, B*H*W, C] (tt-metal conv2d's input form, ttnn/cpp/ttnn/operations/conv/conv2d/conv2d.cpp) and returns
[1, 1, B*H*W, OC]. The 3x3 conv weights are prepared once per input geometry with `ttnn.prepare_conv_weights`
/ `prepare_conv_bias` (as tt-metal's SD ports do, so no host weight reaches the traced block); the 1x1 shortcut
is a linear over channels. The time embedding projection is a linear on temb [B, 1, 1, T], broadcast over H*W.
"""

from __future__ import annotations

import torch

from models.sd14.common import Port, _t, is_spec_only, place, upload, vector
from models.sd14.transformer2d import conv1x1_weight, group_norm_params, nchw_to_tt, tt_to_nchw
from ttfuse import ttnn


def conv_out_hw(hw: tuple[int, int], stride: int) -> tuple[int, int]:
    """Output size of a 3x3 conv with padding 1."""
    return ((hw[0] - 1) // stride + 1, (hw[1] - 1) // stride + 1)


def conv3x3(x, w, b, *, hw: tuple[int, int], cin: int, cout: int, device, conv_config, cfg, stride: int = 1):
    """3x3, padding 1 on x [B, 1, H*W, Cin] -> [B, 1, OH*OW, Cout]."""
    bsz, _, n, _ = x.shape
    y = ttnn.conv2d(
        input_tensor=ttnn.reshape(x, (1, 1, bsz * n, cin)), weight_tensor=w, bias_tensor=b, device=device,
        in_channels=cin, out_channels=cout, batch_size=bsz, input_height=hw[0], input_width=hw[1],
        kernel_size=(3, 3), stride=(stride, stride), padding=(1, 1), dilation=(1, 1), groups=1,
        conv_config=conv_config, compute_config=cfg,
    )  # fmt: skip
    oh, ow = conv_out_hw(hw, stride)
    return ttnn.reshape(y, (bsz, 1, oh * ow, cout))


def conv_params(conv: torch.nn.Conv2d, device) -> tuple:
    """A Conv2d's weight [OC, IC, KH, KW] and bias [OC] as `prepare_conv3x3` takes them: float32 torch tensors, or
    in spec-only mode spec-only device tensors (ROW_MAJOR float32 [OC, IC, KH, KW] and [1, 1, 1, OC]) that the
    capture lifts as parameters."""
    w, b = _t(conv.weight), _t(conv.bias)
    if not is_spec_only():
        return w, b
    f32 = {"dtype": ttnn.float32, "layout": ttnn.ROW_MAJOR_LAYOUT}
    return place(w, device, **f32), place(b.reshape(1, 1, 1, -1), device, **f32)


def prepare_conv3x3(port: Port, w, b, *, bsz: int, hw: tuple[int, int], stride: int = 1):
    """A 3x3 Conv2d's weight [OC, IC, 3, 3] and bias [OC] (`conv_params`) as conv2d's prepared device tensors for
    this input geometry (tt-metal's prepare_conv_weights / prepare_conv_bias, ttnn/cpp/ttnn/operations/conv/
    conv2d/prepare_conv2d_weights.cpp)."""
    args = dict(
        input_memory_config=ttnn.DRAM_MEMORY_CONFIG, input_layout=ttnn.TILE_LAYOUT, in_channels=w.shape[1],
        out_channels=w.shape[0], batch_size=bsz, input_height=hw[0], input_width=hw[1], kernel_size=(3, 3),
        stride=(stride, stride), padding=(1, 1), dilation=(1, 1), groups=1, device=port.device,
        input_dtype=ttnn.bfloat16, conv_config=port.conv_config, compute_config=port.cfg,
    )  # fmt: skip
    if isinstance(w, torch.Tensor):
        w, b = (
            ttnn.from_torch(w, dtype=ttnn.float32),
            ttnn.from_torch(b.reshape(1, 1, 1, -1), dtype=ttnn.float32),
        )
    pw = ttnn.prepare_conv_weights(weight_tensor=w, weights_format="OIHW", has_bias=True, **args)
    return pw, ttnn.prepare_conv_bias(bias_tensor=b, **args)


def resnet_block(
    x, temb, gn1_w, gn1_b, gn1_m, c1_w, c1_b, t_w, t_b, gn2_w, gn2_b, gn2_m, c2_w, c2_b, sc_w, sc_b, *,
    groups: int, eps: float, hw: tuple[int, int], cin: int, cout: int, scale: float, device, conv_config, dtype, cfg,
):  # fmt: skip
    """ResnetBlock2D: x [B, 1, HW, Cin], temb [B, 1, 1, T] -> [B, 1, HW, Cout] (sc_w None: identity shortcut;
    t_w None: no time embedding, as in the VAE)."""
    conv = {"hw": hw, "device": device, "conv_config": conv_config, "cfg": cfg}
    h = ttnn.group_norm(
        x, num_groups=groups, input_mask=gn1_m, weight=gn1_w, bias=gn1_b, epsilon=eps, inplace=False
    )
    h = conv3x3(ttnn.silu(h), c1_w, c1_b, cin=cin, cout=cout, **conv)
    if t_w is not None:  # the VAE's resnets have no time embedding
        h = ttnn.add(h, ttnn.linear(ttnn.silu(temb), t_w, bias=t_b, dtype=dtype, compute_kernel_config=cfg))
    h = ttnn.group_norm(
        h, num_groups=groups, input_mask=gn2_m, weight=gn2_w, bias=gn2_b, epsilon=eps, inplace=False
    )
    h = conv3x3(ttnn.silu(h), c2_w, c2_b, cin=cout, cout=cout, **conv)
    if sc_w is not None:
        x = ttnn.linear(x, sc_w, bias=sc_b, dtype=dtype, compute_kernel_config=cfg)
    out = ttnn.add(x, h)
    return out if scale == 1.0 else ttnn.multiply(out, 1.0 / scale)


class ResnetBlock2D(Port):
    """Port of diffusers' `ResnetBlock2D` (SD1.4's form: temb, "default" time norm, no up/down sampling).

    `port(input_tensor [B, C, H, W], temb [B, T]) -> [B, Cout, H, W]` (float32);
    `forward_ttnn(x [B, 1, HW, C], temb [B, 1, 1, T], hw=(H, W))` -> [B, 1, HW, Cout]."""

    def load(self, ref) -> None:
        if ref.up or ref.down or (ref.time_emb_proj is not None and ref.time_embedding_norm != "default"):
            raise ValueError(
                "ResnetBlock2D: only SD1.4's form is ported (time embedding added or absent, no up/down sampling)"
            )
        if ref.conv1.kernel_size != (3, 3) or ref.conv2.kernel_size != (3, 3):
            raise ValueError(f"ResnetBlock2D: conv kernels {ref.conv1.kernel_size} are not ported (3x3)")
        dev, dt = self.device, self.dtype
        self.cin, self.cout = ref.in_channels, ref.out_channels
        self.groups, self.groups2 = ref.norm1.num_groups, ref.norm2.num_groups
        if self.groups != self.groups2:
            raise ValueError("ResnetBlock2D: norm1 and norm2 must have the same group count")
        self.eps = float(ref.norm1.eps)
        self.scale = float(ref.output_scale_factor)
        self.conv_config = ttnn.Conv2dConfig(weights_dtype=dt)
        self.gn1, self.gn2 = group_norm_params(ref.norm1, dev), group_norm_params(ref.norm2, dev)
        self.conv_torch = [conv_params(c, dev) for c in (ref.conv1, ref.conv2)]
        tp = ref.time_emb_proj
        self.temb = (None, None) if tp is None else (upload(_t(tp.weight).t(), dev, dt), vector(tp.bias, dev))
        sc = ref.conv_shortcut
        self.shortcut = (
            (None, None) if sc is None else (upload(conv1x1_weight(sc), dev, dt), vector(sc.bias, dev))
        )

    def conv_weights(self, bsz: int, hw: tuple[int, int]) -> tuple:
        """Both convs' prepared device weights and biases for this input geometry (made once)."""
        return self.prepared(
            (bsz, tuple(hw)),
            lambda: tuple(
                t for w, b in self.conv_torch for t in prepare_conv3x3(self, w, b, bsz=bsz, hw=tuple(hw))
            ),
        )

    def forward_ttnn(self, x, temb, *, hw: tuple[int, int]):
        c1_w, c1_b, c2_w, c2_b = self.conv_weights(x.shape[0], hw)
        st = {
            "groups": self.groups, "eps": self.eps, "hw": tuple(hw), "cin": self.cin, "cout": self.cout,
            "scale": self.scale, "device": self.device, "conv_config": self.conv_config, "dtype": self.dtype,
            "cfg": self.cfg,
        }  # fmt: skip
        return self.run(
            resnet_block,
            x,
            temb,
            *self.gn1,
            c1_w,
            c1_b,
            *self.temb,
            *self.gn2,
            c2_w,
            c2_b,
            *self.shortcut,
            **st,
        )

    def __call__(self, input_tensor: torch.Tensor, temb: torch.Tensor | None, **_) -> torch.Tensor:
        b, _, h, w = input_tensor.shape
        t = None if temb is None else upload(temb.reshape(b, 1, 1, -1), self.device)
        out = self.forward_ttnn(nchw_to_tt(input_tensor, self.device), t, hw=(h, w))
        return tt_to_nchw(out, h, w)
