"""Benchmarks: the pipeline against the TFRS tutorial notebook."""
