"""Simulator overhead (issue 2): sim `linear` in bfloat16 vs raw torch float32 `@`, and bf16 rounding throughput.

Targets: median(sim linear [4096,512]x[512,512] bf16) / median(torch float32 @ on the same data) <= 1.3;
bfloat16 rounding >= 1 GB/s of float32 input. Both sides are timed in the same run, interleaved.
"""

import torch

from bench.conftest import median_time
from ttfuse import ttnn
from ttfuse.numerics import round_bf16


def test_sim_linear_overhead(benchmark, target):
    dev = ttnn.open_device(device_id=0)
    torch.manual_seed(0)
    x = torch.randn(4096, 512)
    w = torch.randn(512, 512)
    tx = ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=dev)
    tw = ttnn.from_torch(w, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=dev)
    xv, wv = tx._shards[0], tw._shards[0]  # the same (bf16-rounded) data torch multiplies

    def sim():
        return ttnn.linear(tx, tw)

    def raw():
        return xv @ wv

    benchmark(sim)
    t_raw, t_sim = [], []
    for _ in range(3):  # interleave so both sides see the same machine state
        t_raw.append(median_time(raw, repeat=5))
        t_sim.append(median_time(sim, repeat=5))
    ratio = sorted(t_sim)[1] / sorted(t_raw)[1]
    print(
        f"\nsim linear {sorted(t_sim)[1] * 1e3:.2f} ms, torch f32 @ {sorted(t_raw)[1] * 1e3:.2f} ms, ratio {ratio:.3f}"
    )
    target("sim linear bf16 [4096,512]x[512,512] / torch f32 @", ratio, 1.3, "x")
    ttnn.close_device(dev)


def test_bf16_rounding_throughput(benchmark, target):
    x = torch.randn(16 * 1024 * 1024)  # 64 MiB of float32
    benchmark(round_bf16, x)
    t = median_time(lambda: round_bf16(x), repeat=7)
    gbs = x.numel() * 4 / t / 1e9
    print(f"\nbf16 rounding {gbs:.2f} GB/s")
    target("bfloat16 rounding throughput (float32 input)", gbs, 1.0, "GB/s", higher_is_better=True)
