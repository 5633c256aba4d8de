"""Write camera-like test videos and their official-format list: H.264 at a camera's resolution and keyframe
interval (default 1280x720, 30 fps, 10 s, a keyframe every 250 frames, no B-frames, 8 Mbit/s as
a phone camera writes), of a panning textured scene
with moving objects and sensor grain, so that decoding costs what real footage costs (the demo clips are far too
small to show where a loader's time goes).

    python tools/make_test_videos.py /tmp/cam720 --count 8
    python tools/bench_data.py --stages experiment=vjepa2/vitl16 data.datasets=[/tmp/cam720/videos.csv]
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from rich.progress import track
from torch.nn.functional import interpolate

from jepa.data.video_writer import write_mp4


def camera_frames(width: int, height: int, num_frames: int, seed: int) -> Iterator[np.ndarray]:
    """Frames ``uint8 [height, width, 3]`` of a slow camera pan over multi-scale colour texture, with a few objects
    crossing the view and Gaussian grain (sigma 4) on every frame."""
    rng = np.random.default_rng(seed)
    pan = max(width, height) // 4
    canvas = np.zeros((height + pan, width + pan, 3), np.float32)
    for cells, weight in ((4, 90.0), (16, 45.0), (64, 20.0)):
        coarse = torch.from_numpy(rng.uniform(-1, 1, (1, 3, cells, cells * canvas.shape[1] // canvas.shape[0] + 1)))
        smooth = interpolate(coarse.float(), size=canvas.shape[:2], mode="bicubic", align_corners=False)
        canvas += weight * smooth[0].permute(1, 2, 0).numpy()
    canvas = np.clip(canvas + 128, 0, 255).astype(np.uint8)
    objects = [(rng.uniform(0, width), rng.uniform(0, height), rng.uniform(-6, 6), rng.uniform(-4, 4),
                int(rng.integers(max(2, height // 36), max(3, height // 6))),
                tuple(int(c) for c in rng.integers(0, 256, 3))) for _ in range(4)]  # fmt: skip
    phase = rng.uniform(0, 2 * np.pi, 2)
    rows, cols = np.ogrid[:height, :width]
    for t in range(num_frames):
        dx = int((pan - 1) * (0.5 + 0.5 * np.sin(phase[0] + t / 90)))
        dy = int((pan - 1) * (0.5 + 0.5 * np.sin(phase[1] + t / 130)))
        frame = canvas[dy : dy + height, dx : dx + width].copy()
        for x, y, vx, vy, radius, colour in objects:
            cx, cy = (x + vx * t) % width, (y + vy * t) % height
            frame[(rows - cy) ** 2 + (cols - cx) ** 2 <= radius**2] = colour
        grain = rng.normal(0, 4, frame.shape).astype(np.int16)
        yield np.clip(frame.astype(np.int16) + grain, 0, 255).astype(np.uint8)


def make_test_videos(
    root: str | Path,
    count: int = 8,
    width: int = 1280,
    height: int = 720,
    seconds: float = 10.0,
    fps: float = 30.0,
    keyframe_interval: int = 250,
    bit_rate: int = 8_000_000,
    seed: int = 0,
) -> Path:
    """Write ``count`` videos to ``root`` and ``root/videos.csv`` (official layout: ``path label``, labels
    ``i % 2``); videos already there are kept. Returns the list's path."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    lines = []
    for i in track(range(count), description="test videos"):
        path = root / f"camera_{width}x{height}_{i:03d}.mp4"
        if not path.exists():
            partial = path.with_suffix(".partial.mp4")
            write_mp4(partial, camera_frames(width, height, int(seconds * fps), seed + i), fps,
                      keyframe_interval=keyframe_interval, bit_rate=bit_rate, preset="veryfast")  # fmt: skip
            partial.rename(path)
        lines.append(f"{path.resolve()} {i % 2}\n")
    listing = root / "videos.csv"
    listing.write_text("".join(lines))
    return listing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", help="output folder (the videos and videos.csv)")
    parser.add_argument("--count", type=int, default=8)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--keyframe-interval", type=int, default=250)
    parser.add_argument("--bit-rate", type=int, default=8_000_000, help="bits/s (a 720p phone camera: about 8M)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    listing = make_test_videos(args.root, args.count, args.width, args.height, args.seconds, args.fps,
                               args.keyframe_interval, args.bit_rate, args.seed)  # fmt: skip
    print(f"wrote {listing}")


if __name__ == "__main__":
    main()
