"""Sample order and randomness that a resumed or sharded run reproduces exactly.

Every sample gets a seed from ``(seed, epoch, its position in the epoch's order)``. The dataset's random draws
(crops, clip starts, replacements of unreadable files) and its masks are made from that seed alone, so they do
not depend on the number of workers, on which process or rank draws them, or on whether the run was killed and
resumed: a resumed epoch skips the batches already trained on and continues with the very same batches.
"""

from __future__ import annotations

import atexit
import multiprocessing
import random
import signal
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler, default_collate, get_worker_info


class SeededIndex(NamedTuple):
    """What the batch sampler yields per sample: the dataset index and the sample's seed."""

    index: int
    seed: int


class Seeded(NamedTuple):
    """A sample, its dataset index and the seed it was made with (the collate draws its masks from it)."""

    index: int
    seed: int
    sample: Any


class Burst(NamedTuple):
    """Several samples a dataset made from one read (clips of one decoded stretch of video); the collate takes them
    as that many samples."""

    samples: list[Any]


def unbundle(samples: Sequence[Any]) -> list[Any]:
    """``samples`` with every :class:`Burst` (bare or :class:`Seeded`) replaced by its samples; the ``r``-th of a
    seeded burst gets its own seed from ``(seed, r)`` (its own masks) and the burst's index."""
    out = []
    for item in samples:
        inner = item.sample if isinstance(item, Seeded) else item
        if not isinstance(inner, Burst):
            out.append(item)
        elif isinstance(item, Seeded):
            out.extend(Seeded(item.index, _derived_seed(item.seed, r), s) for r, s in enumerate(inner.samples))
        else:
            out.extend(inner.samples)
    return out


def _derived_seed(*entropy: int) -> int:
    """A 63-bit seed drawn from ``entropy`` (a SeedSequence's first word)."""
    return int(np.random.SeedSequence(list(entropy)).generate_state(2, np.uint64)[0] >> np.uint64(1))


def sample_seed(seed: int, epoch: int, position: int) -> int:
    """A 63-bit seed for the sample at ``position`` of ``epoch``'s order."""
    return _derived_seed(seed, epoch, position)


@contextmanager
def seeded_rngs(seed: int) -> Iterator[None]:
    """Seed torch's CPU generator, NumPy and ``random`` for one sample. In the main process their states are
    restored after, so its own draws are not disturbed; a loader worker reseeds them for every sample, so it skips
    NumPy's costly save and restore (0.16 ms a sample). Only the CPU generator: samples are made on the CPU, and
    ``torch.manual_seed`` would also queue a CUDA seeding that records a stack trace every call."""
    saved = (np.random.get_state(), random.getstate()) if get_worker_info() is None else None
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)
        np.random.seed(seed % 2**32)
        random.seed(seed)
        try:
            yield
        finally:
            if saved is not None:
                np.random.set_state(saved[0])
                random.setstate(saved[1])


