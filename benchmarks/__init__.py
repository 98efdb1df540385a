"""Benchmarks for mma_qt; run ``python -m benchmarks.streams --help``."""
