"""Parity harness of the SD1.4 port against diffusers, in the form of the SD1.4 bounty's status log: fixed prompts and
seeds, the latents compared at 0/25/50/75/100% of the denoising steps, and the decoded image.

    python -m models.sd14.parity --steps 8 [--prompt TEXT]... [--seed N]... [--guidance 7.5] [--eager]

Reference: diffusers' own `StableDiffusionPipeline` (float32, CPU) over tiny random-weight components
(models/sd14/tiny.py: UNet2DConditionModel, CLIPTextModel, AutoencoderKL, a CLIPTokenizer over a tiny vocabulary,
DDIMScheduler with SD1.4's configuration; nothing downloaded), called with `output_type="latent"` and a step-end
callback that records the latents after every step; its image is `vae.decode(latents / scaling_factor).sample`.
Port: the same tokenizer, then the ports on the simulator device (CLIPTextModel, UNet2DConditionModel with
classifier-free guidance, AutoencoderKL.decode) and the DDIM port on the host, from the same initial noise.

Checkpoints: at fraction p of N steps, the latents after step round(p * (N - 1)) (0-based): 0% is after the first
denoising step (the initial noise is shared, so comparing it would prove nothing), 100% after the last.
Figures: PCC (float64) and max absolute error (beside max |reference|) per checkpoint, of the text embeddings and of the decoded image.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

import torch

from models.sd14 import AutoencoderKL, CLIPTextModel, DDIMScheduler, UNet2DConditionModel
from models.sd14.tiny import sd14_ddim, tiny_clip, tiny_tokenizer, tiny_unet, tiny_vae
from ttfuse.testing import pcc

PROMPTS = ("a photograph of an astronaut riding a horse", "a painting of a fox in the snow at dawn")
SEEDS = (0, 1)
FRACTIONS = (0.0, 0.25, 0.5, 0.75, 1.0)
GUIDANCE = 7.5
LATENT_HW = (16, 16)  # the tiny VAE upscales 2x: 32x32 images


def checkpoint_steps(steps: int, fractions=FRACTIONS) -> dict[float, int]:
    """{fraction: 0-based step index after which the latents are compared}."""
    if steps < 1:
        raise ValueError(f"parity: steps must be >= 1, got {steps}")
    return {p: round(p * (steps - 1)) for p in fractions}


@dataclass
class Compared:
    what: str
    pcc: float
    max_err: float
    ref_max: float  # max |reference|: the scale of max_err

    def line(self) -> str:
        return (
            f"{self.what:<34} PCC {self.pcc:.6f}  max err {self.max_err:.4g} (max |ref| {self.ref_max:.4g})"
        )


def compare(what: str, got: torch.Tensor, want: torch.Tensor) -> Compared:
    err = float((got.float() - want.float()).abs().max())
    return Compared(what, pcc(got, want), err, float(want.abs().max()))


@dataclass
class Run:
    prompt: str
    seed: int
    steps: int
    rows: list[Compared] = field(default_factory=list)

    @property
    def latents(self) -> list[Compared]:
        return [r for r in self.rows if r.what.startswith("latents")]

    @property
    def image(self) -> Compared:
        return next(r for r in self.rows if r.what == "decoded image")


class Models:
    """The tiny reference components, diffusers' pipeline over them, and the ports (built once per device)."""

    def __init__(self, device, *, seed: int = 0, jit: bool = True):
        from diffusers import StableDiffusionPipeline

        self.tokenizer = tiny_tokenizer()
        self.clip_ref, self.unet_ref, self.vae_ref = tiny_clip(seed), tiny_unet(seed + 1), tiny_vae(seed + 2)
        self.pipe = StableDiffusionPipeline(
            vae=self.vae_ref, text_encoder=self.clip_ref, tokenizer=self.tokenizer, unet=self.unet_ref,
            scheduler=sd14_ddim(), safety_checker=None, feature_extractor=None, requires_safety_checker=False,
        )  # fmt: skip
        self.pipe.set_progress_bar_config(disable=True)
        self.clip = CLIPTextModel.from_torch(self.clip_ref, device, jit=jit)
        self.unet = UNet2DConditionModel.from_torch(self.unet_ref, device, jit=jit)
        self.vae = AutoencoderKL.from_torch(self.vae_ref, device, jit=jit)
        self.scale = float(self.vae_ref.config.scaling_factor)

    def tokens(self, prompt: str) -> torch.Tensor:
        """[empty prompt, prompt] token ids, padded to 77 as the pipeline pads them."""
        t = self.tokenizer
        enc = t(["", prompt], padding="max_length", max_length=t.model_max_length, truncation=True, return_tensors="pt")  # fmt: skip
        return enc.input_ids

    def reference(self, prompt: str, noise: torch.Tensor, steps: int, guidance: float):
        """diffusers: text embeddings, the latents after every step, the decoded image."""
        seen: list[torch.Tensor] = []

        def record(pipe, i, t, kw):
            seen.append(kw["latents"].clone())
            return kw

        with torch.no_grad():
            ctx = self.clip_ref(self.tokens(prompt)).last_hidden_state
            self.pipe(
                prompt, num_inference_steps=steps, guidance_scale=guidance, latents=noise.clone(),
                height=noise.shape[2] * self.pipe.vae_scale_factor, width=noise.shape[3] * self.pipe.vae_scale_factor,
                output_type="latent", callback_on_step_end=record,
            )  # fmt: skip
            image = self.vae_ref.decode(seen[-1] / self.scale).sample
        return ctx, seen, image

    def port(self, prompt: str, noise: torch.Tensor, steps: int, guidance: float):
        """The port: CLIP -> (UNet with guidance -> DDIM) x steps -> VAE decode, from the same noise."""
        ctx = self.clip(self.tokens(prompt))
        sched = DDIMScheduler()
        sched.set_timesteps(steps)
        lat, seen = noise, []
        for t in sched.timesteps:
            e_u, e_c = self.unet(torch.cat([lat, lat]), int(t), ctx).chunk(2)
            lat = sched.step(e_u + guidance * (e_c - e_u), t, lat)[0]
            seen.append(lat)
        return ctx[1:], seen, self.vae.decode(lat / self.scale)


