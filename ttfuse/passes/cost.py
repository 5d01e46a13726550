"""cost: per-node work and predicted time of a graph on a device, for the eager graph and the JIT graph.

Work per node comes from the op's cost rule (`OpDef.cost`, else `ttfuse.ops.common.default_cost`): FLOPs (and
the matrix-engine part), DRAM and L1 bytes, kernel launches, ethernet link bytes. Time per node, per device:
- matrix engine: a 32x32x32 tile multiply-accumulate takes 16 cycles per fidelity phase (LoFi 1, HiFi2 2,
  HiFi3 3, HiFi4 4; ref/ttnn.md s4) plus the unpacker's time to bring its in0 and in1 tiles from L1 into the
  source registers ((in0 tile bytes + in1 tile bytes) / `MM_UNPACK_BYTES_PER_CYCLE`: bf16 ~19.5 cycles, bfloat8_b
  ~10, bfloat4_b ~5.5), which the math does not hide. Matmul/linear nodes count the tiles of the busiest core from
  their program config (per_core_M x per_core_N x Kt, the grid the config uses) and their operands' dtypes; other
  matrix work (SDPA, fused kernels) is spread evenly over the grid of the node's program config
  (`compute_with_storage_grid_size`), else the device grid within `max_grid`, with the tile size of the node's
  tile-layout inputs. A node with matrix work also pays `MM_STARTUP_CYCLES` once (pipeline fill:
  the first in0/in1 blocks reach the cores before the first multiply, the last output block leaves after it).
- vector work (FLOPs not on the matrix engine): `VECTOR_CYCLES_PER_TILE` cycles per 1024 results per core (an
  SDPA charges `ttfuse.ops.attention.SDPA_SOFTMAX_FLOPS_PER_SCORE` of them per score, fit on Blackhole SDPA times).
- memory: DRAM bytes at `DeviceSpec.dram_gbps`; L1 bytes over the NoC (`noc_word_bytes` per cycle per core).
- device time = max(math + vector, DRAM, L1) (compute and data movement overlap in TT kernels), plus ethernet
  time for collectives (link bytes / link bandwidth x links, plus `ETH_HOP_US` per hop: devices on the axis - 1)
  added, or overlapped (max) when the op says so (`Traits.overlaps_communication`), plus
  `DeviceSpec.launch_overhead_us` per kernel launch (device dispatch: what a metal-traced run pays).
- untraced time per node = max(launches x `HOST_US_PER_LAUNCH`, device time): without a trace every launch
  costs a fixed host + dispatch round trip that hides small kernels.
Graph totals: `device_ms` (sum of device times: a traced run) and `untraced_ms` (sum of untraced times), per
call: a node the runtime memoises (`Traits.persistent`, kernels.concat_weights: computed once per weight set)
is listed with `once` set and its time kept apart in `once_ms`.

Device: every entry point takes the DeviceSpec (and mesh shape; default the graph's `meta["mesh"]`) it costs
for and runs the cost rules, and the spec rules they call (a fused kernel's steps), with it as the device
(`device_spec_context`), whatever device the thread's last eager op or compile left there. `LazyCost` keeps
its compile's device and re-enters it when read, however late. `compare` costs the graph on every other known
device too; a graph whose configs that device rejects (an 11x10 SDPA grid on an 8x8 Wormhole) is listed in
`per_arch_invalid` with the reason, not costed.

Constants and where they come from (ref/ttnn.md s4; tt-metal tech_reports/GEMM_FLOPS/GEMM_FLOPS.md @ b7c30ff,
Wormhole n150, 8x8 grid). They are derived from the points marked `fit` in bench/published_perf.json; the other
points there are held out, and `python tools/costcheck.py` reports both in docs/performance.md:
- HOST_US_PER_LAUNCH = 360: without trace 512^3 and 1024^3 matmuls both take ~0.36 ms (0.7 TFLOP/s at 512^3),
  which their compute (a few us by the rule above) cannot explain: a fixed per-launch time.
- MM_UNPACK_BYTES_PER_CYCLE = 210: with trace, 8192^3 bf16 HiFi2 takes 13.63 ms = 52.0 cycles per tile of the
  busiest core (32 x 32 x 256 tiles): 20 cycles over the 32 of the math for 2 x 2048 B of operand tiles; 16384^3
  bfloat8_b LoFi: 25.8 cycles per tile, 9.8 over the 16 of the math for 2 x 1088 B. One rate explains both
  (4096 / 20 = 205, 2176 / 9.8 = 222 B/cycle); it then predicts bfloat4_b and HiFi4 (held out).
- MM_STARTUP_CYCLES = 5000: with trace, 512^3 bf16 HiFi2 takes 13.05 us, of which the rule above gives 3.3 us of
  multiplies (64 tiles per core) and the device dispatch 4.5 us: ~5 us (5000 cycles at 1 GHz) of pipeline fill.
- ETH_HOP_US = 1.9: tt-metal tech_reports/CCLs/results/SUMMARY_wormhole_b0_bfloat16_6144.md @ 3a4ad18, all_gather
  on a line of 2 chips (4 KiB: 7.09 us) and of 4 chips (8 KiB: 10.50 us): 2.4 us over dispatch and link time
  for one hop, 5.5 us for three (the summary's own fit: 1.91 us per device after the first).
- VECTOR_CYCLES_PER_TILE = 32: an estimate (one FPU/SFPU pass over a tile in ~32 cycles), not calibrated;
  elementwise ops are DRAM-bound here, so it rarely decides a time.
`tests/passes/test_cost.py` checks the model against the measurements (within 25%); `tests/test_costcheck.py`
that docs/performance.md holds the current table.
Extend: a new kind of time (e.g. a fabric model) goes into `node_cost`; keep each constant's source here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ttfuse.device import FIDELITY_PHASES, TILE, TILE_BYTES
from ttfuse.errors import TtfuseError
from ttfuse.ir import Graph, Node, attr_tensor_positions, graph_device, graph_env, interpret, spec_args
from ttfuse.opdef import CostCtx, OpCost, device_spec_context

HOST_US_PER_LAUNCH = 360.0
MM_UNPACK_BYTES_PER_CYCLE = 210.0
MM_STARTUP_CYCLES = 5000.0
ETH_HOP_US = 1.9
VECTOR_CYCLES_PER_TILE = 32.0
TILE_MAC_FLOPS = 2 * TILE**3  # one 32x32x32 multiply-accumulate
_MATMULS = ("matmul", "linear")


@dataclass
class NodeCost:
    """One node's work and predicted times (microseconds) on one device."""

    node: int
    op: str
    flops: float
    matmul_flops: float
    dram_bytes: int
    l1_bytes: int
    launches: int
    link_bytes: int
    fidelity: str
    cores: int
    math_us: float
    memory_us: float
    link_us: float
    device_us: float
    untraced_us: float
    bound: str  # what decides the time: "math" | "dram" | "l1" | "link" | "launch"
    once: bool = (
        False  # memoised by the runtime (`Traits.persistent`): paid once per weight set, not per call
    )

    def __iter__(self):  # (node id, op, cost) like the rows of the basic pipeline.CostReport
        return iter((self.node, self.op, self))


