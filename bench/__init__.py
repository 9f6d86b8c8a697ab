"""Benchmarks behind `make bench`: fan-out, API under load and log download, on a local one-node lab."""
