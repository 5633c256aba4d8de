import numpy as np
import pytest
import torch

from jepa.data.video import VideoDataModule, VideoDataset
from jepa.data.video_lists import read_sample_list
from jepa.data.video_transforms import IMAGENET_MEAN, IMAGENET_STD, ClipTransform, MultiViewTransform
from jepa.errors import InputError
from tests.jepa.data.conftest import frame_numbers

BAD = ("missing.mp4", "empty.mp4", "truncated.mp4", "notes.mp4")


def dataset(video_dir, lines, fpcs=(4,), **kwargs):
    listing = video_dir / "list.csv"
    listing.write_text("".join(f"{line}\n" for line in lines))
    samples = read_sample_list(listing)
    rate = kwargs.pop("rate", {"frame_step": 2})
    kwargs.setdefault("backend", "pyav")
    return VideoDataset(samples, fpcs, ClipTransform(32, train=False), **rate, **kwargs)


def test_clip_shape_and_frames_follow_the_sampling(video_dir):
    ds = dataset(video_dir, ["clip0.mp4 1"], random_clip_sampling=False)
    clip, label, skipped = ds[0]
    assert clip.shape == (3, 4, 32, 32) and clip.dtype == torch.float32 and (label, skipped) == (1, [])
    # frame_step 2, 4 frames: window of 8, linspace(0, 8, 4) -> frames 0, 2, 5, 7
    assert frame_numbers(ds.read_frames(ds.samples[0], None)[0]) == [0, 2, 5, 7]


def test_fps_and_duration_pick_the_step_from_the_video(video_dir):
    # 10 fps video: fps=5 -> step 2; duration=1.6 s over 4 frames -> int(1.6 * 10 / 4) = 4 -> linspace(0, 16, 4)
    for rate, expected in (({"fps": 5}, [0, 2, 5, 7]), ({"duration": 1.6}, [0, 5, 10, 15])):
        ds = dataset(video_dir, ["clip0.mp4 0"], rate=rate, random_clip_sampling=False)
        assert frame_numbers(ds.read_frames(ds.samples[0], None)[0]) == expected


def test_image_entry_becomes_a_clip_of_the_repeated_image(video_dir):
    ds = dataset(video_dir, ["still.png 2"], fpcs=(6,))
    clip, label, _ = ds[0]
    assert clip.shape == (3, 6, 32, 32) and label == 2
    assert all(torch.equal(clip[:, 0], clip[:, t]) for t in range(6))


@pytest.mark.parametrize("bad", BAD)
def test_a_bad_file_is_skipped_reported_and_replaced(video_dir, bad):
    ds = dataset(video_dir, [f"{bad} 0", "clip1.mp4 1"])
    torch.manual_seed(0)
    results = [ds[0] for _ in range(4)]
    for clip, label, skipped in results:
        assert clip.shape == (3, 4, 32, 32) and label == 1, "replaced by the readable sample"
        assert skipped and all(path.endswith(bad) and reason for path, reason in skipped)


def test_one_warning_per_bad_file_across_loader_workers(video_dir):
    (video_dir / "mixed.csv").write_text("".join(f"{name} 0\n" for name in (*BAD, "clip0.mp4", "clip1.mp4")))
    mask = {"input_size": 32, "patch_size": 8, "tubelet_size": 2}
    data = VideoDataModule([str(video_dir / "mixed.csv")], dataset_fpcs=[4], frame_step=2, crop_size=32,
                           batch_size=2, num_workers=2, backend="pyav", mask=mask)  # fmt: skip
    total = 0
    with pytest.warns(UserWarning, match="skipping unreadable video") as caught:
        for _ in range(3):  # three epochs: each worker meets the bad files again
            for batch in data.train_dataloader():
                total += batch["num_skipped"]
                data.on_before_batch_transfer(batch, 0)
                assert "skipped" not in batch
    messages = [str(w.message) for w in caught if "skipping unreadable video" in str(w.message)]
    assert total >= len(messages) >= 3
    assert len(messages) == len({m.split(": ")[0] for m in messages}), "one warning per file"
    assert all(any(m.split(": ")[0].endswith(b) for b in BAD) for m in messages)


def test_truncated_mp4_fails_with_both_readers(video_dir):
    pytest.importorskip("decord")
    for backend in ("decord", "pyav"):
        frames, reason = dataset(video_dir, ["truncated.mp4 0"], backend=backend).try_read(0, None)
        assert frames is None and reason, backend


def test_a_list_of_only_bad_files_fails_at_start(video_dir):
    listing = video_dir / "bad.csv"
    listing.write_text("".join(f"{name} 0\n" for name in BAD))
    data = VideoDataModule([str(listing)], dataset_fpcs=[4], frame_step=2, crop_size=32, backend="pyav")
    with pytest.raises(InputError, match=r"none of the 4 files listed in .*bad.csv can be read"):
        data.setup()


