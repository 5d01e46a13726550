"""Random TTNN programs for the JIT-vs-eager differential test (tests/test_fuzz_jit_eager.py).

A hypothesis strategy, `programs()`, draws a straight-line function of 3-15 ops over tensors of random specs
(rank 2-4, tile-aligned and ragged shapes, bfloat16 / bfloat8_b, TILE / ROW_MAJOR, DRAM / L1): elementwise
unary, binary (same shape and row broadcast) and scalar ops, in-place ops (`add_`, `subtract_`, `multiply_`,
`softmax_in_place`, `copy`) on arguments and intermediates, preallocated outputs (`output_tensor=`), free calls
that return their input itself (aliases: a write through one name shows in the other), linear with bias and activation,
layer_norm / rms_norm, softmax, transpose / permute / reshape / concat / slice, reductions, layout / memory /
dtype moves, with fan-out and 1-3 outputs. A `Program` renders itself twice: as the source of a plain TTNN
function (written to a module file, so that a fresh process imports the same function and hits the disk
cache), and as a float32 torch reference with TTNN's semantics (in-place ops rebind a name, no aliasing).

`python tests/fuzz_programs.py replay DIR` is the fresh process of the test: it imports every program saved in
DIR, calls it under `@ttfuse.jit` on the inputs of the first run and checks that each call is a disk hit with
bit-identical results.

Extend: add an op to `_OPS` (a drawing function `@_on(ok) def _op_x(draw, p, a)` on an operand `a` that satisfies
`ok`, returning the ttnn line, the torch line and the output value, or None when it cannot use `a`) and, if it
needs one, its torch helper in `REF_HELPERS`.
"""

from __future__ import annotations

import functools
import importlib.util
import math
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

from hypothesis import strategies as st

UNARY = ("relu", "silu", "gelu", "sigmoid", "tanh", "abs", "neg", "exp", "square")
BINARY = ("add", "subtract", "multiply", "maximum", "minimum")
INPLACE = ("add_", "subtract_", "multiply_")
ACTS = (None, "relu", "silu", "gelu")
DTYPES = {"bf16": "ttnn.bfloat16", "bf8": "ttnn.bfloat8_b"}
MEMS = {"dram": "ttnn.DRAM_MEMORY_CONFIG", "l1": "ttnn.L1_MEMORY_CONFIG"}
DIMS = (32, 64, 33, 50, 96, 7)

REF_HELPERS = """
import torch
import torch.nn.functional as F

def _unary(op, x):
    return {"relu": torch.relu, "silu": F.silu, "gelu": F.gelu, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
            "abs": torch.abs, "neg": torch.neg, "exp": torch.exp, "square": torch.square}[op](x)

def _binary(op, a, b):
    return {"add": torch.add, "subtract": torch.subtract, "multiply": torch.multiply,
            "maximum": torch.maximum, "minimum": torch.minimum}[op](a, b if torch.is_tensor(b) else torch.tensor(b))

def _act(op, x):
    return x if op is None else _unary(op, x)

def _rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w
"""


@dataclass(frozen=True)
class V:
    """A tensor value of the program: its name and what TTNN would make of it."""

    name: str
    shape: tuple[int, ...]
    dtype: str = "bf16"  # "bf16" | "bf8"
    layout: str = "tile"  # "tile" | "rm"
    mem: str = "dram"  # "dram" | "l1"


