"""Augmented views for view-based objectives (LeJEPA): global and local random resized crops (all of a sample's
views cut in one ``roi_align`` call) with flip, colour jitter, grayscale, blur and solarisation from
``torchvision.transforms.v2``; a clip's frames all get the same draw."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torchvision.ops import roi_align
from torchvision.transforms import v2

from jepa.config import ViewsConfig, validated
from jepa.data.video_transforms import IMAGENET_MEAN, IMAGENET_STD


def check_views(cfg: ViewsConfig) -> None:
    """One error naming the ``data.views`` key whose value cannot make views."""
    if cfg.num_global < 1:
        raise ValueError(f"data.views.num_global={cfg.num_global}: a sample needs at least 1 global view")
    if cfg.num_local < 0:
        raise ValueError(f"data.views.num_local={cfg.num_local}: must be 0 or more")
    if cfg.local_size is not None and cfg.local_size < 1:
        raise ValueError(f"data.views.local_size={cfg.local_size}: a size in pixels, at least 1 (null: the data's)")
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


def crop_box(height: int, width: int, scale: Sequence[float], ratio: Sequence[float],
             tries: int = 10) -> tuple[float, float, float, float]:  # fmt: skip
    """A random resized crop box (x1, y1, x2, y2, in continuous pixel coordinates) drawn as ``RandomResizedCrop``
    draws it: an area share in ``scale``, a log-uniform aspect ratio in ``ratio``, the first of ``tries`` draws that
    fits, else the whole input; not rounded to whole pixels, so small inputs crop finely. Python's ``random``, as
    a few scalars cost less there than in tensors."""
    w, h = float(width), float(height)
    for _ in range(tries):
        area = height * width * random.uniform(scale[0], scale[1])
        aspect = math.exp(random.uniform(math.log(ratio[0]), math.log(ratio[1])))
        w_try, h_try = math.sqrt(area * aspect), math.sqrt(area / aspect)
        if w_try <= width and h_try <= height:
            w, h = w_try, h_try
            break
    x1, y1 = random.uniform(0, width - w), random.uniform(0, height - h)
    return x1, y1, x1 + w, y1 + h


class AugmentedViews:
    """A PIL image (→ ``[3, H, W]`` views) or uint8 frames ``[T, H, W, 3]`` (→ ``[3, T, H, W]`` views, one draw per
    view for all frames) into the list of ``num_global`` views at ``size``² then ``num_local`` at ``local_size``².
    Crops are resampled bilinearly from the input, averaging over each output pixel's footprint when they shrink it
    (``roi_align``), so an input smaller than ``size`` (the 8×8 digits) is cropped at sub-pixel positions."""

    def __init__(self, cfg: ViewsConfig | dict[str, Any], size: int) -> None:
        cfg = validated(ViewsConfig, cfg, "data.views")
        check_views(cfg)
        self.cfg, self.size = cfg, size
        self.local_size = cfg.local_size or size
        self.photometric = photometric(cfg, size)
        self.mean = torch.tensor(IMAGENET_MEAN)[:, None, None]
        self.std = torch.tensor(IMAGENET_STD)[:, None, None]

    def crops(self, frames: Tensor) -> list[Tensor]:
        """The global then local random resized crops, each ``[T, 3, s, s]`` of float frames ``[T, 3, H, W]`` with
        its box the same for every frame; one ``roi_align`` call per output size."""
        num_frames, _, height, width = frames.shape
        cfg = self.cfg
        scales = [cfg.global_scale] * cfg.num_global + [cfg.local_scale] * cfg.num_local
        boxes = [crop_box(height, width, scale, cfg.aspect_ratio) for scale in scales]
        views = []
        for group, size in ((boxes[: cfg.num_global], self.size), (boxes[cfg.num_global :], self.local_size)):
            if group:
                rois = torch.tensor([(t, *box) for box in group for t in range(num_frames)], dtype=frames.dtype)
                out = roi_align(frames, rois, (size, size), spatial_scale=1.0, sampling_ratio=-1, aligned=True)
                views.extend(out.view(len(group), num_frames, *out.shape[1:]))
        return views

    def __call__(self, sample: Image.Image | np.ndarray | Tensor) -> list[Tensor]:
        image = isinstance(sample, Image.Image)
        if image:
            frames = v2.functional.pil_to_tensor(sample.convert("RGB"))[None]
        else:
            frames = torch.as_tensor(sample).permute(0, 3, 1, 2)  # [T, 3, H, W]: one draw per view for every frame
        views = self.crops(frames.float() / 255)
        if not isinstance(self.photometric, v2.Identity):
            views = [self.photometric(v) for v in views]
        views = [(v - self.mean) / self.std for v in views]
        return [v[0] if image else v.permute(1, 0, 2, 3).contiguous() for v in views]
