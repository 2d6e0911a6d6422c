r"""Harmonic-loss heads (Baek et al., 2025): class probabilities from distances to class centres.

:math:`p_i = d(x, w_i)^{-n} / \sum_j d(x, w_j)^{-n}`, computed as the softmax of the *harmonic
logits* :math:`-n\log d(x, w_i)` (so ``F.cross_entropy(harmonic_logits, y)`` is the harmonic loss and
no power overflows). A distance of exactly 0 is clamped at ``eps`` (the class then takes all the
probability). Distances (all match ``scipy.spatial.distance.cdist`` with the same name):

* ``euclidean`` :math:`\|x-w\|_2`, ``manhattan`` (SciPy's ``cityblock``) :math:`\|x-w\|_1`,
  ``minkowski`` :math:`\|x-w\|_p`, ``chebyshev`` :math:`\|x-w\|_\infty`;
* ``cosine`` :math:`1 - \frac{x\cdot w}{\|x\|\|w\|}`;
* ``canberra`` :math:`\sum_k \frac{|x_k-w_k|}{|x_k|+|w_k|}` (0/0 terms count 0, as in SciPy);
* ``braycurtis`` :math:`\frac{\sum_k|x_k-w_k|}{\sum_k|x_k+w_k|}`;
* ``mahalanobis`` :math:`\sqrt{(x-w)^\top M (x-w)}` with M = VI (SciPy's inverse covariance), or
  a learnable :math:`M = LL^\top` in :class:`HarmonicHead`.

Distances 1, 2, 4 with n = 2 give probabilities 0.7619, 0.1905, 0.0476.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from ...core.backend import safe_sqrt
from ._checks import positive, reduce, safe_div, tensor
from ._checks import reduction as check_reduction

__all__ = ["HarmonicHead", "harmonic_distances", "harmonic_logits", "harmonic_loss"]

Tensor = torch.Tensor


def _minkowski(x: Tensor, c: Tensor, diff: Tensor, p: float, vi: Tensor | None) -> Tensor:
    p = positive(p, "p")
    if p < 1:
        raise ValueError(f"p must be ≥ 1 for the Minkowski distance, got {p!r}")
    s = diff.abs().pow(p).sum(-1)
    ok = s > 0
    return torch.where(ok, torch.where(ok, s, torch.ones_like(s)) ** (1 / p), torch.zeros_like(s))


def _cosine(x: Tensor, c: Tensor, diff: Tensor, p: float, vi: Tensor | None) -> Tensor:
    nx, nc = safe_sqrt(x.pow(2).sum(-1), torch), safe_sqrt(c.pow(2).sum(-1), torch)
    if bool((nx == 0).any()) or bool((nc == 0).any()):
        raise ValueError("the cosine distance is undefined for a zero vector (x or centres)")
    return 1 - (x @ c.T) / (nx[:, None] * nc[None, :])


def _mahalanobis(x: Tensor, c: Tensor, diff: Tensor, p: float, vi: Tensor | None) -> Tensor:
    if vi is None:
        raise ValueError("vi (the inverse covariance matrix M) is needed for the mahalanobis distance")
    vi = tensor(vi, "vi", ndim=2).to(x.dtype)
    if vi.shape != (x.shape[1], x.shape[1]):
        raise ValueError(f"vi must be ({x.shape[1]}, {x.shape[1]}), got {tuple(vi.shape)}")
    return safe_sqrt(torch.einsum("bcd,de,bce->bc", diff, vi, diff), torch)


#: each distance from (x, centres, their differences, the Minkowski order p, the matrix VI)
_FORMULAS: dict[str, Callable[[Tensor, Tensor, Tensor, float, Tensor | None], Tensor]] = {
    "euclidean": lambda x, c, diff, p, vi: safe_sqrt(diff.pow(2).sum(-1), torch),
    "manhattan": lambda x, c, diff, p, vi: diff.abs().sum(-1),
    "cosine": _cosine,
    "minkowski": _minkowski,
    "chebyshev": lambda x, c, diff, p, vi: diff.abs().amax(-1),
    "canberra": lambda x, c, diff, p, vi: safe_div(diff.abs(), x.abs()[:, None, :] + c.abs()[None, :, :]).sum(-1),
    "braycurtis": lambda x, c, diff, p, vi: safe_div(diff.abs().sum(-1), (x[:, None, :] + c[None, :, :]).abs().sum(-1)),
    "mahalanobis": _mahalanobis,
}
DISTANCES = tuple(_FORMULAS)


def _check_distance(distance: Any) -> str:
    if distance not in _FORMULAS:
        raise ValueError(f"distance must be one of {', '.join(DISTANCES)}, got {distance!r}")
    return distance


def harmonic_distances(x: Tensor, centres: Tensor, distance: str = "euclidean", *, p: float = 3.0,
                       vi: Tensor | None = None) -> Tensor:
    """Distances (B, C) between rows of x (B, D) and class centres (C, D); differentiable (subgradient
    0 where a distance is 0).

    :param x: (B, D) points.
    :param centres: (C, D) class centres.
    :param distance: a name of the module list above (SciPy ``cdist``'s conventions; ``manhattan`` is its
        ``cityblock``).
    :param p: the Minkowski order p ≥ 1.
    :param vi: (D, D) the matrix M of the Mahalanobis distance (SciPy's inverse covariance ``VI``).
    :returns: (B, C) distances.
    :raises ValueError: naming the argument: an unknown distance, NaN or infinite inputs, feature counts
        that differ, p < 1, a missing or misshapen ``vi``, a zero vector under the cosine distance.
    """
    formula = _FORMULAS[_check_distance(distance)]
    x = tensor(x, "x", ndim=2)
    c = tensor(centres, "centres", ndim=2)
    if x.shape[1] != c.shape[1]:
        raise ValueError(f"x has {x.shape[1]} features but centres have {c.shape[1]}")
    c = c.to(x.dtype)
    return formula(x, c, x[:, None, :] - c[None, :, :], p, vi)


def harmonic_logits(distances: torch.Tensor, n: float, *, eps: float = 1e-12) -> torch.Tensor:
    r"""Harmonic logits :math:`-n\log\max(d, \varepsilon)`: their softmax is :math:`d^{-n}/\sum d^{-n}`."""
    n = positive(n, "n")
    eps = positive(eps, "eps")
    d = tensor(distances, "distances")
    if bool((d < 0).any()):
        raise ValueError("distances must be ≥ 0")
    return -n * torch.log(d.clamp_min(eps))


def harmonic_loss(distances: torch.Tensor, target: torch.Tensor, n: float, *, eps: float = 1e-12,
                  reduction: str = "mean") -> torch.Tensor:
    r"""Harmonic loss :math:`-\log p_y = n\log d_y + \log\sum_j d_j^{-n}` from distances (B, C)."""
    how = check_reduction(reduction)
    logits = harmonic_logits(distances, n, eps=eps)
    if not isinstance(target, torch.Tensor) or target.dtype.is_floating_point or target.shape != logits.shape[:1]:
        raise ValueError(f"target must be an integer tensor of shape ({logits.shape[0]},)")
    return reduce(torch.nn.functional.cross_entropy(logits, target, reduction="none"), how)


class HarmonicHead(torch.nn.Module):
    r"""A classification head whose logits are harmonic: :math:`-n\log d(x, w_i)` for learnable
    class centres :math:`w_i` (``weight``, shape (classes, in_features)).

    Use it in place of ``nn.Linear(in_features, classes)``; ``F.cross_entropy(head(x), y)`` is then
    the harmonic loss (:func:`harmonic_loss`) and ``head(x).softmax(-1)`` the class probabilities.
    ``n`` defaults to √in_features (the paper's choice). For ``distance="mahalanobis"`` a learnable
    factor L (identity at start) gives :math:`M = LL^\top`. ``p`` is the Minkowski order.
    """

    def __init__(self, in_features: int, classes: int, *, distance: str = "euclidean", n: float | None = None,
                 p: float = 3.0, eps: float = 1e-12, dtype: Any = None) -> None:
        super().__init__()
        for value, name in ((in_features, "in_features"), (classes, "classes")):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        self.distance, self.p, self.eps = _check_distance(distance), p, positive(eps, "eps")
        self.n = math.sqrt(in_features) if n is None else positive(n, "n")
        self.weight = torch.nn.Parameter(torch.randn(classes, in_features, dtype=dtype))
        self.factor = (torch.nn.Parameter(torch.eye(in_features, dtype=dtype)) if distance == "mahalanobis"
                       else None)

    def distances(self, x: torch.Tensor) -> torch.Tensor:
        """Distances (B, classes) from x (B, in_features) to the class centres."""
        vi = None if self.factor is None else self.factor @ self.factor.T
        return harmonic_distances(x, self.weight, self.distance, p=self.p, vi=vi)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102 - the harmonic logits
        lead = x.shape[:-1]
        d = self.distances(x.reshape(-1, x.shape[-1]))
        return harmonic_logits(d, self.n, eps=self.eps).reshape(*lead, -1)
