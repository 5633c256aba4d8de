"""I-JEPA: predict the target encoder's features of four masked image blocks from one context block (smooth-L1)."""

from __future__ import annotations

from typing import Any

import torch.nn.functional as F
from torch import Tensor

from jepa.config import EMAConfig, EncoderConfig, OptimConfig, PredictorConfig, ProbeConfig, as_plain, validated
from jepa.objectives.base import JEPAObjective


class IJEPA(JEPAObjective):
    """I-JEPA: one mask set (four target blocks per sample), one mask token, smooth-L1 on layer-normed targets;
    optionally an anti-collapse ``regularizer`` on each context's mean token or on every context token."""

    def __init__(
        self,
        encoder: EncoderConfig | dict[str, Any] | None = None,
        predictor: PredictorConfig | dict[str, Any] | None = None,
        optim: OptimConfig | dict[str, Any] | None = None,
        ema: EMAConfig | dict[str, Any] | None = None,
        probe: ProbeConfig | dict[str, Any] | None = None,
        regularizer: str = "none",
        regularizer_weight: float = 0.0,
        regularizer_on: str = "mean",
    ) -> None:
        configs = {
            "encoder": validated(EncoderConfig, encoder, "model.encoder"),
            "predictor": validated(PredictorConfig, predictor, "model.predictor"),
            "optim": validated(OptimConfig, optim, "model.optim"),
            "ema": validated(EMAConfig, ema, "model.ema"),
            "probe": validated(ProbeConfig, probe, "model.probe"),
        }
        regularization = {"regularizer": regularizer, "regularizer_weight": regularizer_weight,
                          "regularizer_on": regularizer_on}  # fmt: skip
        super().__init__(**configs, **regularization)
        self.save_hyperparameters({**{k: as_plain(v) for k, v in configs.items()}, **regularization})

    def token_loss(self, pred: Tensor, target: Tensor) -> Tensor:
        return F.smooth_l1_loss(pred, target, reduction="none").mean(dim=-1)
