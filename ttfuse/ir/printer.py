"""The compact typed printer of the IR (lossy; the JSON form of ttfuse/ir/graph.py is the exact one).

    %3: bf16[32,1024]@L1 = linear %1 %2 {activation=silu}  # model.py:41

Attributes equal to the op's default and tensor markers are not printed; `mark` flags one node ('>>') for the
verifier's IR windows.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ttfuse.ir.values import FrozenList, attr_tensor_positions, thaw
from ttfuse.types import DataType, Layout, MemoryConfig, Shape, TensorSpec

if TYPE_CHECKING:
    from ttfuse.ir.graph import Graph, Node


def format_value(v: Any) -> str:
    """Compact printer form of a static value (lossy; the JSON form is the exact one)."""
    if isinstance(v, str):
        return v if v.replace("_", "").replace(".", "").isalnum() else repr(v)
    if isinstance(v, DataType):
        return v.short
    if isinstance(v, Layout):
        return "TILE" if v is Layout.TILE else "RM"
    if isinstance(v, MemoryConfig):
        return v.short
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else str(v)
    if isinstance(v, Shape):
        return "[" + ",".join(map(str, v)) + "]"
    if type(v) in (FrozenList, list):
        return "[" + ", ".join(format_value(x) for x in v) + "]"
    if type(v) is tuple:
        return "(" + ", ".join(format_value(x) for x in v) + ("," if len(v) == 1 else "") + ")"
    if isinstance(v, TensorSpec):
        return str(v)
    r = repr(v)
    return r[5:] if r.startswith("ttnn.") else r


def _is_default(op, name: str, v: Any) -> bool:
    if op is None:
        return False
    p = op.signature.parameters.get(name)
    if p is None or p.default is p.empty:
        return False
    d = p.default
    try:
        return type(thaw(v)) is type(d) and bool(thaw(v) == d)
    except Exception:  # noqa: BLE001 - exotic __eq__: just print the attribute
        return False


def format_node(n: Node, *, with_loc: bool = True) -> str:
    from ttfuse.opdef import OPS

    op = OPS.get(n.op)
    lhs = ", ".join(f"%{n.id + k}: {s}" for k, s in enumerate(n.outs)) or f"%{n.id}: ()"
    ins = " ".join(repr(r) for r in n.inputs)
    shown = []
    for k, v in n.attrs:
        if attr_tensor_positions(v) or _is_default(op, k, v):
            continue
        shown.append(f"{k}={format_value(v)}")
    s = f"{lhs} = {n.op}"
    if ins:
        s += " " + ins
    if shown:
        s += " {" + ", ".join(shown) + "}"
    if with_loc and n.side.loc is not None:
        s += f"  # {n.side.short_loc()}"
    return s


def format_graph(g: Graph, *, with_loc: bool = True, mark: int | None = None) -> str:
    """The compact typed printer; `mark` prefixes the node with that id by '>>' (verifier windows)."""
    params = ", ".join(f"%{i}: {s}" for i, s in enumerate(g.inputs))
    lines = [f"graph {g.meta.get('name', 'fn')}({params}):"]
    for n in g.nodes:
        prefix = ">> " if mark is not None and n.id == mark else "  "
        lines.append(prefix + format_node(n, with_loc=with_loc))
    outs = ", ".join(repr(r) for r in g.user_outputs)
    wb = " ; " + ", ".join(f"%{k} <- {r!r}" for k, r in g.write_backs()) if g.writes else ""
    lines.append((f"  return {outs}" if outs else "  return") + wb)
    return "\n".join(lines)
