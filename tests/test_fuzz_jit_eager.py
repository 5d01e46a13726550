"""Differential test of JIT semantics on random programs (tests/fuzz_programs.py draws them).

For every program that eager TTNN accepts:
- `jit(passes=[])` is bit-identical to eager: the returned tensors and every argument (in-place writes);
- the full pipeline is as accurate as eager against a float32 torch reference (RMS relative error within 1.5x
  eager's plus half a bfloat16 ulp; no element off by more than 4x eager's worst plus 2% of the scale, or the
  worst per-element relative error within 4x eager's), outputs and written arguments alike, and the graph
  writes back exactly the arguments the program writes;
- a second call (memory hit) is bit-identical to the first; so is a fresh process that loads every program's
  entry from the disk cache (one subprocess at the end for all programs).
A program eager rejects must be rejected by the JIT too (same error class).

The seed is new every run unless TTFUSE_FUZZ_SEED is set; it is printed in pytest's header (tests/conftest.py)
and on failure. TTFUSE_FUZZ_EXAMPLES sets the number of programs (300 in CI; `TTFUSE_FUZZ_EXAMPLES=3000` for
the long run). A failing program is printed as TTNN source.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zlib
from collections import Counter
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, seed, settings

import ttfuse
from ttfuse import ttnn
from ttfuse.capture.trace import trace
from ttfuse.errors import TtfuseError

sys.path.insert(0, str(Path(__file__).parent))
from fuzz_programs import (  # noqa: E402
    as_list,
    bits,
    host,
    load_module,
    make_inputs,
    programs,
    to_device,
)

SEED = int(os.environ.get("TTFUSE_FUZZ_SEED") or 0)
EXAMPLES = int(os.environ.get("TTFUSE_FUZZ_EXAMPLES") or 300)


def _same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and torch.equal(bits(a), bits(b))


def _errors(out: torch.Tensor, ref: torch.Tensor) -> tuple[float, float, float, float] | None:
    """(RMS and max of the per-element relative errors, max abs error, scale) against the reference; None where
    it is not finite. Per element, so that a few large values (an exp) do not make the statistic a coin toss;
    relative to at least 1% of the scale, so that values near zero do not dominate it."""
    ref, out = ref.double(), out.double()
    if not (torch.isfinite(ref).all() and torch.isfinite(out).all()):
        return None
    scale = max(ref.abs().max().item(), 1e-3)
    rel = (out - ref).abs() / ref.abs().clamp_min(0.01 * scale)
    return rel.pow(2).mean().sqrt().item(), rel.max().item(), (out - ref).abs().max().item(), scale


def _accurate(jit: torch.Tensor, eager: torch.Tensor, ref: torch.Tensor) -> str | None:
    """None when the JIT's result is as accurate as eager's against the float32 reference:
    - its RMS relative error within 1.5x eager's plus half a bfloat16 ulp (3x eager's where that is larger:
      eager's own error measures how much the program amplifies rounding, e.g. a softmax of an exp, where which
      intermediates a fused kernel leaves unrounded moves the result by as much as eager's error), and
    - no element off by more than 4x eager's worst plus 2% of the scale, unless its worst relative error is
      within 4x eager's worst relative error: where the program amplifies rounding (an exp of values near 14
      turns half a bfloat16 ulp of its argument into 3%), eager's error at the one largest element is a single
      draw, and the worst relative error over all elements is the steadier measure of that amplification."""
    ej, ee = _errors(jit, ref), _errors(eager, ref)
    if ej is None or ee is None:
        return None
    (rj, xj, mj, scale), (re, xe, me, _) = ej, ee
    if rj > max(1.5 * re + 2.0**-9, 3 * re):
        return f"RMS relative error {rj:.4g} vs eager's {re:.4g}"
    if mj > 4 * me + 0.02 * scale and xj > 4 * xe:
        return (
            f"max error {mj:.4g} vs eager's {me:.4g} (scale {scale:.4g}); worst relative error {xj:.4g} vs "
            f"eager's {xe:.4g}"
        )
    return None


def test_random_programs_jit_equals_eager(tmp_path, record_property):
    device = ttnn.open_device(device_id=0)
    stats: Counter = Counter()
    ops: Counter = Counter()
    saved: list[dict] = []

    @seed(SEED)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        print_blob=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(programs())
    def check(p):
        try:
            one(p)
        except BaseException as e:
            stats[f"raised {type(e).__name__}"] += 1
            raise

    def one(p):
        k = stats["drawn"]
        stats["drawn"] += 1
        name = f"prog_{SEED}_{k}"
        path = tmp_path / f"{name}.py"
        path.write_text(p.ttnn_source())
        mod = load_module(path, f"ttfuse_fuzz_{name}")
        ref_ns: dict = {}
        exec(compile(p.torch_source(), f"<ref {name}>", "exec"), ref_ns)  # noqa: S102 - our own program
        host_in = make_inputs(
            p, zlib.crc32(p.ttnn_source().encode())
        )  # the same inputs when hypothesis replays

        def run(fn):
            ins = to_device(p, host_in, device)
            rounded = [host(t) for t in ins]
            outs = [host(o) for o in as_list(fn(*ins))]
            return outs, [host(t) for t in ins], rounded, ins

        try:
            e_outs, e_args, rounded, _ = run(mod.prog)
        except TtfuseError as e:  # eager rejects the program: the JIT must too
            stats["rejected"] += 1
            with pytest.raises(type(e)):
                run(ttfuse.jit(mod.prog, passes=[], enable_cache=False))
            return

        # 1. no passes: bit-identical, outputs and arguments
        z_outs, z_args, _, _ = run(ttfuse.jit(mod.prog, passes=[], enable_cache=False))
        for i, (a, b) in enumerate(zip(z_outs + z_args, e_outs + e_args)):
            what = f"output {i}" if i < len(e_outs) else f"argument {p.args[i - len(e_outs)].name}"
            assert _same_bits(a, b), (
                f"jit(passes=[]) differs from eager in {what}: max |diff| "
                f"{(a - b).abs().max().item() if a.shape == b.shape else a.shape}"
            )

        # 2. the whole pipeline: as accurate as eager against float32; writes the same arguments
        jf = ttfuse.jit(mod.prog)
        f_outs, f_args, _, _ = run(jf)
        ref = [r.float() for r in as_list(ref_ns["ref"](*[t.clone() for t in rounded]))]
        ref_args = _ref_args(p, rounded, ref_ns)
        for i, (j, e, r) in enumerate(zip(f_outs, e_outs, ref)):
            msg = _accurate(j, e, r)
            assert msg is None, f"output {i}: jit {msg}"
        _, _, _, ins = run(lambda *xs: xs[0])
        writes = {p.args[k].name for k in trace(mod.prog, tuple(ins), {}).writes}
        assert writes == p.written, (
            f"the graph writes back {sorted(writes)}, the program writes {sorted(p.written)}"
        )
        for a, j, e, r in zip(p.args, f_args, e_args, ref_args):
            msg = _accurate(j, e, r)
            assert msg is None, f"argument {a.name} (written in place): jit {msg}"

        # 3. a second call (memory hit) is bit-identical
        s_outs, s_args, _, _ = run(jf)
        assert jf.trace_count == 1
        assert all(_same_bits(a, b) for a, b in zip(s_outs + s_args, f_outs + f_args)), "second call differs"
        stats["ok"] += 1
        stats["writes args"] += bool(p.written)
        stats["ops"] += len(p.lines)
        ops.update(p.op_names())
        res = tmp_path / f"{name}.pt"
        torch.save({"inputs": host_in, "outs": f_outs, "args": f_args}, res)
        saved.append(
            {
                "file": path.name,
                "module": f"ttfuse_fuzz_{name}",
                "results": res.name,
                "specs": [(_DT[a.dtype], _LAY[a.layout], _MEM[a.mem]) for a in p.args],
            }
        )

    print(f"\nfuzz seed {SEED}: {EXAMPLES} examples")
    try:
        check()
    finally:
        record_property("fuzz_stats", dict(stats))
        print(f"fuzz seed {SEED}: {dict(stats)}\nops: {dict(ops.most_common())}")
    assert stats["ok"] >= 0.8 * stats["drawn"], f"too many programs rejected by eager: {dict(stats)}"

    # 4. a fresh process: every entry is a disk hit with the same bits
    (tmp_path / "index.json").write_text(json.dumps(saved))
    # the same device kind as this process's device (whatever an earlier test left in TTFUSE_ARCH), and the
    # reason of any miss in the report
    env = dict(os.environ, TTFUSE_ARCH=device.spec.name, TTFUSE_EXPLAIN_CACHE_MISSES="1")
    r = subprocess.run(
        [sys.executable, str(Path(__file__).parent / "fuzz_programs.py"), "replay", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    report = json.loads(r.stdout.strip().splitlines()[-1])
    assert report["checked"] == len(saved) and not report["bad"]


_DT = {"bf16": "bfloat16", "bf8": "bfloat8_b"}
_LAY = {"tile": "TILE_LAYOUT", "rm": "ROW_MAJOR_LAYOUT"}
_MEM = {"dram": "DRAM_MEMORY_CONFIG", "l1": "L1_MEMORY_CONFIG"}


def _ref_args(p, rounded, ref_ns) -> list[torch.Tensor]:
    """The float32 reference's value of every argument after the call (written ones changed)."""
    src = p.torch_source("ref_args").replace(
        "    return (" + ", ".join(p.outputs) + ("," if len(p.outputs) == 1 else "") + ")",
        "    return (" + ", ".join(a.name for a in p.args) + ",)",
    )
    ns: dict = {}
    exec(compile(src, "<ref args>", "exec"), ns)  # noqa: S102 - our own program
    return [t.float() for t in ns["ref_args"](*[t.clone() for t in rounded])]
