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
potential and the averaged update :math:`f \leftarrow \tfrac12(f + T(f))`, which does not oscillate.
ε-scaling (``scaling=s``, on by default with s = ½ as in GeomLoss; ``None`` turns it off) starts at
ε₀ = max C (NumPy) or the squared diameter (torch) and multiplies ε by s after each update pair until
it reaches ε, warm-starting the final iterations, which use the adaptive over-relaxation of
:class:`Overrelaxation`. At small ε that is not enough (the plan is close to a permutation and
Sinkhorn enters a sublinear phase: 200 standardised 2-D points at ε = 0.01 are at a marginal error
of 3e-6 after 20 000 over-relaxed iterations), so a problem x ≠ y still above ``tol`` after
:data:`NEWTON_AFTER` = 50 iterations at ε, whose measured rate (over the last 10 iterations) says it
would need more than :data:`NEWTON_WORTH` = 50 more, is finished by Newton steps on the semi-dual
(:mod:`._sinkhorn_newton`, each counted as one iteration); a plan too dense for a Newton system
(moderate ε) goes back to Sinkhorn updates. ε = 0.01 and 0.05 on 200 or 2000 standardised points in
2-D and 10-D reach ``tol`` = 1e-6 in 55–100 iterations with the defaults.
The symmetric problems use the averaged update (for p = 1, 2, where e^{−C/ε} is a positive definite
kernel, its linear rate is at most ½) and need no Newton step. If the error is still above ``tol``
after ``max_iter`` iterations (or a potential is not finite) :func:`sinkhorn` raises
:class:`SinkhornConvergenceError` (``on_failure="raise"``, the default) or returns the value with a
:class:`SinkhornConvergenceWarning` (``on_failure="warn"``): never a silently wrong number.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from ._inputs import as_pair, as_weights, check_positive, power_of_two_scale
from ._torch_inputs import any_tensor

