"""tt-symbiote blocks under @ttfuse.jit (issue 22, build item 2): `ttfuse.symbiote.jit_blocks` compiles each
LlamaDecoderLayer (prefill) and ViTLayer of a tiny random-weight HF model, whose linears and norms tt-symbiote
replaced, into one graph on the simulator, on Wormhole and Blackhole.

Measured per forward: PCC of the jitted model vs tt-symbiote's own eager (per-module) run >= 0.9995, kernel
launches of the JIT below the same block graph run op by op (`jit_blocks(..., eager=True)`), one compiled entry
for every layer of a shape (the weights are lifted parameters: the second layer and a second model with other
weights reuse it), and the per-module fallback of a block that cannot be captured, with its reason recorded.
MESH_DEVICE=T3K lets tt-symbiote's T3K-pinned norm modules run on the simulator in its eager run (as in
tests/test_symbiote_models.py), so eager puts every replaced module on the device.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings

import pytest
import torch

from tests.conftest import pcc

transformers = pytest.importorskip("transformers")

ARCHS = ["wormhole_b0", "blackhole"]


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


@pytest.fixture
def t3k(monkeypatch):
    monkeypatch.setenv("MESH_DEVICE", "T3K")


def _llama(seed=0, hidden=128, heads=2, kv=1):
    from transformers import LlamaConfig, LlamaForCausalLM

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
    return LlamaForCausalLM(cfg).eval().to(torch.bfloat16)


def _llama_mapping(norms=True):
    from transformers.models.llama.modeling_llama import LlamaRMSNorm
    from tt_symbiote.modules.ttnn_linear import TTNNLinear
    from tt_symbiote.modules.ttnn_normalization import TTNNRMSNorm

    return {torch.nn.Linear: TTNNLinear, **({LlamaRMSNorm: TTNNRMSNorm} if norms else {})}


def _vit(seed=0):
    from transformers import ViTConfig, ViTModel

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
    return ViTModel(cfg, add_pooling_layer=False).eval().to(torch.bfloat16)


def _vit_mapping():
    from tt_symbiote.modules.ttnn_linear import TTNNLinear
    from tt_symbiote.modules.ttnn_normalization import TTNNLayerNorm

    return {torch.nn.Linear: TTNNLinear, torch.nn.LayerNorm: TTNNLayerNorm}


def _forward(model, inputs, out_of, device):
    """One forward (tt-symbiote prints a line per module call: kept off the test log) and its launches."""
    import ttfuse

    with torch.no_grad(), contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with ttfuse.sim.count_launches(device) as launches:
            out = out_of(model(**inputs))
    return torch.as_tensor(out).float(), launches.total


def _three_ways(sym, model, mapping, inputs, out_of, arch, kind):
    """tt-symbiote eager, the block graph op by op, the block graph jitted: (outputs, launches, ledger)."""
    import ttnn

    import ttfuse.symbiote as S

    sym.register_modules(model, mapping)
    dev = ttnn.open_device(device_id=0, arch=arch)
    sym.set_device(model, dev)
    eager, n_eager = _forward(model, inputs, out_of, dev)
    blocks = S.jit_blocks(model, [kind], eager=True)
    op_by_op, n_ops = _forward(model, inputs, out_of, dev)
    blocks.restore()
    blocks = S.jit_blocks(model, [kind])
    fn = blocks.functions[kind]
    before = fn.trace_count
    _forward(model, inputs, out_of, dev)  # compiles
    jit, n_jit = _forward(model, inputs, out_of, dev)
    return (eager, op_by_op, jit), (n_eager, n_ops, n_jit), blocks, fn.trace_count - before


@pytest.mark.parametrize("arch", ARCHS)
def test_llama_decoder_layers_jitted(sym, t3k, arch):
    model = _llama()
    ids = torch.randint(0, 256, (1, 32))
    outs, launches, blocks, traces = _three_ways(
        sym, model, _llama_mapping(), {"input_ids": ids}, lambda o: o.logits, arch, "LlamaDecoderLayer"
    )
    eager, op_by_op, jit = outs
    assert pcc(jit, eager) >= 0.9995
    assert pcc(op_by_op, eager) >= 0.9995
    n_eager, n_ops, n_jit = launches
    # fewer launches than the same graph op by op, and than tt-symbiote, which runs the head split, RoPE,
    # attention, residual adds and SiLU * up on the host
    assert n_jit < n_ops and n_jit < n_eager, launches
    rep = blocks.report()
    assert rep["jit"] == ["model.layers.0", "model.layers.1"] and rep["per_module"] == {}
    assert rep["jit_calls"] == 4 and rep["per_module_calls"] == 0  # two forwards x two layers
    assert traces == 1  # both layers (other weights, same shapes) run one compiled entry


@pytest.mark.parametrize("arch", ARCHS)
def test_vit_layers_jitted(sym, t3k, arch):
    model = _vit()
    pixels = torch.randn(1, 3, 32, 32, dtype=torch.bfloat16)
    outs, launches, blocks, traces = _three_ways(
        sym, model, _vit_mapping(), {"pixel_values": pixels}, lambda o: o.last_hidden_state, arch, "ViTLayer"
    )
    eager, op_by_op, jit = outs
    assert pcc(jit, eager) >= 0.9995
    n_eager, n_ops, n_jit = launches
    assert n_jit < n_ops and n_jit < n_eager, launches
    assert blocks.report()["jit"] == ["layers.0", "layers.1"]
    assert traces == 1


def test_weights_are_lifted_a_second_model_reuses_the_entry(sym, t3k):
    import ttnn

    import ttfuse.symbiote as S

    dev = ttnn.open_device(device_id=0, arch="wormhole_b0")
    pixels = torch.randn(1, 3, 32, 32, dtype=torch.bfloat16)
    outs = []
    for seed in (1, 2):  # two models, other weights, same shapes
        model = _vit(seed)
        sym.register_modules(model, _vit_mapping())
        sym.set_device(model, dev)
        eager, _ = _forward(model, {"pixel_values": pixels}, lambda o: o.last_hidden_state, dev)
        blocks = S.jit_blocks(model)
        fn = blocks.functions["ViTLayer"]
        traces = fn.trace_count
        jit, _ = _forward(model, {"pixel_values": pixels}, lambda o: o.last_hidden_state, dev)
        assert pcc(jit, eager) >= 0.9995  # each model's own weights were read
        outs.append((traces, fn.trace_count, jit))
    (_, after_first, a), (before_second, after_second, b) = outs
    assert after_second == before_second == after_first  # the second model traced nothing
    assert pcc(a, b) < 0.99  # and computed with its own weights


def test_llama_kv_cache_is_filled_by_the_jitted_prefill(sym, t3k):
    """The jitted prefill hands its K/V to HF's cache; the decode step that follows takes the per-module path."""
    import ttnn

    import ttfuse.symbiote as S

    model = _llama()
    sym.register_modules(model, _llama_mapping())
    dev = ttnn.open_device(device_id=0, arch="wormhole_b0")
    sym.set_device(model, dev)
    ids = torch.randint(0, 256, (1, 32))

    def prefill_then_decode():
        with torch.no_grad(), contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = model(input_ids=ids, use_cache=True)
            nxt = out.logits[:, -1:].argmax(-1)
            return model(input_ids=nxt, past_key_values=out.past_key_values).logits.float()

    eager = prefill_then_decode()
    blocks = S.jit_blocks(model)
    jit = prefill_then_decode()
    assert pcc(jit, eager) >= 0.9995
    rec = blocks.records["model.layers.0"]
    assert rec.mode == "jit" and rec.jit_calls == 1
    assert rec.per_module_reasons == {"decode step with a filled KV cache": 1}


