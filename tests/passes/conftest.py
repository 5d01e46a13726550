"""Fixtures for the pass tests: pass contexts per device, abstract tensor specs, device tensors."""

import pytest
import torch

from ttfuse import ttnn
from ttfuse.device import device_spec
from ttfuse.passes.pipeline import PassContext
from ttfuse.types import TensorSpec


@pytest.fixture
def make_ctx():
    """`make_ctx("wormhole_b0", l1_budget=...)` -> a PassContext for that device with these options."""

    def make(kind: str = "wormhole_b0", **options) -> PassContext:
        return PassContext(device_spec(kind), dict(options), frozenset())

    return make


@pytest.fixture
def spec():
    """`spec(shape, dtype=bf16, mc=DRAM, layout=TILE)` -> a TensorSpec."""

    def make(shape, dtype=ttnn.bfloat16, mc=ttnn.DRAM_MEMORY_CONFIG, layout=ttnn.TILE_LAYOUT) -> TensorSpec:
        return TensorSpec(tuple(shape), dtype, layout, mc)

    return make


@pytest.fixture
def tt(device):
    """`tt(torch_tensor, dtype=bf16, mc=DRAM)` -> a tiled device tensor on the test's device."""

    def make(t: torch.Tensor, dtype=ttnn.bfloat16, mc=ttnn.DRAM_MEMORY_CONFIG):
        return ttnn.from_torch(t, dtype=dtype, layout=ttnn.TILE_LAYOUT, device=device, memory_config=mc)

    return make
