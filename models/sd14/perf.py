"""Predicted device time of Stable Diffusion 1.4 at 512x512 on one Wormhole n150, from full-size spec-only captures,
printed next to tt-metal's published measurements of its SD1.4 demo.

    .venv/bin/python -m models.sd14.perf          # the table (a few seconds of capture and passes)

How: diffusers' `UNet2DConditionModel` (SD1.4's config, 860 M parameters) and `AutoencoderKL` (84 M) are built on
torch's meta device; the ports are built from them in spec-only mode (`models/sd14/common.py`: weights are device
tensors with a spec and no storage) and their `forward_ttnn` is captured by `ttfuse.jit(...).lower` from
TensorSpecs: nothing runs and no weight is materialised. Two graphs per part, both costed per call by
`ttfuse.passes.cost.graph_cost` on the target (the conv weight preparation, run once per weight set, left out):
- eager: the ops as written (`passes=[]`), the port run op by op;
- JIT: after ttfuse's pass pipeline.
`ms` is a traced run (kernels + device dispatch per launch); `kernel ms` leaves the dispatch out (tt-metal's
"DEVICE KERNEL" figures). Nothing here is fitted to the published numbers: the ratio is whatever it is.

The UNet runs at batch 2 (classifier-free guidance: the unconditional and the text-conditioned latents in one
call), as tt-metal's demo does (`UNet2D(device, parameters, 2, 64, 64)`, `ttnn.concat([input, input], dim=0)` in
models/demos/wormhole/stable_diffusion/tests/test_perf.py); the VAE decodes one image; an image is
`UNET_CALLS_PER_IMAGE` UNet calls + one VAE decode (text encoder, scheduler and host work not counted).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from ttfuse import ttnn

# diffusers' UNet2DConditionModel defaults are SD1.x's (block_out_channels 320/640/1280/1280, 2 layers per block,
# 8 heads, CrossAttnDown x3 + Down, Up + CrossAttnUp x3); CompVis/stable-diffusion-v1-4's unet/config.json
# differs only in cross_attention_dim (768, CLIP ViT-L/14) and sample_size
SD14_UNET = dict(sample_size=64, cross_attention_dim=768)
SD14_VAE = dict(
    block_out_channels=(128, 256, 512, 512),
    down_block_types=("DownEncoderBlock2D",) * 4,
    up_block_types=("UpDecoderBlock2D",) * 4,
    layers_per_block=2,
    latent_channels=4,
    sample_size=512,
)
LATENT = 64  # 512 / 8
BATCH = 2  # CFG: unconditional + conditional latents in one UNet call
TEXT_LEN = 77  # CLIP tokens
TIME_DIM = 320  # the sinusoidal timestep features (block_out_channels[0])
UNET_CALLS_PER_IMAGE = 51  # tt-metal's test_perf.py: num_model_iterations_per_image (PNDM, 50 steps)
ARCH = "wormhole_b0:n150"
PUBLISHED = Path(__file__).resolve().parents[2] / "bench" / "published_perf.json"


@dataclass
class Part:
    """One captured part's predicted cost per call (eager: ops as written; jit: after the passes)."""

    name: str
    batch: int
    calls: int  # per image
    eager_ms: float = 0.0  # traced: kernels + device dispatch
    jit_ms: float = 0.0
    eager_kernel_ms: float = 0.0  # without the dispatch
    jit_kernel_ms: float = 0.0
    eager_launches: int = 0
    jit_launches: int = 0
    tflop: float = 0.0
    dram_gb: float = 0.0  # JIT graph
    nodes_traced: int = 0
    nodes_jit: int = 0
    lower_s: float = 0.0
    notes: list = field(default_factory=list)


def _spec(shape, dtype=ttnn.bfloat16) -> ttnn.TensorSpec:
    return ttnn.TensorSpec(tuple(shape), dtype, ttnn.TILE_LAYOUT, ttnn.DRAM_MEMORY_CONFIG)


