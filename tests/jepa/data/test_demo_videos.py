from jepa.data.anticipation import read_annotations
import numpy as np
import pytest

from jepa.data.demo_videos import DIRECTIONS, block_motion_labels, make_demo_videos, write_anticipation_lists
from jepa.data.video_lists import read_sample_list
from jepa.data.video_readers import open_video


def test_demo_set_is_an_official_list_of_pusht_clips(tmp_path):
    train, val = make_demo_videos(tmp_path / "demo", num_train=4, num_val=4, num_frames=6, size=32)
    samples = read_sample_list(train)
    assert [s.label for s in samples] == list(range(len(DIRECTIONS)))
    assert train.read_text().splitlines()[0] == "videos/train_0000.mp4 0", "paths relative to the list"
    reader = open_video(samples[0].path, "pyav")
    frames = reader.get(range(6))
    assert frames.shape == (6, 32, 32, 3) and reader.fps == 10
    assert (frames[0] != frames[-1]).any(), "the scene moves"
    stamp = train.stat().st_mtime_ns
    make_demo_videos(tmp_path / "demo", num_train=4, num_val=4, num_frames=6, size=32)
    assert train.stat().st_mtime_ns == stamp, "an existing set with the same settings is kept"
    assert len(read_sample_list(val)) == 4
    for split in ("train", "val"):
        for prop in ("turn", "shift"):
            motion = read_sample_list(tmp_path / "demo" / f"{split}_{prop}.csv")
            assert [s.path for s in motion] == [s.path for s in read_sample_list(tmp_path / "demo" / f"{split}.csv")]
            assert {s.label for s in motion} <= {0, 1, 2}
    from PIL import Image

    preview = Image.open(tmp_path / "demo" / "preview.png")
    assert preview.size == (32 * 6, 32 * 4), "one row per train clip, six frames each"
    rows = read_annotations(write_anticipation_lists(tmp_path / "demo", num_frames=6)[1])
    assert [(r["verb"], r["noun"], r["start"], r["stop"], r["in_frames"]) for r in rows] == [
        (d, 0, 3.0, 5.0, True) for d in range(4)
    ], "one action per clip: its second half, the direction as the verb"
    assert rows[0]["path"] == str(tmp_path / "demo" / "videos" / "val_0000.mp4")


@pytest.mark.parametrize(
    ("start", "end", "turn", "shift"),
    [
        ((100, 100, 0.0), (100, 110, 0.3), 2, 0),  # turned one way, moved 10
        ((100, 100, 0.0), (140, 100, -0.3), 0, 1),  # the other way, moved 40
        ((100, 100, 3.1), (100, 200, -3.1), 1, 2),  # 0.08 rad across the ±π seam, moved 100
    ],
)
def test_block_motion_labels_bin_the_blocks_turn_and_shift(start, end, turn, shift):
    poses = np.array([start, start, end], dtype=float)
    assert block_motion_labels(poses) == {"turn": turn, "shift": shift}
