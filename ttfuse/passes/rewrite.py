"""The rule engine: tables of `(pattern, callback)` applied by one iterative driver (tinygrad PatternMatcher),
plus rules written as two plain ttnn functions, search and replacement (inductor `register_replacement`).

    rules_algebra = [
        (Pat("relu", Pat("relu", name="x")), lambda rw, m: m.ref("x")),  # relu(relu(a)) -> relu(a)
    ]
    graph = rewrite(graph, rules_algebra, pass_ctx, table="algebra")

Patterns. `Pat(op, *src, name=, where=, one_use=, commute=, out=, **attrs)` matches one value:
- `op` is an op name or a tuple of names (None: any value, a graph input included); `src` patterns match the
  node's tensor inputs in order; keyword `attrs` constrain parameters by name: a `Pat` matches the tensor bound
  to that parameter, a `Bind("n")` binds the static value to scalar `n`, a callable is a predicate on the value,
  anything else must be equal (None included: `bias=None` means "no bias").
- `name` binds the value (the same name twice must bind the same value), `where(node, rw)` is an extra
  predicate, `one_use` asks that the node's outputs are read by exactly one node and are no graph output,
  `commute` tries both orders of a binary op's two operands.
Callbacks. `callback(rw, m) -> Ref | tuple[Ref, ...] | Miss | None` get the `Rewriter` (queries: spec, node,
users, ...; `rw.emit(op, **args)` builds new nodes, spec rules inferring their outputs) and the `Match` (`m.x`,
`m.ref("x")`, `m.node("x")`, `m.scalar("n")`, `m.root`). They return the values that replace the root's outputs
(specs must be equal), `Miss("why")` to record why a rule did not fire (a note on the root, read by the
coverage report), or None.
Driver. `rewrite()` sweeps the nodes in order, tries the rules indexed by the node's op, commits the first
rewrite (inputs substituted, new nodes inserted at the root, stable topological order, dead nodes dropped),
and sweeps again until no rule fires; more than `max_rewrites` rewrites raise RewriteLimitError (a rule that
undoes another). New nodes that replace a root record what they replaced: `side.replaced` (op names, nested
fusions flattened) and `side.origins` (ids of the traced graph's nodes), for the coverage report.
Replacements. `replacement(search_fn, replace_fn, example_args, extra_check=, scalars=)` traces both functions
with ttfuse's capture on example TensorSpecs; the search graph becomes a Pat (graph inputs are wildcards,
intermediates single-use, scalars bound by their example values), the replacement graph is inlined with the
bound values (spec rules re-infer every spec), and the result is a `(pattern, callback)` rule.

Invariants: the driver never mutates its input graph; every committed rewrite leaves a graph in a valid
execution order whose replaced values keep their specs. Extend: add `(Pat(...), callback)` rows to a
`rules_<topic>` table with the algebra in a trailing comment, and a test applying that rule alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ttfuse.errors import SpecError
from ttfuse.ir import (
    Decision,
    DeviceArg,
    FrozenList,
    Graph,
    In,
    Node,
    NodeSide,
    Ref,
    dce,
    freeze,
    in_order,
    thaw,
    toposort,
)
from ttfuse.passes.context import target_device
from ttfuse.types import TensorSpec

Rule = tuple["Pat", Callable]


class RewriteLimitError(RuntimeError):
    """The driver committed more rewrites than its limit: two rules undo each other."""


@dataclass(frozen=True)
class Miss:
    """A callback's 'no': the reason is recorded as a note on the root node (coverage report)."""

    reason: str


@dataclass(frozen=True)
class Bind:
    """Attribute constraint binding a static value to a scalar name (consistent across occurrences)."""

    name: str


# ------------------------------------------------------------------------------------------------ patterns
class Pat:
    """A pattern over one IR value (see the module docstring)."""

    __slots__ = ("ops", "src", "name", "where", "one_use", "commute", "out", "attrs")

    def __init__(
        self,
        op: str | tuple[str, ...] | None = None,
        *src: Pat,
        name: str | None = None,
        where: Callable | None = None,
        one_use: bool = False,
        commute: bool = False,
        out: int = 0,
        **attrs: Any,
    ):
        self.ops = None if op is None else (frozenset((op,)) if isinstance(op, str) else frozenset(op))
        self.src = src
        self.name = name
        self.where = where
        self.one_use = one_use
        self.commute = commute
        self.out = out
        self.attrs = attrs

    @staticmethod
    def any(name: str | None = None, where: Callable | None = None) -> Pat:
        """Any value (graph input or node output); `where(ref, rw)` may constrain it."""
        p = Pat(None, name=name)
        p.where = where
        return p

    def __repr__(self) -> str:
        if self.ops is None:
            return f"Pat.any({self.name!r})"
        ops = "|".join(sorted(self.ops))
        inner = [repr(s) for s in self.src] + [f"{k}={v!r}" for k, v in self.attrs.items()]
        return f"Pat({ops}{', ' if inner else ''}{', '.join(inner)})" + (f"@{self.name}" if self.name else "")