@dataclass
class GraphCost:
    """Per-node costs and totals of one graph on one device."""

    device: str | None
    nodes: list[NodeCost]
    total: OpCost
    device_ms: float  # traced: kernels + device dispatch
    untraced_ms: float  # every launch also pays the host round trip
    once_ms: float = 0.0  # traced time of the memoised nodes (`NodeCost.once`), not in the per-call totals

    @property
    def predicted_us(self) -> float:
        """Predicted device time of the graph (kernels + device dispatch, as a traced run), microseconds."""
        return self.device_ms * 1e3

    @property
    def untraced_us(self) -> float:
        return self.untraced_ms * 1e3

    def table(self, title: str = "") -> str:
        head = f"{title} on {self.device or 'unknown device'}:" if title else f"cost on {self.device}:"
        lines = [
            head,
            f"  {'node':>6}  {'op':<34} {'MFLOP':>10} {'DRAM KB':>9} {'L1 KB':>9} {'launch':>6} {'dev us':>9} "
            f"{'bound':>6}",
        ]
        for c in self.nodes:
            lines.append(
                f"  {'%' + str(c.node):>6}  {c.op:<34} {c.flops / 1e6:10.3f} {c.dram_bytes / 1024:9.1f} "
                f"{c.l1_bytes / 1024:9.1f} {c.launches:6d} {c.device_us:9.2f} {c.bound:>6}"
                + ("  once" if c.once else "")
            )
        t = self.total
        lines.append(
            f"  {'total':>6}  {'':<34} {t.flops / 1e6:10.3f} {t.dram_bytes / 1024:9.1f} {t.l1_bytes / 1024:9.1f} "
            f"{t.launches:6d} {self.device_ms * 1e3:9.2f}"
        )
        lines.append(f"  predicted: {self.device_ms:.4f} ms traced, {self.untraced_ms:.4f} ms untraced")
        if self.once_ms:
            lines.append(f"  once per weight set (memoised, not in the totals): {self.once_ms:.4f} ms traced")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


