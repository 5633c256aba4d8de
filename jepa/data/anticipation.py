"""Action anticipation data in the EPIC-KITCHENS-100 annotation format: each row an action (a verb and a noun)
with its start and stop in a video; a sample is the clip that ends an anticipation time before a point of the action.

Columns read (by name): ``verb_class``, ``noun_class``; the action's span as ``start_frame`` / ``stop_frame`` (the
official choice), ``start_timestamp`` / ``stop_timestamp`` (``HH:MM:SS.ff``) or ``start_sec`` / ``stop_sec``; the
video as ``path`` (relative to the annotation file) or ``video_id`` (``<video_root>/<P>/videos/<video_id>.MP4``, or
``<video_root>/<P>/<video_id>.MP4``, ``P`` the participant: ``participant_id`` or the id's prefix).

As the released evaluation does: verbs, nouns and actions are those of the training files (numbered in sorted
order), and evaluation rows whose action never occurs in training are dropped. The clip's last frame is
``a * start + (1 - a) * stop - t * video_fps`` for an anticipation point ``a`` and time ``t`` (seconds), drawn from
ranges in training; frames before the video's start repeat its first frame.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader
from torch.utils.data.dataloader import default_collate

from jepa.data.splits import holdout_split
from jepa.data.video import VideoDataset
from jepa.data.video_lists import ListedSample
from jepa.data.video_readers import open_video
from jepa.data.video_transforms import ClipTransform
from jepa.errors import InputError

SPANS = (("start_frame", "stop_frame"), ("start_timestamp", "stop_timestamp"), ("start_sec", "stop_sec"))


@dataclass(frozen=True)
class ActionSample(ListedSample):
    """One annotated action: its video, its span (frames when ``in_frames``, else seconds), and (``label``) its
    action class."""

    start: float = 0.0
    stop: float = 0.0
    in_frames: bool = True


def _seconds(value: str) -> float:
    """``HH:MM:SS.ff`` (or plain seconds) as seconds."""
    total = 0.0
    for part in value.strip().split(":"):
        total = total * 60 + float(part)
    return total


def _video_path(row: dict[str, str], folder: Path, root: Path) -> str:
    if row.get("path"):
        return str(folder / row["path"]) if not Path(row["path"]).is_absolute() else row["path"]
    video_id = row["video_id"]
    participant = row.get("participant_id") or video_id.split("_")[0]
    nested = root / participant / "videos" / f"{video_id}.MP4"
    flat = root / participant / f"{video_id}.MP4"
    return str(flat if flat.exists() and not nested.exists() else nested)


def read_annotations(path: str | Path, video_root: str | Path | None = None) -> list[dict[str, Any]]:
    """The rows of one annotation file as ``{path, start, stop, in_frames, verb, noun, line}`` (errors name the file,
    line and column)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise InputError(f"data.datasets: no such annotation file {path}")
    root = Path(video_root).expanduser() if video_root else path.parent
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        raise InputError(f"data.datasets: {path} lists no actions")
    columns = set(rows[0])
    span = next((pair for pair in SPANS if set(pair) <= columns), None)
    missing = [name for name in ("verb_class", "noun_class") if name not in columns]
    missing += [] if span else [" / ".join("+".join(pair) for pair in SPANS)]
    missing += [] if {"path", "video_id"} & columns else ["path or video_id"]
    if missing:
        raise InputError(f"{path}: missing column {', '.join(missing)} (has {', '.join(sorted(columns))})")
    in_frames = span == SPANS[0]
    out = []
    for line, row in enumerate(rows, 2):
        try:
            start, stop = ((float(row[k]) if in_frames else _seconds(row[k])) for k in span)
            verb, noun = int(row["verb_class"]), int(row["noun_class"])
        except (TypeError, ValueError) as err:
            raise InputError(f"{path}:{line}: {err}") from err
        out.append({"path": _video_path(row, path.parent, root), "start": start, "stop": stop,
                    "in_frames": in_frames, "verb": verb, "noun": noun, "line": line})  # fmt: skip
    return out


@dataclass(frozen=True)
class ActionClasses:
    """The training verbs, nouns and (verb, noun) actions, each numbered in sorted order."""

    verbs: list[int]
    nouns: list[int]
    actions: list[tuple[int, int]]

    @property
    def num_verbs(self) -> int:
        return len(self.verbs)

    @property
    def num_nouns(self) -> int:
        return len(self.nouns)

    @cached_property
    def action_table(self) -> Tensor:
        """``[num_actions, 2]``: the verb and noun label of every action."""
        verb_index = {v: i for i, v in enumerate(self.verbs)}
        noun_index = {n: i for i, n in enumerate(self.nouns)}
        return torch.tensor([(verb_index[v], noun_index[n]) for v, n in self.actions], dtype=torch.int64)

    def verb_noun(self, action: Tensor) -> tuple[Tensor, Tensor]:
        """The verb and noun labels of action labels."""
        return self.action_table[action, 0], self.action_table[action, 1]


