"""Two-Room's dynamics, success criterion, rendering and recording."""

import math

import numpy as np
import pytest

from jepa.data.trajectories import read_episode_list
from jepa.envs.two_room import DATA_POLICIES, TwoRoom, TwoRoomLayout, WaypointPolicy, record_two_room

LAYOUT = TwoRoomLayout()  # 64 px, wall 30..34, door y 25..39, agent radius 3.5, 2.5 px a unit


def test_the_wall_blocks_an_agent_away_from_the_door():
    env = TwoRoom(LAYOUT)
    env.reset(np.array([20.0, 10.0]))
    for _ in range(20):
        env.step(np.array([1.0, 0.0]))
    assert env.position[0] == pytest.approx(30 - LAYOUT.agent_radius, abs=0.25)  # stopped at the wall's face
    assert env.position[1] == 10.0 and LAYOUT.room(env.position) == 0


def test_the_door_lets_the_agent_through():
    env = TwoRoom(LAYOUT)
    env.reset(np.array([20.0, 32.0]))
    for _ in range(10):
        env.step(np.array([1.0, 0.0]))
    np.testing.assert_allclose(env.position, [20.0 + 10 * LAYOUT.max_step, 32.0])  # nothing in the way: exact
    assert LAYOUT.room(env.position) == 1


def test_the_agent_slides_along_a_wall_and_stays_inside_the_square():
    env = TwoRoom(LAYOUT)
    env.reset(np.array([26.0, 10.0]))
    env.step(np.array([1.0, 1.0]))  # x blocked by the wall after 0.5 px, y free
    assert env.position[0] == pytest.approx(26.5) and env.position[1] == pytest.approx(12.5)
    env.reset(np.array([5.0, 5.0]))
    for _ in range(5):
        env.step(np.array([-1.0, -1.0]))
    np.testing.assert_allclose(env.position, [LAYOUT.agent_radius] * 2, atol=0.25)


def test_states_follow_the_actions_where_nothing_blocks():
    env = TwoRoom(LAYOUT)
    env.reset(np.array([12.0, 40.0]))
    before = env.proprio
    env.step(np.array([0.4, -0.8]))
    np.testing.assert_allclose(env.proprio, before + [0.4, -0.8], atol=1e-5)
    np.testing.assert_allclose(TwoRoom(LAYOUT).reset(np.array([32.0, 32.0]))[0, 0], [236, 236, 228])


def test_resets_are_seeded_and_refuse_a_blocked_position():
    a, b, c = TwoRoom(LAYOUT), TwoRoom(LAYOUT), TwoRoom(LAYOUT)
    np.testing.assert_array_equal(a.reset(seed=3), b.reset(seed=3))
    c.reset(seed=4)
    assert not np.array_equal(a.position, c.position)
    with pytest.raises(ValueError, match=r"does not fit at \(32.0, 5.0\)"):
        a.reset(np.array([32.0, 5.0]))


def test_success_is_half_a_disc_of_overlap():
    r = LAYOUT.agent_radius
    assert LAYOUT.overlap(np.zeros(2), np.zeros(2)) == pytest.approx(1.0)
    assert LAYOUT.overlap(np.zeros(2), np.array([2 * r, 0.0])) == 0.0
    half = 0.8079455 * r  # where two equal discs overlap by half (the lens-area equation, solved numerically)
    lens = 2 * r * r * math.acos(half / (2 * r)) - half / 2 * math.sqrt(4 * r * r - half * half)
    assert lens / (math.pi * r * r) == pytest.approx(0.5, abs=1e-6)
    assert LAYOUT.success(np.zeros(2), np.array([half - 0.01, 0.0]))
    assert not LAYOUT.success(np.zeros(2), np.array([0.0, half + 0.01]))


def test_the_view_shows_the_agent_where_it_is():
    env = TwoRoom(LAYOUT)
    frame = env.reset(np.array([10.5, 50.5]))
    assert frame.shape == (64, 64, 3) and frame.dtype == np.uint8
    np.testing.assert_array_equal(frame[50, 10], [220, 60, 40])  # the agent's centre pixel
    np.testing.assert_array_equal(frame[10, 31], [70, 70, 90])  # the wall above the door
    np.testing.assert_array_equal(frame[32, 31], [236, 236, 228])  # the door
    red = frame[..., 0].astype(int) - frame[..., 1]
    ys, xs = np.nonzero(red > 100)
    assert abs(xs.mean() + 0.5 - 10.5) < 0.1 and abs(ys.mean() + 0.5 - 50.5) < 0.1


def test_the_waypoint_policy_crosses_the_door():
    rng = np.random.default_rng(0)
    env = TwoRoom(LAYOUT)
    env.reset(seed=0)
    policy, rooms = WaypointPolicy(LAYOUT, rng), set()
    for _ in range(300):
        env.step(policy(env.position))
        rooms.add(LAYOUT.room(env.position))
    assert rooms == {0, 1}


def test_bad_layouts_are_errors():
    with pytest.raises(ValueError, match="wider than the agent"):
        TwoRoomLayout(door_width=6.0)
    with pytest.raises(ValueError, match="size ≥ 8"):
        TwoRoomLayout(max_step=0.0)


def test_recorded_episodes_replay_their_actions(tmp_path):
    listing = record_two_room(tmp_path, num_episodes=2, steps=12, seed=1)
    episodes = read_episode_list(listing)
    assert len(episodes) == 2 and (tmp_path / "preview.png").is_file()
    with np.load(episodes[1].trajectory) as data:
        actions, states, positions = data["actions"], data["states"], data["position"]
    assert actions.shape == (12, 2) and states.shape == (13, 2) and positions.shape == (13, 2)
    env = TwoRoom(LAYOUT)
    env.reset(positions[0])
    for t, action in enumerate(actions):
        env.step(action)
        np.testing.assert_allclose(env.position, positions[t + 1])
    np.testing.assert_allclose(states, LAYOUT.to_state(positions), rtol=1e-6)
    mtime = listing.stat().st_mtime_ns
    assert record_two_room(tmp_path, num_episodes=2, steps=12, seed=1) == listing  # cached: not recorded again
    assert listing.stat().st_mtime_ns == mtime


def test_the_wall_data_policy_runs_into_the_wall():
    """``waypoint_walls`` heads straight for half of its waypoints: the agent presses against the wall (where a
    world model learns that it blocks) many times more often than under the door-seeking ``waypoint`` policy."""
    env, touching = TwoRoom(LAYOUT), {}
    wall_side = LAYOUT.wall_thickness / 2 + LAYOUT.agent_radius + 0.1
    for name, straight in DATA_POLICIES.items():
        rng, count = np.random.default_rng(0), 0
        for _ in range(20):
            env.reset(seed=int(rng.integers(2**31)))
            policy = WaypointPolicy(LAYOUT, rng, straight=straight)
            for _ in range(64):
                env.step(policy(env.position))
                x, y = env.position
                count += abs(x - LAYOUT.size / 2) <= wall_side and abs(y - LAYOUT.door_centre) > LAYOUT.door_width / 2
        touching[name] = count / (20 * 64)
    assert touching["waypoint"] < 0.05 and touching["waypoint_walls"] > 3 * touching["waypoint"]
    with pytest.raises(ValueError, match="data policy 'walls': choose one of waypoint, waypoint_walls"):
        record_two_room(".", policy="walls")
