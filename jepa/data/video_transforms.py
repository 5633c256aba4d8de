"""Clip transforms: uint8 frames ``[T, H, W, 3]`` in, normalised float ``[3, T, H, W]`` out (or the uint8 crop,
normalised on the device by :func:`normalize_clips`), one set of random parameters per clip (every frame gets the
same crop and flip)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor
from torchvision import tv_tensors
from torchvision.transforms import v2

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _as_video(frames: np.ndarray | Tensor) -> tv_tensors.Video:
    return tv_tensors.Video(torch.as_tensor(frames).permute(0, 3, 1, 2))


def _normalise() -> list[v2.Transform]:
    return [v2.ToDtype(torch.float32, scale=True), v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)]


def normalize_clips(clips: Tensor) -> Tensor:
    """uint8 clips ``[..., 3, T, H, W]`` as the workers' float clips (scaled to [0, 1], ImageNet mean and std),
    computed wherever ``clips`` are: a loader ships a quarter of the bytes and the device does the arithmetic."""
    shape = (3, 1, 1, 1)
    mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float32, device=clips.device).view(shape)
    std = torch.tensor(IMAGENET_STD, dtype=torch.float32, device=clips.device).view(shape)
    return (clips.to(torch.float32) * (1.0 / 255) - mean) / std  # torchvision's ToDtype and Normalize, op for op


class ClipTransform:
    """Train (``train=True``): random resized crop (area ``scale``, aspect ``ratio``), optional horizontal flip,
    ImageNet normalisation (V-JEPA); ``augment`` adds the frozen-evaluation extras (RandAugment with 4 ops of
    magnitude 7 before the crop, random erasing with probability 0.25 after). Eval: resize the short side to
    ``crop_size / 0.875``, centre crop. ``normalize=False`` returns the uint8 crop (see :func:`normalize_clips`)."""

    def __init__(
        self,
        crop_size: int,
        train: bool,
        scale: Sequence[float] = (0.3, 1.0),
        ratio: Sequence[float] = (0.75, 1.35),
        horizontal_flip: bool = True,
        augment: bool = False,
        normalize: bool = True,
    ) -> None:
        if augment and not normalize:
            raise ValueError("random erasing (augment) works on normalised clips: keep normalize=True with augment")
        steps: list[v2.Transform]
        if train:
            steps = [v2.RandAugment(num_ops=4, magnitude=7)] if augment else []
            steps.append(v2.RandomResizedCrop(crop_size, scale=tuple(scale), ratio=tuple(ratio)))
            if horizontal_flip:
                steps.append(v2.RandomHorizontalFlip())
        else:
            steps = [v2.Resize(int(round(crop_size / 0.875))), v2.CenterCrop(crop_size)]
        erase = [v2.RandomErasing(p=0.25, value=0)] if train and augment else []
        self.pipeline = v2.Compose([*steps, *(_normalise() if normalize else []), *erase])

    def __call__(self, frames: np.ndarray | Tensor) -> Tensor:
        return self.pipeline(_as_video(frames)).as_subclass(Tensor).permute(1, 0, 2, 3).contiguous()


class MultiViewTransform:
    """Evaluation views of one clip: resize the short side to ``crop_size``, then ``num_views`` square crops spread
    evenly along the long side (the official multi-view testing); uint8 ``[T, H, W, 3]`` → ``[V, 3, T, S, S]``."""

    def __init__(self, crop_size: int, num_views: int) -> None:
        self.crop_size, self.num_views = crop_size, num_views
        self.resize = v2.Resize(crop_size)
        self.normalise = v2.Compose(_normalise())

    def __call__(self, frames: np.ndarray | Tensor) -> Tensor:
        video = self.resize(_as_video(frames))
        height, width = video.shape[-2:]
        step = (max(height, width) - self.crop_size) // max(self.num_views - 1, 1)
        views = []
        for i in range(self.num_views):
            top, left = (i * step, 0) if height > width else (0, i * step)
            view = video[..., top : top + self.crop_size, left : left + self.crop_size]
            views.append(self.normalise(view).as_subclass(Tensor).permute(1, 0, 2, 3))
        return torch.stack(views)
