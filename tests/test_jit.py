"""@ttfuse.jit end to end: results equal eager, caching behaviour seen through counters and trace_count, static
kwargs in the key, methods, pytrees, lower()/compile_only, fallback, options, nested jit, in-place args, debug
output, and a property test: JIT computes what eager computes on generated programs.

Bit-exactness with eager holds with the rewriting passes disabled (`EXACT`): the optimising pipeline changes
where values are rounded (a fused kernel keeps intermediates in float32, selected compute kernel configs have
their math fidelity emulated, an L1 placement makes a linear post-process its bias as eager TTNN does), so
with every pass on JIT is compared with eager within the formats' tolerance (here and, on random programs, in
tests/passes/test_property_jit_eager.py) and bit-exactly only with itself (a cache hit, a disk reload).
"""

from __future__ import annotations

import warnings

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ttfuse
from ttfuse import cache, ttnn
from ttfuse.errors import DeviceError, TraceError
from ttfuse.jit import JitFunction, Lowered
from ttfuse.passes.context import PassOptions, pass_options
from ttfuse.passes.pipeline import PIPELINE
from ttfuse.sim import count_launches
from ttfuse.testing import pcc

S = ttnn.TensorSpec
BF16 = ttnn.bfloat16
EXACT = {"passes": []}  # rewriting passes off: the same sim numerics as eager, op for op


@pytest.fixture(autouse=True)
def fresh():
    with cache.fresh_cache(disk=False) as d:
        yield d


def dev_t(device, shape=(32, 64), dtype=BF16, data=None):
    data = torch.randn(shape) if data is None else data
    return ttnn.from_torch(data, dtype=dtype, layout=ttnn.TILE_LAYOUT, device=device)


def values(t):
    return ttnn.to_torch(t).float()


def same(a, b) -> bool:
    return a.spec == b.spec and torch.equal(values(a), values(b))


def close(a, b) -> bool:
    """Equal up to the re-rounding the optimising passes introduce: PCC ~ 1 and every error within a few
    bfloat16 ulps of the largest value (errors are absolute where an add cancels)."""
    va, vb = values(a), values(b)
    err = (va - vb).abs().max()
    return a.spec == b.spec and pcc(va, vb) > 0.9999 and bool(err <= 2**-5 * vb.abs().max())


def block(x, w, b, *, act="silu", scale=1.0):
    h = ttnn.linear(x, w, bias=b, activation=act)
    return ttnn.multiply(ttnn.add(h, x), scale)


# -------------------------------------------------------------------------------------------------- basics
def test_jit_equals_eager_and_hits_for_new_data(device):
    f = ttfuse.jit(**EXACT)(block)
    assert isinstance(f, JitFunction) and f.__name__ == "block" and f.__wrapped__ is block
    for _ in range(3):
        x, w, b = dev_t(device), dev_t(device, (64, 64)), dev_t(device, (1, 64))
        assert same(f(x, w, b), block(x, w, b))
    assert f.trace_count == 1 and cache.counters.miss == 1 and cache.counters.hit == 2 and f.num_entries == 1


def test_default_pipeline_optimises_stays_close_to_eager_and_hits_for_new_data(device):
    f = ttfuse.jit(block)
    for _ in range(3):
        x, w, b = dev_t(device), dev_t(device, (64, 64)), dev_t(device, (1, 64))
        with count_launches(device) as jitted:
            got = f(x, w, b)
        with count_launches(device) as eager:
            want = block(x, w, b)
        assert close(got, want)
        # a hit runs exactly what a fresh compile for these arguments runs
        assert same(got, ttfuse.jit(enable_cache=False)(block)(x, w, b))
        assert jitted.total < eager.total, (jitted.by_op, eager.by_op)  # multiply by 1.0 folded, ...
    assert f.trace_count == 1 and cache.counters.miss == 1 and cache.counters.hit == 2


