"""Vision Transformer for images (2-D patches) and videos (3-D tubelets) that runs on packed kept tokens.

No class token; a final LayerNorm; fixed sin-cos positions (2-D, 3-D, optionally ``uniform_power``) or 3-D RoPE.
Parameter names follow the official I-JEPA / V-JEPA releases so their weights map one to one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import cache, partial
from typing import Any

import torch
from timm.layers import Mlp, trunc_normal_
from torch import Tensor, nn
from torch.utils.checkpoint import CheckpointPolicy, checkpoint, create_selective_checkpoint_contexts, noop_context_fn

from encoders.attention import Attention, KVCache
from encoders.packing import SeqLens, gather_packed
from encoders.patch import PatchEmbed
from encoders.positions import RotaryEmbedding3D, sincos_2d, sincos_3d, token_grid_positions

# Official widths / depths / heads (I-JEPA, V-JEPA, V-JEPA 2).
SIZES: dict[str, dict[str, Any]] = {
    "tiny": dict(embed_dim=192, depth=12, num_heads=3),
    "small": dict(embed_dim=384, depth=12, num_heads=6),
    "base": dict(embed_dim=768, depth=12, num_heads=12),
    "large": dict(embed_dim=1024, depth=24, num_heads=16),
    "huge": dict(embed_dim=1280, depth=32, num_heads=16),
    "giant": dict(embed_dim=1408, depth=40, num_heads=16, mlp_ratio=48 / 11),
    "gigantic": dict(embed_dim=1664, depth=48, num_heads=16, mlp_ratio=64 / 13),
    # V-JEPA 2's ViT-g and ViT-G: the same widths with 64-dim heads
    "giant_xformers": dict(embed_dim=1408, depth=40, num_heads=22, mlp_ratio=48 / 11),
    "gigantic_xformers": dict(embed_dim=1664, depth=48, num_heads=26, mlp_ratio=64 / 13),
}


class PackedDropPath(nn.Module):
    """Stochastic depth that drops whole sequences of a packed ``[T, D]`` tensor (not single tokens)."""

    def __init__(self, drop_prob: float) -> None:
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x: Tensor, seqs: SeqLens) -> Tensor:
        if not self.training or self.drop_prob == 0.0:
            return x
        keep = 1.0 - self.drop_prob
        per_seq = x.new_empty(len(seqs.lengths)).bernoulli_(keep) / keep
        lengths = seqs.cached("lengths_cpu", lambda: torch.tensor(seqs.lengths))
        return x * torch.repeat_interleave(per_seq, lengths.to(x.device), output_size=x.shape[0]).unsqueeze(-1)


class Block(nn.Module):
    """Pre-norm transformer block on packed tokens."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop_path: float = 0.0,
        norm_eps: float = 1e-6,
        attn_backend: str = "auto",
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.attn = Attention(dim, num_heads, qkv_bias=qkv_bias, backend=attn_backend)
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        self.mlp = Mlp(dim, hidden_features=int(dim * mlp_ratio), act_layer=nn.GELU)
        self.drop_path = PackedDropPath(drop_path)
        self.compiled = False  # set_regional_compile: the dense regions run through torch.compile

    def forward(
        self, x: Tensor, seqs: SeqLens, rope: tuple[Tensor, Tensor] | None = None, attn_mask: Tensor | None = None
    ) -> Tensor:
        pre, mlp = (_pre_attention, _mlp_branch)
        if self.compiled:
            pre, mlp = _compiled(pre), _compiled(mlp)
        out = self.attn.attend(*pre(self, x, rope), seqs, attn_mask)
        x = x + self.drop_path(self.attn.proj(out.flatten(1)), seqs)
        return x + self.drop_path(mlp(self, x), seqs)

    def forward_cached(self, x: Tensor, rope: tuple[Tensor, Tensor] | None, past: KVCache | None
                       ) -> tuple[Tensor, KVCache]:  # fmt: skip
        """The block on new tokens ``[B, L, D]`` that see the cached ones (no stochastic depth: inference)."""
        out, cache = self.attn.forward_cached(self.norm1(x), rope, past)
        x = x + out
        return x + self.mlp(self.norm2(x)), cache


