"""End-to-end compile-cache tests of @ttfuse.jit: hits, misses per key field, retracing, disk store,
concurrent processes, corrupt and stale entries, warm starts. Counters and `trace_count` are the interface.

Every jitted result is compared with the eager result of the same function (same sim numerics): a cache
bug must never show up as a wrong value. The tests run the whole pipeline, so what is cached and reloaded is
the optimised graph (`block` becomes one `kernels.eltwise` node, `test_block_is_cached_as_a_fused_kernel`);
`block`'s fused form is bit-exact with eager by construction: its only rounding is the add's, which relu and
a scale by a power of two (every scale used here) commute with.
"""

import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from ttfuse import cache, ttnn
from ttfuse.cli import main as cli_main
from ttfuse.errors import CacheError
from ttfuse.flags import flags
from ttfuse.jit import jit

REPO = Path(__file__).resolve().parents[1]


def block(x, y, *, scale=2.0):
    z = ttnn.add(x, y)
    return ttnn.multiply(ttnn.relu(z), scale)


def tensor(dev, shape=(64, 64), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, memory_config=None, seed=0):
    g = torch.Generator().manual_seed(seed)
    t = torch.randn(*shape, generator=g)
    return ttnn.from_torch(
        t, dtype=dtype, layout=layout, device=dev, memory_config=memory_config or ttnn.DRAM_MEMORY_CONFIG
    )


def check_same(jitted, eager):
    a, b = ttnn.to_torch(jitted), ttnn.to_torch(eager)
    assert a.shape == b.shape and torch.equal(a, b)
    assert jitted.spec == eager.spec


def entries(root: Path) -> list[Path]:
    return sorted(root.glob(f"v{cache.SCHEMA_VERSION}/??/*.json"))


def test_block_is_cached_as_a_fused_kernel(fresh, device):
    x, y = tensor(device, seed=1), tensor(device, seed=2)
    f = jit(block)
    check_same(f(x, y), block(x, y))
    (path,) = entries(fresh)
    nodes = json.loads(path.read_text())["graph"]["nodes"]
    assert [n["op"] for n in nodes] == ["kernels.eltwise"]
    assert nodes[0]["side"]["replaced"] == ["add", "relu", "multiply"]


# --------------------------------------------------------------------------------------------------- hits
def test_hit_for_new_data_and_no_retrace(fresh, device):
    f = jit(block)
    x, y = tensor(device, seed=1), tensor(device, seed=2)
    check_same(f(x, y), block(x, y))
    assert f.trace_count == 1 and cache.counters.miss == 1 and cache.counters.hit == 0
    for seed in range(3, 13):  # new data, same specs: hits, never a retrace
        x2, y2 = tensor(device, seed=seed), tensor(device, seed=seed + 100)
        check_same(f(x2, y2), block(x2, y2))
    assert f.trace_count == 1 and cache.counters.hit == 10 and cache.counters.miss == 1
    assert len(entries(fresh)) == 1


def test_hit_for_a_new_jit_object_comes_from_disk(fresh, device):
    x, y = tensor(device, seed=1), tensor(device, seed=2)
    f1 = jit(block)
    f1(x, y)
    f2 = jit(block)  # same function and options, empty memory cache
    check_same(f2(x, y), block(x, y))
    assert f2.trace_count == 0 and cache.counters.hit == 1 and cache.counters.disk_read == 1


# ------------------------------------------------------------------------------------------------- misses
def _sharded(dev, grid):
    mc = ttnn.create_sharded_memory_config((64, 64), core_grid=grid, strategy=ttnn.ShardStrategy.HEIGHT)
    return tensor(dev, memory_config=mc)


VARIANTS = {
    # name: (args of the second call, field expected to differ)
    "dtype": (lambda d: (tensor(d, dtype=ttnn.float32), tensor(d, dtype=ttnn.float32)), {}, "inputs"),
    "shape": (lambda d: (tensor(d, shape=(64, 96)), tensor(d, shape=(64, 96))), {}, "inputs"),
    "layout": (
        lambda d: (tensor(d, layout=ttnn.ROW_MAJOR_LAYOUT), tensor(d, layout=ttnn.ROW_MAJOR_LAYOUT)),
        {},
        "inputs",
    ),
    "memory_config": (lambda d: (tensor(d, memory_config=ttnn.L1_MEMORY_CONFIG), tensor(d)), {}, "inputs"),
    "static_kwarg": (lambda d: (tensor(d), tensor(d)), {"scale": 4.0}, "static"),
    "static_kwarg_type": (lambda d: (tensor(d), tensor(d)), {"scale": 2}, "static"),
}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_miss_on_changed_key_field(fresh, device, name, capsys):
    make, kw, field = VARIANTS[name]
    f = jit(block)
    x, y = tensor(device, seed=1), tensor(device, seed=2)
    check_same(f(x, y), block(x, y))
    args = make(device)
    with flags(explain_cache_misses=True):
        out = f(*args, **kw)
    check_same(out, block(*args, **kw))
    assert f.trace_count == 2 and cache.counters.miss == 2 and cache.counters.hit == 0
    assert len(entries(fresh)) == 2
    err = capsys.readouterr().err
    assert f"'{field}'" in err, err
    # and the first key still hits
    check_same(f(x, y), block(x, y))
    assert f.trace_count == 2 and cache.counters.hit == 1


