"""The backend seam: what everything above the backends knows of a device, and how ops run on one.

Two interfaces, both in the core so that any layer may name them:

- `Device`: an open (mesh) device. The facade, capture, jit, verify, the cache keys (identity, jit) and the
  host conversions (ttfuse/ops/host.py) use only what is declared here: `spec`, `shape`, `chips`, `id`,
  `get_num_devices()`, `check_open()`, `close()` and `allocate()`. `is_device(v)` is the one test for "is
  this a device" (nominal: a class subclasses `Device`; verify's DevicePlaceholder, which stands for a
  graph's device in spec rules, is deliberately not one).
- `Backend`: how a kind of device runs ttnn: the eager trace the facade's op calls go through, how devices
  are opened, the `ttnn` namespace generated code calls and, optionally, how generated code groups ops
  into regions (the simulator's row-blocked execution, ttfuse/sim/blocked.py).

Registry: `register_backend(name, factory)`, `get_backend(name)`, `backend_names()`. A backend registers
itself when its package is imported (ttfuse/sim/__init__.py registers "sim"); `BUILTIN` names the package of
each built-in backend, which `get_backend` imports on first use (the way an entry point names a plugin), so the
core never imports a backend and the facade never names one. Two selections:
`eager_backend()`, the one the facade's eager op calls and `ttnn.open_device` use (set once by the facade from
`eager_backend_name()`, or later by `set_eager_backend`), and `current_backend()`, the one `ttfuse.jit`
generates code for by default (`$TTFUSE_BACKEND`, default "sim"; `ttfuse.jit(backend=...)` overrides it per
function). `eager_backend_name()` is `$TTFUSE_BACKEND` when that backend runs eager calls (`runs_eager`),
else "sim".

The facade registers itself (`set_facade(module)`): a backend whose generated code calls the facade (the
simulator) asks `facade()` for it instead of importing the layer above.

Implementations today: "sim", the simulator (ttfuse/sim/backend.py, registered by ttfuse/sim/__init__.py), and
"ttnn" (`TtnnBackend` below), which so far only generates code for the real ttnn wheel: TTFUSE_BACKEND=ttnn
compiles for the wheel and still runs eager calls on the simulator (`runs_eager` is False). A complete real-ttnn
backend plugs in here: a `Backend` registered under "ttnn" with `runs_eager = True`, whose `open_mesh` returns
a `Device` subclass wrapping `ttnn.MeshDevice` and whose `eager_trace` forwards op calls to the wheel; the
facade then makes it the eager backend when TTFUSE_BACKEND=ttnn. Nothing else above this module changes.

`ttfuse.install()` (ttfuse/install.py) may make the facade `sys.modules["ttnn"]`; it hands the real wheel, when
one imported but no device opened, to `set_real_ttnn`, so `TtnnBackend.api()` still finds the wheel.
"""

from __future__ import annotations

import abc
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ttfuse.errors import DeviceError, missing_member
from ttfuse.opdef import set_eager_trace

if TYPE_CHECKING:
    from ttfuse.device import DeviceSpec
    from ttfuse.ir import Graph
    from ttfuse.mesh import MeshShape
    from ttfuse.opdef import Trace
    from ttfuse.types import TensorSpec

DEFAULT_BACKEND = "sim"

# The family of the programs device work launches now (None: ttnn's own op programs). A backend's program
# cache keys programs under it: ttnn-jit compiles a function into `ttnn.generic_op` programs of its own
# (tt-mlir tools/ttnn-jit: D2M kernels run through ttnn.generic_op), so the drop-in (ttfuse/ttnn_jit.py) runs
# its compiled code under "ttnn.generic_op" and those are program-cache entries apart from the eager ops'.
PROGRAM_FAMILY: list = [None]


