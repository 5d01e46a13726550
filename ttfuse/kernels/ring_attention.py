"""`ttfuse.kernels.ring_joint_attention`: joint (spatial + prompt) attention over a sequence-parallel ring.

What: the fused ring attention of TT-DiT (sd35.md sections 3 and 5). Each device of a ring (the devices of one
mesh column for `cluster_axis=0`, of one row for 1) holds its query shard q_r [b, h, N/P, d] and its K/V shard;
the replicated prompt (joint) q/k/v [b, h, L, d] is on every device. For ring step s = 0..P-1 device r attends
its queries [q_r; joint_q] to the K/V shard of ring position (r - s) mod P (step 0: its own, then the shards
its neighbour forwards), giving a partial output O_b and log-sum-exp lse_b per query row, and folds it into the
running result by the log-sum-exp rule

    O <- O - sigmoid(lse_b - lse) * (O - O_b);   lse <- lse - logsigmoid(lse - lse_b)

(a convex interpolation: no large exponentials). The prompt K/V join as one more shard after the last ring
step. Returns `(out [b, h, N/P, d], joint_out [b, h, L, d], lse [b, h, N/P + L, 1])` like the real op: every
device computes the prompt rows (replicated). Keys at global positions >= `logical_n` (the padding of an
uneven last shard) are masked; a shard that is all padding is skipped, as the TT kernel skips it.

Backends:
- sim (mesh rule): the real shards move between the simulated devices in ring order; numerics in float32,
  each output rounded once to its dtype by the executor (as the kernel writes out, lse, joint_out once).
- ttnn rule: `ttnn.transformer.ring_joint_scaled_dot_product_attention` with its real keywords (persistent
  gathered-K/V buffers, global semaphores, CCL workers on the last grid row as TT-DiT places them).
- cost: FLOPs of every device's share, DRAM traffic, `link_bytes` = the (P-1) K/V shards each device receives;
  `Traits.overlaps_communication` tells ttfuse.passes.cost to take max(compute, link) for the op; `ring_time_s(cost,
  device_spec)` is the finer per-step form: sum over ring steps of max(step compute, step link transfer).

Invariants: float32 inputs are a ttfuse extension (exactness tests); the TT op takes bfloat16 / bfloat8_b and
the ttnn rule casts float32 inputs to bfloat16. The pure functions `block_attention`, `lse_merge` and
`ring_reference` carry the math for every backend (the sim rule and models/sd35's torch.distributed ring).
Extend: a causal or balanced (zig-zag) variant adds a keep-mask to `block_attention` and the shard order.
"""

from __future__ import annotations

import torch

from ttfuse.configs import SDPAProgramConfig
from ttfuse.device import TILE
from ttfuse.errors import got
from ttfuse.kernels.common import kfail, register_kernel
from ttfuse.opdef import CostCtx, OpCost, Traits, current_mesh_shape
from ttfuse.ops.attention import JOINT_TENSORS, SDPA_SOFTMAX_FLOPS_PER_SCORE, sdpa_scale
from ttfuse.ops.ccl import Topology, axis_groups
from ttfuse.ops.common import io_bytes
from ttfuse.types import DRAM_MEMORY_CONFIG, BufferType, DataType, Layout, TensorSpec

NAME = "ring_joint_attention"
_DTYPES = frozenset({DataType.BFLOAT16, DataType.BFLOAT8_B, DataType.FLOAT32})
_NAMES = JOINT_TENSORS
SOFTMAX_FLOPS = SDPA_SOFTMAX_FLOPS_PER_SCORE  # per score, as ttfuse/ops/attention.py counts


# ------------------------------------------------------------------------------------------------ the math
def block_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float, pad=None):
    """softmax(scale * q k^T) v and its log-sum-exp per query row, in float32: (O [.., sq, d], lse [.., sq, 1]).
    `pad`: optional bool mask broadcastable to [.., 1, sk], True for padding keys (excluded).
    Unpadded 4-D blocks go through torch's fused float32 CPU attention, which returns the same pair (the same math
    in one pass over the scores; float32 summation order differs, ~1e-7), as the plain SDPA sim does."""
    if pad is None and q.dim() >= 3 and q.shape[:-2] == k.shape[:-2] == v.shape[:-2] and k.shape[-2] > 0:

        def as4(t):  # the fused kernel takes [B, H, S, D]: leading dims folded into B
            return t.reshape(-1, *t.shape[-3:]) if t.dim() > 3 else t.unsqueeze(0)

        o, lse = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(
            as4(q), as4(k), as4(v), 0.0, False, scale=scale
        )
        return o.reshape(*q.shape[:-1], v.shape[-1]), lse.reshape(*q.shape[:-1], 1)
    s = torch.matmul(q, k.transpose(-1, -2)).mul_(scale)
    if pad is not None:
        s.masked_fill_(pad, float("-inf"))
    m = s.amax(-1, keepdim=True)
    p = s.sub_(m).exp_()
    denom = p.sum(-1, keepdim=True)
    return torch.matmul(p, v).div_(denom), m + denom.log()


