"""Codegen: a verified Graph -> deterministic Python source + globals + line map -> a callable.

    def block(v0, v1, v2):
        try:
            v3 = ttnn.linear(v0, v1, bias=v2, activation='silu')  # %3 model.py:41
            del v0, v1, v2
            v4 = ttnn.relu(v3)  # %4 model.py:42
            del v3
            return (v4,)
        except Exception as e:
            raise _ttfuse_rethrow(e) from e

The function takes the flattened input tensors positionally and returns the flattened outputs as a tuple.
Values are named `v<value number>`; each op is a call of the backend's facade op (`ttnn.<name>` for the sim
backend) with tensor params and non-default static args, literals printed inline when their repr evaluates
back to an equal value (`ttnn.bfloat16`, `ttnn.DRAM_MEMORY_CONFIG`, config classes as `ttnn.Cls(field=...)`),
other objects as globals `_c0, _c1, ...` (named in order of first use). Values are deleted after their last
use. The source is registered with `linecache` under `<ttfuse-gen NAME-HASH>`, so tracebacks show generated
lines; a runtime error is re-raised as a CodegenError (also an instance of the original error's class when
possible) naming the IR node and the user's source line it came from.

Invariants:
- The same graph (and name, backend) gives byte-identical source (no ids, no absolute paths).
- No text from the graph reaches the source unescaped (a graph may come from an edited disk cache entry,
  ttfuse/cache_schema.py): comments go through `comment_text` (no line breaks of any kind, no control
  characters), values through `repr`, names through `_ident`, op names are registry keys. `repr` is eval'd
  (`_roundtrips`) only for the value kinds a cache entry can decode to (`_evaluable`), never a user object's,
  and always against ttfuse's own API (the facade), also for the real-ttnn backend, which then evaluates the same
  text to its own objects (tests/conformance312 constructs every such literal with the real wheel).
Extend: a new static value kind needs a branch in `_Gen.lit` (and in `_evaluable` if its repr is a literal);
a new backend is a `ttfuse.backend.Backend` in the registry: its `api()` is the `ttnn` the code calls,
its `plan()` / `region()` group ops into regions (the simulator's row-blocked execution, ttfuse/sim/blocked.py,
comes to codegen this way: codegen does not import a backend).
"""

from __future__ import annotations

import enum
import functools
import hashlib
import inspect
import keyword
import linecache
import math
import unicodedata
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from typing import Any

from ttfuse.backend import Backend, backend_names, get_backend
from ttfuse.errors import CodegenError, format_frame
from ttfuse.ir import DeviceArg, FrozenList, Graph, In, Node, Ref, format_node
from ttfuse.types import Shape


@dataclass
class Compiled:
    """Generated code for one graph: `.fn(*flat_inputs) -> tuple of outputs`."""

    source: str
    fn: Callable
    line_map: dict[int, int]  # generated line -> node id
    filename: str
    name: str
    graph: Graph = field(repr=False)
    globals: dict = field(default_factory=dict, repr=False)


# ----------------------------------------------------------------------------------------------- backends
def _backend(name: str) -> tuple[Backend, Any]:
    """The registered backend `name` and the module its generated code calls as `ttnn`."""
    try:
        b = get_backend(name)
    except KeyError:
        known = ", ".join(repr(n) for n in backend_names())
        raise CodegenError(f"unknown codegen backend {name!r}; known: {known}") from None
    try:
        return b, b.api()
    except ImportError as e:
        raise CodegenError(f"backend {name!r} needs {b.requires}: {e}") from None


def _facade_api():
    """The module ttfuse's facade backends give generated code as `ttnn` (ttfuse's own API)."""
    for name in backend_names():
        b = get_backend(name)
        if b.facade_api:
            return b.api()
    raise CodegenError("no facade backend is registered (ttfuse.sim registers one)")


def _resolve(mod, dotted: str):
    obj = mod
    for part in dotted.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


# ------------------------------------------------------------------------------------------------ comments
def comment_text(text: object) -> str:
    """`text` safe inside a `#` comment of generated source: every character that is not printable is
    written as its escape (`\\n`, `\\x0c`, `\\u2028`, ...). That covers everything Python's tokenizer or
    `str.splitlines` (linecache, tracebacks) treats as a line break (\\n \\r \\f \\v \\x1c-\\x1e \\x85
    \\u2028 \\u2029), NUL, other control characters, bidi format characters and lone surrogates (which
    would not even encode). Printable text, backslashes included, is returned unchanged."""
    s = str(text)
    if s.isprintable():
        return s
    return "".join(c if c.isprintable() else _escape(c) for c in s)


