"""Attentive probes on a frozen encoder, as in V-JEPA / V-JEPA 2's frozen evaluations.

Every (learning rate, weight decay) of a grid trains its own probe head on the same encoder outputs, in one pass
over the data; the best on held-out training samples is reported. A sample's clips (temporal segments) are encoded
one by one and their tokens concatenated, so the probe attends across segments; each spatial view is classified on
its own and the views' softmax averaged.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from rich.progress import track
from torch import Tensor, nn
from torch.utils.data import DataLoader

from jepa.config import AttentiveProbeConfig
from jepa.probes.heads import HeadResult, topk_accuracy
from predictors.heads import AttentiveClassifier


def as_segment_views(inputs: Tensor, image_frames: int | None) -> Tensor:
    """``[B, S, V, 3, T, H, W]`` as it is; images ``[B, 3, H, W]`` as one segment and view, repeated to
    ``image_frames`` frames when given (a video encoder sees an image as a still clip)."""
    if inputs.ndim == 7:
        return inputs
    if inputs.ndim != 4:
        raise ValueError(f"expected images [B, 3, H, W] or clips [B, S, V, 3, T, H, W], got {tuple(inputs.shape)}")
    if image_frames is not None:
        inputs = inputs.unsqueeze(2).expand(-1, -1, image_frames, -1, -1)
    return inputs[:, None, None]


@torch.no_grad()
def encode_views(encoder: nn.Module, inputs: Tensor, image_frames: int | None = None) -> Tensor:
    """Frozen tokens ``[V, B, S * N, D]``: each clip encoded alone, the ``S`` clips of a view concatenated."""
    clips = as_segment_views(inputs, image_frames)
    batch, segments, views = clips.shape[:3]
    tokens = encoder(clips.permute(2, 1, 0, *range(3, clips.ndim)).flatten(0, 2))
    tokens = tokens.view(views, segments, batch, *tokens.shape[1:])
    return tokens.transpose(1, 2).flatten(2, 3)


def make_heads(grid: Sequence[tuple[float, float]], make: Callable[[], nn.Module]) -> nn.ModuleList:
    """One freshly made probe head per (learning rate, weight decay) of ``grid``."""
    return nn.ModuleList(make() for _ in grid)


def _autocast(device: torch.device) -> Any:
    return torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext()


def _groups(loader: DataLoader, desc: str) -> Iterator[dict[str, Any]]:
    """The collated groups of every batch, with a warning for each unreadable file a sample skipped."""
    for batch in track(loader, description=desc, transient=True):
        for path, reason in batch.get("skipped", []):
            warnings.warn(f"skipping unreadable video {path}: {reason}", stacklevel=2)
        yield from batch["groups"]


def train_heads(
    heads: nn.ModuleList,
    grid: Sequence[tuple[float, float]],
    encode: Callable[[dict[str, Any]], Tensor],
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    loader: DataLoader,
    epochs: int,
    device: torch.device,
) -> None:
    """Train head ``i`` with AdamW at ``grid[i]`` (learning rate, weight decay), the learning rate decaying to 0 on
    a cosine over all steps (no warmup: the official grid). ``encode(group)`` gives the frozen tokens
    ``[V, B, N, D]`` of a collated group (``inputs``, ``labels``, ...) on ``device``;
    ``loss_fn(outputs [B, C], labels)`` is summed over views and heads (each head's gradient is its own)."""
    optimizer = torch.optim.AdamW([{"params": list(h.parameters()), "lr": lr, "weight_decay": wd}
                                   for h, (lr, wd) in zip(heads, grid)])  # fmt: skip
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, max(1, epochs * len(loader)))
    heads.to(device)
    for epoch in range(epochs):
        heads.train()
        for group in _groups(loader, f"probe heads: epoch {epoch + 1}/{epochs}"):
            labels = group["labels"].to(device)
            with _autocast(device):
                views = encode(group)
                loss = sum(loss_fn(head(tokens).float(), labels) for tokens in views for head in heads)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
    heads.eval()


