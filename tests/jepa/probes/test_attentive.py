"""The attentive probe: clips and views encoded as the official evaluation does, and heads that learn."""

import json

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from encoders.vit import create_encoder
from jepa.probes.attentive import as_segment_views, encode_views, fit_attentive_probe, save_official_probe
from jepa.cli import main
from jepa.config import AttentiveProbeConfig
from jepa.data.video_writer import write_mp4
from jepa.masks import MaskCollator
from predictors.heads import AttentiveClassifier
from predictors.pretrained import load_probe
from tests.conftest import OFFICIAL, assert_official_close
from tests.jepa.data.conftest import moving_square
from tests.jepa.test_cli_video import SMALL


def tiny_video_encoder():
    return create_encoder("tiny", img_size=16, patch_size=8, num_frames=4, embed_dim=32, depth=1, num_heads=2).eval()


def test_segments_are_encoded_alone_and_concatenated_per_view():
    encoder = tiny_video_encoder()
    clips = torch.randn(2, 3, 2, 3, 4, 16, 16)  # [B, S, V, 3, T, H, W]
    views = encode_views(encoder, clips)
    assert views.shape == (2, 2, 3 * 8, 32)
    for v in range(2):
        expected = torch.cat([encoder(clips[:, s, v]) for s in range(3)], dim=1)
        torch.testing.assert_close(views[v], expected, rtol=1e-5, atol=1e-5)


def test_images_become_still_clips_for_a_video_encoder():
    images = torch.randn(2, 3, 16, 16)
    clips = as_segment_views(images, image_frames=4)
    assert clips.shape == (2, 1, 1, 3, 4, 16, 16)
    assert torch.equal(clips[:, 0, 0, :, 3], images) and torch.equal(clips[:, 0, 0, :, 0], images)
    assert as_segment_views(images, None).shape == (2, 1, 1, 3, 16, 16)


