"""A built-in demo image set that needs no download: scikit-learn's 1,797 handwritten digits (8×8, 10 classes)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image
from torch.utils.data import Dataset


class DigitsDataset(Dataset):
    """The digits as RGB PIL images; every fifth digit is ``val``, the rest ``train`` (a fixed split)."""

    classes = [str(d) for d in range(10)]

    def __init__(self, split: str, transform: Callable | None = None) -> None:
        from sklearn.datasets import load_digits

        if split not in ("train", "val"):
            raise ValueError(f"digits split must be 'train' or 'val', got {split!r}")
        digits = load_digits()
        in_val = np.arange(len(digits.target)) % 5 == 0
        keep = in_val if split == "val" else ~in_val
        self.images = (digits.images[keep] * (255.0 / 16.0)).round().astype(np.uint8)
        self.targets = digits.target[keep].astype(np.int64)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i: int) -> tuple[object, int]:
        image = Image.fromarray(self.images[i], mode="L").convert("RGB")
        return (self.transform(image) if self.transform else image), int(self.targets[i])
