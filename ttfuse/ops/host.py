"""Host <-> device ops and tensor lifetime: from_torch, to_torch, to_device, from_device, deallocate.

These ops move data between torch and the simulated device, so they manage storage themselves
(`eager_impl`) instead of going through the executor's spec/sim path. Host conversions are not device
kernel launches and are never counted. Mesh mappers and composers live in ttfuse/ttnn/mesh.py.
"""

from __future__ import annotations

import torch

from ttfuse.backend import is_device
from ttfuse.errors import DeviceError, SpecError, TraceError, got
from ttfuse.numerics import round_to_dtype
from ttfuse.opdef import Group, register_op
from ttfuse.tensor import Tensor
from ttfuse.types import (
    DRAM_MEMORY_CONFIG,
    DataType,
    Layout,
    MemoryConfig,
    TensorSpec,
)

_FROM_TORCH_DTYPE = {
    torch.float32: DataType.FLOAT32,
    torch.bfloat16: DataType.BFLOAT16,
    torch.float16: DataType.BFLOAT16,
    torch.float64: DataType.FLOAT32,
    torch.int32: DataType.INT32,
    torch.int64: DataType.UINT32,  # as ttnn 0.81.1 from_torch does (checked on the wheel: int64 -> UINT32)
    torch.uint8: DataType.UINT8,
    torch.int16: DataType.UINT16,
    torch.uint16: DataType.UINT16,
    torch.uint32: DataType.UINT32,
    torch.bool: DataType.UINT8,
}
_TO_TORCH_DTYPE = {
    DataType.FLOAT32: torch.float32,
    DataType.BFLOAT16: torch.bfloat16,
    DataType.BFLOAT8_B: torch.float32,
    DataType.BFLOAT4_B: torch.float32,
    DataType.INT32: torch.int32,
    # as the 0.81.1 wheel's to_torch (checked: UINT32 -> torch.uint32, UINT16 -> torch.uint16); torch's unsigned
    # types have few kernels (no add), so callers doing arithmetic convert, e.g. to_torch(t, dtype=torch.int64)
    DataType.UINT32: torch.uint32,
    DataType.UINT16: torch.uint16,
    DataType.UINT8: torch.uint8,
}


def check_dtype_layout(op_name: str, dtype: DataType, layout: Layout) -> None:
    """Real TTNN: block-float dtypes exist only in TILE layout."""
    if dtype.is_block_float and layout is not Layout.TILE:
        raise SpecError(
            f"{op_name}: dtype={dtype!r} requires layout=ttnn.TILE_LAYOUT (block floats are tiled), "
            f"got {layout!r}"
        )


def to_values(t: torch.Tensor, dtype: DataType) -> torch.Tensor:
    """A torch tensor as simulator storage: float32 rounded to `dtype` (integers per ttfuse.numerics)."""
    # NOTE: ttnn copies the data and never tracks autograd; an nn.Parameter (tt-symbiote passes module weights)
    # must not leave a requires-grad tensor in device storage, where later out= kernels would refuse it
    t = t.detach()
    if t.is_floating_point() and t.dtype is not torch.float32:
        t = t.float()
    elif not t.is_floating_point() and not dtype.is_integer:
        t = t.float()
    return round_to_dtype(t.contiguous(), dtype.value)


@register_op("from_torch", Group.HOST)
def from_torch(
    tensor,
    dtype=None,
    *,
    spec=None,
    tile=None,
    pad_value=None,
    layout=None,
    device=None,
    memory_config=None,
    mesh_mapper=None,
    cq_id=None,
):
    """Convert a torch tensor into a ttnn tensor (on `device` when given), rounding to `dtype`."""


