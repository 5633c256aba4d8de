"""PushT (gym-pusht: pymunk physics, pygame rendering) seen through the central half of its 512 × 512 workspace,
with actions and states in patch units, as the world model and the planner use it.

One unit is ``UNIT`` = 32 world units: one 8-pixel patch of a 64-pixel view. The state is the agent's position in
units from the workspace centre; an action moves the agent's PD target by ``(dx, dy)`` units from where the agent
is, so that ``state + action`` is about the next state (the planner integrates states that way).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

WORKSPACE = 512  # PushT's world is 512 x 512
VIEW_LOW, VIEW_HIGH = WORKSPACE // 4, 3 * WORKSPACE // 4  # the central half the camera sees
UNIT = 32.0  # world units per action / state unit
MAX_ACTION = 0.75  # largest move per step, in units, along each axis
MARGIN = 8  # the agent's target stays this far inside the view


def make_env(size: int):
    """The gym-pusht environment rendering ``size × size`` RGB observations of the whole workspace."""
    import gym_pusht  # noqa: F401  (registers the environment)
    import gymnasium as gym

    return gym.make("gym_pusht/PushT-v0", obs_type="pixels", render_mode="rgb_array",
                    observation_width=size, observation_height=size)  # fmt: skip


def crop_view(frame: np.ndarray) -> np.ndarray:
    """The central half of a whole-workspace frame ``[H, W, 3]``."""
    size = frame.shape[0]
    return frame[size // 4 : size // 4 + size // 2, size // 4 : size // 4 + size // 2]


@dataclass(frozen=True)
class PushTState:
    """Where things are, in world units: the agent ``(x, y)`` and the T block ``(x, y, angle)``."""

    agent: tuple[float, float]
    block: tuple[float, float, float]

    def distances(self, other: PushTState) -> tuple[float, float, float]:
        """Agent distance, block distance (world units) and block angle difference (radians) to ``other``."""
        angle = (self.block[2] - other.block[2] + np.pi) % (2 * np.pi) - np.pi
        return (float(np.hypot(*np.subtract(self.agent, other.agent))),
                float(np.hypot(*np.subtract(self.block[:2], other.block[:2]))), float(abs(angle)))  # fmt: skip


class PushTView:
    """A PushT environment with ``size × size`` observations of the central half of the workspace (the view of
    the built-in demo clips), reset to given states and stepped by relative moves in units."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self.env = make_env(2 * size)
        self._frame: np.ndarray | None = None

    def reset(self, state: PushTState, seed: int = 0) -> np.ndarray:
        """Put the agent and block at ``state`` (at rest) and return the view ``uint8 [size, size, 3]``."""
        frame, _ = self.env.reset(seed=seed, options={"reset_to_state": [*state.agent, *state.block]})
        self._frame = crop_view(frame)
        return self._frame

    def step(self, action: np.ndarray) -> np.ndarray:
        """Move the agent's target by ``action`` ``(dx, dy)`` units (clipped to ±``MAX_ACTION`` and to the view)
        and return the next view."""
        move = np.clip(np.asarray(action, dtype=float), -MAX_ACTION, MAX_ACTION) * UNIT
        target = np.clip(np.asarray(self.unwrapped.agent.position) + move, VIEW_LOW + MARGIN, VIEW_HIGH - MARGIN)
        frame, *_ = self.env.step(target.astype(np.float32))
        self._frame = crop_view(frame)
        return self._frame

    @property
    def unwrapped(self):
        return self.env.unwrapped

    @property
    def frame(self) -> np.ndarray:
        if self._frame is None:
            raise RuntimeError("PushTView.reset must come before frame")
        return self._frame

    @property
    def state(self) -> PushTState:
        env = self.unwrapped
        return PushTState(
            tuple(map(float, env.agent.position)), (*map(float, env.block.position), float(env.block.angle))
        )

    @property
    def proprio(self) -> np.ndarray:
        """The agent's position in units from the workspace centre, ``float32 [2]`` (the model's state)."""
        return ((np.asarray(self.state.agent) - WORKSPACE / 2) / UNIT).astype(np.float32)

    def close(self) -> None:
        self.env.close()


def sample_start(rng: np.random.Generator) -> PushTState:
    """A start state inside the view: the block near the centre at any angle, the agent 70–110 world units from
    it in a random direction (so that random moves often push the block)."""
    block = rng.uniform(208, 304, size=2)
    heading = rng.uniform(-np.pi, np.pi)
    agent = np.clip(block + rng.uniform(70, 110) * np.array([np.cos(heading), np.sin(heading)]),
                    VIEW_LOW + 2 * MARGIN, VIEW_HIGH - 2 * MARGIN)  # fmt: skip
    return PushTState(
        (float(agent[0]), float(agent[1])), (float(block[0]), float(block[1]), rng.uniform(-np.pi, np.pi))
    )


