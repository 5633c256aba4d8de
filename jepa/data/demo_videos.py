"""The built-in demo videos: short PushT rollouts (the gym-pusht simulator: pymunk physics, pygame rendering)
written as MP4 with official-format sample lists, so video pretraining runs with no download.

In every clip the agent (the blue disc) moves in one of four directions, pushing the T-shaped block when it meets
it; the direction is the clip's label (0 right, 1 down, 2 left, 3 up in image coordinates), a property that only
motion reveals. Two harder properties of the same clips, the block's motion, get lists of their own beside it:
``{split}_turn.csv`` (how the block turned: 0 by more than ``TURN`` radians one way, 2 the other, 1 less) and
``{split}_shift.csv`` (how far it moved: 0 under ``SHIFT[0]`` world units, 1 up to ``SHIFT[1]``, 2 farther).
Rendering is seeded: the same arguments give the same clips.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image
from rich.progress import track

from jepa.data.video_writer import write_mp4
from jepa.envs.pusht import WORKSPACE, crop_view, make_env

DIRECTIONS = ((1, 0), (0, 1), (-1, 0), (0, -1))
SETTINGS_FILE = "demo.json"
PREVIEW_FILE = "preview.png"  # rows: clips of each direction (0 right, 1 down, 2 left, 3 up), frames in time order
TURN = 0.15  # radians: the block's turn over a clip below which its turn label is 1 ("about straight")
SHIFT = (25.0, 65.0)  # world units: the bounds of the block's shift label (a third of the clips in each class)
PROPERTIES = ("turn", "shift")  # the block-motion labels listed beside the direction's lists
RENDER_VERSION = 3  # bumped whenever rendering changes, so that cached sets are made again


def render_rollout(env, direction: int, rng: np.random.Generator, num_frames: int,
                   speed: float) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Frames ``uint8 [num_frames, H / 2, W / 2, 3]`` of one PushT rollout, seen through the central half of the
    workspace (so the block and agent are large), and the block's pose ``(x, y, angle)`` at each frame: the agent
    starts behind the T block and moves along ``direction`` at ``speed`` world units per step, usually pushing the
    block ahead of it."""
    step = speed * np.array(DIRECTIONS[direction], dtype=float)
    side = np.array([-step[1], step[0]]) / speed
    block = rng.uniform(200, WORKSPACE - 200, size=2)  # where the block is says nothing of the direction
    start = block - step / speed * rng.uniform(40, 100) + side * rng.uniform(-40, 40)
    start = np.clip(start, 20, WORKSPACE - 20)
    frame, _ = env.reset(seed=int(rng.integers(2**31)),
                         options={"reset_to_state": [*start, *block, rng.uniform(-np.pi, np.pi)]})  # fmt: skip
    frames, poses = [frame], [block_pose(env)]
    target = start.copy()
    for _ in range(num_frames - 1):
        target = np.clip(target + step, 0, WORKSPACE)
        frame, *_ = env.step(target.astype(np.float32))
        frames.append(frame)
        poses.append(block_pose(env))
    return np.stack([crop_view(frame) for frame in frames]), np.stack(poses)


def block_pose(env) -> np.ndarray:
    """The T block's ``(x, y, angle)`` now."""
    block = env.unwrapped.block
    return np.array([*block.position, block.angle])


def block_motion_labels(poses: np.ndarray) -> dict[str, int]:
    """The clip's ``turn`` and ``shift`` labels from the block's poses ``[T, 3]`` (see the module's docstring)."""
    turn = (poses[-1, 2] - poses[0, 2] + np.pi) % (2 * np.pi) - np.pi
    shift = float(np.hypot(*(poses[-1, :2] - poses[0, :2])))
    return {"turn": 0 if turn < -TURN else 2 if turn > TURN else 1, "shift": int(np.searchsorted(SHIFT, shift))}


def make_demo_videos(
    root: str | Path,
    num_train: int = 480,
    num_val: int = 240,
    num_frames: int = 32,
    size: int = 64,
    fps: int = 10,
    speed: float = 4.0,
    seed: int = 0,
) -> tuple[Path, Path]:
    """Render ``num_train + num_val`` labelled clips under ``root/videos`` and write ``root/train.csv`` and
    ``root/val.csv`` (official ``path label`` lists, paths relative to ``root``), the block-motion lists
    ``root/{split}_{turn,shift}.csv`` and ``root/preview.png`` (a filmstrip of the first clips). Skipped when
    ``root`` already holds a set made with the same settings. Returns the two list paths."""
    root = Path(root).expanduser()
    settings = {"version": RENDER_VERSION, "num_train": num_train, "num_val": num_val, "num_frames": num_frames,
                "size": size, "fps": fps, "speed": speed, "seed": seed}  # fmt: skip
    lists = root / "train.csv", root / "val.csv"
    marker = root / SETTINGS_FILE
    if all(p.is_file() for p in lists) and marker.is_file() and json.loads(marker.read_text()) == settings:
        return lists
    (root / "videos").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    env = make_env(2 * size)
    strips: list[np.ndarray] = []
    for split, count, list_path in (("train", num_train, lists[0]), ("val", num_val, lists[1])):
        lines: list[str] = []
        motion: dict[str, list[str]] = {name: [] for name in PROPERTIES}
        for i in track(range(count), description=f"rendering PushT demo clips ({split})", transient=True):
            label = i % len(DIRECTIONS)
            name = f"videos/{split}_{i:04d}.mp4"
            frames, poses = render_rollout(env, label, rng, num_frames, speed)
            write_mp4(root / name, frames, fps)
            lines.append(f"{name} {label}")
            for prop, value in block_motion_labels(poses).items():
                motion[prop].append(f"{name} {value}")
            if split == "train" and len(strips) < 2 * len(DIRECTIONS):
                strips.append(np.concatenate(list(frames[:: max(1, num_frames // 6)]), axis=1))
        list_path.write_text("\n".join(lines) + "\n")
        for prop, prop_lines in motion.items():
            (root / f"{split}_{prop}.csv").write_text("\n".join(prop_lines) + "\n")
    if strips:
        Image.fromarray(np.concatenate(strips)).save(root / PREVIEW_FILE)
    env.close()
    marker.write_text(json.dumps(settings))
    return lists


def write_anticipation_lists(root: str | Path, num_frames: int = 32) -> tuple[Path, Path]:
    """EK100-style annotation files for the demo clips (``anticipation_{train,val}.csv`` beside their lists): one
    action per clip spanning its second half, the direction as the verb and one noun (the block), so that the
    anticipation probe runs on them: which way will the agent be moving?"""
    from jepa.data.video_lists import read_sample_list

    root = Path(root).expanduser()
    paths = []
    for split in ("train", "val"):
        rows = ["narration_id,path,start_frame,stop_frame,verb_class,noun_class"]
        rows += [f"{split}_{i},{sample.path},{num_frames // 2},{num_frames - 1},{sample.label},0"
                 for i, sample in enumerate(read_sample_list(root / f"{split}.csv"))]  # fmt: skip
        paths.append(root / f"anticipation_{split}.csv")
        paths[-1].write_text("\n".join(rows) + "\n")
    return paths[0], paths[1]
