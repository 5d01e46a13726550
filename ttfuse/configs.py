"""ttnn config classes: math fidelity, compute kernel configs, program configs, fused activations.

Field names and defaults follow real ttnn 0.81.1 (ref/ttnn.md s3); constructors are keyword-only as in
ttnn's nanobind bindings. All configs are frozen dataclasses: hashable, usable in IR attributes and cache
keys, and round-trippable through `ttfuse.types.to_json_value`. Validation of a config against an
op's shapes lives with the op (ttfuse/ops), not here.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, fields


class MathFidelity(enum.Enum):
    LoFi = 0
    HiFi2 = 2
    HiFi3 = 3
    HiFi4 = 4

    def __repr__(self) -> str:
        return f"ttnn.MathFidelity.{self.name}"


class UnaryOpType(enum.Enum):
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
    CLAMP = "CLAMP"  # NOTE: ttnn names the activation-list form of clamp via UnaryWithParam params

    def __repr__(self) -> str:
        return f"ttnn.UnaryOpType.{self.name}"


@dataclass(frozen=True)
class UnaryWithParam:
    """`ttnn.UnaryWithParam(op_type, param)`: a fused activation with optional float parameter(s)."""

    op_type: UnaryOpType
    params: tuple[float, ...] = ()

    def __init__(self, op_type: UnaryOpType, param=None, params=None):
        object.__setattr__(self, "op_type", op_type)
        if params is not None:
            ps = tuple(float(p) for p in params)
        elif param is None:
            ps = ()
        elif isinstance(param, list | tuple):
            ps = tuple(float(p) for p in param)
        else:
            ps = (float(param),)
        object.__setattr__(self, "params", ps)

    def __repr__(self) -> str:
        if self.params:
            p = self.params[0] if len(self.params) == 1 else list(self.params)
            return f"ttnn.UnaryWithParam({self.op_type!r}, {p!r})"
        return f"ttnn.UnaryWithParam({self.op_type!r})"


def _kw_dataclass(cls):
    return dataclass(frozen=True, kw_only=True)(cls)


@_kw_dataclass
class WormholeComputeKernelConfig:
    math_fidelity: MathFidelity = MathFidelity.LoFi
    math_approx_mode: bool = True
    fp32_dest_acc_en: bool = False
    packer_l1_acc: bool = False
    dst_full_sync_en: bool = False
    throttle_level: int = 0


BlackholeComputeKernelConfig = WormholeComputeKernelConfig
DeviceComputeKernelConfig = WormholeComputeKernelConfig


def init_device_compute_kernel_config(arch=None, config=None, *, math_fidelity=MathFidelity.LoFi,
                                      math_approx_mode=True, fp32_dest_acc_en=False, packer_l1_acc=False,
                                      dst_full_sync_en=False, throttle_level=0) -> WormholeComputeKernelConfig:
    """`ttnn.init_device_compute_kernel_config`: `config` wins when given, else the keyword values."""
    if config is not None:
        return config
    return WormholeComputeKernelConfig(math_fidelity=math_fidelity, math_approx_mode=math_approx_mode,
                                       fp32_dest_acc_en=fp32_dest_acc_en, packer_l1_acc=packer_l1_acc,
                                       dst_full_sync_en=dst_full_sync_en, throttle_level=throttle_level)


@_kw_dataclass
class MatmulMultiCoreReuseMultiCastProgramConfig:
    """2D multicast matmul: M over grid y, N over grid x."""

    compute_with_storage_grid_size: tuple[int, int]
    in0_block_w: int
    out_subblock_h: int
    out_subblock_w: int
    per_core_M: int
    per_core_N: int
    out_block_h: int | None = None
    out_block_w: int | None = None
    transpose_mcast: bool = False
    fused_activation: UnaryWithParam | None = None
    fuse_batch: bool = True

    def __post_init__(self):
        _grid_tuple(self)


@_kw_dataclass
class MatmulMultiCoreReuseMultiCast1DProgramConfig:
    """1D multicast matmul (mcast_in0=True: N split across cores; False: M split)."""

    compute_with_storage_grid_size: tuple[int, int]
    in0_block_w: int
    out_subblock_h: int
    out_subblock_w: int
    per_core_M: int
    per_core_N: int
    out_block_h: int | None = None
    out_block_w: int | None = None
    fuse_batch: bool = True
    fused_activation: UnaryWithParam | None = None
    mcast_in0: bool = True
    gather_in0: bool = False
    num_global_cb_receivers: int = 1
    untilize_out: bool = False

    def __post_init__(self):
        _grid_tuple(self)


@_kw_dataclass
class MatmulMultiCoreReuseMultiCastDRAMShardedProgramConfig:
    in0_block_w: int
    per_core_M: int
    per_core_N: int
    fused_activation: UnaryWithParam | None = None


@_kw_dataclass
class MatmulMultiCoreReuseProgramConfig:
    """Batched matmul without multicast (each core owns whole output blocks of a batch)."""

    compute_with_storage_grid_size: tuple[int, int]
    in0_block_w: int
    out_subblock_h: int
    out_subblock_w: int
    per_core_M: int
    per_core_N: int

    def __post_init__(self):
        _grid_tuple(self)


@_kw_dataclass
class MinimalMatmulConfig:
    M_block_size: int
    K_block_size: int
    N_block_size: int
    subblock_h: int
    subblock_w: int
    compute_with_storage_grid_size: tuple[int, int]

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

    def __post_init__(self):
        _grid_tuple(self)


@_kw_dataclass
class LayerNormDefaultProgramConfig:
    pass


@_kw_dataclass
class LayerNormShardedMultiCoreProgramConfig:
    compute_with_storage_grid_size: tuple[int, int]
    subblock_w: int
    block_h: int
    block_w: int
    inplace: bool = False

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


def _grid_tuple(cfg) -> None:
    """Accept CoreCoord or (x, y) for compute_with_storage_grid_size; store (x, y)."""
    g = cfg.compute_with_storage_grid_size
    if hasattr(g, "x") and hasattr(g, "y"):
        object.__setattr__(cfg, "compute_with_storage_grid_size", (int(g.x), int(g.y)))
    else:
        object.__setattr__(cfg, "compute_with_storage_grid_size", (int(g[0]), int(g[1])))


MATMUL_PROGRAM_CONFIGS = (MatmulMultiCoreReuseMultiCastProgramConfig, MatmulMultiCoreReuseMultiCast1DProgramConfig,
                          MatmulMultiCoreReuseMultiCastDRAMShardedProgramConfig, MatmulMultiCoreReuseProgramConfig)

CONFIG_CLASSES = {c.__name__: c for c in (
    UnaryWithParam, WormholeComputeKernelConfig, *MATMUL_PROGRAM_CONFIGS, MinimalMatmulConfig, SDPAProgramConfig,
    LayerNormDefaultProgramConfig, LayerNormShardedMultiCoreProgramConfig, SoftmaxDefaultProgramConfig,
    SoftmaxShardedMultiCoreProgramConfig)}
CONFIG_ENUMS = {"MathFidelity": MathFidelity, "UnaryOpType": UnaryOpType}


def config_fields(cfg) -> dict:
    """Field name -> value of a config object, in declaration order (as ttnn prints them)."""
    if isinstance(cfg, UnaryWithParam):
        return {"op_type": cfg.op_type, "params": cfg.params}
    return {f.name: getattr(cfg, f.name) for f in fields(cfg)}