def test_static_kwargs_are_part_of_the_key(device):
    """ttnn-jit keys on tensor metadata only, so a kwarg change returns the first binary; ttfuse does not."""
    f = ttfuse.jit(**EXACT)(block)
    x, w, b = dev_t(device), dev_t(device, (64, 64)), dev_t(device, (1, 64))
    for act in ("silu", "relu", "gelu", "silu"):
        assert same(f(x, w, b, act=act), block(x, w, b, act=act))
    assert f.trace_count == 3
    for scale in (1, 1.0, True):  # equal in Python, distinct static values (types) for the key
        f(x, w, b, scale=scale)
    assert f.trace_count == 6


def test_decorator_forms_and_option_validation():
    @ttfuse.jit(max_grid=(7, 7), math_fidelity="HiFi4", memory_config=ttnn.L1_MEMORY_CONFIG, passes=["-dce"])
    def g(x):
        return ttnn.relu(x)

    assert g.options.max_grid == (7, 7) and g.options.math_fidelity is ttnn.MathFidelity.HiFi4
    assert pass_options(g.options) == PassOptions(
        max_grid=(7, 7), math_fidelity=ttnn.MathFidelity.HiFi4, memory_config=ttnn.L1_MEMORY_CONFIG
    )
    h = ttfuse.jit(l1_budget=1 << 20, dram_budget=1 << 30, fp32_dest_acc_en=False)(g.fn)
    assert pass_options(h.options) == PassOptions(
        l1_budget=1 << 20, dram_budget=1 << 30, fp32_dest_acc_en=False
    )
    assert (
        h.options.key_json()["dram_budget"] == 1 << 30 and h.options.key_json()["fp32_dest_acc_en"] is False
    )
    with pytest.raises(ValueError, match="dram_budget must be a positive number of bytes"):
        ttfuse.jit(dram_budget=0)
    with pytest.raises(ValueError, match="fp32_dest_acc_en must be True, False or None"):
        ttfuse.jit(fp32_dest_acc_en=1)
    assert g.options.disabled_passes() == frozenset({"dce"}) and g.backend == "sim"
    with pytest.raises(ValueError, match=r"max_grid must be an end coordinate \(x, y\)"):
        ttfuse.jit(max_grid=8)
    with pytest.raises(ValueError, match="unknown math_fidelity 'HiFi9'"):
        ttfuse.jit(math_fidelity="HiFi9")
    with pytest.raises(ValueError, match=r"unknown pass\(es\) \['fuse_everything'\]"):
        ttfuse.jit(passes=["fuse_everything"])
    with pytest.raises(ValueError, match="unknown backend 'cuda'"):
        ttfuse.jit(backend="cuda")
    with pytest.raises(TypeError, match="expected a function"):
        ttfuse.jit(3)


# ------------------------------------------------------------------------------------------------- methods
class Block:
    def __init__(self, eps, heads):
        self.eps, self.heads = eps, heads

    @ttfuse.jit(**EXACT)
    def __call__(self, x, gamma):
        y = ttnn.rms_norm(x, epsilon=self.eps, weight=gamma)
        for _ in range(self.heads):
            y = ttnn.add(y, x)
        return y

    def eager(self, x, gamma):
        return Block.__call__.fn(self, x, gamma)


def test_jit_on_methods(device):
    a, b = Block(1e-5, 1), Block(1e-2, 3)
    x, g = dev_t(device), dev_t(device, (1, 64))
    assert same(a(x, g), a.eager(x, g)) and same(b(x, g), b.eager(x, g))
    assert same(a(x, g), a.eager(x, g))
    assert Block.__call__.trace_count == 2  # one per instance; the second call on `a` hits
    low = a.__call__.lower(S((32, 64), BF16), S((1, 64), BF16))
    assert [n.op for n in low.graph.nodes] == ["rms_norm", "add"]
    assert isinstance(Block.__dict__["__call__"], JitFunction)


