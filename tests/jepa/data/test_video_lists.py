import numpy as np
import pytest

from jepa.data.video_lists import read_sample_list
from jepa.errors import InputError


def test_space_delimited_list_with_relative_and_absolute_paths(tmp_path, monkeypatch):
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "a.mp4").touch()
    (tmp_path / "b.mp4").touch()
    listing = tmp_path / "lists" / "train.csv"
    listing.write_text(f"a.mp4 3\n{tmp_path / 'b.mp4'} 1\nb.mp4 0\n\n")
    monkeypatch.chdir(tmp_path)  # b.mp4 is not beside the list but is in the working directory
    samples = read_sample_list(listing, source=2)
    assert [s.path for s in samples] == [str(tmp_path / "lists" / "a.mp4"), str(tmp_path / "b.mp4"), "b.mp4"]
    assert [s.label for s in samples] == [3, 1, 0] and {s.source for s in samples} == {2}


def test_double_colon_fallback_for_paths_with_spaces(tmp_path):
    listing = tmp_path / "captions.csv"
    listing.write_text("/data/my clip.mp4::a dog runs\n/data/other.jpg::a cat\n")
    samples = read_sample_list(listing)
    assert [s.path for s in samples] == ["/data/my clip.mp4", "/data/other.jpg"]
    assert [s.label for s in samples] == [1, 0], "non-integer labels are numbered in sorted order"
    assert [s.is_image for s in samples] == [False, True]


def test_npy_list_has_label_zero(tmp_path):
    np.save(tmp_path / "paths.npy", np.array(["/v/a.mp4", "/v/b.webm"]))
    samples = read_sample_list(tmp_path / "paths.npy")
    assert [(s.path, s.label) for s in samples] == [("/v/a.mp4", 0), ("/v/b.webm", 0)]


def test_bad_lists_name_the_file_and_line(tmp_path):
    with pytest.raises(InputError, match="no such list file"):
        read_sample_list(tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("a.mp4 1\nb.mp4\n")
    with pytest.raises(InputError, match=r"bad.csv:2: expected 'path label'"):
        read_sample_list(bad)
    (tmp_path / "list.txt").write_text("a.mp4 1\n")
    with pytest.raises(InputError, match="neither a .csv nor a .npy"):
        read_sample_list(tmp_path / "list.txt")
