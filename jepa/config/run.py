"""Schemas of a run's root: trainer, checkpoints, the probes of ``jepa probe``, the planner and protocol of
``jepa plan``, and :class:`RunConfig` with the schemas each objective's groups are checked against."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jepa.config.data import (
    ImageDataConfig,
    MaskConfig,
    NoMaskConfig,
    TrajectoryDataConfig,
    VideoDataConfig,
    VideoMaskConfig,
)
from jepa.config.model import (
    IJEPAConfig,
    LeJEPAConfig,
    VJEPAConfig,
    WorldModelConfig,
)


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
    at; each takes an equal part of it). ``goal_cost``: the energy is the distance to the goal of the last
    predicted frame (``final``, as V-JEPA 2-AC plans) or the mean over every predicted frame (``every_step``: a
    plan must get near early and stay, not pass by)."""

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
    goal_cost: str = "final"


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
