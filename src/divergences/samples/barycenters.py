r"""Wasserstein barycenters: free support between point clouds, and the closed-form family between Gaussians.

A 2-Wasserstein barycenter of measures :math:`\mu_1, \dots, \mu_K` with weights :math:`\lambda_k` (≥ 0, summing
to 1) minimises :math:`\sum_k \lambda_k W_2^2(\nu, \mu_k)` over ν.

* :func:`wasserstein_barycenter` (free support; Cuturi & Doucet 2014, Álvarez-Esteban et al. 2016): ν has a
  fixed number of points with fixed masses, and the points move by the fixed-point iteration
  :math:`X \leftarrow \sum_k \lambda_k\,\mathrm{diag}(b)^{-1}\pi_k Y_k`, π_k the exact optimal plan from ν to
  μ_k (POT's network simplex). Each step does not increase the objective; the iteration stops when the points
  move by less than ``tol`` (relative to the spread of the data), or raises with the displacement reached.
* :func:`bures_barycenter`: between Gaussians N(m_k, Σ_k) the barycenter is Gaussian, with mean
  :math:`\sum_k\lambda_k m_k` and the covariance S solving :math:`S = \sum_k \lambda_k (S^{1/2}\Sigma_k
  S^{1/2})^{1/2}`, found by the iteration of Álvarez-Esteban et al. (2016),
  :math:`S \leftarrow S^{-1/2}\bigl(\sum_k \lambda_k (S^{1/2}\Sigma_k S^{1/2})^{1/2}\bigr)^2 S^{-1/2}`, which
  converges from any positive definite start; it stops when S changes by less than ``tol`` (relative Frobenius
  norm), or raises with the change reached.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._convergence import SinkhornConvergenceError, SinkhornConvergenceWarning
from ._inputs import as_samples, as_weights, check_positive

__all__ = ["BarycenterResult", "bures_barycenter", "wasserstein_barycenter"]


@dataclass(frozen=True)
class BarycenterResult:
    """A free-support barycenter: ``support`` (k, d) points with ``masses`` (k,), its objective
    ``cost`` = Σ_k λ_k W₂²(ν, μ_k), and the ``iterations`` and last ``displacement`` (max point move, relative
    to the spread of the data) of the solve."""

    support: np.ndarray
    masses: np.ndarray
    cost: float
    iterations: int
    displacement: float


def _positive_int(value: Any, name: str) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _lambdas(weights: Any, k: int) -> np.ndarray:
    if weights is None:
        return np.full(k, 1.0 / k)
    lam = np.asarray(weights, dtype=np.float64)
    if lam.shape != (k,) or not np.isfinite(lam).all() or (lam < 0).any() or not lam.sum() > 0:
        raise ValueError(f"weights must be {k} finite non-negative numbers with a positive sum (one per measure)")
    return lam / lam.sum()


def _fail(msg: str, on_failure: str) -> None:
    if on_failure == "raise":
        raise SinkhornConvergenceError(msg)
    warnings.warn(msg, SinkhornConvergenceWarning, stacklevel=3)


def wasserstein_barycenter(measures: Any, *, weights: Any = None, measure_weights: Any = None,
                           support_size: int | None = None, init: Any = None, seed: Any = 0, max_iter: int = 100,
                           tol: float = 1e-9, on_failure: str = "raise") -> BarycenterResult:
    r"""Free-support 2-Wasserstein barycenter of point clouds (the module notes give the iteration).

    ``measures``: a sequence of K arrays of shape (n_k, d) (the same d); ``measure_weights``: None or a
    sequence of K sample-weight arrays (normalised here; None entries are uniform); ``weights``: the λ_k (default
    uniform). The barycenter has ``support_size`` points of equal mass (default: the size of the first measure),
    starting at ``init`` (k, d) or at ``support_size`` points drawn without replacement from the pooled samples
    with ``numpy.random.default_rng(seed)``. The solution depends on the start (the problem is not convex in the
    points); with one measure of n points and ``support_size`` n the barycenter is that measure.

    Convention map: POT's ``ot.lp.free_support_barycenter(locations, weights, X_init, b, weights)`` runs the same
    iteration (it stops on the summed squared displacement); from the same start both reach the same points.
    A start that has not settled after ``max_iter`` iterations raises
    :class:`~divergences.samples.SinkhornConvergenceError` (``on_failure="warn"``: a warning) with the
    displacement reached.

    >>> import numpy as np
    >>> res = wasserstein_barycenter([np.array([[0.0], [2.0]]), np.array([[4.0], [6.0]])])
    >>> res.support.ravel().tolist(), round(res.cost, 6)
    ([2.0, 4.0], 4.0)
    """
    import ot

    if on_failure not in ("raise", "warn"):
        raise ValueError(f"on_failure must be 'raise' or 'warn', got {on_failure!r}")
    if isinstance(measures, np.ndarray) or not hasattr(measures, "__len__") or len(measures) == 0:
        raise ValueError("measures must be a non-empty sequence of (n_k, d) arrays")
    clouds = [as_samples(m, f"measures[{k}]") for k, m in enumerate(measures)]
    d = clouds[0].shape[1]
    for k, c in enumerate(clouds):
        if c.shape[1] != d:
            raise ValueError(f"measures[{k}] has dimension {c.shape[1]}, measures[0] has {d}")
    if measure_weights is None:
        measure_weights = [None] * len(clouds)
    if not hasattr(measure_weights, "__len__") or len(measure_weights) != len(clouds):
        raise ValueError(f"measure_weights must be a sequence of {len(clouds)} weight arrays (or None)")
    masses = [as_weights(w, len(c), f"measure_weights[{k}]") for k, (c, w) in enumerate(zip(clouds, measure_weights))]
    lam = _lambdas(weights, len(clouds))
    max_iter = _positive_int(max_iter, "max_iter")
    tol = check_positive(tol, "tol")
    if init is not None:
        support = as_samples(init, "init").copy()
        if support.shape[1] != d:
            raise ValueError(f"init has dimension {support.shape[1]}, the measures have {d}")
    else:
        k = _positive_int(support_size if support_size is not None else len(clouds[0]), "support_size")
        pooled = np.concatenate(clouds)
        if k > len(pooled):
            raise ValueError(f"support_size={k} is more than the {len(pooled)} pooled samples")
        support = pooled[np.random.default_rng(seed).choice(len(pooled), size=k, replace=False)].copy()
    b = np.full(len(support), 1.0 / len(support))
    pooled = np.concatenate(clouds)
    spread = float(np.abs(pooled - pooled.mean(0)).max()) or 1.0
    moved, iterations = math.inf, 0
    while iterations < max_iter:
        iterations += 1
        target = np.zeros_like(support)
        for cloud, mass, weight in zip(clouds, masses, lam):
            plan, log = ot.emd(b, mass, ot.dist(support, cloud), numItermax=10**7, log=True)
            if log.get("warning"):
                raise RuntimeError(f"ot.emd did not solve a transport problem of the barycenter: {log['warning']}")
            target += weight * (plan @ cloud) / b[:, None]
        moved = float(np.abs(target - support).max()) / spread
        support = target
        if moved < tol:
            break
    if not moved < tol:
        _fail(f"wasserstein_barycenter did not settle: the points still moved by {moved:.3g} (relative to the "
              f"spread of the data) ≥ tol={tol:g} after {iterations} iterations; raise max_iter", on_failure)
    cost = sum(float(w) * float(ot.emd2(b, mass, ot.dist(support, cloud), numItermax=10**7))  # pyright: ignore[reportArgumentType]
               for cloud, mass, w in zip(clouds, masses, lam))
    return BarycenterResult(support=support, masses=b, cost=cost, iterations=iterations, displacement=moved)


def _sym_sqrt(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(S^{1/2}, S^{-1/2}) of a symmetric positive definite matrix, through its eigendecomposition."""
    vals, vecs = np.linalg.eigh(s)
    vals = np.maximum(vals, 0.0)
    root = np.sqrt(vals)
    inv = np.where(root > 0, 1.0 / np.where(root > 0, root, 1.0), 0.0)
    return (vecs * root) @ vecs.T, (vecs * inv) @ vecs.T


