"""QKV head split / merge ops: ttnn.transformer.split_query_key_value_and_split_heads / concatenate_heads and
ttnn.experimental.nlp_create_qkv_heads / nlp_concat_heads / nlp_create_qkv_heads_boltz / nlp_concat_heads_boltz.

What: pure data movement between fused projections and per-head tensors. Columns of a fused QKV tensor are
[all q heads | all k heads | all v heads] with each head's d columns contiguous (interleaved inputs); sharded
inputs use TT's grouped layout, per kv head [its q heads | k | v]. Boltz variants treat the rows of a square
pair representation [1, S, S, W] as the batch: heads go to dim 0 ([H, S, S, d]).

Invariants:
- Signatures are the installed ttnn's nanobind signatures; validation mirrors the TT_FATALs of tt-metal's
  `nlp_create_qkv_heads*_device_operation.cpp`, `nlp_concat_heads*_device_operation.cpp`,
  `split_query_key_value_and_split_heads.cpp` and `concatenate_heads.cpp`. head_dim must be a multiple of 32:
  ttnn pads each head to whole tiles otherwise, which ttfuse rejects instead of emulating.
- Outputs are exact copies of input values (block floats are re-rounded by the executor; head boundaries are
  tile aligned, so only a transposed K can change bfloat8_b values, as on TT hardware).
- A preallocated `output_tensor` receives the result (ttfuse.opdef.PREALLOCATED_OUTPUTS); the three
  `output_tensors` of the qkv-heads ops are validated against the computed specs but not aliased (fresh tensors).

Extend: a new head shuffle is a spec rule on `need_tiled_spec` / `_head_dim` / `_out_mc`, a sim rule on `_split_heads`
(or a permute + reshape) and `_tm_cost`; add its test to tests/test_ops_attention.py. The shared argument checks
here (`need_tiled_spec`, `need_int`) are also used by ttfuse/ops/attention.py.
"""

from __future__ import annotations

import torch

from ttfuse.axes import Axis
from ttfuse.device import TILE
from ttfuse.opdef import CostCtx, Group, OpCost, Traits, current_device_spec, register_op
from ttfuse.ops.common import fail, io_bytes, need_memory_config, need_spec, need_tile
from ttfuse.types import (
    BufferType,
    CoreCoord,
    DataType,
    Layout,
    MemoryConfig,
    ShardSpec,
    TensorMemoryLayout,
    TensorSpec,
    num_cores_to_corerangeset,
)

_TM_DTYPES = frozenset({DataType.FLOAT32, DataType.BFLOAT16, DataType.BFLOAT8_B})


def dtype_names(dtypes) -> str:
    return ", ".join(sorted(d.value for d in dtypes))


def need_tiled_spec(op: str, arg: str, v, dtypes, rank: int = 4) -> TensorSpec:
    s = need_spec(op, arg, v)
    need_tile(op, arg, s)
    if s.rank != rank:
        raise fail(op, f"argument {arg!r} must be rank {rank}, got shape {list(s.shape)}")
    if s.dtype not in dtypes:
        raise fail(op, f"argument {arg!r} has dtype {s.dtype.value}; supported: {dtype_names(dtypes)}")
    return s


def need_int(op: str, arg: str, v, *, minimum: int = 0, optional: bool = False) -> None:
    if v is None and optional:
        return
    if not isinstance(v, int) or isinstance(v, bool) or v < minimum:
        raise fail(op, f"argument {arg!r} must be an int >= {minimum}, got {v!r}")


def _tm_cost(ctx: CostCtx) -> OpCost:
    dram, l1 = io_bytes([s for s in ctx.in_specs.values() if isinstance(s, TensorSpec)] + list(ctx.out_specs))
    return OpCost(flops=0.0, dram_bytes=dram, l1_bytes=l1, launches=1)


def _head_dim(op: str, width: int, divisor: int, what: str) -> int:
    if width % divisor:
        raise fail(op, f"argument 'input_tensor': last dim {width} is not divisible by {what} = {divisor}")
    d = width // divisor
    if d % TILE:
        raise fail(
            op,
            f"argument 'input_tensor': head_dim {d} (= {width} / {divisor}) must be a multiple of {TILE}; "
            "pad the heads in the weights of the preceding matmul",
        )
    return d


