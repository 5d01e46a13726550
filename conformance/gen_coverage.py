"""Generate docs/ttnn_coverage.md: every public name of the real ttnn 0.81.1, implemented by the facade or stubbed.

    .venv/bin/python conformance/gen_coverage.py            # regenerate the doc (main env: no oracle needed)
    .venv/bin/python conformance/gen_coverage.py --check    # exit 1 when the committed doc is stale
    .venv/bin/python conformance/gen_coverage.py --public   # refresh the data file from the wheel (oracle `public`)

The wheel's public tree (`ttnn`, `ttnn.experimental`, `ttnn.transformer`, `ttnn.types`, members of
`ttnn.MeshDevice` and `ttnn.Tensor`) is stored as data in ttfuse/ttnn/ttnn_public_0.81.1.json (written by
`--public`; tests/conformance/test_public_vs_ttnn.py checks it against the live wheel). `render()` is a pure
function of that file and of the facade as imported, so tests/test_ttnn_coverage.py (main suite, no wheel) fails
when the doc is stale. A name is implemented when the facade defines it (normal lookup finds it), stubbed when it
resolves to a ttfuse/ttnn/_stubs.py stub. No timestamps: the output is deterministic.

(docs/ttnn_signatures.md, the facade's keywords against the real signatures, is conformance/gen_signatures.py.)
"""

from __future__ import annotations

import inspect
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "ttnn_coverage.md"
DATA = (
    REPO / "ttfuse" / "ttnn" / "ttnn_public_0.81.1.json"
)  # = ttfuse.ttnn._stubs.DATA (no ttfuse import here)
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from conformance.docgen import write_or_check  # noqa: E402

KINDS = ("op", "function", "class", "enum", "constant", "module", "property", "method")
SECTIONS = (
    "ttnn",
    "ttnn.experimental",
    "ttnn.transformer",
    "ttnn.types",
    "ttnn.MeshDevice",
    "ttnn.Tensor",
)


def section_of(qualname: str) -> str:
    return qualname.rsplit(".", 1)[0]


def resolve(qualname: str) -> Any:
    """`ttnn.a.b` through the facade (stubs included); raises what the facade raises."""
    from ttfuse import ttnn

    obj = ttnn
    for part in qualname.split(".")[1:]:
        obj = getattr(obj, part)
    return obj


def _member_owners() -> dict[str, Any]:
    """An instance of the facade's MeshDevice and Tensor: members set in `__init__` count as implemented."""
    import torch

    from ttfuse import ttnn

    device = ttnn.open_device(device_id=0)
    try:
        tensor = ttnn.from_torch(torch.zeros(1, 1), dtype=ttnn.bfloat16)
    finally:
        ttnn.close_device(device)
    return {"ttnn.MeshDevice": device, "ttnn.Tensor": tensor}


def _member_status(owner: Any, name: str, kind: str) -> tuple[str, str]:
    try:
        raw = inspect.getattr_static(owner, name)  # instance dict, slots, class: never the stub fallback
    except AttributeError:
        return "stub", ""
    is_property = hasattr(type(raw), "__set__") or isinstance(raw, property)
    here = "property" if is_property else "method" if callable(raw) else "attribute"
    note = (
        ""
        if here == kind or (kind == "property" and here == "attribute")
        else f"**{here} here, {kind} in ttnn**"
    )
    return "implemented", note


def _name_status(qualname: str) -> tuple[str, str]:
    from ttfuse.opdef import OpDef
    from ttfuse.ttnn._stubs import is_stub

    try:
        obj = resolve(qualname)
    except Exception as e:  # noqa: BLE001 - reported in the doc, and tests/test_ttnn_coverage.py fails on it
        return "**unresolved**", f"{type(e).__name__}"
    if is_stub(obj):
        return "stub", ""
    if isinstance(obj, OpDef):
        return "implemented", f"op `{obj.group.value}`"
    return "implemented", ""


