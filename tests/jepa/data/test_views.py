"""Augmented views: how many, their shapes, one draw for all frames of a clip, seeded, and errors naming the key."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from jepa.config import ViewsConfig
from jepa.data.video_transforms import IMAGENET_MEAN, IMAGENET_STD
from jepa.data.views import AugmentedViews, crop_box

EVERYTHING = {"num_global": 2, "num_local": 3, "horizontal_flip": 0.5, "color_jitter": 1.0, "grayscale": 0.5,
              "blur": 1.0, "solarize": 0.5}  # fmt: skip
NO_PHOTOMETRIC = {"horizontal_flip": 0.0, "color_jitter": 0.0, "grayscale": 0.0, "blur": 0.0, "solarize": 0.0}


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
    random.seed(3), torch.manual_seed(3)
    first = views(clip())
    assert len(first) == 5
    for view in first:
        assert view.shape == (3, 4, 16, 16)
        for t in range(1, 4):
            torch.testing.assert_close(view[:, t], view[:, 0])  # identical frames stay identical
    random.seed(3), torch.manual_seed(3)
    assert all(torch.equal(a, b) for a, b in zip(first, views(clip())))


def test_local_views_crop_less_of_the_input_than_global_ones():
    ramp = np.tile(np.arange(64, dtype=np.uint8)[None, :, None] * 4, (64, 1, 3))  # brightness rises left to right
    views = AugmentedViews({"num_global": 1, "num_local": 1, "global_scale": [1.0, 1.0], "local_scale": [0.05, 0.05],
                            "aspect_ratio": [1.0, 1.0], **NO_PHOTOMETRIC}, 32)  # fmt: skip
    whole, local = views(Image.fromarray(ramp))
    span = lambda v: float(v[0, 0, -1] - v[0, 0, 0])  # noqa: E731
    assert span(local) < span(whole) / 3


def test_local_views_at_their_own_size_are_the_area_average_of_the_same_crop():
    image = Image.fromarray(np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8))
    whole = {"global_scale": [1.0, 1.0], "local_scale": [1.0, 1.0], "aspect_ratio": [1.0, 1.0], **NO_PHOTOMETRIC}
    views = AugmentedViews({"num_global": 1, "num_local": 2, "local_size": 8, **whole}, 16)
    first, *local = views(image)
    assert first.shape == (3, 16, 16) and [v.shape for v in local] == [(3, 8, 8)] * 2
    torch.testing.assert_close(local[0], F.avg_pool2d(first[None], 2)[0])  # 8×8 footprints = 2×2 of 4×4 ones
    clip_views = views(clip())
    assert [v.shape for v in clip_views] == [(3, 4, 16, 16), (3, 4, 8, 8), (3, 4, 8, 8)]


def test_crop_boxes_lie_inside_the_input_with_the_drawn_area_and_aspect_ratio():
    random.seed(0)
    for _ in range(500):
        x1, y1, x2, y2 = crop_box(24, 40, (0.2, 0.6), (0.5, 2.0))
        assert 0 <= x1 < x2 <= 40 and 0 <= y1 < y2 <= 24
        assert 0.2 - 1e-9 <= (x2 - x1) * (y2 - y1) / (24 * 40) <= 0.6 + 1e-9
        assert 0.5 - 1e-9 <= (x2 - x1) / (y2 - y1) <= 2.0 + 1e-9
    assert crop_box(10, 10, (1.0, 1.0), (3.0, 4.0)) == (0.0, 0.0, 10.0, 10.0)  # no draw fits: the whole input


def test_a_whole_image_crop_is_the_bilinear_resize_up_and_the_area_average_down():
    whole = AugmentedViews({"num_global": 1, "num_local": 0, "global_scale": [1.0, 1.0], "aspect_ratio": [1.0, 1.0],
                            **NO_PHOTOMETRIC}, 32)  # fmt: skip
    small = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    (up,) = whole(Image.fromarray(small))
    mean, std = torch.tensor(IMAGENET_MEAN)[:, None, None], torch.tensor(IMAGENET_STD)[:, None, None]
    expected = F.interpolate(torch.from_numpy(small).permute(2, 0, 1)[None].float() / 255, size=32, mode="bilinear",
                             align_corners=False)[0]  # fmt: skip
    torch.testing.assert_close(up * std + mean, expected, atol=1e-5, rtol=0)
    checker = (np.indices((128, 128)).sum(0) % 2 * 255).astype(np.uint8)[..., None].repeat(3, axis=2)
    (down,) = whole(Image.fromarray(checker))  # 4x smaller: each output pixel averages its 4x4 footprint
    torch.testing.assert_close(down * std + mean, torch.full((3, 32, 32), 0.5), atol=1e-3, rtol=0)


@pytest.mark.parametrize("key, value, message", [
    ("num_global", 0, "data.views.num_global=0"),
    ("num_local", -1, "data.views.num_local=-1"),
    ("global_scale", (0.0, 1.0), "data.views.global_scale=[0.0, 1.0]"),
    ("local_scale", (0.2, 1.5), "data.views.local_scale=[0.2, 1.5]"),
    ("blur", 1.5, "data.views.blur=1.5"),
    ("local_size", 0, "data.views.local_size=0"),
])  # fmt: skip
def test_bad_settings_are_one_error_naming_the_key(key, value, message):
    with pytest.raises(ValueError, match=message.replace(".", r"\.").replace("[", r"\[").replace("]", r"\]")):
        AugmentedViews(ViewsConfig(**{key: value}), 16)