def _escape(c: str) -> str:
    o = ord(c)
    if c in "\t\n\r":
        return repr(c)[1:-1]
    return f"\\x{o:02x}" if o < 0x100 else f"\\u{o:04x}" if o < 0x10000 else f"\\U{o:08x}"


# ------------------------------------------------------------------------------------------------ literals
_ROUNDTRIP: dict[tuple[type, str], bool] = {}


def _evaluable(v: Any, depth: int = 0) -> bool:
    """Whether `repr(v)` may be eval'd to test it as a literal: only scalars, containers of them, ttfuse's
    enums and the registered type and config classes (ttfuse.types / ttfuse.configs), whose reprs ttfuse
    writes; these are the kinds a cache entry decodes to. Anything else (a user object) becomes a global."""
    t = type(v)
    if v is None or t in (bool, int, float, str, Shape):
        return True
    if depth > 32:
        return False
    if t in (tuple, list, FrozenList):
        return all(_evaluable(x, depth + 1) for x in v)
    if t is dict:
        return all(_evaluable(k, depth + 1) and _evaluable(x, depth + 1) for k, x in v.items())
    if isinstance(v, enum.Enum):
        return t.__module__.startswith("ttfuse.")
    from ttfuse import configs, types

    if types._DATACLASSES.get(t.__name__) is t or configs.CONFIG_CLASSES.get(t.__name__) is t:
        return all(_evaluable(getattr(v, f), depth + 1) for f in types.fields_of_class(t))
    return False


def _roundtrips(v: Any, text: str, ns: dict) -> bool:
    key = (type(v), text)
    ok = _ROUNDTRIP.get(key)
    if ok is None:
        if not _evaluable(v):
            return False
        try:
            back = eval(text, {"__builtins__": {}, **ns})  # noqa: S307 - our own repr of a static value
            ok = type(back) is type(v) and bool(back == v)
        except Exception:  # noqa: BLE001 - any failure means: not a literal
            ok = False
        _ROUNDTRIP[key] = ok
    return ok


def _ident(name: str) -> str:
    """A Python identifier for `name` (characters that cannot continue an identifier become `_`)."""
    s = "".join(c if ("_" + c).isidentifier() else "_" for c in unicodedata.normalize("NFKC", name))
    if not s.isidentifier() or keyword.iskeyword(s):
        s = "f_" + s
    return s


