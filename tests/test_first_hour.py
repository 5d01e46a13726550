"""What a new user meets in the first hour (issue 19): debug level 1 logs cache hits, every warning points at the
user's line, a bad call of a jit function is a ttfuse error naming the function and the argument, and a bad
device kind names where it came from.

Each test checks the user-visible text or location, so it fails when the behaviour regresses.
"""

import importlib
import os
import re
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import ttfuse
from ttfuse import cache, ttnn
from ttfuse.cache import CacheWarning
from ttfuse.cli import main
from ttfuse.errors import DeviceError, TraceError, TtfuseError

REPO = Path(__file__).resolve().parents[1]
# the module (the package attribute `ttfuse.flags` is the `flags(...)` context manager)
flags_mod = importlib.import_module("ttfuse.flags")


pytestmark = pytest.mark.usefixtures("fresh")  # an empty compile cache per test (tests/conftest.py)


def tensor(dev, rows=32, cols=64):
    return ttnn.from_torch(torch.randn(rows, cols), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=dev)


def block(x):
    return ttnn.relu(x)


def block_kw(x, y, *, scale=1.0):
    return ttnn.multiply(ttnn.add(x, y), scale)


# ------------------------------------------------------------------------------------ 1. TTFUSE_DEBUG=1 hits
def test_debug_1_logs_memory_and_disk_hits(device, capsys):
    x = tensor(device)
    with flags_mod.flags(debug=1):
        jf = ttfuse.jit(block)
        jf(x)  # miss
        capsys.readouterr()
        jf(x)  # memory hit
        err = capsys.readouterr().err
        assert re.search(r"jit .*block: memory hit \(bf16\[32,64\]@DRAM\)", err), err
        ttfuse.jit(block)(x)  # a new jit object: the disk entry
        assert re.search(r"jit .*block: disk hit [0-9a-f]+", capsys.readouterr().err)
    assert cache.counters.hit == 2 and cache.counters.miss == 1


def test_debug_1_from_the_environment_logs_hits(device, capsys, monkeypatch):
    monkeypatch.setenv("TTFUSE_DEBUG", "1")
    x = tensor(device)
    jf = ttfuse.jit(block)
    jf(x)  # a miss reads the level (and keeps the hit path's hint current)
    capsys.readouterr()
    jf(x)
    assert "memory hit" in capsys.readouterr().err
    monkeypatch.setenv("TTFUSE_DEBUG", "0")
    jf(tensor(device, 64))  # a miss: reads the level again
    capsys.readouterr()
    jf(x)
    assert capsys.readouterr().err == ""


def test_debug_0_hits_print_nothing_and_read_no_flag(device, capsys, monkeypatch):
    """The hit path's fast check: at level 0 a hit neither logs nor reads a flag (its cost stays a bool test)."""
    x = tensor(device)
    jf = ttfuse.jit(block)
    jf(x)
    assert flags_mod.DEBUG_WATCH[0] is False
    reads = []
    real = flags_mod.get_flag
    for mod in (importlib.import_module("ttfuse.jit"), flags_mod):
        monkeypatch.setattr(mod, "get_flag", lambda name: reads.append(name) or real(name))
    capsys.readouterr()
    for _ in range(3):
        jf(x)
    assert cache.counters.hit == 3 and reads == [] and capsys.readouterr().err == ""


def test_the_hint_follows_flags_blocks_and_a_level_0_override_stays_quiet(device, capsys):
    x = tensor(device)
    jf = ttfuse.jit(block)
    jf(x)
    with flags_mod.flags(debug=1):
        assert flags_mod.DEBUG_WATCH[0] is True
        with flags_mod.flags(debug=0):  # the hint is on, but this context's level is 0: nothing printed
            capsys.readouterr()
            jf(x)
            assert capsys.readouterr().err == ""
    assert flags_mod.DEBUG_WATCH[0] is False
    jf(x)
    assert capsys.readouterr().err == ""


# ------------------------------------------------------------------------------ 2. warnings at the user's line
def _assert_at(rec, category, line: int) -> None:
    ws = [w for w in rec if issubclass(w.category, category)]
    assert ws, [str(w.message) for w in rec]
    for w in ws:
        assert (w.filename, w.lineno) == (__file__, line), (w.filename, w.lineno, str(w.message))


def test_no_warnings_warn_outside_the_helper():
    """Every warning goes through ttfuse.errors.warn, which finds the user's frame."""
    offenders = []
    for p in (REPO / "ttfuse").rglob("*.py"):
        if p.name == "errors.py" and p.parent.name == "ttfuse":
            continue
        for i, text in enumerate(p.read_text().splitlines(), 1):
            if re.search(r"\bwarnings\.warn(_explicit)?\(", text):
                offenders.append(f"{p.relative_to(REPO)}:{i}")
    assert offenders == []


class MutableCfg:  # eq without hash: unhashable, keyed by identity with a CacheWarning
    def __init__(self, k):
        self.k = k

    def __eq__(self, other):
        return isinstance(other, MutableCfg) and other.k == self.k

    __hash__ = None


