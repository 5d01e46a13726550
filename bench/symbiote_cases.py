"""tt-symbiote models with their blocks under @ttfuse.jit, measured three ways (issue 22): shared by
tests/test_symbiote_jit.py and bench/test_symbiote_bench.py.

Cases are tiny random-weight HF models (`MODELS`: ViT encoder, Llama and Qwen2 decoder prefill, head dim 64:
tt-metal's nlp_create_qkv_heads and SDPA take whole-tile head dims; ResNet basic and bottleneck through
tt-symbiote's CNN modules) with tt-symbiote's module mapping. `three_ways` runs one model on a simulated device:
- **eager**: tt-symbiote's own per-module path (each TTNN module converts torch <-> ttnn at its boundary; the HF
  glue between modules runs in torch on the host), measured at its steady state (after one forward: its
  TtConv2d prepares the conv weights on the first call and keeps them);
- **op by op**: `jit_blocks(..., eager=True)`, each block's ttnn graph run op by op (the same work as the JIT);
- **jit**: `jit_blocks(...)`, each block one compiled graph.
Per side: the output, kernel launches per forward (`ttfuse.sim.count_launches`), the PREDICTED device time of
every op the forward ran (`ttfuse.profile` records, each op costed by ttfuse/passes/cost.py on the device it ran on:
kernels + device dispatch; host work and host <-> device transfers are not in it) and the simulator's wall time.
`decode_ways` runs a prefill and greedy decode steps of a decoder the same three ways: eager with HF's host
DynamicCache, op by op and jit with `ttfuse.symbiote.device_kv_cache` (the K/V stay on the device; each decode step
is one graph), per step the same figures.
Set MESH_DEVICE=T3K first so tt-symbiote's T3K-pinned norm modules run on the simulator in its eager run.
"""

from __future__ import annotations

import contextlib
import functools
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
    "resnet",
    "resnet_mapping",
    "tiny_resnet",
    "run",
    "three_ways",
    "median_ms",
    "DECODERS",
    "Decode",
    "decode_ways",
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


