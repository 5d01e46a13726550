"""The host DDIM step of the SD1.4 port (models/sd14/scheduler.py) against diffusers' DDIMScheduler with
SD1.4's config: timesteps, alphas and whole sampling loops (deterministic and eta > 0 with given noise)."""

from __future__ import annotations

import pytest
import torch
from diffusers import DDIMScheduler as RefDDIM

from models.sd14 import DDIMScheduler

# CompVis/stable-diffusion-v1-4 scheduler_config.json (the keys DDIMScheduler reads)
SD14_SCHEDULER_CONFIG = {
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "clip_sample": False,
    "num_train_timesteps": 1000,
    "set_alpha_to_one": False,
    "steps_offset": 1,
}


def reference() -> RefDDIM:
    return RefDDIM(**SD14_SCHEDULER_CONFIG)


def test_default_config_is_sd14():
    ours, ref = DDIMScheduler(), reference()
    assert torch.equal(ours.alphas_cumprod, ref.alphas_cumprod)
    assert torch.equal(ours.final_alpha_cumprod, ref.final_alpha_cumprod)
    ours2 = DDIMScheduler.from_diffusers_config(ref.config)
    assert ours2.config == ours.config


@pytest.mark.parametrize("steps", [5, 7, 50])
def test_timesteps(steps):
    ours, ref = DDIMScheduler(), reference()
    ours.set_timesteps(steps)
    ref.set_timesteps(steps)
    assert torch.equal(ours.timesteps, ref.timesteps)


@pytest.mark.parametrize("steps, eta", [(5, 0.0), (50, 0.0), (7, 0.6)])
def test_sampling_loop_matches_diffusers(steps, eta):
    """A toy denoiser (fixed function of the sample and t) driven through both schedulers: every step's
    prev_sample and pred_original_sample agree to float32 rounding."""
    g = torch.Generator().manual_seed(steps)
    x_ours = x_ref = torch.randn(2, 4, 8, 8, generator=g)
    w = torch.randn(4, 4, generator=g) / 2
    ours, ref = DDIMScheduler(), reference()
    ours.set_timesteps(steps)
    ref.set_timesteps(steps)
    for t in ref.timesteps:
        eps = torch.tanh(torch.einsum("oc,bchw->bohw", w, x_ref) + t / 1000.0)
        noise = torch.randn(x_ref.shape, generator=g) if eta > 0 else None
        want = ref.step(eps, t, x_ref, eta=eta, variance_noise=noise)
        got_prev, got_x0 = ours.step(eps, t, x_ours, eta=eta, variance_noise=noise)
        torch.testing.assert_close(got_x0, want.pred_original_sample, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(got_prev, want.prev_sample, rtol=1e-5, atol=1e-5)
        x_ours, x_ref = got_prev, want.prev_sample
    assert x_ours.abs().max() > 0


def test_v_prediction_step():
    cfg = {**SD14_SCHEDULER_CONFIG, "prediction_type": "v_prediction"}
    ref = RefDDIM(**cfg)
    ours = DDIMScheduler.from_diffusers_config(ref.config)
    ours.set_timesteps(10)
    ref.set_timesteps(10)
    g = torch.Generator().manual_seed(0)
    x, v = torch.randn(1, 4, 8, 8, generator=g), torch.randn(1, 4, 8, 8, generator=g)
    t = ref.timesteps[3]
    torch.testing.assert_close(ours.step(v, t, x)[0], ref.step(v, t, x).prev_sample, rtol=1e-5, atol=1e-5)


def test_errors():
    s = DDIMScheduler()
    x = torch.zeros(1, 4, 8, 8)
    with pytest.raises(ValueError, match="set_timesteps"):
        s.step(x, 1, x)
    s.set_timesteps(5)
    with pytest.raises(ValueError, match="variance_noise"):
        s.step(x, 801, x, eta=0.5)
    with pytest.raises(ValueError, match="clip_sample"):
        DDIMScheduler.from_diffusers_config({**SD14_SCHEDULER_CONFIG, "clip_sample": True})
