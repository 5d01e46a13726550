"""Facade functions that are ttnn API but not device ops: the PCC metric ttnn's own tests use, per-device views
of a mesh tensor, and golden-function lookup.

- `pearson_correlation_coefficient(expected, actual)`: as `ttnn.pearson_correlation_coefficient` (0.81.1
  `ttnn/operations/comparison.py`: two tensors, torch or ttnn, returns a Python float): NaN/inf masked to 0,
  both all-NaN -> 1.0, one all-NaN -> 0.0, equal -> 1.0, and where the coefficient is undefined (a constant or
  all-zero operand) the `allclose(rtol=1e-5, atol=1e-4)` verdict as 1.0 / 0.0. Computed in float64 here.
- `get_device_tensors(tensor)`: one tensor per device of a mesh tensor, each on a 1x1 submesh of its chip and
  sharing the mesh tensor's storage (deallocating a part leaves the mesh tensor allocated); of a multi-device
  host tensor (`mesh_tensor.cpu()`, as ttnn-jit's mesh tests call it) one host tensor per device; a
  single-device tensor gives `[tensor]`.
- `get_golden_function` / `attach_golden_function`: ttfuse/ops/golden.py.
"""

from __future__ import annotations

import torch

from ttfuse.errors import SpecError, TraceError, got
from ttfuse.mesh import MeshShape
from ttfuse.opdef import OPS
from ttfuse.ops.golden import attach_golden_function, get_golden_function  # noqa: F401  (facade exports)
from ttfuse.tensor import Tensor


def _as_torch(v, arg: str) -> torch.Tensor:
    if isinstance(v, Tensor):
        return OPS["to_torch"](v)
    if isinstance(v, torch.Tensor):
        return v
    raise SpecError(
        f"ttnn.pearson_correlation_coefficient: argument {arg!r} must be a torch.Tensor or a ttnn.Tensor, "
        f"got {type(v).__name__}"
    )


def pearson_correlation_coefficient(expected, actual) -> float:
    """Pearson correlation coefficient of two tensors (torch or ttnn) over all elements, as ttnn's test metric."""
    e = _as_torch(expected, "expected").detach().to(torch.float64).reshape(-1)
    a = _as_torch(actual, "actual").detach().to(torch.float64).reshape(-1)
    if e.numel() != a.numel():
        raise SpecError(
            f"ttnn.pearson_correlation_coefficient: 'expected' has {e.numel()} elements, 'actual' {a.numel()}"
        )
    e_nan, a_nan = torch.isnan(e).all().item(), torch.isnan(a).all().item()
    if e_nan and a_nan:
        return 1.0
    if e_nan or a_nan:
        return 0.0
    e = torch.where(torch.isfinite(e), e, torch.zeros_like(e))
    a = torch.where(torch.isfinite(a), a, torch.zeros_like(a))

    def close() -> float:
        return float(torch.allclose(e, a, rtol=1e-05, atol=1e-04))

    if bool(e.any()) != bool(a.any()):  # one operand all zero: undefined
        return close()
    if torch.equal(e, a):
        return 1.0
    de, da = e - e.mean(), a - a.mean()
    den = torch.sqrt((de * de).sum() * (da * da).sum())
    if den.item() == 0.0:  # a constant operand: undefined
        return close()
    r = ((de * da).sum() / den).item()
    return r if r == r else close()


pearson_correlation_coefficient.golden_function = pearson_correlation_coefficient


def get_device_tensors(tensor) -> list:
    """The per-device tensors of a (mesh) tensor, in the mesh's row-major device order."""
    if not isinstance(tensor, Tensor):
        raise SpecError(
            f"ttnn.get_device_tensors: argument 'tensor' must be a ttnn.Tensor, got {got(tensor)}"
        )
    if tensor._shards is None:
        raise TraceError(
            "ttnn.get_device_tensors on a traced tensor: per-device parts exist only eagerly; call it outside "
            "the @ttfuse.jit function"
        )
    if len(tensor._shards) == 1:
        return [tensor]
    device = tensor._device
    if device is None:  # a multi-device host tensor (`mesh_tensor.cpu()`): one host tensor per device
        return [Tensor(tensor.spec, [shard]) for shard in tensor._shards]
    tensor._check_alive("ttnn.get_device_tensors", "tensor")
    subs = device.create_submeshes(MeshShape(1, 1))
    return [Tensor(tensor.spec, [shard], sub, [_Shared(tensor)]) for shard, sub in zip(tensor._shards, subs)]


class _Shared:
    """Storage of a per-device part: keeps the mesh tensor (and so its allocation) alive and frees nothing."""

    __slots__ = ("base",)

    def __init__(self, base: Tensor):
        self.base = base

    def free(self) -> None:
        self.base = None
