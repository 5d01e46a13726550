"""The device profiler's outputs from the simulator: tt-metal's ops perf CSV and a ttnn report folder.

    with ttfuse.profile("prof/") as prof:      # any eager or jit run on the simulator inside
        y = model(x)
    prof.csv_path      # prof/ops_perf_results.csv: the file tt-perf-report reads (tools/tracy/process_ops_logs.py)
    prof.report_path   # prof/report/: config.json + db.sqlite, the folder ttnn-visualizer opens

Every duration is a PREDICTION of ttfuse's cost model (ttfuse/passes/cost.py `node_cost`, on the device the op
ran on), never a measurement: the CSV says so in its `DURATION SOURCE` column and the report in config.json
(`ttfuse_durations`) and in report_metadata. The CSV's duration column keeps the name tt-perf-report reads
(`DEVICE KERNEL DURATION [ns]`).

How it works: the simulator calls the observers in `ttfuse.sim.device.OBSERVERS` once per op that launches
kernels (eager calls, jit-generated code and its row-blocked regions alike) and on every device allocation and
free. A `Profile` records one `OpRecord` per op call (its arguments as TensorSpecs, output specs, launches, the
device, the user's line) and keeps a model of device addresses (`addresses.py`) so that each op has the list of
buffers alive after it, as ttnn's detailed buffer report does. Writing happens when the profile ends.

Turning it on, the ttnn way (the same switches as on a TT machine):
- `TT_METAL_DEVICE_PROFILER=1` (read when ttfuse is imported): the ops perf CSV is written at exit to
  `$TT_METAL_PROFILER_DIR` (default `generated/profiler/reports`)`/<stamp>/ops_perf_results_<stamp>.csv`.
- `ttnn.CONFIG.enable_logging = True` with a `report_name` (or TTNN_CONFIG_OVERRIDES='{"enable_logging": true,
  "report_name": "run"}'): the report folder goes to `ttnn.CONFIG.report_path` (ttfuse/ttnn/_config.py).
Extend: a new CSV column goes into perf_csv.py, a new report table into report_db.py.
"""

from __future__ import annotations

import atexit
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ttfuse import backend as _backend
from ttfuse.errors import TtfuseError, user_frame
from ttfuse.profiler.addresses import AddressModel
from ttfuse.profiler.common import PREDICTED_NOTE
from ttfuse.profiler.costing import cost_of
from ttfuse.profiler.perf_csv import write_ops_perf_csv
from ttfuse.profiler.report_db import write_report

__all__ = ["OpRecord", "Profile", "profile", "active_profiles", "PREDICTED_NOTE"]


@dataclass
class OpRecord:
    """One op call on one (mesh) device, as the simulator ran it."""

    index: int  # 0-based call order within the profile
    op: object  # the OpDef
    device: object  # the MeshDevice
    args: dict  # every argument; tensors as TensorSpecs (device objects as they were)
    out_specs: list
    launches: int
    node: object | None  # the IR node when jit-generated code ran it
    loc: tuple | None  # (file, line, function) of the user's call
    jit_fn: str | None = None  # the jit function whose generated code ran it (None: an eager call)
    inputs: list = field(default_factory=list)  # per tensor argument (in order): (tensor id, address or None)
    outputs: list = field(default_factory=list)  # per output: (tensor id, address or None)
    live_after: list = field(default_factory=list)  # per chip: [(address, per-bank bytes, kind)] after the op
    _cost: object = None

    @property
    def jit(self) -> bool:
        return self.jit_fn is not None or self.node is not None

    def cost(self):
        """The op's NodeCost on its device (ttfuse.passes.cost.node_cost), computed once."""
        if self._cost is None:
            self._cost = cost_of(self)
        return self._cost


