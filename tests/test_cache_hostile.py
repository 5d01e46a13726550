"""Hostile disk cache entries: a cache file can never run code (ttfuse/cache_schema.py, codegen's comment_text).

A real entry is compiled once (a matmul with selected configs, a fused eltwise kernel, a dict + namedtuple
result with constants), then each test writes an edited copy into a fresh cache and loads it through a new jit
object, with the checksum left stale and recomputed (an attacker recomputes it: it only catches accidents).
Every edit must be rejected: one counted load_error, a recompile that returns the right answer, and a
CacheError under strict mode. Every payload is code that would create a marker file and set a builtins flag
if it ever ran, placed where it would run if a string reached generated source unescaped (a line break plus
the indentation of the surrounding code); neither may ever appear.

Free-text fields (source file, input names, notes, config and dict strings, result constants, arg specs) hold
any printable text as data: the expression payload in them loads (a disk hit) and stays inert.

Before the schema (checked against that code), the line-break payloads in the meta name, input names and
device ran when the entry loaded, one in a node's source file ran when the function was called, and a result
namedtuple naming `builtins:exec` ran its constant on every call.
"""

import builtins
import json
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import torch
from click.testing import CliRunner

from ttfuse import cache, ttnn
from ttfuse.errors import CacheError
from ttfuse.flags import flags
from ttfuse.ir import NodeSide
from ttfuse.jit import jit

FLAG = "TTFUSE_HOSTILE_PAYLOAD_RAN"


class Pair(NamedTuple):
    y: Any
    tag: Any


def hostile_fn(x, w, r):
    h = ttnn.linear(x, w)
    y = ttnn.multiply(ttnn.relu(ttnn.add(h, r)), 2.0)
    return {"out": Pair(y, "tag"), "n": 3}


# ------------------------------------------------------------------------------------------------ fixtures
class Pristine(NamedTuple):
    rel: Path  # the entry's path under the cache root
    entry: dict
    inputs: tuple
    expected: torch.Tensor


@pytest.fixture(scope="module")
def pristine():
    dev = ttnn.open_device(device_id=0)
    g = torch.Generator().manual_seed(7)
    inputs = tuple(
        ttnn.from_torch(
            torch.randn(64, 64, generator=g), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=dev
        )
        for _ in range(3)
    )
    with cache.fresh_cache() as root:
        out = jit(hostile_fn)(*inputs)
        (path,) = root.glob(f"v{cache.SCHEMA_VERSION}/??/*.json")
        p = Pristine(
            path.relative_to(root), json.loads(path.read_text()), inputs, ttnn.to_torch(out["out"].y)
        )
    yield p
    ttnn.close_device(dev)


