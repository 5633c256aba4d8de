"""One small interface for decoding video frames: decord, PyAV or torchcodec (PyTorch's decoder).

All return the same RGB frames (``uint8 [T, H, W, 3]``) for the same indices; the data pipeline only sees
:class:`VideoReader`. Each decodes with one thread by default: loader workers already use every core, and one
thread per decoder spends the least CPU per clip (``threads`` raises it for a main-process loader). With
``short_side`` each scales frames down as it converts them from the decoder's format, so a 720p file yields, say,
640×360 frames for less than converting them at full size costs; the backends' scalers then differ slightly.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from functools import cache, lru_cache
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

    def keyframe_before(self, index: int) -> int:
        """The keyframe at or before frame ``index``: where decoding it must start."""
        ...


def _check_range(path: str, wanted: Sequence[int], num_frames: int) -> None:
    if wanted and not 0 <= min(wanted) <= max(wanted) < num_frames:
        raise IndexError(f"{path}: frame indices {min(wanted)}..{max(wanted)} outside 0..{num_frames - 1}")


def output_size(width: int, height: int, short_side: int) -> tuple[int, int]:
    """``(width, height)`` scaled so that the short side is ``short_side`` (never enlarged), both even (yuv420p)."""
    scale = min(1.0, short_side / min(width, height))
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def _scaled(width: int, height: int, short_side: int | None) -> tuple[int, int] | None:
    """:func:`output_size`, or ``None`` when frames are not to be scaled (no ``short_side``, or none larger)."""
    if short_side is None or short_side >= min(width, height):
        return None
    return output_size(width, height, short_side)


@lru_cache(maxsize=65536)
def frame_size(path: str) -> tuple[int, int]:
    """The video's ``(width, height)``, read from its header once per process (a loader opens each file again and
    again)."""
    import av

    with av.open(path) as container:
        context = container.streams.video[0].codec_context
        return context.width, context.height


def scaled_size(path: str, short_side: int | None) -> tuple[int, int] | None:
    """``(width, height)`` of ``path``'s frames scaled to the shorter side ``short_side`` (:func:`output_size`), or
    ``None`` when they are not to be scaled (no ``short_side``, or frames already no larger)."""
    return None if short_side is None else _scaled(*frame_size(path), short_side)


def seek_keyframe(path: str, index: int, fps: float) -> int:
    """The keyframe at or before frame ``index`` of a constant-rate video, found by one backward seek (the
    file is not read through); 0 when the stream has no frame rate or timestamps."""
    import av

    if not (math.isfinite(fps) and fps > 0) or index <= 0:
        return 0
    with av.open(path) as container:
        stream = container.streams.video[0]
        start = stream.start_time or 0
        container.seek(start + int(index / fps / stream.time_base), stream=stream, backward=True, any_frame=False)
        packet = next((p for p in container.demux(stream) if p.size), None)
        if packet is None or packet.pts is None:
            return 0
        return min(index, round(float((packet.pts - start) * stream.time_base) * fps))


class DecordReader:
    """Frames through decord (it indexes the keyframes on open and seeks to the one before each run of frames)."""

    def __init__(self, path: str, threads: int = 1, short_side: int | None = None) -> None:
        import decord

        width, height = scaled_size(path, short_side) or (-1, -1)
        self._reader = decord.VideoReader(path, num_threads=threads, ctx=decord.cpu(0), width=width, height=height)
        self.num_frames = len(self._reader)
        self.fps = float(self._reader.get_avg_fps())
        self._keyframes: list[int] | None = None

    def get(self, indices: Sequence[int]) -> np.ndarray:
        return self._reader.get_batch(list(indices)).asnumpy()

    def keyframe_before(self, index: int) -> int:
        if self._keyframes is None:
            self._keyframes = [int(k) for k in self._reader.get_key_indices()]  # decord indexed them on open
        return self._keyframes[max(0, bisect_right(self._keyframes, index) - 1)] if self._keyframes else 0


class PyAVReader:
    """Frames through PyAV: seeks to the keyframe before the first frame asked for, decodes up to the last and
    converts only the frames asked for. A frame's index is its timestamp times the average rate, exact for the
    constant-rate videos cameras and ``jepa prepare`` write; a stream without timestamps is decoded from its
    start and counted."""

    def __init__(self, path: str, threads: int = 1, short_side: int | None = None) -> None:
        import av

        self.path, self.threads = path, threads
        with av.open(path) as container:
            stream = container.streams.video[0]
            width, height = _scaled(stream.codec_context.width, stream.codec_context.height, short_side) or (None, None)
            self._size = {"width": width, "height": height}
            rate = stream.average_rate or stream.guessed_rate
            self.fps = float(rate) if rate else math.nan
            self.num_frames = stream.frames or sum(1 for _ in container.decode(stream))

    def get(self, indices: Sequence[int]) -> np.ndarray:
        import av

        wanted = sorted({int(i) for i in indices})
        _check_range(self.path, wanted, self.num_frames)
        frames: dict[int, np.ndarray] = {}
        with av.open(self.path) as container:
            stream = container.streams.video[0]
            stream.thread_count = self.threads
            seconds_per_frame = 1.0 / self.fps if math.isfinite(self.fps) and self.fps > 0 else None
            start = stream.start_time or 0
            if seconds_per_frame is not None and stream.time_base is not None and wanted[0] > 0:
                container.seek(start + int(wanted[0] * seconds_per_frame / stream.time_base), stream=stream,
                               backward=True, any_frame=False)  # fmt: skip
            for count, frame in enumerate(container.decode(stream)):
                index = count
                if frame.pts is not None and seconds_per_frame is not None:
                    index = round(float((frame.pts - start) * stream.time_base) / seconds_per_frame)
                if index in wanted and index not in frames:
                    frames[index] = frame.to_ndarray(format="rgb24", **self._size)
                if index >= wanted[-1]:
                    break
        missing = [i for i in wanted if i not in frames]
        if missing:
            raise OSError(f"{self.path}: could not decode frames {missing[:5]} (file truncated?)")
        return np.stack([frames[int(i)] for i in indices])

    def keyframe_before(self, index: int) -> int:
        return seek_keyframe(self.path, index, self.fps)


class TorchCodecReader:
    """Frames through torchcodec (``exact`` seeking from its own scan of the file). It needs FFmpeg's shared
    libraries (4 to 8) where the dynamic loader finds them."""

    def __init__(self, path: str, threads: int = 1, short_side: int | None = None) -> None:
        from torchcodec.decoders import VideoDecoder
        from torchcodec.transforms import Resize

        self.path = path
        size = scaled_size(path, short_side)
        self._decoder = VideoDecoder(path, device="cpu", num_ffmpeg_threads=threads, seek_mode="exact",
                                     dimension_order="NHWC",
                                     transforms=[Resize(size[::-1])] if size else None)  # fmt: skip
        meta = self._decoder.metadata
        self.num_frames = int(meta.num_frames)
        self.fps = float(meta.average_fps) if meta.average_fps else math.nan

    def get(self, indices: Sequence[int]) -> np.ndarray:
        _check_range(self.path, list(indices), self.num_frames)
        return self._decoder.get_frames_at([int(i) for i in indices]).data.numpy()

    def keyframe_before(self, index: int) -> int:
        return seek_keyframe(self.path, index, self.fps)


class FallbackReader:
    """A fast reader, and PyAV for the files it fails on (decord rejects some frame sizes, e.g. 48 pixels wide)."""

    def __init__(self, path: str, threads: int = 1, primary: type = DecordReader,
                 short_side: int | None = None) -> None:  # fmt: skip
        self.path, self.threads, self.short_side = path, threads, short_side
        self._reader: VideoReader = primary(path, threads, short_side)
        self.num_frames, self.fps = self._reader.num_frames, self._reader.fps

    def get(self, indices: Sequence[int]) -> np.ndarray:
        try:
            return self._reader.get(indices)
        except IndexError:
            raise
        except Exception:  # decord.DECORDError, torchcodec's RuntimeError and friends
            if isinstance(self._reader, PyAVReader):
                raise
            self._reader = PyAVReader(self.path, self.threads, self.short_side)
            return self._reader.get(indices)

    def keyframe_before(self, index: int) -> int:
        return self._reader.keyframe_before(index)


BACKENDS = {"decord": DecordReader, "pyav": PyAVReader, "torchcodec": TorchCodecReader}


def default_backend() -> str:
    """What ``auto`` decodes with: torchcodec where it finds FFmpeg (the least CPU per clip in ``bench_data``'s
    stages), else decord, else PyAV; the fast ones fall back to PyAV for a file they fail on."""
    if torchcodec_loads():
        return "torchcodec"
    return "decord" if find_spec("decord") is not None else "pyav"


@cache
def torchcodec_loads() -> bool:
    """Whether torchcodec is installed and finds FFmpeg's libraries (it is otherwise importable but cannot decode)."""
    if find_spec("torchcodec") is None:
        return False
    try:
        import torchcodec
    except (ImportError, OSError, RuntimeError):
        return False
    return torchcodec.ffmpeg_major_version is not None  # None: no FFmpeg libraries were found


def open_video(path: str, backend: str = "auto", threads: int = 1, short_side: int | None = None) -> VideoReader:
    """Open ``path`` with ``backend`` (``auto``: :func:`default_backend` with PyAV as its fallback; ``decord``;
    ``pyav``; ``torchcodec``) decoding on ``threads`` threads, frames scaled down to ``short_side`` when given;
    decoding errors propagate."""
    if backend == "auto":
        chosen = default_backend()
        if chosen == "pyav":
            return PyAVReader(path, threads, short_side)
        return FallbackReader(path, threads, BACKENDS[chosen], short_side)
    if backend not in BACKENDS:
        raise ValueError(f"unknown video backend {backend!r}; choose one of auto, {', '.join(BACKENDS)}")
    return BACKENDS[backend](path, threads, short_side)
