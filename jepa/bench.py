"""What the benchmark scripts (tools/bench_*.py) share: the device and autocast-dtype options and the device's name."""

from __future__ import annotations

import argparse

import torch


def add_device_options(parser: argparse.ArgumentParser) -> None:
    """``--device`` (CUDA when there is one) and ``--dtype`` (autocast; default bfloat16 on CUDA, float32 on CPU)."""
    parser.add_argument("--dtype", default=None, help="autocast dtype; default bfloat16 on CUDA, float32 on CPU")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")


def device_and_dtype(args: argparse.Namespace) -> tuple[torch.device, torch.dtype]:
    """The device and autocast dtype :func:`add_device_options` parsed."""
    device = torch.device(args.device)
    return device, getattr(torch, args.dtype or ("bfloat16" if device.type == "cuda" else "float32"))


def device_name(device: torch.device) -> str:
    """The GPU's name, or ``cpu``."""
    return torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
