"""What every profiler output says about its durations."""

PREDICTED_NOTE = "predicted by the ttfuse cost model (ttfuse/passes/cost.py), not measured"
