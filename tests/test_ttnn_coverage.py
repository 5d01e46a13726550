"""The facade is complete against the real ttnn 0.81.1's public tree (ttfuse/ttnn/ttnn_public_0.81.1.json):
every listed name resolves, implemented or a stub raising TtnnNotImplementedError that names it; names outside the
wheel stay AttributeErrors; implemented names win over stubs; docs/ttnn_coverage.md is current.

Main suite (no wheel needed): the data file stands for the wheel; tests/conformance/test_public_vs_ttnn.py checks
the data file against the live wheel.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest
import torch

from ttfuse import ttnn
from ttfuse.errors import TtnnNotImplementedError
from ttfuse.ttnn import _stubs

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the `conformance` package lives at the repo root

from conformance import gen_coverage  # noqa: E402

NAMES = _stubs.public_data()["names"]
MEMBER_SECTIONS = ("ttnn.MeshDevice", "ttnn.Tensor")


def _is_member(q: str) -> bool:
    return q.rsplit(".", 1)[0] in MEMBER_SECTIONS


def _use(obj, kind: str) -> None:
    """Use a stub the way code would: call it, instantiate it, read it."""
    if kind in ("op", "function", "method", "class", "enum"):
        obj(1, key=2)
    elif kind == "constant":
        bool(obj)
    elif kind == "module":
        obj.some_function()
    else:
        raise AssertionError(kind)


@pytest.fixture(scope="module")
def owners():
    device = ttnn.open_device(device_id=0)
    tensor = ttnn.from_torch(torch.zeros(32, 32), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)
    yield {"ttnn.MeshDevice": device, "ttnn.Tensor": tensor}
    ttnn.close_device(device)


# ------------------------------------------------------------------------------------------------ the data file
def test_data_file_is_sorted_and_kinded():
    data = _stubs.public_data()
    assert data["ttnn_version"] == _stubs.TTNN_VERSION
    assert list(NAMES) == sorted(NAMES)
    assert set(NAMES.values()) <= set(gen_coverage.KINDS)
    assert all(gen_coverage.section_of(q) in gen_coverage.SECTIONS for q in NAMES)
    # anchors that the wheel certainly has, with their kinds (a wrong generator would lose them)
    assert NAMES["ttnn.linear"] == "op"
    assert NAMES["ttnn.transformer.scaled_dot_product_attention"] == "op"
    assert NAMES["ttnn.Tensor.shape"] == "property"
    assert NAMES["ttnn.MeshDevice.compute_with_storage_grid_size"] == "method"
    assert not set(NAMES) & set(data["excluded"])


# ------------------------------------------------------------------------------------- every name resolves
def test_every_listed_name_resolves_implemented_or_a_stub_naming_it(owners):
    implemented = stubbed = 0
    for q, kind in NAMES.items():
        if _is_member(q):
            owner, short = owners[q.rsplit(".", 1)[0]], q.rsplit(".", 1)[1]
            try:
                obj = getattr(owner, short)
            except TtnnNotImplementedError as e:  # a property the simulator lacks raises on access
                assert kind == "property" and e.qualname == q and q in str(e), (q, e)
                stubbed += 1
                continue
            except Exception:  # noqa: BLE001 - an implemented property may refuse (e.g. a host-only field)
                implemented += 1
                continue
        else:
            obj = gen_coverage.resolve(q)  # an AttributeError here is a listed name the facade lost
        if not _stubs.is_stub(obj):
            implemented += 1
            continue
        stubbed += 1
        if q in _stubs.NAMESPACES:  # a whole namespace stubbed: its listed names are checked one by one here
            assert isinstance(obj, types.ModuleType) and _stubs.children(q), q
            continue
        with pytest.raises(TtnnNotImplementedError) as info:
            _use(obj, kind)
        assert info.value.qualname == q and q in str(info.value), (q, str(info.value))
        assert __file__ in str(info.value) or "test_ttnn_coverage.py" in str(info.value), (
            "names the user's line"
        )
    assert implemented + stubbed == len(NAMES)
    assert implemented >= 200 and stubbed > 0, (implemented, stubbed)


def test_importing_a_stub_does_not_raise():
    """`from ttnn import x` of an unimplemented x works (code that names it but never calls it runs)."""
    name = _a_stub("ttnn", "op")
    mod = types.ModuleType("user_code")
    exec(f"from ttfuse.ttnn import {name}", mod.__dict__)
    assert _stubs.is_stub(mod.__dict__[name])
    with pytest.raises(TtnnNotImplementedError, match=f"ttnn.{name}"):
        mod.__dict__[name]()


def _a_stub(namespace: str, kind: str) -> str:
    """A listed name of `kind` directly in `namespace` that the facade does not implement."""
    for q, k in NAMES.items():
        if k == kind and gen_coverage.section_of(q) == namespace and _stubs.is_stub(gen_coverage.resolve(q)):
            return q.rsplit(".", 1)[1]
    pytest.fail(f"no stubbed {kind} in {namespace}")


def test_names_outside_the_wheel_are_attribute_errors(owners):
    for expr in (
        lambda: ttnn.ttfuse_not_a_ttnn_name,
        lambda: ttnn.experimental.ttfuse_not_a_ttnn_name,
        lambda: ttnn.transformer.ttfuse_not_a_ttnn_name,
        lambda: owners["ttnn.Tensor"].ttfuse_not_a_member,
        lambda: owners["ttnn.MeshDevice"].ttfuse_not_a_member,
        lambda: owners["ttnn.Tensor"]._ttfuse_private,
    ):
        with pytest.raises(AttributeError) as info:
            expr()
        assert not isinstance(info.value, TtnnNotImplementedError)
    assert not hasattr(ttnn, "ttfuse_not_a_ttnn_name")
    assert hasattr(ttnn, "linear")


# ------------------------------------------------------------------------------------------- the stub kinds
def test_stub_class_and_enum():
    cls = getattr(ttnn, _a_stub("ttnn", "class"))
    assert isinstance(cls, type) and not isinstance(object(), cls)
    sub = type("UserSubclass", (cls,), {})  # subclassing a stub class works; instantiating raises
    with pytest.raises(TtnnNotImplementedError, match=cls.__ttfuse_stub__):
        sub()
    enum_name = _a_stub("ttnn", "enum")
    with pytest.raises(
        TtnnNotImplementedError, match=rf"ttnn\.{enum_name} .*`ttnn\.{enum_name}\.SOME_MEMBER`"
    ):
        _ = getattr(ttnn, enum_name).SOME_MEMBER
    assert getattr(ttnn, enum_name) is getattr(ttnn, enum_name), "one stub per name"


def test_stub_constant_refuses_every_use():
    name = _a_stub("ttnn", "constant")
    value = getattr(ttnn, name)
    assert name in repr(value)
    for use in (bool, iter, len, int, lambda v: v.field, lambda v: v(), lambda v: v[0]):
        with pytest.raises(TtnnNotImplementedError, match=f"ttnn.{name}"):
            use(value)
    with pytest.raises(TtnnNotImplementedError):
        value.field = 1


def test_stub_module_of_unlisted_content_names_the_module():
    name = _a_stub("ttnn", "module")
    mod = getattr(ttnn, name)
    assert isinstance(mod, types.ModuleType)
    with pytest.raises(TtnnNotImplementedError) as info:
        mod.anything(1)
    assert info.value.qualname == f"ttnn.{name}"
    with pytest.raises(AttributeError):
        _ = mod.__path__  # import machinery and inspect probe dunders: not stubs


def test_member_stubs_under_jit(owners):
    """A Tensor method the simulator lacks raises the same error on a traced tensor."""
    import ttfuse

    method = next(
        q.rsplit(".", 1)[1]
        for q, k in NAMES.items()
        if q.startswith("ttnn.Tensor.") and k == "method" and not hasattr(ttnn.Tensor, q.rsplit(".", 1)[1])
    )

    @ttfuse.jit
    def f(x):
        getattr(x, method)()
        return ttnn.relu(x)

    with pytest.raises(TtnnNotImplementedError, match=f"ttnn.Tensor.{method}"):
        f(owners["ttnn.Tensor"])


# ----------------------------------------------------------------------------- implemented names win, always
def test_a_name_defined_later_wins_over_its_stub(monkeypatch):
    name = _a_stub("ttnn", "function")
    assert _stubs.is_stub(getattr(ttnn, name))

    def implementation():
        return "implemented"

    monkeypatch.setattr(ttnn, name, implementation, raising=False)
    assert getattr(ttnn, name) is implementation
    status = gen_coverage.statuses()
    assert status[f"ttnn.{name}"][1] == "implemented"
    monkeypatch.undo()
    assert gen_coverage.statuses()[f"ttnn.{name}"][1] == "stub"


def test_complete_asks_an_existing_getattr_first_and_is_idempotent():
    listed = sorted(_stubs.children("ttnn.transformer"))
    mod = types.ModuleType("planted_namespace")
    mod.__dict__[listed[0]] = "defined"
    mod.__getattr__ = lambda name: "own" if name == listed[1] else (_ for _ in ()).throw(AttributeError(name))
    _stubs.complete(mod, "ttnn.transformer")
    _stubs.complete(mod, "ttnn.transformer")
    assert mod.__dict__[listed[0]] == "defined" and getattr(mod, listed[0]) == "defined"
    assert getattr(mod, listed[1]) == "own"
    assert _stubs.is_stub(getattr(mod, listed[2]))
    with pytest.raises(AttributeError):
        _ = mod.ttfuse_not_a_ttnn_name


def test_a_facade_submodule_file_is_imported_and_completed(tmp_path, monkeypatch):
    """A ttnn module implemented as a file under ttfuse/ttnn/ (as ttnn.types or ttnn.operations will be) is
    imported on first access instead of stubbed: simulated with a planted file on the package's path."""
    name = _a_stub("ttnn", "module")
    (tmp_path / f"{name}.py").write_text("PLANTED = 'implemented here'\n")
    monkeypatch.setattr(ttnn, "__path__", [*ttnn.__path__, str(tmp_path)])
    try:
        mod = getattr(ttnn, name)
        assert not _stubs.is_stub(mod) and mod.PLANTED == "implemented here"
        assert mod.__name__ == f"ttfuse.ttnn.{name}"
    finally:
        vars(ttnn).pop(name, None)
        sys.modules.pop(f"ttfuse.ttnn.{name}", None)
    monkeypatch.undo()
    assert _stubs.is_stub(getattr(ttnn, name))