def test_miss_on_shard_grid(fresh, device):
    f = jit(block)
    a, b = _sharded(device, ttnn.CoreGrid(y=2, x=1)), _sharded(device, ttnn.CoreGrid(y=2, x=1))
    c, d = _sharded(device, ttnn.CoreGrid(y=1, x=2)), _sharded(device, ttnn.CoreGrid(y=1, x=2))
    assert a.spec.memory_config.memory_layout == c.spec.memory_config.memory_layout
    assert a.spec.memory_config.shard_spec.shape == c.spec.memory_config.shard_spec.shape
    check_same(f(a, b), block(a, b))
    check_same(f(c, d), block(c, d))
    assert f.trace_count == 2 and cache.counters.miss == 2
    check_same(f(a, b), block(a, b))
    assert f.trace_count == 2 and cache.counters.hit == 1


def test_miss_on_device_arch(fresh, device, capsys):
    f = jit(block)
    x, y = tensor(device), tensor(device)
    check_same(f(x, y), block(x, y))
    bh = ttnn.open_device(device_id=0, arch="blackhole")
    try:
        xb, yb = tensor(bh), tensor(bh)
        with flags(explain_cache_misses=True):
            check_same(f(xb, yb), block(xb, yb))
        assert f.trace_count == 2 and cache.counters.miss == 2
        assert "'device'" in capsys.readouterr().err
        stored = {json.loads(p.read_text())["device"] for p in entries(fresh)}
        assert stored == {device.spec.name, bh.spec.name}
    finally:
        ttnn.close_device(bh)


def test_same_arch_new_device_object_hits(fresh, device):
    f = jit(block)
    x, y = tensor(device), tensor(device)
    f(x, y)
    dev2 = ttnn.open_device(device_id=0)
    try:
        x2, y2 = tensor(dev2), tensor(dev2)
        check_same(f(x2, y2), block(x2, y2))
        assert f.trace_count == 1 and cache.counters.hit == 1
    finally:
        ttnn.close_device(dev2)


@pytest.mark.parametrize(
    "options",
    [
        {"max_grid": (3, 3)},
        {"math_fidelity": ttnn.MathFidelity.LoFi},
        {"memory_config": ttnn.L1_MEMORY_CONFIG},
        {"passes": []},
    ],
)
def test_miss_on_decorator_option(fresh, device, options, capsys):
    x, y = tensor(device), tensor(device)
    jit(block)(x, y)
    g = jit(**options)(block)
    with flags(explain_cache_misses=True):
        out = g(x, y)
    assert g.trace_count == 1 and cache.counters.miss == 2 and cache.counters.disk_read == 0
    assert "'options'" in capsys.readouterr().err or "passes" in options
    ref = block(x, y)
    assert torch.equal(ttnn.to_torch(out), ttnn.to_torch(ref))
    # the same options in a new object hit the entry on disk
    h = jit(**options)(block)
    h(x, y)
    assert h.trace_count == 0 and cache.counters.disk_read == 1


def test_static_values_python_calls_equal_stay_distinct(fresh, device):
    def g(x, s):
        return (
            ttnn.relu(x)
            if isinstance(s, bool)
            else ttnn.multiply(x, float(s) + (0.5 if isinstance(s, int) else 0))
        )

    f = jit(g)
    x = tensor(device)
    outs = [f(x, s) for s in (1, 1.0, True)]
    assert f.trace_count == 3 and cache.counters.miss == 3
    for s, o in zip((1, 1.0, True), outs):
        check_same(o, g(x, s))


def test_enable_cache_false_bypasses(fresh, device):
    f = jit(enable_cache=False)(block)
    x, y = tensor(device), tensor(device)
    for _ in range(3):
        check_same(f(x, y), block(x, y))
    assert cache.counters.bypass == 3 and cache.counters.hit == 0 and cache.counters.miss == 0
    assert f.trace_count == 3 and entries(fresh) == []


