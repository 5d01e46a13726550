"""Ring joint attention over `torch.distributed` (gloo): the same algorithm as the fused kernel, across processes.

    out, joint_out, lse = ring_joint_attention_dist(q, k, v, jq, jk, jv, logical_n=N)   # in every rank

Each rank holds its query/key/value shard [b, h, N/P, d] and the replicated prompt q/k/v [b, h, L, d]. Ring step
s: the rank posts the K/V shard it holds to rank + 1 and a receive from rank - 1 (`isend` / `irecv`), computes
its queries against the shard it holds (ring position rank - s), merges by the log-sum-exp rule, then waits for
the next shard: communication overlaps compute as in the TT kernel. The prompt K/V join as one more shard.
The math is `ttfuse.kernels.ring_attention` (`block_attention`, `lse_merge`, `shard_valid`), shared with the
simulator kernel, so sequence parallelism scales past one process with identical numerics.

`run_ring_attention_processes(world, q, k, v, jq, jk, jv, ...)` starts `world` local processes (127.0.0.1, a
free port, loopback only), runs the ring and returns the gathered outputs; used by the tests. Running this file
is the worker: `python distributed.py RANK WORLD PORT INPUTS OUTPUT`.
"""

from __future__ import annotations

import math
import os
import socket
import subprocess
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist

if __package__ in (None, ""):  # run as a worker script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from ttfuse.kernels.ring_attention import block_attention, lse_merge, shard_valid  # noqa: E402


def ring_joint_attention_dist(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    joint_q: torch.Tensor | None = None,
    joint_k: torch.Tensor | None = None,
    joint_v: torch.Tensor | None = None,
    *,
    logical_n: int | None = None,
    scale: float | None = None,
    group=None,
):
    """This rank's (out [b, h, N/P, d], joint_out [b, h, L, d], lse [b, h, N/P + L, 1]) of ring joint attention
    over the ranks of `group` (the default group when None); keys past `logical_n` are padding."""
    world = dist.get_world_size(group)
    rank = dist.get_rank(group)
    nxt, prv = (rank + 1) % world, (rank - 1) % world
    if group is not None:
        nxt, prv = dist.get_global_rank(group, nxt), dist.get_global_rank(group, prv)
    b, h, n_local, d = q.shape
    ln = world * n_local if logical_n is None else int(logical_n)
    scale = 1.0 / math.sqrt(d) if scale is None else float(scale)
    qq = torch.cat([q, joint_q], 2) if joint_q is not None else q
    held = torch.stack([k, v]).float().contiguous()  # one message per step: [2, b, h, n_local, d]
    o = lse = None
    for step in range(world):
        reqs, incoming = [], None
        if step < world - 1:  # post the transfer first: it runs while this step computes
            incoming = torch.empty_like(held)
            reqs = [dist.isend(held, nxt, group=group), dist.irecv(incoming, prv, group=group)]
        valid = shard_valid((rank - step) % world, n_local, ln)
        if valid:
            ob, lb = block_attention(qq.float(), held[0, ..., :valid, :], held[1, ..., :valid, :], scale)
            o, lse = lse_merge(o, lse, ob, lb)
        for r in reqs:
            r.wait()
        if incoming is not None:
            held = incoming
    if joint_k is not None and joint_k.shape[2]:
        ob, lb = block_attention(qq.float(), joint_k.float(), joint_v.float(), scale)
        o, lse = lse_merge(o, lse, ob, lb)
    return o[..., :n_local, :], o[..., n_local:, :], lse


# ---------------------------------------------------------------------------------------------- launcher
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_ring_attention_processes(
    world: int,
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    joint_q=None,
    joint_k=None,
    joint_v=None,
    *,
    logical_n: int | None = None,
    timeout_s: float = 120.0,
):
    """Shard q/k/v [b, h, N, d] (N padded to `world` equal shards) over `world` local gloo processes, run the
    ring, return (out [b, h, N, d], joint_out from rank 0, joint_outs of all ranks)."""
    n = q.shape[2]
    n_pad = -(-n // world) * world
    pad = (0, 0, 0, n_pad - n)
    shards = [torch.nn.functional.pad(t.float(), pad).chunk(world, 2) for t in (q, k, v)]
    with tempfile.TemporaryDirectory(prefix="sd35-ring-") as tmp:
        port = free_port()
        procs, outs = [], []
        env = {**os.environ, "GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1"}
        for r in range(world):
            inp, out = os.path.join(tmp, f"in{r}.pt"), os.path.join(tmp, f"out{r}.pt")
            torch.save(
                {
                    "q": shards[0][r].contiguous(),
                    "k": shards[1][r].contiguous(),
                    "v": shards[2][r].contiguous(),
                    "jq": joint_q,
                    "jk": joint_k,
                    "jv": joint_v,
                    "logical_n": logical_n if logical_n is not None else n,
                },
                inp,
            )
            cmd = [sys.executable, str(Path(__file__).resolve()), str(r), str(world), str(port), inp, out]
            procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
            outs.append(out)
        logs = []
        try:
            for p in procs:
                logs.append(p.communicate(timeout=timeout_s)[0].decode(errors="replace"))
        finally:
            for p in procs:  # only the processes started here
                if p.poll() is None:
                    p.kill()
                    p.wait()
        failed = [(i, p.returncode) for i, p in enumerate(procs) if p.returncode != 0]
        if failed:
            raise RuntimeError(f"ring attention workers failed {failed}:\n" + "\n".join(logs))
        res = [torch.load(o) for o in outs]
    out = torch.cat([r["out"] for r in res], 2)[:, :, :n]
    return out, res[0]["joint_out"], [r["joint_out"] for r in res]


def _worker(rank: int, world: int, port: int, inp: str, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=world,
        timeout=timedelta(seconds=60),
    )
    try:
        a = torch.load(inp)
        o, jo, lse = ring_joint_attention_dist(
            a["q"], a["k"], a["v"], a["jq"], a["jk"], a["jv"], logical_n=a["logical_n"]
        )
        torch.save({"out": o, "joint_out": jo, "lse": lse}, out)
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    _worker(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5])
