"""DeviceSpec table and device-kind selection (TTFUSE_ARCH, open_device(arch=...))."""

import pytest

from ttfuse import ttnn
from ttfuse.device import all_specs, device_spec
from ttfuse.errors import DeviceError


@pytest.mark.parametrize(
    "kind, name, grid",
    [
        ("wormhole_b0", "wormhole_b0:n150", (8, 8)),
        ("wormhole_b0:n300", "wormhole_b0:n300", (8, 8)),
        ("blackhole", "blackhole:p150:11x10", (11, 10)),
        ("blackhole:p150", "blackhole:p150:11x10", (11, 10)),
        ("blackhole:p150:13x10", "blackhole:p150:13x10", (13, 10)),
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


def test_open_device_arch_kwarg():
    dev = ttnn.open_device(device_id=0, arch="blackhole")
    assert dev.arch() == ttnn.device.Arch.BLACKHOLE
    assert dev.compute_with_storage_grid_size() == ttnn.CoreCoord(11, 10)


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
