"""Action anticipation data in the EPIC-KITCHENS-100 annotation format: each row an action (a verb and a noun)
that starts at a time in a video; a sample is the clip that ends a chosen time before the action starts.

Columns read (by name): ``verb_class``, ``noun_class``, the start as ``start_timestamp`` (``HH:MM:SS.ff``) or
``start_sec``, and the video as ``path`` (relative to the annotation file's folder) or ``participant_id`` and
``video_id`` (``<video_root>/<participant_id>/videos/<video_id>.MP4``, the EK100 layout). Actions are the
(verb, noun) pairs of the training and evaluation files together, numbered in sorted order.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader

from jepa.data.clip_sampling import check_one_rate, clip_frame_step
from jepa.data.video import VideoDataset
from jepa.data.video_lists import ListedSample
from jepa.data.video_readers import open_video
from jepa.data.video_transforms import ClipTransform
from jepa.errors import InputError
from jepa.masks import MaskCollator


@dataclass(frozen=True)
class ActionSample(ListedSample):
    """One annotated action: its video, where it starts (seconds), its verb and noun (``label``: the action)."""

    start: float = 0.0
    verb: int = 0
    noun: int = 0


def _seconds(value: str) -> float:
    """``HH:MM:SS.ff`` (or plain seconds) as seconds."""
    total = 0.0
    for part in value.strip().split(":"):
        total = total * 60 + float(part)
    return total


def read_annotations(path: str | Path, video_root: str | Path | None = None) -> list[dict[str, object]]:
    """The rows of one annotation file as ``{path, start, verb, noun, line}`` (errors name the file, line and
    column)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise InputError(f"data.datasets: no such annotation file {path}")
    root = Path(video_root).expanduser() if video_root else path.parent
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        raise InputError(f"data.datasets: {path} lists no actions")
    columns = set(rows[0])
    needs = [{"verb_class"}, {"noun_class"}, {"start_timestamp", "start_sec"}, {"path", "video_id"}]
    missing = [" or ".join(sorted(group)) for group in needs if not group & columns]
    if missing:
        raise InputError(f"{path}: missing column {', '.join(missing)} (has {', '.join(sorted(columns))})")
    out = []
    for line, row in enumerate(rows, 2):
        try:
            start = _seconds(row["start_timestamp"]) if "start_timestamp" in row else float(row["start_sec"])
            verb, noun = int(row["verb_class"]), int(row["noun_class"])
        except (TypeError, ValueError) as err:
            raise InputError(f"{path}:{line}: {err}") from err
        if "path" in row and row["path"]:
            video = str(path.parent / row["path"]) if not Path(row["path"]).is_absolute() else row["path"]
        else:
            video = str(root / row.get("participant_id", "") / "videos" / f"{row['video_id']}.MP4")
        out.append({"path": video, "start": start, "verb": verb, "noun": noun, "line": line})
    return out


@dataclass(frozen=True)
class ActionClasses:
    """The verb and noun counts, and the actions as (verb, noun) pairs in sorted order."""

    num_verbs: int
    num_nouns: int
    actions: list[tuple[int, int]]

    def verb_noun(self, action: Tensor) -> tuple[Tensor, Tensor]:
        """Verb and noun labels of action labels."""
        table = torch.tensor(self.actions, dtype=torch.int64)
        return table[action, 0], table[action, 1]


class AnticipationDataset(VideoDataset):
    """``(clip [3, T, H, W], action, skipped)``: the ``T`` frames (one every ``frame_step`` / ``fps`` /
    ``duration``) ending ``anticipation_time`` seconds before the action starts (frame 0 repeated for an action
    too near the start of its video)."""

    def __init__(self, samples: Sequence[ActionSample], frames_per_clip: int, transform: ClipTransform,
                 anticipation_time: float, backend: str = "auto", **rate: float | None) -> None:  # fmt: skip
        super().__init__(samples, [frames_per_clip], transform, backend=backend, random_clip_sampling=False, **rate)
        self.anticipation_time = anticipation_time

    def read_frames(self, sample: ActionSample, rng: np.random.Generator | None) -> np.ndarray:  # type: ignore[override]
        fpc = self.fpcs[0]
        reader = open_video(sample.path, self.backend)
        step = clip_frame_step(fpc, video_fps=reader.fps, **self.step_args)
        last = min(math.floor((sample.start - self.anticipation_time) * reader.fps), reader.num_frames - 1)
        indices = np.clip(last - step * np.arange(fpc)[::-1], 0, None)
        return reader.get(indices)[None]


