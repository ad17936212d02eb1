"""Load a model through bench's adapter and check it on a small periodic cell (JSON to stdout).

Usage: python check_model.py MODEL_KEY CHECKPOINT|- [DTYPE]   (``-``: the packaged weights)
Prints energy (eV), forces (eV/Å), stress (eV/Å³, Voigt), central finite-difference forces
(h = 1e-3 Å in float64, 1e-2 Å otherwise) for the first three atoms, finite-difference stress
(1/V) dE/dε for xx and xy (strain step 1e-4 in float64, 1e-3 otherwise), the dtype of the
torch parameters the calculator holds, and the largest difference (eV/Å) between batched and
one-by-one forces on four cells, computed in this interpreter. tests/contract.py asserts.
"""

import json
import sys
import warnings

import numpy as np
from ase.build import bulk

warnings.simplefilter("ignore")

from bench.models import load_model  # noqa: E402

key, checkpoint = sys.argv[1], (None if sys.argv[2] == "-" else sys.argv[2])
dtype = sys.argv[3] if len(sys.argv) > 3 else None
model = load_model(key, checkpoint=checkpoint, dtype=dtype)


def cell(rep: tuple[int, int, int], seed: int):
    """A rattled rock-salt NaCl supercell (EMT: CuAu on an fcc lattice, its elements)."""
    if model.key == "emt":
        atoms = bulk("Cu", "fcc", a=3.75, cubic=True) * rep
        atoms.symbols[::3] = "Au"
    else:
        atoms = bulk("NaCl", "rocksalt", a=5.64) * rep
    atoms.rattle(0.05, seed=seed)
    return atoms


atoms = cell((2, 1, 1), 1)
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


def strained_energy(voigt: int, eps: float) -> float:
    """Energy (eV) after a symmetric strain ``eps`` of one Voigt component (xx: 0, xy: 5)."""
    i, j = [(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)][voigt]
    strain = np.eye(3)
    strain[i, j] += eps
    strain[j, i] += eps if i != j else 0.0
    strained = atoms.copy()
    strained.set_cell(atoms.cell.array @ strain, scale_atoms=True)
    strained.calc = model.calculator
    return float(strained.get_potential_energy())


# stress = (1/V) dE/dε; a shear strain eps on both xy and yx moves the energy by 2 V σ_xy eps
d, volume = (1e-4 if model.dtype == "float64" else 1e-3), atoms.get_volume()
fd_stress = {
    v: (strained_energy(v, d) - strained_energy(v, -d)) / (2 * d * volume * (2 if v > 2 else 1))
    for v in (0, 5)
}


def torch_dtype(obj: object, depth: int = 3) -> str | None:
    """dtype of the first torch module's parameters found in ``obj``'s attributes."""
    try:
        import torch
    except ImportError:
        return None
    if isinstance(obj, torch.nn.Module):
        param = next(obj.parameters(), None)
        return None if param is None else str(param.dtype).removeprefix("torch.")
    if depth == 0:
        return None
    values = obj if isinstance(obj, list | tuple) else getattr(obj, "__dict__", {}).values()
    for value in values:
        found = torch_dtype(value, depth - 1)
        if found:
            return found
    return None


# batched vs one-by-one forces on four cells of 8-64 atoms (when the adapter batches)
cells = []
for seed, rep in enumerate([(2, 1, 1), (2, 2, 1), (1, 1, 1), (2, 2, 2)]):
    cells.append(cell(rep, seed))
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
    "fd_stress": {str(v): x for v, x in fd_stress.items()},
    "param_dtype": torch_dtype(model.calculator),
    "batch_max_diff": batch_diff,
}
print("BENCH-JSON " + json.dumps(out))
