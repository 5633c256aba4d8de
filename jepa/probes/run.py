"""``jepa probe KIND``: a frozen encoder (a checkpoint, ``random`` or ``pixels``) evaluated on a composed run's
data by one probe; ``metrics.json``, a picture and one JSON line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jepa.train import build_data


PROBES = ("linear", "knn", "attentive", "anticipation", "inverse_dynamics")


def probe_encoder(run: Any, model_cfg: Any) -> Any:
    """The encoder ``jepa probe`` evaluates: ``run.encoder`` loaded, a fresh one of ``model.encoder``'s size
    (``random``), or the input itself (``pixels``)."""
    from encoders.pixels import PixelEncoder
    from encoders.pretrained import load_pretrained
    from jepa.objectives.base import build_encoder

    if run.encoder == "random":
        return build_encoder(model_cfg.encoder).eval()
    if run.encoder == "pixels":
        return PixelEncoder(model_cfg.encoder.img_size, model_cfg.encoder.num_frames)
    return load_pretrained(run.encoder)


def execute_probe(kind: str, run: Any, run_dir: Path) -> dict[str, Any]:
    """``jepa probe KIND``: evaluate a frozen encoder; ``metrics.json``, a PNG and one JSON line, last."""
    import lightning as L
    import torch
    from omegaconf import OmegaConf

    from jepa.errors import InputError
    from jepa.probes.heads import confusion_matrix, plot_report, topk_accuracy

    L.seed_everything(run.seed)
    data, model_cfg, data_cfg, _ = build_data(run)
    if run.encoder == "pixels" and kind not in ("linear", "knn"):
        raise InputError(f"encoder=pixels is a baseline for the linear and knn probes, not for {kind}")
    encoder = probe_encoder(run, model_cfg)
    size = getattr(data_cfg, "img_size", None) or data_cfg.crop_size
    if tuple(encoder.img_size) != (size, size):
        raise InputError(f"encoder={run.encoder} takes {encoder.img_size[0]}x{encoder.img_size[1]} inputs but the data "
                         f"gives {size}x{size}: set the data's size to {encoder.img_size[0]}")  # fmt: skip
    if kind == "anticipation":
        data = anticipation_data(run, data_cfg)
    run_dir.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(OmegaConf.structured(run), run_dir / "config.yaml")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if kind == "inverse_dynamics":
        if run.objective != "world_model":
            raise InputError("jepa probe inverse_dynamics needs trajectory data: experiment=wm/pusht_quickstart")
        return _inverse_dynamics_probe(run, data, model_cfg, encoder.to(device), device, run_dir)
    metrics: dict[str, Any] = {"probe": kind, "encoder": run.encoder, "num_classes": data.num_classes}
    runner = {"linear": _feature_probe, "knn": _feature_probe, "attentive": _attentive_probe,
              "anticipation": _anticipation_probe}[kind]  # fmt: skip
    scores, labels, heads_report, confused = runner(kind, run, data, model_cfg, encoder.to(device), device, metrics,
                                                    run_dir)  # fmt: skip
    metrics.update(top1=topk_accuracy(scores, labels, 1), top5=topk_accuracy(scores, labels, 5))
    if heads_report:
        best = max(heads_report, key=lambda h: h.holdout_score)
        metrics.update(best_lr=best.lr, best_wd=best.weight_decay, holdout_score=best.holdout_score,
                       num_heads=len(heads_report))  # fmt: skip
    confused = confused or (scores, labels, "class")
    confusion = confusion_matrix(confused[0].argmax(1), confused[1], confused[0].shape[1])
    title = f"{kind} probe of {run.encoder}: top-1 {metrics['top1']:.3f}"
    score_name = "action recall@5" if kind == "anticipation" else "top-1"
    plot_report(run_dir / "probe.png", title, heads_report, confusion, score_name, confused[2])
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    written = ", ".join(sorted(path.name for path in run_dir.iterdir() if path.is_file()))
    print(f"run directory: {run_dir.resolve()}  ({written})")
    print(json.dumps(metrics))
    return metrics


def _feature_probe(kind: str, run: Any, data: Any, model_cfg: Any, encoder: Any, device: Any,
                   metrics: dict[str, Any], run_dir: Path) -> tuple:  # fmt: skip
    """Linear heads or kNN on mean-pooled features computed once. Every probe runner returns the test scores and
    labels, the heads' report, and what to draw the confusion matrix of (scores, labels, name; None: the same)."""
    import torch
    from omegaconf import OmegaConf

    from jepa.errors import InputError
    from jepa.probes.heads import fit_linear_heads, knn_scores, split_holdout
    from jepa.probes.features import cached_features, extract_features, source_fingerprint

    cfg, num_classes = run.probe_eval, data.num_classes
    cache = (Path(cfg.feature_cache).expanduser() if cfg.feature_cache and run.encoder not in ("random", "pixels")
             else None)  # fmt: skip
    data_key = json.dumps(OmegaConf.to_container(OmegaConf.structured(run.data)), sort_keys=True, default=str)
    feats = {}
    for split, loader in data.probe_dataloaders().items():
        key = "\n".join((source_fingerprint(run.encoder), run.objective, data_key, split))
        x, y = cached_features(cache, key, lambda: extract_features(encoder, loader, device, f"features ({split})"))
        feats[split] = (torch.from_numpy(x), torch.from_numpy(y).long())
    (train_x, train_y), (test_x, test_y) = feats["train"], feats["val"]
    metrics.update(num_train=len(train_y), num_test=len(test_y))
    if kind == "knn":
        metrics.update(k=cfg.k, temperature=cfg.temperature)
        return knn_scores(train_x, train_y, test_x, num_classes, cfg.k, cfg.temperature), test_y, None, None
    try:
        fit_idx, hold_idx = split_holdout(train_y, cfg.holdout, run.seed)
    except ValueError as err:
        raise InputError(f"probe_eval.holdout={cfg.holdout}: {err}") from err
    lin = cfg.linear
    heads, report, mean, std = fit_linear_heads(
        train_x[fit_idx], train_y[fit_idx], train_x[hold_idx], train_y[hold_idx], num_classes, lin.lrs,
        lin.weight_decays, lin.epochs, lin.batch_size, run.seed,
    )  # fmt: skip
    best = max(range(len(report)), key=lambda i: report[i].holdout_score)
    with torch.no_grad():
        return heads((test_x - mean) / std)[best], test_y, report, None