def test_cache_0_keeps_memory_but_not_disk(fresh, device, monkeypatch):
    monkeypatch.setenv("TTFUSE_CACHE", "0")
    x, y = tensor(device), tensor(device)
    f = jit(block)
    f(x, y)
    f(x, y)
    assert f.trace_count == 1 and cache.counters.hit == 1 and entries(fresh) == []
    g = jit(block)
    g(x, y)
    assert g.trace_count == 1 and cache.counters.disk_read == 0


# ---------------------------------------------------------------------------------------- corrupt entries
def _truncate(p: Path):
    p.write_bytes(p.read_bytes()[:100])


def _edit_op(p: Path):
    # an edit that keeps the JSON valid and the graph verifiable (add -> subtract in the fused kernel's
    # program): only the checksum catches it
    text = p.read_text()
    edited = text.replace('"add"', '"subtract"')
    assert edited != text
    p.write_text(edited)


def _edit_op_and_checksum(p: Path):
    # an edit that also recomputes the checksum, leaving a graph that no longer verifies
    e = json.loads(p.read_text())
    e["graph"]["nodes"][0]["op"] = "no_such_op"
    e.pop("checksum")
    e["checksum"] = cache._checksum(e)
    p.write_text(json.dumps(e))


def _bad_json(p: Path):
    p.write_text('{"schema": 1, "key": ')


def _wrong_key(p: Path):
    e = json.loads(p.read_text())
    e["key"] = "0" * 64
    p.write_text(json.dumps(e))


@pytest.mark.parametrize("damage", [_truncate, _edit_op, _edit_op_and_checksum, _bad_json, _wrong_key])
def test_damaged_entry_warns_and_recompiles_never_a_wrong_result(fresh, device, damage):
    x, y = tensor(device, seed=1), tensor(device, seed=2)
    jit(block)(x, y)
    (path,) = entries(fresh)
    damage(path)
    f = jit(block)
    with pytest.warns(cache.CacheWarning, match="recompiling"):
        out = f(x, y)
    check_same(out, block(x, y))
    assert f.trace_count == 1 and cache.counters.load_error == 1 and cache.counters.miss == 2
    assert list(path.parent.glob("*.corrupt-*"))
    # the recompiled entry replaced the damaged one and loads cleanly
    g = jit(block)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_same(g(x, y), block(x, y))
    assert g.trace_count == 0 and cache.counters.load_error == 1


def test_strict_mode_raises_on_damaged_entry(fresh, device):
    x, y = tensor(device), tensor(device)
    jit(block)(x, y)
    _truncate(entries(fresh)[0])
    with flags(strict_cache=True), pytest.raises(CacheError, match="STRICT"):
        jit(block)(x, y)


def test_older_schema_is_ignored(fresh, device):
    x, y = tensor(device), tensor(device)
    jit(block)(x, y)
    cur = fresh / f"v{cache.SCHEMA_VERSION}"
    cur.rename(fresh / f"v{cache.SCHEMA_VERSION - 1}")
    f = jit(block)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_same(f(x, y), block(x, y))
    assert f.trace_count == 1 and cache.counters.load_error == 0 and cache.counters.disk_read == 0
    assert len(entries(fresh)) == 1


# ------------------------------------------------------------------------------------------- processes
JITMOD = """
import json, os, sys, time
from pathlib import Path
import torch
from ttfuse import cache, ttnn
from ttfuse.jit import jit


def block(x, y, *, scale=2.0):
    z = ttnn.add(x, y)
    return ttnn.multiply(ttnn.relu(z), scale)


jblock = jit(block)


def barrier(d, n):
    # wait until n processes reached this point (each touches a file), so they act at the same moment
    Path(d, str(os.getpid())).touch()
    t_end = time.time() + 120
    while len(os.listdir(d)) < n:
        if time.time() > t_end:
            raise TimeoutError("barrier")
        time.sleep(0.0002)


def main(barrier_dir=None, n=0):
    # the parent's ttfuse source hash: a ttfuse file edited while the processes start (a busy checkout) must
    # not give them different keys; every process of a real deployment runs the same source anyway
    import ttfuse.cache_key

    ttfuse.cache_key._source_hash = os.environ["TTFUSE_TEST_SOURCE_HASH"]
    if barrier_dir:
        store = cache.disk_store

        def store_together(key_hex, entry):  # both processes traced (missed on disk); now write at once
            barrier(barrier_dir, n)
            return store(key_hex, entry)

        cache.disk_store = store_together
    dev = ttnn.open_device(device_id=0)
    g = torch.Generator().manual_seed(0)
    x = ttnn.from_torch(torch.randn(64, 64, generator=g), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=dev)
    y = ttnn.from_torch(torch.randn(64, 64, generator=g), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=dev)
    out = ttnn.to_torch(jblock(x, y))
    same = torch.equal(out, ttnn.to_torch(block(x, y)))
    print(json.dumps({"trace_count": jblock.trace_count, "counters": cache.counters.snapshot(), "same": same}))
"""


