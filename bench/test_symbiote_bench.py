"""tt-symbiote models with their blocks under @ttfuse.jit (issue 22): per model (tiny ViT encoder, tiny Llama and
Qwen2 prefill, tiny ResNet basic and bottleneck; bench/symbiote_cases.py) and device kind (Wormhole n150,
Blackhole p150), per forward (and for Llama and Qwen2 decode, per greedy decode step after a 32-token prefill,
`decode_ways`: eager with HF's host cache, JIT with the device KV cache, each step one graph per layer):

- kernel launches: tt-symbiote eager (its per-module path; the HF glue between its modules runs in torch on the
  host), the block graphs op by op (`jit_blocks(..., eager=True)`: the same device work as the JIT) and JIT;
- device time PREDICTED by the cost model (ttfuse/passes/cost.py through `ttfuse.profile`: every op the forward
  ran, kernels + device dispatch; host work and host <-> device transfers are not in it), the same three ways;
- the simulator's wall time, eager vs JIT (informational: it runs float32 math on the CPU, it says nothing about
  a chip);
- PCC of the JIT output vs tt-symbiote eager.
Figures only (bench/conftest.py `figure`): no targets; the pass/fail checks are tests/test_symbiote_jit.py.
MESH_DEVICE=T3K lets tt-symbiote's T3K-pinned norm modules run on the simulator in its eager run.
With --benchmark-disable (`make test`) each body runs once; the timed forwards are 3 per side either way.
"""

from __future__ import annotations

import pytest

pytest.importorskip("transformers")  # a pinned test dependency (pyproject)

from bench import symbiote_cases as C  # noqa: E402
from tests.conftest import pcc  # noqa: E402

ARCHS = {"wormhole_b0": "WH n150", "blackhole": "BH p150"}


@pytest.fixture(scope="module")
def sym():
    with C.symbiote_installed() as tt_symbiote:
        yield tt_symbiote


@pytest.mark.parametrize("arch", list(ARCHS))
@pytest.mark.parametrize("name", list(C.MODELS))
def test_symbiote_blocks_eager_vs_jit(benchmark, figure, sym, monkeypatch, name, arch):
    monkeypatch.setenv("MESH_DEVICE", "T3K")
    got = C.three_ways(sym, name, arch, timed=3)
    benchmark(got.forward)
    e, o, j = (got.sides[k] for k in ("eager", "op_by_op", "jit"))
    where = f"symbiote {name} {ARCHS[arch]}"
    figure(f"{where}: launches/forward eager", e.launches)
    figure(f"{where}: launches/forward JIT", j.launches)
    figure(f"{where}: predicted device us eager", e.predicted_us, "us")
    figure(f"{where}: predicted device us JIT", j.predicted_us, "us")
    figure(f"{where}: sim wall JIT / eager", C.median_ms(j) / C.median_ms(e), "x")
    p = pcc(j.out, e.out)
    figure(f"{where}: PCC JIT vs eager", p)
    print(
        f"\n{where}: launches eager {e.launches} / op-by-op {o.launches} / JIT {j.launches}; PREDICTED device "
        f"time eager {e.predicted_us:.1f} us / op-by-op {o.predicted_us:.1f} us / JIT {j.predicted_us:.1f} us; "
        f"sim wall eager {C.median_ms(e):.0f} ms / JIT {C.median_ms(j):.0f} ms; PCC JIT vs eager {p:.6f}; "
        f"traces {got.traces}"
    )
    assert p >= 0.9995  # a bench row with a wrong answer is an error, not a figure


@pytest.mark.parametrize("arch", list(ARCHS))
@pytest.mark.parametrize("name", list(C.DECODERS))
def test_symbiote_decode_eager_vs_jit(benchmark, figure, sym, monkeypatch, name, arch):
    monkeypatch.setenv("MESH_DEVICE", "T3K")
    got = C.decode_ways(sym, name, arch)
    benchmark(got.again)
    where = f"symbiote {name} {ARCHS[arch]}"
    steps = {k: v[1:] for k, v in got.sides.items()}  # the decode steps (positions 32..34), not the prefill

    def mean(way: str, attr: str) -> float:
        return sum(getattr(s, attr) for s in steps[way]) / len(steps[way])

    e, o, j = (mean(k, "launches") for k in ("eager", "op_by_op", "jit"))
    ep, op, jp = (mean(k, "predicted_us") for k in ("eager", "op_by_op", "jit"))
    figure(f"{where}: launches/step eager", e)
    figure(f"{where}: launches/step JIT", j)
    figure(f"{where}: predicted device us/step eager", ep, "us")
    figure(f"{where}: predicted device us/step JIT", jp, "us")
    p = min(pcc(js.out, es.out) for js, es in zip(got.sides["jit"], got.sides["eager"], strict=True))
    figure(f"{where}: min PCC JIT vs eager over the steps", p)
    print(
        f"\n{where}: per decode step launches eager {e:.0f} / op-by-op {o:.0f} / JIT {j:.0f}; PREDICTED device "
        f"time eager {ep:.1f} us / op-by-op {op:.1f} us / JIT {jp:.1f} us (eager runs attention, RoPE and the "
        f"cache on the host: not in its device time); min PCC JIT vs eager {p:.6f}; tokens "
        f"{got.tokens['jit']} (eager {got.tokens['eager']}); decode entries {got.entries}; traces {got.traces}"
    )
    assert (
        p >= 0.9995 and got.tokens["jit"] == got.tokens["eager"]
    )  # a wrong answer is an error, not a figure
