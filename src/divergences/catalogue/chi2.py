r"""The χ² family: Pearson, Neyman, triangular discrimination and Le Cam."""

from __future__ import annotations

from ..core.backend import namespace
from ..core.record import builtin
from ..core.terms import INF, ClosedForm

__all__ = ["LeCam", "Neyman", "Pearson", "Triangular"]


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


@builtin("pearson", aliases=("chi2",))
class Pearson(ClosedForm):
    r"""Pearson χ² divergence :math:`\chi^2(P\|Q) = \sum_x (p(x) - q(x))^2 / q(x)`; f(t) = (t − 1)².

    Equals ``scipy.stats.power_divergence(n·p, n·q, lambda_="pearson").statistic / n`` (alias
    ``"chi2"``: a divergence, not the two-sample χ² statistic). Where the exact value overflows the
    floating range (log-ratios beyond ≈ ±700 in float64) it is +inf. Conjugate f*(s) = s + s²/4 for
    s ≥ −2, −1 below.

    >>> import divergences as dv
    >>> round(float(dv.pearson([0.5, 0.5], [0.9, 0.1])), 6)
    1.777778
    """

    name = "pearson"
    value_p_zero = 1.0
    value_q_zero = INF

    def f(self, t):
        return (t - 1) ** 2

    def f_prime(self, t):
        return 2 * (t - 1)

    def f_second(self, t):
        return 2 * namespace(t).ones_like(t)

    def conjugate(self, s):
        xp = namespace(s)
        return xp.where(s >= -2, s + s * s / 4, -xp.ones_like(s))

    def _phi(self, a, b, xp):
        return _chi2_phi(a, b, xp)

    def _dphi(self, a, b, xp):
        return _chi2_dphi(a, b, xp)

    def _naive(self, p, q, xp):
        d = p - q
        return d * d / q


@builtin("neyman")
class Neyman(ClosedForm):
    r"""Neyman χ² divergence :math:`\sum_x (p(x) - q(x))^2 / p(x)` = Pearson χ²(Q‖P); f(t) = (1 − t)²/t.

    ``scipy.stats.power_divergence(..., lambda_="neyman")`` up to the factor n. Conjugate
    f*(s) = 2 − 2√(1 − s) for s ≤ 1.

    >>> import divergences as dv
    >>> round(float(dv.neyman([0.5, 0.5], [0.9, 0.1])), 6)
    0.64
    """

    name = "neyman"
    value_p_zero = INF
    value_q_zero = 1.0

    def f(self, t):
        return (1 - t) ** 2 / t

    def f_prime(self, t):
        return 1 - 1 / (t * t)

    def f_second(self, t):
        return 2 / (t * t * t)

    def conjugate(self, s):
        xp = namespace(s)
        inside = s <= 1
        return xp.where(inside, 2 - 2 * xp.sqrt(xp.where(inside, 1 - s, xp.zeros_like(s))), xp.full_like(s, INF))

    def _phi(self, a, b, xp):
        return _chi2_phi(b, a, xp)

    def _dphi(self, a, b, xp):
        db, da = _chi2_dphi(b, a, xp)
        return da, db

    def _naive(self, p, q, xp):
        d = p - q
        return d * d / p


class _TriangularForm(ClosedForm):
    """c·(t − 1)²/(t + 1): the triangular discrimination (c = 1) and Le Cam's divergence (c = ½)."""

    bounded_gradient = True  # (p − q)²/(p + q) ≤ p + q: nothing overflows
    scale = 1.0
    value_p_zero = 1.0
    value_q_zero = 1.0
    symmetric = True

    def f(self, t):
        return self.scale * (t - 1) ** 2 / (t + 1)

    def f_prime(self, t):
        return self.scale * (t - 1) * (t + 3) / (t + 1) ** 2

    def f_second(self, t):
        return self.scale * 8 / (t + 1) ** 3

    def conjugate(self, s):
        # triangular (c = 1): 4 − 4√(1 − s) − s on −3 ≤ s ≤ 1, −1 below; c·g has conjugate c·g*(s/c)
        xp = namespace(s)
        c = self.scale
        u = s / c
        inside = u <= 1
        root = xp.sqrt(xp.where(inside, 1 - u, xp.zeros_like(u)))
        value = xp.where(u < -3, -xp.ones_like(u), 4 - 4 * root - u)
        return xp.where(inside, c * value, xp.full_like(s, INF))

    def _parts(self, a, b, xp):
        p, q = xp.exp(a), xp.exp(b)
        s = p + q
        s_safe = xp.where(s > 0, s, xp.ones_like(s))
        return p, q, p - q, s_safe

    def _phi(self, a, b, xp):
        p, q, d, s = self._parts(a, b, xp)
        return self.scale * d * (d / s)  # d/s ∈ [−1, 1]: no (p − q)² that underflows before its division

    def _dphi(self, a, b, xp):
        p, q, d, s = self._parts(a, b, xp)
        r, c = d / s, self.scale  # ratios in [−1, 1] and [1, 3]: nothing underflows to 0/0
        return c * p * r * ((p + 3 * q) / s), -c * q * r * ((3 * p + q) / s)

    def _naive(self, p, q, xp):
        d = p - q
        return self.scale * d * d / (p + q)


@builtin("triangular")
class Triangular(_TriangularForm):
    r"""Triangular discrimination :math:`\sum_x (p - q)^2/(p + q)` ∈ [0, 2]; f(t) = (t − 1)²/(t + 1).

    SequenceMatch's χ²(P‖(P+Q)/2) is half of this value (= :func:`le_cam`). Conjugate
    f*(s) = 4 − 4√(1 − s) − s on −3 ≤ s ≤ 1, −1 below.

    >>> import divergences as dv
    >>> float(dv.triangular([1.0, 0.0], [0.0, 1.0]))
    2.0
    """

    name = "triangular"
    upper_bound = 2.0


@builtin("le_cam")
class LeCam(_TriangularForm):
    r"""Le Cam divergence :math:`\tfrac12 \sum_x (p - q)^2/(p + q)` ∈ [0, 1]; f(t) = (t − 1)²/(2(t + 1)).

    Half the triangular discrimination; equals SequenceMatch's χ²(P‖(P+Q)/2). The worked example of
    CONTRIBUTING.md: this class is the whole definition, served by every layer.

    >>> import divergences as dv
    >>> float(dv.le_cam([1.0, 0.0], [0.0, 1.0]))
    1.0
    """

    name = "le_cam"
    scale = 0.5
    value_p_zero = 0.5
    value_q_zero = 0.5
    upper_bound = 1.0
