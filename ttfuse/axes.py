"""Axes: the ways an op splits into independent pieces, read from its `Traits.split` (core; no pass imported).

The chunk pass (ttfuse/passes/chunk.py) splits ops that overflow memory along an `Axis`; the simulator's
row-blocked regions (ttfuse/sim/blocked.py) run runs of ops block by block along one. Both ask `axes_of`.

An op declares how it splits with `Traits.split` at registration (ttfuse/opdef.py):
- "eltwise": independent over every output dim but the last, every tensor input broadcast like a ttnn binary
  op (the default of the ELTWISE groups);
- "rows": the same, but only the inputs named in `Traits.split_inputs` (default: the first tensor parameter)
  are split with the output; the others (weights) are passed whole;
- a callable `(node, in_specs) -> list[Axis]`, written next to the op with the helpers below (`broadcast_axes`,
  `row_dims`, `positions`, `sharded`).
Invariant: every axis an op declares is one it is independent over: each element of a chunk is computed by
the same op on the same inputs. Chunk sizes are multiples of `Axis.align` along the split dim (whole tile rows).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ttfuse.device import TILE
from ttfuse.ir import Node, attr_tensor_positions
from ttfuse.types import TensorSpec


@dataclass(frozen=True)
class Axis:
    """One way to split a node: its outputs split along `out_dim`; input k split along `in_dims[k]` (None:
    passed whole); chunk sizes a multiple of `align` elements along the split dim."""

    out_dim: int
    in_dims: tuple[int | None, ...]
    align: int = 1


def positions(node: Node) -> dict[str, list[int]]:
    """Tensor parameter -> the input positions it holds (lists of tensors hold several)."""
    return {k: attr_tensor_positions(v) for k, v in node.attrs if attr_tensor_positions(v)}


def sharded(node: Node, in_specs: list[TensorSpec]) -> bool:
    """Whether any input or output of the node is sharded (sharded ops are never split)."""
    return any(s.memory_config.is_sharded() for s in list(in_specs) + list(node.outs))


def row_dims(out: TensorSpec, exclude: tuple[int, ...] = ()) -> list[tuple[int, int]]:
    """(dim, align) of the output dims a row-wise op may be split along: all but the last, extent > align."""
    r = out.rank
    res = []
    for d in range(r - 1):
        align = TILE if d == r - 2 else 1
        if d in exclude or out.shape[d] <= align:
            continue
        res.append((d, align))
    return res


def _aligned(out: TensorSpec, s: TensorSpec, d: int) -> int | None | bool:
    """Input dim matching output dim d under right-aligned broadcasting: the dim, None (broadcast), or False."""
    k = d - (out.rank - s.rank)
    if k < 0 or s.shape[k] == 1:
        return None
    return k if s.shape[k] == out.shape[d] else False


def broadcast_axes(
    node: Node, in_specs: list[TensorSpec], *, split: set[int] | None = None, exclude: tuple[int, ...] = ()
) -> list[Axis]:
    """Axes of an op independent over every output dim but the last, whose inputs broadcast like ttnn binary
    ops; inputs not in `split` (positions; None = all) are passed whole."""
    if not node.outs or sharded(node, in_specs):
        return []
    out = node.outs[0]
    if any(o.shape != out.shape for o in node.outs) or out.rank < 2:
        return []
    axes = []
    for d, align in row_dims(out, tuple(x % out.rank for x in exclude)):
        dims: list[int | None] = []
        for i, s in enumerate(in_specs):
            k = _aligned(out, s, d) if split is None or i in split else None
            if k is False:
                break
            dims.append(k)
        else:
            if any(x is not None for x in dims):
                axes.append(Axis(d, tuple(dims), align))
    return axes


def eltwise_axes(node: Node, in_specs: list[TensorSpec]) -> list[Axis]:
    """split="eltwise": every tensor input split with the output (broadcast dims passed whole)."""
    return broadcast_axes(node, in_specs)


def rows_axes(node: Node, in_specs: list[TensorSpec]) -> list[Axis]:
    """split="rows": the inputs in `Traits.split_inputs` (default the first tensor parameter) split with the
    output, the others passed whole."""
    names = node.opdef.traits.split_inputs
    pos = positions(node)
    if not names:
        first = next((k for k, v in node.attrs if attr_tensor_positions(v)), None)
        names = (first,) if first else ()
    return broadcast_axes(node, in_specs, split={i for n in names for i in pos.get(n, [])})


_KINDS: dict[str, Callable] = {"eltwise": eltwise_axes, "rows": rows_axes}


def axes_of(node: Node, in_specs: list[TensorSpec]) -> list[Axis]:
    """The ways `node` can be split (outer dims first), by its op's `Traits.split`; [] when it cannot."""
    rule = node.opdef.traits.split
    if isinstance(rule, str):
        rule = _KINDS.get(rule)
    if rule is None:
        return []
    try:
        return list(rule(node, in_specs))
    except (KeyError, IndexError, TypeError, AttributeError):
        return []