def test_method_with_tensor_attribute_is_an_implicit_parameter(device):
    class Linear:
        def __init__(self, w):
            self.w = w

        @ttfuse.jit
        def forward(self, x):
            return ttnn.linear(x, self.w)

    lin, x = Linear(dev_t(device, (64, 64))), dev_t(device)
    assert torch.equal(ttnn.to_torch(lin.forward(x)), ttnn.to_torch(ttnn.linear(x, lin.w)))
    assert lin.forward.lower(x).graph_before.meta["input_names"] == ["x", "self.w"]


# ------------------------------------------------------------------------------------- pytrees and outputs
def test_pytrees_in_and_out(device):
    def f(params, xs, *, n):
        out = []
        for i in range(n):
            out.append(ttnn.linear(xs[i], params["w"], bias=params["b"]))
        return {"outs": tuple(out), "sum": ttnn.add(out[0], out[-1]), "n": n}

    jf = ttfuse.jit(**EXACT)(f)
    params = {"w": dev_t(device, (64, 64)), "b": dev_t(device, (1, 64))}
    xs = [dev_t(device), dev_t(device)]
    got, want = jf(params, xs, n=2), f(params, xs, n=2)
    assert set(got) == {"outs", "sum", "n"} and got["n"] == 2 and isinstance(got["outs"], tuple)
    assert all(same(a, b) for a, b in zip(got["outs"], want["outs"])) and same(got["sum"], want["sum"])
    jf({"w": params["w"], "b": params["b"]}, xs, n=2)
    assert jf.trace_count == 1
    jf(params, xs + [xs[0]], n=2)  # a different tree: a new entry
    assert jf.trace_count == 2


def test_multiple_outputs_and_passthrough(device):
    @ttfuse.jit
    def f(x, y):
        a, b = ttnn.chunk(x, 2, -1)
        return b, a, y

    x, y = dev_t(device), dev_t(device)
    b, a, yy = f(x, y)
    assert yy is y and torch.equal(values(a), values(x)[:, :32]) and torch.equal(values(b), values(x)[:, 32:])


# ---------------------------------------------------------------------------------- lower and compile_only
BIG = (S((4096, 2048), ttnn.bfloat8_b), S((2048, 2048), BF16), S((1, 2048), BF16))


def test_lower_on_specs_gives_the_artifact(monkeypatch):
    monkeypatch.setenv("TTFUSE_ARCH", "blackhole")
    f = ttfuse.jit(passes=["dce"])(block)  # the captured graph as it is: nothing rewritten
    low = f.lower(*BIG, act="gelu")
    assert isinstance(low, Lowered) and f.num_entries == 0
    assert "linear %0 %1 %2 {activation=gelu}" in low.ir_before and low.ir == low.ir_before
    assert "ttnn.linear(v0, v1, bias=v2, activation='gelu')" in low.source
    assert [(r.name, r.skipped) for r in low.passes] == [(n, n != "dce") for n, _ in PIPELINE]
    assert low.cost.total.flops > 2 * 4096 * 2048 * 2048 and low.cost.device == "blackhole:p150:13x10"
    assert len(low.key.hex) == 64 and set(low.key.fields) == set(cache.KEY_FIELDS)
    assert low.graph.meta["device"] == "blackhole:p150:13x10"
    assert [c.node for c in low.program_configs] == [3]  # the linear: nothing chosen without select_configs
    assert (
        low.program_configs[0].program_config is None and low.program_configs[0].compute_kernel_config is None
    )
    assert "== generated code ==" in str(low)


