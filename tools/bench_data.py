"""Benchmark the video training loader (decode + augmentation + masks, as `jepa fit` runs it); prints one JSON line
per (backend, worker count): clips/s after the workers' first batch.

    python tools/bench_data.py                                        # the demo clips, decord and PyAV, 0/1/2 workers
    python tools/bench_data.py --workers 4 8 16 --backends decord experiment=vjepa2/vitl16 data.datasets=[k400.csv]

Compare with tools/bench_step.py's samples/s: the loader must deliver at least the step's clips/s.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from importlib.util import find_spec

from jepa.bench import run_script
from jepa.compose import compose_run
from jepa.train import build_data

DEFAULT = ["experiment=vjepa2/quickstart"]


def clips_per_second(overrides: list[str], batches: int) -> dict[str, float]:
    """Time ``batches`` training batches after the first (worker start-up and the first decode excluded)."""
    run, _ = compose_run(overrides)
    if run.objective != "vjepa":
        raise SystemExit(f"objective {run.objective!r}: bench_data measures video (vjepa) loaders")
    data = build_data(run)[0]
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--backends", nargs="+", default=["decord", "pyav"], choices=["decord", "pyav"])
    parser.add_argument("--batches", type=int, default=10, help="timed batches per setting")
    parser.add_argument("overrides", nargs="*", help=f"Hydra overrides (default: {' '.join(DEFAULT)})")
    args = parser.parse_args(argv)
    overrides = args.overrides or DEFAULT
    for backend in args.backends:
        if backend == "decord" and find_spec("decord") is None:
            print(json.dumps({"backend": backend, "skipped": "decord is not installed"}), flush=True)
            continue
        for workers in args.workers:
            setting = [*overrides, f"data.backend={backend}", f"data.num_workers={workers}"]
            result = clips_per_second(setting, args.batches)
            print(json.dumps({"backend": backend, "workers": workers, "overrides": overrides, **result}), flush=True)


if __name__ == "__main__":
    sys.exit(run_script(main))
