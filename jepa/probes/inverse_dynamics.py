"""The inverse-dynamics probe: how well a frozen encoder's tokens of two consecutive frames give the action taken
between them. A grid of :class:`predictors.heads.InverseDynamicsHead` regressors is trained with the mean squared
error; the best on held-out training episodes is scored on the validation episodes (R² and error per action
dimension)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader

from jepa.probes.attentive import fit_and_choose, make_heads
from jepa.config import InverseDynamicsProbeConfig
from jepa.probes.heads import HeadResult
from predictors.heads import InverseDynamicsHead
from predictors.world_model import frame_tokens


class PairHead(nn.Module):
    """An inverse-dynamics head reading a pair's tokens side by side ``[B, 2N, D]``."""

    def __init__(self, head: InverseDynamicsHead) -> None:
        super().__init__()
        self.head = head

    def forward(self, tokens: Tensor) -> Tensor:
        return self.head(*tokens.chunk(2, dim=1))


def r2_score(pred: Tensor, target: Tensor) -> Tensor:
    """Coefficient of determination per action dimension, ``[A]``."""
    return 1 - ((pred - target) ** 2).sum(0) / ((target - target.mean(0)) ** 2).sum(0).clamp(min=1e-12)


def fit_inverse_dynamics(encoder: nn.Module, loaders: dict[str, DataLoader], action_dim: int,
                         cfg: InverseDynamicsProbeConfig, device: torch.device,
                         seed: int = 0) -> tuple[list[HeadResult], Tensor, Tensor]:  # fmt: skip
    """Train the grid's heads on ``loaders["train"]``, choose by R² on ``loaders["holdout"]``; returns every head's
    result and the best head's predictions ``[N, A]`` on ``loaders["val"]`` with the true actions."""
    torch.manual_seed(seed)
    grid = [(lr, wd) for lr in cfg.lrs for wd in cfg.weight_decays]
    num_heads = cfg.num_heads or encoder.num_heads
    heads = make_heads(grid, lambda: PairHead(InverseDynamicsHead(encoder.embed_dim, action_dim, num_heads,
                                                                  cfg.num_probe_blocks)))  # fmt: skip
    encoder.eval()

    @torch.no_grad()
    def encode(group: dict[str, Any]) -> Tensor:
        return frame_tokens(encoder, group["inputs"].to(device)).flatten(1, 2)[None]

    def score(outputs: Tensor, actions: Tensor) -> float:
        return r2_score(outputs[0], actions.float()).mean().item()

    results, _, val, actions = fit_and_choose(heads, grid, encode, lambda out, y: F.mse_loss(out, y.float()), score,
                                              loaders, cfg.epochs, device)  # fmt: skip
    return results, val[0], actions.float()
