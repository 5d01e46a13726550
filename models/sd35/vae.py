"""SD3.5's VAE decoder: diffusers' `AutoencoderKL` as stabilityai/stable-diffusion-3.5-large configures it, on the
SD1.4 port's blocks (models/sd14/vae.py: conv2d, group_norm, upsample, the mid-block attention).

    vae = AutoencoderKL.from_torch(diffusers_vae, device, jit=True)
    image = vae.decode_latents(latents)       # the pipeline's unscale + shift, then decode: [B, 3, 8h, 8w]
    image = vae.decode(z)                     # diffusers' vae.decode(z).sample

SD3.5 Large's vae/config.json: 16 latent channels, block_out_channels 128/256/512/512, 2 layers per block,
32 groups, no quant / post-quant conv, scaling_factor 1.5305, shift_factor 0.0609 (`SD35_VAE`). The pipeline
(diffusers `StableDiffusion3Pipeline`) decodes `latents / scaling_factor + shift_factor`; `decode(z)` alone is
diffusers' `AutoencoderKL.decode(z).sample`. The decode runs on one device (TT-DiT runs it tensor-parallel on a cfg
submesh; not ported).
"""

from __future__ import annotations

import torch

from models.sd14.vae import AutoencoderKL as _SD14AutoencoderKL

SD35_VAE = dict(
    in_channels=3,
    out_channels=3,
    down_block_types=("DownEncoderBlock2D",) * 4,
    up_block_types=("UpDecoderBlock2D",) * 4,
    block_out_channels=(128, 256, 512, 512),
    layers_per_block=2,
    latent_channels=16,
    norm_num_groups=32,
    sample_size=1024,
    scaling_factor=1.5305,
    shift_factor=0.0609,
    use_quant_conv=False,
    use_post_quant_conv=False,
)


class AutoencoderKL(_SD14AutoencoderKL):
    """Port of diffusers' `AutoencoderKL` (SD3.5's: 16 latent channels, no post-quant conv) with the SD3 pipeline's
    latent transform: `decode_latents(latents)` = `decode(latents / scaling_factor + shift_factor)` (`decode` returns
    what diffusers' `.decode(z).sample` holds)."""

    def decode_latents(self, latents: torch.Tensor) -> torch.Tensor:
        return self.decode(latents / self.scaling_factor + self.shift_factor)


def meta_vae(**overrides):
    """SD3.5 Large's VAE on torch's meta device: shapes only, no storage."""
    from models.sd14.perf import meta_vae as _meta

    return _meta({**SD35_VAE, **overrides})
