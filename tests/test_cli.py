"""Tests of the `ttfuse` command line (ttfuse/cli.py) with click's CliRunner."""

import importlib.util
import json
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from ttfuse import cache, ttnn
from ttfuse.cli import main, parse_duration, parse_spec
from ttfuse.errors import SpecError
from ttfuse.flags import flags as run_flags
from ttfuse.ir import Graph, In, Node, Ref
from ttfuse.types import (
    BufferType,
    DataType,
    Layout,
    TensorMemoryLayout,
)

REPO = Path(__file__).resolve().parents[1]
SPEC = ttnn.TensorSpec((32, 64), ttnn.bfloat16)
HAVE_CODEGEN = importlib.util.find_spec("ttfuse.codegen") is not None


def run(*args):
    # 200 columns whatever the caller's $COLUMNS (tables honour it), so no cell folds under the asserts
    r = CliRunner().invoke(main, list(args), catch_exceptions=False, env={"COLUMNS": "200"})
    return r


def relu_graph(spec=SPEC) -> Graph:
    attrs = (
        ("input_tensor", In(0)),
        ("memory_config", None),
        ("output_tensor", None),
        ("sub_core_grids", None),
    )
    node = Node(id=1, op="relu", inputs=(Ref(0, 0),), attrs=attrs, outs=(spec,))
    return Graph(inputs=(spec,), nodes=[node], outputs=(Ref(1, 0),), out_tree="*", meta={"name": "act"})


def put(function="models.blocks.act", eps=1e-5, spec=SPEC):
    key = cache.make_key({"function": function, "inputs": (spec,), "static": {"eps": eps}})
    e = cache.make_entry(
        key,
        function=function,
        graph=relu_graph(spec).to_json(),
        arg_specs=[spec],
        device="wormhole_b0:n150",
        compile_ms=3.5,
    )
    assert cache.disk_store(key.hex, e)
    return key


# ------------------------------------------------------------------------------------------------- specs
@pytest.mark.parametrize(
    "text,shape,dtype,layout,buf,mem_layout",
    [
        (
            "bf16[32,1024]",
            (32, 1024),
            DataType.BFLOAT16,
            Layout.TILE,
            BufferType.DRAM,
            TensorMemoryLayout.INTERLEAVED,
        ),
        (
            "bfp8[1,128,128]@L1",
            (1, 128, 128),
            DataType.BFLOAT8_B,
            Layout.TILE,
            BufferType.L1,
            TensorMemoryLayout.INTERLEAVED,
        ),
        (
            "f32[4,64]rm",
            (4, 64),
            DataType.FLOAT32,
            Layout.ROW_MAJOR,
            BufferType.DRAM,
            TensorMemoryLayout.INTERLEAVED,
        ),
        (
            "bfloat16[2, 3]rm@l1",
            (2, 3),
            DataType.BFLOAT16,
            Layout.ROW_MAJOR,
            BufferType.L1,
            TensorMemoryLayout.INTERLEAVED,
        ),
        (
            "bfp4[64,64]@DRAM",
            (64, 64),
            DataType.BFLOAT4_B,
            Layout.TILE,
            BufferType.DRAM,
            TensorMemoryLayout.INTERLEAVED,
        ),
        ("i32[7]", (7,), DataType.INT32, Layout.TILE, BufferType.DRAM, TensorMemoryLayout.INTERLEAVED),
        (
            "bf16[256,1024]@L1/height[8x8:32x1024]",
            (256, 1024),
            DataType.BFLOAT16,
            Layout.TILE,
            BufferType.L1,
            TensorMemoryLayout.HEIGHT_SHARDED,
        ),
        (
            "bf16[64,64]@l1/block",
            (64, 64),
            DataType.BFLOAT16,
            Layout.TILE,
            BufferType.L1,
            TensorMemoryLayout.BLOCK_SHARDED,
        ),
    ],
)
def test_parse_spec(text, shape, dtype, layout, buf, mem_layout):
    s = parse_spec(text)
    assert tuple(s.shape) == shape and s.dtype is dtype and s.layout is layout
    assert s.memory_config.buffer_type is buf and s.memory_config.memory_layout is mem_layout
    assert parse_spec(str(s)) == s  # round trip with the IR printer's form