@pytest.fixture
def fresh(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a relative marker path would land here too
    with cache.fresh_cache() as root:
        try:
            yield root
        finally:
            ran = hasattr(builtins, FLAG)
            if ran:  # so that one failure does not fail every later test
                delattr(builtins, FLAG)
    assert not ran, "a payload ran"


def _code(marker: Path) -> str:
    """An expression and statement that leaves both traces if it runs."""
    return f"open({str(marker)!r}, 'w').write('ran') and setattr(__import__('builtins'), {FLAG!r}, 1)"


PAYLOADS = {
    # kind -> (code, indent) -> text
    "newline": lambda code, ind: f"x.py\n{' ' * ind}{code}  #",
    "cr": lambda code, ind: f"x.py\r{' ' * ind}{code}  #",
    "u2028": lambda code, ind: f"x.py\u2028{' ' * ind}{code}  #",
    "expr": lambda code, ind: f"__import__('builtins').{code}",
}


# ------------------------------------------------------------------------------------------ entry surgery
def _node(e: dict, op: str) -> dict:
    return next(n for n in e["graph"]["nodes"] if n["op"] == op)


def _attr(e: dict, op: str, name: str) -> list:
    return next(kv for kv in _node(e, op)["attrs"] if kv[0] == name)


def _config(e: dict, key: str) -> list:
    return next(kv for kv in _node(e, "linear")["side"]["config"] if kv[0] == key)


def _set_config_key(e, s):
    _config(e, "memory")[0] = s


def _set_program_op(e, s):
    _attr(e, "kernels.eltwise", "program")[1]["$tuple"][0]["$tuple"][0] = s


def _set_dict_key(e, s):
    _config(e, "configs_by")[1]["$dict"][0][0] = s


def _set_out_key(e, s):
    e["graph"]["out_tree"]["d"][0][0] = s


def _set_attr_name(e, s):
    _attr(e, "linear", "dtype")[0] = s


def _set_op(e, s):
    _node(e, "kernels.eltwise")["op"] = s


def _set_device(e, s):
    e["device"] = s
    e["graph"]["meta"]["device"] = s


# field -> (setter(entry, text), indentation where generated code would run it, free text)
STRING_FIELDS = {
    "loc_file": (lambda e, s: _node(e, "kernels.eltwise")["side"]["loc"].__setitem__(0, s), 8, True),
    "loc_function": (lambda e, s: _node(e, "kernels.eltwise")["side"]["loc"].__setitem__(2, s), 8, False),
    "meta_name": (lambda e, s: e["graph"]["meta"].__setitem__("name", s), 0, False),
    "input_name": (lambda e, s: e["graph"]["meta"]["input_names"].__setitem__(0, s), 0, True),
    "meta_device": (lambda e, s: e["graph"]["meta"].__setitem__("device", s), 0, False),
    "note": (lambda e, s: _node(e, "linear")["side"]["notes"].__setitem__(0, s), 8, True),
    "replaced": (lambda e, s: _node(e, "kernels.eltwise")["side"]["replaced"].__setitem__(0, s), 8, False),
    "attr_string": (_set_program_op, 8, False),
    "attr_name": (_set_attr_name, 8, False),
    "op_name": (_set_op, 8, False),
    "config_string": (lambda e, s: _config(e, "memory").__setitem__(1, s), 8, True),
    "config_key": (_set_config_key, 8, False),
    "dict_key": (_set_dict_key, 8, True),
    "enum_member": (
        lambda e, s: _attr(e, "kernels.eltwise", "dtypes")[1]["$tuple"][0].__setitem__("v", s),
        8,
        False,
    ),
    "enum_class": (
        lambda e, s: _attr(e, "kernels.eltwise", "dtypes")[1]["$tuple"][0].__setitem__("$enum", s),
        8,
        False,
    ),
    "obj_class": (
        lambda e, s: _attr(e, "kernels.eltwise", "memory_configs")[1]["$tuple"][0].__setitem__("$obj", s),
        8,
        False,
    ),
    "penum_path": (
        lambda e, s: _attr(e, "linear", "dtype").__setitem__(1, {"$penum": s, "v": "HOST"}),
        8,
        False,
    ),
    "penum_member": (
        lambda e, s: _attr(e, "linear", "dtype").__setitem__(
            1, {"$penum": "ttfuse.types:StorageType", "v": s}
        ),
        8,
        False,
    ),
    "out_tree_nt": (lambda e, s: e["graph"]["out_tree"]["d"][0][1].__setitem__("nt", s), 0, False),
    "out_tree_const": (lambda e, s: e["graph"]["out_tree"]["d"][0][1]["k"][1].__setitem__("c", s), 0, True),
    "out_tree_key": (_set_out_key, 0, True),
    "function": (lambda e, s: e.__setitem__("function", s), 0, False),
    "device": (_set_device, 0, False),
    "arg_spec": (lambda e, s: e["arg_specs"].__setitem__(0, s), 0, True),
    "run": (lambda e, s: e.__setitem__("run", s), 0, False),
}

STRING_CASES = [
    (field, kind)
    for field, (_, _, free) in STRING_FIELDS.items()
    for kind in PAYLOADS
    if not (free and kind == "expr")  # printable text in a free-text field is data (test_free_text_is_inert)
]


def _deep(n: int) -> dict:
    v: Any = 0
    for _ in range(n):
        v = {"$tuple": [v]}
    return v


def _del_attr(e, name):
    n = _node(e, "linear")
    n["attrs"] = [kv for kv in n["attrs"] if kv[0] != name]


# name -> mutate(entry) for edits of structure and types (no payload string)
STRUCTURE = {
    "unknown_op": lambda e: _set_op(e, "no_such_op"),
    "unregistered_dotted_op": lambda e: _set_op(e, "os.system"),
    "attr_wrong_type": lambda e: _attr(e, "linear", "memory_config").__setitem__(1, 5),
    "attr_bare_list": lambda e: _attr(e, "kernels.eltwise", "outputs").__setitem__(1, [4]),
    "attr_missing": lambda e: _del_attr(e, "transpose_a"),
    "attr_extra": lambda e: _node(e, "linear")["attrs"].append(["evil", 1]),
    "attr_duplicate": lambda e: _node(e, "linear")["attrs"].append(["bias", None]),
    "attr_not_a_pair": lambda e: _node(e, "linear")["attrs"].__setitem__(2, ["bias"]),
    "ref_out_of_range": lambda e: _node(e, "kernels.eltwise")["inputs"].__setitem__(0, [999, 0]),
    "ref_negative": lambda e: _node(e, "linear")["inputs"].__setitem__(0, [-1, 0]),
    "ref_bad_out": lambda e: _node(e, "kernels.eltwise")["inputs"].__setitem__(1, [2, 1]),
    "ref_later_node": lambda e: _node(e, "linear")["inputs"].__setitem__(
        0, [_node(e, "kernels.eltwise")["id"], 0]
    ),
    "output_ref_out_of_range": lambda e: e["graph"]["outputs"].__setitem__(0, [77, 0]),
    "in_marker_out_of_range": lambda e: _attr(e, "linear", "input_tensor_a").__setitem__(1, {"$in": 5}),
    "bool_for_int_in_marker": lambda e: _attr(e, "linear", "input_tensor_a").__setitem__(1, {"$in": False}),
    "bool_for_int_node_id": lambda e: _node(e, "linear").__setitem__("id", True),
    "bool_for_int_line": lambda e: _node(e, "linear")["side"]["loc"].__setitem__(1, True),
    "float_for_int_id": lambda e: _node(e, "linear").__setitem__("id", 3.0),
    "string_for_int_ref": lambda e: _node(e, "linear")["inputs"].__setitem__(0, ["0", 0]),
    "duplicate_node_id": lambda e: _node(e, "kernels.eltwise").__setitem__("id", _node(e, "linear")["id"]),
    "node_id_below_inputs": lambda e: _node(e, "linear").__setitem__("id", 1),
    "unknown_marker": lambda e: _attr(e, "linear", "dtype").__setitem__(1, {"$eval": "__import__('os')"}),
    "marker_extra_key": lambda e: _attr(e, "linear", "dtype").__setitem__(1, {"$tuple": [], "$code": "x"}),
    "two_markers": lambda e: _attr(e, "linear", "dtype").__setitem__(1, {"$tuple": [], "$list": []}),
    "plain_object_value": lambda e: _attr(e, "linear", "dtype").__setitem__(1, {"a": 1}),
    "flist_inside_obj": lambda e: _attr(e, "kernels.eltwise", "memory_configs")[1]["$tuple"][0][
        "f"
    ].__setitem__("shard_spec", {"$flist": []}),
    "obj_unregistered": lambda e: _attr(e, "linear", "dtype").__setitem__(
        1, {"$obj": "Popen", "f": {"args": "id"}}
    ),
    "obj_extra_field": lambda e: _attr(e, "linear", "memory_config")[1]["f"].__setitem__("evil", 1),
    "obj_missing_field": lambda e: _attr(e, "linear", "memory_config")[1]["f"].pop("shard_spec"),
    "enum_unregistered": lambda e: _attr(e, "linear", "dtype").__setitem__(
        1, {"$enum": "Arch", "v": "BLACKHOLE"}
    ),
    "penum_not_imported": lambda e: _attr(e, "linear", "dtype").__setitem__(
        1, {"$penum": "ttfuse.no_such_module:E", "v": "A"}
    ),
    "penum_outside_ttfuse": lambda e: _attr(e, "linear", "dtype").__setitem__(
        1, {"$penum": "os:system", "v": "A"}
    ),
    "penum_not_an_enum": lambda e: _attr(e, "linear", "dtype").__setitem__(
        1, {"$penum": "ttfuse.cache:CacheWarning", "v": "A"}
    ),
    "penum_dunder_member": lambda e: _attr(e, "linear", "dtype").__setitem__(
        1, {"$penum": "ttfuse.types:StorageType", "v": "__class__"}
    ),
    "enum_dunder_member": lambda e: _attr(e, "kernels.eltwise", "dtypes")[1]["$tuple"][0].__setitem__(
        "v", "__new__"
    ),
    "float_marker_text": lambda e: _attr(e, "linear", "dtype").__setitem__(1, {"$float": "__import__('os')"}),
    "device_marker_in_config": lambda e: _config(e, "memory").__setitem__(1, {"$device": 0}),
    "in_marker_in_out_tree": lambda e: e["graph"]["out_tree"]["d"][1][1].__setitem__("c", {"$in": 0}),
    "deep_nesting": lambda e: _attr(e, "linear", "dtype").__setitem__(1, _deep(200)),
    "multi_not_bool": lambda e: _node(e, "linear").__setitem__("multi", 1),
    "loc_wrong_length": lambda e: _node(e, "linear")["side"].__setitem__("loc", ["a.py", 3]),
    "notes_not_a_list": lambda e: _node(e, "linear")["side"].__setitem__("notes", "x"),
    "config_not_pairs": lambda e: _node(e, "linear")["side"].__setitem__("config", {"memory": "L1"}),
    "node_extra_key": lambda e: _node(e, "linear").__setitem__("code", "__import__('os')"),
    "side_extra_key": lambda e: _node(e, "linear")["side"].__setitem__("exec", "x"),
    "meta_extra_key": lambda e: e["graph"]["meta"].__setitem__("code", "x"),
    "graph_extra_key": lambda e: e["graph"].__setitem__("code", "x"),
    "ir_version": lambda e: e["graph"].__setitem__("ir_version", 99),
    "mesh_not_ints": lambda e: e["graph"]["meta"].__setitem__("mesh", ["1", 1]),
    "input_names_not_strings": lambda e: e["graph"]["meta"].__setitem__("input_names", [1, 2, 3]),
    "input_not_a_spec": lambda e: e["graph"]["inputs"].__setitem__(0, _attr(e, "linear", "memory_config")[1]),
    "spec_string_dtype": lambda e: e["graph"]["inputs"][0]["f"].__setitem__("dtype", "bfloat16"),
    "spec_negative_dim": lambda e: e["graph"]["inputs"][0]["f"]["shape"].__setitem__("$Shape", [-64, 64]),
    "out_tree_unknown_node": lambda e: e["graph"].__setitem__("out_tree", {"x": ["*"]}),
    "out_tree_nt_callable": lambda e: e["graph"]["out_tree"]["d"][0][1].__setitem__("nt", "os:system"),
    "out_tree_leaf_count": lambda e: e["graph"].__setitem__("out_tree", {"t": ["*", "*"]}),
    "key_fields_not_hex": lambda e: e["key_fields"].__setitem__("device", "x\ny"),
    "run_not_a_string": lambda e: e.__setitem__("run", ["a"]),
    "run_markup": lambda e: e.__setitem__("run", "[link=file:///etc/passwd]x[/link]"),
}


# ------------------------------------------------------------------------------------------------- helpers
def _write(root: Path, p: Pristine, mutate, checksum: bool) -> Path:
    e = json.loads(json.dumps(p.entry))
    mutate(e)
    if checksum:
        e.pop("checksum")
        e["checksum"] = cache._checksum(e)
    path = root / p.rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(e))
    return path


