"""What the benchmark scripts (tools/bench_*.py) share: the device and autocast-dtype options, the device's name, and
their entry (bad input is one line, not a traceback)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

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


def run_script(main: Callable[[list[str]], None]) -> int:
    """Run a benchmark's ``main`` on the command line's arguments; bad input (an unknown key, a wrong value, a
    missing file) is one line on stderr and exit status 2."""
    from jepa.errors import InputError

    try:
        main(sys.argv[1:])
    except InputError as err:
        print(f"{Path(sys.argv[0]).name}: error: {err}", file=sys.stderr)
        return 2
    return 0
