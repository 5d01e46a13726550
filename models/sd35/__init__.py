"""SD3.5 Large MMDiT port on the ttfuse simulator: diffusers `SD3Transformer2DModel` in plain TTNN, parallel over
a mesh as TT-DiT (cfg / sequence / tensor parallel), joint attention as a fused ring-attention kernel.

    from models.sd35 import SD3Transformer, JointTransformerBlock, DiTParallelConfig, ring_joint_attention

Modules: parallel.py (DiTParallelConfig, MeshLayout), common.py (configs, weight re-layout, upload, jit switch),
attention.py (ring_joint_attention entry point, sp dispatch), block.py (JointTransformerBlock), transformer.py
(SD3Transformer, full-size spec-only capture), distributed.py (the same ring attention over torch.distributed),
vae.py (AutoencoderKL: SD3.5's VAE decoder on the SD1.4 port's blocks), perf.py (seconds-per-image prediction from
the captured full-size graphs: transformer steps + VAE). See docs/sd35.md.
"""

from models.sd35.attention import ring_joint_attention
from models.sd35.block import JointTransformerBlock
from models.sd35.parallel import DiTParallelConfig, ParallelFactor
from models.sd35.transformer import SD3Transformer
from models.sd35.vae import AutoencoderKL

__all__ = [
    "SD3Transformer",
    "AutoencoderKL",
    "JointTransformerBlock",
    "DiTParallelConfig",
    "ParallelFactor",
    "ring_joint_attention",
]
