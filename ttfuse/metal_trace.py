"""Metal traces on a simulated device: `ttnn.begin_trace_capture`, `end_trace_capture`, `execute_trace`,
`release_trace` (ttnn 0.81.1 signatures; tt-metal ttnn/cpp/ttnn/operations/trace.cpp and the mesh trace of
tt_metal/distributed/mesh_trace.cpp).

On hardware a trace records the device commands that the ops of the captured region enqueue; `execute_trace`
replays them, reading the inputs' buffers as they are then and writing into the same output buffers, with no
host work. Here the captured region is recorded as the calls that made it: every outermost ttnn op call and
every outermost `@ttfuse.jit` / ttnn-jit function call whose tensors live on the capturing device, with its
arguments (the same Tensor objects) and its results. `execute_trace` calls each again in order and writes each
new result into the recorded result tensor (the same object, version bumped), so tensors that the code kept
from the captured region hold the values of the replay, computed from what the inputs hold then (e.g. after
`ttnn.copy_host_to_device_tensor`). The calls inside a jit function are part of its call, not recorded apart.

Differences from hardware, on purpose: the captured calls also run when captured (hardware only records them,
so a result read before the first `execute_trace` is garbage there and correct here); host reads and writes
inside the captured region raise as in tt-metal ("Reads/Writes are not supported during trace capture"); a
program cache miss during capture is not an error here (tt-metal cannot compile programs while capturing).

Invariants: at most one capture per device at a time; a trace id is valid from `begin_trace_capture` until
`release_trace` on the same device; recording is off while nothing captures (`ACTIVE` is empty: the op call
hot path tests one dict).
"""

from __future__ import annotations

import itertools
from typing import Any

from ttfuse.errors import DeviceError

__all__ = ["ACTIVE", "MeshTraceId", "begin", "call", "end", "execute", "release", "check_host_transfer"]

# device id -> the calls recorded so far by the capture in progress on it
ACTIVE: dict[int, list] = {}
_TRACES: dict[tuple[int, int], list] = {}
_CAPTURE_IDS: dict[int, int] = {}
_DEPTH = [0]  # > 0 while a recorded (or replayed) call runs: the calls it makes are part of it
_IDS = itertools.count()


class MeshTraceId(int):
    """`ttnn.MeshTraceId`: the id of one trace of a device (an int, as ttnn's `MeshTraceId(int)`)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"MeshTraceId({int(self)})"


def _is_tensor(v) -> bool:
    # NOTE: by shape, not isinstance: this core module sits below ttfuse.tensor / ttfuse.backend (no cycle)
    return "_shards" in getattr(type(v), "__slots__", ())


def _device_of(values) -> Any:
    for v in values:
        if _is_tensor(v):
            if v._device is not None:
                return v._device
        elif isinstance(v, list | tuple):
            d = _device_of(v)
            if d is not None:
                return d
        elif callable(getattr(type(v), "check_open", None)):  # an open (mesh) device
            return v
    return None


def call(fn, args: tuple, kwargs: dict) -> Any:
    """`fn(*args, **kwargs)`; recorded into the capture of its device when it is an outermost call."""
    if _DEPTH[0]:
        return fn(*args, **kwargs)
    dev = _device_of((*args, *kwargs.values()))
    entries = ACTIVE.get(dev.id) if dev is not None else None
    _DEPTH[0] += 1
    try:
        out = fn(*args, **kwargs)
    finally:
        _DEPTH[0] -= 1
    if entries is not None:
        entries.append((fn, args, kwargs, out))
    return out


_READS = frozenset({"ttnn.to_torch", "ttnn.from_device", "ttnn.copy_device_to_host_tensor"})


def check_host_transfer(op_name: str, values) -> None:
    """A host transfer touching a capturing device raises, as tt-metal's command queue does while capturing."""
    dev = _device_of(values)
    if dev is not None and dev.id in ACTIVE:
        what = "Reads" if op_name in _READS else "Writes"
        raise DeviceError(
            f"{op_name}: {what} are not supported during trace capture (device {dev.id} is capturing trace "
            f"{_CAPTURE_IDS[dev.id]}); move host transfers outside begin_trace_capture/end_trace_capture"
        )


def begin(device) -> MeshTraceId:
    device.check_open("ttnn.begin_trace_capture")
    if device.id in ACTIVE:
        raise DeviceError(
            f"ttnn.begin_trace_capture: device {device.id} is already capturing trace {_CAPTURE_IDS[device.id]}"
        )
    tid = MeshTraceId(next(_IDS))
    ACTIVE[device.id] = []
    _CAPTURE_IDS[device.id] = tid
    return tid


def end(device, trace_id) -> None:
    if _CAPTURE_IDS.get(device.id) != trace_id or device.id not in ACTIVE:
        raise DeviceError(
            f"ttnn.end_trace_capture: argument 'trace_id' {trace_id!r} is not the trace device {device.id} "
            "is capturing (begin_trace_capture returns it)"
        )
    _TRACES[(device.id, int(trace_id))] = ACTIVE.pop(device.id)
    del _CAPTURE_IDS[device.id]


def _trace(op: str, device, trace_id) -> list:
    entries = _TRACES.get((device.id, int(trace_id))) if isinstance(trace_id, int) else None
    if entries is None:
        raise DeviceError(
            f"{op}: argument 'trace_id' {trace_id!r} names no captured trace of device {device.id} "
            "(not ended, released, or of another device)"
        )
    return entries


def _tensors(out) -> list:
    if _is_tensor(out):
        return [out]
    if isinstance(out, list | tuple):
        return [t for x in out for t in _tensors(x)]
    return []


def execute(device, trace_id) -> None:
    device.check_open("ttnn.execute_trace")
    if device.id in ACTIVE:
        raise DeviceError(f"ttnn.execute_trace: device {device.id} is capturing a trace")
    for fn, args, kwargs, out in _trace("ttnn.execute_trace", device, trace_id):
        _DEPTH[0] += 1
        try:
            new = fn(*args, **kwargs)
        finally:
            _DEPTH[0] -= 1
        olds, news = _tensors(out), _tensors(new)
        if len(olds) != len(news):
            raise DeviceError(f"ttnn.execute_trace: a replayed call of {fn!r} returned another structure")
        for o, n in zip(olds, news):
            if o is n:
                continue  # the call returned an input (a free view): nothing to write
            if o._device is not None and o._bufs is None:
                continue  # deallocated since the capture: on hardware the replay writes a freed buffer
            o._shards = n._shards
            o._version += 1
            n._free()


def release(device, trace_id) -> None:
    _trace("ttnn.release_trace", device, trace_id)
    del _TRACES[(device.id, int(trace_id))]
