"""The functions whose ttnn-backend code the conformance suite checks (issue 5 item 5), lowered by `@ttfuse.jit`.

- `small_cases()`: short jit functions covering the facade's op families and the fuse passes' epilogues and
  elementwise kernels (specs only, nothing runs);
- `boltz_cases(device)` / `sd35_cases(mesh)`: the hot block functions of the model ports, captured with the
  arguments the ports pass: each port is built from its PyTorch reference module (small random weights) and
  called once with `Port.run` (Boltz) / `run` (SD3.5) replaced by a recorder that stops at the first block
  call, so no block runs; the block is then lowered with those tensors.
`lower_all(cases)` lowers every case; a case whose lowering fails is returned in `failed` (with the error), not
raised: a broken block is the model tests' business, and the conformance test reports it.
Extend: add a `Case` to the list of its source.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field


@dataclass
class Case:
    name: str
    fn: Callable
    args: tuple
    kwargs: dict = field(default_factory=dict)


# ------------------------------------------------------------------------------------------ small functions
def _mlp(x, w1, b1, w2, gamma):
    from ttfuse import ttnn

    h = ttnn.linear(x, w1, bias=b1, activation="gelu")
    h = ttnn.add(ttnn.silu(ttnn.multiply(h, 0.5)), 1.0)
    h = ttnn.linear(h, w2)
    return ttnn.layer_norm(ttnn.add(x, h), epsilon=1e-5, weight=gamma)


def _swiglu(x, w1, w2, w3, nw, nb):
    from ttfuse import ttnn

    h = ttnn.layer_norm(x, epsilon=1e-5, weight=nw, bias=nb)
    a = ttnn.linear(h, w1, activation="silu")
    b = ttnn.linear(h, w2)
    return ttnn.linear(ttnn.multiply(a, b), w3)


def _attention(qkv, mask, *, heads):
    from ttfuse import ttnn

    q, k, v = ttnn.transformer.split_query_key_value_and_split_heads(
        qkv, num_heads=heads, transpose_key=False
    )
    o = ttnn.transformer.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=False)
    return ttnn.transformer.concatenate_heads(o)


def _softmax_chain(x, y):
    from ttfuse import ttnn

    s = ttnn.softmax(ttnn.multiply(x, 0.125), dim=-1)
    t = ttnn.where(ttnn.gt(y, 0.0), ttnn.exp(y), ttnn.neg(y))
    return ttnn.typecast(ttnn.sum(ttnn.add(s, t), dim=-1, keepdim=True), ttnn.float32), ttnn.rms_norm(
        s, epsilon=1e-6
    )


def _data_movement(x):
    from ttfuse import ttnn

    a = ttnn.permute(ttnn.reshape(x, (2, 64, 128)), (0, 2, 1))
    b = ttnn.concat([a, a], dim=1)
    parts = ttnn.split(b, 128, dim=1)
    return ttnn.to_memory_config(ttnn.transpose(parts[0], 1, 2), ttnn.L1_MEMORY_CONFIG)


def _bitwise(a, b):
    from ttfuse import ttnn

    m = ttnn.bitwise_and(a, b)
    n = ttnn.bitwise_or(ttnn.bitwise_xor(a, 255), ttnn.bitwise_not(b))
    return ttnn.bitwise_right_shift(ttnn.bitwise_left_shift(ttnn.add(m, n), 2), 1)


def small_cases() -> list[Case]:
    from ttfuse import ttnn

    S, bf16, bfp8 = ttnn.TensorSpec, ttnn.bfloat16, ttnn.bfloat8_b
    x, w, b = S((64, 128), bf16), S((128, 128), bf16), S((1, 128), bf16)
    return [
        Case("mlp", _mlp, (x, w, b, w, b)),
        Case(
            "swiglu",
            _swiglu,
            (
                S((128, 256), bf16),
                S((256, 1024), bfp8),
                S((256, 1024), bfp8),
                S((1024, 256), bfp8),
                S((1, 256), bf16),
                S((1, 256), bf16),
            ),
        ),
        Case("attention", _attention, (S((1, 128, 192), bf16), S((1, 1, 128, 128), bf16)), {"heads": 2}),
        Case("softmax_chain", _softmax_chain, (S((1, 2, 64, 128), bf16), S((1, 2, 64, 128), bf16))),
        Case("data_movement", _data_movement, (S((128, 128), bf16),)),
        Case("bitwise", _bitwise, (S((64, 128), ttnn.int32), S((64, 128), ttnn.int32))),
    ]


# ------------------------------------------------------------------------------------------ model blocks
class _Recorded(Exception):
    def __init__(self, fn, args, kwargs):
        super().__init__(fn.__name__)
        self.case = Case(fn.__name__, fn, args, kwargs)


@contextlib.contextmanager
def _recording(target, attr: str, method: bool) -> Iterator[None]:
    orig = getattr(target, attr)
    if method:

        def rec(self, fn, *args, **kwargs):
            raise _Recorded(fn, args, kwargs)
    else:

        def rec(jit, fn, *args, **kwargs):
            raise _Recorded(fn, args, kwargs)

    setattr(target, attr, rec)
    try:
        yield
    finally:
        setattr(target, attr, orig)


def _capture(make_and_call: Callable[[], object]) -> Case:
    try:
        make_and_call()
    except _Recorded as r:
        return r.case
    raise RuntimeError("the port returned without calling a block function")


def boltz_cases(device, n: int = 32) -> tuple[list[Case], list[tuple[str, str]]]:
    """The Boltz-2 port's block functions with the arguments its modules pass (N tokens); (cases, failures)."""
    import torch
    from boltz.model.layers.attentionv2 import AttentionPairBias as RefAPB
    from boltz.model.layers.outer_product_mean import OuterProductMean as RefOPM
    from boltz.model.layers.pair_averaging import PairWeightedAveraging as RefPWA
    from boltz.model.layers.transition import Transition as RefTransition
    from boltz.model.layers.triangular_attention.attention import TriangleAttentionStartingNode as RefTriAtt
    from boltz.model.layers.triangular_mult import TriangleMultiplicationIncoming as RefTriMulIn
    from boltz.model.layers.triangular_mult import TriangleMultiplicationOutgoing as RefTriMulOut
    from boltz.model.modules.transformersv2 import AdaLN as RefAdaLN
    from boltz.model.modules.transformersv2 import ConditionedTransitionBlock as RefCTB
    from boltz.model.modules.transformersv2 import DiffusionTransformerLayer as RefDTL

    import models.boltz as mb
    from models.boltz import common

    torch.manual_seed(0)
    s, z, a = torch.randn(1, n, 384), torch.randn(1, n, n, 128), torch.randn(1, n, 384)
    mask, pm, m = torch.ones(1, n), torch.ones(1, n, n), torch.randn(1, 16, n, 64)
    bias = torch.randn(1, n, n, 16)
    calls = {
        "Transition": lambda: mb.Transition.from_torch(RefTransition(384, 1536).eval(), device)(s),
        "TriangleMultiplicationOutgoing": lambda: mb.TriangleMultiplicationOutgoing.from_torch(
            RefTriMulOut(128).eval(), device
        )(z, mask=pm),
        "TriangleMultiplicationIncoming": lambda: mb.TriangleMultiplicationIncoming.from_torch(
            RefTriMulIn(128).eval(), device
        )(z, mask=pm),
        "TriangleAttentionStartingNode": lambda: mb.TriangleAttentionStartingNode.from_torch(
            RefTriAtt(128, 32, 4, inf=1e9).eval(), device
        )(z, mask=pm),
        "AttentionPairBias": lambda: mb.AttentionPairBias.from_torch(RefAPB(384, 128, 16).eval(), device)(
            s=s, z=z, mask=mask, k_in=s
        ),
        "AdaLN": lambda: mb.AdaLN.from_torch(RefAdaLN(384, 384).eval(), device)(a, s),
        "ConditionedTransitionBlock": lambda: mb.ConditionedTransitionBlock.from_torch(
            RefCTB(384, 384).eval(), device
        )(a, s),
        "DiffusionTransformerLayer": lambda: mb.DiffusionTransformerLayer.from_torch(
            RefDTL(16, 384, 384).eval(), device
        )(a, s, bias, mask),
        "OuterProductMean": lambda: mb.OuterProductMean.from_torch(RefOPM(64, 32, 128).eval(), device)(
            m, torch.ones(1, 16, n)
        ),
        "PairWeightedAveraging": lambda: mb.PairWeightedAveraging.from_torch(
            RefPWA(64, 128, 32, 8).eval(), device
        )(m, z, pm),
    }
    cases, failed = [], []
    with _recording(common.Port, "run", method=True):
        for name, call in calls.items():
            try:
                c = _capture(call)
            except Exception as e:  # noqa: BLE001 - reported by the caller
                failed.append((f"boltz {name}", f"{type(e).__name__}: {e}".splitlines()[0]))
                continue
            c.name = f"boltz {name}: {c.name}"
            cases.append(c)
    return cases, failed


