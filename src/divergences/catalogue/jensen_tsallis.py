r"""Jensen–Tsallis divergence of order q: a pointwise term of degree q (not an f-divergence)."""

from __future__ import annotations

import math

import numpy as np

from ..core.backend import logaddexp
from ..core.near_equal import SMALL, quadrature_remainder
from ..core.record import builtin
from ..core.terms import Pointwise
from ..core.validation import check_real

__all__ = ["JensenTsallis"]


@builtin("jensen_tsallis")
class JensenTsallis(Pointwise):
    r"""Jensen–Tsallis divergence of order q > 0, q ≠ 1 (``order``): the Tsallis-entropy gap at the midpoint.

    :math:`JT_q(P, Q) = S_q\big(\tfrac{P+Q}{2}\big) - \tfrac12\big(S_q(P) + S_q(Q)\big)` with the Tsallis entropy
    :math:`S_q(P) = (1 - \sum_x p^q)/(q - 1)`, i.e. the pointwise sum
    :math:`\sum_x \big[\tfrac12(p^q + q_x^q) - (\tfrac{p + q_x}{2})^q\big]/(q - 1)`. Symmetric, ≥ 0 (S_q is concave
    for every q > 0), 0 iff P = Q, at most 2(½ − 2^{−q})/(q − 1) for q > 1; q → 1 is the Jensen–Shannon
    divergence. The term is homogeneous of degree q, not 1, so it is not an f-divergence; its value
    where p or q is 0 is q^q·(½ − 2^{−q})/(q − 1) by homogeneity (order 2: Σ(p − q)²/4). The worked
    example of CONTRIBUTING.md for a term of another degree.

    >>> import divergences as dv
    >>> round(float(dv.jensen_tsallis([0.5, 0.5], [0.9, 0.1], order=2.0)), 6)  # Σ(p − q)²/4
    0.08
    """

    name = "jensen_tsallis"
    symmetric = True

    def __init__(self, order: float = 2.0) -> None:
        q = check_real(order, "order", low=0.0, low_open=True)
        if q == 1.0:
            raise ValueError("order must differ from 1 (order → 1 is the Jensen–Shannon divergence: use 'js')")
        self.order = q
        self.degree = q
        edge = (0.5 - 2.0**-q) / (q - 1)
        self.value_p_zero = self.value_q_zero = edge
        self.upper_bound = 2 * edge if q > 1 else None

    @property
    def params(self):
        return {"order": self.order}

    def _phi(self, a, b, xp):
        q = self.order
        log_m = logaddexp(a, b, xp) - math.log(2)
        return (0.5 * (xp.exp(q * a) + xp.exp(q * b)) - xp.exp(q * log_m)) / (q - 1)

    def _dphi(self, a, b, xp):
        q = self.order
        log_m = logaddexp(a, b, xp) - math.log(2)
        mq1 = xp.exp((q - 1) * log_m)  # m^{q−1}
        p, r = xp.exp(a), xp.exp(b)
        # ∂/∂a = p ∂/∂p: p(q/2)(p^{q−1} − m^{q−1})/(q − 1); likewise for b
        c = q / (2 * (q - 1))
        return c * p * (xp.exp((q - 1) * a) - mq1), c * r * (xp.exp((q - 1) * b) - mq1)

    def near_equal_rows(self, p: np.ndarray, r: np.ndarray) -> np.ndarray:
        """Near-equal rows: with m = (p + r)/2 and h = (p − r)/(p + r) each term is
        m^q·(q/2)h²∫₀¹(1 − u)[(1 + uh)^{q−2} + (1 − uh)^{q−2}]du (the even part of the remainder of
        x^q at 1, integrated by quadrature for |h| ≤ ¼): no difference of nearly equal powers."""
        q = self.order
        p, r = p.astype(np.result_type(p, np.float64)), r.astype(np.result_type(r, np.float64))
        m = 0.5 * (p + r)
        with np.errstate(all="ignore"):
            h = np.where(m > 0, (p - r) / np.where(m > 0, p + r, 1.0), 0.0)
            small = np.abs(h) <= SMALL
            out = np.zeros_like(p)
            hs = h[small]
            even = quadrature_remainder(hs, lambda t: t ** (q - 2)) + quadrature_remainder(-hs, lambda t: t ** (q - 2))
            out[small] = m[small] ** q * 0.5 * q * even
            out[~small] = self.term(p[~small], r[~small])
        return out.sum(axis=-1)

    def _naive(self, p, r, xp):
        q = self.order
        return (0.5 * (p**q + r**q) - (0.5 * (p + r)) ** q) / (q - 1)

