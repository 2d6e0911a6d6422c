r"""Closed forms between (multivariate) normal distributions, on NumPy and PyTorch (autograd).

Every function takes ``(mean0, cov0, mean1, cov1)`` for :math:`N_0 = N(\mu_0, \Sigma_0)` and
:math:`N_1 = N(\mu_1, \Sigma_1)` and returns :math:`D(N_0 \| N_1)` in nats (the argument order of
:func:`divergences.kl`: the first normal plays P, the second Q).

Shapes: a mean has shape ``(..., d)``. A covariance of shape ``(..., d, d)`` is a full matrix; one
of shape ``(..., d)`` (a vector of variances) is diagonal. A ``(d, d)`` array is read as a full
matrix; pass ``diagonal=True`` to read it as a batch of ``d`` diagonal covariances instead. Leading
axes broadcast (NumPy rules) and make up the shape of the result. Two diagonal covariances are
handled elementwise (O(d)); otherwise both are made full and every formula goes through Cholesky
factors (no explicit inverse, no determinant that overflows: log-determinants are sums of
log-diagonals). A covariance that is not symmetric positive definite is refused with a
``ValueError`` naming it.

One definition per formula serves every backend through the Array API (``array-api-compat``):
NumPy in, NumPy out; torch tensors in, torch tensors out, differentiable by autograd.
"""

from __future__ import annotations

import math

import numpy as np

from .core.backend import Array, as_float, is_numpy, is_torch, namespace, result_dtype

__all__ = ["bhattacharyya", "entropy", "hellinger", "kl", "renyi", "wasserstein2"]


# ---------------------------------------------------------------------------------------------
# inputs
# ---------------------------------------------------------------------------------------------