def initial_noise(seed: int) -> torch.Tensor:
    return torch.randn(1, 4, *LATENT_HW, generator=torch.Generator().manual_seed(seed))


def run_one(models: Models, prompt: str, seed: int, steps: int, guidance: float = GUIDANCE) -> Run:
    noise = initial_noise(seed)
    ctx_r, lat_r, img_r = models.reference(prompt, noise, steps, guidance)
    ctx_p, lat_p, img_p = models.port(prompt, noise, steps, guidance)
    if len(lat_r) != steps or len(lat_p) != steps:
        raise RuntimeError(f"parity: {len(lat_r)} reference / {len(lat_p)} port steps, expected {steps}")
    run = Run(prompt, seed, steps, [compare("text embeddings (prompt)", ctx_p, ctx_r[1:])])
    for p, i in checkpoint_steps(steps).items():
        run.rows.append(compare(f"latents {p:4.0%} (after step {i + 1}/{steps})", lat_p[i], lat_r[i]))
    run.rows.append(compare("decoded image", img_p, img_r))
    return run


def main(argv: list[str] | None = None) -> list[Run]:
    ap = argparse.ArgumentParser(prog="python -m models.sd14.parity", description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument(
        "--prompt", action="append", help=f"prompt (repeatable; default {len(PROMPTS)} fixed ones)"
    )
    ap.add_argument("--seed", type=int, action="append", help=f"noise seed (repeatable; default {SEEDS})")
    ap.add_argument("--guidance", type=float, default=GUIDANCE)
    ap.add_argument("--eager", action="store_true", help="run the ports eagerly (default: ttfuse.jit blocks)")
    a = ap.parse_args(argv)
    from ttfuse import ttnn

    device = ttnn.open_device(device_id=0)
    runs = []
    try:
        models = Models(device, jit=not a.eager)
        print(f"SD1.4 port vs diffusers (tiny random weights, {a.steps} DDIM steps, guidance {a.guidance}, "
              f"{'eager' if a.eager else 'JIT'}, {device.spec.name} sim)")  # fmt: skip
        for prompt in a.prompt or PROMPTS:
            for seed in a.seed or SEEDS:
                run = run_one(models, prompt, seed, a.steps, a.guidance)
                print(f"\nprompt {prompt!r}, seed {seed}")
                for r in run.rows:
                    print(f"  {r.line()}")
                runs.append(run)
    finally:
        ttnn.close_device(device)
    return runs


if __name__ == "__main__":
    main()
