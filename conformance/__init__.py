"""Conformance against the real ttnn wheel (ground truth): see client.py, oracle.py, FINDINGS.md."""
