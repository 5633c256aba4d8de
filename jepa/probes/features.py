"""Frozen-feature probes: mean-pooled encoder features → a linear classifier, and a callback that compares the
encoder at the start of training with the encoder at the end."""

from __future__ import annotations

import copy
import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback
from rich.progress import track
from torch import nn
from torch.utils.data import DataLoader


@torch.no_grad()
def extract_features(
    encoder: nn.Module, loader: DataLoader, device: torch.device, desc: str = "features"
) -> tuple[np.ndarray, np.ndarray]:
    """Mean-pooled encoder outputs ``[N, D]`` and labels ``[N]`` of every batch (and clip-length group) of
    ``loader``."""
    was_training = encoder.training
    encoder.eval()
    feats, labels = [], []
    for batch in track(loader, description=desc, transient=True):
        for group in batch["groups"]:
            feats.append(encoder(group["inputs"].to(device)).float().mean(dim=1).cpu())
            labels.append(group["labels"])
    encoder.train(was_training)
    return torch.cat(feats).numpy(), torch.cat(labels).numpy()


def source_fingerprint(source: str) -> str:
    """What identifies a pretrained source's weights: its path with size and modification time (a folder: of its
    files), or the name itself (a registry name)."""
    path = Path(source).expanduser()
    files = sorted(f for f in path.rglob("*") if f.is_file()) if path.is_dir() else [path] if path.exists() else []
    return json.dumps([source] + [[str(f), f.stat().st_size, f.stat().st_mtime_ns] for f in files])


def cached_features(
    cache_dir: Path | None, key: str, compute: Callable[[], tuple[np.ndarray, np.ndarray]]
) -> tuple[np.ndarray, np.ndarray]:
    """``compute()`` (features, labels), kept in ``cache_dir`` under a hash of ``key`` and read back from there the
    next time (``None``: no cache)."""
    if cache_dir is None:
        return compute()
    path = cache_dir / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.npz"
    if path.is_file():
        with np.load(path) as cached:
            return cached["features"], cached["labels"]
    features, labels = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path.with_suffix(".tmp.npz"), features=features, labels=labels)
    path.with_suffix(".tmp.npz").replace(path)
    return features, labels


def linear_probe_top1(
    train: tuple[np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray], per_class: int | None = None
) -> float:
    """Top-1 accuracy on ``val`` of a multinomial logistic regression fitted on standardised ``train`` features
    (only the first ``per_class`` examples of each class when given: a low-shot probe)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = train
    if per_class is not None:
        keep = np.concatenate([np.flatnonzero(y == c)[:per_class] for c in np.unique(y)])
        x, y = x[keep], y[keep]
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    clf.fit(x, y)
    return float(clf.score(*val))


def knn_top1(
    train: tuple[np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray], k: int = 20, temperature: float = 0.07
) -> float:
    """Top-1 on ``val`` of a weighted kNN vote over ``train`` (cosine similarity, weights ``exp(sim / T)``)."""
    from jepa.probes.heads import knn_scores

    train_y = torch.from_numpy(train[1]).long()
    votes = knn_scores(torch.from_numpy(train[0]), train_y, torch.from_numpy(val[0]), int(train_y.max()) + 1, k,
                       temperature)  # fmt: skip
    return float((votes.argmax(1).numpy() == val[1]).mean())


PROBE_NAMES = {"probe": "linear probe (all labels)", "probe10": "linear probe (10 labels/class)", "knn": "kNN (k=20)"}


class StartEndProbes(Callback):
    """Fits linear probes (all labels, and 10 labels per class) and a kNN classifier on the frozen features of the
    objective's ``feature_encoder`` at the start of fitting (random init, for a fresh run) and at the end, and on
    the raw pixels; prints the three side by side, and what the pretraining cost, and keeps them in ``results``
    (``probe_top1_pixels``, ``probe_top1_start``, ``knn_top1_end``, ``pretraining_seconds``, ...)."""

    def __init__(self) -> None:
        self.start_state: dict[str, Any] | None = None
        self.start_step = 0
        self.started = 0.0
        self.results: dict[str, float] = {}

    def on_load_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]) -> None:
        self.start_step = int(checkpoint.get("global_step", 0))  # on_fit_start comes before the step is restored

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.start_state = copy.deepcopy(pl_module.feature_encoder.state_dict())
        self.started = time.perf_counter()

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        from encoders.pixels import PixelEncoder

        if self.start_state is None or not trainer.is_global_zero:
            return
        seconds, steps = time.perf_counter() - self.started, trainer.global_step - self.start_step
        self.results["pretraining_seconds"] = round(seconds, 1)
        per_step = f" ({seconds / steps:.2f} s a step)" if steps else ""
        print(f"pretraining: {steps} steps in {seconds:.0f} s{per_step}")
        loaders = trainer.datamodule.probe_dataloaders()
        end_encoder = pl_module.feature_encoder
        start_encoder = copy.deepcopy(end_encoder)
        start_encoder.load_state_dict(self.start_state)
        encoders = [("pixels", PixelEncoder(end_encoder.img_size[0]), None), ("start", start_encoder, self.start_step),
                    ("end", end_encoder, trainer.global_step)]  # fmt: skip
        if not steps:  # a resumed run with nothing left to train: its weights are the end, not a start
            print(f"nothing left to train: the checkpoint is at step {trainer.global_step}; probing its encoder")
            del encoders[1]
        for label, encoder, step in encoders:
            feats = {split: extract_features(encoder, loader, pl_module.device, f"probe features ({label}, {split})")
                     for split, loader in loaders.items()}  # fmt: skip
            self.results[f"probe_top1_{label}"] = linear_probe_top1(feats["train"], feats["val"])
            self.results[f"probe10_top1_{label}"] = linear_probe_top1(feats["train"], feats["val"], per_class=10)
            self.results[f"knn_top1_{label}"] = knn_top1(feats["train"], feats["val"])
            if step is not None:
                self.results[f"probe_step_{label}"] = step
        names = {"pixels": "raw pixels", "start": f"step {self.start_step}" + (" (random init)" if self.start_step == 0
                 else ""), "end": f"step {trainer.global_step}"}  # fmt: skip
        labels = [label for label, _, _ in encoders]
        width = {"pixels": 12, "start": 22, "end": 12}
        print("frozen features, top-1 on val    " + "  ".join(f"{names[k]:>{width[k]}}" for k in labels))
        for probe, name in PROBE_NAMES.items():
            print(f"  {name:<30} " + "  ".join(f"{self.results[f'{probe}_top1_{k}']:>{width[k]}.3f}" for k in labels))
