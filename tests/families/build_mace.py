"""Random-weight MACE checkpoint from mace-torch's own constructor (run in the mace env).

Usage: python build_mace.py OUT.model
"""

import sys

import numpy as np
import torch

# mace first: it allow-lists what e3nn 0.4.4's torch.load of its constants needs (torch>=2.6)
import mace.modules as modules  # isort: skip
from e3nn import o3  # isort: skip

torch.manual_seed(0)
zs = list(range(1, 90))
model = modules.ScaleShiftMACE(
    r_max=5.0,
    num_bessel=8,
    num_polynomial_cutoff=6,
    max_ell=2,
    interaction_cls=modules.interaction_classes["RealAgnosticResidualInteractionBlock"],
    interaction_cls_first=modules.interaction_classes["RealAgnosticResidualInteractionBlock"],
    num_interactions=2,
    num_elements=len(zs),
    hidden_irreps=o3.Irreps("8x0e + 8x1o"),
    MLP_irreps=o3.Irreps("8x0e"),
    gate=torch.nn.functional.silu,
    atomic_energies=np.full(len(zs), -1.0),
    avg_num_neighbors=20.0,
    atomic_numbers=zs,
    correlation=2,
    radial_type="bessel",
    atomic_inter_scale=1.0,
    atomic_inter_shift=0.0,
)
torch.save(model, sys.argv[1])
