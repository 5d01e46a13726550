"""The ttnn backend's code against the real ttnn 0.81.1 module (issue 5 item 5).

Sources: what `ttfuse.codegen` emits with backend='ttnn' for every graph of the lowered corpus (small functions
exercising the fused kernels, the Boltz and SD3.5 block functions), and the ttnn rule of every fused kernel.
Every `ttnn.a.b` chain in them is resolved against the real module, every keyword of a `ttnn.x(...)` call checked
against the real signature, and every static config literal (`ttnn.SDPAProgramConfig(...)`) evaluated with the
real ttnn, in one oracle run (`resolve`). Known discrepancies (reported) are in conformance/backend_check.py KNOWN.
"""

from __future__ import annotations

import pytest

from conformance import backend_check as bk
from tests.conformance.conftest import fail_on, record_counts

pytestmark = pytest.mark.conformance

# a hand-written "generated" source with planted mistakes, for the tests of the checker itself
PLANTED_SOURCE = """
def planted(v0, v1):
    v2 = ttnn.linear(v0, v1, compute_kernel_config=ttnn.WormholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.HiFi2))
    v3 = ttnn.ttfuse_planted_op(v2)
    v4 = ttnn.transformer.ttfuse_planted_attention(v3, v3, v3)
    v5 = ttnn.multiply(v4, v2, ttfuse_planted_kw=True)
    v6 = ttnn.transformer.scaled_dot_product_attention(
        v5, v5, v5, program_config=ttnn.SDPAProgramConfig(q_chunk_size=32, k_chunk_size=32)
    )
    return ttnn.typecast(v6, ttnn.bfloat16_planted)
"""


@pytest.fixture(scope="session")
def backend_scans(lowered_corpus):
    """{"graphs": Scan, "rules": Scan, "planted": Scan} and the number of sources of each kind."""
    lowered, _failed = lowered_corpus
    graphs = []
    for name, low in lowered:
        src, glb = bk.ttnn_backend_source(low.graph, "block")
        graphs.append(bk.scan(src, f"graph {name}", glb=glb))
    rules = [
        bk.scan(src, f"kernel {q} ttnn rule", expressions=False) for q, src in bk.kernel_rule_sources() if src
    ]
    return {
        "graphs": bk.merge(graphs),
        "rules": bk.merge(rules),
        "planted": bk.scan(PLANTED_SOURCE, "planted source", glb={"ttnn": None}),
        "n_graphs": len(graphs),
        "n_rules": len(rules),
    }


@pytest.fixture(scope="session")
def backend_reply(backend_scans, oracle_call):
    scans = [backend_scans[k] for k in ("graphs", "rules", "planted")]
    request = bk.oracle_request(bk.merge(scans))
    return request, oracle_call("resolve", request)


@pytest.fixture(scope="session")
def backend_report(backend_scans, backend_reply, conformance_counts):
    request, reply = backend_reply
    report = bk.check(bk.merge([backend_scans["graphs"], backend_scans["rules"]]), reply, request)
    graphs, rules = backend_scans["n_graphs"], backend_scans["n_rules"]
    record_counts(conformance_counts["backend"], report, graphs=graphs, rules=rules, sources=graphs + rules)
    return report


def _fail(findings) -> None:
    fail_on(
        findings,
        "ttnn-backend references real ttnn rejects (fix the backend, or report it and list it in "
        "conformance/backend_check.py KNOWN)",
    )


def test_corpus_covers_small_functions_and_model_blocks(lowered_corpus, backend_scans):
    lowered, failed = lowered_corpus
    names = [n for n, _ in lowered]
    from conformance.backend_corpus import small_cases

    assert {c.name for c in small_cases()} <= set(names), f"small functions failed to lower: {failed}"
    assert any(n.startswith("boltz ") for n in names), f"no Boltz block was lowered: {failed}"
    kernels = {n.op for _, low in lowered for n in low.graph.nodes if n.op.startswith("kernels.")}
    assert {"kernels.eltwise", "kernels.transition"} <= kernels, kernels


def test_generated_code_references_only_real_ttnn(backend_scans, backend_reply):
    request, reply = backend_reply
    _fail(bk.check(backend_scans["graphs"], reply, request).errors)


def test_kernel_ttnn_rules_reference_only_real_ttnn(backend_scans, backend_reply):
    request, reply = backend_reply
    report = bk.check(backend_scans["rules"], reply, request, known={})
    assert report.counts["calls"] > 10, "the kernels' ttnn rules should call ttnn ops"
    _fail(report.errors)


def test_known_list_is_exact(backend_report):
    _fail(backend_report.errors)
    assert not backend_report.stale, (
        f"stale entries in conformance/backend_check.py KNOWN (fixed?): {backend_report.stale}"
    )


# ------------------------------------------------------------------------------------------- the checker itself
def test_checker_catches_planted_names_keywords_and_literals(backend_scans, backend_reply):
    request, reply = backend_reply
    report = bk.check(backend_scans["planted"], reply, request, known={})
    got = {(f.kind, f.subject) for f in report.errors}
    assert got == {
        ("unresolved", "ttnn.ttfuse_planted_op"),
        ("unresolved", "ttnn.transformer.ttfuse_planted_attention"),
        ("unresolved", "ttnn.bfloat16_planted"),
        ("keyword", "ttnn.multiply(ttfuse_planted_kw=)"),
        ("construct", "ttnn.SDPAProgramConfig"),
    }, got
    construct = next(f for f in report.errors if f.kind == "construct")
    assert "compute_with_storage_grid_size" in construct.detail  # the oracle names the missing required field


def test_scanner_finds_chains_calls_literals_and_globals():
    src = "def f(v0):\n    return ttnn.a.b(v0, k=ttnn.C(x=1, y=(2, ttnn.E.F)), m=_c0)\n"
    s = bk.scan(src, "t", glb={"ttnn": None, "_c0": object()})
    assert sorted(r.chain for r in s.references) == ["ttnn.C", "ttnn.E.F", "ttnn.a.b"]
    assert [(c.chain, c.keywords) for c in s.calls] == [("ttnn.a.b", ("k", "m")), ("ttnn.C", ("x", "y"))]
    assert [e[0] for e in s.expressions] == ["ttnn.C(x=1, y=(2, ttnn.E.F))"]  # not the call holding v0
    assert [(g[0], g[1]) for g in s.globals] == [("_c0", "object")]
