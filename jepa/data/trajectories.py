"""Trajectory episodes for action-conditioned world models: frames as MP4, per-step actions and states as .npz,
listed in a CSV.

Layout (``write_episode`` makes it; any recorder can): ``episodes.csv`` with the columns ``video,trajectory``
(paths relative to the CSV), each ``trajectory`` an ``.npz`` holding ``actions float [L, A]`` (the action taken
after frame ``t``) and ``states float [L + 1, S]`` (proprioception at each of the video's ``L + 1`` frames); any
other arrays (``block`` poses, ...) ride along for evaluation. A clip is ``num_frames`` frames ``frame_step``
apart with the ``num_frames - 1`` actions between them (an action spanning several steps is their sum) and the
states at its frames.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from jepa.data.splits import holdout_split
from jepa.data.video_readers import open_video
from jepa.data.video_transforms import IMAGENET_MEAN, IMAGENET_STD
from jepa.envs import pusht, reacher, two_room
from jepa.sampling import seeded_loader, unseeded_collate

COLUMNS = ("video", "trajectory")
# the built-in environments data.demo_root records
DEMO_ENVS = {"pusht": "PushT", "two_room": "Two-Room", "reacher": "Reacher"}
# data.demo_policy of each built-in environment, as its recorder names them; the first is the default
DEMO_POLICIES = {"pusht": tuple(pusht.DATA_POLICIES), "two_room": tuple(two_room.DATA_POLICIES),
                 "reacher": reacher.DATA_POLICIES}


@dataclass(frozen=True)
class Episode:
    video: Path
    trajectory: Path


def read_episode_list(path: str | Path) -> list[Episode]:
    """The episodes a ``video,trajectory`` CSV lists; a missing file, a missing column or no rows is an error
    naming the file."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ValueError(f"episode list {path} does not exist")
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: no {', '.join(missing)} column (the header must name {', '.join(COLUMNS)})")
        episodes = [Episode(path.parent / row["video"], path.parent / row["trajectory"]) for row in reader]
    if not episodes:
        raise ValueError(f"{path} lists no episodes")
    return episodes


def to_tensor(frames: np.ndarray) -> Tensor:
    """``uint8 [T, H, W, 3]`` frames → normalised ``float [T, 3, H, W]`` (ImageNet mean and std)."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 255
    mean, std = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (x - mean) / std


class TrajectoryDataset(Dataset):
    """Clips of ``num_frames`` frames, ``frame_step`` apart, from episodes: with ``random_start`` (training) one
    item per episode, its clip starting anywhere, drawn anew each time; else one item per clip position of every
    episode (evaluation). Items: ``frames [T, 3, H, W]``, ``actions [T - 1, A]``, ``states [T, S]``."""

    def __init__(self, episodes: Sequence[Episode], num_frames: int, frame_step: int = 1, random_start: bool = True,
                 backend: str = "auto") -> None:  # fmt: skip
        if num_frames < 2 or frame_step < 1:
            raise ValueError(f"num_frames={num_frames} (at least 2) and frame_step={frame_step} (at least 1)")
        self.episodes, self.num_frames, self.frame_step = list(episodes), num_frames, frame_step
        self.random_start, self.backend = random_start, backend
        self.span = (num_frames - 1) * frame_step
        self.windows = None if random_start else [(i, start) for i, e in enumerate(self.episodes)
                                                   for start in range(len(self.read(e)[1]) - self.span)]  # fmt: skip

    def read(self, episode: Episode) -> tuple[np.ndarray, np.ndarray]:
        """An episode's actions and states; unreadable, or too short for one clip, is an error naming the file."""
        try:
            with np.load(episode.trajectory) as data:
                actions, states = data["actions"], data["states"]
        except (OSError, KeyError, ValueError) as err:
            raise ValueError(f"{episode.trajectory}: cannot read actions and states ({err})") from err
        if states.shape[0] <= self.span:
            raise ValueError(f"{episode.trajectory}: {states.shape[0]} frames are fewer than a clip's {self.span + 1}")
        return actions, states

    def __len__(self) -> int:
        return len(self.episodes) if self.windows is None else len(self.windows)

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        if self.windows is None:
            episode = self.episodes[index]
            actions, states = self.read(episode)
            start = int(torch.randint(len(states) - self.span, ()))  # per-sample seeded in the training loader
        else:
            episode_index, start = self.windows[index]
            episode = self.episodes[episode_index]
            actions, states = self.read(episode)
        picks = list(range(start, start + self.span + 1, self.frame_step))
        frames = open_video(str(episode.video), self.backend).get(picks)
        moves = actions[start : start + self.span].reshape(self.num_frames - 1, self.frame_step, -1).sum(axis=1)
        return {"frames": to_tensor(frames), "actions": torch.from_numpy(moves).float(),
                "states": torch.from_numpy(states[picks]).float()}  # fmt: skip


def collate_pairs(items: list[dict[str, Tensor]]) -> dict[str, Any]:
    """Two-frame clips as one probe group: ``inputs`` their frames, ``labels`` the action between them."""
    return {"groups": [{"inputs": torch.stack([i["frames"] for i in items]),
                        "labels": torch.stack([i["actions"][0] for i in items])}]}  # fmt: skip


