"""The latent world model: per-frame encoding, causal rollouts, and an objective that learns."""

import pytest
import torch

from encoders import create_encoder
from predictors import ActionConditionedPredictor
from predictors.world_model import LatentWorldModel


def tiny_world_model(video: bool = True) -> LatentWorldModel:
    frames = {"num_frames": 2, "tubelet_size": 2, "use_rope": True} if video else {}
    encoder = create_encoder("tiny", img_size=16, patch_size=8, embed_dim=32, depth=1, num_heads=2, **frames)
    predictor = ActionConditionedPredictor(img_size=16, patch_size=8, embed_dim=32, predictor_embed_dim=32, depth=2,
                                           num_heads=2, action_embed_dim=2)  # fmt: skip
    return LatentWorldModel(encoder, predictor).eval()


def test_each_frame_is_encoded_alone_as_a_still_clip():
    model = tiny_world_model()
    frames = torch.randn(2, 3, 3, 16, 16)
    tokens = model.encode(frames)
    assert tokens.shape == (2, 3 * 4, 32)
    still = frames[1, 2][None, :, None].expand(-1, -1, 2, -1, -1)
    alone = torch.nn.functional.layer_norm(model.encoder(still), (32,))
    torch.testing.assert_close(tokens[1, 8:], alone[0])
    image_model = tiny_world_model(video=False)
    assert image_model.encode(frames).shape == (2, 12, 32)


def test_rollout_is_causal_and_its_first_step_is_teacher_forcing():
    model = tiny_world_model()
    first = model.encode(torch.randn(1, 1, 3, 16, 16))
    actions, states = torch.randn(1, 4, 2), torch.randn(1, 4, 2)
    n = model.tokens_per_frame
    with torch.no_grad():
        base = model.rollout(first, actions, states)
        assert base.shape == (1, 4 * n, 32)
        torch.testing.assert_close(base[:, :n], model.step(first, actions[:, :1], states[:, :1]))
        for k in range(4):
            changed = actions.clone()
            changed[:, k] += 1.0
            out = model.rollout(first, changed, states)
            # the action at frame k first shows in the prediction of frame k + 1 (output slot k)
            torch.testing.assert_close(out[:, : k * n], base[:, : k * n])
            assert not torch.allclose(out[:, k * n :], base[:, k * n :])


@pytest.mark.parametrize("observed", [1, 2])
def test_cached_rollout_equals_recomputing_the_prefix_with_the_full_forward(observed):
    """The key/value cache changes no number: each fed-back frame as the full block-causal forward over the
    whole prefix gives it."""
    model = tiny_world_model()
    n = model.tokens_per_frame
    context = model.encode(torch.randn(3, observed, 3, 16, 16))
    actions, states = torch.randn(3, observed + 2, 2), torch.randn(3, observed + 2, 2)
    with torch.no_grad():
        cached = model.rollout(context, actions, states)
        z = context
        for t in range(observed - 1, actions.shape[1]):
            z = torch.cat([z, model.step(z, actions[:, : t + 1], states[:, : t + 1])[:, -n:]], dim=1)
    assert cached.shape == (3, 3 * n, 32)
    torch.testing.assert_close(cached, z[:, observed * n :], rtol=1e-5, atol=1e-5)


def test_cached_forward_takes_one_frame_at_a_time():
    model = tiny_world_model()
    with pytest.raises(ValueError, match="one frame"):
        model.predictor.forward_cached(torch.randn(1, 8, 32), torch.randn(1, 2, 2), torch.randn(1, 2, 2))


def test_world_model_objective_learns_to_use_the_actions():
    """Frames of a uniform colour whose red and blue levels the 2-D actions move: after 60 steps the predictions
    beat copying the last frame, and beat the same model given the actions of other clips."""
    from jepa.config import EncoderConfig
    from jepa.objectives import WorldModel

    def batch(count: int) -> dict:
        levels = torch.rand(count, 1, 2) * 2 - 1
        actions = torch.rand(count, 3, 2) - 0.5
        levels = torch.cat([levels, levels + actions.cumsum(1)], dim=1)
        frames = torch.zeros(count, 4, 3, 16, 16)
        frames[:, :, 0], frames[:, :, 2] = levels[..., 0, None, None], levels[..., 1, None, None]
        return {"frames": frames, "actions": actions, "states": torch.zeros(count, 4, 2)}

    encoder = EncoderConfig(size="tiny", img_size=16, patch_size=8, num_frames=2, embed_dim=32, depth=1, num_heads=2,
                            use_rope=True)  # fmt: skip
    module = WorldModel(encoder=encoder, predictor={"embed_dim": 32, "depth": 2, "num_heads": 2, "action_dim": 2},
                        auto_steps=2)  # fmt: skip
    optimizer = torch.optim.AdamW(module.model.predictor.parameters(), lr=1e-3)
    test = batch(64)
    n = module.model.tokens_per_frame
    h = module.model.encode(test["frames"])
    copy_last = module.token_loss(h[:, :-n], h[:, n:]).item()
    for _ in range(60):
        loss = module.total(module.losses(batch(16)))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        learned = module.losses(test)
        shuffled = module.losses({**test, "actions": test["actions"].roll(1, dims=0)})
    assert learned["teacher_forcing"].item() < 0.85 * copy_last
    assert learned["teacher_forcing"].item() < 0.75 * shuffled["teacher_forcing"].item()
    assert learned["rollout"].item() < 0.6 * shuffled["rollout"].item()
