"""Data: datasets, transforms and DataModules. Knows nothing of models."""

from jepa.data.digits import DigitsDataset
from jepa.data.images import ImageDataModule, TolerantImageFolder
from jepa.data.video import VideoDataModule, VideoDataset

__all__ = ["DigitsDataset", "ImageDataModule", "TolerantImageFolder", "VideoDataModule", "VideoDataset"]
