"""The switch: `import ttnn` is ttfuse's facade (the simulator) wherever no real ttnn device is usable.

    import ttfuse
    ttfuse.install()         # then: import ttnn; import ttnn.operations.x; from ttnn.types import X
    python -m ttfuse run script.py [args...]     # the same, for an unmodified script (ttfuse/cli.py)
    pytest -p ttfuse.pytest tests/...            # the same, for test files in tt-metal's style (ttfuse/pytest.py)

`install()` first asks whether the real ttnn is usable: it imports (it is not a namespace directory such as
tt-metal's checkout root, and it does not raise) and reports a device (`ttnn.GetNumAvailableDevices() > 0`,
not on a mock cluster: `TT_METAL_MOCK_CLUSTER_DESC_PATH` makes the wheel report the chips of its YAML while
opening none, and tt-metal's conftest counts devices the same way). Then nothing is replaced and
`install()` returns "ttnn". Otherwise the facade `ttfuse.ttnn` becomes `sys.modules["ttnn"]`, and every
public module attribute of it, recursively, `sys.modules["ttnn.<path>"]` (ttnn.device, ttnn.transformer,
ttnn.experimental, and whatever namespaces the facade grows: nothing is listed here); a meta-path finder
resolves `ttnn.<path>` names attached after the install; `install()` returns "ttfuse". A real ttnn that
imported without a device is kept for the code generator (`ttfuse.backend.set_real_ttnn`).

Invariants: `install()` is idempotent; `uninstall()` removes exactly what `install()` added and restores the
`ttnn*` modules it displaced. `TTFUSE_INSTALL=0` turns the switch off (install() replaces nothing and
returns "off"); `install(force=True)` installs the facade even beside a usable device (tests).
`TTFUSE_DEBUG=1` logs which `ttnn` is active and why.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import os
import sys
import types
from typing import Literal

from ttfuse import backend as _backend
from ttfuse.flags import dlog

__all__ = ["install", "uninstall", "installed", "real_ttnn_devices"]

Active = Literal["ttfuse", "ttnn", "off"]
_ROOT = "ttnn"
_FACADE_NAME = "ttfuse.ttnn"

_STATE: dict = {"active": None, "added": {}, "displaced": {}}


def _facade() -> types.ModuleType:
    return importlib.import_module(_FACADE_NAME)


def installed() -> bool:
    """Whether `import ttnn` gives ttfuse's facade now."""
    return sys.modules.get(_ROOT) is sys.modules.get(_FACADE_NAME) is not None


def real_ttnn_devices(module: types.ModuleType) -> int:
    """How many devices an imported `ttnn` module can open: 0 on a mock cluster, or when it is not the wheel."""
    if os.environ.get("TT_METAL_MOCK_CLUSTER_DESC_PATH"):
        return 0  # the wheel reports the mock YAML's chips, but opening one raises (no firmware toolchain)
    count = getattr(module, "GetNumAvailableDevices", None)
    if not callable(count):
        return 0
    try:
        return int(count())
    except Exception:  # noqa: BLE001 - a wheel that cannot see its driver has no usable device
        return 0


def _ttnn_entries() -> dict[str, types.ModuleType]:
    return {k: m for k, m in sys.modules.items() if k == _ROOT or k.startswith(_ROOT + ".")}


def _probe_real() -> tuple[types.ModuleType | None, str]:
    """(the importable real ttnn or None, why it is or is not usable). Imports it when not yet imported."""
    mod = sys.modules.get(_ROOT)
    if mod is None:
        try:
            if importlib.util.find_spec(_ROOT) is None:
                return None, "no ttnn package is installed"
            mod = importlib.import_module(_ROOT)
        except Exception as e:  # noqa: BLE001 - any failure to import means: not usable here
            return None, f"the ttnn package does not import ({type(e).__name__}: {str(e)[:200]})"
    if getattr(mod, "__path__", None) is not None and getattr(mod, "__file__", None) is None:
        return None, f"'ttnn' is a namespace directory ({list(mod.__path__)[:1]}), not the wheel"
    return mod, ""


