"""Random-weight Orb-v3 checkpoint (state dict) from orb-models' own architecture.

Usage: python build_orb.py {direct|conservative} OUT.ckpt
The loaders (pretrained.orb_v3_*_20_omat) load this strictly, as they load the released file.
"""

import sys

import torch
from orb_models.forcefield import pretrained
from orb_models.forcefield.atomic_system import SystemConfig

torch.manual_seed(0)
kind, out = sys.argv[1], sys.argv[2]
build = {
    "direct": pretrained.orb_v3_direct_architecture,
    "conservative": pretrained.orb_v3_conservative_architecture,
}[kind]
model = build(system_config=SystemConfig(radius=6.0, max_num_neighbors=20))
torch.save(model.state_dict(), out)
