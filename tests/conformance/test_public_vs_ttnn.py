"""The stored public tree (ttfuse/ttnn/ttnn_public_0.81.1.json, which the facade's stubs and docs/ttnn_coverage.md
are made from) is exactly what the live wheel says (oracle `public`), so it cannot drift; and the facade's
implemented names really exist in the wheel with a compatible kind.

Regenerate the data file with `.venv/bin/python conformance/gen_coverage.py --public`, then the doc with
`.venv/bin/python conformance/gen_coverage.py`.
"""

from __future__ import annotations

import pytest

from conformance import gen_coverage
from tests.conformance.conftest import oracle

pytestmark = pytest.mark.conformance


@pytest.fixture(scope="module")
def public_reply() -> dict:
    return oracle("public", {})


def test_data_file_is_what_the_wheel_says(public_reply):
    stored = gen_coverage.DATA.read_text()
    fresh = gen_coverage.public_json(public_reply)
    if stored != fresh:
        import json

        old, new = json.loads(stored), json.loads(fresh)
        added = sorted(set(new["names"]) - set(old["names"]))
        removed = sorted(set(old["names"]) - set(new["names"]))
        rekinded = sorted(
            q for q in set(old["names"]) & set(new["names"]) if old["names"][q] != new["names"][q]
        )
        raise AssertionError(
            f"{gen_coverage.DATA} is stale (run .venv/bin/python conformance/gen_coverage.py --public): "
            f"added {added[:20]}, removed {removed[:20]}, kind changed {rekinded[:20]}, "
            f"excluded {'same' if old['excluded'] == new['excluded'] else 'changed'}"
        )


def test_the_tree_is_whole(public_reply):
    """Every namespace and both member classes are listed, with every kind the data file knows; re-exported
    stdlib modules are excluded, not listed."""
    names = public_reply["names"]
    sections = {gen_coverage.section_of(q) for q in names}
    assert sections == set(gen_coverage.SECTIONS), sections
    assert set(names.values()) == set(gen_coverage.KINDS)
    assert len(names) > 1000
    assert "ttnn.os" in public_reply["excluded"] and "ttnn.os" not in names
    assert names["ttnn.experimental.minimal_matmul"] == "op"
    assert names["ttnn.MeshDevice.core_grid"] == "property"


def test_no_listed_name_is_missing_from_the_wheel(oracle_call):
    """The other direction of the drift check: resolving each stored name in the wheel (oracle `api`, without
    signatures: some of the wheel's nanobind signature texts do not parse, e.g. set_printoptions's)."""
    from ttfuse.ttnn._stubs import public_data

    names = sorted(public_data()["names"])
    reply = oracle_call("api", {"names": names, "signatures": False})
    missing = [q for q in names if not reply["results"][q]["exists"]]
    assert not missing, missing[:50]
