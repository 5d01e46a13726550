"""Distributed RMSNorm: `ttnn.rms_norm_pre_all_gather` and `ttnn.rms_norm_post_all_gather` (ttnn 0.81.1).

A width-sharded model (each device holds W columns of the hidden dim) computes RMSNorm in two ops around an
all_gather of the statistics (tt-metal ttnn/cpp/ttnn/operations/normalization/layernorm_distributed):
- pre(x): per row, sum(x^2) over this device's W columns (x = input + residual_input_tensor when given; the tile
  padding counts as 0). The stats tensor is the input's shape with the last dim 32 (one tile per device; dim 3 of a
  rank-4 shape, as the device op sets it), TILE, dtype `dtype` (default BFLOAT16): the sum in column 0 of each
  tile row, the other 31 columns 0.
- all_gather(stats, dim=-1) concatenates the D devices' tiles: [.., 32 * D].
- post(x, stats): D = stats padded width / 32; E[x^2] = (sum of the D column-0 values) * winv, where winv =
  1 / (W_padded * D) rounded to bfloat16 as the kernel packs its scaler; y = x * rsqrt(E[x^2] + epsilon) *
  weight + bias. Output: the input's shape, TILE, dtype `dtype` or the input's, `memory_config` or the input's.
Validation (pre/post device operations): TILE inputs in BFLOAT16 / BFLOAT8_B / FLOAT32 (stats too); stats padded
dims 0-2 equal the input's and its padded last dim a multiple of 32; weight / bias as ttnn.rms_norm takes them
(TILE with the input's width and one tile row, or ROW_MAJOR sticks [.., W/32, 32]), BFLOAT16 or FLOAT32. Sharded
inputs, program configs and the 2-D core grid are not modelled (SpecError naming the argument).
Extend: layer_norm_pre/post_all_gather add a second stats tile (sum x) per device here.
"""

from __future__ import annotations

import torch

from ttfuse.device import TILE
from ttfuse.numerics import round_bf16
from ttfuse.opdef import Group, Traits, register_op
from ttfuse.ops.common import fail, need_dtype, need_dtype_arg, need_memory_config, need_spec, need_tile
from ttfuse.ops.matmul_config import validate_compute_kernel_config
from ttfuse.ops.norm import DTYPES, _check_gamma, _elementwise_cost
from ttfuse.types import DataType, Layout, TensorSpec

_PRE, _POST = "rms_norm_pre_all_gather", "rms_norm_post_all_gather"


def _check_x(op: str, arg: str, x) -> TensorSpec:
    s = need_spec(op, arg, x)
    need_tile(op, arg, s)
    need_dtype(op, arg, s, DTYPES)
    if s.rank != 4:
        raise fail(op, f"argument {arg!r} must be rank 4 (ttnn indexes dims 0-3), got shape {list(s.shape)}")
    if s.memory_config.is_sharded():
        raise fail(op, f"argument {arg!r} is sharded: ttfuse models the interleaved distributed norm only")
    return s


def _unmodelled(op: str, **kw) -> None:
    for arg, v in kw.items():
        if v is not None and v is not False:
            raise fail(op, f"argument {arg!r}={v!r} is not modelled by ttfuse")


@register_op(_PRE, Group.NORM, traits=Traits())
def rms_norm_pre_all_gather(
    input_tensor,
    *,
    dtype=DataType.BFLOAT16,
    residual_input_tensor=None,
    compute_kernel_config=None,
    program_config=None,
    memory_config=None,
    use_2d_core_grid=None,
    fast_and_approximate_mode=False,
):
    """Per-row sum(x^2) over this device's columns, in column 0 of a [.., 32] TILE stats tensor."""


@rms_norm_pre_all_gather.spec
def _pre_spec(
    input_tensor,
    *,
    dtype,
    residual_input_tensor,
    compute_kernel_config,
    program_config,
    memory_config,
    use_2d_core_grid,
    fast_and_approximate_mode,
):
    x = _check_x(_PRE, "input_tensor", input_tensor)
    if residual_input_tensor is not None:
        r = _check_x(_PRE, "residual_input_tensor", residual_input_tensor)
        if r.shape != x.shape:
            raise fail(
                _PRE, f"argument 'residual_input_tensor' {list(r.shape)} must match the input {list(x.shape)}"
            )
    need_dtype_arg(_PRE, dtype)
    if dtype not in DTYPES:
        raise fail(_PRE, f"argument 'dtype'={dtype.value}: the stats are BFLOAT16, BFLOAT8_B or FLOAT32")
    validate_compute_kernel_config(_PRE, compute_kernel_config)
    need_memory_config(_PRE, memory_config)
    _unmodelled(_PRE, program_config=program_config, use_2d_core_grid=use_2d_core_grid)
    if not isinstance(fast_and_approximate_mode, bool):
        raise fail(
            _PRE, f"argument 'fast_and_approximate_mode' must be a bool, got {fast_and_approximate_mode!r}"
        )
    return TensorSpec((*x.shape[:3], TILE), dtype, Layout.TILE, memory_config or x.memory_config)