def sd35_cases(mesh) -> tuple[list[Case], list[tuple[str, str]]]:
    """The SD3.5 port's joint block (small random diffusers block) on `mesh`; (cases, failures)."""
    import torch
    from diffusers.models.attention import JointTransformerBlock as RefBlock

    from models.sd35 import block as sb

    torch.manual_seed(0)
    cases, failed = [], []
    for pre_only in (False, True):
        name = f"sd35 JointTransformerBlock context_pre_only={pre_only}"
        try:
            ref = RefBlock(
                dim=128,
                num_attention_heads=2,
                attention_head_dim=64,
                context_pre_only=pre_only,
                qk_norm="rms_norm",
            ).eval()
            port = sb.JointTransformerBlock.from_torch(ref, mesh)
            with _recording(sb, "run", method=False):
                c = _capture(
                    lambda p=port: p(torch.randn(1, 64, 128), torch.randn(1, 32, 128), torch.randn(1, 128))
                )
        except Exception as e:  # noqa: BLE001 - reported by the caller
            failed.append((name, f"{type(e).__name__}: {e}".splitlines()[0]))
            continue
        c.name = f"{name}: {c.name}"
        cases.append(c)
    return cases, failed


# ------------------------------------------------------------------------------------------ lowering
def lower_all(cases: list[Case]) -> tuple[list[tuple[str, object]], list[tuple[str, str]]]:
    """([(case name, Lowered)], [(case name, error)]): every case lowered by a fresh `ttfuse.jit`."""
    import ttfuse

    lowered, failed = [], []
    for c in cases:
        try:
            lowered.append((c.name, ttfuse.jit(c.fn).lower(*c.args, **c.kwargs)))
        except Exception as e:  # noqa: BLE001 - reported by the caller
            failed.append((c.name, f"{type(e).__name__}: {e}".splitlines()[0]))
    return lowered, failed
