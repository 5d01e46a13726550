"""The simulated device: chips with DRAM/L1 allocators and launch counters, grouped into mesh devices.

`ttnn.open_device()` returns a 1x1 `MeshDevice` (as current ttnn does); `ttnn.open_mesh_device(MeshShape(r, c))`
an r x c one. Submeshes share their parent's chips. Each chip (`SimChip`) owns an allocator for DRAM and L1:
capacities come from the DeviceSpec (L1 = usable L1 per core x compute-grid cores; the firmware region is
already excluded from the per-core figure, see ttfuse/device.py). Running out raises OutOfMemoryError naming the
op, the memory, the bytes asked and the bytes free. Peaks are tracked until `reset_peak()`.

The device API follows ttnn 0.81.1's `ttnn.MeshDevice` (tests/conformance/test_device_vs_ttnn.py checks which members
are properties: `shape`, `core_grid`): `id()`, `arch()`, `compute_with_storage_grid_size()`, `dram_grid_size()`,
submeshes, and a program cache with real counts (`ProgramCache`: every launch of an eager op or of jit-generated
code is a program keyed by op, input/output specs and arguments; `num_program_cache_entries()`).

Invariant: every live device tensor holds one Allocation per chip; freeing is idempotent.
"""

from __future__ import annotations

import itertools

from ttfuse.backend import OBSERVERS, PROGRAM_FAMILY, Device
from ttfuse.device import Arch, DeviceSpec, device_spec
from ttfuse.errors import DeviceError, OutOfMemoryError
from ttfuse.mesh import MeshShape
from ttfuse.sim.host_memory import tune_host_allocator
from ttfuse.types import BufferType, CoreCoord, CoreGrid, TensorSpec

__all__ = [
    "Arch",
    "MeshShape",
    "MeshDevice",
    "SimChip",
    "Allocation",
    "open_mesh",
    "memory_report",
    "count_launches",
    "record_launches",
    "record_programs",
    "program_key",
    "ProgramCache",
]  # Arch and MeshShape: core types, re-exported for sim users


class Allocation:
    __slots__ = ("chip", "kind", "nbytes", "live")

    def __init__(self, chip: SimChip, kind: str, nbytes: int):
        self.chip, self.kind, self.nbytes, self.live = chip, kind, nbytes, True

    def free(self) -> None:
        if self.live:
            self.live = False
            self.chip._release(self)
            if OBSERVERS:
                for o in OBSERVERS:
                    o.on_free(self)


class SimChip:
    """One simulated chip: DRAM and L1 accounting, peaks, active launch counters."""

    def __init__(self, chip_id: int, spec: DeviceSpec):
        self.id = chip_id
        self.spec = spec
        self.capacity = {"DRAM": spec.dram_bytes, "L1": spec.l1_bytes}
        self.used = {"DRAM": 0, "L1": 0}
        self.peak = {"DRAM": 0, "L1": 0}
        self.counters: list = []

    def allocate(
        self, nbytes: int, buffer_type: BufferType, op_name: str, per_core: int | None = None
    ) -> Allocation:
        kind = "L1" if buffer_type in (BufferType.L1, BufferType.L1_SMALL) else "DRAM"
        free = self.capacity[kind] - self.used[kind]
        if nbytes > free:
            raise OutOfMemoryError(
                f"{op_name}: out of {kind} memory on device {self.id} ({self.spec.name}): asked {nbytes:,} B, "
                f"{free:,} B free of {self.capacity[kind]:,} B"
            )
        if per_core is not None and per_core > self.spec.l1_per_core:
            raise OutOfMemoryError(
                f"{op_name}: L1 shard of {per_core:,} B per core exceeds the {self.spec.l1_per_core:,} B of L1 per core "
                f"on device {self.id}"
            )
        self.used[kind] += nbytes
        if self.used[kind] > self.peak[kind]:
            self.peak[kind] = self.used[kind]
        a = Allocation(self, kind, nbytes)
        if OBSERVERS:
            for o in OBSERVERS:
                o.on_alloc(a, buffer_type)
        return a

    def _release(self, a: Allocation) -> None:
        self.used[a.kind] -= a.nbytes

    def reset_peak(self) -> None:
        self.peak = dict(self.used)


