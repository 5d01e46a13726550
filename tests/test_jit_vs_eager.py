"""JIT output equals eager output, op by op, for every op registered in ttfuse.opdef.OPS.

Each op has an entry in CASES: example inputs (built from seeded torch data, twice: once for eager, once for
jit, so in-place ops start from the same values) and a function calling the op with static arguments. The
function runs eagerly and under `ttfuse.jit(passes=[])` (passes disabled: the same sim numerics, op for op);
every output must have the same TensorSpec and bit-identical values.

Host ops cannot be jitted: they are listed in NOT_JITTABLE with the reason and must raise TraceError inside
a jit function. `deallocate` is recorded as nothing (the JIT manages memory). A registered op missing from
both tables fails `test_every_op_has_a_case` (and its own parametrised case), so new ops get coverage.

The fused kernels (`kernels.<name>`, Group.FUSED: what the fuse pass emits) are registered ops too and have
cases here, called directly as the optimised graph calls them: capture, JSON round trip of their static
arguments (eltwise programs, activations, configs), code generation (kernels are not on the ttnn facade, so
the generated code calls them through globals) and reloading from disk. Their numerics against torch goldens
and their ttnn rules (the stock composites) are tested in tests/passes/test_kernels.py.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import torch

import ttfuse
from tests.conftest import sharded
from ttfuse import cache, ttnn
from ttfuse.errors import TraceError
from ttfuse.ir import Graph
from ttfuse.opdef import OPS, Group
from ttfuse.tensor import Tensor

BF16, F32, BFP8, U32, I32 = ttnn.bfloat16, ttnn.float32, ttnn.bfloat8_b, ttnn.uint32, ttnn.int32
TILE, RM = ttnn.TILE_LAYOUT, ttnn.ROW_MAJOR_LAYOUT
X, TR = ttnn.experimental, ttnn.transformer


@dataclass
class T:
    """An example input tensor: shape, dtype, layout, memory config and value kind."""

    shape: tuple = (32, 64)
    dtype: Any = BF16
    layout: Any = TILE
    mc: Any = None
    kind: str = "normal"  # normal | positive | unit (in (0, 1)) | int | bool | ones | onehot
    shard_dim: int | None = None  # mesh cases: shard dim over the mesh (None: replicate)

    def torch(self, gen: torch.Generator) -> torch.Tensor:
        if self.kind == "positive":
            return torch.rand(self.shape, generator=gen) * 2 + 0.1
        if self.kind == "unit":
            return torch.rand(self.shape, generator=gen) * 0.8 + 0.1
        if self.kind == "int":
            return torch.randint(0, 7, self.shape, generator=gen).float()
        if self.kind == "bool":
            return (torch.rand(self.shape, generator=gen) > 0.5).float()
        if self.kind == "ones":
            return torch.ones(self.shape)
        if self.kind == "onehot":  # [..., E, D]: expert e on device e // (E / D) (an MoE expert mapping)
            e, d = self.shape[-2:]
            return torch.eye(d).repeat_interleave(e // d, dim=0).expand(self.shape).clone()
        return torch.randn(self.shape, generator=gen)

    def make(self, device, gen: torch.Generator):
        kw = {"dtype": self.dtype, "layout": self.layout, "device": device}
        if self.mc is not None:
            kw["memory_config"] = self.mc
        if isinstance(device, ttnn.MeshDevice) and device.get_num_devices() > 1:
            kw["mesh_mapper"] = (
                ttnn.ShardTensorToMesh(device, self.shard_dim)
                if self.shard_dim is not None
                else ttnn.ReplicateTensorToMesh(device)
            )
        return ttnn.from_torch(self.torch(gen), **kw)


@dataclass
class Case:
    ins: list[T]
    fn: Callable
    mesh: tuple[int, int] | None = None
    notes: str = ""
    extra: dict = field(default_factory=dict)


def C(fn, *ins, mesh=None) -> Case:
    return Case(list(ins) or [T()], fn, mesh)


_SPARSE_CFG = ttnn.MatmulMultiCoreReuseMultiCast1DProgramConfig(
    compute_with_storage_grid_size=(8, 8),
    in0_block_w=1,
    out_subblock_h=1,
    out_subblock_w=1,
    out_block_h=1,
    out_block_w=1,
    per_core_M=1,
    per_core_N=1,
    fuse_batch=False,
    fused_activation=None,
    mcast_in0=True,
)


# --------------------------------------------------------------------------------------------- the table
UNARY = [
    "exp",
    "exp2",
    "expm1",
    "neg",
    "abs",
    "sign",
    "square",
    "relu",
    "relu6",
    "silu",
    "gelu",
    "sigmoid",
    "sigmoid_accurate",
    "hardsigmoid",
    "hardswish",
    "hardtanh",
    "softplus",
    "mish",
    "tanh",
    "sin",
    "cos",
    "tan",
    "cosh",
    "sinh",
    "erf",
    "erfc",
    "floor",
    "ceil",
    "logical_not",
    "elu",
    "selu",
]
UNARY_POSITIVE = ["log", "log1p", "sqrt", "rsqrt", "reciprocal"]
BINARY = [
    "add",
    "subtract",
    "multiply",
    "maximum",
    "minimum",
    "squared_difference",
    "eq",
    "ne",
    "gt",
    "ge",
    "lt",
    "le",
    "logical_and",
    "logical_or",
    "logical_xor",
    "rsub",
]
INPLACE_BINARY = ["add_", "subtract_", "multiply_", "rsub_"]

SHARDED_H = sharded(ttnn.TensorMemoryLayout.HEIGHT_SHARDED, (4, 1), (64, 64))
SHARDED_H2 = sharded(ttnn.TensorMemoryLayout.HEIGHT_SHARDED, (8, 1), (32, 64))

CASES: dict[str, Case] = {}
for _n in UNARY:
    CASES[_n] = C(lambda x, _n=_n: getattr(ttnn, _n)(x))
for _n in UNARY_POSITIVE:
    CASES[_n] = C(lambda x, _n=_n: getattr(ttnn, _n)(x), T(kind="positive"))
for _n in BINARY:
    CASES[_n] = C(lambda a, b, _n=_n: getattr(ttnn, _n)(a, b), T(), T())
for _n in INPLACE_BINARY:
    CASES[_n] = C(lambda a, b, _n=_n: getattr(ttnn, _n)(a, b), T(), T())

CASES.update(
    {
        # eltwise with extra arguments
        "leaky_relu": C(lambda x: ttnn.leaky_relu(x, 0.1)),
        "clamp": C(lambda x: ttnn.clamp(x, -0.5, 0.5)),
        "clip": C(lambda x: ttnn.clip(x, -0.25, 0.75)),
        "divide": C(lambda a, b: ttnn.divide(a, b), T(), T(kind="positive")),
        "divide_": C(lambda a, b: ttnn.divide_(a, b), T(), T(kind="positive")),
        "pow": C(lambda x: ttnn.pow(x, 2.0), T(kind="positive")),
        "digamma": C(lambda x: ttnn.digamma(x), T(kind="positive")),
        "addcmul": C(lambda a, b, c: ttnn.addcmul(a, b, c, value=0.5), T(), T(), T()),
        "where": C(lambda p, a, b: ttnn.where(p, a, b), T(kind="bool"), T(), T()),
        "lerp": C(lambda a, b, w: ttnn.lerp(a, b, w), T(), T(), T(kind="unit")),
        # reductions
        "sum": C(lambda x: ttnn.sum(x, dim=-1, keepdim=True)),
        "mean": C(lambda x: ttnn.mean(x, dim=0, keepdim=True)),
        "max": C(lambda x: ttnn.max(x, dim=-1, keepdim=True)),
        "min": C(lambda x: ttnn.min(x, dim=-1, keepdim=True)),
        "std": C(lambda x: ttnn.std(x, dim=-1, keepdim=True)),
        "var": C(lambda x: ttnn.var(x, dim=-1, keepdim=True)),
        "argmax": C(lambda x: ttnn.argmax(x, dim=-1), T((1, 1, 32, 64), layout=RM)),
        # matmul family
        "matmul": C(lambda a, b: ttnn.matmul(a, b, activation="relu"), T((64, 32)), T((32, 64))),
        "linear": C(
            lambda a, b, c: ttnn.linear(a, b, bias=c, activation="silu"), T((64, 32)), T((32, 64)), T((1, 64))
        ),
        "addmm": C(
            lambda i, a, b: ttnn.addmm(i, a, b, alpha=0.5, beta=2.0), T((64, 64)), T((64, 32)), T((32, 64))
        ),
        "experimental.minimal_matmul": C(
            lambda a, b, c: X.minimal_matmul(a, b, bias_tensor=c), T((64, 32)), T((32, 64)), T((1, 64))
        ),
        # norms and softmax
        "layer_norm": C(
            lambda x, w, b: ttnn.layer_norm(x, epsilon=1e-5, weight=w, bias=b),
            T((64, 64)),
            T((1, 64)),
            T((1, 64)),
        ),
        "rms_norm": C(lambda x, w: ttnn.rms_norm(x, epsilon=1e-6, weight=w), T((64, 64)), T((1, 64))),
        "softmax": C(lambda x: ttnn.softmax(x, dim=-1), T((1, 2, 32, 64))),
        "softmax_in_place": C(lambda x: ttnn.softmax_in_place(x), T((1, 2, 32, 64))),
        "scale_mask_softmax": C(
            lambda x, m: ttnn.scale_mask_softmax(x, 0.5, m), T((1, 2, 32, 64)), T((1, 1, 1, 64))
        ),
        "scale_mask_softmax_in_place": C(
            lambda x, m: ttnn.scale_mask_softmax_in_place(x, 0.5, m), T((1, 2, 32, 64)), T((1, 1, 1, 64))
        ),
        "transformer.attention_softmax": C(
            lambda x, m: TR.attention_softmax(x, head_size=16, attention_mask=m),
            T((1, 2, 32, 64)),
            T((1, 1, 1, 64)),
        ),
        "transformer.attention_softmax_": C(
            lambda x, m: TR.attention_softmax_(x, head_size=16, attention_mask=m),
            T((1, 2, 32, 64)),
            T((1, 1, 1, 64)),
        ),
        # attention and heads
        "transformer.scaled_dot_product_attention": C(
            lambda q, k, v: TR.scaled_dot_product_attention(q, k, v, is_causal=True, scale=0.125),
            T((1, 2, 64, 32)),
            T((1, 2, 64, 32)),
            T((1, 2, 64, 32)),
        ),
        "transformer.joint_scaled_dot_product_attention": C(
            lambda q, k, v, jq, jk, jv: TR.joint_scaled_dot_product_attention(
                q,
                k,
                v,
                jq,
                jk,
                jv,
                joint_strategy="rear",
                program_config=ttnn.SDPAProgramConfig(
                    compute_with_storage_grid_size=(8, 8), q_chunk_size=32, k_chunk_size=32
                ),
            ),
            T((1, 2, 64, 32)),
            T((1, 2, 64, 32)),
            T((1, 2, 64, 32)),
            T((1, 2, 32, 32)),
            T((1, 2, 32, 32)),
            T((1, 2, 32, 32)),
        ),
        "transformer.split_query_key_value_and_split_heads": C(
            lambda x: TR.split_query_key_value_and_split_heads(x, num_heads=2), T((1, 32, 192))
        ),
        "transformer.concatenate_heads": C(lambda x: TR.concatenate_heads(x), T((1, 2, 32, 32))),
        "experimental.nlp_create_qkv_heads": C(
            lambda x: X.nlp_create_qkv_heads(x, num_heads=2, transpose_k_heads=False), T((1, 1, 32, 192))
        ),
        "experimental.nlp_concat_heads": C(lambda x: X.nlp_concat_heads(x), T((1, 2, 32, 32))),
        "experimental.nlp_create_qkv_heads_boltz": C(
            lambda x: X.nlp_create_qkv_heads_boltz(x, num_heads=2, num_kv_heads=2, transpose_k_heads=False),
            T((1, 32, 32, 192)),
        ),
        "experimental.nlp_concat_heads_boltz": C(lambda x: X.nlp_concat_heads_boltz(x), T((2, 32, 32, 32))),
        # data movement
        "to_layout": C(lambda x: ttnn.to_layout(x, RM), T((40, 50))),
        "typecast": C(lambda x: ttnn.typecast(x, F32)),
        "clone": C(lambda x: ttnn.clone(x, dtype=F32, memory_config=ttnn.L1_MEMORY_CONFIG)),
        "copy": C(lambda a, b: ttnn.copy(ttnn.exp(a), b), T(), T()),  # in place into b (returned)
        "to_memory_config": C(lambda x: ttnn.to_memory_config(x, ttnn.L1_MEMORY_CONFIG)),
        "interleaved_to_sharded": C(lambda x: ttnn.interleaved_to_sharded(x, SHARDED_H), T((256, 64))),
        "sharded_to_interleaved": C(
            lambda x: ttnn.sharded_to_interleaved(x, ttnn.L1_MEMORY_CONFIG), T((256, 64), mc=SHARDED_H)
        ),
        "reshard": C(lambda x: ttnn.reshard(x, SHARDED_H2), T((256, 64), mc=SHARDED_H)),
        "reallocate": C(lambda x: ttnn.reallocate(x)),
        "reshape": C(lambda x: ttnn.reshape(x, (2, 16, 64))),
        "view": C(lambda x: ttnn.view(x, (1, 32, 64))),
        "squeeze": C(lambda x: ttnn.squeeze(x, 0), T((1, 32, 64))),
        "unsqueeze": C(lambda x: ttnn.unsqueeze(x, 0)),
        "permute": C(lambda x: ttnn.permute(x, [0, 2, 1]), T((2, 32, 64))),
        "transpose": C(lambda x: ttnn.transpose(x, -2, -1)),
        "upsample": C(lambda x: ttnn.upsample(x, [2, 3]), T((1, 4, 4, 40), layout=RM)),
        "group_norm": C(
            lambda x, w, b: ttnn.group_norm(x, num_groups=8, inplace=False, weight=w, bias=b, epsilon=1e-5),
            T((2, 1, 40, 64)),
            T((1, 1, 2, 32), layout=RM),
            T((1, 1, 2, 32), layout=RM),
        ),
        # convolution family (TT's flattened NHWC activations [1, 1, N*H*W, C])
        "conv2d": C(
            lambda x, w, b: ttnn.conv2d(
                input_tensor=x,
                weight_tensor=w,
                bias_tensor=b,
                device=x.device(),
                in_channels=4,
                out_channels=8,
                batch_size=1,
                input_height=6,
                input_width=6,
                kernel_size=(3, 3),
                stride=(1, 1),
                padding=(1, 1),
                dilation=(1, 1),
                groups=1,
            ),
            T((1, 1, 36, 4), layout=RM),
            T((8, 4, 3, 3), layout=RM),
            T((1, 1, 1, 8), layout=RM),
        ),
        "prepare_conv_weights": C(
            lambda x, w: ttnn.prepare_conv_weights(
                weight_tensor=w,
                input_memory_config=ttnn.DRAM_MEMORY_CONFIG,
                input_layout=RM,
                weights_format="OIHW",
                has_bias=False,
                device=x.device(),
                input_dtype=BF16,
                in_channels=4,
                out_channels=8,
                batch_size=1,
                input_height=6,
                input_width=6,
                kernel_size=(3, 3),
                stride=(1, 1),
                padding=(1, 1),
                dilation=(1, 1),
                groups=1,
            ),
            T((1, 1, 36, 4), layout=RM),
            T((8, 4, 3, 3), layout=RM),
        ),
        "prepare_conv_bias": C(
            lambda x, b: ttnn.prepare_conv_bias(
                bias_tensor=b,
                input_memory_config=ttnn.DRAM_MEMORY_CONFIG,
                input_layout=RM,
                device=x.device(),
                input_dtype=BF16,
                in_channels=4,
                out_channels=8,
                batch_size=1,
                input_height=6,
                input_width=6,
                kernel_size=(3, 3),
                stride=(1, 1),
                padding=(1, 1),
                dilation=(1, 1),
                groups=1,
            ),
            T((1, 1, 36, 4), layout=RM),
            T((1, 1, 1, 8), layout=RM),
        ),
        "conv_transpose2d": C(
            lambda x, w: ttnn.conv_transpose2d(
                input_tensor=x,
                weight_tensor=w,
                device=x.device(),
                in_channels=4,
                out_channels=8,
                batch_size=1,
                input_height=6,
                input_width=6,
                kernel_size=(3, 3),
                stride=(2, 2),
                padding=(1, 1),
                output_padding=(0, 0),
                dilation=(1, 1),
                groups=1,
            ),
            T((1, 1, 36, 4), layout=RM),
            T((4, 8, 3, 3), layout=RM),
        ),
        "max_pool2d": C(
            lambda x: ttnn.max_pool2d(
                x,
                batch_size=1,
                input_h=6,
                input_w=6,
                channels=32,
                kernel_size=[2, 2],
                stride=[2, 2],
                padding=[0, 0],
                dilation=[1, 1],
            ),
            T((1, 1, 36, 32), layout=RM),
        ),
        # selection, embedding, rotary (tt-symbiote's ops)
        "embedding": C(
            lambda i, w: ttnn.embedding(i, w),
            T((1, 32), dtype=U32, layout=RM, kind="int"),
            T((7, 64), layout=RM),
        ),
        "topk": C(lambda x: ttnn.topk(x, 32, dim=-1)),
        "gather": C(lambda x, i: ttnn.gather(x, -1, index=i), T(), T((32, 16), dtype=U32, kind="int")),
        # tt-symbiote's MoE / distributed / misc names (tests/test_symbiote_ops_extra.py)
        "scatter": C(
            lambda x, i, v: ttnn.scatter(x, -1, i, v), T(), T((32, 4), dtype=U32, kind="int"), T((32, 8))
        ),
        "sparse_matmul": C(
            lambda a, b, m: ttnn.sparse_matmul(a, b, sparsity=m, program_config=_SPARSE_CFG),
            T((2, 1, 32, 64)),
            T((1, 3, 64, 32)),
            T((2, 1, 1, 3), layout=RM, kind="bool"),
        ),
        "moe_expert_token_remap": C(
            lambda t, m, md: ttnn.moe_expert_token_remap(t, m, md, reduction_size=16),
            T((1, 1, 32, 4), layout=RM, kind="positive"),
            T((1, 1, 4, 1), dtype=ttnn.uint16, layout=RM, kind="ones"),  # every expert on the one device
            T((1, 1, 32, 2), dtype=ttnn.uint16, layout=RM, kind="int"),
        ),
        # MoE all-to-all on a 1x2 mesh: tokens [B, 1, S, H] and indices sharded, the mapping replicated
        "all_to_all_dispatch": C(
            lambda x, i, m: ttnn.all_to_all_dispatch(x, i, m, cluster_axis=1),
            T((2, 1, 4, 32), layout=RM, shard_dim=0),
            T((2, 1, 4, 2), dtype=ttnn.uint16, layout=RM, kind="int", shard_dim=0),
            T((1, 1, 8, 2), dtype=ttnn.uint16, layout=RM, kind="onehot"),
            mesh=(1, 2),
        ),
        "all_to_all_combine": C(
            lambda x, md, m: ttnn.all_to_all_combine(x, md, m, cluster_axis=1),
            T((8, 2, 4, 32), layout=RM, shard_dim=0),
            T((2, 2, 4, 2), dtype=ttnn.uint16, layout=RM, kind="int", shard_dim=0),
            T((1, 1, 8, 2), dtype=ttnn.uint16, layout=RM, kind="onehot"),
            mesh=(1, 2),
        ),
        "experimental.fast_reduce_nc": C(lambda x: X.fast_reduce_nc(x, dims=[0, 1]), T((2, 3, 32, 64))),
        "move": C(lambda x: ttnn.move(ttnn.exp(x), memory_config=ttnn.L1_MEMORY_CONFIG)),
        "fold": C(lambda x: ttnn.fold(x, 2, 2), T((1, 8, 8, 4), layout=RM)),
        "rms_norm_pre_all_gather": C(
            lambda x, r: ttnn.rms_norm_pre_all_gather(x, residual_input_tensor=r),
            T((1, 1, 32, 64)),
            T((1, 1, 32, 64)),
        ),
        "rms_norm_post_all_gather": C(
            lambda x, w: ttnn.rms_norm_post_all_gather(
                x, ttnn.concat([ttnn.rms_norm_pre_all_gather(x)] * 2, dim=3), epsilon=1e-6, weight=w
            ),
            T((1, 1, 32, 64)),
            T((1, 1, 2, 32), layout=RM, kind="positive"),
        ),
        "experimental.rotary_embedding": C(
            lambda x, c, s: X.rotary_embedding(x, c, s),
            T((1, 2, 32, 64)),
            T((1, 1, 32, 64)),
            T((1, 1, 32, 64)),
        ),
        # decode path (tests/test_decode_ops.py has their torch references); the cache ops write in place
        "experimental.rotary_embedding_llama": C(
            lambda x, c, s, t: X.rotary_embedding_llama(x, c, s, t),
            T((1, 2, 32, 64)),
            T((1, 1, 32, 64)),
            T((1, 1, 32, 64)),
            T((1, 1, 32, 32)),
        ),
        "experimental.rotary_embedding_hf": C(
            lambda x, c, s: X.rotary_embedding_hf(x, c, s),
            T((1, 2, 32, 64)),
            T((1, 1, 32, 64)),
            T((1, 1, 32, 64)),
        ),
        "fill_cache": C(
            lambda c, x: ttnn.fill_cache(c, x, 1, update_idx=32), T((2, 2, 64, 32)), T((1, 2, 32, 32))
        ),
        "experimental.paged_fill_cache": C(
            lambda c, x, pt: X.paged_fill_cache(c, x, pt, batch_idx=0),
            T((8, 2, 32, 32)),
            T((1, 2, 64, 32)),
            T((1, 2), dtype=I32, layout=RM, kind="int"),
        ),
        "experimental.paged_update_cache": C(
            lambda c, x, i: X.paged_update_cache(c, x, update_idxs_tensor=i),
            T((2, 1, 64, 32)),
            T((1, 2, 1, 32), mc=sharded(ttnn.TensorMemoryLayout.HEIGHT_SHARDED, (2, 1), (32, 32))),
            T((2,), dtype=I32, layout=RM, kind="int"),
        ),
        "experimental.nlp_create_qkv_heads_decode": C(
            lambda x: X.nlp_create_qkv_heads_decode(x, num_heads=4, num_kv_heads=2), T((1, 1, 4, 256))
        ),
        "experimental.nlp_concat_heads_decode": C(
            lambda x: X.nlp_concat_heads_decode(x, num_heads=4),
            T((1, 4, 4, 32), mc=sharded(ttnn.TensorMemoryLayout.HEIGHT_SHARDED, (4, 1), (32, 32))),
        ),
        "transformer.paged_scaled_dot_product_attention_decode": C(
            lambda q, k, v, pt, cp: TR.paged_scaled_dot_product_attention_decode(
                q, k, v, pt, cur_pos_tensor=cp
            ),
            T((1, 2, 4, 32)),
            T((8, 1, 32, 32)),
            T((8, 1, 32, 32)),
            T((2, 2), dtype=I32, layout=RM, kind="int"),
            T((2,), dtype=I32, layout=RM, kind="int"),
        ),
        "transformer.chunked_scaled_dot_product_attention": C(
            lambda q, k, v, pt: TR.chunked_scaled_dot_product_attention(q, k, v, pt, 0),
            T((1, 2, 32, 32)),
            T((8, 1, 32, 32)),
            T((8, 1, 32, 32)),
            T((1, 2), dtype=I32, layout=RM, kind="int"),
        ),
        "slice": C(lambda x: ttnn.slice(x, [0, 32], [32, 64])),
        "concat": C(lambda a, b: ttnn.concat([a, b], dim=-1), T(), T()),
        "split": C(lambda x: ttnn.split(x, 32, dim=-1)),
        "chunk": C(lambda x: ttnn.chunk(x, 2, -1)),
        "pad": C(lambda x: ttnn.pad(x, [(0, 2), (1, 3)], 2.5), T((8, 16), layout=RM)),
        "repeat": C(lambda x: ttnn.repeat(x, (2, 1))),
        "expand": C(lambda x: ttnn.expand(x, (32, 64)), T((1, 64))),
        "experimental.broadcast_to": C(lambda x: X.broadcast_to(x, (1, 1, 32, 64)), T((1, 1, 1, 64))),
        # creation (device from the input, as model code does)
        "zeros": C(lambda x: ttnn.add(x, ttnn.zeros((32, 64), dtype=BF16, layout=TILE, device=x.device()))),
        "ones": C(lambda x: ttnn.add(x, ttnn.ones((32, 64), dtype=BF16, layout=TILE, device=x.device()))),
        "full": C(
            lambda x: ttnn.add(x, ttnn.full((32, 64), 3.0, dtype=BF16, layout=TILE, device=x.device()))
        ),
        "empty": C(lambda x: ttnn.empty((32, 64), BF16, TILE, x.device())),
        "zeros_like": C(lambda x: ttnn.zeros_like(x)),
        "ones_like": C(lambda x: ttnn.ones_like(x)),
        "full_like": C(lambda x: ttnn.full_like(x, -2.0)),
        "empty_like": C(lambda x: ttnn.empty_like(x)),
        "arange": C(lambda x: ttnn.arange(0, 64, 2, device=x.device())),
        "rand": C(lambda x: ttnn.rand((32, 64), x.device(), seed=7)),
        # collectives on a 1x2 mesh
        "all_gather": C(lambda x: ttnn.all_gather(x, 3), T((1, 1, 32, 64), shard_dim=3), mesh=(1, 2)),
        "reduce_scatter": C(
            lambda x: ttnn.reduce_scatter(x, 3), T((2, 1, 32, 128), shard_dim=0), mesh=(1, 2)
        ),
        "all_reduce": C(lambda x: ttnn.all_reduce(x), T((1, 1, 32, 64), shard_dim=3), mesh=(1, 2)),
        "experimental.all_gather_async": C(
            lambda x: X.all_gather_async(
                x, dim=3, multi_device_global_semaphore=[_SEM, _SEM], topology=ttnn.Topology.Linear
            ),
            T((1, 1, 32, 64), shard_dim=3),
            mesh=(1, 2),
        ),
        "experimental.reduce_scatter_minimal_async": C(
            lambda x: X.reduce_scatter_minimal_async(x, dim=3, multi_device_global_semaphore=[_SEM]),
            T((2, 1, 32, 128), shard_dim=0),
            mesh=(1, 2),
        ),
    }
)
_SEM = ttnn.create_global_semaphore(None, None, 0)


def K(name: str):
    """A fused kernel's OpDef (kernels are not on the ttnn facade)."""
    return OPS["kernels." + name]


