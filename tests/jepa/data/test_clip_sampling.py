import numpy as np
import pytest

from jepa.data.clip_sampling import clip_frame_step, clip_indices


def test_frame_step_from_each_of_frame_step_fps_duration():
    assert clip_frame_step(16, step=4) == 4
    # fps: ceil(video fps) // fps -> 30 // 4 = 7; 29.97 rounds up to 30 first
    assert clip_frame_step(16, fps=4, video_fps=29.97) == 7
    assert clip_frame_step(16, fps=5, video_fps=10.0) == 2
    # duration: int(duration * ceil(video fps) / fpc) -> int(2 * 30 / 16) = 3
    assert clip_frame_step(16, duration=2.0, video_fps=30.0) == 3
    assert clip_frame_step(8, duration=4.0, video_fps=25.0) == 12
    # a video slower than asked for: every frame (the official loader asserts)
    assert clip_frame_step(16, fps=8, video_fps=5.0) == 1


@pytest.mark.parametrize("kwargs", [{}, {"step": 2, "fps": 4}, {"fps": 4, "duration": 1.0}])
def test_exactly_one_rate(kwargs):
    with pytest.raises(ValueError, match="exactly one of data.frame_step, data.fps, data.duration"):
        clip_frame_step(16, video_fps=30.0, **kwargs)


def test_fps_needs_a_frame_rate():
    with pytest.raises(ValueError, match="no frame rate"):
        clip_frame_step(16, fps=4, video_fps=float("nan"))


def test_long_video_without_random_sampling_starts_at_zero():
    # window of 8 * 4 = 32 frames: linspace(0, 32, 8) = 0, 4.57, 9.14, 13.7, 18.3, 22.9, 27.4, 32 -> clipped to 31
    (idx,) = clip_indices(100, 8, 4)
    assert idx.tolist() == [0, 4, 9, 13, 18, 22, 27, 31]
    assert idx.dtype == np.int64


def test_short_video_repeats_its_last_frame():
    # 10 frames, step 4, fpc 8: linspace(0, 10, 10 // 4 = 2) = 0, 10, then 10 padded, all clipped to 9
    (idx,) = clip_indices(10, 8, 4)
    assert idx.tolist() == [0, 9, 9, 9, 9, 9, 9, 9]
    (idx,) = clip_indices(30, 16, 4)  # linspace(0, 30, 7): 0, 5, ..., 30 -> 29, then 9 more 29s
    assert idx.tolist() == [0, 5, 10, 15, 20, 25, 29] + [29] * 9


def test_random_window_stays_inside_the_video_and_moves():
    rng = np.random.default_rng(0)
    ends = set()
    for _ in range(200):
        (idx,) = clip_indices(100, 8, 4, rng=rng)
        assert len(idx) == 8 and np.all(np.diff(idx) > 0)
        start = idx[0]
        assert 0 <= start and idx[-1] <= start + 31 and idx[-1] < 100
        ends.add(int(idx[-1]))
    assert len(ends) > 30


def test_several_clips_come_from_consecutive_parts():
    clips = clip_indices(120, 4, 2, num_clips=3)  # parts of 40 frames, windows of 8: linspace(0, 8, 4) -> 0 2 5 7
    assert [c.tolist() for c in clips] == [[0, 2, 5, 7], [40, 42, 45, 47], [80, 82, 85, 87]]
    # short parts, overlap allowed: span min(8, 10) - 1 = 7, linspace(0, 7, 7 // 2 = 3) = 0, 3.5, 7, padded with 7
    # and clipped to 6; clip i shifted by i * (10 - 8) // 2
    clips = clip_indices(10, 4, 2, num_clips=3, allow_clip_overlap=True)
    assert [c.tolist() for c in clips] == [[0, 3, 6, 6], [1, 4, 7, 7], [2, 5, 8, 8]]


def test_empty_video_is_an_error():
    with pytest.raises(ValueError, match="no frames"):
        clip_indices(0, 8, 2)


def before(keyframes):
    """A reader's ``keyframe_before`` for a video with these keyframes."""
    return lambda index: max(k for k in keyframes if k <= index)


def test_a_burst_draws_its_first_clip_as_one_and_the_rest_inside_what_decoding_it_reads():
    from jepa.data.clip_sampling import burst_indices

    for seed in range(20):
        first = clip_indices(300, 16, 4, 1, np.random.default_rng(seed))[0]
        clips = burst_indices(300, 16, 4, 4, before([0, 100, 250]), np.random.default_rng(seed))
        assert len(clips) == 4 and np.array_equal(clips[0], first), "the first clip is the official draw"
        keyframe = max(k for k in (0, 100, 250) if k <= first[0])
        for clip in clips:
            assert clip.shape == (16,) and keyframe <= clip[0] and clip[-1] <= first[0] + 63
            assert 60 <= clip[-1] - clip[0] <= 63, "a whole window of 16 frames 4 apart"
    assert len({tuple(c) for c in burst_indices(300, 16, 4, 8, before([0]), np.random.default_rng(0))}) > 1
    short = burst_indices(40, 16, 4, 3, before([0]), np.random.default_rng(0))
    assert all(np.array_equal(c, short[0]) for c in short), "a video shorter than a clip gives its one clip"
