"""The ttnn API surface real code and tests use, beyond the ops themselves (issue 18 item 3 and truthiness):
`ttnn.types`, `ttnn.operations.*`, golden functions for every op, `pearson_correlation_coefficient`,
`get_device_tensors`, the bitwise ops, and the truth value of a tensor (eager and under jit)."""

from __future__ import annotations

import importlib
import sys
import types

import numpy as np
import pytest
import torch

import ttfuse
from ttfuse import ttnn
from ttfuse.errors import SpecError, TraceError
from ttfuse.opdef import OPS, Group, OpDef, register_op
from ttfuse.testing import pcc


def dev_t(device, data=None, shape=(64, 64), dtype=None, layout=None):
    data = torch.randn(*shape) if data is None else data
    return ttnn.from_torch(
        data, dtype=dtype or ttnn.bfloat16, layout=layout or ttnn.TILE_LAYOUT, device=device
    )


def facade_ops() -> dict[str, OpDef]:
    """Every op `from ttfuse import ttnn` exports, by its ttnn qualname (namespaces walked)."""
    out = {}
    for name in dir(ttnn):
        v = getattr(ttnn, name)
        if isinstance(v, OpDef):
            out[v.qualname] = v
        elif isinstance(v, types.ModuleType) and name in ("transformer", "experimental"):
            out.update({o.qualname: o for o in vars(v).values() if isinstance(o, OpDef)})
    return out


# -------------------------------------------------------------------------------------------- ttnn.types
def test_types_is_a_submodule_with_the_facade_objects():
    assert isinstance(ttnn.types, types.ModuleType)
    for name in ttnn.types.__all__:
        assert getattr(ttnn.types, name) is getattr(ttnn, name), name
    # what tt-boltz and tt-metal read through ttnn.types
    for name in (
        "BlackholeComputeKernelConfig",
        "WormholeComputeKernelConfig",
        "MathFidelity",
        "bfloat16",
        "bfloat8_b",
        "float32",
        "TILE_LAYOUT",
        "ROW_MAJOR_LAYOUT",
        "DRAM_MEMORY_CONFIG",
        "L1_MEMORY_CONFIG",
        "MemoryConfig",
        "CoreGrid",
        "CoreCoord",
        "DataType",
        "Layout",
    ):
        assert name in ttnn.types.__all__, name


def test_compute_config_built_through_types_drives_an_op(device):
    cfg = ttnn.types.BlackholeComputeKernelConfig(
        math_fidelity=ttnn.types.MathFidelity.HiFi4, fp32_dest_acc_en=True, packer_l1_acc=True
    )
    x, w = dev_t(device, shape=(64, 128)), dev_t(device, shape=(128, 64))
    y = ttnn.linear(x, w, compute_kernel_config=cfg, memory_config=ttnn.types.L1_MEMORY_CONFIG)
    assert y.memory_config() == ttnn.types.L1_MEMORY_CONFIG and y.dtype is ttnn.types.bfloat16


# ---------------------------------------------------------------------------------------- ttnn.operations
def test_operations_modules_are_real_modules_holding_the_facade_objects():
    from ttfuse.ttnn.operations import NAMES

    assert isinstance(ttnn.operations, types.ModuleType)
    for mod_name in NAMES:
        mod = getattr(ttnn.operations, mod_name)
        assert isinstance(mod, types.ModuleType), mod_name
        assert importlib.import_module(f"ttfuse.ttnn.operations.{mod_name}") is mod
        for name in mod.__all__:
            assert getattr(mod, name) is getattr(ttnn, name), (mod_name, name)
    # the imports tt-metal's op tests write
    from ttfuse.ttnn.operations.ccl import Topology
    from ttfuse.ttnn.operations.comparison import pearson_correlation_coefficient
    from ttfuse.ttnn.operations.transformer import SDPAProgramConfig

    assert Topology is ttnn.Topology and SDPAProgramConfig is ttnn.SDPAProgramConfig
    assert pearson_correlation_coefficient is ttnn.pearson_correlation_coefficient
    assert ttnn.operations.normalization.LayerNormDefaultProgramConfig is ttnn.LayerNormDefaultProgramConfig
    assert "ttfuse.ttnn.operations.unary" in sys.modules


