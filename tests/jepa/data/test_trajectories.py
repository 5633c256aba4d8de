"""Episode files (MP4 + .npz listed in a CSV), the PushT recorder, and clips with their actions and states."""

import numpy as np
import pytest
import torch

from jepa.data.trajectories import TrajectoryDataModule, TrajectoryDataset, read_episode_list
from jepa.envs.recording import write_episode


def counting_episode(root, name, length=9, size=16):
    """An episode whose frame ``t`` is uniformly grey level ``20 t``, action ``t`` is ``(t, -t)`` and state ``t``
    is ``(t, 2 t)``: every value says where it came from."""
    frames = np.stack([np.full((size, size, 3), 20 * t, np.uint8) for t in range(length + 1)])
    actions = np.stack([np.arange(length), -np.arange(length)], axis=1).astype(np.float32)
    states = np.stack([np.arange(length + 1), 2 * np.arange(length + 1)], axis=1).astype(np.float32)
    return write_episode(root, name, frames, 10, actions=actions, states=states)


def test_clips_take_their_frames_actions_and_states_from_one_place(tmp_path):
    video, trajectory = counting_episode(tmp_path, "e0")
    (tmp_path / "episodes.csv").write_text(f"video,trajectory\n{video},{trajectory}\n")
    episodes = read_episode_list(tmp_path / "episodes.csv")
    every = TrajectoryDataset(episodes, num_frames=3, frame_step=2, random_start=False)
    assert len(every) == 6  # clips starting at frames 0..5 of 10
    assert [int(every[i]["states"][0, 0]) for i in range(6)] == list(range(6))
    clip = every[0]
    assert clip["frames"].shape == (3, 3, 16, 16)
    grey = clip["frames"][:, 0].mean(dim=(1, 2)) * 0.229 + 0.485  # undo the normalisation of the red channel
    torch.testing.assert_close(grey * 255 / 20, torch.tensor([0.0, 2.0, 4.0]), atol=0.15, rtol=0)
    torch.testing.assert_close(clip["states"], torch.tensor([[0.0, 0.0], [2.0, 4.0], [4.0, 8.0]]))
    torch.testing.assert_close(clip["actions"], torch.tensor([[1.0, -1.0], [5.0, -5.0]]))  # 0+1, 2+3
    starts = set()
    dataset = TrajectoryDataset(episodes, num_frames=3, frame_step=2, random_start=True)
    for _ in range(60):
        clip = dataset[0]
        start = int(clip["states"][0, 0])
        starts.add(start)
        torch.testing.assert_close(clip["actions"][0], torch.tensor([2.0 * start + 1, -2.0 * start - 1]))
    assert starts == set(range(6)), "every start that leaves a whole clip is drawn"


def test_episode_errors_name_the_file(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        read_episode_list(tmp_path / "nope.csv")
    (tmp_path / "bad.csv").write_text("path,label\na,1\n")
    with pytest.raises(ValueError, match=r"bad.csv: no video, trajectory column"):
        read_episode_list(tmp_path / "bad.csv")
    (tmp_path / "empty.csv").write_text("video,trajectory\n")
    with pytest.raises(ValueError, match="empty.csv lists no episodes"):
        read_episode_list(tmp_path / "empty.csv")
    video, trajectory = counting_episode(tmp_path, "short", length=2)
    (tmp_path / "short.csv").write_text(f"video,trajectory\n{video},{trajectory}\n")
    with pytest.raises(ValueError, match=r"short.npz: 3 frames are fewer than a clip's 4"):
        TrajectoryDataset(read_episode_list(tmp_path / "short.csv"), num_frames=4, random_start=False)
    with pytest.raises(ValueError, match="4 frames need 3 actions and 4 states, got 2 and 4"):
        write_episode(tmp_path, "x", np.zeros((4, 8, 8, 3), np.uint8), 10, actions=np.zeros((2, 2)),
                      states=np.zeros((4, 2)))  # fmt: skip


def test_pusht_recorder_writes_episodes_whose_states_follow_the_actions(tmp_path):
    data = TrajectoryDataModule(demo_root=str(tmp_path), demo_episodes=5, demo_steps=8, num_frames=4,
                                batch_size=2, num_workers=0, val_fraction=0.2)  # fmt: skip
    data.setup()
    assert (tmp_path / "preview.png").is_file() and len(data.train_set) == 4
    assert len(data.val_set) == 6, "one held-out episode of 9 frames: clips of 4 frames start at 0..5"
    stored = np.load(tmp_path / "episodes" / "00000.npz")
    assert stored["actions"].shape == (8, 2) and stored["states"].shape == (9, 2) and stored["block"].shape == (9, 3)
    assert np.abs(stored["actions"]).max() <= 0.75
    moved = np.diff(stored["states"], axis=0)
    assert (np.sign(moved) == np.sign(stored["actions"]))[np.abs(stored["actions"]) > 0.3].mean() > 0.7
    batch = next(iter(data.train_dataloader()))
    assert batch["frames"].shape == (2, 4, 3, 64, 64) and batch["actions"].shape == (2, 3, 2)
    first = (tmp_path / "episodes.csv").stat().st_mtime_ns
    TrajectoryDataModule(demo_root=str(tmp_path), demo_episodes=5, demo_steps=8, num_workers=0).setup()
    assert (tmp_path / "episodes.csv").stat().st_mtime_ns == first, "the same settings are not recorded again"


def test_pusht_recorder_records_the_pushing_policy_and_names_a_bad_one(tmp_path):
    data = TrajectoryDataModule(demo_root=str(tmp_path), demo_episodes=2, demo_steps=6, crop_size=32, num_frames=2,
                                num_workers=0, val_fraction=0.5, demo_policy="pushing")  # fmt: skip
    data.setup()
    stored = np.load(tmp_path / "episodes" / "00000.npz")
    assert stored["actions"].shape == (6, 2) and np.abs(stored["actions"]).max() <= 0.75
    with pytest.raises(ValueError, match="data.demo_policy='waypoint' for data.demo_env=pusht: choose one of "
                                         "random_walk, pushing"):  # fmt: skip
        TrajectoryDataModule(demo_root=str(tmp_path), demo_policy="waypoint")
