"""The SD1.4 UNet port (models/sd14/unet.py) whole, and five DDIM steps end to end (CLIP text encoder -> UNet
with classifier-free guidance -> DDIM), against diffusers / transformers in float32 at a tiny random-weight
config (every parameter re-drawn). Targets: UNet PCC >= 0.998 (eager and JIT), JIT vs eager >= 0.9995 with
fewer launches; the latents PCC >= 0.99 after every one of the five steps."""

from __future__ import annotations

import pytest
import torch
from transformers import CLIPTextConfig
from transformers import CLIPTextModel as RefCLIP

import ttfuse.sim
from models.sd14 import CLIPTextModel, DDIMScheduler, UNet2DConditionModel
from models.sd14.common import upload
from models.sd14.tiny import TEXT_DIM, sd14_ddim, tiny_unet
from models.sd14.transformer2d import nchw_to_tt


@pytest.fixture(scope="module")
def unet_ref():
    return tiny_unet(0)


def noise(shape, seed: int) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def test_unet_whole_vs_diffusers(device, pcc, pcc_report, unet_ref):
    x, ctx = noise((2, 4, 16, 16), 1), noise((2, 77, TEXT_DIM), 2)
    with torch.no_grad():
        want = unet_ref(x, 981, encoder_hidden_states=ctx).sample
    eager = UNet2DConditionModel.from_torch(unet_ref, device, jit=False)(x, 981, ctx)
    jit = UNet2DConditionModel.from_torch(unet_ref, device, jit=True)(x, 981, ctx)
    for name, got in (("eager", eager), ("JIT", jit)):
        assert got.shape == want.shape
        p = pcc(got, want)
        pcc_report(f"UNet2DConditionModel {name} vs diffusers", p)
        assert p >= 0.998
    p = pcc(jit, eager)
    pcc_report("UNet2DConditionModel JIT vs eager", p)
    assert p >= 0.9995


def test_unet_launches(device, pcc_report, unet_ref):
    x, ctx = noise((1, 4, 16, 16), 3), noise((1, 77, TEXT_DIM), 4)
    counts = {}
    for jit in (False, True):
        port = UNet2DConditionModel.from_torch(unet_ref, device, jit=jit)
        temb = upload(port.time_features(500, 1).reshape(1, 1, 1, -1), device)
        args = (nchw_to_tt(x, device), temb, upload(ctx, device))
        port.forward_ttnn(*args, hw=(16, 16))  # JIT: compile outside the count
        with ttfuse.sim.count_launches(device) as c:
            port.forward_ttnn(*args, hw=(16, 16))
        counts[jit] = c.total
    pcc_report("UNet2DConditionModel launches eager -> JIT", f"{counts[False]} -> {counts[True]}")
    assert counts[True] < counts[False]


def test_five_ddim_steps_end_to_end(device, redraw, pcc, pcc_report, unet_ref):
    """Prompt and empty prompt through the CLIP port, then 5 DDIM steps with guidance 7.5, the UNet port on the
    device and the DDIM port on the host; the reference runs transformers + diffusers in float32."""
    clip_ref = redraw(
        RefCLIP(
            CLIPTextConfig(
                vocab_size=1000,
                hidden_size=TEXT_DIM,
                intermediate_size=128,
                num_hidden_layers=2,
                num_attention_heads=1,
                max_position_embeddings=77,
                hidden_act="quick_gelu",
                eos_token_id=999,
                bos_token_id=0,
            )
        ),
        7,
    )
    ids = torch.cat([torch.full((1, 77), 999), torch.randint(1, 999, (1, 77), generator=torch.Generator().manual_seed(8))])  # fmt: skip
    ids[0, 0] = ids[1, 0] = 0  # BOS; row 0 is the empty prompt (BOS then EOS padding)
    guidance, steps = 7.5, 5
    ref_sched = sd14_ddim(steps)
    sched = DDIMScheduler()
    sched.set_timesteps(steps)
    assert torch.equal(sched.timesteps, ref_sched.timesteps)

    clip = CLIPTextModel.from_torch(clip_ref, device, jit=True)
    unet = UNet2DConditionModel.from_torch(unet_ref, device, jit=True)
    with torch.no_grad():
        ctx_ref = clip_ref(ids).last_hidden_state
    ctx = clip(ids)
    pcc_report("text embeddings", pcc(ctx, ctx_ref))
    lat_ref = lat = noise((1, 4, 16, 16), 9)
    for i, t in enumerate(ref_sched.timesteps):
        with torch.no_grad():
            e = unet_ref(torch.cat([lat_ref] * 2), t, encoder_hidden_states=ctx_ref).sample
        e_u, e_c = e.chunk(2)
        lat_ref = ref_sched.step(e_u + guidance * (e_c - e_u), t, lat_ref).prev_sample
        e = unet(torch.cat([lat] * 2), int(t), ctx)
        e_u, e_c = e.chunk(2)
        lat = sched.step(e_u + guidance * (e_c - e_u), t, lat)[0]
        p = pcc(lat, lat_ref)
        pcc_report(f"latents after DDIM step {i + 1} (t={int(t)})", p)
        assert p >= 0.99
