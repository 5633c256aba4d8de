"""The official constructors' arguments, spelled as the official configs spell them, turned into ours: lists for
sizes, MLP ratios the official code floors (``int(dim * mlp_ratio)``), ``norm_layer`` callables, and flags that
change how a module runs but not what it computes. A value is refused only where the module it builds would differ
from ours; the error names the argument and what we build."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

from torch import nn

from encoders.pretrained.checkpoint import PretrainedError

RUNTIME_FLAGS = ("use_sdpa", "zero_init_mask_tokens")  # how attention runs, how weights start: loading replaces them
ONLY_VALUE = {"use_mask_tokens": True, "is_frame_causal": True, "use_silu": False}  # what our modules always build


def layer_norm_eps(norm_layer: Callable[..., nn.Module], where: str) -> float:
    """The ``eps`` of an official ``norm_layer`` (``nn.LayerNorm`` or ``partial(nn.LayerNorm, eps=...)``)."""
    base = norm_layer.func if isinstance(norm_layer, functools.partial) else norm_layer
    if base is not nn.LayerNorm:
        raise PretrainedError(f"{where}: norm_layer={norm_layer!r}: only nn.LayerNorm (any eps) is built here")
    keywords = norm_layer.keywords if isinstance(norm_layer, functools.partial) else {}
    return float(keywords.get("eps", 1e-5))


def size_value(value: Any) -> Any:
    """``img_size`` as the official code takes it (``96``, ``[96]``, ``(96, 96)``) in our form: an int when square."""
    if isinstance(value, (list, tuple)):
        if len(value) == 1 or (len(value) == 2 and value[0] == value[1]):
            return int(value[0])
        return tuple(int(v) for v in value)
    return value


def translate(kwargs: dict[str, Any], read: dict[str, Any], width_key: str, where: str,
              unused: tuple[str, ...] = (), fixed: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """Our constructor arguments for official ``kwargs``, checked against what the weights say (``read``; the MLP
    is ``width_key`` wide): sizes as ints, ``mlp_ratio`` as the ratio the weights have when the official code's
    ``int(width * mlp_ratio)`` gives their hidden width, ``norm_layer`` as ``norm_eps``, activation checkpointing as
    ``grad_checkpointing``; runtime and initialisation flags are checked to be flags and dropped, as are ``unused``
    arguments (the module's official constructor takes them, its architecture does not depend on them); ``fixed``
    arguments (beside :data:`ONLY_VALUE`) must have the one value this module builds."""
    fixed = {**ONLY_VALUE, **(fixed or {})}
    out: dict[str, Any] = {}
    for key, value in kwargs.items():
        if key in RUNTIME_FLAGS or key == "wide_silu" and not kwargs.get("use_silu", False):
            if not isinstance(value, bool):
                raise PretrainedError(f"{where}: {key}={value!r} is a flag: True or False")
        elif key in fixed:
            if value != fixed[key]:
                raise PretrainedError(f"{where}: {key}={value!r}: the module built here has {key}={fixed[key]}")
        elif key in unused:
            continue
        elif key == "img_size":
            out[key] = size_value(value)
        elif key == "mlp_ratio" and "mlp_ratio" in read and width_key in read:
            width, hidden = read[width_key], round(read["mlp_ratio"] * read[width_key])
            if int(width * value) != hidden:
                raise PretrainedError(f"override mlp_ratio={value!r} contradicts {where}: int({width} × {value}) = "
                                      f"{int(width * value)} hidden units, the weights have {hidden}")  # fmt: skip
            out[key] = read["mlp_ratio"]
        elif key == "norm_layer":
            out["norm_eps"] = layer_norm_eps(value, where)
        elif key == "use_activation_checkpointing":
            out["grad_checkpointing"] = bool(value)
        else:
            out[key] = value
    return out


def check_num_patches(num_patches: int, grid: dict[str, Any], where: str) -> None:
    """I-JEPA's predictor takes its grid as ``num_patches``: it must be the encoder grid's token count."""
    size = grid.get("img_size")
    if size is None:
        return
    side = [s // grid["patch_size"] for s in ((size, size) if isinstance(size, int) else size)]
    if math.prod(side) != num_patches:
        raise PretrainedError(f"{where}: num_patches={num_patches} contradicts the {side[0]}x{side[1]} grid of "
                              f"img_size={size}, patch_size={grid['patch_size']}")  # fmt: skip