class _Normals:
    """Two normals on a common backend and dtype, both diagonal or both full."""

    def __init__(self, mean0, cov0, mean1, cov1, diagonal: bool | None, psd: bool = False) -> None:
        xp = namespace(mean0, cov0, mean1, cov1)
        arrays = [np.asarray(a) if is_numpy(xp) else a if hasattr(a, "shape") else xp.asarray(a)
                  for a in (mean0, cov0, mean1, cov1)]
        dtype = result_dtype(xp, *arrays)
        m0, c0, m1, c1 = (as_float(a, xp, dtype) for a in arrays)
        names = ("mean0", "cov0", "mean1", "cov1")
        for a, name in zip((m0, c0, m1, c1), names):
            if a.ndim == 0:
                raise ValueError(f"{name} must have at least one axis (the dimension d), got a scalar")
            if bool(xp.any(xp.isnan(a))) or bool(xp.any(xp.isinf(a))):
                raise ValueError(f"{name} contains NaN or an infinite value")
        d = m0.shape[-1]
        if m1.shape[-1] != d:
            raise ValueError(f"mean0 has dimension {d} but mean1 has dimension {m1.shape[-1]}")
        full0 = self._is_full(c0, d, "cov0", diagonal)
        full1 = self._is_full(c1, d, "cov1", diagonal)
        self.xp, self.d, self.dtype, self.psd = xp, d, dtype, psd
        self.diag = not (full0 or full1)
        if not self.diag:
            c0 = c0 if full0 else self._embed(c0, "cov0")
            c1 = c1 if full1 else self._embed(c1, "cov1")
            self._check_symmetric(c0, "cov0")
            self._check_symmetric(c1, "cov1")
        elif psd and (bool(xp.any(c0 < 0)) or bool(xp.any(c1 < 0))):
            name = "cov0" if bool(xp.any(c0 < 0)) else "cov1"
            raise ValueError(f"{name} is not positive semi-definite: a diagonal covariance needs every variance ≥ 0")
        elif not psd and (bool(xp.any(c0 <= 0)) or bool(xp.any(c1 <= 0))):
            name = "cov0" if bool(xp.any(c0 <= 0)) else "cov1"
            raise ValueError(f"{name} is not positive definite: a diagonal covariance needs every variance > 0")
        self.mean0, self.cov0, self.mean1, self.cov1 = m0, c0, m1, c1
        try:
            self.delta = m1 - m0
        except (ValueError, RuntimeError):
            raise ValueError(f"mean0 {tuple(m0.shape)} and mean1 {tuple(m1.shape)} do not broadcast") from None

    @staticmethod
    def _is_full(c, d, name, diagonal) -> bool:
        square = c.ndim >= 2 and tuple(c.shape[-2:]) == (d, d)
        if square and not diagonal:
            return True
        if c.shape[-1] == d:
            return False
        raise ValueError(
            f"{name} with shape {tuple(c.shape)} is neither a (..., {d}, {d}) matrix nor a (..., {d}) vector of variances"
        )

    def _embed(self, c, name):
        xp = self.xp
        if bool(xp.any(c < 0)) or (not self.psd and bool(xp.any(c <= 0))):
            raise ValueError(f"{name} is not positive definite: a diagonal covariance needs every variance > 0")
        eye = xp.eye(self.d, dtype=self.dtype)
        return c[..., None] * eye

    def _check_symmetric(self, c, name) -> None:
        xp = self.xp
        asym = _scalar(xp.max(xp.abs(c - xp.matrix_transpose(c))))
        scale = _scalar(xp.max(xp.abs(c)))
        if asym > 1e-8 * max(scale, 1e-300):
            raise ValueError(f"{name} is not symmetric (max |C − Cᵀ| = {asym:.3g})")

    # -- Cholesky-based building blocks ------------------------------------------------------
    def cholesky(self, c, name):
        try:
            factor = self.xp.linalg.cholesky(c)
        except (ValueError, RuntimeError):  # numpy LinAlgError is a ValueError; torch's a RuntimeError
            raise ValueError(f"{name} is not positive definite (its Cholesky factorisation failed)") from None
        return factor

    def logdet(self, factor):
        xp = self.xp
        return 2 * xp.sum(xp.log(xp.linalg.diagonal(factor)), axis=-1)

    def tri_solve(self, factor, rhs):
        """factor⁻¹ rhs for a lower-triangular factor."""
        if is_torch(self.xp):
            import torch

            return torch.linalg.solve_triangular(factor, rhs, upper=False)
        return self.xp.linalg.solve(factor, rhs)

    def mahalanobis(self, factor):
        """δᵀ (L Lᵀ)⁻¹ δ for the mean difference δ."""
        xp = self.xp
        factor, delta = _broadcast_batch(xp, factor, self.delta)
        z = self.tri_solve(factor, delta[..., None])
        return xp.sum(z[..., 0] ** 2, axis=-1)

    def finish(self, value):
        if is_numpy(self.xp) and value.ndim == 0:
            return value[()]
        return value


def _scalar(x: Array) -> float:
    return float(x.detach()) if hasattr(x, "detach") else float(x)


def _broadcast_batch(xp, factor, vector):
    """Broadcast a (..., d, d) matrix and a (..., d) vector over their leading axes."""
    batch = np.broadcast_shapes(tuple(factor.shape[:-2]), tuple(vector.shape[:-1]))
    d = vector.shape[-1]
    return xp.broadcast_to(factor, (*batch, d, d)), xp.broadcast_to(vector, (*batch, d))


def _check_alpha(alpha: float) -> float:
    al = float(alpha)
    if not (al > 0 and math.isfinite(al)):
        raise ValueError(f"alpha must be a finite number > 0, got {alpha!r}")
    return al


# ---------------------------------------------------------------------------------------------
# divergences
# ---------------------------------------------------------------------------------------------


