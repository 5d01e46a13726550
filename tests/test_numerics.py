"""ttfuse.numerics against independent float64 references of each format's definition.

No ttnn needed: the references below are per-value / per-block Python written from the format
definitions (frexp, exact float64 scaling, Python's half-to-even `round`), not from the vectorised
bit tricks they check. The facts they encode were established against ttnn 0.81.1
(conformance/FINDINGS.md); tests/conformance re-checks them against the real wheel.
"""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ttfuse import numerics
from ttfuse.numerics import round_bf16, round_bfp, round_to_dtype

CANONICAL_NAN = 0x7FC00000


def bits_of(x: float) -> int:
    return struct.unpack("<I", struct.pack("<f", x))[0]


def float_of(u: int) -> float:
    return struct.unpack("<f", struct.pack("<I", u & 0xFFFFFFFF))[0]


def to_f32_bits(v: float) -> int:
    """float64 value (exactly representable in float32, or beyond its range) -> float32 bits."""
    if abs(v) >= 2.0**128:
        v = math.copysign(math.inf, v)
    return bits_of(v)


def sim_bits(fn, values_bits: np.ndarray, *args) -> np.ndarray:
    x = torch.from_numpy(np.asarray(values_bits, dtype=np.uint32).view(np.float32).copy())
    return fn(x, *args).numpy().view(np.uint32)


# --- bfloat16 reference ------------------------------------------------------------------------


def ref_bf16(u: int) -> int:
    """Nearest bfloat16 (8 significant bits, exponent range of float32), ties to even."""
    v = float_of(u)
    if math.isnan(v):
        return CANONICAL_NAN
    if math.isinf(v) or v == 0.0:
        return u
    _, e = math.frexp(v)  # v = m * 2**e with 0.5 <= |m| < 1
    quantum = 2.0 ** max(e - 8, -133)  # subnormals keep the quantum of 2**-126 * 2**-7
    r = round(v / quantum) * quantum  # exact in float64; round() is half-to-even
    return to_f32_bits(math.copysign(abs(r), v))


# fmt: off
BF16_HARD = [
    0x3F808000, 0x3F818000, 0x3F808001, 0x3F80FFFF, 0xBF808000, 0xBF818000,  # ties and neighbours
    0x7F7FFFFF, 0xFF7FFFFF, 0x7F7F7FFF, 0x7F7F8000,  # overflow to inf / stays finite
    0x7F800000, 0xFF800000, 0x00000000, 0x80000000,  # inf, signed zero
    0x00000001, 0x00008000, 0x00018000, 0x807FFFFF, 0x80008001, 0x00800000,  # subnormals
    0x7FC00000, 0x7FC00001, 0x7F800001, 0x7FFFFFFF, 0xFFC00000, 0xFF800001, 0x7FA00000,  # NaNs
]
# fmt: on


def test_bf16_hard_values():
    got = sim_bits(round_bf16, np.array(BF16_HARD))
    want = [ref_bf16(u) for u in BF16_HARD]
    assert [hex(g) for g in got] == [hex(w) for w in want]


def test_bf16_known_ttnn_results():
    # facts observed on ttnn 0.81.1
    cases = {0x3F808000: 0x3F800000, 0x3F818000: 0x3F820000, 0x7F7FFFFF: 0x7F800000,
             0x00018000: 0x00020000, 0x807FFFFF: 0x80800000, 0xFFC00000: CANONICAL_NAN,
             0x7F800001: CANONICAL_NAN, 0x80000000: 0x80000000}  # fmt: skip
    got = sim_bits(round_bf16, np.array(list(cases)))
    assert [hex(g) for g in got] == [hex(w) for w in cases.values()]


def test_bf16_random_bits_match_reference():
    rng = np.random.default_rng(0)
    u = rng.integers(0, 2**32, 20000, dtype=np.uint64).astype(np.uint32)
    got = sim_bits(round_bf16, u)
    want = np.array([ref_bf16(int(v)) for v in u], dtype=np.uint32)
    np.testing.assert_array_equal(got, want)


