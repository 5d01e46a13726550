"""The simulator as a ttfuse backend (ttfuse/backend.py): eager ops on `SimTrace`, devices from `open_mesh`,
generated code calling the facade, with runs of row-independent ops grouped into row-blocked regions.

ttfuse/sim/__init__.py registers it as "sim"; the `ttnn` namespace its generated code calls is the facade,
which registers itself with the backend registry (`ttfuse.backend.facade()`): the simulator does not import
the facade above it.
"""

from __future__ import annotations

from ttfuse.backend import Backend, Device, facade
from ttfuse.mesh import MeshShape
from ttfuse.sim.device import MeshDevice, open_mesh
from ttfuse.sim.executor import SimTrace


class SimBackend(Backend):
    name = "sim"
    facade_api = True
    requires = "ttfuse.ttnn"
    device_class = MeshDevice

    def __init__(self):
        self._trace = SimTrace()

    def eager_trace(self) -> SimTrace:
        return self._trace

    def open_mesh(self, shape: MeshShape, arch: str | None) -> Device:
        return open_mesh(shape, arch)

    def api(self):
        return facade()

    def plan(self, graph, block_bytes: int) -> list:
        if block_bytes <= 0:
            return list(graph.nodes)
        from ttfuse.sim.blocked import plan  # (blocked.py imports the passes: only loaded for codegen)

        return plan(graph, block_bytes)

    def region(self, plan, graph):
        from ttfuse.sim.blocked import Region

        return Region(plan, graph)
