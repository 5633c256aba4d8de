"""Frozen features of images and videos from a pretrained encoder: per-token and mean-pooled, batched, with a
progress bar, saved as ``.safetensors`` (``pooled``, ``tokens``) or ``.npy`` (``OUT`` pooled, ``OUT_tokens.npy``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from rich.progress import track
from torch import Tensor

from encoders import VisionTransformer
from jepa.data.clip_sampling import clip_indices
from jepa.data.video_lists import IMAGE_SUFFIXES
from jepa.data.video_readers import open_video
from jepa.data.video_transforms import ClipTransform
from jepa.errors import InputError


def read_input(path: Path, encoder: VisionTransformer, num_frames: int, frame_step: int) -> Tensor:
    """One input as the encoder takes it: an image ``[3, H, W]`` (a clip of it repeated for a video encoder), or a
    video's first ``num_frames`` frames every ``frame_step`` ``[3, T, H, W]``; resized and centre-cropped."""
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    transform = ClipTransform(encoder.img_size[0], train=False)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        with Image.open(path) as img:
            frames = np.asarray(img.convert("RGB"))[None]
        clip = transform(frames)
        return clip.expand(-1, max(num_frames, 1), -1, -1) if encoder.is_video else clip[:, 0]
    if not encoder.is_video:
        raise InputError(f"{path}: an image encoder takes images ({', '.join(IMAGE_SUFFIXES)})")
    reader = open_video(str(path))
    (indices,) = clip_indices(reader.num_frames, num_frames, frame_step)
    return transform(reader.get(indices))


@torch.no_grad()
def extract(
    encoder: VisionTransformer,
    paths: Sequence[Path],
    batch_size: int = 8,
    num_frames: int | None = None,
    frame_step: int = 4,
    device: str = "cpu",
) -> tuple[Tensor, list[Tensor]]:
    """Pooled features ``[N, D]`` and per-token features (one ``[tokens, D]`` per input) of ``paths``."""
    frames = min(num_frames or 16, encoder.num_frames) if encoder.is_video else 1
    encoder = encoder.to(device).eval()
    tokens: list[Tensor] = []
    for start in track(range(0, len(paths), batch_size), description="features", transient=True):
        batch = [read_input(p, encoder, frames, frame_step) for p in paths[start : start + batch_size]]
        tokens.extend(encoder(torch.stack(batch).to(device)).float().cpu())
    return torch.stack([t.mean(0) for t in tokens]), tokens


def save_features(out: Path, names: Sequence[str], pooled: Tensor, tokens: Sequence[Tensor]) -> list[Path]:
    """Write the features to ``out`` (``.safetensors`` or ``.npy``); returns the files written."""
    out.parent.mkdir(parents=True, exist_ok=True)
    stacked = torch.stack(list(tokens)) if len({t.shape for t in tokens}) == 1 else None
    if out.suffix == ".safetensors":
        from safetensors.torch import save_file

        extra = {"tokens": stacked} if stacked is not None else {f"tokens.{i}": t for i, t in enumerate(tokens)}
        save_file({"pooled": pooled.contiguous(), **extra}, str(out), metadata={"inputs": json.dumps(list(names))})
        return [out]
    if out.suffix == ".npy":
        np.save(out, pooled.numpy())
        written = [out]
        if stacked is not None:
            written.append(out.with_name(out.stem + "_tokens.npy"))
            np.save(written[-1], stacked.numpy())
        (out.with_suffix(".txt")).write_text("\n".join(names) + "\n")
        return [*written, out.with_suffix(".txt")]
    raise InputError(f"--out {out}: write .safetensors or .npy")
