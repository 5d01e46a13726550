"""Codegen: golden sources of representative functions, determinism, literals vs globals, release after last
use, linecache registration, runtime errors mapped back to the IR node and the user's line.

Goldens are pinned to pass lists (GOLDEN_PASSES), so they change with codegen and the pinned passes only, not
with every config or placement decision of the later passes: `dce` alone (the graph as traced) and
`dce,cleanup,fuse` (fused kernels, fused norm + residual) for the functions the fuse pass rewrites.
"""

from __future__ import annotations

import importlib.util
import json
import linecache
import os
import pathlib
import traceback

import pytest
import torch

import ttfuse
from ttfuse import ttnn
from ttfuse.codegen import generate
from ttfuse.errors import CodegenError, DeviceError
from ttfuse.ir import Graph
from ttfuse.testing import pcc

GOLDEN = pathlib.Path(__file__).parent / "golden"
S = ttnn.TensorSpec
BF16 = ttnn.bfloat16
TRACED = ["dce"]  # the graph as traced (minus dead code): codegen of plain ttnn calls, op for op
FUSED = ["dce", "cleanup", "fuse"]  # plus fusion: kernels.* calls, multi-output kernels, fused epilogues
# golden file stem -> (case, passes)
GOLDEN_PASSES = {
    "mlp_block": ("mlp_block", TRACED),
    "attention": ("attention", TRACED),
    "sharded_pytree": ("sharded_pytree", TRACED),
    "mlp_block.fused": ("mlp_block", FUSED),
    "sharded_pytree.fused": ("sharded_pytree", FUSED),
}


