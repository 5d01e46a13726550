"""Property: on random programs of eltwise, linear, layer_norm, softmax, reshape/permute ops (and the block
patterns the fuse pass recognises), JIT with every pass of the pipeline equals eager within the tolerance of
the formats (PCC >= 0.999 in bfloat16), and no pass ever fails verification (verified after each pass)."""

from __future__ import annotations

import math
import os

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ttfuse
from ttfuse import ttnn
from ttfuse.testing import pcc

BF16 = ttnn.bfloat16
SHAPES = ((32, 64), (64, 32))
UNARY = ("relu", "silu", "gelu", "sigmoid", "tanh", "abs")
BINARY = ("add", "multiply", "maximum", "minimum")
ACTS = (None, "relu", "silu", "gelu")


@pytest.fixture(scope="module", autouse=True)
def _verify_every_pass():
    old = {k: os.environ.get(k) for k in ("TTFUSE_VERIFY", "TTFUSE_VERIFY_PASSES")}
    os.environ["TTFUSE_VERIFY"] = os.environ["TTFUSE_VERIFY_PASSES"] = "1"
    yield
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@st.composite
def programs(draw):
    """(steps, outputs): each step reads earlier values (by index) of matching shape; weights are inputs."""
    shapes = [SHAPES[0], SHAPES[0]]  # x, y
    steps = []
    for _ in range(draw(st.integers(1, 8))):
        i = draw(st.integers(0, len(shapes) - 1))
        shape = shapes[i]
        same = [j for j, s in enumerate(shapes) if s == shape]
        kind = draw(
            st.sampled_from(
                [
                    "unary",
                    "binary",
                    "scalar",
                    "linear",
                    "linear_epilogue",
                    "horizontal",
                    "layer_norm",
                    "residual_norm",
                    "softmax",
                    "reshape",
                    "permute",
                    "transition",
                    "chain",
                ]
            )
        )
        if kind == "unary":
            step = (kind, draw(st.sampled_from(UNARY)), i)
        elif kind == "binary":
            step = (kind, draw(st.sampled_from(BINARY)), i, draw(st.sampled_from(same)))
        elif kind == "scalar":
            op = draw(st.sampled_from(["add", "multiply"]))
            lo, hi = (-1.0, 1.0) if op == "add" else (0.25, 2.0)
            step = (kind, op, i, draw(st.floats(lo, hi, allow_nan=False, width=16)))
        elif kind in ("linear", "linear_epilogue"):
            step = (kind, draw(st.sampled_from(ACTS)), i, draw(st.booleans()))
        elif kind in ("residual_norm",):
            step = (kind, None, i, draw(st.sampled_from(same)))
        elif kind == "chain":
            step = (kind, draw(st.sampled_from(UNARY)), i, draw(st.sampled_from(same)))
        else:
            step = (kind, None, i)
        shapes.append(shape[::-1] if kind in ("reshape", "permute") else shape)
        steps.append(step)
    outs = draw(st.lists(st.integers(2, len(shapes) - 1), min_size=1, max_size=2, unique=True))
    return tuple(steps), tuple(outs)


def _weights(steps, x_shape=SHAPES[0]):
    """Shapes of the weight inputs each step needs, in order (linear widths keep the value's width)."""
    shapes = [x_shape, x_shape]
    ws = []
    for step in steps:
        kind, i = step[0], step[2]
        w = shapes[i][-1]
        if kind in ("linear", "linear_epilogue"):
            ws += [("w", (w, w))] + ([("b", (w,))] if step[3] else [])
        elif kind == "horizontal":
            ws += [("w", (w, w)), ("w", (w, w))]
        elif kind in ("layer_norm", "residual_norm"):
            ws += [("g", (w,)), ("b", (w,))]
        elif kind == "transition":
            ws += [("g", (w,)), ("b", (w,)), ("w", (w, 2 * w)), ("w", (w, 2 * w)), ("w", (2 * w, w))]
        sh = shapes[i]
        shapes.append(sh[::-1] if kind in ("reshape", "permute") else sh)
    return ws


