"""I-JEPA pretraining as a LightningModule: predict the target encoder's features of masked image blocks from the
context encoder's features of the visible ones.

One step: the EMA target encoder (no grad) encodes every token, layer-normed → the context encoder encodes each
sample's packed kept tokens → the predictor fills the target blocks → smooth-L1 on the target positions → AdamW
(scheduled LR and weight decay) → EMA update. An online linear probe on detached target features shows learning.
"""

from __future__ import annotations

import copy
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from encoders import VisionTransformer, create_encoder
from encoders.packing import gather_packed
from jepa.config import (
    EMAConfig,
    EncoderConfig,
    OptimConfig,
    PredictorConfig,
    ProbeConfig,
    as_plain,
    validated,
)
from jepa.ema import ema_update
from jepa.schedules import cosine, linear, warmup_cosine
from predictors import LinearHead, MaskTokenPredictor


def build_encoder(cfg: EncoderConfig) -> VisionTransformer:
    """The ViT an :class:`EncoderConfig` describes."""
    overrides = {k: getattr(cfg, k) for k in ("embed_dim", "depth", "num_heads", "mlp_ratio") if getattr(cfg, k)}
    return create_encoder(
        cfg.size,
        img_size=cfg.img_size,
        patch_size=cfg.patch_size,
        in_chans=cfg.in_chans,
        qkv_bias=cfg.qkv_bias,
        drop_path_rate=cfg.drop_path_rate,
        use_rope=cfg.use_rope,
        attn_backend=cfg.attn_backend,
        grad_checkpointing=cfg.grad_checkpointing,
        **overrides,
    )


def build_predictor(cfg: PredictorConfig, encoder: VisionTransformer) -> MaskTokenPredictor:
    """The mask-token predictor a :class:`PredictorConfig` describes, on ``encoder``'s grid and width."""
    return MaskTokenPredictor(
        embed_dim=encoder.embed_dim,
        img_size=encoder.img_size,
        patch_size=encoder.patch_size,
        predictor_embed_dim=cfg.embed_dim,
        depth=cfg.depth,
        num_heads=cfg.num_heads or encoder.num_heads,
        mlp_ratio=cfg.mlp_ratio,
        drop_path_rate=cfg.drop_path_rate,
        use_rope=encoder.use_rope,
        attn_backend=cfg.attn_backend,
        grad_checkpointing=cfg.grad_checkpointing,
    )


def param_groups(modules: list[nn.Module]) -> list[dict[str, Any]]:
    """AdamW groups: weight decay on matrices and kernels, none on biases and 1-D parameters (I-JEPA)."""
    decay, no_decay = [], []
    for module in modules:
        for name, p in module.named_parameters():
            if p.requires_grad:
                (no_decay if name.endswith("bias") or p.ndim == 1 else decay).append(p)
    return [{"params": decay, "scheduled_wd": True}, {"params": no_decay, "weight_decay": 0.0, "scheduled_wd": False}]


