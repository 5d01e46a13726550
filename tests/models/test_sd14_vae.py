"""The SD1.4 VAE decoder port (models/sd14/vae.py) against diffusers' `Decoder` at a tiny random-weight config
(every parameter re-drawn): PCC >= 0.998 whole (eager and JIT), JIT vs eager >= 0.9995 with fewer launches; the mid-block
attention alone >= 0.999 (also on its update, so the residual cannot carry the score)."""

from __future__ import annotations

import pytest
import torch
from diffusers.models.autoencoders.vae import Decoder as RefDecoder

import ttfuse.sim
from models.sd14 import VAEAttention, VAEDecoder
from models.sd14.transformer2d import nchw_to_tt, tt_to_nchw


@pytest.fixture(scope="module")
def decoder_ref():
    from ttfuse.testing import redraw_parameters

    ref = RefDecoder(
        in_channels=4,
        out_channels=3,
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        block_out_channels=(32, 64),
        layers_per_block=1,
        norm_num_groups=32,
    )
    return redraw_parameters(ref, 0)


def test_vae_decoder_vs_diffusers(device, pcc, pcc_report, decoder_ref):
    z = torch.randn(2, 4, 8, 6, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want = decoder_ref(z)
    got = {jit: VAEDecoder.from_torch(decoder_ref, device, jit=jit)(z) for jit in (False, True)}
    for jit, out in got.items():
        assert out.shape == want.shape == (2, 3, 16, 12)
        p = pcc(out, want)
        pcc_report(f"VAE Decoder jit={jit} vs diffusers", p)
        assert p >= 0.998
    p = pcc(got[True], got[False])
    pcc_report("VAE Decoder JIT vs eager", p)
    assert p >= 0.9995


def test_vae_decoder_launches(device, pcc_report, decoder_ref):
    """The decoder's resnets and its norm_out + silu lose a launch per group_norm + silu under the JIT."""
    z = nchw_to_tt(torch.randn(1, 4, 8, 6, generator=torch.Generator().manual_seed(2)), device)
    counts = {}
    for jit in (False, True):
        port = VAEDecoder.from_torch(decoder_ref, device, jit=jit)
        port.forward_ttnn(z, hw=(8, 6))  # JIT: compile outside the count
        with ttfuse.sim.count_launches(device) as c:
            port.forward_ttnn(z, hw=(8, 6))
        counts[jit] = c.total
    pcc_report("VAE Decoder launches eager -> JIT", f"{counts[False]} -> {counts[True]}")
    assert counts[True] < counts[False]


def test_vae_attention_vs_diffusers(device, pcc, pcc_report, decoder_ref):
    ref = decoder_ref.mid_block.attentions[0]
    x = torch.randn(1, 64, 4, 4, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        want = ref(x)
    got = tt_to_nchw(
        VAEAttention.from_torch(ref, device, jit=False).forward_ttnn(nchw_to_tt(x, device)), 4, 4
    )
    p, pu = pcc(got, want), pcc(got - x, want - x)
    pcc_report("VAE mid attention", p)
    pcc_report("VAE mid attention update", pu)
    assert p >= 0.999 and pu >= 0.999


def test_autoencoder_kl_decode_vs_diffusers(device, pcc, pcc_report):
    """`AutoencoderKL.decode` whole: post_quant_conv (a linear over channels on the device) then the decoder."""
    from models.sd14 import AutoencoderKL
    from models.sd14.tiny import tiny_vae

    ref = tiny_vae(3)
    z = torch.randn(1, 4, 8, 6, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        want = ref.decode(z).sample
    got = AutoencoderKL.from_torch(ref, device, jit=True).decode(z)
    assert got.shape == want.shape == (1, 3, 16, 12)
    p = pcc(got, want)
    pcc_report("AutoencoderKL.decode (JIT) vs diffusers", p)
    assert p >= 0.998


def test_autoencoder_kl_applies_post_quant_conv_and_checks_channels(device, pcc):
    """The post_quant_conv is applied (without it the decode is something else); a wrong latent width is a clear
    error naming the argument."""
    from models.sd14 import AutoencoderKL
    from models.sd14.tiny import tiny_vae

    ref = tiny_vae(3)
    assert ref.config.use_post_quant_conv
    z = torch.randn(1, 4, 8, 6, generator=torch.Generator().manual_seed(5))
    port = AutoencoderKL.from_torch(ref, device, jit=False)
    with torch.no_grad():
        skipped = ref.decoder(z)
    assert pcc(port.decode(z), skipped) < 0.99
    with pytest.raises(ValueError, match="'z' has 16 channels"):
        port.decode(torch.zeros(1, 16, 8, 6))
