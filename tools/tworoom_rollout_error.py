"""How far off, in pixels, a Two-Room world model's rollouts are: each predicted latent is read back as the position
whose rendered view's latent is nearest (L1, over a grid of free positions) and compared with where the simulator
really takes the agent; prints one JSON line.

    python tools/tworoom_rollout_error.py runs/wm/tworoom_quickstart/<time>/last.ckpt
    python tools/tworoom_rollout_error.py CKPT --rollouts 300 --blocks 8 --grid-step 0.5

Rollouts start at seeded free positions and take blocks of uniform random actions, each held for ``--frame-step``
environment steps (the model's ``data.frame_step``). ``read_back_error`` is the same read-out applied to the true
latents of off-grid positions: the floor of the measure. ``energy_at`` is the mean L1 distance per dimension
between the latents of positions that far apart: what the planner's energy sees.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch
from torch import Tensor

from jepa.data.trajectories import to_tensor
from jepa.envs.two_room import TwoRoom, TwoRoomLayout
from jepa.planning.run import load_world_model
from predictors.world_model import LatentWorldModel

OFFSETS = (1.0, 3.0, 8.0, 20.0)  # pixels: where energy_at is measured


def encode(model: LatentWorldModel, env: TwoRoom, positions: np.ndarray, batch: int = 512) -> Tensor:
    """The latents ``[K, D]`` of the views with the agent at ``positions [K, 2]``."""
    out = [model.encode(to_tensor(np.stack([env.render(p) for p in positions[i : i + batch]]))[:, None])[:, 0]
           for i in range(0, len(positions), batch)]  # fmt: skip
    return torch.cat(out)


@torch.no_grad()
def rollout_error(model: LatentWorldModel, rollouts: int = 300, blocks: int = 8, frame_step: int = 5,
                  grid_step: float = 0.5, seed: int = 0) -> dict[str, object]:  # fmt: skip
    """Median and mean read-back error (pixels) of each predicted block, the read-out's own floor and the energy at
    a few distances (see the module's docstring)."""
    layout = TwoRoomLayout.for_size(model.encoder.img_size[0])
    env, rng = TwoRoom(layout), np.random.default_rng(seed)
    axis = np.arange(0.0, layout.size, grid_step)
    grid = np.array([(x, y) for x in axis for y in axis if layout.free(np.array([x, y]))])
    grid_latents = encode(model, env, grid)

    def read_back(latents: Tensor) -> np.ndarray:
        return grid[torch.cdist(latents, grid_latents, p=1).argmin(1).numpy()]

    starts = np.stack([layout.sample_free(rng) for _ in range(rollouts)])
    actions = rng.uniform(-1, 1, size=(rollouts, blocks, 2)).astype(np.float32)
    truth = np.zeros((rollouts, blocks, 2))
    for k in range(rollouts):
        env.reset(starts[k])
        for b in range(blocks):
            for _ in range(frame_step):
                env.step(actions[k, b])
            truth[k, b] = env.position
    moves = torch.as_tensor(actions * frame_step)
    first = torch.as_tensor(np.stack([layout.to_state(s) for s in starts]))
    states = first[:, None] + torch.cumsum(moves, 1) - moves
    predicted = model.rollout(encode(model, env, starts)[:, None], moves, states)
    errors = [np.hypot(*(read_back(predicted[:, b]) - truth[:, b]).T) for b in range(blocks)]
    probes = np.stack([layout.sample_free(rng) for _ in range(rollouts)])
    energy = {}
    probe_latents = encode(model, env, probes)
    for offset in OFFSETS:
        angle = rng.uniform(0, 2 * np.pi, size=rollouts)
        moved = probes + offset * np.stack([np.cos(angle), np.sin(angle)], axis=1)
        free = np.array([layout.free(p) for p in moved])
        gap = probe_latents[torch.from_numpy(free)] - encode(model, env, moved[free])
        energy[f"{offset:g}px"] = round(float(gap.abs().mean()), 4)
    return {"median_px": [round(float(np.median(e)), 2) for e in errors],
            "mean_px": [round(float(e.mean()), 2) for e in errors],
            "read_back_error_px": round(float(np.hypot(*(read_back(probe_latents) - probes).T).mean()), 2),
            "energy_at": energy}  # fmt: skip


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", help="a jepa fit experiment=wm/tworoom_quickstart checkpoint")
    parser.add_argument("--rollouts", type=int, default=300)
    parser.add_argument("--blocks", type=int, default=8, help="predicted blocks per rollout")
    parser.add_argument("--frame-step", type=int, default=5, help="environment steps per block (data.frame_step)")
    parser.add_argument("--grid-step", type=float, default=0.5, help="pixels between the read-out's positions")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_grad_enabled(False)
    result = {"checkpoint": args.checkpoint, **rollout_error(load_world_model(args.checkpoint), args.rollouts,
                                                               args.blocks, args.frame_step, args.grid_step,
                                                               args.seed)}  # fmt: skip
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
