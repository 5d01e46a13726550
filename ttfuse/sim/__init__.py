"""ttfuse.sim: the functional simulator of TTNN on the CPU.

Public observability API (tests and benchmarks rely on these exact names):
`ttfuse.sim.memory_report(device)` -> object with peak_l1_bytes, peak_dram_bytes, l1_bytes, dram_bytes, reset_peak();
`with ttfuse.sim.count_launches(device) as launches:` -> launches.total, launches.by_op.

Importing this package registers the simulator as the backend "sim" (ttfuse/backend.py: `get_backend("sim")`
imports it on first use); its generated code calls the facade, which the registry hands it (`facade()`).
"""

from ttfuse import backend as _backend
from ttfuse.sim.backend import SimBackend
from ttfuse.sim.device import count_launches, memory_report

_backend.register_backend("sim", SimBackend)

__all__ = ["count_launches", "memory_report"]