def two_lists(video_dir, **kwargs):
    (video_dir / "a.csv").write_text("clip0.mp4 0\nclip1.mp4 1\nstill.png 2\n")
    (video_dir / "b.csv").write_text(f"{video_dir / 'clip2.mp4'} 3\n")
    mask = {"input_size": 32, "patch_size": 8, "tubelet_size": 2}
    return VideoDataModule([str(video_dir / "a.csv"), str(video_dir / "b.csv")], dataset_fpcs=[4, 8], frame_step=2,
                           crop_size=32, batch_size=4, num_workers=0, backend="pyav", mask=mask, **kwargs)  # fmt: skip


def test_mixed_clip_lengths_in_one_batch(video_dir):
    data = two_lists(video_dir)
    assert data.num_classes == 4
    batch = next(iter(data.train_dataloader()))
    assert [g["num_frames"] for g in batch["groups"]] == [4, 8]
    for group in batch["groups"]:
        t = group["num_frames"]
        assert group["inputs"].shape[1:] == (3, t, 32, 32)
        assert set(group["ctx_set"].tolist()) == {0, 1}, "both official mask sets"
        grid = t // 2 * 16
        assert (group["ctx_lengths"] + group["tgt_lengths"]).tolist() == [grid] * len(group["ctx_lengths"])
    assert batch["groups"][1]["labels"].tolist() == [3]
    assert sorted(batch["groups"][0]["labels"].tolist()) == [0, 1, 2]


def test_lists_are_drawn_by_their_weights(video_dir):
    sampler = two_lists(video_dir, datasets_weights=[0.25, 0.75]).train_dataloader().batch_sampler
    draws = []
    for epoch in range(500):
        sampler.set_epoch(epoch)
        draws += [item.index for batch in sampler for item in batch]
    draws = np.array(draws)
    assert np.mean(draws == 3) == pytest.approx(0.75, abs=0.04), "list b (sample 3) is drawn 3 times as often"
    with pytest.raises(InputError, match="one clip length per list"):
        VideoDataModule(["a.csv", "b.csv"], dataset_fpcs=[4], frame_step=2)
    with pytest.raises(InputError, match="exactly one of data.frame_step, data.fps, data.duration"):
        VideoDataModule(["a.csv"], dataset_fpcs=[4], frame_step=2, fps=4)


def test_segments_take_one_clip_from_each_part_in_every_view(video_dir):
    ds = dataset(video_dir, ["clip0.mp4 1"], random_clip_sampling=False, num_segments=2)
    ds.transform = MultiViewTransform(16, num_views=2)
    clips, label, skipped = ds[0]
    assert clips.shape == (2, 2, 3, 4, 16, 16) and (label, skipped) == (1, [])
    # 20 frames in two parts of 10; each part's window of 8 starts the part: frames 0 2 5 7, then 10 12 15 17
    frames = ds.read_frames(ds.samples[0], None)
    assert [frame_numbers(segment) for segment in frames] == [[0, 2, 5, 7], [10, 12, 15, 17]]
    torch.testing.assert_close(clips[1, 0], MultiViewTransform(16, 2)(frames[1])[0])


def test_multi_view_crops_spread_along_the_long_side():
    columns = np.broadcast_to(np.arange(48, dtype=np.uint8)[None, None, :, None] * 5, (2, 16, 48, 3)).copy()
    views = MultiViewTransform(16, num_views=3)(columns)  # short side already 16: crops start at 0, 16, 32
    mean, std = torch.tensor(IMAGENET_MEAN)[:, None, None, None], torch.tensor(IMAGENET_STD)[:, None, None, None]
    pixels = views * std + mean
    assert views.shape == (3, 3, 2, 16, 16)
    for i, first in enumerate((0, 16, 32)):
        expected = torch.arange(first, first + 16, dtype=torch.float32) * 5 / 255
        torch.testing.assert_close(pixels[i, 0, 0, 0], expected, atol=1e-5, rtol=0)


