"""Prepare once, train many times: transcode a sample list's videos to the training resolution with frequent
keyframes, so that a clip decodes only the frames it needs at the size it is trained at.

Each video becomes H.264 with its short side ``short_side`` (never enlarged), a keyframe every
``keyframe_interval`` frames and no B-frames; every frame is kept at the same average rate, so frame indices, frame
steps and clip durations are those of the original. A new list beside the old one names the prepared files with
the same labels; images are listed as they were. An unreadable file (missing, empty, truncated, not a video) is
named, counted and left out; a file prepared by an earlier run is kept, so an interrupted run resumes.
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from rich.progress import Progress

from jepa.data.video_lists import IMAGE_SUFFIXES, list_entries
from jepa.data.video_readers import output_size
from jepa.data.video_writer import h264_stream


@dataclass
class PrepareReport:
    """What one ``jepa prepare`` run did: the lists it wrote and how many files it transcoded, kept from an earlier
    run, or skipped (with why)."""

    lists: list[Path] = field(default_factory=list)
    transcoded: int = 0
    reused: int = 0
    images: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)


def prepared_name(source: str) -> str:
    """The prepared file's name: the source's stem and a hash of its full path (two lists may hold a.mp4 twice)."""
    digest = hashlib.sha1(str(Path(source).resolve()).encode()).hexdigest()[:10]
    return f"{Path(source).stem}-{digest}.mp4"


def transcode(source: str, target: str, short_side: int, keyframe_interval: int, crf: int, preset: str) -> int:
    """Write ``source`` to ``target`` as prepared H.264 (through ``target.partial.mp4``, renamed when whole);
    returns its frame count. Raises on an unreadable or truncated source, leaving the partial file to the caller."""
    import av

    if not os.path.isfile(source):
        raise FileNotFoundError("no such file")
    if os.path.getsize(source) == 0:
        raise OSError("empty file")
    partial = Path(target).with_suffix(".partial.mp4")
    written = 0
    with av.open(source) as reader, av.open(str(partial), "w") as writer:
        stream = reader.streams.video[0]
        stream.thread_count = 1
        rate = stream.average_rate or stream.guessed_rate
        if not rate:
            raise OSError("the video reports no frame rate")
        declared = stream.frames
        width, height = output_size(stream.codec_context.width, stream.codec_context.height, short_side)
        out = h264_stream(writer, width, height, rate, keyframe_interval, crf, preset)
        for frame in reader.decode(stream):
            small = frame.reformat(width=width, height=height, format="yuv420p", interpolation="AREA")
            small.pts, small.time_base = written, 1 / rate  # constant rate: frame i at i / rate
            writer.mux(out.encode(small))
            written += 1
        writer.mux(out.encode())
    if written == 0 or (declared and written < declared):
        raise OSError(f"truncated: decoded {written} of {declared or '?'} frames")
    partial.rename(target)
    return written


def _prepare_one(source: str, target: str, short_side: int, keyframe_interval: int, crf: int, preset: str
                 ) -> tuple[str, str]:  # fmt: skip
    """``(status, reason)`` of one file: ``transcoded``, ``reused`` or ``skipped`` (with why)."""
    if os.path.isfile(target):
        return "reused", ""
    try:
        transcode(source, target, short_side, keyframe_interval, crf, preset)
    except Exception as err:  # PyAV raises its own types (av.InvalidDataError, ...) besides OSError
        Path(target).with_suffix(".partial.mp4").unlink(missing_ok=True)
        return "skipped", str(err) or type(err).__name__
    return "transcoded", ""


def prepared_list_path(listing: str | Path, short_side: int) -> Path:
    """The new list beside ``listing``: ``k400.csv`` → ``k400.256p.csv`` (a ``.npy`` list becomes a ``.csv``)."""
    listing = Path(listing).expanduser()
    return listing.with_name(f"{listing.stem}.{short_side}p.csv")


def prepare_lists(
    lists: list[str],
    out_dir: str | Path,
    short_side: int = 256,
    keyframe_interval: int = 16,
    workers: int = 1,
    crf: int = 18,
    preset: str = "veryfast",
) -> PrepareReport:
    """Transcode every video of ``lists`` into ``out_dir`` on ``workers`` processes (a progress bar) and write
    each list's prepared twin beside it (:func:`prepared_list_path`)."""
    for name, value, least in (("short side", short_side, 2), ("keyframe interval", keyframe_interval, 1),
                               ("workers", workers, 1)):  # fmt: skip
        if value < least:
            raise ValueError(f"{name} {value}: at least {least}")
    out_dir = Path(out_dir).expanduser()
    out_dir.mkdir(parents=True, exist_ok=True)
    missing = next((name for name in lists if not Path(name).expanduser().is_file()), None)
    if missing is not None:
        raise ValueError(f"no such list file {missing}")
    entries = {name: list_entries(name) for name in lists}
    listed = {path for rows in entries.values() for path, _ in rows}
    videos = sorted(path for path in listed if not path.lower().endswith(IMAGE_SUFFIXES))
    status: dict[str, tuple[str, str]] = {}
    settings = (short_side, keyframe_interval, crf, preset)
    with Progress() as progress, ProcessPoolExecutor(workers) as pool:
        task = progress.add_task(f"preparing {len(videos)} videos", total=len(videos))
        futures = {pool.submit(_prepare_one, v, str(out_dir / prepared_name(v)), *settings): v for v in videos}
        for future in as_completed(futures):
            status[futures[future]] = future.result()
            progress.advance(task)
    report = PrepareReport()
    for name, rows in entries.items():
        kept = []
        for path, label in rows:
            if path.lower().endswith(IMAGE_SUFFIXES):
                kept.append((path, label))
                report.images += 1
            elif status[path][0] != "skipped":
                kept.append((str(out_dir.resolve() / prepared_name(path)), label))
        delimiter = "::" if any(" " in path for path, _ in kept) else " "  # the official lists' fallback
        target = prepared_list_path(name, short_side)
        target.write_text("".join(f"{path}{delimiter}{label}\n" for path, label in kept))
        report.lists.append(target)
    for path in videos:
        kind, reason = status[path]
        if kind == "skipped":
            report.skipped.append((path, reason))
        else:
            setattr(report, kind, getattr(report, kind) + 1)
    return report
