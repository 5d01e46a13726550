"""TT data-format numerics: round float32 values to what ttnn would store.

Pure math on torch tensors, in the core because ops, kernels, host conversion and the simulator all read it.

The simulator keeps every floating tensor as a float32 torch tensor whose values are already
representable in the emulated format. Each op computes in float32 and calls `round_to_dtype` once on
what it writes out. Integer tensors are kept as torch.int64 holding the value ttnn would store.

Formats (bit-exact with ttnn 0.81.1's host conversion, checked by tests/conformance):

- ``float32``: identity (the same tensor object is returned).
- ``bfloat16``: round to nearest, ties to even, on the float32 bit pattern. Subnormals are rounded,
  not flushed; overflow goes to +-inf; every NaN becomes the canonical quiet NaN 0x7FC00000
  (positive), as ttnn does.
- ``bfloat8_b`` / ``bfloat4_b``: block floats, one shared 8-bit exponent per 16 consecutive values
  along the last dim (a row of a 16x16 tile face; padding to tile multiples is zeros and never
  changes a block's exponent). ttnn's packer, per block:

  1. shared exponent E = max of the 16 biased float32 exponent fields (NaN/inf count as 255);
  2. a value whose exponent field is 0 (zero or subnormal) becomes 0;
  3. its 24-bit significand (hidden 1 included) is shifted right by E - e, **truncating**;
  4. that is rounded to ``mantissa_bits`` bits (7 for bfp8, 3 for bfp4), ties to even, using only
     the truncated bits (so 2^-7 + 2^-30 next to 1.0 rounds to 0 in bfp8, not up);
  5. a carry past the top saturates to the largest mantissa (1.998 -> 1.984375 in bfp8) instead of
     bumping the exponent;
  6. a zero mantissa drops the sign (-tiny -> +0.0);
  7. decoding gives sign * m * 2^(E - 127 - (mantissa_bits - 1)); with E = 255 a mantissa with its
     top bit set decodes to inf (no other bits) or NaN (sign and payload kept), smaller ones decode
     to finite values.

- ``int32``, ``uint32``, ``uint16``, ``uint8``: returned as torch.int64. From an integer tensor the
  value wraps modulo 2^bits (C++ static_cast, as ttnn does for numpy int arrays). From a float
  tensor the value is truncated toward zero; where that is out of the target range (C++ undefined
  behaviour) ttnn's result depends on the element's position (its auto-vectorised loop and scalar
  tail disagree); we follow the vector loop, which converts the bulk of any tensor:
  int32 -> INT32_MIN for NaN, +-inf and out-of-range values; uint32 -> trunc mod 2^32 on
  [-2^31, 2^32), else 2^31; uint16/uint8 -> the int32 result clamped to [0, max].

Implementation notes: everything is vectorised torch on int32/float32 views, processed in chunks
of ``_CHUNK`` elements so temporaries stay in cache (page faults of fresh 64 MiB temporaries cost
more than the arithmetic). The bfp fast path does the truncate/round/saturate with exact float32
power-of-two scaling; blocks whose exponent is below 24 or 255 (subnormal range, inf, NaN) go
through `_bfp_blocks_exact`, the literal integer algorithm.

To add a format: write ``round_<fmt>(x, *, inplace=False)`` returning float32 (or int64 for an
integer format), register it in ``_FLOAT_ROUNDERS`` / ``_INT_BITS`` with its ttnn dtype name, and
add a reference test in tests/test_numerics.py plus an oracle comparison in tests/conformance/.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

import torch

__all__ = [
    "DTYPE_NAMES",
    "FLOAT_DTYPE_NAMES",
    "INT_DTYPE_NAMES",
    "round_bf16",
    "round_bfp",
    "round_to_dtype",
]

_CHUNK = 1 << 18  # elements per chunk: 1 MiB of float32, stays in L2/L3
_BLOCK = 16  # values sharing one exponent: a row of a 16x16 tile face
_I32 = torch.int32
_F32 = torch.float32
_BF16 = torch.bfloat16
_ABS = 0x7FFFFFFF
_NAN = float("nan")  # canonical quiet NaN 0x7FC00000 in float32


def _as_f32(x: torch.Tensor) -> torch.Tensor:
    """x as a contiguous float32 tensor (x itself when it already is one)."""
    if x.dtype != _F32:
        x = x.to(_F32)
    return x if x.is_contiguous() else x.contiguous()


# ---------------------------------------------------------------------------------------------
# bfloat16


def round_bf16(x: torch.Tensor, *, inplace: bool = False) -> torch.Tensor:
    """Round to bfloat16 (nearest, ties to even) and return float32 values of the same shape.

    With ``inplace=True`` a contiguous float32 ``x`` is overwritten and returned (the cheap path for
    an op's fresh output); otherwise a new tensor is returned.

    torch's float32 -> bfloat16 conversion is round-to-nearest-even on the bit pattern (checked bit for bit
    against the integer algorithm in tests/test_numerics.py); only its NaNs differ (its vector loop writes
    0xFFFF), so NaNs are found first and written as the canonical 0x7FC00000 afterwards. Large tensors go
    through a reused bfloat16 buffer of ``_CHUNK`` values (float32 -> bf16 -> float32 while it is in cache):
    ~10 GB/s, 5-8x the integer algorithm, and no fresh temporaries (their page faults cost more than the
    conversion).
    """
    src = _as_f32(x)
    owned = src is not x  # a conversion copy may be modified freely
    out = src if (inplace or owned) else torch.empty_like(src)
    n = src.numel()
    if n == 0:
        return out
    nan_mask = torch.isnan(src) if math.isnan(src.max().item()) else None
    si, oi = src.view(-1), out.view(-1)
    buf = _bf16_buffer()
    for start in range(0, n, _CHUNK):
        stop = min(n, start + _CHUNK)
        b = buf[: stop - start]
        b.copy_(si[start:stop])
        oi[start:stop].copy_(b)
    if nan_mask is not None:
        out.masked_fill_(nan_mask, _NAN)
    return out


_LOCAL = threading.local()


def _bf16_buffer() -> torch.Tensor:
    """The reused bfloat16 staging buffer of `round_bf16` (one per thread, _CHUNK values)."""
    buf = getattr(_LOCAL, "bf16", None)
    if buf is None:
        buf = _LOCAL.bf16 = torch.empty(_CHUNK, dtype=_BF16)
    return buf


# ---------------------------------------------------------------------------------------------
# block floats (bfloat8_b, bfloat4_b)


def _pow2_table(sign: int) -> torch.Tensor:
    """float32 table indexed by a shared exponent E (0..255): 2^(sign * (E - 150)).

    E is clamped to the fast path's range [24, 254] first, so every entry is a normal float32 (the
    blocks outside that range are recomputed by `_bfp_blocks_exact`).
    """
    e = torch.arange(256, dtype=torch.int32).clamp_(24, 254)
    biased = 127 + sign * (e - 150)  # in [1, 253]
    return (biased << 23).view(_F32)


_SCALE_DOWN = _pow2_table(+1)  # 2^(E-150): one unit of the aligned 24-bit significand
_SCALE_UP = _pow2_table(-1)  # 2^(150-E): its reciprocal


def _bfp_blocks_exact(blocks: torch.Tensor, mantissa_bits: int) -> torch.Tensor:
    """The integer packer/unpacker of ttnn on (k, 16) int32 bit patterns -> (k, 16) float32.

    Literal and slow (int64 temporaries); used for blocks outside the fast path's exponent range.
    """
    u = blocks.to(torch.int64) & 0xFFFFFFFF
    e = (u >> 23) & 0xFF
    shared = e.amax(dim=1, keepdim=True)
    shift = 24 - mantissa_bits
    m = ((u & 0x7FFFFF) | 0x800000) >> (shared - e).clamp_(max=31)  # truncating alignment
    m = (m + ((1 << (shift - 1)) - 1) + ((m >> shift) & 1)) >> shift  # round half to even
    m = m.clamp_(max=(1 << mantissa_bits) - 1)  # saturate instead of bumping the exponent
    m = torch.where(e == 0, 0, m)  # zero and subnormal inputs flush
    # Decode like ttnn's unpacker: normalise m, exponent = shared - shift count. float32(m) already
    # has m normalised with exponent 127 + floor(log2 m); move that exponent to the shared one.
    mf = m.to(_F32).view(_I32).to(torch.int64)
    bits = (mf + ((shared - 126 - mantissa_bits) << 23)) | (u & 0x80000000)
    bits = torch.where(m == 0, 0, bits)
    bits = torch.where(bits >= 1 << 31, bits - (1 << 32), bits)
    return bits.to(_I32).view(_F32)


def _bfp_chunk(src: torch.Tensor, dst: torch.Tensor, mantissa_bits: int, ibuf: torch.Tensor) -> None:
    """Round the (k, 16) float32 blocks of ``src`` into ``dst`` (which may be ``src``)."""
    shift = 24 - mantissa_bits
    si = src.view(_I32)
    torch.bitwise_and(si, _ABS, out=ibuf)
    shared = ibuf.amax(dim=1) >> 23  # max |x| has the max exponent; NaN -> 255
    lo, hi = torch.aminmax(shared)
    special_rows = saved = None
    if int(lo) < 24 or int(hi) == 255:
        special_rows = ((shared < 24) | (shared == 255)).nonzero().view(-1)
        saved = si.index_select(0, special_rows)
    # Fast path, exact for shared exponent E in [24, 254]: scale by 2^(150-E) so the aligned
    # 24-bit significand is the integer part, truncate it through int32, round it to a multiple of
    # 2^shift by adding and subtracting 1.5 * 2^(23+shift) (float32 RNE at exactly that ulp; it
    # also turns -0.0 into +0.0), saturate, and scale back by 2^(E-150). All steps are exact.
    torch.mul(src, _SCALE_UP.index_select(0, shared).unsqueeze(1), out=dst)
    ibuf.copy_(dst)  # float -> int32 truncates toward zero
    dst.copy_(ibuf)
    magic = 1.5 * 2.0 ** (23 + shift)
    dst += magic
    dst -= magic
    limit = float(((1 << mantissa_bits) - 1) << shift)
    dst.clamp_(-limit, limit)
    dst *= _SCALE_DOWN.index_select(0, shared).unsqueeze(1)
    if special_rows is not None:
        dst.index_copy_(0, special_rows, _bfp_blocks_exact(saved, mantissa_bits))


def round_bfp(x: torch.Tensor, mantissa_bits: int, *, inplace: bool = False) -> torch.Tensor:
    """Round to a TT block float and return float32 values of the same (logical) shape.

    ``mantissa_bits`` is 7 for bfloat8_b and 3 for bfloat4_b (sign-magnitude mantissa, no hidden
    bit). Blocks are 16 consecutive values of the last dim; a rank-0 tensor is one block. With
    ``inplace=True`` a contiguous float32 ``x`` is overwritten and returned.
    """
    if mantissa_bits not in (3, 7):
        raise ValueError(
            f"round_bfp: mantissa_bits must be 7 (bfloat8_b) or 3 (bfloat4_b), got {mantissa_bits}"
        )
    src = _as_f32(x)
    owned = src is not x
    n = src.numel()
    if n == 0:
        return src if (inplace or owned) else torch.empty_like(src)
    width = src.shape[-1] if src.dim() > 0 else 1
    padded_width = -(-width // _BLOCK) * _BLOCK
    if padded_width != width:
        # Zero padding to whole blocks: zeros have exponent 0 and never raise a block's exponent.
        rows = src.reshape(-1, width)
        work = rows.new_zeros((rows.shape[0], padded_width))
        work[:, :width] = rows
        work_out = work
    else:
        work = src
        work_out = src if (inplace or owned) else torch.empty_like(src)
    blocks = work.view(-1, _BLOCK)
    blocks_out = work_out.view(-1, _BLOCK)
    rows_per_chunk = _CHUNK // _BLOCK
    ibuf = torch.empty((min(blocks.shape[0], rows_per_chunk), _BLOCK), dtype=_I32)
    for start in range(0, blocks.shape[0], rows_per_chunk):
        stop = min(blocks.shape[0], start + rows_per_chunk)
        _bfp_chunk(blocks[start:stop], blocks_out[start:stop], mantissa_bits, ibuf[: stop - start])
    if padded_width == width:
        return work_out
    result = work_out[:, :width].reshape(src.shape)
    if inplace and not owned:
        src.copy_(result)
        return src
    return result.contiguous()


def _round_bfp8(x: torch.Tensor, *, inplace: bool = False) -> torch.Tensor:
    return round_bfp(x, 7, inplace=inplace)


def _round_bfp4(x: torch.Tensor, *, inplace: bool = False) -> torch.Tensor:
    return round_bfp(x, 3, inplace=inplace)


def _round_f32(x: torch.Tensor, *, inplace: bool = False) -> torch.Tensor:
    return x if x.dtype == _F32 else x.to(_F32)


# ---------------------------------------------------------------------------------------------
# integers


def _trunc_to_int32(x: torch.Tensor) -> torch.Tensor:
    """float -> int64 holding the x86 cvttps2dq result: trunc, INT32_MIN when NaN/inf/out of range."""
    t = x.to(torch.float64).trunc_()
    valid = (t >= -(2.0**31)) & (t < 2.0**31)  # False for NaN
    return torch.where(valid, t, -(2.0**31)).to(torch.int64)


def _round_int(x: torch.Tensor, bits: int, signed: bool) -> torch.Tensor:
    if not (x.is_floating_point() or x.is_complex()):
        v = x.to(torch.int64)
        if bits == 64:
            return v
        v = v & ((1 << bits) - 1)
        return torch.where(v >= 1 << (bits - 1), v - (1 << bits), v) if signed else v
    if signed:  # int32
        return _trunc_to_int32(x)
    if bits == 32:
        t = x.to(torch.float64).trunc_()
        valid = (t >= -(2.0**31)) & (t < 2.0**32)
        return torch.where(valid, t, 2.0**31).to(torch.int64) & 0xFFFFFFFF
    return _trunc_to_int32(x).clamp_(0, (1 << bits) - 1)


_INT_BITS: dict[str, tuple[int, bool]] = {
    "int32": (32, True),
    "uint32": (32, False),
    "uint16": (16, False),
    "uint8": (8, False),
}

_FLOAT_ROUNDERS: dict[str, Callable[..., torch.Tensor]] = {
    "float32": _round_f32,
    "bfloat16": round_bf16,
    "bfloat8_b": _round_bfp8,
    "bfloat4_b": _round_bfp4,
}

FLOAT_DTYPE_NAMES: tuple[str, ...] = tuple(_FLOAT_ROUNDERS)
INT_DTYPE_NAMES: tuple[str, ...] = tuple(_INT_BITS)
DTYPE_NAMES: tuple[str, ...] = FLOAT_DTYPE_NAMES + INT_DTYPE_NAMES


def round_to_dtype(x: torch.Tensor, dtype_name: str, *, inplace: bool = False) -> torch.Tensor:
    """Round ``x`` to the ttnn dtype named ``dtype_name`` (e.g. "bfloat8_b").

    Float formats return float32 (``float32`` returns ``x`` itself when it is float32); integer
    formats return int64. ``inplace=True`` lets a float format overwrite a contiguous float32 ``x``.
    """
    rounder = _FLOAT_ROUNDERS.get(dtype_name)
    if rounder is not None:
        return rounder(x, inplace=inplace)
    spec = _INT_BITS.get(dtype_name)
    if spec is not None:
        return _round_int(x, *spec)
    raise ValueError(f"round_to_dtype: unknown dtype {dtype_name!r}; known: {', '.join(DTYPE_NAMES)}")
