"""Benchmarks that print ratios measured side by side in one run (see bench/_common.py)."""
