"""Benchmarks of genq against peers, run in one go by ``python -m bench.run``."""
