"""Graph passes: pure `(Graph, PassContext) -> Graph` functions run in order by `run_pipeline`.

The pipeline is the literal list `PIPELINE` in ttfuse/passes/pipeline.py. See that module for the pass
manager (per-pass timing, verify-after-each, disabling by name, reproducers on failure).

Recipe: a new pass touches 2 files (plus its test): ttfuse/passes/<name>.py with `def <name>(graph, ctx) ->
Graph` (pure; a docstring with pre- and postconditions; it reads ops through `node.opdef.traits`, never by op
name tables or getattr), and ttfuse/passes/pipeline.py: one commented line in `PIPELINE` and a bump of
`PIPELINE_VERSION`. Test it in tests/passes/test_<name>.py, one rule at a time.
"""

from ttfuse.passes.pipeline import (
    PIPELINE,
    PIPELINE_VERSION,
    CostReport,
    PassContext,
    PassOptions,
    PassRecord,
    cost_report,
    run_pipeline,
)

__all__ = [
    "PIPELINE",
    "PIPELINE_VERSION",
    "CostReport",
    "PassContext",
    "PassOptions",
    "PassRecord",
    "cost_report",
    "run_pipeline",
]
