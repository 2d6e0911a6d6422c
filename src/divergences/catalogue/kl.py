r"""The Kullback–Leibler family: KL, reverse KL, Jeffreys, and the skew KLs."""

from __future__ import annotations

import math

import numpy as np

from ..core.backend import logaddexp, namespace
from ..core.conventions import PSI, DriftRule
from ..core.record import builtin
from ..core.special import lambert_w_log, lambert_w_negative
from ..core.terms import INF, ClosedForm, check_unit, log_or_neg_inf

__all__ = ["KL", "Jeffreys", "LogRatioForm", "ReverseKL", "SkewKL", "SkewReverseKL"]


class LogRatioForm(ClosedForm):
    """A term built from p, q and their logarithms only (the KL family, Jeffreys, JS): measured in units of
    information (``base=`` applies), and its partials are polynomials in the log-probabilities, so nothing
    overflows in the torch losses."""

    bounded_gradient = True
    information_units = True


class _Skewed(LogRatioForm):
    """KL from one side (``side``) to the mixture λ·(that side) + (1 − λ)·(the other), λ = ``skew`` ∈ [0, 1].

    Skew reverse KL is skew KL with the arguments swapped, so both are written once here on (this side, the
    other side). Keeps log λ and log(1 − λ) (−inf at the ends). Where the other side has no mass the term is
    −log λ (+inf at λ = 0: the plain KL), and where ``side`` has none it is 0.
    """

    side = "p"

    def __init__(self, skew: float = 0.1) -> None:
        super().__init__()
        self.skew = check_unit(skew, "skew")
        self._ll, self._l1l = log_or_neg_inf(self.skew), log_or_neg_inf(1 - self.skew)
        ends = (0.0, -self._ll)  # (this side empty, the other side empty)
        self.value_p_zero, self.value_q_zero = ends if self.side == "p" else ends[::-1]

    def _sides(self, a, b):
        """(this side, the other side) of a pair given as (p side, q side)."""
        return (a, b) if self.side == "p" else (b, a)

    def _phi(self, a, b, xp):
        own, other = self._sides(a, b)
        m = logaddexp(own + self._ll, other + self._l1l, xp)  # log M
        return xp.exp(own) * (own - m)

    def _dphi(self, a, b, xp):
        own, other = self._sides(a, b)
        m = logaddexp(own + self._ll, other + self._l1l, xp)
        e = xp.exp(own)
        w = xp.exp(other + self._l1l - m)  # (1−λ)·(other side)/M
        return self._sides(e * (own - m) + e * w, -e * w)

    def _naive(self, p, q, xp):
        own, other = self._sides(p, q)
        return own * xp.log(own / (self.skew * own + (1 - self.skew) * other))

    @property
    def params(self):
        return {"skew": self.skew}


def _tlogt(t, xp):
    return xp.where(t > 0, t * xp.log(xp.where(t > 0, t, xp.ones_like(t))), xp.zeros_like(t))


@builtin("kl")
class KL(LogRatioForm):
    r"""Kullback–Leibler divergence :math:`KL(P\|Q) = \sum_x p(x) \log(p(x)/q(x))`; f(t) = t log t.

    Argument order follows the mathematics (as ``scipy.stats.entropy(pk, qk)``), unlike
    ``torch.nn.functional.kl_div(input, target)``, which computes KL(target‖input) from a log-space
    ``input``: ``F.kl_div(q.log(), p, reduction="sum")`` equals ``dv.kl(p, q)``. 0·log 0 = 0;
    p > 0 where q = 0 gives +inf. Computed directly (never as cross-entropy minus entropy, which
    cancels catastrophically for close distributions). Conjugate f*(s) = e^{s−1}.

    >>> import divergences as dv
    >>> round(float(dv.kl([0.5, 0.5], [0.9, 0.1])), 6)
    0.510826
    >>> float(dv.kl([0.5, 0.5], [0.5, 0.5], base=2))
    0.0
    """

    name = "kl"
    drift = DriftRule(0.1, source="Evidently's default threshold for kl_div")
    value_p_zero = 0.0
    value_q_zero = INF

    def f(self, t):
        return _tlogt(t, namespace(t))

    def f_prime(self, t):
        return namespace(t).log(t) + 1

    def f_second(self, t):
        return 1 / t

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

    def numpy_rows(self, p, q, sp, sq):
        r = np.divide(p, q)
        np.log(r, out=r)
        return np.vecdot(p, r), None


@builtin("reverse_kl")
class ReverseKL(LogRatioForm):
    r"""Reverse KL :math:`KL(Q\|P) = \sum_x q(x)\log(q(x)/p(x))`, the f-divergence with f(t) = −log t.

    In distillation with p = teacher and q = student this is the mode-seeking KL(student‖teacher);
    ``scipy.stats.entropy(q, p)``. Conjugate f*(s) = −1 − log(−s) for s < 0.

    >>> import divergences as dv
    >>> round(float(dv.reverse_kl([0.5, 0.5], [0.9, 0.1])), 6)
    0.368064
    """

    name = "reverse_kl"
    value_p_zero = INF
    value_q_zero = 0.0

    def f(self, t):
        return -namespace(t).log(t)

    def f_prime(self, t):
        return -1 / t

    def f_second(self, t):
        return 1 / (t * t)

    def conjugate(self, s):
        xp = namespace(s)
        neg = s < 0
        return xp.where(neg, -1 - xp.log(xp.where(neg, -s, xp.ones_like(s))), xp.full_like(s, INF))

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


