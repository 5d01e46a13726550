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
