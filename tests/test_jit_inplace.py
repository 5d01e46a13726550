"""In-place writes under @ttfuse.jit: functionalised at capture, written back into arguments, run in place by
codegen only where nothing reads the buffer later. Includes the reproducers of issue 16 (items 1-3)."""

from __future__ import annotations

import pytest
import torch

import ttfuse
from ttfuse import ttnn
from ttfuse.cache import CacheWarning
from ttfuse.capture.trace import trace
from ttfuse.flags import flags

BF16 = ttnn.bfloat16


def dev_tensor(device, t, dtype=BF16):
    return ttnn.from_torch(t, dtype=dtype, layout=ttnn.TILE_LAYOUT, device=device)


def host(t):
    return ttnn.to_torch(t).float()


def run_both(f, device, *host_args, jit_kwargs=None):
    """(eager outputs, eager args after), (jit outputs, jit args after), each on fresh device tensors."""
    out = []
    for fn in (f, ttfuse.jit(f, **(jit_kwargs or {}))):
        args = [dev_tensor(device, h) for h in host_args]
        res = fn(*args)
        res = list(res) if isinstance(res, tuple | list) else [res]
        out.append(([host(r) for r in res], [host(a) for a in args]))
    return out


def assert_same(a, b):
    (ao, aa), (bo, ba) = a, b
    assert len(ao) == len(bo)
    for x, y in zip(ao + aa, bo + ba):
        assert torch.equal(x, y), (x - y).abs().max()


# ------------------------------------------------------------------------------------------- reproducers
@pytest.mark.parametrize("block_bytes", [None, 0])
@pytest.mark.parametrize("norm", [False, True])
def test_issue16_inplace_not_moved_above_an_earlier_read(device, block_bytes, norm):
    """1. The sim's row-blocked regions hoisted `add_` above the region reading its target (max diff 384)."""

    def f(x):
        t = ttnn.transpose(x, -2, -1)
        y = ttnn.rms_norm(t) if norm else ttnn.exp(t)
        ttnn.add_(t, 2.0)
        return y

    x = torch.randn(64, 96, generator=torch.Generator().manual_seed(0))
    with flags(**({} if block_bytes is None else {"sim_block_bytes": block_bytes})):
        eager, jit = run_both(f, device, x, jit_kwargs={"passes": []})
    assert_same(eager, jit)


def test_issue16_chained_inplace_on_an_argument_kept(device):
    """2. dce / cleanup / fuse dropped the second of two in-place writes into an argument."""

    def f(x, y):
        ttnn.add_(x, 1.0)
        ttnn.multiply_(x, 2.0)
        return ttnn.relu(y)

    x, y = torch.ones(32, 32), torch.randn(32, 32)
    eager, jit = run_both(f, device, x, y)
    assert_same(eager, jit)
    assert torch.equal(jit[1][0], torch.full((32, 32), 4.0))
    for passes in (["dce"], ["cleanup"], ["fuse"]):
        assert_same(eager, run_both(f, device, x, y, jit_kwargs={"passes": passes})[1])


def test_issue16_fuse_after_inplace_on_a_read_value(device):
    """3. fuse folded relu into `subtract`, then placed it after `subtract_` (VerifyError inplace_target_dead)."""

    def f(a, b):
        v1 = a - b
        ttnn.subtract_(a, a)
        return ttnn.softmax(ttnn.relu(v1), dim=-1)

    g = torch.Generator().manual_seed(3)
    a, b = torch.randn(32, 64, generator=g), torch.randn(32, 64, generator=g)
    eager, jit = run_both(f, device, a, b)
    assert torch.allclose(eager[0][0], jit[0][0], atol=2e-2)
    assert torch.equal(eager[1][0], jit[1][0]) and torch.equal(jit[1][0], torch.zeros(32, 64))


# ----------------------------------------------------------------------------------------- the mechanism
def test_writes_are_graph_data(device):
    def f(x, y):
        ttnn.add_(x, y)
        return ttnn.relu(y)

    x = dev_tensor(device, torch.randn(32, 32))
    g = trace(f, (x, x), {})
    assert g.writes == (0,) and [n.op for n in g.nodes] == ["add_", "relu"]
    assert str(g).splitlines()[-1].endswith("return %3 ; %0 <- %2")


