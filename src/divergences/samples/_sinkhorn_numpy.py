r"""The NumPy log-domain Sinkhorn solver behind :func:`divergences.samples.sinkhorn` (NumPy inputs).

One problem at a time, on its full cost matrix C (n × m, float64): the potentials f, g are updated
in the log domain,

.. math::
    g_j = -\varepsilon\log\sum_i a_i e^{(f_i - C_{ij})/\varepsilon},\qquad
    f_i = -\varepsilon\log\sum_j b_j e^{(g_j - C_{ij})/\varepsilon},

with a max-shifted log-sum-exp written in place into one reused n × m buffer, so nothing underflows at
any ε > 0. The iteration policy (ε-scaling path, over-relaxation, when to hand over to Newton steps, how a
failure is reported) is :mod:`._convergence`, shared with the torch twin :mod:`._torch_transport`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._convergence import EXP_FLOOR, Overrelaxation, epsilon_path, exact_start, exact_start_due, newton_due

__all__ = ["cost_matrix", "entropic_ot", "plan_callback", "update_f", "update_g"]


def cost_matrix(x: np.ndarray, y: np.ndarray, p: float) -> np.ndarray:
    """C_ij = ‖x_i − y_j‖^p (SciPy's ``cdist``: exact distances, squared ones for p = 2)."""
    from scipy.spatial.distance import cdist

    if p == 2:
        return cdist(x, y, "sqeuclidean")
    c = cdist(x, y, "euclidean")
    return c if p == 1 else c**p


def _softmin(buf: np.ndarray, axis: int) -> np.ndarray:
    """log Σ exp(buf) along ``axis``, max-shifted, overwriting ``buf``."""
    top = buf.max(axis=axis, keepdims=True)
    buf -= top
    np.maximum(buf, EXP_FLOOR, out=buf)
    np.exp(buf, out=buf)
    return np.log(buf.sum(axis=axis)) + np.squeeze(top, axis=axis)


def update_g(neg_cost: np.ndarray, log_a: np.ndarray, f: np.ndarray, eps: float, buf: np.ndarray) -> np.ndarray:
    """g = −ε log Σ_i a_i exp((f_i − C_ij)/ε), given −C/ε."""
    np.add(neg_cost, (log_a + f / eps)[:, None], out=buf)
    return -eps * _softmin(buf, 0)


def update_f(neg_cost: np.ndarray, log_b: np.ndarray, g: np.ndarray, eps: float, buf: np.ndarray) -> np.ndarray:
    """f = −ε log Σ_j b_j exp((g_j − C_ij)/ε), given −C/ε."""
    np.add(neg_cost, (log_b + g / eps)[None, :], out=buf)
    return -eps * _softmin(buf, 1)


def plan_callback(neg_cost: np.ndarray, log_a: np.ndarray, log_b: np.ndarray, eps: float, buf: np.ndarray):
    """Callback for :func:`~._sinkhorn_newton.newton_polish`: the entries π_ij ≥ drop·π_i of π(f, g), given
    −C/ε (None if more than ``limit``)."""

    def plan(f, g, drop, limit):
        np.add(neg_cost, (log_a + f / eps)[:, None], out=buf)
        np.add(buf, (log_b + g / eps)[None, :], out=buf)
        np.maximum(buf, EXP_FLOOR, out=buf)
        np.exp(buf, out=buf)
        keep = buf >= drop * buf.sum(1, keepdims=True)
        if np.count_nonzero(keep) > limit:
            return None
        rows, cols = np.nonzero(keep)
        return rows, cols, buf[rows, cols]

    return plan


def entropic_ot(cost: np.ndarray, a: np.ndarray, b: np.ndarray, eps: float, *, max_iter: int, tol: float,
                scaling: float | None, symmetric: bool = False,
                init: np.ndarray | None = None) -> tuple[float, int, float, bool, Any, Any]:
    """(OT_ε value, iterations, final L1 marginal error, potentials finite, f, g) for one problem.

    ``init`` is a starting row potential (default: zeros and the ε-scaling path, or at small ε the exact dual,
    see :func:`~._convergence.exact_start_due`). ``symmetric=True`` (x = y, a = b) uses one potential and the averaged update
    f ← ½(f + T(f)), which converges where alternating updates oscillate on symmetric problems.
    A problem x ≠ y still above ``tol`` after :data:`~._convergence.NEWTON_AFTER` iterations at ε, and slow
    by :func:`~._convergence.newton_due`, is finished by the Newton steps of :mod:`._sinkhorn_newton` (each
    counted as one iteration); if they stop short (plan too dense, or stalled) Sinkhorn updates go on.
    """
    if not symmetric and len(a) > len(b):  # the Newton system lives on the smaller side; OT is symmetric
        if init is not None:  # a start for f becomes one for g = T_a(f)
            init = update_g(np.multiply(cost, -1.0 / eps), np.log(a), np.asarray(init, dtype=np.float64), eps,
                            np.empty_like(cost))
        value, iterations, err, finite, g, f = entropic_ot(cost.T, b, a, eps, max_iter=max_iter, tol=tol,
                                                           scaling=scaling, init=init)
        return value, iterations, err, finite, f, g
    log_a, log_b = np.log(a), np.log(b)
    top = float(cost.max())
    if init is None and exact_start_due(eps, top, len(a), len(b), symmetric):
        init = exact_start(cost, a, b)
    f = np.zeros(len(a)) if init is None else np.array(init, dtype=np.float64)
    g = np.zeros(len(b))
    buf = np.empty_like(cost)
    for e in epsilon_path(top, eps, None if init is not None else scaling):  # ε-scaling: one update pair per level
        neg = np.multiply(cost, -1.0 / e)
        g = update_g(neg, log_a, f, e, buf)
        f = 0.5 * (f + g) if symmetric else update_f(neg, log_b, g, e, buf)
    neg_cost = np.multiply(cost, -1.0 / eps)
    err, value = math.inf, math.nan
    iterations = 0
    relax = Overrelaxation()
    newton_allowed = True
    while iterations < int(max_iter):
        iterations += 1
        g = update_g(neg_cost, log_a, f, eps, buf)
        if symmetric:
            # row marginals of π(f, f) are a_i exp((f_i − g_i)/ε), g = T(f)
            excess = np.expm1((f - g) / eps)
            err = float(np.dot(a, np.abs(excess)))
            value = 2 * float(np.dot(a, f)) - eps * float(np.dot(a, excess))  # dual objective at (f, f)
            if not err >= tol:
                break
            g = f = 0.5 * (f + g)
            continue
        f_new = update_f(neg_cost, log_b, g, eps, buf)
        # row marginals of the plan (f, g) are a_i exp((f_i − f_new_i)/ε); columns are exact
        err = float(np.dot(a, np.abs(np.expm1((f - f_new) / eps))))
        value = float(np.dot(a, f) + np.dot(b, g))
        if not err >= tol:  # stops on convergence, and on NaN (reported by the caller)
            break
        f = f + relax.step(err) * (f_new - f)
        if newton_allowed and math.isfinite(err) and newton_due(relax, iterations, int(max_iter), tol):
            from ._sinkhorn_newton import newton_polish

            f, g, steps, err = newton_polish(
                f, a, b, eps, ta=lambda f: update_g(neg_cost, log_a, f, eps, buf),
                tb=lambda g: update_f(neg_cost, log_b, g, eps, buf),
                plan=plan_callback(neg_cost, log_a, log_b, eps, buf), tol=tol, max_steps=int(max_iter) - iterations)
            iterations += steps
            value = float(np.dot(a, f) + np.dot(b, g))
            if not err >= tol:
                break
            newton_allowed, relax = False, Overrelaxation()  # the plan was too dense, or Newton stalled: Sinkhorn
    return value, iterations, err, bool(np.isfinite(f).all() and np.isfinite(g).all()), f, g
