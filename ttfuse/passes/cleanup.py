"""cleanup: no-op casts and copies, layout/memory round trips, reshape/permute chains, scalar folding, CSE, DCE.

Pre: a verified graph (as traced). Post: a verified graph computing the same values with no more nodes, where
- no typecast/clone/reallocate/to_layout/to_memory_config/reshape/permute leaves its input spec unchanged
  (unless it is a graph output, an in-place target or a copy of a graph input returned as an output);
- chains of casts through a lossless intermediate, layout round trips (TILE -> ROW_MAJOR -> TILE), memory
  moves, reshapes and permutes are collapsed to one step;
- multiplies by 1, adds of 0, double negations and repeated relus are gone; chains of scalar multiplies
  (adds) are one multiply (add) by the product (sum) of the scalars;
- identical pure nodes are computed once (CSE; the survivor notes `cse=%dup`), and nothing dead remains.
Numerics: every rule is exact except scalar-chain folding, which rounds the combined scalar once instead of
rounding the intermediate tensor (within one bf16 ulp).
Extend: add a `(Pat, callback)` row to one of the `rules_*` tables with the algebra as a trailing comment, and
a test applying it alone (tests/passes/test_cleanup.py).
"""

from __future__ import annotations

from ttfuse.ir import Graph, Node, Ref, dce
from ttfuse.passes.rewrite import Bind, Miss, Pat, Rewriter, named, rewrite
from ttfuse.types import DataType, Layout

D = DataType
# casts that are exact (every value of the source is representable in the target)
_LOSSLESS = {
    D.BFLOAT16: {D.FLOAT32},
    D.BFLOAT8_B: {D.BFLOAT16, D.FLOAT32},
    D.BFLOAT4_B: {D.BFLOAT8_B, D.BFLOAT16, D.FLOAT32},
    D.UINT8: {D.UINT16, D.UINT32, D.INT32, D.FLOAT32},
    D.UINT16: {D.UINT32, D.INT32, D.FLOAT32},
    D.INT32: set(),
    D.UINT32: set(),
    D.FLOAT32: set(),
}
_NONDETERMINISTIC = frozenset({"rand", "empty", "empty_like"})


