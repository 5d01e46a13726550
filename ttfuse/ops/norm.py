"""Normalization and softmax: layer_norm, rms_norm, softmax, scale_mask_softmax (+ in-place forms),
transformer.attention_softmax / attention_softmax_.

Validation follows tt-metal `layernorm_device_operation.cpp` and `softmax_device_operation.cpp` (ttnn 0.81.1):
inputs TILE, BF16/F32/BFP8; output dtype = input dtype; memory_config defaults to the input's.

Norms normalize over the last dim (layer_norm: biased variance; rms_norm: x / sqrt(mean(x^2) + eps)), with
`residual_input_tensor` added to the input first, then `* weight + bias`. Weight/bias (gamma/beta) forms:
TILE with last dim W, at most one tile row (row 0 is read) and other dims 1 ([W], [1, 1, 1, W], [32, W]); or
ROW_MAJOR sticks of 32,
[..., W_pad/32, 32] (ttnn's `torch_weight.reshape(W // 32, 32)`), read in row order. Default compute config:
HiFi4, math_approx_mode=False, fp32_dest_acc_en=True (ttnn ExecuteLayerNorm).

Softmax: `numeric_stable=False` is exp(x)/sum(exp(x)) without the max subtraction (overflows like the device).
scale_mask_softmax computes softmax(x * scale + mask) over the last dim on the input viewed as 4-D; `scale`
without a mask is rejected as in ttnn. The mask is [B, 1, 1, W] (TILE; any rank 2-4 that reads so as 4-D) or
the ROW_MAJOR [B, 1, W/32, 32] stick form; `is_causal_mask=True` takes a full [B, 1, H, W] mask. NOTE: ttnn
broadcasts row 0 of each mask tile when is_causal_mask=False and silently ignores other rows; ttfuse rejects
such masks instead. attention_softmax scales by 1/sqrt(head_size); without a mask it is ttnn.multiply then
softmax (2 kernels, the product rounded to the input dtype), with one it is scale_mask_softmax; both paths use
numeric_stable=False, as ttnn does. Default compute config: HiFi4, math_approx_mode=True, fp32_dest_acc_en =
(input is FLOAT32).

Program configs (sharded inputs only) are checked by `validate_norm_program_config`: positive fields,
block_w % subblock_w, subblock_w within the DST budget, grid within the device, block sizes matching the shard
layout. All math is float32 on the stored values; the executor rounds the output once.

group_norm (section at the end): TT's [N, 1, H*W, C] layout, groups along C; weight/bias in the [1, 1, -1, 32]
stick form of `create_group_norm_weight_bias_rm` (C split over the cores across the channel axis, each chunk
padded to 32), the mask of `create_group_norm_input_mask` (shape checked; the sim normalizes each group of
C/num_groups channels, which is what a mask made by the helper selects). TILE inputs need inplace=False (the
binding's default True is rejected by ttnn); an explicit core_grid for an interleaved input is checked as
groupnorm.cpp's validate_dram_grid does. The host helpers are exported into the facade (`__ttnn_exports__`). Add an op with its
rules here and a test in tests/test_ops_norm.py.
"""

from __future__ import annotations

import math

import torch

from ttfuse.axes import Axis, broadcast_axes, positions
from ttfuse.configs import (
    LayerNormDefaultProgramConfig,
    LayerNormShardedMultiCoreProgramConfig,
    MathFidelity,
    SoftmaxDefaultProgramConfig,
    SoftmaxShardedMultiCoreProgramConfig,
    WormholeComputeKernelConfig,
)
from ttfuse.device import TILE
from ttfuse.numerics import round_to_dtype
from ttfuse.opdef import CostCtx, Group, OpCost, Traits, register_op
from ttfuse.ops.common import (
    fail,
    flat_specs,
    io_bytes,
    need_dtype,
    need_memory_config,
    need_spec,
    need_tile,
    norm_dim,
    signature_of,
)
from ttfuse.ops.matmul_config import device_spec_or_default, validate_compute_kernel_config
from ttfuse.types import CoreGrid, DataType, Layout, TensorMemoryLayout, TensorSpec

DTYPES = frozenset({DataType.BFLOAT16, DataType.FLOAT32, DataType.BFLOAT8_B})
_GAMMA_RM_DTYPES = frozenset({DataType.BFLOAT16, DataType.FLOAT32})
_MASK_DTYPES = frozenset({DataType.BFLOAT16, DataType.BFLOAT8_B, DataType.FLOAT32})
_LN_CONFIGS = (LayerNormDefaultProgramConfig, LayerNormShardedMultiCoreProgramConfig)
_SM_CONFIGS = (SoftmaxDefaultProgramConfig, SoftmaxShardedMultiCoreProgramConfig)


def layernorm_default_compute_kernel_config() -> WormholeComputeKernelConfig:
    """layer_norm / rms_norm default: HiFi4, exact math, fp32 accumulation (ttnn ExecuteLayerNorm)."""
    return WormholeComputeKernelConfig(
        math_fidelity=MathFidelity.HiFi4, math_approx_mode=False, fp32_dest_acc_en=True
    )


def softmax_default_compute_kernel_config(dtype: DataType) -> WormholeComputeKernelConfig:
    """softmax family default: HiFi4, approximate SFPU, fp32 accumulation only for FLOAT32 inputs."""
    return WormholeComputeKernelConfig(
        math_fidelity=MathFidelity.HiFi4, math_approx_mode=True, fp32_dest_acc_en=dtype is DataType.FLOAT32
    )


