"""Benchmark packed variable-length attention against padded+masked SDPA; prints one JSON line per backend.

    python tools/bench_attention.py                      # CPU: sdpa; GPU: sdpa, varlen, xformers (when they load)
    python tools/bench_attention.py --lengths 403 647 512 --heads 16 --head-dim 64 --dtype bfloat16

Default lengths: 24 sequences of 403-647 tokens (the spread of I-JEPA / V-JEPA context sets).
"""

from __future__ import annotations

import argparse
import json
import time

import torch
import torch.nn.functional as F

from encoders.attention import packed_attention, resolve_backend
from encoders.packing import SeqLens


def padded_masked_sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, lengths: list[int]) -> torch.Tensor:
    """The baseline: pad every sequence to the longest, mask the padding, one SDPA call."""
    longest, heads, dim = max(lengths), q.shape[1], q.shape[2]

    def pad(t: torch.Tensor) -> torch.Tensor:
        out = t.new_zeros(len(lengths), longest, heads, dim)
        for i, part in enumerate(t.split(lengths)):
            out[i, : len(part)] = part
        return out.transpose(1, 2)

    keep = torch.arange(longest, device=q.device)[None, :] < torch.tensor(lengths, device=q.device)[:, None]
    return F.scaled_dot_product_attention(pad(q), pad(k), pad(v), attn_mask=keep[:, None, None, :])


def timed_ms(fn, repeats: int) -> float:
    """Median wall time of ``fn`` (forward + backward) in milliseconds."""
    times = []
    for _ in range(repeats + 2):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append((time.perf_counter() - start) * 1e3)
    return sorted(times[2:])[repeats // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lengths", type=int, nargs="+", default=None)
    parser.add_argument("--heads", type=int, default=16)
    parser.add_argument("--head-dim", type=int, default=64)
    parser.add_argument("--dtype", default="bfloat16" if torch.cuda.is_available() else "float32")
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = getattr(torch, args.dtype)
    lengths = args.lengths or torch.randint(403, 648, (24,), generator=torch.Generator().manual_seed(0)).tolist()
    q, k, v = (torch.randn(sum(lengths), args.heads, args.head_dim, device=device, dtype=dtype, requires_grad=True)
               for _ in range(3))  # fmt: skip
    seqs = SeqLens.from_lengths(lengths, device)

    def run(fn) -> float:
        return timed_ms(lambda: fn().float().sum().backward(), args.repeats)

    shape = {"sequences": len(lengths), "tokens": sum(lengths), "heads": args.heads, "head_dim": args.head_dim}
    base = {"device": torch.cuda.get_device_name() if device == "cuda" else "cpu", "dtype": args.dtype, **shape}
    ms = run(lambda: padded_masked_sdpa(q, k, v, lengths))
    print(json.dumps({**base, "backend": "padded_masked_sdpa", "fwd_bwd_ms": round(ms, 3)}))
    for backend in ("sdpa", "varlen", "xformers"):
        try:
            resolve_backend(backend, q)
        except RuntimeError as err:
            print(json.dumps({**base, "backend": backend, "skipped": str(err)}))
            continue
        ms = run(lambda b=backend: packed_attention(q, k, v, seqs, backend=b))
        print(json.dumps({**base, "backend": backend, "fwd_bwd_ms": round(ms, 3)}))


if __name__ == "__main__":
    main()
