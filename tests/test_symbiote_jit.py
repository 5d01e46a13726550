"""tt-symbiote blocks under @ttfuse.jit (issue 22, build item 2): `ttfuse.symbiote.jit_blocks` compiles each
Llama / Qwen2 decoder layer (prefill) and ViT layer of a tiny random-weight HF model, whose linears and norms
tt-symbiote replaced, and each ResNet residual block (basic, bottleneck) whose convs are tt-symbiote's CNN modules,
into one graph on the simulator, on Wormhole and Blackhole.

Measured per forward (bench/symbiote_cases.py): PCC of the jitted model vs tt-symbiote's own eager (per-module)
run >= 0.9995, kernel launches of the JIT below both tt-symbiote's eager run and the same block graphs run op by op
(`jit_blocks(..., eager=True)`), predicted device time below op by op, one compiled entry
for every layer of a shape (the weights are lifted parameters: the second layer and a second model with other
weights reuse it), and the per-module fallback of a block that cannot be captured, with its reason recorded.
MESH_DEVICE=T3K lets tt-symbiote's T3K-pinned norm modules run on the simulator in its eager run (as in
tests/test_symbiote_models.py), so eager puts every replaced module on the device.
"""

from __future__ import annotations

import contextlib
import io
import warnings

import pytest
import torch

from tests.conftest import pcc

transformers = pytest.importorskip("transformers")  # a pinned test dependency (pyproject)

from bench import symbiote_cases as C  # noqa: E402  (the tiny models and the three-way run, shared with the bench)

ARCHS = ["wormhole_b0", "blackhole"]
RESNET_BLOCKS = ["resnet.encoder.stages.0.layers.0", "resnet.encoder.stages.1.layers.0"]
BLOCKS = {"ViT": ["layers.0", "layers.1"], "ResNet basic": RESNET_BLOCKS, "ResNet bottleneck": RESNET_BLOCKS}


# an empty compile cache per test (tests/conftest.py): trace counts must not depend on what another test or an
# earlier run left on disk
pytestmark = pytest.mark.usefixtures("fresh")


@pytest.fixture(scope="module")
def sym():
    with C.symbiote_installed() as tt_symbiote:
        yield tt_symbiote


@pytest.fixture
def t3k(monkeypatch):
    monkeypatch.setenv("MESH_DEVICE", "T3K")


def _llama_mapping(norms=True):
    mapping = C.llama()[1]
    return mapping if norms else {torch.nn.Linear: mapping[torch.nn.Linear]}


def _quiet(model, inputs, out_of):
    """One forward with tt-symbiote's per-module prints kept off the log, warnings left to the caller."""
    with torch.no_grad(), contextlib.redirect_stdout(io.StringIO()):
        return torch.as_tensor(out_of(model(**inputs))).float()


def _forward(model, inputs, out_of, device):
    side = C.run(model, inputs, out_of, device)
    return side.out, side.launches


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("name", list(C.MODELS))
def test_blocks_jitted(sym, t3k, name, arch):
    got = C.three_ways(sym, name, arch)
    eager, op_by_op, jit = got.sides["eager"], got.sides["op_by_op"], got.sides["jit"]
    assert pcc(jit.out, eager.out) >= 0.9995
    assert pcc(op_by_op.out, eager.out) >= 0.9995
    # fewer launches than the same graphs op by op, and than tt-symbiote, which runs the head split, attention,
    # residual adds and activations (and, for Llama, RoPE and SiLU * up) in torch on the host
    launches = (eager.launches, op_by_op.launches, jit.launches)
    assert jit.launches < op_by_op.launches and jit.launches < eager.launches, launches
    assert jit.predicted_us < op_by_op.predicted_us  # the cost model's prediction, the same op table
    rep = got.blocks.report()
    assert rep["jit"] == BLOCKS.get(name, ["model.layers.0", "model.layers.1"]) and rep["per_module"] == {}
    assert rep["jit_calls"] == 4 and rep["per_module_calls"] == 0  # two forwards x two blocks
    # both layers (other weights, same shapes) run one compiled entry; ResNet's two blocks differ in structure
    # (stage 0 adds its input, stage 1 halves the size with a conv shortcut): one entry each
    assert got.traces == (2 if name.startswith("ResNet") else 1)


