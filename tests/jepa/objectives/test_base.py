"""What every objective shares: AdamW's parameter groups and their scheduled weight decay."""

from __future__ import annotations

import torch
from torch import nn

from jepa.config import OptimConfig
from jepa.objectives.base import apply_schedules, param_groups


def test_biases_and_norms_are_decayed_only_when_asked():
    model = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.Linear(8, 2))
    matrices = {id(model[0].weight), id(model[2].weight)}
    official, decay_all = param_groups([model]), param_groups([model], decay_1d=True)
    assert {id(p) for p in official[0]["params"]} == matrices
    assert len(official[1]["params"]) == 4 and official[1]["weight_decay"] == 0.0
    assert len(decay_all[0]["params"]) == 6 and decay_all[1]["params"] == []
    optimizer = torch.optim.AdamW(decay_all, lr=1e-3)
    cfg = OptimConfig(weight_decay=0.05, final_weight_decay=0.05, decay_1d_params=True)
    apply_schedules(optimizer, cfg, step=10, total=100)
    assert optimizer.param_groups[0]["weight_decay"] == 0.05  # the norms' weights now shrink with the matrices
    before = model[1].weight.detach().clone()
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    optimizer.step()
    torch.testing.assert_close(model[1].weight.detach(), before * (1 - 1e-3 * 0.05))
