"""The SD1.4 parity harness (models/sd14/parity.py): the port's pipeline against diffusers' StableDiffusionPipeline
over tiny random-weight components, a fixed prompt and seed, 8 DDIM steps: latents PCC >= 0.99 at 0/25/50/75/100%
of the steps, the decoded image too; the tiny tokenizer and the checkpoint schedule on their own."""

from __future__ import annotations

import pytest
import torch

from models.sd14.parity import PROMPTS, Models, checkpoint_steps, run_one
from models.sd14.tiny import BOS, EOS, tiny_tokenizer, tiny_vocab


def test_checkpoint_steps():
    assert checkpoint_steps(8) == {0.0: 0, 0.25: 2, 0.5: 4, 0.75: 5, 1.0: 7}
    assert checkpoint_steps(5) == {0.0: 0, 0.25: 1, 0.5: 2, 0.75: 3, 1.0: 4}
    assert checkpoint_steps(1) == dict.fromkeys((0.0, 0.25, 0.5, 0.75, 1.0), 0)
    with pytest.raises(ValueError, match="steps"):
        checkpoint_steps(0)


def test_tiny_tokenizer():
    """BOS, BPE pieces (the merges apply), EOS, EOS padding to 77; the empty prompt is BOS + EOS padding."""
    vocab, _ = tiny_vocab()
    tok = tiny_tokenizer()
    ids = tok(["The fox", ""], padding="max_length", max_length=77, return_tensors="pt").input_ids
    assert ids.shape == (2, 77)
    assert tok.convert_ids_to_tokens(ids[0, :5].tolist()) == [BOS, "the</w>", "f", "o", "x</w>"]
    assert (ids[0, 5:] == vocab[EOS]).all() and ids[1, 0] == vocab[BOS] and (ids[1, 1:] == vocab[EOS]).all()


@pytest.mark.slow
def test_parity_8_steps(device, pcc_report):
    models = Models(device)
    run = run_one(models, PROMPTS[0], seed=0, steps=8)
    for r in run.rows:
        pcc_report("parity", r.line())
    assert [r.what.split()[1] for r in run.latents] == ["0%", "25%", "50%", "75%", "100%"]
    for r in run.rows:
        assert r.pcc >= 0.99, r.line()


def test_parity_detects_a_wrong_port(device):
    """The harness can fail: a UNet port off by a re-drawn weight gives latents far below 0.99."""
    from models.sd14 import UNet2DConditionModel
    from models.sd14.tiny import tiny_unet

    models = Models(device, jit=False)
    models.unet = UNet2DConditionModel.from_torch(tiny_unet(99), device, jit=False)  # other weights
    run = run_one(models, PROMPTS[1], seed=1, steps=2)
    assert run.latents[0].pcc < 0.99 and run.image.pcc < 0.99
    assert torch.isfinite(torch.tensor([r.max_err for r in run.rows])).all()