def test_on_n150_tt_symbiote_runs_its_norms_in_torch_and_the_jitted_block_on_the_device(sym, monkeypatch):
    """Without MESH_DEVICE=T3K tt-symbiote's T3K-pinned norms fall back to torch in its eager run; the jitted
    block runs the same ttnn.rms_norm call with the module's weights, and agrees with that eager run."""
    monkeypatch.delenv("MESH_DEVICE", raising=False)
    got = C.three_ways(sym, "Llama prefill", "wormhole_b0")
    assert pcc(got.sides["jit"].out, got.sides["eager"].out) >= 0.9995
    assert got.blocks.report()["per_module"] == {}


def test_weights_are_lifted_a_second_model_reuses_the_entry(sym, t3k):
    import ttnn

    import ttfuse.symbiote as S

    dev = ttnn.open_device(device_id=0, arch="wormhole_b0")
    pixels = torch.randn(1, 3, 32, 32, dtype=torch.bfloat16)
    outs = []
    for seed in (1, 2):  # two models, other weights, same shapes
        model, mapping, _, out_of = C.vit(seed)
        sym.register_modules(model, mapping)
        sym.set_device(model, dev)
        eager, _ = _forward(model, {"pixel_values": pixels}, out_of, dev)
        blocks = S.jit_blocks(model)
        fn = blocks.functions["ViTLayer"]
        traces = fn.trace_count
        jit, _ = _forward(model, {"pixel_values": pixels}, out_of, dev)
        assert pcc(jit, eager) >= 0.9995  # each model's own weights were read
        outs.append((traces, fn.trace_count, jit))
    (_, after_first, a), (before_second, after_second, b) = outs
    assert after_second == before_second == after_first  # the second model traced nothing
    assert pcc(a, b) < 0.99  # and computed with its own weights


def test_weights_are_graph_parameters_and_their_concatenation_runs_once(sym, t3k):
    """The QKV (and gate/up) weight concatenations depend only on lifted parameters: they are the entry's
    prologue, run once per parameter set, not per call."""
    import ttnn

    import ttfuse.symbiote as S

    model, mapping, _, _ = C.llama()
    sym.register_modules(model, mapping)
    dev = ttnn.open_device(device_id=0, arch="wormhole_b0")
    sym.set_device(model, dev)
    blocks = S.jit_blocks(model)
    x = torch.randn(1, 32, 128, dtype=torch.bfloat16)
    pe = model.model.rotary_emb(x, torch.arange(32)[None])
    low = blocks.lower("model.layers.1", x, position_embeddings=pe)
    assert low.prologue is not None
    assert "ttnn.concat" in low.prologue.source and "concat_weights" in low.prologue.source
    ops = [n.op for n in low.graph.nodes]
    assert ops.count("rms_norm") == 2 and ops.count("experimental.nlp_create_qkv_heads") == 1
    assert "kernels.linear_split" in ops  # gate and up, fused horizontally


def test_weights_tt_symbiote_moves_again_are_read_again(sym, t3k):
    """tt-symbiote's deallocate_weights() then move_weights_to_device() replace a module's device tensors: the
    block's holder is rebuilt (no freed tensor is read), the compiled entry is the same, the answer unchanged."""
    got = C.three_ways(sym, "ViT", "wormhole_b0")
    model_blocks = got.blocks
    fwd = model_blocks._wrappers["layers.0"]
    q = fwd.block.attention.q_proj
    q.deallocate_weights()
    q.move_weights_to_device()
    traces = model_blocks.functions["ViTLayer"].trace_count
    again = got.forward()
    assert pcc(again.out, got.sides["jit"].out) >= 0.99999
    assert model_blocks.functions["ViTLayer"].trace_count == traces
    assert model_blocks.report()["per_module"] == {}  # (a stale holder fails on the freed tensor: per-module)


def test_llama_kv_cache_is_filled_by_the_jitted_prefill(sym, t3k):
    """The jitted prefill hands its K/V to HF's cache; the decode step that follows takes the per-module path."""
    import ttnn

    import ttfuse.symbiote as S

    model = C.llama()[0]
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