def meta_unet(**overrides):
    """SD1.4's UNet on torch's meta device: shapes only, no storage."""
    import torch
    from diffusers import UNet2DConditionModel as Ref

    with torch.device("meta"):
        return Ref(**{**SD14_UNET, **overrides})


def meta_vae(config: dict | None = None):
    """An AutoencoderKL (SD1.4's unless `config`) on torch's meta device."""
    import torch
    from diffusers import AutoencoderKL as Ref

    with torch.device("meta"):
        return Ref(**(config or SD14_VAE))


def predict_part(
    name: str, port_cls, reference, inputs: tuple, *, calls: int, arch: str = ARCH, **statics
) -> Part:
    """Capture `port_cls(reference).forward_ttnn(*inputs, **statics)` spec-only on a sim device of kind `arch`,
    eagerly (no passes) and through the pass pipeline, and cost one call of each."""
    from models.sd14.common import lower_spec_only, per_call_cost

    part = Part(name, inputs[0].shape[0], calls)
    t0 = time.perf_counter()
    device = ttnn.open_device(device_id=0, arch=arch)
    eager = lower_spec_only(port_cls, reference, device, inputs, passes=[], **statics)
    jit = lower_spec_only(port_cls, reference, device, inputs, passes=None, **statics)
    part.lower_s = time.perf_counter() - t0
    if jit.device_spec.name != arch:
        raise RuntimeError(f"{name}: lowered for {jit.device_spec.name}, asked for {arch}")
    part.nodes_traced, part.nodes_jit = len(eager.graph.nodes), len(jit.graph.nodes)
    ds = jit.device_spec
    for lo, kind in ((eager, "eager"), (jit, "jit")):
        g = per_call_cost(lo)
        setattr(part, f"{kind}_ms", g.device_ms)
        setattr(part, f"{kind}_kernel_ms", g.device_ms - g.total.launches * ds.launch_overhead_us / 1e3)
        setattr(part, f"{kind}_launches", g.total.launches)
        if kind == "jit":
            part.tflop, part.dram_gb = g.total.flops / 1e12, g.total.dram_bytes / 1e9
    return part


def predict_unet(*, arch: str = ARCH, batch: int = BATCH, latent: int = LATENT) -> Part:
    """One SD1.4 UNet call (a denoising step) at `latent` x `latent` latents, `batch` (2: CFG)."""
    from models.sd14.unet import UNet2DConditionModel

    ref = meta_unet()
    inputs = (
        _spec((batch, 1, latent * latent, ref.config.in_channels)),
        _spec((batch, 1, 1, TIME_DIM)),
        _spec((batch, TEXT_LEN, ref.config.cross_attention_dim)),
    )
    return predict_part(
        "UNet step",
        UNet2DConditionModel,
        ref,
        inputs,
        calls=UNET_CALLS_PER_IMAGE,
        arch=arch,
        hw=(latent, latent),
    )


def predict_vae(
    *, config: dict | None = None, latent: int = LATENT, arch: str = ARCH, name: str = "VAE decode"
) -> Part:
    """One AutoencoderKL decode (batch 1) of `latent` x `latent` latents (SD1.4's VAE unless `config`)."""
    from models.sd14.vae import AutoencoderKL

    ref = meta_vae(config)
    inputs = (_spec((1, 1, latent * latent, ref.config.latent_channels)),)
    return predict_part(name, AutoencoderKL, ref, inputs, calls=1, arch=arch, hw=(latent, latent))


# ------------------------------------------------------------------------------------------- published figures
def published(model: str) -> tuple[list[dict], dict]:
    """(points, sources) of bench/published_perf.json for `model` ("sd14", "sd35")."""
    data = json.loads(PUBLISHED.read_text())
    return [p for p in data["points"] if p.get("model") == model], data["sources"]


_MS_PER = {"s": 1e3, "ms": 1.0, "us": 1e-3}


def _ms(p: dict) -> float:
    return p["measured"] * _MS_PER[p["unit"]]


