"""The ttfuse IR: a Graph of Nodes in SSA form, each output carrying an immutable TensorSpec.

    graph block(%0: bf16[32,64]@DRAM, %1: bf16[64,64]@DRAM):
      %2: bf16[32,64]@DRAM = linear %0 %1 {activation=silu}  # model.py:41
      %3: bf16[32,64]@DRAM = relu %2  # model.py:42
      return %3

Values are numbered: graph inputs are %0..%(n-1); a Node's `id` is the value number of its first output and
its k-th output is %(id+k).

Every node is a pure function of its inputs: in-place ops (`add_`, `copy`, `softmax_in_place`, ...) are
functional here (their output is a new value; the target value is unchanged), so passes never reason about
aliasing. What the caller sees written into its tensors is data of the graph: `writes[j]` is the input that the
j-th of the last `len(writes)` outputs is copied back into when the function returns (printed
`return %5 ; %0 <- %9`). Codegen decides where an op may really run in place (ttfuse/codegen.py). A `Ref(node, out)` names one value (an input is `Ref(i, 0)` with i < n inputs).
Node identity is (op, inputs, attrs, outs, multi); `side` (source location, chosen configs, the ops fused into
it and the traced nodes they were (`origins`), typed pass decisions, printable notes) is kept out of equality and
the structural hash.

Attributes hold every parameter of the op by name (defaults applied) as hashable static values; a tensor
parameter holds an `In(k)` marker (the k-th entry of `node.inputs`), a list of tensors a FrozenList/tuple of
markers, a device argument `DeviceArg()` (the device the graph runs on). List-valued static arguments are
`FrozenList`s (hashable; codegen passes them as lists again).

Values, markers and their JSON coding live in ttfuse/ir/values.py, the printer in ttfuse/ir/printer.py.
Invariants (checked by ttfuse/verify.py): nodes are in a valid execution order (every ref is defined
earlier), value numbers are unique, every op is registered, outs equal the spec rule's result.
Extend: new static value kinds: see ttfuse/ir/values.py.

`trace_function(fn, args, kwargs, ...)` builds a Graph from a Python function of ttnn calls with the tracer
capture installs (ttfuse/capture/trace.py): passes build graphs from template functions through it (rewrite
rules, coverage fallbacks) without importing capture, which sits above them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ttfuse.ir.printer import format_graph
from ttfuse.ir.values import Ref, decode_spec, decode_value, encode_value, freeze
from ttfuse.types import TensorSpec, to_json_value

IR_VERSION = 3  # 2: in-place ops are functional, write-backs are graph data (`writes`); 3: typed provenance


# ------------------------------------------------------------------------------------------------- nodes
@dataclass(frozen=True)
class Decision:
    """What a pass decided about a node, typed: `by` the pass or rule table ("chunk", "fuse.linear"), `rule` the
    rule (or ""), `reason` in words. Passes read these fields; `str(d)` is the printable note, which is also
    appended to `NodeSide.notes` (notes are for people and are never parsed)."""

    by: str
    rule: str = ""
    reason: str = ""

    @property
    def pass_name(self) -> str:
        """The pipeline pass of the table (`fuse` for "fuse.linear")."""
        return self.by.split(".", 1)[0]

    def __str__(self) -> str:
        return f"{self.by}.{self.rule}: {self.reason}" if self.rule else f"{self.by}: {self.reason}"


@dataclass
class NodeSide:
    """Side data of a node, never part of its identity: source location, chosen configs, provenance, pass notes.

    Typed provenance: `origins` are the traced-graph node ids a fused node replaced (nested fusions
    flattened), `cse` the ids of duplicates computed once as this node, `decisions` what passes decided here.
    `notes` is the printable log (every decision's text among them); code never parses it."""

    loc: tuple[str, int, str] | None = None  # (file, line, function) of the user's call
    config: dict = field(default_factory=dict)  # configs chosen by passes (program_config, ...)
    notes: tuple[str, ...] = ()
    replaced: tuple[str, ...] = ()  # op names fused into this node
    origins: tuple[int, ...] = ()  # traced node ids this node replaced (sorted; () for a traced node)
    cse: tuple[int, ...] = ()  # node ids of identical nodes CSE merged into this one
    decisions: tuple[Decision, ...] = ()

    def short_loc(self) -> str:
        if self.loc is None:
            return ""
        return f"{os.path.basename(self.loc[0])}:{self.loc[1]}"

    def plus(self, *, config: dict | None = None, notes=(), decisions=(), **fields) -> NodeSide:
        """A new NodeSide with config entries merged in, notes and decisions appended (each decision's text
        added to the notes) and other fields replaced; side data is never mutated."""
        cfg = dict(self.config)
        if config:
            cfg.update(config)
        return dataclasses.replace(
            self,
            config=cfg,
            notes=self.notes + tuple(notes) + tuple(str(d) for d in decisions),
            decisions=self.decisions + tuple(decisions),
            **fields,
        )

    def to_json(self) -> dict:
        d: dict = {}
        if self.loc is not None:
            d["loc"] = [self.loc[0], self.loc[1], self.loc[2]]
        if self.config:
            d["config"] = [[k, encode_value(v)] for k, v in self.config.items()]
        if self.notes:
            d["notes"] = list(self.notes)
        if self.replaced:
            d["replaced"] = list(self.replaced)
        if self.origins:
            d["origins"] = list(self.origins)
        if self.cse:
            d["cse"] = list(self.cse)
        if self.decisions:
            d["decisions"] = [[x.by, x.rule, x.reason] for x in self.decisions]
        return d

    @staticmethod
    def from_json(d: dict) -> NodeSide:
        loc = d.get("loc")
        return NodeSide(
            loc=(loc[0], int(loc[1]), loc[2]) if loc else None,
            config={k: decode_value(v) for k, v in d.get("config", [])},
            notes=tuple(d.get("notes", ())),
            replaced=tuple(d.get("replaced", ())),
            origins=tuple(int(i) for i in d.get("origins", ())),
            cse=tuple(int(i) for i in d.get("cse", ())),
            decisions=tuple(Decision(*x) for x in d.get("decisions", ())),
        )


@dataclass(frozen=True)
class Node:
    """One op call. `attrs` holds every parameter by name (tensor params as In markers)."""

    id: int
    op: str
    inputs: tuple[Ref, ...]
    attrs: tuple[tuple[str, Any], ...]
    outs: tuple[TensorSpec, ...]
    multi: bool = False  # the op returns a tuple/list (even of one tensor), not a bare tensor
    side: NodeSide = field(default_factory=NodeSide, compare=False, hash=False, repr=False)

    @property
    def opdef(self):
        from ttfuse.opdef import OPS

        return OPS[self.op]

    def attr(self, name: str, default: Any = None) -> Any:
        for k, v in self.attrs:
            if k == name:
                return v
        return default

    @property
    def out_refs(self) -> tuple[Ref, ...]:
        return tuple(Ref(self.id, k) for k in range(len(self.outs)))

    @property
    def num_values(self) -> int:
        """Value numbers this node occupies (at least one, even without outputs)."""
        return max(1, len(self.outs))

    def replace(self, **kw) -> Node:
        d = {
            "id": self.id,
            "op": self.op,
            "inputs": self.inputs,
            "attrs": self.attrs,
            "outs": self.outs,
            "multi": self.multi,
            "side": self.side,
        }
        d.update(kw)
        return Node(**d)

    def to_json(self) -> dict:
        d = {
            "id": self.id,
            "op": self.op,
            "inputs": [[r.node, r.out] for r in self.inputs],
            "attrs": [[k, encode_value(v)] for k, v in self.attrs],
            "outs": [to_json_value(s) for s in self.outs],
        }
        if self.multi:
            d["multi"] = True
        side = self.side.to_json()
        if side:
            d["side"] = side
        return d

    @staticmethod
    def from_json(d: dict) -> Node:
        return Node(
            id=int(d["id"]),
            op=str(d["op"]),
            inputs=tuple(Ref(int(a), int(b)) for a, b in d["inputs"]),
            attrs=tuple((str(k), decode_value(v)) for k, v in d["attrs"]),
            outs=tuple(decode_spec(s) for s in d["outs"]),
            multi=bool(d.get("multi", False)),
            side=NodeSide.from_json(d.get("side", {})),
        )


# ------------------------------------------------------------------------------------------------- graph
@dataclass(eq=False)
class Graph:
    """A traced function: tensor inputs, nodes in execution order, output refs and the output pytree."""

    inputs: tuple[TensorSpec, ...]
    nodes: list[Node]
    outputs: tuple[Ref, ...]
    out_tree: Any = "*"  # JSON-able pytree structure (see ttfuse/capture/pytree.py)
    meta: dict = field(default_factory=dict)  # name, device, mesh, input names, ... (not identity)
    # input index each of the last len(writes) outputs is written back into (the caller's in-place writes)
    writes: tuple[int, ...] = ()

    # equality is structural (meta excluded); side data is excluded through Node equality
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Graph):
            return NotImplemented
        return (
            self.inputs == other.inputs
            and self.nodes == other.nodes
            and self.outputs == other.outputs
            and self.out_tree == other.out_tree
            and self.writes == other.writes
        )

    __hash__ = None  # type: ignore[assignment]

    # ---------------------------------------------------------------------------------------- queries
    def input_refs(self) -> tuple[Ref, ...]:
        return tuple(Ref(i, 0) for i in range(len(self.inputs)))

    def is_input(self, r: Ref) -> bool:
        return r.node < len(self.inputs)

    @property
    def user_outputs(self) -> tuple[Ref, ...]:
        """The outputs the function returns (the out_tree's leaves), without the write-backs."""
        return self.outputs[: len(self.outputs) - len(self.writes)]

    def write_backs(self) -> tuple[tuple[int, Ref], ...]:
        """(input index, value written into it) for each argument the function writes in place."""
        n = len(self.outputs) - len(self.writes)
        return tuple(zip(self.writes, self.outputs[n:]))

    def spec_of(self, r: Ref, _index: dict | None = None) -> TensorSpec:
        if self.is_input(r):
            return self.inputs[r.node]
        index = _index if _index is not None else self.node_index()
        return index[r.node].outs[r.out]

    def node_index(self) -> dict[int, Node]:
        return {n.id: n for n in self.nodes}

    def next_id(self) -> int:
        """A fresh value number (above every input and node value)."""
        top = len(self.inputs)
        for n in self.nodes:
            top = max(top, n.id + n.num_values)
        return top

    def users(self) -> dict[int, list[Node]]:
        """Value number -> nodes that read it (in execution order)."""
        out: dict[int, list[Node]] = {}
        for n in self.nodes:
            for r in n.inputs:
                lst = out.setdefault(r.value, [])
                if not lst or lst[-1] is not n:
                    lst.append(n)
        return out

    def replace(self, **kw) -> Graph:
        d = {
            "inputs": self.inputs,
            "nodes": self.nodes,
            "outputs": self.outputs,
            "out_tree": self.out_tree,
            "meta": self.meta,
            "writes": self.writes,
        }
        d.update(kw)
        return Graph(**d)

    def copy(self) -> Graph:
        return self.replace(nodes=list(self.nodes), meta=dict(self.meta))

    # ------------------------------------------------------------------------------------------- JSON
    def to_json(self) -> dict:
        return {
            "ir_version": IR_VERSION,
            "inputs": [to_json_value(s) for s in self.inputs],
            "nodes": [n.to_json() for n in self.nodes],
            "outputs": [[r.node, r.out] for r in self.outputs],
            "out_tree": self.out_tree,
            "meta": _json_meta(self.meta),
            "writes": list(self.writes),
        }

    @staticmethod
    def from_json(d: dict) -> Graph:
        if not isinstance(d, dict) or d.get("ir_version") != IR_VERSION:
            raise ValueError(
                f"not a ttfuse IR v{IR_VERSION} graph (ir_version={d.get('ir_version')!r})"
                if isinstance(d, dict)
                else f"not a ttfuse IR graph: {type(d).__name__}"
            )
        return Graph(
            inputs=tuple(decode_spec(s) for s in d["inputs"]),
            nodes=[Node.from_json(n) for n in d["nodes"]],
            outputs=tuple(Ref(int(a), int(b)) for a, b in d["outputs"]),
            out_tree=d.get("out_tree", "*"),
            meta=dict(d.get("meta", {})),
            writes=tuple(int(k) for k in d.get("writes", ())),
        )

    def structural_hash(self) -> str:
        """sha256 of the graph's identity: value numbers canonicalised, side data and meta excluded."""
        renum: dict[int, int] = {i: i for i in range(len(self.inputs))}
        nxt = len(self.inputs)
        nodes = []
        for n in self.nodes:
            renum[n.id] = nxt
            ins = [[renum.get(r.node, -1 - r.node), r.out] for r in n.inputs]
            nodes.append(
                [
                    n.op,
                    ins,
                    [[k, encode_value(v)] for k, v in n.attrs],
                    [to_json_value(s) for s in n.outs],
                    n.multi,
                ]
            )
            nxt += n.num_values
        body = {
            "inputs": [to_json_value(s) for s in self.inputs],
            "nodes": nodes,
            "outputs": [[renum.get(r.node, -1 - r.node), r.out] for r in self.outputs],
            "out_tree": self.out_tree,
            "writes": list(self.writes),
        }
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=repr)
        return hashlib.sha256(text.encode()).hexdigest()

    # ----------------------------------------------------------------------------------------- views
    def to_networkx(self):
        """A networkx DiGraph: one vertex per input ("in<i>") and node (its id); edges carry the Ref."""
        import networkx as nx

        g = nx.DiGraph()
        n_in = len(self.inputs)
        for i, s in enumerate(self.inputs):
            g.add_node(f"in{i}", kind="input", spec=s)
        for n in self.nodes:
            g.add_node(n.id, kind="node", op=n.op, outs=n.outs, node=n)
            for r in n.inputs:
                src = f"in{r.node}" if r.node < n_in else r.node
                if g.has_edge(src, n.id):
                    g.edges[src, n.id]["refs"].append(r)
                else:
                    g.add_edge(src, n.id, refs=[r])
        for k, r in enumerate(self.outputs):
            g.add_node(f"out{k}", kind="output")
            g.add_edge(f"in{r.node}" if r.node < n_in else r.node, f"out{k}", refs=[r])
        return g

    def __str__(self) -> str:
        return format_graph(self)

    def __repr__(self) -> str:
        return f"<Graph {self.meta.get('name', '?')}: {len(self.inputs)} inputs, {len(self.nodes)} nodes>"


