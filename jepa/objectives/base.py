"""What every JEPA objective shares: predict the EMA target encoder's layer-normed features of masked tokens from
the context encoder's features of the kept ones.

One step, per group of equal clip length in the batch: the target encoder (no grad) encodes every token → the
context encoder encodes each (sample, mask set)'s packed kept tokens → the predictor fills each target block with
the mask token of its mask set → a per-token loss, averaged per mask set and then over mask sets and groups →
AdamW (scheduled LR and weight decay) → EMA update, in the optimiser step. An online linear probe on detached,
mean-pooled target features shows learning as it happens.
"""

from __future__ import annotations

import copy
from typing import Any, NamedTuple

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from encoders import VisionTransformer, create_encoder
from encoders.vit import set_regional_compile
from encoders.packing import gather_packed
from jepa.config import EMAConfig, EncoderConfig, OptimConfig, PredictorConfig, ProbeConfig
from jepa.data.video_transforms import normalize_clips
from jepa.ema import ema_update
from jepa.guards import NonFiniteLossGuard
from jepa.regularizers import REGULARIZERS, build_regularizer
from jepa.schedules import cosine, linear, warmup_then
from predictors import LinearHead, MaskTokenPredictor

# Batch entries the model reads on its device; lengths and owners stay on the CPU (no device sync per step).
DEVICE_KEYS = ("inputs", "labels", "ctx_index", "tgt_index")


def build_encoder(cfg: EncoderConfig) -> VisionTransformer:
    """The ViT an :class:`EncoderConfig` describes."""
    overrides = {k: getattr(cfg, k) for k in ("embed_dim", "depth", "num_heads", "mlp_ratio") if getattr(cfg, k)}
    encoder = create_encoder(
        cfg.size,
        img_size=cfg.img_size,
        patch_size=cfg.patch_size,
        num_frames=cfg.num_frames,
        tubelet_size=cfg.tubelet_size,
        in_chans=cfg.in_chans,
        qkv_bias=cfg.qkv_bias,
        drop_path_rate=cfg.drop_path_rate,
        use_rope=cfg.use_rope,
        rope_tiled_freqs=cfg.rope_tiled_freqs,
        uniform_power=cfg.uniform_power,
        attn_backend=cfg.attn_backend,
        grad_checkpointing=cfg.grad_checkpointing,
        **overrides,
    )
    set_regional_compile(encoder, cfg.compile_blocks)
    return encoder


def build_predictor(
    cfg: PredictorConfig, encoder: VisionTransformer, num_mask_tokens: int = 1, uniform_power: bool = False
) -> MaskTokenPredictor:
    """The mask-token predictor a :class:`PredictorConfig` describes, on ``encoder``'s grid and width."""
    predictor = MaskTokenPredictor(
        embed_dim=encoder.embed_dim,
        img_size=encoder.img_size,
        patch_size=encoder.patch_size,
        num_frames=encoder.num_frames,
        tubelet_size=encoder.tubelet_size,
        predictor_embed_dim=cfg.embed_dim,
        depth=cfg.depth,
        num_heads=cfg.num_heads or encoder.num_heads,
        mlp_ratio=cfg.mlp_ratio,
        num_mask_tokens=num_mask_tokens,
        drop_path_rate=cfg.drop_path_rate,
        use_rope=encoder.use_rope,
        rope_tiled_freqs=encoder.rope is not None and encoder.rope.tiled_freqs,
        uniform_power=uniform_power,
        attn_backend=cfg.attn_backend,
        grad_checkpointing=cfg.grad_checkpointing,
    )
    set_regional_compile(predictor, cfg.compile_blocks)
    return predictor


def param_groups(modules: list[nn.Module], decay_1d: bool = False) -> list[dict[str, Any]]:
    """AdamW groups: weight decay on matrices and kernels, none on biases and 1-D parameters (I-JEPA) unless
    ``decay_1d``."""
    decay, no_decay = [], []
    for module in modules:
        for name, p in module.named_parameters():
            if p.requires_grad:
                one_d = name.endswith("bias") or p.ndim == 1
                (decay if decay_1d or not one_d else no_decay).append(p)
    return [{"params": decay, "scheduled_wd": True}, {"params": no_decay, "weight_decay": 0.0, "scheduled_wd": False}]


