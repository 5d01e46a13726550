"""`ttnn.sparse_matmul` (ttnn 0.81.1): batched expert matmuls that skip the (batch, expert) pairs a sparsity mask
zeroes, the MoE building block tt-symbiote's TTNN MoE uses.

Modes (the 0.81.1 docstring's table; `sparsity` is a rank-4 ROW_MAJOR mask read in row-major order (BFLOAT16 per
the docstring; UINT16 too, as moe_expert_token_remap makes it: the validate checks no dtype), one
entry per (batch, expert) pair: tt-metal checks its volume, not its shape, so tt-symbiote's [1, 1, blocks, E] from
moe_expert_token_remap serves the [blocks, 1, 1, E]-shaped slot; a pair runs where its entry is non-zero and its
output block is 0 elsewhere):
- is_input_a_sparse and is_input_b_sparse: a [1, E, M, K], b [1, E, K, N], sparsity [1, 1, 1, E] -> [1, E, M, N];
- b sparse only: a [A, B, M, K], b [1, E, K, N], sparsity [A, B, 1, E] -> [A, B, 1, E, M, N] (every token block
  against every expert); b may also be [E, K, N], as tt-symbiote's TTNNExperts passes its expert weights: the
  output is then [A, B, E, M, N] (the 0.81.1 wheel's golden appends b's batch dims to a's; the docstring says
  rank 4 and the host shape code is not in the wheel, so this rests on the golden and on tt-symbiote's use);
- a sparse only: a [A, E, M, K], b [1, E, K, N], sparsity [1, 1, A, E] -> [A, E, M, N];
- neither: invalid.
Rules modelled: a and b TILE in BFLOAT4_B / BFLOAT8_B / BFLOAT16 / FLOAT32 on the device, interleaved; the
program config is required and must be a MatmulMultiCoreReuseMultiCast1DProgramConfig with mcast_in0=True (the
only one the op takes); output dtype `dtype` or a's, TILE, `memory_config` or DRAM; `output_tile` a ttnn.Tile of
width 32 whose height divides M (ttfuse stores 32x32 tiles, so a 16-row output tile is accounted as 32 rows);
`nnz`, when given, must equal the mask's non-zero count: the device would hang, the simulator raises. Not
modelled (SpecError): the indexed/gather mode (`indices`, `bias`), `optional_output_tensor`, `global_cb`.
Numerics: each active pair is matmul_values at the compute config's fidelity (ttfuse/ops/matmul.py), rounded once.
Cost: FLOPs of every pair (the mask is data, unknown to a spec-only cost rule): an upper bound, labelled so.
"""

from __future__ import annotations

import math

import torch

from ttfuse.configs import MatmulMultiCoreReuseMultiCast1DProgramConfig
from ttfuse.opdef import CostCtx, Group, OpCost, Traits, register_op
from ttfuse.ops.common import (
    fail,
    flat_specs,
    io_bytes,
    need_dtype,
    need_dtype_arg,
    need_memory_config,
    need_spec,
    need_tile,
)
from ttfuse.ops.matmul import matmul_values
from ttfuse.ops.matmul_config import matmul_default_compute_kernel_config, validate_compute_kernel_config
from ttfuse.types import DRAM_MEMORY_CONFIG, DataType, Layout, TensorSpec, Tile

_OP = "sparse_matmul"
_DTYPES = (DataType.BFLOAT4_B, DataType.BFLOAT8_B, DataType.BFLOAT16, DataType.FLOAT32)


@register_op(_OP, Group.MATMUL, traits=Traits())
def sparse_matmul(
    input_tensor_a,
    input_tensor_b,
    *,
    sparsity,
    program_config,
    nnz=None,
    is_input_a_sparse=False,
    is_input_b_sparse=True,
    memory_config=None,
    dtype=None,
    compute_kernel_config=None,
    core_grid=None,
    output_tile=None,
    optional_output_tensor=None,
    global_cb=None,
    sub_device_id=None,
    indices=None,
    bias=None,
):
    """Per (batch, expert) pair a @ b where `sparsity` is non-zero, 0 elsewhere (see the module docstring)."""


