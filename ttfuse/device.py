"""DeviceSpec: the table of Tenstorrent devices ttfuse targets, and how a sim device's kind is chosen.

Every figure the passes and the cost model use comes from here, never from a literal in a pass.
Sources are ../shared/ref/ttnn.md section 4 (hardware facts) unless a comment says otherwise.

A device kind is named `arch[:board[:grid]]`, e.g. `wormhole_b0` (n150, 8x8), `wormhole_b0:n300`, `blackhole`
(= `blackhole:p150:13x10`, the 140-core p150), `blackhole:p150:11x10` (a p150 on firmware >= v19.5.0),
`blackhole:p100`. `TTFUSE_ARCH` selects the kind of a simulated device when it is opened.
Add a device by adding a DeviceSpec to `_SPECS` (and a default board to `_DEFAULT_BOARD`).
"""

from __future__ import annotations

import contextlib
import enum
import os
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from ttfuse.errors import DeviceError

# Bytes per 32x32 tile by dtype name (tt-llk format_tile_sizes, ref/ttnn.md s4).
TILE_BYTES: dict[str, int] = {
    "float32": 4096,
    "bfloat16": 2048,
    "bfloat8_b": 1088,
    "bfloat4_b": 576,
    "int32": 4096,
    "uint32": 4096,
    "uint16": 2048,
    "uint8": 1024,
}
# Bytes per element in ROW_MAJOR layout (block floats are TILE-only).
ELEMENT_BYTES: dict[str, int] = {
    "float32": 4,
    "bfloat16": 2,
    "int32": 4,
    "uint32": 4,
    "uint16": 2,
    "uint8": 1,
}

TILE = 32
# Matrix engine: 8x16 @ 16x16 per cycle = 2048 MAC = 4096 FLOP/cycle/core at LoFi (matrix_engine.md).
FLOP_PER_CYCLE_LOFI = 4096
# Phases per math fidelity: each phase consumes another mantissa slice (ref/ttnn.md s4).
FIDELITY_PHASES = {"LoFi": 1, "HiFi2": 2, "HiFi3": 3, "HiFi4": 4}


class Arch(enum.Enum):
    """`ttnn.device.Arch`: what `device.arch()` returns (the values are DeviceSpec.arch names)."""

    WORMHOLE_B0 = "wormhole_b0"
    BLACKHOLE = "blackhole"

    def __repr__(self) -> str:
        return f"ttnn.device.Arch.{self.name}"


@dataclass(frozen=True)
class DeviceSpec:
    """One chip kind (per-chip figures; `num_chips` > 1 for boards like n300)."""

    name: str  # "wormhole_b0:n150"
    arch: str  # "wormhole_b0" | "blackhole"
    board: str  # "n150", "n300", "p100", "p150"
    grid: tuple[int, int]  # compute_with_storage_grid_size (x, y)
    die_grid: tuple[int, int]  # Tensix cores on die (x, y)
    l1_per_core: int  # bytes usable by buffers + circular buffers per core
    dram_banks: int
    dram_bytes: int  # per chip
    dram_gbps: float  # achievable DRAM bandwidth, GB/s
    dram_peak_gbps: float
    clock_ghz: float
    num_chips: int = 1
    noc_word_bytes: int = 32
    dst_tiles_full: int = 16  # DST register tiles with dst_full_sync_en and 16-bit data
    eth_link_gbps: float = 12.5  # per ethernet link, one direction (100 Gb/s)
    launch_overhead_us: float = 4.5  # host+dispatch cost per kernel launch (3-6k cycles, tt-metal #12074)
    max_cb_inputs: int = 32  # circular buffers per fused kernel (ttnn-jit D2M limit)
    notes: tuple[str, ...] = field(default=(), compare=False)

    @property
    def num_cores(self) -> int:
        return self.grid[0] * self.grid[1]

    @property
    def l1_bytes(self) -> int:
        """L1 the allocator may hand out on one chip: usable L1 per core over the compute grid."""
        return self.l1_per_core * self.num_cores

    def dst_tiles(self, fp32_dest_acc_en: bool = False, dst_full_sync_en: bool = False) -> int:
        """DST register budget in tiles: 16 full, 8 half-sync (default), halved again by fp32 accumulation."""
        n = self.dst_tiles_full if dst_full_sync_en else self.dst_tiles_full // 2
        return n // 2 if fp32_dest_acc_en else n

    def matmul_tflops(self, fidelity: str = "HiFi2", cores: int | None = None) -> float:
        """Peak matmul TFLOP/s of `cores` cores (default the whole grid) at a math fidelity."""
        cores = self.num_cores if cores is None else cores
        return FLOP_PER_CYCLE_LOFI * self.clock_ghz * 1e9 * cores / FIDELITY_PHASES[fidelity] / 1e12

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "arch": self.arch,
            "board": self.board,
            "grid": list(self.grid),
            "l1_per_core": self.l1_per_core,
            "dram_bytes": self.dram_bytes,
            "num_chips": self.num_chips,
        }

    def key_fields(self) -> tuple:
        """What identifies a device for the compile cache (arch, board, grid, L1, chips)."""
        return (self.arch, self.board, self.grid, self.l1_per_core, self.dram_bytes, self.num_chips)


