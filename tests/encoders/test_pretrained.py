"""``load_pretrained`` on every official layout in ``tests/fixtures/official``: format and architecture read from
the file, strict loading, the official outputs reproduced, and our own export round-tripping."""

import json
import shutil

import pytest
import torch

from encoders.pretrained import PretrainedError, load_pretrained, read_checkpoint
from jepa.convert import export_pretrained
from predictors.pretrained import load_pretrained as load_predictor
from tests.conftest import OFFICIAL, assert_official_close, load_official

FILES = {"ijepa": "checkpoint.pth.tar", "vjepa": "checkpoint.pth.tar", "vjepa2": "checkpoint.pt"}
FORMATS = {"ijepa": "ijepa", "vjepa": "vjepa", "vjepa2": "vjepa2"}


def silent_facts(case: str) -> dict:
    """What the weights cannot say for these tiny non-standard models: heads (and a RoPE model's input size)."""
    kw = json.loads((OFFICIAL / case / "manifest.json").read_text())["encoder_kwargs"]
    facts = {"num_heads": kw["num_heads"]}
    if kw.get("use_rope"):
        facts.update(img_size=kw["img_size"], num_frames=kw["num_frames"])
    return facts


@pytest.mark.parametrize("case", sorted(FILES))
def test_official_encoders_reproduce_official_outputs(case):
    manifest, io, _ = load_official(case)
    path = OFFICIAL / case / FILES[case]
    ckpt = read_checkpoint(path)
    assert ckpt.format == FORMATS[case]
    target = load_pretrained(path, **silent_facts(case))
    kw = manifest["encoder_kwargs"]
    assert (target.embed_dim, len(target.blocks), target.patch_size, target.use_rope) == (
        kw["embed_dim"], kw["depth"], kw["patch_size"], kw.get("use_rope", False))  # fmt: skip
    online = load_pretrained(path, which="encoder", **silent_facts(case))
    with torch.no_grad():
        assert_official_close(target(io["x"]), io["target_enc_out_full"])
        assert_official_close(online(io["x"]), io["enc_out_full"])
        assert_official_close(online(io["x"], masks=[io["ctx_index"]]), io["enc_out_ctx"])


def test_sincos_grid_and_layout_are_read_from_the_table():
    for case, video in (("ijepa", False), ("vjepa", True)):
        kw = json.loads((OFFICIAL / case / "manifest.json").read_text())["encoder_kwargs"]
        model = load_pretrained(OFFICIAL / case / FILES[case], num_heads=kw["num_heads"])
        size = kw["img_size"][0] if isinstance(kw["img_size"], list) else kw["img_size"]
        assert model.img_size == (size, size) and model.num_frames == (kw["num_frames"] if video else 1)
    with pytest.raises(PretrainedError, match="contradicts .*img_size"):
        load_pretrained(OFFICIAL / "vjepa" / FILES["vjepa"], num_heads=4, img_size=64)


@pytest.mark.parametrize("case", sorted(FILES))
def test_official_predictors_reproduce_official_outputs(case):
    manifest, io, _ = load_official(case)
    pred = load_predictor(OFFICIAL / case / FILES[case], encoder_overrides=silent_facts(case),
                          num_heads=manifest["predictor_kwargs"]["num_heads"])  # fmt: skip
    assert len(pred.mask_tokens) == manifest["predictor_kwargs"].get("num_mask_tokens", 1)
    with torch.no_grad():
        if case == "ijepa":
            assert_official_close(pred(io["enc_out_ctx"], [io["ctx_index"]], list(io["tgt_index"])), io["pred_out"])
            return
        assert_official_close(pred(io["enc_out_ctx"], io["ctx_index"], io["tgt_index"], 0), io["pred_out"])
        assert_official_close(pred(io["enc_out_ctx_1"], io["ctx_index_1"], io["tgt_index_1"], 1), io["pred_out_1"])
        if "pred_out_fullctx" in io:  # every token as context and as target
            every = torch.arange(io["enc_out_full"].shape[1]).expand(io["enc_out_full"].shape[0], -1)
            assert_official_close(pred(io["enc_out_full"], every, every, 0), io["pred_out_fullctx"])