def apply_schedules(optimizer: torch.optim.Optimizer, cfg: OptimConfig, step: int, total: int) -> tuple[float, float]:
    """Set every param group's LR (``fixed_lr`` groups keep theirs) and scheduled weight decay for ``step`` of
    ``total``; returns the two values."""
    lr = warmup_then(step, total, cfg.warmup_steps, cfg.start_lr, cfg.lr, cfg.final_lr, cfg.lr_decay, cfg.anneal_steps)
    wd = cosine(step, total, cfg.weight_decay, cfg.final_weight_decay)
    for group in optimizer.param_groups:
        group["lr"] = group.get("fixed_lr", lr)
        if group["scheduled_wd"]:
            group["weight_decay"] = wd
    return lr, wd


class StepOutput(NamedTuple):
    """What an objective computes on a batch: the loss to minimise, pooled features and labels for the online
    probe, the loss's parts to log, and pooled representations whose collapse :mod:`jepa.collapse` watches."""

    loss: Tensor
    pooled: Tensor
    labels: Tensor
    terms: dict[str, Tensor]
    features: dict[str, Tensor]


def move_inputs(value: Any, device: torch.device) -> Any:
    """A tensor, or a list of views' tensors, on ``device``; uint8 clips ``[B, 3, T, H, W]``
    (``data.normalize_on_device``) are normalised there."""
    if isinstance(value, list):
        return [move_inputs(v, device) for v in value]
    moved = value.to(device, non_blocking=True)
    return normalize_clips(moved) if moved.dtype == torch.uint8 and moved.ndim == 5 else moved


class PretrainingObjective(L.LightningModule):
    """What every pretraining objective shares: scheduled AdamW over ``trained_modules``, an online linear probe on
    detached pooled features, the non-finite loss guard, the count of skipped samples; subclasses compute a
    :class:`StepOutput` per batch and name the encoder that probes and exports read (``feature_encoder``)."""

    def __init__(self, optim: OptimConfig, probe: ProbeConfig, embed_dim: int) -> None:
        super().__init__()
        self.optim_cfg, self.probe_cfg = optim, probe
        self.probe = LinearHead(embed_dim, probe.num_classes) if probe.num_classes else None
        self.skipped_samples = 0
        self.guard = NonFiniteLossGuard(optim.max_nonfinite_steps)

    @property
    def feature_encoder(self) -> VisionTransformer:
        """The encoder whose features are probed and exported."""
        raise NotImplementedError

    def trained_modules(self) -> list[nn.Module]:
        """The modules the optimiser trains (besides the online probe)."""
        raise NotImplementedError

    def compute_loss(self, batch: dict[str, Any]) -> StepOutput:
        raise NotImplementedError

    def total_steps(self) -> int:
        """The steps the schedules span: ``optim.schedule_steps``, else the run's."""
        return max(1, self.optim_cfg.schedule_steps or int(self.trainer.estimated_stepping_batches))

    def load_weights(self, path: str) -> None:
        """Take the model weights of a checkpoint (not its optimiser or step), e.g. to start a cooldown. Fixed
        sin-cos tables of another grid are rebuilt rather than loaded."""
        state = torch.load(path, map_location="cpu", weights_only=False)
        state = state.get("state_dict", state)
        own = self.state_dict()
        tables = [k for k in state if k.endswith("pos_embed") and k in own and state[k].shape != own[k].shape]
        for key in tables:
            state[key] = own[key]
        self.load_state_dict(state, strict=True)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        groups = param_groups(self.trained_modules(), self.optim_cfg.decay_1d_params)
        if self.probe is not None:
            groups.append({"params": list(self.probe.parameters()), "weight_decay": 0.0, "scheduled_wd": False,
                           "fixed_lr": self.probe_cfg.lr})  # fmt: skip
        cfg = self.optim_cfg
        return torch.optim.AdamW(
            groups, lr=cfg.start_lr, betas=tuple(cfg.betas), eps=cfg.eps, weight_decay=cfg.weight_decay,
            fused=self.device.type == "cuda",
        )  # fmt: skip

    def transfer_batch_to_device(self, batch: dict[str, Any], device: torch.device, dataloader_idx: int) -> Any:
        groups = [{k: (move_inputs(v, device) if k in DEVICE_KEYS else v) for k, v in g.items()}
                  for g in batch["groups"]]  # fmt: skip
        return {**batch, "groups": groups}

    def on_train_batch_start(self, batch: dict[str, Any], batch_idx: int) -> None:
        lr, wd = apply_schedules(self.optimizers().optimizer, self.optim_cfg, self.global_step, self.total_steps())
        self.log_dict({"train/lr": lr, "train/wd": wd}, on_step=True, on_epoch=False)

    def probe_step(self, pooled: Tensor, labels: Tensor, stage: str) -> Tensor:
        """Cross-entropy and top-1 of the linear probe on detached mean-pooled features."""
        if self.probe is None:
            return pooled.new_zeros(())
        logits = self.probe(pooled.detach())
        loss = F.cross_entropy(logits, labels)
        top1 = (logits.argmax(-1) == labels).float().mean()
        self.log_dict({f"{stage}/probe_loss": loss, f"{stage}/probe_top1": top1}, prog_bar=stage != "train",
                      batch_size=labels.numel())  # fmt: skip
        return loss

    def log_terms(self, out: StepOutput, stage: str) -> None:
        self.log(f"{stage}/loss", out.loss, prog_bar=True, batch_size=out.labels.numel())
        if out.terms:
            self.log_dict({f"{stage}/{k}": v for k, v in out.terms.items()}, batch_size=out.labels.numel())

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor | None:
        out = self.compute_loss(batch)
        probe_loss = self.probe_step(out.pooled, out.labels, "train")
        self.skipped_samples += int(batch["num_skipped"])
        self.log_terms(out, "train")
        self.log("data/skipped", float(self.skipped_samples), on_step=True, on_epoch=False)
        return self.guard(self, out.loss + probe_loss, batch.get("indices"))

    def _eval_step(self, batch: dict[str, Any], stage: str) -> dict[str, Tensor]:
        out = self.compute_loss(batch)
        self.probe_step(out.pooled, out.labels, stage)
        self.log_terms(out, stage)
        return {k: v.detach() for k, v in out.features.items()}

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Tensor]:
        return self._eval_step(batch, "val")

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Tensor]:
        return self._eval_step(batch, "test")