def test_wormhole_and_blackhole_compiles_alternate_in_one_thread(monkeypatch):
    # the passes get the device from their PassContext, and the thread-local device the spec rules read is set
    # and restored once per compile: a Blackhole compile never sees the Wormhole spec, nor the reverse
    from ttfuse import opdef

    f = ttfuse.jit(block)
    before = opdef.current_device_spec(), opdef.current_mesh_shape()
    grids = {}
    for arch in ("wormhole_b0", "blackhole", "wormhole_b0", "blackhole"):
        monkeypatch.setenv("TTFUSE_ARCH", arch)
        low = f.lower(*BIG, act="gelu")
        assert (opdef.current_device_spec(), opdef.current_mesh_shape()) == before  # nothing left behind
        (cfg,) = low.program_configs
        grid = tuple(cfg.program_config.compute_with_storage_grid_size)
        assert grids.setdefault(arch, grid) == grid, "the same device gives the same choice"
        assert low.device_spec.name == low.cost.device == low.graph.meta["device"]
    assert grids["wormhole_b0"][0] <= 8 and grids["wormhole_b0"][1] <= 8
    assert (
        grids["blackhole"][0] * grids["blackhole"][1] > 64
    )  # a grid larger than 8x8: only a p150 accepts it


def test_lower_shows_what_the_pipeline_did(monkeypatch):
    monkeypatch.setenv("TTFUSE_ARCH", "blackhole")
    low = ttfuse.jit(block).lower(*BIG, act="gelu")
    assert [r.name for r in low.passes] == [n for n, _ in PIPELINE] and not any(r.skipped for r in low.passes)
    assert "linear %0 %1 %2 {activation=gelu}" in low.ir_before and "multiply" in low.ir_before
    # cleanup folds the multiply by 1.0; select_configs chooses the linear's program config (its choices:
    # tests/passes/test_select.py)
    assert "multiply" not in low.ir and [n.op for n in low.graph.nodes] == ["linear", "add"]
    (cfg,) = low.program_configs
    assert cfg.node == low.graph.nodes[0].id and cfg.program_config is not None
    assert "program_config=ttnn.MatmulMultiCore" in low.source and "ttnn.multiply" not in low.source
    changed = [r.name for r in low.passes if r.changed]
    assert "cleanup" in changed and "select_configs" in changed
    assert all(r.graph_before is not None and r.graph_after is not None for r in low.passes)
    assert low.cost.jit.total.launches < low.cost.eager.total.launches
    text = str(low)
    assert "== pass cleanup:" in text and "== IR after passes ==" in text and "== cost ==" in text


def test_compile_only_returns_the_artifact(device):
    f = ttfuse.jit(compile_only=True)(block)
    x, w, b = dev_t(device), dev_t(device, (64, 64)), dev_t(device, (1, 64))
    low = f(x, w, b)
    assert isinstance(low, Lowered) and "ttnn.linear" in low.source and f.num_entries == 0


def test_lower_keys_differ_by_field(device):
    f = ttfuse.jit(block)
    specs = (S((32, 64), BF16), S((64, 64), BF16), S((1, 64), BF16))
    k1 = f.lower(*specs, act="gelu").key
    assert f.lower(*specs, act="gelu").key == k1
    assert k1.diff(f.lower(*specs, act="relu").key) == ["static"]
    assert k1.diff(f.lower(*specs).key) == ["static", "tree"]
    assert k1.diff(f.lower(S((64, 64), BF16), *specs[1:], act="gelu").key) == ["inputs"]
    assert k1.diff(ttfuse.jit(math_fidelity="LoFi")(block).lower(*specs, act="gelu").key) == ["options"]


# ----------------------------------------------------------------------------------- fallback and caching
def test_fallback_runs_eagerly_and_warns_once(device):
    def data_dependent(x):
        if float(ttnn.sum(x)) > 0:  # not traceable
            return ttnn.relu(x)
        return x

    x = dev_t(device, data=torch.ones(32, 64))
    with pytest.raises(TraceError, match="float"):
        ttfuse.jit(data_dependent)(x)
    f = ttfuse.jit(fallback=True)(data_dependent)
    with pytest.warns(RuntimeWarning, match="running eagerly instead: TraceError"):
        out = f(x)
    assert f.fallback_used and "float(tensor)" in f.fallback_reason and same(out, data_dependent(x))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        f(x)  # no second warning, no retrace attempt
    assert f.trace_count == 1