class Match:
    """The bindings of a matched pattern: values (`ref`), nodes (`node`), scalars, all matched nodes."""

    def __init__(self, root: Node, refs: dict, scalars: dict, nodes: list[Node]):
        self.root = root
        self.refs = refs
        self.scalars = scalars
        self.nodes = nodes

    def ref(self, name: str) -> Ref:
        return self.refs[name][0]

    def node(self, name: str) -> Node | None:
        return self.refs[name][1]

    def scalar(self, name: str) -> Any:
        return self.scalars[name]

    def has(self, name: str) -> bool:
        return name in self.refs

    def __getattr__(self, name: str) -> Ref:
        refs = self.__dict__.get("refs", {})
        if name in refs:
            return refs[name][0]
        raise AttributeError(name)

    def __repr__(self) -> str:
        return f"Match(root=%{self.root.id} {self.root.op}, {sorted(self.refs)})"


def _operand_params(node: Node) -> list[str]:
    """The parameters holding the node's first two tensor operands (for commutative matching)."""
    return [k for k, v in node.attrs if type(v) is In][:2]


_ACT_PAIR = ("input_tensor_a_activations", "input_tensor_b_activations")


def _attr_match(want: Any, have: Any) -> bool:
    if callable(want) and not isinstance(want, type):
        try:
            return bool(want(thaw(have)))
        except Exception:  # noqa: BLE001 - a predicate failing on an unexpected value means no match
            return False
    try:
        return bool(thaw(have) == want)
    except Exception:  # noqa: BLE001 - exotic __eq__
        return False


class _Matcher:
    def __init__(self, rw: Rewriter):
        self.rw = rw

    def match(self, pat: Pat, node: Node) -> Match | None:
        for refs, scalars, nodes in self._pat(pat, Ref(node.id, pat.out), {}, {}, [], root=True):
            return Match(node, refs, scalars, nodes)
        return None

    def _pat(self, pat: Pat, ref: Ref, refs, scalars, nodes, root=False) -> Iterator[tuple]:
        rw = self.rw
        node = rw.node(ref)
        if pat.name is not None and pat.name in refs and refs[pat.name][0] != ref:
            return
        if pat.ops is None:
            if pat.where is not None and not pat.where(ref, rw):
                return
            if pat.name is not None:
                refs = {**refs, pat.name: (ref, node)}
            yield refs, scalars, nodes
            return
        if node is None or node.op not in pat.ops or ref.out != pat.out:
            return
        if not root and pat.one_use and not rw.single_use(node):
            return
        attrs = dict(node.attrs)
        yield from self._node(pat, ref, node, attrs, list(node.inputs), refs, scalars, nodes)
        if pat.commute:
            ops = _operand_params(node)
            if len(ops) == 2:
                a, b = ops
                sw = {**attrs, a: attrs[b], b: attrs[a]}
                if _ACT_PAIR[0] in sw and _ACT_PAIR[1] in sw:
                    sw[_ACT_PAIR[0]], sw[_ACT_PAIR[1]] = attrs[_ACT_PAIR[1]], attrs[_ACT_PAIR[0]]
                src = list(node.inputs)
                ia, ib = attrs[a].i, attrs[b].i
                src[ia], src[ib] = src[ib], src[ia]
                yield from self._node(pat, ref, node, sw, src, refs, scalars, nodes)

    def _node(self, pat, ref, node, attrs, src_refs, refs, scalars, nodes) -> Iterator[tuple]:
        if pat.src and len(pat.src) != len(node.inputs):
            return
        scal = dict(scalars)
        sub: list[tuple[Pat, Ref]] = list(zip(pat.src, src_refs)) if pat.src else []
        for k, want in pat.attrs.items():
            if k not in attrs:
                return
            have = attrs[k]
            if isinstance(want, Pat):
                if type(have) is not In:
                    return
                sub.append((want, node.inputs[have.i]))
            elif isinstance(want, Bind):
                if want.name in scal and scal[want.name] != have:
                    return
                scal[want.name] = have
            elif not _attr_match(want, have):
                return
        nodes2 = nodes if node in nodes else nodes + [node]
        refs2 = {**refs, pat.name: (ref, node)} if pat.name is not None else refs
        for st in self._all(sub, 0, refs2, scal, nodes2):
            if pat.where is not None and not pat.where(node, self.rw):
                continue
            yield st

    def _all(self, sub, k, refs, scalars, nodes) -> Iterator[tuple]:
        if k == len(sub):
            yield refs, scalars, nodes
            return
        p, r = sub[k]
        for st in self._pat(p, r, refs, scalars, nodes):
            yield from self._all(sub, k + 1, *st)


