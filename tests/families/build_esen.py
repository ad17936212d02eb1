"""Random-weight eSEN checkpoint in the fairchem v1 format of eSEN-30M-OAM (small sizes).

Usage: python build_esen.py OUT.pt   (in the fairchem environment)
Builds fairchem's own ``hydra`` model with an ``esen_backbone`` (conserving: forces and stress
from the energy gradient, as eSEN-30M-OAM) and the ``esen_mlp_efs_head``, with small channel
counts, and saves it the way fairchem's trainer saves checkpoints (``config`` +
``state_dict`` + ``normalizers``), so ``OCPCalculator(checkpoint_path=...)`` rebuilds the same
architecture from the config and loads the weights strictly.
"""

import sys

import torch
from fairchem.core.common.registry import registry
from fairchem.core.common.utils import setup_imports

torch.manual_seed(0)
setup_imports()
backbone = {
    "model": "esen_backbone",
    "max_num_elements": 100,
    "sphere_channels": 16,
    "lmax": 2,
    "mmax": 2,
    "otf_graph": True,
    "max_neighbors": 30,
    "use_pbc": True,
    "cutoff": 6.0,
    "edge_channels": 16,
    "distance_function": "gaussian",
    "num_distance_basis": 16,
    "direct_forces": False,
    "regress_forces": True,
    "regress_stress": True,
    "num_layers": 2,
    "hidden_channels": 16,
    "norm_type": "rms_norm_sh",
    "act_type": "gate",
    "mlp_type": "spectral",
}
model_config = {
    "name": "hydra",
    "backbone": backbone,
    "heads": {"efs": {"module": "esen_mlp_efs_head"}},
    "otf_graph": True,
    "pass_through_head_outputs": True,
}
config = {
    "trainer": "ocp",
    "model": model_config,
    "dataset": {"format": "ase_db", "src": "unused"},
    "task": {},
    "outputs": {
        "energy": {"level": "system", "property": "energy"},
        "forces": {"level": "atom", "property": "forces", "eval_on_free_atoms": True},
        "stress": {"level": "system", "property": "stress"},
    },
    "loss_functions": [
        {"energy": {"fn": "per_atom_mae", "coefficient": 1}},
        {"forces": {"fn": "l2mae", "coefficient": 1}},
        {"stress": {"fn": "mae", "coefficient": 1}},
    ],
    "evaluation_metrics": {"primary_metric": "energy_mae", "metrics": {"energy": ["mae"]}},
    "optim": {"batch_size": 1, "eval_batch_size": 1, "num_workers": 0, "max_epochs": 1},
}
kwargs = {k: v for k, v in model_config.items() if k != "name"}
model = registry.get_model_class("hydra")(**kwargs)
# the constructor's random init, with learnable weights nudged off zero (some output layers
# start at zero) so forces are not trivially zero; buffers (rotation grids, coefficients) kept
state = model.state_dict()
for name, parameter in model.named_parameters():
    state[name] = parameter.detach() + 0.1 * torch.randn_like(parameter)
torch.save(
    {"config": config, "state_dict": state, "normalizers": {}, "epoch": 0, "step": 0},
    sys.argv[1],
)