def _shapes(a: TensorSpec, b: TensorSpec, s: TensorSpec, a_sparse: bool, b_sparse: bool):
    """(expected sparsity shape, output shape) of a mode, or a SpecError naming what does not fit. b is [1, E, K, N]
    or [E, K, N] (tt-symbiote's expert weights; the 0.81.1 golden appends b's batch dims to a's, so b sparse gives
    [A, B, E, M, N] for it)."""
    if a.rank != 4 or b.rank not in (3, 4) or s.rank != 4:
        raise fail(
            _OP,
            f"'input_tensor_a' and 'sparsity' must be rank 4 and 'input_tensor_b' rank 3 or 4, got a {list(a.shape)}, "
            f"b {list(b.shape)}, sparsity {list(s.shape)}",
        )
    if b.rank == 4 and b.shape[0] != 1:
        raise fail(_OP, f"argument 'input_tensor_b' must be [1, E, K, N] or [E, K, N], got {list(b.shape)}")
    if a.shape[-1] != b.shape[-2]:
        raise fail(_OP, f"inner dims differ: a {list(a.shape)} and b {list(b.shape)}")
    e, (m, n) = b.shape[-3], (a.shape[-2], b.shape[-1])
    lead = (1,) * (b.rank - 3)  # b's batch dims before E
    if a_sparse and b_sparse:
        if a.shape[:2] != (1, e):
            raise fail(
                _OP, f"with both inputs sparse 'input_tensor_a' must be [1, {e}, M, K], got {list(a.shape)}"
            )
        return (1, 1, 1, e), (1, e, m, n)
    if b_sparse:
        return (a.shape[0], a.shape[1], 1, e), (a.shape[0], a.shape[1], *lead, e, m, n)
    if a_sparse:
        if a.shape[1] != e:
            raise fail(
                _OP, f"with input a sparse 'input_tensor_a' must be [A, {e}, M, K], got {list(a.shape)}"
            )
        return (1, 1, a.shape[0], e), (a.shape[0], e, m, n)
    raise fail(_OP, "is_input_a_sparse=False with is_input_b_sparse=False is not a valid mode")


@sparse_matmul.spec
def _sparse_matmul_spec(
    input_tensor_a,
    input_tensor_b,
    *,
    sparsity,
    program_config,
    nnz,
    is_input_a_sparse,
    is_input_b_sparse,
    memory_config,
    dtype,
    compute_kernel_config,
    core_grid,
    output_tile,
    optional_output_tensor,
    global_cb,
    sub_device_id,
    indices,
    bias,
):
    a, b = need_spec(_OP, "input_tensor_a", input_tensor_a), need_spec(_OP, "input_tensor_b", input_tensor_b)
    s = need_spec(_OP, "sparsity", sparsity)
    for arg, t in (("input_tensor_a", a), ("input_tensor_b", b)):
        need_tile(_OP, arg, t)
        need_dtype(_OP, arg, t, _DTYPES)
        if t.memory_config.is_sharded():
            raise fail(_OP, f"argument {arg!r} is sharded; the 1D mcast_in0 config takes interleaved inputs")
    # NOTE: the 0.81.1 docstring says bfloat16, but tt-metal's validate checks only the layout and the in1 reader
    # tests each 16-bit word != 0; tt-symbiote passes moe_expert_token_remap's UINT16 mask here
    need_dtype(_OP, "sparsity", s, (DataType.BFLOAT16, DataType.UINT16))
    if s.layout is not Layout.ROW_MAJOR:
        raise fail(_OP, "argument 'sparsity' must be in ROW_MAJOR layout")
    for arg, v in (("is_input_a_sparse", is_input_a_sparse), ("is_input_b_sparse", is_input_b_sparse)):
        if not isinstance(v, bool):
            raise fail(_OP, f"argument {arg!r} must be a bool, got {v!r}")
    want_s, out_shape = _shapes(a, b, s, is_input_a_sparse, is_input_b_sparse)
    if s.numel != math.prod(want_s):  # sparse_matmul_device_operation.cpp: logical_volume == batch length
        raise fail(
            _OP,
            f"argument 'sparsity' {list(s.shape)} must hold {math.prod(want_s)} entries (one per pair, e.g. "
            f"{list(want_s)}) in this mode",
        )
    if (
        not isinstance(program_config, MatmulMultiCoreReuseMultiCast1DProgramConfig)
        or not program_config.mcast_in0
    ):
        raise fail(
            _OP,
            "argument 'program_config' must be a ttnn.MatmulMultiCoreReuseMultiCast1DProgramConfig with "
            f"mcast_in0=True (the only config sparse_matmul takes), got {program_config!r}",
        )
    pairs = s.numel
    if nnz is not None and (isinstance(nnz, bool) or not isinstance(nnz, int) or not 0 <= nnz <= pairs):
        raise fail(_OP, f"argument 'nnz'={nnz!r} must be an int in [0, {pairs}]")
    if output_tile is not None:
        if not isinstance(output_tile, Tile):
            raise fail(_OP, f"argument 'output_tile' must be a ttnn.Tile, got {output_tile!r}")
        th, tw = output_tile.tile_shape
        if tw != 32 or a.shape[-2] % th:
            raise fail(
                _OP,
                f"argument 'output_tile'={output_tile.tile_shape}: needs width 32 and a height dividing M={a.shape[-2]}",
            )
    for arg, v in (
        ("indices", indices),
        ("bias", bias),
        ("optional_output_tensor", optional_output_tensor),
        ("global_cb", global_cb),
        ("core_grid", core_grid),
    ):
        if v is not None:
            raise fail(_OP, f"argument {arg!r} is not modelled by ttfuse")
    need_dtype_arg(_OP, dtype)
    validate_compute_kernel_config(_OP, compute_kernel_config)
    need_memory_config(_OP, memory_config)
    return TensorSpec(out_shape, dtype or a.dtype, Layout.TILE, memory_config or DRAM_MEMORY_CONFIG)


