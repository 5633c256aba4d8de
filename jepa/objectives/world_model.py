"""V-JEPA 2-AC world-model training: a frozen encoder's per-frame tokens, an action-conditioned predictor trained
with teacher forcing plus an autoregressive rollout.

One step: encode every frame of the clips (no grad) → predict frames ``1 .. T - 1`` from the true frames before
each (teacher forcing) → roll out ``auto_steps`` frames from frame 0 feeding predictions back → loss = both
``mean |pred - target|^p / p`` summed (as the official ``jloss + sloss``) → AdamW with a scheduled LR.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor

from jepa.config import WorldModelConfig, as_plain, validated
from jepa.guards import NonFiniteLossGuard
from predictors import ActionConditionedPredictor
from predictors.heads import InverseDynamicsHead
from predictors.world_model import LatentWorldModel


def build_world_model(cfg: WorldModelConfig) -> LatentWorldModel:
    """The frozen encoder (``encoder_source`` loaded, or a fresh one of ``encoder``'s size) and a new predictor."""
    from encoders.pretrained import load_pretrained
    from jepa.objectives.base import build_encoder

    encoder = load_pretrained(cfg.encoder_source) if cfg.encoder_source else build_encoder(cfg.encoder)
    p = cfg.predictor
    predictor = ActionConditionedPredictor(
        img_size=encoder.img_size, patch_size=encoder.patch_size, embed_dim=encoder.embed_dim,
        predictor_embed_dim=p.embed_dim, action_embed_dim=p.action_dim, depth=p.depth, num_heads=p.num_heads,
        mlp_ratio=p.mlp_ratio, use_extrinsics=p.use_extrinsics, attn_backend=p.attn_backend,
        grad_checkpointing=p.grad_checkpointing,
    )  # fmt: skip
    return LatentWorldModel(encoder, predictor, cfg.normalize_reps)


class WorldModel(L.LightningModule):
    """Trains the predictor of a :class:`LatentWorldModel` on clips ``{frames, actions, states}``."""

    def __init__(self, **config: Any) -> None:
        super().__init__()
        cfg = validated(WorldModelConfig, config, "model")
        if cfg.auto_steps < 1:
            raise ValueError(f"model.auto_steps={cfg.auto_steps}: at least 1")
        self.cfg = cfg
        self.model = build_world_model(cfg)
        embed_dim = self.model.encoder.embed_dim
        self.inverse_dynamics = (InverseDynamicsHead(embed_dim, cfg.predictor.action_dim, self.model.encoder.num_heads)
                                 if cfg.inverse_dynamics_weight > 0 else None)  # fmt: skip
        self.skipped_samples = 0
        self.guard = NonFiniteLossGuard(cfg.optim.max_nonfinite_steps)
        self.save_hyperparameters(as_plain(cfg))

    def token_loss(self, pred: Tensor, target: Tensor) -> Tensor:
        return (pred - target).abs().pow(self.cfg.loss_exp).mean() / self.cfg.loss_exp

    def losses(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        """Teacher-forcing, rollout and (when on) inverse-dynamics losses of one batch of clips."""
        frames, actions, states = batch["frames"], batch["actions"], batch["states"]
        steps = frames.shape[1] - 1
        if self.cfg.auto_steps > steps:
            raise ValueError(f"model.auto_steps={self.cfg.auto_steps} needs clips of at least "
                             f"{self.cfg.auto_steps + 1} frames, got {frames.shape[1]}")  # fmt: skip
        n = self.model.tokens_per_frame
        h = self.model.encode(frames)
        z_tf = self.model.step(h[:, :-n], actions, states[:, :-1])
        auto = self.cfg.auto_steps  # the rollout's first frame is the teacher-forced one (as released)
        context = torch.cat([h[:, :n], z_tf[:, :n]], dim=1)
        z_ar = torch.cat([z_tf[:, :n], self.model.rollout(context, actions[:, :auto], states[:, :auto])], dim=1)
        out = {
            "teacher_forcing": self.token_loss(z_tf, h[:, n:]),
            "rollout": self.token_loss(z_ar, h[:, n : (auto + 1) * n]),
        }
        if self.inverse_dynamics is not None:
            before = h[:, :-n].unflatten(1, (steps, n)).flatten(0, 1)
            after = z_tf.unflatten(1, (steps, n)).flatten(0, 1)
            guess = self.inverse_dynamics(before, after)
            out["inverse_dynamics"] = F.mse_loss(guess, actions.flatten(0, 1))
        return out

    def total(self, losses: dict[str, Tensor]) -> Tensor:
        loss = losses["teacher_forcing"] + losses["rollout"]
        if "inverse_dynamics" in losses:
            loss = loss + self.cfg.inverse_dynamics_weight * losses["inverse_dynamics"]
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        from jepa.objectives.base import param_groups

        modules = [self.model.predictor] + ([self.inverse_dynamics] if self.inverse_dynamics is not None else [])
        cfg = self.cfg.optim
        return torch.optim.AdamW(param_groups(modules), lr=cfg.start_lr, betas=tuple(cfg.betas), eps=cfg.eps,
                                 weight_decay=cfg.weight_decay, fused=self.device.type == "cuda")  # fmt: skip

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        from jepa.objectives.base import apply_schedules

        cfg = self.cfg.optim
        total = max(1, cfg.schedule_steps or int(self.trainer.estimated_stepping_batches))
        lr, wd = apply_schedules(self.optimizers().optimizer, cfg, self.global_step, total)
        self.log_dict({"train/lr": lr, "train/wd": wd}, on_step=True, on_epoch=False)

    def _shared_step(self, batch: dict[str, Tensor], stage: str) -> Tensor:
        losses = self.losses(batch)
        loss = self.total(losses)
        size = batch["frames"].shape[0]
        self.log_dict({f"{stage}/{k}_loss": v for k, v in losses.items()}, batch_size=size)
        self.log(f"{stage}/loss", loss, prog_bar=True, batch_size=size)
        return loss

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor | None:
        return self.guard(self, self._shared_step(batch, "train"), None)

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._shared_step(batch, "val")

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._shared_step(batch, "test")
