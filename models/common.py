"""Helpers shared by the model ports (plain TTNN through `ttfuse.ttnn`): tile rounding and compute configs."""

from __future__ import annotations

from ttfuse import ttnn

TILE = 32


def round_up(n: int, m: int = TILE) -> int:
    """`n` rounded up to a multiple of `m` (a tile by default)."""
    return -(-n // m) * m


def kernel_config(device, fidelity, *, fp32_acc: bool, packer_l1_acc: bool):
    """A compute kernel config for `device`'s arch with exact math (no approximation mode)."""
    return ttnn.init_device_compute_kernel_config(
        device.arch(),
        math_fidelity=fidelity,
        math_approx_mode=False,
        fp32_dest_acc_en=fp32_acc,
        packer_l1_acc=packer_l1_acc,
    )
