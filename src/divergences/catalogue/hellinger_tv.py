r"""Total variation and the (squared) Hellinger distance."""

from __future__ import annotations

from ..core.backend import namespace
from ..core.conventions import DriftRule
from ..core.record import builtin
from ..core.terms import INF, ClosedForm

__all__ = ["Hellinger", "TotalVariation"]


@builtin("tv")
class TotalVariation(ClosedForm):
    r"""Total variation distance :math:`TV = \tfrac12 \sum_x |p(x) - q(x)|` ∈ [0, 1]; f(t) = ½|t − 1|.

    Conjugate f*(s) = s on |s| ≤ ½ (+inf outside).

    >>> import divergences as dv
    >>> float(dv.tv([0.5, 0.5], [0.9, 0.1]))
    0.4
    """

    name = "tv"
    bounded_gradient = True  # polynomial in the log-probabilities: nothing overflows
    value_p_zero = 0.5
    value_q_zero = 0.5
    symmetric = True
    upper_bound = 1.0
    smooth = False  # f has a kink at 1; ½Σ|p − q| sums non-negative exact differences anyway

    def f(self, t):
        return 0.5 * namespace(t).abs(t - 1)

    def f_prime(self, t):
        return 0.5 * namespace(t).sign(t - 1)

    def f_second(self, t):
        return namespace(t).zeros_like(t)

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


@builtin("hellinger", distance="hellinger_distance")
class Hellinger(ClosedForm):
    r"""Squared Hellinger distance :math:`H^2 = \tfrac12 \sum_x (\sqrt{p(x)} - \sqrt{q(x)})^2` ∈ [0, 1].

    Scale: the ½ convention (H² = 1 − Σ√(pq)); some texts use Σ(√p−√q)² = 2H². f(t) = ½(√t − 1)².
    The distance H = √H² is :func:`hellinger_distance` (its gradient at P = Q is the subgradient 0).
    Conjugate f*(s) = s/(1 − 2s) for s < ½.

    >>> import divergences as dv
    >>> float(dv.hellinger([1.0, 0.0], [0.0, 1.0]))
    1.0
    >>> float(dv.hellinger_distance([1.0, 0.0], [0.0, 1.0]))
    1.0
    """

    name = "hellinger"
    drift = DriftRule(0.01, source="Evidently's Hellinger distance threshold 0.1, squared")
    bounded_gradient = True  # polynomial in the log-probabilities: nothing overflows
    value_p_zero = 0.5
    value_q_zero = 0.5
    symmetric = True
    upper_bound = 1.0

    def f(self, t):
        return 0.5 * (namespace(t).sqrt(t) - 1) ** 2

    def f_prime(self, t):
        return 0.5 * (1 - 1 / namespace(t).sqrt(t))

    def f_second(self, t):
        return 0.25 * t ** (-1.5)

    def conjugate(self, s):
        xp = namespace(s)
        inside = s < 0.5
        return xp.where(inside, s / xp.where(inside, 1 - 2 * s, xp.ones_like(s)), xp.full_like(s, INF))

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
