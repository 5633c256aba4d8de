"""Two-Room: a disc agent in a square split by a wall with one door, seen from above (the navigation task of PLDM,
eb_jepa and LeWM). Ours: NumPy dynamics and rendering, deterministic and fast on a CPU.

Positions are in pixels of the ``size × size`` view (origin top-left, x right, y down). The wall stands vertically
in the middle; the door is a gap in it. An action ``(dx, dy)`` in ``[-1, 1]²`` moves the agent by ``max_step``
pixels per unit; the move is taken in small sub-steps, one axis at a time, and an axis whose sub-step would
overlap a wall or leave the square stops there, so the agent slides along walls. States are positions in units
of ``max_step`` from the centre, so that ``state + action`` is the next state wherever nothing blocks the move
(the planner integrates states that way). Success, as stable-worldmodel judges Two-Room: the agent's disc and the
goal's overlap by at least half of a disc.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

BACKGROUND = np.array([236, 236, 228], np.float32)
WALL = np.array([70, 70, 90], np.float32)
AGENT = np.array([220, 60, 40], np.float32)
SUB_STEP = 0.25  # pixels: the longest sub-step of a move (collisions are exact to this)


@dataclass(frozen=True)
class TwoRoomLayout:
    """Sizes in pixels of a ``size × size`` view."""

    size: int = 64
    agent_radius: float = 3.5
    wall_thickness: float = 4.0
    door_centre: float = 32.0
    door_width: float = 14.0
    max_step: float = 2.5

    def __post_init__(self) -> None:
        half_door = self.door_width / 2
        if self.size < 8 or self.agent_radius <= 0 or self.max_step <= 0 or self.wall_thickness <= 0:
            raise ValueError(f"TwoRoomLayout needs size ≥ 8 and positive radius, step and wall: {self}")
        if self.door_width <= 2 * self.agent_radius or not half_door <= self.door_centre <= self.size - half_door:
            raise ValueError(f"TwoRoomLayout: the door (centre {self.door_centre}, width {self.door_width}) must lie "
                             f"on the wall and be wider than the agent ({2 * self.agent_radius})")  # fmt: skip

    @classmethod
    def for_size(cls, size: int) -> TwoRoomLayout:
        """The default layout scaled to a ``size × size`` view (the same room, agent and steps in proportion)."""
        scale = size / cls.size
        return cls(size=size, agent_radius=cls.agent_radius * scale, wall_thickness=cls.wall_thickness * scale,
                   door_centre=cls.door_centre * scale, door_width=cls.door_width * scale,
                   max_step=cls.max_step * scale)  # fmt: skip

    @property
    def walls(self) -> tuple[tuple[float, float, float, float], ...]:
        """The wall's two pieces as ``(x0, y0, x1, y1)`` rectangles, above and below the door."""
        x0, x1 = (self.size - self.wall_thickness) / 2, (self.size + self.wall_thickness) / 2
        door0, door1 = self.door_centre - self.door_width / 2, self.door_centre + self.door_width / 2
        return (x0, 0.0, x1, door0), (x0, door1, x1, float(self.size))

    @property
    def door(self) -> np.ndarray:
        """The middle of the door, ``[x, y]``."""
        return np.array([self.size / 2, self.door_centre])

    def free(self, position: np.ndarray) -> bool:
        """Whether the agent fits at ``position``: inside the square and clear of the wall."""
        x, y, r = float(position[0]), float(position[1]), self.agent_radius
        if not (r <= x <= self.size - r and r <= y <= self.size - r):
            return False
        for x0, y0, x1, y1 in self.walls:
            if math.hypot(x - min(max(x, x0), x1), y - min(max(y, y0), y1)) < r:
                return False
        return True

    def room(self, position: np.ndarray) -> int:
        """0 for the left room, 1 for the right one (by the side of the wall's middle line)."""
        return int(position[0] > self.size / 2)

    def sample_free(self, rng: np.random.Generator) -> np.ndarray:
        """A uniformly drawn position where the agent fits."""
        while True:
            position = rng.uniform(0, self.size, size=2)
            if self.free(position):
                return position

    def move(self, position: np.ndarray, action: np.ndarray) -> np.ndarray:
        """Where an agent at ``position`` ends after ``action`` (clipped to ``[-1, 1]²``), sliding along walls."""
        delta = np.clip(np.asarray(action, dtype=float), -1.0, 1.0) * self.max_step
        count = max(1, math.ceil(np.abs(delta).max() / SUB_STEP))
        position = np.array(position, dtype=float)
        for _ in range(count):
            for axis in (0, 1):
                trial = position.copy()
                trial[axis] += delta[axis] / count
                if self.free(trial):
                    position = trial
        return position

    def overlap(self, a: np.ndarray, b: np.ndarray) -> float:
        """The share of one agent disc that another at distance ``|a - b|`` covers (1 at the same place)."""
        r, d = self.agent_radius, float(np.hypot(*np.subtract(a, b)))
        if d >= 2 * r:
            return 0.0
        lens = 2 * r * r * math.acos(d / (2 * r)) - d / 2 * math.sqrt(4 * r * r - d * d)
        return lens / (math.pi * r * r)

    def success(self, position: np.ndarray, goal: np.ndarray) -> bool:
        """The episode's criterion: the agent's disc and the goal's overlap by at least half."""
        return self.overlap(position, goal) >= 0.5

    def to_state(self, position: np.ndarray) -> np.ndarray:
        """A position as the model's state: ``float32 [2]`` in units of ``max_step`` from the centre."""
        return ((np.asarray(position) - self.size / 2) / self.max_step).astype(np.float32)


