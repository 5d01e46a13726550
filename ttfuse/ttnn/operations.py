"""`ttnn.operations.*`: the module paths tt-metal's op tests import names from.

In ttnn 0.81.1 `ttnn/operations/` is a package of Python modules (`ccl`, `transformer`, `normalization`, ...)
whose public names are mostly the top-level `ttnn.X` objects themselves (`ttnn.operations.ccl.Topology is
ttnn.Topology`, `ttnn.operations.transformer.SDPAProgramConfig is ttnn.SDPAProgramConfig`). `build(facade)` makes
each of them a real `types.ModuleType`, attached as an attribute of this module and registered in `sys.modules`
as `ttfuse.ttnn.operations.<name>` (so `import ttfuse.ttnn.operations.ccl` works, and so does
`import ttnn.operations.ccl` once `ttnn` is mapped to the facade), holding the facade's object for every name of
`NAMES` it has. `NAMES` lists, per wheel module, the public names that are the same object as `ttnn.<name>` in
the wheel (read from 0.81.1 with `getattr(mod, n) is getattr(ttnn, n)`); the wheel's private golden helpers and
typing re-exports are not API.

Extend: a name the facade gains is picked up by `build` when it is in `NAMES`; a new wheel module is a new row.
"""

from __future__ import annotations

import sys
import types

NAMES: dict[str, tuple[str, ...]] = {
    "activations": ("get_golden_function",),
    "binary": (),
    "binary_backward": (),
    "binary_complex": (),
    "ccl": (
        "DispatchAlgorithm",
        "MMSignalAggregatorMode",
        "Topology",
        "WorkerMode",
        "get_num_links",
        "get_usable_topology",
    ),
    "comparison": ("pearson_correlation_coefficient",),
    "complex_unary_backward": (),
    "conv2d": (
        "Conv2dConfig",
        "Conv2dDRAMSliceHeight",
        "Conv2dDRAMSliceWidth",
        "Conv2dL1Full",
        "Conv2dL1FullSliceConfig",
        "Conv2dSliceConfig",
        "Op2DDRAMSliceHeight",
        "Op2DDRAMSliceWidth",
        "Op2DL1Full",
        "Op2DL1FullSliceConfig",
        "Op2DSliceConfig",
        "PaddingMode",
        "SlidingWindowParallelConfig",
        "get_conv_output_dim",
        "prepare_conv_bias",
        "prepare_conv_transpose2d_bias",
        "prepare_conv_transpose2d_weights",
        "prepare_conv_weights",
    ),
    "core": ("as_tensor", "dump_tensor", "from_torch", "load_tensor", "to_torch"),
    "creation": (),
    "data_movement": ("SliceDeviceOperation", "SliceInputs", "SliceParams", "SliceTileProgramFactory"),
    "embedding": ("EmbeddingsType",),
    "golden_common": (),
    "integer_golden": (),
    "losses": ("LossReductionMode",),
    "matmul": (
        "MatmulDeviceOperation",
        "MatmulInputs",
        "MatmulMultiCoreReuseMultiCast1DProgramConfig",
        "MatmulMultiCoreReuseMultiCastBatchedDRAMShardedProgramConfig",
        "MatmulMultiCoreReuseMultiCastDRAMShardedProgramConfig",
        "MatmulMultiCoreReuseMultiCastProgramConfig",
        "MatmulMultiCoreReuseProgramConfig",
        "MatmulParams",
        "create_matmul_attributes",
        "get_golden_function",
        "matmul_select_program_factory",
    ),
    "moreh": (),
    "normalization": (
        "DistributedLayerNormStage",
        "LayerNormDefaultProgramConfig",
        "LayerNormDeviceOperation",
        "LayerNormInputs",
        "LayerNormMultiCoreProgramFactory",
        "LayerNormParams",
        "LayerNormShardedMultiCoreProgramConfig",
        "LayerNormShardedProgramFactory",
        "LayerNormType",
        "SoftmaxDefaultProgramConfig",
        "SoftmaxProgramConfig",
        "SoftmaxShardedMultiCoreProgramConfig",
        "create_group_norm_input_mask",
        "create_group_norm_input_negative_mask",
        "create_group_norm_weight_bias_rm",
        "create_layer_norm_reciprocals",
        "create_layernorm_program_config",
        "determine_expected_group_norm_dram_grid_size",
        "determine_expected_group_norm_sharded_config_and_grid_size",
        "dram_group_norm_params_from_torch",
        "get_group_norm_cores_across_channel",
        "layernorm_default_compute_config",
        "rmsnorm_default_compute_config",
    ),
    "pool": ("global_avg_pool2d", "prepare_grid_sample_grid"),
    "reduction": ("ReduceType",),
    "ternary": (),
    "ternary_backward": (),
    "transformer": (
        "ChunkGdnFusedProgramConfig",
        "ChunkGdnMonoProgramConfig",
        "ChunkGdnPhasedProgramConfig",
        "ChunkGdnWyInverse",
        "PagedCacheGeometryOverride",
        "SDPAProgramConfig",
        "SparseKVFormat",
    ),
    "transformer_golden": (),
    "unary": ("GeluVariant", "SigmoidMode"),
    "unary_backward": (),
    "unary_complex": (),
}

__all__ = sorted(NAMES)


def build(facade: dict) -> None:
    """Create `ttfuse.ttnn.operations.<name>` for every row of NAMES from the facade's namespace `facade`."""
    this = sys.modules[__name__]
    for mod_name, names in NAMES.items():
        qual = f"{__name__}.{mod_name}"
        mod = types.ModuleType(qual, f"ttnn.operations.{mod_name}: the facade's objects of this ttnn module")
        exported = [n for n in names if n in facade]
        for n in exported:
            setattr(mod, n, facade[n])
        mod.__all__ = exported
        setattr(this, mod_name, mod)
        sys.modules[qual] = mod
