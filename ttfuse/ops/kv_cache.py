"""KV-cache writes: `ttnn.fill_cache`, `ttnn.experimental.paged_fill_cache` and `paged_update_cache`.

All three write into `cache_tensor` in place and return it (`Traits(inplace="cache_tensor")`: the eager executor
reuses the cache's storage, capture functionalises the write, so a jitted function matches eager).

    fill_cache          cache [B, H, S, D] <- input [1, H, s, D] at cache[batch_idx, :, update_idx : update_idx + s]
    paged_fill_cache    cache [blocks, H, bs, D] <- input [1, H, s, D]: sequence block i goes to physical block
                        page_table[batch_idx, i] (batch_idx_tensor, one int per input row, replaces batch_idx)
    paged_update_cache  one token per user: input [1, B, H, D] (H padded to a tile) row b goes to position
                        update_idxs[b] of user b: cache[b, :, pos] (non-paged; cache[0] with share_cache) or, paged,
                        cache[page_table[b, pos // bs], :, pos % bs]; index -1 (tensor form) skips the user

Validation follows tt-metal (ttnn 0.81.1): kv_cache/device/update_cache_device_operation.cpp (fill: TILE operands,
float32/bfloat16/bfloat8_b, the input's dtype the cache's, input [1, H, s, D] with H and D the cache's, s <= the
cache's sequence, batch_idx < the cache's batch, interleaved cache; `update_idx` a multiple of 32, per the op's
docstring), paged_cache/device/fill_cache/paged_fill_cache_device_operation.cpp (input dtype the cache's;
interleaved input and page table; INT32 page table; batch_idx < page-table rows; elements per block preserved; the
sequence fits the page table's blocks) and update_cache/paged_update_cache_device_operation.cpp (TILE; input
float32/bfloat16, repacked into a float32/bfloat16/bfloat8_b/bfloat4_b cache; input dim 0 is 1; interleaved
cache; exactly one of `update_idxs` / `update_idxs_tensor` (INT32, ROW_MAJOR), one index per user; paged mode needs
the tensor and an INT32 ROW_MAJOR page table with one row per user; the input HEIGHT_SHARDED, ROW_MAJOR shard
orientation, shard width the head dim, one user per core; batch_offset 0; a -1 in `update_idxs_tensor` skips that
user, per the writer kernel). Positions outside the cache raise at
run time (the device would write past the cache). Not modelled (a SpecError names them): the HMA geometry overrides
`block_size` / `num_kv_heads`, `cache_position_modulo`, `valid_seq_len_tensor`, `mesh_coords`, a sharded page
table.
"""

from __future__ import annotations

import torch

from ttfuse.device import TILE
from ttfuse.opdef import CostCtx, Group, OpCost, Traits, register_op
from ttfuse.ops.common import fail, io_bytes, need_dtype, need_spec, need_tile
from ttfuse.types import DataType, Layout, ShardOrientation, TensorMemoryLayout, TensorSpec

_FILL = "fill_cache"
_PAGED_FILL = "experimental.paged_fill_cache"
_PAGED_UPDATE = "experimental.paged_update_cache"
_CACHE_DTYPES = (DataType.FLOAT32, DataType.BFLOAT16, DataType.BFLOAT8_B)
_PAGED_CACHE_DTYPES = (*_CACHE_DTYPES, DataType.BFLOAT4_B)
_UPDATE_INPUT_DTYPES = (DataType.FLOAT32, DataType.BFLOAT16)


def _not_modelled(op: str, **args) -> None:
    for name, v in args.items():
        if v is not None:
            raise fail(op, f"argument {name!r} is not modelled by the simulator (got {v!r})")