@dataclass
class Program:
    """A straight-line TTNN function: arguments (activations, then weights), op lines, returned values."""

    args: list[V] = field(default_factory=list)
    lines: list[tuple[str, str]] = field(default_factory=list)  # (ttnn line, torch line)
    values: list[V] = field(default_factory=list)  # every tensor a later op may read (args and results)
    outputs: list[str] = field(default_factory=list)
    written: set[str] = field(default_factory=set)  # arguments some op writes in place
    alias: dict[str, str] = field(default_factory=dict)  # name -> first name of the same tensor object
    n = 0

    def names_of(self, name: str) -> list[str]:
        """Every name bound to the same tensor object as `name` (a free call returns its input itself)."""
        root = self.alias.get(name, name)
        return [root] + [k for k, v in self.alias.items() if v == root]

    def write(self, name: str, expr: str) -> str:
        """The torch line of an in-place write into `name`: every name of that tensor sees the new value."""
        names = self.names_of(name)
        self.written.update(n for n in names if any(a.name == n for a in self.args))
        return " = ".join(names) + f" = {expr}"

    def fresh(self, prefix: str = "t") -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    def rebind(self, old: V, new: V) -> None:
        """`old`'s name now holds `new` (an in-place write may change nothing but values; kept for clarity)."""
        self.values = [new if v.name == old.name else v for v in self.values]

    def ttnn_source(self, name: str = "prog") -> str:
        params = ", ".join(a.name for a in self.args)
        body = [f"    {t}" for t, _ in self.lines]
        ret = ", ".join(self.outputs) + ("," if len(self.outputs) == 1 else "")
        return "\n".join(
            ["from ttfuse import ttnn", "", "", f"def {name}({params}):", *body, f"    return ({ret})", ""]
        )

    def torch_source(self, name: str = "ref") -> str:
        params = ", ".join(a.name for a in self.args)
        body = [f"    {r}" for _, r in self.lines]
        ret = ", ".join(self.outputs) + ("," if len(self.outputs) == 1 else "")
        return "\n".join([REF_HELPERS, "", f"def {name}({params}):", *body, f"    return ({ret})", ""])

    def __repr__(self) -> str:
        return "\n" + self.ttnn_source()

    def _repr_pretty_(self, printer, cycle) -> None:  # what hypothesis prints for a failing example
        printer.text("\n" + self.ttnn_source())

    def op_names(self) -> list[str]:
        """The ttnn ops of the program, in order (for statistics)."""
        import re

        return [m.group(1) for t, _ in self.lines for m in [re.search(r"ttnn\.(\w+)\(", t)] if m]


# ---------------------------------------------------------------------------------------------- drawing
def _spec_args(v: V) -> str:
    return f"dtype={DTYPES[v.dtype]}, layout={'ttnn.TILE_LAYOUT' if v.layout == 'tile' else 'ttnn.ROW_MAJOR_LAYOUT'}"


def _mc(draw, arg: str = "memory_config") -> tuple[str, str | None]:
    m = draw(st.sampled_from([None, None, "dram", "l1"]))
    return ("" if m is None else f", {arg}={MEMS[m]}"), m


def _pick(draw, p: Program, ok) -> V | None:
    cands = [v for v in p.values if ok(v)]
    return draw(st.sampled_from(cands)) if cands else None


def _on(ok=lambda v: True):
    """An op drawing function `fn(draw, p, a)` on one operand `a` that satisfies `ok`; skipped when none does."""

    def wrap(fn):
        @functools.wraps(fn)
        def op(draw, p):
            a = _pick(draw, p, ok)
            return None if a is None else fn(draw, p, a)

        return op

    return wrap


def _tile(v: V) -> bool:
    return v.layout == "tile"


def _assign(out: V, ttnn_expr: str, torch_expr: str) -> tuple[str, str, V]:
    """An op's result: `out` bound to the ttnn expression, and to the torch one in the reference."""
    return f"{out.name} = {ttnn_expr}", f"{out.name} = {torch_expr}", out


def _new_arg(p: Program, shape, dtype="bf16", layout="tile", mem="dram", prefix="w") -> V:
    v = V(p.fresh(prefix), tuple(shape), dtype, layout, mem)
    p.args.append(v)
    return v


@_on()
def _op_unary(draw, p, a):
    op = draw(st.sampled_from(UNARY))
    mc, m = _mc(draw)
    out = replace(a, name=p.fresh(), mem=m or a.mem)
    return f"{out.name} = ttnn.{op}({a.name}{mc})", f"{out.name} = _unary({op!r}, {a.name})", out