def _kv_head_dim(op: str, arg: str, kv_width: int, width: int, nq: int, nkv: int) -> int:
    """head_dim from the query input's width; a separate K/V input `arg` holds K and V for num_kv_heads."""
    d = _head_dim(op, width, nq, "num_heads")
    if kv_width != 2 * nkv * d:
        raise fail(
            op,
            f"argument {arg!r}: last dim {kv_width} must be 2 * num_kv_heads * head_dim = {2 * nkv * d}",
        )
    return d


def _heads_args(op: str, num_heads, num_kv_heads) -> tuple[int, int]:
    need_int(op, "num_heads", num_heads, minimum=1)
    need_int(op, "num_kv_heads", num_kv_heads, minimum=1, optional=True)
    return num_heads, num_heads if num_kv_heads is None else num_kv_heads


def _out_mc(op: str, x: TensorSpec, memory_config):
    need_memory_config(op, memory_config)
    mc = memory_config or x.memory_config
    if not x.memory_config.is_sharded() and mc.is_sharded():
        raise fail(op, f"argument 'memory_config' must be interleaved for an interleaved input, got {mc!r}")
    if x.memory_config.is_sharded() and (
        not mc.is_sharded() or mc.memory_layout is TensorMemoryLayout.WIDTH_SHARDED
    ):
        raise fail(
            op,
            f"argument 'memory_config' must be sharded (not WIDTH_SHARDED) for a sharded input, got {mc!r}",
        )
    return mc


def _head_shard_mcs(mc, nq: int, nkv: int, d: int):
    """Output memory configs of the sharded nlp_create_qkv_heads path: one head per core, [32, head_dim] shards."""
    if not mc.is_sharded():
        return mc, mc, mc
    dev = current_device_spec()
    grid = CoreCoord(*dev.grid) if dev is not None else CoreCoord(8, 8)
    qmc = MemoryConfig(
        mc.memory_layout, mc.buffer_type, ShardSpec(num_cores_to_corerangeset(nq, grid, True), (TILE, d))
    )
    kvmc = MemoryConfig(
        mc.memory_layout, mc.buffer_type, ShardSpec(num_cores_to_corerangeset(nkv, grid, True), (TILE, d))
    )
    return qmc, kvmc, kvmc


def _check_sharded_heads(op: str, nq: int, nkv: int, transpose: bool) -> None:
    dev = current_device_spec()
    cores = dev.num_cores if dev is not None else 64
    if nq > cores or nkv > cores or nq < nkv or nq % nkv:
        raise fail(
            op,
            f"arguments 'num_heads'/'num_kv_heads' ({nq}/{nkv}): the sharded path needs "
            f"num_kv_heads <= num_heads <= {cores} cores with num_heads % num_kv_heads == 0",
        )
    if transpose:
        raise fail(op, "argument 'transpose_k_heads' must be False for a sharded input")


def _split_heads(x: torch.Tensor, nq: int, nkv: int, d: int, grouped: bool, tied: bool = False):
    """[..., S, W] -> q [..., nq, S, d], k, v [..., nkv, S, d] from columns [q heads | k heads | v heads].

    grouped: the sharded TT layout, per kv head [its nq/nkv q heads | k | v]. tied: one K/V section (v = k).
    """
    lead, s = x.shape[:-2], x.shape[-2]
    if grouped:
        g = nq // nkv
        t = x.reshape(*lead, s, nkv, g + 2, d)
        q = t[..., :g, :].reshape(*lead, s, nq, d)
        k, v = t[..., g, :], t[..., g + 1, :]
    else:
        t = x.reshape(*lead, s, nq + (1 if tied else 2) * nkv, d)
        q, k = t[..., :nq, :], t[..., nq : nq + nkv, :]
        v = k if tied else t[..., nq + nkv :, :]
    return (
        q.transpose(-3, -2).contiguous(),
        k.transpose(-3, -2).contiguous(),
        v.transpose(-3, -2).contiguous(),
    )


