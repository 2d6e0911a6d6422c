r"""f-divergence generators: one definition that every layer reads.

An f-divergence is :math:`D_f(P\|Q) = \sum_x q(x)\, f\!\big(p(x)/q(x)\big)` for a convex ``f`` with
``f(1) = 0``. A :class:`Generator` carries everything the layers need:

* ``f(t)``, ``f_prime(t)``, ``f_second(t)`` on probability ratios (for policy-gradient weights
  :math:`r^2 f''(r)`, f-DPO's :math:`f'`, control variates :math:`f'(1)`);
* the pointwise term in log space, :meth:`Pointwise.phi` ``(a, b)`` with ``a = log p`` and
  ``b = log q``, written so that nothing overflows for logits of ±1e4;
* its partial derivatives :meth:`Pointwise.dphi` (closed-form gradients for the chunked losses:
  the gradient with respect to logits ``z`` of ``q = softmax(z)`` is ``g - softmax(z) * sum(g)``
  with ``g = dphi/db``);
* the boundary conventions: ``f(0)`` (the contribution ``q f(0)`` where ``p = 0``) and
  ``lim f(t)/t`` (the contribution ``p lim f(t)/t`` where ``q = 0``), so 0·log 0 = 0 and mass where
  the other side has none gives +inf (never NaN, never a silent epsilon).

Built-in generators override the log-space term and its derivatives with stable closed forms;
a user generator needs only ``f`` (derivatives are then taken by autograd in the torch layer).

Conventions of the built-ins (all natural-log units):

=================  ====================================================  ============================
name               f(t)                                                  value
=================  ====================================================  ============================
kl                 t log t                                               KL(P‖Q)
reverse_kl         −log t                                                KL(Q‖P)
jeffreys           (t−1) log t                                           KL(P‖Q)+KL(Q‖P) (= PSI, IV)
js (β)             β t log t − (βt+1−β) log(βt+1−β)                      β KL(P‖M)+(1−β) KL(Q‖M)
tv                 ½|t−1|                                                ½ Σ|p−q| ∈ [0, 1]
hellinger          ½(√t−1)²                                              ½ Σ(√p−√q)² ∈ [0, 1]
pearson            (t−1)²                                                Σ(p−q)²/q
neyman             (1−t)²/t                                              Σ(p−q)²/p
alpha (α)          (t^α − αt − (1−α)) / (α(α−1))                         Amari; α→1 KL, α→0 rev. KL
skew_kl (λ)        t log(t / (λt + 1 − λ))                               KL(P‖λP+(1−λ)Q)
skew_reverse_kl    −log((1−λ)t + λ)                                      KL(Q‖(1−λ)P+λQ)
triangular         (t−1)²/(t+1)                                          Σ(p−q)²/(p+q) ∈ [0, 2]
=================  ====================================================  ============================
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ._backend import Array, logaddexp, namespace

__all__ = [
    "Alpha",
    "CrossEntropy",
    "Generator",
    "Hellinger",
    "Jeffreys",
    "JensenShannon",
    "KL",
    "Neyman",
    "Pearson",
    "Pointwise",
    "ReverseKL",
    "SkewKL",
    "SkewReverseKL",
    "Triangular",
    "TotalVariation",
    "as_generator",
]

INF = math.inf


def _log(x: float) -> float:
    return math.log(x) if x > 0 else -INF


def _check_unit(value: float, name: str) -> float:
    value = float(value)
    if not (0.0 <= value <= 1.0):
        raise ValueError(f"{name} must lie in [0, 1], got {value!r}")
    return value


class Pointwise:
    r"""A divergence that is a sum of pointwise terms :math:`\sum_i \phi(\log p_i, \log q_i)`.

    Subclasses define the interior term (both sides > 0) in :meth:`_phi` and its partial
    derivatives in :meth:`_dphi`; the boundary (``p = 0`` or ``q = 0``) is handled here from
    :attr:`value_p_zero` (the term divided by q when p = 0) and :attr:`value_q_zero` (the term
    divided by p when q = 0).
    """

    name: str = "pointwise"
    #: term / q where p = 0 < q (``f(0)`` for an f-divergence); may be +inf
    value_p_zero: float = 0.0
    #: term / p where q = 0 < p (``lim f(t)/t`` for an f-divergence); may be +inf
    value_q_zero: float = INF
    #: D(P‖Q) == D(Q‖P) for all P, Q
    symmetric: bool = False
    #: the supremum of the divergence over all pairs (None if unbounded)
    upper_bound: float | None = None

    @property
    def params(self) -> dict[str, float]:
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({args})"

    # -- to be provided by subclasses -------------------------------------------------------
    def _phi(self, a: Array, b: Array, xp: Any) -> Array:  # pragma: no cover - abstract
        raise NotImplementedError

    def _dphi(self, a: Array, b: Array, xp: Any) -> tuple[Array, Array]:  # pragma: no cover
        raise NotImplementedError

    def _phi_dphi(self, a: Array, b: Array, xp: Any) -> tuple[Array, Array, Array]:
        """Interior term and its partial derivatives at once; subclasses share the common work
        (the chunked torch losses need all three per chunk)."""
        da, db = self._dphi(a, b, xp)
        return self._phi(a, b, xp), da, db

    @property
    def has_closed_form_gradient(self) -> bool:
        return type(self)._dphi is not Pointwise._dphi

    #: Optional ``_naive(p, q, xp)``: the term in probability space, exact where p, q > 0 and NaN or
    #: ±inf (never a wrong finite value) where either is 0; fast kernels recompute such rows exactly.
    _naive = None

    # -- the public pointwise API ---------------------------------------------------------
    def _masks(self, a: Array, b: Array, xp: Any):
        pz = a == -INF
        qz = b == -INF
        boundary = pz | qz
        zero = xp.zeros_like(a)
        a_safe = xp.where(boundary, zero, a)
        b_safe = xp.where(boundary, zero, b)
        return pz, qz, boundary, a_safe, b_safe

    def phi(self, a: Array, b: Array) -> Array:
        """Pointwise term from log-probabilities ``a = log p``, ``b = log q`` (-inf allowed)."""
        xp = namespace(a, b)
        pz, qz, boundary, a_safe, b_safe = self._masks(a, b, xp)
        inner = self._phi(a_safe, b_safe, xp)
        # boundary contributions: q * f(0) where p = 0; p * lim f(t)/t where q = 0; 0 where both
        if math.isfinite(self.value_p_zero):
            at_p_zero = xp.exp(b) * self.value_p_zero
        else:
            at_p_zero = xp.full_like(a, INF)
        if math.isfinite(self.value_q_zero):
            at_q_zero = xp.exp(a) * self.value_q_zero
        else:
            at_q_zero = xp.full_like(a, INF)
        out = xp.where(qz, at_q_zero, inner)
        out = xp.where(pz, at_p_zero, out)
        return xp.where(pz & qz, xp.zeros_like(out), out)

    def dphi(self, a: Array, b: Array) -> tuple[Array, Array]:
        """Partial derivatives (∂φ/∂a, ∂φ/∂b) of :meth:`phi`; finite wherever ``phi`` is finite."""
        xp = namespace(a, b)
        pz, qz, boundary, a_safe, b_safe = self._masks(a, b, xp)
        da, db = self._dphi(a_safe, b_safe, xp)
        zero = xp.zeros_like(da)
        fz = self.value_p_zero if math.isfinite(self.value_p_zero) else 0.0
        sq = self.value_q_zero if math.isfinite(self.value_q_zero) else 0.0
        da = xp.where(qz, xp.exp(a) * sq, da)
        db = xp.where(qz, zero, db)
        da = xp.where(pz, zero, da)
        db = xp.where(pz, xp.exp(b) * fz, db)
        return da, db

    def phi_dphi(self, a: Array, b: Array) -> tuple[Array, Array, Array]:
        """:meth:`phi` and :meth:`dphi` at once, boundary-aware, without data-dependent branches
        (no host synchronisation: the chunk engine traces it under ``torch.compile``)."""
        return self.phi(a, b), *self.dphi(a, b)

    def partials(self, p: Array, q: Array) -> tuple[Array, Array]:
        """(∂φ/∂p, ∂φ/∂q) in probability space where p, q > 0; NaN where either is 0 (no derivative).

        From the log-space partials: ∂φ/∂p = (∂φ/∂a)/p, ∂φ/∂q = (∂φ/∂b)/q. For an f-divergence these
        are f'(r) and f(r) − r f'(r) (the delta-method gradients of the tabular layer).
        """
        from ._backend import safe_log

        xp = namespace(p, q)
        inside = (p > 0) & (q > 0)
        one = xp.ones_like(p)
        ps, qs = xp.where(inside, p, one), xp.where(inside, q, one)
        da, db = self.dphi(safe_log(ps, xp), safe_log(qs, xp))
        nan = xp.full_like(p, math.nan)
        return xp.where(inside, da / ps, nan), xp.where(inside, db / qs, nan)

    def term(self, p: Array, q: Array) -> Array:
        """Pointwise term from probabilities (zeros allowed)."""
        from ._backend import safe_log

        xp = namespace(p, q)
        return self.phi(safe_log(p, xp), safe_log(q, xp))


class Generator(Pointwise):
    r"""An f-divergence generator ``f`` (convex, ``f(1) = 0``).

    Built-in generators are subclasses with closed forms. ``Generator(f)`` wraps a plain callable
    ``f(t)`` (called with arrays of the caller's backend, e.g. ``lambda t: (t - 1) ** 2``);
    optional ``f_prime`` and ``f_second`` callables, ``f_zero = f(0)`` and
    ``slope_inf = lim_{t→∞} f(t)/t`` make it exact at the boundary and enable closed-form
    gradients. Without them: ``f(0)`` is evaluated, ``f'`` is taken by central differences, and
    ``lim f(t)/t`` is estimated from ``f(t)/t`` at t = 1e30 and 1e60 (taken as +inf unless the two
    agree to 1e-6 relative).
    """

    name = "custom"

    def __init__(
        self,
        f: Callable[[Array], Array] | None = None,
        *,
        f_prime: Callable[[Array], Array] | None = None,
        f_second: Callable[[Array], Array] | None = None,
        f_zero: float | None = None,
        slope_inf: float | None = None,
        name: str = "custom",
    ) -> None:
        if type(self) is Generator and f is None:
            raise ValueError("Generator(f): f must be a callable f(t)")
        if f is not None and not callable(f):
            raise ValueError(f"Generator(f): f must be callable, got {type(f).__name__}")
        self._f = f
        self._f_prime = f_prime
        self._f_second = f_second
        self.name = name
        if f is not None:
            self._check_user_generator()
            self.value_p_zero = float(f_zero) if f_zero is not None else self._eval_f_zero()
            self.value_q_zero = float(slope_inf) if slope_inf is not None else self._eval_slope()

    # -- probability-ratio form ----------------------------------------------------------
    def f(self, t: Array) -> Array:
        """The generator f(t) on probability ratios t ≥ 0."""
        return self._f(t)

    def f_prime(self, t: Array) -> Array:
        """f'(t)."""
        if self._f_prime is not None:
            return self._f_prime(t)
        h = 1e-6
        return (self._f(t * (1 + h)) - self._f(t * (1 - h))) / (2 * h * t)

    def f_second(self, t: Array) -> Array:
        """f''(t)."""
        if self._f_second is not None:
            return self._f_second(t)
        h = 1e-4
        return (self._f(t * (1 + h)) - 2 * self._f(t) + self._f(t * (1 - h))) / (h * t) ** 2

    @property
    def f_prime_one(self) -> float:
        """f'(1): the slope of the control variate f(r) − f'(1)(r − 1) (E_Q[r] = 1)."""
        import numpy as np

        return float(self.f_prime(np.asarray(1.0)))

    def weight(self, r: Array) -> Array:
        """The f-distill / f-DPG weight r² f''(r)."""
        return r * r * self.f_second(r)

    def conjugate(self, s: Array) -> Array:
        """Convex conjugate f*(s) = sup_t (s t − f(t)), where a closed form is known."""
        raise NotImplementedError(f"no closed-form convex conjugate for {self!r}")

    # -- generic log-space term from f ------------------------------------------------------
    def _phi(self, a, b, xp):
        return xp.exp(b) * self.f(xp.exp(a - b))

    def _dphi(self, a, b, xp):
        if self._f_prime is None and type(self) is Generator:
            raise NotImplementedError("no closed-form derivative: use autograd")
        r = xp.exp(a - b)
        fp = self.f_prime(r)
        q = xp.exp(b)
        return q * r * fp, q * (self.f(r) - r * fp)

    @property
    def has_closed_form_gradient(self) -> bool:
        return type(self) is not Generator or self._f_prime is not None

    # -- checks and limits for user generators ------------------------------------------
    def _check_user_generator(self) -> None:
        import numpy as np

        with np.errstate(all="ignore"):
            one = float(self._f(np.asarray(1.0)))
        if not math.isfinite(one) or abs(one) > 1e-9:
            raise ValueError(f"a generator must satisfy f(1) = 0; got f(1) = {one!r}")

    def _eval_f_zero(self) -> float:
        import numpy as np

        with np.errstate(all="ignore"):
            v = float(self._f(np.asarray(0.0)))
        return INF if math.isnan(v) else v

    def _eval_slope(self) -> float:
        import numpy as np

        with np.errstate(all="ignore"):
            s1 = float(self._f(np.asarray(1e30))) / 1e30
            s2 = float(self._f(np.asarray(1e60))) / 1e60
        if math.isfinite(s1) and math.isfinite(s2) and abs(s1 - s2) <= 1e-6 * max(1.0, abs(s2)):
            return s2
        return INF


# ---------------------------------------------------------------------------------------
# built-in generators
# ---------------------------------------------------------------------------------------


class KL(Generator):
    """KL(P‖Q) = Σ p log(p/q); f(t) = t log t."""

    name = "kl"
    value_p_zero = 0.0
    value_q_zero = INF

    def __init__(self) -> None:
        self.name = "kl"

    def f(self, t):
        xp = namespace(t)
        return xp.where(t > 0, t * xp.log(xp.where(t > 0, t, xp.ones_like(t))), xp.zeros_like(t))

    def f_prime(self, t):
        return namespace(t).log(t) + 1

    def f_second(self, t):
        return 1 / t

    @property
    def f_prime_one(self) -> float:
        return 1.0

    def conjugate(self, s):
        return namespace(s).exp(s - 1)

    def _phi(self, a, b, xp):
        return xp.exp(a) * (a - b)

    def _dphi(self, a, b, xp):
        p = xp.exp(a)
        return p * (a - b + 1), -p

    def _phi_dphi(self, a, b, xp):
        p = xp.exp(a)
        phi = p * (a - b)
        return phi, phi + p, -p


    def _naive(self, p, q, xp):
        return p * xp.log(p / q)

class ReverseKL(Generator):
    """KL(Q‖P) = Σ q log(q/p); f(t) = −log t."""

    name = "reverse_kl"
    value_p_zero = INF
    value_q_zero = 0.0

    def __init__(self) -> None:
        self.name = "reverse_kl"

    def f(self, t):
        return -namespace(t).log(t)

    def f_prime(self, t):
        return -1 / t

    def f_second(self, t):
        return 1 / (t * t)

    @property
    def f_prime_one(self) -> float:
        return -1.0

    def conjugate(self, s):
        return -1 - namespace(s).log(-s)

    def _phi(self, a, b, xp):
        return xp.exp(b) * (b - a)

    def _dphi(self, a, b, xp):
        q = xp.exp(b)
        return -q, q * (b - a + 1)

    def _phi_dphi(self, a, b, xp):
        q = xp.exp(b)
        phi = q * (b - a)
        return phi, -q, phi + q


    def _naive(self, p, q, xp):
        return q * xp.log(q / p)

class Jeffreys(Generator):
    """Jeffreys J(P, Q) = KL(P‖Q) + KL(Q‖P) = Σ (p − q) log(p/q); f(t) = (t − 1) log t.

    The population stability index (PSI) and the information value (IV) are this divergence.
    """

    name = "jeffreys"
    value_p_zero = INF
    value_q_zero = INF
    symmetric = True

    def __init__(self) -> None:
        self.name = "jeffreys"

    def f(self, t):
        return (t - 1) * namespace(t).log(t)

    def f_prime(self, t):
        return namespace(t).log(t) + 1 - 1 / t

    def f_second(self, t):
        return 1 / t + 1 / (t * t)

    @property
    def f_prime_one(self) -> float:
        return 0.0

    def _phi(self, a, b, xp):
        return (xp.exp(a) - xp.exp(b)) * (a - b)

    def _dphi(self, a, b, xp):
        p, q = xp.exp(a), xp.exp(b)
        d = a - b
        return p * d + (p - q), -q * d - (p - q)


    def _naive(self, p, q, xp):
        return (p - q) * xp.log(p / q)

class JensenShannon(Generator):
    """Generalised Jensen–Shannon divergence with weight β (``beta``).

    JS_β(P‖Q) = β KL(P‖M) + (1−β) KL(Q‖M) with M = βP + (1−β)Q (GKD/TRL/Liger convention,
    P = teacher, Q = student in distillation). β = ½ is the usual JS, bounded by log 2. The value
    tends to 0 at β ∈ {0, 1}. log M is formed with logaddexp, so log-probabilities far below −100
    do not underflow to NaN.
    """

    name = "js"
    value_q_zero = 0.0

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = _check_unit(beta, "beta")
        self.name = "js"
        b = self.beta
        self._lb, self._l1b = _log(b), _log(1 - b)
        self.value_p_zero = -(1 - b) * self._l1b if b < 1 else 0.0
        self.value_q_zero = -b * self._lb if b > 0 else 0.0
        self.symmetric = b == 0.5
        self.upper_bound = self.value_p_zero + self.value_q_zero  # the entropy of (β, 1−β)

    @property
    def params(self):
        return {"beta": self.beta}

    def f(self, t):
        xp = namespace(t)
        b = self.beta
        m = b * t + (1 - b)
        tlogt = xp.where(t > 0, t * xp.log(xp.where(t > 0, t, xp.ones_like(t))), xp.zeros_like(t))
        return b * tlogt - m * xp.log(m)

    def f_prime(self, t):
        xp = namespace(t)
        b = self.beta
        return b * (xp.log(t) - xp.log(b * t + (1 - b)))

    def f_second(self, t):
        b = self.beta
        return b * (1 - b) / (t * (b * t + (1 - b)))

    @property
    def f_prime_one(self) -> float:
        return 0.0

    def _log_m(self, a, b, xp):
        return logaddexp(a + self._lb, b + self._l1b, xp)

    def _phi(self, a, b, xp):
        m = self._log_m(a, b, xp)
        return self.beta * xp.exp(a) * (a - m) + (1 - self.beta) * xp.exp(b) * (b - m)

    def _dphi(self, a, b, xp):
        m = self._log_m(a, b, xp)
        return self.beta * xp.exp(a) * (a - m), (1 - self.beta) * xp.exp(b) * (b - m)

    def _phi_dphi(self, a, b, xp):
        da, db = self._dphi(a, b, xp)  # the term is exactly ∂φ/∂a + ∂φ/∂b
        return da + db, da, db


class TotalVariation(Generator):
    """Total variation TV(P, Q) = ½ Σ |p − q| ∈ [0, 1]; f(t) = ½|t − 1|."""

    name = "tv"
    value_p_zero = 0.5
    value_q_zero = 0.5
    symmetric = True
    upper_bound = 1.0

    def __init__(self) -> None:
        self.name = "tv"

    def f(self, t):
        return 0.5 * namespace(t).abs(t - 1)

    def f_prime(self, t):
        return 0.5 * namespace(t).sign(t - 1)

    def f_second(self, t):
        return namespace(t).zeros_like(t)

    @property
    def f_prime_one(self) -> float:
        return 0.0

    def conjugate(self, s):
        xp = namespace(s)
        return xp.where(xp.abs(s) <= 0.5, s, xp.full_like(s, INF))

    def _phi(self, a, b, xp):
        return 0.5 * xp.abs(xp.exp(a) - xp.exp(b))

    def _dphi(self, a, b, xp):
        p, q = xp.exp(a), xp.exp(b)
        s = 0.5 * xp.sign(p - q)
        return s * p, -s * q


    def _naive(self, p, q, xp):
        return 0.5 * xp.abs(p - q)

class Hellinger(Generator):
    """Squared Hellinger distance H² = ½ Σ (√p − √q)² ∈ [0, 1]; f(t) = ½(√t − 1)².

    Scale: this is half of Σ(√p − √q)² (the convention with H² ≤ 1); the distance is √H².
    """

    name = "hellinger"
    value_p_zero = 0.5
    value_q_zero = 0.5
    symmetric = True
    upper_bound = 1.0

    def __init__(self) -> None:
        self.name = "hellinger"

    def f(self, t):
        return 0.5 * (namespace(t).sqrt(t) - 1) ** 2

    def f_prime(self, t):
        return 0.5 * (1 - 1 / namespace(t).sqrt(t))

    def f_second(self, t):
        return 0.25 * t ** (-1.5)

    @property
    def f_prime_one(self) -> float:
        return 0.0

    def _diff(self, a, b, xp):
        # √p − √q = √q · expm1((a − b)/2), written from the larger side so nothing overflows; the
        # branch not taken is clamped too, so that its (discarded) gradient is not inf·0 = NaN
        d = a - b
        zero = xp.zeros_like(d)
        return xp.where(
            d <= 0,
            xp.exp(0.5 * b) * xp.expm1(0.5 * xp.minimum(d, zero)),
            -xp.exp(0.5 * a) * xp.expm1(0.5 * xp.minimum(-d, zero)),
        )

    def _phi(self, a, b, xp):
        d = self._diff(a, b, xp)
        return 0.5 * d * d

    def _dphi(self, a, b, xp):
        d = self._diff(a, b, xp)
        return 0.5 * d * xp.exp(0.5 * a), -0.5 * d * xp.exp(0.5 * b)


    def _naive(self, p, q, xp):
        d = xp.sqrt(p) - xp.sqrt(q)
        return 0.5 * d * d

def _chi2_phi(a, b, xp):
    """(p − q)²/q from logs, from the larger side: no 0·inf for log-ratios of ±1e4 (either branch)."""
    d = a - b
    zero = xp.zeros_like(d)
    up = xp.maximum(d, zero)  # d > 0: p²/q · (1 − q/p)² = e^{2a−b} expm1(−d)²
    down = xp.minimum(d, zero)  # d ≤ 0: q · expm1(d)²
    e_up, e_down = xp.expm1(-up), xp.expm1(down)
    return xp.where(d > 0, xp.exp(a + up) * e_up * e_up, xp.exp(b) * e_down * e_down)


def _chi2_dphi(a, b, xp):
    """(∂/∂a, ∂/∂b) of :func:`_chi2_phi`: 2p(r − 1) and −q(r² − 1), r = p/q, from the larger side."""
    d = a - b
    zero = xp.zeros_like(d)
    up, down = xp.maximum(d, zero), xp.minimum(d, zero)
    da = xp.where(d > 0, -2 * xp.exp(a + up) * xp.expm1(-up), 2 * xp.exp(a) * xp.expm1(down))
    db = xp.where(d > 0, xp.exp(b + 2 * up) * xp.expm1(-2 * up), -xp.exp(b) * xp.expm1(2 * down))
    return da, db


class Pearson(Generator):
    """Pearson χ²(P‖Q) = Σ (p − q)²/q; f(t) = (t − 1)²."""

    name = "pearson"
    value_p_zero = 1.0
    value_q_zero = INF

    def __init__(self) -> None:
        self.name = "pearson"

    def f(self, t):
        return (t - 1) ** 2

    def f_prime(self, t):
        return 2 * (t - 1)

    def f_second(self, t):
        return 2 * namespace(t).ones_like(t)

    @property
    def f_prime_one(self) -> float:
        return 0.0

    def conjugate(self, s):
        return s + s * s / 4

    def _phi(self, a, b, xp):
        return _chi2_phi(a, b, xp)

    def _dphi(self, a, b, xp):
        return _chi2_dphi(a, b, xp)


    def _naive(self, p, q, xp):
        d = p - q
        return d * d / q

class Neyman(Generator):
    """Neyman χ²(P‖Q) = Σ (p − q)²/p = Pearson χ²(Q‖P); f(t) = (1 − t)²/t."""

    name = "neyman"
    value_p_zero = INF
    value_q_zero = 1.0

    def __init__(self) -> None:
        self.name = "neyman"

    def f(self, t):
        return (1 - t) ** 2 / t

    def f_prime(self, t):
        return 1 - 1 / (t * t)

    def f_second(self, t):
        return 2 / (t * t * t)

    @property
    def f_prime_one(self) -> float:
        return 0.0

    def _phi(self, a, b, xp):
        return _chi2_phi(b, a, xp)

    def _dphi(self, a, b, xp):
        db, da = _chi2_dphi(b, a, xp)
        return da, db


    def _naive(self, p, q, xp):
        d = p - q
        return d * d / p

class Triangular(Generator):
    """Triangular discrimination Σ (p − q)²/(p + q) ∈ [0, 2]; f(t) = (t − 1)²/(t + 1).

    SequenceMatch's χ²(P‖(P+Q)/2) is half of it.
    """

    name = "triangular"
    value_p_zero = 1.0
    value_q_zero = 1.0
    symmetric = True
    upper_bound = 2.0

    def __init__(self) -> None:
        self.name = "triangular"

    def f(self, t):
        return (t - 1) ** 2 / (t + 1)

    def f_prime(self, t):
        return (t - 1) * (t + 3) / (t + 1) ** 2

    def f_second(self, t):
        return 8 / (t + 1) ** 3

    @property
    def f_prime_one(self) -> float:
        return 0.0

    def _parts(self, a, b, xp):
        p, q = xp.exp(a), xp.exp(b)
        s = p + q
        s_safe = xp.where(s > 0, s, xp.ones_like(s))
        return p, q, p - q, s_safe

    def _phi(self, a, b, xp):
        p, q, d, s = self._parts(a, b, xp)
        return d * d / s

    def _dphi(self, a, b, xp):
        p, q, d, s = self._parts(a, b, xp)
        s2 = s * s
        return p * d * (p + 3 * q) / s2, -q * d * (3 * p + q) / s2


    def _naive(self, p, q, xp):
        d = p - q
        return d * d / (p + q)

class Alpha(Generator):
    """Amari α-divergence (Cichocki–Amari form), for any real α.

    D_α(P‖Q) = (Σ p^α q^{1−α} − 1) / (α(α−1)) for normalised P, Q;
    f(t) = (t^α − αt − (1−α)) / (α(α−1)). α → 1 gives KL(P‖Q), α → 0 gives KL(Q‖P); both limits
    are continuous (computed with expm1) and exact at the endpoints. α = ½ gives
    2 Σ(√p − √q)² = 4 H² (H² as :func:`divergences.hellinger` returns it); α = 2 gives ½ Pearson χ².

    Other conventions: Cressie–Read's λ is α − 1 (with a factor); DPH-RL's α' is 1 − α.
    """

    name = "alpha"

    def __init__(self, alpha: float = 0.5) -> None:
        alpha = float(alpha)
        if not math.isfinite(alpha):
            raise ValueError(f"alpha must be finite, got {alpha!r}")
        self.alpha = alpha
        self.name = "alpha"
        self._endpoint = KL() if alpha == 1.0 else ReverseKL() if alpha == 0.0 else None
        if self._endpoint is not None:
            self.value_p_zero = self._endpoint.value_p_zero
            self.value_q_zero = self._endpoint.value_q_zero
        else:
            self.value_p_zero = 1 / alpha if alpha > 0 else INF
            self.value_q_zero = 1 / (1 - alpha) if alpha < 1 else INF

    @property
    def params(self):
        return {"alpha": self.alpha}

    def f(self, t):
        if self._endpoint is not None:
            return self._endpoint.f(t)
        al = self.alpha
        return (t**al - al * t - (1 - al)) / (al * (al - 1))

    def f_prime(self, t):
        if self._endpoint is not None:
            return self._endpoint.f_prime(t)
        return (t ** (self.alpha - 1) - 1) / (self.alpha - 1)

    def f_second(self, t):
        return t ** (self.alpha - 2)

    @property
    def f_prime_one(self) -> float:
        return self._endpoint.f_prime_one if self._endpoint is not None else 0.0

    def _phi(self, a, b, xp):
        if self._endpoint is not None:
            return self._endpoint._phi(a, b, xp)
        al = self.alpha
        d = a - b
        if al >= 0.5:
            # [p (e^{(α−1)d} − 1)/(α−1) − (p − q)] / α
            return (self._scaled_em1(a, d, al - 1, xp) - (xp.exp(a) - xp.exp(b))) / al
        # [q (e^{αd} − 1)/α − (p − q)] / (α − 1)
        return (self._scaled_em1(b, d, al, xp) - (xp.exp(a) - xp.exp(b))) / (al - 1)

    @staticmethod
    def _scaled_em1(base, d, delta, xp):
        """e^{base} (e^{δd} − 1)/δ: with expm1 where δd is small (the α → 0, 1 limits stay exact),
        and in the exponent, e^{base+δd} − e^{base}, where it is large (no inf·0 for logits ±1e4)."""
        x = delta * d
        small = xp.abs(x) < 1.0
        zero = xp.zeros_like(x)
        near = xp.exp(base) * xp.expm1(xp.where(small, x, zero))
        far = xp.exp(base + xp.where(small, zero, x)) - xp.exp(base)
        return xp.where(small, near, far) / delta

    def _dphi(self, a, b, xp):
        if self._endpoint is not None:
            return self._endpoint._dphi(a, b, xp)
        al = self.alpha
        d = a - b
        return self._scaled_em1(a, d, al - 1, xp), -self._scaled_em1(b, d, al, xp)


    def _naive(self, p, q, xp):
        if self._endpoint is not None:
            return self._endpoint._naive(p, q, xp)
        al = self.alpha
        d = xp.log(p / q)
        if al >= 0.5:
            return (p * xp.expm1((al - 1) * d) / (al - 1) - (p - q)) / al
        return (q * xp.expm1(al * d) / al - (p - q)) / (al - 1)

class SkewKL(Generator):
    """Skew KL: KL(P‖λP + (1−λ)Q) with λ = ``skew`` ∈ [0, 1] (DistiLLM uses λ = 0.1).

    f(t) = t log(t / (λt + 1 − λ)). λ = 0 is KL(P‖Q); λ = 1 is 0.
    """

    name = "skew_kl"
    value_p_zero = 0.0

    def __init__(self, skew: float = 0.1) -> None:
        self.skew = _check_unit(skew, "skew")
        self.name = "skew_kl"
        self._ll, self._l1l = _log(self.skew), _log(1 - self.skew)
        self.value_q_zero = -self._ll  # −log λ (inf at λ = 0)

    @property
    def params(self):
        return {"skew": self.skew}

    def f(self, t):
        xp = namespace(t)
        lam = self.skew
        safe = xp.where(t > 0, t, xp.ones_like(t))
        return xp.where(t > 0, t * xp.log(safe / (lam * safe + 1 - lam)), xp.zeros_like(t))

    def f_prime(self, t):
        xp = namespace(t)
        lam = self.skew
        m = lam * t + 1 - lam
        return xp.log(t / m) + (1 - lam) / m

    def f_second(self, t):
        lam = self.skew
        c = 1 - lam
        return c * c / (t * (lam * t + c) ** 2)

    @property
    def f_prime_one(self) -> float:
        return 1 - self.skew

    def _phi(self, a, b, xp):
        m = logaddexp(a + self._ll, b + self._l1l, xp)
        return xp.exp(a) * (a - m)

    def _dphi(self, a, b, xp):
        m = logaddexp(a + self._ll, b + self._l1l, xp)
        p = xp.exp(a)
        w = xp.exp(b + self._l1l - m)  # (1−λ)q/M
        return p * (a - m) + p * w, -p * w


    def _naive(self, p, q, xp):
        return p * xp.log(p / (self.skew * p + (1 - self.skew) * q))

class SkewReverseKL(Generator):
    """Skew reverse KL: KL(Q‖(1−λ)P + λQ) with λ = ``skew`` ∈ [0, 1].

    f(t) = −log((1−λ)t + λ). λ = 0 is KL(Q‖P); λ = 1 is 0.
    """

    name = "skew_reverse_kl"
    value_q_zero = 0.0

    def __init__(self, skew: float = 0.1) -> None:
        self.skew = _check_unit(skew, "skew")
        self.name = "skew_reverse_kl"
        self._ll, self._l1l = _log(self.skew), _log(1 - self.skew)
        self.value_p_zero = -self._ll

    @property
    def params(self):
        return {"skew": self.skew}

    def f(self, t):
        return -namespace(t).log((1 - self.skew) * t + self.skew)

    def f_prime(self, t):
        c = 1 - self.skew
        return -c / (c * t + self.skew)

    def f_second(self, t):
        c = 1 - self.skew
        return c * c / (c * t + self.skew) ** 2

    @property
    def f_prime_one(self) -> float:
        return -(1 - self.skew)

    def _phi(self, a, b, xp):
        m = logaddexp(a + self._l1l, b + self._ll, xp)
        return xp.exp(b) * (b - m)

    def _dphi(self, a, b, xp):
        m = logaddexp(a + self._l1l, b + self._ll, xp)
        q = xp.exp(b)
        w = xp.exp(a + self._l1l - m)  # (1−λ)p/M
        return -q * w, q * (b - m) + q * w


    def _naive(self, p, q, xp):
        return q * xp.log(q / ((1 - self.skew) * p + self.skew * q))

class CrossEntropy(Pointwise):
    """Cross-entropy H(P, Q) = −Σ p log q = H(P) + KL(P‖Q) (not a divergence: H(P, P) = H(P))."""

    name = "cross_entropy"
    value_p_zero = 0.0
    value_q_zero = INF

    def _phi(self, a, b, xp):
        return -xp.exp(a) * b

    def _dphi(self, a, b, xp):
        p = xp.exp(a)
        return -p * b, -p


def as_generator(f: Any) -> Pointwise:
    """A :class:`Pointwise` term from a generator object, a Generator subclass or a callable f(t)."""
    if isinstance(f, Pointwise):
        return f
    if isinstance(f, type) and issubclass(f, Pointwise):
        return f()
    if callable(f):
        return Generator(f)
    raise ValueError(f"f must be a Generator or a callable f(t), got {type(f).__name__}")