@dataclass
class CostComparison:
    """`Lowered.cost`: the traced (eager) graph and the optimised (JIT) graph costed on the target device, plus
    both totals on every known device (`per_arch`: name -> (eager ms, jit ms), untraced) the graphs are valid
    on; `per_arch_invalid`: name -> why a device rejects them (e.g. a program config's grid exceeds its own)."""

    jit: GraphCost
    eager: GraphCost | None = None
    per_arch: dict[str, tuple[float | None, float]] = field(default_factory=dict)
    per_arch_invalid: dict[str, str] = field(default_factory=dict)

    # the JIT graph's figures under the names the basic report had
    @property
    def total(self) -> OpCost:
        return self.jit.total

    @property
    def nodes(self) -> list[NodeCost]:
        return self.jit.nodes

    @property
    def device(self) -> str | None:
        return self.jit.device

    @property
    def predicted_us(self) -> float:
        return self.jit.predicted_us

    @property
    def speedup(self) -> float | None:
        """Eager untraced time over JIT untraced time (None without an eager graph)."""
        if self.eager is None or self.jit.untraced_ms <= 0:
            return None
        return self.eager.untraced_ms / self.jit.untraced_ms

    def table(self) -> str:
        parts = []
        if self.eager is not None:
            parts.append(self.eager.table("eager (as traced)"))
        parts.append(self.jit.table("jit (after passes)"))
        if self.eager is not None:
            e, j = self.eager, self.jit
            parts.append(
                f"eager -> jit: launches {e.total.launches} -> {j.total.launches}, DRAM "
                f"{e.total.dram_bytes / 2**20:.2f} -> {j.total.dram_bytes / 2**20:.2f} MiB, untraced "
                f"{e.untraced_ms:.4f} -> {j.untraced_ms:.4f} ms (x{self.speedup:.2f}), traced "
                f"{e.device_ms:.4f} -> {j.device_ms:.4f} ms"
            )
        if self.per_arch:
            parts.append("per device (untraced ms, eager -> jit):")
            for name, (e, j) in self.per_arch.items():
                parts.append(f"  {name:<24} {'-' if e is None else f'{e:.4f}'} -> {j:.4f}")
        for name, why in self.per_arch_invalid.items():
            parts.append(f"  {name:<24} not valid on this device: {why}")
        return "\n".join(parts)

    def __str__(self) -> str:
        return self.table()


# ------------------------------------------------------------------------------------------------- model
def _mesh(graph: Graph, mesh_shape) -> tuple[int, int]:
    return tuple(mesh_shape) if mesh_shape is not None else tuple(graph.meta.get("mesh", (1, 1)))


def op_cost(
    graph: Graph, n: Node, index: dict | None = None, device_spec=None, mesh_shape=None, in_specs=None
) -> OpCost:
    """The node's work by its op's cost rule (default_cost when it has none) on `device_spec` (None: the
    graph's own device, `meta["device"]`) and `mesh_shape` (None: the graph's); the rule and the spec rules it
    calls see that device, not the thread's current one. `in_specs`: the node's input specs when the caller
    has them bound (graph_cost's interpreter), else looked up in the graph."""
    from ttfuse.ops.common import default_cost

    if device_spec is None:
        device_spec = graph_device(graph)[0]
    if in_specs is None:
        index = index if index is not None else graph.node_index()
        ins = [graph.spec_of(r, index) for r in n.inputs]
    else:
        ins = list(in_specs)
    args = spec_args(n, ins)
    tensors = {k: args[k] for k, v in n.attrs if attr_tensor_positions(v)}
    op = n.opdef
    with device_spec_context(device_spec, _mesh(graph, mesh_shape)):  # collectives read the mesh
        return (op.cost_rule or default_cost)(CostCtx(op, tensors, list(n.outs), args, device_spec))


