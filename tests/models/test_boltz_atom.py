"""Boltz-2 port, atom level: windowed attention (`to_keys`) against the boltz 2.2.1 reference (eval, every
parameter re-drawn).

boltz's AtomTransformer cuts atoms into windows of W=32 queries that attend to H=128 keys gathered by
`single_to_keys` (an einsum with a 0/1 indexing matrix); the port gathers with one ttnn.matmul on the same
matrix (`models.boltz.diffusion.window_keys`). Checked: the gathering itself (exact, activations and mask),
a 2-layer AtomTransformer (atom_s 128, 4 heads, 256 atoms, multiplicity 2, 7 padded atoms per sample; eager
and JIT, PCC >= 0.995 as for the token-level 2-layer stack, JIT vs eager >= 0.9995), a DiffusionTransformerLayer
called as AtomTransformer calls it (its per-window `to_keys` lambda; PCC >= 0.999), and the errors for a
`to_keys` the port cannot read and for windows that do not match the matrix.
"""

from __future__ import annotations

import functools

import pytest
import torch
from boltz.model.modules.encodersv2 import get_indexing_matrix, single_to_keys
from boltz.model.modules.transformersv2 import AtomTransformer as RefAtomTransformer
from boltz.model.modules.transformersv2 import DiffusionTransformerLayer as RefDTL

import models.boltz as mb
from models.boltz.common import to_host, to_tt
from models.boltz.diffusion import WindowKeys, window_keys
from ttfuse import ttnn

W, H = 32, 128  # boltz's atoms_per_window_queries / atoms_per_window_keys
ATOM_S, HEADS = 128, 4


def boltz_to_keys(n_atoms: int):
    """The `to_keys` boltz's atom encoder builds for n_atoms (a multiple of W)."""
    k = n_atoms // W
    return functools.partial(single_to_keys, indexing_matrix=get_indexing_matrix(k, W, H, "cpu"), W=W, H=H)


def ref_atom_transformer(depth: int) -> RefAtomTransformer:
    """boltz's atom encoder/decoder transformer at atom_s 128, 4 heads, windows of 32 queries and 128 keys."""
    kw = dict(dim=ATOM_S, dim_single_cond=ATOM_S, depth=depth, heads=HEADS)
    return RefAtomTransformer(attn_window_queries=W, attn_window_keys=H, **kw)