class _Gen:
    def __init__(self, graph: Graph, name: str, backend: Backend, mod, block_bytes: int = 0):
        self.g = graph
        self.block_bytes = block_bytes
        self.name = _ident(name)
        self.backend = backend
        self.facade = backend.facade_api  # the code calls ttfuse's facade: every op is an OpDef there
        self.mod = mod
        # NOTE: a static value's text is checked against ttfuse's own API (the facade, whose names conformance checks
        # against real ttnn): for the real wheel `eval` would give a ttnn object that never equals ttfuse's, and
        # every dtype and config would become a global holding a ttfuse object that real ops reject
        # (found with ttnn and ttfuse in one process, tests/conformance312)
        self.ns = {"ttnn": mod if self.facade else _facade_api()}
        self.consts: dict[str, Any] = {}  # global name -> value
        self.const_text: dict[str, str] = {}
        self.need_dev = False
        self.op_globals: dict[str, Any] = {}
        self.rename: dict[
            int, str
        ] = {}  # value number -> the variable a call reads it from (in-place clones)

    # value names
    @staticmethod
    def var(r: Ref) -> str:
        return f"v{r.node + r.out}"

    def lit(self, v: Any, node: Node, allow_const: bool = True) -> str | None:
        """The source text of a static value (None when it has no literal form and `allow_const` is False)."""
        t = type(v)
        if t is In:
            r = node.inputs[v.i]
            return self.rename.get(r.value) or self.var(r)
        if t is DeviceArg:
            self.need_dev = True
            return "_dev"
        if v is None or t in (bool, int, str):
            return repr(v)
        if t is float:
            return repr(v) if math.isfinite(v) else f"float({str(v)!r})"
        if t is FrozenList or t is list or t is tuple:
            items = [self.lit(x, node, allow_const) for x in v]
            if any(x is None for x in items):
                return None
            if t is tuple:
                return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
            return "[" + ", ".join(items) + "]"
        if t is Shape:
            return "ttnn.Shape([" + ", ".join(map(str, v)) + "])"
        text = repr(v)
        if _roundtrips(v, text, self.ns):
            return text
        if is_dataclass(v) and getattr(self.ns["ttnn"], t.__name__, None) is t:
            text = self._dataclass_lit(v, node)
            if text is not None and _roundtrips(v, text, self.ns):
                return text
        return self.const(v) if allow_const else None

    def _dataclass_lit(self, v: Any, node: Node) -> str | None:
        """`ttnn.Cls(field=..., ...)` for config/type dataclasses of the facade (positional for ShardSpec,
        whose constructor names differ from its fields); None when a field has no literal form."""
        positional = type(v).__name__ == "ShardSpec"
        names = []
        for f in fields(v):
            if f.name.startswith("_"):
                continue
            # fields at their default are left out (readability) except for real ttnn, whose constructors
            # require some fields ttfuse defaults; the round-trip check guards the result
            if (
                self.facade
                and not positional
                and f.default is not MISSING
                and _is_default(getattr(v, f.name), f.default)
            ):
                continue
            names.append(f.name)
        parts = [self.lit(getattr(v, n), node, allow_const=False) for n in names]
        if any(p is None for p in parts):
            return None
        if positional:
            return "ttnn.ShardSpec(" + ", ".join(parts) + ")"
        return f"ttnn.{type(v).__name__}(" + ", ".join(f"{n}={p}" for n, p in zip(names, parts)) + ")"

    def const(self, v: Any) -> str:
        for k, x in self.consts.items():
            if type(x) is type(v) and x == v:
                return k
        name = f"_c{len(self.consts)}"
        self.consts[name] = v
        self.const_text[name] = comment_text(repr(v).replace("\n", " "))
        return name

    def op_expr(self, node: Node) -> str:
        op = node.opdef
        if self.facade:
            if _resolve(self.mod, node.op) is op:
                return "ttnn." + node.op
            gname = "_op_" + _ident(node.op)
            self.op_globals[gname] = op
            return gname
        if op.ttnn_rule is not None:
            # a ttfuse kernel on real ttnn: its ttnn rule, the composite of stock ttnn calls (ttfuse/kernels)
            gname = "_k_" + _ident(node.op)
            self.op_globals[gname] = functools.partial(op.ttnn_rule, self.mod)
            return gname
        return "ttnn." + node.op

    def call_args(self, node: Node) -> str:
        params = node.opdef.signature.parameters
        attrs = dict(node.attrs)
        # Positional: the leading parameters without defaults (tensors, required statics), all parameters up to
        # a positional-only or *args one; keywords for the rest when they differ from the default.
        P = inspect.Parameter
        kinds = [p.kind for p in params.values()]
        last_forced = max(
            (i for i, k in enumerate(kinds) if k in (P.POSITIONAL_ONLY, P.VAR_POSITIONAL)), default=-1
        )
        pos: list[str] = []
        kws: list[str] = []
        keyword_mode = False
        for i, (pname, p) in enumerate(params.items()):
            v = attrs[pname]
            if p.kind is P.VAR_POSITIONAL:
                pos.extend(self.lit(x, node) for x in v)
                continue
            if p.kind is P.VAR_KEYWORD:
                for k, x in v.items() if isinstance(v, dict) else v:
                    if not (type(k) is str and k.isidentifier() and not keyword.iskeyword(k)):
                        raise CodegenError(f"{node.op}: keyword argument name {k!r} is not an identifier")
                    kws.append(f"{k}={self.lit(x, node)}")
                continue
            has_default = p.default is not p.empty
            if p.kind is P.KEYWORD_ONLY or (has_default and i > last_forced):
                keyword_mode = True
            if not keyword_mode:
                pos.append(self.lit(v, node))
            elif not (has_default and _is_default(v, p.default)):
                kws.append(f"{pname}={self.lit(v, node)}")
        return ", ".join(pos + kws)

    def items(self) -> list:
        """Nodes in order, with runs of them grouped into region plans where the backend does that (the
        simulator: row-independent nodes, ttfuse/sim/blocked.py); a region plan is any item not a Node."""
        return self.backend.plan(self.g, self.block_bytes)

    def region_call(self, rp, k: int) -> str:
        region = self.backend.region(rp, self.g)
        gname = f"_region{k}"
        self.op_globals[gname] = region
        return gname

    def run(self) -> tuple[str, dict[int, int]]:
        g = self.g
        n_in = len(g.inputs)
        params = [f"v{i}" for i in range(n_in)]
        items = self.items()
        end = len(items)
        # last use of every value (item position); outputs and write-backs are used at the end
        last: dict[int, int] = {}
        for k, it in enumerate(items):
            if not isinstance(it, Node):  # a region plan
                for v in it.inputs:
                    last[v] = k
            else:
                for r in it.inputs:
                    last[r.value] = k
        outputs = {r.value for r in g.outputs}
        for v in outputs:
            last[v] = end
        written = dict(g.write_backs())  # input index -> final value
        store = _Storage(g, written, last)

        body: list[tuple[str, int | None]] = []  # (line, node id)
        # a written-back argument stays named until its copy-back (the caller holds it anyway)
        unused_inputs = [f"v{i}" for i in range(n_in) if i not in last and i not in written]
        if unused_inputs:
            body.append((f"del {', '.join(unused_inputs)}", None))
        n_regions = 0
        for k, n in enumerate(items):
            if not isinstance(n, Node):  # a region plan
                # the inputs go in a list the region clears as they die; dying ones leave this frame first
                gname = self.region_call(n, n_regions)
                n_regions += 1
                region = self.op_globals[gname]
                body.append(("# " + comment_text(f"{region.label()}:"), None))
                for m in n.nodes:  # what the region runs, as the op-by-op calls would read
                    outs = ", ".join(f"v{m.id + j}" for j in range(len(m.outs)))
                    text = f"  {outs} = {self.op_expr(m)}({self.call_args(m)})  # %{m.id}" + (
                        f" {m.side.short_loc()}" if m.side.loc else ""
                    )
                    body.append(("# " + comment_text(text), None))
                body.append((f"_a = [{', '.join(f'v{v}' for v in n.inputs)}]", n.nodes[0].id))
                dying = [v for v in n.inputs if last.get(v) == k and v not in outputs and v not in written]
                if dying:
                    body.append((f"del {', '.join(f'v{v}' for v in dying)}", None))
                lhs = ", ".join(f"v{v}" for v in n.outputs) + ("," if len(n.outputs) == 1 else "")
                body.append((f"{lhs} = {gname}(_a)  # %{n.nodes[0].id}..%{n.nodes[-1].id}", n.nodes[0].id))
                for v in n.outputs:
                    store.fresh(v)
                continue
            comment = f"  # %{n.id}" + (f" {comment_text(n.side.short_loc())}" if n.side.loc else "")
            target = store.inplace_target(n)
            if target is not None:
                # an in-place op: it writes into its target's storage when nothing reads that storage later,
                # else into a clone (the IR is functional: the target's old value must survive)
                tv = target.value
                if store.may_write(tv, k):
                    body.append((f"{self.op_expr(n)}({self.call_args(n)}){comment}", n.id))
                    body.append((f"v{n.id} = {self.var(target)}", None))
                    store.share(n.id, tv)
                else:
                    body.append(
                        (
                            f"v{n.id} = ttnn.clone({self.var(target)})  # %{n.id}: in-place target "
                            f"%{tv} is read later",
                            n.id,
                        )
                    )
                    self.rename[tv] = f"v{n.id}"
                    body.append((f"{self.op_expr(n)}({self.call_args(n)}){comment}", n.id))
                    del self.rename[tv]
                    store.fresh(n.id)
            else:
                call = f"{self.op_expr(n)}({self.call_args(n)})"
                names = [f"v{n.id + j}" for j in range(len(n.outs))]
                if not n.multi:
                    lhs = names[0] + " = "
                elif names:
                    lhs = ", ".join(names) + ("," if len(names) == 1 else "") + " = "
                else:
                    lhs = ""
                body.append((f"{lhs}{call}{comment}", n.id))
                store.produced(n)
            dead = sorted(
                {
                    r.value
                    for r in n.inputs
                    if last.get(r.value) == k and r.value not in outputs and r.value not in written
                }
            )
            dead += [n.id + j for j in range(len(n.outs)) if n.id + j not in last and n.id + j not in outputs]
            if dead:
                body.append((f"del {', '.join(f'v{v}' for v in dead)}", None))
        # write-backs: the caller's tensor gets the final value (nothing to do where it was written in place)
        for i, r in written.items():
            if not store.holds(r.value, i):
                body.append((f"ttnn.copy({self.var(r)}, v{i})  # write-back into argument %{i}", None))
        final = {r.value: i for i, r in written.items()}
        ret = ", ".join(f"v{final[r.value]}" if r.value in final else self.var(r) for r in g.user_outputs)
        body.append((f"return ({ret}{',' if len(g.user_outputs) == 1 else ''})", None))
        if self.need_dev:
            if not n_in:
                raise CodegenError(
                    f"graph {g.meta.get('name')}: an op takes a device argument but the graph has no "
                    "tensor inputs to take the device from"
                )
            body.insert(0, (f"_dev = _ttfuse_device({', '.join(params)})", None))

        head = [
            "# "
            + comment_text(
                f"ttfuse generated code for {g.meta.get('name', self.name)}"
                f" (device {g.meta.get('device') or 'any'}); regenerated from the IR, do not edit"
            )
        ]
        names = g.meta.get("input_names") or []
        for i, s in enumerate(g.inputs):
            head.append("# " + comment_text(f"v{i} = {names[i] if i < len(names) else f'input {i}'}: {s}"))
        for cname, text in self.const_text.items():
            head.append(f"# {cname} = {text}")
        lines = head + [f"def {self.name}({', '.join(params)}):", "    try:"]
        line_map: dict[int, int] = {}
        for text, nid in body:
            lines.append("        " + text)
            if nid is not None:
                line_map[len(lines)] = nid
        lines += ["    except Exception as e:", "        raise _ttfuse_rethrow(e) from e", ""]
        return "\n".join(lines), line_map


