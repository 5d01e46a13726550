"""A drop-in for ttnn-jit (tenstorrent/tt-mlir, `tools/ttnn-jit`): code written for it runs by changing one import.

    import ttfuse.ttnn_jit as ttnn_jit            # was: import ttnn_jit
    @ttnn_jit.jit(debug=True, enable_cache=True)   # or bare @ttnn_jit.jit
    def cosh(x):
        return ttnn.multiply(ttnn.add(ttnn.exp(x), ttnn.exp(ttnn.neg(x))), 0.5)

`jit` takes ttnn-jit's options with its defaults (tools/ttnn-jit/api.py): `compile_only=False`, `debug=False`,
`enable_cache=False`, `math_fidelity=ttnn.MathFidelity.HiFi4`, `memory_config=None`, `fallback=False`,
`extra_pipeline_options=""`, positionally in that order too. The wrapper (`JitFunction`) has ttnn-jit's
attributes: `func` (the undecorated function), `num_entries` (an AssertionError when the cache is off, as there),
`fallback_used` (reset on every call), `compile_only`, `debug` (True also when compile_only), `math_fidelity`,
`memory_config`, `fallback`, `extra_pipeline_options`, `cache` (None when the cache is off), `source_code`.

It is a thin layer over `ttfuse.jit` (not a second jit): the options map onto jit's (`enable_cache`,
`math_fidelity`, `memory_config`, `compile_only` -> a `ttfuse.Lowered` instead of an MLIR module, `debug` ->
debug level 3 while compiling); the function jit compiles is the user's function followed by the output
placement, so the placement is part of the graph the passes see:
- `memory_config` given: every output tensor is moved to it (`ttnn.to_memory_config`).
- None (ttnn-jit's default): "a maximally L1 block sharded layout" (docs/src/ttnn-jit.md), computed as ttnn-jit's
  tracing compiler does (tools/ttnn-jit/_src/tracing_compiler.py, `compile`; _src/utils.py,
  `get_maximal_block_sharding_grid`): the output's logical shape as 2-D (a scalar is [1, 1], a vector [1, n],
  leading dims fold into the height), counted in 32x32 tiles (rounded up); on each axis the largest core count
  up to the device's compute grid (`device.core_grid`, x for the width, y for the height) that divides the tile
  count; then `ttnn.create_sharded_memory_config(shape, CoreGrid(x, y), BLOCK,
  use_height_and_width_as_shard_shape=False)`: L1, BLOCK_SHARDED, ROW_MAJOR orientation, shard = shape / grid.
  When that shard is not whole tiles (a shape that is not tile aligned, which ttnn-jit does not support), the
  shard is the tile-rounded one (`tiles / cores` tiles per core), the layout ttnn-jit's compiler gives such an
  output (tools/ttnn-jit/_src/tensor_translator.py, `_create_tensor_layout_with_shape`).
  So a matmul's output is sharded too ("Matmul output must be sharded", test_matmul_smoketest.py).
- `fallback=True`: when validating, compiling or running fails, the function runs eagerly on ttnn and
  `fallback_used` is True for that call (ttnn-jit's rule: tools/ttnn-jit/_src/jit.py, `__call__`).

Validation, as ttnn-jit's frontend does it (the same exception types and messages, as ttfuse errors naming the
function, the argument and the caller's line): `fallback=True` with `compile_only=True` is a ValueError when
decorating; arguments that do not bind the signature, and tensors ttnn-jit cannot take
(tools/ttnn-jit/_src/tensor_translator.py, `_check_layout_supported`: ROW_MAJOR layout, sharded DRAM, column-major
shards, interleaved L1) are ValueErrors (`ttfuse.SpecError`) when called. `extra_pipeline_options` (a string for
ttnn-jit's MLIR pipeline) is checked to be a string and otherwise not used: ttfuse has no D2M pipeline.
Extend: a new ttnn-jit option is a keyword of `jit`, an attribute of `JitFunction` and a mapping in
`JitFunction.__init__`; tests in tests/test_ttnn_jit_dropin.py.
"""

from __future__ import annotations

import functools
import inspect
import math
import textwrap