def scaled(x, cfg):
    return ttnn.multiply(x, cfg.k)


def relu_scaled(x, *, scale=1.0):
    return ttnn.multiply(ttnn.relu(x), scale)


def test_explain_cache_misses_reads_as_spec_text(device, capsys):
    """TTFUSE_EXPLAIN_CACHE_MISSES=1: each change reads as the argument and its spec text or value, both sides
    (not the canonical JSON of the key, cut before the part that differs)."""
    x, wide = tensor(device), tensor(device, 32, 128)
    with flags_mod.flags(explain_cache_misses=True):
        jf = ttfuse.jit(relu_scaled)
        jf(x, scale=1.0)
        assert "first compile" in capsys.readouterr().err
        jf(wide, scale=1.0)
        err = capsys.readouterr().err
        assert "'inputs' changed (1 of 8 key fields" in err, err
        assert "\n  arg x: bf16[32,64]@DRAM -> bf16[32,128]@DRAM\n" in err, err
        jf(wide, scale=2.0)
        err = capsys.readouterr().err
        assert "'static' changed" in err and "\n  arg scale: 1.0 -> 2.0\n" in err, err
        jf(wide)  # the keyword left out: the static value and the call's shape change
        err = capsys.readouterr().err
        assert "arg scale: 2.0 -> (not passed)" in err and "call: (T, scale=S) -> (T)" in err, err
    assert "$obj" not in err and '{"' not in err


def test_cache_warning_of_the_jit_points_at_the_call(device):
    jf, x = ttfuse.jit(scaled), tensor(device)
    with pytest.warns(CacheWarning, match="unhashable") as rec:
        line = sys._getframe().f_lineno + 1
        jf(x, MutableCfg(2.0))
    _assert_at(rec, CacheWarning, line)


def test_damaged_disk_entry_warning_points_at_the_call(device, fresh):
    x = tensor(device)
    ttfuse.jit(block)(x)
    (path,) = [p for p in Path(fresh).rglob("*.json")]
    path.write_text('{"schema": 1, "key": ')
    jf = ttfuse.jit(block)
    with pytest.warns(CacheWarning, match="recompiling") as rec:
        line = sys._getframe().f_lineno + 1
        jf(x)
    _assert_at(rec, CacheWarning, line)