def _golden_fns():
    spec = importlib.util.spec_from_file_location("golden_fns", GOLDEN / "golden_fns.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


G = _golden_fns()


def dev_t(device, shape=(32, 64)):
    return ttnn.from_torch(torch.randn(shape), dtype=BF16, layout=ttnn.TILE_LAYOUT, device=device)


def _cases(device):
    x, w, b = S((64, 128), BF16), S((128, 128), BF16), S((1, 128), BF16)
    return {
        "mlp_block": (G.mlp_block, (x, w, b, w, b), {}),
        "attention": (G.attention, (S((1, 64, 192), BF16), S((1, 1, 64, 64), BF16)), {"heads": 2}),
        "sharded_pytree": (
            G.sharded_pytree,
            ({"scale": 0.5}, [S((256, 64), BF16), S((256, 64), BF16)], device),
            {},
        ),
    }


@pytest.fixture(autouse=True)
def _wormhole(monkeypatch):
    monkeypatch.setenv("TTFUSE_ARCH", "wormhole_b0")  # lower() on specs targets $TTFUSE_ARCH


@pytest.mark.parametrize("name", list(GOLDEN_PASSES))
def test_golden_source(name, device):
    case, passes = GOLDEN_PASSES[name]
    fn, args, kwargs = _cases(device)[case]
    src = ttfuse.jit(passes=passes)(fn).lower(*args, **kwargs).source
    path = GOLDEN / f"{name}.py.txt"
    if os.environ.get("TTFUSE_UPDATE_GOLDEN") == "1":
        path.write_text(src)
    assert src == path.read_text(), f"generated code for {name} changed; diff with {path}"


def test_golden_sources_run_and_match_eager(device):
    """The traced goldens compute exactly what eager computes; the fused ones too where fusion re-rounds
    nothing (x * 0.5, clamp and + 0 are exact), else to bfloat16 accuracy (the fused layer_norm + residual)."""
    torch.manual_seed(0)
    x, w, b = dev_t(device, (64, 128)), dev_t(device, (128, 128)), dev_t(device, (1, 128))
    ref = G.mlp_block(x, w, b, w, b)
    out = ttfuse.jit(passes=TRACED)(G.mlp_block)(x, w, b, w, b)
    assert out.spec == ref.spec and torch.equal(ttnn.to_torch(out), ttnn.to_torch(ref))
    out = ttfuse.jit(passes=FUSED)(G.mlp_block)(x, w, b, w, b)
    assert out.spec == ref.spec and pcc(ttnn.to_torch(out).float(), ttnn.to_torch(ref).float()) > 0.9999
    xs = [dev_t(device, (256, 64)), dev_t(device, (256, 64))]
    ref = G.sharded_pytree({"scale": 0.5}, xs, device)
    for passes in (TRACED, FUSED):
        out = ttfuse.jit(passes=passes)(G.sharded_pytree)({"scale": 0.5}, xs, device)
        assert set(out) == {"out", "parts"} and out["parts"].shape == (128, 64)
        for k in out:
            assert out[k].spec == ref[k].spec and torch.equal(ttnn.to_torch(out[k]), ttnn.to_torch(ref[k]))


def test_deterministic_and_regenerated_from_json_identically(device):
    fn, args, kwargs = _cases(device)["sharded_pytree"]
    a = ttfuse.jit(fn).lower(*args, **kwargs)
    b = ttfuse.jit(fn).lower(*args, **kwargs)
    assert a.source == b.source and a.compiled.filename == b.compiled.filename
    back = Graph.from_json(json.loads(json.dumps(a.graph.to_json())))
    c = generate(back, name="sharded_pytree")
    assert c.source == a.source


def test_literals_inline_and_globals_for_other_objects(device):
    fn, args, kwargs = _cases(device)["sharded_pytree"]
    low = ttfuse.jit(passes=TRACED)(fn).lower(*args, **kwargs)
    src = low.source
    assert "ttnn.DRAM_MEMORY_CONFIG" in src and "dtype=ttnn.bfloat16" in src and "float('-inf')" in src
    assert "device=_dev" in src and "_dev = _ttfuse_device(v0, v1)" in src
    assert (
        "shard_spec=ttnn.ShardSpec(ttnn.CoreRangeSet({ttnn.CoreRange(ttnn.CoreCoord(0, 0), "
        "ttnn.CoreCoord(3, 0))}), (64, 64), ttnn.ShardOrientation.ROW_MAJOR)"
    ) in src
    assert not any(k.startswith("_c") for k in low.compiled.globals)
    # an object whose repr does not evaluate back to it becomes a global, shown in a header comment
    sem = ttnn.create_global_semaphore(device, None, 0)
    low = ttfuse.jit(
        lambda x: ttnn.experimental.all_gather_async(x, dim=1, multi_device_global_semaphore=[sem])
    ).lower(S((32, 32), BF16))
    assert "multi_device_global_semaphore=[_c0]" in low.source
    assert (
        "# _c0 = ttnn.GlobalSemaphore(initial_value=0)" in low.source and low.compiled.globals["_c0"] is sem
    )
    mlp = ttfuse.jit(passes=TRACED)(G.mlp_block).lower(*_cases(device)["mlp_block"][1]).source
    assert (
        "compute_kernel_config=ttnn.WormholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.HiFi4, "
        "fp32_dest_acc_en=True))"
    ) in mlp
    # what the passes add (kernel programs, program configs, placements) prints as literals too
    for name in ("mlp_block", "attention", "sharded_pytree"):
        fn, args, kwargs = _cases(device)[name]
        low = ttfuse.jit(fn).lower(*args, **kwargs)
        assert not any(k.startswith("_c") for k in low.compiled.globals), (name, low.source)
        assert "program_config=ttnn." in low.source or name == "sharded_pytree"


def test_values_released_after_last_use(device):
    fn, args, kwargs = _cases(device)["mlp_block"]
    src = ttfuse.jit(passes=TRACED)(fn).lower(*args, **kwargs).source
    lines = [ln.strip() for ln in src.split("\n")]
    # the first linear's inputs b1 (v2) die with it; x (v0) lives until the residual add
    i = next(k for k, ln in enumerate(lines) if ln.startswith("v5 = ttnn.linear(v0, v1, bias=v2"))
    assert lines[i + 1] == "del v1, v2"
    j = next(k for k, ln in enumerate(lines) if ln.startswith("v7 = ttnn.add(v0, v6)"))
    assert lines[j + 1] == "del v0, v6"
    assert lines[-4] == "return (v8,)"


def test_line_map_and_linecache(device):
    fn, args, kwargs = _cases(device)["mlp_block"]
    c = ttfuse.jit(fn).lower(*args, **kwargs).compiled
    assert c.filename.startswith("<ttfuse-gen mlp_block-")
    src_lines = c.source.split("\n")
    for lineno, nid in c.line_map.items():
        assert linecache.getline(c.filename, lineno).rstrip("\n") == src_lines[lineno - 1]
        assert f"# %{nid} golden_fns.py:" in src_lines[lineno - 1]
    assert sorted(c.line_map.values()) == [n.id for n in c.graph.nodes]


def test_runtime_error_names_node_and_user_line(device):
    def f(x, y):
        a = ttnn.relu(x)
        return ttnn.add(a, y)  # the failing op

    x, y = dev_t(device), dev_t(device)
    jf = ttfuse.jit(passes=TRACED)(f)
    jf(x, y)  # compile
    ttnn.deallocate(y)
    with pytest.raises(CodegenError) as e:
        jf(x, y)  # hit: the generated code runs on a deallocated input
    err = e.value
    assert isinstance(err, DeviceError)  # still catchable as the original error class
    msg = str(err)
    assert "DeviceError: ttnn.add: argument 'input_tensor_b' was deallocated" in msg
    assert "while executing %3: bf16[32,64]@DRAM = add %2 %1" in msg
    line = f.__code__.co_firstlineno + 2
    assert f"test_codegen.py:{line} in f" in msg
    assert "in generated code <ttfuse-gen f-" in msg
    assert err.node_id == 3 and err.user_frame[1] == line
    tb = "".join(traceback.format_exception(err.original))
    assert "v3 = ttnn.add(v2, v1)  # %3 test_codegen.py:" in tb  # generated line shown via linecache


def test_runtime_error_in_a_fused_node_names_it_and_the_user_line(device):
    def f(x, y):
        a = ttnn.relu(x)
        return ttnn.add(a, y)  # relu fused into the add as an input activation

    x, y = dev_t(device), dev_t(device)
    jf = ttfuse.jit(f)
    (node,) = jf.lower(x, y).graph.nodes
    assert node.side.replaced == ("relu", "add")
    jf(x, y)
    ttnn.deallocate(y)
    with pytest.raises(CodegenError) as e:
        jf(x, y)
    msg, line = str(e.value), f.__code__.co_firstlineno + 2
    assert f"while executing %{node.id}: bf16[32,64]@DRAM = {node.op} %0 %1" in msg
    assert f"test_codegen.py:{line} in f" in msg and e.value.node_id == node.id


def test_ops_not_on_the_facade_become_globals(device, monkeypatch):
    low = ttfuse.jit(lambda x: ttnn.relu(x)).lower(S((32, 32), BF16))
    monkeypatch.delattr(ttnn, "relu")
    c = generate(low.graph, name="g")
    assert "v1 = _op_relu(v0)" in c.source and c.globals["_op_relu"].name == "relu"


def test_bad_backends():
    g = ttfuse.jit(lambda x: ttnn.relu(x)).lower(S((32, 32), BF16)).graph
    with pytest.raises(CodegenError, match="unknown codegen backend 'cuda'"):
        generate(g, backend="cuda")
    try:
        import ttnn as _real  # noqa: F401
    except ImportError:
        with pytest.raises(CodegenError, match="backend 'ttnn' needs the real ttnn package"):
            generate(g, backend="ttnn")
