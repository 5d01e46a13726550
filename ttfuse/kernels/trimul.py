"""`ttfuse.kernels.triangle_mult`: the triangle-multiplication channel chunk (boltz.md 3.1).

From the normalised pair tensor x [B, N, N, C] and the pair mask [B, N, N] (or None) it computes, per channel d,
    a_d = (x @ P)[..., d] * sigmoid((x @ G)[..., d]) * mask      b_d = the same for channel D + d
    out[b, i, j, d] = sum_k a_d[b, i, k] b_d[b, j, k]   (outgoing)   or   sum_k a_d[b, k, i] b_d[b, k, j] (incoming)
with P, G the [C, 2D] input projections, given as one weight W_pg = concat_weights([P, G]) = [C, 4D] (computed once
per set of weights). Channels are independent: the kernel works in chunks of `chunk_channels` channels (None: all
D at once; the chunk pass may set it to fit L1). Per chunk the composite (ttnn rule) dispatches
  1. the projection x @ W_pg[:, chunk columns] (minimal_matmul; the weight columns of the chunk gathered first
     when chunked),  2. one elementwise gate p * sigmoid(g) * mask,  3. a permute to [B, chunk, N, N] (channels
     as the matmul batch),  4. the batched matmul a @ b^T (a^T @ b incoming),  5. a permute back,
and a final concat of the chunks: 5 kernels unchunked (the eager code takes 9), 6 per chunk + 1 when chunked.
Numerics: each step as its stock op, rounded where it writes: projections to `proj_dtype`, the gated operands to
`proj_dtype`, the matmul to `dtype`. The sim computes the same values without the permutes: the gated operands
are written channel-major as they are produced (row blocks of x), so the batched product reads contiguous N x N
matrices and only the output is transposed once (`_sim_channel_major`); block-float projections, whose shared
exponents run along channels, take the chunked channel-last walk instead (`_sim_channel_chunks`).
Configs (`step_configs`, chosen by select_configs): "proj" (one chunk's projection linear) and "tri" (one chunk's
batched matmul); a last chunk narrower than `chunk_channels` runs on ttnn's defaults.
"""

from __future__ import annotations

import math

import torch

from ttfuse.kernels.common import (
    kfail,
    register_kernel,
    set_ttnn_rule,
    step_config,
    step_fidelity,
    step_spec,
)
from ttfuse.numerics import round_to_dtype
from ttfuse.opdef import CostCtx, OpCost
from ttfuse.ops.common import io_bytes
from ttfuse.ops.matmul import matmul_values

NAME = "triangle_mult"
_BLOCK_BYTES = 4 << 20  # sim: rows of x per projection block, so one block of projections stays in cache


def _launches(out_specs, args=None) -> int:
    n = _n_chunks(args) if args is not None else 1
    return 5 if n == 1 else 6 * n + 1


def _n_chunks(args: dict) -> int:
    d = args["weight_pg"].shape[-1] // 4
    cs = args.get("chunk_channels") or d
    return math.ceil(d / cs)


@register_kernel(NAME, launches=_launches)
def triangle_mult(
    input_tensor,
    weight_pg,
    *,
    mask=None,
    outgoing=True,
    chunk_channels=None,
    proj_dtype=None,
    dtype=None,
    memory_config=None,
    compute_kernel_config=None,
    step_configs=None,
):
    """Gated projections and the per-channel N x N x N triangle product, chunked over channels."""


@triangle_mult.spec
def _spec(input_tensor, weight_pg, *, mask, outgoing, chunk_channels, proj_dtype, compute_kernel_config, **a):
    return _steps(
        input_tensor, weight_pg, mask, outgoing, chunk_channels, proj_dtype, compute_kernel_config, a
    )[-1]


