"""Capture: what a traced function records (helpers, aliases, methods, loops, pytrees, kwargs) and the
errors with the user's line (data-dependent branching, escaped tracers, closure tensors, host ops)."""

from __future__ import annotations

import os

import pytest
import torch

import ttfuse
from ttfuse import ttnn
from ttfuse import ttnn as tn
from ttfuse.capture import Tracer, trace
from ttfuse.errors import SpecError, TraceError
from ttfuse.ir import FrozenList, In, Ref

THIS = os.path.basename(__file__)


def dev_t(device, shape=(32, 64), dtype=ttnn.bfloat16):
    return ttnn.from_torch(torch.randn(shape), dtype=dtype, layout=ttnn.TILE_LAYOUT, device=device)


def ops_of(g):
    return [n.op for n in g.nodes]


def line_of(fn, text: str) -> int:
    """Line number (in this file) of the first line of `fn`'s source containing `text`."""
    import inspect

    src, start = inspect.getsourcelines(fn)
    return start + next(i for i, ln in enumerate(src) if text in ln)


# ------------------------------------------------------------------------------------------ what is recorded
def _helper(x):
    return ttnn.relu(x)  # helper-line


def test_helper_functions_and_locations(device):
    def f(x):
        y = _helper(x)
        return ttnn.exp(y)  # f-line

    g = trace(f, (dev_t(device),), {})
    assert ops_of(g) == ["relu", "exp"]
    relu, exp = g.nodes
    assert relu.side.loc[0] == __file__ and relu.side.loc[1] == line_of(_helper, "helper-line")
    assert relu.side.loc[2] == "_helper"
    assert exp.side.loc[1] == line_of(f, "f-line") and exp.side.loc[2] == "f"
    assert f"# {THIS}:{relu.side.loc[1]}" in str(g)


def test_aliases(device):
    def f(x):
        return tn.multiply(tn.add(x, x), 2.0)

    g = trace(f, (dev_t(device),), {})
    assert ops_of(g) == ["add", "multiply"]
    assert g.nodes[1].attr("input_tensor_b") == 2.0


def test_tensor_methods_properties_and_operators(device):
    def f(x, y):
        assert x.shape == (32, 64) and x.padded_shape == (32, 64) and x.dtype == ttnn.bfloat16
        assert x.layout == ttnn.TILE_LAYOUT and x.memory_config() == ttnn.DRAM_MEMORY_CONFIG
        assert len(x) == 32 and len(x.shape) == 2 and x.is_allocated()
        z = (x + y) * y - 1.0
        z = -z / y
        w = ttnn.permute(z.reshape(2, 16, 64), (0, 2, 1))  # ttnn.Tensor has no .permute method
        s = x[:, :32]
        return w, s, x @ ttnn.transpose(y, -2, -1), x > y

    g = trace(f, (dev_t(device), dev_t(device)), {})
    assert ops_of(g) == [
        "add",
        "multiply",
        "subtract",
        "neg",
        "divide",
        "reshape",
        "permute",
        "slice",
        "transpose",
        "matmul",
        "gt",
    ]
    assert [str(s) for s in g.nodes[-2].outs] == ["bf16[32,32]@DRAM"]
    assert len(g.outputs) == 4


def test_static_loops_unroll(device):
    def f(x, n):
        for _ in range(n):
            x = ttnn.silu(x)
        if x.shape[-1] > 32:  # a static branch is fine
            x = ttnn.relu(x)
        return x

    g = trace(f, (dev_t(device), 3), {})
    assert ops_of(g) == ["silu", "silu", "silu", "relu"]
    assert trace(f, (dev_t(device, (32, 32)), 1), {}).nodes[-1].op == "silu"


def test_pytrees_in_and_out(device):
    def f(params, xs, *, scale):
        h = ttnn.linear(xs[0], params["w"], bias=params["b"])
        h2 = ttnn.multiply(xs[1]["inner"], scale)
        return {"h": h, "rest": [h2, (xs[0], 3)], "n": "tag"}

    x0, x1, w, b = dev_t(device), dev_t(device), dev_t(device, (64, 64)), dev_t(device, (1, 64))
    g = trace(f, ({"w": w, "b": b}, [x0, {"inner": x1}]), {"scale": 0.5})
    assert g.meta["input_names"] == ["params['w']", "params['b']", "xs[0]", "xs[1]['inner']"]
    assert len(g.inputs) == 4 and len(g.outputs) == 3
    assert g.outputs[2] == Ref(2, 0)  # xs[0] passed straight through
    assert g.out_tree == {
        "d": [["h", "*"], ["rest", {"l": ["*", {"t": ["*", {"c": 3}]}]}], ["n", {"c": "tag"}]]
    }


