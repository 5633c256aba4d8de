"""Load pretrained encoders from any source we know, strictly, recognising format and architecture from the file.

Sources: official I-JEPA ``.pth.tar``, V-JEPA ``.pth.tar``, V-JEPA 2 ``.pt`` (and 2-AC), Hugging Face
``VJEPA2Model`` folders, our Lightning checkpoints and our exports (``jepa convert``), or an official model name
(``vjepa2_vit_large``, ...: fetched into the torch hub cache). Only weights are read
(``torch.load(weights_only=True)`` or safetensors): no pickled code runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from encoders.pretrained.architecture import encoder_kwargs, load_strict
from encoders.pretrained.checkpoint import Checkpoint, PretrainedError, load_tensors
from encoders.pretrained.huggingface import read_huggingface
from encoders.pretrained.official import is_official, read_official
from encoders.pretrained.ours import EXPORT_FORMAT, is_lightning, read_export, read_lightning
from encoders.pretrained.registry import OFFICIAL_MODELS, resolve
from encoders.vit import VisionTransformer

__all__ = [
    "OFFICIAL_MODELS",
    "Checkpoint",
    "PretrainedError",
    "export_pretrained",
    "load_pretrained",
    "read_checkpoint",
]


def read_checkpoint(source: str | Path, which: str = "target_encoder") -> Checkpoint:
    """The weights (in our names) and architecture hints of ``source``: a file, a folder, or an official model name
    (:data:`encoders.pretrained.registry.OFFICIAL_MODELS`)."""
    path = Path(source).expanduser()
    looks_like_name = isinstance(source, str) and not any(c in source for c in "/.\\")
    if not path.exists() and looks_like_name:
        path, entry = resolve(source)
        ckpt = read_checkpoint(path, which)
        ckpt.encoder_hints.update(entry.overrides)
        return ckpt
    if not path.exists():
        raise PretrainedError(f"{path}: no such file or folder")
    if path.is_dir():
        config_path, weights = path / "config.json", path / "model.safetensors"
        if not (config_path.is_file() and weights.is_file()):
            raise PretrainedError(f"{path}: a pretrained folder needs config.json and model.safetensors")
        config = json.loads(config_path.read_text())
        tensors = load_tensors(weights)
        if config.get("format") == EXPORT_FORMAT:
            return read_export(tensors, config, str(path))
        return read_huggingface(tensors, config, str(path))
    raw = load_tensors(path)
    if is_lightning(raw):
        return read_lightning(raw, str(path), which)
    if is_official(raw):
        return read_official(raw, str(path), which)
    raise PretrainedError(f"{path}: not a checkpoint layout we know (top-level keys: {sorted(raw)[:8]})")


def load_pretrained(source: str | Path, which: str = "target_encoder", **overrides: Any) -> VisionTransformer:
    """The encoder of ``source`` in eval mode: ``which`` is ``target_encoder`` (default, where the file has one) or
    ``encoder``; ``overrides`` take the official constructor names (``num_heads``, ``img_size``, ``num_frames``, ...)
    and win where the weights are silent. Missing, unexpected or misshapen keys are one :class:`PretrainedError`."""
    ckpt = read_checkpoint(source, which)
    kwargs = encoder_kwargs(ckpt, overrides)
    model = VisionTransformer(**kwargs)
    load_strict(model, ckpt.encoder, ckpt, kwargs)
    return model.eval()