def test_bf16_many_chunks_match_integer_rounding():
    """Several staging-buffer chunks of random bit patterns (NaNs, infs, subnormals included) against the
    integer algorithm in numpy: add 0x7FFF plus the kept half's lowest bit, clear the low half."""
    rng = np.random.default_rng(1)
    u = rng.integers(0, 2**32, numerics._CHUNK * 3 + 1001, dtype=np.uint64)
    want = ((u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000).astype(np.uint32)
    u = u.astype(np.uint32)
    nan = ((u & 0x7F800000) == 0x7F800000) & ((u & 0x007FFFFF) != 0)
    want[nan] = CANONICAL_NAN
    np.testing.assert_array_equal(sim_bits(round_bf16, u), want)
    y = torch.from_numpy(u.view(np.float32).copy())
    assert round_bf16(y, inplace=True) is y
    np.testing.assert_array_equal(y.numpy().view(np.uint32), want)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_bf16_property(u):
    assert int(sim_bits(round_bf16, np.array([u]))[0]) == ref_bf16(u)


def test_bf16_inplace_dtypes_and_shapes():
    x = torch.randn(3, 5, 7)
    want = round_bf16(x)
    assert want.shape == x.shape and want.dtype == torch.float32
    assert not torch.equal(want, x)  # the input was left alone
    y = x.clone()
    assert round_bf16(y, inplace=True) is y and torch.equal(y, want)
    assert torch.equal(round_bf16(x.transpose(0, 2)), want.transpose(0, 2))  # non-contiguous input
    assert torch.equal(round_bf16(x.double()), want)  # other dtypes convert first
    assert round_bf16(torch.empty(0, 4)).shape == (0, 4)
    assert round_bf16(torch.tensor(1.00390625)).item() == 1.0  # rank 0, tie to even
    big = torch.randn(numerics._CHUNK * 2 + 77)  # several chunks, a ragged last one
    assert torch.equal(round_bf16(big), big.bfloat16().float())


# --- block float reference ----------------------------------------------------------------------


def _biased_exponent(u: int) -> int:
    v = float_of(u)
    if math.isnan(v) or math.isinf(v):
        return 255
    if abs(v) < 2.0**-126:  # zero or subnormal: exponent field 0
        return 0
    return math.frexp(v)[1] + 126


def ref_bfp_block(block: list[int], mbits: int) -> list[int]:
    """One block of at most 16 values (float32 bits) -> ttnn's decoded float32 bits."""
    shared = max(_biased_exponent(u) for u in block)
    shift = 24 - mbits  # significand bits dropped by rounding
    out = []
    for u in block:
        v = float_of(u)
        e = _biased_exponent(u)
        if e == 0:
            out.append(0)
            continue
        if e == 255:  # inf/NaN: no float arithmetic; the 24-bit significand is the integer part
            aligned = (u & 0x7FFFFF) | 0x800000
        else:  # |v| in units of 2**(shared-150), truncated: the packer shifts bits out
            aligned = math.floor(abs(v) / 2.0 ** (shared - 150))
        q = min(round(aligned / 2.0**shift), 2**mbits - 1)  # half-to-even, then saturate
        negative = (u >> 31) == 1
        if q == 0:
            out.append(0)
        elif shared == 255 and q >= 2 ** (mbits - 1):  # decodes with exponent field 255
            out.append((negative << 31) | 0x7F800000 | ((q - 2 ** (mbits - 1)) << (24 - mbits)))
        else:
            value = q * 2.0 ** (shared - 127 - (mbits - 1))
            out.append(to_f32_bits(-value if negative else value))
    return out


def ref_bfp(x_bits: np.ndarray, mbits: int) -> np.ndarray:
    """Apply `ref_bfp_block` to every 16-value block along the last dim (ragged tail included)."""
    rows = x_bits.reshape(-1, x_bits.shape[-1] if x_bits.ndim else 1)
    out = np.zeros_like(rows)
    for r in range(rows.shape[0]):
        for c in range(0, rows.shape[1], 16):
            out[r, c : c + 16] = ref_bfp_block([int(u) for u in rows[r, c : c + 16]], mbits)
    return out.reshape(x_bits.shape)


def f32(bits: list[int]) -> np.ndarray:
    """A block given by float32 bit patterns (kept exactly: NaN payloads survive)."""
    return np.array(bits, dtype=np.uint32)


def as_bits(block) -> np.ndarray:
    if isinstance(block, np.ndarray) and block.dtype == np.uint32:
        return block
    return np.array(block, dtype=np.float32).view(np.uint32)


HARD_BLOCKS = [
    [1.0, 1 + 2**-7, 1 + 2**-8, 1 + 3 * 2**-8, 2 - 2**-9, 2 - 2**-8, -(2 - 2**-9)],  # ties, saturation
    [1.0, 2**-6 + 2**-14, 2**-7, 2**-8, -(2**-7), -(2**-8), 2**-30, -(2**-30)],  # small next to 1
    f32([0x3F800000, 0x3C000001, 0x3C000000, 0x3C400001, 0x3D000001, 0xBC000001]),  # truncation
    [-0.0, 0.0, -1e-30, 1.0],
    f32([0x00000001, 0x00400000, 0x007FFFFF, 0x80000001]),  # subnormals only
    f32([0x00400000, 0x00800000, 0x80C00000, 0x01000000]),
    [math.inf, 1.0, -3.0],
    [-math.inf, 1.0],
    [math.inf, 3.4e38, -3.3e38, 1.0, 2.0**126],  # finite values rounding up into the inf encoding
    f32([0x7FC00000, 0x7FC00001, 0xFF800000, 0x3F800000]),
    f32([0x7F800001, 0xFFC00000, 0xFF800001, 0x7FA00000, 0x7FF00000, 0x7F810000, 0x7FBF0000, 0x7FFFFFFF]),
    [3e38, 1.0, 1e-38, -3.4e38],
    f32([0x7F7FFFFF, 0xFF7FFFFF, 0x7F000000, 0x7E800000, 0x7E7FFFFF]),
    [1e30, 1e-30, 1.0],
    [1.0] * 16,
    [1 + 2**-7 + 2**-17, 1 + 2**-3 + 2**-17, 1 + 2**-4 + 2**-17],
    [6e-39, 3e-38, -2e-38, 1.2e-38],  # shared exponent below the fast path
    [2.0**-103, 1.5 * 2.0**-104, -(2.0**-110), 2.0**-125],
]


@pytest.mark.parametrize("mbits", [7, 3])
@pytest.mark.parametrize("i", range(len(HARD_BLOCKS)))
def test_bfp_hard_blocks(mbits, i):
    x = as_bits(HARD_BLOCKS[i])
    got = sim_bits(round_bfp, x, mbits)
    want = ref_bfp(x, mbits)
    assert [hex(g) for g in got] == [hex(w) for w in want]


def test_bfp_known_ttnn_results():
    # facts observed on ttnn 0.81.1, bfloat8_b (7 bits) then bfloat4_b (3 bits)
    def one(block, mbits):
        return [hex(b) for b in sim_bits(round_bfp, as_bits(block), mbits)]

    assert one([1.998046875], 7) == ["0x3ffe0000"]  # saturates at 1.984375, no exponent bump
    assert one(f32([0x3F800000, 0x3C000001]), 7) == ["0x3f800000", "0x0"]  # truncate, then tie -> even
    assert one([1.0 + 2**-7 + 2**-17], 7) == ["0x3f820000"]  # no double rounding through bf16
    assert one([1.0, -(2**-8)], 7) == ["0x3f800000", "0x0"]  # -tiny -> +0.0
    assert one(f32([0x00400000, 0x00800000]), 7) == ["0x0", "0x800000"]  # subnormal flushed
    assert one(f32([0x7F800001, 0x3F800000]), 7) == ["0x7f800000", "0x0"]  # sNaN rounds to inf
    assert one(f32([0xFFC00000]), 3) == ["0xffc00000"]  # NaN keeps its sign
    assert one(f32([0x7FF00000]), 3) == ["0x7fe00000"]  # NaN payload rounded and saturated
    assert one([100.0], 3) == ["0x42c00000"]  # 100 -> 96 in bfp4


SHAPES = [(1,), (5,), (16,), (17,), (3, 40), (2, 3, 33), (2, 2, 3, 20), (1, 1, 1, 48)]


def _dist(rng: np.random.Generator, shape, kind: str) -> np.ndarray:
    if kind == "normal":
        return rng.normal(0, 1, shape)
    if kind == "wide":
        return np.where(rng.random(shape) < 0.5, -1, 1) * 10.0 ** rng.uniform(-44, 38, shape)
    if kind == "bits":
        return rng.integers(0, 2**32, shape, dtype=np.uint64).astype(np.uint32).view(np.float32)
    raise AssertionError(kind)


@pytest.mark.parametrize("mbits", [7, 3])
@pytest.mark.parametrize("kind", ["normal", "wide", "bits"])
def test_bfp_random_matches_reference(mbits, kind):
    rng = np.random.default_rng(mbits * 10 + len(kind))
    for shape in SHAPES:
        x = np.asarray(_dist(rng, shape, kind), dtype=np.float32).view(np.uint32)
        np.testing.assert_array_equal(sim_bits(round_bfp, x, mbits), ref_bfp(x, mbits), err_msg=f"{shape}")


def test_bfp_fast_path_equals_integer_path():
    # every shared exponent 0..255, exponents spread within blocks, random mantissas and signs
    rng = np.random.default_rng(3)
    shared = np.repeat(np.arange(256), 40)[:, None]
    e = np.clip(shared - rng.integers(0, 30, (shared.size, 16)), 0, 255).astype(np.uint32)
    u = rng.integers(0, 2**32, e.shape, dtype=np.uint64).astype(np.uint32) & np.uint32(0x807FFFFF)
    u |= e << np.uint32(23)
    x = torch.from_numpy(u.view(np.float32).copy())
    for mbits in (7, 3):
        exact = numerics._bfp_blocks_exact(x.view(torch.int32), mbits)
        assert torch.equal(round_bfp(x, mbits).view(torch.int32), exact.view(torch.int32))


def test_bfp_blocks_are_16_along_last_dim():
    x = torch.full((2, 48), 1.0)
    x[0, 16] = 1000.0  # only the second block of row 0 sees the big value
    y = round_bfp(x, 7)
    assert (y[0, :16] == 1.0).all() and (y[1] == 1.0).all() and (y[0, 32:] == 1.0).all()
    assert (y[0, 17:32] == 0.0).all()
    # a ragged tail is its own (zero-padded) block; leading dims never mix
    z = round_bfp(torch.tensor([[1.0] * 16 + [1e-3]]), 7)
    assert z[0, 16].item() == pytest.approx(1e-3, rel=2**-6) and z[0, 16].item() != 0.0


def test_bfp_inplace_idempotent_and_shapes():
    x = torch.randn(3, 50) * 10
    for mbits in (7, 3):
        y = round_bfp(x, mbits)
        assert y.shape == x.shape and y.is_contiguous()
        assert torch.equal(round_bfp(y, mbits), y)  # representable values are fixed points
        z = x.clone()
        assert round_bfp(z, mbits, inplace=True) is z and torch.equal(z, y)
        assert torch.equal(round_bfp(x.t().contiguous().t(), mbits), y)
    assert round_bfp(torch.empty(0), 7).shape == (0,)
    assert round_bfp(torch.tensor(3.3), 7).item() == round_bfp(torch.tensor([3.3]), 7).item()
    with pytest.raises(ValueError):
        round_bfp(x, 0)


def test_bfp_many_chunks():
    x = torch.randn(numerics._CHUNK // 8 + 3, 16 * 9 + 5)  # ragged, more than one chunk of blocks
    x[5, :16] = float("inf")
    x[7, 3] = 1e-39
    u = x.numpy().view(np.uint32)
    rows = [0, 5, 7, x.shape[0] - 1]
    got = round_bfp(x, 7).numpy().view(np.uint32)
    np.testing.assert_array_equal(got[rows], ref_bfp(u[rows], 7))


# --- dispatcher and integers --------------------------------------------------------------------


def test_round_to_dtype_dispatch():
    x = torch.randn(4, 20)
    assert round_to_dtype(x, "float32") is x
    assert torch.equal(round_to_dtype(x, "bfloat16"), round_bf16(x))
    assert torch.equal(round_to_dtype(x, "bfloat8_b"), round_bfp(x, 7))
    assert torch.equal(round_to_dtype(x, "bfloat4_b"), round_bfp(x, 3))
    assert round_to_dtype(torch.arange(3), "bfloat16").dtype == torch.float32
    y = x.clone()
    assert round_to_dtype(y, "bfloat8_b", inplace=True) is y
    with pytest.raises(ValueError, match="unknown dtype"):
        round_to_dtype(x, "float16")
    assert set(numerics.DTYPE_NAMES) == {"float32", "bfloat16", "bfloat8_b", "bfloat4_b",
                                         "int32", "uint32", "uint16", "uint8"}  # fmt: skip


NAN, INF = math.nan, math.inf
INT_CASES = {
    # value: (int32, uint32, uint16, uint8) as ttnn 0.81.1 stores them (its vectorised loop)
    1.5: (1, 1, 1, 1),
    -1.5: (-1, 2**32 - 1, 0, 0),
    -2.7: (-2, 2**32 - 2, 0, 0),
    300.0: (300, 300, 300, 255),
    70000.0: (70000, 70000, 65535, 255),
    3e9: (-(2**31), 3000000000, 0, 0),
    5e9: (-(2**31), 2**31, 0, 0),
    -3e9: (-(2**31), 2**31, 0, 0),
    -(2.0**31): (-(2**31), 2**31, 0, 0),
    NAN: (-(2**31), 2**31, 0, 0),
    INF: (-(2**31), 2**31, 0, 0),
    -INF: (-(2**31), 2**31, 0, 0),
    -0.0: (0, 0, 0, 0),
}


@pytest.mark.parametrize("k, name", list(enumerate(["int32", "uint32", "uint16", "uint8"])))
def test_float_to_int(k, name):
    x = torch.tensor(list(INT_CASES), dtype=torch.float32)
    got = round_to_dtype(x, name)
    assert got.dtype == torch.int64
    assert got.tolist() == [v[k] for v in INT_CASES.values()]


def test_int_to_int_wraps():
    x = torch.tensor([300, -1, 70000, 2**40, -(2**31) - 1], dtype=torch.int64)
    assert round_to_dtype(x, "int32").tolist() == [300, -1, 70000, 0, 2**31 - 1]
    assert round_to_dtype(x, "uint32").tolist() == [300, 2**32 - 1, 70000, 0, 2**31 - 1]
    assert round_to_dtype(x, "uint16").tolist() == [300, 65535, 4464, 0, 65535]
    assert round_to_dtype(x, "uint8").tolist() == [44, 255, 112, 0, 255]