def _spawn(tmp_path, barrier_dir=None, n=0):
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(tmp_path), str(REPO)]),
        TTFUSE_TEST_SOURCE_HASH=cache.source_hash(),
    )
    code = f"import jitmod; jitmod.main({str(barrier_dir) if barrier_dir else None!r}, {n})"
    return subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _result(p):
    out, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1]), err


@pytest.mark.slow  # fresh Python processes
def test_two_processes_compiling_at_once_leave_one_valid_entry_then_warm_start(fresh, tmp_path):
    (tmp_path / "jitmod.py").write_text(JITMOD)
    bdir = tmp_path / "barrier"
    bdir.mkdir()
    procs = [_spawn(tmp_path, bdir, 2) for _ in range(2)]
    results = [_result(p)[0] for p in procs]
    for r in results:  # both compiled (neither saw the other's entry) and both stored it
        assert r["same"] and r["trace_count"] == 1 and r["counters"]["miss"] == 1
        assert r["counters"]["load_error"] == 0 and r["counters"]["write_error"] == 0
        assert r["counters"]["disk_write"] == 1
    files = list((fresh / f"v{cache.SCHEMA_VERSION}").rglob("*"))
    assert [p for p in files if p.suffix == ".json"] == entries(fresh) and len(entries(fresh)) == 1
    assert not [p for p in files if p.name.endswith(".tmp") or ".corrupt-" in p.name]
    cache.read_entry(entries(fresh)[0])  # valid
    # a fresh process starts warm from the disk entry: no trace
    r, err = _result(_spawn(tmp_path))
    assert r["same"] and r["trace_count"] == 0, err
    assert r["counters"]["hit"] == 1 and r["counters"]["miss"] == 0 and r["counters"]["disk_read"] == 1


# --------------------------------------------------------------------------------------------- inspection
def test_cli_sees_jit_entries(fresh, device):
    x, y = tensor(device), tensor(device)
    f = jit(block)
    f(x, y)
    f(x, y)
    key = f.last_key.hex
    runner = CliRunner()
    out = runner.invoke(cli_main, ["cache", "list"]).output
    assert key[:12] in out and "test_jit_cache.block" in out and "bf16[64,64]@DRAM" in out
    out = runner.invoke(cli_main, ["cache", "show", key[:10]]).output
    low = jit(block).lower(x, y)  # the same graph, traced again: the entry's IR and source, line for line
    for line in low.ir.splitlines() + low.source.splitlines():
        assert line.strip() in out, line
    for piece in (
        "= kernels.eltwise %0 %1",
        "(add, (0, 1), ())",
        "def block(",
        "_op_kernels_eltwise([v0, v1]",
    ):
        assert piece in out, piece
    s = json.loads(runner.invoke(cli_main, ["cache", "stats", "--json"]).output)
    assert s["entries"] == 1 and s["devices"] == {device.spec.name: 1}


def test_debug_level_1_logs_cache_decisions(fresh, device, capsys):
    x, y = tensor(device), tensor(device)
    f = jit(block)
    with flags(debug=1):
        f(x, y)
        jit(block)(x, y)
    err = capsys.readouterr().err
    assert "compiled" in err and "disk hit" in err and "stored" in err


def test_warm_start_in_process_does_not_retrace(fresh, device):
    """A new JitFunction of the same function starts from the disk entry (its cost: bench/test_cache_bench.py)."""
    x, y = tensor(device), tensor(device)
    jit(block)(x, y)
    f = jit(block)
    f(x, y)
    assert f.trace_count == 0
    shutil.rmtree(fresh / f"v{cache.SCHEMA_VERSION}")


def test_signed_zero_static_values_stay_distinct(fresh, device):
    def g(x, s):
        return ttnn.multiply(x, 1.0) if str(s).startswith("-") else ttnn.relu(x)

    f = jit(g)
    x = tensor(device)
    f(x, 0.0)
    check_same(f(x, -0.0), g(x, -0.0))