def kl(mean0: Array, cov0: Array, mean1: Array, cov1: Array, *, diagonal: bool | None = None) -> Array:
    r"""KL(N₀‖N₁) between normals, in nats.

    :math:`\tfrac12\big[\operatorname{tr}(\Sigma_1^{-1}\Sigma_0) + \delta^\top\Sigma_1^{-1}\delta - d
    + \log\det\Sigma_1 - \log\det\Sigma_0\big]` with :math:`\delta = \mu_1 - \mu_0`, computed from
    the Cholesky factors as a sum of non-negative terms of :math:`A = L_1^{-1}L_0` (lower triangular):
    :math:`\sum_{i>j} A_{ij}^2 + \sum_i (u_i - \log(1 + u_i))` with :math:`u_i = A_{ii}^2 - 1` (no
    trace-minus-log-determinant cancellation). Where the covariances are close (every eigenvalue
    :math:`\mu_i` of :math:`L_0^{-1}(\Sigma_1 - \Sigma_0)L_0^{-\top}` within ±½) the covariance part
    is :math:`\sum_i [\log(1 + \mu_i) - \mu_i/(1 + \mu_i)]`, summed by its series near 0, from the
    difference of the inputs: nearly equal normals keep full relative precision (checked against
    60-digit mpmath down to relative perturbations of 1e-12).
    The variational-autoencoder term is ``kl(mu, var, 0, 1)`` with ``var`` a vector of variances.

    >>> import numpy as np
    >>> from divergences import gaussian
    >>> round(float(gaussian.kl(np.zeros(1), np.ones(1), np.ones(1), np.full(1, 4.0))), 6)
    0.443147
    """
    with np.errstate(over="ignore"):  # ratios like 1e300/1e-300 overflow to +inf, the right value
        return _kl(_Normals(mean0, cov0, mean1, cov1, diagonal))


def _kl(n: _Normals) -> Array:
    xp = n.xp
    if n.diag:
        # per coordinate u − log1p(u) with u = σ₀²/σ₁² − 1 = (σ₀² − σ₁²)/σ₁²: no cancellation between terms
        u = (n.cov0 - n.cov1) / n.cov1
        terms = _ratio_term(xp, u, xp.log(n.cov0) - xp.log(n.cov1)) + n.delta**2 / n.cov1
        return n.finish(0.5 * xp.sum(terms, axis=-1))
    l0, l1 = n.cholesky(n.cov0, "cov0"), n.cholesky(n.cov1, "cov1")
    maha = n.mahalanobis(l1)
    near, mu = _relative_eigenvalues(n, l0)
    # near-equal covariances: tr(Σ₁⁻¹Σ₀) − d + log det Σ₁Σ₀⁻¹ = Σ_i h(μ_i), h(μ) = log1p(μ) − μ/(1 + μ) ≥ 0,
    # μ_i the eigenvalues of L₀⁻¹(Σ₁ − Σ₀)L₀⁻ᵀ (formed from the difference: full relative precision)
    near_value = xp.sum(_log1p_minus_ratio(xp, mu), axis=-1)
    l1b, l0b = _broadcast_matrices(xp, l1, l0)
    # otherwise A = L₁⁻¹L₀ is lower triangular: tr(AAᵀ) − d − log det(AAᵀ) = Σ_{i≠j} A_ij² + Σ_i (u_i − log1p(u_i)),
    # u_i = A_ii² − 1; every term is ≥ 0 and variance ratios come from log-ratios (scale-safe)
    a = n.tri_solve(l1b, l0b)
    diag = xp.linalg.diagonal(a)
    off = xp.sum(xp.tril(a, k=-1) ** 2, axis=(-2, -1))
    u = (diag - 1) * (diag + 1)
    far_value = off + xp.sum(_ratio_term(xp, u, 2 * xp.log(xp.abs(diag))), axis=-1)
    return n.finish(0.5 * (xp.where(near, near_value, far_value) + maha))


#: below this |μ| the series forms are used (their terms fall by a factor ≥ 10 each)
_SERIES_BELOW = 0.1
_SERIES_TERMS = 24
#: covariances whose relative eigenvalues μ all lie within ±_NEAR use the eigenvalue forms
_NEAR = 0.5