def resnet_mapping(adapted_blocks: bool = True):
    """{HF class: tt-symbiote module or adapter} for ResNetForImageClassification; NHWC between stem and pooler.

    tt-symbiote's own ResNet recipe cannot be imported (tt_symbiote/models/resnet/modeling_resnet.py:80 extends
    TTNNModule directly, which its core/module.py:85 rejects), so these are the adapters the recipe would give,
    on the base the error message prescribes (StatelessTTNNModule): the stem (NCHW -> NHWC, conv, max pool) and
    the pooler (mean over H, W, back to NCHW). `adapted_blocks`: the residual blocks become an adapter adding on
    the device (tests/test_symbiote_models.py); otherwise HF's blocks stay, with tt-symbiote's conv modules in
    their `layer` and `shortcut` and HF's `+=` and ReLU on the host (what `jit_blocks`' ResNet recipe takes; HF's
    torch ReLU reads the torch copy the `+=` updated, so the stale ttnn tensor the adapter avoids is never read)."""
    import types

    import ttnn
    from torch import nn
    from transformers.models.resnet.modeling_resnet import (
        ResNetBasicLayer,
        ResNetBottleNeckLayer,
        ResNetConvLayer,
        ResNetEmbeddings,
        ResNetShortCut,
    )
    from tt_symbiote.core.module import StatelessTTNNModule
    from tt_symbiote.modules.ttnn_activation import TTNNReLU
    from tt_symbiote.modules.ttnn_conv import TTNNConv2dBNActivationNHWC, TTNNConv2dBNNHWC, TTNNMaxPool2dNHWC
    from tt_symbiote.modules.ttnn_linear import TTNNLinear
    from tt_symbiote.modules.ttnn_tensor import TTNNPermute

    def conv_bn(layer):  # ResNetConvLayer / ResNetShortCut: conv + BN (+ ReLU), BN folded into the conv
        if isinstance(getattr(layer, "activation", None), nn.ReLU):
            return TTNNConv2dBNActivationNHWC.from_torch(
                layer.convolution, layer.normalization, layer.activation
            )
        return TTNNConv2dBNNHWC.from_torch(layer.convolution, layer.normalization)

    class _Adapter(StatelessTTNNModule):
        children: tuple = ()

        def preprocess_weights_impl(self):
            for name in self.children:
                getattr(self, name).preprocess_weights()
            super().preprocess_weights_impl()

        def move_weights_to_device_impl(self):
            for name in self.children:
                getattr(self, name).move_weights_to_device()
            super().move_weights_to_device_impl()

    class Stem(_Adapter):  # NCHW -> NHWC, conv + BN + ReLU, max pool
        children = ("embedder",)

        @classmethod
        def from_torch(cls, layer):
            new = cls()
            new._fallback_torch_layer = layer
            new.permute, new.embedder = TTNNPermute(), conv_bn(layer.embedder)
            new.pooler = TTNNMaxPool2dNHWC.from_torch(layer.pooler)
            return new

        def forward(self, pixel_values):
            return self.pooler(self.embedder(self.permute(pixel_values, perm=[0, 2, 3, 1])))

    class Block(_Adapter):  # basic (2 convs) or bottleneck (3 convs) residual block, the add on device
        @classmethod
        def from_torch(cls, layer):
            new = cls()
            new._fallback_torch_layer = layer
            new.children = tuple(f"conv{i}" for i in range(len(layer.layer)))
            for name, conv in zip(new.children, layer.layer):
                setattr(new, name, conv_bn(conv))
            if isinstance(layer.shortcut, ResNetShortCut):
                new.shortcut = conv_bn(layer.shortcut)
                new.children += ("shortcut",)
            new.relu = TTNNReLU()
            return new

        def forward(self, hidden):
            residual = self.shortcut(hidden) if "shortcut" in self.children else hidden
            for name in self.children:
                if name != "shortcut":
                    hidden = getattr(self, name)(hidden)
            return self.relu(ttnn.add(hidden, residual))

    class Pool(_Adapter):  # AdaptiveAvgPool2d((1, 1)) on NHWC, back to NCHW for HF's Flatten + Linear head
        @classmethod
        def from_torch(cls, pool):
            new = cls()
            new._fallback_torch_layer = pool
            new.permute = TTNNPermute()
            return new

        def forward(self, hidden):
            return self.permute(ttnn.mean(hidden, dim=[1, 2], keepdim=True), perm=[0, 3, 1, 2])

    convs = types.SimpleNamespace(from_torch=conv_bn)
    mapping = {
        ResNetEmbeddings: Stem,
        ResNetConvLayer: convs,
        nn.AdaptiveAvgPool2d: Pool,
        nn.Linear: TTNNLinear,
    }
    if adapted_blocks:
        return {**mapping, ResNetBasicLayer: Block, ResNetBottleNeckLayer: Block}
    return {**mapping, ResNetShortCut: convs}


def tiny_resnet(layer_type: str, seed: int = 0):
    """A tiny HF ResNet with re-drawn weights: conv weights ~ N(0, 1/fan_in) (redraw_parameters scales by the last
    dim only, which for a conv is KW) and BatchNorm running statistics drawn too, so folding them is tested."""
    from torch import nn
    from transformers import ResNetConfig, ResNetForImageClassification

    from ttfuse.testing import redraw_parameters

    cfg = ResNetConfig(
        num_channels=3,
        embedding_size=16,
        hidden_sizes=[16, 32],
        depths=[1, 1],
        layer_type=layer_type,
        num_labels=10,
    )
    torch.manual_seed(seed)
    model = redraw_parameters(ResNetForImageClassification(cfg), seed=seed)
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.mul_((m.weight.shape[-1] / m.weight[0].numel()) ** 0.5)
            elif isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=g))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=g))
    return model.to(torch.bfloat16)


def resnet(seed: int = 0, layer_type: str = "basic"):
    """A tiny ResNetForImageClassification (tiny_resnet), tt-symbiote's CNN modules with HF's residual blocks kept
    (resnet_mapping(adapted_blocks=False)), inputs and output selector."""
    model = tiny_resnet(layer_type, seed).eval()
    pixels = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(seed + 2)).to(torch.bfloat16)
    return model, resnet_mapping(adapted_blocks=False), {"pixel_values": pixels}, lambda o: o.logits