def _steps(input_tensor, weight_pg, mask, outgoing, chunk_channels, proj_dtype, compute_kernel_config, a):
    """(projection of one chunk, the chunk's batched matmul, the output) specs; the steps "proj" and "tri" run
    once per channel chunk and take `step_configs` (chunks narrower than `chunk_channels`, the last one when
    it does not divide D, run on ttnn's defaults)."""
    k = NAME
    whole = chunk_channels is None or chunk_channels >= weight_pg.shape[-1] // 4
    proj = step_spec(
        k,
        "linear",
        step="proj" if whole else None,
        input_tensor_a=input_tensor,
        input_tensor_b=weight_pg,
        dtype=proj_dtype,
        program_config=step_config(a, "proj") if whole else None,
        compute_kernel_config=compute_kernel_config,
    )
    if proj.rank != 4 or proj.shape[1] != proj.shape[2]:
        raise kfail(
            k, f"argument 'input_tensor' must be a pair tensor [B, N, N, C], got {list(input_tensor.shape)}"
        )
    if weight_pg.shape[-1] % 4:
        raise kfail(k, f"argument 'weight_pg' must be [C, 4D] (P | G), got {list(weight_pg.shape)}")
    b, n = proj.shape[0], proj.shape[1]
    d = weight_pg.shape[-1] // 4
    if mask is not None and tuple(mask.shape) != (b, n, n):
        raise kfail(k, f"argument 'mask' must be [B, N, N] = {[b, n, n]}, got {list(mask.shape)}")
    if chunk_channels is not None and (not isinstance(chunk_channels, int) or chunk_channels <= 0):
        raise kfail(k, f"argument 'chunk_channels' must be a positive int or None, got {chunk_channels!r}")
    if not isinstance(outgoing, bool):
        raise kfail(k, f"argument 'outgoing' must be a bool, got {outgoing!r}")
    cs = min(chunk_channels or d, d)
    if not whole:  # one chunk's projection: the weight's columns of `cs` channels of P, G (x2)
        proj = step_spec(
            k,
            "linear",
            step="proj",
            input_tensor_a=input_tensor,
            input_tensor_b=weight_pg.replace(shape=(*weight_pg.shape[:-1], 4 * cs)),
            dtype=proj_dtype,
            program_config=step_config(a, "proj"),
            compute_kernel_config=compute_kernel_config,
        )
    ch = proj.replace(shape=(b, cs, n, n))
    mm = step_spec(
        k,
        "matmul",
        step="tri",
        input_tensor_a=ch,
        input_tensor_b=ch,
        transpose_a=not outgoing,
        transpose_b=outgoing,
        dtype=a["dtype"],
        program_config=step_config(a, "tri"),
        compute_kernel_config=compute_kernel_config,
    )
    out = step_spec(k, "permute", input_tensor=mm, dims=(0, 2, 3, 1), memory_config=a["memory_config"])
    return proj, ch, mm, out.replace(shape=(b, n, n, d))


@triangle_mult.sim
def _sim(
    ctx, input_tensor, weight_pg, *, mask, outgoing, chunk_channels, proj_dtype, compute_kernel_config, **_
):
    fid = step_fidelity(compute_kernel_config)
    pdt = proj_dtype or ctx.in_specs["input_tensor"].dtype
    pd = pdt.value
    if pdt.is_block_float:  # shared exponents run along channels: round in the channel-last layout
        return _sim_channel_chunks(
            input_tensor, weight_pg, mask, outgoing, chunk_channels, pd, ctx.out_spec.dtype.value, fid
        )
    return _sim_channel_major(input_tensor, weight_pg, mask, outgoing, pd, fid)


