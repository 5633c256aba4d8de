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


def test_a_predictor_without_states_ignores_them():
    """``use_states=False`` drops the state token: other states change nothing; with it they change the output."""
    torch.manual_seed(0)
    kwargs = dict(img_size=1, patch_size=1, embed_dim=8, predictor_embed_dim=16, depth=1, num_heads=2,
                  action_embed_dim=2)  # fmt: skip
    blind, seeing = ActionConditionedPredictor(**kwargs, use_states=False), ActionConditionedPredictor(**kwargs)
    assert (blind.num_cond_tokens, seeing.num_cond_tokens) == (1, 2)
    tokens, actions, states = torch.randn(2, 3, 8), torch.randn(2, 3, 2), torch.randn(2, 3, 2)
    with torch.no_grad():
        torch.testing.assert_close(blind(tokens, actions, states), blind(tokens, actions, states + 5.0))
        assert not torch.allclose(seeing(tokens, actions, states), seeing(tokens, actions, states + 5.0))
        assert not torch.allclose(blind(tokens, actions, states), blind(tokens, actions + 1.0, states))
        out, _ = blind.forward_cached(tokens[:, :1], actions[:, :1], states[:, :1])
        torch.testing.assert_close(out, blind(tokens[:, :1], actions[:, :1], states[:, :1]))


def two_room_clips(count: int, rng) -> dict[str, torch.Tensor]:
    """Clips of 3 Two-Room views at 32² (the agent moving by random actions) with their actions and states."""
    import numpy as np

    from jepa.data.trajectories import to_tensor
    from jepa.envs.two_room import TwoRoom, TwoRoomLayout

    layout = TwoRoomLayout(size=32, agent_radius=2.5, wall_thickness=2.0, door_centre=16.0, door_width=8.0,
                           max_step=2.0)  # fmt: skip
    env, frames, actions, states = TwoRoom(layout), [], [], []
    for _ in range(count):
        env.reset(seed=int(rng.integers(2**31)))
        moves = rng.uniform(-1, 1, size=(2, 2)).astype(np.float32)
        views, proprio = [env.frame], [env.proprio]
        for move in moves:
            views.append(env.step(move))
            proprio.append(env.proprio)
        frames.append(to_tensor(np.stack(views)))
        actions.append(torch.from_numpy(moves))
        states.append(torch.from_numpy(np.stack(proprio)))
    return {"frames": torch.stack(frames), "actions": torch.stack(actions), "states": torch.stack(states)}


def end_to_end(regularizer: str, weight: float, freeze_encoder: bool = False, latent: str = "pooled",
               inverse_dynamics_weight: float = 0.0):  # fmt: skip
    from jepa.config import EncoderConfig
    from jepa.objectives.world_model import WorldModel

    torch.manual_seed(0)
    encoder = EncoderConfig(size="tiny", img_size=32, patch_size=16, embed_dim=32, depth=1, num_heads=2)
    return WorldModel(encoder=encoder, predictor={"embed_dim": 32, "depth": 1, "num_heads": 2, "action_dim": 2},
                      projector={"hidden_dim": 64, "out_dim": 16, "depth": 2}, end_to_end=True,
                      freeze_encoder=freeze_encoder, regularizer=regularizer, regularizer_weight=weight,
                      normalize_reps=False, loss_exp=2.0, auto_steps=1, latent=latent,
                      inverse_dynamics_weight=inverse_dynamics_weight)  # fmt: skip


def train_end_to_end(module, steps: int) -> None:
    """``steps`` AdamW steps of the module's whole loss, each on 32 fresh Two-Room clips (seeded)."""
    import numpy as np

    optimizer = torch.optim.AdamW([p for p in module.parameters() if p.requires_grad], lr=1e-3)
    rng = np.random.default_rng(0)
    for _ in range(steps):
        loss = module.total(module.losses(two_room_clips(32, rng)))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def test_end_to_end_trains_the_encoder_and_sigreg_keeps_the_latents_rank():
    """Without an anti-collapse term the latents (their own targets, no stop-gradient) shrink toward a point and
    lose rank; SIGReg keeps their spread near 1 and their effective rank near its value at initialisation. A
    frozen encoder stays as it was."""
    import numpy as np

    from jepa.regularizers import effective_rank, feature_std

    test = two_room_clips(128, np.random.default_rng(1))
    measured = {}
    for name, weight in (("none", 0.0), ("sigreg", 1.0)):
        module = end_to_end(name, weight)
        assert module.model.tokens_per_frame == 1 and module.model.encode(test["frames"]).shape == (128, 3, 16)
        encoder_before = [p.detach().clone() for p in module.model.encoder.parameters()]
        with torch.no_grad():
            start = effective_rank(module.model.encode(test["frames"]).flatten(0, 1))
        train_end_to_end(module, 120)
        with torch.no_grad():
            latents = module.model.encode(test["frames"]).flatten(0, 1)
        measured[name] = start, effective_rank(latents), feature_std(latents)
        assert any(not torch.equal(a, b) for a, b in zip(encoder_before, module.model.encoder.parameters()))
    (start, rank, std), (_, rank_none, std_none) = measured["sigreg"], measured["none"]
    assert rank >= 0.8 * start and std > 0.8  # measured: 13.4 at init → 11.9, spread 0.92
    assert rank_none < 0.85 * rank and std_none < 0.1 * std  # measured: rank 9.3, spread 0.033
    frozen = end_to_end("sigreg", 1.0, freeze_encoder=True)
    assert not any(p.requires_grad for p in frozen.model.encoder.parameters())
    assert all(p.requires_grad for p in frozen.model.projector.parameters())