def test_a_block_the_simulator_rejects_falls_back_to_the_per_module_path(sym, t3k):
    """head_dim 16: tt-metal's nlp_create_qkv_heads needs a head dim of whole tiles, so capture fails in the sim's
    spec check; the block runs tt-symbiote's per-module path, warns once, records why, and the output is eager's."""
    import ttnn

    import ttfuse.symbiote as S

    model = _llama(hidden=64, heads=4, kv=2)
    sym.register_modules(model, _llama_mapping())
    dev = ttnn.open_device(device_id=0, arch="blackhole")
    sym.set_device(model, dev)
    ids = torch.randint(0, 256, (1, 32))
    eager, _ = _forward(model, {"input_ids": ids}, lambda o: o.logits, dev)
    blocks = S.jit_blocks(model)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with torch.no_grad(), contextlib.redirect_stdout(io.StringIO()):
            out = model(input_ids=ids).logits.float()
            again = model(input_ids=ids).logits.float()
    assert torch.equal(out, eager) and torch.equal(again, eager)  # the per-module path, unchanged
    ours = [str(w.message) for w in caught if "ttfuse.symbiote" in str(w.message)]
    assert len(ours) == 2, ours  # one warning per block, not per call
    rep = blocks.report()
    assert rep["jit"] == [] and rep["jit_calls"] == 0 and rep["per_module_calls"] == 4
    why = rep["per_module"]["model.layers.0"]
    assert "SpecError" in why and "nlp_create_qkv_heads" in why and "head_dim 16" in why, why


def test_a_torch_norm_mid_block_falls_back_and_names_it(sym, t3k):
    import ttnn

    import ttfuse.symbiote as S

    model = _llama()
    sym.register_modules(model, _llama_mapping(norms=False))
    dev = ttnn.open_device(device_id=0, arch="wormhole_b0")
    sym.set_device(model, dev)
    ids = torch.randint(0, 256, (1, 32))
    eager, _ = _forward(model, {"input_ids": ids}, lambda o: o.logits, dev)
    blocks = S.jit_blocks(model, ["LlamaDecoderLayer"])
    with pytest.warns(UserWarning, match="input_layernorm is LlamaRMSNorm, a torch module"):
        out, _ = _forward_warn(model, {"input_ids": ids}, lambda o: o.logits)
    assert torch.equal(out, eager)
    assert "NotCapturable" in blocks.report()["per_module"]["model.layers.1"]


def _forward_warn(model, inputs, out_of):
    with torch.no_grad(), contextlib.redirect_stdout(io.StringIO()):
        return torch.as_tensor(out_of(model(**inputs))).float(), None


def test_unknown_block_type_is_a_clear_error(sym):
    import ttfuse
    import ttfuse.symbiote as S

    with pytest.raises(ttfuse.ArgumentError, match="block_types.*GPT2Block.*no recipe"):
        S.jit_blocks(torch.nn.Linear(2, 2), ["GPT2Block"])