def lse_merge(o: torch.Tensor | None, lse: torch.Tensor | None, ob: torch.Tensor, lb: torch.Tensor):
    """Fold a partial result (ob, lb) into the running (o, lse) by the log-sum-exp rule (None: first block)."""
    if o is None:
        return ob, lb
    # O - sigmoid(lb - lse) (O - O_b) == lerp(O, O_b, sigmoid(lb - lse)): one fused pass over O (updated in place)
    o = o.lerp_(ob, torch.sigmoid(lb - lse))
    lse = lse - torch.nn.functional.logsigmoid(lse - lb)
    return o, lse


def shard_valid(position: int, n_local: int, logical_n: int) -> int:
    """Valid (unpadded) keys of the shard at ring position `position`."""
    return max(0, min(n_local, logical_n - position * n_local))


def ring_reference(
    q: torch.Tensor,
    ks: list[torch.Tensor],
    vs: list[torch.Tensor],
    jk: torch.Tensor | None,
    jv: torch.Tensor | None,
    *,
    rank: int,
    logical_n: int,
    scale: float,
):
    """What ring position `rank` computes: queries `q` (its spatial rows, then the joint rows) against the
    K/V shards `ks[p]`, `vs[p]` of every ring position p, visited in ring order rank, rank-1, ...; then the
    joint K/V. Returns (O, lse) for all query rows."""
    ring = len(ks)
    n_local = ks[0].shape[-2]
    o = lse = None
    for step in range(ring):
        pos = (rank - step) % ring
        valid = shard_valid(pos, n_local, logical_n)
        if valid == 0:  # an all-padding shard: skipped (merging -inf lse would give 0 * nan)
            continue
        ob, lb = block_attention(q, ks[pos][..., :valid, :], vs[pos][..., :valid, :], scale)
        o, lse = lse_merge(o, lse, ob, lb)
    if jk is not None and jk.shape[-2]:
        ob, lb = block_attention(q, jk, jv, scale)
        o, lse = lse_merge(o, lse, ob, lb)
    return o, lse


def _shared_keys_attention(qs, keys, jk, jv, scale: float):
    """The fused form when the joint (prompt) tensors are replicated, as the ring joint attention's callers pass
    them: every rank's spatial query rows and the joint query rows (the same on every rank, so computed once and
    given to each) in ONE attention call against the one key set. A query row's result does not depend on the
    rows computed with it, so each rank gets what its own call would give; P-1 copies of the joint rows' work are
    not redone. None when the joint tensors differ between ranks."""
    ring, n_joint = qs.shape[0], 0 if jk is None else jk.shape[-2]
    rows = qs.shape[-2] - n_joint
    if n_joint and not all(
        torch.equal(t[0], t[p]) for t in (jk, jv, qs[..., rows:, :]) for p in range(1, ring)
    ):
        return None
    k = torch.cat([k for k, _ in keys] + ([jk[0]] if n_joint else []), dim=-2)
    v = torch.cat([v for _, v in keys] + ([jv[0]] if n_joint else []), dim=-2)
    q = torch.cat(
        [qs[p, ..., :rows, :] for p in range(ring)] + ([qs[0, ..., rows:, :]] if n_joint else []), -2
    )
    o, lse = block_attention(q, k, v, scale)

    def per_rank(t):  # [.., ring * rows (+ joint), w] -> [ring, .., rows + joint, w]
        sp = t[..., : ring * rows, :].unflatten(-2, (ring, rows)).movedim(-3, 0)
        if not n_joint:
            return sp
        jt = t[..., ring * rows :, :]
        return torch.cat([sp, jt.expand(ring, *jt.shape)], dim=-2)

    return per_rank(o), per_rank(lse)


