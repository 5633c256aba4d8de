import math

import torch

from encoders.positions import RotaryEmbedding3D, apply_rotary, sincos_1d, sincos_2d, sincos_3d, token_grid_positions


def test_sincos_1d_values():
    table = sincos_1d(4, torch.tensor([0.0, 1.0, 2.0]))
    # dims: [sin(p), sin(p/100), cos(p), cos(p/100)]
    expected = torch.tensor([[math.sin(p), math.sin(p / 100), math.cos(p), math.cos(p / 100)] for p in (0, 1, 2)])
    torch.testing.assert_close(table, expected)


def test_sincos_2d_column_half_first_for_ijepa():
    table = sincos_2d(8, grid_h=2, grid_w=3, column_first=True)
    assert table.shape == (6, 8)
    token = 1 * 3 + 2  # row 1, column 2
    torch.testing.assert_close(table[token, :4], sincos_1d(4, torch.tensor([2.0]))[0])
    torch.testing.assert_close(table[token, 4:], sincos_1d(4, torch.tensor([1.0]))[0])
    row_first = sincos_2d(8, 2, 3, column_first=False)
    torch.testing.assert_close(row_first[token, :4], sincos_1d(4, torch.tensor([1.0]))[0])


def test_sincos_3d_layouts():
    table = sincos_3d(32, 2, 3, 4)
    assert table.shape == (24, 32)
    token = 1 * 12 + 2 * 4 + 3  # frame 1, row 2, column 3
    torch.testing.assert_close(table[token, :16], sincos_1d(16, torch.tensor([1.0]))[0])
    torch.testing.assert_close(table[token, 16:24], sincos_1d(8, torch.tensor([2.0]))[0])
    torch.testing.assert_close(table[token, 24:], sincos_1d(8, torch.tensor([3.0]))[0])
    uniform = sincos_3d(32, 2, 3, 4, uniform_power=True)  # 2 * ceil(32 / 6) = 12 dims each, cut to 32
    torch.testing.assert_close(uniform[token, :12], sincos_1d(12, torch.tensor([1.0]))[0])
    torch.testing.assert_close(uniform[token, 24:], sincos_1d(12, torch.tensor([3.0]))[0][:8])


def test_token_grid_positions():
    pos = token_grid_positions(torch.tensor([0, 5, 13, 23]), grid_h=3, grid_w=4)
    assert pos.tolist() == [[0, 0, 0], [0, 1, 1], [1, 0, 1], [1, 2, 3]]


def test_rope_preserves_norms_and_leaves_tail():
    rope = RotaryEmbedding3D(head_dim=16)  # slices of 2 * ((16 // 3) // 2) = 4 dims; 4 tail dims not rotated
    x = torch.randn(5, 2, 16)
    cos, sin = rope.cos_sin(torch.randint(0, 7, (5, 3)))
    y = apply_rotary(x, cos, sin)
    torch.testing.assert_close(y.norm(dim=-1), x.norm(dim=-1))
    torch.testing.assert_close(y[..., 12:], x[..., 12:])


def test_rope_scores_depend_only_on_relative_position():
    rope = RotaryEmbedding3D(head_dim=24)
    q, k = torch.randn(1, 1, 24), torch.randn(1, 1, 24)

    def score(pq, pk):
        cq, sq = rope.cos_sin(torch.tensor([pq]))
        ck, sk = rope.cos_sin(torch.tensor([pk]))
        return (apply_rotary(q, cq, sq) * apply_rotary(k, ck, sk)).sum()

    torch.testing.assert_close(score([1, 2, 3], [0, 1, 1]), score([5, 6, 7], [4, 5, 5]), rtol=1e-5, atol=1e-5)
    assert not torch.allclose(score([1, 2, 3], [0, 1, 1]), score([1, 2, 3], [0, 1, 0]))


def test_rope_tiled_frequencies_as_released():
    rope = RotaryEmbedding3D(head_dim=12, tiled_freqs=True)  # slices of 4 dims, frequencies [w0, w1, w0, w1]
    cos, _ = rope.cos_sin(torch.tensor([[3, 0, 0]]))
    w = 1.0 / 10000 ** (torch.arange(2) / 2.0)
    torch.testing.assert_close(cos[0, :4], torch.cos(3 * torch.cat([w, w])))
    textbook = RotaryEmbedding3D(head_dim=12).cos_sin(torch.tensor([[3, 0, 0]]))[0]
    torch.testing.assert_close(textbook[0, :4], torch.cos(3 * w.repeat_interleave(2)))
