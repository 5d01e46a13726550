"""Reporting for the bench harness: the rich tables and progress bar, JSON, markdown, PNG plots, --compare.

Everything here reads the results dict that bench/harness.py builds (one entry per row in `results["cases"]`)
and never measures. Targets are shown next to the measured figure: a check mark when met, a cross and the
word MISSED when missed (never hidden, never fatal); figures that could not be measured show as "-".

Extend: a new column = a `Col` in `_COLUMNS_SIM` or `_COLUMNS_COST` (the same list feeds the terminal and the
markdown tables); a new compared metric = a line in `COMPARE_METRICS`.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.table import Table
from rich.text import Text

OK, MISS = "✓", "✗"


def clock_words(results: dict) -> str:
    threads = results.get("machine", {}).get("torch_threads")
    t = f", {threads} torch thread{'s' if threads != 1 else ''}" if threads else ""
    if results.get("clock") == "wall":
        return f"wall-time medians{t}"
    return f"medians of process CPU time{t}"


def console() -> Console:
    """The terminal's width, or $COLUMNS; piped with no $COLUMNS (make run | tee, CI): 160 columns. The tables
    split by column groups to fit (fit_tables), so no figure is ever cut."""
    out = Console(highlight=False, soft_wrap=False)
    if not out.is_terminal and not os.environ.get("COLUMNS"):
        out = Console(highlight=False, soft_wrap=False, width=160)
    return out


# ------------------------------------------------------------------------------------------ formatting
def _num(v: float | None, fmt: str = "{:.2f}") -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    return fmt.format(v)


def _ms(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:.3f}" if v < 1 else f"{v:.2f}" if v < 100 else f"{v:.0f}"


def _mb(v: float | None) -> str:
    return "-" if v is None else f"{v / 2**20:.2f}"


def _pair(a: str, b: str) -> str:
    return "-" if a == "-" and b == "-" else f"{a}→{b}"


def arch_short(arch: str) -> str:
    parts = arch.split(":")
    name = {"wormhole_b0": "WH", "wormhole": "WH", "blackhole": "BH"}.get(parts[0], parts[0])
    return f"{name} {parts[1]}" if len(parts) > 1 else name


def check(value: float | None, cmp: str, target: float | None) -> bool | None:
    if value is None or target is None:
        return None
    return value >= target if cmp == ">=" else value <= target


def _marked(text: str, met: bool | None, cmp: str, target: float | None, unit: str = "", show: bool = False):
    """(cell text, style) with the target mark: '1.62x ✓', '0.95x ✗ MISSED' (`show`: the target too)."""
    if met is None:
        return text, ""
    tail = f" {'≥' if cmp == '>=' else '≤'}{target:g}" if show else ""
    if met:
        return f"{text} {OK}{tail}", "green"
    return f"{text} {MISS} MISSED{tail}", "bold red"


def _row_targets(row: dict, results: dict) -> dict[str, tuple[bool | None, str, float | None, str]]:
    """The row's target checks (results["targets"]: compile and cache costs, JIT vs the float32 reference,
    predicted JIT vs hand-tuned). A target with `applies_if` applies only to rows where that key is set (the
    hand-tuned ones: rows of a case with a hand-tuned version). The simulator's wall-time JIT-vs-eager ratios are
    figures only: both sides run the same float32 math on the CPU, so they say nothing about a chip (device time
    is the cost model's prediction)."""
    out = {}
    for key, spec in results.get("targets", {}).items():
        if isinstance(spec, dict) and spec.get("applies_if") and row.get(spec["applies_if"]) is None:
            continue
        if isinstance(spec, dict) and "cmp" in spec:
            out[key] = (
                check(row.get(key), spec["cmp"], spec["value"]),
                spec["cmp"],
                spec["value"],
                spec["unit"],
            )
    return out


def target_checks(results: dict) -> list[dict]:
    """Every target check of every row: what, value, target, met (None: not measured). A FAILED row's checks
    count as MISSED (`failed`: True): a crash never hides a target."""
    out = []
    for row in results["cases"]:
        failed = row.get("status") != "ok"
        for what, (met, cmp, target, unit) in _row_targets(row, results).items():
            out.append(
                {
                    "case": row["case"],
                    "size": row["size"],
                    "arch": row["arch"],
                    "what": what,
                    "value": None if failed else row.get(what),
                    "cmp": cmp,
                    "target": target,
                    "unit": unit,
                    "met": False if failed else met,
                    "failed": failed,
                }
            )
    return out


@dataclass(frozen=True)
class Summary:
    """The one tally the terminal report, the markdown and the exit code read."""

    met: int
    missed: list[dict]  # target checks MISSED, those of FAILED rows included (c["failed"])
    not_measured: int  # target checks of rows that ran whose figure could not be measured
    rows: int
    failed_rows: list[dict]
    unavailable: list[dict]  # cases not run at all (an optional dependency missing), with the reason

    def line(self) -> str:
        in_failed = sum(1 for c in self.missed if c.get("failed"))
        miss = f"{len(self.missed)} MISSED" + (f" ({in_failed} in FAILED rows)" if in_failed else "")
        out = f"targets: {self.met} met, {miss}, {self.not_measured} not measured"
        out += f"; rows: {self.rows - len(self.failed_rows)} ok, {len(self.failed_rows)} FAILED"
        return out + f"; cases not run: {len(self.unavailable)}"


def _with_unit(v: str, unit: str) -> str:
    """'1.59x' for a ratio (as the tables write it), '46.5 ms' for the rest."""
    return f"{v}{unit}" if unit == "x" else f"{v} {unit}" if unit else v


# the words a MISSED line uses for a target (the column's title; a line at 100 columns must not wrap)
TARGET_WORDS = {
    "compile_cold_ms": "cold compile",
    "compile_warm_ms": "disk-warm",
    "hit_overhead_us": "hit",
    "jit_vs_reference": "JIT/ref",
    "jit_vs_handtuned": "JIT/hand",
    "jit_vs_handtuned_untraced": "untr. JIT/hand",
}


def _missed_words(c: dict) -> str:
    value = "row FAILED" if c.get("failed") else _with_unit(_num(c["value"], "{:.3g}"), c["unit"])
    target = _with_unit(f"{c['target']:g}", c["unit"])
    return (
        f"MISSED {c['case']} {c['size']} {arch_short(c['arch'])}: {TARGET_WORDS.get(c['what'], c['what'])} "
        f"{value} (target {c['cmp']} {target})"
    )


def summary(results: dict) -> Summary:
    checks = results.get("target_checks") or target_checks(results)
    return Summary(
        met=sum(1 for c in checks if c["met"]),
        missed=[c for c in checks if c["met"] is False],
        not_measured=sum(1 for c in checks if c["met"] is None),
        rows=len(results["cases"]),
        failed_rows=[r for r in results["cases"] if r.get("status") != "ok"],
        unavailable=list(results.get("unavailable", [])),
    )


# --------------------------------------------------------------------------------------------- columns
@dataclass(frozen=True)
class Col:
    title: str
    cell: Callable[[dict, dict], tuple[str, str]]  # (row, results) -> (text, style)
    justify: str = "right"


def _plain(f: Callable[[dict], str]) -> Callable[[dict, dict], tuple[str, str]]:
    return lambda row, results: (f(row), "")


def _target_cell(
    key: str, fmt: Callable[[Any], str], show: bool = False
) -> Callable[[dict, dict], tuple[str, str]]:
    def cell(row: dict, results: dict) -> tuple[str, str]:
        met, cmp, target, u = _row_targets(row, results).get(key, (None, "", None, ""))
        return _marked(fmt(row.get(key)), met, cmp, target, u, show)

    return cell


def _speedup_cell(row: dict, results: dict) -> tuple[str, str]:
    if row.get("status") != "ok":
        return "FAILED", "bold red"
    return _num(row.get("speedup"), "{:.2f}x"), ""


def _pcc_cell(row: dict, results: dict) -> tuple[str, str]:
    """JIT vs reference; flagged (with eager's figure) when JIT is further from the reference than eager."""
    p, e = row.get("pcc"), row.get("pcc_eager")
    if p is not None and e is not None and e - p > PCC_WORSE:
        return f"{p:.5f} (eager {e:.5f})", "bold red"
    return _num(p, "{:.5f}"), ""


PCC_WORSE = 1e-3  # JIT PCC this much below eager's: JIT computes something else (a pass bug)


def pcc_warnings(results: dict) -> list[str]:
    out = []
    for r in results["cases"]:
        p, e = r.get("pcc"), r.get("pcc_eager")
        if p is not None and e is not None and e - p > PCC_WORSE:
            out.append(
                f"JIT output further from the reference than eager: {r['case']} {r['size']} "
                f"{arch_short(r['arch'])}: PCC {p:.5f} (eager {e:.5f})"
            )
    return out


def _ratio(e: float | None, j: float | None) -> str:
    return "-" if not e or not j else f"{e / j:.2f}x"


def _pred_ratio(row: dict) -> str:
    return _ratio(row.get("predicted_us_eager"), row.get("predicted_us_jit"))


_KEY = [
    Col("case", _plain(lambda r: r["case"]), "left"),
    Col("size", _plain(lambda r: str(r["size"]))),
    Col("arch", _plain(lambda r: arch_short(r["arch"])), "left"),
]
GROUPS: list[tuple[str, list[Col]]] = [
    (
        "JIT vs eager on the simulator (CPU figures, no target)",
        [
            Col("eager ms", _plain(lambda r: _ms(r.get("eager_ms")))),
            Col("JIT ms", _plain(lambda r: _ms(r.get("jit_ms")))),
            Col("speedup", _speedup_cell),
            Col(
                "launches",
                _plain(
                    lambda r: _pair(_num(r.get("launches_eager"), "{}"), _num(r.get("launches_jit"), "{}"))
                ),
            ),
        ],
    ),
    (
        "vs the PyTorch float32 reference, side by side (target JIT/ref <= 1.25x)",
        [
            Col("ref f32 ms", _plain(lambda r: _ms(r.get("reference_ms")))),
            Col("JIT/ref", _target_cell("jit_vs_reference", lambda v: _num(v, "{:.2f}x"))),
            Col("PCC", _pcc_cell),
        ],
    ),
    (
        "compile and cache (targets: cold <= 100 ms, disk-warm <= 10 ms, hit <= 20 us)",
        [
            Col("cold ms", _target_cell("compile_cold_ms", lambda v: _num(v, "{:.1f}"))),
            Col("disk-warm ms", _target_cell("compile_warm_ms", lambda v: _num(v, "{:.1f}"))),
            Col("hit us", _target_cell("hit_overhead_us", lambda v: _num(v, "{:.1f}"))),
        ],
    ),
    (
        "torch.compile (inductor, CPU)",
        [
            Col("t.compile ms", _plain(lambda r: _ms(r.get("torch_compile_ms")))),
            # ms like every other time column (UNITS); seconds here once read as milliseconds next to "cold ms"
            Col("t.c. cold ms", _plain(lambda r: _num(r.get("torch_compile_cold_ms"), "{:.0f}"))),
        ],
    ),
    (
        "cost model: predicted device time, eager→JIT",
        [
            Col(
                "pred. us",
                _plain(
                    lambda r: _pair(
                        _num(r.get("predicted_us_eager"), "{:.1f}"), _num(r.get("predicted_us_jit"), "{:.1f}")
                    )
                ),
            ),
            Col("pred. x", _plain(_pred_ratio)),
            Col(
                "untraced x",
                _plain(
                    lambda r: _ratio(r.get("predicted_untraced_us_eager"), r.get("predicted_untraced_us_jit"))
                ),
            ),
        ],
    ),
    (
        "predicted device time vs hand-tuned TTNN (target JIT/hand <= 0.9x)",
        [
            Col(
                "hand→JIT us",
                _plain(
                    lambda r: _pair(
                        _num(r.get("handtuned_us"), "{:.1f}"), _num(r.get("handtuned_jit_us"), "{:.1f}")
                    )
                ),
            ),
            Col("JIT/hand", _target_cell("jit_vs_handtuned", lambda v: _num(v, "{:.2f}x"))),
            Col("untr. JIT/hand", _target_cell("jit_vs_handtuned_untraced", lambda v: _num(v, "{:.2f}x"))),
        ],
    ),
    (
        "memory, eager→JIT",
        [
            Col(
                "DRAM MB",
                _plain(lambda r: _pair(_mb(r.get("dram_bytes_eager")), _mb(r.get("dram_bytes_jit")))),
            ),
            Col(
                "peak L1 KB",
                _plain(
                    lambda r: _pair(
                        _num(_kb(r.get("peak_l1_bytes_eager")), "{:.0f}"),
                        _num(_kb(r.get("peak_l1_bytes_jit")), "{:.0f}"),
                    )
                ),
            ),
            Col(
                "peak DRAM MB",
                _plain(
                    lambda r: _pair(_mb(r.get("peak_dram_bytes_eager")), _mb(r.get("peak_dram_bytes_jit")))
                ),
            ),
        ],
    ),
]


# The unit a column title may end with: times in ms or us (never s), memory in MB or KB, ratios in x. A title
# without one of these (case, speedup, launches, PCC) holds a count, a ratio or a name.
UNITS = ("ms", "us", "MB", "KB", "x")


def _col_width(c: Col, results: dict) -> int:
    return max([len(c.title)] + [len(c.cell(r, results)[0]) for r in results["cases"]])


def fit_tables(results: dict, width: int) -> list[tuple[str, list[Col]]]:
    """The terminal's tables: the key columns (case, size, arch) then as many whole column groups as fit in
    `width` characters; a group wider than a table splits by column. Every figure is shown, none is cut."""
    key_w = sum(_col_width(c, results) + 3 for c in _KEY) + 1  # a column: 2 padding + 1 rule
    tables: list[list] = []  # [titles, cols, width]
    for title, cols in GROUPS:
        ws = [_col_width(c, results) + 3 for c in cols]
        if tables and tables[-1][2] + sum(ws) <= width:
            tables[-1][0].append(title)
            tables[-1][1].extend(cols)
            tables[-1][2] += sum(ws)
            continue
        for i, (c, w) in enumerate(zip(cols, ws)):
            if i == 0 or tables[-1][2] + w > width:
                tables.append([[title if i == 0 else f"{title} (cont.)"], [], key_w])
            tables[-1][1].append(c)
            tables[-1][2] += w
    # one line per group title: joined on one line, the titles of merged groups wrapped mid-phrase
    return [("\n".join(titles), _KEY + cols) for titles, cols, _ in tables]


def _kb(v: int | None) -> float | None:
    return None if v is None else v / 1024


def _table(title: str, cols: list[Col], results: dict) -> Table:
    t = Table(title=title, title_justify="left", header_style="bold", pad_edge=False)
    for c in cols:
        t.add_column(c.title, justify=c.justify, no_wrap=c.justify == "left")
    for row in results["cases"]:
        cells = []
        for c in cols:
            text, style = c.cell(row, results)
            cells.append(Text(text, style=style))
        t.add_row(*cells)
    return t


# ----------------------------------------------------------------------------------------------- render
def render(results: dict, out: Console, paths: dict[str, str] | None = None) -> None:
    """The terminal report: two tables, failures, unavailable cases, the target tally, --compare, files."""
    mode = results.get("mode", "?")
    out.print()
    out.print(
        Text(f"ttfuse bench ({mode}): JIT vs eager on the simulator, {clock_words(results)}", style="bold")
    )
    for title, cols in fit_tables(results, out.width):
        out.print(_table(title, cols, results))
    failed = [r for r in results["cases"] if r.get("status") != "ok"]
    for r in failed:
        out.print(
            Text(
                f"FAILED {r['case']} {r['size']} {arch_short(r['arch'])} at {r.get('failed_step')}: {r.get('error')}",
                style="red",
            )
        )
    for u in results.get("unavailable", []):
        out.print(Text(f"not run: {u['case']}: {u['reason']}", style="yellow"))
    for line in pcc_warnings(results):
        out.print(Text(line, style="bold red"))
    tally = summary(results)
    out.print(Text(tally.line(), style="bold red" if tally.missed or tally.failed_rows else "green"))
    for c in tally.missed:
        out.print(Text(f"  {MISS} {_missed_words(c)}", style="red"))
    src = {r.get("predicted_source") for r in results["cases"] if r.get("predicted_source")}
    if src:
        out.print(Text(f"predicted device time: {', '.join(sorted(src))}", style="dim"))
    for line in handtuned_notes(results):
        out.print(Text(line, style="dim"))
    if results.get("compare"):
        render_compare(results["compare"], out)
    m = results.get("machine", {})
    load = m.get("loadavg_start")
    note = f"{m.get('cpus')} CPUs, load average {load[0]:.1f} at start" if load else f"{m.get('cpus')} CPUs"
    if load and m.get("cpus") and load[0] > m["cpus"]:
        note += " (a busy machine: wall times are noisy; "
        note += "headline times are CPU time)" if results.get("clock") != "wall" else "try --clock cpu)"
    out.print(Text(f"{len(results['cases'])} rows in {results.get('wall_s', 0):.0f} s; {note}", style="dim"))
    for what, p in (paths or {}).items():
        out.print(Text(f"{what}: {p}", style="dim"))


def handtuned_notes(results: dict) -> list[str]:
    """Where the hand-tuned figures came from (one line per source), every figure labelled predicted."""
    out = []
    for src in sorted({r["handtuned_source"] for r in results["cases"] if r.get("handtuned_source")}):
        cases = sorted({r["case"] for r in results["cases"] if r.get("handtuned_source") == src})
        dt = sorted({r["handtuned_port_dtype"] for r in results["cases"] if r.get("handtuned_port_dtype")})
        out.append(
            f"hand-tuned (predicted, bench/handtuned.py) of {', '.join(cases)}: {src}; JIT/hand: the port "
            f"under ttfuse.jit{' in ' + ', '.join(dt) if dt else ''} / the hand-tuned code op for op "
            "(--ttboltz PATH: tt-boltz's tenstorrent.py)"
        )
    return out


def render_compare(cmp: dict, out: Console) -> None:
    t = Table(
        title=f"compared with {cmp.get('old_path', 'the old run')} (threshold {cmp['threshold']:.0%})",
        title_justify="left",
        header_style="bold",
        pad_edge=False,
    )
    for h in ("case", "size", "arch", *[m for m, _, _ in COMPARE_METRICS], "status"):
        t.add_column(h, justify="left" if h in ("case", "arch", "status") else "right")
    for r in cmp["rows"]:
        cells = [r["case"], str(r["size"]), arch_short(r["arch"])]
        for m, _, _ in COMPARE_METRICS:
            d = r["metrics"].get(m)
            if not d or d["old"] is None or d["new"] is None:
                cells.append(Text("-"))
                continue
            txt = f"{_num(d['old'], '{:.3g}')} → {_num(d['new'], '{:.3g}')} ({d['change']:+.0%})"
            cells.append(Text(txt, style="bold red" if d["regressed"] else ""))
        cells.append(
            Text("REGRESSION" if r["regressed"] else "ok", style="bold red" if r["regressed"] else "green")
        )
        t.add_row(*cells)
    out.print(t)
    n = len(cmp["regressions"])
    out.print(
        Text(
            f"{n} regression(s)" + (": " + "; ".join(cmp["regressions"]) if n else ""),
            style="bold red" if n else "green",
        )
    )


def row_line(row: dict) -> str:
    """One line per finished row (the log when the progress bar cannot draw)."""
    head = f"{row['case']} {row['size']} {arch_short(row['arch'])}"
    if row.get("status") != "ok":
        return f"{head}: FAILED at {row.get('failed_step')}: {row.get('error')}"
    sp = row.get("speedup")
    return (
        f"{head}: eager {_ms(row.get('eager_ms'))} ms, JIT {_ms(row.get('jit_ms'))} ms"
        + (f", {sp:.2f}x" if sp else "")
        + f" ({row.get('wall_s', 0):.1f} s)"
    )


class _Progress:
    def __init__(self, out: Console, total: int):
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self.out = out
        self.live = out.is_terminal
        self.p = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=out,
            transient=True,
            disable=not self.live,
        )
        self.task = self.p.add_task("starting", total=total)
        self.t0 = time.perf_counter()

    def step(self, desc: str) -> None:
        self.p.update(self.task, description=desc)

    def done(self, line: str) -> None:
        self.p.advance(self.task)
        stamp = f"[{time.perf_counter() - self.t0:6.1f} s] "
        if self.live:
            self.p.console.print(Text(stamp + line, style="dim"))
        else:
            print(stamp + line, flush=True)