def test_submodules_import_as_ttnn_once_the_facade_is_mapped(monkeypatch):
    """What `import ttnn` on the simulator does (sys.modules["ttnn"] is the facade, every module attribute registered
    under ttnn.<path>): the import statements of tt-metal's tests and tt-boltz then resolve to the facade."""

    def register(mod, path):
        monkeypatch.setitem(sys.modules, path, mod)
        for name, v in vars(mod).items():
            if (
                isinstance(v, types.ModuleType)
                and v.__name__.startswith("ttfuse.ttnn.")
                and not name.startswith("_")
            ):
                register(v, f"{path}.{name}")

    monkeypatch.delitem(sys.modules, "ttnn", raising=False)
    register(ttnn, "ttnn")
    ccl = importlib.import_module("ttnn.operations.ccl")
    tt_types = importlib.import_module("ttnn.types")
    assert (
        ccl.Topology is ttnn.Topology
        and tt_types.BlackholeComputeKernelConfig is ttnn.BlackholeComputeKernelConfig
    )
    ns: dict = {}
    exec("from ttnn.operations.transformer import SDPAProgramConfig\nimport ttnn.operations.unary", ns)
    assert ns["SDPAProgramConfig"] is ttnn.SDPAProgramConfig and ns["ttnn"] is ttnn


# ---------------------------------------------------------------------------------------------- goldens
def test_every_exported_op_has_a_golden_function():
    ops = facade_ops()
    assert len(ops) >= 130
    missing = [q for q, op in ops.items() if op.golden_function is None]
    assert not missing, f"ops without a golden function: {missing}"
    for op in ops.values():
        assert ttnn.get_golden_function(op) is op.golden_function


def test_get_golden_function_of_a_late_op_and_of_a_non_op():
    @register_op("_test_no_golden", Group.ELTWISE_UNARY)
    def _no_golden(input_tensor):
        """test op"""

    try:
        assert _no_golden.golden_function is None  # registered after the facade attached goldens
        assert ttnn.get_golden_function(_no_golden) is _no_golden.golden_function  # made on first lookup
        assert ttnn.get_golden_function(_no_golden) is not None
        with pytest.raises(RuntimeError, match="does not have a golden function"):
            ttnn.get_golden_function(object())
        ttnn.attach_golden_function(_no_golden, golden_function=lambda x: x + 1)
        assert ttnn.get_golden_function(_no_golden)(torch.zeros(2)).tolist() == [1.0, 1.0]
    finally:
        OPS.pop("_test_no_golden")


def _sample_cases(device):
    a, b = torch.randn(64, 128), torch.randn(64, 128)
    w, bias = torch.randn(128, 96), torch.randn(96)
    q, k, v = (torch.randn(1, 2, 64, 32) for _ in range(3))
    gamma = torch.rand(128) + 0.5
    return [
        ("add", (a, b), {}),
        ("multiply", (a, 0.5), {}),
        ("exp", (a,), {}),
        ("gelu", (a,), {}),
        ("silu", (a,), {}),
        ("softmax", (a,), {"dim": -1}),
        ("layer_norm", (a,), {"weight": gamma, "epsilon": 1e-5}),
        ("rms_norm", (a,), {"weight": gamma, "epsilon": 1e-5}),
        ("linear", (a, w), {"bias": bias, "activation": "relu"}),
        ("matmul", (a, w), {}),
        ("sum", (a,), {"dim": -1, "keepdim": True}),
        ("mean", (a,), {"dim": 0, "keepdim": True}),
        ("permute", (a, (1, 0)), {}),
        ("concat", ([a, b],), {"dim": 1}),
        ("where", (torch.randint(0, 2, (64, 128)).float(), a, b), {}),
        ("transformer.scaled_dot_product_attention", (q, k, v), {"is_causal": True}),
    ]


def _to_dev(device, v):
    if isinstance(v, torch.Tensor):
        return dev_t(device, data=v)
    if isinstance(v, list):
        return [_to_dev(device, x) for x in v]
    return v


def test_goldens_match_the_facade_eagerly(device):
    for name, args, kwargs in _sample_cases(device):
        op = OPS[name]
        want = op.golden_function(*args, **kwargs, memory_config=ttnn.DRAM_MEMORY_CONFIG, device=device)
        assert isinstance(want, torch.Tensor) and want.dtype == torch.float32, name
        dev_kwargs = {k: _to_dev(device, x) for k, x in kwargs.items()}
        got = ttnn.to_torch(op(*[_to_dev(device, x) for x in args], **dev_kwargs)).float()
        assert got.shape == want.shape, name
        assert pcc(got, want) >= 0.999, name


