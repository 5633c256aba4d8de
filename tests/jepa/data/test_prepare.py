import numpy as np
import pytest

from jepa.cli import main
from jepa.data.prepare import output_size, prepare_lists, prepared_list_path, prepared_name
from jepa.data.video_lists import read_sample_list
from jepa.data.video_readers import open_video
from jepa.data.video_writer import write_mp4
from tests.jepa.data.conftest import frame_numbers, moving_square


@pytest.fixture
def listed(tmp_path):
    """A list of two good 64x48 videos (a keyframe only at the start), a truncated one, a missing one and an image,
    labelled by name."""
    videos = tmp_path / "videos"
    videos.mkdir()
    for i in range(2):
        frames = moving_square(seed=i, size=48)
        write_mp4(videos / f"good{i}.mp4", np.concatenate([frames, frames[:, :, :16]], axis=2), fps=10,
                  keyframe_interval=250)  # fmt: skip
    whole = (videos / "good0.mp4").read_bytes()
    (videos / "truncated.mp4").write_bytes(whole[: len(whole) // 2])
    from PIL import Image

    Image.fromarray(moving_square(seed=1)[0]).save(videos / "still.png")
    listing = tmp_path / "train.csv"
    listing.write_text("videos/good0.mp4 cat\nvideos/truncated.mp4 dog\nvideos/missing.mp4 cat\n"
                       "videos/still.png dog\nvideos/good1.mp4 dog\n")  # fmt: skip
    return listing


def test_prepare_transcodes_names_skips_and_resumes(listed, tmp_path, capsys):
    out = tmp_path / "prepared"
    report = prepare_lists([str(listed)], out, short_side=32, keyframe_interval=4, workers=2)
    assert (report.transcoded, report.reused, report.images) == (2, 0, 1)
    assert sorted(p.rsplit("/", 1)[1] for p, _ in report.skipped) == ["missing.mp4", "truncated.mp4"]
    assert dict((p.rsplit("/", 1)[1], r) for p, r in report.skipped)["missing.mp4"] == "no such file"
    new_list = prepared_list_path(listed, 32)
    assert report.lists == [new_list] and new_list.name == "train.32p.csv"
    samples = read_sample_list(new_list)
    assert [s.label for s in samples] == [0, 1, 1], "labels kept (cat, dog, dog), the two bad files left out"
    assert samples[1].path.endswith("still.png") and not list(out.glob("*.partial.mp4"))
    good = str(listed.parent / "videos" / "good0.mp4")
    prepared = open_video(samples[0].path, "pyav")
    original = open_video(good, "pyav")
    assert (prepared.num_frames, prepared.fps) == (original.num_frames, original.fps), "same frames, same rate"
    frames = prepared.get([0, 7, 13, 19])
    assert frames.shape == (4, 32, 42, 3), "short side 32, the aspect kept (even width)"
    assert frame_numbers(frames) == [0, 7, 13, 19]
    import av

    with av.open(samples[0].path) as container:
        stream = container.streams.video[0]
        keyframes = [i for i, p in enumerate(p for p in container.demux(stream) if p.size) if p.is_keyframe]
    assert keyframes == [0, 4, 8, 12, 16]
    stamp = (out / prepared_name(good)).stat().st_mtime_ns
    again = prepare_lists([str(listed)], out, short_side=32, keyframe_interval=4, workers=1)
    assert (again.transcoded, again.reused, len(again.skipped)) == (0, 2, 2), "a second run resumes"
    assert (out / prepared_name(good)).stat().st_mtime_ns == stamp
    assert read_sample_list(new_list) == samples


def test_jepa_prepare_command_reports_and_names_bad_input(listed, tmp_path, capsys):
    assert main(["prepare", str(listed), "--out", str(tmp_path / "p"), "--short-side", "32", "--workers", "1"]) == 0
    out, err = capsys.readouterr()
    assert "2 transcoded, 0 kept from an earlier run, 2 skipped (unreadable), 1 images" in out
    assert "train.32p.csv" in out and "missing.mp4: no such file" in err and "truncated.mp4" in err
    assert main(["prepare", str(listed), "--out", str(tmp_path / "p"), "--workers", "0"]) == 2
    assert "workers 0: at least 1" in capsys.readouterr().err
    assert main(["prepare", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "p")]) == 2
    assert "nope.csv" in capsys.readouterr().err


def test_output_size_keeps_the_aspect_and_never_enlarges():
    assert output_size(1280, 720, 256) == (456, 256)
    assert output_size(640, 272, 256) == (602, 256)
    assert output_size(100, 60, 256) == (100, 60)
    assert output_size(720, 1280, 256) == (256, 456)
