"""ttfuse installed beside the real ttnn 0.81.1: one process, one interpreter (issue 18, build item 2).

(a) both import, in either order, and neither replaces the other: `ttnn` is the wheel, `ttfuse.ttnn` the facade;
(b) the backend corpus (conformance/backend_corpus.py: small functions, Boltz and SD3.5 blocks) compiled by
    `ttfuse.jit(backend="ttnn")`: every `ttnn.*` call in the generated source (and in the fused kernels' ttnn rules)
    resolves to a real ttnn callable and its arguments bind to the real signature (conformance/inprocess.py);
(c) the data formats: the simulator's rounding compared bit for bit with the real host conversion, in-process
    (the same cases and comparison as tests/conformance/test_formats_vs_ttnn.py, which uses a subprocess).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections import Counter
from importlib import metadata

import numpy as np
import pytest
import torch

from conformance import backend_check as bk
from conformance import inprocess as ip

pytestmark = pytest.mark.conformance


# ------------------------------------------------------------------------------------------------ (a) imports
def test_real_ttnn_and_ttfuse_share_the_process(real_ttnn):
    import ttfuse
    from ttfuse import ttnn as facade

    assert metadata.version("ttnn") == "0.81.1"
    assert sys.version_info[:2] >= (3, 10)
    assert sys.modules["ttnn"] is real_ttnn and facade is not real_ttnn
    assert type(real_ttnn.bfloat8_b).__module__.startswith("ttnn"), type(real_ttnn.bfloat8_b)
    # the facade computes; the wheel converts: both on the same numpy data, in this one process
    x = np.linspace(-3, 3, 32 * 32, dtype=np.float32).reshape(32, 32)
    real = real_ttnn.to_dtype(real_ttnn.Tensor(x, real_ttnn.bfloat8_b), real_ttnn.float32).to_numpy()
    sim = facade.to_torch(
        facade.from_torch(torch.from_numpy(x), dtype=facade.bfloat8_b, layout=facade.TILE_LAYOUT)
    )
    assert np.array_equal(sim.float().numpy().view(np.int32), np.asarray(real, np.float32).view(np.int32))
    assert ttfuse.jit is not None and sys.modules["ttnn"] is real_ttnn  # nothing above replaced the wheel


def test_real_ttnn_first_then_ttfuse_in_a_fresh_process():
    """The order of a TT user's script: the wheel first, then ttfuse (pytest imported ttfuse first above)."""
    code = textwrap.dedent(
        """
        import sys
        from conformance.inprocess import import_real_ttnn
        ttnn = import_real_ttnn()
        import torch, ttfuse
        from ttfuse import ttnn as facade
        assert sys.modules["ttnn"] is ttnn and facade is not ttnn
        dev = facade.open_device(device_id=0)
        x = facade.from_torch(torch.ones(64, 64), dtype=facade.bfloat16, layout=facade.TILE_LAYOUT, device=dev)
        f = ttfuse.jit(lambda a: facade.add(facade.relu(a), 1.0))
        assert float(facade.to_torch(f(x)).mean()) == 2.0
        assert sys.modules["ttnn"] is ttnn
        print("ok", ttnn.__name__, type(ttnn.bfloat16).__module__)
        """
    )
    from conformance.inprocess import HERE

    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=HERE.parent, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip().startswith("ok ttnn"), proc.stdout


# ---------------------------------------------------------------------------------------- (b) ttnn-backend code
@pytest.fixture(scope="session")
def ttnn_backend_corpus(real_ttnn):
    """[(name, generated source)] of the corpus compiled with `ttfuse.jit(backend="ttnn")`, and the failures."""
    import ttfuse
    from conformance import backend_corpus as bc
    from ttfuse import ttnn

    cases = bc.small_cases()
    failed: list[tuple[str, str]] = []
    dev = ttnn.open_device(device_id=0)
    try:
        more, f = bc.boltz_cases(dev)
        cases += more
        failed += f
    finally:
        ttnn.close_device(dev)
    mesh = ttnn.open_mesh_device(ttnn.MeshShape(1, 1))
    out = []
    try:
        more, f = bc.sd35_cases(mesh)
        cases += more
        failed += f
        for c in cases:
            try:
                low = ttfuse.jit(c.fn, backend="ttnn").lower(*c.args, **c.kwargs)
            except Exception as e:  # noqa: BLE001 - listed by the test
                failed.append((c.name, f"{type(e).__name__}: {e}".splitlines()[0]))
                continue
            out.append((c.name, low.source, low.compiled.globals))
    finally:
        ttnn.close_mesh_device(mesh)
    return out, failed


