"""Writing videos: frames to H.264 MP4 with PyAV (the demo clips, recorded episodes, test videos)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


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
