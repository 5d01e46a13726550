"""The eager trace on the simulator: validate with the op's spec rule, allocate, run its sim rule, round once.

Per call: (1) gather tensor arguments, check they are alive and on one device (a `device=` argument names the
device of ops without tensor inputs, like ttnn.zeros); (2) spec rule on their TensorSpecs -> output spec(s)
(SpecError for input real TTNN rejects); (3) launches: `op.num_launches(out_specs, spec_args)` (some calls of
reshape/permute/to_layout are free in ttnn); (4) storage: a free call (`OpDef.is_view`: `may_view`, no launch) is a view
(ttnn returns the input, or a view sharing its buffer: no allocation), otherwise the
outputs are allocated on every chip of the mesh (OutOfMemoryError names op, memory, bytes); (5) run the sim rule
once per chip on that chip's shards (or once with all shards for collectives, `Traits.mesh_rule`); (6) round each
output to its dtype; (7) count the launches and run them through the device's program cache (keyed by op, input
specs and the other arguments: ttfuse/sim/device.py `ProgramCache`); (8) free an input the op consumes
(`Traits.consumes`, e.g. reallocate).

Ops with an `eager_impl` (host conversions, deallocate) bypass all this and manage storage themselves.
This is the simulator's per-op hot path: keep it allocation-light.
"""

from __future__ import annotations

from ttfuse.backend import OBSERVERS, is_device, notify_op
from ttfuse.errors import DeviceError, SpecError, TraceError, got
from ttfuse.numerics import round_to_dtype
from ttfuse.opdef import Group, OpDef, SimCtx, Trace, check_preallocated, set_device_spec
from ttfuse.sim.device import program_key, record_launches, record_programs
from ttfuse.tensor import Tensor
from ttfuse.types import TensorSpec


def is_tensor(v) -> bool:
    return isinstance(v, Tensor)


class ViewStorage:
    """Storage of a zero-cost view: keeps its base tensor (and so the base's allocation) alive, frees nothing.

    NOTE: ttnn views share one refcounted buffer; here the base owns the allocation and the view holds the base.
    Deallocating the view leaves the base allocated (ttnn would free the shared buffer).
    """

    __slots__ = ("base",)

    def __init__(self, base: Tensor):
        self.base = base

    def free(self) -> None:
        self.base = None