def _pre_attention(block: Block, x: Tensor, rope: tuple[Tensor, Tensor] | None) -> tuple[Tensor, Tensor, Tensor]:
    return block.attn.project(block.norm1(x), rope)


def _mlp_branch(block: Block, x: Tensor) -> Tensor:
    return block.mlp(block.norm2(x))


@cache
def _compiled(region: Callable) -> Callable:
    """``region`` compiled once for every block and any token count (parameters are inputs, not constants)."""
    return torch.compile(region, dynamic=True)


def set_regional_compile(module: nn.Module, enabled: bool = True) -> None:
    """Regional compilation: each :class:`Block` of ``module`` runs its dense regions (norm, qkv and RoPE; norm
    and MLP) through ``torch.compile``; the packed attention between them stays eager, so sequence lengths that
    change every batch cause no recompilation."""
    for block in module.modules():
        if isinstance(block, Block):
            block.compiled = enabled


def make_blocks(
    dim: int,
    depth: int,
    num_heads: int,
    mlp_ratio: float = 4.0,
    qkv_bias: bool = True,
    drop_path_rate: float = 0.0,
    norm_eps: float = 1e-6,
    attn_backend: str = "auto",
) -> nn.ModuleList:
    """``depth`` blocks with stochastic depth rising linearly from 0 to ``drop_path_rate``."""
    rates = [drop_path_rate * i / max(depth - 1, 1) for i in range(depth)]
    return nn.ModuleList(
        Block(dim, num_heads, mlp_ratio, qkv_bias, rates[i], norm_eps, attn_backend) for i in range(depth)
    )


# What selective checkpointing keeps from the forward pass: the matrix products and attention (costly to redo);
# norms, GELU, RoPE and the residual adds (cheap, and most of the activation memory) are recomputed in backward.
_SAVED_OPS = {
    torch.ops.aten.mm.default,
    torch.ops.aten.addmm.default,
    torch.ops.aten.bmm.default,
    torch.ops.aten._scaled_dot_product_flash_attention.default,
    torch.ops.aten._scaled_dot_product_efficient_attention.default,
    torch.ops.aten._scaled_dot_product_flash_attention_for_cpu.default,
    torch.ops.aten._flash_attention_forward.default,
    torch.ops.aten._efficient_attention_forward.default,
}


def _save_products(ctx: Any, op: Any, *args: Any, **kwargs: Any) -> CheckpointPolicy:
    return CheckpointPolicy.MUST_SAVE if op in _SAVED_OPS else CheckpointPolicy.PREFER_RECOMPUTE


def check_checkpointing(value: bool | str) -> bool | str:
    """``grad_checkpointing``: ``False``, ``True`` (recompute each block) or ``"selective"``."""
    if value is not False and value is not True and value != "selective":
        raise ValueError(f"grad_checkpointing={value!r}: choose false, true or selective")
    return value


def run_blocks(
    blocks: nn.ModuleList,
    x: Tensor,
    seqs: SeqLens,
    rope: tuple[Tensor, Tensor] | None = None,
    grad_checkpointing: bool | str = False,
    attn_mask: Tensor | None = None,
) -> Tensor:
    """Apply ``blocks`` to packed tokens. ``grad_checkpointing``: ``True`` recomputes each block in backward,
    ``"selective"`` only its cheap element-wise ops (matrix products and attention are kept)."""
    for block in blocks:
        if grad_checkpointing and block.training and torch.is_grad_enabled():
            context = (partial(create_selective_checkpoint_contexts, _save_products)
                       if grad_checkpointing == "selective" else noop_context_fn)  # fmt: skip
            x = checkpoint(block, x, seqs, rope, attn_mask, use_reentrant=False, context_fn=context)
        else:
            x = block(x, seqs, rope, attn_mask)
    return x


