"""Elementwise ops: unary, binary (broadcast, scalars, fused activations, in-place) and ternary, vs torch goldens.

float32 results must equal the torch float32 golden exactly; bfloat16 results must be within one bf16 ulp of
a float64 golden rounded by torch's bfloat16 conversion; bfloat8_b results must equal the golden rounded once
by the block-float rounder and correlate (PCC) with the float64 golden.
"""

import math

import pytest
import torch
import torch.nn.functional as F

import ttfuse
from ttfuse import ttnn
from ttfuse.errors import DeviceError, SpecError
from ttfuse.numerics import round_to_dtype
from ttfuse.opdef import CostCtx
from ttfuse.testing import pcc

U = ttnn.UnaryOpType


def dev(device, x, dtype=ttnn.float32, layout=ttnn.TILE_LAYOUT, memory_config=None):
    return ttnn.from_torch(x, dtype=dtype, layout=layout, device=device, memory_config=memory_config)


def vals(t):
    out = ttnn.to_torch(t)
    return out.float() if out.is_floating_point() else out


def bf16_ulp(x: torch.Tensor) -> torch.Tensor:
    _, e = torch.frexp(x.abs().clamp_min(2.0**-126))
    return torch.ldexp(torch.ones_like(x), e - 8)


def assert_bf16_close(out: torch.Tensor, golden: torch.Tensor) -> None:
    """`out` within one bf16 ulp of the golden rounded to bf16 (torch's conversion as the reference)."""
    ref = golden.float().to(torch.bfloat16).float()
    assert torch.equal(out.isnan(), ref.isnan())
    ok = ~ref.isnan()
    out, ref = out[ok], ref[ok]
    assert torch.equal(out.isinf(), ref.isinf()) and torch.equal(out[out.isinf()], ref[ref.isinf()])
    fin = ~ref.isinf()
    tol = torch.maximum(bf16_ulp(ref[fin]), bf16_ulp(out[fin]))
    assert ((out[fin] - ref[fin]).abs() <= tol).all(), (out[fin] - ref[fin]).abs().max()


def assert_f32_equal(out: torch.Tensor, golden: torch.Tensor) -> None:
    assert out.dtype == torch.float32 and out.shape == golden.shape
    assert torch.equal(out.isnan(), golden.isnan())
    ok = ~golden.isnan()
    assert torch.equal(out[ok], golden[ok].float())


def check_spec(t, shape, dtype, layout=ttnn.TILE_LAYOUT, memory_config=ttnn.DRAM_MEMORY_CONFIG):
    assert (
        t.shape == list(shape)
        and t.dtype == dtype
        and t.layout == layout
        and t.memory_config() == memory_config
    )
    tile = layout == ttnn.TILE_LAYOUT and len(shape) >= 2
    padded = [*shape[:-2], -(-shape[-2] // 32) * 32, -(-shape[-1] // 32) * 32] if tile else list(shape)
    assert t.padded_shape == padded


def _any(n):
    return torch.randn(n) * 2


def _pos(n):
    return torch.rand(n) * 4 + 0.05


def _nonzero(n):
    x = torch.randn(n) * 2
    return torch.where(x.abs() < 0.1, torch.full_like(x, 0.5), x)


def _small(n):
    return torch.rand(n) * 2.4 - 1.2


# name -> (golden(x), input generator, kwargs)
UNARY = {
    "exp": (torch.exp, _any, {}),
    "exp2": (torch.exp2, _any, {}),
    "expm1": (torch.expm1, _any, {}),
    "log": (torch.log, _pos, {}),
    "log1p": (torch.log1p, _pos, {}),
    "sqrt": (torch.sqrt, _pos, {}),
    "rsqrt": (torch.rsqrt, _pos, {}),
    "reciprocal": (torch.reciprocal, _nonzero, {}),
    "neg": (torch.neg, _any, {}),
    "abs": (torch.abs, _any, {}),
    "sign": (torch.sign, _any, {}),
    "square": (torch.square, _any, {}),
    "relu": (torch.relu, _any, {}),
    "relu6": (lambda x: torch.clamp(x, 0, 6), lambda n: torch.randn(n) * 5, {}),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), _any, {"negative_slope": 0.2}),
    "elu": (lambda x: F.elu(x, 0.5), _any, {"alpha": 0.5}),
    "selu": (lambda x: F.elu(x, 1.673259973526001) * 1.0506999492645264, _any, {}),
    "silu": (F.silu, _any, {}),
    "gelu": (F.gelu, _any, {}),
    "sigmoid": (torch.sigmoid, _any, {}),
    "sigmoid_accurate": (torch.sigmoid, _any, {}),
    "hardsigmoid": (F.hardsigmoid, _any, {}),
    "hardswish": (F.hardswish, _any, {}),
    "hardtanh": (lambda x: torch.clamp(x, -0.5, 2.0), _any, {"min_val": -0.5, "max_val": 2.0}),
    "softplus": (lambda x: F.softplus(x, 2.0, 5.0), _any, {"beta": 2.0, "threshold": 5.0}),
    "mish": (F.mish, _any, {}),
    "tanh": (torch.tanh, _any, {}),
    "sin": (torch.sin, _any, {}),
    "cos": (torch.cos, _any, {}),
    "tan": (torch.tan, _small, {}),
    "erf": (torch.erf, _any, {}),
    "erfc": (torch.erfc, _any, {}),
    "floor": (torch.floor, _any, {}),
    "ceil": (torch.ceil, _any, {}),
    "logical_not": (lambda x: (x == 0).float(), lambda n: torch.randint(-1, 2, (n,)).float(), {}),
    "clamp": (lambda x: torch.clamp(x, -0.5, 1.5), _any, {"min": -0.5, "max": 1.5}),
    "clip": (lambda x: torch.clamp(x, max=0.25), _any, {"max": 0.25}),
}
INT_OK = {"neg", "abs", "square", "relu", "relu6", "logical_not", "clamp", "clip"}


