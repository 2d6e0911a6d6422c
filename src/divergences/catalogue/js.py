r"""The (generalised) Jensen–Shannon divergence and its square root."""

from __future__ import annotations

import math

import numpy as np

from ..core.backend import logaddexp, namespace
from ..core.conventions import DriftRule
from ..core.record import builtin
from ..core.terms import INF, check_unit, log_or_neg_inf
from .kl import LogRatioForm

__all__ = ["JensenShannon"]


@builtin("js", distance="js_distance")
class JensenShannon(LogRatioForm):
    r"""(Generalised) Jensen–Shannon divergence with weight ``beta`` = β ∈ [0, 1].

    :math:`JS_\beta = \beta\,KL(P\|M) + (1-\beta)\,KL(Q\|M)` with :math:`M = \beta P + (1-\beta) Q`
    (GKD, TRL and Liger convention with P = teacher, Q = student); f(t) = β t log t − (βt+1−β)
    log(βt+1−β). β = ½ is the usual JS, 0 ≤ JS ≤ log 2; its square root is :func:`js_distance` (what
    ``scipy.spatial.distance.jensenshannon`` returns, without SciPy's NaN for float32 or subnormal
    input). The formula tends to 0 at β ∈ {0, 1}, where it is exactly 0 (TRL and Liger instead
    substitute KL(P‖Q) at β = 0 and KL(Q‖P) at β = 1; use :func:`kl` / :func:`reverse_kl` for
    those). log M is formed with logaddexp, so log-probabilities far below −100 do not underflow to
    NaN (Liger's interior-β JSD does). Conjugate f*(s) = −(1−β) log((1 − β e^{s/β})/(1−β)) for
    s < −β log β.

    >>> import divergences as dv
    >>> round(float(dv.js([1.0, 0.0], [0.0, 1.0])), 12) == round(__import__("math").log(2), 12)
    True
    >>> float(dv.js_distance([1.0, 0.0], [0.0, 1.0], base=2))
    1.0
    """

    name = "js"
    drift = DriftRule(0.01, source="Evidently's Jensen–Shannon distance threshold 0.1 (natural log), squared")
    value_q_zero = 0.0

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = check_unit(beta, "beta")
        b = self.beta
        self._lb, self._l1b = log_or_neg_inf(b), log_or_neg_inf(1 - b)
        self.value_p_zero = -(1 - b) * self._l1b if b < 1 else 0.0
        self.value_q_zero = -b * self._lb if b > 0 else 0.0
        self.symmetric = b == 0.5
        self.upper_bound = self.value_p_zero + self.value_q_zero  # the entropy of (β, 1−β)

    def degenerate_hint(self) -> str:
        """At β = 0 or 1 the mixture is one of the two distributions and the formula is 0 everywhere; TRL and
        Liger read those ends as a KL, which is its own record."""
        if self.beta not in (0.0, 1.0):
            return ""
        kl = "'kl' (forward KL(teacher‖student))" if self.beta == 0.0 else "'reverse_kl' (KL(student‖teacher))"
        side = "student" if self.beta == 0.0 else "teacher"
        return (f"With beta={self.beta:g} the mixture M = β·teacher + (1−β)·student is the {side}, so the generalised "
                f"JSD is 0 everywhere. TRL's generalized_jsd_loss reads beta={self.beta:g} as the KL itself: use "
                f"divergence={kl}.")

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

    def conjugate(self, s):
        xp = namespace(s)
        b = self.beta
        if b in (0.0, 1.0):  # f ≡ 0
            return xp.where(s == 0, xp.zeros_like(s), xp.full_like(s, INF))
        inside = s < -b * math.log(b)
        e = xp.exp(xp.where(inside, s, xp.zeros_like(s)) / b)
        arg = xp.where(inside, (1 - b * e) / (1 - b), xp.ones_like(s))
        return xp.where(inside, -(1 - b) * xp.log(arg), xp.full_like(s, INF))

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

    def _naive(self, p, q, xp):
        m = self.beta * p + (1 - self.beta) * q
        return self.beta * p * xp.log(p / m) + (1 - self.beta) * q * xp.log(q / m)

    def numpy_rows(self, p, q, sp, sq):
        beta = self.beta
        if not 0.0 < beta < 1.0:
            return self._naive(p, q, np).sum(axis=-1), None
        # u = βp/M and v = (1−β)q/M = 1 − u with M = βp + (1−β)q:
        # JS = β Σ p log(u/β) + (1−β) Σ q log(v/(1−β)). Forming v as 1 − u loses relative precision
        # only where q ≪ p, and there the error of q·log v is O(eps·M): the sum stays accurate to
        # O(eps). Where 1 − u rounds to 0 the row is −inf and is recomputed exactly by the caller.
        c = (1 - beta) / beta
        m = p + q if c == 1.0 else p + c * q
        u = np.divide(p, m)
        np.subtract(1.0, u, out=m)
        np.log(u, out=u)
        np.log(m, out=m)
        val = beta * np.vecdot(p, u) + (1 - beta) * np.vecdot(q, m)
        return val - beta * math.log(beta) * sp - (1 - beta) * math.log(1 - beta) * sq, None
