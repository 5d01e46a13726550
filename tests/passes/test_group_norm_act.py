"""kernels.group_norm_act (ttfuse/kernels/group_norm_act.py): against its ttnn rule (the stock add / group_norm /
unary composite run on the simulator) and a float64 torch golden; the rounding bound of the fused form; spec, launch
count and errors that name the kernel and the argument."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from ttfuse import ttnn
from ttfuse.errors import SpecError
from ttfuse.kernels.common import step_cost
from ttfuse.opdef import OPS
from ttfuse.sim import count_launches

BF16, F32 = ttnn.bfloat16, ttnn.float32
GNA = OPS["kernels.group_norm_act"]
C, G, HW = 64, 32, 64
BF16_EPS = 2.0**-8  # bfloat16 spacing at 1 (8 significand bits)


def _args(device, *, residual=True, gen=0):
    g = torch.Generator().manual_seed(gen)
    x = torch.randn(2, 1, HW, C, generator=g) * 2 + 0.5
    r = torch.randn(2, 1, 1, C, generator=g) if residual else None
    w, b = torch.randn(C, generator=g), torch.randn(C, generator=g)

    def tile(t):
        return ttnn.from_torch(t, dtype=BF16, layout=ttnn.TILE_LAYOUT, device=device)

    def stick(t):
        return ttnn.from_torch(ttnn.create_group_norm_weight_bias_rm(t, C, 1), dtype=BF16, device=device)

    dev = {
        "input_tensor": tile(x),
        "residual": tile(r) if residual else None,
        "weight": stick(w),
        "bias": stick(b),
        "input_mask": ttnn.to_device(ttnn.create_group_norm_input_mask(C, G, 1), device),
    }
    return dev, (x, r, w, b)


def _golden(x, r, w, b, acts):
    """float64 golden of act(group_norm(x + r)) from the bfloat16-stored inputs."""
    s = (x if r is None else x + r).double()
    y = F.group_norm(s.permute(0, 3, 1, 2), G, w.double(), b.double(), eps=1e-5).permute(0, 2, 3, 1)
    for a in acts:
        y = {"silu": F.silu, "relu": F.relu, "sigmoid": torch.sigmoid}[a](y)
    return y


def _stored(dev, x, r, w, b):
    """The inputs as the device stores them (bfloat16), for the golden."""
    q = {k: ttnn.to_torch(v).float() for k, v in dev.items() if v is not None and k != "input_mask"}
    return q["input_tensor"], q.get("residual"), w.bfloat16().float(), b.bfloat16().float()


def _run(op, device, dev, **kw):
    with count_launches(device) as c:
        out = op(dev["input_tensor"], num_groups=G, epsilon=1e-5, **{k: v for k, v in dev.items() if k != "input_tensor"}, **kw)  # fmt: skip
    return ttnn.to_torch(out).float(), c.total


def _composite(device, dev, **kw):
    with count_launches(device) as c:
        out = GNA.ttnn_rule(ttnn, dev["input_tensor"], num_groups=G, epsilon=1e-5, **{k: v for k, v in dev.items() if k != "input_tensor"}, **kw)  # fmt: skip
    return ttnn.to_torch(out).float(), c.total


@pytest.mark.parametrize("residual", [True, False], ids=["with-add", "plain"])
def test_bf16_dst_equals_the_stock_composite(device, residual):
    """Default compute config (bfloat16 DST): the fused kernel rounds exactly where the composite writes out, so
    it equals the stock calls bit for bit, in one launch instead of 2 (3 with the add)."""
    dev, _ = _args(device, residual=residual)
    got, n = _run(GNA, device, dev, activations=["silu"])
    want, n_stock = _composite(device, dev, activations=["silu"])
    assert n == 1 and n_stock == (3 if residual else 2)
    assert torch.equal(got, want)


def test_fp32_dst_saves_two_roundings(device):
    """fp32_dest_acc_en: the sum and the normalised value stay float32 (the composite rounds both to bfloat16).
    Bound: |fused - composite| <= 4 bfloat16 ulps of the output scale, and the fused result is no farther from the
    float64 golden than the composite (both then differ only by the output's own rounding)."""
    ckc = ttnn.WormholeComputeKernelConfig(math_fidelity=ttnn.MathFidelity.HiFi4, fp32_dest_acc_en=True)
    dev, host = _args(device)
    got, _ = _run(GNA, device, dev, activations=["silu"], compute_kernel_config=ckc)
    want, _ = _composite(device, dev, activations=["silu"], compute_kernel_config=ckc)
    gold = _golden(*_stored(dev, *host), ["silu"]).float()
    scale = gold.abs().max()
    assert not torch.equal(got, want)  # the roundings saved are visible
    assert (got - want).abs().max() <= 4 * BF16_EPS * scale
    err_fused, err_stock = (got - gold).abs().max(), (want - gold).abs().max()
    assert err_fused <= err_stock
    assert err_fused <= BF16_EPS * scale  # one rounding of the output left


def test_activation_chain_and_golden(device):
    dev, host = _args(device, gen=3)
    got, n = _run(GNA, device, dev, activations=["relu", "sigmoid"])
    gold = _golden(*_stored(dev, *host), ["relu", "sigmoid"]).float()
    assert n == 1
    # relu then sigmoid: a bfloat16 rounding of the normalised value and of each result (<= 3 half-ulps of 1)
    assert (got - gold).abs().max() <= 2 * BF16_EPS
    want, n_stock = _composite(device, dev, activations=["relu", "sigmoid"])
    assert n_stock == 4 and torch.equal(got, want)


def test_spec_and_cost(device):
    dev, _ = _args(device)
    specs = {k: v.spec for k, v in dev.items() if v is not None}
    out = GNA.spec_rule(num_groups=G, activations=["silu"], epsilon=1e-5, memory_config=ttnn.L1_MEMORY_CONFIG, compute_kernel_config=None, **specs)  # fmt: skip
    assert out.shape == (2, 1, HW, C) and out.dtype == BF16 and out.memory_config == ttnn.L1_MEMORY_CONFIG
    args = {k: v for k, v in specs.items() if k != "input_mask"}
    cost = step_cost("kernels.group_norm_act", specs, out, None, num_groups=G, activations=["silu"], **args)
    # one launch; the group norm's arithmetic, one activation and the add per element; each tensor moved once
    assert cost.launches == 1 and cost.flops == (10 + 4 + 1) * out.numel
    assert cost.dram_bytes == sum(s.nbytes for s in specs.values()) and cost.l1_bytes == out.nbytes


@pytest.mark.parametrize(
    "change, match",
    [
        ({"activations": []}, "at least one activation"),
        ({"activations": ["no_such_act"]}, "unknown activation"),
        ({"num_groups": 7}, "step ttnn.group_norm rejects its inputs.*num_groups"),
        ({"residual": "wide"}, "step ttnn.add rejects its inputs"),
    ],
)
def test_bad_inputs_name_the_kernel(device, change, match):
    dev, _ = _args(device)
    kw = {"num_groups": G, "activations": ["silu"], "epsilon": 1e-5}
    kw.update({k: v for k, v in dev.items() if k != "input_tensor"})
    if change.get("residual") == "wide":
        change = {"residual": ttnn.from_torch(torch.randn(2, 1, 1, 2 * C), dtype=BF16, layout=ttnn.TILE_LAYOUT, device=device)}  # fmt: skip
    kw.update(change)
    with pytest.raises(SpecError, match=f"ttfuse.kernels.group_norm_act: .*{match}"):
        GNA(dev["input_tensor"], **kw)
