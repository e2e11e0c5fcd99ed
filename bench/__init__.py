"""Benchmarks: each script prints figures beside a baseline from the same run (not tests)."""
