"""Unit tests of the compile cache store (ttfuse/cache.py) and the runtime flags (ttfuse/flags.py).

The end-to-end cache behaviour of @ttfuse.jit is in tests/test_jit_cache.py; these tests drive the store
directly with plain dict entries.
"""

import json
import multiprocessing as mp
import os
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import pytest

from ttfuse import cache, ttnn
from ttfuse.device import device_spec
from ttfuse.errors import CacheError
from ttfuse.flags import FLAGS, debug_level, dlog, flags, get_flag

REPO = Path(__file__).resolve().parents[1]
SPEC = ttnn.TensorSpec((32, 64), ttnn.bfloat16)


def key_of(**over):
    fields = {
        "function": ("mod.f", "def f(x): ...", ()),
        "inputs": (SPEC,),
        "static": {"eps": 1e-5},
        "tree": "(*,)",
        "options": {"max_grid": None},
        "device": device_spec("wormhole_b0"),
    }
    fields.update(over)
    return cache.make_key(fields)


def entry_of(key, function="mod.f", **kw):
    return cache.make_entry(
        key,
        function=function,
        graph={"nodes": [], "inputs": []},
        arg_specs=[SPEC],
        device="wormhole_b0:n150",
        compile_ms=1.25,
        **kw,
    )


def store(key=None, **kw):
    key = key or key_of()
    assert cache.disk_store(key.hex, entry_of(key, **kw))
    return key


# ------------------------------------------------------------------------------------------------------ keys
def test_key_has_per_field_hashes_and_is_deterministic():
    k1, k2 = key_of(), key_of()
    assert set(k1.fields) == set(cache.KEY_FIELDS)
    assert all(len(h) == 64 for h in k1.fields.values())
    assert k1.hex == k2.hex and k1 == k2 and hash(k1) == hash(k2)
    assert k1.fields["ttfuse"] == cache.make_key({"ttfuse": cache.source_hash()}).fields["ttfuse"]


@pytest.mark.parametrize(
    "field,value",
    [
        ("function", ("mod.f", "def f(x): return x", ())),
        ("inputs", (SPEC.replace(dtype=ttnn.float32),)),
        ("inputs", (SPEC.replace(shape=(32, 96)),)),
        ("inputs", (SPEC.replace(layout=ttnn.ROW_MAJOR_LAYOUT),)),
        ("inputs", (SPEC.replace(memory_config=ttnn.L1_MEMORY_CONFIG),)),
        ("static", {"eps": 1e-6}),
        ("tree", "((*,),)"),
        ("options", {"max_grid": (7, 7)}),
        ("device", device_spec("blackhole")),
        ("ttfuse", "0" * 64),
        ("pipeline", 99),
    ],
)
def test_key_changes_only_the_changed_field(field, value):
    base, other = key_of(), key_of(**{field: value})
    assert other.hex != base.hex
    assert other.diff(base) == [field]


@pytest.mark.parametrize("a,b", [(1, True), (1, 1.0), (0.0, -0.0), ((1, 2), [1, 2]), ("1", 1), (None, False)])
def test_key_distinguishes_values_python_calls_equal(a, b):
    assert key_of(static={"v": a}).hex != key_of(static={"v": b}).hex


def test_key_is_insensitive_to_dict_order_and_set_order():
    assert key_of(static={"a": 1, "b": 2}).hex == key_of(static={"b": 2, "a": 1}).hex
    assert key_of(static=frozenset({"x", "y", "z"})).hex == key_of(static=frozenset({"z", "y", "x"})).hex


def test_key_of_functions_is_by_content():
    def make(k):
        return lambda x: x * k

    assert key_of(static=make(2)).hex == key_of(static=make(2)).hex
    assert key_of(static=make(2)).hex != key_of(static=make(3)).hex  # closure value
    assert key_of(static=lambda x: x + 1).hex != key_of(static=lambda x: x - 1).hex  # code


def test_key_of_ttnn_configs_and_enums():
    cfg1 = ttnn.WormholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.HiFi4)
    cfg2 = ttnn.WormholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.LoFi)
    assert (
        key_of(static=cfg1).hex
        == key_of(static=ttnn.WormholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.HiFi4)).hex
    )
    assert key_of(static=cfg1).hex != key_of(static=cfg2).hex
    assert key_of(static=ttnn.bfloat16).hex != key_of(static=ttnn.bfloat8_b).hex