def test_written_argument_is_returned_as_itself(device):
    """Returning the argument written in place returns the caller's tensor object, as eager does."""

    def f(x):
        ttnn.add_(x, 1.0)
        return x

    x = dev_tensor(device, torch.zeros(32, 32))
    jf = ttfuse.jit(f)
    assert jf(x) is x and torch.equal(host(x), torch.ones(32, 32))
    assert "ttnn.copy(" not in jf.lower(x).source  # written in place: nothing to copy back


def test_free_call_returning_its_input_aliases_under_jit(device):
    """reshape to the same shape returns the same tensor in eager: a write through one name shows in the other."""

    def f(x):
        a = ttnn.exp(x)
        b = ttnn.reshape(a, a.shape)
        ttnn.add_(b, 1.0)
        return a, b

    eager, jit = run_both(f, device, torch.randn(32, 64), jit_kwargs={"passes": []})
    assert_same(eager, jit)
    assert torch.equal(eager[0][0], eager[0][1])


def test_target_read_later_runs_in_a_clone(device):
    """When a pass order (or CSE) leaves the old value of an in-place target alive, codegen clones it first."""

    def f(x):
        e = ttnn.exp(x)
        ttnn.add_(e, 1.0)
        return e, ttnn.exp(x)

    x = dev_tensor(device, torch.randn(32, 64))
    low = ttfuse.jit(f, passes=["cleanup"]).lower(x)  # CSE merges the two exp
    assert [n.op for n in low.graph.nodes] == ["exp", "add_"] and "ttnn.clone(" in low.source
    eager, jit = run_both(f, device, torch.randn(32, 64), jit_kwargs={"passes": ["cleanup"]})
    assert_same(eager, jit)


def test_caller_tensor_not_written_stays_intact(device):
    """An in-place op on an argument that the program does not write back (a copy is written instead) clones."""

    def f(x):
        c = ttnn.clone(x)
        ttnn.multiply_(c, 3.0)
        return c

    eager, jit = run_both(f, device, torch.randn(32, 32))
    assert_same(eager, jit)


def test_same_tensor_passed_twice_runs_eagerly_with_a_warning(device):
    def f(a, b):
        ttnn.add_(a, 1.0)
        return ttnn.multiply(b, 2.0)

    jf = ttfuse.jit(f)
    x1, y1 = dev_tensor(device, torch.zeros(32, 32)), dev_tensor(device, torch.zeros(32, 32))
    assert torch.equal(host(jf(x1, y1)), torch.zeros(32, 32))  # distinct tensors: compiled
    x = dev_tensor(device, torch.zeros(32, 32))
    with pytest.warns(CacheWarning, match="same tensor is passed as two arguments"):
        out = jf(x, x)
    assert torch.equal(host(out), torch.full((32, 32), 2.0))  # eager: b is a, written first
    x = dev_tensor(device, torch.zeros(32, 32))
    assert torch.equal(host(f(x, x)), host(out))


def test_preallocated_output_into_an_argument_and_inplace_softmax(device):
    def f(x, o):
        ttnn.softmax_in_place(x)
        ttnn.add(x, 1.0, output_tensor=o)
        ttnn.copy(o, x)
        return ttnn.relu(o)

    g = torch.Generator().manual_seed(5)
    eager, jit = run_both(f, device, torch.randn(64, 64, generator=g), torch.zeros(64, 64))
    assert_same(eager, jit)
    eager0, jit0 = run_both(
        f, device, torch.randn(64, 64, generator=g), torch.zeros(64, 64), jit_kwargs={"passes": []}
    )
    assert_same(eager0, jit0)


def test_second_call_and_disk_entry_keep_write_backs(device, tmp_path):
    def f(x):
        ttnn.multiply_(x, 2.0)
        return ttnn.exp(x)

    with flags(cache_dir=str(tmp_path)):
        jf = ttfuse.jit(f)
        for _ in range(2):
            x = dev_tensor(device, torch.ones(32, 32))
            jf(x)
            assert torch.equal(host(x), torch.full((32, 32), 2.0))
        fresh = ttfuse.jit(f)  # a new function object: the entry comes from disk
        x = dev_tensor(device, torch.ones(32, 32))
        fresh(x)
        assert fresh.trace_count == 0 and torch.equal(host(x), torch.full((32, 32), 2.0))