def test_multiple_outputs_and_list_args(device):
    def f(x):
        a, b = ttnn.split(x, 32, dim=-1)
        return ttnn.concat([b, a], dim=-1), a

    g = trace(f, (dev_t(device),), {})
    split, cat = g.nodes
    assert split.multi and len(split.outs) == 2 and split.out_refs == (Ref(1, 0), Ref(1, 1))
    assert cat.inputs == (Ref(1, 1), Ref(1, 0))
    assert cat.attr("tensors") == FrozenList([In(0), In(1)])
    assert "%1: bf16[32,32]@DRAM, %2: bf16[32,32]@DRAM = split %0" in str(g)
    assert "concat %2 %1" in str(g)


def test_kwargs_and_static_args_are_attrs(device):
    def f(x, *, act, eps=1e-5):
        return ttnn.layer_norm(ttnn.matmul(x, x, transpose_b=True, activation=act), epsilon=eps)

    g = trace(f, (dev_t(device, (32, 32)),), {"act": "gelu"})
    mm, ln = g.nodes
    assert mm.attr("activation") == "gelu" and mm.attr("transpose_b") is True
    assert ln.attr("epsilon") == 1e-5
    assert dict(mm.attrs)["input_tensor_a"] == In(0) and mm.inputs == (Ref(0), Ref(0))


def test_inplace_is_functionalised(device):
    def f(a, b):
        c = ttnn.add_(a, b)
        assert c is a
        return ttnn.relu(a)

    g = trace(f, (dev_t(device), dev_t(device)), {})
    add_, relu = g.nodes
    assert add_.op == "add_" and add_.inputs == (Ref(0), Ref(1))
    assert relu.inputs == (Ref(add_.id, 0),)  # reads the new value, not the old one


def test_spec_rules_see_the_target_device(device):
    seen = []

    def f(x):
        from ttfuse.opdef import current_device_spec

        seen.append(current_device_spec())
        return ttnn.relu(x)

    trace(f, (dev_t(device),), {})
    assert seen == [device.spec]
    bh = ttfuse.device_spec("blackhole")
    trace(f, (ttnn.TensorSpec((32, 32), ttnn.bfloat16),), {}, device_spec=bh, specs_are_tensors=True)
    assert seen[-1] is bh


def test_abstract_inputs(device):
    def f(x, w):
        return ttnn.linear(x, w)

    g = trace(
        f,
        (ttnn.TensorSpec((128, 256), ttnn.bfloat8_b), ttnn.TensorSpec((256, 512), ttnn.bfloat16)),
        {},
        specs_are_tensors=True,
    )
    assert str(g.nodes[0].outs[0]) == "bfp8[128,512]@DRAM"


def test_deallocate_records_nothing_and_use_after_is_an_error(device):
    def f(x):
        y = ttnn.relu(x)
        ttnn.deallocate(x)
        return y

    g = trace(f, (dev_t(device),), {})
    assert ops_of(g) == ["relu"]

    def bad(x):
        y = ttnn.relu(x)
        ttnn.deallocate(y)
        return ttnn.exp(y)  # use-after-free

    with pytest.raises(TraceError, match=r"ttnn.exp: argument 'input_tensor' was deallocated earlier") as e:
        trace(bad, (dev_t(device),), {})
    assert f"{THIS}:{line_of(bad, 'use-after-free')}" in str(e.value)


# ------------------------------------------------------------------------------------------------ errors
def test_data_dependent_branch_error_names_user_line_and_hints(device):
    def f(x):
        s = ttnn.sum(x)
        if float(s) > 0:  # data-dependent
            return x
        return ttnn.neg(x)

    with pytest.raises(TraceError) as e:
        trace(f, (dev_t(device),), {})
    msg = str(e.value)
    assert "float(tensor)" in msg and "hint:" in msg and "ttnn.where" in msg
    assert f"{THIS}:{line_of(f, 'data-dependent')} in f" in msg


@pytest.mark.parametrize(
    "what,expr",
    [
        ("item", lambda t: t.item()),
        ("float", lambda t: float(t)),
        ("int", lambda t: int(t)),
        ("iter", lambda t: list(t)),
        ("index", lambda t: [1, 2, 3][t]),
        ("to_torch", lambda t: ttnn.to_torch(t)),
        ("method", lambda t: t.to_torch()),
    ],
)
def test_values_do_not_exist_while_tracing(device, what, expr):
    with pytest.raises(TraceError, match=r"traced tensor|cannot run inside a @ttfuse.jit function") as e:
        trace(lambda x: expr(x), (dev_t(device),), {})
    assert THIS in str(e.value)


_LEAK: list = []