class Profile:
    """Records every op the simulator runs while active; `write()` makes the CSV and/or the report folder.

    `out_dir`: where to write (created). `csv` / `report`: which outputs. `name`: the report's name
    (config.json `report_name`). Use as a context manager (`ttfuse.profile(...)`) or `start()` / `stop()`."""

    def __init__(
        self,
        out_dir: str | os.PathLike | None = None,
        *,
        csv: bool = True,
        report: bool = True,
        name: str | None = None,
        csv_path: str | os.PathLike | None = None,
        report_path: str | os.PathLike | None = None,
    ):
        if out_dir is None and csv_path is None and report_path is None and (csv or report):
            raise TtfuseError("ttfuse.profile: give an output folder (out_dir) or csv_path / report_path")
        base = Path(out_dir) if out_dir is not None else None
        self.name = name or "ttfuse_profile"
        self.csv_path = (
            Path(csv_path) if csv_path is not None else (base / "ops_perf_results.csv" if csv else None)
        )
        self.report_path = (
            Path(report_path) if report_path is not None else (base / "report" if report and base else None)
        )
        self.records: list[OpRecord] = []
        self.addresses = AddressModel()
        self._tensor_ids: dict = {}  # first-chip Allocation -> tensor id
        self._next_tensor = 0
        self.started_at = time.time()
        self.active = False

    # ------------------------------------------------------------------ observer protocol (ttfuse.sim.device)
    def on_alloc(self, allocation, buffer_type) -> None:
        self.addresses.alloc(allocation, buffer_type)

    def on_free(self, allocation) -> None:
        self.addresses.free(allocation)
        self._tensor_ids.pop(allocation, None)

    def on_op(self, device, op, args, out_specs, launches, inputs, outputs, node) -> None:
        if node is None and _backend.JIT_STACK:
            node = _generated_node()
        loc = node.side.loc if node is not None and node.side.loc else user_frame()
        jit_fn = _backend.JIT_STACK[-1] if _backend.JIT_STACK else None
        rec = OpRecord(
            len(self.records), op, device, dict(args), list(out_specs), launches, node, loc, jit_fn
        )
        rec.inputs = [self._tensor_id(b) for b in inputs]
        outs = list(outputs) if outputs is not None else [None] * len(out_specs)
        rec.outputs = [self._tensor_id(b) for b in outs]
        rec.live_after = [self.addresses.live_on(chip) for chip in device.chips]
        self.records.append(rec)

    def _tensor_id(self, storages) -> tuple[int, int | None]:
        """(tensor id, address on the first chip) of a tensor by its storage: the first chip's Allocation object
        identifies it while it lives (a view or an unknown storage gets a fresh id and no address)."""
        first = storages[0] if storages else None
        if first is not None and first not in self.addresses.live and getattr(first, "live", False):
            for a in storages:  # allocated before the profile started (weights): give it an address now
                if getattr(a, "live", False) and hasattr(a, "chip"):
                    self.addresses.alloc(a, None)
        if first is None or first not in self.addresses.live:
            self._next_tensor += 1
            return self._next_tensor - 1, None
        tid = self._tensor_ids.get(first)
        if tid is None:
            tid = self._tensor_ids[first] = self._next_tensor
            self._next_tensor += 1
        return tid, self.addresses.address(first)

    # ------------------------------------------------------------------------------------------ control
    def start(self) -> Profile:
        if not self.active:
            _backend.OBSERVERS.append(self)
            self.active = True
        return self

    def stop(self) -> Profile:
        if self.active:
            _backend.OBSERVERS.remove(self)
            self.active = False
        return self

    def write(self) -> Profile:
        """Write the outputs asked for (nothing is written for an empty profile's report but its schema)."""
        if self.csv_path is not None:
            write_ops_perf_csv(self.records, self.csv_path)
        if self.report_path is not None:
            write_report(self, self.report_path)
        return self

    def __enter__(self) -> Profile:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
        self.write()

    def summary(self) -> str:
        """Op count and predicted total device time (a traced run: kernels + dispatch), per device kind."""
        total = sum(r.cost().device_us for r in self.records)
        return f"{len(self.records)} ops, predicted device time {total / 1e3:.4f} ms ({PREDICTED_NOTE})"


def _generated_node():
    """The IR node of the jit-generated line running now (ttfuse/codegen.py `_ttfuse_line_nodes`), or None."""
    f = sys._getframe(2)
    while f is not None:
        nodes = f.f_globals.get("_ttfuse_line_nodes")
        if nodes is not None:
            return nodes.get(f.f_lineno)
        f = f.f_back
    return None


def profile(out_dir=None, **kw) -> Profile:
    """`with ttfuse.profile("prof/"):` records every simulated op inside and writes, at exit,
    prof/ops_perf_results.csv (tt-perf-report's input) and prof/report/ (config.json + db.sqlite, what
    ttnn-visualizer opens). Options: csv=, report=, name=, csv_path=, report_path=. Durations are predicted."""
    return Profile(out_dir, **kw)


def active_profiles() -> list[Profile]:
    return [o for o in _backend.OBSERVERS if isinstance(o, Profile)]


# ------------------------------------------------------------------------------------------ the ttnn way
def _truthy(v: str | None) -> bool:
    return (v or "").strip().lower() in ("1", "true", "yes", "on")


def _stamp() -> str:
    return time.strftime("%Y_%m_%d_%H_%M_%S")


def from_environment(env=None, at_exit: bool = True) -> Profile | None:
    """The profile tt-metal's device profiler switch asks for, started, or None: TT_METAL_DEVICE_PROFILER=1 writes
    the ops perf CSV under $TT_METAL_PROFILER_DIR (default generated/profiler/reports)/<stamp>/ at exit. (ttnn's
    report switches, `ttnn.CONFIG.enable_logging` and TTNN_CONFIG_OVERRIDES, are ttfuse/ttnn/_config.py's.)"""
    env = os.environ if env is None else env
    if not _truthy(env.get("TT_METAL_DEVICE_PROFILER")):
        return None
    stamp = _stamp()
    base = Path(env.get("TT_METAL_PROFILER_DIR") or "generated/profiler/reports") / stamp
    prof = Profile(csv_path=base / f"ops_perf_results_{stamp}.csv", report=False, name=stamp).start()
    if at_exit:  # written when the process ends, as tt-metal's profiler dumps at device close / exit
        atexit.register(_finish, prof)
    return prof


def _finish(prof: Profile) -> None:
    prof.stop()
    prof.write()
    where = [str(p) for p in (prof.csv_path, prof.report_path) if p is not None]
    print(f"ttfuse profiler: {prof.summary()}; wrote {', '.join(where)}")
