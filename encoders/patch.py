"""Patch embeddings: 2-D patches for images, 3-D tubelets for videos."""

from __future__ import annotations

from torch import Tensor, nn


class PatchEmbed(nn.Module):
    """A strided convolution turning ``[B, C, H, W]`` (or ``[B, C, T, H, W]`` with a tubelet) into ``[B, N, D]``.

    Tokens are ordered row-major over ``(time, row, column)``.
    """

    def __init__(self, in_chans: int, embed_dim: int, patch_size: int, tubelet_size: int | None = None) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.tubelet_size = tubelet_size
        if tubelet_size is None:
            self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)
        else:
            kernel = (tubelet_size, patch_size, patch_size)
            self.proj = nn.Conv3d(in_chans, embed_dim, kernel_size=kernel, stride=kernel)

    def forward(self, x: Tensor) -> Tensor:
        expected = 4 if self.tubelet_size is None else 5
        if x.ndim != expected:
            layout = "[B, C, H, W]" if expected == 4 else "[B, C, T, H, W]"
            raise ValueError(f"expected input {layout}, got shape {tuple(x.shape)}")
        return self.proj(x).flatten(2).transpose(1, 2)
