"""Speed benchmarks (``bench speed ...``): forward passes, pipelines, batching, MatCalc timing."""
