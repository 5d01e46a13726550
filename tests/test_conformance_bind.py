"""conformance/inprocess.py's pure part: call sites read from source, and binding them to parameter lists (the
form `ttnn_introspect.parse_nb_signature` returns). The real-ttnn part runs in tests/conformance312."""

from __future__ import annotations

import pytest

from conformance.inprocess import bind, call_sites
from conformance.ttnn_introspect import parse_nb_signature

# the shape of ttnn 0.81.1's nanobind op signatures: positional tensors, then keyword-only options
ADD = parse_nb_signature(
    "def __call__(self, input_tensor_a: ttnn.Tensor, input_tensor_b: ttnn.Tensor, /, *, "
    "memory_config: ttnn.MemoryConfig | None = None, dtype: ttnn.DataType | None = \\0) -> ttnn.Tensor",
    (None,),
)
LINEAR = parse_nb_signature(
    "def __call__(self, input_tensor_a: ttnn.Tensor, input_tensor_b: ttnn.Tensor, *, bias: ttnn.Tensor | None = None, "
    "activation: str | None = None) -> ttnn.Tensor"
)
VARIADIC = parse_nb_signature("def f(*args, **kwargs) -> None")


def test_call_sites_count_positionals_keywords_and_stars():
    src = "def f(a, b, c):\n    x = ttnn.add(a, b, memory_config=None)\n    return ttnn.x.y(*c, k=1, **d), len(a)\n"
    sites = {s.chain: s for s in call_sites(src, "t")}
    assert set(sites) == {"ttnn.add", "ttnn.x.y"}
    assert (sites["ttnn.add"].positional, sites["ttnn.add"].keywords, sites["ttnn.add"].star) == (
        2,
        ("memory_config",),
        False,
    )
    assert (sites["ttnn.x.y"].positional, sites["ttnn.x.y"].keywords, sites["ttnn.x.y"].star) == (
        0,
        ("k",),
        True,
    )
    assert sites["ttnn.add"].where == "t line 2"


@pytest.mark.parametrize(
    ("params", "positional", "keywords", "why"),
    [
        (ADD, 2, ("memory_config",), None),
        (ADD, 2, (), None),
        (ADD, 3, (), "takes 2 positional arguments but 3 were given"),
        (ADD, 1, (), "missing required argument 'input_tensor_b'"),
        (ADD, 0, (), "missing required arguments 'input_tensor_a', 'input_tensor_b'"),
        (ADD, 2, ("layout",), "unexpected keyword argument 'layout'"),
        (ADD, 1, ("input_tensor_b",), "unexpected keyword argument 'input_tensor_b'"),  # positional-only
        (LINEAR, 1, ("input_tensor_b", "activation"), None),  # positional-or-keyword by name
        (LINEAR, 2, ("input_tensor_b",), "multiple values for argument 'input_tensor_b'"),
        (VARIADIC, 5, ("anything",), None),
    ],
)
def test_bind(params, positional, keywords, why):
    got = bind(params, positional, keywords)
    if why is None:
        assert got is None
    else:
        assert got is not None and why in got, got


def test_bind_with_star_arguments_checks_names_only():
    assert bind(ADD, 0, ("memory_config",), star=True) is None
    assert "unexpected keyword" in bind(ADD, 0, ("nope",), star=True)
