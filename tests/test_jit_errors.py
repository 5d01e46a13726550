"""Mistakes in and around a jit function give a ttfuse error naming the function, the argument or op, and the
user's file:line; nothing is accepted silently that would run differently from eager.

Each test checks the message and that the line it reports is this file's line (the call, the recursing line,
the op that ran out of memory).
"""

import dataclasses
import warnings

import pytest
import torch

import ttfuse
from ttfuse import ttnn
from ttfuse.cache import CacheWarning
from ttfuse.errors import OutOfMemoryError, TraceError, TtfuseError

pytestmark = pytest.mark.usefixtures("fresh")  # an empty compile cache per test (tests/conftest.py)


def tensor(dev, value=2.0, shape=(32, 32)):
    return ttnn.from_torch(torch.full(shape, value), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=dev)


def here(err: BaseException, line: int) -> bool:
    """The message ends with ' at <this file>:<line> in ...' (the format of every ttfuse error)."""
    last = str(err).rstrip().splitlines()[-1].strip()
    return last.startswith("at ") and f"test_jit_errors.py:{line} in " in last


def raises_at_the_call(jf, *args) -> TraceError:
    """`jf(*args)` raises a TraceError whose message points at the line of that call; the error."""

    def call():
        return jf(*args)

    with pytest.raises(TraceError) as e:
        call()
    assert here(e.value, call.__code__.co_firstlineno + 1)
    return e.value


# ------------------------------------------------------------------------------------------------ recursion
def recurse(x, n):
    return recurse(ttnn.relu(x), n)  # never stops: n is not used


def test_unbounded_recursion_is_a_trace_error_at_the_recursing_line(device):
    with pytest.raises(TraceError) as e:
        ttfuse.jit(recurse)(tensor(device), 3)
    msg = str(e.value)
    assert "@ttfuse.jit recurse: unbounded recursion while tracing (recurse() calls itself" in msg
    assert "static value" in msg  # the fix: stop on a static argument
    assert here(e.value, recurse.__code__.co_firstlineno + 1)


def test_bounded_recursion_on_a_static_value_is_fine(device):
    def down(x, n):
        return x if n == 0 else down(ttnn.relu(x), n - 1)

    f = ttfuse.jit(down)
    assert ttnn.to_torch(f(tensor(device), 5))[0, 0].item() == 2.0


# -------------------------------------------------------------------------------------------- the signature
def two_args(x, w):
    return ttnn.add(x, w)


def test_missing_argument_names_it_at_the_call(device):
    err = raises_at_the_call(ttfuse.jit(two_args), tensor(device))
    assert "@ttfuse.jit two_args(x, w): missing a required argument: 'w'" in str(err)


def test_unknown_keyword_and_too_many_arguments(device):
    f = ttfuse.jit(two_args)
    x = tensor(device)

    def call_kw():
        return f(x, x, bias=x)

    def call_many():
        return f(x, x, x)

    with pytest.raises(TraceError) as e:
        call_kw()
    assert "two_args(x, w): got an unexpected keyword argument 'bias'" in str(e.value)
    assert here(e.value, call_kw.__code__.co_firstlineno + 1)
    with pytest.raises(TraceError, match="too many positional arguments") as e:
        call_many()
    assert here(e.value, call_many.__code__.co_firstlineno + 1)


def test_lower_checks_the_signature_too(device):
    with pytest.raises(TraceError, match="missing a required argument: 'w'"):
        ttfuse.jit(two_args).lower(tensor(device).spec)


# ---------------------------------------------------------------------------------------------- the result
def test_returning_a_torch_tensor(device):
    def f(x):
        return ttnn.relu(x), torch.ones(3)

    msg = str(raises_at_the_call(ttfuse.jit(f), tensor(device)))
    assert "@ttfuse.jit test_returning_a_torch_tensor.<locals>.f: output [1] is a torch.Tensor" in msg
    assert "ttnn.to_torch" in msg