def init_vit_weights(module: nn.Module, blocks: Sequence[Block], std: float = 0.02) -> None:
    """Official JEPA init: truncated-normal linear/conv weights, zero biases, unit LayerNorms, and the residual
    projections of block ``i`` scaled by ``1 / sqrt(2 * (i + 1))``."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.Conv3d)):
            trunc_normal_(m.weight, std=std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    with torch.no_grad():
        for i, block in enumerate(blocks):
            block.attn.proj.weight.div_(math.sqrt(2.0 * (i + 1)))
            block.mlp.fc2.weight.div_(math.sqrt(2.0 * (i + 1)))


def to_pair(size: int | Sequence[int]) -> tuple[int, int]:
    """``(size, size)`` for an int, else the first two entries as ints (an image or grid size)."""
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


class VisionTransformer(nn.Module):
    """ViT encoder over images ``[B, C, H, W]`` or, with ``num_frames > 1``, videos ``[B, C, T, H, W]``.

    ``forward(x, masks)`` keeps only the given token indices:
    - ``None``: all tokens, ``[B, N, D]``;
    - a LongTensor ``[B, K]``: the same number of kept tokens per sample, ``[B, K, D]``;
    - a list of LongTensors ``[B, K_m]`` (the official multi-mask call): each run in turn, concatenated on batch;
    - a list of ``B`` 1-D LongTensors of any lengths: one ``[K_b, D]`` tensor per sample.
    ``forward_packed`` is the variable-length form used in training: flat indices and per-sample lengths in,
    packed ``[sum K_b, D]`` out.
    """

    def __init__(
        self,
        img_size: int | Sequence[int] = 224,
        patch_size: int = 16,
        num_frames: int = 1,
        tubelet_size: int = 2,
        in_chans: int = 3,
        embed_dim: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
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
        self.img_size = to_pair(img_size)
        if any(s % patch_size for s in self.img_size):
            raise ValueError(f"img_size {self.img_size} is not a multiple of patch_size {patch_size}")
        self.is_video = num_frames > 1
        if self.is_video and num_frames % tubelet_size:
            raise ValueError(f"num_frames {num_frames} is not a multiple of tubelet_size {tubelet_size}")
        self.num_frames, self.patch_size, self.tubelet_size = num_frames, patch_size, tubelet_size
        self.embed_dim, self.num_heads = embed_dim, num_heads
        grid_t = num_frames // tubelet_size if self.is_video else 1
        self.grid = (grid_t, self.img_size[0] // patch_size, self.img_size[1] // patch_size)
        self.num_patches = math.prod(self.grid)
        self.patch_embed = PatchEmbed(in_chans, embed_dim, patch_size, tubelet_size if self.is_video else None)
        self.use_rope = use_rope
        if not use_rope:
            self.register_buffer("pos_embed", sincos_table(embed_dim, self.grid, uniform_power, sincos_column_first))
        self.rope = RotaryEmbedding3D(embed_dim // num_heads, tiled_freqs=rope_tiled_freqs) if use_rope else None
        self.blocks = make_blocks(
            embed_dim, depth, num_heads, mlp_ratio, qkv_bias, drop_path_rate, norm_eps, attn_backend
        )
        self.grad_checkpointing = check_checkpointing(grad_checkpointing)
        self.norm = nn.LayerNorm(embed_dim, eps=norm_eps)
        init_vit_weights(self, self.blocks, init_std)

    def input_grid(self, x: Tensor) -> tuple[int, int, int]:
        """The ``(T, H, W)`` token grid of input ``x``. A video may be shorter than ``num_frames`` (mixed clip
        lengths); with RoPE, whose positions are computed rather than tabled, any multiple of the patch size is
        accepted (LeJEPA's smaller local views), else the size the encoder was built for."""
        height, width = x.shape[-2:]
        size_ok = (height, width) == self.img_size or (
            self.use_rope and height > 0 and width > 0 and not height % self.patch_size and not width % self.patch_size
        )
        if not size_ok or (
            self.is_video and (x.ndim != 5 or x.shape[2] > self.num_frames or x.shape[2] % self.tubelet_size)
        ):
            want = f"T <= {self.num_frames} (a multiple of {self.tubelet_size}), " if self.is_video else ""
            want += f"H, W multiples of {self.patch_size}" if self.use_rope else f"H, W = {self.img_size}"
            raise ValueError(f"encoder built for {want}, got input of shape {tuple(x.shape)}")
        frames = x.shape[2] // self.tubelet_size if self.is_video else 1
        return frames, height // self.patch_size, width // self.patch_size

    def num_tokens(self, x: Tensor) -> int:
        """Tokens per sample of input ``x``."""
        return math.prod(self.input_grid(x))

    def embed(self, x: Tensor) -> Tensor:
        """Patch tokens ``[B, N, D]`` of an input :meth:`input_grid` accepts, with their sin-cos positions added
        (RoPE is applied inside attention); a video shorter than ``num_frames`` takes the first time steps."""
        tokens = self.patch_embed(x)
        return tokens if self.use_rope else tokens + self.pos_embed[:, : tokens.shape[1]].to(tokens.dtype)

    def forward_packed(
        self, x: Tensor, index: Tensor, lengths: Tensor | Sequence[int], owner: Tensor | None = None
    ) -> Tensor:
        """Encode the kept tokens ``index`` (flat runs of ``lengths``; run ``j`` from sample ``owner[j]``, by default
        sample ``j``); returns packed ``[T, D]``."""
        grid = self.input_grid(x)
        tokens = self.embed(x)
        lengths_t = torch.as_tensor(lengths, dtype=torch.int64)
        packed = gather_packed(tokens, index, lengths_t, owner)
        seqs = SeqLens.from_lengths(lengths_t, tokens.device)
        return self.run_packed(packed, index.to(tokens.device), seqs, grid)

    def run_packed(self, packed: Tensor, index: Tensor, seqs: SeqLens, grid: tuple[int, int, int]) -> Tensor:
        """Blocks and final norm over already-embedded packed tokens at positions ``index`` of the token ``grid``."""
        _, grid_h, grid_w = grid
        rope = self.rope.cos_sin(token_grid_positions(index, grid_h, grid_w)) if self.rope is not None else None
        return self.norm(run_blocks(self.blocks, packed, seqs, rope, self.grad_checkpointing))

    def forward(self, x: Tensor, masks: Tensor | Sequence[Tensor] | None = None) -> Tensor | list[Tensor]:
        batch = x.shape[0]
        if masks is None:
            n = self.num_tokens(x)
            index = torch.arange(n, device=x.device).repeat(batch)
            return self.forward_packed(x, index, [n] * batch).view(batch, n, -1)
        if isinstance(masks, Tensor):
            return self.forward_packed(x, masks.reshape(-1), [masks.shape[1]] * batch).view(batch, masks.shape[1], -1)
        if all(m.ndim == 2 for m in masks):
            return torch.cat([self.forward(x, m) for m in masks], dim=0)
        index = torch.cat([m.reshape(-1) for m in masks])
        lengths = [m.numel() for m in masks]
        return list(self.forward_packed(x, index, lengths).split(lengths))


def sincos_table(dim: int, grid: tuple[int, int, int], uniform_power: bool, column_first: bool) -> Tensor:
    """The fixed ``[1, N, dim]`` position table of a ``(T, H, W)`` token grid (2-D when ``T == 1``)."""
    grid_t, grid_h, grid_w = grid
    if grid_t == 1:
        return sincos_2d(dim, grid_h, grid_w, column_first).unsqueeze(0)
    return sincos_3d(dim, grid_t, grid_h, grid_w, uniform_power).unsqueeze(0)


def create_encoder(size: str, **overrides: Any) -> VisionTransformer:
    """A ``VisionTransformer`` of an official size (``tiny`` … ``gigantic``), any constructor argument overridden."""
    if size not in SIZES:
        raise ValueError(f"unknown encoder size {size!r}; choose one of {sorted(SIZES)}")
    return VisionTransformer(**{**SIZES[size], **overrides})
