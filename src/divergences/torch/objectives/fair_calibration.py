r"""The Jensen–Shannon measure used to calibrate the strength λ of a fairness regulariser.

Lee, Antonio, Avanzi, Marchi & Zhou (2025), *Machine Learning with Multitype Protected
Attributes: Intersectional Fairness through Regularisation* (arXiv 2509.08163), train
``loss + λ · (JdCov or CCdCov)`` for λ on a grid and, for each λ, measure how far the
distributions of the validation predictions differ across the (intersectional) groups with the
generalised Jensen–Shannon divergence of Lin (1991):

.. math::

   \mathrm{JSD}_\pi(p_1, \dots, p_K) = H\Big(\sum_g \pi_g p_g\Big) - \sum_g \pi_g H(p_g),

where :math:`p_g` is a Gaussian kernel density estimate of group g's predictions evaluated on an
even grid spanning all predictions and normalised to sum to 1 on that grid, H is the Shannon
entropy in bits, and :math:`\pi_g` are the group proportions (``weights="proportion"``) or
1/K (``weights="equal"``). λ is then chosen from the curves JSD(λ) and accuracy(λ) (the paper's
repository, ``agi-lab/beyond-correlation``, plots both and picks the λ by inspection; no automatic
selection rule is stated, so none is implemented here).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ._checks import positive, tensor

__all__ = ["group_js_divergence"]

_WEIGHTS = ("proportion", "equal")


def _group_index(groups: Any, n: int) -> torch.Tensor:
    if not isinstance(groups, torch.Tensor):
        try:
            groups = torch.as_tensor(groups)
        except (TypeError, ValueError, RuntimeError):
            raise ValueError("groups must be a tensor or array of group labels (numbers), one per prediction") from None
    if groups.ndim not in (1, 2) or groups.shape[0] != n:
        raise ValueError(f"groups must have shape ({n},) or ({n}, k) (one label row per prediction), "
                         f"got {tuple(groups.shape)}")
    if groups.dtype.is_floating_point and not bool(torch.isfinite(groups).all()):
        raise ValueError("groups contains NaN or an infinite value")
    rows = groups[:, None] if groups.ndim == 1 else groups
    _, index = torch.unique(rows, dim=0, return_inverse=True)
    return index


def _entropy_bits(p: torch.Tensor) -> torch.Tensor:
    """Shannon entropy in bits along the last axis: the registry's (0 · log 0 = 0, zero gradient there)."""
    import divergences as dv

    return dv.entropy(p, base=2, validate=False)


def group_js_divergence(
    predictions: Any,
    groups: Any,
    *,
    weights: str = "proportion",
    bandwidth: float = 0.15,
    grid_size: int = 1000,
) -> torch.Tensor:
    r"""Generalised Jensen–Shannon divergence (bits) between the groups' prediction distributions.

    JSD = H(Σ_g π_g p_g) − Σ_g π_g H(p_g) (Lin, 1991), with p_g the Gaussian kernel density of group
    g's predictions (bandwidth h: p_g(x) ∝ Σ_{i∈g} exp(−(x − ŷ_i)²/(2h²))) on ``grid_size`` even
    points from min(ŷ) to max(ŷ), normalised to sum 1; π_g the group shares (``"proportion"``) or
    1/K (``"equal"``). 0 when every group has the same predictions; at most log₂ K.

    ``predictions``: (n,) model outputs. ``groups``: (n,) labels or (n, k) label rows (each distinct
    row is one intersectional group, e.g. gender × region). Defaults (h = 0.15, 1 000 points,
    proportion weights, bits) are those of the paper's repository (``JSD_generalized`` in
    ``agi-lab/beyond-correlation``); it clips probabilities at 1e-10 inside the logarithm, we use
    0 · log 0 = 0. Differentiable in ``predictions`` (also through the grid's end points), so it can
    be monitored on a validation set or used as a penalty.

    Calibration as in the paper: for each λ on a grid, fit ``loss + λ · regulariser`` and record
    ``group_js_divergence(validation predictions, groups)`` next to the accuracy metric; pick λ from
    that trade-off.

    >>> import torch
    >>> from divergences.torch.objectives import group_js_divergence
    >>> y = torch.tensor([0.1, 0.2, 0.3, 0.1, 0.2, 0.3], dtype=torch.float64)
    >>> float(group_js_divergence(y, torch.tensor([0, 0, 0, 1, 1, 1])))  # same predictions
    0.0
    >>> far = torch.tensor([0.0, 0.1, 0.2, 5.0, 5.1, 5.2], dtype=torch.float64)
    >>> round(float(group_js_divergence(far, torch.tensor([0, 0, 0, 1, 1, 1]))), 6)  # disjoint: 1 bit
    1.0
    """
    if weights not in _WEIGHTS:
        raise ValueError(f"weights must be one of {_WEIGHTS}, got {weights!r}")
    h = positive(bandwidth, "bandwidth")
    if isinstance(grid_size, bool) or not isinstance(grid_size, int) or grid_size < 2:
        raise ValueError(f"grid_size must be an integer ≥ 2, got {grid_size!r}")
    y = tensor(predictions, "predictions", ndim=1, min_rows=2)
    index = _group_index(groups, y.shape[0]).to(y.device)
    k = int(index.max()) + 1
    if k < 2:
        raise ValueError("groups must contain at least 2 distinct groups")

    t = torch.linspace(0.0, 1.0, grid_size, dtype=y.dtype, device=y.device)
    grid = y.min() + (y.max() - y.min()) * t
    z = (grid[None, :] - y[:, None]) / h
    # group densities in log space: a shift per grid point keeps exp() in range; memory O(n · grid)
    logk = -0.5 * z * z
    shift = logk.max(0).values.detach()
    onehot = torch.nn.functional.one_hot(index, k).to(y.dtype)  # (n, K)
    sums = onehot.T @ torch.exp(logk - shift)  # (K, G)
    positive_sum = sums > 0
    logdens = torch.where(positive_sum, torch.log(torch.where(positive_sum, sums, torch.ones_like(sums))),
                          torch.full_like(sums, -math.inf)) + shift
    p = torch.softmax(logdens, dim=-1)  # each group's density normalised on the grid
    counts = onehot.sum(0)
    pi = counts / counts.sum() if weights == "proportion" else torch.full_like(counts, 1.0 / k)
    mix = (pi[:, None] * p).sum(0)
    jsd = _entropy_bits(mix) - (pi * _entropy_bits(p)).sum()
    return jsd.clamp_min(0.0)