def test_key_rejects_unknown_field_and_unkeyable_value():
    with pytest.raises(ValueError, match="unknown key field"):
        cache.make_key({"colour": 1})

    class Opaque:
        __slots__ = ()

    with pytest.raises(CacheError, match="field 'static'.*Opaque"):
        key_of(static=Opaque())


def test_key_of_plain_object_uses_its_state_not_its_address():
    class Obj:
        def __init__(self, v):
            self.v = v

    assert key_of(static=Obj(1)).hex == key_of(static=Obj(1)).hex
    assert key_of(static=Obj(1)).hex != key_of(static=Obj(2)).hex


def test_source_hash_computed_once(monkeypatch):
    h = cache.source_hash()
    calls = []
    monkeypatch.setattr(Path, "read_bytes", lambda self: calls.append(self) or b"")
    assert cache.source_hash() is h and not calls


# ----------------------------------------------------------------------------------------------- store/load
def test_store_and_load_round_trip(fresh):
    key = store()
    path = cache.entry_path(key.hex)
    assert path == fresh / f"v{cache.SCHEMA_VERSION}" / key.hex[:2] / f"{key.hex}.json"
    data = json.loads(path.read_text())  # plain JSON data
    assert (
        data["schema"] == cache.SCHEMA_VERSION and data["key"] == key.hex and data["key_fields"] == key.fields
    )
    entry = cache.disk_load(key.hex)
    assert entry["function"] == "mod.f" and entry["arg_specs"] == [str(SPEC)] and entry["compile_ms"] == 1.25
    assert set(cache.ENTRY_FIELDS) <= set(entry)
    snap = cache.counters.snapshot()
    assert snap["disk_write"] == 1 and snap["disk_read"] == 1
    assert cache.disk_load(key_of(static={"eps": 3.0}).hex) is None  # absent: a plain miss
    assert cache.counters.load_error == 0


def test_entry_files_never_contain_pickle_or_code(fresh):
    key = store()
    raw = cache.entry_path(key.hex).read_bytes()
    assert raw.startswith(b"{") and b"\x80" not in raw[:2]
    json.loads(raw)


def test_store_refuses_non_json_data(fresh):
    key = key_of()
    e = entry_of(key)
    e["graph"] = {"bad": {1, 2}}  # a set is not JSON
    with pytest.warns(cache.CacheWarning, match="could not write"):
        assert cache.disk_store(key.hex, e) is False
    assert cache.counters.write_error == 1
    assert not cache.entry_path(key.hex).exists()
    with flags(strict_cache=True), pytest.raises(CacheError, match="could not write"):
        cache.disk_store(key.hex, e)


def test_store_refuses_mismatched_key(fresh):
    k1, k2 = key_of(), key_of(static={"eps": 2.0})
    with pytest.warns(cache.CacheWarning):
        assert cache.disk_store(k2.hex, entry_of(k1)) is False
    assert cache.counters.write_error == 1


def test_failed_replace_leaves_no_entry_and_no_temp(fresh, monkeypatch):
    key = key_of()

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(cache.os, "replace", boom)
    with pytest.warns(cache.CacheWarning, match="disk full"):
        assert cache.disk_store(key.hex, entry_of(key)) is False
    monkeypatch.undo()
    assert cache.counters.write_error == 1
    assert not cache.entry_path(key.hex).exists()
    assert list(cache.entry_path(key.hex).parent.iterdir()) == []


@pytest.mark.slow  # a writer process killed mid-write
def test_crash_between_temp_write_and_replace_leaves_no_partial_entry(fresh):
    key = key_of()
    code = textwrap.dedent(f"""
        import os, sys
        from ttfuse import cache
        e = {json.dumps(entry_of(key))!r}
        import json
        os.replace = lambda a, b: os._exit(17)   # the process dies after writing the temp file
        cache.disk_store({key.hex!r}, json.loads(e))
    """)
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=dict(os.environ), capture_output=True)
    assert r.returncode == 17, r.stderr.decode()
    leftovers = list(cache.entry_path(key.hex).parent.iterdir())
    assert [p.suffix for p in leftovers] == [".tmp"]  # the temp file, never the entry
    assert cache.disk_load(key.hex) is None
    assert cache.list_entries() == []
    assert cache.counters.load_error == 0
    assert cache.stats()["temp_files"] == 1
    cache.clear()
    assert not any(fresh.rglob("*.tmp"))


