"""Augmented views for view-based objectives (LeJEPA): global and local random resized crops with colour jitter,
grayscale, blur and solarisation from ``torchvision.transforms.v2``; a clip's frames all get the same draw."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torchvision import transforms as T
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


def photometric(cfg: ViewsConfig, size: int) -> v2.Transform:
    """The per-view flip, colour jitter, grayscale, blur and solarisation on float ``[..., 3, H, W]`` in [0, 1] (the
    leading dims, a clip's frames, share one draw); those never applied are left out, as each costs time."""
    s = cfg.jitter_strength
    kernel = max(3, (size // 10) | 1)
    optional = [
        (cfg.horizontal_flip, v2.RandomHorizontalFlip(cfg.horizontal_flip)),
        (cfg.color_jitter, v2.RandomApply([v2.ColorJitter(0.8 * s, 0.8 * s, 0.8 * s, 0.2 * s)], p=cfg.color_jitter)),
        (cfg.grayscale, v2.RandomGrayscale(cfg.grayscale)),
        (cfg.blur, v2.RandomApply([v2.GaussianBlur(kernel, sigma=tuple(cfg.blur_sigma))], p=cfg.blur)),
        (cfg.solarize, v2.RandomSolarize(0.5, p=cfg.solarize)),
    ]
    steps = [transform for p, transform in optional if p > 0]
    return v2.Compose(steps) if steps else v2.Identity()


class AugmentedViews:
    """A PIL image (→ ``[3, H, W]`` views) or uint8 frames ``[T, H, W, 3]`` (→ ``[3, T, H, W]`` views, one draw per
    view for all frames) into the list of ``num_global`` then ``num_local`` views, all ``size``². An input smaller
    than ``size`` is first resized up, so that crops are not limited to its whole pixels."""

    def __init__(self, cfg: ViewsConfig | dict[str, Any], size: int) -> None:
        cfg = validated(ViewsConfig, cfg, "data.views")
        check_views(cfg)
        self.cfg, self.size = cfg, size
        self.photometric = photometric(cfg, size)
        self.mean = torch.tensor(IMAGENET_MEAN)[:, None, None]
        self.std = torch.tensor(IMAGENET_STD)[:, None, None]

    def view(self, x: Tensor, scale: tuple[float, float]) -> Tensor:
        """One view of float ``[..., 3, H, W]``: a random resized crop to ``size``², photometric, normalised."""
        top, left, height, width = T.RandomResizedCrop.get_params(x, list(scale), list(self.cfg.aspect_ratio))
        out = v2.functional.resized_crop(x, top, left, height, width, [self.size, self.size], antialias=True)
        return (self.photometric(out) - self.mean) / self.std

    def __call__(self, sample: Image.Image | np.ndarray | Tensor) -> list[Tensor]:
        if isinstance(sample, Image.Image):
            x = v2.functional.pil_to_tensor(sample.convert("RGB"))
        else:
            x = torch.as_tensor(sample).permute(0, 3, 1, 2)  # [T, 3, H, W]: one draw per view for every frame
        if min(x.shape[-2:]) < self.size:  # crops of a small input (8×8 digits) at the output's resolution
            x = v2.functional.resize(x, [self.size], antialias=True)
        x = x.float() / 255
        views = [self.view(x, self.cfg.global_scale) for _ in range(self.cfg.num_global)]
        views += [self.view(x, self.cfg.local_scale) for _ in range(self.cfg.num_local)]
        return [v.permute(1, 0, 2, 3).contiguous() if v.ndim == 4 else v for v in views]