def _input(name, shape=(64, 96)):
    return UNARY[name][1](math.prod(shape)).reshape(shape)


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_float32_exact(device, name):
    golden, _, kw = UNARY[name]
    x = _input(name)
    t = dev(device, x)
    with ttfuse.sim.count_launches(device) as launches:
        y = getattr(ttnn, name)(t, **kw)
    check_spec(y, x.shape, ttnn.float32)
    assert launches.by_op == {name: 1}
    assert_f32_equal(vals(y), golden(x))


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_bfloat16_within_one_ulp(device, name):
    golden, _, kw = UNARY[name]
    t = dev(device, _input(name, (2, 40, 70)), ttnn.bfloat16)
    x = vals(t)  # the bf16 values the device holds; the golden is their float32 image
    y = getattr(ttnn, name)(t, **kw, memory_config=ttnn.L1_MEMORY_CONFIG)
    check_spec(y, (2, 40, 70), ttnn.bfloat16, memory_config=ttnn.L1_MEMORY_CONFIG)
    assert_bf16_close(vals(y), golden(x))


@pytest.mark.parametrize("name", ["exp", "relu", "silu", "gelu", "neg", "sigmoid", "tanh", "sqrt", "square"])
def test_unary_bfloat8_b(device, name):
    golden, _, kw = UNARY[name]
    t = dev(device, _input(name, (64, 128)), ttnn.bfloat8_b)
    x = vals(t)
    out = vals(getattr(ttnn, name)(t, **kw))
    assert torch.equal(out, round_to_dtype(golden(x), "bfloat8_b"))  # computed in f32, rounded once
    ref = golden(x.double())
    assert pcc(out, ref) >= 0.99
    # bfp8: 7 mantissa bits under an exponent shared by 16 values of a row
    bound = ref.abs().reshape(64, -1, 16).amax(-1, keepdim=True) * 2.0**-6
    assert ((out.double() - ref).abs().reshape(64, -1, 16) <= bound).all()


@pytest.mark.parametrize("name", ["relu", "exp", "neg", "abs"])
def test_unary_row_major(device, name):
    golden, _, kw = UNARY[name]
    x = _input(name, (5, 37))
    y = getattr(ttnn, name)(dev(device, x, layout=ttnn.ROW_MAJOR_LAYOUT), **kw)
    check_spec(y, (5, 37), ttnn.float32, layout=ttnn.ROW_MAJOR_LAYOUT)
    assert_f32_equal(vals(y), golden(x))


