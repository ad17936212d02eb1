"""bench: property benchmarks (phonons, elasticity) for machine-learning interatomic potentials."""

__version__ = "0.1.0"
