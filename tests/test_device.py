"""DeviceSpec table and device-kind selection (TTFUSE_ARCH, open_device(arch=...))."""

import os

import pytest
import torch

from ttfuse import ttnn
from ttfuse.device import all_specs, arch_env, device_spec
from ttfuse.errors import DeviceError


@pytest.mark.parametrize(
    "kind, name, grid",
    [
        ("wormhole_b0", "wormhole_b0:n150", (8, 8)),
        ("wormhole_b0:n300", "wormhole_b0:n300", (8, 8)),
        ("blackhole", "blackhole:p150:13x10", (13, 10)),
        ("blackhole:p150", "blackhole:p150:13x10", (13, 10)),
        ("blackhole:p150:13x10", "blackhole:p150:13x10", (13, 10)),
        ("blackhole:p150:11x10", "blackhole:p150:11x10", (11, 10)),
        ("blackhole:p100", "blackhole:p100:11x10", (11, 10)),
        ("wh", "wormhole_b0:n150", (8, 8)),
    ],
)
def test_kinds(kind, name, grid):
    s = device_spec(kind)
    assert s.name == name and s.grid == grid


def test_env_selects_kind(monkeypatch):
    monkeypatch.setenv("TTFUSE_ARCH", "blackhole:p150:13x10")
    dev = ttnn.open_device(device_id=0)
    assert dev.arch() == ttnn.device.Arch.BLACKHOLE
    g = dev.compute_with_storage_grid_size()
    assert (g.x, g.y) == (13, 10)
    monkeypatch.delenv("TTFUSE_ARCH")
    assert ttnn.open_device(device_id=0).arch() == ttnn.device.Arch.WORMHOLE_B0


@pytest.mark.parametrize("before", [None, "wormhole_b0:n300"])
def test_arch_env_restores(monkeypatch, before):
    """arch_env sets TTFUSE_ARCH for the block and puts back what was there (unset stays unset), on an error too."""
    if before is None:
        monkeypatch.delenv("TTFUSE_ARCH", raising=False)
    else:
        monkeypatch.setenv("TTFUSE_ARCH", before)
    with arch_env("blackhole"):
        assert device_spec().name == "blackhole:p150:13x10"
    assert os.environ.get("TTFUSE_ARCH") == before
    with pytest.raises(RuntimeError, match="inside"), arch_env("blackhole:p100"):
        assert os.environ["TTFUSE_ARCH"] == "blackhole:p100"
        raise RuntimeError("inside")
    assert os.environ.get("TTFUSE_ARCH") == before
    with arch_env(None):  # None leaves the variable alone
        assert os.environ.get("TTFUSE_ARCH") == before
    assert os.environ.get("TTFUSE_ARCH") == before


def test_open_device_arch_kwarg():
    dev = ttnn.open_device(device_id=0, arch="blackhole")
    assert dev.arch() == ttnn.device.Arch.BLACKHOLE
    assert dev.compute_with_storage_grid_size() == ttnn.CoreCoord(13, 10)


def test_figures_consistent():
    for s in all_specs():
        assert s.l1_bytes == s.l1_per_core * s.grid[0] * s.grid[1]
        assert s.dst_tiles() == 8 and s.dst_tiles(fp32_dest_acc_en=True) == 4
        assert s.dst_tiles(dst_full_sync_en=True) == 16
        assert s.grid[0] <= s.die_grid[0] and s.grid[1] <= s.die_grid[1]
    wh = device_spec("wormhole_b0")
    # 8x8 WH at 1 GHz: LoFi ~262, HiFi2 ~131, HiFi4 ~65 TFLOPS (ref/ttnn.md s4)
    assert wh.matmul_tflops("LoFi") == pytest.approx(262, rel=0.01)
    assert wh.matmul_tflops("HiFi4") == pytest.approx(65.5, rel=0.01)


@pytest.mark.parametrize(
    "bad, msg",
    [
        ("gpu", "unknown device arch"),
        ("blackhole:p150:9x9", "unknown device kind"),
        ("wormhole_b0:n150:8x8", "one grid"),
    ],
)
def test_bad_kind(bad, msg):
    with pytest.raises(DeviceError, match=msg):
        device_spec(bad)


def test_bad_device_id():
    with pytest.raises(DeviceError, match="device_id=3"):
        ttnn.open_device(device_id=3)


# ------------------------------------------------------------------------------ boards as tt-metal defines them
# Per board: (kind, chips, compute grid, DRAM banks). The grids follow from the harvesting each board ships with
# and the default dispatch cores (see the comments in ttfuse/device.py for the tt-metal / tt-umd sources).
BOARDS = [
    ("wormhole_b0:n150", 1, (8, 8), 12),
    ("wormhole_b0:n300", 2, (8, 8), 12),
    ("blackhole", 1, (13, 10), 8),
    ("blackhole:p150:11x10", 1, (11, 10), 8),
    ("blackhole:p100", 1, (11, 10), 7),
]