@pytest.mark.parametrize("name", sorted(INT_OK))
def test_unary_int32(device, name):
    golden, _, kw = UNARY[name]
    kw = {k: (round(v) if isinstance(v, float) else v) for k, v in kw.items()}
    x = torch.randint(-9, 10, (32, 64), dtype=torch.int32)
    y = getattr(ttnn, name)(dev(device, x, ttnn.int32), **kw)
    check_spec(y, x.shape, ttnn.int32)
    exp = torch.clamp(x, kw.get("min"), kw.get("max")) if name in ("clamp", "clip") else golden(x.double())
    assert torch.equal(ttnn.to_torch(y).long(), exp.long())


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_bad_inputs(device, name):
    op = getattr(ttnn, name)
    kw = UNARY[name][2]
    with pytest.raises(
        SpecError, match=f"ttnn.{name}: argument 'input_tensor' must be a ttnn.Tensor, got a torch.Tensor"
    ):
        op(torch.ones(4), **kw)
    if name not in INT_OK:
        with pytest.raises(
            SpecError, match=f"ttnn.{name}: argument 'input_tensor' has dtype int32; supported: "
        ):
            op(dev(device, torch.ones(32, 32, dtype=torch.int32), ttnn.int32), **kw)
    t = dev(device, torch.ones(32, 32))
    if name != "clip":  # ttnn.clip has no output_tensor keyword: a preallocated output of another shape
        with pytest.raises(SpecError, match=f"ttnn.{name}: argument 'output_tensor' is .*; the op computes"):
            op(t, **kw, output_tensor=dev(device, torch.ones(32, 64)))
    with pytest.raises(SpecError, match=f"ttnn.{name}: got an unexpected keyword argument 'bogus'"):
        op(t, **kw, bogus=1)


def test_unary_host_and_deallocated(device):
    host = ttnn.from_torch(torch.ones(32, 32), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT)
    with pytest.raises(SpecError, match="ttnn.exp: argument 'input_tensor' is on the host"):
        ttnn.exp(host)
    t = dev(device, torch.ones(32, 32))
    ttnn.deallocate(t)
    with pytest.raises(DeviceError, match="ttnn.relu: argument 'input_tensor' was deallocated"):
        ttnn.relu(t)


def test_unary_keyword_checks(device):
    t = dev(device, torch.randn(32, 32))
    with pytest.raises(SpecError, match="ttnn.leaky_relu: missing a required argument: 'negative_slope'"):
        ttnn.leaky_relu(t)
    with pytest.raises(
        SpecError, match="ttnn.leaky_relu: argument 'negative_slope' must be a number, got str"
    ):
        ttnn.leaky_relu(t, "0.1")
    with pytest.raises(SpecError, match="ttnn.sigmoid: argument 'vector_mode'=3 is not supported"):
        ttnn.sigmoid(t, vector_mode=3)
    with pytest.raises(SpecError, match="ttnn.sigmoid: argument 'mode' must be a ttnn.SigmoidMode"):
        ttnn.sigmoid(t, mode="fast")
    with pytest.raises(SpecError, match="ttnn.gelu: pass either 'variant' or the legacy"):
        ttnn.gelu(t, variant=ttnn.GeluVariant.Tanh, fast_and_approximate_mode=True)
    with pytest.raises(SpecError, match="ttnn.clamp: arguments 'min' and 'max' are both None"):
        ttnn.clamp(t)
    with pytest.raises(SpecError, match="ttnn.clamp: argument 'min' must be a ttnn.Tensor, a number or None"):
        ttnn.clamp(t, "0")
    with pytest.raises(SpecError, match="ttnn.exp: argument 'memory_config' must be a ttnn.MemoryConfig"):
        ttnn.exp(t, memory_config="L1")


def test_gelu_variants_and_sigmoid_modes(device):
    x = torch.randn(64, 64) * 3
    t = dev(device, x)
    tanh_form = F.gelu(x, approximate="tanh")
    assert_f32_equal(vals(ttnn.gelu(t, variant=ttnn.GeluVariant.Tanh)), tanh_form)
    assert_f32_equal(vals(ttnn.gelu(t, fast_and_approximate_mode=True)), tanh_form)
    assert_f32_equal(vals(ttnn.gelu(t, variant=ttnn.GeluVariant.Accurate)), F.gelu(x))
    assert_f32_equal(vals(ttnn.sigmoid(t, mode=ttnn.SigmoidMode.FastApproximate)), torch.sigmoid(x))
    # VectorMode::C computes only columns 0-15 of each tile; the other half keeps the input
    out = vals(ttnn.sigmoid(t, vector_mode=2))
    cols = torch.arange(64) % 32 < 16
    assert_f32_equal(out[:, cols], torch.sigmoid(x[:, cols]))
    assert_f32_equal(out[:, ~cols], x[:, ~cols])
    out = vals(ttnn.sigmoid(t, vector_mode=1))
    assert_f32_equal(out[cols], torch.sigmoid(x[cols]))
    assert_f32_equal(out[~cols], x[~cols])


