"""ttnn 0.81.1's host-side helpers that are plain functions over ops: `as_tensor`, `unsqueeze_to_4D`.

as_tensor follows ttnn/operations/core.py (the wheel): `preprocess` applied to the torch tensor, then
`from_torch`; with a device, `memory_config` is required (RuntimeError otherwise, as in ttnn). `cache_file_name`
names ttnn's on-disk weight cache (a flatbuffer per dtype/layout); the simulator keeps none and converts every
time (the result is the same tensor). unsqueeze_to_4D is the C++ `ttnn::unsqueeze_to_4D`: leading 1s up to rank 4,
a reshape (free on ttnn's view path).
"""

from __future__ import annotations

import enum

from ttfuse.errors import SpecError, with_user_frame
from ttfuse.ops.host import from_torch
from ttfuse.ops.shapes import reshape
from ttfuse.types import Layout, StorageType


class DumpTensorMode(enum.Enum):
    """`ttnn.DumpTensorMode`: how as_tensor writes a cache miss (nothing is written on the simulator)."""

    DISTRIBUTED_GATHER = 0
    LOCAL = 1


def as_tensor(
    tensor,
    dtype=None,
    *,
    layout=Layout.ROW_MAJOR,
    device=None,
    memory_config=None,
    cache_file_name=None,
    preprocess=None,
    mesh_mapper=None,
    cache_dump_mode=DumpTensorMode.DISTRIBUTED_GATHER,
):
    """`ttnn.as_tensor`: `from_torch(preprocess(tensor), ...)` (no weight cache on the simulator)."""
    if device is not None and memory_config is None:
        raise with_user_frame(
            SpecError("ttnn.as_tensor: argument 'memory_config' must be specified when 'device' is specified")
        )
    if preprocess is not None:
        tensor = preprocess(tensor)
    return from_torch(
        tensor,
        dtype=dtype,
        layout=layout,
        mesh_mapper=mesh_mapper,
        memory_config=memory_config,
        device=device,
    )


def unsqueeze_to_4D(tensor):  # noqa: N802  (ttnn's name)
    """`ttnn.unsqueeze_to_4D`: the tensor reshaped to rank 4 with leading 1s (rank 4 returns it as is)."""
    shape = list(tensor.shape)
    if len(shape) == 4:
        return tensor
    if len(shape) > 4:
        raise with_user_frame(
            SpecError(f"ttnn.unsqueeze_to_4D: argument 'tensor' has rank {len(shape)}; it must be at most 4")
        )
    return reshape(tensor, [1] * (4 - len(shape)) + shape)


# ttnn/core.py (the wheel's `ttnn.core` module): integer helpers and storage predicates
def divup(a, b):
    """`ttnn.core.divup`: ceil(a / b) for positive integers."""
    return (a + b - 1) // b


def roundup(a, b):
    """`ttnn.core.roundup`: `a` rounded up to a multiple of `b`."""
    return divup(a, b) * b


def has_storage_type_of(tensor, storage_type) -> bool:
    """`ttnn.core.has_storage_type_of`: whether the tensor's storage is `storage_type`."""
    return tensor.storage_type() == storage_type


def is_tensor_storage_on_device(tensor) -> bool:
    """`ttnn.is_tensor_storage_on_device`: whether the tensor lives on a device (not on host)."""
    return tensor.storage_type() == StorageType.DEVICE
