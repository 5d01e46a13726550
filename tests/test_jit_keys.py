"""What a jit function reads besides its arguments is part of its cache key, and is re-checked on every call.

Closure cells, defaults and the globals a function loads are keyed by content (ttfuse/identity.py), so two
closures of the same code over different objects never share a compiled entry, in memory or on disk; a guard
run on every call notices a mutated closure object, a rebound `nonlocal` or global, and re-keys (flipping back
is a memory hit). What cannot be keyed by content (a torch module, a C object) keeps the function off the disk
cache, with one CacheWarning naming the variable. Every jitted result is compared with the eager result.
"""

import dataclasses
import functools
import inspect
import itertools
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

import ttfuse
from ttfuse import cache, ttnn
from ttfuse.cache import CacheWarning

REPO = Path(__file__).resolve().parents[1]


def entries(root: Path) -> list[Path]:
    return sorted(root.glob(f"v{cache.SCHEMA_VERSION}/??/*.json"))


def tensor(dev, value=2.0, shape=(32, 32)):
    return ttnn.from_torch(torch.full(shape, value), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=dev)


def value(t) -> float:
    return ttnn.to_torch(t)[0, 0].item()


class Flag:
    def __init__(self, k):
        self.k = k


def make(flag):
    def f(x):
        return ttnn.multiply(x, 3.0) if flag.k else ttnn.add(x, 3.0)

    return f


# ------------------------------------------------------------------------------------------ closure content
def test_closures_over_different_objects_do_not_share_an_entry(fresh, device):
    """The issue's reproducer: same code, different closed-over object state -> two entries."""
    x = tensor(device)
    assert value(ttfuse.jit(make(Flag(True)))(x)) == 6.0
    g = ttfuse.jit(make(Flag(False)))
    assert value(g(x)) == 5.0 and g.trace_count == 1  # traced: no disk hit on the other flag's entry
    assert len(entries(fresh)) == 2


def test_equal_content_shares_a_disk_entry(fresh, device):
    x = tensor(device)
    ttfuse.jit(make(Flag(True)))(x)
    g = ttfuse.jit(make(Flag(True)))  # another object, equal content
    assert value(g(x)) == 6.0 and g.trace_count == 0
    assert len(entries(fresh)) == 1


# the fresh process's module: this file's Flag and make (their source), and a main that calls make(Flag(k))
KEYSMOD = f"""
import json, os, sys
import torch
import ttfuse
import ttfuse.cache_key
from ttfuse import cache, ttnn

{inspect.getsource(Flag)}
{inspect.getsource(make)}
def main(k):
    # the parent's ttfuse source hash (a file edited while the processes start must not split the keys)
    ttfuse.cache_key._source_hash = os.environ["TTFUSE_TEST_SOURCE_HASH"]
    dev = ttnn.open_device(device_id=0)
    x = ttnn.from_torch(torch.full((32, 32), 2.0), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=dev)
    jf = ttfuse.jit(make(Flag(k)))
    out = ttnn.to_torch(jf(x))[0, 0].item()
    print(json.dumps({{"out": out, "trace_count": jf.trace_count}}))
"""


