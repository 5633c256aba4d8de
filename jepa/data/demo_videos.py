"""The built-in demo videos: short PushT rollouts (the gym-pusht simulator: pymunk physics, pygame rendering)
written as MP4 with official-format sample lists, so video pretraining runs with no download.

In every clip the agent (the blue disc) moves in one of four directions, pushing the T-shaped block when it meets
it; the direction is the clip's label (0 right, 1 down, 2 left, 3 up in image coordinates), a property that only
motion reveals. Rendering is seeded: the same arguments give the same clips.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image
from rich.progress import track

from jepa.envs.pusht import WORKSPACE, crop_view, make_env

DIRECTIONS = ((1, 0), (0, 1), (-1, 0), (0, -1))
SETTINGS_FILE = "demo.json"
PREVIEW_FILE = "preview.png"  # rows: clips of each direction (0 right, 1 down, 2 left, 3 up), frames in time order
RENDER_VERSION = 2  # bumped whenever rendering changes, so that cached sets are made again


def render_rollout(env, direction: int, rng: np.random.Generator, num_frames: int, speed: float) -> np.ndarray:
    """Frames ``uint8 [num_frames, H / 2, W / 2, 3]`` of one PushT rollout, seen through the central half of the
    workspace (so the block and agent are large): the agent starts behind the T block and moves along
    ``direction`` at ``speed`` world units per step, usually pushing the block ahead of it."""
    step = speed * np.array(DIRECTIONS[direction], dtype=float)
    side = np.array([-step[1], step[0]]) / speed
    block = rng.uniform(200, WORKSPACE - 200, size=2)  # where the block is says nothing of the direction
    start = block - step / speed * rng.uniform(40, 100) + side * rng.uniform(-40, 40)
    start = np.clip(start, 20, WORKSPACE - 20)
    frame, _ = env.reset(seed=int(rng.integers(2**31)),
                         options={"reset_to_state": [*start, *block, rng.uniform(-np.pi, np.pi)]})  # fmt: skip
    frames = [frame]
    target = start.copy()
    for _ in range(num_frames - 1):
        target = np.clip(target + step, 0, WORKSPACE)
        frame, *_ = env.step(target.astype(np.float32))
        frames.append(frame)
    return np.stack([crop_view(frame) for frame in frames])


def write_mp4(path: Path, frames: np.ndarray, fps: int) -> None:
    """Encode ``uint8 [T, H, W, 3]`` frames as H.264 (yuv420p) with PyAV."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "18", "preset": "veryfast"}
        for image in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())


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
    ``root/val.csv`` (official ``path label`` lists, paths relative to ``root``) and ``root/preview.png`` (a
    filmstrip of the first clips). Skipped when ``root`` already holds a set made with the same settings. Returns
    the two list paths."""
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
        lines = []
        for i in track(range(count), description=f"rendering PushT demo clips ({split})", transient=True):
            label = i % len(DIRECTIONS)
            name = f"videos/{split}_{i:04d}.mp4"
            frames = render_rollout(env, label, rng, num_frames, speed)
            write_mp4(root / name, frames, fps)
            lines.append(f"{name} {label}")
            if split == "train" and len(strips) < 2 * len(DIRECTIONS):
                strips.append(np.concatenate(list(frames[:: max(1, num_frames // 6)]), axis=1))
        list_path.write_text("\n".join(lines) + "\n")
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
