"""Graph capture for @ttfuse.jit: tracers, the graph trace and pytrees of arguments and results.

`trace(fn, args, kwargs)` -> ttfuse.ir.Graph. See ttfuse/capture/trace.py for the rules and errors.
"""

from ttfuse.capture.trace import GraphTrace, Tracer, trace

__all__ = ["GraphTrace", "Tracer", "trace"]
