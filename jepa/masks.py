"""Multi-block masks made in the data loader's collate, seeded, with per-sample lengths kept.

I-JEPA (2-D): per sample, ``num_pred_masks`` target blocks (rectangles of the patch grid) and one context block with
the targets removed. V-JEPA (3-D): per sample, the union of spatio-temporal blocks is the target and its complement
the context. Nothing is cut to the batch minimum: the collate packs every sample's index sets end to end and
records their lengths.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import default_collate, get_worker_info

from encoders.vit import to_pair
from jepa.sampling import Seeded, unbundle

MASK_STREAM = 1  # a seeded sample's masks come from its seed's stream 1 (the dataset draws from the seed itself)


@dataclass(frozen=True)
class SampleMasks:
    """The kept context indices and the target blocks of one sample (row-major patch indices)."""

    context: Tensor
    targets: list[Tensor]


def _check_scale(name: str, scale: Sequence[float]) -> None:
    """A block-scale range must satisfy ``0 < low <= high <= 1``; the error names the config key."""
    lo, hi = scale
    if not 0 < lo <= hi <= 1:
        raise ValueError(f"mask.{name} must satisfy 0 < low <= high <= 1, got {[lo, hi]}")


class MultiBlockMask2D:
    """I-JEPA multi-block masking on an ``(input_size / patch_size)²`` grid.

    Block sizes: a scale ``s ~ U(scale)`` of the grid and an aspect ratio ``a ~ U(aspect_ratio)`` give
    ``h = round(sqrt(s * N * a))``, ``w = round(sqrt(s * N / a))``, clipped to the grid. Each sample draws its own
    sizes and places. The context block (aspect 1) loses every target token unless ``allow_overlap``; a sample
    whose context would keep fewer than ``min_keep`` tokens is drawn again (up to ``max_tries`` times).
    """

    def __init__(
        self,
        input_size: int | Sequence[int] = 224,
        patch_size: int = 16,
        enc_mask_scale: Sequence[float] = (0.85, 1.0),
        pred_mask_scale: Sequence[float] = (0.15, 0.2),
        aspect_ratio: Sequence[float] = (0.75, 1.5),
        num_pred_masks: int = 4,
        min_keep: int = 4,
        allow_overlap: bool = False,
        max_tries: int = 50,
    ) -> None:
        size = to_pair(input_size)
        self.height, self.width = size[0] // patch_size, size[1] // patch_size
        _check_scale("enc_mask_scale", enc_mask_scale)
        _check_scale("pred_mask_scale", pred_mask_scale)
        if not 0 < aspect_ratio[0] <= aspect_ratio[1]:
            raise ValueError(f"mask.aspect_ratio must satisfy 0 < low <= high, got {list(aspect_ratio)}")
        if min_keep > self.height * self.width:
            raise ValueError(f"mask.min_keep={min_keep} exceeds the {self.height}x{self.width} patch grid")
        self.enc_mask_scale, self.pred_mask_scale = tuple(enc_mask_scale), tuple(pred_mask_scale)
        self.aspect_ratio = tuple(aspect_ratio)
        self.num_pred_masks, self.min_keep = num_pred_masks, min_keep
        self.allow_overlap, self.max_tries = allow_overlap, max_tries

    @property
    def num_patches(self) -> int:
        return self.height * self.width

    def block_size(self, rng: np.random.Generator, scale: Sequence[float], aspect: Sequence[float]) -> tuple[int, int]:
        """``(h, w)`` of one block with area ``~ scale * N`` and ``h / w ~ aspect``."""
        keep = self.num_patches * rng.uniform(*scale)
        ratio = rng.uniform(*aspect)
        h = min(max(round(math.sqrt(keep * ratio)), 1), self.height)
        w = min(max(round(math.sqrt(keep / ratio)), 1), self.width)
        return h, w

    def place(self, rng: np.random.Generator, h: int, w: int) -> np.ndarray:
        """A boolean grid with one ``h × w`` block at a uniformly drawn place."""
        top, left = rng.integers(0, self.height - h + 1), rng.integers(0, self.width - w + 1)
        grid = np.zeros((self.height, self.width), dtype=bool)
        grid[top : top + h, left : left + w] = True
        return grid

    def __call__(self, rng: np.random.Generator) -> SampleMasks:
        best: tuple[np.ndarray, list[np.ndarray]] | None = None
        for _ in range(self.max_tries):
            targets = [self.place(rng, *self.block_size(rng, self.pred_mask_scale, self.aspect_ratio))
                       for _ in range(self.num_pred_masks)]  # fmt: skip
            context = self.place(rng, *self.block_size(rng, self.enc_mask_scale, (1.0, 1.0)))
            if not self.allow_overlap:
                context &= ~np.logical_or.reduce(targets)
            if best is None or context.sum() > best[0].sum():
                best = (context, targets)
            if context.sum() >= self.min_keep:
                break
        context, targets = best
        if not context.any():
            raise RuntimeError("mask sampling left no context token; lower mask.pred_mask_scale or num_pred_masks")
        return SampleMasks(_grid_to_index(context), [_grid_to_index(t) for t in targets])


class MultiBlockMask3D:
    """V-JEPA multi-block masking on a ``(T / tubelet) × (H / patch) × (W / patch)`` token grid.

    ``num_blocks`` spatio-temporal blocks are drawn per sample (duration ``max(1, int(T' * temporal_scale))``,
    spatial area ``int(H' W' * spatial_scale)`` shaped by ``aspect_ratio``, each clipped to the grid); the target
    is their union and the context its complement. With ``max_temporal_keep < 1`` the context keeps only the first
    ``max(1, int(T' * max_temporal_keep))`` time steps (the rest become targets); ``max_keep`` cuts the context to
    its first ``max_keep`` indices. A sample whose context would be empty is drawn again. Unlike the official
    sampler, block sizes are drawn per sample rather than once per batch, and nothing is cut to the batch minimum.
    Official V-JEPA sets: short range ``num_blocks=8, spatial_scale=(0.15, 0.15)``; long range ``num_blocks=2,
    spatial_scale=(0.7, 0.7)``; both ``aspect_ratio=(0.75, 1.5), temporal_scale=(1.0, 1.0)``.
    """

    def __init__(
        self,
        input_size: int | Sequence[int] = 224,
        patch_size: int = 16,
        num_frames: int = 16,
        tubelet_size: int = 2,
        spatial_scale: Sequence[float] = (0.15, 0.15),
        temporal_scale: Sequence[float] = (1.0, 1.0),
        aspect_ratio: Sequence[float] = (0.75, 1.5),
        num_blocks: int = 8,
        max_temporal_keep: float = 1.0,
        max_keep: int | None = None,
        max_tries: int = 50,
    ) -> None:
        size = to_pair(input_size)
        self.duration = num_frames // tubelet_size
        self.height, self.width = size[0] // patch_size, size[1] // patch_size
        _check_scale("spatial_scale", spatial_scale)
        _check_scale("temporal_scale", temporal_scale)
        if not 0 < max_temporal_keep <= 1:
            raise ValueError(f"mask.max_temporal_keep must be in (0, 1], got {max_temporal_keep}")
        self.spatial_scale, self.temporal_scale = tuple(spatial_scale), tuple(temporal_scale)
        self.aspect_ratio, self.num_blocks = tuple(aspect_ratio), num_blocks
        self.context_duration = max(1, int(self.duration * max_temporal_keep))
        self.max_keep, self.max_tries = max_keep, max_tries

    @property
    def num_patches(self) -> int:
        return self.duration * self.height * self.width

    def block_size(self, rng: np.random.Generator) -> tuple[int, int, int]:
        """``(t, h, w)`` of one block."""
        t = max(1, int(self.duration * rng.uniform(*self.temporal_scale)))
        keep = int(self.height * self.width * rng.uniform(*self.spatial_scale))
        ratio = rng.uniform(*self.aspect_ratio)
        h = min(round(math.sqrt(keep * ratio)), self.height)
        w = min(round(math.sqrt(keep / ratio)), self.width)
        return t, max(h, 1), max(w, 1)

    def __call__(self, rng: np.random.Generator) -> SampleMasks:
        for _ in range(self.max_tries):
            target = np.zeros((self.duration, self.height, self.width), dtype=bool)
            for _ in range(self.num_blocks):
                t, h, w = self.block_size(rng)
                start = rng.integers(0, self.duration - t + 1)
                top, left = rng.integers(0, self.height - h + 1), rng.integers(0, self.width - w + 1)
                target[start : start + t, top : top + h, left : left + w] = True
            target[self.context_duration :] = True
            if not target.all():
                break
        else:
            raise RuntimeError("mask sampling left no context token; lower mask.spatial_scale or num_blocks")
        context = _grid_to_index(~target)
        if self.max_keep is not None:
            context = context[: self.max_keep]
        return SampleMasks(context, [_grid_to_index(target)])


def _grid_to_index(grid: np.ndarray) -> Tensor:
    """Row-major indices of the ``True`` cells of a boolean patch grid."""
    return torch.from_numpy(np.flatnonzero(grid))


def pack_sample_masks(masks: Sequence[Sequence[SampleMasks]]) -> dict[str, Tensor]:
    """Flat index tensors and lengths for a batch, ``masks[b][m]`` being sample ``b``'s masks from mask set ``m``.

    One context run per (sample, mask set), sample-major: ``ctx_index``/``ctx_lengths``, with ``ctx_owner`` (its
    sample) and ``ctx_set`` (its mask set). One target run per target block: ``tgt_index``/``tgt_lengths``, with
    ``tgt_owner`` (the context run it is predicted from)."""
    contexts = [(b, m, sm) for b, sets in enumerate(masks) for m, sm in enumerate(sets)]
    targets = [(r, t) for r, (_, _, sm) in enumerate(contexts) for t in sm.targets]
    return {
        "ctx_index": torch.cat([sm.context for _, _, sm in contexts]),
        "ctx_lengths": torch.tensor([sm.context.numel() for _, _, sm in contexts]),
        "ctx_owner": torch.tensor([b for b, _, _ in contexts]),
        "ctx_set": torch.tensor([m for _, m, _ in contexts]),
        "tgt_index": torch.cat([t for _, t in targets]),
        "tgt_lengths": torch.tensor([t.numel() for _, t in targets]),
        "tgt_owner": torch.tensor([r for r, _ in targets]),
    }


MaskGenerator = MultiBlockMask2D | MultiBlockMask3D


class MaskCollator:
    """Collate ``(input, label[, skipped])`` samples into groups of equal clip length and attach, per sample,
    one mask from each mask set of that length.

    ``mask_sets`` maps a clip length (frames; 1 for images) to its mask generators; ``None`` collates without masks.
    ``None`` samples (an unreadable image) are dropped; they and the ``(path, reason)`` of each unreadable file a
    video sample skipped are counted in ``num_skipped``, and the latter listed in ``skipped``.

    A :class:`~jepa.sampling.Seeded` sample's masks are drawn from its own seed, so they are the same whatever
    the worker, rank or restart (the training loaders' case). Others share a generator seeded by (worker seed, call
    number): in a worker the seed is the loader's per-worker seed; in the main process it is ``seed``.
    A sample whose input is a list of views gives a group whose ``inputs`` is the list of each view's batch.
    Output: ``{"groups": [{"inputs", "labels", "num_frames", masks...}, ...], "num_skipped", "skipped",
    "indices"}``, groups in increasing clip length; ``indices`` are the dataset indices of seeded samples (for
    reports), else ``None``.
    """

    def __init__(self, mask_sets: dict[int, Sequence[MaskGenerator]] | None, seed: int = 0) -> None:
        self.mask_sets = mask_sets
        self.seed = seed
        self._calls = 0

    def _rng(self) -> np.random.Generator:
        info = get_worker_info()
        base = info.seed if info is not None else self.seed
        self._calls += 1
        return np.random.default_rng([base % 2**63, self._calls])

    def __call__(self, samples: Sequence[Any]) -> dict[str, Any]:
        samples = unbundle(samples)
        seeds: list[int | None] = [s.seed if isinstance(s, Seeded) else None for s in samples]
        indices = [s.index for s in samples if isinstance(s, Seeded) and s.sample is not None]
        samples = [s.sample if isinstance(s, Seeded) else s for s in samples]
        kept = [(seed, s) for seed, s in zip(seeds, samples) if s is not None]
        if not kept:
            raise RuntimeError(f"none of the {len(samples)} samples of a batch could be read (see warnings above)")
        skipped = [failure for _, s in kept if len(s) > 2 for failure in s[2]]
        by_length: dict[int, list[tuple[int | None, Any]]] = {}
        for seed, sample in kept:
            inputs = sample[0][0] if isinstance(sample[0], list) else sample[0]  # a list: a sample's views
            by_length.setdefault(inputs.shape[-3] if inputs.ndim >= 4 else 1, []).append((seed, sample[:2]))
        shared = self._rng() if self.mask_sets is not None and any(seed is None for seed, _ in kept) else None
        groups = []
        for num_frames in sorted(by_length):
            inputs, labels = default_collate([sample for _, sample in by_length[num_frames]])
            group: dict[str, Any] = {"inputs": inputs, "labels": labels, "num_frames": num_frames}
            if self.mask_sets is not None:
                if num_frames not in self.mask_sets:
                    raise ValueError(f"no mask sets for clips of {num_frames} frames (have {sorted(self.mask_sets)})")
                sets = self.mask_sets[num_frames]
                rngs = [shared if seed is None else np.random.default_rng([seed, MASK_STREAM])
                        for seed, _ in by_length[num_frames]]  # fmt: skip
                group.update(pack_sample_masks([[m(rng) for m in sets] for rng in rngs]))
            groups.append(group)
        return {"groups": groups, "num_skipped": len(samples) - len(kept) + len(skipped), "skipped": skipped,
                "indices": indices or None}  # fmt: skip
