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


_pearson = pcc  # comp_pcc's keyword `pcc` (tt-metal's name) shadows the function


def comp_pcc(expected: torch.Tensor, actual: torch.Tensor, pcc: float = 0.99) -> tuple[bool, float]:
    """(whether the PCC of `actual` against `expected` reaches `pcc`, the PCC): tt-metal's test helper of that
    name, for test files written in its style outside a tt-metal checkout (ttfuse/pytest.py)."""
    value = _pearson(expected, actual)
    return value >= pcc, value


def assert_with_pcc(expected: torch.Tensor, actual: torch.Tensor, pcc: float = 0.9999) -> tuple[bool, float]:
    """Assert equal shapes and a PCC of at least `pcc` (as tt-metal's `assert_with_pcc`); returns comp_pcc's."""
    if tuple(expected.shape) != tuple(actual.shape):
        raise AssertionError(f"shapes differ: expected {tuple(expected.shape)}, got {tuple(actual.shape)}")
    ok, value = comp_pcc(expected, actual, pcc)
    if not ok:
        raise AssertionError(f"PCC {value:.6f} < {pcc}")
    return ok, value


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
