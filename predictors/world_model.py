"""A latent world model: a frame encoder and an action-conditioned predictor, with the rollout that both the
rollout loss and the planner use. The encoder is either frozen, its patch tokens the latents (V-JEPA 2-AC), or
trained with the predictor, the latents then its mean token (one a frame, LeWM) or each of its patch tokens, through
a projector."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from encoders.vit import VisionTransformer
from predictors.action_conditioned import ActionConditionedPredictor


def frame_tokens(encoder: VisionTransformer, frames: Tensor) -> Tensor:
    """``frames [B, T, 3, H, W]`` → tokens ``[B, T, N, D]``, each frame encoded alone (a video encoder sees it as a
    still tubelet, as V-JEPA 2-AC does)."""
    batch, steps = frames.shape[:2]
    x = frames.flatten(0, 1)
    if encoder.is_video:
        x = x.unsqueeze(2).expand(-1, -1, encoder.tubelet_size, -1, -1)
    tokens = encoder(x)
    return tokens.view(batch, steps, *tokens.shape[1:])


class LatentWorldModel(nn.Module):
    """Encodes each frame alone (:func:`frame_tokens`) and predicts the next frames' latents from past latents,
    actions and states. Without ``projector`` the encoder is frozen and a frame's latents are its tokens
    (layer-normed when ``normalize_reps``); with one, the encoder trains and a frame's latent is its mean token
    through the projector (``pooled``: the predictor then takes one token per frame, a 1×1 grid) or each of its
    tokens through it (the encoder's grid)."""

    def __init__(self, encoder: VisionTransformer, predictor: ActionConditionedPredictor, normalize_reps: bool = True,
                 projector: nn.Module | None = None, pooled: bool = True) -> None:  # fmt: skip
        super().__init__()
        pooled = pooled and projector is not None
        grid = (1, 1) if pooled else encoder.grid[-2:]
        width = encoder.embed_dim if projector is None else projector.out_dim
        if predictor.grid != grid or predictor.embed_dim != width:
            raise ValueError(f"the predictor takes {predictor.grid} grids of {predictor.embed_dim}-wide tokens but the "
                             f"encoder gives {grid} of {width}")  # fmt: skip
        self.encoder = encoder if projector is not None else encoder.requires_grad_(False)
        self.predictor, self.projector, self.normalize_reps, self.pooled = predictor, projector, normalize_reps, pooled
        self.tokens_per_frame = predictor.grid[0] * predictor.grid[1]

    def _norm(self, z: Tensor) -> Tensor:
        return F.layer_norm(z, z.shape[-1:]) if self.normalize_reps else z

    def encode(self, frames: Tensor) -> Tensor:
        """``frames [B, T, 3, H, W]`` → latents ``[B, T * N, D]``, each frame encoded on its own (with gradients when
        the encoder trains)."""
        if self.projector is None:
            with torch.no_grad():
                return self._norm(frame_tokens(self.encoder, frames).flatten(1, 2))
        tokens = frame_tokens(self.encoder, frames)  # [B, T, N, D]
        if self.pooled:
            tokens = tokens.mean(dim=2, keepdim=True)
        latents = self.projector(tokens.flatten(0, 2)).view(*tokens.shape[:3], -1)
        return self._norm(latents.flatten(1, 2))

    def step(self, tokens: Tensor, actions: Tensor, states: Tensor) -> Tensor:
        """Teacher-forced predictions: frame ``t``'s output predicts frame ``t + 1`` (``[B, T * N, D]``)."""
        return self._norm(self.predictor(tokens, actions, states))

    def rollout(self, context: Tensor, actions: Tensor, states: Tensor) -> Tensor:
        """From the tokens of ``C`` observed frames ``[B, C * N, D]``, predict the frames after them autoregressively,
        feeding predictions back: one per action past the context's ``C - 1``. ``actions`` and ``states`` ``[B, C - 1
        + H, A]`` are those at frames ``0 .. C + H - 2``; returns the ``H`` predicted frames ``[B, H * N, D]``. The
        predictor's keys and values are cached, so each step computes one frame."""
        n = self.tokens_per_frame
        observed = context.shape[1] // n
        frame, cache, predicted = context[:, :n], None, []
        for t in range(actions.shape[1]):
            out, cache = self.predictor.forward_cached(frame, actions[:, t : t + 1], states[:, t : t + 1], cache)
            nxt = self._norm(out)
            if t + 1 >= observed:
                predicted.append(nxt)
            frame = context[:, (t + 1) * n : (t + 2) * n] if t + 1 < observed else nxt
        return torch.cat(predicted, dim=1)