class TwoRoom:
    """The environment: ``reset`` to a position (or a seeded random free one), ``step`` by actions, ``frame`` the
    view ``uint8 [size, size, 3]`` (walls dark, agent an anti-aliased red disc), ``proprio`` the state."""

    def __init__(self, layout: TwoRoomLayout | None = None) -> None:
        self.layout = layout or TwoRoomLayout()
        size = self.layout.size
        centres = np.arange(size) + 0.5
        self._xs, self._ys = np.meshgrid(centres, centres)
        scene = np.broadcast_to(BACKGROUND, (size, size, 3)).copy()
        for x0, y0, x1, y1 in self.layout.walls:
            inside = (self._xs >= x0) & (self._xs < x1) & (self._ys >= y0) & (self._ys < y1)
            scene[inside] = WALL
        self._scene = scene
        self.position = np.full(2, size / 2.0)
        self.frame = self.render(self.position)  # the current view, rendered once per reset or step

    def render(self, position: np.ndarray) -> np.ndarray:
        """The view with the agent at ``position``."""
        distance = np.hypot(self._xs - position[0], self._ys - position[1])
        alpha = np.clip(self.layout.agent_radius + 0.5 - distance, 0.0, 1.0)[..., None]
        return np.round(self._scene * (1 - alpha) + AGENT * alpha).astype(np.uint8)

    def reset(self, position: np.ndarray | None = None, seed: int | None = None) -> np.ndarray:
        """Put the agent at ``position`` (which must be free), or at a free one drawn from ``seed``."""
        if position is None:
            position = self.layout.sample_free(np.random.default_rng(seed))
        elif not self.layout.free(position):
            raise ValueError(f"Two-Room: the agent does not fit at ({position[0]:.1f}, {position[1]:.1f})")
        self.position = np.array(position, dtype=float)
        self.frame = self.render(self.position)
        return self.frame

    def step(self, action: np.ndarray) -> np.ndarray:
        self.position = self.layout.move(self.position, action)
        self.frame = self.render(self.position)
        return self.frame

    @property
    def proprio(self) -> np.ndarray:
        return self.layout.to_state(self.position)

    def close(self) -> None:
        """Nothing to release (the interface of the other environments)."""


