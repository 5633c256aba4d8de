"""Every official fixture loads from the constructor arguments exactly as the official code received them (each
manifest records them) and reproduces its outputs; an argument is refused only where what it builds would differ."""

import functools

import pytest
import torch
from torch import nn

from encoders.pretrained import PretrainedError, load_pretrained
from predictors.pretrained import load_pretrained as load_predictor
from predictors.pretrained import load_probe
from tests.conftest import OFFICIAL, assert_official_close, load_official

FILES = {"ijepa": "checkpoint.pth.tar", "vjepa": "checkpoint.pth.tar", "vjepa2": "checkpoint.pt",
         "vjepa2_ac": "checkpoint.pt"}  # fmt: skip
NORM_LAYERS = {"partial(nn.LayerNorm, eps=1e-6)": functools.partial(nn.LayerNorm, eps=1e-6)}


def official(kwargs: dict) -> dict:
    """The manifest's record of a constructor call as the call itself: the ``norm_layer`` callable, no notes."""
    out = {k: v for k, v in kwargs.items() if k != "note"}
    if "norm_layer" in out:
        out["norm_layer"] = NORM_LAYERS[out["norm_layer"]]
    return out


@pytest.mark.parametrize("case", ["ijepa", "vjepa", "vjepa2"])
def test_official_kwargs_load_encoder_and_predictor_to_official_outputs(case):
    manifest, io, _ = load_official(case)
    path = OFFICIAL / case / FILES[case]
    encoder = load_pretrained(path, **official(manifest["encoder_kwargs"]))
    predictor = load_predictor(path, **official(manifest["predictor_kwargs"]))  # its own arguments alone
    with torch.no_grad():
        assert_official_close(encoder(io["x"]), io["target_enc_out_full"])
        if case == "ijepa":
            assert_official_close(predictor(io["enc_out_ctx"], [io["ctx_index"]], list(io["tgt_index"])),
                                  io["pred_out"])  # fmt: skip
        else:
            assert_official_close(predictor(io["enc_out_ctx"], io["ctx_index"], io["tgt_index"], 0), io["pred_out"])


def test_official_kwargs_load_the_action_conditioned_predictor():
    manifest, io, _ = load_official("vjepa2_ac")
    path = OFFICIAL / "vjepa2_ac" / FILES["vjepa2_ac"]
    kwargs = official(manifest["predictor_kwargs"])
    assert kwargs["is_frame_causal"] is True and kwargs["predictor_embed_dim"] == 48  # no official size: own heads
    encoder = load_pretrained(path, **official(manifest["encoder_kwargs"]))
    predictor = load_predictor(path, **kwargs)
    b, _, t, h, w = io["x"].shape
    frames = io["x"].permute(0, 2, 1, 3, 4).reshape(b * t, 3, 1, h, w).expand(-1, -1, 2, -1, -1)
    with torch.no_grad():
        assert_official_close(encoder(frames).view(b, -1, encoder.embed_dim), io["enc_tokens"])
        assert_official_close(predictor(io["ac_tokens"], io["actions"], io["states"]), io["ac_pred_out"])
    with pytest.raises(PretrainedError, match="is_frame_causal=False: the module built here has is_frame_causal"):
        load_predictor(path, **{**kwargs, "is_frame_causal": False})


def test_official_kwargs_load_the_attentive_probe():
    manifest, io, _ = load_official("attentive_probe")
    probe = load_probe(OFFICIAL / "attentive_probe" / "classifier.pt", **manifest["classifier_kwargs"])
    with torch.no_grad():
        assert_official_close(probe(io["tokens"]), io["logits"])


def test_official_spellings_are_checked_against_what_they_build():
    manifest, _, _ = load_official("ijepa")
    path = OFFICIAL / "ijepa" / FILES["ijepa"]
    kwargs = official(manifest["encoder_kwargs"])
    assert kwargs["img_size"] == [96] and load_pretrained(path, **kwargs).img_size == (96, 96)
    with pytest.raises(PretrainedError, match="override img_size=112 contradicts .*img_size=96"):
        load_pretrained(path, **{**kwargs, "img_size": [112]})
    # V-JEPA's 48/11: the official code builds int(32 * 48/11) = 139 hidden units, not the 128 these weights have
    with pytest.raises(PretrainedError, match=r"mlp_ratio=4.3636.* int\(32 × 4.3636.*\) = 139 hidden units, the "
                                              r"weights have 128"):  # fmt: skip
        load_pretrained(path, **{**kwargs, "mlp_ratio": 48 / 11})
    assert load_pretrained(path, **{**kwargs, "mlp_ratio": 4.01}).blocks[0].mlp.fc1.out_features == 128
    eps = load_pretrained(path, **{**kwargs, "norm_layer": nn.LayerNorm}).norm.eps
    assert eps == 1e-5  # the torch default, as the official code would build it
    with pytest.raises(PretrainedError, match="norm_layer=.*only nn.LayerNorm"):
        load_pretrained(path, **{**kwargs, "norm_layer": nn.BatchNorm1d})
    with pytest.raises(PretrainedError, match="use_silu=True: the module built here has use_silu=False"):
        load_pretrained(path, **{**kwargs, "use_silu": True})
    with pytest.raises(PretrainedError, match="use_sdpa='yes' is a flag"):
        load_pretrained(path, **{**kwargs, "use_sdpa": "yes"})
    predictor = official(manifest["predictor_kwargs"])
    with pytest.raises(PretrainedError, match="num_patches=49 contradicts the 6x6 grid"):
        load_predictor(path, **{**predictor, "num_patches": 49})
