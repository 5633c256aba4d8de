"""Shared test helpers: the official fixtures copied into tests/fixtures/official."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

OFFICIAL = Path(__file__).parent / "fixtures" / "official"


def load_official(case: str) -> tuple[dict, dict, dict]:
    """``(manifest, io tensors, checkpoint)`` of one official fixture case."""
    folder = OFFICIAL / case
    manifest = json.loads((folder / "manifest.json").read_text())
    io = torch.load(folder / "io.pt", map_location="cpu", weights_only=True)
    ckpt = torch.load(folder / manifest["checkpoint"]["file"], map_location="cpu", weights_only=True)
    return manifest, io, ckpt


def strip_prefix(state: dict, prefix: str) -> dict:
    assert all(k.startswith(prefix) for k in state), f"not every key starts with {prefix!r}"
    return {k[len(prefix) :]: v for k, v in state.items()}


def assert_official_close(ours: torch.Tensor, ref: torch.Tensor) -> None:
    """The fixtures' tolerance: ``atol = 1e-5 * max(1, max|ref|)``, no relative slack."""
    torch.testing.assert_close(ours, ref, rtol=0, atol=1e-5 * max(1.0, ref.abs().max().item()))


@pytest.fixture(autouse=True)
def _deterministic() -> None:
    torch.manual_seed(0)