def _relative_eigenvalues(n: _Normals, l0):
    """(near, μ): μ the eigenvalues of L₀⁻¹(Σ₁ − Σ₀)L₀⁻ᵀ (those of Σ₀^{-1/2}Σ₁Σ₀^{-1/2} − I), formed from the
    difference of the inputs so that nearly equal covariances keep their digits; ``near`` marks the batch
    entries with every |μ| < ½ (μ there is computed from Σ₁ replaced by Σ₀ elsewhere, so it is finite and
    its gradient never NaN)."""
    xp = n.xp

    def eigen(c1):
        l0b, diff = _broadcast_matrices(xp, l0, c1 - n.cov0)
        half = n.tri_solve(l0b, diff)
        e = n.tri_solve(l0b, xp.matrix_transpose(half))
        return xp.linalg.eigvalsh(0.5 * (e + xp.matrix_transpose(e)))

    with np.errstate(all="ignore"):
        if is_torch(xp):
            import torch

            with torch.no_grad():
                probe = eigen(n.cov1)
        else:
            probe = eigen(n.cov1)
        near = xp.all(xp.abs(probe) < _NEAR, axis=-1)  # NaN or inf entries are not near
    cov1 = xp.where(near[..., None, None], n.cov1, n.cov0)
    return near, eigen(cov1)


def _series(xp, mu, coefficient, first: int = 2):
    """Σ_{j ≥ first} coefficient(j) μ^j, summed from the smallest term (|μ| < 0.1: 24 terms reach 1e-24)."""
    total = xp.zeros_like(mu)
    for j in range(first + _SERIES_TERMS - 1, first - 1, -1):
        total = (total + coefficient(j)) * mu
    return total * mu ** (first - 1)


def _log1p_minus_ratio(xp, mu):
    """h(μ) = log1p(μ) − μ/(1 + μ) ≥ 0 (μ > −1): the series Σ_{j≥2} (−1)^j (j−1)/j μ^j near 0."""
    small = xp.abs(mu) < _SERIES_BELOW
    ms = xp.where(small, mu, xp.zeros_like(mu))
    mf = xp.where(small, xp.full_like(mu, 0.5), mu)
    series = _series(xp, ms, lambda j: (-1) ** j * (j - 1) / j)
    return xp.where(small, series, xp.log1p(mf) - mf / (1 + mf))


def _renyi_log_term(xp, mu, al: float):
    """g(μ) = log1p(αμ) − α log1p(μ) for 1 + αμ > 0 and μ > −1, without cancellation: the series
    Σ_{j≥2} (−1)^{j+1} α(α^{j−1} − 1) μ^j / j near 0, else (1 − α) log1p(μ) + log1p(−(1 − α)μ/(1 + μ))."""
    small = xp.abs(mu) * max(1.0, al) < _SERIES_BELOW
    ms = xp.where(small, mu, xp.zeros_like(mu))
    mf = xp.where(small, xp.full_like(mu, 0.5), mu)
    log_al = math.log(al)
    series = _series(xp, ms, lambda j: (-1) ** (j + 1) * al * math.expm1((j - 1) * log_al) / j)
    direct = (1 - al) * xp.log1p(mf) + xp.log1p(-(1 - al) * mf / (1 + mf))
    return xp.where(small, series, direct)


def _ratio_term(xp, u, log_r):
    """r − 1 − log r ≥ 0 for a variance ratio r = 1 + u with log r given (never NaN).

    Near r = 1 it is u − log1p(u) (its series Σ_{j≥2} (−1)^j u^j / j where |u| < 0.1: full relative
    precision); far from 1 it is e^{log r} − 1 − log r from the log-ratio, so ratios like 1e300/1e-300
    give +inf (overflow of r) or a finite value (underflow of r), never inf − inf.
    """
    near = xp.abs(log_r) < 0.5
    small = xp.abs(u) < _SERIES_BELOW
    u_small = xp.where(small, u, xp.zeros_like(u))
    u_near = xp.where(near & ~small, u, xp.full_like(u, 0.5))
    lr_far = xp.where(near, xp.zeros_like(log_r), log_r)
    series = _series(xp, u_small, lambda j: (-1) ** j / j)
    return xp.where(small, series, xp.where(near, u_near - xp.log1p(u_near), xp.exp(lr_far) - 1 - lr_far))