_SIG = ttnn.UnaryWithParam(ttnn.UnaryOpType.SIGMOID)
# silu(x) * y + z, then sigmoid of it: two outputs of different dtypes and memory configs
_PROG = (
    ("silu", (0,), ()),
    ("multiply", (3, 1), ()),
    ("add", (4, 2), ()),
    ("act", (5,), (("acts", (_SIG,)),)),
)
_L1, _DRAM = ttnn.L1_MEMORY_CONFIG, ttnn.DRAM_MEMORY_CONFIG

# bitwise ops on integer tensors (ttfuse/ops/bitwise.py): int32 operands, the binary forms with a tensor and an int
for _n in ("bitwise_and", "bitwise_or", "bitwise_xor"):
    CASES[_n] = C(
        lambda a, b, _n=_n: getattr(ttnn, _n)(a, b), T(dtype=I32, kind="int"), T(dtype=I32, kind="int")
    )
for _n in ("bitwise_left_shift", "bitwise_right_shift"):
    CASES[_n] = C(lambda a, _n=_n: getattr(ttnn, _n)(a, 2), T(dtype=I32, kind="int"))
CASES["bitwise_not"] = C(lambda a: ttnn.bitwise_not(a), T(dtype=I32, kind="int"))

CASES.update(
    {
        "kernels.eltwise": C(
            lambda x, y, z: K("eltwise")(
                [x, y, z], program=_PROG, outputs=(5, 6), dtypes=(F32, BF16), memory_configs=(_DRAM, _L1)
            ),
            T((64, 96)),
            T((64, 96)),
            T((1, 96)),
        ),
        "kernels.concat_weights": C(
            lambda a, b: K("concat_weights")([a, b], mode="swiglu"), T((64, 64)), T((64, 64))
        ),
        "kernels.linear_split": C(
            lambda x, w, b: K("linear_split")(x, w, bias=b, sizes=(32, 64), activation="relu"),
            T((64, 64)),
            T((64, 96)),
            T((96,)),
        ),
        "kernels.transition": C(
            lambda x, w12, w3, g, b: K("transition")(x, w12, w3, norm_weight=g, norm_bias=b, epsilon=1e-5),
            T((2, 32, 64)),
            T((64, 256)),
            T((128, 64)),
            T((64,)),
            T((64,)),
        ),
        "kernels.group_norm_act": C(
            lambda x, r, w, b: K("group_norm_act")(
                x, num_groups=8, activations=["silu"], residual=r, weight=w, bias=b, epsilon=1e-5
            ),
            T((2, 1, 40, 64)),
            T((2, 1, 1, 64)),
            T((1, 1, 2, 32), layout=RM),
            T((1, 1, 2, 32), layout=RM),
        ),
        "kernels.adaln": C(
            lambda a, s, w, b, sw: K("adaln")(
                a, s, w, bias_ss=b, cond_norm_weight=sw, epsilon=1e-5, cond_epsilon=1e-5
            ),
            T((2, 32, 64)),
            T((2, 32, 96)),
            T((96, 128)),
            T((128,)),
            T((96,)),
        ),
        "kernels.conditioned_transition": C(
            lambda a, s, w, wgx, wab, wba, wo, b, sw, bo: K("conditioned_transition")(
                a,
                s,
                w,
                wgx,
                wab,
                wba,
                wo,
                bias_ss=b,
                cond_norm_weight=sw,
                bias_o=bo,
                epsilon=1e-5,
                cond_epsilon=1e-5,
            ),
            T((2, 32, 64)),
            T((2, 32, 96)),
            T((96, 128)),
            T((64, 256)),
            T((64, 128)),
            T((128, 64)),
            T((96, 64)),
            T((128,)),
            T((96,)),
            T((64,)),
        ),
        "kernels.triangle_mult": C(
            lambda x, w, m: K("triangle_mult")(x, w, mask=m, outgoing=False, chunk_channels=32),
            T((1, 32, 32, 64)),
            T((64, 256)),
            T((1, 32, 32), kind="bool"),
        ),
        "kernels.pair_bias_attention": C(
            lambda x, kin, wqg, wkv, wo, m, b: K("pair_bias_attention")(
                x, kin, wqg, wkv, wo, attn_mask=m, bias_qg=b, num_heads=2, scale=0.5
            ),
            T((1, 64, 64)),
            T((1, 64, 64)),
            T((64, 128)),
            T((64, 128)),
            T((64, 64)),
            T((1, 2, 64, 64)),
            T((128,)),
        ),
        # a ring of 2 devices (a mesh row): q/k/v sharded along the sequence, the joint (prompt) replicated
        "kernels.ring_joint_attention": C(
            lambda q, k, v, jq, jk, jv: K("ring_joint_attention")(
                q, k, v, jq, jk, jv, mesh_device=q.device(), cluster_axis=1, logical_n=60
            ),
            *[T((1, 2, 64, 64), shard_dim=2)] * 3,
            *[T((1, 2, 32, 64))] * 3,
            mesh=(1, 2),
        ),
    }
)