_ELTWISE_EXTRA = {"leaky_relu": (0.1,), "clamp": (0.7, 1.2), "clip": (0.7, 1.2)}
_ELTWISE = sorted(
    n
    for n, op in OPS.items()
    if op.group in (Group.ELTWISE_UNARY, Group.ELTWISE_BINARY, Group.REDUCE)
    and not n.startswith("bitwise")
    and op.traits.inplace is None
    and n not in ("argmax", "experimental.fast_reduce_nc")  # no `dim`: fast_reduce_nc's golden is checked in
)  # tests/test_symbiote_ops_extra.py


def test_eltwise_and_reduce_goldens_match_float32_eager(device):
    """Every elementwise and reduction op: golden(torch) vs the facade on float32 tensors (positive inputs, so log,
    sqrt, pow are defined); reductions over the last dim."""
    assert len(_ELTWISE) >= 60
    for name in _ELTWISE:
        op = OPS[name]
        x, y = torch.rand(64, 64) + 0.5, torch.rand(64, 64) + 0.5
        tx, ty = (dev_t(device, data=v, dtype=ttnn.float32) for v in (x, y))
        binary = op.group is Group.ELTWISE_BINARY
        extra, kw = _ELTWISE_EXTRA.get(name, ()), ({"dim": -1} if op.group is Group.REDUCE else {})
        want = op.golden_function(*((x, y) if binary else (x, *extra)), **kw)
        got = ttnn.to_torch(op(*((tx, ty) if binary else (tx, *extra)), **kw)).float()
        assert got.shape == want.shape and pcc(got, want) > 0.9999, name


def test_golden_of_int_collective_and_host_ops():
    x = torch.randint(-100, 100, (32, 32), dtype=torch.int32)
    out = ttnn.get_golden_function(ttnn.bitwise_and)(x, 7)
    assert out.dtype == torch.int32 and torch.equal(out, x & 7)
    parts = [torch.randn(32, 64), torch.randn(32, 64)]
    gathered = ttnn.get_golden_function(ttnn.all_gather)(parts, dim=0)
    assert len(gathered) == 2 and all(torch.equal(g, torch.cat(parts, 0)) for g in gathered)
    reduced = ttnn.get_golden_function(ttnn.all_reduce)(parts)
    assert all(torch.allclose(r, parts[0] + parts[1]) for r in reduced)
    t = torch.randn(4, 4)
    assert ttnn.get_golden_function(ttnn.from_torch)(t, dtype=ttnn.bfloat16) is t
    r = ttnn.get_golden_function(ttnn.rand)((32, 64), low=2.0, high=3.0)  # creation ops need no device here
    assert r.shape == (32, 64) and bool((r >= 2.0).all()) and bool((r < 3.0).all())
    assert ttnn.get_golden_function(ttnn.empty)((2, 3)).shape == (2, 3)
    # ttnn's golden keyword spellings
    assert torch.equal(ttnn.get_golden_function(ttnn.bitwise_and)(input_tensor_a=x, value=6), x & 6)
    assert torch.equal(ttnn.get_golden_function(ttnn.abs)(input_tensor_a=t), t.abs())
    assert ttnn.get_golden_function(ttnn.typecast)(t, output_dtype=ttnn.int32).dtype == torch.int32
    with pytest.raises(SpecError, match="has no tensor parameter 'bias'"):
        ttnn.get_golden_function(ttnn.matmul)(t, t, bias=t)
    with pytest.raises(SpecError, match="golden function"):
        ttnn.get_golden_function(ttnn.matmul)(torch.randn(32, 64), torch.randn(32, 64))