__all__ = ["SinkhornConvergenceError", "SinkhornConvergenceWarning", "sinkhorn", "sliced_wasserstein", "wasserstein"]


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

    Torch tensors in: a differentiable 0-d tensor. In one dimension the quantile form is written in
    torch (gradients through sorting, in the values and the weights); in d > 1 the optimal plan π
    comes from ``ot.emd`` on the detached cost and the value Σ π C(x, y) is differentiated (the
    envelope theorem: π optimal, so its own variation does not count). The gradient of the root is
    taken as 0 where W_p = 0.

    >>> wasserstein([0.0, 1.0], [2.0, 3.0])
    2.0
    """
    p = _check_p(p)
    if any_tensor(x, y):
        from ._torch_inputs import as_tensor_pair
        from ._torch_transport import _pair_weights, root, wasserstein_1d_torch, wasserstein_nd_torch

        xt, yt = as_tensor_pair(x, y)
        a, b = _pair_weights(weights, xt, yt)
        s = power_of_two_scale(xt, yt, always=True)  # W_p is homogeneous: exact rescaling to unit size
        xt, yt = xt / s, yt / s
        if xt.shape[1] == 1:
            return root(wasserstein_1d_torch(xt[:, 0], yt[:, 0], a, b, p), p) * s
        return root(wasserstein_nd_torch(xt, yt, a, b, p, max_iter), p) * s
    xa, ya = as_pair(x, y)
    a, b = _weights_pair(weights, len(xa), len(ya))
    s = power_of_two_scale(xa, ya, always=True)  # W_p is homogeneous (ot.emd has absolute tolerances)
    xa, ya = xa / s, ya / s
    if xa.shape[1] == 1:
        if p == 1:
            from scipy.stats import wasserstein_distance

            return float(wasserstein_distance(xa[:, 0], ya[:, 0], a, b)) * s
        import ot

        return float(ot.wasserstein_1d(xa[:, 0], ya[:, 0], a, b, p=p)) ** (1 / p) * s
    import ot

    value, log = ot.emd2(a, b, _cost(xa, ya, p), numItermax=int(max_iter), log=True)
    if log.get("warning"):
        raise RuntimeError(f"ot.emd2 did not solve the transport problem: {log['warning']} "
                           "(raise max_iter)")
    return float(value) ** (1 / p) * s


def sliced_wasserstein(x: Any, y: Any, *, n_projections: int = 50, p: float = 2,
                       weights: tuple[Any, Any] | None = None, seed: Any = 0, projections: Any = None) -> Any:
    r"""Sliced p-Wasserstein distance :math:`\big(\tfrac1L\sum_{l=1}^L W_p^p(\theta_l^\top X, \theta_l^\top Y)\big)^{1/p}`.

    The directions θ_l are ``n_projections`` unit vectors drawn uniformly on the sphere from
    ``numpy.random.default_rng(seed)`` (the same directions on NumPy and torch for one seed), or the
    columns of ``projections`` (shape (d, L)). Each 1-D problem is solved exactly through quantile
    functions, O(L n log n). This is POT's ``ot.sliced_wasserstein_distance`` (the mean of W_p^p
    over directions, then the p-th root), which serves the NumPy path; pass ``projections`` to
    compare both on the same directions. Torch tensors in: a differentiable 0-d tensor (through
    sorting; gradient 0 where the value is 0).

    >>> round(sliced_wasserstein([[0.0, 0.0]], [[3.0, 4.0]], projections=[[1.0], [0.0]]), 6)
    3.0
    """
    p = _check_p(p)
    if not isinstance(n_projections, (int, np.integer)) or isinstance(n_projections, bool) or n_projections < 1:
        raise ValueError(f"n_projections must be a positive integer, got {n_projections!r}")
    tensors = any_tensor(x, y)
    if tensors:
        from ._torch_inputs import as_tensor_pair

        xt, yt = as_tensor_pair(x, y)
        d = xt.shape[1]
    else:
        xa, ya = as_pair(x, y)
        d = xa.shape[1]
    if projections is None:
        from ._torch_transport import directions

        theta = directions(d, int(n_projections), seed)
    else:
        theta = np.asarray(projections.detach().cpu() if hasattr(projections, "detach") else projections,
                           dtype=np.float64)
        if theta.ndim != 2 or theta.shape[0] != d or not np.isfinite(theta).all():
            raise ValueError(f"projections must be a finite ({d}, L) array of directions, got shape {theta.shape}")
    if tensors:
        from ._torch_transport import _pair_weights, sliced_wasserstein_torch

        a, b = _pair_weights(weights, xt, yt)
        s = power_of_two_scale(xt, yt)  # homogeneous: exact rescaling of huge or tiny data
        return sliced_wasserstein_torch(xt / s, yt / s, a, b, p, theta) * s
    import ot

    a, b = _weights_pair(weights, len(xa), len(ya))
    s = power_of_two_scale(xa, ya)
    return float(ot.sliced_wasserstein_distance(xa / s, ya / s, a, b, p=p, projections=theta)) * s


# ---------------------------------------------------------------------------------------------
# Sinkhorn
# ---------------------------------------------------------------------------------------------


#: exponents below this are raised to it before ``exp``: e^−700 ≈ 1e−304 is still a normal float, and an
#: ``exp`` whose result underflows takes a slow path (15× slower, measured, NumPy and torch alike), which
#: at small ε is most of the entries. Each raised term adds at most 1e−304 to a sum ≥ 1: invisible.
EXP_FLOOR = -700.0


def _softmin(buf: np.ndarray, axis: int) -> np.ndarray:
    """log Σ exp(buf) along ``axis``, max-shifted, overwriting ``buf``."""
    top = buf.max(axis=axis, keepdims=True)
    buf -= top
    np.maximum(buf, EXP_FLOOR, out=buf)
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


class Overrelaxation:
    """Adaptive over-relaxation of the Sinkhorn update, f ← f + ω (T(g) − f) (Thibault et al. 2017).

    Plain Sinkhorn converges linearly with a rate θ that tends to 1 as ε → 0. Every 10 plain
    iterations the rate is measured from the marginal errors, and ω = 2 / (1 + √(1 − θ)) (capped at
    1.9) is used from then on; if the error grows under ω > 1 the step falls back to ω = 1 for good.
    The fixed point, and so the result, is that of plain Sinkhorn; only the path to it is shorter.
    """

    def __init__(self) -> None:
        self.omega, self.errors, self.failed = 1.0, [], False

    def step(self, err: float) -> float:
        self.errors.append(err)
        k = len(self.errors)
        if k >= 2 and self.omega > 1 and err > 2 * min(self.errors[-10:]):
            self.omega, self.failed = 1.0, True  # diverging: plain steps from now on
        elif not self.failed and k % 10 == 0 and k >= 20:
            old = self.errors[-11]
            if 0 < err < old:
                theta = (err / old) ** 0.1
                if self.omega == 1.0:
                    self.omega = min(1.9, 2.0 / (1.0 + math.sqrt(max(1.0 - theta, 0.0))))
        return self.omega

    def remaining(self, tol: float) -> float:
        """Iterations still needed to reach ``tol`` at the rate of the last 10 (inf: no rate yet, or no progress)."""
        if len(self.errors) < 11:
            return math.inf
        old, err = self.errors[-11], self.errors[-1]
        if not 0 < err < old:
            return math.inf
        return max(0.0, 10 * math.log(tol / err) / math.log(err / old))


#: iterations at the target ε after which a problem that has not converged may be finished by Newton steps
NEWTON_AFTER = 50
#: ... when the measured rate says Sinkhorn would still need more than this many iterations (at moderate ε,
#: where the plan is dense and Sinkhorn converges linearly at a good rate, a Newton system costs more than it saves)
NEWTON_WORTH = 50


def newton_due(relax: Overrelaxation, iterations: int, max_iter: int, tol: float) -> bool:
    """Whether to switch from Sinkhorn updates to Newton steps now (see :data:`NEWTON_AFTER`, :data:`NEWTON_WORTH`)."""
    return NEWTON_AFTER <= iterations < max_iter and relax.remaining(tol) > NEWTON_WORTH


def _numpy_plan(neg_cost, log_a, log_b, eps, buf):
    """Callback for :func:`newton_polish`: the entries π_ij ≥ drop·π_i of π(f, g), given −C/ε (None if
    more than ``limit``)."""

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


def _entropic_ot(cost, a, b, eps, *, max_iter, tol, scaling, symmetric=False):
    """(OT_ε value, iterations, final L1 marginal error, potentials finite, f, g) for one problem.

    ``symmetric=True`` (x = y, a = b) uses one potential and the averaged update
    f ← ½(f + T(f)), which converges where alternating updates oscillate on symmetric problems.
    A problem x ≠ y still above ``tol`` after :data:`NEWTON_AFTER` iterations at ε, and slow by
    :func:`newton_due`, is finished by the Newton steps of :mod:`._sinkhorn_newton` (each counted as one
    iteration); if they stop short (plan too dense, or stalled) Sinkhorn updates go on.
    """
    if not symmetric and len(a) > len(b):  # the Newton system lives on the smaller side; OT is symmetric
        value, iterations, err, finite, g, f = _entropic_ot(cost.T, b, a, eps, max_iter=max_iter, tol=tol,
                                                            scaling=scaling)
        return value, iterations, err, finite, f, g
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
    relax = Overrelaxation()
    newton_allowed = True
    while iterations < int(max_iter):
        iterations += 1
        g = _update_g(neg_cost, log_a, f, eps, buf)
        if symmetric:
            # row marginals of π(f, f) are a_i exp((f_i − g_i)/ε), g = T(f)
            excess = np.expm1((f - g) / eps)
            err = float(np.dot(a, np.abs(excess)))
            value = 2 * float(np.dot(a, f)) - eps * float(np.dot(a, excess))  # dual objective at (f, f)
            if not err >= tol:
                break
            g = f = 0.5 * (f + g)
            continue
        f_new = _update_f(neg_cost, log_b, g, eps, buf)
        # row marginals of the plan (f, g) are a_i exp((f_i − f_new_i)/ε); columns are exact
        err = float(np.dot(a, np.abs(np.expm1((f - f_new) / eps))))
        value = float(np.dot(a, f) + np.dot(b, g))
        if not err >= tol:  # stops on convergence, and on NaN (reported below)
            break
        f = f + relax.step(err) * (f_new - f)
        if newton_allowed and math.isfinite(err) and newton_due(relax, iterations, int(max_iter), tol):
            from ._sinkhorn_newton import newton_polish

            f, g, steps, err = newton_polish(
                f, a, b, eps, ta=lambda f: _update_g(neg_cost, log_a, f, eps, buf),
                tb=lambda g: _update_f(neg_cost, log_b, g, eps, buf),
                plan=_numpy_plan(neg_cost, log_a, log_b, eps, buf), tol=tol, max_steps=int(max_iter) - iterations)
            iterations += steps
            value = float(np.dot(a, f) + np.dot(b, g))
            if not err >= tol:
                break
            newton_allowed, relax = False, Overrelaxation()  # the plan was too dense, or Newton stalled: Sinkhorn
    return value, iterations, err, bool(np.isfinite(f).all() and np.isfinite(g).all()), f, g


def sinkhorn(x: Any, y: Any, *, epsilon: float, p: float = 2, debiased: bool = True,
             weights: tuple[Any, Any] | None = None, max_iter: int = 10_000, tol: float = 1e-6,
             scaling: float | None = 0.5, on_failure: str = "raise", block: int = 2048) -> Any:
    r"""Entropic optimal transport cost between samples, in the log domain (stable at small ε).

    :math:`OT_\varepsilon(a, b) = \min_\pi \langle\pi, C\rangle + \varepsilon\,\mathrm{KL}(\pi\|a\otimes b)`
    with :math:`C_{ij} = \|x_i - y_j\|^p`, computed as the dual value :math:`\langle a, f\rangle +
    \langle b, g\rangle` at the Sinkhorn potentials. With ``debiased=True`` (default) the Sinkhorn
    divergence :math:`S_\varepsilon = OT_\varepsilon(a, b) - \tfrac12 OT_\varepsilon(a, a)
    - \tfrac12 OT_\varepsilon(b, b)` (Feydy et al. 2019): ≥ 0, zero for equal samples, and tends to
    :math:`W_p^p` as ε → 0. ``epsilon`` is in cost units (for p = 2, squared units of x).

    Convention map: POT's ``ot.sinkhorn2`` returns the linear part :math:`\langle\pi, C\rangle`
    only (no entropy term); GeomLoss's ``SamplesLoss("sinkhorn", p=2, blur=b)`` uses the cost
    ‖u − v‖²/2 and ε = b², so its value is half of ours at ε = 2·blur². Convergence, ``tol`` (L1
    error of the marginals), ``scaling`` (ε-scaling, on by default), and ``on_failure`` ("raise" or
    "warn") are described in the module notes.

    Torch tensors in: a differentiable tensor (envelope-theorem gradients in x, y and the weights,
    no unrolling; see :mod:`divergences.samples._torch_transport`), computed in panels of at most
    min(``block²``, 2²⁰) pairs, so that no n × m matrix is ever held (the solve's memory above its inputs
    is one panel plus at most 2²² kept plan entries in the Newton phase; see
    :mod:`divergences.samples._torch_transport`). Batches: x of shape (B, n, d) and y (B, m, d) (or one of
    them (n, d), broadcast) give B values, with weights of shape (B, n) / (B, m) or (n,) / (m,);
    the iterations stop when the worst problem of the batch has converged.

    >>> import numpy as np
    >>> x = np.array([[0.0, 0.0], [1.0, 0.0]])
    >>> round(sinkhorn(x, x + [0.0, 2.0], epsilon=0.01), 4)  # W2² = 4 in the limit ε → 0
    4.0
    """
    eps = check_positive(epsilon, "epsilon")
    p = _check_p(p)
    if on_failure not in ("raise", "warn"):
        raise ValueError(f"on_failure must be 'raise' or 'warn', got {on_failure!r}")
    if scaling is not None:
        try:
            ok = 0 < float(scaling) < 1
        except (TypeError, ValueError):
            ok = False
        if not ok or isinstance(scaling, bool):
            raise ValueError(f"scaling must lie in (0, 1) (or be None), got {scaling!r}")
    if not isinstance(max_iter, (int, np.integer)) or isinstance(max_iter, bool) or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")
    if not isinstance(debiased, (bool, np.bool_)):
        raise ValueError(f"debiased must be True or False, got {debiased!r}")
    if not isinstance(block, (int, np.integer)) or isinstance(block, bool) or block < 1:
        raise ValueError(f"block must be a positive integer, got {block!r}")
    tol = check_positive(tol, "tol")
    scaling = None if scaling is None else float(scaling)
    if any_tensor(x, y):
        from ._torch_transport import sinkhorn_torch

        return sinkhorn_torch(x, y, epsilon=eps, p=p, debiased=bool(debiased), weights=weights, max_iter=int(max_iter),
                              tol=tol, scaling=scaling, on_failure=on_failure, block=int(block))
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
        value, iterations, err, finite, _, _ = _entropic_ot(_cost(u, v, p), wu, wv, eps, max_iter=max_iter, tol=tol,
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