def test_clamp_tensor_bounds(device):
    x, lo, hi = torch.randn(64, 64), torch.randn(1, 64) - 0.5, torch.randn(64, 1) + 0.5
    out = ttnn.clamp(dev(device, x), dev(device, lo), dev(device, hi))
    assert_f32_equal(vals(out), torch.clamp(x, lo, hi))
    assert_f32_equal(vals(ttnn.clamp(dev(device, x), min=0.1)), torch.clamp(x, min=0.1))
    with pytest.raises(SpecError, match="ttnn.clamp: 'min'/'max' tensors must broadcast to the input shape"):
        ttnn.clamp(dev(device, torch.randn(1, 64)), dev(device, lo), dev(device, hi))
    with pytest.raises(SpecError, match="ttnn.clamp: argument 'input_tensor' has dtype int32"):
        ttnn.clamp(dev(device, torch.ones(32, 32, dtype=torch.int32), ttnn.int32), dev(device, lo))


# ------------------------------------------------------------------------------------------------- binary
BINARY = {
    "add": torch.add,
    "subtract": torch.sub,
    "multiply": torch.mul,
    "divide": torch.div,
    "rsub": lambda a, b: b - a,
    "maximum": torch.maximum,
    "minimum": torch.minimum,
    "squared_difference": lambda a, b: (a - b) ** 2,
    "eq": lambda a, b: (a == b).float(),
    "ne": lambda a, b: (a != b).float(),
    "gt": lambda a, b: (a > b).float(),
    "ge": lambda a, b: (a >= b).float(),
    "lt": lambda a, b: (a < b).float(),
    "le": lambda a, b: (a <= b).float(),
    "logical_and": lambda a, b: ((a != 0) & (b != 0)).float(),
    "logical_or": lambda a, b: ((a != 0) | (b != 0)).float(),
    "logical_xor": lambda a, b: ((a != 0) ^ (b != 0)).float(),
    "pow": torch.pow,
}


def _operands(name, sa, sb):
    a, b = torch.randn(sa), torch.randn(sb)
    if name == "pow":
        a = a.abs() + 0.1
    if name == "divide":
        b = torch.where(b.abs() < 0.1, torch.full_like(b, 0.5), b)
    if name in ("eq", "ne", "ge", "le") or name.startswith("logical"):
        a, b = a.round(), b.round()  # make ties and zeros common
    return a, b


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_float32_exact(device, name):
    a, b = _operands(name, (64, 96), (64, 96))
    with ttfuse.sim.count_launches(device) as launches:
        y = getattr(ttnn, name)(dev(device, a), dev(device, b))
    check_spec(y, (64, 96), ttnn.float32)
    assert launches.by_op == {name: 1}
    assert_f32_equal(vals(y), BINARY[name](a, b))


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_bfloat16_within_one_ulp(device, name):
    a, b = _operands(name, (3, 40, 64), (3, 40, 64))
    ta, tb = dev(device, a, ttnn.bfloat16), dev(device, b, ttnn.bfloat16)
    y = getattr(ttnn, name)(ta, tb, memory_config=ttnn.L1_MEMORY_CONFIG)
    check_spec(y, (3, 40, 64), ttnn.bfloat16, memory_config=ttnn.L1_MEMORY_CONFIG)
    assert_bf16_close(vals(y), BINARY[name](vals(ta).double(), vals(tb).double()))


@pytest.mark.parametrize("name", ["add", "subtract", "multiply", "maximum", "gt"])
def test_binary_bfloat8_b(device, name):
    a, b = _operands(name, (64, 128), (64, 128))
    ta, tb = dev(device, a, ttnn.bfloat8_b), dev(device, b, ttnn.bfloat8_b)
    out = vals(getattr(ttnn, name)(ta, tb))
    golden = BINARY[name](vals(ta), vals(tb))
    assert torch.equal(out, round_to_dtype(golden, "bfloat8_b"))
    assert pcc(out, BINARY[name](vals(ta).double(), vals(tb).double())) >= 0.99


BROADCASTS = [
    ((64, 96), (1, 96)),
    ((64, 96), (64, 1)),
    ((64, 1), (1, 96)),
    ((2, 1, 32, 64), (3, 1, 64)),
    ((4, 1, 32), (1, 5, 1)),
    ((96,), (3, 2, 96)),
    ((2, 1, 3, 1, 32, 32), (2, 4, 1, 5, 1, 32)),  # rank 6: the leading dims match
]


