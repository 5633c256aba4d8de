"""The official release layouts: I-JEPA ``.pth.tar``, V-JEPA ``.pth.tar``, V-JEPA 2 ``.pt`` (and the 2-AC file).

A dict with ``encoder`` / ``target_encoder`` / ``predictor`` state dicts, keys prefixed ``module.`` (I-JEPA, 2-AC)
or ``module.backbone.`` (V-JEPA, V-JEPA 2). I-JEPA has a 2-D sin-cos ``pos_embed`` and one ``mask_token``; V-JEPA a
3-D sin-cos table and ``mask_tokens.i``; V-JEPA 2 no table (3-D RoPE, with the frequency tiling as released).
"""

from __future__ import annotations

from typing import Any

from encoders.pretrained.architecture import is_action_conditioned
from encoders.pretrained.checkpoint import Checkpoint, PretrainedError, common_prefix, strip

PREFIXES = ("module.backbone.", "module.", "backbone.")


def is_official(raw: dict[str, Any]) -> bool:
    return isinstance(raw, dict) and any(isinstance(raw.get(k), dict) for k in ("encoder", "target_encoder"))


def read_official(raw: dict[str, Any], source: str, which: str) -> Checkpoint:
    """Our-named state dicts of an official training checkpoint; ``which`` picks ``target_encoder`` (default where
    present) or ``encoder``."""
    if which not in ("target_encoder", "encoder"):
        raise PretrainedError(f"which={which!r}: choose target_encoder or encoder")
    entry = which if isinstance(raw.get(which), dict) else "encoder"
    encoder_raw = raw[entry]
    prefix = common_prefix(encoder_raw, PREFIXES)
    encoder = strip(encoder_raw, prefix)
    predictor_raw = raw.get("predictor")
    predictor = (
        strip(predictor_raw, common_prefix(predictor_raw, PREFIXES)) if isinstance(predictor_raw, dict) else None
    )
    video = encoder["patch_embed.proj.weight"].ndim == 5 if "patch_embed.proj.weight" in encoder else False
    rope = "pos_embed" not in encoder
    if not video:
        fmt = "ijepa"
    elif rope:
        fmt = "vjepa2_ac" if predictor is not None and is_action_conditioned(predictor) else "vjepa2"
    else:
        fmt = "vjepa"
    if predictor is not None and "mask_token" in predictor:  # I-JEPA's single token
        predictor["mask_tokens.0"] = predictor.pop("mask_token")
    hints: dict[str, Any] = {"use_rope": rope}
    if rope:
        hints.update(rope_tiled_freqs=True, img_size=256, num_frames=64)  # V-JEPA 2 as released
    return Checkpoint(source, fmt, encoder, predictor, hints, {"use_rope": rope, "rope_tiled_freqs": rope})
