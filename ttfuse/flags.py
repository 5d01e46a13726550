"""Runtime flags: debug level and cache switches, read from the environment and overridable in code.

    TTFUSE_DEBUG=0..4               debug level: 1 cache decisions, 2 pass timing, 3 IR after each pass,
                                    4 generated code (each level includes the ones below)
    TTFUSE_CACHE=0                  disable the disk level of the compile cache (memory LRU stays on)
    TTFUSE_CACHE_DIR=PATH           where the disk cache lives (default: the user cache dir / "ttfuse")
    TTFUSE_STRICT_CACHE=1           a corrupt or unwritable cache entry raises CacheError instead of warning
    TTFUSE_EXPLAIN_CACHE_MISSES=1   log which cache-key field differed from the nearest previous key
    TTFUSE_RUN_ID=NAME              the run id written into this process's cache entries (default: start time
                                    and pid; `ttfuse cache list --run ID`)
    TTFUSE_SIM_BLOCK_BYTES=N        row-block size of JIT regions on the simulator (default 16 MiB, 0: off;
                                    read when code is generated, see ttfuse/sim/blocked.py)

    with ttfuse.flags(debug=3, strict_cache=True):   # overrides the environment inside the block
        ...
    get_flag("debug")                                # the value in effect here

Invariants: an override set by `flags(...)` wins over the environment; the environment is re-read on every
`get_flag` (so `monkeypatch.setenv` works) but parsed once per distinct value, so a read costs well under a
microsecond (`debug_level()` is called on hot paths). The jit's cache-hit path does not even read it while
`DEBUG_WATCH[0]` is False (no level >= 1 is in effect anywhere; see the note at its definition). Overrides live in a ContextVar: nested blocks stack,
and threads / asyncio tasks see the value of the context they were started in.

All diagnostics go through the `ttfuse` logger, which writes to the current `sys.stderr` (not propagated
to the root logger, so an application's logging setup does not print them twice). `dlog(level, ...)`
logs only when the debug level is at least `level`.

Extend: add a `Flag` to `FLAGS` (name, env var, kind, default, doc) and document it in docs/cache.md.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ttfuse.errors import warn

__all__ = ["FLAGS", "Flag", "flags", "get_flag", "debug_level", "dlog", "logger", "MAX_DEBUG", "DEBUG_WATCH"]

MAX_DEBUG = 4
# What each debug level adds (documented in docs/cache.md; the levels are cumulative).
DEBUG_LEVELS = {
    0: "quiet",
    1: "cache decisions (hit / miss / disk load / store, and why a key missed)",
    2: "pass timing",
    3: "IR after each pass",
    4: "generated code",
}


@dataclass(frozen=True)
class Flag:
    name: str
    env: str
    kind: str  # "level" (int 0..MAX_DEBUG) | "bool" | "path"
    default: Any
    doc: str


FLAGS: dict[str, Flag] = {
    f.name: f
    for f in (
        Flag("debug", "TTFUSE_DEBUG", "level", 0, "debug level 0-4 (see DEBUG_LEVELS)"),
        Flag("cache", "TTFUSE_CACHE", "bool", True, "disk level of the compile cache on/off"),
        Flag("cache_dir", "TTFUSE_CACHE_DIR", "path", None, "disk cache root (default user cache dir)"),
        Flag(
            "cache_namespace",
            "TTFUSE_CACHE_NAMESPACE",
            "path",
            None,
            "a separate store under the cache root (the bench uses 'bench')",
        ),
        Flag("strict_cache", "TTFUSE_STRICT_CACHE", "bool", False, "raise CacheError on corrupt entries"),
        Flag(
            "explain_cache_misses",
            "TTFUSE_EXPLAIN_CACHE_MISSES",
            "bool",
            False,
            "log the differing key field",
        ),
        Flag(
            "run_id",
            "TTFUSE_RUN_ID",
            "path",
            None,
            "the run id stamped on the cache entries this process writes (default: start time + pid)",
        ),
        Flag(
            "sim_block_bytes",
            "TTFUSE_SIM_BLOCK_BYTES",
            "bytes",
            16 << 20,
            "row block size of JIT regions on the simulator (0: no blocking; ttfuse/sim/blocked.py)",
        ),
    )
}

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}

_overrides: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("ttfuse_flags", default={})  # noqa: B039
# NOTE: os.environ._data is CPython's raw environment dict (bytes keys on POSIX). Reading it directly costs
# ~60 ns instead of ~1.4 us for os.environ.get, and stays in sync with os.environ / monkeypatch.setenv.
_RAW_ENV = getattr(os.environ, "_data", None)
if _RAW_ENV is not None and not all(isinstance(k, bytes) for k in list(_RAW_ENV)[:1]):
    _RAW_ENV = None
_ENV_KEYS = {name: os.fsencode(f.env) if _RAW_ENV is not None else f.env for name, f in FLAGS.items()}
_parsed: dict[tuple[str, object], Any] = {}

# NOTE: the jit's cache-hit path reads `DEBUG_WATCH[0]` (one global load and a subscript, ~20 ns) instead of the
# debug level (~300 ns): False means no debug level >= 1 can be in effect in any context, so a hit logs nothing
# without reading the flag. It is True while some `flags(debug>=1)` block is open (in any thread) or the last
# read of TTFUSE_DEBUG saw a level >= 1; the hit path then reads the real level of its context. The environment
# is re-read by every `get_flag("debug")` (each compile, each dlog, each `flags()` block), so an
# `os.environ["TTFUSE_DEBUG"] = "1"` made while a program only hits takes effect at its next compile or
# `flags()` block (docs/cache.md).
DEBUG_WATCH = [False]
_debug_blocks = 0  # open flags(debug>=1) blocks, all contexts together
_watch_lock = threading.Lock()


def _watch(env_level: int) -> None:
    DEBUG_WATCH[0] = env_level >= 1 or _debug_blocks > 0


def _coerce(flag: Flag, value: Any, source: str) -> Any:
    """Validate a flag value given in code or (as a string) in the environment."""
    if flag.kind == "level":
        try:
            v = int(str(value).strip() or 0) if not isinstance(value, bool) else int(value)
        except ValueError:
            raise ValueError(f"{source}: expected a debug level 0-{MAX_DEBUG}, got {value!r}") from None
        if not 0 <= v <= MAX_DEBUG:
            raise ValueError(f"{source}: expected a debug level 0-{MAX_DEBUG}, got {v}")
        return v
    if flag.kind == "bool":
        if isinstance(value, bool):
            return value
        s = str(value).strip().lower()
        if s in _TRUE:
            return True
        if s in _FALSE:
            return False
        raise ValueError(f"{source}: expected 0/1 (or true/false), got {value!r}")
    if flag.kind == "path":
        return None if value in (None, "") else os.fspath(value)
    if flag.kind == "bytes":
        try:
            v = int(str(value).strip()) if not isinstance(value, bool) else -1
        except ValueError:
            v = -1
        if v < 0:
            raise ValueError(f"{source}: expected a byte count >= 0, got {value!r}")
        return v
    raise AssertionError(flag.kind)


def _from_env(name: str, raw: object) -> Any:
    flag = FLAGS[name]
    text = os.fsdecode(raw) if isinstance(raw, bytes) else str(raw)
    try:
        v = _coerce(flag, text, f"{flag.env}={text!r}")
    except ValueError as e:
        # A typo in an environment variable must not crash the user's program: warn once, use the default.
        warn(f"ttfuse: ignoring {e}; using {flag.default!r}", RuntimeWarning)
        v = flag.default
    _parsed[(name, raw)] = v
    return v


def get_flag(name: str) -> Any:
    """The value of flag `name` in effect here: a `flags(...)` override, else the environment, else the default."""
    ov = _overrides.get()
    if name in ov:
        return ov[name]
    try:
        key = _ENV_KEYS[name]
    except KeyError:
        raise KeyError(f"unknown ttfuse flag {name!r}; known: {sorted(FLAGS)}") from None
    raw = _RAW_ENV.get(key) if _RAW_ENV is not None else os.environ.get(key)
    if raw is None:
        v = FLAGS[name].default
    else:
        try:
            v = _parsed[(name, raw)]
        except KeyError:
            v = _from_env(name, raw)
    if name == "debug":
        _watch(v)
    return v


def _env_debug() -> int:
    """The debug level the environment asks for (overrides ignored)."""
    raw = _RAW_ENV.get(_ENV_KEYS["debug"]) if _RAW_ENV is not None else os.environ.get(_ENV_KEYS["debug"])
    if raw is None:
        return 0
    try:
        return _parsed[("debug", raw)]
    except KeyError:
        return _from_env("debug", raw)


_watch(_env_debug())  # TTFUSE_DEBUG set when the program started


def debug_level() -> int:
    """The debug level in effect (0-4); cheap enough to call on every jit call."""
    return get_flag("debug")


@contextlib.contextmanager
def flags(**overrides: Any) -> Iterator[dict[str, Any]]:
    """Override flags inside a `with` block (values None are left as they are). Also usable as a decorator.

    `with ttfuse.flags(debug=3, explain_cache_misses=True): ...` -- names are the keys of `FLAGS`.
    """
    new = dict(_overrides.get())
    for name, value in overrides.items():
        if name not in FLAGS:
            raise TypeError(f"ttfuse.flags: unknown flag {name!r}; known: {sorted(FLAGS)}")
        if value is not None:
            new[name] = _coerce(FLAGS[name], value, f"ttfuse.flags({name}=...)")
    global _debug_blocks
    watched = new.get("debug", 0) >= 1
    if watched:
        with _watch_lock:
            _debug_blocks += 1
    _watch(_env_debug())
    token = _overrides.set(new)
    try:
        yield new
    finally:
        _overrides.reset(token)
        if watched:
            with _watch_lock:
                _debug_blocks -= 1
        _watch(_env_debug())


def current_flags() -> dict[str, Any]:
    """Every flag's value in effect here (for `ttfuse cache stats` and bug reports)."""
    return {name: get_flag(name) for name in FLAGS}


# ------------------------------------------------------------------------------------------------- logging
class _StderrHandler(logging.Handler):
    """Writes to whatever `sys.stderr` is at emit time (so pytest's capsys / click's CliRunner see it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:  # noqa: BLE001 - logging must never raise into user code
            self.handleError(record)


logger = logging.getLogger("ttfuse")
if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
    _handler = _StderrHandler()
    _handler.setFormatter(logging.Formatter("ttfuse: %(message)s"))
    logger.addHandler(_handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False


def dlog(level: int, msg: str, *args: Any) -> None:
    """Log `msg % args` to the ttfuse logger when the debug level is at least `level` (1-4)."""
    if get_flag("debug") >= level:
        logger.info(msg, *args)
