"""Benchmarks: speed and memory targets, measured side by side (see README)."""
