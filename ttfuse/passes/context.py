"""What a pass may know: `PassContext` (the target device, typed options, passes disabled) and `PassOptions`.

`PassOptions` is frozen and typed: passes read attributes (`ctx.options.max_grid`), never string keys. It is
derived from the user's `ttfuse.jit` options by one function, `pass_options(jit_options)`; every field here is
a `JitOptions` field of the same name (and so part of the cache key).

The device is explicit: `ctx.device_spec` (a ttfuse.device.DeviceSpec, None when unknown) and `ctx.mesh_shape`
are what passes hand to the rules they call (`working_set(node, ins, kind, ctx.device_spec)`, `SelectCtx`,
`Rewriter.device_spec`, ...). The spec rules of ops still read the target device from ttfuse.opdef's
thread-local (`current_device_spec()`: threading it through every spec rule's signature is a larger change);
`target_device(ctx)` is the one context manager that sets it from a pass context. Each pass entry point enters
it once (run_pipeline around the whole pipeline; a pass or the rewrite driver called on its own enters it
itself: re-entering the device already set is free), and restores the previous device when it returns, so
no compile leaves its device behind for the next one (a Blackhole compile never sees a Wormhole spec).
Extend: a new option is a field here and a field of `JitOptions` (ttfuse/jit.py, keyed), wired in
`pass_options`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ttfuse.configs import MathFidelity
from ttfuse.types import MemoryConfig


@dataclass(frozen=True)
class PassOptions:
    """The jit options passes read (each the `JitOptions` field of the same name; None: the pass decides)."""

    max_grid: tuple[int, int] | None = None  # end coordinate (x, y) of the largest core grid configs may use
    math_fidelity: MathFidelity | None = None  # compute kernel configs' fidelity (None: by dtype)
    memory_config: MemoryConfig | None = None  # memory config of the function's outputs
    l1_budget: int | None = None  # bytes of L1 per chip tensors may fill (None: L1 minus the CB reserve)
    dram_budget: int | None = None  # bytes of DRAM per chip tensors may fill (None: the device's DRAM)
    fp32_dest_acc_en: bool | None = None  # force fp32 accumulation on (True) or off (False) in configs


def pass_options(jit_options: Any) -> PassOptions:
    """The PassOptions of a `ttfuse.jit.JitOptions` (the one place the two are connected)."""
    return PassOptions(
        max_grid=jit_options.max_grid,
        math_fidelity=jit_options.math_fidelity,
        memory_config=jit_options.memory_config,
        l1_budget=jit_options.l1_budget,
        dram_budget=jit_options.dram_budget,
        fp32_dest_acc_en=jit_options.fp32_dest_acc_en,
    )


@dataclass
class PassContext:
    """What passes may know: the target device and mesh, the jit options, passes disabled by name.

    `options` may be given as a dict of PassOptions fields (tests); it is stored as a PassOptions."""

    device_spec: Any = None  # ttfuse.device.DeviceSpec of the target (None: unknown)
    options: PassOptions = field(default_factory=PassOptions)
    disabled: frozenset = frozenset()
    mesh_shape: tuple[int, int] = (1, 1)
    debug: int = 0
    keep_graphs: bool = False
    # filled by run_pipeline and the cost pass: the traced graph and its cost comparison (a LazyCost)
    graph_in: Any = field(default=None, repr=False)
    cost: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.options, dict):
            self.options = PassOptions(**self.options)
        self.mesh_shape = tuple(self.mesh_shape)


@contextlib.contextmanager
def target_device(ctx: PassContext | None) -> Iterator[None]:
    """Spec rules run inside see the pass context's device and mesh (grid, L1, DST budget), as under capture;
    the previous device is restored on exit. No-op when that device is already set. `ctx` None: no device
    (the rules' default), mesh 1x1."""
    from ttfuse.opdef import current_device_spec, current_mesh_shape, device_spec_context

    spec = getattr(ctx, "device_spec", None)
    mesh = tuple(getattr(ctx, "mesh_shape", (1, 1)))
    if current_device_spec() is spec and tuple(current_mesh_shape()) == mesh:
        yield
        return
    with device_spec_context(spec, mesh):
        yield
