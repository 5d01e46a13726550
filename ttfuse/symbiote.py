"""`jit_blocks`: compile whole Hugging Face blocks of a tt-symbiote model with `@ttfuse.jit` (issue 22).

    ttfuse.install()                                   # `import ttnn` is the simulator
    swapped = tt_symbiote.register_modules(model, {nn.Linear: TTNNLinear, LlamaRMSNorm: TTNNRMSNorm})
    tt_symbiote.set_device(model, device)
    blocks = ttfuse.symbiote.jit_blocks(model)         # Llama/Qwen2 decoders, ViT layers, ResNet blocks (block_types=)
    logits = model(input_ids=ids).logits               # each block runs as one compiled graph
    blocks.report()                                    # per block: jit or per-module, calls, why

tt-symbiote runs one module at a time: each TTNN module converts its torch input to ttnn, runs its ops and hands
a torch tensor back, and the HF glue between modules (head reshapes, RoPE, attention, residual adds, activations)
runs in torch. `jit_blocks` replaces the `forward` of each block whose class has a recipe (`RECIPES`) with a
wrapper that converts the block's inputs to ttnn once, calls one `@ttfuse.jit` function over the whole block and
converts the output back. The recipe is the block's forward restated in ttnn, calling the same ttnn ops with the
same device weights as tt-symbiote's modules (`TTNNLinear.tt_weight` / `tt_bias` after its own
`preprocess_weights` / `move_weights_to_device`, `TTNNRMSNorm` / `TTNNLayerNorm.tt_weight`; a ResNet block's
`TTNNConv2dBN*NHWC` weights with the BatchNorm folded, prepared in the graph's prologue, and the conv configs its
own builder makes), so the graph spans the module boundaries: the passes fuse linear + bias + activation, residual
adds, the Q/K/V linears sharing an input (horizontal fusion), and the weights are lifted as parameters from a
per-block holder (`BlockParams`), so one compiled entry serves every block of the same shapes. Torch-only inputs
(RoPE cos/sin, the attention mask) are computed by the HF model outside the block, as before, and enter the graph
as inputs; HF's DynamicCache is updated on the host from the graph's K/V outputs.

Decode: over `device_kv_cache(model, device, max_len)` (a transformers Cache whose K/V live on the device, paged)
the prefill graph writes K/V with paged_fill_cache and each decode step of a Llama/Qwen2 layer is one graph
(`llama_decode_step`: paged_update_cache in place, paged SDPA decode, the position a device tensor), the same
compiled entry for every step and layer. See the "Llama decode" section.

Fallback: a block that cannot be captured (a submodule that is not a tt-symbiote TTNN module the recipe knows, an
op the simulator rejects, training mode, a decode step with a filled host KV cache) runs tt-symbiote's per-module path
(the original forward). A capture failure disables the block's jit path for good, warns once and is recorded with
its reason (`JitBlocks.report()`, like tt-symbiote's `compatibility.report`); a per-call condition (a decode
step) only sends that call down the per-module path and is counted.

tt-symbiote pins `TTNNRMSNorm` / `TTNNLayerNorm.forward` to T3K (`run_on_devices`, its own policy: on N150/P150
its eager run falls back to the torch norm); a jitted block runs the same `ttnn.rms_norm` / `ttnn.layer_norm` call
with the module's weights on any device. A norm left as a torch module makes the block fall back.
Extend: a new block type is a `Recipe` (params: the holder from the block's modules; inputs: torch arguments ->
ttnn inputs; fn: the traced ttnn function; finish: outputs -> what the HF forward returns; handles: the argument
names it accounts for; variants / route: other graphs of the block over the same holder, e.g. Llama's prefill
into a device cache and decode step) registered in `RECIPES` under the HF class name.
"""

from __future__ import annotations

import inspect
import types
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ttfuse import ttnn
from ttfuse.cache import CacheWarning
from ttfuse.errors import MODEL_CODE, ArgumentError, TtfuseError, warn
from ttfuse.jit import JitFunction, jit

__all__ = [
    "jit_blocks",
    "JitBlocks",
    "BlockRecord",
    "BlockParams",
    "Recipe",
    "RECIPES",
    "NotCapturable",
    "device_kv_cache",
]


MODEL_CODE.add(
    inspect.currentframe().f_code.co_filename
)  # the recipes are model code: errors name their line


class NotCapturable(TtfuseError):
    """A block the recipe cannot express as one graph (the per-module path runs instead)."""


def BlockParams(**kw: Any) -> types.SimpleNamespace:  # noqa: N802 - reads as the type it makes
    """The device weights and static sizes a recipe's traced function reads, lifted as jit parameters.

    A plain `types.SimpleNamespace` (ttnn tensors, tuples of them, ints, floats): the jit keys it by content
    (tensors by spec), so blocks of the same shapes share one compiled entry and each call reads its own block's
    tensors. NOTE: not a ttfuse class: the parameter walk (ttfuse/capture/params.py) skips ttfuse's own objects."""
    return types.SimpleNamespace(**kw)


@dataclass
class BlockRecord:
    """What happened to one block: `mode` 'jit' or 'per-module', the reason for the latter, call counts."""

    name: str
    cls: str
    mode: str = "jit"
    reason: str | None = None
    jit_calls: int = 0
    per_module_calls: int = 0
    per_module_reasons: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Recipe:
    """How one HF block class runs as a graph. `params(block, device)`: the holder (`BlockParams`) of the
    block's device weights and sizes, or NotCapturable. `inputs(block, a, device, memo)`: the HF forward's
    torch arguments `a` (bound by name, its **kwargs merged in) as ttnn inputs of `fn` (`memo`: uploads shared
    by the blocks of one forward). `fn(params, *inputs)`: the ttnn function traced by the jit.
    `finish(block, outputs, a)`: what the HF forward returns (torch), with any host-side effect (the KV cache
    update). `variants` / `route`: other graphs over the same holder and the call that takes them. `handles`: the
    argument names the recipe reads or knows to be irrelevant; a call passing any other
    argument (not None) runs the per-module path, so no argument is ever ignored silently."""

    params: Callable[[Any, Any], types.SimpleNamespace]
    inputs: Callable[[Any, dict, Any, dict], tuple]
    fn: Callable
    finish: Callable[[Any, Any, dict], Any]
    handles: frozenset[str]
    # other graphs of the same block and holder (e.g. Llama's decode step), by tag; `route(block, a)` picks the
    # tag of a call ("" = this recipe). Each variant is its own JitFunction ("<class> <tag>" in JitBlocks.functions)
    variants: dict[str, Recipe] = field(default_factory=dict)
    route: Callable[[Any, dict], str] | None = None

    def pick(self, block: Any, a: dict) -> tuple[str, Recipe]:
        tag = self.route(block, a) if self.route is not None else ""
        return tag, (self if not tag else self.variants[tag])