def _batch_blocks(node, in_specs) -> list[Axis]:
    """Row blocks of the simulator for head split/merge: independent over the batch (dim 0 of every tensor
    input and output)."""
    if any(o.shape[0] != node.outs[0].shape[0] for o in node.outs) or node.outs[0].shape[0] <= 1:
        return []
    if any(s.shape[0] != node.outs[0].shape[0] for s in in_specs):
        return []
    return [Axis(0, (0,) * len(in_specs))]


@register_op(
    "transformer.split_query_key_value_and_split_heads",
    Group.DATA_MOVEMENT,
    traits=Traits(block=_batch_blocks),
)
def split_query_key_value_and_split_heads(
    input_tensor,
    kv_input_tensor=None,
    *,
    num_heads,
    num_kv_heads=None,
    transpose_key=True,
    memory_config=None,
    use_falcon7b_backend=False,
):
    """[B,S,(H+2Hkv)*d] -> q [B,H,S,d], k [B,Hkv,d,S] (or [B,Hkv,S,d]), v [B,Hkv,S,d]."""


@split_query_key_value_and_split_heads.spec
def _split_qkv_spec(
    input_tensor,
    kv_input_tensor,
    *,
    num_heads,
    num_kv_heads,
    transpose_key,
    memory_config,
    use_falcon7b_backend,
):
    op = "transformer.split_query_key_value_and_split_heads"
    x = need_tiled_spec(op, "input_tensor", input_tensor, _TM_DTYPES, rank=3)
    nq, nkv = _heads_args(op, num_heads, num_kv_heads)
    bsz, s, w = x.shape
    if use_falcon7b_backend and (num_kv_heads is None or kv_input_tensor is not None or transpose_key):
        raise fail(
            op,
            "argument 'use_falcon7b_backend' needs num_kv_heads, no kv_input_tensor and transpose_key=False",
        )
    if kv_input_tensor is not None:
        kv = need_tiled_spec(op, "kv_input_tensor", kv_input_tensor, _TM_DTYPES, rank=3)
        if kv.dtype is not x.dtype:
            raise fail(
                op,
                f"argument 'kv_input_tensor' dtype {kv.dtype.value} must match input_tensor's "
                f"{x.dtype.value}",
            )
        if kv.shape[0] != bsz or kv.shape[1] != s:
            raise fail(
                op,
                f"argument 'kv_input_tensor' shape {list(kv.shape)} must match input_tensor "
                f"{list(x.shape)} in batch and sequence",
            )
        if x.memory_config.is_sharded():
            raise fail(op, "argument 'kv_input_tensor' cannot be used with a sharded input_tensor")
        d = _kv_head_dim(op, "kv_input_tensor", kv.shape[2], w, nq, nkv)
    else:
        d = _head_dim(op, w, nq + 2 * nkv, "num_heads + 2 * num_kv_heads")
    if x.memory_config.is_sharded():
        if s % TILE:
            raise fail(
                op, f"argument 'input_tensor': a sharded input needs a tile-aligned sequence length, got {s}"
            )
        if nq % nkv:
            raise fail(
                op,
                f"arguments 'num_heads'/'num_kv_heads' ({nq}/{nkv}): sharded input needs "
                "num_heads % num_kv_heads == 0",
            )
    mc = _out_mc(op, x, memory_config)
    kshape = (bsz, nkv, d, s) if transpose_key else (bsz, nkv, s, d)
    return (
        TensorSpec((bsz, nq, s, d), x.dtype, Layout.TILE, mc),
        TensorSpec(kshape, x.dtype, Layout.TILE, mc),
        TensorSpec((bsz, nkv, s, d), x.dtype, Layout.TILE, mc),
    )