class _Storage:
    """Which buffer each value of the generated code lives in, so that an in-place op really writes in place
    only when no value in its target's buffer is read afterwards.

    Graph inputs live in the caller's buffers; an in-place op run in place and a free call that returns its
    input or a view of it (`may_view` with no kernel) share their input's buffer; everything else is fresh.
    A caller's buffer that the graph does not write back must keep its value to the end."""

    def __init__(self, g: Graph, written: dict[int, Ref], last: dict[int, int]):
        self.g = g
        self.last = last
        self.end = max(last.values(), default=0)
        self.of: dict[int, Any] = {i: ("in", i) for i in range(len(g.inputs))}
        self.members: dict[Any, list[int]] = {("in", i): [i] for i in range(len(g.inputs))}
        self.protected = {("in", i) for i in range(len(g.inputs)) if i not in written}
        self.index = g.node_index()

    def inplace_target(self, n: Node) -> Ref | None:
        op = n.opdef
        if op.traits.inplace is None:
            return None
        m = n.attr(op.traits.inplace)
        return n.inputs[m.i] if type(m) is In else None

    def may_write(self, v: int, at: int) -> bool:
        buf = self.of.get(v, ("fresh", v))
        if buf in self.protected:
            return False
        return all(self.last.get(u, -1) <= at for u in self.members.get(buf, [v]))

    def share(self, v: int, with_value: int) -> None:
        buf = self.of.get(with_value, ("fresh", with_value))
        self.of[v] = buf
        self.members.setdefault(buf, [with_value]).append(v)

    def fresh(self, v: int) -> None:
        self.of[v] = ("fresh", v)
        self.members[("fresh", v)] = [v]

    def produced(self, n: Node) -> None:
        op = n.opdef
        if op.traits.may_view and n.inputs and len(n.outs) == 1:
            from ttfuse.ir import substitute

            specs = {
                k: substitute(v, lambda m: self.g.spec_of(n.inputs[m.i], self.index)) for k, v in n.attrs
            }
            try:
                free = op.is_view(list(n.outs), specs)
            except Exception:  # noqa: BLE001 - a launch rule that cannot judge: assume a view (the safe side)
                free = True
            if free:
                self.share(n.id, n.inputs[0].value)
                return
        for j in range(len(n.outs)):
            self.fresh(n.id + j)

    def holds(self, v: int, i: int) -> bool:
        """Whether value v lives in argument i's buffer (then a write-back has nothing to copy)."""
        return self.of.get(v) == ("in", i)