def entropy(mean: Array, cov: Array, *, diagonal: bool | None = None) -> Array:
    r"""Differential entropy of :math:`N(\mu, \Sigma)` in nats: :math:`\tfrac12\log\det(2\pi e\,\Sigma)
    = \tfrac d2(1 + \log 2\pi) + \tfrac12\log\det\Sigma`.

    The log-determinant is a sum of log-diagonals of the Cholesky factor (no overflow for any
    scale); ``mean`` gives the dimension and the batch shape (the entropy does not depend on it).
    Equals ``torch.distributions.MultivariateNormal(mean, cov).entropy()`` and
    ``scipy.stats.multivariate_normal(mean, cov).entropy()``.

    >>> import numpy as np
    >>> from divergences import gaussian
    >>> round(float(gaussian.entropy(np.zeros(1), np.ones(1))), 6)  # ½ log(2πe)
    1.418939
    """
    n = _Normals(mean, cov, mean, cov, diagonal)
    xp = n.xp
    const = 0.5 * n.d * (1.0 + math.log(2 * math.pi))
    if n.diag:
        logdet = xp.sum(xp.log(n.cov0), axis=-1)
    else:
        logdet = n.logdet(n.cholesky(n.cov0, "cov"))
    batch = np.broadcast_shapes(tuple(logdet.shape), tuple(n.mean0.shape[:-1]))
    return n.finish(xp.broadcast_to(const + 0.5 * logdet, batch))


def _psd_sqrt(xp, c, name):
    """Symmetric square root of a positive semi-definite matrix (ValueError naming it otherwise)."""
    lam, vec = xp.linalg.eigh(c)
    top = _scalar(xp.max(xp.abs(lam)))
    if _scalar(xp.min(lam)) < -1e-10 * max(top, 1e-300):
        raise ValueError(f"{name} is not positive semi-definite (smallest eigenvalue {_scalar(xp.min(lam)):.3g})")
    root = xp.sqrt(xp.clip(lam, 0.0, None))
    return (vec * root[..., None, :]) @ xp.matrix_transpose(vec)


def _polar_factor(xp, m):
    """The orthogonal factor WVᵀ of m = WSVᵀ (no gradient: it is the minimiser of the Bures problem)."""
    if is_torch(xp):
        import torch

        with torch.no_grad():
            w, _, vt = torch.linalg.svd(m.detach())
            return w @ vt
    w, _, vt = np.linalg.svd(m)
    return w @ vt


def _broadcast_matrices(xp, a, b):
    batch = np.broadcast_shapes(tuple(a.shape[:-2]), tuple(b.shape[:-2]))
    return xp.broadcast_to(a, (*batch, *a.shape[-2:])), xp.broadcast_to(b, (*batch, *b.shape[-2:]))


def _renyi(n: _Normals, al: float) -> Array:
    r"""Rényi divergence of order α ≠ 1 (Gil, Alajaji & Linder 2013).

    D_α = α/2 δᵀΣ_α⁻¹δ − [log det Σ_α − (1−α) log det Σ₀ − α log det Σ₁] / (2(α−1)),
    Σ_α = αΣ₁ + (1−α)Σ₀; +inf where Σ_α is not positive definite (possible only for α > 1).
    """
    xp = n.xp
    if n.diag:
        s_al = al * n.cov1 + (1 - al) * n.cov0
        finite = xp.all(s_al > 0, axis=-1)
        s_safe = xp.where(s_al > 0, s_al, xp.ones_like(s_al))
        maha = xp.sum(n.delta**2 / s_safe, axis=-1)
        # per coordinate μ = σ₁²/σ₀² − 1 from the difference; the log-determinant bracket is Σ g(μ)
        with np.errstate(all="ignore"):
            mu = (n.cov1 - n.cov0) / n.cov0
        near = (xp.abs(mu) < _NEAR) & (s_al > 0)
        mu_near = xp.where(near, mu, xp.zeros_like(mu))
        far = xp.log(s_safe) - (1 - al) * xp.log(n.cov0) - al * xp.log(n.cov1)
        logdets = xp.sum(xp.where(near, _renyi_log_term(xp, mu_near, al), far), axis=-1)
    else:
        s_al = al * n.cov1 + (1 - al) * n.cov0
        if al > 1:  # Σ_α may be indefinite: those entries are +inf
            finite = xp.linalg.eigvalsh(s_al)[..., 0] > 0
            eye = xp.eye(n.d, dtype=n.dtype)
            s_al = xp.where(finite[..., None, None], s_al, eye)
        else:
            finite = None
        l_al = n.cholesky(s_al, "αΣ₁ + (1−α)Σ₀")
        maha = n.mahalanobis(l_al)
        l0 = n.cholesky(n.cov0, "cov0")
        near, mu = _relative_eigenvalues(n, l0)
        if finite is not None:
            near = near & finite
            mu = xp.where(near[..., None], mu, xp.zeros_like(mu))
        far = n.logdet(l_al) - (1 - al) * n.logdet(l0) - al * n.logdet(n.cholesky(n.cov1, "cov1"))
        logdets = xp.where(near, xp.sum(_renyi_log_term(xp, mu, al), axis=-1), far)
    value = 0.5 * al * maha - logdets / (2 * (al - 1))
    if finite is not None:
        value = xp.where(finite, value, xp.full_like(value, math.inf))
    return value


