"""Position information for patch tokens: fixed sin-cos tables (1-D, 2-D, 3-D) and 3-D rotary embeddings (RoPE).

Layouts follow the official releases so that their checkpoints give their outputs: each 1-D part is
``[sin(all freqs), cos(all freqs)]``; I-JEPA's 2-D table puts the column half first; 3-D tables are
``[time, row, column]``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def sincos_1d(dim: int, positions: Tensor) -> Tensor:
    """``[len(positions), dim]`` table ``[sin(p * w_k), cos(p * w_k)]`` with ``w_k = 10000^(-2k/dim)``."""
    if dim % 2:
        raise ValueError(f"a sin-cos table needs an even dimension, got {dim}")
    omega = torch.arange(dim // 2, dtype=torch.float64) / (dim / 2.0)
    omega = 1.0 / 10000**omega
    out = positions.to(torch.float64).reshape(-1, 1) * omega.reshape(1, -1)
    return torch.cat([out.sin(), out.cos()], dim=1).float()


def sincos_2d(dim: int, grid_h: int, grid_w: int, column_first: bool = True) -> Tensor:
    """``[grid_h * grid_w, dim]`` table over a row-major patch grid; half the dims for rows, half for columns.

    ``column_first=True`` is I-JEPA's layout (column half first); V-JEPA's 2-D table is row first.
    """
    rows, cols = torch.meshgrid(torch.arange(grid_h), torch.arange(grid_w), indexing="ij")
    emb_rows, emb_cols = sincos_1d(dim // 2, rows.reshape(-1)), sincos_1d(dim // 2, cols.reshape(-1))
    return torch.cat([emb_cols, emb_rows] if column_first else [emb_rows, emb_cols], dim=1)


def sincos_3d(dim: int, grid_t: int, grid_h: int, grid_w: int, uniform_power: bool = False) -> Tensor:
    """``[grid_t * grid_h * grid_w, dim]`` table, parts ordered ``[time, row, column]``.

    Without ``uniform_power`` time takes half the dims and rows/columns a quarter each; with it each axis takes
    ``2 * ceil(dim / 6)`` dims and the concatenation is cut to ``dim`` (as V-JEPA releases it).
    """
    t, h, w = torch.meshgrid(torch.arange(grid_t), torch.arange(grid_h), torch.arange(grid_w), indexing="ij")
    if uniform_power:
        dim_t = dim_h = dim_w = 2 * math.ceil(dim / 6)
    else:
        dim_t, dim_h, dim_w = dim // 2, dim // 4, dim // 4
    parts = [sincos_1d(dim_t, t.reshape(-1)), sincos_1d(dim_h, h.reshape(-1)), sincos_1d(dim_w, w.reshape(-1))]
    return torch.cat(parts, dim=1)[:, :dim]


def token_grid_positions(index: Tensor, grid_h: int, grid_w: int) -> Tensor:
    """``[..., 3]`` integer (frame, row, column) of row-major token indices on a ``[T, grid_h, grid_w]`` grid."""
    per_frame = grid_h * grid_w
    frame, rest = index // per_frame, index % per_frame
    return torch.stack([frame, rest // grid_w, rest % grid_w], dim=-1)


class RotaryEmbedding3D(nn.Module):
    """3-D RoPE: each head's dims are split into time, row and column slices, each rotated by its coordinate.

    Each slice has ``2 * ((head_dim // 3) // 2)`` dims; a leftover tail is not rotated. Rotation acts on adjacent
    pairs ``(x0, x1), (x2, x3), ...``. ``tiled_freqs=True`` reproduces V-JEPA 2 as released, where the sin/cos
    table is the ``n/2`` frequencies tiled twice, so a pair's two members turn at different frequencies; ``False``
    gives both members of a pair the same frequency (the textbook rotation).
    """

    def __init__(self, head_dim: int, theta: float = 10000.0, tiled_freqs: bool = False) -> None:
        super().__init__()
        if head_dim % 2:
            raise ValueError(f"RoPE needs an even head dimension, got {head_dim}")
        self.head_dim = head_dim
        self.slice_dim = 2 * ((head_dim // 3) // 2)
        self.theta = theta
        self.tiled_freqs = tiled_freqs
        omega = torch.arange(self.slice_dim // 2, dtype=torch.float32) / (self.slice_dim / 2.0)
        self.register_buffer("omega", 1.0 / theta**omega, persistent=False)

    def cos_sin(self, positions: Tensor) -> tuple[Tensor, Tensor]:
        """Tables ``[..., head_dim]`` for ``positions [..., 3]`` (frame, row, column); tail dims get cos 1, sin 0."""
        angles = positions.to(self.omega.dtype).unsqueeze(-1) * self.omega  # [..., 3, n/2]
        if self.tiled_freqs:
            angles = torch.cat([angles, angles], dim=-1)
        else:
            angles = torch.repeat_interleave(angles, 2, dim=-1)
        angles = angles.flatten(-2)  # [..., 3 * slice_dim]
        tail = self.head_dim - angles.shape[-1]
        cos, sin = angles.cos(), angles.sin()
        if tail:
            cos = torch.cat([cos, cos.new_ones(*cos.shape[:-1], tail)], dim=-1)
            sin = torch.cat([sin, sin.new_zeros(*sin.shape[:-1], tail)], dim=-1)
        return cos, sin


def apply_rotary(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate adjacent pairs of ``x [T, H, D]`` by the angles in ``cos, sin [T, D]``."""
    x1, x2 = x.unflatten(-1, (-1, 2)).unbind(-1)
    rotated = torch.stack([-x2, x1], dim=-1).flatten(-2)
    return x * cos.unsqueeze(-2).to(x.dtype) + rotated * sin.unsqueeze(-2).to(x.dtype)
