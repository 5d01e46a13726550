"""Weights on `self`, in closures and globals: `@ttfuse.jit` lifts them to implicit parameters.

Real TTNN model code keeps device tensors on its module objects; the jit reads them again on every call through
their source path (`self.proj.w`), keyed by spec, so one compiled entry serves every layer of the same shapes.
Non-tensor state read from `self` is keyed by content and guarded (a change retraces); work that depends only on
parameters runs once per parameter set and version. Every jitted result is compared with the eager result of the
same, unwrapped code.
"""

import pytest
import torch

import ttfuse
from tests.conftest import T
from ttfuse import cache, ttnn
from ttfuse.errors import DeviceError, TraceError
from ttfuse.sim import count_launches
from ttfuse.testing import pcc


def host(t) -> torch.Tensor:
    return ttnn.to_torch(t).float()


def same(a, b) -> bool:
    return torch.equal(host(a), host(b))


# ------------------------------------------------------------------------------------------------ modules
class Linear:
    def __init__(self, device, k, n, act="relu"):
        self.weight = T(device, k, n)
        self.bias = T(device, 1, n)
        self.act = act

    def __call__(self, x):
        y = ttnn.linear(x, self.weight, bias=self.bias)
        return ttnn.relu(y) if self.act == "relu" else y


class Mlp:
    """Nested sub-modules and a list of layers."""

    def __init__(self, device, d, n_layers=3):
        self.norm_w = T(device, 1, d)
        self.layers = [Linear(device, d, d, act="relu" if i % 2 else "none") for i in range(n_layers)]
        self.out = Linear(device, d, d, act="none")

    def forward(self, x):
        h = ttnn.layer_norm(x, weight=self.norm_w, epsilon=1e-5)
        for layer in self.layers:
            h = layer(h)
        return self.out(h)


def wrapped(cls, name="__call__"):
    """A fresh subclass whose method `name` is wrapped by ttfuse.jit, as `Cls.__call__ = ttfuse.jit(...)`."""
    sub = type(f"Jit{cls.__name__}", (cls,), {})
    setattr(sub, name, ttfuse.jit(getattr(cls, name)))
    return sub, getattr(cls, name)


def test_call_wrapped_one_entry_serves_every_layer_of_a_shape(fresh, device):
    JitLinear, eager = wrapped(Linear)
    a, b = JitLinear(device, 64, 96), JitLinear(device, 64, 96)
    x = T(device, 32, 64)
    ya, yb = a(x), b(x)
    jf = JitLinear.__call__
    assert jf.trace_count == 1 and cache.counters.miss == 1  # one compile for both objects
    assert same(ya, eager(a, x)) and same(yb, eager(b, x))  # each with its own weights
    assert not same(ya, yb)
    assert same(a(x), ya) and jf.trace_count == 1  # hits
    c = JitLinear(device, 64, 128)  # another weight shape: a second entry
    assert same(c(x), eager(c, x)) and jf.trace_count == 2


def test_method_decorated_in_the_class_body(fresh, device):
    class Proj:
        def __init__(self, w):
            self.w = w

        @ttfuse.jit
        def __call__(self, x):
            return ttnn.matmul(x, self.w)

    x = T(device, 32, 64)
    p, q = Proj(T(device, 64, 64)), Proj(T(device, 64, 64))
    assert same(p(x), ttnn.matmul(x, p.w)) and same(q(x), ttnn.matmul(x, q.w))
    assert Proj.__call__.trace_count == 1


def test_nested_submodules_and_a_list_of_layers(fresh, device):
    JitMlp, eager = wrapped(Mlp, "forward")
    m1, m2 = JitMlp(device, 64), JitMlp(device, 64)
    x = T(device, 64, 64)
    for m in (m1, m2):
        y = m.forward(x)
        ref = eager(m, x)
        assert same(y, ref) or pcc(host(y), host(ref)) >= 0.9995
    assert JitMlp.forward.trace_count == 1
    lowered = JitMlp.forward.lower(m1, x)
    names = lowered.graph_before.meta["input_names"]
    assert "self.layers[2].weight" in names and "self.out.bias" in names and "self.norm_w" in names


