"""ttfuse: a JIT compilation and fusion layer for Tenstorrent's TTNN, with a functional TTNN simulator.

    from ttfuse import ttnn          # the ttnn API surface (simulated on CPU by default)
    import ttfuse
    @ttfuse.jit
    def block(x, w): ...

    ttfuse.install()                 # `import ttnn` is the simulator where no real ttnn device is usable
    ttfuse.symbiote.jit_blocks(model)  # a tt-symbiote model's decoder / encoder layers as @ttfuse.jit graphs

Only this module exposes public API (`__all__`); everything else is internal.
"""

from ttfuse import (
    kernels,  # noqa: F401  (registers the fused kernels the passes emit)
    sim,
    symbiote,  # tt-symbiote blocks under @ttfuse.jit (imports tt_symbiote only when used)
    ttnn,
)
from ttfuse.device import DeviceSpec, device_spec
from ttfuse.errors import (
    ArgumentError,
    CacheError,
    CodegenError,
    DeviceError,
    OutOfMemoryError,
    PassError,
    SpecError,
    TraceError,
    TtfuseError,
    VerifyError,
)
from ttfuse.flags import flags
from ttfuse.jit import JitFunction, Lowered, jit
from ttfuse.profiler import Profile, profile
from ttfuse.profiler import from_environment as _profile_from_environment
from ttfuse.switch import install, uninstall

__version__ = "0.1.0"

__all__ = [
    "ttnn",
    "sim",
    "symbiote",
    "jit",
    "install",
    "uninstall",
    "JitFunction",
    "Lowered",
    "flags",
    "DeviceSpec",
    "device_spec",
    "TtfuseError",
    "TraceError",
    "ArgumentError",
    "SpecError",
    "VerifyError",
    "PassError",
    "CodegenError",
    "CacheError",
    "DeviceError",
    "OutOfMemoryError",
    "profile",
    "Profile",
]

# tt-metal's and ttnn's profiler switches (TT_METAL_DEVICE_PROFILER=1, TTNN_CONFIG_OVERRIDES enable_logging):
# the simulator writes the same outputs, with predicted durations (docs/profiler.md)
_profile_from_environment()
