"""Benchmarks (not timed tests): run them by hand or in a scheduled job."""
