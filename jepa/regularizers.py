"""Anti-collapse terms any objective can add to its loss: SIGReg (LeJEPA) and VICReg's variance and covariance.

Both take embeddings ``[N, D]`` (one row per sample or token) and return a scalar. Under DDP their batch statistics
are all-reduced (with gradients), so N ranks of batch B give the value and gradients of one process with N·B.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor, nn

REGULARIZERS = ("none", "sigreg", "vicreg")


def distributed() -> bool:
    """Whether more than one process trains together."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def all_sum(x: Tensor) -> Tensor:
    """``x`` summed over every rank, with gradients flowing back to each rank's share (``x`` itself outside DDP)."""
    if not distributed():
        return x
    from torch.distributed.nn.functional import all_reduce

    return all_reduce(x)


def global_rows(n: int) -> int:
    """The number of rows of all ranks together when each has ``n``."""
    return n * dist.get_world_size() if distributed() else n


class SIGReg(nn.Module):
    """Sketched isotropic Gaussian regulariser (Balestriero & LeCun, 2025): the Epps–Pulley statistic of the
    embeddings projected on ``num_slices`` random unit directions, against a standard normal, averaged over
    directions. The statistic is ``N ∫ |φ_N(t) − e^{−t²/2}|² e^{−t²/2} dt`` with ``φ_N`` the empirical
    characteristic function, integrated by the trapezoid rule on ``num_knots`` knots of ``[0, t_max]`` (the
    integrand is even in ``t``). Directions are redrawn at every call from ``step`` (the same on every rank)."""

    def __init__(self, num_slices: int = 256, num_knots: int = 17, t_max: float = 3.0) -> None:
        super().__init__()
        if num_slices < 1 or num_knots < 2 or t_max <= 0:
            raise ValueError(f"SIGReg needs num_slices ≥ 1, num_knots ≥ 2, t_max > 0; got {num_slices}, "
                             f"{num_knots}, {t_max}")  # fmt: skip
        self.num_slices = num_slices
        t = torch.linspace(0.0, t_max, num_knots)
        gauss = torch.exp(-0.5 * t**2)
        trapezoid = torch.full_like(t, t_max / (num_knots - 1))
        trapezoid[[0, -1]] /= 2
        self.register_buffer("t", t, persistent=False)
        self.register_buffer("target", gauss, persistent=False)  # the standard normal's characteristic function
        self.register_buffer("weights", 2 * trapezoid * gauss, persistent=False)  # both halves of the line

    def directions(self, dim: int, step: int, device: torch.device) -> Tensor:
        """``[dim, num_slices]`` unit directions drawn from ``step``."""
        gen = torch.Generator(device="cpu").manual_seed(int(step))
        a = torch.randn(dim, self.num_slices, generator=gen)
        return (a / a.norm(dim=0, keepdim=True)).to(device)

    def forward(self, x: Tensor, step: int = 0) -> Tensor:
        x = x.float()
        proj = x @ self.directions(x.shape[1], step, x.device)  # [N, S]
        arg = proj.unsqueeze(-1) * self.t  # [N, S, K]
        n = global_rows(x.shape[0])
        cos_mean, sin_mean = all_sum(torch.stack([torch.cos(arg).sum(0), torch.sin(arg).sum(0)])) / n
        err = (cos_mean - self.target) ** 2 + sin_mean**2  # [S, K]
        return n * (err * self.weights).sum(-1).mean()


class VICReg(nn.Module):
    """VICReg's anti-collapse terms (Bardes et al., 2022), as eb_jepa regularises its JEPAs: the hinge
    ``mean_d relu(1 − sqrt(var_d + eps))`` keeps every dimension's std at 1 or above, and ``covariance_weight ×
    Σ_{i≠j} cov_ij² / D`` decorrelates dimensions."""

    def __init__(self, covariance_weight: float = 0.5, eps: float = 1e-4) -> None:
        super().__init__()
        self.covariance_weight, self.eps = covariance_weight, eps

    def terms(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The variance and covariance terms of ``x`` ``[N, D]``."""
        x = x.float()
        n = global_rows(x.shape[0])
        centred = x - all_sum(x.sum(0)) / n
        cov = all_sum(centred.T @ centred) / max(n - 1, 1)
        std = torch.sqrt(cov.diagonal() + self.eps)
        variance = torch.relu(1.0 - std).mean()
        off_diag = cov - torch.diag_embed(cov.diagonal())
        covariance = off_diag.pow(2).sum() / x.shape[1]
        return variance, covariance

    def forward(self, x: Tensor, step: int = 0) -> Tensor:
        variance, covariance = self.terms(x)
        return variance + self.covariance_weight * covariance


def build_regularizer(name: str, num_slices: int = 256) -> nn.Module | None:
    """The regulariser called ``name`` (``none``: ``None``)."""
    if name == "none":
        return None
    if name == "sigreg":
        return SIGReg(num_slices)
    if name == "vicreg":
        return VICReg()
    raise ValueError(f"unknown regularizer {name!r}: choose one of {', '.join(REGULARIZERS)}")


def effective_rank(x: Tensor) -> float:
    """RankMe (Garrido et al., 2023): ``exp`` of the entropy of the normalised singular values of ``x`` ``[N, D]``;
    D for isotropic features, 1 for features on a line."""
    s = torch.linalg.svdvals(x.float())
    p = s / s.sum().clamp(min=1e-12) + 1e-12
    return float(torch.exp(-(p * p.log()).sum()))


def feature_std(x: Tensor) -> float:
    """Mean over dimensions of each dimension's std across rows of ``x`` ``[N, D]``."""
    return float(x.float().std(dim=0).mean())
