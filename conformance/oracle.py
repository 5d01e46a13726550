"""Ground truth from the real ttnn wheel: a small command dispatcher run in conformance/.venv312.

Usage (with the Python 3.12 venv made by setup_venv.sh; no torch there):

    conformance/.venv312/bin/python conformance/oracle.py COMMAND IN.npz OUT.npz
    conformance/.venv312/bin/python conformance/oracle.py --list

Requests and replies are wire.py messages. ttnn runs host-side only: it needs a UMD cluster
descriptor, so TT_METAL_MOCK_CLUSTER_DESC_PATH is set to cluster/wormhole_n150.yaml unless the
caller set it (or passes ``"arch": "blackhole"`` in the request, which picks blackhole_p150.yaml).
No device is opened.

Commands:
  formats   {"cases": [{"x": float32 array, "dtype": "bfloat8_b", "layout": "TILE" (optional)}]}
            -> {"results": [array], "ttnn_version": str}. Each x goes through
            ttnn.Tensor(x, dtype[, layout]) and back: float dtypes via ttnn.to_dtype(t, float32)
            (float32 array), integer dtypes via to_numpy() (int64 array).
  api       {"names": ["ttnn.linear", "ttnn.UnaryOpType.SILU", ...]} -> {"results": {name: description}}:
            exists (else `missing`: where resolution stopped), kind (operation, function, class, enum,
            enum_value, module, value), and for callables the signatures (one parameter list per overload,
            read from nanobind's __nb_signature__ or inspect) and the names documented in the docstring;
            enum members, class attributes (ttnn_introspect.describe).
  public    {} -> {"names": {qualname: kind}, "excluded": {qualname: why}, "ttnn_version": str}: the wheel's
            whole public tree (ttnn, ttnn.experimental, ttnn.transformer, ttnn.types, MeshDevice and Tensor
            members), kinds op / function / class / enum / constant / module / property / method
            (ttnn_introspect.public_tree); re-exported stdlib and third-party names are listed as excluded.
  resolve   {"names": [...], "expressions": [source text]} -> {"results": {name: {"exists", "missing", "kind",
            and for callables "params" (names over all overloads), "var_keyword", "doc_params"}},
            "expressions": [{"ok", "error", "type"}]}: each expression (a static call such as
            `ttnn.WormholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.HiFi2)`) is evaluated with the real
            ttnn (builtins float/int/tuple/list only).
  configs   {"objects": [{"class": "SDPAProgramConfig", "value": ttfuse to_json_value data}],
             "classes": [class names]} -> {"results": [{"ok", "error", "fields"}], "schemas": {class: schema}}:
            each object is constructed as the real class from its field values (grids as CoreCoord, enums and
            UnaryWithParam as real ones) and every field of the real object is read back in the same vocabulary;
            a schema is the real constructor's parameters (with defaults) and its data properties.

To add a command: write ``def cmd_<name>(request: dict) -> dict`` and add it to ``COMMANDS``.
Import ttnn inside the command (through `_ttnn()`), so ``--list`` and errors stay cheap.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402
from wire import load_message, save_message  # noqa: E402

CLUSTERS = {
    "wormhole_b0": HERE / "cluster" / "wormhole_n150.yaml",
    "blackhole": HERE / "cluster" / "blackhole_p150.yaml",
}

_TTNN: Any = None


def _ttnn(arch: str | None = None) -> Any:
    """Import ttnn once, with a mock cluster descriptor."""
    global _TTNN
    if _TTNN is None:
        if arch is not None:
            os.environ["TT_METAL_MOCK_CLUSTER_DESC_PATH"] = str(CLUSTERS[arch])
        os.environ.setdefault("TT_METAL_MOCK_CLUSTER_DESC_PATH", str(CLUSTERS["wormhole_b0"]))
        os.environ.setdefault("TT_METAL_LOGGER_LEVEL", "ERROR")
        os.environ.setdefault("LOGURU_LEVEL", "WARNING")
        import ttnn

        _TTNN = ttnn
    return _TTNN


def _ttnn_version() -> str:
    from importlib.metadata import version

    return version("ttnn")


FLOAT_DTYPES = ("float32", "bfloat16", "bfloat8_b", "bfloat4_b")
INT_DTYPES = ("int32", "uint32", "uint16", "uint8")


def cmd_formats(request: dict) -> dict:
    """Round-trip host tensors through ttnn's data-format conversion."""
    ttnn = _ttnn(request.get("arch"))
    results = []
    for case in request["cases"]:
        x = np.ascontiguousarray(case["x"], dtype=np.float32)
        name = case["dtype"]
        if name not in FLOAT_DTYPES + INT_DTYPES:
            raise ValueError(f"formats: unknown dtype {name!r}")
        dtype = getattr(ttnn, name)
        layout = case.get("layout")
        if layout is None:
            t = ttnn.Tensor(x, dtype)
        else:
            t = ttnn.Tensor(x, dtype, None, getattr(ttnn, f"{layout}_LAYOUT"))
        if name in FLOAT_DTYPES:
            y = ttnn.to_dtype(t, ttnn.float32).to_numpy().astype(np.float32, copy=False)
        else:
            y = t.to_numpy().astype(np.int64)
        if y.shape != x.shape:
            raise AssertionError(f"formats: ttnn returned shape {y.shape} for input {x.shape} ({name})")
        results.append(y)
    return {"results": results, "ttnn_version": _ttnn_version()}