def random_actions(rng: np.random.Generator, steps: int, persistence: float = 0.7) -> np.ndarray:
    """A smooth random walk of moves ``float32 [steps, 2]`` in units (each step keeps ``persistence`` of the last
    move), the recording policy and the baseline the planner is compared with."""
    actions = np.zeros((steps, 2), dtype=np.float32)
    move = rng.uniform(-MAX_ACTION, MAX_ACTION, size=2)
    for t in range(steps):
        move = persistence * move + (1 - persistence) * rng.uniform(-MAX_ACTION, MAX_ACTION, size=2) * 2
        actions[t] = np.clip(move, -MAX_ACTION, MAX_ACTION)
    return actions


class PushingPolicy:
    """The scripted data policy of PushT: draw a target point in the middle of the view, walk the agent to a point
    ``standoff`` world units behind the T block on the far side from the target, then push the block toward the
    target for ``push_steps`` moves; a new target after each push, or after ``patience`` moves that did not reach
    the point. Each move (in units) gets Gaussian noise of std ``noise``. Unlike the random walk, its episodes move
    and turn the block, the states PushT's goals ask for, and keep it in view."""

    def __init__(self, rng: np.random.Generator, noise: float = 0.15, standoff: float = 100.0, push_steps: int = 6,
                 patience: int = 16) -> None:  # fmt: skip
        self.rng, self.noise, self.standoff, self.push_steps, self.patience = rng, noise, standoff, push_steps, patience
        self.heading = np.zeros(2)
        self.pushing, self.age = False, patience  # the first call draws a heading

    def __call__(self, state: PushTState) -> np.ndarray:
        block, agent = np.array(state.block[:2]), np.array(state.agent)
        if self.age >= (self.push_steps if self.pushing else self.patience):
            target = self.rng.uniform(VIEW_LOW + 2 * UNIT, VIEW_HIGH - 2 * UNIT, size=2)
            heading = (target - block) / max(float(np.hypot(*(target - block))), 1e-6)
            self.heading, self.pushing, self.age = heading, False, 0
        behind = block - self.standoff * self.heading
        if not self.pushing and np.hypot(*(behind - agent)) < UNIT / 2:
            self.pushing, self.age = True, 0
        self.age += 1
        aim = block + self.standoff * self.heading if self.pushing else behind
        offset = agent - block
        if not self.pushing and offset @ self.heading > -self.standoff / 2:  # not behind yet: go round the side
            side = np.array([-self.heading[1], self.heading[0]])
            aim = block + self.standoff * (side if offset @ side >= 0 else -side) - self.standoff / 2 * self.heading
        move = (aim - agent) / UNIT + self.noise * self.rng.standard_normal(2)
        return np.clip(move, -MAX_ACTION, MAX_ACTION).astype(np.float32)


DATA_POLICIES = ("random_walk", "pushing")  # what record_episodes can record
RECORD_VERSION = 1  # bumped whenever recording changes, so that cached sets are recorded again


def record_episodes(root: str | Path, num_episodes: int = 400, steps: int = 24, size: int = 64, fps: int = 10,
                    seed: int = 0, policy: str = "random_walk") -> Path:  # fmt: skip
    """Record ``num_episodes`` PushT episodes of ``steps`` moves from :func:`sample_start` with
    :func:`jepa.envs.recording.record_episode_set` (each ``.npz`` also holds ``agent`` and ``block`` poses in
    world units); ``policy``: ``random_walk`` (:func:`random_actions`) or ``pushing`` (:class:`PushingPolicy`).
    Skipped when ``root`` already holds a set recorded with the same settings."""
    from jepa.envs.recording import record_episode_set

    if policy not in DATA_POLICIES:
        raise ValueError(f"PushT data policy {policy!r}: choose one of {', '.join(DATA_POLICIES)}")
    settings = {"version": RECORD_VERSION, "num_episodes": num_episodes, "steps": steps, "size": size, "fps": fps,
                "seed": seed, "policy": policy}  # fmt: skip
    rng = np.random.default_rng(seed)
    view = PushTView(size)

    def episode() -> tuple[np.ndarray, dict[str, np.ndarray]]:
        view.reset(sample_start(rng), seed=int(rng.integers(2**31)))
        frames, states, agent, block = [view.frame], [view.proprio], [view.state.agent], [view.state.block]
        if policy == "pushing":
            pusher = PushingPolicy(rng)
            next_action = lambda: pusher(view.state)  # noqa: E731
        else:
            walk = iter(random_actions(rng, steps))
            next_action = lambda: next(walk)  # noqa: E731
        actions = []
        for _ in range(steps):
            actions.append(next_action())
            frames.append(view.step(actions[-1]))
            states.append(view.proprio)
            agent.append(view.state.agent)
            block.append(view.state.block)
        return np.stack(frames), {"actions": np.stack(actions), "states": np.stack(states), "agent": np.array(agent),
                                  "block": np.array(block)}  # fmt: skip

    try:
        return record_episode_set(root, settings, num_episodes, episode, "recording PushT episodes", fps)
    finally:
        view.close()