class IJEPA(L.LightningModule):
    """I-JEPA: context encoder, EMA target encoder, mask-token predictor, and an online linear probe."""

    def __init__(
        self,
        encoder: EncoderConfig | dict[str, Any] | None = None,
        predictor: PredictorConfig | dict[str, Any] | None = None,
        optim: OptimConfig | dict[str, Any] | None = None,
        ema: EMAConfig | dict[str, Any] | None = None,
        probe: ProbeConfig | dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.encoder_cfg = validated(EncoderConfig, encoder, "model.encoder")
        self.predictor_cfg = validated(PredictorConfig, predictor, "model.predictor")
        self.optim_cfg = validated(OptimConfig, optim, "model.optim")
        self.ema_cfg = validated(EMAConfig, ema, "model.ema")
        self.probe_cfg = validated(ProbeConfig, probe, "model.probe")
        self.save_hyperparameters(
            {
                "encoder": as_plain(self.encoder_cfg),
                "predictor": as_plain(self.predictor_cfg),
                "optim": as_plain(self.optim_cfg),
                "ema": as_plain(self.ema_cfg),
                "probe": as_plain(self.probe_cfg),
            }
        )
        self.encoder = build_encoder(self.encoder_cfg)
        self.target_encoder = copy.deepcopy(self.encoder).requires_grad_(False)
        self.predictor = build_predictor(self.predictor_cfg, self.encoder)
        num_classes = self.probe_cfg.num_classes
        self.probe = LinearHead(self.encoder.embed_dim, num_classes) if num_classes else None
        self.skipped_images = 0

    def total_steps(self) -> int:
        return max(1, int(self.trainer.estimated_stepping_batches))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        groups = param_groups([self.encoder, self.predictor])
        if self.probe is not None:
            groups.append({"params": list(self.probe.parameters()), "weight_decay": 0.0, "scheduled_wd": False,
                           "fixed_lr": self.probe_cfg.lr})  # fmt: skip
        cfg = self.optim_cfg
        return torch.optim.AdamW(
            groups, lr=cfg.start_lr, betas=tuple(cfg.betas), eps=cfg.eps, weight_decay=cfg.weight_decay,
            fused=self.device.type == "cuda",
        )  # fmt: skip

    def on_train_batch_start(self, batch: dict[str, Any], batch_idx: int) -> None:
        cfg, step, total = self.optim_cfg, self.global_step, self.total_steps()
        lr = warmup_cosine(step, total, cfg.warmup_steps, cfg.start_lr, cfg.lr, cfg.final_lr)
        wd = cosine(step, total, cfg.weight_decay, cfg.final_weight_decay)
        for group in self.optimizers().optimizer.param_groups:
            group["lr"] = group.get("fixed_lr", lr)
            if group["scheduled_wd"]:
                group["weight_decay"] = wd
        self.log_dict({"train/lr": lr, "train/wd": wd}, on_step=True, on_epoch=False)

    def on_train_batch_end(self, outputs: Any, batch: dict[str, Any], batch_idx: int) -> None:
        momentum = linear(self.global_step - 1, self.total_steps(), self.ema_cfg.start, self.ema_cfg.end)
        ema_update(self.target_encoder, self.encoder, momentum)
        self.log("train/ema", momentum, on_step=True, on_epoch=False)

    def jepa_loss(self, batch: dict[str, Any]) -> tuple[Tensor, Tensor]:
        """Smooth-L1 between predicted and layer-normed target features of every target token, and the target
        encoder's full output (for the probe)."""
        images = batch["images"]
        with torch.no_grad():
            full = self.target_encoder(images)
            normed = F.layer_norm(full, full.shape[-1:])
            targets = gather_packed(normed, batch["tgt_index"], batch["tgt_lengths"].cpu(), batch["tgt_owner"].cpu())
        ctx_lengths = batch["ctx_lengths"].cpu()
        context = self.encoder.forward_packed(images, batch["ctx_index"], ctx_lengths)
        pred = self.predictor.forward_packed(
            context, batch["ctx_index"], ctx_lengths, batch["tgt_index"], batch["tgt_lengths"], batch["tgt_owner"]
        )
        return F.smooth_l1_loss(pred.float(), targets.float()), full

    def probe_step(self, full: Tensor, labels: Tensor, stage: str) -> Tensor:
        """Cross-entropy and top-1 of the linear probe on detached mean-pooled target features."""
        if self.probe is None:
            return full.new_zeros(())
        logits = self.probe(full.detach().float().mean(dim=1))
        loss = F.cross_entropy(logits, labels)
        top1 = (logits.argmax(-1) == labels).float().mean()
        self.log_dict({f"{stage}/probe_loss": loss, f"{stage}/probe_top1": top1}, prog_bar=stage != "train",
                      batch_size=labels.numel())  # fmt: skip
        return loss

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        loss, full = self.jepa_loss(batch)
        probe_loss = self.probe_step(full, batch["labels"], "train")
        self.skipped_images += int(batch["num_skipped"])
        self.log("train/loss", loss, prog_bar=True, batch_size=full.shape[0])
        self.log("train/skipped_images", float(self.skipped_images), on_step=True, on_epoch=False)
        return loss + probe_loss

    def _eval_step(self, batch: dict[str, Any], stage: str) -> None:
        loss, full = self.jepa_loss(batch)
        self.probe_step(full, batch["labels"], stage)
        self.log(f"{stage}/loss", loss, prog_bar=True, batch_size=full.shape[0])

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._eval_step(batch, "val")

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._eval_step(batch, "test")