@torch.no_grad()
def head_outputs(
    heads: nn.ModuleList,
    encode: Callable[[dict[str, Any]], Tensor],
    loader: DataLoader,
    device: torch.device,
    desc: str,
) -> tuple[Tensor, Tensor]:
    """Every head's outputs on every view, ``[H, V, N, C]``, and the labels ``[N]``."""
    outputs, labels = [], []
    for group in _groups(loader, desc):
        with _autocast(device):
            views = encode(group)
            per_head = [torch.stack([head(tokens) for tokens in views]) for head in heads]
        outputs.append(torch.stack(per_head).float().cpu())
        labels.append(group["labels"])
    return torch.cat(outputs, dim=2), torch.cat(labels)


def fit_and_choose(
    heads: nn.ModuleList,
    grid: Sequence[tuple[float, float]],
    encode: Callable[[dict[str, Any]], Tensor],
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    score_fn: Callable[[Tensor, Tensor], float],
    loaders: dict[str, DataLoader],
    epochs: int,
    device: torch.device,
) -> tuple[list[HeadResult], int, Tensor, Tensor]:
    """Train the heads on ``loaders["train"]``, score each on ``loaders["holdout"]`` with ``score_fn(outputs [V, N,
    C], labels)``; returns the results, the best head's index, and its outputs ``[V, N, C]`` and the labels on
    ``loaders["val"]``."""
    train_heads(heads, grid, encode, loss_fn, loaders["train"], epochs, device)
    held, held_labels = head_outputs(heads, encode, loaders["holdout"], device, "choose a head")
    results = [HeadResult(lr, wd, score_fn(held[i], held_labels)) for i, (lr, wd) in enumerate(grid)]
    best = max(range(len(results)), key=lambda i: results[i].holdout_score)
    val, val_labels = head_outputs(heads[best : best + 1], encode, loaders["val"], device, "evaluate")
    return results, best, val[0], val_labels


def fit_attentive_probe(
    encoder: nn.Module,
    loaders: dict[str, DataLoader],
    num_classes: int,
    cfg: AttentiveProbeConfig,
    device: torch.device,
    seed: int = 0,
) -> tuple[list[HeadResult], AttentiveClassifier, Tensor, Tensor]:
    """Attentive classifiers over ``cfg``'s grid trained with cross-entropy, the best chosen by top-1 on
    ``loaders["holdout"]``; returns every head's result there, the best head, and its class probabilities on
    ``loaders["val"]`` (softmax averaged over views) with the labels."""
    torch.manual_seed(seed)
    grid = [(lr, wd) for lr in cfg.lrs for wd in cfg.weight_decays]
    num_heads = cfg.num_heads or encoder.num_heads
    heads = make_heads(grid, lambda: AttentiveClassifier(encoder.embed_dim, num_heads, cfg.num_probe_blocks,
                                                         num_classes))  # fmt: skip
    image_frames = (cfg.image_frames or encoder.num_frames) if getattr(encoder, "is_video", False) else None
    encoder.eval()

    def encode(group: dict[str, Any]) -> Tensor:
        return encode_views(encoder, group["inputs"].to(device), image_frames)

    def top1(outputs: Tensor, labels: Tensor) -> float:
        return topk_accuracy(outputs.softmax(-1).mean(0), labels, 1)

    results, best, val, labels = fit_and_choose(
        heads, grid, encode, lambda out, y: F.cross_entropy(out, y), top1, loaders, cfg.epochs, device
    )
    return results, heads[best], val.softmax(-1).mean(0), labels


def save_official_probe(head: nn.Module, path: Path, epochs: int) -> None:
    """The head in the layout of the official evaluation checkpoints (``{"classifiers": [state dict with the
    'module.' prefix of DDP]}``), so that official tools and :func:`predictors.pretrained.load_probe` read it."""
    state = {f"module.{k}": v.detach().cpu() for k, v in head.state_dict().items()}
    torch.save({"classifiers": [state], "epoch": epochs}, path)
