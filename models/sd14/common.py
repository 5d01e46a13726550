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
* Spec-only capture (`spec_only()`, used by models/sd14/perf.py): ports built from a reference on torch's meta
  device hold their weights as device tensors with a spec and no storage; the same `forward_ttnn` is captured by
  `lower_spec_only` (`ttfuse.jit(...).lower`, nothing runs), conv weights prepared inside the trace (a
  parameter-only prologue, run once per weight set, outside the per-call graph).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from models.common import (  # noqa: F401 (re-exported)
    TILE,
    _t,
    exact_compute_config,
    is_spec_only,
    jitted,
    kernel_config,
    linear_weight,
    norm_weights,
    place,
    round_up,
    spec_only,
    spec_tensor,
    to_host,
    upload,
    vector,
)
from models.common import Port as PortBase
from ttfuse import ttnn

compute_config = exact_compute_config


def pad_head_cols(w: torch.Tensor, heads: int, hd: int, padded: int) -> torch.Tensor:
    """[..., heads*hd] -> [..., heads*padded], each head's block zero-padded at its end (ttnn's head split needs a
    tile-multiple head dim; the zero columns add nothing to q.k and produce zero outputs the out-projection's zero
    rows drop)."""
    if padded == hd:
        return w
    w = w.reshape(*w.shape[:-1], heads, hd)
    return torch.nn.functional.pad(w, (0, padded - hd)).reshape(*w.shape[:-2], heads * padded)


class Port(PortBase):
    """Base of the SD1.4 port classes (models/common.py `Port`) with the prepared-weights memo."""

    def __init__(self, device, *, dtype=ttnn.bfloat16, jit: bool = True):
        super().__init__(device, dtype=dtype, jit=jit)
        self._prepared: dict = {}

    def prepared(self, key, make: Callable):
        """`make()` (weights prepared for one input geometry) once per key; not kept in spec-only mode, where the
        preparation is traced into the capture's parameter prologue and must not outlive the trace."""
        if is_spec_only():
            return make()
        if key not in self._prepared:
            self._prepared[key] = make()
        return self._prepared[key]


# ------------------------------------------------------------------------------------------ spec-only capture
def _forward(port: Port, *inputs, **statics):
    return port.forward_ttnn(*inputs, **statics)


def lower_spec_only(
    port_cls, reference, device, inputs: tuple, *, dtype=ttnn.bfloat16, passes=None, **statics
):
    """`port_cls.from_torch(reference, device)` in spec-only mode (the reference may live on torch's meta device)
    and its `forward_ttnn(*inputs, **statics)` captured from the TensorSpecs `inputs`: the `ttfuse.jit` Lowered
    (graph before and after `passes`, None: the whole pipeline; [] : the ops as written). Nothing runs and no
    weight is materialised; the target is `device`'s kind."""
    import ttfuse
    from ttfuse.device import arch_env

    with spec_only(), arch_env(device.spec.name):  # a lowering from TensorSpecs targets $TTFUSE_ARCH's kind
        port = port_cls.from_torch(reference, device, dtype=dtype, jit=True)
        return ttfuse.jit(_forward, passes=passes).lower(port, *inputs, **statics)


def per_call_cost(lowered):
    """The GraphCost of what one call of `lowered` runs: its graph less the parameter prologue (the conv weight
    preparation, run once per weight set), which is `Lowered.cost.jit` (for a lowering without passes too)."""
    return lowered.cost.jit
