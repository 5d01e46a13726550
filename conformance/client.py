"""Main-environment side of the conformance oracle: runs conformance/oracle.py in its own venv.

The real ttnn wheel needs Python 3.12, so it lives in ``conformance/.venv312`` (made by
``conformance/setup_venv.sh``, or ``make conformance``). This module never imports ttnn: it writes a
wire.py message, runs ``.venv312/bin/python oracle.py COMMAND IN OUT`` in a scratch directory, and
reads the reply.

    from conformance.client import oracle_available, run_oracle
    reply = run_oracle("formats", {"cases": [{"x": np.float32 array, "dtype": "bfloat8_b"}]})

Environment: ``TTFUSE_ORACLE_PYTHON`` overrides the interpreter (a venv elsewhere). ``TTFUSE_ORACLE=inprocess``
runs the oracle's commands in this process instead, where the real ttnn is installed beside ttfuse (the Python 3.12
venv of ``setup_venv.sh --full``): the same command functions, the request and reply still passed through the wire
format. The cluster descriptor is then the one of the first import (Wormhole n150 unless the caller set
TT_METAL_MOCK_CLUSTER_DESC_PATH); a request's ``arch`` cannot change it.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from conformance.wire import load_message, save_message

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv312"
ORACLE = HERE / "oracle.py"
SETUP_HINT = "run `make conformance` (or `bash conformance/setup_venv.sh`) to install the ttnn 0.81.1 venv"


class OracleError(RuntimeError):
    """The oracle could not be run, or it failed; the message says why and what to do."""


def oracle_python() -> Path:
    """The interpreter of the oracle venv (it may not exist)."""
    override = os.environ.get("TTFUSE_ORACLE_PYTHON")
    return Path(override) if override else VENV / "bin" / "python"


def in_process() -> bool:
    """True when TTFUSE_ORACLE=inprocess asks for the oracle's commands in this process."""
    return os.environ.get("TTFUSE_ORACLE") == "inprocess"


def oracle_available() -> bool:
    """True when the oracle venv exists and setup_venv.sh finished installing it (in-process: ttnn is installed)."""
    if in_process():
        from importlib import metadata

        try:
            return bool(metadata.version("ttnn"))
        except metadata.PackageNotFoundError:
            return False
    python = oracle_python()
    if os.environ.get("TTFUSE_ORACLE_PYTHON"):
        return python.exists()
    return python.exists() and (VENV / ".ttfuse-stamp").exists()


def run_oracle(command: str, payload: dict[str, Any], *, timeout: float = 600.0) -> dict[str, Any]:
    """Run one oracle command on ``payload`` (JSON values and numpy arrays) and return its reply."""
    if not oracle_available():
        raise OracleError(f"the ttnn oracle venv is missing ({oracle_python()}): {SETUP_HINT}")
    with tempfile.TemporaryDirectory(prefix="ttfuse-oracle-") as tmp:
        in_path, out_path = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
        save_message(in_path, payload)
        if in_process():
            from conformance import oracle

            try:
                reply = oracle.COMMANDS[command](load_message(in_path))
            except Exception as e:
                raise OracleError(f"oracle {command!r} failed in process: {type(e).__name__}: {e}") from e
            save_message(out_path, reply)
            return load_message(out_path)
        try:
            proc = subprocess.run(
                [str(oracle_python()), str(ORACLE), command, str(in_path), str(out_path)],
                cwd=tmp,  # ttnn may write reports/caches relative to the working directory
                env={k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")},
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as e:
            raise OracleError(f"oracle {command!r} timed out after {timeout:.0f} s") from e
        if proc.returncode != 0 or not out_path.exists():
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-30:])
            raise OracleError(f"oracle {command!r} failed (exit {proc.returncode}):\n{tail}")
        return load_message(out_path)
