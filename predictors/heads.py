"""Heads on encoder features: a linear head on pooled features, LeJEPA's projector, and the attentive probe."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from timm.layers import Mlp
from torch import Tensor, nn

from encoders.packing import SeqLens
from encoders.vit import make_blocks, run_blocks


class LinearHead(nn.Module):
    """A linear classifier on pooled features, optionally standardised by a non-affine BatchNorm first."""

    def __init__(self, in_dim: int, num_classes: int, normalize: bool = True) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(in_dim, affine=False) if normalize else nn.Identity()
        self.linear = nn.Linear(in_dim, num_classes)

    def forward(self, features: Tensor) -> Tensor:
        return self.linear(self.norm(features))


class ProjectionHead(nn.Module):
    """An MLP of ``depth`` linear layers, batch norm and GELU between them (LeJEPA's projector); ``depth`` 0 is the
    identity, so that the loss sees the pooled encoder features themselves."""

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int, depth: int) -> None:
        super().__init__()
        if depth < 0:
            raise ValueError(f"model.projector.depth={depth}: must be 0 or more")
        layers: list[nn.Module] = []
        dims = [in_dim] + [hidden_dim] * (depth - 1) + [out_dim]
        for i in range(depth):
            layers.append(nn.Linear(dims[i], dims[i + 1]))
            if i < depth - 1:
                layers += [nn.BatchNorm1d(dims[i + 1]), nn.GELU()]
        self.mlp = nn.Sequential(*layers)
        self.out_dim = out_dim if depth else in_dim

    def forward(self, features: Tensor) -> Tensor:
        return self.mlp(features)


class CrossAttention(nn.Module):
    """Queries attend to tokens; no output projection (as in the official attentive probe)."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.q = nn.Linear(dim, dim, bias=qkv_bias)
        self.kv = nn.Linear(dim, 2 * dim, bias=qkv_bias)

    def forward(self, queries: Tensor, tokens: Tensor) -> Tensor:
        q = self.q(queries).unflatten(-1, (self.num_heads, -1)).transpose(1, 2)
        k, v = self.kv(tokens).unflatten(-1, (2, self.num_heads, -1)).permute(2, 0, 3, 1, 4)
        return F.scaled_dot_product_attention(q, k, v).transpose(1, 2).flatten(2)


class CrossAttentionBlock(nn.Module):
    """``q + xattn(q, norm1(tokens))``, then ``+ mlp(norm2(q))``: the queries themselves are not normalised."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0, qkv_bias: bool = True,
                 norm_eps: float = 1e-5) -> None:  # fmt: skip
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.xattn = CrossAttention(dim, num_heads, qkv_bias)
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        self.mlp = Mlp(dim, hidden_features=int(dim * mlp_ratio), act_layer=nn.GELU)

    def forward(self, queries: Tensor, tokens: Tensor) -> Tensor:
        queries = queries + self.xattn(queries, self.norm1(tokens))
        return queries + self.mlp(self.norm2(queries))


class AttentivePooler(nn.Module):
    """``depth - 1`` self-attention blocks over the tokens, then learnt queries cross-attend to them (V-JEPA's
    attentive probe; LayerNorm eps 1e-5 as in the official probe)."""

    def __init__(self, embed_dim: int, num_heads: int, depth: int = 1, num_queries: int = 1, mlp_ratio: float = 4.0,
                 qkv_bias: bool = True, norm_eps: float = 1e-5) -> None:  # fmt: skip
        super().__init__()
        self.query_tokens = nn.Parameter(torch.zeros(1, num_queries, embed_dim))
        self.blocks = make_blocks(embed_dim, depth - 1, num_heads, mlp_ratio, qkv_bias, 0.0, norm_eps, "sdpa")
        self.cross_attention_block = CrossAttentionBlock(embed_dim, num_heads, mlp_ratio, qkv_bias, norm_eps)
        nn.init.trunc_normal_(self.query_tokens, std=0.02)

    def forward(self, tokens: Tensor) -> Tensor:
        """``tokens [B, N, D]`` → pooled ``[B, num_queries, D]``."""
        batch, n, _ = tokens.shape
        if len(self.blocks):
            seqs = SeqLens.from_lengths([n] * batch, tokens.device)
            tokens = run_blocks(self.blocks, tokens.flatten(0, 1), seqs).view(batch, n, -1)
        return self.cross_attention_block(self.query_tokens.expand(batch, -1, -1), tokens)


class AttentiveClassifier(nn.Module):
    """An attentive pooler with one query and a linear classifier on top (the official V-JEPA / V-JEPA 2 probe)."""

    def __init__(self, embed_dim: int, num_heads: int, depth: int = 1, num_classes: int = 1000, mlp_ratio: float = 4.0,
                 qkv_bias: bool = True) -> None:  # fmt: skip
        super().__init__()
        self.pooler = AttentivePooler(embed_dim, num_heads, depth, 1, mlp_ratio, qkv_bias)
        self.linear = nn.Linear(embed_dim, num_classes)

    def forward(self, tokens: Tensor) -> Tensor:
        return self.linear(self.pooler(tokens).squeeze(1))


class ActionAnticipationClassifier(nn.Module):
    """An attentive pooler with three queries, read by a verb, a noun and an action classifier (the V-JEPA 2
    action-anticipation probe; parameter names as released). Returns the logits side by side,
    ``[B, num_verbs + num_nouns + num_actions]``."""

    def __init__(self, embed_dim: int, num_heads: int, depth: int, num_verbs: int, num_nouns: int,
                 num_actions: int) -> None:  # fmt: skip
        super().__init__()
        self.pooler = AttentivePooler(embed_dim, num_heads, depth, num_queries=3)
        self.verb_classifier = nn.Linear(embed_dim, num_verbs)
        self.noun_classifier = nn.Linear(embed_dim, num_nouns)
        self.action_classifier = nn.Linear(embed_dim, num_actions)

    def forward(self, tokens: Tensor) -> Tensor:
        verb, noun, action = self.pooler(tokens).unbind(1)
        return torch.cat([self.verb_classifier(verb), self.noun_classifier(noun), self.action_classifier(action)], -1)


class InverseDynamicsHead(nn.Module):
    """Predicts the action taken between two frames from their tokens ``[B, N, D]`` each: the pair is fused token
    by token (``[z_t, z_t+1]`` → ``D``), pooled by an attentive pooler and regressed to ``action_dim`` values."""

    def __init__(self, embed_dim: int, action_dim: int, num_heads: int, depth: int = 1) -> None:
        super().__init__()
        self.fuse = nn.Linear(2 * embed_dim, embed_dim)
        self.pooler = AttentivePooler(embed_dim, num_heads, depth)
        self.regressor = nn.Linear(embed_dim, action_dim)

    def forward(self, before: Tensor, after: Tensor) -> Tensor:
        return self.regressor(self.pooler(self.fuse(torch.cat([before, after], dim=-1))).squeeze(1))