def _cache_and_input(op: str, cache_tensor, input_tensor, dtypes) -> tuple[TensorSpec, TensorSpec]:
    c = need_spec(op, "cache_tensor", cache_tensor)
    x = need_spec(op, "input_tensor", input_tensor)
    for arg, t in (("cache_tensor", c), ("input_tensor", x)):
        need_tile(op, arg, t)
        if t.rank != 4:
            raise fail(op, f"argument {arg!r} must be 4-D, got {list(t.shape)}")
    need_dtype(op, "cache_tensor", c, dtypes)
    if c.memory_config.is_sharded():
        raise fail(op, "argument 'cache_tensor' must be interleaved")
    if x.padded_shape[-1] % TILE:
        raise fail(op, f"argument 'input_tensor' has last dim {x.shape[-1]}; it must be a multiple of {TILE}")
    return c, x


def _int_table(op: str, arg: str, t, *, dtypes=(DataType.INT32,)) -> TensorSpec:
    s = need_spec(op, arg, t)
    need_dtype(op, arg, s, dtypes)
    if s.layout is not Layout.ROW_MAJOR:
        raise fail(op, f"argument {arg!r} must be in ROW_MAJOR layout, got {s.layout.name}")
    if s.memory_config.is_sharded():
        raise fail(op, f"argument {arg!r}: a sharded {arg} is not modelled by the simulator")
    return s


def _need_index(op: str, arg: str, v, limit: int) -> None:
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < limit:
        raise fail(op, f"argument {arg!r} must be an int in [0, {limit}), got {v!r}")


def _write_cost(ctx: CostCtx) -> OpCost:
    """One launch reading the input (and the index tables) and writing the input's worth of cache rows, in the
    cache's format and memory: the rest of the cache is not touched (costing it whole would bill a decode step for
    the entire cache)."""
    c, x = ctx.in_specs["cache_tensor"], ctx.in_specs["input_tensor"]
    written = TensorSpec(x.shape, c.dtype, c.layout, c.memory_config)
    tables = [
        s
        for k, s in ctx.in_specs.items()
        if k not in ("cache_tensor", "input_tensor") and isinstance(s, TensorSpec)
    ]
    dram, l1 = io_bytes([x, written, *tables])
    return OpCost(flops=0.0, dram_bytes=dram, l1_bytes=l1, launches=1)


def _fill_dtype(op: str, c: TensorSpec, x: TensorSpec) -> None:
    if x.dtype is not c.dtype:
        raise fail(
            op,
            f"argument 'input_tensor' has dtype {x.dtype.value}; it must be the cache's {c.dtype.value} "
            "(a fill copies tiles: cast the input first)",
        )


# ---------------------------------------------------------------------------------------------- fill_cache
@register_op(_FILL, Group.DATA_MOVEMENT, traits=Traits(inplace="cache_tensor"))
def fill_cache(cache_tensor, input_tensor, batch_idx, *, update_idx=0):
    """Write `input_tensor` [1, H, s, D] into user `batch_idx` of `cache_tensor` [B, H, S, D], from `update_idx`."""


@fill_cache.spec
def _fill_spec(cache_tensor, input_tensor, batch_idx, *, update_idx=0):
    op = _FILL
    c, x = _cache_and_input(op, cache_tensor, input_tensor, _CACHE_DTYPES)
    _fill_dtype(op, c, x)
    if x.shape[0] != 1 or x.shape[1] != c.shape[1] or x.padded_shape[-1] != c.padded_shape[-1]:
        raise fail(
            op,
            f"argument 'input_tensor' must be [1, {c.shape[1]}, s, {c.shape[-1]}] for cache {list(c.shape)}, "
            f"got {list(x.shape)}",
        )
    if x.memory_config.memory_layout is TensorMemoryLayout.WIDTH_SHARDED:
        raise fail(op, "argument 'input_tensor' must not be WIDTH_SHARDED")
    _need_index(op, "batch_idx", batch_idx, c.shape[0])
    if isinstance(update_idx, bool) or not isinstance(update_idx, int) or update_idx < 0 or update_idx % TILE:
        raise fail(op, f"argument 'update_idx' must be a non-negative multiple of {TILE}, got {update_idx!r}")
    if update_idx + x.padded_shape[-2] > c.padded_shape[-2]:
        raise fail(
            op,
            f"argument 'input_tensor': {x.padded_shape[-2]} rows from update_idx={update_idx} run past the "
            f"cache's {c.padded_shape[-2]} positions",
        )
    return c


