"""Checkpoints a killed, preempted or full-disk run can rely on.

- ``AtomicCheckpointIO``: a checkpoint is written beside its path and renamed over it, so ``last.ckpt`` is always
  whole; a failed write (a full disk) is one error naming the file and the free space, and the previous checkpoint
  stays.
- ``RunCheckpoints``: ``last.ckpt`` every ``every_n_steps`` steps or ``every_minutes`` minutes, at the end of fit,
  and on SIGTERM, after which the run stops cleanly (``ckpt_path=last`` resumes it). Checkpoints carry the random
  generators' states, so that a resumed run draws what the uninterrupted one would (the data's draws are seeded
  per sample, :mod:`jepa.sampling`). Under SLURM, Lightning's own handler saves and requeues the job on SIGUSR1.
"""

from __future__ import annotations

import os
import random
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities.exceptions import SIGTERMException

from jepa.config import CheckpointConfig
from jepa.errors import InputError


class CheckpointWriteError(OSError):
    """A checkpoint could not be written (its file, the reason, and the free space on that disk)."""


class AtomicCheckpointIO(TorchCheckpointIO):
    """``torch.save`` to a temporary file in the same folder, then an atomic rename over the target."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any = None) -> None:
        path = Path(path)
        partial = path.with_name(f".{path.name}.partial")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            super().save_checkpoint(checkpoint, partial, storage_options)
            os.replace(partial, path)
        except (OSError, RuntimeError) as err:  # torch.save reports a full disk as RuntimeError or OSError
            partial.unlink(missing_ok=True)
            free = shutil.disk_usage(path.parent).free / 2**30 if path.parent.is_dir() else float("nan")
            kept = " (the previous checkpoint there is untouched)" if path.is_file() else ""
            raise CheckpointWriteError(
                f"could not write checkpoint {path}: {err}; {free:.2f} GiB free on that disk{kept}"
            ) from err


class RunCheckpoints(ModelCheckpoint):
    """``last.ckpt`` in the run directory on a step or time interval, at the end of fit, and when SIGTERM arrives
    (then the run stops after the current step)."""

    def __init__(self, run_dir: Path, cfg: CheckpointConfig) -> None:
        if cfg.every_n_steps is not None and cfg.every_n_steps < 1:
            raise InputError(f"checkpoint.every_n_steps={cfg.every_n_steps}: at least 1 (or null)")
        interval = None
        if cfg.every_n_steps is None and cfg.every_minutes:
            interval = timedelta(minutes=cfg.every_minutes)
        super().__init__(dirpath=run_dir, save_last=True, save_top_k=0, every_n_train_steps=cfg.every_n_steps,
                         train_time_interval=interval)  # fmt: skip
        self.last_path = Path(run_dir) / f"{self.CHECKPOINT_NAME_LAST}{self.FILE_EXTENSION}"
        self.preempted_at: int | None = None

    def state_dict(self) -> dict[str, Any]:
        name, keys, *rest = np.random.get_state()  # as tensors and numbers, which weights-only loading accepts
        rngs = {"torch": torch.get_rng_state(), "numpy": (name, torch.from_numpy(keys.copy()), *rest),
                "python": random.getstate()}  # fmt: skip
        if torch.cuda.is_available():
            rngs["cuda"] = torch.cuda.get_rng_state_all()
        return {**super().state_dict(), "rng_states": rngs}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        rngs = state_dict.get("rng_states")
        if rngs is not None:
            torch.set_rng_state(rngs["torch"])
            name, keys, *rest = rngs["numpy"]
            np.random.set_state((name, keys.numpy(), *rest))
            random.setstate(rngs["python"])
            if "cuda" in rngs and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(rngs["cuda"])
        super().load_state_dict({k: v for k, v in state_dict.items() if k != "rng_states"})

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        super().on_train_batch_end(trainer, *args)
        if trainer.received_sigterm:
            self.save_on_sigterm(trainer)
            trainer.should_stop = True

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        """SIGTERM landing after this batch's hook (in a later hook, or in validation) reaches Lightning's own
        check first, which stops the run with ``SIGTERMException``: the checkpoint is saved here instead."""
        if isinstance(exception, SIGTERMException):
            self.save_on_sigterm(trainer)

    def save_on_sigterm(self, trainer: L.Trainer) -> None:
        """Write ``last.ckpt`` once for a SIGTERM, at the last completed step, and say how to resume."""
        if self.preempted_at is not None:
            return
        self.preempted_at = trainer.global_step
        trainer.save_checkpoint(self.last_path)
        print(f"SIGTERM: saved {self.last_path} at step {trainer.global_step} and stopping; resume with the same "
              f"command plus ckpt_path=last")  # fmt: skip

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.preempted_at != trainer.global_step:
            trainer.save_checkpoint(self.last_path)