def atom_inputs(samples: int, n_atoms: int, layers: int, seed: int):
    """q, c [samples, N, 128], bias [1, K, W, H, layers*heads], mask [samples, N] (last 7 atoms padding)."""
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(samples, n_atoms, ATOM_S, generator=g)
    c = torch.randn(samples, n_atoms, ATOM_S, generator=g)
    bias = torch.randn(1, n_atoms // W, W, H, layers * HEADS, generator=g)
    mask = torch.ones(samples, n_atoms)
    mask[:, -7:] = 0
    return q, c, bias, mask


def test_window_keys_is_exactly_single_to_keys(device):
    n, b = 256, 2
    to_keys = boltz_to_keys(n)
    keys = WindowKeys.from_boltz(to_keys, device)
    g = torch.Generator().manual_seed(3)
    x = torch.randn(b, n, ATOM_S, generator=g).bfloat16().float()  # values the device holds
    mask = (torch.rand(b, n, generator=g) > 0.3).float()
    got = to_host(window_keys(to_tt(x.reshape(-1, W, ATOM_S), device), keys.indexing))
    assert torch.equal(got, to_keys(x).reshape(-1, H, ATOM_S))
    got_mask = to_host(window_keys(to_tt(mask.reshape(-1, W), device), keys.indexing))
    assert torch.equal(got_mask, to_keys(mask.unsqueeze(-1)).reshape(-1, H))


@pytest.mark.parametrize("jit", [False, pytest.param(True, marks=pytest.mark.slow)])  # JIT: ~5 s
def test_atom_transformer_2_layers(device, redraw, pcc, pcc_report, jit):
    n, mult = 256, 2
    ref = redraw(ref_atom_transformer(2), 41)
    q, c, bias, mask = atom_inputs(mult, n, 2, 42)
    to_keys = boltz_to_keys(n)
    with torch.no_grad():
        want = ref(q, c, bias, to_keys, mask, multiplicity=mult)
    port = mb.AtomTransformer.from_torch(ref, device, jit=jit)
    got = port(q, c, bias, to_keys, mask, multiplicity=mult)
    assert got.shape == want.shape
    keep = mask.bool()
    p_out, p_upd = pcc(got[keep], want[keep]), pcc((got - q)[keep], (want - q)[keep])
    what = f"AtomTransformer(2) {'JIT' if jit else 'eager'} N={n} x{mult}"
    pcc_report(f"{what} output", p_out)
    pcc_report(f"{what} update", p_upd)
    assert p_out >= 0.995 and p_upd >= 0.995
    if jit:
        eager = mb.AtomTransformer.from_torch(ref, device, jit=False)(
            q, c, bias, to_keys, mask, multiplicity=mult
        )
        p = pcc(got, eager)
        pcc_report(f"AtomTransformer(2) JIT vs eager N={n}", p)
        assert p >= 0.9995


def test_diffusion_transformer_layer_with_atom_windows(device, redraw, pcc, pcc_report):
    """The layer as AtomTransformer calls it: windows [B*K, W, d] and its per-window lambda around to_keys."""
    n, b = 128, 1
    ref = redraw(RefDTL(HEADS, ATOM_S, ATOM_S), 43)
    q, c, bias, mask = atom_inputs(b, n, 1, 44)
    to_keys, nw = boltz_to_keys(n), n // W
    to_keys_new = lambda x: to_keys(x.view(b, nw * W, -1)).view(b * nw, H, -1)  # noqa: E731 (as boltz writes it)
    args = (q.view(-1, W, ATOM_S), c.view(-1, W, ATOM_S), bias.view(-1, W, H, HEADS), mask.view(-1, W))
    with torch.no_grad():
        want = ref(*args, to_keys=to_keys_new)
    got = mb.DiffusionTransformerLayer.from_torch(ref, device, jit=False)(*args, to_keys=to_keys_new)
    keep = args[3].bool()
    p = pcc(got[keep], want[keep])
    pcc_report(f"DiffusionTransformerLayer atom windows N={n}", p)
    assert p >= 0.999


def test_to_keys_errors(device, redraw):
    ref = redraw(RefDTL(HEADS, ATOM_S, ATOM_S), 45)
    port = mb.DiffusionTransformerLayer.from_torch(ref, device, jit=False)
    q, c, bias, mask = atom_inputs(1, 128, 1, 46)
    args = (q.view(-1, W, ATOM_S), c.view(-1, W, ATOM_S), bias.view(-1, W, H, HEADS), mask.view(-1, W))
    with pytest.raises(ValueError, match="argument 'to_keys' must be boltz's"):
        port(*args, to_keys=lambda x: x)
    with pytest.raises(ValueError, match="do not match the indexing matrix"):
        port(*args, to_keys=boltz_to_keys(96))  # a matrix for 3 windows, inputs of 4
    at = mb.AtomTransformer.from_torch(
        redraw(ref_atom_transformer(1), 47),
        device,
        jit=False,
    )
    with pytest.raises(ValueError, match="not a multiple of the window"):
        at(q[:, :100], c[:, :100], bias, boltz_to_keys(128), mask[:, :100])


def test_window_keys_is_shared_by_calls(device):
    """The indexing matrix is uploaded once per matrix object (not per call)."""
    to_keys = boltz_to_keys(128)
    first = WindowKeys.from_boltz(to_keys, device)
    assert WindowKeys.from_boltz(to_keys, device, first) is first
    assert WindowKeys.from_boltz(boltz_to_keys(128), device, first) is not first
    assert WindowKeys.from_boltz(first, device) is first
    assert isinstance(first.indexing, ttnn.Tensor) and tuple(first.indexing.shape) == (1, 8 * 4, 2 * 4)
