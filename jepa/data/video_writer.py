"""Writing videos: frames to H.264 MP4 with PyAV (the demo clips, recorded episodes, test videos, `jepa prepare`)."""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np


def write_mp4(
    path: Path,
    frames: np.ndarray | Iterable[np.ndarray],
    fps: float,
    keyframe_interval: int | None = None,
    crf: int = 18,
    preset: str = "veryfast",
    bit_rate: int | None = None,
) -> int:
    """Encode ``uint8 [H, W, 3]`` frames as H.264 (yuv420p, no B-frames when ``keyframe_interval`` is set, as
    camera encoders write) with a keyframe every ``keyframe_interval`` frames (x264's default otherwise), at
    constant quality ``crf`` or, given ``bit_rate`` (bits/s), at that average rate; returns the number of frames
    written. ``frames`` may be a generator, so that long videos never sit in memory."""
    import av

    written = 0
    with av.open(str(path), "w") as container:
        stream = None
        for image in frames:
            if stream is None:
                stream = h264_stream(container, image.shape[1], image.shape[0], fps, keyframe_interval, crf, preset,
                                     bit_rate)  # fmt: skip
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")))
            written += 1
        if stream is not None:
            container.mux(stream.encode())
    return written


def h264_stream(container: Any, width: int, height: int, fps: float | Fraction, keyframe_interval: int | None = None,
                crf: int = 18, preset: str = "veryfast", bit_rate: int | None = None) -> Any:  # fmt: skip
    """An H.264 (libx264, yuv420p) stream added to an open PyAV output ``container``, as :func:`write_mp4` sets it."""
    rate = fps if isinstance(fps, Fraction) else Fraction(fps).limit_denominator(1001)
    stream = container.add_stream("libx264", rate=rate)
    stream.width, stream.height = width, height
    stream.pix_fmt = "yuv420p"
    stream.options = {"preset": preset} if bit_rate else {"crf": str(crf), "preset": preset}
    if bit_rate:
        stream.bit_rate = int(bit_rate)
    if keyframe_interval is not None:
        keyint = int(keyframe_interval)
        stream.options["x264-params"] = f"keyint={keyint}:min-keyint={keyint}:scenecut=0:bframes=0"
    return stream