def test_failed_disk_write_warning_points_at_the_call(device, monkeypatch):
    def no_space(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", no_space)
    jf, x = ttfuse.jit(block), tensor(device)
    with pytest.warns(CacheWarning, match="could not write") as rec:
        line = sys._getframe().f_lineno + 1
        jf(x)
    _assert_at(rec, CacheWarning, line)


def test_same_tensor_twice_warning_points_at_the_call(device):
    def f(a, b):
        ttnn.add_(a, 1.0)
        return ttnn.multiply(b, 2.0)

    jf = ttfuse.jit(f)
    jf(tensor(device), tensor(device))
    x = tensor(device)
    with pytest.warns(CacheWarning, match="same tensor") as rec:
        line = sys._getframe().f_lineno + 1
        jf(x, x)
    _assert_at(rec, CacheWarning, line)


def test_fallback_warning_points_at_the_call(device):
    def f(x):
        return ttnn.relu(x), ttnn.to_torch(x)  # a host tensor as a result does not compile

    jf = ttfuse.jit(f, fallback=True)
    with pytest.warns(RuntimeWarning, match="running eagerly instead") as rec:
        line = sys._getframe().f_lineno + 1
        jf(tensor(device))
    _assert_at(rec, RuntimeWarning, line)
    assert jf.fallback_used


def test_bad_environment_flag_warning_points_at_the_call(device, monkeypatch):
    monkeypatch.setenv("TTFUSE_DEBUG", f"loud-{os.getpid()}-{id(monkeypatch)}")  # a value never parsed before
    jf = ttfuse.jit(block)
    with pytest.warns(RuntimeWarning, match="TTFUSE_DEBUG") as rec:
        line = sys._getframe().f_lineno + 1
        jf(tensor(device))
    _assert_at(rec, RuntimeWarning, line)


# ----------------------------------------------------------------------------------------- 3. bad calls
def test_unknown_keyword_is_a_ttfuse_type_error_naming_all(device):
    jf, x = ttfuse.jit(block_kw), tensor(device)
    for warm in (False, True):  # before the first compile and on the hit path's miss
        if warm:
            jf(x, x)
        with pytest.raises(ttfuse.ArgumentError) as e:
            line = sys._getframe().f_lineno + 1
            jf(x, x, sclae=2.0)
        err = e.value
        assert isinstance(err, TypeError) and isinstance(err, TraceError) and isinstance(err, TtfuseError)
        msg = str(err)
        assert "block_kw(x, y, *, scale=1.0)" in msg and "'sclae'" in msg
        assert "its parameters: 'x', 'y', 'scale'; did you mean 'scale'?" in msg
        assert msg.rstrip().endswith(f"test_first_hour.py:{line} in {sys._getframe().f_code.co_name}")


@pytest.mark.parametrize(
    "args, kwargs, text",
    [
        (1, {}, "missing a required argument: 'y'"),
        (3, {}, "too many positional arguments"),
        (2, {"y": None}, "multiple values for argument 'y'"),
    ],
)
def test_missing_and_extra_arguments_are_argument_errors(device, args, kwargs, text):
    x = tensor(device)
    with pytest.raises(TypeError, match=re.escape(text)) as e:
        ttfuse.jit(block_kw)(*([x] * args), **kwargs)
    assert type(e.value) is ttfuse.ArgumentError and "block_kw(x, y, *, scale=1.0)" in str(e.value)


def test_fallback_does_not_hide_a_bad_call(device):
    jf = ttfuse.jit(block_kw, fallback=True)
    with pytest.raises(ttfuse.ArgumentError, match="sclae"):
        jf(tensor(device), tensor(device), sclae=2.0)
    assert not jf.fallback_used


def test_a_method_names_its_parameters(device):
    class Layer:
        @ttfuse.jit
        def forward(self, x, *, eps=1e-5):
            return ttnn.relu(x)

    with pytest.raises(
        ttfuse.ArgumentError, match=r"forward\(self, x, \*, eps=1e-05\): got an unexpected keyword .*'esp'"
    ):
        Layer().forward(tensor(device), esp=1e-6)


# -------------------------------------------------------------------------------------- 4. bad device kinds
BLK = "from ttfuse import ttnn\n\ndef block(x):\n    return ttnn.relu(x)\n"


def test_explain_bad_arch_option_names_the_option_not_the_env(tmp_path, monkeypatch):
    monkeypatch.delenv("TTFUSE_ARCH", raising=False)
    (tmp_path / "blk.py").write_text(BLK)
    r = CliRunner().invoke(
        main, ["explain", f"{tmp_path}/blk.py:block", "--args", "bf16[32,64]", "--arch", "grayskull"]
    )
    assert r.exit_code == 2, r.output
    assert "--arch" in r.output and "from the --arch option" in r.output and "TTFUSE_ARCH" not in r.output
    for kind in ("wormhole_b0:n150", "wormhole_b0:n300", "blackhole:p150:13x10", "blackhole:p100:11x10"):
        assert kind in r.output
    assert "TTFUSE_ARCH" not in os.environ  # the option was not passed on


def test_explain_bad_environment_arch_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("TTFUSE_ARCH", "grayskull")
    (tmp_path / "blk.py").write_text(BLK)
    r = CliRunner().invoke(main, ["explain", f"{tmp_path}/blk.py:block", "--args", "bf16[32,64]"])
    assert r.exit_code != 0
    assert "from the environment variable TTFUSE_ARCH" in r.output and "valid kinds:" in r.output


def test_bench_bad_arch_is_a_usage_error(monkeypatch):
    monkeypatch.delenv("TTFUSE_ARCH", raising=False)
    r = CliRunner().invoke(main, ["bench", "--quick", "--case", "chain.silu_mul_add", "--arch", "grayskull"])
    assert r.exit_code == 2, r.output
    assert "from the --arch option" in r.output and "blackhole:p150:13x10" in r.output


def test_open_device_bad_arch_names_the_argument_and_line(monkeypatch):
    monkeypatch.setenv("TTFUSE_ARCH", "blackhole")  # valid: must not be blamed
    with pytest.raises(DeviceError) as e:
        line = sys._getframe().f_lineno + 1
        ttnn.open_device(device_id=0, arch="grayskull")
    msg = str(e.value)
    assert "from ttnn.open_device(arch='grayskull')" in msg and "TTFUSE_ARCH" not in msg
    assert "valid kinds: " in msg and f"test_first_hour.py:{line}" in msg


# -------------------------------------------------------------------------------- 5. predicted.png's legend
def test_predicted_png_legend_shows_each_panels_jit_colour(tmp_path, monkeypatch):
    """One panel per arch, each with its own JIT colour: the shared legend names them all (it showed one)."""
    import matplotlib.figure

    from bench import report

    legends = []
    real = matplotlib.figure.Figure.legend
    monkeypatch.setattr(
        matplotlib.figure.Figure,
        "legend",
        lambda self, handles, names, **kw: legends.append(list(names)) or real(self, handles, names, **kw),
    )
    rows = [
        dict(case="chain.x", size=512, arch=a, speedup=1.5, predicted_us_eager=40.0, predicted_us_jit=20.0)
        for a in ("wormhole_b0:n150", "blackhole:p150")
    ]
    paths = report.write_plots({"cases": rows, "archs": [r["arch"] for r in rows]}, tmp_path)
    assert Path(paths["predicted_png"]).stat().st_size > 0
    assert legends[-1] == ["eager", "JIT (wormhole_b0:n150)", "JIT (blackhole:p150)"]
