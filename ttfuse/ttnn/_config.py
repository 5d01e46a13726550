"""`ttnn.CONFIG` and its helpers, as ttnn 0.81.1 has them, driving the simulator's report (ttfuse/profiler).

ttnn 0.81.1: `ttnn.CONFIG` is a `ttnn._ttnn.core.Config` whose fields (below, with their defaults) are read and
set as attributes; `TTNN_CONFIG_OVERRIDES` (JSON) is applied when ttnn is imported; `CONFIG.report_path` is
`root_report_path/<report_name, sanitized>_<mon><dd>_<HHMM>` (None without a report_name);
`manage_config(name, value)` sets a field for a `with` block; `save_config_to_json_file` /
`load_config_from_json_file` / `load_config_from_dictionary` write and read the fields as JSON.

What the simulator does with it: while `CONFIG.enable_logging` is true, a process-wide `ttfuse.profile` records
every simulated op; it writes the report folder (config.json + db.sqlite, durations predicted by the cost model,
docs/profiler.md) to `CONFIG.report_path` (a `report_name` is needed, as in ttnn) when logging is switched off
and when the process exits. The other fields are kept and saved, and change nothing on the simulator.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import re
import time
from pathlib import Path

from ttfuse.errors import SpecError

# ttnn 0.81.1's fields and defaults (`print(ttnn.CONFIG)` and ttnn.save_config_to_json_file)
_DEFAULTS = {
    "cache_path": str(Path.home() / ".cache" / "ttnn"),
    "model_cache_path": str(Path.home() / ".cache" / "ttnn" / "models"),
    "tmp_dir": "/tmp/ttnn",
    "enable_model_cache": False,
    "enable_fast_runtime_mode": True,
    "validate_program_args": False,
    "throw_exception_on_fallback": False,
    "enable_logging": False,
    "enable_graph_report": False,
    "enable_graph_python_stack_traces": False,
    "enable_detailed_buffer_report": False,
    "enable_detailed_tensor_report": False,
    "enable_comparison_mode": False,
    "comparison_mode_should_raise_exception": False,
    "comparison_mode_pcc": 0.9999,
    "root_report_path": "generated/ttnn/reports",
    "report_name": None,
    "strict_ccl_topology": False,
}

CONFIG_OVERRIDES = os.environ.get("TTNN_CONFIG_OVERRIDES", None)
CONFIG_PATH = os.environ.get("TTNN_CONFIG_PATH", None)


class Config:
    """ttnn's configuration object (`ttnn.CONFIG`): one attribute per field; unknown fields are errors."""

    def __init__(self):
        object.__setattr__(self, "_values", dict(_DEFAULTS))
        object.__setattr__(self, "_profile", None)
        object.__setattr__(self, "_stamp", None)

    def __getattr__(self, name: str):
        values = object.__getattribute__(self, "_values")
        if name in values:
            return values[name]
        raise AttributeError(f"'ttnn.Config' object has no attribute '{name}'")

    def __setattr__(self, name: str, value) -> None:
        if name not in self._values:
            raise AttributeError(f"ttnn.CONFIG has no field {name!r} (fields: {', '.join(self._values)})")
        self._values[name] = value
        if name == "enable_logging":
            self._logging_changed()
        elif name == "report_name":
            object.__setattr__(self, "_stamp", None)

    @property
    def report_path(self) -> Path | None:
        """root_report_path / `<report_name>_<mon><dd>_<HHMM>`: ttnn keeps the first 64 characters of the name,
        sanitized, and stamps the minute (ttnn/graph_report.py notes `get_report_path_impl` does so)."""
        name = self._values["report_name"]
        if name is None:
            return None
        if self._stamp is None:
            object.__setattr__(self, "_stamp", time.strftime("%b%d_%H%M").lower())
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", str(name)[:64])
        return Path(self._values["root_report_path"]) / f"{safe}_{self._stamp}"

    def to_dict(self) -> dict:
        return dict(self._values)

    def apply(self, config: dict, source: str = "") -> None:
        for k, v in config.items():
            if k not in self._values:
                raise SpecError(f"ttnn config{f' from {source}' if source else ''}: unknown field {k!r}")
            setattr(self, k, v)

    def __repr__(self) -> str:
        body = ",".join(f"{k}={'std::nullopt' if v is None else v}" for k, v in self._values.items())
        return f"Config{{{body}}}"

    # ------------------------------------------------------------------------------------ the report
    def _logging_changed(self) -> None:
        from ttfuse.profiler import Profile

        if self._values["enable_logging"] and self._profile is None:
            # where it goes is decided when it is written: report_name may be set after enable_logging
            object.__setattr__(self, "_profile", Profile(csv=False, report=False).start())
        elif not self._values["enable_logging"] and self._profile is not None:
            self.flush_report()

    def flush_report(self) -> Path | None:
        """Write the report of the ops logged so far to `report_path` and stop logging them (ttnn writes its
        report as ops run; the simulator writes it here, at exit, or when enable_logging is switched off)."""
        prof = self._profile
        if prof is None:
            return None
        object.__setattr__(self, "_profile", None)
        prof.stop()
        path = self.report_path
        if path is None:
            return None
        prof.name = str(self._values["report_name"])
        prof.report_path = path
        prof.write()
        _save(path / "config.json", extra={"ttfuse_durations": _predicted()})
        return path


def _predicted() -> str:
    from ttfuse.profiler.common import PREDICTED_NOTE

    return PREDICTED_NOTE


CONFIG = Config()


@contextlib.contextmanager
def manage_config(name: str, value):
    original = getattr(CONFIG, name)
    setattr(CONFIG, name, value)
    try:
        yield
    finally:
        setattr(CONFIG, name, original)


def save_config_to_json_file(json_path) -> None:
    _save(json_path)


def _save(json_path, extra: dict | None = None) -> None:
    path = Path(json_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**CONFIG.to_dict(), **(extra or {})}, indent=4) + "\n")


def load_config_from_json_file(json_path) -> None:
    CONFIG.apply(json.loads(Path(json_path).read_text()), str(json_path))


def load_config_from_dictionary(config: dict, from_file: bool = False, source=None) -> None:
    CONFIG.apply(dict(config), str(source or ""))


def _apply_environment() -> None:
    if CONFIG_PATH:
        load_config_from_json_file(CONFIG_PATH)
    if CONFIG_OVERRIDES:
        try:
            overrides = json.loads(CONFIG_OVERRIDES)
        except json.JSONDecodeError as e:
            raise SpecError(f"TTNN_CONFIG_OVERRIDES is not JSON: {e}") from None
        load_config_from_dictionary(overrides, source="TTNN_CONFIG_OVERRIDES")


_apply_environment()
atexit.register(CONFIG.flush_report)

__all__ = [
    "CONFIG",
    "CONFIG_OVERRIDES",
    "CONFIG_PATH",
    "Config",
    "load_config_from_dictionary",
    "load_config_from_json_file",
    "manage_config",
    "save_config_to_json_file",
]
