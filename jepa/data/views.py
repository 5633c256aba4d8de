"""Augmented views for view-based objectives (LeJEPA): global and local random resized crops with colour jitter,
grayscale, blur and solarisation from ``torchvision.transforms.v2``; a clip's frames all get the same draw."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torchvision import tv_tensors
from torchvision.transforms import v2

from jepa.config import ViewsConfig, validated
from jepa.data.video_transforms import IMAGENET_MEAN, IMAGENET_STD


def check_views(cfg: ViewsConfig) -> None:
    """One error naming the ``data.views`` key whose value cannot make views."""
    if cfg.num_global < 1:
        raise ValueError(f"data.views.num_global={cfg.num_global}: a sample needs at least 1 global view")
    if cfg.num_local < 0:
        raise ValueError(f"data.views.num_local={cfg.num_local}: must be 0 or more")
    for key in ("global_scale", "local_scale"):
        low, high = getattr(cfg, key)
        if not 0 < low <= high <= 1:
            raise ValueError(f"data.views.{key}=[{low}, {high}]: crop scales must lie in (0, 1] with low ≤ high")
    for key in ("horizontal_flip", "color_jitter", "grayscale", "blur", "solarize"):
        if not 0 <= getattr(cfg, key) <= 1:
            raise ValueError(f"data.views.{key}={getattr(cfg, key)}: a probability must lie in [0, 1]")


def view_pipeline(cfg: ViewsConfig, size: int, scale: tuple[float, float]) -> v2.Compose:
    """One view: crop to ``size``² from an area share in ``scale``, then the photometric augmentations, then float
    ImageNet normalisation."""
    s = cfg.jitter_strength
    kernel = max(3, (size // 10) | 1)
    steps: list[v2.Transform] = [
        v2.RandomResizedCrop(size, scale=tuple(scale), ratio=tuple(cfg.aspect_ratio), antialias=True),
        v2.RandomHorizontalFlip(cfg.horizontal_flip),
        v2.RandomApply([v2.ColorJitter(0.8 * s, 0.8 * s, 0.8 * s, 0.2 * s)], p=cfg.color_jitter),
        v2.RandomGrayscale(cfg.grayscale),
        v2.RandomApply([v2.GaussianBlur(kernel, sigma=tuple(cfg.blur_sigma))], p=cfg.blur),
        v2.RandomSolarize(128, p=cfg.solarize),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(IMAGENET_MEAN, IMAGENET_STD),
    ]
    return v2.Compose(steps)


class AugmentedViews:
    """A PIL image (→ ``[3, H, W]`` views) or uint8 frames ``[T, H, W, 3]`` (→ ``[3, T, H, W]`` views, one draw per
    view for all frames) into the list of ``num_global`` then ``num_local`` views, all ``size``². An input smaller
    than ``size`` is first resized up, so that crops are not limited to its whole pixels."""

    def __init__(self, cfg: ViewsConfig | dict[str, Any], size: int) -> None:
        cfg = validated(ViewsConfig, cfg, "data.views")
        check_views(cfg)
        self.cfg, self.size = cfg, size
        self.global_view = view_pipeline(cfg, size, cfg.global_scale)
        self.local_view = view_pipeline(cfg, size, cfg.local_scale)

    @property
    def num_views(self) -> int:
        return self.cfg.num_global + self.cfg.num_local

    def __call__(self, sample: Image.Image | np.ndarray | Tensor) -> list[Tensor]:
        if isinstance(sample, Image.Image):
            x: Any = tv_tensors.Image(v2.functional.pil_to_tensor(sample.convert("RGB")))
        else:
            x = tv_tensors.Video(torch.as_tensor(sample).permute(0, 3, 1, 2))
        if min(x.shape[-2:]) < self.size:  # crops of a small input (8×8 digits) at the output's resolution
            x = v2.functional.resize(x, [self.size], antialias=True)
        views = [self.global_view(x) for _ in range(self.cfg.num_global)]
        views += [self.local_view(x) for _ in range(self.cfg.num_local)]
        if isinstance(x, tv_tensors.Video):
            return [v.as_subclass(Tensor).permute(1, 0, 2, 3).contiguous() for v in views]
        return [v.as_subclass(Tensor) for v in views]
