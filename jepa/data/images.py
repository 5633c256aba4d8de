"""Image data for pretraining and probes: ImageNet-layout folders (``root/{train,val}/<class>/*``) or the
built-in digits, with I-JEPA's augmentation and multi-block masks attached in the collate."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
from PIL import Image, UnidentifiedImageError
from torch.utils.data import DataLoader, Dataset, Subset
from torchvision import transforms as T
from torchvision.datasets import ImageFolder
from torchvision.datasets.folder import IMG_EXTENSIONS

from jepa.config import MaskConfig, ViewsConfig, shallow_dict, validated
from jepa.data.digits import DigitsDataset
from jepa.data.splits import holdout_split
from jepa.data.views import AugmentedViews
from jepa.errors import InputError
from jepa.masks import MaskCollator, MultiBlockMask2D
from jepa.sampling import seeded_loader

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def train_transform(img_size: int, crop_scale: Sequence[float], horizontal_flip: bool) -> T.Compose:
    """I-JEPA pretraining augmentation: random resized crop (and an optional flip), ImageNet normalisation."""
    steps: list[Any] = [T.RandomResizedCrop(img_size, scale=tuple(crop_scale))]
    if horizontal_flip:
        steps.append(T.RandomHorizontalFlip())
    return T.Compose([*steps, T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])


def probe_train_transform(img_size: int, augment: bool) -> T.Compose:
    """Frozen-evaluation training crops: random resized crop (area 0.08-1), flip; ``augment`` adds AutoAugment's
    ImageNet policy before and random erasing (p=0.25) after, as the official image probes do."""
    steps: list[Any] = [T.RandomResizedCrop(img_size, scale=(0.08, 1.0)), T.RandomHorizontalFlip()]
    if augment:
        steps.insert(0, T.AutoAugment(T.AutoAugmentPolicy.IMAGENET))
    tail = [T.RandomErasing(p=0.25)] if augment else []
    return T.Compose([*steps, T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD), *tail])


def eval_transform(img_size: int) -> T.Compose:
    """Resize to ``img_size / 0.875`` and centre-crop ``img_size`` (the usual ImageNet evaluation)."""
    resize = int(round(img_size / 0.875))
    return T.Compose([T.Resize(resize), T.CenterCrop(img_size), T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])


class TolerantImageFolder(ImageFolder):
    """An ``ImageFolder`` whose unreadable files become ``None`` (dropped and counted by the collate) with a warning
    naming the file, instead of stopping the run."""

    def __getitem__(self, index: int) -> tuple[Any, int] | None:
        path, target = self.samples[index]
        try:
            with Image.open(path) as img:
                image = img.convert("RGB")
        except (OSError, UnidentifiedImageError, ValueError) as err:
            warnings.warn(f"skipping unreadable image {path}: {err}", stacklevel=1)
            return None
        return (self.transform(image) if self.transform else image), target


class HeldOut(Subset):
    """Part of an image folder (the images kept to train on, or those held out), with its class names."""

    @property
    def classes(self) -> list[str]:
        return self.dataset.classes


def _split_dir(root: Path, split: str) -> Path:
    path = root / split
    if not path.is_dir():
        raise InputError(f"data.root={root}: no '{split}' folder (expected {root}/{split}/<class>/<image>; or pass "
                         "data.val_fraction=0.1: a folder without val/ holds out a seeded tenth of its images)")
    return _with_images(root, path)


def _with_images(root: Path, path: Path) -> Path:
    if not any(p.suffix.lower() in IMG_EXTENSIONS for p in path.rglob("*") if p.is_file()):
        raise InputError(f"data.root={root}: found no images under {path} (expected {path}/<class>/<image>)")
    return path


class ImageDataModule(L.LightningDataModule):
    """Train/val loaders of images (masks attached when ``mask`` is given; each image made into augmented views
    when ``views`` is) and mask-free loaders of single evaluation crops for probes."""

    def __init__(
        self,
        root: str | None = None,
        val_fraction: float | None = None,
        img_size: int = 224,
        batch_size: int = 64,
        num_workers: int = 4,
        crop_scale: Sequence[float] = (0.3, 1.0),
        horizontal_flip: bool = False,
        pin_memory: bool = True,
        mask: MaskConfig | dict[str, Any] | None = None,
        seed: int = 0,
        views: ViewsConfig | dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.root = Path(root).expanduser() if root else None
        if self.root is not None and not self.root.is_dir():
            raise InputError(f"data.root={root}: no such directory")
        self.val_fraction = val_fraction if self.root is not None and not (self.root / "val").is_dir() else None
        if self.val_fraction is not None and not 0 < self.val_fraction < 1:
            raise InputError(f"data.val_fraction={val_fraction}: a share of the training images, between 0 and 1")
        self.img_size, self.batch_size, self.num_workers = img_size, batch_size, num_workers
        self.crop_scale, self.horizontal_flip, self.pin_memory = tuple(crop_scale), horizontal_flip, pin_memory
        self.mask = MultiBlockMask2D(**shallow_dict(validated(MaskConfig, mask, "mask"))) if mask is not None else None
        self.views = AugmentedViews(views, img_size) if views is not None else None
        self.seed = seed
        self.datasets: dict[str, Dataset] = {}

    @property
    def source(self) -> str:
        """What ``jepa`` prints as the run's data."""
        if self.root is None:
            return "built-in digits (scikit-learn)"
        if self.val_fraction is not None:
            return f"{self.root}; validation: a seeded {self.val_fraction:.0%} of its images (no {self.root}/val)"
        return str(self.root)

    def _make(self, split: str, train_aug: bool, transform: Any = None) -> Dataset:
        if transform is None and train_aug:
            transform = train_transform(self.img_size, self.crop_scale, self.horizontal_flip)
        elif transform is None:
            transform = eval_transform(self.img_size)
        if self.root is None:
            return DigitsDataset(split, transform)
        if self.val_fraction is None:
            return TolerantImageFolder(str(_split_dir(self.root, split)), transform=transform)
        top = self.root / "train" if (self.root / "train").is_dir() else self.root
        folder = TolerantImageFolder(str(_with_images(self.root, top)), transform=transform)
        try:
            keep, held = holdout_split(len(folder), self.val_fraction, self.seed)
        except ValueError as err:
            raise InputError(f"data.root={self.root}: {err}") from err
        return HeldOut(folder, keep if split == "train" else held)

    def setup(self, stage: str | None = None) -> None:
        if not self.datasets:
            train = self._make("train", True, self.views)
            val = self._make("val", False, self.views)  # with views, validation sees seeded views too (its loss)
            self.datasets = {"train": train, "val": val}
            train_classes, val_classes = self.datasets["train"].classes, self.datasets["val"].classes
            if train_classes != val_classes:
                raise InputError(f"data.root={self.root}: train and val have different class folders")

    @property
    def num_classes(self) -> int:
        self.setup()
        return len(self.datasets["train"].classes)

    def _loader(self, dataset: Dataset, shuffle: bool, mask: MultiBlockMask2D | None, seed: int,
                trainer: Any = None) -> DataLoader:  # fmt: skip
        """A loader whose collate attaches one I-JEPA mask per image (none when ``mask`` is ``None``); every image
        and mask drawn from its own seed (:mod:`jepa.sampling`), so a resumed or multi-process run sees the same. The
        trainer's loaders (``trainer``) are sharded by rank and resume at its step; probe loaders are whole."""
        return seeded_loader(dataset, self.batch_size, shuffle=shuffle, seed=seed, num_workers=self.num_workers,
                             pin_memory=self.pin_memory, trainer=trainer,
                             collate_fn=MaskCollator({1: [mask]} if mask is not None else None, seed))  # fmt: skip

    def train_dataloader(self) -> DataLoader:
        self.setup()
        return self._loader(self.datasets["train"], True, self.mask, self.seed, self.trainer)

    def val_dataloader(self) -> DataLoader:
        self.setup()
        return self._loader(self.datasets["val"], False, self.mask, self.seed + 1, self.trainer)

    def test_dataloader(self) -> DataLoader:
        return self.val_dataloader()

    def probe_dataloaders(self) -> dict[str, DataLoader]:
        """Mask-free loaders of both splits with the evaluation transform, for frozen-feature probes."""
        self.setup()
        splits = {"train": self._make("train", False), "val": self._make("val", False)}
        return {name: self._loader(ds, False, None, self.seed) for name, ds in splits.items()}

    def segment_dataloaders(self, num_segments: int, num_views: int, augment: bool,
                            holdout: float) -> dict[str, DataLoader]:  # fmt: skip
        """Loaders for an attentive probe (one view of each image; ``num_segments`` and ``num_views`` are for
        video): ``train`` with the frozen-evaluation crops, ``holdout`` (a seeded ``holdout`` share of the training
        images, kept out of ``train``, to choose a head on) and ``val`` with the evaluation transform."""
        self.setup()
        try:
            fit, held = holdout_split(len(self.datasets["train"]), holdout, self.seed)
        except ValueError as err:
            raise InputError(f"data.root={self.root}: {err}") from err
        train = Subset(self._make("train", True, probe_train_transform(self.img_size, augment)), fit)
        splits = {"train": train, "holdout": Subset(self._make("train", False), held),
                  "val": self._make("val", False)}  # fmt: skip
        return {name: self._loader(ds, name == "train", None, self.seed) for name, ds in splits.items()}
