"""Planning in latent space: CEM and MPPI over action sequences, the goal energy of a world model, and the
receding-horizon (MPC) loop in a simulator.

The energy of an action sequence is the L1 distance between the world model's predicted tokens after the last
action and the goal image's tokens (as V-JEPA 2-AC plans), or its mean over the tokens after every action; states
the predictor needs are integrated from the actions (``state + action``). Every candidate of an iteration is rolled
out in one batch on the model's device.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from jepa.config import PlannerConfig
from jepa.data.trajectories import to_tensor
from predictors.world_model import LatentWorldModel

Energy = Callable[[Tensor], Tensor]  # actions [N, H, A] -> energies [N]


def _draw(mean: Tensor, std: Tensor, samples: int, max_action: float, generator: torch.Generator) -> Tensor:
    noise = torch.randn((samples, *mean.shape), generator=generator).to(mean.device)
    candidates = (mean + std * noise).clamp(-max_action, max_action)
    candidates[0] = mean  # the current mean always competes
    return candidates


def cem(energy: Energy, mean: Tensor, cfg: PlannerConfig, generator: torch.Generator) -> Tensor:
    """The cross-entropy method from ``mean [H, A]``: the final mean of the elite candidates."""
    std = torch.full_like(mean, cfg.init_std)
    for _ in range(cfg.iterations):
        candidates = _draw(mean, std, cfg.samples, cfg.max_action, generator)
        elite = candidates[energy(candidates).topk(cfg.elites, largest=False).indices]
        mean, std = elite.mean(0), elite.std(0).clamp(min=cfg.min_std)
    return mean


def mppi(energy: Energy, mean: Tensor, cfg: PlannerConfig, generator: torch.Generator) -> Tensor:
    """Model-predictive path integral from ``mean [H, A]``: candidates averaged with weights ``softmax(-E / T)``."""
    std = torch.full_like(mean, cfg.init_std)
    for _ in range(cfg.iterations):
        candidates = _draw(mean, std, cfg.samples, cfg.max_action, generator)
        weights = torch.softmax(-energy(candidates) / cfg.temperature, dim=0)
        mean = torch.einsum("n,nha->ha", weights, candidates)
        spread = torch.einsum("n,nha->ha", weights, (candidates - mean) ** 2).sqrt()
        std = spread.clamp(min=cfg.min_std)
    return mean


PLANNERS = {"cem": cem, "mppi": mppi}


def plan_actions(energy: Energy, mean: Tensor, cfg: PlannerConfig, generator: torch.Generator) -> Tensor:
    """The action sequence ``[H, A]`` that ``cfg.method`` finds lowest in ``energy``, starting from ``mean``."""
    if cfg.method not in PLANNERS:
        raise ValueError(f"planner method {cfg.method!r}: choose one of {', '.join(PLANNERS)}")
    return PLANNERS[cfg.method](energy, mean, cfg, generator)


GOAL_COSTS = ("final", "every_step")


def goal_energy(model: LatentWorldModel, context: Tensor, past_actions: Tensor, past_states: Tensor,
                goal: Tensor, goal_cost: str = "final") -> Energy:  # fmt: skip
    """Energy of action sequences ``[K, H, A]`` taken after the ``C`` observed frames ``context [1, C * N, D]`` (with
    the ``C - 1`` actions ``[C - 1, A]`` taken between them and their states ``[C, S]``, the last the current one):
    mean L1 distance to ``goal [1, N, D]`` of the predicted tokens after the last action (``final``) or after each
    action, averaged (``every_step``)."""
    if goal_cost not in GOAL_COSTS:
        raise ValueError(f"plan.planner.goal_cost={goal_cost!r}: choose one of {', '.join(GOAL_COSTS)}")
    n = model.tokens_per_frame

    @torch.no_grad()
    def energy(actions: Tensor) -> Tensor:
        count = actions.shape[0]
        future = past_states[-1] + torch.cumsum(actions, dim=1) - actions  # the state at each action's frame
        states = torch.cat([past_states[:-1].expand(count, -1, -1), future], dim=1)
        actions = torch.cat([past_actions.expand(count, -1, -1), actions], dim=1)
        frames = 1 if goal_cost == "final" else actions.shape[1] - past_actions.shape[0]
        predicted = model.rollout(context.expand(count, -1, -1), actions, states)[:, -frames * n :]
        return (predicted.unflatten(1, (frames, n)) - goal[:, None]).abs().mean(dim=(1, 2, 3))

    return energy


def mpc_episode(model: LatentWorldModel, env, goal_frame: np.ndarray, steps: int, cfg: PlannerConfig,
                generator: torch.Generator, reached: Callable[[], bool] | None = None) -> list[np.ndarray]:  # fmt: skip
    """Receding-horizon control toward ``goal_frame``: plan ``cfg.horizon`` actions from the last
    ``cfg.context_frames`` views seen (``env.frame``), their states (``env.proprio``) and the actions taken between
    them, take the first, and replan at the next view with the rest of the plan as the new start, for ``steps``
    environment steps. A planned action spans ``cfg.action_block`` environment steps (the model's frame step), taken
    as that many equal parts. ``reached`` (when given) ends the episode as soon as it is true. Returns the views
    seen, the start's first."""
    device = next(model.predictor.parameters()).device

    def tokens(frame: np.ndarray) -> Tensor:
        return model.encode(to_tensor(frame[None])[None].to(device))

    goal, frames = tokens(goal_frame), [env.frame]
    seen, states = [tokens(env.frame)], [torch.as_tensor(env.proprio, device=device)]
    taken: list[Tensor] = []
    mean = torch.zeros(cfg.horizon, model.predictor.action_encoder.in_features, device=device)
    while len(frames) <= steps and not (reached is not None and reached()):
        c = min(cfg.context_frames, len(seen))
        past_actions = torch.stack(taken[len(taken) - (c - 1) :]) if c > 1 else mean[:0]
        energy = goal_energy(model, torch.cat(seen[-c:], dim=1), past_actions, torch.stack(states[-c:]), goal,
                             cfg.goal_cost)  # fmt: skip
        plan = plan_actions(energy, mean, cfg, generator)
        part = (plan[0] / cfg.action_block).cpu().numpy()
        for _ in range(min(cfg.action_block, steps + 1 - len(frames))):
            frames.append(env.step(part))
            if reached is not None and reached():
                break
        seen.append(tokens(env.frame))
        states.append(torch.as_tensor(env.proprio, device=device))
        taken.append(plan[0])
        mean = torch.cat([plan[1:], torch.zeros_like(plan[:1])])
    return frames
