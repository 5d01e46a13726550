"""The ttnn type surface: dtypes, layouts, memory configs, core grids, Shape and TensorSpec.

Names and fields follow real ttnn (0.81.1): `ttnn.bfloat16`, `ttnn.TILE_LAYOUT`,
`ttnn.MemoryConfig(memory_layout, buffer_type, shard_spec)`, `ttnn.CoreGrid(y=, x=)`, ...
All value types are immutable and hashable: they go into TensorSpecs, IR attributes and cache keys.
Every type has `to_json()` / `from_json()` through `ttfuse.types.to_json_value` for the IR round trip.
Conformance: tests/conformance checks every name in `__all__` (what the facade exports) against the real ttnn:
names, enum members and constructor keywords; helpers that are not ttnn API stay out of `__all__`.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field

from ttfuse.device import ELEMENT_BYTES, TILE, TILE_BYTES
from ttfuse.errors import SpecError

__all__ = [
    "DataType", "Layout", "BufferType", "TensorMemoryLayout", "ShardOrientation", "ShardStrategy", "StorageType",
    "CoreCoord", "CoreRange", "CoreRangeSet", "CoreGrid", "ShardSpec", "MemoryConfig", "Shape", "TensorSpec",
    "num_cores_to_corerangeset", "bfloat16", "float32", "uint32", "bfloat8_b", "bfloat4_b", "uint8", "uint16", "int32",
    "ROW_MAJOR_LAYOUT", "TILE_LAYOUT", "DRAM_MEMORY_CONFIG", "L1_MEMORY_CONFIG", "L1_BLOCK_SHARDED_MEMORY_CONFIG",
    "L1_HEIGHT_SHARDED_MEMORY_CONFIG", "L1_WIDTH_SHARDED_MEMORY_CONFIG", "Tile",
]  # fmt: skip


class TtnnEnum(enum.Enum):
    """An enum that prints as ttnn spells its members, `ttnn.<Enum>.<MEMBER>` (not ttnn API itself)."""

    def __repr__(self) -> str:
        return f"ttnn.{type(self).__name__}.{self.name}"


class DataType(enum.Enum):
    BFLOAT16 = "bfloat16"
    FLOAT32 = "float32"
    UINT32 = "uint32"
    BFLOAT8_B = "bfloat8_b"
    BFLOAT4_B = "bfloat4_b"
    UINT8 = "uint8"
    UINT16 = "uint16"
    INT32 = "int32"

    def __repr__(self) -> str:
        return f"ttnn.{self.value}"

    @property
    def is_block_float(self) -> bool:
        return self in (DataType.BFLOAT8_B, DataType.BFLOAT4_B)

    @property
    def is_integer(self) -> bool:
        return self in (DataType.UINT32, DataType.UINT8, DataType.UINT16, DataType.INT32)

    @property
    def short(self) -> str:
        return _SHORT[self]


_SHORT = {
    DataType.BFLOAT16: "bf16",
    DataType.FLOAT32: "f32",
    DataType.UINT32: "u32",
    DataType.BFLOAT8_B: "bfp8",
    DataType.BFLOAT4_B: "bfp4",
    DataType.UINT8: "u8",
    DataType.UINT16: "u16",
    DataType.INT32: "i32",
}

bfloat16 = DataType.BFLOAT16
float32 = DataType.FLOAT32
uint32 = DataType.UINT32
bfloat8_b = DataType.BFLOAT8_B
bfloat4_b = DataType.BFLOAT4_B
uint8 = DataType.UINT8
uint16 = DataType.UINT16
int32 = DataType.INT32


class Layout(enum.Enum):
    ROW_MAJOR = "ROW_MAJOR"
    TILE = "TILE"

    def __repr__(self) -> str:
        return f"ttnn.{self.value}_LAYOUT"


ROW_MAJOR_LAYOUT = Layout.ROW_MAJOR
TILE_LAYOUT = Layout.TILE


class BufferType(TtnnEnum):
    DRAM = "DRAM"
    L1 = "L1"
    L1_SMALL = "L1_SMALL"
    TRACE = "TRACE"


class TensorMemoryLayout(TtnnEnum):
    INTERLEAVED = "INTERLEAVED"
    HEIGHT_SHARDED = "HEIGHT_SHARDED"
    WIDTH_SHARDED = "WIDTH_SHARDED"
    BLOCK_SHARDED = "BLOCK_SHARDED"


class ShardOrientation(TtnnEnum):
    ROW_MAJOR = "ROW_MAJOR"
    COL_MAJOR = "COL_MAJOR"


class ShardStrategy(TtnnEnum):
    HEIGHT = "HEIGHT"
    WIDTH = "WIDTH"
    BLOCK = "BLOCK"


class StorageType(enum.Enum):
    HOST = "HOST"
    DEVICE = "DEVICE"


@dataclass(frozen=True, slots=True)
class CoreCoord:
    x: int
    y: int

    def __repr__(self) -> str:
        return f"ttnn.CoreCoord({self.x}, {self.y})"


@dataclass(frozen=True, slots=True)
class CoreRange:
    start: CoreCoord
    end: CoreCoord

    def __post_init__(self):
        if self.end.x < self.start.x or self.end.y < self.start.y:
            raise SpecError(f"ttnn.CoreRange: end {self.end} is before start {self.start}")

    def num_cores(self) -> int:
        return (self.end.x - self.start.x + 1) * (self.end.y - self.start.y + 1)

    @property
    def grid_size(self) -> CoreCoord:
        return CoreCoord(self.end.x - self.start.x + 1, self.end.y - self.start.y + 1)

    def __repr__(self) -> str:
        return f"ttnn.CoreRange({self.start!r}, {self.end!r})"


@dataclass(frozen=True, slots=True, init=False)
class CoreRangeSet:
    ranges: tuple[CoreRange, ...]

    def __init__(self, core_ranges=()):
        ranges = (core_ranges,) if isinstance(core_ranges, CoreRange) else core_ranges
        rs = tuple(sorted(ranges, key=lambda r: (r.start.y, r.start.x, r.end.y, r.end.x)))
        object.__setattr__(self, "ranges", rs)

    def num_cores(self) -> int:
        return sum(r.num_cores() for r in self.ranges)

    def bounding_box(self) -> CoreRange:
        return CoreRange(
            CoreCoord(min(r.start.x for r in self.ranges), min(r.start.y for r in self.ranges)),
            CoreCoord(max(r.end.x for r in self.ranges), max(r.end.y for r in self.ranges)),
        )

    def __repr__(self) -> str:
        return f"ttnn.CoreRangeSet({{{', '.join(map(repr, self.ranges))}}})"


@dataclass(frozen=True, slots=True)
class CoreGrid:
    """`ttnn.CoreGrid(y=, x=)`: keyword construction as in ttnn."""

    y: int
    x: int

    def __init__(self, *, y: int, x: int):
        object.__setattr__(self, "y", int(y))
        object.__setattr__(self, "x", int(x))

    @property
    def num_cores(self) -> int:
        return self.x * self.y

    def __repr__(self) -> str:
        return f"ttnn.CoreGrid(y={self.y}, x={self.x})"


def num_cores_to_corerangeset(
    target_num_cores: int, grid_size: CoreCoord | tuple, row_wise: bool = False
) -> CoreRangeSet:
    """`ttnn.num_cores_to_corerangeset` (default row_wise=False, as in ttnn 0.81.1)."""
    num_cores, grid = target_num_cores, grid_size
    gx, gy = (grid.x, grid.y) if isinstance(grid, CoreCoord) else grid
    if num_cores > gx * gy:
        raise SpecError(f"ttnn.num_cores_to_corerangeset: {num_cores} cores do not fit a {gx}x{gy} grid")
    ranges = []
    if row_wise:
        full, rem = divmod(num_cores, gx)
        if full:
            ranges.append(CoreRange(CoreCoord(0, 0), CoreCoord(gx - 1, full - 1)))
        if rem:
            ranges.append(CoreRange(CoreCoord(0, full), CoreCoord(rem - 1, full)))
    else:
        full, rem = divmod(num_cores, gy)
        if full:
            ranges.append(CoreRange(CoreCoord(0, 0), CoreCoord(full - 1, gy - 1)))
        if rem:
            ranges.append(CoreRange(CoreCoord(full, 0), CoreCoord(full, rem - 1)))
    return CoreRangeSet(ranges)


@dataclass(frozen=True, slots=True)
class ShardSpec:
    """`ttnn.ShardSpec(grid, shard_shape, shard_orientation)`; fields read back as .grid/.shape/.orientation."""

    grid: CoreRangeSet
    shape: tuple[int, int]
    orientation: ShardOrientation = ShardOrientation.ROW_MAJOR

    def __init__(self, grid, shard_shape, shard_orientation=ShardOrientation.ROW_MAJOR):
        if isinstance(grid, CoreRange):
            grid = CoreRangeSet([grid])
        object.__setattr__(self, "grid", grid)
        object.__setattr__(self, "shape", tuple(int(s) for s in shard_shape))
        object.__setattr__(self, "orientation", shard_orientation)

    def num_cores(self) -> int:
        return self.grid.num_cores()


@dataclass(frozen=True, slots=True)
class MemoryConfig:
    memory_layout: TensorMemoryLayout = TensorMemoryLayout.INTERLEAVED
    buffer_type: BufferType = BufferType.DRAM
    shard_spec: ShardSpec | None = None

    def is_sharded(self) -> bool:
        return self.memory_layout is not TensorMemoryLayout.INTERLEAVED

    @property
    def short(self) -> str:
        s = (
            "L1"
            if self.buffer_type is BufferType.L1
            else "DRAM"
            if self.buffer_type is BufferType.DRAM
            else self.buffer_type.value
        )
        if self.is_sharded():
            s += "/" + self.memory_layout.value.split("_")[0].lower()
            if self.shard_spec is not None:
                bb = self.shard_spec.grid.bounding_box().grid_size
                s += f"[{bb.x}x{bb.y}:{self.shard_spec.shape[0]}x{self.shard_spec.shape[1]}]"
        return s

    def __repr__(self) -> str:
        if self == DRAM_MEMORY_CONFIG:
            return "ttnn.DRAM_MEMORY_CONFIG"
        if self == L1_MEMORY_CONFIG:
            return "ttnn.L1_MEMORY_CONFIG"
        return f"ttnn.MemoryConfig({self.memory_layout!r}, {self.buffer_type!r}, {self.shard_spec!r})"


DRAM_MEMORY_CONFIG = MemoryConfig(TensorMemoryLayout.INTERLEAVED, BufferType.DRAM)
L1_MEMORY_CONFIG = MemoryConfig(TensorMemoryLayout.INTERLEAVED, BufferType.L1)
L1_BLOCK_SHARDED_MEMORY_CONFIG = MemoryConfig(TensorMemoryLayout.BLOCK_SHARDED, BufferType.L1)
L1_HEIGHT_SHARDED_MEMORY_CONFIG = MemoryConfig(TensorMemoryLayout.HEIGHT_SHARDED, BufferType.L1)
L1_WIDTH_SHARDED_MEMORY_CONFIG = MemoryConfig(TensorMemoryLayout.WIDTH_SHARDED, BufferType.L1)


# tt-metal tt_metal/impl/data_format/tile.cpp: the tile shapes the hardware has and the face each one uses
_TILE_FACES = {
    (32, 32): (16, 16),
    (32, 16): (16, 16),
    (16, 32): (16, 16),
    (16, 16): (16, 16),
    (8, 32): (8, 16),
    (4, 32): (4, 16),
    (2, 32): (2, 16),
    (1, 32): (1, 16),
}


class Tile:
    """`ttnn.Tile(tile_shape, transpose_tile=False)`: a tile shape (ttnn 0.81.1 `ttnn._ttnn.tensor.Tile`).

    Fields as the binding reads them: tile_shape, face_shape, num_faces, partial_face (height < 32), narrow_tile
    (width < 32), transpose_within_face / transpose_of_faces (both = transpose_tile); `get_tile_size(dtype)` is the
    bytes of one tile (block floats: the mantissas plus one shared exponent byte per 16 values). A shape the
    hardware lacks raises, as tt-metal's TT_FATAL "Tile size is not valid for our hardware". ttfuse's ops compute
    with 32x32 tiles; an op taking a tile (matmul's `output_tile`) says which shapes it models."""

    def __init__(self, tile_shape, transpose_tile: bool = False):
        shape = tuple(tile_shape) if isinstance(tile_shape, list | tuple) else None
        if shape is None or len(shape) != 2 or shape not in _TILE_FACES:
            raise SpecError(
                f"ttnn.Tile: argument 'tile_shape'={tile_shape!r}: tile size is not valid for the hardware "
                f"(valid: {sorted(_TILE_FACES)})"
            )
        self.tile_shape = list(shape)
        self.face_shape = list(_TILE_FACES[shape])
        self.num_faces = shape[0] * shape[1] // (self.face_shape[0] * self.face_shape[1])
        self.partial_face = int(shape[0] < TILE)
        self.narrow_tile = int(shape[1] < TILE)
        self.transpose_within_face = self.transpose_of_faces = bool(transpose_tile)

    def get_tile_size(self, dtype) -> int:
        hw = self.tile_shape[0] * self.tile_shape[1]
        name = dtype.value if isinstance(dtype, DataType) else str(dtype)
        if name in ("bfloat8_b", "bfloat4_b"):
            return hw // (1 if name == "bfloat8_b" else 2) + hw // 16
        return hw * ELEMENT_BYTES[name]

    def _key(self) -> tuple:
        return (tuple(self.tile_shape), self.transpose_of_faces)

    def __eq__(self, other) -> bool:
        return isinstance(other, Tile) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"Tile with shape: {self.tile_shape}"


class Shape(tuple):
    """`ttnn.Shape`: a tuple of ints with `.rank`; compares equal to lists and tuples of the same ints."""

    __slots__ = ()

    def __new__(cls, shape=()):
        return tuple.__new__(cls, (int(d) for d in shape))

    @property
    def rank(self) -> int:
        return len(self)

    def __eq__(self, other):
        if isinstance(other, list):
            other = tuple(other)
        return tuple.__eq__(self, other)

    def __ne__(self, other):
        return not self.__eq__(other)

    __hash__ = tuple.__hash__

    def __getitem__(self, i):
        r = tuple.__getitem__(self, i)
        return Shape(r) if isinstance(i, slice) else r

    def __repr__(self) -> str:
        return f"Shape([{', '.join(map(str, self))}])"

    def volume(self) -> int:
        return math.prod(self)


def round_up(v: int, m: int) -> int:
    return -(-v // m) * m


def padded_shape_of(shape: tuple, layout: Layout) -> Shape:
    """TILE layout pads the last two dims to multiples of 32; rank-1 tensors are one row of tiles."""
    if layout is not Layout.TILE or not shape:
        return Shape(shape)
    if len(shape) == 1:
        return Shape((round_up(shape[0], TILE),))
    return Shape((*shape[:-2], round_up(shape[-2], TILE), round_up(shape[-1], TILE)))


@dataclass(frozen=True, slots=True)
class TensorSpec:
    """The static description of a tensor value: every IR value carries one (immutable, hashable).

    `shape` is the logical shape (per device for mesh tensors); `padded_shape` derives from the layout.
    """

    shape: Shape
    dtype: DataType
    layout: Layout = Layout.TILE
    memory_config: MemoryConfig = DRAM_MEMORY_CONFIG
    _padded: Shape = field(default=None, compare=False, hash=False, repr=False)  # type: ignore[assignment]
    _hash: int = field(default=0, compare=False, hash=False, repr=False)
    # the jit's hit-path key token (ttfuse/capture/pytree.py `_walk`): every field that compares, as a plain tuple
    _key: tuple = field(default=(), compare=False, hash=False, repr=False)

    def __init__(
        self,
        shape,
        dtype: DataType,
        layout: Layout = Layout.TILE,
        memory_config=DRAM_MEMORY_CONFIG,
        shard_spec: ShardSpec | None = None,
        buffer_type: BufferType | None = None,
        tile=None,
        *,
        memory_layout: TensorMemoryLayout | None = None,
    ):
        """`TensorSpec(shape, dtype, layout, memory_config)` (ttfuse), or ttnn's constructors
        (ttnn/core/tensor/tensor_spec.cpp, nanobind `TensorSpec.__init__` of ttnn 0.81.1):
        `TensorSpec(shape, dtype, layout, buffer_type=BufferType.DRAM, tile=None)` (interleaved) and
        `TensorSpec(shape, dtype, layout, memory_layout, shard_spec=None, buffer_type=DRAM, tile=None)`: the 4th
        argument (or `memory_config=` / `buffer_type=` / `memory_layout=`) may be a MemoryConfig, a BufferType
        or a TensorMemoryLayout."""
        mc = memory_config
        if type(mc) is not MemoryConfig or not (buffer_type is memory_layout is shard_spec is tile is None):
            mc = _spec_memory_config(mc, shard_spec, buffer_type, memory_layout, tile)
        object.__setattr__(self, "shape", shape if isinstance(shape, Shape) else Shape(shape))
        object.__setattr__(self, "dtype", dtype)
        object.__setattr__(self, "layout", layout)
        object.__setattr__(self, "memory_config", mc)
        object.__setattr__(self, "_padded", padded_shape_of(self.shape, layout))
        # NOTE: specs are hashed on every jit call and in every pass: compute the hash once
        object.__setattr__(self, "_hash", hash((self.shape, dtype, layout, mc)))
        # NOTE: built once here, not on every jit call (the hit path keys ~50 tensors of a model layer per call);
        # enum values, not members: an Enum's __hash__/__eq__ run in Python
        v = getattr
        key = (tuple(self.shape), v(dtype, "_value_", dtype), v(layout, "_value_", layout))
        mem = (v(mc.memory_layout, "_value_", mc.memory_layout), v(mc.buffer_type, "_value_", mc.buffer_type))
        object.__setattr__(self, "_key", (*key, *mem, mc.shard_spec))

    def __hash__(self) -> int:
        return self._hash

    @property
    def padded_shape(self) -> Shape:
        return self._padded

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        """Bytes the tensor occupies on device (padded tiles for TILE, packed rows for ROW_MAJOR)."""
        return tensor_bytes(self.shape, self.dtype, self.layout)

    @property
    def buffer_type(self) -> BufferType:
        return self.memory_config.buffer_type

    def _physical_2d(self) -> tuple[int, int]:
        """ttnn's physical 2-D shape: the padded shape with leading dims folded into the height."""
        p = self.padded_shape
        if not p:
            return 1, 1
        return math.prod(p[:-1]), p[-1]

    def _sharded(self, strategy: TensorMemoryLayout, grid, shard: tuple[int, int], orientation) -> TensorSpec:
        if self.layout is Layout.TILE:  # shard shapes align up to whole tiles (ShardShapeAlignment)
            shard = (round_up(shard[0], TILE), round_up(shard[1], TILE))
        if isinstance(grid, CoreRange):
            grid = CoreRangeSet([grid])
        mc = MemoryConfig(strategy, self.buffer_type, ShardSpec(grid, shard, orientation))
        return self.replace(memory_config=mc)

    def block_sharded(self, grid, orientation: ShardOrientation = ShardOrientation.ROW_MAJOR) -> TensorSpec:
        """`TensorSpec.block_sharded(grid, orientation)`: the physical 2-D shape split into contiguous blocks over
        the grid's rectangle, the shard height over its rows and width over its columns (ROW_MAJOR; the other way
        for COL_MAJOR), tile aligned (tt-metal ttnn/core/tensor/tensor_spec.cpp, `TensorSpec::block_sharded`)."""
        rect = grid if isinstance(grid, CoreRange) else _one_rectangle("TensorSpec.block_sharded", grid)
        g = rect.grid_size
        rows, cols = (g.y, g.x) if orientation is ShardOrientation.ROW_MAJOR else (g.x, g.y)
        h, w = self._physical_2d()
        return self._sharded(
            TensorMemoryLayout.BLOCK_SHARDED, rect, (-(-h // rows), -(-w // cols)), orientation
        )

    def height_sharded(self, grid, orientation: ShardOrientation = ShardOrientation.ROW_MAJOR) -> TensorSpec:
        """`TensorSpec.height_sharded(grid, orientation)`: the physical height split over the grid's cores
        (tt-metal ttnn/core/tensor/tensor_spec.cpp, `TensorSpec::height_sharded`)."""
        grid = CoreRangeSet([grid]) if isinstance(grid, CoreRange) else grid
        h, w = self._physical_2d()
        return self._sharded(
            TensorMemoryLayout.HEIGHT_SHARDED, grid, (-(-h // grid.num_cores()), w), orientation
        )

    def width_sharded(self, grid, orientation: ShardOrientation = ShardOrientation.ROW_MAJOR) -> TensorSpec:
        """`TensorSpec.width_sharded(grid, orientation)`: the physical width split over the grid's cores
        (tt-metal ttnn/core/tensor/tensor_spec.cpp, `TensorSpec::width_sharded`)."""
        grid = CoreRangeSet([grid]) if isinstance(grid, CoreRange) else grid
        h, w = self._physical_2d()
        return self._sharded(
            TensorMemoryLayout.WIDTH_SHARDED, grid, (h, -(-w // grid.num_cores())), orientation
        )

    def replace(self, **kw) -> TensorSpec:
        d = {
            "shape": self.shape,
            "dtype": self.dtype,
            "layout": self.layout,
            "memory_config": self.memory_config,
        }
        d.update(kw)
        return TensorSpec(**d)

    def __str__(self) -> str:
        lay = "" if self.layout is Layout.TILE else "rm"
        return f"{self.dtype.short}[{','.join(map(str, self.shape))}]{lay}@{self.memory_config.short}"


def _one_rectangle(op: str, grid) -> CoreRange:
    if not isinstance(grid, CoreRangeSet) or len(grid.ranges) != 1:
        raise SpecError(f"ttnn.{op}: argument 'grid' must be one rectangular CoreRange, got {grid!r}")
    return grid.ranges[0]


def _spec_memory_config(mc, shard_spec, buffer_type, memory_layout, tile) -> MemoryConfig:
    """The MemoryConfig of ttnn's TensorSpec constructor arguments (see TensorSpec.__init__)."""
    if isinstance(mc, BufferType):  # ttnn's first overload: (shape, dtype, layout, buffer_type, tile)
        if shard_spec is not None and not isinstance(shard_spec, ShardSpec) and tile is None:
            shard_spec, tile = None, shard_spec  # its 5th positional argument is the tile
        mc, buffer_type = None, mc if buffer_type is None else buffer_type
    elif isinstance(
        mc, TensorMemoryLayout
    ):  # the second: (..., memory_layout, shard_spec, buffer_type, tile)
        mc, memory_layout = None, mc
    elif mc is DRAM_MEMORY_CONFIG and (buffer_type is not None or memory_layout is not None):
        mc = None  # the default, with ttnn's keywords
    elif not isinstance(mc, MemoryConfig):
        raise SpecError(
            "ttnn.TensorSpec: argument 'memory_config' must be a ttnn.MemoryConfig (or a BufferType / "
            f"TensorMemoryLayout as in ttnn's constructors), got {mc!r}"
        )
    if tile is not None and tuple(getattr(tile, "tile_shape", (TILE, TILE))) != (TILE, TILE):
        raise SpecError(f"ttnn.TensorSpec: argument 'tile': only 32x32 tiles are simulated, got {tile!r}")
    if mc is not None:
        if buffer_type is not None or memory_layout is not None or shard_spec is not None:
            raise SpecError(
                "ttnn.TensorSpec: pass either memory_config or buffer_type/memory_layout/shard_spec"
            )
        return mc
    return MemoryConfig(
        memory_layout or TensorMemoryLayout.INTERLEAVED, buffer_type or BufferType.DRAM, shard_spec
    )


def tensor_bytes(shape: tuple, dtype: DataType, layout: Layout) -> int:
    if layout is Layout.TILE:
        p = padded_shape_of(shape, layout)
        h = p[-2] if len(p) >= 2 else TILE
        tiles = math.prod(p[:-2]) * (h // TILE) * (p[-1] // TILE) if p else 1
        return tiles * TILE_BYTES[dtype.value]
    return math.prod(shape) * ELEMENT_BYTES[dtype.value]


# --------------------------------------------------------------------------------------------- JSON round trip
_ENUMS = {
    c.__name__: c for c in (DataType, Layout, BufferType, TensorMemoryLayout, ShardOrientation, ShardStrategy)
}
# Registries of other modules (ttfuse/configs.py: configs and the enums ops register), as (enums, classes) by
# name: registered by reference, so what they add later is seen. This module's own names win.
_REGISTRIES: list[tuple[dict[str, type], dict[str, type]]] = []


def register_json_types(enums: dict[str, type], classes: dict[str, type]) -> None:
    """Let `to_json_value` / `from_json_value` encode and decode these enums and classes by name (the dicts are
    kept, not copied: later additions count)."""
    if not any(e is enums and c is classes for e, c in _REGISTRIES):
        _REGISTRIES.append((enums, classes))


def _registered(name: str, own: dict, which: int):
    """The enum (which=0) or class (which=1) registered under `name`: ours first, then each registry's."""
    cls = own.get(name)
    if cls is None:
        for reg in _REGISTRIES:
            cls = reg[which].get(name)
            if cls is not None:
                break
    return cls


def _registered_enum(name: str):
    return _registered(name, _ENUMS, 0)


def _registered_class(name: str):
    return _registered(name, _DATACLASSES, 1)


def to_json_value(v):
    """Encode a static value (enums, configs, coords, specs, tuples) as JSON data; inverse `from_json_value`."""
    if isinstance(v, enum.Enum):  # NOTE: before the scalar case: IntEnum members (ThrottleLevel) are ints too
        name = type(v).__name__
        if _registered_enum(name) is not type(v):  # must decode to the same class
            raise TypeError(f"enum {name} is not registered for JSON (ttfuse.configs.register_enum)")
        return {"$enum": name, "v": v.name}
    if v is None or isinstance(v, bool | int | float | str):
        if isinstance(v, float) and not math.isfinite(v):
            return {"$float": repr(v)}
        return v
    if isinstance(v, tuple | list):
        return {
            "$" + type(v).__name__ if type(v) in (tuple, list, Shape) else "$tuple": [
                to_json_value(x) for x in v
            ]
        }
    if isinstance(v, dict):
        return {"$dict": [[to_json_value(k), to_json_value(x)] for k, x in v.items()]}
    name = type(v).__name__
    if _registered_class(name) is not None:
        fields = {f: to_json_value(getattr(v, f)) for f in _fields_of(v)}
        return {"$obj": name, "f": fields}
    raise TypeError(f"cannot encode {type(v).__name__} value {v!r} as JSON")


def from_json_value(d):
    if not isinstance(d, dict):
        return d
    if "$float" in d:
        return float(d["$float"])
    if "$enum" in d:
        return _registered_enum(d["$enum"])[d["v"]]
    if "$tuple" in d:
        return tuple(from_json_value(x) for x in d["$tuple"])
    if "$Shape" in d:
        return Shape(d["$Shape"])
    if "$list" in d:
        return [from_json_value(x) for x in d["$list"]]
    if "$dict" in d:
        return {from_json_value(k): from_json_value(x) for k, x in d["$dict"]}
    if "$obj" in d:
        cls = _registered_class(d["$obj"])
        if cls is None:
            raise KeyError(d["$obj"])
        kw = {k: from_json_value(x) for k, x in d["f"].items()}
        return _construct(cls, kw)
    raise ValueError(f"bad JSON value {d!r}")


def _fields_of(v) -> list[str]:
    return fields_of_class(type(v))


def fields_of_class(cls: type) -> list[str]:
    """The field names `to_json_value` writes for an instance of a registered class (`$obj`'s "f" keys)."""
    if issubclass(cls, TensorSpec):
        return ["shape", "dtype", "layout", "memory_config"]
    if issubclass(cls, ShardSpec):
        return ["grid", "shape", "orientation"]
    return [f for f in cls.__dataclass_fields__ if not f.startswith("_")]


def _construct(cls, kw):
    if cls is ShardSpec:
        return ShardSpec(kw["grid"], kw["shape"], kw["orientation"])
    if cls is CoreRangeSet:
        return CoreRangeSet(kw["ranges"])
    return cls(**kw)


_DATACLASSES = {
    c.__name__: c for c in (CoreCoord, CoreRange, CoreRangeSet, CoreGrid, ShardSpec, MemoryConfig, TensorSpec)
}
