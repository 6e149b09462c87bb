"""Benchmark of the passage index: build, load, memory and query latency against rank-bm25."""
