"""The facade made complete against the real ttnn: a stub for every public name the simulator does not implement.

`ttnn_public_0.81.1.json` (next to this file) lists the whole public tree of the real ttnn 0.81.1 wheel: every
public name of `ttnn`, `ttnn.experimental`, `ttnn.transformer` and `ttnn.types`, and the members of
`ttnn.MeshDevice` and `ttnn.Tensor`, each with its kind. It is data, generated from the wheel by
`conformance/gen_coverage.py --public` (the conformance tests check it against the live wheel), so the main
environment, which has no wheel, knows the real surface.

`install(facade)` (the last line of ttfuse/ttnn/__init__.py) puts a module-level `__getattr__` (PEP 562) on each
facade namespace. It only fires for a name the module does not define, so whatever the facade implements wins
automatically, now or when someone adds it later; a listed name resolves to a stub and an unlisted one is an
AttributeError, as Python would say. Using a stub raises `TtnnNotImplementedError` naming `ttnn.x.y`:

    op / function   a function; calling it raises (importing or referencing it does not)
    class / enum    a class; instantiating it, or reading an attribute of it (`ttnn.X.member`), raises;
                    `isinstance(v, ttnn.X)` is False and subclassing works
    constant        an object; any use (attribute, call, truth, iteration, numbers) raises
    module          a module; a listed namespace resolves its listed names as above, any other module gives a
                    stub (a constant that is also callable) for each public attribute, as its content is not listed
Members of MeshDevice / Tensor go through `ttfuse.errors.missing_member` (the `__getattr__` of the core Tensor
and Device classes), from the tables registered here.

A namespace the facade implements as a real submodule file (`ttfuse/ttnn/types.py`, `ttfuse/ttnn/operations/`)
is imported on first access and completed the same way. `is_stub(obj)` tells a stub from an implementation
(docs/ttnn_coverage.md counts with it).
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
import json
import types
from pathlib import Path
from typing import Any

from ttfuse import errors

TTNN_VERSION = "0.81.1"
DATA = Path(__file__).with_name(f"ttnn_public_{TTNN_VERSION}.json")
NAMESPACES = ("ttnn", "ttnn.experimental", "ttnn.transformer", "ttnn.types")
MEMBER_CLASSES = ("MeshDevice", "Tensor")


@functools.cache
def public_data() -> dict[str, Any]:
    """The data file: {"ttnn_version", "names": {qualname: kind}, "excluded": {qualname: why}}."""
    return json.loads(DATA.read_text())


@functools.cache
def children(qualname: str) -> dict[str, str]:
    """The listed names directly under `qualname` (a namespace or a member class): {short name: kind}."""
    prefix = qualname + "."
    return {
        q[len(prefix) :]: kind
        for q, kind in public_data()["names"].items()
        if q.startswith(prefix) and "." not in q[len(prefix) :]
    }


def is_stub(obj: Any) -> bool:
    """Whether `obj` is one of the stubs made here (or a stub method of a Tensor / device)."""
    if isinstance(obj, _StubValue | _StubModule | _StubMeta):
        return True
    return inspect.isfunction(obj) and "__ttfuse_stub__" in vars(obj)


def _raise(qualname: str, use: str = "") -> None:
    raise errors.with_user_frame(errors.TtnnNotImplementedError(qualname, use))


def _function(qualname: str) -> Any:
    def not_implemented(*args, **kwargs):
        _raise(qualname, f"{qualname}(...)")

    not_implemented.__name__ = not_implemented.__qualname__ = qualname.rsplit(".", 1)[1]
    not_implemented.__module__ = qualname.rsplit(".", 1)[0]
    not_implemented.__doc__ = f"{qualname}: not implemented by the ttfuse simulator (calling it raises)."
    not_implemented.__ttfuse_stub__ = qualname  # type: ignore[attr-defined]
    return not_implemented


class _StubMeta(type):
    """The metaclass of stub classes and enums: instantiating one or reading its attributes raises."""

    def __call__(cls, *args, **kwargs):
        _raise(cls.__ttfuse_stub__, f"{cls.__ttfuse_stub__}(...)")

    def __getattr__(cls, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        _raise(cls.__ttfuse_stub__, f"{cls.__ttfuse_stub__}.{name}")


def _class(qualname: str) -> type:
    ns, short = qualname.rsplit(".", 1)
    doc = f"{qualname}: not implemented by the ttfuse simulator (instantiating it raises)."
    return _StubMeta(short, (), {"__ttfuse_stub__": qualname, "__module__": ns, "__doc__": doc})


class _StubValue:
    """A constant the simulator lacks, or an attribute of a module it lacks: any use raises, naming the listed
    name to blame (`owner`: the constant, or the module whose content the data file does not list)."""

    __slots__ = ("__ttfuse_stub__", "_owner")

    def __init__(self, qualname: str, owner: str | None = None) -> None:
        object.__setattr__(self, "__ttfuse_stub__", qualname)
        object.__setattr__(self, "_owner", owner or qualname)

    def __repr__(self) -> str:
        return f"<{self.__ttfuse_stub__}: not implemented by the ttfuse simulator>"

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        _raise(self._owner, f"{self.__ttfuse_stub__}.{name}")

    def __setattr__(self, name: str, value: Any) -> None:
        _raise(self._owner, f"{self.__ttfuse_stub__}.{name} = ...")

    def __call__(self, *args, **kwargs):
        _raise(self._owner, f"{self.__ttfuse_stub__}(...)")

    def _use(self, *args, **kwargs):
        _raise(self._owner, self.__ttfuse_stub__)

    __bool__ = __iter__ = __len__ = __int__ = __float__ = __index__ = __getitem__ = __contains__ = _use


class _StubModule(types.ModuleType):
    """A module of the real ttnn the facade lacks. A listed namespace (ttnn.types) has exactly its listed names;
    another module's content is not in the data file, so each public attribute is a stub value."""

    def __init__(self, qualname: str) -> None:
        super().__init__(qualname, f"{qualname}: not implemented by the ttfuse simulator")
        self.__ttfuse_stub__ = qualname

    def __getattr__(self, name: str):
        qualname = self.__ttfuse_stub__
        if name.startswith("_"):
            raise AttributeError(f"module {qualname!r} has no attribute {name!r}")
        if qualname in NAMESPACES:
            return _listed(qualname, name)
        return _module_attribute(f"{qualname}.{name}", qualname)