def _grid(spec, max_grid) -> tuple[int, int]:
    gx, gy = spec.grid
    if max_grid is not None:
        gx, gy = min(gx, max_grid[0] + 1), min(gy, max_grid[1] + 1)
    return gx, gy


def _config_grid(n: Node) -> tuple[int, int] | None:
    """The compute grid a node's program config names (`compute_with_storage_grid_size`), if any."""
    cg = getattr(n.attr("program_config"), "compute_with_storage_grid_size", None)
    try:
        x, y = (cg.x, cg.y) if hasattr(cg, "x") else cg
    except (TypeError, ValueError):
        return None
    return int(x), int(y)


def matmul_core_tiles(n: Node, graph: Graph, index: dict, spec, max_grid=None) -> tuple[float, int] | None:
    """(tile multiply-accumulates of the busiest core, cores used) of a matmul/linear node, from its program
    config (else the 2D default over the grid); None for other nodes."""
    if n.op not in _MATMULS:
        return None
    from ttfuse.ops.matmul_config import MatmulDims, matmul_core_tiles_of, matmul_run_grid

    pos = {k: attr_tensor_positions(v) for k, v in n.attrs if attr_tensor_positions(v)}
    a = graph.spec_of(n.inputs[pos["input_tensor_a"][0]], index)
    b = graph.spec_of(n.inputs[pos["input_tensor_b"][0]], index)
    try:
        d = MatmulDims(n.op, a, b, bool(n.attr("transpose_a")), bool(n.attr("transpose_b")))
    except Exception:  # noqa: BLE001 - an invalid node is costed by FLOPs alone
        return None
    cfg = n.attr("program_config")
    gx, gy = matmul_run_grid(cfg, _grid(spec, max_grid), spec.grid)
    core_grid = n.attr("core_grid")
    if cfg is None and core_grid is not None:
        gx, gy = min(core_grid.x, spec.grid[0]), min(core_grid.y, spec.grid[1])
    return matmul_core_tiles_of(d, cfg, (gx, gy), spec.num_cores)


def matmul_operand_tile_bytes(n: Node, graph: Graph, index: dict, in_specs=None) -> float:
    """Bytes of one in0 tile plus one in1 tile of the node's matrix work, what the unpacker reads per tile
    multiply: a matmul/linear's two operands; for other nodes twice the mean tile size of their tile-layout
    inputs (SDPA: q, k, v); bf16 tiles where a node has none."""
    from ttfuse.types import Layout

    ins = list(in_specs) if in_specs is not None else [graph.spec_of(r, index) for r in n.inputs]
    sizes = [TILE_BYTES.get(s.dtype.value, TILE_BYTES["bfloat16"]) for s in ins if s.layout is Layout.TILE]
    if n.op in _MATMULS:
        pos = {k: attr_tensor_positions(v) for k, v in n.attrs if attr_tensor_positions(v)}
        try:
            a, b = ins[pos["input_tensor_a"][0]], ins[pos["input_tensor_b"][0]]
            return float(
                TILE_BYTES.get(a.dtype.value, TILE_BYTES["bfloat16"])
                + TILE_BYTES.get(b.dtype.value, TILE_BYTES["bfloat16"])
            )
        except (KeyError, IndexError):
            pass
    if not sizes:
        return 2.0 * TILE_BYTES["bfloat16"]
    return 2.0 * sum(sizes) / len(sizes)


def _hops(n: Node, graph: Graph, mesh_shape) -> int:
    """Ethernet hops across the node's collective: devices on its `cluster_axis` (all of them without one) - 1."""
    rows, cols = _mesh(graph, mesh_shape)
    axis = n.attr("cluster_axis")
    p = rows * cols if axis not in (0, 1) else (rows, cols)[axis]
    return max(p - 1, 0)


