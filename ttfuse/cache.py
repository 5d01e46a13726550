"""The compile cache: keys, counters, an in-memory LRU and the on-disk store of compiled graphs.

Levels (the jit wrapper in ttfuse/jit.py drives them):
1. `MemoryLRU`: one per JitFunction, keyed by a cheap tuple the wrapper builds on the hot path.
2. The disk store: `cache_dir()/v{SCHEMA_VERSION}/<key[:2]>/<key>.json`, one JSON entry per compiled graph.

A `CacheKey` is the sha256 of eight separately hashed fields (`KEY_FIELDS`): function identity, input
TensorSpecs, static args, pytree structure, decorator options, DeviceSpec, ttfuse's own source hash and the
pass-pipeline version. Each field hash is kept so two keys can be diffed field by field (`explain_miss`).
Keys are built in ttfuse/cache_key.py (`make_key`, `CacheKey`, `source_hash`, re-exported here).

Invariants:
- Entries are data only: JSON (never pickle, never code). This module validates the envelope (schema,
  required fields and types, that the key matches the file name and the field hashes, and a sha256
  checksum of the whole entry), so a truncated or misplaced file is detected before anything is built from
  it. The checksum does not stop a deliberate edit: the caller's `check` runs the entry schema
  (ttfuse/cache_schema.py), verifies the graph and regenerates its code, and any exception it raises makes
  the entry corrupt like a bad envelope.
- Writes are atomic: a temp file in the entry's directory, then `os.replace`. Readers see the old entry or
  the new one, never a partial file; concurrent writers of one key leave one valid entry.
- A corrupt or stale entry warns (`CacheWarning`), is moved aside to `<key>.json.corrupt-<time>-<pid>`,
  counts `load_error`, and loads as None (the caller counts the miss and recompiles). With
  `TTFUSE_STRICT_CACHE=1` it raises `CacheError` instead and the file is left in place.
- An entry file is immutable once written; per-entry hit counts are appended to a `<key>.hits` sidecar
  in batches (at exit or on `flush_hits()`), never on the hot path.
- A schema change bumps `SCHEMA_VERSION`, which changes the directory: older entries are simply not seen.
- `TTFUSE_CACHE=0` turns the disk level off (load returns None, store returns False).
- Every entry written carries the id of the run (process) that wrote it (`run`: `run_id()`, the process's start
  time and pid, or `TTFUSE_RUN_ID`); an entry written before run ids existed has none and lists as run "-".
  `list_entries` / `stats` filter by it (`select_run`, with "last" for the newest run in the store).

Extend: a new key component is a new name in `KEY_FIELDS` (bump `SCHEMA_VERSION` if the entry layout
changes); a new entry field goes in `ENTRY_FIELDS` with its type.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import threading
import time
import weakref
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ttfuse.cache_key import (
    KEY_FIELDS,
    CacheKey,
    _combine,
    _dumps,
    _sha,
    field_changes,
    make_key,
    source_hash,
)
from ttfuse.errors import CacheError, warn
from ttfuse.flags import dlog, get_flag, logger

__all__ = [
    "SCHEMA_VERSION",
    "KEY_FIELDS",
    "CacheKey",
    "CacheWarning",
    "Counters",
    "MemoryLRU",
    "counters",
    "cache_dir",
    "entries_dir",
    "entry_path",
    "disk_enabled",
    "source_hash",
    "make_key",
    "make_entry",
    "explain_miss",
    "disk_load",
    "disk_store",
    "disk_reject",
    "record_hit",
    "run_id",
    "select_run",
    "flush_hits",
    "read_entry",
    "resolve_key",
    "list_entries",
    "clear",
    "stats",
    "fresh_cache",
]

SCHEMA_VERSION = 1

# Entry envelope: field -> accepted types. "checksum" is the sha256 of the rest (see _checksum).
ENTRY_FIELDS: dict[str, type | tuple[type, ...]] = {
    "schema": int,
    "key": str,
    "key_fields": dict,
    "function": str,
    "created": (int, float),
    "compile_ms": (int, float),
    "hits": int,
    "arg_specs": list,
    "device": str,
    "graph": dict,
    "pipeline_version": int,
    "checksum": str,
}
# Optional envelope fields (absent from entries written by older ttfuse versions): field -> accepted type.
OPTIONAL_FIELDS: dict[str, type] = {"run": str}
NO_RUN = "-"  # the run of an entry written before run ids existed

# A run id: what `ttfuse cache list` prints and `--run` matches; never markup, never a path.
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:+-]{0,63}")


class CacheWarning(UserWarning):
    """A cache entry could not be read or written; ttfuse carried on without it (recompiling if needed)."""


# ------------------------------------------------------------------------------------------------ counters
class Counters:
    """Process-wide cache counters: the test interface. The jit wrapper counts hit / miss / bypass;
    this module counts load_error / write_error and the disk traffic (disk_read, disk_write)."""

    __slots__ = ("hit", "miss", "bypass", "load_error", "write_error", "disk_read", "disk_write")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        for name in self.__slots__:
            setattr(self, name, 0)

    def snapshot(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__slots__}

    def __repr__(self) -> str:
        return "Counters(" + ", ".join(f"{k}={v}" for k, v in self.snapshot().items()) + ")"


counters = Counters()


# ------------------------------------------------------------------------------------------------- memory
_LRUS: weakref.WeakSet[MemoryLRU] = weakref.WeakSet()


class MemoryLRU:
    """A small LRU map (fast key tuple -> compiled artifact). `get` is on the jit hot path: keep it lean."""

    def __init__(self, maxsize: int = 64):
        if maxsize < 1:
            raise ValueError(f"MemoryLRU: maxsize must be >= 1, got {maxsize}")
        self.maxsize = maxsize
        self.evictions = 0
        self._d: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        _LRUS.add(self)

    def get(self, key, default=None):
        d = self._d
        v = d.get(key, default)
        if v is not default:
            try:
                d.move_to_end(key)
            except KeyError:  # evicted by another thread between the two calls
                pass
        return v

    def put(self, key, value) -> None:
        with self._lock:
            d = self._d
            d[key] = value
            d.move_to_end(key)
            while len(d) > self.maxsize:
                d.popitem(last=False)
                self.evictions += 1

    def clear(self) -> None:
        with self._lock:
            self._d.clear()

    def keys(self) -> list:
        return list(self._d)

    def values(self) -> list:
        return list(self._d.values())

    def __contains__(self, key) -> bool:
        return key in self._d

    def __len__(self) -> int:
        return len(self._d)

    def __repr__(self) -> str:
        return f"MemoryLRU({len(self._d)}/{self.maxsize}, evictions={self.evictions})"


def clear_memory() -> None:
    """Empty every live MemoryLRU (used by `fresh_cache()` so a test starts cold)."""
    for lru in list(_LRUS):
        lru.clear()


# ------------------------------------------------------------------------------------------ explain misses
_HISTORY_PER_FN = 32
_MAX_CHANGES = 4  # per key field in one message
# per function: (key, the names of its inputs and statics, when they were asked for)
_history: dict[str, deque[tuple[CacheKey, dict | None]]] = {}


def explain_miss(
    fn_name: str, key: CacheKey, names: Callable[[], dict[str, list[str]]] | None = None
) -> str | None:
    """Say which key fields differ from the nearest previous key of the same function, and remember `key`.

    Computed and logged only with `TTFUSE_EXPLAIN_CACHE_MISSES=1` (or debug level >= 1); returns the
    message (None when off). Previous keys come from this process and from the disk store. Each differing
    field shows what changed in it as spec text, both sides (`arg x: bf16[32,64]@DRAM -> bf16[32,128]@DRAM`);
    `names()` gives {"inputs": [...], "static": [...]}, the names of the call's tensors and static values
    (called only when the explanation is on; the jit passes the argument names). Keys read from disk have
    only their field hashes: the fields are named, the values are not.
    """
    hist = _history.setdefault(fn_name, deque(maxlen=_HISTORY_PER_FN))
    if not (get_flag("explain_cache_misses") or get_flag("debug") >= 1):
        hist.append((key, None))
        return None
    try:
        here = names() if names is not None else None
    except Exception:  # noqa: BLE001 - names only label the message
        here = None
    candidates: list[tuple[str, dict[str, str], dict[str, str], dict | None]] = [
        (k.hex, k.fields, k.values, n) for k, n in reversed(hist)
    ]
    if disk_enabled():
        seen = {c[0] for c in candidates}
        for info in _disk_keys_of(fn_name):
            if info[0] not in seen:
                candidates.append((info[0], info[1], {}, None))
    hist.append((key, here))
    if not candidates:
        msg = f"cache miss for {fn_name}: first compile (no previous key for this function)"
    else:
        prev_hex, prev_fields, prev_values, prev_names = min(candidates, key=lambda c: len(key.diff(c[1])))
        diff = key.diff(prev_fields)
        if not diff:
            msg = (
                f"cache miss for {fn_name}: key {key.short} equals a previous key (entry evicted from "
                f"memory, or the disk cache is off or was cleared)"
            )
        else:
            changes = []
            for f in diff:
                was, now = prev_values.get(f), key.values.get(f)
                if was and now:
                    changes += _changes(f, was, now, prev_names, here)
            msg = (
                f"cache miss for {fn_name}: {', '.join(repr(f) for f in diff)} changed ({len(diff)} of "
                f"{len(key.fields)} key fields)"
            )
            # one line per change under the header, then the key compared with (`ttfuse cache show` if on disk)
            msg += "".join(f"\n  {c}" for c in changes) + f"\n  nearest previous key: {prev_hex[:12]}"
    logger.info(msg)
    return msg


def _changes(field: str, was: str, now: str, names_was: dict | None, names_now: dict | None) -> list[str]:
    """`where: was -> now` for each change inside one key field (at most _MAX_CHANGES, then a count)."""
    try:
        found = field_changes(field, was, now, (names_was or {}).get(field), (names_now or {}).get(field))
    except Exception:  # noqa: BLE001 - a value the reader does not know: show the canonical JSON
        found = [(field, was, now)]
    out = [f"{where}: {_clip(a, b, 60)} -> {_clip(b, a, 60)}" for where, a, b in found[:_MAX_CHANGES]]
    if len(found) > _MAX_CHANGES:
        out.append(f"{len(found) - _MAX_CHANGES} more change(s) in {field!r}")
    return out


def _clip(s: str, other: str, n: int = 160) -> str:
    """`s` cut to about `n` characters around where it first differs from `other`, so the was/now pair shows the
    difference (both are cut at the same place)."""
    if len(s) <= n:
        return s
    i = next((k for k, (a, b) in enumerate(zip(s, other)) if a != b), min(len(s), len(other)))
    start = max(0, i - n // 3)
    end = start + n
    return ("..." if start else "") + s[start:end] + ("..." if end < len(s) else "")


def _disk_keys_of(fn_name: str, limit: int = 512) -> list[tuple[str, dict[str, str]]]:
    out = []
    for p in _entry_files(entries_dir())[:limit]:
        try:
            e = json.loads(p.read_text())
            if e.get("function") == fn_name and isinstance(e.get("key_fields"), dict):
                out.append((e["key"], e["key_fields"]))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return out


# ------------------------------------------------------------------------------------------------- run ids
_PROCESS_START = time.time()
_run_ids: dict[int, str] = {}  # pid -> the default id (a forked child gets its own)


def run_id() -> str:
    """The id of this run, stamped on every entry this process writes: `$TTFUSE_RUN_ID` (or a `flags(run_id=)`
    override) when it is a valid id, else `<start date>-<start time>-<pid>` (e.g. 20261205-120228-4711), one
    per process. Sorting ids of the default form sorts runs by start time (to the second)."""
    given = get_flag("run_id")
    if given:
        if _RUN_ID.fullmatch(given):
            return given
        warn(
            f"ttfuse: ignoring TTFUSE_RUN_ID={given!r} (use letters, digits, '_', '.', ':', '+', '-', at most "
            "64, not starting with a punctuation mark); using the process's own run id",
            RuntimeWarning,
        )
    pid = os.getpid()
    rid = _run_ids.get(pid)
    if rid is None:
        start = _PROCESS_START if not _run_ids else time.time()  # a forked child starts now
        rid = _run_ids[pid] = time.strftime("%Y%m%d-%H%M%S", time.localtime(start)) + f"-{pid}"
    return rid


def select_run(entries: list[dict], run: str | None) -> tuple[list[dict], str | None]:
    """The entries (`list_entries` rows) of run `run`: an id, "-" (entries without one) or "last" (the run of
    the newest entry in `entries`). Returns (rows, the run id resolved); `run` None: all rows."""
    if run is None:
        return entries, None
    if run == "last":
        ok = [e for e in entries if e["status"] == "ok"]
        if not ok:
            return [], None
        run = max(ok, key=lambda e: e["created"])["run"]
    return [e for e in entries if e["run"] == run], run


# ---------------------------------------------------------------------------------------------- disk paths
def disk_enabled() -> bool:
    """Whether the disk level is on (`TTFUSE_CACHE`, default on)."""
    return bool(get_flag("cache"))


def cache_dir() -> Path:
    """The cache root: `$TTFUSE_CACHE_DIR`, else the platform user cache dir / "ttfuse"."""
    d = get_flag("cache_dir")
    if d:
        return Path(d).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("ttfuse", appauthor=False))


_NAMESPACE = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")


def store_root() -> Path:
    """The store in use: the cache root, or `cache_dir()/<namespace>` with `$TTFUSE_CACHE_NAMESPACE` (the bench
    publishes into the "bench" namespace, so its entries never mix with a model's)."""
    ns = get_flag("cache_namespace")
    if not ns:
        return cache_dir()
    if not _NAMESPACE.fullmatch(ns) or ns[0] == "v" and ns[1:].isdigit():
        raise ValueError(
            f"TTFUSE_CACHE_NAMESPACE={ns!r}: use lowercase letters, digits, '_', '-', '.' (not v<N>)"
        )
    return cache_dir() / ns


def namespaces() -> list[str]:
    """The namespaces present under the cache root."""
    root = cache_dir()
    if not root.is_dir():
        return []
    return sorted(
        d.name
        for d in root.iterdir()
        if d.is_dir() and _NAMESPACE.fullmatch(d.name) and not (d.name[0] == "v" and d.name[1:].isdigit())
    )


def entries_dir() -> Path:
    """Where entries of the current schema live: `store_root()/v{SCHEMA_VERSION}`."""
    return store_root() / f"v{SCHEMA_VERSION}"


def _check_hex(key_hex: str) -> str:
    if (
        not isinstance(key_hex, str)
        or len(key_hex) != 64
        or any(c not in "0123456789abcdef" for c in key_hex)
    ):
        raise ValueError(f"not a cache key (64 lowercase hex digits): {key_hex!r}")
    return key_hex


def entry_path(key_hex: str) -> Path:
    _check_hex(key_hex)
    return entries_dir() / key_hex[:2] / f"{key_hex}.json"


def _entry_files(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.glob("??/*.json") if len(p.stem) == 64)


# ----------------------------------------------------------------------------------------------- envelope
def _checksum(entry: dict) -> str:
    return _sha(_dumps({k: v for k, v in entry.items() if k != "checksum"}))


def make_entry(
    key: CacheKey,
    *,
    function: str,
    graph: dict,
    arg_specs: list,
    device: str,
    compile_ms: float,
    pipeline_version: int = 0,
    **extra: Any,
) -> dict:
    """Build an entry dict for `disk_store` (`graph` is `Graph.to_json()`; extra fields must be JSON data).
    `pipeline_version` is the caller's (jit passes the pass pipeline's; the caches do not import the passes)."""
    e = {
        "schema": SCHEMA_VERSION,
        "key": key.hex,
        "key_fields": dict(key.fields),
        "function": function,
        "created": time.time(),
        "compile_ms": float(compile_ms),
        "hits": 0,
        "arg_specs": [str(s) for s in arg_specs],
        "device": str(device),
        "graph": graph,
        "pipeline_version": int(pipeline_version),
    }
    e.update(extra)
    return e


class _Corrupt(Exception):
    pass


def _validate(entry: Any, key_hex: str | None) -> dict:
    """Check an entry's envelope; raise _Corrupt naming the first problem."""
    if not isinstance(entry, dict):
        raise _Corrupt(f"entry is a JSON {type(entry).__name__}, not an object")
    if entry.get("schema") != SCHEMA_VERSION:
        raise _Corrupt(f"schema {entry.get('schema')!r} != {SCHEMA_VERSION}")
    for name, typ in ENTRY_FIELDS.items():
        if name not in entry:
            raise _Corrupt(f"missing field {name!r}")
        v = entry[name]
        if not isinstance(v, typ) or (typ is int and isinstance(v, bool)):
            raise _Corrupt(f"field {name!r} has type {type(v).__name__}")
    if key_hex is not None and entry["key"] != key_hex:
        raise _Corrupt(f"entry key {str(entry['key'])[:16]}... does not match its file name")
    kf = entry["key_fields"]
    if (
        not all(isinstance(k, str) and isinstance(v, str) for k, v in kf.items())
        or _combine(kf) != entry["key"]
    ):
        raise _Corrupt("key_fields do not hash to the entry key")
    if not all(isinstance(s, str) for s in entry["arg_specs"]):
        raise _Corrupt("arg_specs must be strings")
    for name, typ in OPTIONAL_FIELDS.items():
        if name in entry and not isinstance(entry[name], typ):
            raise _Corrupt(f"field {name!r} has type {type(entry[name]).__name__}")
    if "run" in entry and (not _RUN_ID.fullmatch(entry["run"])):
        raise _Corrupt(f"run {entry['run'][:70]!r} is not a run id")
    if _checksum(entry) != entry["checksum"]:
        raise _Corrupt("checksum mismatch (the file was edited or damaged)")
    return entry


def read_entry(path: Path, key_hex: str | None = None) -> dict:
    """Parse and validate one entry file without side effects; raises CacheError saying what is wrong."""
    try:
        text = Path(path).read_bytes().decode("utf-8")
        entry = json.loads(text)
        return _validate(entry, key_hex)
    except FileNotFoundError:
        raise
    except _Corrupt as e:
        raise CacheError(f"cache entry {path}: {e}") from None
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:
        raise CacheError(f"cache entry {path}: unreadable ({type(e).__name__}: {e})") from None


# ------------------------------------------------------------------------------------------------ load/store
def disk_load(key_hex: str, check: Callable[[dict], object] | None = None) -> dict | None:
    """The validated entry for `key_hex`, or None (absent, disk off, or corrupt -> warned and moved aside).

    `check(entry)` runs caller validation (e.g. `Graph.from_json` + verify); any exception it raises
    marks the entry corrupt like a bad envelope. Strict mode raises CacheError instead of returning None.
    """
    if not disk_enabled():
        return None
    path = entry_path(key_hex)
    try:
        entry = read_entry(path, key_hex)
        if check is not None:
            check(entry)
    except FileNotFoundError:
        dlog(1, "cache: no disk entry %s", key_hex[:12])
        return None
    except CacheError as e:
        _reject(path, str(e))
        return None
    except Exception as e:  # noqa: BLE001 - the caller's check failed: the entry is stale or corrupt
        _reject(
            path,
            f"cache entry {path}: rejected by {getattr(check, '__qualname__', 'check')}: "
            f"{type(e).__name__}: {e}",
        )
        return None
    counters.disk_read += 1
    record_hit(key_hex)
    dlog(1, "cache: loaded %s (%s) from disk", key_hex[:12], entry["function"])
    return entry


def disk_reject(key_hex: str, reason: str) -> None:
    """Treat the disk entry `key_hex` as corrupt or stale: warn, move it aside, count load_error (strict raises).

    For the caller's own post-load failures (e.g. code regeneration failed) after `disk_load` returned it.
    """
    _reject(entry_path(key_hex), f"cache entry {entry_path(key_hex)}: {reason}")


def _reject(path: Path, msg: str) -> None:
    counters.load_error += 1
    if get_flag("strict_cache"):
        raise CacheError(msg + " (TTFUSE_STRICT_CACHE=1)")
    aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}-{os.getpid()}")
    try:
        os.replace(path, aside)
        where = f"moved aside to {aside.name}"
    except FileNotFoundError:
        where = "already moved aside by another process"
    except OSError as e:
        where = f"could not move it aside ({e})"
    with contextlib.suppress(OSError):
        path.with_suffix(".hits").unlink()
    warn(f"ttfuse: {msg}; {where}; recompiling", CacheWarning)


