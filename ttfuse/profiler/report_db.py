"""A ttnn report folder from a profile: `config.json` + `db.sqlite`, the folder ttnn-visualizer opens.

The schema is the one ttnn 0.81.1 writes (ttnn/graph_report.py `create_database_schema`, schema_version 3.5):
tables devices, operations, operation_arguments, tensors, device_tensors, buffers, input_tensors,
output_tensors, tensor_producers, tensor_consumers, stack_traces, source_files, captured_graph, nodes, edges,
errors, report_metadata, ... (written here from that list of facts; the empty ones are created so readers find
them). What ttfuse fills in:
- operations: one row per op call, `duration` in seconds as ttnn stores it, PREDICTED by the cost model;
- operation_arguments: every argument (tensors by spec), the predicted figures (`predicted_device_kernel_ns`,
  `predicted_bound`, `math_fidelity`, `core_count`) and `duration_source`;
- tensors / input_tensors / output_tensors: each device tensor an op read or wrote, with its address;
- buffers: every buffer live on each chip after each op (address, size per bank, DRAM 0 / L1 1), as ttnn's
  detailed buffer report (addresses from ttfuse/profiler/addresses.py);
- devices: the DeviceSpec's grid and L1 figures; stack_traces: the user's line of each op.
config.json holds ttnn.CONFIG's keys (enable_logging true, report_name, ...) plus `ttfuse_durations`.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from ttfuse.profiler.addresses import BUFFER_TYPE_CODE, banks, l1_base, worker_l1_size
from ttfuse.profiler.common import PREDICTED_NOTE
from ttfuse.profiler.perf_csv import op_code
from ttfuse.types import TensorSpec

SCHEMA_VERSION = "3.5"

_TABLES = {
    "devices": "device_id int, num_y_cores int, num_x_cores int, num_y_compute_cores int, num_x_compute_cores int, "
    "worker_l1_size int, l1_num_banks int, l1_bank_size int, address_at_first_l1_bank int, "
    "address_at_first_l1_cb_buffer int, num_banks_per_storage_core int, num_compute_cores int, "
    "num_storage_cores int, total_l1_memory int, total_l1_for_tensors int, total_l1_for_interleaved_buffers int, "
    "total_l1_for_sharded_buffers int, cb_limit int, rank int NOT NULL DEFAULT 0",
    "operations": "operation_id int, name text, duration float, rank int NOT NULL DEFAULT 0, "
    "UNIQUE(operation_id, rank)",
    "operation_arguments": "operation_id int, name text, value text, rank int NOT NULL DEFAULT 0",
    "tensors": "tensor_id int, shape text, dtype text, layout text, memory_config text, device_id int, "
    "address int, buffer_type int, rank int NOT NULL DEFAULT 0, storage_type text, UNIQUE(tensor_id, rank)",
    "device_tensors": "tensor_id int, device_id int, address int, rank int NOT NULL DEFAULT 0",
    "buffers": "operation_id int, device_id int, address int, max_size_per_bank int, buffer_type int, "
    "buffer_layout int, rank int NOT NULL DEFAULT 0",
    "captured_graph": "operation_id int, captured_graph text, rank int NOT NULL DEFAULT 0",
    "nodes": "operation_id int, unique_id int, node_operation_id int, name text, rank int NOT NULL DEFAULT 0",
    "edges": "operation_id int, source_unique_id int, sink_unique_id int, source_output_index int, "
    "sink_input_index int, key int, rank int NOT NULL DEFAULT 0",
    "report_metadata": "key text UNIQUE, value text",
    "errors": "operation_id int, operation_name text, error_type text, error_message text, stack_trace text, "
    "timestamp text, rank int NOT NULL DEFAULT 0",
    "source_files": "id INTEGER PRIMARY KEY, path text UNIQUE NOT NULL, contents text",
    "stack_traces": "operation_id int, stack_trace text, source_file_id int REFERENCES source_files(id), "
    "rank int NOT NULL DEFAULT 0",
    "input_tensors": "operation_id int, input_index int, tensor_id int, rank int NOT NULL DEFAULT 0",
    "output_tensors": "operation_id int, output_index int, tensor_id int, rank int NOT NULL DEFAULT 0",
    "tensor_consumers": "tensor_id int, operation_id int, input_index int, rank int NOT NULL DEFAULT 0, "
    "UNIQUE(tensor_id, operation_id, input_index, rank)",
    "tensor_producers": "tensor_id int, operation_id int, output_index int, rank int NOT NULL DEFAULT 0, "
    "UNIQUE(tensor_id, operation_id, output_index, rank)",
    "sub_device_managers": "device_id int, sub_device_manager_id int, rank int NOT NULL DEFAULT 0",
    "sub_devices": "device_id int, sub_device_manager_id int, sub_device_id int, worker_core_ranges text, "
    "rank int NOT NULL DEFAULT 0",
    "operation_executions": "execution_id int, operation_id int, device_id int, physical_device_id int, "
    "runtime_id int, global_call_count int, command_queue_id int, rank int NOT NULL DEFAULT 0",
    "tensor_lifetime": "tensor_id int, producer_operation_id int, last_use_operation_id int, "
    "deallocate_operation_id int, producer_source_file text, producer_source_line int, last_use_source_file text, "
    "last_use_source_line int, rank int NOT NULL DEFAULT 0, UNIQUE(tensor_id, rank)",
    "local_tensor_comparison_records": "tensor_id int, golden_tensor_id int, matches int, desired_pcc float, "
    "actual_pcc float, rank int NOT NULL DEFAULT 0, UNIQUE(tensor_id, rank)",
    "global_tensor_comparison_records": "tensor_id int, golden_tensor_id int, matches int, desired_pcc float, "
    "actual_pcc float, rank int NOT NULL DEFAULT 0, UNIQUE(tensor_id, rank)",
    "buffer_chunks": "operation_id int, device_id int, address int, bank_id int, core_x int, core_y int, "
    "chunk_address int, chunk_size int, page_size int, num_pages int, buffer_type int, "
    "rank int NOT NULL DEFAULT 0",
}

# ttnn.CONFIG's keys as ttnn 0.81.1 saves them (ttnn.save_config_to_json_file)
_CONFIG_DEFAULTS = {
    "cache_path": "~/.cache/ttnn",
    "model_cache_path": "~/.cache/ttnn/models",
    "tmp_dir": "/tmp/ttnn",
    "enable_model_cache": False,
    "enable_fast_runtime_mode": False,
    "validate_program_args": False,
    "throw_exception_on_fallback": False,
    "enable_logging": True,
    "enable_graph_report": False,
    "enable_graph_python_stack_traces": True,
    "enable_detailed_buffer_report": True,
    "enable_detailed_tensor_report": False,
    "enable_comparison_mode": False,
    "comparison_mode_should_raise_exception": False,
    "comparison_mode_pcc": 0.9999,
    "root_report_path": "generated/ttnn/reports",
    "report_name": None,
    "strict_ccl_topology": False,
}


def memory_config_text(spec: TensorSpec) -> str:
    """ttnn's printed MemoryConfig (what ttnn-visualizer parses: memory_layout=..., buffer_type=BufferType::X)."""
    mc = spec.memory_config
    return (
        f"MemoryConfig(memory_layout=TensorMemoryLayout::{mc.memory_layout.name},"
        f"buffer_type=BufferType::{mc.buffer_type.name},shard_spec=std::nullopt)"
    )