def _is_default(v: Any, d: Any) -> bool:
    if type(v) is In or type(v) is DeviceArg:
        return False
    if v is d:
        return True
    if type(v) is FrozenList:
        v = list(v)
    try:
        return type(v) is type(d) and bool(v == d)
    except Exception:  # noqa: BLE001
        return False


# -------------------------------------------------------------------------------------------- error mapping
_ERROR_CLASSES: dict[type, type] = {}


def _error_class(base: type) -> type:
    """CodegenError combined with the original error's class, so `except DeviceError` still catches it."""
    if issubclass(base, CodegenError) or not issubclass(base, Exception):
        return CodegenError
    cls = _ERROR_CLASSES.get(base)
    if cls is None:
        try:
            cls = type("CodegenError", (CodegenError, base), {"__module__": "ttfuse.errors"})
            cls.__qualname__ = f"CodegenError[{base.__name__}]"
        except TypeError:  # incompatible layouts (e.g. OSError subclasses)
            cls = CodegenError
        _ERROR_CLASSES[base] = cls
    return cls


def _make_rethrow(
    graph: Graph, line_map: dict[int, int], filename: str
) -> Callable[[BaseException], BaseException]:
    index = graph.node_index()

    def rethrow(e: BaseException) -> BaseException:
        lineno = None
        tb = e.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == filename:
                lineno = tb.tb_lineno
                break
            tb = tb.tb_next
        nid = getattr(e, "ttfuse_node_id", None)  # set by a row-blocked region (ttfuse/sim/blocked.py)
        if nid is None:
            nid = line_map.get(lineno)
        node = index.get(nid) if nid is not None else None
        first = str(e).split("\n")[0] if str(e) else type(e).__name__
        msg = f"{type(e).__name__}: {first}" if not isinstance(e, CodegenError) else first
        if node is not None:
            msg += f"\n  while executing {format_node(node, with_loc=False)}"
        msg += f"\n  in generated code {filename}" + (f" line {lineno}" if lineno else "")
        if node is not None and node.side.loc:  # last, as every ttfuse error ends: the user's line
            msg += f"\n  at {format_frame(node.side.loc)}"
        cls = _error_class(type(e))
        try:
            err = cls(msg)
        except Exception:  # noqa: BLE001 - a base class with an unusual __init__
            err = CodegenError(msg)
        err._has_frame = True  # type: ignore[attr-defined]
        err.node_id = nid  # type: ignore[attr-defined]
        err.user_frame = node.side.loc if node is not None else None  # type: ignore[attr-defined]
        err.original = e  # type: ignore[attr-defined]
        return err

    return rethrow