class Device(abc.ABC):
    """An open (mesh) device; a single device is a 1x1 mesh, as in current ttnn.

    Attributes every implementation sets: `id` (unique in the process; names the device in messages) and
    `chips` (one handle per chip in row-major mesh order: two devices with equal `chips` are the same
    hardware, as a submesh and its parent are; the handles are the backend's own business).
    """

    __slots__ = ()
    id: int
    chips: Sequence[Any]

    @property
    @abc.abstractmethod
    def spec(self) -> DeviceSpec:
        """The DeviceSpec of every chip (ttfuse/device.py): what passes, cost model and spec rules read."""

    @property
    @abc.abstractmethod
    def shape(self) -> MeshShape:
        """The mesh shape (`.rows`, `.cols`)."""

    def get_num_devices(self) -> int:
        return len(self.chips)

    def __getattr__(self, name: str):
        # only names normal lookup missed: a member of the real ttnn.MeshDevice that this backend lacks raises
        # TtnnNotImplementedError naming it (a method when called); any other name AttributeError
        return missing_member("MeshDevice", name)

    @abc.abstractmethod
    def check_open(self, op_name: str) -> None:
        """Raise DeviceError naming `op_name` when the device was closed."""

    @abc.abstractmethod
    def close(self) -> None:
        """`ttnn.close_device`: later ops on the device raise."""

    @abc.abstractmethod
    def allocate(self, spec: TensorSpec, op_name: str) -> list:
        """Storage for a tensor of `spec` on every chip (one buffer each, with `free()`); OutOfMemoryError
        names `op_name`. Host conversions (ttnn.to_device) call this."""


def is_device(v: Any) -> bool:
    """Whether `v` is an open-able device of some backend (not a placeholder)."""
    return isinstance(v, Device)


class Backend(abc.ABC):
    """How one kind of device runs ttnn. Subclasses set `name` and `facade_api`."""

    name: str = ""
    # True: the `ttnn` namespace generated code calls is ttfuse's facade (every op, fused kernels too, is an
    # OpDef running on this backend's eager trace). False: the backend's own ttnn module, where a fused
    # kernel runs as its ttnn rule (a composite of stock calls) and config literals spell every field.
    facade_api: bool = False

    @abc.abstractmethod
    def eager_trace(self) -> Trace:
        """The bottom-of-stack trace eager facade calls run on (ttfuse/opdef.py `set_eager_trace`)."""

    @abc.abstractmethod
    def open_mesh(self, shape: MeshShape, arch: str | None) -> Device:
        """Open a mesh device of `shape`; `arch` names the device kind (None: `$TTFUSE_ARCH`)."""

    @abc.abstractmethod
    def api(self):
        """The module generated code calls as `ttnn` (ImportError when the backend's package is missing)."""

    # NOTE: the package `api()` needs, named in codegen's error when it is missing
    requires: str = "its ttnn package"
    # the class `ttnn.MeshDevice` names in the facade (isinstance checks, attribute conformance)
    device_class: type[Device] = Device
    # whether `eager_trace()` and `open_mesh()` work: only such a backend can be the eager backend
    runs_eager: bool = True

    def plan(self, graph: Graph, block_bytes: int) -> list:
        """The graph's nodes in order, or runs of them grouped into region plans (objects with `nodes`,
        `inputs` and `outputs` value numbers) that generated code calls as one `region(plan, graph)`."""
        return list(graph.nodes)

    def region(self, plan, graph: Graph) -> Callable:
        """The callable running one region plan of `plan()` (with a `label()` for the generated comment)."""
        raise NotImplementedError(f"backend {self.name!r} plans no regions")

    def __repr__(self) -> str:
        return f"<ttfuse backend {self.name!r}>"


class TtnnBackend(Backend):
    """The real ttnn wheel. For now generated code only (codegen with backend="ttnn", checked against the
    wheel by tests/conformance); eager execution and devices come with the real-ttnn backend."""

    name = "ttnn"
    facade_api = False
    runs_eager = False
    requires = "the real ttnn package"

    def api(self):
        import ttnn  # the real wheel, on a machine with a TT device

        if ttnn is sys.modules.get("ttfuse.ttnn"):  # ttfuse.install() put the facade there
            if _REAL_TTNN:
                return _REAL_TTNN[0]
            raise ImportError(
                "`import ttnn` is ttfuse's facade (ttfuse.install()); the real ttnn is not installed"
            )
        return ttnn

    def eager_trace(self) -> Trace:
        raise DeviceError(
            "backend 'ttnn': eager execution on the real ttnn is not implemented yet; "
            "use TTFUSE_BACKEND=sim (jit functions may still generate code with backend='ttnn')"
        )

    def open_mesh(self, shape: MeshShape, arch: str | None) -> Device:
        raise DeviceError(
            "backend 'ttnn': opening real devices is not implemented yet; use TTFUSE_BACKEND=sim"
        )


# --------------------------------------------------------------------------------------------------- registry
_FACTORIES: dict[str, Callable[[], Backend]] = {"ttnn": TtnnBackend}
_INSTANCES: dict[str, Backend] = {}
# NOTE: built-in backends by the package whose import registers them (`register_backend`), imported by
# `get_backend` on first use: data, like an entry point, so the core depends on no backend.
BUILTIN: dict[str, str] = {"sim": "ttfuse.sim"}
_FACADE: list = []
_REAL_TTNN: list = []


