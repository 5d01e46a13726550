"""Run tt-mlir's own ttnn-jit tests (smoke tests + demo) on the simulator through the `ttfuse.ttnn_jit` drop-in.

    PYTHONPATH=. .venv/bin/python tools/run_ttnnjit_suite.py TT_MLIR_CHECKOUT [--junitxml F] [-k EXPR] [--rows F]

TT_MLIR_CHECKOUT is a tenstorrent/tt-mlir working tree (or its `test/ttnn-jit` folder), fetched by the user and
never copied into this repo. Its root `test_*.py`, `utils.py`, `op_definitions.py` and `demo/` are staged into a
temporary folder beside a conftest written here, which is all that stands between them and ttfuse:
- `import ttnn` is the simulator and the fixtures `device` / `mesh_device` / `device_params` are tt-metal's
  names, from ttfuse's pytest plugin (`-p ttfuse.pytest`, which calls `ttfuse.install()`);
- `ttnn_jit` (and the submodules the tests import from) is `ttfuse.ttnn_jit`: the one-import-line change;
- what tt-mlir's own `test/ttnn-jit/conftest.py` adds on top of tt-metal's fixtures: `device` disables and
  clears the program cache after opening, and an autouse fixture seeds torch with 0.
No test file is edited. The tests' own `skip` / `xfail` marks (conditions they carry for hardware) are kept and
counted apart. The summary counts outcomes per file and lists every failure and error with its message; `--rows`
re-tabulates a junit file from an earlier run without running anything.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CONFTEST = """\
# Written by ttfuse tools/run_ttnnjit_suite.py: run tt-mlir's ttnn-jit tests on the ttfuse simulator.
import sys

import pytest
import torch

pytest_plugins = ["ttfuse.pytest"]

import ttfuse  # noqa: E402

ttfuse.install()
import ttfuse.ttnn_jit as _dropin  # noqa: E402

for _name in ("ttnn_jit", "ttnn_jit.api", "ttnn_jit._src", "ttnn_jit._src.utils"):
    sys.modules[_name] = _dropin


@pytest.fixture(scope="function")
def device(device):
    device.disable_and_clear_program_cache()  # as tt-mlir's test/ttnn-jit/conftest.py does
    yield device


@pytest.fixture(scope="function", autouse=True)
def set_seed():
    torch.manual_seed(0)