def _attentive_probe(kind: str, run: Any, data: Any, model_cfg: Any, encoder: Any, device: Any,
                     metrics: dict[str, Any], run_dir: Path) -> tuple:  # fmt: skip
    """A grid of attentive classifiers trained on the frozen encoder, the best on held-out train scored on val."""
    from jepa.probes.attentive import fit_attentive_probe, save_official_probe
    from jepa.errors import InputError

    cfg, att = run.probe_eval, run.probe_eval.attentive
    for key in ("num_segments", "num_views", "epochs", "num_probe_blocks"):
        if getattr(att, key) < 1:
            raise InputError(f"probe_eval.attentive.{key}={getattr(att, key)}: must be at least 1")
    loaders = data.segment_dataloaders(att.num_segments, att.num_views, att.augment, cfg.holdout)
    report, head, probs, labels = fit_attentive_probe(encoder, loaders, data.num_classes, att, device, run.seed)
    save_official_probe(head, run_dir / "probe.pt", att.epochs)
    metrics.update(num_train=len(loaders["train"].dataset), num_test=len(labels), segments=att.num_segments,
                   views=att.num_views)  # fmt: skip
    return probs, labels, report, None


def _inverse_dynamics_probe(run: Any, data: Any, model_cfg: Any, encoder: Any, device: Any,
                            run_dir: Path) -> dict[str, Any]:  # fmt: skip
    """The inverse-dynamics probe on the experiment's episodes: R² and error per action dimension, a scatter PNG."""
    from jepa.probes.inverse_dynamics import fit_inverse_dynamics, r2_score
    from jepa.probes.heads import plot_regression

    loaders = data.probe_loaders(run.probe_eval.holdout)
    results, pred, actions = fit_inverse_dynamics(encoder, loaders, model_cfg.predictor.action_dim,
                                                  run.probe_eval.inverse_dynamics, device, run.seed)  # fmt: skip
    r2 = r2_score(pred, actions)
    best = max(results, key=lambda h: h.holdout_score)
    metrics = {"probe": "inverse_dynamics", "encoder": run.encoder, "r2": r2.mean().item(), "r2_per_dim": r2.tolist(),
               "mae": (pred - actions).abs().mean().item(), "best_lr": best.lr, "best_wd": best.weight_decay,
               "holdout_score": best.holdout_score, "num_heads": len(results), "num_pairs": len(actions)}  # fmt: skip
    plot_regression(run_dir / "probe.png", f"inverse dynamics of {run.encoder}: R² {metrics['r2']:.3f}", pred, actions)
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    print(f"run directory: {run_dir.resolve()}  (config.yaml, metrics.json, probe.png)")
    print(json.dumps(metrics))
    return metrics


