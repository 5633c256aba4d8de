"""End-to-end ``jepa fit`` of V-JEPA 2 on official-format video lists, and a cooldown from its checkpoint."""

import json
import warnings
from pathlib import Path

import pytest
import torch

from jepa.cli import main
from jepa.data.video_writer import write_mp4
from jepa.objectives import VJEPA
from tests.jepa.data.conftest import moving_square
from tests.jepa.test_cli import read_csv_metric

SMALL = [
    "experiment=vjepa2/quickstart", "data.demo_root=null", "data.crop_size=32", "data.batch_size=4",
    "data.num_workers=0", "model.encoder.embed_dim=32", "model.encoder.depth=2", "model.encoder.num_heads=2",
    "model.predictor.embed_dim=16", "model.predictor.depth=1", "model.predictor.num_heads=2",
    "trainer.enable_progress_bar=false", "trainer.log_every_n_steps=1", "final_probe=false",
]  # fmt: skip


@pytest.fixture
def official_lists(tmp_path: Path) -> tuple[Path, Path]:
    """Two lists in the official format: relative and absolute paths, an image, and four kinds of bad file."""
    videos = tmp_path / "lists" / "videos"
    videos.mkdir(parents=True)
    for i in range(4):
        write_mp4(videos / f"v{i}.mp4", moving_square(seed=i), fps=10)
    from PIL import Image

    Image.fromarray(moving_square()[3]).save(videos / "still.jpg")
    (videos / "empty.mp4").write_bytes(b"")
    (videos / "truncated.mp4").write_bytes((videos / "v0.mp4").read_bytes()[:300])
    (videos / "readme.mp4").write_text("no video here\n")
    short = tmp_path / "lists" / "short.csv"
    short.write_text("videos/v0.mp4 0\nvideos/v1.mp4 1\nvideos/still.jpg 2\nvideos/missing.mp4 0\nvideos/empty.mp4 1\n")
    long = tmp_path / "long.csv"  # absolute paths
    long.write_text("".join(f"{videos / name} {label}\n" for name, label in
                            (("v2.mp4", 2), ("v3.mp4", 3), ("truncated.mp4", 0), ("readme.mp4", 1))))  # fmt: skip
    return short, long


def test_vjepa2_fits_official_lists_with_mixed_clip_lengths_and_bad_files(tmp_path, official_lists):
    short, long = official_lists
    run_dir = tmp_path / "pretrain"
    data = [f"data.datasets=[{short},{long}]", "data.dataset_fpcs=[4,8]", "data.fps=null", "data.frame_step=2",
            "model.encoder.num_frames=8", "data.val_fraction=null"]  # fmt: skip  (every bad file in training)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(["fit", *SMALL, *data, "trainer.max_steps=6", f"hydra.run.dir={run_dir}"]) == 0
    skipped = [str(w.message) for w in caught if "skipping unreadable video" in str(w.message)]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["global_step"] == 6 and metrics["skipped_samples"] >= 1
    assert read_csv_metric(run_dir, "data/skipped")[-1] == metrics["skipped_samples"]
    assert len(skipped) == len(set(skipped)), "one warning per bad file"
    assert all(any(n in m for n in ("missing", "empty", "truncated", "readme")) for m in skipped)
    losses = read_csv_metric(run_dir, "train/loss")
    assert len(losses) == 6 and all(0 < v < 10 for v in losses)

    model = VJEPA.load_from_checkpoint(run_dir / "last.ckpt", map_location="cpu")
    assert model.clip_lengths == [4, 8] and len(model.predictor.mask_tokens) == 4

    # cooldown: the pretrained weights, longer clips, linear decay, a fresh step count
    cooldown = tmp_path / "cooldown"
    longer = [f"data.datasets=[{short},{long}]", "data.dataset_fpcs=[8,16]", "data.fps=null", "data.frame_step=1",
              "model.encoder.num_frames=16", "model.optim.lr_decay=linear", "model.optim.warmup_steps=0",
              "model.optim.lr=5e-4", "model.optim.final_lr=1e-6", "data.val_fraction=null"]  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["fit", *SMALL, *longer, f"init_weights={run_dir / 'last.ckpt'}", "trainer.max_steps=2",
                     f"hydra.run.dir={cooldown}"]) == 0  # fmt: skip
    assert json.loads((cooldown / "metrics.json").read_text())["global_step"] == 2
    lrs = read_csv_metric(cooldown, "train/lr")
    assert lrs[0] == pytest.approx(5e-4) and lrs[1] < lrs[0], "linear decay from the peak LR"
    start = torch.load(run_dir / "last.ckpt", map_location="cpu", weights_only=False)["state_dict"]
    after = torch.load(cooldown / "last.ckpt", map_location="cpu", weights_only=False)["state_dict"]
    key = "target_encoder.blocks.0.attn.qkv.weight"
    assert (after[key] - start[key]).abs().max() < 0.05, "the cooldown starts from the pretrained weights"


