"""Seconds per 1024x1024 SD3.5-Large image from the full-size graph captured with TensorSpecs only (issue 7),
printed next to TT-DiT's published figures. Nothing is fitted: the assertions check the graph's work against
the analytical FLOP count (sd35.md section 7), not the prediction against the published times."""

import pytest

import ttfuse
from models.sd35.perf import SYSTEMS, format_table, predict

FORWARD_TFLOP = 31.12  # one SD3.5-Large forward at batch 1, 1024x1024, L = 333 (sd35.md section 7)


@pytest.mark.parametrize("system", list(SYSTEMS))
def test_full_size_prediction(system, pcc_report):
    shape, tup, links, published = SYSTEMS[system]
    p = predict(system)
    (_, _), (sp, _), (tp, _) = tup
    # one device's share of one forward: at least 1/(sp*tp) of the work; the replicated prompt stream and the
    # prompt rows every sp device computes add a little (more with more sp devices)
    ideal = FORWARD_TFLOP / (sp * tp)
    assert ideal * 0.99 <= p.tflop_per_device <= ideal * 1.35
    assert p.link_gb_per_device > 0 and p.nodes_traced > 2000 and p.links == links
    assert 0 < p.roofline_image_s < 1e3 and 0 < p.image_s < 1e3
    for line in format_table([p]).splitlines()[2:]:
        pcc_report("prediction", line.strip())
    pcc_report(
        f"{system} predicted s/image (ttfuse.passes.cost, traced) vs published",
        f"{p.image_s:.2f} s vs {published} s ({p.image_s / published:.2f}x; roofline {p.roofline_image_s:.2f} s)",
    )
    print("\n" + format_table([p]))


def test_full_size_capture_materialises_no_weights():
    from models.sd35.perf import LATENT, PROMPT_LEN, meta_model
    from models.sd35.transformer import SD3Transformer
    from ttfuse import ttnn

    mesh = ttnn.open_mesh_device(ttnn.MeshShape(2, 4))
    cfg = ttfuse.sim.memory_report(mesh)
    from models.sd35 import DiTParallelConfig

    parts = SD3Transformer.lower_full_size(
        meta_model(num_layers=2),
        mesh,
        DiTParallelConfig.from_tuple(((2, 1), (2, 0), (2, 1))),
        height=LATENT,
        width=LATENT,
        prompt_len=PROMPT_LEN,
        passes=[],
        whole=True,
    )
    ((name, lo, count),) = parts
    assert name == "forward" and count == 1
    ops = {n.op for n in lo.graph.nodes}
    assert {"kernels.ring_joint_attention", "all_gather", "reduce_scatter", "linear"} <= ops
    assert cfg.peak_dram_bytes < 1 << 20  # the timestep and nothing else: 8 B parameters never touched DRAM


# torch.utils.flop_counter.FlopCounterMode over diffusers' AutoencoderKL(SD3.5 Large).decode of [1, 16, 128, 128]
# on the meta device (matmuls, convs, SDPA)
TORCH_VAE_TFLOP = 10.4722


def test_vae_full_size_capture_is_spec_only(pcc_report):
    """SD3.5 Large's VAE decoder at 1024x1024 (128x128 latents) captured from TensorSpecs: no weight materialised,
    the graph's work as torch counts it, every conv and the mid-block attention present."""
    from collections import Counter

    from models.sd14.common import lower_spec_only, per_call_cost
    from models.sd35.perf import LATENT
    from models.sd35.vae import AutoencoderKL, meta_vae
    from ttfuse import ttnn

    device = ttnn.open_device(device_id=0, arch="wormhole_b0:n150")
    mem = ttfuse.sim.memory_report(device)
    z = ttnn.TensorSpec((1, 1, LATENT * LATENT, 16), ttnn.bfloat16, ttnn.TILE_LAYOUT, ttnn.DRAM_MEMORY_CONFIG)
    lo = lower_spec_only(AutoencoderKL, meta_vae(), device, (z,), passes=[], hw=(LATENT, LATENT))
    ops = Counter(n.op for n in lo.graph.nodes)
    # conv_in, mid 2 resnets x 2, 4 up blocks x 3 resnets x 2, 3 upsamplers, conv_out; linears: the attention's
    # q|k|v and out, the 1x1 shortcuts 512 -> 256 and 256 -> 128 (no post_quant_conv)
    assert ops["conv2d"] == 33 and ops["transformer.scaled_dot_product_attention"] == 1 and ops["linear"] == 4
    assert lo.graph.spec_of(lo.graph.outputs[0]).shape == (1, 1, 1024 * 1024, 3)
    g = per_call_cost(lo)
    assert abs(g.total.flops / 1e12 / TORCH_VAE_TFLOP - 1) < 0.02
    assert mem.peak_dram_bytes < 8 << 20  # 84 M parameters never touched DRAM
    pcc_report("SD3.5 VAE 1024x1024 eager predicted ms (n150, traced)", f"{g.device_ms:.1f}")