def test_closure_and_global_capture(fresh, device):
    global W_GLOBAL
    w = T(device, 64, 64)
    W_GLOBAL = T(device, 64, 64)

    @ttfuse.jit
    def f(x):
        return ttnn.add(ttnn.matmul(x, w), ttnn.matmul(x, W_GLOBAL))

    x = T(device, 32, 64)
    assert same(f(x), f.fn(x))
    old = W_GLOBAL
    W_GLOBAL = T(device, 64, 64)  # rebound to another tensor of the same spec: read again, no retrace
    y = f(x)
    assert same(y, f.fn(x)) and f.trace_count == 1
    assert not same(y, ttnn.add(ttnn.matmul(x, w), ttnn.matmul(x, old)))


W_GLOBAL = None


def test_changing_a_non_tensor_attribute_retraces(fresh, device):
    JitLinear, eager = wrapped(Linear)
    lin = JitLinear(device, 64, 64)
    x = T(device, 32, 64)
    jf = JitLinear.__call__
    assert same(lin(x), eager(lin, x))
    lin.act = "none"  # mutated between calls: the traced code depends on it
    y = lin(x)
    assert jf.trace_count == 2 and same(y, eager(lin, x))
    lin.act = "relu"  # back: the first entry (a memory hit by content), no third trace
    assert same(lin(x), eager(lin, x)) and jf.trace_count == 2


def test_changing_an_attribute_of_a_nested_submodule_retraces(fresh, device):
    JitMlp, eager = wrapped(Mlp, "forward")
    m = JitMlp(device, 64, n_layers=2)
    x = T(device, 64, 64)
    m.forward(x)
    m.layers[0].act = "relu" if m.layers[0].act == "none" else "none"
    y = m.forward(x)
    assert JitMlp.forward.trace_count == 2 and same(y, eager(m, x))


def test_reassigned_weight_is_read_again(fresh, device):
    JitLinear, eager = wrapped(Linear)
    lin = JitLinear(device, 64, 64)
    x = T(device, 32, 64)
    lin(x)
    lin.weight = T(device, 64, 64)
    assert same(lin(x), eager(lin, x)) and JitLinear.__call__.trace_count == 1
    lin.weight = T(device, 64, 32)  # a new shape: a new entry
    lin.bias = T(device, 1, 32)
    assert same(lin(x), eager(lin, x)) and JitLinear.__call__.trace_count == 2


# ------------------------------------------------------------------------------------ parameter-only work
class CastProj:
    """Work that depends only on the weight: a typecast of a bfloat8_b weight and a transpose."""

    def __init__(self, device):
        self.w = T(device, 64, 64, dtype=ttnn.bfloat8_b)

    def __call__(self, x):
        w = ttnn.transpose(ttnn.typecast(self.w, ttnn.bfloat16), -2, -1)
        return ttnn.matmul(x, w)


def test_parameter_only_work_runs_once_per_weight(fresh, device):
    JitCast, eager = wrapped(CastProj)
    p = JitCast(device)
    x = T(device, 32, 64)
    counts = []
    for _ in range(4):
        with count_launches(device) as launches:
            y = p(x)
        counts.append(dict(launches.by_op))
    assert counts[0].get("typecast") == 1 and counts[0].get("transpose") == 1
    for c in counts[1:]:  # later calls: only the matmul
        assert "typecast" not in c and "transpose" not in c and c.get("matmul") == 1
    assert same(y, eager(p, x))
    lowered = JitCast.__call__.lower(p, x)  # traces afresh (trace_count 2), for the IR
    assert lowered.prologue is not None and "typecast" in lowered.prologue.source
    assert "typecast(" not in lowered.source
    # the predicted cost is one call's: the JIT side without the prologue, eager with the work it redoes per call
    assert lowered.cost.jit.total.launches == counts[-1]["matmul"] == sum(counts[-1].values())
    assert lowered.cost.eager.total.launches == sum(counts[0].values()) == 3

    # an in-place write into the weight (outside the jit function) bumps its version: recomputed once
    v0 = p.w._version
    ttnn.copy(T(device, 64, 64, dtype=ttnn.bfloat8_b), p.w)
    assert p.w._version > v0
    with count_launches(device) as launches:
        y = p(x)
    assert launches.by_op.get("typecast") == 1 and same(y, eager(p, x))
    with count_launches(device) as launches:
        p(x)
    assert "typecast" not in launches.by_op

    # a second object of the same shapes: the same entry, its own prologue run
    q = JitCast(device)
    with count_launches(device) as launches:
        y = q(x)
    assert launches.by_op.get("typecast") == 1 and same(y, eager(q, x))
    assert JitCast.__call__.trace_count == 2 and cache.counters.miss == 1  # the call and lower(): one compile


