"""SIGReg, VICReg and RankMe against what they measure: Gaussian vs collapsed samples, known spectra, the formulas,
and two gloo ranks against one process with the whole batch."""

from __future__ import annotations

import os
import socket

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from jepa.regularizers import SIGReg, VICReg, build_regularizer, effective_rank, feature_std


def gaussian(n: int, d: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed))


def test_sigreg_is_near_zero_for_isotropic_gaussians_and_large_for_shifted_or_low_rank_samples():
    sigreg = SIGReg(num_slices=128)
    x = gaussian(4096, 32)
    # under the null, N·|φ_N − φ|² has mean 1 − e^{−t²}: the weighted integral is about 1.06 whatever N is
    null = [float(sigreg(gaussian(4096, 32, seed), step=seed)) for seed in range(3)]
    assert all(0.5 < v < 1.6 for v in null), null
    shifted = float(sigreg(x + 1.0))
    low_rank = float(sigreg(gaussian(4096, 2) @ gaussian(2, 32, 1) / 2**0.5))
    squeezed = float(sigreg(x * 0.1))
    assert shifted > 100 and low_rank > 100 and squeezed > 100, (shifted, low_rank, squeezed)


def test_sigreg_directions_are_redrawn_from_the_step_and_unit_length():
    sigreg = SIGReg(num_slices=16)
    a, b, a_again = (sigreg.directions(8, s, torch.device("cpu")) for s in (1, 2, 1))
    torch.testing.assert_close(a.norm(dim=0), torch.ones(16))
    assert torch.equal(a, a_again) and not torch.allclose(a, b)


def test_sigreg_gradient_moves_a_collapsed_batch_toward_isotropy():
    sigreg = SIGReg(num_slices=64)
    x = (gaussian(512, 2) @ gaussian(2, 16, 1) + 0.01 * gaussian(512, 16, 2)).requires_grad_()
    start_rank, start_stat = effective_rank(x.detach()), float(sigreg(x.detach()))
    opt = torch.optim.Adam([x], lr=0.05)
    for step in range(150):
        loss = sigreg(x, step)
        opt.zero_grad()
        loss.backward()
        opt.step()
    end_rank, end_stat = effective_rank(x.detach()), float(sigreg(x.detach(), 10_000))
    assert start_rank < 4 and end_rank > 12, (start_rank, end_rank)
    assert end_stat < start_stat / 20, (start_stat, end_stat)


def test_rankme_of_known_spectra():
    q1, _ = torch.linalg.qr(gaussian(64, 64, 3))
    q2, _ = torch.linalg.qr(gaussian(16, 16, 4))
    for spectrum, expected in (([1.0] * 16, 16.0), ([1.0] * 4 + [0.0] * 12, 4.0), ([5.0] + [0.0] * 15, 1.0)):
        x = q1[:, :16] @ torch.diag(torch.tensor(spectrum)) @ q2
        assert effective_rank(x) == pytest.approx(expected, rel=1e-3)
    p = np.array([2.0, 1.0, 1.0]) / 4  # singular values 2, 1, 1: exp of the entropy of σ / Σσ
    x = q1[:, :3] @ torch.diag(torch.tensor([2.0, 1.0, 1.0])) @ q2[:3]
    assert effective_rank(x) == pytest.approx(float(np.exp(-(p * np.log(p)).sum())), rel=1e-4)


def test_vicreg_terms_follow_their_formulas():
    x = gaussian(200, 6) @ torch.diag(torch.tensor([0.2, 0.5, 1.0, 2.0, 3.0, 0.1])) + gaussian(200, 6, 1)[:, :1]
    variance, covariance = VICReg(covariance_weight=0.5, eps=1e-4).terms(x)
    a = x.double().numpy()
    cov = np.cov(a, rowvar=False)
    expected_var = np.maximum(0, 1 - np.sqrt(cov.diagonal() + 1e-4)).mean()
    expected_cov = ((cov - np.diag(cov.diagonal())) ** 2).sum() / a.shape[1]
    assert float(variance) == pytest.approx(expected_var, rel=1e-5)
    assert float(covariance) == pytest.approx(expected_cov, rel=1e-4)
    assert float(VICReg(0.5)(x)) == pytest.approx(expected_var + 0.5 * expected_cov, rel=1e-4)
    assert float(VICReg(0.5)(gaussian(20_000, 6))) < 0.02  # unit variances, no correlation: near zero


def test_feature_std_and_build_regularizer():
    assert feature_std(torch.tensor([[0.0, 0.0], [2.0, 4.0]])) == pytest.approx((2**0.5 + 8**0.5) / 2)
    assert build_regularizer("none") is None
    assert isinstance(build_regularizer("sigreg"), SIGReg) and isinstance(build_regularizer("vicreg"), VICReg)
    with pytest.raises(ValueError, match="unknown regularizer 'vic'"):
        build_regularizer("vic")


def _rank_worker(rank: int, port: int, x: torch.Tensor, out: dict) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    try:
        half = x.chunk(2)[rank].clone().requires_grad_()
        results = []
        for module in (SIGReg(num_slices=32), VICReg()):
            half.grad = None
            loss = module(half, step=7)
            loss.backward()
            results.append((float(loss), half.grad.clone()))
        out[rank] = results
    finally:
        dist.destroy_process_group()


@pytest.mark.skipif(not dist.is_gloo_available(), reason="needs torch.distributed with gloo")
def test_two_gloo_ranks_equal_one_process_with_the_whole_batch():
    x = gaussian(64, 8) * torch.linspace(0.2, 2.0, 8) + 0.3
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = mp.Manager().dict()
    mp.spawn(_rank_worker, args=(port, x, out), nprocs=2, join=True)
    for i, module in enumerate((SIGReg(num_slices=32), VICReg())):
        whole = x.clone().requires_grad_()
        loss = module(whole, step=7)
        loss.backward()
        for rank in (0, 1):
            value, grad = out[rank][i]
            assert value == pytest.approx(float(loss), rel=1e-5)
            # every rank's loss is the global one, so its rows' gradient is 2x; DDP then averages the 2 ranks
            torch.testing.assert_close(grad / 2, whole.grad.chunk(2)[rank], rtol=1e-4, atol=1e-6)
