"""`ttnn.fold`: NHWC space-to-depth (ttnn 0.81.1, tt-metal ttnn/cpp/ttnn/operations/data_movement/fold).

`fold(input, stride_h, stride_w, use_transpose_as_fold=False, output_shape=None, padding=[0, 0], grid_size=None,
override_memory_config=None, collapse_output=False)` packs each stride_h x stride_w neighbourhood of an [N, H, W, C]
tensor into the channel dim: out[n, h, w, (i * stride_w + j) * C + c] = x[n, h * stride_h + i, w * stride_w + j, c]
(channels ordered (i, j, c), the row order tt-symbiote's patch-embedding weights are prepared in). Modelled as
fold_device_op.cpp computes its output for an interleaved ROW_MAJOR input:
- H and W must divide by stride_h / stride_w;
- in DRAM the output is [N, H/stride_h, W/stride_w, C*stride_h*stride_w]; in L1 (and with `collapse_output`) it is
  flattened to [1, 1, N*H*W/(stride_h*stride_w), C*stride_h*stride_w];
- the output is ROW_MAJOR in the input's memory config, FLOAT32 / UINT16 stay, every other dtype becomes BFLOAT16.
Not modelled (a SpecError naming the argument): TILE or sharded inputs (the tiled and sharded program factories),
non-zero `padding`, `use_transpose_as_fold`, `output_shape`, `grid_size`, `override_memory_config`.
Extend: a new path gets its spec branch here and a case in tests/test_ops_fold.py.
"""

from __future__ import annotations

from ttfuse.opdef import Group, Traits, register_op
from ttfuse.ops.common import fail, need_spec
from ttfuse.ops.data_movement import static_cost
from ttfuse.types import BufferType, DataType, Layout, TensorSpec

_KEEP_DTYPES = (DataType.FLOAT32, DataType.UINT16)


@register_op("fold", Group.DATA_MOVEMENT, traits=Traits())
def fold(
    input,
    stride_h,
    stride_w,
    use_transpose_as_fold=False,
    output_shape=None,
    padding=(0, 0),
    grid_size=None,
    override_memory_config=None,
    collapse_output=False,
):
    """Space-to-depth: each stride_h x stride_w neighbourhood of an NHWC tensor becomes one position's channels."""


@fold.spec
def _fold_spec(
    input,
    stride_h,
    stride_w,
    use_transpose_as_fold=False,
    output_shape=None,
    padding=(0, 0),
    grid_size=None,
    override_memory_config=None,
    collapse_output=False,
):
    op = "fold"
    s = need_spec(op, "input", input)
    if s.rank != 4:
        raise fail(op, f"argument 'input' must be a rank-4 NHWC tensor, got shape {list(s.shape)}")
    for arg, v in (("stride_h", stride_h), ("stride_w", stride_w)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise fail(op, f"argument {arg!r} must be a positive int, got {v!r}")
    if not isinstance(collapse_output, bool):
        raise fail(op, f"argument 'collapse_output' must be a bool, got {collapse_output!r}")
    if not isinstance(padding, list | tuple) or len(padding) not in (2, 4, 6):
        raise fail(op, f"argument 'padding' must be a list of 2, 4 or 6 ints, got {padding!r}")
    if any(p != 0 for p in padding):
        raise fail(op, f"argument 'padding'={list(padding)}: a padded fold is not modelled by ttfuse")
    unmodelled = (
        ("use_transpose_as_fold", use_transpose_as_fold or None),
        ("output_shape", output_shape),
        ("grid_size", grid_size),
        ("override_memory_config", override_memory_config),
    )
    for arg, v in unmodelled:
        if v is not None:
            raise fail(op, f"argument {arg!r}={v!r} is not modelled by ttfuse")
    if s.layout is not Layout.ROW_MAJOR:
        raise fail(op, "argument 'input' is in TILE layout: ttfuse models the ROW_MAJOR fold only")
    if s.memory_config.is_sharded():
        raise fail(op, "argument 'input' is sharded: ttfuse models the interleaved fold only")
    n, h, w, c = s.shape
    if h % stride_h or w % stride_w:
        raise fail(
            op, f"input height {h} and width {w} must divide by stride_h={stride_h} and stride_w={stride_w}"
        )
    k = stride_h * stride_w
    dtype = s.dtype if s.dtype in _KEEP_DTYPES else DataType.BFLOAT16
    if s.memory_config.buffer_type is BufferType.DRAM and not collapse_output:
        shape = (n, h // stride_h, w // stride_w, c * k)
    else:
        shape = (1, 1, n * h * w // k, c * k)
    return TensorSpec(shape, dtype, Layout.ROW_MAJOR, s.memory_config)


@fold.sim
def _fold_sim(ctx, input, stride_h, stride_w, **_):
    n, h, w, c = input.shape
    x = input.reshape(n, h // stride_h, stride_h, w // stride_w, stride_w, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(ctx.out_spec.shape)


fold.cost_rule = static_cost
