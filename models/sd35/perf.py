"""Seconds per 1024x1024 SD3.5-Large image predicted from the captured full-size graph (no weights materialised).

    rows = predict_all()           # QuietBox (2x4 Wormhole, cfg2 sp2 tp2) and Galaxy (4x8, cfg2 sp4 tp4)
    print(format_table(rows))

How: the diffusers model is built on torch's meta device (8.06 B parameters, no storage); `SD3Transformer.
lower_full_size` traces one cfg branch's whole forward (38 blocks) from TensorSpecs on a simulated submesh and
runs the ttfuse pass pipeline; the cost rules give per-node FLOPs, DRAM bytes, link bytes and launches of one
device of the branch. The branches run concurrently on their submeshes, so an image costs
`steps x time(one branch forward)` (+ the host CFG combine, not counted).

Time model: `ttfuse.passes.cost` (the per-arch device-time model) when it exists and can time a graph; until then
the explicit roofline below, with NO parameter fitted to the published numbers:
- matmul-engine work at the DeviceSpec peak for the node's math fidelity, other ops DRAM-bound: per node
  max(matmul_flops / peak, dram_bytes / dram_gbps);
- collectives: link_bytes / (eth_link_gbps x num_links), not overlapped with compute;
- the ring attention kernel: per ring step max(compute, K/V transfer) (`ring_time_s`), and its DRAM time;
- dispatch: launches x DeviceSpec.launch_overhead_us reported separately (TT-DiT runs traced, which removes
  most host dispatch; device-side op overheads remain).
Published (sd35.md section 8): QuietBox 12.2 s, Galaxy 5.9 s per image (full pipeline: text encoders + VAE
included, 28 steps per the older README's reproduction commands).
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
    nodes_traced: int = 0
    nodes_after_passes: int = 0
    passes: str = ""
    tflop_per_device: float = 0.0  # one forward of one cfg branch, per device
    dram_gb_per_device: float = 0.0
    link_gb_per_device: float = 0.0
    launches: int = 0
    compute_s: float = 0.0  # per forward
    dram_s: float = 0.0
    link_s: float = 0.0
    roofline_s: float = 0.0  # per forward: sum over nodes of the bound
    dispatch_s: float = 0.0  # per forward
    model: str = "roofline (ttfuse.passes.cost not available)"
    model_s: float | None = None  # per forward, from ttfuse.passes.cost when it can time a graph
    whole: bool = False
    lower_s: float = 0.0
    notes: list = field(default_factory=list)

    @property
    def image_s(self) -> float:
        return STEPS * (self.model_s if self.model_s is not None else self.roofline_s)

    @property
    def image_s_with_dispatch(self) -> float:
        return STEPS * (self.roofline_s + self.dispatch_s)


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


def _cost_rows(lo, device_spec, mesh_shape):
    """Per-node costs recomputed with the target mesh set (collective cost rules read the mesh shape)."""
    from ttfuse.opdef import set_device_spec
    from ttfuse.passes.pipeline import cost_report

    prev = set_device_spec(device_spec, mesh_shape)
    try:
        return cost_report(lo.graph, device_spec)
    finally:
        set_device_spec(prev, (1, 1))


def _time_with_cost_module(lo, device_spec, mesh_shape):
    """Seconds per forward from ttfuse.passes.cost when that module offers a graph timer, else None."""
    try:
        from ttfuse.passes import cost as cost_mod  # noqa: F401
    except ImportError:
        return None
    for name in ("graph_time_s", "predict_graph_time", "graph_time"):
        fn = getattr(cost_mod, name, None)
        if callable(fn):
            from ttfuse.opdef import set_device_spec

            prev = set_device_spec(device_spec, mesh_shape)
            try:
                res = fn(lo.graph, device_spec)
            finally:
                set_device_spec(prev, (1, 1))
            return float(getattr(res, "total_s", res)), f"ttfuse.passes.cost.{name}"
    return None


def predict(system: str, *, whole: bool = False) -> Prediction:
    """Lower one cfg branch of SD3.5 Large at 1024x1024 for `system` and predict seconds per image.

    whole=False lowers the distinct parts (embed, one non-last block x 37, the last block, final): the same
    graph in pieces (`SD3Transformer.lower_full_size`), ~40x cheaper through the passes."""
    from models.sd35.parallel import DiTParallelConfig
    from ttfuse.kernels.ring_attention import ring_time_s

    shape, tup, links, published = SYSTEMS[system]
    config = DiTParallelConfig.from_tuple(tup)
    mesh = ttnn.open_mesh_device(ttnn.MeshShape(*shape))
    pred = Prediction(system, tup, published)
    t0 = time.perf_counter()
    parts, disabled = _lower(meta_model(), mesh, config, whole)
    pred.lower_s = time.perf_counter() - t0
    if disabled:
        pred.notes.append(f"pass(es) {disabled} failed on this graph and were skipped")
    pred.passes = ",".join(r.name for r in parts[0][1].passes if not r.skipped)
    pred.whole = whole
    sub = config.submesh_shape(shape)
    ds = mesh.spec
    link_bw = ds.eth_link_gbps * 1e9 * links
    dram_bw = ds.dram_gbps * 1e9
    timed_total = 0.0
    for _name, lo, count in parts:
        before = len(lo.graph_before.nodes) if lo.graph_before is not None else 0
        pred.nodes_traced += count * before
        pred.nodes_after_passes += count * len(lo.graph.nodes)
        for _nid, op, c in _cost_rows(lo, ds, sub).nodes:
            pred.tflop_per_device += count * c.flops / 1e12
            pred.dram_gb_per_device += count * c.dram_bytes / 1e9
            pred.link_gb_per_device += count * c.link_bytes / 1e9
            pred.launches += count * c.launches
            t_dram = c.dram_bytes / dram_bw
            if op == "kernels.ring_joint_attention":
                c.ring_num_links = links
                t_mm = ring_time_s(c, ds)
                t_link = 0.0  # overlapped inside ring_time_s
            else:
                t_mm = c.matmul_flops / (ds.matmul_tflops(c.fidelity) * 1e12) if c.matmul_flops else 0.0
                t_link = c.link_bytes / link_bw
            pred.compute_s += count * t_mm
            pred.dram_s += count * t_dram
            pred.link_s += count * t_link
            pred.roofline_s += count * (max(t_mm, t_dram) + t_link)
        timed = _time_with_cost_module(lo, ds, sub)
        if timed is None:
            timed_total = None
        elif timed_total is not None:
            timed_total += count * timed[0]
            pred.model = timed[1]
    pred.dispatch_s = pred.launches * ds.launch_overhead_us * 1e-6
    if timed_total is not None:
        pred.model_s = timed_total
        pred.notes.append("time from the per-arch cost model; FLOP/byte columns from the cost rules")
    return pred


def predict_all() -> list[Prediction]:
    return [predict(s) for s in SYSTEMS]


def format_table(rows: list[Prediction]) -> str:
    lines = [
        f"SD3.5 Large, 1024x1024, {STEPS} steps, CFG (cfg branches concurrent); per device of one branch:",
        f"{'system':<30} {'cfg/sp/tp':<10} {'TFLOP':>7} {'DRAM GB':>8} {'link GB':>8} {'launch':>7} "
        f"{'mm s':>7} {'dram s':>7} {'link s':>7} {'fwd s':>7} {'pred s/img':>10} {'+dispatch':>9} "
        f"{'published':>9}",
    ]
    for p in rows:
        par = "/".join(str(f) for f, _ in p.parallel)
        lines.append(
            f"{p.system:<30} {par:<10} {p.tflop_per_device:7.2f} {p.dram_gb_per_device:8.2f} "
            f"{p.link_gb_per_device:8.3f} {p.launches:7d} {p.compute_s:7.4f} {p.dram_s:7.4f} {p.link_s:7.4f} "
            f"{p.roofline_s:7.4f} {p.image_s:10.2f} {p.image_s_with_dispatch:9.2f} {p.published_s:9.1f}"
        )
    for p in rows:
        lines.append(
            f"  {p.system}: model = {p.model}; graph {p.nodes_traced} -> {p.nodes_after_passes} nodes after "
            f"passes [{p.passes}] ({'one graph' if p.whole else 'lowered per distinct part'}, {p.lower_s:.1f} s); "
            f"predicted / published = "
            f"{p.image_s / p.published_s:.2f}" + "".join(f"; {n}" for n in p.notes)
        )
    return "\n".join(lines)