def pool_packed(tokens: Tensor, lengths: Tensor) -> Tensor:
    """The mean of each packed sequence ``[sum(lengths), D] → [len(lengths), D]``."""
    owner = torch.repeat_interleave(torch.arange(len(lengths)), lengths.cpu()).to(tokens.device)
    sums = tokens.new_zeros(len(lengths), tokens.shape[-1]).index_add_(0, owner, tokens)
    return sums / lengths.to(tokens.device).clamp(min=1)[:, None].to(tokens.dtype)


REGULARIZED_FEATURES = ("mean", "tokens")  # model.regularizer_on: each context's mean token, or every context token


class JEPAObjective(PretrainingObjective):
    """Context encoder, EMA target encoder, mask-token predictor and an online linear probe; subclasses choose the
    per-token loss and which mask token each mask set uses. ``regularizer`` (:mod:`jepa.regularizers`) adds
    ``regularizer_weight`` times an anti-collapse term on the context features: ``regularizer_on="mean"`` takes
    each context's mean token (one row per view: it spreads views apart), ``"tokens"`` every context token (one row
    per token: it also spreads the tokens of one view; on the demo clips, what let the encoder read the block's
    motion, README)."""

    def __init__(
        self,
        encoder: EncoderConfig,
        predictor: PredictorConfig,
        optim: OptimConfig,
        ema: EMAConfig,
        probe: ProbeConfig,
        num_mask_tokens: int = 1,
        regularizer: str = "none",
        regularizer_weight: float = 0.0,
        regularizer_on: str = "mean",
    ) -> None:
        if regularizer_weight < 0:
            raise ValueError(f"model.regularizer_weight={regularizer_weight}: must be 0 or more")
        if regularizer not in REGULARIZERS:
            raise ValueError(f"model.regularizer={regularizer!r}: choose one of {', '.join(REGULARIZERS)}")
        if regularizer_on not in REGULARIZED_FEATURES:
            raise ValueError(f"model.regularizer_on={regularizer_on!r}: choose one of "
                             f"{', '.join(REGULARIZED_FEATURES)}")  # fmt: skip
        built = build_encoder(encoder)
        super().__init__(optim, probe, built.embed_dim)
        self.encoder_cfg, self.predictor_cfg, self.ema_cfg = encoder, predictor, ema
        self.encoder = built
        self.target_encoder = copy.deepcopy(self.encoder).requires_grad_(False)
        self.predictor = build_predictor(predictor, self.encoder, num_mask_tokens, encoder.uniform_power)
        self.regularizer = build_regularizer(regularizer)
        self.regularizer_weight, self.regularizer_on = regularizer_weight, regularizer_on

    @property
    def feature_encoder(self) -> VisionTransformer:
        return self.target_encoder

    def trained_modules(self) -> list[nn.Module]:
        return [self.encoder, self.predictor]

    def token_loss(self, pred: Tensor, target: Tensor) -> Tensor:
        """Loss of each predicted token ``[T, D] → [T]``."""
        raise NotImplementedError

    def mask_token_offset(self, num_frames: int) -> int:
        """Index of the first mask token used for clips of ``num_frames`` frames (mask set ``m`` adds ``m``)."""
        return 0

    def optimizer_step(self, *args: Any, **kwargs: Any) -> None:
        """The AdamW step, then the EMA update of the target encoder: both before any checkpoint of this step is
        written (callbacks' ``on_train_batch_end``), so that a resumed run has the target encoder it had."""
        super().optimizer_step(*args, **kwargs)
        momentum = linear(self.global_step - 1, self.total_steps(), self.ema_cfg.start, self.ema_cfg.end)
        ema_update(self.target_encoder, self.encoder, momentum)
        self.log("train/ema", momentum, on_step=True, on_epoch=False)

    def group_loss(self, group: dict[str, Any]) -> tuple[Tensor, Tensor, Tensor]:
        """Per-mask-set mean losses ``[M]`` of one group of equal clip length, the target encoder's output and the
        context encoder's packed tokens."""
        inputs = group["inputs"]
        ctx_lengths, ctx_owner, ctx_set = group["ctx_lengths"], group["ctx_owner"], group["ctx_set"]
        tgt_lengths, tgt_owner = group["tgt_lengths"], group["tgt_owner"]
        with torch.no_grad():
            full = self.target_encoder(inputs)
            normed = F.layer_norm(full, full.shape[-1:])
            targets = gather_packed(normed, group["tgt_index"], tgt_lengths, ctx_owner[tgt_owner])
        context = self.encoder.forward_packed(inputs, group["ctx_index"], ctx_lengths, ctx_owner)
        tgt_set = ctx_set[tgt_owner]
        pred = self.predictor.forward_packed(
            context, group["ctx_index"], ctx_lengths, group["tgt_index"], tgt_lengths, tgt_owner,
            self.mask_token_offset(group["num_frames"]) + tgt_set,
        )  # fmt: skip
        per_token = self.token_loss(pred.float(), targets.float())
        token_set = torch.repeat_interleave(tgt_set, tgt_lengths).to(per_token.device)
        num_sets = int(ctx_set.max()) + 1
        sums = per_token.new_zeros(num_sets).index_add_(0, token_set, per_token)
        counts = torch.bincount(token_set, minlength=num_sets).clamp(min=1)
        return sums / counts, full, context

    def compute_loss(self, batch: dict[str, Any]) -> StepOutput:
        """The prediction loss averaged over mask sets and clip-length groups (plus the weighted regulariser on the
        context features), pooled target features and their labels."""
        losses, pooled, labels, context_pooled, context_tokens = [], [], [], [], []
        for group in batch["groups"]:
            per_set, full, context = self.group_loss(group)
            losses.append(per_set)
            pooled.append(full.float().mean(dim=1))
            labels.append(group["labels"])
            context_pooled.append(pool_packed(context.float(), group["ctx_lengths"]))
            context_tokens.append(context)  # the regularisers cast to float themselves
        prediction = torch.cat(losses).mean()
        contexts = torch.cat(context_pooled)
        terms: dict[str, Tensor] = {}
        loss = prediction
        if self.regularizer is not None:
            rows = contexts if self.regularizer_on == "mean" else torch.cat(context_tokens)
            terms = {"prediction": prediction, "regularizer": self.regularizer(rows, self.global_step)}
            loss = prediction + self.regularizer_weight * terms["regularizer"]
        pooled_t = torch.cat(pooled)
        return StepOutput(loss, pooled_t, torch.cat(labels), terms, {"target": pooled_t, "context": contexts.detach()})
