"""Benchmark the video training loader; prints one JSON line per setting.

Loader mode (default): clips/s through `jepa fit`'s own training loader (decode + augmentation + masks) per
(backend, worker count), after the workers' first batch, and clips/s per loader process.
Stage mode (``--stages``): where one clip's CPU time goes, per backend, on one core: open, decode (seek and the
frames a clip needs), crop+resize (uint8), normalise (float; on the device with data.normalize_on_device=true),
masks+collate, and the host-to-device copy of a batch (float and uint8) where CUDA is there. CPU-ms per clip and
clips/s per core follow from the sum.

    python tools/bench_data.py                                        # the demo clips, decord and PyAV, 0/1/2 workers
    python tools/make_test_videos.py /tmp/cam720                      # 720p H.264, a keyframe every 250 frames
    python tools/bench_data.py --stages --clips 20 experiment=vjepa2/vitl16 data.datasets=[/tmp/cam720/videos.csv]
    python tools/bench_data.py --workers 4 8 16 --backends decord experiment=vjepa2/vitl16 data.datasets=[k400.csv]

Compare with tools/bench_step.py's samples/s: the loader must deliver at least the step's clips/s.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from importlib.util import find_spec
from typing import Any

import numpy as np
import torch

from jepa.bench import run_script
from jepa.compose import compose_run
from jepa.data.video import decode_clips
from jepa.data.video_readers import torchcodec_loads
from jepa.data.video_transforms import ClipTransform, normalize_clips
from jepa.masks import MaskCollator
from jepa.train import build_data

DEFAULT = ["experiment=vjepa2/quickstart"]
BACKENDS = ("decord", "pyav", "torchcodec")


def video_data(overrides: list[str]) -> Any:
    """The set-up training DataModule of a video run."""
    run, _ = compose_run(overrides)
    if run.objective != "vjepa":
        raise SystemExit(f"objective {run.objective!r}: bench_data measures video (vjepa) loaders")
    data = build_data(run)[0]
    data.setup()
    return data


def clips_per_second(overrides: list[str], batches: int) -> dict[str, float]:
    """Time ``batches`` training batches after the first (worker start-up and the first decode excluded)."""
    data = video_data(overrides)
    loader = iter(data.train_dataloader())
    next(loader)
    clips, start = 0, time.perf_counter()
    for _ in range(batches):
        try:
            batch = next(loader)
        except StopIteration:
            loader = iter(data.train_dataloader())
            batch = next(loader)
        clips += sum(len(g["labels"]) for g in batch["groups"])
    seconds = time.perf_counter() - start
    return {"clips": clips, "seconds": round(seconds, 4), "clips_per_s": round(clips / seconds, 2)}


def _timed(totals: dict[str, float], stage: str, fn: Callable[[], Any]) -> Any:
    """Run ``fn`` and add its CPU seconds (this process, all threads) to ``totals[stage]``."""
    start = time.process_time()
    out = fn()
    totals[stage] = totals.get(stage, 0.0) + time.process_time() - start
    return out


def stage_times(overrides: list[str], clips: int, seed: int = 0) -> dict[str, Any]:
    """CPU milliseconds per clip of each loader stage over ``clips`` random training clips, on one thread."""
    data = video_data(overrides)
    dataset = data.datasets["train"]
    rng = np.random.default_rng(seed)
    crop = ClipTransform(data.crop_size, True, data.scale, data.ratio, data.horizontal_flip, normalize=False)
    collate = MaskCollator(data.mask_sets, seed)
    totals: dict[str, float] = {}
    made: list[tuple[torch.Tensor, int]] = []
    burst = dataset.clips_per_video
    for _ in range(max(1, clips // burst)):
        sample = dataset.samples[int(rng.integers(len(dataset.samples)))]
        fpc = dataset.fpcs[sample.source]
        reader = _timed(totals, "open", lambda: dataset.open(sample.path))
        indices = _timed(totals, "open", lambda: dataset.plan_clips(reader, fpc, rng))  # bursts seek a keyframe
        for clip_frames in _timed(totals, "decode", lambda: decode_clips(reader, indices)):
            clip = _timed(totals, "crop_resize", lambda: crop(clip_frames))
            _timed(totals, "normalise", lambda: normalize_clips(clip))
            made.append((clip, sample.label))
    batch_size = min(data.batch_size, len(made))
    batches = [made[i : i + batch_size] for i in range(0, len(made) - batch_size + 1, batch_size)]
    collated = [_timed(totals, "masks_collate", lambda b=b: collate(b)) for b in batches]
    per_clip = {k: 1000 * v / (len(made) if k != "masks_collate" else batch_size * len(batches))
                for k, v in totals.items()}  # fmt: skip
    result: dict[str, Any] = {f"{k}_ms": round(v, 2) for k, v in per_clip.items()}
    cpu_ms = sum(per_clip.values())
    shipped_ms = cpu_ms - per_clip["normalise"]
    result.update({
        "cpu_ms_per_clip": round(cpu_ms, 1),
        "clips_per_s_per_core": round(1000 / cpu_ms, 2),
        "cpu_ms_per_clip_normalised_on_device": round(shipped_ms, 1),
        "clips_per_s_per_core_normalised_on_device": round(1000 / shipped_ms, 2),
    })
    if torch.cuda.is_available() and collated:
        result.update(transfer_ms(collated[0]["groups"][0]["inputs"]))
    return result


def transfer_ms(uint8_batch: torch.Tensor) -> dict[str, float]:
    """Wall milliseconds per clip to copy a pinned batch to the GPU: as float clips, and as uint8 clips normalised
    there."""
    floats = normalize_clips(uint8_batch).pin_memory()
    uint8 = uint8_batch.pin_memory()
    out = {}
    for name, host, after in (("float", floats, lambda x: x), ("uint8", uint8, normalize_clips)):
        torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(5):
            after(host.to("cuda", non_blocking=True))
        torch.cuda.synchronize()
        out[f"transfer_{name}_ms"] = round(1000 * (time.perf_counter() - start) / 5 / len(host), 3)
    return out


def available(backend: str) -> str | None:
    """Why ``backend`` cannot run here (``None``: it can)."""
    if backend == "decord" and find_spec("decord") is None:
        return "decord is not installed"
    if backend == "torchcodec" and not torchcodec_loads():
        return "torchcodec is not installed or finds no FFmpeg libraries"
    return None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    parser.add_argument("--batches", type=int, default=10, help="timed batches per setting (loader mode)")
    parser.add_argument("--stages", action="store_true", help="per-stage CPU time per clip, on one core")
    parser.add_argument("--clips", type=int, default=16, help="clips per backend (stage mode)")
    parser.add_argument("overrides", nargs="*", help=f"Hydra overrides KEY=VALUE, anywhere on the line (default: "
                                                     f"{' '.join(DEFAULT)})")  # fmt: skip
    argv = list(sys.argv[1:] if argv is None else argv)
    given = [a for a in argv if "=" in a and not a.startswith("-")]
    args = parser.parse_args([a for a in argv if a not in given])
    overrides = given or DEFAULT
    for backend in args.backends:
        reason = available(backend)
        if reason is not None:
            print(json.dumps({"backend": backend, "skipped": reason}), flush=True)
            continue
        setting = [*overrides, f"data.backend={backend}"]
        if args.stages:
            torch.set_num_threads(1)
            result = stage_times(setting, args.clips)
            print(json.dumps({"backend": backend, "mode": "stages", "overrides": overrides, **result}), flush=True)
            continue
        for workers in args.workers:
            result = clips_per_second([*setting, f"data.num_workers={workers}"], args.batches)
            per_core = round(result["clips_per_s"] / max(1, workers), 2)
            print(json.dumps({"backend": backend, "workers": workers, "overrides": overrides, **result,
                              "clips_per_s_per_process": per_core}), flush=True)  # fmt: skip


if __name__ == "__main__":
    sys.exit(run_script(main))