class Gated:
    """Two linears sharing an input: horizontal fusion concatenates the weights (once per weight set)."""

    def __init__(self, device, d):
        self.wa = T(device, d, d)
        self.wb = T(device, d, d)

    def __call__(self, x):
        return ttnn.multiply(ttnn.linear(x, self.wa), ttnn.linear(x, self.wb))


def test_concatenated_weights_of_horizontal_fusion_are_computed_once(fresh, device):
    JitGated, eager = wrapped(Gated)
    g = JitGated(device, 64)
    x = T(device, 64, 64)
    lowered = JitGated.__call__.lower(g, x)
    assert "concat_weights" in lowered.ir  # the fuse pass concatenated the two weights
    assert lowered.prologue is not None and "concat_weights" in lowered.prologue.source
    assert "concat_weights(" not in lowered.source  # the main code reads the prologue's result
    first = None
    for i in range(3):
        with count_launches(device) as launches:
            y = g(x)
        if i == 0:
            first = dict(launches.by_op)
        else:
            assert "concat_weights" not in launches.by_op
    assert first.get("concat_weights") == 1
    ref = eager(g, x)
    assert pcc(host(y), host(ref)) >= 0.9995


def test_dict_items_and_keyword_arguments_are_sources(fresh, device):
    class Attn:
        def __init__(self):
            self.weights = {"q": T(device, 64, 64), "o": T(device, 64, 64)}

    @ttfuse.jit
    def f(x, *, mod):
        return ttnn.matmul(ttnn.matmul(x, mod.weights["q"]), mod.weights["o"])

    x, a, b = T(device, 32, 64), Attn(), Attn()
    assert same(f(x, mod=a), f.fn(x, mod=a)) and same(f(x, mod=b), f.fn(x, mod=b))
    assert f.trace_count == 1
    names = f.lower(x, mod=a).graph_before.meta["input_names"]
    assert names[1:] == ["mod.weights['q']", "mod.weights['o']"]


# ------------------------------------------------------------------------------------------------ aliasing
def test_aliased_weights_follow_each_path(fresh, device):
    class Tied:
        def __init__(self, w):
            self.a = w
            self.b = w

        def __call__(self, x):
            return ttnn.add(ttnn.matmul(x, self.a), ttnn.matmul(x, self.b))

    JitTied, eager = wrapped(Tied)
    x = T(device, 32, 64)
    t = JitTied(T(device, 64, 64))
    assert same(t(x), eager(t, x))
    t.b = T(device, 64, 64)  # no longer one tensor: both are read
    assert same(t(x), eager(t, x))
    u = JitTied(T(device, 64, 64))
    u.b = T(device, 64, 64)
    assert same(u(x), eager(u, x))


# --------------------------------------------------------------------------------------------------- errors
def test_in_place_write_into_a_weight_is_refused(fresh, device):
    class Bad:
        def __init__(self, w):
            self.w = w

        def __call__(self, x):
            ttnn.add_(self.w, x)
            return ttnn.relu(x)

    JitBad, _ = wrapped(Bad)
    b = JitBad(T(device, 32, 64))
    before = host(b.w)
    with pytest.raises(TraceError, match=r"ttnn.add_: argument .* is self\.w, a tensor .* not supported"):
        b(T(device, 32, 64))
    assert torch.equal(host(b.w), before)


