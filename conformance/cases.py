"""Deterministic inputs for the data-format conformance tests (numpy only).

`random_cases()` spans distributions and scales (normal, uniform, wide log-normal, tiny and huge,
random bit patterns with subnormals/inf/NaN, values sitting exactly on rounding ties, sparse with
signed zeros) over shapes of rank 1-4, aligned and not. `hard_cases()` are hand-made blocks for the
corners of the block-float algorithm. `int_cases()` cover the float -> integer conversions.
Each case is a `Case(label, x, dtype, layout)`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FLOAT_FORMATS = ("bfloat16", "bfloat8_b", "bfloat4_b")
# fmt: off
SHAPES = [(1,), (7,), (100,), (32, 32), (3, 17), (5, 48), (2, 33, 65), (1, 64, 96), (2, 3, 5, 31), (2, 2, 32, 40)]
# fmt: on


@dataclass(frozen=True)
class Case:
    label: str
    x: np.ndarray
    dtype: str
    layout: str | None = None


def f32(bits: list[int] | np.ndarray) -> np.ndarray:
    """float32 values from their bit patterns."""
    return np.asarray(bits, dtype=np.uint64).astype(np.uint32).view(np.float32)


def _signs(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return np.where(rng.random(shape) < 0.5, -1.0, 1.0)


def _random_bits(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.integers(0, 2**32, size=shape, dtype=np.uint64).astype(np.uint32).view(np.float32)


def _ties(rng: np.random.Generator, shape: tuple[int, ...], keep_bits: int) -> np.ndarray:
    """Values exactly halfway between two values with ``keep_bits`` fraction bits (plus noise)."""
    u = rng.integers(0, 2**32, size=shape, dtype=np.uint64).astype(np.uint32)
    u = (u & np.uint32(0x807FFFFF)) | (rng.integers(100, 150, size=shape).astype(np.uint32) << np.uint32(23))
    low = np.uint32(1 << (22 - keep_bits))  # the bit just below the kept ones
    u = (u & ~np.uint32(2 * low - 1)) | low  # exact tie
    nudge = rng.integers(-1, 2, size=shape).astype(np.int64)  # some one ulp either side
    return (u.astype(np.int64) + nudge * (rng.random(shape) < 0.3)).astype(np.uint32).view(np.float32)


def _distributions(rng: np.random.Generator, shape: tuple[int, ...]) -> dict[str, np.ndarray]:
    with np.errstate(over="ignore"):
        wide = _signs(rng, shape) * np.exp(rng.normal(0.0, 12.0, shape))
    return {
        "normal": rng.normal(0.0, 1.0, shape),
        "normal_1e-3": rng.normal(0.0, 1e-3, shape),
        "normal_1e4": rng.normal(0.0, 1e4, shape),
        "uniform": rng.uniform(-1.0, 1.0, shape),
        "lognormal_wide": wide,
        "huge_tiny": _signs(rng, shape) * 10.0 ** rng.uniform(-45, 38.5, shape),
        "random_bits": _random_bits(rng, shape),
        "ties_bf16": _ties(rng, shape, 7),
        "ties_bfp8": _ties(rng, shape, 6),
        "sparse_signed_zero": np.where(rng.random(shape) < 0.7, -0.0, rng.normal(0, 1, shape)),
    }


def random_cases(seed: int = 20251121) -> list[Case]:
    """Every distribution x shape x float format (plus float32 identity and a TILE bfloat16)."""
    rng = np.random.default_rng(seed)
    cases = []
    for shape in SHAPES:
        for dist, x in _distributions(rng, shape).items():
            x = np.asarray(x, dtype=np.float32)
            for fmt in FLOAT_FORMATS:
                cases.append(Case(f"{fmt}/{dist}/{shape}", x, fmt))
    big = rng.normal(0, 1, (4, 256, 320)).astype(np.float32)
    cases += [Case(f"{fmt}/normal/{big.shape}", big, fmt) for fmt in FLOAT_FORMATS]
    bits = _random_bits(rng, (64, 64))
    cases.append(Case("float32/random_bits", bits, "float32"))
    cases.append(Case("bfloat16/random_bits/TILE", bits, "bfloat16", "TILE"))
    return cases


def hard_blocks() -> list[np.ndarray]:
    """Rows of at most 16 values (one block each) at the corners of the block-float algorithm."""
    one = 1.0
    return [
        # ties, saturation
        np.array([one, one + 2**-7, one + 2**-8, one + 3 * 2**-8, 2 - 2**-9, 2 - 2**-8, -(2 - 2**-9)]),
        # tiny next to 1
        np.array([one, 2**-6 + 2**-14, 2**-7, 2**-8, -(2**-7), -(2**-8), 2**-30, -(2**-30)]),
        # truncation before RNE
        f32([0x3F800000, 0x3C000001, 0x3C000000, 0x3C400001, 0x3D000001, 0xBC000001]),
        np.array([-0.0, 0.0, -1e-30, one]),  # signed zeros
        f32([0x00000001, 0x00400000, 0x007FFFFF, 0x80000001]),  # only subnormals
        f32([0x00400000, 0x00800000, 0x80C00000, 0x01000000]),  # subnormal next to min normal
        np.array([np.inf, one, -3.0]),
        np.array([-np.inf, one]),
        np.array([np.inf, 3.4e38, -3.3e38, one, 2.0**126]),  # finite values rounding into the inf encoding
        f32([0x7FC00000, 0x7FC00001, 0xFF800000, 0x3F800000]),  # NaN, -inf
        f32([0x7F800001, 0xFFC00000, 0xFF800001, 0x7FA00000, 0x7FF00000, 0x7F810000, 0x7FBF0000, 0x7FFFFFFF]),
        np.array([3e38, one, 1e-38, -3.4e38]),
        f32([0x7F7FFFFF, 0xFF7FFFFF, 0x7F000000, 0x7E800000, 0x7E7FFFFF]),  # near float max
        np.array([1e30, 1e-30, one]),
        np.array([one] * 16),
        np.array([one] * 15 + [-(2**-25)]),
        np.array([one + 2**-7 + 2**-17, one + 2**-3 + 2**-17, one + 2**-4 + 2**-17]),  # no double rounding
        np.array([0.0] * 15 + [1e4]),
        np.array([6e-39, 3e-38, -2e-38, 1.2e-38]),  # shared exponent below the fast path
        np.array([2.0**-103, 2.0**-104 * 1.5, -(2.0**-110), 2.0**-125]),
        np.array([2.0**100, 2.0**100 * (1 + 2**-7), 2.0**127 * 1.99]),
    ]


def hard_cases() -> list[Case]:
    """`hard_blocks` laid out in one (32, 32) tile and in a ragged (20, 45) tensor, per format."""
    blocks = hard_blocks()
    tile = np.zeros((32, 32), np.float32)
    ragged = np.zeros((len(blocks), 45), np.float32)
    for i, b in enumerate(blocks):
        tile[i, : len(b)] = b
        ragged[i, 29 : 29 + len(b)] = b  # straddles the 16-value block boundaries at 32
    cases = []
    for fmt in FLOAT_FORMATS:
        cases.append(Case(f"{fmt}/hard/tile", tile, fmt))
        cases.append(Case(f"{fmt}/hard/ragged", ragged, fmt))
        for i, b in enumerate(blocks):
            cases.append(Case(f"{fmt}/hard/rank1/{i}", np.asarray(b, np.float32), fmt))
    return cases


INT_FORMATS = ("int32", "uint32", "uint16", "uint8")
# Values whose conversion C++ leaves undefined; ttnn's vector loop result is what we emulate.
# fmt: off
OUT_OF_RANGE = [np.nan, np.inf, -np.inf, 3.4e38, -3.4e38, 5e9, -5e9, 2.0**31, -(2.0**31), 2.0**32, 1e10, -3e9]
OUT_OF_RANGE += [70000.0, 65536.0, 65535.9, 256.0, 255.9, 300.0, -0.9, -1.5, -300.0, -70000.0, 4294967040.0, 3e9]
# fmt: on


def int_cases(seed: int = 7) -> list[Case]:
    """Float -> integer conversions: in-range values of every kind, and undefined ones."""
    rng = np.random.default_rng(seed)
    cases = []
    for fmt in INT_FORMATS:
        for shape in [(7,), (3, 40), (2, 5, 33)]:
            x = rng.uniform(-300, 70000, shape).astype(np.float32)
            if fmt == "int32":
                x = (x - 35000) * 5000.0
            elif fmt == "uint32":
                x = rng.uniform(0, 4.29e9, shape).astype(np.float32)
            elif fmt == "uint16":
                x = rng.uniform(0, 65535, shape).astype(np.float32)
            else:
                x = rng.uniform(0, 255.99, shape).astype(np.float32)
            cases.append(Case(f"{fmt}/in_range/{shape}", x.astype(np.float32), fmt))
        # NOTE: a length that is a multiple of 8 keeps every element in ttnn's vectorised loop.
        odd = np.array(OUT_OF_RANGE * 2, np.float32)[:48]
        cases.append(Case(f"{fmt}/out_of_range", odd, fmt))
    return cases
