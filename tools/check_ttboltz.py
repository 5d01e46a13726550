"""Run tt-boltz's TTNN modules, unmodified, on the ttfuse simulator and compare them with boltz 2.2.1.

Usage (the tt-boltz file is fetched by the user, never copied into this repo):

    PYTHONPATH=. .venv/bin/python tools/check_ttboltz.py /tmp/ttboltz/tenstorrent.py \
        [--n 32 100] [--arch wormhole_b0 blackhole] [--only NAME ...] [--jit]

`tenstorrent.py` is moritztng/tt-boltz `src/boltz/model/modules/tenstorrent.py` at commit 0247de6. It is
imported with `import ttnn` resolved to the simulator by `ttfuse.install()` (the documented switch) and
tt-metal's `models.common.utility_functions` answered from the simulated device. For every module class with
a boltz 2.2.1 counterpart, the reference is built with every parameter re-drawn from a fixed seed
(`ttfuse.testing.redraw_parameters`), its state dict is handed to the tt-boltz constructor, both run on the
same inputs, and the table shows PCC and max abs error against the float32 reference plus the simulated
launches per call. `--jit` also wraps `Cls.__call__` with `ttfuse.jit` and reports JIT vs eager PCC and
launches eager vs JIT (or the failure).

Each `--arch` runs in its own process (TTFUSE_ARCH is read when the device opens).

No workaround stands in for ttnn: `ttnn.types`, `ttnn.get_arch_name`, tensor truthiness and the p150 grid
are the facade's own. The one fake is tt-metal's `models.common.utility_functions` (a helper of the tt-metal
checkout, not of ttnn), labelled `FAKE` below.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import math
import os
import subprocess
import sys
import time
import traceback
import types
import zlib

import torch

TOKEN_S, TOKEN_Z, MSA_S = 384, 128, 64
ATOM_S, ATOM_W, ATOM_H, ATOM_HEADS, ATOM_LAYERS = 128, 32, 128, 4, 3  # boltz's atom encoder/decoder
DEFAULT_ARCHS = ("wormhole_b0", "blackhole")
PCC_TARGET = 0.999


# ------------------------------------------------------------------------------------ ttnn -> ttfuse.ttnn
def map_ttnn():
    """`import ttnn` is the simulator (`ttfuse.install()`); answer tt-metal's utility_functions."""
    import ttfuse

    active = ttfuse.install()
    if active != "ttfuse":
        raise SystemExit(
            f"ttfuse.install() -> {active!r}: this harness compares the simulator; unset TTFUSE_INSTALL"
        )
    import ttnn

    # FAKE (not part of ttnn): tt-metal's models/common/utility_functions.py, a helper module of the tt-metal
    # checkout that tt-boltz imports for is_wormhole_b0 / is_blackhole. Minimal stand-in reading the arch name.
    util = types.ModuleType("models.common.utility_functions")
    util.is_wormhole_b0 = lambda device=None: ttnn.get_arch_name() == "wormhole_b0"
    util.is_blackhole = lambda device=None: ttnn.get_arch_name() == "blackhole"
    sys.modules["models.common.utility_functions"] = util
    return ttnn


def compute_kernel_config(ttnn):
    """The compute kernel config every tt-boltz module gets here: HiFi4, exact math, fp32 accumulation, packer
    L1 accumulation (tt-boltz's TorchWrapper passes this one config to every module)."""
    return ttnn.types.BlackholeComputeKernelConfig(
        math_fidelity=ttnn.MathFidelity.HiFi4,
        math_approx_mode=False,
        fp32_dest_acc_en=True,
        packer_l1_acc=True,
    )


def reference(case):
    """The case's boltz reference module, every parameter re-drawn from a seed derived from the case's name
    (stable per module: rows do not shift when cases are added)."""
    from ttfuse.testing import redraw_parameters

    return redraw_parameters(case.ref(), zlib.crc32(case.name.encode()))


