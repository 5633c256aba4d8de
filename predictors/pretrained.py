"""Load the mask-token predictor of a pretrained source (official I-JEPA / V-JEPA / V-JEPA 2, Hugging Face
``VJEPA2Model``, ours), strictly, on the grid of the source's encoder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from encoders.pretrained import read_checkpoint
from encoders.pretrained.architecture import encoder_kwargs, load_strict, predictor_kwargs
from predictors.mask_token import MaskTokenPredictor


def load_pretrained(source: str | Path, encoder_overrides: dict[str, Any] | None = None,
                    **overrides: Any) -> MaskTokenPredictor:  # fmt: skip
    """The predictor of ``source`` in eval mode. ``overrides`` take the constructor names (``num_heads``,
    ``predictor_embed_dim``, ...); ``encoder_overrides`` fix the encoder facts the grid comes from (``img_size``,
    ``num_frames``, ``num_heads``)."""
    ckpt = read_checkpoint(source)
    enc = encoder_kwargs(ckpt, encoder_overrides or {})
    kwargs = predictor_kwargs(ckpt, overrides, enc)
    model = MaskTokenPredictor(**kwargs)
    load_strict(model, ckpt.predictor, ckpt, kwargs)
    return model.eval()