def _first_device(*tensors):
    for t in tensors:
        d = t.device() if hasattr(t, "device") else None
        if d is not None:
            return d
    raise CodegenError("generated code needs a device but no input tensor is on a device")


# --------------------------------------------------------------------------------------------------- entry
def generate_source(
    graph: Graph, *, name: str = "fused", backend: str = "sim", block_bytes: int | None = None
) -> tuple[str, dict, dict[int, int]]:
    """(source, globals without the runtime helpers, line map) for a graph; no compilation.

    `block_bytes` (sim backend): row-block size of regions (ttfuse/sim/blocked.py); None reads the
    `sim_block_bytes` flag, 0 runs every op whole."""
    if block_bytes is None:
        from ttfuse.flags import get_flag

        block_bytes = get_flag("sim_block_bytes")
    gen = _Gen(graph, name, *_backend(backend), block_bytes)
    src, line_map = gen.run()
    glb = {"ttnn": gen.mod, **gen.op_globals, **gen.consts}
    return src, glb, line_map


def generate(
    graph: Graph, *, name: str = "fused", backend: str = "sim", block_bytes: int | None = None
) -> Compiled:
    """Generate, compile and register the code of `graph` (the graph should be verified)."""
    src, glb, line_map = generate_source(graph, name=name, backend=backend, block_bytes=block_bytes)
    digest = hashlib.sha256(src.encode()).hexdigest()[:10]
    fname = _ident(name)
    filename = f"<ttfuse-gen {fname}-{digest}>"
    glb["_ttfuse_rethrow"] = _make_rethrow(graph, line_map, filename)
    glb["_ttfuse_device"] = _first_device
    glb["__name__"] = "ttfuse_generated"
    index = graph.node_index()  # generated line -> its node: profilers name the node an op call came from
    glb["_ttfuse_line_nodes"] = {ln: index[nid] for ln, nid in line_map.items() if nid in index}
    try:
        code = compile(src, filename, "exec")
    except SyntaxError as e:
        raise CodegenError(f"generated code for {name} does not compile: {e}\n{src}") from None
    linecache.cache[filename] = (len(src), None, src.splitlines(True), filename)
    exec(code, glb)  # noqa: S102 - our own generated source, built from a verified graph
    fn = glb[fname]
    fn.__qualname__ = f"ttfuse_generated.{fname}"
    return Compiled(src, fn, line_map, filename, fname, graph, glb)
