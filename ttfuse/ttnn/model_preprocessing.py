"""`ttnn.model_preprocessing`: torch weights turned into ttnn tensors the way ttnn 0.81.1's
ttnn/model_preprocessing.py does it (the wheel's Python module; this is ttfuse's own code for the same rules).

    preprocess_linear_weight(w, dtype=...)        torch [out, in] -> ttnn [in, out] (transposed), TILE by default
    preprocess_linear_bias(b, dtype=...)          [out] -> [1, out], TILE by default
    preprocess_layernorm_parameter(p, dtype=...)  [W] -> [1, W], TILE by default
    preprocess_embedding_weight(w, dtype=...)     as is, ROW_MAJOR (ttnn.embedding's table)
    fold_batch_norm2d_into_conv2d(conv, bn)       (weight, bias) torch tensors of the conv with the BN folded in

All return host tensors (no device), as in ttnn; `ttnn.to_device` moves them. The model-level helpers of the wheel
(`preprocess_model_parameters`, `infer_ttnn_module_args`, its parameter cache) are not here yet: using one raises
AttributeError naming it. `ParameterDict` / `ParameterList` / `ModuleArgs` / `Conv2dArgs` are the wheel's plain
containers.
"""

from __future__ import annotations

import torch

from ttfuse.ops.host import from_torch
from ttfuse.types import Layout


def preprocess_linear_weight(weight, *, dtype, layout=Layout.TILE, weights_mesh_mapper=None):
    """`weight.T` (torch's [out, in] to ttnn.linear's [in, out]) as a host ttnn tensor."""
    return from_torch(weight.T.contiguous(), dtype=dtype, layout=layout, mesh_mapper=weights_mesh_mapper)


def preprocess_linear_bias(bias, *, dtype, layout=Layout.TILE, weights_mesh_mapper=None):
    """The bias as one row [1, out]."""
    return from_torch(bias.reshape((1, -1)), dtype=dtype, layout=layout, mesh_mapper=weights_mesh_mapper)


def preprocess_layernorm_parameter(parameter, *, dtype, layout=Layout.TILE):
    """A norm's gamma or beta as one row [1, W]."""
    return from_torch(parameter.reshape((1, -1)), dtype=dtype, layout=layout)


def preprocess_embedding_weight(weight, *, dtype):
    """The embedding table as is (ROW_MAJOR, from_torch's default)."""
    return from_torch(weight, dtype=dtype)


def fold_batch_norm2d_into_conv2d(conv, bn):
    """(weight, bias) of `conv` followed by eval-mode `bn`, folded: w * g / sqrt(var + eps), (b - mean) * g /
    sqrt(var + eps) + beta; the bias shaped [1, 1, 1, C_out] as ttnn's conv2d takes it."""
    if not bn.track_running_stats:
        raise RuntimeError("BatchNorm2d must have track_running_stats=True to be folded into Conv2d")
    scale = bn.weight * torch.rsqrt(bn.running_var + bn.eps)
    weight = conv.weight * scale.reshape(-1, 1, 1, 1)
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    bias = (bias - bn.running_mean) * scale + bn.bias
    return torch.nn.Parameter(weight), torch.nn.Parameter(bias.reshape(1, 1, 1, -1))


class ParameterList(list):
    """A list of parameters whose repr lists them (the wheel's container)."""


class ParameterDict(dict):
    """A dict of parameters read as attributes too (`parameters.weight`)."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    __setattr__ = dict.__setitem__
    __delattr__ = dict.__delitem__


class ModuleArgs(dict):
    """Arguments of a torch module recorded for its ttnn replacement (the wheel's container)."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class Conv2dArgs(ModuleArgs):
    """A Conv2d's recorded arguments."""