_GIB = 1024**3
# Per-core L1 and per-bank DRAM from tt-metal's SoC descriptors (tt_metal/soc_descriptors/wormhole_b0_80_arch.yaml
# and blackhole_140_arch.yaml): `worker_l1_size: 1499136` on both (the "max L1 size" in CB-overflow errors) and
# `dram_bank_size` 1073741824 (Wormhole: 12 views of 1 GiB, two per GDDR6 channel) / 4278190080 (Blackhole: 8).
_L1 = 1_499_136
_WH_DRAM_BANK = 1_073_741_824
_BH_DRAM_BANK = 4_278_190_080

# Compute grids (`compute_with_storage_grid_size` with the default dispatch config):
# - the default dispatch config is ttnn/cpp/ttnn/device.cpp `create_cluster_aware_dispatch_config`: Tensix (WORKER)
#   dispatch cores on a ROW, except on N300/T3K clusters (ETH dispatch) and on Blackhole (a COL of Tensix cores);
# - the expected harvesting per board is tt-umd's `expected_tensix_harvested_units_map`
#   (device/api/umd/device/types/cluster_descriptor_types.hpp): n150 1 row, n300 2 rows, p100 2 columns,
#   p150 2 columns with firmware >= v19.5.0 (tt-umd PR #1942; 0 before);
# - tt_metal/core_descriptors/*.yaml then give the grid: wormhole_b0_80_arch.yaml `nebula_x1` (n150) 8x8 (8x10 die,
#   1 row harvested, 1 row of dispatch cores); wormhole_b0_80_arch_eth_dispatch.yaml `nebula_x2` (n300) 8x8 (2 rows
#   harvested, dispatch on ethernet cores); blackhole_140_arch.yaml `unharvested` 13x10 (14x10 die minus the
#   dispatch column) and `2xharvested` 11x10.
# tech_reports/Blackhole/BlackholeBringUpProgrammingGuide.md: 11x10 since firmware v19.5.0, "before v19.5.0 this
# was 13x10". tt-boltz and TT-DiT were run on the 140-core p150 (`ttnn.CoreGrid(x=13, y=10)`): that is `blackhole`.
_N150 = DeviceSpec(
    name="wormhole_b0:n150",
    arch="wormhole_b0",
    board="n150",
    grid=(8, 8),
    die_grid=(8, 10),
    l1_per_core=_L1,
    dram_banks=12,
    dram_bytes=12 * _WH_DRAM_BANK,
    dram_gbps=267.0,  # measured @12 Gbps (Saturating_DRAM_bandwidth.md)
    dram_peak_gbps=288.0,
    clock_ghz=1.0,
    notes=("8x8 compute grid: one row harvested, one row of dispatch cores",),
)
_P150 = DeviceSpec(
    name="blackhole:p150:13x10",
    arch="blackhole",
    board="p150",
    grid=(13, 10),
    die_grid=(14, 10),
    l1_per_core=_L1,
    dram_banks=8,
    dram_bytes=8 * _BH_DRAM_BANK,
    dram_gbps=500.0,  # bank-adjacent readers (Saturating_DRAM_bandwidth_Blackhole.md)
    dram_peak_gbps=512.0,
    clock_ghz=1.35,
    noc_word_bytes=64,
    # tt-metal tech_reports/CCLs/results/SUMMARY_blackhole_bfloat16_8192.md: "line rate 25.0 GB/s per link per
    # direction" (Wormhole's SUMMARY_wormhole_b0_bfloat16_6144.md: 12.5, the default)
    eth_link_gbps=25.0,
    notes=(
        "140 Tensix cores (firmware < v19.5.0, as tt-boltz and TT-DiT ran): 14x10 minus the dispatch column",
    ),
)
# NOTE: the other boards differ from these two only in the fields `replace` names.
_SPECS: dict[str, DeviceSpec] = {
    spec.name: spec
    for spec in (
        _N150,
        replace(
            _N150,
            name="wormhole_b0:n300",
            board="n300",
            num_chips=2,
            notes=(
                "two Wormhole chips joined by ethernet, 2 rows harvested, ethernet dispatch; figures per chip",
            ),
        ),
        _P150,
        replace(
            _P150,
            name="blackhole:p150:11x10",
            grid=(11, 10),
            notes=(
                "firmware >= v19.5.0: 120 Tensix cores (12x10) minus the dispatch column (tt-metal #47014)",
            ),
        ),
        replace(
            _P150,
            name="blackhole:p100:11x10",
            board="p100",
            grid=(11, 10),
            dram_banks=7,  # tt-umd expected_dram_harvested_units_map: P100 1 (of 8)
            dram_bytes=7 * _BH_DRAM_BANK,
            dram_gbps=437.5,  # 7 of p150's 8 banks (derived: 500 * 7/8)
            dram_peak_gbps=448.0,
            notes=("p100a: 120 Tensix cores (12x10) minus the dispatch column; 7 GDDR6 banks, 28 GB",),
        ),
    )
}
_DEFAULT_BOARD = {"wormhole_b0": "n150", "blackhole": "p150"}
_DEFAULT_GRID = {"p150": "13x10", "p100": "11x10"}
_ALIASES = {"wormhole": "wormhole_b0", "wh": "wormhole_b0", "bh": "blackhole"}