def set_facade(module) -> None:
    """The facade registers itself (ttfuse/ttnn/__init__.py): the `ttnn` namespace of facade-API backends."""
    _FACADE[:] = [module]


def facade():
    """The facade module registered by `set_facade` (importing ttfuse.ttnn registers it)."""
    if not _FACADE:
        raise DeviceError("the ttnn facade is not loaded (import ttfuse.ttnn first)")
    return _FACADE[0]


def set_real_ttnn(module) -> None:
    """ttfuse.install() found the real ttnn but no device: keep it for `TtnnBackend.api()`."""
    _REAL_TTNN[:] = [module] if module is not None else []


def register_backend(name: str, factory: Callable[[], Backend]) -> None:
    """Make `name` a backend; `factory()` builds it on first use (re-registering replaces it)."""
    _FACTORIES[name] = factory
    _INSTANCES.pop(name, None)


def backend_names() -> list[str]:
    return sorted(set(_FACTORIES) | set(BUILTIN))


def get_backend(name: str | None = None) -> Backend:
    """The backend registered under `name` (None: `current_backend()`); KeyError for an unknown name."""
    if name is None:
        name = current_backend_name()
    b = _INSTANCES.get(name)
    if b is None:
        factory = _FACTORIES.get(name)
        if factory is None and name in BUILTIN:
            importlib.import_module(BUILTIN[name])  # registers it
            factory = _FACTORIES.get(name)
        if factory is None:
            known = ", ".join(repr(n) for n in backend_names())
            raise KeyError(f"unknown backend {name!r}; known: {known}")
        b = _INSTANCES[name] = factory()
    return b


def current_backend_name() -> str:
    """`$TTFUSE_BACKEND`, default "sim"."""
    return os.environ.get("TTFUSE_BACKEND") or DEFAULT_BACKEND


def current_backend() -> Backend:
    """The backend `ttfuse.jit` generates code for unless told otherwise (`$TTFUSE_BACKEND`, default "sim")."""
    return get_backend(current_backend_name())


def eager_backend_name() -> str:
    """The backend the facade runs eager calls on: `$TTFUSE_BACKEND` when it can (`runs_eager`), else "sim"."""
    name = current_backend_name()
    return name if get_backend(name).runs_eager else DEFAULT_BACKEND


_EAGER: list[Backend] = []


def set_eager_backend(name: str) -> Backend:
    """Run eager facade calls on backend `name` from now on (installs its eager trace); returns it."""
    b = get_backend(name)
    if not b.runs_eager:
        raise DeviceError(f"backend {name!r} cannot run eager calls (it only generates code)")
    set_eager_trace(b.eager_trace())
    _EAGER[:] = [b]
    return b


def eager_backend() -> Backend:
    """The backend eager facade calls run on and devices are opened on (set by the facade at import)."""
    if not _EAGER:
        raise DeviceError("no eager backend is installed (importing ttfuse.ttnn installs the simulator)")
    return _EAGER[0]


# Profilers watching every device of every backend (ttfuse/profiler; the simulator calls them):
# objects with `on_alloc(allocation, buffer_type)`,
# `on_free(allocation)` and `on_op(device, op, args, out_specs, launches, inputs, outputs, node)`. Empty unless a profile
# is active, so the per-op cost of the hook is one truth test of this list.
OBSERVERS: list = []


# Names of the jit functions whose generated code is running now (innermost last), kept only while a profiler
# watches (ttfuse/jit_runner.py `runner`): a profiler marks the ops they launch as jit ops.
JIT_STACK: list = []


class jit_scope:
    """`with jit_scope(name):` marks the ops run inside as ops of jit-generated code (for profilers)."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __enter__(self):
        JIT_STACK.append(self.name)

    def __exit__(self, *exc):
        JIT_STACK.pop()


def notify_op(device, op, args: dict, out_specs, launches: int, inputs, outputs, node=None) -> None:
    """Tell every active profiler that `op` ran `launches` kernels on `device`: `args` the call's arguments with
    tensors as TensorSpecs, `inputs` / `outputs` the per-tensor lists of per-chip storages (Allocations; a view's
    or an unknown one may be anything else or None), `node` the IR node when jit-generated code ran it."""
    for o in OBSERVERS:
        o.on_op(device, op, args, out_specs, launches, inputs, outputs, node)
