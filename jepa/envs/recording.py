"""Recording an environment's episodes in the format :mod:`jepa.data.trajectories` reads: one MP4 of the views
and one ``.npz`` of the actions, states and whatever else the recorder keeps, listed in ``episodes.csv``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from jepa.data.video_writer import write_mp4


def write_episode(root: Path, name: str, frames: np.ndarray, fps: int, **arrays: np.ndarray) -> tuple[str, str]:
    """Write ``frames uint8 [L + 1, H, W, 3]`` as ``root/name.mp4`` and ``arrays`` (``actions``, ``states``, ...)
    as ``root/name.npz``; returns the two file names relative to ``root``."""
    count, actions, states = frames.shape[0], arrays["actions"].shape[0], arrays["states"].shape[0]
    if actions != count - 1 or states != count:
        raise ValueError(
            f"{name}: {count} frames need {count - 1} actions and {count} states, got {actions} and {states}"
        )
    write_mp4(root / f"{name}.mp4", frames, fps)
    np.savez(root / f"{name}.npz", **arrays)
    return f"{name}.mp4", f"{name}.npz"


EPISODE_LIST = "episodes.csv"


def record_episode_set(root: str | Path, settings: dict[str, Any], num_episodes: int,
                       make_episode: Callable[[], tuple[np.ndarray, dict[str, np.ndarray]]], description: str,
                       fps: int = 10) -> Path:  # fmt: skip
    """Record ``num_episodes`` episodes, each ``make_episode()`` → frames ``uint8 [L + 1, H, W, 3]`` and the arrays
    of its ``.npz`` (``actions``, ``states``, ...), under ``root/episodes``; list them in ``root/episodes.csv`` and
    draw the first four as ``root/preview.png`` filmstrips. Skipped when ``root/record.json`` holds the same
    ``settings`` (what made the set, a version among them); returns the list."""
    from PIL import Image
    from rich.progress import track

    root = Path(root).expanduser()
    listing, marker = root / EPISODE_LIST, root / "record.json"
    if listing.is_file() and marker.is_file() and json.loads(marker.read_text()) == settings:
        return listing
    (root / "episodes").mkdir(parents=True, exist_ok=True)
    rows, strips = ["video,trajectory"], []
    for i in track(range(num_episodes), description=description, transient=True):
        frames, arrays = make_episode()
        video, trajectory = write_episode(root / "episodes", f"{i:05d}", frames, fps, **arrays)
        rows.append(f"episodes/{video},episodes/{trajectory}")
        if len(strips) < 4:
            strips.append(np.concatenate(list(frames[:: max(1, (len(frames) - 1) // 8)]), axis=1))
    Image.fromarray(np.concatenate(strips)).save(root / "preview.png")
    listing.write_text("\n".join(rows) + "\n")
    marker.write_text(json.dumps(settings))
    return listing