@pytest.mark.parametrize("sa,sb", BROADCASTS)
@pytest.mark.parametrize("name", ["add", "multiply", "subtract", "maximum", "lt"])
def test_binary_broadcast(device, name, sa, sb):
    a, b = _operands(name, sa, sb)
    y = getattr(ttnn, name)(dev(device, a), dev(device, b))
    golden = BINARY[name](a, b)
    check_spec(y, golden.shape, ttnn.float32)
    assert_f32_equal(vals(y), golden)


def test_binary_broadcast_errors(device):
    a, b = dev(device, torch.randn(4, 32)), dev(device, torch.randn(3, 32))
    with pytest.raises(
        SpecError,
        match=r"ttnn.add: shapes of 'input_tensor_a' \[4, 32\] and 'input_tensor_b' "
        r"\[3, 32\] are not broadcast-compatible: dim -2 is 4 vs 3",
    ):
        ttnn.add(a, b)
    c = dev(device, torch.randn(2, 1, 1, 1, 1, 32))
    d = dev(device, torch.randn(3, 1, 1, 1, 1, 32))
    with pytest.raises(SpecError, match=r"ttnn.multiply: .* dim -6 is 2 vs 3 \(dims above the 5th"):
        ttnn.multiply(c, d)


@pytest.mark.parametrize("dtype", [ttnn.float32, ttnn.bfloat16])
def test_scalar_operands(device, dtype):
    x = torch.randn(64, 64)
    t = dev(device, x, dtype)
    xv = vals(t)

    def check(out, golden32, golden_scalar_bf16):
        if dtype == ttnn.float32:
            assert_f32_equal(vals(out), golden32)
        else:  # binary_ng packs the scalar as bf16 next to a bf16 tensor
            assert_bf16_close(vals(out), golden_scalar_bf16)

    q = torch.tensor(0.1).to(torch.bfloat16).double().item()
    check(ttnn.multiply(t, 0.1), xv * 0.1, xv.double() * q)
    check(ttnn.add(t, 0.1), xv + 0.1, xv.double() + q)
    check(ttnn.subtract(1.5, t), 1.5 - xv, 1.5 - xv.double())
    check(ttnn.rsub(t, 0.1), 0.1 - xv, q - xv.double())
    check(1.5 - t, 1.5 - xv, 1.5 - xv.double())  # Tensor.__rsub__ -> ttnn.rsub
    check(t * 2 + 1, xv * 2 + 1, xv.double() * 2 + 1)
    check(ttnn.divide(t, 4), xv / 4, xv.double() / 4)
    check(ttnn.maximum(t, 0.25), torch.clamp_min(xv, 0.25), torch.clamp_min(xv.double(), 0.25))
    check(t > 0.5, (xv > 0.5).float(), (xv > 0.5).double())
    check(ttnn.pow(t, 2), xv**2, xv.double() ** 2)
    check(ttnn.pow(2.0, t), 2.0**xv, 2.0 ** xv.double())
    check(t**3, xv**3, xv.double() ** 3)
    assert ttnn.multiply(t, 0.1).shape == [64, 64]


def test_scalar_operand_errors(device):
    t = dev(device, torch.randn(32, 32))
    with pytest.raises(
        SpecError, match="ttnn.add: argument 'input_tensor_b' must be a ttnn.Tensor or a number, got str"
    ):
        ttnn.add(t, "1")
    with pytest.raises(
        SpecError, match="ttnn.add: one of 'input_tensor_a' and 'input_tensor_b' must be a ttnn.Tensor"
    ):
        ttnn.add(1.0, 2.0)
    with pytest.raises(
        SpecError, match="ttnn.maximum: argument 'input_tensor_a' must be a ttnn.Tensor, got float"
    ):
        ttnn.maximum(1.0, t)
    with pytest.raises(
        SpecError,
        match="ttnn.add: argument 'input_tensor_b' must be a ttnn.Tensor or a number, got a torch.Tensor",
    ):
        ttnn.add(t, torch.ones(32, 32))


