"""Shared pieces of the SD1.4 port: compute config, weight upload, the torch <-> ttnn boundary, the jit switch.

Calling convention (as models/boltz and models/sd35): `Port.from_torch(reference_module, device, *, dtype, jit)`
builds a port from the reference (transformers / diffusers) module; calling the port with the reference's torch
arguments returns float32 torch tensors shaped like the reference's outputs; `forward_ttnn` works on ttnn tensors.

Invariants:
* Hot blocks are module-level functions taking activations and weights as tensor arguments, non-tensor
  arguments keyword-only; `Port.run` calls the plain function (jit=False) or its `ttfuse.jit` version (jit=True),
  made once per function and shared by every layer.
* Linear weights are uploaded transposed ([in, out]) in `dtype`; norm weights and biases as [1, n] bfloat16.
* One numerical config for every op: HiFi4 with fp32 accumulation (no approximation mode).
"""

from __future__ import annotations

from collections.abc import Callable

from models.common import (  # noqa: F401 (re-exported)
    TILE,
    _t,
    exact_compute_config,
    kernel_config,
    linear_weight,
    norm_weights,
    round_up,
    to_host,
    upload,
    vector,
)
from ttfuse import ttnn

compute_config = exact_compute_config


# ---------------------------------------------------------------------------------------------------- jit
_JITTED: dict[Callable, Callable] = {}


def jitted(fn: Callable) -> Callable:
    """The `ttfuse.jit` version of a block function, made once per function and shared by every layer."""
    f = _JITTED.get(fn)
    if f is None:
        import ttfuse

        f = _JITTED[fn] = ttfuse.jit(fn)
    return f


class Port:
    """Base of the SD1.4 port classes: device, dtype, jit switch, compute config."""

    def __init__(self, device, *, dtype=ttnn.bfloat16, jit: bool = True):
        self.device = device
        self.dtype = dtype
        self.jit = jit
        self.cfg = compute_config(device)

    @classmethod
    def from_torch(cls, reference_module, device, *, dtype=ttnn.bfloat16, jit: bool = True):
        port = cls(device, dtype=dtype, jit=jit)
        port.load(reference_module)
        return port

    def load(self, ref) -> None:
        raise NotImplementedError(f"{type(self).__name__}.load")

    def run(self, fn: Callable, *args, **kwargs):
        """Call block function `fn` eagerly or through its jitted version."""
        return (jitted(fn) if self.jit else fn)(*args, **kwargs)
