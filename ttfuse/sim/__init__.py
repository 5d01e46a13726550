"""ttfuse.sim: the functional simulator of TTNN on the CPU.

Public observability API (tests and benchmarks rely on these exact names):
`ttfuse.sim.memory_report(device)` -> object with peak_l1_bytes, peak_dram_bytes, l1_bytes, dram_bytes, reset_peak();
`with ttfuse.sim.count_launches(device) as launches:` -> launches.total, launches.by_op.
"""

from ttfuse.sim.device import count_launches, memory_report

__all__ = ["count_launches", "memory_report"]