@pytest.mark.parametrize("shape", [(1, 20), (2, 32)], ids=["seq20", "batch2"])
def test_llama_prefill_of_other_shapes(sym, t3k, shape):
    """A sequence that is not a whole tile (RoPE's padded output is sliced back) and a batch of two."""
    import ttnn

    import ttfuse.symbiote as S

    model, mapping, _, out_of = C.llama()
    sym.register_modules(model, mapping)
    dev = ttnn.open_device(device_id=0, arch="blackhole")
    sym.set_device(model, dev)
    inputs = {"input_ids": torch.randint(0, 256, shape)}
    eager, _ = _forward(model, inputs, out_of, dev)
    blocks = S.jit_blocks(model)
    jit, _ = _forward(model, inputs, out_of, dev)
    assert pcc(jit, eager) >= 0.9995
    assert blocks.report()["jit_calls"] == 2


def test_an_attention_mask_from_hf_enters_the_graph(sym, t3k):
    """Padding: HF builds a 4-D mask outside the blocks; each jitted block takes it as an input (SDPA attn_mask)."""
    import ttnn

    import ttfuse.symbiote as S

    model, mapping, inputs, out_of = C.llama()
    sym.register_modules(model, mapping)
    dev = ttnn.open_device(device_id=0, arch="wormhole_b0")
    sym.set_device(model, dev)
    mask = torch.ones(1, 32, dtype=torch.long)
    mask[0, 20:] = 0
    inputs = {**inputs, "attention_mask": mask}
    eager, _ = _forward(model, inputs, out_of, dev)
    blocks = S.jit_blocks(model)
    jit, _ = _forward(model, inputs, out_of, dev)
    assert pcc(jit[:, :20], eager[:, :20]) >= 0.9995  # the tokens that are not padding
    assert blocks.report()["jit_calls"] == 2
    unmasked, _ = _forward(model, {"input_ids": inputs["input_ids"]}, out_of, dev)
    assert pcc(unmasked[:, 20:], jit[:, 20:]) < 0.9995  # the mask changed the padded rows: it was applied


def test_an_argument_the_recipe_does_not_handle_takes_the_per_module_path(sym, t3k):
    """No argument is ignored silently: a block called with one its recipe does not account for (here HF's
    `cache_position`) runs tt-symbiote's per-module path for that call, named in the ledger."""
    import ttnn

    import ttfuse.symbiote as S

    model, mapping, _, _ = C.llama()
    sym.register_modules(model, mapping)
    dev = ttnn.open_device(device_id=0, arch="wormhole_b0")
    sym.set_device(model, dev)
    blocks = S.jit_blocks(model)
    layer = model.model.layers[0]
    x = torch.randn(1, 32, 128, dtype=torch.bfloat16)
    pe = model.model.rotary_emb(x, torch.arange(32)[None])
    with torch.no_grad(), contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        jit = layer(x, position_embeddings=pe)
        other = layer(x, position_embeddings=pe, cache_position=torch.arange(32))
    assert pcc(other.float(), jit.float()) >= 0.9995
    rec = blocks.records["model.layers.0"]
    assert rec.jit_calls == 1 and rec.mode == "jit"
    assert list(rec.per_module_reasons) == [
        "argument 'cache_position' (the recipe handles ['attention_mask', 'hidden_states', 'past_key_values', "
        "'position_embeddings', 'position_ids', 'use_cache'])"
    ]


def test_a_block_the_simulator_rejects_falls_back_to_the_per_module_path(sym, t3k):
    """head_dim 16: tt-metal's nlp_create_qkv_heads needs a head dim of whole tiles, so capture fails in the sim's
    spec check; the block runs tt-symbiote's per-module path, warns once, records why, and the output is eager's."""
    import ttnn

    import ttfuse.symbiote as S

    model = C.llama(hidden=64, heads=4, kv=2)[0]
    sym.register_modules(model, _llama_mapping())
    dev = ttnn.open_device(device_id=0, arch="blackhole")
    sym.set_device(model, dev)
    ids = torch.randint(0, 256, (1, 32))
    eager, _ = _forward(model, {"input_ids": ids}, lambda o: o.logits, dev)
    blocks = S.jit_blocks(model)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out, again = (_quiet(model, {"input_ids": ids}, lambda o: o.logits) for _ in range(2))
    assert torch.equal(out, eager) and torch.equal(again, eager)  # the per-module path, unchanged
    ours = [str(w.message) for w in caught if "ttfuse.symbiote" in str(w.message)]
    assert len(ours) == 2, ours  # one warning per block, not per call
    rep = blocks.report()
    assert rep["jit"] == [] and rep["jit_calls"] == 0 and rep["per_module_calls"] == 4
    why = rep["per_module"]["model.layers.0"]
    assert "SpecError" in why and "nlp_create_qkv_heads" in why and "head_dim 16" in why, why
    assert "ttfuse/symbiote.py:" in why and "in _qkv_heads" in why, why  # the recipe line, not torch's