def _from_torch(tensor, dtype, *, spec, layout, device, memory_config, mesh_mapper, tile, **_):
    # NOTE: the executor passes every argument bound to from_torch's signature; pad_value and cq_id change
    # nothing here.
    if not isinstance(tensor, torch.Tensor):
        raise SpecError(
            f"ttnn.from_torch: argument 'tensor' must be a torch.Tensor, got {type(tensor).__name__}"
        )
    if spec is not None:  # ttnn/operations/core.py (ttnn 0.81.1) `from_torch`: the spec says all of these
        if not isinstance(spec, TensorSpec):
            raise SpecError(f"ttnn.from_torch: argument 'spec' must be a ttnn.TensorSpec, got {got(spec)}")
        if tuple(spec.shape) != tuple(tensor.shape):
            raise SpecError(
                f"ttnn.from_torch: spec shape {list(spec.shape)} must be the same as tensor shape "
                f"{list(tensor.shape)}"
            )
        for name, v in (
            ("dtype", dtype),
            ("layout", layout),
            ("memory_config", memory_config),
            ("tile", tile),
        ):
            if v is not None:
                raise SpecError(f"ttnn.from_torch: argument {name!r} must be None when spec is specified")
        dtype, layout, memory_config = spec.dtype, spec.layout, spec.memory_config
    if dtype is None:
        dtype = _FROM_TORCH_DTYPE.get(tensor.dtype)
        if dtype is None:
            raise SpecError(
                f"ttnn.from_torch: torch dtype {tensor.dtype} has no ttnn equivalent; pass dtype="
            )
    if not isinstance(dtype, DataType):
        raise SpecError(f"ttnn.from_torch: argument 'dtype' must be a ttnn.DataType, got {dtype!r}")
    layout = layout or Layout.ROW_MAJOR
    check_dtype_layout("ttnn.from_torch", dtype, layout)
    if tensor.dim() == 0:
        tensor = tensor.reshape(1)
    mc = memory_config or DRAM_MEMORY_CONFIG
    if not isinstance(mc, MemoryConfig):
        raise SpecError(f"ttnn.from_torch: argument 'memory_config' must be a ttnn.MemoryConfig, got {mc!r}")
    shards = mesh_mapper.map(tensor) if mesh_mapper is not None else [tensor]
    shapes = {tuple(s.shape) for s in shards}
    if len(shapes) != 1:
        raise SpecError(
            f"ttnn.from_torch: mesh_mapper produced shards of different shapes {sorted(shapes)}; "
            "the sharded dim must divide evenly across the mesh"
        )
    values = [to_values(s, dtype) for s in shards]
    tspec = TensorSpec(tuple(shards[0].shape), dtype, layout, mc)
    host = Tensor(tspec, values, None, None)
    if device is None:
        return host
    return _to_device(host, device, memory_config=mc)


@register_op("to_torch", Group.HOST)
def to_torch(tensor, dtype=None, *, torch_rank=None, mesh_composer=None, device=None, cq_id=None):
    """Convert a ttnn tensor (host or device) to a torch tensor; mesh tensors need a `mesh_composer`."""


def _to_torch(tensor, dtype=None, *, torch_rank=None, mesh_composer=None, device=None, cq_id=None):
    if not isinstance(tensor, Tensor):
        raise SpecError(f"ttnn.to_torch: argument 'tensor' must be a ttnn.Tensor, got {got(tensor)}")
    if tensor._shards is None:
        raise TraceError(
            "ttnn.to_torch on a traced tensor: values do not exist while tracing (or after the trace, "
            "for an escaped tracer); return the tensor from the @ttfuse.jit function and convert the result"
        )
    tensor._check_alive("ttnn.to_torch", "tensor")
    if mesh_composer is not None:
        out = mesh_composer.compose(tensor._shards)
    elif len(tensor._shards) == 1:
        out = tensor._shards[0]
    else:
        raise DeviceError(
            f"ttnn.to_torch: tensor lives on {len(tensor._shards)} devices; pass "
            "mesh_composer=ttnn.ConcatMeshToTensor(mesh, dim=...)"
        )
    target = dtype if dtype is not None else _TO_TORCH_DTYPE[tensor.dtype]
    out = out.to(target) if out.dtype != target else out.clone()
    if torch_rank is not None:
        while out.dim() > torch_rank and out.shape[0] == 1:
            out = out.squeeze(0)
    return out


@register_op("to_device", Group.HOST)
def to_device(tensor, device, memory_config=None, *, queue_id=None):
    """Copy a host tensor to `device` (a mesh replicates a single host shard to every chip)."""


def _to_device(tensor, device, memory_config=None, *, queue_id=None):
    if not isinstance(tensor, Tensor):
        raise SpecError(f"ttnn.to_device: argument 'tensor' must be a ttnn.Tensor, got {got(tensor)}")
    if not is_device(device):
        raise SpecError(f"ttnn.to_device: argument 'device' must be an open device, got {device!r}")
    device.check_open("ttnn.to_device")
    if tensor._device is not None:
        if tensor._device is device:
            return tensor
        raise DeviceError(
            f"ttnn.to_device: tensor is already on device {tensor._device.id}; ttnn.from_device first"
        )
    mc = memory_config or tensor.spec.memory_config
    spec = tensor.spec.replace(memory_config=mc)
    n = device.get_num_devices()
    shards = tensor._shards
    if len(shards) == 1 and n > 1:
        shards = shards * n
    elif len(shards) != n:
        raise DeviceError(f"ttnn.to_device: tensor has {len(shards)} shards but the mesh has {n} devices")
    bufs = device.allocate(spec, "ttnn.to_device")
    return Tensor(spec, list(shards), device, bufs)


@register_op("from_device", Group.HOST)
def from_device(tensor, blocking=True, *, queue_id=None):
    """Copy a device tensor back to the host (the device tensor stays allocated)."""


def _from_device(tensor, blocking=True, *, queue_id=None):
    if not isinstance(tensor, Tensor):
        raise SpecError(f"ttnn.from_device: argument 'tensor' must be a ttnn.Tensor, got {got(tensor)}")
    tensor._check_alive("ttnn.from_device", "tensor")
    return Tensor(tensor.spec, list(tensor._shards), None, None)