# host ops: they move data between torch and the device, so they cannot be inside a traced function
_HOST = ttnn.from_torch(torch.zeros(32, 64), dtype=BF16, layout=TILE)  # a host tensor (no device)
NOT_JITTABLE: dict[str, tuple[str, Callable]] = {
    "from_torch": ("host -> device conversion", lambda x: ttnn.from_torch(torch.zeros(2), device=x.device())),
    "to_torch": ("device -> torch conversion", lambda x: ttnn.to_torch(x)),
    "to_device": ("host -> device copy", lambda x: ttnn.to_device(x, x.device())),
    "from_device": ("device -> host copy", lambda x: ttnn.from_device(x)),
    "allocate_tensor_on_device": (
        "allocates outside the JIT's memory plan",
        lambda x: ttnn.allocate_tensor_on_device(x.spec, x.device()),
    ),
    "copy_host_to_device_tensor": (
        "host -> device copy",
        lambda x: ttnn.copy_host_to_device_tensor(_HOST, x),
    ),
}
# graphs holding runtime objects as static arguments: compiled and cached in memory, not storable on disk
NOT_ON_DISK = {
    "experimental.all_gather_async": "a GlobalSemaphore handle is a runtime object",
    "experimental.reduce_scatter_minimal_async": "a GlobalSemaphore handle is a runtime object",
}
# ops recorded as nothing inside a jit function
RECORDED_AS_NOTHING = {"deallocate": "the JIT manages memory; deallocate inside a traced function is a no-op"}
# known bugs outside this file: the disk step must still show the bug (a CacheWarning, then a recompile), so
# the test fails once it is fixed, and the entry here has to go
KNOWN_DISK_BUGS: dict[str, str] = {}  # op name -> why its disk entry cannot load (none known)