def test_a_torch_norm_mid_block_falls_back_and_names_it(sym, t3k):
    import ttnn

    import ttfuse.symbiote as S

    model = C.llama()[0]
    sym.register_modules(model, _llama_mapping(norms=False))
    dev = ttnn.open_device(device_id=0, arch="wormhole_b0")
    sym.set_device(model, dev)
    ids = torch.randint(0, 256, (1, 32))
    eager, _ = _forward(model, {"input_ids": ids}, lambda o: o.logits, dev)
    blocks = S.jit_blocks(model, ["LlamaDecoderLayer"])
    with pytest.warns(UserWarning, match="input_layernorm is LlamaRMSNorm, a torch module: map it to"):
        out = _quiet(model, {"input_ids": ids}, lambda o: o.logits)
    assert torch.equal(out, eager)  # tt-symbiote's per-module path, untouched
    assert "NotCapturable" in blocks.report()["per_module"]["model.layers.1"]


def _sliding_window_qwen2(sym):
    """A tiny Qwen2 whose every layer uses sliding-window attention (window 16), swapped by tt-symbiote and bound to a
    Wormhole sim device, and 32 prompt ids."""
    import ttnn
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    cfg = Qwen2Config(
        vocab_size=256,
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        use_sliding_window=True,
        sliding_window=16,
        max_window_layers=0,
    )
    model = Qwen2ForCausalLM(cfg).eval().to(torch.bfloat16)
    sym.register_modules(model, C.qwen2()[1])
    dev = ttnn.open_device(device_id=0, arch="wormhole_b0")
    sym.set_device(model, dev)
    return model, dev, torch.randint(0, 256, (1, 32))


def test_a_sliding_window_layer_is_refused_not_computed_causally(sym, t3k):
    """Qwen2 with sliding-window attention: the recipe's causal SDPA would attend too far back, so the block is
    not captured (NotCapturable naming the window) and tt-symbiote's per-module path keeps the answer."""

    import ttfuse.symbiote as S

    model, dev, ids = _sliding_window_qwen2(sym)
    eager, _ = _forward(model, {"input_ids": ids}, lambda o: o.logits, dev)
    blocks = S.jit_blocks(model)
    jit, _ = _forward(model, {"input_ids": ids}, lambda o: o.logits, dev)
    assert torch.equal(jit, eager)
    why = blocks.report()["per_module"]["model.layers.0"]
    assert why.startswith("NotCapturable: Qwen2DecoderLayer.self_attn: sliding-window attention (16)"), why


def test_unknown_block_type_is_a_clear_error(sym):
    import ttfuse
    import ttfuse.symbiote as S

    with pytest.raises(ttfuse.ArgumentError, match="block_types.*GPT2Block.*no recipe"):
        S.jit_blocks(torch.nn.Linear(2, 2), ["GPT2Block"])


# ----------------------------------------------------------------------------------------------------- ResNet
def _resnet_on(sym, arch, layer_type="basic"):
    """A tiny ResNet with tt-symbiote's CNN modules (HF's residual blocks kept), on a sim device of `arch`, and
    its eager output (steady state: the second forward, tt-symbiote's TtConv2d keeping its prepared weights)."""
    import ttnn

    model, mapping, inputs, out_of = C.resnet(0, layer_type)
    with torch.no_grad():
        _resnet_on.torch = out_of(model(**inputs)).float()  # the bf16 torch model, before the swap
    sym.register_modules(model, mapping)
    dev = ttnn.open_device(device_id=0, arch=arch)
    sym.set_device(model, dev)
    _forward(model, inputs, out_of, dev)
    return model, inputs, out_of, dev, _forward(model, inputs, out_of, dev)[0]