def test_parse_spec_shard_grid():
    s = parse_spec("bf16[256,1024]@L1/height[8x8:32x1024]")
    sh = s.memory_config.shard_spec
    assert sh.shape == (32, 1024) and sh.num_cores() == 64
    assert str(s) == "bf16[256,1024]@L1/height[8x8:32x1024]"


@pytest.mark.parametrize(
    "text,match",
    [
        ("bf16", "expected DTYPE"),
        ("bf17[32,32]", "unknown dtype 'bf17'"),
        ("bf16[32,x]", "expected DTYPE"),
        ("bf16[32,0]", "positive"),
        ("bfp8[32,32]rm", "only in TILE layout"),
        ("bf16[32,32]@L2", "memory 'L2'"),
    ],
)
def test_parse_spec_errors(text, match):
    with pytest.raises(SpecError, match=match):
        parse_spec(text)


@pytest.mark.parametrize(
    "text,s",
    [
        ("30m", 1800),
        ("12h", 43200),
        ("7d", 604800),
        ("1d12h", 129600),
        ("45", 45),
        ("2w", 1209600),
        ("1.5h", 5400),
    ],
)
def test_parse_duration(text, s):
    assert parse_duration(text) == s


# ------------------------------------------------------------------------------------------------- cache
def test_cache_path(fresh):
    r = run("cache", "path")
    assert r.exit_code == 0 and r.output.strip() == str(fresh)


def test_cache_list_empty(fresh):
    r = run("cache", "list")
    assert r.exit_code == 0 and "no cache entries" in r.output


def test_cache_list_table(fresh):
    k1 = put()
    k2 = put("models.blocks.mlp", eps=2.0, spec=SPEC.replace(dtype=ttnn.float32))
    cache.record_hit(k1.hex, 3)
    r = run("cache", "list")
    assert r.exit_code == 0, r.output
    for piece in (
        k1.hex[:12],
        k2.hex[:12],
        "models.blocks.act",
        "models.blocks.mlp",
        "bf16[32,64]@DRAM",
        "f32[32,64]@DRAM",
        "wormhole_b0:n150",
        "hits",
        "age",
        "size",
        "2 entries",
    ):
        assert piece in r.output, piece
    line = next(ln for ln in r.output.splitlines() if k1.hex[:12] in ln)
    assert " 3 " in line


def test_cache_list_filter_and_json(fresh):
    put()
    put("models.blocks.mlp", eps=2.0)
    r = run("cache", "list", "--function", "mlp", "--json")
    rows = json.loads(r.output)
    assert [row["function"] for row in rows] == ["models.blocks.mlp"]


def test_cache_list_shows_corrupt_entries(fresh):
    key = put()
    p = cache.entry_path(key.hex)
    p.write_text(p.read_text()[:40])
    r = run("cache", "list")
    assert r.exit_code == 0 and "corrupt" in r.output and key.hex[:12] in r.output


def test_cache_show(fresh):
    key = put()
    r = run("cache", "show", key.hex[:8])
    assert r.exit_code == 0, r.output
    for piece in (
        key.hex,
        "models.blocks.act",
        "bf16[32,64]@DRAM",
        "3.5 ms",
        "key.inputs",
        "IR",
        "graph act(%0: bf16[32,64]@DRAM):",
        "%1: bf16[32,64]@DRAM = relu %0",
        "return %1",
        "regenerated source",
    ):
        assert piece in r.output, piece
    if HAVE_CODEGEN:
        assert "def " in r.output.split("regenerated source", 1)[1]


def test_cache_show_json(fresh):
    key = put()
    r = run("cache", "show", key.hex, "--json")
    e = json.loads(r.output)
    assert e["key"] == key.hex and Graph.from_json(e["graph"]) == relu_graph()


@pytest.mark.parametrize("which", ["missing", "bad", "ambiguous", "corrupt"])
def test_cache_show_errors(fresh, which):
    keys = [put(eps=float(i)) for i in range(40)]
    arg = {
        "missing": "f" * 20 if not keys[0].hex.startswith("f" * 20) else "0" * 20,
        "bad": "zz",
        "corrupt": keys[0].hex,
    }
    if which == "ambiguous":
        firsts = [k.hex[0] for k in keys]
        arg["ambiguous"] = next(c for c in firsts if firsts.count(c) > 1)
    if which == "corrupt":
        cache.entry_path(keys[0].hex).write_text("{}")
    r = CliRunner().invoke(main, ["cache", "show", arg[which]])
    assert r.exit_code == 1
    msg = {
        "missing": "no cache entry",
        "bad": "not a cache key",
        "ambiguous": "ambiguous",
        "corrupt": "schema",
    }
    assert msg[which] in r.output