def node_cost(
    graph: Graph, n: Node, spec, *, index=None, max_grid=None, mesh_shape=None, in_specs=None
) -> NodeCost:
    """Work and predicted times of one node on `spec` (see the module docstring for the model)."""
    index = index if index is not None else graph.node_index()
    c = op_cost(graph, n, index, spec, mesh_shape, in_specs)
    phases = FIDELITY_PHASES.get(c.fidelity, 2)
    gx, gy = _grid(spec, max_grid)
    cg = _config_grid(n)
    # the op runs on the grid its program config names (SDPA, sharded norms), when the device has it
    if cg is not None and cg[0] <= gx and cg[1] <= gy:
        gx, gy = cg
    cores = gx * gy
    clock = spec.clock_ghz * 1e3  # cycles per microsecond
    math_us = startup_us = 0.0
    if c.matmul_flops > 0:
        per_tile = (
            16.0 * phases + matmul_operand_tile_bytes(n, graph, index, in_specs) / MM_UNPACK_BYTES_PER_CYCLE
        )
        startup_us = MM_STARTUP_CYCLES / clock
        mt = matmul_core_tiles(n, graph, index, spec, max_grid)
        if mt is not None:
            tiles, cores = mt
        else:
            # fused kernels: their configured steps' busiest-core tiles (`OpCost.core_tiles`, from the steps'
            # program configs), the rest of the matrix work spread evenly over the grid
            rest = max(0.0, c.matmul_flops - c.core_tiles_flops)
            tiles = c.core_tiles + rest / TILE_MAC_FLOPS / cores
        math_us = tiles * per_tile / clock
    vector_flops = max(0.0, c.flops - c.matmul_flops)
    math_us += vector_flops / (TILE * TILE) / max(cores, 1) * VECTOR_CYCLES_PER_TILE / clock
    dram_us = c.dram_bytes / (spec.dram_gbps * 1e3)
    l1_us = c.l1_bytes / (spec.num_cores * spec.noc_word_bytes * clock)
    links = n.attr("num_links") or 1
    link_us = 0.0
    if c.link_bytes:
        link_us = c.link_bytes / (spec.eth_link_gbps * 1e3 * links) + _hops(n, graph, mesh_shape) * ETH_HOP_US
    parts = {"math": math_us, "dram": dram_us, "l1": l1_us}
    bound = max(parts, key=parts.get)
    busy = parts[bound]
    if link_us:
        if n.opdef.traits.overlaps_communication:
            busy = max(busy, link_us)
        else:
            busy += link_us
        if link_us >= busy - link_us:
            bound = "link"
    device_us = busy + startup_us + c.launches * spec.launch_overhead_us
    untraced_us = max(c.launches * HOST_US_PER_LAUNCH, device_us)
    if c.launches and c.launches * HOST_US_PER_LAUNCH >= device_us:
        bound = "launch"
    return NodeCost(
        n.id, n.op, c.flops, c.matmul_flops, c.dram_bytes, c.l1_bytes, c.launches, c.link_bytes, c.fidelity,
        cores, math_us, max(dram_us, l1_us), link_us, device_us, untraced_us, bound,
    )  # fmt: skip


def graph_cost(graph: Graph, spec, *, max_grid=None, mesh_shape=None) -> GraphCost:
    """Every node's cost on `spec` (mesh: `mesh_shape`, default the graph's) and the totals."""
    index = graph.node_index()
    rows: list[NodeCost] = []

    def visit(n: Node, ins: list) -> tuple:
        rows.append(
            node_cost(graph, n, spec, index=index, max_grid=max_grid, mesh_shape=mesh_shape, in_specs=ins)
        )
        return n.outs

    interpret(graph.nodes, visit, graph_env(graph))
    # a memoised op (kernels.concat_weights: `Traits.persistent`) computes on the first call per weight set and
    # launches nothing after (ttfuse/kernels/weights.py): a call's totals leave it out, `once_ms` holds it
    for r in rows:
        r.once = index[r.node].opdef.traits.persistent
    per_call = [r for r in rows if not r.once]
    total = OpCost(launches=0)
    for r in per_call:
        total.accumulate(r)
    return GraphCost(
        getattr(spec, "name", None),
        rows,
        total,
        sum(r.device_us for r in per_call) / 1e3,
        sum(r.untraced_us for r in per_call) / 1e3,
        sum(r.device_us for r in rows if r.once) / 1e3,
    )