@contextlib.contextmanager
def progress(out: Console, total: int):
    pr = _Progress(out, total)
    with pr.p:
        yield pr


def list_cases(cases: dict, pending: dict) -> None:
    out = console()
    t = Table(title="bench cases", title_justify="left", header_style="bold", pad_edge=False)
    for h in ("case", "quick", "full", "size", "status", "what"):
        t.add_column(h, justify="left", no_wrap=h == "case")
    for c in cases.values():
        why = c.unavailable()
        t.add_row(
            c.name,
            ",".join(map(str, c.quick)),
            ",".join(map(str, c.full)),
            c.size_label,
            Text(why or "ok", style="yellow" if why else "green"),
            c.description,
        )
    for n, why in pending.items():
        t.add_row(n, "", "", "", Text(why, style="yellow"), "")
    out.print(t)


# ---------------------------------------------------------------------------------------------- compare
# metric, direction ("higher" is better or "lower"), kind ("rel": relative change, "abs": absolute)
# metric, direction (which way is better), and the smallest absolute worsening that counts (below it a change
# is timer noise, whatever its relative size; PCC: the drop that counts, relative change not used)
COMPARE_METRICS: list[tuple[str, str, float]] = [
    ("speedup", "higher", 0.0),
    ("jit_ms", "lower", 0.05),
    ("eager_ms", "lower", 0.05),
    ("compile_cold_ms", "lower", 2.0),
    ("hit_overhead_us", "lower", 2.0),
    ("predicted_us_jit", "lower", 0.0),
    ("pcc", "higher", 1e-3),
]