def _check_out(out, p: Pristine):
    assert torch.equal(ttnn.to_torch(out["out"].y), p.expected)
    assert out["out"].tag == "tag" and out["n"] == 3 and type(out["out"]) is Pair


def _never_ran(tmp_path: Path):
    assert not (tmp_path / "PWNED").exists()
    assert not hasattr(builtins, FLAG)


def _assert_rejected(root: Path, tmp_path: Path, p: Pristine, mutate, checksum: bool):
    path = _write(root, p, mutate, checksum)
    f = jit(hostile_fn)
    with pytest.warns(cache.CacheWarning, match="recompiling"):
        out = f(*p.inputs)
    _never_ran(tmp_path)
    assert cache.counters.load_error == 1 and cache.counters.disk_read == 0
    assert f.trace_count == 1  # recompiled
    _check_out(out, p)
    _check_out(f(*p.inputs), p)  # and the recompiled code runs again (memory hit)
    assert list(path.parent.glob("*.corrupt-*"))
    # strict mode: the same entry raises CacheError (and still never runs)
    _write(root, p, mutate, checksum)
    with flags(strict_cache=True), pytest.raises(CacheError, match="STRICT"):
        jit(hostile_fn)(*p.inputs)
    _never_ran(tmp_path)
    assert cache.counters.load_error == 2


