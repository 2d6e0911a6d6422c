r"""Amari's α-divergence (Cichocki–Amari form)."""

from __future__ import annotations

from ..core.backend import namespace
from ..core.record import builtin
from ..core.terms import INF, ClosedForm
from ..core.validation import check_real
from .kl import KL, ReverseKL

__all__ = ["Alpha"]


@builtin("alpha")
class Alpha(ClosedForm):
    r"""Amari α-divergence :math:`D_\alpha = \frac{\sum_x p^\alpha q^{1-\alpha} - 1}{\alpha(\alpha-1)}`, any real α.

    f(t) = (t^α − αt − (1−α)) / (α(α−1)). α → 1 is KL(P‖Q) and α → 0 is KL(Q‖P), with continuous
    limits (evaluated with expm1) and exact values at the endpoints; α = ½ gives 4·H²
    (:func:`hellinger`); α = 2 gives ½·Pearson χ². Mappings: DPH-RL's α' = 1 − α; Cressie–Read's
    λ = α − 1 (their statistic is 2n·D_α: ``scipy.stats.power_divergence(lambda_=α−1)``). ``base``
    applies only at the endpoints. Conjugate f*(s) = ((1 + (α−1)s)^{α/(α−1)} − 1)/α where
    1 + (α−1)s > 0 (−1/α below for α > 1, +inf beyond for α < 1).

    >>> import divergences as dv
    >>> p, q = [0.5, 0.5], [0.9, 0.1]
    >>> abs(float(dv.alpha(p, q, alpha=1 - 1e-9)) - float(dv.kl(p, q))) < 1e-8
    True
    """

    name = "alpha"

    def __init__(self, alpha: float = 0.5) -> None:
        alpha = check_real(alpha, "alpha")
        self.alpha = alpha
        self._endpoint = KL() if alpha == 1.0 else ReverseKL() if alpha == 0.0 else None
        if self._endpoint is not None:
            self.value_p_zero = self._endpoint.value_p_zero
            self.value_q_zero = self._endpoint.value_q_zero
        else:
            self.value_p_zero = 1 / alpha if alpha > 0 else INF
            self.value_q_zero = 1 / (1 - alpha) if alpha < 1 else INF
        self.information_units = self._endpoint is not None
        self.symmetric = alpha == 0.5

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

    def conjugate(self, s):
        if self._endpoint is not None:
            return self._endpoint.conjugate(s)
        xp = namespace(s)
        al = self.alpha
        y = 1 + (al - 1) * s
        inside = y > 0
        value = (xp.where(inside, y, xp.ones_like(y)) ** (al / (al - 1)) - 1) / al
        outside = xp.full_like(s, -1 / al if al > 1 else INF)
        return xp.where(inside, value, outside)

    def _phi(self, a, b, xp):
        if self._endpoint is not None:
            return self._endpoint._phi(a, b, xp)
        al = self.alpha
        d = a - b
        if al >= 0.5:
            # [p (e^{(α−1)d} − 1)/(α−1) − (p − q)] / α
            return (self.scaled_em1(a, d, al - 1, xp) - (xp.exp(a) - xp.exp(b))) / al
        # [q (e^{αd} − 1)/α − (p − q)] / (α − 1)
        return (self.scaled_em1(b, d, al, xp) - (xp.exp(a) - xp.exp(b))) / (al - 1)

    @staticmethod
    def scaled_em1(base, d, delta, xp):
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
        return self.scaled_em1(a, d, al - 1, xp), -self.scaled_em1(b, d, al, xp)

    def _naive(self, p, q, xp):
        if self._endpoint is not None:
            return self._endpoint._naive(p, q, xp)
        al = self.alpha
        d = xp.log(p / q)
        if al >= 0.5:
            return (p * xp.expm1((al - 1) * d) / (al - 1) - (p - q)) / al
        return (q * xp.expm1(al * d) / al - (p - q)) / (al - 1)

