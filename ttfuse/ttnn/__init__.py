"""`from ttfuse import ttnn`: the ttnn API surface model code is written against.

Types, configs, devices and mesh mappers are plain Python objects here; every op is an OpDef from
ttfuse/ops, exported under its real name (`ttnn.linear`) or namespace (`ttnn.transformer.*`,
`ttnn.experimental.*`). Calls run eagerly on the eager backend, the simulator unless `$TTFUSE_BACKEND` names
another that runs eagerly (chosen from the registry by ttfuse/ttnn/device.py, see ttfuse/backend.py), unless a
`@ttfuse.jit` trace is capturing. `ttfuse.install()` makes this module `import ttnn` (ttfuse/switch.py).
`ttnn.types` and `ttnn.operations.<module>` are real submodules holding the same objects (ttfuse/ttnn/types.py,
operations.py); every op carries its `golden_function` (ttfuse/ops/golden.py, `ttnn.get_golden_function(op)`).
"""

from __future__ import annotations

import sys as _sys
import types as _types

from ttfuse import backend as _backend
from ttfuse import opdef as _opdef
from ttfuse import ops as _ops  # noqa: F401  (registers every op)
from ttfuse.configs import *  # noqa: F401,F403
from ttfuse.configs import (  # noqa: F401
    BlackholeComputeKernelConfig,
    MathFidelity,
    UnaryOpType,
    UnaryWithParam,
    WormholeComputeKernelConfig,
    init_device_compute_kernel_config,
)
from ttfuse.mesh import (  # noqa: F401
    ConcatMesh2dToTensor,
    ConcatMeshToTensor,
    MeshComposerConfig,
    MeshMapperConfig,
    PlacementReplicate,
    PlacementShard,
    ReplicateTensorToMesh,
    ShardTensor2dMesh,
    ShardTensorToMesh,
    concat_mesh_to_tensor_composer,
    create_mesh_composer,
    create_mesh_mapper,
    replicate_tensor_to_mesh_mapper,
    shard_tensor_to_mesh_mapper,
)
from ttfuse.ops import golden as _golden
from ttfuse.tensor import Tensor  # noqa: F401
from ttfuse.ttnn import _core as _core_helpers
from ttfuse.ttnn import (
    device,  # noqa: F401  (ttnn.device.Arch)
    types,  # noqa: E402,F401  (ttnn.types: the same objects under the submodule real code reads)
)
from ttfuse.ttnn._config import (  # noqa: F401  (ttnn.CONFIG: enable_logging writes the sim's report)
    CONFIG,
    CONFIG_OVERRIDES,
    CONFIG_PATH,
    load_config_from_dictionary,
    load_config_from_json_file,
    manage_config,
    save_config_to_json_file,
)
from ttfuse.ttnn._core import (  # noqa: F401
    DumpTensorMode,
    as_tensor,
    is_tensor_storage_on_device,
    unsqueeze_to_4D,
)
from ttfuse.ttnn._utilities import (  # noqa: F401
    attach_golden_function,
    get_device_tensors,
    get_golden_function,
    pearson_correlation_coefficient,
)
from ttfuse.ttnn.device import (  # noqa: F401
    Arch,
    DispatchCoreAxis,
    DispatchCoreConfig,
    DispatchCoreType,
    MeshDevice,
    MeshShape,
    MeshTraceId,
    begin_trace_capture,
    close_device,
    close_mesh_device,
    end_trace_capture,
    execute_trace,
    get_arch_name,
    open_device,
    open_mesh_device,
    release_trace,
    synchronize_device,
)
from ttfuse.types import *  # noqa: F401,F403  (its __all__: dtypes, layouts, memory configs, core grids)

Device = MeshDevice  # ttnn 0.81.1: `ttnn.Device is ttnn.MeshDevice` (every device is a mesh)

# `ttnn.core` (the wheel's ttnn/core.py: divup, roundup, storage predicates) and the binding path
# `ttnn._ttnn.multi_device.MeshDevice` that code checks devices against (the same class as ttnn.MeshDevice)
core = _types.ModuleType("ttfuse.ttnn.core", "ttnn.core: host-side helpers")
for _name in ("divup", "roundup", "has_storage_type_of", "is_tensor_storage_on_device"):
    setattr(core, _name, getattr(_core_helpers, _name))
_ttnn = _types.ModuleType("ttfuse.ttnn._ttnn", "ttnn._ttnn: the binding module's paths")
_ttnn.multi_device = _types.ModuleType("ttfuse.ttnn._ttnn.multi_device")
_ttnn.multi_device.MeshDevice = MeshDevice

TILE_SIZE = 32

transformer = _types.ModuleType("ttfuse.ttnn.transformer", "ttnn.transformer: attention and head ops")
experimental = _types.ModuleType("ttfuse.ttnn.experimental", "ttnn.experimental: experimental ops")
_NAMESPACES = {"transformer": transformer, "experimental": experimental}


def _export_ops() -> None:
    g = globals()
    for name, op in _opdef.OPS.items():
        if name.startswith("kernels."):
            continue  # ttfuse's fused kernels (ttfuse/kernels) are emitted by passes, not ttnn API
        if "." in name:
            ns, short = name.split(".", 1)
            ns_mod = _NAMESPACES.get(ns)
            if ns_mod is None:
                ns_mod = _NAMESPACES[ns] = _types.ModuleType(f"ttfuse.ttnn.{ns}", f"ttnn.{ns}")
                g[ns] = ns_mod
            setattr(ns_mod, short, op)
        else:
            g[name] = op
    _golden.attach_all()  # ops registered outside ttfuse/ops too (every exported op has its golden function)
    # non-op names an op module exports into the facade (e.g. create_sharded_memory_config)
    for mod in _ops.MODULES:
        for name in getattr(mod, "__ttnn_exports__", ()):
            g[name] = getattr(mod, name)


_export_ops()

# ttnn.operations.<module>: built from the names above; ttnn.model_preprocessing.preprocess_*
from ttfuse.ttnn import model_preprocessing, operations  # noqa: E402,F401

operations.build(globals())

# facade-API backends (the sim) generate code calling this module; the registry hands it to them
_backend.set_facade(_sys.modules[__name__])

# Last: every other public name of the real ttnn resolves to a stub raising TtnnNotImplementedError
# (ttfuse/ttnn/_stubs.py; names defined above, or added later, win).
from ttfuse.ttnn import _stubs  # noqa: E402

_stubs.install(_sys.modules[__name__])