def test_a_list_of_only_bad_files_stops_at_start_with_one_error(tmp_path, capsys, official_lists):
    short, _ = official_lists
    bad = tmp_path / "lists" / "bad.csv"
    bad.write_text("videos/missing.mp4 0\nvideos/empty.mp4 0\nvideos/readme.mp4 1\n")
    args = ["fit", *SMALL, f"data.datasets=[{bad}]", "data.dataset_fpcs=[4]", "model.encoder.num_frames=4",
            "trainer.max_steps=1", f"hydra.run.dir={tmp_path / 'run'}"]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("jepa fit: error: data.datasets: none of the 3 files listed in") and "bad.csv" in err


def test_cooldown_needs_weights_that_fit(tmp_path, capsys):
    assert main(["fit", *SMALL, "init_weights=/no/such.ckpt", "data.demo_root=/tmp/x", "trainer.max_steps=1",
                 f"hydra.run.dir={tmp_path / 'run'}"]) == 2  # fmt: skip
    assert "init_weights=/no/such.ckpt: no such checkpoint" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["vjepa/vitl16", "vjepa2/vitl16", "vjepa2/vith16", "vjepa2/vitg16",
                                  "vjepa2/vitl16_cooldown", "vjepa2/quickstart", "vjepa2/quickstart_vicreg"])  # fmt: skip
def test_video_experiments_compose_validate_and_carry_the_official_settings(name):
    from jepa.compose import compose_run
    from jepa.config import OBJECTIVE_SCHEMAS, validated
    from jepa.masks import MultiBlockMask3D

    run, _ = compose_run([f"experiment={name}", "data.datasets=[a.csv,b.csv,c.csv]", "init_weights=w.ckpt"]
                         if "quickstart" not in name else [f"experiment={name}"])  # fmt: skip
    model_schema, data_schema, mask_schema = OBJECTIVE_SCHEMAS[run.objective]
    model, data, mask = (validated(s, v, k) for s, v, k in ((model_schema, run.model, "model"),
                         (data_schema, run.data, "data"), (mask_schema, run.mask, "mask")))  # fmt: skip
    assert run.objective == "vjepa" and model.encoder.num_frames == max(data.dataset_fpcs)
    assert mask.input_size == data.crop_size and mask.patch_size == model.encoder.patch_size
    short, long = mask.sets
    assert (short.num_blocks, list(short.spatial_scale), long.num_blocks, list(long.spatial_scale)) == (
        8,
        [0.15, 0.15],
        2,
        [0.7, 0.7],
    )
    MultiBlockMask3D(mask.input_size, mask.patch_size, data.dataset_fpcs[0], mask.tubelet_size, **vars(short))
    if name.startswith("vjepa2/vit"):
        assert (data.crop_size, data.fps, mask.tubelet_size) == (256, 4, 2)
        assert (model.predictor.depth, model.predictor.embed_dim, model.predictor.num_heads) == (12, 384, 12)
        assert model.encoder.use_rope and model.encoder.rope_tiled_freqs
        assert (model.ema.start, model.ema.end, model.optim.weight_decay) == (0.99925, 0.99925, 0.04)
        size = {"vitl16": "large", "vith16": "huge", "vitg16": "giant_xformers"}.get(name.split("/")[1], "large")
        assert model.encoder.size == size
    if name == "vjepa2/vitl16":
        assert (model.optim.start_lr, model.optim.lr, model.optim.lr_decay) == (1e-4, 5.25e-4, "constant")
        assert data.dataset_fpcs == [16, 16, 16] and data.datasets_weights == [0.335, 0.100, 0.565]
    regularized = name == "vjepa2/quickstart_vicreg"  # the quickstart's settings, plus VICReg and second halves
    assert (model.regularizer, model.regularizer_on) == (("vicreg", "tokens") if regularized else ("none", "mean"))
    assert [s.max_temporal_keep for s in mask.sets] == [0.5 if regularized else 1.0] * 2
    if name == "vjepa2/vitl16_cooldown":
        assert data.dataset_fpcs == [64, 64, 64] and run.init_weights == "w.ckpt"
        assert (model.optim.warmup_steps, model.optim.lr_decay, model.optim.final_lr) == (0, "linear", 1e-6)


def test_a_quickstart_takes_the_users_list_and_holds_out_its_validation(tmp_path, capsys):
    for i in range(10):
        write_mp4(tmp_path / f"v{i}.mp4", moving_square(seed=i), fps=10)
    mine = tmp_path / "mine.csv"
    mine.write_text("".join(f"{tmp_path / f'v{i}.mp4'} {i % 2}\n" for i in range(10)))
    own = [arg for arg in SMALL if arg != "data.demo_root=null"] + [
        f"data.datasets=[{mine}]", "data.dataset_fpcs=[4]", "data.fps=null", "data.frame_step=2",
        "model.encoder.num_frames=4"]  # fmt: skip
    run_dir = tmp_path / "run"
    args = [*own, "trainer.max_steps=2", "trainer.check_val_every_n_epoch=1", f"hydra.run.dir={run_dir}"]
    assert main(["fit", *args]) == 0
    assert f"data: {mine}; validation: a seeded 10% of them (no data.val_datasets)" in capsys.readouterr().out
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["global_step"] == 2 and "val/loss" in metrics  # validated on the held-out clip
    assert main(["probe", "knn", *own, "encoder=random", f"hydra.run.dir={tmp_path / 'probe'}"]) == 0
    probe = json.loads((tmp_path / "probe" / "metrics.json").read_text())
    assert (probe["num_train"], probe["num_test"]) == (9, 1)
