"""Docs as tests: every fenced Python and shell block in README.md and docs/*.md runs, every relative link resolves.

    python tools/docs_check.py [FILE.md ...] [--links-only] [-q]

Per markdown file, its ```python blocks run in order in one fresh interpreter (one namespace, as a reader
pasting them one after the other would), and its ```sh / ```bash / ```shell blocks run in order with `bash -e`
in the repository root, with the project's venv first on PATH (`python`, `ttfuse`) and, for both kinds, a
fresh compile-cache dir and `TTFUSE_DOCS=1` (a snippet may read it to shrink a heavy size). A block that must not
run here says so just above it, with the reason, which the report prints:

    <!-- docs: no-run (it is the command that runs this checker) -->

Fences with no language (program output, error messages) are text, not code. A relative link `[x](path)` or
`[x](path#anchor)` must name a file or directory inside the repository.

Exit status 1 on the first file with a failing block or a broken link (everything is still reported); the last
line counts what ran: "docs: N blocks executed (P python, S shell) in F files, K skipped, L links resolved".
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY_LANGS = {"python", "py"}
SH_LANGS = {"sh", "bash", "shell"}
_FENCE = re.compile(r"^(```+|~~~+)\s*([\w+-]*)(.*)$")
_NO_RUN = re.compile(r"<!--\s*docs:\s*no-run\s*\((.+?)\)\s*-->")
_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)|!\[[^\]]*\]\(([^)\s]+)\)")
TIMEOUT_S = 600


@dataclass
class Block:
    lang: str  # "python" or "sh"
    line: int  # 1-based line of the opening fence
    code: str
    skip: str | None = None  # the reason, from a <!-- docs: no-run (...) --> just above


@dataclass
class FileReport:
    path: Path
    blocks: list[Block] = field(default_factory=list)
    ran: int = 0
    errors: list[str] = field(default_factory=list)
    links: int = 0


def blocks_of(text: str) -> list[Block]:
    """The fenced code blocks of a markdown text, Python and shell only, in order."""
    out: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, lang = m.group(1), m.group(2).lower()
        start = i
        body = []
        i += 1
        while i < len(lines) and not lines[i].startswith(fence):
            body.append(lines[i])
            i += 1
        i += 1
        kind = "python" if lang in PY_LANGS else "sh" if lang in SH_LANGS else None
        if kind is None:
            continue
        above = next((ln for ln in reversed(lines[:start]) if ln.strip()), "")
        skip = _NO_RUN.search(above)
        out.append(Block(kind, start + 1, "\n".join(body) + "\n", skip.group(1) if skip else None))
    return out


def links_of(text: str) -> list[tuple[int, str]]:
    """(line, target) of every relative link, code spans and fenced blocks left out."""
    out = []
    in_fence = None
    for n, line in enumerate(text.splitlines(), 1):
        m = _FENCE.match(line)
        if m and (in_fence is None or line.startswith(in_fence)):
            in_fence = m.group(1) if in_fence is None else None
            continue
        if in_fence:
            continue
        line = re.sub(r"`[^`]*`", "", line)
        for a, b in _LINK.findall(line):
            target = a or b
            if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                continue  # a URL, mailto:, or an anchor in the same file
            out.append((n, target))
    return out


def check_links(path: Path, text: str, rep: FileReport) -> None:
    for n, target in links_of(text):
        rel = target.split("#", 1)[0]
        dest = (path.parent / rel).resolve()
        rep.links += 1
        if not dest.exists():
            rep.errors.append(f"{path}:{n}: broken link {target!r} ({dest} does not exist)")
        elif ROOT not in dest.parents and dest != ROOT:
            rep.errors.append(f"{path}:{n}: link {target!r} leaves the repository ({dest})")


def _env(cache_dir: str) -> dict[str, str]:
    env = dict(os.environ)
    venv_bin = ROOT / ".venv" / "bin"
    if venv_bin.is_dir():
        env["PATH"] = f"{venv_bin}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = f"{ROOT}{os.pathsep}{env.get('PYTHONPATH', '')}".rstrip(os.pathsep)
    env["TTFUSE_CACHE_DIR"] = cache_dir
    env["TTFUSE_DOCS"] = "1"
    env.setdefault("COLUMNS", "100")
    return env


def _python_program(path: Path, blocks: list[Block]) -> str:
    """One program running the blocks in order; each block compiled with its file and line, so a traceback
    names the markdown line."""
    parts = ["import sys as _docs_sys\n_docs_ns = {'__name__': '__main__'}\n"]
    for b in blocks:
        # line numbers: the block's first code line is b.line + 1 in the markdown file
        src = "\n" * b.line + b.code
        parts.append(
            f"print('--- docs block {path.name}:{b.line}', flush=True)\n"
            f"exec(compile({src!r}, {str(path)!r}, 'exec'), _docs_ns)\n"
        )
    return "".join(parts)


def _run(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)


def _tail(r: subprocess.CompletedProcess, n: int = 15) -> str:
    return "\n".join((r.stdout + r.stderr).strip().splitlines()[-n:])


def run_file(path: Path, *, quiet: bool = False) -> FileReport:
    text = path.read_text()
    rep = FileReport(path, blocks_of(text))
    check_links(path, text, rep)
    runnable = [b for b in rep.blocks if b.skip is None]
    with tempfile.TemporaryDirectory(prefix="ttfuse-docs-") as tmp:
        env = _env(str(Path(tmp) / "cache"))
        py = [b for b in runnable if b.lang == "python"]
        if py:
            t0 = time.perf_counter()
            r = _run([sys.executable, "-c", _python_program(path, py)], env)
            if r.returncode:
                done = r.stdout.count("--- docs block ")
                bad = py[max(0, done - 1)]
                tail = _tail(r)
                rep.errors.append(f"{path}:{bad.line}: python block failed:\n{tail}")
                rep.ran += max(0, done - 1)
            else:
                rep.ran += len(py)
            if not quiet:
                print(
                    f"  {path.relative_to(ROOT)}: {len(py)} python block(s), {time.perf_counter() - t0:.1f} s"
                )
        for b in (b for b in runnable if b.lang == "sh"):
            r = _run(["bash", "-e", "-o", "pipefail", "-c", b.code], env)
            if r.returncode:
                tail = _tail(r)
                rep.errors.append(f"{path}:{b.line}: shell block failed (exit {r.returncode}):\n{tail}")
            else:
                rep.ran += 1
    return rep


def default_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="*", type=Path)
    ap.add_argument("--links-only", action="store_true", help="check links, run nothing")
    ap.add_argument("-q", "--quiet", action="store_true")
    a = ap.parse_args(argv)
    files = [p.resolve() for p in a.files] or default_files()
    reports = []
    for f in files:
        if a.links_only:
            rep = FileReport(f, blocks_of(f.read_text()))
            check_links(f, f.read_text(), rep)
        else:
            rep = run_file(f, quiet=a.quiet)
        reports.append(rep)
        for b in rep.blocks:
            if b.skip and not a.quiet:
                print(f"  skipped {f.name}:{b.line} ({b.skip})")
        for e in rep.errors:
            print(f"FAILED {e}", file=sys.stderr)
    blocks = [b for r in reports for b in r.blocks]
    ran = sum(r.ran for r in reports)
    n_py = sum(1 for r in reports for b in r.blocks if b.lang == "python" and b.skip is None)
    n_sh = sum(1 for r in reports for b in r.blocks if b.lang == "sh" and b.skip is None)
    errors = sum(len(r.errors) for r in reports)
    print(
        f"docs: {ran} blocks executed ({n_py} python, {n_sh} shell) in {len(reports)} files, "
        f"{sum(1 for b in blocks if b.skip)} skipped, {sum(r.links for r in reports)} links checked, "
        f"{errors} failed"
    )
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