def test_fused_activations(device):
    p, g, h = torch.randn(64, 64), torch.randn(64, 64), torch.randn(64, 64)
    tp, tg, th = dev(device, p), dev(device, g), dev(device, h)
    assert_f32_equal(
        vals(ttnn.multiply(tp, tg, input_tensor_b_activations=[U.SIGMOID])), p * torch.sigmoid(g)
    )
    assert_f32_equal(vals(ttnn.multiply(th, tg, input_tensor_b_activations=[U.EXP])), h * torch.exp(g))
    assert_f32_equal(vals(ttnn.subtract(tp, tg, activations=[ttnn.UnaryWithParam(U.ABS)])), (p - g).abs())
    assert_f32_equal(vals(ttnn.add(tp, tg, activations=["relu"])), torch.relu(p + g))
    assert_f32_equal(
        vals(ttnn.multiply(tp, tg, input_tensor_a_activations=[U.SILU], activations=[U.NEG])),
        -(F.silu(p) * g),
    )
    assert_f32_equal(vals(ttnn.add(tp, 1.0, input_tensor_b_activations=[U.EXP])), p + math.exp(1.0))
    # bf16: the activated operand is packed back to bf16 before the multiply, then the product rounds once
    bp, bg = dev(device, p, ttnn.bfloat16), dev(device, g, ttnn.bfloat16)
    out = vals(ttnn.multiply(bp, bg, input_tensor_b_activations=[U.SIGMOID]))
    pv, gv = vals(bp), vals(bg)
    assert torch.equal(out, (pv * torch.sigmoid(gv).bfloat16().float()).bfloat16().float())
    assert_bf16_close(out, pv.double() * torch.sigmoid(gv.double()))
    # in place, as in tt-boltz: p *= sigmoid(g)
    r = ttnn.multiply_(bp, bg, input_tensor_b_activations=[U.SIGMOID])
    assert r is bp and torch.equal(vals(bp), out)


def test_fused_activation_errors(device):
    t = dev(device, torch.randn(32, 32))
    with pytest.raises(SpecError, match="ttnn.multiply: argument 'activations': unknown activation 'swish'"):
        ttnn.multiply(t, t, activations=["swish"])
    with pytest.raises(SpecError, match="ttnn.add: argument 'input_tensor_b_activations' must be a string"):
        ttnn.add(t, t, input_tensor_b_activations=[3])


def test_binary_cost_counts_activations(device):
    op = ttnn.multiply
    s = dev(device, torch.randn(64, 64)).spec
    args = {
        "input_tensor_a": s,
        "input_tensor_b": s,
        "activations": [U.RELU],
        "input_tensor_b_activations": [U.SIGMOID, U.EXP],
    }
    c = op.cost_rule(CostCtx(op, {"input_tensor_a": s, "input_tensor_b": s}, [s], args))
    assert c.flops == 64 * 64 * 4 and c.launches == 1
    assert c.dram_bytes == 3 * s.nbytes


def test_inplace_writes_into_a(device):
    a, b = torch.randn(64, 64), torch.randn(1, 64)
    ta, tb = dev(device, a, ttnn.bfloat16), dev(device, b, ttnn.bfloat16)
    av, bv = vals(ta), vals(tb)
    rep = ttfuse.sim.memory_report(device)
    used = rep.dram_bytes
    rep.reset_peak()
    with ttfuse.sim.count_launches(device) as launches:
        r1 = ttnn.add_(ta, tb)
        r2 = ttnn.multiply_(ta, 2.0)
        r3 = ttnn.subtract_(ta, tb, activations=[U.RELU])
        r4 = ttnn.divide_(ta, 4.0)
        r5 = ttnn.rsub_(ta, 1.0)
    assert r1 is ta and r2 is ta and r3 is ta and r4 is ta and r5 is ta
    assert rep.dram_bytes == used and rep.peak_dram_bytes == used  # no new allocation
    assert launches.total == 5
    check_spec(ta, (64, 64), ttnn.bfloat16)
    g = (av + bv).bfloat16().float()
    g = (g * 2).bfloat16().float()
    g = torch.relu(g - bv).bfloat16().float()
    g = (g / 4).bfloat16().float()
    g = (1 - g).bfloat16().float()
    assert torch.equal(vals(ta), g)


def test_inplace_errors(device):
    ta, tb = dev(device, torch.randn(1, 64)), dev(device, torch.randn(64, 64))
    with pytest.raises(
        SpecError, match=r"ttnn.add_: in-place result shape \[64, 64\] differs from 'input_tensor_a'"
    ):
        ttnn.add_(ta, tb)
    with pytest.raises(SpecError, match=r"ttnn.multiply_: in-place result shape .* 'input_a'"):
        ttnn.multiply_(ta, tb)
    with pytest.raises(SpecError, match="ttnn.multiply_: got an unexpected keyword argument 'dtype'"):
        ttnn.multiply_(tb, ta, dtype=ttnn.bfloat16)


