r"""Comparisons of other objects than distributions over unordered categories, served by the same
layers: the Wasserstein-1 distance between distributions over *ordered* categories (through their
CDFs) and the cosine distance between raw vectors (logits, hidden states).

Their records say what their arguments are (``inputs="ordered"``, ``inputs="vectors"``), and the
layers read that: the token losses refuse an ordered comparison (a vocabulary has no order) and run
the cosine one on logits; the tabular metrics place the ordered one at the bins' locations and refuse
the vector one. ``dv.available()`` lists the divergences between distributions; these two are listed
by ``dv.available(inputs="ordered")`` and ``dv.available(inputs="vectors")``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.record import builtin_sums
from ..core.reduce import LocalReduce

__all__ = ["cosine_rows", "wasserstein_rows"]


def _refuse_sharding(reduce: Any, what: str) -> None:
    if reduce is not None and not isinstance(reduce, LocalReduce):
        raise ValueError(f"{what} has no form over a vocabulary sharded across processes")


def _wasserstein_numpy(p: np.ndarray, q: np.ndarray):
    cdf = np.cumsum(p - q, axis=-1)
    return np.abs(cdf[:, :-1]).sum(axis=-1), None


@builtin_sums(
    "wasserstein",
    symmetric=True,
    inputs="ordered",
    numpy_rows=_wasserstein_numpy,
    information_units=False,
    description="Wasserstein-1 distance between distributions over ordered categories",
    doc=r"""Wasserstein-1 (earth mover's) distance between distributions over ordered categories 0, 1, …, K−1.

    :math:`W_1 = \sum_{k=0}^{K-2} \lvert F_P(k) - F_Q(k) \rvert` with the CDFs :math:`F_P(k) = \sum_{i \le k} p_i`: the
    least mass × distance needed to move P onto Q when neighbouring categories are one unit apart. As
    ``scipy.stats.wasserstein_distance(np.arange(K), np.arange(K), p, q)``; the categories' order is the
    order along ``axis`` (unlike every other divergence, permuting the categories changes the value).
    Symmetric, 0 iff P = Q, at most K − 1. The token losses refuse it (a vocabulary has no order); the
    tabular metric ``"wasserstein"`` places the bins at their reference means and divides by the
    reference's standard deviation (:mod:`divergences.tabular.metrics`).

    >>> import divergences as dv
    >>> float(dv.wasserstein([1.0, 0.0, 0.0], [0.0, 0.0, 1.0]))
    2.0
    """,
)
def wasserstein_rows(a: Any, b: Any, xp: Any, axis: int, *, reduce: Any = None) -> Any:
    """W1 of each slice of log-probabilities ``a``, ``b`` along ``axis`` (unit-spaced categories)."""
    _refuse_sharding(reduce, "the Wasserstein distance (a cumulative sum)")
    cdf = xp.cumulative_sum(xp.exp(a) - xp.exp(b), axis=axis)
    return xp.sum(xp.abs(cdf), axis=axis) - xp.abs(xp.sum(xp.exp(a) - xp.exp(b), axis=axis))


@builtin_sums(
    "cosine",
    symmetric=True,
    upper_bound=2.0,
    inputs="vectors",
    information_units=False,
    description="cosine distance 1 − cos between raw vectors",
    doc=r"""Cosine distance between raw vectors (logits, hidden states, embeddings): :math:`1 - \frac{x \cdot y}{\lVert x\rVert\,\lVert y\rVert}` ∈ [0, 2].

    As ``scipy.spatial.distance.cosine(x, y)`` and ``1 − torch.nn.functional.cosine_similarity``. The
    arguments are vectors, not distributions: no normalisation, ``from_logits`` and ``normalize`` are
    refused, and any finite values are accepted. Scale-invariant and computed so (each vector divided by
    its largest magnitude first), so vectors of 1e-200 or 1e200 give the same value as of 1; it is
    formed as ½‖x̂ − ŷ‖² of the unit vectors, so parallel vectors give 0 up to ~1e-32 (equal ones
    exactly 0); an all-zero vector has cosine 0 (distance 1, also from itself), as in torch. In the token
    losses, ``divergence_loss(student, teacher, "cosine")`` is Liger's cosine-similarity distillation
    term, with a closed-form gradient.

    >>> import divergences as dv
    >>> float(dv.cosine([1.0, 0.0], [0.0, 2.0])), float(dv.cosine([1.0, 1.0], [3.0, 3.0]))
    (1.0, 0.0)
    """,
)
def cosine_rows(x: Any, y: Any, xp: Any, axis: int, *, reduce: Any = None) -> Any:
    """1 − cos(x, y) of each slice of raw vectors along ``axis`` (reductions by ``reduce``)."""
    red = reduce if reduce is not None else LocalReduce(xp, axis)

    def unit_scale(v: Any) -> Any:
        top = xp.max(xp.abs(v), axis=axis, keepdims=True)
        if reduce is not None and not isinstance(reduce, LocalReduce):
            top = xp.expand_dims(red.max(xp.squeeze(top, axis=axis)), axis=axis)
        return v / xp.where(top > 0, top, xp.ones_like(top))

    xs, ys = unit_scale(x), unit_scale(y)
    dot, xx, yy = red.sum(xs * ys), red.sum(xs * xs), red.sum(ys * ys)
    nx, ny = xp.sqrt(xx), xp.sqrt(yy)
    both = (nx > 0) & (ny > 0)
    nxs = xp.expand_dims(xp.where(nx > 0, nx, xp.ones_like(nx)), axis=axis)
    nys = xp.expand_dims(xp.where(ny > 0, ny, xp.ones_like(ny)), axis=axis)
    half_sq = 0.5 * red.sum((xs / nxs - ys / nys) ** 2)  # exactly 0 for equal directions
    return xp.where(both, xp.clip(half_sq, 0.0, 2.0), xp.ones_like(dot))