# --------------------------------------------------------------------------------------------- PCC metric
def test_pearson_correlation_coefficient(device):
    a = torch.randn(64, 64)
    b = a + 0.3 * torch.randn(64, 64)
    want = float(np.corrcoef(a.reshape(-1).numpy(), b.reshape(-1).numpy())[0, 1])
    assert ttnn.pearson_correlation_coefficient(a, b) == pytest.approx(want, abs=1e-9)
    assert ttnn.pearson_correlation_coefficient(a, a.clone()) == 1.0
    tt = dev_t(device, data=b, dtype=ttnn.float32)  # a ttnn.Tensor output, as ttnn-jit's tests pass it
    assert ttnn.pearson_correlation_coefficient(a, tt) == pytest.approx(want, abs=1e-6)
    nan = torch.full((4,), float("nan"))
    assert ttnn.pearson_correlation_coefficient(nan, nan) == 1.0
    assert ttnn.pearson_correlation_coefficient(nan, torch.ones(4)) == 0.0
    assert (
        ttnn.pearson_correlation_coefficient(torch.ones(4), torch.ones(4) + 1e-6) == 1.0
    )  # constant: allclose
    assert ttnn.pearson_correlation_coefficient(torch.ones(4), torch.ones(4) * 2) == 0.0
    assert ttnn.pearson_correlation_coefficient(a, -a) == pytest.approx(-1.0)
    with pytest.raises(SpecError, match="'actual' must be a torch.Tensor or a ttnn.Tensor"):
        ttnn.pearson_correlation_coefficient(a, [1, 2])


# ------------------------------------------------------------------------------------- get_device_tensors
def test_get_device_tensors_of_a_mesh_tensor():
    mesh = ttnn.open_mesh_device(ttnn.MeshShape(1, 2))
    try:
        full = torch.randn(2, 32, 64)
        t = ttnn.from_torch(
            full,
            dtype=ttnn.float32,
            layout=ttnn.TILE_LAYOUT,
            device=mesh,
            mesh_mapper=ttnn.ShardTensorToMesh(mesh, 0),
        )
        parts = ttnn.get_device_tensors(t)
        assert len(parts) == 2
        for i, p in enumerate(parts):
            assert p.device().get_num_devices() == 1 and tuple(p.shape) == (1, 32, 64)
            assert torch.equal(ttnn.to_torch(p), full[i : i + 1])
            assert torch.equal(ttnn.to_torch(ttnn.relu(p)), full[i : i + 1].relu())  # usable as an op input
        ttnn.deallocate(parts[0])
        assert t.is_allocated() and torch.equal(ttnn.to_torch(parts[1]), full[1:])
        host_parts = ttnn.get_device_tensors(t.cpu())  # ttnn-jit's mesh tests compare per-device host parts
        assert len(host_parts) == 2
        for i, p in enumerate(host_parts):
            assert p.device() is None and torch.equal(p.cpu().to_torch(), full[i : i + 1])
    finally:
        ttnn.close_mesh_device(mesh)


def test_get_device_tensors_of_a_single_device_tensor(device):
    t = dev_t(device)
    assert ttnn.get_device_tensors(t) == [t]
    with pytest.raises(TraceError, match="ttnn.get_device_tensors on a traced tensor"):
        ttfuse.jit(lambda x: ttnn.get_device_tensors(ttnn.relu(x))[0])(t)
    with pytest.raises(SpecError, match="argument 'tensor' must be a ttnn.Tensor"):
        ttnn.get_device_tensors(torch.zeros(2))


# ------------------------------------------------------------------------------------------------- bitwise
INT_CASES = [
    (ttnn.int32, torch.int32, -(2**31), 2**31 - 1),
    (ttnn.uint32, torch.int64, 0, 2**32 - 1),
    (ttnn.uint16, torch.int64, 0, 2**16 - 1),
]


def bits(t: torch.Tensor, width: int = 32) -> torch.Tensor:
    """The bit pattern (to_torch gives uint32 / uint16 tensors as torch.int32 / int16, wrapped)."""
    return t.to(torch.int64) & ((1 << width) - 1)


@pytest.mark.parametrize("tt_dtype,torch_dtype,lo,hi", INT_CASES, ids=["int32", "uint32", "uint16"])
def test_bitwise_binary_ops(device, tt_dtype, torch_dtype, lo, hi):
    a = torch.randint(lo, hi, (64, 96), dtype=torch.int64).to(torch_dtype)
    b = torch.randint(lo, hi, (64, 96), dtype=torch.int64).to(torch_dtype)
    ta = ttnn.from_torch(a, dtype=tt_dtype, layout=ttnn.TILE_LAYOUT, device=device)
    tb = ttnn.from_torch(b, dtype=tt_dtype, layout=ttnn.TILE_LAYOUT, device=device)
    w = 16 if tt_dtype is ttnn.uint16 else 32
    for name, f in (
        ("bitwise_and", torch.bitwise_and),
        ("bitwise_or", torch.bitwise_or),
        ("bitwise_xor", torch.bitwise_xor),
    ):
        out = getattr(ttnn, name)(ta, tb)
        assert out.dtype is tt_dtype and out.layout is ttnn.TILE_LAYOUT
        assert torch.equal(bits(ttnn.to_torch(out), w), bits(f(a, b), w)), name
        assert torch.equal(bits(ttnn.to_torch(getattr(ttnn, name)(ta, 5)), w), bits(f(a, 5), w))
    rs = ttnn.to_torch(ttnn.bitwise_right_shift(ta, 3))
    assert torch.equal(bits(rs, w), bits(a.to(torch.int64) >> 3, w))  # int32: arithmetic; unsigned: logical