def _split_heads_sim(ctx, arg: str, x, kv, num_heads, num_kv_heads, *, tied: bool = False, transpose_k=False):
    """The sim rules' split of fused columns `x` (then `kv` when given) into (q, k, v) heads of the output's head
    dim, k transposed to [.., d, S] when asked; `arg` names the input parameter (its memory config picks the
    sharded, grouped column layout)."""
    nkv = num_heads if num_kv_heads is None else num_kv_heads
    x = x if kv is None else torch.cat([x, kv], -1)
    d = ctx.out_spec[0].shape[-1]
    q, k, v = _split_heads(x, num_heads, nkv, d, ctx.in_specs[arg].memory_config.is_sharded(), tied)
    return q, (k.transpose(-1, -2).contiguous() if transpose_k else k), v


@split_query_key_value_and_split_heads.sim
def _split_qkv_sim(ctx, input_tensor, kv_input_tensor, *, num_heads, num_kv_heads, transpose_key, **_):
    return _split_heads_sim(
        ctx, "input_tensor", input_tensor, kv_input_tensor, num_heads, num_kv_heads, transpose_k=transpose_key
    )


@register_op("experimental.nlp_create_qkv_heads", Group.DATA_MOVEMENT)
def nlp_create_qkv_heads(
    input,
    input_kv=None,
    *,
    num_heads,
    num_kv_heads=None,
    transpose_k_heads=True,  # noqa: A002
    kv_tied=False,
    memory_config=None,
    output_tensors=None,
):
    """[B,1,S,(H+2Hkv)*d] -> q [B,H,S,d], k [B,Hkv,d,S] (or [B,Hkv,S,d]), v [B,Hkv,S,d]."""


def _create_heads_spec(
    op: str,
    x,
    *,
    input_kv,
    num_heads,
    num_kv_heads,
    transpose_k_heads,
    memory_config,
    output_tensors,
    kv_tied=False,
    boltz=False,
):
    x = need_tiled_spec(op, "input", x, _TM_DTYPES)
    nq, nkv = _heads_args(op, num_heads, num_kv_heads)
    b0, b1, s, w = x.shape
    if boltz:
        if b0 != 1 or b1 != s:
            raise fail(
                op,
                f"argument 'input' must be [1, S, S, (H+2Hkv)*d] (a square pair representation), got "
                f"{list(x.shape)}",
            )
    elif b1 != 1:
        raise fail(op, f"argument 'input' must be [B, 1, S, W]: dim 1 is {b1}, not 1")
    if kv_tied and input_kv is not None:
        raise fail(op, "argument 'kv_tied' cannot be combined with input_kv")
    if input_kv is not None:
        kv = need_tiled_spec(op, "input_kv", input_kv, _TM_DTYPES)
        if kv.dtype is not x.dtype:
            raise fail(op, f"argument 'input_kv' dtype {kv.dtype.value} must match input's {x.dtype.value}")
        if kv.shape[:3] != x.shape[:3]:
            raise fail(
                op,
                f"argument 'input_kv' shape {list(kv.shape)} must match input {list(x.shape)} in all but "
                "the last dim",
            )
        d = _kv_head_dim(op, "input_kv", kv.shape[3], w, nq, nkv)
    else:
        d = _head_dim(
            op,
            w,
            nq + (1 if kv_tied else 2) * nkv,
            "num_heads + num_kv_heads" if kv_tied else "num_heads + 2 * num_kv_heads",
        )
    if not isinstance(transpose_k_heads, bool):
        raise fail(op, f"argument 'transpose_k_heads' must be a bool, got {transpose_k_heads!r}")
    if x.memory_config.is_sharded():
        _check_sharded_heads(op, nq, nkv, transpose_k_heads)
    mc = _out_mc(op, x, memory_config)
    qmc, kmc, vmc = _head_shard_mcs(mc, nq, nkv, d)
    lead = (nq, s, s) if boltz else (b0, nq, s)
    kvlead = (nkv, s, s) if boltz else (b0, nkv, s)
    kshape = (b0, nkv, d, s) if transpose_k_heads else (*kvlead, d)  # boltz never transposes (see its spec)
    outs = (
        TensorSpec((*lead, d), x.dtype, Layout.TILE, qmc),
        TensorSpec(kshape, x.dtype, Layout.TILE, kmc),
        TensorSpec((*kvlead, d), x.dtype, Layout.TILE, vmc),
    )
    _check_output_tensors(op, output_tensors, outs)
    return outs