@pytest.mark.parametrize("kind, chips, grid, banks", BOARDS)
def test_board_figures(kind, chips, grid, banks):
    s = device_spec(kind)
    assert (s.num_chips, s.grid, s.dram_banks) == (chips, grid, banks)
    # DRAM: per-bank size from the SoC descriptors (worker L1 1499136 B on both arches)
    bank = 1_073_741_824 if s.arch == "wormhole_b0" else 4_278_190_080
    assert s.dram_bytes == banks * bank and s.l1_per_core == 1_499_136
    dev = ttnn.open_device(device_id=0, arch=kind)
    assert dev.dram_grid_size() == ttnn.CoreCoord(banks, 1)
    assert dev.core_grid == ttnn.CoreGrid(x=grid[0], y=grid[1])


def _grid_from_mock_cluster(path) -> tuple[str, str, tuple[int, int]]:
    """(arch, board, compute grid) a UMD mock cluster descriptor implies: the die's Tensix grid minus the harvested
    rows (Wormhole) or columns (Blackhole), minus the default dispatch row / column."""
    import yaml

    d = yaml.safe_load(path.read_text())
    arch, board, mask = d["arch"][0], d["chip_to_boardtype"][0], d["harvesting"][0]["harvest_mask"]
    harvested = bin(mask).count("1")
    if arch == "wormhole_b0":
        return arch, board, (8, 10 - harvested - 1)
    return arch, board, (14 - harvested - 1, 10)


def test_mock_cluster_descriptors_match_the_kinds():
    """conformance/cluster/*.yaml (what the real ttnn reads in the conformance suite) describe the chips the
    default kinds simulate: a Wormhole n150 with one harvested row, a p150 with all 14 columns (13x10)."""
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[1] / "conformance" / "cluster"
    files = sorted(root.glob("*.yaml"))
    assert len(files) >= 2
    for f in files:
        arch, board, grid = _grid_from_mock_cluster(f)
        assert device_spec(f"{arch}:{board}").grid == grid, f.name


def test_p150_takes_tt_boltz_grid():
    """tt-boltz / TT-DiT pass `ttnn.CoreGrid(x=13, y=10)` on their p150: TTFUSE_ARCH=blackhole accepts it, the
    firmware >= v19.5.0 p150 (11x10) rejects it as ttnn would."""
    from ttfuse.errors import SpecError

    x = torch.randn(64, 64)
    for kind, ok in (("blackhole", True), ("blackhole:p150:11x10", False)):
        dev = ttnn.open_device(device_id=0, arch=kind)
        a = ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=dev)
        if ok:
            y = ttnn.matmul(a, a, core_grid=ttnn.CoreGrid(x=13, y=10))
            assert ttnn.to_torch(y).shape == (64, 64)
        else:
            with pytest.raises(SpecError, match="core_grid"):
                ttnn.matmul(a, a, core_grid=ttnn.CoreGrid(x=13, y=10))


# ------------------------------------------------------------------------------------ device API of ttnn 0.81.1
def test_core_grid_is_a_property(device):
    assert isinstance(type(device).__dict__["core_grid"], property)
    g = device.core_grid
    c = device.compute_with_storage_grid_size()
    assert (g.x, g.y) == (c.x, c.y) == (8, 8)


def test_device_id_is_callable_and_an_int():
    a, b = ttnn.open_device(device_id=0), ttnn.open_device(device_id=0)
    assert isinstance(a.id(), int) and a.id() == a.id and b.id() != a.id()
    mesh = ttnn.open_mesh_device(ttnn.MeshShape(1, 2))
    assert [mesh.get_device_id((0, j)) for j in range(2)] == mesh.get_device_ids()
    with pytest.raises(DeviceError, match="outside"):
        mesh.get_device_id((1, 0))
    subs = mesh.create_submeshes(ttnn.MeshShape(1, 1))
    assert mesh.get_submeshes() == subs


def test_get_arch_name(monkeypatch):
    assert ttnn.Arch is ttnn.device.Arch
    monkeypatch.setenv("TTFUSE_ARCH", "wormhole_b0:n300")
    assert ttnn.get_arch_name() == "wormhole_b0" and ttnn.device.is_wormhole_b0()
    monkeypatch.setenv("TTFUSE_ARCH", "blackhole")
    assert ttnn.get_arch_name() == "blackhole" and ttnn.device.is_blackhole()
    monkeypatch.delenv("TTFUSE_ARCH")
    dev = ttnn.open_device(device_id=0, arch="blackhole:p100")  # without TTFUSE_ARCH: the device opened last
    assert ttnn.get_arch_name() == "blackhole" and ttnn.device.is_blackhole(dev)
    assert dev.arch() == ttnn.Arch.BLACKHOLE and not ttnn.device.is_wormhole_b0(dev)
    ttnn.close_device(dev)
    assert ttnn.get_arch_name() == "wormhole_b0"  # closed: the default