def renyi(mean0: Array, cov0: Array, mean1: Array, cov1: Array, *, alpha: float = 0.5,
          diagonal: bool | None = None) -> Array:
    r"""Rényi divergence of order α > 0 between normals, in nats.

    :math:`D_\alpha = \frac{\alpha}{2}\delta^\top\Sigma_\alpha^{-1}\delta
    - \frac{1}{2(\alpha-1)}\log\frac{\det\Sigma_\alpha}{\det\Sigma_0^{1-\alpha}\det\Sigma_1^{\alpha}}`
    with :math:`\Sigma_\alpha = \alpha\Sigma_1 + (1-\alpha)\Sigma_0` (Gil, Alajaji & Linder, 2013).
    α = 1 is :func:`kl`; D_½ = 2·:func:`bhattacharyya`. For α > 1 the divergence is +inf wherever
    Σ_α is not positive definite. Where the covariances are close (every eigenvalue μᵢ of
    :math:`L_0^{-1}(\Sigma_1 - \Sigma_0)L_0^{-\top}` within ±½) the log-determinant ratio is
    :math:`\sum_i [\log(1 + \alpha\mu_i) - \alpha\log(1 + \mu_i)]`, by its power series near 0 or
    :math:`(1-\alpha)\log(1+\mu) + \log(1 - (1-\alpha)\mu/(1+\mu))`: nearly equal normals keep full
    relative precision (and so do :func:`bhattacharyya` and :func:`hellinger`).

    >>> import numpy as np
    >>> from divergences import gaussian
    >>> round(float(gaussian.renyi(np.zeros(2), np.ones(2), np.ones(2), np.ones(2), alpha=0.5)), 6)
    0.5
    """
    al = _check_alpha(alpha)
    if al == 1.0:
        return kl(mean0, cov0, mean1, cov1, diagonal=diagonal)
    n = _Normals(mean0, cov0, mean1, cov1, diagonal)
    return n.finish(_renyi(n, al))


def bhattacharyya(mean0: Array, cov0: Array, mean1: Array, cov1: Array, *, diagonal: bool | None = None) -> Array:
    r"""Bhattacharyya distance :math:`D_B = -\log\int\sqrt{p_0 p_1}` between normals, in nats.

    :math:`D_B = \tfrac18\delta^\top\Sigma^{-1}\delta + \tfrac12\log\frac{\det\Sigma}{\sqrt{\det\Sigma_0\det\Sigma_1}}`
    with :math:`\Sigma = (\Sigma_0 + \Sigma_1)/2`; it is half the Rényi divergence of order ½.

    >>> import numpy as np
    >>> from divergences import gaussian
    >>> round(float(gaussian.bhattacharyya(np.zeros(1), np.ones(1), np.full(1, 2.0), np.ones(1))), 6)
    0.5
    """
    n = _Normals(mean0, cov0, mean1, cov1, diagonal)
    return n.finish(0.5 * _renyi(n, 0.5))