def compare(
    graph_before: Graph | None, graph: Graph, spec, *, max_grid=None, all_devices=True, mesh_shape=None
) -> CostComparison:
    """The eager graph (as traced) and the JIT graph on `spec`, plus both on every known device with as many
    chips that accepts them (the others in `per_arch_invalid`, with the reason)."""
    from ttfuse.device import all_specs

    jit = graph_cost(graph, spec, max_grid=max_grid, mesh_shape=mesh_shape)
    eager = (
        graph_cost(graph_before, spec, max_grid=max_grid, mesh_shape=mesh_shape)
        if graph_before is not None
        else None
    )
    per_arch: dict[str, tuple[float | None, float]] = {}
    invalid: dict[str, str] = {}
    if all_devices:
        for s in all_specs():
            if s.num_chips != spec.num_chips:
                continue
            if s == spec:
                per_arch[s.name] = (eager.untraced_ms if eager is not None else None, jit.untraced_ms)
                continue
            # the graphs carry the target's configs (grids, chunk sizes); another device may reject them,
            # which says the compile is not portable there, not that the compile is wrong
            try:
                e = (
                    graph_cost(graph_before, s, max_grid=max_grid, mesh_shape=mesh_shape).untraced_ms
                    if graph_before is not None
                    else None
                )
                j = graph_cost(graph, s, max_grid=max_grid, mesh_shape=mesh_shape).untraced_ms
            except TtfuseError as err:
                invalid[s.name] = (str(err).strip().splitlines() or [type(err).__name__])[0]
                continue
            per_arch[s.name] = (e, j)
    return CostComparison(jit, eager, per_arch, invalid)


class LazyCost:
    """A CostComparison computed on first use: `jit_fn.lower(...).cost` costs nothing until it is read, so
    compiling (which builds a Lowered every time) does not pay for costing every graph on every device.

    It keeps the compile's DeviceSpec and mesh shape and costs with them whenever it is read: by then the
    thread's device (set by eager ops and other compiles) may be any other device."""

    __slots__ = ("_args", "_value")

    def __init__(self, graph_before: Graph | None, graph: Graph, spec, max_grid=None, mesh_shape=None):
        mesh = tuple(mesh_shape) if mesh_shape is not None else tuple(graph.meta.get("mesh", (1, 1)))
        self._args = (graph_before, graph, spec, max_grid, mesh)
        self._value: CostComparison | None = None

    @property
    def device_spec(self):
        """The DeviceSpec the comparison is computed for (the compile's target)."""
        return self._args[2]

    @property
    def mesh_shape(self) -> tuple[int, int]:
        return self._args[4]

    def resolve(self) -> CostComparison:
        if self._value is None:
            gb, g, spec, mg, mesh = self._args
            with device_spec_context(spec, mesh):
                self._value = compare(gb, g, spec, max_grid=mg, mesh_shape=mesh)
        return self._value

    def __getattr__(self, name: str):
        return getattr(self.resolve(), name)

    def __str__(self) -> str:
        return str(self.resolve())


def cost(graph: Graph, ctx) -> Graph:
    """The pipeline's last pass, an analysis. Pre: a valid graph; `ctx.graph_in` the traced graph (set by
    run_pipeline). Post: `graph` unchanged; `ctx.cost` the LazyCost comparison of the traced and this graph on
    the context's device (nothing is costed until it is read). Without a device there is nothing to cost."""
    if ctx.device_spec is not None:
        ctx.cost = LazyCost(
            ctx.graph_in, graph, ctx.device_spec, max_grid=ctx.options.max_grid, mesh_shape=ctx.mesh_shape
        )
    return graph


__all__ = [
    "HOST_US_PER_LAUNCH",
    "ETH_HOP_US",
    "MM_STARTUP_CYCLES",
    "MM_UNPACK_BYTES_PER_CYCLE",
    "VECTOR_CYCLES_PER_TILE",
    "CostComparison",
    "GraphCost",
    "LazyCost",
    "NodeCost",
    "compare",
    "cost",
    "graph_cost",
    "matmul_core_tiles",
    "matmul_operand_tile_bytes",
    "node_cost",
    "op_cost",
]
