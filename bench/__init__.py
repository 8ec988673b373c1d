"""Benchmarks of orderstream; see bench/README.md."""
