import numpy as np

from jepa.probes.features import cached_features, knn_top1, linear_probe_top1, source_fingerprint


def clusters(n_per_class: int, seed: int, spread: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = np.eye(4, 16) * 5
    y = np.repeat(np.arange(4), n_per_class)
    return (centres[y] + spread * rng.standard_normal((len(y), 16))).astype(np.float32), y


def test_probes_separate_clusters_and_fail_on_noise():
    train, val = clusters(30, 0, 0.5), clusters(10, 1, 0.5)
    assert knn_top1(train, val) == 1.0
    assert linear_probe_top1(train, val) == 1.0
    assert linear_probe_top1(train, val, per_class=8) > 0.9
    noise_train = (train[0], np.random.default_rng(2).permutation(train[1]))
    assert knn_top1(noise_train, val) < 0.6 and linear_probe_top1(noise_train, val) < 0.6


def test_features_are_cached_per_source_and_recomputed_when_the_weights_change(tmp_path):
    weights = tmp_path / "encoder.ckpt"
    weights.write_bytes(b"v1")
    calls = []

    def compute():
        calls.append(1)
        return np.full((3, 2), len(calls), np.float32), np.arange(3)

    first = cached_features(tmp_path / "cache", source_fingerprint(str(weights)) + "train", compute)
    again = cached_features(tmp_path / "cache", source_fingerprint(str(weights)) + "train", compute)
    assert len(calls) == 1 and np.array_equal(first[0], again[0]) and np.array_equal(again[1], np.arange(3))
    cached_features(tmp_path / "cache", source_fingerprint(str(weights)) + "val", compute)
    assert len(calls) == 2, "another split is another entry"
    weights.write_bytes(b"v2, longer")
    changed = cached_features(tmp_path / "cache", source_fingerprint(str(weights)) + "train", compute)
    assert len(calls) == 3 and changed[0][0, 0] == 3
    cached_features(None, "anything", compute)
    assert len(calls) == 4 and len(list((tmp_path / "cache").iterdir())) == 3
