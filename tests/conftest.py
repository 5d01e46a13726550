"""Shared fixtures: a fresh simulated device per test, seeded torch, tolerance helpers."""

import pytest
import torch

from ttfuse import ttnn
from ttfuse.testing import pcc  # noqa: F401  (re-exported for tests)


@pytest.fixture
def device():
    dev = ttnn.open_device(device_id=0)
    yield dev
    ttnn.close_device(dev)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
