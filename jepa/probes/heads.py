"""Frozen-encoder evaluation: linear heads over a grid of learning rates and weight decays trained together on
cached features (the best on a held-out part of train is reported on the evaluation split), and kNN.

The grid follows vjepa2's evaluations (5 learning rates × 4 weight decays, 20 heads in one pass).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from jepa.data.splits import holdout_split


@dataclass
class HeadResult:
    """One probe head: its settings and its score on the held-out part of train (top-1; action recall@5 for the
    anticipation probe)."""

    lr: float
    weight_decay: float
    holdout_score: float


def topk_accuracy(scores: Tensor, labels: Tensor, k: int) -> float:
    """Fraction of rows whose label is among the ``k`` highest scores."""
    k = min(k, scores.shape[1])
    return float((scores.topk(k, dim=1).indices == labels[:, None]).any(1).float().mean())


def split_holdout(labels: Tensor, fraction: float, seed: int) -> tuple[Tensor, Tensor]:
    """Indices of a seeded ``1 - fraction`` / ``fraction`` split of the training set, for choosing a head."""
    fit, held = holdout_split(len(labels), fraction, seed)
    return torch.tensor(fit, dtype=torch.int64), torch.tensor(held, dtype=torch.int64)


class LinearHeads(nn.Module):
    """``H`` linear heads evaluated together: ``[B, D] → [H, B, C]`` (one parameter pair per head, so each head can
    have its own learning rate and weight decay)."""

    def __init__(self, num_heads: int, in_dim: int, num_classes: int) -> None:
        super().__init__()
        bound = 1 / math.sqrt(in_dim)
        self.weights = nn.ParameterList(nn.Parameter(torch.empty(in_dim, num_classes).uniform_(-bound, bound))
                                        for _ in range(num_heads))  # fmt: skip
        self.biases = nn.ParameterList(nn.Parameter(torch.zeros(num_classes)) for _ in range(num_heads))

    def forward(self, x: Tensor) -> Tensor:
        weight, bias = torch.stack(list(self.weights)), torch.stack(list(self.biases))
        return torch.einsum("bd,hdc->hbc", x, weight) + bias[:, None]


def fit_linear_heads(
    x: Tensor,
    y: Tensor,
    val_x: Tensor,
    val_y: Tensor,
    num_classes: int,
    lrs: list[float],
    weight_decays: list[float],
    epochs: int = 100,
    batch_size: int = 64,
    seed: int = 0,
) -> tuple[LinearHeads, list[HeadResult], Tensor, Tensor]:
    """Train one linear head per (lr, weight decay) on standardised features with AdamW and a cosine schedule, all
    in one pass over the data. Returns the heads, their results, and the standardisation (mean, std)."""
    torch.manual_seed(seed)
    mean, std = x.mean(0), x.std(0).clamp(min=1e-6)
    x, val_x = (x - mean) / std, (val_x - mean) / std
    grid = [(lr, wd) for lr in lrs for wd in weight_decays]
    heads = LinearHeads(len(grid), x.shape[1], num_classes)
    optimizer = torch.optim.AdamW([{"params": [w, b], "lr": lr, "weight_decay": wd}
                                   for w, b, (lr, wd) in zip(heads.weights, heads.biases, grid)])  # fmt: skip
    steps = epochs * math.ceil(len(x) / batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    for _ in range(epochs):
        for batch in torch.randperm(len(x)).split(batch_size):
            logits = heads(x[batch])  # [H, B, C]; the sum over heads of each head's mean loss
            loss = F.cross_entropy(logits.flatten(0, 1), y[batch].repeat(len(grid))) * len(grid)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
    with torch.no_grad():
        scores = heads(val_x)
        results = [HeadResult(lr, wd, topk_accuracy(scores[i], val_y, 1)) for i, (lr, wd) in enumerate(grid)]
    return heads, results, mean, std


def knn_scores(train_x: Tensor, train_y: Tensor, query: Tensor, num_classes: int, k: int = 20,
               temperature: float = 0.07) -> Tensor:  # fmt: skip
    """Class votes ``[N, C]`` of a weighted kNN over ``train`` (cosine similarity, weights ``exp(sim / T)``)."""
    train_n, query_n = F.normalize(train_x.float(), dim=1), F.normalize(query.float(), dim=1)
    sims, idx = (query_n @ train_n.T).topk(min(k, len(train_y)), dim=1)
    votes = torch.zeros(len(query), num_classes)
    return votes.scatter_add_(1, train_y[idx], (sims / temperature).exp())


def confusion_matrix(predicted: Tensor, labels: Tensor, num_classes: int) -> np.ndarray:
    """Counts ``[true, predicted]``."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (labels.numpy(), predicted.numpy()), 1)
    return matrix


def plot_report(path: Path, title: str, heads: list[HeadResult] | None, confusion: np.ndarray,
                score_name: str = "top-1", class_name: str = "class") -> None:  # fmt: skip
    """A PNG: every head's ``score_name`` on held-out train (when there are heads) and the confusion matrix (of
    ``class_name``) on the evaluation split."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = 2 if heads else 1
    fig, axes = plt.subplots(1, panels, figsize=(6 * panels, 5), squeeze=False)
    if heads:
        ax = axes[0, 0]
        ax.bar(range(len(heads)), [h.holdout_score for h in heads], color="tab:blue")
        ax.set_xticks(range(len(heads)), [f"{h.lr:g}\n{h.weight_decay:g}" for h in heads], fontsize=6)
        ax.set_xlabel("head: learning rate / weight decay")
        ax.set_ylabel(f"{score_name} on held-out train")
        ax.set_title("probe heads")
    ax = axes[0, -1]
    normed = confusion / np.maximum(confusion.sum(1, keepdims=True), 1)
    ax.imshow(normed, cmap="Blues", vmin=0, vmax=1)
    if len(confusion) <= 30:
        ax.set_xticks(range(len(confusion)))
        ax.set_yticks(range(len(confusion)))
    ax.set_xlabel(f"predicted {class_name}")
    ax.set_ylabel(f"true {class_name}")
    ax.set_title("confusion on the evaluation split (row-normalised)")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_regression(path: Path, title: str, pred: Tensor, target: Tensor) -> None:
    """A PNG with one panel per output dimension: predicted against true values on the evaluation split."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dims = target.shape[1]
    fig, axes = plt.subplots(1, dims, figsize=(4.5 * dims, 4.5), squeeze=False)
    for d, ax in enumerate(axes[0]):
        ax.scatter(target[:, d].numpy(), pred[:, d].numpy(), s=4, alpha=0.4)
        low, high = float(target[:, d].min()), float(target[:, d].max())
        ax.plot([low, high], [low, high], color="black", linewidth=0.8)
        ax.set_xlabel(f"true action[{d}]")
        ax.set_ylabel(f"predicted action[{d}]")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
