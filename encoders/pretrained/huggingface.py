"""Hugging Face folders (``config.json`` + ``model.safetensors``) mapped to our names. ``VJEPA2Model``: separate
query/key/value become one ``qkv``, the stacked ``mask_tokens [n, 1, 1, D]`` become ``mask_tokens.i``.
``IJepaModel`` (ViT naming: ``attention.attention.query``, ``intermediate.dense``, ``layernorm_before``, ...): the
same, with its ``position_embeddings`` as our ``pos_embed``."""

from __future__ import annotations

import re
from typing import Any

import torch
from torch import Tensor

from encoders.pretrained.checkpoint import Checkpoint, PretrainedError

IJEPA_RENAMES = (
    (r"^embeddings\.patch_embeddings\.projection\.", "patch_embed.proj."),
    (r"^embeddings\.position_embeddings$", "pos_embed"),
    (r"^encoder\.layer\.(\d+)\.attention\.attention\.(query|key|value)\.", r"blocks.\1.attention.\2."),
    (r"^encoder\.layer\.(\d+)\.attention\.output\.dense\.", r"blocks.\1.attn.proj."),
    (r"^encoder\.layer\.(\d+)\.intermediate\.dense\.", r"blocks.\1.mlp.fc1."),
    (r"^encoder\.layer\.(\d+)\.output\.dense\.", r"blocks.\1.mlp.fc2."),
    (r"^encoder\.layer\.(\d+)\.layernorm_before\.", r"blocks.\1.norm1."),
    (r"^encoder\.layer\.(\d+)\.layernorm_after\.", r"blocks.\1.norm2."),
    (r"^layernorm\.", "norm."),
)
RENAMES = (
    (r"^embeddings\.patch_embeddings\.proj\.", "patch_embed.proj."),
    (r"^embeddings\.predictor_embeddings\.", "predictor_embed."),
    (r"^layer\.(\d+)\.attention\.proj\.", r"blocks.\1.attn.proj."),
    (r"^layer\.(\d+)\.", r"blocks.\1."),
    (r"^layernorm\.", "norm."),
)


def _map(
    state: dict[str, Tensor], predictor: bool, renames: tuple[tuple[str, str], ...] = RENAMES
) -> dict[str, Tensor]:
    out: dict[str, Tensor] = {}
    for key, value in state.items():
        if key == "embeddings.mask_tokens":
            out.update({f"mask_tokens.{i}": t for i, t in enumerate(value)})
            continue
        for pattern, repl in renames:
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
    if config.get("model_type") == "ijepa":
        state = {
            k.removeprefix("ijepa."): v for k, v in tensors.items() if not k.startswith(("pooler.", "classifier."))
        }
        encoder = _map(state, False, IJEPA_RENAMES)
        hints = {"img_size": config["image_size"], "num_heads": config["num_attention_heads"],
                 "norm_eps": config.get("layer_norm_eps", 1e-12)}  # fmt: skip
        return Checkpoint(source, "huggingface_ijepa", encoder, None, hints)
    if config.get("model_type") != "vjepa2":
        raise PretrainedError(f"{source}: Hugging Face model_type {config.get('model_type')!r} is not supported "
                              "(VJEPA2Model and IJepaModel folders are)")  # fmt: skip
    encoder = _map({k[len("encoder.") :]: v for k, v in tensors.items() if k.startswith("encoder.")}, False)
    predictor = _map({k[len("predictor.") :]: v for k, v in tensors.items() if k.startswith("predictor.")}, True)
    encoder_hints = {
        "img_size": config["crop_size"], "num_frames": config["frames_per_clip"], "num_heads":
        config["num_attention_heads"], "use_rope": True, "rope_tiled_freqs": True, "norm_eps": config["layer_norm_eps"],
    }  # fmt: skip
    predictor_hints = {"num_heads": config["pred_num_attention_heads"], "use_rope": True, "rope_tiled_freqs": True}
    return Checkpoint(source, "huggingface_vjepa2", encoder, predictor or None, encoder_hints, predictor_hints)
