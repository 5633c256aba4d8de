"""Typed schemas of the Hydra config tree; each node is exactly what one constructor takes.

``objective`` picks the schemas of ``model``, ``data`` and ``mask`` (:data:`OBJECTIVE_SCHEMAS`): ``ijepa`` →
:class:`IJEPAConfig` / :class:`ImageDataConfig` / :class:`MaskConfig`, ``vjepa`` → :class:`VJEPAConfig` /
:class:`VideoDataConfig` / :class:`VideoMaskConfig`, ``world_model`` → :class:`WorldModelConfig` /
:class:`TrajectoryDataConfig` / no mask, ``lejepa`` / ``lejepa_video`` → :class:`LeJEPAConfig` / image or video
data (with ``views``) / no mask; ``trainer`` → :class:`lightning.Trainer`. Every composed
config and override is checked against them: an unknown key or a value of the wrong type is an error.
"""

from __future__ import annotations

from dataclasses import asdict, fields, is_dataclass
from typing import Any, TypeVar

from omegaconf import OmegaConf
from omegaconf.errors import MissingMandatoryValue, OmegaConfBaseException

from jepa.config.data import (
    ImageDataConfig,
    MaskConfig,
    MaskSet3DConfig,
    NoMaskConfig,
    TrajectoryDataConfig,
    VideoDataConfig,
    VideoMaskConfig,
    ViewsConfig,
)
from jepa.config.model import (
    ActionPredictorConfig,
    EMAConfig,
    EncoderConfig,
    IJEPAConfig,
    LeJEPAConfig,
    OptimConfig,
    PredictorConfig,
    ProbeConfig,
    ProjectorConfig,
    VJEPAConfig,
    WorldModelConfig,
)
from jepa.config.run import (
    AnticipationProbeConfig,
    AttentiveProbeConfig,
    CheckpointConfig,
    InverseDynamicsProbeConfig,
    LinearProbeConfig,
    OBJECTIVE_SCHEMAS,
    PlanConfig,
    PlannerConfig,
    ProbeEvalConfig,
    RunConfig,
    TrainerConfig,
)
from jepa.errors import InputError

__all__ = [
    "ActionPredictorConfig",
    "AnticipationProbeConfig",
    "AttentiveProbeConfig",
    "CheckpointConfig",
    "EMAConfig",
    "EncoderConfig",
    "IJEPAConfig",
    "ImageDataConfig",
    "InverseDynamicsProbeConfig",
    "LeJEPAConfig",
    "LinearProbeConfig",
    "MaskConfig",
    "MaskSet3DConfig",
    "NoMaskConfig",
    "OBJECTIVE_SCHEMAS",
    "OptimConfig",
    "PlanConfig",
    "PlannerConfig",
    "PredictorConfig",
    "ProbeConfig",
    "ProbeEvalConfig",
    "ProjectorConfig",
    "RunConfig",
    "TrainerConfig",
    "TrajectoryDataConfig",
    "VJEPAConfig",
    "VideoDataConfig",
    "VideoMaskConfig",
    "ViewsConfig",
    "WorldModelConfig",
    "as_plain",
    "shallow_dict",
    "validated",
]


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