from ttfuse.backend import PROGRAM_FAMILY
from ttfuse.configs import MathFidelity
from ttfuse.errors import SpecError, with_user_frame
from ttfuse.jit import jit as _ttfuse_jit
from ttfuse.tensor import Tensor
from ttfuse.ttnn import create_sharded_memory_config, to_memory_config
from ttfuse.types import (
    BufferType,
    CoreGrid,
    Layout,
    MemoryConfig,
    ShardOrientation,
    ShardStrategy,
    TensorMemoryLayout,
)

__all__ = ["jit", "JitFunction", "get_maximal_block_sharding_grid", "default_output_memory_config"]

TILE = 32
# ttnn-jit runs a compiled function as ttnn.generic_op programs (tt-mlir tools/ttnn-jit: the D2M flatbuffer's
# kernels through ttnn.generic_op): the program family its programs are cached under (ttfuse/backend.py)
GENERIC_OP = "ttnn.generic_op"
# the keyword (never a user's) that carries the device's compute grid into the traced function: a static
# argument, so it is part of the cache key like the input specs
_GRID_KW = "_ttnn_jit_core_grid"


# ----------------------------------------------------------------------------------- default output placement
def _logical_2d(shape) -> list[int]:
    """ttnn-jit's 2-D view of a shape for sharding: a scalar is [1, 1], a vector [1, n], else the shape."""
    shape = [int(d) for d in shape]
    if not shape:
        return [1, 1]
    if len(shape) == 1:
        return [1, shape[0]]
    return shape