# --------------------------------------------------------------------------------------------- helpers
_MESHES: dict = {}


def _device_for(case: Case, device):
    if case.mesh is None:
        return device
    if case.mesh not in _MESHES:
        _MESHES[case.mesh] = ttnn.open_mesh_device(ttnn.MeshShape(*case.mesh))
    return _MESHES[case.mesh]


def _inputs(case: Case, dev) -> list:
    gen = torch.Generator().manual_seed(1234)
    return [t.make(dev, gen) for t in case.ins]


def _values(t: Tensor, dev) -> torch.Tensor:
    if dev.get_num_devices() > 1:
        return ttnn.to_torch(t, mesh_composer=ttnn.ConcatMeshToTensor(dev, 0)).float()
    return ttnn.to_torch(t).float()


def _leaves(v) -> list:
    if isinstance(v, Tensor):
        return [v]
    if isinstance(v, list | tuple):
        return [x for item in v for x in _leaves(item)]
    raise AssertionError(f"unexpected output {type(v).__name__}")


def check_same(jitted, eager, dev) -> None:
    a, b = _leaves(jitted), _leaves(eager)
    assert len(a) == len(b)
    assert type(jitted) is type(eager)
    for x, y in zip(a, b):
        assert x.spec == y.spec, f"spec {x.spec} != eager {y.spec}"
        torch.testing.assert_close(_values(x, dev), _values(y, dev), rtol=0, atol=0, equal_nan=True)


