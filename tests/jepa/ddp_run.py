"""A short `jepa fit` whose every rank records, per step, its averaged gradients and its EMA target encoder.

    python tests/jepa/ddp_run.py OUT_DIR HYDRA_OVERRIDES...

Run by tests/jepa/test_ddp.py (Lightning re-launches this script once per extra rank under ``strategy=ddp``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import lightning as L
import torch

from jepa.compose import compose_run
from jepa.train import build, build_trainer


class RecordSteps(L.Callback):
    """``OUT/rank{r}.pt``: per optimiser step, the context encoder's gradients as the optimiser sees them and the
    target encoder's weights after the EMA update."""

    def __init__(self, out: Path) -> None:
        self.out, self.grads, self.targets = out, [], []

    def on_before_optimizer_step(self, trainer: L.Trainer, module: L.LightningModule, optimizer) -> None:
        self.grads.append({k: p.grad.detach().clone() for k, p in module.encoder.named_parameters()})

    def on_train_batch_end(self, trainer: L.Trainer, module: L.LightningModule, outputs, batch, batch_idx) -> None:
        if (batch_idx + 1) % trainer.accumulate_grad_batches:
            return
        self.targets.append({k: v.detach().clone() for k, v in module.target_encoder.state_dict().items()})

    def on_train_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        torch.save({"grads": self.grads, "targets": self.targets}, self.out / f"rank{trainer.global_rank}.pt")


def main() -> None:
    out, overrides = Path(sys.argv[1]), sys.argv[2:]
    run, run_dir = compose_run(overrides)
    L.seed_everything(run.seed, workers=True)
    data, model = build(run)
    trainer = build_trainer(run, run_dir, [RecordSteps(out)])
    trainer.fit(model, datamodule=data)


if __name__ == "__main__":
    main()
