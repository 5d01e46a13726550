"""Testing helpers for ttfuse users and its own suite (like torch.testing): PCC and tolerance checks."""

from __future__ import annotations

import torch


def pcc(a: torch.Tensor, b: torch.Tensor) -> float:
    """Pearson correlation coefficient of two tensors, computed in float64 (1.0 for two equal constants)."""
    a = a.detach().double().flatten()
    b = b.detach().double().flatten()
    if a.shape != b.shape:
        raise ValueError(f"pcc: shapes differ: {tuple(a.shape)} vs {tuple(b.shape)}")
    a = a - a.mean()
    b = b - b.mean()
    den = a.norm() * b.norm()
    if den == 0:
        return 1.0 if torch.equal(a, b) else 0.0
    return float((a @ b) / den)


def max_abs_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).abs().max())


def redraw_parameters(module: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Re-draw every parameter of a reference module from a fixed seed (reference models zero-initialise several
    output projections, which would make a comparison prove nothing): matrices ~ N(0, 1/fan_in), norm weights
    ~ 1 + N(0, 0.1), other vectors ~ N(0, 0.1). Returns the module in eval mode."""
    import math

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
