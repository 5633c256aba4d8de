"""LeJEPA: its loss against the paper's definitions, its errors for bad settings, and a short run on the built-in
digits that beats random init."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from jepa.cli import main
from jepa.objectives import LeJEPA
from jepa.regularizers import SIGReg

SMALL = {
    "encoder": {"size": "tiny", "img_size": 16, "patch_size": 8, "embed_dim": 32, "depth": 1, "num_heads": 2},
    "projector": {"hidden_dim": 16, "out_dim": 8, "depth": 2},
    "probe": {"num_classes": 3},
    "num_global_views": 2,
    "sigreg_weight": 0.2,
    "sigreg_slices": 16,
}


@pytest.mark.parametrize("local_size", [16, 8])  # local views at the global size, or smaller (RoPE)
def test_loss_is_the_prediction_of_the_global_mean_plus_sigreg_of_every_view(local_size):
    torch.manual_seed(0)
    model = LeJEPA(**{**SMALL, "encoder": {**SMALL["encoder"], "use_rope": local_size != 16}})
    views = [torch.randn(6, 3, size, size) for size in (16, 16, local_size, local_size)]  # 2 global, then 2 local
    out = model.compute_loss({"groups": [{"inputs": views, "labels": torch.arange(6) % 3}]})
    pooled = torch.stack([model.encoder(v).mean(1) for v in views])
    z = model.projector(pooled.flatten(0, 1)).view(4, 6, -1)
    prediction = ((z - z[:2].mean(0)) ** 2).mean()
    sigreg = torch.stack([SIGReg(16)(z_v, 0) for z_v in z]).mean()
    torch.testing.assert_close(out.terms["prediction"], prediction, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(out.terms["sigreg"], sigreg, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(out.loss, 0.8 * prediction + 0.2 * sigreg, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(out.pooled, pooled[:2].mean(0), rtol=1e-5, atol=1e-6)
    assert out.features["encoder"].shape == (6, 32) and out.features["embedding"].shape == (6, 8)
    out.loss.backward()
    assert model.encoder.blocks[0].attn.qkv.weight.grad.abs().sum() > 0  # no stop-gradient anywhere


@pytest.mark.parametrize("key, value, message", [
    ("sigreg_weight", -0.1, "model.sigreg_weight=-0.1"),
    ("sigreg_weight", 1.5, "model.sigreg_weight=1.5"),
    ("num_global_views", 0, "model.num_global_views=0"),
    ("sigreg_slices", 0, "model.sigreg_slices=0"),
])  # fmt: skip
def test_bad_settings_are_one_error_naming_the_key(key, value, message):
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        LeJEPA(**{**SMALL, key: value})


QUICK = ["experiment=lejepa/quickstart", "data.num_workers=0", "trainer.enable_progress_bar=false",
         "trainer.check_val_every_n_epoch=5", "trainer.limit_val_batches=2"]  # fmt: skip


@pytest.mark.parametrize("override, message", [
    ("data.views.num_global=0", "data.views.num_global=0: a sample needs at least 1 global view"),
    ("data.views.local_scale=[0.0,0.4]", "data.views.local_scale=[0.0, 0.4]: crop scales must lie in (0, 1]"),
    ("data.views.global_scale=[0.5,1.2]", "data.views.global_scale=[0.5, 1.2]: crop scales must lie in (0, 1]"),
    ("model.sigreg_weight=-1", "model.sigreg_weight=-1.0: λ must lie in [0, 1]"),
    ("data.views=null", "objective=lejepa trains on augmented views: set data.views"),
])  # fmt: skip
def test_bad_views_or_weights_from_the_command_line_are_one_clear_error(tmp_path, capsys, override, message):
    assert main(["fit", *QUICK, "trainer.max_steps=1", f"hydra.run.dir={tmp_path / 'run'}", override]) == 2
    err = capsys.readouterr().err
    assert err.startswith("jepa fit: error:") and message in err and "Traceback" not in err


def test_short_lejepa_run_beats_random_init_and_logs_collapse_measures(tmp_path: Path):
    run_dir = tmp_path / "run"
    assert main(["fit", *QUICK, "trainer.max_steps=150", "model.optim.warmup_steps=20", "trainer.log_every_n_steps=10",
                 f"hydra.run.dir={run_dir}"]) == 0  # fmt: skip
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["global_step"] == 150
    assert 0 < metrics["pretraining_seconds"] <= metrics["seconds"], "what the pretraining alone cost"
    # the same encoder at step 0 is the random-init baseline of the same size, measured in this run
    assert metrics["knn_top1_end"] > metrics["knn_top1_start"] + 0.05, metrics
    assert metrics["probe_top1_end"] > metrics["probe_top1_start"], metrics
    assert metrics["knn_top1_pixels"] > 0.9  # the raw-pixel baseline of the same probes
    assert metrics["val/rank_encoder"] > 1 and metrics["val/std_encoder"] > 0
    from encoders.pretrained import load_pretrained

    encoder = load_pretrained(str(run_dir / "last.ckpt"))  # a LeJEPA checkpoint loads as its encoder
    state = torch.load(run_dir / "last.ckpt", map_location="cpu", weights_only=False)["state_dict"]
    torch.testing.assert_close(encoder.blocks[0].attn.qkv.weight, state["encoder.blocks.0.attn.qkv.weight"])
