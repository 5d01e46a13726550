"""Matmul family: ttnn.matmul, ttnn.linear, ttnn.addmm, ttnn.experimental.minimal_matmul.

Semantics and validation follow tt-metal's `matmul.cpp` / `matmul_device_operation.cpp` (ttnn 0.81.1):
inputs TILE, rank >= 1, inner dims equal after `transpose_a/b`; batch rules: every batch dim of b is 1
(b broadcast), or equal batch dims, or (equal ranks >= 3, interleaved) a unbatched and b batched; dtypes
BF16/F32/BFP8/BFP4; output dtype defaults to a's; output memory config defaults to DRAM interleaved (ttnn:
`memory_config.has_value() ? memory_config : DRAM_MEMORY_CONFIG`), minimal_matmul's to the input's. A sharded
output with a program config gets the shard spec ttnn derives from the config. Program configs and compute
kernel configs are validated by ttfuse/ops/matmul_config.py (shared with the config-selection pass).

Default compute kernel config (ttnn `create_matmul_attributes`): math fidelity LoFi when a program config or
core_grid is given or both inputs are block floats, else HiFi2; HiFi4 when both inputs are FLOAT32;
math_approx_mode=False; fp32_dest_acc_en = (output is FLOAT32); packer_l1_acc = not fp32_dest_acc_en.
minimal_matmul: HiFi2 with fp32 and packer accumulation.

Numerics: a float32 product of the operands' float32 values (`mm_f32`: oneDNN's kernels for a 2-D right
operand on AVX-512 CPUs, else `torch.matmul`), rounded once to the output dtype by the executor. The math fidelity of the effective compute kernel config (the
one passed, else ttnn's default above) is emulated, so a config made explicit computes what the default does:
the FPU multiplies
5-bit SrcA by 7-bit SrcB mantissa slices (hidden bit included); in1 (b) is unpacked to SrcA and in0 (a) to
SrcB; each phase adds one slice product (LoFi a_hi*b_hi, HiFi2 a_hi*b, HiFi3 a_hi*b + a_lo*b_hi, HiFi4 a*b),
slices being truncations to 6 (a) and 4 (b) explicit mantissa bits. Accumulation stays float32
(fp32_dest_acc_en=False is not emulated). Where eager ttnn runs the bias add or the activation as a separate
kernel (`_mm_launches`), the matmul result is first rounded to the output dtype, as the real intermediate is.

Launches: ttnn `bound_matmul` adds a bias kernel when the bias is post-processed (no program config/core_grid
and not all-DRAM-interleaved, or an L1 output) and a unary kernel for `activation` without core_grid; addmm
adds multiply/add kernels for alpha != 1 and beta != 0. These depend on arguments, so `launches` callables take
(out_specs, args) and return 1 when args are not given.

`optional_output_tensor=` writes the result into that tensor (ttfuse.opdef.PREALLOCATED_OUTPUTS).
Not modelled (SpecError naming the argument): global_cb, prefetcher_pipes,
in0_column_offset, non-32x32 output_tile. Add an op here with its spec/sim/cost rules and a test in
tests/test_ops_matmul.py.
"""

from __future__ import annotations

import math

import torch

from ttfuse.axes import Axis, broadcast_axes, positions, row_dims, sharded
from ttfuse.configs import MathFidelity, MinimalMatmulConfig
from ttfuse.device import TILE
from ttfuse.numerics import round_to_dtype
from ttfuse.opdef import CostCtx, Group, OpCost, Traits, register_op
from ttfuse.ops.activations import apply_activation, normalize_activation
from ttfuse.ops.common import (
    fail,
    flat_specs,
    io_bytes,
    need_dtype,
    need_dtype_arg,
    need_memory_config,
    need_spec,
    need_tile,
    signature_of,
)
from ttfuse.ops.matmul_config import (
    FLOAT_DTYPES,
    MatmulDims,
    check_minimal_matmul_config,
    device_spec_or_default,
    matmul_core_tiles_of,
    matmul_default_compute_kernel_config,
    matmul_output_shard_spec,
    matmul_run_grid,
    minimal_matmul_default_compute_kernel_config,
    minimal_matmul_work,
    validate_compute_kernel_config,
    validate_matmul_program_config,
)
from ttfuse.types import (
    DRAM_MEMORY_CONFIG,
    BufferType,
    CoreGrid,
    DataType,
    Layout,
    TensorMemoryLayout,
    TensorSpec,
)