# ------------------------------------------------------------------------------------------ module weights
def _not_theirs(mod: Any, where: str, wanted: str) -> NotCapturable:
    what = (
        "a torch module" if not hasattr(mod, "preprocess_weights") else "a TTNN module with another forward"
    )
    return NotCapturable(
        f"{where} is {type(mod).__name__}, {what}: map it to tt-symbiote's {wanted} so the block's graph can hold it"
    )


def _module(mod: Any, cls: type, where: str) -> None:
    """`mod` must be tt-symbiote's `cls` itself or a subclass running its forward (a sharded linear is not it),
    with its weights on the device (prepared by its own preprocess_weights / move_weights_to_device)."""
    if type(mod).forward is not cls.forward:
        raise _not_theirs(mod, where, cls.__name__)
    if mod.device is None:
        raise NotCapturable(f"{where} has no device: call tt_symbiote.set_device(model, device) first")
    mod.preprocess_weights()
    mod.move_weights_to_device()


def _linear(mod: Any, where: str) -> tuple:
    """(weight, bias or None) device tensors of a tt-symbiote TTNNLinear."""
    from tt_symbiote.modules.ttnn_linear import TTNNLinear

    _module(mod, TTNNLinear, where)
    return mod.tt_weight, mod.tt_bias


def _norm(mod: Any, where: str, kind: str) -> tuple:
    """(weight, bias or None, epsilon) of a tt-symbiote TTNNRMSNorm (kind 'rms') or TTNNLayerNorm ('layer')."""
    from tt_symbiote.modules.ttnn_normalization import TTNNLayerNorm, TTNNRMSNorm

    _module(mod, TTNNRMSNorm if kind == "rms" else TTNNLayerNorm, where)
    layer = mod.torch_layer
    if kind == "rms":
        return mod.tt_weight, None, float(layer.variance_epsilon)
    return mod.tt_weight, mod.tt_bias, float(layer.eps)


def _to_device(t: Any, device: Any) -> Any:
    """A torch tensor as a bf16 TILE device tensor (the conversion tt-symbiote's modules make at their inputs)."""
    import torch

    if t.dtype != torch.bfloat16:
        t = t.to(torch.bfloat16)
    return ttnn.from_torch(t.contiguous(), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT, device=device)


def _to_torch(t: Any, dtype: Any) -> Any:
    return ttnn.to_torch(t).to(dtype)


# ------------------------------------------------------------------------------------------ shared ttnn pieces
def _lin(x, wb):
    return ttnn.linear(x, wb[0], bias=wb[1], memory_config=ttnn.DRAM_MEMORY_CONFIG)


def _qkv_linear(p, h):
    """`h` times the concatenated Q/K/V weights (plus biases): [..., (nh + 2 nkv) d]."""
    w = ttnn.concat([p.q[0], p.k[0], p.v[0]], dim=-1)
    b = None if p.q[1] is None else ttnn.concat([p.q[1], p.k[1], p.v[1]], dim=-1)
    return ttnn.linear(h, w, bias=b, memory_config=ttnn.DRAM_MEMORY_CONFIG)


def _qkv_heads(p, h):
    """Q [B, H, S, d], K and V [B, Hkv, S, d] of `h` [B, S, D]: one linear over the concatenated Q/K/V weights
    (parameter-only work: the jit computes the concatenation once per weight version) and tt-metal's
    nlp_create_qkv_heads, as tt-metal's own Llama code does (HF: three linears, `.view(...).transpose(1, 2)`)."""
    qkv = _qkv_linear(p, ttnn.reshape(h, [h.shape[0], 1, h.shape[1], h.shape[2]]))
    return ttnn.experimental.nlp_create_qkv_heads(
        qkv,
        num_heads=p.n_heads,
        num_kv_heads=p.n_kv,
        transpose_k_heads=False,
        memory_config=ttnn.DRAM_MEMORY_CONFIG,
    )


def _attention(p, q, k, v, mask):
    """SDPA with its heads concatenated in the kernel (`output_concat_heads`: [B, 1, S, H*d]), back to [B, S, H*d]."""
    o = ttnn.transformer.scaled_dot_product_attention(
        q, k, v, attn_mask=mask, is_causal=p.causal and mask is None, scale=p.scale, output_concat_heads=True
    )
    return ttnn.reshape(o, [o.shape[0], o.shape[2], o.shape[3]])


def _mask_input(mask: Any, device: Any) -> Any:
    """HF's 4-D attention mask (bool: True = attend, or additive float) as an additive bf16 device tensor."""
    if mask is None:
        return None
    import torch

    if mask.dtype == torch.bool:
        mask = torch.zeros(mask.shape).masked_fill(~mask, torch.finfo(torch.bfloat16).min)
    return _to_device(mask, device)


# ------------------------------------------------------------------------------------------ Llama decoder layer
def _llama_params(block: Any, device: Any) -> types.SimpleNamespace:
    at, mlp = block.self_attn, block.mlp
    name = type(block).__name__
    act = getattr(mlp.config, "hidden_act", None)
    if act != "silu":
        raise NotCapturable(f"{name}.mlp: activation {act!r}; the recipe handles 'silu'")
    if getattr(at, "sliding_window", None) is not None:  # Qwen2's sliding-attention layers, Mistral
        raise NotCapturable(
            f"{name}.self_attn: sliding-window attention ({at.sliding_window}); the recipe is causal"
        )
    cfg = at.config
    return BlockParams(
        in_norm=_norm(block.input_layernorm, "input_layernorm", "rms"),
        post_norm=_norm(block.post_attention_layernorm, "post_attention_layernorm", "rms"),
        q=_linear(at.q_proj, "self_attn.q_proj"),
        k=_linear(at.k_proj, "self_attn.k_proj"),
        v=_linear(at.v_proj, "self_attn.v_proj"),
        o=_linear(at.o_proj, "self_attn.o_proj"),
        gate=_linear(mlp.gate_proj, "mlp.gate_proj"),
        up=_linear(mlp.up_proj, "mlp.up_proj"),
        down=_linear(mlp.down_proj, "mlp.down_proj"),
        n_heads=int(cfg.num_attention_heads),
        n_kv=int(cfg.num_key_value_heads),
        head_dim=int(at.head_dim),
        scale=float(at.scaling),
        causal=True,
    )


