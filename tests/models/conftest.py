"""Shared fixtures for model-port tests (generic: any PyTorch reference module vs its TTNN port).

- `redraw(module, seed)`: re-draws EVERY parameter of a reference module from a fixed seed (weights
  normal(0, 1/sqrt(fan_in)), norm weights 1 + 0.1 N(0, 1), biases and other vectors 0.1 N(0, 1)) and puts it
  in eval mode. Reference inits zero several output projections; without a re-draw a comparison of zeros
  proves nothing.
- `pcc(a, b)`: Pearson correlation (float64, `ttfuse.testing.pcc`).
- `pcc_report(name, value)`: records a measured PCC; every recorded value is printed in the terminal summary
  (so the numbers show without `-s`).
"""

from __future__ import annotations

import pytest
import torch

from models.sd35.perf import SD35_LARGE
from ttfuse.testing import pcc as pcc_value
from ttfuse.testing import redraw_parameters

_REPORT: list[tuple[str, str]] = []


@pytest.fixture
def redraw():
    return redraw_parameters


@pytest.fixture
def pcc():
    return pcc_value


@pytest.fixture
def pcc_report(request):
    def record(what: str, value: float | str) -> None:
        text = f"{value:.6f}" if isinstance(value, float) else str(value)
        _REPORT.append((f"{request.node.name}: {what}", text))
        print(f"{request.node.name}: {what} = {text}")

    return record


def pytest_terminal_summary(terminalreporter):
    if not _REPORT:
        return
    terminalreporter.section("model ports: measured values")
    for what, text in _REPORT:
        terminalreporter.write_line(f"{what} = {text}")


# ------------------------------------------------------------------------------------------- SD3.5 (issue 7)
# SD3.5 Large's structure (patch 2, 16 channels, head dim 64, RMS QK norms) at a test size
SD35_TINY = {
    **SD35_LARGE,
    "sample_size": 32,
    "num_layers": 2,
    "num_attention_heads": 2,
    "joint_attention_dim": 64,
    "caption_projection_dim": 128,
    "pooled_projection_dim": 32,
    "pos_embed_max_size": 32,
}


def sd35_perturb_norms(module: torch.nn.Module, seed: int) -> torch.nn.Module:
    """diffusers' own init (fixed seed; adaLN linears are not zero-initialised) plus 1 + 0.1 N(0, 1) RMSNorm
    weights, so the QK norms' weights matter too."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if "norm_" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
    return module.eval()


def _sd35_tiny(seed: int, timesteps: list[float], **config) -> dict:
    """The tiny config (+ `config` overrides) with fixed-seed weights, a batch of len(timesteps) and the float32
    diffusers output: dict(model, inputs, sample)."""
    from diffusers import SD3Transformer2DModel

    torch.manual_seed(seed)
    model = sd35_perturb_norms(SD3Transformer2DModel(**{**SD35_TINY, **config}), seed)
    g = torch.Generator().manual_seed(seed + 1)
    b = len(timesteps)
    inputs = {
        "hidden_states": torch.randn(b, 16, 32, 32, generator=g),
        "encoder_hidden_states": torch.randn(b, 77, 64, generator=g),
        "pooled_projections": torch.randn(b, 32, generator=g),
        "timestep": torch.tensor(timesteps),
    }
    with torch.no_grad():
        sample = model(**{k: v.clone() for k, v in inputs.items()}).sample
    return {"model": model, "inputs": inputs, "sample": sample}


@pytest.fixture(scope="session")
def sd35_tiny():
    """The tiny SD3.5 config (2 layers, 2 heads of 64, D 128, joint 64, pooled 32, sample 32) with fixed-seed
    weights, a batch-2 input and the float32 diffusers output: dict(model, inputs, sample)."""
    return _sd35_tiny(7, [999.0, 500.0])


@pytest.fixture(scope="session")
def sd35_tiny_dual():
    """The tiny config with SD3.5 Medium's dual attention in its first layer (dual_attention_layers=(0,)),
    batch 1."""
    return _sd35_tiny(9, [700.0], dual_attention_layers=(0,))