def format_table(parts: list[Part], model: str = "sd14", title: str = "", arch: str = ARCH) -> str:
    """The parts, the image total (calls x per-call time), and the published figure of each part on `arch`."""
    points, sources = published(model)
    points = [p for p in points if p["device"] == arch]
    pub: dict[str, list[dict]] = {}
    for p in points:
        pub.setdefault(p["part"], []).append(p)
    lines = [
        title
        or f"SD1.4 512x512 on one {arch}, UNet batch {BATCH} (CFG); PREDICTED by ttfuse's cost model "
        "(ms per call; kernel = without dispatch) beside tt-metal's published measurements:",
        f"{'part':<18} {'batch':>5} {'calls':>5} {'eager ms':>9} {'JIT ms':>8} {'kernel e/J':>13} "
        f"{'launches e->J':>13} {'TFLOP':>6}  {'published':>10}  {'JIT/pub':>7} {'kernel JIT/pub':>14}",
    ]

    def row(name, batch, calls, e, j, ke, kj, le, lj, tf, key):
        head = f"{name:<18} {batch:>5} {calls:>5} {e:9.1f} {j:8.1f} {ke:6.1f}/{kj:6.1f} {le:6d}->{lj:<6d} {tf:6.2f}  "
        refs = [_ms(p) for p in pub.get(key, [])]
        cmps = [f"{ref:10.1f}  {j / ref:7.2f} {kj / ref:14.2f}" for ref in refs] or [""]
        return "\n".join([head + cmps[0]] + [" " * len(head) + c for c in cmps[1:]])

    tot = dict(e=0.0, j=0.0, ke=0.0, kj=0.0, le=0, lj=0, tf=0.0)
    for q in parts:
        lines.append(
            row(
                q.name, q.batch, q.calls, q.eager_ms, q.jit_ms, q.eager_kernel_ms, q.jit_kernel_ms,
                q.eager_launches, q.jit_launches, q.tflop, q.name,
            )
        )  # fmt: skip
        for k, v in zip(tot, (q.eager_ms, q.jit_ms, q.eager_kernel_ms, q.jit_kernel_ms, q.eager_launches,
                             q.jit_launches, q.tflop)):  # fmt: skip
            tot[k] += q.calls * v
    calls = " + ".join(f"{q.calls} x {q.name}" for q in parts)
    lines.append(row("image", "", "", *tot.values(), "image") + f"   (= {calls})")
    for q in parts:
        lines.append(
            f"  {q.name}: graph {q.nodes_traced} nodes traced -> {q.nodes_jit} after the passes; JIT DRAM "
            f"{q.dram_gb:.2f} GB per call; captured spec-only in {q.lower_s:.1f} s"
            + "".join(f"; {n}" for n in q.notes)
        )
    lines.append("Published (measured on hardware, each with its source in bench/published_perf.json):")
    for p in points:
        lines.append(f"  {p['part']}: {p['measured']} {p['unit']}: {p['what']}")
        lines.append(f"    {p.get('note', '')}; {sources[p['source']]['url']}")
    return "\n".join(lines)


def predict_all(arch: str = ARCH) -> list[Part]:
    return [predict_unet(arch=arch), predict_vae(arch=arch)]


_CACHED: dict[str, list[Part]] = {}


def predict_point(p: dict) -> float:
    """tools/costcheck.py's prediction of a published sd14 point (its `part`, in its unit): the JIT graph's
    per-call time (`kernel_only`: without the dispatch); "image": the calls of every part."""
    parts = _CACHED.get(p["device"])
    if parts is None:
        parts = _CACHED[p["device"]] = predict_all(p["device"])
    chosen = parts if p["part"] == "image" else [q for q in parts if q.name == p["part"]]
    if not chosen:
        raise ValueError(f"point {p['id']!r}: no sd14 part {p['part']!r}")
    ms = sum(
        (q.calls if p["part"] == "image" else 1) * (q.jit_kernel_ms if p.get("kernel_only") else q.jit_ms)
        for q in chosen
    )
    return ms / _MS_PER[p["unit"]]


if __name__ == "__main__":
    for kind in (ARCH, "blackhole:p150:13x10"):
        print(format_table(predict_all(kind), arch=kind) + "\n")