def _llama_inputs(block: Any, a: dict, device: Any, memo: dict) -> tuple:
    cache = a.get("past_key_values")
    if cache is not None and cache.get_seq_length(block.self_attn.layer_idx) > 0:
        raise _PerCall("decode step with a filled KV cache")
    pe = a.get("position_embeddings")
    if pe is None:
        raise _PerCall("no position_embeddings passed (the HF model computes them once per forward)")
    if pe[0].shape[0] != 1:
        raise _PerCall("batched position embeddings")
    cos, sin = _uploaded(
        memo, "rope", tuple(pe), device, lambda ts: [_to_device(t.unsqueeze(1), device) for t in ts]
    )
    return _to_device(a["hidden_states"], device), cos, sin, _mask_input(a.get("attention_mask"), device)


def _rope(x, cos, sin, s: int):
    y = ttnn.experimental.rotary_embedding(x, cos, sin)
    if y.shape[2] != s:  # tt-metal computes on the tile-padded sequence
        y = ttnn.slice(y, [0, 0, 0, 0], [y.shape[0], y.shape[1], s, y.shape[3]])
    return y


def _llama_qkv(p, x, cos, sin):
    """Q, K, V heads of the prefill `x` [B, S, D], Q and K rotated."""
    s = x.shape[1]
    q, k, v = _qkv_heads(p, ttnn.rms_norm(x, weight=p.in_norm[0], epsilon=p.in_norm[2]))
    return _rope(q, cos, sin, s), _rope(k, cos, sin, s), v


def _llama_tail(p, x, attn):
    """The rest of the layer after attention (before o_proj): x + a + mlp(norm(x + a))."""
    a = _lin(attn, p.o)
    h = ttnn.rms_norm(
        a, residual_input_tensor=x, weight=p.post_norm[0], epsilon=p.post_norm[2]
    )  # norm(x + a)
    # silu(gate) * up with the SiLU on the multiply's input (tt-metal's Llama MLP does the same), so the gate and
    # up linears stay plain siblings and fuse horizontally
    h = ttnn.mul(_lin(h, p.gate), _lin(h, p.up), input_tensor_a_activations=[ttnn.UnaryOpType.SILU])
    return ttnn.add(ttnn.add(x, a), _lin(h, p.down))


def llama_decoder_layer(p: types.SimpleNamespace, x, cos, sin, mask):
    """LlamaDecoderLayer.forward (prefill) in ttnn: returns (hidden_states, key_states, value_states)."""
    q, k, v = _llama_qkv(p, x, cos, sin)
    return _llama_tail(p, x, _attention(p, q, k, v, mask)), k, v


def _llama_finish(block: Any, outs: Any, a: dict) -> Any:
    x = a["hidden_states"]
    out, k, v = outs
    cache = a.get("past_key_values")
    if cache is not None:  # what LlamaAttention does with its K/V (after RoPE)
        cache.update(_to_torch(k, x.dtype), _to_torch(v, x.dtype), block.self_attn.layer_idx)
    return _to_torch(out, x.dtype)


# ------------------------------------------------------------------------------------------ ViT encoder layer
def _vit_params(block: Any, device: Any) -> types.SimpleNamespace:
    at, mlp = block.attention, block.mlp
    act = getattr(mlp.config, "hidden_act", None)
    if act != "gelu":
        raise NotCapturable(f"ViTLayer.mlp: activation {act!r}; the recipe handles 'gelu' (exact erf)")
    return BlockParams(
        ln1=_norm(block.layernorm_before, "layernorm_before", "layer"),
        ln2=_norm(block.layernorm_after, "layernorm_after", "layer"),
        q=_linear(at.q_proj, "attention.q_proj"),
        k=_linear(at.k_proj, "attention.k_proj"),
        v=_linear(at.v_proj, "attention.v_proj"),
        o=_linear(at.o_proj, "attention.o_proj"),
        fc1=_linear(mlp.fc1, "mlp.fc1"),
        fc2=_linear(mlp.fc2, "mlp.fc2"),
        n_heads=int(at.num_attention_heads),
        n_kv=int(at.num_attention_heads),
        head_dim=int(at.head_dim),
        scale=float(at.scaling),
        causal=False,
    )


def _vit_inputs(block: Any, a: dict, device: Any, memo: dict) -> tuple:
    return _to_device(a["hidden_states"], device), _mask_input(a.get("attention_mask"), device)


def vit_layer(p: types.SimpleNamespace, x, mask):
    """ViTLayer.forward (eval) in ttnn."""
    h = ttnn.layer_norm(x, weight=p.ln1[0], bias=p.ln1[1], epsilon=p.ln1[2])
    q, k, v = _qkv_heads(p, h)
    a = _lin(_attention(p, q, k, v, mask), p.o)
    h = ttnn.layer_norm(
        a, residual_input_tensor=x, weight=p.ln2[0], bias=p.ln2[1], epsilon=p.ln2[2]
    )  # norm(x + a)
    h = ttnn.gelu(_lin(h, p.fc1))
    return ttnn.add(ttnn.add(a, x), _lin(h, p.fc2))


def _vit_finish(block: Any, out: Any, a: dict) -> Any:
    return _to_torch(out, a["hidden_states"].dtype)


# ------------------------------------------------------------------------------------------ Llama decode (device KV cache)
# A decode step of a Llama/Qwen2 layer is one graph over a KV cache that lives on the device, as tt-metal's
# tt_transformers decode does: the cache is paged ([users * pages, n_kv, 32, d] per layer, an identity page table
# [users, pages]), allocated once at `max_len`; the prefill graph writes its K/V with paged_fill_cache, each decode
# step writes its token's K/V in place with paged_update_cache and attends with paged SDPA decode up to the
# position, which enters as an int32 device tensor: every step has the same input specs, so one compiled entry
# serves every step and layer. The cache is a transformers `Cache` (`device_kv_cache`): HF reads its length for
# the positions and the mask; a call that takes tt-symbiote's per-module path writes and reads it through the host.
_BLOCK = 32  # the page (block) size: one tile of positions


