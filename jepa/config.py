"""Typed schemas of the Hydra config tree; each node is exactly what one constructor takes.

``model`` → :class:`jepa.objectives.ijepa.IJEPA`, ``data`` → :class:`jepa.data.images.ImageDataModule`,
``mask`` → :class:`jepa.masks.MultiBlockMask2D`, ``trainer`` → :class:`lightning.Trainer`. Hydra validates
every composed config and override against them: an unknown key or a value of the wrong type is an error.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, is_dataclass
from typing import Any, TypeVar

from omegaconf import MISSING, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from jepa.errors import InputError


@dataclass
class EncoderConfig:
    """A ViT of an official ``size``; any of ``embed_dim``, ``depth``, ``num_heads``, ``mlp_ratio`` overrides it."""

    size: str = "tiny"
    img_size: int = 224
    patch_size: int = 16
    in_chans: int = 3
    embed_dim: int | None = None
    depth: int | None = None
    num_heads: int | None = None
    mlp_ratio: float | None = None
    qkv_bias: bool = True
    drop_path_rate: float = 0.0
    use_rope: bool = False
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
    """AdamW with linear warmup ``start_lr → lr`` then cosine to ``final_lr``; weight decay cosine
    ``weight_decay → final_weight_decay``; no decay on biases and 1-D parameters."""

    lr: float = 1e-3
    start_lr: float = 2e-4
    final_lr: float = 1e-6
    warmup_steps: int = 0
    weight_decay: float = 0.04
    final_weight_decay: float = 0.4
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8


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
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    predictor: PredictorConfig = field(default_factory=PredictorConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    ema: EMAConfig = field(default_factory=EMAConfig)
    probe: ProbeConfig = field(default_factory=ProbeConfig)


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
class ImageDataConfig:
    """An ImageNet-layout folder ``root/{train,val}/<class>/*``, or the built-in digits when ``root`` is null.
    ``root`` has no default: the ``data`` group option says which (``images``: digits, ``imagefolder``: required)."""

    root: str | None = MISSING
    img_size: int = 224
    batch_size: int = 64
    num_workers: int = 4
    crop_scale: tuple[float, float] = (0.3, 1.0)
    horizontal_flip: bool = False
    pin_memory: bool = True


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
    enable_progress_bar: bool = True
    deterministic: bool = False


@dataclass
class RunConfig:
    """The root of a composed run: a name, a seed, the four groups, an optional checkpoint to start from, and
    ``final_probe``: fit a linear probe on frozen features at the start and at the end of training."""

    name: str = "run"
    seed: int = 0
    ckpt_path: str | None = None
    model: IJEPAConfig = field(default_factory=IJEPAConfig)
    data: ImageDataConfig = field(default_factory=ImageDataConfig)
    mask: MaskConfig = field(default_factory=MaskConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    final_probe: bool = False


T = TypeVar("T")


def validated(schema: type[T], value: T | dict[str, Any] | None, where: str) -> T:
    """``value`` as a ``schema`` instance: dicts are checked key by key and type by type (``where`` names the node)."""
    if isinstance(value, schema):
        return value
    try:
        merged = OmegaConf.merge(OmegaConf.structured(schema), value or {})
        return OmegaConf.to_object(merged)  # type: ignore[return-value]
    except OmegaConfBaseException as err:
        raise InputError(f"{where}: {err.msg if hasattr(err, 'msg') else err}") from err


def shallow_dict(node: Any) -> dict[str, Any]:
    """A dataclass's fields as keyword arguments, nested dataclasses kept as they are."""
    return {f.name: getattr(node, f.name) for f in fields(node)}


def as_plain(node: Any) -> Any:
    """A dataclass tree as plain dicts (for hyper-parameters saved in checkpoints)."""
    return asdict(node) if is_dataclass(node) else node