def ring_all_ranks(qs, ks, vs, jk, jv, *, logical_n: int, scale: float):
    """`ring_reference` for every ring position at once (the sim's form: one batched step per ring step).

    qs [P, b, h, R, d] (rank r's queries), ks / vs [P, b, h, n_local, d] (the shard at ring position p), jk / jv
    [P, b, h, L, d] or None -> (O [P, b, h, R, d], lse [P, b, h, R, 1]). At step s rank r holds the shard of
    position (r - s) mod P; its padding keys are masked, and a rank whose shard is all padding keeps its
    running result (the merge is skipped for it, as in `ring_reference`). When any shard holds a valid key this is
    computed as one softmax over each rank's keys (below); the step walk remains for the all-padding case."""
    ring, n_local = ks.shape[0], ks.shape[-2]
    keys = [
        (ks[p, ..., :v, :], vs[p, ..., :v, :])
        for p in range(ring)
        if (v := shard_valid(p, n_local, logical_n))
    ]
    if keys:
        # Every rank ends up attending to the same keys: every valid shard key, then its joint keys. The merges
        # over ring steps give the softmax over all of them, so the sim takes it in one fused pass per rank (the
        # step-by-step merge below differs only in float32 summation order: tests/models/test_sd35_ring.py).
        shared = _shared_keys_attention(qs, keys, jk, jv, scale)
        if shared is not None:
            return shared
        ka = torch.cat([k for k, _ in keys], dim=-2).expand(ring, *ks.shape[1:-2], -1, ks.shape[-1])
        va = torch.cat([v for _, v in keys], dim=-2).expand(ring, *vs.shape[1:-2], -1, vs.shape[-1])
        if jk is not None and jk.shape[-2]:
            ka, va = torch.cat([ka, jk], dim=-2), torch.cat([va, jv], dim=-2)
        return block_attention(qs, ka, va, scale)
    ranks = torch.arange(ring)
    ones = (1,) * (qs.dim() - 1)  # a per-rank flag broadcast over b, h, rows, d
    o = lse = None
    have = torch.zeros(ring, dtype=torch.bool)
    for step in range(ring):
        pos = (ranks - step) % ring
        valid = (logical_n - pos * n_local).clamp(0, n_local)
        use = valid > 0
        if not bool(use.any()):
            continue
        pad = None
        if bool((valid < n_local).any()):
            pad = (torch.arange(n_local).unsqueeze(0) >= valid.unsqueeze(1)).reshape(
                ring, *ones[:-1], n_local
            )
        ob, lb = block_attention(qs, ks[pos], vs[pos], scale, pad)
        if o is None:
            o, lse, have = ob, lb, use.clone()
            continue
        if bool(use.all()) and bool(have.all()):  # every rank merges (no padding shard): in place, no selects
            o, lse = lse_merge(o, lse, ob, lb)
            continue
        fresh = (use & ~have).reshape(ring, *ones)  # first non-empty shard of that rank: take it as is
        keep = (~use).reshape(ring, *ones)  # an all-padding shard: nothing to merge
        mo, ml = lse_merge(o.clone(), lse, ob, lb)
        o = torch.where(keep, o, torch.where(fresh, ob, mo))
        lse = torch.where(keep, lse, torch.where(fresh, lb, ml))
        have |= use
    if jk is not None and jk.shape[-2]:
        ob, lb = block_attention(qs, jk, jv, scale)
        o, lse = (ob, lb) if o is None else lse_merge(o, lse, ob, lb)
    return o, lse


# ---------------------------------------------------------------------------------------------- the kernel
# mesh_rule: the sim rule sees every device's shard; overlaps_communication: the cost model max'es link time with
# compute (ttfuse.passes.cost), not adds it
# config_rule: select_configs gives it an SDPAProgramConfig off the CCL workers' row (passes/select.py)
@register_kernel(NAME, traits=Traits(mesh_rule=True, overlaps_communication=True, config_rule="ring_sdpa"))
def ring_joint_attention(
    input_tensor_q,
    input_tensor_k,
    input_tensor_v,
    joint_tensor_q=None,
    joint_tensor_k=None,
    joint_tensor_v=None,
    *,
    joint_strategy="rear",
    logical_n=None,
    program_config=None,
    scale=None,
    compute_kernel_config=None,
    dim=2,
    num_links=1,
    cluster_axis=0,
    mesh_device=None,
    topology=Topology.Linear,
    ccl_core_grid_offset=None,
):
    """Ring joint attention over the devices of `cluster_axis` -> (out, joint_out, lse) (fused K/V ring)."""


def _ring_size(cluster_axis) -> int:
    rows, cols = current_mesh_shape()
    return (rows, cols)[cluster_axis]


