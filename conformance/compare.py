"""Bit-exact comparison of simulator output with oracle output (numpy only).

`compare_bits` compares float32 arrays by bit pattern (so -0.0 != +0.0 and NaN payloads count) and
integer arrays by value, and returns a `Comparison` with the number of values compared and the
first mismatches; `Comparison.check()` raises AssertionError with a readable table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def _bits(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    if a.dtype == np.float32:
        return a.view(np.uint32)
    if np.issubdtype(a.dtype, np.integer):
        return a.astype(np.int64)
    raise TypeError(f"compare_bits: expected float32 or integer arrays, got {a.dtype}")


def _fmt(v: np.generic, is_float: bool) -> str:
    if is_float:
        u = int(v)
        return f"0x{u:08x} ({np.array(u, np.uint32).view(np.float32)!r})"
    return str(int(v))


@dataclass
class Comparison:
    """Result of one bit-exact comparison."""

    label: str
    compared: int
    mismatches: int
    examples: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.mismatches == 0

    def check(self) -> Comparison:
        """Raise AssertionError listing the first mismatches; return self when all values match."""
        if not self.ok:
            lines = "\n  ".join(self.examples)
            raise AssertionError(
                f"{self.label}: {self.mismatches} of {self.compared} values differ from ttnn:\n  {lines}"
            )
        return self


def compare_bits(
    label: str, actual: np.ndarray, expected: np.ndarray, inputs: np.ndarray | None = None, limit: int = 10
) -> Comparison:
    """Compare ``actual`` (simulator) with ``expected`` (ttnn) value by value, bit-exactly."""
    if actual.shape != expected.shape:
        return Comparison(
            label, int(expected.size), int(expected.size), [f"shape {actual.shape} != {expected.shape}"]
        )
    a, e = _bits(actual), _bits(expected)
    is_float = expected.dtype == np.float32
    bad = np.flatnonzero((a != e).ravel())
    examples = []
    flat_in = None if inputs is None else np.ascontiguousarray(inputs, dtype=np.float32).ravel()
    for i in bad[:limit]:
        where = np.unravel_index(int(i), expected.shape)
        src = "" if flat_in is None else f"input {_fmt(flat_in.view(np.uint32)[i], True)} "
        examples.append(
            f"at {tuple(int(w) for w in where)}: {src}sim {_fmt(a.ravel()[i], is_float)} "
            f"ttnn {_fmt(e.ravel()[i], is_float)}"
        )
    return Comparison(label, int(expected.size), int(bad.size), examples)