@sparse_matmul.sim
def _sparse_matmul_sim(
    ctx,
    input_tensor_a,
    input_tensor_b,
    *,
    sparsity,
    nnz=None,
    is_input_a_sparse=False,
    is_input_b_sparse=True,
    compute_kernel_config=None,
    **_,
):
    sa, sb = ctx.in_specs["input_tensor_a"], ctx.in_specs["input_tensor_b"]
    want_s, _ = _shapes(sa, sb, ctx.in_specs["sparsity"], is_input_a_sparse, is_input_b_sparse)
    active = (sparsity != 0).reshape(want_s)  # the mask in row-major pair order
    count = int(active.sum())
    if nnz is not None and nnz != count:
        raise fail(
            _OP, f"argument 'nnz'={nnz} but 'sparsity' has {count} non-zero entries (the device would hang)"
        )
    sa, sb = ctx.in_specs["input_tensor_a"], ctx.in_specs["input_tensor_b"]
    ckc = compute_kernel_config or matmul_default_compute_kernel_config(
        sa.dtype, sb.dtype, ctx.out_spec.dtype, has_program_config=True, has_core_grid=False
    )
    a, fid = input_tensor_a, ckc.math_fidelity
    b = input_tensor_b.reshape(input_tensor_b.shape[-3:])  # [E, K, N] from [1, E, K, N] or [E, K, N]
    out = torch.zeros(ctx.out_spec.shape, dtype=torch.float32)
    if is_input_a_sparse and is_input_b_sparse:  # a [1, E, M, K], mask [1, 1, 1, E]
        for e in torch.nonzero(active[0, 0, 0]).flatten().tolist():
            out[0, e] = matmul_values(a[0, e], b[e], fid)
    elif (
        is_input_b_sparse
    ):  # a [A, B, M, K], mask [A, B, 1, E] -> [A, B, 1, E, M, N] ([A, B, E, M, N], b 3-D)
        pairs = out.reshape(a.shape[0], a.shape[1], -1, *out.shape[-2:])  # a view: [A, B, E, M, N]
        for i, j, _, e in torch.nonzero(active).tolist():
            pairs[i, j, e] = matmul_values(a[i, j], b[e], fid)
    else:  # a [A, E, M, K], mask [1, 1, A, E] -> [A, E, M, N]
        for _, _, i, e in torch.nonzero(active).tolist():
            out[i, e] = matmul_values(a[i, e], b[e], fid)
    return out


def _sparse_matmul_cost(ctx: CostCtx) -> OpCost:
    """Every (batch, expert) pair's FLOPs: an upper bound, since the mask's non-zeros are data."""
    a, out = ctx.in_specs["input_tensor_a"], ctx.out_specs[0]
    mm = 2.0 * out.numel * a.shape[-1]
    dram, l1 = io_bytes(flat_specs(ctx.in_specs) + list(ctx.out_specs))
    ckc = ctx.args.get("compute_kernel_config")
    fid = ckc.math_fidelity.name if ckc is not None else "HiFi4"
    return OpCost(flops=mm, dram_bytes=dram, l1_bytes=l1, launches=1, fidelity=fid, matmul_flops=mm)


sparse_matmul.cost(_sparse_matmul_cost)