def test_probe_lists_share_the_training_classes(video_dir):
    (video_dir / "train.csv").write_text("clip0.mp4 cat\nclip1.mp4 dog\n")
    (video_dir / "val.csv").write_text("clip2.mp4 dog\n")
    data = VideoDataModule([str(video_dir / "train.csv")], val_datasets=[str(video_dir / "val.csv")],
                           dataset_fpcs=[4], frame_step=2, crop_size=32, num_workers=0)  # fmt: skip
    data.setup()
    assert [s.label for s in data.datasets["val"].samples] == [1], "dog is class 1 in train, so in val too"
    (video_dir / "val.csv").write_text("clip2.mp4 dog\nclip1.mp4 bird\n")
    with pytest.raises(InputError, match=r"val.csv:2: class 'bird' is not one of the 2 classes"):
        VideoDataModule([str(video_dir / "train.csv")], val_datasets=[str(video_dir / "val.csv")],
                        dataset_fpcs=[4], frame_step=2, num_workers=0).setup()  # fmt: skip
    (video_dir / "train.csv").write_text("clip0.mp4 0\nclip1.mp4 1\n")
    (video_dir / "val.csv").write_text("clip2.mp4 1\nclip1.mp4 7\n")
    with pytest.raises(InputError, match=r"val.csv:2: class 7 does not occur in the training lists \(2 classes\)"):
        VideoDataModule([str(video_dir / "train.csv")], val_datasets=[str(video_dir / "val.csv")],
                        dataset_fpcs=[4], frame_step=2, num_workers=0).setup()  # fmt: skip


def test_uint8_clips_normalised_on_the_device_equal_the_workers_float_clips(video_dir):
    from jepa.objectives.base import move_inputs

    floats = next(iter(two_lists(video_dir).train_dataloader()))
    shipped = next(iter(two_lists(video_dir, normalize_on_device=True).train_dataloader()))
    for f, u in zip(floats["groups"], shipped["groups"], strict=True):
        assert f["inputs"].dtype == torch.float32 and u["inputs"].dtype == torch.uint8
        assert u["inputs"].shape == f["inputs"].shape and u["inputs"].float().std() > 10, "pixels, not zeros"
        on_device = move_inputs(u["inputs"], torch.device("cpu"))
        assert on_device.dtype == torch.float32 and torch.equal(on_device, f["inputs"])
        assert torch.equal(u["ctx_index"], f["ctx_index"]), "the same masks"
    with pytest.raises(InputError, match="data.decoder_threads=0"):
        two_lists(video_dir, decoder_threads=0)


def test_clips_per_video_fill_a_batch_with_clips_of_fewer_videos_each_with_its_own_crop_and_masks(video_dir):
    data = two_lists(video_dir, clips_per_video=2)
    batch = next(iter(data.train_dataloader()))
    clips = sum(len(g["labels"]) for g in batch["groups"])
    assert clips == 4 and len(batch["indices"]) == 4 and len(set(batch["indices"])) == 2, "4 clips of 2 videos"
    for group in batch["groups"]:
        n = len(group["labels"])
        assert group["inputs"].shape[0] == n
        for i in range(0, n - 1, 2):
            assert group["labels"][i] == group["labels"][i + 1]
            assert not torch.equal(group["inputs"][i], group["inputs"][i + 1]), "each clip its own crop"
    masks = [g["ctx_lengths"].tolist() + g["ctx_index"].tolist() for g in batch["groups"]]
    again = next(iter(two_lists(video_dir, clips_per_video=2).train_dataloader()))
    assert masks == [g["ctx_lengths"].tolist() + g["ctx_index"].tolist() for g in again["groups"]], "seeded"
    assert torch.equal(batch["groups"][0]["inputs"], again["groups"][0]["inputs"])
    with pytest.raises(InputError, match="data.clips_per_video=3: a divisor of data.batch_size=4"):
        two_lists(video_dir, clips_per_video=3)


def test_decode_short_side_reaches_the_decoder_and_is_checked(video_dir):
    """``data.decode_short_side``: the datasets' readers return frames scaled to it (32² clips read at 16²), then
    cropped as before; below the crop size it is one error naming the key."""
    (video_dir / "a.csv").write_text("clip0.mp4 0\nclip1.mp4 1\n")
    data = VideoDataModule([str(video_dir / "a.csv")], dataset_fpcs=[4], frame_step=2, crop_size=16, batch_size=2,
                           num_workers=0, backend="pyav", decode_short_side=16)  # fmt: skip
    data.setup()
    dataset = data.datasets["train"]
    frames = dataset.read_frames(dataset.samples[0], np.random.default_rng(0))
    assert frames.shape == (1, 4, 16, 16, 3)
    full = VideoDataModule([str(video_dir / "a.csv")], dataset_fpcs=[4], frame_step=2, crop_size=16, batch_size=2,
                           num_workers=0, backend="pyav")  # fmt: skip
    full.setup()
    assert full.datasets["train"].read_frames(dataset.samples[0], np.random.default_rng(0)).shape == (1, 4, 32, 32, 3)
    with pytest.raises(InputError, match="data.decode_short_side=8: at least data.crop_size=16"):
        VideoDataModule([str(video_dir / "a.csv")], dataset_fpcs=[4], frame_step=2, crop_size=16,
                        decode_short_side=8)  # fmt: skip
