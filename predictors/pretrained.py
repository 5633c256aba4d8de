"""Load the predictor of a pretrained source, strictly: the mask-token predictor of official I-JEPA / V-JEPA /
V-JEPA 2 files, Hugging Face ``VJEPA2Model`` folders and our files, or the V-JEPA 2-AC action-conditioned
predictor; on the grid of the source's encoder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from encoders.pretrained import Checkpoint, PretrainedError, read_checkpoint
from encoders.pretrained.architecture import (
    action_conditioned_kwargs,
    encoder_kwargs,
    is_action_conditioned,
    load_strict,
    predictor_kwargs,
)
from predictors.action_conditioned import ActionConditionedPredictor
from predictors.mask_token import MaskTokenPredictor


def build_predictor(ckpt: Checkpoint, overrides: dict[str, Any], encoder: dict[str, Any]) -> tuple[nn.Module, dict]:
    """The (unloaded) predictor ``ckpt.predictor`` describes, and its constructor arguments."""
    if not ckpt.predictor:
        raise PretrainedError(f"{ckpt.source}: holds no predictor weights (format {ckpt.format})")
    if is_action_conditioned(ckpt.predictor):
        kwargs = action_conditioned_kwargs(ckpt, overrides, encoder)
        return ActionConditionedPredictor(**kwargs), kwargs
    kwargs = predictor_kwargs(ckpt, overrides, encoder)
    return MaskTokenPredictor(**kwargs), kwargs


def load_pretrained(source: str | Path, encoder_overrides: dict[str, Any] | None = None,
                    **overrides: Any) -> nn.Module:  # fmt: skip
    """The predictor of ``source`` in eval mode: a :class:`MaskTokenPredictor` or, for V-JEPA 2-AC files, an
    :class:`ActionConditionedPredictor`. ``overrides`` take the constructor names (``num_heads``, ...);
    ``encoder_overrides`` fix the encoder facts the grid comes from (``img_size``, ``num_frames``, ``num_heads``)."""
    ckpt = read_checkpoint(source)
    model, kwargs = build_predictor(ckpt, overrides, encoder_kwargs(ckpt, encoder_overrides or {}))
    load_strict(model, ckpt.predictor, ckpt, kwargs)
    return model.eval()
