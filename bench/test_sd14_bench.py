"""SD1.4 UNet block benchmarks on the simulator (issue 21): ResnetBlock2D, Transformer2DModel, CrossAttnDownBlock2D,
CrossAttnUpBlock2D and the whole tiny UNet2DConditionModel (models/sd14 vs diffusers, tiny random weights; the
`sd14.*` cases of bench/cases.py, the same rows `ttfuse bench --quick` / `make run` shows), on Wormhole n150 and
Blackhole p150 sim devices.

Each row goes through the sweep's own measurement (bench/harness.py `measure_row`, wall clock): eager sim, JIT sim
and the float32 PyTorch reference timed interleaved in one run (medians), kernel launches of one eager and one JIT
call, the cost model's PREDICTED device time eager (one kernel per traced op) vs JIT (after passes) on the row's
device kind, summed over the block's jit calls; one torch thread, as the sweep runs (host ops between them, e.g. the UNet's skip concat, are not in
it), and PCC vs diffusers. Then pytest-benchmark times the JIT block alone.
Figures: JIT / eager sim wall time (no target: both run float32 on the CPU) and predicted device time eager / JIT
(no target, a prediction); JIT sim / float32 reference is the sweep's target (TARGETS["jit_vs_reference"]),
reported MET / MISSED, never fatal. Asserted: the row does not fail, PCC vs diffusers (0.999 per block, 0.998
whole UNet, issue 21), the JIT never launches more kernels than eager.
With --benchmark-disable (`make test`) every block runs once on Wormhole n150 as a smoke test (one round; the
Blackhole p150 rows are smoke-tested by bench/test_quick_sweep.py).
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from bench.cases import CASES
from bench.harness import DEFAULT_ARCHS, TARGETS, Config, Timer, failures, measure_row
from bench.report import arch_short
from ttfuse import ttnn

BLOCKS = [n for n in CASES if n.startswith("sd14.")]
SIDES = (("reference f32", "reference"), ("eager sim", "eager"), ("JIT sim", "jit"))
PCC_MIN = {"sd14.UNet2DConditionModel": 0.998}  # issue 21: >= 0.999 per block, >= 0.998 whole


def pytest_generate_tests(metafunc):
    if "arch" in metafunc.fixturenames:
        smoke = metafunc.config.getoption("benchmark_disable", False)
        archs = DEFAULT_ARCHS[:1] if smoke else DEFAULT_ARCHS
        metafunc.parametrize("arch", archs, ids=[arch_short(a) for a in archs])


@pytest.mark.parametrize("name", BLOCKS, ids=[n.split(".", 1)[1] for n in BLOCKS])
def test_sd14_block(benchmark, figure, target, name, arch, tmp_path):
    case = CASES[name]
    why = case.unavailable()
    if why:
        pytest.skip(f"{name}: {why}")
    smoke = benchmark.disabled
    size = case.quick[0]
    cfg = Config(
        archs=(arch,), out_dir=tmp_path, torch_compile="none", plots=False, publish_cache=False, smoke=smoke,
        timer=Timer(primary="wall"),
    )  # fmt: skip
    dev = ttnn.open_device(device_id=0, arch=arch)
    threads = torch.get_num_threads()
    # as the sweep runs its rows (run_sweep): one torch thread on every side
    torch.set_num_threads(cfg.threads)
    try:
        built = case.build(size, dev)
        row = measure_row(dataclasses.replace(case, build=lambda *_: built), size, arch, dev, cfg)
        assert row["status"] == "ok", f"FAILED {failures({'cases': [row]})}\n{row.get('traceback', '')}"
        benchmark(built.jit, *built.inputs.tt)
    finally:
        torch.set_num_threads(threads)
        ttnn.close_device(dev)

    block = name.split(".", 1)[1]
    pe, pj = row["predicted_us_eager"], row["predicted_us_jit"]
    le, lj = row["launches_eager"], row["launches_jit"]
    print(
        f"\nSD1.4 {block} {size}x{size} on {arch_short(arch)} ({row['rounds']} round{'s' * (row['rounds'] > 1)}, "
        "medians, wall (process CPU) ms): "
        + ", ".join(f"{k} {row[f'{n}_wall_ms']:.2f} ({row[f'{n}_cpu_ms']:.2f})" for k, n in SIDES)
        + f"; launches eager {le} -> JIT {lj}; PREDICTED device time (cost model) "
        f"eager {pe:.1f} us -> JIT {pj:.1f} us ({pe / pj:.2f}x); PCC JIT {row['pcc']:.6f}, eager {row['pcc_eager']:.6f}"
    )
    assert row["pcc"] >= PCC_MIN.get(name, 0.999) and row["pcc_eager"] >= PCC_MIN.get(name, 0.999), row["pcc"]
    assert lj <= le, f"{block}: the JIT launches {lj} kernels, eager {le}"
    if smoke:
        return
    a = arch_short(arch)
    figure(f"SD1.4 {block} {a} JIT / eager (sim, wall clock)", row["jit_ms"] / row["eager_ms"], "x")
    figure(f"SD1.4 {block} {a} predicted device eager / JIT", pe / pj, "x")
    target(f"SD1.4 {block} {a} JIT sim / torch f32 reference", row["jit_vs_reference"], TARGETS["jit_vs_reference"][1], "x")  # fmt: skip
