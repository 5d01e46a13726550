"""SD3.5's VAE decoder port (models/sd35/vae.py, on the SD1.4 port's blocks) against diffusers' AutoencoderKL with
SD3.5's form at a tiny size (16 latent channels, no post-quant conv, SD3.5's scaling and shift; every parameter
re-drawn): decode PCC >= 0.998, and the pipeline's latent transform as diffusers' StableDiffusion3Pipeline
applies it."""

from __future__ import annotations

import torch
from diffusers import AutoencoderKL as RefAutoencoderKL

from models.sd35.vae import SD35_VAE, AutoencoderKL

TINY = dict(block_out_channels=(32, 64), layers_per_block=1, sample_size=32)


def _tiny_ref(redraw):
    levels = {"down_block_types": ("DownEncoderBlock2D",) * 2, "up_block_types": ("UpDecoderBlock2D",) * 2}
    return redraw(RefAutoencoderKL(**{**SD35_VAE, **TINY, **levels}), 0)


def test_sd35_vae_decode_vs_diffusers(device, redraw, pcc, pcc_report):
    ref = _tiny_ref(redraw)
    assert ref.config.latent_channels == 16 and not ref.config.use_post_quant_conv
    assert ref.post_quant_conv is None
    latents = torch.randn(1, 16, 8, 6, generator=torch.Generator().manual_seed(4))
    port = AutoencoderKL.from_torch(ref, device, jit=True)
    with torch.no_grad():
        want = ref.decode(latents).sample
        # StableDiffusion3Pipeline: latents / scaling_factor + shift_factor, then vae.decode
        want_pipe = ref.decode(latents / ref.config.scaling_factor + ref.config.shift_factor).sample
    got = port.decode(latents)
    assert got.shape == want.shape == (1, 3, 16, 12)
    p = pcc(got, want)
    pcc_report("SD3.5 VAE decode (tiny, 16 latent channels) vs diffusers", p)
    assert p >= 0.998
    got_pipe = port.decode_latents(latents)
    p = pcc(got_pipe, want_pipe)
    pcc_report("SD3.5 VAE decode_latents (unscale + shift) vs diffusers", p)
    assert p >= 0.998 and port.scaling_factor == 1.5305 and port.shift_factor == 0.0609


def test_sd35_vae_config_is_diffusers_sd35_large():
    """SD35_VAE builds diffusers' AutoencoderKL with SD3.5 Large's decoder: 16 -> 512 channels at conv_in, four
    UpDecoderBlock2D levels of 3 resnets (layers_per_block + 1), three upsamplers (x8), a mid-block attention."""
    from models.sd35.vae import meta_vae

    ref = meta_vae()
    dec = ref.decoder
    assert tuple(dec.conv_in.weight.shape) == (512, 16, 3, 3) and dec.conv_out.out_channels == 3
    assert [len(b.resnets) for b in dec.up_blocks] == [3, 3, 3, 3]
    assert sum(1 for b in dec.up_blocks if b.upsamplers) == 3 and len(dec.mid_block.attentions) == 1
    assert ref.config.scaling_factor == 1.5305 and ref.config.shift_factor == 0.0609
