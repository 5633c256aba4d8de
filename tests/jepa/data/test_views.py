"""Augmented views: how many, their shapes, one draw for all frames of a clip, seeded, and errors naming the key."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from jepa.config import ViewsConfig
from jepa.data.views import AugmentedViews

EVERYTHING = {"num_global": 2, "num_local": 3, "horizontal_flip": 0.5, "color_jitter": 1.0, "grayscale": 0.5,
              "blur": 1.0, "solarize": 0.5}  # fmt: skip


def clip(frames: int = 4) -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.repeat(rng.integers(0, 256, (1, 24, 32, 3), dtype=np.uint8), frames, axis=0)


def test_views_of_an_image_have_the_right_count_size_and_normalisation():
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 30, 3), dtype=np.uint8))
    views = AugmentedViews(EVERYTHING, 16)(image)
    assert len(views) == 5 and all(v.shape == (3, 16, 16) and v.dtype == torch.float32 for v in views)
    assert all(not torch.equal(views[0], v) for v in views[1:])  # each view its own draw
    assert -2.2 < float(torch.stack(views).min()) and float(torch.stack(views).max()) < 2.7  # ImageNet-normalised


def test_every_frame_of_a_clip_gets_the_same_draw_and_a_seed_repeats_it():
    views = AugmentedViews(EVERYTHING, 16)
    torch.manual_seed(3)
    first = views(clip())
    assert len(first) == 5
    for view in first:
        assert view.shape == (3, 4, 16, 16)
        for t in range(1, 4):
            torch.testing.assert_close(view[:, t], view[:, 0])  # identical frames stay identical
    torch.manual_seed(3)
    assert all(torch.equal(a, b) for a, b in zip(first, views(clip())))


def test_local_views_crop_less_of_the_input_than_global_ones():
    ramp = np.tile(np.arange(64, dtype=np.uint8)[None, :, None] * 4, (64, 1, 3))  # brightness rises left to right
    views = AugmentedViews({"num_global": 1, "num_local": 1, "global_scale": [1.0, 1.0], "local_scale": [0.05, 0.05],
                            "aspect_ratio": [1.0, 1.0], "horizontal_flip": 0.0, "color_jitter": 0.0,
                            "grayscale": 0.0, "blur": 0.0, "solarize": 0.0}, 32)  # fmt: skip
    whole, local = views(Image.fromarray(ramp))
    span = lambda v: float(v[0, 0, -1] - v[0, 0, 0])  # noqa: E731
    assert span(local) < span(whole) / 3


@pytest.mark.parametrize("key, value, message", [
    ("num_global", 0, "data.views.num_global=0"),
    ("num_local", -1, "data.views.num_local=-1"),
    ("global_scale", (0.0, 1.0), "data.views.global_scale=[0.0, 1.0]"),
    ("local_scale", (0.2, 1.5), "data.views.local_scale=[0.2, 1.5]"),
    ("blur", 1.5, "data.views.blur=1.5"),
])  # fmt: skip
def test_bad_settings_are_one_error_naming_the_key(key, value, message):
    with pytest.raises(ValueError, match=message.replace(".", r"\.").replace("[", r"\[").replace("]", r"\]")):
        AugmentedViews(ViewsConfig(**{key: value}), 16)