def _writer(args):
    cache_dir, key_hex, entry, n = args
    os.environ["TTFUSE_CACHE_DIR"] = cache_dir
    ok = 0
    for i in range(n):
        e = dict(entry, compile_ms=float(i))
        ok += cache.disk_store(key_hex, e)
    return ok


@pytest.mark.slow  # concurrent writer processes
def test_concurrent_writers_of_one_key_leave_one_valid_entry(fresh):
    key = key_of()
    entry = entry_of(key)
    ctx = mp.get_context("spawn")
    with ctx.Pool(2) as pool:
        res = pool.map_async(_writer, [(str(fresh), key.hex, entry, 40)] * 2)
        # A reader racing the writers never sees a partial file.
        seen = 0
        while not res.ready():
            seen += cache.disk_load(key.hex) is not None
        assert res.get(timeout=120) == [40, 40]
    assert cache.counters.load_error == 0
    files = list(cache.entry_path(key.hex).parent.iterdir())
    assert [p.name for p in files if p.suffix == ".json"] == [f"{key.hex}.json"]
    assert not [p for p in files if p.suffix == ".tmp"]
    assert cache.disk_load(key.hex)["key"] == key.hex


# ------------------------------------------------------------------------------------------ corrupt entries
def _truncate(p: Path):
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])


def _bad_json(p: Path):
    p.write_text("{not json")


def _edit_graph(p: Path):
    e = json.loads(p.read_text())
    e["graph"]["nodes"] = [{"op": "subtract"}]
    p.write_text(json.dumps(e))


def _wrong_schema(p: Path):
    e = json.loads(p.read_text())
    e["schema"] = cache.SCHEMA_VERSION + 1
    p.write_text(json.dumps(e))


def _missing_field(p: Path):
    e = json.loads(p.read_text())
    del e["graph"]
    p.write_text(json.dumps(e))


def _not_an_object(p: Path):
    p.write_text("[1, 2, 3]")


def _empty(p: Path):
    p.write_bytes(b"")


def _binary(p: Path):
    p.write_bytes(b"\x80\x04\x95pickle")


@pytest.mark.parametrize(
    "damage,reason",
    [
        (_truncate, "unreadable"),
        (_bad_json, "unreadable"),
        (_edit_graph, "checksum"),
        (_wrong_schema, "schema"),
        (_missing_field, "missing field 'graph'"),
        (_not_an_object, "not an object"),
        (_empty, "unreadable"),
        (_binary, "unreadable"),
    ],
)
def test_corrupt_entry_warns_moves_aside_counts_and_misses(fresh, damage, reason):
    key = store()
    path = cache.entry_path(key.hex)
    damage(path)
    with pytest.warns(cache.CacheWarning, match=reason):
        assert cache.disk_load(key.hex) is None
    assert cache.counters.load_error == 1
    assert not path.exists()
    aside = list(path.parent.glob(f"{key.hex}.json.corrupt-*"))
    assert len(aside) == 1
    # the next load is a clean miss, and a recompile can store the entry again
    assert cache.disk_load(key.hex) is None and cache.counters.load_error == 1
    store(key)
    assert cache.disk_load(key.hex) is not None


def test_entry_under_another_key_is_rejected(fresh):
    k1, k2 = store(), key_of(static={"eps": 7.0})
    p2 = cache.entry_path(k2.hex)
    p2.parent.mkdir(parents=True, exist_ok=True)
    p2.write_bytes(cache.entry_path(k1.hex).read_bytes())
    with pytest.warns(cache.CacheWarning, match="does not match its file name"):
        assert cache.disk_load(k2.hex) is None
    assert cache.counters.load_error == 1


def test_edited_key_fields_are_rejected(fresh):
    key = store()
    p = cache.entry_path(key.hex)
    e = json.loads(p.read_text())
    e["key_fields"]["static"] = "0" * 64
    p.write_text(json.dumps(e))
    with pytest.warns(cache.CacheWarning, match="key_fields do not hash"):
        assert cache.disk_load(key.hex) is None


def test_caller_check_failure_is_a_corrupt_entry(fresh):
    key = store()

    def verify(entry):
        raise ValueError("node %3 uses undefined %9")

    with pytest.warns(cache.CacheWarning, match="undefined %9"):
        assert cache.disk_load(key.hex, check=verify) is None
    assert cache.counters.load_error == 1 and not cache.entry_path(key.hex).exists()