# ------------------------------------------------------------------------------------------------- rewriter
class Rewriter:
    """The graph being rewritten, as callbacks see it: queries, and `emit` to build replacement nodes."""

    def __init__(self, graph: Graph, pass_ctx=None, table: str = "rules"):
        self.pass_ctx = pass_ctx
        self.table = table
        self.device_spec = getattr(pass_ctx, "device_spec", None)
        self.mesh_shape = tuple(getattr(pass_ctx, "mesh_shape", (1, 1)))
        self._next = graph.next_id()
        self._set_graph(graph)
        self._staged: list[Node] = []
        self._extra: list[tuple[Node, Any]] = []
        self._root: Node | None = None

    def _set_graph(self, graph: Graph) -> None:
        self.graph = graph
        self._index = graph.node_index()
        self._users = graph.users()
        self._outputs = {r.value for r in graph.outputs}
        self._pos = {n.id: k for k, n in enumerate(graph.nodes)}

    # -------------------------------------------------------------------------------------------- queries
    def node(self, ref: Ref) -> Node | None:
        """The node producing `ref` (None for a graph input)."""
        return None if self.graph.is_input(ref) else self._index.get(ref.node)

    def spec(self, ref: Ref) -> TensorSpec:
        if self.graph.is_input(ref):
            return self.graph.inputs[ref.node]
        staged = next((n for n in self._staged if n.id == ref.node), None)
        if staged is not None:
            return staged.outs[ref.out]
        return self._index[ref.node].outs[ref.out]

    def is_input(self, ref: Ref) -> bool:
        return self.graph.is_input(ref)

    def is_output(self, ref: Ref) -> bool:
        return ref.value in self._outputs

    def users(self, ref: Ref) -> list[Node]:
        """Nodes reading this value, in execution order."""
        return list(self._users.get(ref.value, ()))

    def single_use(self, node: Node) -> bool:
        """Every output of `node` is read by one and the same node, and none is a graph output."""
        readers: set[int] = set()
        for k in range(node.num_values):
            if node.id + k in self._outputs:
                return False
            readers.update(u.id for u in self._users.get(node.id + k, ()))
        return len(readers) == 1

    def position(self, node: Node) -> int:
        return self._pos[node.id]

    def input_ref(self, node: Node, param: str) -> Ref | None:
        """The tensor bound to parameter `param` of `node` (None when it is not a tensor)."""
        v = node.attr(param)
        return node.inputs[v.i] if type(v) is In else None

    def attrs(self, node: Node) -> dict:
        """The node's static arguments by name (tensor parameters hold their Ref)."""
        out = {}
        for k, v in node.attrs:
            out[k] = _sub_refs(v, node)
        return out

    # ------------------------------------------------------------------------------------------- building
    def emit(self, op: str, *, note: str | None = None, **args: Any) -> Any:
        """Add a node calling `op` with these arguments (Refs for tensors, lists of Refs for tensor lists);
        returns its Ref (a tuple of Refs for multi-output ops). Raises SpecError when the op rejects them."""
        from ttfuse.opdef import OPS
        from ttfuse.verify import infer_outs

        opdef = OPS[op]
        inputs: list[Ref] = []

        def conv(v):
            if isinstance(v, Ref):
                inputs.append(v)
                return In(len(inputs) - 1)
            if v is DEVICE:
                return DeviceArg()
            if isinstance(v, list | tuple) and v and any(isinstance(x, Ref) for x in v):
                items = [conv(x) for x in v]
                return FrozenList(items) if isinstance(v, list) else tuple(items)
            return freeze(v)

        attrs = []
        for name, p in opdef.signature.parameters.items():
            if name in args:
                v = args.pop(name)
            elif p.default is not p.empty:
                v = p.default
            else:
                raise TypeError(f"emit({op!r}): missing required argument {name!r}")
            attrs.append((name, conv(v)))
        if args:
            raise TypeError(f"emit({op!r}): unknown argument(s) {sorted(args)}")
        attrs_t = tuple(attrs)
        in_specs = [self.spec(r) for r in inputs]
        outs, multi = infer_outs(op, attrs_t, in_specs)
        side = NodeSide(loc=self._root.side.loc if self._root is not None else None)
        if note:
            side.notes = (note,)
        node = Node(self._next, op, tuple(inputs), attrs_t, outs, multi, side)
        self._next += node.num_values
        self._staged.append(node)
        refs = node.out_refs
        return refs if multi else refs[0]

    def also_replace(self, node: Node, res: Any) -> None:
        """Replace another node's outputs in the same rewrite (horizontal fusion: every sibling at once)."""
        self._extra.append((node, res))

    def try_emit(self, op: str, **args: Any) -> Any:
        """`emit`, or a Miss naming the op's objection (a SpecError) when the op rejects the arguments."""
        try:
            return self.emit(op, **args)
        except SpecError as e:
            return Miss(f"{op} rejects the fused form: {str(e).splitlines()[0]}")

    def edit(self, root: Node, fn: Callable[[Rewriter], Any]) -> Graph | str | None:
        """Run one rewrite outside the rule driver: `fn(rw)` emits nodes and returns the values replacing
        `root` (and `also_replace`s others). Returns the new graph, a reason string (Miss or rejected commit),
        or None; the rewriter then holds the new graph."""
        self._staged, self._extra, self._root = [], [], root
        try:
            res = fn(self)
            if res is None:
                return None
            if isinstance(res, Miss):
                return res.reason
            out = self._commit(root, res)
        finally:
            self._staged, self._extra, self._root = [], [], None
        if isinstance(out, Graph):
            self._set_graph(out)
        return out

    # ------------------------------------------------------------------------------------------- commit
    def _commit(self, root: Node, res: Any) -> Graph | str:
        subst: dict[int, Ref] = {}
        all_refs: list[Ref] = []
        for node, val in [(root, res), *self._extra]:
            refs = (val,) if isinstance(val, Ref) else tuple(val)
            if len(refs) != len(node.outs):
                return f"callback returned {len(refs)} values for the {len(node.outs)} outputs of %{node.id}"
            for k, r in enumerate(refs):
                got = self.spec(r)
                if got != node.outs[k]:
                    return f"replacement spec {got} differs from {node.outs[k]} (%{node.id + k})"
                if r != Ref(node.id, k):
                    subst[node.id + k] = r
            all_refs.extend(refs)
        refs = tuple(all_refs)

        def sub(r: Ref) -> Ref:
            return subst.get(r.value, r)

        seq: list[Node] = []
        for n in self.graph.nodes:
            if n.id == root.id:
                seq.extend(self._staged)
            if any(r.value in subst for r in n.inputs):
                n = n.replace(inputs=tuple(sub(r) for r in n.inputs))
            seq.append(n)
        n_in = len(self.graph.inputs)
        ordered = seq if in_order(seq, n_in) else toposort(seq, n_in)
        if ordered is None:
            return "the rewrite would create a cycle"
        g = dce(self.graph.replace(nodes=ordered, outputs=tuple(sub(r) for r in self.graph.outputs)))
        live = {n.id for n in g.nodes}
        dead = [n for n in self.graph.nodes if n.id not in live]
        mains = {r.node for r in refs if any(s.id == r.node for s in self._staged)}
        if dead and mains:
            g = _record_replaced(g, mains, dead)
        return g


