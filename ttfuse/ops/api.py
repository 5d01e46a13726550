"""The registered ops as a namespace: `api.add`, `api.layer_norm`, `api.transformer.<op>`.

For code below the facade that calls ops by their ttnn names, such as the template functions
ttfuse/passes/fuse.py traces into rewrite rules: these are the same OpDef objects `from ttfuse import ttnn`
exports (so a traced call records the same node), reached without importing the facade, which sits above
the passes. Only ops live here; types and configs come from ttfuse.types / ttfuse.configs.
"""

from __future__ import annotations

import types

from ttfuse.opdef import OPS


def __getattr__(name: str):
    op = OPS.get(name)
    if op is not None:
        return op
    prefix = name + "."
    members = {k[len(prefix) :]: v for k, v in OPS.items() if k.startswith(prefix)}
    if members:  # a namespace of ops (ttnn.transformer, ttnn.experimental)
        return types.SimpleNamespace(**members)
    raise AttributeError(f"no registered op named {name!r}")
