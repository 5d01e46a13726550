"""select_configs: a program config and a compute kernel config for every matmul, linear, SDPA, norm, softmax.

Pre: a verified graph (after chunk: the shapes are final). Post: a verified graph computing the same values
where every such node the user left to the defaults carries, as its own `program_config` /
`compute_kernel_config` arguments (so the generated code passes them to the op), the configs TT's rules give on
the target device, each validated by the op's spec rule, the check the simulator runs on the call. The choice is
mirrored in side data: `side.config["program_config" | "compute_kernel_config"]` and `side.config["configs_by"]`
({"program_config": "select_configs" | "user" | "none", ...}). Configs the user passed are kept as they are.

Rules (ref/ttnn.md s3-5; the pure selection functions live in ttfuse/passes/select_configs.py):
- matmul / linear: 1D (mcast_in0 when M is small, mcast_in1 when N is narrow) or 2D multicast by shape,
  DRAM-sharded when the activation is width-sharded in L1 and the weight width-sharded in DRAM, the batched
  reuse config when b is batched; per_core_M = ceil(Mt/grid_y), per_core_N = ceil(Nt/grid_x) (2D);
  in0_block_w the largest divisor of Kt whose circular buffers fit the L1 left to them (`cb_limit_per_core`);
  out_subblock from SUBBLOCK_HW_CHOICES within the DST budget (8 tiles, 4 with fp32 accumulation). A linear's
  `activation` moves into the config's `fused_activation` (one kernel instead of matmul + unary). No config
  when the user gave `core_grid` (ttnn rejects both) or nothing fits (then ttnn's default runs).
- SDPA: q/k chunk sizes from `select_sdpa_config` (multiples of 32, CBs within L1, every core busy).
- layer_norm / rms_norm: `LayerNormDefaultProgramConfig` for interleaved inputs, the sharded config a sharded
  input implies; softmax ops with a program_config argument likewise (`ttnn.softmax` has none).
- compute kernel config per op and dtype: matmul-like ops by `compute_kernel_config_for` (HiFi2 for bf16/bfp8,
  LoFi with bfp4, HiFi4 and fp32 accumulation for f32, packer L1 accumulation); norms and softmax keep ttnn's
  defaults (HiFi4, fp32 accumulation for norms). `jit(math_fidelity=...)` overrides the fidelity of every
  config this pass chooses; `ctx.options.fp32_dest_acc_en` (True/False) forces fp32 accumulation.
- minimal_matmul: a MinimalMatmulConfig (`config`) by `select_minimal_matmul_config` (tt-metal's work split and
  circular buffers), checked by the op's own rule.
- fused kernels ("fused"): their compute kernel configs, and `step_configs`: every step the kernel's spec rule
  names (`kernels.common.record_steps`: matmul, linear, minimal_matmul, SDPA, layer_norm, ... inside it) gets
  the program config the stock op's rule above gives it on the step's inputs, nested kernels' steps nested
  (("ss", (("mm", cfg),)),); the kernel's spec rule then validates them all on the device. `program_configs`
  lists one row per step ("transition.w_in"), from side data (`side.config["steps"]`).
  kernels.ring_joint_attention ("ring_sdpa"): an SDPAProgramConfig off the all-gather workers' grid row.
- the grid of every config lies within the device grid and `jit(max_grid=(x_end, y_end))`.
Which rule an op gets is its `Traits.config_rule`: a kind below (`RULE_KINDS`: "matmul", "sdpa", "norm",
"softmax", "minimal_matmul", "fused", "ring_sdpa"; Group.FUSED ops default to "fused") or its own callable
`(node, in_specs, sctx) -> (updates, notes)`.
`program_configs(graph)` lists the decisions for `jit_fn.lower(...).program_configs`.
Extend: declare `Traits(config_rule=...)` on the op (a new kind: a row of RULE_KINDS); a rule returns (attr
updates, notes) and never mutates.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from ttfuse.configs import (
    LayerNormDefaultProgramConfig,
    MathFidelity,
    SDPAProgramConfig,
    SoftmaxDefaultProgramConfig,
    WormholeComputeKernelConfig,
)
from ttfuse.device import TILE
from ttfuse.errors import SpecError
from ttfuse.ir import Decision, Graph, Node, attr_tensor_positions, graph_device, infer, respec, spec_args
from ttfuse.opdef import Group, current_mesh_shape
from ttfuse.passes.place_memory import cb_limit_per_core, set_attrs, target_device, with_side
from ttfuse.passes.select_configs import (
    MatmulProblem,
    compute_kernel_config_for,
    layernorm_sharded_config,
    max_grid_of,
    select_batched_matmul_config,
    select_dram_sharded_config,
    select_matmul_config,
    select_minimal_matmul_config,
    select_sdpa_config,
    softmax_sharded_config,
)
from ttfuse.types import BufferType, Layout, TensorMemoryLayout, TensorSpec

SDPA = "transformer.scaled_dot_product_attention"
CONFIG_OPS = frozenset({Group.MATMUL, Group.ATTENTION, Group.NORM, Group.SOFTMAX})


@dataclass(frozen=True)
class SelectCtx:
    """What a selection rule may know: the device, the usable grid, the CB budget, decorator overrides."""

    spec: object  # DeviceSpec
    max_grid: tuple[int, int] | None
    grid: tuple[int, int]
    cb_limit: int  # bytes per core circular buffers may use
    fidelity: MathFidelity | None = None
    fp32_acc: bool | None = None


@dataclass(frozen=True)
class ConfigRecord:
    """One row of `lower(...).program_configs`: the op, its input shapes and the configs it runs with."""

    node: int
    op: str  # ttnn qualname, e.g. "ttnn.linear"
    input_shapes: tuple[tuple[int, ...], ...]
    program_config: object
    compute_kernel_config: object
    chosen_by: dict = field(default_factory=dict)  # field -> "select_configs" | "user" | "none"
    step: str | None = None  # a fused kernel's step, "transition.w12" (None: the node itself)
    step_op: str | None = None  # the step's stock op, "ttnn.experimental.minimal_matmul"
    slice_config: object = None  # conv2d: the Conv2dSliceConfig it runs with (None: unsliced)

    def __str__(self) -> str:
        shapes = ", ".join("[" + ",".join(map(str, s)) + "]" for s in self.input_shapes)
        head = (
            f"%{self.node} {self.op}" if self.step is None else f"%{self.node} {self.step} = {self.step_op}"
        )
        tail = "" if self.slice_config is None else f"; {self.slice_config!r}"
        return f"{head}({shapes}): {self.program_config!r}; {self.compute_kernel_config!r}{tail}"


# -------------------------------------------------------------------------------------------------- rules
class StepNode:
    """A fused kernel's step seen as a node by the rules below: the stock op and its arguments by name
    (TensorSpecs for tensors; `kernels.common.StepCall`), so a step gets its configs from the same rule as the
    stock op in a graph."""

    def __init__(self, op: str, args: dict, out):
        from ttfuse.opdef import OPS

        self.op, self.opdef, self.args = op, OPS[op], args
        self.outs = tuple(out) if isinstance(out, tuple | list) else (out,)

    def attr(self, name: str, default=None):
        v = self.args.get(name, default)
        return default if isinstance(v, TensorSpec) else v


def _pos(node: Node) -> dict[str, list[int]]:
    return {k: attr_tensor_positions(v) for k, v in node.attrs if attr_tensor_positions(v)}


def _arg(node: Node | StepNode, ins: list[TensorSpec], name: str) -> TensorSpec | None:
    if isinstance(node, StepNode):
        v = node.args.get(name)
        return v if isinstance(v, TensorSpec) else None
    p = _pos(node).get(name)
    return ins[p[0]] if p else None


def _ckc(dtypes, sc: SelectCtx) -> WormholeComputeKernelConfig:
    return compute_kernel_config_for(tuple(dtypes), fidelity=sc.fidelity, fp32_acc=sc.fp32_acc)


def _fused_activation(node: Node):
    from ttfuse.ops.activations import normalize_activation

    act = node.attr("activation")
    return None if act is None else normalize_activation(node.op, act)


def choose_matmul_config(*args, **kw):
    """(program config, why) for a @ b on the device: the TT-rules choice, validated by the simulator's check
    (`validate_matmul_program_config`); (None, reason) when nothing valid fits. Memoised: chunked graphs
    repeat the same shapes many times."""
    try:
        return _choose_cached(*args, **kw)
    except TypeError:  # an unhashable argument
        return _choose_matmul_config(*args, **kw)


def _choose_matmul_config(
    a: TensorSpec,
    b: TensorSpec,
    out: TensorSpec,
    ckc,
    sc: SelectCtx,
    *,
    bias=None,
    transpose_a=False,
    transpose_b=False,
    fused_activation=None,
    op: str = "matmul",
):
    """(program config, why) for a @ b on the device: the TT-rules choice, validated by the simulator's check
    (`validate_matmul_program_config`); (None, reason) when nothing valid fits."""
    from ttfuse.ops.matmul_config import MatmulDims, validate_matmul_program_config

    d = MatmulDims(op, a, b, transpose_a, transpose_b)
    fp32, sync = ckc.fp32_dest_acc_en, ckc.dst_full_sync_en
    dts = (a.dtype, b.dtype, out.dtype)
    reserved = sc.spec.l1_per_core - sc.cb_limit
    bias_row = 0 if bias is None else -(-d.Nt // sc.grid[0]) * 4096
    a_mc, b_mc = a.memory_config, b.memory_config
    why = "no program config fits the circular buffers in L1"
    for extra in (0, bias_row, sc.cb_limit // 4, sc.cb_limit // 2):
        res = reserved + extra
        if (
            a_mc.memory_layout is TensorMemoryLayout.WIDTH_SHARDED
            and a_mc.buffer_type is BufferType.L1
            and b_mc.memory_layout is TensorMemoryLayout.WIDTH_SHARDED
            and b_mc.buffer_type is BufferType.DRAM
        ):
            sp = a_mc.shard_spec
            if sp is None:
                return None, "a width-sharded activation without a shard spec"
            cfg = select_dram_sharded_config(
                d.batch * d.Mt,
                d.Kt,
                d.Nt,
                sp.shape[1] // TILE,
                sp.num_cores(),
                dts,
                sc.spec,
                fp32_acc=fp32,
                fused_activation=fused_activation,
                l1_reserved_per_core=res,
            )
        elif d.b_batched:
            if fused_activation is not None:
                return None, "the batched reuse config has no fused_activation"
            cfg = select_batched_matmul_config(
                d.Mt,
                d.Kt,
                d.Nt,
                d.batch,
                dts,
                sc.spec,
                max_grid=sc.max_grid,
                fp32_acc=fp32,
                dst_full_sync=sync,
                l1_reserved_per_core=res,
            )
        else:
            p = MatmulProblem(d.Mt, d.Kt, d.Nt, d.batch, *dts)
            cfg = select_matmul_config(
                p,
                sc.spec,
                max_grid=sc.max_grid,
                fp32_acc=fp32,
                dst_full_sync=sync,
                fused_activation=fused_activation,
                l1_reserved_per_core=res,
            )
        if cfg is None:
            continue
        try:
            validate_matmul_program_config(
                op, cfg, a, b, out, ckc, sc.spec, transpose_a=transpose_a, transpose_b=transpose_b, bias=bias
            )
        except SpecError as e:
            why = str(e)
            continue
        return cfg, "selected"
    return None, why


_choose_cached = functools.lru_cache(maxsize=4096)(_choose_matmul_config)


def _select_matmul(node: Node, ins: list[TensorSpec], sc: SelectCtx):
    a, b = _arg(node, ins, "input_tensor_a"), _arg(node, ins, "input_tensor_b")
    bias, out = _arg(node, ins, "bias"), node.outs[0]
    upd: dict = {}
    notes: list[str] = []
    ckc = node.attr("compute_kernel_config")
    if ckc is None:
        ckc = upd["compute_kernel_config"] = _ckc((a.dtype, b.dtype, out.dtype), sc)
    if node.attr("program_config") is not None:
        return upd, notes
    if node.attr("core_grid") is not None:
        notes.append("no program_config: the user chose core_grid (ttnn takes one or the other)")
        return upd, notes
    fused = _fused_activation(node)
    cfg, why = choose_matmul_config(
        a,
        b,
        out,
        ckc,
        sc,
        bias=bias,
        transpose_a=bool(node.attr("transpose_a")),
        transpose_b=bool(node.attr("transpose_b")),
        fused_activation=fused,
        op=node.op,
    )
    if cfg is None:
        notes.append(f"no program_config ({why}); ttnn picks its default")
        return upd, notes
    upd["program_config"] = cfg
    if fused is not None:  # every variant built with a fused activation carries it
        upd["activation"] = None
        notes.append(f"activation {fused.op_type.name} moved into program_config.fused_activation")
    return upd, notes


def _select_minimal_matmul(node, ins: list[TensorSpec], sc: SelectCtx):
    """ttnn.experimental.minimal_matmul: a MinimalMatmulConfig (`config`) by `select_minimal_matmul_config`,
    validated by the op's own check; the compute kernel config is ttnn's default for it (HiFi2, fp32
    accumulation) with the decorator's overrides."""
    from ttfuse.ops.matmul_config import (
        check_minimal_matmul_config,
        minimal_matmul_default_compute_kernel_config,
    )

    upd: dict = {}
    notes: list[str] = []
    x, w = _arg(node, ins, "input_tensor"), _arg(node, ins, "weight_tensor")
    ckc = node.attr("compute_kernel_config")
    if ckc is None:
        ckc = upd["compute_kernel_config"] = _override(minimal_matmul_default_compute_kernel_config(), sc)
    if node.attr("config") is not None:
        return upd, notes
    if x is None or w is None:  # the [prefix, suffix] form: ttnn's default blocks
        notes.append("no config for a concatenated input; ttnn picks its default")
        return upd, notes
    bias = _arg(node, ins, "bias_tensor")
    swiglu = bool(node.attr("fuse_swiglu"))
    out_dt = node.attr("dtype") or x.dtype
    mt = math.prod(tuple(x.padded_shape)[:-1]) // TILE
    kt, nt = -(-w.shape[-2] // TILE), -(-w.shape[-1] // TILE)
    cfg = select_minimal_matmul_config(
        mt,
        kt,
        nt,
        (x.dtype, w.dtype, out_dt),
        sc.spec,
        max_grid=sc.max_grid,
        fp32_acc=ckc.fp32_dest_acc_en,
        dst_full_sync=ckc.dst_full_sync_en,
        fuse_swiglu=swiglu,
        bias_dtype=None if bias is None else bias.dtype,
        l1_reserved_per_core=sc.spec.l1_per_core - sc.cb_limit,
    )
    if cfg is None:
        notes.append("no minimal_matmul config fits the circular buffers in L1; ttnn picks its default")
        return upd, notes
    try:
        check_minimal_matmul_config(
            node.op, cfg, ckc, a=x, w=w, out_dtype=out_dt, bias=bias, fuse_swiglu=swiglu
        )
    except SpecError as e:
        notes.append(f"no config ({e}); ttnn picks its default")
        return upd, notes
    upd["config"] = cfg
    return upd, notes


def _select_sdpa(node: Node, ins: list[TensorSpec], sc: SelectCtx):
    q, k = _arg(node, ins, "input_tensor_q"), _arg(node, ins, "input_tensor_k")
    mask = _arg(node, ins, "attn_mask")
    upd: dict = {}
    notes: list[str] = []
    if node.attr("compute_kernel_config") is None:
        upd["compute_kernel_config"] = _ckc((q.dtype, k.dtype), sc)
    if node.attr("program_config") is None:
        _sdpa_chunks(q, k, mask, sc, upd, notes)
    return upd, notes


def _sdpa_chunks(q: TensorSpec, k: TensorSpec, mask, sc: SelectCtx, upd: dict, notes: list) -> None:
    """The SDPA program config (chunk sizes) for q [b, heads, sq, dh] and k, into `upd` (or a note)."""
    b, nqh, sq, dh = q.shape
    cfg = select_sdpa_config(
        b,
        nqh,
        sq,
        k.shape[2],
        dh,
        q.dtype,
        sc.spec,
        mask=mask.dtype if mask is not None else None,
        max_grid=sc.max_grid,
        cb_limit=sc.cb_limit,
    )
    if cfg is None:
        notes.append("no SDPA chunk sizes fit the circular buffers; ttnn picks its default")
    else:
        upd["program_config"] = cfg


def _select_norm(node: Node, ins: list[TensorSpec], sc: SelectCtx):
    from ttfuse.ops.norm import layernorm_default_compute_kernel_config

    x = _arg(node, ins, "input_tensor")
    upd: dict = {}
    ckc = node.attr("compute_kernel_config")
    if ckc is None:
        base = layernorm_default_compute_kernel_config()
        ckc = upd["compute_kernel_config"] = _override(base, sc)
    if node.attr("program_config") is None:
        sp = x.memory_config.shard_spec
        if x.memory_config.is_sharded() and sp is not None:
            upd["program_config"] = layernorm_sharded_config(
                tuple(x.padded_shape),
                sp,
                sc.spec,
                fp32_acc=ckc.fp32_dest_acc_en,
                dst_full_sync=ckc.dst_full_sync_en,
            )
        else:
            upd["program_config"] = LayerNormDefaultProgramConfig()
    return upd, []


def _select_softmax(node: Node, ins: list[TensorSpec], sc: SelectCtx):
    from ttfuse.ops.norm import softmax_default_compute_kernel_config

    x = ins[0] if ins else next(v for v in node.args.values() if isinstance(v, TensorSpec))
    upd: dict = {}
    ckc = node.attr("compute_kernel_config")
    if "compute_kernel_config" in node.opdef.params and ckc is None:
        ckc = upd["compute_kernel_config"] = _override(softmax_default_compute_kernel_config(x.dtype), sc)
    if "program_config" in node.opdef.params:
        pc = node.attr("program_config")
        sp = x.memory_config.shard_spec
        if node.opdef.traits.inplace is not None and x.memory_config.is_sharded() and sp is not None:
            if pc is None or isinstance(pc, SoftmaxDefaultProgramConfig):
                upd["program_config"] = softmax_sharded_config(
                    tuple(x.padded_shape),
                    sp,
                    sc.spec,
                    fp32_acc=bool(ckc and ckc.fp32_dest_acc_en),
                    dst_full_sync=bool(ckc and ckc.dst_full_sync_en),
                )
        elif pc is None:
            upd["program_config"] = SoftmaxDefaultProgramConfig()
    return upd, []


def _override(base: WormholeComputeKernelConfig, sc: SelectCtx) -> WormholeComputeKernelConfig:
    """ttnn's default config of an op with the decorator's overrides applied."""
    kw = {
        f: getattr(base, f)
        for f in (
            "math_fidelity",
            "math_approx_mode",
            "fp32_dest_acc_en",
            "packer_l1_acc",
            "dst_full_sync_en",
            "throttle_level",
        )
    }
    if sc.fidelity is not None:
        kw["math_fidelity"] = sc.fidelity
    if sc.fp32_acc is not None:
        kw["fp32_dest_acc_en"] = sc.fp32_acc
    return WormholeComputeKernelConfig(**kw)


def _select_fused(node: Node, ins: list[TensorSpec], sc: SelectCtx):
    """Fused kernels (ttfuse/kernels) without their own rule: compute kernel configs for their matmul steps
    (`compute_kernel_config`, by the dtypes they read) and norm steps (`norm_compute_kernel_config`)."""
    from ttfuse.ops.norm import layernorm_default_compute_kernel_config

    params = node.opdef.params
    upd: dict = {}
    if "compute_kernel_config" in params and node.attr("compute_kernel_config") is None:
        dts = [s.dtype for s in ins if s.dtype.value in ("float32", "bfloat16", "bfloat8_b", "bfloat4_b")]
        upd["compute_kernel_config"] = _ckc(tuple(dict.fromkeys(dts + [o.dtype for o in node.outs])), sc)
    if "norm_compute_kernel_config" in params and node.attr("norm_compute_kernel_config") is None:
        upd["norm_compute_kernel_config"] = _override(layernorm_default_compute_kernel_config(), sc)
    notes: list[str] = []
    if "step_configs" in params and node.attr("step_configs") is None:
        _step_configs(node, ins, sc, upd, notes)
    return upd, notes


# the argument a step op takes its program config in (minimal_matmul: `config`)
_PC_ARG = {"experimental.minimal_matmul": "config"}


def _step_configs(node: Node, ins: list[TensorSpec], sc: SelectCtx, upd: dict, notes: list[str]) -> None:
    """`step_configs` of a fused kernel: every step its spec rule names (`kernels.common.record_steps`) whose
    stock op has a config rule gets the program config that rule gives the stock op on the step's inputs (the
    compute kernel config is the kernel's own, already in the step's arguments); nested kernels' steps nest."""
    from ttfuse.kernels.common import record_steps
    from ttfuse.opdef import OPS

    args = {**spec_args(node, ins), **upd}
    try:
        steps = record_steps(node.opdef, args)
    except SpecError as e:
        notes.append(f"no step configs: {str(e).splitlines()[0]}")
        return
    chosen: dict[tuple[str, ...], object] = {}
    for st in steps:
        op = OPS[st.op]
        if op.group is Group.FUSED:
            continue
        rule = rule_of(op)
        if rule is None:
            continue
        pc_arg = _PC_ARG.get(st.op, "program_config")
        if st.args.get(pc_arg) is not None:
            continue
        step_args = dict(st.args)
        if "activation" in step_args:  # the step keeps its own activation: no fused_activation in its config
            step_args["activation"] = None
        try:
            sub, sub_notes = rule(StepNode(st.op, step_args, st.out), [], sc)
        except SpecError as e:
            sub, sub_notes = {}, [f"no configs: {e}"]
        name = ".".join(st.path)
        notes.extend(f"step {name}: {x}" for x in sub_notes)
        if sub.get(pc_arg) is not None:
            chosen[st.path] = sub[pc_arg]
    if chosen:
        upd["step_configs"] = _nest(chosen)


def _nest(chosen: dict[tuple[str, ...], object]) -> tuple:
    """{("ss", "mm"): cfg, ("w3",): cfg} -> (("ss", (("mm", cfg),)), ("w3", cfg)), in step order."""
    out: dict[str, object] = {}
    for path, cfg in chosen.items():
        if len(path) == 1:
            out[path[0]] = cfg
        else:
            out.setdefault(path[0], {})[path[1:]] = cfg
    return tuple((k, _nest(v) if isinstance(v, dict) else v) for k, v in out.items())


def _flat(step_configs, prefix: str = "") -> list[tuple[str, object]]:
    """Inverse of `_nest`: (dotted step name, config) pairs."""
    rows = []
    for name, v in step_configs or ():
        if isinstance(v, tuple):
            rows += _flat(v, f"{prefix}{name}.")
        else:
            rows.append((prefix + name, v))
    return rows


def _select_ring_sdpa(node: Node, ins: list[TensorSpec], sc: SelectCtx):
    """kernels.ring_joint_attention: its compute kernel config, and an SDPAProgramConfig whose grid leaves the
    device grid's last row to the fused all-gather's workers (TT-DiT; the kernel's ttnn rule places them there)
    and whose chunk sizes the stock SDPA rule gives for the local queries (+ joint) against the gathered keys."""
    upd, notes = _select_fused(node, ins, sc)
    if node.attr("program_config") is not None:
        return upd, notes
    a = spec_args(node, ins)
    q, jq = a["input_tensor_q"], a["joint_tensor_q"]
    b, h, n_local, d = q.shape
    n_joint = jq.shape[2] if isinstance(jq, TensorSpec) else 0
    ring = current_mesh_shape()[a["cluster_axis"]] if a["cluster_axis"] in (0, 1) else 1
    keys = (a["logical_n"] or ring * n_local) + n_joint
    gx, gy = sc.grid
    if gy < 2:
        notes.append("no ring SDPA config: the grid has no row left for the all-gather workers")
        return upd, notes
    cfg = select_sdpa_config(
        b, h, n_local + n_joint, keys, d, q.dtype, sc.spec, max_grid=(gx - 1, gy - 2), cb_limit=sc.cb_limit
    )
    if cfg is None:
        notes.append("no ring SDPA chunk sizes fit the circular buffers; the ttnn rule's default runs")
        return upd, notes
    upd["program_config"] = SDPAProgramConfig(
        compute_with_storage_grid_size=cfg.compute_with_storage_grid_size,
        q_chunk_size=cfg.q_chunk_size,
        k_chunk_size=cfg.k_chunk_size,
        exp_approx_mode=False,
    )
    return upd, notes


def _select_conv2d(node: Node, ins: list[TensorSpec], sc: SelectCtx, *, transposed: bool = False):
    """conv2d: the sharding scheme, core grid and act_block_h of ttfuse/ops/conv_config.py's rule (tt-metal's
    auto-shard) on the usable grid, written into the node's `conv_config` (fields the user left at their defaults
    only), and ttnn's default compute config (HiFi4) unless the user gave one.

    Slicing is the op's own (ttnn: "If set to None and input is in DRAM, DRAM slicing is automatically enabled"):
    a conv with a DRAM input and no slice_config (or a DRAM slice type with num_slices 0) is sliced by eager's rule
    (ttfuse/ops/conv.py `conv_auto_slicing`: tt-metal's determine_slice_config, best-guess width / height slices,
    the smallest count whose every slice fits `auto_slice_budget`); the pass records that same choice as the node's
    `slice_config` (when it is more than one slice) and picks the act block of its largest slice, so the JIT never
    slices differently from eager. The node stays one conv2d whose ttnn call slices itself (padded_slice -> conv ->
    slice_write per slice, the halo rows read by both neighbours); the chunk pass would cut the [1, 1, N*H*W, C]
    rows with no halo, which a kernel window spanning rows cannot use. A slice_config the user gave (even L1Full)
    is kept; a conv on the L1 path (an L1 input) is not sliced, as in ttnn.
    A transposed conv (`transposed`) is chosen for as the stride-1 conv it runs as (`transpose_as_conv`); it is not
    sliced (the simulator's conv_transpose2d runs whole).
    Where the scheme decides the output's placement (conv_config.py `conv_default_memory_config`) the JIT keeps
    eager's: an interleaved input on the L1 path keeps the auto-shard scheme eager picks (only act_block_h is chosen
    for the budget), and a 1x1 conv of an interleaved input gets no shard_layout (ttnn runs it as an interleaved
    matmul with a DRAM output)."""
    import dataclasses

    from ttfuse.configs import Conv2dConfig
    from ttfuse.ops.conv import (
        conv_auto_slicing,
        conv_default_compute_config,
        conv_geometry,
        conv_parallel_config,
        transpose_as_conv,
        transpose_geometry,
    )
    from ttfuse.ops.conv_config import auto_slice_budget, is_matmul_conv, runs_in_l1

    args = spec_args(node, ins)
    cfg = args.get("conv_config") or Conv2dConfig()
    spec = dataclasses.replace(sc.spec, grid=sc.grid)  # the grid jit(max_grid=...) leaves usable
    g = transpose_as_conv(transpose_geometry(args)) if transposed else None
    auto_slices = None  # eager's own DRAM slicing of this call (the same shared rule), recorded as it
    if not transposed:
        out_layout = cfg.output_layout or Layout.TILE
        auto_slices = conv_auto_slicing(args, args, conv_geometry("conv2d", args), out_layout, spec)
    x = args["input_tensor"]
    auto = cfg.shard_layout is None and not x.memory_config.is_sharded()
    if auto and is_matmul_conv(transpose_geometry(args) if transposed else conv_geometry("conv2d", args)):
        # tt-metal runs an auto-sharded 1x1 conv of an interleaved input as an interleaved matmul (DRAM output); a
        # shard_layout would reshard it into L1 and give it a sharded output eager does not have
        upd = (
            {}
            if args.get("compute_config") is not None
            else {"compute_config": _override(conv_default_compute_config(), sc)}
        )
        return upd, [f"{node.opdef.short}: a 1x1 conv of an interleaved input runs as an interleaved matmul"]
    if auto and runs_in_l1(x, args.get("slice_config", args.get("dram_slice_config"))):
        # the scheme decides this output's sharding (conv_default_memory_config): keep eager's auto-shard choice
        scheme = conv_parallel_config(args, args, sc.spec, None, g)[0].scheme
        args = {**args, "conv_config": dataclasses.replace(cfg, shard_layout=scheme)}
    choice, cands = conv_parallel_config(args, args, spec, sc.cb_limit, g)
    upd: dict = {}
    slicing = ""  # the slicing decision, for the note
    if auto_slices is not None and auto_slices[0].num_slices > 1:
        sl, choice = auto_slices
        upd["slice_config"] = sl
        slicing = (
            f"; a DRAM input with no slice count: ttnn slices it itself ({auto_slice_budget(spec) // 1024} KiB "
            f"per core): {sl.slice_type.name} x {sl.num_slices} slices, the largest as {choice.describe()}"
        )
    elif not transposed and args.get("slice_config") is None and choice.l1_bytes > sc.cb_limit:
        slicing = f"; ~{choice.l1_bytes // 1024} KiB per core > {sc.cb_limit // 1024} KiB: not sliced"
    if cfg.shard_layout is None or not cfg.act_block_h_override:
        upd["conv_config"] = dataclasses.replace(
            cfg,
            shard_layout=cfg.shard_layout or choice.scheme,
            act_block_h_override=cfg.act_block_h_override or choice.act_block_h,
        )
    if args.get("compute_config") is None:
        upd["compute_config"] = _override(conv_default_compute_config(), sc)
    l1 = ", ".join(f"{k.split('_')[0]} {v.l1_bytes // 1024} KiB" for k, v in cands.items())
    op = node.opdef.short
    return upd, [f"{op} on {sc.spec.name}: {choice.describe()} (per-core L1 estimates: {l1}){slicing}"]


# Traits.config_rule kind -> rule(node, in_specs, sctx) -> (updates, notes)
RULE_KINDS: dict[str, Callable] = {
    "conv2d": _select_conv2d,  # conv2d: shard scheme, grid, act_block_h, records ttnn's own DRAM slices
    "conv_transpose2d": functools.partial(_select_conv2d, transposed=True),  # as its equivalent stride-1 conv
    "matmul": _select_matmul,  # matmul, linear
    "minimal_matmul": _select_minimal_matmul,  # experimental.minimal_matmul
    "sdpa": _select_sdpa,
    "norm": _select_norm,  # layer_norm, rms_norm
    "softmax": _select_softmax,  # softmax ops (in place too)
    "fused": _select_fused,  # Group.FUSED kernels without a rule of their own (steps: `step_configs`)
    "ring_sdpa": _select_ring_sdpa,  # kernels.ring_joint_attention
}


def rule_of(op) -> Callable | None:
    """The config rule of an OpDef by its `Traits.config_rule` (None: the pass leaves its nodes alone)."""
    rule = op.traits.config_rule
    if rule is None and op.group is Group.FUSED:
        rule = "fused"
    return RULE_KINDS[rule] if isinstance(rule, str) else rule


# ---------------------------------------------------------------------------------------------- the pass
def select_ctx(ctx) -> SelectCtx | None:
    spec = ctx.device_spec
    if spec is None:
        return None
    fid = ctx.options.math_fidelity
    if isinstance(fid, str):
        fid = MathFidelity[fid]
    return SelectCtx(
        spec,
        ctx.options.max_grid,
        max_grid_of(spec, ctx.options.max_grid),
        cb_limit_per_core(ctx),
        fid,
        ctx.options.fp32_dest_acc_en,
    )


def select_configs(graph: Graph, ctx) -> Graph:
    """Choose and validate program / compute kernel configs (see the module docstring)."""
    sc = select_ctx(ctx)
    if sc is None:
        return graph
    new: dict[int, Node] = {}
    index = graph.node_index()
    with target_device(ctx):
        for n in graph.nodes:
            rule = rule_of(n.opdef)
            if rule is None:
                continue
            ins = [graph.spec_of(r, index) for r in n.inputs]
            try:
                upd, notes = rule(n, ins, sc)
            except SpecError as e:
                upd, notes = {}, [f"no configs: {e}"]
            m = _apply(n, ins, upd, list(notes))
            if m is not n:
                new[n.id] = m
        return respec(graph, new) if new else graph


def _apply(n: Node, ins: list[TensorSpec], upd: dict, notes: list[str]) -> Node:
    """The node with the updates applied when its spec rule accepts them (else without the program config),
    its configs mirrored in side data."""
    tries = [upd]
    if any(k in upd for k in _PROGRAM_FIELDS):
        tries.append({k: v for k, v in upd.items() if k not in (*_PROGRAM_FIELDS, "activation")})
    attrs, outs, multi, applied = n.attrs, n.outs, n.multi, {}
    for t in tries:
        if not t:
            break
        try:
            cand = set_attrs(n.attrs, **t)
            outs, multi = infer(n, ins, cand)
            attrs, applied = cand, t
            break
        except SpecError as e:
            notes.append(f"rejected by the op's checks: {str(e).splitlines()[0]}")
    fields = [f for f in _CONFIG_FIELDS if f in n.opdef.params]
    if not applied and not notes and all(n.attr(f) is None for f in fields):
        return n
    by = {
        f: "select_configs" if f in applied else ("user" if n.attr(f) is not None else "none") for f in fields
    }
    chosen = dict(attrs)
    cfg = {f: chosen.get(f) for f in fields}
    cfg["configs_by"] = by
    if chosen.get("step_configs") is not None:  # what `program_configs` reports, without re-running the steps
        try:
            args = spec_args(n.replace(attrs=attrs), ins)
            cfg["steps"] = _describe_steps(n.opdef, args, chosen["step_configs"])
        except SpecError:
            pass
    side = with_side(n, config=cfg, decisions=tuple(Decision("select_configs", "", x) for x in notes))
    return n.replace(attrs=attrs, outs=outs, multi=multi, side=side)


_CONFIG_FIELDS = (
    "program_config",
    "conv_config",
    "slice_config",
    "compute_config",
    "config",
    "compute_kernel_config",
    "norm_compute_kernel_config",
    "step_configs",
)
_PROGRAM_FIELDS = ("program_config", "config", "step_configs", "conv_config", "slice_config")


def program_configs(graph: Graph) -> list[ConfigRecord]:
    """For every matmul / linear / SDPA / norm / softmax node: op, input shapes, program and compute kernel
    configs (the facade's config objects) and who chose them."""
    index = graph.node_index()
    device = graph_device(graph)
    rows = []
    for n in graph.nodes:
        op = n.opdef
        if n.attr("step_configs") is not None:
            rows += _step_rows(n, [graph.spec_of(r, index) for r in n.inputs], device)
            continue
        if op.group not in CONFIG_OPS and not {"program_config", "conv_config"} & n.side.config.keys():
            continue
        shapes = tuple(tuple(graph.spec_of(r, index).shape) for r in n.inputs)
        by = n.side.config.get("configs_by") or {
            f: ("user" if n.attr(f) is not None else "none")
            for f in ("program_config", "compute_kernel_config")
        }
        # minimal_matmul names it `config`, conv2d `conv_config` (and its compute kernel config `compute_config`)
        pc = n.attr("program_config", n.attr("config", n.attr("conv_config")))
        ckc = n.attr("compute_kernel_config", n.attr("compute_config"))
        sl = n.attr("slice_config") if "slice_config" in op.params else None
        rows.append(ConfigRecord(n.id, op.qualname, shapes, pc, ckc, dict(by), slice_config=sl))
    return rows


def _describe_steps(opdef, args: dict, step_configs) -> tuple:
    """((step name, stock op qualname, input shapes, compute kernel config), ...) of the configured steps of a fused
    kernel called with `args` (TensorSpecs for tensors), in `step_configs` order. Runs the kernel's spec rule."""
    from ttfuse.kernels.common import record_steps
    from ttfuse.opdef import OPS

    by_path = {".".join(st.path): st for st in record_steps(opdef, args)}
    out = []
    for name, _ in _flat(step_configs):
        st = by_path.get(name)
        if st is None:
            continue
        shapes = tuple(
            tuple(st.args[k].shape) for k in OPS[st.op].params if isinstance(st.args.get(k), TensorSpec)
        )
        out.append((name, OPS[st.op].qualname, shapes, st.args.get("compute_kernel_config")))
    return tuple(out)


def _step_rows(n: Node, ins: list[TensorSpec], device: tuple) -> list[ConfigRecord]:
    """One row per configured step of fused kernel node `n`: "<kernel>.<step>", the step's stock op and input
    shapes, its program config and the compute kernel config it runs with (the kernel's, in the step's args).
    The step descriptions come from side data written by the pass; step configs given otherwise (a user's) are
    described by running the kernel's spec rule on the graph's device."""
    from ttfuse.opdef import device_spec_context

    kernel = n.opdef.name.removeprefix("kernels.")
    who = (n.side.config.get("configs_by") or {}).get("step_configs", "user")
    steps = n.side.config.get("steps")
    if steps is None:
        try:
            with device_spec_context(*device):
                steps = _describe_steps(n.opdef, spec_args(n, ins), n.attr("step_configs"))
        except SpecError:
            steps = ()
    cfgs = dict(_flat(n.attr("step_configs")))
    return [
        ConfigRecord(
            n.id,
            n.opdef.qualname,
            tuple(tuple(s) for s in shapes),
            cfgs.get(name),
            ckc,
            {"program_config": who, "compute_kernel_config": who},
            f"{kernel}.{name}",
            step_op,
        )
        for name, step_op, shapes, ckc in steps
        if name in cfgs
    ]


def _qualname(op: str) -> str:
    from ttfuse.opdef import OPS

    return OPS[op].qualname


def grid_of(cfg) -> tuple[int, int] | None:
    """The (x, y) core grid a program config runs on (None for configs without one, e.g. DRAM-sharded)."""
    g = getattr(cfg, "compute_with_storage_grid_size", None)
    return None if g is None else (int(g[0]), int(g[1]))


__all__ = [
    "ConfigRecord",
    "RULE_KINDS",
    "choose_matmul_config",
    "grid_of",
    "program_configs",
    "select_configs",
]
