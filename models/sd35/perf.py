"""Seconds per 1024x1024 SD3.5-Large image predicted from the captured full-size graph (no weights materialised).

    rows = predict_all()           # QuietBox (2x4 Wormhole, cfg2 sp2 tp2) and Galaxy (4x8, cfg2 sp4 tp4)
    print(format_table(rows))

How: the diffusers model is built on torch's meta device (8.06 B parameters, no storage); `SD3Transformer.
lower_full_size` traces one cfg branch's forward (38 blocks) from TensorSpecs on a simulated submesh and runs
the ttfuse pass pipeline; the cost rules give per-node FLOPs, DRAM bytes, link bytes and launches on one device
of the branch. The cfg branches run concurrently on their submeshes, so an image costs
`steps x time(one branch forward)` (+ the host CFG combine and the scheduler update, not counted).

Times, two models, neither fitted to the published numbers:
- `ttfuse.passes.cost.graph_cost` (the per-arch device-time model: matrix-engine tiles per core with a
  measured per-tile overhead, DRAM / L1 bandwidth, ethernet links, device dispatch per launch; traced run).
  The primary prediction.
- a plain roofline for comparison: per node max(matmul_flops / peak at its fidelity, dram_bytes / dram_gbps),
  collectives' link_bytes / (eth_link_gbps x num_links) added, the ring attention's links overlapped step by
  step (`ring_time_s`); no dispatch.
Published (sd35.md section 8): QuietBox 12.2 s, Galaxy 5.9 s per image (full pipeline: text encoders and VAE
included; 28 steps per the older README's reproduction commands).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ttfuse import ttnn

SD35_LARGE = dict(
    sample_size=128,
    patch_size=2,
    in_channels=16,
    num_layers=38,
    attention_head_dim=64,
    num_attention_heads=38,
    joint_attention_dim=4096,
    caption_projection_dim=2432,
    pooled_projection_dim=2048,
    out_channels=16,
    pos_embed_max_size=192,
    qk_norm="rms_norm",
)
STEPS = 28
PROMPT_LEN = 333  # 77 CLIP + 256 T5 tokens
LATENT = 128  # 1024 / VAE factor 8

SYSTEMS = {
    # name: (mesh shape, ((cfg, axis), (sp, axis), (tp, axis)), ethernet links per collective, published s/image)
    "QuietBox (8x Wormhole, 2x4)": ((2, 4), ((2, 1), (2, 0), (2, 1)), 1, 12.2),
    "Galaxy (32x Wormhole, 4x8)": ((4, 8), ((2, 1), (4, 0), (4, 1)), 4, 5.9),
}


@dataclass
class Prediction:
    system: str
    parallel: tuple
    published_s: float
    links: int = 1
    whole: bool = False
    nodes_traced: int = 0
    nodes_after_passes: int = 0
    passes: str = ""
    tflop_per_device: float = 0.0  # one forward of one cfg branch, per device
    dram_gb_per_device: float = 0.0
    link_gb_per_device: float = 0.0
    launches: int = 0
    model_s: float = 0.0  # per forward, ttfuse.passes.cost (traced)
    untraced_s: float = 0.0  # per forward, ttfuse.passes.cost without a trace
    compute_s: float = 0.0  # roofline parts, per forward
    dram_s: float = 0.0
    link_s: float = 0.0
    roofline_s: float = 0.0
    lower_s: float = 0.0
    notes: list = field(default_factory=list)

    @property
    def image_s(self) -> float:
        """Predicted seconds per image (ttfuse.passes.cost, traced)."""
        return STEPS * self.model_s

    @property
    def roofline_image_s(self) -> float:
        return STEPS * self.roofline_s


def meta_model(**overrides):
    """SD3.5 Large on torch's meta device: shapes only, no storage."""
    import torch
    from diffusers import SD3Transformer2DModel

    with torch.device("meta"):
        return SD3Transformer2DModel(**{**SD35_LARGE, **overrides})


