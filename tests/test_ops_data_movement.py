"""Data-movement, shape and creation ops: values against torch goldens, output specs, launch counts, memory,
and the errors real TTNN raises (ttfuse/ops/data_movement.py, shapes.py, creation.py)."""

import gc

import pytest
import torch

import ttfuse
from tests.conftest import sharded
from ttfuse import ttnn
from ttfuse.errors import DeviceError, SpecError
from ttfuse.numerics import round_to_dtype

TILE, RM = ttnn.TILE_LAYOUT, ttnn.ROW_MAJOR_LAYOUT


def dev(x, device, dtype=ttnn.float32, layout=TILE, memory_config=None):
    return ttnn.from_torch(x, dtype=dtype, layout=layout, device=device, memory_config=memory_config)


def host(t):
    return ttnn.to_torch(t).float()


def ref(x, dtype):
    """Independent reference rounding of a golden to a ttnn dtype (torch's own bfloat16 cast for bfloat16)."""
    if dtype == ttnn.float32:
        return x.float()
    if dtype == ttnn.bfloat16:
        return x.to(torch.bfloat16).float()
    return round_to_dtype(x.float(), dtype.value).float()


def launches_of(device, fn):
    with ttfuse.sim.count_launches(device) as c:
        out = fn()
    return out, c


# ------------------------------------------------------------------------ every shape op on every dtype
# name, ttnn call, torch golden, layouts it runs in
CASES = [
    ("reshape", lambda t: ttnn.reshape(t, (6, -1, 50)), lambda x: x.reshape(6, -1, 50)),
    ("reshape_last", lambda t: ttnn.reshape(t, (2, 3, 50, 40)), lambda x: x.reshape(2, 3, 50, 40)),
    ("permute", lambda t: ttnn.permute(t, (3, 1, 0, 2)), lambda x: x.permute(3, 1, 0, 2)),
    ("transpose", lambda t: ttnn.transpose(t, -2, -1), lambda x: x.transpose(-2, -1)),
    ("slice", lambda t: ttnn.slice(t, [0, 1, 3, -20], [2, 3, 38, 50]), lambda x: x[:, 1:3, 3:38, 30:]),
    ("getitem", lambda t: t[1, :, 5:9], lambda x: x[1, :, 5:9]),
    ("concat", lambda t: ttnn.concat([t, t[:, :1]], dim=1), lambda x: torch.cat([x, x[:, :1]], 1)),
    (
        "pad",
        lambda t: ttnn.pad(t, [(0, 1), (0, 2), (0, 3)], 2.5),
        lambda x: torch.nn.functional.pad(x, (0, 3, 0, 2, 0, 1), value=2.5),
    ),
    ("repeat", lambda t: ttnn.repeat(t, (2, 1, 1, 2)), lambda x: x.repeat(2, 1, 1, 2)),
    ("expand", lambda t: ttnn.expand(t[:, :1], (2, 3, 40, 50)), lambda x: x[:, :1].expand(2, 3, 40, 50)),
    ("squeeze", lambda t: ttnn.squeeze(t[:1], 0), lambda x: x[0]),
    ("unsqueeze", lambda t: ttnn.unsqueeze(t, 1), lambda x: x.unsqueeze(1)),
    ("clone", lambda t: ttnn.clone(t), lambda x: x),
    ("to_memory_config", lambda t: ttnn.to_memory_config(t, ttnn.L1_MEMORY_CONFIG), lambda x: x),
    ("reallocate", lambda t: ttnn.reallocate(ttnn.clone(t)), lambda x: x),
]


@pytest.mark.parametrize("dtype", [ttnn.float32, ttnn.bfloat16, ttnn.bfloat8_b], ids=lambda d: d.value)
@pytest.mark.parametrize("name,fn,golden", CASES, ids=[c[0] for c in CASES])
def test_shape_ops_match_torch(device, name, fn, golden, dtype):
    x = torch.randn(2, 3, 40, 50)
    t = dev(x, device, dtype)
    out = fn(t)
    assert out.dtype == dtype and out.layout == TILE
    stored = ref(x, dtype)  # what the device holds
    want = golden(stored)
    assert tuple(out.shape) == tuple(want.shape)
    if dtype == ttnn.bfloat8_b:  # a new shape re-blocks the shared exponents: one more bfloat8_b rounding
        assert torch.equal(host(out), ref(want, dtype))
    else:  # data movement is exact: the golden of the rounded input, bit for bit
        assert torch.equal(host(out), want)
        assert torch.equal(host(out), ref(golden(x.double()), dtype))


@pytest.mark.parametrize("dtype", [ttnn.float32, ttnn.bfloat16, ttnn.int32], ids=lambda d: d.value)
def test_row_major_shape_ops(device, dtype):
    x = (torch.randn(4, 6, 10) * 100).round() if dtype == ttnn.int32 else torch.randn(4, 6, 10)
    t = dev(x.to(torch.int32) if dtype == ttnn.int32 else x, device, dtype, RM)
    stored = ref(x, dtype) if dtype != ttnn.int32 else x
    for out, want in [
        (ttnn.reshape(t, (24, 10)), stored.reshape(24, 10)),
        (ttnn.reshape(t, (10, 24)), stored.reshape(10, 24)),
        (ttnn.permute(t, (2, 0, 1)), stored.permute(2, 0, 1)),
        (ttnn.pad(t, [(1, 0), (2, 2)], 7), torch.nn.functional.pad(stored, (2, 2, 1, 0), value=7)),
        (ttnn.concat([t, t], -1), torch.cat([stored, stored], -1)),
    ]:
        assert out.layout == RM and out.dtype == dtype
        assert torch.equal(host(out), want.float())


