"""The V-JEPA 2-AC world model: predicts next-frame encoder tokens from past frame tokens, actions and states.

Each frame's tokens are preceded by an action token and a state token (and an extrinsics token when used); the
sequence is ``[a_0, s_0, frame_0, a_1, s_1, frame_1, ...]`` and attention is block-causal over frames: a token sees
every token of its own and earlier frames. 3-D RoPE gives frame tokens their (frame, row, column); conditioning
tokens are rotated only in the time slice, by their frame index. Parameter names follow the official release.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from encoders.attention import KVCache
from encoders.packing import SeqLens
from encoders.positions import RotaryEmbedding3D
from encoders.vit import check_checkpointing, init_vit_weights, make_blocks, run_blocks, to_pair


class ActionConditionedPredictor(nn.Module):
    """Block-causal predictor over ``T`` frames of ``(img_size / patch_size)²`` tokens with per-frame actions and
    states (V-JEPA 2-AC; official defaults: ViT-g tokens in, 1024 wide, 24 deep, 16 heads, 7-D actions).
    ``use_states=False`` drops the state token (the states passed are ignored): the model then knows only what the
    frames show, as LeWM does, and a planner's integrated states (which ignore obstacles) cannot mislead it."""

    def __init__(
        self,
        img_size: int | Sequence[int] = 256,
        patch_size: int = 16,
        embed_dim: int = 1408,
        predictor_embed_dim: int = 1024,
        action_embed_dim: int = 7,
        depth: int = 24,
        num_heads: int = 16,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        norm_eps: float = 1e-6,
        use_extrinsics: bool = False,
        use_states: bool = True,
        rope_tiled_freqs: bool = True,
        attn_backend: str = "auto",
        grad_checkpointing: bool | str = False,
        init_std: float = 0.02,
    ) -> None:
        super().__init__()
        size = to_pair(img_size)
        self.grid = (size[0] // patch_size, size[1] // patch_size)
        self.embed_dim, self.use_extrinsics, self.use_states = embed_dim, use_extrinsics, use_states
        self.predictor_embed = nn.Linear(embed_dim, predictor_embed_dim)
        self.action_encoder = nn.Linear(action_embed_dim, predictor_embed_dim)
        self.state_encoder = nn.Linear(action_embed_dim, predictor_embed_dim)
        self.extrinsics_encoder = nn.Linear(action_embed_dim - 1, predictor_embed_dim)  # in the official state dict
        self.rope = RotaryEmbedding3D(predictor_embed_dim // num_heads, tiled_freqs=rope_tiled_freqs)
        self.predictor_blocks = make_blocks(
            predictor_embed_dim, depth, num_heads, mlp_ratio, qkv_bias, 0.0, norm_eps, attn_backend
        )
        self.grad_checkpointing = check_checkpointing(grad_checkpointing)
        self.predictor_norm = nn.LayerNorm(predictor_embed_dim, eps=norm_eps)
        self.predictor_proj = nn.Linear(predictor_embed_dim, embed_dim)
        init_vit_weights(self, self.predictor_blocks, init_std)

    @property
    def num_cond_tokens(self) -> int:
        return 1 + self.use_states + self.use_extrinsics

    def layout(self, num_frames: int, device: torch.device, first_frame: int = 0) -> tuple[Tensor, Tensor]:
        """Positions ``[S, 3]`` of the tokens of frames ``first_frame ..`` and their block-causal mask ``[S, S]``."""
        h, w = self.grid
        per_frame = self.num_cond_tokens + h * w
        frame = torch.arange(first_frame, first_frame + num_frames, device=device).repeat_interleave(per_frame)
        slot = torch.arange(per_frame, device=device).repeat(num_frames) - self.num_cond_tokens
        cell = slot.clamp(min=0)
        is_frame_token = slot >= 0
        positions = torch.stack([frame, (cell // w) * is_frame_token, (cell % w) * is_frame_token], dim=-1)
        return positions, frame[:, None] >= frame[None, :]

    def _embed(self, tokens: Tensor, actions: Tensor, states: Tensor, extrinsics: Tensor | None) -> Tensor:
        """``[B, T, cond + H' * W', D]``: each frame's conditioning tokens then its projected patch tokens."""
        batch, frames = actions.shape[:2]
        x = self.predictor_embed(tokens).view(batch, frames, self.grid[0] * self.grid[1], -1)
        cond = [self.action_encoder(actions)] + ([self.state_encoder(states)] if self.use_states else [])
        if self.use_extrinsics:
            if extrinsics is None:
                raise ValueError("use_extrinsics=True needs extrinsics [B, T, action_dim - 1]")
            cond.append(self.extrinsics_encoder(extrinsics))
        return torch.cat([c.unsqueeze(2) for c in cond] + [x], dim=2)

    def _project(self, x: Tensor) -> Tensor:
        """Frame tokens of ``[B, T, cond + H' * W', D]`` → predictions ``[B, T * H' * W', embed_dim]``."""
        return self.predictor_proj(self.predictor_norm(x[:, :, self.num_cond_tokens :].flatten(1, 2)))

    def forward(self, tokens: Tensor, actions: Tensor, states: Tensor, extrinsics: Tensor | None = None) -> Tensor:
        """``tokens [B, T * H' * W', embed_dim]`` (layer-normed encoder tokens of ``T`` frames), ``actions`` and
        ``states [B, T, action_dim]`` → predicted tokens ``[B, T * H' * W', embed_dim]`` (frame ``t``'s output is the
        prediction of frame ``t + 1``)."""
        batch, n, _ = tokens.shape
        cells = self.grid[0] * self.grid[1]
        if n % cells or actions.shape[:2] != (batch, n // cells) or states.shape[:2] != (batch, n // cells):
            raise ValueError(
                f"{n} tokens are not whole frames of {self.grid[0]}x{self.grid[1]}, or actions "
                f"{tuple(actions.shape)} / states {tuple(states.shape)} do not give one per frame"
            )
        frames = n // cells
        x = self._embed(tokens, actions, states, extrinsics).flatten(0, 2)  # packed [B * S, D]
        positions, mask = self.layout(frames, tokens.device)
        seq_len = positions.shape[0]
        rope = self.rope.cos_sin(positions.repeat(batch, 1))
        seqs = SeqLens.from_lengths([seq_len] * batch, tokens.device)
        x = run_blocks(self.predictor_blocks, x, seqs, rope, self.grad_checkpointing, attn_mask=mask)
        return self._project(x.view(batch, frames, seq_len // frames, -1))

    def forward_cached(self, tokens: Tensor, actions: Tensor, states: Tensor, cache: list[KVCache] | None = None,
                       extrinsics: Tensor | None = None) -> tuple[Tensor, list[KVCache]]:  # fmt: skip
        """:meth:`forward` for one new frame (``tokens [B, H' * W', embed_dim]``, ``actions``/``states [B, 1, A]``)
        after the frames in ``cache`` (each block's keys and values; ``None`` before the first frame): its prediction
        and the cache with it added. Frame by frame this equals :meth:`forward` over the whole sequence without
        recomputing the past, so a rollout or a planner's search costs one frame per step, not the prefix."""
        if actions.shape[1] != 1 or tokens.shape[1] != self.grid[0] * self.grid[1]:
            raise ValueError(f"forward_cached takes one frame: got {tokens.shape[1]} tokens and {actions.shape[1]} "
                             f"actions")  # fmt: skip
        seen = 0 if cache is None else cache[0][0].shape[2] // (self.num_cond_tokens + tokens.shape[1])
        x = self._embed(tokens, actions, states, extrinsics)
        rope = self.rope.cos_sin(self.layout(1, tokens.device, first_frame=seen)[0])
        x, new_cache = x.flatten(1, 2), []
        for i, block in enumerate(self.predictor_blocks):
            x, kv = block.forward_cached(x, rope, None if cache is None else cache[i])
            new_cache.append(kv)
        return self._project(x.unsqueeze(1)), new_cache