class WaypointPolicy:
    """The data policy: head for a random free waypoint (through the door when it lies in the other room) at full
    speed, with Gaussian noise of std ``noise`` on each action, and pick a new waypoint on arrival or after
    ``patience`` steps; so the episodes cross the door often and cover both rooms. With probability ``straight``
    a waypoint is headed for in a straight line instead, so that the agent runs into the wall and slides along it:
    a world model learns that walls block only from data where they do."""

    def __init__(self, layout: TwoRoomLayout, rng: np.random.Generator, noise: float = 0.3,
                 patience: int = 30, straight: float = 0.0) -> None:  # fmt: skip
        self.layout, self.rng, self.noise, self.patience, self.straight = layout, rng, noise, patience, straight
        self.waypoint, self.age, self.through_door = None, 0, True

    def __call__(self, position: np.ndarray) -> np.ndarray:
        layout = self.layout
        if self.waypoint is None or self.age >= self.patience or np.hypot(*(self.waypoint - position)) < 1.0:
            self.waypoint, self.age = layout.sample_free(self.rng), 0
            self.through_door = self.straight == 0 or self.rng.random() >= self.straight  # no draw by default
        self.age += 1
        aim = self.waypoint
        if (self.through_door and layout.room(aim) != layout.room(position)
                and abs(position[0] - layout.size / 2) > layout.max_step):  # fmt: skip
            aim = layout.door
        heading = (aim - position) / max(float(np.hypot(*(aim - position))), 1e-6)
        step = heading * min(1.0, float(np.hypot(*(aim - position))) / layout.max_step)
        action = step + self.noise * self.rng.standard_normal(2)
        return np.clip(action, -1.0, 1.0).astype(np.float32)


RECORD_VERSION = 1  # bumped whenever recording changes, so that cached sets are recorded again
DATA_POLICIES = {"waypoint": 0.0, "waypoint_walls": 0.5}  # data.demo_policy → its WaypointPolicy's ``straight``


def record_two_room(root: str | Path, num_episodes: int = 400, steps: int = 64, layout: TwoRoomLayout | None = None,
                    fps: int = 10, seed: int = 0, policy: str = "waypoint") -> Path:  # fmt: skip
    """Record ``num_episodes`` episodes of ``steps`` actions of ``policy`` (a :class:`WaypointPolicy` of
    :data:`DATA_POLICIES`) from seeded random starts with :func:`jepa.envs.recording.record_episode_set` (each
    ``.npz`` also holds the ``position`` in pixels at every frame). Skipped when ``root`` already holds a set
    recorded with the same settings."""
    from jepa.envs.recording import record_episode_set

    if policy not in DATA_POLICIES:
        raise ValueError(f"Two-Room data policy {policy!r}: choose one of {', '.join(DATA_POLICIES)}")
    layout = layout or TwoRoomLayout()
    settings = {"version": RECORD_VERSION, "num_episodes": num_episodes, "steps": steps, "layout": asdict(layout),
                "fps": fps, "seed": seed, "policy": policy}  # fmt: skip
    rng = np.random.default_rng(seed)
    env = TwoRoom(layout)

    def episode() -> tuple[np.ndarray, dict[str, np.ndarray]]:
        env.reset(seed=int(rng.integers(2**31)))
        waypoints = WaypointPolicy(layout, rng, straight=DATA_POLICIES[policy])
        frames, positions, actions = [env.frame], [env.position], []
        for _ in range(steps):
            actions.append(waypoints(env.position))
            frames.append(env.step(actions[-1]))
            positions.append(env.position)
        positions_array = np.stack(positions)
        return np.stack(frames), {"actions": np.stack(actions), "states": layout.to_state(positions_array),
                                  "position": positions_array}  # fmt: skip

    return record_episode_set(root, settings, num_episodes, episode, "recording Two-Room episodes", fps)
