"""Video clips from the official sample lists, mixed with weights, with per-list clip lengths (``dataset_fpcs``).

A file that cannot be read (missing, empty, truncated, not a video) never stops a run: it is replaced by another
sample drawn at random (the official behaviour, minus the endless retry: a list in which no file can be read fails
at start with one error). Samples report what they skipped; the DataModule, in the main process, warns once per
file however many loader workers met it, and the objective counts them.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset
from torchvision.io import ImageReadMode, decode_image

from jepa.config import VideoMaskConfig, ViewsConfig, validated
from jepa.data.clip_sampling import burst_indices, check_one_rate, clip_frame_step, clip_indices
from jepa.data.demo_videos import make_demo_videos
from jepa.data.splits import holdout_split
from jepa.data.video_lists import ListedSample, class_names, read_sample_list
from jepa.data.video_readers import VideoReader, open_video, torchcodec_loads
from jepa.data.video_transforms import ClipTransform, MultiViewTransform
from jepa.data.views import AugmentedViews
from jepa.errors import InputError
from jepa.masks import MaskCollator, MultiBlockMask3D
from jepa.sampling import Burst, seeded_loader


class VideoDataset(Dataset):
    """One clip per listed sample: ``(clip [3, T, H, W], label, skipped)``, ``T`` the clip length of the sample's
    list and ``skipped`` the ``(path, reason)`` of each unreadable file met (and replaced) on the way. Images in a
    list become clips of the image repeated ``T`` times.

    With ``num_segments`` (frozen evaluation) a sample is ``num_segments`` clips, one from each equal part of the
    video (overlapping in a short one), each transformed into one or several spatial views: ``[S, V, 3, T, H, W]``.
    With ``clips_per_video`` > 1 and random sampling, a sample is a :class:`~jepa.sampling.Burst` of that many
    clips drawn where one decode serves them all (:func:`~jepa.data.clip_sampling.burst_indices`), each with its
    own crop; the collate takes them as separate samples.
    """

    def __init__(
        self,
        samples: Sequence[ListedSample],
        fpcs: Sequence[int],
        transform: ClipTransform | MultiViewTransform,
        frame_step: int | None = None,
        fps: float | None = None,
        duration: float | None = None,
        random_clip_sampling: bool = True,
        backend: str = "auto",
        max_retries: int = 100,
        num_segments: int | None = None,
        decoder_threads: int = 1,
        clips_per_video: int = 1,
        decode_short_side: int | None = None,
    ) -> None:
        self.samples, self.fpcs, self.transform = list(samples), list(fpcs), transform
        self.step_args = {"step": frame_step, "fps": fps, "duration": duration}
        self.random_clip_sampling, self.backend, self.max_retries = random_clip_sampling, backend, max_retries
        self.decoder_threads, self.clips_per_video = decoder_threads, clips_per_video
        self.num_segments, self.decode_short_side = num_segments, decode_short_side

    def __len__(self) -> int:
        return len(self.samples)

    @staticmethod
    def _rng() -> np.random.Generator:
        """A generator for one sample, drawn from torch's (per-sample seeded in the training loaders) generator."""
        return np.random.default_rng(int(torch.randint(2**62, ())))

    def read_frames(self, sample: ListedSample, rng: np.random.Generator | None) -> np.ndarray:
        """The frames of the sample's clips, ``uint8 [S, T, H, W, 3]`` (``S``: its segments, or with random
        sampling its ``clips_per_video`` clips); raises if the file cannot be read."""
        fpc = self.fpcs[sample.source]
        if not os.path.isfile(sample.path):
            raise FileNotFoundError("no such file")
        if os.path.getsize(sample.path) == 0:
            raise OSError("empty file")
        if sample.is_image:
            image = decode_image(sample.path, mode=ImageReadMode.RGB).permute(1, 2, 0).numpy()
            return np.broadcast_to(image, (self._clip_count(rng), fpc, *image.shape)).copy()
        reader = self.open(sample.path)
        return decode_clips(reader, self.plan_clips(reader, fpc, rng))

    def open(self, path: str) -> VideoReader:
        """``path`` opened as this dataset decodes it: its backend, decoder threads and decoding size."""
        return open_video(path, self.backend, self.decoder_threads, self.decode_short_side)

    def _clip_count(self, rng: np.random.Generator | None) -> int:
        """Clips per sample: its segments, else with random sampling ``clips_per_video``, else one."""
        return self.num_segments or (self.clips_per_video if rng is not None else 1)

    def plan_clips(self, reader: VideoReader, fpc: int, rng: np.random.Generator | None) -> list[np.ndarray]:
        """The frame indices of the sample's clips in ``reader`` (a burst with ``clips_per_video`` > 1)."""
        count = self._clip_count(rng)
        step = clip_frame_step(fpc, video_fps=reader.fps, **self.step_args)
        if self.num_segments is None and count > 1:
            return burst_indices(reader.num_frames, fpc, step, count, reader.keyframe_before, rng)
        return clip_indices(reader.num_frames, fpc, step, count, rng, allow_clip_overlap=count > 1)

    def to_tensor(self, frames: np.ndarray) -> Tensor:
        """The transformed clip ``[3, T, H, W]``, or with ``num_segments`` the views of every clip."""
        if self.num_segments is None:
            return self.transform(frames[0])
        views = [self.transform(clip) for clip in frames]
        return torch.stack([v if v.ndim == 5 else v[None] for v in views])

    def try_read(self, index: int, rng: np.random.Generator | None) -> tuple[np.ndarray | None, str]:
        """The frames of sample ``index`` and ``""``, or ``None`` and why the file cannot be read."""
        try:
            return self.read_frames(self.samples[index], rng), ""
        except Exception as err:  # decoders raise their own types (decord.DECORDError, av.FFmpegError, ...)
            return None, str(err) or type(err).__name__

    def __getitem__(self, index: int) -> tuple[Tensor, int, list[tuple[str, str]]] | Burst:
        rng = self._rng()
        skipped: list[tuple[str, str]] = []
        for _ in range(self.max_retries):
            frames, reason = self.try_read(index, rng if self.random_clip_sampling else None)
            if frames is not None and self.num_segments is None and len(frames) > 1:
                label = self.samples[index].label
                return Burst([(self.transform(clip), label, skipped if r == 0 else [])
                              for r, clip in enumerate(frames)])  # fmt: skip
            if frames is not None:
                return self.to_tensor(frames), self.samples[index].label, skipped
            skipped.append((self.samples[index].path, reason))
            index = int(rng.integers(len(self.samples)))
        raise RuntimeError(f"{self.max_retries} samples in a row could not be read, e.g. {skipped[0][0]}")

    def check_readable(self, lists: Sequence[str]) -> None:
        """Fail with one clear error when some list has no readable file (tries each list's files in order until
        one reads)."""
        for source, name in enumerate(lists):
            indices = [i for i, s in enumerate(self.samples) if s.source == source]
            if not any(self.try_read(i, None)[0] is not None for i in indices):
                first = self.samples[indices[0]].path
                raise InputError(f"data.datasets: none of the {len(indices)} files listed in {name} can be read "
                                 f"(the first is {first}: {self.try_read(indices[0], None)[1]})")  # fmt: skip