_ids = itertools.count()


class DeviceId(int):
    """A device's id: an int (ttfuse's messages and keys read `device.id`) that is also callable, as ttnn's
    `MeshDevice.id()` method is (ttnn 0.81.1: `def id(self) -> int`)."""

    __slots__ = ()

    def __call__(self) -> int:
        return int(self)


class ProgramCache:
    """A device's program cache, as ttnn keeps one per (mesh) device: one entry per distinct program.

    ttnn hashes a device operation by its type, its attributes and its tensor arguments' specs, never their data
    (ttnn/api/ttnn/device_operation.hpp `compute_program_hash`); here a program's key is the op, which of its
    launches it is, the input TensorSpecs and the other arguments (`program_key`). So running an op again with the
    same specs and arguments hits; another shape, dtype, memory or program config adds an entry. It is enabled
    when a device opens (tt-metal enables it by default since PR #24210); `disable_and_clear_program_cache()`
    empties and disables it. With misses forbidden (`set_program_cache_misses_allowed(False)`) a miss raises, as
    ttnn's "Program cache miss occurred, but cache misses are forbidden".
    """

    __slots__ = ("enabled", "entries", "misses_allowed", "hits", "misses")

    def __init__(self):
        self.enabled = True
        self.entries: set = set()
        self.misses_allowed = True
        self.hits = 0
        self.misses = 0

    def record(self, key, n: int, op_name: str) -> None:
        """Run `n` programs of one op call keyed by `key` (the launch index completes the key of launches > 0)."""
        if not self.enabled:
            if not self.misses_allowed:
                raise DeviceError(f"{op_name}: program cache is disabled, but cache misses are forbidden")
            return
        entries = self.entries
        for i in range(n):
            k = key if i == 0 else (key, i)  # launch i > 0 of the op: its own program
            if not self.misses_allowed and k not in entries:
                raise DeviceError(f"{op_name}: program cache miss occurred, but cache misses are forbidden")
            before = len(entries)
            entries.add(k)  # one hash of the key: a hit leaves the set as it was
            if len(entries) == before:
                self.hits += 1
            else:
                self.misses += 1

    def clear(self) -> None:
        self.entries.clear()


def _frozen(v):
    """`v` as a hashable value: sequences (list, tuple, the IR's frozen lists) become tagged tuples, dicts sorted
    item tuples, other unhashable values their type and repr."""
    if isinstance(v, list | tuple):
        return ("seq", tuple(_frozen(x) for x in v))
    if isinstance(v, dict):
        return ("dict", tuple(sorted((str(k), _frozen(x)) for k, x in v.items())))
    try:
        hash(v)
    except TypeError:
        return (type(v).__qualname__, repr(v))
    return v


# arguments a program's output specs already say (ttnn resolves them into the output spec it hashes)
_RESOLVED = frozenset({"device", "memory_config", "dtype"})
# argument types hashable as they are (the common case: no _frozen call)
_ATOMS = frozenset({TensorSpec, bool, int, float, str})


def program_key(op_name: str, spec_args: dict, out_specs) -> tuple:
    """The program-cache key of one op call: its name, its output specs and its arguments with tensors as their
    TensorSpecs (`spec_args`, as the spec rule sees them), the same for an eager call and for the node of
    jit-generated code that makes it. `memory_config=None` and the memory config it resolves to are one program,
    as in ttnn (the output spec carries them); configs are frozen dataclasses (keyed by value); the device is not
    part of the key (each device has its own cache)."""
    # NOTE: on every eager op call: a plain loop, `_frozen` only for the rare sequence or unhashable argument
    args = []
    for k, v in spec_args.items():
        if k in _RESOLVED:
            continue
        if v is not None and type(v) not in _ATOMS:
            v = _frozen(v)
        args.append((k, v))
    family = PROGRAM_FAMILY[0]  # ttfuse/backend.py: e.g. ttnn-jit's generic_op programs
    return (op_name if family is None else (family, op_name), tuple(out_specs), tuple(args))


def record_programs(device: MeshDevice, key, n: int, op_name: str) -> None:
    """Run `n` programs of one op call on `device` through its program cache (eager and jit-generated code)."""
    device.program_cache.record(key, n, op_name)