def test_copy_into_a_weight_is_refused(fresh, device):
    class Bad:
        def __init__(self, w):
            self.w = w

        @ttfuse.jit
        def __call__(self, x):
            ttnn.copy(x, self.w)
            return ttnn.relu(x)

    with pytest.raises(TraceError, match=r"self\.w, a tensor .* not supported"):
        Bad(T(device, 32, 64))(T(device, 32, 64))


def test_host_and_deallocated_weights_name_the_path(fresh, device):
    JitLinear, _ = wrapped(Linear)
    lin = JitLinear(device, 64, 64)
    x = T(device, 32, 64)
    lin.bias = ttnn.from_torch(torch.randn(1, 64), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT)
    with pytest.raises(TraceError, match=r"self\.bias, a host tensor") as e:
        lin(x)
    assert "test_jit_params.py" in str(e.value)  # the user's line

    lin.bias = T(device, 1, 64)
    lin(x)
    ttnn.deallocate(lin.weight)
    with pytest.raises(DeviceError, match=r"self\.weight was deallocated") as e:
        lin(x)
    assert "test_jit_params.py" in str(e.value)


def test_a_tensor_with_no_source_is_an_error(fresh, device):
    class Holder:
        W = None  # a class attribute: not walked

    Holder.W = T(device, 64, 64)

    @ttfuse.jit
    def f(x, h):
        return ttnn.matmul(x, type(h).W)

    with pytest.raises(TraceError, match="not through an attribute or item"):
        f(T(device, 32, 64), Holder())


def test_deallocated_before_the_first_trace(fresh, device):
    JitLinear, _ = wrapped(Linear)
    lin = JitLinear(device, 64, 64)
    ttnn.deallocate(lin.weight)
    with pytest.raises(DeviceError, match=r"self\.weight, which was deallocated"):
        lin(T(device, 32, 64))


def test_bare_trace_still_refuses_closure_tensors(device):
    from ttfuse.capture.trace import trace

    w = T(device, 64, 64)

    def f(x):
        return ttnn.matmul(x, w)

    with pytest.raises(TraceError, match="lifted to implicit parameters"):
        trace(f, (T(device, 32, 64),), {})


# ------------------------------------------------------------------------------------------------ disk cache
def test_an_entry_with_parameters_is_stored_and_loaded_from_disk(fresh, device):
    JitCast, eager = wrapped(CastProj)
    p, x = JitCast(device), T(device, 32, 64)
    p(x)
    assert cache.counters.miss == 1 and cache.counters.disk_write == 1
    # a new wrapper of the same function (a new process would see the same): a disk hit, no trace
    Again, _ = wrapped(CastProj)
    q = Again(device)
    with count_launches(device) as launches:
        y = q(x)
    assert Again.__call__.trace_count == 0 and cache.counters.hit == 1 and cache.counters.miss == 1
    assert same(y, eager(q, x)) and launches.by_op.get("typecast") == 1  # its own prologue run
    with count_launches(device) as launches:
        q(x)
    assert "typecast" not in launches.by_op


def test_a_disk_entry_with_a_forged_parameter_path_is_refused(fresh, device):
    import json

    from ttfuse.cache_schema import SchemaError, check_entry

    JitLinear, _ = wrapped(Linear)
    JitLinear(device, 64, 64)(T(device, 32, 64))
    (path,) = sorted(fresh.rglob("*.json"))
    entry = json.loads(path.read_text())
    assert entry["graph"]["meta"]["params"][0][0][:2] == [["arg", 0], ["a", "weight"]]
    check_entry(entry)
    for bad in (["i", 1.5], ["a", "x\ny"], ["b", "w"]):
        forged = json.loads(json.dumps(entry))
        forged["graph"]["meta"]["params"][0][0][1] = bad
        with pytest.raises(SchemaError, match="graph.meta.params"):
            check_entry(forged)


