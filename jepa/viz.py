"""Pictures of a run: its masks over the real frames, a PCA of patch features as colours, and its curves.

- ``plot_masks``: for a collated training batch, each sample's frames with the context tokens shown and every
  other token dimmed, each target block tinted in its own colour; videos get one column per token time step.
- ``pca_colours``: the first three principal components of many inputs' patch tokens, fitted jointly, as RGB.
- ``plot_pca`` / ``write_pca_gif``: inputs beside their PCA colour maps (a PNG; a GIF over the time steps).
- ``plot_curves``: loss, learning rate, EMA and probe accuracy from a run directory's ``csv/metrics.csv``.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from jepa.data.video_transforms import IMAGENET_MEAN, IMAGENET_STD

TARGET_COLOURS = np.array([(230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180),
                           (70, 240, 240), (240, 50, 230), (210, 245, 60)], dtype=np.float32)  # fmt: skip


def to_uint8(image: Tensor) -> np.ndarray:
    """An ImageNet-normalised ``[3, H, W]`` tensor (or already uint8 pixels) as ``uint8 [H, W, 3]``."""
    if image.dtype == torch.uint8:
        return image.cpu().permute(1, 2, 0).numpy()
    mean, std = torch.tensor(IMAGENET_MEAN)[:, None, None], torch.tensor(IMAGENET_STD)[:, None, None]
    return ((image.float().cpu() * std + mean).clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()


def overlay(image: np.ndarray, patch: int, context: np.ndarray, targets: Sequence[np.ndarray]) -> np.ndarray:
    """``image`` with the cells outside ``context`` (flat indices of its ``H/patch × W/patch`` grid) dimmed and each
    target block tinted in its colour."""
    h, w = image.shape[0] // patch, image.shape[1] // patch
    cells = np.full(h * w, 0.3, dtype=np.float32)
    cells[context] = 1.0
    out = image.astype(np.float32) * np.repeat(np.repeat(cells.reshape(h, w), patch, 0), patch, 1)[..., None]
    for k, block in enumerate(targets):
        tint = np.zeros((h * w, 3), dtype=np.float32)
        tint[block] = TARGET_COLOURS[k % len(TARGET_COLOURS)]
        hit = np.zeros(h * w, dtype=bool)
        hit[block] = True
        pixels = np.repeat(np.repeat(hit.reshape(h, w), patch, 0), patch, 1)
        tint_pixels = np.repeat(np.repeat(tint.reshape(h, w, 3), patch, 0), patch, 1)
        out[pixels] = 0.45 * out[pixels] + 0.55 * tint_pixels[pixels]
    return out.clip(0, 255).astype(np.uint8)


def mask_panels(group: dict[str, Any], patch: int, tubelet: int, samples: int) -> list[list[np.ndarray]]:
    """Rows of panels, one row per (sample, mask set) of a collated group, one panel per token time step."""
    inputs = group["inputs"]
    video = inputs.ndim == 5
    steps = inputs.shape[2] // tubelet if video else 1
    h, w = inputs.shape[-2] // patch, inputs.shape[-1] // patch
    contexts = group["ctx_index"].split(group["ctx_lengths"].tolist())
    targets = group["tgt_index"].split(group["tgt_lengths"].tolist())
    rows = []
    for run, (owner, context) in enumerate(zip(group["ctx_owner"].tolist(), contexts)):
        if owner >= samples:
            break
        blocks = [t.numpy() for t, o in zip(targets, group["tgt_owner"].tolist()) if o == run]
        row = []
        for step in range(steps):
            lo, hi = step * h * w, (step + 1) * h * w
            frame = inputs[owner, :, step * tubelet + tubelet // 2] if video else inputs[owner]
            in_step = lambda idx: idx[(idx >= lo) & (idx < hi)] - lo  # noqa: E731
            row.append(overlay(to_uint8(frame), patch, in_step(context.numpy()), [in_step(b) for b in blocks]))
        rows.append(row)
    return rows


def plot_masks(path: Path, batch: dict[str, Any], patch: int, tubelet: int = 2, samples: int = 4) -> Path:
    """A PNG of the first ``samples`` samples' masks in a collated batch (see :func:`mask_panels`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [row for group in batch["groups"] for row in mask_panels(group, patch, tubelet, samples)]
    cols = max(len(r) for r in rows)
    fig, axes = plt.subplots(len(rows), cols, figsize=(1.6 * cols + 0.4, 1.6 * len(rows)), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    sets = len(rows) // max(1, min(samples, len(rows)))
    for r, row in enumerate(rows):
        for c, panel in enumerate(row):
            axes[r, c].imshow(panel, interpolation="nearest")
        axes[r, 0].set_title(f"sample {r // sets}, mask set {r % sets}" if sets > 1 else f"sample {r}", fontsize=7,
                             loc="left")  # fmt: skip
    fig.suptitle("masks: context bright, other tokens dimmed, each target block in its colour", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def pca_colours(tokens: Sequence[Tensor]) -> list[np.ndarray]:
    """Each input's tokens ``[N, D]`` as RGB ``float [N, 3]`` in ``[0, 1]``: the first three principal components
    of all inputs' tokens together, each stretched between its 1st and 99th percentile."""
    stacked = torch.cat([t.float() for t in tokens])
    if stacked.shape[0] < 3:
        raise ValueError(f"a PCA to 3 colours needs at least 3 tokens, got {stacked.shape[0]}")
    centred = stacked - stacked.mean(0)
    _, _, v = torch.linalg.svd(centred, full_matrices=False)
    components = centred @ v[:3].T
    lo, hi = torch.quantile(components, 0.01, dim=0), torch.quantile(components, 0.99, dim=0)
    rgb = ((components - lo) / (hi - lo).clamp(min=1e-8)).clamp(0, 1).numpy()
    return list(np.split(rgb, np.cumsum([len(t) for t in tokens])[:-1]))


def pca_frames(image: Tensor, colours: np.ndarray, grid: tuple[int, int, int], tubelet: int,
               min_size: int = 160) -> list[np.ndarray]:  # fmt: skip
    """One ``[H, 2W + gap, 3]`` picture per token time step: the input frame, then its PCA colours (both enlarged
    to at least ``min_size`` pixels high)."""
    steps, h, w = grid
    maps = colours.reshape(-1, h, w, 3)[:steps]
    frames = []
    for step, colour in enumerate(maps):
        frame = to_uint8(image[:, step * tubelet + tubelet // 2] if image.ndim == 4 else image)
        scale = max(1, -(-min_size // frame.shape[0]))
        size = (frame.shape[1] * scale, frame.shape[0] * scale)
        frame = np.asarray(Image.fromarray(frame).resize(size, Image.NEAREST))
        big = np.asarray(Image.fromarray((colour * 255).astype(np.uint8)).resize(size, Image.NEAREST))
        gap = np.full((frame.shape[0], 4, 3), 255, dtype=np.uint8)
        frames.append(np.concatenate([frame, gap, big], axis=1))
    return frames


def stack_rows(rows: Sequence[np.ndarray]) -> np.ndarray:
    gap = np.full((4, rows[0].shape[1], 3), 255, dtype=np.uint8)
    return np.concatenate([part for row in rows for part in (row, gap)][:-1], axis=0)


def write_pca(out: Path, inputs: Sequence[Tensor], tokens: Sequence[Tensor], grid: tuple[int, int, int],
              tubelet: int) -> Path:  # fmt: skip
    """Inputs beside their PCA colour maps, one row each: a PNG of the first time step, or (``.gif``) every time
    step as a frame."""
    per_input = [pca_frames(x, c, grid, tubelet) for x, c in zip(inputs, pca_colours(tokens))]
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".gif":
        frames = [Image.fromarray(stack_rows([f[min(t, len(f) - 1)] for f in per_input]))
                  for t in range(max(len(f) for f in per_input))]  # fmt: skip
        frames[0].save(out, save_all=True, append_images=frames[1:], duration=400, loop=0)
    else:
        Image.fromarray(stack_rows([f[0] for f in per_input])).save(out)
    return out


CURVES = {
    "loss": ("train/loss", "val/loss"),
    "learning rate": ("train/lr",),
    "EMA momentum": ("train/ema",),
    "online probe top-1": ("train/probe_top1", "val/probe_top1"),
    "loss terms": ("train/prediction", "train/sigreg", "train/regularizer"),
    "effective rank (RankMe)": ("val/rank_target", "val/rank_context", "val/rank_encoder", "val/rank_embedding"),
    "mean per-dimension std": ("val/std_target", "val/std_context", "val/std_encoder", "val/std_embedding"),
}


def read_metrics(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Every logged metric of a CSV log as ``(steps, values)``; a resumed run's repeated steps keep the last."""
    series: dict[str, dict[int, float]] = {}
    with open(path) as f:
        for row in csv.DictReader(f):
            step = int(float(row["step"]))
            for key, value in row.items():
                if key not in ("step", "epoch") and value not in ("", None):
                    series.setdefault(key, {})[step] = float(value)
    return {k: (np.array(sorted(v)), np.array([v[s] for s in sorted(v)])) for k, v in series.items()}


def plot_curves(run_dir: Path, out: Path | None = None) -> Path:
    """``curves.png`` (or ``out``): loss and its terms, learning rate, EMA, online-probe accuracy, and the effective
    rank and per-dimension std of the features (collapse) of a run directory."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    log = Path(run_dir) / "csv" / "metrics.csv"
    if not log.is_file():
        raise FileNotFoundError(f"{log}: no CSV log (is {run_dir} a jepa fit run directory?)")
    metrics = read_metrics(log)
    panels = [(title, [k for k in keys if k in metrics]) for title, keys in CURVES.items()]
    panels = [(title, keys) for title, keys in panels if keys]
    if not panels:
        raise ValueError(f"{log}: none of {', '.join(k for keys in CURVES.values() for k in keys)} was logged")
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 2.8), squeeze=False)
    for axis, (title, keys) in zip(axes[0], panels):
        for key in keys:
            steps, values = metrics[key]
            axis.plot(steps, values, marker="o" if len(steps) < 30 else None, markersize=3, label=key)
        axis.set_title(title, fontsize=9)
        axis.set_xlabel("step", fontsize=8)
        axis.tick_params(labelsize=7)
        axis.legend(fontsize=7)
    fig.suptitle(str(run_dir), fontsize=8)
    fig.tight_layout()
    out = out or Path(run_dir) / "curves.png"
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out