class SeededDataset(Dataset):
    """Wraps a dataset: item :class:`SeededIndex` ``(i, s)`` is ``Seeded(i, s, dataset[i])``, made under seed
    ``s``."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: SeededIndex) -> Seeded:
        with seeded_rngs(key.seed):
            return Seeded(key.index, key.seed, self.dataset[key.index])


class ResumableBatchSampler(Sampler[list[SeededIndex]]):
    """Batches of :class:`SeededIndex` over ``num_samples`` items.

    Each epoch's order is a permutation seeded by ``(seed, epoch)`` (the identity without ``shuffle``; with
    ``weights``, ``num_samples`` draws with replacement in proportion to them, as ``WeightedRandomSampler``), cut into
    global batches of ``batch_size * world_size``; rank ``r`` takes the ``r``-th slice of ``batch_size`` of each, so
    ``world_size`` ranks together see what one process with ``world_size`` times the batch (or as many accumulated
    batches) sees. With ``consumed()`` (batches already trained on since the start of the run: a trainer's step)
    each pass starts at that point of that epoch, so a resumed run picks up where it left off; without, each
    shuffled pass takes the next epoch (or the one :meth:`set_epoch` names).
    """

    def __init__(self, num_samples: int, batch_size: int, seed: int, shuffle: bool = True, drop_last: bool = True,
                 rank: int = 0, world_size: int = 1, consumed: Callable[[], int] | None = None,
                 weights: Sequence[float] | None = None) -> None:  # fmt: skip
        if batch_size < 1 or num_samples < 1:
            raise ValueError(f"need at least one sample and a batch of at least 1, got {num_samples} and {batch_size}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is not in a world of {world_size}")
        self.num_samples, self.batch_size, self.seed, self.shuffle = num_samples, batch_size, seed, shuffle
        self.drop_last, self.rank, self.world_size, self.consumed = drop_last, rank, world_size, consumed
        self.weights = None if weights is None else torch.as_tensor(weights, dtype=torch.double)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        per_step = self.batch_size * self.world_size
        return self.num_samples // per_step if self.drop_last else -(-self.num_samples // per_step)

    def order(self) -> list[int]:
        """This epoch's sample order."""
        if not self.shuffle:
            return list(range(self.num_samples))
        generator = torch.Generator().manual_seed(sample_seed(self.seed, self.epoch, self.num_samples))
        if self.weights is not None:
            return torch.multinomial(self.weights, self.num_samples, replacement=True, generator=generator).tolist()
        return torch.randperm(self.num_samples, generator=generator).tolist()

    def __iter__(self) -> Iterator[list[SeededIndex]]:
        if self.consumed is not None:  # the epoch and the batches already done follow from the run's progress
            self.epoch, skip = divmod(self.consumed(), len(self))
        else:
            skip = 0
        epoch, order, per_step = self.epoch, self.order(), self.batch_size * self.world_size
        if self.consumed is None and self.shuffle:
            self.epoch += 1  # the next pass draws a new order unless set_epoch says otherwise
        for step in range(skip, len(self)):
            first = step * per_step + self.rank * self.batch_size
            positions = range(first, min(first + self.batch_size, self.num_samples))
            if positions:
                yield [SeededIndex(order[p], sample_seed(self.seed, epoch, p)) for p in positions]


def unseeded_collate(items: Sequence[Seeded]) -> Any:
    """``default_collate`` of the samples of :class:`Seeded` items."""
    return default_collate([item.sample for item in items])


def leave_stop_signals_to_the_main_process(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: workers ignore SIGTERM and SIGUSR1. SLURM (at preemption or the time limit)
    and ``timeout`` signal every process of the job; a worker killed by them would crash the main process before
    it could save its checkpoint. The main process saves and stops, and ends its workers at exit."""
    for stop in (signal.SIGTERM, signal.SIGUSR1):
        signal.signal(stop, signal.SIG_IGN)


def end_loader_workers() -> None:
    """At exit, multiprocessing terminates (SIGTERM) and then joins its daemonic children: loader workers, which
    ignore SIGTERM, would never end. This runs first (registered later) and kills those children instead (what
    multiprocessing was about to end anyway), with the loader's SIGCHLD handler, which would report the kill as a
    worker crash, put back to the default."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for child in multiprocessing.active_children():
        if child.daemon:
            child.kill()
            child.join()


def seeded_loader(dataset: Dataset, batch_size: int, *, shuffle: bool, seed: int, collate_fn: Callable[[list], Any],
                  num_workers: int = 0, pin_memory: bool = False, trainer: Any = None,
                  weights: Sequence[float] | None = None) -> DataLoader:  # fmt: skip
    """A loader of ``SeededDataset(dataset)`` through a :class:`ResumableBatchSampler`. With a Lightning
    ``trainer``: one shard per rank, and a training (``shuffle``) loader resumes at the trainer's step. Training
    loaders keep whole batches only (when there is more than one)."""
    rank, world = (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)
    consumed = (lambda: trainer.global_step * trainer.accumulate_grad_batches) if trainer and shuffle else None
    drop_last = shuffle and len(dataset) > batch_size * world
    sampler = ResumableBatchSampler(len(dataset), batch_size, seed, shuffle, drop_last, rank, world, consumed, weights)
    pin_memory = pin_memory and torch.cuda.is_available()
    if num_workers > 0:
        atexit.unregister(end_loader_workers)  # once, and after multiprocessing's own exit hook (so it runs before)
        atexit.register(end_loader_workers)
    return DataLoader(SeededDataset(dataset), batch_sampler=sampler, num_workers=num_workers, collate_fn=collate_fn,
                      persistent_workers=num_workers > 0, pin_memory=pin_memory,
                      worker_init_fn=leave_stop_signals_to_the_main_process)  # fmt: skip
