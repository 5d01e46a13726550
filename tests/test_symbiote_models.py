"""tt-symbiote, unmodified, replaces modules of tiny random-weight HF models and runs them on ttfuse's simulator
through the `import ttnn` switch (issue 22): ViT (encoder) and Llama (decoder, prefill) on Wormhole and Blackhole
sim devices, PCC >= 0.999 against the bf16 torch model, with tt-symbiote's own ledger
(`tt_symbiote.utils.compatibility.report`) of modules swapped, run on TTNN and fallen back.

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
