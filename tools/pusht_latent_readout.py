"""What a Push-T world model's latent sees of the agent and of the T block: held-out ridge read-outs of their poses
from the latents of rendered scenes, and the planner's energy against how far the agent is (block in place);
prints one JSON line.

    python tools/pusht_latent_readout.py runs/wm/pusht_e2e/<time>/last.ckpt
    python tools/pusht_latent_readout.py CKPT --scenes 30 --agents 30

Each scene is a block pose from the protocol's start sampler with the agent put at ``--agents`` places in the view,
at least 60 world units from the block's position. ``r2``: the read-outs' held-out R² per coordinate (agent x, y;
block x, y; block angle's cos, sin), fitted on three quarters of the views; ``agent_rmse``: the agent read-out's
error in world units. ``energy_by_agent_distance``: the mean L1 distance per dimension between the latents of two
views of one scene, by how far apart their agents are (world units); ``energy_other_block``: the same for views of
different scenes whose agents are under 16 units apart. A planner judges a goal by that energy: it can only bring
the agent to its goal place when the energy grows with the agent's distance.
"""

from __future__ import annotations

import argparse
import json
from itertools import pairwise

import numpy as np
import torch
from torch import Tensor

from jepa.data.trajectories import to_tensor
from jepa.envs.pusht import VIEW_HIGH, VIEW_LOW, PushTState, PushTView, sample_start
from jepa.planning.run import load_world_model
from jepa.probes.inverse_dynamics import r2_score
from predictors.world_model import LatentWorldModel

CLEARANCE = 60.0  # world units at least between the agent and the block's position (the T's stem reaches 120)
AGENT_BINS = (0, 16, 32, 64, 128, 256)  # world units: the edges of energy_by_agent_distance's bins
RIDGE = 1e-2


def ridge_r2(x: Tensor, y: Tensor, train: np.ndarray, test: np.ndarray) -> tuple[Tensor, Tensor]:
    """Held-out R² and RMSE per column of ``y`` for a ridge read-out (with a bias) fitted on the ``train`` rows."""
    x = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], dim=1)
    gram = x[train].T @ x[train] + RIDGE * torch.eye(x.shape[1], dtype=x.dtype)
    pred = x[test] @ torch.linalg.solve(gram, x[train].T @ y[train])
    return r2_score(pred, y[test]), (pred - y[test]).pow(2).mean(0).sqrt()


@torch.no_grad()
def latent_readout(model: LatentWorldModel, scenes: int = 30, agents: int = 30, seed: int = 0) -> dict[str, object]:
    """The read-outs and energies of the module's docstring for ``scenes × agents`` rendered views."""
    view, rng = PushTView(model.encoder.img_size[0]), np.random.default_rng(seed)
    frames, agent, block, scene = [], [], [], []
    for s in range(scenes):
        start = sample_start(rng)
        for _ in range(agents):
            place = rng.uniform(VIEW_LOW + 16, VIEW_HIGH - 16, size=2)
            while np.hypot(*(place - start.block[:2])) < CLEARANCE:
                place = rng.uniform(VIEW_LOW + 16, VIEW_HIGH - 16, size=2)
            frames.append(view.reset(PushTState((float(place[0]), float(place[1])), start.block)))
            agent.append(place)
            block.append(start.block)
            scene.append(s)
    view.close()
    frames_t = to_tensor(np.stack(frames))
    latents = torch.cat([model.encode(frames_t[i : i + 128, None])[:, 0] for i in range(0, len(frames_t), 128)])
    latents = latents.flatten(1).double()
    if 3 * len(latents) // 4 <= latents.shape[1]:
        raise ValueError(f"{scenes} scenes x {agents} agents: the read-outs fit on 3/4 of the views, which must "
                         f"outnumber the latent's {latents.shape[1]} dimensions; draw more")  # fmt: skip
    agent_xy, block_pose, scene_id = np.array(agent), np.array(block), np.array(scene)
    targets = np.c_[agent_xy, block_pose[:, :2], np.cos(block_pose[:, 2]), np.sin(block_pose[:, 2])]
    order = rng.permutation(len(targets))
    r2, rmse = ridge_r2(latents, torch.from_numpy(targets), order[: 3 * len(order) // 4], order[3 * len(order) // 4 :])
    r2, rmse = r2.numpy(), rmse.numpy()
    energy = (torch.cdist(latents, latents, p=1) / latents.shape[1]).numpy()
    apart = np.hypot(*(agent_xy[:, None] - agent_xy[None]).transpose(2, 0, 1))
    same = (scene_id[:, None] == scene_id[None]) & (apart > 0)
    by_distance = {f"{lo}-{hi}": round(float(energy[same & (apart >= lo) & (apart < hi)].mean()), 4)
                   for lo, hi in pairwise(AGENT_BINS)}  # fmt: skip
    other = (scene_id[:, None] != scene_id[None]) & (apart < AGENT_BINS[1])
    return {"r2": {"agent": r2[:2].round(3).tolist(), "block_xy": r2[2:4].round(3).tolist(),
                   "block_angle": r2[4:].round(3).tolist()},
            "agent_rmse": rmse[:2].round(2).tolist(), "energy_by_agent_distance": by_distance,
            "energy_other_block": round(float(energy[other].mean()), 4) if other.any() else None}  # fmt: skip


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", help="a jepa fit experiment=wm/pusht_e2e checkpoint")
    parser.add_argument("--scenes", type=int, default=30, help="block poses")
    parser.add_argument("--agents", type=int, default=30, help="agent places per block pose")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    model = load_world_model(args.checkpoint)
    result = {"checkpoint": args.checkpoint, **latent_readout(model, args.scenes, args.agents, args.seed)}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