_I = TensorMemoryLayout.INTERLEAVED

# ------------------------------------------------------------------------------------------ numerics
_A_BITS, _B_BITS = 6, 4  # explicit mantissa bits of one fidelity slice: in0 -> SrcB (7b), in1 -> SrcA (5b)


def _trunc(x: torch.Tensor, bits: int) -> torch.Tensor:
    """x with all but the top `bits` explicit mantissa bits cleared (truncation toward zero)."""
    return (x.contiguous().view(torch.int32) & -(1 << (23 - bits))).view(torch.float32)


def _onednn_linear():
    """torch's oneDNN inner product (x [M, K], w [N, K]) -> x @ w^T, when the sim should use it for float32
    products with a 2-D right operand: TTFUSE_SIM_MATMUL=onednn, or `auto` (the default) on a CPU with AVX-512,
    where oneDNN's float32 kernels run 1.2-1.8x faster than the BLAS behind torch.matmul (measured on Zen 4:
    16384x512x128 191 vs 104 GF/s). Each output is still one float32 dot product (only the summation order is
    the library's); a row's result does not depend on how many rows are computed with it (checked in
    tests/test_ops_matmul.py), which row-blocked regions rely on. None: use torch.matmul (TTFUSE_SIM_MATMUL=blas,
    no AVX-512, or no oneDNN in this torch build)."""
    import os

    mode = os.environ.get("TTFUSE_SIM_MATMUL", "auto").strip().lower()
    if mode not in ("auto", "onednn", "blas"):
        raise ValueError(f"TTFUSE_SIM_MATMUL={mode!r}: expected auto, onednn or blas")
    if mode == "blas" or not torch.backends.mkldnn.is_available():
        return None
    if mode == "auto" and torch.backends.cpu.get_cpu_capability() != "AVX512":
        return None
    fn = getattr(getattr(torch.ops, "mkldnn", None), "_linear_pointwise", None)
    try:  # the op is torch-internal: check it exists and computes here, else fall back
        if fn is None or not torch.equal(
            fn(torch.ones(2, 3), torch.ones(4, 3), None, "none", [], ""), torch.full((2, 4), 3.0)
        ):
            return None
    except RuntimeError:
        return None
    return fn


_LINEAR = _onednn_linear()


