"""tt-symbiote models with their blocks under @ttfuse.jit, measured three ways (issue 22): shared by
tests/test_symbiote_jit.py and bench/test_symbiote_bench.py.

Cases are tiny random-weight HF models (`MODELS`: ViT encoder, Llama and Qwen2 decoder prefill) with tt-symbiote's module
mapping, head dim 64 (tt-metal's nlp_create_qkv_heads and SDPA take whole-tile head dims). `three_ways` runs one
model on a simulated device:
- **eager**: tt-symbiote's own per-module path (each TTNN module converts torch <-> ttnn at its boundary; the HF
  glue between modules runs in torch on the host);
- **op by op**: `jit_blocks(..., eager=True)`, each block's ttnn graph run op by op (the same work as the JIT);
- **jit**: `jit_blocks(...)`, each block one compiled graph.
Per side: the output, kernel launches per forward (`ttfuse.sim.count_launches`), the PREDICTED device time of
every op the forward ran (`ttfuse.profile` records, each op costed by ttfuse/passes/cost.py on the device it ran on:
kernels + device dispatch; host work and host <-> device transfers are not in it) and the simulator's wall time.
Set MESH_DEVICE=T3K first so tt-symbiote's T3K-pinned norm modules run on the simulator in its eager run.
"""

from __future__ import annotations

import contextlib
import io
import statistics
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

__all__ = [
    "symbiote_installed",
    "MODELS",
    "Side",
    "ThreeWays",
    "llama",
    "qwen2",
    "vit",
    "run",
    "three_ways",
    "median_ms",
]


@contextlib.contextmanager
def symbiote_installed():
    """tt-symbiote imported on ttfuse's simulator (`ttfuse.install()`: its `import ttnn` is the facade), with its
    per-module torch fallback on; the switch is put back after unless it was installed before."""
    import os

    import ttfuse
    from ttfuse import switch

    was = switch.installed()
    os.environ.setdefault("TT_SYMBIOTE_RUN_MODE", "NORMAL_WITH_FALLBACK")
    ttfuse.install(force=True)
    import tt_symbiote

    try:
        yield tt_symbiote
    finally:
        if not was:
            switch.uninstall()


def llama(seed: int = 0, hidden: int = 128, heads: int = 2, kv: int = 1):
    """A tiny LlamaForCausalLM (2 layers, GQA), its tt-symbiote mapping, inputs and output selector."""
    from transformers import LlamaConfig, LlamaForCausalLM
    from transformers.models.llama.modeling_llama import LlamaRMSNorm
    from tt_symbiote.modules.ttnn_linear import TTNNLinear
    from tt_symbiote.modules.ttnn_normalization import TTNNRMSNorm

    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=256,
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=2,
        num_attention_heads=heads,
        num_key_value_heads=kv,
        max_position_embeddings=64,
    )
    model = LlamaForCausalLM(cfg).eval().to(torch.bfloat16)
    mapping = {torch.nn.Linear: TTNNLinear, LlamaRMSNorm: TTNNRMSNorm}
    inputs = {"input_ids": torch.randint(0, 256, (1, 32))}
    return model, mapping, inputs, lambda o: o.logits


def qwen2(seed: int = 0):
    """A tiny Qwen2ForCausalLM (2 layers, GQA, Q/K/V biases), its tt-symbiote mapping, inputs, output selector."""
    from transformers import Qwen2Config, Qwen2ForCausalLM
    from transformers.models.qwen2.modeling_qwen2 import Qwen2RMSNorm
    from tt_symbiote.modules.ttnn_linear import TTNNLinear
    from tt_symbiote.modules.ttnn_normalization import TTNNRMSNorm

    torch.manual_seed(seed)
    cfg = Qwen2Config(
        vocab_size=256,
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=64,
    )
    model = Qwen2ForCausalLM(cfg).eval().to(torch.bfloat16)
    with torch.no_grad():  # HF initialises the biases to zero: draw them, so the run exercises them
        for layer in model.model.layers:
            for proj in (layer.self_attn.q_proj, layer.self_attn.k_proj, layer.self_attn.v_proj):
                proj.bias.normal_(0.0, 0.5)
    mapping = {torch.nn.Linear: TTNNLinear, Qwen2RMSNorm: TTNNRMSNorm}
    inputs = {"input_ids": torch.randint(0, 256, (1, 32))}
    return model, mapping, inputs, lambda o: o.logits