def bures_barycenter(means: Any, covariances: Any, *, weights: Any = None, max_iter: int = 1000, tol: float = 1e-12,
                     on_failure: str = "raise") -> tuple[np.ndarray, np.ndarray]:
    r"""The 2-Wasserstein (Bures–Wasserstein) barycenter of Gaussians N(m_k, Σ_k): (mean, covariance).

    ``means`` (K, d), ``covariances`` (K, d, d) symmetric positive definite (semi-definite ones are accepted
    when the barycenter stays definite), ``weights`` the λ_k (default uniform). The mean is Σ_k λ_k m_k; the
    covariance solves :math:`S = \sum_k\lambda_k (S^{1/2}\Sigma_k S^{1/2})^{1/2}` (the module notes give the
    iteration, started at Σ_k λ_k Σ_k). One dimension: S^{1/2} = Σ_k λ_k σ_k; commuting covariances: the
    square of the average square root.

    Convention map: POT's ``ot.gaussian.bures_wasserstein_barycenter(m, C, weights)`` (fixed point
    S ← Σ λ_k (S^{1/2}Σ_k S^{1/2})^{1/2}, the same solution) returns (mean, covariance) too. Not converged
    after ``max_iter`` iterations: :class:`~divergences.samples.SinkhornConvergenceError` (or a warning) stating
    the relative change reached.

    >>> m, s = bures_barycenter([[0.0], [2.0]], [[[1.0]], [[9.0]]])
    >>> m.tolist(), s.round(12).tolist()  # σ = (1 + 3) / 2
    ([1.0], [[4.0]])
    """
    if on_failure not in ("raise", "warn"):
        raise ValueError(f"on_failure must be 'raise' or 'warn', got {on_failure!r}")
    mu = np.asarray(means, dtype=np.float64)
    cov = np.asarray(covariances, dtype=np.float64)
    if mu.ndim != 2 or mu.shape[0] == 0:
        raise ValueError(f"means must have shape (K, d) with K ≥ 1, got {mu.shape}")
    k, d = mu.shape
    if cov.shape != (k, d, d):
        raise ValueError(f"covariances must have shape ({k}, {d}, {d}) to match means {mu.shape}, got {cov.shape}")
    if not (np.isfinite(mu).all() and np.isfinite(cov).all()):
        raise ValueError("means and covariances must be finite")
    for j in range(k):
        c = cov[j]
        if not np.allclose(c, c.T, rtol=1e-10, atol=1e-12 * max(float(np.abs(c).max()), 1e-300)):
            raise ValueError(f"covariances[{j}] is not symmetric")
        if float(np.linalg.eigvalsh(c).min()) < -1e-10 * max(float(np.abs(c).max()), 1e-300):
            raise ValueError(f"covariances[{j}] is not positive semi-definite")
    lam = _lambdas(weights, k)
    max_iter = _positive_int(max_iter, "max_iter")
    tol = check_positive(tol, "tol")
    scale = float(np.abs(cov).max()) or 1.0  # the iteration is homogeneous: work at unit scale
    c = cov / scale
    s = np.einsum("k,kij->ij", lam, c)
    change, iterations = math.inf, 0
    while iterations < max_iter:
        iterations += 1
        root, inv_root = _sym_sqrt(s)
        mean_root = sum(w * _sym_sqrt(root @ ck @ root)[0] for w, ck in zip(lam, c))
        new = inv_root @ mean_root @ mean_root @ inv_root
        new = 0.5 * (new + new.T)
        change = float(np.linalg.norm(new - s)) / max(float(np.linalg.norm(new)), 1e-300)
        s = new
        if change < tol:
            break
    if not change < tol:
        _fail(f"bures_barycenter did not converge: relative change {change:.3g} ≥ tol={tol:g} after {iterations} "
              "iterations; raise max_iter", on_failure)
    return lam @ mu, s * scale
