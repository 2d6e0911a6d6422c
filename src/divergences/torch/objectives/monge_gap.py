r"""The Monge gap regulariser (Uscidda & Cuturi, 2023)."""

from __future__ import annotations

from typing import Any

import torch

from ._checks import tensor

__all__ = ["monge_gap"]


def monge_gap(x: torch.Tensor, tx: torch.Tensor, *, epsilon: float, p: float = 2, weights: Any = None,
              **sinkhorn_options: Any) -> torch.Tensor:
    r"""Monge gap of a map T on the reference samples x: how far T is from an optimal transport map.

    :math:`\mathcal M_\mu^\varepsilon(T) = \sum_i a_i\,c(x_i, T(x_i)) - OT_\varepsilon(\mu, T_\sharp\mu)` with
    :math:`c(u, v) = \|u - v\|^p`, μ the (weighted) empirical measure of x, :math:`T_\sharp\mu` the same
    weights on ``tx`` = T(x), and :math:`OT_\varepsilon` the entropic transport cost of
    :func:`divergences.samples.sinkhorn` (``debiased=False``; ⟨π, C⟩ + ε KL(π‖a⊗a)). The first term is
    the cost of the coupling that T itself defines, the second the best coupling's, so the gap is
    ≥ 0 at ε = 0 and 0 iff T is c-optimal on μ; at ε > 0 it is ≥ −ε·H(a) (H the entropy of the
    weights, log n when uniform), the entropy of T's own deterministic coupling, which is what
    ``OT_ε`` charges for. Differentiable in ``tx`` (and x): Sinkhorn's gradient is taken by the
    envelope theorem. Fit T#μ to a target ν with ``sinkhorn(tx, y, epsilon=…) + λ·monge_gap(x, tx, …)``
    (the composition of the paper). ``sinkhorn_options`` go to :func:`~divergences.samples.sinkhorn`.
    OTT-JAX's ``monge_gap_from_samples`` uses its own regularised cost; the two agree up to the
    entropy constant of their conventions.

    >>> import torch
    >>> x = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    >>> abs(float(monge_gap(x, x + 0.5, epsilon=1e-3))) < 1e-2  # a translation is optimal for ‖·‖²
    True
    """
    from ...core.backend import safe_sqrt
    from ...samples import sinkhorn

    x = tensor(x, "x", ndim=2)
    tx = tensor(tx, "tx", ndim=2)
    if x.shape != tx.shape:
        raise ValueError(f"x {tuple(x.shape)} and tx {tuple(tx.shape)} must have the same shape (tx = T(x))")
    if weights is None:
        a = torch.full((len(x),), 1.0 / len(x), dtype=x.dtype)
    else:
        a = torch.as_tensor(weights, dtype=x.dtype)
        if a.shape != (len(x),) or not bool(torch.isfinite(a).all()) or bool((a <= 0).any()):
            raise ValueError(f"weights must be {len(x)} finite positive numbers")
        a = a / a.amax()  # weights near 1e308 would sum to inf
        a = a / a.sum()
    ot = sinkhorn(x, tx, epsilon=epsilon, p=p, debiased=False, weights=(a, a), **sinkhorn_options)
    d2 = (x - tx).pow(2).sum(-1)
    displacement = d2 if float(p) == 2 else safe_sqrt(d2, torch) ** float(p)
    return (a * displacement).sum() - ot