# ------------------------------------------------------------------------ to_layout
def test_to_layout_pads_and_unpads(device):
    x = torch.randn(3, 40, 50)
    rm = dev(x, device, ttnn.float32, RM)
    tiled, c = launches_of(device, lambda: ttnn.to_layout(rm, TILE))
    assert tiled.layout == TILE and tiled.shape == [3, 40, 50] and tiled.padded_shape == [3, 64, 64]
    assert tiled.memory_config() == ttnn.DRAM_MEMORY_CONFIG and c.by_op == {"to_layout": 1}
    assert torch.equal(host(tiled), x)
    back = ttnn.to_layout(tiled, RM)
    assert back.layout == RM and back.padded_shape == [3, 40, 50] and torch.equal(host(back), x)


def test_to_layout_same_layout_is_the_input(device):
    t = dev(torch.randn(32, 32), device)
    rep = ttfuse.sim.memory_report(device)
    used = rep.dram_bytes
    out, c = launches_of(device, lambda: ttnn.to_layout(t, TILE, dtype=ttnn.bfloat16))
    assert out is t and c.total == 0 and rep.dram_bytes == used  # ttnn ignores dtype here (with a warning)


@pytest.mark.parametrize("dtype", [ttnn.bfloat16, ttnn.bfloat8_b, ttnn.bfloat4_b], ids=lambda d: d.value)
def test_to_layout_with_dtype_rounds_once(device, dtype):
    x = torch.randn(40, 70)
    out = ttnn.to_layout(dev(x, device, ttnn.float32, RM), TILE, dtype=dtype)
    assert out.dtype == dtype and out.layout == TILE
    assert torch.equal(host(out), ref(x, dtype))


def test_to_layout_block_float_untilizes_to_bfloat16(device):
    x = torch.randn(32, 64)
    out = ttnn.to_layout(dev(x, device, ttnn.bfloat8_b), RM)
    assert out.dtype == ttnn.bfloat16 and out.layout == RM
    assert torch.equal(host(out), ref(x, ttnn.bfloat8_b))


def test_to_layout_on_host_is_not_a_launch(device):
    h = ttnn.from_torch(torch.randn(5, 7), dtype=ttnn.bfloat16)
    out = ttnn.to_layout(h, TILE)
    assert out.device() is None and out.padded_shape == [32, 32]
    assert torch.equal(host(out), host(h))


def test_to_layout_bad_inputs(device):
    t = dev(torch.randn(32, 32), device, ttnn.bfloat16)
    with pytest.raises(SpecError, match="ttnn.to_layout: argument 'dtype'=ttnn.float32 cannot differ"):
        ttnn.to_layout(t, RM, dtype=ttnn.float32)
    with pytest.raises(SpecError, match="ttnn.to_layout: argument 'layout' must be"):
        ttnn.to_layout(t, "TILE")
    with pytest.raises(SpecError, match="ttnn.to_layout: argument 'tensor' must be a ttnn.Tensor"):
        ttnn.to_layout(torch.zeros(2), TILE)


# ------------------------------------------------------------------------ typecast / clone
@pytest.mark.parametrize(
    "src,dst",
    [
        (ttnn.float32, ttnn.bfloat16),
        (ttnn.bfloat16, ttnn.float32),
        (ttnn.float32, ttnn.bfloat8_b),
        (ttnn.float32, ttnn.bfloat4_b),
        (ttnn.bfloat8_b, ttnn.bfloat16),
    ],
    ids=lambda d: d.value,
)
def test_typecast_float_formats(device, src, dst):
    x = torch.randn(33, 65) * 10
    t = dev(x, device, src)
    out, c = launches_of(device, lambda: ttnn.typecast(t, dst))
    assert out.dtype == dst and out.layout == TILE and out.shape == [33, 65] and c.by_op == {"typecast": 1}
    assert torch.equal(host(out), ref(ref(x, src), dst))


def test_typecast_to_integers_truncates(device):
    x = torch.tensor([[2.7, -2.7, 0.4, 255.9, 300.2, -1.5, 65.0, 1e3]])
    t = dev(x, device, ttnn.float32)
    assert host(ttnn.typecast(t, ttnn.int32)).tolist() == [[2, -2, 0, 255, 300, -1, 65, 1000]]
    assert host(ttnn.typecast(t, ttnn.uint8)).tolist() == [[2, 254, 0, 255, 44, 255, 65, 232]]
    back = ttnn.typecast(ttnn.typecast(t, ttnn.int32), ttnn.bfloat16)
    assert host(back).tolist() == [[2, -2, 0, 255, 300, -1, 65, 1000]]


def test_typecast_host_and_row_major(device):
    h = ttnn.from_torch(torch.randn(3, 5), dtype=ttnn.float32)
    out = ttnn.typecast(h, ttnn.bfloat16)
    assert out.device() is None and torch.equal(host(out), host(h).to(torch.bfloat16).float())
    with pytest.raises(SpecError, match="ttnn.typecast: argument 'dtype'=ttnn.bfloat8_b needs TILE layout"):
        ttnn.typecast(dev(torch.randn(3, 5), device, layout=RM), ttnn.bfloat8_b)
    with pytest.raises(SpecError, match="ttnn.typecast: argument 'dtype' must be a ttnn.DataType"):
        ttnn.typecast(h, torch.float16)


