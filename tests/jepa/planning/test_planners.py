import pytest
import torch

from jepa.planning.planners import PlannerConfig, goal_energy, plan_actions


@pytest.mark.parametrize("method", ["cem", "mppi"])
def test_planners_find_the_minimum_of_a_quadratic_energy(method):
    target = torch.tensor([[0.3, -0.5], [0.1, 0.6], [-0.4, 0.2]])

    def energy(actions):
        return ((actions - target) ** 2).sum(dim=(1, 2))

    cfg = PlannerConfig(method=method, horizon=3, samples=200, elites=20, iterations=12, temperature=0.02)
    found = plan_actions(energy, torch.zeros(3, 2), cfg, torch.Generator().manual_seed(0))
    torch.testing.assert_close(found, target, atol=0.05, rtol=0)
    start_energy = energy(torch.zeros(1, 3, 2)).item()
    assert energy(found[None]).item() < 0.01 * start_energy


def test_planner_keeps_to_the_action_bounds():
    cfg = PlannerConfig(horizon=2, samples=50, elites=5, iterations=5, max_action=0.5)
    found = plan_actions(lambda a: -a.sum(dim=(1, 2)), torch.zeros(2, 2), cfg, torch.Generator().manual_seed(0))
    assert found.max() <= 0.5 and found.min() > 0.45


def test_unknown_planner_is_an_error():
    with pytest.raises(ValueError, match="planner method 'ilqr'"):
        plan_actions(lambda a: a.sum(), torch.zeros(1, 2), PlannerConfig(method="ilqr"), torch.Generator())


def test_goal_energy_is_zero_for_the_plan_that_made_the_goal():
    from encoders import create_encoder
    from predictors import ActionConditionedPredictor
    from predictors.world_model import LatentWorldModel

    torch.manual_seed(0)
    encoder = create_encoder("tiny", img_size=16, patch_size=8, embed_dim=32, depth=1, num_heads=2)
    predictor = ActionConditionedPredictor(img_size=16, patch_size=8, embed_dim=32, predictor_embed_dim=32, depth=2,
                                           num_heads=2, action_embed_dim=2)  # fmt: skip
    model = LatentWorldModel(encoder, predictor).eval()
    current = model.encode(torch.randn(1, 1, 3, 16, 16))
    state = torch.tensor([0.5, -0.5])
    plan = torch.tensor([[[0.2, 0.1], [-0.3, 0.4]]])
    states = torch.stack([state, state + plan[0, 0]])[None]
    with torch.no_grad():
        goal = model.rollout(current, plan, states)[:, -model.tokens_per_frame :]
    energy = goal_energy(model, current, torch.zeros(0, 2), state[None], goal)
    values = energy(torch.cat([plan, plan + 0.5, torch.zeros_like(plan)]))
    assert values[0].item() < 1e-6 and (values[1:] > 1e-3).all()
    # with two observed frames: the first action was taken, the plan is the rest
    with torch.no_grad():
        second = model.rollout(current, plan[:, :1], state[None, None])
    energy = goal_energy(model, torch.cat([current, second], dim=1), plan[0, :1], states[0], goal)
    values = energy(torch.cat([plan[:, 1:], plan[:, 1:] + 0.5]))
    assert values[0].item() < 1e-6 and values[1].item() > 1e-3


def tiny_two_room_model():
    """An untrained end-to-end world model of 32² Two-Room views (planning needs no training to be seeded)."""
    from encoders import create_encoder
    from predictors import ActionConditionedPredictor
    from predictors.heads import ProjectionHead
    from predictors.world_model import LatentWorldModel

    torch.manual_seed(0)
    encoder = create_encoder("tiny", img_size=32, patch_size=16, embed_dim=16, depth=1, num_heads=2)
    predictor = ActionConditionedPredictor(img_size=1, patch_size=1, embed_dim=8, predictor_embed_dim=16, depth=1,
                                           num_heads=2, action_embed_dim=2)  # fmt: skip
    return LatentWorldModel(encoder, predictor, False, ProjectionHead(16, 16, 8, 2)).eval()


def test_two_room_protocol_is_seeded_and_ends_episodes_on_success():
    import numpy as np

    from jepa.config import PlanConfig
    from jepa.envs.two_room import TwoRoomLayout
    from jepa.planning.protocol import two_room_goal_reaching

    cfg = PlanConfig(env="two_room", episodes=3, goal_steps=8, min_goal_distance=6.0, max_steps=10,
                     planner=PlannerConfig(horizon=2, samples=8, elites=2, iterations=1, max_action=2.0,
                                           action_block=2))  # fmt: skip
    model = tiny_two_room_model()
    first, again, other = (two_room_goal_reaching(model, cfg, seed) for seed in (0, 0, 1))
    for key in ("goals", "planner", "random", "stay"):
        assert len(first[key]) == 3
    for a, b in zip(first["goals"], again["goals"]):
        np.testing.assert_array_equal(a, b)
    for kind in ("planner", "random", "stay"):
        assert [(r.agent, r.success, len(r.frames)) for r in first[kind]] == \
               [(r.agent, r.success, len(r.frames)) for r in again[kind]]  # fmt: skip
    assert not all(np.array_equal(a, b) for a, b in zip(first["goals"], other["goals"]))
    layout = TwoRoomLayout.for_size(32)
    for stay in first["stay"]:
        assert stay.agent >= cfg.min_goal_distance and not stay.success
    for result in first["planner"] + first["random"]:
        assert 2 <= len(result.frames) <= cfg.max_steps + 1 and result.block is None
        # an episode stops at its first success; an unsuccessful one uses the whole budget
        assert result.success == (result.agent <= 0.8079455 * layout.agent_radius + 1e-6)
        assert result.success or len(result.frames) == cfg.max_steps + 1