def test_corpus_compiles_with_the_ttnn_backend(ttnn_backend_corpus, real_ttnn):
    compiled, failed = ttnn_backend_corpus
    assert not failed, "cases that did not compile with backend='ttnn':\n" + "\n".join(map(str, failed))
    names = [n for n, _, _ in compiled]
    assert any(n.startswith("boltz ") for n in names) and any(n.startswith("sd35 ") for n in names), names
    # the generated code calls the real wheel: its `ttnn` global is the module imported here
    assert all(glb["ttnn"] is real_ttnn for _, _, glb in compiled)


def test_generated_code_holds_no_ttfuse_objects(ttnn_backend_corpus):
    """Dtypes, memory and program configs are written as `ttnn.X(...)` literals the real module evaluates, not
    globals holding ttfuse objects that real ops reject (they were, until codegen checked the literal's round
    trip against ttfuse's API instead of the real module: ttfuse/codegen.py `_Gen.__init__`)."""
    compiled, _ = ttnn_backend_corpus
    found = {}
    for name, src, glb in compiled:
        for gname, _tname, where in bk.scan(src, f"graph {name}", glb=glb).globals:
            t = type(glb[gname])
            if t.__module__.split(".")[0] == "ttfuse":
                found.setdefault(t.__name__, f"{gname} in {where}")
    assert not found, f"generated ttnn code passes ttfuse objects to real ttnn: {found}"


def test_generated_config_literals_construct_in_real_ttnn(ttnn_backend_corpus):
    """Every static `ttnn.X(...)` expression of the generated code (program, compute-kernel and memory configs,
    dtypes) evaluated with the real ttnn here, by the oracle's own `resolve` command."""
    from conformance import oracle

    compiled, _ = ttnn_backend_corpus
    exprs = sorted({e[0] for name, src, glb in compiled for e in bk.scan(src, name, glb=glb).expressions})
    reply = oracle.cmd_resolve({"expressions": exprs})
    bad = [(text, r["error"]) for text, r in zip(exprs, reply["expressions"], strict=True) if not r["ok"]]
    assert not bad, f"{len(bad)} generated literals real ttnn rejects:\n" + "\n".join(map(str, bad))
    types_made = {r["type"] for r in reply["expressions"]}
    assert len(exprs) > 10 and {"WormholeComputeKernelConfig", "SDPAProgramConfig"} <= types_made, types_made


def test_every_generated_ttnn_call_resolves_and_binds(ttnn_backend_corpus, real_ttnn, capsys):
    compiled, _ = ttnn_backend_corpus
    sites = [s for name, src, _ in compiled for s in ip.call_sites(src, f"graph {name}")]
    rules = [s for q, src in bk.kernel_rule_sources() if src for s in ip.call_sites(src, f"kernel {q} rule")]
    report = ip.check_calls(real_ttnn, sites + rules)
    assert not report.errors, (
        f"{len(report.errors)} generated ttnn calls do not fit real ttnn:\n"
        + "\n".join(map(str, report.errors))
    )
    c = report.counts
    assert c["calls"] > 100 and c["names"] > 20, c
    assert c["bound"] + c["by_doc"] == c["calls"], c
    assert c["bound"] >= 0.9 * c["calls"], f"too many calls checked only by their docs: {report.findings}"
    with capsys.disabled():
        print(
            f"\n[conformance312] generated ttnn calls: {c['calls']} ({c['names']} names) resolved in ttnn "
            f"{metadata.version('ttnn')}; bound to a real signature: {c['bound']}; keywords checked by docs: "
            f"{c['by_doc']}"
        )


def test_binder_rejects_a_call_that_does_not_fit(real_ttnn):
    """The checker itself, on the real wheel: a planted wrong call must fail for the right reason."""
    src = textwrap.dedent(
        """
        def f(a, b):
            x = ttnn.add(a, b, ttfuse_planted_kw=1)
            y = ttnn.matmul()
            z = ttnn.ttfuse_planted_op(a)
            w = ttnn.bfloat16(a)
            return ttnn.add(a, b, memory_config=None)
        """
    )
    report = ip.check_calls(real_ttnn, ip.call_sites(src, "planted"))
    got = Counter((f.kind, f.chain) for f in report.errors)
    assert got == Counter(
        {
            ("unbound", "ttnn.add"): 1,
            ("unbound", "ttnn.matmul"): 1,
            ("unresolved", "ttnn.ttfuse_planted_op"): 1,
            ("not_callable", "ttnn.bfloat16"): 1,
        }
    ), report.findings
    assert report.counts["bound"] == 1  # the last call binds
    detail = {f.chain: f.detail for f in report.errors}
    assert "ttfuse_planted_kw" in detail["ttnn.add"] and "missing required" in detail["ttnn.matmul"]