# ----------------------------------------------------------------------------------------------- tests
def test_every_op_has_a_case():
    missing = sorted(set(OPS) - set(CASES) - set(NOT_JITTABLE) - set(RECORDED_AS_NOTHING))
    assert not missing, f"ops without a jit-vs-eager case (add them to CASES in {__file__}): {missing}"
    stale = sorted((set(CASES) | set(NOT_JITTABLE) | set(RECORDED_AS_NOTHING)) - set(OPS))
    assert not stale, f"cases for ops that are not registered: {stale}"


def test_every_fused_kernel_has_a_case():
    fused = {name for name, op in OPS.items() if op.group is Group.FUSED}
    assert fused and all(name.startswith("kernels.") for name in fused)
    assert fused == {name for name in CASES if name.startswith("kernels.")}
    assert not fused & (set(NOT_JITTABLE) | set(RECORDED_AS_NOTHING))


@pytest.mark.parametrize("name", sorted(OPS))
def test_jit_equals_eager(name, device):
    if name in NOT_JITTABLE:
        reason, fn = NOT_JITTABLE[name]
        x = T().make(device, torch.Generator().manual_seed(0))
        with pytest.raises(TraceError, match=f"ttnn.{name} cannot run inside a @ttfuse.jit function"):
            ttfuse.jit(fn)(x)
        return
    if name in RECORDED_AS_NOTHING:
        x = T().make(device, torch.Generator().manual_seed(0))

        def dealloc(x):
            y = ttnn.relu(x)
            ttnn.deallocate(x)
            return y

        low = ttfuse.jit(dealloc).lower(x)
        assert [n.op for n in low.graph.nodes] == ["relu"]
        check_same(ttfuse.jit(dealloc)(x), ttnn.relu(x), device)
        assert x.is_allocated()  # the caller's tensor is not freed by the compiled function
        return
    case = CASES.get(name)
    assert case is not None, f"no jit-vs-eager case for ttnn.{name}: add one to CASES"
    dev = _device_for(case, device)
    eager = case.fn(*_inputs(case, dev))
    with cache.fresh_cache():
        f = ttfuse.jit(case.fn, passes=[])
        check_same(f(*_inputs(case, dev)), eager, dev)
        check_same(f(*_inputs(case, dev)), eager, dev)  # a memory hit runs the same generated code
        assert f.trace_count == 1 and cache.counters.hit == 1
        g = ttfuse.jit(case.fn, passes=[])  # a new jit object: the graph comes back from disk
        if name in KNOWN_DISK_BUGS:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                check_same(g(*_inputs(case, dev)), eager, dev)  # never a wrong result
            if not any(issubclass(w.category, cache.CacheWarning) for w in caught):
                pytest.fail(f"the disk entry of {name} loads now: remove it from KNOWN_DISK_BUGS")
            pytest.xfail(KNOWN_DISK_BUGS[name])
        check_same(g(*_inputs(case, dev)), eager, dev)
        if name in NOT_ON_DISK:
            assert g.trace_count == 1
        else:
            assert g.trace_count == 0 and cache.counters.disk_read == 1
    graph = f.lower(*_inputs(case, dev)).graph
    assert name in [n.op for n in graph.nodes], f"ttnn.{name} was not captured: {[n.op for n in graph.nodes]}"
    if name not in NOT_ON_DISK:
        assert Graph.from_json(json.loads(json.dumps(graph.to_json()))) == graph
