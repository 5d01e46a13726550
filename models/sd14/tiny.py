"""Tiny random-weight SD1.4 references (diffusers / transformers modules, every parameter re-drawn from a seed),
for the tests, the bench (bench/cases.py) and the parity harness (models/sd14/parity.py). Nothing is downloaded.

SD1.4's structure at a small size: a UNet with SD1.4's block kinds at two levels (32, 64 channels, one layer per
block, head dim 32, cross-attention dim TEXT_DIM), a CLIP text encoder (2 layers, hidden TEXT_DIM, quick_gelu,
77 positions), an AutoencoderKL (32, 64 channels: 8x upscaling becomes 2x) and a CLIPTokenizer over a tiny
byte-level BPE vocabulary written here (the 26 letters, with and without the end-of-word mark, and a few merges).
"""

from __future__ import annotations

import string

import torch

from ttfuse.testing import redraw_parameters

TEXT_DIM = 32
BOS, EOS = "<|startoftext|>", "<|endoftext|>"
# A few BPE merges (each result is in the vocabulary): words of the fixed prompts tokenize to pieces, not letters.
MERGES = ["t h", "th e</w>", "a n", "o n", "e r", "i n", "an d</w>", "a r", "o f</w>", "i n</w>", "s t"]


def tiny_vocab() -> tuple[dict[str, int], list[str]]:
    """(vocab, merges) of the tiny CLIP BPE: BOS, EOS, letters with and without "</w>", the merges' results."""
    tokens = [BOS, EOS]
    tokens += list(string.ascii_lowercase) + [c + "</w>" for c in string.ascii_lowercase]
    tokens += ["".join(m.split()) for m in MERGES]
    return {t: i for i, t in enumerate(dict.fromkeys(tokens))}, MERGES


def tiny_tokenizer(max_length: int = 77):
    """transformers' CLIPTokenizer (byte-level BPE, lower-casing, BOS/EOS, EOS padding) on the tiny vocabulary."""
    from transformers import CLIPTokenizer

    vocab, merges = tiny_vocab()
    pairs = [tuple(m.split()) for m in merges]
    return CLIPTokenizer(vocab=vocab, merges=pairs, model_max_length=max_length)


def tiny_clip(seed: int, vocab_size: int | None = None):
    from transformers import CLIPTextConfig, CLIPTextModel

    vocab = tiny_vocab()[0]
    cfg = CLIPTextConfig(
        vocab_size=vocab_size or len(vocab),
        hidden_size=TEXT_DIM,
        intermediate_size=4 * TEXT_DIM,
        num_hidden_layers=2,
        num_attention_heads=1,
        max_position_embeddings=77,
        hidden_act="quick_gelu",  # SD1.4's text encoder
        bos_token_id=vocab[BOS],
        eos_token_id=vocab[EOS],
        pad_token_id=vocab[EOS],
    )
    return redraw_parameters(CLIPTextModel(cfg), seed)


def tiny_unet(seed: int) -> torch.nn.Module:
    """SD1.4's block kinds at two levels (32, 64 channels), one layer per block, head dim 32."""
    from diffusers import UNet2DConditionModel

    unet = UNet2DConditionModel(
        sample_size=8,
        in_channels=4,
        out_channels=4,
        block_out_channels=(32, 64),
        layers_per_block=1,
        cross_attention_dim=TEXT_DIM,
        attention_head_dim=(1, 2),
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        norm_num_groups=32,
    )
    return redraw_parameters(unet, seed)


def tiny_vae(seed: int) -> torch.nn.Module:
    """AutoencoderKL with SD1.4's form (4 latent channels, scaling factor 0.18215) at channels 32, 64."""
    from diffusers import AutoencoderKL

    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        block_out_channels=(32, 64),
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=32,
        sample_size=32,
        scaling_factor=0.18215,
    )
    return redraw_parameters(vae, seed)


def sd14_ddim(steps: int | None = None):
    """diffusers' DDIMScheduler with SD1.4's configuration (the reference of models/sd14/scheduler.py)."""
    from diffusers import DDIMScheduler

    s = DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    if steps:
        s.set_timesteps(steps)
    return s
