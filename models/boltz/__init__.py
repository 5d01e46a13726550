"""Boltz-2 on TTNN through `ttfuse.ttnn`: ports of the boltz 2.2.1 Pairformer, MSA and diffusion-transformer
modules, each built from the reference PyTorch module with `Port.from_torch(module, device, *, dtype, jit)`.

    from models.boltz import PairformerLayer
    port = PairformerLayer.from_torch(reference_layer, device, jit=False)
    s, z = port(s, z, mask, pair_mask)            # torch in, torch out (drop-in for the reference)
    s_tt, z_tt = port.forward_ttnn(s_tt, z_tt, mask_tt, pair_mask_tt)   # ttnn in, ttnn out

Modules: common (upload, padding, jit switch), triangle, attention, transition, pairformer, diffusion, msa.
"""

from models.boltz.attention import AttentionPairBias
from models.boltz.diffusion import (
    AdaLN,
    AtomTransformer,
    ConditionedTransitionBlock,
    DiffusionTransformer,
    DiffusionTransformerLayer,
)
from models.boltz.msa import MSALayer, OuterProductMean, PairWeightedAveraging
from models.boltz.pairformer import (
    PairformerLayer,
    PairformerModule,
    PairformerNoSeqLayer,
    PairformerNoSeqModule,
)
from models.boltz.transition import Transition
from models.boltz.triangle import (
    TriangleAttentionEndingNode,
    TriangleAttentionStartingNode,
    TriangleMultiplicationIncoming,
    TriangleMultiplicationOutgoing,
)

__all__ = [
    "AdaLN",
    "AtomTransformer",
    "AttentionPairBias",
    "ConditionedTransitionBlock",
    "DiffusionTransformer",
    "DiffusionTransformerLayer",
    "MSALayer",
    "OuterProductMean",
    "PairWeightedAveraging",
    "PairformerLayer",
    "PairformerModule",
    "PairformerNoSeqLayer",
    "PairformerNoSeqModule",
    "Transition",
    "TriangleAttentionEndingNode",
    "TriangleAttentionStartingNode",
    "TriangleMultiplicationIncoming",
    "TriangleMultiplicationOutgoing",
]
