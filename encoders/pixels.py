"""The raw-pixel baseline as an encoder: the input itself, flattened into one token, for the probes that pool."""

from __future__ import annotations

from torch import Tensor, nn

from encoders.vit import to_pair


class PixelEncoder(nn.Module):
    """``[B, C, H, W]`` or ``[B, C, T, H, W]`` (already normalised per channel by the data) → ``[B, 1, C·T·H·W]``:
    what a probe of pooled features reads when there is no encoder at all."""

    def __init__(self, img_size: int, num_frames: int = 1) -> None:
        super().__init__()
        self.img_size, self.num_frames = to_pair(img_size), num_frames

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(1)[:, None]
