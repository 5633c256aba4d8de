"""Variable-length sequences packed end to end in one ``[T, ...]`` tensor.

Every sample keeps its own number of tokens: nothing is padded to the batch maximum or cut to the batch minimum.
A :class:`SeqLens` says where each sequence starts; attention uses it to keep sequences apart.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor


@dataclass(frozen=True)
class SeqLens:
    """Lengths of the sequences packed in a ``[T, ...]`` tensor, in the forms every attention backend needs."""

    lengths: tuple[int, ...]
    cu_seqlens: Tensor  # int32 [S + 1], on the tokens' device
    max_len: int
    _cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_lengths(cls, lengths: Sequence[int] | Tensor, device: torch.device | str | None = None) -> SeqLens:
        lens = tuple(int(n) for n in (lengths.tolist() if isinstance(lengths, Tensor) else lengths))
        if any(n <= 0 for n in lens):
            raise ValueError(f"every packed sequence needs at least one token, got lengths {lens}")
        cu = torch.zeros(len(lens) + 1, dtype=torch.int32)
        cu[1:] = torch.cumsum(torch.tensor(lens, dtype=torch.int64), 0)
        return cls(lens, cu.to(device) if device is not None else cu, max(lens))

    @property
    def total(self) -> int:
        return int(sum(self.lengths))

    def cached(self, key: str, make: Callable[[], Any]) -> Any:
        """A value derived from these lengths, made once and shared by every layer that uses them."""
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]


def segment_arange(starts: Tensor, lengths: Tensor) -> Tensor:
    """``cat([arange(s, s + n) for s, n in zip(starts, lengths)])`` without a Python loop."""
    lengths = lengths.to(torch.int64)
    total = int(lengths.sum())
    seg_start_in_out = torch.cumsum(lengths, 0) - lengths
    offsets = torch.repeat_interleave(starts.to(torch.int64) - seg_start_in_out, lengths, output_size=total)
    return offsets + torch.arange(total, device=lengths.device)


def gather_packed(tokens: Tensor, index: Tensor, lengths: Tensor, owner: Tensor | None = None) -> Tensor:
    """Pick ``tokens[owner[j], index_j]`` for each index set ``j`` of ``tokens [B, N, D]``, packed to
    ``[sum(lengths), D]``; index set ``j`` belongs to sample ``owner[j]`` (default: set ``j`` to sample ``j``)."""
    batch, num_tokens = tokens.shape[:2]
    if owner is None:
        if lengths.numel() != batch:
            raise ValueError(f"{lengths.numel()} index sets for a batch of {batch}")
        owner = torch.arange(batch)
    per_token = torch.repeat_interleave(owner.to(lengths.device), lengths, output_size=int(index.numel()))
    flat = per_token.to(tokens.device) * num_tokens + index.to(tokens.device)
    return tokens.reshape(batch * num_tokens, *tokens.shape[2:])[flat]
