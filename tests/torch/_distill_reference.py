"""Direct formulas for the distillation tests, written from probabilities (independently of the generators)."""

from __future__ import annotations

import torch


def _xlogy(x, y):
    return torch.where(x > 0, x * torch.log(torch.where(x > 0, y, torch.ones_like(y))), torch.zeros_like(x))


def _kl(p, q):
    return (_xlogy(p, p) - _xlogy(p, q)).sum(-1)


def direct(name: str, p: torch.Tensor, q: torch.Tensor, **params) -> torch.Tensor:
    """D(p‖q) per row from probabilities p (teacher) and q (student)."""
    if name == "kl":
        return _kl(p, q)
    if name == "reverse_kl":
        return _kl(q, p)
    if name == "jeffreys":
        return ((p - q) * (torch.log(p) - torch.log(q))).sum(-1)
    if name == "js":
        b = params.get("beta", 0.5)
        m = b * p + (1 - b) * q
        return b * _kl(p, m) + (1 - b) * _kl(q, m)
    if name == "tv":
        return 0.5 * (p - q).abs().sum(-1)
    if name == "hellinger":
        return 0.5 * ((p.sqrt() - q.sqrt()) ** 2).sum(-1)
    if name == "pearson":
        return ((p - q) ** 2 / q).sum(-1)
    if name == "neyman":
        return ((p - q) ** 2 / p).sum(-1)
    if name == "triangular":
        return ((p - q) ** 2 / (p + q)).sum(-1)
    if name == "alpha":
        a = params.get("alpha", 0.5)
        return ((p**a * q ** (1 - a)).sum(-1) - 1) / (a * (a - 1))
    if name == "skew_kl":
        lam = params.get("skew", 0.1)
        return _kl(p, lam * p + (1 - lam) * q)
    if name == "skew_reverse_kl":
        lam = params.get("skew", 0.1)
        return _kl(q, (1 - lam) * p + lam * q)
    if name == "cross_entropy":
        return -(p * torch.log(q)).sum(-1)
    if name == "renyi":
        a = params.get("alpha", 0.5)
        return torch.log((p**a * q ** (1 - a)).sum(-1)) / (a - 1)
    if name == "bhattacharyya":
        return -torch.log((p * q).sqrt().sum(-1))
    if name == "le_cam":
        return 0.5 * ((p - q) ** 2 / torch.where(p + q > 0, p + q, torch.ones_like(p))).sum(-1)
    if name == "jensen_tsallis":
        o = params.get("order", 2.0)
        return (0.5 * (p**o + q**o) - (0.5 * (p + q)) ** o).sum(-1) / (o - 1)
    if name == "cauchy_schwarz":
        return -torch.log((p * q).sum(-1) ** 2 / ((p * p).sum(-1) * (q * q).sum(-1)))
    raise KeyError(name)


#: every built-in divergence, with non-default parameters where it has some
CASES = [
    ("kl", {}), ("reverse_kl", {}), ("jeffreys", {}), ("js", {"beta": 0.5}), ("js", {"beta": 0.2}),
    ("tv", {}), ("hellinger", {}), ("pearson", {}), ("neyman", {}), ("triangular", {}),
    ("alpha", {"alpha": 0.3}), ("alpha", {"alpha": 1.7}), ("skew_kl", {"skew": 0.1}),
    ("skew_reverse_kl", {"skew": 0.3}), ("cross_entropy", {}), ("renyi", {"alpha": 0.6}),
    ("renyi", {"alpha": 2.0}), ("bhattacharyya", {}), ("cauchy_schwarz", {}),
]


def reduce(per_token: torch.Tensor, keep: torch.Tensor, weights: torch.Tensor | None, reduction: str, batch: int):
    w = keep.to(per_token.dtype) * (1.0 if weights is None else weights)
    total = (per_token * w).sum()
    if reduction == "sum":
        return total
    if reduction == "mean":
        return total / max(int(keep.sum()), 1)
    if reduction == "batchmean":
        return total / batch
    return per_token * w