def _check(a: dict) -> tuple[dict, int]:
    specs = {}
    for n in _NAMES:
        s = a[n]
        if s is None and n.startswith("joint"):
            specs[n] = None
            continue
        if not isinstance(s, TensorSpec):
            raise kfail(NAME, f"argument {n!r} must be a ttnn.Tensor, got {got(s)}")
        if s.layout is not Layout.TILE:
            raise kfail(NAME, f"argument {n!r} must be in TILE layout, got {s.layout!r}")
        if s.rank != 4:
            raise kfail(NAME, f"argument {n!r} must be rank 4 [b, heads, seq, head_dim], got {list(s.shape)}")
        if s.dtype not in _DTYPES:
            raise kfail(
                NAME, f"argument {n!r} has dtype {s.dtype.value}; supported: bfloat16, bfloat8_b, float32"
            )
        if s.memory_config.buffer_type is not BufferType.DRAM:
            raise kfail(NAME, f"argument {n!r} must be in DRAM, got {s.memory_config!r}")
        specs[n] = s
    joints = [specs[n] is None for n in _NAMES[3:]]
    if any(joints) and not all(joints):
        raise kfail(NAME, "arguments 'joint_tensor_q/k/v' must be given together (or all None)")
    q, k, v = specs["input_tensor_q"], specs["input_tensor_k"], specs["input_tensor_v"]
    b, h, n_local, d = q.shape
    for n, s in specs.items():
        if s is None:
            continue
        if s.dtype is not q.dtype:
            raise kfail(
                NAME, f"argument {n!r} has dtype {s.dtype.value}; all inputs must share {q.dtype.value}"
            )
        if s.shape[0] != b or s.shape[1] != h or s.shape[3] != d:
            raise kfail(
                NAME,
                f"argument {n!r} has shape {list(s.shape)}; batch, heads and head_dim must match "
                f"input_tensor_q {list(q.shape)}",
            )
    if k.shape[2] != n_local or v.shape[2] != n_local:
        raise kfail(
            NAME,
            f"arguments 'input_tensor_k'/'input_tensor_v': the local sequence length must match the query "
            f"shard's {n_local}; got K {k.shape[2]}, V {v.shape[2]}",
        )
    jq = specs["joint_tensor_q"]
    if jq is not None and not (
        specs["joint_tensor_k"].shape[2] == specs["joint_tensor_v"].shape[2] == jq.shape[2]
    ):
        raise kfail(NAME, "arguments 'joint_tensor_q/k/v' must have one sequence length")
    if d % TILE:
        raise kfail(NAME, f"argument 'input_tensor_q': head_dim {d} must be a multiple of {TILE}")
    if a["joint_strategy"] != "rear":
        raise kfail(NAME, f"argument 'joint_strategy' must be 'rear', got {a['joint_strategy']!r}")
    axis = a["cluster_axis"]
    if isinstance(axis, bool) or axis not in (0, 1):
        raise kfail(NAME, f"argument 'cluster_axis' must be 0 or 1 (a mesh axis), got {axis!r}")
    if a["dim"] != 2:
        raise kfail(NAME, f"argument 'dim' must be 2 (the sequence dim the ring gathers), got {a['dim']!r}")
    ring = _ring_size(axis)
    ln = a["logical_n"]
    if ln is None:
        ln = ring * n_local
    if isinstance(ln, bool) or not isinstance(ln, int) or not (0 < ln <= ring * n_local):
        raise kfail(
            NAME,
            f"argument 'logical_n'={ln!r} must be an int in [1, {ring * n_local}] for {ring} shards of "
            f"{n_local} (keys past logical_n are padding; trailing shards may be all padding)",
        )
    pc = a["program_config"]
    if pc is not None and not isinstance(pc, SDPAProgramConfig):
        raise kfail(NAME, f"argument 'program_config' must be a ttnn.SDPAProgramConfig, got {pc!r}")
    sc = a["scale"]
    if sc is not None and (isinstance(sc, bool) or not isinstance(sc, int | float)):
        raise kfail(NAME, f"argument 'scale' must be a float or None, got {sc!r}")
    if not isinstance(a["num_links"], int) or a["num_links"] < 1:
        raise kfail(NAME, f"argument 'num_links' must be a positive int, got {a['num_links']!r}")
    return specs, ln


