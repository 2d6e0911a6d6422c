r"""Information projections onto exponential families on a finite support (NumPy, PyTorch with autograd).

An exponential family on n support points with sufficient statistics :math:`T \in \mathbb{R}^{n\times d}`
and base measure :math:`h \ge 0` is :math:`q_\theta(i) = h_i \exp(\theta\cdot T_i - A(\theta))`,
:math:`A(\theta) = \log\sum_i h_i e^{\theta\cdot T_i}`. Two projections of a distribution p onto it:

* **M-projection** (moment projection, "KL projection", maximum likelihood): :math:`\arg\min_\theta
  \mathrm{KL}(p\,\|\,q_\theta)`. Its optimality condition is moment matching, :math:`E_{q_\theta}[T] = E_p[T]`;
  p may be an empirical distribution (counts of samples on the support, ``normalize=True``), and then
  θ is the maximum-likelihood estimate. :func:`m_projection`.
* **I-projection** (information projection, maximum entropy relative to p): :math:`\arg\min_q
  \mathrm{KL}(q\,\|\,p)` over distributions with :math:`E_q[T] = t`. Its solution is the exponential tilt
  :math:`q \propto p\,e^{\theta\cdot T}` whose moments are t. :func:`i_projection`.

Both are one convex problem: minimise the dual :math:`F(\theta) = A(\theta) - \theta\cdot\mu` (base h and
μ = E_p[T] for the M-projection; base p and μ = t for the I-projection), whose gradient is
:math:`E_\theta[T] - \mu` and Hessian the covariance of T under :math:`q_\theta`. It is solved here by Newton's
method with a backtracking line search, in float64, with a least-squares step when the statistics are
linearly dependent (θ is then not unique; the minimum-norm step is taken and q is unique). Convergence:
:math:`\|E_\theta[T] - \mu\|_\infty \le` ``tol`` × max(1, max|T|); otherwise a ``ValueError`` says so.

Pythagorean identities (Csiszár), tested: for every r in the family, KL(p‖r) = KL(p‖q*) + KL(q*‖r) (M); for
every q with E_q[T] = t, KL(q‖p) = KL(q‖q*) + KL(q*‖p) (I).

Moments on the boundary of the convex hull of the statistics (p on a face, e.g. all its mass at an extreme
point) have no finite θ: the iterations then reach ``tol`` at a θ of size about log(1/tol), and the result
approximates the projection in the closure of the family (q → 0 off the face). Moments outside the hull are
refused.

Arrays in, arrays out: NumPy in, NumPy out; torch tensors in, torch tensors out, differentiable in p, T, h
and t (the solve runs without autograd, then one Newton step from the detached solution is taken with
autograd on: at the solution this gives exactly the implicit-function derivatives, dθ/dμ = Cov_θ(T)⁻¹).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .core.backend import as_float, is_numpy, namespace, result_dtype
from .core.validation import check_flag, check_real, sum_atol

__all__ = ["Projection", "i_projection", "m_projection"]


@dataclass(frozen=True)
class Projection:
    """The result of :func:`m_projection` or :func:`i_projection`, on the caller's backend.

    :ivar distribution: q* on the support, shape (n,).
    :ivar natural_parameters: θ, shape (d,) (for dependent statistics, the minimum-norm solution).
    :ivar log_partition: A(θ) = log Σ_i base_i exp(θ·T_i) (base h for the M-projection, p for the
        I-projection).
    :ivar moments: E_{q*}[T], shape (d,).
    :ivar kl: KL(p‖q*) for the M-projection, KL(q*‖p) for the I-projection (nats).
    :ivar iterations: Newton iterations taken.
    """

    distribution: Any
    natural_parameters: Any
    log_partition: Any
    moments: Any
    kl: Any
    iterations: int


# ---------------------------------------------------------------------------------------------
# inputs
# ---------------------------------------------------------------------------------------------


def _to_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach()
    if hasattr(x, "cpu"):
        x = x.cpu()
    return np.asarray(x, dtype=np.float64)


def _finite(x: Any, name: str, xp: Any) -> None:
    if bool(xp.any(xp.isnan(x))) or bool(xp.any(xp.isinf(x))):
        raise ValueError(f"{name} contains NaN or an infinite value")


def _distribution(p: Any, name: str, xp: Any, dtype: Any, normalize: bool) -> Any:
    if p.ndim != 1 or p.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array over the support, got shape {tuple(p.shape)}")
    _finite(p, name, xp)
    if bool(xp.any(p < 0)):
        raise ValueError(f"{name} has negative mass (probabilities and counts must be ≥ 0)")
    total = float(_to_numpy(xp.sum(p)))
    if normalize:
        if total <= 0:
            raise ValueError(f"{name} has zero total mass; it cannot be normalised")
        return p / xp.sum(p)
    if abs(total - 1) > sum_atol(p.dtype):
        raise ValueError(f"{name} does not sum to 1 (sum {total:.6g}); pass normalize=True to accept counts")
    return p


def _statistics(t: Any, n: int, xp: Any) -> Any:
    if t.ndim == 1:
        t = xp.reshape(t, (t.shape[0], 1))
    if t.ndim != 2 or t.shape[0] != n or t.shape[1] == 0:
        raise ValueError(f"statistics must have shape (n, d) = ({n}, d) with d ≥ 1 (one row per support point), "
                         f"got {tuple(t.shape)}")
    _finite(t, "statistics", xp)
    return t


def _prepared(p: Any, statistics: Any, third: Any, third_name: str, normalize: Any) -> tuple[Any, ...]:
    """(xp, dtype, p as a distribution (n,), statistics (n, d), the third array or None) on the inputs'
    one backend (lists become NumPy arrays, NumPy arrays join a torch caller's backend)."""
    normalize = check_flag(normalize, "normalize")
    xp = namespace(p, statistics, third, names=("p", "statistics", third_name))
    given = (p, statistics) + ((third,) if third is not None else ())
    arrays = [a if hasattr(a, "shape") and not isinstance(a, (list, tuple)) else np.asarray(a) for a in given]
    if not is_numpy(xp):
        arrays = [xp.asarray(a) if isinstance(a, np.ndarray) else a for a in arrays]
    dtype = xp.float64 if is_numpy(xp) else result_dtype(xp, *arrays)
    pa = _distribution(as_float(arrays[0], xp, dtype), "p", xp, dtype, normalize)
    stats = _statistics(as_float(arrays[1], xp, dtype), pa.shape[0], xp)
    return xp, dtype, pa, stats, (as_float(arrays[2], xp, dtype) if third is not None else None)


def _options(tol: Any, max_iter: Any) -> tuple[float, int]:
    tol = check_real(tol, "tol", low=0.0, low_open=True)
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")
    return tol, int(max_iter)


# ---------------------------------------------------------------------------------------------
# the dual problem: min_θ A(θ) − θ·μ, A(θ) = logsumexp(log base + T θ)
# ---------------------------------------------------------------------------------------------


def _lse(z: np.ndarray) -> float:
    m = float(np.max(z))
    return m + math.log(float(np.sum(np.exp(z - m))))


def _solve(log_base: np.ndarray, stats: np.ndarray, mu: np.ndarray, tol: float, max_iter: int,
           what: str) -> tuple[np.ndarray, int]:
    """θ with ‖E_θ[T] − μ‖∞ ≤ tol·max(1, max|T|), by damped Newton steps (float64, no autograd)."""
    keep = np.isfinite(log_base)
    lb, t = log_base[keep], stats[keep]
    low, high = t.min(0), t.max(0)
    scale = max(1.0, float(np.abs(t).max()))
    slack = 1e-12 * scale
    outside = np.nonzero((mu < low - slack) | (mu > high + slack))[0]
    if outside.size:
        j = int(outside[0])
        raise ValueError(f"{what}: moment {j} = {mu[j]:.6g} lies outside the range [{low[j]:.6g}, {high[j]:.6g}] of "
                         f"statistics[:, {j}] on the support; no distribution there has these moments")
    theta = np.zeros(t.shape[1])
    grad = np.full(t.shape[1], math.inf)
    for it in range(max_iter + 1):
        z = lb + t @ theta
        a = _lse(z)
        q = np.exp(z - a)
        m = q @ t
        grad = m - mu
        if float(np.max(np.abs(grad))) <= tol * scale:
            return theta, it
        if it == max_iter:
            break
        centred = t - m
        cov = (centred * q[:, None]).T @ centred
        step = np.linalg.lstsq(cov, grad, rcond=1e-13)[0]
        objective = a - float(theta @ mu)
        decrease = float(grad @ step)
        trial = theta - step
        if decrease > 1e-13 * max(1.0, abs(objective)):
            # backtracking (Armijo) while the decrease is above the rounding of F; below it, F cannot tell
            # steps apart and the full Newton step (quadratic convergence) is taken
            size = 1.0
            while size > 1e-12:
                value = _lse(lb + t @ trial) - float(trial @ mu)
                if value <= objective - 1e-4 * size * decrease:
                    break
                size *= 0.5
                trial = theta - size * step
        theta = trial
    raise ValueError(f"{what}: the moments were not matched within tol={tol:g} after {max_iter} Newton iterations "
                     f"(largest gap {float(np.max(np.abs(grad))):.3g}); they may lie on the boundary of the convex hull "
                     "of the statistics (raise tol or max_iter) or outside it")


def _finish(xp: Any, dtype: Any, log_base: Any, stats: Any, mu: Any, theta0: np.ndarray) -> tuple[Any, ...]:
    """(q, θ, A, moments, log q) in ``xp``: one Newton step from the detached θ0 (autograd's implicit derivative)."""
    theta = xp.asarray(theta0, dtype=dtype)
    if not is_numpy(xp) and hasattr(stats, "device"):
        theta = xp.asarray(theta0, dtype=dtype, device=stats.device)

    def state(th):
        z = log_base + stats @ th
        finite = xp.isfinite(z)
        zmax = xp.max(xp.where(finite, z, xp.full_like(z, -math.inf)))
        a = zmax + xp.log(xp.sum(xp.where(finite, xp.exp(z - zmax), xp.zeros_like(z))))
        log_q = z - a
        q = xp.where(finite, xp.exp(xp.where(finite, log_q, xp.zeros_like(log_q))), xp.zeros_like(log_q))
        return q, a, log_q

    needs_grad = not is_numpy(xp) and any(getattr(x, "requires_grad", False) for x in (log_base, stats, mu))
    if needs_grad:
        q, _, _ = state(theta)
        m = xp.sum(q[:, None] * stats, axis=0)
        centred = stats - m
        cov = (centred * q[:, None]).T @ centred
        theta = theta - xp.linalg.pinv(cov) @ (m - mu)
    q, a, log_q = state(theta)
    moments = xp.sum(q[:, None] * stats, axis=0)
    return q, theta, a, moments, log_q


def _kl(first: Any, log_first: Any, log_second: Any, xp: Any) -> Any:
    """Σ first (log first − log second) with 0 log 0 = 0 (masked before the logs: finite gradients)."""
    positive = first > 0
    zero = xp.zeros_like(first)
    diff = xp.where(positive, xp.where(positive, log_first, zero) - xp.where(positive, log_second, zero), zero)
    return xp.sum(first * diff)


def _safe_log(x: Any, xp: Any) -> Any:
    positive = x > 0
    return xp.where(positive, xp.log(xp.where(positive, x, xp.ones_like(x))), xp.full_like(x, -math.inf))


# ---------------------------------------------------------------------------------------------
# public
# ---------------------------------------------------------------------------------------------


def m_projection(p: Any, statistics: Any, *, base: Any = None, normalize: bool = False, tol: float = 1e-10,
                 max_iter: int = 200) -> Projection:
    r"""M-projection of p onto the exponential family with sufficient ``statistics`` and ``base`` measure.

    .. math:: q^* = \arg\min_{q_\theta}\ \mathrm{KL}(p\,\|\,q_\theta),\qquad
              q_\theta(i) = h_i\,e^{\theta\cdot T_i - A(\theta)},\qquad E_{q^*}[T] = E_p[T]

    ``p`` (n,) is a distribution on the n support points, or counts of samples there with
    ``normalize=True`` (then θ is the maximum-likelihood estimate from those samples); ``statistics`` (n, d)
    (or (n,) for d = 1) holds T_i per point; ``base`` (n,) is h ≥ 0 (default: 1 everywhere; points with
    h = 0 are outside the family's support, and p must give them no mass). Returns a :class:`Projection`
    whose ``kl`` is KL(p‖q*). Every KL(p‖q_θ) = KL(p‖q*) + KL(q*‖q_θ) (Pythagoras), so ``kl`` is the least
    information lost by describing p with the family.

    Mapping: this is the "KL projection" / MLE of the exponential-family literature (e.g. ``statsmodels``' GLM
    fit with a log link on a saturated design, or SciPy's ``rv_discrete`` fit by moments), and the maximum-
    entropy model with the moment constraints of p when h is uniform (Jaynes).

    >>> import numpy as np
    >>> x = np.arange(5.0)
    >>> p = np.array([0.1, 0.2, 0.4, 0.2, 0.1])
    >>> r = m_projection(p, np.stack([x, x**2], axis=1))   # a discrete Gaussian on 0..4
    >>> np.allclose(r.moments, [2.0, 5.2])                  # E_p[x], E_p[x²]
    True
    >>> bool(r.kl >= 0)
    True
    """
    tol, max_iter = _options(tol, max_iter)
    xp, dtype, pa, stats, h = _prepared(p, statistics, base, "base", normalize)
    if h is None:
        log_base = xp.zeros_like(pa)
    else:
        if h.ndim != 1 or h.shape[0] != pa.shape[0]:
            raise ValueError(f"base must have shape ({pa.shape[0]},) (one weight per support point), got "
                             f"{tuple(h.shape)}")
        _finite(h, "base", xp)
        if bool(xp.any(h < 0)):
            raise ValueError("base must be ≥ 0 (a measure on the support)")
        if bool(xp.any((h == 0) & (pa > 0))):
            raise ValueError("p puts mass where base is 0: no member of the family is absolutely continuous there "
                             "(KL(p‖q) = +inf for every q); remove those points or give them a positive base")
        log_base = _safe_log(h, xp)
    mu = xp.sum(pa[:, None] * stats, axis=0)
    theta0, iterations = _solve(_to_numpy(log_base), _to_numpy(stats), _to_numpy(mu), tol, max_iter, "m_projection")
    q, theta, a, moments, log_q = _finish(xp, dtype, log_base, stats, mu, theta0)
    kl = _kl(pa, _safe_log(pa, xp), log_q, xp)
    return Projection(q, theta, a, moments, kl, iterations)


def i_projection(p: Any, statistics: Any, moments: Any, *, normalize: bool = False, tol: float = 1e-10,
                 max_iter: int = 200) -> Projection:
    r"""I-projection of p onto the distributions with prescribed ``moments``: an exponential tilt of p.

    .. math:: q^* = \arg\min_{q:\ E_q[T] = t}\ \mathrm{KL}(q\,\|\,p) \;=\; p\,e^{\theta\cdot T - A(\theta)},
              \qquad \mathrm{KL}(q^*\|p) = \theta\cdot t - A(\theta)

    ``p`` (n,) is the reference distribution (or counts with ``normalize=True``), ``statistics`` (n, d) (or
    (n,)) the constrained functions T, ``moments`` (d,) their targets t, which must lie in the convex hull of
    the rows of T on the support of p. q* is supported where p is. Returns a :class:`Projection` whose ``kl``
    is KL(q*‖p) and whose ``log_partition`` is A(θ) = log E_p[e^{θ·T}] (the cumulant generating function of T
    under p: θ is the Legendre dual point of t, as in large-deviation rates and Sanov's theorem).

    Mapping: this is the exponential tilting of importance sampling and of the Donsker–Varadhan / Gibbs
    variational principle, and the "maximum entropy with a prior" update (minimum cross-entropy, Kullback's
    principle); ``scipy.optimize.minimize`` on the constrained primal gives the same q (tested).

    >>> import numpy as np
    >>> p = np.full(6, 1 / 6)                               # a fair die
    >>> r = i_projection(p, np.arange(1.0, 7.0), [4.5])     # the closest die with mean 4.5
    >>> round(float(r.distribution @ np.arange(1.0, 7.0)), 6)
    4.5
    >>> bool(np.all(np.diff(r.distribution) > 0))           # tilted towards high faces
    True
    """
    tol, max_iter = _options(tol, max_iter)
    xp, dtype, pa, stats, t = _prepared(p, statistics, moments, "moments", normalize)
    if t is None:
        raise ValueError("moments must be given: the targets t, one per statistic")
    if t.ndim == 0:
        t = xp.reshape(t, (1,))
    if t.ndim != 1 or t.shape[0] != stats.shape[1]:
        raise ValueError(f"moments must have shape ({stats.shape[1]},) (one per statistic), got {tuple(t.shape)}")
    _finite(t, "moments", xp)
    log_p = _safe_log(pa, xp)
    theta0, iterations = _solve(_to_numpy(log_p), _to_numpy(stats), _to_numpy(t), tol, max_iter, "i_projection")
    q, theta, a, got, log_q = _finish(xp, dtype, log_p, stats, t, theta0)
    kl = _kl(q, log_q, log_p, xp)
    return Projection(q, theta, a, got, kl, iterations)
