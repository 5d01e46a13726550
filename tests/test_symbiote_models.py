"""tt-symbiote, unmodified, replaces modules of tiny random-weight HF models and runs them on ttfuse's simulator
through the `import ttnn` switch (issue 22): ViT (encoder), Llama (decoder, prefill), Llama / Qwen3 prefill plus
greedy decode steps with the KV cache, and ResNet (tt-symbiote's CNN modules: conv2d with BatchNorm folded,
max_pool2d; see the note above its test), on Wormhole and Blackhole sim devices, PCC >= 0.999 against the bf16 torch
model, with tt-symbiote's own ledger (`tt_symbiote.utils.compatibility.report`) of modules swapped, run on TTNN and
fallen back; and tt-symbiote's paged KV cache (TTNNPagedAttentionKVCache) through prefill and decode.

Expected fallbacks are tt-symbiote's, not the simulator's: TTNNLayerNorm and TTNNRMSNorm are decorated
`@run_on_devices(DeviceArch.T3K)` in tt_symbiote/modules/ttnn_normalization.py, so on a single N150/P150 device
they raise before any ttnn call and tt-symbiote runs the torch layer (NORMAL_WITH_FALLBACK). The test asserts
exactly that: every TTNNLinear runs on the simulator, only norm classes fall back, and the output stays correct.
"""

from __future__ import annotations

import os
import warnings

import pytest
import torch

from bench import symbiote_cases as C
from tests.conftest import pcc
from ttfuse.testing import redraw_parameters

transformers = pytest.importorskip(
    "transformers"
)  # a pinned test dependency (pyproject); missing = not installed


@pytest.fixture(scope="module")
def sym():
    import ttfuse
    from ttfuse import switch

    was = switch.installed()
    os.environ.setdefault("TT_SYMBIOTE_RUN_MODE", "NORMAL_WITH_FALLBACK")
    ttfuse.install(force=True)
    import tt_symbiote

    yield tt_symbiote
    if not was:
        switch.uninstall()


def _run(sym, model, inputs, mapping, arch, out_of):
    """The torch model's output, then tt-symbiote's: swap `mapping`, bind the opened sim device, run."""
    import ttnn
    from tt_symbiote.utils import compatibility

    torch.manual_seed(0)
    with torch.no_grad():
        ref = out_of(model(**inputs)).float()
    compatibility.reset_runtime_observations()
    compatibility.reset_swapped_registry()
    swapped = sym.register_modules(model, mapping)
    dev = ttnn.open_device(device_id=0, arch=arch)
    try:
        assert ttnn.get_arch_name() == arch  # the architecture comes from the opened device
        sym.set_device(model, dev)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with torch.no_grad():
                out = out_of(model(**inputs))
    finally:
        ttnn.close_device(dev)
    _run.messages = [str(w.message) for w in caught]  # tt-symbiote's fallback warnings say why
    return ref, torch.as_tensor(out).float(), swapped, compatibility.report(model)


def _check(ref, out, swapped, report, linears, may_fall_back):
    assert pcc(out, ref) >= 0.999
    observed = report["runtime_observed"]
    assert len(swapped) == report["summary"]["modules_swapped_count"] > 0
    assert observed["successes_by_class"].get("Linear", 0) == linears  # every linear ran on the simulator
    assert set(observed["fallbacks_by_class"]) <= may_fall_back, observed["fallbacks_by_class"]
    return report["summary"]