@_on()
def _op_binary(draw, p, a):
    same = [v for v in p.values if v.shape == a.shape and v.layout == a.layout]
    b = draw(st.sampled_from(same))
    if draw(st.booleans()) and a.layout == "tile":  # a row broadcast operand [1, W], a weight-like argument
        b = _new_arg(p, (1, a.shape[-1]), draw(st.sampled_from(["bf16", "bf8"])))
    op = draw(st.sampled_from(BINARY))
    mc, m = _mc(draw)
    out = replace(a, name=p.fresh(), mem=m or a.mem)
    return _assign(out, f"ttnn.{op}({a.name}, {b.name}{mc})", f"_binary({op!r}, {a.name}, {b.name})")


@_on()
def _op_scalar(draw, p, a):
    op = draw(st.sampled_from(["add", "multiply", "subtract"]))
    c = draw(st.sampled_from([0.5, -1.25, 2.0, 3.0, -0.75]))
    out = replace(a, name=p.fresh())
    return f"{out.name} = ttnn.{op}({a.name}, {c})", f"{out.name} = _binary({op!r}, {a.name}, {c})", out


@_on()
def _op_inplace(draw, p, a):
    """An in-place op on an argument or an intermediate: the name now holds the new value (nothing new)."""
    op = draw(st.sampled_from(INPLACE))
    same = [v for v in p.values if v.shape == a.shape and v.layout == a.layout]
    if a.layout == "tile" and draw(st.booleans()):
        b = draw(st.sampled_from(same)).name
    else:
        b = draw(st.sampled_from(["1.5", "-0.5", "2.0"]))
    return f"ttnn.{op}({a.name}, {b})", p.write(a.name, f"_binary({op[:-1]!r}, {a.name}, {b})"), None


@_on(_tile)
def _op_into(draw, p, a):
    """A preallocated output: an eltwise op writes its result into an existing tensor of the same spec."""
    dst = [v for v in p.values if (v.shape, v.dtype, v.layout) == (a.shape, a.dtype, a.layout)]
    o = draw(st.sampled_from(dst))
    if draw(st.booleans()):
        op = draw(st.sampled_from(UNARY[:6]))
        return (
            f"ttnn.{op}({a.name}, output_tensor={o.name})",
            p.write(o.name, f"_unary({op!r}, {a.name})"),
            None,
        )
    op = draw(st.sampled_from(BINARY))
    b = draw(st.sampled_from(dst))
    return (
        f"ttnn.{op}({a.name}, {b.name}, output_tensor={o.name})",
        p.write(o.name, f"_binary({op!r}, {a.name}, {b.name})"),
        None,
    )


@_on()
def _op_copy(draw, p, a):
    """ttnn.copy(a, o): a's values into o (same shape and layout; o keeps its dtype)."""
    o = draw(st.sampled_from([v for v in p.values if (v.shape, v.layout) == (a.shape, a.layout)]))
    return f"ttnn.copy({a.name}, {o.name})", p.write(o.name, f"{a.name}.clone()"), None


@_on(_tile)
def _op_softmax_inplace(draw, p, a):
    return f"ttnn.softmax_in_place({a.name})", p.write(a.name, f"torch.softmax({a.name}, -1)"), None


@_on()
def _op_alias(draw, p, a):
    """A free call that returns its input itself: a reshape to the same shape, a move to the same memory."""
    out = replace(a, name=p.fresh())
    p.alias[out.name] = p.alias.get(a.name, a.name)
    if draw(st.booleans()):
        return f"{out.name} = ttnn.reshape({a.name}, {a.shape})", f"{out.name} = {a.name}", out
    return f"{out.name} = ttnn.to_memory_config({a.name}, {MEMS[a.mem]})", f"{out.name} = {a.name}", out