@register_op("allocate_tensor_on_device", Group.MEMORY, launches=0)
def allocate_tensor_on_device(tensor_spec, mesh_device=None, *args, memory_config=None):
    """Allocate an uninitialised device tensor: `(tensor_spec, mesh_device)` or ttnn's other overload
    `(shape, dtype, layout, mesh_device, memory_config=None)`."""


def _allocate_tensor_on_device(tensor_spec, mesh_device=None, args=(), memory_config=None):
    # the executor binds the stub's signature: `args` is the tuple of the other positional arguments
    if isinstance(tensor_spec, TensorSpec):
        if args or memory_config is not None:
            raise SpecError(
                "ttnn.allocate_tensor_on_device: with a TensorSpec the arguments are (tensor_spec, mesh_device)"
            )
        spec, device = tensor_spec, mesh_device
    else:  # (shape, dtype, layout, mesh_device, memory_config=None)
        rest = (mesh_device, *args)
        if len(rest) < 3 or len(rest) > 4:
            raise SpecError(
                "ttnn.allocate_tensor_on_device: arguments are (tensor_spec, mesh_device) or (shape, dtype, "
                f"layout, mesh_device, memory_config=None), got {1 + len(rest)} positional arguments"
            )
        dtype, layout, device = rest[:3]
        if len(rest) == 4:
            memory_config = rest[3]
        if not isinstance(dtype, DataType) or not isinstance(layout, Layout):
            raise SpecError(
                f"ttnn.allocate_tensor_on_device: dtype and layout must be a ttnn.DataType and a ttnn.Layout, got "
                f"{dtype!r}, {layout!r}"
            )
        spec = TensorSpec(tuple(tensor_spec), dtype, layout, memory_config or DRAM_MEMORY_CONFIG)
    if not is_device(device):
        raise SpecError(
            f"ttnn.allocate_tensor_on_device: argument 'mesh_device' must be an open device, got {device!r}"
        )
    device.check_open("ttnn.allocate_tensor_on_device")
    check_dtype_layout("ttnn.allocate_tensor_on_device", spec.dtype, spec.layout)
    bufs = device.allocate(spec, "ttnn.allocate_tensor_on_device")
    # uninitialised memory on hardware: zeros here
    zeros = to_values(torch.zeros(tuple(spec.shape)), spec.dtype)
    return Tensor(spec, [zeros for _ in device.chips], device, bufs)


@register_op("copy_host_to_device_tensor", Group.HOST)
def copy_host_to_device_tensor(host_tensor, device_tensor, cq_id=None):
    """Copy a host tensor's values into an allocated device tensor of the same shape, dtype and layout."""


def _copy_host_to_device_tensor(host_tensor, device_tensor, cq_id=None):
    op = "ttnn.copy_host_to_device_tensor"
    for name, t in (("host_tensor", host_tensor), ("device_tensor", device_tensor)):
        if not isinstance(t, Tensor):
            raise SpecError(f"{op}: argument {name!r} must be a ttnn.Tensor, got {got(t)}")
    if host_tensor._device is not None:
        raise SpecError(f"{op}: argument 'host_tensor' is on a device; it must be a host tensor")
    if device_tensor._device is None:
        raise SpecError(f"{op}: argument 'device_tensor' is on the host; allocate it on a device first")
    device_tensor._check_alive(op, "device_tensor")
    # tt-metal ttnn/core/tensor/tensor_impl.cpp (copy_to_device): same shape, dtype and layout on both sides
    h, d = host_tensor.spec, device_tensor.spec
    if (tuple(h.shape), h.dtype, h.layout) != (tuple(d.shape), d.dtype, d.layout):
        raise SpecError(
            f"{op}: host and device tensors must have the same shape, dtype and layout, got {h} and {d}"
        )
    n = device_tensor._device.get_num_devices()
    shards = host_tensor._shards
    if len(shards) == 1 and n > 1:
        shards = shards * n
    elif len(shards) != n:
        raise DeviceError(f"{op}: host tensor has {len(shards)} shards but the mesh has {n} devices")
    device_tensor._shards = list(shards)
    device_tensor._version += 1


@register_op("deallocate", Group.MEMORY, launches=0)
def deallocate(tensor, force=True):
    """Free a device tensor's storage now; any later use raises."""


def _deallocate(tensor, force=True):
    if not isinstance(tensor, Tensor):
        raise SpecError(f"ttnn.deallocate: argument 'tensor' must be a ttnn.Tensor, got {got(tensor)}")
    if tensor._device is not None:
        tensor._free()


for _op, _impl in (
    (from_torch, _from_torch),
    (to_torch, _to_torch),
    (to_device, _to_device),
    (from_device, _from_device),
    (deallocate, _deallocate),
    (allocate_tensor_on_device, _allocate_tensor_on_device),
    (copy_host_to_device_tensor, _copy_host_to_device_tensor),
):
    _op.declare(eager_impl=_impl)