DEVICE = object()  # `rw.emit(op, device=DEVICE)`: the graph's device (a DeviceArg)


def _sub_refs(v: Any, node: Node) -> Any:
    t = type(v)
    if t is In:
        return node.inputs[v.i]
    if t is FrozenList or t is tuple:
        return type(v)(_sub_refs(x, node) for x in v)
    return v


def origins(node: Node) -> tuple[int, ...]:
    """Traced-graph node ids a fused node replaced (`node.side.origins`), else ()."""
    return node.side.origins


def _record_replaced(g: Graph, mains: set[int], dead: list[Node]) -> Graph:
    ops: list[str] = []
    ids: list[int] = []
    for n in dead:
        o = n.side.origins
        if o:
            ids.extend(o)
            ops.extend(n.side.replaced)
        else:
            ids.append(n.id)
            ops.append(n.op)
    nodes = []
    for n in g.nodes:
        if n.id in mains:
            all_ids = tuple(sorted(set(n.side.origins) | set(ids)))
            n = n.replace(side=n.side.plus(origins=all_ids, replaced=tuple(n.side.replaced) + tuple(ops)))
        nodes.append(n)
    return g.replace(nodes=nodes)


# -------------------------------------------------------------------------------------------------- driver
def rule_name(rule: Rule) -> str:
    fn = rule[1]
    return getattr(fn, "rule_name", None) or getattr(fn, "__name__", "rule")


