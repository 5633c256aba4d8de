"""Multi-head self-attention over packed variable-length sequences, with one of three backends.

- ``xformers``: ``memory_efficient_attention`` with a ``BlockDiagonalMask`` over the whole packed batch (CUDA, when
  its kernels load).
- ``varlen``: PyTorch's packed flash attention ``torch.nn.attention.varlen.varlen_attn`` (CUDA, fp16/bf16).
- ``sdpa``: ``scaled_dot_product_attention`` per run of equal-length sequences (any device, any dtype).

``auto`` picks the first that can run. All give the numbers of plain per-sequence softmax attention.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from encoders.packing import SeqLens
from encoders.positions import apply_rotary

BACKENDS = ("auto", "sdpa", "varlen", "xformers")
KVCache = tuple[Tensor, Tensor]
_PACKED_DTYPES = (torch.float16, torch.bfloat16)


@functools.cache
def xformers_available() -> bool:
    """True when xformers imports and its CUDA attention kernels run on this machine."""
    if not torch.cuda.is_available():
        return False
    try:
        from xformers.ops import fmha, memory_efficient_attention

        q = torch.zeros(1, 4, 1, 64, device="cuda", dtype=torch.float16)
        bias = fmha.attn_bias.BlockDiagonalMask.from_seqlens([1, 3])
        memory_efficient_attention(q, q, q, attn_bias=bias)
        return True
    except Exception:  # any import or kernel failure means: not usable here
        return False


def varlen_available(q: Tensor) -> bool:
    """True when ``torch.nn.attention.varlen.varlen_attn`` can run on ``q``'s device and dtype."""
    if not q.is_cuda or q.dtype not in _PACKED_DTYPES:
        return False
    try:
        from torch.nn.attention.varlen import varlen_attn  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_backend(backend: str, q: Tensor) -> str:
    """The backend that will run ``backend`` for ``q``; an explicit choice that cannot run here is an error."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown attention backend {backend!r}; choose one of {BACKENDS}")
    if backend == "auto":
        if q.is_cuda and xformers_available():
            return "xformers"
        return "varlen" if varlen_available(q) else "sdpa"
    if backend == "xformers" and not xformers_available():
        raise RuntimeError("attention backend 'xformers' requested, but xformers' CUDA kernels do not load here")
    if backend == "varlen" and not varlen_available(q):
        raise RuntimeError(f"attention backend 'varlen' needs CUDA fp16/bf16 tensors, got {q.device} {q.dtype}")
    return backend


def equal_length_runs(lengths: tuple[int, ...]) -> list[tuple[int, int]]:
    """``(count, length)`` of each run of consecutive equal lengths: ``(3, 3, 5) → [(2, 3), (1, 5)]``."""
    runs: list[tuple[int, int]] = []
    for n in lengths:
        if runs and runs[-1][1] == n:
            runs[-1] = (runs[-1][0] + 1, n)
        else:
            runs.append((1, n))
    return runs


def _sdpa_packed(q: Tensor, k: Tensor, v: Tensor, seqs: SeqLens, scale: float | None) -> Tensor:
    """SDPA on each run of consecutive equal-length sequences, batched within a run (split/cat keep backward
    linear in the number of tokens)."""
    runs = seqs.cached("equal_length_runs", lambda: equal_length_runs(seqs.lengths))
    sizes = [n * length for n, length in runs]
    outs = []
    for (n, length), qs, ks, vs in zip(runs, q.split(sizes), k.split(sizes), v.split(sizes)):
        qs, ks, vs = (t.unflatten(0, (n, length)).transpose(1, 2) for t in (qs, ks, vs))
        outs.append(F.scaled_dot_product_attention(qs, ks, vs, scale=scale).transpose(1, 2).flatten(0, 1))
    return outs[0] if len(outs) == 1 else torch.cat(outs)


def _xformers_packed(q: Tensor, k: Tensor, v: Tensor, seqs: SeqLens, scale: float | None) -> Tensor:
    from xformers.ops import fmha, memory_efficient_attention

    bias = seqs.cached("xformers_bias", lambda: fmha.attn_bias.BlockDiagonalMask.from_seqlens(list(seqs.lengths)))
    return memory_efficient_attention(q[None], k[None], v[None], attn_bias=bias, scale=scale)[0]


def _varlen_packed(q: Tensor, k: Tensor, v: Tensor, seqs: SeqLens, scale: float | None) -> Tensor:
    from torch.nn.attention.varlen import varlen_attn

    cu = seqs.cu_seqlens.to(q.device)
    return varlen_attn(q, k, v, cu, cu, seqs.max_len, seqs.max_len, scale=scale)


_KERNELS = {"sdpa": _sdpa_packed, "xformers": _xformers_packed, "varlen": _varlen_packed}


def packed_attention(
    q: Tensor, k: Tensor, v: Tensor, seqs: SeqLens, backend: str = "auto", scale: float | None = None
) -> Tensor:
    """Softmax attention of packed ``q, k, v [T, H, D]``; token ``i`` attends only within its own sequence."""
    if q.shape[0] != seqs.total:
        raise ValueError(f"packed tensor has {q.shape[0]} tokens but the sequence lengths add up to {seqs.total}")
    return _KERNELS[resolve_backend(backend, q)](q, k, v, seqs, scale)


class Attention(nn.Module):
    """Multi-head self-attention on packed tokens ``[T, D]`` (parameter names as in the official releases)."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True, backend: str = "auto") -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"width {dim} is not divisible by {num_heads} heads")
        if backend not in BACKENDS:
            raise ValueError(f"unknown attention backend {backend!r}; choose one of {BACKENDS}")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.backend = backend
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(
        self, x: Tensor, seqs: SeqLens, rope: tuple[Tensor, Tensor] | None = None, attn_mask: Tensor | None = None
    ) -> Tensor:
        """Attention within each packed sequence; ``attn_mask [N, N]`` (boolean, ``True`` = may attend) further
        restricts it, for sequences all of length ``N`` (e.g. block-causal over frames)."""
        return self.proj(self.attend(*self.project(x, rope), seqs, attn_mask).flatten(1))

    def project(self, x: Tensor, rope: tuple[Tensor, Tensor] | None) -> tuple[Tensor, Tensor, Tensor]:
        """Queries, keys and values ``[T, H, D_h]`` of packed tokens, RoPE applied (dense: any token count)."""
        q, k, v = self.qkv(x).unflatten(-1, (3, self.num_heads, self.head_dim)).unbind(1)
        if rope is not None:
            q, k = apply_rotary(q, *rope), apply_rotary(k, *rope)
        return q, k, v

    def attend(self, q: Tensor, k: Tensor, v: Tensor, seqs: SeqLens, attn_mask: Tensor | None = None) -> Tensor:
        """The attention core ``[T, H, D_h]`` within each packed sequence (see :meth:`forward`)."""
        if attn_mask is None:
            return packed_attention(q, k, v, seqs, self.backend)
        if len(set(seqs.lengths)) != 1 or seqs.max_len != attn_mask.shape[-1]:
            raise ValueError(f"an attention mask of {attn_mask.shape[-1]} tokens needs sequences of that length")
        q, k, v = (t.unflatten(0, (len(seqs.lengths), seqs.max_len)).transpose(1, 2) for t in (q, k, v))
        return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask).transpose(1, 2).flatten(0, 1)

    def forward_cached(self, x: Tensor, rope: tuple[Tensor, Tensor] | None, past: KVCache | None
                       ) -> tuple[Tensor, KVCache]:  # fmt: skip
        """New tokens ``x [B, L, D]`` that attend to every cached token and to each other (a block-causal model's
        next block); returns their output and the cache ``(keys, values) [B, H, S, D_h]`` with theirs appended."""
        q, k, v = self.qkv(x).unflatten(-1, (3, self.num_heads, self.head_dim)).unbind(2)  # [B, L, H, D_h]
        if rope is not None:
            q, k = apply_rotary(q, *rope), apply_rotary(k, *rope)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))
        if past is not None:
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).flatten(2)), (k, v)