@_on(_tile)
def _op_linear(draw, p, a):
    k, n = a.shape[-1], draw(st.sampled_from([32, 48, 64]))
    w = _new_arg(p, (k, n), draw(st.sampled_from(["bf16", "bf8"])))
    act = draw(st.sampled_from(ACTS))
    bias = _new_arg(p, (1, n)) if draw(st.booleans()) else None
    mc, m = _mc(draw)
    out = V(p.fresh(), a.shape[:-1] + (n,), a.dtype, "tile", m or "dram")
    bt, br = (f", bias={bias.name}", f" + {bias.name}") if bias else ("", "")
    at = f", activation={act!r}" if act else ""
    return _assign(
        out, f"ttnn.linear({a.name}, {w.name}{bt}{at}{mc})", f"_act({act!r}, {a.name} @ {w.name}{br})"
    )


@_on(_tile)
def _op_norm(draw, p, a):
    w = a.shape[-1]
    eps = draw(st.sampled_from([1e-5, 1e-6]))
    gamma = _new_arg(p, (w,))
    out = replace(a, name=p.fresh())
    if draw(st.booleans()):
        beta = _new_arg(p, (w,))
        return (
            f"{out.name} = ttnn.layer_norm({a.name}, epsilon={eps}, weight={gamma.name}, bias={beta.name})",
            f"{out.name} = F.layer_norm({a.name}, ({w},), {gamma.name}, {beta.name}, {eps})",
            out,
        )
    return _assign(
        out,
        f"ttnn.rms_norm({a.name}, epsilon={eps}, weight={gamma.name})",
        f"_rms_norm({a.name}, {gamma.name}, {eps})",
    )


@_on(_tile)
def _op_softmax(draw, p, a):
    out = replace(a, name=p.fresh())
    return f"{out.name} = ttnn.softmax({a.name}, dim=-1)", f"{out.name} = torch.softmax({a.name}, -1)", out


@_on(_tile)
def _op_transpose(draw, p, a):
    out = replace(a, name=p.fresh(), shape=a.shape[:-2] + (a.shape[-1], a.shape[-2]))
    return _assign(out, f"ttnn.transpose({a.name}, -2, -1)", f"{a.name}.transpose(-2, -1).contiguous()")


@_on(lambda v: len(v.shape) >= 3 and v.layout == "tile")
def _op_permute(draw, p, a):
    perm = tuple(draw(st.permutations(range(len(a.shape)))))
    if perm == tuple(range(len(a.shape))):
        return None
    out = replace(a, name=p.fresh(), shape=tuple(a.shape[i] for i in perm))
    return _assign(out, f"ttnn.permute({a.name}, {perm})", f"{a.name}.permute({perm}).contiguous()")


