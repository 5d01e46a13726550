"""The `ttfuse` command line (console script and `python -m ttfuse`).

    ttfuse cache list [-f TEXT] [-m MOD] [--run ID]  table: key, function, arg specs, device, run, size, hits, age
    ttfuse cache show KEY [--json]                  metadata, IR and regenerated source (a key prefix is enough)
    ttfuse cache stats [-m MOD] [--run ID] [--by run]  disk store summary (--by: a table per run/function/device)
    ttfuse cache clear [--older-than 7d]            remove entries (all, or not touched for a while)
    ttfuse cache path                               print the cache root
    ttfuse explain MODULE:FUNC --args SPEC...       IR before/after each pass, generated code, cost report
    ttfuse bench [--quick|--full] [--case NAME]...  the benchmark sweep JIT vs eager (bench/harness.py; --help)
    ttfuse run SCRIPT.py [ARGS...] | -m MODULE ...  run a plain-ttnn script with `import ttnn` resolved by
                                                    ttfuse.install() (the simulator unless a real device opens)

A SPEC is an abstract tensor, written like the IR prints it (`parse_spec`): `bf16[32,1024]`,
`bfp8[1,128,128]@L1`, `f32[4,64]rm`, `bf16[256,1024]@L1/height[8x8:32x1024]`.

Invariants: commands only read the cache except `cache clear`; a bad key, spec or target is a clean
error message with exit status 1 or 2 (click's usage errors), never a traceback.
Extend: add a `@main.command()` (or `@cache.command()`) below; keep output testable with click's CliRunner.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import json
import os
import re
import runpy
import shutil
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import click
from rich import box
from rich.console import Console
from rich.rule import Rule
from rich.table import Table

from ttfuse import cache as _cache
from ttfuse.errors import CacheError, SpecError, TtfuseError
from ttfuse.flags import flags as _flags_override
from ttfuse.flags import get_flag
from ttfuse.types import (
    BufferType,
    CoreCoord,
    CoreRange,
    CoreRangeSet,
    DataType,
    Layout,
    MemoryConfig,
    ShardSpec,
    TensorMemoryLayout,
    TensorSpec,
)

__all__ = ["main", "parse_spec", "parse_duration"]


def _console() -> Console:
    out = Console(highlight=False, soft_wrap=False)
    if not out.is_terminal and not os.environ.get(
        "COLUMNS"
    ):  # piped or under CliRunner: wide, nothing is cut
        out = Console(highlight=False, soft_wrap=False, width=max(200, shutil.get_terminal_size().columns))
    return out


def _section(console: Console, title: str) -> None:
    """A section header line (at most 100 columns, so piped output stays readable)."""
    width = min(console.width, 100)
    console.print(Rule(title, align="left", style="dim"), width=width)


def _plain(console: Console, text: str) -> None:
    """Print text verbatim (no markup, no highlighting, no wrapping)."""
    console.print(text, markup=False, highlight=False, soft_wrap=True)


# ------------------------------------------------------------------------------------------------- specs
_DTYPES: dict[str, DataType] = {}
for _dt in DataType:
    _DTYPES[_dt.value] = _dt
    _DTYPES[_dt.short] = _dt
_DTYPES.update({"fp32": DataType.FLOAT32, "bfp8_b": DataType.BFLOAT8_B, "bfp4_b": DataType.BFLOAT4_B})

_SPEC_RE = re.compile(
    r"^(?P<dtype>[a-z][a-z0-9_]*)\[(?P<dims>[0-9,\s]*)\](?P<layout>rm|row_major|tile)?(?:@(?P<mem>\S+))?$",
    re.IGNORECASE,
)
_MEM_RE = re.compile(
    r"^(?P<buf>dram|l1)(?:/(?P<kind>height|width|block)(?:\[(?P<gx>\d+)x(?P<gy>\d+):(?P<sh>\d+)x(?P<sw>\d+)\])?)?$",
    re.IGNORECASE,
)
_SPEC_HELP = (
    "expected DTYPE[d0,d1,...][rm][@MEM], e.g. bf16[32,1024], bfp8[1,128,128]@L1, f32[4,64]rm, "
    "bf16[256,1024]@L1/height[8x8:32x1024]; DTYPE one of " + ", ".join(sorted(_DTYPES))
)


def parse_spec(s: str) -> TensorSpec:
    """Parse an abstract tensor written as the IR prints it (the inverse of `str(TensorSpec)`).

    DTYPE is a short (`bf16`, `f32`, `bfp8`, `bfp4`, `i32`, `u32`, ...) or ttnn (`bfloat16`) name; `rm` means
    ROW_MAJOR (default TILE); MEM is `DRAM` (default), `L1`, or `L1/height|width|block` with an optional
    `[GXxGY:HxW]` shard grid (GX by GY cores from (0,0)) and shard shape.
    """
    m = _SPEC_RE.match(s.strip())
    if not m:
        raise SpecError(f"bad tensor spec {s!r}: {_SPEC_HELP}")
    dtype = _DTYPES.get(m["dtype"].lower())
    if dtype is None:
        raise SpecError(f"bad tensor spec {s!r}: unknown dtype {m['dtype']!r}; {_SPEC_HELP}")
    dims_text = m["dims"].strip()
    try:
        dims = tuple(int(d) for d in dims_text.split(",")) if dims_text else ()
    except ValueError:
        raise SpecError(f"bad tensor spec {s!r}: dims must be integers; {_SPEC_HELP}") from None
    if any(d <= 0 for d in dims):
        raise SpecError(f"bad tensor spec {s!r}: every dim must be positive")
    layout = Layout.ROW_MAJOR if (m["layout"] or "tile").lower() in ("rm", "row_major") else Layout.TILE
    if dtype.is_block_float and layout is not Layout.TILE:
        raise SpecError(f"bad tensor spec {s!r}: {dtype.value} exists only in TILE layout (drop 'rm')")
    return TensorSpec(dims, dtype, layout, _parse_mem(s, m["mem"]))


def _parse_mem(s: str, text: str | None) -> MemoryConfig:
    if not text:
        return MemoryConfig()
    m = _MEM_RE.match(text)
    if not m:
        raise SpecError(
            f"bad tensor spec {s!r}: memory {text!r} is not DRAM, L1 or L1/height|width|block[GXxGY:HxW]"
        )
    buf = BufferType.L1 if m["buf"].lower() == "l1" else BufferType.DRAM
    if not m["kind"]:
        return MemoryConfig(TensorMemoryLayout.INTERLEAVED, buf)
    layout = {
        "height": TensorMemoryLayout.HEIGHT_SHARDED,
        "width": TensorMemoryLayout.WIDTH_SHARDED,
        "block": TensorMemoryLayout.BLOCK_SHARDED,
    }[m["kind"].lower()]
    shard = None
    if m["gx"]:
        gx, gy = int(m["gx"]), int(m["gy"])
        if gx < 1 or gy < 1:
            raise SpecError(f"bad tensor spec {s!r}: shard grid must be at least 1x1")
        grid = CoreRangeSet([CoreRange(CoreCoord(0, 0), CoreCoord(gx - 1, gy - 1))])
        shard = ShardSpec(grid, (int(m["sh"]), int(m["sw"])))
    return MemoryConfig(layout, buf, shard)


def parse_duration(text: str) -> float:
    """Seconds in `7d`, `12h`, `30m`, `45s`, `2w`, `1d12h` or a plain number of seconds."""
    t = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", t):
        return float(t)
    parts = re.findall(r"(\d+(?:\.\d+)?)([smhdw])", t)
    if not parts or "".join(n + u for n, u in parts) != t:
        raise click.BadParameter(f"{text!r}: expected a duration like 7d, 12h, 30m, 45s or 1d12h")
    unit = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
    return sum(float(n) * unit[u] for n, u in parts)


def _human_bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def _human_age(s: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size:
            return f"{int(s // size)}{unit}"
    return f"{int(s)}s"


def _fail(msg: str, code: int = 1) -> None:
    click.echo(f"ttfuse: {msg}", err=True)
    sys.exit(code)


# --------------------------------------------------------------------------------------------------- main
@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ttfuse", prog_name="ttfuse", message="%(prog)s %(version)s")
def main() -> None:
    """ttfuse: a JIT compilation and fusion layer for Tenstorrent TTNN (with a TTNN simulator).

    Environment: TTFUSE_DEBUG=0..4, TTFUSE_CACHE_DIR, TTFUSE_CACHE=0, TTFUSE_STRICT_CACHE=1,
    TTFUSE_EXPLAIN_CACHE_MISSES=1, TTFUSE_ARCH (see docs/cache.md), TTFUSE_INSTALL=0 (`run` leaves ttnn alone).
    """


@main.group()
@click.option(
    "--namespace",
    "-n",
    default=None,
    metavar="NAME",
    help="A separate store under the cache root (the bench publishes into 'bench'); "
    "default $TTFUSE_CACHE_NAMESPACE, else the main store.",
)
@click.pass_context
def cache(ctx: click.Context, namespace: str | None) -> None:
    """Inspect and manage the compile cache (entries under `ttfuse cache path`)."""
    if namespace is not None:  # for this command only (the process environment is left alone)
        ctx.with_resource(_flags_override(cache_namespace=namespace))
        _cache.store_root()  # validates the name


_MODULE_OPTION = click.option(
    "--module",
    "-m",
    "module",
    default=None,
    metavar="MODULE",
    help="Only entries of functions in MODULE (a dotted module or package, e.g. models.boltz).",
)


_RUN_OPTION = click.option(
    "--run",
    "-r",
    "run",
    default=None,
    metavar="ID",
    help="Only entries written by run ID (the `run` column; 'last': the newest run in the store; "
    "'-': entries from before run ids).",
)


def _run_rows(rows: list[dict], run: str | None) -> tuple[list[dict], str | None]:
    rows, resolved = _cache.select_run(rows, run)
    if run not in (None, "last") and not rows:  # a run id that names nothing is a typo; an empty store is not
        _fail(
            f"no cache entries of run {run!r} in {_cache.entries_dir()} (see `ttfuse cache stats --by run`)"
        )
    return rows, resolved


@cache.command("list")
@click.option(
    "--function", "-f", "function", default=None, help="Only entries whose function name contains TEXT."
)
@_MODULE_OPTION
@_RUN_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
def cache_list(function: str | None, module: str | None, run: str | None, as_json: bool) -> None:
    """List cache entries, newest first (`run`: the process that wrote each; set it with TTFUSE_RUN_ID)."""
    rows, resolved = _run_rows(_cache.list_entries(), run)
    if function:
        rows = [r for r in rows if function in r["function"]]
    if module:
        rows = [r for r in rows if _cache.in_module(r["function"], module)]
    if as_json:
        click.echo(json.dumps(rows, indent=1))
        return
    out = _console()
    if not rows:
        _plain(out, f"no cache entries in {_cache.entries_dir()}")
        return
    cells = [
        {
            "key": r["key"][:12],
            "function": r["function"] if r["status"] == "ok" else f"({r['status'][:60]})",
            "arg specs": " ".join(r["arg_specs"]),
            "device": r["device"],
            "run": r["run"],
            "size": _human_bytes(r["size"]),
            "hits": str(r["hits"]),
            "age": _human_age(r["age_s"]),
        }
        for r in rows
    ]
    cols = list(cells[0])
    of_run = f" of run {resolved}" if resolved else ""
    title = f"ttfuse cache: {len(rows)} entries{of_run} in {_cache.entries_dir()}"
    # NOTE: a column is its widest cell + 2; on a narrow terminal a column that holds one value in every row (the
    # run when filtered, the device) moves into the title, so the function and arg specs keep room
    natural = sum(max(len(c), *(len(x[c]) for x in cells)) + 2 for c in cols)
    for c in ("run", "device"):
        values = {x[c] for x in cells}
        if natural > out.width and len(values) == 1:
            natural -= max(len(c), len(next(iter(values)))) + 2
            cols.remove(c)
            if not (c == "run" and resolved):  # "of run ID" is in the title already
                title += f"; {c} {next(iter(values))}"
    t = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, collapse_padding=True, pad_edge=False)
    for c in cols:
        folds = c in ("function", "arg specs")
        t.add_column(
            c,
            justify="left" if folds or c in ("key", "device", "run") else "right",
            overflow="fold",
            no_wrap=not folds,
        )
    for x in cells:
        t.add_row(*(x[c] for c in cols))
    out.print(t)


@cache.command("show")
@click.argument("key")
@click.option("--json", "as_json", is_flag=True, help="Print the raw entry JSON.")
def cache_show(key: str, as_json: bool) -> None:
    """Show one entry: metadata, IR, and the source regenerated from it (KEY may be a prefix)."""
    try:
        full = _cache.resolve_key(key)
        entry = _cache.read_entry(_cache.entry_path(full), full)
    except (CacheError, FileNotFoundError) as e:
        _fail(str(e))
        return
    if as_json:
        click.echo(json.dumps(entry, indent=1))
        return
    out = _console()
    meta = Table(show_header=False, box=None, pad_edge=False)
    meta.add_column(style="bold")
    meta.add_column(overflow="fold")
    created = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(entry["created"]))
    hits = next((r["hits"] for r in _cache.list_entries() if r["key"] == full), entry["hits"])
    for k, v in (
        ("key", full),
        ("function", entry["function"]),
        ("device", entry["device"]),
        ("run", entry.get("run", _cache.NO_RUN)),
        ("arg specs", " ".join(entry["arg_specs"])),
        ("created", f"{created} ({_human_age(time.time() - entry['created'])} ago)"),
        ("compile", f"{entry['compile_ms']:.1f} ms"),
        ("hits", str(hits)),
        ("pipeline", str(entry["pipeline_version"])),
        ("file", str(_cache.entry_path(full))),
    ):
        meta.add_row(k, v)
    for k in sorted(entry["key_fields"]):
        meta.add_row(f"  key.{k}", entry["key_fields"][k][:16])
    out.print(meta)
    graph = None
    _section(out, "IR")
    try:
        from ttfuse.cache_schema import check_entry
        from ttfuse.ir import Graph

        check_entry(entry)  # nothing is decoded from an entry that fails the schema (ttfuse/cache_schema.py)
        graph = Graph.from_json(entry["graph"])
        _plain(out, str(graph))
    except Exception as e:  # noqa: BLE001 - show what we can of a stale entry
        _plain(out, f"(cannot decode the graph: {type(e).__name__}: {e})")
        _plain(out, json.dumps(entry["graph"], indent=1))
    _section(out, "regenerated source")
    if graph is not None:
        try:
            from ttfuse.codegen import generate_source

            # the source only: showing an entry never compiles or runs anything
            _plain(out, generate_source(graph, name=_gen_name(entry["function"]))[0])
        except Exception as e:  # noqa: BLE001
            _plain(out, f"(cannot regenerate code: {type(e).__name__}: {e})")


def _gen_name(function: str) -> str:
    name = re.sub(r"\W", "_", function.rsplit(".", 1)[-1]) or "fused"
    return name if not name[0].isdigit() else "_" + name


@cache.command("stats")
@_MODULE_OPTION
@_RUN_OPTION
@click.option(
    "--by",
    "by",
    type=click.Choice(["run", "function", "device"]),
    default=None,
    help="Add a table of the entries per run (entries, size, hits, first and last write), function or device.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def cache_stats(module: str | None, run: str | None, by: str | None, as_json: bool) -> None:
    """Summarise the disk store: entries, bytes, hits, runs, functions, devices, damaged files."""
    s = _cache.stats(module, run)
    if run not in (None, "last") and not s["runs"]:
        _fail(
            f"no cache entries of run {run!r} in {_cache.entries_dir()} (see `ttfuse cache stats --by run`)"
        )
    if as_json:
        click.echo(json.dumps(s, indent=1))
        return
    out = _console()
    t = Table(show_header=False, box=None, pad_edge=False, title="ttfuse cache stats", title_justify="left")
    t.add_column(style="bold")
    t.add_column(overflow="fold")
    rows = [
        ("path", s["path"]),
        (
            "namespace",
            (s["namespace"] or "(main store)")
            + (
                f"; others here: {', '.join(n for n in s['namespaces'] if n != s['namespace'])}"
                if [n for n in s["namespaces"] if n != s["namespace"]]
                else ""
            ),
        ),
        *([("module", s["module"])] if s["module"] else []),
        *([("run", s["run"])] if s["run"] else []),
        ("disk cache", "on" if s["enabled"] else "off (TTFUSE_CACHE=0)"),
        (
            "schema",
            f"v{s['schema']}"
            + (f" (ignored: {', '.join(s['other_schemas'])})" if s["other_schemas"] else ""),
        ),
        ("entries", str(s["entries"])),
        ("size", _human_bytes(s["bytes"])),
        ("hits", str(s["hits"])),
        ("runs", str(len(s["runs"])) + (f" (newest {next(iter(s['runs']))})" if s["runs"] else "")),
        ("functions", str(len(s["functions"]))),
        ("corrupt", f"{s['bad_entries']} entries, {s['corrupt_files']} moved aside"),
        ("temp files", str(s["temp_files"])),
    ]
    for k, v in rows:
        t.add_row(k, v)
    if by is None:
        for dev, n in sorted(s["devices"].items()):
            t.add_row("  device", f"{dev}: {n}")
        for fn, n in sorted(s["functions"].items(), key=lambda kv: (-kv[1], kv[0]))[:20]:
            t.add_row("  function", f"{fn}: {n}")
    out.print(t)
    if by is not None:
        out.print(_stats_by(s, by))


def _stats_by(s: dict, by: str) -> Table:
    """`cache stats --by`: one row per run (newest first), function or device (most entries first)."""
    t = Table(
        title=f"entries by {by}",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        collapse_padding=True,
        pad_edge=False,
    )
    t.add_column(by, justify="left", overflow="fold")
    t.add_column("entries", justify="right")
    if by != "run":
        for name, n in sorted(s[f"{by}s"].items(), key=lambda kv: (-kv[1], kv[0])):
            t.add_row(name, str(n))
        return t
    for col in ("size", "hits", "first write", "last write"):
        t.add_column(col, justify="right")
    for rid, r in s["runs"].items():
        t.add_row(
            rid,
            str(r["entries"]),
            _human_bytes(r["bytes"]),
            str(r["hits"]),
            time.strftime("%m-%d %H:%M:%S", time.localtime(r["first"])),
            time.strftime("%m-%d %H:%M:%S", time.localtime(r["last"])),
        )
    return t


@cache.command("clear")
@click.option(
    "--older-than",
    "older_than",
    default=None,
    metavar="DURATION",
    help="Only entries not written for DURATION (7d, 12h, 30m, 45s, 1d12h).",
)
def cache_clear(older_than: str | None) -> None:
    """Remove cache entries (every schema version), or only old ones."""
    age = parse_duration(older_than) if older_than else None
    r = _cache.clear(older_than_s=age)
    what = f" older than {older_than}" if older_than else ""
    click.echo(
        f"removed {r['entries']} entries{what} ({r['files']} files, {_human_bytes(r['bytes'])}) "
        f"from {_cache.cache_dir()}"
    )


@cache.command("path")
def cache_path() -> None:
    """Print the cache root ($TTFUSE_CACHE_DIR or the user cache dir)."""
    click.echo(str(_cache.cache_dir()))


# ------------------------------------------------------------------------------------------------ explain
def _load_target(target: str) -> Any:
    """Import MODULE:FUNC (MODULE dotted, or a path to a .py file; FUNC may be dotted, e.g. Class.method)."""
    if ":" not in target:
        raise click.BadParameter(f"{target!r}: expected MODULE:FUNC (e.g. models.sd35.blocks:attention)")
    mod_name, _, attr = target.rpartition(":")
    try:
        if mod_name.endswith(".py") or os.sep in mod_name:
            path = Path(mod_name).resolve()
            spec = importlib.util.spec_from_file_location(path.stem, path)
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot load {path}")
            mod = importlib.util.module_from_spec(spec)
            sys.modules[path.stem] = mod
            spec.loader.exec_module(mod)
        else:
            if "" not in sys.path and os.getcwd() not in sys.path:
                sys.path.insert(0, os.getcwd())
            mod = importlib.import_module(mod_name)
    except (ImportError, OSError) as e:
        raise click.BadParameter(f"cannot import {mod_name!r}: {e}") from None
    obj: Any = mod
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise click.BadParameter(f"{mod_name!r} has no attribute {attr!r}") from None
    return obj


def _parse_arg(token: str) -> Any:
    """A positional argument of `explain`: a tensor spec, else a Python literal (a static argument)."""
    try:
        return parse_spec(token)
    except SpecError as spec_err:
        try:
            return ast.literal_eval(token)
        except (ValueError, SyntaxError):
            raise spec_err from None


def _split_args(tokens: tuple[str, ...]) -> list[str]:
    out = []
    for t in tokens:
        if t in ("--args", "-a"):
            continue
        if t.startswith("--args="):
            t = t[len("--args=") :]
        out.extend(x for x in re.split(r"\s+|;", t) if x)
    return out


def _lowered_sections(low: Any) -> list[tuple[str, str]]:
    """(title, text) sections of a lowered artifact: IR before, per pass, after, source, program configs (per op,
    and per step of a fused kernel: "%12 transition.w_in = ttnn.experimental.minimal_matmul(...): cfg; ckc"),
    fusion coverage (which traced ops went into which kernel, which stayed single and why), cost, cache key."""
    sections = [("IR before passes", str(getattr(low, "ir_before", "")))]
    for rec in getattr(low, "passes", None) or ():
        name = getattr(rec, "name", "?")
        ms = getattr(rec, "ms", None)
        changed = getattr(rec, "changed", None)
        head = f"pass {name}" + (f" ({ms:.2f} ms" if isinstance(ms, int | float) else " (")
        head += (", changed)" if changed else ", no change)") if changed is not None else ")"
        after = getattr(rec, "graph_after", None) or getattr(rec, "ir_after", None)
        sections.append((head, str(after) if after is not None else ""))
    sections.append(("IR after passes", str(getattr(low, "ir", ""))))
    sections.append(("generated source", str(getattr(low, "source", ""))))
    rows = getattr(low, "program_configs", None)
    if rows is not None:  # one per matmul / SDPA / norm / softmax node, and per step of a fused kernel
        text = "\n".join(
            f"{r}  [by {r.chosen_by.get('program_config', r.chosen_by.get('config', '?'))}]" for r in rows
        )
        sections.append(("program configs (per op; fused kernels per step)", text or "(none)"))
    if hasattr(type(low), "coverage"):  # a property computed on demand (ttfuse.passes.coverage)
        sections.append(("fusion coverage", str(low.coverage)))
    cost = getattr(low, "cost", None)
    if cost is not None:
        sections.append(("cost report", cost.table() if hasattr(cost, "table") else str(cost)))
    key = getattr(low, "key", None)
    if key is not None:
        lines = [f"key {key.hex}"] + [f"  {k}: {h[:16]}" for k, h in sorted(key.fields.items())]
        sections.append(("cache key", "\n".join(lines)))
    return sections


@main.command("explain", context_settings={"ignore_unknown_options": True})
@click.argument("target")
@click.argument("tokens", nargs=-1, type=click.UNPROCESSED, metavar="--args SPEC...")
@click.option(
    "--kw",
    "kwargs",
    multiple=True,
    metavar="NAME=VALUE",
    help="A keyword argument: a tensor SPEC or a Python literal (repeatable).",
)
@click.option(
    "--arch",
    default=None,
    help="Target device kind (wormhole_b0, wormhole_b0:n300, blackhole = p150 13x10, blackhole:p150:11x10, blackhole:p100).",
)
def explain(target: str, tokens: tuple[str, ...], kwargs: tuple[str, ...], arch: str | None) -> None:
    """Compile MODULE:FUNC for abstract inputs and print IR before/after each pass, code and cost.

    SPECs are tensor specs (bf16[32,1024], bfp8[1,128,128]@L1, f32[4,64]rm); other values are Python
    literals passed as static arguments. Nothing is allocated or run.
    """
    fn = _load_target(target)
    try:
        args = [_parse_arg(t) for t in _split_args(tokens)]
        kw = {}
        for item in kwargs:
            name, eq, value = item.partition("=")
            if not eq or not name.isidentifier():
                raise click.BadParameter(f"--kw {item!r}: expected NAME=VALUE")
            kw[name] = _parse_arg(value)
    except SpecError as e:
        raise click.BadParameter(str(e)) from None
    if not hasattr(fn, "lower"):
        try:
            from ttfuse.jit import jit
        except ImportError:
            _fail("explain needs ttfuse.jit, which is not available in this build")
            return
        fn = jit(fn)
    from ttfuse.device import arch_env, device_spec

    if arch:
        try:  # a bad --arch is named as the option, not as the TTFUSE_ARCH it is passed on through
            device_spec(arch, source="the --arch option")
        except TtfuseError as e:
            raise click.BadParameter(str(e), param_hint="--arch") from None
    try:
        with arch_env(arch or None):
            low = fn.lower(*args, **kw)
    except Exception as e:  # noqa: BLE001 - a user error in the target is a message (traceback at TTFUSE_DEBUG>=1)
        if get_flag("debug") >= 1 or not isinstance(e, TtfuseError | TypeError | ValueError):
            raise
        _fail(f"explain {target}: {type(e).__name__}: {e}")
        return
    out = _console()
    for title, text in _lowered_sections(low):
        _section(out, title)
        if text:
            _plain(out, text.rstrip("\n"))


# -------------------------------------------------------------------------------------------------- bench
def _bench_main() -> Any:
    try:
        return importlib.import_module("bench.harness").main
    except ImportError:
        pass
    path = Path(__file__).resolve().parent.parent / "bench" / "harness.py"
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location("bench.harness", path)
    if spec is None or spec.loader is None:
        return None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return getattr(mod, "main", None)


@main.command(
    "bench",
    add_help_option=False,  # `ttfuse bench --help` is the harness's own help
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def bench(args: tuple[str, ...]) -> None:
    """Run the benchmark sweep JIT vs eager (bench/harness.py:main) with ARGS: [--quick|--full] [--case NAME]...
    [--arch KIND]... [--size N]... [--compare OLD.json] [--list]; `ttfuse bench --help` lists them all."""
    entry = _bench_main()
    if entry is None:
        _fail("bench: not available yet (bench/harness.py is missing)", code=2)
        return
    if isinstance(entry, click.Command):
        entry.main(args=list(args), prog_name="ttfuse bench", standalone_mode=True)
        return
    rc = entry(list(args))
    if isinstance(rc, int) and rc:
        sys.exit(rc)


# ---------------------------------------------------------------------------------------------------- run
def _print_user_traceback(exc: BaseException, user_file: str | None) -> None:
    """Print `exc` as python would for the script: frames from the script's own `<module>` on (the frames
    of this command and runpy are dropped)."""
    tb = exc.__traceback__
    if user_file:
        want = os.path.realpath(user_file)
        t = tb
        while t is not None and os.path.realpath(t.tb_frame.f_code.co_filename) != want:
            t = t.tb_next
        tb = t or tb
    traceback.print_exception(type(exc), exc, tb)


@main.command(
    "run",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.option("-m", "module", default=None, metavar="MODULE", help="Run library module MODULE as a script.")
@click.option(
    "--profile",
    "profile_dir",
    default=None,
    metavar="DIR",
    help="Write the device profiler's outputs for the run to DIR: ops_perf_results.csv (tt-perf-report) and "
    "report/ (ttnn-visualizer); durations predicted by the cost model (docs/profiler.md).",
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED, metavar="SCRIPT [ARGS]...")
def run(module: str | None, args: tuple[str, ...], profile_dir: str | None = None) -> None:
    """Run SCRIPT (or `-m MODULE`) as __main__ with sys.argv = [SCRIPT, *ARGS], after `ttfuse.install()`:
    `import ttnn` is ttfuse's simulator unless a real ttnn device opens (TTFUSE_INSTALL=0: left alone).
    With `--profile DIR` every simulated op of the run is profiled and DIR written when it ends (even on error).

    As python does: the script's directory goes first on sys.path, an uncaught exception prints its
    traceback (from the script's frames) and exits 1, and sys.exit(code) exits with that code.
    """
    from ttfuse.switch import install

    user_file: str | None
    if module is None:
        if not args:
            raise click.UsageError("expected SCRIPT (a .py file) or -m MODULE")
        script, argv = args[0], list(args)
        if not os.path.isfile(script):
            click.echo(
                f"ttfuse run: can't open file {script!r}: [Errno 2] No such file or directory", err=True
            )
            sys.exit(2)
        user_file = script
        sys.path.insert(0, os.path.dirname(os.path.realpath(script)))
    else:
        sys.path.insert(0, os.getcwd())
        try:
            spec = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            spec = None
        if spec is None:
            click.echo(f"ttfuse run: No module named {module}", err=True)
            sys.exit(1)
        user_file, argv = spec.origin, [spec.origin or module, *args]
    install()
    sys.argv = argv
    prof = None
    if profile_dir is not None:
        from ttfuse.profiler import Profile

        name = os.path.splitext(os.path.basename(user_file or module or "run"))[0]
        prof = Profile(profile_dir, name=name).start()
    try:
        if module is None:
            runpy.run_path(argv[0], run_name="__main__")
        else:
            runpy.run_module(module, run_name="__main__", alter_sys=True)
    except KeyboardInterrupt as e:
        _print_user_traceback(e, user_file)
        sys.exit(130)
    except Exception as e:  # noqa: BLE001 - the script's own error, reported as python would
        _print_user_traceback(e, user_file)
        sys.exit(1)
    finally:
        if prof is not None:
            prof.stop().write()
            click.echo(
                f"ttfuse run --profile: {prof.summary()}; wrote {prof.csv_path}, {prof.report_path}", err=True
            )


if __name__ == "__main__":  # pragma: no cover
    main()
