"""tools/tworoom_rollout_error.py: an exact model reads back where the simulator goes; one that ignores the actions
is off by about as far as the agent moved."""

from types import SimpleNamespace

import numpy as np
import torch

from jepa.envs.two_room import TwoRoomLayout
from tests.tools.conftest import load_tool

LAYOUT = TwoRoomLayout.for_size(32)
FRAME_STEP = 5


class SimulatorModel:
    """A 'world model' whose latent is the agent's position (the red centroid of the view) and whose rollout is the
    simulator itself (or, with ``still``, the agent not moving)."""

    def __init__(self, still: bool = False) -> None:
        self.encoder, self.still = SimpleNamespace(img_size=(LAYOUT.size, LAYOUT.size)), still

    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        red = (frames[:, :, 0] - frames[:, :, 1] > 1.0).float()  # [B, T, H, W] (ImageNet-normalised views)
        ys, xs = torch.meshgrid(torch.arange(LAYOUT.size) + 0.5, torch.arange(LAYOUT.size) + 0.5, indexing="ij")
        mass = red.sum(dim=(2, 3))
        return torch.stack([(red * xs).sum(dim=(2, 3)) / mass, (red * ys).sum(dim=(2, 3)) / mass], dim=-1)

    def rollout(self, context: torch.Tensor, moves: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
        out = []
        for start, blocks in zip(context[:, 0].numpy(), moves.numpy(), strict=True):
            position, path = start.astype(float), []
            for move in blocks:
                for _ in range(FRAME_STEP):
                    position = position if self.still else LAYOUT.move(position, move / FRAME_STEP)
                path.append(position)
            out.append(np.stack(path))
        return torch.as_tensor(np.stack(out), dtype=torch.float32)


def test_an_exact_model_reads_back_to_within_the_grid_and_a_still_one_does_not():
    tool = load_tool("tworoom_rollout_error")
    exact = tool.rollout_error(SimulatorModel(), rollouts=12, blocks=3, frame_step=FRAME_STEP, grid_step=0.5)
    assert len(exact["median_px"]) == 3 and max(exact["mean_px"]) < 0.5 and exact["read_back_error_px"] < 0.5
    assert 0 < exact["energy_at"]["1px"] < exact["energy_at"]["3px"] < exact["energy_at"]["8px"]
    still = tool.rollout_error(SimulatorModel(still=True), rollouts=12, blocks=3, frame_step=FRAME_STEP,
                               grid_step=0.5)  # fmt: skip
    assert still["mean_px"][0] > 1.0 and still["mean_px"][2] > still["mean_px"][0]  # the agent moved; it did not