def compare(old: dict, new: dict, threshold: float = 0.10) -> dict:
    """Per row (case, size, arch) in both runs: each metric's change; a regression when a metric got worse by
    more than `threshold` (relative) and by more than its absolute floor (PCC: a drop over 0.001), or the row
    stopped working."""

    def key(r):
        return (r["case"], r["size"], r["arch"])

    old_rows = {key(r): r for r in old.get("cases", [])}
    rows, regressions = [], []
    for r in new["cases"]:
        o = old_rows.get(key(r))
        if o is None:
            continue
        metrics = {}
        worse = []
        for m, direction, floor in COMPARE_METRICS:
            a, b = o.get(m), r.get(m)
            if a is None or b is None:
                metrics[m] = {"old": a, "new": b, "change": None, "regressed": False}
                continue
            change = (b - a) / abs(a) if a else 0.0
            worsening = (a - b) if direction == "higher" else (b - a)
            if m == "pcc":
                bad = worsening > floor
            else:
                bad = worsening > floor and worsening > threshold * abs(a)
            metrics[m] = {"old": a, "new": b, "change": change, "regressed": bool(bad)}
            if bad:
                worse.append(f"{m} {a:.4g} -> {b:.4g} ({change:+.0%})")
        if o.get("status") == "ok" and r.get("status") != "ok":
            worse.append(f"now FAILED ({r.get('error')})")
        entry = {
            "case": r["case"],
            "size": r["size"],
            "arch": r["arch"],
            "metrics": metrics,
            "regressed": bool(worse),
        }
        rows.append(entry)
        if worse:
            regressions.append(f"{r['case']} {r['size']} {arch_short(r['arch'])}: " + ", ".join(worse))
    new_keys = {key(r) for r in new["cases"]}
    return {
        "threshold": threshold,
        "rows": rows,
        "regressions": regressions,
        "missing": [list(k) for k in old_rows if k not in new_keys],
        "new": [list(key(r)) for r in new["cases"] if key(r) not in old_rows],
    }


