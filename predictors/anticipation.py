"""A frozen encoder and predictor that look ahead: the encoder's tokens of a clip, followed by the predictor's
tokens for the frames a chosen time after the clip ends (V-JEPA 2's action-anticipation model)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from predictors.mask_token import MaskTokenPredictor


class AnticipativeEncoder(nn.Module):
    """``clips [B, 3, T, H, W]`` and anticipation times ``[B]`` (seconds) → ``[B, N + N_future, D]``: the clip's
    tokens, then the predictor's tokens for ``num_output_frames`` frames starting ``time * fps`` frames after the
    clip (``fps``: the clip's frame rate), predicted from the whole clip as context."""

    def __init__(self, encoder: nn.Module, predictor: MaskTokenPredictor, fps: float,
                 num_output_frames: int = 2) -> None:  # fmt: skip
        super().__init__()
        self.encoder, self.predictor, self.fps = encoder, predictor, fps
        self.tubelet_size = encoder.tubelet_size
        self.num_output_frames = max(num_output_frames, self.tubelet_size)
        self.embed_dim = encoder.embed_dim

    def target_positions(self, num_tokens: int, times: Tensor) -> Tensor:
        """Token positions ``[B, N_future]`` of the future frames, on the clip's grid continued in time."""
        per_frame = self.encoder.grid[1] * self.encoder.grid[2]
        steps = (times * self.fps / self.tubelet_size).to(torch.int64)
        future = per_frame * (self.num_output_frames // self.tubelet_size)
        positions = num_tokens + per_frame * steps[:, None] + torch.arange(future, device=times.device)
        needed = int(positions.max()) + 1
        if not self.predictor.use_rope and needed > self.predictor.num_patches:
            raise ValueError(f"the predictor's sin-cos positions cover {self.predictor.num_patches} tokens; "
                             f"anticipating {float(times.max()):g}s ahead needs {needed}")  # fmt: skip
        return positions

    @torch.no_grad()
    def forward(self, clips: Tensor, times: Tensor) -> Tensor:
        tokens = self.encoder(clips)
        batch, n, _ = tokens.shape
        context = torch.arange(n, device=tokens.device).expand(batch, n)
        future = self.predictor(tokens, context, self.target_positions(n, times.to(tokens.device)))
        return torch.cat([tokens, future.to(tokens.dtype)], dim=1)
