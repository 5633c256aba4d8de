"""Frozen-encoder probes: the head grid, kNN, metrics, and ``jepa probe`` end to end."""

import json

import numpy as np
import pytest
import torch

from jepa.cli import main
from jepa.probes.heads import confusion_matrix, fit_linear_heads, knn_scores, split_holdout, topk_accuracy


def clusters(n_per_class: int = 60, num_classes: int = 4, dim: int = 8, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(num_classes, dim, generator=g) * 4
    y = torch.arange(num_classes).repeat_interleave(n_per_class)
    return centers[y] + torch.randn(len(y), dim, generator=g), y


def test_linear_heads_learn_and_the_grid_matters():
    x, y = clusters()
    fit, hold = split_holdout(y, 0.25, seed=0)
    assert len(set(fit.tolist()) & set(hold.tolist())) == 0 and len(fit) + len(hold) == len(y)
    heads, results, mean, std = fit_linear_heads(x[fit], y[fit], x[hold], y[hold], 4, [1e-2, 1e-6], [0.0, 0.1],
                                                 epochs=20, batch_size=32)  # fmt: skip
    assert len(heads.weights) == 4 and [(r.lr, r.weight_decay) for r in results][:2] == [(1e-2, 0.0), (1e-2, 0.1)]
    assert max(r.holdout_score for r in results) > 0.95, "a well-set head separates the clusters"
    assert min(r.holdout_score for r in results[2:]) < 0.9, "a head with a tiny learning rate barely learns"
    torch.testing.assert_close(mean, x[fit].mean(0))


def test_knn_topk_and_confusion():
    x, y = clusters(seed=1)
    scores = knn_scores(x, y, x + 0.01, 4, k=5)
    assert topk_accuracy(scores, y, 1) > 0.95 and topk_accuracy(scores, y, 4) == 1.0
    scores = torch.tensor([[0.1, 0.9, 0.0], [0.8, 0.05, 0.15], [0.2, 0.3, 0.5]])
    labels = torch.tensor([1, 2, 2])
    assert (
        topk_accuracy(scores, labels, 1) == pytest.approx(2 / 3, abs=1e-6) and topk_accuracy(scores, labels, 2) == 1.0
    )
    assert confusion_matrix(scores.argmax(1), labels, 3).tolist() == [[0, 0, 0], [0, 1, 0], [1, 0, 1]]


QUICK = ["experiment=ijepa/quickstart", "data.num_workers=0", "probe_eval.linear.epochs=3",
         "probe_eval.linear.lrs=[0.01,0.001]", "probe_eval.linear.weight_decays=[0.01]"]  # fmt: skip


@pytest.mark.parametrize("kind", ["linear", "knn"])
def test_jepa_probe_writes_metrics_picture_and_one_json_line(tmp_path, capsys, kind):
    run = tmp_path / kind
    assert main(["probe", kind, *QUICK, "encoder=random", f"hydra.run.dir={run}"]) == 0
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert last["probe"] == kind and last["encoder"] == "random" and last["num_test"] == 360
    assert 0.1 < last["top1"] <= last["top5"] <= 1.0
    assert json.loads((run / "metrics.json").read_text()) == last
    assert (run / "probe.png").stat().st_size > 10_000
    if kind == "linear":
        assert last["num_heads"] == 2 and last["best_lr"] in (0.01, 0.001)


def test_jepa_probe_errors(tmp_path, capsys):
    assert main(["probe", "attentiv"]) == 2
    assert (
        "choose a probe: linear, knn, attentive, anticipation, inverse_dynamics (got attentiv)"
        in capsys.readouterr().err
    )
    args = ["probe", "knn", *QUICK, "encoder=random", "model.encoder.img_size=64", f"hydra.run.dir={tmp_path}"]
    assert main(args) == 2
    assert "takes 64x64 inputs but the data gives 32x32" in capsys.readouterr().err
    assert main(["probe", "knn", *QUICK, "encoder=/no/such.ckpt", f"hydra.run.dir={tmp_path}"]) == 2
    assert "no such file or folder" in capsys.readouterr().err


def test_pixels_baseline_goes_through_the_same_probes(tmp_path, capsys):
    from jepa.data.digits import DigitsDataset
    from jepa.data.images import eval_transform
    from jepa.probes.features import knn_top1

    assert main(["probe", "knn", *QUICK, "encoder=pixels", f"hydra.run.dir={tmp_path / 'knn'}"]) == 0
    knn = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    splits = {s: DigitsDataset(s, eval_transform(32)) for s in ("train", "val")}
    flat = {s: (np.stack([d[i][0].flatten().numpy() for i in range(len(d))]), d.targets) for s, d in splits.items()}
    assert knn["encoder"] == "pixels" and knn["top1"] == pytest.approx(knn_top1(flat["train"], flat["val"]), abs=1e-6)
    assert knn["top1"] > 0.95  # raw digits are easy for a nearest-neighbour vote
    assert main(["probe", "linear", *QUICK, "encoder=pixels", f"hydra.run.dir={tmp_path / 'linear'}"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["top1"] > 0.8
    assert main(["probe", "attentive", *QUICK, "encoder=pixels", f"hydra.run.dir={tmp_path / 'att'}"]) == 2
    assert "encoder=pixels is a baseline for the linear and knn probes, not for attentive" in capsys.readouterr().err
