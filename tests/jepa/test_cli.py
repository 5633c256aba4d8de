"""End-to-end runs of the ``jepa`` command on the built-in digits, and its errors for bad input."""

import csv
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from jepa.cli import main
from jepa.objectives import IJEPA

TINY = [
    "model.encoder.embed_dim=48", "model.encoder.depth=2", "model.encoder.num_heads=4", "model.predictor.embed_dim=32",
    "model.predictor.depth=1", "data.batch_size=16", "data.num_workers=0", "trainer.enable_progress_bar=false",
    "trainer.log_every_n_steps=1", "trainer.check_val_every_n_epoch=1", "trainer.limit_val_batches=2",
    "final_probe=false",
]  # fmt: skip


def fit(tmp_path: Path, *overrides: str, name: str = "run") -> Path:
    run_dir = tmp_path / name
    assert main(["fit", *TINY, f"hydra.run.dir={run_dir}", *overrides]) == 0
    return run_dir


def csv_rows(run_dir: Path, key: str) -> list[dict[str, str]]:
    """The rows of a run's CSV log that carry ``key``."""
    with open(run_dir / "csv" / "metrics.csv") as f:
        return [row for row in csv.DictReader(f) if row.get(key)]


def read_csv_metric(run_dir: Path, key: str) -> list[float]:
    return [float(row[key]) for row in csv_rows(run_dir, key)]


def test_fit_writes_run_directory_and_checkpoint_reloads(tmp_path):
    run_dir = fit(tmp_path, "trainer.max_steps=4", "final_probe=true")
    for name in ("config.yaml", "last.ckpt", "metrics.json"):
        assert (run_dir / name).is_file(), name
    assert any((run_dir / "tensorboard").iterdir()) and (run_dir / "csv" / "metrics.csv").is_file()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["global_step"] == 4 and metrics["command"] == "fit"
    for probe in ("probe", "probe10", "knn"):
        assert 0.1 < metrics[f"{probe}_top1_start"] <= 1 and 0.1 < metrics[f"{probe}_top1_end"] <= 1
    assert metrics["probe_step_start"] == 0 and metrics["probe_step_end"] == 4

    saved = torch.load(run_dir / "last.ckpt", map_location="cpu", weights_only=False)
    model = IJEPA.load_from_checkpoint(run_dir / "last.ckpt", map_location="cpu").eval()
    assert model.encoder.embed_dim == 48 and len(model.predictor.predictor_blocks) == 1
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, saved["state_dict"][key], msg=key)
    assert not torch.equal(model.state_dict()["encoder.blocks.0.attn.qkv.weight"],
                           model.state_dict()["target_encoder.blocks.0.attn.qkv.weight"])  # fmt: skip

    # resuming from the checkpoint continues at step 4
    resumed = fit(tmp_path, "trainer.max_steps=6", f"ckpt_path={run_dir / 'last.ckpt'}", name="resumed")
    assert json.loads((resumed / "metrics.json").read_text())["global_step"] == 6


def test_fit_learns(tmp_path):
    """With the target encoder frozen (EMA momentum 1), the context encoder and predictor learn to predict its
    features of the masked blocks: the loss falls well below its start, and the online probe beats chance."""
    run_dir = fit(tmp_path, "trainer.max_steps=80", "data.batch_size=32", "model.ema.start=1.0", "model.ema.end=1.0",
                  "model.optim.lr=2e-3", "model.optim.warmup_steps=5", "model.probe.lr=0.01",
                  "trainer.check_val_every_n_epoch=100")  # fmt: skip
    losses = read_csv_metric(run_dir, "train/loss")
    assert len(losses) == 80
    assert np.mean(losses[-10:]) < 0.9 * np.mean(losses[:3])
    probe = read_csv_metric(run_dir, "train/probe_top1")
    assert np.mean(probe[-10:]) > 0.18  # chance: 0.1


def test_fit_with_a_regularizer_logs_its_term_and_the_collapse_measures(tmp_path):
    run_dir = fit(tmp_path, "trainer.max_steps=3", "trainer.val_check_interval=3", "model.regularizer=vicreg",
                  "model.regularizer_weight=1.0")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    for name in ("target", "context"):
        assert 1 < metrics[f"val/rank_{name}"] <= 48 and metrics[f"val/std_{name}"] > 0
    prediction, regularizer = read_csv_metric(run_dir, "train/prediction"), read_csv_metric(run_dir, "train/regularizer")
    losses = read_csv_metric(run_dir, "train/loss")
    assert len(regularizer) == 3 and all(r > 0 for r in regularizer)
    np.testing.assert_allclose(losses, np.add(prediction, regularizer), rtol=1e-5)
    assert csv_rows(run_dir, "val/rank_target")[0]["step"] == "0"  # the reference the collapse warning compares with


