"""SD3Transformer: the SD3.5 MMDiT (diffusers `SD3Transformer2DModel`) in TTNN, cfg / sp / tp parallel as TT-DiT.

    model = SD3Transformer.from_torch(diffusers_model, mesh, DiTParallelConfig.from_tuple(((2, 1), (2, 0), (2, 1))))
    sample = model(hidden_states=x, encoder_hidden_states=ctx, pooled_projections=pooled, timestep=t).sample

Forward (sd35.md sections 3 and 6): host patchify (B, C, H, W) -> (B, N, p*p*C) -> patch linear (the conv as a
column-parallel matmul) + the cropped 2-D sin-cos position embedding (computed like diffusers, sharded N on sp and
D on tp); timestep embedding on device (t * exp(-ln(1e4) i / 128) in float32, [cos, sin], two linears) + pooled
text projection, summed into temb, silu(temb) once; context_embedder column-parallel; the joint blocks (the last
one context_pre_only); AdaLayerNormContinuous norm_out (scale, shift) on the all-gathered features; proj_out
(replicated); host unpatchify.

cfg: the mesh is split into `cfg` submeshes, each holding a full copy of the weights; submesh i runs batch slice
i (B must be divisible by cfg). sp: spatial tokens padded to whole tiles per device and sharded; the padding is
masked in attention (logical_n) and cropped. Hot functions (`embed`, `joint_block`, `final`) are jitted once and
shared by every layer; `forward` chains them and is what `lower_full_size` captures as one graph from
TensorSpecs (weights never materialised: the reference model may live on torch's meta device).
"""

from __future__ import annotations

import math

import torch

from models.sd35.block import (
    CONT_ORDER,
    TILE_SP,
    JointTransformerBlock,
    adaln_chunks,
    joint_block,
    modulated_norm,
    upload_weights,
)
from models.sd35.common import (
    chunked_columns,
    fold_scale_one,
    lin,
    matmul_config,
    norm_config,
    round_up,
    run,
    upload,
)
from models.sd35.parallel import DiTParallelConfig
from ttfuse import ttnn

TIMESTEP_CHANNELS = 256  # diffusers Timesteps(256, flip_sin_to_cos=True, downscale_freq_shift=0)


