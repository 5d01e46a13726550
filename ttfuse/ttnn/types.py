"""`ttnn.types`: the submodule real code reads dtypes, layouts, memory configs and config classes through.

ttnn 0.81.1 keeps these in `ttnn/types.py` and code uses both spellings (`ttnn.bfloat16`,
`ttnn.types.BlackholeComputeKernelConfig` in tt-boltz). This module is that namespace: the same objects as the
facade's top level, for every name of the wheel's `dir(ttnn.types)` that the facade has an object for (its
`__all__`; conformance/api_check.py checks each against the wheel). The wheel's other names (program
descriptors, multicast configs, NOC enums) are not modelled.

Extend: a new facade object that the wheel also has under `ttnn.types` is one import and one `__all__` entry.
"""

from __future__ import annotations

from ttfuse.configs import (
    BlackholeComputeKernelConfig,
    DeviceComputeKernelConfig,
    MathFidelity,
    ThrottleLevel,
    UnaryOpType,
    UnaryWithParam,
    WormholeComputeKernelConfig,
)
from ttfuse.mesh import MeshShape
from ttfuse.tensor import Tensor
from ttfuse.types import (
    DRAM_MEMORY_CONFIG,
    L1_BLOCK_SHARDED_MEMORY_CONFIG,
    L1_HEIGHT_SHARDED_MEMORY_CONFIG,
    L1_MEMORY_CONFIG,
    L1_WIDTH_SHARDED_MEMORY_CONFIG,
    ROW_MAJOR_LAYOUT,
    TILE_LAYOUT,
    BufferType,
    CoreCoord,
    CoreGrid,
    CoreRange,
    CoreRangeSet,
    DataType,
    Layout,
    MemoryConfig,
    Shape,
    ShardOrientation,
    ShardSpec,
    ShardStrategy,
    StorageType,
    TensorMemoryLayout,
    TensorSpec,
    bfloat4_b,
    bfloat8_b,
    bfloat16,
    float32,
    int32,
    uint8,
    uint16,
    uint32,
)

TILE_SIZE = 32

__all__ = [
    "BlackholeComputeKernelConfig",
    "BufferType",
    "CoreCoord",
    "CoreGrid",
    "CoreRange",
    "CoreRangeSet",
    "DRAM_MEMORY_CONFIG",
    "DataType",
    "DeviceComputeKernelConfig",
    "L1_BLOCK_SHARDED_MEMORY_CONFIG",
    "L1_HEIGHT_SHARDED_MEMORY_CONFIG",
    "L1_MEMORY_CONFIG",
    "L1_WIDTH_SHARDED_MEMORY_CONFIG",
    "Layout",
    "MathFidelity",
    "MemoryConfig",
    "MeshShape",
    "ROW_MAJOR_LAYOUT",
    "Shape",
    "ShardOrientation",
    "ShardSpec",
    "ShardStrategy",
    "StorageType",
    "TILE_LAYOUT",
    "TILE_SIZE",
    "Tensor",
    "TensorMemoryLayout",
    "TensorSpec",
    "ThrottleLevel",
    "UnaryOpType",
    "UnaryWithParam",
    "WormholeComputeKernelConfig",
    "bfloat16",
    "bfloat4_b",
    "bfloat8_b",
    "float32",
    "int32",
    "uint16",
    "uint32",
    "uint8",
]