def test_escaped_tracer_used_eagerly(device):
    def f(x):
        y = ttnn.relu(x)
        _LEAK.append(y)
        return y

    trace(f, (dev_t(device),), {})
    leaked = _LEAK.pop()
    assert isinstance(leaked, Tracer) and "escaped" in repr(leaked)
    with pytest.raises(TraceError, match=r"ttnn.add: argument 'input_tensor_a' is an escaped tracer") as e:
        ttnn.add(leaked, dev_t(device))  # eager use
    assert f"{THIS}:" in str(e.value)
    with pytest.raises(TraceError, match="trace has ended"):
        float(leaked)


def test_escaped_tracer_used_in_another_trace(device):
    def f(x):
        _LEAK.append(x)
        return ttnn.relu(x)

    trace(f, (dev_t(device),), {})
    leaked = _LEAK.pop()

    def g(x):
        return ttnn.add(x, leaked)  # uses the other trace's tracer

    with pytest.raises(
        TraceError, match=r"ttnn.add: argument 'input_tensor_b': this tensor is a tracer .* has ended"
    ) as e:
        trace(g, (dev_t(device),), {})
    assert f"{THIS}:{line_of(g, 'other trace')}" in str(e.value)
    with pytest.raises(TraceError, match="escaped"):
        ttfuse.jit(lambda a: ttnn.relu(a))(leaked)  # passed as an argument


def test_closure_tensor_is_an_error(device):
    w = dev_t(device, (64, 64))

    def f(x):
        return ttnn.linear(x, w)  # closure weight

    with pytest.raises(
        TraceError, match=r"ttnn.linear: argument 'input_tensor_b' is a concrete ttnn.Tensor"
    ) as e:
        trace(f, (dev_t(device),), {})
    msg = str(e.value)
    assert "pass it as an argument" in msg and f"{THIS}:{line_of(f, 'closure weight')}" in msg

    def g(x):
        return w  # returning a closure tensor

    with pytest.raises(TraceError, match="concrete ttnn.Tensor from outside the function"):
        trace(g, (dev_t(device),), {})


@pytest.mark.parametrize(
    "call",
    [
        lambda x: ttnn.from_torch(torch.zeros(32, 32), device=x.device()),
        lambda x: ttnn.to_device(x, x.device()),
        lambda x: ttnn.from_device(x),
    ],
)
def test_host_ops_are_errors(device, call):
    with pytest.raises(TraceError, match="cannot run inside a @ttfuse.jit function: it moves data between"):
        trace(call, (dev_t(device),), {})


def test_torch_tensor_argument_is_an_error(device):
    with pytest.raises(TraceError, match="a torch.Tensor was passed as an argument"):
        trace(lambda x, t: ttnn.relu(x), (dev_t(device), torch.zeros(2)), {})
    with pytest.raises(TraceError, match="argument 'input_tensor_b' is a torch.Tensor"):
        trace(lambda x: ttnn.add(x, torch.zeros(2)), (dev_t(device),), {})


def test_spec_errors_surface_at_trace_time_with_user_line(device):
    def f(x, w):
        return ttnn.matmul(x, w)  # bad shapes

    with pytest.raises(SpecError, match=r"ttnn.matmul: ") as e:
        trace(f, (dev_t(device, (32, 64)), dev_t(device, (32, 64))), {})
    assert f"{THIS}:{line_of(f, 'bad shapes')}" in str(e.value)


def test_unhashable_static_argument_is_an_error(device):
    with pytest.raises(TraceError, match=r"argument 'dims' of type set cannot be captured"):
        trace(lambda x: ttnn.permute(x, {1, 0}), (dev_t(device),), {})


def test_trace_state_is_restored_after_errors(device):
    from ttfuse import opdef

    before = (len(opdef._state.stack), opdef.current_device_spec())
    with pytest.raises(TraceError):
        trace(lambda x: float(x), (dev_t(device),), {})
    assert (len(opdef._state.stack), opdef.current_device_spec()) == before
    assert ttnn.to_torch(ttnn.relu(dev_t(device))).shape == (32, 64)  # eager works again


def test_device_arguments_become_markers(device):
    from ttfuse.ir import DeviceArg

    g = trace(
        lambda x: ttnn.add(x, ttnn.ones((32, 64), layout=ttnn.TILE_LAYOUT, device=x.device())),
        (dev_t(device),),
        {},
    )
    assert g.nodes[0].op == "ones" and g.nodes[0].attr("device") == DeviceArg()
    other = ttnn.open_device(device_id=0)
    with pytest.raises(TraceError, match="a compiled function runs on the device of its inputs"):
        trace(
            lambda x: ttnn.add(x, ttnn.ones((32, 64), layout=ttnn.TILE_LAYOUT, device=other)),
            (dev_t(device),),
            {},
        )
    ttnn.close_device(other)