def cmd_api(request: dict) -> dict:
    """Describe qualified ttnn names: existence, kind, signatures, documented parameters, enum members."""
    from ttnn_introspect import describe

    ttnn = _ttnn(request.get("arch"))
    with_sigs = request.get("signatures", True)
    results = {name: describe(ttnn, name, with_signatures=with_sigs) for name in request["names"]}
    return {"results": results, "ttnn_version": _ttnn_version()}


def cmd_public(request: dict) -> dict:
    """The whole public tree of the wheel: every public name of its namespaces and of MeshDevice / Tensor, kinded."""
    from ttnn_introspect import public_tree

    ttnn = _ttnn(request.get("arch"))
    return {**public_tree(ttnn), "ttnn_version": _ttnn_version()}


def cmd_resolve(request: dict) -> dict:
    """Resolve `ttnn.a.b` attribute chains against the real module; evaluate static ttnn expressions."""
    from ttnn_introspect import describe

    ttnn = _ttnn(request.get("arch"))
    results = {}
    for name in request.get("names", []):
        d = describe(ttnn, name)
        r = {k: d[k] for k in ("exists", "missing", "kind") if k in d}
        if "signatures" in d:
            params = [p for s in d["signatures"] for p in s["params"]]
            r["params"] = sorted(
                {p["name"] for p in params if p["kind"] not in ("var_positional", "var_keyword")}
            )
            r["var_keyword"] = any(p["kind"] == "var_keyword" for p in params)
            r["signature_readable"] = bool(d["signatures"])
            r["doc_params"] = d.get("doc_params", [])
        results[name] = r
    expressions = []
    namespace = {"ttnn": ttnn, "__builtins__": {"float": float, "int": int, "tuple": tuple, "list": list}}
    for text in request.get("expressions", []):
        try:
            v = eval(text, dict(namespace))  # noqa: S307 - static config literals from generated source
            expressions.append({"ok": True, "error": None, "type": type(v).__name__})
        except Exception as e:  # noqa: BLE001 - reported per expression
            err = f"{type(e).__name__}: {e}".strip()[:1500]
            expressions.append({"ok": False, "error": err, "type": None, **_call_diagnosis(ttnn, text)})
    return {"results": results, "expressions": expressions, "ttnn_version": _ttnn_version()}


def _call_diagnosis(ttnn, text: str) -> dict:
    """For a failed `ttnn.X(..., kw=...)`: the required parameters it lacks and the keywords X does not take
    (against the overload with the same positional arity that fits best)."""
    import ast

    from ttnn_introspect import resolve, signatures

    try:
        call = ast.parse(text, mode="eval").body
        obj, missing = resolve(ttnn, ast.unparse(call.func))
    except Exception:  # noqa: BLE001 - no diagnosis for odd text
        return {}
    if not isinstance(call, ast.Call) or missing is not None:
        return {}
    sigs, _ = signatures(obj)
    kws = {k.arg for k in call.keywords if k.arg}
    best = None
    for s in sigs:
        params = s["params"]
        named = [p for p in params if p["kind"] != "positional_only"]
        pos = params[: len(call.args)]
        rest = [p for p in params[len(pos) :] if p["kind"] not in ("var_positional", "var_keyword")]
        lacking = [p["name"] for p in rest if not p["has_default"] and p["name"] not in kws]
        unknown = sorted(kws - {p["name"] for p in named})
        score = len(lacking) + len(unknown)
        if best is None or score < best[0]:
            best = (score, lacking, unknown)
    if best is None:
        return {}
    return {"missing_required": best[1], "unknown_keywords": best[2]}


def cmd_configs(request: dict) -> dict:
    """Construct real ttnn config objects from ttfuse field data and read every field back."""
    from ttnn_introspect import build_object, class_schema, read_fields

    ttnn = _ttnn(request.get("arch"))
    results = []
    for item in request.get("objects", []):
        value = item["value"]
        try:
            obj = build_object(ttnn, value["$obj"], value["f"])
        except Exception as e:  # noqa: BLE001 - reported per object: the real class rejected the values
            results.append({"ok": False, "error": f"{type(e).__name__}: {e}".strip()[:2000], "fields": {}})
            continue
        results.append({"ok": True, "error": None, "fields": read_fields(obj), "type": type(obj).__name__})
    schemas = {name: class_schema(ttnn, name) for name in request.get("classes", [])}
    return {"results": results, "schemas": schemas, "ttnn_version": _ttnn_version()}


COMMANDS: dict[str, Callable[[dict], dict]] = {
    "formats": cmd_formats,
    "api": cmd_api,
    "public": cmd_public,
    "resolve": cmd_resolve,
    "configs": cmd_configs,
}


def main(argv: list[str]) -> int:
    if argv[:1] == ["--list"]:
        print("\n".join(sorted(COMMANDS)))
        return 0
    if len(argv) != 3 or argv[0] not in COMMANDS:
        print(f"usage: oracle.py {{{','.join(sorted(COMMANDS))}}} IN.npz OUT.npz | --list", file=sys.stderr)
        return 2
    command, in_path, out_path = argv
    try:
        reply = COMMANDS[command](load_message(in_path))
    except Exception:
        traceback.print_exc()
        return 1
    save_message(out_path, reply)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