def hellinger(mean0: Array, cov0: Array, mean1: Array, cov1: Array, *, diagonal: bool | None = None) -> Array:
    r"""Squared Hellinger distance :math:`H^2 = 1 - \int\sqrt{p_0 p_1} = 1 - e^{-D_B}` ∈ [0, 1].

    The ½ scale of :func:`divergences.hellinger` (H² = ½∫(√p₀ − √p₁)²); the distance is its square
    root. Computed as −expm1(−D_B), so close normals keep full relative precision.

    >>> import numpy as np
    >>> from divergences import gaussian
    >>> float(gaussian.hellinger(np.zeros(3), np.ones(3), np.zeros(3), np.ones(3)))
    0.0
    """
    d_b = bhattacharyya(mean0, cov0, mean1, cov1, diagonal=diagonal)
    xp = namespace(d_b)
    return -xp.expm1(-d_b)


def wasserstein2(mean0: Array, cov0: Array, mean1: Array, cov1: Array, *, squared: bool = False,
                 diagonal: bool | None = None) -> Array:
    r"""2-Wasserstein distance between normals (Euclidean ground metric), in the units of x.

    :math:`W_2^2 = \|\mu_0 - \mu_1\|^2 + \operatorname{tr}\Sigma_0 + \operatorname{tr}\Sigma_1
    - 2\operatorname{tr}\big(\Sigma_1^{1/2}\Sigma_0\Sigma_1^{1/2}\big)^{1/2}` (the Bures metric
    between covariances; the Fréchet distance of FID is :math:`W_2^2`). The Bures term is computed as
    :math:`\min_U \|L_0 - L_1 U\|_F^2` over orthogonal U, reached at the polar factor of
    :math:`L_1^\top L_0` (an SVD of a product of Cholesky factors, no matrix square root): a sum of
    squared differences, so close covariances keep their digits and equal ones give 0. Returns :math:`W_2`, or :math:`W_2^2` with ``squared=True``. Rounding below zero is clipped.
    Degenerate (positive **semi**-definite) covariances are accepted, as in POT's
    ``ot.gaussian.bures_wasserstein_distance``: where a Cholesky factorisation fails, the factors are
    the symmetric square roots :math:`V\,\mathrm{diag}(\sqrt{\max(\lambda, 0)})\,V^\top` from an
    eigendecomposition (eigenvalues below −1e-10·max|λ| are refused as not PSD).

    >>> import numpy as np
    >>> from divergences import gaussian
    >>> float(gaussian.wasserstein2(np.zeros(2), np.ones(2), np.array([3.0, 4.0]), np.ones(2)))
    5.0
    """
    n = _Normals(mean0, cov0, mean1, cov1, diagonal, psd=True)
    xp = n.xp
    if n.diag:
        bures = xp.sum((xp.sqrt(n.cov0) - xp.sqrt(n.cov1)) ** 2, axis=-1)
    else:
        try:
            f0, f1 = n.cholesky(n.cov0, "cov0"), n.cholesky(n.cov1, "cov1")
        except ValueError:  # singular (positive semi-definite): symmetric square roots instead
            f0, f1 = _psd_sqrt(xp, n.cov0, "cov0"), _psd_sqrt(xp, n.cov1, "cov1")
        l1b, l0b = _broadcast_matrices(xp, f1, f0)
        # Bures² = min over orthogonal U of ‖F₀ − F₁U‖²_F, reached at the polar factor U = WVᵀ of
        # F₁ᵀF₀ = WSVᵀ: a sum of squares of differences (no tr − 2‖·‖_* cancellation for close
        # covariances). U is held fixed for autograd: by the envelope theorem the gradient is exact.
        bures = xp.sum((l0b - l1b @ _polar_factor(xp, xp.matrix_transpose(l1b) @ l0b)) ** 2, axis=(-2, -1))
    value = xp.sum(n.delta**2, axis=-1) + bures
    if not squared:
        value = xp.sqrt(value)
    return n.finish(value)