# ------------------------------------------------------------------------------------------- program cache
def _t(device, shape, dtype=ttnn.bfloat16, mc=None):
    return ttnn.from_torch(
        torch.randn(shape), dtype=dtype, layout=ttnn.TILE_LAYOUT, device=device, memory_config=mc
    )


def test_program_cache_counts(device):
    assert device.num_program_cache_entries() == 0
    x = _t(device, (64, 64))
    assert device.num_program_cache_entries() == 0  # a host-to-device write is no program
    ttnn.add(x, x)
    ttnn.add(x, _t(device, (64, 64)))  # other data, same specs: a hit
    assert device.num_program_cache_entries() == 1
    ttnn.add(
        x, x, memory_config=ttnn.DRAM_MEMORY_CONFIG
    )  # what memory_config=None resolves to: the same program
    assert device.num_program_cache_entries() == 1
    y = _t(device, (64, 128))
    ttnn.add(y, y)  # another shape
    assert device.num_program_cache_entries() == 2
    ttnn.add(x, x, memory_config=ttnn.L1_MEMORY_CONFIG)  # another output memory
    ttnn.add(_t(device, (64, 64), ttnn.bfloat8_b), x)  # another dtype
    ttnn.multiply(x, x)  # another op
    assert device.num_program_cache_entries() == 5
    w = _t(device, (64, 64))
    ttnn.linear(x, w, activation="relu")  # two kernels (matmul, then the activation): two programs
    assert device.num_program_cache_entries() == 7
    ttnn.reshape(x, (1, 64, 64))  # a free view: no program
    assert device.num_program_cache_entries() == 7
    other = ttnn.open_device(device_id=0)  # each device has its own cache
    ttnn.add(_t(other, (64, 64)), _t(other, (64, 64)))
    assert other.num_program_cache_entries() == 1 and device.num_program_cache_entries() == 7


def test_program_cache_clear_disable_and_misses(device):
    x = _t(device, (32, 32))
    ttnn.relu(x)
    device.clear_program_cache()  # emptied, still enabled
    assert device.num_program_cache_entries() == 0 and device.program_cache.enabled
    ttnn.relu(x)
    assert device.num_program_cache_entries() == 1
    device.disable_and_clear_program_cache()
    ttnn.relu(x)
    assert device.num_program_cache_entries() == 0 and not device.program_cache.enabled
    device.enable_program_cache()
    ttnn.relu(x)
    ttnn.relu(x)
    assert device.num_program_cache_entries() == 1
    device.set_program_cache_misses_allowed(False)
    ttnn.relu(x)  # a hit is fine
    with pytest.raises(
        DeviceError, match=r"ttnn.exp: program cache miss occurred, but cache misses are forbidden"
    ):
        ttnn.exp(x)
    device.set_program_cache_misses_allowed(True)
    ttnn.exp(x)
    assert device.num_program_cache_entries() == 2


def _chain(x, y):
    a = ttnn.add(x, y, memory_config=ttnn.DRAM_MEMORY_CONFIG)
    b = ttnn.multiply(a, x, memory_config=ttnn.DRAM_MEMORY_CONFIG)
    return ttnn.relu(b)


@pytest.mark.parametrize("block_bytes", ["0", "65536"])  # op by op, and one row-blocked region of 3 ops
def test_program_cache_under_jit(monkeypatch, block_bytes):
    """Generated code runs its ops through the device's program cache as eager calls do: without fusion the
    programs are the eager ones (whole ops or row-blocked regions alike); a second call only hits; a new shape
    adds programs; the fused kernel is one program."""
    import ttfuse

    monkeypatch.setenv("TTFUSE_SIM_BLOCK_BYTES", block_bytes)
    monkeypatch.setenv("TTFUSE_CACHE", "0")
    eager = ttnn.open_device(device_id=0)
    _chain(_t(eager, (512, 256)), _t(eager, (512, 256)))
    dev = ttnn.open_device(device_id=0)
    x, y = _t(dev, (512, 256)), _t(dev, (512, 256))
    jf = ttfuse.jit(passes=["-fuse", "-place_memory"])(_chain)
    jf(x, y)
    regions = "row-blocked" in jf.lower(x, y).source
    assert regions == (block_bytes != "0")
    assert dev.num_program_cache_entries() == 3 and dev.program_cache.entries == eager.program_cache.entries
    hits = dev.program_cache.hits
    jf(x, y)
    assert dev.num_program_cache_entries() == 3 and dev.program_cache.hits == hits + 3
    jf(_t(dev, (256, 256)), _t(dev, (256, 256)))
    assert dev.num_program_cache_entries() == 6
    fused = ttnn.open_device(device_id=0)
    ttfuse.jit(_chain)(_t(fused, (512, 256)), _t(fused, (512, 256)))
    assert fused.num_program_cache_entries() == 1  # one eltwise kernel