def test_clone(device):
    x = torch.randn(40, 40)
    t = dev(x, device)
    rep = ttfuse.sim.memory_report(device)
    out, c = launches_of(
        device, lambda: ttnn.clone(t, dtype=ttnn.bfloat16, memory_config=ttnn.L1_MEMORY_CONFIG)
    )
    assert out is not t and out.dtype == ttnn.bfloat16 and out.memory_config() == ttnn.L1_MEMORY_CONFIG
    assert rep.l1_bytes == 4 * 2048 and c.by_op == {"clone": 1}
    assert torch.equal(host(out), ref(x, ttnn.bfloat16))
    with pytest.raises(SpecError, match="ttnn.clone: argument 'dtype'=ttnn.bfloat4_b needs TILE layout"):
        ttnn.clone(dev(x, device, layout=RM), dtype=ttnn.bfloat4_b)


# ------------------------------------------------------------------------ memory configs, sharding
def test_to_memory_config_dram_l1(device):
    x = torch.randn(64, 64)
    t = dev(x, device, ttnn.bfloat16)
    rep = ttfuse.sim.memory_report(device)
    l1, c = launches_of(device, lambda: ttnn.to_memory_config(t, ttnn.L1_MEMORY_CONFIG))
    assert l1.memory_config() == ttnn.L1_MEMORY_CONFIG and rep.l1_bytes == 4 * 2048 and c.total == 1
    assert torch.equal(host(l1), host(t))
    same, c = launches_of(
        device, lambda: ttnn.to_memory_config(l1, ttnn.L1_MEMORY_CONFIG, dtype=ttnn.float32)
    )
    assert same is l1 and c.total == 0  # matching config: ttnn returns the tensor (dtype ignored)
    f32 = ttnn.to_memory_config(l1, ttnn.DRAM_MEMORY_CONFIG, dtype=ttnn.float32)
    assert f32.dtype == ttnn.float32 and torch.equal(host(f32), host(t))


@pytest.mark.parametrize(
    "strategy,shard",
    [
        (ttnn.ShardStrategy.HEIGHT, (64, 192)),
        (ttnn.ShardStrategy.WIDTH, (256, 64)),
        (ttnn.ShardStrategy.BLOCK, (128, 96)),
    ],
    ids=lambda v: str(v),
)
def test_sharded_round_trip(device, strategy, shard):
    x = torch.randn(2, 128, 192)
    mc = ttnn.create_sharded_memory_config(
        x.shape,
        ttnn.CoreGrid(y=2, x=2) if strategy != ttnn.ShardStrategy.WIDTH else ttnn.CoreGrid(y=1, x=3),
        strategy,
    )
    assert mc.buffer_type == ttnn.BufferType.L1 and mc.shard_spec.shape == shard
    t = dev(x, device, ttnn.bfloat16)
    sh, c = launches_of(device, lambda: ttnn.to_memory_config(t, mc))
    assert sh.is_sharded() and sh.memory_config() == mc and c.total == 1
    assert torch.equal(host(sh), host(t))
    back = ttnn.sharded_to_interleaved(sh, ttnn.L1_MEMORY_CONFIG)
    assert back.memory_config() == ttnn.L1_MEMORY_CONFIG and torch.equal(host(back), host(t))
    i2s = ttnn.interleaved_to_sharded(t, mc)
    assert i2s.memory_config() == mc and torch.equal(host(i2s), host(t))


def test_interleaved_to_sharded_grid_form_and_reshard(device):
    x = torch.randn(256, 64)
    t = dev(x, device, ttnn.bfloat16)
    out = ttnn.interleaved_to_sharded(
        t,
        ttnn.CoreCoord(4, 2),
        [32, 64],
        ttnn.TensorMemoryLayout.HEIGHT_SHARDED,
        ttnn.ShardOrientation.ROW_MAJOR,
        output_dtype=ttnn.float32,
    )
    assert out.dtype == ttnn.float32 and out.memory_config().shard_spec.num_cores() == 8
    mc = ttnn.create_sharded_memory_config((256, 64), ttnn.CoreGrid(y=1, x=4), ttnn.ShardStrategy.HEIGHT)
    re = ttnn.reshard(out, mc)
    assert re.memory_config() == mc and torch.equal(host(re), ref(x, ttnn.bfloat16))
    with pytest.raises(
        SpecError, match="ttnn.interleaved_to_sharded: argument 'input_tensor' is already HEIGHT_SHARDED"
    ):
        ttnn.interleaved_to_sharded(out, mc)
    with pytest.raises(
        SpecError, match="ttnn.sharded_to_interleaved: argument 'input_tensor' must be sharded"
    ):
        ttnn.sharded_to_interleaved(t)
    with pytest.raises(
        SpecError, match="ttnn.sharded_to_interleaved: argument 'memory_config' must be interleaved"
    ):
        ttnn.sharded_to_interleaved(out, mc)
    with pytest.raises(SpecError, match="ttnn.reshard: argument 'input_tensor' must be sharded"):
        ttnn.reshard(t, mc)


