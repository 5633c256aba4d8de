"""``jepa fit | validate | test [overrides]``: compose the Hydra config, validate it, and run it with Lightning."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

COMMANDS = ("fit", "validate", "test")
TOOLS = ("convert", "features")
USAGE = """usage: jepa {{fit,validate,test}} [experiment=NAME] [KEY=VALUE ...]
       jepa probe {{linear,knn,attentive,anticipation,inverse_dynamics}} [experiment=NAME] encoder=SOURCE|random|pixels
                  [KEY=VALUE ...]
       jepa plan [experiment=wm/pusht_quickstart|wm/tworoom_quickstart] world_model=CHECKPOINT [plan.episodes=N ...]
       jepa convert SOURCE OUT_DIR [--which encoder] [KEY=VALUE ...]
       jepa features SOURCE INPUT... --out FILE.safetensors|FILE.npy [--batch-size N] [--num-frames N]
       jepa viz masks [experiment=NAME] [KEY=VALUE ...]
       jepa viz pca SOURCE INPUT... [--out FILE.png|FILE.gif] [--num-frames N]
       jepa viz curves RUN_DIR [--out FILE.png]

Compose a run from configs/ (groups: model, data, mask, trainer; an experiment sets them all), validate it and
run it with Lightning. Any key can be overridden, e.g. trainer.max_steps=200 data.root=DIR model.encoder.size=small.
ckpt_path=FILE starts from a checkpoint; hydra.run.dir=DIR picks the run directory.

probe evaluates a frozen encoder on the experiment's data: linear (a grid of heads on mean-pooled features, the
best on held-out train, reported on val), kNN, attentive (a grid of attentive probes; segments x views as in the
eval/k400, eval/ssv2, eval/in1k experiments), anticipation (EK100-style annotations, eval/ek100) or
inverse_dynamics (the action between two frames of trajectory episodes, wm/ experiments); the baselines:
encoder=random is a fresh encoder of model.encoder's size, encoder=pixels the input itself (linear and knn).
plan runs the goal-reaching protocol of plan.env (pusht, two_room) with a world-model checkpoint (jepa fit
experiment=wm/...): CEM or MPPI in latent space with receding-horizon control against a random policy; success
rates, plan.png, plan.gif.
convert writes model.safetensors + config.json from any pretrained source (official I-JEPA / V-JEPA / V-JEPA 2
files, Hugging Face VJEPA2Model folders, our checkpoints, or an official name such as vjepa2_vit_large);
KEY=VALUE sets what the weights cannot say (num_heads=16, img_size=256, num_frames=16; predictor.num_heads=12 for
the predictor). features writes pooled and per-token features of images or videos from such a source.
viz draws pictures: masks (a training batch's masks over its frames, masks.png in the run directory), pca (the
patch features of images or videos in three principal components as colours, beside the inputs), curves (loss,
LR, EMA and probe accuracy of a run directory, curves.png).

