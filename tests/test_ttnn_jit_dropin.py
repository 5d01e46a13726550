"""ttfuse.ttnn_jit: the drop-in for tt-mlir's ttnn-jit (`import ttfuse.ttnn_jit as ttnn_jit`).

Checks each option's effect and default, ttnn-jit's default output placement (L1 block sharded over the largest
dividing grid, computed here by hand from tile counts), the attributes (`func`, `num_entries`, `fallback_used`),
ttnn-jit's validation errors (types and the messages its tests match) and compile_only / fallback behaviour.
"""

from __future__ import annotations

import pytest
import torch

import ttfuse.ttnn_jit as ttnn_jit
from ttfuse import Lowered, SpecError, TraceError, cache, ttnn
from ttfuse.sim import count_launches
from ttfuse.testing import pcc


@pytest.fixture(autouse=True)
def fresh():
    with cache.fresh_cache(disk=False) as d:
        yield d


def dev_tensor(device, shape, *, mc=ttnn.DRAM_MEMORY_CONFIG, layout=ttnn.TILE_LAYOUT, dtype=ttnn.bfloat16):
    return ttnn.from_torch(torch.randn(shape), dtype=dtype, layout=layout, device=device, memory_config=mc)


def cosh(x):
    return ttnn.multiply(ttnn.add(ttnn.exp(x), ttnn.exp(ttnn.neg(x))), 0.5)


def block_sharded(x_cores, y_cores, shard):
    grid = ttnn.CoreRangeSet(ttnn.CoreRange(ttnn.CoreCoord(0, 0), ttnn.CoreCoord(x_cores - 1, y_cores - 1)))
    return ttnn.MemoryConfig(
        ttnn.TensorMemoryLayout.BLOCK_SHARDED,
        ttnn.BufferType.L1,
        ttnn.ShardSpec(grid, shard, ttnn.ShardOrientation.ROW_MAJOR),
    )


# ------------------------------------------------------------------------------------ default output placement
@pytest.mark.parametrize(
    "shape, cores_xy, shard",
    [
        ((256, 512), (8, 8), (32, 64)),  # 8 x 16 tiles: 8 rows of cores, 8 columns (16 / 8)
        ((96, 160), (5, 3), (32, 32)),  # 3 x 5 tiles: one tile per core
        ((2, 64, 96), (3, 4), (32, 32)),  # leading dims fold into the height: 4 x 3 tiles
        ((64, 288), (3, 2), (32, 96)),  # 9 tile columns: 8 does not divide them, 3 is the largest that does
        ((100, 100), (4, 4), (32, 32)),  # not tile aligned: whole tiles per core (4 x 4 tiles)
        ((32,), (1, 1), (32, 32)),  # a vector is [1, n]
    ],
)
def test_default_output_is_l1_block_sharded_over_the_largest_dividing_grid(device, shape, cores_xy, shard):
    x = dev_tensor(device, shape)
    f = ttnn_jit.jit()(cosh)
    y = f(x)
    mc = y.memory_config()
    assert mc == block_sharded(*cores_xy, shard)
    assert mc.shard_spec.orientation is ttnn.ShardOrientation.ROW_MAJOR
    assert pcc(ttnn.to_torch(y), ttnn.to_torch(cosh(x))) > 0.999


def test_default_grid_follows_the_device_grid():
    """A Blackhole p150 (13x10 cores) shards 10 x 13 tiles one per core; an 8x8 Wormhole could not."""
    dev = ttnn.open_device(device_id=0, arch="blackhole:p150:13x10")
    try:
        assert ttnn_jit._device_grid(dev) == (13, 10)
        x = dev_tensor(dev, (32 * 10, 32 * 13))
        y = ttnn_jit.jit()(cosh)(x)
        assert y.memory_config() == block_sharded(13, 10, (32, 32))
    finally:
        ttnn.close_device(dev)


def test_get_maximal_block_sharding_grid():
    # end coordinates (x, y), as ttnn-jit's helper returns them
    assert ttnn_jit.get_maximal_block_sharding_grid((1024, 1024), (7, 7)) == [7, 7]
    assert ttnn_jit.get_maximal_block_sharding_grid((64, 288), (7, 7)) == [2, 1]
    assert ttnn_jit.get_maximal_block_sharding_grid((32 * 7, 32 * 5), (7, 7)) == [4, 6]
    assert ttnn_jit.get_maximal_block_sharding_grid((32 * 10, 32 * 13), (12, 9)) == [12, 9]