def test_hugging_face_vjepa2_folder():
    folder = OFFICIAL / "vjepa2_hf"
    io = torch.load(folder / "io.pt", map_location="cpu", weights_only=True)
    ckpt = read_checkpoint(folder)
    assert ckpt.format == "huggingface_vjepa2"
    encoder, predictor = load_pretrained(folder), load_predictor(folder)  # heads and sizes from config.json
    x = io["pixel_values_videos"].permute(0, 2, 1, 3, 4)  # HF [B, T, C, H, W] -> ours [B, C, T, H, W]
    with torch.no_grad():
        full = encoder(x)
        assert_official_close(full, io["last_hidden_state"])
        ctx = torch.gather(full, 1, io["ctx_index"].unsqueeze(-1).expand(-1, -1, full.shape[-1]))
        assert_official_close(predictor(ctx, io["ctx_index"], io["tgt_index"], mask_index=1), io["predictor_out"])


def corrupt(tmp_path, edit):
    """A copy of the V-JEPA 2 fixture with ``edit`` applied to its target encoder state dict."""
    raw = torch.load(OFFICIAL / "vjepa2" / FILES["vjepa2"], map_location="cpu", weights_only=True)
    edit(raw["target_encoder"])
    path = tmp_path / "edited.pt"
    torch.save(raw, path)
    return path


@pytest.mark.parametrize("edit, message", [
    (lambda s: s.pop("module.backbone.blocks.1.mlp.fc2.bias"), r"missing keys: blocks\.1\.mlp\.fc2\.bias"),
    (lambda s: s.update({"module.backbone.extra.weight": torch.zeros(2)}), r"unexpected keys: extra\.weight"),
    (lambda s: s.update({"module.backbone.norm.weight": torch.zeros(7)}),
     r"shape mismatches \(file vs model\): norm\.weight \(7,\) vs \(48,\)"),
])  # fmt: skip
def test_strict_loading_names_the_keys_and_the_assumed_architecture(tmp_path, edit, message):
    path = corrupt(tmp_path, edit)
    with pytest.raises(PretrainedError, match=message) as err:
        load_pretrained(path, **silent_facts("vjepa2"))
    assert "edited.pt (vjepa2) does not fit the assumed VisionTransformer(" in str(err.value)
    assert "embed_dim=48" in str(err.value) and "use_rope=True" in str(err.value)


def test_overrides_win_where_weights_are_silent_and_fail_where_they_contradict():
    path = OFFICIAL / "vjepa2" / FILES["vjepa2"]
    with pytest.raises(PretrainedError, match="number of heads cannot be read from the weights: pass num_heads"):
        load_pretrained(path)
    with pytest.raises(PretrainedError, match="override embed_dim=64 contradicts .*embed_dim=48"):
        load_pretrained(path, embed_dim=64, **silent_facts("vjepa2"))
    assert load_pretrained(path, **{**silent_facts("vjepa2"), "num_heads": 4}).num_heads == 4
    with pytest.raises(PretrainedError, match="which='predictor'"):
        load_pretrained(path, which="predictor", **silent_facts("vjepa2"))


