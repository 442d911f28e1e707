"""What the demo, the tests and the benchmarks make their data with; not imported by
``import gfp_mmaction``."""