@pytest.mark.parametrize("arch", ["wormhole_b0", "blackhole"])
def test_tiny_llama_prefill_on_the_simulator(sym, arch):
    from transformers import LlamaConfig, LlamaForCausalLM
    from transformers.models.llama.modeling_llama import LlamaRMSNorm
    from tt_symbiote.modules.ttnn_linear import TTNNLinear
    from tt_symbiote.modules.ttnn_normalization import TTNNRMSNorm

    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=256,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
    )
    model = redraw_parameters(LlamaForCausalLM(cfg), seed=0).to(torch.bfloat16)
    linears = sum(isinstance(m, torch.nn.Linear) for m in model.modules())
    ids = torch.randint(0, 256, (1, 32))
    ref, out, swapped, report = _run(
        sym,
        model,
        {"input_ids": ids},
        {torch.nn.Linear: TTNNLinear, LlamaRMSNorm: TTNNRMSNorm},
        arch,
        lambda o: o.logits,
    )
    summary = _check(ref, out, swapped, report, linears, {"LlamaRMSNorm"})
    assert summary["modules_swapped_count"] == linears + 2 * cfg.num_hidden_layers + 1


@pytest.mark.parametrize("arch", ["wormhole_b0", "blackhole"])
def test_tiny_vit_features_on_the_simulator(sym, arch):
    from transformers import ViTConfig, ViTModel
    from tt_symbiote.modules.ttnn_linear import TTNNLinear
    from tt_symbiote.modules.ttnn_normalization import TTNNLayerNorm

    torch.manual_seed(0)
    cfg = ViTConfig(
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=128,
        image_size=32,
        patch_size=8,
        num_channels=3,
    )
    model = redraw_parameters(ViTModel(cfg, add_pooling_layer=False), seed=0).to(torch.bfloat16)
    linears = sum(isinstance(m, torch.nn.Linear) for m in model.modules())
    pixels = torch.randn(1, 3, 32, 32, dtype=torch.bfloat16)
    ref, out, swapped, report = _run(
        sym,
        model,
        {"pixel_values": pixels},
        {torch.nn.Linear: TTNNLinear, torch.nn.LayerNorm: TTNNLayerNorm},
        arch,
        lambda o: o.last_hidden_state,
    )
    _check(ref, out, swapped, report, linears, {"LayerNorm"})


def _tiny_llama():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=256,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
    )
    return cfg, LlamaForCausalLM(cfg).eval().to(torch.bfloat16)


def _llama_mapping():
    from transformers.models.llama.modeling_llama import LlamaRMSNorm
    from tt_symbiote.modules.ttnn_embedding import TTNNEmbedding
    from tt_symbiote.modules.ttnn_linear import TTNNLinear
    from tt_symbiote.modules.ttnn_normalization import TTNNRMSNorm

    return {torch.nn.Embedding: TTNNEmbedding, torch.nn.Linear: TTNNLinear, LlamaRMSNorm: TTNNRMSNorm}


@pytest.mark.parametrize("arch", ["wormhole_b0", "blackhole"])
def test_with_its_t3k_modules_enabled_llama_runs_on_the_simulator_and_a_rejected_op_falls_back(
    sym, arch, monkeypatch
):
    # MESH_DEVICE=T3K lets tt-symbiote's T3K-pinned norms run (it reads only the variable): they run ttnn.rms_norm
    # with the [32, H] TILE weight. TTNNEmbedding falls back, genuinely: tt-symbiote converts the token ids with
    # its own map (tt_symbiote/core/utils.py: torch.int64 -> ttnn.int32), and ttnn.embedding takes UINT32 or
    # BFLOAT16 ids only (tt-metal embedding_device_operation.cpp "Input must be UINT32 or BFLOAT16"), so the
    # simulator raises a SpecError naming the op, the argument and tt-symbiote's line, and tt-symbiote runs that
    # module in torch and records it. The output stays correct.
    monkeypatch.setenv("MESH_DEVICE", "T3K")
    cfg, model = _tiny_llama()
    linears = sum(isinstance(m, torch.nn.Linear) for m in model.modules())
    ids = torch.randint(0, 256, (1, 32))
    ref, out, swapped, report = _run(
        sym, model, {"input_ids": ids}, _llama_mapping(), arch, lambda o: o.logits
    )
    _check(ref, out, swapped, report, linears, {"Embedding"})
    observed = report["runtime_observed"]
    norms = 2 * cfg.num_hidden_layers + 1
    assert observed["successes_by_class"] == {"Linear": linears, "LlamaRMSNorm": norms}
    assert observed["fallbacks_by_module"] == {"model.embed_tokens": "Embedding"}
    why = [m for m in _run.messages if "model.embed_tokens" in m]
    assert any("ttnn.embedding: argument 'input_tensor' has dtype int32" in m for m in why), why


