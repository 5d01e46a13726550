"""Stable Diffusion 1.4 port on the ttfuse simulator (issue 21): torch in, torch out, hot blocks `ttfuse.jit`.

    from models.sd14 import CLIPTextModel, DDIMScheduler, ResnetBlock2D, Transformer2DModel

Modules: common.py (Port base, upload, jit switch), clip.py (CLIPTextModel, CLIPEncoderLayer),
scheduler.py (DDIM step on the host), transformer2d.py
(Transformer2DModel, BasicTransformerBlock), resnet.py (ResnetBlock2D),
sampling.py (Downsample2D, Upsample2D, TimestepEmbedding, timestep_features),
unet.py (UNet2DConditionModel and its down / up blocks), vae.py (AutoencoderKL's decode, VAEDecoder, VAEAttention),
perf.py (full-size spec-only predictions). See docs/sd14.md.
"""

from models.sd14.clip import CLIPEncoderLayer, CLIPTextModel
from models.sd14.resnet import ResnetBlock2D
from models.sd14.sampling import Downsample2D, TimestepEmbedding, Upsample2D, timestep_features
from models.sd14.scheduler import SD14_DDIM, DDIMConfig, DDIMScheduler
from models.sd14.transformer2d import BasicTransformerBlock, Transformer2DModel
from models.sd14.unet import (
    CrossAttnDownBlock2D,
    CrossAttnUpBlock2D,
    DownBlock2D,
    UNet2DConditionModel,
    UpBlock2D,
)
from models.sd14.vae import AutoencoderKL, VAEAttention, VAEDecoder

__all__ = [
    "CLIPTextModel",
    "CLIPEncoderLayer",
    "DDIMScheduler",
    "DDIMConfig",
    "SD14_DDIM",
    "Transformer2DModel",
    "BasicTransformerBlock",
    "ResnetBlock2D",
    "Downsample2D",
    "Upsample2D",
    "TimestepEmbedding",
    "timestep_features",
    "UNet2DConditionModel",
    "CrossAttnDownBlock2D",
    "DownBlock2D",
    "CrossAttnUpBlock2D",
    "UpBlock2D",
    "VAEDecoder",
    "AutoencoderKL",
    "VAEAttention",
]
