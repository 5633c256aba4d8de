"""tools/pusht_latent_readout.py: a latent that is the agent's place reads the agent out exactly and its energy grows
with the agent's distance; one that sees only the block reads no agent and its energy stays flat."""

from itertools import pairwise
from types import SimpleNamespace

import pytest
import torch

from tests.tools.conftest import load_tool

SIZE = 64


class ColourModel:
    """A 'world model' whose latent is the centroid and mass of one colour in the view: the agent's royal blue, or
    the block's slate grey."""

    def __init__(self, target: str) -> None:
        self.encoder, self.target = SimpleNamespace(img_size=(SIZE, SIZE)), target

    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        blue_minus_red = frames[:, :, 2] - frames[:, :, 0]  # [B, T, H, W], ImageNet-normalised views
        mask = (blue_minus_red > 2.0) if self.target == "agent" else (blue_minus_red - 0.9).abs() < 0.3
        mask = mask.float()
        ys, xs = torch.meshgrid(torch.arange(SIZE) + 0.5, torch.arange(SIZE) + 0.5, indexing="ij")
        mass = mask.sum(dim=(2, 3)).clamp(min=1)
        return torch.stack([(mask * xs).sum(dim=(2, 3)) / mass, (mask * ys).sum(dim=(2, 3)) / mass,
                            mass / 100], dim=-1)  # fmt: skip


def test_the_agent_latent_reads_the_agent_and_the_block_latent_does_not():
    tool = load_tool("pusht_latent_readout")
    seen = tool.latent_readout(ColourModel("agent"), scenes=6, agents=12)
    assert min(seen["r2"]["agent"]) > 0.98 and max(seen["agent_rmse"]) < 4.0  # world units (4 a pixel)
    energies = list(seen["energy_by_agent_distance"].values())
    assert all(a < b for a, b in pairwise(energies)), energies
    blind = tool.latent_readout(ColourModel("block"), scenes=6, agents=12)
    assert max(blind["r2"]["agent"]) < 0.3 and min(blind["r2"]["block_xy"]) > 0.9
    assert max(blind["energy_by_agent_distance"].values()) < 0.2 * blind["energy_other_block"]
    with pytest.raises(ValueError, match="2 scenes x 2 agents: .* outnumber the latent's 3 dimensions"):
        tool.latent_readout(ColourModel("agent"), scenes=2, agents=2)