# --------------------------------------------------------------------------------- torch tensors on self
class FromStateDict:
    """As tt-boltz's modules: the torch state dict kept on self, its weights converted in __init__."""

    def __init__(self, device, scale):
        self.state_dict = {"w": torch.randn(64, 64), "scale": torch.tensor(scale)}
        self.w = ttnn.from_torch(
            self.state_dict["w"], dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device
        )

    def __call__(self, x):
        return ttnn.matmul(x, self.w)


class ReadsTorchValue(FromStateDict):
    def __call__(self, x):
        return ttnn.multiply(ttnn.matmul(x, self.w), float(self.state_dict["scale"]))


def test_torch_tensors_on_self_are_keyed_by_shape_when_the_trace_reads_none(fresh, device):
    JitMod, eager = wrapped(FromStateDict)
    x = T(device, 32, 64)
    a, b = JitMod(device, 1.0), JitMod(device, 2.0)
    assert same(a(x), eager(a, x)) and same(b(x), eager(b, x))
    assert JitMod.__call__.trace_count == 1


def test_a_trace_reading_a_torch_value_keys_torch_tensors_by_identity(fresh, device):
    JitMod, eager = wrapped(ReadsTorchValue)
    x = T(device, 32, 64)
    a, b = JitMod(device, 1.0), JitMod(device, 2.0)
    with pytest.warns(cache.CacheWarning, match="state_dict"):
        ya = a(x)
    yb = b(x)  # the scale is baked into a's entry: b must not share it
    assert same(ya, eager(a, x)) and same(yb, eager(b, x)) and not same(ya, yb)
    assert JitMod.__call__.trace_count == 2


def test_jit_of_a_bound_method_reads_its_objects_weights(fresh, device):
    lin, x = Linear(device, 64, 64), T(device, 32, 64)
    jf = ttfuse.jit(lin.__call__)
    assert same(jf(x), lin(x))
    lin.weight = T(device, 64, 64)
    assert same(jf(x), lin(x)) and jf.trace_count == 1


def test_a_tensor_stored_on_self_while_tracing_is_rolled_back_with_a_warning(fresh, device):
    class CachesOnSelf:  # tt-boltz's DiffusionTransformerLayer caches `self.s_o` on its first call
        def __init__(self):
            self.w = T(device, 64, 64)

        def __call__(self, a, s):
            if not hasattr(self, "s_o"):
                s_o = ttnn.linear(s, self.w)
                self.s_o = s_o
            else:
                s_o = self.s_o
            return ttnn.multiply(s_o, a)

    JitC, eager = wrapped(CachesOnSelf)
    c, a, s = JitC(), T(device, 32, 64), T(device, 32, 64)
    with pytest.warns(UserWarning, match=r"stored a tensor it computed on self\.s_o") as rec:
        y = c(a, s)
    assert any(w.filename.endswith("test_jit_params.py") for w in rec)
    assert not hasattr(c, "s_o")  # no tracer left on the object
    assert same(c(a, s), y) and JitC.__call__.trace_count == 1
    assert pcc(host(y), host(eager(c, a, s))) >= 0.9995  # eager works on the object afterwards


def test_num_entries_counts_compiles_not_layer_objects(fresh, device):
    """A jitted method keys `self` by identity (one memory slot per layer object); `num_entries` counts the
    compiled entries behind the slots, as ttnn-jit's JitFunction.num_entries counts compiled programs."""
    JitLinear, eager = wrapped(Linear)
    jf = JitLinear.__call__
    x = T(device, 32, 64)
    layers = [JitLinear(device, 64, 96) for _ in range(3)]
    for layer in layers:
        assert same(layer(x), eager(layer, x))
    assert jf.trace_count == 1 and jf.num_entries == 1  # three slots, one compile
    wide = JitLinear(device, 64, 128)  # another weight shape: a second compile
    wide(x)
    assert jf.trace_count == 2 and jf.num_entries == 2
    layers[0](T(device, 64, 64))  # another input shape for a known layer: a third
    assert jf.num_entries == 3
    jf.clear_cache()
    assert jf.num_entries == 0
