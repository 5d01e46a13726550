"""DDIM sampling step for SD1.4 on the host (torch, float32), diffusers' `DDIMScheduler` semantics.

SD1.4's scheduler config (CompVis/stable-diffusion-v1-4 `scheduler/scheduler_config.json`, loaded into DDIM):
1000 training steps, "scaled_linear" betas from 0.00085 to 0.012 (linear in sqrt(beta)), no sample clipping,
`set_alpha_to_one=False` (the last step's "previous" alpha_bar is alpha_bar[0]), `steps_offset=1`, "leading"
timestep spacing, epsilon prediction.

The step (Song et al., DDIM, eq. 12) with a_t = alpha_bar[t], a_p = alpha_bar[t - 1000 / steps]:
    x0 = (x_t - sqrt(1 - a_t) eps) / sqrt(a_t)
    sigma = eta * sqrt((1 - a_p) / (1 - a_t) * (1 - a_t / a_p))
    x_p = sqrt(a_p) x0 + sqrt(1 - a_p - sigma^2) eps + sigma * noise
It is a handful of scalar-times-tensor ops per step on a [B, 4, 64, 64] latent: it stays on the host, like the
scheduler of tt-metal's SD1.4 demo.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class DDIMConfig:
    num_train_timesteps: int = 1000
    beta_start: float = 0.00085
    beta_end: float = 0.012
    beta_schedule: str = "scaled_linear"
    set_alpha_to_one: bool = False
    steps_offset: int = 1
    prediction_type: str = "epsilon"


SD14_DDIM = DDIMConfig()


class DDIMScheduler:
    """`set_timesteps(n)`, then `step(model_output, t, sample, eta=0.0, variance_noise=None) -> (prev, x0)`."""

    def __init__(self, config: DDIMConfig = SD14_DDIM):
        self.config = config
        n = config.num_train_timesteps
        if config.beta_schedule == "scaled_linear":
            betas = torch.linspace(config.beta_start**0.5, config.beta_end**0.5, n, dtype=torch.float32) ** 2
        elif config.beta_schedule == "linear":
            betas = torch.linspace(config.beta_start, config.beta_end, n, dtype=torch.float32)
        else:
            raise ValueError(f"DDIMScheduler: beta_schedule {config.beta_schedule!r} is not ported")
        if config.prediction_type not in ("epsilon", "v_prediction"):
            raise ValueError(f"DDIMScheduler: prediction_type {config.prediction_type!r} is not ported")
        self.alphas_cumprod = torch.cumprod(1.0 - betas, 0)
        self.final_alpha_cumprod = torch.tensor(1.0) if config.set_alpha_to_one else self.alphas_cumprod[0]
        self.init_noise_sigma = 1.0
        self.num_inference_steps: int | None = None
        self.timesteps = torch.arange(n - 1, -1, -1, dtype=torch.int64)

    @classmethod
    def from_diffusers_config(cls, cfg) -> DDIMScheduler:
        """From a diffusers scheduler config (dict-like); rejects the options this port does not implement."""
        cfg = dict(cfg)
        for key, ok in (("clip_sample", False), ("thresholding", False), ("timestep_spacing", "leading"),
                        ("rescale_betas_zero_snr", False), ("trained_betas", None)):  # fmt: skip
            if cfg.get(key, ok) != ok:
                raise ValueError(f"DDIMScheduler: {key}={cfg[key]!r} is not ported (only {ok!r})")
        fields = DDIMConfig.__dataclass_fields__
        return cls(DDIMConfig(**{k: v for k, v in cfg.items() if k in fields}))

    def set_timesteps(self, num_inference_steps: int) -> None:
        n = self.config.num_train_timesteps
        if not 0 < num_inference_steps <= n:
            raise ValueError(f"DDIMScheduler.set_timesteps: num_inference_steps must be in [1, {n}], got {num_inference_steps}")  # fmt: skip
        ratio = n // num_inference_steps  # "leading" spacing
        self.num_inference_steps = num_inference_steps
        self.timesteps = torch.arange(num_inference_steps - 1, -1, -1, dtype=torch.int64) * ratio + self.config.steps_offset  # fmt: skip

    def scale_model_input(self, sample: torch.Tensor, timestep=None) -> torch.Tensor:
        return sample

    def _alpha_bar(self, t: int) -> torch.Tensor:
        return self.alphas_cumprod[t] if t >= 0 else self.final_alpha_cumprod

    def step(
        self,
        model_output: torch.Tensor,
        timestep: int,
        sample: torch.Tensor,
        eta: float = 0.0,
        variance_noise: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One DDIM step -> (prev_sample, pred_original_sample)."""
        if self.num_inference_steps is None:
            raise ValueError("DDIMScheduler.step: call set_timesteps first")
        t = int(timestep)
        a_t = self._alpha_bar(t)
        a_p = self._alpha_bar(t - self.config.num_train_timesteps // self.num_inference_steps)
        if self.config.prediction_type == "epsilon":
            eps = model_output
            x0 = (sample - (1 - a_t).sqrt() * eps) / a_t.sqrt()
        else:  # v_prediction
            x0 = a_t.sqrt() * sample - (1 - a_t).sqrt() * model_output
            eps = a_t.sqrt() * model_output + (1 - a_t).sqrt() * sample
        sigma = eta * ((1 - a_p) / (1 - a_t) * (1 - a_t / a_p)).sqrt()
        prev = a_p.sqrt() * x0 + (1 - a_p - sigma**2).sqrt() * eps
        if eta > 0:
            if variance_noise is None:
                raise ValueError(
                    "DDIMScheduler.step: eta > 0 needs variance_noise (the port draws no noise itself)"
                )
            prev = prev + sigma * variance_noise
        return prev, x0