def test_shard_spec_validation(device):
    t = dev(torch.randn(256, 128), device, ttnn.bfloat16)
    H, W, B = (
        ttnn.TensorMemoryLayout.HEIGHT_SHARDED,
        ttnn.TensorMemoryLayout.WIDTH_SHARDED,
        ttnn.TensorMemoryLayout.BLOCK_SHARDED,
    )
    bad = [
        (sharded(H, (2, 1), (64, 128)), "2 cores x 64 rows do not cover the tensor viewed as \\[256, 128\\]"),
        (sharded(H, (8, 1), (32, 64)), "HEIGHT_SHARDED shard width 64 must equal the width"),
        (sharded(W, (4, 1), (128, 32)), "WIDTH_SHARDED shard height 128 must equal the height"),
        (
            sharded(B, (2, 2), (128, 32)),
            "BLOCK_SHARDED shards 128x32 over a 2x2 grid of ROW_MAJOR shards do not cover",
        ),
        (sharded(H, (8, 1), (32, 100)), "must be a multiple of the 32x32 tile"),
        (sharded(H, (9, 9), (32, 128)), "outside the 8x8 compute grid"),
        (ttnn.L1_HEIGHT_SHARDED_MEMORY_CONFIG, "is HEIGHT_SHARDED but has no shard_spec"),
    ]
    for mc, msg in bad:
        with pytest.raises(SpecError, match="ttnn.to_memory_config: argument 'memory_config'.*" + msg):
            ttnn.to_memory_config(t, mc)
    ok = ttnn.to_memory_config(t, sharded(B, (2, 4), (128, 32), ttnn.ShardOrientation.COL_MAJOR))  # H over x
    assert ok.is_sharded()
    rm = ttnn.to_memory_config(dev(torch.randn(250, 100), device, layout=RM), sharded(H, (5, 1), (50, 100)))
    assert rm.is_sharded()  # ROW_MAJOR shards need no tile alignment


def test_create_sharded_memory_config():
    f = ttnn.create_sharded_memory_config
    grid = ttnn.CoreGrid(y=2, x=4)
    assert f((1, 2, 64, 256), grid, ttnn.ShardStrategy.HEIGHT).shard_spec.shape == (16, 256)
    assert f((1, 2, 64, 256), grid, ttnn.ShardStrategy.WIDTH).shard_spec.shape == (128, 32)
    assert f((1, 2, 64, 256), grid, ttnn.ShardStrategy.BLOCK).shard_spec.shape == (64, 64)
    col = f((128, 256), grid, ttnn.ShardStrategy.BLOCK, ttnn.ShardOrientation.COL_MAJOR)
    assert col.shard_spec.shape == (32, 128) and col.shard_spec.orientation == ttnn.ShardOrientation.COL_MAJOR
    crs = ttnn.CoreRangeSet([ttnn.CoreRange(ttnn.CoreCoord(0, 0), ttnn.CoreCoord(3, 0))])
    mc = f((64, 32), crs, ttnn.ShardStrategy.HEIGHT, use_height_and_width_as_shard_shape=True)
    assert mc.shard_spec.shape == (64, 32) and mc.shard_spec.grid == crs
    assert mc.memory_layout == ttnn.TensorMemoryLayout.HEIGHT_SHARDED and mc.buffer_type == ttnn.BufferType.L1
    with pytest.raises(
        SpecError, match="ttnn.create_sharded_memory_config: argument 'core_grid'=.* does not divide"
    ):
        f((100, 256), grid, ttnn.ShardStrategy.HEIGHT)
    with pytest.raises(
        SpecError, match="ttnn.create_sharded_memory_config: argument 'core_grid' must be a ttnn.CoreGrid"
    ):
        f((64, 32), crs, ttnn.ShardStrategy.HEIGHT)
    with pytest.raises(SpecError, match="ttnn.create_sharded_memory_config: argument 'strategy'"):
        f((64, 32), grid, ttnn.TensorMemoryLayout.HEIGHT_SHARDED)


def test_reallocate_frees_the_input(device):
    x = torch.randn(64, 64)
    t = dev(x, device, ttnn.bfloat16, memory_config=ttnn.L1_MEMORY_CONFIG)
    rep = ttfuse.sim.memory_report(device)
    out, c = launches_of(device, lambda: ttnn.reallocate(t))
    assert not t.is_allocated() and out.is_allocated() and c.by_op == {"reallocate": 1}
    assert rep.l1_bytes == 4 * 2048 and torch.equal(host(out), ref(x, ttnn.bfloat16))
    with pytest.raises(DeviceError, match="deallocated"):
        ttnn.reallocate(t)


# ------------------------------------------------------------------------ reshape, view, squeeze, unsqueeze
@pytest.mark.parametrize(
    "layout,src,dst,n",
    [
        (TILE, (2, 64, 50), (128, 50), 0),  # last dim kept, second-last tile-aligned: view
        (TILE, (2, 3, 40, 50), (6, 40, 50), 0),  # only leading dims change: view
        (TILE, (2, 40, 50), (80, 50), 1),  # second-last crosses tile padding: kernel
        (TILE, (2, 40, 50), (2, 50, 40), 1),  # last dim changes: kernel
        (RM, (2, 40, 50), (80, 50), 0),  # row major: any reshape keeping the last dim is a view
        (RM, (2, 40, 50), (40, 100), 1),
    ],
)
def test_reshape_view_rule(device, layout, src, dst, n):
    x = torch.randn(*src)
    t = dev(x, device, ttnn.bfloat16, layout)
    rep = ttfuse.sim.memory_report(device)
    used = rep.dram_bytes
    out, c = launches_of(device, lambda: ttnn.reshape(t, dst))
    assert tuple(out.shape) == dst and out.layout == layout and c.total == n
    assert rep.dram_bytes == (used if n == 0 else used + out.spec.nbytes)  # a view allocates nothing
    assert torch.equal(host(out), ref(x, ttnn.bfloat16).reshape(dst))
    if n == 0:
        del t
        gc.collect()
        assert rep.dram_bytes == used  # the view keeps its base's storage alive
        assert torch.equal(host(out), ref(x, ttnn.bfloat16).reshape(dst))
        del out
        gc.collect()
        assert rep.dram_bytes == used - ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=layout).spec.nbytes