def _tiles(shape2: list[int]) -> list[int]:
    """Tile counts [height, width] of a logical shape (>= 2-D), leading dims folded into the height."""
    h = math.prod(shape2[:-1])
    return [-(-h // TILE), -(-shape2[-1] // TILE)]


def get_maximal_block_sharding_grid(shape, core_grid) -> list[int]:
    """ttnn-jit's grid for block sharding `shape` (its `_src/utils.py` name, tests import it): the end
    coordinate [x, y] of the largest grid within `core_grid` (an end coordinate, (7, 7) for 8x8) whose core counts
    divide the width and height tile counts."""
    th, tw = _tiles(_logical_2d(shape))
    gx, gy = int(core_grid[0]) + 1, int(core_grid[1]) + 1
    # the largest count <= the grid's extent that divides the tiles: 1 always does
    y = next(c for c in range(gy, 0, -1) if th % c == 0)
    x = next(c for c in range(gx, 0, -1) if tw % c == 0)
    return [x - 1, y - 1]


def default_output_memory_config(shape, core_grid: tuple[int, int]) -> MemoryConfig:
    """ttnn-jit's default output memory config for an output of `shape` on a device whose compute grid is
    `core_grid` = (x, y) cores: L1 block sharded over the maximal dividing grid, ROW_MAJOR (module docstring)."""
    shape2 = _logical_2d(shape)
    ex, ey = get_maximal_block_sharding_grid(shape2, (core_grid[0] - 1, core_grid[1] - 1))
    grid = CoreGrid(x=ex + 1, y=ey + 1)
    mc = create_sharded_memory_config(
        shape=shape2, core_grid=grid, strategy=ShardStrategy.BLOCK, use_height_and_width_as_shard_shape=False
    )
    sh, sw = mc.shard_spec.shape
    if sh % TILE or sw % TILE:  # not tile aligned: whole tiles per core, as ttnn-jit's compiler lays it out
        th, tw = _tiles(shape2)
        mc = create_sharded_memory_config(
            shape=(th // grid.y * TILE, tw // grid.x * TILE),
            core_grid=grid,
            strategy=ShardStrategy.BLOCK,
            orientation=ShardOrientation.ROW_MAJOR,
            use_height_and_width_as_shard_shape=True,
        )
    return mc


def _device_grid(device) -> tuple[int, int]:
    """(x, y) compute cores of a device: `core_grid` is a property in ttnn (a method in older facades)."""
    g = device.core_grid
    if callable(g):
        g = g()
    return int(g.x), int(g.y)


# ------------------------------------------------------------------------------------------------ validation
def _check_layout_supported(where: str, arg: str, t: Tensor) -> None:
    """The tensors ttnn-jit's frontend takes (tools/ttnn-jit/_src/tensor_translator.py, _check_layout_supported);
    its messages open ours, so code matching them still matches."""
    spec = t.spec
    mc = spec.memory_config
    why = None
    if spec.layout is not Layout.TILE:
        why = f"Only Layout.Tile tensors are supported. Found layout: {spec.layout}"
    elif mc.is_sharded() and mc.buffer_type is BufferType.DRAM:
        why = "Sharded DRAM tensors are not supported."
    elif (
        mc.is_sharded()
        and mc.shard_spec is not None
        and mc.shard_spec.orientation is ShardOrientation.COL_MAJOR
    ):
        why = "Column major sharding is not supported."
    elif mc.buffer_type is BufferType.L1 and mc.memory_layout is TensorMemoryLayout.INTERLEAVED:
        why = "Interleaved L1 tensors are not supported."
    if why is not None:
        raise with_user_frame(SpecError(f"{why} ({where}: argument {arg!r}, as ttnn-jit)"))


# --------------------------------------------------------------------------------------------------- the jit
class _Cache:
    """ttnn-jit's `JitFunction.cache` (a JitCache there): the entry count of the ttfuse jit underneath."""

    def __init__(self, jf):
        self._jf = jf

    def num_entries(self) -> int:
        return self._jf.num_entries


class JitFunction:
    """A function compiled through ttfuse with ttnn-jit's interface (see the module docstring)."""

    def __init__(
        self,
        func,
        compile_only: bool = False,
        debug: bool = False,
        enable_cache: bool = False,
        math_fidelity: MathFidelity = MathFidelity.HiFi4,
        memory_config: MemoryConfig | None = None,
        fallback: bool = False,
        extra_pipeline_options: str = "",
    ):
        name = getattr(func, "__name__", type(func).__name__)
        if fallback and compile_only:
            # the message is ttnn-jit's (tools/ttnn-jit/_src/jit.py), tests match it
            raise with_user_frame(
                SpecError(
                    "fallback=True is incompatible with compile_only=True. Fallback executes eagerly and returns "
                    "a tensor, but compile_only expects IR/flatbuffer artifacts "
                    f"(ttnn_jit.jit of {name!r}: compile_only returns a ttfuse.Lowered)"
                )
            )
        if not isinstance(extra_pipeline_options, str):
            raise with_user_frame(
                SpecError(
                    f"ttnn_jit.jit({name}): extra_pipeline_options must be a string, got {extra_pipeline_options!r}"
                )
            )
        if memory_config is not None and not isinstance(memory_config, MemoryConfig):
            raise with_user_frame(
                SpecError(
                    f"ttnn_jit.jit({name}): memory_config must be a ttnn.MemoryConfig, got {memory_config!r}"
                )
            )
        functools.update_wrapper(self, func)
        self.func = func
        self.fn = func  # what ttfuse's identity walk reads of a jit function met in a closure or global
        self.compile_only = bool(compile_only)
        self.debug = bool(debug) or self.compile_only  # as ttnn-jit: compile_only implies debug
        self.math_fidelity = math_fidelity
        self.memory_config = memory_config
        self.fallback = bool(fallback)
        self.fallback_used = False
        self.extra_pipeline_options = extra_pipeline_options
        self._name = name
        try:
            src = inspect.getsource(func)
        except (OSError, TypeError):
            src = None
        self.source_code = textwrap.dedent(src) if src is not None else None
        self._sig = _signature(func)
        placed = _with_output_placement(func, memory_config)
        self._jit = _ttfuse_jit(
            placed,
            enable_cache=bool(enable_cache),
            compile_only=self.compile_only,
            debug=self.debug,
            math_fidelity=math_fidelity,
        )
        self.cache = _Cache(self._jit) if enable_cache and not self.compile_only else None

    @property
    def num_entries(self) -> int:
        """Compiled entries in this function's cache (an AssertionError when the cache is off, as in ttnn-jit)."""
        assert self.cache, "Cache is not enabled"
        return self.cache.num_entries()

    @property
    def jit_function(self):
        """The `ttfuse.JitFunction` underneath (its `trace_count`, `last_key`, `lower`, ...)."""
        return self._jit

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        return functools.partial(self, obj)

    def __call__(self, *args, **kwargs):
        self.fallback_used = False
        try:
            return self._run(args, kwargs)
        except Exception as e:
            if not self.fallback:
                raise
            self.fallback_used = True
            if self.debug:
                print(f"[ttnn-jit] JIT compilation/execution failed, falling back to eager mode: {e}")
            return self.func(*args, **kwargs)

    def _run(self, args, kwargs):
        where = f"ttnn_jit.jit({self._name})"
        if self._sig is not None:
            try:
                bound = self._sig.bind(*args, **kwargs)
            except TypeError as e:
                # ttnn-jit's message (tools/ttnn-jit/_src/jit.py, _validate_arguments)
                raise with_user_frame(SpecError(f"Invalid arguments for function {self._name}: {e}")) from e
            named = bound.arguments.items()
        else:
            named = [(f"args[{i}]", a) for i, a in enumerate(args)] + list(kwargs.items())
        device = None
        for arg, v in named:
            for t in v if isinstance(v, list | tuple) else (v,):
                if isinstance(t, Tensor):
                    _check_layout_supported(where, arg, t)
                    if device is None and t._device is not None:
                        device = t._device
        if device is None:
            raise with_user_frame(
                SpecError(f"{where}: Device is required: pass at least one ttnn.Tensor on a device")
            )
        # its programs are ttnn-jit's generic_op programs, not the eager ops' (program cache entries apart)
        family, PROGRAM_FAMILY[0] = PROGRAM_FAMILY[0], GENERIC_OP
        try:
            return self._jit(*args, **kwargs, **{_GRID_KW: _device_grid(device)})
        finally:
            PROGRAM_FAMILY[0] = family

    def __repr__(self) -> str:
        return f"<ttnn_jit.jit {self._name} (ttfuse) entries={self._jit.num_entries}>"


def _signature(func) -> inspect.Signature | None:
    try:
        return inspect.signature(func)
    except (TypeError, ValueError):
        return None


def _with_output_placement(func, memory_config: MemoryConfig | None):
    """The function ttfuse.jit compiles: `func`, then every output tensor moved to `memory_config` or ttnn-jit's
    default placement for its shape (the device grid arrives as a static keyword, `_GRID_KW`)."""

    @functools.wraps(func)
    def placed(*args, **kwargs):
        grid = kwargs.pop(_GRID_KW)
        out = func(*args, **kwargs)
        return _place(out, memory_config, grid)

    # NOTE: the signature capture checks calls against is the wrapper's own (it takes _GRID_KW), not func's
    del placed.__wrapped__
    return placed


def _place(out, memory_config: MemoryConfig | None, grid: tuple[int, int]):
    if isinstance(out, tuple | list):
        return type(out)(_place(o, memory_config, grid) for o in out)
    if isinstance(out, dict):
        return {k: _place(v, memory_config, grid) for k, v in out.items()}
    if not isinstance(out, Tensor):
        return out
    mc = memory_config if memory_config is not None else default_output_memory_config(out.shape, grid)
    return to_memory_config(out, mc)


def jit(
    compile_only=False,
    debug: bool = False,
    enable_cache: bool = False,
    math_fidelity: MathFidelity = MathFidelity.HiFi4,
    memory_config: MemoryConfig | None = None,
    fallback: bool = False,
    extra_pipeline_options: str = "",
):
    """ttnn-jit's decorator (tools/ttnn-jit/api.py): `@ttnn_jit.jit(...)`; also bare `@ttnn_jit.jit`."""
    if callable(compile_only) and not isinstance(compile_only, bool):  # bare @ttnn_jit.jit
        return JitFunction(compile_only)

    def decorator(f):
        return JitFunction(
            f,
            compile_only,
            debug,
            enable_cache,
            math_fidelity,
            memory_config,
            fallback,
            extra_pipeline_options,
        )

    return decorator
