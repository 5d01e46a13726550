"""pytest plugin: test files written for real ttnn, in tt-metal's style, run unmodified on the simulator.

    pytest -p ttfuse.pytest tests/ttnn/unit_tests/...      # or, in a conftest.py:
    pytest_plugins = ["ttfuse.pytest"]

Loading the plugin calls `ttfuse.install()` (ttfuse/switch.py) before any conftest or test module imports
`ttnn`: the facade is `ttnn` unless a real ttnn device opens (then nothing is replaced and these fixtures
open real devices). `TTFUSE_INSTALL=0` turns the switch off.

Fixtures, named and parametrised as in tt-metal's top-level conftest.py (tenstorrent/tt-metal conftest.py):
- `device_params`: `request.param` of an indirect parametrisation, else `{}`:
  `@pytest.mark.parametrize("device_params", [{"l1_small_size": 24576}], indirect=True)`.
- `device`: `ttnn.open_device(device_id=0, **device_params)`, yielded, closed after the test. As tt-metal's
  `get_updated_device_params` does, `dispatch_core_axis` / `dispatch_core_type` become a `DispatchCoreConfig`;
  the fabric and reliability keys tt-metal's conftest consumes itself are dropped; any other key goes to
  `open_device`, which rejects what it does not know.
- `mesh_device`: indirect parametrisation with a mesh shape tuple `(rows, cols)` or a device count `n`
  (`MeshShape(1, n)`); unparametrised, one device. `ttnn.open_mesh_device(mesh_shape=..., **device_params)`,
  closed after the test.
- `reset_seeds` (torch, random and numpy seeded), `function_level_defaults`, `is_ci_env` (`$CI == "true"`),
  `use_program_cache` (enables the program cache of the test's device fixtures, where the device has one).

Helpers tt-metal's tests import from tt-metal's own tree (`tests.ttnn.utils_for_testing.assert_with_pcc`,
`models.utility_functions.comp_pcc`, ...) are not provided under those paths: inside a tt-metal checkout they
import as they are (they import `ttnn`, which is the facade); elsewhere `ttfuse.testing.assert_with_pcc`
and `comp_pcc` do the same job.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from typing import Any

import pytest

from ttfuse.switch import install, installed, uninstall

# tt-metal's conftest consumes these device_params keys itself (fabric set-up, reliability mode) before
# opening a device; the simulator has no fabric to configure.
_SYSTEM_KEYS = (
    "fabric_config",
    "fabric_tensix_config",
    "reliability_mode",
    "fabric_manager",
    "fabric_router_config",
)

_ACTIVE = {
    "which": install()
}  # NOTE: at import, so conftests loaded after this plugin already see the switch


def pytest_configure(config: pytest.Config) -> None:
    _ACTIVE["which"] = install()  # idempotent; again after an in-process run's unconfigure


def pytest_unconfigure(config: pytest.Config) -> None:
    if _ACTIVE["which"] == "ttfuse" and installed():
        uninstall()


def pytest_report_header(config: pytest.Config) -> str:
    which = _ACTIVE["which"]
    if which == "ttfuse":
        return "ttfuse: `import ttnn` is ttfuse's simulator (ttfuse.pytest)"
    if which == "ttnn":
        return "ttfuse: a real ttnn device is usable; `import ttnn` is the real ttnn"
    return "ttfuse: switch off (TTFUSE_INSTALL=0)"


def _device_kwargs(ttnn: Any, params: dict) -> dict:
    """`device_params` as `open_device` / `open_mesh_device` keywords (tt-metal's get_updated_device_params)."""
    kw = dict(params)
    axis = kw.pop("dispatch_core_axis", None)
    core_type = kw.pop("dispatch_core_type", None)
    if (axis is not None or core_type is not None) and "dispatch_core_config" not in kw:
        kw["dispatch_core_config"] = ttnn.DispatchCoreConfig(core_type, axis)
    for k in _SYSTEM_KEYS:
        kw.pop(k, None)
    return kw


@pytest.fixture
def device_params(request: pytest.FixtureRequest) -> dict:
    return getattr(request, "param", {})


@pytest.fixture
def device(request: pytest.FixtureRequest, device_params: dict) -> Iterator[Any]:
    import ttnn

    dev = ttnn.open_device(device_id=0, **_device_kwargs(ttnn, device_params))
    try:
        yield dev
    finally:
        ttnn.close_device(dev)


def _mesh_shape(ttnn: Any, param: Any) -> Any:
    if isinstance(param, int):
        return ttnn.MeshShape(1, param)
    if isinstance(param, tuple | list):
        if len(param) != 2:
            raise ValueError(f"mesh_device: a mesh shape has two elements (rows, cols), got {param!r}")
        return ttnn.MeshShape(*param)
    return param  # a ttnn.MeshShape


@pytest.fixture
def mesh_device(request: pytest.FixtureRequest, device_params: dict) -> Iterator[Any]:
    import ttnn

    shape = _mesh_shape(ttnn, getattr(request, "param", 1))
    mesh = ttnn.open_mesh_device(mesh_shape=shape, **_device_kwargs(ttnn, device_params))
    try:
        yield mesh
    finally:
        ttnn.close_mesh_device(mesh)


@pytest.fixture
def reset_seeds() -> Iterator[None]:
    import torch

    seed = 213919  # tt-metal's conftest seed, so seeded tests draw the same inputs
    torch.manual_seed(seed)
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed)
    except ImportError:
        pass
    yield


@pytest.fixture
def function_level_defaults(reset_seeds: None) -> Iterator[None]:
    yield


@pytest.fixture
def is_ci_env() -> bool:
    return os.getenv("CI") == "true"


@pytest.fixture
def use_program_cache(request: pytest.FixtureRequest) -> Iterator[None]:
    devices = [
        request.getfixturevalue(name) for name in ("device", "mesh_device") if name in request.fixturenames
    ]
    for dev in devices:
        if hasattr(dev, "enable_program_cache"):
            dev.enable_program_cache()
    yield
    for dev in devices:
        if hasattr(dev, "disable_and_clear_program_cache"):
            dev.disable_and_clear_program_cache()