@ring_joint_attention.spec
def _spec(**a):
    specs, _ = _check(a)
    q = specs["input_tensor_q"]
    jq = specs["joint_tensor_q"]
    b, h, n_local, d = q.shape
    n_joint = jq.shape[2] if jq is not None else 0
    return (
        TensorSpec(q.shape, q.dtype, Layout.TILE, DRAM_MEMORY_CONFIG),
        TensorSpec((b, h, n_joint, d), q.dtype, Layout.TILE, DRAM_MEMORY_CONFIG),
        TensorSpec((b, h, n_local + n_joint, 1), q.dtype, Layout.TILE, DRAM_MEMORY_CONFIG),
    )


@ring_joint_attention.sim
def _sim(
    ctx,
    input_tensor_q,
    input_tensor_k,
    input_tensor_v,
    joint_tensor_q,
    joint_tensor_k,
    joint_tensor_v,
    *,
    cluster_axis,
    logical_n,
    scale,
    **_,
):
    # NOTE: a mesh rule: every tensor argument is the list of per-device shards (row-major device order).
    n_dev = len(input_tensor_q)
    b, h, n_local, d = input_tensor_q[0].shape
    scale = sdpa_scale(scale, d)
    out = [None] * n_dev
    for grp in axis_groups(ctx.mesh, cluster_axis):
        ring = len(grp)
        ln = ring * n_local if logical_n is None else logical_n
        ks = torch.stack([input_tensor_k[i] for i in grp])  # the shards the ring passes around
        vs = torch.stack([input_tensor_v[i] for i in grp])
        if joint_tensor_q is not None:
            qs = torch.stack([torch.cat([input_tensor_q[i], joint_tensor_q[i]], 2) for i in grp])
            jk = torch.stack([joint_tensor_k[i] for i in grp])
            jv = torch.stack([joint_tensor_v[i] for i in grp])
        else:
            qs, jk, jv = torch.stack([input_tensor_q[i] for i in grp]), None, None
        o, lse = ring_all_ranks(qs, ks, vs, jk, jv, logical_n=ln, scale=scale)
        for rank, dev in enumerate(grp):
            out[dev] = (
                o[rank, ..., :n_local, :].contiguous(),
                o[rank, ..., n_local:, :].contiguous(),
                lse[rank],
            )
    return out


# -------------------------------------------------------------------------------------------------- cost
def _fidelity(cfg) -> str:
    mf = getattr(cfg, "math_fidelity", None)
    return mf.name if mf is not None else "HiFi2"


def _ring_of(ctx: CostCtx) -> int:
    axis = ctx.args.get("cluster_axis", 0)
    shape = ctx.mesh_shape if tuple(ctx.mesh_shape) != (1, 1) else current_mesh_shape()
    return tuple(shape)[axis]


