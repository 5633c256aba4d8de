"""Clip transforms: uint8 frames ``[T, H, W, 3]`` in, normalised float ``[3, T, H, W]`` out, one set of random
parameters per clip (every frame gets the same crop and flip)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor
from torchvision import tv_tensors
from torchvision.transforms import v2

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ClipTransform:
    """Train (``train=True``): random resized crop (area ``scale``, aspect ``ratio``), optional horizontal flip,
    ImageNet normalisation (V-JEPA). Eval: resize the short side to ``crop_size / 0.875``, centre crop."""

    def __init__(
        self,
        crop_size: int,
        train: bool,
        scale: Sequence[float] = (0.3, 1.0),
        ratio: Sequence[float] = (0.75, 1.35),
        horizontal_flip: bool = True,
    ) -> None:
        if train:
            steps: list[v2.Transform] = [v2.RandomResizedCrop(crop_size, scale=tuple(scale), ratio=tuple(ratio))]
            if horizontal_flip:
                steps.append(v2.RandomHorizontalFlip())
        else:
            steps = [v2.Resize(int(round(crop_size / 0.875))), v2.CenterCrop(crop_size)]
        self.pipeline = v2.Compose(
            [*steps, v2.ToDtype(torch.float32, scale=True), v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
        )

    def __call__(self, frames: np.ndarray | Tensor) -> Tensor:
        video = tv_tensors.Video(torch.as_tensor(frames).permute(0, 3, 1, 2))
        return self.pipeline(video).as_subclass(Tensor).permute(1, 0, 2, 3).contiguous()
