from importlib.util import find_spec

import numpy as np
import pytest
import torch

from jepa.data.video_readers import PyAVReader, default_backend, open_video
from tests.jepa.data.conftest import frame_numbers, moving_square


def test_pyav_reads_the_frames_written(video_dir):
    reader = PyAVReader(str(video_dir / "clip0.mp4"))
    assert reader.num_frames == 20 and reader.fps == pytest.approx(10.0)
    frames = reader.get([0, 5, 5, 19, 2])
    assert frames.shape == (5, 32, 32, 3) and frames.dtype == np.uint8
    assert np.array_equal(frames[1], frames[2]), "repeated indices give the same frame"
    # lossy H.264 at crf 18: close to what was written, and in the order asked for
    written = moving_square(seed=0)[[0, 5, 5, 19, 2]].astype(int)
    assert np.abs(frames.astype(int) - written).mean() < 4
    assert frame_numbers(frames) == [0, 5, 5, 19, 2]
    with pytest.raises(IndexError, match="outside 0..19"):
        reader.get([20])


def test_decord_and_pyav_return_equal_frames(video_dir):
    pytest.importorskip("decord")
    path = str(video_dir / "clip1.mp4")
    decord, pyav = open_video(path, "decord"), open_video(path, "pyav")
    assert (decord.num_frames, decord.fps) == (pyav.num_frames, pyav.fps)
    indices = [0, 3, 7, 7, 12, 19]
    assert np.array_equal(decord.get(indices), pyav.get(indices))


def test_backend_choice():
    assert default_backend() in ("torchcodec", "decord", "pyav")
    with pytest.raises(ValueError, match="unknown video backend 'opencv'"):
        open_video("x.mp4", "opencv")


def test_auto_backend_falls_back_to_pyav_where_decord_fails(tmp_path):
    pytest.importorskip("decord")
    from jepa.data.video_writer import write_mp4

    write_mp4(tmp_path / "w48.mp4", moving_square(num_frames=6, size=48), fps=10)
    path = str(tmp_path / "w48.mp4")
    with pytest.raises(Exception):  # decord cannot copy out 48-pixel-wide frames
        open_video(path, "decord").get([0, 1])
    assert np.array_equal(open_video(path, "auto").get([0, 5]), open_video(path, "pyav").get([0, 5]))


@pytest.fixture
def keyframes_every_4(tmp_path):
    """A 20-frame video with a keyframe every 4 frames and no B-frames (as `jepa prepare` writes)."""
    from jepa.data.video_writer import write_mp4

    path = tmp_path / "gop4.mp4"
    write_mp4(path, moving_square(num_frames=20, size=32, seed=3), fps=10, keyframe_interval=4)
    return str(path)


def test_pyav_seeks_to_the_keyframe_before_and_returns_the_frames_asked_for(keyframes_every_4):
    reader = PyAVReader(keyframes_every_4)
    for indices in ([13, 14, 19], [19, 5, 5, 6], [8], [3, 4]):
        frames = reader.get(indices)
        assert frame_numbers(frames) == indices
    if find_spec("decord") is not None:
        decord = open_video(keyframes_every_4, "decord")
        assert np.array_equal(reader.get([9, 13, 16, 18]), decord.get([9, 13, 16, 18]))


def test_torchcodec_returns_decords_and_pyavs_frames(keyframes_every_4):
    from jepa.data.video_readers import torchcodec_loads

    if not torchcodec_loads():
        pytest.skip("torchcodec is not installed or finds no FFmpeg libraries")
    codec, pyav = open_video(keyframes_every_4, "torchcodec"), open_video(keyframes_every_4, "pyav")
    assert (codec.num_frames, codec.fps) == (20, pytest.approx(10.0))
    indices = [0, 13, 13, 19, 2]
    frames = codec.get(indices)
    assert frames.shape == (5, 32, 32, 3) and frame_numbers(frames) == indices
    assert np.array_equal(frames, pyav.get(indices))
    if find_spec("decord") is not None:
        assert np.array_equal(frames, open_video(keyframes_every_4, "decord").get(indices))
    assert default_backend() == "torchcodec", "auto decodes with torchcodec where it loads"
    with pytest.raises(IndexError, match="outside 0..19"):
        codec.get([20])


@pytest.fixture
def wide_video(tmp_path):
    """A 20-frame 128×64 video: two moving squares side by side."""
    from jepa.data.video_writer import write_mp4

    frames = np.concatenate([moving_square(seed=1, size=64), moving_square(seed=2, size=64)], axis=2)
    write_mp4(tmp_path / "wide.mp4", frames, fps=10)
    return str(tmp_path / "wide.mp4")


@pytest.mark.parametrize("backend", ["pyav", "decord", "torchcodec"])
def test_readers_scale_frames_to_a_short_side_in_the_decoder(wide_video, backend):
    """``short_side``: the decoder's own conversion scales 128×64 frames to 64×32 (the aspect kept), close to the
    full-size frames averaged 2×2; frames no larger than ``short_side`` stay as they are."""
    import torch.nn.functional as F

    from jepa.data.video_readers import scaled_size, torchcodec_loads

    if backend == "decord":
        pytest.importorskip("decord")
    if backend == "torchcodec" and not torchcodec_loads():
        pytest.skip("torchcodec is not installed or finds no FFmpeg libraries")
    assert scaled_size(wide_video, 32) == (64, 32) and scaled_size(wide_video, 64) is None
    indices = [0, 7, 7, 19]
    small = open_video(wide_video, backend, short_side=32).get(indices)
    full = open_video(wide_video, "pyav").get(indices)
    assert small.shape == (4, 32, 64, 3) and small.dtype == np.uint8
    averaged = F.avg_pool2d(torch.from_numpy(full).permute(0, 3, 1, 2).float(), 2).permute(0, 2, 3, 1).numpy()
    assert np.abs(small.astype(float) - averaged).mean() < 4
    unscaled = open_video(wide_video, backend).get(indices)
    assert np.array_equal(open_video(wide_video, backend, short_side=64).get(indices), unscaled)
