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
layout. All math is float32 on the stored values; the executor rounds the output once. Add an op with its
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
from ttfuse.types import DataType, Layout, TensorMemoryLayout, TensorSpec

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