def test_reshape_launches_and_identity(device):
    t = dev(torch.randn(2, 40, 50), device, ttnn.bfloat8_b)
    _, c = launches_of(device, lambda: ttnn.reshape(t, (80, 50)))
    assert c.total == 3  # bfloat8_b tiled reshape: typecast, reshape, typecast
    out, c = launches_of(device, lambda: ttnn.reshape(t, [2, 40, 50]))
    assert out is t and c.total == 0
    _, c = launches_of(device, lambda: ttnn.reshape(t, (2, 40, 50, 1)))
    assert c.total == 3
    h = ttnn.reshape(ttnn.from_torch(torch.randn(4, 6)), (3, 8))
    assert h.device() is None and h.shape == [3, 8]


def test_reshape_bad_inputs(device):
    t = dev(torch.randn(2, 40, 50), device)
    with pytest.raises(
        SpecError, match=r"ttnn.reshape: argument 'shape'=\[3, 50\] has 150 elements but the input"
    ):
        ttnn.reshape(t, (3, 50))
    with pytest.raises(SpecError, match="ttnn.reshape: argument 'shape'=.*only one dimension can be -1"):
        ttnn.reshape(t, (-1, -1))
    with pytest.raises(SpecError, match="ttnn.reshape: argument 'shape'=.*cannot infer"):
        ttnn.reshape(t, (-1, 7))
    with pytest.raises(SpecError, match="ttnn.reshape: argument 'shape' must be a list of ints"):
        ttnn.reshape(t, "80,50")


def test_view(device):
    x = torch.randn(2, 64, 50)
    t = dev(x, device)
    out, c = launches_of(device, lambda: ttnn.view(t, (128, 50)))
    assert c.total == 0 and torch.equal(host(out), x.reshape(128, 50))
    with pytest.raises(
        SpecError, match="ttnn.view: argument 'shape'=.* changes the last dimension from 50 to 25"
    ):
        ttnn.view(t, (2, 128, 25))
    with pytest.raises(SpecError, match="ttnn.view: argument 'shape'=.* changes the second-last dimension"):
        ttnn.view(dev(torch.randn(2, 40, 50), device), (80, 50))
    with pytest.raises(SpecError, match="ttnn.view: argument 'input_tensor' is on the host"):
        ttnn.view(ttnn.from_torch(x), (128, 50))


def test_squeeze_unsqueeze(device):
    x = torch.randn(1, 3, 1, 64)
    t = dev(x, device, ttnn.bfloat16, RM)
    assert ttnn.squeeze(t).shape == [3, 64]
    assert ttnn.squeeze(t, [0, 1]).shape == [3, 1, 64]  # dims of size != 1 are ignored
    out, c = launches_of(device, lambda: ttnn.squeeze(t, 0))
    assert out.shape == [3, 1, 64] and c.total == 0
    assert ttnn.unsqueeze(t, -1).shape == [1, 3, 1, 64, 1] and ttnn.unsqueeze(t, 0).shape == [1, 1, 3, 1, 64]
    tt = dev(torch.randn(4, 1, 64), device)
    _, c = launches_of(device, lambda: ttnn.squeeze(tt, 1))
    assert c.total == 1  # the second-last dim goes from 1 to 4 across tile padding
    with pytest.raises(SpecError, match="ttnn.squeeze: argument 'dim'=4 is out of range for a rank-4 tensor"):
        ttnn.squeeze(t, 4)
    with pytest.raises(
        SpecError, match="ttnn.unsqueeze: argument 'dim'=6 is out of range for a rank-5 tensor"
    ):
        ttnn.unsqueeze(t, 6)


# ------------------------------------------------------------------------ permute, transpose
def test_permute(device):
    x = torch.randn(2, 3, 40, 50)
    t = dev(x, device)
    out, c = launches_of(device, lambda: ttnn.permute(t, (0, -1, 1, 2)))
    assert out.shape == [2, 50, 3, 40] and c.total == 1 and torch.equal(host(out), x.permute(0, 3, 1, 2))
    same, c = launches_of(device, lambda: ttnn.permute(t, (0, 1, 2, 3)))
    assert same is t and c.total == 0
    ones = dev(torch.randn(1, 1, 32, 32), device)
    same, c = launches_of(device, lambda: ttnn.permute(ones, (1, 0, 2, 3)))  # only size-1 dims move
    assert same is ones and c.total == 0
    _, c = launches_of(device, lambda: ttnn.permute(dev(x, device, ttnn.bfloat8_b), (2, 0, 1, 3)))
    assert c.total == 3  # bfloat8_b: typecast around the generic permute
    assert ttnn.permute(t, (3, 2, 1, 0)).shape == [50, 40, 3, 2]
    with pytest.raises(SpecError, match=r"ttnn.permute: argument 'dims'=\[0, 0, 1, 2\] is not a permutation"):
        ttnn.permute(t, (0, 0, 1, 2))
    with pytest.raises(SpecError, match="ttnn.permute: argument 'dims'=.* has 3 entries for a rank-4 tensor"):
        ttnn.permute(t, (0, 1, 2))
    with pytest.raises(SpecError, match="ttnn.permute: argument 'dims'=4 is out of range"):
        ttnn.permute(t, (0, 1, 2, 4))