def test_unreadable_and_unknown_sources_are_clear_errors(tmp_path):
    with pytest.raises(PretrainedError, match="no such file or folder"):
        load_pretrained(tmp_path / "nope.pt")
    torch.save({"weights": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(PretrainedError, match="not a checkpoint layout we know"):
        load_pretrained(tmp_path / "other.pt")
    (tmp_path / "code.pt").write_bytes(b"\x80\x04garbage")
    with pytest.raises(PretrainedError, match="cannot be read as a weights-only checkpoint"):
        load_pretrained(tmp_path / "code.pt")


def test_export_round_trips_the_action_conditioned_predictor(tmp_path):
    manifest, io, _ = load_official("vjepa2_ac")
    kw = manifest["encoder_kwargs"]
    facts = {"num_heads": kw["num_heads"], "img_size": kw["img_size"], "num_frames": kw["num_frames"]}
    source = OFFICIAL / "vjepa2_ac" / "checkpoint.pt"
    with pytest.raises(PretrainedError, match="pass num_heads"):
        export_pretrained(source, tmp_path / "x", **facts)  # the predictor's heads are not in the weights
    ckpt_heads = {"num_heads": manifest["predictor_kwargs"]["num_heads"]}
    out = export_pretrained(source, tmp_path / "ac", predictor_overrides=ckpt_heads, **facts)
    a = load_predictor(source, encoder_overrides=facts, **ckpt_heads)
    b = load_predictor(out)
    with torch.no_grad():
        assert torch.equal(
            a(io["ac_tokens"], io["actions"], io["states"]), b(io["ac_tokens"], io["actions"], io["states"])
        )


@pytest.mark.parametrize("case", sorted(FILES))
def test_export_round_trips_to_identical_outputs(tmp_path, case):
    _, io, _ = load_official(case)
    source = OFFICIAL / case / FILES[case]
    out = export_pretrained(source, tmp_path / "export", **silent_facts(case))
    assert read_checkpoint(out).format == "jepa-toolkit"
    original, reloaded = load_pretrained(source, **silent_facts(case)), load_pretrained(out)
    heads = read_checkpoint(out).predictor_hints["num_heads"]
    pred_a, pred_b = load_predictor(source, silent_facts(case), num_heads=heads), load_predictor(out)
    tgt = list(io["tgt_index"]) if case == "ijepa" else io["tgt_index"]
    with torch.no_grad():
        assert torch.equal(original(io["x"]), reloaded(io["x"]))
        assert torch.equal(
            pred_a(io["enc_out_ctx"], io["ctx_index"], tgt), pred_b(io["enc_out_ctx"], io["ctx_index"], tgt)
        )


def test_our_lightning_checkpoint_loads(tmp_path):
    from jepa.cli import main

    run = tmp_path / "run"
    args = ["fit", "experiment=ijepa/quickstart", "model.encoder.embed_dim=32", "model.encoder.depth=1",
            "model.encoder.num_heads=2", "model.predictor.embed_dim=16", "model.predictor.depth=1",
            "data.batch_size=8", "data.num_workers=0", "trainer.max_steps=2", "final_probe=false",
            "trainer.enable_progress_bar=false", f"hydra.run.dir={run}"]  # fmt: skip
    assert main(args) == 0
    encoder = load_pretrained(run / "last.ckpt")
    state = torch.load(run / "last.ckpt", map_location="cpu", weights_only=True)["state_dict"]
    torch.testing.assert_close(encoder.blocks[0].attn.qkv.weight, state["target_encoder.blocks.0.attn.qkv.weight"])
    assert encoder.num_heads == 2 and encoder.use_rope and read_checkpoint(run / "last.ckpt").format == "lightning"
    shutil.rmtree(run)


def test_official_names_resolve_through_the_hub_cache(tmp_path, monkeypatch):
    from encoders.pretrained import OFFICIAL_MODELS

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    monkeypatch.setattr(torch.hub, "download_url_to_file", lambda *a, **k: (_ for _ in ()).throw(OSError("offline")))
    assert OFFICIAL_MODELS["vjepa2_vit_large"].url.endswith("/vjepa2/vitl.pt")
    with pytest.raises(PretrainedError, match=r"vjepa2_vit_large: .*vitl.pt is not cached .*\(OSError: offline\)"):
        load_pretrained("vjepa2_vit_large")
    with pytest.raises(PretrainedError, match="unknown model name 'vjepa3'"):
        read_checkpoint("vjepa3")
    # a cached file is used as it is (the failed download left the cache folder)
    shutil.copy(OFFICIAL / "vjepa2" / FILES["vjepa2"], tmp_path / "checkpoints" / "vitl.pt")
    assert read_checkpoint("vjepa2_vit_large").format == "vjepa2"


def test_vjepa2_ac_encoder_and_action_conditioned_predictor():
    from predictors.action_conditioned import ActionConditionedPredictor

    manifest, io, _ = load_official("vjepa2_ac")
    path = OFFICIAL / "vjepa2_ac" / "checkpoint.pt"
    assert read_checkpoint(path).format == "vjepa2_ac"
    kw = manifest["encoder_kwargs"]
    facts = {"num_heads": kw["num_heads"], "img_size": kw["img_size"], "num_frames": kw["num_frames"]}
    encoder = load_pretrained(path, **facts)
    predictor = load_predictor(path, encoder_overrides=facts, num_heads=manifest["predictor_kwargs"]["num_heads"])
    assert isinstance(predictor, ActionConditionedPredictor)
    x = io["x"]  # [B, 3, T, H, W]: each frame duplicated into a 2-frame tubelet and encoded on its own
    b, _, t, h, w = x.shape
    frames = x.permute(0, 2, 1, 3, 4).reshape(b * t, 3, 1, h, w).expand(-1, -1, 2, -1, -1)
    with torch.no_grad():
        tokens = encoder(frames).view(b, -1, encoder.embed_dim)
        assert_official_close(tokens, io["enc_tokens"])
        assert_official_close(predictor(io["ac_tokens"], io["actions"], io["states"]), io["ac_pred_out"])
        per_frame = tokens.shape[1] // t
        prefix = predictor(io["ac_tokens"][:, :-per_frame], io["actions"][:, :-1], io["states"][:, :-1])
        assert_official_close(prefix, io["ac_pred_out_prefix"])
    with pytest.raises(PretrainedError, match="action-conditioned predictor 48 wide is no official size"):
        load_predictor(path, encoder_overrides=facts)


def test_action_conditioned_predictor_is_block_causal():
    from predictors.action_conditioned import ActionConditionedPredictor

    model = ActionConditionedPredictor(img_size=16, patch_size=8, embed_dim=8, predictor_embed_dim=16, depth=2,
                                       num_heads=2).eval()  # fmt: skip
    tokens, actions, states = torch.randn(1, 12, 8), torch.randn(1, 3, 7), torch.randn(1, 3, 7)
    later = tokens.clone()
    later[:, 8:] += 1.0  # change only the last frame
    actions2 = actions.clone()
    actions2[:, 2] += 1.0
    with torch.no_grad():
        base = model(tokens, actions, states)
        torch.testing.assert_close(model(later, actions2, states)[:, :8], base[:, :8])
        assert not torch.allclose(model(later, actions, states)[:, 8:], base[:, 8:])
    with pytest.raises(ValueError, match="not whole frames"):
        model(torch.randn(1, 10, 8), actions, states)


def test_hugging_face_ijepa_folder(tmp_path):
    """An ``IJepaModel`` folder in Hugging Face's ViT naming, written from the official I-JEPA fixture's weights."""
    from safetensors.torch import save_file

    manifest, io, ckpt = load_official("ijepa")
    kw = manifest["encoder_kwargs"]
    state = {k.removeprefix("module."): v for k, v in ckpt["target_encoder"].items()}
    hf = {"embeddings.patch_embeddings.projection.weight": state.pop("patch_embed.proj.weight"),
          "embeddings.patch_embeddings.projection.bias": state.pop("patch_embed.proj.bias"),
          "embeddings.position_embeddings": state.pop("pos_embed"), "layernorm.weight": state.pop("norm.weight"),
          "layernorm.bias": state.pop("norm.bias")}  # fmt: skip
    names = {"norm1": "layernorm_before", "norm2": "layernorm_after", "attn.proj": "attention.output.dense",
             "mlp.fc1": "intermediate.dense", "mlp.fc2": "output.dense"}  # fmt: skip
    for key, value in state.items():
        _, i, rest = key.split(".", 2)
        module, kind = rest.rsplit(".", 1)
        if module == "attn.qkv":
            for name, part in zip(("query", "key", "value"), value.chunk(3)):
                hf[f"encoder.layer.{i}.attention.attention.{name}.{kind}"] = part.contiguous()
        else:
            hf[f"encoder.layer.{i}.{names[module]}.{kind}"] = value
    folder = tmp_path / "hf_ijepa"
    folder.mkdir()
    save_file(hf, str(folder / "model.safetensors"))
    size = kw["img_size"][0] if isinstance(kw["img_size"], list) else kw["img_size"]
    config = {"model_type": "ijepa", "image_size": size, "patch_size": kw["patch_size"],
              "hidden_size": kw["embed_dim"], "num_attention_heads": kw["num_heads"], "num_hidden_layers": kw["depth"],
              "layer_norm_eps": 1e-6}  # fmt: skip
    (folder / "config.json").write_text(json.dumps(config))
    encoder = load_pretrained(folder)
    assert read_checkpoint(folder).format == "huggingface_ijepa"
    with torch.no_grad():
        assert_official_close(encoder(io["x"]), io["target_enc_out_full"])
