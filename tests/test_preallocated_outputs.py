"""Preallocated outputs (`output_tensor=`, `optional_output_tensor=`, ...; ttfuse.opdef.PREALLOCATED_OUTPUTS) and
`ttnn.copy`: eager writes the result into the given tensor (no new allocation, no extra kernel) and returns it;
under @ttfuse.jit the op is followed by an in-place ttnn.copy into it, so the caller's tensor is written as in
eager; a tensor that cannot hold the result is a SpecError naming the op and the argument."""

from __future__ import annotations

import pytest
import torch

import ttfuse
from ttfuse import ttnn
from ttfuse.errors import SpecError
from ttfuse.opdef import OPS


def dev(device, t, dtype=ttnn.bfloat16):
    return ttnn.from_torch(t, dtype=dtype, layout=ttnn.TILE_LAYOUT, device=device)


def host(t):
    return ttnn.to_torch(t).float()


def test_ops_with_a_preallocated_output_keyword_are_found():
    found = {n for n, op in OPS.items() if op.prealloc}
    assert {"add", "exp", "matmul", "linear", "typecast", "concat", "slice", "argmax", "all_gather"} <= found
    assert OPS["matmul"].prealloc == "optional_output_tensor" and OPS["add"].prealloc == "output_tensor"


@pytest.mark.parametrize(
    "call",
    [
        lambda a, b, o: ttnn.add(a, b, output_tensor=o),
        lambda a, b, o: ttnn.exp(a, output_tensor=o),
        lambda a, b, o: ttnn.matmul(a, b, optional_output_tensor=o),
        lambda a, b, o: ttnn.linear(a, b, optional_output_tensor=o),
    ],
    ids=["add", "exp", "matmul", "linear"],
)
def test_eager_writes_into_the_tensor_in_place(device, call):
    g = torch.Generator().manual_seed(0)
    a, b = dev(device, torch.randn(64, 64, generator=g)), dev(device, torch.randn(64, 64, generator=g))
    want = host(call(a, b, None))
    out = dev(device, torch.zeros(64, 64))
    before = ttfuse.sim.memory_report(device).dram_bytes
    with ttfuse.sim.count_launches(device) as c:
        got = call(a, b, out)
    assert got is out and torch.equal(host(out), want)
    assert ttfuse.sim.memory_report(device).dram_bytes == before  # nothing allocated
    assert c.total == 1


def test_output_into_an_input_and_memory_config_of_the_target(device):
    a = dev(device, torch.randn(32, 64))
    want = host(ttnn.multiply(a, a))
    l1 = ttnn.to_memory_config(dev(device, torch.zeros(32, 64)), ttnn.L1_MEMORY_CONFIG)
    assert ttnn.multiply(a, a, output_tensor=l1) is l1 and torch.equal(host(l1), want)
    assert l1.memory_config() == ttnn.L1_MEMORY_CONFIG  # the result lives where the target lives
    assert ttnn.multiply(a, a, output_tensor=a) is a and torch.equal(host(a), want)


def test_mismatched_preallocated_output_names_op_and_argument(device):
    a = dev(device, torch.randn(32, 64))
    with pytest.raises(
        SpecError, match=r"ttnn.add: argument 'output_tensor' is f32\[32,64\].*the op computes bf16"
    ):
        ttnn.add(a, a, output_tensor=dev(device, torch.zeros(32, 64), ttnn.float32))
    with pytest.raises(
        SpecError, match="ttnn.add: argument 'output_tensor' must be a ttnn.Tensor, got a torch.Tensor"
    ):
        ttnn.add(a, a, output_tensor=torch.zeros(32, 64))


def test_jit_writes_the_callers_tensor_like_eager(device):
    def f(x, y, o):
        ttnn.multiply(x, y, output_tensor=o)
        return ttnn.relu(o)

    g = torch.Generator().manual_seed(1)
    x, y = dev(device, torch.randn(64, 64, generator=g)), dev(device, torch.randn(64, 64, generator=g))
    o_eager, o_jit = dev(device, torch.zeros(64, 64)), dev(device, torch.zeros(64, 64))
    r_eager = f(x, y, o_eager)
    jf = ttfuse.jit(f)
    r_jit = jf(x, y, o_jit)
    assert torch.equal(host(o_jit), host(o_eager)) and torch.equal(host(r_jit), host(r_eager))
    low = jf.lower(x, y, o_jit)
    assert low.graph.writes == (2,)  # the graph writes its result back into argument 2 ...
    assert "ttnn.copy(" in low.source  # ... with a ttnn.copy, since the fused kernel's output is a new tensor


def test_jit_output_into_an_intermediate_needs_no_copy(device):
    """A preallocated tensor made inside the traced function is not the caller's storage: it just names the result
    (no ttnn.copy node), and the values are eager's."""

    def f(x, y):
        o = ttnn.exp(x)  # a scratch tensor of the function
        ttnn.add(x, y, output_tensor=o)
        return ttnn.relu(o)

    g = torch.Generator().manual_seed(2)
    x, y = dev(device, torch.randn(64, 64, generator=g)), dev(device, torch.randn(64, 64, generator=g))
    jf = ttfuse.jit(passes=[])(f)
    assert torch.equal(host(jf(x, y)), host(f(x, y)))
    assert [n.op for n in jf.lower(x, y).graph.nodes] == ["exp", "add", "relu"]


def test_copy(device):
    a = dev(device, torch.randn(32, 64))
    b = dev(device, torch.zeros(32, 64), ttnn.float32)
    assert ttnn.copy(a, b) is b and torch.equal(host(b), host(a)) and b.dtype == ttnn.float32
    with pytest.raises(
        SpecError, match="ttnn.copy: argument 'input_b' is .*; it must have the shape and layout"
    ):
        ttnn.copy(a, dev(device, torch.zeros(64, 64)))
