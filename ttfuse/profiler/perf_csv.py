"""tt-metal's ops perf CSV (`ops_perf_results.csv`) from a profile: the file tt-perf-report and ttnn-visualizer
read.

Columns: tt-metal's `OPS_CSV_HEADER` (tools/tracy/process_ops_logs.py: OP CODE, OP TYPE, GLOBAL CALL COUNT,
DEVICE ID, DEVICE ARCH, ATTRIBUTES, MATH FIDELITY, CORE COUNT, AVAILABLE WORKER CORE COUNT, host timestamps, device
durations, ...), then per tensor INPUT_<i>_/OUTPUT_<i>_ W, Z, Y, X as "padded[logical]" (the `_PAD[LOGICAL]`
columns that make tt-perf-report read the file as its v2.1 format), LAYOUT, DATATYPE and MEMORY
("DEV_<id>_<buffer>_<layout>"), and ttfuse's own columns at the end: DURATION SOURCE (every duration here is
predicted), TTFUSE OP (the ttnn or kernel name), TTFUSE LAUNCHES, TTFUSE BOUND, TTFUSE JIT, TTFUSE LOCATION.

Rows: one per op call and chip (tt-metal writes one row per device; tt-perf-report merges them). Durations:
DEVICE KERNEL DURATION [ns] = the cost model's device time less its per-launch dispatch; OP TO OP LATENCY [ns] =
that dispatch (what a traced run pays between kernels); the HOST columns stay empty (a prediction of host time
is not a host measurement); HOST START TS is the predicted start of the op on the device timeline, so sorting by
it (as tt-perf-report does) keeps the run's order.
"""

from __future__ import annotations

import csv
from pathlib import Path

from ttfuse.opdef import Group
from ttfuse.profiler.common import PREDICTED_NOTE
from ttfuse.types import TensorSpec

# tt-metal's header (tools/tracy/process_ops_logs.py OPS_CSV_HEADER), in its order
METAL_COLUMNS = [
    "OP CODE", "OP TYPE", "GLOBAL CALL COUNT", "DEVICE ID", "DEVICE ARCH", "ATTRIBUTES", "MATH FIDELITY",
    "CORE COUNT", "AVAILABLE WORKER CORE COUNT", "PARALLELIZATION STRATEGY", "HOST START TS", "HOST END TS",
    "HOST DURATION [ns]", "DEVICE FW START CYCLE", "DEVICE FW END CYCLE", "OP TO OP LATENCY [ns]",
    "DEVICE FW DURATION [ns]", "DEVICE KERNEL DURATION [ns]", "DEVICE KERNEL DURATION PER CORE MIN [ns]",
    "DEVICE KERNEL DURATION PER CORE MAX [ns]", "DEVICE KERNEL DURATION PER CORE AVG [ns]",
    "INPUTS", "OUTPUTS", "METAL TRACE ID", "METAL TRACE REPLAY SESSION ID", "PROGRAM HASH", "PROGRAM CACHE HIT",
]  # fmt: skip
TTFUSE_COLUMNS = [
    "DURATION SOURCE", "TTFUSE OP", "TTFUSE LAUNCHES", "TTFUSE BOUND", "TTFUSE JIT", "TTFUSE LOCATION",
]  # fmt: skip
TENSOR_FIELDS = [
    "W_PAD[LOGICAL]",
    "Z_PAD[LOGICAL]",
    "Y_PAD[LOGICAL]",
    "X_PAD[LOGICAL]",
    "LAYOUT",
    "DATATYPE",
    "MEMORY",
]

# tt-metal device operation names for ttfuse's op groups (the names tt-perf-report classifies: its
# OPERATION_CATEGORIES list "Matmul", "BinaryNg", "Unary", "LayerNorm", "Softmax", "Reduce", "SDPAOperation")
_GROUP_CODES = {
    Group.MATMUL: "MatmulDeviceOperation",
    Group.ELTWISE_BINARY: "BinaryNgDeviceOperation",
    Group.ELTWISE_UNARY: "UnaryDeviceOperation",
    Group.SOFTMAX: "SoftmaxDeviceOperation",
    Group.REDUCE: "ReduceDeviceOperation",
}
_NAME_CODES = {
    "layer_norm": "LayerNormDeviceOperation",
    "rms_norm": "LayerNormDeviceOperation",
    "scaled_dot_product_attention": "SDPAOperation",
    "group_norm": "GroupNormDeviceOperation",
    "upsample": "UpsampleOperation",  # tt-metal pool/upsample/device/upsample_device_operation.hpp
}


def op_code(op) -> str:
    """The OP CODE column: the tt-metal device operation where ttfuse's op is one, else its ttnn name;
    ttfuse's fused kernels as `ttfuse::<kernel>` (no tt-metal op runs them as one kernel today)."""
    code = _NAME_CODES.get(op.short)
    if code is not None:
        return code
    if op.group is Group.FUSED:
        return "ttfuse::" + op.name
    return _GROUP_CODES.get(op.group, op.qualname)