def statuses() -> dict[str, tuple[str, str, str]]:
    """{qualname: (kind, status, note)} for every name of the data file, from the facade as imported."""
    from ttfuse.ttnn._stubs import public_data

    owners = _member_owners()
    out = {}
    for qualname, kind in public_data()["names"].items():
        section = section_of(qualname)
        if section in owners:
            out[qualname] = (kind, *_member_status(owners[section], qualname.rsplit(".", 1)[1], kind))
        else:
            out[qualname] = (kind, *_name_status(qualname))
    return out


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(data: dict[str, Any], status: dict[str, tuple[str, str, str]]) -> str:
    """The document from the data file and the statuses (pure: tests render it with planted statuses)."""
    by_section: dict[str, list[str]] = {s: [] for s in SECTIONS}
    for q in status:
        by_section[section_of(q)].append(q)

    def counts(names: list[str]) -> tuple[int, int, int]:
        impl = sum(status[q][1] == "implemented" for q in names)
        stub = sum(status[q][1] == "stub" for q in names)
        return impl, stub, len(names)

    total = counts(list(status))
    lines = [
        f"# ttnn coverage: the real ttnn {data['ttnn_version']}'s public names in the simulator",
        "",
        "Generated by `conformance/gen_coverage.py` from `ttfuse/ttnn/ttnn_public_0.81.1.json` (the wheel's public "
        "tree, itself generated by `conformance/gen_coverage.py --public` and checked against the wheel by "
        "`tests/conformance/test_public_vs_ttnn.py`) and `from ttfuse import ttnn`; do not edit. "
        "`tests/test_ttnn_coverage.py` fails when this file is stale: regenerate with "
        "`.venv/bin/python conformance/gen_coverage.py`.",
        "",
        "**implemented**: the facade defines the name (an op's group is given). **stub**: the name resolves to a "
        "stub (`ttfuse/ttnn/_stubs.py`) that raises `ttfuse.errors.TtnnNotImplementedError` naming it when "
        "called, instantiated or used; importing it works. A name not listed here is an `AttributeError`, as in "
        "ttnn. Keyword-by-keyword checks of the implemented ops: `docs/ttnn_signatures.md`.",
        "",
        "## Counts",
        "",
        "| namespace | implemented | stub | total |",
        "|---|---|---|---|",
    ]
    for s in SECTIONS:
        impl, stub, n = counts(by_section[s])
        label = f"`{s}` members" if s in ("ttnn.MeshDevice", "ttnn.Tensor") else f"`{s}`"
        lines.append(f"| {label} | {impl} | {stub} | {n} |")
    lines.append(f"| **all** | {total[0]} | {total[1]} | {total[2]} |")
    bad = [q for q in status if status[q][1] not in ("implemented", "stub")]
    if bad:
        lines += ["", f"**{len(bad)} names resolve to neither** (a facade bug): {', '.join(sorted(bad))}"]
    kinds = Counter(k for k, _, _ in status.values())
    lines += ["", "| kind | implemented | stub | total |", "|---|---|---|---|"]
    for k in KINDS:
        impl, stub, n = counts([q for q in status if status[q][0] == k])
        if n:
            lines.append(f"| {k} | {impl} | {stub} | {kinds[k]} |")
    lines += [
        "",
        "Left out of the tree (not ttnn's own names): "
        + "; ".join(f"`{q}` ({why})" for q, why in sorted(data["excluded"].items()))
        + ". ttnn 0.81.1 does not re-export torch or numpy (no `ttnn.torch` / `ttnn.np`).",
    ]
    for s in SECTIONS:
        impl, stub, n = counts(by_section[s])
        title = f"`{s}` members" if s in ("ttnn.MeshDevice", "ttnn.Tensor") else f"`{s}`"
        lines += [
            "",
            f"## {title}: {impl} implemented, {stub} stub, {n} in all",
            "",
            "| name | kind | status | note |",
            "|---|---|---|---|",
        ]
        for q in sorted(by_section[s]):
            kind, st, note = status[q]
            lines.append(f"| `{q.rsplit('.', 1)[1]}` | {kind} | {st} | {_cell(note)} |")
    lines.append("")
    return "\n".join(lines)


def build() -> str:
    from ttfuse.ttnn._stubs import public_data

    return render(public_data(), statuses())


def write_public() -> Path:
    """Ask the wheel (oracle `public`) for its public tree and store it as the data file."""
    from conformance.client import run_oracle

    reply = run_oracle("public", {})
    DATA.write_text(public_json(reply))
    return DATA


def public_json(reply: dict[str, Any]) -> str:
    """The data file's text for an oracle `public` reply (sorted, one name a line)."""
    data = {
        "ttnn_version": reply["ttnn_version"],
        "generated_by": "conformance/gen_coverage.py --public",
        "names": dict(sorted(reply["names"].items())),
        "excluded": dict(sorted(reply["excluded"].items())),
    }
    return json.dumps(data, indent=1) + "\n"


def main(argv: list[str]) -> int:
    if argv[:1] == ["--public"]:
        print(f"wrote {write_public()}")
        return 0
    text = build()
    return write_or_check(DOC, text, argv, "conformance/gen_coverage.py")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
