"""The physics each task calls: relaxation, phonons, elastic tensors, equivariance, supercells."""