def _run_fresh_process(tmp_path: Path, k: bool) -> dict:
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(tmp_path), str(REPO)]),
        TTFUSE_TEST_SOURCE_HASH=cache.source_hash(),
    )
    p = subprocess.run(
        [sys.executable, "-c", f"import keysmod; keysmod.main({k!r})"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout.strip().splitlines()[-1])


@pytest.mark.slow  # three fresh Python processes
def test_fresh_processes_sharing_the_disk_cache_keep_closures_apart(fresh, tmp_path):
    (tmp_path / "keysmod.py").write_text(KEYSMOD)
    assert _run_fresh_process(tmp_path, True) == {"out": 6.0, "trace_count": 1}
    assert _run_fresh_process(tmp_path, False) == {"out": 5.0, "trace_count": 1}  # not the True entry
    assert _run_fresh_process(tmp_path, True) == {"out": 6.0, "trace_count": 0}  # its own entry, from disk
    assert len(entries(fresh)) == 2


def test_a_helper_closure_is_keyed_too(fresh, device):
    def helper_for(flag):
        def helper(x):
            return ttnn.multiply(x, 3.0) if flag.k else ttnn.add(x, 3.0)

        return helper

    def outer_for(flag):
        h = helper_for(flag)

        def f(x):
            return ttnn.relu(h(x))

        return f

    x = tensor(device)
    assert value(ttfuse.jit(outer_for(Flag(True)))(x)) == 6.0
    assert value(ttfuse.jit(outer_for(Flag(False)))(x)) == 5.0


@dataclasses.dataclass
class Cfg:
    scale: float
    act: str = "relu"


class Slotted:
    __slots__ = ("scale",)

    def __init__(self, scale):
        self.scale = scale


def scaled(cfg):
    def f(x):
        return ttnn.multiply(x, cfg.scale)

    return f


@pytest.mark.parametrize("kind", [Cfg, Slotted], ids=["dataclass", "slots"])
def test_dataclass_and_slots_objects_are_keyed_by_content(fresh, device, kind):
    x = tensor(device)
    assert value(ttfuse.jit(scaled(kind(2.0)))(x)) == 4.0
    assert value(ttfuse.jit(scaled(kind(3.0)))(x)) == 6.0
    g = ttfuse.jit(scaled(kind(2.0)))
    assert value(g(x)) == 4.0 and g.trace_count == 0  # equal content: the first entry, from disk
    assert len(entries(fresh)) == 2


def test_partial_objects_are_keyed_by_their_arguments(fresh, device):
    def f(x, *, s):
        return ttnn.multiply(x, s)

    x = tensor(device)
    assert value(ttfuse.jit(functools.partial(f, s=2.0))(x)) == 4.0
    assert value(ttfuse.jit(functools.partial(f, s=3.0))(x)) == 6.0


# ------------------------------------------------------------------------------------------- guards per call
def test_mutating_a_closure_object_between_calls(fresh, device):
    flag = Flag(True)
    f = ttfuse.jit(make(flag))
    x = tensor(device)
    assert value(f(x)) == 6.0
    flag.k = False
    assert value(f(x)) == 5.0 and f.trace_count == 2
    flag.k = True  # back: the entry of that state is still in memory
    assert value(f(x)) == 6.0 and f.trace_count == 2
    flag.k = False
    assert value(f(x)) == 5.0 and f.trace_count == 2


def test_mutating_a_nested_object(fresh, device):
    class Outer:
        def __init__(self):
            self.cfg = Cfg(2.0)

    o = Outer()

    def f(x):
        return ttnn.multiply(x, o.cfg.scale)

    jf = ttfuse.jit(f)
    x = tensor(device)
    assert value(jf(x)) == 4.0
    o.cfg.scale = 3.0
    assert value(jf(x)) == 6.0
    o.cfg = Cfg(0.5)
    assert value(jf(x)) == 1.0


SCALE = 2.0


def reads_global(x):
    return ttnn.multiply(x, SCALE)


def test_rebinding_a_global_scalar_between_calls(fresh, device):
    global SCALE
    f = ttfuse.jit(reads_global)
    x = tensor(device)
    try:
        assert value(f(x)) == 4.0
        SCALE = 3.0
        assert value(f(x)) == 6.0 and f.trace_count == 2
        SCALE = 2.0
        assert value(f(x)) == 4.0 and f.trace_count == 2
    finally:
        SCALE = 2.0


MEMCFG = ttnn.DRAM_MEMORY_CONFIG


def reads_memory_config(x):
    return ttnn.relu(x, memory_config=MEMCFG)


def test_a_ttnn_config_in_a_global_is_keyed_by_value(fresh, device):
    global MEMCFG
    f = ttfuse.jit(reads_memory_config, passes=[])
    x = tensor(device)
    try:
        assert f(x).memory_config() == ttnn.DRAM_MEMORY_CONFIG
        MEMCFG = ttnn.L1_MEMORY_CONFIG
        assert f(x).memory_config() == ttnn.L1_MEMORY_CONFIG
        # a fresh JitFunction under the other value: its own disk entry, not the DRAM one
        assert ttfuse.jit(reads_memory_config, passes=[])(x).memory_config() == ttnn.L1_MEMORY_CONFIG
    finally:
        MEMCFG = ttnn.DRAM_MEMORY_CONFIG


def test_rebinding_a_nonlocal_between_calls(fresh, device):
    def make_pair():
        scale = 2.0

        def f(x):
            return ttnn.multiply(x, scale)

        def set_scale(v):
            nonlocal scale
            scale = v

        return f, set_scale

    f, set_scale = make_pair()
    jf = ttfuse.jit(f)
    x = tensor(device)
    assert value(jf(x)) == 4.0
    set_scale(3.0)
    assert value(jf(x)) == 6.0
    set_scale(2.0)
    assert value(jf(x)) == 4.0 and jf.trace_count == 2


def test_mutating_a_closure_list_and_dict(fresh, device):
    scales = [2.0]
    opts = {"act": "relu"}

    def f(x):
        y = ttnn.multiply(x, scales[0])
        return ttnn.relu(y) if opts["act"] == "relu" else ttnn.neg(y)

    jf = ttfuse.jit(f)
    x = tensor(device)
    assert value(jf(x)) == 4.0
    scales[0] = 3.0
    assert value(jf(x)) == 6.0
    opts["act"] = "neg"
    assert value(jf(x)) == -6.0 and jf.trace_count == 3


def test_state_changed_by_the_trace_itself_does_not_retrace(fresh, device):
    """A counter bumped while tracing is seen as the trace left it: the next call is a hit."""
    counter = Flag(0)

    def f(x):
        counter.k += 1
        return ttnn.relu(x)

    jf = ttfuse.jit(f)
    x = tensor(device)
    for _ in range(3):
        jf(x)
    assert counter.k == 1 and jf.trace_count == 1


def test_a_function_without_closures_or_globals_has_no_guard(fresh, device):
    jf = ttfuse.jit(lambda x: ttnn.relu(ttnn.add(x, 1.0)))
    jf(tensor(device))
    assert jf._guard is None  # nothing checked on the hit path


# ------------------------------------------------------------------------------------------------ unkeyable
class Holder:
    def __init__(self, module, k=True):
        self.module = module
        self.k = k


def test_an_unkeyable_closure_object_warns_once_and_stays_off_disk(fresh, device):
    holder = Holder(torch.nn.Linear(4, 4))

    def f(x):
        return ttnn.multiply(x, 3.0) if holder.k else ttnn.add(x, 3.0)

    jf = ttfuse.jit(f)
    x = tensor(device)
    with pytest.warns(
        CacheWarning, match=r"closure variable 'holder'\.module \(a torch\.nn\.modules\.linear\.Linear\)"
    ):
        assert value(jf(x)) == 6.0
    assert entries(fresh) == [] and jf.last_key is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per function
        assert value(jf(x)) == 6.0
        holder.k = False  # the holder's own state is still guarded (only the module's inside is not)
        assert value(jf(x)) == 5.0
        holder.k = True  # back: told apart in memory by the module's identity, so a memory hit
        assert value(jf(x)) == 6.0
    assert entries(fresh) == [] and jf.trace_count == 2
    holder.module = torch.nn.Linear(4, 4)  # another module: a new state, never an entry of the old one
    assert value(jf(x)) == 6.0 and jf.trace_count == 3


def test_a_c_object_without_state_is_unkeyable(fresh, device):
    counter = itertools.count()  # no __dict__, no __slots__: its state is invisible

    def f(x):
        return ttnn.multiply(x, 2.0) if counter else x

    jf = ttfuse.jit(f)
    with pytest.warns(
        CacheWarning, match=r"closure variable 'counter' \(a itertools\.count\) cannot be keyed"
    ):
        assert value(jf(tensor(device))) == 4.0
    assert entries(fresh) == []


def test_the_warning_names_the_function_and_says_not_cached_on_disk(fresh, device):
    holder = Holder(torch.nn.Linear(4, 4))

    def uses_holder(x):
        return ttnn.multiply(x, 3.0) if holder.k else x

    with pytest.warns(CacheWarning) as rec:
        ttfuse.jit(uses_holder)(tensor(device))
    (w,) = [w for w in rec if issubclass(w.category, CacheWarning)]
    msg = str(w.message)
    assert "uses_holder" in msg and "not cached on disk" in msg
    assert Path(w.filename).name == "test_jit_keys.py"  # at the user's call


def test_a_ttnn_tensor_in_a_closure_is_read_on_every_call(fresh, device):
    w = tensor(device)

    def f(x):
        return ttnn.add(x, w)

    jf, x = ttfuse.jit(f), tensor(device)
    assert torch.equal(ttnn.to_torch(jf(x)), ttnn.to_torch(f(x)))
    w = ttnn.from_torch(torch.randn(w.shape), dtype=w.dtype, layout=w.layout, device=device)  # rebound
    assert torch.equal(ttnn.to_torch(jf(x)), ttnn.to_torch(f(x))) and jf.trace_count == 1


def test_many_new_values_of_a_global_warn_once_naming_it(fresh, device):
    global SCALE
    f = ttfuse.jit(reads_global)
    x = tensor(device)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for k in range(10):
                SCALE = float(k)
                assert value(f(x)) == 2.0 * k
                SCALE = 0.0  # back to a known value: a memory hit, not counted
                assert value(f(x)) == 0.0
        msgs = [str(w.message) for w in caught if issubclass(w.category, CacheWarning)]
        assert len(msgs) == 1 and "global 'SCALE' changed between calls 8 times" in msgs[0]
        assert f.trace_count == 10
    finally:
        SCALE = 2.0


SHARDED = ttnn.create_sharded_memory_config((64, 32), ttnn.CoreGrid(y=1, x=2), ttnn.ShardStrategy.HEIGHT)


def reads_sharded_config(x):
    return ttnn.to_memory_config(x, SHARDED)


def test_a_nested_config_in_a_global_is_cached_on_disk(fresh, device):
    x = tensor(device, shape=(64, 32))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ttfuse.jit(reads_sharded_config, passes=[])(x)
    g = ttfuse.jit(reads_sharded_config, passes=[])
    assert g(x).memory_config() == SHARDED and g.trace_count == 0
