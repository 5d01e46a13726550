"""The graph core of ttfuse: the IR and what every layer above does with a graph.

- graph.py: `Graph`, `Node`, `NodeSide` (SSA nodes, each output an immutable TensorSpec; in-place writes as
  graph data), JSON round trip, structural hash, `make_attrs`, `trace_function`;
- values.py: `Ref`, the attribute markers `In` / `DeviceArg`, `FrozenList`, their JSON coding;
- printer.py: the compact typed printer (`format_graph`, `format_node`);
- interp.py: the one interpreter (`interpret`: walk nodes in order, bind inputs, call a per-node callback), used
  by the verifier, the cost model, the chunk pass and the simulator's row-blocked regions;
- analysis.py: users, liveness and the one `dce` (write-backs are live), `toposort`;
- specs.py: spec rules over nodes (`infer_outs`, `spec_args`, `DevicePlaceholder`) and `respec` (re-derive a
  graph's specs after a change).

Layering: ttfuse.ir is core: it imports types, opdef, mesh and device, never passes, sim or kernels.
"""

from ttfuse.ir.analysis import dce, in_order, live_values, toposort, users
from ttfuse.ir.graph import (
    IR_VERSION,
    Decision,
    Graph,
    Node,
    NodeSide,
    make_attrs,
    set_tracer,
    trace_function,
)
from ttfuse.ir.interp import bind_args, graph_env, interpret, value_specs
from ttfuse.ir.printer import format_graph, format_node, format_value
from ttfuse.ir.specs import DevicePlaceholder, graph_device, infer, infer_outs, respec, spec_args
from ttfuse.ir.values import (
    DeviceArg,
    FrozenList,
    In,
    Ref,
    attr_tensor_positions,
    decode_value,
    encode_value,
    freeze,
    substitute,
    thaw,
)

__all__ = [
    "IR_VERSION",
    "Decision",
    "DeviceArg",
    "DevicePlaceholder",
    "FrozenList",
    "Graph",
    "In",
    "Node",
    "NodeSide",
    "Ref",
    "attr_tensor_positions",
    "bind_args",
    "dce",
    "decode_value",
    "encode_value",
    "format_graph",
    "format_node",
    "format_value",
    "freeze",
    "graph_device",
    "graph_env",
    "in_order",
    "infer",
    "infer_outs",
    "interpret",
    "live_values",
    "make_attrs",
    "respec",
    "set_tracer",
    "spec_args",
    "substitute",
    "thaw",
    "toposort",
    "trace_function",
    "users",
    "value_specs",
]
