"""docs/boltz.md: its examples run as written and give the reference's answers (so the doc cannot rot)."""

from __future__ import annotations

import pathlib
import re

import torch

from ttfuse.testing import pcc

DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "boltz.md"


def test_boltz_doc_example_runs():
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert len(blocks) == 2  # the Pairformer example, then the atom-level one (same session)
    ns: dict = {}
    for code in blocks:
        exec(compile(code, str(DOC), "exec"), ns)  # noqa: S102 - our own documentation
    ref, s, z, mask, pm = ns["ref"], ns["s"], ns["z"], ns["mask"], ns["pair_mask"]
    with torch.no_grad():
        want_s, want_z = ref(s, z, mask, pm)
        want_tri = ref.tri_mul_out(z, pm)
    assert ns["z_out"].shape == want_z.shape and ns["s_out"].shape == want_s.shape
    assert pcc(ns["z_out"] - z, want_z - z) > 0.998  # the layer's update of z, as the stack tests compare
    assert pcc(ns["s_out"], want_s) > 0.998
    assert pcc(ns["z_tri"], want_tri) > 0.99  # bfloat8_b weights and activations
    with torch.no_grad():
        want_q = ns["ref_atom"](ns["q"], ns["c"], ns["bias"], ns["to_keys"], ns["atom_mask"])
    assert ns["q_out"].shape == want_q.shape
    assert pcc(ns["q_out"] - ns["q"], want_q - ns["q"]) > 0.999
    ns["ttnn"].close_device(ns["device"])