def test_a_namespace_file_is_completed_with_the_listed_stubs():
    """`ttnn.types` (a listed namespace): its listed names the file lacks are stubs, its own names win."""
    mod = types.ModuleType("ttfuse.ttnn.types")
    mod.bfloat16 = "implemented here"
    _stubs.complete(mod, "ttnn.types")
    assert mod.bfloat16 == "implemented here"
    other = next(n for n in sorted(_stubs.children("ttnn.types")) if n != "bfloat16")
    assert _stubs.is_stub(getattr(mod, other))
    with pytest.raises(AttributeError):
        _ = mod.ttfuse_not_a_ttnn_name


# ---------------------------------------------------------------------------------------------- the document
def test_coverage_doc_is_current():
    assert gen_coverage.DOC.exists(), "run .venv/bin/python conformance/gen_coverage.py"
    assert gen_coverage.DOC.read_text() == gen_coverage.build(), (
        f"{gen_coverage.DOC} is stale: run .venv/bin/python conformance/gen_coverage.py"
    )


def test_doc_counts_follow_the_statuses():
    data = _stubs.public_data()
    status = gen_coverage.statuses()
    text = gen_coverage.render(data, status)
    impl = sum(s == "implemented" for _, s, _ in status.values())
    assert f"| **all** | {impl} | {len(status) - impl} | {len(status)} |" in text
    planted = dict(status)
    planted["ttnn.linear"] = ("op", "stub", "")
    assert f"| **all** | {impl - 1} | {len(status) - impl + 1} | {len(status)} |" in gen_coverage.render(
        data, planted
    )
    planted["ttnn.linear"] = ("op", "**unresolved**", "AttributeError")
    assert "resolve to neither" in gen_coverage.render(data, planted)


def test_data_path_matches_the_facade():
    assert gen_coverage.DATA == _stubs.DATA


def test_check_command_tells_stale_from_current(tmp_path, monkeypatch, capsys):
    doc = tmp_path / "ttnn_coverage.md"
    doc.write_text(gen_coverage.DOC.read_text())
    monkeypatch.setattr(gen_coverage, "DOC", doc)
    assert gen_coverage.main(["--check"]) == 0
    doc.write_text(doc.read_text().replace("| implemented |", "| stub |", 1))
    assert gen_coverage.main(["--check"]) == 1
    assert "stale" in capsys.readouterr().err
    assert gen_coverage.main([]) == 0 and gen_coverage.main(["--check"]) == 0