def decode_clips(reader: VideoReader, indices: list[np.ndarray]) -> np.ndarray:
    """The frames of clips ``indices`` as ``uint8 [S, T, H, W, 3]``, each frame decoded once and in order."""
    unique, where = np.unique(np.concatenate(indices), return_inverse=True)
    frames = reader.get(unique)[where]
    expected = sum(len(i) for i in indices)
    if frames.shape[0] != expected:
        raise OSError(f"decoded {frames.shape[0]} of {expected} frames")
    return frames.reshape(len(indices), len(indices[0]), *frames.shape[1:])


class VideoDataModule(L.LightningDataModule):
    """Train/val loaders of clips from official sample lists, with V-JEPA multi-block mask sets attached in the
    collate (per clip length; each clip made into augmented views when ``views`` is given), and mask-free loaders
    for frozen-feature probes. Keys keep the official names. Without ``val_datasets`` a seeded ``val_fraction`` of
    the training clips, if given, is held out as the validation split; ``demo_root`` renders the built-in PushT
    demo clips there (once) and uses their lists, unless ``datasets`` are given, which replace them."""

    def __init__(
        self,
        datasets: Sequence[str] = (),
        datasets_weights: Sequence[float] | None = None,
        dataset_fpcs: Sequence[int] = (16,),
        val_datasets: Sequence[str] | None = None,
        val_fraction: float | None = None,
        frame_step: int | None = None,
        fps: float | None = None,
        duration: float | None = None,
        crop_size: int = 224,
        random_resize_scale: Sequence[float] = (0.3, 1.0),
        random_resize_aspect_ratio: Sequence[float] = (0.75, 1.35),
        horizontal_flip: bool = True,
        batch_size: int = 24,
        num_workers: int = 8,
        pin_memory: bool = True,
        backend: str = "auto",
        decoder_threads: int = 1,
        normalize_on_device: bool = False,
        clips_per_video: int = 1,
        decode_short_side: int | None = None,
        demo_root: str | None = None,
        mask: VideoMaskConfig | dict[str, Any] | None = None,
        seed: int = 0,
        views: ViewsConfig | dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if not datasets and demo_root is None:
            raise InputError("data.datasets: give at least one sample list (.csv or .npy), or data.demo_root=DIR")
        if datasets:  # the user's lists replace the demo clips
            demo_root = None
        elif val_datasets:
            raise InputError("data.val_datasets without data.datasets: give the training lists too")
        else:
            datasets, val_datasets = (
                [str(Path(demo_root).expanduser() / "train.csv")],
                [str(Path(demo_root).expanduser() / "val.csv")],
            )
        if not val_datasets and val_fraction is not None and not 0 < val_fraction < 1:
            raise InputError(f"data.val_fraction={val_fraction}: a share of the training clips, between 0 and 1")
        if len(dataset_fpcs) != len(datasets):
            raise InputError(f"data.dataset_fpcs: one clip length per list, got {len(dataset_fpcs)} for "
                             f"{len(datasets)} lists")  # fmt: skip
        if datasets_weights is not None and len(datasets_weights) != len(datasets):
            raise InputError(f"data.datasets_weights: one weight per list, got {len(datasets_weights)} for "
                             f"{len(datasets)} lists")  # fmt: skip
        try:
            check_one_rate(frame_step, fps, duration)
        except ValueError as err:
            raise InputError(str(err)) from err
        self.lists, self.val_lists, self.val_fraction = list(datasets), list(val_datasets or []), val_fraction
        self.weights = list(datasets_weights) if datasets_weights is not None else None
        self.fpcs = list(dataset_fpcs)
        self.reading = {"frame_step": frame_step, "fps": fps, "duration": duration, "backend": backend,
                        "decoder_threads": decoder_threads, "decode_short_side": decode_short_side}
        self.crop_size, self.horizontal_flip = crop_size, horizontal_flip
        self.scale, self.ratio = tuple(random_resize_scale), tuple(random_resize_aspect_ratio)
        self.batch_size, self.num_workers, self.pin_memory = batch_size, num_workers, pin_memory
        self.demo_root, self.seed = demo_root, seed
        if backend == "torchcodec" and not torchcodec_loads():
            raise InputError("data.backend=torchcodec: torchcodec is not installed or finds no FFmpeg libraries "
                             "(pip install torchcodec; FFmpeg 4 to 8 from your system's packages)")  # fmt: skip
        if decoder_threads < 1:
            raise InputError(f"data.decoder_threads={decoder_threads}: at least 1")
        if clips_per_video < 1 or batch_size % clips_per_video:
            raise InputError(f"data.clips_per_video={clips_per_video}: a divisor of data.batch_size={batch_size} "
                             "(a batch holds batch_size clips from batch_size / clips_per_video videos)")  # fmt: skip
        if decode_short_side is not None and decode_short_side < crop_size:
            raise InputError(f"data.decode_short_side={decode_short_side}: at least data.crop_size={crop_size} "
                             "(null: frames at their own size)")  # fmt: skip
        self.normalize_on_device, self.clips_per_video = normalize_on_device, clips_per_video
        self.mask_sets = (
            mask_generators(validated(VideoMaskConfig, mask, "mask"), self.fpcs) if mask is not None else None
        )
        self.views = AugmentedViews(views, crop_size) if views is not None else None
        self.datasets: dict[str, VideoDataset] = {}
        self.warned: set[str] = set()

    @property
    def source(self) -> str:
        """The lists trained and validated on, as ``jepa`` prints them."""
        if self.val_lists:
            return f"{', '.join(self.lists)}; validation: {', '.join(self.val_lists)}"
        if self.val_fraction:
            return f"{', '.join(self.lists)}; validation: a seeded {self.val_fraction:.0%} of them (no data.val_datasets)"
        return f"{', '.join(self.lists)}; no validation (data.val_datasets or data.val_fraction)"

    @cached_property
    def class_names(self) -> list[str] | None:
        """The training lists' class names when they label by name (``None``: integer labels)."""
        return class_names(self.lists)

    def _samples(self, lists: Sequence[str]) -> list[ListedSample]:
        """The samples of ``lists``, class names numbered as in the training lists."""
        return [s for source, name in enumerate(lists) for s in read_sample_list(name, source, self.class_names)]

    def _make(self, samples: list[ListedSample], train_aug: bool, views: AugmentedViews | None = None,
              fpcs: Sequence[int] | None = None, normalize: bool = True, clips_per_video: int = 1
              ) -> VideoDataset:  # fmt: skip
        """A dataset of ``samples``: training clips (each list's clip length) or, ``fpcs`` given, evaluation ones;
        ``normalize=False``: uint8 clips, which the objective normalises on the device."""
        transform = views or ClipTransform(self.crop_size, train_aug, self.scale, self.ratio, self.horizontal_flip,
                                           normalize=normalize)  # fmt: skip
        return VideoDataset(samples, fpcs or self.fpcs, transform, random_clip_sampling=train_aug,
                            clips_per_video=clips_per_video, **self.reading)  # fmt: skip

    @property
    def _val_fpcs(self) -> list[int]:
        """Evaluation clips are the longest training length, for every list the validation samples come from."""
        return [max(self.fpcs)] * max(len(self.val_lists), len(self.lists))

    def _check_classes(self, val: VideoDataset) -> None:
        """Every evaluation label must be a class of the training lists (one error naming the list and line)."""
        known = {s.label for s in self.datasets["train"].samples}
        unknown = next((s for s in val.samples if s.label not in known), None)
        if unknown is not None:
            where = f"{self.val_lists[unknown.source]}:{unknown.line}"
            raise InputError(f"data.val_datasets: {where}: class {unknown.label} does not occur in the training lists "
                             f"({len(known)} classes)")  # fmt: skip

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        if self.demo_root is not None:
            make_demo_videos(self.demo_root)
        samples, val_samples = self._samples(self.lists), None
        self._make(samples, False).check_readable(self.lists)  # every listed file, before any is held out
        if self.val_lists:
            val_samples = self._samples(self.val_lists)
        elif self.val_fraction:
            try:
                keep, held = holdout_split(len(samples), self.val_fraction, self.seed)
            except ValueError as err:
                raise InputError(f"data.datasets: {err}") from err
            samples, val_samples = [samples[i] for i in keep], [samples[i] for i in held]
        normalize = not self.normalize_on_device
        self.datasets = {"train": self._make(samples, True, self.views, normalize=normalize,
                                             clips_per_video=self.clips_per_video)}  # fmt: skip
        if val_samples is None:
            return
        val = self._make(val_samples, False, self.views, self._val_fpcs, normalize=normalize)
        if self.val_lists:
            self._check_classes(val)
            val.check_readable(self.val_lists)
        self.datasets["val"] = val

    @property
    def num_classes(self) -> int:
        self.setup()
        return 1 + max(s.label for s in self.datasets["train"].samples)

    def _loader(self, dataset: VideoDataset, train: bool, masks: dict[int, Any] | None, seed: int,
                trainer: Any = None) -> DataLoader:  # fmt: skip
        """Train: shuffled (or drawn by list weight), whole batches only when there is more than one; every clip
        and mask drawn from its own seed (:mod:`jepa.sampling`), so a resumed or multi-process run sees the same. The
        trainer's loaders (``trainer``) are sharded by rank and resume at its step; probe loaders are whole."""
        weights = None
        if train and self.weights is not None:
            counts = np.bincount([s.source for s in dataset.samples], minlength=len(self.lists))
            weights = [self.weights[s.source] / counts[s.source] for s in dataset.samples]
        videos_per_batch = self.batch_size // dataset.clips_per_video
        return seeded_loader(dataset, videos_per_batch, shuffle=train, seed=seed, num_workers=self.num_workers,
                             pin_memory=self.pin_memory, trainer=trainer, weights=weights,
                             collate_fn=MaskCollator(masks, seed))  # fmt: skip

    def on_before_batch_transfer(self, batch: dict[str, Any], dataloader_idx: int) -> dict[str, Any]:
        """Warn once per unreadable file the batch's samples skipped (in the main process, across workers)."""
        for path, reason in batch.pop("skipped", []):
            if path not in self.warned:
                self.warned.add(path)
                warnings.warn(f"skipping unreadable video {path}: {reason}", stacklevel=1)
        return batch

    def train_dataloader(self) -> DataLoader:
        self.setup()
        return self._loader(self.datasets["train"], True, self.mask_sets, self.seed, self.trainer)

    def val_dataloader(self) -> DataLoader | list[DataLoader]:
        self.setup()
        if "val" not in self.datasets:
            return []
        return self._loader(self.datasets["val"], False, self.mask_sets, self.seed + 1, self.trainer)

    def test_dataloader(self) -> DataLoader | list[DataLoader]:
        return self.val_dataloader()

    def _need_val(self) -> None:
        self.setup()
        if "val" not in self.datasets:
            raise InputError("probes need a validation split: data.val_datasets (lists of labelled clips) or "
                             "data.val_fraction (a seeded share of the training clips, e.g. 0.1)")  # fmt: skip

    def probe_dataloaders(self) -> dict[str, DataLoader]:
        """Mask-free loaders of train and val lists with the evaluation transform and clip sampling."""
        self._need_val()
        train = self._make(self.datasets["train"].samples, False)
        val = self._make(self.datasets["val"].samples, False, fpcs=self._val_fpcs)
        return {name: self._loader(ds, False, None, self.seed) for name, ds in (("train", train), ("val", val))}

    def segment_dataloaders(
        self, num_segments: int, num_views: int, augment: bool, holdout: float
    ) -> dict[str, DataLoader]:
        """Loaders for an attentive probe, samples ``[S, V, 3, T, H, W]``: ``train`` (random clips, the official
        frozen-evaluation crops: area 0.08-1, aspect 3/4-4/3, no flip, ``augment`` extras; one view), ``holdout``
        (a seeded ``holdout`` share of the training samples, kept out of ``train``, to choose a head on) and
        ``val``, both with ``num_views`` evaluation views of the first clips of each part."""
        self._need_val()
        samples = self.datasets["train"].samples
        try:
            fit, held = holdout_split(len(samples), holdout, self.seed)
        except ValueError as err:
            raise InputError(f"data.datasets: {err}") from err
        views = (MultiViewTransform(self.crop_size, num_views) if num_views > 1
                 else ClipTransform(self.crop_size, train=False))  # fmt: skip
        train_crop = ClipTransform(self.crop_size, True, (0.08, 1.0), (0.75, 4 / 3), False, augment)
        splits = {
            "train": ([samples[i] for i in fit], self.fpcs, train_crop, True),
            "holdout": ([samples[i] for i in held], self.fpcs, views, False),
            "val": (self.datasets["val"].samples, self._val_fpcs, views, False),
        }
        return {
            name: self._loader(VideoDataset(split, fpcs, transform, random_clip_sampling=random,
                                            num_segments=num_segments, **self.reading), random, None, self.seed)
            for name, (split, fpcs, transform, random) in splits.items()
        }  # fmt: skip


def mask_generators(cfg: VideoMaskConfig, fpcs: Sequence[int]) -> dict[int, list[MultiBlockMask3D]]:
    """The mask generators of every mask set for every clip length (what the collate draws from)."""
    return {
        fpc: [MultiBlockMask3D(cfg.input_size, cfg.patch_size, fpc, cfg.tubelet_size, **vars(s)) for s in cfg.sets]
        for fpc in sorted(set(fpcs))
    }