@builtin("jeffreys", aliases=("psi",))
class Jeffreys(LogRatioForm):
    r"""Jeffreys divergence :math:`J = KL(P\|Q) + KL(Q\|P) = \sum_x (p - q)\log(p/q)`; f(t) = (t − 1) log t.

    Symmetric. Over bins it is the population stability index (PSI, P = current, Q = reference; the
    registry's alias ``"psi"``) and the information value (IV, P = goods, Q = bads). Conjugate
    f*(s) = W(e^{1−s}) + 1/W(e^{1−s}) + s − 2 (W: Lambert's W₀).

    >>> import divergences as dv
    >>> round(float(dv.jeffreys([0.5, 0.5], [0.9, 0.1])), 6)
    0.87889
    """

    name = "jeffreys"
    drift = PSI  # PSI bands: < 0.1 stable, 0.1–0.25 moderate, ≥ 0.25 significant
    value_p_zero = INF
    value_q_zero = INF
    symmetric = True

    def f(self, t):
        return (t - 1) * namespace(t).log(t)

    def f_prime(self, t):
        return namespace(t).log(t) + 1 - 1 / t

    def f_second(self, t):
        return 1 / t + 1 / (t * t)

    def conjugate(self, s):
        xp = namespace(s)
        w = lambert_w_log(1 - s, xp)  # W(e^{1−s}) without forming e^{1−s}
        return w + 1 / w + s - 2

    def _phi(self, a, b, xp):
        return (xp.exp(a) - xp.exp(b)) * (a - b)

    def _dphi(self, a, b, xp):
        p, q = xp.exp(a), xp.exp(b)
        d = a - b
        return p * d + (p - q), -q * d - (p - q)

    def _naive(self, p, q, xp):
        return (p - q) * xp.log(p / q)


@builtin("skew_kl")
class SkewKL(_Skewed):
    r"""Skew KL :math:`KL(P\,\|\,\lambda P + (1-\lambda) Q)` with λ = ``skew`` ∈ [0, 1] (DistiLLM: 0.1).

    f(t) = t log(t / (λt + 1 − λ)). Finite even where q = 0 (for λ > 0); λ = 0 is :func:`kl`, λ = 1
    is 0. Conjugate f*(s) = −(1−λ) W₀(−λ e^{s−1})/λ for s ≤ −log λ (+inf beyond; e^{s−1} at λ = 0).

    >>> import divergences as dv
    >>> abs(float(dv.skew_kl([0.5, 0.5], [0.9, 0.1], skew=0.0)) - float(dv.kl([0.5, 0.5], [0.9, 0.1]))) < 1e-15
    True
    """

    name = "skew_kl"

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

    def conjugate(self, s):
        xp = namespace(s)
        lam = self.skew
        if lam == 0.0:
            return xp.exp(s - 1)
        inside = s <= -math.log(lam)
        x = -lam * xp.exp(xp.where(inside, s, xp.zeros_like(s)) - 1)
        u = -lambert_w_negative(xp.clip(x, -1 / math.e, 0.0), xp) / lam  # u = t/M at the optimum
        return xp.where(inside, (1 - lam) * u, xp.full_like(s, INF))


@builtin("skew_reverse_kl")
class SkewReverseKL(_Skewed):
    r"""Skew reverse KL :math:`KL(Q\,\|\,(1-\lambda) P + \lambda Q)` with λ = ``skew`` ∈ [0, 1].

    f(t) = −log((1−λ)t + λ). λ = 0 is :func:`reverse_kl`; λ = 1 is 0. Conjugate
    f*(s) = −1 − λs/(1−λ) + log(−(1−λ)/s) for −(1−λ)/λ ≤ s < 0, log λ below, +inf for s ≥ 0.

    >>> import divergences as dv
    >>> round(float(dv.skew_reverse_kl([0.5, 0.5], [0.9, 0.1], skew=0.0)), 6)
    0.368064
    """

    name = "skew_reverse_kl"
    side = "q"

    def f(self, t):
        return -namespace(t).log((1 - self.skew) * t + self.skew)

    def f_prime(self, t):
        c = 1 - self.skew
        return -c / (c * t + self.skew)

    def f_second(self, t):
        c = 1 - self.skew
        return c * c / (c * t + self.skew) ** 2

    def conjugate(self, s):
        xp = namespace(s)
        lam, c = self.skew, 1 - self.skew
        if c == 0.0:
            return xp.where(s <= 0, xp.zeros_like(s), xp.full_like(s, INF))
        neg = s < 0
        s_safe = xp.where(neg, s, -xp.ones_like(s))
        interior = -1 - lam * s_safe / c + xp.log(-c / s_safe)
        low = xp.full_like(s, math.log(lam) if lam > 0 else -INF)
        value = xp.where(s < -c / lam, low, interior) if lam > 0 else interior
        return xp.where(neg, value, xp.full_like(s, INF))
