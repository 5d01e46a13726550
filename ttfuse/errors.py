"""One error hierarchy for ttfuse.

Every error ttfuse raises on bad user input derives from `TtfuseError`. Messages carry context: the op
(`ttnn.linear`), the argument, and the user's source line (`model.py:41`), attached by `with_user_frame`.

Extend by subclassing the closest error; never raise bare `ValueError`/`RuntimeError` for user mistakes.
"""

from __future__ import annotations

import os
import sys
import warnings

_PKG_DIR = os.path.dirname(os.path.abspath(__file__))


class TtfuseError(Exception):
    """Base of all ttfuse errors."""


class SpecError(TtfuseError, ValueError):
    """An op was called with inputs real TTNN would reject (shape, dtype, layout, config)."""


class TraceError(TtfuseError):
    """Capture failed: data-dependent Python on a traced tensor, escaped tracer, unsupported value."""


class ArgumentError(TraceError, TypeError):
    """A call of a jit function whose arguments do not bind to its signature (an unknown keyword, a missing or
    extra positional argument). A TypeError too, as Python's own message for the same call is."""


class VerifyError(TtfuseError):
    """The IR broke an invariant (raised by the verifier)."""


class PassError(TtfuseError):
    """A pass failed; the message names the pass and the passes run before it."""


class CodegenError(TtfuseError):
    """Generated code could not be built, or failed at run time (message maps back to the IR node)."""


class CacheError(TtfuseError):
    """A cache entry could not be read or written (raised only in strict mode; otherwise a warning)."""


class DeviceError(TtfuseError, RuntimeError):
    """Device misuse: tensors on different devices, closed device, use after deallocate, bad mesh."""


class OutOfMemoryError(DeviceError, MemoryError):
    """An allocation did not fit in the simulated device's DRAM or L1."""


class TtnnNotImplementedError(TtfuseError, NotImplementedError):
    """A name of the real ttnn (docs/ttnn_coverage.md) that the simulator does not implement was used.

    `qualname` is the ttnn name (`ttnn.graph.begin_graph_capture`, `ttnn.Tensor.buffer_address`). The facade's
    stubs (ttfuse/ttnn/_stubs.py) raise it when called, so importing code that names such a function still works.
    """

    def __init__(self, qualname: str, use: str = "") -> None:
        self.qualname = qualname
        where = f" (used as `{use}`)" if use and use != qualname else ""
        super().__init__(
            f"{qualname} is part of the real ttnn but not implemented by the ttfuse simulator{where}; "
            "docs/ttnn_coverage.md lists what is"
        )


# The members of the real ttnn.Tensor / ttnn.MeshDevice, {"Tensor": {name: "method" | "property"}}, registered
# by the facade from its data file (ttfuse/ttnn/_stubs.py); core classes read it through `missing_member`.
TTNN_MEMBERS: dict[str, dict[str, str]] = {}


def got(v) -> str:
    """What a message says the caller passed: the type by its usual name, and for a host array (a torch.Tensor, a
    numpy array) how to make the ttnn.Tensor the op wants."""
    cls = type(v)
    mod = cls.__module__.split(".")[0]
    if mod == "torch" and cls.__name__ in ("Tensor", "Parameter"):
        return (
            f"a torch.{cls.__name__} (convert it first: ttnn.from_torch(t, dtype=ttnn.bfloat16, "
            "layout=ttnn.TILE_LAYOUT, device=device))"
        )
    if mod == "numpy" and cls.__name__ == "ndarray":
        return "a numpy.ndarray (convert it first: ttnn.from_torch(torch.from_numpy(a), ..., device=device))"
    return cls.__name__ if mod == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def missing_member(cls_name: str, name: str):
    """`__getattr__` fallback of the Tensor / device classes for a name normal lookup did not find: a stub
    method raising TtnnNotImplementedError when called, TtnnNotImplementedError now for a property, and
    AttributeError (as Python would) for a name the real ttnn class does not have."""
    kind = TTNN_MEMBERS.get(cls_name, {}).get(name)
    qualname = f"ttnn.{cls_name}.{name}"
    if kind is None:
        raise AttributeError(f"'ttnn.{cls_name}' object has no attribute {name!r}")
    if kind == "property":
        raise with_user_frame(TtnnNotImplementedError(qualname))

    def not_implemented(*args, **kwargs):
        raise with_user_frame(TtnnNotImplementedError(qualname, f"{qualname}(...)"))

    not_implemented.__name__ = not_implemented.__qualname__ = name
    not_implemented.__ttfuse_stub__ = qualname  # type: ignore[attr-defined]
    return not_implemented


def user_frame(skip_internal: bool = True) -> tuple[str, int, str] | None:
    """The innermost stack frame outside the ttfuse package: (filename, lineno, function)."""
    f = sys._getframe(1)
    while f is not None:
        fn = f.f_code.co_filename
        if not skip_internal or not _internal(fn):
            return fn, f.f_lineno, f.f_code.co_name
        f = f.f_back
    return None


# Files inside the package that hold model code written against the facade (ttfuse/symbiote.py's block recipes):
# an error traced there names their line, as it would a user's model file.
MODEL_CODE: set[str] = set()


def _internal(filename: str) -> bool:
    return (filename.startswith(_PKG_DIR) or filename.startswith("<ttfuse")) and filename not in MODEL_CODE


def warn(msg: str, category: type[Warning] = UserWarning) -> None:
    """Issue a warning at the user's line: the innermost frame outside the ttfuse package (generated code
    included), as `warnings.warn` would for a call written there (same module name, same once-per-location
    registry, so `-W` filters by module work). Every warning ttfuse issues goes through here."""
    f = sys._getframe(1)
    while f is not None and _internal(f.f_code.co_filename):
        f = f.f_back
    if f is None:  # called from ttfuse itself with nothing above (an atexit hook): its caller's line
        warnings.warn(msg, category, stacklevel=2)
        return
    g = f.f_globals
    warnings.warn_explicit(
        msg,
        category,
        f.f_code.co_filename,
        f.f_lineno,
        module=g.get("__name__", "<unknown>"),
        registry=g.setdefault("__warningregistry__", {}),
        module_globals=g,
    )


def format_frame(frame: tuple[str, int, str] | None) -> str:
    if frame is None:
        return "<unknown>"
    fn, line, func = frame
    return f"{os.path.relpath(fn) if not fn.startswith('<') else fn}:{line} in {func}"


def with_user_frame(err: TtfuseError, frame: tuple[str, int, str] | None = None) -> TtfuseError:
    """Append ' (at file:line in func)' once to an error's message, naming the user's source line."""
    if getattr(err, "_has_frame", False):
        return err
    frame = frame or user_frame()
    if frame is not None and err.args:
        err.args = (f"{err.args[0]}\n  at {format_frame(frame)}",) + tuple(err.args[1:])
    err._has_frame = True  # type: ignore[attr-defined]
    err.user_frame = frame  # type: ignore[attr-defined]
    return err