@ring_joint_attention.cost
def _cost(ctx: CostCtx) -> OpCost:
    """One device's share: its (N/P + L) query rows against logical_n + L keys; K/V shards over the links."""
    q = ctx.in_specs["input_tensor_q"]
    k = ctx.in_specs["input_tensor_k"]
    v = ctx.in_specs["input_tensor_v"]
    jq = ctx.in_specs.get("joint_tensor_q")
    b, h, n_local, d = q.shape
    n_joint = jq.shape[2] if isinstance(jq, TensorSpec) else 0
    ring = _ring_of(ctx)
    ln = ctx.args.get("logical_n") or ring * n_local
    rows, keys = n_local + n_joint, ln + n_joint
    mm = 4.0 * b * h * rows * keys * d
    soft = SOFTMAX_FLOPS * b * h * rows * keys
    ins = [s for s in ctx.in_specs.values() if isinstance(s, TensorSpec)]
    dram, l1 = io_bytes(ins + list(ctx.out_specs))
    shard = k.nbytes + v.nbytes
    # every (batch, head, q chunk) streams the gathered K/V once; the ring writes each arriving shard to DRAM
    qc = getattr(ctx.args.get("program_config"), "q_chunk_size", 256)
    dram += (ring * shard) * max(1, -(-rows // qc)) + (ring - 1) * shard
    # each ring step re-reads and re-writes the running output and lse (cb_prev_out / cb_lse_in)
    dram += (ring - 1 + (n_joint > 0)) * 2 * sum(s.nbytes for s in ctx.out_specs)
    c = OpCost(
        flops=mm + soft,
        matmul_flops=mm,
        dram_bytes=dram,
        l1_bytes=l1,
        launches=1,
        link_bytes=(ring - 1) * shard,
        fidelity=_fidelity(ctx.args.get("compute_kernel_config")),
    )
    # NOTE: read by ring_time_s: link traffic overlaps compute step by step (an OpCost has no time field)
    c.ring_steps = ring
    c.ring_num_links = int(ctx.args.get("num_links") or 1)
    return c


def ring_time_s(cost: OpCost, device_spec, *, compute_efficiency: float = 1.0) -> float:
    """Overlapped device time of one ring attention call: sum over ring steps of max(step compute, step link
    transfer), plus the prompt step's compute. Compute at the matrix engine's peak for the cost's fidelity
    (times `compute_efficiency`), links at `eth_link_gbps` x num_links; DRAM traffic is not modelled here."""
    ring = getattr(cost, "ring_steps", 1)
    links = getattr(cost, "ring_num_links", 1)
    peak = device_spec.matmul_tflops(cost.fidelity) * 1e12 * compute_efficiency
    t_compute = cost.matmul_flops / peak
    t_step = t_compute / ring  # the prompt step is folded in evenly (L << N at full size)
    per_link = device_spec.eth_link_gbps * 1e9 * links
    t_link_step = (cost.link_bytes / max(ring - 1, 1)) / per_link if ring > 1 else 0.0
    # step 0 uses the local shard (no wait); steps 1..P-1 wait for a shard that was sent during the previous step
    return t_step + (ring - 1) * max(t_step, t_link_step)


# --------------------------------------------------------------------------------------------- ttnn rule
def _ttnn(ttnn, *args, topology=None, **kwargs):
    """The real op, called like the kernel (`topology` defaults to ttnn's own Linear). NOTE: TT-DiT's CCLManager
    caches the persistent buffers and semaphores per shape; this rule allocates them per call (correct, slower to
    dispatch; a trace captures them once)."""
    a = ring_joint_attention.bind_args(args, kwargs)
    q, k, v, jq, jk, jv = (a[n] for n in _NAMES)
    program_config, mesh_device, cluster_axis = a["program_config"], a["mesh_device"], a["cluster_axis"]
    logical_n = a["logical_n"]
    if q.dtype == ttnn.float32:  # the TT op has no float32 path
        q, k, v = (ttnn.typecast(t, ttnn.bfloat16) for t in (q, k, v))
        if jq is not None:
            jq, jk, jv = (ttnn.typecast(t, ttnn.bfloat16) for t in (jq, jk, jv))
    b, h, n_local, d = (int(x) for x in k.shape)
    ring = int(tuple(mesh_device.shape)[cluster_axis])
    grid = mesh_device.compute_with_storage_grid_size()
    # the SDPA cores leave the last grid row to the fused all-gather workers (TT-DiT)
    if program_config is None:
        program_config = ttnn.SDPAProgramConfig(
            compute_with_storage_grid_size=(grid.x, grid.y - 1),
            q_chunk_size=256,
            k_chunk_size=512,
            exp_approx_mode=False,
        )
    offset = a["ccl_core_grid_offset"] or ttnn.CoreCoord(0, grid.y - 1)
    ccl_cores = ttnn.CoreRangeSet(
        [ttnn.CoreRange(ttnn.CoreCoord(0, grid.y - 1), ttnn.CoreCoord(grid.x - 1, grid.y - 1))]
    )
    gathered = [b, h, n_local * ring, d]
    buf_k = ttnn.empty(gathered, k.dtype, ttnn.TILE_LAYOUT, mesh_device, ttnn.DRAM_MEMORY_CONFIG)
    buf_v = ttnn.empty(gathered, v.dtype, ttnn.TILE_LAYOUT, mesh_device, ttnn.DRAM_MEMORY_CONFIG)
    sems = [ttnn.create_global_semaphore(mesh_device, ccl_cores, 0) for _ in range(2)]
    return ttnn.transformer.ring_joint_scaled_dot_product_attention(
        q,
        k,
        v,
        jq,
        jk,
        jv,
        persistent_output_buffer_k=buf_k,
        persistent_output_buffer_v=buf_v,
        joint_strategy=a["joint_strategy"],
        logical_n=logical_n if logical_n is not None else n_local * ring,
        program_config=program_config,
        scale=a["scale"],
        compute_kernel_config=a["compute_kernel_config"],
        dim=a["dim"],
        multi_device_global_semaphore=sems,
        num_links=a["num_links"],
        cluster_axis=cluster_axis,
        mesh_device=mesh_device,
        topology=topology if topology is not None else ttnn.Topology.Linear,
        subdevice_id=None,
        ccl_core_grid_offset=offset,
    )


ring_joint_attention.ttnn_rule = _ttnn