def test_transpose(device):
    x = torch.randn(2, 3, 40, 50)
    t = dev(x, device, ttnn.bfloat16)
    out = ttnn.transpose(t, 1, -1)
    assert out.shape == [2, 50, 40, 3] and torch.equal(host(out), ref(x, ttnn.bfloat16).transpose(1, 3))
    same, c = launches_of(device, lambda: ttnn.transpose(t, 1, -3))
    assert same is t and c.total == 0
    with pytest.raises(
        SpecError, match="ttnn.transpose: argument 'dim2'=4 is out of range for a rank-4 tensor"
    ):
        ttnn.transpose(t, 0, 4)


# ------------------------------------------------------------------------ slice
def test_slice(device):
    x = torch.randn(4, 40, 50)
    t = dev(x, device)
    out, c = launches_of(device, lambda: ttnn.slice(t, [1, -30, 0], [3, 40, 50], [1, 3, 7]))
    assert out.shape == [2, 10, 8] and c.total == 1 and torch.equal(host(out), x[1:3, 10::3, ::7])
    assert out.memory_config() == t.memory_config()
    l1 = ttnn.slice(t, [0, 0, 0], [4, 8, 8], memory_config=ttnn.L1_MEMORY_CONFIG)
    assert l1.memory_config() == ttnn.L1_MEMORY_CONFIG
    same, c = launches_of(device, lambda: ttnn.slice(t, [0, 0, 0], [4, 40, 50]))
    assert same is t and c.total == 0
    assert torch.equal(host(t[..., -5:]), x[..., -5:]) and torch.equal(host(t[2]), x[2])
    bad = [
        (([0, 0], [4, 40], None), r"argument 'slice_start'=\[0, 0\] needs one entry per dim"),
        (([0, 0, 0], [4, 40, 50], [1, 0, 1]), "argument 'slice_step'=.* must be positive"),
        (([0, 5, 0], [4, 5, 50], None), "argument 'slice_end'=.* must be in \\(5, 40\\]"),
        (([0, 40, 0], [4, 41, 50], None), "argument 'slice_start'=.*index 40 is out of range for dim 1"),
    ]
    for (s, e, st), msg in bad:
        with pytest.raises(SpecError, match="ttnn.slice: " + msg):
            ttnn.slice(t, s, e, st)
    with pytest.raises(
        SpecError, match="ttnn.slice: argument 'slice_step': strided slicing is not supported for bfloat8_b"
    ):
        ttnn.slice(dev(x, device, ttnn.bfloat8_b), [0, 0, 0], [4, 40, 50], [1, 2, 1])


# ------------------------------------------------------------------------ concat, split, chunk
def test_concat(device):
    a, b = torch.randn(2, 40, 50), torch.randn(2, 7, 50)
    ta, tb = dev(a, device, ttnn.bfloat16), dev(b, device, ttnn.bfloat16)
    out, c = launches_of(
        device, lambda: ttnn.concat([ta, tb, ta], dim=-2, memory_config=ttnn.L1_MEMORY_CONFIG)
    )
    assert out.shape == [2, 87, 50] and c.total == 1 and out.memory_config() == ttnn.L1_MEMORY_CONFIG
    assert torch.equal(host(out), ref(torch.cat([a, b, a], 1), ttnn.bfloat16))
    same, c = launches_of(device, lambda: ttnn.concat([ta], 0))
    assert same is ta and c.total == 0
    with pytest.raises(SpecError, match="ttnn.concat: argument 'tensors\\[1\\]' has shape .* outside dim 2"):
        ttnn.concat([ta, tb], 2)
    with pytest.raises(
        SpecError, match="ttnn.concat: argument 'tensors\\[1\\]' is ttnn.float32/.* one dtype and layout"
    ):
        ttnn.concat([ta, dev(b, device)], 1)
    with pytest.raises(SpecError, match="ttnn.concat: argument 'tensors\\[1\\]' has rank 2"):
        ttnn.concat([ta, dev(torch.randn(40, 50), device, ttnn.bfloat16)], 1)
    with pytest.raises(SpecError, match="ttnn.concat: argument 'groups'=2"):
        ttnn.concat([ta, ta], 0, groups=2)
    with pytest.raises(SpecError, match="ttnn.concat: argument 'dim'=3 is out of range"):
        ttnn.concat([ta, ta], 3)


def test_split_and_chunk(device):
    x = torch.randn(2, 10, 64)
    t = dev(x, device, ttnn.bfloat16)
    parts, c = launches_of(device, lambda: ttnn.split(t, 4, dim=1))
    assert isinstance(parts, list) and [p.shape[1] for p in parts] == [4, 4, 2] and c.by_op == {"split": 3}
    for p, q in zip(parts, ref(x, ttnn.bfloat16).split(4, 1)):
        assert torch.equal(host(p), q)
    parts = ttnn.split(t, [3, 7], 1)
    assert [p.shape[1] for p in parts] == [3, 7]
    chunks, c = launches_of(device, lambda: ttnn.chunk(t, 4, -1))
    assert [p.shape[-1] for p in chunks] == [16] * 4 and c.total == 4
    for p, q in zip(chunks, ref(x, ttnn.bfloat16).chunk(4, -1)):
        assert torch.equal(host(p), q)
    assert [p.shape[1] for p in ttnn.chunk(t, 4, 1)] == [s.shape[1] for s in x.chunk(4, 1)]  # torch: 3 pieces
    with pytest.raises(
        SpecError, match=r"ttnn.split: argument 'split_size'=\[3, 6\] sums to 9, but dim 1 has size 10"
    ):
        ttnn.split(t, [3, 6], 1)
    with pytest.raises(SpecError, match="ttnn.split: argument 'split_size'=0 must be positive"):
        ttnn.split(t, 0, 1)
    with pytest.raises(SpecError, match="ttnn.chunk: argument 'chunks'=0 must be a positive int"):
        ttnn.chunk(t, 0, 1)