def test_disk_reject_after_load(fresh):
    key = store()
    assert cache.disk_load(key.hex) is not None
    with pytest.warns(cache.CacheWarning, match="codegen failed"):
        cache.disk_reject(key.hex, "codegen failed")
    assert cache.counters.load_error == 1 and not cache.entry_path(key.hex).exists()


@pytest.mark.parametrize("how", ["env", "flags"])
def test_strict_mode_raises_and_leaves_the_file(fresh, monkeypatch, how):
    key = store()
    path = cache.entry_path(key.hex)
    _truncate(path)
    if how == "env":
        monkeypatch.setenv("TTFUSE_STRICT_CACHE", "1")
        ctx = flags()
    else:
        ctx = flags(strict_cache=True)
    with ctx, pytest.raises(CacheError, match="STRICT"):
        cache.disk_load(key.hex)
    assert path.exists() and cache.counters.load_error == 1


def test_older_schema_directory_is_ignored(fresh):
    key = store()
    old = fresh / f"v{cache.SCHEMA_VERSION - 1}"
    cache.entry_path(key.hex).parent.rename(old.with_name("tmpdir"))
    old.mkdir()
    (old.with_name("tmpdir")).rename(old / key.hex[:2])
    assert cache.disk_load(key.hex) is None
    assert cache.counters.load_error == 0
    assert cache.stats()["other_schemas"] == [old.name]
    assert cache.list_entries() == []
    assert cache.clear()["entries"] == 1 and not old.exists()


@pytest.mark.parametrize("how", ["env", "flags"])
def test_cache_0_disables_the_disk_level(fresh, monkeypatch, how):
    key = key_of()
    if how == "env":
        monkeypatch.setenv("TTFUSE_CACHE", "0")
        ctx = flags()
    else:
        ctx = flags(cache=False)
    with ctx:
        assert not cache.disk_enabled()
        assert cache.disk_store(key.hex, entry_of(key)) is False
        assert cache.disk_load(key.hex) is None
    assert not any(fresh.rglob("*.json"))
    assert cache.counters.write_error == 0


def test_fresh_cache_without_disk():
    with cache.fresh_cache(disk=False) as d:
        assert not cache.disk_enabled() and get_flag("cache_dir") == str(d)
    assert get_flag("cache_dir") != str(d)


# ------------------------------------------------------------------------------------------------ memory LRU
def test_lru_evicts_least_recently_used():
    lru = cache.MemoryLRU(maxsize=2)
    lru.put(("a",), 1)
    lru.put(("b",), 2)
    assert lru.get(("a",)) == 1  # a is now the most recent
    lru.put(("c",), 3)
    assert ("b",) not in lru and lru.get(("b",)) is None
    assert lru.keys() == [("a",), ("c",)] and lru.evictions == 1 and len(lru) == 2
    lru.put(("a",), 10)
    assert lru.get(("a",)) == 10 and len(lru) == 2
    with pytest.raises(ValueError):
        cache.MemoryLRU(0)


def test_fresh_cache_empties_every_lru():
    lru = cache.MemoryLRU()
    lru.put(1, "x")
    with cache.fresh_cache():
        assert len(lru) == 0


# ----------------------------------------------------------------------------------------------- counters
def test_counters_snapshot_and_reset():
    c = cache.Counters()
    c.hit += 2
    c.load_error += 1
    snap = c.snapshot()
    assert snap["hit"] == 2 and snap["load_error"] == 1 and snap["miss"] == 0
    assert {"hit", "miss", "bypass", "load_error", "write_error"} <= set(snap)
    c.reset()
    assert set(c.snapshot().values()) == {0}
    assert "hit=0" in repr(c)


# ------------------------------------------------------------------------------------------ explain misses
def test_explain_miss_names_the_differing_field(fresh, capsys):
    with flags(explain_cache_misses=True):
        first = cache.explain_miss("mod.f", key_of())
        assert "first compile" in first
        msg = cache.explain_miss("mod.f", key_of(inputs=(SPEC.replace(dtype=ttnn.float32),)))
    assert "'inputs'" in msg and "1 of 8 key fields" in msg
    # the change as spec text, both sides (not the canonical JSON of the key)
    assert "\n  arg 0: bf16[32,64]@DRAM -> f32[32,64]@DRAM" in msg and "$obj" not in msg
    assert "'static'" not in msg
    assert "'inputs'" in capsys.readouterr().err