# ------------------------------------------------------------------------------------------ environment
def machine_info() -> dict:
    """Where the run happened (the JSON's "machine"); the load average says how busy the machine was."""
    info = {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "torch_threads": torch.get_num_threads(),
    }
    with contextlib.suppress(OSError, AttributeError):
        info["loadavg_start"] = list(os.getloadavg())
    return info


def versions() -> dict:
    """What ran: ttfuse (version, source hash, git commit, pass pipeline), torch and the reference packages."""
    import ttfuse

    v = {"ttfuse": getattr(ttfuse, "__version__", "?"), "torch": torch.__version__}
    with contextlib.suppress(Exception):
        from ttfuse.passes.pipeline import PIPELINE, PIPELINE_VERSION

        v["pipeline_version"] = PIPELINE_VERSION
        v["passes"] = [n for n, _ in PIPELINE]
    with contextlib.suppress(Exception):
        from ttfuse import cache

        v["ttfuse_source"] = cache.source_hash()[:16]
    with contextlib.suppress(Exception):
        root = Path(__file__).resolve().parent.parent
        r = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=root, timeout=5
        )
        if r.returncode == 0:
            v["git"] = r.stdout.strip()
    for pkg in ("boltz", "diffusers", "rich", "matplotlib"):
        with contextlib.suppress(Exception):
            from importlib.metadata import version

            v[pkg] = version(pkg)
    return v