def rewrite(
    graph: Graph,
    rules: list[Rule],
    pass_ctx=None,
    *,
    table: str = "rules",
    max_rewrites: int | None = None,
) -> Graph:
    """Apply `rules` until none fires (see the module docstring). Pure: returns a new graph (or `graph`).
    Spec rules (of `rw.emit`, of kernels' checks) see `pass_ctx`'s device (passes/context.py target_device)."""
    by_op: dict[str | None, list[Rule]] = {}
    for rule in rules:
        pat = rule[0]
        for op in sorted(pat.ops) if pat.ops is not None else (None,):
            by_op.setdefault(op, []).append(rule)
    wild = by_op.get(None, [])
    limit = max_rewrites if max_rewrites is not None else 20 * len(graph.nodes) + 100
    rw = Rewriter(graph, pass_ctx, table)
    misses: dict[int, list[Decision]] = {}
    count = 0
    with target_device(pass_ctx):
        matcher = _Matcher(rw)
        progress = True
        while progress:  # sweeps until one fires nothing; after a rewrite a sweep goes on where it was
            progress = False
            i = 0
            while i < len(rw.graph.nodes):
                node = rw.graph.nodes[i]
                fired = False
                for rule in by_op.get(node.op, []) + wild:
                    res = _try(rw, matcher, rule, node)
                    if res is None:
                        continue
                    if isinstance(res, str):
                        lst = misses.setdefault(node.id, [])
                        d = Decision(table, rule_name(rule), res)
                        if d not in lst:
                            lst.append(d)
                        continue
                    count += 1
                    if count > limit:
                        raise RewriteLimitError(
                            f"rewrite({table}): more than {limit} rewrites (last rule {rule_name(rule)} at "
                            f"%{node.id} {node.op}); two rules probably undo each other"
                        )
                    rw._set_graph(res)
                    progress = fired = True
                    break
                if not fired:
                    i += 1
    g = rw.graph
    if misses:
        nodes = []
        for n in g.nodes:
            extra = [d for d in misses.get(n.id, ()) if d not in n.side.decisions]
            if extra:
                n = n.replace(side=n.side.plus(decisions=extra))
            nodes.append(n)
        g = g.replace(nodes=nodes)
    return g


def _try(rw: Rewriter, matcher: _Matcher, rule: Rule, node: Node) -> Graph | str | None:
    """Graph after the rule fired at `node`; a string (reason) for a miss; None when it does not apply."""
    pat, fn = rule
    m = matcher.match(pat, node)
    if m is None:
        return None
    rw._staged = []
    rw._extra = []
    rw._root = node
    try:
        res = fn(rw, m)
        if res is None:
            return None
        if isinstance(res, Miss):
            return res.reason
        out = rw._commit(node, res)
        return out
    finally:
        rw._staged = []
        rw._extra = []
        rw._root = None


def named(name: str) -> Callable[[Callable], Callable]:
    """Give a callback a rule name (for notes and tests) other than its function name."""

    def deco(fn: Callable) -> Callable:
        fn.rule_name = name
        return fn

    return deco


# --------------------------------------------------------------------------------------------- replacements
def _trace_fn(fn: Callable, example_args: tuple, scalars: dict, device_spec) -> Graph:
    from ttfuse.device import device_spec as default_spec
    from ttfuse.ir import trace_function as trace

    return trace(
        fn,
        tuple(example_args),
        dict(scalars),
        name=getattr(fn, "__name__", "pattern"),
        device_spec=device_spec or default_spec(),
        specs_are_tensors=True,
    )