@rms_norm_pre_all_gather.sim
def _pre_sim(ctx, input_tensor, *, residual_input_tensor=None, **_):
    x = input_tensor if residual_input_tensor is None else input_tensor + residual_input_tensor
    out = torch.zeros((*x.shape[:-1], TILE), dtype=torch.float32)
    out[..., 0] = x.square().sum(-1)
    return out


rms_norm_pre_all_gather.cost(_elementwise_cost(2.0))


@register_op(_POST, Group.NORM, traits=Traits())
def rms_norm_post_all_gather(
    input_tensor,
    stats,
    *,
    epsilon=1e-12,
    weight=None,
    bias=None,
    memory_config=None,
    compute_kernel_config=None,
    program_config=None,
    dtype=None,
    use_2d_core_grid=None,
):
    """x * rsqrt(E[x^2] + epsilon) * weight + bias, E[x^2] from the gathered per-device stats."""


@rms_norm_post_all_gather.spec
def _post_spec(
    input_tensor,
    stats,
    *,
    epsilon,
    weight,
    bias,
    memory_config,
    compute_kernel_config,
    program_config,
    dtype,
    use_2d_core_grid,
):
    x = _check_x(_POST, "input_tensor", input_tensor)
    s = _check_x(_POST, "stats", stats)
    if s.padded_shape[-1] % TILE:
        raise fail(
            _POST, f"argument 'stats' has padded width {s.padded_shape[-1]}; it must be a multiple of 32"
        )
    if s.padded_shape[:3] != x.padded_shape[:3]:
        raise fail(
            _POST,
            f"argument 'stats' {list(s.shape)} must match the input {list(x.shape)} in its first three (padded) dims",
        )
    if isinstance(epsilon, bool) or not isinstance(epsilon, int | float) or epsilon < 0:
        raise fail(_POST, f"argument 'epsilon' must be a non-negative float, got {epsilon!r}")
    gs = [_check_gamma(_POST, n, g, x) for n, g in (("weight", weight), ("bias", bias)) if g is not None]
    if any(g.dtype not in (DataType.BFLOAT16, DataType.FLOAT32) for g in gs):
        raise fail(_POST, "arguments 'weight' and 'bias' must be BFLOAT16 or FLOAT32")
    if len(gs) == 2 and gs[0].layout is not gs[1].layout:
        raise fail(_POST, "arguments 'weight' and 'bias' must have the same layout")
    need_dtype_arg(_POST, dtype)
    validate_compute_kernel_config(_POST, compute_kernel_config)
    need_memory_config(_POST, memory_config)
    _unmodelled(_POST, program_config=program_config, use_2d_core_grid=use_2d_core_grid)
    return TensorSpec(x.shape, dtype or x.dtype, Layout.TILE, memory_config or x.memory_config)


@rms_norm_post_all_gather.sim
def _post_sim(ctx, input_tensor, stats, *, epsilon, weight=None, bias=None, **_):
    x_spec, s_spec = ctx.in_specs["input_tensor"], ctx.in_specs["stats"]
    devices = s_spec.padded_shape[-1] // TILE
    winv = float(round_bf16(torch.tensor([1.0 / (x_spec.padded_shape[-1] * devices)]))[0])
    sumsq = stats[..., ::TILE].sum(-1, keepdim=True)  # column 0 of each device's stats tile
    w = input_tensor.shape[-1]
    y = input_tensor * torch.rsqrt(sumsq * winv + float(epsilon))
    if weight is not None:
        y = y * weight.reshape(-1)[:w]
    if bias is not None:
        y = y + bias.reshape(-1)[:w]
    return y


rms_norm_post_all_gather.cost(_elementwise_cost(5.0))
