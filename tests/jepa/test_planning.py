import pytest
import torch

from jepa.planning import PlannerConfig, goal_energy, plan_actions


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