def mm_f32(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a @ b (torch.matmul semantics) in float32, through oneDNN for a contiguous a [..., M, K] and a 2-D b."""
    if (
        _LINEAR is not None
        and b.dim() == 2
        and a.dim() >= 2
        and a.dtype is torch.float32
        and b.dtype is torch.float32
        and a.is_contiguous()
        and a.numel()
        and b.numel()
    ):
        y = _LINEAR(a.reshape(-1, a.shape[-1]), b.t(), None, "none", [], "")
        return y.view(*a.shape[:-1], b.shape[-1])
    return torch.matmul(a, b)


def matmul_values(a: torch.Tensor, b: torch.Tensor, fidelity: MathFidelity | None = None) -> torch.Tensor:
    """a @ b in float32; with a fidelity, the TT FPU's mantissa-slice phases (see module docstring)."""
    if fidelity is None or fidelity is MathFidelity.HiFi4:
        return mm_f32(a, b)
    a_hi = _trunc(a, _A_BITS)
    if fidelity is MathFidelity.LoFi:
        return mm_f32(a_hi, _trunc(b, _B_BITS))
    if fidelity is MathFidelity.HiFi2:
        return mm_f32(a_hi, b)
    return mm_f32(a_hi, b) + mm_f32(a - a_hi, _trunc(b, _B_BITS))


def _bias_post_processed(a: TensorSpec, b: TensorSpec, out_mc, program_config, core_grid) -> bool:
    """ttnn `get_post_process_bias`: True when eager ttnn adds the bias in a separate kernel."""
    if program_config is not None or core_grid is not None:
        return False
    if out_mc.buffer_type is not BufferType.DRAM:
        return True
    if a.memory_config.is_sharded():
        return False
    return not (
        a.memory_config.memory_layout is _I
        and b.memory_config.memory_layout is _I
        and out_mc.memory_layout is _I
        and a.buffer_type is BufferType.DRAM
        and b.buffer_type is BufferType.DRAM
    )


def _mm_launches(out_specs, args=None) -> int:
    """Kernels eager ttnn launches: the matmul, + a bias add when post-processed, + a unary for `activation`
    without core_grid (ttnn `bound_matmul`). Without the call's args (framework) this is 1."""
    if args is None:
        return 1
    n = 1
    if args.get("bias") is not None and _bias_post_processed(
        args["input_tensor_a"],
        args["input_tensor_b"],
        out_specs[0].memory_config,
        args.get("program_config"),
        args.get("core_grid"),
    ):
        n += 1
    if args.get("activation") is not None and args.get("core_grid") is None:
        n += 1
    return n


# ------------------------------------------------------------------------------------ matmul and linear
def _mm_spec(
    op,
    a,
    b,
    bias,
    *,
    names=("input_tensor_a", "input_tensor_b"),
    transpose_a,
    transpose_b,
    memory_config,
    dtype,
    program_config,
    activation,
    compute_kernel_config,
    core_grid,
    output_tile,
    optional_output_tensor,
    global_cb,
    prefetcher_pipes=None,
    in0_column_offset=None,
    **_,
) -> TensorSpec:
    a = need_spec(op, names[0], a)
    b = need_spec(op, names[1], b)
    # NOTE: each operand on its own (`is_floating_point`: BF16/FP32/BFP8_B/BFP4_B; they need not match): tt-metal
    # ttnn/cpp/ttnn/operations/matmul/device/matmul_device_operation.cpp ("Unsupported data format for input A/B").
    for nm, s in zip(names, (a, b)):
        need_tile(op, nm, s)
        need_dtype(op, nm, s, FLOAT_DTYPES)
    d = MatmulDims(op, a, b, bool(transpose_a), bool(transpose_b), names)
    if bias is not None:
        bias = need_spec(op, "bias", bias)
        need_tile(op, "bias", bias)
        need_dtype(op, "bias", bias, FLOAT_DTYPES)
        if d.b_batched:
            raise fail(
                op,
                f"argument 'bias' is not supported with a batched {names[1]!r} (ttnn: batched input "
                "not supported when bias exists)",
            )
        if bias.rank == 0 or bias.shape[-1] != d.N or any(x != 1 for x in bias.shape[:-1]):
            raise fail(
                op,
                f"argument 'bias' must be a row vector broadcast over rows, shape [N], [1, N] or "
                f"[..., 1, N] with N={d.N}; got {list(bias.shape)}",
            )
    need_dtype_arg(op, dtype)
    out_dtype = dtype or a.dtype
    if out_dtype not in FLOAT_DTYPES:
        raise fail(
            op,
            f"argument 'dtype'={out_dtype!r} is not supported; use bfloat16, float32, bfloat8_b or bfloat4_b",
        )
    need_memory_config(op, memory_config)
    mc = memory_config or DRAM_MEMORY_CONFIG
    act = normalize_activation(op, activation)
    if act is not None and (a.memory_config.is_sharded() or b.memory_config.is_sharded()):
        raise fail(
            op,
            f"argument 'activation' ({act.op_type.name}) with sharded inputs: put it in the program "
            "config's fused_activation field",
        )
    for arg, v in (
        ("global_cb", global_cb),
        ("in0_column_offset", in0_column_offset),
    ):
        if v is not None:
            raise fail(op, f"argument {arg!r} is not modelled by ttfuse; pass None")
    if prefetcher_pipes:
        raise fail(op, "argument 'prefetcher_pipes' is not modelled by ttfuse; pass None")
    if output_tile is not None and tuple(getattr(output_tile, "tile_shape", output_tile)) != (TILE, TILE):
        raise fail(op, f"argument 'output_tile'={output_tile!r}: only 32x32 tiles are modelled")
    if core_grid is not None:
        if not isinstance(core_grid, CoreGrid):
            raise fail(op, f"argument 'core_grid' must be a ttnn.CoreGrid, got {type(core_grid).__name__}")
        if program_config is not None:
            raise fail(op, "arguments 'core_grid' and 'program_config' cannot both be given")
        ds = device_spec_or_default(None)
        if core_grid.x > ds.grid[0] or core_grid.y > ds.grid[1] or core_grid.x < 1 or core_grid.y < 1:
            raise fail(
                op,
                f"argument 'core_grid'={core_grid!r} does not fit the device's compute grid "
                f"(x={ds.grid[0]}, y={ds.grid[1]}) on {ds.name}",
            )
    validate_compute_kernel_config(op, compute_kernel_config)
    ckc = compute_kernel_config or matmul_default_compute_kernel_config(
        a.dtype,
        b.dtype,
        out_dtype,
        has_program_config=program_config is not None,
        has_core_grid=core_grid is not None,
    )
    out = TensorSpec(d.out_shape, out_dtype, Layout.TILE, mc)
    if program_config is not None:
        validate_matmul_program_config(
            op,
            program_config,
            a,
            b,
            out,
            ckc,
            None,
            transpose_a=bool(transpose_a),
            transpose_b=bool(transpose_b),
            bias=bias,
        )
    if mc.is_sharded():
        if program_config is not None:  # ttnn derives the output shard spec from the program config
            mc = type(mc)(
                mc.memory_layout,
                mc.buffer_type,
                matmul_output_shard_spec(program_config, d, a, b, device_spec_or_default(None)),
            )
        elif mc.shard_spec is None:
            raise fail(
                op,
                "argument 'memory_config' is sharded without a shard_spec and no 'program_config' was "
                "given: pass a shard spec or a program config",
            )
        out = out.replace(memory_config=mc)
    return out


def _mm_sim(ctx, a, b, bias, kw) -> torch.Tensor:
    if kw["transpose_a"]:
        a = a.transpose(-1, -2)
    if kw["transpose_b"]:
        b = b.transpose(-1, -2)
    ckc = kw["compute_kernel_config"] or matmul_default_compute_kernel_config(
        ctx.in_specs["input_tensor_a"].dtype,
        ctx.in_specs["input_tensor_b"].dtype,
        ctx.out_spec.dtype,
        has_program_config=kw.get("program_config") is not None,
        has_core_grid=kw.get("core_grid") is not None,
    )
    y = matmul_values(a, b, ckc.math_fidelity)
    out = ctx.out_spec
    op = ctx.op.name
    if bias is not None:
        if _bias_post_processed(
            ctx.in_specs["input_tensor_a"],
            ctx.in_specs["input_tensor_b"],
            out.memory_config,
            kw["program_config"],
            kw["core_grid"],
        ):
            y = round_to_dtype(y, out.dtype.value)
        y = y + bias.reshape(-1)
    fa = getattr(kw["program_config"], "fused_activation", None)
    if fa is not None:
        y = apply_activation(y, normalize_activation(op, fa, "program_config.fused_activation"))
    if kw["activation"] is not None:
        if kw["core_grid"] is None:  # a separate unary kernel reads the rounded matmul output
            y = round_to_dtype(y, out.dtype.value)
        y = apply_activation(y, normalize_activation(op, kw["activation"]))
    return y


def _mm_cost(ctx: CostCtx) -> OpCost:
    a, b = ctx.in_specs["input_tensor_a"], ctx.in_specs["input_tensor_b"]
    out = ctx.out_specs[0]
    ta = bool(ctx.args.get("transpose_a"))
    k = a.shape[-2] if ta and a.rank >= 2 else a.shape[-1]
    mm = 2.0 * out.numel * k
    dram, l1 = io_bytes(flat_specs(ctx.in_specs) + list(ctx.out_specs))
    n = _mm_launches(ctx.out_specs, ctx.args)
    extra = (n - 1) * 2 * out.nbytes  # each post-processing kernel reads and writes the output once more
    if out.buffer_type is BufferType.L1:
        l1 += extra
    else:
        dram += extra
    ckc = ctx.args.get("compute_kernel_config") or matmul_default_compute_kernel_config(
        a.dtype,
        b.dtype,
        out.dtype,
        has_program_config=ctx.args.get("program_config") is not None,
        has_core_grid=ctx.args.get("core_grid") is not None,
    )
    eltwise = out.numel * ((ctx.args.get("bias") is not None) + (ctx.args.get("activation") is not None))
    c = OpCost(
        flops=mm + eltwise,
        dram_bytes=dram,
        l1_bytes=l1,
        launches=n,
        fidelity=ckc.math_fidelity.name,
        matmul_flops=mm,
    )
    cfg, ds = ctx.args.get("program_config"), ctx.device_spec
    if cfg is not None and ds is not None:  # a fused kernel's step: its busiest core by the config
        try:
            d = MatmulDims(ctx.op.name, a, b, ta, bool(ctx.args.get("transpose_b")))
        except Exception:  # noqa: BLE001 - an invalid call is costed by FLOPs alone
            return c
        tiles, _ = matmul_core_tiles_of(d, cfg, matmul_run_grid(cfg, tuple(ds.grid), ds.grid), ds.num_cores)
        c.core_tiles, c.core_tiles_flops = tiles, mm
    return c


# ----------------------------------------------------------------------------------------------- split axes
def _matmul_axes(node, in_specs) -> list[Axis]:
    """matmul / linear: independent over a's batch dims and M (not over K or N); b split only where batched."""
    if node.attr("transpose_a") or sharded(node, in_specs):
        return []
    pos = positions(node)
    a, b = in_specs[pos["input_tensor_a"][0]], in_specs[pos["input_tensor_b"][0]]
    out = node.outs[0]
    if a.rank < 2 or b.rank < 2 or out.rank < 2:
        return []
    axes = []
    for d, align in row_dims(out):
        dims: list[int | None] = [None] * len(in_specs)
        if d == out.rank - 2:  # M: rows of a
            dims[pos["input_tensor_a"][0]] = a.rank - 2
        else:  # a batch dim
            ok = True
            for name, s in (("input_tensor_a", a), ("input_tensor_b", b)):
                k = d - (out.rank - s.rank)
                if 0 <= k < s.rank - 2 and s.shape[k] != 1:
                    if s.shape[k] != out.shape[d]:
                        ok = False
                    dims[pos[name][0]] = k
            if not ok or all(x is None for x in dims):
                continue
        axes.append(Axis(d, tuple(dims), align))
    return axes


def _minimal_matmul_axes(node, in_specs) -> list[Axis]:
    """minimal_matmul: row-wise over its activation (the weight and bias stay whole)."""
    pos = positions(node)
    if len(pos.get("input_tensor", [])) != 1:
        return []
    return broadcast_axes(node, in_specs, split=set(pos["input_tensor"]))


_MM_TRAITS = Traits(split=_matmul_axes, config_rule="matmul")


def _linear_signature(
    input_tensor_a,
    input_tensor_b,
    *,
    bias=None,
    transpose_a=False,
    transpose_b=False,
    memory_config=None,
    dtype=None,
    program_config=None,
    activation=None,
    compute_kernel_config=None,
    core_grid=None,
    output_tile=None,
    optional_output_tensor=None,
    global_cb=None,
    sub_device_id=None,
    prefetcher_pipes=None,
    in0_column_offset=None,
):
    """ttnn.linear's signature; ttnn.matmul's is the same without `bias` and `in0_column_offset`."""


@register_op("matmul", Group.MATMUL, launches=_mm_launches, traits=_MM_TRAITS)
@signature_of(_linear_signature, drop=("bias", "in0_column_offset"))
def matmul(input_tensor_a, input_tensor_b, **kw):
    """Matrix product a @ b (batched; b broadcast over a's batch when unbatched), optional fused activation."""


@matmul.spec
def _matmul_spec(input_tensor_a, input_tensor_b, **kw):
    return _mm_spec("matmul", input_tensor_a, input_tensor_b, None, **kw)


@matmul.sim
def _matmul_sim(ctx, input_tensor_a, input_tensor_b, **kw):
    return _mm_sim(ctx, input_tensor_a, input_tensor_b, None, kw)


matmul.cost(_mm_cost)


@register_op("linear", Group.MATMUL, launches=_mm_launches, traits=_MM_TRAITS)
@signature_of(_linear_signature)
def linear(input_tensor_a, input_tensor_b, **kw):
    """a @ b + bias (bias a row vector [N] broadcast over rows), optional fused activation; b is [K, N]."""


@linear.spec
def _linear_spec(input_tensor_a, input_tensor_b, bias=None, **kw):
    return _mm_spec("linear", input_tensor_a, input_tensor_b, bias, **kw)


@linear.sim
def _linear_sim(ctx, input_tensor_a, input_tensor_b, bias=None, **kw):
    return _mm_sim(ctx, input_tensor_a, input_tensor_b, bias, kw)


linear.cost(_mm_cost)


# ---------------------------------------------------------------------------------------------- addmm
# Each of input/mat1/mat2 on its own (no bfloat4_b; input only checked when beta != 0): tt-metal
# ttnn/cpp/ttnn/operations/matmul/matmul.cpp, AddmmOperation::validate.
_ADDMM_DTYPES = frozenset({DataType.BFLOAT16, DataType.FLOAT32, DataType.BFLOAT8_B})


def _addmm_launches(out_specs, args=None) -> int:
    """matmul, + multiply_ by alpha when alpha != 1, + (multiply by beta when beta != 1) and add_ when beta != 0."""
    if args is None:
        return 1
    alpha, beta = float(args.get("alpha", 1.0)), float(args.get("beta", 1.0))
    return 1 + (alpha != 1.0) + ((beta != 1.0) + 1 if beta != 0.0 else 0)


@register_op("addmm", Group.MATMUL, launches=_addmm_launches)
def addmm(
    input_tensor,
    mat1_tensor,
    mat2_tensor,
    *,
    alpha=1.0,
    beta=1.0,
    memory_config=None,
    dtype=None,
    program_config=None,
    compute_kernel_config=None,
    core_grid=None,
    output_tile=None,
    optional_output_tensor=None,
):
    """beta * input_tensor + alpha * (mat1_tensor @ mat2_tensor) for 2-D operands."""


@addmm.spec
def _addmm_spec(input_tensor, mat1_tensor, mat2_tensor, *, alpha, beta, output_tile, **kw):
    op = "addmm"
    for nm, v in (("input_tensor", input_tensor), ("mat1_tensor", mat1_tensor), ("mat2_tensor", mat2_tensor)):
        need_spec(op, nm, v)
        need_tile(op, nm, v)
    for nm, v in (("alpha", alpha), ("beta", beta)):
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise fail(op, f"argument {nm!r} must be a real number, got {v!r}")
    if alpha == 0:
        raise fail(op, "argument 'alpha' cannot be 0")
    if output_tile is not None:
        raise fail(op, "argument 'output_tile' must not be provided")
    for nm, s in (("mat1_tensor", mat1_tensor), ("mat2_tensor", mat2_tensor)):
        need_dtype(op, nm, s, _ADDMM_DTYPES)
        if s.rank != 2:
            raise fail(op, f"argument {nm!r} must be 2-D, got shape {list(s.shape)}")
    out = _mm_spec(
        op,
        mat1_tensor,
        mat2_tensor,
        None,
        names=("mat1_tensor", "mat2_tensor"),
        transpose_a=False,
        transpose_b=False,
        activation=None,
        global_cb=None,
        output_tile=None,
        **kw,
    )
    if beta != 0:
        need_dtype(op, "input_tensor", input_tensor, _ADDMM_DTYPES)
        if tuple(input_tensor.shape) != tuple(out.shape):
            raise fail(
                op,
                f"argument 'input_tensor' must have the shape of mat1 @ mat2 {list(out.shape)}, got "
                f"{list(input_tensor.shape)}",
            )
    return out


@addmm.sim
def _addmm_sim(ctx, input_tensor, mat1_tensor, mat2_tensor, *, alpha, beta, compute_kernel_config, **_):
    out_dt = ctx.out_spec.dtype.value
    ckc = compute_kernel_config or matmul_default_compute_kernel_config(
        ctx.in_specs["mat1_tensor"].dtype, ctx.in_specs["mat2_tensor"].dtype, ctx.out_spec.dtype
    )
    y = matmul_values(mat1_tensor, mat2_tensor, ckc.math_fidelity)
    if alpha != 1.0:  # each step is its own ttnn kernel: intermediates are rounded
        y = round_to_dtype(y, out_dt) * float(alpha)
    if beta != 0.0:
        t = input_tensor
        if beta != 1.0:
            t = round_to_dtype(t * float(beta), ctx.in_specs["input_tensor"].dtype.value)
        y = round_to_dtype(y, out_dt) + t
    return y


@addmm.cost
def _addmm_cost(ctx: CostCtx) -> OpCost:
    c = _mm_cost(
        CostCtx(
            ctx.op,
            {"input_tensor_a": ctx.in_specs["mat1_tensor"], "input_tensor_b": ctx.in_specs["mat2_tensor"]},
            ctx.out_specs,
            {},
            ctx.device_spec,
        )
    )
    n = _addmm_launches(ctx.out_specs, ctx.args)
    out = ctx.out_specs[0]
    c.launches = n
    c.flops += (n - 1) * out.numel
    c.dram_bytes += (n - 1) * 2 * out.nbytes + (
        ctx.in_specs["input_tensor"].nbytes if ctx.args.get("beta") else 0
    )
    return c


# -------------------------------------------------------------------------------------- minimal_matmul
@register_op(
    "experimental.minimal_matmul",
    Group.MATMUL,
    traits=Traits(split=_minimal_matmul_axes, config_rule="minimal_matmul"),
)
def minimal_matmul(
    input_tensor,
    weight_tensor,
    *,
    bias_tensor=None,
    fused_activation=None,
    config=None,
    memory_config=None,
    dtype=None,
    compute_kernel_config=None,
    fuse_swiglu=False,
):
    """input @ weight (+ bias_tensor) (+ fused activation or SwiGLU); input may be [prefix, suffix] over K."""


@minimal_matmul.spec
def _minimal_matmul_spec(
    input_tensor,
    weight_tensor,
    *,
    bias_tensor,
    fused_activation,
    config,
    memory_config,
    dtype,
    compute_kernel_config,
    fuse_swiglu,
):
    op = "experimental.minimal_matmul"
    parts = list(input_tensor) if isinstance(input_tensor, list | tuple) else [input_tensor]
    if len(parts) not in (1, 2):
        raise fail(
            op,
            f"argument 'input_tensor' must be a tensor or a [prefix, suffix] list, got {len(parts)} tensors",
        )
    for i, p in enumerate(parts):
        need_spec(op, "input_tensor", p)
        need_tile(op, "input_tensor", p)
        need_dtype(op, "input_tensor", p, FLOAT_DTYPES)
        if p.rank < 2 or tuple(p.shape[:-1]) != tuple(parts[0].shape[:-1]):
            raise fail(
                op,
                f"argument 'input_tensor'[{i}] must be [..., M, K] and match the other part except in K, "
                f"got {list(p.shape)}",
            )
    w = need_spec(op, "weight_tensor", weight_tensor)
    need_tile(op, "weight_tensor", w)
    # NOTE: each operand's dtype is checked on its own (BF16/BFP8_B/BFP4_B/FP32); the dtypes need not match
    # (a bfloat8_b weight with a bfloat16 activation is tt-boltz's triangle attention). tt-metal:
    # ttnn/cpp/ttnn/operations/experimental/minimal_matmul/device/minimal_matmul_device_operation.cpp,
    # validate_on_program_cache_miss (`dtype_supported(act) && dtype_supported(weight)`).
    need_dtype(op, "weight_tensor", w, FLOAT_DTYPES)
    if w.rank < 2 or any(x != 1 for x in w.shape[:-2]):
        raise fail(
            op, f"argument 'weight_tensor' must be [..., K, N] with all leading dims 1, got {list(w.shape)}"
        )
    k = parts[0].shape[-1] if len(parts) == 1 else sum(p.padded_shape[-1] for p in parts)
    if k != w.shape[-2]:
        what = "K" if len(parts) == 1 else "the sum of the parts' tile-padded K"
        raise fail(
            op,
            f"{what} of argument 'input_tensor' ({k}) must equal the K of argument 'weight_tensor' "
            f"({w.shape[-2]})",
        )
    n = w.shape[-1]
    if bias_tensor is not None:
        need_spec(op, "bias_tensor", bias_tensor)
        need_tile(op, "bias_tensor", bias_tensor)
        need_dtype(op, "bias_tensor", bias_tensor, FLOAT_DTYPES)
        if bias_tensor.shape[-1] != n or any(x != 1 for x in bias_tensor.shape[:-1]):
            raise fail(
                op,
                f"argument 'bias_tensor' must be [..., N] with N={n} and all other dims 1, got "
                f"{list(bias_tensor.shape)}",
            )
    act = normalize_activation(op, fused_activation, "fused_activation")
    if fuse_swiglu:
        if act is not None:
            raise fail(op, "arguments 'fuse_swiglu' and 'fused_activation' are mutually exclusive")
        if n % (2 * TILE):
            raise fail(op, f"argument 'fuse_swiglu': N={n} must be divisible by 64 (two tile-aligned halves)")
    validate_compute_kernel_config(op, compute_kernel_config)
    ckc = compute_kernel_config or minimal_matmul_default_compute_kernel_config()
    need_dtype_arg(op, dtype)
    if config is not None:
        a0 = parts[0] if len(parts) == 1 else parts[0].replace(shape=(*parts[0].shape[:-1], w.shape[-2]))
        check_minimal_matmul_config(
            op, config, ckc, a=a0, w=w, out_dtype=dtype, bias=bias_tensor, fuse_swiglu=fuse_swiglu
        )
    need_memory_config(op, memory_config)
    out_dt = dtype or parts[0].dtype
    if out_dt not in FLOAT_DTYPES:
        raise fail(op, f"argument 'dtype'={out_dt!r} is not supported")
    shape = tuple(parts[0].shape[:-1]) + (n // 2 if fuse_swiglu else n,)
    return TensorSpec(shape, out_dt, Layout.TILE, memory_config or parts[0].memory_config)


@minimal_matmul.sim
def _minimal_matmul_sim(
    ctx,
    input_tensor,
    weight_tensor,
    *,
    bias_tensor,
    fused_activation,
    compute_kernel_config,
    fuse_swiglu,
    **_,
):
    if isinstance(input_tensor, list | tuple):  # fused concat over K: each part padded to whole tiles
        padded = [torch.nn.functional.pad(p, (0, -p.shape[-1] % TILE)) for p in input_tensor]
        input_tensor = torch.cat(padded, dim=-1)
    w = weight_tensor.reshape(weight_tensor.shape[-2:])
    fid = (compute_kernel_config or minimal_matmul_default_compute_kernel_config()).math_fidelity
    if fuse_swiglu:  # column tiles 2p are the gate, 2p+1 the up projection
        # the gate and up columns as two contiguous products (each output element is the same dot product as in
        # one matmul over the interleaved weight), then silu(gate) * up in place: no strided temporaries
        k, n2 = w.shape
        tiles = w.reshape(k, n2 // (2 * TILE), 2, TILE)
        halves = [matmul_values(input_tensor, tiles[:, :, j, :].reshape(k, n2 // 2), fid) for j in (0, 1)]
        if bias_tensor is not None:
            bt = bias_tensor.reshape(n2 // (2 * TILE), 2, TILE)
            for j in (0, 1):
                halves[j] += bt[:, j, :].reshape(-1)
        g, u = halves
        torch.nn.functional.silu(g, inplace=True)
        return g.mul_(u)
    y = matmul_values(input_tensor, w, fid)
    if bias_tensor is not None:
        y = y + bias_tensor.reshape(-1)
    if fused_activation is not None:
        y = apply_activation(y, normalize_activation(ctx.op.name, fused_activation, "fused_activation"))
    return y


@minimal_matmul.cost
def _minimal_matmul_cost(ctx: CostCtx) -> OpCost:
    w = ctx.in_specs["weight_tensor"]
    out = ctx.out_specs[0]
    rows = out.numel // out.shape[-1]
    mm = 2.0 * rows * w.shape[-2] * w.shape[-1]
    dram, l1 = io_bytes(flat_specs(ctx.in_specs) + list(ctx.out_specs))
    ckc = ctx.args.get("compute_kernel_config") or minimal_matmul_default_compute_kernel_config()
    c = OpCost(
        flops=mm + out.numel,
        dram_bytes=dram,
        l1_bytes=l1,
        launches=1,
        fidelity=ckc.math_fidelity.name,
        matmul_flops=mm,
    )
    cfg = ctx.args.get("config")
    ds = ctx.device_spec
    # NOTE: without a config the work is spread evenly over the grid (node_cost), as before configs are chosen
    # (the chunk pass prices fused kernels then); ttnn's default 8-tile K block, which pads K < 8 tiles, is not
    # modelled here, so a pre-selection estimate is not skewed by a default the selected config replaces
    if isinstance(cfg, MinimalMatmulConfig) and (ds is None or _fits_grid(cfg, ds)):
        kt, nt = -(-w.shape[-2] // TILE), -(-w.shape[-1] // TILE)
        mt = math.prod(tuple(out.padded_shape)[:-1]) // TILE
        work = minimal_matmul_work(mt, kt, nt, cfg, fuse_swiglu=bool(ctx.args.get("fuse_swiglu")))
        c.core_tiles, c.core_tiles_flops = float(work.core_tiles), mm
    return c


def _fits_grid(cfg, ds) -> bool:
    gx, gy = cfg.compute_with_storage_grid_size
    return gx <= ds.grid[0] and gy <= ds.grid[1]
