import numpy as np
import pytest
import torch

from jepa.masks import MaskCollator, MultiBlockMask2D, pack_sample_masks


def block_shape(index, width):
    rows, cols = np.divmod(index.numpy(), width)
    h, w = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
    return h, w


def test_official_defaults_statistics():
    gen = MultiBlockMask2D(input_size=224, patch_size=16)  # 14 x 14 grid
    rng = np.random.default_rng(0)
    n = gen.num_patches
    ctx_lengths, areas, aspects = [], [], []
    for _ in range(300):
        m = gen(rng)
        assert len(m.targets) == 4
        union = torch.cat(m.targets).unique()
        assert not np.isin(m.context.numpy(), union.numpy()).any(), "context overlaps a target"
        assert len(m.context) >= 4
        assert torch.equal(m.context, m.context.unique()), "context indices must be sorted and unique"
        for t in m.targets:
            h, w = block_shape(t, 14)
            assert h * w == len(t), "a target must be a full rectangle"
            areas.append(len(t) / n)
            aspects.append(h / w)
        ctx_lengths.append(len(m.context))
    # rounding h, w to whole patches moves area and aspect a little beyond the nominal ranges
    assert 0.12 <= min(areas) and max(areas) <= 0.24
    assert np.mean(areas) == pytest.approx(0.175, abs=0.015)
    assert 0.6 <= min(aspects) and max(aspects) <= 1.8
    assert len(set(ctx_lengths)) > 20, "context lengths must vary per sample"


def test_context_block_scale_without_targets():
    gen = MultiBlockMask2D(input_size=224, patch_size=16, num_pred_masks=0)
    rng = np.random.default_rng(1)
    for _ in range(100):
        ctx = gen(rng).context
        h, w = block_shape(ctx, 14)
        assert h == w and h * w == len(ctx)
        assert 0.85 * 196 - 14 <= len(ctx) <= 196


def test_min_keep_and_bad_settings():
    gen = MultiBlockMask2D(input_size=64, patch_size=16, pred_mask_scale=(0.2, 0.3), min_keep=3)
    rng = np.random.default_rng(0)
    assert all(len(gen(rng).context) >= 3 for _ in range(50))
    with pytest.raises(ValueError, match="mask.pred_mask_scale"):
        MultiBlockMask2D(pred_mask_scale=(0.3, 0.1))
    with pytest.raises(ValueError, match="min_keep=500"):
        MultiBlockMask2D(min_keep=500)


def test_collate_packs_variable_lengths_and_is_seeded():
    sets = {1: [MultiBlockMask2D(input_size=64, patch_size=8)]}
    samples = [(torch.randn(3, 64, 64), i % 3) for i in range(8)]
    (a,), (b,), (c,) = (MaskCollator(sets, seed=s)(samples)["groups"] for s in (5, 5, 6))
    assert a["inputs"].shape == (8, 3, 64, 64) and a["labels"].tolist() == [0, 1, 2, 0, 1, 2, 0, 1]
    assert a["ctx_lengths"].shape == (8,) and a["ctx_lengths"].sum() == a["ctx_index"].numel()
    assert a["ctx_owner"].tolist() == list(range(8)) and a["ctx_set"].tolist() == [0] * 8
    assert a["tgt_lengths"].shape == (32,) and a["tgt_lengths"].sum() == a["tgt_index"].numel()
    assert a["tgt_owner"].tolist() == [b for b in range(8) for _ in range(4)]
    assert len(set(a["ctx_lengths"].tolist())) > 1, "no truncation to the batch minimum"
    assert torch.equal(a["ctx_index"], b["ctx_index"]) and not torch.equal(a["ctx_index"], c["ctx_index"])
    collator = MaskCollator(sets, seed=5)
    first, second = collator(samples)["groups"][0], collator(samples)["groups"][0]
    assert not torch.equal(first["ctx_index"], second["ctx_index"]), "each step draws new masks"


def test_collate_drops_unreadable_samples_and_counts_failed_reads():
    sets = {1: [MultiBlockMask2D(input_size=32, patch_size=8)]}
    failures = [("a.mp4", "empty file"), ("b.mp4", "no such file")]
    batch = MaskCollator(sets)([(torch.zeros(3, 32, 32), 1), None, (torch.zeros(3, 32, 32), 2, failures)])
    (group,) = batch["groups"]
    assert batch["num_skipped"] == 1 + 2 and batch["skipped"] == failures
    assert group["inputs"].shape[0] == 2 and group["ctx_lengths"].shape == (2,)
    with pytest.raises(RuntimeError, match="none of the 2 samples"):
        MaskCollator(sets)([None, None])