def vit(seed: int = 0):
    """A tiny ViTModel (2 layers, 32x32 image, patch 8), its tt-symbiote mapping, inputs and output selector."""
    from transformers import ViTConfig, ViTModel
    from tt_symbiote.modules.ttnn_linear import TTNNLinear
    from tt_symbiote.modules.ttnn_normalization import TTNNLayerNorm

    torch.manual_seed(seed)
    cfg = ViTConfig(
        hidden_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=256,
        image_size=32,
        patch_size=8,
        num_channels=3,
    )
    model = ViTModel(cfg, add_pooling_layer=False).eval().to(torch.bfloat16)
    mapping = {torch.nn.Linear: TTNNLinear, torch.nn.LayerNorm: TTNNLayerNorm}
    inputs = {"pixel_values": torch.randn(1, 3, 32, 32, dtype=torch.bfloat16)}
    return model, mapping, inputs, lambda o: o.last_hidden_state


MODELS: dict[str, tuple[Callable, str]] = {
    "ViT": (vit, "ViTLayer"),
    "Llama prefill": (llama, "LlamaDecoderLayer"),
    "Qwen2 prefill": (qwen2, "Qwen2DecoderLayer"),
}


@dataclass
class Side:
    out: torch.Tensor
    launches: int
    predicted_us: float  # PREDICTED by the cost model (kernels + device dispatch), not measured
    wall_s: list[float] = field(default_factory=list)  # the simulator's wall time per forward (informational)


def run(model, inputs: dict, out_of: Callable, device: Any, *, timed: int = 0) -> Side:
    """One forward of `model` counted and profiled, then `timed` more forwards timed (tt-symbiote prints a line per
    module call and warns on every torch op of its tensors: kept off the log)."""
    import ttfuse

    prof = ttfuse.profile(csv=False, report=False)
    with torch.no_grad(), contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with ttfuse.sim.count_launches(device) as launches:
            prof.start()
            try:
                out = out_of(model(**inputs))
            finally:
                prof.stop()
        times = []
        for _ in range(timed):
            t0 = time.perf_counter()
            model(**inputs)
            times.append(time.perf_counter() - t0)
    predicted = sum(r.cost().device_us for r in prof.records)
    return Side(torch.as_tensor(out).float(), launches.total, predicted, times)


@dataclass
class ThreeWays:
    sides: dict[str, Side]  # "eager", "op_by_op", "jit"
    blocks: Any  # the JitBlocks ledger of the jitted model
    traces: int  # traces the JIT made (the compiling forward and the measured one)
    forward: Callable[[], Any]  # one more forward of the jitted model


def three_ways(sym, name: str, arch: str, *, timed: int = 0, seed: int = 0) -> ThreeWays:
    """tt-symbiote eager, the block graphs op by op, the block graphs jitted (compiled by a first forward that is
    not measured), on a fresh sim device of `arch`."""
    import ttnn

    import ttfuse.symbiote as S

    make, kind = MODELS[name]
    model, mapping, inputs, out_of = make(seed)
    sym.register_modules(model, mapping)
    device = ttnn.open_device(device_id=0, arch=arch)
    sym.set_device(model, device)
    sides = {"eager": run(model, inputs, out_of, device, timed=timed)}
    S.jit_blocks(model, [kind], eager=True)
    sides["op_by_op"] = run(model, inputs, out_of, device)
    blocks = S.jit_blocks(model, [kind])
    fn = blocks.functions[kind]
    before = fn.trace_count
    run(model, inputs, out_of, device)  # compiles
    sides["jit"] = run(model, inputs, out_of, device, timed=timed)
    return ThreeWays(sides, blocks, fn.trace_count - before, lambda: run(model, inputs, out_of, device))


def median_ms(side: Side) -> float | None:
    return statistics.median(side.wall_s) * 1e3 if side.wall_s else None
