"""The real ttnn 0.81.1 and ttfuse in ONE process (Python 3.12 venv made by `conformance/setup_venv.sh --full`).

Run: `make conformance312`, or `conformance/.venv312full/bin/python -m pytest tests/conformance312`.
Where the ttnn distribution is not installed (the main Python 3.11 env) this directory is not collected: nothing
is skipped and nothing counts as passed. `TTFUSE_REQUIRE_TTNN=1` (set by the Makefile) turns a missing ttnn into
a collection error instead, so CI cannot pass it by accident. The real ttnn is imported *before* ttfuse (the
order a TT user's script has) with the mock Wormhole n150 cluster descriptor.
"""

from __future__ import annotations

import os
import sys
from importlib import metadata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # the `conformance` package lives at the repo root


def _ttnn_installed() -> bool:
    try:
        metadata.version("ttnn")  # the distribution, not whatever `sys.modules["ttnn"]` holds
    except metadata.PackageNotFoundError:
        return False
    return True


if not _ttnn_installed():
    if os.environ.get("TTFUSE_REQUIRE_TTNN") == "1":
        raise RuntimeError(
            f"tests/conformance312 needs the real ttnn in this interpreter ({sys.executable}): "
            "run `bash conformance/setup_venv.sh --full` and use conformance/.venv312full/bin/python"
        )
    collect_ignore_glob = ["test_*.py"]
else:
    from conformance.inprocess import import_real_ttnn

    import_real_ttnn()  # before anything imports ttfuse (tests/conftest.py does): a real script's order


@pytest.fixture(scope="session")
def real_ttnn():
    from conformance.inprocess import import_real_ttnn

    return import_real_ttnn()
