"""Matmul configuration rules: compute kernel configs, program-config validation and construction.

Shared by the matmul ops (ttfuse/ops/matmul.py), the norm ops and the config-selection pass. Rules follow
tt-metal `matmul_device_operation.cpp` (validate + output specs), the program factories' grid coverage and
ref/ttnn.md s5; figures (grid, L1 per core, DST budget) come from the target DeviceSpec, never literals.

`validate_matmul_program_config` checks, naming the offending fields: no zero fields; Kt % in0_block_w;
per_core_M/N divisible by out_block_h/w and by out_subblock_h/w; out_subblock_h*out_subblock_w within the
DST budget (`DeviceSpec.dst_tiles`: 8, 4 with fp32_dest_acc_en, doubled by dst_full_sync_en); the grid
within the device's compute grid; per-core blocks covering M and N (2D: M over grid y and N over x,
transpose_mcast swaps; 1D: mcast_in0=True splits N only, False splits M only; batched reuse: per_core_N == Nt);
sharding per variant (DRAM-sharded needs WIDTH_SHARDED a in L1 and b in DRAM); circular buffers (in0 and in1
double-buffered blocks, the output block, an fp32 intermediate block when fp32_dest_acc_en changes the format,
the bias row) within `DeviceSpec.l1_per_core` at the dtypes' tile sizes. L1 tensors outside CBs are not
counted. Extend a variant in `_check_variant`.

`matmul_2d_program_config` builds a 2D config by the TT rules; `pick_subblock` walks SUBBLOCK_HW_CHOICES.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ttfuse.configs import (
    MATMUL_PROGRAM_CONFIGS,
    MathFidelity,
    MatmulMultiCoreReuseMultiCast1DProgramConfig,
    MatmulMultiCoreReuseMultiCastDRAMShardedProgramConfig,
    MatmulMultiCoreReuseMultiCastProgramConfig,
    MatmulMultiCoreReuseProgramConfig,
    MinimalMatmulConfig,
    WormholeComputeKernelConfig,
)
from ttfuse.device import TILE, TILE_BYTES
from ttfuse.device import device_spec as _default_device_spec
from ttfuse.opdef import current_device_spec
from ttfuse.ops.activations import normalize_activation
from ttfuse.ops.common import fail
from ttfuse.types import (
    BufferType,
    CoreCoord,
    CoreRange,
    CoreRangeSet,
    DataType,
    ShardOrientation,
    ShardSpec,
    TensorMemoryLayout,
    TensorSpec,
    num_cores_to_corerangeset,
)

FLOAT_DTYPES = frozenset({DataType.BFLOAT16, DataType.FLOAT32, DataType.BFLOAT8_B, DataType.BFLOAT4_B})
# tt-metal SUBBLOCK_HW_CHOICES as (out_subblock_h, out_subblock_w), in priority order (ref/ttnn.md s5).
# fmt: off
SUBBLOCK_HW_CHOICES = ((4, 2), (2, 4), (8, 1), (1, 8), (7, 1), (1, 7), (3, 2), (2, 3), (6, 1), (1, 6), (5, 1),
                       (1, 5), (2, 2), (4, 1), (1, 4), (3, 1), (1, 3), (2, 1), (1, 2), (1, 1))
# fmt: on
_W, _H, _I = (
    TensorMemoryLayout.WIDTH_SHARDED,
    TensorMemoryLayout.HEIGHT_SHARDED,
    TensorMemoryLayout.INTERLEAVED,
)


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def device_spec_or_default(device_spec):
    """`device_spec`, else the current device's, else the default kind (`TTFUSE_ARCH` or Wormhole n150)."""
    return device_spec or current_device_spec() or _default_device_spec()


# ----------------------------------------------------------------------------------- compute kernel config
def validate_compute_kernel_config(op: str, cfg, arg: str = "compute_kernel_config") -> None:
    """SpecError unless `cfg` is None or a well-formed ttnn.WormholeComputeKernelConfig."""
    if cfg is None:
        return
    if not isinstance(cfg, WormholeComputeKernelConfig):
        raise fail(
            op,
            f"argument {arg!r} must be a ttnn.WormholeComputeKernelConfig (or "
            f"ttnn.init_device_compute_kernel_config(...)), got {type(cfg).__name__}",
        )
    if not isinstance(cfg.math_fidelity, MathFidelity):
        raise fail(
            op,
            f"argument {arg!r}: math_fidelity must be a ttnn.MathFidelity (LoFi, HiFi2, HiFi3, "
            f"HiFi4), got {cfg.math_fidelity!r}",
        )
    for f in ("math_approx_mode", "fp32_dest_acc_en", "packer_l1_acc", "dst_full_sync_en"):
        if not isinstance(getattr(cfg, f), bool):
            raise fail(op, f"argument {arg!r}: {f} must be a bool, got {getattr(cfg, f)!r}")
    if not isinstance(cfg.throttle_level, int) or not 0 <= cfg.throttle_level <= 5:
        raise fail(op, f"argument {arg!r}: throttle_level must be an int in 0..5, got {cfg.throttle_level!r}")


