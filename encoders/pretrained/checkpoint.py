"""What a pretrained source holds, read without running pickled code: its format, the encoder and predictor state
dicts in our parameter names, and the architecture facts the file states (hints)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from jepa.errors import InputError


class PretrainedError(InputError):
    """A pretrained source that cannot be read or does not fit the architecture assumed for it."""


@dataclass
class Checkpoint:
    """Weights in our names (``encoder`` / ``predictor`` state dicts, either may be ``None``) and what the file says
    of the architecture (``encoder_hints`` / ``predictor_hints``: constructor arguments)."""

    source: str
    format: str
    encoder: dict[str, Tensor] | None
    predictor: dict[str, Tensor] | None
    encoder_hints: dict[str, Any] = field(default_factory=dict)
    predictor_hints: dict[str, Any] = field(default_factory=dict)


def load_tensors(path: Path) -> dict[str, Any]:
    """A ``torch.save`` file with ``weights_only=True``, or a safetensors file."""
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises UnpicklingError, RuntimeError, EOFError ... for what it refuses
        raise PretrainedError(f"{path}: cannot be read as a weights-only checkpoint ({err.__class__.__name__}: "
                              f"{str(err).splitlines()[0] if str(err) else ''})") from err  # fmt: skip


def strip(state: dict[str, Tensor], prefix: str) -> dict[str, Tensor]:
    """``state`` without ``prefix`` on its keys (every key must carry it)."""
    return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}


def common_prefix(state: dict[str, Tensor], candidates: tuple[str, ...]) -> str:
    """The longest of ``candidates`` that every key of ``state`` starts with (``""`` if none)."""
    for prefix in sorted(candidates, key=len, reverse=True):
        if state and all(k.startswith(prefix) for k in state):
            return prefix
    return ""
