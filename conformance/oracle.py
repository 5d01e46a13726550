"""Ground truth from the real ttnn wheel: a small command dispatcher run in conformance/.venv312.

Usage (with the Python 3.12 venv made by setup_venv.sh; no torch there):

    conformance/.venv312/bin/python conformance/oracle.py COMMAND IN.npz OUT.npz
    conformance/.venv312/bin/python conformance/oracle.py --list

Requests and replies are wire.py messages. ttnn runs host-side only: it needs a UMD cluster
descriptor, so TT_METAL_MOCK_CLUSTER_DESC_PATH is set to cluster/wormhole_n150.yaml unless the
caller set it (or passes ``"arch": "blackhole"`` in the request, which picks blackhole_p150.yaml).
No device is opened.

Commands:
  formats   {"cases": [{"x": float32 array, "dtype": "bfloat8_b", "layout": "TILE" (optional)}]}
            -> {"results": [array], "ttnn_version": str}. Each x goes through
            ttnn.Tensor(x, dtype[, layout]) and back: float dtypes via ttnn.to_dtype(t, float32)
            (float32 array), integer dtypes via to_numpy() (int64 array).

To add a command: write ``def cmd_<name>(request: dict) -> dict`` and add it to ``COMMANDS``.
Import ttnn inside the command (through `_ttnn()`), so ``--list`` and errors stay cheap.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402
from wire import load_message, save_message  # noqa: E402

CLUSTERS = {
    "wormhole_b0": HERE / "cluster" / "wormhole_n150.yaml",
    "blackhole": HERE / "cluster" / "blackhole_p150.yaml",
}

_TTNN: Any = None


def _ttnn(arch: str | None = None) -> Any:
    """Import ttnn once, with a mock cluster descriptor."""
    global _TTNN
    if _TTNN is None:
        if arch is not None:
            os.environ["TT_METAL_MOCK_CLUSTER_DESC_PATH"] = str(CLUSTERS[arch])
        os.environ.setdefault("TT_METAL_MOCK_CLUSTER_DESC_PATH", str(CLUSTERS["wormhole_b0"]))
        os.environ.setdefault("TT_METAL_LOGGER_LEVEL", "ERROR")
        os.environ.setdefault("LOGURU_LEVEL", "WARNING")
        import ttnn

        _TTNN = ttnn
    return _TTNN


def _ttnn_version() -> str:
    from importlib.metadata import version

    return version("ttnn")


FLOAT_DTYPES = ("float32", "bfloat16", "bfloat8_b", "bfloat4_b")
INT_DTYPES = ("int32", "uint32", "uint16", "uint8")


def cmd_formats(request: dict) -> dict:
    """Round-trip host tensors through ttnn's data-format conversion."""
    ttnn = _ttnn(request.get("arch"))
    results = []
    for case in request["cases"]:
        x = np.ascontiguousarray(case["x"], dtype=np.float32)
        name = case["dtype"]
        if name not in FLOAT_DTYPES + INT_DTYPES:
            raise ValueError(f"formats: unknown dtype {name!r}")
        dtype = getattr(ttnn, name)
        layout = case.get("layout")
        if layout is None:
            t = ttnn.Tensor(x, dtype)
        else:
            t = ttnn.Tensor(x, dtype, None, getattr(ttnn, f"{layout}_LAYOUT"))
        if name in FLOAT_DTYPES:
            y = ttnn.to_dtype(t, ttnn.float32).to_numpy().astype(np.float32, copy=False)
        else:
            y = t.to_numpy().astype(np.int64)
        if y.shape != x.shape:
            raise AssertionError(f"formats: ttnn returned shape {y.shape} for input {x.shape} ({name})")
        results.append(y)
    return {"results": results, "ttnn_version": _ttnn_version()}


COMMANDS: dict[str, Callable[[dict], dict]] = {
    "formats": cmd_formats,
}


def main(argv: list[str]) -> int:
    if argv[:1] == ["--list"]:
        print("\n".join(sorted(COMMANDS)))
        return 0
    if len(argv) != 3 or argv[0] not in COMMANDS:
        print(f"usage: oracle.py {{{','.join(sorted(COMMANDS))}}} IN.npz OUT.npz | --list", file=sys.stderr)
        return 2
    command, in_path, out_path = argv
    try:
        reply = COMMANDS[command](load_message(in_path))
    except Exception:
        traceback.print_exc()
        return 1
    save_message(out_path, reply)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