# ------------------------------------------------------------------------------ program config validation
def validate_norm_program_config(
    op: str, cfg, a: TensorSpec, out: TensorSpec, compute_kernel_config, device_spec, *, inplace: bool = False
) -> None:
    """SpecError (naming the fields) unless `cfg` is a valid layernorm/softmax program config for input `a`.

    layer_norm/rms_norm take LayerNorm*ProgramConfig, the softmax ops Softmax*ProgramConfig; the sharded
    variants need a sharded input and match its shard layout (tt-metal validate). `inplace` says whether the
    op writes into its input (sharded softmax configs require it).
    """
    allowed = _LN_CONFIGS if op in ("layer_norm", "rms_norm") else _SM_CONFIGS
    if cfg is None or isinstance(cfg, allowed[0]):
        return
    if not isinstance(cfg, allowed[1]):
        names = " or ".join(f"ttnn.{c.__name__}" for c in allowed)
        raise fail(op, f"argument 'program_config' must be {names}, got {type(cfg).__name__}")
    name = type(cfg).__name__

    def bad(msg: str):
        return fail(op, f"argument 'program_config' ({name}): {msg}")

    for f in ("subblock_w", "block_h", "block_w"):
        v = getattr(cfg, f)
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise bad(f"{f}={v!r} must be a positive integer (no zero fields)")
    ds = device_spec_or_default(device_spec)
    gx, gy = cfg.compute_with_storage_grid_size
    if not (1 <= gx <= ds.grid[0] and 1 <= gy <= ds.grid[1]):
        raise bad(
            f"compute_with_storage_grid_size=({gx}, {gy}) does not fit the device's compute grid "
            f"({ds.grid[0]}, {ds.grid[1]}) on {ds.name}"
        )
    if cfg.block_w % cfg.subblock_w:
        raise bad(f"block_w={cfg.block_w} is not divisible by subblock_w={cfg.subblock_w}")
    ckc = compute_kernel_config or WormholeComputeKernelConfig()
    dst = ds.dst_tiles(ckc.fp32_dest_acc_en, ckc.dst_full_sync_en)
    if cfg.subblock_w > dst:
        why = " (fp32_dest_acc_en=True halves it)" if ckc.fp32_dest_acc_en else ""
        raise bad(f"subblock_w={cfg.subblock_w} tiles exceeds the DST register budget of {dst} tiles{why}")
    mc, sp = a.memory_config, a.memory_config.shard_spec
    if not mc.is_sharded() or sp is None:
        raise bad(
            f"needs a sharded 'input_tensor' (with a shard spec), got {mc.short}; use the default config"
        )
    mt, kt = math.prod(a.padded_shape[:-1]) // TILE, a.padded_shape[-1] // TILE
    if isinstance(cfg, LayerNormShardedMultiCoreProgramConfig):
        _check_ln_sharded(bad, cfg, a, out, mt, kt, (gx, gy))
        return
    if not inplace:
        raise bad(
            "sharded softmax runs in place only: use ttnn.softmax_in_place or ttnn.scale_mask_softmax_in_place"
        )
    if cfg.block_w != kt:
        raise bad(f"block_w={cfg.block_w} must equal the input width in tiles ({kt}): shards hold whole rows")
    shards = (mt * kt) // (cfg.block_w * cfg.block_h)
    if shards != gx * gy:
        raise bad(
            f"{mt}x{kt} tiles in blocks of block_h={cfg.block_h} x block_w={cfg.block_w} make {shards} shards, "
            f"but the grid ({gx}, {gy}) has {gx * gy} cores; the number of shards must equal the number of cores"
        )


