"""Reacher: dm_control's two-link arm on a table (MuJoCo physics), seen from above with its target hidden, so that a
goal is a view of where the fingertip should be.

The suite's ``reacher`` task with the camera brought down to 0.6 m, so that the arm's reach fills the view; MuJoCo
renders it headless (``MUJOCO_GL=egl`` unless set). An action is the two joints' torques in ``[-1, 1]²``, held for
one control step (0.02 s); the state is the two joint angles (radians). Starts are at rest. Success, as the suite's
reward: the fingertip within the target's radius plus the fingertip's (0.05 + 0.01 m) of the goal's fingertip.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CAMERA_HEIGHT = 0.6  # metres above the table (the suite's fixed camera stands at 0.75)
TOLERANCE = 0.06  # metres: the suite's target radius (easy) plus its fingertip radius


@contextmanager
def _absl_logging_contained() -> Iterator[None]:
    """dm_control logs through absl, which calls ``logging.basicConfig()`` when the root logger has no handler (a
    stderr handler nobody asked for: undone here), and whose own handler closes its stream when logging shuts down
    or is reconfigured (Hydra does) unless that stream is the current ``sys.stderr``: bound to the stderr of the
    moment absl was imported (under pytest, the capture file every other handler writes to), so it is pointed at
    the process's own stderr, which it never closes."""
    handlers = list(logging.root.handlers)
    try:
        yield
    finally:
        logging.root.handlers[:] = handlers
        absl_logging = sys.modules.get("absl.logging")
        if absl_logging is not None:
            absl_logging.get_absl_handler().python_handler.stream = sys.__stderr__


def load_physics():
    """The suite's Reacher physics, its target hidden and its fixed camera lowered (and rendered once: the first
    render of a physics opens its GL context, which logs)."""
    os.environ.setdefault("MUJOCO_GL", "egl")
    with _absl_logging_contained():
        try:
            from dm_control import suite
        except ImportError as err:
            raise ImportError("Reacher needs dm_control: pip install 'jepa-toolkit[reacher]'") from err
        physics = suite.load("reacher", "easy").physics
        physics.model.geom_rgba[physics.model.name2id("target", "geom"), 3] = 0.0
        physics.model.cam_pos[physics.model.name2id("fixed", "camera"), 2] = CAMERA_HEIGHT
        physics.render(8, 8, camera_id="fixed")
    return physics


@dataclass(frozen=True)
class ReacherStart:
    """A start at rest: the shoulder and wrist angles (radians; the wrist turns at most ±2.79)."""

    shoulder: float
    wrist: float


def sample_start(rng: np.random.Generator) -> ReacherStart:
    """A start drawn uniformly over the joints' ranges."""
    return ReacherStart(float(rng.uniform(-np.pi, np.pi)), float(rng.uniform(-2.7, 2.7)))


class Reacher:
    """The environment: ``reset`` to a start (or a seeded random one), ``step`` by torques, ``frame`` the view
    ``uint8 [size, size, 3]``, ``proprio`` the joint angles, ``fingertip`` where the fingertip is (metres)."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self.physics = load_physics()
        self.frame = self.reset(ReacherStart(0.0, 0.0))

    def render(self) -> np.ndarray:
        return self.physics.render(self.size, self.size, camera_id="fixed").copy()

    def reset(self, start: ReacherStart | None = None, seed: int | None = None) -> np.ndarray:
        """Put the arm at rest at ``start``, or at a start drawn from ``seed``."""
        start = start or sample_start(np.random.default_rng(seed))
        with self.physics.reset_context():
            self.physics.named.data.qpos[["shoulder", "wrist"]] = [start.shoulder, start.wrist]
            self.physics.data.qvel[:] = 0.0
        self.frame = self.render()
        return self.frame

    def step(self, action: np.ndarray) -> np.ndarray:
        self.physics.set_control(np.clip(np.asarray(action, dtype=float), -1.0, 1.0))
        self.physics.step()
        self.frame = self.render()
        return self.frame

    @property
    def proprio(self) -> np.ndarray:
        return np.array(self.physics.named.data.qpos[["shoulder", "wrist"]], dtype=np.float32)

    @property
    def fingertip(self) -> np.ndarray:
        return np.array(self.physics.named.data.geom_xpos["finger"][:2])

    def close(self) -> None:
        """Nothing to release (the interface of the other environments)."""


def success(fingertip: np.ndarray, goal: np.ndarray) -> bool:
    """The episode's criterion: the fingertip within :data:`TOLERANCE` of the goal's."""
    return float(np.hypot(*(np.asarray(fingertip) - goal))) <= TOLERANCE


class SwingPolicy:
    """The data policy: uniform random torques, each held for 1 to ``max_hold`` steps, so that the arm swings
    through its whole reach (a new torque every step only jitters it in place)."""

    def __init__(self, rng: np.random.Generator, max_hold: int = 10) -> None:
        self.rng, self.max_hold, self.left, self.action = rng, max_hold, 0, np.zeros(2, np.float32)

    def __call__(self) -> np.ndarray:
        if self.left == 0:
            self.left = int(self.rng.integers(1, self.max_hold + 1))
            self.action = self.rng.uniform(-1.0, 1.0, size=2).astype(np.float32)
        self.left -= 1
        return self.action


RECORD_VERSION = 1  # bumped whenever recording changes, so that cached sets are recorded again
DATA_POLICIES = ("swing",)


def record_reacher(root: str | Path, num_episodes: int = 400, steps: int = 64, size: int = 64, fps: int = 10,
                   seed: int = 0, policy: str = "swing") -> Path:  # fmt: skip
    """Record ``num_episodes`` episodes of ``steps`` actions of ``policy`` from seeded random starts at rest with
    :func:`jepa.envs.recording.record_episode_set` (each ``.npz`` also holds the ``fingertip`` at every frame).
    Skipped when ``root`` already holds a set recorded with the same settings."""
    from jepa.envs.recording import record_episode_set

    if policy not in DATA_POLICIES:
        raise ValueError(f"Reacher data policy {policy!r}: choose one of {', '.join(DATA_POLICIES)}")
    settings = {"version": RECORD_VERSION, "num_episodes": num_episodes, "steps": steps, "size": size, "fps": fps,
                "seed": seed, "policy": policy}  # fmt: skip
    rng = np.random.default_rng(seed)
    env = Reacher(size)

    def episode() -> tuple[np.ndarray, dict[str, np.ndarray]]:
        env.reset(sample_start(rng))
        swing = SwingPolicy(rng)
        frames, states, tips, actions = [env.frame], [env.proprio], [env.fingertip], []
        for _ in range(steps):
            actions.append(swing())
            frames.append(env.step(actions[-1]))
            states.append(env.proprio)
            tips.append(env.fingertip)
        return np.stack(frames), {"actions": np.stack(actions), "states": np.stack(states),
                                  "fingertip": np.stack(tips)}  # fmt: skip

    return record_episode_set(root, settings, num_episodes, episode, "recording Reacher episodes", fps)