def disk_store(key_hex: str, entry: dict) -> bool:
    """Write an entry atomically (temp file in the same directory + os.replace). True when written.

    The envelope (schema, key, checksum) is completed here. Failures warn and count write_error; strict
    mode raises CacheError. Disk off -> False.
    """
    if not disk_enabled():
        return False
    path = entry_path(key_hex)
    tmp: str | None = None
    try:
        e = dict(entry)
        e["schema"] = SCHEMA_VERSION
        if e.get("key", key_hex) != key_hex:
            raise ValueError(f"entry key {e['key']!r} differs from {key_hex!r}")
        e["key"] = key_hex
        e.setdefault("hits", 0)
        e["run"] = (
            run_id()
        )  # the run that wrote it (the bench's parent when it publishes its workers' entries)
        e.pop("checksum", None)
        e["checksum"] = _checksum(e)
        _validate(e, key_hex)  # never write what we would refuse to read
        data = _dumps(e).encode("utf-8", "surrogatepass")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{key_hex[:16]}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        # NOTE: no fsync: os.replace is atomic against concurrent readers; a file torn by a power loss is
        # caught by the checksum on load and recompiled.
        os.replace(tmp, path)
        tmp = None
    except (OSError, TypeError, ValueError, _Corrupt) as exc:
        counters.write_error += 1
        msg = f"cache entry {path}: could not write ({type(exc).__name__}: {exc})"
        if get_flag("strict_cache"):
            raise CacheError(msg + " (TTFUSE_STRICT_CACHE=1)") from exc
        warn(f"ttfuse: {msg}", CacheWarning)
        return False
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    counters.disk_write += 1
    dlog(1, "cache: stored %s (%s, %d bytes)", key_hex[:12], entry.get("function"), len(data))
    return True


