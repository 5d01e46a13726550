"""CLIP text encoder of SD1.4: port of transformers' `CLIPTextModel` (`last_hidden_state`).

Embedding: on the device, `ttnn.embedding` of the token ids and of the position ids (uint32, ROW_MAJOR) in the
bfloat16 ROW_MAJOR tables (ttnn's weight form), summed in TILE layout (one jitted block, `embed`). Then pre-norm
encoder layers (LayerNorm -> fused q|k|v linear -> causal SDPA -> out_proj -> residual; LayerNorm ->
fc1 -> quick_gelu -> fc2 -> residual), then the final LayerNorm.

Padding: the sequence (77 for SD1.4) is padded at the END to a tile multiple (token id and position 0 there);
attention is causal, so padded tokens never reach real ones, and the output is cropped back. Head dims that are not a tile multiple are
zero-padded per head (q/k/v columns, out_proj rows), with the softmax scale kept at the real head dim.
"""

from __future__ import annotations

import torch

from models.sd14.common import (
    TILE,
    Port,
    _t,
    linear_weight,
    norm_weights,
    pad_head_cols,
    round_up,
    to_host,
    upload,
    vector,
)
from ttfuse import ttnn

QUICK_GELU_ALPHA = 1.702  # transformers' QuickGELUActivation: x * sigmoid(1.702 x)


def mlp_activation(h, *, act: str):
    if act == "quick_gelu":
        return ttnn.multiply(h, ttnn.sigmoid(ttnn.multiply(h, QUICK_GELU_ALPHA)))
    return ttnn.gelu(h)  # "gelu" (exact erf form)


def encoder_layer(
    x, ln1_w, ln1_b, qkv_w, qkv_b, out_w, out_b, ln2_w, ln2_b, fc1_w, fc1_b, fc2_w, fc2_b, *,
    heads: int, scale: float, eps: float, act: str, dtype, cfg,
):  # fmt: skip
    """One CLIPEncoderLayer: x [B, S, D] -> [B, S, D] (S a tile multiple, padding at the end)."""
    h = ttnn.layer_norm(x, epsilon=eps, weight=ln1_w, bias=ln1_b, compute_kernel_config=cfg)
    qkv = ttnn.linear(h, qkv_w, bias=qkv_b, dtype=dtype, compute_kernel_config=cfg)
    q, k, v = ttnn.transformer.split_query_key_value_and_split_heads(
        qkv, num_heads=heads, transpose_key=False
    )
    o = ttnn.transformer.scaled_dot_product_attention(
        q, k, v, is_causal=True, scale=scale, compute_kernel_config=cfg
    )
    o = ttnn.linear(
        ttnn.transformer.concatenate_heads(o), out_w, bias=out_b, dtype=dtype, compute_kernel_config=cfg
    )
    x = ttnn.add(x, o)
    h = ttnn.layer_norm(x, epsilon=eps, weight=ln2_w, bias=ln2_b, compute_kernel_config=cfg)
    h = ttnn.linear(h, fc1_w, bias=fc1_b, dtype=dtype, compute_kernel_config=cfg)
    h = ttnn.linear(mlp_activation(h, act=act), fc2_w, bias=fc2_b, dtype=dtype, compute_kernel_config=cfg)
    return ttnn.add(x, h)


def embed(ids, positions, token_table, position_table):
    """Token + position embedding: ids [B, S], positions [1, S] (uint32) -> [B, S, D] TILE."""
    tok = ttnn.embedding(ids, token_table, layout=ttnn.TILE_LAYOUT)
    pos = ttnn.embedding(positions, position_table, layout=ttnn.TILE_LAYOUT)
    return ttnn.add(tok, pos)


def final_norm(x, w, b, *, eps: float, cfg):
    return ttnn.layer_norm(x, epsilon=eps, weight=w, bias=b, compute_kernel_config=cfg)