def _check_output_tensors(op: str, output_tensors, outs) -> None:
    """Preallocated (q, k, v) must match the computed specs (they are validated, not aliased)."""
    if output_tensors is not None and any(t is not None for t in output_tensors):
        if len(output_tensors) != 3 or not all(isinstance(t, TensorSpec) for t in output_tensors):
            raise fail(op, "argument 'output_tensors' must hold three preallocated ttnn.Tensors (q, k, v)")
        for name, t, o in zip("qkv", output_tensors, outs):
            if t.shape != o.shape or t.dtype is not o.dtype:
                raise fail(op, f"argument 'output_tensors': preallocated {name} is {t}, expected {o}")


@nlp_create_qkv_heads.spec
def _nlp_create_spec(input, *, kv_tied, **kw):
    return _create_heads_spec("experimental.nlp_create_qkv_heads", input, kv_tied=bool(kv_tied), **kw)


@nlp_create_qkv_heads.sim
def _nlp_create_sim(ctx, input, input_kv, *, num_heads, num_kv_heads, transpose_k_heads, kv_tied, **_):
    x, kv = input[:, 0], None if input_kv is None else input_kv[:, 0]
    tied, transpose_k = bool(kv_tied), transpose_k_heads
    return _split_heads_sim(ctx, "input", x, kv, num_heads, num_kv_heads, tied=tied, transpose_k=transpose_k)


@register_op("experimental.nlp_create_qkv_heads_boltz", Group.DATA_MOVEMENT)
def nlp_create_qkv_heads_boltz(
    input,
    input_kv=None,
    *,
    num_heads,
    num_kv_heads=None,  # noqa: A002
    transpose_k_heads=True,
    memory_config=None,
    output_tensors=None,
):
    """Boltz pair heads: [1,S,S,(H+2Hkv)*d] -> q [H,S,S,d], k, v [Hkv,S,S,d] (k [Hkv,d,S,S] when transposed)."""


@nlp_create_qkv_heads_boltz.spec
def _boltz_create_spec(input, *, transpose_k_heads, **kw):
    op = "experimental.nlp_create_qkv_heads_boltz"
    if transpose_k_heads:
        # NOTE: ttnn declares k as [Hkv, d, S, S] but its writer transposes each [S*S, d] tile column; ttfuse does
        # not guess that layout. Boltz calls this op with transpose_k_heads=False.
        raise fail(
            op,
            "argument 'transpose_k_heads'=True is not modelled by ttfuse (its K layout [Hkv, d, S, S] is "
            "not a plain transpose); pass transpose_k_heads=False and transpose K explicitly",
        )
    return _create_heads_spec(op, input, transpose_k_heads=transpose_k_heads, boltz=True, **kw)


@nlp_create_qkv_heads_boltz.sim
def _boltz_create_sim(ctx, input, input_kv, *, num_heads, num_kv_heads, **_):
    kv = None if input_kv is None else input_kv[0]  # [S, S, W]: rows act as batch
    q, k, v = _split_heads_sim(ctx, "input", input[0], kv, num_heads, num_kv_heads)
    return tuple(t.transpose(0, 1).contiguous() for t in (q, k, v))  # [S, H, S, d] -> [H, S, S, d]


def _concat_spec(op: str, x, memory_config, shape_fn):
    x = need_tiled_spec(op, "input_tensor", x, _TM_DTYPES)
    if x.shape[3] % TILE:
        raise fail(
            op,
            f"argument 'input_tensor': head_dim {x.shape[3]} must be a multiple of {TILE} (head size "
            "cannot have tile padding)",
        )
    if x.memory_config.memory_layout is TensorMemoryLayout.WIDTH_SHARDED:
        raise fail(op, "argument 'input_tensor' must not be WIDTH_SHARDED")
    need_memory_config(op, memory_config)
    mc = memory_config or x.memory_config
    if not x.memory_config.is_sharded() and mc.is_sharded():
        raise fail(op, f"argument 'memory_config' must be interleaved for an interleaved input, got {mc!r}")
    if x.memory_config.is_sharded() and mc.memory_layout is TensorMemoryLayout.HEIGHT_SHARDED:
        raise fail(op, "argument 'memory_config' must not be HEIGHT_SHARDED for a sharded input")
    return TensorSpec(shape_fn(x.shape), x.dtype, Layout.TILE, mc)