def test_binary_dtype_rules(device):
    f, b = dev(device, torch.randn(32, 64)), dev(device, torch.randn(32, 64), ttnn.bfloat16)
    i = dev(device, torch.randint(-5, 5, (32, 64), dtype=torch.int32), ttnn.int32)
    check_spec(ttnn.add(b, f), (32, 64), ttnn.bfloat16)  # a mixed float pair follows a
    check_spec(ttnn.add(f, b), (32, 64), ttnn.float32)
    check_spec(ttnn.multiply(b, b, dtype=ttnn.float32), (32, 64), ttnn.float32)
    check_spec(ttnn.add(i, b), (32, 64), ttnn.bfloat16)  # int32 is typecast to the float operand's dtype
    check_spec(ttnn.gt(i, 0), (32, 64), ttnn.int32)
    iv = ttnn.to_torch(i).long()
    assert torch.equal(ttnn.to_torch(ttnn.add(i, i)).long(), iv + iv)
    assert torch.equal(ttnn.to_torch(ttnn.gt(i, 0)).long(), (iv > 0).long())
    q = ttnn.divide(i, dev(device, torch.full((32, 64), 2, dtype=torch.int32), ttnn.int32))
    check_spec(q, (32, 64), ttnn.float32)  # integer true division yields float32
    assert torch.equal(vals(q), iv.float() / 2)
    u = dev(device, torch.randint(0, 5, (32, 64), dtype=torch.int32), ttnn.uint16)
    with pytest.raises(
        SpecError,
        match=r"ttnn.add: dtypes of 'input_tensor_a' \(uint16\) and 'input_tensor_b' "
        r"\(bfloat16\) must match",
    ):
        ttnn.add(u, b)
    with pytest.raises(SpecError, match="ttnn.pow: argument 'input_tensor' has dtype int32; supported: "):
        ttnn.pow(i, 2)
    with pytest.raises(SpecError, match="ttnn.add: argument 'dtype' must be a ttnn.DataType"):
        ttnn.add(f, f, dtype="bfloat16")
    rm = dev(device, torch.randn(32, 64), layout=ttnn.ROW_MAJOR_LAYOUT)
    with pytest.raises(SpecError, match="ttnn.add: output dtype ttnn.bfloat8_b needs TILE layout"):
        ttnn.add(rm, rm, dtype=ttnn.bfloat8_b)
    check_spec(ttnn.add(rm, f), (32, 64), ttnn.float32, layout=ttnn.ROW_MAJOR_LAYOUT)


def test_divide_rounding_modes(device):
    a, b = torch.randn(32, 64) * 10, torch.randn(32, 64) + 3
    ta, tb = dev(device, a), dev(device, b)
    assert_f32_equal(vals(ttnn.divide(ta, tb, rounding_mode="floor")), torch.floor(a / b))
    assert_f32_equal(vals(ttnn.divide(ta, tb, rounding_mode="trunc")), torch.trunc(a / b))
    assert_f32_equal(vals(ttnn.divide(2.0, tb)), 2.0 / b)
    with pytest.raises(
        SpecError, match="ttnn.divide: argument 'rounding_mode' must be None, 'floor' or 'trunc'"
    ):
        ttnn.divide(ta, tb, rounding_mode="round")


def test_binary_host_deallocated_output_tensor(device):
    t = dev(device, torch.randn(32, 32))
    host = ttnn.from_torch(torch.randn(32, 32), dtype=ttnn.float32, layout=ttnn.TILE_LAYOUT)
    with pytest.raises(SpecError, match="ttnn.multiply: argument 'input_tensor_b' is on the host"):
        ttnn.multiply(t, host)
    with pytest.raises(
        DeviceError, match="ttnn.add: argument 'output_tensor' \\(a preallocated output\\) is on the host"
    ):
        ttnn.add(t, t, output_tensor=host)
    gone = dev(device, torch.randn(32, 32))
    ttnn.deallocate(gone)
    with pytest.raises(
        DeviceError, match="ttnn.add: argument 'output_tensor' \\(a preallocated output\\) is deallocated"
    ):
        ttnn.add(t, t, output_tensor=gone)
    with pytest.raises(SpecError, match="ttnn.add: got an unexpected keyword argument 'use_legacy'"):
        ttnn.add(t, t, use_legacy=False)  # not a keyword of ttnn 0.81.1
    d = dev(device, torch.randn(32, 32))
    ttnn.deallocate(d)
    with pytest.raises(DeviceError, match="ttnn.subtract: argument 'input_tensor_b' was deallocated"):
        ttnn.subtract(t, d)


