"""jepa viz: masks over frames, PCA colours of patch features, curves of a run."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from jepa import viz
from jepa.cli import main
from tests.jepa.test_cli import TINY


def test_overlay_dims_all_but_the_context_and_tints_each_target_block():
    image = np.full((8, 8, 3), 200, dtype=np.uint8)  # a 2x2 grid of 4-pixel patches
    out = viz.overlay(image, 4, context=np.array([0]), targets=[np.array([3])])
    assert (out[:4, :4] == 200).all(), "context kept"
    assert (out[:4, 4:] == 60).all(), "neither context nor target: dimmed to 30%"
    tint = viz.TARGET_COLOURS[0]
    np.testing.assert_allclose(out[4:, 4:].reshape(-1, 3)[0], (0.45 * 60 + 0.55 * tint).astype(np.uint8), atol=1)


def test_pca_colours_separate_what_the_features_separate():
    torch.manual_seed(0)
    direction = torch.randn(16)
    a = torch.randn(20, 16) * 0.05 + direction  # two inputs whose tokens lie on either side of one direction
    b = torch.randn(30, 16) * 0.05 - direction
    colours = viz.pca_colours([a, b])
    assert [c.shape for c in colours] == [(20, 3), (30, 3)]
    assert all(((c >= 0) & (c <= 1)).all() for c in colours)
    first = np.concatenate(colours)[:, 0]
    assert abs(first[:20].mean() - first[20:].mean()) > 0.8, "the first component tells the two apart"
    with pytest.raises(ValueError, match="at least 3 tokens"):
        viz.pca_colours([torch.randn(2, 4)])


def test_jepa_viz_masks_pca_and_curves_on_a_run(tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert main(["fit", *TINY, "trainer.max_steps=4", f"hydra.run.dir={run_dir}"]) == 0

    assert main(["viz", "curves", str(run_dir)]) == 0
    curves = Image.open(run_dir / "curves.png")
    assert curves.size[0] > 3 * curves.size[1], "one panel per curve, side by side"

    assert main(["viz", "masks", *TINY, f"hydra.run.dir={tmp_path / 'masks'}"]) == 0
    masks = np.asarray(Image.open(tmp_path / "masks" / "masks.png").convert("RGB"))
    assert masks.shape[0] > masks.shape[1], "four samples, one row each"
    assert (np.abs(masks.astype(int) - viz.TARGET_COLOURS[0]).sum(-1) < 120).any(), "a tinted target block"

    images = []
    for i in range(3):
        images.append(tmp_path / f"digit{i}.png")
        Image.fromarray((np.random.default_rng(i).random((32, 32, 3)) * 255).astype(np.uint8)).save(images[-1])
    out = tmp_path / "pca.png"
    assert main(["viz", "pca", str(run_dir / "last.ckpt"), *map(str, images), "--out", str(out)]) == 0
    width, height = Image.open(out).size
    assert height > 3 * 160 and width > 2 * 160, "three rows of an input beside its colours, enlarged"
    gif = tmp_path / "pca.gif"
    assert main(["viz", "pca", str(run_dir / "last.ckpt"), *map(str, images), "--out", str(gif)]) == 0
    assert Image.open(gif).format == "GIF"


def test_viz_errors_are_one_line(tmp_path, capsys):
    assert main(["viz", "nothing"]) == 2
    assert "choose a picture: masks, pca, curves" in capsys.readouterr().err
    assert main(["viz", "curves", str(tmp_path)]) == 2
    assert "no CSV log" in capsys.readouterr().err
    assert main(["viz", "masks", "experiment=wm/pusht_quickstart"]) == 2
    assert "objective=world_model trains without masks" in capsys.readouterr().err
    assert main(["viz", "pca", "random", str(tmp_path / "missing.png")]) == 2
    assert "missing.png: no such file" in capsys.readouterr().err


def test_masks_draw_uint8_clips_as_they_draw_normalised_ones():
    import torch

    from jepa.data.video_transforms import normalize_clips
    from jepa.viz import to_uint8

    pixels = torch.randint(0, 256, (3, 2, 8, 8), dtype=torch.uint8)
    assert np.array_equal(to_uint8(pixels[:, 0]), to_uint8(normalize_clips(pixels)[:, 0]))