def test_reacher_protocol_is_seeded_and_judges_the_fingertip():
    import numpy as np

    pytest.importorskip("dm_control")
    from jepa.config import PlanConfig
    from jepa.envs.reacher import TOLERANCE
    from jepa.planning.protocol import reacher_goal_reaching

    cfg = PlanConfig(env="reacher", episodes=2, goal_steps=10, min_goal_distance=0.08, max_steps=6,
                     planner=PlannerConfig(horizon=2, samples=8, elites=2, iterations=1, max_action=2.0,
                                           action_block=2, context_frames=2))  # fmt: skip
    model = tiny_two_room_model()  # 32² views: any image world model plans in Reacher
    first, again = (reacher_goal_reaching(model, cfg, 0) for _ in range(2))
    for a, b in zip(first["goals"], again["goals"], strict=True):
        np.testing.assert_array_equal(a, b)
    for kind in ("planner", "random", "stay"):
        assert [(r.agent, r.success, len(r.frames)) for r in first[kind]] == \
               [(r.agent, r.success, len(r.frames)) for r in again[kind]]  # fmt: skip
    for stay in first["stay"]:
        assert stay.agent >= cfg.min_goal_distance and not stay.success  # metres of fingertip travel
    for result in first["planner"] + first["random"]:
        assert result.success == (result.agent <= TOLERANCE) and result.block is None
        assert result.success or len(result.frames) == cfg.max_steps + 1


def test_pusht_protocol_is_seeded_and_draws_goals_with_its_goal_policy():
    import numpy as np

    from jepa.config import PlanConfig
    from jepa.planning.protocol import goal_reaching

    model = tiny_two_room_model()  # planning needs no training to be seeded; PushT views at the model's 32²
    planner = PlannerConfig(horizon=2, samples=8, elites=2, iterations=1, max_action=1.5, action_block=2)
    outcomes = {}
    for policy in ("random_walk", "pushing"):
        cfg = PlanConfig(env="pusht", goal_policy=policy, episodes=3, goal_steps=25, max_steps=4, planner=planner)
        outcomes[policy] = [goal_reaching(model, cfg, seed) for seed in (0, 0, 1)]
    first, again, other = outcomes["pushing"]
    for a, b in zip(first["goals"], again["goals"]):
        np.testing.assert_array_equal(a, b)
    for kind in ("planner", "random", "stay"):
        assert [(r.agent, r.block, r.angle, r.success) for r in first[kind]] == \
               [(r.agent, r.block, r.angle, r.success) for r in again[kind]]  # fmt: skip
    assert not any(np.array_equal(a, b) for a, b in zip(first["goals"], other["goals"]))
    walked = outcomes["random_walk"][0]
    assert not any(np.array_equal(a, b) for a, b in zip(first["goals"], walked["goals"]))
    for stay in first["stay"] + walked["stay"]:
        assert stay.agent >= cfg.min_goal_distance and not stay.success
    for result in first["planner"] + first["random"]:
        assert len(result.frames) == cfg.max_steps + 1


def test_every_step_goal_cost_averages_the_distance_of_every_predicted_frame():
    from predictors.world_model import LatentWorldModel

    model = tiny_two_room_model()
    assert isinstance(model, LatentWorldModel)
    current = model.encode(torch.randn(1, 1, 3, 32, 32))
    state = torch.zeros(1, 2)
    plans = torch.tensor([[[1.0, 0.0], [-1.0, 0.0], [0.5, 0.5]], [[0.0, 1.0], [0.0, 1.0], [0.0, -1.0]]])
    with torch.no_grad():
        goal = model.rollout(current, plans[:1], torch.zeros(1, 3, 2) + torch.cumsum(plans[:1], 1) - plans[:1])
        goal = goal[:, -1:]
        predicted = torch.stack([
            model.rollout(current, p[None], (torch.cumsum(p, 0) - p)[None])[0, -3:] for p in plans])
    final = goal_energy(model, current, torch.zeros(0, 2), state, goal)(plans)
    every = goal_energy(model, current, torch.zeros(0, 2), state, goal, "every_step")(plans)
    torch.testing.assert_close(final, (predicted[:, -1:] - goal).abs().mean(dim=(1, 2)))
    torch.testing.assert_close(every, (predicted - goal).abs().mean(dim=(1, 2)))
    assert final[0] < 1e-6 < every[0], "the first plan ends on the goal but passes elsewhere on the way"
    with pytest.raises(ValueError, match="goal_cost='mean': choose one of final, every_step"):
        goal_energy(model, current, torch.zeros(0, 2), state, goal, "mean")
