import pytest
import torch

from predictors import MaskTokenPredictor
from tests.conftest import assert_official_close, load_official, strip_prefix


def small_predictor(**kw):
    return MaskTokenPredictor(embed_dim=32, img_size=32, patch_size=8, predictor_embed_dim=24, depth=2, num_heads=4,
                              **kw).eval()  # fmt: skip


@pytest.mark.parametrize("video, rope", [(False, False), (True, False), (True, True)])
def test_packed_variable_lengths_equal_one_sequence_at_a_time(video, rope):
    kw = dict(num_frames=4, tubelet_size=2) if video else {}
    model = small_predictor(use_rope=rope, num_mask_tokens=2, **kw)
    n = model.num_patches
    ctx_index = [torch.randperm(n)[:k] for k in (5, 9)]
    tgt_index = [torch.randperm(n)[:k] for k in (3, 4, 6)]
    owner = torch.tensor([0, 0, 1])
    ctx_tokens = [torch.randn(len(c), 32) for c in ctx_index]
    with torch.no_grad():
        packed = model.forward_packed(
            torch.cat(ctx_tokens), torch.cat(ctx_index), torch.tensor([5, 9]), torch.cat(tgt_index),
            torch.tensor([3, 4, 6]), owner, mask_index=torch.tensor([0, 1, 1]),
        )  # fmt: skip
    assert packed.shape == (13, 32)
    for j, (tgt, mask_id) in enumerate(zip(tgt_index, (0, 1, 1))):
        b = int(owner[j])
        with torch.no_grad():
            alone = model(ctx_tokens[b][None], ctx_index[b][None], [tgt[None]], mask_index=mask_id)[0]
        start = sum(len(t) for t in tgt_index[:j])
        torch.testing.assert_close(packed[start : start + len(tgt)], alone, rtol=1e-5, atol=1e-5)


def test_official_call_is_mask_major():
    model = small_predictor()
    ctx = torch.stack([torch.arange(6), torch.arange(6, 12)])
    tgts = [torch.tensor([[12, 13], [14, 15]]), torch.tensor([[0, 15], [1, 2]])]
    with torch.no_grad():
        out = model(torch.randn(2, 6, 32), [ctx], tgts)
    assert out.shape == (4, 2, 32)


def test_mask_token_choice_matters():
    model = small_predictor(num_mask_tokens=2)
    with torch.no_grad():
        model.mask_tokens[1].add_(1.0)
        args = (torch.randn(1, 4, 32), torch.arange(4)[None], [torch.tensor([[7, 8]])])
        assert not torch.allclose(model(*args, mask_index=0), model(*args, mask_index=1))
        torch.testing.assert_close(model(*args, mask_index=0), model(*args, mask_index=2))  # index mod count


@pytest.mark.parametrize("case", ["ijepa", "vjepa", "vjepa2"])
def test_predictor_reproduces_official_outputs(case):
    manifest, io, ckpt = load_official(case)
    kw = manifest["predictor_kwargs"]
    img = manifest["encoder_kwargs"]["img_size"]
    model = MaskTokenPredictor(
        embed_dim=kw["embed_dim"],
        img_size=img[0] if isinstance(img, list) else img,
        patch_size=manifest["encoder_kwargs"]["patch_size"],
        num_frames=kw.get("num_frames", 1),
        tubelet_size=kw.get("tubelet_size", 2),
        predictor_embed_dim=kw["predictor_embed_dim"],
        depth=kw["depth"],
        num_heads=kw["num_heads"],
        num_mask_tokens=kw.get("num_mask_tokens", 1),
        uniform_power=kw.get("uniform_power", False),
        use_rope=kw.get("use_rope", False),
        rope_tiled_freqs=True,
    ).eval()
    state = strip_prefix(ckpt["predictor"], manifest["checkpoint"]["model_key_prefix"])
    if "mask_token" in state:  # I-JEPA names its single token 'mask_token'
        state["mask_tokens.0"] = state.pop("mask_token")
    model.load_state_dict(state, strict=True)
    with torch.no_grad():
        if case == "ijepa":
            assert_official_close(model(io["enc_out_ctx"], [io["ctx_index"]], list(io["tgt_index"])), io["pred_out"])
            return
        assert_official_close(model(io["enc_out_ctx"], io["ctx_index"], io["tgt_index"], 0), io["pred_out"])
        assert_official_close(model(io["enc_out_ctx_1"], io["ctx_index_1"], io["tgt_index_1"], 1), io["pred_out_1"])