def matmul_default_compute_kernel_config(
    a_dtype: DataType,
    b_dtype: DataType,
    out_dtype: DataType,
    *,
    has_program_config: bool = False,
    has_core_grid: bool = False,
) -> WormholeComputeKernelConfig:
    """The compute kernel config ttnn's matmul uses when none is passed (`create_matmul_attributes`)."""
    low = a_dtype.is_block_float and b_dtype.is_block_float
    fid = MathFidelity.LoFi if (has_program_config or has_core_grid or low) else MathFidelity.HiFi2
    if a_dtype is DataType.FLOAT32 and b_dtype is DataType.FLOAT32:
        fid = MathFidelity.HiFi4
    f32 = out_dtype is DataType.FLOAT32
    return WormholeComputeKernelConfig(
        math_fidelity=fid, math_approx_mode=False, fp32_dest_acc_en=f32, packer_l1_acc=not f32
    )


# ------------------------------------------------------------------------------------------ shape rules
class MatmulDims:
    """Matmul geometry of (a, b) after transposes: logical M, K, N, tile counts, batch facts, output shape."""

    def __init__(
        self,
        op: str,
        a: TensorSpec,
        b: TensorSpec,
        ta: bool,
        tb: bool,
        names: tuple[str, str] = ("input_tensor_a", "input_tensor_b"),
    ):
        na, nb = names
        if a.rank == 0 or b.rank == 0:
            raise fail(op, f"both arguments need rank >= 1, got shapes {list(a.shape)} and {list(b.shape)}")
        for name, s, t, flag in ((na, a, ta, "transpose_a"), (nb, b, tb, "transpose_b")):
            if t and s.rank < 2:
                raise fail(op, f"argument {name!r} of rank 1 cannot be transposed ({flag}=True)")
        sa = list(a.shape) if a.rank >= 2 else [1, a.shape[0]]
        sb = list(b.shape) if b.rank >= 2 else [b.shape[0], 1]
        if ta:
            sa[-2], sa[-1] = sa[-1], sa[-2]
        if tb:
            sb[-2], sb[-1] = sb[-1], sb[-2]
        self.M, self.K, self.N = sa[-2], sa[-1], sb[-1]
        if sa[-1] != sb[-2]:
            raise fail(
                op,
                f"the width of argument {na!r} ({sa[-1]}) must equal the height of argument "
                f"{nb!r} ({sb[-2]}); shapes {list(a.shape)} and {list(b.shape)}"
                f"{' (after transposes)' if ta or tb else ''}",
            )
        ba, bb = sa[:-2], sb[:-2]
        self.a_batched = any(d != 1 for d in ba)
        self.b_batched = any(d != 1 for d in bb)
        if not self.b_batched:
            batch = [1] * max(0, len(bb) - len(ba)) + list(ba)  # b's batch dims are all 1: a's win
        elif not self.a_batched and len(ba) == len(bb) and a.rank >= 3:
            if a.memory_config.is_sharded() or b.memory_config.is_sharded():
                raise fail(
                    op,
                    f"an unbatched {na!r} with a batched {nb!r} needs both inputs interleaved (not sharded)",
                )
            batch = bb
        elif ba == bb:
            batch = ba
        else:
            raise fail(
                op,
                f"batch dims of {na!r} {ba} and {nb!r} {bb} must be equal, or {nb!r} must have all "
                f"batch dims 1 (broadcast), or {na!r} all 1 with equal ranks >= 3",
            )
        self.batch = math.prod(batch)
        self.batch_a = math.prod(ba)
        self.out_shape = (
            tuple(batch) + ((self.M,) if a.rank >= 2 else ()) + ((self.N,) if b.rank >= 2 else ())
        )
        self.Mt, self.Kt, self.Nt = _cdiv(self.M, TILE), _cdiv(self.K, TILE), _cdiv(self.N, TILE)


# ------------------------------------------------------------------------------ program config validation
def _grid_of(cfg, ds) -> tuple[int, int]:
    g = getattr(cfg, "compute_with_storage_grid_size", None)
    return tuple(g) if g is not None else tuple(ds.grid)