class MeshDevice(Device):
    """A simulated (mesh) device (ttfuse.backend.Device). A single device is a 1x1 mesh, as in current ttnn."""

    def __init__(self, shape: MeshShape, spec: DeviceSpec, chips: list[SimChip] | None = None, parent=None):
        self.id = DeviceId(next(_ids))
        self._shape = shape
        self._spec = spec
        self.chips = chips if chips is not None else [SimChip(i, spec) for i in range(shape.num_devices())]
        self.parent = parent
        self.submeshes: list[MeshDevice] = []
        self.is_open = True
        self.program_cache = ProgramCache()

    # ttnn API
    @property
    def shape(self) -> MeshShape:
        return self._shape

    def get_num_devices(self) -> int:
        return len(self.chips)

    def get_device_ids(self) -> list[int]:
        return [c.id for c in self.chips]

    def arch(self) -> Arch:
        return Arch(self._spec.arch)

    def get_device_id(self, coord) -> int:
        """The chip id at mesh coordinate `coord` (indexable as (row, col), like ttnn.MeshCoordinate)."""
        r, c = coord[0], coord[1]
        if not (0 <= r < self._shape.rows and 0 <= c < self._shape.cols):
            raise DeviceError(f"MeshDevice.get_device_id: {coord!r} is outside the {self._shape} mesh")
        return self.chips[r * self._shape.cols + c].id

    def compute_with_storage_grid_size(self) -> CoreCoord:
        return CoreCoord(*self._spec.grid)

    @property
    def core_grid(self) -> CoreGrid:
        """The compute grid as a ttnn.CoreGrid (a property in ttnn 0.81.1, not a method)."""
        return CoreGrid(y=self._spec.grid[1], x=self._spec.grid[0])

    def dram_grid_size(self) -> CoreCoord:
        """(DRAM views, 1), as tt-metal's `metal_SocDescriptor::get_dram_grid_size` (tt_metal/llrt/
        metal_soc_descriptor.cpp): 12 on Wormhole, 8 on a p150, 7 on a p100 (one bank harvested)."""
        return CoreCoord(self._spec.dram_banks, 1)

    # program cache (ttnn 0.81.1: device methods; see ProgramCache)
    def enable_program_cache(self) -> None:
        self.program_cache.enabled = True

    def disable_and_clear_program_cache(self) -> None:
        self.program_cache.enabled = False
        self.program_cache.clear()

    def clear_program_cache(self) -> None:
        self.program_cache.clear()

    def num_program_cache_entries(self) -> int:
        return len(self.program_cache.entries)

    def set_program_cache_misses_allowed(self, allowed: bool, /) -> None:
        self.program_cache.misses_allowed = bool(allowed)

    def get_submeshes(self) -> list[MeshDevice]:
        return list(self.submeshes)

    def quiesce_devices(self) -> None:
        """Eager sim ops finish when they return; nothing to wait for."""

    def create_submeshes(self, submesh_shape: MeshShape) -> list[MeshDevice]:
        r, c = submesh_shape.rows, submesh_shape.cols
        if self._shape.rows % r or self._shape.cols % c:
            raise DeviceError(f"create_submeshes: {submesh_shape} does not tile the {self._shape} mesh")
        subs = []
        for i0 in range(0, self._shape.rows, r):
            for j0 in range(0, self._shape.cols, c):
                chips = [
                    self.chips[(i0 + i) * self._shape.cols + (j0 + j)] for i in range(r) for j in range(c)
                ]
                subs.append(MeshDevice(MeshShape(r, c), self._spec, chips, parent=self))
        self.submeshes.extend(subs)
        return subs

    def create_submesh(self, submesh_shape: MeshShape, offset=None) -> MeshDevice:
        oi, oj = (offset or (0, 0))[0], (offset or (0, 0))[1]
        r, c = submesh_shape.rows, submesh_shape.cols
        chips = [self.chips[(oi + i) * self._shape.cols + (oj + j)] for i in range(r) for j in range(c)]
        sub = MeshDevice(MeshShape(r, c), self._spec, chips, parent=self)
        self.submeshes.append(sub)
        return sub

    # ttfuse extensions
    @property
    def spec(self) -> DeviceSpec:
        return self._spec

    def check_open(self, op_name: str) -> None:
        if not self.is_open:
            raise DeviceError(f"{op_name}: device {self.id} is closed")

    def close(self) -> None:
        self.is_open = False

    def allocate(self, spec: TensorSpec, op_name: str) -> list[Allocation]:
        """One Allocation per chip for a tensor of `spec` (a sharded L1 tensor is also checked per core)."""
        mc = spec.memory_config
        nbytes = spec.nbytes
        per_core = None
        if mc.buffer_type is BufferType.L1 and mc.is_sharded() and mc.shard_spec is not None:
            cores = mc.shard_spec.num_cores()
            per_core = -(-nbytes // max(cores, 1))
        return [chip.allocate(nbytes, mc.buffer_type, op_name, per_core) for chip in self.chips]

    def __repr__(self) -> str:
        return f"MeshDevice(id={self.id}, shape={self._shape.rows}x{self._shape.cols}, {self._spec.name})"


def open_mesh(shape: MeshShape, arch: str | None = None) -> MeshDevice:
    tune_host_allocator()  # once per process: large sim tensors reuse heap memory (host_memory.py)
    return MeshDevice(shape, device_spec(arch))


# ---------------------------------------------------------------------------------------------- observability
def _chips_max(what: str, kind: str) -> property:
    """A MemoryReport property: the largest `chip.<what>[kind]` (used or peak bytes) over the mesh's chips."""

    def get(self: MemoryReport) -> int:
        return max(getattr(c, what)[kind] for c in self._device.chips)

    return property(get)


class MemoryReport:
    """`ttfuse.sim.memory_report(device)`: current and peak DRAM/L1 bytes (the maximum over the mesh's chips)."""

    def __init__(self, device: MeshDevice):
        self._device = device

    l1_bytes = _chips_max("used", "L1")
    dram_bytes = _chips_max("used", "DRAM")
    peak_l1_bytes = _chips_max("peak", "L1")
    peak_dram_bytes = _chips_max("peak", "DRAM")

    @property
    def l1_capacity(self) -> int:
        return self._device.spec.l1_bytes

    @property
    def per_device(self) -> list[dict]:
        return [
            {
                "id": c.id,
                "l1": c.used["L1"],
                "dram": c.used["DRAM"],
                "peak_l1": c.peak["L1"],
                "peak_dram": c.peak["DRAM"],
            }
            for c in self._device.chips
        ]

    def reset_peak(self) -> None:
        for c in self._device.chips:
            c.reset_peak()

    def __repr__(self) -> str:
        return (
            f"MemoryReport(l1={self.l1_bytes:,}, peak_l1={self.peak_l1_bytes:,}, dram={self.dram_bytes:,}, "
            f"peak_dram={self.peak_dram_bytes:,})"
        )


def memory_report(device: MeshDevice) -> MemoryReport:
    return MemoryReport(device)


class LaunchCounter:
    """Counts device kernel launches: `.total` and `.by_op` (op name -> count)."""

    def __init__(self, device: MeshDevice):
        self.device = device
        self.total = 0
        self.by_op: dict[str, int] = {}

    def record(self, name: str, n: int = 1) -> None:
        self.total += n
        self.by_op[name] = self.by_op.get(name, 0) + n

    def __enter__(self) -> LaunchCounter:
        for c in self.device.chips:
            c.counters.append(self)
        return self

    def __exit__(self, *exc) -> None:
        for c in self.device.chips:
            c.counters.remove(self)

    def __repr__(self) -> str:
        return f"LaunchCounter(total={self.total}, by_op={self.by_op})"


def count_launches(device: MeshDevice) -> LaunchCounter:
    return LaunchCounter(device)


def record_launches(device: MeshDevice, name: str, n: int) -> None:
    """Count one mesh-wide launch of `name` on every counter watching any chip of `device` (once each)."""
    chips = device.chips
    if len(chips) == 1:
        for ctr in chips[0].counters:
            ctr.record(name, n)
        return
    seen = set()
    for c in chips:
        for ctr in c.counters:
            if id(ctr) not in seen:
                seen.add(id(ctr))
                ctr.record(name, n)