def test_bitwise_not_and_shifts_int32(device):
    a = torch.randint(-(2**31), 2**31 - 1, (32, 32), dtype=torch.int32)
    ta = ttnn.from_torch(a, dtype=ttnn.int32, layout=ttnn.ROW_MAJOR_LAYOUT, device=device)
    assert torch.equal(ttnn.to_torch(ttnn.bitwise_not(ta)), ~a)
    assert torch.equal(ttnn.to_torch(ttnn.bitwise_left_shift(ta, 4)), a << 4)  # wraps to 32 bits
    counts = ttnn.from_torch(torch.full((32, 32), 40, dtype=torch.int32), dtype=ttnn.int32, device=device)
    assert torch.equal(ttnn.to_torch(ttnn.bitwise_right_shift(ta, counts)), torch.zeros_like(a))


def test_bitwise_rules(device):
    f = dev_t(device)
    i32 = ttnn.from_torch(torch.ones(32, 32, dtype=torch.int32), dtype=ttnn.int32, device=device)
    u32 = ttnn.from_torch(torch.ones(32, 32, dtype=torch.int32), dtype=ttnn.uint32, device=device)
    with pytest.raises(
        SpecError, match=r"ttnn.bitwise_and: argument 'input_tensor_a' has dtype bfloat16"
    ) as e:
        ttnn.bitwise_and(f, 3)
    assert "test_ttnn_api.py:" in str(e.value)  # the user line
    with pytest.raises(SpecError, match="operands must have the same dtype"):
        ttnn.bitwise_or(i32, u32)
    with pytest.raises(SpecError, match="'input_tensor_b' must be a ttnn.Tensor or an int"):
        ttnn.bitwise_xor(i32, 1.5)
    with pytest.raises(SpecError, match=r"ttnn.bitwise_not: argument 'input_tensor' has dtype uint32"):
        ttnn.bitwise_not(u32)


def test_bitwise_under_jit(device):
    a = torch.randint(-1000, 1000, (64, 64), dtype=torch.int32)
    b = torch.randint(-1000, 1000, (64, 64), dtype=torch.int32)
    ta, tb = (ttnn.from_torch(x, dtype=ttnn.int32, layout=ttnn.TILE_LAYOUT, device=device) for x in (a, b))

    def f(x, y):
        return ttnn.bitwise_xor(ttnn.bitwise_and(x, y), ttnn.bitwise_left_shift(ttnn.bitwise_not(x), 2))

    got = ttnn.to_torch(ttfuse.jit(f)(ta, tb))
    assert torch.equal(got, (a & b) ^ ((~a) << 2))
    assert torch.equal(got, ttnn.to_torch(f(ta, tb)))


# ---------------------------------------------------------------------------------------------- truthiness
def test_a_tensor_is_true_eagerly(device):
    zero = dev_t(device, data=torch.zeros(1, 1), layout=ttnn.ROW_MAJOR_LAYOUT)
    assert bool(zero) is True and bool(dev_t(device)) is True  # an object: presence, never values


def _masked(x, mask=None):
    if mask:  # tt-boltz's `if mask_unsqueezed:`: is a mask given?
        return ttnn.multiply(x, mask)
    return ttnn.neg(x)


def test_if_tensor_tests_presence_eagerly_and_under_jit(device):
    x = dev_t(device)
    mask = dev_t(device, data=torch.zeros(64, 64))
    jf = ttfuse.jit(_masked)
    for args in ((x,), (x, mask)):
        want = ttnn.to_torch(_masked(*args))
        assert torch.equal(ttnn.to_torch(jf(*args)), want)
    assert torch.equal(ttnn.to_torch(jf(x, mask)), torch.zeros(64, 64))  # the mask branch ran
    assert torch.equal(ttnn.to_torch(jf(x)), -ttnn.to_torch(x))