def run(program, x, y, weights):
    steps, outs = program
    vals = [x, y]
    wi = iter(weights)
    for step in steps:
        kind, op, i = step[0], step[1], step[2]
        v = vals[i]
        if kind == "unary":
            r = getattr(ttnn, op)(v)
        elif kind == "binary":
            r = getattr(ttnn, op)(v, vals[step[3]])
        elif kind == "scalar":
            r = getattr(ttnn, op)(v, float(step[3]))
        elif kind == "linear":
            w = next(wi)
            r = ttnn.linear(v, w, bias=next(wi) if step[3] else None, activation=op)
        elif kind == "linear_epilogue":  # linear, + bias, activation: as separate ops
            r = ttnn.linear(v, next(wi))
            if step[3]:
                r = ttnn.add(r, next(wi))
            r = getattr(ttnn, op)(r) if op else r
        elif kind == "horizontal":  # two linears sharing their input (one matmul on concatenated weights)
            w1, w2 = next(wi), next(wi)
            r = ttnn.multiply(ttnn.linear(v, w1), ttnn.linear(v, w2))
        elif kind == "layer_norm":
            r = ttnn.layer_norm(v, epsilon=1e-5, weight=next(wi), bias=next(wi))
        elif kind == "residual_norm":
            r = ttnn.layer_norm(ttnn.add(v, vals[step[3]]), epsilon=1e-5, weight=next(wi), bias=next(wi))
        elif kind == "softmax":
            r = ttnn.softmax(v, dim=-1)
        elif kind == "reshape":
            r = ttnn.reshape(v, tuple(v.shape)[::-1])
        elif kind == "permute":
            r = ttnn.permute(v, (1, 0))
        elif kind == "transition":
            g, b, w1, w2, w3 = (next(wi) for _ in range(5))
            h = ttnn.layer_norm(v, epsilon=1e-5, weight=g, bias=b)
            r = ttnn.linear(ttnn.multiply(ttnn.linear(h, w1, activation="silu"), ttnn.linear(h, w2)), w3)
        else:  # chain: unary, multiply, add (one eltwise kernel)
            r = ttnn.add(ttnn.multiply(getattr(ttnn, op)(v), vals[step[3]]), v)
        vals.append(r)
    return tuple(vals[k] for k in outs)


def _tensor(dev, kind, shape):
    if kind == "w":
        t = torch.randn(shape) / math.sqrt(shape[0])
    elif kind == "g":
        t = 1.0 + 0.1 * torch.randn(shape)
    else:
        t = 0.1 * torch.randn(shape)
    return ttnn.from_torch(t, dtype=BF16, layout=ttnn.TILE_LAYOUT, device=dev)


def close(got: torch.Tensor, want: torch.Tensor) -> bool:
    """PCC >= 0.999, or within 4 bfloat16 ulps of the output's scale: a fused kernel skips roundings eager
    makes, which on a nearly constant output (silu(softmax(x) + 1)) moves values by an ulp and the PCC a lot."""
    scale = float(want.abs().max())
    if (got - want).abs().max() <= 4 * 2.0 ** (math.floor(math.log2(max(scale, 1e-30))) - 7):
        return True
    if want.std() > 1e-3 and got.std() > 1e-3:
        return pcc(got, want) >= 0.999
    return bool((got - want).abs().max() <= 2e-2 * (1.0 + want.abs().max()))


@pytest.mark.slow  # 300 hypothesis programs through every pass (~15 s); test_fuzz_jit_eager covers JIT = eager fast
@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
    ],
)
@given(program=programs())
def test_jit_with_all_passes_equals_eager(module_device, program):
    dev = module_device
    torch.manual_seed(len(program[0]))
    x = ttnn.from_torch(torch.randn(SHAPES[0]), dtype=BF16, layout=ttnn.TILE_LAYOUT, device=dev)
    y = ttnn.from_torch(torch.randn(SHAPES[0]), dtype=BF16, layout=ttnn.TILE_LAYOUT, device=dev)
    weights = [_tensor(dev, k, s) for k, s in _weights(program[0])]
    want = run(program, x, y, weights)
    jf = ttfuse.jit(run)
    got = jf(program, x, y, weights)  # every pass, verified after each (TTFUSE_VERIFY_PASSES=1)
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert tuple(a.shape) == tuple(b.shape) and a.dtype == b.dtype
        ga, gb = ttnn.to_torch(a).float(), ttnn.to_torch(b).float()
        assert close(ga, gb), (program, pcc(ga, gb), (ga - gb).abs().max())