def _json_meta(meta: dict) -> dict:
    out = {}
    for k, v in meta.items():
        try:
            json.dumps(v)
        except (TypeError, ValueError):
            v = repr(v)
        out[str(k)] = v
    return out


def make_attrs(op: str, **args: Any) -> tuple[tuple[str, Any], ...]:
    """Attributes for a node of `op`: every parameter by name, defaults applied, values frozen.

    Tensor parameters take In markers (`make_attrs("add", input_tensor_a=In(0), input_tensor_b=In(1))`).
    """
    import inspect

    from ttfuse.opdef import OPS

    out = []
    for name, p in OPS[op].signature.parameters.items():
        if name in args:
            v = args.pop(name)
        elif p.default is not p.empty:
            v = p.default
        elif p.kind is inspect.Parameter.VAR_POSITIONAL:
            v = ()
        else:
            raise TypeError(f"make_attrs({op!r}): missing required parameter {name!r}")
        out.append((name, freeze(v)))
    if args:
        raise TypeError(f"make_attrs({op!r}): unknown parameter(s) {sorted(args)}")
    return tuple(out)


# ------------------------------------------------------------------------------------------------- tracing
_TRACER: list[Callable[..., Graph]] = []


def set_tracer(fn: Callable[..., Graph]) -> None:
    """Install the function `trace_function` calls (ttfuse/capture/trace.py installs its `trace`)."""
    _TRACER[:] = [fn]


def trace_function(fn: Callable, args: tuple, kwargs: dict, **options) -> Graph:
    """`fn(*args, **kwargs)` captured into a Graph by the installed tracer (arguments as capture's `trace`)."""
    if not _TRACER:
        raise RuntimeError("no graph tracer is installed (importing ttfuse installs ttfuse.capture's)")
    return _TRACER[0](fn, args, kwargs, **options)