def replacement(
    search_fn: Callable,
    replace_fn: Callable,
    example_args: tuple,
    *,
    extra_check: Callable | None = None,
    scalars: dict | None = None,
    ignore_attrs: tuple[str, ...] = ("memory_config",),
    name: str | None = None,
    device_spec=None,
) -> Rule:
    """A `(pattern, callback)` rule from two plain ttnn functions with the same signature.

    `example_args` are TensorSpecs for the tensor parameters; `scalars` maps keyword parameters to example
    values: where the traced search graph holds that value the pattern binds any value, and the replacement
    receives the bound one. `ignore_attrs` are not matched on intermediate nodes (the root's output spec must
    still equal the replacement's: its memory_config/dtype are set to the root's when the op has them).
    `extra_check(rw, m)` -> bool | Miss vetoes a match.
    """
    scalars = dict(scalars or {})
    sg = _trace_fn(search_fn, example_args, scalars, device_spec)
    rg = _trace_fn(replace_fn, example_args, scalars, device_spec)
    if len(sg.outputs) != 1 or len(rg.outputs) != 1:
        raise ValueError("replacement(): search and replacement functions must return one tensor")
    by_value = {_hashable_key(v): k for k, v in scalars.items()}
    index = sg.node_index()
    n_in = len(sg.inputs)
    memo: dict[int, Pat] = {}

    def pat_of(ref: Ref, root: bool) -> Pat:
        if ref.node < n_in:
            return Pat.any(name=f"arg{ref.node}")
        if ref.value in memo:
            return memo[ref.value]
        n = index[ref.node]
        attrs: dict[str, Any] = {}
        for k, v in n.attrs:
            if type(v) is In:
                attrs[k] = pat_of(n.inputs[v.i], False)
            elif k in ignore_attrs:
                continue
            elif _attr_tensors(v):
                attrs[k] = _list_pred(v)
            elif _hashable_key(v) in by_value:
                attrs[k] = Bind(by_value[_hashable_key(v)])
            else:
                attrs[k] = thaw(v)
        p = Pat(n.op, name=f"n{n.id}", one_use=not root, out=ref.out, **attrs)
        memo[ref.value] = p
        return p

    pattern = pat_of(sg.outputs[0], True)

    def callback(rw: Rewriter, m: Match):
        if extra_check is not None:
            ok = extra_check(rw, m)
            if isinstance(ok, Miss):
                return ok
            if not ok:
                return Miss("extra_check rejected the match")
        env: dict[int, Any] = {}
        for i in range(len(rg.inputs)):
            key = f"arg{i}"
            if not m.has(key):
                return Miss(f"replacement input {i} is not bound by the search pattern")
            env[i] = m.ref(key)
        bound = {nm: (scalars[nm], m.scalar(nm)) for nm in scalars if nm in m.scalars}
        out_ref = rg.outputs[0]
        for n in rg.nodes:
            args = {pname: _inline_value(v, n, env, bound) for pname, v in n.attrs}
            if n.id == out_ref.node:  # the root takes the matched root's output placement and dtype
                want = m.root.outs[0]
                params = set(n.opdef.params)
                root_attrs = dict(m.root.attrs)
                for key, value in (("memory_config", want.memory_config), ("dtype", want.dtype)):
                    if key in params:
                        args[key] = root_attrs[key] if key in root_attrs else value
            res = rw.try_emit(n.op, **args)
            if isinstance(res, Miss):
                return res
            for j, r in enumerate((res,) if isinstance(res, Ref) else res):
                env[n.id + j] = r
        return env[out_ref.value]

    callback.rule_name = (
        name or f"{getattr(search_fn, '__name__', 'search')}_to_{getattr(replace_fn, '__name__', '')}"
    )
    return pattern, callback


def _hashable_key(v: Any) -> Any:
    try:
        hash(v)
        return (type(v), v)
    except TypeError:
        return None


def _attr_tensors(v: Any) -> bool:
    from ttfuse.ir import attr_tensor_positions

    return bool(attr_tensor_positions(v))


def _list_pred(v: Any) -> Callable:
    n = len(v)
    return lambda have: isinstance(have, list | tuple) and len(have) == n


def _inline_value(v: Any, n: Node, env: dict, bound: dict) -> Any:
    t = type(v)
    if t is In:
        r = n.inputs[v.i]
        return env[r.value]
    if t is FrozenList:
        return [_inline_value(x, n, env, bound) for x in v]
    if t is tuple:
        return tuple(_inline_value(x, n, env, bound) for x in v)
    if t is DeviceArg:
        return DEVICE
    key = _hashable_key(v)
    for example, value in bound.values():
        if key is not None and key == _hashable_key(example):
            return thaw(value)
    return thaw(v)