def _is_num(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _num(value: float):
    return lambda v: _is_num(v) and float(v) == value


def _no_acts(node: Node) -> bool:
    return all(
        node.attr(k) in (None, (), [])
        for k in ("activations", "input_tensor_a_activations", "input_tensor_b_activations")
    )


def _buffer(rw: Rewriter, ref: Ref) -> Ref:
    """The value whose buffer `ref` is: through in-place ops (add_ writes its input's buffer) to the first value."""
    node = rw.node(ref)
    while node is not None and node.opdef.traits.inplace is not None:
        src = rw.attrs(node).get(node.opdef.traits.inplace)
        if not isinstance(src, Ref):
            break
        ref, node = src, rw.node(src)
    return ref


def _written_in_place(rw: Rewriter, ref: Ref) -> bool:
    """Whether some in-place op of the graph writes the buffer holding `ref`."""
    buf = _buffer(rw, ref)
    for n in rw.graph.nodes:
        name = n.opdef.traits.inplace
        src = rw.attrs(n).get(name) if name is not None else None
        if isinstance(src, Ref) and _buffer(rw, src) == buf:
            return True
    return False


def _forward(rw: Rewriter, m, src: str = "x"):
    """The root is a no-op copy of value `src`: forward it unless aliasing would be visible. Forwarding makes the
    root's readers share `src`'s buffer, so it is refused when an in-place op writes that buffer: the root (a
    copy in eager: a round trip, a chain of moves, a + 0) holds the value from before the write."""
    root, x = m.root, m.ref(src)
    if rw.spec(x) != root.outs[0]:
        return None
    out = Ref(root.id, 0)
    if rw.is_output(out) and (rw.is_input(x) or rw.is_output(x)):
        return Miss("a graph output must not alias a graph input or another output")
    if _written_in_place(rw, x):
        return Miss("the copied value's buffer is written in place; the copy keeps the value from before")
    return x


# ---------------------------------------------------------------------------------------------- casts
@named("noop_copy")
def _noop_copy(rw: Rewriter, m):
    return _forward(rw, m)


@named("lossless_cast_chain")
def _cast_chain(rw: Rewriter, m):
    x, mid, root = m.ref("x"), m.node("mid"), m.root
    src, wide, dst = rw.spec(x).dtype, mid.outs[0].dtype, root.outs[0].dtype
    if wide not in _LOSSLESS.get(src, ()) and wide is not src:
        return Miss(f"the intermediate cast {src.value} -> {wide.value} rounds")
    if rw.spec(x) == root.outs[0]:
        return _forward(rw, m)
    return rw.try_emit("typecast", input_tensor=x, dtype=dst, memory_config=root.outs[0].memory_config)


rules_cast = [
    (Pat("typecast", Pat.any("x")), _noop_copy),  # typecast(a: T, T) -> a
    (
        Pat("typecast", Pat("typecast", Pat.any("x"), name="mid")),
        _cast_chain,
    ),  # typecast(typecast(a, wide), T) -> typecast(a, T)
]


# ------------------------------------------------------------------------------------------- copies
@named("copy_chain")
def _copy_chain(rw: Rewriter, m):
    root, inner = m.root, m.node("mid")
    src, mid = rw.spec(m.ref("x")).dtype, inner.outs[0].dtype
    if mid is not src and mid not in _LOSSLESS.get(src, ()):
        return Miss(f"the inner copy rounds ({src.value} -> {mid.value})")
    args = {"memory_config": root.outs[0].memory_config}
    if root.op == "clone":
        return rw.try_emit("clone", input=m.ref("x"), dtype=root.outs[0].dtype, **args)
    return rw.try_emit("reallocate", tensor=m.ref("x"), **args)


_COPY = ("clone", "reallocate")
rules_copy = [
    (Pat("clone", Pat.any("x")), _noop_copy),  # clone(a) -> a
    (Pat("reallocate", Pat.any("x")), _noop_copy),  # reallocate(a) -> a
    (
        Pat(_COPY, Pat(_COPY, Pat.any("x"), name="mid", one_use=True)),
        _copy_chain,
    ),  # clone(clone(a)) -> clone(a)
]


# ---------------------------------------------------------------------------------- layout and memory
@named("layout_round_trip")
def _layout_round_trip(rw: Rewriter, m):
    if rw.spec(m.ref("x")) != m.root.outs[0]:
        return Miss("the round trip changes the dtype or memory config")
    return _forward(rw, m)


@named("memory_chain")
def _memory_chain(rw: Rewriter, m):
    inner = m.node("mid")
    if inner.outs[0].dtype != rw.spec(m.ref("x")).dtype:
        return Miss("the inner move converts the dtype")
    root = m.root
    x = m.ref("x")
    if rw.spec(x) == root.outs[0]:
        return _forward(rw, m)
    return rw.try_emit(
        "to_memory_config", tensor=x, memory_config=root.outs[0].memory_config, dtype=root.attr("dtype")
    )


def _is_layout(layout):
    return lambda v: v is layout


rules_layout = [
    (Pat("to_layout", Pat.any("x")), _noop_copy),  # to_layout(a, a.layout) -> a
    (Pat("to_memory_config", Pat.any("x")), _noop_copy),  # to_memory_config(a, a.memory_config) -> a
    (
        Pat(
            "to_layout",
            Pat("to_layout", Pat.any("x"), layout=_is_layout(Layout.ROW_MAJOR), name="mid"),
            layout=_is_layout(Layout.TILE),
        ),
        _layout_round_trip,
    ),  # to_layout(to_layout(a, ROW_MAJOR), TILE) -> a
    (
        Pat("to_memory_config", Pat("to_memory_config", Pat.any("x"), name="mid")),
        _memory_chain,
    ),  # to_memory_config(to_memory_config(a, m1), m2) -> to_memory_config(a, m2)
]


# ------------------------------------------------------------------------------------ reshape/permute
def _plain_reshape(node: Node, rw) -> bool:
    return (
        node.attr("pad_value") is None
        and node.attr("reshape_tile_mode") is None
        and node.attr("sub_core_grids") is None
        and not node.attr("skip_padding_fill")
    )


def _identity_perm(node: Node, rw) -> bool:
    """Permutes that move only size-1 dims (an equal spec alone is not enough: square dims swap data)."""
    shape = rw.spec(node.inputs[0]).shape
    rank = len(shape)
    return all(i == d % rank or shape[d % rank] == 1 for i, d in enumerate(node.attr("dims")))


@named("reshape_chain")
def _reshape_chain(rw: Rewriter, m):
    root, x = m.root, m.ref("x")
    if rw.spec(x) == root.outs[0]:
        return _forward(rw, m)
    return rw.try_emit(
        "reshape", input_tensor=x, shape=tuple(root.outs[0].shape), memory_config=root.attr("memory_config")
    )


@named("permute_chain")
def _permute_chain(rw: Rewriter, m):
    root, inner, x = m.root, m.node("mid"), m.ref("x")
    rank = rw.spec(x).rank
    p1 = [d % rank for d in inner.attr("dims")]
    p2 = [d % rank for d in root.attr("dims")]
    dims = tuple(p1[i] for i in p2)
    if dims == tuple(range(rank)) and rw.spec(x) == root.outs[0]:
        return _forward(rw, m)
    return rw.try_emit(
        "permute",
        input_tensor=x,
        dims=dims,
        pad_value=root.attr("pad_value"),
        memory_config=root.attr("memory_config"),
    )


rules_shape = [
    (Pat("reshape", Pat.any("x")), _noop_copy),  # reshape(a, a.shape) -> a
    (Pat("permute", Pat.any("x"), where=_identity_perm), _noop_copy),  # permute(a, identity) -> a
    (
        Pat("reshape", Pat("reshape", Pat.any("x"), name="mid", where=_plain_reshape), where=_plain_reshape),
        _reshape_chain,
    ),  # reshape(reshape(a, s1), s2) -> reshape(a, s2)
    (
        Pat("permute", Pat("permute", Pat.any("x"), name="mid")),
        _permute_chain,
    ),  # permute(permute(a, p), q) -> permute(a, p[q])
]


# --------------------------------------------------------------------------------------------- scalars
def _simple_binary(node: Node, rw) -> bool:
    return (
        _no_acts(node)
        and node.attr("dtype") is None
        and node.attr("output_tensor") is None
        and node.attr("sub_core_grids") is None
    )


@named("identity_scalar")
def _identity_scalar(rw: Rewriter, m):
    if not _no_acts(m.root):
        return None
    return _forward(rw, m)


@named("scalar_chain")
def _scalar_chain(rw: Rewriter, m):
    root, inner, x = m.root, m.node("mid"), m.ref("x")
    if inner.outs[0].dtype != rw.spec(x).dtype or root.outs[0].dtype != rw.spec(x).dtype:
        return Miss("a step of the chain changes the dtype")
    c1, c2 = float(m.scalar("c1")), float(m.scalar("c2"))
    if root.op == "multiply":
        c = c1 * c2
    else:
        s1 = 1.0 if inner.op == "add" else -1.0
        s2 = 1.0 if root.op == "add" else -1.0
        c = s1 * c1 + s2 * c2
    op = "multiply" if root.op == "multiply" else "add"
    return rw.try_emit(op, input_tensor_a=x, input_tensor_b=c, memory_config=root.attr("memory_config"))


@named("involution")
def _involution(rw: Rewriter, m):
    x = m.ref("x")
    if rw.spec(x) != m.root.outs[0]:
        return None
    return _forward(rw, m)


@named("idempotent")
def _idempotent(rw: Rewriter, m):
    if m.node("inner").outs[0] != m.root.outs[0]:
        return None
    if _written_in_place(rw, m.ref("inner")):
        return Miss("the inner value's buffer is written in place; the outer op keeps the value from before")
    return m.ref("inner")


def _bin(op, const, name=None, **kw):
    return Pat(op, Pat.any("x"), input_tensor_b=const, where=_simple_binary, name=name, **kw)


_ADDSUB = ("add", "subtract")
rules_scalar = [
    (_bin("multiply", _num(1.0)), _identity_scalar),  # a * 1 -> a
    (
        Pat("multiply", Pat.any("x"), input_tensor_a=_num(1.0), where=_simple_binary),
        _identity_scalar,
    ),  # 1 * a -> a
    (_bin(("add", "subtract"), _num(0.0)), _identity_scalar),  # a + 0 -> a ; a - 0 -> a
    (
        Pat("add", Pat.any("x"), input_tensor_a=_num(0.0), where=_simple_binary),
        _identity_scalar,
    ),  # 0 + a -> a
    (_bin("divide", _num(1.0)), _identity_scalar),  # a / 1 -> a
]


def _chain(op):
    inner = Pat(op, Pat.any("x"), input_tensor_b=Bind("c1"), where=_simple_binary, name="mid", one_use=True)
    return Pat(op if op == "multiply" else _ADDSUB, inner, input_tensor_b=Bind("c2"), where=_simple_binary)


def _numeric_chain(rw: Rewriter, m):
    if not (_is_num(m.scalar("c1")) and _is_num(m.scalar("c2"))):
        return None
    return _scalar_chain(rw, m)


_numeric_chain.rule_name = "scalar_chain"
rules_scalar += [
    (_chain("multiply"), _numeric_chain),  # (a * c1) * c2 -> a * (c1 c2)
    (_chain("add"), _numeric_chain),  # (a + c1) +- c2 -> a + (c1 +- c2)
    (_chain("subtract"), _numeric_chain),  # (a - c1) +- c2 -> a + (-c1 +- c2)
    (Pat("neg", Pat("neg", Pat.any("x"))), _involution),  # -(-a) -> a
    (Pat("relu", Pat("relu", Pat.any("x"), name="inner")), _idempotent),  # relu(relu(a)) -> relu(a)
]

RULES = rules_cast + rules_copy + rules_layout + rules_shape + rules_scalar


# ------------------------------------------------------------------------------------------------- CSE
def cse(graph: Graph) -> Graph:
    """Common-subexpression elimination: a node equal to an earlier one (op, inputs, attrs) is dropped and its
    values are read from the earlier one. Nondeterministic ops are never merged (in-place ops are functional in
    the IR, so they merge like any other)."""
    seen: dict[tuple, Node] = {}
    subst: dict[int, Ref] = {}
    merged: dict[int, list[int]] = {}
    nodes: list[Node] = []
    for n in graph.nodes:
        if subst and any(r.value in subst for r in n.inputs):
            n = n.replace(inputs=tuple(subst.get(r.value, r) for r in n.inputs))
        key = (n.op, n.inputs, n.attrs, n.outs, n.multi) if n.op not in _NONDETERMINISTIC else None
        first = seen.get(key) if key is not None else None
        if first is not None:
            for k in range(n.num_values):
                subst[n.id + k] = Ref(first.id, k)
            merged.setdefault(first.id, []).append(n.id)
            continue
        if key is not None:
            seen[key] = n
        nodes.append(n)
    if not subst:
        return graph
    out = []
    for n in nodes:
        if n.id in merged:
            note = "cse=" + ",".join(f"%{i}" for i in merged[n.id])
            n = n.replace(side=n.side.plus(notes=(note,), cse=n.side.cse + tuple(merged[n.id])))
        out.append(n)
    outputs = tuple(subst.get(r.value, r) for r in graph.outputs)
    return graph.replace(nodes=out, outputs=outputs)


# ------------------------------------------------------------------------------------------------ pass
def cleanup(graph: Graph, ctx) -> Graph:
    """The cleanup pass. Pre: a valid graph. Post: see the module docstring; the graph is returned unchanged
    (the same object) when nothing applies."""
    g = dce(graph, ctx)
    for _ in range(4):
        before = g
        g = rewrite(g, RULES, ctx, table="cleanup")
        g = dce(cse(g), ctx)
        if g == before:
            break
    return graph if g == graph and _same_side(g, graph) else g


def _same_side(a: Graph, b: Graph) -> bool:
    return all(x.side == y.side for x, y in zip(a.nodes, b.nodes))