# ------------------------------------------------------------------------------------------------ (c) formats
def test_data_formats_bit_exact_in_process(real_ttnn):
    """Every case of the subprocess suite (random, hard and integer cases for each format), converted by the
    wheel in this process with the oracle's own command, compared bit for bit with the simulator."""
    from conformance import oracle
    from conformance.cases import FLOAT_FORMATS, INT_FORMATS, hard_cases, int_cases, random_cases
    from conformance.compare import compare_bits
    from ttfuse.numerics import round_to_dtype

    cases = random_cases() + hard_cases() + int_cases()
    reply = oracle.cmd_formats({"cases": [{"x": c.x, "dtype": c.dtype, "layout": c.layout} for c in cases]})
    assert reply["ttnn_version"] == "0.81.1"
    compared, bad = Counter(), []
    for case, expected in zip(cases, reply["results"], strict=True):
        sim = round_to_dtype(torch.from_numpy(case.x.copy()), case.dtype).numpy()
        comp = compare_bits(case.label, sim, expected, inputs=case.x)
        compared[case.dtype] += comp.compared
        if not comp.ok:
            bad.append(comp)
    assert not bad, f"{len(bad)} cases differ from ttnn: {[c.label for c in bad][:10]}"
    assert set(compared) == {*FLOAT_FORMATS, "float32", *INT_FORMATS}, compared
    assert all(compared[f] > 100_000 for f in FLOAT_FORMATS) and all(
        compared[f] > 500 for f in INT_FORMATS
    ), compared


def test_subprocess_oracle_client_runs_in_process(monkeypatch):
    """TTFUSE_ORACLE=inprocess: tests/conformance's client calls the oracle's commands here, no subprocess."""
    from conformance import client
    from conformance.cases import hard_cases

    def no_subprocess(*a, **k):
        raise AssertionError("the in-process oracle started a subprocess")

    monkeypatch.setattr(client.subprocess, "run", no_subprocess)
    monkeypatch.setenv("TTFUSE_ORACLE", "inprocess")
    monkeypatch.setenv("TTFUSE_ORACLE_PYTHON", "/nonexistent/python")  # never used in process
    assert client.oracle_available()
    case = next(c for c in hard_cases() if c.dtype == "bfloat8_b")
    reply = client.run_oracle("formats", {"cases": [{"x": case.x, "dtype": case.dtype}]})
    assert reply["ttnn_version"] == "0.81.1"
    assert reply["results"][0].shape == case.x.shape
    with pytest.raises(client.OracleError, match="failed in process"):
        client.run_oracle("formats", {"cases": [{"x": case.x, "dtype": "bfloat99"}]})
    monkeypatch.delenv("TTFUSE_ORACLE")
    assert not client.oracle_available()  # back to the subprocess client: that interpreter does not exist


# ------------------------------------------------------------------------------------------ the setup script
def test_setup_script_knows_this_venv_is_up_to_date():
    """setup_venv.sh --full --check on the venv running this test: its stamp matches (--check never installs)."""
    import time
    from pathlib import Path

    from conformance.inprocess import HERE

    script = HERE / "setup_venv.sh"
    t0 = time.perf_counter()
    proc = subprocess.run(
        ["bash", str(script), "--full", "--check", "--venv", sys.prefix],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "up to date" in proc.stdout and "torch, ttfuse" in proc.stdout, proc.stdout
    assert time.perf_counter() - t0 < 30
    assert (Path(sys.prefix) / ".ttfuse-stamp").is_file()
    # the oracle kind's stamp differs (no torch, no ttfuse): the same venv is not an up-to-date oracle venv
    other = subprocess.run(
        ["bash", str(script), "--check", "--venv", sys.prefix], capture_output=True, text=True, timeout=120
    )
    assert other.returncode == 1 and "not up to date" in other.stdout, other.stdout + other.stderr
    bad = subprocess.run(
        ["bash", str(script), "--no-such-option"], capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 2 and "usage" in bad.stderr
