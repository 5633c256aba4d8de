"""One small interface for decoding video frames: decord where it is installed, PyAV otherwise.

Both return the same RGB frames (``uint8 [T, H, W, 3]``) for the same indices; the data pipeline only sees
:class:`VideoReader`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from importlib.util import find_spec
from typing import Protocol

import numpy as np


class VideoReader(Protocol):
    """An opened video: its frame count, its average frame rate, and random access to frames."""

    num_frames: int
    fps: float

    def get(self, indices: Sequence[int]) -> np.ndarray:
        """Frames at ``indices`` (any order, repeats allowed) as ``uint8 [len(indices), H, W, 3]``."""
        ...


class DecordReader:
    """Frames through decord (seek-based, fast on long videos)."""

    def __init__(self, path: str) -> None:
        import decord

        self._reader = decord.VideoReader(path, num_threads=1, ctx=decord.cpu(0))
        self.num_frames = len(self._reader)
        self.fps = float(self._reader.get_avg_fps())

    def get(self, indices: Sequence[int]) -> np.ndarray:
        return self._reader.get_batch(list(indices)).asnumpy()


class PyAVReader:
    """Frames through PyAV: decodes from the start up to the last frame asked for (right for short clips)."""

    def __init__(self, path: str) -> None:
        import av

        self.path = path
        with av.open(path) as container:
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate
            self.fps = float(rate) if rate else math.nan
            self.num_frames = stream.frames or sum(1 for _ in container.decode(stream))

    def get(self, indices: Sequence[int]) -> np.ndarray:
        import av

        wanted = sorted({int(i) for i in indices})
        if wanted and not 0 <= wanted[0] <= wanted[-1] < self.num_frames:
            raise IndexError(f"{self.path}: frame indices {wanted[0]}..{wanted[-1]} outside 0..{self.num_frames - 1}")
        frames: dict[int, np.ndarray] = {}
        with av.open(self.path) as container:
            for i, frame in enumerate(container.decode(container.streams.video[0])):
                if i in wanted:
                    frames[i] = frame.to_ndarray(format="rgb24")
                if i >= wanted[-1]:
                    break
        missing = [i for i in wanted if i not in frames]
        if missing:
            raise OSError(f"{self.path}: could not decode frames {missing[:5]} (file truncated?)")
        return np.stack([frames[int(i)] for i in indices])


class FallbackReader:
    """decord, and PyAV for the frames decord fails on (decord rejects some frame sizes, e.g. 48 pixels wide)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._reader: VideoReader = DecordReader(path)
        self.num_frames, self.fps = self._reader.num_frames, self._reader.fps

    def get(self, indices: Sequence[int]) -> np.ndarray:
        try:
            return self._reader.get(indices)
        except Exception:  # decord.DECORDError and friends
            if isinstance(self._reader, PyAVReader):
                raise
            self._reader = PyAVReader(self.path)
            return self._reader.get(indices)


BACKENDS = {"decord": DecordReader, "pyav": PyAVReader}


def default_backend() -> str:
    """``decord`` when it is importable, else ``pyav``."""
    return "decord" if find_spec("decord") is not None else "pyav"


def open_video(path: str, backend: str = "auto") -> VideoReader:
    """Open ``path`` with ``backend`` (``auto``: decord with PyAV as its fallback, or PyAV alone; ``decord``;
    ``pyav``); decoding errors propagate."""
    if backend == "auto":
        return FallbackReader(path) if default_backend() == "decord" else PyAVReader(path)
    name = backend
    if name not in BACKENDS:
        raise ValueError(f"unknown video backend {backend!r}; choose one of auto, {', '.join(BACKENDS)}")
    return BACKENDS[name](path)
