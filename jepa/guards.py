"""Guard a training step against a NaN or infinite loss: skip the update, report the batch's samples, and after
too many in a row stop the run (its last checkpoint, written at the end of fit, holds the last finite weights)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import lightning as L
import torch
from torch import Tensor


class NonFiniteLossError(RuntimeError):
    """The run stopped: too many steps in a row had a NaN or infinite loss."""


class NonFiniteLossGuard:
    """Call with each training loss: returns it when finite; else warns (step, value, the batch's dataset
    indices), returns ``None`` (Lightning then skips backward and the optimiser step) and, at ``patience`` in a
    row, asks the trainer to stop and keeps the reason in ``stop_reason``."""

    def __init__(self, patience: int) -> None:
        if patience < 1:
            raise ValueError(f"max_nonfinite_steps={patience}: at least 1")
        self.patience, self.in_a_row, self.skipped = patience, 0, 0
        self.stop_reason: str | None = None

    def __call__(self, module: L.LightningModule, loss: Tensor, indices: Sequence[int] | None) -> Tensor | None:
        if bool(torch.isfinite(loss)):
            self.in_a_row = 0
            return loss
        self.in_a_row += 1
        self.skipped += 1
        where = f"samples {list(indices)}" if indices is not None else "this batch"
        warnings.warn(f"step {module.global_step}: loss is {loss.item()} on {where}; the step is skipped "
                      f"({self.in_a_row} in a row)", stacklevel=2)  # fmt: skip
        if self.in_a_row >= self.patience:
            self.stop_reason = (f"{self.in_a_row} steps in a row had a non-finite loss (the last at step "
                                f"{module.global_step}): stopping; last.ckpt holds the last finite weights. Lower "
                                f"the learning rate or check the data, then resume with ckpt_path=last")  # fmt: skip
            module.trainer.should_stop = True
        return None
