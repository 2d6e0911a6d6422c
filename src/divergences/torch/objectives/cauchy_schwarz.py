r"""Cauchy–Schwarz divergence objectives (CS information bottleneck; Yu et al., 2024).

The CS divergence :math:`D_{CS}(p\|q) = -\log\frac{(\int pq)^2}{\int p^2\int q^2}` is ≥ 0, symmetric,
0 iff p = q, and needs no density ratio, which makes it a convenient training loss.
"""

from __future__ import annotations

import math

import torch

from ...core.validation import check_flag
from ._checks import positive, reduce, tensor
from ._checks import reduction as check_reduction

__all__ = ["conditional_cs_divergence", "cs_divergence_loss"]


def cs_divergence_loss(input: torch.Tensor, target: torch.Tensor, *, from_logits: bool = True,
                       reduction: str = "mean") -> torch.Tensor:
    r"""Cauchy–Schwarz divergence between two predictive (categorical) distributions per row.

    :math:`D_{CS}(p\|q) = -2\log\sum_k p_k q_k + \log\sum_k p_k^2 + \log\sum_k q_k^2` over the last
    axis, computed from log-probabilities with log-sum-exp (``logsumexp(a + b)``, ``logsumexp(2a)``),
    so logits of ±1e4 and −inf masks are safe; rows with disjoint supports give +inf. ``input`` and
    ``target`` are logits (``from_logits=True``, log-softmax applied) or probabilities. Symmetric in
    its arguments (so the distillation direction does not matter); nats; ``reduction`` over rows.
    The same value as :func:`divergences.cauchy_schwarz` on the probabilities.

    >>> import torch
    >>> z = torch.tensor([[2.0, 0.0, -1.0]])
    >>> float(cs_divergence_loss(z, z))
    0.0
    """
    from_logits = check_flag(from_logits, "from_logits")
    how = check_reduction(reduction)
    if not isinstance(input, torch.Tensor) or not isinstance(target, torch.Tensor):
        raise ValueError("input and target must be torch tensors")
    if input.shape != target.shape or input.ndim < 1 or input.shape[-1] == 0:
        raise ValueError(f"input {tuple(input.shape)} and target {tuple(target.shape)} must have one shape (..., K)")
    dtype = torch.promote_types(torch.promote_types(input.dtype, target.dtype), torch.float32)
    a, b = input.to(dtype), target.to(dtype)
    if from_logits:
        for t, name in ((a, "input"), (b, "target")):
            if bool(torch.isnan(t).any()) or bool((t == math.inf).any()):
                raise ValueError(f"{name} contains NaN or +inf logits")
            if bool((t == -math.inf).all(-1).any()):
                raise ValueError(f"{name} has a row whose logits are all -inf")
        a, b = torch.log_softmax(a, -1), torch.log_softmax(b, -1)
    else:
        for t, name in ((a, "input"), (b, "target")):
            if not bool(torch.isfinite(t).all()) or bool((t < 0).any()):
                raise ValueError(f"{name} must hold finite non-negative probabilities")
        a, b = torch.log(a), torch.log(b)
    value = -2 * torch.logsumexp(a + b, -1) + torch.logsumexp(2 * a, -1) + torch.logsumexp(2 * b, -1)
    return reduce(value.clamp_min(0), how)


def _gram(u: torch.Tensor, v: torch.Tensor, sigma: float) -> torch.Tensor:
    d2 = (u.unsqueeze(1) - v.unsqueeze(0)).pow(2).sum(-1)
    return torch.exp(-d2 / (2 * sigma**2))


def conditional_cs_divergence(x: torch.Tensor, y: torch.Tensor, y_pred: torch.Tensor, *, sigma_x: float = 1.0,
                              sigma_y: float = 1.0) -> torch.Tensor:
    r"""Kernel estimate of :math:`D_{CS}(p(y\mid x)\,\|\,q_\theta(\hat y\mid x))`, the prediction term
    of the CS information bottleneck for regression (Yu, Yu, Løkse, Jenssen & Príncipe, 2024).

    With Gaussian Gram matrices :math:`K_{ji} = \kappa_{\sigma_x}(x_j - x_i)`,
    :math:`L^{y}_{ji} = \kappa_{\sigma_y}(y_j - y_i)`, :math:`L^{\hat y}_{ji} = \kappa_{\sigma_y}(\hat y_j - \hat y_i)`,
    :math:`L^{y\hat y}_{ji} = \kappa_{\sigma_y}(y_j - \hat y_i)` and :math:`s_j = \sum_i K_{ji}`:

    .. math::
        \hat D = \log\sum_j\frac{\sum_i K_{ji}L^{y}_{ji}}{s_j^2}
               + \log\sum_j\frac{\sum_i K_{ji}L^{\hat y}_{ji}}{s_j^2}
               - 2\log\sum_j\frac{\sum_i K_{ji}L^{y\hat y}_{ji}}{s_j^2}.

    0 when ŷ = y; with a constant x (K ≡ 1) it is the unconditional sample CS divergence
    :func:`divergences.samples.cauchy_schwarz` between y and ŷ (tested). x: (n, d_x) or (n,),
    y and y_pred: (n, d_y) or (n,). Differentiable in y_pred (and x). O(n²) memory (a batch).
    """
    x, y, y_pred = (tensor(t, name, ndim=(1, 2), min_rows=2) for t, name in ((x, "x"), (y, "y"), (y_pred, "y_pred")))
    x, y, y_pred = (t[:, None] if t.ndim == 1 else t for t in (x, y, y_pred))
    if not (len(x) == len(y) == len(y_pred)):
        raise ValueError(f"x, y and y_pred must have the same number of rows, got {len(x)}, {len(y)}, {len(y_pred)}")
    if y.shape != y_pred.shape:
        raise ValueError(f"y {tuple(y.shape)} and y_pred {tuple(y_pred.shape)} must have the same shape")
    sx, sy = positive(sigma_x, "sigma_x"), positive(sigma_y, "sigma_y")
    k = _gram(x, x, sx)
    s2 = k.sum(1) ** 2

    def term(u, v):
        return torch.log(((k * _gram(u, v, sy)).sum(1) / s2).sum())

    return (term(y, y) + term(y_pred, y_pred) - 2 * term(y, y_pred)).clamp_min(0)