def _lower(model, mesh, config, whole: bool):
    """Lower with the full pass pipeline; if a pass fails, retry without it (and say so)."""
    from models.sd35.transformer import SD3Transformer
    from ttfuse.errors import PassError

    disabled: list[str] = []
    while True:
        try:
            parts = SD3Transformer.lower_full_size(
                model,
                mesh,
                config,
                height=LATENT,
                width=LATENT,
                prompt_len=PROMPT_LEN,
                passes=["-" + n for n in disabled] or None,
                whole=whole,
            )
            return parts, disabled
        except PassError as e:
            name = str(e).split("'")[1] if "'" in str(e) else None
            if name is None or name in disabled or len(disabled) > 3:
                raise
            disabled.append(name)


def _costs(lo, device_spec, mesh_shape):
    """(ttfuse.passes.cost GraphCost, per-node OpCosts) of a lowered graph with the target mesh set: the
    collectives' cost rules read the mesh shape (Lowered.cost is computed outside it: no link bytes there)."""
    from ttfuse.opdef import set_device_spec
    from ttfuse.passes.cost import graph_cost, op_cost

    prev = set_device_spec(device_spec, mesh_shape)
    try:
        index = lo.graph.node_index()
        ops = [op_cost(lo.graph, n, index, device_spec) for n in lo.graph.nodes]
        return graph_cost(lo.graph, device_spec), ops
    finally:
        set_device_spec(prev, (1, 1))


def predict(system: str, *, whole: bool = False) -> Prediction:
    """Lower one cfg branch of SD3.5 Large at 1024x1024 for `system` and predict seconds per image.

    whole=False lowers the distinct parts (embed, one non-last block x 37, the last block, final): the same
    graph in pieces (`SD3Transformer.lower_full_size`), far cheaper through the passes."""
    from models.sd35.parallel import DiTParallelConfig
    from ttfuse.kernels.ring_attention import ring_time_s

    shape, tup, links, published = SYSTEMS[system]
    config = DiTParallelConfig.from_tuple(tup, num_links=links)
    mesh = ttnn.open_mesh_device(ttnn.MeshShape(*shape))
    pred = Prediction(system, tup, published, links=links, whole=whole)
    t0 = time.perf_counter()
    parts, disabled = _lower(meta_model(), mesh, config, whole)
    pred.lower_s = time.perf_counter() - t0
    if disabled:
        pred.notes.append(f"pass(es) {disabled} failed on this graph and were skipped")
    pred.passes = ",".join(r.name for r in parts[0][1].passes if not r.skipped)
    sub = config.submesh_shape(shape)
    ds = mesh.spec
    link_bw = ds.eth_link_gbps * 1e9 * links
    dram_bw = ds.dram_gbps * 1e9
    for _name, lo, count in parts:
        before = len(lo.graph_before.nodes) if lo.graph_before is not None else 0
        pred.nodes_traced += count * before
        pred.nodes_after_passes += count * len(lo.graph.nodes)
        gc, costs = _costs(lo, ds, sub)
        pred.model_s += count * gc.device_ms / 1e3
        pred.untraced_s += count * gc.untraced_ms / 1e3
        for n, c in zip(lo.graph.nodes, costs):
            pred.tflop_per_device += count * c.flops / 1e12
            pred.dram_gb_per_device += count * c.dram_bytes / 1e9
            pred.link_gb_per_device += count * c.link_bytes / 1e9
            pred.launches += count * c.launches
            t_dram = c.dram_bytes / dram_bw
            if n.op == "kernels.ring_joint_attention":
                t_mm, t_link = ring_time_s(c, ds), 0.0  # links overlapped step by step
            else:
                t_mm = c.matmul_flops / (ds.matmul_tflops(c.fidelity) * 1e12) if c.matmul_flops else 0.0
                t_link = c.link_bytes / link_bw
            pred.compute_s += count * t_mm
            pred.dram_s += count * t_dram
            pred.link_s += count * t_link
            pred.roofline_s += count * (max(t_mm, t_dram) + t_link)
    return pred


def predict_all(*, whole: bool = False) -> list[Prediction]:
    return [predict(s, whole=whole) for s in SYSTEMS]


