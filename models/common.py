"""Helpers shared by the model ports (plain TTNN through `ttfuse.ttnn`): tile rounding, compute configs, weight upload
and the torch <-> ttnn boundary.

Spec-only mode (`spec_only()`, used by the full-size captures of models/sd14/perf.py): inside it `upload` / `place`
make device tensors with a spec and no storage, so ports built from a reference on torch's meta device hold no
weight values and their forward can be captured by `ttfuse.jit(...).lower` without materialising a parameter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch

from ttfuse import ttnn

TILE = 32


def round_up(n: int, m: int = TILE) -> int:
    """`n` rounded up to a multiple of `m` (a tile by default)."""
    return -(-n // m) * m


def kernel_config(device, fidelity, *, fp32_acc: bool, packer_l1_acc: bool):
    """A compute kernel config for `device`'s arch with exact math (no approximation mode)."""
    return ttnn.init_device_compute_kernel_config(
        device.arch(),
        math_fidelity=fidelity,
        math_approx_mode=False,
        fp32_dest_acc_en=fp32_acc,
        packer_l1_acc=packer_l1_acc,
    )


def exact_compute_config(device):
    """HiFi4, exact math, fp32 accumulation: the one compute config of the Boltz and SD1.4 ports (tt-boltz's)."""
    return kernel_config(device, ttnn.MathFidelity.HiFi4, fp32_acc=True, packer_l1_acc=True)


def _t(w) -> torch.Tensor:
    return w.detach().float()


_SPEC_ONLY = [False]


@contextmanager
def spec_only() -> Iterator[None]:
    """Ports built (and captured) inside hold spec-only weights: `place` / `upload` make device tensors with a spec
    and no storage, so a full-size model on torch's meta device is captured without materialising a parameter."""
    prev, _SPEC_ONLY[0] = _SPEC_ONLY[0], True
    try:
        yield
    finally:
        _SPEC_ONLY[0] = prev


def is_spec_only() -> bool:
    return _SPEC_ONLY[0]


def spec_tensor(spec: ttnn.TensorSpec, device) -> ttnn.Tensor:
    """A device tensor with `spec` and no storage (nor allocation): capture reads its spec only; running an op on
    it is an error."""
    from ttfuse.tensor import Tensor

    return Tensor(spec, None, device, [])


def place(t: torch.Tensor, device, *, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT) -> ttnn.Tensor:
    """A torch tensor on `device` (`from_torch`); in spec-only mode a spec-only tensor of its shape."""
    if _SPEC_ONLY[0]:
        return spec_tensor(ttnn.TensorSpec(tuple(t.shape), dtype, layout, ttnn.DRAM_MEMORY_CONFIG), device)
    return ttnn.from_torch(_t(t).contiguous(), dtype=dtype, layout=layout, device=device)


def upload(t: torch.Tensor, device, dtype=ttnn.bfloat16) -> ttnn.Tensor:
    """A torch tensor as a TILE tensor on `device`."""
    return place(t, device, dtype=dtype)


def linear_weight(w: torch.Tensor, device, dtype=ttnn.bfloat16, *, scale: float = 1.0) -> ttnn.Tensor:
    """A torch Linear weight [out, in] uploaded transposed, [in, out] (optionally scaled first)."""
    return upload(_t(w).t() * scale, device, dtype)


def vector(v: torch.Tensor, device, dtype=ttnn.bfloat16, *, scale: float = 1.0) -> ttnn.Tensor:
    """A norm weight/bias or a linear bias [n] uploaded as [1, n]."""
    return upload((_t(v) * scale).reshape(1, -1), device, dtype)


def norm_weights(norm: torch.nn.Module, device) -> tuple:
    """(weight, bias) of a LayerNorm / GroupNorm as [1, n] vectors."""
    return vector(norm.weight, device), vector(norm.bias, device)


def to_host(t: ttnn.Tensor) -> torch.Tensor:
    return ttnn.to_torch(t).float()


# ---------------------------------------------------------------------------------------------------- ports
_JITTED: dict[Callable, Callable] = {}


def jitted(fn: Callable) -> Callable:
    """The `ttfuse.jit` version of a block function, made once per function and shared by every layer."""
    f = _JITTED.get(fn)
    if f is None:
        import ttfuse

        f = _JITTED[fn] = ttfuse.jit(fn)
    return f


class Port:
    """Base of the port classes (models/boltz, models/sd14): device, dtype, the jit switch and the one compute
    config; `from_torch(reference)` makes one and calls its `load`."""

    def __init__(self, device, *, dtype=ttnn.bfloat16, jit: bool = True):
        self.device = device
        self.dtype = dtype
        self.jit = jit
        self.cfg = exact_compute_config(device)

    @classmethod
    def from_torch(cls, reference_module, device, *, dtype=ttnn.bfloat16, jit: bool = True):
        """The port of `reference_module` (a torch module) on `device`: `load` reads what it needs."""
        port = cls(device, dtype=dtype, jit=jit)
        port.load(reference_module)
        return port

    def load(self, ref) -> None:
        """Read the reference module's hyperparameters and weights (onto self.device); each port defines it."""
        raise NotImplementedError(f"{type(self).__name__}.load")

    def run(self, fn: Callable, *args, **kwargs):
        """Call block function `fn` eagerly or through its jitted version."""
        return (jitted(fn) if self.jit else fn)(*args, **kwargs)
