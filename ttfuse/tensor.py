"""`ttnn.Tensor`: a TensorSpec plus storage (one float32 torch tensor per chip of its mesh, or host).

Concrete tensors hold `_shards` (logical-shape torch tensors already rounded to the dtype), `_device`
(a ttfuse.backend.Device, or None on host) and `_bufs` (one Allocation per chip; None once deallocated).
Capture's tracer subclasses Tensor and has no storage; every method here goes through OpDefs so that a
method call on a tracer is recorded like the function call would be.

Invariant: `spec.shape == shard.shape` for every shard; allocations are freed exactly once (deallocate,
or when the Python object dies).
"""

from __future__ import annotations

import torch

from ttfuse.errors import DeviceError, TraceError, missing_member
from ttfuse.opdef import OPS
from ttfuse.types import MemoryConfig, StorageType, TensorSpec

# NOTE: methods call the registered ops (ttfuse/opdef.py OPS, filled by ttfuse/ops) rather than the facade
# above this module: `t + u` is exactly `ttnn.add(t, u)`, and on a tracer it is recorded like that call.


class Tensor:
    # NOTE: `_version` counts writes into the tensor (in-place ops, preallocated outputs, deallocation): what
    # is computed once from a weight (ttfuse/capture/params.py, kernels.concat_weights) is keyed by it
    __slots__ = ("spec", "_shards", "_device", "_bufs", "_version", "__weakref__")

    def __init__(self, spec: TensorSpec, shards: list[torch.Tensor] | None, device=None, bufs=None):
        self.spec = spec
        self._shards = shards
        self._device = device
        self._bufs = bufs
        self._version = 0

    def __getattr__(self, name: str):
        # only names normal lookup missed: a member of the real ttnn.Tensor that the simulator lacks raises
        # TtnnNotImplementedError naming it (a method when called); any other name AttributeError
        return missing_member("Tensor", name)

    # ----------------------------------------------------------------------------------- metadata (ttnn API)
    @property
    def shape(self):
        return self.spec.shape

    @property
    def padded_shape(self):
        return self.spec.padded_shape

    @property
    def dtype(self):
        return self.spec.dtype

    def get_dtype(self):
        return self.spec.dtype

    @property
    def layout(self):
        return self.spec.layout

    def get_layout(self):
        return self.spec.layout

    def memory_config(self) -> MemoryConfig:
        return self.spec.memory_config

    def device(self):
        return self._device

    def storage_type(self) -> StorageType:
        return StorageType.HOST if self._device is None else StorageType.DEVICE

    def is_allocated(self) -> bool:
        return self._device is None or self._bufs is not None

    def is_sharded(self) -> bool:
        return self.spec.memory_config.is_sharded()

    def volume(self) -> int:
        return self.spec.numel

    def element_size(self) -> int:
        return {"float32": 4, "int32": 4, "uint32": 4, "bfloat16": 2, "uint16": 2, "uint8": 1}.get(
            self.dtype.value, 1
        )

    # ----------------------------------------------------------------------------------------- conversions
    def to(self, device, memory_config=None):
        return OPS["to_device"](self, device, memory_config=memory_config)

    def cpu(self, blocking: bool = True):
        return OPS["from_device"](self)

    def to_torch(self, dtype=None, *, mesh_composer=None) -> torch.Tensor:
        return OPS["to_torch"](self, dtype, mesh_composer=mesh_composer)

    def deallocate(self, force: bool = True) -> None:
        OPS["deallocate"](self, force=force)

    def reshape(self, *shape, **kw):
        if len(shape) == 1 and isinstance(shape[0], list | tuple):
            shape = tuple(shape[0])
        return OPS["reshape"](self, shape, **kw)

    def item(self):
        return self.to_torch().reshape(-1)[0].item()

    def __getitem__(self, key):
        start, end, step, squeeze = _slice_bounds(self.spec.shape, key)
        out = OPS["slice"](self, start, end, step if any(s != 1 for s in step) else None)
        return (
            out
            if not squeeze
            else OPS["reshape"](out, [d for i, d in enumerate(out.shape) if i not in squeeze])
        )

    # ------------------------------------------------------------------------------------------- operators
    def __add__(self, other):
        return OPS["add"](self, other)

    def __radd__(self, other):
        return OPS["add"](self, other)

    def __sub__(self, other):
        return OPS["subtract"](self, other)

    def __rsub__(self, other):
        return OPS["rsub"](self, other)

    def __mul__(self, other):
        return OPS["multiply"](self, other)

    def __rmul__(self, other):
        return OPS["multiply"](self, other)

    def __truediv__(self, other):
        return OPS["divide"](self, other)

    def __matmul__(self, other):
        return OPS["matmul"](self, other)

    def __neg__(self):
        return OPS["neg"](self)

    def __pow__(self, exponent):
        return OPS["pow"](self, exponent)

    def __gt__(self, other):
        return OPS["gt"](self, other)

    def __ge__(self, other):
        return OPS["ge"](self, other)

    def __lt__(self, other):
        return OPS["lt"](self, other)

    def __le__(self, other):
        return OPS["le"](self, other)

    # NOTE: __eq__ stays identity-based: tensors are dict keys in capture and passes; use ttnn.eq for values.
    __hash__ = object.__hash__

    def __iter__(self):
        raise TypeError("ttnn.Tensor is not iterable; use ttnn.split / ttnn.chunk or slicing")

    def __len__(self) -> int:
        return self.spec.shape[0] if self.spec.shape else 0

    def __bool__(self) -> bool:
        # NOTE: as in ttnn 0.81.1, whose Tensor defines neither __bool__ nor __len__: a tensor is an object, so
        # `if mask:` tests presence (an optional tensor that is not None), never the tensor's values.
        return True

    def __float__(self) -> float:
        return float(self.item())

    def __repr__(self) -> str:
        where = "host" if self._device is None else f"device {self._device.id}"
        state = "" if self.is_allocated() else ", deallocated"
        return f"ttnn.Tensor({self.spec}, {where}{state})"

    def __del__(self):
        bufs = self._bufs if hasattr(self, "_bufs") else None
        if bufs:
            for b in bufs:
                b.free()

    # ------------------------------------------------------------------------------------ storage (internal)
    def _check_alive(self, op_name: str, arg: str = "input_tensor") -> None:
        if self._device is not None and self._bufs is None:
            raise DeviceError(f"{op_name}: argument {arg!r} was deallocated (use after ttnn.deallocate)")

    def _free(self) -> None:
        if self._bufs:
            for b in self._bufs:
                b.free()
        self._bufs = None
        self._version += 1


def _slice_bounds(shape, key):
    if not isinstance(key, tuple):
        key = (key,)
    if any(k is Ellipsis for k in key):
        i = key.index(Ellipsis)
        key = key[:i] + (slice(None),) * (len(shape) - len(key) + 1) + key[i + 1 :]
    if len(key) > len(shape):
        raise TraceError(f"ttnn.Tensor.__getitem__: {len(key)} indices for a rank-{len(shape)} tensor")
    start, end, step, squeeze = [], [], [], []
    for i, d in enumerate(shape):
        k = key[i] if i < len(key) else slice(None)
        if isinstance(k, int):
            k = k + d if k < 0 else k
            start.append(k), end.append(k + 1), step.append(1), squeeze.append(i)
        elif isinstance(k, slice):
            s, e, st = k.indices(d)
            start.append(s), end.append(max(e, s)), step.append(st)
        else:
            raise TypeError(f"ttnn.Tensor.__getitem__: unsupported index {k!r} (ints and slices only)")
    return start, end, step, squeeze