# ------------------------------------------------------------------------ pad, repeat, expand, broadcast_to
def test_pad(device):
    x = torch.randn(3, 40, 50)
    rm = dev(x, device, ttnn.bfloat16, RM)
    out, c = launches_of(device, lambda: ttnn.pad(rm, [(1, 2), (3, 4)], -1.0))
    assert out.shape == [3, 43, 57] and c.total == 1  # shorter padding pads the trailing dims
    assert torch.equal(host(out), torch.nn.functional.pad(ref(x, ttnn.bfloat16), (3, 4, 1, 2), value=-1.0))
    tiled = ttnn.pad(dev(x, device), [(0, 0), (0, 24), (0, 14)], 0.0)
    assert tiled.shape == [3, 64, 64] and tiled.padded_shape == [3, 64, 64]
    with pytest.raises(
        SpecError, match="ttnn.pad: argument 'padding'=.*TILE-layout tensors cannot be padded at the front"
    ):
        ttnn.pad(dev(x, device), [(1, 0), (0, 0)], 0.0)
    with pytest.raises(SpecError, match="ttnn.pad: argument 'padding' has 4 pairs for a rank-3 tensor"):
        ttnn.pad(rm, [(0, 0)] * 4, 0.0)
    with pytest.raises(SpecError, match="ttnn.pad: argument 'padding'=.* must not have negative entries"):
        ttnn.pad(rm, [(0, -1)], 0.0)
    with pytest.raises(
        SpecError, match="ttnn.pad: argument 'padding' must be a list of \\(before, after\\) pairs"
    ):
        ttnn.pad(rm, [1, 2], 0.0)


def test_repeat(device):
    x = torch.randn(2, 32, 64)
    t = dev(x, device, ttnn.bfloat16)
    out, c = launches_of(device, lambda: ttnn.repeat(t, (3, 1, 2)))
    assert out.shape == [6, 32, 128] and c.total == 2  # tile-aligned: one kernel per repeated dim
    assert torch.equal(host(out), ref(x, ttnn.bfloat16).repeat(3, 1, 2))
    out = ttnn.repeat(t, (2, 1, 1, 1))  # a longer vector adds leading dims, as torch does
    assert out.shape == [2, 2, 32, 64] and torch.equal(host(out), ref(x, ttnn.bfloat16).repeat(2, 1, 1, 1))
    same, c = launches_of(device, lambda: ttnn.repeat(t, (1, 1, 1)))
    assert same is t and c.total == 0
    _, c = launches_of(device, lambda: ttnn.repeat(dev(torch.randn(2, 5), device), (2, 1)))
    assert c.total == 3  # not tile-aligned: untilize, repeat, tilize
    with pytest.raises(
        SpecError, match="ttnn.repeat: argument 'repeat_dims'=.* must not have negative entries"
    ):
        ttnn.repeat(t, (1, -1, 1))


def test_expand_and_broadcast_to(device):
    x = torch.randn(1, 3, 1, 64)
    t = dev(x, device, ttnn.bfloat16)
    out = ttnn.expand(t, (2, -1, 32, 64))
    assert out.shape == [2, 3, 32, 64] and torch.equal(host(out), ref(x, ttnn.bfloat16).expand(2, 3, 32, 64))
    bt, c = launches_of(device, lambda: ttnn.experimental.broadcast_to(t, (2, 3, 32, 64)))
    assert bt.shape == [2, 3, 32, 64] and c.by_op == {"broadcast_to": 1}
    assert torch.equal(host(bt), ref(x, ttnn.bfloat16).expand(2, 3, 32, 64))
    with pytest.raises(
        SpecError, match="ttnn.expand: argument 'output_shape'=.* cannot broadcast input .* dim 1 is 3"
    ):
        ttnn.expand(t, (1, 4, 1, 64))
    with pytest.raises(
        SpecError, match="ttnn.experimental.broadcast_to: argument 'input' must be in TILE layout"
    ):
        ttnn.experimental.broadcast_to(dev(x, device, layout=RM), (2, 3, 1, 64))
    with pytest.raises(
        SpecError, match="ttnn.experimental.broadcast_to: argument 'input' has dtype bfloat8_b"
    ):
        ttnn.experimental.broadcast_to(dev(x, device, ttnn.bfloat8_b), (2, 3, 1, 64))
    with pytest.raises(
        SpecError, match="ttnn.experimental.broadcast_to: argument 'output_shape'=.* rank <= 4"
    ):
        ttnn.experimental.broadcast_to(t, (2, 1, 3, 1, 64))


# ------------------------------------------------------------------------ creation
@pytest.mark.parametrize(
    "dtype", [ttnn.float32, ttnn.bfloat16, ttnn.bfloat8_b, ttnn.int32], ids=lambda d: d.value
)
def test_fills(device, dtype):
    t, c = launches_of(device, lambda: ttnn.full((3, 40), 1.3, dtype=dtype, layout=TILE, device=device))
    assert t.shape == [3, 40] and t.padded_shape == [32, 64] and t.dtype == dtype and c.by_op == {"full": 1}
    want = torch.full((3, 40), 1.3)
    assert torch.equal(host(t), want.round() if dtype == ttnn.int32 else ref(want, dtype))
    z = ttnn.zeros_like(t)
    assert z.spec == t.spec and z.device() is device and host(z).abs().sum() == 0
    o = ttnn.ones_like(t, dtype=ttnn.float32)
    assert o.dtype == ttnn.float32 and torch.equal(host(o), torch.ones(3, 40))
    f = ttnn.full_like(t, -2.0)
    assert f.spec == t.spec and torch.equal(host(f), torch.full((3, 40), -2.0))