experiments:
{experiments}
"""


def list_experiments() -> list[str]:
    """Names of the experiments shipped in ``configs/experiment`` (``ijepa/quickstart``, ...)."""
    root = resources.files("configs").joinpath("experiment")
    names: list[str] = []

    def walk(node: Any, prefix: str) -> None:
        for child in node.iterdir():
            if child.is_dir():
                walk(child, f"{prefix}{child.name}/")
            elif child.name.endswith(".yaml"):
                names.append(prefix + child.name[: -len(".yaml")])

    walk(root, "")
    return sorted(names)


def usage() -> str:
    return USAGE.format(experiments="\n".join(f"  {name}" for name in list_experiments()))


def compose_run(overrides: Sequence[str]) -> tuple[Any, Path]:
    """The validated :class:`jepa.config.RunConfig` for ``overrides`` and its run directory."""
    from hydra import compose, initialize_config_module
    from hydra.core.config_store import ConfigStore
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig
    from hydra.errors import HydraException
    from omegaconf import OmegaConf, open_dict
    from omegaconf.errors import OmegaConfBaseException

    from jepa.config import RunConfig
    from jepa.errors import InputError

    ConfigStore.instance().store(name="run_schema", node=RunConfig)
    GlobalHydra.instance().clear()
    try:
        with initialize_config_module(config_module="configs", version_base="1.3"):
            cfg = compose("config", overrides=list(overrides), return_hydra_config=True)
        HydraConfig.instance().set_config(cfg)
        run_dir = Path(cfg.hydra.run.dir)
        with open_dict(cfg):
            del cfg["hydra"]
        run = OmegaConf.to_object(cfg)
    except (HydraException, OmegaConfBaseException) as err:
        raise InputError(_explain(err)) from err
    finally:
        GlobalHydra.instance().clear()
    return run, run_dir


def _explain(err: BaseException) -> str:
    """One readable message from a Hydra/OmegaConf error and its cause (minus Hydra's '+key' hint)."""
    from omegaconf.errors import MissingMandatoryValue

    lines = [line for line in str(err).splitlines() if line and not line.startswith("To append")]
    cause = err.__cause__
    if isinstance(err, MissingMandatoryValue) or isinstance(cause, MissingMandatoryValue):
        key = getattr(err, "full_key", None) or getattr(cause, "full_key", "")
        return f"{key} is required by this experiment: pass {key}=..."
    if cause is not None:
        lines.append(str(cause).splitlines()[0])
    if "experiment" in str(err) and "Could not find" in str(err):
        lines = [lines[0], "available experiments: " + ", ".join(list_experiments())]
    return "\n".join(lines)


def build_trainer(run: Any, run_dir: Path, callbacks: list[Any]) -> Any:
    """A Lightning ``Trainer`` from ``run.trainer`` that logs to TensorBoard and CSV in ``run_dir``."""
    import lightning as L
    import torch
    from lightning.pytorch.callbacks import RichProgressBar
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

    from jepa.checkpointing import AtomicCheckpointIO, RunCheckpoints
    from jepa.config import shallow_dict

    args = shallow_dict(run.trainer)
    if args["precision"] == "auto":
        on_gpu = torch.cuda.is_available() and args["accelerator"] in ("auto", "gpu", "cuda")
        args["precision"] = "bf16-mixed" if on_gpu else "32-true"
    args = {k: v for k, v in args.items() if v is not None}
    callbacks = [RunCheckpoints(run_dir, run.checkpoint), *callbacks]
    if args["enable_progress_bar"]:
        callbacks.append(RichProgressBar())
    loggers = [TensorBoardLogger(run_dir, name="tensorboard", version=""), CSVLogger(run_dir, name="csv", version="")]
    # the loaders shard by rank themselves (jepa.sampling), so that a run reproduces on any number of processes
    return L.Trainer(default_root_dir=run_dir, callbacks=callbacks, logger=loggers, use_distributed_sampler=False,
                     plugins=[AtomicCheckpointIO()], **args)  # fmt: skip


def build_data(run: Any) -> tuple[Any, Any, Any, Any]:
    """The DataModule of a composed run and its validated ``model``, ``data`` and ``mask`` configs."""
    from jepa.config import OBJECTIVE_SCHEMAS, shallow_dict, validated
    from jepa.data import ImageDataModule, VideoDataModule
    from jepa.data.trajectories import TrajectoryDataModule
    from jepa.errors import InputError

    if run.objective not in OBJECTIVE_SCHEMAS:
        raise InputError(f"objective={run.objective!r}: choose one of {', '.join(OBJECTIVE_SCHEMAS)}")
    model_schema, data_schema, mask_schema = OBJECTIVE_SCHEMAS[run.objective]
    model_cfg = validated(model_schema, run.model, "model")
    data_cfg = validated(data_schema, run.data, "data")
    mask_cfg = validated(mask_schema, run.mask, "mask")
    try:
        if run.objective == "world_model":
            data = TrajectoryDataModule(**shallow_dict(data_cfg), seed=run.seed)
        else:
            module = ImageDataModule if run.objective in ("ijepa", "lejepa") else VideoDataModule
            views_objective = run.objective.startswith("lejepa")
            if views_objective and data_cfg.views is None:
                raise InputError(f"objective={run.objective} trains on augmented views: set data.views (e.g. "
                                 "data.views.num_global=2)")  # fmt: skip
            data = module(**shallow_dict(data_cfg), mask=None if views_objective else mask_cfg, seed=run.seed)
    except ValueError as err:
        raise InputError(str(err)) from err
    return data, model_cfg, data_cfg, mask_cfg


def build(run: Any) -> tuple[Any, Any]:
    """The DataModule and LightningModule of a composed run, its groups checked against the objective's schemas
    (filling what comes from the data: probe classes, V-JEPA mask sets and clip lengths)."""
    from jepa.config import shallow_dict
    from jepa.errors import InputError
    from jepa.objectives import IJEPA, VJEPA, LeJEPA, WorldModel

    data, model_cfg, data_cfg, mask_cfg = build_data(run)
    try:  # constructors reject values the schema's types cannot (a backend name, a size, a grid that does not fit)
        if run.objective == "world_model":
            model = WorldModel(**shallow_dict(model_cfg))
        else:
            if run.objective == "vjepa":
                model_cfg.num_mask_sets = model_cfg.num_mask_sets or len(mask_cfg.sets)
                model_cfg.clip_lengths = model_cfg.clip_lengths or list(data_cfg.dataset_fpcs)
            if run.objective.startswith("lejepa"):
                model_cfg.num_global_views = model_cfg.num_global_views or data_cfg.views.num_global
            if model_cfg.probe.num_classes is None:
                model_cfg.probe.num_classes = data.num_classes
            module = {"ijepa": IJEPA, "vjepa": VJEPA, "lejepa": LeJEPA, "lejepa_video": LeJEPA}[run.objective]
            model = module(**shallow_dict(model_cfg))
    except ValueError as err:
        raise InputError(str(err)) from err
    run.model, run.data, run.mask = model_cfg, data_cfg, mask_cfg
    return data, model


def execute(command: str, run: Any, run_dir: Path) -> dict[str, Any]:
    """Build data, model and trainer from a composed run config, run ``command``, and write ``metrics.json``."""
    import lightning as L
    from lightning.pytorch.utilities.exceptions import SIGTERMException
    from omegaconf import OmegaConf

    from jepa.collapse import CollapseMonitor
    from jepa.errors import InputError
    from jepa.guards import NonFiniteLossError
    from jepa.probes import StartEndProbes

    L.seed_everything(run.seed, workers=True)
    data, model = build(run)
    if run.init_weights:
        if not Path(run.init_weights).is_file():
            raise InputError(f"init_weights={run.init_weights}: no such checkpoint")
        try:
            model.load_weights(run.init_weights)
        except RuntimeError as err:
            raise InputError(f"init_weights={run.init_weights}: does not fit this model: {err}") from err
    run_dir.mkdir(parents=True, exist_ok=True)
    print(f"run directory: {run_dir.resolve()}\ndata: {data.source}")
    OmegaConf.save(OmegaConf.structured(run), run_dir / "config.yaml")
    probe = StartEndProbes() if run.final_probe and command == "fit" else None
    trainer = build_trainer(run, run_dir, [CollapseMonitor(), *([probe] if probe else [])])
    started = time.perf_counter()
    try:
        results = getattr(trainer, command)(model, datamodule=data, ckpt_path=run.ckpt_path)
    except SIGTERMException:  # raised by Lightning after our checkpoint callback saved and stopped the run
        results = None
    metrics: dict[str, Any] = {k: float(v) for k, v in trainer.callback_metrics.items()}
    for result in results or []:
        metrics.update({k: float(v) for k, v in result.items()})
    if probe is not None:
        metrics.update(probe.results)
    metrics.update(command=command, global_step=trainer.global_step, seconds=round(time.perf_counter() - started, 1))
    metrics["skipped_samples"] = model.skipped_samples
    metrics["nonfinite_steps"] = model.guard.skipped
    if model.skipped_samples:
        print(f"warning: {model.skipped_samples} unreadable samples were skipped and replaced")
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    print(f"metrics: {run_dir / 'metrics.json'}  checkpoint: {run_dir / 'last.ckpt'}")
    if model.guard.stop_reason:
        raise NonFiniteLossError(model.guard.stop_reason)
    return metrics


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
    from jepa.probe_eval import confusion_matrix, plot_report, topk_accuracy

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
    from jepa.probe_eval import fit_linear_heads, knn_scores, split_holdout
    from jepa.probes import cached_features, extract_features, source_fingerprint

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
    from jepa.attentive_probe import fit_attentive_probe, save_official_probe
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
    from jepa.inverse_dynamics_probe import fit_inverse_dynamics, r2_score
    from jepa.probe_eval import plot_regression

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
    from jepa.anticipation_probe import anticipation_recalls, fit_anticipation_probe, split_logits
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


def load_world_model(path: str) -> Any:
    """The :class:`LatentWorldModel` of a ``jepa fit experiment=wm/...`` checkpoint, in eval mode."""
    import torch

    from jepa.errors import InputError
    from jepa.objectives import WorldModel

    if not Path(path).expanduser().is_file():
        raise InputError(f"world_model={path}: no such checkpoint (train one with jepa fit experiment=wm/...)")
    ckpt = torch.load(Path(path).expanduser(), map_location="cpu", weights_only=False)
    hparams = ckpt.get("hyper_parameters", {}) if isinstance(ckpt, dict) else {}
    if "predictor" not in hparams or "auto_steps" not in hparams:
        raise InputError(f"world_model={path}: not a world-model checkpoint (no action-conditioned predictor in it)")
    module = WorldModel(**hparams)
    module.load_state_dict(ckpt["state_dict"])
    return module.model.eval()


def execute_plan(run: Any, run_dir: Path) -> dict[str, Any]:
    """``jepa plan``: the goal-reaching protocol with ``run.world_model``; ``metrics.json``, ``plan.png``,
    ``plan.gif`` and one JSON line, last."""
    import lightning as L
    from omegaconf import OmegaConf

    from jepa.errors import InputError
    from jepa.envs.pusht import DATA_POLICIES
    from jepa.plan_eval import GOAL_REACHING, plot_rollouts, summary, write_gif
    from jepa.planning import PLANNERS

    L.seed_everything(run.seed)
    if not run.world_model:
        raise InputError("jepa plan needs world_model=CHECKPOINT (from jepa fit experiment=wm/pusht_quickstart)")
    if run.plan.planner.method not in PLANNERS:
        raise InputError(f"plan.planner.method={run.plan.planner.method!r}: choose one of {', '.join(PLANNERS)}")
    if run.plan.env not in GOAL_REACHING:
        raise InputError(f"plan.env={run.plan.env!r}: choose one of {', '.join(GOAL_REACHING)}")
    if run.plan.env == "pusht" and run.plan.goal_policy not in DATA_POLICIES:
        raise InputError(f"plan.goal_policy={run.plan.goal_policy!r}: choose one of {', '.join(DATA_POLICIES)}")
    model = load_world_model(run.world_model)
    run_dir.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(OmegaConf.structured(run), run_dir / "config.yaml")
    started = time.perf_counter()
    outcome = GOAL_REACHING[run.plan.env](model, run.plan, run.seed)
    seconds = time.perf_counter() - started
    planner, random, stay = (summary(outcome[k]) for k in ("planner", "random", "stay"))
    block = run.plan.planner.action_block
    plans = sum(-(-(len(r.frames) - 1) // block) for r in outcome["planner"])  # replannings (a plan per block)
    metrics = {"plan": run.plan.planner.method, "env": run.plan.env, "world_model": run.world_model,
               "episodes": run.plan.episodes, **planner, **{f"random_{k}": v for k, v in random.items()},
               "stay_success_rate": stay["success_rate"],
               **{f"goal_{k}": v for k, v in stay.items() if k != "success_rate"},
               "seconds_per_action": round(seconds / max(plans, 1), 3)}  # fmt: skip
    plot_rollouts(run_dir / "plan.png", outcome, run.plan.strips)
    write_gif(run_dir / "plan.gif", outcome["planner"][0], outcome["goals"][0])
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(f"run directory: {run_dir.resolve()}  (config.yaml, metrics.json, plan.gif, plan.png)")
    print(json.dumps(metrics))
    return metrics


def _overrides(pairs: Sequence[str]) -> dict[str, Any]:
    """``KEY=VALUE`` arguments as constructor overrides (values parsed as YAML: numbers, booleans, lists)."""
    import yaml

    from jepa.errors import InputError

    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise InputError(f"expected KEY=VALUE, got {pair!r}")
        out[key] = yaml.safe_load(value)
    return out


def run_tool(command: str, args: Sequence[str]) -> None:
    """``jepa convert`` and ``jepa features``: pretrained sources, no Hydra."""
    import argparse

    from encoders.pretrained import load_pretrained
    from jepa.convert import export_pretrained

    parser = argparse.ArgumentParser(prog=f"jepa {command}", description=usage())
    parser.add_argument("source")
    if command == "convert":
        parser.add_argument("out_dir")
    else:
        parser.add_argument("inputs", nargs="+", type=Path)
        parser.add_argument("--out", type=Path, required=True)
        parser.add_argument("--batch-size", type=int, default=8)
        parser.add_argument("--num-frames", type=int, default=None)
        parser.add_argument("--frame-step", type=int, default=4)
        parser.add_argument("--device", default="cpu")
    parser.add_argument("--which", default="target_encoder", choices=("target_encoder", "encoder"))
    parsed, rest = parser.parse_known_args(list(args))
    overrides = _overrides(rest)
    if command == "convert":
        predictor = {k[len("predictor.") :]: overrides.pop(k) for k in list(overrides) if k.startswith("predictor.")}
        out = export_pretrained(parsed.source, parsed.out_dir, parsed.which, predictor, **overrides)
        print(f"wrote {out / 'model.safetensors'} and {out / 'config.json'}")
        return
    from jepa.features import extract, save_features

    encoder = load_pretrained(parsed.source, parsed.which, **overrides)
    pooled, tokens = extract(encoder, parsed.inputs, parsed.batch_size, parsed.num_frames, parsed.frame_step,
                             parsed.device)  # fmt: skip
    written = save_features(parsed.out, [str(p) for p in parsed.inputs], pooled, tokens)
    print(f"{len(parsed.inputs)} inputs, features {tuple(pooled.shape)} pooled: " + ", ".join(map(str, written)))


VIZ = ("masks", "pca", "curves")


def execute_viz(kind: str, args: Sequence[str]) -> Path:
    """``jepa viz masks|pca|curves``: write the picture and return its path."""
    import argparse

    from jepa import viz
    from jepa.errors import InputError

    if kind == "masks":
        run, run_dir = compose_run(["name=viz_masks", *args])
        if run.objective not in ("ijepa", "vjepa"):
            raise InputError(f"objective={run.objective} trains without masks: nothing to draw")
        data, _, _, mask_cfg = build_data(run)
        batch = next(iter(data.train_dataloader()))
        return viz.plot_masks(run_dir / "masks.png", batch, mask_cfg.patch_size, getattr(mask_cfg, "tubelet_size", 1))
    parser = argparse.ArgumentParser(prog=f"jepa viz {kind}", description=usage())
    if kind == "curves":
        parser.add_argument("run_dir", type=Path)
        parser.add_argument("--out", type=Path, default=None)
        parsed = parser.parse_args(list(args))
        try:
            return viz.plot_curves(parsed.run_dir, parsed.out)
        except (FileNotFoundError, ValueError) as err:
            raise InputError(str(err)) from err
    from encoders.pretrained import load_pretrained
    from jepa.features import extract, read_input

    parser.add_argument("source")
    parser.add_argument("inputs", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=Path("pca.png"))
    parser.add_argument("--num-frames", type=int, default=None)
    parser.add_argument("--frame-step", type=int, default=4)
    parser.add_argument("--which", default="target_encoder", choices=("target_encoder", "encoder"))
    parsed, rest = parser.parse_known_args(list(args))
    missing = [str(p) for p in parsed.inputs if not p.is_file()]
    if missing:
        raise InputError(f"{', '.join(missing)}: no such file")
    encoder = load_pretrained(parsed.source, parsed.which, **_overrides(rest))
    _, tokens = extract(encoder, parsed.inputs, num_frames=parsed.num_frames, frame_step=parsed.frame_step)
    frames = min(parsed.num_frames or 16, encoder.num_frames) if encoder.is_video else 1
    inputs = [read_input(p, encoder, frames, parsed.frame_step) for p in parsed.inputs]
    grid = (frames // encoder.tubelet_size if encoder.is_video else 1, *encoder.grid[1:])
    return viz.write_pca(parsed.out, inputs, tokens, grid, encoder.tubelet_size)


def _probe(args: Sequence[str]) -> None:
    from jepa.errors import InputError

    kind = args[0] if args else ""
    if kind not in PROBES:
        raise InputError(f"choose a probe: {', '.join(PROBES)} (got {kind or 'none'})")
    run, run_dir = compose_run([f"name=probe_{kind}", *args[1:]])
    execute_probe(kind, run, run_dir)


def _plan(args: Sequence[str]) -> None:
    run, run_dir = compose_run(["name=plan", *args])
    execute_plan(run, run_dir)


def _viz(args: Sequence[str]) -> None:
    from jepa.errors import InputError

    kind = args[0] if args else ""
    if kind not in VIZ:
        raise InputError(f"choose a picture: {', '.join(VIZ)} (got {kind or 'none'})")
    print(f"wrote {execute_viz(kind, args[1:])}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``jepa`` console script; returns the exit status (2 for bad input, 1 for a run stopped
    by a non-finite loss or a failed checkpoint write)."""
    from functools import partial

    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(usage())
        return 0
    command, overrides = args[0], args[1:]
    handlers = {"probe": _probe, "plan": _plan, "viz": _viz, **{t: partial(run_tool, t) for t in TOOLS},
                **{c: (lambda rest, c=c: execute(c, *compose_run(rest))) for c in COMMANDS}}  # fmt: skip
    if command not in handlers:
        print(f"jepa: unknown command {command!r}; choose one of {', '.join(handlers)}\n\n{usage()}", file=sys.stderr)
        return 2
    if command in COMMANDS and ("-h" in overrides or "--help" in overrides):
        print(usage())
        return 0
    from jepa.checkpointing import CheckpointWriteError
    from jepa.errors import InputError
    from jepa.guards import NonFiniteLossError

    try:
        handlers[command](overrides)
    except InputError as err:
        print(f"jepa {command}: error: {err}", file=sys.stderr)
        return 2
    except (NonFiniteLossError, CheckpointWriteError) as err:
        print(f"jepa {command}: error: {err}", file=sys.stderr)
        return 1
    return 0