# ------------------------------------------------------------------------------------------------ files
def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if v is None or isinstance(v, bool | int | float | str):
        return v
    return str(v)


def write_outputs(results: dict, out_dir: Path, *, plots: bool = True) -> dict[str, str]:
    """bench/results/<timestamp>.json + latest.json, latest.md, speedup.png and predicted.png."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = out_dir / f"{stamp}.json"
    i = 1
    while path.exists():
        path = out_dir / f"{stamp}-{i}.json"
        i += 1
    paths = {
        "json": str(path),
        "latest": str(out_dir / "latest.json"),
        "markdown": str(out_dir / "latest.md"),
    }
    if plots:
        try:
            paths.update(write_plots(results, out_dir))
        except Exception as e:  # noqa: BLE001 - a plotting problem must not lose the measurements
            results.setdefault("notes", []).append(f"plots failed: {type(e).__name__}: {e}")
    data = json.dumps(_jsonable(results), indent=1)
    path.write_text(data)
    (out_dir / "latest.json").write_text(data)
    (out_dir / "latest.md").write_text(markdown(results, paths))
    return paths


def markdown(results: dict, paths: dict[str, str] | None = None) -> str:
    m, v = results.get("machine", {}), results.get("versions", {})
    lines = [
        f"# ttfuse bench ({results.get('mode')}) {results.get('created', '')}",
        "",
        f"ttfuse {v.get('ttfuse')} (git {v.get('git', '?')}, passes {', '.join(v.get('passes', [])) or '?'}), "
        f"torch {v.get('torch')}, Python {m.get('python')}, {m.get('cpus')} CPUs ({m.get('platform')}), "
        f"load average at start {(_num((m.get('loadavg_start') or [None])[0], '{:.1f}'))}; {len(results['cases'])} rows "
        f"in {results.get('wall_s', 0):.0f} s.",
        "",
        f"Targets: {OK} met, {MISS} MISSED: cold compile <= 100 ms, warm start from disk <= 10 ms and "
        "cache-hit overhead <= 20 us per block; JIT sim time / float32 PyTorch reference <= 1.25x (the price "
        "of emulating TT numerics, measured side by side); predicted device time JIT / hand-tuned TTNN <= 0.9x, "
        "traced and untraced (cases with a hand-tuned version). The JIT-vs-eager times on the simulator are "
        "figures, not targets: both sides run the same float32 math on the CPU. Every device time is the cost "
        "model's prediction (labelled predicted).",
        "",
    ]
    for title, cols in [(t, _KEY + c) for t, c in GROUPS]:
        lines += [
            f"## {title}",
            "",
            "| " + " | ".join(c.title for c in cols) + " |",
            "|" + "|".join("---" if c.justify == "left" else "---:" for c in cols) + "|",
        ]
        for row in results["cases"]:
            lines.append("| " + " | ".join(c.cell(row, results)[0].replace("|", "/") for c in cols) + " |")
        lines.append("")
    if pcc_warnings(results):
        lines += ["## Correctness", ""] + [f"- {w}" for w in pcc_warnings(results)] + [""]
    tally = summary(results)
    if tally.failed_rows or tally.unavailable:
        lines += ["## FAILED rows and cases not run", ""]
        lines += [
            f"- FAILED `{r['case']}` {r['size']} {r['arch']} at {r.get('failed_step')}: {r.get('error')}"
            for r in tally.failed_rows
        ]
        lines += [f"- not run `{u['case']}`: {u['reason']}" for u in tally.unavailable]
        lines.append("")
    lines += ["## Targets", "", tally.line() + ".", ""]
    lines += [f"- {MISS} {_missed_words(c)}" for c in tally.missed]
    if results.get("compare"):
        cmp = results["compare"]
        lines += ["", f"## Compared with {cmp.get('old_path')}", ""]
        lines += [f"- REGRESSION {r}" for r in cmp["regressions"]] or ["No regression."]
    src = sorted({r.get("predicted_source") for r in results["cases"] if r.get("predicted_source")})
    lines += [
        "",
        "## How to read this",
        "",
        f"- eager / JIT ms: {clock_words(results)} of interleaved rounds on the simulator (the JSON also has "
        "wall and CPU medians and every sample). speedup = eager / JIT.",
        "- cold compile: every jit call of the block compiled with an empty cache (trace, passes, verify, "
        "codegen, disk store), not run; disk-warm: memory cache cleared, entry loaded from disk (verify + "
        "regenerate); hit us: the jit wrapper's own time on a cache hit.",
        "- launches: kernels counted by the simulator (one eager call, one JIT call). DRAM MB and predicted us: "
        "cost model on the row's device, eager = the traced graph (one kernel per op), JIT = after passes "
        f"({', '.join(src) or 'n/a'}); untraced x: the same ratio when every launch also pays the host round trip.",
        "- hand→JIT us, JIT/hand: predicted device time (traced) of the case's hand-tuned TTNN code op "
        "for op and of the port under ttfuse.jit in the hand-tuned code's dtypes (bench/handtuned.py); untraced "
        "JIT/hand: the same ratio when every launch also pays the host round trip."
        + "".join(f" {n}." for n in handtuned_notes(results)),
        "- peak L1 / DRAM: the most allocated during one call above what was resident before it.",
        "- ref f32 ms: the PyTorch float32 reference; torch.compile: inductor on CPU, steady state per call, "
        "cold compile in a child process with an empty inductor cache. PCC: JIT output vs the reference.",
    ]
    if paths:
        for what in ("speedup_png", "predicted_png"):
            if what in paths:
                lines += ["", f"![{what}]({Path(paths[what]).name})"]
    return "\n".join(lines) + "\n"


def _label(row: dict) -> str:
    return f"{row['case']} ({row['size']})"


def _plain_log_axis(ax, ticks: tuple[float, ...] | None = None) -> None:
    from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, NullFormatter

    ax.set_xscale("log")
    ax.xaxis.set_major_locator(FixedLocator(ticks) if ticks else LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def write_plots(results: dict, out_dir: Path) -> dict[str, str]:
    """speedup.png (JIT speedup per case and arch, log scale around 1x, targets as ticks) and predicted.png
    (cost-model device time eager vs JIT, and hand-tuned TTNN where a case has it; one panel per arch)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = results["cases"]
    archs = list(dict.fromkeys(r["arch"] for r in rows)) or list(results.get("archs", []))
    labels = list(dict.fromkeys(_label(r) for r in rows))
    by = {(_label(r), r["arch"]): r for r in rows}
    colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd"]
    ys = list(range(len(labels)))[::-1]
    nb = max(1, len(archs))
    bh = 0.8 / nb
    paths = {}

    # speedup per case: bars from 1x (right: JIT faster, left: slower), one per arch (a figure, no target)
    fig, ax = plt.subplots(figsize=(11, max(3.0, 0.34 * len(labels) * nb + 1.8)))
    vals = [r["speedup"] for r in rows if r.get("speedup")]
    lo, hi = min(vals + [0.8]) / 1.6, max(vals + [1.25]) * 1.9
    seen = set()
    for j, arch in enumerate(archs):
        for y, lab in zip(ys, labels):
            r = by.get((lab, arch))
            if r is None:
                continue
            yy = y + (nb / 2 - j - 0.5) * bh
            sp = r.get("speedup")
            if r.get("status") != "ok" or not sp:
                why = "FAILED" if r.get("status") != "ok" else "n/a"
                ax.text(1.0, yy, f" {why} ({arch_short(arch)})", va="center", fontsize=8, color="red")
                continue
            name = arch_short(arch)
            ax.barh(
                yy,
                sp - 1.0,
                left=1.0,
                height=bh * 0.85,
                color=colors[j % len(colors)],
                label=None if name in seen else name,
            )
            seen.add(name)
            ax.text(max(sp, 1.0) * 1.03, yy, f"{sp:.2f}x", va="center", fontsize=8)
    ax.axvline(1.0, color="black", lw=1)
    _plain_log_axis(ax, (0.1, 0.2, 0.3, 0.5, 0.7, 1, 1.25, 1.5, 2, 3, 5, 10, 20, 50, 100))
    ax.set_xlim(lo, hi)
    ax.set_ylim(-0.7, len(labels) - 0.3)
    ax.set_yticks(ys)
    ax.set_yticklabels(labels, fontsize=9)
    ax.set_xlabel(
        "speedup = eager sim time / JIT sim time (log scale; right of 1x: JIT faster; CPU figures, not targets)"
    )
    ax.set_title(
        f"ttfuse bench ({results.get('mode')}): JIT speedup over eager on the simulator "
        f"({clock_words(results)})",
        fontsize=10,
    )
    if seen:
        ax.legend(loc="lower right", fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    p = out_dir / "speedup.png"
    fig.savefig(p, dpi=110)
    plt.close(fig)
    paths["speedup_png"] = str(p)

    # predicted device time eager vs JIT, one panel per arch, one x range for all panels, legend below them
    # (outside every panel, so it hides no bar or label)
    fig, axes = plt.subplots(
        1, nb, figsize=(6.5 * nb, max(3.0, 0.55 * len(labels) + 2.2)), squeeze=False, sharey=True
    )
    pred = [
        v
        for r in rows
        for v in (r.get("predicted_us_eager"), r.get("predicted_us_jit"), r.get("handtuned_us"))
        if v
    ]
    for j, arch in enumerate(archs or ["?"]):
        ax = axes[0][j]
        drawn = drawn_hand = False
        for y, lab in zip(ys, labels):
            r = by.get((lab, arch)) or {}
            e, jt = r.get("predicted_us_eager"), r.get("predicted_us_jit")
            if not e or not jt:
                why = "FAILED" if r.get("status") == "failed" else "n/a"
                ax.text(
                    0.02, y, why, va="center", fontsize=8, color="gray", transform=ax.get_yaxis_transform()
                )
                continue
            hand = r.get("handtuned_us")  # a case with a hand-tuned version: a third bar below the JIT's
            off, h = (0.27, 0.26) if hand else (0.2, 0.38)
            ax.barh(y + off, e, height=h, color="#999999", label=None if drawn else "eager")
            jit_label = f"JIT ({arch})" if len(archs) > 1 else "JIT"  # each panel's JIT colour in the legend
            ax.barh(y, jt, height=h, color=colors[j % len(colors)], label=None if drawn else jit_label)
            if hand:
                ax.barh(
                    y - off, hand, height=h, color="#d62728", label=None if drawn_hand else "hand-tuned TTNN"
                )
                drawn_hand = True
            ax.text(max(e, jt, hand or 0) * 1.05, y, f"{e / jt:.2f}x", va="center", fontsize=8)
            drawn = True
        if drawn:
            _plain_log_axis(ax)
            ax.set_xlim(min(pred) / 2, max(pred) * 2.5)
        ax.set_ylim(-0.7, len(labels) - 0.3)
        ax.set_title(f"{arch}: predicted device time", fontsize=10)
        ax.set_xlabel("us per call (log scale; label: eager / JIT)")
        ax.grid(axis="x", alpha=0.3)
        ax.set_yticks(ys)
        ax.set_yticklabels(labels, fontsize=9)
    src = sorted({r.get("predicted_source") for r in rows if r.get("predicted_source")})
    fig.suptitle(
        "cost model, predicted: eager (traced graph, one kernel per op) vs JIT (after passes)"
        + (" vs hand-tuned TTNN (op for op)" if any(r.get("handtuned_us") for r in rows) else "")
        + (f"\n{'; '.join(src)}" if src else ""),
        fontsize=10,
    )
    legend: dict = {}
    for ax in axes[0]:
        for h, n in zip(*ax.get_legend_handles_labels(), strict=True):
            legend.setdefault(n, h)
    if legend:
        fig.legend(list(legend.values()), list(legend), loc="lower center", ncol=len(legend), fontsize=9)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    p = out_dir / "predicted.png"
    fig.savefig(p, dpi=110)
    plt.close(fig)
    paths["predicted_png"] = str(p)
    return paths
