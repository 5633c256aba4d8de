"""Our own files: Lightning checkpoints of a ``jepa fit`` run (architecture from their hyper-parameters) and
``jepa convert`` exports (``config.json`` + ``model.safetensors``)."""

from __future__ import annotations

from typing import Any

from torch import Tensor

from encoders.pretrained.checkpoint import Checkpoint, PretrainedError, strip

EXPORT_FORMAT = "jepa-toolkit"


def is_lightning(raw: Any) -> bool:
    return isinstance(raw, dict) and "state_dict" in raw and "pytorch-lightning_version" in raw


def read_lightning(raw: dict[str, Any], source: str, which: str) -> Checkpoint:
    if which not in ("target_encoder", "encoder"):
        raise PretrainedError(f"which={which!r}: choose target_encoder or encoder")
    state, hp = raw["state_dict"], raw.get("hyper_parameters", {})
    encoder = strip(state, f"{which}.") or strip(state, "encoder.")  # objectives without a target (LeJEPA): its encoder
    predictor = strip(state, "predictor.") or None
    enc = hp.get("encoder", {})
    hints = {k: enc[k] for k in ("num_frames", "tubelet_size", "use_rope", "rope_tiled_freqs", "uniform_power")
             if k in enc}  # fmt: skip
    hints["img_size"] = enc.get("img_size", 224)
    if enc.get("num_heads"):
        hints["num_heads"] = enc["num_heads"]
    elif enc.get("size"):
        from encoders.vit import SIZES

        hints["num_heads"] = SIZES[enc["size"]]["num_heads"]
    pred = hp.get("predictor", {})
    predictor_hints = {"num_heads": pred.get("num_heads") or hints.get("num_heads"),
                       "use_rope": enc.get("use_rope", False), "rope_tiled_freqs": enc.get("rope_tiled_freqs", False),
                       "uniform_power": enc.get("uniform_power", False)}  # fmt: skip
    return Checkpoint(source, "lightning", encoder, predictor, hints, predictor_hints)


def read_export(tensors: dict[str, Tensor], config: dict[str, Any], source: str) -> Checkpoint:
    encoder = strip(tensors, "encoder.") or None
    predictor = strip(tensors, "predictor.") or None
    return Checkpoint(source, EXPORT_FORMAT, encoder, predictor, dict(config.get("encoder") or {}),
                      dict(config.get("predictor") or {}))  # fmt: skip
