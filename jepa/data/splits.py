"""The seeded split of a training set into what probe heads train on and what chooses among them."""

from __future__ import annotations

import torch


def holdout_split(count: int, fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Indices of ``count`` training items: those to train on, and a seeded ``fraction`` (at least one) held out
    to choose a head on. A ``ValueError`` when none would be left to train on."""
    order = torch.randperm(count, generator=torch.Generator().manual_seed(seed)).tolist()
    held = max(1, round(count * fraction))
    if count - held < 1:
        raise ValueError(f"{count} training items leave none to train on after holding out {held} to choose a head")
    return order[held:], order[:held]
