"""Benchmarks: a dataset generator and a runner comparing todochat with the driver and others."""