def _device_row(device_id: int, spec) -> tuple:
    gx, gy = spec.grid
    l1 = spec.l1_per_core
    n = spec.num_cores
    return (
        device_id, spec.die_grid[1], spec.die_grid[0], gy, gx, worker_l1_size(spec), n, l1, l1_base(spec),
        l1_base(spec), 0, n, 0, l1 * n, l1 * n, l1 * n, l1 * n, l1, 0,
    )  # fmt: skip


def write_report(prof, path) -> Path:
    """Write `path/config.json` and `path/db.sqlite` (replacing an older db.sqlite) for a Profile."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    db = path / "db.sqlite"
    if db.exists():
        db.unlink()
    con = sqlite3.connect(db)
    try:
        cur = con.cursor()
        for name, cols in _TABLES.items():
            cur.execute(f"CREATE TABLE IF NOT EXISTS {name} ({cols})")
        _fill(cur, prof)
        con.commit()
    finally:
        con.close()
    cfg = dict(_CONFIG_DEFAULTS)
    cfg["report_name"] = prof.name
    cfg["root_report_path"] = str(path.parent)
    cfg["ttfuse_durations"] = PREDICTED_NOTE
    (path / "config.json").write_text(json.dumps(cfg, indent=4) + "\n")
    return path


def _fill(cur, prof) -> None:
    devices: dict[int, object] = {}
    tensors: dict[int, tuple] = {}
    sources: dict[str, int] = {}
    for rec in prof.records:
        for chip in rec.device.chips:
            devices.setdefault(chip.id, chip.spec)
    cur.executemany(
        f"INSERT INTO devices VALUES ({', '.join('?' * 19)})", [_device_row(i, s) for i, s in devices.items()]
    )
    ops, args, bufs, ins, outs, traces, graphs = [], [], [], [], [], [], []
    for rec in prof.records:
        oid = rec.index
        c = rec.cost()
        dev_id = rec.device.chips[0].id
        ops.append((oid, rec.op.qualname, c.device_us / 1e6, 0))
        graphs.append((oid, "[]", 0))
        for k, v in rec.args.items():
            if v is None or k == "device":
                continue
            args.append((oid, k, str(v), 0))
        kernel_ns = max(c.device_us * 1e3 - c.launches * rec.device.spec.launch_overhead_us * 1e3, 0.0)
        for k, v in (
            ("duration_source", PREDICTED_NOTE),
            ("predicted_device_kernel_ns", f"{kernel_ns:.0f}"),
            ("predicted_device_us_with_dispatch", f"{c.device_us:.3f}"),
            ("predicted_untraced_us", f"{c.untraced_us:.3f}"),
            ("predicted_bound", c.bound),
            ("math_fidelity", c.fidelity),
            ("core_count", str(c.cores)),
            ("device_operation", op_code(rec.op)),
            ("launches", str(rec.launches)),
            ("jit", str(rec.jit).lower()),
        ):
            args.append((oid, k, v, 0))
        in_specs = [v for v in rec.args.values() if isinstance(v, TensorSpec)]
        for v in rec.args.values():
            if isinstance(v, list | tuple):
                in_specs.extend(x for x in v if isinstance(x, TensorSpec))
        for i, ((tid, addr), spec) in enumerate(zip(rec.inputs, in_specs)):
            tensors.setdefault(tid, _tensor_row(tid, spec, dev_id, addr))
            ins.append((oid, i, tid, 0))
        for i, ((tid, addr), spec) in enumerate(zip(rec.outputs, rec.out_specs)):
            tensors[tid] = _tensor_row(tid, spec, dev_id, addr)
            outs.append((oid, i, tid, 0))
        for chip, live in zip(rec.device.chips, rec.live_after):
            for addr, size, kind in live:
                bufs.append((oid, chip.id, addr, size, BUFFER_TYPE_CODE[kind], 0, 0))
        if rec.loc:
            file, line, func = rec.loc
            if file not in sources:
                sources[file] = len(sources) + 1
                try:
                    text = Path(file).read_text()
                except OSError:
                    text = None
                cur.execute("INSERT INTO source_files VALUES (?, ?, ?)", (sources[file], file, text))
            trace = f'File "{file}", line {line}, in {func}\n    ({rec.op.qualname}, {PREDICTED_NOTE})'
            traces.append((oid, trace, sources[file], 0))
    cur.executemany("INSERT INTO operations VALUES (?, ?, ?, ?)", ops)
    cur.executemany("INSERT INTO captured_graph VALUES (?, ?, ?)", graphs)
    cur.executemany("INSERT INTO operation_arguments VALUES (?, ?, ?, ?)", args)
    cur.executemany("INSERT INTO tensors VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", list(tensors.values()))
    cur.executemany(
        "INSERT INTO device_tensors VALUES (?, ?, ?, ?)",
        [(t[0], t[5], t[6], 0) for t in tensors.values() if t[6] is not None],
    )
    cur.executemany("INSERT INTO input_tensors VALUES (?, ?, ?, ?)", ins)
    cur.executemany("INSERT INTO output_tensors VALUES (?, ?, ?, ?)", outs)
    cur.executemany(
        "INSERT OR IGNORE INTO tensor_consumers VALUES (?, ?, ?, ?)", [(t, o, i, r) for o, i, t, r in ins]
    )
    cur.executemany(
        "INSERT OR IGNORE INTO tensor_producers VALUES (?, ?, ?, ?)", [(t, o, i, r) for o, i, t, r in outs]
    )
    cur.executemany("INSERT INTO buffers VALUES (?, ?, ?, ?, ?, ?, ?)", bufs)
    cur.executemany("INSERT INTO stack_traces VALUES (?, ?, ?, ?)", traces)
    meta = {
        "schema_version": SCHEMA_VERSION,
        "generator": "ttfuse simulator (ttfuse/profiler)",
        "durations": PREDICTED_NOTE,
        "devices": ", ".join(sorted({s.name for s in devices.values()})),
    }
    cur.executemany("INSERT OR REPLACE INTO report_metadata VALUES (?, ?)", list(meta.items()))


def _tensor_row(tid: int, spec: TensorSpec, device_id: int, address) -> tuple:
    buf = spec.memory_config.buffer_type.name
    return (
        tid,
        f"Shape([{', '.join(str(d) for d in spec.shape)}])",
        f"DataType.{spec.dtype.name}",
        f"Layout.{spec.layout.name}",
        memory_config_text(spec),
        device_id,
        address,
        BUFFER_TYPE_CODE.get(buf, 0),
        0,
        "DEVICE",
    )


__all__ = ["SCHEMA_VERSION", "memory_config_text", "write_report", "banks"]
