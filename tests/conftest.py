"""Shared fixtures: a fresh simulated device per test (or per module), seeded torch, a private compile-cache
directory, a small Boltz Pairformer layer; and small builders several test modules use (`pcc`, matmul program
configs, `read_csv`, `load_tool`)."""

import csv
import importlib.util
import os
import random
import sys
import tempfile
from pathlib import Path

import pytest
import torch

from ttfuse import cache, ttnn
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


@pytest.fixture(scope="module")
def module_device():
    """One simulated device shared by a module's tests (for module-scoped fixtures that run a model once)."""
    dev = ttnn.open_device(device_id=0)
    yield dev
    ttnn.close_device(dev)


@pytest.fixture
def mesh(request):
    """A simulated mesh of the shape the test parametrises indirectly (`@pytest.mark.parametrize("mesh", [(1, 2)],
    indirect=True)`), closed after the test."""
    m = ttnn.open_mesh_device(ttnn.MeshShape(*request.param))
    yield m
    ttnn.close_mesh_device(m)


def mesh_groups(rows: int, cols: int, axis) -> list[list[int]]:
    """Independent statement of ttnn's grouping: the devices (row-major ids) that share a collective along
    `cluster_axis` (None: all of them), in axis order."""
    ids = [[r * cols + c for c in range(cols)] for r in range(rows)]
    if axis is None:
        return [[i for row in ids for i in row]]
    if axis == 0:
        return [[ids[r][c] for r in range(rows)] for c in range(cols)]
    return ids


@pytest.fixture
def fresh():
    """An empty compile cache (memory and a private disk directory) for the test; yields the directory."""
    with cache.fresh_cache() as d:
        yield d


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def sharded(layout, grid_xy, shard, orient=ttnn.ShardOrientation.ROW_MAJOR):
    """An L1 sharded memory config: `layout` (a TensorMemoryLayout) over the cores (0, 0) .. grid_xy - 1."""
    grid = ttnn.CoreRangeSet(
        ttnn.CoreRange(ttnn.CoreCoord(0, 0), ttnn.CoreCoord(grid_xy[0] - 1, grid_xy[1] - 1))
    )
    return ttnn.MemoryConfig(layout, ttnn.BufferType.L1, ttnn.ShardSpec(grid, shard, orient))


def cfg2d(gx=8, gy=8, w=2, sh=1, sw=1, pm=1, pn=1, *, cls=None, **kw):
    """A matmul program config in short keywords: grid gx x gy, in0_block_w, out subblock sh x sw, per-core
    M x N tiles; the 2D multicast config unless `cls` names another (cfg1d: the 1D one)."""
    return (cls or ttnn.MatmulMultiCoreReuseMultiCastProgramConfig)(
        compute_with_storage_grid_size=(gx, gy),
        in0_block_w=w,
        out_subblock_h=sh,
        out_subblock_w=sw,
        per_core_M=pm,
        per_core_N=pn,
        **kw,
    )


def cfg1d(gx=8, gy=1, w=2, sh=1, sw=1, pm=1, pn=1, **kw):
    """The 1D multicast matmul program config, in cfg2d's keywords."""
    return cfg2d(gx, gy, w, sh, sw, pm, pn, cls=ttnn.MatmulMultiCoreReuseMultiCast1DProgramConfig, **kw)


def read_csv(path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def small_pairformer(device, jit: bool, n: int = 32):
    """A seeded Boltz PairformerLayer (c_s=64, c_z=32, 2 heads) ported to `device`, and its (s, z, mask,
    mask_padded) inputs of N=`n` tokens. Needs the `boltz` package (callers importorskip it)."""
    from boltz.model.layers.pairformer import PairformerLayer as Ref

    import models.boltz as mb
    from models.boltz.common import to_tt

    torch.manual_seed(0)
    ref = Ref(64, 32, 2, dropout=0.0, v2=True).eval()
    port = mb.PairformerLayer.from_torch(ref, device, jit=jit)
    g = torch.Generator().manual_seed(1)
    s = torch.randn(1, n, 64, generator=g)
    z = torch.randn(1, n, n, 32, generator=g)
    mask = torch.ones(1, n)
    args = [to_tt(t, device) for t in (s, z, mask, mask[:, :, None] * mask[:, None, :])]
    return port, args


@pytest.fixture(scope="module", params=["eager", "jit"])
def pairformer32(request, module_device):
    """(mode, port, args): small_pairformer on the module's device, eager and under jit; the jit one has run once
    (compiled), so a profile around the next call sees one run."""
    jit = request.param == "jit"
    port, args = small_pairformer(module_device, jit)
    if jit:
        port.forward_ttnn(*args)
    return request.param, port, args


def T(device, *shape, dtype=None):
    """A random TILE-layout device tensor of `shape` (bfloat16 unless `dtype`)."""
    return ttnn.from_torch(
        torch.randn(*shape), dtype=dtype or ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device
    )


def load_tool(name: str):
    """tools/<name>.py (not a package) imported as the module `name`; registered in sys.modules first, since
    dataclasses look their module up by name."""
    spec = importlib.util.spec_from_file_location(
        name, Path(__file__).resolve().parent.parent / "tools" / f"{name}.py"
    )
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, mod)
    spec.loader.exec_module(mod)
    return mod