# ------------------------------------------------------------------------------------------ decode (issue 22)
def _tiny_decoder(family: str):
    """A tiny random-weight Llama or Qwen3 causal LM (re-drawn weights, bf16) and tt-symbiote's mapping for it."""
    from tt_symbiote.modules.ttnn_activation import TTNNSilu
    from tt_symbiote.modules.ttnn_linear import TTNNLinear
    from tt_symbiote.modules.ttnn_normalization import TTNNRMSNorm

    from ttfuse.testing import redraw_parameters

    if family == "llama":
        from transformers import LlamaConfig as Config
        from transformers import LlamaForCausalLM as Model
        from transformers.models.llama.modeling_llama import LlamaAttention as Attention
        from transformers.models.llama.modeling_llama import LlamaRMSNorm as RMSNorm
        from tt_symbiote.modules.ttnn_attention import LlamaAttention as TTNNAttention

        extra = {}
    else:
        from transformers import Qwen3Config as Config
        from transformers import Qwen3ForCausalLM as Model
        from transformers.models.qwen3.modeling_qwen3 import Qwen3RMSNorm as RMSNorm

        Attention = TTNNAttention = None  # tt-symbiote has no attention module for plain Qwen3
        extra = {"head_dim": 16}
    cfg = Config(
        vocab_size=256,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
        **extra,
    )
    torch.manual_seed(0)
    model = redraw_parameters(Model(cfg).to(torch.bfloat16), seed=0)
    # tt-symbiote's own Llama recipe (its tests/test_llama.py): linear, SiLU, RMSNorm and its LlamaAttention
    mapping = {torch.nn.Linear: TTNNLinear, torch.nn.SiLU: TTNNSilu, RMSNorm: TTNNRMSNorm}
    if Attention is not None:
        mapping[Attention] = TTNNAttention
    return cfg, model, mapping


def _greedy(model, ids, steps):
    """Prefill `ids`, then `steps` greedy decode steps with the HF KV cache: (last-position logits per step, tokens)."""
    from transformers import DynamicCache

    logits, tokens = [], []
    with torch.no_grad():
        out = model(input_ids=ids, past_key_values=DynamicCache(), use_cache=True)
        for step in range(steps + 1):
            last = torch.as_tensor(out.logits)[:, -1].float()
            logits.append(last)
            tokens.append(last.argmax(-1, keepdim=True))
            if step < steps:
                out = model(input_ids=tokens[-1], past_key_values=out.past_key_values, use_cache=True)
    return logits, torch.cat(tokens, dim=1)