class AnticipationDataModule(L.LightningDataModule):
    """Loaders of anticipation clips from EK100-style annotation files: ``train`` (random crops), ``holdout`` (a
    seeded share of the training actions, to choose a head on) and ``val``."""

    def __init__(self, datasets: Sequence[str], val_datasets: Sequence[str] | None, frames_per_clip: int,
                 anticipation_time: float, video_root: str | None = None, crop_size: int = 224,
                 random_resize_scale: Sequence[float] = (0.08, 1.0), batch_size: int = 4, num_workers: int = 4,
                 backend: str = "auto", frame_step: int | None = None, fps: float | None = None,
                 duration: float | None = None, seed: int = 0) -> None:  # fmt: skip
        super().__init__()
        if not datasets or not val_datasets:
            raise InputError("the anticipation probe needs data.datasets and data.val_datasets (annotation files)")
        try:
            check_one_rate(frame_step, fps, duration)
        except ValueError as err:
            raise InputError(str(err)) from err
        self.rate = {"frame_step": frame_step, "fps": fps, "duration": duration}
        self.rows = {"train": [r for name in datasets for r in read_annotations(name, video_root)],
                     "val": [r for name in val_datasets for r in read_annotations(name, video_root)]}  # fmt: skip
        rows = self.rows["train"] + self.rows["val"]
        self.classes = ActionClasses(1 + max(int(r["verb"]) for r in rows), 1 + max(int(r["noun"]) for r in rows),
                                     sorted({(int(r["verb"]), int(r["noun"])) for r in rows}))  # fmt: skip
        self.frames_per_clip, self.anticipation_time, self.crop_size = frames_per_clip, anticipation_time, crop_size
        self.scale, self.batch_size, self.num_workers = tuple(random_resize_scale), batch_size, num_workers
        self.backend, self.seed = backend, seed

    @property
    def num_classes(self) -> int:
        return len(self.classes.actions)

    def _samples(self, rows: list[dict[str, object]]) -> list[ActionSample]:
        index = {pair: i for i, pair in enumerate(self.classes.actions)}
        return [ActionSample(str(r["path"]), index[(int(r["verb"]), int(r["noun"]))], 0, int(r["line"]),
                             float(r["start"]), int(r["verb"]), int(r["noun"])) for r in rows]  # fmt: skip

    def _loader(self, samples: list[ActionSample], train: bool) -> DataLoader:
        transform = ClipTransform(self.crop_size, train, self.scale, (0.75, 4 / 3), horizontal_flip=False)
        dataset = AnticipationDataset(samples, self.frames_per_clip, transform, self.anticipation_time, self.backend,
                                      **self.rate)  # fmt: skip
        collate = MaskCollator(None, self.seed)
        return DataLoader(dataset, batch_size=self.batch_size, shuffle=train, num_workers=self.num_workers,
                          persistent_workers=self.num_workers > 0, collate_fn=collate)  # fmt: skip

    def probe_loaders(self, holdout: float) -> dict[str, DataLoader]:
        """``train``, ``holdout`` (a seeded ``holdout`` share of the training actions) and ``val`` loaders."""
        train = self._samples(self.rows["train"])
        order = torch.randperm(len(train), generator=torch.Generator().manual_seed(self.seed)).tolist()
        held = max(1, round(len(train) * holdout))
        if len(train) - held < 1:
            raise InputError(f"data.datasets: {len(train)} training actions leave none to train on after holding out "
                             f"{held} to choose a head")  # fmt: skip
        return {"train": self._loader([train[i] for i in order[held:]], True),
                "holdout": self._loader([train[i] for i in order[:held]], False),
                "val": self._loader(self._samples(self.rows["val"]), False)}  # fmt: skip