class CLIPEncoderLayer(Port):
    """Port of transformers' `CLIPEncoderLayer` (causal self-attention, as CLIPTextModel runs it)."""

    def load(self, ref) -> None:
        attn = ref.self_attn
        self.heads, hd = attn.num_heads, attn.head_dim
        self.scale = float(attn.scale)
        self.eps = float(ref.layer_norm1.eps)
        self.act = ref.mlp.config.hidden_act
        if self.act not in ("quick_gelu", "gelu"):
            raise ValueError(f"CLIPEncoderLayer: hidden_act {self.act!r} is not ported (quick_gelu, gelu)")
        p = round_up(hd, TILE)
        qkv_w = torch.cat([pad_head_cols(_t(m.weight).t(), self.heads, hd, p) for m in (attn.q_proj, attn.k_proj, attn.v_proj)], -1)  # fmt: skip
        qkv_b = torch.cat([pad_head_cols(_t(m.bias), self.heads, hd, p) for m in (attn.q_proj, attn.k_proj, attn.v_proj)])  # fmt: skip
        out_w = _t(attn.out_proj.weight).t()  # [H*hd, D] -> zero rows for the padded head dims
        out_w = pad_head_cols(out_w.t(), self.heads, hd, p).t()
        dev, dt = self.device, self.dtype
        self.weights = (
            *norm_weights(ref.layer_norm1, dev),
            upload(qkv_w, dev, dt),
            vector(qkv_b, dev),
            upload(out_w, dev, dt),
            vector(attn.out_proj.bias, dev),
            *norm_weights(ref.layer_norm2, dev),
            linear_weight(ref.mlp.fc1.weight, dev, dt),
            vector(ref.mlp.fc1.bias, dev),
            linear_weight(ref.mlp.fc2.weight, dev, dt),
            vector(ref.mlp.fc2.bias, dev),
        )

    def static(self) -> dict:
        return {"heads": self.heads, "scale": self.scale, "eps": self.eps, "act": self.act, "dtype": self.dtype, "cfg": self.cfg}  # fmt: skip

    def forward_ttnn(self, x):
        return self.run(encoder_layer, x, *self.weights, **self.static())


class CLIPTextModel(Port):
    """Port of transformers' `CLIPTextModel`: `port(input_ids [B, S]) -> last_hidden_state [B, S, D]` (float32).

    No attention mask (SD1.4 pads prompts to 77 tokens and runs the encoder unmasked, causal only);
    `pooled_output(input_ids, last_hidden_state)` reproduces transformers' pooler_output on the host."""

    def load(self, ref) -> None:
        self.config = ref.config
        emb = ref.embeddings
        self.tables = tuple(
            ttnn.from_torch(
                _t(e.weight), dtype=ttnn.bfloat16, layout=ttnn.ROW_MAJOR_LAYOUT, device=self.device
            )
            for e in (emb.token_embedding, emb.position_embedding)
        )
        self.max_positions = emb.position_embedding.weight.shape[0]
        self.layers = [CLIPEncoderLayer.from_torch(lyr, self.device, dtype=self.dtype, jit=self.jit) for lyr in ref.encoder.layers]  # fmt: skip
        self.final = norm_weights(ref.final_layer_norm, self.device)
        self.eps = float(ref.final_layer_norm.eps)

    def embed(self, input_ids: torch.Tensor):
        """Token + position embedding on the device: input_ids [B, S] -> [B, S', D] (S' = S padded to a tile
        multiple at the end, token id and position 0 there)."""
        s = input_ids.shape[-1]
        if s > self.max_positions:
            raise ValueError(
                f"CLIPTextModel: input_ids has {s} tokens, more than max_position_embeddings {self.max_positions}"
            )
        pad = round_up(s) - s
        ids = torch.nn.functional.pad(input_ids.long(), (0, pad))
        positions = torch.nn.functional.pad(torch.arange(s), (0, pad)).reshape(1, -1)

        def put(t):
            return ttnn.from_torch(
                t.int(), dtype=ttnn.uint32, layout=ttnn.ROW_MAJOR_LAYOUT, device=self.device
            )

        return self.run(embed, put(ids), put(positions), *self.tables)

    def forward_ttnn(self, x):
        """x [B, S, D] (S a tile multiple, padding at the end) -> last hidden state [B, S, D]."""
        for layer in self.layers:
            x = layer.forward_ttnn(x)
        return final_norm(x, *self.final, eps=self.eps, cfg=self.cfg)

    def __call__(self, input_ids: torch.Tensor, attention_mask=None) -> torch.Tensor:
        if attention_mask is not None:
            raise ValueError(
                "CLIPTextModel: attention_mask is not ported (SD1.4 runs the text encoder unmasked)"
            )
        input_ids = input_ids.reshape(-1, input_ids.shape[-1])
        out = self.forward_ttnn(self.embed(input_ids))
        return to_host(out)[:, : input_ids.shape[1]]

    def pooled_output(self, input_ids: torch.Tensor, last_hidden_state: torch.Tensor) -> torch.Tensor:
        """transformers' pooler_output: the hidden state at the (first) EOS token of each sequence."""
        ids = input_ids.reshape(-1, input_ids.shape[-1]).int()
        eos = self.config.eos_token_id
        pos = ids.argmax(-1) if eos == 2 else (ids == eos).int().argmax(-1)
        return last_hidden_state[torch.arange(ids.shape[0]), pos]