def _sim_channel_major(x, weight_pg, mask, outgoing, pd, fid) -> torch.Tensor:
    """The whole product with channels as the leading dim, so no permute is copied until the output.

    Elementwise formats only (rounding does not depend on the layout). Per row block (a few MiB) of x: the
    projection computed transposed, W_pg^T @ x^T = [4D, rows] (rounded to pd), the gate p * sigmoid(g) * mask on
    those channel rows, copied into ab [2D, N*N] (rounded to pd once); then one batched N x N x N product over the
    D channels, transposed once into the channel-last output. Each value is the same float32 dot product as in
    the chunked walk (`_sim_channel_chunks`): both give the same bits (tests/test_sim_fastpaths.py).
    """
    b, n = x.shape[0], x.shape[1]
    c, d = x.shape[-1], weight_pg.shape[-1] // 4
    n2 = n * n
    rows = max(64, _BLOCK_BYTES // (4 * 4 * d))
    out = torch.empty(b, n, n, d, dtype=torch.float32)
    ab = torch.empty(2 * d, n2, dtype=torch.float32)
    wt = weight_pg.t().contiguous()  # [4D, C]
    for bi in range(b):
        xf = x[bi].reshape(n2, c)
        mf = mask[bi].reshape(1, n2) if mask is not None else None
        for r0 in range(0, n2, rows):
            r1 = min(n2, r0 + rows)
            p = round_to_dtype(matmul_values(wt, xf[r0:r1].t(), fid), pd, inplace=True)
            pv, gv = p[: 2 * d], p[2 * d :]
            pv.mul_(gv.sigmoid_())
            if mf is not None:
                pv.mul_(mf[:, r0:r1])
            ab[:, r0:r1] = pv
        round_to_dtype(ab, pd, inplace=True)
        a, bb = ab[:d].view(d, n, n), ab[d:].view(d, n, n)
        o = (
            matmul_values(a, bb.transpose(1, 2), fid)
            if outgoing
            else matmul_values(a.transpose(1, 2), bb, fid)
        )
        out[bi].view(n2, d).copy_(o.view(d, n2).t())
    return out


def _sim_channel_chunks(input_tensor, weight_pg, mask, outgoing, chunk_channels, pd, od, fid) -> torch.Tensor:
    """Channel chunks in the kernel's own order and layout (block-float projections: exponents shared along
    channels); `od` is the output dtype's name."""
    d = weight_pg.shape[-1] // 4
    cs = min(chunk_channels or d, d)
    outs = []
    for c0 in range(0, d, cs):
        c1 = min(d, c0 + cs)
        cols = [weight_pg[:, o + c0 : o + c1] for o in (0, d, 2 * d, 3 * d)]
        proj = round_to_dtype(matmul_values(input_tensor, torch.cat(cols, dim=-1), fid), pd)
        w = c1 - c0
        pa, pb, ga, gb = (proj[..., i * w : (i + 1) * w] for i in range(4))
        m = mask.unsqueeze(-1) if mask is not None else 1.0
        a = round_to_dtype(pa * torch.sigmoid(ga) * m, pd).permute(0, 3, 1, 2)
        b = round_to_dtype(pb * torch.sigmoid(gb) * m, pd).permute(0, 3, 1, 2)
        if outgoing:
            o = matmul_values(a, b.transpose(-1, -2), fid)
        else:
            o = matmul_values(a.transpose(-1, -2), b, fid)
        outs.append(round_to_dtype(o, od).permute(0, 2, 3, 1))
    return torch.cat(outs, dim=-1) if len(outs) > 1 else outs[0].contiguous()


@triangle_mult.cost
def _cost(ctx: CostCtx) -> OpCost:
    x = ctx.in_specs["input_tensor"]
    w = ctx.in_specs["weight_pg"]
    out = ctx.out_specs[0]
    b, n, _, d = out.shape
    rows = x.numel // x.shape[-1]
    proj = 2.0 * rows * x.shape[-1] * w.shape[-1]
    tri = 2.0 * b * d * n * n * n
    inter = rows * w.shape[-1] * 2 * x.nbytes // max(1, x.numel)  # projections + gated operands, read back
    dram, l1 = io_bytes(list(ctx.in_specs.values()) + [out])
    c = OpCost(
        flops=proj + tri + 4.0 * rows * d,
        dram_bytes=dram + 2 * inter,
        l1_bytes=l1,
        launches=_launches([out], dict(ctx.args)),
        matmul_flops=proj + tri,
    )
    a = dict(ctx.args)
    ds = ctx.device_spec
    if ds is not None and a.get("step_configs"):  # the configured steps' busiest core, chunk by chunk
        from ttfuse.ops.matmul_config import MatmulDims, matmul_core_tiles_of, matmul_run_grid

        p_s, ch, _, _ = _steps(
            a["input_tensor"], w, a["mask"], a["outgoing"], a["chunk_channels"], a["proj_dtype"],
            a["compute_kernel_config"], a,
        )  # fmt: skip
        n_chunks = _n_chunks(a)
        full = d // (min(a["chunk_channels"] or d, d)) if n_chunks > 1 else 1
        w_chunk = w if n_chunks == 1 else w.replace(shape=(*w.shape[:-1], p_s.shape[-1]))
        for name, dims, mm in (
            (
                "proj",
                MatmulDims("linear", x, w_chunk, False, False),
                2.0 * rows * x.shape[-1] * p_s.shape[-1],
            ),
            ("tri", MatmulDims("matmul", ch, ch, not a["outgoing"], a["outgoing"]), tri / d * ch.shape[1]),
        ):
            cfg = step_config(a, name)
            if cfg is None:
                continue
            grid = matmul_run_grid(cfg, tuple(ds.grid), ds.grid)
            tiles, _ = matmul_core_tiles_of(dims, cfg, grid, ds.num_cores)
            c.core_tiles += tiles * full
            c.core_tiles_flops += mm * full
    return c


def _ttnn(ttnn, input_tensor, weight_pg, *, mask, outgoing, chunk_channels, proj_dtype, **a):
    from ttfuse.configs import UnaryOpType, UnaryWithParam

    sig = [UnaryWithParam(UnaryOpType.SIGMOID)]
    dtype, memory_config, compute_kernel_config = a["dtype"], a["memory_config"], a["compute_kernel_config"]
    d = weight_pg.shape[-1] // 4
    cs = min(chunk_channels or d, d)
    kd = weight_pg.shape[-2]
    b, n = input_tensor.shape[0], input_tensor.shape[1]
    m4 = ttnn.reshape(mask, (b, n, n, 1)) if mask is not None else None
    outs = []
    for c0 in range(0, d, cs):
        c1 = min(d, c0 + cs)
        w = c1 - c0
        if cs == d:
            wc = weight_pg
        else:
            wc = ttnn.concat(
                [ttnn.slice(weight_pg, (0, o + c0), (kd, o + c1)) for o in (0, d, 2 * d, 3 * d)], dim=-1
            )
        proj = ttnn.linear(
            input_tensor,
            wc,
            dtype=proj_dtype,
            program_config=step_config(a, "proj") if w == cs else None,
            compute_kernel_config=compute_kernel_config,
        )
        parts = [ttnn.slice(proj, (0, 0, 0, i * w), (b, n, n, (i + 1) * w)) for i in range(4)]
        ops = []
        for p, g in ((parts[0], parts[2]), (parts[1], parts[3])):
            x = ttnn.multiply(p, g, input_tensor_b_activations=sig)
            if m4 is not None:
                x = ttnn.multiply(x, m4)
            ops.append(ttnn.permute(x, (0, 3, 1, 2)))
        o = ttnn.matmul(
            ops[0],
            ops[1],
            transpose_a=not outgoing,
            transpose_b=outgoing,
            dtype=dtype,
            program_config=step_config(a, "tri") if w == cs else None,
            compute_kernel_config=compute_kernel_config,
        )
        outs.append(ttnn.permute(o, (0, 2, 3, 1)))
    out = outs[0] if len(outs) == 1 else ttnn.concat(outs, dim=-1)
    return ttnn.to_memory_config(out, memory_config) if memory_config is not None else out


set_ttnn_rule(triangle_mult, _ttnn)
