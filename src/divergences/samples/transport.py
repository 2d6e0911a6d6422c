r"""Optimal transport between samples: exact Wasserstein distances and log-domain Sinkhorn.

Ground cost :math:`c(u, v) = \|u - v\|^p` (Euclidean norm, no ½ factor). :func:`wasserstein`
returns the distance :math:`W_p` (the p-th root of the optimal cost); :func:`sinkhorn` returns an
entropic transport *cost*, on the scale of :math:`W_p^p`.

Sinkhorn numerics (written for small ε, where the textbook scaling iterations underflow to a
plan of zeros and return ≈ 0): the dual potentials f, g are updated in the log domain,

.. math::
    g_j = -\varepsilon\log\sum_i a_i e^{(f_i - C_{ij})/\varepsilon},\qquad
    f_i = -\varepsilon\log\sum_j b_j e^{(g_j - C_{ij})/\varepsilon},

with a max-shifted log-sum-exp, so nothing underflows at any ε > 0. After each pair of updates the
plan :math:`\pi_{ij} = a_i b_j e^{(f_i + g_j - C_{ij})/\varepsilon}` has exact column marginals,
and the iteration stops when the L1 error of its row marginals, :math:`\sum_i |\pi_i - a_i|`, is below
``tol``. The symmetric problems (x against itself, in the debiased divergence or when y equals x) use one
potential and the averaged update :math:`f \leftarrow \tfrac12(f + T(f))`, which does not oscillate. Optional ε-scaling (``scaling=s``) starts at ε₀ = max C and multiplies ε by s after each
update until it reaches ε, warm-starting the final iterations. If the error is still above ``tol``
after ``max_iter`` iterations (or a potential is not finite) :func:`sinkhorn` raises
:class:`SinkhornConvergenceError` (``on_failure="raise"``, the default) or returns the value with a
:class:`SinkhornConvergenceWarning` (``on_failure="warn"``): never a silently wrong number.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from ._inputs import as_pair, as_weights, check_positive

__all__ = ["SinkhornConvergenceError", "SinkhornConvergenceWarning", "sinkhorn", "wasserstein"]


class SinkhornConvergenceError(RuntimeError):
    """Sinkhorn iterations did not reach the requested marginal error."""


class SinkhornConvergenceWarning(UserWarning):
    """Sinkhorn iterations did not reach the requested marginal error (``on_failure="warn"``)."""


def _check_p(p: Any) -> float:
    p = check_positive(p, "p")
    if p < 1:
        raise ValueError(f"p must be ≥ 1 (the cost ‖u − v‖^p), got {p!r}")
    return p


def _weights_pair(weights: Any, n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    if weights is None:
        return as_weights(None, n, "weights[0]"), as_weights(None, m, "weights[1]")
    if not isinstance(weights, (tuple, list)) or len(weights) != 2:
        raise ValueError("weights must be a pair (weights_x, weights_y); either may be None")
    return as_weights(weights[0], n, "weights[0]"), as_weights(weights[1], m, "weights[1]")


def _cost(x: np.ndarray, y: np.ndarray, p: float) -> np.ndarray:
    from scipy.spatial.distance import cdist

    if p == 2:
        return cdist(x, y, "sqeuclidean")
    c = cdist(x, y, "euclidean")
    return c if p == 1 else c**p


def wasserstein(x: Any, y: Any, p: float = 1, weights: tuple[Any, Any] | None = None, *,
                max_iter: int = 1_000_000) -> float:
    r"""Exact p-Wasserstein distance :math:`W_p = (\min_\pi \sum_{ij}\pi_{ij}\|x_i - y_j\|^p)^{1/p}`.

    Samples carry uniform weights unless ``weights=(weights_x, weights_y)`` (non-negative,
    normalised here; either may be None). One dimension: the closed form through quantile functions
    (``scipy.stats.wasserstein_distance`` for p = 1, ``ot.wasserstein_1d`` otherwise), O(n log n).
    Several dimensions: POT's exact network-simplex solver ``ot.emd2`` on the Euclidean cost, which
    is O(n³) in time and O(nm) in memory; a solver that stops at ``max_iter`` raises RuntimeError.
    Returns the distance :math:`W_p` in the units of x (not :math:`W_p^p`).

    >>> wasserstein([0.0, 1.0], [2.0, 3.0])
    2.0
    """
    p = _check_p(p)
    xa, ya = as_pair(x, y)
    a, b = _weights_pair(weights, len(xa), len(ya))
    if xa.shape[1] == 1:
        if p == 1:
            from scipy.stats import wasserstein_distance

            return float(wasserstein_distance(xa[:, 0], ya[:, 0], a, b))
        import ot

        return float(ot.wasserstein_1d(xa[:, 0], ya[:, 0], a, b, p=p)) ** (1 / p)
    import ot

    value, log = ot.emd2(a, b, _cost(xa, ya, p), numItermax=int(max_iter), log=True)
    if log.get("warning"):
        raise RuntimeError(f"ot.emd2 did not solve the transport problem: {log['warning']} "
                           "(raise max_iter)")
    return float(value) ** (1 / p)


# ---------------------------------------------------------------------------------------------
# Sinkhorn
# ---------------------------------------------------------------------------------------------


def _softmin(buf: np.ndarray, axis: int) -> np.ndarray:
    """log Σ exp(buf) along ``axis``, max-shifted, overwriting ``buf``."""
    top = buf.max(axis=axis, keepdims=True)
    buf -= top
    np.exp(buf, out=buf)
    return np.log(buf.sum(axis=axis)) + np.squeeze(top, axis=axis)


def _update_g(neg_cost: np.ndarray, log_a: np.ndarray, f: np.ndarray, eps: float, buf: np.ndarray) -> np.ndarray:
    """g = −ε log Σ_i a_i exp((f_i − C_ij)/ε), given −C/ε."""
    np.add(neg_cost, (log_a + f / eps)[:, None], out=buf)
    return -eps * _softmin(buf, 0)


def _update_f(neg_cost: np.ndarray, log_b: np.ndarray, g: np.ndarray, eps: float, buf: np.ndarray) -> np.ndarray:
    """f = −ε log Σ_j b_j exp((g_j − C_ij)/ε), given −C/ε."""
    np.add(neg_cost, (log_b + g / eps)[None, :], out=buf)
    return -eps * _softmin(buf, 1)


def _entropic_ot(cost, a, b, eps, *, max_iter, tol, scaling, symmetric=False):
    """(OT_ε value, iterations, final L1 marginal error, potentials finite) for one problem.

    ``symmetric=True`` (x = y, a = b) uses one potential and the averaged update
    f ← ½(f + T(f)), which converges where alternating updates oscillate on symmetric problems.
    """
    log_a, log_b = np.log(a), np.log(b)
    f = np.zeros(len(a))
    buf = np.empty_like(cost)
    if scaling is not None:  # ε-scaling: one update pair per ε on a geometric path down to ε
        e = float(cost.max())
        while e > eps:
            neg = np.multiply(cost, -1.0 / e)
            g = _update_g(neg, log_a, f, e, buf)
            f = 0.5 * (f + g) if symmetric else _update_f(neg, log_b, g, e, buf)
            e *= scaling
    neg_cost = np.multiply(cost, -1.0 / eps)
    err = math.inf
    iterations = 0
    for iterations in range(1, int(max_iter) + 1):  # noqa: B007 - the count is returned
        g = _update_g(neg_cost, log_a, f, eps, buf)
        if symmetric:
            # row marginals of π(f, f) are a_i exp((f_i − g_i)/ε), g = T(f)
            excess = np.expm1((f - g) / eps)
            err = float(np.dot(a, np.abs(excess)))
            value = 2 * float(np.dot(a, f)) - eps * float(np.dot(a, excess))  # dual objective at (f, f)
            g = f = 0.5 * (f + g)
        else:
            f_new = _update_f(neg_cost, log_b, g, eps, buf)
            # row marginals of the plan (f, g) are a_i exp((f_i − f_new_i)/ε)
            err = float(np.dot(a, np.abs(np.expm1((f - f_new) / eps))))
            f = f_new
            value = float(np.dot(a, f) + np.dot(b, g))
        if not err >= tol:  # stops on convergence, and on NaN (reported below)
            break
    return value, iterations, err, bool(np.isfinite(f).all() and np.isfinite(g).all())


def sinkhorn(x: Any, y: Any, *, epsilon: float, p: float = 2, debiased: bool = True,
             weights: tuple[Any, Any] | None = None, max_iter: int = 1000, tol: float = 1e-6,
             scaling: float | None = None, on_failure: str = "raise") -> float:
    r"""Entropic optimal transport cost between samples, in the log domain (stable at small ε).

    :math:`OT_\varepsilon(a, b) = \min_\pi \langle\pi, C\rangle + \varepsilon\,\mathrm{KL}(\pi\|a\otimes b)`
    with :math:`C_{ij} = \|x_i - y_j\|^p`, computed as the dual value :math:`\langle a, f\rangle +
    \langle b, g\rangle` at the Sinkhorn potentials. With ``debiased=True`` (default) the Sinkhorn
    divergence :math:`S_\varepsilon = OT_\varepsilon(a, b) - \tfrac12 OT_\varepsilon(a, a)
    - \tfrac12 OT_\varepsilon(b, b)` (Feydy et al. 2019): ≥ 0, zero for equal samples, and tends to
    :math:`W_p^p` as ε → 0. ``epsilon`` is in cost units (for p = 2, squared units of x).

    Convention map: POT's ``ot.sinkhorn2`` returns the linear part :math:`\langle\pi, C\rangle`
    only (no entropy term); GeomLoss's ``SamplesLoss("sinkhorn", p=2, blur=b)`` uses the cost
    ‖u − v‖²/2 and ε = b². Convergence, ``tol`` (L1 error of the marginals), ``scaling``, and
    ``on_failure`` ("raise" or "warn") are described in the module notes.

    >>> import numpy as np
    >>> x = np.array([[0.0, 0.0], [1.0, 0.0]])
    >>> round(sinkhorn(x, x + [0.0, 2.0], epsilon=0.01), 4)  # W2² = 4 in the limit ε → 0
    4.0
    """
    eps = check_positive(epsilon, "epsilon")
    p = _check_p(p)
    if on_failure not in ("raise", "warn"):
        raise ValueError(f"on_failure must be 'raise' or 'warn', got {on_failure!r}")
    if scaling is not None and not (0 < float(scaling) < 1):
        raise ValueError(f"scaling must lie in (0, 1) (or be None), got {scaling!r}")
    if not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")
    tol = check_positive(tol, "tol")
    xa, ya = as_pair(x, y)
    a, b = _weights_pair(weights, len(xa), len(ya))
    xa, a = xa[a > 0], a[a > 0]  # zero-weight samples carry no mass
    ya, b = ya[b > 0], b[b > 0]
    same = xa.shape == ya.shape and np.array_equal(xa, ya) and np.array_equal(a, b)
    problems = [("OT(x, y)", xa, ya, a, b, 1.0, same)]
    if debiased:
        problems += [("OT(x, x)", xa, xa, a, a, -0.5, True), ("OT(y, y)", ya, ya, b, b, -0.5, True)]
    total = 0.0
    for label, u, v, wu, wv, sign, symmetric in problems:
        value, iterations, err, finite = _entropic_ot(_cost(u, v, p), wu, wv, eps, max_iter=max_iter, tol=tol,
                                                      scaling=scaling, symmetric=symmetric)
        if not finite or math.isnan(err):
            raise SinkhornConvergenceError(f"sinkhorn: {label} has non-finite potentials at epsilon={eps:g}")
        if err >= tol:
            msg = (f"sinkhorn: {label} did not converge: marginal error {err:.3g} ≥ tol={tol:g} after "
                   f"{iterations} iterations at epsilon={eps:g}; raise max_iter, use scaling=0.5, or a larger "
                   "epsilon")
            if on_failure == "raise":
                raise SinkhornConvergenceError(msg)
            warnings.warn(msg, SinkhornConvergenceWarning, stacklevel=2)
        total += sign * value
    return total
