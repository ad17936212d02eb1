"""Load a model through bench's adapter and check it on a small periodic cell (JSON to stdout).

Usage: python check_model.py MODEL_KEY CHECKPOINT [DTYPE]
Prints energy (eV), forces (eV/Å), stress (eV/Å³), and central finite-difference forces
(h = 1e-3 Å in float64, 1e-2 Å otherwise) for the first three atoms, and the largest difference
(eV/Å) between batched and one-by-one forces on four cells, computed in this interpreter.
"""

import json
import sys
import warnings

import numpy as np
from ase.build import bulk

warnings.simplefilter("ignore")

from bench.models import load_model  # noqa: E402

key, checkpoint = sys.argv[1], sys.argv[2]
dtype = sys.argv[3] if len(sys.argv) > 3 else None
model = load_model(key, checkpoint=checkpoint, dtype=dtype)
atoms = bulk("NaCl", "rocksalt", a=5.64) * (2, 1, 1)
atoms.rattle(0.05, seed=1)
atoms.calc = model.calculator
energy = float(atoms.get_potential_energy())
forces = atoms.get_forces()
stress = atoms.get_stress()
# float32 energies carry ~1e-6 relative noise: a larger step keeps the difference above it
h, fd = (1e-3 if model.dtype == "float64" else 1e-2), np.zeros((3, 3))
for i in range(3):
    for k in range(3):
        plus, minus = atoms.copy(), atoms.copy()
        plus.positions[i, k] += h
        minus.positions[i, k] -= h
        plus.calc = minus.calc = model.calculator
        fd[i, k] = -(plus.get_potential_energy() - minus.get_potential_energy()) / (2 * h)
# batched vs one-by-one forces on four cells of 8-64 atoms (when the adapter batches)
cells = []
for seed, rep in enumerate([(2, 1, 1), (2, 2, 1), (1, 1, 1), (2, 2, 2)]):
    cell = bulk("NaCl", "rocksalt", a=5.64) * rep
    cell.rattle(0.05, seed=seed)
    cells.append(cell)
batch_diff = None
if model.batch_forces is not None:
    batched, single = model.forces(cells, batch=True), model.forces(cells, batch=False)
    batch_diff = max(float(np.abs(a - b).max()) for a, b in zip(batched, single, strict=True))
out = {
    "dtype": model.dtype,
    "checkpoint": model.checkpoint,
    "n_atoms": len(atoms),
    "energy": energy,
    "forces": forces.tolist(),
    "stress": stress.tolist(),
    "fd_forces": fd.tolist(),
    "fd_step": h,
    "batch_max_diff": batch_diff,
}
print("BENCH-JSON " + json.dumps(out))