@register_op("transformer.concatenate_heads", Group.DATA_MOVEMENT, traits=Traits(block=_batch_blocks))
def concatenate_heads(input_tensor, *, memory_config=None):
    """[B,H,S,d] -> [B,S,H*d] (heads side by side)."""


@concatenate_heads.spec
def _concatenate_heads_spec(input_tensor, *, memory_config):
    return _concat_spec(
        "transformer.concatenate_heads", input_tensor, memory_config, lambda s: (s[0], s[2], s[1] * s[3])
    )


@concatenate_heads.sim
def _concatenate_heads_sim(ctx, input_tensor, *, memory_config):
    b, h, s, d = input_tensor.shape
    return input_tensor.permute(0, 2, 1, 3).reshape(b, s, h * d)


@register_op("experimental.nlp_concat_heads", Group.DATA_MOVEMENT)
def nlp_concat_heads(input_tensor, *, memory_config=None):
    """[B,H,S,d] -> [B,1,S,H*d]."""


@nlp_concat_heads.spec
def _nlp_concat_spec(input_tensor, *, memory_config):
    return _concat_spec(
        "experimental.nlp_concat_heads", input_tensor, memory_config, lambda s: (s[0], 1, s[2], s[1] * s[3])
    )


@nlp_concat_heads.sim
def _nlp_concat_sim(ctx, input_tensor, *, memory_config):
    b, h, s, d = input_tensor.shape
    return input_tensor.permute(0, 2, 1, 3).reshape(b, 1, s, h * d)


@register_op("experimental.nlp_concat_heads_boltz", Group.DATA_MOVEMENT)
def nlp_concat_heads_boltz(input_tensor, *, memory_config=None, output_tensor=None):
    """Boltz pair heads: [H,S,S,d] -> [1,S,S,H*d]."""


@nlp_concat_heads_boltz.spec
def _boltz_concat_spec(input_tensor, *, memory_config, output_tensor):
    op = "experimental.nlp_concat_heads_boltz"
    x = need_spec(op, "input_tensor", input_tensor)
    if x.rank == 4 and x.shape[1] != x.shape[2]:
        raise fail(
            op,
            f"argument 'input_tensor' must be [H, S, S, d] (square pair representation), got {list(x.shape)}",
        )
    return _concat_spec(op, x, memory_config, lambda s: (1, s[2], s[2], s[0] * s[3]))


@nlp_concat_heads_boltz.sim
def _boltz_concat_sim(ctx, input_tensor, *, memory_config, output_tensor):
    h, s1, s2, d = input_tensor.shape
    return input_tensor.permute(1, 2, 0, 3).reshape(1, s1, s2, h * d)


# ------------------------------------------------------------------------------------------ decode heads
# nlp_create_qkv_heads_decode: [1, 1, B, (nh + 2 nkv) d] -> q [1, B, nh, d], k, v [1, B, nkv, d] (heads padded to a
# tile by the TILE layout), each HEIGHT_SHARDED (the memory_config must be) one user per core; a sharded input must
# be WIDTH_SHARDED. nlp_concat_heads_decode: [1, B, 32 (padded heads), d] HEIGHT_SHARDED in [32, d] shards, one user
# per core -> [1, 1, max(B, 32), nh d] (the batch padded to a tile, as ttnn's output spec; rows past B are zeros
# here, unwritten on the device) WIDTH_SHARDED in L1 over nh cores; ttnn ignores its memory_config. tt-metal
# (ttnn 0.81.1) nlp_create_qkv_heads_decode_device_operation.cpp / nlp_concat_heads_decode_device_operation.cpp:
# bfloat16 or float32 input, TILE, B <= 32 users, head dim a multiple of 32, heads <= 32; `batch_offset` /
# `slice_size` (a slice of the users) and `sub_core_grids` are not modelled.
_DECODE_DTYPES = frozenset({DataType.FLOAT32, DataType.BFLOAT16})


