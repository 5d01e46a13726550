"""Shared fixtures for model-port tests (generic: any PyTorch reference module vs its TTNN port).

- `redraw(module, seed)`: re-draws EVERY parameter of a reference module from a fixed seed (weights
  normal(0, 1/sqrt(fan_in)), norm weights 1 + 0.1 N(0, 1), biases and other vectors 0.1 N(0, 1)) and puts it
  in eval mode. Reference inits zero several output projections; without a re-draw a comparison of zeros
  proves nothing.
- `pcc(a, b)`: Pearson correlation (float64).
- `pcc_report(name, value)`: records a measured PCC; every recorded value is printed in the terminal summary
  (so the numbers show without `-s`).
"""

from __future__ import annotations

import math

import pytest
import torch

_REPORT: list[tuple[str, str]] = []


def redraw_parameters(module: torch.nn.Module, seed: int) -> torch.nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if p.dim() >= 2:
                p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(p.shape[-1]))
            elif name.endswith("weight"):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
    return module.eval()


def pcc_value(a: torch.Tensor, b: torch.Tensor) -> float:
    a = a.detach().double().flatten()
    b = b.detach().double().flatten()
    a = a - a.mean()
    b = b - b.mean()
    den = a.norm() * b.norm()
    if den == 0:
        return 1.0 if torch.equal(a, b) else 0.0
    return float((a @ b) / den)


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