def test_token_latents_project_every_patch_and_the_regularizer_sees_whole_frames():
    """``latent=tokens``: a frame's latents are its patch tokens each through the projector (a 2×2 grid here), the
    predictor and the planner's rollout take that grid, and the anti-collapse term sees each frame's whole latent,
    so training with VICReg keeps its rank where no term lets it fall."""
    import numpy as np

    from jepa.regularizers import effective_rank
    from predictors.world_model import frame_tokens

    test = two_room_clips(64, np.random.default_rng(1))
    module = end_to_end("vicreg", 1.0, latent="tokens")
    model = module.model.eval()
    with torch.no_grad():
        latents = model.encode(test["frames"])
        expected = model.projector(frame_tokens(model.encoder, test["frames"]).flatten(0, 2)).view(64, 12, 16)
        rolled = model.rollout(latents[:, :4], test["actions"], test["states"])
    assert model.tokens_per_frame == 4 and model.predictor.grid == (2, 2)
    torch.testing.assert_close(latents, expected)
    assert rolled.shape == (64, 8, 16)
    assert module.frame_latents(latents).shape == (192, 64)
    torch.testing.assert_close(module.frame_latents(latents)[1], latents[0, 4:8].flatten())
    ranks = {}
    for name, weight in (("none", 0.0), ("vicreg", 1.0)):
        module = end_to_end(name, weight, latent="tokens")
        train_end_to_end(module, 60)
        with torch.no_grad():
            ranks[name] = effective_rank(module.frame_latents(module.model.encode(test["frames"])))
    assert ranks["vicreg"] > 1.3 * ranks["none"], ranks  # measured: 38.9 against 23.7


def test_end_to_end_inverse_dynamics_reads_both_frames_own_latents():
    """End to end, the inverse-dynamics head guesses each action from the latents of the frames before and after it
    (not from the prediction, which is told the action): its loss is that guess's squared error, it does not
    depend on the predictor, and its gradient reaches the encoder, so the latents must show what the action moved."""
    import numpy as np
    import torch.nn.functional as F

    module = end_to_end("vicreg", 1.0, inverse_dynamics_weight=0.5)
    batch = two_room_clips(8, np.random.default_rng(2))
    losses = module.losses(batch)
    latents = module.model.encode(batch["frames"])
    guess = module.inverse_dynamics(latents[:, :-1].flatten(0, 1)[:, None], latents[:, 1:].flatten(0, 1)[:, None])
    expected = F.mse_loss(guess, batch["actions"].flatten(0, 1))
    torch.testing.assert_close(losses["inverse_dynamics"], expected)
    torch.testing.assert_close(module.total(losses), losses["teacher_forcing"] + losses["rollout"]
                               + losses["regularizer"] + 0.5 * expected)  # fmt: skip
    module.zero_grad()
    losses["inverse_dynamics"].backward()
    assert all(p.grad is None for p in module.model.predictor.parameters())
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in module.model.encoder.blocks.parameters())


def test_regularizer_settings_are_checked():
    from jepa.config import EncoderConfig
    from jepa.objectives.world_model import WorldModel

    encoder = EncoderConfig(size="tiny", img_size=32, patch_size=16, embed_dim=32, depth=1, num_heads=2)
    predictor = {"embed_dim": 32, "depth": 1, "num_heads": 2, "action_dim": 2}
    with pytest.raises(ValueError, match="model.regularizer='sigreg' needs model.end_to_end=true"):
        WorldModel(encoder=encoder, predictor=predictor, regularizer="sigreg", regularizer_weight=0.1)
    with pytest.raises(ValueError, match=r"model.regularizer_weight=-1.0 \(0 or more\)"):
        WorldModel(encoder=encoder, predictor=predictor, end_to_end=True, regularizer="sigreg", regularizer_weight=-1.0)
    with pytest.raises(ValueError, match=r"model.regularizer='barlow' \(one of none, sigreg, vicreg\)"):
        WorldModel(encoder=encoder, predictor=predictor, end_to_end=True, regularizer="barlow")
    with pytest.raises(ValueError, match="model.latent='patches': one of pooled, tokens"):
        WorldModel(encoder=encoder, predictor=predictor, end_to_end=True, latent="patches")
