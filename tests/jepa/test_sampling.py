"""Per-sample seeds: the same batches, samples and masks after a restart, across ranks, and across workers."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset

from jepa.masks import MaskCollator, MultiBlockMask2D
from jepa.sampling import ResumableBatchSampler, Seeded, SeededDataset, SeededIndex, seeded_loader


def batches(sampler: ResumableBatchSampler, epoch: int) -> list[list[SeededIndex]]:
    sampler.set_epoch(epoch)
    return list(sampler)


def test_each_epoch_is_a_seeded_permutation():
    sampler = ResumableBatchSampler(10, 3, seed=5)
    first, second = batches(sampler, 0), batches(sampler, 1)
    assert len(first) == len(sampler) == 3, "whole batches only"
    seen = [item.index for batch in first for item in batch]
    assert len(set(seen)) == 9 and set(seen) <= set(range(10))
    assert first != second, "a new order every epoch"
    assert batches(ResumableBatchSampler(10, 3, seed=5), 0) == first, "the same seed gives the same order"
    assert batches(ResumableBatchSampler(10, 3, seed=6), 0) != first
    in_order = batches(ResumableBatchSampler(10, 3, seed=5, shuffle=False, drop_last=False), 0)
    assert [item.index for batch in in_order for item in batch] == list(range(10))


def test_ranks_split_each_global_batch_as_one_process_with_consecutive_batches():
    single = batches(ResumableBatchSampler(20, 2, seed=1), 3)
    ranks = [batches(ResumableBatchSampler(20, 2, seed=1, rank=r, world_size=2), 3) for r in range(2)]
    assert len(ranks[0]) == len(ranks[1]) == 5
    for step in range(5):
        assert ranks[0][step] == single[2 * step] and ranks[1][step] == single[2 * step + 1]
    with pytest.raises(ValueError, match="rank 2"):
        ResumableBatchSampler(20, 2, seed=1, rank=2, world_size=2)


def test_a_resumed_epoch_continues_with_the_batches_it_had_not_trained_on():
    full = batches(ResumableBatchSampler(30, 4, seed=0), 2)
    steps_per_epoch = len(full)
    done = [2 * steps_per_epoch + 3]
    resumed = ResumableBatchSampler(30, 4, seed=0, consumed=lambda: done[0])
    assert list(resumed) == full[3:], "the epoch and position follow from the batches done"
    done[0] = 3 * steps_per_epoch
    assert list(resumed) == batches(ResumableBatchSampler(30, 4, seed=0), 3), "the next epoch is whole"
    plain = ResumableBatchSampler(30, 4, seed=0)
    assert list(plain) == batches(ResumableBatchSampler(30, 4, seed=0), 0) and list(plain) == batches(plain, 1)


def test_weights_draw_in_proportion_with_replacement():
    sampler = ResumableBatchSampler(1000, 100, seed=0, weights=[1.0] * 500 + [3.0] * 500)
    drawn = np.array([item.index for batch in batches(sampler, 0) for item in batch])
    assert 0.7 < (drawn >= 500).mean() < 0.8


class NoisyDataset(Dataset):
    """Draws from torch, NumPy and ``random``, as transforms and clip samplers do."""

    def __len__(self) -> int:
        return 8

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        noise = torch.rand(2, 8, 8) + float(np.random.rand()) + random.random()
        return noise + index, index


def test_a_seeded_sample_is_the_same_whenever_and_wherever_it_is_made():
    dataset = SeededDataset(NoisyDataset())
    a = dataset[SeededIndex(3, 42)]
    torch.rand(5)  # other draws in between change nothing
    b = dataset[SeededIndex(3, 42)]
    assert isinstance(a, Seeded) and a.seed == 42
    torch.testing.assert_close(a.sample[0], b.sample[0])
    assert not torch.equal(a.sample[0], dataset[SeededIndex(3, 43)].sample[0])
    state, np_state, py_state = torch.get_rng_state(), np.random.get_state(), random.getstate()
    dataset[SeededIndex(1, 7)]
    assert torch.equal(state, torch.get_rng_state()), "the caller's generators are left as they were"
    assert np.array_equal(np.random.get_state()[1], np_state[1]) and random.getstate() == py_state


def test_masks_follow_the_sample_not_the_batch_or_the_worker_count():
    collate = MaskCollator({1: [MultiBlockMask2D(input_size=32, patch_size=4)]})

    def images(workers: int, batch_size: int) -> dict[int, tuple]:
        loader = seeded_loader(NoisyDataset(), batch_size, shuffle=True, seed=3, collate_fn=collate,
                               num_workers=workers)  # fmt: skip
        out = {}
        for batch in loader:
            group = batch["groups"][0]
            contexts = group["ctx_index"].split(group["ctx_lengths"].tolist())
            for label, image, context in zip(group["labels"].tolist(), group["inputs"], contexts):
                out[label] = (image, context)
        return out

    base = images(0, 4)
    for other in (images(2, 4), images(0, 2)):  # in two workers; in batches of another size
        assert set(other) == set(base) and len(base) == 8
        for label, (image, context) in other.items():
            torch.testing.assert_close(image, base[label][0])
            assert torch.equal(context, base[label][1])


LEFT_MID_EPOCH = """
import os, signal, torch
from jepa.sampling import seeded_loader, unseeded_collate
loader = seeded_loader([torch.zeros(3)] * 100, 4, shuffle=False, seed=0, collate_fn=unseeded_collate, num_workers=2)
batches = iter(loader)
next(batches), next(batches)  # one batch from each worker: both have run their worker_init_fn
workers = [w.pid for w in batches._workers]
for pid in workers:
    os.kill(pid, signal.SIGTERM)  # as SLURM or timeout signal every process of a job
print(len(next(batches)), *workers)
"""


def test_loader_workers_ignore_sigterm_and_end_with_the_process(tmp_path):
    script = tmp_path / "left_mid_epoch.py"
    script.write_text(LEFT_MID_EPOCH)
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "killed by signal" not in proc.stderr, proc.stderr[-2000:]
    size, *workers = (int(word) for word in proc.stdout.split())
    assert size == 4 and len(workers) == 2, "the workers outlived SIGTERM and kept loading"
    for pid in workers:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()


def test_a_seeded_burst_becomes_its_samples_each_with_its_own_seed():
    from jepa.sampling import Burst, Seeded, unbundle

    burst = Seeded(7, 1234, Burst([("a", 0, []), ("b", 0, []), ("c", 0, [])]))
    out = unbundle([Seeded(3, 99, ("x", 1, [])), burst, ("bare", 2, [])])
    assert [s.sample if isinstance(s, Seeded) else s for s in out] == [
        ("x", 1, []), ("a", 0, []), ("b", 0, []), ("c", 0, []), ("bare", 2, [])]
    seeds = [s.seed for s in out[1:4]]
    assert [s.index for s in out[1:4]] == [7, 7, 7] and len(set(seeds)) == 3 and 1234 not in seeds
    assert seeds == [s.seed for s in unbundle([burst])], "the same seeds every time"
    assert unbundle([Burst([("p", 0, []), ("q", 0, [])])]) == [("p", 0, []), ("q", 0, [])]
