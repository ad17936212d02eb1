"""Random-weight SevenNet multi-fidelity checkpoint with the modals of SevenNet-MF-ompa.

Usage: python build_sevenn.py OUT.pth
Takes the architecture (config) of the 7net-mf-0 checkpoint that ships in the sevenn wheel,
draws new random weights with the same shapes, and names the two modals as in 7net-mf-ompa
('mpa', 'omat24'), so bench's sevennet-mf-ompa entry loads it with modal='mpa'.
"""

import sys
from pathlib import Path

import sevenn
import torch

torch.manual_seed(0)
source = next(
    Path(sevenn.__file__).parent.glob("pretrained_potentials/*/checkpoint_sevennet_mf_0.pth")
)
checkpoint = torch.load(source, map_location="cpu", weights_only=False)
# learnable weights only, unit normal like e3nn's init; buffers (Wigner 3j, cutoffs) kept
checkpoint["model_state_dict"] = {
    k: (torch.randn_like(v) if k.endswith(("weight", "bias")) and "w3j" not in k else v)
    for k, v in checkpoint["model_state_dict"].items()
}
config = checkpoint["config"]
config["_modal_map"] = {"omat24": 0, "mpa": 1}
config["modal_list"] = ["omat24", "mpa"]
config["default_modal"] = "mpa"
for key in ("optimizer_state_dict", "scheduler_state_dict"):
    checkpoint[key] = None
torch.save(checkpoint, sys.argv[1])
