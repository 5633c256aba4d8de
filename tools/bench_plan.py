"""Benchmark planning with an action-conditioned world model: seconds per planned action (encode the current view,
then the experiment's CEM/MPPI search over rollouts to the goal's tokens); prints one JSON line.

    python tools/bench_plan.py --preset vjepa2_ac_vitg          # ViT-g 256², predictor 24×1024, CEM 400×10, 2 steps
    python tools/bench_plan.py --preset cpu_tiny                # wm/pusht_quickstart's sizes and search
    python tools/bench_plan.py --preset cpu_tiny plan.planner.samples=256   # any Hydra override

Weights are random (the timing does not depend on them); ``world_model=CKPT`` is not needed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import torch

from jepa.bench import add_device_options, device_and_dtype, device_name, run_script
from jepa.compose import compose_run
from jepa.config import WorldModelConfig, validated
from jepa.objectives.world_model import build_world_model
from jepa.planning.planners import goal_energy, plan_actions

PRESETS = {
    "vjepa2_ac_vitg": ["experiment=wm/vjepa2_ac_vitg", "model.encoder_source=null"],
    "cpu_tiny": ["experiment=wm/pusht_quickstart", "model.encoder_source=null"],
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu_tiny")
    parser.add_argument("--actions", type=int, default=5, help="timed planned actions (median reported)")
    add_device_options(parser)
    parser.add_argument("overrides", nargs="*", help="Hydra overrides on top of the preset")
    args = parser.parse_args(argv)
    device, dtype = device_and_dtype(args)
    run, _ = compose_run(PRESETS[args.preset] + args.overrides)
    torch.manual_seed(0)
    model = build_world_model(validated(WorldModelConfig, run.model, "model")).eval().to(device)
    cfg, encoder = run.plan.planner, model.encoder
    action_dim = model.predictor.action_encoder.in_features
    frame = torch.rand(1, 1, 3, *encoder.img_size, device=device)
    generator = torch.Generator().manual_seed(0)
    autocast = torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    with torch.no_grad(), autocast:
        goal = model.encode(torch.rand_like(frame))
        times = []
        for i in range(args.actions + 1):
            sync()
            start = time.perf_counter()
            context = model.encode(frame)
            state = torch.zeros(1, action_dim, device=device)
            energy = goal_energy(model, context, state[:0], state, goal)
            plan = plan_actions(energy, torch.zeros(cfg.horizon, action_dim, device=device), cfg, generator)
            plan.cpu()
            sync()
            if i:  # the first action warms up kernels and allocator
                times.append(time.perf_counter() - start)
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None
    print(json.dumps({
        "preset": args.preset, "device": device_name(device),
        "threads": torch.get_num_threads(), "dtype": str(dtype).removeprefix("torch."), "method": cfg.method,
        "horizon": cfg.horizon, "samples": cfg.samples, "iterations": cfg.iterations,
        "encoder_params_m": round(sum(p.numel() for p in encoder.parameters()) / 1e6, 1),
        "predictor_params_m": round(sum(p.numel() for p in model.predictor.parameters()) / 1e6, 1),
        "seconds_per_action": round(statistics.median(times), 4), "peak_gib": peak and round(peak, 2),
        "overrides": args.overrides,
    }), flush=True)  # fmt: skip


if __name__ == "__main__":
    sys.exit(run_script(main))
