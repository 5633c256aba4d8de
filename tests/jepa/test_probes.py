import numpy as np

from jepa.probes import knn_top1, linear_probe_top1


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
