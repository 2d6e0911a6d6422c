r"""Cross-entropy: a pointwise sum that is not a divergence (it serves :func:`divergences.entropy`)."""

from __future__ import annotations

import numpy as np

from ..core.record import builtin
from ..core.terms import INF, Pointwise

__all__ = ["CrossEntropy"]


@builtin("cross_entropy", description="cross-entropy H(P, Q) = −Σ p log q")
class CrossEntropy(Pointwise):
    r"""Cross-entropy :math:`H(P, Q) = -\sum_x p(x) \log q(x) = H(P) + KL(P\|Q)`.

    Not a divergence: H(P, P) = H(P). torchtune's "forward KL" distillation loss is this quantity (it
    differs from KL by H(P)); ``scipy.stats.entropy(p) + scipy.stats.entropy(p, q)``.

    >>> import divergences as dv
    >>> round(float(dv.cross_entropy([0.5, 0.5], [0.5, 0.5])), 6)
    0.693147
    """

    name = "cross_entropy"
    bounded_gradient = True  # polynomial in the log-probabilities: nothing overflows
    degree = None  # −p log q is not homogeneous: the boundary is given below
    value_p_zero = 0.0
    value_q_zero = INF
    information_units = True
    is_divergence = False

    def _phi_p_zero(self, b, xp):  # 0·log q = 0
        return xp.zeros_like(b)

    def _phi_q_zero(self, a, xp):  # p > 0 where q = 0: +inf
        return xp.full_like(a, INF)

    def _dphi_p_zero(self, b, xp):
        return xp.zeros_like(b)

    def _dphi_q_zero(self, a, xp):
        return xp.zeros_like(a)

    def _phi(self, a, b, xp):
        return -xp.exp(a) * b

    def _dphi(self, a, b, xp):
        p = xp.exp(a)
        return -p * b, -p

    def _naive(self, p, q, xp):
        return -p * xp.log(q)

    def numpy_rows(self, p, q, sp, sq):
        return -np.vecdot(p, np.log(q)), None
