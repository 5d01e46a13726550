"""Shared fixtures: a fresh simulated device per test, seeded torch, a private compile-cache directory."""

import os
import random
import tempfile

import pytest
import torch

from ttfuse import ttnn
from ttfuse.testing import pcc  # noqa: F401  (re-exported for tests)

# NOTE: set before any test imports ttfuse.cache, so no test ever writes to the user's ~/.cache/ttfuse.
os.environ.setdefault("TTFUSE_CACHE_DIR", tempfile.mkdtemp(prefix="ttfuse-test-cache-"))
# Every pass run in the test suite is followed by the IR verifier (ttfuse/passes/pipeline.py).
os.environ["TTFUSE_VERIFY_PASSES"] = "1"


def pytest_configure(config):
    # one seed per run for the random-program test, chosen before xdist starts its workers (they inherit it)
    if not os.environ.get("TTFUSE_FUZZ_SEED"):
        os.environ["TTFUSE_FUZZ_SEED"] = str(random.SystemRandom().randrange(2**32))


def pytest_report_header(config):
    return f"ttfuse random-program seed: TTFUSE_FUZZ_SEED={os.environ.get('TTFUSE_FUZZ_SEED')}"


@pytest.fixture
def device():
    dev = ttnn.open_device(device_id=0)
    yield dev
    ttnn.close_device(dev)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