def test_matmul_output_is_sharded(device):
    a = dev_tensor(device, (128, 256))
    b = dev_tensor(device, (256, 192))

    @ttnn_jit.jit(debug=False)
    def mm(a, b):
        return ttnn.abs(ttnn.matmul(ttnn.abs(a), b))

    y = mm(a, b)
    assert y.memory_config().is_sharded(), "Matmul output must be sharded"
    assert y.memory_config() == block_sharded(6, 4, (32, 32))  # 4 x 6 tiles
    ref = ttnn.abs(ttnn.matmul(ttnn.abs(a), b))
    assert pcc(ttnn.to_torch(y), ttnn.to_torch(ref)) > 0.999


def test_placement_is_part_of_the_compiled_graph(device):
    """The move to the output placement is a node the passes see, not an eager call after the jit."""
    x = dev_tensor(device, (64, 64))
    f = ttnn_jit.jit(enable_cache=True)(cosh)
    f(x)
    lowered = f.jit_function.lower(x, _ttnn_jit_core_grid=ttnn_jit._device_grid(device))
    assert "to_memory_config" in str(lowered.ir_before)


def test_tuple_outputs_are_each_placed(device):
    x = dev_tensor(device, (64, 128))

    @ttnn_jit.jit()
    def two(x):
        return ttnn.exp(x), ttnn.neg(x)

    a, b = two(x)
    assert a.memory_config() == b.memory_config() == block_sharded(4, 2, (32, 32))


# ----------------------------------------------------------------------------------------------- options
def test_memory_config_option_places_the_output_exactly(device):
    x = dev_tensor(device, (256, 256))
    for mc in (ttnn.DRAM_MEMORY_CONFIG, ttnn.L1_MEMORY_CONFIG, block_sharded(2, 2, (128, 128))):
        y = ttnn_jit.jit(memory_config=mc)(cosh)(x)
        assert y.memory_config() == mc
    with pytest.raises(SpecError, match="memory_config must be a ttnn.MemoryConfig"):
        ttnn_jit.jit(memory_config="L1")(cosh)


def test_enable_cache_defaults_off_and_counts_entries(device):
    x = dev_tensor(device, (64, 64))
    off = ttnn_jit.jit()(cosh)
    off(x)
    off(x)
    assert off.cache is None
    assert off.jit_function.trace_count == 2  # no cache: compiled on every call, as ttnn-jit
    with pytest.raises(AssertionError, match="Cache is not enabled"):
        off.num_entries  # noqa: B018

    on = ttnn_jit.jit(enable_cache=True)(cosh)
    assert on.num_entries == 0
    on(x)
    on(dev_tensor(device, (64, 64)))  # same metadata, other data: a hit
    assert on.num_entries == 1 and on.jit_function.trace_count == 1
    on(dev_tensor(device, (64, 128)))
    on(dev_tensor(device, (64, 64), dtype=ttnn.float32))
    assert on.num_entries == 3


def test_compile_only_returns_the_lowered_artifact_and_implies_debug(device):
    x = dev_tensor(device, (64, 64))
    f = ttnn_jit.jit(compile_only=True)(cosh)
    assert f.debug is True and f.compile_only is True
    with count_launches(device) as launches:
        out = f(x)
    assert isinstance(out, Lowered)
    assert launches.total == 0  # nothing ran
    assert "exp" in str(out.ir_before) and "to_memory_config" in out.source


def test_positional_options_and_bare_decorator(device):
    x = dev_tensor(device, (64, 64))
    assert isinstance(ttnn_jit.jit(True)(cosh)(x), Lowered)  # jit's first positional is compile_only

    @ttnn_jit.jit
    def bare(x):
        return ttnn.exp(x)

    assert bare.cache is None and bare.fallback is False and bare.extra_pipeline_options == ""
    assert bare.memory_config is None and bare.math_fidelity is ttnn.MathFidelity.HiFi4
    assert pcc(ttnn.to_torch(bare(x)), torch.exp(ttnn.to_torch(x))) > 0.999