@fill_cache.sim
def _fill_sim(ctx, cache_tensor, input_tensor, batch_idx, *, update_idx=0):
    out = cache_tensor.clone()
    s = min(input_tensor.shape[-2], out.shape[-2] - update_idx)
    out[batch_idx, :, update_idx : update_idx + s] = input_tensor[0, :, :s]
    return out


fill_cache.cost_rule = _write_cost


# ---------------------------------------------------------------------------------------- paged_fill_cache
@register_op(_PAGED_FILL, Group.DATA_MOVEMENT, traits=Traits(inplace="cache_tensor"))
def paged_fill_cache(
    cache_tensor,
    input_tensor,
    page_table,
    *,
    batch_idx_tensor=None,
    batch_idx=0,
    compute_kernel_config=None,
    mesh_coords=None,
    block_size=None,
    cache_position_modulo=None,
    valid_seq_len_tensor=None,
):
    """Write a prefill `input_tensor` [1, H, s, D] into the paged cache blocks of user `batch_idx`."""


@paged_fill_cache.spec
def _paged_fill_spec(
    cache_tensor,
    input_tensor,
    page_table,
    *,
    batch_idx_tensor=None,
    batch_idx=0,
    mesh_coords=None,
    block_size=None,
    cache_position_modulo=None,
    valid_seq_len_tensor=None,
    **_,
):
    op = _PAGED_FILL
    _not_modelled(
        op,
        mesh_coords=mesh_coords,
        block_size=block_size,
        cache_position_modulo=cache_position_modulo,
        valid_seq_len_tensor=valid_seq_len_tensor,
    )
    c, x = _cache_and_input(op, cache_tensor, input_tensor, _PAGED_CACHE_DTYPES)
    _fill_dtype(op, c, x)
    if x.memory_config.is_sharded():
        raise fail(op, "argument 'input_tensor' must be interleaved")
    pt = _int_table(op, "page_table", page_table)
    if pt.rank != 2:
        raise fail(op, f"argument 'page_table' must be [batch, max_blocks_per_seq], got {list(pt.shape)}")
    if x.shape[1] * x.padded_shape[-1] != c.shape[1] * c.padded_shape[-1]:
        raise fail(
            op,
            f"argument 'input_tensor' {list(x.shape)} does not match the cache's heads x head dim "
            f"({c.shape[1]} x {c.shape[-1]}): the elements per block must be preserved",
        )
    if x.shape[1] != c.shape[1]:
        raise fail(op, "a head count other than the cache's (an HMA view) is not modelled by the simulator")
    bs = c.padded_shape[2]
    if bs % TILE:
        raise fail(op, f"argument 'cache_tensor' has block size {bs}; it must be a multiple of {TILE}")
    if x.padded_shape[-2] > bs * pt.shape[1]:
        raise fail(
            op,
            f"argument 'input_tensor' has {x.padded_shape[-2]} positions; the page table holds "
            f"{pt.shape[1]} blocks of {bs}",
        )
    if batch_idx_tensor is not None:
        b = _int_table(op, "batch_idx_tensor", batch_idx_tensor, dtypes=(DataType.INT32, DataType.UINT32))
        if b.numel != x.shape[0]:
            raise fail(op, f"argument 'batch_idx_tensor' must hold {x.shape[0]} index(es), one per input row")
    else:
        if x.shape[0] != 1:
            raise fail(
                op, f"argument 'input_tensor' must have batch 1 without 'batch_idx_tensor', got {x.shape[0]}"
            )
        _need_index(op, "batch_idx", batch_idx, pt.shape[0])
    return c