def _shard_tiles(s: TensorSpec) -> tuple[int, int] | None:
    sp = s.memory_config.shard_spec
    return None if sp is None else (sp.shape[0] // TILE, sp.shape[1] // TILE)


def validate_matmul_program_config(
    op: str,
    cfg,
    a: TensorSpec,
    b: TensorSpec,
    out: TensorSpec,
    compute_kernel_config,
    device_spec,
    *,
    transpose_a: bool = False,
    transpose_b: bool = False,
    bias: TensorSpec | None = None,
) -> None:
    """Raise SpecError (naming the fields) unless `cfg` is a valid matmul program config for these specs.

    `compute_kernel_config` is the resolved one (it sets the DST budget); `device_spec` the target (None:
    the current device, else the default kind). Rules: tt-metal `matmul_device_operation.cpp` validate,
    the program factories' grid coverage, and circular buffers within `device_spec.l1_per_core`.
    """
    if not isinstance(cfg, MATMUL_PROGRAM_CONFIGS):
        names = ", ".join(c.__name__ for c in MATMUL_PROGRAM_CONFIGS)
        raise fail(op, f"argument 'program_config' must be one of ttnn.{{{names}}}, got {type(cfg).__name__}")
    ds = device_spec_or_default(device_spec)
    d = MatmulDims(op, a, b, transpose_a, transpose_b)
    name = type(cfg).__name__

    def bad(msg: str):
        return fail(op, f"argument 'program_config' ({name}): {msg}")

    fields = ["in0_block_w", "per_core_M", "per_core_N"]
    if hasattr(cfg, "out_subblock_h"):
        fields += ["out_subblock_h", "out_subblock_w"]
    for f in fields + ["out_block_h", "out_block_w"]:
        v = getattr(cfg, f, None)
        if (v is not None or f in fields) and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
            raise bad(f"{f}={v!r} must be a positive integer (no zero fields)")
    gx, gy = _grid_of(cfg, ds)
    if gx < 1 or gy < 1 or gx > ds.grid[0] or gy > ds.grid[1]:
        raise bad(
            f"compute_with_storage_grid_size=({gx}, {gy}) does not fit the device's compute grid "
            f"({ds.grid[0]}, {ds.grid[1]}) on {ds.name}"
        )
    if d.Kt % cfg.in0_block_w:
        raise bad(f"Kt={d.Kt} (K={d.K} in tiles) is not divisible by in0_block_w={cfg.in0_block_w}")
    pm, pn = cfg.per_core_M, cfg.per_core_N
    obh = getattr(cfg, "out_block_h", None) or pm
    obw = getattr(cfg, "out_block_w", None) or pn
    ckc = compute_kernel_config or WormholeComputeKernelConfig()
    if hasattr(cfg, "out_subblock_h"):
        sh, sw = cfg.out_subblock_h, cfg.out_subblock_w
        for big, bn, small, sn in (
            (pm, "per_core_M", sh, "out_subblock_h"),
            (pn, "per_core_N", sw, "out_subblock_w"),
            (pm, "per_core_M", obh, "out_block_h"),
            (pn, "per_core_N", obw, "out_block_w"),
            (obh, "out_block_h", sh, "out_subblock_h"),
            (obw, "out_block_w", sw, "out_subblock_w"),
        ):
            if big % small:
                raise bad(f"{bn}={big} is not divisible by {sn}={small}")
        dst = ds.dst_tiles(ckc.fp32_dest_acc_en, ckc.dst_full_sync_en)
        if sh * sw > dst:
            raise bad(
                f"out_subblock_h*out_subblock_w = {sh}*{sw} = {sh * sw} tiles exceeds the DST register budget "
                f"of {dst} tiles (fp32_dest_acc_en={ckc.fp32_dest_acc_en} halves it, "
                f"dst_full_sync_en={ckc.dst_full_sync_en} doubles it)"
            )
        if out.memory_config.is_sharded() and not (sw == pn or sh == 1):
            raise bad(
                f"a sharded output needs out_subblock_w == per_core_N ({pn}) or out_subblock_h == 1, got "
                f"out_subblock_h={sh}, out_subblock_w={sw}"
            )
    fa = getattr(cfg, "fused_activation", None)
    if fa is not None:
        normalize_activation(op, fa, "program_config.fused_activation")
    _check_variant(op, cfg, bad, d, a, b, out, (gx, gy), ds)
    _check_cbs(bad, cfg, a, b, out, ckc, bias, obh, obw, ds)


def _check_variant(op, cfg, bad, d: MatmulDims, a, b, out, grid, ds) -> None:
    gx, gy = grid
    pm, pn = cfg.per_core_M, cfg.per_core_N
    omc = out.memory_config
    fuse = getattr(cfg, "fuse_batch", False)
    if fuse and d.b_batched:
        raise bad(
            "fuse_batch=True needs 'input_tensor_b' unbatched (shapes BCMK x 11KN); set fuse_batch=False"
        )
    m_total = d.batch * d.Mt if fuse else d.Mt
    for s, nm in ((a, "input_tensor_a"), (b, "input_tensor_b")):
        sp = s.memory_config.shard_spec
        if (
            sp is not None
            and s.buffer_type is BufferType.L1
            and not isinstance(cfg, MatmulMultiCoreReuseMultiCastDRAMShardedProgramConfig)
        ):
            bb = sp.grid.bounding_box()
            if bb.end.x >= gx or bb.end.y >= gy:
                raise bad(
                    f"the shard grid of {nm!r} (up to core ({bb.end.x}, {bb.end.y})) is outside the config "
                    f"grid ({gx}, {gy})"
                )
    a_tiles = _shard_tiles(a)
    if isinstance(cfg, MatmulMultiCoreReuseMultiCastProgramConfig):
        ny, nx = (gx, gy) if cfg.transpose_mcast else (gy, gx)
        if pm * ny < m_total:
            raise bad(
                f"per_core_M={pm} x {ny} cores along grid {'x' if cfg.transpose_mcast else 'y'} = "
                f"{pm * ny} tile rows do not cover M={m_total} tiles"
            )
        if pn * nx < d.Nt:
            raise bad(
                f"per_core_N={pn} x {nx} cores along grid {'y' if cfg.transpose_mcast else 'x'} = "
                f"{pn * nx} tile columns do not cover N={d.Nt} tiles"
            )
        if a.memory_config.is_sharded():
            if a.memory_config.memory_layout not in (TensorMemoryLayout.BLOCK_SHARDED, _H):
                raise bad(
                    f"'input_tensor_a' must be block or height sharded, got {a.memory_config.memory_layout!r}"
                )
            if a_tiles is not None and a_tiles[0] != pm:
                raise bad(
                    f"per_core_M={pm} must equal the shard height of 'input_tensor_a' in tiles ({a_tiles[0]})"
                )
        if b.memory_config.is_sharded() and b.memory_config.memory_layout is not _W:
            raise bad(
                f"a sharded 'input_tensor_b' must be WIDTH_SHARDED, got {b.memory_config.memory_layout!r}"
            )
        if omc.is_sharded() and omc.memory_layout is not TensorMemoryLayout.BLOCK_SHARDED:
            raise bad(
                f"the output memory config must be BLOCK_SHARDED (or interleaved), got {omc.memory_layout!r}"
            )
    elif isinstance(cfg, MatmulMultiCoreReuseMultiCast1DProgramConfig):
        nby, nbx = _cdiv(m_total, pm), _cdiv(d.Nt, pn)
        if nby * nbx > gx * gy:
            raise bad(
                f"{nby}x{nbx} = {nby * nbx} output blocks of per_core_M={pm} x per_core_N={pn} tiles need more "
                f"cores than the {gx}x{gy} grid has ({gx * gy})"
            )
        if cfg.mcast_in0 and nby != 1:
            raise bad(
                f"mcast_in0=True splits only N over cores: per_core_M={pm} must cover M={m_total} tiles"
            )
        if not cfg.mcast_in0 and nbx != 1:
            raise bad(f"mcast_in0=False splits only M over cores: per_core_N={pn} must cover N={d.Nt} tiles")
        want = _W if cfg.mcast_in0 else _H
        if a.memory_config.is_sharded():
            if a.memory_config.memory_layout is not want:
                raise bad(
                    f"with mcast_in0={cfg.mcast_in0}, 'input_tensor_a' must be {want.value}, got "
                    f"{a.memory_config.memory_layout.value}"
                )
            if a_tiles is not None and a_tiles[0] != pm:
                raise bad(
                    f"per_core_M={pm} must equal the shard height of 'input_tensor_a' in tiles ({a_tiles[0]})"
                )
        if omc.is_sharded() and omc.memory_layout is not want:
            raise bad(
                f"with mcast_in0={cfg.mcast_in0} a sharded output must be {want.value}, got "
                f"{omc.memory_layout.value}"
            )
    elif isinstance(cfg, MatmulMultiCoreReuseMultiCastDRAMShardedProgramConfig):
        if a.memory_config.memory_layout is not _W or a.buffer_type is not BufferType.L1:
            raise bad(
                f"DRAM-sharded matmul needs 'input_tensor_a' WIDTH_SHARDED in L1, got {a.memory_config.short}"
            )
        if b.memory_config.memory_layout is not _W or b.buffer_type is not BufferType.DRAM:
            raise bad(
                "DRAM-sharded matmul needs 'input_tensor_b' WIDTH_SHARDED over DRAM banks, got "
                f"{b.memory_config.short}"
            )
        if omc.memory_layout is not _W or omc.buffer_type is not a.buffer_type:
            raise bad(
                f"DRAM-sharded matmul needs the output sharded like 'input_tensor_a' (WIDTH_SHARDED L1), got "
                f"{omc.short}"
            )
        m_all = d.batch * d.Mt
        if m_all != pm:
            raise bad(f"per_core_M={pm} must equal M={m_all} tiles (no padding in DRAM-sharded matmul)")
        if a_tiles is not None and a_tiles[1] % cfg.in0_block_w:
            raise bad(
                f"the shard width of 'input_tensor_a' ({a_tiles[1]} tiles) is not divisible by "
                f"in0_block_w={cfg.in0_block_w}"
            )
    elif isinstance(cfg, MatmulMultiCoreReuseProgramConfig):
        if pn != d.Nt:
            raise bad(f"per_core_N={pn} must equal N={d.Nt} tiles")
        total = d.batch_a * d.Mt
        if pm > d.Mt and (pm % d.Mt or total % pm):
            raise bad(
                f"per_core_M={pm} > Mt={d.Mt} must be a multiple of Mt dividing the total M={total} tiles"
            )
        if pm <= d.Mt and d.Mt % pm:
            raise bad(f"per_core_M={pm} must divide Mt={d.Mt}")
        if d.a_batched and not d.b_batched:
            raise bad("batch broadcasting (batched a, unbatched b) is not supported by this program config")
        if _cdiv(d.batch * d.Mt, pm) > gx * gy:
            raise bad(
                f"{_cdiv(d.batch * d.Mt, pm)} output blocks need more cores than the {gx}x{gy} grid has"
            )
        if omc.is_sharded() and omc.memory_layout is _W:
            raise bad("the output memory config must not be WIDTH_SHARDED")


def _check_cbs(bad, cfg, a, b, out, ckc, bias, obh: int, obw: int, ds) -> None:
    """Circular buffers per core (double-buffered inputs, output block, intermediates) must fit L1."""
    w = cfg.in0_block_w
    interm = DataType.FLOAT32 if ckc.fp32_dest_acc_en else out.dtype
    out_tiles = cfg.per_core_M * cfg.per_core_N if out.memory_config.is_sharded() else obh * obw
    parts = {
        "in0": 2 * w * obh * TILE_BYTES[a.dtype.value],
        "in1": 2 * w * obw * TILE_BYTES[b.dtype.value],
        "out": out_tiles * TILE_BYTES[out.dtype.value],
    }
    if interm is not out.dtype:
        parts["interm"] = obh * obw * TILE_BYTES[interm.value]
    if bias is not None:
        parts["bias"] = cfg.per_core_N * TILE_BYTES[bias.dtype.value]
    total = sum(parts.values())
    if total > ds.l1_per_core:
        detail = ", ".join(f"{k} {v:,} B" for k, v in parts.items())
        raise bad(
            f"circular buffers need {total:,} B per core ({detail}) but a core has {ds.l1_per_core:,} B of L1 "
            f"on {ds.name}; reduce in0_block_w or the out block (in0_block_w={w}, out block {obh}x{obw})"
        )


def pick_subblock(per_core_M: int, per_core_N: int, dst_tiles: int) -> tuple[int, int]:
    """First (h, w) of SUBBLOCK_HW_CHOICES dividing the per-core block and fitting the DST budget."""
    for h, w in SUBBLOCK_HW_CHOICES:
        if per_core_M % h == 0 and per_core_N % w == 0 and h * w <= dst_tiles:
            return h, w
    return 1, 1


def matmul_2d_program_config(
    a: TensorSpec,
    b: TensorSpec,
    device_spec=None,
    *,
    transpose_a: bool = False,
    transpose_b: bool = False,
    grid: tuple[int, int] | None = None,
    compute_kernel_config=None,
    fused_activation=None,
    out_dtype: DataType | None = None,
) -> MatmulMultiCoreReuseMultiCastProgramConfig:
    """A 2D multicast config by the TT rules: per_core_M = ceil(Mt/grid_y), per_core_N = ceil(Nt/grid_x),
    subblocks from SUBBLOCK_HW_CHOICES; then the largest out block (divisors of the per-core block, multiples of
    the subblock; out_block_h/w stay None when whole) and in0_block_w (<= 8, dividing Kt) whose CBs fit L1."""
    ds = device_spec_or_default(device_spec)
    d = MatmulDims("matmul", a, b, transpose_a, transpose_b)
    gx, gy = grid or ds.grid
    fuse = not d.b_batched
    m = d.batch * d.Mt if fuse else d.Mt
    pm, pn = _cdiv(m, gy), _cdiv(d.Nt, gx)
    out_dt = out_dtype or a.dtype
    ckc = compute_kernel_config or matmul_default_compute_kernel_config(
        a.dtype, b.dtype, out_dt, has_program_config=True
    )
    sh, sw = pick_subblock(pm, pn, ds.dst_tiles(ckc.fp32_dest_acc_en, ckc.dst_full_sync_en))
    per_out_tile = TILE_BYTES[out_dt.value] + (
        TILE_BYTES["float32"] if ckc.fp32_dest_acc_en and out_dt.value != "float32" else 0
    )
    ab, bb = TILE_BYTES[a.dtype.value], TILE_BYTES[b.dtype.value]
    blocks = sorted(
        ((h, w) for h in _divisors(pm, sh) for w in _divisors(pn, sw)), key=lambda hw: -hw[0] * hw[1]
    )
    obh, obw, k = sh, sw, 1
    for h, w in blocks:
        fits = [
            c
            for c in range(min(d.Kt, 8), 0, -1)
            if d.Kt % c == 0 and h * w * per_out_tile + 2 * c * (h * ab + w * bb) <= ds.l1_per_core
        ]
        if fits:
            obh, obw, k = h, w, fits[0]
            break
    return MatmulMultiCoreReuseMultiCastProgramConfig(
        compute_with_storage_grid_size=(gx, gy),
        in0_block_w=k,
        out_subblock_h=sh,
        out_subblock_w=sw,
        per_core_M=pm,
        per_core_N=pn,
        out_block_h=None if obh == pm else obh,
        out_block_w=None if obw == pn else obw,
        transpose_mcast=False,
        fused_activation=fused_activation,
        fuse_batch=fuse,
    )


def _divisors(n: int, step: int) -> list[int]:
    """Divisors of n that are multiples of step, largest first."""
    return [x for x in range(n, 0, -1) if n % x == 0 and x % step == 0]


def matmul_output_shard_spec(cfg, d: MatmulDims, a: TensorSpec, b: TensorSpec, ds) -> ShardSpec:
    """The output shard spec ttnn derives from a program config (`compute_output_specs`)."""
    pm, pn = cfg.per_core_M, cfg.per_core_N
    fuse = getattr(cfg, "fuse_batch", True)
    m = d.batch * d.Mt if fuse or isinstance(cfg, MatmulMultiCoreReuseMultiCastProgramConfig) else d.Mt
    nby, nbx = _cdiv(m, pm), _cdiv(d.Nt, pn)
    shape = (pm * TILE, pn * TILE)
    if isinstance(cfg, MatmulMultiCoreReuseMultiCastProgramConfig):
        if cfg.transpose_mcast:
            return ShardSpec(
                CoreRangeSet(CoreRange(CoreCoord(0, 0), CoreCoord(nby - 1, nbx - 1))),
                shape,
                ShardOrientation.COL_MAJOR,
            )
        return ShardSpec(CoreRangeSet(CoreRange(CoreCoord(0, 0), CoreCoord(nbx - 1, nby - 1))), shape)
    grid = _grid_of(cfg, ds)
    orient = ShardOrientation.ROW_MAJOR
    if isinstance(cfg, MatmulMultiCoreReuseProgramConfig):
        src = a.memory_config.shard_spec or b.memory_config.shard_spec
        orient = src.orientation if src is not None else ShardOrientation.COL_MAJOR
    rows = orient is ShardOrientation.ROW_MAJOR
    return ShardSpec(num_cores_to_corerangeset(nby * nbx, grid, rows), shape, orient)


def minimal_matmul_default_compute_kernel_config() -> WormholeComputeKernelConfig:
    """minimal_matmul's default: HiFi2, fp32 accumulation, packer L1 accumulation (ttnn docstring)."""
    return WormholeComputeKernelConfig(
        math_fidelity=MathFidelity.HiFi2, math_approx_mode=False, fp32_dest_acc_en=True, packer_l1_acc=True
    )


@dataclass(frozen=True)
class MinimalMatmulWork:
    """How minimal_matmul spreads its output over a config's grid (tiles): the M axis over `m_cores` (grid y, or
    grid x when the grid is transposed for M > N), N over `n_cores`, `m_per_core` x `n_per_core` tiles each (both
    axes padded up to a multiple of their cores; with fuse_swiglu N is split in gate/up pairs, n_per_core counts
    weight tiles). tt-metal: ttnn/cpp/ttnn/operations/experimental/minimal_matmul/device/
    minimal_matmul_program_factory.cpp (transpose_core_grid, padded_M_tiles, N_tiles_per_core)."""

    m_cores: int
    n_cores: int
    m_per_core: int
    n_per_core: int
    kt_padded: int
    m_blocks_per_core: int

    @property
    def cores(self) -> int:
        return self.m_cores * self.n_cores

    @property
    def core_tiles(self) -> int:
        """Tile multiply-accumulates of one core (every core gets the same padded share)."""
        return self.m_per_core * self.n_per_core * self.kt_padded


def minimal_matmul_work(Mt: int, Kt: int, Nt: int, cfg, *, fuse_swiglu: bool = False) -> MinimalMatmulWork:
    """The per-core work of minimal_matmul (Mt x Kt @ Kt x Nt tiles, M with the leading dims folded in) under
    MinimalMatmulConfig `cfg`."""
    gx, gy = cfg.compute_with_storage_grid_size
    transpose = Mt > Nt
    m_cores, n_cores = (gx, gy) if transpose else (gy, gx)
    m_pc = _cdiv(Mt, m_cores)
    n_pc = 2 * _cdiv(Nt // 2, n_cores) if fuse_swiglu else _cdiv(Nt, n_cores)
    kt = _cdiv(Kt, cfg.K_block_size) * cfg.K_block_size
    return MinimalMatmulWork(m_cores, n_cores, m_pc, n_pc, kt, _cdiv(m_pc, cfg.M_block_size))


def minimal_matmul_cb_bytes(
    cfg, a_dtype, w_dtype, out_dtype, *, fp32_acc: bool, fuse_swiglu=False, bias_dtype=None, m_blocks=2
) -> dict[str, int]:
    """Circular-buffer bytes per core of minimal_matmul by buffer (same program factory): in0 / in1 blocks double
    buffered, an in1 scratch block, the output block (halved with fuse_swiglu, double buffered when a core has
    several M blocks), an intermediate block in the DST format, a bias row."""
    mb, kb, nb = cfg.M_block_size, cfg.K_block_size, cfg.N_block_size
    out_tiles = mb * nb // (2 if fuse_swiglu else 1)
    parts = {
        "in0": 2 * mb * kb * TILE_BYTES[a_dtype.value],
        "in1": 3 * kb * nb * TILE_BYTES[w_dtype.value],
        "out": out_tiles * (2 if m_blocks > 1 else 1) * TILE_BYTES[out_dtype.value],
        "interm": mb * nb * TILE_BYTES["float32" if fp32_acc else "bfloat16"],
    }
    if bias_dtype is not None:
        parts["bias"] = nb * TILE_BYTES[bias_dtype.value]
    return parts


def check_minimal_matmul_config(
    op: str, cfg, ckc, *, a=None, w=None, out_dtype=None, bias=None, fuse_swiglu: bool = False
) -> None:
    """The config's own invariants (ttnn's docstring), the grid, the DST budget; with the operands (`a`, `w` the
    input and weight TensorSpecs): SwiGLU's even N blocks and the circular buffers within a core's L1."""
    if not isinstance(cfg, MinimalMatmulConfig):
        raise fail(op, f"argument 'config' must be a ttnn.MinimalMatmulConfig, got {type(cfg).__name__}")
    for f in ("M_block_size", "K_block_size", "N_block_size", "subblock_h", "subblock_w"):
        v = getattr(cfg, f)
        if not isinstance(v, int) or v < 1:
            raise fail(op, f"argument 'config': {f}={v!r} must be a positive integer")
    for blk, sub in (("M_block_size", "subblock_h"), ("N_block_size", "subblock_w")):
        if getattr(cfg, blk) % getattr(cfg, sub):
            raise fail(
                op,
                f"argument 'config': {blk}={getattr(cfg, blk)} is not divisible by {sub}={getattr(cfg, sub)}",
            )
    ds = device_spec_or_default(None)
    gx, gy = cfg.compute_with_storage_grid_size
    if not (1 <= gx <= ds.grid[0] and 1 <= gy <= ds.grid[1]):
        raise fail(
            op,
            f"argument 'config': compute_with_storage_grid_size=({gx}, {gy}) does not fit the device's "
            f"compute grid ({ds.grid[0]}, {ds.grid[1]}) on {ds.name}",
        )
    dst = ds.dst_tiles(ckc.fp32_dest_acc_en, ckc.dst_full_sync_en)
    if cfg.subblock_h * cfg.subblock_w > dst:
        raise fail(
            op,
            f"argument 'config': subblock_h*subblock_w = {cfg.subblock_h}*{cfg.subblock_w} exceeds the "
            f"DST register budget of {dst} tiles (fp32_dest_acc_en={ckc.fp32_dest_acc_en})",
        )
    if a is None or w is None:
        return
    if fuse_swiglu and cfg.N_block_size % 2:
        # program factory: TT_FATAL(N_tiles % 2 == 0 && N_tiles_per_core % 2 == 0 && N_block_tiles % 2 == 0)
        raise fail(op, f"argument 'config': N_block_size={cfg.N_block_size} must be even with fuse_swiglu")
    mt = math.prod(tuple(a.padded_shape)[:-1]) // TILE
    work = minimal_matmul_work(
        mt, _cdiv(w.shape[-2], TILE), _cdiv(w.shape[-1], TILE), cfg, fuse_swiglu=fuse_swiglu
    )
    parts = minimal_matmul_cb_bytes(
        cfg,
        a.dtype,
        w.dtype,
        out_dtype or a.dtype,
        fp32_acc=ckc.fp32_dest_acc_en,
        fuse_swiglu=fuse_swiglu,
        bias_dtype=None if bias is None else bias.dtype,
        m_blocks=work.m_blocks_per_core,
    )
    total = sum(parts.values())
    if total > ds.l1_per_core:
        detail = ", ".join(f"{k} {v:,} B" for k, v in parts.items())
        raise fail(
            op,
            f"argument 'config': circular buffers need {total:,} B per core ({detail}) but a core has "
            f"{ds.l1_per_core:,} B of L1 on {ds.name}; reduce M_block_size, K_block_size or N_block_size",
        )


def matmul_core_tiles_of(d: MatmulDims, cfg, grid: tuple[int, int], num_cores: int) -> tuple[float, int]:
    """(tile multiply-accumulates of the busiest core, cores used) of matmul `d` under program config `cfg` (None:
    ttnn's default, 2D over `grid`, batches fused into M); `grid`: the (x, y) grid it runs on (`matmul_run_grid`)."""
    gx, gy = grid
    if isinstance(
        cfg, MatmulMultiCoreReuseMultiCastProgramConfig | MatmulMultiCoreReuseMultiCast1DProgramConfig
    ):
        fuse = cfg.fuse_batch and not d.b_batched
        m = d.batch * d.Mt if fuse else d.Mt
        blocks = _cdiv(m, cfg.per_core_M) * _cdiv(d.Nt, cfg.per_core_N)
        per_batch = 1 if fuse else d.batch
        cores = min(blocks, gx * gy)
        rounds = _cdiv(blocks, max(cores, 1))
        return float(cfg.per_core_M * cfg.per_core_N * d.Kt * rounds * per_batch), cores
    if isinstance(cfg, MatmulMultiCoreReuseProgramConfig):
        blocks = _cdiv(d.batch * d.Mt, cfg.per_core_M)
        cores = min(blocks, gx * gy)
        rounds = _cdiv(blocks, max(cores, 1))
        return float(cfg.per_core_M * cfg.per_core_N * d.Kt * rounds), cores
    if isinstance(cfg, MatmulMultiCoreReuseMultiCastDRAMShardedProgramConfig):
        cores = min(_cdiv(d.Nt, cfg.per_core_N), num_cores)
        return float(cfg.per_core_M * cfg.per_core_N * d.Kt), cores
    m = d.batch * d.Mt
    cy, cx = min(gy, m), min(gx, d.Nt)
    return float(_cdiv(m, cy) * _cdiv(d.Nt, cx) * d.Kt), cx * cy


def matmul_run_grid(cfg, usable: tuple[int, int], device_grid) -> tuple[int, int]:
    """The grid a matmul runs on: its program config's when that fits the device, else the usable grid."""
    cg = getattr(cfg, "compute_with_storage_grid_size", None)
    if cg is not None and cg[0] <= device_grid[0] and cg[1] <= device_grid[1]:
        return int(cg[0]), int(cg[1])
    return usable
