"""Convolution: ttnn.conv2d, ttnn.prepare_conv_weights, ttnn.prepare_conv_bias (ttnn 0.81.1 conventions).

Layout (tt-metal `ttnn/cpp/ttnn/operations/conv/conv2d/conv2d.cpp`, the op's docstring in the 0.81.1 wheel):
- the activation is NHWC flattened to `[1, 1, N*H*W, C]` (`[N, H, W, C]` is accepted too), ROW_MAJOR or TILE;
  the output is `[1, 1, N*OH*OW, OC]`, TILE unless `conv_config.output_layout` says ROW_MAJOR, dtype `dtype` or
  the input's, placed as tt-metal places it (`out_memory_config`): `memory_config` or the conv's own sharded L1 output
  on the L1 path (an L1 input, or Conv2dL1FullSliceConfig), DRAM interleaved on the DRAM path (ttfuse/ops/conv_config.py
  `conv_default_memory_config`; max_pool2d: `pool_default_memory_config`);
- weights come as torch's `[OC, IC/groups, KH, KW]` ROW_MAJOR tensor (host or device, prepared on the fly) or
  prepared by `prepare_conv_weights`: ttfuse's prepared form is the logical matrix `[1, 1, KH*KW*IC/groups, OC]`
  in TILE layout, rows ordered (kh, kw, ic) as tt-metal's `convert_conv_weight_tensor_to_tiled_layout` orders them
  (ttfuse does not pad IC / OC to tiles or block-interleave the rows as ttnn does);
- bias is `[1, 1, 1, OC]`, ROW_MAJOR (raw) or TILE (prepared);
- `conv_config.weights_dtype` (default: the weight tensor's dtype) is the dtype weights and bias are stored in.
Numerics: float32 convolution of the stored values: weights rounded to weights_dtype in the prepared layout (so
bfloat8_b shares one exponent per 16 output channels, as the tiled matrix blocks them), the bias added, the
fused activation (`conv_config.activation`) applied, and the executor rounds the output once. A math fidelity
below HiFi4 runs as an im2col matmul through `matmul_values` (the mantissa-slice emulation matmul uses).

The keyword-only signature is ttnn 0.81.1's `conv2d_t.__call__`; `return_output_dim` / `return_weights_and_bias`
are handled by `Conv2dOp.__call__` outside the traced op, so a captured node always has one output: the tuple is
`(out, (oh, ow))`, `(out, (w, b))` or `(out, (oh, ow), (w, b))` as the 0.81.1 docstring and nanobind signature
give it. Extend: a new sliding-window op gets its registration here and a test in tests/test_conv2d.py.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ttfuse.configs import (
    Conv2dConfig,
    MathFidelity,
    PaddingMode,
    SliceTypeEnum,
    WormholeComputeKernelConfig,
)
from ttfuse.numerics import round_to_dtype
from ttfuse.opdef import OPS, CostCtx, Group, OpCost, OpDef, Traits, register_op
from ttfuse.ops.activations import apply_activation, normalize_activation
from ttfuse.ops.common import fail, flat_specs, io_bytes, need_dtype, need_memory_config, need_spec
from ttfuse.ops.conv_config import (
    auto_slice_budget,
    auto_slicing,
    check_slice_config,
    conv_default_memory_config,
    core_tile_macs,
    is_matmul_conv,
    pool_default_memory_config,
    runs_in_l1,
    runs_in_l1_pool,
    select_conv_config,
    slice_geometry,
    sliced_ranges,
    sliced_rereads,
    transpose_as_conv,
)
from ttfuse.ops.matmul import matmul_values
from ttfuse.ops.matmul_config import device_spec_or_default, validate_compute_kernel_config
from ttfuse.types import DRAM_MEMORY_CONFIG, DataType, Layout, TensorMemoryLayout, TensorSpec

_IN_DTYPES = frozenset({DataType.BFLOAT16, DataType.FLOAT32, DataType.BFLOAT8_B})
_W_DTYPES = frozenset({DataType.BFLOAT16, DataType.FLOAT32, DataType.BFLOAT8_B})
_RAW_W_DTYPES = frozenset({DataType.BFLOAT16, DataType.FLOAT32})


def conv_default_compute_config() -> WormholeComputeKernelConfig:
    """conv2d's default compute kernel config: HiFi4, approximate math, no fp32 accumulation (tt-metal
    conv2d_utils.cpp `get_conv_default_compute_kernel_config`)."""
    return WormholeComputeKernelConfig(
        math_fidelity=MathFidelity.HiFi4, math_approx_mode=True, fp32_dest_acc_en=False
    )


# ------------------------------------------------------------------------------------------ argument parsing
def _pair(op: str, arg: str, v, *, minimum: int) -> tuple[int, int]:
    if isinstance(v, int) and not isinstance(v, bool):
        v = (v, v)
    if not (
        isinstance(v, list | tuple)
        and len(v) == 2
        and all(isinstance(x, int) and not isinstance(x, bool) and x >= minimum for x in v)
    ):
        raise fail(op, f"argument {arg!r} must be two integers >= {minimum}, got {v!r}")
    return int(v[0]), int(v[1])


def _padding(op: str, v) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) from ttnn's [pad_h, pad_w] or [top, bottom, left, right]."""
    if isinstance(v, int) and not isinstance(v, bool):
        v = (v, v)
    if isinstance(v, list | tuple) and all(
        isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in v
    ):
        if len(v) == 2:
            return v[0], v[0], v[1], v[1]
        if len(v) == 4:
            return tuple(v)
    raise fail(
        op, f"argument 'padding' must be [pad_h, pad_w] or [top, bottom, left, right] (>= 0), got {v!r}"
    )


