r"""Rényi divergences of every order α ≥ 0 and the Bhattacharyya distance: functions of one sum."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..core.near_equal import exact_sum, f_divergence_rows, ratio_excess
from ..core.record import builtin_sums
from ..core.reduce import LocalReduce
from ..core.terms import Pointwise
from ..core.validation import check_real
from .alpha import Alpha
from .hellinger_tv import Hellinger

__all__ = ["bhattacharyya_rows", "renyi_rows"]


class _RenyiSum(Pointwise):
    """Pointwise p^α q^{1−α} − p (summed: Σ p^α q^{1−α} − 1), exact near α = 1 via expm1."""

    name = "renyi_sum"
    value_p_zero = 0.0

    def __init__(self, alpha: float) -> None:
        self.alpha = alpha
        self.value_q_zero = -1.0 if alpha < 1 else math.inf

    def _phi(self, a, b, xp):
        return Alpha.scaled_em1(a, a - b, self.alpha - 1, xp) * (self.alpha - 1)


def _check_alpha(params: dict[str, Any]) -> dict[str, Any]:
    alpha = check_real(params.get("alpha", 0.5), "alpha", low=0.0, finite=False)
    return {"alpha": alpha}


def _renyi_log_terms(a, b, xp, alpha):
    """α log p + (1−α) log q, with the support conventions (p = 0: −inf; q = 0 < p: ±inf)."""
    pz, qz = a == -math.inf, b == -math.inf
    zero = xp.zeros_like(a)
    x = alpha * xp.where(pz, zero, a) + (1 - alpha) * xp.where(qz, zero, b)
    x = xp.where(qz, xp.full_like(a, math.inf if alpha > 1 else -math.inf), x)
    return xp.where(pz, xp.full_like(a, -math.inf), x)


def _renyi_numpy(p: np.ndarray, q: np.ndarray, alpha: float):
    """log(Σ p^α q^{1−α})/(α−1) from probabilities (KL's kernel at α = 1); NaN rows (recomputed
    exactly by the runner) at α ∈ {0, ∞}, where the value is a support mass or a maximum."""
    if math.isinf(alpha) or alpha == 0.0:
        return np.full(p.shape[0], np.nan), None
    if alpha == 1.0:
        from .kl import KL

        return KL().numpy_rows(p, q, None, None)
    delta = alpha - 1
    d = np.divide(p, q)
    np.log(d, out=d)
    d *= delta
    if abs(delta) <= 0.5:
        s = np.vecdot(p, np.expm1(d))  # Σ p^α q^{1−α} − Σ p, exact near α = 1
        with np.errstate(all="ignore"):
            return np.where(s > -0.5, np.log1p(s) / delta, np.nan), None
    np.exp(d, out=d)
    return np.log(np.vecdot(p, d)) / delta, None


def _renyi_near_equal(p: np.ndarray, q: np.ndarray, alpha: float) -> np.ndarray:
    """Rényi for near-equal rows without cancellation: with Σ q(1+d)^α = Σq + αΣ(p − q) + α(α−1)·A_α
    (A_α Amari's α-divergence, summed by its remainder form), D = log1p(Σq − 1 + αΣ(p − q) + α(α−1)A_α)/(α−1);
    the two linear sums exactly (``math.fsum``)."""
    p, q = p.astype(np.result_type(p, np.float64)), q.astype(np.result_type(q, np.float64))
    with np.errstate(all="ignore"):
        if alpha == 1.0:
            from .kl import KL

            return f_divergence_rows(KL(), p, q)
        if math.isinf(alpha):
            d, both = ratio_excess(p, q)
            top = np.log1p(np.where(both, d, -np.inf).max(axis=-1))
            return np.where(((p > 0) & (q == 0)).any(axis=-1), np.inf, top)
        if alpha == 0.0:
            return -np.log1p(exact_sum(np.where(p > 0, q, 0.0), constant=-1.0))
        amari = f_divergence_rows(Alpha(alpha), p, q)
        s = exact_sum(q, constant=-1.0) + alpha * exact_sum(p, -q) + alpha * (alpha - 1) * amari
        return np.log1p(s) / (alpha - 1)


@builtin_sums(
    "renyi",
    symmetric=lambda alpha: alpha == 0.5,  # D_½ = −2 log Σ√(pq)
    defaults={"alpha": 0.5},
    prepare=_check_alpha,
    numpy_rows=_renyi_numpy,
    numpy_near_equal=_renyi_near_equal,
    description="Rényi divergence of order alpha",
    doc=r"""Rényi divergence of order α ≥ 0: :math:`D_\alpha = \frac{1}{\alpha-1}\log\sum_x p^\alpha q^{1-\alpha}`.

    Every α ≥ 0, with the limits as values: α = 0 is −log Q(supp P); α = 1 is KL(P‖Q); α = ∞
    (``alpha=float("inf")``) is log max_x p(x)/q(x). Non-decreasing in α; continuous at α = 1
    (the sum is formed as log1p(Σ p·expm1((α−1) log(p/q))) / (α−1)). D_½ = 2·Bhattacharyya. No
    anchor library implements the whole family (``scipy`` has none).

    >>> import divergences as dv
    >>> p, q = [0.5, 0.5], [0.9, 0.1]
    >>> abs(float(dv.renyi(p, q, alpha=1.0)) - float(dv.kl(p, q))) < 1e-15
    True
    """,
)
def renyi_rows(a: Any, b: Any, xp: Any, axis: int, alpha: float = 0.5, *, reduce: Any = None) -> Any:
    """The Rényi divergence of each slice of log-probabilities ``a``, ``b`` along ``axis`` (reductions by
    ``reduce``, a :class:`~divergences.core.reduce.LocalReduce` by default)."""
    red = reduce if reduce is not None else LocalReduce(xp, axis)
    al = alpha
    if al == 1.0:
        from .kl import KL

        return red.sum(KL().phi(a, b))
    if math.isinf(al):
        pz = a == -math.inf
        ratio = xp.where(pz, xp.full_like(a, -math.inf), a - xp.where(pz, xp.zeros_like(b), b))
        ratio = xp.where(pz, ratio, xp.where(b == -math.inf, xp.full_like(a, math.inf), ratio))
        return red.max(ratio)
    value = red.logsumexp(_renyi_log_terms(a, b, xp, al)) / (al - 1)
    if abs(al - 1) <= 0.5:
        # near α = 1: log1p(Σ p·expm1(δd))/δ keeps the limit exact, where Σ p^α q^{1−α} = 1 + s is not
        # small (there 1 + s cancels and the log-sum-exp form is the accurate one)
        s = red.sum(_RenyiSum(al).phi(a, b))
        near = xp.log1p(xp.clip(s, -0.5, None)) / (al - 1)
        value = xp.where(xp.isfinite(near) & (s > -0.5), near, value)
    return value


def _half_log_terms(a, b, xp):
    pz, qz = a == -math.inf, b == -math.inf
    zero = xp.zeros_like(a)
    return xp.where(pz | qz, xp.full_like(a, -math.inf), 0.5 * (xp.where(pz, zero, a) + xp.where(qz, zero, b)))


def _bhattacharyya_numpy(p: np.ndarray, q: np.ndarray):
    """−log Σ√(pq) from probabilities: −log1p(−H²) where H² < ½ (precision for close rows)."""
    sp, sq = np.sqrt(p), np.sqrt(q)
    bc = np.vecdot(sp, sq)
    np.subtract(sp, sq, out=sp)
    h2 = 0.5 * np.vecdot(sp, sp)
    out = -np.log1p(-np.minimum(h2, 0.5))
    far = h2 >= 0.5
    out[far] = -np.log(bc[far])
    return out, None


def _bhattacharyya_near_equal(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """−log Σ√(pq) = −log1p(½(Σp − 1) + ½(Σq − 1) − H²) with H² = ½Σ(p − q)²/(√p + √q)² (no
    difference of square roots) and the linear sums exact."""
    p, q = p.astype(np.result_type(p, np.float64)), q.astype(np.result_type(q, np.float64))
    root = np.sqrt(p) + np.sqrt(q)
    with np.errstate(all="ignore"):
        h2 = 0.5 * np.where(root > 0, (p - q) ** 2 / np.where(root > 0, root, 1.0) ** 2, 0.0).sum(axis=-1)
        return -np.log1p(0.5 * exact_sum(p, q, constant=-2.0) - h2)


@builtin_sums(
    "bhattacharyya",
    symmetric=True,
    numpy_rows=_bhattacharyya_numpy,
    numpy_near_equal=_bhattacharyya_near_equal,
    description="Bhattacharyya distance −log Σ√(pq)",
    doc=r"""Bhattacharyya distance :math:`D_B = -\log \sum_x \sqrt{p(x) q(x)}` (= −log(1 − H²)).

    Computed as −log1p(−H²) from the squared Hellinger distance where H² < ½, so that close
    distributions keep full relative precision, and as −logsumexp(½(log p + log q)) elsewhere, so that
    nearly disjoint ones do not round to +inf. +inf for disjoint supports. Bounds:
    1 − BC ≤ TV ≤ √(2(1 − BC)). Equals ½·Rényi of order ½.

    >>> import divergences as dv
    >>> float(dv.bhattacharyya([0.5, 0.5], [0.5, 0.5]))
    0.0
    """,
)
def bhattacharyya_rows(a: Any, b: Any, xp: Any, axis: int, *, reduce: Any = None) -> Any:
    """The Bhattacharyya distance of each slice of log-probabilities along ``axis``."""
    red = reduce if reduce is not None else LocalReduce(xp, axis)
    h2 = red.sum(Hellinger().phi(a, b))
    # close distributions: −log1p(−H²) keeps relative precision; far ones: −log BC by log-sum-exp
    return xp.where(h2 < 0.5, -xp.log1p(-xp.clip(h2, 0.0, 0.5)), -red.logsumexp(_half_log_terms(a, b, xp)))
