"""JIT wrapper costs (issue 3 targets): cache-hit call overhead of a 5-op function (median <= 20 us) and cold
compile of a 20-op function (<= 100 ms). The warm start from disk is measured in bench/test_cache_bench.py.

Hit overhead = median(jit call) - median(direct call of the generated function on the same tensors): the
wrapper's own time (flatten the arguments, build the fast key, LRU lookup, counters, rebuild the result).
The two sides are timed interleaved in many short rounds, because the simulator's op time (~0.1-0.4 ms per op
on a shared 2-core machine) is noisy compared with the figure. The wrapper is also timed alone, with the
entry's generated function swapped for a stub returning precomputed outputs (the precise figure).
Cold compile = a miss of a fresh JitFunction with the disk cache off: function identity, key, trace, passes,
verify, codegen (the generated code is not run).
"""

from __future__ import annotations

import statistics
import time

import torch

import ttfuse
from bench.conftest import median_time
from ttfuse import cache, ttnn
from ttfuse.jit import _runner


def five_ops(x, y):
    a = ttnn.add(x, y)
    b = ttnn.multiply(a, x)
    c = ttnn.relu(b)
    d = ttnn.subtract(c, y)
    return ttnn.exp(d)


def twenty_ops(x, y, w):
    h = ttnn.linear(x, w, activation="silu")
    for i in range(4):
        h = ttnn.add(h, y)
        h = ttnn.multiply(h, 0.5 + i)
        h = ttnn.gelu(h)
        h = ttnn.subtract(h, x)
    h = ttnn.softmax(h, dim=-1)
    h = ttnn.layer_norm(h, epsilon=1e-5)
    return ttnn.sum(h, dim=-1, keepdim=True), h


def _tensors(device, *shapes):
    g = torch.Generator().manual_seed(0)
    return [
        ttnn.from_torch(
            torch.randn(s, generator=g), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device
        )
        for s in shapes
    ]


def _alternating(a, b, rounds: int = 500, number: int = 4, clock=time.perf_counter) -> tuple[float, float]:
    """(median a, median b) per call, timed in alternating batches (a b, then b a, ...) so that drift and the
    position of a batch within a round cancel out."""
    ta, tb = [], []
    for r in range(rounds):
        for which in ((a, ta), (b, tb)) if r % 2 == 0 else ((b, tb), (a, ta)):
            fn, out = which
            t0 = clock()
            for _ in range(number):
                fn()
            out.append((clock() - t0) / number)
    return statistics.median(ta), statistics.median(tb)


def test_cache_hit_overhead(benchmark, target):
    dev = ttnn.open_device(device_id=0)
    x, y = _tensors(dev, (32, 32), (32, 32))
    with cache.fresh_cache(disk=False):
        jf = ttfuse.jit(five_ops)
        jf(x, y)
        gen = jf.lower(x, y).compiled.fn
        benchmark(jf, x, y)
        assert jf.trace_count == 2 and jf.num_entries == 1  # one call + one lower(): every benchmark call hit
        call_jit, call_gen = (lambda: jf(x, y)), (lambda: gen(x, y))
        t_jit, t_gen = _alternating(call_jit, call_gen)
        # CPU time of this thread: on a shared machine, wall time is mostly waiting for a core
        c_jit, c_gen = _alternating(call_jit, call_gen, clock=time.thread_time)
        c_a, c_b = _alternating(call_gen, call_gen, clock=time.thread_time)  # calibration: same fn both sides
        t_eager, _ = _alternating(lambda: five_ops(x, y), call_jit, rounds=100)
        overhead = (t_jit - t_gen) * 1e6

        # the wrapper alone: the entry's generated function replaced by a stub returning its outputs
        outs = gen(x, y)
        (key,) = jf._lru.keys()
        jf._lru.put(key, _runner(lambda *leaves: outs, "*"))
        t_wrapper = median_time(lambda: jf(x, y), repeat=15, number=2000)
        assert jf(x, y) is outs[0]
    print(
        f"\nwall: jit call {t_jit * 1e6:.1f} us, generated fn {t_gen * 1e6:.1f} us, eager {t_eager * 1e6:.1f} us, "
        f"difference {overhead:.2f} us\ncpu: jit call {c_jit * 1e6:.1f} us, generated fn {c_gen * 1e6:.1f} us, "
        f"difference {(c_jit - c_gen) * 1e6:.2f} us (the same fn on both sides: {(c_a - c_b) * 1e6:+.2f} us)\n"
        f"wrapper alone (stubbed generated fn) {t_wrapper * 1e6:.2f} us"
    )
    target(
        "jit cache-hit overhead, 5-op fn: median(jit) - median(gen fn), CPU", (c_jit - c_gen) * 1e6, 20, "us"
    )
    target("jit cache-hit overhead, 5-op fn: median(jit) - median(gen fn), wall", overhead, 20, "us")
    target("jit cache-hit wrapper alone (stubbed generated fn), 5-op fn", t_wrapper * 1e6, 20, "us")
    ttnn.close_device(dev)


def test_cold_compile_20_ops(benchmark, target):
    dev = ttnn.open_device(device_id=0)
    x, y, w = _tensors(dev, (64, 64), (64, 64), (64, 64))
    with cache.fresh_cache(disk=False):

        def compile_once():
            jf = ttfuse.jit(twenty_ops)  # a fresh JitFunction: nothing cached in memory
            jf._build((x, y, w), {})
            return jf

        jf = compile_once()
        n_nodes = len(jf.lower(x, y, w).graph_before.nodes)  # as traced (the passes fuse it to fewer)
        assert n_nodes == 20
        benchmark(compile_once)
        t = median_time(compile_once, repeat=15, number=1)
    print(f"\ncold compile of a {n_nodes}-op function: {t * 1e3:.2f} ms")
    target("jit cold compile, 20-op function (trace+passes+verify+codegen)", t * 1e3, 100, "ms")
    ttnn.close_device(dev)
