import math

import pytest
import torch

from encoders.attention import Attention, equal_length_runs, packed_attention, resolve_backend
from encoders.packing import SeqLens, segment_arange

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def reference_attention(q, k, v, lengths):
    """Plain softmax attention computed separately for each sequence."""
    outs, start = [], 0
    for n in lengths:
        qs, ks, vs = (t[start : start + n].transpose(0, 1).double() for t in (q, k, v))
        weights = torch.softmax(qs @ ks.transpose(-1, -2) / math.sqrt(q.shape[-1]), dim=-1)
        outs.append((weights @ vs).transpose(0, 1))
        start += n
    return torch.cat(outs).to(q.dtype)


@pytest.mark.parametrize("lengths", [[5, 9, 9, 3, 12, 12, 12, 1], [16, 16, 16], [7]])
def test_packed_sdpa_equals_per_sequence_attention(lengths):
    q, k, v = (torch.randn(sum(lengths), 4, 8) for _ in range(3))
    seqs = SeqLens.from_lengths(lengths)
    out = packed_attention(q, k, v, seqs, backend="sdpa")
    torch.testing.assert_close(out, reference_attention(q, k, v, lengths), rtol=1e-5, atol=1e-5)


def test_packed_attention_keeps_sequences_apart():
    lengths = [4, 6]
    q, k, v = (torch.randn(10, 2, 8) for _ in range(3))
    out = packed_attention(q, k, v, SeqLens.from_lengths(lengths), backend="sdpa")
    v2 = v.clone()
    v2[4:] += 100.0  # change only the second sequence
    out2 = packed_attention(q, k, v2, SeqLens.from_lengths(lengths), backend="sdpa")
    torch.testing.assert_close(out[:4], out2[:4])
    assert not torch.allclose(out[4:], out2[4:])


def test_packed_attention_gradients_match_reference():
    lengths = [3, 8, 8, 2]
    q, k, v = (torch.randn(sum(lengths), 2, 4, dtype=torch.float64, requires_grad=True) for _ in range(3))
    seqs = SeqLens.from_lengths(lengths)
    packed_attention(q, k, v, seqs, backend="sdpa").pow(2).sum().backward()
    grads = [t.grad.clone() for t in (q, k, v)]
    for t in (q, k, v):
        t.grad = None
    reference_attention(q, k, v, lengths).pow(2).sum().backward()
    for got, t in zip(grads, (q, k, v)):
        torch.testing.assert_close(got, t.grad)


def test_attention_module_packed_equals_one_sample_at_a_time():
    attn = Attention(32, 4).eval()
    lengths = [7, 3, 11]
    x = torch.randn(sum(lengths), 32)
    packed = attn(x, SeqLens.from_lengths(lengths))
    singles = torch.cat([attn(part, SeqLens.from_lengths([len(part)])) for part in x.split(lengths)])
    torch.testing.assert_close(packed, singles, rtol=1e-5, atol=1e-6)


def test_equal_length_runs_and_segment_arange():
    assert equal_length_runs((3, 3, 5, 3)) == [(2, 3), (1, 5), (1, 3)]
    out = segment_arange(torch.tensor([10, 0, 4]), torch.tensor([2, 3, 1]))
    assert out.tolist() == [10, 11, 0, 1, 2, 4]


def test_backend_choice_and_errors():
    q = torch.randn(4, 2, 8)
    assert resolve_backend("auto", q) == "sdpa"
    with pytest.raises(ValueError, match="unknown attention backend 'flash'"):
        resolve_backend("flash", q)
    with pytest.raises(RuntimeError, match="varlen"):
        resolve_backend("varlen", q)
    with pytest.raises(ValueError, match="lengths add up to 5"):
        packed_attention(q, q, q, SeqLens.from_lengths([2, 3]))
    with pytest.raises(ValueError, match="at least one token"):
        SeqLens.from_lengths([3, 0])


@cuda
@pytest.mark.parametrize("backend", ["sdpa", "varlen", "xformers"])
def test_gpu_backends_equal_reference(backend):
    from encoders.attention import xformers_available

    if backend == "xformers" and not xformers_available():
        pytest.skip("xformers CUDA kernels not available")
    lengths = [403, 647, 512, 1, 90]
    q, k, v = (torch.randn(sum(lengths), 8, 64, device="cuda", dtype=torch.bfloat16) for _ in range(3))
    out = packed_attention(q, k, v, SeqLens.from_lengths(lengths, "cuda"), backend=backend)
    ref = reference_attention(q.float(), k.float(), v.float(), lengths)
    torch.testing.assert_close(out.float(), ref, rtol=2e-2, atol=2e-2)
