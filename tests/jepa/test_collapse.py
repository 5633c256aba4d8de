"""The collapse monitor: RankMe and std logged per representation, one warning when a rank halves."""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import pytest
import torch

from jepa.collapse import CollapseMonitor


class Recorder:
    def __init__(self) -> None:
        self.logged: dict[str, float] = {}

    def log_dict(self, values: dict[str, float], **_: object) -> None:
        self.logged.update(values)


def validate(monitor: CollapseMonitor, module: Recorder, step: int, features: torch.Tensor) -> None:
    trainer = SimpleNamespace(global_step=step, sanity_checking=False)
    for batch in features.chunk(2):
        monitor.on_validation_batch_end(trainer, module, {"target": batch}, None, 0)
    monitor.on_validation_epoch_end(trainer, module)


def test_rank_and_std_are_logged_and_a_halved_rank_warns_once_naming_step_and_values():
    monitor, module = CollapseMonitor(), Recorder()
    healthy = torch.randn(256, 16, generator=torch.Generator().manual_seed(0))
    monitor.reference = {"rank_target": 15.0, "std_target": 1.0}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        validate(monitor, module, 10, healthy)
    assert module.logged["val/rank_target"] > 14 and module.logged["val/std_target"] == pytest.approx(1, abs=0.1)
    collapsed = healthy[:, :1] * torch.ones(1, 16) * 0.01 + 1e-4 * healthy
    with pytest.warns(UserWarning, match=r"step 20: the effective rank of the target features fell to 1\.\d, below "
                                         r"half of its 15\.0 at step 0 \(mean per-dimension std 0\.01\d\d, 1\.0000"):
        validate(monitor, module, 20, collapsed)
    assert module.logged["val/rank_target"] < 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once only
        validate(monitor, module, 30, collapsed)
    restored = CollapseMonitor()
    restored.load_state_dict(monitor.state_dict())
    assert restored.reference == monitor.reference and restored.warned == {"rank_target"}