def format_table(rows: list[Prediction]) -> str:
    lines = [
        f"SD3.5 Large, 1024x1024, {STEPS} steps, CFG (branches concurrent); work per device of one branch's forward:",
        f"{'system':<28} {'cfg/sp/tp':<9} {'TFLOP':>6} {'DRAM GB':>8} {'link GB':>8} {'launch':>6} "
        f"{'cost s/img':>10} {'untraced':>8} {'roofline':>8} {'published':>9} {'cost/pub':>8}",
    ]
    for p in rows:
        par = "/".join(str(f) for f, _ in p.parallel)
        lines.append(
            f"{p.system:<28} {par:<9} {p.tflop_per_device:6.2f} {p.dram_gb_per_device:8.2f} "
            f"{p.link_gb_per_device:8.3f} {p.launches:6d} {p.image_s:10.2f} {STEPS * p.untraced_s:8.2f} "
            f"{p.roofline_image_s:8.2f} {p.published_s:9.1f} {p.image_s / p.published_s:8.2f}"
        )
    for p in rows:
        lines.append(
            f"  {p.system}: graph {p.nodes_traced} -> {p.nodes_after_passes} nodes after [{p.passes}] "
            f"({'one graph' if p.whole else 'lowered per distinct part'}, {p.lower_s:.1f} s), {p.links} link(s); "
            f"roofline per forward: matrix {p.compute_s:.4f} s, DRAM {p.dram_s:.4f} s, links {p.link_s:.4f} s"
            + "".join(f"; {n}" for n in p.notes)
        )
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------- the whole image
def predict_vae(*, arch: str = "wormhole_b0:n150"):
    """SD3.5 Large's VAE decode of one 1024x1024 image (128x128 latents) on one Wormhole chip, captured spec-only
    (models/sd35/vae.py on the SD1.4 port's blocks; `models.sd14.perf.Part`: eager and JIT ms per decode)."""
    from models.sd14.perf import predict_vae as predict_decode
    from models.sd35.vae import SD35_VAE

    return predict_decode(config=SD35_VAE, latent=LATENT, arch=arch, name="SD3.5 VAE decode")


def published_image_s() -> dict[str, tuple[float, str]]:
    """system -> (TT-DiT's published seconds per image, source url) from bench/published_perf.json."""
    from models.sd14.perf import published

    points, sources = published("sd35")
    return {p["system"]: (p["measured"], sources[p["source"]]["url"]) for p in points}


def format_image_table(rows: list[Prediction], vae) -> str:
    """Per system: the transformer's steps (cfg branches concurrent) + one VAE decode, beside TT-DiT's published
    seconds per image. The VAE runs on one chip here (TT-DiT runs it tensor-parallel on a cfg submesh)."""
    pub = published_image_s()
    vae_s = vae.jit_ms / 1e3
    lines = [
        f"SD3.5 Large 1024x1024 image = {STEPS} transformer steps + VAE decode; PREDICTED (ttfuse cost model, "
        "traced) beside TT-DiT's published s/image (text encoders and host not predicted):",
        f"{'system':<28} {'transformer s':>13} {'VAE s':>6} {'image s':>8} {'published':>9} {'image/pub':>9}",
    ]
    for p in rows:
        published, _ = pub.get(p.system, (p.published_s, ""))
        image = p.image_s + vae_s
        lines.append(
            f"{p.system:<28} {p.image_s:13.2f} {vae_s:6.3f} {image:8.2f} {published:9.1f} {image / published:9.2f}"
        )
    lines.append(
        f"  VAE decode on one Wormhole n150 chip: eager {vae.eager_ms:.1f} ms, JIT {vae.jit_ms:.1f} ms "
        f"({vae.tflop:.2f} TFLOP, JIT DRAM {vae.dram_gb:.1f} GB; {vae.nodes_traced} nodes, captured spec-only in "
        f"{vae.lower_s:.1f} s)"
    )
    for p in rows:
        if p.system in pub:
            lines.append(f"  published {p.system}: {pub[p.system][1]}")
    return "\n".join(lines)


if __name__ == "__main__":
    rows = predict_all()
    print(format_table(rows))
    print(format_image_table(rows, predict_vae()))
