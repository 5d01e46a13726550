"""Program-config and compute-kernel-config selection by TT's rules (the decisions behind the select-configs pass).

Pure functions of (shapes, dtypes, DeviceSpec, options): no IR here, so they are testable over sweeps and reusable
by the pass, `ttfuse explain` and the conformance suite. Rules (ref/ttnn.md s3-5, tech_reports/LLMs/llms.md s4.3):
- variant: 1D mcast_in0 (N split over all cores) when M fits one row of tiles per core (Mt <= 2 or Mt*8 < Nt),
  1D mcast_in1 (M split) when N is narrow (Nt <= 2 or Nt*8 < Mt), else 2D (M over grid y, N over grid x);
- per_core_M = ceil(Mt / grid_y), per_core_N = ceil(Nt / grid_x) (2D); the grid shrinks to the tile counts;
- in0_block_w = the largest divisor of Kt (<= 8) whose circular buffers fit the L1 left per core;
- out_subblock = the first (h, w) of SUBBLOCK_HW_CHOICES dividing the per-core block within the DST budget
  (8 tiles, 4 with fp32 accumulation, x2 with dst_full_sync_en);
- when even in0_block_w = 1 overflows L1, out_block_h / out_block_w halve (they must divide per_core_M / N).
Every config returned is validated by `ttfuse.ops.matmul.validate_matmul_program_config` (the same check the
simulator applies when a program config is passed to ttnn.matmul / ttnn.linear).
Also here (used by ttfuse/passes/select.py): batched-B reuse configs, DRAM-sharded configs, minimal_matmul configs,
SDPA chunk sizes, and the sharded layernorm / softmax configs a sharded input implies.
Extend: add a variant by adding a builder and a branch in `select_matmul_config`; keep the rule in the docstring.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ttfuse.configs import (
    LayerNormShardedMultiCoreProgramConfig,
    MathFidelity,
    MatmulMultiCoreReuseMultiCast1DProgramConfig,
    MatmulMultiCoreReuseMultiCastDRAMShardedProgramConfig,
    MatmulMultiCoreReuseMultiCastProgramConfig,
    MatmulMultiCoreReuseProgramConfig,
    MinimalMatmulConfig,
    SDPAProgramConfig,
    SoftmaxShardedMultiCoreProgramConfig,
    UnaryWithParam,
    WormholeComputeKernelConfig,
)
from ttfuse.device import TILE, TILE_BYTES, DeviceSpec
from ttfuse.ops.matmul_config import (
    SUBBLOCK_HW_CHOICES,
    minimal_matmul_cb_bytes,
    minimal_matmul_work,
    pick_subblock,
)
from ttfuse.types import DataType


@dataclass(frozen=True)
class MatmulProblem:
    """One matmul as the selector sees it: tile counts, batch, dtypes."""

    Mt: int
    Kt: int
    Nt: int
    batch: int
    a_dtype: DataType
    b_dtype: DataType
    out_dtype: DataType

    @staticmethod
    def from_shapes(a_shape, b_shape, a_dtype, b_dtype, out_dtype, transpose_a=False, transpose_b=False):
        M, K = (a_shape[-1], a_shape[-2]) if transpose_a else (a_shape[-2], a_shape[-1])
        N = b_shape[-2] if transpose_b else b_shape[-1]
        batch = math.prod(a_shape[:-2]) if len(a_shape) > 2 else 1
        t = lambda v: -(-v // TILE)  # noqa: E731
        return MatmulProblem(t(M), t(K), t(N), batch, a_dtype, b_dtype, out_dtype)


def max_grid_of(spec: DeviceSpec, max_grid: tuple[int, int] | None) -> tuple[int, int]:
    """The usable (x, y) grid: the device grid clipped by jit(max_grid=(x_end, y_end)) (an end coordinate)."""
    gx, gy = spec.grid
    if max_grid is not None:
        gx, gy = min(gx, max_grid[0] + 1), min(gy, max_grid[1] + 1)
    return max(gx, 1), max(gy, 1)


def compute_kernel_config_for(
    dtypes: tuple[DataType, ...], *, fidelity: MathFidelity | None = None, fp32_acc: bool | None = None
) -> WormholeComputeKernelConfig:
    """Compute kernel config by dtype: HiFi2 for bf16/bfp8 operands, LoFi when any is bfp4, HiFi4 for f32;
    fp32 accumulation for f32 operands (and when asked). A decorator `math_fidelity` overrides the fidelity."""
    if fidelity is None:
        if DataType.FLOAT32 in dtypes:
            fidelity = MathFidelity.HiFi4
        elif DataType.BFLOAT4_B in dtypes:
            fidelity = MathFidelity.LoFi
        else:
            fidelity = MathFidelity.HiFi2
    if fp32_acc is None:
        fp32_acc = DataType.FLOAT32 in dtypes
    return WormholeComputeKernelConfig(
        math_fidelity=fidelity,
        math_approx_mode=False,
        fp32_dest_acc_en=fp32_acc,
        packer_l1_acc=True,
        dst_full_sync_en=False,
    )


def cb_bytes(p: MatmulProblem, in0_block_w: int, out_block_h: int, out_block_w: int, fp32_acc: bool) -> int:
    """Circular-buffer bytes per core: double-buffered in0/in1 blocks, the output block, an fp32 interm block."""
    tb = TILE_BYTES
    in0 = 2 * in0_block_w * out_block_h * tb[p.a_dtype.value]
    in1 = 2 * in0_block_w * out_block_w * tb[p.b_dtype.value]
    out = out_block_h * out_block_w * tb[p.out_dtype.value]
    interm = (
        out_block_h * out_block_w * tb["float32"] if (fp32_acc and p.out_dtype is not DataType.FLOAT32) else 0
    )
    return in0 + in1 + out + interm


def _divisors_desc(n: int, cap: int) -> list[int]:
    return [d for d in range(min(n, cap), 0, -1) if n % d == 0]


def _blocks(p: MatmulProblem, per_core_M: int, per_core_N: int, l1_free: int, fp32_acc: bool):
    """(in0_block_w, out_block_h, out_block_w) fitting l1_free bytes per core, largest first; None if nothing fits."""
    for obh in _divisors_desc(per_core_M, per_core_M):
        for obw in _divisors_desc(per_core_N, per_core_N):
            for w in _divisors_desc(p.Kt, 8):
                if cb_bytes(p, w, obh, obw, fp32_acc) <= l1_free:
                    return w, obh, obw
            if obw == 1:
                break
    return None


def select_matmul_config(
    p: MatmulProblem,
    spec: DeviceSpec,
    *,
    max_grid: tuple[int, int] | None = None,
    fp32_acc: bool = False,
    dst_full_sync: bool = False,
    fused_activation: UnaryWithParam | None = None,
    l1_reserved_per_core: int = 0,
):
    """The program config TT's rules give for this matmul on this device, or None when no block fits L1.

    `l1_reserved_per_core`: L1 already taken per core by tensors that stay live (interleaved L1 tensors are spread
    over all cores), so circular buffers must fit in what is left.
    """
    gx, gy = max_grid_of(spec, max_grid)
    dst = spec.dst_tiles(fp32_acc, dst_full_sync)
    l1_free = spec.l1_per_core - l1_reserved_per_core
    fuse_batch = p.batch > 1
    Mt = p.Mt * (p.batch if fuse_batch else 1)
    cores = gx * gy
    if Mt <= 2 or Mt * 8 < p.Nt:  # 1D, in0 multicast: every core owns a slice of N
        ncores = min(cores, p.Nt)
        per_core_M, per_core_N = Mt, -(-p.Nt // ncores)
        grid = _grid_for(ncores, gx, gy)
        kind = "1d_mcast_in0"
    elif p.Nt <= 2 or p.Nt * 8 < Mt:  # 1D, in1 multicast: every core owns a slice of M
        ncores = min(cores, Mt)
        per_core_M, per_core_N = -(-Mt // ncores), p.Nt
        grid = _grid_for(ncores, gx, gy)
        kind = "1d_mcast_in1"
    else:  # 2D: M over grid y, N over grid x
        gy2, gx2 = min(gy, Mt), min(gx, p.Nt)
        per_core_M, per_core_N = -(-Mt // gy2), -(-p.Nt // gx2)
        grid = (gx2, gy2)
        kind = "2d"
    blk = _blocks(p, per_core_M, per_core_N, l1_free, fp32_acc)
    if blk is None:
        return None
    in0_block_w, obh, obw = blk
    sh, sw = pick_subblock(obh, obw, dst)
    common = dict(
        compute_with_storage_grid_size=grid,
        in0_block_w=in0_block_w,
        out_subblock_h=sh,
        out_subblock_w=sw,
        per_core_M=per_core_M,
        per_core_N=per_core_N,
        out_block_h=obh if obh != per_core_M else None,
        out_block_w=obw if obw != per_core_N else None,
        fused_activation=fused_activation,
        fuse_batch=fuse_batch,
    )
    if kind == "2d":
        return MatmulMultiCoreReuseMultiCastProgramConfig(transpose_mcast=False, **common)
    return MatmulMultiCoreReuseMultiCast1DProgramConfig(mcast_in0=(kind == "1d_mcast_in0"), **common)


def _grid_for(ncores: int, gx: int, gy: int) -> tuple[int, int]:
    """Smallest rectangle of the (gx, gy) grid, full rows first, holding ncores cores."""
    if ncores <= gx:
        return (ncores, 1)
    return (gx, min(gy, -(-ncores // gx)))


# ------------------------------------------------------------------------------ more variants (engineer R)
def _divisors_asc(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def select_batched_matmul_config(
    Mt: int,
    Kt: int,
    Nt: int,
    batch: int,
    dtypes: tuple[DataType, DataType, DataType],
    spec: DeviceSpec,
    *,
    max_grid: tuple[int, int] | None = None,
    fp32_acc: bool = False,
    dst_full_sync: bool = False,
    l1_reserved_per_core: int = 0,
) -> MatmulMultiCoreReuseProgramConfig | None:
    """Batched B (`MatmulMultiCoreReuseProgramConfig`): each core owns per_core_M rows of one batch (or whole
    batches) and all of N (per_core_N = Nt). per_core_M: the smallest divisor of Mt (or multiple of Mt dividing
    batch*Mt) whose blocks fit the grid; in0_block_w the largest divisor of Kt (<= 8) whose CBs fit L1."""
    gx, gy = max_grid_of(spec, max_grid)
    cores = gx * gy
    dst = spec.dst_tiles(fp32_acc, dst_full_sync)
    l1_free = spec.l1_per_core - l1_reserved_per_core
    a_dt, b_dt, o_dt = dtypes
    cands = _divisors_asc(Mt) + [Mt * k for k in _divisors_asc(batch) if k > 1]
    p = MatmulProblem(Mt, Kt, Nt, batch, a_dt, b_dt, o_dt)
    for pm in cands:
        if -(-(batch * Mt) // pm) > cores:
            continue
        for w in _divisors_desc(Kt, 8):
            if cb_bytes(p, w, pm, Nt, fp32_acc) <= l1_free:
                sh, sw = pick_subblock(pm, Nt, dst)
                return MatmulMultiCoreReuseProgramConfig(
                    compute_with_storage_grid_size=(gx, gy),
                    in0_block_w=w,
                    out_subblock_h=sh,
                    out_subblock_w=sw,
                    per_core_M=pm,
                    per_core_N=Nt,
                )
        return None  # larger per_core_M only needs more L1
    return None


def select_dram_sharded_config(
    Mt: int,
    Kt: int,
    Nt: int,
    shard_w_tiles: int,
    ncores: int,
    dtypes: tuple[DataType, DataType, DataType],
    spec: DeviceSpec,
    *,
    fp32_acc: bool = False,
    fused_activation: UnaryWithParam | None = None,
    l1_reserved_per_core: int = 0,
) -> MatmulMultiCoreReuseMultiCastDRAMShardedProgramConfig | None:
    """DRAM-sharded (decode): activation width-sharded in L1 over `ncores`, weights width-sharded over DRAM
    banks. per_core_M = Mt (no padding), per_core_N = ceil(Nt / ncores), in0_block_w the largest divisor of the
    activation's shard width (in tiles) whose CBs fit L1 (tt-transformers `dram_matmul_config`)."""
    a_dt, b_dt, o_dt = dtypes
    p = MatmulProblem(Mt, Kt, Nt, 1, a_dt, b_dt, o_dt)
    pn = -(-Nt // ncores)
    l1_free = spec.l1_per_core - l1_reserved_per_core
    for w in _divisors_desc(shard_w_tiles, shard_w_tiles):
        if Kt % w == 0 and cb_bytes(p, w, Mt, pn, fp32_acc) <= l1_free:
            return MatmulMultiCoreReuseMultiCastDRAMShardedProgramConfig(
                in0_block_w=w, per_core_M=Mt, per_core_N=pn, fused_activation=fused_activation
            )
    return None


def select_minimal_matmul_config(
    Mt: int,
    Kt: int,
    Nt: int,
    dtypes: tuple[DataType, DataType, DataType],
    spec: DeviceSpec,
    *,
    max_grid: tuple[int, int] | None = None,
    fp32_acc: bool = True,
    dst_full_sync: bool = False,
    fuse_swiglu: bool = False,
    bias_dtype: DataType | None = None,
    l1_reserved_per_core: int = 0,
) -> MinimalMatmulConfig | None:
    """`ttnn.experimental.minimal_matmul` (M with the leading dims folded in, tiles): the grid within max_grid with
    no more cores on an axis than it has tiles (output pairs with fuse_swiglu; M runs over grid x when M > N,
    else over y: `ttfuse.ops.matmul_config.minimal_matmul_work`); blocks of up to 8 tiles as ttnn's defaults
    (M_block/N_block = the per-core share up to 8, even with fuse_swiglu; K_block the largest divisor of Kt up to
    8, so K is not padded); subblock by SUBBLOCK_HW_CHOICES within the DST budget (an even width with
    fuse_swiglu); blocks shrink (K first, then N, then M) until the circular buffers fit the L1 left per core.
    None when even 1-tile blocks do not fit."""
    gx, gy = max_grid_of(spec, max_grid)
    n_units = Nt // 2 if fuse_swiglu else Nt
    if Mt > Nt:  # transposed grid: M over x, N over y
        gx, gy = min(gx, Mt), min(gy, n_units)
    else:
        gx, gy = min(gx, n_units), min(gy, Mt)
    probe = MinimalMatmulConfig(compute_with_storage_grid_size=(max(gx, 1), max(gy, 1)))
    w = minimal_matmul_work(Mt, Kt, Nt, probe, fuse_swiglu=fuse_swiglu)
    dst = spec.dst_tiles(fp32_acc, dst_full_sync)
    l1_free = spec.l1_per_core - l1_reserved_per_core
    step = 2 if fuse_swiglu else 1
    mbs = [m for m in (8, 4, 2, 1) if m <= w.m_per_core] or [1]
    nbs = [n for n in (8, 4, 2) if n <= w.n_per_core and n % step == 0] or [step]
    if not fuse_swiglu:
        nbs.append(1)
    for mb in mbs:
        for nb in nbs:
            for kb in _divisors_desc(Kt, 8):
                sh, sw = next(
                    ((h, x) for h, x in SUBBLOCK_HW_CHOICES
                     if mb % h == 0 and nb % x == 0 and h * x <= dst and x % step == 0),
                    (1, step),
                )  # fmt: skip
                cfg = MinimalMatmulConfig(
                    M_block_size=mb,
                    K_block_size=kb,
                    N_block_size=nb,
                    subblock_h=sh,
                    subblock_w=sw,
                    compute_with_storage_grid_size=probe.compute_with_storage_grid_size,
                )
                m_blocks = -(-w.m_per_core // mb)
                parts = minimal_matmul_cb_bytes(
                    cfg, *dtypes, fp32_acc=fp32_acc, fuse_swiglu=fuse_swiglu, bias_dtype=bias_dtype,
                    m_blocks=m_blocks,
                )  # fmt: skip
                if sum(parts.values()) <= l1_free:
                    return cfg
    return None


SDPA_Q_CHUNKS = (256, 128, 64, 32)
SDPA_K_CHUNKS = (512, 256, 128, 64, 32)


def select_sdpa_config(
    b: int,
    nqh: int,
    sq: int,
    sk: int,
    head_dim: int,
    dtype: DataType,
    spec: DeviceSpec,
    *,
    mask: DataType | None = None,
    max_grid: tuple[int, int] | None = None,
    cb_limit: int | None = None,
) -> SDPAProgramConfig | None:
    """SDPA chunk sizes (multiples of 32): the q chunk is the largest that still gives every core of the grid a
    (batch, head, q chunk) work unit (else the one giving the most units), the k chunk the largest whose circular
    buffers (`ttfuse.ops.attention.sdpa_cb_bytes`) fit `cb_limit` bytes per core (default: all of a core's L1);
    neither exceeds the (tile-padded) sequence. Grid: the device grid within max_grid."""
    from ttfuse.ops.attention import sdpa_cb_bytes

    gx, gy = max_grid_of(spec, max_grid)
    cores = gx * gy
    limit = spec.l1_per_core if cb_limit is None else cb_limit
    dh = -(-head_dim // TILE) * TILE
    sq_p, sk_p = -(-sq // TILE) * TILE, -(-sk // TILE) * TILE
    qs = [c for c in SDPA_Q_CHUNKS if c <= sq_p] or [TILE]
    ks = [c for c in SDPA_K_CHUNKS if c <= sk_p] or [TILE]
    units = {qc: b * nqh * -(-sq // qc) for qc in qs}
    busy = [qc for qc in qs if units[qc] >= cores]
    order = busy + sorted((qc for qc in qs if qc not in busy), key=lambda qc: (-units[qc], -qc))
    for qc in order:
        for kc in ks:
            if sdpa_cb_bytes(qc, kc, dh, dtype, mask=mask) <= limit:
                return SDPAProgramConfig(
                    compute_with_storage_grid_size=(gx, gy), q_chunk_size=qc, k_chunk_size=kc
                )
    return None


def _largest_divisor_within(n: int, cap: int) -> int:
    return max(d for d in range(1, max(1, min(n, cap)) + 1) if n % d == 0)


def layernorm_sharded_config(
    padded_shape: tuple[int, ...], shard_spec, spec: DeviceSpec, *, fp32_acc: bool = True, dst_full_sync=False
) -> LayerNormShardedMultiCoreProgramConfig:
    """The sharded layernorm config a width/block-sharded input implies (tt-metal validate): block_h/block_w the
    shard height/width in tiles, subblock_w the largest divisor of block_w within the DST budget; the grid is
    the shard grid's bounding box."""
    mt, kt = math.prod(padded_shape[:-1]) // TILE, padded_shape[-1] // TILE
    bb = shard_spec.grid.bounding_box()
    cols, rows = bb.end.x + 1, bb.end.y + 1
    if shard_spec.shape[0] // TILE == mt:  # one row of blocks: width split over all shard cores
        bw, bh = -(-kt // shard_spec.num_cores()), mt
    else:
        if shard_spec.orientation.value == "COL_MAJOR":
            cols, rows = rows, cols
        bw, bh = -(-kt // cols), mt // rows
    dst = spec.dst_tiles(fp32_acc, dst_full_sync)
    return LayerNormShardedMultiCoreProgramConfig(
        compute_with_storage_grid_size=(bb.end.x + 1, bb.end.y + 1),
        subblock_w=_largest_divisor_within(bw, dst),
        block_h=bh,
        block_w=bw,
        inplace=False,
    )


def softmax_sharded_config(
    padded_shape: tuple[int, ...],
    shard_spec,
    spec: DeviceSpec,
    *,
    fp32_acc: bool = False,
    dst_full_sync=False,
) -> SoftmaxShardedMultiCoreProgramConfig:
    """Sharded (in-place) softmax: shards hold whole rows (block_w = Kt), block_h the shard height in tiles,
    subblock_w the largest divisor of Kt within the DST budget; the grid is the shard grid's bounding box."""
    kt = padded_shape[-1] // TILE
    bb = shard_spec.grid.bounding_box()
    dst = spec.dst_tiles(fp32_acc, dst_full_sync)
    return SoftmaxShardedMultiCoreProgramConfig(
        compute_with_storage_grid_size=(bb.end.x + 1, bb.end.y + 1),
        subblock_w=_largest_divisor_within(kt, dst),
        block_h=shard_spec.shape[0] // TILE,
        block_w=kt,
    )