# --------------------------------------------------------------------------------------------------- tests
def test_pristine_entry_loads_from_disk_and_passes_the_schema(fresh, pristine):
    from ttfuse.cache_schema import check_entry

    check_entry(pristine.entry)
    _write(fresh, pristine, lambda e: None, checksum=False)
    f = jit(hostile_fn)
    out = f(*pristine.inputs)
    _check_out(out, pristine)
    assert f.trace_count == 0 and cache.counters.disk_read == 1 and cache.counters.load_error == 0


def test_entry_of_an_older_ttfuse_without_a_run_id_loads(fresh, pristine):
    """Entries written before run ids existed have no `run`: still a disk hit, listed as run "-"."""
    assert pristine.entry["run"]

    def drop_run(e):
        del e["run"]

    _write(fresh, pristine, drop_run, checksum=True)
    f = jit(hostile_fn)
    _check_out(f(*pristine.inputs), pristine)
    assert f.trace_count == 0 and cache.counters.disk_read == 1 and cache.counters.load_error == 0
    assert [r["run"] for r in cache.list_entries()] == ["-"]


@pytest.mark.parametrize("checksum", [True, False], ids=["checksum_recomputed", "checksum_stale"])
@pytest.mark.parametrize(("field", "kind"), STRING_CASES, ids=[f"{f}-{k}" for f, k in STRING_CASES])
def test_hostile_string_is_rejected_and_never_runs(fresh, tmp_path, pristine, field, kind, checksum):
    setter, indent, _ = STRING_FIELDS[field]
    text = PAYLOADS[kind](_code(tmp_path / "PWNED"), indent)
    _assert_rejected(fresh, tmp_path, pristine, lambda e: setter(e, text), checksum)