@pytest.mark.parametrize("family", ["llama", "qwen3"])
@pytest.mark.parametrize("arch", ["wormhole_b0", "blackhole"])
def test_tiny_decoder_prefill_and_greedy_decode_on_the_simulator(sym, arch, family, monkeypatch):
    """Prefill 32 tokens then 3 greedy decode steps with the KV cache: logits PCC >= 0.999 at every step, the
    same tokens. MESH_DEVICE=T3K enables tt-symbiote's T3K-pinned modules (norms, attention). Its LlamaAttention
    falls back at every call, on tt-symbiote 0.1.6's own bug: its set_device makes a TTNN module nested in another
    return a raw ttnn.Tensor (`_bypass_tensor_wrapping`, tt_symbiote/utils/device_management.py), and with grouped
    KV heads LlamaAttention calls `.view` on its q_proj output (ttnn 0.81.1's Tensor has no `view`; with equal
    heads it reads `.ttnn_tensor` off it instead, the same bug). The ledger records the fallback and the output
    stays correct; no paged-cache op is on this path (the HF DynamicCache holds K/V)."""
    import ttnn
    from tt_symbiote.utils import compatibility

    monkeypatch.setenv("MESH_DEVICE", "T3K")
    cfg, model, mapping = _tiny_decoder(family)
    ids = torch.randint(0, cfg.vocab_size, (1, 32), generator=torch.Generator().manual_seed(0))
    steps = 3
    ref_logits, ref_tokens = _greedy(model, ids, steps)
    compatibility.reset_runtime_observations()
    compatibility.reset_swapped_registry()
    swapped = sym.register_modules(model, mapping)
    dev = ttnn.open_device(device_id=0, arch=arch)
    try:
        assert ttnn.get_arch_name() == arch
        sym.set_device(model, dev)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            logits, tokens = _greedy(model, ids, steps)
    finally:
        ttnn.close_device(dev)
    for step, (out, ref) in enumerate(zip(logits, ref_logits)):
        assert pcc(out, ref) >= 0.999, f"step {step}: pcc {pcc(out, ref)}"
    assert torch.equal(tokens, ref_tokens)

    report = compatibility.report(model)
    observed = report["runtime_observed"]
    # the ledger also counts the linears tt-symbiote's attention creates inside itself
    assert report["summary"]["modules_swapped_count"] >= len(swapped) > 0
    layers, calls = cfg.num_hidden_layers, steps + 1
    # per layer: 2 norms, plus q_norm/k_norm for Qwen3; and the final norm
    norms = (2 + 2 * (family == "qwen3")) * layers + 1
    assert observed["successes_by_class"].get("Linear", 0) >= calls * (3 * layers + 1)  # MLPs and lm_head
    assert (
        observed["successes_by_class"].get(f"{'Llama' if family == 'llama' else 'Qwen3'}RMSNorm")
        == calls * norms
    )
    if family == "llama":
        assert observed["fallbacks_by_class"] == {"LlamaAttention": layers}, observed["fallbacks_by_class"]
        why = [str(w.message) for w in caught if "self_attn" in str(w.message)]
        assert any("has no attribute 'view'" in m for m in why), why
    else:
        assert observed["fallbacks_by_class"] == {}, observed["fallbacks_by_class"]
        assert observed["successes_by_class"]["Linear"] == calls * (7 * layers + 1)  # every linear on the sim