def test_cache_stats(fresh):
    put()
    put("models.blocks.mlp", eps=2.0)
    r = run("cache", "stats")
    assert r.exit_code == 0
    for piece in (
        "entries",
        "2",
        str(fresh),
        "models.blocks.mlp: 1",
        "wormhole_b0:n150: 2",
        "disk cache",
        "on",
    ):
        assert piece in r.output, piece
    s = json.loads(run("cache", "stats", "--json").output)
    assert s["entries"] == 2 and s["functions"] == {"models.blocks.act": 1, "models.blocks.mlp": 1}


def test_cache_clear(fresh):
    old, new = put(), put(eps=2.0)
    t = time.time() - 10 * 86400
    os.utime(cache.entry_path(old.hex), (t, t))
    r = run("cache", "clear", "--older-than", "7d")
    assert r.exit_code == 0 and "removed 1 entries older than 7d" in r.output
    assert [e["key"] for e in cache.list_entries()] == [new.hex]
    r = run("cache", "clear")
    assert "removed 1 entries" in r.output and cache.list_entries() == []


def test_cache_clear_bad_duration(fresh):
    r = CliRunner().invoke(main, ["cache", "clear", "--older-than", "soon"])
    assert r.exit_code == 2 and "expected a duration" in r.output


@pytest.mark.slow  # a fresh Python process
def test_python_dash_m(fresh):
    r = subprocess.run(
        [sys.executable, "-m", "ttfuse", "cache", "path"], cwd=REPO, capture_output=True, text=True
    )
    assert r.returncode == 0 and r.stdout.strip() == str(fresh)


# ---------------------------------------------------------------------------------------------- explain
def test_explain_bad_target():
    r = CliRunner().invoke(main, ["explain", "no_such_module_xyz:f", "--args", "bf16[32,32]"])
    assert r.exit_code == 2 and "cannot import" in r.output
    r = CliRunner().invoke(main, ["explain", "nocolon", "--args", "bf16[32,32]"])
    assert r.exit_code == 2 and "MODULE:FUNC" in r.output


def test_explain_bad_spec(tmp_path):
    mod = tmp_path / "explain_bad_spec_mod.py"
    mod.write_text("def f(x):\n    return x\n")
    r = CliRunner().invoke(main, ["explain", f"{mod}:f", "--args", "bf16[32,x]"])
    assert r.exit_code == 2 and "expected DTYPE" in r.output


