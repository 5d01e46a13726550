"""SwiGLU transition: port of `boltz.model.layers.transition.Transition`.

LN -> silu(fc1(x)) * fc2(x) -> fc3. Used for the pair track (128 -> 512), the single track (384 -> 1536), the
MSA track (64 -> 256) and the diffusion conditioner. No chunk loop over rows (tt-boltz's
TRANSITION_CHUNK_SIZE) and no hand-concatenated fc1|fc2 weight: both are the compiler's job (chunk pass,
horizontal linear fusion / the fused Transition kernel). Works on any rank; no mask (row-wise).
"""

from __future__ import annotations

from models.boltz.common import Port, linear_weight, norm_weights, to_host, to_tt
from ttfuse import ttnn


def transition(x, norm_w, norm_b, fc1_w, fc2_w, fc3_w, *, dtype, cfg):
    """x [..., D] -> [..., out_dim]."""
    x = ttnn.layer_norm(x, epsilon=1e-5, weight=norm_w, bias=norm_b, compute_kernel_config=cfg)
    a = ttnn.linear(x, fc1_w, activation="silu", dtype=dtype, compute_kernel_config=cfg)
    b = ttnn.linear(x, fc2_w, dtype=dtype, compute_kernel_config=cfg)
    return ttnn.linear(ttnn.multiply(a, b), fc3_w, dtype=dtype, compute_kernel_config=cfg)


def transition_weights(ref, device, dtype) -> tuple:
    return (
        *norm_weights(ref.norm, device),
        linear_weight(ref.fc1.weight, device, dtype),
        linear_weight(ref.fc2.weight, device, dtype),
        linear_weight(ref.fc3.weight, device, dtype),
    )


class Transition(Port):
    """Port of `boltz.model.layers.transition.Transition`."""

    def load(self, ref) -> None:
        self.weights = transition_weights(ref, self.device, self.dtype)

    def forward_ttnn(self, x, chunk_size=None):
        return self.run(transition, x, *self.weights, **self.static())

    def __call__(self, x, chunk_size=None):
        return to_host(self.forward_ttnn(to_tt(x, self.device)))