class AnticipationDataset(VideoDataset):
    """``(clip [3, T, H, W], (action, anticipation time), skipped)``: ``T`` frames at ``fps`` (a step of
    ``int(video_fps / fps)`` frames) ending ``time`` seconds before the point ``point`` of the action's span
    (``1``: its start, ``0``: its stop). With random sampling both are drawn uniformly from their ranges; without, the
    ranges' first values are used."""

    def __init__(
        self,
        samples: Sequence[ActionSample],
        frames_per_clip: int,
        fps: float,
        transform: ClipTransform,
        time: Sequence[float],
        point: Sequence[float],
        random: bool,
        backend: str = "auto",
    ) -> None:
        super().__init__(samples, [frames_per_clip], transform, fps=fps, random_clip_sampling=random, backend=backend)
        self.fps, self.time, self.point = fps, tuple(time), tuple(point)
        self.last_time = 0.0

    def read_frames(self, sample: ActionSample, rng: np.random.Generator | None) -> np.ndarray:  # type: ignore[override]
        reader = open_video(sample.path, self.backend)
        video_fps = reader.fps
        time = float(rng.uniform(*self.time)) if rng is not None else self.time[0]
        point = float(rng.uniform(*self.point)) if rng is not None else self.point[0]
        start, stop = (sample.start, sample.stop) if sample.in_frames else (sample.start * video_fps,
                                                                             sample.stop * video_fps)  # fmt: skip
        last = int(start * point + (1 - point) * stop - int(time * video_fps))
        step = max(1, int(video_fps / self.fps))
        indices = np.arange(last - self.fpcs[0] * step, last, step)[: self.fpcs[0]]
        frames = reader.get(np.clip(indices, 0, reader.num_frames - 1))
        self.last_time = time
        return frames[None]

    def __getitem__(self, index: int) -> tuple[Tensor, tuple[int, float], list[tuple[str, str]]]:
        clip, action, skipped = super().__getitem__(index)
        return clip, (action, self.last_time), skipped


def collate_actions(samples: Sequence[tuple[Tensor, tuple[int, float], list]]) -> dict[str, Any]:
    """One group ``{inputs, labels (actions), times, num_frames}`` and the files the samples skipped."""
    clips, (actions, times) = default_collate([sample[:2] for sample in samples])
    skipped = [failure for sample in samples for failure in sample[2]]
    group = {"inputs": clips, "labels": actions, "times": times.float(), "num_frames": clips.shape[2]}
    return {"groups": [group], "num_skipped": len(skipped), "skipped": skipped}


class AnticipationDataModule(L.LightningDataModule):
    """Loaders of anticipation clips from EK100-style annotation files: ``train`` (random crops, anticipation time
    and point drawn from their training ranges), ``holdout`` (a seeded share of the training actions, to choose a
    head on) and ``val`` (the evaluation time and point)."""

    def __init__(self, datasets: Sequence[str], val_datasets: Sequence[str] | None, frames_per_clip: int,
                 fps: float | None, anticipation: Any, crop_size: int = 224,
                 random_resize_scale: Sequence[float] = (0.08, 1.0), batch_size: int = 4, num_workers: int = 4,
                 backend: str = "auto", seed: int = 0) -> None:  # fmt: skip
        super().__init__()
        if not datasets or not val_datasets:
            raise InputError("the anticipation probe needs data.datasets and data.val_datasets (annotation files)")
        if fps is None:
            raise InputError("the anticipation probe samples clips at data.fps frames per second: set data.fps")
        train = [row for name in datasets for row in read_annotations(name, anticipation.video_root)]
        val = [row for name in val_datasets for row in read_annotations(name, anticipation.video_root)]
        actions = sorted({(row["verb"], row["noun"]) for row in train})
        self.classes = ActionClasses(sorted({v for v, _ in actions}), sorted({n for _, n in actions}), actions)
        self.rows = {"train": train, "val": [row for row in val if (row["verb"], row["noun"]) in set(actions)]}
        self.dropped_val = len(val) - len(self.rows["val"])
        if not self.rows["val"]:
            raise InputError(f"data.val_datasets: none of the {len(val)} evaluation actions occurs in training")
        self.frames_per_clip, self.fps, self.anticipation = frames_per_clip, fps, anticipation
        self.crop_size, self.scale = crop_size, tuple(random_resize_scale)
        self.batch_size, self.num_workers, self.backend, self.seed = batch_size, num_workers, backend, seed

    @property
    def num_classes(self) -> int:
        return len(self.classes.actions)

    def _samples(self, rows: list[dict[str, Any]]) -> list[ActionSample]:
        index = {pair: i for i, pair in enumerate(self.classes.actions)}
        return [ActionSample(row["path"], index[(row["verb"], row["noun"])], 0, row["line"], row["start"],
                             row["stop"], row["in_frames"]) for row in rows]  # fmt: skip

    def _loader(self, samples: list[ActionSample], train: bool) -> DataLoader:
        ant = self.anticipation
        time = ant.train_anticipation_time if train else (ant.anticipation_time,) * 2
        point = ant.train_anticipation_point if train else (ant.anticipation_point,) * 2
        transform = ClipTransform(self.crop_size, train, self.scale, (0.75, 4 / 3), False, train and ant.augment)
        dataset = AnticipationDataset(samples, self.frames_per_clip, self.fps, transform, time, point, train,
                                      self.backend)  # fmt: skip
        return DataLoader(dataset, batch_size=self.batch_size, shuffle=train, num_workers=self.num_workers,
                          persistent_workers=self.num_workers > 0, collate_fn=collate_actions)  # fmt: skip

    def probe_loaders(self, holdout: float) -> dict[str, DataLoader]:
        """``train``, ``holdout`` (a seeded ``holdout`` share of the training actions) and ``val`` loaders."""
        train = self._samples(self.rows["train"])
        try:
            fit, held = holdout_split(len(train), holdout, self.seed)
        except ValueError as err:
            raise InputError(f"data.datasets: {err}") from err
        return {"train": self._loader([train[i] for i in fit], True),
                "holdout": self._loader([train[i] for i in held], False),
                "val": self._loader(self._samples(self.rows["val"]), False)}  # fmt: skip
