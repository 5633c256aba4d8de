"""Schemas of the ``data`` and ``mask`` groups: images, videos, trajectories, views and mask sets."""

from __future__ import annotations

from dataclasses import dataclass, field

from omegaconf import MISSING


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
    A folder with no ``val`` split (``root/train/<class>/*`` or just ``root/<class>/*``) holds out a seeded
    ``val_fraction`` of its images instead, where one is given. ``views`` (view-based objectives): each training
    sample becomes those augmented views instead of one crop."""

    root: str | None = MISSING
    val_fraction: float | None = None
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
    same draw for all its frames. ``backend``: ``auto`` (torchcodec where it loads, else decord; PyAV where they
    fail), ``decord``, ``pyav`` or ``torchcodec``, on ``decoder_threads`` threads each. ``normalize_on_device``:
    the training loaders ship uint8 clips and the objective normalises them after the transfer (the same numbers;
    a quarter of the bytes).
    ``clips_per_video`` > 1: each video read gives that many training clips, drawn within the stretch that
    decoding the first already reads (the keyframe before it to its end), so long keyframe intervals cost less per
    clip; a batch then holds ``batch_size / clips_per_video`` videos (1: the official sampling).
    ``decode_short_side``: the decoder scales frames down to that shorter side as it converts them (null: their own
    size, as the official code reads them), so crops start from smaller frames."""

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
    decoder_threads: int = 1
    normalize_on_device: bool = False
    clips_per_video: int = 1
    decode_short_side: int | None = None
    demo_root: str | None = None
    views: ViewsConfig | None = None


@dataclass
class TrajectoryDataConfig:
    """Episodes for a world model (:class:`jepa.data.trajectories.TrajectoryDataModule`): an episode list
    (``video,trajectory`` CSV) or ``demo_root``, where ``demo_episodes`` episodes of ``demo_steps`` moves in the
    built-in ``demo_env`` (``pusht``, ``two_room`` or ``reacher``) are recorded once by ``demo_policy`` (PushT:
    ``random_walk``, the default, or ``pushing``; Two-Room: ``waypoint``, the default, or ``waypoint_walls``, which
    also runs into the wall; Reacher: ``swing``); clips of ``num_frames`` frames ``frame_step`` apart at
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
