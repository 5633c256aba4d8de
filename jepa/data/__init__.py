"""Data: datasets, transforms and DataModules. Knows nothing of models."""

from jepa.data.digits import DigitsDataset
from jepa.data.images import ImageDataModule, TolerantImageFolder

__all__ = ["DigitsDataset", "ImageDataModule", "TolerantImageFolder"]