_MAKERS = {
    "op": _function,
    "function": _function,
    "method": _function,
    "class": _class,
    "enum": _class,
    "constant": _StubValue,
    "module": _StubModule,
}


@functools.cache
def stub(qualname: str, kind: str) -> Any:
    """The one stub of `qualname` (the same object every time, so `ttnn.x is ttnn.x`)."""
    return _MAKERS[kind](qualname)


@functools.cache
def _module_attribute(qualname: str, module: str) -> _StubValue:
    return _StubValue(qualname, module)


def _listed(namespace: str, name: str) -> Any:
    kind = children(namespace).get(name)
    if kind is None:
        raise AttributeError(f"module {namespace!r} has no attribute {name!r}")
    return stub(f"{namespace}.{name}", kind)


def _submodule(facade: types.ModuleType, name: str) -> types.ModuleType | None:
    """The facade's own submodule `name` (a file under ttfuse/ttnn/), imported and completed; None if none."""
    full = f"{facade.__name__}.{name}"
    if importlib.util.find_spec(full) is None:
        return None
    mod = importlib.import_module(full)
    complete(mod, f"ttnn.{name}")
    return mod


def complete(mod: types.ModuleType, namespace: str) -> None:
    """Give `mod` (the facade's module for `namespace`) a `__getattr__` resolving the listed names it does not
    define to stubs. Idempotent; a `__getattr__` the module already has is asked first."""
    own = vars(mod).get("__getattr__")
    if getattr(own, "__ttfuse_namespace__", None) == namespace:
        return

    def __getattr__(name: str):
        if own is not None:
            try:
                return own(name)
            except AttributeError:
                pass
        if namespace == "ttnn" and children(namespace).get(name) == "module":
            sub = _submodule(mod, name)
            if sub is not None:
                return sub
        return _listed(namespace, name)

    __getattr__.__ttfuse_namespace__ = namespace  # type: ignore[attr-defined]
    mod.__getattr__ = __getattr__  # type: ignore[attr-defined]


def install(facade: types.ModuleType) -> None:
    """Complete the facade (`ttfuse.ttnn`) and its namespaces against the data file, and register the members of
    the real MeshDevice / Tensor for the core classes' `__getattr__` fallbacks."""
    complete(facade, "ttnn")
    for namespace in NAMESPACES[1:]:
        short = namespace.split(".", 1)[1]
        mod = vars(facade).get(short)
        if isinstance(mod, types.ModuleType) and not is_stub(mod):
            complete(mod, namespace)
        elif mod is None:  # a facade file (ttfuse/ttnn/types.py) not imported yet: import and complete it
            _submodule(facade, short)
    for cls_name in MEMBER_CLASSES:
        errors.TTNN_MEMBERS[cls_name] = children(f"ttnn.{cls_name}")
