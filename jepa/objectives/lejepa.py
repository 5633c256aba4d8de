"""LeJEPA (Balestriero & LeCun, 2025): views of a sample predict the mean embedding of its global views, and SIGReg
keeps the embeddings an isotropic Gaussian, so nothing collapses without EMA, stop-gradient or a predictor.

One step, per group of equal clip length: every view of every sample through the encoder (mean-pooled) and the
projector → prediction loss ``mean (z_v − mean_g z_g)²`` over views v and global views g → SIGReg of each view's
embeddings (random directions redrawn each step, statistics over all ranks) → ``(1 − λ)·prediction + λ·SIGReg`` →
AdamW with the scheduled LR and weight decay. An online linear probe reads the detached pooled global features.
"""

from __future__ import annotations

from itertools import groupby
from typing import Any

import torch
from torch import Tensor, nn

from encoders import VisionTransformer
from jepa.config import LeJEPAConfig, as_plain, validated
from jepa.objectives.base import PretrainingObjective, StepOutput, build_encoder
from jepa.regularizers import SIGReg
from predictors import ProjectionHead


class LeJEPA(PretrainingObjective):
    """An encoder and a projector trained on ``num_global_views`` global and any number of local views per sample
    (``group["inputs"]``: one batch per view, global views first)."""

    def __init__(self, **config: Any) -> None:
        cfg = validated(LeJEPAConfig, config, "model")
        if not 0 <= cfg.sigreg_weight <= 1:
            raise ValueError(f"model.sigreg_weight={cfg.sigreg_weight}: λ must lie in [0, 1]")
        if cfg.num_global_views is None or cfg.num_global_views < 1:
            raise ValueError(f"model.num_global_views={cfg.num_global_views}: at least 1 (it comes from "
                             "data.views.num_global)")  # fmt: skip
        if cfg.sigreg_slices < 1:
            raise ValueError(f"model.sigreg_slices={cfg.sigreg_slices}: at least 1")
        encoder = build_encoder(cfg.encoder)
        super().__init__(cfg.optim, cfg.probe, encoder.embed_dim)
        self.encoder = encoder
        p = cfg.projector
        self.projector = ProjectionHead(encoder.embed_dim, p.hidden_dim, p.out_dim, p.depth)
        self.sigreg = SIGReg(cfg.sigreg_slices)
        self.sigreg_weight, self.num_global_views = cfg.sigreg_weight, cfg.num_global_views
        self.save_hyperparameters(as_plain(cfg))

    @property
    def feature_encoder(self) -> VisionTransformer:
        return self.encoder

    def trained_modules(self) -> list[nn.Module]:
        return [self.encoder, self.projector]

    def embed(self, views: list[Tensor]) -> tuple[Tensor, Tensor]:
        """Pooled encoder features ``[V, B, D]`` and projector embeddings ``[V, B, K]`` of ``V`` views' batches (one
        encoder call per run of views of one size: the global views, then the smaller local ones)."""
        num_views, batch = len(views), views[0].shape[0]
        runs = groupby(views, key=lambda view: view.shape[-2:])
        pooled = torch.cat([self.encoder(torch.cat(list(run))).float().mean(dim=1) for _, run in runs])
        return pooled.view(num_views, batch, -1), self.projector(pooled).view(num_views, batch, -1)

    def compute_loss(self, batch: dict[str, Any]) -> StepOutput:
        predictions, sigregs, pooled, labels, embeddings = [], [], [], [], []
        for group in batch["groups"]:
            views = group["inputs"]
            if not isinstance(views, list) or len(views) < self.num_global_views:
                raise ValueError(f"LeJEPA needs at least {self.num_global_views} views per sample (data.views)")
            feats, z = self.embed(views)
            centre = z[: self.num_global_views].mean(dim=0)
            predictions.append((z - centre).pow(2).mean())
            sigregs.append(torch.stack([self.sigreg(z_v, self.global_step) for z_v in z]).mean())
            pooled.append(feats[: self.num_global_views].mean(dim=0))
            labels.append(group["labels"])
            embeddings.append(z[0].detach())
        prediction, sigreg = torch.stack(predictions).mean(), torch.stack(sigregs).mean()
        loss = (1 - self.sigreg_weight) * prediction + self.sigreg_weight * sigreg
        features = torch.cat(pooled)
        return StepOutput(loss, features, torch.cat(labels), {"prediction": prediction, "sigreg": sigreg},
                          {"encoder": features.detach(), "embedding": torch.cat(embeddings)})  # fmt: skip