@pytest.mark.parametrize("layer_type", ["basic", "bottleneck"])
def test_a_resnet_block_is_one_graph_with_tt_symbiotes_conv_calls(sym, t3k, layer_type):
    """Each residual block is one graph: its convs with the Conv2dConfig and compute config tt-symbiote's own
    TtConv2d used in the eager run (BatchNorm folded, ReLU in Conv2dConfig.activation where its module fuses it),
    the weights prepared once in the prologue, and relu(h + residual) as one add with the ReLU fused by the pass."""
    import ttnn
    from tt_symbiote.modules.ttnn_conv import TTNNConv2dNHWC

    import ttfuse.symbiote as S

    model, inputs, out_of, dev, eager = _resnet_on(sym, "wormhole_b0", layer_type)
    blocks = S.jit_blocks(model)
    jit, _ = _forward(model, inputs, out_of, dev)
    assert pcc(jit, eager) >= 0.9995
    assert pcc(eager, _resnet_on.torch) >= 0.999 and pcc(jit, _resnet_on.torch) >= 0.999  # both right
    stage1 = model.resnet.encoder.stages[1].layers[0]  # a conv shortcut (the size halves)
    x = torch.randn(1, 8, 8, 16, dtype=torch.bfloat16)  # NHWC after the stem's max pool
    low = blocks.lower(RESNET_BLOCKS[1], x)
    convs = [n for n in low.graph.nodes if n.op == "conv2d"]
    assert len(convs) == len(stage1.layer) + 1
    ops = [n.op for n in low.graph.nodes]
    assert "relu" not in ops, ops  # fused into the add
    # the weights' preparation depends only on parameters: the prologue, run once per weight version
    assert ops.count("prepare_conv_weights") == len(convs) == ops.count("prepare_conv_bias")
    assert low.prologue.source.count("ttnn.prepare_conv_weights(") == len(convs)
    assert "ttnn.prepare_conv_weights(" not in low.source  # (the main code names them in comments only)
    adds = [n for n in low.graph.nodes if n.op == "add"]
    assert len(adds) == 1 and [a.op_type.name for a in adds[0].attr("activations")] == ["RELU"]
    # the configs tt-symbiote's TtConv2d made for the same convs in the eager run (its cache is keyed by a tuple
    # holding the module's tt_weight)
    theirs = {
        id(w): (layer.conv2d_config, layer.compute_config)
        for key, layer in TTNNConv2dNHWC.CACHED_TTCNN.items()
        for w in key
        if isinstance(w, ttnn.Tensor)
    }
    acts = []
    traced = [
        n for n in low.graph_before.nodes if n.op == "conv2d"
    ]  # as called (the passes fill auto fields)
    for mod, node in zip([*stage1.layer, stage1.shortcut], traced, strict=True):
        conv_cfg, compute_cfg = theirs[id(mod.tt_weight)]
        assert node.attr("conv_config") == conv_cfg and node.attr("compute_config") == compute_cfg
        acts.append(node.attr("conv_config").activation is not None)
    # ReLU in the conv where tt-symbiote's module fuses it (every conv of `layer` but the last), not elsewhere
    assert acts == [True] * (len(stage1.layer) - 1) + [False, False]


def test_a_resnet_block_the_recipe_does_not_cover_runs_per_module_and_names_why(sym, t3k):
    """A block whose activation is not ReLU (here GELU, set on stage 1's block) is not captured: it runs HF's
    forward with tt-symbiote's conv modules (the per-module path), the other block stays one graph, and the
    output is eager's."""
    import ttfuse.symbiote as S

    model, inputs, out_of, dev, _ = _resnet_on(sym, "blackhole")
    model.resnet.encoder.stages[1].layers[0].activation = torch.nn.GELU()
    eager, _ = _forward(model, inputs, out_of, dev)
    blocks = S.jit_blocks(model)
    with pytest.warns(UserWarning, match="ResNetBasicLayer.activation is GELU; the recipe handles ReLU"):
        jit = _quiet(model, inputs, out_of)
    assert pcc(jit, eager) >= 0.9995
    rep = blocks.report()
    assert rep["jit"] == RESNET_BLOCKS[:1] and list(rep["per_module"]) == RESNET_BLOCKS[1:]
    assert rep["per_module"][RESNET_BLOCKS[1]].startswith("NotCapturable"), rep


