"""The facade's API against the real ttnn 0.81.1: every op exists under its name and namespace, every facade
keyword exists in the real op's signature, every type, enum member and constant exists (issue 5 item 4).

One oracle run describes every name (conftest `api_reply`); `conformance.api_check.compare` gives the findings.
A new finding is either a facade bug (fix the op module) or a deliberate extension (EXTENSIONS, with the reason);
known bugs already reported are in KNOWN. docs/ttnn_signatures.md is regenerated from the same data and compared.
"""

from __future__ import annotations

import pytest

from conformance import api_check
from conformance.api_check import FacadeName, Param, compare
from conformance.ttnn_introspect import doc_params, parse_nb_signature
from tests.conformance.conftest import fail_on, record_counts

pytestmark = pytest.mark.conformance


@pytest.fixture(scope="session")
def api_report(api_surface, api_reply, conformance_counts):
    report = compare(api_surface, api_reply["results"])
    record_counts(
        conformance_counts["api"],
        report,
        op_keywords=sum(len(n.params) for n in api_surface if n.category == "op"),
        extensions=sum(f.resolution.startswith("extension") for f in report.findings),
    )
    return report


def _fail(findings) -> None:
    fail_on(
        findings,
        "discrepancies with ttnn 0.81.1 (fix the facade, or list it in conformance/api_check.py with the reason)",
    )


def test_every_op_exists_in_ttnn(api_report, api_surface):
    ops = [n for n in api_surface if n.category == "op"]
    assert len(ops) >= 100, "the facade should expose the registered ops"
    assert not any(n.qualname.startswith("ttnn.kernels") for n in ops), "fused kernels are not ttnn API"
    _fail(
        [f for f in api_report.errors if f.kind == "missing_name" and f.qualname in {n.qualname for n in ops}]
    )


def test_every_op_keyword_is_in_the_real_signature(api_report):
    _fail([f for f in api_report.errors if f.kind in ("missing_param", "kind", "default")])


def test_every_type_enum_and_constant_exists_in_ttnn(api_report):
    _fail([f for f in api_report.errors if f.kind in ("missing_name", "value")])


def test_no_other_discrepancy(api_report):
    _fail(api_report.errors)


def test_allow_lists_are_exact(api_report):
    assert not api_report.stale, (
        "entries of conformance/api_check.py EXTENSIONS/KNOWN no longer match a finding (fixed? delete them): "
        f"{api_report.stale}"
    )


def test_coverage_doc_is_current(api_surface, api_report, api_reply):
    from conformance.gen_signatures import DOC, render

    text = render(api_surface, api_report, api_reply["ttnn_version"])
    assert DOC.exists(), f"{DOC} is missing: run .venv/bin/python conformance/gen_signatures.py"
    assert DOC.read_text() == text, f"{DOC} is stale: run .venv/bin/python conformance/gen_signatures.py"


# ------------------------------------------------------------------------------------------- the checker itself
def test_checker_catches_a_planted_op(api_reply, monkeypatch):
    """An op registered in the facade that ttnn lacks is a missing_name finding, through facade_surface()."""
    from ttfuse.opdef import OPS, Group, OpDef

    def ttfuse_planted_op(input_tensor, *, memory_config=None):
        """planted"""

    monkeypatch.setitem(
        OPS, "ttfuse_planted_op", OpDef("ttfuse_planted_op", ttfuse_planted_op, Group.ELTWISE_UNARY)
    )
    monkeypatch.setitem(
        OPS,
        "experimental.ttfuse_planted_op",
        OpDef("experimental.ttfuse_planted_op", ttfuse_planted_op, Group.ELTWISE_UNARY),
    )
    surface = [n for n in api_check.facade_surface() if "planted" in n.qualname]
    assert {n.qualname for n in surface} == {"ttnn.ttfuse_planted_op", "ttnn.experimental.ttfuse_planted_op"}
    report = compare(surface, api_reply["results"])
    assert {(f.qualname, f.kind) for f in report.errors} == {
        ("ttnn.ttfuse_planted_op", "missing_name"),
        ("ttnn.experimental.ttfuse_planted_op", "missing_name"),
    }


