"""``jepa convert``: any pretrained source to our export, ``model.safetensors`` (``encoder.*``, ``predictor.*``) +
``config.json`` (their constructor arguments), which ``load_pretrained`` reads back to identical outputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from encoders.pretrained import EXPORT_FORMAT, read_checkpoint
from encoders.pretrained.architecture import encoder_kwargs, load_strict
from encoders.vit import VisionTransformer
from predictors.pretrained import build_predictor


def export_pretrained(source: str | Path, out_dir: str | Path, which: str = "target_encoder",
                      predictor_overrides: dict[str, Any] | None = None, **overrides: Any) -> Path:  # fmt: skip
    """Write the encoder (``which``, with ``overrides``) and the predictor, when ``source`` has one (with
    ``predictor_overrides``), to ``out_dir``."""
    from safetensors.torch import save_file

    ckpt = read_checkpoint(source, which)
    enc_kwargs = encoder_kwargs(ckpt, overrides)
    modules = {"encoder": (VisionTransformer(**enc_kwargs), enc_kwargs)}
    if ckpt.predictor:
        modules["predictor"] = build_predictor(ckpt, predictor_overrides or {}, enc_kwargs)
    tensors = {}
    for name, (module, kwargs) in modules.items():
        load_strict(module, getattr(ckpt, name), ckpt, kwargs)
        tensors.update({f"{name}.{k}": v.contiguous() for k, v in module.state_dict().items()})
    out = Path(out_dir).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out / "model.safetensors"))
    config = {"format": EXPORT_FORMAT, "version": 1, "source": str(source), "source_format": ckpt.format,
              **{name: kwargs for name, (_, kwargs) in modules.items()}}  # fmt: skip
    (out / "config.json").write_text(json.dumps(config, indent=2, default=list) + "\n")
    return out