def install(*, force: bool = False) -> Active:
    """Make `import ttnn` the simulator unless a real ttnn device is usable; returns which one is active:
    "ttfuse" (the facade), "ttnn" (the real wheel, untouched) or "off" (`TTFUSE_INSTALL=0`)."""
    if os.environ.get("TTFUSE_INSTALL", "1").strip().lower() in ("0", "false", "no", "off"):
        dlog(1, "ttfuse.install: off (TTFUSE_INSTALL=0); `import ttnn` is left alone")
        return "off"
    if installed() and _STATE["active"] == "ttfuse":
        return "ttfuse"
    facade = _facade()
    if not force:
        real, why = _probe_real()
        if real is not None and real is not facade:
            n = real_ttnn_devices(real)
            if n > 0:
                dlog(1, "ttfuse.install: the real ttnn sees %d device(s); nothing replaced", n)
                _STATE["active"] = "ttnn"
                return "ttnn"
            why = "the real ttnn opens no device" + (
                " (mock cluster)" if os.environ.get("TT_METAL_MOCK_CLUSTER_DESC_PATH") else ""
            )
            _backend.set_real_ttnn(real)
    else:
        why = "forced"
    displaced = {k: m for k, m in _ttnn_entries().items() if m is not facade}
    for k in displaced:
        del sys.modules[k]
    _STATE["displaced"] = displaced
    _STATE["added"] = {}
    _register(_ROOT, facade, set())
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
    _STATE["active"] = "ttfuse"
    dlog(1, "ttfuse.install: `import ttnn` is ttfuse's simulator (%s)", why)
    return "ttfuse"


def uninstall() -> None:
    """Undo `install()`: remove the `ttnn*` modules it added and its finder; restore what it displaced."""
    for k, m in _STATE["added"].items():
        if sys.modules.get(k) is m:
            del sys.modules[k]
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _Finder)]
    for k, m in _STATE["displaced"].items():
        sys.modules.setdefault(k, m)
    _STATE.update(active=None, added={}, displaced={})
    _backend.set_real_ttnn(None)


def _belongs(mod: types.ModuleType) -> bool:
    """Whether the facade's own namespaces go on under `mod`: a facade module or a synthetic ModuleType."""
    name = getattr(mod, "__name__", "") or ""
    return (
        name == _FACADE_NAME or name.startswith(_FACADE_NAME + ".") or getattr(mod, "__spec__", None) is None
    )


def _register(name: str, mod: types.ModuleType, seen: set[int]) -> None:
    """`sys.modules[name] = mod`, then every public module attribute of it under `name.attr`, recursively."""
    if id(mod) in seen:
        return
    seen.add(id(mod))
    if sys.modules.get(name) is not mod:
        sys.modules[name] = mod
        _STATE["added"][name] = mod
    if not _belongs(mod):
        return  # e.g. `ttnn.types` being ttfuse.types: registered, its own imports are not ttnn's
    if getattr(mod, "__spec__", None) is None and not hasattr(mod, "__path__"):
        # NOTE: a ModuleType namespace must look like a package for `import ttnn.ns.late` to reach the finder
        mod.__path__ = []
    for attr, val in list(vars(mod).items()):
        if isinstance(val, types.ModuleType) and not attr.startswith("_"):
            _register(f"{name}.{attr}", val, seen)


def _resolve(fullname: str) -> types.ModuleType | None:
    """The facade module that `ttnn.<path>` names: attributes first, then a submodule file of the facade."""
    mod: object = _facade()
    parts = fullname.split(".")[1:]
    for i, part in enumerate(parts):
        nxt = getattr(mod, part, None)
        if nxt is None:
            sub = ".".join([_FACADE_NAME, *parts[: i + 1]])
            try:
                nxt = importlib.import_module(sub)
            except ModuleNotFoundError as e:
                if e.name is not None and not sub.startswith(e.name):
                    raise  # the facade's submodule exists but imports something missing: say so
                return None
        mod = nxt
    return mod if isinstance(mod, types.ModuleType) else None


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Resolves `ttnn.<path>` to the facade's module of that path while the facade is installed."""

    def find_spec(self, fullname, path=None, target=None):
        if not (fullname == _ROOT or fullname.startswith(_ROOT + ".")) or not installed():
            return None
        if _resolve(fullname) is None:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):
        return None  # a throwaway module; exec_module puts the facade's own in sys.modules

    def exec_module(self, module):
        # NOTE: the import system returns whatever sys.modules holds after exec_module, so the facade module
        # is used as it is (its __spec__ and __name__ untouched)
        target = _resolve(module.__name__)
        if target is None:
            raise ImportError(
                f"No module named {module.__name__!r} in ttfuse's ttnn facade", name=module.__name__
            )
        _register(module.__name__, target, set())