def _dim(spec: TensorSpec, i: int) -> str:
    """W/Z/Y/X (i = 0..3) as "padded[logical]" of the shape padded to 4 dims on the left."""
    shape = list(spec.shape)
    padded = list(spec.padded_shape)
    while len(shape) < 4:
        shape.insert(0, 1)
        padded.insert(0, 1)
    if len(shape) > 4:  # fold leading dims into W, as tt-metal reports rank > 4 tensors
        lw, pw = 1, 1
        for a, b in zip(shape[:-3], padded[:-3]):
            lw, pw = lw * a, pw * b
        shape, padded = [lw, *shape[-3:]], [pw, *padded[-3:]]
    return f"{padded[i]}[{shape[i]}]"


def memory_label(spec: TensorSpec, device_id: int) -> str:
    mc = spec.memory_config
    return f"DEV_{device_id}_{mc.buffer_type.name}_{mc.memory_layout.name}"


def tensor_cells(prefix: str, spec: TensorSpec, device_id: int) -> dict:
    return {
        f"{prefix}_W_PAD[LOGICAL]": _dim(spec, 0),
        f"{prefix}_Z_PAD[LOGICAL]": _dim(spec, 1),
        f"{prefix}_Y_PAD[LOGICAL]": _dim(spec, 2),
        f"{prefix}_X_PAD[LOGICAL]": _dim(spec, 3),
        f"{prefix}_LAYOUT": spec.layout.name,
        f"{prefix}_DATATYPE": spec.dtype.name,
        f"{prefix}_MEMORY": memory_label(spec, device_id),
    }


def input_specs(args: dict) -> list[TensorSpec]:
    out = []
    for v in args.values():
        if isinstance(v, TensorSpec):
            out.append(v)
        elif isinstance(v, list | tuple):
            out.extend(x for x in v if isinstance(x, TensorSpec))
    return out


def attributes(rec) -> str:
    """Every non-tensor argument as a dict literal `{'name': 'value'; ...}` (tt-metal's ATTRIBUTES style, which
    tt-perf-report searches by regex), the program config among them, plus what the passes chose."""
    parts = []
    for k, v in rec.args.items():
        if isinstance(v, TensorSpec) or v is None or k == "device":
            continue
        if isinstance(v, list | tuple) and any(isinstance(x, TensorSpec) for x in v):
            continue
        parts.append(f"'{k}': '{_text(v)}'")
    if rec.node is not None:
        for k, v in sorted(rec.node.side.config.items()):
            if k not in rec.args:
                parts.append(f"'{k}': '{_text(v)}'")
    return "{" + "; ".join(parts) + "}"


def _text(v) -> str:
    return str(v).replace("'", "").replace("\n", " ")


def rows(records) -> list[dict]:
    out = []
    t_ns: dict[int, float] = {}  # per chip id: predicted device timeline
    for rec in records:
        c = rec.cost()
        spec = rec.device.spec
        dispatch_ns = c.launches * spec.launch_overhead_us * 1e3
        kernel_ns = max(c.device_us * 1e3 - dispatch_ns, 0.0)
        ins = input_specs(rec.args)
        loc = f"{rec.loc[0]}:{rec.loc[1]}" if rec.loc else ""
        for chip in rec.device.chips:
            start = t_ns.get(chip.id, 0.0) + dispatch_ns
            t_ns[chip.id] = start + kernel_ns
            row = {
                "OP CODE": op_code(rec.op),
                "OP TYPE": "tt_dnn_device",
                "GLOBAL CALL COUNT": rec.index + 1,
                "DEVICE ID": chip.id,
                "DEVICE ARCH": spec.arch.upper(),
                "ATTRIBUTES": attributes(rec),
                "MATH FIDELITY": c.fidelity,
                "CORE COUNT": c.cores,
                "AVAILABLE WORKER CORE COUNT": spec.num_cores,
                "HOST START TS": int(start),
                "OP TO OP LATENCY [ns]": int(round(dispatch_ns)),
                "DEVICE KERNEL DURATION [ns]": int(round(kernel_ns)),
                "DEVICE KERNEL DURATION PER CORE MAX [ns]": int(round(kernel_ns)),
                "INPUTS": len(ins),
                "OUTPUTS": len(rec.out_specs),
                "DURATION SOURCE": PREDICTED_NOTE,
                "TTFUSE OP": rec.op.qualname,
                "TTFUSE LAUNCHES": rec.launches,
                "TTFUSE BOUND": c.bound,
                "TTFUSE JIT": int(rec.jit),
                "TTFUSE LOCATION": loc,
            }
            for i, s in enumerate(ins):
                row.update(tensor_cells(f"INPUT_{i}", s, chip.id))
            for i, s in enumerate(rec.out_specs):
                row.update(tensor_cells(f"OUTPUT_{i}", s, chip.id))
            out.append(row)
    return out


def write_ops_perf_csv(records, path) -> Path:
    """Write the CSV (tt-metal's columns, every INPUT_i / OUTPUT_i any row uses, ttfuse's columns)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = rows(records)
    n_in = max((r["INPUTS"] for r in data), default=0)
    n_out = max((r["OUTPUTS"] for r in data), default=1)
    header = list(METAL_COLUMNS)
    header += [f"INPUT_{i}_{f}" for i in range(n_in) for f in TENSOR_FIELDS]
    header += [f"OUTPUT_{i}_{f}" for i in range(n_out) for f in TENSOR_FIELDS]
    header += TTFUSE_COLUMNS
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=header, restval="")
        w.writeheader()
        w.writerows(data)
    return path