def test_a_resnet_block_whose_capture_fails_falls_back(sym, t3k, monkeypatch):
    """A conv config the simulator rejects at capture (weights_dtype uint32, through tt-symbiote's own config
    builder): the trace fails in ttnn.prepare_conv_weights' check, every block warns once and runs the per-module
    path (tt-symbiote's own modules, unaffected), and the output is eager's, bit for bit."""
    import ttnn

    import ttfuse.symbiote as S

    model, inputs, out_of, dev, eager = _resnet_on(sym, "wormhole_b0", "bottleneck")
    settings = S._conv_settings()
    monkeypatch.setattr(
        S, "_conv_settings", lambda: {k: {**v, "weights_dtype": ttnn.uint32} for k, v in settings.items()}
    )
    blocks = S.jit_blocks(model)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out, again = (_quiet(model, inputs, out_of) for _ in range(2))
    assert torch.equal(out, eager) and torch.equal(again, eager)
    ours = [str(w.message) for w in caught if "ttfuse.symbiote" in str(w.message)]
    assert len(ours) == 2, ours  # one per block, not per call
    rep = blocks.report()
    assert rep["jit"] == [] and rep["per_module_calls"] == 4
    why = rep["per_module"][RESNET_BLOCKS[0]]
    assert "SpecError" in why and "prepare_conv_weights" in why and "weights_dtype" in why, why


def test_a_resnet_of_another_batch_and_image_size(sym, t3k):
    """Batch 2, a 48x40 image (not square, not a power of two): conv2d takes [N, H, W, C] and the graph's reshapes
    follow N, OH, OW; the same answer as eager and as the torch model."""
    import ttnn

    import ttfuse.symbiote as S

    model, mapping, _, out_of = C.resnet(0, "bottleneck")
    pixels = torch.randn(2, 3, 48, 40, generator=torch.Generator().manual_seed(5)).to(torch.bfloat16)
    inputs = {"pixel_values": pixels}
    with torch.no_grad():
        ref = out_of(model(**inputs)).float()
    sym.register_modules(model, mapping)
    dev = ttnn.open_device(device_id=0, arch="blackhole")
    sym.set_device(model, dev)
    eager, _ = _forward(model, inputs, out_of, dev)
    blocks = S.jit_blocks(model)
    jit, _ = _forward(model, inputs, out_of, dev)
    assert jit.shape == (2, 10)
    assert pcc(jit, eager) >= 0.9995 and pcc(jit, ref) >= 0.999
    assert blocks.report()["jit_calls"] == 2 and blocks.report()["per_module"] == {}


# ------------------------------------------------------------------------------------------ decode steps
@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("name", list(C.DECODERS))
def test_decode_steps_jitted_over_a_device_kv_cache(sym, t3k, name, arch):
    """Prefill + 3 greedy decode steps: each decode step of each layer is one compiled graph over the device KV
    cache (paged_fill_cache by the prefill graph, paged_update_cache in place each step, the position a device
    tensor): the logits agree with tt-symbiote eager (HF's host cache) at every step, the tokens are the same, one
    compiled decode entry serves every step and layer, and a step launches fewer kernels than the same graph op by
    op. NOTE: not fewer than tt-symbiote eager, which runs RoPE, attention, the cache and the residual adds of a
    decode step in torch on the host (no launches, but host round trips at every module): the jitted step runs the
    whole layer on the device (launches per step: bench/test_symbiote_bench.py)."""
    got = C.decode_ways(sym, name, arch)
    eager, op_by_op, jit = (got.sides[k] for k in ("eager", "op_by_op", "jit"))
    for step, (e, o, j) in enumerate(zip(eager, op_by_op, jit, strict=True)):
        assert pcc(j.out, e.out) >= 0.9995, (step, pcc(j.out, e.out))
        assert pcc(o.out, e.out) >= 0.9995, (step, pcc(o.out, e.out))
    assert got.tokens["jit"] == got.tokens["eager"] == got.tokens["op_by_op"]
    assert len(set(got.tokens["eager"])) > 1  # the steps feed different tokens (not one repeated answer)
    kind = C.DECODERS[name][1]
    # one compiled decode entry for the 2 x 3 steps of both layers (and one prefill entry): positions 32..35
    assert got.entries == {kind: 0, f"{kind} prefill": 1, f"{kind} decode": 1}
    assert got.traces == 0  # the measured generation compiled nothing: no recompile per step or per length
    for e, o, j in zip(eager[1:], op_by_op[1:], jit[1:], strict=True):  # per decode step
        assert j.launches < o.launches, (e.launches, o.launches, j.launches)
        assert j.predicted_us < o.predicted_us  # the cost model's prediction, the same op table
    rep = got.blocks.report()
    assert rep["per_module"] == {} and rep["per_module_calls"] == 0
    assert rep["jit_calls"] == 2 * 2 * 4  # two generations (compile, measured) x two layers x (prefill + 3)