def anticipation_data(run: Any, data_cfg: Any) -> Any:
    """The anticipation probe's data: ``data.datasets`` / ``data.val_datasets`` as EK100-style annotation files, or
    with ``data.demo_root`` such files made for the demo clips (the direction each clip's agent moves in)."""
    from jepa.data.anticipation import AnticipationDataModule
    from jepa.data.demo_videos import make_demo_videos, write_anticipation_lists

    datasets, val_datasets = data_cfg.datasets, data_cfg.val_datasets
    if data_cfg.demo_root is not None:
        make_demo_videos(data_cfg.demo_root)
        datasets, val_datasets = ([str(p)] for p in write_anticipation_lists(data_cfg.demo_root))
    return AnticipationDataModule(
        datasets, val_datasets, max(data_cfg.dataset_fpcs), data_cfg.fps,
        run.probe_eval.anticipation, data_cfg.crop_size, data_cfg.random_resize_scale, data_cfg.batch_size,
        data_cfg.num_workers, data_cfg.backend, run.seed,
    )  # fmt: skip


def _anticipation_probe(kind: str, run: Any, data: Any, model_cfg: Any, encoder: Any, device: Any,
                        metrics: dict[str, Any], run_dir: Path) -> tuple:  # fmt: skip
    """Encoder + predictor tokens of the future, a grid of verb/noun/action heads; recall@5 of each on val."""
    from jepa.probes.anticipation import anticipation_recalls, fit_anticipation_probe, split_logits
    from jepa.objectives.base import build_predictor
    from predictors.anticipation import AnticipativeEncoder
    from predictors.pretrained import load_pretrained as load_predictor

    ant = run.probe_eval.anticipation
    if run.encoder == "random":
        predictor = build_predictor(model_cfg.predictor, encoder).eval()
    else:
        predictor = load_predictor(run.encoder)
    model = AnticipativeEncoder(encoder, predictor.to(device), data.fps, ant.num_output_frames)
    loaders = data.probe_loaders(run.probe_eval.holdout)
    num_heads = ant.num_heads or encoder.num_heads
    report, _, logits, labels = fit_anticipation_probe(model, loaders, data.classes, ant, num_heads, device, run.seed)
    metrics.update(anticipation_recalls(logits, labels, data.classes), num_test=len(labels),
                   num_verbs=data.classes.num_verbs, num_nouns=data.classes.num_nouns,
                   anticipation_time=ant.anticipation_time, dropped_val_actions=data.dropped_val)  # fmt: skip
    verb, _, action = split_logits(logits, data.classes)
    return action, labels, report, (verb, data.classes.verb_noun(labels)[0], "verb")