def load_ttboltz(path: str):
    spec = importlib.util.spec_from_file_location("ttboltz_under_test", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# ------------------------------------------------------------------------------------------------ inputs
def token_inputs(n: int, seed: int = 0) -> dict:
    """s [1,N,384] (8 N(0,1)), z [1,N,N,128] (26 N(0,1)), masks (the last 3 tokens masked at N=100)."""
    g = torch.Generator().manual_seed(seed)
    s = 8 * torch.randn(1, n, TOKEN_S, generator=g)
    z = 26 * torch.randn(1, n, n, TOKEN_Z, generator=g)
    mask = torch.ones(1, n)
    if n % 32:
        mask[:, -3:] = 0
    return dict(s=s, z=z, mask=mask, pair_mask=mask[:, :, None] * mask[:, None, :], valid=mask[0].bool(), g=g)


def padded(x: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
    """Zero-pad `dims` of x up to a multiple of 32 (tt-boltz's wrappers pad masks and biases so)."""
    pad = [0] * (2 * x.dim())
    for d in dims:
        pad[2 * (x.dim() - 1 - d) + 1] = -x.shape[d] % 32
    return torch.nn.functional.pad(x, pad)


def crop(x: torch.Tensor, valid: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
    for d in dims:
        x = x.index_select(d, valid.nonzero()[:, 0])
    return x


# ------------------------------------------------------------------------------------------------- cases
class Case:
    """One module: `ref()` builds the redrawn reference, `tt(T, sd, cfg)` the tt-boltz module,
    `run_ref(ref, x)` / `run_tt(mod, tt_in)` run them, `outputs` names what is compared (and on which dims
    the valid tokens are selected); `cls_names`: the tt-boltz class whose `__call__` --jit wraps: the module's
    own class (the classes it calls are traced through), or for a stack of layers the layer's class (so the
    traces/entries column shows one compiled entry serving every layer of a shape)."""

    def __init__(self, name, ref, tt, make_inputs, run_ref, run_tt, outputs, cls_names, note=""):
        self.name, self.ref, self.tt, self.make_inputs = name, ref, tt, make_inputs
        self.run_ref, self.run_tt, self.outputs, self.cls_names, self.note = (
            run_ref,
            run_tt,
            outputs,
            cls_names,
            note,
        )


def build_cases(ttnn, T, device):
    from boltz.model.layers.attentionv2 import AttentionPairBias as RefAPB
    from boltz.model.layers.outer_product_mean import OuterProductMean as RefOPM
    from boltz.model.layers.pair_averaging import PairWeightedAveraging as RefPWA
    from boltz.model.layers.pairformer import PairformerLayer as RefPairformerLayer
    from boltz.model.layers.pairformer import PairformerModule as RefPairformerModule
    from boltz.model.layers.transition import Transition as RefTransition
    from boltz.model.layers.triangular_attention.attention import TriangleAttentionEndingNode as RefTriAttEnd
    from boltz.model.layers.triangular_attention.attention import (
        TriangleAttentionStartingNode as RefTriAttStart,
    )
    from boltz.model.layers.triangular_mult import TriangleMultiplicationIncoming as RefTriMulIn
    from boltz.model.layers.triangular_mult import TriangleMultiplicationOutgoing as RefTriMulOut
    from boltz.model.modules.transformersv2 import AdaLN as RefAdaLN
    from boltz.model.modules.transformersv2 import AtomTransformer as RefAtomTransformer
    from boltz.model.modules.transformersv2 import ConditionedTransitionBlock as RefCTB
    from boltz.model.modules.transformersv2 import DiffusionTransformer as RefDT
    from boltz.model.modules.transformersv2 import DiffusionTransformerLayer as RefDTL
    from boltz.model.modules.trunkv2 import MSALayer as RefMSALayer
    from boltz.model.modules.trunkv2 import MSAModule as RefMSAModule

    def tt(x, dtype=None):
        return ttnn.from_torch(x, layout=ttnn.TILE_LAYOUT, device=device, dtype=dtype or ttnn.bfloat16)

    def filter_prefix(sd, prefix):
        return {k[len(prefix) :]: v for k, v in sd.items() if k.startswith(prefix)}

    def no_mha(sd):
        return {k.replace("mha.", ""): v for k, v in sd.items()}

    def z_in(n):
        i = token_inputs(n)
        return dict(i, x=(i["z"],), tt_in=(tt(i["z"]), tt(i["pair_mask"])))

    def tri_att_in(n):
        i = token_inputs(n)
        return dict(i, tt_in=(tt(i["z"]), tt(padded(i["pair_mask"], (1, 2)))))

    def s_z_in(n, s_unit=True):
        i = token_inputs(n)
        s = torch.randn(1, n, TOKEN_S, generator=i["g"]) if s_unit else i["s"]
        return dict(i, s=s, tt_in=(tt(s), tt(i["z"])))

    def a_s_in(n, dim=TOKEN_S):
        i = token_inputs(n)
        a = torch.randn(1, n, dim, generator=i["g"])
        s = torch.randn(1, n, dim, generator=i["g"])
        return dict(i, a=a, s=s, tt_in=(tt(a), tt(s)))

    def dt_in(n, heads, layers, dim):
        i = a_s_in(n, dim)
        bias = torch.randn(1, n, n, layers * heads, generator=i["g"])
        # tt-boltz's DiffusionModule prepares the token bias so: pad, scale by sqrt(head_dim), heads first.
        b = padded(bias, (1, 2)) * math.sqrt(dim / heads)
        return dict(
            i, bias=bias, tt_in=(i["tt_in"][0], i["tt_in"][1], tt(b.permute(0, 3, 1, 2).contiguous()))
        )

    def atom_in(n):
        """Atom level: 4 atoms per token (a multiple of W=32), the last 7 atoms padding; tt-boltz's
        DiffusionModule prepares bias and key mask so: bias [K*B, L*heads, W, H] plus (1 - keys(mask)) * -1e9,
        scaled by sqrt(head_dim); keys_indexing in bfloat4_b."""
        from boltz.model.modules.encodersv2 import get_indexing_matrix, single_to_keys

        i = token_inputs(n)
        atoms = -(-4 * n // ATOM_W) * ATOM_W
        k = atoms // ATOM_W
        q = torch.randn(1, atoms, ATOM_S, generator=i["g"])
        c = torch.randn(1, atoms, ATOM_S, generator=i["g"])
        bias = torch.randn(1, k, ATOM_W, ATOM_H, ATOM_LAYERS * ATOM_HEADS, generator=i["g"])
        mask = torch.ones(1, atoms)
        mask[:, -7:] = 0
        index = get_indexing_matrix(k, ATOM_W, ATOM_H, "cpu")
        to_keys = functools.partial(single_to_keys, indexing_matrix=index, W=ATOM_W, H=ATOM_H)
        key_mask = to_keys(mask.unsqueeze(-1)).reshape(k, 1, 1, ATOM_H)
        b = (bias.reshape(k, ATOM_W, ATOM_H, -1).permute(0, 3, 1, 2) + (1 - key_mask) * -1e9) * math.sqrt(32)
        tt_in = (
            tt(q.reshape(1, k, ATOM_W, ATOM_S)),
            tt(c.reshape(1, k, ATOM_W, ATOM_S)),
            tt(b.contiguous()),
            tt(index, ttnn.bfloat4_b),
        )
        return dict(
            i, q=q, c=c, bias=bias, to_keys=to_keys, atom_mask=mask, valid=mask[0].bool(), tt_in=tt_in
        )

    def msa_in(n):
        i = token_inputs(n)
        m = torch.randn(1, 16, n, MSA_S, generator=i["g"])
        return dict(i, m=m, tt_in=(tt(m),))

    ones = torch.ones
    cases = [
        Case(
            "TriangleMultiplicationOutgoing",
            lambda: RefTriMulOut(TOKEN_Z),
            lambda sd, cfg: T.TriangleMultiplication(False, sd, cfg),
            z_in,
            lambda r, i: (r(i["z"], mask=i["pair_mask"]),),
            lambda m, i: (m(*i["tt_in"]),),
            [("z", (1, 2))],
            ["TriangleMultiplication"],
        ),
        Case(
            "TriangleMultiplicationIncoming",
            lambda: RefTriMulIn(TOKEN_Z),
            lambda sd, cfg: T.TriangleMultiplication(True, sd, cfg),
            z_in,
            lambda r, i: (r(i["z"], mask=i["pair_mask"]),),
            lambda m, i: (m(*i["tt_in"]),),
            [("z", (1, 2))],
            ["TriangleMultiplication"],
        ),
        Case(
            "TriangleAttentionStartingNode",
            lambda: RefTriAttStart(TOKEN_Z, 32, 4, inf=1e9),
            lambda sd, cfg: T.TriangleAttention(32, 4, False, no_mha(sd), cfg),
            tri_att_in,
            lambda r, i: (r(i["z"], mask=i["pair_mask"]),),
            lambda m, i: (m(*i["tt_in"]),),
            [("z", (1, 2))],
            ["TriangleAttention"],
        ),
        Case(
            "TriangleAttentionEndingNode",
            lambda: RefTriAttEnd(TOKEN_Z, 32, 4, inf=1e9),
            lambda sd, cfg: T.TriangleAttention(32, 4, True, no_mha(sd), cfg),
            tri_att_in,
            lambda r, i: (r(i["z"], mask=i["pair_mask"]),),
            lambda m, i: (m(*i["tt_in"]),),
            [("z", (1, 2))],
            ["TriangleAttention"],
        ),
        Case(
            "AttentionPairBias",
            lambda: RefAPB(TOKEN_S, TOKEN_Z, 16),
            lambda sd, cfg: T.AttentionPairBias(24, 16, True, False, sd, cfg),
            s_z_in,
            # tt-boltz's AttentionPairBias takes no token mask: the reference runs unmasked.
            lambda r, i: (r(s=i["s"], z=i["z"], mask=ones(i["mask"].shape), k_in=i["s"]),),
            lambda m, i: (m(*i["tt_in"]),),
            [("s", ())],
            ["AttentionPairBias"],
        ),
        Case(
            "Transition(z)",
            lambda: RefTransition(TOKEN_Z, 4 * TOKEN_Z),
            lambda sd, cfg: T.Transition(sd, cfg),
            lambda n: dict(token_inputs(n), tt_in=None),
            lambda r, i: (r(i["z"]),),
            lambda m, i: (m(i["tt"](i["z"])),),
            [("z", ())],
            ["Transition"],
        ),
        Case(
            "Transition(s)",
            lambda: RefTransition(TOKEN_S, 4 * TOKEN_S),
            lambda sd, cfg: T.Transition(sd, cfg),
            lambda n: dict(token_inputs(n), tt_in=None),
            lambda r, i: (r(i["s"]),),
            lambda m, i: (m(i["tt"](i["s"])),),
            [("s", ())],
            ["Transition"],
        ),
        Case(
            "AdaLN",
            lambda: RefAdaLN(TOKEN_S, TOKEN_S),
            lambda sd, cfg: T.AdaLN(False, sd, cfg),
            a_s_in,
            lambda r, i: (r(i["a"], i["s"]),),
            lambda m, i: (m(*i["tt_in"]),),
            [("a", ())],
            ["AdaLN"],
        ),
        Case(
            "ConditionedTransitionBlock",
            lambda: RefCTB(TOKEN_S, TOKEN_S),
            lambda sd, cfg: T.ConditionedTransitionBlock(False, sd, cfg),
            a_s_in,
            lambda r, i: (r(i["a"], i["s"]),),
            lambda m, i: (m(*i["tt_in"]),),
            [("a", ())],
            ["ConditionedTransitionBlock"],
        ),
        Case(
            "DiffusionTransformerLayer",
            lambda: RefDTL(16, TOKEN_S, TOKEN_S),
            lambda sd, cfg: T.DiffusionTransformerLayer(TOKEN_S, 16, False, sd, cfg),
            lambda n: dt_in(n, 16, 1, TOKEN_S),
            lambda r, i: (r(i["a"], i["s"], i["bias"], ones(i["mask"].shape)),),
            lambda m, i: (m(*i["tt_in"], None),),
            [("a", ())],
            ["DiffusionTransformerLayer"],
        ),
        Case(
            "DiffusionTransformer(2x768)",
            lambda: RefDT(2, 16, 768, 768),
            lambda sd, cfg: T.DiffusionTransformer(2, 768, 16, False, sd, cfg),
            lambda n: dt_in(n, 16, 2, 768),
            lambda r, i: (r(i["a"], i["s"], i["bias"], ones(i["mask"].shape)),),
            lambda m, i: (m(*i["tt_in"]),),
            [("a", ())],
            ["DiffusionTransformerLayer"],
        ),
        Case(
            f"AtomTransformer({ATOM_LAYERS}, atom level)",
            lambda: RefAtomTransformer(
                attn_window_queries=ATOM_W,
                attn_window_keys=ATOM_H,
                dim=ATOM_S,
                dim_single_cond=ATOM_S,
                depth=ATOM_LAYERS,
                heads=ATOM_HEADS,
            ),
            lambda sd, cfg: T.DiffusionTransformer(
                ATOM_LAYERS, ATOM_S, ATOM_HEADS, True, filter_prefix(sd, "diffusion_transformer."), cfg
            ),
            atom_in,
            lambda r, i: (r(i["q"], i["c"], i["bias"], i["to_keys"], i["atom_mask"]),),
            lambda m, i: (m(*i["tt_in"]),),
            [("q", (1,))],
            ["DiffusionTransformerLayer"],
        ),
        Case(
            "PairWeightedAveraging",
            lambda: RefPWA(MSA_S, TOKEN_Z, 32, 8),
            lambda sd, cfg: T.PairWeightedAveraging(32, 8, sd, cfg),
            lambda n: dict(msa_in(n), tt_in=None),
            lambda r, i: (r(i["m"], i["z"], ones(i["pair_mask"].shape), chunk_heads=False),),
            lambda m, i: (m(i["tt"](i["m"]), i["tt"](i["z"])),),
            [("m", ())],
            ["PairWeightedAveraging"],
        ),
        Case(
            "OuterProductMean",
            lambda: RefOPM(MSA_S, 32, TOKEN_Z),
            lambda sd, cfg: T.OuterProductMean(sd, cfg),
            msa_in,
            lambda r, i: (r(i["m"], ones(i["m"].shape[:3])),),
            lambda m, i: (m(*i["tt_in"]),),
            [("z", ())],
            ["OuterProductMean"],
        ),
        Case(
            "PairformerLayer",
            lambda: RefPairformerLayer(TOKEN_S, TOKEN_Z, 16, dropout=0.0, v2=True),
            lambda sd, cfg: T.PairformerLayer(32, 4, 24, 16, True, sd, cfg),
            lambda n: dict(token_inputs(n), tt_in=None),
            # tt-boltz's AttentionPairBias has no token mask: the reference gets the full token mask for s.
            lambda r, i: r(i["s"], i["z"], ones(i["mask"].shape), i["pair_mask"]),
            lambda m, i: m(
                i["tt"](i["s"]),
                i["tt"](i["z"]),
                i["tt"](i["pair_mask"]),
                i["tt"](padded(i["pair_mask"], (1, 2))),
            ),
            [("s", (1,)), ("z", (1, 2))],
            ["PairformerLayer"],
        ),
        Case(
            "PairformerModule(2)",
            lambda: RefPairformerModule(TOKEN_S, TOKEN_Z, 2, 16, dropout=0.0, v2=True),
            "wrapper",
            lambda n: dict(token_inputs(n), tt_in=None),
            lambda r, i: r(i["s"], i["z"], ones(i["mask"].shape), i["pair_mask"]),
            lambda m, i: m(i["s"], i["z"], ones(i["mask"].shape), i["pair_mask"]),
            [("s", (1,)), ("z", (1, 2))],
            ["PairformerLayer"],
        ),
        Case(
            "MSALayer",
            lambda: RefMSALayer(MSA_S, TOKEN_Z, 0.0, 0.0),
            lambda sd, cfg: T.MSALayer(32, 8, 32, 4, sd, cfg),
            lambda n: dict(msa_in(n), tt_in=None),
            lambda r, i: r(i["z"], i["m"], ones(i["pair_mask"].shape), ones(i["m"].shape[:3])),
            lambda m, i: m(i["tt"](i["z"]), i["tt"](i["m"])),
            [("z", ()), ("m", ())],
            ["MSALayer"],
        ),
        Case(
            "MSAModule(2)",
            lambda: RefMSAModule(MSA_S, TOKEN_Z, TOKEN_S, 2, 0.0, 0.0),
            "wrapper",
            msa_feats,
            lambda r, i: (r(i["z"], i["emb"], i["feats"]),),
            lambda m, i: (m(i["z"], i["emb"], i["feats"]),),
            [("z", ())],
            ["MSALayer"],
        ),
    ]
    wrappers = {
        "PairformerModule(2)": lambda: T.PairformerModule(2, 32, 4, 24, 16, True, use_mask=True),
        "MSAModule(2)": lambda: T.MSAModule(2, 32, 8, 32, 4),
    }
    return cases, wrappers, tt


def msa_feats(n: int) -> dict:
    i = token_inputs(n)
    g = i["g"]
    s_msa = 16
    feats = {
        "msa": torch.randint(0, 33, (1, s_msa, n), generator=g),
        "has_deletion": (torch.rand(1, s_msa, n, generator=g) > 0.8).float(),
        "deletion_value": torch.rand(1, s_msa, n, generator=g),
        "msa_paired": (torch.rand(1, s_msa, n, generator=g) > 0.5).float(),
        "msa_mask": torch.ones(1, s_msa, n),  # tt-boltz's MSA takes no masks
        "token_pad_mask": torch.ones(1, n),
    }
    return dict(i, emb=torch.randn(1, n, TOKEN_S, generator=g), feats=feats, tt_in=None)


# ------------------------------------------------------------------------------------------------ runner
def pcc(a: torch.Tensor, b: torch.Tensor) -> float:
    from ttfuse.testing import pcc as pcc_value

    return float(pcc_value(a, b))


def run_arch(path: str, arch: str, ns: list[int], only: list[str], jit: bool) -> list[dict]:
    os.environ["TTFUSE_ARCH"] = arch
    if jit and "TTFUSE_CACHE_DIR" not in os.environ:
        # an empty disk cache, so that `traces` counts this run's compiles (not entries stored by earlier runs)
        import tempfile

        os.environ["TTFUSE_CACHE_DIR"] = tempfile.mkdtemp(prefix="check_ttboltz_cache_")
    ttnn = map_ttnn()
    import ttfuse
    import ttfuse.sim

    T = load_ttboltz(path)
    device = ttnn.open_device(device_id=0)
    T.device = device  # the module-level device tt-boltz's TorchWrapper would open
    cfg = compute_kernel_config(ttnn)
    cases, wrappers, tt = build_cases(ttnn, T, device)
    rows = []
    for case in cases:
        if only and not any(o.lower() in case.name.lower() for o in only):
            continue
        for n in ns:
            row = dict(module=case.name, n=n, arch=arch)
            rows.append(row)
            try:
                ref = reference(case)
                inp = case.make_inputs(n)
                inp["tt"] = tt
                with torch.no_grad():
                    want = case.run_ref(ref, inp)

                def make_module(case=case, ref=ref):
                    if case.tt == "wrapper":
                        mod = wrappers[case.name]()
                        mod.load_state_dict(ref.state_dict(), strict=False)
                        return mod
                    return case.tt(ref.state_dict(), cfg)

                def run_once(call, inp=inp, case=case):
                    with ttfuse.sim.count_launches(device) as launches:
                        t0 = time.perf_counter()
                        out = case.run_tt(call, inp)
                        dt = time.perf_counter() - t0
                    out = [o if isinstance(o, torch.Tensor) else ttnn.to_torch(o).float() for o in out]
                    return out, launches.total, dt

                got, row["launches"], row["seconds"] = run_once(make_module())
                worst, errs = 1.0, []
                for (what, dims), g_, w_ in zip(case.outputs, got, want, strict=False):
                    g_ = g_.reshape(w_.shape)
                    g_, w_ = crop(g_, inp["valid"], dims), crop(w_, inp["valid"], dims)
                    p = pcc(g_, w_)
                    errs.append(f"{what}:{p:.5f}")
                    worst = min(worst, p)
                    row["max_err"] = max(row.get("max_err", 0.0), float((g_ - w_).abs().max()))
                row["pcc"], row["pcc_by_output"] = worst, " ".join(errs)
                if jit:
                    row.update(run_jit(T, case, make_module, run_once, got))
            except Exception as e:  # noqa: BLE001 (the table reports every failure)
                row["error"] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:300]
                if os.environ.get("CHECK_TTBOLTZ_TRACEBACK"):
                    traceback.print_exc()
            print(json.dumps(row), flush=True)
    return rows


def run_jit(T, case, make_module, run_once, eager_out) -> dict:
    """Wrap `Cls.__call__` of the case's tt-boltz classes with ttfuse.jit, build a fresh module (nothing cached
    on `self` by an eager call) and run it twice (trace + compile + run, then the cached call); restore the
    classes. JIT vs eager PCC (the worse of both calls), launches of the cached call, traces and entries
    (summed over the wrapped classes: one entry serves every layer of a shape), warnings the jit gave."""
    import warnings

    import ttfuse

    saved, jitted = {}, {}
    try:
        for name in case.cls_names:
            cls = getattr(T, name)
            saved[name] = cls.__call__
            cls.__call__ = jitted[name] = ttfuse.jit(cls.__call__)
        mod = make_module()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            first, _, _ = run_once(mod)
            got, launches, dt = run_once(mod)
        p = min(
            pcc(g_.reshape(e_.shape), e_)
            for out in (first, got)
            for g_, e_ in zip(out, eager_out, strict=False)
        )
        traces = sum(j.trace_count for j in jitted.values())
        entries = sum(j.num_entries for j in jitted.values())
        warned = sorted({str(w.message).splitlines()[0][:160] for w in caught})
        return dict(
            jit_pcc=p,
            jit_launches=launches,
            jit_seconds=dt,
            jit_traces=traces,
            jit_entries=entries,
            jit_warnings=warned,
        )
    except Exception as e:  # noqa: BLE001
        return dict(jit_error=f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:300])
    finally:
        for name, fn in saved.items():
            getattr(T, name).__call__ = fn


def table(rows: list[dict], jit: bool) -> str:
    head = "| module | N | arch | PCC | max abs err | launches/call |"
    if jit:
        head += " JIT vs eager PCC | launches JIT | traces/entries |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        if "error" in r:
            cells = [r["module"], r["n"], r["arch"], "FAIL", r["error"], ""]
        else:
            flag = "" if r["pcc"] >= PCC_TARGET else " (<0.999)"
            cells = [
                r["module"],
                r["n"],
                r["arch"],
                f"{r['pcc']:.5f}{flag}",
                f"{r['max_err']:.3g}",
                r["launches"],
            ]
        if jit:
            if "jit_error" in r:
                cells += ["FAIL", r["jit_error"], ""]
            elif "jit_pcc" in r:
                cells += [f"{r['jit_pcc']:.6f}", r["jit_launches"], f"{r['jit_traces']}/{r['jit_entries']}"]
            else:
                cells += ["", "", ""]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


ARCH_LABEL = {"wormhole_b0": "Wormhole n150", "blackhole": "Blackhole p150 (13x10)"}


def wide_table(rows: list[dict], jit: bool) -> str:
    """One row per module, one column per (arch, N): eager `PCC / max abs err / launches`, or with `jit`
    `JIT vs eager PCC / launches eager -> JIT / traces, entries` (failures as `FAIL: reason`)."""
    cols = sorted({(r["arch"], r["n"]) for r in rows}, key=lambda c: (c[0] != "wormhole_b0", c[0], c[1]))
    modules = list(dict.fromkeys(r["module"] for r in rows))
    by = {(r["module"], r["arch"], r["n"]): r for r in rows}

    def cell(r):
        if r is None:
            return ""
        if "error" in r:
            return f"FAIL: {r['error']}"
        if not jit:
            flag = "" if r["pcc"] >= PCC_TARGET else "*"
            return f"{r['pcc']:.5f}{flag} / {r['max_err']:.3g} / {r['launches']}"
        if "jit_error" in r:
            return f"FAIL: {r['jit_error']}"
        flag = "" if r["jit_pcc"] >= 0.9995 else "*"
        return (
            f"{r['jit_pcc']:.6f}{flag} / {r['launches']} -> {r['jit_launches']} / "
            f"{r['jit_traces']}, {r['jit_entries']}"
        )

    head = ["module"] + [f"{ARCH_LABEL.get(a, a)}, N={n}" for a, n in cols]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for m in modules:
        lines.append("| " + " | ".join([m] + [cell(by.get((m, a, n))) for a, n in cols]) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path", help="tt-boltz's src/boltz/model/modules/tenstorrent.py (commit 0247de6)")
    ap.add_argument("--n", type=int, nargs="+", default=[32, 100])
    ap.add_argument("--arch", nargs="+", default=list(DEFAULT_ARCHS))
    ap.add_argument("--only", nargs="*", default=[], help="substrings of module names to run")
    ap.add_argument("--jit", action="store_true", help="also wrap each class's __call__ with ttfuse.jit")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument(
        "--rows", nargs="+", default=[], help="render the table from JSON-lines files of earlier --child runs"
    )
    a = ap.parse_args(argv)
    if a.rows:
        rows = [json.loads(ln) for f in a.rows for ln in open(f) if ln.startswith("{")]
        print(wide_table(rows, a.jit))
        return 0
    if a.child:
        run_arch(a.path, a.arch[0], a.n, a.only, a.jit)
        return 0
    rows = []
    for arch in a.arch:
        cmd = [sys.executable, __file__, a.path, "--child", "--arch", arch, "--n", *map(str, a.n)]
        cmd += ["--only", *a.only] if a.only else []
        cmd += ["--jit"] if a.jit else []
        proc = subprocess.run(cmd, capture_output=True, text=True)
        for line in proc.stdout.splitlines():
            if line.startswith("{"):
                rows.append(json.loads(line))
                r = rows[-1]
                print(f"  {r['module']} N={r['n']} {arch}: {r.get('pcc', r.get('error'))}", file=sys.stderr)
        if proc.returncode:
            print(proc.stderr[-3000:], file=sys.stderr)
    print(table(rows, a.jit))
    return 0


if __name__ == "__main__":
    sys.exit(main())