def test_collate_groups_mixed_clip_lengths_with_their_own_mask_sets():
    from jepa.masks import MultiBlockMask3D

    def sets(frames):
        return [
            MultiBlockMask3D(32, 8, frames, 2, num_blocks=n, spatial_scale=(s, s)) for n, s in ((8, 0.15), (2, 0.7))
        ]

    collator = MaskCollator({4: sets(4), 8: sets(8)}, seed=0)
    samples = [(torch.zeros(3, 8, 32, 32), 0), (torch.zeros(3, 4, 32, 32), 1), (torch.zeros(3, 8, 32, 32), 2)]
    batch = collator(samples)
    short, long = batch["groups"]
    assert (short["num_frames"], long["num_frames"]) == (4, 8)
    assert short["inputs"].shape == (1, 3, 4, 32, 32) and long["inputs"].shape == (2, 3, 8, 32, 32)
    assert long["labels"].tolist() == [0, 2]
    # two mask sets: one context run per (sample, set), sample-major, each with one target (the union of blocks)
    assert long["ctx_owner"].tolist() == [0, 0, 1, 1] and long["ctx_set"].tolist() == [0, 1, 0, 1]
    assert long["tgt_owner"].tolist() == [0, 1, 2, 3]
    for group, tokens in ((short, 2 * 16), (long, 4 * 16)):
        total = group["ctx_lengths"] + group["tgt_lengths"]
        assert total.tolist() == [tokens] * len(total), "context and target split each clip's token grid"
        assert group["ctx_index"].max() < tokens and group["tgt_index"].max() < tokens
    with pytest.raises(ValueError, match="no mask sets for clips of 6 frames"):
        collator([(torch.zeros(3, 6, 32, 32), 0)])


def test_masks_are_seeded_per_worker_and_step():
    from torch.utils.data import DataLoader

    sets = {1: [MultiBlockMask2D(input_size=32, patch_size=4)]}
    data = [(torch.zeros(3, 32, 32), 0)] * 16

    def masks_of_one_epoch(seed: int) -> list[tuple[int, ...]]:
        torch.manual_seed(seed)  # the loader draws its per-worker seeds from torch's generator
        loader = DataLoader(data, batch_size=4, num_workers=2, collate_fn=MaskCollator(sets))
        return [tuple(b["groups"][0]["ctx_index"].tolist()) for b in loader]

    first = masks_of_one_epoch(0)
    assert len(set(first)) == 4, "each worker and step draws its own masks"
    assert masks_of_one_epoch(0) == first, "the same seed gives the same masks"
    assert masks_of_one_epoch(1) != first


def test_pack_sample_masks_orders_runs_sample_major():
    from jepa.masks import SampleMasks

    m = [[SampleMasks(torch.tensor([0, 1]), [torch.tensor([5]), torch.tensor([6, 7])])],
         [SampleMasks(torch.tensor([2]), [torch.tensor([8]), torch.tensor([9])])]]  # fmt: skip
    packed = pack_sample_masks(m)
    assert packed["ctx_index"].tolist() == [0, 1, 2] and packed["ctx_lengths"].tolist() == [2, 1]
    assert packed["tgt_index"].tolist() == [5, 6, 7, 8, 9] and packed["tgt_lengths"].tolist() == [1, 2, 1, 1]
    assert packed["tgt_owner"].tolist() == [0, 0, 1, 1]


@pytest.mark.parametrize("num_blocks, scale", [(8, 0.15), (2, 0.7)])
def test_multiblock3d_official_sets(num_blocks, scale):
    from jepa.masks import MultiBlockMask3D

    gen = MultiBlockMask3D(input_size=224, patch_size=16, num_frames=16, tubelet_size=2, num_blocks=num_blocks,
                           spatial_scale=(scale, scale))  # fmt: skip
    rng = np.random.default_rng(0)
    n, per_frame = gen.num_patches, 14 * 14
    assert n == 8 * per_frame
    lengths = []
    for _ in range(100):
        m = gen(rng)
        (target,) = m.targets
        assert np.intersect1d(m.context.numpy(), target.numpy()).size == 0
        assert len(m.context) + len(target) == n, "context is the complement of the target"
        # temporal scale 1.0: every block spans all frames, so the target is the same in every frame
        frames = target.numpy().reshape(-1)
        per_t = [set((frames[frames // per_frame == t] % per_frame).tolist()) for t in range(8)]
        assert all(p == per_t[0] for p in per_t)
        lengths.append(len(target))
    spatial = np.array(lengths) / n
    assert spatial.min() >= scale * 0.85 - 0.02, "the union is at least one block"
    if num_blocks == 8:
        assert 0.5 < spatial.mean() < 0.85  # the official short-range masks cover about 3/4 of the tokens
    assert len(set(lengths)) > 10, "lengths vary per sample"


def test_multiblock3d_temporal_keep_and_max_keep():
    from jepa.masks import MultiBlockMask3D

    gen = MultiBlockMask3D(input_size=64, patch_size=16, num_frames=8, tubelet_size=2, num_blocks=1,
                           spatial_scale=(0.25, 0.25), max_temporal_keep=0.5, max_keep=5)  # fmt: skip
    m = gen(np.random.default_rng(0))
    assert (m.context // 16).max() < 2, "context only in the first half of the time steps"
    assert len(m.context) <= 5
    with pytest.raises(ValueError, match="mask.spatial_scale"):
        MultiBlockMask3D(spatial_scale=(0.0, 0.1))
