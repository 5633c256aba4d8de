"""Heads that map frozen features to labels."""

from __future__ import annotations

from torch import Tensor, nn


class LinearHead(nn.Module):
    """A linear classifier on pooled features, optionally standardised by a non-affine BatchNorm first."""

    def __init__(self, in_dim: int, num_classes: int, normalize: bool = True) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(in_dim, affine=False) if normalize else nn.Identity()
        self.linear = nn.Linear(in_dim, num_classes)

    def forward(self, features: Tensor) -> Tensor:
        return self.linear(self.norm(features))
