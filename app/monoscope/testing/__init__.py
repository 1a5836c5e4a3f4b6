"""Helpers for tests and benchmarks (a small synthetic study); left out of the wheel and the bundle."""