def test_eltwise_chain_matches_torch(device):
    """The sim's eltwise chain computes what torch computes in float32 (its speed: bench/test_eltwise_bench.py)."""
    x = torch.randn(256, 512)
    t = dev(device, x)
    y = ttnn.multiply(t, 0.5)
    y = ttnn.add(y, t)
    y = ttnn.exp(y)
    y = ttnn.multiply(y, t, input_tensor_b_activations=[U.SIGMOID])
    y = ttnn.subtract(y, 1.0)
    assert_f32_equal(vals(y), torch.exp(x * 0.5 + x) * torch.sigmoid(x) - 1.0)


# ------------------------------------------------------------------------------------------------ ternary
@pytest.mark.parametrize("dtype", [ttnn.float32, ttnn.bfloat16])
def test_addcmul(device, dtype):
    a, b, c = torch.randn(64, 64), torch.randn(1, 64), torch.randn(64, 1)
    ta, tb, tc = (dev(device, v, dtype) for v in (a, b, c))
    with ttfuse.sim.count_launches(device) as launches:
        y = ttnn.addcmul(ta, tb, tc, value=0.5)
    check_spec(y, (64, 64), dtype)
    assert launches.by_op == {"addcmul": 1}
    av, bv, cv = vals(ta), vals(tb), vals(tc)
    if dtype == ttnn.float32:
        assert_f32_equal(vals(y), torch.addcmul(av, bv, cv, value=0.5))
    else:
        assert_bf16_close(vals(y), av.double() + 0.5 * bv.double() * cv.double())
    with pytest.raises(SpecError, match="ttnn.addcmul: argument 'input_c' must be a ttnn.Tensor, got float"):
        ttnn.addcmul(ta, tb, 2.0)
    with pytest.raises(SpecError, match="ttnn.addcmul: argument 'input_b' must be in TILE layout"):
        ttnn.addcmul(ta, dev(device, b, layout=ttnn.ROW_MAJOR_LAYOUT), tc)
    with pytest.raises(
        SpecError, match=r"ttnn.addcmul: shapes of 'input_a' x 'input_b' \[64, 64\] and 'input_c' "
    ):
        ttnn.addcmul(ta, tb, dev(device, torch.randn(3, 1)))


@pytest.mark.parametrize("dtype", [ttnn.float32, ttnn.bfloat16])
def test_where(device, dtype):
    cond = (torch.randn(64, 64) > 0).float()
    x, y = torch.randn(64, 64), torch.randn(1, 64)
    tc, tx, ty = dev(device, cond, dtype), dev(device, x, dtype), dev(device, y, dtype)
    xv, yv = vals(tx), vals(ty)
    out = ttnn.where(tc, tx, ty)
    check_spec(out, (64, 64), dtype)
    assert torch.equal(vals(out), torch.where(cond != 0, xv, yv))
    assert torch.equal(vals(ttnn.where(tc, 1.0, ty)), torch.where(cond != 0, 1.0, yv.expand(64, 64)))
    scal = vals(ttnn.where(tc, 0.5, -2.0))
    assert torch.equal(scal, torch.where(cond != 0, 0.5, -2.0))
    check_spec(ttnn.where(dev(device, cond, ttnn.bfloat16), dev(device, x), 0.0), (64, 64), ttnn.float32)
    with pytest.raises(SpecError, match="ttnn.where: argument 'predicate' must be a ttnn.Tensor, got float"):
        ttnn.where(1.0, tx, ty)
    with pytest.raises(
        SpecError, match="ttnn.where: argument 'true_value' must be a ttnn.Tensor or a number, got str"
    ):
        ttnn.where(tc, "a", ty)


def test_lerp(device):
    a, b, w = torch.randn(64, 64), torch.randn(64, 64), torch.rand(64, 64)
    ta, tb, tw = dev(device, a), dev(device, b), dev(device, w)
    assert_f32_equal(vals(ttnn.lerp(ta, tb, tw)), torch.lerp(a, b, w))
    assert_f32_equal(vals(ttnn.lerp(ta, tb, 0.25)), torch.lerp(a, b, 0.25))
    ba, bb = dev(device, a, ttnn.bfloat16), dev(device, b, ttnn.bfloat16)
    assert_bf16_close(vals(ttnn.lerp(ba, bb, 0.75)), torch.lerp(vals(ba).double(), vals(bb).double(), 0.75))
    with pytest.raises(
        SpecError, match="ttnn.lerp: argument 'end' has dtype bfloat16 but 'input' has float32"
    ):
        ttnn.lerp(ta, bb, 0.5)


def test_enums_round_trip_json():
    from ttfuse.types import from_json_value, to_json_value

    for v in (ttnn.GeluVariant.Tanh, ttnn.SigmoidMode.AccurateWithFastExp):
        assert from_json_value(to_json_value(v)) is v
