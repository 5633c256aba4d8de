"""The JEPA predictor: a narrow ViT that fills learned mask tokens at target positions from context tokens.

Project the context in, add positions, append one mask token per target position (one learned token per mask
type), run the blocks on each packed sequence ``[context, targets]``, normalise, project out, and return only the
target positions. Parameter names follow the official releases.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from encoders.packing import SeqLens, segment_arange
from encoders.positions import RotaryEmbedding3D, token_grid_positions
from encoders.vit import check_checkpointing, init_vit_weights, make_blocks, run_blocks, sincos_table, to_pair


class MaskTokenPredictor(nn.Module):
    """Predicts encoder features at target positions from packed context tokens (I-JEPA / V-JEPA / V-JEPA 2)."""

    def __init__(
        self,
        embed_dim: int,
        img_size: int | Sequence[int] = 224,
        patch_size: int = 16,
        num_frames: int = 1,
        tubelet_size: int = 2,
        predictor_embed_dim: int = 384,
        depth: int = 12,
        num_heads: int = 12,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        num_mask_tokens: int = 1,
        drop_path_rate: float = 0.0,
        norm_eps: float = 1e-6,
        use_rope: bool = False,
        rope_tiled_freqs: bool = False,
        uniform_power: bool = False,
        sincos_column_first: bool = True,
        attn_backend: str = "auto",
        grad_checkpointing: bool | str = False,
        init_std: float = 0.02,
    ) -> None:
        super().__init__()
        size = to_pair(img_size)
        grid_t = num_frames // tubelet_size if num_frames > 1 else 1
        self.grid = (grid_t, size[0] // patch_size, size[1] // patch_size)
        self.num_patches = math.prod(self.grid)
        self.embed_dim = embed_dim
        self.predictor_embed = nn.Linear(embed_dim, predictor_embed_dim)
        self.mask_tokens = nn.ParameterList(
            nn.Parameter(torch.zeros(1, 1, predictor_embed_dim)) for _ in range(num_mask_tokens)
        )
        self.use_rope = use_rope
        if not use_rope:
            table = sincos_table(predictor_embed_dim, self.grid, uniform_power, sincos_column_first)
            self.register_buffer("predictor_pos_embed", table)
        self.rope = (
            RotaryEmbedding3D(predictor_embed_dim // num_heads, tiled_freqs=rope_tiled_freqs) if use_rope else None
        )
        self.predictor_blocks = make_blocks(
            predictor_embed_dim, depth, num_heads, mlp_ratio, qkv_bias, drop_path_rate, norm_eps, attn_backend
        )
        self.grad_checkpointing = check_checkpointing(grad_checkpointing)
        self.predictor_norm = nn.LayerNorm(predictor_embed_dim, eps=norm_eps)
        self.predictor_proj = nn.Linear(predictor_embed_dim, embed_dim)
        init_vit_weights(self, self.predictor_blocks, init_std)
        for token in self.mask_tokens:
            nn.init.trunc_normal_(token, std=init_std)

    def forward_packed(
        self,
        ctx_tokens: Tensor,
        ctx_index: Tensor,
        ctx_lengths: Tensor,
        tgt_index: Tensor,
        tgt_lengths: Tensor,
        tgt_owner: Tensor,
        mask_index: int | Tensor = 0,
    ) -> Tensor:
        """Predictions ``[sum(tgt_lengths), embed_dim]`` for packed target index sets.

        ``ctx_tokens [sum(ctx_lengths), embed_dim]`` are the encoder outputs at ``ctx_index`` for each sample;
        target set ``j`` (positions ``tgt_index`` in runs of ``tgt_lengths``) is predicted from the context of
        sample ``tgt_owner[j]`` with mask token ``mask_index`` (one int, or one per target set). Lengths are CPU
        int64 tensors; every sample and target set keeps its own length.
        """
        device = ctx_tokens.device
        ctx_lengths, tgt_lengths, tgt_owner = (t.to("cpu", torch.int64) for t in (ctx_lengths, tgt_lengths, tgt_owner))
        n_ctx = ctx_tokens.shape[0]
        x_ctx = self.predictor_embed(ctx_tokens)
        mask_ids = torch.as_tensor(mask_index, dtype=torch.int64).expand(len(tgt_lengths))
        mask_table = torch.cat(list(self.mask_tokens)).flatten(0, 1)
        x_tgt = mask_table[torch.repeat_interleave(mask_ids, tgt_lengths).to(device) % len(self.mask_tokens)]
        if not self.use_rope:
            pos = self.predictor_pos_embed[0].to(x_ctx.dtype)
            x_ctx = x_ctx + pos[ctx_index]
            x_tgt = x_tgt + pos[tgt_index]
        # Sequence j = [context of its sample, its targets], gathered from one [context; targets] tensor.
        ctx_starts = torch.cumsum(ctx_lengths, 0) - ctx_lengths
        tgt_starts = torch.cumsum(tgt_lengths, 0) - tgt_lengths
        starts = torch.stack([ctx_starts[tgt_owner], n_ctx + tgt_starts], dim=1).flatten()
        runs = torch.stack([ctx_lengths[tgt_owner], tgt_lengths], dim=1).flatten()
        order = segment_arange(starts, runs).to(device)
        seqs = SeqLens.from_lengths(ctx_lengths[tgt_owner] + tgt_lengths, device)
        x = torch.cat([x_ctx, x_tgt.to(x_ctx.dtype)])[order]
        rope = None
        if self.rope is not None:
            index = torch.cat([ctx_index, tgt_index])[order]
            rope = self.rope.cos_sin(token_grid_positions(index, *self.grid[1:]))
        x = run_blocks(self.predictor_blocks, x, seqs, rope, self.grad_checkpointing)
        x = self.predictor_norm(x[order >= n_ctx])
        return self.predictor_proj(x)

    def forward(
        self,
        ctx_tokens: Tensor,
        masks_ctx: Tensor | Sequence[Tensor],
        masks_tgt: Tensor | Sequence[Tensor],
        mask_index: int = 0,
    ) -> Tensor:
        """The official equal-length call: ``ctx_tokens [B, K, D]`` at ``masks_ctx [B, K]`` (or a one-element
        list of it), targets a list of ``M`` index tensors ``[B, K_t]``; returns ``[M * B, K_t, D]``, mask-major."""
        ctx = masks_ctx if isinstance(masks_ctx, Tensor) else _single(masks_ctx, "masks_ctx")
        tgts = [masks_tgt] if isinstance(masks_tgt, Tensor) else list(masks_tgt)
        batch, k_ctx = ctx.shape
        k_tgt = tgts[0].shape[1]
        owner = torch.arange(batch).repeat(len(tgts))
        out = self.forward_packed(
            ctx_tokens.reshape(batch * k_ctx, -1),
            ctx.reshape(-1),
            torch.full((batch,), k_ctx),
            torch.cat([t.reshape(-1) for t in tgts]),
            torch.full((batch * len(tgts),), k_tgt),
            owner,
            mask_index,
        )
        return out.view(len(tgts) * batch, k_tgt, -1)


def _single(masks: Sequence[Tensor], name: str) -> Tensor:
    if len(masks) != 1:
        raise ValueError(f"{name}: expected one context mask per call, got {len(masks)}")
    return masks[0]
