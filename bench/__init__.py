"""Benchmarks of orderstream (issue 3); see bench/README.md."""
