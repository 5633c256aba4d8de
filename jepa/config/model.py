"""Schemas of the ``model`` group: encoder, predictors, optimiser, EMA and probe of each objective."""

from __future__ import annotations

from dataclasses import dataclass, field



@dataclass
class BlockOptions:
    """How a model's transformer blocks run (not what they compute): the attention backend, activation
    checkpointing (true: recompute each block in backward; selective: only its cheap element-wise ops) and
    regional compilation (each block's dense regions through torch.compile; the packed attention stays eager)."""

    attn_backend: str = "auto"
    grad_checkpointing: bool | str = False
    compile_blocks: bool = False


@dataclass
class EncoderConfig(BlockOptions):
    """A ViT of an official ``size``; any of ``embed_dim``, ``depth``, ``num_heads``, ``mlp_ratio`` overrides it."""

    size: str = "tiny"
    img_size: int = 224
    patch_size: int = 16
    num_frames: int = 1
    tubelet_size: int = 2
    in_chans: int = 3
    embed_dim: int | None = None
    depth: int | None = None
    num_heads: int | None = None
    mlp_ratio: float | None = None
    qkv_bias: bool = True
    drop_path_rate: float = 0.0
    use_rope: bool = False
    rope_tiled_freqs: bool = False
    uniform_power: bool = False


@dataclass
class PredictorConfig(BlockOptions):
    """The mask-token predictor; ``num_heads`` defaults to the encoder's (as in the official I-JEPA)."""

    embed_dim: int = 384
    depth: int = 12
    num_heads: int | None = None
    mlp_ratio: float = 4.0
    drop_path_rate: float = 0.0


@dataclass
class OptimConfig:
    """AdamW with linear warmup ``start_lr → lr``, then ``lr_decay`` to ``final_lr``: ``cosine`` (I-JEPA, V-JEPA),
    ``constant`` (V-JEPA 2 warmup-stable; with ``anneal_steps``, a final linear anneal to ``final_lr``) or ``linear``
    (V-JEPA 2 cooldown); weight decay cosine ``weight_decay → final_weight_decay``, on biases and 1-D parameters
    (norms) only with ``decay_1d_params`` (the official recipes leave them out). The LR, weight-decay and EMA
    schedules span ``schedule_steps`` (official ``ipe × epochs × ipe_scale``; null: the run's steps). A step whose loss is NaN or infinite is skipped (no update) and reported;
    ``max_nonfinite_steps`` of them in a row stop the run with a checkpoint."""

    lr: float = 1e-3
    start_lr: float = 2e-4
    final_lr: float = 1e-6
    warmup_steps: int = 0
    lr_decay: str = "cosine"
    weight_decay: float = 0.04
    final_weight_decay: float = 0.4
    schedule_steps: int | None = None
    anneal_steps: int = 0
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    max_nonfinite_steps: int = 5
    decay_1d_params: bool = False


@dataclass
class EMAConfig:
    """Target-encoder momentum, linear from ``start`` to ``end`` over training."""

    start: float = 0.996
    end: float = 1.0


@dataclass
class ProbeConfig:
    """The online linear probe on detached, mean-pooled target-encoder features (its own LR, no weight decay).
    ``num_classes`` comes from the data when left empty; 0 turns the probe off."""

    num_classes: int | None = None
    lr: float = 1e-3