@pytest.mark.parametrize("checksum", [True, False], ids=["checksum_recomputed", "checksum_stale"])
@pytest.mark.parametrize("case", list(STRUCTURE))
def test_hostile_structure_is_rejected(fresh, tmp_path, pristine, case, checksum):
    _assert_rejected(fresh, tmp_path, pristine, STRUCTURE[case], checksum)


FREE = [f for f, (_, _, free) in STRING_FIELDS.items() if free]


@pytest.mark.parametrize("field", FREE)
def test_free_text_is_inert(fresh, tmp_path, pristine, field):
    """Printable text in a free-text field is data: the entry loads (no recompile) and the text never runs,
    whether it ends up in a comment (source file, input names) or a value (a result constant or dict key)."""
    setter, indent, _ = STRING_FIELDS[field]
    text = PAYLOADS["expr"](_code(tmp_path / "PWNED"), indent)
    _write(fresh, pristine, lambda e: setter(e, text), checksum=True)
    f = jit(hostile_fn)
    out = f(*pristine.inputs)
    assert f.trace_count == 0 and cache.counters.disk_read == 1 and cache.counters.load_error == 0
    _never_ran(tmp_path)
    assert torch.equal(ttnn.to_torch(out["out" if field != "out_tree_key" else text].y), pristine.expected)