def _check_ln_sharded(bad, cfg, a: TensorSpec, out: TensorSpec, mt: int, kt: int, grid) -> None:
    mc, sp = a.memory_config, a.memory_config.shard_spec
    if mc.memory_layout is TensorMemoryLayout.HEIGHT_SHARDED:
        raise bad("height-sharded inputs are not supported (use width or block sharding)")
    if (
        out.memory_config.buffer_type is not mc.buffer_type
        or out.memory_config.memory_layout is not mc.memory_layout
    ):
        raise bad(f"the output memory config ({out.memory_config.short}) must match the input's ({mc.short})")
    bb = sp.grid.bounding_box()
    if bb.end.x - bb.start.x >= grid[0] or bb.end.y - bb.start.y >= grid[1]:
        raise bad(
            f"the input's shard grid (to core ({bb.end.x}, {bb.end.y})) is larger than the config grid {grid}"
        )
    if mt == cfg.block_h:  # one row of blocks: width split over all shard cores
        want_w, want_h = -(-kt // sp.num_cores()), mt
        why_w, why_h = f"K tiles ({kt}) / {sp.num_cores()} cores", f"M tiles ({mt})"
    else:
        cols, rows = bb.end.x + 1, bb.end.y + 1
        if sp.orientation.value == "COL_MAJOR":
            cols, rows = rows, cols
        want_w, want_h = -(-kt // cols), mt // rows
        why_w, why_h = f"K tiles ({kt}) / {cols} core columns", f"M tiles ({mt}) / {rows} core rows"
    if cfg.block_w != want_w:
        raise bad(f"block_w={cfg.block_w} must equal {why_w} = {want_w}")
    if cfg.block_h != want_h:
        raise bad(f"block_h={cfg.block_h} must equal {why_h} = {want_h}")


# --------------------------------------------------------------------------------------- layer/rms norm
def _check_gamma(op: str, arg: str, g, x: TensorSpec) -> TensorSpec:
    g = need_spec(op, arg, g)
    w, wp = x.shape[-1], x.padded_shape[-1]
    if g.layout is Layout.TILE:
        need_dtype(op, arg, g, DTYPES)
        # tt-metal ttnn/cpp/ttnn/operations/normalization/layernorm/device/layernorm_device_operation.cpp: a TILE
        # gamma has the input's padded width and padded height TILE_HEIGHT (one tile row: [W], [1, W], or
        # tt-symbiote's `weight.unsqueeze(0).expand(32, -1)`); the kernel broadcasts row 0 of each gamma tile.
        if (
            g.rank == 0
            or g.shape[-1] != w
            or (g.rank > 1 and g.shape[-2] > TILE)
            or any(d != 1 for d in g.shape[:-2])
        ):
            raise fail(
                op,
                f"argument {arg!r} in TILE layout must have last dim {w} (the input's), at most 32 rows (one "
                f"tile row, row 0 is read) and all other dims 1, e.g. [{w}], [1, 1, 1, {w}] or [32, {w}]; "
                f"got {list(g.shape)}",
            )
    else:
        need_dtype(op, arg, g, _GAMMA_RM_DTYPES)
        if g.shape[-1] != TILE or g.numel != wp or any(d != 1 for d in g.shape[:-2]):
            raise fail(
                op,
                f"argument {arg!r} in ROW_MAJOR layout must be sticks of 32, shape [{wp // TILE}, 32] "
                f"(= weight.reshape({wp} // 32, 32)) for an input of padded width {wp}; got {list(g.shape)}",
            )
    return g


def _norm_spec(
    op,
    input_tensor,
    *,
    memory_config,
    epsilon,
    weight,
    bias,
    residual_input_tensor,
    program_config,
    compute_kernel_config,
) -> TensorSpec:
    x = need_spec(op, "input_tensor", input_tensor)
    need_tile(op, "input_tensor", x)
    need_dtype(op, "input_tensor", x, DTYPES)
    if x.rank < 1:
        raise fail(op, "argument 'input_tensor' must have rank >= 1")
    if isinstance(epsilon, bool) or not isinstance(epsilon, int | float) or epsilon < 0:
        raise fail(op, f"argument 'epsilon' must be a non-negative float, got {epsilon!r}")
    if residual_input_tensor is not None:
        r = need_spec(op, "residual_input_tensor", residual_input_tensor)
        need_tile(op, "residual_input_tensor", r)
        need_dtype(op, "residual_input_tensor", r, DTYPES)
        if r.shape != x.shape:
            raise fail(
                op,
                f"argument 'residual_input_tensor' has shape {list(r.shape)}; it must match the input's "
                f"{list(x.shape)}",
            )
        if x.memory_config.is_sharded() and r.memory_config != x.memory_config:
            raise fail(op, "argument 'residual_input_tensor' must be sharded exactly like a sharded input")
    gs = [_check_gamma(op, n, g, x) for n, g in (("weight", weight), ("bias", bias)) if g is not None]
    if len(gs) == 2 and gs[0].layout is not gs[1].layout:
        raise fail(op, "arguments 'weight' and 'bias' must have the same layout")
    need_memory_config(op, memory_config)
    mc = memory_config or x.memory_config
    if x.memory_config.is_sharded():
        if x.memory_config.memory_layout is TensorMemoryLayout.HEIGHT_SHARDED:
            raise fail(op, "argument 'input_tensor' is height sharded; ttnn supports width or block sharding")
        if not mc.is_sharded() or mc.memory_layout is TensorMemoryLayout.HEIGHT_SHARDED:
            raise fail(op, f"a sharded input needs a width/block-sharded 'memory_config', got {mc.short}")
        if mc.shard_spec is None:
            mc = type(mc)(mc.memory_layout, mc.buffer_type, x.memory_config.shard_spec)
    validate_compute_kernel_config(op, compute_kernel_config)
    out = TensorSpec(x.shape, x.dtype, Layout.TILE, mc)
    ckc = compute_kernel_config or layernorm_default_compute_kernel_config()
    validate_norm_program_config(op, program_config, x, out, ckc, None)
    return out


def _norm_sim(x, *, epsilon, weight, bias, residual_input_tensor, rms: bool, **_) -> torch.Tensor:
    # a TILE gamma of up to 32 rows is read by its row 0 (the first W values in row order); ROW_MAJOR sticks
    # are the W values in row order: both are `reshape(-1)[:w]`
    if residual_input_tensor is not None:
        x = x + residual_input_tensor
    w = x.shape[-1]
    if rms:
        y = x * torch.rsqrt(x.square().mean(-1, keepdim=True) + float(epsilon))
    else:  # torch's fused float32 kernel: mean, biased variance, (x - mean) * rsqrt(var + eps) * w + b in one pass
        wt = weight.reshape(-1)[:w] if weight is not None else None
        bt = bias.reshape(-1)[:w] if bias is not None else None
        return torch.nn.functional.layer_norm(x, (w,), wt, bt, float(epsilon))
    if weight is not None:
        y = y * weight.reshape(-1)[:w]
    if bias is not None:
        y = y + bias.reshape(-1)[:w]
    return y


def _elementwise_cost(flops_per_elem: float, launches=1):
    def cost(ctx: CostCtx) -> OpCost:
        out = ctx.out_specs[0]
        dram, l1 = io_bytes(flat_specs(ctx.in_specs) + list(ctx.out_specs))
        n = launches(ctx.out_specs, ctx.args) if callable(launches) else launches
        return OpCost(
            flops=flops_per_elem * out.numel, dram_bytes=dram, l1_bytes=l1, launches=n, fidelity="HiFi4"
        )

    return cost


# ----------------------------------------------------------------------------------------------- split axes
def _softmax_axes(node, in_specs) -> list[Axis]:
    """softmax: row-wise (over every dim but the last) only when it reduces over the last dim."""
    dim = node.attr("dim")
    if not isinstance(dim, int) or dim % node.outs[0].rank != node.outs[0].rank - 1:
        return []
    return broadcast_axes(node, in_specs, split=set(positions(node).get("input_tensor", [])))


# rows: the input (and a residual) split, weight / bias whole
_NORM_TRAITS = Traits(
    split="rows", split_inputs=("input_tensor", "residual_input_tensor"), config_rule="norm"
)


@register_op("layer_norm", Group.NORM, traits=_NORM_TRAITS)
def layer_norm(
    input_tensor,
    *,
    memory_config=None,
    epsilon=1e-12,
    weight=None,
    bias=None,
    residual_input_tensor=None,
    program_config=None,
    compute_kernel_config=None,
):
    """(x - mean) / sqrt(var + epsilon) * weight + bias over the last dim (x = input + residual)."""


@register_op("rms_norm", Group.NORM, traits=_NORM_TRAITS)
@signature_of(layer_norm)
def rms_norm(input_tensor, **kw):
    """x / sqrt(mean(x^2) + epsilon) * weight + bias over the last dim (x = input + residual)."""


@layer_norm.spec
def _layer_norm_spec(input_tensor, **kw):
    return _norm_spec("layer_norm", input_tensor, **kw)


@rms_norm.spec
def _rms_norm_spec(input_tensor, **kw):
    return _norm_spec("rms_norm", input_tensor, **kw)


@layer_norm.sim
def _layer_norm_sim(ctx, input_tensor, **kw):
    return _norm_sim(input_tensor, rms=False, **kw)


@rms_norm.sim
def _rms_norm_sim(ctx, input_tensor, **kw):
    return _norm_sim(input_tensor, rms=True, **kw)


layer_norm.cost(_elementwise_cost(9.0))
rms_norm.cost(_elementwise_cost(6.0))


# ------------------------------------------------------------------------------------------- softmax
def _check_input(op: str, x, arg: str = "input_tensor") -> TensorSpec:
    x = need_spec(op, arg, x)
    need_tile(op, arg, x)
    need_dtype(op, arg, x, DTYPES)
    if x.rank < 1:
        raise fail(op, f"argument {arg!r} must have rank >= 1")
    return x


def _four_d(op: str, arg: str, s: TensorSpec) -> tuple[int, ...]:
    if s.rank > 4:
        raise fail(op, f"argument {arg!r} has rank {s.rank}; this op views its input as 4-D (rank <= 4)")
    return (1,) * (4 - s.rank) + tuple(s.shape)


def _check_mask(op: str, x: TensorSpec, mask, is_causal: bool, *, row_limit: bool) -> None:
    """The mask rules of ttnn's scale_mask_softmax (see module docstring); `row_limit`: non-in-place variant."""
    m = need_spec(op, "mask", mask)
    need_dtype(op, "mask", m, _MASK_DTYPES)
    x4 = _four_d(op, "input_tensor", x)
    if m.rank < 2 or m.rank > 4:
        raise fail(op, f"argument 'mask' must have rank 2, 3 or 4, got shape {list(m.shape)}")
    if m.layout is Layout.ROW_MAJOR:
        want = [x4[0], 1, x.padded_shape[-1] // TILE, TILE]
        if list(m.shape) != want:
            raise fail(
                op,
                f"argument 'mask' in ROW_MAJOR layout must be [batch, 1, W/32, 32] = {want}, got {list(m.shape)}",
            )
        if is_causal:
            raise fail(
                op, "a ROW_MAJOR 'mask' is a row mask; is_causal_mask=True needs a TILE [B, 1, H, W] mask"
            )
        return
    m4 = (1,) * (4 - m.rank) + tuple(m.shape)
    if m4[3] != x4[3] or m4[1] != 1 or m4[0] != x4[0]:
        raise fail(
            op,
            f"argument 'mask' (as 4-D {list(m4)}) must be [B, 1, rows, W] with B={x4[0]} and W={x4[3]} of the input "
            f"(as 4-D {list(x4)})",
        )
    rows = x4[2] if is_causal else 1
    if m4[2] != rows:
        why = (
            "is_causal_mask=True needs one mask row per input row"
            if is_causal
            else "without is_causal_mask ttnn broadcasts one mask row (it would ignore the others)"
        )
        raise fail(op, f"argument 'mask' has {m4[2]} rows, expected {rows}: {why}")
    if row_limit and m.padded_shape[-2] > TILE:
        raise fail(op, f"argument 'mask' height must be 1 or one tile (<= 32 rows), got {m4[2]}")


def _sm_common(
    op, x, *, memory_config, compute_kernel_config, program_config=None, inplace=False
) -> TensorSpec:
    if (
        x.memory_config.is_sharded()
        and x.memory_config.memory_layout is not TensorMemoryLayout.HEIGHT_SHARDED
    ):
        raise fail(
            op,
            f"argument 'input_tensor' is {x.memory_config.short}; softmax supports interleaved or height-"
            "sharded inputs",
        )
    validate_compute_kernel_config(op, compute_kernel_config)
    if inplace:
        out = x
    else:
        need_memory_config(op, memory_config)
        out = TensorSpec(x.shape, x.dtype, Layout.TILE, memory_config or x.memory_config)
    ckc = compute_kernel_config or softmax_default_compute_kernel_config(x.dtype)
    validate_norm_program_config(op, program_config, x, out, ckc, None, inplace=inplace)
    return out


def _softmax(x: torch.Tensor, dim: int, stable: bool) -> torch.Tensor:
    if stable:
        return torch.softmax(x, dim)
    e = torch.exp(x)
    return e / e.sum(dim, keepdim=True)


def _scale_mask(x: torch.Tensor, scale, mask, mask_spec: TensorSpec | None) -> torch.Tensor:
    """x * scale + mask, the input viewed as 4-D; returns the 4-D view."""
    x4 = x.reshape((1,) * (4 - x.dim()) + tuple(x.shape))
    if scale is not None:
        x4 = x4 * float(scale)
    if mask is not None:
        if mask_spec.layout is Layout.ROW_MAJOR:
            m4 = mask.reshape(mask.shape[0], 1, 1, -1)[..., : x4.shape[-1]]
        else:
            m4 = mask.reshape((1,) * (4 - mask.dim()) + tuple(mask.shape))
        x4 = x4 + m4
    return x4


@register_op("softmax", Group.SOFTMAX, traits=Traits(split=_softmax_axes, config_rule="softmax"))
def softmax(input_tensor, dim=-1, *, memory_config=None, compute_kernel_config=None, numeric_stable=True):
    """exp(x) / sum(exp(x)) along `dim` (max-subtracted when numeric_stable)."""


@softmax.spec
def _softmax_spec(input_tensor, dim, *, memory_config, compute_kernel_config, numeric_stable):
    x = _check_input("softmax", input_tensor)
    norm_dim("softmax", dim, x.rank)
    return _sm_common("softmax", x, memory_config=memory_config, compute_kernel_config=compute_kernel_config)


@softmax.sim
def _softmax_sim(ctx, input_tensor, dim, *, numeric_stable, **_):
    return _softmax(input_tensor, dim, numeric_stable)


@register_op("softmax_in_place", Group.SOFTMAX, traits=Traits(inplace="input_tensor", config_rule="softmax"))
def softmax_in_place(
    input_tensor,
    dim=-1,
    *,
    program_config=SoftmaxDefaultProgramConfig(),
    compute_kernel_config=None,
    numeric_stable=True,
):
    """Softmax over the last dim, written into `input_tensor` (rank <= 4)."""


@softmax_in_place.spec
def _softmax_in_place_spec(input_tensor, dim, *, program_config, compute_kernel_config, numeric_stable):
    op = "softmax_in_place"
    x = _check_input(op, input_tensor)
    _four_d(op, "input_tensor", x)
    if norm_dim(op, dim, x.rank) != x.rank - 1:
        raise fail(op, f"argument 'dim'={dim}: softmax_in_place supports only the last dim (-1)")
    return _sm_common(
        op,
        x,
        memory_config=None,
        compute_kernel_config=compute_kernel_config,
        program_config=program_config,
        inplace=True,
    )


@softmax_in_place.sim
def _softmax_in_place_sim(ctx, input_tensor, dim, *, numeric_stable, **_):
    return _softmax(input_tensor, -1, numeric_stable)


def _smx_spec(
    op,
    input_tensor,
    scale,
    mask,
    *,
    is_causal_mask,
    compute_kernel_config,
    memory_config=None,
    program_config=None,
    inplace=False,
) -> TensorSpec:
    x = _check_input(op, input_tensor)
    _four_d(op, "input_tensor", x)
    if scale is not None and (isinstance(scale, bool) or not isinstance(scale, int | float)):
        raise fail(op, f"argument 'scale' must be a float or None, got {scale!r}")
    if mask is None:
        if scale is not None:
            raise fail(
                op,
                "argument 'scale' must not be set when 'mask' is None (ttnn rejects it); "
                "use ttnn.multiply then ttnn.softmax",
            )
    else:
        _check_mask(op, x, mask, bool(is_causal_mask), row_limit=not inplace)
    return _sm_common(
        op,
        x,
        memory_config=memory_config,
        compute_kernel_config=compute_kernel_config,
        program_config=program_config,
        inplace=inplace,
    )


def _smx_sim(ctx, input_tensor, scale, mask, *, numeric_stable, **_) -> torch.Tensor:
    """The sim of scale_mask_softmax and of its in-place form."""
    x4 = _scale_mask(input_tensor, scale, mask, ctx.in_specs.get("mask"))
    return _softmax(x4, -1, numeric_stable).reshape(input_tensor.shape)


@register_op("scale_mask_softmax", Group.SOFTMAX, traits=Traits(split="eltwise", config_rule="softmax"))
def scale_mask_softmax(
    input_tensor,
    scale=None,
    mask=None,
    *,
    memory_config=None,
    is_causal_mask=False,
    compute_kernel_config=None,
    numeric_stable=True,
):
    """softmax(input * scale + mask) over the last dim (mask broadcast over heads and rows)."""


@scale_mask_softmax.spec
def _scale_mask_softmax_spec(input_tensor, scale, mask, *, numeric_stable, **kw):
    return _smx_spec("scale_mask_softmax", input_tensor, scale, mask, **kw)


scale_mask_softmax.sim(_smx_sim)


@register_op(
    "scale_mask_softmax_in_place", Group.SOFTMAX, traits=Traits(inplace="input_tensor", config_rule="softmax")
)
def scale_mask_softmax_in_place(
    input_tensor,
    scale=None,
    mask=None,
    *,
    program_config=SoftmaxDefaultProgramConfig(),
    is_causal_mask=False,
    compute_kernel_config=None,
    numeric_stable=False,
):
    """softmax(input * scale + mask) over the last dim, written into `input_tensor`."""


@scale_mask_softmax_in_place.spec
def _scale_mask_softmax_in_place_spec(input_tensor, scale, mask, *, numeric_stable, **kw):
    return _smx_spec("scale_mask_softmax_in_place", input_tensor, scale, mask, inplace=True, **kw)


scale_mask_softmax_in_place.sim(_smx_sim)


def _attn_launches(out_specs, args=None) -> int:
    """ttnn.multiply + softmax without a mask, one scale_mask_softmax kernel with one."""
    return 2 if args is not None and args.get("attention_mask") is None else 1


def _attn_spec(
    op, tensor, *, head_size, attention_mask, program_config, causal_mask, memory_config, inplace=False
):
    x = _check_input(op, tensor, "tensor")
    if head_size is not None and (
        isinstance(head_size, bool) or not isinstance(head_size, int) or head_size < 1
    ):
        raise fail(op, f"argument 'head_size' must be a positive int or None, got {head_size!r}")
    if program_config is not None and not isinstance(program_config, _SM_CONFIGS):
        raise fail(
            op,
            f"argument 'program_config' must be a ttnn.SoftmaxDefaultProgramConfig, got "
            f"{type(program_config).__name__}",
        )
    if attention_mask is None:
        if inplace:
            raise fail(
                op,
                "argument 'attention_mask' is required: the in-place version cannot apply the "
                "1/sqrt(head_size) scale without a mask",
            )
        return _sm_common(op, x, memory_config=memory_config, compute_kernel_config=None)
    _four_d(op, "tensor", x)
    _check_mask(op, x, attention_mask, bool(causal_mask), row_limit=not inplace)
    if inplace:
        return x
    return _sm_common(op, x, memory_config=memory_config, compute_kernel_config=None)


def _attn_sim(ctx, tensor, *, head_size, attention_mask, **_):
    scale = 1.0 / math.sqrt(head_size) if head_size is not None else 1.0
    if attention_mask is None:  # ttnn.multiply writes a rounded tensor, then softmax
        x = round_to_dtype(tensor * scale, ctx.in_specs["tensor"].dtype.value)
        return _softmax(x, -1, False)
    x4 = _scale_mask(tensor, scale, attention_mask, ctx.in_specs["attention_mask"])
    return _softmax(x4, -1, False).reshape(tensor.shape)


@register_op(
    "transformer.attention_softmax",
    Group.SOFTMAX,
    launches=_attn_launches,
    traits=Traits(split="eltwise", config_rule="softmax"),  # the mask broadcasts over rows
)
def attention_softmax(
    tensor,
    *,
    head_size=None,
    attention_mask=None,
    program_config=SoftmaxDefaultProgramConfig(),
    causal_mask=False,
    memory_config=None,
):
    """softmax(tensor / sqrt(head_size) + attention_mask) over the last dim."""


@attention_softmax.spec
def _attention_softmax_spec(tensor, **kw):
    return _attn_spec("transformer.attention_softmax", tensor, **kw)


attention_softmax.sim(_attn_sim)


@register_op(
    "transformer.attention_softmax_", Group.SOFTMAX, traits=Traits(inplace="tensor", config_rule="softmax")
)
@signature_of(attention_softmax)
def attention_softmax_(tensor, **kw):
    """In-place softmax(tensor / sqrt(head_size) + attention_mask); the mask is required."""


@attention_softmax_.spec
def _attention_softmax__spec(tensor, **kw):
    return _attn_spec("transformer.attention_softmax_", tensor, inplace=True, **kw)


attention_softmax_.sim(_attn_sim)

softmax.cost(_elementwise_cost(5.0))
softmax_in_place.cost(_elementwise_cost(5.0))
scale_mask_softmax.cost(_elementwise_cost(7.0))
scale_mask_softmax_in_place.cost(_elementwise_cost(7.0))
attention_softmax.cost(_elementwise_cost(7.0, _attn_launches))
attention_softmax_.cost(_elementwise_cost(7.0))


# ------------------------------------------------------------------------------------------- group_norm
# ttnn.group_norm (ttnn 0.81.1): input [N, 1, H*W, C] (NHWC flattened), groups formed along C (the last dim).
# Rules from the wheel's docstring and tt-metal ttnn/cpp/ttnn/operations/normalization/groupnorm/device/
# groupnorm_device_operation.cpp: input BF16/F32; TILE (ROW_MAJOR only when sharded); C % 32 == 0 and
# C % num_groups == 0; weight/bias ROW_MAJOR BF16/F32 of the same dtype, in the [1, 1, -1, 32] stick form of
# ttnn.create_group_norm_weight_bias_rm; input_mask TILE BF16/BFP8 of shape [1, G (or 2G), 32, 32*k];
# width sharding rejected; an explicit dtype must equal the input's. Block sharding splits C over the
# grid's columns (ROW_MAJOR orientation) or rows (COL_MAJOR), so the groups must split evenly over them.
_GN_DTYPES = frozenset({DataType.BFLOAT16, DataType.FLOAT32})
_GN_MASK_DTYPES = frozenset({DataType.BFLOAT16, DataType.BFLOAT8_B})


def group_norm_cores_across_channel(memory_config, core_grid) -> int:
    """Cores splitting the channel axis (ttnn.get_group_norm_cores_across_channel): 1 unless block sharded."""
    if memory_config is None or memory_config.memory_layout is not TensorMemoryLayout.BLOCK_SHARDED:
        return 1
    sp = memory_config.shard_spec
    if core_grid is None and sp is not None:
        bb = sp.grid.bounding_box()
        gx, gy = bb.end.x - bb.start.x + 1, bb.end.y - bb.start.y + 1
    elif core_grid is not None:
        gx, gy = core_grid.x, core_grid.y
    else:
        return 1
    col_major = sp is not None and sp.orientation.value == "COL_MAJOR"
    return gy if col_major else gx


def _gn_padded_channels(c: int, cores: int) -> int:
    per = c // cores
    return cores * (-(-per // TILE) * TILE)


def group_norm_virtual_cols(grid_x: int, num_groups: int, channels: int) -> int:
    """Cores splitting C for an interleaved input: the largest n <= min(grid_x, num_groups) with
    (channels / n) % 32 == 0 and num_groups % n == 0 (0: none); tt-metal groupnorm_grid_utils.cpp."""
    n = min(grid_x, num_groups)
    while n > 0 and (channels % n or (channels // n) % TILE or num_groups % n):
        n -= 1
    return n


def _check_dram_grid(op: str, core_grid, c: int, num_groups: int, padded_shape) -> None:
    """An explicit core_grid for an interleaved input (tt-metal groupnorm.cpp validate_dram_grid): with
    nvc = group_norm_virtual_cols(x) and rows = (x / nvc) * y virtual rows, the N*H*W/32 row tiles must be
    >= rows and divisible by rows, and rows < N or rows % N == 0."""
    n = padded_shape[0]
    ht = n * padded_shape[1] * padded_shape[2] // TILE
    if _dram_grid_ok(core_grid.x, core_grid.y, c, num_groups, ht, n):
        return
    nvc = group_norm_virtual_cols(core_grid.x, num_groups, c)
    rows = (core_grid.x // nvc) * core_grid.y if nvc else 0
    raise fail(
        op,
        f"argument 'core_grid'=(x={core_grid.x}, y={core_grid.y}) is invalid for an interleaved input with "
        f"{ht} row tiles, C={c}, num_groups={num_groups}, N={n}: it gives {nvc} cores across C and {rows} "
        "virtual rows; the row tiles must be >= and divisible by the virtual rows (and those < N or a multiple "
        "of N)",
    )


@register_op("group_norm", Group.NORM)
def group_norm(
    input_tensor,
    *,
    num_groups,
    epsilon=1e-12,
    input_mask=None,
    weight=None,
    bias=None,
    memory_config=None,
    dtype=None,
    core_grid=None,
    inplace=True,
    output_layout=None,
    num_out_blocks=None,
    compute_kernel_config=None,
    negative_mask=None,
    use_welford=False,
):
    """Group norm of [N, 1, H*W, C] over groups of C/num_groups channels (and all H*W rows) * weight + bias."""


@group_norm.spec
def _group_norm_spec(
    input_tensor,
    *,
    num_groups,
    epsilon,
    input_mask,
    weight,
    bias,
    memory_config,
    dtype,
    core_grid,
    inplace,
    output_layout,
    num_out_blocks,
    compute_kernel_config,
    negative_mask,
    use_welford,
):
    op = "group_norm"
    x = need_spec(op, "input_tensor", input_tensor)
    need_dtype(op, "input_tensor", x, _GN_DTYPES)
    if x.rank != 4 or x.shape[1] != 1:
        raise fail(op, f"argument 'input_tensor' must be 4-D [N, 1, H*W, C], got {list(x.shape)}")
    mc_in = x.memory_config
    if x.layout is not Layout.TILE and not mc_in.is_sharded():
        raise fail(
            op,
            "argument 'input_tensor' is ROW_MAJOR and interleaved; an interleaved input must be TILE "
            "(ttnn.to_layout(x, ttnn.TILE_LAYOUT))",
        )
    if mc_in.memory_layout is TensorMemoryLayout.WIDTH_SHARDED:
        raise fail(op, "argument 'input_tensor' is width sharded; ttnn supports interleaved, height or block")
    c = x.shape[-1]
    if isinstance(num_groups, bool) or not isinstance(num_groups, int) or num_groups < 1:
        raise fail(op, f"argument 'num_groups' must be a positive int, got {num_groups!r}")
    if c % TILE:
        raise fail(op, f"argument 'input_tensor' has C={c} channels; C must be a multiple of 32")
    if c % num_groups:
        raise fail(op, f"argument 'num_groups'={num_groups} does not divide the C={c} channels")
    if x.layout is Layout.ROW_MAJOR and x.shape[2] % TILE:
        raise fail(
            op, f"argument 'input_tensor' is ROW_MAJOR with H*W={x.shape[2]}; it must be a multiple of 32"
        )
    if isinstance(epsilon, bool) or not isinstance(epsilon, int | float) or epsilon < 0:
        raise fail(op, f"argument 'epsilon' must be a non-negative float, got {epsilon!r}")
    if dtype is not None and dtype is not x.dtype:
        raise fail(op, f"argument 'dtype'={dtype} must equal the input's dtype {x.dtype} (or be None)")
    ds = device_spec_or_default(None)
    if core_grid is not None:
        gx, gy = getattr(core_grid, "x", None), getattr(core_grid, "y", None)
        if not all(isinstance(v, int) and v >= 1 for v in (gx, gy)):
            raise fail(op, f"argument 'core_grid' must be a ttnn.CoreGrid(x, y), got {core_grid!r}")
        if gx > ds.grid[0] or gy > ds.grid[1]:
            raise fail(
                op, f"argument 'core_grid'=({gx}, {gy}) does not fit the compute grid {ds.grid} of {ds.name}"
            )
    elif num_out_blocks is not None and not mc_in.is_sharded():
        raise fail(op, "argument 'num_out_blocks' needs an explicit 'core_grid' for an interleaved input")
    if num_out_blocks is not None and (
        isinstance(num_out_blocks, bool)
        or not isinstance(num_out_blocks, int)
        or num_out_blocks == 0
        or num_out_blocks < -1
    ):
        raise fail(op, f"argument 'num_out_blocks' must be -1 or a positive int, got {num_out_blocks!r}")
    cores = group_norm_cores_across_channel(mc_in, core_grid)
    if cores > 1 and (c % cores or num_groups % cores):
        raise fail(
            op,
            f"argument 'core_grid': block sharding splits C={c} channels and num_groups={num_groups} over "
            f"{cores} cores across the channel axis; both must divide evenly",
        )
    gs = []
    for arg, g in (("weight", weight), ("bias", bias)):
        if g is None:
            continue
        g = need_spec(op, arg, g)
        need_dtype(op, arg, g, _GN_DTYPES)
        want = _gn_padded_channels(c, cores)
        if g.layout is not Layout.ROW_MAJOR or g.shape[-1] != TILE or g.numel != want:
            raise fail(
                op,
                f"argument {arg!r} must be ROW_MAJOR [1, 1, {want // TILE}, 32] (from "
                f"ttnn.create_group_norm_weight_bias_rm(w, {c}, {cores})), got {g.layout.name} {list(g.shape)}",
            )
        gs.append(g)
    if len(gs) == 2 and gs[0].dtype is not gs[1].dtype:
        raise fail(op, "arguments 'weight' and 'bias' must have the same dtype")
    for arg, m in (("input_mask", input_mask), ("negative_mask", negative_mask)):
        if m is None:
            continue
        m = need_spec(op, arg, m)
        need_tile(op, arg, m)
        need_dtype(op, arg, m, _GN_MASK_DTYPES)
        if (
            m.rank != 4
            or m.shape[0] != 1
            or m.shape[1] not in (num_groups, 2 * num_groups)
            or m.shape[2] != TILE
        ):
            raise fail(
                op,
                f"argument {arg!r} must be [1, num_groups={num_groups} (or 2x), 32, 32*k] "
                f"(ttnn.create_group_norm_input_mask({c}, {num_groups}, {cores})), got {list(m.shape)}",
            )
    if negative_mask is not None and not (mc_in.is_sharded() and x.layout is Layout.ROW_MAJOR):
        raise fail(op, "argument 'negative_mask' is for ROW_MAJOR sharded inputs only")
    # ttnn/cpp/ttnn/operations/normalization/groupnorm/groupnorm.cpp: inplace (default True in the binding) is
    # rejected for TILE inputs, and with an output_layout different from the input's
    if inplace and x.layout is Layout.TILE:
        raise fail(
            op,
            "argument 'inplace'=True is not supported for a TILE input (ttnn rejects it): pass inplace=False",
        )
    if output_layout is not None and output_layout is not x.layout and inplace:
        raise fail(op, "argument 'output_layout' must equal the input's layout when inplace=True")
    if not mc_in.is_sharded() and output_layout not in (None, Layout.TILE):
        raise fail(op, "argument 'output_layout' must be TILE for an interleaved input")
    if not mc_in.is_sharded() and core_grid is not None:
        _check_dram_grid(op, core_grid, c, num_groups, x.padded_shape)
    validate_compute_kernel_config(op, compute_kernel_config)
    need_memory_config(op, memory_config)
    mc = memory_config or mc_in
    return TensorSpec(x.shape, x.dtype, output_layout or x.layout, mc)


@group_norm.sim
def _group_norm_sim(ctx, input_tensor, *, num_groups, epsilon, weight, bias, memory_config, core_grid, **_):
    """float32 group norm of the stored input (biased variance over the group's channels and all H*W rows)."""
    x = input_tensor.float()
    n, _, hw, c = x.shape
    xg = x.reshape(n, hw, num_groups, c // num_groups)
    mean = xg.mean(dim=(1, 3), keepdim=True)
    var = (xg - mean).square().mean(dim=(1, 3), keepdim=True)
    y = ((xg - mean) * torch.rsqrt(var + float(epsilon))).reshape(x.shape)
    cores = group_norm_cores_across_channel(ctx.in_specs["input_tensor"].memory_config, core_grid)
    for g in (weight, bias):
        if g is None:
            continue
        v = g.float().reshape(cores, -1)[:, : c // cores].reshape(c)
        y = y * v if g is weight else y + v
    return y


group_norm.cost(_elementwise_cost(10.0))


# host-side helpers of ttnn/ttnn/operations/normalization.py (their shapes; written here, not copied)
def create_group_norm_weight_bias_rm(input_tensor, num_channels, num_cores_x):
    """gamma/beta [C] -> [1, 1, -1, 32]: C split into num_cores_x chunks, each zero-padded to a multiple of 32."""
    per = num_channels // num_cores_x
    chunks = torch.as_tensor(input_tensor).reshape(num_cores_x, per)
    pad = -(-per // TILE) * TILE - per
    return torch.nn.functional.pad(chunks, (0, pad)).reshape(1, 1, -1, TILE)


def group_norm_mask_torch(
    num_channel: int, num_groups: int, num_cores_across_channel: int, rows_in_last_tile=0
):
    """The [1, G (2G with rows_in_last_tile), 32, 32*k] mask of ttnn.create_group_norm_input_mask as torch:
    row block g holds ones on the columns of group g inside the tiles that group spans on its core."""
    per_core = num_channel // num_cores_across_channel
    groups_per_core = num_groups // num_cores_across_channel
    cpg = num_channel // num_groups
    spans = []
    for g in range(groups_per_core):
        lo, hi = g * cpg, (g + 1) * cpg
        spans.append((lo // TILE, (hi - 1) // TILE, lo, hi))
    k = max(b - a + 1 for a, b, _, _ in spans)
    del per_core
    m = torch.zeros(1, num_groups, TILE, TILE * k)
    for g in range(num_groups):
        t0, _, lo, hi = spans[g % groups_per_core]
        m[0, g, :, lo - t0 * TILE : hi - t0 * TILE] = 1.0
    if rows_in_last_tile:
        m2 = m.clone()
        m2[:, :, rows_in_last_tile:, :] = 0
        m = torch.cat([m, m2], dim=1)
    return m


def create_group_norm_input_mask(
    num_channel,
    num_groups,
    num_cores_across_channel,
    data_type=DataType.BFLOAT16,
    tile_height=32,
    tile_width=32,
    rows_in_last_tile=0,
):
    """ttnn.create_group_norm_input_mask: a host TILE tensor [1, num_groups, 32, 32*k] (see group_norm_mask_torch)."""
    from ttfuse.ops.host import from_torch

    if tile_height != TILE or tile_width != TILE:
        raise fail("create_group_norm_input_mask", "arguments 'tile_height'/'tile_width' must be 32")
    m = group_norm_mask_torch(num_channel, num_groups, num_cores_across_channel, rows_in_last_tile)
    return from_torch(m, dtype=data_type, layout=Layout.TILE)


def get_group_norm_cores_across_channel(memory_layout, core_grid, shard_orientation=None):
    """Cores splitting C: 1 unless BLOCK_SHARDED (then core_grid.x, or .y for COL_MAJOR orientation)."""
    if memory_layout is not TensorMemoryLayout.BLOCK_SHARDED:
        return 1
    col = (
        shard_orientation is not None
        and getattr(shard_orientation, "value", shard_orientation) == "COL_MAJOR"
    )
    return core_grid.y if col else core_grid.x


def _dram_grid_ok(gx: int, gy: int, c: int, num_groups: int, ht: int, n: int) -> bool:
    nvc = group_norm_virtual_cols(gx, num_groups, c)
    rows = (gx // nvc) * gy if nvc else 0
    return bool(rows) and ht >= rows and ht % rows == 0 and (rows < n or rows % n == 0)


def determine_expected_group_norm_dram_grid_size(
    *, device, num_channels, num_groups, input_nhw, num_batches=1
):
    """The largest core grid (x first, then y) within the device's compute grid that an interleaved group_norm
    accepts (tt-metal groupnorm_grid_utils.cpp find_expected_dram_grid, with groupnorm.cpp's batch rule)."""
    op = "determine_expected_group_norm_dram_grid_size"
    g = device.compute_with_storage_grid_size()
    ht = -(-int(input_nhw) // TILE)
    for gx in range(int(g.x), 0, -1):
        for gy in range(int(g.y), 0, -1):
            if _dram_grid_ok(gx, gy, num_channels, num_groups, ht, num_batches):
                return CoreGrid(y=gy, x=gx)
    raise fail(
        op,
        f"arguments 'num_channels'={num_channels}, 'num_groups'={num_groups}, 'input_nhw'={input_nhw}: no core "
        "grid fits an interleaved group_norm",
    )


__ttnn_exports__ = (
    "create_group_norm_weight_bias_rm",
    "create_group_norm_input_mask",
    "get_group_norm_cores_across_channel",
    "determine_expected_group_norm_dram_grid_size",
)