def _changes(field, was, now, names=None):
    from ttfuse.cache_key import field_changes

    a, b = cache.make_key({field: was}), cache.make_key({field: now})
    return field_changes(field, a.values[field], b.values[field], names, names)


@pytest.mark.parametrize(
    "field,was,now,names,want",
    [
        (
            "inputs",
            [SPEC, SPEC],
            [SPEC, SPEC.replace(dtype=ttnn.bfloat8_b)],
            ["x", "w"],
            [("arg w", "bf16[32,64]@DRAM", "bfp8[32,64]@DRAM")],
        ),
        (
            "inputs",
            [SPEC],
            [SPEC.replace(layout=ttnn.ROW_MAJOR_LAYOUT)],
            None,
            [("arg 0", "bf16[32,64]@DRAM", "bf16[32,64]rm@DRAM")],
        ),
        ("static", [1e-5, (8, 8)], [1e-5, (8, 7)], ["eps", "grid"], [("arg grid", "(8, 8)", "(8, 7)")]),
        ("static", ["relu"], ["gelu"], None, [("static 0", "'relu'", "'gelu'")]),
        (
            "static",
            [ttnn.MathFidelity.HiFi4],
            [ttnn.MathFidelity.LoFi],
            ["fidelity"],
            [("arg fidelity", "MathFidelity.HiFi4", "MathFidelity.LoFi")],
        ),
        (
            "options",
            {"max_grid": (8, 8), "fp32": False},
            {"max_grid": (8, 8), "fp32": True},
            None,
            [("options.fp32", "False", "True")],
        ),
        (
            "tree",
            {"args": ["*"], "kwargs": []},
            {"args": ["*", {"t": ["*", {"s": 0}]}], "kwargs": [["act", {"s": 1}]]},
            None,
            [("call", "(T)", "(T, (T, S), act=S)")],
        ),
        (
            "function",
            {"qualname": "m.f", "content": "a" * 64},
            {"qualname": "m.f", "content": "b" * 64},
            None,
            [("function content (code, closures, globals, defaults)", "a" * 12, "b" * 12)],
        ),
        (
            "device",
            {"spec": list(device_spec("wormhole_b0").key_fields())},
            {"spec": list(device_spec("wormhole_b0:n300").key_fields())},
            None,
            [("device.spec.board", "'n150'", "'n300'"), ("device.spec.num_chips", "1", "2")],
        ),
    ],
)
def test_field_changes_read_as_spec_text(field, was, now, names, want):
    """Each key field's change as the user would write the values (tensors as spec text), both sides."""
    assert _changes(field, was, now, names) == want


def test_explain_miss_picks_the_nearest_previous_key(fresh):
    with flags(explain_cache_misses=True):
        cache.explain_miss("mod.f", key_of(static={"eps": 1.0}, tree="a"))
        cache.explain_miss("mod.f", key_of(static={"eps": 2.0}))
        msg = cache.explain_miss("mod.f", key_of(static={"eps": 3.0}))
    assert "'static'" in msg and "'tree'" not in msg


def test_explain_miss_uses_disk_keys_from_other_processes(fresh):
    store(key_of(options={"max_grid": (7, 7)}))
    with flags(explain_cache_misses=True):
        msg = cache.explain_miss("mod.f", key_of(options={"max_grid": (3, 3)}))
    assert "'options'" in msg and "1 of 8" in msg


def test_explain_miss_silent_when_off(fresh, capsys):
    assert cache.explain_miss("mod.f", key_of()) is None
    assert capsys.readouterr().err == ""


# ------------------------------------------------------------------------------------- list / clear / stats
def test_list_entries_and_hits(fresh):
    k1 = store()
    k2 = store(key_of(static={"eps": 2.0}), function="mod.g")
    assert cache.disk_load(k1.hex) and cache.disk_load(k1.hex)
    cache.record_hit(k2.hex, 5)
    rows = cache.list_entries()
    assert {r["key"] for r in rows} == {k1.hex, k2.hex}
    by = {r["key"]: r for r in rows}
    assert by[k1.hex]["hits"] == 2 and by[k2.hex]["hits"] == 5
    assert by[k2.hex]["function"] == "mod.g" and by[k2.hex]["status"] == "ok"
    assert by[k1.hex]["arg_specs"] == [str(SPEC)] and by[k1.hex]["size"] > 0
    # the entry file itself is never rewritten to count hits
    assert json.loads(cache.entry_path(k1.hex).read_text())["hits"] == 0