def test_enable_cache_false_traces_every_call(device):
    f = ttfuse.jit(enable_cache=False, **EXACT)(block)
    x, w, b = dev_t(device), dev_t(device, (64, 64)), dev_t(device, (1, 64))
    for _ in range(2):
        assert same(f(x, w, b), block(x, w, b))
    assert f.trace_count == 2 and cache.counters.bypass == 2 and cache.counters.hit == 0


def test_new_device_object_with_the_same_spec_does_not_retrace(device):
    f = ttfuse.jit(block)
    f(dev_t(device), dev_t(device, (64, 64)), dev_t(device, (1, 64)))
    other = ttnn.open_device(device_id=0)
    out = f(dev_t(other), dev_t(other, (64, 64)), dev_t(other, (1, 64)))
    assert f.trace_count == 1 and out.device() is other
    ttnn.close_device(other)


def test_unhashable_static_argument(device):
    @ttfuse.jit
    def f(x, dims):
        return ttnn.permute(x, sorted(dims))

    x = dev_t(device, (2, 32, 64))
    assert f(x, {0, 1, 2}).shape == (2, 32, 64)
    assert f(x, {0, 1, 2}).shape == (2, 32, 64)


# --------------------------------------------------------------------------------------- other behaviours
def test_nested_jit_is_inlined(device):
    inner = ttfuse.jit(lambda x: ttnn.relu(x))

    def outer(x):
        return ttnn.exp(inner(x))

    low = ttfuse.jit(**EXACT)(outer).lower(S((32, 64), BF16))
    assert [n.op for n in low.graph.nodes] == ["relu", "exp"] and inner.trace_count == 0
    x = dev_t(device)
    assert same(ttfuse.jit(**EXACT)(outer)(x), ttnn.exp(ttnn.relu(x)))
    # inlined ops are ordinary ops of the outer graph: the fuse pass merges them across the jit boundary
    (node,) = ttfuse.jit(outer).lower(S((32, 64), BF16)).graph.nodes
    assert node.op == "kernels.eltwise" and node.side.replaced == ("relu", "exp") and inner.trace_count == 0
    assert close(ttfuse.jit(outer)(x), ttnn.exp(ttnn.relu(x)))


def test_inplace_on_an_argument_mutates_it_as_eager(device):
    def f(a, b):
        ttnn.add_(a, b)
        return ttnn.relu(a)

    data_a, data_b = torch.randn(32, 64), torch.randn(32, 64)
    a1, b1 = dev_t(device, data=data_a), dev_t(device, data=data_b)
    a2, b2 = dev_t(device, data=data_a), dev_t(device, data=data_b)
    r1, r2 = f(a1, b1), ttfuse.jit(f)(a2, b2)
    assert same(r1, r2) and same(a1, a2)

    def g(a, b):  # the in-place write is the only effect: kept by DCE
        ttnn.add_(a, b)
        return b

    a3 = dev_t(device, data=data_a)
    ttfuse.jit(g)(a3, dev_t(device, data=data_b))
    assert same(a3, a1)


def test_passes_option_controls_dce(device):
    def f(x):
        ttnn.exp(x)  # dead
        return ttnn.relu(x)

    assert [n.op for n in ttfuse.jit(f).lower(S((32, 32), BF16)).graph.nodes] == ["relu"]
    assert [n.op for n in ttfuse.jit(passes=[])(f).lower(S((32, 32), BF16)).graph.nodes] == ["exp", "relu"]
    low = ttfuse.jit(passes=[])(f).lower(S((32, 32), BF16))
    assert low.passes[0].skipped


def test_debug_option_logs_ir_and_code(device, capsys):
    f = ttfuse.jit(debug=4)(lambda x: ttnn.relu(x))
    f(dev_t(device))
    err = capsys.readouterr().err
    assert "generated code for" in err and "v1 = ttnn.relu(v0)" in err and "pass dce" in err