def _linear(api_surface) -> FacadeName:
    return next(n for n in api_surface if n.qualname == "ttnn.linear")


def test_checker_catches_a_planted_keyword(api_surface, api_reply):
    lin = _linear(api_surface)
    planted = FacadeName(
        lin.qualname, "op", (*lin.params, Param("ttfuse_planted_kw", "keyword_only", True, None))
    )
    report = compare([planted], api_reply["results"])
    assert [(f.param, f.kind) for f in report.errors] == [("ttfuse_planted_kw", "missing_param")]


def test_checker_catches_planted_defaults_kinds_and_values(api_surface, api_reply):
    lin = _linear(api_surface)
    params = tuple(
        Param(p.name, p.kind, p.has_default, True if p.name == "transpose_b" else p.default)
        for p in lin.params
    )
    # input_tensor_b made keyword-only and required is fine; `bias` made positional is not (ttnn: keyword-only)
    params = tuple(
        Param(p.name, "positional_or_keyword", p.has_default, p.default) if p.name == "bias" else p
        for p in params
    )
    surface = [
        FacadeName(lin.qualname, "op", params),
        FacadeName("ttnn.UnaryOpType.SILU", "enum_value", value=12345),
        FacadeName("ttnn.UnaryOpType.TTFUSE_PLANTED", "enum_value", value=1),
        FacadeName("ttnn.TILE_SIZE", "constant", value=64),
        FacadeName(
            "ttnn.DRAM_MEMORY_CONFIG",
            "constant",
            value={
                "memory_layout": "TensorMemoryLayout.INTERLEAVED",
                "buffer_type": "BufferType.L1",
                "shard_spec": None,
            },
        ),
    ]
    report = compare(surface, api_reply["results"])
    got = {(f.qualname, f.param, f.kind) for f in report.errors}
    assert got == {
        ("ttnn.linear", "transpose_b", "default"),
        ("ttnn.linear", "bias", "kind"),
        ("ttnn.UnaryOpType.SILU", None, "value"),
        ("ttnn.UnaryOpType.TTFUSE_PLANTED", None, "missing_name"),
        ("ttnn.TILE_SIZE", None, "value"),
        ("ttnn.DRAM_MEMORY_CONFIG", "buffer_type", "value"),
    }, got


def test_checker_reports_stale_allow_list_entries(api_surface, api_reply, monkeypatch):
    monkeypatch.setitem(api_check.KNOWN, ("ttnn.linear", "bias", "missing_param"), "planted: stale")
    report = compare(api_surface, api_reply["results"])
    assert ("ttnn.linear", "bias", "missing_param") in report.stale


def test_nanobind_signature_parser():
    text = (
        "def __call__(self, input_tensor_a: ttnn._ttnn.tensor.Tensor, input_tensor_b: int | float, /, *, "
        'program_config: "ttnn::x::Config" | Foo[a, b] | None = \\0, activations: '
        "collections.abc.Sequence[ttnn.UnaryWithParam] = \\1, **kwargs) -> ttnn._ttnn.tensor.Tensor"
    )
    params = parse_nb_signature(text, (None, []))
    assert [(p["name"], p["kind"], p["has_default"], p["default"]) for p in params] == [
        ("input_tensor_a", "positional_only", False, None),
        ("input_tensor_b", "positional_only", False, None),
        ("program_config", "keyword_only", True, None),
        ("activations", "keyword_only", True, []),
        ("kwargs", "var_keyword", False, None),
    ]
    assert [p["name"] for p in parse_nb_signature("def open_device(\\*, device_id: int, l1: int)")] == [
        "device_id",
        "l1",
    ]


def test_docstring_parameter_parser():
    doc = """Does things.

        Args:
            input_tensor (ttnn.Tensor): the input.
                continued (not a parameter): text.
            dim (int): the dim.

        Keyword Args:
            memory_config (ttnn.MemoryConfig, optional): where. Defaults to `None`.

        Returns:
            ttnn.Tensor: the output tensor.

        Example:
            >>> x = ttnn.foo(y)
        """
    assert doc_params(doc) == ["input_tensor", "dim", "memory_config"]