def _decode_grid() -> CoreCoord:
    dev = current_device_spec()
    return CoreCoord(*dev.grid) if dev is not None else CoreCoord(8, 8)


def _per_core_mc(layout: TensorMemoryLayout, cores: int, shard: tuple[int, int]) -> MemoryConfig:
    return MemoryConfig(
        layout, BufferType.L1, ShardSpec(num_cores_to_corerangeset(cores, _decode_grid(), True), shard)
    )


@register_op("experimental.nlp_create_qkv_heads_decode", Group.DATA_MOVEMENT)
def nlp_create_qkv_heads_decode(
    input_tensor,
    *,
    num_heads,
    num_kv_heads=None,
    output_tensors=None,
    overlap_qk_coregrid=True,
    batch_offset=None,
    slice_size=None,
    memory_config=None,
):
    """Split a decode step's fused QKV [1, 1, B, (nh + 2 nkv) d] into height-sharded q, k, v [1, B, heads, d]."""


@nlp_create_qkv_heads_decode.spec
def _create_decode_spec(
    input_tensor,
    *,
    num_heads,
    num_kv_heads=None,
    output_tensors=None,
    overlap_qk_coregrid=True,
    batch_offset=None,
    slice_size=None,
    memory_config=None,
):
    op = "experimental.nlp_create_qkv_heads_decode"
    x = need_tiled_spec(op, "input_tensor", input_tensor, _DECODE_DTYPES)
    nq, nkv = _heads_args(op, num_heads, num_kv_heads)
    if batch_offset is not None or slice_size is not None:
        raise fail(
            op,
            "arguments 'batch_offset' / 'slice_size' (a slice of the users) are not modelled by the simulator",
        )
    if not isinstance(overlap_qk_coregrid, bool):
        raise fail(op, f"argument 'overlap_qk_coregrid' must be a bool, got {overlap_qk_coregrid!r}")
    if x.shape[0] != 1 or x.shape[1] != 1 or x.shape[2] > TILE:
        raise fail(op, f"argument 'input_tensor' must be [1, 1, B <= {TILE}, width], got {list(x.shape)}")
    if x.memory_config.is_sharded() and x.memory_config.memory_layout is not TensorMemoryLayout.WIDTH_SHARDED:
        raise fail(
            op, f"a sharded 'input_tensor' must be WIDTH_SHARDED, got {x.memory_config.memory_layout.name}"
        )
    if nq > TILE or nkv > nq or nq % nkv:
        raise fail(
            op, f"arguments 'num_heads'/'num_kv_heads' ({nq}/{nkv}): need num_kv_heads | num_heads <= {TILE}"
        )
    d = _head_dim(op, x.shape[-1], nq + 2 * nkv, "num_heads + 2 * num_kv_heads")
    need_memory_config(op, memory_config)
    if memory_config is not None and memory_config.memory_layout is not TensorMemoryLayout.HEIGHT_SHARDED:
        raise fail(op, f"argument 'memory_config' must be HEIGHT_SHARDED, got {memory_config!r}")
    users = x.shape[2]
    grid = _decode_grid()
    if not overlap_qk_coregrid and 2 * users > grid.x * grid.y:
        raise fail(op, f"overlap_qk_coregrid=False needs {2 * users} cores (q and k on separate cores)")
    qmc = _per_core_mc(TensorMemoryLayout.HEIGHT_SHARDED, users, (TILE, d))
    if memory_config is not None:
        qmc = MemoryConfig(qmc.memory_layout, memory_config.buffer_type, qmc.shard_spec)
    outs = (
        TensorSpec((1, users, nq, d), x.dtype, Layout.TILE, qmc),
        TensorSpec((1, users, nkv, d), x.dtype, Layout.TILE, qmc),
        TensorSpec((1, users, nkv, d), x.dtype, Layout.TILE, qmc),
    )
    _check_output_tensors(op, output_tensors, outs)
    return outs