# --------------------------------------------------------------------------------------------- entry hits
_pending_hits: dict[str, int] = {}
_atexit_registered = False


def record_hit(key_hex: str, n: int = 1) -> None:
    """Count `n` uses of an entry; batched in memory and appended to its `.hits` sidecar by `flush_hits`."""
    global _atexit_registered
    _pending_hits[key_hex] = _pending_hits.get(key_hex, 0) + n
    if not _atexit_registered:
        import atexit

        atexit.register(flush_hits)
        _atexit_registered = True


def flush_hits() -> None:
    """Append pending hit counts to the entries' sidecars (O_APPEND writes: safe across processes)."""
    if not _pending_hits:
        return
    pending = dict(_pending_hits)
    _pending_hits.clear()
    if not disk_enabled():
        return
    for key_hex, n in pending.items():
        path = entry_path(key_hex)
        if not path.exists():
            continue
        with contextlib.suppress(OSError):
            fd = os.open(path.with_suffix(".hits"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, f"{n}\n".encode())
            finally:
                os.close(fd)


def _sidecar_hits(path: Path) -> int:
    try:
        return sum(int(x) for x in path.with_suffix(".hits").read_text().split() if x.isdigit())
    except (OSError, ValueError):
        return 0


# ------------------------------------------------------------------------------------- list / clear / stats
def resolve_key(prefix: str) -> str:
    """The full key of the one current-schema entry whose key starts with `prefix` (CacheError otherwise)."""
    p = prefix.strip().lower()
    if not p or len(p) > 64 or any(c not in "0123456789abcdef" for c in p):
        raise CacheError(f"not a cache key or key prefix: {prefix!r}")
    root = entries_dir()
    pattern = f"{p[:2]}/{p}*.json" if len(p) >= 2 else f"{p}?/*.json"
    matches = sorted({f.stem for f in root.glob(pattern) if len(f.stem) == 64 and f.stem.startswith(p)})
    if not matches:
        raise CacheError(f"no cache entry with key {prefix!r} in {root}")
    if len(matches) > 1:
        raise CacheError(f"key prefix {prefix!r} is ambiguous: {', '.join(m[:12] for m in matches[:8])}")
    return matches[0]


def list_entries() -> list[dict]:
    """Metadata of every entry of the current schema (newest first), corrupt ones with a `status` reason.

    Read-only: listing never moves or rewrites a file.
    """
    flush_hits()
    now = time.time()
    out = []
    for p in _entry_files(entries_dir()):
        try:
            st = p.stat()
        except OSError:
            continue
        info = {
            "key": p.stem,
            "path": str(p),
            "size": st.st_size,
            "status": "ok",
            "function": "?",
            "arg_specs": [],
            "device": "?",
            "hits": _sidecar_hits(p),
            "created": st.st_mtime,
            "compile_ms": None,
            "run": NO_RUN,
        }
        try:
            e = read_entry(p, p.stem)
            info.update(
                function=e["function"],
                arg_specs=e["arg_specs"],
                device=e["device"],
                created=e["created"],
                compile_ms=e["compile_ms"],
                hits=e["hits"] + info["hits"],
                pipeline_version=e["pipeline_version"],
                run=e.get("run", NO_RUN),
            )
        except (CacheError, FileNotFoundError) as exc:
            info["status"] = f"corrupt: {exc}"
        info["age_s"] = max(0.0, now - info["created"])
        out.append(info)
    out.sort(key=lambda i: -i["created"])
    return out


def _our_files(root: Path) -> Iterator[Path]:
    """Every file the store owns under `root` (all schema versions): entries, sidecars, temp and corrupt files."""
    if not root.is_dir():
        return
    for vdir in root.glob("v*"):
        if vdir.is_dir() and vdir.name[1:].isdigit():
            for p in vdir.glob("??/*"):
                if p.is_file():
                    yield p


def clear(older_than_s: float | None = None) -> dict:
    """Remove cache files (every schema version; with `older_than_s`, only files not modified for that long).

    Returns {"entries": n entry files removed, "files": all files removed, "bytes": bytes freed}.
    """
    flush_hits()
    root = store_root()
    now = time.time()
    removed = {"entries": 0, "files": 0, "bytes": 0}
    for p in list(_our_files(root)):
        try:
            st = p.stat()
            if older_than_s is not None and now - st.st_mtime < older_than_s:
                continue
            if older_than_s is not None and p.suffix == ".hits" and p.with_suffix(".json").exists():
                # a sidecar goes with its entry, not by its own mtime
                if now - p.with_suffix(".json").stat().st_mtime < older_than_s:
                    continue
            p.unlink()
        except OSError:
            continue
        removed["files"] += 1
        removed["bytes"] += st.st_size
        if p.suffix == ".json":
            removed["entries"] += 1
    for vdir in root.glob("v*") if root.is_dir() else ():
        for sub in sorted(vdir.glob("*"), reverse=True):
            with contextlib.suppress(OSError):
                sub.rmdir()
        with contextlib.suppress(OSError):
            vdir.rmdir()
    return removed


def in_module(function: str, module: str) -> bool:
    """Whether a qualified function name (`pkg.mod.fn`) is in `module` (a dotted module or package prefix)."""
    return function == module or function.startswith(module.rstrip(".") + ".")


def stats(module: str | None = None, run: str | None = None) -> dict:
    """Disk store summary plus this process's counters and flags; `module`: only entries of functions in that
    module (or package: a dotted prefix); `run`: only entries of that run ("last": the newest run in the store,
    "-": entries without a run id). `runs` summarises the entries shown per run."""
    from ttfuse.flags import current_flags

    entries, run = select_run(list_entries(), run)
    if module:
        entries = [e for e in entries if in_module(e["function"], module)]
    ok = [e for e in entries if e["status"] == "ok"]
    root = store_root()
    corrupt = tmp = 0
    other_schemas = []
    if root.is_dir():
        for vdir in sorted(root.glob("v*")):
            if vdir.name != f"v{SCHEMA_VERSION}" and vdir.is_dir():
                other_schemas.append(vdir.name)
        for p in _our_files(root):
            corrupt += ".corrupt-" in p.name
            tmp += p.name.endswith(".tmp")
    by_fn: dict[str, int] = {}
    by_dev: dict[str, int] = {}
    runs: dict[str, dict] = {}
    for e in ok:
        by_fn[e["function"]] = by_fn.get(e["function"], 0) + 1
        by_dev[e["device"]] = by_dev.get(e["device"], 0) + 1
        r = runs.setdefault(
            e["run"], {"entries": 0, "bytes": 0, "hits": 0, "first": e["created"], "last": e["created"]}
        )
        r["entries"] += 1
        r["bytes"] += e["size"]
        r["hits"] += e["hits"]
        r["first"], r["last"] = min(r["first"], e["created"]), max(r["last"], e["created"])
    return {
        "path": str(entries_dir()),
        "namespace": get_flag("cache_namespace") or None,
        "namespaces": namespaces(),
        "module": module,
        "run": run,
        "enabled": disk_enabled(),
        "schema": SCHEMA_VERSION,
        "entries": len(ok),
        "bad_entries": len(entries) - len(ok),
        "bytes": sum(e["size"] for e in entries),
        "hits": sum(e["hits"] for e in ok),
        "functions": by_fn,
        "devices": by_dev,
        "runs": dict(sorted(runs.items(), key=lambda kv: -kv[1]["last"])),
        "corrupt_files": corrupt,
        "temp_files": tmp,
        "other_schemas": other_schemas,
        "counters": counters.snapshot(),
        "flags": current_flags(),
    }


# --------------------------------------------------------------------------------------------- test helper
@contextlib.contextmanager
def fresh_cache(disk: bool = True) -> Iterator[Path]:
    """A clean cache for a test: temp `TTFUSE_CACHE_DIR`, counters reset, memory LRUs and key history emptied.

    Sets the environment (not just a flag) so subprocesses started inside share the same cache dir.
    Yields the cache root. `disk=False` turns the disk level off inside the block.
    """
    saved = {k: os.environ.get(k) for k in ("TTFUSE_CACHE_DIR", "TTFUSE_CACHE")}
    flush_hits()
    with tempfile.TemporaryDirectory(prefix="ttfuse-cache-") as d:
        os.environ["TTFUSE_CACHE_DIR"] = d
        os.environ["TTFUSE_CACHE"] = "1" if disk else "0"
        counters.reset()
        clear_memory()
        _history.clear()
        _pending_hits.clear()
        try:
            yield Path(d)
        finally:
            _pending_hits.clear()
            clear_memory()
            _history.clear()
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
