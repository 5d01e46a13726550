"""The docs runner (tools/docs_check.py, run by `make test` over README.md and docs/*.md): it must fail on a
broken snippet and on a broken link, say where, and count what it ran."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import docs_check  # noqa: E402

GOOD = """# t

```python
x = 2
```

text, then a second block that sees the first one's names:

```python
assert x * 21 == 42
```

```sh
test "$TTFUSE_DOCS" = 1
```

```
not code: program output
```

<!-- docs: no-run (it would recurse) -->
```sh
exit 3
```

[the readme](../../README.md) and [a site](https://example.com) and [here](#t)
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    # inside the repository tree, so relative links resolve against it
    d = docs_check.ROOT / "docs" / f".tmp-{tmp_path.name}"
    d.mkdir(exist_ok=True)
    p = d / name
    p.write_text(text)
    return p


@pytest.fixture
def docs_dir(tmp_path):
    yield tmp_path
    import shutil

    shutil.rmtree(docs_check.ROOT / "docs" / f".tmp-{tmp_path.name}", ignore_errors=True)


def test_a_good_file_runs_every_block_in_order(docs_dir, capsys):
    p = _write(docs_dir, "good.md", GOOD)
    assert docs_check.main([str(p), "-q"]) == 0
    out = capsys.readouterr().out
    assert (
        "docs: 3 blocks executed (2 python, 1 shell) in 1 files, 1 skipped, 1 links checked, 0 failed" in out
    )


def test_a_planted_broken_snippet_fails_with_its_line(docs_dir, capsys):
    p = _write(docs_dir, "bad.md", GOOD.replace("assert x * 21 == 42", "assert undefined_name"))
    assert docs_check.main([str(p), "-q"]) == 1
    err = capsys.readouterr().err
    assert f"{p}:9: python block failed" in err and "NameError" in err


def test_a_planted_broken_shell_block_fails(docs_dir, capsys):
    p = _write(docs_dir, "badsh.md", GOOD.replace('test "$TTFUSE_DOCS" = 1', "false"))
    assert docs_check.main([str(p), "-q"]) == 1
    assert "shell block failed (exit 1)" in capsys.readouterr().err


def test_a_planted_broken_link_fails(docs_dir, capsys):
    p = _write(docs_dir, "link.md", GOOD + "\nsee [the guide](../docs/no_such_guide.md#intro)\n")
    assert docs_check.main([str(p), "--links-only", "-q"]) == 1
    err = capsys.readouterr().err
    assert "broken link '../docs/no_such_guide.md#intro'" in err and f"{p}:" in err


def test_a_link_leaving_the_repository_fails(docs_dir, capsys):
    p = _write(docs_dir, "out.md", "[outside](../../../)\n")
    assert docs_check.main([str(p), "--links-only", "-q"]) == 1
    assert "leaves the repository" in capsys.readouterr().err


def test_the_repository_docs_links_resolve():
    """Every relative link in README.md and docs/*.md (the blocks themselves run in `make test`'s docs step)."""
    assert docs_check.main(["--links-only", "-q"]) == 0


def test_explain_miss_cuts_both_strings_where_they_differ():
    from ttfuse.cache import _clip

    was = '{"a":' + "x" * 300 + ',"shape":[32,64]}'
    now = '{"a":' + "x" * 300 + ',"shape":[64,64]}'
    w, n = _clip(was, now), _clip(now, was)
    assert "[32,64]" in w and "[64,64]" in n and w != n and len(w) < 200


def test_cache_namespaces_and_module_filter(tmp_path, monkeypatch):
    """The bench's entries live in their own namespace; list/stats filter by module."""
    from click.testing import CliRunner

    from ttfuse import cache
    from ttfuse.cli import main
    from ttfuse.flags import flags

    monkeypatch.setenv("TTFUSE_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("TTFUSE_CACHE_NAMESPACE", raising=False)
    assert cache.store_root() == tmp_path
    with flags(cache_namespace="bench"):
        assert cache.entries_dir() == tmp_path / "bench" / f"v{cache.SCHEMA_VERSION}"
    with flags(cache_namespace="v1"), pytest.raises(ValueError, match="not v<N>"):
        cache.store_root()
    assert cache.in_module("models.boltz.layers.f", "models.boltz")
    assert not cache.in_module("models.boltzmann.f", "models.boltz")
    (tmp_path / "bench" / "v1").mkdir(parents=True)
    r = CliRunner().invoke(main, ["cache", "stats", "-m", "models.boltz"])
    assert r.exit_code == 0, r.output
    assert "others here: bench" in r.output and "models.boltz" in r.output
    r = CliRunner().invoke(main, ["cache", "-n", "bench", "list"])
    assert r.exit_code == 0 and str(tmp_path / "bench") in r.output, r.output


def test_an_eager_op_given_a_torch_tensor_says_how_to_convert():
    import torch

    from ttfuse import ttnn
    from ttfuse.errors import SpecError

    dev = ttnn.open_device(device_id=0)
    x = ttnn.from_torch(torch.ones(32, 32), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=dev)
    with pytest.raises(
        SpecError, match=r"'input_tensor_b' .* got a torch\.Tensor \(convert it first: ttnn\.from_torch"
    ):
        ttnn.add(x, torch.ones(32, 32))
    with pytest.raises(SpecError, match=r"got a torch\.Tensor .*\n  at .*test_docs_runner\.py"):
        ttnn.relu(torch.ones(32, 32))
    assert "TTFUSE_CACHE_NAMESPACE" not in __import__("os").environ  # the option is for that command only


def test_bench_doc_lists_the_compare_floors_in_use():
    """docs/bench.md's --compare table says the floors bench/report.py applies (a changed floor fails here)."""
    import re

    from bench.report import COMPARE_METRICS

    text = (docs_check.ROOT / "docs" / "bench.md").read_text()
    rows = dict(re.findall(r"^\| ([^|]+?) \| (?:higher|lower) \| ([^|]+?) \|$", text, re.M))
    docs = {
        "speedup": rows["speedup"],
        "jit_ms": rows["JIT ms, eager ms"],
        "eager_ms": rows["JIT ms, eager ms"],
        "compile_cold_ms": rows["cold compile ms"],
        "hit_overhead_us": rows["hit overhead us"],
        "predicted_us_jit": rows["predicted JIT us"],
        "pcc": rows["PCC"],
    }
    assert set(docs) == {m for m, _, _ in COMPARE_METRICS}
    for metric, _, floor in COMPARE_METRICS:
        if floor == 0:
            assert docs[metric] == "none", metric
        else:
            assert re.search(rf"(?<![\d.]){floor:g}(?![\d])", docs[metric]), (metric, floor, docs[metric])