def test_explain_shows_resnet_block_fusions(tmp_path, fresh):
    """A ResnetBlock2D-like function (group_norm -> silu -> conv2d, + time embedding -> group_norm -> silu -> conv2d
    with a relu epilogue, + x): explain's IR and coverage show kernels.group_norm_act (the second one absorbing the
    time-embedding add) and the conv2d with its activation in Conv2dConfig."""
    mod = tmp_path / "explain_resnet_mod.py"
    mod.write_text(
        textwrap.dedent("""
        from ttfuse import ttnn

        def conv(x, w, b):
            return ttnn.conv2d(
                input_tensor=x, weight_tensor=w, bias_tensor=b, device=None, in_channels=64, out_channels=64,
                batch_size=1, input_height=8, input_width=8, kernel_size=(3, 3), padding=(1, 1),
                conv_config=ttnn.Conv2dConfig(weights_dtype=ttnn.bfloat16),
            )

        def gn(x, w, b, m):
            return ttnn.group_norm(x, num_groups=32, input_mask=m, weight=w, bias=b, epsilon=1e-5, inplace=False)

        def block(x, temb, gw, gb, m, w1, b1, w2, b2):
            h = conv(ttnn.silu(gn(x, gw, gb, m)), w1, b1)
            h = ttnn.relu(conv(ttnn.silu(gn(ttnn.add(h, temb), gw, gb, m)), w2, b2))
            return ttnn.add(x, h)
    """)
    )
    args = ["bf16[1,1,64,64]", "bf16[1,1,1,64]", "bf16[1,1,2,32]rm", "bf16[1,1,2,32]rm", "bf16[1,32,32,32]"]
    args += ["bf16[1,1,576,64]", "bf16[1,1,1,64]"] * 2
    r = CliRunner().invoke(main, ["explain", f"{mod}:block", "--args", *args], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    after = r.output.split("IR after passes", 1)[1].split("generated source", 1)[0]
    assert after.count("= kernels.group_norm_act ") == 2 and "= group_norm " not in after
    assert (
        "= silu " not in after
        and "= relu " not in after
        and "activation=ttnn.UnaryWithParam(ttnn.UnaryOpType.RELU)" in after
    )
    coverage = r.output.split("fusion coverage", 1)[1].split("cost report", 1)[0]
    assert re.search(
        r"kernels\.group_norm_act \(1 launch\) <- %\d+ add, %\d+ group_norm, %\d+ silu", coverage
    )
    assert re.search(r"conv2d \(1 launch\) <- %\d+ conv2d, %\d+ relu", coverage)
    assert "kernel launches per call: eager 9, jit 5" in coverage


def test_explain(tmp_path, fresh):
    mod = tmp_path / "explain_mod.py"
    mod.write_text(
        textwrap.dedent("""
        from ttfuse import ttnn

        def block(x, y, scale=1.0):
            z = ttnn.add(x, y)
            dead = ttnn.exp(z)
            return ttnn.relu(ttnn.multiply(z, scale))
    """)
    )
    r = CliRunner().invoke(
        main,
        ["explain", f"{mod}:block", "--args", "bf16[32,64]", "bf16[32,64]@L1", "--kw", "scale=2.0"],
        catch_exceptions=False,
    )
    assert r.exit_code == 0, r.output
    for piece in (
        "IR before passes",
        "IR after passes",
        "generated source",
        "cost report",
        "cache key",
        "bf16[32,64]@DRAM",
        "bf16[32,64]@L1",
        "add",
        "relu",
        "def ",
    ):
        assert piece in r.output, piece
    before = r.output.split("IR before passes", 1)[1].split("IR after passes", 1)[0]
    after = r.output.split("IR after passes", 1)[1].split("generated source", 1)[0]
    assert "= exp %" in before and "= exp %" not in after  # dce ran
    # the fusion coverage report (Lowered.coverage): what went into which kernel, what was removed and why
    coverage = r.output.split("fusion coverage", 1)[1].split("cost report", 1)[0]
    assert "coverage of explain_mod.block: 4 traced ops" in coverage
    assert "fused   %7 kernels.eltwise (1 launch) <- %2 add, %4 multiply, %5 relu" in coverage
    assert "removed %3 exp (explain_mod.py:6) [dce]" in coverage


def test_explain_shows_fused_kernel_step_configs(tmp_path, fresh):
    """`ttfuse explain` lists the program config of every step of a fused kernel (issue 20): the Boltz Transition's
    layer_norm, SwiGLU minimal_matmul and output linear, each named by its step."""
    mod = tmp_path / "explain_transition_mod.py"
    mod.write_text(
        textwrap.dedent("""
        from ttfuse import ttnn

        def transition(x, g, b, w1, w2, w3):
            h = ttnn.layer_norm(x, epsilon=1e-5, weight=g, bias=b)
            return ttnn.linear(ttnn.multiply(ttnn.linear(h, w1, activation="silu"), ttnn.linear(h, w2)), w3)
    """)
    )
    args = ["bf16[1,1,2048,128]", "bf16[128]", "bf16[128]", "bf16[128,512]", "bf16[128,512]", "bf16[512,128]"]
    r = CliRunner().invoke(main, ["explain", f"{mod}:transition", "--args", *args], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    section = r.output.split("program configs (per op; fused kernels per step)", 1)[1].split(
        "fusion coverage", 1
    )[0]
    assert "transition.norm = ttnn.layer_norm(" in section and "LayerNormDefaultProgramConfig(" in section
    assert "transition.w_in = ttnn.experimental.minimal_matmul([1,1,2048,128], [128,1024]): " in section
    assert "MinimalMatmulConfig(" in section and "compute_with_storage_grid_size=(8, 8)" in section
    assert (
        "transition.w_out = ttnn.linear([1,1,2048,512], [512,128]): MatmulMultiCoreReuseMultiCast" in section
    )
    assert section.count("[by select_configs]") == 3


def test_explain_user_error_is_a_message(tmp_path):
    mod = tmp_path / "explain_err_mod.py"
    mod.write_text("from ttfuse import ttnn\n\ndef f(x, y):\n    return ttnn.add(x, y)\n")
    r = CliRunner().invoke(main, ["explain", f"{mod}:f", "--args", "bf16[32,64]", "bf16[64,64]"])
    assert r.exit_code == 1 and "ttnn.add" in r.output and "explain_err_mod.py:4" in r.output
    r = CliRunner().invoke(main, ["explain", f"{mod}:f", "--args", "bf16[32,64]"])
    assert r.exit_code == 1 and "missing a required argument: 'y'" in r.output


# ----------------------------------------------------------------------------------------------------- runs
RUN_SCRIPT = textwrap.dedent(
    """
    import sys

    import torch

    from ttfuse import cache, ttnn
    from ttfuse.jit import jit


    @jit
    def act(x):
        return ttnn.relu(x)


    dev = ttnn.open_device(device_id=0)
    for rows in map(int, sys.argv[1:]):
        act(ttnn.from_torch(torch.randn(rows, 64), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=dev))
    print(cache.run_id())
    """
)


def _specs(rows: list[dict]) -> set[str]:
    return {s for r in rows for s in r["arg_specs"]}


@pytest.mark.slow  # two fresh Python processes
def test_two_runs_write_entries_and_list_filters_by_run(fresh, tmp_path):
    """Two processes compile into one store; each entry carries its process's run id; `--run ID` returns only
    that run's entries, `--run last` the newest run's; `list` shows the run; `stats --by run` counts per run."""
    script = tmp_path / "two_runs.py"
    script.write_text(RUN_SCRIPT)
    env = {k: v for k, v in os.environ.items() if k != "TTFUSE_RUN_ID"}  # the default id: start time + pid
    ids = []
    for rows in (["32", "64"], ["96"]):
        r = subprocess.run(
            [sys.executable, str(script), *rows], env=env, capture_output=True, text=True, timeout=600
        )
        assert r.returncode == 0, r.stderr
        ids.append(r.stdout.split()[-1])
    first, second = ids
    assert first != second and all(re.fullmatch(r"\d{8}-\d{6}-\d+", i) for i in ids), ids
    rows = json.loads(run("cache", "list", "--json").output)
    assert sorted(r["run"] for r in rows) == sorted([first, first, second])
    for rid, want in (
        (first, {"bf16[32,64]@DRAM", "bf16[64,64]@DRAM"}),
        (second, {"bf16[96,64]@DRAM"}),
        ("last", {"bf16[96,64]@DRAM"}),
    ):
        r = run("cache", "list", "--run", rid, "--json")
        assert r.exit_code == 0, r.output
        assert _specs(json.loads(r.output)) == want, rid
    table = run("cache", "list").output
    assert second in next(ln for ln in table.splitlines() if "bf16[96,64]@DRAM" in ln)
    assert first in next(ln for ln in table.splitlines() if "bf16[32,64]@DRAM" in ln)
    assert "of run " + second in run("cache", "list", "--run", "last").output

    s = json.loads(run("cache", "stats", "--json").output)
    assert {k: v["entries"] for k, v in s["runs"].items()} == {first: 2, second: 1}
    assert list(s["runs"]) == [second, first]  # newest first
    s = json.loads(run("cache", "stats", "--run", first, "--json").output)
    assert s["entries"] == 2 and s["run"] == first and list(s["runs"]) == [first]
    text = run("cache", "stats", "--by", "run").output
    assert "entries by run" in text
    assert re.search(rf"{first}[\s│]+2[\s│]", text) and re.search(rf"{second}[\s│]+1[\s│]", text), text

    r = CliRunner().invoke(main, ["cache", "list", "--run", "20000101-000000-1"])
    assert r.exit_code == 1 and "no cache entries of run '20000101-000000-1'" in r.output


def test_entry_without_a_run_id_is_run_dash(fresh):
    """An entry written before run ids existed stays readable (envelope and schema), lists as run "-" and is
    selected by `--run -`; `--run last` is the newest entry's run."""
    old = put()
    p = cache.entry_path(old.hex)
    e = json.loads(p.read_text())
    assert e["run"] == cache.run_id()
    del e["run"]
    e.pop("checksum")
    e["checksum"] = cache._checksum(e)
    p.write_text(json.dumps(e))
    from ttfuse.cache_schema import check_entry

    check_entry(cache.read_entry(p, old.hex))
    os.utime(p, (time.time() - 60, time.time() - 60))
    with run_flags(run_id="run-b"):
        new = put(eps=2.0)
    rows = {r["key"]: r for r in json.loads(run("cache", "list", "--json").output)}
    assert rows[old.hex]["run"] == "-" and rows[new.hex]["run"] == "run-b"
    assert rows[old.hex]["status"] == rows[new.hex]["status"] == "ok"
    assert [r["key"] for r in json.loads(run("cache", "list", "--run", "-", "--json").output)] == [old.hex]
    assert [r["key"] for r in json.loads(run("cache", "list", "--run", "last", "--json").output)] == [new.hex]
    line = next(ln for ln in run("cache", "list").output.splitlines() if old.hex[:12] in ln)
    assert " - " in line
    assert "run " in run("cache", "show", old.hex[:10]).output


def test_run_id_from_the_environment(fresh, monkeypatch):
    monkeypatch.setenv("TTFUSE_RUN_ID", "nightly-42")
    key = put()
    assert cache.read_entry(cache.entry_path(key.hex), key.hex)["run"] == "nightly-42"
    monkeypatch.setenv("TTFUSE_RUN_ID", "../x [red]y")  # not an id: warned, the process's own id is used
    with pytest.warns(RuntimeWarning, match="ignoring TTFUSE_RUN_ID"):
        rid = cache.run_id()
    assert re.fullmatch(r"\d{8}-\d{6}-\d+", rid)


def test_a_bad_run_id_in_an_entry_is_corrupt(fresh):
    """The run id is data the CLI prints: an edited one (markup, a line break, not a string) is a corrupt
    entry, even with its checksum recomputed."""
    for bad in ("[red]x", "a\nb", 5, ""):
        key = put(eps=float(len(str(bad))))
        p = cache.entry_path(key.hex)
        e = json.loads(p.read_text())
        e["run"] = bad
        e.pop("checksum")
        e["checksum"] = cache._checksum(e)
        p.write_text(json.dumps(e))
        with pytest.raises(cache.CacheError, match="run"):
            cache.read_entry(p, key.hex)
        p.unlink()


def test_bench_publishes_under_its_own_run_id(fresh):
    """The bench's workers compile; the bench process publishes their entries stamped with its own run id."""
    from bench.harness import _publish

    key = put()
    e = dict(cache.read_entry(cache.entry_path(key.hex), key.hex), run="worker-1")
    with run_flags(run_id="bench-run-1"):
        assert _publish([(key.hex, e)]) == 1
    rows = json.loads(run("cache", "-n", "bench", "list", "--json").output)
    assert [r["run"] for r in rows] == ["bench-run-1"]


def test_cache_list_and_stats_fit_100_columns(fresh):
    """At COLUMNS=100 the list keeps every entry on its lines within 100 columns: a column that holds one value
    in every row (the device, the run) moves into the title; the stats tables fit too."""
    keys = [
        put(f"models.boltz.layers.triangular_mult.TriangleMultiplicationOutgoing{i}.forward", eps=float(i))
        for i in range(3)
    ]
    for args in (
        ["cache", "list"],
        ["cache", "stats", "--by", "run"],
        ["cache", "stats", "--by", "function"],
    ):
        r = CliRunner().invoke(main, args, env={"COLUMNS": "100"})
        assert r.exit_code == 0, r.output
        lines = r.output.splitlines()
        assert max(len(ln.rstrip()) for ln in lines) <= 100, (args, r.output)
        assert "…" not in r.output
    r = CliRunner().invoke(main, ["cache", "list"], env={"COLUMNS": "100"})
    assert all(k.hex[:12] in r.output for k in keys)
    title = " ".join(r.output.split("\n\n")[0].split())  # the title may wrap
    assert f"; run {cache.run_id()}; device wormhole_b0:n150" in title, r.output
    header = next(ln for ln in r.output.splitlines() if ln.lstrip().startswith("key"))
    assert "device" not in header and "run" not in header and "function" in header
    wide = CliRunner().invoke(main, ["cache", "list"], env={"COLUMNS": "200"}).output
    header = next(ln for ln in wide.splitlines() if ln.lstrip().startswith("key"))
    assert "device" in header and "run" in header  # room enough: every column