def _generate(model, cache, ids, steps):
    outs = []
    with torch.no_grad(), contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(steps + 1):
            logits = model(input_ids=ids, past_key_values=cache, use_cache=True).logits.float()
            outs.append(logits)
            ids = logits[:, -1:].argmax(-1)
    return outs


def test_the_per_module_path_reads_and_writes_the_device_cache(sym, t3k):
    """A device KV cache under tt-symbiote's per-module path (no jit, or a block that falls back): HF's attention
    writes and reads it through the host and gets eager's answers; after a jitted prefill the per-module decode
    reads what the prefill graph wrote."""
    import ttnn
    from transformers import DynamicCache

    import ttfuse.symbiote as S

    model, mapping, inputs, _ = C.llama()
    sym.register_modules(model, mapping)
    dev = ttnn.open_device(device_id=0, arch="wormhole_b0")
    sym.set_device(model, dev)
    ids = inputs["input_ids"]
    eager = _generate(model, DynamicCache(config=model.config), ids, 2)
    host = _generate(model, S.device_kv_cache(model, dev, 64), ids, 2)
    assert all(pcc(h, e) >= 0.9999 for h, e in zip(host, eager, strict=True))
    blocks = S.jit_blocks(model)
    cache = S.device_kv_cache(model, dev, 64)
    prefill = _generate(model, cache, ids, 0)[0]
    blocks.restore()
    rest = _generate(model, cache, prefill[:, -1:].argmax(-1), 1)
    for got, want in zip([prefill, *rest], eager, strict=True):
        assert pcc(got, want) >= 0.9995
    assert blocks.records["model.layers.0"].jit_calls == 1


def test_a_device_cache_refuses_what_it_cannot_hold(sym, t3k):
    import ttnn

    import ttfuse
    import ttfuse.symbiote as S

    model, mapping, _, _ = C.llama()
    sym.register_modules(model, mapping)
    dev = ttnn.open_device(device_id=0, arch="blackhole")
    sym.set_device(model, dev)
    with pytest.raises(
        ttfuse.ArgumentError, match="device_kv_cache: argument 'batch' must be an int in \\[1, 32\\]"
    ):
        S.device_kv_cache(model, dev, 64, batch=33)
    with pytest.raises(ttfuse.ArgumentError, match="argument 'model' must be a HF decoder LLM"):
        S.device_kv_cache(torch.nn.Linear(2, 2), dev, 64)
    blocks = S.jit_blocks(model)
    cache = S.device_kv_cache(model, dev, 32)  # one page: the 32-token prefill fills it
    out = _generate(model, cache, torch.randint(0, 256, (1, 32)), 0)[0]
    with pytest.raises(ttfuse.TtfuseError, match="33 positions do not fit the cache's max_len 32"):
        _generate(model, cache, out[:, -1:].argmax(-1), 0)
    assert blocks.records["model.layers.0"].jit_calls == 1


def test_decode_of_two_users_and_the_decode_graph(sym, t3k):
    """Batch 2 (one user per core in the decode layout, the prefill writes each user's pages): the logits agree
    with eager at every step and the greedy tokens too, except where eager's own top two logits tie within the
    numerical difference of the two runs (bf16: here an exact tie, 0.0 apart). The decode graph holds tt-metal's
    decode op sequence and nothing from the host."""
    import ttnn
    from transformers import DynamicCache

    import ttfuse.symbiote as S

    model, mapping, _, _ = C.llama()
    sym.register_modules(model, mapping)
    dev = ttnn.open_device(device_id=0, arch="blackhole")
    sym.set_device(model, dev)
    ids = torch.randint(0, 256, (2, 32))
    eager = _generate(model, DynamicCache(config=model.config), ids, 2)
    blocks = S.jit_blocks(model)
    cache = S.device_kv_cache(model, dev, 64, batch=2)
    jit = _generate(model, cache, ids, 2)
    ties = 0
    for e, j in zip(eager, jit, strict=True):
        assert pcc(j, e) >= 0.9995
        le, lj = e[:, -1], j[:, -1]
        top = le.topk(2, -1).values
        clear = (top[:, 0] - top[:, 1]) > (le - lj).abs().max(-1).values
        assert torch.equal(le.argmax(-1)[clear], lj.argmax(-1)[clear])
        ties += int((~clear).sum())
    assert ties <= 1  # (the last step's second user)
    assert cache.get_seq_length() == 34 and blocks.report()["per_module_calls"] == 0
    x = torch.randn(2, 1, 128, dtype=torch.bfloat16)
    low = blocks.lower(
        "model.layers.0",
        x,
        position_embeddings=model.model.rotary_emb(x, torch.tensor([[34]])),
        past_key_values=cache,
    )
    ops = [n.op for n in low.graph.nodes]
    assert (
        ops.count("experimental.paged_update_cache") == 2
        and ops.count("experimental.rotary_embedding_hf") == 2
    )
    assert "transformer.paged_scaled_dot_product_attention_decode" in ops
    assert "experimental.nlp_create_qkv_heads_decode" in ops and "experimental.nlp_concat_heads_decode" in ops
    assert "to_layout" not in ops and "from_torch" not in ops


