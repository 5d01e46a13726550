"""Graph passes: pure `(Graph, PassContext) -> Graph` functions run in order by `run_pipeline`.

The pipeline is the literal list `PIPELINE` in ttfuse/passes/pipeline.py. See that module for the pass
manager (per-pass timing, verify-after-each, disabling by name, reproducers on failure).
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