# ---------------------------------------------------------------------------------------- host helpers
def sincos_pos_embed(dim: int, grid: int, base_size: int, interpolation_scale: float = 1.0) -> torch.Tensor:
    """diffusers `get_2d_sincos_pos_embed(dim, grid, base_size=, interpolation_scale=)`: [grid*grid, dim]."""
    pos = torch.arange(grid, dtype=torch.float32) / (grid / base_size) / interpolation_scale
    gw, gh = torch.meshgrid(pos, pos, indexing="xy")  # w first, as diffusers stacks them

    def one_d(d: int, p: torch.Tensor) -> torch.Tensor:
        omega = torch.arange(d // 2, dtype=torch.float64) / (d / 2.0)
        omega = 1.0 / 10000**omega
        out = torch.outer(p.reshape(-1).double(), omega)
        return torch.cat([torch.sin(out), torch.cos(out)], 1)

    return torch.cat([one_d(dim // 2, gw), one_d(dim // 2, gh)], 1).float()


def cropped_pos_embed(pos: torch.Tensor, max_size: int, h: int, w: int) -> torch.Tensor:
    """The centred h x w window of a [max*max, D] table, as diffusers `PatchEmbed.cropped_pos_embed`: [1, h*w, D]."""
    if h > max_size or w > max_size:
        raise ValueError(f"SD3Transformer: a {h}x{w} patch grid exceeds pos_embed_max_size {max_size}")
    top, left = (max_size - h) // 2, (max_size - w) // 2
    table = pos.reshape(max_size, max_size, -1)[top : top + h, left : left + w]
    return table.reshape(1, h * w, -1)


def timestep_freqs() -> torch.Tensor:
    """exp(-ln(10000) i / 128), i < 128: diffusers' timestep frequencies, [1, 1, 128]."""
    half = TIMESTEP_CHANNELS // 2
    return torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32) / half).reshape(1, 1, half)


def patchify(x: torch.Tensor, p: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, (H/p)(W/p), p*p*C), patch vectors ordered (kh, kw, c) like `conv_weight`."""
    b, c, h, w = x.shape
    x = x.reshape(b, c, h // p, p, w // p, p).permute(0, 2, 4, 3, 5, 1)
    return x.reshape(b, (h // p) * (w // p), p * p * c)


def unpatchify(x: torch.Tensor, p: int, c: int, h: int, w: int) -> torch.Tensor:
    """(B, h*w, p*p*c) -> (B, c, h*p, w*p), as diffusers (einsum nhwpqc->nchpwq)."""
    b = x.shape[0]
    x = x.reshape(b, h, w, p, p, c)
    return torch.einsum("nhwpqc->nchpwq", x).reshape(b, c, h * p, w * p)


# ----------------------------------------------------------------------------------------- the functions
def embed(patches, pos, ctx, t, pooled, freqs, w: dict, *, mm_cfg):
    """patches [B, N/sp, p*p*C], pos [1, N/sp, D/tp], ctx [B, L, J], t [B, 1, 1] f32, pooled [B, 1, P], freqs
    [1, 1, 128] f32 -> (x [B, N/sp, D/tp], c [B, L, D/tp], silu(temb) [B, 1, D])."""
    x = ttnn.add(ttnn.linear(patches, w["patch_w"], bias=w["patch_b"], compute_kernel_config=mm_cfg), pos)
    c = ttnn.linear(ctx, w["ctx_w"], bias=w["ctx_b"], compute_kernel_config=mm_cfg)
    arg = ttnn.multiply(t, freqs)  # float32: t reaches 1000, its phase needs the mantissa
    proj = ttnn.typecast(ttnn.concat([ttnn.cos(arg), ttnn.sin(arg)], dim=2), ttnn.bfloat16)
    te = ttnn.linear(proj, w["t1_w"], bias=w["t1_b"], activation="silu", compute_kernel_config=mm_cfg)
    te = ttnn.linear(te, w["t2_w"], bias=w["t2_b"], compute_kernel_config=mm_cfg)
    pe = ttnn.linear(pooled, w["p1_w"], bias=w["p1_b"], activation="silu", compute_kernel_config=mm_cfg)
    pe = ttnn.linear(pe, w["p2_w"], bias=w["p2_b"], compute_kernel_config=mm_cfg)
    return x, c, ttnn.silu(ttnn.add(te, pe))


def final(x, st, w: dict, *, tp: int, tp_axis: int, mm_cfg, norm_cfg, links: int = 1):
    """AdaLayerNormContinuous (scale, shift) + proj_out: x [B, N/sp, D/tp] -> [B, N/sp, p*p*C_out]."""
    par = {"tp": tp, "tp_axis": tp_axis, "links": links}
    _, f = adaln_chunks(st, w["norm_out_w"], w["norm_out_b"], chunks=2, cfg=mm_cfg, **par)
    h = modulated_norm(x, f[1], f[0], cfg=norm_cfg, **par)
    return ttnn.linear(h, w["proj_w"], bias=w["proj_b"], compute_kernel_config=mm_cfg)


def forward(
    patches, pos, ctx, t, pooled, freqs, weights: dict, *, block_statics: tuple, final_statics: dict, mm_cfg
):
    """The whole transformer as one function (what `lower_full_size` captures): embed, blocks, final."""
    x, c, st = embed(patches, pos, ctx, t, pooled, freqs, weights["embed"], mm_cfg=mm_cfg)
    for w, statics in zip(weights["blocks"], block_statics):
        c, x = joint_block(x, c, st, w, **dict(statics))
    return final(x, st, weights["final"], mm_cfg=mm_cfg, **final_statics)


# ------------------------------------------------------------------------------------------------ weights
def embed_weights_torch(model, tp: int) -> tuple[dict, dict]:
    pe, tt = model.pos_embed, model.time_text_embed
    col, rep = {"tp_dim": -1}, {}
    conv = pe.proj.weight.detach().float()  # (D, C, p, p) -> [p*p*C, D] in (kh, kw, c) order
    w = {
        "patch_w": conv.permute(0, 2, 3, 1).reshape(conv.shape[0], -1).t().contiguous(),
        "patch_b": pe.proj.bias.detach().float().reshape(1, -1),
        "ctx_w": lin(model.context_embedder.weight),
        "ctx_b": model.context_embedder.bias.detach().float().reshape(1, -1),
        "t1_w": lin(tt.timestep_embedder.linear_1.weight),
        "t1_b": tt.timestep_embedder.linear_1.bias.detach().float().reshape(1, -1),
        "t2_w": lin(tt.timestep_embedder.linear_2.weight),
        "t2_b": tt.timestep_embedder.linear_2.bias.detach().float().reshape(1, -1),
        "p1_w": lin(tt.text_embedder.linear_1.weight),
        "p1_b": tt.text_embedder.linear_1.bias.detach().float().reshape(1, -1),
        "p2_w": lin(tt.text_embedder.linear_2.weight),
        "p2_b": tt.text_embedder.linear_2.bias.detach().float().reshape(1, -1),
    }
    place = {n: (col if n[:2] in ("pa", "ct") else rep) for n in w}
    return w, place


def final_weights_torch(model, tp: int) -> tuple[dict, dict]:
    lin_mod = model.norm_out.linear
    w = {
        "norm_out_w": chunked_columns(lin(lin_mod.weight), 2, tp),
        "norm_out_b": chunked_columns(fold_scale_one(lin_mod.bias, CONT_ORDER), 2, tp).reshape(1, -1),
        "proj_w": lin(model.proj_out.weight),
        "proj_b": model.proj_out.bias.detach().float().reshape(1, -1),
    }
    place = {"norm_out_w": {"tp_dim": -1}, "norm_out_b": {"tp_dim": -1}, "proj_w": {}, "proj_b": {}}
    return w, place


def weight_specs(w: dict, place: dict, layout, dtype) -> dict:
    """Per-device TensorSpecs of the weights `upload_weights` would upload (works on meta tensors)."""
    out = {}
    for n, t in w.items():
        shard = layout.mapper(**place[n]).map(t)[0]
        dt = dtype if n.endswith("_w") else ttnn.bfloat16
        out[n] = ttnn.TensorSpec(tuple(shard.shape), dt, ttnn.TILE_LAYOUT, ttnn.DRAM_MEMORY_CONFIG)
    return out


# ---------------------------------------------------------------------------------------------- one branch
class _Branch:
    """The model on one cfg submesh: its layout, weights and block ports."""

    def __init__(
        self, model, mesh, config: DiTParallelConfig, *, dtype, jit: bool | dict, materialise: bool = True
    ):
        self.mesh, self.layout, self.jit, self.dtype = mesh, config.layout(mesh), jit, dtype
        self.mm_cfg, self.norm_cfg = matmul_config(mesh), norm_config(mesh)
        tp = self.layout.tp
        ew, ep = embed_weights_torch(model, tp)
        fw, fp = final_weights_torch(model, tp)
        self.blocks = []
        block_w = []
        for blk in model.transformer_blocks:
            port = JointTransformerBlock(mesh, config_without_cfg(config), dtype=dtype, jit=jit)
            w, place = port.describe(blk)
            block_w.append((w, place))
            port.weights = upload_weights(w, place, self.layout, dtype) if materialise else None
            self.blocks.append(port)
        if materialise:
            self.embed_w = upload_weights(ew, ep, self.layout, dtype)
            self.final_w = upload_weights(fw, fp, self.layout, dtype)
            self.freqs = upload(timestep_freqs(), self.layout, dtype=ttnn.float32)
        else:  # specs only, for lower_full_size
            self.specs = {
                "embed": weight_specs(ew, ep, self.layout, dtype),
                "blocks": [weight_specs(w, p, self.layout, dtype) for w, p in block_w],
                "final": weight_specs(fw, fp, self.layout, dtype),
            }
        self._pos: dict = {}

    def final_statics(self) -> dict:
        lay = self.layout
        return {"tp": lay.tp, "tp_axis": lay.tp_axis, "norm_cfg": self.norm_cfg, "links": lay.links}

    def padded_n(self, n: int) -> int:
        return round_up(n, TILE_SP * self.layout.sp) if self.layout.sp > 1 else n


def config_without_cfg(config: DiTParallelConfig) -> DiTParallelConfig:
    return DiTParallelConfig(
        sequence_parallel=config.sequence_parallel,
        tensor_parallel=config.tensor_parallel,
        num_links=config.num_links,
    )


# ------------------------------------------------------------------------------------------------ the model
class SD3Transformer:
    """Port of diffusers `SD3Transformer2DModel`: SD3.5 Large, Medium's dual-attention layers, controlnet residuals
    (`block_controlnet_hidden_states`) and `skip_layers`."""

    @classmethod
    def from_torch(
        cls,
        diffusers_model,
        mesh_device,
        parallel_config=None,
        *,
        dtype=ttnn.bfloat16,
        jit: bool | dict = True,
    ) -> SD3Transformer:
        port = cls()
        port._init(diffusers_model, mesh_device, parallel_config, dtype=dtype, jit=jit, materialise=True)
        return port

    def _init(self, model, mesh_device, parallel_config, *, dtype, jit, materialise):
        cfg = model.config
        self.config = parallel_config or DiTParallelConfig()
        self.mesh = mesh_device
        self.patch = int(cfg.patch_size)
        self.out_channels = int(cfg.out_channels)
        self.dim = int(cfg.num_attention_heads * cfg.attention_head_dim)
        self.pos_max = int(cfg.pos_embed_max_size)
        self.pos_table = sincos_pos_embed(self.dim, self.pos_max, int(cfg.sample_size) // self.patch)
        self.branches = [
            _Branch(model, sub, self.config, dtype=dtype, jit=jit, materialise=materialise)
            for sub in self.config.submeshes(mesh_device)
        ]

    # ------------------------------------------------------------------------------------------ inputs
    def _inputs(self, br: _Branch, hidden_states, encoder_hidden_states, pooled_projections, timestep):
        lay, p = br.layout, self.patch
        b, _, h, w = hidden_states.shape
        hp, wp = h // p, w // p
        n = hp * wp
        n_pad = br.padded_n(n)
        pad = (0, 0, 0, n_pad - n)
        patches = torch.nn.functional.pad(patchify(hidden_states.float(), p), pad)
        key = (hp, wp)
        if key not in br._pos:
            pos = torch.nn.functional.pad(cropped_pos_embed(self.pos_table, self.pos_max, hp, wp), pad)
            br._pos[key] = upload(pos, lay, sp_dim=1, tp_dim=2)
        t = timestep.float().reshape(b, 1, 1)
        return (
            upload(patches, lay, sp_dim=1),
            br._pos[key],
            upload(encoder_hidden_states, lay),
            upload(t, lay, dtype=ttnn.float32),
            upload(pooled_projections.float().reshape(b, 1, -1), lay),
            br.freqs,
        ), n

    def forward_ttnn(
        self,
        branch: int,
        patches,
        pos,
        ctx,
        t,
        pooled,
        freqs,
        *,
        logical_n: int,
        skip_layers=(),
        controlnet=None,
    ):
        """One cfg branch on its submesh's tensors -> [B, N/sp, p*p*C_out] (sp-sharded, tp-replicated).

        skip_layers: block indices not run (diffusers' skip-layer guidance); controlnet: residuals laid out like x
        ([B, N/sp, D/tp] mesh tensors), added after block i as diffusers does (residual i * len / blocks, except
        after the context_pre_only block)."""
        br = self.branches[branch]
        x, c, st = run(br.jit, embed, patches, pos, ctx, t, pooled, freqs, br.embed_w, mm_cfg=br.mm_cfg)
        for i, blk in enumerate(br.blocks):
            if i not in skip_layers:
                c, x = blk.forward_ttnn(x, c, st, logical_n=logical_n)
            if controlnet and not blk.context_pre_only:
                x = ttnn.add(x, controlnet[int(i / (len(br.blocks) / len(controlnet)))])
        return run(br.jit, final, x, st, br.final_w, mm_cfg=br.mm_cfg, **br.final_statics())

    def __call__(
        self,
        hidden_states,
        encoder_hidden_states=None,
        pooled_projections=None,
        timestep=None,
        block_controlnet_hidden_states=None,
        joint_attention_kwargs=None,
        return_dict: bool = True,
        skip_layers=None,
    ):
        b, _, h, w = hidden_states.shape
        ncfg = len(self.branches)
        if b % ncfg:
            raise ValueError(f"SD3Transformer: batch {b} is not divisible by the cfg factor {ncfg}")
        timestep = torch.as_tensor(timestep, dtype=torch.float32).reshape(-1).expand(b)
        per = b // ncfg
        outs = []
        for i, br in enumerate(self.branches):
            sl = slice(i * per, (i + 1) * per)
            args, n = self._inputs(
                br, hidden_states[sl], encoder_hidden_states[sl], pooled_projections[sl], timestep[sl]
            )
            ctl = None
            if block_controlnet_hidden_states is not None:  # [B, N, D] residuals, laid out like x
                pad = (0, 0, 0, br.padded_n(n) - n)
                ctl = [
                    upload(torch.nn.functional.pad(r[sl].float(), pad), br.layout, sp_dim=1, tp_dim=2)
                    for r in block_controlnet_hidden_states
                ]
            y = self.forward_ttnn(
                i, *args, logical_n=n, skip_layers=frozenset(skip_layers or ()), controlnet=ctl
            )
            y = br.layout.to_torch(y, sp_dim=1)[:, :n]
            outs.append(unpatchify(y, self.patch, self.out_channels, h // self.patch, w // self.patch))
        sample = torch.cat(outs, 0)
        if not return_dict:
            return (sample,)
        from diffusers.models.modeling_outputs import Transformer2DModelOutput

        return Transformer2DModelOutput(sample=sample)

    # ------------------------------------------------------------------------------- spec-only capture
    @classmethod
    def lower_full_size(
        cls,
        diffusers_model,
        mesh_device,
        parallel_config=None,
        *,
        height: int,
        width: int,
        prompt_len: int,
        batch: int = 1,
        dtype=ttnn.bfloat16,
        passes=None,
        whole: bool = True,
    ) -> list:
        """Capture one cfg branch's forward from TensorSpecs (no weights uploaded: `diffusers_model` may live on
        torch's meta device) -> [(part, Lowered, count)]: the `ttfuse.jit` artifacts (graph, cost report).

        whole=True: one graph of the whole forward (embed, every block, final), count 1. whole=False: the
        distinct parts (embed; a non-last block, count num_layers - 1; the last block; final), each lowered
        once: the same graph in pieces, far cheaper to run through the passes. `batch` is the batch per
        branch. The one real (tiny) input, the timestep or silu(temb), tells the trace which submesh (device
        kind, mesh shape) it targets. `passes` as for `ttfuse.jit` (None: the whole pipeline)."""
        import ttfuse

        port = cls()
        port._init(diffusers_model, mesh_device, parallel_config, dtype=dtype, jit=True, materialise=False)
        br = port.branches[0]
        lay = br.layout
        cfg = diffusers_model.config
        p = port.patch
        n = (height // p) * (width // p)
        n_l = br.padded_n(n) // lay.sp
        d_l = port.dim // lay.tp

        def spec(shape, dt=ttnn.bfloat16):
            return ttnn.TensorSpec(tuple(shape), dt, ttnn.TILE_LAYOUT, ttnn.DRAM_MEMORY_CONFIG)

        embed_args = (
            spec((batch, n_l, p * p * int(cfg.in_channels))),
            spec((1, n_l, d_l)),
            spec((batch, prompt_len, int(cfg.joint_attention_dim))),
            upload(torch.zeros(batch, 1, 1), lay, dtype=ttnn.float32),
            spec((batch, 1, int(cfg.pooled_projection_dim))),
            spec((1, 1, TIMESTEP_CHANNELS // 2), ttnn.float32),
        )
        specs = br.specs
        if whole:
            statics = tuple(tuple(sorted(blk.statics(n).items())) for blk in br.blocks)
            lo = ttfuse.jit(forward, passes=passes).lower(
                *embed_args, specs, block_statics=statics, final_statics=br.final_statics(), mm_cfg=br.mm_cfg
            )
            return [("forward", lo, 1)]
        st = upload(torch.zeros(batch, 1, port.dim), lay)  # real: carries the submesh
        x, c = spec((batch, n_l, d_l)), spec((batch, prompt_len, d_l))
        parts = [
            (
                "embed",
                ttfuse.jit(embed, passes=passes).lower(*embed_args, specs["embed"], mm_cfg=br.mm_cfg),
                1,
            )
        ]
        blocks = br.blocks
        jb = ttfuse.jit(joint_block, passes=passes)
        if len(blocks) > 1:
            parts.append(
                ("block", jb.lower(x, c, st, specs["blocks"][0], **blocks[0].statics(n)), len(blocks) - 1)
            )
        parts.append(("last block", jb.lower(x, c, st, specs["blocks"][-1], **blocks[-1].statics(n)), 1))
        fin = ttfuse.jit(final, passes=passes).lower(
            x, st, specs["final"], mm_cfg=br.mm_cfg, **br.final_statics()
        )
        parts.append(("final", fin, 1))
        return parts