def device_kv_cache(model: Any, device: Any, max_len: int, batch: int = 1) -> Any:
    """A transformers `Cache` holding each decoder layer's K and V on `device` (bf16, paged, `max_len` positions
    for each of `batch` users): pass it as `past_key_values=` to the prefill and to every decode step; the jitted
    blocks write it in place. `max_len` is rounded up to whole pages of 32 positions."""
    where = "ttfuse.symbiote.device_kv_cache"
    for arg, v, hi in (("max_len", max_len, None), ("batch", batch, _BLOCK)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1 or (hi is not None and v > hi):
            raise ArgumentError(f"{where}: argument {arg!r} must be an int in [1, {hi or 'inf'}], got {v!r}")
    cfg = getattr(model, "config", None)
    if cfg is None or getattr(cfg, "num_key_value_heads", None) is None:
        raise ArgumentError(
            f"{where}: argument 'model' must be a HF decoder LLM (a config with num_key_value_heads)"
        )
    return _device_cache_class()(cfg, device, max_len, batch)


_CACHE_CLASS: list = []


def _device_cache_class() -> type:
    """The transformers Cache subclass, made on first use (transformers is imported only by a user of it)."""
    if _CACHE_CLASS:
        return _CACHE_CLASS[0]
    import torch
    from transformers.cache_utils import Cache, CacheLayerMixin

    class DeviceLayer(CacheLayerMixin):
        """One layer's K and V on the device; `length` positions written."""

        is_sliding = False

        def __init__(self, owner: Any):
            super().__init__()
            self.owner, self.length, self.is_initialized = owner, 0, True
            self.k, self.v = owner._zeros(), owner._zeros()

        def lazy_initialization(self, key_states, value_states) -> None:
            return None

        def update(self, key_states, value_states, *args, **kwargs):
            """tt-symbiote's per-module path (HF attention in torch): write the K/V rows into the device cache
            through the host and return the cache's first `length` positions, as DynamicLayer does."""
            o, s = self.owner, key_states.shape[-2]
            o._check_room(self.length, s)
            self.k = o._host_write(self.k, key_states, self.length)
            self.v = o._host_write(self.v, value_states, self.length)
            self.length += s
            return o._host_read(self.k, self.length, key_states.dtype), o._host_read(
                self.v, self.length, value_states.dtype
            )

        def get_mask_sizes(self, query_length: int) -> tuple[int, int]:
            return self.length + query_length, 0

        def get_seq_length(self) -> int:
            return self.length

        def get_max_cache_shape(self) -> int:
            return self.owner.max_len

    class DeviceKVCache(Cache):
        """Per layer a paged K and V cache on the device (see `device_kv_cache`)."""

        def __init__(self, cfg: Any, device: Any, max_len: int, batch: int):
            self.device, self.batch = device, batch
            self.pages = -(-max_len // _BLOCK)
            self.max_len = self.pages * _BLOCK
            self.n_kv = int(cfg.num_key_value_heads)
            self.head_dim = int(getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads)
            table = torch.arange(batch * self.pages, dtype=torch.int32).reshape(batch, self.pages)
            self.page_table = _int_input(table, device)
            self._pos: tuple | None = None  # (position, its device tensor)
            super().__init__(layers=[DeviceLayer(self) for _ in range(cfg.num_hidden_layers)])

        def _zeros(self) -> Any:
            shape = (self.batch * self.pages, self.n_kv, _BLOCK, self.head_dim)
            return _to_device(torch.zeros(shape, dtype=torch.bfloat16), self.device)

        def _check_room(self, length: int, s: int) -> None:
            if length + s > self.max_len:
                raise TtfuseError(
                    f"ttfuse.symbiote.device_kv_cache: {length + s} positions do not fit the cache's max_len "
                    f"{self.max_len}: make it with a larger max_len"
                )

        def _sequence(self, t: Any) -> Any:
            """[users * pages, n_kv, 32, d] device -> [users, n_kv, max_len, d] torch (float32)."""
            c = ttnn.to_torch(t).float().reshape(self.batch, self.pages, self.n_kv, _BLOCK, self.head_dim)
            return c.permute(0, 2, 1, 3, 4).reshape(self.batch, self.n_kv, self.max_len, self.head_dim)

        def _host_write(self, t: Any, rows: Any, at: int) -> Any:
            seq = self._sequence(t)
            seq[:, :, at : at + rows.shape[-2]] = rows.float()
            paged = seq.reshape(self.batch, self.n_kv, self.pages, _BLOCK, self.head_dim).permute(
                0, 2, 1, 3, 4
            )
            return _to_device(paged.reshape(-1, self.n_kv, _BLOCK, self.head_dim), self.device)

        def _host_read(self, t: Any, length: int, dtype: Any) -> Any:
            return self._sequence(t)[:, :, :length].to(dtype)

        def position(self, pos: int) -> Any:
            """The decode position of every user as an int32 device tensor [users] (one upload per step)."""
            if self._pos is None or self._pos[0] != pos:
                self._pos = (pos, _int_input(torch.full((self.batch,), pos, dtype=torch.int32), self.device))
            return self._pos[1]

    DeviceKVCache._ttfuse_device_cache = True
    _CACHE_CLASS.append(DeviceKVCache)
    return DeviceKVCache


def _int_input(t: Any, device: Any) -> Any:
    return ttnn.from_torch(t, dtype=ttnn.int32, layout=ttnn.ROW_MAJOR_LAYOUT, device=device)


def _device_cache(a: dict) -> Any:
    cache = a.get("past_key_values")
    return cache if getattr(cache, "_ttfuse_device_cache", False) else None


def _llama_route(block: Any, a: dict) -> str:
    """ "" (prefill, K/V to HF's host cache), "prefill" (into a device cache) or "decode" (a device cache)."""
    cache = _device_cache(a)
    if cache is None:
        return ""
    return "decode" if cache.get_seq_length(block.self_attn.layer_idx) > 0 else "prefill"


def _per_user_mc(users: int, d: int) -> Any:
    """HEIGHT_SHARDED L1, one user's [32, d] tile per core: the decode layout of heads and of RoPE's cos/sin."""
    grid = ttnn.num_cores_to_corerangeset(users, ttnn.CoreCoord(8, 8), True)
    return ttnn.MemoryConfig(
        ttnn.TensorMemoryLayout.HEIGHT_SHARDED,
        ttnn.BufferType.L1,
        ttnn.ShardSpec(grid, (_BLOCK, d), ttnn.ShardOrientation.ROW_MAJOR),
    )


def _cache_inputs(cache: Any, layer: int) -> tuple:
    lay = cache.layers[layer]
    return lay.k, lay.v, cache.page_table


def _llama_prefill_inputs(block: Any, a: dict, device: Any, memo: dict) -> tuple:
    cache = _device_cache(a)
    cache._check_room(0, a["hidden_states"].shape[1])
    if a["hidden_states"].shape[0] != cache.batch:
        raise _PerCall(f"batch {a['hidden_states'].shape[0]}; the device cache holds {cache.batch} users")
    return (*_llama_inputs(block, a, device, memo), *_cache_inputs(cache, block.self_attn.layer_idx))


def llama_prefill_to_cache(p: types.SimpleNamespace, x, cos, sin, mask, kc, vc, table):
    """The prefill layer writing its K/V into the paged device cache (paged_fill_cache, one call per user)."""
    q, k, v = _llama_qkv(p, x, cos, sin)
    for cache, t in ((kc, k), (vc, v)):
        for b in range(t.shape[0]):
            row = t if t.shape[0] == 1 else ttnn.slice(t, [b, 0, 0, 0], [b + 1, *t.shape[1:]])
            ttnn.experimental.paged_fill_cache(cache, row, table, batch_idx=b)
    return _llama_tail(p, x, _attention(p, q, k, v, mask))


def _llama_decode_inputs(block: Any, a: dict, device: Any, memo: dict) -> tuple:
    import torch

    cache = _device_cache(a)
    layer = block.self_attn.layer_idx
    x, pos = a["hidden_states"], cache.get_seq_length(layer)
    users = x.shape[0]
    if x.shape[1] != 1:
        raise _PerCall(f"{x.shape[1]} new positions after a filled device cache (the decode graph takes one)")
    if users != cache.batch:
        raise _PerCall(f"batch {users}; the device cache holds {cache.batch} users")
    cache._check_room(pos, 1)
    # the rotary positions are HF's (position_embeddings, from position_ids); the cache slot is the cache length,
    # as in HF's own caches
    mask = a.get("attention_mask")
    if mask is not None and not bool((mask if mask.dtype == torch.bool else mask == 0).all()):
        raise _PerCall(
            "a decode step with a padding mask (the decode graph attends to every cached position)"
        )
    pe = a.get("position_embeddings")
    if pe is None:
        raise _PerCall("no position_embeddings passed (the HF model computes them once per forward)")
    d = pe[0].shape[-1]
    mc = _per_user_mc(users, d)

    def upload(ts):  # cos/sin [1 or B, 1, d] -> [1, B, 1, d], one user's row per core
        return [
            ttnn.from_torch(
                t.expand(users, 1, d).reshape(1, users, 1, d).to(torch.bfloat16).contiguous(),
                dtype=ttnn.bfloat16,
                layout=ttnn.TILE_LAYOUT,
                device=device,
                memory_config=mc,
            )
            for t in ts
        ]

    cos, sin = _uploaded(memo, "rope decode", tuple(pe), device, upload)
    h = _to_device(x.reshape(1, 1, users, x.shape[-1]), device)
    return (h, cos, sin, cache.position(pos), *_cache_inputs(cache, layer))


def llama_decode_step(p: types.SimpleNamespace, x, cos, sin, pos, kc, vc, table):
    """One decode step of LlamaDecoderLayer in ttnn, `x` [1, 1, users, D], as tt-metal's Llama decode: fused QKV
    linear, nlp_create_qkv_heads_decode, RoPE (HF's rotate-half form, decode mode), paged_update_cache of K and V
    at `pos` (in place), paged SDPA decode up to `pos`, nlp_concat_heads_decode, then the same tail as prefill."""
    users = x.shape[2]
    h = ttnn.rms_norm(x, weight=p.in_norm[0], epsilon=p.in_norm[2])
    q, k, v = ttnn.experimental.nlp_create_qkv_heads_decode(
        _qkv_linear(p, h),
        num_heads=p.n_heads,
        num_kv_heads=p.n_kv,
        memory_config=ttnn.L1_HEIGHT_SHARDED_MEMORY_CONFIG,
    )
    heads_mc = q.memory_config()
    # NOTE: explicit memory configs: the jit re-places a None memory_config as interleaved, which
    # paged_update_cache (sharded input only) rejects
    q = ttnn.experimental.rotary_embedding_hf(q, cos, sin, is_decode_mode=True, memory_config=heads_mc)
    k = ttnn.experimental.rotary_embedding_hf(
        k, cos, sin, is_decode_mode=True, memory_config=k.memory_config()
    )
    ttnn.experimental.paged_update_cache(kc, k, update_idxs_tensor=pos, page_table=table)
    ttnn.experimental.paged_update_cache(vc, v, update_idxs_tensor=pos, page_table=table)
    # q stays height-sharded (SDPA decode reads it so); the output is interleaved (GQA: no sharded output), sharded
    # per user again for nlp_concat_heads_decode, whose [1, 1, 32 (users padded to a tile), H d] is sliced back
    o = ttnn.transformer.paged_scaled_dot_product_attention_decode(
        q, kc, vc, table, cur_pos_tensor=pos, scale=p.scale, memory_config=ttnn.DRAM_MEMORY_CONFIG
    )
    o = ttnn.experimental.nlp_concat_heads_decode(ttnn.to_memory_config(o, heads_mc), num_heads=p.n_heads)
    o = ttnn.slice(o, [0, 0, 0, 0], [1, 1, users, o.shape[3]], memory_config=ttnn.DRAM_MEMORY_CONFIG)
    return _llama_tail(p, x, o)


def _llama_to_cache_finish(block: Any, out: Any, a: dict) -> Any:
    """The device cache holds the new positions now (written by the graph)."""
    x = a["hidden_states"]
    _device_cache(a).layers[block.self_attn.layer_idx].length += x.shape[1]
    return _to_torch(out, x.dtype).reshape(x.shape)


_LLAMA_HANDLES = frozenset(
    {"hidden_states", "attention_mask", "position_ids", "past_key_values", "use_cache", "position_embeddings"}
)
_LLAMA_DECODE_VARIANTS = {
    "prefill": Recipe(
        _llama_params, _llama_prefill_inputs, llama_prefill_to_cache, _llama_to_cache_finish, _LLAMA_HANDLES
    ),
    "decode": Recipe(
        _llama_params, _llama_decode_inputs, llama_decode_step, _llama_to_cache_finish, _LLAMA_HANDLES
    ),
}


# ------------------------------------------------------------------------------------------ ResNet residual block
def _conv_settings() -> dict:
    """{tt-symbiote conv module forward: the Conv2dConfiguration keywords it builds its TtConv2d with}
    (tt_symbiote/modules/ttnn_conv.py: TTNNConv2dNHWC.forward, run by TTNNConv2dBNNHWC, uses the defaults;
    TTNNConv2dBNActivationNHWC.forward fuses the ReLU and asks HiFi2 with an fp32 accumulator)."""
    from tt_symbiote.modules.ttnn_conv import TTNNConv2dBNActivationNHWC, TTNNConv2dNHWC

    return {
        TTNNConv2dNHWC.forward: {},
        TTNNConv2dBNActivationNHWC.forward: {
            "activation": ttnn.UnaryOpType.RELU,
            "math_fidelity": ttnn.MathFidelity.HiFi2,
            "fp32_dest_acc_en": True,
        },
    }


def _conv(mod: Any, where: str, device: Any) -> tuple:
    """(OIHW weight, bias [1, 1, 1, OC] or None, geometry, Conv2dConfig, compute config) of a tt-symbiote
    TTNNConv2dBNNHWC / TTNNConv2dBNActivationNHWC (BatchNorm folded by its own preprocess_weights): its host
    weights copied to the device (the graph prepares them once, as its TtConv2d keeps conv2d's prepared
    weights), and the configs made by tt-symbiote's own builder (tt_cnn/builder.py) from its own settings."""
    from tt_symbiote.modules.tt_cnn.builder import Conv2dConfiguration, to_compute_config, to_conv2d_config

    settings = _conv_settings().get(type(mod).forward)
    if settings is None:
        raise _not_theirs(mod, where, "TTNNConv2dBNNHWC or TTNNConv2dBNActivationNHWC")
    if mod.slice_config is not None:
        raise NotCapturable(f"{where}: slice_config {mod.slice_config!r}; the recipe runs unsliced convs")
    if mod.device is None:
        raise NotCapturable(f"{where} has no device: call tt_symbiote.set_device(model, device) first")
    mod.preprocess_weights()
    mod.move_weights_to_device()
    k, s, pad, dil = (tuple(v) for v in (mod.kernel_size, mod.stride, mod.padding, mod.dilation))
    # the configs do not depend on the input's size: tt-symbiote builds them per input shape, the same each time
    cfg = Conv2dConfiguration(
        input_height=1,
        input_width=1,
        in_channels=mod.in_channels,
        out_channels=mod.out_channels,
        batch_size=1,
        kernel_size=k,
        stride=s,
        padding=pad,
        groups=mod.groups,
        dilation=dil,
        weight=mod.tt_weight,
        bias=mod.tt_bias,
        **settings,
    )
    bias = None if mod.tt_bias is None else ttnn.to_device(mod.tt_bias, device)
    geometry = (int(mod.in_channels), int(mod.out_channels), k, s, pad, dil, int(mod.groups))
    conv_cfg, compute_cfg = to_conv2d_config(cfg), to_compute_config(cfg, device)
    return ttnn.to_device(mod.tt_weight, device), bias, geometry, conv_cfg, compute_cfg


def _resnet_params(block: Any, device: Any) -> types.SimpleNamespace:
    name = type(block).__name__
    act = block.activation
    if type(act).__name__ not in ("ReLU", "TTNNReLU"):
        raise NotCapturable(f"{name}.activation is {type(act).__name__}; the recipe handles ReLU")
    shortcut = block.shortcut
    if type(shortcut).__name__ == "Identity":
        shortcut = None
    return BlockParams(
        convs=tuple(_conv(m, f"layer.{i}", device) for i, m in enumerate(block.layer)),
        shortcut=None if shortcut is None else _conv(shortcut, "shortcut", device),
    )


def _resnet_inputs(block: Any, a: dict, device: Any, memo: dict) -> tuple:
    x = a["hidden_state"]
    if x.dim() != 4:
        raise _PerCall(f"hidden_state of rank {x.dim()}: the block takes tt-symbiote's NHWC activations")
    return (_to_device(x, device),)


def _conv2d(x, c: tuple, n: int, h: int, w: int):
    """tt-symbiote's TtConv2d call (tt_cnn/builder.py) on a flattened NHWC activation of batch n, size h x w:
    its weights and bias prepared by ttnn.prepare_conv_weights / prepare_conv_bias (parameter-only work: the
    jit's prologue runs it once per weight version); returns (output [1, 1, n*oh*ow, oc], oh, ow)."""
    weight, bias, (ic, oc, k, s, pad, dil, groups), conv_cfg, compute_cfg = c
    common = {
        "in_channels": ic,
        "out_channels": oc,
        "batch_size": n,
        "input_height": h,
        "input_width": w,
        "kernel_size": k,
        "stride": s,
        "padding": pad,
        "dilation": dil,
        "groups": groups,
        "device": x.device(),
        "conv_config": conv_cfg,
        "compute_config": compute_cfg,
        "slice_config": None,
    }
    where = {"input_memory_config": x.memory_config(), "input_layout": x.layout, "input_dtype": x.dtype}
    weight = ttnn.prepare_conv_weights(
        weight_tensor=weight, weights_format="OIHW", has_bias=bias is not None, **where, **common
    )
    if bias is not None:
        bias = ttnn.prepare_conv_bias(bias_tensor=bias, **where, **common)
    out, (oh, ow) = ttnn.conv2d(
        input_tensor=x,
        weight_tensor=weight,
        bias_tensor=bias,
        dtype=ttnn.bfloat16,
        return_output_dim=True,
        **common,
    )
    return out, oh, ow


def resnet_layer(p: types.SimpleNamespace, x):
    """ResNetBasicLayer / ResNetBottleNeckLayer.forward (eval) in ttnn on NHWC activations: the convs (BatchNorm
    folded, ReLU fused where tt-symbiote's module fuses it; conv2d takes [N, H, W, C] and gives the flattened
    [1, 1, N*OH*OW, C]), the shortcut (a conv, or the input), relu(h + residual), as [N, OH, OW, C]. One reshape:
    after the add when the shortcut is a conv, before it when the residual is the input itself."""
    n, h, w, _ = x.shape
    y, oh, ow = x, h, w
    for conv in p.convs:
        y, oh, ow = _conv2d(y, conv, n, oh, ow)
    if p.shortcut is None:
        y, residual = ttnn.reshape(y, [n, oh, ow, y.shape[-1]]), x
    else:
        residual = _conv2d(x, p.shortcut, n, h, w)[0]
    y = ttnn.relu(
        ttnn.add(y, residual)
    )  # the pass fuses the relu into the add (HF: `+=` then the activation)
    return y if p.shortcut is None else ttnn.reshape(y, [n, oh, ow, y.shape[-1]])


def _resnet_finish(block: Any, out: Any, a: dict) -> Any:
    return _to_torch(out, a["hidden_state"].dtype)


_RESNET = Recipe(_resnet_params, _resnet_inputs, resnet_layer, _resnet_finish, frozenset({"hidden_state"}))

# position_ids and use_cache: the positions are in position_embeddings, the cache is updated when passed
# (a host DynamicCache: from the graph's K/V; a device_kv_cache: by the "prefill" / "decode" variants' graphs)
_LLAMA = Recipe(
    _llama_params,
    _llama_inputs,
    llama_decoder_layer,
    _llama_finish,
    _LLAMA_HANDLES,
    variants=_LLAMA_DECODE_VARIANTS,
    route=_llama_route,
)
RECIPES: dict[str, Recipe] = {
    "LlamaDecoderLayer": _LLAMA,
    "Qwen2DecoderLayer": _LLAMA,  # Llama's structure with Q/K/V biases (concatenated with the weights)
    "ViTLayer": Recipe(
        _vit_params, _vit_inputs, vit_layer, _vit_finish, frozenset({"hidden_states", "attention_mask"})
    ),
    # tt-symbiote's CNN modules inside: the convs of `layer` and `shortcut` mapped to its TTNNConv2dBN*NHWC
    "ResNetBasicLayer": _RESNET,
    "ResNetBottleNeckLayer": _RESNET,
}


# ------------------------------------------------------------------------------------------ the wrapper
class _PerCall(Exception):
    """This call takes the per-module path (the block stays jitted for other calls)."""


def _uploaded(memo: dict, key: str, ts: tuple, device: Any, make: Callable) -> Any:
    """`make(ts)` once per model forward: HF computes RoPE cos/sin once and passes the same tensors to every
    layer, so the upload is kept (with the torch tensors, by identity) until other tensors come."""
    got = memo.get(key)
    if got is not None and got[2] is device and all(a is b for a, b in zip(got[0], ts, strict=True)):
        return got[1]
    out = make(ts)
    memo[key] = (ts, out, device)
    return out


class JitBlocks:
    """The blocks `jit_blocks` replaced: `records` (name -> BlockRecord), `functions` (HF class name -> the
    JitFunction shared by its blocks), `report()`, `lower(name, *args, **kwargs)` (the compiled artifact of one
    block), `restore()` (put the original forwards back)."""

    def __init__(self, functions: dict[str, Callable]):
        self.functions = functions
        self.records: dict[str, BlockRecord] = {}
        self.memo: dict = {}  # uploads shared by the blocks of one forward (RoPE cos/sin)
        self._wrappers: dict[str, _JitBlock] = {}
        self._originals: list[tuple[Any, Any]] = []

    def report(self) -> dict:
        recs = list(self.records.values())
        return {
            "blocks": len(recs),
            "jit": sorted(r.name for r in recs if r.mode == "jit"),
            "per_module": {r.name: r.reason for r in recs if r.mode != "jit"},
            "jit_calls": sum(r.jit_calls for r in recs),
            "per_module_calls": sum(r.per_module_calls for r in recs),
            "compiled_entries": {k: getattr(f, "num_entries", 0) for k, f in self.functions.items()},
        }

    def lower(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """The `Lowered` artifact of block `name` for these forward arguments (torch, as HF passes them): IR
        before and after the passes, the generated code and its parameter prologue, the cost; runs nothing."""
        fwd = self._wrappers[name]
        if not isinstance(fwd.fn, JitFunction):
            raise TtfuseError(f"ttfuse.symbiote: block {name} runs op by op (jit_blocks(..., eager=True))")
        dev = fwd._device()
        a = fwd._arguments(args, kwargs)
        tag, recipe = fwd.recipe.pick(fwd.block, a)
        inputs = recipe.inputs(fwd.block, a, dev, {})
        return fwd.fns[tag].lower(fwd._params(dev), *inputs)

    def restore(self) -> None:
        for block, had in self._originals:
            if had is None:
                block.__dict__.pop("forward", None)
            else:
                block.forward = had
        self._originals.clear()


_HOLDER_NOTE = r".*\(a types\.SimpleNamespace\) is unhashable, so calls recognise it by identity"


class _JitBlock:
    """The replaced `forward` of one block: the compiled graph, or the original forward with the reason."""

    def __init__(
        self, blocks: JitBlocks, name: str, block: Any, recipe: Recipe, fns: dict[str, Callable], device
    ):
        self.blocks, self.block, self.recipe, self.fns, self.device = blocks, block, recipe, fns, device
        self.fn = fns[""]
        self.original = block.forward
        self.signature = inspect.signature(self.original)
        self.record = blocks.records[name] = BlockRecord(name, type(block).__name__)
        blocks._wrappers[name] = self
        self.params: types.SimpleNamespace | None = None
        self._watch: list = []  # (TTNN module, its tt_weight, its tt_bias) when the holder was built
        self.quiet = False  # the first call of the block has run (see _HOLDER_NOTE)

    def _device(self) -> Any:
        if self.device is not None:
            return self.device
        for m in _ttnn_modules(self.block):
            if m.device is not None:
                return m.device
        raise NotCapturable("no device: pass device= or call tt_symbiote.set_device(model, device) first")

    def __call__(self, *args, **kwargs):
        rec = self.record
        if rec.mode != "jit":
            rec.per_module_calls += 1
            return self.original(*args, **kwargs)
        try:
            a = self._arguments(args, kwargs)
            if self.block.training:
                raise _PerCall("training mode (dropout)")
            dev = self._device()
            tag, recipe = self.recipe.pick(self.block, a)
            inputs = recipe.inputs(self.block, a, dev, self.blocks.memo)
            params = self._params(dev)
            fn = self.fns[tag]
        except _PerCall as e:
            return self._per_module(str(e), args, kwargs)
        except Exception as e:  # noqa: BLE001 - any failure to prepare the block: its per-module path runs
            return self._fail(e, args, kwargs)
        try:
            if self.quiet:
                outs = fn(params, *inputs)
            else:
                with warnings.catch_warnings():
                    # NOTE: the holder is unhashable by design (a SimpleNamespace: see BlockParams), so the jit
                    # recognises each block's holder by identity and keys it by content, as intended: not news
                    warnings.filterwarnings("ignore", message=_HOLDER_NOTE, category=CacheWarning)
                    outs = fn(params, *inputs)
                self.quiet = True
        except Exception as e:  # noqa: BLE001 - the function is pure (inputs are fresh uploads; what a failed
            # call wrote into a device cache, the per-module path writes again at the same positions): safe to rerun
            return self._fail(e, args, kwargs)
        rec.jit_calls += 1
        return recipe.finish(self.block, outs, a)

    def _params(self, device: Any) -> types.SimpleNamespace:
        """The block's holder, rebuilt when tt-symbiote replaced a module's device weights since (its
        `deallocate_weights()` then `move_weights_to_device()` make new tensors): a stale holder would read freed
        tensors. The rebuilt holder has the same content, so the compiled entry is the same."""
        stale = self.params is None or any(
            not m.__dict__.get("_weights_on_device")
            or m.__dict__.get("tt_weight") is not w
            or m.__dict__.get("tt_bias") is not b
            for m, w, b in self._watch
        )
        if stale:
            self.params = self.recipe.params(self.block, device)
            mods = dict.fromkeys(_ttnn_modules(self.block))
            self._watch = [(m, m.__dict__.get("tt_weight"), m.__dict__.get("tt_bias")) for m in mods]
        return self.params

    def _arguments(self, args: tuple, kwargs: dict) -> dict:
        """The call's arguments by name (the original forward's signature; its **kwargs merged in), or _PerCall
        naming one the recipe does not handle."""
        bound = self.signature.bind(*args, **kwargs)
        a: dict = {}
        for name, v in bound.arguments.items():
            kind = self.signature.parameters[name].kind
            a.update(v if kind is inspect.Parameter.VAR_KEYWORD else {name: v})
        for name, v in a.items():
            if v is not None and name not in self.recipe.handles:
                raise _PerCall(f"argument {name!r} (the recipe handles {sorted(self.recipe.handles)})")
        return a

    def _per_module(self, why: str, args, kwargs):
        rec = self.record
        rec.per_module_calls += 1
        rec.per_module_reasons[why] = rec.per_module_reasons.get(why, 0) + 1
        return self.original(*args, **kwargs)

    def _fail(self, e: Exception, args, kwargs):
        rec = self.record
        rec.mode = "per-module"
        rec.reason = f"{type(e).__name__}: {e}"
        warn(
            f"ttfuse.symbiote: block {rec.name} ({rec.cls}) cannot run as one compiled graph, so it runs "
            f"tt-symbiote's per-module path from now on: {rec.reason}"
        )
        return self._per_module("capture failed", args, kwargs)


def _ttnn_modules(block: Any):
    from tt_symbiote.core.module import TTNNModule

    for m in block.modules():
        if isinstance(m, TTNNModule):
            yield m
    for v in vars(block).values():
        if isinstance(v, TTNNModule):
            yield v


_FUNCTIONS: dict = {}  # (recipe function, options) -> its JitFunction, shared by every model of the process


def _jit_of(fn: Callable, options: dict) -> JitFunction:
    """One JitFunction per recipe function and options: every model's blocks of a shape share its entries."""
    key = (fn, tuple(sorted((k, repr(v)) for k, v in options.items())))
    got = _FUNCTIONS.get(key)
    if got is None:
        got = _FUNCTIONS[key] = jit(fn, **options)
    return got


def jit_blocks(
    model: Any,
    block_types: tuple | None = None,
    *,
    device: Any = None,
    recipes: dict[str, Recipe] | None = None,
    eager: bool = False,
    **jit_options: Any,
) -> JitBlocks:
    """Replace the forward of every block of `model` whose class has a recipe (or of `block_types`, classes or
    class names) with one `@ttfuse.jit` graph over the block; returns the JitBlocks ledger.

    Call after `tt_symbiote.register_modules` and `tt_symbiote.set_device` (or pass `device`). `recipes` adds or
    overrides recipes by class name; `eager=True` runs each recipe's ttnn function op by op (the same graph, not
    compiled: the baseline the JIT is measured against); other keywords are `ttfuse.jit` options (`max_grid`,
    `math_fidelity`, ...).
    A block type with no recipe raises ttfuse's ArgumentError naming it."""
    from ttfuse.errors import ArgumentError

    table = {**RECIPES, **(recipes or {})}
    if block_types is None:  # the recipe types the model has
        wanted = {type(m).__name__ for _, m in model.named_modules()} & set(table)
    else:
        wanted = {t if isinstance(t, str) else t.__name__ for t in block_types}
        missing = sorted(wanted - set(table))
        if missing:
            raise ArgumentError(
                f"ttfuse.symbiote.jit_blocks: argument 'block_types' names {missing}, which have no recipe; "
                f"known: {sorted(table)} (add one with recipes={{name: Recipe(...)}})"
            )
    functions: dict[str, Callable] = {}
    fns_of: dict[str, dict[str, Callable]] = {}
    for n in sorted(wanted):
        fns_of[n] = {}
        for tag, r in (("", table[n]), *table[n].variants.items()):
            f = fns_of[n][tag] = r.fn if eager else _jit_of(r.fn, jit_options)
            functions[f"{n} {tag}" if tag else n] = f
    blocks = JitBlocks(functions)
    for name, mod in model.named_modules():
        cls = type(mod).__name__
        if cls in wanted:
            if isinstance(mod.__dict__.get("forward"), _JitBlock):  # jitted before: wrap the original forward
                mod.__dict__.pop("forward")
            blocks._originals.append((mod, mod.__dict__.get("forward")))
            mod.forward = _JitBlock(blocks, name, mod, table[cls], fns_of[cls], device)
    return blocks