@pytest.mark.parametrize("ret", [3, None], ids=["int", "None"])
def test_returning_no_tensor(device, ret):
    def f(x):
        ttnn.relu(x)
        return ret

    msg = str(raises_at_the_call(ttfuse.jit(f), tensor(device)))
    assert f"test_returning_no_tensor.<locals>.f: the function returned {ret!r} (no tensor)" in msg
    assert "runs once when it is traced" in msg


def test_python_values_next_to_tensors_and_in_place_writes_are_fine(device):
    def pair(x):
        return ttnn.relu(x), 3

    def write(x, out):
        ttnn.add(x, 1.0, output_tensor=out)  # returns None, writes into an argument

    x, out = tensor(device), tensor(device, 0.0)
    y, three = ttfuse.jit(pair)(x)
    assert three == 3 and ttnn.to_torch(y)[0, 0].item() == 2.0
    assert ttfuse.jit(write)(x, out) is None
    assert ttnn.to_torch(out)[0, 0].item() == 3.0


# -------------------------------------------------------------------------------------------- side effects
def test_print_in_a_jit_function_warns_once_and_prints_once_per_trace(device, capsys):
    def f(x):
        print("tracing f")
        return ttnn.relu(x)

    jf = ttfuse.jit(f)
    x = tensor(device)
    with pytest.warns(UserWarning, match=r"calls print\(\); Python code in a jit function .* runs when"):
        jf(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        jf(x)
        jf(x)
    assert capsys.readouterr().out.count("tracing f") == 1


# ------------------------------------------------------------------------------------------------- statics
def scale_by_set(x, dims):
    return ttnn.multiply(x, float(len(dims)))


def scale_by_dict(x, d):
    return ttnn.multiply(x, d["s"])


def test_mutable_statics_are_keyed_by_content_on_every_call(device):
    """Lists and dicts are pytree containers and sets become frozensets in the per-call key: mutating one
    between calls gives a new key, not the entry compiled for the old content."""
    x = tensor(device)
    f = ttfuse.jit(scale_by_set)
    dims = {1, 2}
    assert ttnn.to_torch(f(x, dims))[0, 0].item() == 4.0
    dims.add(3)
    assert ttnn.to_torch(f(x, dims))[0, 0].item() == 6.0
    g = ttfuse.jit(scale_by_dict)
    d = {"s": 2.0}
    assert ttnn.to_torch(g(x, d))[0, 0].item() == 4.0
    d["s"] = 3.0
    assert ttnn.to_torch(g(x, d))[0, 0].item() == 6.0


@dataclasses.dataclass
class MutableCfg:  # eq=True without frozen=True: unhashable
    scale: float


def scale_by_cfg(x, cfg):
    return ttnn.multiply(x, cfg.scale)


def test_an_unhashable_static_object_warns_naming_the_argument(device):
    f = ttfuse.jit(scale_by_cfg)
    x = tensor(device)
    with pytest.warns(CacheWarning, match=r"argument 'cfg' \(a test_jit_errors\.MutableCfg\) is unhashable"):
        f(x, MutableCfg(2.0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ttnn.to_torch(f(x, MutableCfg(3.0)))[0, 0].item() == 6.0  # a new object: keyed anew


# ------------------------------------------------------------------------------------------ out of memory
def test_out_of_memory_in_a_compiled_function_ends_with_the_users_line(device):
    one_core = ttnn.create_sharded_memory_config(
        (1024, 1024), ttnn.CoreGrid(y=1, x=1), ttnn.ShardStrategy.HEIGHT
    )

    def f(x):
        a = ttnn.multiply(x, 2.0, memory_config=one_core)  # 2 MiB on one core's 1.4 MiB of L1
        return ttnn.add(a, 1.0)

    x = tensor(device, shape=(1024, 1024))
    with pytest.raises(OutOfMemoryError) as e:
        ttfuse.jit(f, passes=[])(x)
    err = e.value
    assert isinstance(err, TtfuseError)
    msg = str(err)
    assert msg.startswith("OutOfMemoryError: ttnn.multiply:") and "while executing %1:" in msg
    assert "in generated code <ttfuse-gen f-" in msg
    line = f.__code__.co_firstlineno + 1
    assert here(err, line) and err.user_frame[1] == line
