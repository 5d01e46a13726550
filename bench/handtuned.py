"""Hand-tuned TTNN against ttfuse's JIT of plain TTNN, on the same cost model (issue 20, item 3).

    python -m bench.handtuned --ttboltz PATH [--n 256 512] [--arch wormhole_b0 blackhole]
        [--port-dtype bfloat8_b] [--breakdown auto|always|never] [--top 12] [--write docs/performance.md]

Two sides, one Pairformer layer (Boltz-2 sizes: c_s 384, c_z 128, 16 heads; triangle attention 4 heads of 32)
at each N, on each device kind:
- hand-tuned: `PairformerLayer` of the file at PATH: tt-boltz's `src/boltz/model/modules/tenstorrent.py`
  (moritztng/tt-boltz at 0247de6, fetched by the user, never copied here), or any file with the same constructor
  `PairformerLayer(32, 4, 24, 16, True, state_dict, compute_kernel_config)` and module-level `device`, such as
  the stand-in tests/fixtures/handtuned_pairformer.py that CI runs. It is built exactly as
  tools/check_ttboltz.py builds it (`map_ttnn`, `load_ttboltz`, its PairformerLayer case, the boltz 2.2.1
  reference's re-drawn state dict, `compute_kernel_config`), and its `__call__` is captured op for op: the
  traced graph of `ttfuse.jit(PairformerLayer.__call__).lower(...)` (`Lowered.graph_before`), one node per ttnn
  call, with the program configs, grids and dtypes the hand-tuned code passes: what the code runs eagerly.
- JIT: ttfuse's plain-TTNN port, `models.boltz.PairformerLayer` from the same reference, its block function
  under `ttfuse.jit` with every pass (`Lowered.graph`). `--port-dtype` (default bfloat8_b, tt-boltz's format for
  its matmul outputs and weights) is the port's `dtype`.

Nothing executes: both sides are lowered on TensorSpecs (inputs bfloat16, TILE, DRAM, as tt-boltz's wrapper
uploads them); only the weights are real tensors, built once per device. N=512 lowers in seconds.
Both graphs are costed by `ttfuse.passes.cost.graph_cost` on the lowered device: traced = `device_ms` (kernels +
device dispatch, a metal-traced run), untraced = `untraced_ms` (every launch also pays the host round trip).
Every figure is a prediction of the cost model, not a measurement. Goal: JIT <= 0.9x hand-tuned, traced and
untraced. Where a row misses it (or with `--breakdown always`) the report puts the two sides' predicted times
side by side by block (the class / function of the source line each node came from) and by op code.

`--write FILE` replaces the section between `<!-- handtuned:begin -->` and `<!-- handtuned:end -->` of FILE
(created if missing; the section appended if the markers are missing); other sections are left alone.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

GOAL = 0.9  # JIT / hand-tuned, traced and untraced (issue 20)
DEFAULT_NS = (256, 512)
DEFAULT_ARCHS = ("wormhole_b0", "blackhole")
BEGIN, END = "<!-- handtuned:begin -->", "<!-- handtuned:end -->"
C_S, C_Z = 384, 128
CASE = "PairformerLayer"  # tools/check_ttboltz.py's case: the reference and the tt-boltz constructor call
ROOT = Path(__file__).resolve().parent.parent
STANDIN = "tests/fixtures/handtuned_pairformer.py"


# ------------------------------------------------------------------------------------------------- results
@dataclass
class Side:
    """One graph costed on one device: totals and the per-node rows (`ttfuse.passes.cost.NodeCost`)."""

    traced_ms: float
    untraced_ms: float
    launches: int
    nodes: list = field(default_factory=list, repr=False)
    blocks: list = field(default_factory=list, repr=False)  # the block name of each node, in order

    def by(self, key: str) -> dict[str, list]:
        """{block or op: [nodes, traced us, untraced us]} per call (a memoised node, `once`, adds no time)."""
        out: dict[str, list] = defaultdict(lambda: [0, 0.0, 0.0])
        for c, b in zip(self.nodes, self.blocks, strict=True):
            row = out[b if key == "block" else c.op]
            row[0] += 1
            if not c.once:
                row[1] += c.device_us
                row[2] += c.untraced_us
        return dict(out)


@dataclass
class Row:
    arch: str
    device: str
    n: int
    hand: Side  # hand-tuned, op for op (the traced graph)
    jit: Side  # the port under ttfuse.jit, every pass
    port_eager: Side  # the port op for op (context: what the passes bought)
    hand_jit: Side  # the hand-tuned code under ttfuse.jit (context)
    lower_s: float = 0.0
    port_dtype: str = "bfloat8_b"

    def ratio(self, kind: str) -> float:
        h = getattr(self.hand, f"{kind}_ms")
        return getattr(self.jit, f"{kind}_ms") / h if h > 0 else float("inf")

    @property
    def met(self) -> bool:
        return self.ratio("traced") <= GOAL and self.ratio("untraced") <= GOAL


# ------------------------------------------------------------------------------------------------- blocks
_CLASSES: dict[str, list[tuple[int, int, str]]] = {}


def _classes_of(path: str) -> list[tuple[int, int, str]]:
    """(first line, last line, name) of every class in a source file (empty when it cannot be read)."""
    if path not in _CLASSES:
        try:
            tree = ast.parse(Path(path).read_text())
            _CLASSES[path] = [
                (c.lineno, c.end_lineno or c.lineno, c.name)
                for c in ast.walk(tree)
                if isinstance(c, ast.ClassDef)
            ]
        except (OSError, SyntaxError, ValueError):
            _CLASSES[path] = []
    return _CLASSES[path]


def block_of(node) -> str:
    """The block a node belongs to: the innermost class around its source line (hand-tuned modules are classes),
    else the function of that line (the port's blocks are functions); '?' without a source line."""
    loc = node.side.loc
    if loc is None:
        return "?"
    inside = [c for c in _classes_of(loc[0]) if c[0] <= loc[1] <= c[1]]
    if inside:
        return max(inside, key=lambda c: c[0])[2]
    return loc[2]


# The port's helper functions (models/boltz) by the block that calls them (a node knows only its innermost line):
# the pair-track body is part of the layer, the attention helpers are AttentionPairBias's, the key bias is the
# triangle attention's. A helper missing here shows as its own row.
PORT_HELPERS = {
    "pairformerz": "pairformerlayer",
    "attend": "attentionpairbias",
    "attention": "attentionpairbias",
    "pairbias": "attentionpairbias",
    "keymaskbias": "attentionpairbias",
    "keybias": "triangleattention",
}


def _block_key(name: str) -> str:
    """Blocks of the two sides matched by name: TriangleMultiplication ~ triangle_multiplication (helpers by
    `PORT_HELPERS`)."""
    k = name.replace("_", "").lower()
    return PORT_HELPERS.get(k, k)


def _merge_blocks(d: dict[str, list]) -> dict[str, list]:
    """Blocks with one key (`_block_key`) merged into one row labelled with their names joined by '+' (the
    port's AttentionPairBias is its helpers' nodes: `_attend+key_mask_bias+pair_bias`)."""
    groups: dict[str, list[str]] = defaultdict(list)
    for name in sorted(d):
        groups[_block_key(name)].append(name)
    out: dict[str, list] = {}
    for names in groups.values():
        out["+".join(names)] = [sum(d[n][i] for n in names) for i in range(3)]
    return out


def side_of(graphs, spec) -> Side:
    """The graphs (one per block call) costed on `spec`, summed."""
    from ttfuse.passes.cost import graph_cost

    s = Side(0.0, 0.0, 0)
    for g in graphs:
        c = graph_cost(g, spec)
        s.traced_ms += c.device_ms
        s.untraced_ms += c.untraced_ms
        s.launches += c.total.launches
        s.nodes += c.nodes
        by_id = {n.id: n for n in g.nodes}
        s.blocks += [block_of(by_id[r.node]) if r.node in by_id else "?" for r in c.nodes]
    return s


# ------------------------------------------------------------------------------------------------ lowering
def harness():
    """tools/check_ttboltz.py (a script, not a package module), loaded by path once: its `map_ttnn`,
    `load_ttboltz`, `build_cases`, `reference` and `compute_kernel_config` build the hand-tuned side."""
    mod = sys.modules.get("check_ttboltz")
    if mod is None:
        path = ROOT / "tools" / "check_ttboltz.py"
        if not path.is_file():
            raise SystemExit(f"bench.handtuned: {path} is missing; run it from a ttfuse checkout")
        spec = importlib.util.spec_from_file_location("check_ttboltz", path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules["check_ttboltz"] = mod
        spec.loader.exec_module(mod)
    return mod


def _specs(ttnn, *shapes):
    from ttfuse.types import TensorSpec

    return tuple(TensorSpec(tuple(s), ttnn.bfloat16) for s in shapes)


def lower_handtuned(module, n: int, ttnn):
    """tt-boltz's PairformerLayer.__call__(s, z, mask, mask_padded) lowered on specs: s [1,N,c_s], z [1,N,N,c_z],
    the pair mask [1,N,N] and the pair mask padded to a tile multiple (check_ttboltz's PairformerLayer inputs)."""
    import ttfuse

    p = -(-n // 32) * 32
    specs = _specs(ttnn, (1, n, C_S), (1, n, n, C_Z), (1, n, n), (1, p, p))
    return ttfuse.jit(type(module).__call__).lower(module, *specs)


def lower_port(port, n: int, ttnn) -> list:
    """The port's block calls of one `forward_ttnn` (tokens padded to a tile multiple, as `port(...)` pads them),
    each lowered on specs through its shared jitted function instead of run."""
    from models.boltz.common import jitted

    p = -(-n // 32) * 32
    calls = []

    def record(fn, *a, **k):
        calls.append((fn, a, k))

    port.run = record
    try:
        port.forward_ttnn(*_specs(ttnn, (1, p, C_S), (1, p, p, C_Z), (1, p), (1, p, p)))
    finally:
        del port.run
    return [jitted(fn).lower(*a, **k) for fn, a, k in calls]


def measure(
    path: str,
    ns=DEFAULT_NS,
    archs=DEFAULT_ARCHS,
    port_dtype: str = "bfloat8_b",
    log=None,
) -> list[Row]:
    """One Row per (arch, N): the hand-tuned PairformerLayer of `path` and the port under jit, costed."""
    h = harness()
    ttnn = h.map_ttnn()
    import models.boltz as mb
    from ttfuse.device import arch_env

    dtype = getattr(ttnn, port_dtype)
    rows, ref = [], None
    for arch in archs:
        with arch_env(arch):
            dev = ttnn.open_device(device_id=0)
            try:
                T = h.load_ttboltz(path)  # a fresh module per device: its `device` and arch checks
                T.device = dev
                cases, _, _ = h.build_cases(ttnn, T, dev)
                case = next(c for c in cases if c.name == CASE)
                if ref is None:  # one reference (its re-drawn weights) for every device
                    ref = h.reference(case)
                hand = case.tt(ref.state_dict(), h.compute_kernel_config(ttnn))
                port = mb.PairformerLayer.from_torch(ref, dev, dtype=dtype, jit=True)
                for n in ns:
                    t0 = time.perf_counter()
                    lh = lower_handtuned(hand, n, ttnn)
                    lp = lower_port(port, n, ttnn)
                    spec = lh.device_spec
                    row = Row(
                        arch,
                        spec.name,
                        n,
                        hand=side_of([lh.graph_before], spec),
                        jit=side_of([x.graph for x in lp], spec),
                        port_eager=side_of([x.graph_before for x in lp], spec),
                        hand_jit=side_of([lh.graph], spec),
                    )
                    row.lower_s, row.port_dtype = time.perf_counter() - t0, port_dtype
                    rows.append(row)
                    if log:
                        log(
                            f"  {arch} N={n}: hand-tuned {row.hand.traced_ms:.3f} / {row.hand.untraced_ms:.3f} ms, "
                            f"JIT {row.jit.traced_ms:.3f} / {row.jit.untraced_ms:.3f} ms (traced / untraced, "
                            f"predicted; lowered in {row.lower_s:.1f} s)"
                        )
            finally:
                ttnn.close_device(dev)
    return rows


# --------------------------------------------------------------------------------------------------- report
def _label(arch: str) -> str:
    return harness().ARCH_LABEL.get(arch, arch)


def results_table(rows: list[Row]) -> str:
    """The markdown table: predicted ms per device and N, traced and untraced, JIT / hand-tuned, the goal."""
    head = (
        "| device | N | hand-tuned traced ms | JIT traced ms | JIT / hand traced | hand-tuned untraced ms | "
        f"JIT untraced ms | JIT / hand untraced | launches hand / JIT | goal <= {GOAL}x |"
    )
    lines = [head, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        lines.append(
            f"| {_label(r.arch)} | {r.n} | {r.hand.traced_ms:.3f} | {r.jit.traced_ms:.3f} | "
            f"{r.ratio('traced'):.2f}x | {r.hand.untraced_ms:.3f} | {r.jit.untraced_ms:.3f} | "
            f"{r.ratio('untraced'):.2f}x | {r.hand.launches} / {r.jit.launches} | "
            f"{'met' if r.met else 'MISSED'} |"
        )
    return "\n".join(lines)


def context_table(rows: list[Row]) -> str:
    """Each code with and without the passes: the port op for op, the hand-tuned code under ttfuse.jit."""
    lines = [
        "| device | N | port op for op traced / untraced ms | port JIT | hand-tuned op for op | hand-tuned JIT |",
        "|---|---:|---:|---:|---:|---:|",
    ]

    def cell(s: Side) -> str:
        return f"{s.traced_ms:.3f} / {s.untraced_ms:.3f}"

    for r in rows:
        lines.append(
            f"| {_label(r.arch)} | {r.n} | {cell(r.port_eager)} | {cell(r.jit)} | {cell(r.hand)} | "
            f"{cell(r.hand_jit)} |"
        )
    return "\n".join(lines)


def breakdown(row: Row, top: int = 12) -> str:
    """The two sides' predicted times side by side: by block (matched by name), then the top ops by time."""
    out = [f"Predicted per block and per op, {_label(row.arch)}, N={row.n} (us; traced / untraced):", ""]
    hb, jb = _merge_blocks(row.hand.by("block")), _merge_blocks(row.jit.by("block"))
    names: dict[str, list[str]] = defaultdict(lambda: ["", ""])
    for i, d in enumerate((hb, jb)):
        for b in d:
            names[_block_key(b.split("+")[0])][i] = b
    out += [
        "| block (hand-tuned / port) | hand nodes | hand us | JIT nodes | JIT us | JIT / hand traced |",
        "|---|---:|---:|---:|---:|---:|",
    ]

    def us(d: dict, k: str) -> tuple[str, str, float]:
        if not k:
            return "-", "-", 0.0
        c, t, u = d[k]
        return str(c), f"{t:.1f} / {u:.1f}", t

    for key in sorted(
        names, key=lambda k: -max(hb.get(names[k][0], [0, 0])[1], jb.get(names[k][1], [0, 0])[1])
    ):
        h, j = names[key]
        hc, hs, ht = us(hb, h)
        jc, js, jt = us(jb, j)
        ratio = f"{jt / ht:.2f}x" if ht > 0 and jt > 0 else "-"
        out.append(f"| {h or '-'} / {j or '-'} | {hc} | {hs} | {jc} | {js} | {ratio} |")
    ho, jo = row.hand.by("op"), row.jit.by("op")
    ops = sorted(set(ho) | set(jo), key=lambda o: -max(ho.get(o, [0, 0])[1], jo.get(o, [0, 0])[1]))
    out += [
        "",
        "| op code | hand count | hand us | JIT count | JIT us |",
        "|---|---:|---:|---:|---:|",
    ]
    for o in ops[:top]:
        hc, hs, _ = us(ho, o if o in ho else "")
        jc, js, _ = us(jo, o if o in jo else "")
        out.append(f"| {o} | {hc} | {hs} | {jc} | {js} |")
    if len(ops) > top:
        rest = ops[top:]
        ht = sum(ho[o][1] for o in rest if o in ho)
        jt = sum(jo[o][1] for o in rest if o in jo)
        out.append(f"| ({len(rest)} more op codes) | | {ht:.1f} traced | | {jt:.1f} traced |")
    return "\n".join(out)


def render(rows: list[Row], command: str, *, breakdowns: str = "auto", top: int = 12) -> str:
    """The report (markdown), as written into docs/performance.md between the markers."""
    met = sum(r.met for r in rows)
    dtypes = ", ".join(sorted({r.port_dtype for r in rows}))
    parts = [
        "## Hand-tuned TTNN vs ttfuse's JIT of plain TTNN (predicted device time)",
        "",
        "Generated by `bench/handtuned.py` ([bench.md](bench.md)); every figure is the cost model's",
        "**prediction** (`ttfuse/passes/cost.py`), not a measurement. Hand-tuned: the `PairformerLayer` of the file",
        "named below (tt-boltz's, with its own program configs, grids, chunk loops and bfloat8_b outputs) captured",
        "op for op; JIT: `models.boltz.PairformerLayer` (plain TTNN, dtype "
        + dtypes
        + ") under `ttfuse.jit` with",
        "every pass. One layer: c_s 384, c_z 128, 16 heads; triangle attention 4 heads of 32. Traced: kernels +",
        "device dispatch (a metal-traced run); untraced: every launch also pays the host round trip. Nothing was",
        "executed: both sides are lowered on TensorSpecs.",
        "",
        "```",
        command,
        "```",
        "",
        results_table(rows),
        "",
        f"Goal JIT <= {GOAL}x hand-tuned (traced and untraced): met on {met} of {len(rows)} rows.",
        "",
        "Each code with and without the passes (predicted ms, traced / untraced):",
        "",
        context_table(rows),
    ]
    for r in rows:
        if breakdowns == "always" or (breakdowns == "auto" and not r.met):
            parts += ["", breakdown(r, top)]
    return "\n".join(parts) + "\n"


NEW_DOC = """# Performance

Figures on this page are **predicted** by ttfuse's cost model (`ttfuse/passes/cost.py`) unless a column says
"measured": no Tenstorrent chip is reachable here.

"""


def write_section(doc: Path, text: str) -> None:
    """Replace the handtuned section of `doc` (create the file / append the section when missing)."""
    section = f"{BEGIN}\n{text.rstrip()}\n{END}\n"
    if not doc.exists():
        doc.parent.mkdir(parents=True, exist_ok=True)
        doc.write_text(NEW_DOC + section)
        return
    old = doc.read_text()
    if BEGIN in old and END in old:
        head, rest = old.split(BEGIN, 1)
        tail = rest.split(END, 1)[1].lstrip("\n")
        new = head + section + ("\n" + tail if tail else "")
    else:
        new = old.rstrip("\n") + "\n\n" + section
    doc.write_text(new)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--ttboltz",
        required=True,
        metavar="PATH",
        help="tt-boltz's src/boltz/model/modules/tenstorrent.py (commit 0247de6), or a file with the same "
        f"PairformerLayer constructor (CI: {STANDIN})",
    )
    ap.add_argument("--n", type=int, nargs="+", default=list(DEFAULT_NS))
    ap.add_argument("--arch", nargs="+", default=list(DEFAULT_ARCHS))
    ap.add_argument("--port-dtype", default="bfloat8_b", help="the port's dtype (tt-boltz: bfloat8_b)")
    ap.add_argument("--breakdown", choices=("auto", "always", "never"), default="auto")
    ap.add_argument("--top", type=int, default=12, help="op codes in each breakdown")
    ap.add_argument("--write", metavar="FILE", help="write the report between the handtuned markers of FILE")
    a = ap.parse_args(argv)
    if not Path(a.ttboltz).is_file():
        ap.error(f"--ttboltz {a.ttboltz}: no such file (tt-boltz's src/boltz/model/modules/tenstorrent.py)")
    rows = measure(a.ttboltz, a.n, a.arch, a.port_dtype, log=lambda s: print(s, file=sys.stderr, flush=True))
    cmd = "python -m bench.handtuned " + " ".join(
        [f"--ttboltz {a.ttboltz}", "--n", *map(str, a.n), "--arch", *a.arch]
        + ([f"--port-dtype {a.port_dtype}"] if a.port_dtype != "bfloat8_b" else [])
        + ([f"--breakdown {a.breakdown}"] if a.breakdown != "auto" else [])
        + ([f"--write {a.write}"] if a.write else [])
    )
    text = render(rows, cmd, breakdowns=a.breakdown, top=a.top)
    print(text)
    if a.write:
        write_section(Path(a.write), text)
        print(f"wrote {a.write} (between {BEGIN} and {END})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
