"""Collapse made visible: the effective rank (RankMe) and mean per-dimension std of an objective's pooled
representations on validation batches, logged every validation, with one warning when a rank falls below half of
its value at step 0."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor

from jepa.regularizers import effective_rank, feature_std


def collapse_stats(features: dict[str, list[Tensor]]) -> dict[str, float]:
    """``rank_<name>`` and ``std_<name>`` of each representation's rows."""
    stats = {}
    for name, parts in features.items():
        x = torch.cat(parts)
        stats[f"rank_{name}"], stats[f"std_{name}"] = effective_rank(x), feature_std(x)
    return stats


class CollapseMonitor(Callback):
    """Reads the pooled representations an objective's ``validation_step`` returns (``{name: [B, D]}``), logs
    ``val/rank_<name>`` and ``val/std_<name>`` after every validation, and warns once per representation, naming
    the step and the values, when its rank falls below half of the rank at step 0 (measured on up to
    ``reference_batches`` validation batches when fitting starts; kept in checkpoints so a resumed run compares
    with the same)."""

    def __init__(self, reference_batches: int = 8) -> None:
        self.reference_batches = reference_batches
        self.reference: dict[str, float] = {}
        self.warned: set[str] = set()
        self.features: dict[str, list[Tensor]] = defaultdict(list)

    def state_dict(self) -> dict[str, Any]:
        return {"reference": dict(self.reference), "warned": sorted(self.warned)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.reference, self.warned = dict(state_dict["reference"]), set(state_dict["warned"])

    @torch.no_grad()
    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.reference or not hasattr(pl_module, "compute_loss"):
            return
        loader = trainer.datamodule.val_dataloader() if trainer.datamodule is not None else None
        if not loader:
            return
        was_training = pl_module.training
        pl_module.eval()
        features: dict[str, list[Tensor]] = defaultdict(list)
        for i, batch in enumerate(loader):
            if i == self.reference_batches:
                break
            batch = pl_module.transfer_batch_to_device(batch, pl_module.device, 0)
            for name, x in pl_module.compute_loss(batch).features.items():
                features[name].append(x.detach().float().cpu())
        pl_module.train(was_training)
        self.reference = collapse_stats(features)
        for logger in trainer.loggers:
            logger.log_metrics({f"val/{k}": v for k, v in self.reference.items()}, step=trainer.global_step)

    def on_validation_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
                                batch_idx: int, dataloader_idx: int = 0) -> None:  # fmt: skip
        if isinstance(outputs, dict):
            for name, x in outputs.items():
                self.features[name].append(x.float().cpu())

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self.features or trainer.sanity_checking:
            self.features.clear()
            return
        stats = collapse_stats(self.features)
        self.features.clear()
        pl_module.log_dict({f"val/{k}": v for k, v in stats.items()}, sync_dist=True)
        for key, rank in stats.items():
            start = self.reference.get(key)
            if not key.startswith("rank_") or start is None or key in self.warned or rank >= start / 2:
                continue
            self.warned.add(key)
            name = key.removeprefix("rank_")
            std_key = f"std_{name}"
            rank_zero_warn(
                f"step {trainer.global_step}: the effective rank of the {name} features fell to {rank:.1f}, below "
                f"half of its {start:.1f} at step 0 (mean per-dimension std {stats[std_key]:.4f}, "
                f"{self.reference.get(std_key, float('nan')):.4f} at step 0): the representation is collapsing"
            )