@_on(lambda v: len(v.shape) >= 3 or v.shape[0] % 2 == 0)
def _op_reshape(draw, p, a):
    s = a.shape
    shape = (s[0] * s[1],) + s[2:] if len(s) >= 3 else (2, s[0] // 2) + s[1:]
    out = replace(a, name=p.fresh(), shape=shape)
    return f"{out.name} = ttnn.reshape({a.name}, {shape})", f"{out.name} = {a.name}.reshape({shape})", out


@_on()
def _op_concat(draw, p, a):
    same = [v for v in p.values if v.shape == a.shape and v.layout == a.layout and v.dtype == a.dtype]
    b = draw(st.sampled_from(same))
    dim = draw(st.sampled_from([0, -1]))
    shape = list(a.shape)
    shape[dim] *= 2
    out = replace(a, name=p.fresh(), shape=tuple(shape))
    return _assign(
        out, f"ttnn.concat([{a.name}, {b.name}], dim={dim})", f"torch.cat([{a.name}, {b.name}], {dim})"
    )


@_on(lambda v: v.shape[-1] > 1 and v.shape[-2] > 1)
def _op_slice(draw, p, a):
    starts, ends = [], []
    for d in a.shape:
        lo = draw(st.integers(0, d - 1)) if d > 1 else 0
        hi = draw(st.integers(lo + 1, d))
        starts.append(lo)
        ends.append(hi)
    out = replace(a, name=p.fresh(), shape=tuple(e - s for s, e in zip(starts, ends)))
    idx = ", ".join(f"{s}:{e}" for s, e in zip(starts, ends))
    return _assign(
        out, f"ttnn.slice({a.name}, {tuple(starts)}, {tuple(ends)})", f"{a.name}[{idx}].contiguous()"
    )


@_on(_tile)
def _op_reduce(draw, p, a):
    op = draw(st.sampled_from(["sum", "mean", "max"]))
    dim = draw(st.sampled_from([-1, -2]))
    shape = list(a.shape)
    shape[dim] = 1
    out = replace(a, name=p.fresh(), shape=tuple(shape))
    ref = {"sum": "torch.sum", "mean": "torch.mean", "max": "torch.amax"}[op]
    return _assign(
        out, f"ttnn.{op}({a.name}, dim={dim}, keepdim=True)", f"{ref}({a.name}, {dim}, keepdim=True)"
    )


@_on()
def _op_move(draw, p, a):
    kind = draw(st.sampled_from(["mem", "layout", "dtype"]))
    if kind == "mem":
        m = "l1" if a.mem == "dram" else "dram"
        out = replace(a, name=p.fresh(), mem=m)
        return f"{out.name} = ttnn.to_memory_config({a.name}, {MEMS[m]})", f"{out.name} = {a.name}", out
    if kind == "layout" and a.dtype == "bf16":
        lay = "rm" if a.layout == "tile" else "tile"
        out = replace(a, name=p.fresh(), layout=lay)
        name = "ttnn.ROW_MAJOR_LAYOUT" if lay == "rm" else "ttnn.TILE_LAYOUT"
        return f"{out.name} = ttnn.to_layout({a.name}, {name})", f"{out.name} = {a.name}", out
    if a.layout != "tile":
        return None
    dt = "bf8" if a.dtype == "bf16" else "bf16"
    out = replace(a, name=p.fresh(), dtype=dt)
    return f"{out.name} = ttnn.typecast({a.name}, {DTYPES[dt]})", f"{out.name} = {a.name}", out


_OPS = {
    "unary": _op_unary,
    "binary": _op_binary,
    "scalar": _op_scalar,
    "inplace": _op_inplace,
    "into": _op_into,
    "linear": _op_linear,
    "norm": _op_norm,
    "softmax": _op_softmax,
    "transpose": _op_transpose,
    "permute": _op_permute,
    "reshape": _op_reshape,
    "concat": _op_concat,
    "slice": _op_slice,
    "reduce": _op_reduce,
    "move": _op_move,
    "copy": _op_copy,
    "softmax_in_place": _op_softmax_inplace,
    "alias": _op_alias,
}
# in-place writes are what this test is for: drawn more often than their share
_KINDS = list(_OPS) + ["inplace", "inplace", "binary", "unary"]


@st.composite
def programs(draw, min_ops: int = 3, max_ops: int = 15) -> Program:
    p = Program()
    rank = draw(st.integers(2, 4))
    lead = tuple(draw(st.sampled_from([1, 2])) for _ in range(rank - 2))
    shape = lead + (draw(st.sampled_from(DIMS)), draw(st.sampled_from(DIMS)))
    for _ in range(draw(st.integers(1, 3))):
        dtype = draw(st.sampled_from(["bf16", "bf16", "bf8"]))
        layout = "tile" if dtype == "bf8" else draw(st.sampled_from(["tile", "tile", "rm"]))
        v = _new_arg(p, shape, dtype, layout, draw(st.sampled_from(["dram", "l1"])), prefix="x")
        p.values.append(v)
    target = draw(st.integers(min_ops, max_ops))
    tries = 0
    while len(p.lines) < target and tries < 4 * max_ops:
        tries += 1
        got = _OPS[draw(st.sampled_from(_KINDS))](draw, p)
        if got is None:
            continue
        t, r, out = got
        p.lines.append((t, r))
        if out is not None:
            p.values.append(out)
    results = [v.name for v in p.values if not any(v.name == a.name for a in p.args)]
    pool = results or [p.values[-1].name]
    outs = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3))  # a value may be returned twice
    if draw(st.booleans()):  # sometimes return an argument (written in place or not) too
        outs.append(draw(st.sampled_from([a.name for a in p.args if a in p.values])))
    p.outputs = outs
    return p


