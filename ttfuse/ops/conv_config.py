"""conv2d's parallel config per device: sharding scheme (HEIGHT / BLOCK / WIDTH), core grid and act_block_h.

The rule follows tt-metal `ttnn/cpp/ttnn/operations/conv/conv2d/conv2d_utils.cpp`:
- `determine_parallel_config`: the cores along N*H*W are the largest count <= the limit (the whole grid for
  HEIGHT, the grid's y for BLOCK) whose tile padding stays under one share; the cores along channels (BLOCK: <= the
  grid's x; WIDTH: <= the whole grid) likewise over the input channel blocks (channels aligned to 8 for ROW_MAJOR
  inputs, 32 otherwise and for depthwise convs);
- `determine_conv_config_for_auto_shard`: HEIGHT unless BLOCK needs less L1 per core and spans at least a grid row
  of cores, or WIDTH needs less still (never for a 1x1 conv that runs as a matmul);
- `determine_per_core_conv_block_config`: act_block_h is the per-core output height unless overridden.
ttfuse's L1 figure per core is a simplified sum (input shard + output shard + one activation block + the weights
the core holds), not tt-metal's circular-buffer list; and where the default act block does not fit the core's
L1, ttfuse picks the largest divisor of the per-core height that does (what TT's model code sets
`act_block_h_override` for). Grouped convs count all input channels per output channel: tt-metal runs them as one
matmul with block-diagonal weights (`convert_conv_weight_tensor_to_grouped_layout`). The choice feeds the cost rule (the busiest core's tiles) and is recorded by the
select_configs pass as the node's `conv_config` (shard_layout, act_block_h_override).

Slicing (tt-metal `ttnn/cpp/ttnn/operations/sliding_window/op_slicing/op_slicing.cpp`, `Op2DSliceConfig`): a conv
whose per-core figure does not fit even at the smallest act block runs as `num_slices` convs over ranges of output
rows (DRAM_HEIGHT) or columns (DRAM_WIDTH), each reading its input window with the halo rows its kernel needs
(`slice_geometry`) from DRAM and writing its rows back (`padded_slice` -> conv2d -> `slice_write` per slice). The
ranges are tt-metal's: ceil(size / rounding) units cut evenly, the first `rem` slices one unit longer (rounding 32
for DRAM_WIDTH with a TILE output, else 1); `select_slicing` is `determine_slice_config`'s search for one slice type:
the smallest count whose every slice fits. `auto_slicing` is what conv2d_DRAM does by itself when the call gives no
slice config (ttnn: "If set to None and input is in DRAM, DRAM slicing is automatically enabled"): the best-guess
type first (`best_guess_slice_axis`), the other when no count fits. ttfuse's departures: the L1 figure is
`conv_choice`'s estimate against `auto_slice_budget` (half a core's L1) where tt-metal sums the conv's circular
buffers against the allocator's free L1 at call time; and where no count fits, ttfuse runs the conv unsliced
(tt-metal fails the call). The conv2d rules (sim, cost) and the select_configs pass all ask `auto_slicing` through
ttfuse/ops/conv.py `conv_slice_config`, so eager and JIT launch the same slices.

Output placement (`conv_default_memory_config`, `pool_default_memory_config`): the spec rules of conv2d,
conv_transpose2d and max_pool2d place an output left to `memory_config=None` where tt-metal does: the L1 path writes
the conv's (pool's) own sharded L1 output, built from its parallel config as `create_sharded_memory_config_from_
parallel_config` builds it; the DRAM-slicing path writes DRAM interleaved. The sim and the cost model read the spec.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from ttfuse.configs import Conv2dSliceConfig, SliceTypeEnum
from ttfuse.opdef import CostCtx
from ttfuse.ops.common import fail
from ttfuse.types import (
    DRAM_MEMORY_CONFIG,
    BufferType,
    CoreCoord,
    CoreRange,
    CoreRangeSet,
    DataType,
    Layout,
    MemoryConfig,
    ShardOrientation,
    ShardSpec,
    TensorMemoryLayout,
    TensorSpec,
    num_cores_to_corerangeset,
)

TILE = 32
_BYTES = {
    DataType.FLOAT32: 4.0,
    DataType.BFLOAT16: 2.0,
    DataType.BFLOAT8_B: 1088 / 1024,  # a tile of bytes plus 64 shared exponents
    DataType.BFLOAT4_B: 576 / 1024,
}


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def _divisor_with_padding(num: int, start: int, mult: int = 1) -> int:
    """The largest d <= start whose padding of `num` up to a multiple of d*mult stays under one share (num/d)."""
    d = max(1, min(start, num)) if num else 1
    while d > 1:
        padded = _cdiv(num, d * mult) * d * mult
        if padded - num < padded // d:
            break
        d -= 1
    return d


@dataclass(frozen=True)
class ConvChoice:
    """One parallel config of a conv2d: scheme, cores along N*H*W and channels, and the per-core figures."""

    scheme: TensorMemoryLayout
    grid: tuple[int, int]  # (x, y) of the cores used
    cores_nhw: int
    cores_c: int  # cores along the input channels
    cores_c_out: int
    m_tiles: int  # output rows (tiles) per core
    n_tiles: int  # output channels (tiles) per core
    k_tiles: int  # inner dim (tiles) per core: the weight rows it multiplies
    act_block_h: int  # rows (a multiple of 32)
    l1_bytes: int  # the per-core estimate this choice was compared by

    @property
    def cores(self) -> int:
        return self.grid[0] * self.grid[1]

    def describe(self) -> str:
        return (
            f"{self.scheme.name} on {self.grid[0]}x{self.grid[1]} cores (nhw {self.cores_nhw} x c {self.cores_c}), "
            f"act_block_h {self.act_block_h} rows, per core {self.m_tiles}x{self.n_tiles} out tiles, "
            f"~{self.l1_bytes // 1024} KiB L1"
        )


def is_matmul_conv(g: dict, shard_layout: TensorMemoryLayout | None = None) -> bool:
    """Whether tt-metal runs conv `g` as a matmul (conv2d_utils.cpp `use_matmul_for_1x1_conv`): a 1x1 kernel,
    stride 1, no padding, dilation 1, and not a WIDTH_SHARDED `shard_layout`."""
    return (
        g["kh"] == g["kw"] == 1
        and g["sh"] == g["sw"] == 1
        and g["dh"] == g["dw"] == 1
        and not any(g[p] for p in ("pt", "pb", "pl", "pr"))
        and shard_layout is not TensorMemoryLayout.WIDTH_SHARDED
    )


def _grid_of(n: int, gx: int) -> tuple[int, int]:
    """(x, y) bounding box of n cores filled row by row on a gx-wide grid (num_cores_to_corerangeset)."""
    return (min(n, gx), _cdiv(n, gx))


def conv_choice(
    scheme: TensorMemoryLayout,
    g: dict,
    grid: tuple[int, int],
    *,
    in_dtype: DataType,
    w_dtype: DataType,
    out_dtype: DataType,
    in_layout: Layout,
    act_block_h_override: int = 0,
    l1_budget: int | None = None,
) -> ConvChoice:
    """The parallel config of `scheme` for conv geometry `g` (ttfuse.ops.conv.conv_geometry) on a (x, y) grid."""
    gx, gy = grid
    kh, kw, groups = g["kh"], g["kw"], g["groups"]
    ic, oc = g["in_channels"], g["out_channels"]
    depthwise = groups == ic == oc
    mm_conv = is_matmul_conv(g)
    align = (
        TILE if (depthwise or in_layout is Layout.TILE or scheme is TensorMemoryLayout.WIDTH_SHARDED) else 8
    )
    nhw_t = _cdiv(g["batch_size"] * g["oh"] * g["ow"], TILE)
    oc_t = _cdiv(oc, TILE)
    abh_mult = act_block_h_override // TILE if act_block_h_override else 1
    if scheme is TensorMemoryLayout.HEIGHT_SHARDED:
        cores_nhw = _divisor_with_padding(nhw_t, gx * gy, abh_mult)
        cores_c = cores_c_out = 1
        grid_used = _grid_of(cores_nhw, gx)
    elif scheme is TensorMemoryLayout.BLOCK_SHARDED:
        cores_nhw = _divisor_with_padding(nhw_t, gy, abh_mult)
        ic_blocks = _cdiv(ic, align)
        if mm_conv:  # no channel padding: a common divisor of the in and out channel tiles
            cores_c = next(
                d for d in range(min(gx, ic_blocks, oc_t), 0, -1) if ic_blocks % d == 0 and oc_t % d == 0
            )
        else:
            cores_c = _divisor_with_padding(ic_blocks, gx)
        cores_c_out = _divisor_with_padding(oc_t, gx)
        grid_used = (max(cores_c, cores_c_out), cores_nhw)
    elif scheme is TensorMemoryLayout.WIDTH_SHARDED:
        cores_nhw = 1
        cores_c = _divisor_with_padding(_cdiv(ic, TILE), gx * gy)
        cores_c_out = _divisor_with_padding(oc_t, gx * gy)
        grid_used = _grid_of(max(cores_c, cores_c_out), gx)
    else:
        raise ValueError(f"conv2d shards HEIGHT, BLOCK or WIDTH, not {scheme}")
    ic_pad = _cdiv(ic, cores_c * align) * cores_c * align
    m_t = _cdiv(nhw_t, cores_nhw)
    n_t = _cdiv(oc_t, cores_c_out)
    icg_core = ic_pad // cores_c  # the input channels a core holds
    # every output tile needs the whole inner dim (the other cores' channels arrive by multicast); grouped convs
    # run as one block-diagonal matmul over all input channels
    k_t = _cdiv(kh * kw * ic_pad, TILE)
    if scheme is TensorMemoryLayout.WIDTH_SHARDED:
        abw_t = _cdiv(kh * kw * icg_core, TILE)
    else:  # one kernel row of the core's channels per activation block
        abw_t = _cdiv(icg_core * kw, TILE)
    bi, bw, bo = _BYTES[in_dtype], _BYTES[w_dtype], _BYTES[out_dtype]
    tile = TILE * TILE
    in_rows = _cdiv(g["batch_size"] * g["input_height"] * g["input_width"], cores_nhw)

    def l1_for(abh_t: int) -> int:
        return int(
            in_rows * icg_core * bi  # input shard
            + m_t * n_t * tile * bo  # output shard
            + abh_t * abw_t * tile * bi  # one activation block
            + k_t * n_t * tile * bw  # the weights of the core's output channels
        )

    if act_block_h_override:
        want = act_block_h_override // TILE
        abh = next(d for d in range(min(want, m_t), 0, -1) if m_t % d == 0)
    else:
        abh = m_t
        if l1_budget is not None:
            divisors = [d for d in range(m_t, 0, -1) if m_t % d == 0]
            abh = next((d for d in divisors if l1_for(d) <= l1_budget), divisors[-1])
    return ConvChoice(
        scheme, grid_used, cores_nhw, cores_c, cores_c_out, m_t, n_t, k_t, abh * TILE, l1_for(abh)
    )


def select_conv_config(
    g: dict,
    grid: tuple[int, int],
    *,
    in_dtype: DataType,
    w_dtype: DataType,
    out_dtype: DataType,
    in_layout: Layout,
    shard_layout: TensorMemoryLayout | None = None,
    act_block_h_override: int = 0,
    l1_budget: int | None = None,
) -> tuple[ConvChoice, dict]:
    """(the chosen ConvChoice, {scheme name: candidate}) by tt-metal's auto-shard rule (module docstring); a
    `shard_layout` the user set is kept."""
    kw = dict(
        in_dtype=in_dtype,
        w_dtype=w_dtype,
        out_dtype=out_dtype,
        in_layout=in_layout,
        act_block_h_override=act_block_h_override,
        l1_budget=l1_budget,
    )
    if shard_layout is not None and shard_layout is not TensorMemoryLayout.INTERLEAVED:
        c = conv_choice(shard_layout, g, grid, **kw)
        return c, {shard_layout.name: c}
    h = conv_choice(TensorMemoryLayout.HEIGHT_SHARDED, g, grid, **kw)
    cands = {"HEIGHT_SHARDED": h}
    depthwise_1d = g["groups"] == g["in_channels"] == g["out_channels"] and g["kh"] == g["kw"] == 1
    if depthwise_1d and g["input_height"] == 1:
        return h, cands
    b = conv_choice(TensorMemoryLayout.BLOCK_SHARDED, g, grid, **kw)
    w = conv_choice(TensorMemoryLayout.WIDTH_SHARDED, g, grid, **kw)
    cands.update(BLOCK_SHARDED=b, WIDTH_SHARDED=w)
    mm_conv = is_matmul_conv(g)
    best = h
    if b.l1_bytes < best.l1_bytes and b.cores >= grid[0]:
        best = b
    if w.l1_bytes < best.l1_bytes and not mm_conv:
        best = w
    return best, cands


# ------------------------------------------------------------------------------------------------- slicing
def output_slices(size: int, num_slices: int, rounding: int = 1) -> list[tuple[int, int]]:
    """[start, end) ranges of an output dim of `size` cut into `num_slices` as tt-metal's op_slicing cuts it
    (ceil(size / rounding) units shared evenly, the first `rem` slices one unit more); empty ones dropped."""
    units = _cdiv(size, rounding)
    base, rem = divmod(units, num_slices)
    out, start = [], 0
    for i in range(num_slices):
        end = min(size, start + rounding * (base + (i < rem)))
        if end > start:
            out.append((start, end))
        start = end
    return out


def slice_geometry(g: dict, start: int, end: int, axis: str = "h") -> dict:
    """The geometry of the conv computing output rows (axis "h") or columns ("w") [start, end) of conv `g`: its input
    window (halo included) clipped to the image, the padding that is left at the image's edges, and in `in_start` the
    first input row / column it reads (tt-metal's `get_input_slice`)."""
    size_k, lo_k, hi_k, out_k = (
        ("input_height", "pt", "pb", "oh") if axis == "h" else ("input_width", "pl", "pr", "ow")
    )
    s, d, k = (g["sh"], g["dh"], g["kh"]) if axis == "h" else (g["sw"], g["dw"], g["kw"])
    first = start * s - g[lo_k]  # in unpadded coordinates: may lie in the padding
    last = (end - 1) * s - g[lo_k] + d * (k - 1) + 1  # exclusive
    size = g[size_k]
    sub = dict(g)
    sub[size_k] = max(1, min(size, last) - max(0, first))
    sub[lo_k], sub[hi_k], sub[out_k] = max(0, -first), max(0, last - size), end - start
    sub["in_start"] = max(0, first)
    return sub


def slice_ranges(
    g: dict, slice_type_name: str, num_slices: int, out_tile: bool
) -> tuple[str, list[tuple[int, int]]]:
    """(axis, output ranges) of a `Conv2dSliceConfig` (its slice type's name, num_slices) on conv `g`."""
    if slice_type_name == "DRAMSliceWidth":
        return "w", output_slices(g["ow"], num_slices, TILE if out_tile else 1)
    return "h", output_slices(g["oh"], num_slices)


def select_slicing(
    g: dict, grid: tuple[int, int], *, l1_budget: int, axis: str = "h", out_tile: bool = True, **kw
) -> tuple[int, ConvChoice] | None:
    """(num_slices, the chosen config of the slice needing the most L1): 1 when the whole conv's chosen config fits
    `l1_budget` per core, else the smallest count of slices along `axis` ("h": DRAM_HEIGHT, "w": DRAM_WIDTH, in
    32-column units for a TILE output) whose every slice's config fits (tt-metal's `determine_slice_config` search
    for one slice type). None when even the most slices do not fit (what overflows is then not the activations:
    slicing would only add launches). `kw`: select_conv_config's dtype / layout / user-fixed arguments."""
    size_k, lo_k, hi_k, out_k = (
        ("input_height", "pt", "pb", "oh") if axis == "h" else ("input_width", "pl", "pr", "ow")
    )
    rounding = TILE if axis == "w" and out_tile else 1
    max_n = _cdiv(g[out_k], rounding)

    def worst(n: int) -> ConvChoice:
        seen: dict[tuple, ConvChoice] = {}
        for a, b in output_slices(g[out_k], n, rounding):
            sg = slice_geometry(g, a, b, axis) if n > 1 else g
            key = (sg[size_k], sg[out_k], sg[lo_k], sg[hi_k])
            if key not in seen:
                seen[key] = select_conv_config(sg, grid, l1_budget=l1_budget, **kw)[0]
        return max(seen.values(), key=lambda c: c.l1_bytes)

    if worst(max_n).l1_bytes > l1_budget:
        return None
    for n in range(1, max_n + 1):
        c = worst(n)
        if c.l1_bytes <= l1_budget:
            return n, c
    return None  # not reached: n = max_n fits


# NOTE: tt-metal compares a slice's L1 figure with the allocator's free L1 at call time; ttfuse tracks no
# per-core allocations in eager mode, so it takes the share of a core's L1 that the JIT's default split leaves to
# circular buffers (place_memory.cb_limit_per_core with CB_RESERVE_FRACTION 0.5): eager and JIT budget alike.
AUTO_SLICE_FREE_L1 = 0.5


def auto_slice_budget(ds) -> int:
    """Per-core L1 bytes an auto-sliced conv's every slice must fit on device spec `ds` (AUTO_SLICE_FREE_L1)."""
    held = _cdiv(int(ds.l1_bytes * (1.0 - AUTO_SLICE_FREE_L1)), ds.num_cores)
    return max(ds.l1_per_core - min(held, ds.l1_per_core), ds.l1_per_core // 8)


def best_guess_slice_axis(g: dict, out_tile: bool) -> str:
    """tt-metal op_slicing `best_guess_slice_type`: width slices (smaller halo) unless the input is tall (ROW_MAJOR
    output: H > 3W), or, for a TILE output (whose width slices are 32-column multiples), narrower than 200 or taller
    than wide."""
    h, w = g["input_height"], g["input_width"]
    if not out_tile:
        return "h" if h > 3 * w else "w"
    return "h" if w < 200 or h > w else "w"


_AXIS_TYPE = {"h": SliceTypeEnum.DRAMSliceHeight, "w": SliceTypeEnum.DRAMSliceWidth}


@functools.lru_cache(maxsize=1024)
def _auto_slicing(g_items: tuple, grid: tuple, l1_budget: int, out_tile: bool, fixed, kw_items: tuple):
    g, kw = dict(g_items), dict(kw_items)
    axes = [fixed] if fixed else [best_guess_slice_axis(g, out_tile)]
    if not fixed:  # tt-metal's fallback: the other slice type when the first finds no count
        axes.append("w" if axes[0] == "h" else "h")
    for axis in axes:
        found = select_slicing(g, grid, l1_budget=l1_budget, axis=axis, out_tile=out_tile, **kw)
        if found is not None:
            n, c = found
            return Conv2dSliceConfig(slice_type=_AXIS_TYPE[axis], num_slices=n), c
    return None


def auto_slicing(
    g: dict, grid: tuple[int, int], *, l1_budget: int, out_tile: bool, slice_type=None, **kw
) -> tuple[Conv2dSliceConfig, ConvChoice] | None:
    """The DRAM slice config tt-metal's conv2d_DRAM determines itself (op_slicing `determine_slice_config`) for a
    conv with no slice config (or a DRAM `slice_type` with num_slices 0), and the config of its slice needing the
    most L1: the best-guess slice type (`best_guess_slice_axis`), the smallest count whose every slice fits
    `l1_budget`, else the other type's. num_slices 1 means the conv fits whole (tt-metal then runs it unsliced on
    its L1 path and moves the output to DRAM). None where no count fits: tt-metal fails the call there; ttfuse,
    whose L1 figure is an estimate, runs it unsliced. `kw`: select_conv_config's dtype / layout / user-fixed
    arguments. Memoized: every conv2d rule (spec, sim, cost) and the select pass ask it."""
    fixed = None if slice_type is None else ("w" if slice_type is SliceTypeEnum.DRAMSliceWidth else "h")
    return _auto_slicing(
        tuple(sorted(g.items())), tuple(grid), l1_budget, out_tile, fixed, tuple(sorted(kw.items()))
    )


def check_slice_config(op: str, arg: str, sc, g: dict, out_layout: Layout) -> None:
    """A `Conv2dSliceConfig` argument: its type, and at most as many slices as the sliced output dim has units
    (tt-metal op_slicing `compute_max_num_slices`: output rows, or tile columns for DRAM_WIDTH with a TILE output)."""
    if sc is None:
        return
    if not isinstance(sc, Conv2dSliceConfig):
        raise fail(op, f"argument {arg!r} must be a ttnn.Conv2dSliceConfig, got {sc!r}")
    if not isinstance(sc.slice_type, SliceTypeEnum):
        raise fail(
            op, f"argument {arg!r}: slice_type={sc.slice_type!r} must be a Conv2dSliceConfig.SliceTypeEnum"
        )
    n = sc.num_slices
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise fail(op, f"argument {arg!r}: num_slices={n!r} must be an integer >= 0 (0: ttnn chooses)")
    if sc.slice_type is SliceTypeEnum.L1Full:
        return
    width = sc.slice_type is SliceTypeEnum.DRAMSliceWidth
    tiled = width and out_layout is Layout.TILE
    units = -(-g["ow"] // 32) if tiled else (g["ow"] if width else g["oh"])
    if n > units:
        what = "32-column tile groups" if tiled else ("columns" if width else "rows")
        raise fail(
            op,
            f"argument {arg!r}: num_slices={n} is more than the {g['oh']}x{g['ow']} output's {units} {what} "
            f"({sc.slice_type.name} slices)",
        )


def sliced_ranges(a: dict, g: dict, out_layout: Layout) -> tuple[str, list[tuple[int, int]]] | None:
    """(axis, output ranges) a conv call with a DRAM slice config of more than one slice runs as; None: one conv."""
    sc = a.get("slice_config", a.get("dram_slice_config"))
    if sc is None or sc.slice_type is SliceTypeEnum.L1Full or sc.num_slices <= 1:
        return None
    axis, ranges = slice_ranges(g, sc.slice_type.name, sc.num_slices, out_layout is Layout.TILE)
    return (axis, ranges) if len(ranges) > 1 else None


def sliced_rereads(
    ctx: CostCtx, g: dict, axis: str, subs: list[dict], per_slice: tuple[str, ...]
) -> tuple[int, int]:
    """(DRAM, L1) bytes a DRAM-sliced call reads beyond one pass over its tensors: the input rows (columns) that
    neighbouring slices' windows share, and the `per_slice` tensors (weights, bias) once more per extra slice."""
    size_k = "input_height" if axis == "h" else "input_width"
    halo = sum(sg[size_k] for sg in subs) / g[size_k] - 1.0
    extra = [(ctx.args["input_tensor"], halo)]
    extra += [(ctx.args[k], len(subs) - 1.0) for k in per_slice if ctx.args.get(k) is not None]
    dram = l1 = 0
    for spec, times in extra:
        if spec.memory_config.buffer_type is BufferType.L1:
            l1 += int(spec.nbytes * times)
        else:
            dram += int(spec.nbytes * times)
    return dram, l1


def transpose_as_conv(g: dict) -> dict:
    """The conv2d a transposed conv runs as on TT (tt-metal conv_transpose2d.cpp: a halo that spreads the input
    `stride` apart and pads it by dilation*(k-1) - padding, then a stride-1 conv of the mirrored kernel): its input
    is the spread, padded image of OH + dh*(KH-1) by OW + dw*(KW-1) pixels."""
    eq = dict(g, sh=1, sw=1, pt=0, pb=0, pl=0, pr=0)
    eq["input_height"] = g["oh"] + g["dh"] * (g["kh"] - 1)
    eq["input_width"] = g["ow"] + g["dw"] * (g["kw"] - 1)
    return eq


def core_tile_macs(c: ConvChoice) -> float:
    """Tile multiply-accumulates of the busiest core: its output tiles times the inner tiles it multiplies."""
    return float(c.m_tiles * c.n_tiles * c.k_tiles)


# ------------------------------------------------------------------------------------------ output placement
def runs_in_l1(x: TensorSpec, slice_config) -> bool:
    """Whether tt-metal runs a conv on its L1 path (conv2d_utils.cpp `determine_conv2d_execution_path`, and
    conv_transpose2d.cpp's twin): a `Conv2dSliceConfig` of type L1Full, or none and an input already in L1. Any
    other call runs the DRAM path (DRAM slicing, even for one slice), whose output is DRAM interleaved."""
    if slice_config is not None:
        return slice_config.slice_type is SliceTypeEnum.L1Full
    return x.memory_config.buffer_type is BufferType.L1


def _parallel_grid(c: ConvChoice, grid: tuple[int, int], orientation: ShardOrientation) -> CoreRangeSet:
    """The core grid of an auto-sharded input (conv2d_utils.cpp `determine_parallel_config`): HEIGHT and WIDTH fill
    rows of the device grid with the nhw (channel) cores; BLOCK is a rectangle of channel x nhw cores (nhw x channel
    with COL_MAJOR shards)."""
    if c.scheme is TensorMemoryLayout.BLOCK_SHARDED:
        cx, cy = (
            (c.cores_nhw, c.cores_c)
            if orientation is ShardOrientation.COL_MAJOR
            else (c.cores_c, c.cores_nhw)
        )
        return CoreRangeSet(CoreRange(CoreCoord(0, 0), CoreCoord(cx - 1, cy - 1)))
    n = c.cores_nhw if c.scheme is TensorMemoryLayout.HEIGHT_SHARDED else c.cores_c
    return num_cores_to_corerangeset(n, grid, True)


def _cores_nhw_c(
    scheme: TensorMemoryLayout, cores: CoreRangeSet, orientation: ShardOrientation
) -> tuple[int, int]:
    """(cores along N*H*W, cores along channels) of a parallel config (`get_num_cores_nhw/channels`)."""
    bb = cores.bounding_box().grid_size
    if scheme is TensorMemoryLayout.HEIGHT_SHARDED:
        return cores.num_cores(), 1
    if scheme is TensorMemoryLayout.WIDTH_SHARDED:
        return 1, cores.num_cores()
    return (bb.x, bb.y) if orientation is ShardOrientation.COL_MAJOR else (bb.y, bb.x)


def conv_output_memory_config(
    g: dict,
    scheme: TensorMemoryLayout,
    in_cores: CoreRangeSet,
    orientation: ShardOrientation,
    grid: tuple[int, int],
    *,
    matmul: bool,
) -> MemoryConfig:
    """The sharded L1 config conv2d's L1 path writes its output in (`conv_out_memory_config`): the output parallel
    config (conv2d_utils.cpp `determine_output_parallel_config`: the input's, except that a non-matmul conv spreads
    its output channels over their own core count, WIDTH over the whole `grid`, BLOCK along the channel side of the
    input's nhw rows) laid out by `create_sharded_memory_config_from_parallel_config` on [1, 1, N*OH*OW, OC] with OC
    padded to (channel cores x 32): shards of round_up(N*OH*OW, nhw cores x 32) / nhw cores rows (WIDTH: all rows)
    by OC_padded / channel cores columns."""
    oc_t = _cdiv(g["out_channels"], TILE)
    cores = in_cores
    if not matmul and scheme is TensorMemoryLayout.WIDTH_SHARDED:
        cores = num_cores_to_corerangeset(_divisor_with_padding(oc_t, grid[0] * grid[1]), grid, True)
    elif not matmul and scheme is TensorMemoryLayout.BLOCK_SHARDED:
        col = orientation is ShardOrientation.COL_MAJOR
        c = _divisor_with_padding(oc_t, grid[1] if col else grid[0])
        nhw = _cores_nhw_c(scheme, in_cores, orientation)[0]
        cx, cy = (nhw, c) if col else (c, nhw)
        cores = CoreRangeSet(CoreRange(CoreCoord(0, 0), CoreCoord(cx - 1, cy - 1)))
    n_nhw, n_c = _cores_nhw_c(scheme, cores, orientation)
    rows = g["batch_size"] * g["oh"] * g["ow"]
    if scheme is not TensorMemoryLayout.WIDTH_SHARDED:
        rows = _cdiv(rows, n_nhw * TILE) * n_nhw * TILE
    oc_pad = _cdiv(g["out_channels"], n_c * TILE) * n_c * TILE
    return MemoryConfig(scheme, BufferType.L1, ShardSpec(cores, (rows // n_nhw, oc_pad // n_c), orientation))


def conv_default_memory_config(
    g: dict,
    x: TensorSpec,
    slice_config,
    shard_layout: TensorMemoryLayout | None,
    transpose_shards: bool,
    grid: tuple[int, int],
    auto_choice,
) -> MemoryConfig:
    """The output placement of a conv called with `memory_config=None` (tt-metal conv2d.cpp `conv2d` ->
    conv2d_L1 / conv2d_DRAM; conv_transpose2d.cpp likewise; ttnn 0.81.1 binds the same routing):
    - the DRAM path (`runs_in_l1` false): DRAM interleaved; a matmul conv (1x1) runs conv2d_L1 on the DRAM input;
    - conv2d_L1 of a sharded input: the conv's own sharded L1 output (`conv_output_memory_config`) from the input's
      parallel config (its scheme, grid and orientation);
    - of an interleaved input: from the auto-shard choice `auto_choice()` (a `ConvChoice` honouring the
      conv_config's shard_layout) on the device `grid`; except a matmul conv left to auto-shard, which runs an
      interleaved matmul whose output is matmul's default, DRAM interleaved.
    ttfuse simplifications: a sharded input is never resharded first (tt-metal reshards a misaligned or COL_MAJOR
    HEIGHT / WIDTH input), and transpose_shards only transposes the BLOCK rectangle (tt-metal also swaps which grid
    side bounds each core count)."""
    matmul = is_matmul_conv(g, shard_layout)
    if not runs_in_l1(x, slice_config) and not matmul:
        return DRAM_MEMORY_CONFIG
    mc = x.memory_config
    if mc.is_sharded() and mc.shard_spec is not None and mc.buffer_type is BufferType.L1:
        ss = mc.shard_spec
        return conv_output_memory_config(g, mc.memory_layout, ss.grid, ss.orientation, grid, matmul=matmul)
    if matmul and shard_layout is None:
        return DRAM_MEMORY_CONFIG
    c = auto_choice()
    orientation = (
        ShardOrientation.COL_MAJOR
        if transpose_shards and c.scheme is TensorMemoryLayout.BLOCK_SHARDED
        else ShardOrientation.ROW_MAJOR
    )
    cores = _parallel_grid(c, grid, orientation)
    return conv_output_memory_config(g, c.scheme, cores, orientation, grid, matmul=matmul)


def _largest_divisor(n: int, start: int, also: int | None = None) -> int:
    """The largest d <= start dividing n (and `also`): tt-metal's find_closest_largest_divisor."""
    return next(
        d for d in range(max(1, min(start, n)), 0, -1) if n % d == 0 and (also is None or also % d == 0)
    )


def _pool_parallel_config(
    scheme: TensorMemoryLayout, g: dict, grid: tuple[int, int], in_tiled: bool, out_tiled: bool
) -> CoreRangeSet:
    """The core grid of max_pool2d's input parallel config for `scheme` (tt-metal generic_pools.cpp ->
    conv2d_utils.cpp `determine_parallel_config` with no channel padding, shard height a tile multiple only for a
    TILE output, shard width a tile multiple for a TILE input or output, else half a tile)."""
    gx, gy = grid
    eff_h, eff_w = (TILE if out_tiled else 1), (TILE if in_tiled or out_tiled else TILE // 2)
    nhw_t = _cdiv(g["batch_size"] * g["oh"] * g["ow"], eff_h)
    c_t = _cdiv(g["in_channels"], eff_w)
    if scheme is TensorMemoryLayout.HEIGHT_SHARDED:
        return num_cores_to_corerangeset(_divisor_with_padding(nhw_t, gx * gy), grid, True)
    if scheme is TensorMemoryLayout.WIDTH_SHARDED:
        return num_cores_to_corerangeset(_largest_divisor(c_t, gx * gy), grid, True)
    nhw = _divisor_with_padding(nhw_t, gy)
    c = _largest_divisor(c_t, gx, _cdiv(g["in_channels"], TILE if in_tiled else 8))
    return CoreRangeSet(CoreRange(CoreCoord(0, 0), CoreCoord(c - 1, nhw - 1)))


def _pool_output_shard(g: dict, scheme, cores: CoreRangeSet, out_tiled: bool) -> tuple[int, int]:
    """pool2d_L1's output shard: N*OH*OW rows padded to (nhw cores x 32 for a TILE output), channels padded to
    (channel cores x 32, or x 16 for ROW_MAJOR), over the cores."""
    n_nhw, n_c = _cores_nhw_c(scheme, cores, ShardOrientation.ROW_MAJOR)
    rows = g["batch_size"] * g["oh"] * g["ow"]
    rows = _cdiv(rows, n_nhw * (TILE if out_tiled else 1)) * n_nhw * (TILE if out_tiled else 1)
    cw = TILE if out_tiled else TILE // 2
    return rows // n_nhw, _cdiv(g["in_channels"], n_c * cw) * cw


def runs_in_l1_pool(dram_slice_config) -> bool:
    """Whether max_pool2d runs pool2d_L1 (generic_pools.cpp): no dram_slice_config, L1Full, or one slice."""
    sc = dram_slice_config
    return sc is None or sc.slice_type is SliceTypeEnum.L1Full or sc.num_slices == 1


def pool_default_memory_config(
    g: dict, x: TensorSpec, dram_slice_config, applied_shard_scheme, out_layout: Layout, out_dtype, grid
) -> MemoryConfig:
    """max_pool2d's output placement with `memory_config=None` (tt-metal generic_pools.cpp `pool2d`):
    - a dram_slice_config other than L1Full (more than one slice) runs pool2d_DRAM: DRAM interleaved;
    - otherwise pool2d_L1, whatever the input's placement: a sharded input keeps its parallel config (grid, scheme);
      an interleaved one is sharded by `applied_shard_scheme`, else by the auto-shard choice
      (`determine_pool_config_for_auto_shard`: HEIGHT, WIDTH, BLOCK by least L1, ties to HEIGHT then WIDTH), and the
      output is that parallel config's shards (`_pool_output_shard`), ROW_MAJOR, in L1 (a sharded input's buffer).
    ttfuse's L1 figure for the auto-shard is simplified to the output shard plus a double-buffered input block of
    32 rows of the core's channels (tt-metal's `calculate_L1_usage` sums the pool's circular buffers)."""
    if not runs_in_l1_pool(dram_slice_config):
        return DRAM_MEMORY_CONFIG
    in_tiled, out_tiled = x.layout is Layout.TILE, out_layout is Layout.TILE
    mc = x.memory_config
    if mc.is_sharded() and mc.shard_spec is not None:
        scheme, cores, buffer = mc.memory_layout, mc.shard_spec.grid, mc.buffer_type
    else:
        buffer = BufferType.L1
        if applied_shard_scheme is not None:
            scheme = applied_shard_scheme
        else:
            best = None
            for s in (
                TensorMemoryLayout.HEIGHT_SHARDED,
                TensorMemoryLayout.WIDTH_SHARDED,
                TensorMemoryLayout.BLOCK_SHARDED,
            ):
                cs = _pool_parallel_config(s, g, grid, in_tiled, out_tiled)
                rows, cols = _pool_output_shard(g, s, cs, out_tiled)
                l1 = rows * cols * _BYTES[out_dtype] + 2 * _cdiv(cols, TILE) * TILE * TILE * 2
                if best is None or l1 < best[0]:
                    best = (l1, s)
            scheme = best[1]
        cores = _pool_parallel_config(scheme, g, grid, in_tiled, out_tiled)
    shard = _pool_output_shard(g, scheme, cores, out_tiled)
    return MemoryConfig(scheme, buffer, ShardSpec(cores, shard, ShardOrientation.ROW_MAJOR))
