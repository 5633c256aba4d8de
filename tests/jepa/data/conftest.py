from pathlib import Path

import numpy as np
import pytest

from jepa.data.video_writer import write_mp4


def moving_square(num_frames: int = 20, size: int = 32, seed: int = 0) -> np.ndarray:
    """Frames whose grey background encodes the frame number (level ``12 t``), with a red square moving right
    and a little noise (different per ``seed``): every frame differs and says which it is."""
    rng = np.random.default_rng(seed)
    frames = np.repeat(12 * np.arange(num_frames), size * size * 3).reshape(num_frames, size, size, 3)
    frames = frames + rng.integers(0, 3, frames.shape)
    for t in range(num_frames):
        frames[t, 8:16, t : t + 8] = (255, 0, 0)
    return frames.astype(np.uint8)


def frame_numbers(frames: np.ndarray) -> list[int]:
    """Which frames of :func:`moving_square` these are (read from the background's grey level)."""
    return [int(round(f[24:, :, 1].mean() / 12)) for f in frames]


@pytest.fixture
def video_dir(tmp_path: Path) -> Path:
    """Three 20-frame MP4s at 10 fps, a PNG, and the four kinds of bad file."""
    for i in range(3):
        write_mp4(tmp_path / f"clip{i}.mp4", moving_square(seed=i), fps=10)
    from PIL import Image

    Image.fromarray(moving_square(1)[0]).save(tmp_path / "still.png")
    (tmp_path / "empty.mp4").write_bytes(b"")
    whole = (tmp_path / "clip0.mp4").read_bytes()
    (tmp_path / "truncated.mp4").write_bytes(whole[: len(whole) // 3])
    (tmp_path / "notes.mp4").write_text("not a video\n" * 200)
    return tmp_path