class SimTrace(Trace):
    """Runs ops now on simulated devices."""

    def process_into(self, op: OpDef, args: dict, name: str, into):
        """A preallocated output: the result is written into `into`'s storage (no new allocation, no extra
        kernel), which is returned."""
        if op.traits.eager_impl is not None or op.traits.inplace is not None:
            return super().process_into(op, args, name, into)
        if not isinstance(into, Tensor):
            raise SpecError(f"{op.qualname}: argument {name!r} must be a ttnn.Tensor, got {got(into)}")
        if into._device is None or into._bufs is None:
            what = "on the host" if into._device is None else "deallocated"
            raise DeviceError(f"{op.qualname}: argument {name!r} (a preallocated output) is {what}")
        return self.process(op, args, into=(name, into))

    def process(self, op: OpDef, args: dict, into=None):
        impl = op.traits.eager_impl
        if impl is not None:
            return impl(**args)
        device = None
        tensors: list[tuple[str, Tensor]] = []
        spec_args = dict(args)
        for k, v in args.items():
            if isinstance(v, Tensor):
                tensors.append((k, v))
                spec_args[k] = v.spec
            elif isinstance(v, list | tuple) and v and any(isinstance(x, Tensor) for x in v):
                for x in v:
                    if isinstance(x, Tensor):
                        tensors.append((k, x))
                spec_args[k] = type(v)(x.spec if isinstance(x, Tensor) else x for x in v)
        for name, t in tensors:
            if t._shards is None:
                raise TraceError(
                    f"{op.qualname}: argument {name!r} is an escaped tracer: a tensor of a @ttfuse.jit trace that "
                    "has ended (stored in a global, list or attribute while tracing); tracers have no values: return "
                    "the tensor from the jit function and use the result"
                )
            if t._device is not None:
                if t._bufs is None:
                    raise DeviceError(
                        f"{op.qualname}: argument {name!r} was deallocated (use after ttnn.deallocate)"
                    )
                if device is None:
                    device = t._device
                elif t._device is not device and t._device.chips != device.chips:
                    raise DeviceError(
                        f"{op.qualname}: argument {name!r} is on device {t._device.id} but another "
                        f"input is on device {device.id}; move tensors to one device first"
                    )
            elif not op.traits.host_ok:
                raise SpecError(
                    f"{op.qualname}: argument {name!r} is on the host; ttnn runs this op on device "
                    f"tensors only (use ttnn.to_device or from_torch(..., device=))"
                )
        if device is None:
            dev = args.get("device")
            if dev is not None:
                if not is_device(dev):
                    raise SpecError(f"{op.qualname}: argument 'device' must be an open device, got {dev!r}")
                device = dev
        if device is not None:
            device.check_open(op.qualname)
            set_device_spec(device.spec, (device.shape.rows, device.shape.cols))
        out_spec = op.spec_rule(**spec_args)
        multi = isinstance(out_spec, tuple | list)
        out_specs = list(out_spec) if multi else [out_spec]
        for s in out_specs:
            if not isinstance(s, TensorSpec):
                raise TypeError(f"{op.qualname}: spec rule returned {type(s).__name__}, not TensorSpec")
        n = op.num_launches(out_specs, spec_args)
        if into is not None:  # the result goes to the preallocated tensor: its spec (memory), no allocation
            check_preallocated(op, into[0], into[1], None if multi else out_specs[0])
            if device is not None and into[1]._device is not device and into[1]._device.chips != device.chips:
                raise DeviceError(f"{op.qualname}: argument {into[0]!r} is on another device than the inputs")
            out_spec = into[1].spec
            out_specs = [out_spec]

        inplace = op.traits.inplace  # in-place ops write into an argument: its storage is reused
        bufs = None
        if device is not None and inplace is None and into is None:
            if tensors and op.is_view(
                out_specs, spec_args, n
            ):  # a free call: the first input or a view of it
                base = tensors[0][1]
                if op.returns_input(out_specs, spec_args, base.spec, multi):
                    return base
                bufs = [[ViewStorage(base) for _ in device.chips] for _ in out_specs]
            else:
                bufs = [_allocate(device, s, op.qualname) for s in out_specs]

        in_specs = {k: v for k, v in spec_args.items() if args[k] is not v}
        if op.traits.mesh_rule:
            per_dev = op.sim_rule(SimCtx(op, out_spec, in_specs, None, 0, device), **_values(args, None))
        else:
            chips = device.chips if device is not None else (None,)
            per_dev = [
                op.sim_rule(SimCtx(op, out_spec, in_specs, chip, i, device), **_values(args, i))
                for i, chip in enumerate(chips)
            ]
        # per_dev[i] is a tensor or a tuple/list of tensors; round once to the output dtype, in place when the
        # sim rule returned fresh storage (not an input's or a view of one: those must be left alone)
        outs_by_pos: list[list] = [[] for _ in out_specs]
        taken = None
        # data movement keeps values: when every input already has the output's (non-block) dtype, the values are
        # representable and rounding again is the identity (block floats re-block with a new shape: not skipped)
        keep = (
            op.group is Group.DATA_MOVEMENT
            and bool(tensors)
            and all(
                s.dtype is out_specs[0].dtype and not s.dtype.is_block_float
                for s in (t.spec for _, t in tensors)
            )
            and all(s.dtype is out_specs[0].dtype for s in out_specs)
        )
        for res in per_dev:
            res_list = list(res) if multi else [res]
            if len(res_list) != len(out_specs):
                raise TypeError(
                    f"{op.qualname}: sim rule returned {len(res_list)} outputs, spec rule {len(out_specs)}"
                )
            for j, (v, s) in enumerate(zip(res_list, out_specs)):
                if tuple(v.shape) != tuple(s.shape):
                    raise AssertionError(
                        f"{op.qualname}: sim output {j} has shape {tuple(v.shape)}, spec {s}"
                    )
                if keep:
                    outs_by_pos[j].append(v)
                    continue
                if taken is None:
                    taken = _storages(tensors)
                fresh = v._base is None and v.is_contiguous() and v.untyped_storage().data_ptr() not in taken
                out = round_to_dtype(v, s.dtype.value, inplace=fresh)
                if fresh:
                    taken.add(v.untyped_storage().data_ptr())  # two outputs must not share one result
                outs_by_pos[j].append(out)
        if device is not None and n:
            record_launches(device, op.short, n)
            record_programs(device, program_key(op.qualname, spec_args, out_specs), n, op.qualname)
            if OBSERVERS:  # a profile is active (ttfuse/profiler)
                notify_op(device, op, spec_args, out_specs, n, [t._bufs for _, t in tensors], bufs)
        if inplace is not None or into is not None:
            target = args[inplace] if into is None else into[1]
            target.spec = out_specs[0]
            target._shards = outs_by_pos[0]
            target._version += 1
            return target
        results = [
            Tensor(s, shards, device, b)
            for s, shards, b in zip(
                out_specs, outs_by_pos, bufs if bufs is not None else [None] * len(out_specs)
            )
        ]
        if op.traits.consumes is not None:
            args[op.traits.consumes]._free()
        if not multi:
            return results[0]
        return type(out_spec)(results) if isinstance(out_spec, tuple) else results


def _storages(tensors: list) -> set:
    """Data pointers of the storages of every shard of the input tensors."""
    return {sh.untyped_storage().data_ptr() for _, t in tensors for sh in t._shards}


def _values(args: dict, i: int | None) -> dict:
    """Arguments with tensors replaced by chip i's shard (or by the list of all shards when i is None)."""
    out = {}
    for k, v in args.items():
        if isinstance(v, Tensor):
            out[k] = v._shards if i is None else v._shards[i]
        elif isinstance(v, list | tuple) and v and any(isinstance(x, Tensor) for x in v):
            out[k] = type(v)(
                ((x._shards if i is None else x._shards[i]) if isinstance(x, Tensor) else x) for x in v
            )
        else:
            out[k] = v
    return out


def _allocate(device, spec: TensorSpec, op_name: str) -> list:
    """Storage for `spec` on every chip of `device` (ttfuse/sim/blocked.py allocates region outputs so too)."""
    return device.allocate(spec, op_name)
