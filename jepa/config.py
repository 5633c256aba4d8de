"""Typed schemas of the Hydra config tree; each node is exactly what one constructor takes.

``objective`` picks the schemas of ``model``, ``data`` and ``mask`` (:data:`OBJECTIVE_SCHEMAS`): ``ijepa`` →
:class:`IJEPAConfig` / :class:`ImageDataConfig` / :class:`MaskConfig`, ``vjepa`` → :class:`VJEPAConfig` /
:class:`VideoDataConfig` / :class:`VideoMaskConfig`, ``world_model`` → :class:`WorldModelConfig` /
:class:`TrajectoryDataConfig` / no mask, ``lejepa`` / ``lejepa_video`` → :class:`LeJEPAConfig` / image or video
data (with ``views``) / no mask; ``trainer`` → :class:`lightning.Trainer`. Every composed
config and override is checked against them: an unknown key or a value of the wrong type is an error.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, is_dataclass
from typing import Any, TypeVar

from omegaconf import MISSING, OmegaConf
from omegaconf.errors import MissingMandatoryValue, OmegaConfBaseException

from jepa.errors import InputError


@dataclass
class EncoderConfig:
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
    attn_backend: str = "auto"
    grad_checkpointing: bool = False


@dataclass
class PredictorConfig:
    """The mask-token predictor; ``num_heads`` defaults to the encoder's (as in the official I-JEPA)."""

    embed_dim: int = 384
    depth: int = 12
    num_heads: int | None = None
    mlp_ratio: float = 4.0
    drop_path_rate: float = 0.0
    attn_backend: str = "auto"
    grad_checkpointing: bool = False


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
    an anti-collapse term on the mean of each context's tokens (none: the official recipe)."""

    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    predictor: PredictorConfig = field(default_factory=PredictorConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    ema: EMAConfig = field(default_factory=EMAConfig)
    probe: ProbeConfig = field(default_factory=ProbeConfig)
    regularizer: str = "none"
    regularizer_weight: float = 0.0


@dataclass
class VJEPAConfig:
    """V-JEPA / V-JEPA 2: ``loss_exp`` 1 is the L1 loss. The predictor has one mask token per mask set and clip
    length: ``num_mask_sets`` and ``clip_lengths`` come from the mask and data configs when left empty.
    ``regularizer`` and ``regularizer_weight`` as in :class:`IJEPAConfig`."""

    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    predictor: PredictorConfig = field(default_factory=PredictorConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    ema: EMAConfig = field(default_factory=EMAConfig)
    probe: ProbeConfig = field(default_factory=ProbeConfig)
    regularizer: str = "none"
    regularizer_weight: float = 0.0
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
class ActionPredictorConfig:
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
    attn_backend: str = "auto"
    grad_checkpointing: bool = False


@dataclass
class WorldModelConfig:
    """V-JEPA 2-AC: a frozen encoder (``encoder_source``, any ``load_pretrained`` source; null: a fresh encoder of
    ``encoder``'s size) encodes each frame; the predictor is trained with teacher forcing plus an ``auto_steps``
    autoregressive rollout, the loss ``|pred - target|^p / p`` (``p = loss_exp``) on layer-normed features
    (``normalize_reps``). ``inverse_dynamics_weight > 0`` adds a head predicting each action from a frame's tokens
    and the predicted next ones (mean squared error), so that predictions keep what the action did.

    ``end_to_end``: the encoder trains with the predictor (LeWM): each frame is one latent, its mean token through
    ``projector``, the targets are the model's own latents (no EMA, no stop-gradient) and ``regularizer`` (SIGReg
    or VICReg, weight ``regularizer_weight``) on every frame's latent keeps them from collapsing.
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
    freeze_encoder: bool = False
    projector: ProjectorConfig = field(default_factory=ProjectorConfig)
    regularizer: str = "none"
    regularizer_weight: float = 0.0


@dataclass
class MaskConfig:
    """I-JEPA multi-block masks (official defaults); the grid is ``input_size / patch_size`` squared."""

    input_size: int = 224
    patch_size: int = 16
    enc_mask_scale: tuple[float, float] = (0.85, 1.0)
    pred_mask_scale: tuple[float, float] = (0.15, 0.2)
    aspect_ratio: tuple[float, float] = (0.75, 1.5)
    num_pred_masks: int = 4
    min_keep: int = 4
    allow_overlap: bool = False


@dataclass
class ViewsConfig:
    """The augmented views a view-based objective (LeJEPA) sees of each sample: ``num_global`` views cropped
    (random resized crop) to an area share in ``global_scale``, at the data's size, and ``num_local`` in
    ``local_scale``, at ``local_size`` (null: the data's size; a smaller one costs fewer tokens and needs a RoPE
    encoder, ``model.encoder.use_rope``); then, each with its probability, a horizontal flip, colour jitter
    (``jitter_strength`` scales brightness 0.8, contrast 0.8, saturation 0.8, hue 0.2), grayscale, Gaussian blur
    (``blur_sigma``) and solarisation. Every frame of a clip gets the same draw."""

    num_global: int = 2
    num_local: int = 4
    global_scale: tuple[float, float] = (0.3, 1.0)
    local_scale: tuple[float, float] = (0.05, 0.3)
    local_size: int | None = None
    aspect_ratio: tuple[float, float] = (0.75, 1.3333333333333333)
    horizontal_flip: float = 0.5
    color_jitter: float = 0.8
    jitter_strength: float = 0.5
    grayscale: float = 0.2
    blur: float = 0.5
    blur_sigma: tuple[float, float] = (0.1, 2.0)
    solarize: float = 0.2


@dataclass
class ImageDataConfig:
    """An ImageNet-layout folder ``root/{train,val}/<class>/*``, or the built-in digits when ``root`` is null.
    ``root`` has no default: the ``data`` group option says which (``images``: digits, ``imagefolder``: required).
    ``views`` (view-based objectives): each training sample becomes those augmented views instead of one crop."""

    root: str | None = MISSING
    img_size: int = 224
    batch_size: int = 64
    num_workers: int = 4
    crop_scale: tuple[float, float] = (0.3, 1.0)
    horizontal_flip: bool = False
    pin_memory: bool = True
    views: ViewsConfig | None = None


@dataclass
class MaskSet3DConfig:
    """One V-JEPA mask set (:class:`jepa.masks.MultiBlockMask3D`); defaults: the official short-range set."""

    spatial_scale: tuple[float, float] = (0.15, 0.15)
    temporal_scale: tuple[float, float] = (1.0, 1.0)
    aspect_ratio: tuple[float, float] = (0.75, 1.5)
    num_blocks: int = 8
    max_temporal_keep: float = 1.0
    max_keep: int | None = None


@dataclass
class VideoMaskConfig:
    """V-JEPA multi-block mask sets on the ``(T / tubelet) × (size / patch)²`` grid of each clip length."""

    input_size: int = 224
    patch_size: int = 16
    tubelet_size: int = 2
    sets: list[MaskSet3DConfig] = field(
        default_factory=lambda: [MaskSet3DConfig(), MaskSet3DConfig(spatial_scale=(0.7, 0.7), num_blocks=2)]
    )


@dataclass
class VideoDataConfig:
    """Official sample lists (``path label`` .csv or .npy), their mixing weights and clip lengths (frames per clip),
    and exactly one of ``frame_step``, ``fps`` or ``duration``. Names follow the official configs. Without
    ``val_datasets``, a seeded ``val_fraction`` of the training clips is held out to validate and probe on (null,
    as the official recipes: no validation).
    ``demo_root`` renders the built-in PushT demo clips into that folder (once) and uses their lists when no
    ``datasets`` are given. ``views`` (view-based objectives): each training clip becomes those augmented views, the
    same draw for all its frames."""

    datasets: list[str] = field(default_factory=list)
    datasets_weights: list[float] | None = None
    dataset_fpcs: list[int] = field(default_factory=lambda: [16])
    val_datasets: list[str] | None = None
    val_fraction: float | None = None
    frame_step: int | None = None
    fps: float | None = None
    duration: float | None = None
    crop_size: int = 224
    random_resize_scale: tuple[float, float] = (0.3, 1.0)
    random_resize_aspect_ratio: tuple[float, float] = (0.75, 1.35)
    horizontal_flip: bool = True
    batch_size: int = 24
    num_workers: int = 8
    pin_memory: bool = True
    backend: str = "auto"
    demo_root: str | None = None
    views: ViewsConfig | None = None


@dataclass
class TrajectoryDataConfig:
    """Episodes for a world model (:class:`jepa.data.trajectories.TrajectoryDataModule`): an episode list
    (``video,trajectory`` CSV) or ``demo_root``, where ``demo_episodes`` episodes of ``demo_steps`` moves in the
    built-in ``demo_env`` (``pusht`` or ``two_room``) are recorded once by ``demo_policy`` (PushT: ``random_walk``,
    the default, or ``pushing``; Two-Room: ``waypoint``); clips of ``num_frames`` frames ``frame_step`` apart at
    ``crop_size``²."""

    episodes: str | None = None
    val_episodes: str | None = None
    val_fraction: float = 0.1
    num_frames: int = 4
    frame_step: int = 1
    crop_size: int = 64
    batch_size: int = 16
    num_workers: int = 2
    pin_memory: bool = True
    backend: str = "auto"
    demo_root: str | None = None
    demo_episodes: int = 400
    demo_steps: int = 24
    demo_env: str = "pusht"
    demo_policy: str | None = None


@dataclass
class NoMaskConfig:
    """Objectives without masks (the world model) take no ``mask`` settings."""


@dataclass
class TrainerConfig:
    """The ``lightning.Trainer`` arguments a run may set; ``precision: auto`` is bf16-mixed on GPU, else 32-true."""

    accelerator: str = "auto"
    devices: Any = "auto"
    strategy: str = "auto"
    num_nodes: int = 1
    precision: str = "auto"
    max_steps: int = -1
    max_epochs: int | None = None
    val_check_interval: float | None = None
    check_val_every_n_epoch: int | None = 1
    limit_train_batches: float | None = None
    limit_val_batches: float | None = None
    log_every_n_steps: int = 10
    num_sanity_val_steps: int = 0
    gradient_clip_val: float | None = None
    accumulate_grad_batches: int = 1
    sync_batchnorm: bool = False
    enable_progress_bar: bool = True
    deterministic: bool = False


@dataclass
class CheckpointConfig:
    """When ``last.ckpt`` is written in the run directory (besides the end of fit and SIGTERM): every
    ``every_n_steps`` steps, else every ``every_minutes`` minutes (null: neither)."""

    every_n_steps: int | None = None
    every_minutes: float | None = 10.0


VJEPA2_PROBE_LRS = [5e-3, 3e-3, 1e-3, 3e-4, 1e-4]
VJEPA2_PROBE_WEIGHT_DECAYS = [0.01, 0.1, 0.4, 0.8]


@dataclass
class LinearProbeConfig:
    """``jepa probe linear``: one linear head per (learning rate, weight decay), trained together on standardised
    cached features with AdamW for ``epochs``; the grid's learning rates sit higher than the attentive probe's, as a
    linear head on standardised features needs them to converge in 100 epochs."""

    lrs: list[float] = field(default_factory=lambda: [0.1, 0.05, 0.02, 0.01, 0.005])
    weight_decays: list[float] = field(default_factory=lambda: list(VJEPA2_PROBE_WEIGHT_DECAYS))
    epochs: int = 100
    batch_size: int = 64


@dataclass
class AttentiveProbeConfig:
    """``jepa probe attentive``: one attentive classifier per (learning rate, weight decay) of vjepa2's grid, each
    of ``num_probe_blocks`` blocks (the last cross-attention from a learnt query; ``num_heads`` attention heads, the
    encoder's when null), trained for ``epochs`` on the data's batches. A sample is ``num_segments`` clips whose
    tokens are concatenated, tested on ``num_views`` spatial views with their softmax averaged (K400 16x8x3: 16
    frames, 8 segments, 3 views). ``augment``: RandAugment / AutoAugment and random erasing on training inputs.
    For a video encoder an image becomes a clip of ``image_frames`` repeated frames (the encoder's clip length when
    null)."""

    lrs: list[float] = field(default_factory=lambda: list(VJEPA2_PROBE_LRS))
    weight_decays: list[float] = field(default_factory=lambda: list(VJEPA2_PROBE_WEIGHT_DECAYS))
    num_probe_blocks: int = 4
    num_heads: int | None = None
    num_segments: int = 1
    num_views: int = 1
    epochs: int = 20
    augment: bool = True
    image_frames: int | None = None


@dataclass
class AnticipationProbeConfig:
    """``jepa probe anticipation`` (EK100 style, as released): a clip ends ``anticipation_time`` seconds before the
    point ``anticipation_point`` of the action (1: its start, 0: its stop; the released evaluation uses 0), both
    drawn from the ``train_*`` ranges in training. The source's predictor adds its tokens for ``num_output_frames``
    frames that far ahead; a grid of attentive heads (verb, noun and action queries; ``num_probe_blocks`` blocks) is
    trained with a focal loss. ``video_root``: where ``<P>/videos/<video_id>.MP4`` lie (the annotation file's folder
    when null). ``augment``: RandAugment and random erasing on training clips (the released setting)."""

    anticipation_time: float = 1.0
    anticipation_point: float = 0.0
    train_anticipation_time: tuple[float, float] = (0.25, 1.75)
    train_anticipation_point: tuple[float, float] = (0.0, 0.25)
    num_output_frames: int = 2
    video_root: str | None = None
    augment: bool = True
    lrs: list[float] = field(default_factory=lambda: list(VJEPA2_PROBE_LRS))
    weight_decays: list[float] = field(default_factory=lambda: list(VJEPA2_PROBE_WEIGHT_DECAYS))
    num_probe_blocks: int = 4
    num_heads: int | None = None
    epochs: int = 20


@dataclass
class InverseDynamicsProbeConfig:
    """``jepa probe inverse_dynamics``: one inverse-dynamics regressor per (learning rate, weight decay), each an
    attentive pooler of ``num_probe_blocks`` blocks over the fused tokens of two consecutive frames, trained with
    the mean squared error for ``epochs`` over every frame pair of the training episodes."""

    lrs: list[float] = field(default_factory=lambda: [1e-3, 3e-4])
    weight_decays: list[float] = field(default_factory=lambda: [0.01])
    num_probe_blocks: int = 1
    num_heads: int | None = None
    epochs: int = 5


@dataclass
class ProbeEvalConfig:
    """``jepa probe``: the share of train held out to choose the best head, the kNN settings (k, temperature), where
    the linear and kNN probes keep the frozen features of a pretrained source (keyed by its files and the data
    settings; null: nowhere), and the linear, attentive, anticipation and inverse-dynamics probes."""

    holdout: float = 0.1
    k: int = 20
    temperature: float = 0.07
    feature_cache: str | None = "~/.cache/jepa/features"
    linear: LinearProbeConfig = field(default_factory=LinearProbeConfig)
    attentive: AttentiveProbeConfig = field(default_factory=AttentiveProbeConfig)
    anticipation: AnticipationProbeConfig = field(default_factory=AnticipationProbeConfig)
    inverse_dynamics: InverseDynamicsProbeConfig = field(default_factory=InverseDynamicsProbeConfig)


@dataclass
class PlannerConfig:
    """``method`` cem | mppi over ``horizon`` actions in ``[-max_action, max_action]``, predicted from the last
    ``context_frames`` views seen (1: the current one, as V-JEPA 2-AC plans; more tell the model how things
    move): ``samples`` candidates per iteration drawn around the mean with ``init_std`` at first; CEM refits mean
    and std to the ``elites`` lowest energies, MPPI averages all candidates weighted by ``exp(-energy /
    temperature)``. ``action_block``: environment steps per planned action (the frame step the model was trained
    at; each takes an equal part of it)."""

    method: str = "cem"
    horizon: int = 3
    context_frames: int = 1
    samples: int = 100
    elites: int = 10
    iterations: int = 5
    init_std: float = 0.5
    min_std: float = 0.05
    temperature: float = 0.01
    max_action: float = 0.75
    action_block: int = 1


@dataclass
class PlanConfig:
    """``jepa plan`` in ``env`` (``pusht`` or ``two_room``, :mod:`jepa.planning.protocol`): ``episodes`` start/goal
    pairs, each goal the view after ``goal_steps`` moves of a data policy from its start (PushT: ``goal_policy``,
    ``random_walk`` or ``pushing``; Two-Room: its waypoint policy) that leave the agent at
    least ``min_goal_distance`` away (PushT: world units; Two-Room: pixels); the planner (``planner``) then gets
    ``max_steps`` steps of receding-horizon control, as does the random policy it is compared with. PushT's success:
    the agent within ``agent_tolerance`` and the block within ``block_tolerance`` world units and
    ``angle_tolerance`` radians of their goal places; Two-Room's: the agent overlaps its goal by half.
    ``strips``: how many episodes the picture shows."""

    env: str = "pusht"
    goal_policy: str = "random_walk"
    episodes: int = 20
    goal_steps: int = 4
    min_goal_distance: float = 20.0
    max_steps: int = 6
    agent_tolerance: float = 16.0
    block_tolerance: float = 16.0
    angle_tolerance: float = 0.3
    strips: int = 4
    planner: PlannerConfig = field(default_factory=PlannerConfig)


@dataclass
class RunConfig:
    """The root of a composed run: a name, a seed, the objective and its three groups (checked against
    :data:`OBJECTIVE_SCHEMAS`), the trainer, when to checkpoint, and how to start: ``ckpt_path`` resumes a run
    (weights, optimiser, step, data position; ``last``: the run directory's ``last.ckpt``, if any);
    ``init_weights`` takes only the model weights of a checkpoint (a V-JEPA 2 cooldown). ``final_probe``: fit
    probes on frozen features at the start and at the end of training. ``encoder`` and ``probe_eval`` are for
    ``jepa probe``: the encoder to evaluate (any ``load_pretrained`` source, ``random``: a fresh encoder of
    ``model.encoder``'s size, or ``pixels``: the input itself) and the probe settings; ``world_model`` (a world-model checkpoint) and ``plan`` are
    for ``jepa plan``."""

    name: str = "run"
    seed: int = 0
    objective: str = "ijepa"
    encoder: str = "random"
    probe_eval: ProbeEvalConfig = field(default_factory=ProbeEvalConfig)
    world_model: str | None = None
    plan: PlanConfig = field(default_factory=PlanConfig)
    ckpt_path: str | None = None
    init_weights: str | None = None
    model: Any = None
    data: Any = None
    mask: Any = None
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    final_probe: bool = False


# objective → the schemas of its model, data and mask groups
OBJECTIVE_SCHEMAS: dict[str, tuple[type, type, type]] = {
    "ijepa": (IJEPAConfig, ImageDataConfig, MaskConfig),
    "vjepa": (VJEPAConfig, VideoDataConfig, VideoMaskConfig),
    "world_model": (WorldModelConfig, TrajectoryDataConfig, NoMaskConfig),
    "lejepa": (LeJEPAConfig, ImageDataConfig, NoMaskConfig),
    "lejepa_video": (LeJEPAConfig, VideoDataConfig, NoMaskConfig),
}


T = TypeVar("T")


def validated(schema: type[T], value: T | dict[str, Any] | None, where: str) -> T:
    """``value`` as a ``schema`` instance: dicts are checked key by key and type by type (``where`` names the node)."""
    if isinstance(value, schema):
        return value
    try:
        merged = OmegaConf.merge(OmegaConf.structured(schema), value or {})
        return OmegaConf.to_object(merged)  # type: ignore[return-value]
    except MissingMandatoryValue as err:
        raise InputError(
            f"{where}.{err.full_key} is required by this experiment: pass {where}.{err.full_key}=..."
        ) from err
    except OmegaConfBaseException as err:
        key = f"{where}.{err.full_key}" if getattr(err, "full_key", None) else where
        raise InputError(f"{key}: {str(getattr(err, 'msg', err)).splitlines()[0]}") from err


def shallow_dict(node: Any) -> dict[str, Any]:
    """A dataclass's fields as keyword arguments, nested dataclasses kept as they are."""
    return {f.name: getattr(node, f.name) for f in fields(node)}


def as_plain(node: Any) -> Any:
    """A dataclass tree as plain dicts (for hyper-parameters saved in checkpoints)."""
    return asdict(node) if is_dataclass(node) else node