MODELS: dict[str, tuple[Callable, str]] = {
    "ViT": (vit, "ViTLayer"),
    "Llama prefill": (llama, "LlamaDecoderLayer"),
    "Qwen2 prefill": (qwen2, "Qwen2DecoderLayer"),
    "ResNet basic": (resnet, "ResNetBasicLayer"),
    "ResNet bottleneck": (functools.partial(resnet, layer_type="bottleneck"), "ResNetBottleNeckLayer"),
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
    """tt-symbiote eager (after one forward that is not measured), the block graphs op by op, the block graphs
    jitted (compiled by a first forward that is not measured), on a fresh sim device of `arch`."""
    import ttnn

    import ttfuse.symbiote as S

    make, kind = MODELS[name]
    model, mapping, inputs, out_of = make(seed)
    sym.register_modules(model, mapping)
    device = ttnn.open_device(device_id=0, arch=arch)
    sym.set_device(model, device)
    # eager at its steady state: tt-symbiote's TtConv2d prepares its conv weights on its first call and keeps them
    run(model, inputs, out_of, device)
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


# ------------------------------------------------------------------------------------------ decode steps
DECODERS: dict[str, tuple[Callable, str]] = {
    "Llama decode": (llama, "LlamaDecoderLayer"),
    "Qwen2 decode": (qwen2, "Qwen2DecoderLayer"),
}


@dataclass
class Decode:
    sides: dict[str, list[Side]]  # per way ("eager", "op_by_op", "jit"): the prefill, then each decode step
    tokens: dict[str, list[int]]  # per way: the greedy token after the prefill and after each step
    blocks: Any  # the JitBlocks ledger of the jitted model
    traces: int  # traces the measured JIT generation made (0: every step and layer reused the entries)
    entries: dict[str, int]  # compiled entries this model's two JIT generations added, per function
    again: Callable[[], Any]  # one more JIT generation (a fresh device cache)


def decode_ways(sym, name: str, arch: str, *, steps: int = 3, seed: int = 0, max_len: int = 64) -> Decode:
    """A prefill and `steps` greedy decode steps three ways on a fresh sim device of `arch`: tt-symbiote eager
    (HF's DynamicCache on the host), the block graphs op by op and jitted, both over a device KV cache
    (`ttfuse.symbiote.device_kv_cache`); the JIT's generation is measured after one that compiles it."""
    import ttnn
    from transformers import DynamicCache

    import ttfuse.symbiote as S

    make, kind = DECODERS[name]
    model, mapping, inputs, out_of = make(seed)
    sym.register_modules(model, mapping)
    device = ttnn.open_device(device_id=0, arch=arch)
    sym.set_device(model, device)

    def generate(cache) -> tuple[list[Side], list[int]]:
        sides, tokens, ids = [], [], inputs["input_ids"]
        for _ in range(steps + 1):
            side = run(model, {"input_ids": ids, "past_key_values": cache, "use_cache": True}, out_of, device)
            ids = side.out[:, -1:].argmax(-1)
            sides.append(side)
            tokens.append(int(ids[0, 0]))
        return sides, tokens

    ways = {"eager": generate(DynamicCache(config=model.config))}
    S.jit_blocks(model, [kind], eager=True)
    ways["op_by_op"] = generate(S.device_kv_cache(model, device, max_len))
    blocks = S.jit_blocks(model, [kind])
    fns = blocks.functions
    entries = {k: f.num_entries for k, f in fns.items()}  # (the JitFunctions are shared by every model)
    generate(S.device_kv_cache(model, device, max_len))  # compiles the prefill and decode graphs
    before = sum(f.trace_count for f in fns.values())
    ways["jit"] = generate(S.device_kv_cache(model, device, max_len))
    traces = sum(f.trace_count for f in fns.values()) - before
    entries = {k: f.num_entries - entries[k] for k, f in fns.items()}
    return Decode(
        {k: v[0] for k, v in ways.items()},
        {k: v[1] for k, v in ways.items()},
        blocks,
        traces,
        entries,
        lambda: generate(S.device_kv_cache(model, device, max_len)),
    )
