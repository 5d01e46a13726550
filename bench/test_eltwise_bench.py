"""Simulator eltwise overhead: per-call cost of small ops, and a 5-op chain on [4096, 512] vs the same chain in torch.

Targets (reported, not asserted; see bench/conftest.py): <= 400 us per small eltwise call (bind + spec + allocate
+ sim + round); the sim chain within 3x torch float32 + 5 ms.
"""

import torch

from bench.conftest import median_time
from ttfuse import ttnn
from ttfuse.configs import UnaryOpType as U


def _dev(device, x):
    return ttnn.from_torch(x, dtype=ttnn.float32, layout=ttnn.TILE_LAYOUT, device=device)


def test_eltwise_overhead_per_call(benchmark, target):
    device = ttnn.open_device(device_id=0)
    t = _dev(device, torch.randn(32, 32))

    def three():
        ttnn.multiply(t, t, input_tensor_b_activations=[U.SIGMOID])
        ttnn.add(t, 1.0)
        ttnn.exp(t)

    benchmark(three)
    per_call = median_time(three, repeat=7, number=20) / 3
    target("sim eltwise call overhead [32,32]", per_call * 1e6, 400.0, "us")


def test_eltwise_chain_vs_torch(benchmark, target):
    device = ttnn.open_device(device_id=0)
    x = torch.randn(4096, 512)
    t = _dev(device, x)

    def sim_chain():
        y = ttnn.multiply(t, 0.5)
        y = ttnn.add(y, t)
        y = ttnn.exp(y)
        y = ttnn.multiply(y, t, input_tensor_b_activations=[U.SIGMOID])
        return ttnn.subtract(y, 1.0)

    def torch_chain():
        return torch.exp(x * 0.5 + x) * torch.sigmoid(x) - 1.0

    benchmark(sim_chain)
    ts, tt = [], []
    for _ in range(3):  # interleaved: both sides see the same machine load
        ts.append(median_time(sim_chain, repeat=3))
        tt.append(median_time(torch_chain, repeat=3))
    s, r = sorted(ts)[1], sorted(tt)[1]
    target("sim 5-op eltwise chain [4096,512] / (3x torch + 5 ms)", s / (3 * r + 5e-3), 1.0, "x")
