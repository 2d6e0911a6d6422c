r"""Entropic Gromov–Wasserstein and fused Gromov–Wasserstein between samples (NumPy).

Gromov–Wasserstein compares two metric-measure spaces that need not share coordinates (clouds in different
dimensions, graphs, shapes up to isometry): with intra-distance matrices :math:`C^x` (n × n) and :math:`C^y`
(m × m) and the square loss,

.. math::
    GW(\pi) = \sum_{i,k,j,l} \bigl(C^x_{ik} - C^y_{jl}\bigr)^2 \pi_{ij}\pi_{kl},

minimised over couplings π of the weights a, b. The fused variant adds a feature cost M (n × m) between the
points, :math:`FGW(\pi) = (1-\alpha)\langle M, \pi\rangle + \alpha\,GW(\pi)`. Both are non-convex in π.

Solver (Peyré, Cuturi & Solomon 2016; the projected mirror descent of POT's ``entropic_gromov_wasserstein``,
``solver="PGD"``): from π = a ⊗ b, each outer step solves the entropic transport problem whose cost is the
gradient of the energy at the current plan, :math:`\nabla GW(\pi) = 2\,L(C^x, C^y)\otimes\pi` (for the square
loss, :math:`2[(C^x)^{\odot 2} a\,\mathbf 1^\top + \mathbf 1\,((C^y)^{\odot 2} b)^\top - 2 C^x \pi C^{y\top}]`),
with regularisation ε, by the Sinkhorn solver of :func:`~divergences.samples.sinkhorn` (its convergence rule
on the marginals; warm-started at the previous potentials; to a tenth of the plan's last move while the plan
still moves, and to ``sinkhorn_tol`` once it settles). The outer loop stops when the plan moves by less
than ``tol`` in L1 norm, or raises :class:`~divergences.samples.SinkhornConvergenceError` (or warns) with the
move reached. The value returned is the energy GW(π) (or FGW(π)) of the final plan, without the entropy term, as
POT's ``entropic_gromov_wasserstein2`` (``log["gw_dist"]``) and ``entropic_fused_gromov_wasserstein2``.
Memory: dense n × m plans and n × n, m × m distance matrices (small and medium problems).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._convergence import SinkhornConvergenceError, SinkhornConvergenceWarning, check_solver_options, settle
from ._inputs import as_samples
from ._transport_inputs import weights_pair

__all__ = ["GromovResult", "fused_gromov_wasserstein", "gromov_wasserstein"]


@dataclass(frozen=True)
class GromovResult:
    """``value`` the energy GW(π) (or FGW(π)) of the final ``plan`` (n × m), the outer ``iterations`` and the last
    ``plan_change`` (L1 norm of the last move of the plan)."""

    value: float
    plan: np.ndarray
    iterations: int
    plan_change: float


def _distances(x: Any, name: str, metric: str) -> np.ndarray:
    from scipy.spatial.distance import cdist

    if metric == "precomputed":
        c = np.asarray(x, dtype=np.float64)
        if c.ndim != 2 or c.shape[0] != c.shape[1] or c.shape[0] == 0:
            raise ValueError(f"{name} must be a square (n, n) matrix of distances with metric='precomputed', "
                             f"got shape {c.shape}")
        if not np.isfinite(c).all():
            raise ValueError(f"{name} contains NaN or an infinite value")
        return c
    pts = as_samples(x, name)
    if metric == "sqeuclidean":
        return cdist(pts, pts, "sqeuclidean")
    if metric == "euclidean":
        return cdist(pts, pts)
    raise ValueError(f"metric must be 'sqeuclidean', 'euclidean' or 'precomputed', got {metric!r}")


def _solve(cx, cy, a, b, features, alpha, *, eps, max_iter, tol, inner, label, on_failure):
    from ._sinkhorn_numpy import entropic_ot

    const = (cx**2 @ a)[:, None] + (cy**2 @ b)[None, :]

    def energy_cost(plan):  # L(C^x, C^y) ⊗ π, the square loss
        return const - 2 * cx @ plan @ cy.T

    plan = np.outer(a, b)
    f = None
    change, it = math.inf, 0
    while it < max_iter:
        it += 1
        grad = 2 * energy_cost(plan)
        if features is not None:
            grad = alpha * grad + (1 - alpha) * features
        grad -= grad.min()  # a constant: the same plan, and costs ≥ 0 for the ε path
        # an inexact step while the plan still moves a lot: the transport step is solved to a tenth of the last
        # move (at most 1e-3), and to sinkhorn_tol once the plan settles, so the final plan is the exact one's
        step_tol = max(inner["tol"], min(1e-3, 0.1 * change))
        _, inner_it, err, finite, f, g = entropic_ot(grad, a, b, eps, max_iter=inner["max_iter"], tol=step_tol,
                                                     scaling=None if f is not None else inner["scaling"], init=f)
        settle(f"{label}: the transport step of outer iteration {it}", err=err, tol=step_tol,
               iterations=inner_it, epsilon=eps, finite=finite, on_failure=on_failure, stacklevel=5)
        new = np.outer(a, b) * np.exp(np.maximum((f[:, None] + g[None, :] - grad) / eps, -700.0))
        change = float(np.abs(new - plan).sum())
        plan = new
        if change < tol and step_tol <= inner["tol"]:  # settled, and from an exactly solved step
            break
    if not change < tol:
        msg = (f"{label} did not converge: the plan still moved by {change:.3g} (L1) ≥ tol={tol:g} after {it} outer "
               "iterations; raise max_iter or epsilon")
        if on_failure == "raise":
            raise SinkhornConvergenceError(msg)
        warnings.warn(msg, SinkhornConvergenceWarning, stacklevel=4)
    value = float(np.sum(energy_cost(plan) * plan))
    if features is not None:
        value = (1 - alpha) * float(np.sum(features * plan)) + alpha * value
    # a sum of squares under a non-negative plan: ≥ 0; the expansion's rounding can leave -1e-16
    return GromovResult(value=max(value, 0.0), plan=plan, iterations=it, plan_change=change)


def _common(x, y, epsilon, weights, metric, max_iter, tol, sinkhorn_tol, sinkhorn_max_iter, scaling, on_failure):
    eps, sk_tol, sk_max, scaling, on_failure = check_solver_options(
        epsilon=epsilon, tol=sinkhorn_tol, max_iter=sinkhorn_max_iter, scaling=scaling, on_failure=on_failure)
    _, tol, max_iter, _, _ = check_solver_options(epsilon=1.0, tol=tol, max_iter=max_iter, scaling=None,
                                                  on_failure="raise")
    cx, cy = _distances(x, "x", metric), _distances(y, "y", metric)
    a, b = weights_pair(weights, len(cx), len(cy))
    return cx, cy, a, b, eps, dict(tol=sk_tol, max_iter=sk_max, scaling=scaling), max_iter, tol, on_failure


def gromov_wasserstein(x: Any, y: Any, *, epsilon: float, weights: tuple[Any, Any] | None = None,
                       metric: str = "sqeuclidean", max_iter: int = 1000, tol: float = 1e-9,
                       sinkhorn_tol: float = 1e-9, sinkhorn_max_iter: int = 10_000, scaling: float | None = 0.5,
                       on_failure: str = "raise") -> GromovResult:
    r"""Entropic Gromov–Wasserstein between x (n, d) and y (m, d'), d ≠ d' allowed (the module notes give the
    energy and the solver).

    ``metric``: the intra-distances, ``"sqeuclidean"`` (default, ‖·‖²), ``"euclidean"``, or ``"precomputed"``
    (x and y are then the (n, n) and (m, m) matrices, e.g. graph distances). ``epsilon`` regularises each outer
    transport step, in the units of the gradient of the energy (squared distance units). ``weights`` as in
    :func:`~divergences.samples.sinkhorn`. Returns a :class:`GromovResult` (value GW(π), the plan, the outer
    iterations). The energy is invariant to isometries of either cloud: a rotated, translated copy gives the
    value of the cloud against itself.

    Convention map: POT's ``ot.gromov.entropic_gromov_wasserstein2(C1, C2, p, q, "square_loss", epsilon)``
    (``solver="PGD"``) runs the same iteration with the same ε and returns the same energy; its inner Sinkhorn
    stops at 1000 iterations without saying so, ours raises when a step does not converge.

    >>> import numpy as np
    >>> x = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    >>> res = gromov_wasserstein(x, x @ np.array([[0.0, -1.0], [1.0, 0.0]]) + 5, epsilon=0.01)
    >>> round(res.value, 6), res.plan.round(6).tolist()[0]  # a rotated, shifted copy: the identity matching
    (0.0, [0.333333, 0.0, 0.0])
    """
    cx, cy, a, b, eps, inner, max_iter, tol, on_failure = _common(x, y, epsilon, weights, metric, max_iter, tol,
                                                                  sinkhorn_tol, sinkhorn_max_iter, scaling, on_failure)
    return _solve(cx, cy, a, b, None, 1.0, eps=eps, max_iter=max_iter, tol=tol, inner=inner,
                  label="gromov_wasserstein", on_failure=on_failure)


def fused_gromov_wasserstein(x: Any, y: Any, features: tuple[Any, Any], *, epsilon: float, alpha: float = 0.5,
                             weights: tuple[Any, Any] | None = None, metric: str = "sqeuclidean",
                             feature_metric: str = "sqeuclidean", max_iter: int = 1000, tol: float = 1e-9,
                             sinkhorn_tol: float = 1e-9, sinkhorn_max_iter: int = 10_000,
                             scaling: float | None = 0.5, on_failure: str = "raise") -> GromovResult:
    r"""Entropic fused Gromov–Wasserstein: :math:`(1-\alpha)\langle M, \pi\rangle + \alpha\,GW(\pi)`, with the
    structure of x (n, d) and y (m, d') as in :func:`gromov_wasserstein` and ``features=(fx, fy)`` of shapes
    (n, k), (m, k) giving :math:`M_{ij} = \|fx_i - fy_j\|^2` (``feature_metric="euclidean"``: not squared).
    α ∈ [0, 1]: α = 1 is GW, α = 0 entropic OT on the features. Same solver and options as
    :func:`gromov_wasserstein` (the gradient of the energy is (1 − α)M + 2α L ⊗ π).

    Convention map: POT's ``ot.gromov.entropic_fused_gromov_wasserstein2(M, C1, C2, p, q, "square_loss", epsilon,
    alpha=alpha)`` (``solver="PGD"``) is the same problem and iteration, and returns the same value.

    >>> import numpy as np
    >>> x = np.array([[0.0], [1.0], [3.0]])
    >>> res = fused_gromov_wasserstein(x, x + 1, (x, x), epsilon=0.01, alpha=0.5)
    >>> round(res.value, 6)  # the same structure and features: the identity matching, value 0
    0.0
    """
    from scipy.spatial.distance import cdist

    cx, cy, a, b, eps, inner, max_iter, tol, on_failure = _common(x, y, epsilon, weights, metric, max_iter, tol,
                                                                  sinkhorn_tol, sinkhorn_max_iter, scaling, on_failure)
    if not isinstance(features, (tuple, list)) or len(features) != 2:
        raise ValueError("features must be a pair (features_x, features_y)")
    fx, fy = as_samples(features[0], "features[0]"), as_samples(features[1], "features[1]")
    if len(fx) != len(cx) or len(fy) != len(cy) or fx.shape[1] != fy.shape[1]:
        raise ValueError(f"features must have shapes ({len(cx)}, k) and ({len(cy)}, k), got {fx.shape} and {fy.shape}")
    if feature_metric not in ("sqeuclidean", "euclidean"):
        raise ValueError(f"feature_metric must be 'sqeuclidean' or 'euclidean', got {feature_metric!r}")
    try:
        alpha_f = float(alpha)
    except (TypeError, ValueError):
        alpha_f = math.nan
    if isinstance(alpha, (bool, str)) or not 0.0 <= alpha_f <= 1.0:
        raise ValueError(f"alpha must be a number in [0, 1], got {alpha!r}")
    return _solve(cx, cy, a, b, cdist(fx, fy, feature_metric), alpha_f, eps=eps, max_iter=max_iter, tol=tol,
                  inner=inner, label="fused_gromov_wasserstein", on_failure=on_failure)
