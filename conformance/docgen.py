"""The write-or-check step the doc generators share (gen_coverage.py, gen_signatures.py)."""

from __future__ import annotations

import sys
from pathlib import Path


def write_or_check(doc: Path, text: str, argv: list[str], script: str) -> int:
    """`--check`: exit status 1 when `doc` differs from `text` (stale), else 0; otherwise write it."""
    if argv[:1] == ["--check"]:
        if not doc.exists() or doc.read_text() != text:
            print(f"{doc} is stale: run .venv/bin/python {script}", file=sys.stderr)
            return 1
        print(f"{doc} is up to date")
        return 0
    doc.write_text(text)
    print(f"wrote {doc}")
    return 0
