"""V-JEPA / V-JEPA 2: predict the target encoder's features of spatio-temporal masked blocks of video clips.

Several mask sets per batch (officially short-range and long-range), one mask token per mask set and clip length,
and the loss ``mean |pred - target|^p / p`` (``p = loss_exp``; 1 is L1) per mask set, averaged over mask sets and
clip lengths. The V-JEPA 2 recipe is configuration: 3-D RoPE, constant EMA, warmup-stable LR, and a cooldown.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from jepa.config import VJEPAConfig, as_plain, validated
from jepa.objectives.base import JEPAObjective


class VJEPA(JEPAObjective):
    """V-JEPA on clips of ``clip_lengths`` frames (``dataset_fpcs``) with ``num_mask_sets`` mask sets."""

    def __init__(self, **config: Any) -> None:
        cfg = validated(VJEPAConfig, config, "model")
        if not cfg.num_mask_sets or not cfg.clip_lengths:
            raise ValueError(
                "model.num_mask_sets and model.clip_lengths must be set (from mask.sets, data.dataset_fpcs)"
            )
        self.clip_lengths = sorted(set(cfg.clip_lengths))
        if cfg.encoder.num_frames < self.clip_lengths[-1]:
            raise ValueError(f"model.encoder.num_frames={cfg.encoder.num_frames} is below the longest clip "
                             f"({self.clip_lengths[-1]} frames)")  # fmt: skip
        super().__init__(
            cfg.encoder, cfg.predictor, cfg.optim, cfg.ema, cfg.probe,
            num_mask_tokens=cfg.num_mask_sets * len(self.clip_lengths), regularizer=cfg.regularizer,
            regularizer_weight=cfg.regularizer_weight, regularizer_on=cfg.regularizer_on,
        )  # fmt: skip
        self.loss_exp, self.num_mask_sets = cfg.loss_exp, cfg.num_mask_sets
        self.save_hyperparameters(as_plain(cfg))

    def mask_token_offset(self, num_frames: int) -> int:
        return self.clip_lengths.index(num_frames) * self.num_mask_sets

    def token_loss(self, pred: Tensor, target: Tensor) -> Tensor:
        return ((pred - target).abs() ** self.loss_exp).mean(dim=-1) / self.loss_exp