@dataclass
class IJEPAConfig:
    """I-JEPA; ``regularizer`` (none | sigreg | vicreg, :mod:`jepa.regularizers`) adds ``regularizer_weight`` times
    an anti-collapse term on the mean of each context's tokens (``regularizer_on: mean``) or on every context token
    (``tokens``); none: the official recipe."""

    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    predictor: PredictorConfig = field(default_factory=PredictorConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    ema: EMAConfig = field(default_factory=EMAConfig)
    probe: ProbeConfig = field(default_factory=ProbeConfig)
    regularizer: str = "none"
    regularizer_weight: float = 0.0
    regularizer_on: str = "mean"


@dataclass
class VJEPAConfig:
    """V-JEPA / V-JEPA 2: ``loss_exp`` 1 is the L1 loss. The predictor has one mask token per mask set and clip
    length: ``num_mask_sets`` and ``clip_lengths`` come from the mask and data configs when left empty.
    ``regularizer``, ``regularizer_weight`` and ``regularizer_on`` as in :class:`IJEPAConfig`."""

    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    predictor: PredictorConfig = field(default_factory=PredictorConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    ema: EMAConfig = field(default_factory=EMAConfig)
    probe: ProbeConfig = field(default_factory=ProbeConfig)
    regularizer: str = "none"
    regularizer_weight: float = 0.0
    regularizer_on: str = "mean"
    loss_exp: float = 1.0
    num_mask_sets: int | None = None
    clip_lengths: list[int] | None = None


@dataclass
class ProjectorConfig:
    """LeJEPA's projector: an MLP of ``depth`` linear layers (batch norm and GELU between them) from the pooled
    encoder features to the ``out_dim`` embeddings that the loss sees; the probes read the encoder, not this."""

    hidden_dim: int = 2048
    out_dim: int = 128
    depth: int = 3


@dataclass
class LeJEPAConfig:
    """LeJEPA (Balestriero & LeCun, 2025): every view's embedding predicts the mean of the global views'
    embeddings (squared error), plus SIGReg on each view's embeddings; the loss is ``(1 − λ) · prediction + λ ·
    SIGReg`` with ``λ = sigreg_weight``; no EMA, no stop-gradient. ``num_global_views`` (the first views of a
    sample are its global ones) comes from ``data.views`` when left empty; ``sigreg_slices`` random directions are
    redrawn every step."""

    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    projector: ProjectorConfig = field(default_factory=ProjectorConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    probe: ProbeConfig = field(default_factory=ProbeConfig)
    sigreg_weight: float = 0.05
    sigreg_slices: int = 256
    num_global_views: int | None = None


@dataclass
class ActionPredictorConfig(BlockOptions):
    """The V-JEPA 2-AC predictor (:class:`predictors.ActionConditionedPredictor`): its width, depth and heads, and
    the size of an action (and of a state, the same as in the official model; ``use_states=False``: no state
    token)."""

    embed_dim: int = 1024
    depth: int = 24
    num_heads: int = 16
    mlp_ratio: float = 4.0
    action_dim: int = 7
    use_extrinsics: bool = False
    use_states: bool = True


@dataclass
class WorldModelConfig:
    """V-JEPA 2-AC: a frozen encoder (``encoder_source``, any ``load_pretrained`` source; null: a fresh encoder of
    ``encoder``'s size) encodes each frame; the predictor is trained with teacher forcing plus an ``auto_steps``
    autoregressive rollout, the loss ``|pred - target|^p / p`` (``p = loss_exp``) on layer-normed features
    (``normalize_reps``). ``inverse_dynamics_weight > 0`` adds a head predicting each action from a frame's tokens
    and the predicted next ones (mean squared error), so that predictions keep what the action did; end to end, from
    both frames' own latents, so that the latents keep what the action moves (the agent).

    ``end_to_end``: the encoder trains with the predictor (LeWM): each frame's latent is its mean token through
    ``projector`` (``latent: pooled``) or every patch token through it (``latent: tokens``, a grid as PLDM and
    eb_jepa plan on), the targets are the model's own latents (no EMA, no stop-gradient) and ``regularizer`` (SIGReg
    or VICReg, weight ``regularizer_weight``) on every frame's whole latent keeps them from collapsing.
    ``freeze_encoder`` keeps that encoder at its initial weights (the model's random-encoder baseline)."""

    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    encoder_source: str | None = None
    predictor: ActionPredictorConfig = field(default_factory=ActionPredictorConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    auto_steps: int = 2
    loss_exp: float = 1.0
    normalize_reps: bool = True
    inverse_dynamics_weight: float = 0.0
    end_to_end: bool = False
    latent: str = "pooled"
    freeze_encoder: bool = False
    projector: ProjectorConfig = field(default_factory=ProjectorConfig)
    regularizer: str = "none"
    regularizer_weight: float = 0.0
