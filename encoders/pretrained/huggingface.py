"""Hugging Face ``VJEPA2Model`` folders (``config.json`` + ``model.safetensors``), mapped to our names: separate
query/key/value become one ``qkv``, the stacked ``mask_tokens [n, 1, 1, D]`` become ``mask_tokens.i``."""

from __future__ import annotations

import re
from typing import Any

import torch
from torch import Tensor

from encoders.pretrained.checkpoint import Checkpoint, PretrainedError

RENAMES = (
    (r"^embeddings\.patch_embeddings\.proj\.", "patch_embed.proj."),
    (r"^embeddings\.predictor_embeddings\.", "predictor_embed."),
    (r"^layer\.(\d+)\.attention\.proj\.", r"blocks.\1.attn.proj."),
    (r"^layer\.(\d+)\.", r"blocks.\1."),
    (r"^layernorm\.", "norm."),
)


def _map(state: dict[str, Tensor], predictor: bool) -> dict[str, Tensor]:
    out: dict[str, Tensor] = {}
    for key, value in state.items():
        if key == "embeddings.mask_tokens":
            out.update({f"mask_tokens.{i}": t for i, t in enumerate(value)})
            continue
        for pattern, repl in RENAMES:
            key = re.sub(pattern, repl, key)
        out[key] = value
    for layer in sorted({int(m.group(1)) for k in out if (m := re.match(r"blocks\.(\d+)\.attention\.query", k))}):
        base = f"blocks.{layer}.attention."
        for kind in ("weight", "bias"):
            parts = [out.pop(f"{base}{n}.{kind}") for n in ("query", "key", "value") if f"{base}{n}.{kind}" in out]
            if parts:
                out[f"blocks.{layer}.attn.qkv.{kind}"] = torch.cat(parts)
    if predictor:
        names = {"blocks.": "predictor_blocks.", "norm.": "predictor_norm.", "proj.": "predictor_proj."}
        out = {next((v + k[len(p) :] for p, v in names.items() if k.startswith(p)), k): t for k, t in out.items()}
    return out


def read_huggingface(tensors: dict[str, Tensor], config: dict[str, Any], source: str) -> Checkpoint:
    if config.get("model_type") != "vjepa2":
        raise PretrainedError(f"{source}: Hugging Face model_type {config.get('model_type')!r} is not supported "
                              "(VJEPA2Model folders are)")  # fmt: skip
    encoder = _map({k[len("encoder.") :]: v for k, v in tensors.items() if k.startswith("encoder.")}, False)
    predictor = _map({k[len("predictor.") :]: v for k, v in tensors.items() if k.startswith("predictor.")}, True)
    encoder_hints = {
        "img_size": config["crop_size"], "num_frames": config["frames_per_clip"], "num_heads":
        config["num_attention_heads"], "use_rope": True, "rope_tiled_freqs": True, "norm_eps": config["layer_norm_eps"],
    }  # fmt: skip
    predictor_hints = {"num_heads": config["pred_num_attention_heads"], "use_rope": True, "rope_tiled_freqs": True}
    return Checkpoint(source, "huggingface_vjepa2", encoder, predictor or None, encoder_hints, predictor_hints)