def _block_ids(op: str, table: torch.Tensor, user: int, first: int, count: int, num_blocks: int) -> list[int]:
    ids = [int(v) for v in table[user, first : first + count].tolist()]
    bad = [v for v in ids if not 0 <= v < num_blocks]
    if bad:
        raise fail(
            op, f"argument 'page_table' maps user {user} to block {bad[0]}, outside the cache's {num_blocks}"
        )
    return ids


@paged_fill_cache.sim
def _paged_fill_sim(ctx, cache_tensor, input_tensor, page_table, *, batch_idx_tensor=None, batch_idx=0, **_):
    op = _PAGED_FILL
    out = cache_tensor.clone()
    bs, s = out.shape[2], input_tensor.shape[-2]
    users = (
        [int(v) for v in batch_idx_tensor.flatten().tolist()] if batch_idx_tensor is not None else [batch_idx]
    )
    for row, user in enumerate(users):
        if not 0 <= user < page_table.shape[0]:
            raise fail(
                op,
                f"argument 'batch_idx_tensor' holds {user}, outside the page table's {page_table.shape[0]} rows",
            )
        blocks = _block_ids(op, page_table, user, 0, -(-s // bs), out.shape[0])
        for i, block in enumerate(blocks):
            chunk = input_tensor[row, :, i * bs : (i + 1) * bs]
            out[block, :, : chunk.shape[-2]] = chunk
    return out


paged_fill_cache.cost_rule = _write_cost


# -------------------------------------------------------------------------------------- paged_update_cache
@register_op(_PAGED_UPDATE, Group.DATA_MOVEMENT, traits=Traits(inplace="cache_tensor"))
def paged_update_cache(
    cache_tensor,
    input_tensor,
    *,
    update_idxs=[],  # noqa: B006 (ttnn's default; never mutated)
    update_idxs_tensor=None,
    share_cache=None,
    page_table=None,
    batch_offset=0,
    compute_kernel_config=None,
    mesh_coords=None,
    block_size=None,
    num_kv_heads=None,
    cache_position_modulo=None,
):
    """Write one decode token per user, input [1, B, H, D] (height-sharded, one user per core), into the cache."""


@paged_update_cache.spec
def _paged_update_spec(
    cache_tensor,
    input_tensor,
    *,
    update_idxs=(),
    update_idxs_tensor=None,
    share_cache=None,
    page_table=None,
    batch_offset=0,
    mesh_coords=None,
    block_size=None,
    num_kv_heads=None,
    cache_position_modulo=None,
    **_,
):
    op = _PAGED_UPDATE
    _not_modelled(
        op,
        mesh_coords=mesh_coords,
        block_size=block_size,
        num_kv_heads=num_kv_heads,
        cache_position_modulo=cache_position_modulo,
    )
    c, x = _cache_and_input(op, cache_tensor, input_tensor, _PAGED_CACHE_DTYPES)
    need_dtype(op, "input_tensor", x, _UPDATE_INPUT_DTYPES)
    users = x.shape[1]
    if x.shape[0] != 1:
        raise fail(op, f"argument 'input_tensor' must be [1, B, H, D], got {list(x.shape)}")
    if x.shape[2] != c.shape[1] or x.padded_shape[-1] != c.padded_shape[-1]:
        raise fail(
            op,
            f"argument 'input_tensor' {list(x.shape)} must hold the cache's {c.shape[1]} heads of dim "
            f"{c.shape[-1]} per user",
        )
    mc = x.memory_config
    if not mc.is_sharded() or mc.memory_layout is TensorMemoryLayout.WIDTH_SHARDED:
        raise fail(
            op,
            f"argument 'input_tensor' must be HEIGHT_SHARDED (one user per core), got {mc.memory_layout.name}",
        )
    sp = mc.shard_spec
    if sp is not None:
        if sp.shape[1] != x.padded_shape[-1] or sp.orientation is not ShardOrientation.ROW_MAJOR:
            raise fail(
                op, "argument 'input_tensor' must be sharded ROW_MAJOR with the head dim as shard width"
            )
        if sp.grid.num_cores() != users:
            raise fail(
                op,
                f"argument 'input_tensor' is sharded over {sp.grid.num_cores()} cores; the kernel takes one user "
                f"per core ({users} users)",
            )
    if batch_offset != 0:
        raise fail(op, f"argument 'batch_offset' must be 0, got {batch_offset!r}")
    if (update_idxs_tensor is None) == (not update_idxs):
        raise fail(op, "exactly one of 'update_idxs' and 'update_idxs_tensor' must be given")
    if update_idxs_tensor is not None:
        u = _int_table(op, "update_idxs_tensor", update_idxs_tensor)
        if u.numel != users:
            raise fail(
                op,
                f"argument 'update_idxs_tensor' must hold one index per user ({users}), got {list(u.shape)}",
            )
    else:
        # NOTE: ttnn takes the list as uint32 (no -1 to skip a user: only the index tensor's -1 skips one)
        if not isinstance(update_idxs, list | tuple) or not all(
            isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in update_idxs
        ):
            raise fail(op, f"argument 'update_idxs' must be a list of non-negative ints, got {update_idxs!r}")
        if len(update_idxs) != users:
            raise fail(op, f"argument 'update_idxs' has {len(update_idxs)} indices for {users} users")
    if page_table is not None:
        if share_cache:
            raise fail(op, "argument 'share_cache' is not supported with a paged cache")
        if update_idxs_tensor is None:
            raise fail(op, "a paged cache (page_table=) needs 'update_idxs_tensor'")
        pt = _int_table(op, "page_table", page_table)
        if pt.rank != 2 or pt.shape[0] != users or pt.shape[1] > c.shape[0]:
            raise fail(
                op,
                f"argument 'page_table' must be [{users}, max_blocks_per_seq <= {c.shape[0]}], got {list(pt.shape)}",
            )
        if c.padded_shape[2] % TILE:
            raise fail(
                op, f"argument 'cache_tensor' has block size {c.shape[2]}; it must be a multiple of {TILE}"
            )
    elif share_cache:
        if c.shape[0] != 1:
            raise fail(op, "argument 'share_cache' expects a cache with batch 1")
    elif c.shape[0] != users:
        raise fail(op, f"argument 'cache_tensor' has batch {c.shape[0]}; the input has {users} users")
    return c


@paged_update_cache.sim
def _paged_update_sim(
    ctx,
    cache_tensor,
    input_tensor,
    *,
    update_idxs=(),
    update_idxs_tensor=None,
    share_cache=None,
    page_table=None,
    **_,
):
    op = _PAGED_UPDATE
    out = cache_tensor.clone()
    idxs = (
        [int(v) for v in update_idxs_tensor.flatten().tolist()]
        if update_idxs_tensor is not None
        else update_idxs
    )
    bs = out.shape[2]
    for user, pos in enumerate(idxs):
        if (
            pos < 0
        ):  # -1 in the index tensor: the kernel skips the user (writer_update_cache_interleaved_start_id)
            continue
        row = input_tensor[0, user]
        if page_table is not None:
            if pos >= bs * page_table.shape[1]:
                raise fail(
                    op, f"update index {pos} of user {user} is past its {page_table.shape[1]} blocks of {bs}"
                )
            (block,) = _block_ids(op, page_table, user, pos // bs, 1, out.shape[0])
            out[block, :, pos % bs] = row
        else:
            if pos >= out.shape[2]:
                raise fail(
                    op, f"update index {pos} of user {user} is past the cache's {out.shape[2]} positions"
                )
            out[0 if share_cache else user, :, pos] = row
    return out


paged_update_cache.cost_rule = _write_cost
