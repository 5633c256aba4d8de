"""Reacher (dm_control's arm): seeded resets at rest, torques that move it, the hidden target, the success criterion
and recording."""

import logging
import sys

import numpy as np
import pytest

pytest.importorskip("dm_control")  # the package alone: it neither loads MuJoCo nor logs

from jepa.data.trajectories import read_episode_list
from jepa.envs.reacher import TOLERANCE, Reacher, ReacherStart, SwingPolicy, record_reacher, success


@pytest.fixture(scope="module")
def env():
    return Reacher(64)


def test_resets_are_seeded_and_at_rest(env):
    first = env.reset(seed=3)
    angles = env.proprio
    assert first.shape == (64, 64, 3) and first.dtype == np.uint8
    np.testing.assert_array_equal(env.reset(seed=3), first)
    assert not np.array_equal(env.reset(seed=4), first)
    env.reset(ReacherStart(0.5, -1.0))
    np.testing.assert_allclose(env.proprio, [0.5, -1.0], atol=1e-6)
    assert not np.allclose(angles, env.proprio)
    np.testing.assert_array_equal(env.physics.data.qvel, 0.0)


def test_a_torque_turns_its_joint_and_the_arm_keeps_moving_after_it(env):
    env.reset(ReacherStart(0.0, 0.0))
    straight = env.fingertip.copy()
    np.testing.assert_allclose(straight, [0.22, 0.0], atol=0.02)  # arm 0.12 + hand 0.1, laid along x
    for _ in range(10):
        env.step(np.array([1.0, 0.0]))
    turned = env.proprio[0]
    assert turned > 0.05 and straight[1] < env.fingertip[1]  # positive shoulder torque: counter-clockwise
    for _ in range(5):
        env.step(np.zeros(2))
    assert env.proprio[0] > turned  # no torque, yet it turns on: the state has a velocity the view must show


def test_the_target_is_hidden(env):
    target = env.physics.model.name2id("target", "geom")
    env.reset(ReacherStart(1.0, 0.5))
    before = env.render()
    env.physics.model.geom_pos[target, :2] = [-0.15, 0.1]
    env.physics.forward()
    np.testing.assert_array_equal(env.render(), before)


def test_loading_leaves_logging_as_it_was(monkeypatch):
    """absl (dm_control's logging) neither adds a root handler nor keeps a stream it would close on shutdown: under
    pytest that stream is the capture file every later test's log lines go to."""
    from absl import logging as absl_logging

    monkeypatch.setattr(logging.root, "handlers", [])
    Reacher(16)  # dm_control's first log line through absl would call logging.basicConfig()
    assert logging.root.handlers == []
    assert absl_logging.get_absl_handler().python_handler.stream is sys.__stderr__


def test_success_is_within_the_suites_target_radius():
    assert TOLERANCE == pytest.approx(0.06)
    assert success(np.array([0.1, 0.0]), np.array([0.1, 0.059]))
    assert not success(np.array([0.1, 0.0]), np.array([0.1, 0.061]))


def test_the_swing_policy_holds_its_torques():
    actions = np.stack([policy() for policy in [SwingPolicy(np.random.default_rng(0))] for _ in range(200)])
    changes = np.count_nonzero(np.any(actions[1:] != actions[:-1], axis=1))
    assert np.abs(actions).max() <= 1.0 and 200 / 10 <= changes < 200 / 2  # held 1-10 steps: 5.5 on average


def test_recorded_episodes_replay_their_actions(tmp_path, env):
    listing = record_reacher(tmp_path, num_episodes=2, steps=6, size=32, seed=1)
    episodes = read_episode_list(listing)
    assert len(episodes) == 2 and (tmp_path / "preview.png").is_file()
    with np.load(episodes[1].trajectory) as data:
        actions, states, tips = data["actions"], data["states"], data["fingertip"]
    assert actions.shape == (6, 2) and states.shape == (7, 2) and tips.shape == (7, 2)
    env.reset(ReacherStart(*states[0]))
    for t, action in enumerate(actions):
        env.step(action)
        np.testing.assert_allclose(env.proprio, states[t + 1], atol=1e-6)
        np.testing.assert_allclose(env.fingertip, tips[t + 1], atol=1e-6)
    with pytest.raises(ValueError, match="data policy 'walk': choose one of swing"):
        record_reacher(tmp_path, policy="walk")
