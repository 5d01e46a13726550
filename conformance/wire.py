"""The oracle's request/response file format, shared by client.py (Python 3.11) and oracle.py (3.12).

A message is a JSON-compatible value (dicts, lists, str, int, float, bool, None) in which numpy
arrays may appear anywhere. It is stored as one .npz file: every array under a generated name
("a0", "a1", ...) and the JSON skeleton, with ``{"$array": "a0"}`` in place of each array, under
the key ``__json__``. Loading uses ``allow_pickle=False``: a message file can never run code.

Depends only on numpy and the standard library (no torch, no ttnn), so both sides can import it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

JSON_KEY = "__json__"


def _split(value: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(value, np.ndarray):
        name = f"a{len(arrays)}"
        arrays[name] = value
        return {"$array": name}
    if isinstance(value, dict):
        return {str(k): _split(v, arrays) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_split(v, arrays) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _join(value: Any, arrays: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$array"}:
            return arrays[value["$array"]]
        return {k: _join(v, arrays) for k, v in value.items()}
    if isinstance(value, list):
        return [_join(v, arrays) for v in value]
    return value


def save_message(path: str | Path, message: Any) -> None:
    """Write ``message`` (JSON values with numpy arrays anywhere) to ``path`` as .npz."""
    arrays: dict[str, np.ndarray] = {}
    skeleton = _split(message, arrays)
    arrays[JSON_KEY] = np.array(json.dumps(skeleton))
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def load_message(path: str | Path) -> Any:
    """Read a message written by `save_message`."""
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    skeleton = json.loads(str(arrays.pop(JSON_KEY)))
    return _join(skeleton, arrays)
