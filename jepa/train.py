"""``jepa fit | validate | test``: the DataModule, LightningModule and Trainer of a composed run, run, and their
metrics written beside the checkpoint."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from lightning.pytorch.callbacks import RichProgressBar


class StepsProgressBar(RichProgressBar):
    """Lightning's rich progress bar, its epoch read as a run of ``max_steps`` is (not ``Epoch 7/-2``)."""

    def _get_train_description(self, current_epoch: int) -> str:
        trainer = self.trainer
        if trainer.max_epochs is not None and trainer.max_epochs > 0:
            return super()._get_train_description(current_epoch)
        return f"Epoch {current_epoch} (to step {trainer.max_steps})" if trainer.max_steps > 0 else \
            f"Epoch {current_epoch}"  # fmt: skip


def build_trainer(run: Any, run_dir: Path, callbacks: list[Any]) -> Any:
    """A Lightning ``Trainer`` from ``run.trainer`` that logs to TensorBoard and CSV in ``run_dir``."""
    import lightning as L
    import torch
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
        callbacks.append(StepsProgressBar())
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
    from jepa.probes.features import StartEndProbes

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
    previous = run_dir / "metrics.json"
    if command == "fit" and run.ckpt_path and previous.is_file():  # a resumed run keeps what it did not redo
        metrics = {**json.loads(previous.read_text()), **metrics}
    previous.write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    print(f"metrics: {run_dir / 'metrics.json'}  checkpoint: {run_dir / 'last.ckpt'}")
    if model.guard.stop_reason:
        raise NonFiniteLossError(model.guard.stop_reason)
    return metrics
