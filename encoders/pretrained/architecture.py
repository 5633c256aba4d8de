"""The architecture a state dict implies: sizes read from tensor shapes, the position table's grid and layout found
by matching it against our sin-cos tables, heads from the official size table. Overrides win where weights are
silent (heads, input size of a RoPE model) and are an error where they contradict the tensors."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from encoders.positions import sincos_2d, sincos_3d
from encoders.pretrained.checkpoint import Checkpoint, PretrainedError
from encoders.pretrained.official_names import check_num_patches, translate
from encoders.vit import SIZES

V_JEPA2_FORMATS = ("vjepa2", "vjepa2_ac", "huggingface_vjepa2")
GRID_KEYS = ("img_size", "patch_size", "num_frames", "tubelet_size")  # what a predictor shares with its encoder


def _depth(state: dict[str, Tensor], prefix: str) -> int:
    indices = [int(k[len(prefix) :].split(".")[0]) for k in state if k.startswith(prefix)]
    return max(indices) + 1 if indices else 0


def _grid_of_table(table: Tensor, dim: int, video: bool) -> dict[str, Any] | None:
    """Grid and layout of a stored sin-cos table ``[1, N, dim]``: the first of our tables that equals it."""
    n = table.shape[1]
    for t in [d for d in range(1, n + 1) if n % d == 0] if video else [1]:
        side = math.isqrt(n // t)
        if side * side * t != n:
            continue
        if video:
            for uniform in (True, False):
                if torch.allclose(sincos_3d(dim, t, side, side, uniform).float(), table[0].float(), atol=1e-5):
                    return {"grid": (t, side, side), "uniform_power": uniform}
        else:
            for column_first in (True, False):
                if torch.allclose(sincos_2d(dim, side, side, column_first).float(), table[0].float(), atol=1e-5):
                    return {"grid": (1, side, side), "sincos_column_first": column_first}
    return None


def official_num_heads(embed_dim: int, depth: int, mlp_ratio: float, fmt: str) -> int | None:
    """Heads of the official size with this width, depth and MLP ratio (V-JEPA 2's giants have 64-dim heads)."""
    matches = [(name, s) for name, s in SIZES.items() if s["embed_dim"] == embed_dim and s["depth"] == depth
               and math.isclose(s.get("mlp_ratio", 4.0), mlp_ratio, rel_tol=1e-3)]  # fmt: skip
    if fmt in V_JEPA2_FORMATS:
        matches.sort(key=lambda m: not m[0].endswith("_xformers"))
    else:
        matches.sort(key=lambda m: m[0].endswith("_xformers"))
    return matches[0][1]["num_heads"] if matches else None


def merge_overrides(
    read: dict[str, Any], hints: dict[str, Any], overrides: dict[str, Any], source: str
) -> dict[str, Any]:
    """Facts read from tensors, then the file's hints, then overrides; an override that contradicts a tensor fact
    is an error."""
    for key, value in overrides.items():
        if key in read and read[key] != value and not (isinstance(value, float) and math.isclose(read[key], value)):
            raise PretrainedError(f"override {key}={value!r} contradicts {source}: its tensors say {key}={read[key]!r}")
    return {**hints, **read, **overrides}


def encoder_facts(ckpt: Checkpoint, overrides: dict[str, Any]) -> dict[str, Any]:
    """What the weights of ``ckpt.encoder``, its file's hints and ``overrides`` (official names as the official
    code spells them) say of the encoder; heads and a RoPE model's input size only where known."""
    state = ckpt.encoder
    if not state or "patch_embed.proj.weight" not in state:
        raise PretrainedError(f"{ckpt.source}: no encoder weights found (format {ckpt.format})")
    proj = state["patch_embed.proj.weight"]
    embed_dim, depth = proj.shape[0], _depth(state, "blocks.")
    read: dict[str, Any] = {
        "embed_dim": embed_dim, "depth": depth, "in_chans": proj.shape[1], "patch_size": proj.shape[-1],
        "mlp_ratio": state["blocks.0.mlp.fc1.weight"].shape[0] / embed_dim,
        "qkv_bias": "blocks.0.attn.qkv.bias" in state, "use_rope": "pos_embed" not in state,
    }  # fmt: skip
    video = proj.ndim == 5
    if video:
        read["tubelet_size"] = proj.shape[2]
    if "pos_embed" in state:
        layout = _grid_of_table(state["pos_embed"], embed_dim, video)
        if layout is not None:
            t, h, _ = layout.pop("grid")
            read.update(img_size=h * read["patch_size"], **layout)
            read["num_frames"] = t * read["tubelet_size"] if video else 1
    overrides = translate(overrides, read, "embed_dim", ckpt.source)
    kwargs = merge_overrides(read, ckpt.encoder_hints, overrides, ckpt.source)
    if not video:
        kwargs["num_frames"] = 1
    if "num_heads" not in kwargs:
        heads = official_num_heads(embed_dim, depth, kwargs["mlp_ratio"], ckpt.format)
        if heads is not None:
            kwargs["num_heads"] = heads
    return kwargs


def encoder_kwargs(ckpt: Checkpoint, overrides: dict[str, Any]) -> dict[str, Any]:
    """``VisionTransformer`` arguments for ``ckpt.encoder``: :func:`encoder_facts`, which must include heads and
    the input size."""
    kwargs = encoder_facts(ckpt, overrides)
    if "num_heads" not in kwargs:
        raise PretrainedError(f"{ckpt.source}: width {kwargs['embed_dim']} and depth {kwargs['depth']} are no "
                              "official size, so the number of heads cannot be read from the weights: pass "
                              "num_heads=...")  # fmt: skip
    if "img_size" not in kwargs:
        raise PretrainedError(f"{ckpt.source}: the input size cannot be read from the weights: pass img_size=...")
    return kwargs


def predictor_kwargs(ckpt: Checkpoint, overrides: dict[str, Any], encoder: dict[str, Any]) -> dict[str, Any]:
    """``MaskTokenPredictor`` arguments for ``ckpt.predictor`` on the grid of ``encoder`` (its kwargs)."""
    state = ckpt.predictor
    if not state or "predictor_embed.weight" not in state:
        raise PretrainedError(f"{ckpt.source}: no mask-token predictor weights found (format {ckpt.format})")
    embed = state["predictor_embed.weight"]
    width = embed.shape[0]
    read: dict[str, Any] = {
        "embed_dim": embed.shape[1], "predictor_embed_dim": width, "depth": _depth(state, "predictor_blocks."),
        "mlp_ratio": state["predictor_blocks.0.mlp.fc1.weight"].shape[0] / width,
        "qkv_bias": "predictor_blocks.0.attn.qkv.bias" in state,
        "num_mask_tokens": sum(1 for k in state if k.startswith("mask_tokens.")),
        "use_rope": "predictor_pos_embed" not in state,
    }  # fmt: skip
    video = encoder["num_frames"] > 1
    if "predictor_pos_embed" in state:
        layout = _grid_of_table(state["predictor_pos_embed"], width, video)
        if layout is not None:
            layout.pop("grid")
            read.update(layout)
    grid = {k: encoder[k] for k in GRID_KEYS if k in encoder}
    overrides = translate(overrides, read, "predictor_embed_dim", ckpt.source)
    if "num_patches" in overrides:
        check_num_patches(overrides.pop("num_patches"), grid, ckpt.source)
    hints = {"num_heads": 12 if ckpt.format in V_JEPA2_FORMATS and width == 384 else encoder.get("num_heads"),
             **ckpt.predictor_hints}  # fmt: skip
    hints = {k: v for k, v in hints.items() if v is not None}
    kwargs = merge_overrides(read, {**grid, **hints}, overrides, ckpt.source)
    for key, name in (("num_heads", "num_heads"), ("img_size", "img_size")):
        if key not in kwargs:
            raise PretrainedError(f"{ckpt.source}: the predictor's {key} cannot be read from the weights: pass "
                                  f"{name}=...")  # fmt: skip
    return kwargs


def is_action_conditioned(state: dict[str, Tensor]) -> bool:
    """A V-JEPA 2-AC predictor state dict (action and state encoders) rather than a mask-token predictor."""
    return "action_encoder.weight" in state


def action_conditioned_kwargs(ckpt: Checkpoint, overrides: dict[str, Any], encoder: dict[str, Any]) -> dict[str, Any]:
    """``ActionConditionedPredictor`` arguments for ``ckpt.predictor`` on the frame grid of ``encoder``."""
    state = ckpt.predictor or {}
    embed = state["predictor_embed.weight"]
    width = embed.shape[0]
    read: dict[str, Any] = {
        "embed_dim": embed.shape[1], "predictor_embed_dim": width, "depth": _depth(state, "predictor_blocks."),
        "action_embed_dim": state["action_encoder.weight"].shape[1],
        "mlp_ratio": state["predictor_blocks.0.mlp.fc1.weight"].shape[0] / width,
        "qkv_bias": "predictor_blocks.0.attn.qkv.bias" in state,
    }  # fmt: skip
    hints = {k: encoder[k] for k in ("img_size", "patch_size") if k in encoder}
    hints.update(rope_tiled_freqs=True)
    hints.update({k: v for k, v in ckpt.predictor_hints.items() if k in ("num_heads", "use_extrinsics")})
    if width == 1024 and "num_heads" not in hints:
        hints["num_heads"] = 16  # the released V-JEPA 2-AC predictor
    overrides = translate(overrides, read, "predictor_embed_dim", ckpt.source,
                          unused=("num_frames", "tubelet_size", "uniform_power"), fixed={"use_rope": True})  # fmt: skip
    kwargs = merge_overrides(read, hints, overrides, ckpt.source)
    if "img_size" not in kwargs:
        raise PretrainedError(f"{ckpt.source}: the predictor's input size cannot be read from the weights: pass "
                              "img_size=...")  # fmt: skip
    if "num_heads" not in kwargs:
        raise PretrainedError(f"{ckpt.source}: an action-conditioned predictor {width} wide is no official size, so "
                              "the number of heads cannot be read from the weights: pass num_heads=...")  # fmt: skip
    return kwargs


def load_strict(module: nn.Module, state: dict[str, Tensor], ckpt: Checkpoint, kwargs: dict[str, Any]) -> None:
    """Load ``state`` into ``module`` or raise one error naming every missing, unexpected and misshapen key and the
    architecture that was assumed."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    misshapen = [f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}" for k in sorted(set(own) & set(state))
                 if state[k].shape != own[k].shape]  # fmt: skip
    if missing or unexpected or misshapen:
        parts = [f"{name}: {', '.join(keys[:8])}{' …' if len(keys) > 8 else ''}" for name, keys in
                 (("missing keys", missing), ("unexpected keys", unexpected), ("shape mismatches (file vs model)",
                  misshapen)) if keys]  # fmt: skip
        assumed = ", ".join(f"{k}={v}" for k, v in sorted(kwargs.items()))
        raise PretrainedError(f"{ckpt.source} ({ckpt.format}) does not fit the assumed {type(module).__name__}"
                              f"({assumed}): {'; '.join(parts)}")  # fmt: skip
    module.load_state_dict(state, strict=True)
