"""Device management: open/close (mesh) devices on the eager backend; `ttnn.device.Arch`, `ttnn.get_arch_name()`,
`ttnn.device.is_blackhole()` / `is_wormhole_b0()`.

`open_device(device_id=0, ..., arch=None)`: `arch` is a ttfuse extension naming the device kind
(`wormhole_b0`, `blackhole:p150:11x10`, ...); without it `$TTFUSE_ARCH` decides (default Wormhole n150; `blackhole`
is the 140-core p150 with its 13x10 grid, see ttfuse/device.py).

The eager backend comes from the registry (ttfuse/backend.py): `eager_backend_name()` is `$TTFUSE_BACKEND`
when that backend runs eager calls, else the simulator ("sim", which registers itself when the registry first
imports it). The facade names no backend.
"""

from __future__ import annotations

import os
import weakref

from ttfuse import backend as _backend
from ttfuse import metal_trace as _metal_trace
from ttfuse.device import Arch, device_spec
from ttfuse.errors import DeviceError, with_user_frame
from ttfuse.mesh import MeshShape
from ttfuse.metal_trace import MeshTraceId

_backend.set_eager_backend(_backend.eager_backend_name())
MeshDevice = _backend.eager_backend().device_class

# NOTE: as in ttnn 0.81.1, MeshDevice / MeshShape / open_mesh_device / close_mesh_device are top-level ttnn names
# only (ttfuse/ttnn/__init__.py exports them); ttnn.device keeps the single-device API.
__all__ = [
    "Arch",
    "open_device",
    "close_device",
    "synchronize_device",
    "DispatchCoreConfig",
    "DispatchCoreType",
    "DispatchCoreAxis",
    "is_blackhole",
    "is_wormhole_b0",
]


class DispatchCoreType:
    WORKER = "WORKER"
    ETH = "ETH"


class DispatchCoreAxis:
    ROW = "ROW"
    COL = "COL"


class DispatchCoreConfig:
    def __init__(self, type=None, axis=None):  # noqa: A002 - ttnn's keyword name
        self.type, self.axis = type, axis


def _check_arch(arch: str | None, op: str) -> None:
    """A bad `arch=` is an error naming the argument (not TTFUSE_ARCH) and the user's line."""
    if arch is not None:
        try:
            device_spec(arch, source=f"{op}(arch={arch!r})")
        except DeviceError as e:
            raise with_user_frame(e) from None


def open_device(
    *,
    device_id: int = 0,
    l1_small_size: int = 0,
    trace_region_size: int = 0,
    dispatch_core_config=None,
    worker_l1_size: int = 0,
    num_command_queues: int = 1,
    arch: str | None = None,
) -> MeshDevice:
    if device_id != 0:
        raise DeviceError(
            f"ttnn.open_device: the simulator has one device (id 0), asked for device_id={device_id}"
        )
    _check_arch(arch, "ttnn.open_device")
    return _opened(_backend.eager_backend().open_mesh(MeshShape(1, 1), arch))


def open_mesh_device(
    mesh_shape: MeshShape | None = None,
    *,
    l1_small_size: int = 0,
    trace_region_size: int = 0,
    num_command_queues: int = 1,
    dispatch_core_config=None,
    offset=None,
    physical_device_ids=None,
    worker_l1_size: int = 0,
    arch: str | None = None,
) -> MeshDevice:
    shape = mesh_shape if mesh_shape is not None else MeshShape(1, 1)
    if not isinstance(shape, MeshShape):
        shape = MeshShape(*shape)
    if shape.rows < 1 or shape.cols < 1 or shape.num_devices() > 64:
        raise DeviceError(f"ttnn.open_mesh_device: unsupported mesh shape {shape}")
    _check_arch(arch, "ttnn.open_mesh_device")
    return _opened(_backend.eager_backend().open_mesh(shape, arch))


def close_device(device: MeshDevice) -> None:
    device.close()


def close_mesh_device(mesh_device: MeshDevice) -> None:
    mesh_device.close()


def synchronize_device(device: MeshDevice, cq_id=None, sub_device_ids=None) -> None:
    """Eager sim ops finish when they return; nothing to wait for."""


def begin_trace_capture(mesh_device: MeshDevice, *, cq_id=None) -> MeshTraceId:
    """`ttnn.begin_trace_capture(mesh_device, *, cq_id=None)`: start recording the device's work; returns the
    trace id (ttfuse/metal_trace.py: the captured calls, replayed by `execute_trace`)."""
    return _metal_trace.begin(mesh_device)


def end_trace_capture(mesh_device: MeshDevice, trace_id, *, cq_id=None) -> None:
    """`ttnn.end_trace_capture(mesh_device, trace_id, *, cq_id=None)`: stop recording trace `trace_id`."""
    _metal_trace.end(mesh_device, trace_id)


def execute_trace(mesh_device: MeshDevice, trace_id, *, cq_id=None, blocking: bool = True) -> None:
    """`ttnn.execute_trace(mesh_device, trace_id, *, cq_id=None, blocking=True)`: replay the captured work into
    the tensors it produced, reading its inputs as they are now."""
    _metal_trace.execute(mesh_device, trace_id)


def release_trace(mesh_device: MeshDevice, trace_id) -> None:
    """`ttnn.release_trace(mesh_device, trace_id)`: free a captured trace."""
    _metal_trace.release(mesh_device, trace_id)


# the device opened last (while open, it names the arch: a real machine has one kind of chip)
_LAST: list[weakref.ref] = []


def _opened(device: MeshDevice) -> MeshDevice:
    _LAST[:] = [weakref.ref(device)]
    return device


def _arch_now() -> str:
    if not os.environ.get("TTFUSE_ARCH"):
        dev = _LAST[0]() if _LAST else None
        if dev is not None and getattr(dev, "is_open", True):
            return dev.spec.arch
    return device_spec().arch


def get_arch_name() -> str:
    """`ttnn.get_arch_name()`: the machine's chip arch, `"wormhole_b0"` or `"blackhole"` (ttnn reads the cluster).
    On the simulator: the arch of `$TTFUSE_ARCH` when set, else of the device opened last while it is open (an
    `open_device(arch=...)`), else Wormhole."""
    return _arch_now()


def is_blackhole(device=None) -> bool:
    """`ttnn.device.is_blackhole(device=None)`: the device's arch, or the machine's without one."""
    if device is not None:
        return device.arch() == Arch.BLACKHOLE
    return "blackhole" in _arch_now()


def is_wormhole_b0(device=None) -> bool:
    """`ttnn.device.is_wormhole_b0(device=None)`: the device's arch, or the machine's without one."""
    if device is not None:
        return device.arch() == Arch.WORMHOLE_B0
    return "wormhole_b0" in _arch_now()