class TrajectoryDataModule(L.LightningDataModule):
    """Train / val clips of an episode list (``val_episodes``, or a seeded ``val_fraction`` of ``episodes``).
    ``demo_root`` instead records the built-in PushT episodes into that folder (once) and uses them."""

    def __init__(self, episodes: str | None = None, val_episodes: str | None = None, val_fraction: float = 0.1,
                 num_frames: int = 4, frame_step: int = 1, crop_size: int = 64, batch_size: int = 16,
                 num_workers: int = 2, pin_memory: bool = True, backend: str = "auto", demo_root: str | None = None,
                 demo_episodes: int = 400, demo_steps: int = 24, demo_env: str = "pusht",
                 demo_policy: str | None = None, seed: int = 0) -> None:  # fmt: skip
        super().__init__()
        if (episodes is None) == (demo_root is None):
            raise ValueError("set exactly one of data.episodes (an episode list) and data.demo_root")
        if demo_env not in DEMO_ENVS:
            raise ValueError(f"data.demo_env={demo_env!r}: choose one of {', '.join(DEMO_ENVS)}")
        if demo_policy is not None and demo_policy not in DEMO_POLICIES[demo_env]:
            raise ValueError(f"data.demo_policy={demo_policy!r} for data.demo_env={demo_env}: choose one of "
                             f"{', '.join(DEMO_POLICIES[demo_env])} (null: {DEMO_POLICIES[demo_env][0]})")  # fmt: skip
        self.episodes, self.val_episodes, self.val_fraction = episodes, val_episodes, val_fraction
        self.num_frames, self.frame_step, self.crop_size = num_frames, frame_step, crop_size
        self.batch_size, self.num_workers, self.pin_memory, self.backend = batch_size, num_workers, pin_memory, backend
        self.demo_root, self.demo_episodes, self.demo_steps, self.seed = demo_root, demo_episodes, demo_steps, seed
        self.demo_env, self.demo_policy = demo_env, demo_policy or DEMO_POLICIES[demo_env][0]
        self.train_set: TrajectoryDataset | None = None
        self.val_set: TrajectoryDataset | None = None

    @property
    def source(self) -> str:
        return self.episodes or f"{DEMO_ENVS[self.demo_env]} episodes recorded in {self.demo_root}"

    def episode_list(self) -> Path:
        """The training episode list, recording the built-in episodes first when ``demo_root`` is set."""
        if self.demo_root is None:
            return Path(self.episodes).expanduser()
        if self.demo_env == "two_room":
            return two_room.record_two_room(self.demo_root, self.demo_episodes, self.demo_steps,
                                            two_room.TwoRoomLayout.for_size(self.crop_size), seed=self.seed,
                                            policy=self.demo_policy)  # fmt: skip
        if self.demo_env == "reacher":
            return reacher.record_reacher(self.demo_root, self.demo_episodes, self.demo_steps, self.crop_size,
                                          seed=self.seed, policy=self.demo_policy)  # fmt: skip
        return pusht.record_episodes(self.demo_root, self.demo_episodes, self.demo_steps, self.crop_size,
                                     seed=self.seed, policy=self.demo_policy)  # fmt: skip

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        episodes = read_episode_list(self.episode_list())
        if self.val_episodes:
            train, val = episodes, read_episode_list(self.val_episodes)
        else:
            keep, held = holdout_split(len(episodes), self.val_fraction, self.seed)
            train, val = [episodes[i] for i in keep], [episodes[i] for i in held]
        make = lambda items, random_start: TrajectoryDataset(  # noqa: E731
            items, self.num_frames, self.frame_step, random_start, self.backend
        )
        self.train_set, self.val_set = make(train, True), make(val, False)

    def _loader(self, dataset: Dataset, shuffle: bool) -> DataLoader:
        """Every clip's start drawn from its own seed (:mod:`jepa.sampling`): a resumed or multi-process run sees
        the same clips."""
        return seeded_loader(
            dataset,
            self.batch_size,
            shuffle=shuffle,
            seed=self.seed,
            collate_fn=unseeded_collate,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            trainer=self.trainer,
        )

    def probe_loaders(self, holdout: float) -> dict[str, DataLoader]:
        """Loaders of frame pairs for the inverse-dynamics probe, each batch one group ``{"inputs": frames [B, 2, 3,
        H, W], "labels": actions [B, A]}``: ``train`` (every pair of the training episodes but a seeded ``holdout``
        share of them), ``holdout`` (those) and ``val`` (every pair of the validation episodes)."""
        self.setup()
        keep, held = holdout_split(len(self.train_set.episodes), holdout, self.seed)
        episodes = self.train_set.episodes
        parts = {"train": [episodes[i] for i in keep], "holdout": [episodes[i] for i in held],
                 "val": self.val_set.episodes}  # fmt: skip
        return {name: DataLoader(TrajectoryDataset(episodes, 2, self.frame_step, False, self.backend),
                                 batch_size=self.batch_size, shuffle=name == "train", num_workers=self.num_workers,
                                 collate_fn=collate_pairs)
                for name, episodes in parts.items()}  # fmt: skip

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, False)