def test_hf_generate_runs_over_the_device_cache(sym, t3k):
    """`model.generate(..., past_key_values=device_kv_cache(...))`: HF's own greedy loop, every layer call jitted
    (its mask and cache_position from the cache's length), the same tokens as tt-symbiote eager."""
    import ttnn

    import ttfuse.symbiote as S

    model, mapping, inputs, _ = C.llama()
    sym.register_modules(model, mapping)
    dev = ttnn.open_device(device_id=0, arch="wormhole_b0")
    sym.set_device(model, dev)
    ids = inputs["input_ids"]
    kw = {"max_new_tokens": 4, "do_sample": False, "attention_mask": torch.ones_like(ids), "pad_token_id": 0}
    with torch.no_grad(), contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        eager = model.generate(ids, **kw)
        blocks = S.jit_blocks(model)
        jit = model.generate(ids, past_key_values=S.device_kv_cache(model, dev, 64), **kw)
    assert torch.equal(jit, eager) and jit.shape[1] == 36
    rep = blocks.report()
    assert rep["jit_calls"] == 2 * 4 and rep["per_module_calls"] == 0  # prefill + 3 decode steps, 2 layers


def test_a_padded_decode_step_takes_the_per_module_path_over_the_device_cache(sym, t3k):
    """Left padding: the decode graph attends to every cached position, so a step whose mask hides some runs
    tt-symbiote's per-module path (HF's attention over the device cache through the host), named in the ledger,
    and the tokens are eager's."""
    import ttnn

    import ttfuse.symbiote as S

    model, mapping, inputs, _ = C.llama()
    sym.register_modules(model, mapping)
    dev = ttnn.open_device(device_id=0, arch="blackhole")
    sym.set_device(model, dev)
    ids = inputs["input_ids"]
    mask = torch.ones_like(ids)
    mask[0, :4] = 0
    kw = {"max_new_tokens": 3, "do_sample": False, "attention_mask": mask, "pad_token_id": 0}
    with torch.no_grad(), contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        eager = model.generate(ids, **kw)
        blocks = S.jit_blocks(model)
        jit = model.generate(ids, past_key_values=S.device_kv_cache(model, dev, 64), **kw)
    assert torch.equal(jit, eager)
    rec = blocks.records["model.layers.0"]
    assert rec.mode == "jit" and rec.jit_calls == 1  # the prefill (its mask enters the graph)
    assert rec.per_module_reasons == {
        "a decode step with a padding mask (the decode graph attends to every cached position)": 2
    }


def test_sliding_window_layers_decode_per_module_over_the_device_cache(sym, t3k):
    """Qwen2 sliding-window layers are refused by the recipe; over a device cache they run tt-symbiote's
    per-module path through the host (HF's sliding mask over the full cache) with eager's answers."""
    from transformers import DynamicCache

    import ttfuse.symbiote as S

    model, dev, ids = _sliding_window_qwen2(sym)
    eager = _generate(model, DynamicCache(config=model.config), ids, 2)
    blocks = S.jit_blocks(model)
    got = _generate(model, S.device_kv_cache(model, dev, 64), ids, 2)
    assert all(pcc(g, e) >= 0.99999 for g, e in zip(got, eager, strict=True))
    assert "sliding-window" in blocks.report()["per_module"]["model.layers.1"]