"""


def suite_dir(checkout: Path) -> Path:
    for cand in (checkout / "test" / "ttnn-jit", checkout):
        if (cand / "test_eltwise_smoketest.py").exists():
            return cand
    raise SystemExit(
        f"{checkout}: no test/ttnn-jit/test_eltwise_smoketest.py here (a tenstorrent/tt-mlir checkout?)"
    )


def stage(src: Path, dst: Path) -> list[str]:
    names = sorted(p.name for p in src.glob("test_*.py")) + ["utils.py", "op_definitions.py"]
    for name in names:
        shutil.copy2(src / name, dst / name)
    if (src / "demo").is_dir():
        shutil.copytree(src / "demo", dst / "demo", ignore=shutil.ignore_patterns("__pycache__"))
        names.append("demo/")
    (dst / "conftest.py").write_text(CONFTEST)
    return names


def outcome(tc: ET.Element) -> tuple[str, str]:
    """(status, message) of one junit testcase: passed, failed, error, skipped (the test's own skip) or xfailed."""
    kids = {c.tag: c for c in tc}
    for tag in ("failure", "error"):
        if tag in kids:
            c = kids[tag]
            lines = (c.get("message") or c.text or "").strip().splitlines()
            cause = [ln[1:].strip() for ln in (c.text or "").splitlines() if ln.startswith("E ")]
            msg = cause[-1] if cause and lines[:1] == ["collection failure"] else (lines[0] if lines else "")
            return ("failed" if tag == "failure" else "error"), msg
    if "skipped" in kids:
        sk = kids["skipped"]
        return ("xfailed" if sk.get("type") == "pytest.xfail" else "skipped"), (sk.get("message") or "")
    return "passed", ""


def uncollected_tests(junit: Path, suite: Path | None) -> dict[str, int]:
    """Files whose collection failed -> how many test functions they define (0 when the file is not at hand)."""
    out = {}
    for tc in ET.parse(junit).getroot().iter("testcase"):
        if outcome(tc)[0] == "error" and not tc.get("classname"):
            name = tc.get("name") or "?"
            path = suite / f"{name.replace('.', '/')}.py" if suite else None
            text = path.read_text() if path is not None and path.exists() else ""
            out[name] = len(re.findall(r"^\s*def test_", text, flags=re.M))
    return out


def tabulate(junit: Path, suite: Path | None = None) -> tuple[str, int]:
    root = ET.parse(junit).getroot()
    lost = uncollected_tests(junit, suite)
    per_file: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    problems: collections.Counter = collections.Counter()
    for tc in root.iter("testcase"):
        status, msg = outcome(tc)
        name = (tc.get("classname") or tc.get("name") or "?").split(".")[-1]
        per_file[name][status] += 1
        if status in ("failed", "error"):
            problems[(status, name, re.sub(r"0x[0-9a-f]+", "0x..", msg)[:150])] += 1
    cols = ("passed", "xfailed", "skipped", "failed", "error")
    lines = ["| file | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    total: collections.Counter = collections.Counter()
    for name in sorted(per_file):
        total.update(per_file[name])
        lines.append(f"| {name} | " + " | ".join(str(per_file[name][c]) for c in cols) + " |")
    lines.append("| **all** | " + " | ".join(str(total[c]) for c in cols) + " |")
    n_lost = sum(lost.values())
    ran = total["passed"] + total["failed"] + total["error"] - len(lost) + n_lost
    rate = total["passed"] / ran if ran else 0.0
    lines += [
        "",
        f"pass rate: {total['passed']} / {ran} = {100 * rate:.1f}% of the tests that ran to a verdict, a file that "
        f"failed to collect counting as its {n_lost} test functions failed (xfailed: {total['xfailed']} and "
        f"skipped: {total['skipped']} by the tests' own marks and conditions)",
    ]
    if problems:
        lines += ["", "failures and errors:"]
        for (status, name, msg), n in problems.most_common():
            what = (
                f"collection of {name} ({lost[name]} test functions)"
                if name in lost
                else f"{n} x {status} in {name}"
            )
            lines.append(f"- {what}: {msg}")
    return "\n".join(lines), total["failed"] + total["error"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkout", nargs="?", type=Path, help="a tenstorrent/tt-mlir checkout")
    ap.add_argument("--junitxml", type=Path, default=None, help="keep the junit file here")
    ap.add_argument("-k", default=None, help="pytest -k expression (a subset)")
    ap.add_argument("--timeout", type=int, default=300, help="per-test timeout, seconds")
    ap.add_argument("--rows", type=Path, default=None, help="only tabulate this junit file")
    args = ap.parse_args(argv)
    if args.rows is not None:
        text, _ = tabulate(args.rows, args.checkout and suite_dir(args.checkout.resolve()))
        print(text)
        return 0
    if args.checkout is None:
        ap.error("give the tt-mlir checkout (or --rows JUNIT)")
    src = suite_dir(args.checkout.resolve())
    with tempfile.TemporaryDirectory(prefix="ttnnjit_suite_") as tmp:
        tmp = Path(tmp)
        staged = stage(src, tmp)
        junit = args.junitxml.resolve() if args.junitxml else tmp / "junit.xml"
        print(f"staged from {src}: {', '.join(staged)}", flush=True)
        cmd = [
            sys.executable,
            "-m",
            "pytest",
            str(tmp),
            "-q",
            "-p",
            "no:cacheprovider",
            "--timeout",
            str(args.timeout),
            "--continue-on-collection-errors",
            f"--junitxml={junit}",
        ]
        if args.k:
            cmd += ["-k", args.k]
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        }
        subprocess.run(cmd, cwd=tmp, env=env)
        text, bad = tabulate(junit, tmp)
    print(text)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