@pytest.mark.parametrize("indent", [4, 8])
def test_issue_reproducer_loc_with_a_line_break_never_runs(fresh, tmp_path, pristine, indent):
    """The issue's reproducer: a node's source file name carrying a line break and a statement (at 8 spaces it
    ran when the function was called before the fix; at 4 the generated code did not compile)."""
    text = "x.py\n" + " " * indent + "open('PWNED','w').write('ran')  #"
    setter = STRING_FIELDS["loc_file"][0]
    _assert_rejected(fresh, tmp_path, pristine, lambda e: setter(e, text), checksum=True)


@pytest.mark.parametrize("target", ["builtins:exec", "builtins:eval", "os:system"])
def test_out_tree_naming_a_callable_never_calls_it(fresh, tmp_path, pristine, target):
    """A result node `{"nt": "builtins:exec", "k": [{"c": CODE}]}` rebuilt the "namedtuple" by calling what it
    names with the constants, on every call, before the fix."""
    code = _code(tmp_path / "PWNED") if target != "os:system" else f"touch {tmp_path / 'PWNED'}"

    def mutate(e):
        e["graph"]["out_tree"]["d"][1][1] = {"nt": target, "k": [{"c": code}]}

    _assert_rejected(fresh, tmp_path, pristine, mutate, checksum=True)


# ------------------------------------------------------------------------------ defence in depth: codegen
def rowwise(x, y):
    return ttnn.multiply(ttnn.relu(ttnn.add(x, y)), 2.0)


def _with_hostile_strings(g, text_at):
    """`g` with hostile text in every string that reaches generated source (source files, meta name, input
    names, device), set on the decoded graph: no schema check runs, codegen alone must keep them inert."""
    nodes = [
        n.replace(side=NodeSide((text_at(8), 1, "f"), n.side.config, n.side.notes, n.side.replaced))
        for n in g.nodes
    ]
    meta = dict(g.meta, name=text_at(0), device=text_at(0), input_names=[text_at(0)] * len(g.inputs))
    return g.replace(nodes=nodes, meta=meta)


@pytest.mark.parametrize("kind", ["newline", "cr", "u2028"])
@pytest.mark.parametrize("graph", ["pristine", "row_blocked_region"])
def test_codegen_escapes_every_comment_without_the_schema(fresh, tmp_path, pristine, kind, graph):
    from ttfuse.codegen import generate
    from ttfuse.ir import Graph

    if graph == "pristine":
        g, args, block_bytes = Graph.from_json(pristine.entry["graph"]), pristine.inputs, 0
        expected = pristine.expected
    else:  # a region's comment lists the ops it runs, with their source lines
        x = pristine.inputs[0]
        big = ttnn.concat([x, x, x, x], dim=0)
        g, args, block_bytes = jit(rowwise).lower(big.spec, big.spec).graph, (big, big), 4096
        expected = ttnn.to_torch(rowwise(big, big))
    code = _code(tmp_path / "PWNED")
    g = _with_hostile_strings(g, lambda indent: PAYLOADS[kind](code, indent))
    compiled = generate(g, name="hostile_fn", block_bytes=block_bytes)
    src = compiled.source
    assert ("row-blocked" in src) == (graph == "row_blocked_region")
    outs = compiled.fn(*args)
    _never_ran(tmp_path)
    assert torch.equal(ttnn.to_torch(outs[0]), expected)
    assert src.isascii() and all(line.isprintable() for line in src.split("\n"))
    assert src.splitlines() == src.rstrip("\n").split("\n")  # no line break but \n: linecache agrees
    assert not any(line.lstrip().startswith("open(") for line in src.split("\n"))


