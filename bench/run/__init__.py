"""Running benchmarks: the store, committed records, manifests, the runner and its executors."""