@pytest.mark.parametrize("arch", ["wormhole_b0", "blackhole"])
def test_tt_symbiotes_paged_kv_cache_prefill_and_decode_on_the_simulator(sym, arch):
    """tt-symbiote's own TTNNPagedAttentionKVCache (the KV cache of its paged-attention modules) drives
    paged_fill_cache, paged_update_cache and paged SDPA decode: a 64-token prefill then 3 decode steps through a
    shuffled (vLLM-style) page table, attention PCC >= 0.999 against torch at every step."""
    import torch.nn.functional as F
    import ttnn
    from tt_symbiote.modules.ttnn_attention import PagedAttentionConfig, TTNNPagedAttentionKVCache

    nh, nkv, d, bs, prefill, steps = 4, 2, 64, 32, 64, 3
    gen = torch.Generator().manual_seed(0)
    keys = torch.randn(1, nkv, prefill + steps, d, generator=gen).bfloat16().float()
    vals = torch.randn(1, nkv, prefill + steps, d, generator=gen).bfloat16().float()
    queries = torch.randn(steps, nh, d, generator=gen).bfloat16().float()
    dev = ttnn.open_device(device_id=0, arch=arch)
    try:
        cache = TTNNPagedAttentionKVCache(
            num_layers=1,
            num_kv_heads=nkv,
            head_dim=d,
            config=PagedAttentionConfig(block_size=bs, max_num_blocks=8, batch_size=1),
        ).to_device(dev)
        table = torch.tensor([[5, 2, 7, 0, 1, 3, 4, 6]])
        cache.set_vllm_page_table(table)

        def dev_tensor(x, **kw):
            return ttnn.from_torch(x, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=dev, **kw)

        cache.paged_fill_on_device(dev_tensor(keys[:, :, :prefill]), dev_tensor(vals[:, :, :prefill]), 0)
        one_user = ttnn.create_sharded_memory_config(
            (32, d),
            ttnn.CoreGrid(y=1, x=1),
            ttnn.ShardStrategy.HEIGHT,
            use_height_and_width_as_shard_shape=True,
        )
        for step in range(steps):
            pos = prefill + step
            cur = ttnn.from_torch(torch.tensor([pos], dtype=torch.int32), dtype=ttnn.int32, device=dev)
            k_new = keys[:, :, pos].reshape(1, 1, nkv, d)
            v_new = vals[:, :, pos].reshape(1, 1, nkv, d)
            cache.paged_update_on_device(
                dev_tensor(k_new, memory_config=one_user), dev_tensor(v_new, memory_config=one_user), 0, cur
            )
            written = ttnn.to_torch(cache._tt_key_cache[0]).float()[int(table[0, pos // bs]), :, pos % bs]
            assert torch.equal(written, k_new[0, 0])  # the token landed where the page table maps it
            q = dev_tensor(queries[step].reshape(1, 1, nh, d))
            out = ttnn.to_torch(cache.paged_sdpa_decode(q, 0, cur, scale=d**-0.5)).float()
            k = keys[0, :, : pos + 1].repeat_interleave(nh // nkv, 0)
            v = vals[0, :, : pos + 1].repeat_interleave(nh // nkv, 0)
            ref = F.scaled_dot_product_attention(queries[step][:, None], k, v)[:, 0]
            assert pcc(out.reshape(nh, d), ref) >= 0.999, f"step {step}"
    finally:
        ttnn.close_device(dev)
    assert cache.get_seq_length(0) == prefill + steps


# ----------------------------------------------------------------------------------------------------- ResNet
# tt-symbiote's own ResNet recipe cannot be imported: tt_symbiote/models/resnet/modeling_resnet.py:80 declares
# `class TTNNResNetConvLayer(TTNNModule)` and tt_symbiote/core/module.py:85 (`TTNNModule.__init_subclass__`) rejects
# a direct subclass ("extends TTNNModule directly, which is disallowed"), so the package skips the recipe. The test
# applies tt-symbiote's CNN modules (tt_symbiote/modules/ttnn_conv.py: TTNNConv2dBNActivationNHWC and TTNNConv2dBNNHWC
# fold the BatchNorm into the conv and run ttnn.conv2d; TTNNMaxPool2dNHWC runs ttnn.max_pool2d; TTNNReLU, TTNNPermute,
# TTNNLinear) to a tiny HF ResNet with register_modules, through the adapters the recipe would give
# (bench/symbiote_cases.py resnet_mapping, shared with the jitted-block tests), on the base the
# error message prescribes (StatelessTTNNModule). The residual blocks need their adapter: HF's in-place
# `hidden_state += residual` on tt-symbiote's TorchTTNNTensor adds into the cached torch copy (tt_symbiote/core/
# tensor.py __torch_dispatch__, core/run_config.py to_torch) and leaves the wrapped ttnn tensor stale, so the next
# TTNN module would read the value without the residual; the recipe's blocks use ttnn.add, and so do these. (HF's
# blocks with only their convs mapped are right: their torch ReLU reads the torch copy; ttfuse.symbiote's ResNet recipe
# compiles those, tests/test_symbiote_jit.py.)


@pytest.mark.parametrize("layer_type", ["basic", "bottleneck"])
@pytest.mark.parametrize("arch", ["wormhole_b0", "blackhole"])
def test_tiny_resnet_through_its_cnn_modules_on_the_simulator(sym, arch, layer_type, monkeypatch):
    # MESH_DEVICE=T3K also runs tt-symbiote's TTNNReshape (pinned to T3K in ttnn_tensor.py) on the simulator
    monkeypatch.setenv("MESH_DEVICE", "T3K")
    model = C.tiny_resnet(layer_type)
    convs = sum(type(m).__name__ == "Conv2d" for m in model.modules())
    pixels = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(2)).to(torch.bfloat16)
    ref, out, swapped, report = _run(
        sym, model, {"pixel_values": pixels}, C.resnet_mapping(), arch, lambda o: o.logits
    )
    assert out.shape == ref.shape == (1, 10)
    assert pcc(out, ref) >= 0.999
    observed = report["runtime_observed"]
    assert observed["fallbacks_by_class"] == {}, observed["fallbacks_by_module"]
    # stem + one block per stage + pooler + classifier; every conv ran as ttnn.conv2d in one of them
    # tt-symbiote's ledger names each TTNN module by its torch fallback: every conv ran as ttnn.conv2d in a
    # TTNNConv2dBN*NHWC (ledger: NHWCConvBN*Pytorch), the stem's pool as ttnn.max_pool2d, each with its TTNNReshape
    successes = observed["successes_by_class"]
    assert successes["NHWCConvBNActivationPytorch"] + successes["NHWCConvBNPytorch"] == convs
    assert successes["NHWCMaxpoolPytorch"] == 1 and successes["TorchReshape"] == convs + 1
    assert successes["Linear"] == 1 and successes["AdaptiveAvgPool2d"] == 1
    summary = report["summary"]
    assert summary["runtime_fallbacks"] == 0
    assert summary["modules_swapped_count"] == summary["runtime_successes"] == sum(successes.values())
    assert (
        len(swapped) == 5
    )  # what the mapping replaced at the top: stem, one block per stage, pooler, classifier


def test_channel_sliced_conv_matches_torch(sym):
    # tt-symbiote's TtConv2d with ChannelSliceStrategyConfiguration runs one conv2d per input-channel slice with
    # Conv2dL1FullSliceConfig, moves the first slice's output to DRAM and accumulates the rest into it with
    # ttnn.add(..., output_tensor=acc), deallocating each slice's output. It needs conv2d's L1 path to return its
    # sharded L1 output (tt-metal conv2d_L1): a DRAM output made to_memory_config(DRAM) hand back the same tensor,
    # which the deallocate then freed under the accumulator.
    import ttnn
    from tt_symbiote.modules.tt_cnn.builder import (
        ChannelSliceStrategyConfiguration,
        Conv2dConfiguration,
        TtConv2d,
    )

    g = torch.Generator().manual_seed(0)
    w, b = torch.randn(32, 64, 3, 3, generator=g) / 24, torch.randn(32, generator=g) * 0.1
    x = torch.randn(1, 64, 8, 8, generator=g)
    dev = ttnn.open_device(device_id=0)
    try:
        tw, tb = Conv2dConfiguration.convert_torch_weight_and_bias_to_ttnn(w, b)
        cfg = Conv2dConfiguration(
            input_height=8, input_width=8, in_channels=64, out_channels=32, batch_size=1, kernel_size=(3, 3),
            padding=(1, 1), weight=tw, bias=tb, slice_strategy=ChannelSliceStrategyConfiguration(num_slices=2),
        )  # fmt: skip
        layer = TtConv2d(cfg, dev)
        tx = ttnn.from_torch(x.permute(0, 2, 3, 1).contiguous(), dtype=ttnn.bfloat16, device=dev)
        out, (h, wd) = layer(tx, return_output_dim=True)
        assert (h, wd) == (8, 8) and out.memory_config() == ttnn.DRAM_MEMORY_CONFIG
        got = ttnn.to_torch(out).float().reshape(1, h, wd, 32).permute(0, 3, 1, 2)
    finally:
        ttnn.close_device(dev)
    ref = torch.nn.functional.conv2d(x, w, b, padding=1)
    assert pcc(got, ref) >= 0.999