def test_math_fidelity_and_debug_reach_the_ttfuse_jit(device):
    f = ttnn_jit.jit(math_fidelity=ttnn.MathFidelity.LoFi, debug=True)(cosh)
    assert f.jit_function.options.math_fidelity is ttnn.MathFidelity.LoFi
    assert f.jit_function.options.debug == 3
    g = ttnn_jit.jit()(cosh)
    assert g.jit_function.options.math_fidelity is ttnn.MathFidelity.HiFi4  # ttnn-jit's default
    assert g.jit_function.options.debug == 0


def test_extra_pipeline_options_must_be_a_string(device):
    x = dev_tensor(device, (64, 64))
    f = ttnn_jit.jit(extra_pipeline_options="test-buffer-size-policy=max")(cosh)
    assert f.extra_pipeline_options == "test-buffer-size-policy=max"
    assert f(x).memory_config().is_sharded()
    with pytest.raises(SpecError, match="extra_pipeline_options must be a string"):
        ttnn_jit.jit(extra_pipeline_options=["x"])(cosh)


def test_func_attribute_is_the_undecorated_function(device):
    f = ttnn_jit.jit(debug=True)(cosh)
    assert f.func is cosh and f.__name__ == "cosh"
    g = ttnn_jit.jit(enable_cache=True)(f.func)  # re-jit with other options, as ttnn-jit's demos do
    x = dev_tensor(device, (64, 64))
    assert torch.equal(ttnn.to_torch(g(x)), ttnn.to_torch(f(x)))


def test_method(device):
    class M:
        scale = 2.0

        @ttnn_jit.jit(enable_cache=True)
        def __call__(self, x):
            return ttnn.multiply(x, self.scale)

    x = dev_tensor(device, (64, 64))
    y = M()(x)
    assert torch.equal(ttnn.to_torch(y), ttnn.to_torch(ttnn.multiply(x, 2.0)))


# ------------------------------------------------------------------------------------ validation, fallback
def test_fallback_with_compile_only_is_rejected_when_decorating():
    with pytest.raises(ValueError, match="fallback=True is incompatible with compile_only=True"):
        ttnn_jit.jit(compile_only=True, fallback=True)(cosh)


def test_row_major_input_is_rejected(device):
    x = dev_tensor(device, (32, 32), layout=ttnn.ROW_MAJOR_LAYOUT, dtype=ttnn.float32)
    with pytest.raises(
        ValueError, match="Only Layout.Tile tensors are supported. Found layout: Layout.ROW_MAJOR"
    ) as e:
        ttnn_jit.jit(debug=True)(cosh)(x)
    assert isinstance(e.value, SpecError)
    assert "argument 'x'" in str(e.value) and "test_ttnn_jit_dropin.py" in str(e.value)


@pytest.mark.parametrize(
    "mc, message",
    [
        (ttnn.L1_MEMORY_CONFIG, "Interleaved L1 tensors are not supported."),
        (
            ttnn.MemoryConfig(
                ttnn.TensorMemoryLayout.BLOCK_SHARDED,
                ttnn.BufferType.L1,
                ttnn.ShardSpec(
                    ttnn.CoreRangeSet(ttnn.CoreRange(ttnn.CoreCoord(0, 0), ttnn.CoreCoord(1, 1))),
                    (32, 32),
                    ttnn.ShardOrientation.COL_MAJOR,
                ),
            ),
            "Column major sharding is not supported.",
        ),
    ],
)
def test_inputs_ttnn_jit_cannot_take_are_rejected(device, mc, message):
    x = dev_tensor(device, (64, 64), mc=mc)
    with pytest.raises(ValueError, match=message):
        ttnn_jit.jit()(cosh)(x)


def test_fallback_runs_eagerly_and_resets_per_call(device):
    f = ttnn_jit.jit(fallback=True)(cosh)
    bad = dev_tensor(device, (64, 64), mc=ttnn.L1_MEMORY_CONFIG)
    with count_launches(device) as launches:
        y = f(bad)
    assert f.fallback_used
    assert launches.by_op.get("exp") == 2  # the eager function ran op by op
    assert torch.equal(ttnn.to_torch(y), ttnn.to_torch(cosh(bad)))
    assert y.memory_config() == ttnn.L1_MEMORY_CONFIG  # eager placement, not the jit's
    f(dev_tensor(device, (64, 64)))
    assert not f.fallback_used  # reset on every call, as ttnn-jit