def test_list_marks_corrupt_entries_without_moving_them(fresh):
    key = store()
    _truncate(cache.entry_path(key.hex))
    (row,) = cache.list_entries()
    assert row["status"].startswith("corrupt") and cache.entry_path(key.hex).exists()
    assert cache.counters.load_error == 0


def test_clear_older_than(fresh):
    old, new = store(), store(key_of(static={"eps": 2.0}))
    t = time.time() - 3 * 86400
    os.utime(cache.entry_path(old.hex), (t, t))
    assert cache.clear(older_than_s=2 * 86400)["entries"] == 1
    assert [r["key"] for r in cache.list_entries()] == [new.hex]
    assert cache.clear()["entries"] == 1 and cache.list_entries() == []


def test_resolve_key_prefix(fresh):
    key = store()
    assert cache.resolve_key(key.hex[:6]) == key.hex
    assert cache.resolve_key(key.hex[:1]) == key.hex
    with pytest.raises(CacheError, match="no cache entry"):
        cache.resolve_key("ffff" if not key.hex.startswith("ffff") else "0000")
    with pytest.raises(CacheError, match="not a cache key"):
        cache.resolve_key("xyz")


def test_resolve_key_ambiguous(fresh):
    keys = [store(key_of(static={"eps": float(i)})) for i in range(40)]
    first = {}
    for k in keys:
        first.setdefault(k.hex[0], []).append(k)
    c = next(c for c, ks in first.items() if len(ks) > 1)
    with pytest.raises(CacheError, match="ambiguous"):
        cache.resolve_key(c)


def test_stats(fresh):
    store()
    s = cache.stats()
    assert s["entries"] == 1 and s["functions"] == {"mod.f": 1} and s["devices"] == {"wormhole_b0:n150": 1}
    assert s["schema"] == cache.SCHEMA_VERSION and s["enabled"] and s["bytes"] > 0
    assert s["counters"]["disk_write"] == 1 and s["flags"]["cache_dir"] == str(fresh)


def test_cache_dir_default_is_user_cache_dir(monkeypatch):
    monkeypatch.delenv("TTFUSE_CACHE_DIR", raising=False)
    assert cache.cache_dir().name == "ttfuse"
    monkeypatch.setenv("TTFUSE_CACHE_DIR", "/tmp/x-ttfuse")
    assert cache.cache_dir() == Path("/tmp/x-ttfuse")
    assert cache.entries_dir() == Path(f"/tmp/x-ttfuse/v{cache.SCHEMA_VERSION}")
    with pytest.raises(ValueError):
        cache.entry_path("../../etc/passwd")


# -------------------------------------------------------------------------------------------------- flags
def test_flag_defaults_env_and_override(monkeypatch):
    for f in FLAGS.values():
        monkeypatch.delenv(f.env, raising=False)
    assert get_flag("debug") == 0 and get_flag("cache") is True and get_flag("strict_cache") is False
    monkeypatch.setenv("TTFUSE_DEBUG", "2")
    assert debug_level() == 2
    with flags(debug=4):
        assert debug_level() == 4
        with flags(debug=1, strict_cache=True):
            assert debug_level() == 1 and get_flag("strict_cache")
        assert debug_level() == 4 and not get_flag("strict_cache")
    assert debug_level() == 2
    monkeypatch.setenv("TTFUSE_CACHE", "false")
    assert get_flag("cache") is False


def test_flags_validate():
    with pytest.raises(ValueError, match="debug level"):
        with flags(debug=7):
            pass
    with pytest.raises(TypeError, match="unknown flag"):
        with flags(colour=1):
            pass
    with pytest.raises(KeyError):
        get_flag("colour")


def test_bad_env_value_warns_and_uses_default(monkeypatch):
    monkeypatch.setenv("TTFUSE_DEBUG", "loud")
    with pytest.warns(RuntimeWarning, match="TTFUSE_DEBUG"):
        assert debug_level() == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert debug_level() == 0  # warned once per value


def test_flags_is_a_decorator_too():
    @flags(debug=3)
    def inner():
        return debug_level()

    assert inner() == 3 and debug_level() == get_flag("debug")


def test_dlog_respects_level(capsys):
    with flags(debug=1):
        dlog(1, "cache: hit %s", "abc")
        dlog(3, "IR after pass")
    err = capsys.readouterr().err
    assert "ttfuse: cache: hit abc" in err and "IR after pass" not in err
