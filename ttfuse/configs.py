"""ttnn config classes: math fidelity, compute kernel configs, program configs, fused activations.

Field names and defaults follow real ttnn 0.81.1 (ref/ttnn.md s3); constructors are keyword-only as in
ttnn's nanobind bindings. All configs are frozen dataclasses: hashable, usable in IR attributes and cache
keys, and round-trippable through `ttfuse.types.to_json_value`. Validation of a config against an
op's shapes lives with the op (ttfuse/ops), not here.
Conformance: tests/conformance constructs every config the selection pass produces as the real ttnn class and
compares each field, and compares the field names and defaults of each class here with the real one; a field
ttnn adds goes at the end of its class with ttnn's default. `__all__` is what the facade exports (ttnn names only).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, fields

from ttfuse.types import CoreRangeSet, Layout, TtnnEnum, register_json_types

__all__ = [
    "MathFidelity", "ThrottleLevel", "UnaryOpType", "UnaryWithParam", "WormholeComputeKernelConfig",
    "DeviceComputeKernelConfig", "init_device_compute_kernel_config",
    "MatmulMultiCoreReuseMultiCastProgramConfig", "MatmulMultiCoreReuseMultiCast1DProgramConfig",
    "MatmulMultiCoreReuseMultiCastDRAMShardedProgramConfig", "MatmulMultiCoreReuseProgramConfig",
    "MinimalMatmulConfig", "SDPAProgramConfig", "LayerNormDefaultProgramConfig",
    "LayerNormShardedMultiCoreProgramConfig", "SoftmaxDefaultProgramConfig", "SoftmaxShardedMultiCoreProgramConfig",
    "PaddingMode", "Conv2dConfig", "Conv2dSliceConfig", "Op2DSliceConfig", "Conv2dL1Full", "Conv2dDRAMSliceHeight",
    "Conv2dDRAMSliceWidth", "Op2DL1Full", "Op2DDRAMSliceHeight", "Op2DDRAMSliceWidth", "Conv2dL1FullSliceConfig",
    "Op2DL1FullSliceConfig",
]  # fmt: skip


class MathFidelity(TtnnEnum):
    LoFi = 0
    HiFi2 = 2
    HiFi3 = 3
    HiFi4 = 4
    Invalid = 255  # ttnn: "not set", the op's own default fidelity applies


class ThrottleLevel(enum.IntEnum):
    """`ttnn.ThrottleLevel` of a compute kernel config (an int enum: 0 = no throttling, as ttnn's values)."""

    NO_THROTTLE = 0
    LEVEL_1 = 1
    LEVEL_2 = 2
    LEVEL_3 = 3
    LEVEL_4 = 4
    LEVEL_5 = 5

    def __repr__(self) -> str:
        return f"ttnn.ThrottleLevel.{self.name}"


class UnaryOpType(TtnnEnum):
    EXP = "EXP"
    RECIP = "RECIP"
    GELU = "GELU"
    RELU = "RELU"
    SQRT = "SQRT"
    SIGMOID = "SIGMOID"
    LOG = "LOG"
    TANH = "TANH"
    SIN = "SIN"
    COS = "COS"
    ABS = "ABS"
    NEG = "NEG"
    SILU = "SILU"
    RSQRT = "RSQRT"
    ERF = "ERF"
    SQUARE = "SQUARE"
    RELU6 = "RELU6"
    IDENTITY = "IDENTITY"
    POWER = "POWER"
    MUL_UNARY_SFPU = "MUL_UNARY_SFPU"
    ADD_UNARY_SFPU = "ADD_UNARY_SFPU"
    SUB_UNARY_SFPU = "SUB_UNARY_SFPU"
    DIV_UNARY_SFPU = "DIV_UNARY_SFPU"
    LEAKY_RELU = "LEAKY_RELU"
    CLAMP_TSS = "CLAMP_TSS"  # clamp(x, min, max) with two scalar params (ttnn 0.81.1's name)


@dataclass(frozen=True)
class UnaryWithParam:
    """`ttnn.UnaryWithParam(op_type[, p1[, p2]])`: a fused activation with optional float parameter(s).

    ttnn's constructor is positional-only; ttfuse also takes `param=[p1, p2]` / `params=` (the IR JSON round trip
    builds it by field name). The repr is ttnn's call form: parameters positional.
    """

    op_type: UnaryOpType
    params: tuple[float, ...] = ()

    def __init__(self, op_type: UnaryOpType, param=None, *more, params=None):
        object.__setattr__(self, "op_type", op_type)
        if params is not None:
            ps = tuple(float(p) for p in params)
        elif param is None:
            ps = ()
        elif isinstance(param, list | tuple):
            ps = tuple(float(p) for p in param)
        else:
            ps = (float(param),)
        object.__setattr__(self, "params", ps + tuple(float(p) for p in more))

    def __repr__(self) -> str:
        return f"ttnn.UnaryWithParam({', '.join([repr(self.op_type), *map(repr, self.params)])})"


def _kw_dataclass(cls):
    return dataclass(frozen=True, kw_only=True)(cls)


@_kw_dataclass
class WormholeComputeKernelConfig:
    math_fidelity: MathFidelity = MathFidelity.LoFi
    math_approx_mode: bool = True
    fp32_dest_acc_en: bool = False
    packer_l1_acc: bool = False
    dst_full_sync_en: bool = False
    throttle_level: ThrottleLevel = ThrottleLevel.NO_THROTTLE


BlackholeComputeKernelConfig = (
    WormholeComputeKernelConfig  # NOTE: not in ttnn 0.81.1 (conformance/FINDINGS.md)
)
DeviceComputeKernelConfig = WormholeComputeKernelConfig


def init_device_compute_kernel_config(
    arch=None,
    device_kernel_config=None,
    *,
    math_fidelity=MathFidelity.LoFi,
    math_approx_mode=True,
    fp32_dest_acc_en=False,
    packer_l1_acc=False,
    dst_full_sync_en=False,
    throttle_level=ThrottleLevel.NO_THROTTLE,
) -> WormholeComputeKernelConfig:
    """`ttnn.init_device_compute_kernel_config`: `device_kernel_config` wins when given, else the keyword values."""
    if device_kernel_config is not None:
        return device_kernel_config
    return WormholeComputeKernelConfig(
        math_fidelity=math_fidelity,
        math_approx_mode=math_approx_mode,
        fp32_dest_acc_en=fp32_dest_acc_en,
        packer_l1_acc=packer_l1_acc,
        dst_full_sync_en=dst_full_sync_en,
        throttle_level=throttle_level,
    )


@_kw_dataclass
class _MatmulBlocks:
    """The leading fields of the matmul program configs with per-core blocks (in ttnn's order)."""

    compute_with_storage_grid_size: tuple[int, int]
    in0_block_w: int
    out_subblock_h: int
    out_subblock_w: int
    per_core_M: int
    per_core_N: int


@_kw_dataclass
class _MulticastBlocks(_MatmulBlocks):
    """The leading fields of the 1D and 2D multicast matmul program configs: grid, blocks and out blocks."""

    out_block_h: int | None = None  # None: per_core_M (filled in, as ttnn does)
    out_block_w: int | None = None  # None: per_core_N


@_kw_dataclass
class MatmulMultiCoreReuseMultiCastProgramConfig(_MulticastBlocks):
    """2D multicast matmul: M over grid y, N over grid x."""

    transpose_mcast: bool = False
    fused_activation: UnaryWithParam | None = None
    fuse_batch: bool = True
    allowed_worker_cores: CoreRangeSet | None = None

    def __post_init__(self):
        _grid_tuple(self)
        _out_block_default(self)


@_kw_dataclass
class MatmulMultiCoreReuseMultiCast1DProgramConfig(_MulticastBlocks):
    """1D multicast matmul (mcast_in0=True: N split across cores; False: M split)."""

    fuse_batch: bool = True
    fused_activation: UnaryWithParam | None = None
    mcast_in0: bool = True
    gather_in0: bool = False
    num_global_cb_receivers: int = 1
    untilize_out: bool = False
    hop_cores: CoreRangeSet = CoreRangeSet()
    allowed_worker_cores: CoreRangeSet | None = None
    stream_in1: bool = False

    def __post_init__(self):
        _grid_tuple(self)
        _out_block_default(self)


@_kw_dataclass
class MatmulMultiCoreReuseMultiCastDRAMShardedProgramConfig:
    in0_block_w: int
    per_core_M: int
    per_core_N: int
    fused_activation: UnaryWithParam | None = None
    num_workers_per_dram_bank: int = 1


@_kw_dataclass
class MatmulMultiCoreReuseProgramConfig(_MatmulBlocks):
    """Batched matmul without multicast (each core owns whole output blocks of a batch)."""

    allowed_worker_cores: CoreRangeSet | None = None

    def __post_init__(self):
        _grid_tuple(self)


@_kw_dataclass
class MinimalMatmulConfig:
    """ttnn defaults every field to 1 (grid 1x1): `ttnn.MinimalMatmulConfig()` is valid."""

    M_block_size: int = 1
    K_block_size: int = 1
    N_block_size: int = 1
    subblock_h: int = 1
    subblock_w: int = 1
    compute_with_storage_grid_size: tuple[int, int] = (1, 1)

    def __post_init__(self):
        _grid_tuple(self)


@_kw_dataclass
class SDPAProgramConfig:
    compute_with_storage_grid_size: tuple[int, int]
    q_chunk_size: int
    k_chunk_size: int
    sub_core_grids: object = None
    exp_approx_mode: bool | None = None
    max_cores_per_head_batch: int = 16
    max_k_splits: int = 1
    matmul_math_fidelity: MathFidelity | None = None
    segmented_accumulation: bool = False

    def __post_init__(self):
        _grid_tuple(self)


@_kw_dataclass
class LayerNormDefaultProgramConfig:
    legacy_reduction: bool = False
    legacy_rsqrt: bool = False
    use_welford: bool = False


@_kw_dataclass
class LayerNormShardedMultiCoreProgramConfig:
    compute_with_storage_grid_size: tuple[int, int]
    subblock_w: int
    block_h: int
    block_w: int
    inplace: bool = False
    legacy_reduction: bool = False
    legacy_rsqrt: bool = False
    use_welford: bool = False

    def __post_init__(self):
        _grid_tuple(self)


@_kw_dataclass
class SoftmaxDefaultProgramConfig:
    pass


@_kw_dataclass
class SoftmaxShardedMultiCoreProgramConfig:
    compute_with_storage_grid_size: tuple[int, int]
    subblock_w: int
    block_h: int
    block_w: int

    def __post_init__(self):
        _grid_tuple(self)


def _out_block_default(cfg) -> None:
    """ttnn's constructor stores out_block_h/w = per_core_M/N when not given (read back from ttnn 0.81.1)."""
    if cfg.out_block_h is None:
        object.__setattr__(cfg, "out_block_h", cfg.per_core_M)
    if cfg.out_block_w is None:
        object.__setattr__(cfg, "out_block_w", cfg.per_core_N)


def _grid_tuple(cfg) -> None:
    """Accept CoreCoord or (x, y) for compute_with_storage_grid_size; store (x, y)."""
    g = cfg.compute_with_storage_grid_size
    if hasattr(g, "x") and hasattr(g, "y"):
        object.__setattr__(cfg, "compute_with_storage_grid_size", (int(g.x), int(g.y)))
    else:
        object.__setattr__(cfg, "compute_with_storage_grid_size", (int(g[0]), int(g[1])))


class PaddingMode(TtnnEnum):
    """`ttnn.PaddingMode` of a Conv2dConfig (0.81.1: Zeros, Replicate)."""

    Zeros = 0
    Replicate = 1


@_kw_dataclass
class Conv2dConfig:
    """`ttnn.Conv2dConfig`: the fields and defaults of ttnn 0.81.1 (its `__init__` is keyword-only).

    `activation` is a `UnaryWithParam` as in 0.81.1; ttfuse also takes the string form older ttnn used ("relu",
    "silu"), normalised by the conv2d spec rule. `shard_layout` None / `act_block_h_override` 0 mean "let the op
    choose" (ttfuse/ops/conv.py records the choice on the node)."""

    weights_dtype: object = None  # ttnn.DataType | None
    activation: object = None  # ttnn.UnaryWithParam | None
    deallocate_activation: bool = False
    reallocate_halo_output: bool = True
    config_tensors_in_dram: bool = False
    act_block_h_override: int = 0
    act_block_w_div: int = 1
    reshard_if_not_optimal: bool = False
    override_sharding_config: bool = False
    shard_layout: object = None  # ttnn.TensorMemoryLayout | None
    core_grid: CoreRangeSet | None = None
    transpose_shards: bool = False
    output_layout: Layout = Layout.TILE
    enable_act_double_buffer: bool = False
    enable_weights_double_buffer: bool = False
    full_inner_dim: bool = False
    enable_kernel_stride_folding: bool | None = None
    enable_activation_reuse: bool = False
    force_split_reader: bool | None = None
    override_output_sharding_config: bool = False
    padding_mode: PaddingMode = PaddingMode.Zeros


class SliceTypeEnum(TtnnEnum):
    """`ttnn.Conv2dSliceConfig.SliceTypeEnum` (0.81.1: L1Full, DRAMSliceHeight, DRAMSliceWidth)."""

    L1Full = 0
    DRAMSliceHeight = 1
    DRAMSliceWidth = 2


@_kw_dataclass
class Conv2dSliceConfig:
    """`ttnn.Conv2dSliceConfig` (= `ttnn.Op2DSliceConfig` in 0.81.1): how conv2d slices a DRAM activation."""

    SliceTypeEnum = SliceTypeEnum  # ttnn.Conv2dSliceConfig.SliceTypeEnum (a class attribute, not a field)
    slice_type: SliceTypeEnum = SliceTypeEnum.L1Full
    num_slices: int = 0


Op2DSliceConfig = Conv2dSliceConfig
Conv2dL1Full = Op2DL1Full = SliceTypeEnum.L1Full
Conv2dDRAMSliceHeight = Op2DDRAMSliceHeight = SliceTypeEnum.DRAMSliceHeight
Conv2dDRAMSliceWidth = Op2DDRAMSliceWidth = SliceTypeEnum.DRAMSliceWidth
# ttnn 0.81.1 ttnn/operations/conv2d.py: a module-level instance, the "no slicing, all in L1" slice config
Conv2dL1FullSliceConfig = Op2DL1FullSliceConfig = Conv2dSliceConfig(slice_type=Conv2dL1Full)


MATMUL_PROGRAM_CONFIGS = (
    MatmulMultiCoreReuseMultiCastProgramConfig,
    MatmulMultiCoreReuseMultiCast1DProgramConfig,
    MatmulMultiCoreReuseMultiCastDRAMShardedProgramConfig,
    MatmulMultiCoreReuseProgramConfig,
)

CONFIG_CLASSES = {
    c.__name__: c
    for c in (
        UnaryWithParam,
        WormholeComputeKernelConfig,
        *MATMUL_PROGRAM_CONFIGS,
        MinimalMatmulConfig,
        SDPAProgramConfig,
        LayerNormDefaultProgramConfig,
        LayerNormShardedMultiCoreProgramConfig,
        SoftmaxDefaultProgramConfig,
        SoftmaxShardedMultiCoreProgramConfig,
        Conv2dConfig,
        Conv2dSliceConfig,
    )
}
CONFIG_ENUMS = {
    "MathFidelity": MathFidelity,
    "UnaryOpType": UnaryOpType,
    "ThrottleLevel": ThrottleLevel,
    "PaddingMode": PaddingMode,
    "SliceTypeEnum": SliceTypeEnum,
}
# static values the IR and the disk cache encode by name (ttfuse.types.to_json_value): types reads these two
# dicts (kept by reference, so register_enum below and later additions count) without importing this module
register_json_types(CONFIG_ENUMS, CONFIG_CLASSES)


def register_enum(cls):
    """Class decorator: an enum defined with its ops (ttnn.Topology, ttnn.SigmoidMode, ...) becomes a static value
    the IR and the disk cache can encode AND decode (`ttfuse.types.to_json_value` refuses unregistered enums)."""
    CONFIG_ENUMS[cls.__name__] = cls
    return cls


def config_fields(cfg) -> dict:
    """Field name -> value of a config object, in declaration order (as ttnn prints them)."""
    if isinstance(cfg, UnaryWithParam):
        return {"op_type": cfg.op_type, "params": cfg.params}
    return {f.name: getattr(cfg, f.name) for f in fields(cfg)}