def quadrant_images(n: int, seed: int) -> list[tuple[torch.Tensor, int]]:
    """Noise images with a bright square in one of four quadrants; the quadrant is the label."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n):
        label = i % 4
        image = torch.randn(3, 16, 16, generator=g) * 0.5
        top, left = 8 * (label // 2), 8 * (label % 2)
        image[:, top : top + 8, left : left + 8] += 2.0
        out.append((image, label))
    return out


def test_attentive_heads_learn_what_a_frozen_random_encoder_sees():
    encoder = create_encoder("tiny", img_size=16, patch_size=8, embed_dim=32, depth=1, num_heads=2).eval()
    loaders = {name: DataLoader(quadrant_images(n, seed), batch_size=16, shuffle=name == "train",
                                collate_fn=MaskCollator(None))
               for name, n, seed in (("train", 192, 0), ("holdout", 32, 1), ("val", 64, 2))}  # fmt: skip
    cfg = AttentiveProbeConfig(lrs=[1e-2, 1e-5], weight_decays=[0.01], num_probe_blocks=1, epochs=12)
    results, head, probs, labels = fit_attentive_probe(encoder, loaders, 4, cfg, torch.device("cpu"))
    assert [(r.lr, r.weight_decay) for r in results] == [(1e-2, 0.01), (1e-5, 0.01)]
    assert results[0].holdout_score > results[1].holdout_score and isinstance(head, AttentiveClassifier)
    images = torch.stack([image for image, _ in quadrant_images(64, 2)])
    with torch.no_grad():
        torch.testing.assert_close(probs, head(encoder(images)).softmax(-1))
    accuracy = (probs.argmax(1) == labels).float().mean()
    assert accuracy > 0.9, f"the quadrant is plain to see, chance is 0.25; got {accuracy:.2f}"


@pytest.fixture
def labelled_lists(tmp_path):
    """Train and val lists of moving-square videos (16x32: two distinct views), labelled by seed parity."""
    for i in range(6):
        frames = np.concatenate([moving_square(seed=i)[:, :16]] * 2, axis=2)  # [20, 16, 64, 3]
        write_mp4(tmp_path / f"v{i}.mp4", frames[:, :, :32], fps=10)
    (tmp_path / "train.csv").write_text("".join(f"v{i}.mp4 {i % 2}\n" for i in range(4)))
    (tmp_path / "val.csv").write_text("v4.mp4 0\nv5.mp4 1\n")
    return tmp_path


def test_jepa_probe_attentive_on_video_lists_with_segments_and_views(labelled_lists, tmp_path, capsys):
    run = tmp_path / "run"
    args = ["probe", "attentive", *SMALL, "data.crop_size=16", f"data.datasets=[{labelled_lists / 'train.csv'}]",
            f"data.val_datasets=[{labelled_lists / 'val.csv'}]", "data.dataset_fpcs=[4]", "data.fps=null",
            "data.frame_step=2", "model.encoder.num_frames=4", "probe_eval.attentive.num_segments=2",
            "probe_eval.attentive.num_views=2", "probe_eval.attentive.epochs=1",
            "probe_eval.attentive.num_probe_blocks=2", "probe_eval.attentive.lrs=[0.001,0.0001]",
            "probe_eval.attentive.weight_decays=[0.01]", "encoder=random", f"hydra.run.dir={run}"]  # fmt: skip
    assert main(args) == 0
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (last["probe"], last["segments"], last["views"], last["num_heads"]) == ("attentive", 2, 2, 2)
    assert (last["num_train"], last["num_test"], last["num_classes"]) == (3, 2, 2)
    assert last["best_lr"] in (0.001, 0.0001) and last["top5"] == 1.0
    assert json.loads((run / "metrics.json").read_text()) == last and (run / "probe.png").stat().st_size > 10_000
    probe = load_probe(run / "probe.pt", num_heads=2)  # the best head, in the official evaluation layout
    assert (len(probe.pooler.blocks), probe.linear.out_features) == (1, 2)


def test_jepa_probe_attentive_on_images_with_a_video_encoder(tmp_path, capsys):
    args = ["probe", "attentive", "experiment=ijepa/quickstart", "data.num_workers=0", "model.encoder.depth=1",
            "+model.encoder.num_frames=4", "+model.encoder.tubelet_size=2", "probe_eval.attentive.epochs=2",
            "probe_eval.attentive.num_probe_blocks=1", "probe_eval.attentive.lrs=[0.005]",
            "probe_eval.attentive.weight_decays=[0.01]", "probe_eval.attentive.augment=false", "encoder=random",
            f"hydra.run.dir={tmp_path}"]  # fmt: skip
    assert main(args) == 0
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert last["num_test"] == 360 and last["num_classes"] == 10 and last["top1"] > 0.2, "digits: chance is 0.1"


def test_probe_input_errors_are_one_clear_line(labelled_lists, tmp_path, capsys):
    lists = [f"data.datasets=[{labelled_lists / 'train.csv'}]", f"data.val_datasets=[{labelled_lists / 'val.csv'}]"]
    base = ["probe", "attentive", *SMALL, "data.crop_size=16", "data.dataset_fpcs=[4]", "data.fps=null",
            "data.frame_step=2", "encoder=random", f"hydra.run.dir={tmp_path / 'run'}", *lists]  # fmt: skip
    assert main([*base, "probe_eval.attentive.num_segments=0"]) == 2
    assert (
        capsys.readouterr().err.strip() == "jepa probe: error: probe_eval.attentive.num_segments=0: must be at least 1"
    )
    (labelled_lists / "val.csv").write_text("v4.mp4 0\nv5.mp4 7\n")
    assert main(base) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"jepa probe: error: data.val_datasets: {labelled_lists / 'val.csv'}:2: class 7 does not occur "
                   "in the training lists (2 classes)")  # fmt: skip
    (labelled_lists / "val.csv").write_text("")
    assert main(base) == 2
    assert capsys.readouterr().err.strip().endswith(f"{labelled_lists / 'val.csv'} lists no samples")
    images = tmp_path / "images"
    for split, count in (("train", 2), ("val", 0)):
        for cls in ("a", "b"):
            (images / split / cls).mkdir(parents=True)
            for i in range(count):
                Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)).save(images / split / cls / f"{i}.png")
    assert main(["probe", "linear", "experiment=ijepa/quickstart", f"data.root={images}", "data=imagefolder",
                 "data.img_size=32", "encoder=random", f"hydra.run.dir={tmp_path / 'run'}"]) == 2  # fmt: skip
    assert f"found no images under {images / 'val'}" in capsys.readouterr().err


def test_saved_probes_keep_the_official_layout_and_outputs(tmp_path):
    probe = load_probe(OFFICIAL / "attentive_probe" / "classifier.pt", num_heads=4)
    save_official_probe(probe, tmp_path / "probe.pt", epochs=20)
    saved = torch.load(tmp_path / "probe.pt", weights_only=True)
    assert all(key.startswith("module.") for key in saved["classifiers"][0]) and saved["epoch"] == 20
    io = torch.load(OFFICIAL / "attentive_probe" / "io.pt", weights_only=True)
    with torch.no_grad():
        assert_official_close(load_probe(tmp_path / "probe.pt", num_heads=4)(io["tokens"]), io["logits"])
