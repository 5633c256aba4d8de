"""The goal-reaching protocols of ``jepa plan``: start/goal pairs, the planner against a random policy from the
same starts, success by each environment's own criterion, and the picture of a few rollouts.

Episode ``i``: a start (PushT: :func:`sample_start`; Two-Room: a free position; Reacher: joint angles at rest); its
goal is the view after ``goal_steps`` moves of a data policy from it (PushT: ``plan.goal_policy``, the random walk
or the pushing policy; Two-Room: the waypoint policy; Reacher: the swing policy), drawn on a seed stream the
recorders never use, so the pairs are held out, and redrawn until the agent (Reacher: the fingertip) ends at least
``min_goal_distance`` from where it started. From the start again, the planner gets ``max_steps`` steps of
receding-horizon control toward the goal view, and, separately, the random policy ``max_steps`` moves of its own.
PushT judges where the agent and block end; Two-Room ends an episode as soon as the agent overlaps its goal by half
(stable-worldmodel's criterion), Reacher as soon as the fingertip is within the suite's target radius of the goal's.
Seeded: the same seed gives the same pairs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.progress import track

from jepa.config import PlanConfig
from jepa.envs.pusht import PushingPolicy, PushTState, PushTView, random_actions, sample_start
from jepa.planning.planners import mpc_episode
from predictors.world_model import LatentWorldModel

PROTOCOL_STREAM = 1  # start/goal pairs come from seed stream (seed, 1); the recorders draw from seed alone
GOAL_TRIES = 20  # random walks drawn for a goal far enough from its start, the last kept when none is


@dataclass
class EpisodeResult:
    """Where one episode ended against its goal (agent and PushT's block distances in the environment's units,
    the block's angle in radians; Two-Room has no block)."""

    agent: float
    block: float | None
    angle: float | None
    success: bool
    frames: list[np.ndarray]


def judge(final: PushTState, goal: PushTState, cfg: PlanConfig, frames: list[np.ndarray]) -> EpisodeResult:
    agent, block, angle = final.distances(goal)
    ok = agent <= cfg.agent_tolerance and block <= cfg.block_tolerance and angle <= cfg.angle_tolerance
    return EpisodeResult(agent, block, angle, ok, frames)


def goal_reaching(model: LatentWorldModel, cfg: PlanConfig, seed: int = 0) -> dict[str, Any]:
    """Run the protocol; returns ``{"goals": [...], "planner": [...], "random": [...], "stay": [...]}``, the last
    three lists of :class:`EpisodeResult` (``stay``: where the start itself is against the goal, the share of goals
    reached by doing nothing)."""
    rng = np.random.default_rng((seed, PROTOCOL_STREAM))
    generator = torch.Generator().manual_seed(seed)
    view = PushTView(model.encoder.img_size[0])
    goals, planned, random, stay = [], [], [], []
    for _ in track(range(cfg.episodes), description="planning episodes"):
        start, env_seed = sample_start(rng), int(rng.integers(2**31))
        start_frame = view.reset(start, env_seed)
        start_state = view.state
        for _ in range(GOAL_TRIES):  # a goal the agent must move to: at least min_goal_distance from the start
            view.reset(start, env_seed)
            if cfg.goal_policy == "pushing":
                pusher = PushingPolicy(rng)
                for _ in range(cfg.goal_steps):
                    view.step(pusher(view.state))
            else:
                for action in random_actions(rng, cfg.goal_steps):
                    view.step(action)
            if start_state.distances(view.state)[0] >= cfg.min_goal_distance:
                break
        goal_state, goal_frame = view.state, view.frame
        goals.append(goal_frame)
        stay.append(judge(start_state, goal_state, cfg, [start_frame]))
        view.reset(start, env_seed)
        frames = mpc_episode(model, view, goal_frame, cfg.max_steps, cfg.planner, generator)
        planned.append(judge(view.state, goal_state, cfg, frames))
        view.reset(start, env_seed)
        frames = [view.frame] + [view.step(a) for a in random_actions(rng, cfg.max_steps)]
        random.append(judge(view.state, goal_state, cfg, frames))
    view.close()
    return {"goals": goals, "planner": planned, "random": random, "stay": stay}


def _reaching(model: LatentWorldModel, cfg: PlanConfig, seed: int, env: Any, sample_start: Callable,
              goal_policy: Callable, where: Callable[[], np.ndarray],
              reached: Callable[[np.ndarray, np.ndarray], bool]) -> dict[str, Any]:  # fmt: skip
    """The protocol of an environment whose goal is where something is (``where()``, judged by ``reached(where(),
    goal)``): starts from ``sample_start(rng)``, goals after ``cfg.goal_steps`` moves of ``goal_policy(rng)`` (a
    callable of no argument giving the next action), uniform random actions in ``[-1, 1]²`` for the random
    policy; each episode ends as soon as the goal is reached."""
    rng = np.random.default_rng((seed, PROTOCOL_STREAM))
    generator = torch.Generator().manual_seed(seed)
    goals, planned, random, stay = [], [], [], []

    def result(goal: np.ndarray, frames: list[np.ndarray], ok: bool) -> EpisodeResult:
        return EpisodeResult(float(np.hypot(*(where() - goal))), None, None, ok, frames)

    for _ in track(range(cfg.episodes), description="planning episodes"):
        start = sample_start(rng)
        env.reset(start)
        origin = where()
        for _ in range(GOAL_TRIES):
            env.reset(start)
            policy = goal_policy(rng)
            for _ in range(cfg.goal_steps):
                env.step(policy())
            if np.hypot(*(where() - origin)) >= cfg.min_goal_distance:
                break
        goal = where()
        goals.append(env.frame)
        start_frame = env.reset(start)
        stay.append(result(goal, [start_frame], reached(origin, goal)))
        frames = mpc_episode(model, env, goals[-1], cfg.max_steps, cfg.planner, generator,
                             reached=lambda goal=goal: reached(where(), goal))  # fmt: skip
        planned.append(result(goal, frames, reached(where(), goal)))
        env.reset(start)
        frames, ok = [env.frame], False
        for action in rng.uniform(-1, 1, size=(cfg.max_steps, 2)):
            frames.append(env.step(action))
            if reached(where(), goal):
                ok = True
                break
        random.append(result(goal, frames, ok))
    env.close()
    return {"goals": goals, "planner": planned, "random": random, "stay": stay}


def two_room_goal_reaching(model: LatentWorldModel, cfg: PlanConfig, seed: int = 0) -> dict[str, Any]:
    """The protocol in Two-Room (view size: the model's input size; distances in pixels); the same results as
    :func:`goal_reaching`."""
    from jepa.envs.two_room import TwoRoom, TwoRoomLayout, WaypointPolicy

    layout = TwoRoomLayout.for_size(model.encoder.img_size[0])
    env = TwoRoom(layout)

    def goal_policy(rng: np.random.Generator) -> Callable[[], np.ndarray]:
        waypoints = WaypointPolicy(layout, rng)
        return lambda: waypoints(env.position)

    return _reaching(model, cfg, seed, env, layout.sample_free, goal_policy, lambda: env.position.copy(),
                     layout.success)  # fmt: skip


def reacher_goal_reaching(model: LatentWorldModel, cfg: PlanConfig, seed: int = 0) -> dict[str, Any]:
    """The protocol in Reacher (goals: where the swing policy takes the fingertip; distances in metres); the same
    results as :func:`goal_reaching`."""
    from jepa.envs.reacher import Reacher, SwingPolicy, sample_start, success

    env = Reacher(model.encoder.img_size[0])
    return _reaching(model, cfg, seed, env, sample_start, SwingPolicy, lambda: env.fingertip, success)


GOAL_REACHING = {  # plan.env → its protocol
    "pusht": goal_reaching,
    "two_room": two_room_goal_reaching,
    "reacher": reacher_goal_reaching,
}


def summary(results: list[EpisodeResult]) -> dict[str, float]:
    out = {"success_rate": float(np.mean([r.success for r in results])),
           "agent_distance": float(np.mean([r.agent for r in results]))}  # fmt: skip
    if results and results[0].block is not None:
        out["block_distance"] = float(np.mean([r.block for r in results]))
    return out


STRIP_FRAMES = 12  # at most this many views per row of the picture (every k-th, and the last)


def strip(frames: list[np.ndarray]) -> list[np.ndarray]:
    """Every k-th of ``frames`` and the last, at most :data:`STRIP_FRAMES` of them."""
    stride = -(-len(frames) // STRIP_FRAMES)
    picked = frames[::stride]
    return picked if (len(frames) - 1) % stride == 0 else picked[: STRIP_FRAMES - 1] + [frames[-1]]


def plot_rollouts(path: Path, outcome: dict[str, Any], count: int) -> None:
    """A PNG of the first ``count`` episodes: per episode the planner's views (at most :data:`STRIP_FRAMES`, evenly
    spaced), then the goal (a gap before it), and the random policy's views below; a green or red bar under each
    row says whether it succeeded."""
    from PIL import Image

    rows = []
    for i in range(min(count, len(outcome["goals"]))):
        goal = outcome["goals"][i]
        size = goal.shape[0]
        for result, show_goal in ((outcome["planner"][i], True), (outcome["random"][i], False)):
            gap, rule = np.full((size, size // 4, 3), 255, np.uint8), np.full((size, 2, 3), 255, np.uint8)
            views = [part for frame in strip(result.frames) for part in (frame, rule)]
            row = np.concatenate([*views, gap, goal if show_goal else np.full_like(goal, 255)], axis=1)
            bar = np.zeros((3, row.shape[1], 3), np.uint8)
            bar[:] = (40, 170, 60) if result.success else (210, 50, 50)
            rows += [row, bar, np.full((2, row.shape[1], 3), 255, np.uint8)]
        rows.append(np.full((8, 1, 3), 255, np.uint8))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    Image.fromarray(np.concatenate(rows)).resize((width * 2, sum(r.shape[0] for r in rows) * 2),
                                                  Image.NEAREST).save(path)  # fmt: skip


def write_gif(path: Path, result: EpisodeResult, goal: np.ndarray) -> None:
    """An animated GIF of one planned episode: the view as it moves (left) beside the goal (right)."""
    from PIL import Image

    size = (4 * goal.shape[0], 2 * goal.shape[0])
    frames = [Image.fromarray(np.concatenate([f, goal], axis=1)).resize(size, Image.NEAREST) for f in result.frames]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=300, loop=0)