def test_validate_and_test_commands(tmp_path):
    run_dir = fit(tmp_path, "trainer.max_steps=2")
    ckpt = run_dir / "last.ckpt"
    for command in ("validate", "test"):
        out = tmp_path / command
        assert main([command, *TINY, f"hydra.run.dir={out}", f"ckpt_path={ckpt}"]) == 0
        metrics = json.loads((out / "metrics.json").read_text())
        assert 0 <= metrics[f"{'val' if command == 'validate' else 'test'}/probe_top1"] <= 1


def make_image_folder(root: Path, corrupt: bool) -> None:
    rng = np.random.default_rng(0)
    for split, per_class in (("train", 4), ("val", 2)):
        for cls in ("a", "b"):
            folder = root / split / cls
            folder.mkdir(parents=True)
            for i in range(per_class):
                Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    if corrupt:
        (root / "train" / "a" / "3.png").write_bytes(b"this is not a png")


def test_unreadable_image_is_skipped_with_warning_and_counted(tmp_path):
    make_image_folder(tmp_path / "data", corrupt=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run_dir = fit(tmp_path, f"data.root={tmp_path / 'data'}", "data.img_size=32", "data.batch_size=4",
                      "trainer.max_steps=2", "model.encoder.patch_size=8")  # fmt: skip
    assert any("skipping unreadable image" in str(w.message) and "3.png" in str(w.message) for w in caught)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["skipped_samples"] == 1 and metrics["global_step"] == 2


@pytest.mark.parametrize("overrides, message", [
    (["data.root=/no/such/dir"], "data.root=/no/such/dir: no such directory"),
    (["experiment=ijepa/nope"], "available experiments: eval/ek100, eval/in1k, eval/k400, eval/ssv2, ijepa/quickstart"),
    (["data.colour=1"], "Could not override 'data.colour'"),
    (["trainer.max_steps=many"], "Value 'many' of type 'str' could not be converted to Integer"),
    (["experiment=ijepa/vit_small_16"], "data.root is required by this experiment"),
    (["model.encoder.attn_backend=flash"], "unknown attention backend 'flash'"),
])  # fmt: skip
def test_bad_input_is_one_clear_error(tmp_path, capsys, overrides, message):
    guard = ["trainer.max_steps=1", "data.num_workers=0"]  # should the error not come, end fast
    assert main(["fit", f"hydra.run.dir={tmp_path / 'run'}", *guard, *overrides]) == 2
    err = capsys.readouterr().err
    assert err.startswith("jepa fit: error:") and message in err
    assert "Traceback" not in err


def test_empty_data_root_is_one_clear_error(tmp_path, capsys):
    (tmp_path / "data" / "train" / "cls").mkdir(parents=True)
    assert (
        main(["fit", f"data.root={tmp_path / 'data'}", f"hydra.run.dir={tmp_path / 'run'}", "trainer.max_steps=1"]) == 2
    )
    assert "found no images under" in capsys.readouterr().err


def test_a_quickstart_takes_a_folder_without_val_split_and_holds_out_a_tenth(tmp_path, capsys):
    folder = tmp_path / "mine"
    rng = np.random.default_rng(0)
    for c in range(2):
        (folder / f"class{c}").mkdir(parents=True)
        for i in range(10):
            Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(folder / f"class{c}" / f"{i}.png")
    run_dir = fit(tmp_path, f"data.root={folder}", "data.batch_size=9", "trainer.max_steps=2")  # 18 train images
    assert f"data: {folder}; validation: a seeded 10% of its images (no {folder}/val)" in capsys.readouterr().out
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["global_step"] == 2 and "val/loss" in metrics
    assert main(["fit", *TINY, f"data.root={folder}", "data.val_fraction=null", "trainer.max_steps=1",
                 f"hydra.run.dir={tmp_path / 'strict'}"]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert "no 'train' folder" in err and "data.val_fraction=0.1" in err
