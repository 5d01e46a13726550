"""ttfuse's config objects compared with the real ttnn 0.81.1 classes (issue 5 item 3).

Main-environment side (imports ttfuse, never ttnn). Three sources of configs:
- `selection_sweep()`: every program config `select_matmul_config` and every compute kernel config
  `compute_kernel_config_for` produce over shapes x devices (Wormhole n150 8x8, Blackhole p150 11x10 and 13x10)
  x dtypes (bfloat16, bfloat8_b) x fp32 accumulation (off/on), plus fused activations and a max_grid;
- `class_samples()`: one object of every config class with every field away from its default, so classes the
  selector does not produce yet (SDPA, layernorm/softmax sharded, DRAM-sharded, reuse, minimal matmul) are
  covered field by field;
- `graph_configs(graphs)`: configs found in jit-lowered graphs (node attributes and side.config), i.e. what the
  select-configs pass stores once it runs.
The oracle's `configs` command builds each object as the real class from `to_json_value` field data and reads
every field back; `compare_objects` checks each field of the ttfuse object against the value read back, and
`compare_schemas` checks each class's field names and defaults against the real constructor.

Findings (`Finding.kind`): `construct` (ttnn rejected the values), `field_value`, `field_missing` (ttnn's object
has no such field), `extra_real_field` (a ttnn field ttfuse lacks), `default`, `required` (a note: ttfuse
defaults a field ttnn requires). Errors fail the test unless in `SCHEMA_NOTES` (reasoned, see FINDINGS.md).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import MISSING, dataclass, field, fields, is_dataclass, replace

import numpy as np

from conformance.ttnn_introspect import default_text

# (class, field, kind) -> why the difference is accepted (see conformance/FINDINGS.md)
SCHEMA_NOTES: dict[tuple[str, str, str], str] = {
    (
        "LayerNormDefaultProgramConfig",
        "legacy_rsqrt",
        "field_value",
    ): "ttnn 0.81.1 bug: the constructor drops "
    "legacy_rsqrt (always reads back False); ttfuse keeps what the caller passed",
    ("LayerNormShardedMultiCoreProgramConfig", "legacy_rsqrt", "field_value"): "ttnn 0.81.1 bug: see "
    "LayerNormDefaultProgramConfig",
    ("WormholeComputeKernelConfig", "math_fidelity", "default"): "known: reported to the lead "
    "(conformance/api_check.py KNOWN)",
}


@dataclass(frozen=True)
class Finding:
    label: str  # config label, or the class name for schema findings
    field: str | None
    kind: str
    detail: str
    cls: str = ""  # the config class
    resolution: str = ""

    @property
    def is_error(self) -> bool:
        return self.kind != "required" and not self.resolution

    def __str__(self) -> str:
        return (
            f"{self.kind:16} {self.label}"
            + (f".{self.field}" if self.field else "")
            + f": {self.detail}"
            + (f"  [{self.resolution}]" if self.resolution else "")
        )


@dataclass
class ConfigReport:
    findings: list[Finding] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)  # configs, fields, classes, per-class counts

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.is_error]


# ------------------------------------------------------------------------------------------------ sources
SWEEP_SHAPES = (  # (M, K, N, batch): decode, prefill, square, narrow, batched, ragged, the models' linears
    (32, 32, 32, 1), (32, 4096, 4096, 1), (32, 2048, 8192, 1), (128, 1024, 1024, 1), (1024, 1024, 1024, 1),
    (2048, 4096, 1024, 1), (4096, 512, 64, 1), (384, 128, 128, 4), (8192, 8192, 8192, 1), (200, 300, 500, 1),
    (64, 2560, 10240, 1), (4096, 64, 4096, 1), (512, 1536, 6144, 2), (1024, 384, 1536, 1), (4096, 1536, 1536, 1),
    (4096, 1536, 6144, 1), (333, 4096, 77, 1), (2304, 128, 384, 8), (96, 96, 4096, 1), (16384, 256, 256, 1),
)  # fmt: skip
SWEEP_MAX_GRIDS = (None, (3, 3), (7, 3))  # jit(max_grid=(x_end, y_end))
SWEEP_DEVICES = ("wormhole_b0:n150", "blackhole:p150:11x10", "blackhole:p150:13x10")
SWEEP_DTYPES = ("bfloat16", "bfloat8_b")


def selection_sweep() -> list[tuple[str, object]]:
    """(label, config) for every config the selection functions produce over the sweep (unique by value)."""
    from ttfuse.configs import MathFidelity, UnaryOpType, UnaryWithParam
    from ttfuse.device import device_spec
    from ttfuse.passes.select_configs import MatmulProblem, compute_kernel_config_for, select_matmul_config
    from ttfuse.types import DataType

    out: list[tuple[str, object]] = []
    acts = (None, UnaryWithParam(UnaryOpType.SILU), UnaryWithParam(UnaryOpType.GELU, 1.0))
    for kind in SWEEP_DEVICES:
        spec = device_spec(kind)
        for M, K, N, b in SWEEP_SHAPES:
            for dt in SWEEP_DTYPES:
                d = DataType(dt)
                a_shape = (b, M, K) if b > 1 else (M, K)
                p = MatmulProblem.from_shapes(a_shape, (K, N), d, d, DataType.BFLOAT16)
                for fp32 in (False, True):
                    for mg in SWEEP_MAX_GRIDS:
                        act = acts[(M + N) // 32 % len(acts)]
                        cfg = select_matmul_config(p, spec, fp32_acc=fp32, fused_activation=act, max_grid=mg)
                        if cfg is not None:
                            out.append((f"matmul {kind} {M}x{K}x{N}b{b} {dt} fp32={fp32} max_grid={mg}", cfg))
                    ckc = compute_kernel_config_for((d, d, DataType.BFLOAT16), fp32_acc=fp32)
                    out.append((f"ckc {dt} fp32={fp32}", ckc))
            p = MatmulProblem.from_shapes(
                (1024, 1024), (1024, 1024), DataType.BFLOAT16, DataType.BFLOAT16, DataType.BFLOAT16
            )
            cfg = select_matmul_config(p, spec, max_grid=(3, 3), dst_full_sync=True)
            if cfg is not None:
                out.append((f"matmul {kind} 1024^3 max_grid=(3,3) full_sync", cfg))
    out += _more_variants()
    out += _minimal_matmul_variants()
    dtype_sets = (
        ("bfloat16",),
        ("bfloat8_b",),
        ("bfloat4_b",),
        ("float32",),
        ("bfloat16", "bfloat8_b"),
        ("bfloat8_b", "bfloat4_b"),
    )
    for ds in dtype_sets:
        for fid in (None, *MathFidelity.__members__.values()):
            if fid is not None and fid.name == "Invalid":
                continue
            for fp32 in (None, False, True):
                ckc = compute_kernel_config_for(tuple(DataType(x) for x in ds), fidelity=fid, fp32_acc=fp32)
                out.append((f"ckc {'+'.join(ds)} fidelity={fid and fid.name} fp32={fp32}", ckc))
    return _unique(out)


def _minimal_matmul_variants() -> list[tuple[str, object]]:
    """MinimalMatmulConfigs `select_minimal_matmul_config` gives (the fused kernels' SwiGLU / split projections)
    over devices, shapes, SwiGLU and fp32 accumulation."""
    from ttfuse.device import device_spec
    from ttfuse.passes.select_configs import select_minimal_matmul_config
    from ttfuse.types import DataType

    bf = DataType.BFLOAT16
    out = []
    for kind in SWEEP_DEVICES:
        spec = device_spec(kind)
        for mt, kt, nt in ((64, 4, 32), (2, 12, 8), (512, 12, 96), (8, 4, 2)):
            for swiglu in (False, True):
                for fp32 in (False, True):
                    cfg = select_minimal_matmul_config(
                        mt, kt, nt, (bf, bf, bf), spec, fp32_acc=fp32, fuse_swiglu=swiglu
                    )
                    if cfg is not None:
                        out.append(
                            (f"minimal_matmul {kind} {mt}x{kt}x{nt}t swiglu={swiglu} fp32={fp32}", cfg)
                        )
    return out


def _more_variants() -> list[tuple[str, object]]:
    """Batched-reuse, DRAM-sharded, SDPA, sharded layernorm / softmax configs over devices and shapes (those
    selection functions exist in select_configs.py; absent ones are skipped)."""
    from ttfuse.device import device_spec
    from ttfuse.passes import select_configs as sc
    from ttfuse.types import CoreCoord, DataType, ShardOrientation, ShardSpec, num_cores_to_corerangeset

    bf16, bfp8 = DataType.BFLOAT16, DataType.BFLOAT8_B
    out: list[tuple[str, object]] = []
    for kind in SWEEP_DEVICES:
        spec = device_spec(kind)
        gx, gy = spec.grid
        for fp32 in (False, True):
            if hasattr(sc, "select_batched_matmul_config"):
                for Mt, Kt, Nt, b in ((4, 4, 4, 8), (12, 2, 12, 32), (2, 32, 8, 16), (1, 4, 2, 128)):
                    cfg = sc.select_batched_matmul_config(
                        Mt, Kt, Nt, b, (bf16, bf16, bf16), spec, fp32_acc=fp32
                    )
                    if cfg is not None:
                        out.append((f"batched {kind} {Mt}x{Kt}x{Nt}t b{b} fp32={fp32}", cfg))
            if hasattr(sc, "select_dram_sharded_config"):
                for Kt, Nt, nc in ((128, 128, 8), (64, 448, 16), (32, 96, 12)):
                    cfg = sc.select_dram_sharded_config(
                        1, Kt, Nt, Kt // nc, nc, (bf16, bfp8, bf16), spec, fp32_acc=fp32
                    )
                    if cfg is not None:
                        out.append((f"dram-sharded {kind} 1x{Kt}x{Nt}t on {nc} fp32={fp32}", cfg))
        if hasattr(sc, "select_sdpa_config"):
            for b, h, sq, sk, dh in (
                (1, 8, 4096, 4096, 64),
                (1, 24, 1024, 333, 64),
                (2, 4, 128, 128, 128),
                (1, 16, 100, 100, 32),
            ):
                for mg in (None, (3, 3)):
                    cfg = sc.select_sdpa_config(b, h, sq, sk, dh, bf16, spec, max_grid=mg)
                    if cfg is not None:
                        out.append((f"sdpa {kind} b{b} h{h} {sq}x{sk} d{dh} max_grid={mg}", cfg))
        if hasattr(sc, "layernorm_sharded_config"):
            for rows, cols in ((1, gx), (gy, gx), (2, 4)):
                grid = num_cores_to_corerangeset(rows * cols, CoreCoord(cols, rows), True)
                shard = ShardSpec(grid, (32 * 2, 32 * 4), ShardOrientation.ROW_MAJOR)
                shape = (32 * 2 * rows, 32 * 4 * cols)
                out.append(
                    (
                        f"layernorm sharded {kind} {rows}x{cols}",
                        sc.layernorm_sharded_config(shape, shard, spec),
                    )
                )
                if hasattr(sc, "softmax_sharded_config"):
                    hs = ShardSpec(grid, (32 * 2, 32 * 4), ShardOrientation.ROW_MAJOR)
                    out.append(
                        (
                            f"softmax sharded {kind} {rows}x{cols}",
                            sc.softmax_sharded_config((32 * 2 * rows * cols, 32 * 4), hs, spec),
                        )
                    )
    return out


def class_samples() -> list[tuple[str, object]]:
    """One object per config class with every field set away from its default (nested types included)."""
    from ttfuse import configs as C
    from ttfuse.types import CoreCoord, CoreRange, CoreRangeSet, DataType, Layout, TensorMemoryLayout

    act = C.UnaryWithParam(C.UnaryOpType.LEAKY_RELU, 0.125)
    crs = CoreRangeSet(
        [CoreRange(CoreCoord(0, 0), CoreCoord(3, 1)), CoreRange(CoreCoord(0, 2), CoreCoord(1, 2))]
    )
    mm = dict(
        compute_with_storage_grid_size=(7, 5),
        in0_block_w=3,
        out_subblock_h=2,
        out_subblock_w=3,
        per_core_M=6,
        per_core_N=9,
    )
    mcast = dict(**mm, out_block_h=3, fuse_batch=False, fused_activation=act, allowed_worker_cores=crs)
    return [
        (
            "sample 2D",
            C.MatmulMultiCoreReuseMultiCastProgramConfig(**mcast, out_block_w=3, transpose_mcast=True),
        ),
        (
            "sample 1D",
            C.MatmulMultiCoreReuseMultiCast1DProgramConfig(
                **mcast,
                out_block_w=9,
                mcast_in0=False,
                gather_in0=True,
                num_global_cb_receivers=2,
                untilize_out=True,
                hop_cores=crs,
                stream_in1=True,
            ),
        ),
        (
            "sample DRAM-sharded",
            C.MatmulMultiCoreReuseMultiCastDRAMShardedProgramConfig(
                in0_block_w=4,
                per_core_M=1,
                per_core_N=5,
                fused_activation=C.UnaryWithParam(C.UnaryOpType.RELU),
                num_workers_per_dram_bank=2,
            ),
        ),
        ("sample reuse", C.MatmulMultiCoreReuseProgramConfig(**mm, allowed_worker_cores=crs)),
        (
            "sample minimal",
            C.MinimalMatmulConfig(
                M_block_size=8,
                K_block_size=4,
                N_block_size=6,
                subblock_h=2,
                subblock_w=3,
                compute_with_storage_grid_size=(12, 9),
            ),
        ),
        (
            "sample SDPA",
            C.SDPAProgramConfig(
                compute_with_storage_grid_size=(11, 10),
                q_chunk_size=128,
                k_chunk_size=256,
                sub_core_grids=crs,
                exp_approx_mode=True,
                max_cores_per_head_batch=8,
                max_k_splits=2,
                matmul_math_fidelity=C.MathFidelity.HiFi3,
                segmented_accumulation=True,
            ),
        ),
        (
            "sample SDPA defaults",
            C.SDPAProgramConfig(compute_with_storage_grid_size=(8, 8), q_chunk_size=32, k_chunk_size=32),
        ),
        (
            "sample layernorm default",
            C.LayerNormDefaultProgramConfig(legacy_reduction=True, legacy_rsqrt=True, use_welford=True),
        ),
        (
            "sample layernorm sharded",
            C.LayerNormShardedMultiCoreProgramConfig(
                compute_with_storage_grid_size=(8, 4),
                subblock_w=2,
                block_h=3,
                block_w=8,
                inplace=True,
                legacy_reduction=True,
                legacy_rsqrt=True,
                use_welford=True,
            ),
        ),
        ("sample softmax default", C.SoftmaxDefaultProgramConfig()),
        (
            "sample softmax sharded",
            C.SoftmaxShardedMultiCoreProgramConfig(
                compute_with_storage_grid_size=(6, 7), subblock_w=4, block_h=2, block_w=12
            ),
        ),
        (
            "sample compute kernel",
            C.WormholeComputeKernelConfig(
                math_fidelity=C.MathFidelity.HiFi3,
                math_approx_mode=False,
                fp32_dest_acc_en=True,
                packer_l1_acc=True,
                dst_full_sync_en=True,
                throttle_level=C.ThrottleLevel.LEVEL_3,
            ),
        ),
        ("sample compute kernel defaults", C.WormholeComputeKernelConfig()),
        ("sample activation 2 params", C.UnaryWithParam(C.UnaryOpType.POWER, [2.0, 0.5])),
        ("sample activation float32 param", C.UnaryWithParam(C.UnaryOpType.MUL_UNARY_SFPU, 0.1)),
        (
            "sample conv2d",
            C.Conv2dConfig(
                weights_dtype=DataType.BFLOAT8_B,
                activation=C.UnaryWithParam(C.UnaryOpType.SILU),
                deallocate_activation=True,
                reallocate_halo_output=False,
                config_tensors_in_dram=True,
                act_block_h_override=64,
                act_block_w_div=2,
                reshard_if_not_optimal=True,
                override_sharding_config=True,
                shard_layout=TensorMemoryLayout.BLOCK_SHARDED,
                core_grid=crs,
                transpose_shards=True,
                output_layout=Layout.ROW_MAJOR,
                enable_act_double_buffer=True,
                enable_weights_double_buffer=True,
                full_inner_dim=True,
                enable_kernel_stride_folding=True,
                enable_activation_reuse=True,
                force_split_reader=True,
                override_output_sharding_config=True,
                padding_mode=C.PaddingMode.Replicate,
            ),
        ),
        ("sample conv2d defaults", C.Conv2dConfig()),
        ("sample conv2d slice", C.Conv2dSliceConfig(slice_type=C.Conv2dDRAMSliceWidth, num_slices=4)),
    ]


def graph_configs(graphs) -> list[tuple[str, object]]:
    """Config objects held by lowered graphs: node attributes and `side.config` values (select-configs output)."""
    from ttfuse.configs import CONFIG_CLASSES

    out = []

    def walk(where: str, v) -> None:
        if type(v).__name__ in CONFIG_CLASSES and type(v) is CONFIG_CLASSES[type(v).__name__]:
            out.append((where, v))
        elif isinstance(v, tuple):  # a fused kernel's step_configs: ((step, config | nested steps), ...)
            for x in v:
                walk(f"{where}[{x[0]}]" if isinstance(x, tuple) and x and isinstance(x[0], str) else where, x)

    for g in graphs:
        for n in g.nodes:
            items = list(dict(n.attrs).items()) + list(dict(n.side.config).items())
            for k, v in items:
                walk(f"graph {g.meta.get('name', '?')} %{n.id} {n.op} {k}", v)
    return _unique(out)


def _unique(items: list[tuple[str, object]]) -> list[tuple[str, object]]:
    seen: set = set()
    out = []
    for label, cfg in items:
        key = (type(cfg), cfg)
        if key not in seen:
            seen.add(key)
            out.append((label, cfg))
    return out


# ------------------------------------------------------------------------------------------------ request
def request(configs: list[tuple[str, object]]) -> dict:
    """The `configs` oracle request: every object as to_json_value data, and every config class's schema."""
    from ttfuse.configs import CONFIG_CLASSES
    from ttfuse.types import to_json_value

    return {
        "objects": [{"label": label, "value": to_json_value(cfg)} for label, cfg in configs],
        "classes": sorted(CONFIG_CLASSES),
    }


# ------------------------------------------------------------------------------------------------ compare
def _norm(v: object) -> object:
    """to_json_value data with floats rounded to float32 (ttnn stores activation parameters as float)."""
    if isinstance(v, float):
        return float(np.float32(v)) if math.isfinite(v) else repr(v)
    if isinstance(v, dict):
        if "$float" in v:
            return v["$float"]
        if v.get("$obj") == "CoreCoord":  # ttfuse's CoreCoord object; ttnn's read back as (x, y)
            return [v["f"]["x"], v["f"]["y"]]
        if "$tuple" in v or "$list" in v:
            return [_norm(x) for x in v.get("$tuple", v.get("$list"))]
        return {k: _norm(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_norm(x) for x in v]
    return v


def config_fields(cfg) -> dict:
    from ttfuse.configs import config_fields as cf

    return cf(cfg)


def compare_objects(configs: list[tuple[str, object]], results: list[dict], report: ConfigReport) -> None:
    """Each ttfuse config's fields against the fields ttnn read back from the object built from them."""
    from ttfuse.types import to_json_value

    for (label, cfg), res in zip(configs, results, strict=True):
        cls = type(cfg).__name__
        report.counts["configs"] += 1
        report.counts[f"class {cls}"] += 1
        if not res["ok"]:
            report.findings.append(
                Finding(label, None, "construct", f"ttnn.{cls}(...) raised {res['error']}", cls)
            )
            continue
        real = res["fields"]
        for name, value in config_fields(cfg).items():
            report.counts["fields"] += 1
            if name not in real:
                report.findings.append(
                    Finding(label, name, "field_missing", f"ttnn.{cls} has no field {name!r}", cls)
                )
                continue
            want, got = _norm(to_json_value(value)), _norm(real[name])
            if want != got:
                report.findings.append(
                    Finding(label, name, "field_value", f"ttfuse {want!r}, ttnn {got!r}", cls)
                )
    _resolve(report)


def _dataclass_fields(cls) -> dict:
    if not is_dataclass(cls):
        return {}
    return {f.name: f for f in fields(cls) if not f.name.startswith("_")}


def compare_schemas(schemas: dict, report: ConfigReport) -> None:
    """Field names and defaults of ttfuse's config classes against the real constructors."""
    from ttfuse.configs import CONFIG_CLASSES

    for name, cls in sorted(CONFIG_CLASSES.items()):
        sch = schemas.get(name, {"exists": False})
        report.counts["classes"] += 1
        if not sch["exists"]:
            report.findings.append(Finding(name, None, "class_missing", f"ttnn has no class {name}", name))
            continue
        if name == "UnaryWithParam":  # positional-only constructor: compare its readable fields instead
            real_names = set(sch["properties"])
            ours = {"op_type", "params"}
            for f in sorted(ours - real_names):
                report.findings.append(
                    Finding(name, f, "field_missing", f"ttnn.{name} has no field {f!r}", name)
                )
            continue
        real: dict[str, dict] = {}
        for ov in sch["overloads"]:
            for p in ov:
                real.setdefault(p["name"], p)
        ours = _dataclass_fields(cls)
        for f in ours:
            report.counts["schema fields"] += 1
            if f not in real:
                report.findings.append(
                    Finding(name, f, "field_missing", f"ttnn.{name}(...) has no parameter {f!r}", name)
                )
        for f, p in real.items():
            if f not in ours:
                report.findings.append(
                    Finding(
                        name,
                        f,
                        "extra_real_field",
                        f"ttnn field {f!r} (default {p['default']!r}) missing in ttfuse",
                        name,
                    )
                )
                continue
            mine = ours[f]
            has_default = mine.default is not MISSING or mine.default_factory is not MISSING
            if not p["has_default"]:
                if has_default:
                    report.findings.append(
                        Finding(
                            name,
                            f,
                            "required",
                            f"ttnn requires it; ttfuse defaults it to {default_text(mine.default)!r}",
                            name,
                        )
                    )
                continue
            if not has_default:
                report.findings.append(
                    Finding(
                        name, f, "default", f"ttnn defaults it to {p['default']!r}; ttfuse requires it", name
                    )
                )
                continue
            ours_d = default_text(mine.default)
            if _simple(p["default"]) and _simple(ours_d) and ours_d != p["default"]:
                report.findings.append(
                    Finding(name, f, "default", f"ttfuse {ours_d!r}, ttnn {p['default']!r}", name)
                )
    _resolve(report)


def _simple(d: object) -> bool:
    return (
        d is None
        or isinstance(d, bool | int | float)
        or (isinstance(d, str) and "(" not in d and "{" not in d)
    )


def _resolve(report: ConfigReport) -> None:
    out = []
    for f in report.findings:
        key = (f.cls or f.label, f.field, f.kind)
        if key in SCHEMA_NOTES and not f.resolution:
            f = replace(f, resolution=SCHEMA_NOTES[key])
        out.append(f)
    report.findings = out