def test_fallback_on_a_trace_failure(device):
    @ttnn_jit.jit(fallback=True)
    def branchy(x):
        if ttnn.to_torch(x).sum() > 0:  # data-dependent Python: capture cannot trace it, eager can run it
            return ttnn.exp(x)
        return ttnn.neg(x)

    x = dev_tensor(device, (32, 32))
    y = branchy(x)
    assert branchy.fallback_used
    assert y.memory_config() == ttnn.DRAM_MEMORY_CONFIG
    with pytest.raises(TraceError):  # without fallback the trace error reaches the caller
        ttnn_jit.jit()(branchy.func)(x)


def test_invalid_arguments_and_no_device(device):
    f = ttnn_jit.jit()(cosh)
    with pytest.raises(ValueError, match="Invalid arguments for function cosh"):
        f(dev_tensor(device, (32, 32)), dev_tensor(device, (32, 32)))
    with pytest.raises(SpecError, match="Device is required"):
        f(ttnn.from_torch(torch.randn(32, 32), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT))


# ------------------------------------------------------------------ tools/run_ttnnjit_suite.py (tt-mlir's tests)
_JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">
<testcase classname="test_eltwise_smoketest" name="test_a[x]" time="0.1"/>
<testcase classname="test_eltwise_smoketest" name="test_a[y]" time="0.1"/>
<testcase classname="test_eltwise_smoketest" name="test_b" time="0.1">
  <skipped type="pytest.xfail" message="failing allclose for some shapes"/></testcase>
<testcase classname="demo.test_cosh" name="test_cosh" time="0.1">
  <failure message="AssertionError: PCC 0.98 below 0.99">trace</failure></testcase>
<testcase classname="test_matmul_smoketest" name="test_m" time="0.1">
  <skipped type="pytest.skip" message="Skipping large matmul for float32"/></testcase>
<testcase classname="" name="test_memory_analyzer" time="0.0">
  <error message="collection failure">Traceback
E   ModuleNotFoundError: No module named 'ttnn_jit._src.memory_analyzer'</error></testcase>
</testsuite></testsuites>"""


def test_suite_runner_tabulates_outcomes_and_counts_uncollected_files(tmp_path):
    from tools.run_ttnnjit_suite import tabulate

    junit = tmp_path / "junit.xml"
    junit.write_text(_JUNIT)
    (tmp_path / "test_memory_analyzer.py").write_text(
        "def test_one():\n    pass\n\n\ndef test_two():\n    pass\n"
    )
    text, bad = tabulate(junit, tmp_path)
    assert bad == 2
    assert "| test_eltwise_smoketest | 2 | 1 | 0 | 0 | 0 |" in text
    assert "| test_cosh | 0 | 0 | 0 | 1 | 0 |" in text
    assert "| **all** | 2 | 1 | 1 | 1 | 1 |" in text
    # the uncollected file counts as its two test functions: 2 passed of 2 + 1 failure + 2 lost
    assert "pass rate: 2 / 5 = 40.0%" in text
    assert "collection of test_memory_analyzer (2 test functions): ModuleNotFoundError" in text
    assert "1 x failed in test_cosh: AssertionError: PCC 0.98 below 0.99" in text


def test_num_entries_of_a_method_counts_compiled_programs_not_objects(device):
    class Scale:
        def __init__(self, w):
            self.w = w

        @ttnn_jit.jit(enable_cache=True)
        def __call__(self, x):
            return ttnn.multiply(ttnn.exp(x), self.w)

    x = dev_tensor(device, (64, 64))
    a, b = Scale(dev_tensor(device, (64, 64))), Scale(dev_tensor(device, (64, 64)))
    ya, yb = a(x), b(x)
    assert not torch.equal(ttnn.to_torch(ya), ttnn.to_torch(yb))  # each layer reads its own weight
    jf = Scale.__dict__["__call__"]
    assert jf.jit_function.trace_count == 1
    assert jf.num_entries == 1  # two layer objects, one compiled program
    Scale(dev_tensor(device, (64, 128)))(dev_tensor(device, (64, 128)))
    assert jf.num_entries == 2
