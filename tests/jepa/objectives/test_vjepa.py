import pytest
import torch
import torch.nn.functional as F

from jepa.masks import SampleMasks, pack_sample_masks
from jepa.objectives import VJEPA


def small_vjepa(**kw) -> VJEPA:
    encoder = {"size": "tiny", "img_size": 32, "patch_size": 8, "num_frames": 8, "embed_dim": 32, "depth": 2,
               "num_heads": 2, "use_rope": True, "rope_tiled_freqs": True}  # fmt: skip
    return VJEPA(encoder=encoder, predictor={"embed_dim": 16, "depth": 1, "num_heads": 2}, probe={"num_classes": 0},
                 num_mask_sets=2, clip_lengths=[4, 8], **kw)  # fmt: skip


def equal_length_masks(batch: int, tokens: int, generator: torch.Generator) -> list[list[SampleMasks]]:
    """Per sample, two mask sets whose context/target sizes are the same for every sample (10/rest, 20/rest)."""
    out = []
    for _ in range(batch):
        sets = []
        for keep in (10, 20):
            perm = torch.randperm(tokens, generator=generator)
            sets.append(SampleMasks(perm[:keep].sort().values, [perm[keep:].sort().values]))
        out.append(sets)
    return out


def group(frames: int, batch: int, seed: int) -> dict:
    g = torch.Generator().manual_seed(seed)
    tokens = frames // 2 * 16
    packed = pack_sample_masks(equal_length_masks(batch, tokens, g))
    inputs = torch.randn(batch, 3, frames, 32, 32, generator=g)
    return {"inputs": inputs, "labels": torch.zeros(batch, dtype=torch.long), "num_frames": frames, **packed}


def official_set_loss(model: VJEPA, g: dict, m: int, batch: int) -> torch.Tensor:
    """The official formula for mask set m: encoder on [B, K] kept indices, predictor with mask token index
    (clip-length rank x 2 + m), mean |pred - layer_norm(target)|."""
    ctx_runs = g["ctx_index"].split(g["ctx_lengths"].tolist())
    tgt_runs = g["tgt_index"].split(g["tgt_lengths"].tolist())
    ctx = torch.stack([ctx_runs[b * 2 + m] for b in range(batch)])
    tgt = torch.stack([tgt_runs[b * 2 + m] for b in range(batch)])
    z = model.encoder(g["inputs"], ctx)
    pred = model.predictor(z, ctx, [tgt], mask_index=model.mask_token_offset(g["num_frames"]) + m)
    with torch.no_grad():
        h = model.target_encoder(g["inputs"])
        h = F.layer_norm(h, h.shape[-1:])
        h = torch.gather(h, 1, tgt.unsqueeze(-1).expand(-1, -1, h.shape[-1]))
    return (pred - h).abs().mean()


def test_packed_loss_equals_the_official_per_set_formula_averaged_over_sets_and_clip_lengths():
    torch.manual_seed(0)
    model = small_vjepa()
    assert len(model.predictor.mask_tokens) == 4, "one mask token per (clip length, mask set)"
    for token in model.predictor.mask_tokens:  # make the four tokens differ clearly
        torch.nn.init.normal_(token, std=1.0)
    groups = [group(4, 3, seed=1), group(8, 2, seed=2)]
    loss, pooled, labels, *_ = model.compute_loss({"groups": groups})
    expected = [official_set_loss(model, g, m, g["inputs"].shape[0]) for g in groups for m in range(2)]
    per_set = torch.cat([model.group_loss(g)[0] for g in groups])
    torch.testing.assert_close(per_set, torch.stack(expected), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(loss, torch.stack(expected).mean(), atol=1e-5, rtol=1e-5)
    assert pooled.shape == (5, 32) and labels.shape == (5,)


def test_loss_exp_two_is_half_the_squared_error():
    model = small_vjepa(loss_exp=2.0)
    pred, target = torch.tensor([[1.0, -1.0]]), torch.tensor([[0.0, 1.0]])
    assert model.token_loss(pred, target).item() == pytest.approx((1 + 4) / 2 / 2)


def test_clip_longer_than_the_encoder_is_an_error():
    with pytest.raises(ValueError, match="below the longest clip"):
        VJEPA(encoder={"num_frames": 8}, num_mask_sets=2, clip_lengths=[16])


@pytest.mark.parametrize("name", ["sigreg", "vicreg"])
def test_regularizer_adds_its_weighted_term_on_each_contexts_mean_token(name):
    from jepa.regularizers import build_regularizer

    torch.manual_seed(0)
    plain = small_vjepa()
    model = small_vjepa(regularizer=name, regularizer_weight=0.3)
    model.load_state_dict(plain.state_dict())
    groups = [group(4, 3, seed=1), group(8, 2, seed=2)]
    out, reference = model.compute_loss({"groups": groups}), plain.compute_loss({"groups": groups})
    contexts = torch.stack([
        tokens.mean(0)
        for g in groups
        for tokens in model.encoder.forward_packed(g["inputs"], g["ctx_index"], g["ctx_lengths"], g["ctx_owner"])
        .split(g["ctx_lengths"].tolist())
    ])  # fmt: skip
    assert contexts.shape == (5 * 2, 32)  # one row per (sample, mask set)
    term = build_regularizer(name)(contexts, 0)
    torch.testing.assert_close(out.terms["prediction"], reference.loss)  # the official loss, unchanged
    torch.testing.assert_close(out.terms["regularizer"], term, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(out.loss, reference.loss + 0.3 * term, rtol=1e-5, atol=1e-6)
    assert reference.terms == {} and set(out.features) == {"target", "context"}
    assert out.features["context"].shape == (5 * 2, 32)  # one pooled row per (sample, mask set)


def test_regularizer_on_tokens_takes_every_context_token_as_a_row():
    from jepa.regularizers import build_regularizer

    torch.manual_seed(0)
    plain = small_vjepa()
    model = small_vjepa(regularizer="vicreg", regularizer_weight=0.5, regularizer_on="tokens")
    model.load_state_dict(plain.state_dict())
    groups = [group(4, 3, seed=1), group(8, 2, seed=2)]
    out, reference = model.compute_loss({"groups": groups}), plain.compute_loss({"groups": groups})
    tokens = torch.cat([
        model.encoder.forward_packed(g["inputs"], g["ctx_index"], g["ctx_lengths"], g["ctx_owner"]) for g in groups
    ])  # fmt: skip
    assert tokens.shape == (sum(int(g["ctx_lengths"].sum()) for g in groups), 32)
    term = build_regularizer("vicreg")(tokens, 0)
    means = torch.stack([t.mean(0) for t in tokens.split(torch.cat([g["ctx_lengths"] for g in groups]).tolist())])
    assert not torch.allclose(term, build_regularizer("vicreg")(means, 0))  # not the term on the mean tokens
    torch.testing.assert_close(out.terms["prediction"], reference.loss)
    torch.testing.assert_close(out.terms["regularizer"], term, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(out.loss, reference.loss + 0.5 * term, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kw, message", [
    ({"regularizer": "sigreg", "regularizer_weight": -1.0}, "model.regularizer_weight=-1.0: must be 0 or more"),
    ({"regularizer": "barlow"}, "model.regularizer='barlow': choose one of none, sigreg, vicreg"),
    ({"regularizer": "vicreg", "regularizer_on": "frames"}, "model.regularizer_on='frames': choose one of mean, tokens"),
])  # fmt: skip
def test_bad_regularizer_settings_name_the_key(kw, message):
    with pytest.raises(ValueError, match=message.replace(".", r"\.").replace("(", r"\(")):
        small_vjepa(**kw)