def test_comment_text_escapes_line_breaks_and_keeps_safe_text():
    from ttfuse.codegen import comment_text

    for safe in ("model.py:41", "C:\\models\\x.py", "params['w'][0]", "blöck.py", "<stdin>"):
        assert comment_text(safe) == safe
    for ch in "\n\r\f\v\x1c\x1d\x1e\x85\u2028\u2029\x00\x1b\u202e\ud800\t":
        out = comment_text(f"a{ch}b")
        assert out.isprintable() and out.startswith("a\\") and out.endswith("b"), (ch, out)
        assert len(out.splitlines()) == 1


def test_roundtrips_never_evals_a_user_object():
    from ttfuse import codegen

    class Sneaky:
        def __repr__(self):
            return "probe.append(1)"

    probe: list = []
    assert not codegen._roundtrips(Sneaky(), repr(Sneaky()), {"ttnn": ttnn, "probe": probe})
    assert probe == []
    assert codegen._roundtrips(ttnn.bfloat16, repr(ttnn.bfloat16), {"ttnn": ttnn})


def test_out_tree_namedtuple_path_never_imports_or_calls():
    import sys

    from ttfuse.capture.pytree import unflattener

    assert "antigravity" not in sys.modules
    for nt in ("os:system", "antigravity:x", "builtins:exec", "subprocess:Popen"):
        rebuild = unflattener({"nt": nt, "k": ["*", {"c": "id"}]})
        assert rebuild(("t",)) == ("t", "id")  # a plain tuple: the named callable is never called
    assert "antigravity" not in sys.modules
    rebuild = unflattener({"nt": f"{__name__}:Pair", "k": ["*", {"c": "tag"}]})
    assert type(rebuild(("t",))) is Pair


def test_cache_show_of_a_hostile_entry_runs_nothing(fresh, tmp_path, pristine):
    from ttfuse.cli import main as cli_main

    setter = STRING_FIELDS["meta_name"][0]
    text = PAYLOADS["newline"](_code(tmp_path / "PWNED"), 0)
    _write(fresh, pristine, lambda e: setter(e, text), checksum=True)
    r = CliRunner().invoke(cli_main, ["cache", "show", pristine.rel.stem[:12]], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "schema [meta]" in r.output and "cannot decode the graph" in r.output
    _never_ran(tmp_path)


@pytest.mark.parametrize(
    "value",
    [float("nan"), [1, 2], {"$tuple": [1], "x": 2}, {"$in": 0}, {"$Shape": [1, True]}, {"$dict": [[[1], 2]]}],
    ids=["nan", "bare_list", "extra_key", "in_outside_attr", "bool_dim", "list_key"],
)
def test_check_graph_rejects_bad_values_in_configs(pristine, value):
    from ttfuse.cache_schema import SchemaError, check_graph

    g = json.loads(json.dumps(pristine.entry["graph"]))
    next(n for n in g["nodes"] if n["op"] == "linear")["side"]["config"].append(["extra", value])
    with pytest.raises(SchemaError, match=r"schema \[nodes\] graph.nodes\[\d\].side.config"):
        check_graph(g)
