"""World-model training: an action-conditioned predictor trained with teacher forcing plus an autoregressive
rollout, on a frozen encoder's per-frame tokens (V-JEPA 2-AC) or end to end with the encoder (LeWM).

One step: encode every frame of the clips (no grad when the encoder is frozen) → predict frames ``1 .. T - 1`` from
the true frames before each (teacher forcing) → roll out ``auto_steps`` frames from frame 0 feeding predictions
back → loss = both ``mean |pred - target|^p / p`` summed (as the official ``jloss + sloss``), end to end plus the
weighted anti-collapse term on every frame's latent → AdamW with a scheduled LR.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor

from jepa.config import WorldModelConfig, as_plain, validated
from jepa.guards import NonFiniteLossGuard
from jepa.regularizers import REGULARIZERS, build_regularizer, effective_rank, feature_std
from predictors import ActionConditionedPredictor
from predictors.heads import InverseDynamicsHead, ProjectionHead
from predictors.world_model import LatentWorldModel


def build_world_model(cfg: WorldModelConfig) -> LatentWorldModel:
    """The encoder (``encoder_source`` loaded, or a fresh one of ``encoder``'s size), frozen unless ``end_to_end``
    (then with a new projector), and a new predictor of its patch tokens or, end to end, of the projected latents:
    one a frame (``latent: pooled``) or one a patch (``latent: tokens``)."""
    from encoders.pretrained import load_pretrained
    from encoders.vit import set_regional_compile
    from jepa.objectives.base import build_encoder

    encoder = load_pretrained(cfg.encoder_source) if cfg.encoder_source else build_encoder(cfg.encoder)
    projector = None
    if cfg.end_to_end:
        projector = ProjectionHead(encoder.embed_dim, cfg.projector.hidden_dim, cfg.projector.out_dim,
                                   cfg.projector.depth)  # fmt: skip
        encoder.requires_grad_(not cfg.freeze_encoder)
    p = cfg.predictor
    pooled = projector is not None and cfg.latent == "pooled"
    predictor = ActionConditionedPredictor(
        img_size=1 if pooled else encoder.img_size, patch_size=1 if pooled else encoder.patch_size,
        embed_dim=encoder.embed_dim if projector is None else projector.out_dim, predictor_embed_dim=p.embed_dim,
        action_embed_dim=p.action_dim, depth=p.depth, num_heads=p.num_heads, mlp_ratio=p.mlp_ratio,
        use_extrinsics=p.use_extrinsics, use_states=p.use_states, attn_backend=p.attn_backend,
        grad_checkpointing=p.grad_checkpointing,
    )  # fmt: skip
    set_regional_compile(predictor, p.compile_blocks)
    return LatentWorldModel(encoder, predictor, cfg.normalize_reps, projector, pooled=pooled)


class WorldModel(L.LightningModule):
    """Trains the predictor of a :class:`LatentWorldModel` on clips ``{frames, actions, states}``."""

    def __init__(self, **config: Any) -> None:
        super().__init__()
        cfg = validated(WorldModelConfig, config, "model")
        if cfg.auto_steps < 1:
            raise ValueError(f"model.auto_steps={cfg.auto_steps}: at least 1")
        if cfg.regularizer not in REGULARIZERS or cfg.regularizer_weight < 0:
            raise ValueError(f"model.regularizer={cfg.regularizer!r} (one of {', '.join(REGULARIZERS)}) with "
                             f"model.regularizer_weight={cfg.regularizer_weight} (0 or more)")  # fmt: skip
        if cfg.latent not in ("pooled", "tokens"):
            raise ValueError(f"model.latent={cfg.latent!r}: one of pooled, tokens")
        if cfg.regularizer != "none" and not cfg.end_to_end:
            raise ValueError(f"model.regularizer={cfg.regularizer!r} needs model.end_to_end=true: a frozen "
                             f"encoder's features cannot collapse")  # fmt: skip
        self.cfg = cfg
        self.model = build_world_model(cfg)
        embed_dim = self.model.predictor.embed_dim  # the latents' width
        self.inverse_dynamics = (InverseDynamicsHead(embed_dim, cfg.predictor.action_dim, self.model.encoder.num_heads)
                                 if cfg.inverse_dynamics_weight > 0 else None)  # fmt: skip
        self.regularizer = build_regularizer(cfg.regularizer)
        self.skipped_samples = 0
        self.guard = NonFiniteLossGuard(cfg.optim.max_nonfinite_steps)
        self.save_hyperparameters(as_plain(cfg))

    def token_loss(self, pred: Tensor, target: Tensor) -> Tensor:
        return (pred - target).abs().pow(self.cfg.loss_exp).mean() / self.cfg.loss_exp

    def losses(self, batch: dict[str, Tensor], latents: Tensor | None = None) -> dict[str, Tensor]:
        """Teacher-forcing, rollout, and (when on) inverse-dynamics and anti-collapse losses of one batch of clips
        (``latents``: the frames already encoded, ``[B, T * N, D]``)."""
        frames, actions, states = batch["frames"], batch["actions"], batch["states"]
        steps = frames.shape[1] - 1
        if self.cfg.auto_steps > steps:
            raise ValueError(f"model.auto_steps={self.cfg.auto_steps} needs clips of at least "
                             f"{self.cfg.auto_steps + 1} frames, got {frames.shape[1]}")  # fmt: skip
        n = self.model.tokens_per_frame
        h = self.model.encode(frames) if latents is None else latents
        z_tf = self.model.step(h[:, :-n], actions, states[:, :-1])
        auto = self.cfg.auto_steps  # the rollout's first frame is the teacher-forced one (as released)
        context = torch.cat([h[:, :n], z_tf[:, :n]], dim=1)
        rolled = self.model.rollout(context, actions[:, :auto], states[:, :auto]) if auto > 1 else z_tf[:, :0]
        z_ar = torch.cat([z_tf[:, :n], rolled], dim=1)
        out = {
            "teacher_forcing": self.token_loss(z_tf, h[:, n:]),
            "rollout": self.token_loss(z_ar, h[:, n : (auto + 1) * n]),
        }
        if self.inverse_dynamics is not None:
            before = h[:, :-n].unflatten(1, (steps, n)).flatten(0, 1)
            after = (h[:, n:] if self.cfg.end_to_end else z_tf).unflatten(1, (steps, n)).flatten(0, 1)
            guess = self.inverse_dynamics(before, after)
            out["inverse_dynamics"] = F.mse_loss(guess, actions.flatten(0, 1))
        if self.regularizer is not None:
            out["regularizer"] = self.regularizer(self.frame_latents(h), self.global_step)
        return out

    def frame_latents(self, latents: Tensor) -> Tensor:
        """``[B, T * N, D]`` → each frame's whole latent ``[B * T, N * D]``: what the anti-collapse term and the rank
        see, so that every token's features must vary from frame to frame."""
        return latents.reshape(-1, self.model.tokens_per_frame * latents.shape[-1])

    def total(self, losses: dict[str, Tensor]) -> Tensor:
        loss = losses["teacher_forcing"] + losses["rollout"]
        if "regularizer" in losses:
            loss = loss + self.cfg.regularizer_weight * losses["regularizer"]
        if "inverse_dynamics" in losses:
            loss = loss + self.cfg.inverse_dynamics_weight * losses["inverse_dynamics"]
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        from jepa.objectives.base import param_groups

        modules = [self.model.predictor] + ([self.inverse_dynamics] if self.inverse_dynamics is not None else [])
        if self.cfg.end_to_end:
            modules += [self.model.projector] + ([] if self.cfg.freeze_encoder else [self.model.encoder])
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
        latents = self.model.encode(batch["frames"])
        losses = self.losses(batch, latents)
        loss = self.total(losses)
        size = batch["frames"].shape[0]
        self.log_dict({f"{stage}/{k}_loss": v for k, v in losses.items()}, batch_size=size)
        self.log(f"{stage}/loss", loss, prog_bar=True, batch_size=size)
        if self.cfg.end_to_end and stage != "train":  # the latents' effective rank and spread (collapse shows here)
            flat = self.frame_latents(latents.detach()).float()
            self.log_dict({f"{stage}/rank_latent": effective_rank(flat), f"{stage}/std_latent": feature_std(flat)},
                          batch_size=size)  # fmt: skip
        return loss

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor | None:
        return self.guard(self, self._shared_step(batch, "train"), None)

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._shared_step(batch, "val")

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._shared_step(batch, "test")
