"""`ttnn.embedding`: rows of a weight table gathered by integer indices (`ttnn.EmbeddingsType` with it).

Validation follows tt-metal ttnn/cpp/ttnn/operations/embedding/embedding.cpp and
device/embedding_device_operation.cpp (ttnn 0.81.1): the weight is a ROW_MAJOR table [V, H] (or [1, 1, V, H]),
BFLOAT16; the indices are UINT32 or BFLOAT16 (integers stored exactly), ROW_MAJOR or TILE; the output
is the indices' shape plus H ([B, S] -> [B, S, H]), in `layout` (default ROW_MAJOR) and `dtype` (default the
weight's). `padding_idx` only changes the backward pass and the PADDED kernel's rows; as in ttnn the forward
value is the table row. Indices outside [0, V) raise a SpecError at run time (the device would read garbage).

Extend: the BINARY embeddings type and sharded outputs are not modelled (SpecError naming them).
"""

from __future__ import annotations

import enum

import torch

from ttfuse.opdef import Group, Traits, register_op
from ttfuse.ops.common import fail, need_dtype, need_memory_config, need_spec
from ttfuse.ops.data_movement import static_cost
from ttfuse.types import DataType, Layout, TensorSpec

__ttnn_exports__ = ("EmbeddingsType",)


class EmbeddingsType(enum.Enum):
    """`ttnn.EmbeddingsType` (ttnn._ttnn.operations.embedding.EmbeddingsType)."""

    GENERIC = 0
    PADDED = 1
    BINARY = 2


_WEIGHT_DTYPES = (DataType.BFLOAT16,)  # "Weights tensor must have BFLOAT16 dtype"
_INDEX_DTYPES = (DataType.UINT32, DataType.BFLOAT16)
_OUT_DTYPES = (DataType.BFLOAT16, DataType.FLOAT32, DataType.BFLOAT8_B)


@register_op("embedding", Group.DATA_MOVEMENT, traits=Traits())
def embedding(
    input_tensor,
    weight,
    *,
    padding_idx=None,
    layout=None,
    embeddings_type=EmbeddingsType.GENERIC,
    dtype=None,
    output_tensor=None,
    memory_config=None,
):
    """Word embeddings: row `input_tensor[i]` of `weight` for every index (output shape: input shape + [H])."""


@embedding.spec
def _embedding_spec(
    input_tensor,
    weight,
    *,
    padding_idx=None,
    layout=None,
    embeddings_type=EmbeddingsType.GENERIC,
    dtype=None,
    memory_config=None,
    **_,
):
    op = "embedding"
    x = need_spec(op, "input_tensor", input_tensor)
    w = need_spec(op, "weight", weight)
    need_dtype(op, "input_tensor", x, _INDEX_DTYPES)
    need_dtype(op, "weight", w, _WEIGHT_DTYPES)
    if w.layout is not Layout.ROW_MAJOR:
        raise fail(op, f"argument 'weight' must be in ROW_MAJOR layout, got {w.layout.name}")
    if w.rank < 2 or any(d != 1 for d in w.shape[:-2]):
        raise fail(op, f"argument 'weight' must be a table [V, H] (or [1, 1, V, H]), got {list(w.shape)}")
    if not isinstance(embeddings_type, EmbeddingsType):
        raise fail(op, f"argument 'embeddings_type' must be a ttnn.EmbeddingsType, got {embeddings_type!r}")
    if embeddings_type is EmbeddingsType.BINARY:
        raise fail(op, "argument 'embeddings_type': BINARY embeddings are not modelled by the simulator")
    if embeddings_type is EmbeddingsType.PADDED and padding_idx is None:
        raise fail(op, "argument 'padding_idx' is required with embeddings_type=PADDED")
    if padding_idx is not None and (isinstance(padding_idx, bool) or not isinstance(padding_idx, int)):
        raise fail(op, f"argument 'padding_idx' must be an int, got {padding_idx!r}")
    if layout is not None and not isinstance(layout, Layout):
        raise fail(op, f"argument 'layout' must be a ttnn.Layout, got {layout!r}")
    out_layout = layout or Layout.ROW_MAJOR
    out_dtype = dtype or w.dtype
    if not isinstance(out_dtype, DataType) or out_dtype not in _OUT_DTYPES:
        raise fail(op, f"argument 'dtype' must be one of bfloat16, float32, bfloat8_b, got {out_dtype!r}")
    if out_dtype is DataType.BFLOAT8_B and out_layout is not Layout.TILE:
        raise fail(op, "argument 'dtype' bfloat8_b needs layout=ttnn.TILE_LAYOUT")
    need_memory_config(op, memory_config)
    mc = memory_config or x.memory_config
    if mc.is_sharded():
        raise fail(op, "argument 'memory_config': sharded embedding outputs are not modelled")
    # [B, S] (or [B, 1, 1, S]) indices -> [B, S, H] (embedding.cpp reshapes the 4-D result to the indices' rank + 1)
    ids = x.shape if x.rank != 4 else (x.shape[0], x.shape[-1])
    return TensorSpec((*ids, w.shape[-1]), out_dtype, out_layout, mc)


@embedding.sim
def _embedding_sim(ctx, input_tensor, weight, **_):
    table = weight.reshape(-1, weight.shape[-1])
    ids = input_tensor.reshape(ctx.out_spec.shape[:-1]).long()
    bad = (ids < 0) | (ids >= table.shape[0])
    if bool(bad.any()):
        raise fail(
            "embedding",
            f"argument 'input_tensor' holds index {int(ids[bad][0])} outside the weight's {table.shape[0]} rows",
        )
    return torch.nn.functional.embedding(ids, table)


embedding.cost_rule = static_cost