@nlp_create_qkv_heads_decode.sim
def _create_decode_sim(ctx, input_tensor, *, num_heads, num_kv_heads=None, **_):
    nkv = num_heads if num_kv_heads is None else num_kv_heads
    users, d = input_tensor.shape[2], ctx.out_spec[0].shape[-1]
    heads = input_tensor.reshape(1, users, num_heads + 2 * nkv, d)
    q, k, v = heads.split((num_heads, nkv, nkv), dim=2)
    return q.contiguous(), k.contiguous(), v.contiguous()


@register_op("experimental.nlp_concat_heads_decode", Group.DATA_MOVEMENT)
def nlp_concat_heads_decode(
    input_tensor, *, num_heads, memory_config=None, output_tensor=None, sub_core_grids=None
):
    """Merge a decode step's heads [1, B, >= num_heads, d] (height-sharded) into [1, 1, B, num_heads * d]."""


@nlp_concat_heads_decode.spec
def _concat_decode_spec(
    input_tensor, *, num_heads, memory_config=None, output_tensor=None, sub_core_grids=None
):
    op = "experimental.nlp_concat_heads_decode"
    x = need_tiled_spec(op, "input_tensor", input_tensor, _DECODE_DTYPES)
    need_int(op, "num_heads", num_heads, minimum=1)
    if x.memory_config.memory_layout is not TensorMemoryLayout.HEIGHT_SHARDED:
        raise fail(
            op, f"argument 'input_tensor' must be HEIGHT_SHARDED, got {x.memory_config.memory_layout.name}"
        )
    if x.shape[0] != 1 or x.shape[1] > TILE or x.padded_shape[2] != TILE:
        raise fail(
            op, f"argument 'input_tensor' must be [1, B <= {TILE}, heads <= {TILE}, d], got {list(x.shape)}"
        )
    sp = x.memory_config.shard_spec
    if sp is not None and (
        tuple(sp.shape) != (TILE, x.padded_shape[-1]) or sp.grid.num_cores() != x.shape[1]
    ):
        raise fail(
            op,
            f"argument 'input_tensor' must be sharded in [{TILE}, {x.shape[-1]}] shards, one user per core "
            f"({x.shape[1]} cores), got {sp}",
        )
    if sub_core_grids is not None:
        raise fail(op, "argument 'sub_core_grids' is not modelled by the simulator")
    if num_heads > x.shape[2]:
        raise fail(op, f"argument 'num_heads'={num_heads} exceeds the input's {x.shape[2]} heads")
    if x.shape[-1] % TILE:
        raise fail(op, f"argument 'input_tensor' has head dim {x.shape[-1]}; it must be a multiple of {TILE}")
    need_memory_config(op, memory_config)
    d, rows = x.shape[-1], max(x.shape[1], TILE)
    mc = _per_core_mc(
        TensorMemoryLayout.WIDTH_SHARDED, num_heads, (rows, d)
    )  # NOTE: ttnn ignores memory_config
    return TensorSpec((1, 1, rows, num_heads * d), x.dtype, Layout.TILE, mc)


@nlp_concat_heads_decode.sim
def _concat_decode_sim(ctx, input_tensor, *, num_heads, **_):
    users, d = input_tensor.shape[1], input_tensor.shape[-1]
    out = torch.zeros(ctx.out_spec.shape, dtype=torch.float32)
    out[0, 0, :users] = input_tensor[0, :, :num_heads].reshape(users, num_heads * d)
    return out


for _op in (
    nlp_create_qkv_heads_decode,
    nlp_concat_heads_decode,
    split_query_key_value_and_split_heads,
    nlp_create_qkv_heads,
    nlp_create_qkv_heads_boltz,
    concatenate_heads,
    nlp_concat_heads,
    nlp_concat_heads_boltz,
):
    _op.cost(_tm_cost)
