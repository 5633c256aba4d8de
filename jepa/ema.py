"""Exponential moving average of the online encoder's weights into the target encoder."""

from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def ema_update(target: nn.Module, online: nn.Module, momentum: float) -> None:
    """``target ← momentum * target + (1 - momentum) * online``, parameter by parameter (buffers untouched)."""
    target_params = list(target.parameters())
    online_params = list(online.parameters())
    if len(target_params) != len(online_params):
        raise ValueError("target and online modules have different parameters")
    torch._foreach_lerp_(target_params, online_params, 1.0 - momentum)
