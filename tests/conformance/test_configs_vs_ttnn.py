"""ttfuse's config objects against the real ttnn 0.81.1 classes (issue 5 item 3).

Every program config and compute kernel config the selection functions produce over their sweep (shapes x
Wormhole n150 / Blackhole p150 11x10 and 13x10 x bfloat16 / bfloat8_b x fp32 accumulation off/on x max_grid), every
config the select-configs pass stored in the lowered backend corpus, and one sample per config class with every
field set, are built as the real ttnn class from their field values in one oracle run; each field read back must
equal ttfuse's. Each class's field names and defaults are compared with the real constructor.
"""

from __future__ import annotations

import dataclasses

import pytest

from conformance import config_check as cc
from conformance.config_check import ConfigReport, compare_objects, compare_schemas

pytestmark = pytest.mark.conformance

PLANTED = "planted: per_core_N sent as 7, ttfuse holds 6"


@pytest.fixture(scope="session")
def config_sets(lowered_corpus):
    graphs = [low.graph for _name, low in lowered_corpus[0]]
    return {
        "selected": cc.selection_sweep(),
        "graph": cc.graph_configs(graphs),
        "samples": cc.class_samples(),
    }


@pytest.fixture(scope="session")
def config_reply(config_sets, oracle_call):
    """One oracle run: every config (and one planted, tampered on the wire) built as the real class."""
    from ttfuse.types import to_json_value

    every = [c for group in config_sets.values() for c in group]
    request = cc.request(every)
    label, cfg = next(c for c in config_sets["samples"] if c[0] == "sample reuse")
    tampered = to_json_value(cfg)
    tampered["f"]["per_core_N"] = 7
    request["objects"].append({"label": PLANTED, "value": tampered})
    reply = oracle_call("configs", request)
    return {
        "results": reply["results"][:-1],
        "planted": reply["results"][-1],
        "schemas": reply["schemas"],
        "planted_cfg": cfg,
    }


@pytest.fixture(scope="session")
def config_report(config_sets, config_reply, conformance_counts):
    every = [c for group in config_sets.values() for c in group]
    report = ConfigReport()
    compare_objects(every, config_reply["results"], report)
    compare_schemas(config_reply["schemas"], report)
    c = conformance_counts["configs"]
    if not c:
        c.update(report.counts)
        for k, group in config_sets.items():
            c[k] = len(group)
        c["errors"] = len(report.errors)
    return report


def _fail(findings) -> None:
    if findings:
        raise AssertionError(
            f"{len(findings)} config discrepancies with ttnn 0.81.1:\n" + "\n".join(map(str, findings))
        )


def test_sweep_covers_devices_dtypes_and_variants(config_sets):
    sel = config_sets["selected"]
    labels = " ".join(label for label, _ in sel)
    names = {type(c).__name__ for _, c in sel}
    assert len(sel) >= 150, len(sel)
    for what in (
        "wormhole_b0:n150",
        "blackhole:p150:11x10",
        "blackhole:p150:13x10",
        "bfloat16",
        "bfloat8_b",
        "fp32=True",
        "fp32=False",
    ):
        assert what in labels, what
    assert {
        "MatmulMultiCoreReuseMultiCastProgramConfig",
        "MatmulMultiCoreReuseMultiCast1DProgramConfig",
        "WormholeComputeKernelConfig",
    } <= names, names


def test_selected_configs_construct_with_identical_fields(config_sets, config_report):
    labels = {label for label, _ in config_sets["selected"]}
    _fail([f for f in config_report.errors if f.label in labels])


def test_graph_configs_construct_with_identical_fields(config_sets, config_report):
    """What the select-configs pass stored in the lowered corpus (program and compute kernel configs)."""
    labels = {label for label, _ in config_sets["graph"]}
    assert config_sets["graph"], "the lowered corpus should carry configs chosen by the select-configs pass"
    _fail([f for f in config_report.errors if f.label in labels])


def test_every_config_class_constructs_with_identical_fields(config_sets, config_report):
    from ttfuse.configs import CONFIG_CLASSES

    assert {type(c).__name__ for _, c in config_sets["samples"]} == set(CONFIG_CLASSES)
    labels = {label for label, _ in config_sets["samples"]}
    _fail([f for f in config_report.errors if f.label in labels])


def test_config_class_fields_and_defaults_match_ttnn(config_report):
    from ttfuse.configs import CONFIG_CLASSES

    _fail([f for f in config_report.errors if f.label in CONFIG_CLASSES])


def test_schema_notes_are_exact(config_report):
    used = {(f.cls or f.label, f.field, f.kind) for f in config_report.findings if f.resolution}
    assert set(cc.SCHEMA_NOTES) <= used, f"stale SCHEMA_NOTES: {set(cc.SCHEMA_NOTES) - used}"


# ------------------------------------------------------------------------------------------- the checker itself
def test_checker_catches_a_planted_field_value(config_reply):
    report = ConfigReport()
    compare_objects([(PLANTED, config_reply["planted_cfg"])], [config_reply["planted"]], report)
    assert [(f.field, f.kind) for f in report.errors] == [("per_core_N", "field_value")], report.findings


def test_checker_catches_planted_schema_differences(config_reply, monkeypatch):
    from ttfuse import configs

    @dataclasses.dataclass(frozen=True, kw_only=True)
    class SDPAProgramConfig:  # noqa: N801 - stands for ttfuse's class of that name
        compute_with_storage_grid_size: tuple[int, int]
        q_chunk_size: int = 64  # ttnn: required (a note, not an error)
        k_chunk_size: int
        ttfuse_planted_field: int = 0
        max_cores_per_head_batch: int = 8  # ttnn: 16

    monkeypatch.setitem(configs.CONFIG_CLASSES, "SDPAProgramConfig", SDPAProgramConfig)
    report = ConfigReport()
    compare_schemas({"SDPAProgramConfig": config_reply["schemas"]["SDPAProgramConfig"]}, report)
    got = {(f.field, f.kind) for f in report.findings if f.label == "SDPAProgramConfig"}
    assert {
        ("ttfuse_planted_field", "field_missing"),
        ("max_cores_per_head_batch", "default"),
        ("q_chunk_size", "required"),
        ("max_k_splits", "extra_real_field"),
    } <= got, got
    assert ("q_chunk_size", "required") not in {(f.field, f.kind) for f in report.errors}
