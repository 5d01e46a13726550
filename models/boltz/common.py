"""Shared pieces of the Boltz-2 port: weight upload, token padding, torch <-> ttnn boundary, the jit switch.

Every port class derives from `Port`: it is built by `Port.from_torch(reference_module, device, *, dtype, jit)`,
called with the reference forward's arguments as torch tensors (`port(...)`: converts, pads, runs, crops,
returns float32 torch tensors shaped like the reference's outputs), or with ttnn tensors through
`port.forward_ttnn(...)` inside larger ports.

Invariants:
* Hot blocks are module-level functions taking activations AND weights as tensor arguments (weights grouped
  in tuples), with every non-tensor argument keyword-only and static; `Port.run(fn, ...)` calls the plain
  function (jit=False) or its `ttfuse.jit` version (jit=True), made once per function by `jitted(fn)`.
* No device branches and no hand-written chunk loops: grids, program configs and chunking are chosen by the
  ttfuse passes. The only config the port fixes is numerical (`compute_config`: HiFi4 with fp32
  accumulation, as tt-boltz uses for every op).
* Linear weights are uploaded once, transposed to [in, out], TILE layout; norm weights and biases as [1, n].
  `dtype` (bfloat16 by default) is used where tt-boltz uses bfloat8_b; everything else stays bfloat16.
* Token dims not a multiple of 32 are padded inside `__call__` (zeros, with masks zero on the padding) and the
  outputs cropped, so padded tokens never influence real ones.

Extend: a new module = block function(s) + a `Port` subclass with `from_torch`, `forward_ttnn`, `__call__`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from models.common import (  # noqa: F401 (re-exported)
    TILE,
    _t,
    exact_compute_config,
    jitted,
    kernel_config,
    linear_weight,
    norm_weights,
    round_up,
    to_host,
    upload,
    vector,
)
from models.common import Port as PortBase
from ttfuse import ttnn

SIGMOID = ttnn.UnaryOpType.SIGMOID
SILU = ttnn.UnaryOpType.SILU


compute_config = exact_compute_config  # tt-boltz: HiFi4, exact math, fp32 accumulation, for every op


def pad_heads(w: torch.Tensor, n_heads: int, head_dim: int, padded: int, dim: int) -> torch.Tensor:
    """Zero-pad each head's block of `head_dim` rows/cols of `w` along `dim` to `padded` (SDPA tiles)."""
    if padded == head_dim:
        return _t(w)
    w = _t(w).movedim(dim, 0)
    w = w.reshape(n_heads, head_dim, *w.shape[1:])
    w = torch.nn.functional.pad(w.movedim(1, -1), (0, padded - head_dim)).movedim(-1, 1)
    return w.reshape(n_heads * padded, *w.shape[2:]).movedim(0, dim)


def linear_weights(device, *linears: torch.nn.Linear, dtype=ttnn.bfloat16) -> tuple:
    """The (bias-free) weights of `linears`, each uploaded as `linear_weight`, in order."""
    return tuple(linear_weight(lin.weight, device, dtype) for lin in linears)


# ------------------------------------------------------------------------------------------- boundary
def to_tt(x: torch.Tensor | None, device, dtype=ttnn.bfloat16) -> ttnn.Tensor | None:
    """An activation or mask as a TILE tensor on `device` (None passes through)."""
    if x is None:
        return None
    return upload(x, device, dtype)


def pad_dims(
    x: torch.Tensor | None, dims: Sequence[int], size: int, value: float = 0.0
) -> torch.Tensor | None:
    """Zero-pad `x` along each of `dims` up to `size`."""
    if x is None:
        return None
    pads = [0] * (2 * x.dim())
    for d in dims:
        d = d % x.dim()
        pads[2 * (x.dim() - 1 - d) + 1] = size - x.shape[d]
    if not any(pads):
        return x
    return torch.nn.functional.pad(x, pads, value=value)


def crop_dims(x: torch.Tensor, dims: Sequence[int], size: int) -> torch.Tensor:
    for d in dims:
        x = x.narrow(d % x.dim(), 0, size)
    return x


def from_tokens(t: ttnn.Tensor, dims: Sequence[int], n: int) -> torch.Tensor:
    """A port output back on the host (float32), cropped to the `n` real tokens along `dims`."""
    return crop_dims(to_host(t), dims, n)


def token_mask(mask: torch.Tensor | None, shape: Sequence[int], like: torch.Tensor) -> torch.Tensor:
    """The mask the reference would use (`mask`, or ones of `shape` when None), as float32."""
    if mask is None:
        return like.new_ones(tuple(shape), dtype=torch.float32)
    return mask.float()


# ------------------------------------------------------------------------------------------- ttnn helpers
def additive_mask(mask: ttnn.Tensor, inf: float) -> ttnn.Tensor:
    """(mask - 1) * inf: 0 where mask is 1, -inf where it is 0 (exact in bfloat16: mask - 1 is 0 or -1)."""
    return ttnn.multiply(ttnn.subtract(mask, 1.0), inf)


class Port(PortBase):
    """Base of the Boltz port classes (models/common.py `Port`) with the helpers they share."""

    def port_of(self, port_cls: type[Port], ref) -> Port:
        """The port of a submodule `ref`, on this port's device with its dtype and jit switch."""
        return port_cls.from_torch(ref, self.device, dtype=self.dtype, jit=self.jit)

    def to_tokens(self, x: torch.Tensor | None, dims: Sequence[int], n: int) -> ttnn.Tensor | None:
        """`x` with its `n` tokens along `dims` zero-padded to a tile multiple, on this port's device."""
        return to_tt(pad_dims(x, dims, round_up(n)), self.device)

    def static(self, **kw) -> dict:
        """The static keyword arguments every block function takes (dtype and compute config) plus `kw`."""
        return {"dtype": self.dtype, "cfg": self.cfg, **kw}


def head_dims(c: int, n_heads: int) -> tuple[int, int, float]:
    """(head_dim, head_dim padded to a tile, 1/sqrt(head_dim))."""
    d = c // n_heads
    return d, round_up(d), 1.0 / math.sqrt(d)
