"""Shared pieces of the SD3.5 port: compute configs, weight re-layout for tensor parallelism, upload, the jit switch.

Weight re-layout (torch side, before upload; TT-DiT `_prepare_torch_state`, sd35.md section 3):
- linear weights are stored [in, out] (torch's [out, in] transposed);
- column-parallel layers are sharded on their output columns over tp; fused chunked outputs (adaLN's
  shift|scale|gate...) are reordered `[chunk][dev][d] -> [dev][chunk][d]` (`chunked_columns`) so that each
  device's output holds its D/tp slice of every chunk, exactly like the D-fractured residual stream;
- QKV weights are fused per device `[dev][q|k|v][local heads][head_dim]` (`qkv_columns`) after padding the head
  count to a multiple of tp with zero heads; `to_out` gets zero rows for the padded heads (`head_rows`);
- row-parallel biases are present on tp rank 0 only (`row_parallel_bias`), so the reduce-scatter adds them once;
- the adaLN "+1" of every scale chunk is folded into its bias (TT-DiT's newest port), saving one op per norm.

Invariant: every function here is pure torch on float32 tensors; nothing here touches a device.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from models.common import TILE, kernel_config, round_up  # noqa: F401 (re-exported)
from ttfuse import ttnn

EPS = 1e-6  # every norm of SD3.5 (LayerNorm without affine, per-head RMSNorm)
GELU_TANH = ttnn.UnaryWithParam(ttnn.UnaryOpType.GELU, 1.0)  # diffusers "gelu-approximate"
SDPA_Q_CHUNK, SDPA_K_CHUNK = 256, 512  # TT-DiT's Wormhole SDPA chunk sizes (sd35.md section 3)


def matmul_config(device):
    """TT-DiT's linear compute config: HiFi2 with fp32 accumulation and packer L1 accumulation."""
    return kernel_config(device, ttnn.MathFidelity.HiFi2, fp32_acc=True, packer_l1_acc=True)


def norm_config(device):
    """TT-DiT's LayerNorm / RMSNorm compute config: HiFi4, fp32 accumulation."""
    return kernel_config(device, ttnn.MathFidelity.HiFi4, fp32_acc=True, packer_l1_acc=False)


def sdpa_config(device):
    """TT-DiT's SDPA compute config: HiFi2, no fp32 accumulation."""
    return kernel_config(device, ttnn.MathFidelity.HiFi2, fp32_acc=False, packer_l1_acc=False)


def sdpa_program_config(device, *, ring: bool):
    """SDPA chunk sizes of TT-DiT; the ring op leaves the last grid row to its all-gather workers."""
    grid = device.compute_with_storage_grid_size()
    return ttnn.SDPAProgramConfig(
        compute_with_storage_grid_size=(grid.x, grid.y - 1 if ring else grid.y),
        q_chunk_size=SDPA_Q_CHUNK,
        k_chunk_size=SDPA_K_CHUNK,
        exp_approx_mode=False,
    )


# ------------------------------------------------------------------------------------------ weight layout
def _t(w) -> torch.Tensor:
    return w.detach().float()


def lin(w) -> torch.Tensor:
    """A torch Linear weight [out, in] as [in, out]."""
    return _t(w).t().contiguous()


def chunked_columns(w: torch.Tensor, chunks: int, tp: int) -> torch.Tensor:
    """Columns (last dim) ordered [chunk][dev][d] reordered to [dev][chunk][d] (weights [in, k*D] or biases)."""
    lead = w.shape[:-1]
    d = w.shape[-1] // (chunks * tp)
    return w.reshape(*lead, chunks, tp, d).transpose(-3, -2).reshape(*lead, chunks * tp * d).contiguous()


def fold_scale_one(b: torch.Tensor, order: tuple[str, ...]) -> torch.Tensor:
    """A chunked adaLN bias with +1 added to every 'scale' chunk (so the linear yields 1 + scale)."""
    parts = list(_t(b).chunk(len(order), -1))
    return torch.cat([p + 1.0 if name == "scale" else p for p, name in zip(parts, order)], -1)


def pad_heads(w: torch.Tensor, heads: int, padded: int, dim: int) -> torch.Tensor:
    """Zero-pad `w` along `dim` (heads x head_dim) to `padded` heads."""
    if padded == heads:
        return w
    size = list(w.shape)
    size[dim] = size[dim] // heads * (padded - heads)
    return torch.cat([w, w.new_zeros(size)], dim)


def qkv_columns(ws: list[torch.Tensor], heads: int, padded: int, tp: int) -> torch.Tensor:
    """Fuse q, k, v ([in, H*d] weights or [H*d] biases) as per-device [dev][q|k|v][local heads][d] columns."""
    parts = []
    for w in ws:
        w = pad_heads(w, heads, padded, -1)
        parts.append(w.reshape(*w.shape[:-1], tp, -1))  # [..., dev, local heads * d]
    return torch.stack(parts, -2).reshape(*ws[0].shape[:-1], -1).contiguous()


def head_rows(w_t: torch.Tensor, heads: int, padded: int) -> torch.Tensor:
    """to_out [H*d, D] with zero rows for the padded heads."""
    return pad_heads(w_t, heads, padded, 0)


def row_parallel_bias(b: torch.Tensor, tp: int) -> torch.Tensor:
    """[tp, D]: the bias on tp rank 0, zeros elsewhere (sharded on dim 0 each device holds [1, D])."""
    b = _t(b).reshape(1, -1)
    return torch.cat([b, b.new_zeros(tp - 1, b.shape[-1])]) if tp > 1 else b


# ------------------------------------------------------------------------------------------------ upload
def upload(t: torch.Tensor, layout, *, sp_dim=None, tp_dim=None, dtype=ttnn.bfloat16) -> ttnn.Tensor:
    """A torch tensor as a TILE tensor on the layout's submesh, sharded as asked (replicated otherwise)."""
    return ttnn.from_torch(
        _t(t).contiguous(),
        dtype=dtype,
        layout=ttnn.TILE_LAYOUT,
        device=layout.mesh,
        mesh_mapper=layout.mapper(sp_dim=sp_dim, tp_dim=tp_dim),
    )


# ---------------------------------------------------------------------------------------------------- jit
_JITTED: dict[tuple, Callable] = {}


def _options_key(options: dict) -> tuple:
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in options.items()))


def jitted(fn: Callable, options: dict | None = None) -> Callable:
    """The `ttfuse.jit` version of a block function (with jit `options`), made once and shared by every layer."""
    key = (fn, _options_key(options or {}))
    f = _JITTED.get(key)
    if f is None:
        import ttfuse

        f = _JITTED[key] = ttfuse.jit(fn, **(options or {}))
    return f


def run(jit, fn: Callable, *args, **kwargs):
    """Call block function `fn` eagerly (jit=False), through `ttfuse.jit` (True), or through `ttfuse.jit` with
    options (a dict, e.g. {"passes": ["-place_memory"]})."""
    if not jit:
        return fn(*args, **kwargs)
    return jitted(fn, jit if isinstance(jit, dict) else None)(*args, **kwargs)
