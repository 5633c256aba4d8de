"""Which frames of a video make a clip: the official V-JEPA / V-JEPA 2 rules, as pure functions.

The frame step comes from exactly one of ``frame_step`` (frames), ``fps`` (clip frames per second of video) or
``duration`` (seconds a clip spans). A clip spans ``fpc * step`` frames; in a long enough video its window ends at
a random frame (or at ``fpc * step`` without random sampling) and ``fpc`` frames are spread evenly over it. A video
shorter than the window is not dropped: every ``step``-th frame up to its end is taken and the last frame repeated
to fill ``fpc`` frames, exactly as the official loader does.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np


def check_one_rate(step: int | None, fps: float | None, duration: float | None) -> None:
    """Exactly one of the three ways to set the frame step must be given (the error names the config keys)."""
    given = [name for name, v in (("frame_step", step), ("fps", fps), ("duration", duration)) if v is not None]
    if len(given) != 1:
        raise ValueError(f"set exactly one of data.frame_step, data.fps, data.duration (got {given or 'none'})")


def clip_frame_step(
    frames_per_clip: int,
    *,
    step: int | None = None,
    fps: float | None = None,
    duration: float | None = None,
    video_fps: float | None = None,
) -> int:
    """The frame step for one video from exactly one of ``step``, ``fps`` or ``duration``.

    Official rules: ``fps`` → ``ceil(video_fps) // fps``; ``duration`` → ``int(duration * ceil(video_fps) / fpc)``.
    A video too slow for the request (step 0) uses every frame (the official loader stops with an assertion).
    """
    check_one_rate(step, fps, duration)
    if step is not None:
        return int(step)
    if video_fps is None or not math.isfinite(video_fps) or video_fps <= 0:
        raise ValueError(f"the video reports no frame rate ({video_fps}), needed for data.fps / data.duration")
    rate = math.ceil(video_fps)
    value = int(duration * rate / frames_per_clip) if duration is not None else int(rate // fps)
    return max(1, value)


def clip_indices(
    num_frames: int,
    frames_per_clip: int,
    step: int,
    num_clips: int = 1,
    rng: np.random.Generator | None = None,
    allow_clip_overlap: bool = False,
) -> list[np.ndarray]:
    """Frame indices (``int64 [frames_per_clip]``) of ``num_clips`` clips from a video of ``num_frames`` frames.

    The video is cut into ``num_clips`` equal parts, one clip per part. ``rng`` draws where each window ends
    (``None``: at the start of its part, as in evaluation). With ``allow_clip_overlap`` a short video's clips
    may overlap instead of each being squeezed into its own part.
    """
    if num_frames < 1:
        raise ValueError("the video has no frames")
    clip_len = frames_per_clip * step
    part = num_frames // num_clips
    clips = []
    for i in range(num_clips):
        if part > clip_len:
            end = int(rng.integers(clip_len, part)) if rng is not None else clip_len
            start = end - clip_len
            idx = np.clip(np.linspace(start, end, num=frames_per_clip), start, end - 1).astype(np.int64)
            idx += i * part
        elif not allow_clip_overlap:
            idx = _pad_with_last(part, frames_per_clip, step) + i * part
        else:
            span = min(clip_len, num_frames) - 1
            idx = _pad_with_last(span, frames_per_clip, step)
            shift = (num_frames - clip_len) // (num_clips - 1) if num_frames > clip_len else 0
            idx += i * shift
        clips.append(idx)
    return clips


def burst_indices(
    num_frames: int,
    frames_per_clip: int,
    step: int,
    num_clips: int,
    keyframe_before: Callable[[int], int],
    rng: np.random.Generator,
) -> list[np.ndarray]:
    """``num_clips`` clips that decode together for about the price of one: the first is drawn as
    :func:`clip_indices` draws one; the others end at random within what decoding the first already reads, from
    the keyframe at or before its start to its end. A video no longer than a clip gives its one clip each time."""
    first = clip_indices(num_frames, frames_per_clip, step, 1, rng)[0]
    clip_len = frames_per_clip * step
    if num_frames <= clip_len:
        return [first] * num_clips
    end = int(first[0]) + clip_len  # the first window is [start, start + clip_len)
    lowest_end = keyframe_before(int(first[0])) + clip_len
    clips = [first]
    for _ in range(num_clips - 1):
        stop = int(rng.integers(lowest_end, end + 1))
        start = stop - clip_len
        clips.append(np.clip(np.linspace(start, stop, num=frames_per_clip), start, stop - 1).astype(np.int64))
    return clips


def _pad_with_last(span: int, frames_per_clip: int, step: int) -> np.ndarray:
    """``span // step`` evenly spread frames of ``[0, span)``, then the last one repeated up to ``frames_per_clip``."""
    taken = np.linspace(0, span, num=span // step)
    padded = np.concatenate([taken, np.full(frames_per_clip - len(taken), span)])
    return np.clip(padded, 0, max(span - 1, 0)).astype(np.int64)