def valid_kinds() -> str:
    """The device kinds `device_spec` accepts, for messages: every full kind, the short forms and aliases."""
    short = ", ".join(f"{a} (= {device_spec(a).name})" for a in _DEFAULT_BOARD)
    aliases = ", ".join(f"{k} = {v}" for k, v in _ALIASES.items())
    return f"valid kinds: {', '.join(sorted(_SPECS))}; short forms {short}; aliases {aliases}"


def device_spec(kind: str | None = None, *, source: str | None = None) -> DeviceSpec:
    """Resolve a device kind (`arch[:board[:grid]]`, default `$TTFUSE_ARCH` or `wormhole_b0:n150`).

    A bad kind is a DeviceError naming where it came from: `source` (what the caller wrote, e.g. "the --arch
    option", "ttnn.open_device(arch=...)"), else "the environment variable TTFUSE_ARCH" when `kind` is None."""
    if kind:
        where = source or "the kind passed to ttfuse.device_spec()"
    else:
        env = os.environ.get("TTFUSE_ARCH")
        where = "the environment variable TTFUSE_ARCH" if env else "the default"
        kind = env or "wormhole_b0"
    kind = kind.strip().lower()
    parts = kind.split(":")
    arch = _ALIASES.get(parts[0], parts[0])
    if arch not in _DEFAULT_BOARD:
        raise DeviceError(f"unknown device arch {parts[0]!r} (from {where}); {valid_kinds()}")
    board = parts[1] if len(parts) > 1 and parts[1] else _DEFAULT_BOARD[arch]
    name = f"{arch}:{board}"
    if arch == "blackhole":
        grid = parts[2] if len(parts) > 2 else _DEFAULT_GRID.get(board, "13x10")
        name = f"{name}:{grid}"
    elif len(parts) > 2:
        raise DeviceError(
            f"device kind {kind!r} (from {where}): Wormhole boards have one grid; drop ':{parts[2]}'"
        )
    if name not in _SPECS:
        raise DeviceError(f"unknown device kind {kind!r} (from {where}); {valid_kinds()}")
    return _SPECS[name]


@contextlib.contextmanager
def arch_env(kind: str | None) -> Iterator[None]:
    """`$TTFUSE_ARCH` set to `kind` for the block, then restored (unset again if it was unset), also on an error.

    A sim device reads the variable when it opens and `jit(...).lower()` on specs targets it; `kind=None` leaves
    the variable as it is. The kind is not checked here: `device_spec` names a bad one where it is read."""
    if kind is None:
        yield
        return
    old = os.environ.get("TTFUSE_ARCH")
    os.environ["TTFUSE_ARCH"] = kind
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("TTFUSE_ARCH", None)
        else:
            os.environ["TTFUSE_ARCH"] = old


def all_specs() -> list[DeviceSpec]:
    return list(_SPECS.values())