def test_creation_defaults_and_host(device):
    h = ttnn.zeros((3, 4))
    assert h.device() is None and h.dtype == ttnn.bfloat16 and h.layout == RM
    o = ttnn.ones([2, 32], device=device, memory_config=ttnn.L1_MEMORY_CONFIG)
    assert o.memory_config() == ttnn.L1_MEMORY_CONFIG and torch.equal(host(o), torch.ones(2, 32))
    rep = ttfuse.sim.memory_report(device)
    before = rep.dram_bytes
    e, c = launches_of(device, lambda: ttnn.empty([64, 64], ttnn.bfloat16, TILE, device))
    assert c.total == 0 and rep.dram_bytes == before + 4 * 2048 and e.shape == [64, 64]
    assert ttnn.empty_like(e).spec == e.spec


def test_arange_and_rand(device):
    a = ttnn.arange(2, 20, 3, dtype=ttnn.float32, device=device)
    assert a.shape == [6] and a.layout == RM and host(a).tolist() == [2, 5, 8, 11, 14, 17]
    assert host(ttnn.arange(5)).tolist() == [0, 1, 2, 3, 4]
    assert (
        host(ttnn.arange(300, dtype=ttnn.bfloat16)).tolist()
        == ref(torch.arange(300.0), ttnn.bfloat16).tolist()
    )
    assert host(ttnn.arange(10, 0, -4, dtype=ttnn.int32)).tolist() == [10, 6, 2]
    r = ttnn.rand((64, 64), device, low=-2.0, high=2.0, seed=7)
    v = host(r)
    assert r.layout == TILE and r.dtype == ttnn.bfloat16 and v.min() >= -2 and v.max() <= 2 and v.std() > 0.5
    assert torch.equal(v, ref(v, ttnn.bfloat16))
    assert torch.equal(host(ttnn.rand((64, 64), device, low=-2.0, high=2.0, seed=7)), v)


def test_creation_bad_inputs(device):
    with pytest.raises(SpecError, match="ttnn.zeros: argument 'dtype'=ttnn.bfloat8_b needs TILE layout"):
        ttnn.zeros((2, 2), dtype=ttnn.bfloat8_b)
    with pytest.raises(SpecError, match="ttnn.full: argument 'fill_value' must be a number"):
        ttnn.full((2, 2), "1")
    with pytest.raises(
        SpecError, match="ttnn.arange: argument 'step'=-1 must be non-zero and point from start=0"
    ):
        ttnn.arange(0, 10, -1)
    with pytest.raises(SpecError, match="ttnn.rand: argument 'device' is required"):
        ttnn.rand((2, 2))
    with pytest.raises(SpecError, match="ttnn.empty: argument 'device' is required"):
        ttnn.empty((2, 2))
    with pytest.raises(SpecError, match="ttnn.zeros_like: argument 'tensor' must be a ttnn.Tensor"):
        ttnn.zeros_like(torch.zeros(2))
    with pytest.raises(SpecError, match="ttnn.ones: argument 'shape'=.* must not have negative entries"):
        ttnn.ones((2, -2))


# ------------------------------------------------------------------------ mesh, lifetime, cost
def test_mesh_runs_per_device_shard():
    mesh = ttnn.open_mesh_device(ttnn.MeshShape(1, 2))
    try:
        x = torch.randn(2, 32, 64)
        t = ttnn.from_torch(
            x, dtype=ttnn.bfloat16, layout=TILE, device=mesh, mesh_mapper=ttnn.ShardTensorToMesh(mesh, dim=0)
        )
        with ttfuse.sim.count_launches(mesh) as c:
            out = ttnn.permute(ttnn.reshape(t, (32, 64)), (1, 0))
        assert out.shape == [64, 32] and c.total == 1
        got = ttnn.to_torch(out, mesh_composer=ttnn.ConcatMeshToTensor(mesh, dim=0)).float()
        assert torch.equal(got, ref(x, ttnn.bfloat16).transpose(1, 2).reshape(128, 32))
    finally:
        ttnn.close_mesh_device(mesh)


def test_zero_cost_view_of_deallocated_tensor_raises(device):
    t = dev(torch.randn(2, 32, 32), device)
    ttnn.deallocate(t)
    with pytest.raises(DeviceError, match="ttnn.reshape: argument 'input_tensor' was deallocated"):
        ttnn.reshape(t, (64, 32))
    with pytest.raises(DeviceError, match="ttnn.to_layout: argument 'tensor' was deallocated"):
        ttnn.to_layout(t, TILE)


def test_cost_rules_agree_with_eager_counts():
    from ttfuse.opdef import CostCtx

    s = ttnn.TensorSpec((2, 40, 50), ttnn.bfloat16, TILE)
    view_args = {"input_tensor": s, "shape": (80, 50), "memory_config": None}
    for shape, n in (((2, 40, 50), 0), ((80, 50), 1), ((2, 50, 40), 1)):
        out = ttnn.reshape.spec_rule(input_tensor=s, shape=shape)
        cost = ttnn.reshape.cost_rule(
            CostCtx(ttnn.reshape, {"input_tensor": s}, [out], {**view_args, "shape": shape})
        )
        assert cost.launches == n and cost.flops == 0
        assert cost.dram_bytes == (0 if n == 0 else s.nbytes + out.nbytes)