# ---------------------------------------------------------------------------------------------- running
def load_module(path: Path, modname: str):
    """Import a program's module file under a stable name (the same in a fresh process: one cache key)."""
    spec = importlib.util.spec_from_file_location(modname, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[modname] = mod
    spec.loader.exec_module(mod)
    return mod


def make_inputs(p: Program, seed: int):
    """Host float32 tensors for the arguments (values a normal draw; weights scaled to keep layers sane)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    out = []
    for a in p.args:
        t = torch.randn(*a.shape, generator=g)
        if a.name.startswith("w") and len(a.shape) == 2 and a.shape[0] > 1:
            t = t / math.sqrt(a.shape[0])
        out.append(t)
    return out


def to_device(p: Program, host, device):
    from ttfuse import ttnn

    dts = {"bf16": ttnn.bfloat16, "bf8": ttnn.bfloat8_b}
    lays = {"tile": ttnn.TILE_LAYOUT, "rm": ttnn.ROW_MAJOR_LAYOUT}
    mems = {"dram": ttnn.DRAM_MEMORY_CONFIG, "l1": ttnn.L1_MEMORY_CONFIG}
    return [
        ttnn.from_torch(
            h, dtype=dts[a.dtype], layout=lays[a.layout], device=device, memory_config=mems[a.mem]
        )
        for a, h in zip(p.args, host)
    ]


def as_list(out) -> list:
    return list(out) if isinstance(out, tuple | list) else [out]


def host(t):
    from ttfuse import ttnn

    return ttnn.to_torch(t).float()


def bits(t):
    """The float32 bit patterns of a host tensor (equal bits: bit-identical, NaNs included)."""
    import torch

    return t.float().contiguous().view(-1).view(torch.int32)


def replay(root: Path) -> int:
    """The fresh process: every saved program under @ttfuse.jit must be a disk hit, bit-identical."""
    import json

    import torch

    import ttfuse
    from ttfuse import cache, ttnn

    device = ttnn.open_device(device_id=0)
    bad = []
    cases = json.loads((root / "index.json").read_text())
    for case in cases:
        mod = load_module(root / case["file"], case["module"])
        saved = torch.load(root / case["results"])
        jf = ttfuse.jit(mod.prog)
        ins = [
            ttnn.from_torch(
                h,
                dtype=getattr(ttnn, d),
                layout=getattr(ttnn, lay),
                device=device,
                memory_config=getattr(ttnn, m),
            )
            for h, (d, lay, m) in zip(saved["inputs"], case["specs"])
        ]
        hits = cache.counters.hit
        outs = [host(o) for o in as_list(jf(*ins))]
        args = [host(t) for t in ins]
        if jf.trace_count != 0 or cache.counters.hit != hits + 1:
            bad.append(f"{case['file']}: not a disk hit (traced {jf.trace_count}x)")
        elif not all(
            torch.equal(bits(a), bits(b)) for a, b in zip(outs + args, saved["outs"] + saved["args"])
        ):
            bad.append(f"{case['file']}: results differ from the first process")
    print(json.dumps({"checked": len(cases), "bad": bad}))
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "replay":
        sys.exit(replay(Path(sys.argv[2])))
    print("usage: python tests/fuzz_programs.py replay DIR", file=sys.stderr)
    sys.exit(2)