def conv_geometry(op: str, a: dict) -> dict:
    """The checked integer geometry of a conv call (its arguments by name): N, H, W, IC, OC, KH, KW, strides,
    dilations, paddings, groups, OH, OW. SpecError naming the argument otherwise."""
    g = {}
    for k in ("in_channels", "out_channels", "batch_size", "input_height", "input_width"):
        v = a[k]
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise fail(op, f"argument {k!r} must be a positive integer, got {v!r}")
        g[k] = v
    g["kh"], g["kw"] = _pair(op, "kernel_size", a["kernel_size"], minimum=1)
    g["sh"], g["sw"] = _pair(op, "stride", a["stride"], minimum=1)
    g["dh"], g["dw"] = _pair(op, "dilation", a["dilation"], minimum=1)
    g["pt"], g["pb"], g["pl"], g["pr"] = _padding(op, a["padding"])
    groups = a["groups"]
    if not isinstance(groups, int) or isinstance(groups, bool) or groups < 1:
        raise fail(op, f"argument 'groups' must be a positive integer, got {groups!r}")
    if g["in_channels"] % groups or g["out_channels"] % groups:
        raise fail(
            op,
            f"argument 'groups'={groups} must divide in_channels={g['in_channels']} and "
            f"out_channels={g['out_channels']}",
        )
    g["groups"] = groups
    eff_h = g["dh"] * (g["kh"] - 1) + 1
    eff_w = g["dw"] * (g["kw"] - 1) + 1
    g["oh"] = (g["input_height"] + g["pt"] + g["pb"] - eff_h) // g["sh"] + 1
    g["ow"] = (g["input_width"] + g["pl"] + g["pr"] - eff_w) // g["sw"] + 1
    if g["oh"] < 1 or g["ow"] < 1:
        raise fail(
            op,
            f"argument 'kernel_size'={(g['kh'], g['kw'])} (dilation {(g['dh'], g['dw'])}) is larger than the padded "
            f"input {g['input_height'] + g['pt'] + g['pb']}x{g['input_width'] + g['pl'] + g['pr']}",
        )
    g["k"] = g["kh"] * g["kw"] * (g["in_channels"] // groups)  # rows of the prepared weight matrix
    return g


def _check_conv_config(op: str, cfg) -> Conv2dConfig:
    if cfg is None:
        return Conv2dConfig()
    if not isinstance(cfg, Conv2dConfig):
        raise fail(op, f"argument 'conv_config' must be a ttnn.Conv2dConfig, got {type(cfg).__name__}")
    if cfg.weights_dtype is not None and cfg.weights_dtype not in _W_DTYPES:
        raise fail(op, f"argument 'conv_config': weights_dtype={cfg.weights_dtype!r} is not supported")
    normalize_activation(op, cfg.activation, "conv_config.activation")
    abh = cfg.act_block_h_override
    if not isinstance(abh, int) or abh < 0 or abh % 32:
        raise fail(op, f"argument 'conv_config': act_block_h_override={abh!r} must be 0 or a multiple of 32")
    if cfg.shard_layout is not None and cfg.shard_layout not in (
        TensorMemoryLayout.HEIGHT_SHARDED,
        TensorMemoryLayout.BLOCK_SHARDED,
        TensorMemoryLayout.WIDTH_SHARDED,
    ):
        raise fail(
            op,
            f"argument 'conv_config': shard_layout={cfg.shard_layout!r} must be HEIGHT, BLOCK or WIDTH sharded",
        )
    return cfg


def is_prepared_weight(s: TensorSpec) -> bool:
    """Whether a weight spec is ttfuse's prepared form ([1, 1, K, OC] TILE) rather than torch's OIHW."""
    return s.layout is Layout.TILE and s.rank == 4 and s.shape[:2] == (1, 1)


def _check_weight(op: str, w: TensorSpec, g: dict, cfg: Conv2dConfig) -> DataType:
    """Validate the weight tensor; returns the dtype the weights are used in."""
    oc, icg = g["out_channels"], g["in_channels"] // g["groups"]
    if is_prepared_weight(w):
        if w.shape != (1, 1, g["k"], oc):
            raise fail(
                op,
                f"argument 'weight_tensor' (prepared, TILE) has shape {list(w.shape)}; this conv needs "
                f"[1, 1, {g['k']}, {oc}] (KH*KW*in_channels/groups, out_channels): prepare it with the same arguments",
            )
        need_dtype(op, "weight_tensor", w, _W_DTYPES)
        return w.dtype
    want = (oc, icg, g["kh"], g["kw"])
    if w.layout is not Layout.ROW_MAJOR or w.rank != 4:
        raise fail(
            op,
            f"argument 'weight_tensor' must be torch's [out_channels, in_channels/groups, KH, KW] = {list(want)} in "
            f"ROW_MAJOR, or a tensor from ttnn.prepare_conv_weights; got {w}",
        )
    if w.shape != want:
        raise fail(
            op,
            f"argument 'weight_tensor' has shape {list(w.shape)}; in_channels={g['in_channels']}, out_channels={oc}, "
            f"groups={g['groups']}, kernel_size={(g['kh'], g['kw'])} need {list(want)}",
        )
    need_dtype(op, "weight_tensor", w, _RAW_W_DTYPES)
    return cfg.weights_dtype or w.dtype


def _check_bias(op: str, b, g: dict) -> None:
    if b is None:
        return
    b = need_spec(op, "bias_tensor", b)
    if b.shape != (1, 1, 1, g["out_channels"]):
        raise fail(
            op, f"argument 'bias_tensor' has shape {list(b.shape)}; expected [1, 1, 1, {g['out_channels']}]"
        )
    need_dtype(op, "bias_tensor", b, _W_DTYPES)


def _check_input(op: str, x: TensorSpec, g: dict) -> None:
    n, h, w, c = g["batch_size"], g["input_height"], g["input_width"], g["in_channels"]
    if x.rank != 4:
        raise fail(op, f"argument 'input_tensor' must be 4-D ([1, 1, N*H*W, C] or [N, H, W, C]), got {x}")
    shape = tuple(x.shape)
    if shape[:3] not in ((1, 1, n * h * w), (n, h, w)):
        raise fail(
            op,
            f"argument 'input_tensor' has shape {list(shape)}; batch_size={n}, input_height={h}, input_width={w} "
            f"need [1, 1, {n * h * w}, C] or [{n}, {h}, {w}, C]",
        )
    if shape[3] != c:
        raise fail(
            op,
            f"argument 'in_channels'={c} does not match the input tensor's {shape[3]} channels (its last dim)",
        )
    need_dtype(op, "input_tensor", x, _IN_DTYPES)
    if x.dtype is DataType.BFLOAT8_B and x.layout is not Layout.TILE:
        raise fail(op, "argument 'input_tensor': bfloat8_b needs TILE layout")


# ------------------------------------------------------------------------------------------------- conv2d
class Conv2dOp(OpDef):
    """ttnn.conv2d: the traced op computes the output only; the optional extra returns are assembled here."""

    def geometry(self, a: dict) -> dict:
        return conv_geometry(self.short, a)

    def __call__(self, *args, **kwargs):
        a = self.bind_args(args, kwargs)
        dims, wb = a["return_output_dim"], a["return_weights_and_bias"]
        if not dims and not wb:
            return super().__call__(**a)
        out = super().__call__(**{**a, "return_output_dim": False, "return_weights_and_bias": False})
        res = [out]
        if dims:
            g = self.geometry(a)
            res.append((g["oh"], g["ow"]))
        if wb:
            res.append(_prepared_weights_and_bias(a))
        return tuple(res)


def _prepared_weights_and_bias(a: dict):
    """(weights, bias) as conv2d used them: prepared tensors are returned as given, raw ones prepared."""
    common = {
        k: a[k]
        for k in (
            "in_channels",
            "out_channels",
            "batch_size",
            "input_height",
            "input_width",
            "kernel_size",
            "stride",
            "padding",
            "dilation",
            "groups",
            "device",
            "conv_config",
            "compute_config",
            "slice_config",
        )
    }
    x = a["input_tensor"]
    common.update(input_memory_config=x.memory_config(), input_layout=x.layout, input_dtype=x.dtype)
    w = a["weight_tensor"]
    if not is_prepared_weight(w.spec):
        w = OPS["prepare_conv_weights"](
            weight_tensor=w, weights_format="OIHW", has_bias=a["bias_tensor"] is not None, **common
        )
    b = a["bias_tensor"]
    if b is not None and b.spec.layout is not Layout.TILE:
        b = OPS["prepare_conv_bias"](bias_tensor=b, **common)
    return (w, b)


def _conv2d(
    *,
    input_tensor,
    weight_tensor,
    device,
    in_channels,
    out_channels,
    batch_size,
    input_height,
    input_width,
    kernel_size,
    stride=(1, 1),
    padding=(0, 0),
    dilation=(1, 1),
    groups=1,
    dtype=None,
    bias_tensor=None,
    conv_config=None,
    compute_config=None,
    memory_config=None,
    slice_config=None,
    return_output_dim=False,
    return_weights_and_bias=False,
):
    """2-D convolution of a flattened NHWC activation ([1, 1, N*H*W, C]) with OIHW or prepared weights."""


conv2d = Conv2dOp("conv2d", _conv2d, Group.CONV, traits=Traits(host_ok=True, config_rule="conv2d"))
OPS["conv2d"] = conv2d


@conv2d.spec
def _conv2d_spec(input_tensor, weight_tensor, bias_tensor, conv_config, compute_config, memory_config, **a):
    op = "conv2d"
    x = need_spec(op, "input_tensor", input_tensor)
    w = need_spec(op, "weight_tensor", weight_tensor)
    g = conv_geometry(op, a)
    _check_input(op, x, g)
    cfg = _check_conv_config(op, conv_config)
    _check_weight(op, w, g, cfg)
    _check_bias(op, bias_tensor, g)
    validate_compute_kernel_config(op, compute_config, "compute_config")
    need_memory_config(op, memory_config)
    dtype = a["dtype"]
    if dtype is not None:
        need_dtype(op, "dtype", TensorSpec((1,), dtype, Layout.TILE), _IN_DTYPES)
    layout = cfg.output_layout or Layout.TILE
    check_slice_config(op, "slice_config", a["slice_config"], g, layout)
    out_dtype = dtype or x.dtype
    if out_dtype is DataType.BFLOAT8_B and layout is not Layout.TILE:
        raise fail(op, "argument 'dtype': a bfloat8_b output needs conv_config.output_layout TILE")
    n = g["batch_size"] * g["oh"] * g["ow"]
    mc = out_memory_config(x, w, g, g, cfg, dtype, a["slice_config"], memory_config)
    return TensorSpec((1, 1, n, g["out_channels"]), out_dtype, layout, mc)


def out_memory_config(x, w, g: dict, work: dict, cfg: Conv2dConfig, dtype, slice_config, memory_config):
    """The output placement of a conv (geometry `g`; a transposed conv's equivalent conv `work`): `memory_config`
    where the path honours it (conv2d_L1 converts its output to it; the DRAM path ignores it, with a warning in
    ttnn, and writes DRAM interleaved), else `conv_default_memory_config` on the current device's grid."""
    if memory_config is not None and (runs_in_l1(x, slice_config) or is_matmul_conv(g, cfg.shard_layout)):
        return memory_config
    ds = device_spec_or_default(None)
    args = {"conv_config": cfg, "dtype": dtype}
    return conv_default_memory_config(
        g,
        x,
        slice_config,
        cfg.shard_layout,
        cfg.transpose_shards,
        tuple(ds.grid),
        lambda: conv_parallel_config(args, {"input_tensor": x, "weight_tensor": w}, ds, g=work)[0],
    )


def prepared_weight_matrix(w: torch.Tensor) -> torch.Tensor:
    """torch OIHW [OC, IC/g, KH, KW] -> the prepared [1, 1, KH*KW*IC/g, OC] matrix (rows ordered kh, kw, ic)."""
    oc = w.shape[0]
    return w.permute(2, 3, 1, 0).reshape(1, 1, -1, oc).contiguous()


def _oihw(wm: torch.Tensor, g: dict) -> torch.Tensor:
    """The prepared matrix back to OIHW (exact: a permutation of the stored values)."""
    icg = g["in_channels"] // g["groups"]
    return wm.reshape(g["kh"], g["kw"], icg, g["out_channels"]).permute(3, 2, 0, 1)


@conv2d.sim
def _conv2d_sim(ctx, input_tensor, weight_tensor, bias_tensor, conv_config, compute_config, **a):
    g = conv_geometry("conv2d", a)
    cfg = conv_config or Conv2dConfig()
    w_spec = ctx.in_specs["weight_tensor"]
    if is_prepared_weight(w_spec):
        wm = weight_tensor.float()
    else:  # on the fly: the same preparation prepare_conv_weights does, rounded to weights_dtype
        wdt = cfg.weights_dtype or w_spec.dtype
        wm = round_to_dtype(prepared_weight_matrix(weight_tensor.float()), wdt.value)
    n, h, w, c = g["batch_size"], g["input_height"], g["input_width"], g["in_channels"]
    x = input_tensor.float().reshape(n, h, w, c).permute(0, 3, 1, 2)
    mode = "replicate" if cfg.padding_mode is PaddingMode.Replicate else "constant"
    x = F.pad(x, (g["pl"], g["pr"], g["pt"], g["pb"]), mode=mode)
    fid = (compute_config or conv_default_compute_config()).math_fidelity
    layout = ctx.out_spec.layout
    sc = conv_slice_config({**a, "conv_config": conv_config}, ctx.in_specs, g, layout)
    sliced = sliced_ranges({"slice_config": sc}, g, layout)
    if sliced is None:
        y = _conv_nhwc(x, wm, g, fid)
    else:  # one conv per slice of output rows (columns) over its input window, halo included, as ttnn runs it
        axis, ranges = sliced
        dim, s, reach = (
            (2, g["sh"], g["dh"] * (g["kh"] - 1) + 1)
            if axis == "h"
            else (3, g["sw"], g["dw"] * (g["kw"] - 1) + 1)
        )
        parts = [
            _conv_nhwc(x.narrow(dim, a0 * s, (b0 - 1 - a0) * s + reach), wm, g, fid) for a0, b0 in ranges
        ]
        y = torch.cat(parts, dim=dim - 1)
    y = y.reshape(1, 1, -1, g["out_channels"])
    if bias_tensor is not None:
        b = bias_tensor.float()
        b_spec = ctx.in_specs["bias_tensor"]
        if (
            b_spec.layout is not Layout.TILE
        ):  # raw bias: stored in the weights' dtype as prepare_conv_bias does
            wdt = cfg.weights_dtype or b_spec.dtype
            b = round_to_dtype(b.contiguous(), wdt.value)
        y = y + b.reshape(1, 1, 1, -1)
    act = normalize_activation("conv2d", cfg.activation, "conv_config.activation")
    return apply_activation(y, act).contiguous()


def _conv_nhwc(x: torch.Tensor, wm: torch.Tensor, g: dict, fid: MathFidelity) -> torch.Tensor:
    """The conv of an already padded NCHW input with the prepared matrix `wm`: [N, OH, OW, OC]."""
    if fid in (MathFidelity.HiFi4, MathFidelity.Invalid):
        y = F.conv2d(
            x, _oihw(wm, g), stride=(g["sh"], g["sw"]), dilation=(g["dh"], g["dw"]), groups=g["groups"]
        )
        return y.permute(0, 2, 3, 1)
    oh = (x.shape[2] - g["dh"] * (g["kh"] - 1) - 1) // g["sh"] + 1
    ow = (x.shape[3] - g["dw"] * (g["kw"] - 1) - 1) // g["sw"] + 1
    return _im2col_conv(x, wm, g, fid).reshape(x.shape[0], oh, ow, g["out_channels"])


def _im2col_conv(x: torch.Tensor, wm: torch.Tensor, g: dict, fid: MathFidelity) -> torch.Tensor:
    """The conv as one matmul per group on im2col rows ordered (kh, kw, ic), with the fidelity emulation."""
    n = x.shape[0]
    cols = F.unfold(x, (g["kh"], g["kw"]), dilation=(g["dh"], g["dw"]), stride=(g["sh"], g["sw"]))
    icg, ocg, groups = g["in_channels"] // g["groups"], g["out_channels"] // g["groups"], g["groups"]
    # unfold rows are (c, kh, kw); reorder to (kh, kw, c) per group, the prepared matrix's row order
    cols = cols.reshape(n, groups, icg, g["kh"] * g["kw"], -1).transpose(2, 3).reshape(n, groups, g["k"], -1)
    a = cols.permute(1, 0, 3, 2).reshape(groups, -1, g["k"])  # [groups, N*OH*OW, K]
    wg = wm.reshape(g["k"], groups, ocg).permute(1, 0, 2)  # [groups, K, OC/g]
    y = torch.stack([matmul_values(a[i].contiguous(), wg[i].contiguous(), fid) for i in range(groups)])
    return y.permute(1, 0, 2).reshape(1, 1, -1, g["out_channels"])


def _config_kw(args: dict, in_specs: dict) -> dict:
    """select_conv_config's dtype / layout / user-fixed keywords of a conv2d call."""
    cfg = args.get("conv_config") or Conv2dConfig()
    x, w = in_specs["input_tensor"], in_specs["weight_tensor"]
    w_dtype = w.dtype if is_prepared_weight(w) else (cfg.weights_dtype or w.dtype)
    return dict(
        in_dtype=x.dtype,
        w_dtype=w_dtype,
        out_dtype=args.get("dtype") or x.dtype,
        in_layout=x.layout,
        shard_layout=cfg.shard_layout,
        act_block_h_override=cfg.act_block_h_override,
    )


def conv_parallel_config(
    args: dict,
    in_specs: dict,
    device_spec,
    l1_budget: int | None = None,
    g: dict | None = None,
):
    """(chosen ConvChoice, candidates) of a conv2d call (its args by name, tensor args as TensorSpecs) on a device:
    ttfuse/ops/conv_config.py's rule, keeping what the call's conv_config fixes (shard_layout, act_block_h). `g`:
    the geometry (default: the call's; a transposed conv passes its equivalent conv's)."""
    g = conv_geometry("conv2d", args) if g is None else g
    ds = device_spec_or_default(device_spec)
    kw = _config_kw(args, in_specs)
    kw["l1_budget"] = ds.l1_per_core if l1_budget is None else l1_budget
    return select_conv_config(g, tuple(ds.grid), **kw)


def conv_auto_slicing(args: dict, in_specs: dict, g: dict, out_layout: Layout, device_spec=None):
    """(the Conv2dSliceConfig, the config of its slice needing the most L1) that tt-metal's conv2d_DRAM determines
    by itself for a conv2d call with no slice config (or a DRAM slice type with num_slices 0) whose input is in
    DRAM (conv_config.py `auto_slicing` on the device grid with `auto_slice_budget`); None for a call that does not
    auto-slice (its own slice config, the L1 path, a 1x1 matmul conv) or where no count fits."""
    sc = args.get("slice_config")
    cfg = args.get("conv_config") or Conv2dConfig()
    auto = sc is None or (sc.slice_type is not SliceTypeEnum.L1Full and sc.num_slices == 0)
    if not auto or runs_in_l1(in_specs["input_tensor"], sc) or is_matmul_conv(g, cfg.shard_layout):
        return None
    ds = device_spec_or_default(device_spec)
    return auto_slicing(
        g,
        tuple(ds.grid),
        l1_budget=auto_slice_budget(ds),
        out_tile=out_layout is Layout.TILE,
        slice_type=None if sc is None else sc.slice_type,
        **_config_kw(args, in_specs),
    )


def conv_slice_config(args: dict, in_specs: dict, g: dict, out_layout: Layout, device_spec=None):
    """The `Conv2dSliceConfig` a conv2d call runs with, or None (one conv): the call's own, or the one tt-metal
    determines itself (`conv_auto_slicing`; a count of 1 is None: tt-metal runs that conv whole). Shared by the
    spec / sim / cost rules and the select_configs pass, so eager and JIT run the same slices."""
    found = conv_auto_slicing(args, in_specs, g, out_layout, device_spec)
    if found is None:
        sc = args.get("slice_config")
        return (
            None
            if sc is not None and sc.slice_type is not SliceTypeEnum.L1Full and sc.num_slices == 0
            else sc
        )
    return found[0] if found[0].num_slices > 1 else None


def conv_cost(ctx: CostCtx, g: dict, work: dict) -> OpCost:
    """The cost of a conv (conv2d, or a transposed conv through its equivalent conv `work`): FLOPs on the matrix
    engine at the call's math fidelity, spread as the chosen parallel config spreads them (the busiest core's tile
    multiply-accumulates, as matmul's cost does); inputs and output moved once. A DRAM-sliced call (`slice_config`
    with num_slices > 1, or the slices ttnn picks itself for a DRAM input: `conv_slice_config`) sums its slices: each a `padded_slice` reading its input window (halo rows read twice),
    the conv re-reading the weights and bias, and a `slice_write` of its rows: 3 launches per slice."""
    flops = 2.0 * work["batch_size"] * work["oh"] * work["ow"] * work["out_channels"] * work["k"]
    dram, l1 = io_bytes(flat_specs(ctx.in_specs) + list(ctx.out_specs))
    fid = (ctx.args.get("compute_config") or conv_default_compute_config()).math_fidelity
    out_layout = ctx.out_specs[0].layout if ctx.out_specs else Layout.TILE
    sliced = None
    if work is g:
        sc = conv_slice_config(ctx.args, ctx.args, g, out_layout, ctx.device_spec)
        sliced = sliced_ranges({"slice_config": sc}, g, out_layout)
    if sliced is None:
        core_tiles = core_tile_macs(conv_parallel_config(ctx.args, ctx.args, ctx.device_spec, g=work)[0])
        launches = 1
    else:
        axis, ranges = sliced
        subs = [slice_geometry(work, a, b, axis) for a, b in ranges]
        # each slice on the config that fits the slicing's L1 budget (what the slice count was chosen for and the
        # select_configs pass records), so eager and JIT cost a sliced conv alike
        budget = auto_slice_budget(device_spec_or_default(ctx.device_spec))
        core_tiles = sum(
            core_tile_macs(conv_parallel_config(ctx.args, ctx.args, ctx.device_spec, budget, g=sg)[0])
            for sg in subs
        )
        launches = 3 * len(subs)
        more_dram, more_l1 = sliced_rereads(ctx, work, axis, subs, ("weight_tensor", "bias_tensor"))
        dram, l1 = dram + more_dram, l1 + more_l1
    return OpCost(
        flops=flops,
        matmul_flops=flops,
        dram_bytes=dram,
        l1_bytes=l1,
        launches=launches,
        fidelity=fid.name if fid is not MathFidelity.Invalid else "HiFi4",
        core_tiles=core_tiles,
        core_tiles_flops=flops,
    )


@conv2d.cost
def _conv2d_cost(ctx: CostCtx) -> OpCost:
    """conv_cost of the call's geometry."""
    g = conv_geometry("conv2d", ctx.args)
    return conv_cost(ctx, g, g)


# --------------------------------------------------------------------------------- weight / bias preparation
@register_op("prepare_conv_weights", Group.DATA_MOVEMENT, traits=Traits(host_ok=True))
def prepare_conv_weights(
    *,
    weight_tensor,
    input_memory_config,
    input_layout,
    weights_format,
    in_channels,
    out_channels,
    batch_size,
    input_height,
    input_width,
    kernel_size,
    stride,
    padding,
    dilation,
    has_bias,
    groups,
    device,
    input_dtype,
    output_dtype=None,
    conv_config=None,
    compute_config=None,
    slice_config=None,
):
    """OIHW conv weights -> the device form conv2d reads ([1, 1, KH*KW*IC/groups, OC], TILE, weights_dtype)."""


def _prep_checks(op: str, a: dict) -> tuple[dict, Conv2dConfig]:
    g = conv_geometry(op, a)
    cfg = _check_conv_config(op, a["conv_config"])
    if a["device"] is None:
        raise fail(op, "argument 'device' is required (the prepared tensor lives on the device)")
    if not isinstance(a["input_dtype"], DataType):
        raise fail(op, f"argument 'input_dtype' must be a ttnn.DataType, got {a['input_dtype']!r}")
    return g, cfg


@prepare_conv_weights.spec
def _prepare_conv_weights_spec(weight_tensor, weights_format, **a):
    op = "prepare_conv_weights"
    w = need_spec(op, "weight_tensor", weight_tensor)
    if weights_format != "OIHW":
        raise fail(op, f"argument 'weights_format'={weights_format!r}: only 'OIHW' is supported (as in ttnn)")
    g, cfg = _prep_checks(op, a)
    if is_prepared_weight(w):
        raise fail(
            op, "argument 'weight_tensor' is already prepared (TILE [1, 1, K, OC]); pass torch's OIHW weights"
        )
    dt = _check_weight(op, w, g, cfg)
    return TensorSpec((1, 1, g["k"], g["out_channels"]), dt, Layout.TILE, DRAM_MEMORY_CONFIG)


@prepare_conv_weights.sim
def _prepare_conv_weights_sim(ctx, weight_tensor, **_):
    return prepared_weight_matrix(weight_tensor.float())


@register_op("prepare_conv_bias", Group.DATA_MOVEMENT, traits=Traits(host_ok=True))
def prepare_conv_bias(
    *,
    bias_tensor,
    input_memory_config,
    input_layout,
    in_channels,
    out_channels,
    batch_size,
    input_height,
    input_width,
    kernel_size,
    stride,
    padding,
    dilation,
    groups,
    device,
    input_dtype,
    output_dtype=None,
    conv_config=None,
    compute_config=None,
    slice_config=None,
):
    """Conv bias [1, 1, 1, OC] -> its device form (TILE, in conv_config.weights_dtype)."""


@prepare_conv_bias.spec
def _prepare_conv_bias_spec(bias_tensor, **a):
    op = "prepare_conv_bias"
    b = need_spec(op, "bias_tensor", bias_tensor)
    g, cfg = _prep_checks(op, a)
    _check_bias(op, b, g)
    return TensorSpec(b.shape, cfg.weights_dtype or b.dtype, Layout.TILE, DRAM_MEMORY_CONFIG)


@prepare_conv_bias.sim
def _prepare_conv_bias_sim(ctx, bias_tensor, **_):
    return bias_tensor.float().clone()


# ------------------------------------------------------------------------------------------------ max_pool2d
@register_op("max_pool2d", Group.CONV, traits=Traits(host_ok=False))
def max_pool2d(
    input_tensor,
    batch_size,
    input_h,
    input_w,
    channels,
    kernel_size,
    stride,
    padding,
    dilation,
    ceil_mode=False,
    *,
    memory_config=None,
    dram_slice_config=None,
    applied_shard_scheme=None,
    deallocate_input=False,
    reallocate_halo_output=True,
    return_indices=False,
    dtype=DataType.BFLOAT16,
    output_layout=Layout.ROW_MAJOR,
    config_tensor_in_dram=False,
):
    """Max over kh x kw windows of a flattened NHWC activation ([1, 1, N*H*W, C] or [N, H, W, C]); padding reads
    as -inf; output [1, 1, N*OH*OW, C] in `dtype` / `output_layout` (ttnn 0.81.1 defaults: bfloat16 ROW_MAJOR)."""


def _pool_geometry(op: str, a: dict) -> dict:
    g = conv_geometry(
        op,
        {
            "in_channels": a["channels"],
            "out_channels": a["channels"],
            "batch_size": a["batch_size"],
            "input_height": a["input_h"],
            "input_width": a["input_w"],
            "kernel_size": a["kernel_size"],
            "stride": a["stride"],
            "padding": a["padding"],
            "dilation": a["dilation"],
            "groups": 1,
        },
    )
    if a[
        "ceil_mode"
    ]:  # one more window where a partial one starts inside the (left-)padded input (torch's rule)
        for o, size, k, s, d, lo, hi in (
            ("oh", g["input_height"], g["kh"], g["sh"], g["dh"], g["pt"], g["pb"]),
            ("ow", g["input_width"], g["kw"], g["sw"], g["dw"], g["pl"], g["pr"]),
        ):
            span = size + lo + hi - d * (k - 1) - 1
            n = -(-span // s) + 1
            if (n - 1) * s >= size + lo:
                n -= 1
            g[o] = n
    return g


@max_pool2d.spec
def _max_pool2d_spec(
    input_tensor, memory_config, return_indices, dtype, output_layout, dram_slice_config, **a
):
    op = "max_pool2d"
    x = need_spec(op, "input_tensor", input_tensor)
    g = _pool_geometry(op, a)
    n, h, w, c = g["batch_size"], g["input_height"], g["input_width"], g["in_channels"]
    if x.rank != 4 or tuple(x.shape[:3]) not in ((1, 1, n * h * w), (n, h, w)):
        raise fail(
            op, f"argument 'input_tensor' has shape {list(x.shape)}; expected [1, 1, {n * h * w}, {c}]"
        )
    if x.shape[3] != c:
        raise fail(op, f"argument 'channels'={c} does not match the input tensor's {x.shape[3]} channels")
    need_dtype(op, "input_tensor", x, _IN_DTYPES)
    if return_indices:
        raise fail(op, "argument 'return_indices'=True is not supported by the ttfuse simulator")
    need_memory_config(op, memory_config)
    need_dtype(op, "dtype", TensorSpec((1,), dtype, Layout.TILE), _IN_DTYPES)
    if dtype is DataType.BFLOAT8_B and output_layout is not Layout.TILE:
        raise fail(op, "argument 'dtype': a bfloat8_b output needs output_layout TILE")
    check_slice_config(op, "dram_slice_config", dram_slice_config, g, output_layout)
    shape = (1, 1, n * g["oh"] * g["ow"], c)
    if memory_config is None or not runs_in_l1_pool(dram_slice_config):
        grid = tuple(device_spec_or_default(None).grid)
        memory_config = pool_default_memory_config(
            g, x, dram_slice_config, a["applied_shard_scheme"], output_layout, dtype, grid
        )
    return TensorSpec(shape, dtype, output_layout, memory_config)


@max_pool2d.cost
def _max_pool2d_cost(ctx: CostCtx) -> OpCost:
    """KH*KW comparisons per output element on the vector engine, the input and output moved once; a DRAM-sliced
    call (`dram_slice_config`, num_slices > 1) reads its halo rows again and launches 3 ops per slice, as conv2d."""
    g = _pool_geometry("max_pool2d", ctx.args)
    dram, l1 = io_bytes(flat_specs(ctx.in_specs) + list(ctx.out_specs))
    flops = float(ctx.out_specs[0].numel * g["kh"] * g["kw"])
    sliced = sliced_ranges(ctx.args, g, ctx.out_specs[0].layout)
    if sliced is None:
        return OpCost(flops=flops, dram_bytes=dram, l1_bytes=l1)
    axis, ranges = sliced
    more_dram, more_l1 = sliced_rereads(ctx, g, axis, [slice_geometry(g, a, b, axis) for a, b in ranges], ())
    return OpCost(flops=flops, dram_bytes=dram + more_dram, l1_bytes=l1 + more_l1, launches=3 * len(ranges))


@max_pool2d.sim
def _max_pool2d_sim(ctx, input_tensor, **a):
    g = _pool_geometry("max_pool2d", a)
    n, h, w, c = g["batch_size"], g["input_height"], g["input_width"], g["in_channels"]
    x = input_tensor.float().reshape(n, h, w, c).permute(0, 3, 1, 2)
    x = F.pad(x, (g["pl"], g["pr"], g["pt"], g["pb"]), value=float("-inf"))
    # ceil_mode windows past the padded edge: extend with -inf so every window counted by the spec exists
    need_h = (g["oh"] - 1) * g["sh"] + g["dh"] * (g["kh"] - 1) + 1
    need_w = (g["ow"] - 1) * g["sw"] + g["dw"] * (g["kw"] - 1) + 1
    x = F.pad(x, (0, max(0, need_w - x.shape[3]), 0, max(0, need_h - x.shape[2])), value=float("-inf"))
    y = F.max_pool2d(x, (g["kh"], g["kw"]), (g["sh"], g["sw"]), 0, (g["dh"], g["dw"]))
    return y[:, :, : g["oh"], : g["ow"]].permute(0, 2, 3, 1).reshape(1, 1, -1, c).contiguous()


# ------------------------------------------------------------------------------------------- conv_transpose2d
class ConvTranspose2dOp(Conv2dOp):
    """ttnn.conv_transpose2d: output dims from the transposed geometry; weights are torch's IOHW, on the fly."""

    def geometry(self, a: dict) -> dict:
        return transpose_geometry(a)


def transpose_geometry(a: dict) -> dict:
    """conv_geometry of a transposed conv: OH = (H-1)*s - (pt+pb) + d*(k-1) + output_padding + 1 (tt-metal
    conv2d_utils.cpp `calculate_ct2d_output_image_size`)."""
    op = "conv_transpose2d"
    g = conv_geometry(op, {**a, "stride": (1, 1), "padding": (0, 0)})  # channels, groups, kernel, dilation
    g["sh"], g["sw"] = _pair(op, "stride", a["stride"], minimum=1)
    g["pt"], g["pb"], g["pl"], g["pr"] = _padding(op, a["padding"])
    g["oph"], g["opw"] = _pair(op, "output_padding", a["output_padding"], minimum=0)
    if g["oph"] >= max(g["sh"], g["dh"]) or g["opw"] >= max(g["sw"], g["dw"]):
        raise fail(
            op,
            f"argument 'output_padding'={a['output_padding']!r} must be smaller than the stride or dilation",
        )
    g["oh"] = (g["input_height"] - 1) * g["sh"] - g["pt"] - g["pb"] + g["dh"] * (g["kh"] - 1) + g["oph"] + 1
    g["ow"] = (g["input_width"] - 1) * g["sw"] - g["pl"] - g["pr"] + g["dw"] * (g["kw"] - 1) + g["opw"] + 1
    if g["oh"] < 1 or g["ow"] < 1:
        raise fail(op, f"argument 'padding'={a['padding']!r} leaves no output ({g['oh']}x{g['ow']})")
    return g


def _conv_transpose2d(
    *,
    input_tensor,
    weight_tensor,
    device,
    in_channels,
    out_channels,
    batch_size,
    input_height,
    input_width,
    kernel_size,
    stride=(1, 1),
    padding=(0, 0),
    output_padding=(0, 0),
    dilation=(1, 1),
    groups=1,
    dtype=None,
    bias_tensor=None,
    conv_config=None,
    compute_config=None,
    memory_config=None,
    dram_slice_config=None,
    mirror_kernel=True,
    return_output_dim=False,
    return_weights_and_bias=False,
):
    """Transposed 2-D convolution of a flattened NHWC activation with torch's IOHW weights [IC, OC/groups, KH, KW]
    (`mirror_kernel=False`: the kernel is already mirrored)."""


conv_transpose2d = ConvTranspose2dOp(
    "conv_transpose2d",
    _conv_transpose2d,
    Group.CONV,
    traits=Traits(host_ok=True, config_rule="conv_transpose2d"),
)
OPS["conv_transpose2d"] = conv_transpose2d


@conv_transpose2d.spec
def _conv_transpose2d_spec(
    input_tensor, weight_tensor, bias_tensor, conv_config, compute_config, memory_config, **a
):
    op = "conv_transpose2d"
    x = need_spec(op, "input_tensor", input_tensor)
    w = need_spec(op, "weight_tensor", weight_tensor)
    g = transpose_geometry(a)
    _check_input(op, x, g)
    cfg = _check_conv_config(op, conv_config)
    want = (g["in_channels"], g["out_channels"] // g["groups"], g["kh"], g["kw"])
    if w.layout is not Layout.ROW_MAJOR or tuple(w.shape) != want:
        raise fail(
            op,
            f"argument 'weight_tensor' must be torch's ConvTranspose2d weight [in_channels, out_channels/groups, KH, "
            f"KW] = {list(want)} in ROW_MAJOR (prepared weights are not supported by the simulator); got {w}",
        )
    need_dtype(op, "weight_tensor", w, _RAW_W_DTYPES)
    _check_bias(op, bias_tensor, g)
    validate_compute_kernel_config(op, compute_config, "compute_config")
    need_memory_config(op, memory_config)
    if a["return_weights_and_bias"]:
        raise fail(op, "argument 'return_weights_and_bias'=True is not supported by the ttfuse simulator")
    dtype = a["dtype"]
    if dtype is not None:
        need_dtype(op, "dtype", TensorSpec((1,), dtype, Layout.TILE), _IN_DTYPES)
    layout = cfg.output_layout or Layout.TILE
    check_slice_config(op, "dram_slice_config", a["dram_slice_config"], g, layout)
    n = g["batch_size"] * g["oh"] * g["ow"]
    mc = out_memory_config(x, w, g, transpose_as_conv(g), cfg, dtype, a["dram_slice_config"], memory_config)
    return TensorSpec((1, 1, n, g["out_channels"]), dtype or x.dtype, layout, mc)


def _iohw_to_oihw(w: torch.Tensor, groups: int) -> torch.Tensor:
    """ConvTranspose2d weights [IC, OC/g, KH, KW] -> the equivalent conv2d weights [OC, IC/g, KH, KW], mirrored."""
    ic, ocg, kh, kw = w.shape
    v = (
        w.reshape(groups, ic // groups, ocg, kh, kw)
        .transpose(1, 2)
        .reshape(groups * ocg, ic // groups, kh, kw)
    )
    return v.flip(-1, -2)


def _oihw_to_iohw(v: torch.Tensor, groups: int) -> torch.Tensor:
    oc, icg, kh, kw = v.shape
    v = v.flip(-1, -2).reshape(groups, oc // groups, icg, kh, kw).transpose(1, 2)
    return v.reshape(groups * icg, oc // groups, kh, kw)


@conv_transpose2d.sim
def _conv_transpose2d_sim(ctx, input_tensor, weight_tensor, bias_tensor, conv_config, mirror_kernel, **a):
    g = transpose_geometry(a)
    cfg = conv_config or Conv2dConfig()
    w = weight_tensor.float()
    if not mirror_kernel:  # the caller mirrored the kernel already: undo it to get torch's form
        w = w.flip(-1, -2)
    # stored as ttnn stores it: the equivalent conv2d weight, prepared and rounded to weights_dtype
    wdt = cfg.weights_dtype or ctx.in_specs["weight_tensor"].dtype
    v = _iohw_to_oihw(w, g["groups"])
    wm = round_to_dtype(prepared_weight_matrix(v), wdt.value)
    w = _oihw_to_iohw(_oihw(wm, g), g["groups"]).contiguous()
    n, h, wd, c = g["batch_size"], g["input_height"], g["input_width"], g["in_channels"]
    x = input_tensor.float().reshape(n, h, wd, c).permute(0, 3, 1, 2)
    y = F.conv_transpose2d(x, w, stride=(g["sh"], g["sw"]), groups=g["groups"], dilation=(g["dh"], g["dw"]))
    y = F.pad(y, (0, g["opw"], 0, g["oph"]))  # output_padding: extra rows / columns at the end
    y = y[:, :, g["pt"] : y.shape[2] - g["pb"], g["pl"] : y.shape[3] - g["pr"]]
    y = y.permute(0, 2, 3, 1).reshape(1, 1, -1, g["out_channels"])
    if bias_tensor is not None:
        b_spec = ctx.in_specs["bias_tensor"]
        b = bias_tensor.float().contiguous()
        if b_spec.layout is not Layout.TILE:
            b = round_to_dtype(b, (cfg.weights_dtype or b_spec.dtype).value)
        y = y + b.reshape(1, 1, 1, -1)
    act = normalize_activation("conv_transpose2d", cfg.activation, "conv_config.activation")
    return apply_activation(y, act).contiguous()


@conv_transpose2d.cost
def _conv_transpose2d_cost(ctx: CostCtx) -> OpCost:
    """conv_cost of the equivalent conv (`transpose_as_conv`): the matrix engine multiplies the zeros the
    halo spreads in too, so the work is OH*OW*OC*KH*KW*IC/groups MACs, spread by the equivalent conv's config.
    A `dram_slice_config` is validated but not costed or run sliced (the simulator's transposed conv runs whole)."""
    g = transpose_geometry(ctx.args)
    return conv_cost(ctx, g, transpose_as_conv(g))
