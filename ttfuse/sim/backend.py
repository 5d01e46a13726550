"""The simulator as a ttfuse backend (ttfuse/backend.py): eager ops on `SimTrace`, devices from `open_mesh`,
generated code calling the facade, with runs of row-independent ops grouped into row-blocked regions.

The facade (ttfuse/ttnn/__init__.py) registers it as "sim", passing itself as the `ttnn` namespace generated
code calls: the simulator does not import the facade above it.
"""

from __future__ import annotations

from ttfuse.backend import Backend, Device
from ttfuse.mesh import MeshShape
from ttfuse.sim.device import MeshDevice, open_mesh
from ttfuse.sim.executor import SimTrace


class SimBackend(Backend):
    name = "sim"
    facade_api = True
    requires = "ttfuse.ttnn"
    device_class = MeshDevice

    def __init__(self, api):
        self._api = api
        self._trace = SimTrace()

    def eager_trace(self) -> SimTrace:
        return self._trace

    def open_mesh(self, shape: MeshShape, arch: str | None) -> Device:
        return open_mesh(shape, arch)

    def api(self):
        return self._api

    def plan(self, graph, block_bytes: int) -> list:
        if block_bytes <= 0:
            return list(graph.nodes)
        from ttfuse.sim.blocked import plan  # (blocked.py imports the passes: only loaded for codegen)

        return plan(graph, block_bytes)

    def region(self, plan, graph):
        from ttfuse.sim.blocked import Region

        return Region(plan, graph)