def test_escaped_tracer_argument_is_an_error(device):
    keep = []

    @ttfuse.jit
    def f(x):
        keep.append(x)
        return ttnn.relu(x)

    f(dev_t(device))
    with pytest.raises(TraceError, match="escaped"):
        f(keep[0])


def test_deallocated_argument_is_an_error_at_trace_time(device):
    x = dev_t(device)
    ttnn.deallocate(x)
    with pytest.raises(DeviceError, match="argument x was deallocated"):
        ttfuse.jit(lambda x: ttnn.relu(x))(x)


@pytest.mark.parametrize("opts", [EXACT, {}], ids=["exact", "all_passes"])
def test_disk_round_trip_without_retrace(device, opts):
    with cache.fresh_cache(disk=True):
        x, w, b = dev_t(device), dev_t(device, (64, 64)), dev_t(device, (1, 64))
        first = ttfuse.jit(**opts)(block)(x, w, b)
        g = ttfuse.jit(**opts)(block)
        out = g(x, w, b)
        assert g.trace_count == 0 and cache.counters.disk_read == 1
        assert same(out, first)  # the reloaded graph regenerates the code that was compiled
        assert same(out, block(x, w, b)) if opts is EXACT else close(out, block(x, w, b))


# ------------------------------------------------------------------------------------------ property test
UNARY = ["relu", "exp", "neg", "silu", "sigmoid", "tanh", "abs", "square", "gelu", "sin"]
BINARY = ["add", "subtract", "multiply", "maximum", "minimum"]


@st.composite
def programs(draw):
    steps = []
    for i in range(draw(st.integers(1, 10))):
        avail = i + 2
        kind = draw(st.sampled_from(["unary", "binary", "scalar", "reduce", "matmul", "softmax"]))
        a = draw(st.integers(0, avail - 1))
        if kind == "unary":
            steps.append(("unary", draw(st.sampled_from(UNARY)), a, None))
        elif kind == "binary":
            steps.append(("binary", draw(st.sampled_from(BINARY)), a, draw(st.integers(0, avail - 1))))
        elif kind == "scalar":
            steps.append(
                (
                    "scalar",
                    draw(st.sampled_from(["add", "multiply"])),
                    a,
                    draw(st.floats(-2, 2, allow_nan=False, width=32)),
                )
            )
        else:
            steps.append((kind, None, a, None))
    outs = draw(st.lists(st.integers(0, len(steps) + 1), min_size=1, max_size=3))
    return steps, outs


def run(program, x, y):
    steps, outs = program
    vals = [x, y]
    for kind, op, a, b in steps:
        v = vals[a]
        if kind == "unary":
            v = getattr(ttnn, op)(v)
        elif kind == "binary":
            v = getattr(ttnn, op)(v, vals[b])
        elif kind == "scalar":
            v = getattr(ttnn, op)(v, b)
        elif kind == "reduce":
            v = ttnn.subtract(v, ttnn.mean(v, dim=-1, keepdim=True))
        elif kind == "matmul":
            v = ttnn.matmul(v, v, transpose_b=True) if v.shape[-1] == v.shape[-2] else ttnn.tanh(v)
        else:
            v = ttnn.softmax(v, dim=-1)
        vals.append(v)
    return tuple(vals[i] for i in outs)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(programs())
def test_jit_equals_eager_on_generated_programs(device, program):
    """Bit-exact with the passes off; with every pass on: tests/passes/test_property_jit_eager.py."""
    x, y = dev_t(device, (32, 32)), dev_t(device, (32, 32))
    want = run(program, x, y)
    got = ttfuse.jit(**EXACT)(run)(program, x, y)
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert a.spec == b.spec
        torch.testing.assert_close(values(a), values(b), rtol=0, atol=0, equal_nan=True)
