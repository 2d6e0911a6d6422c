r"""Metrics on binned counts, with standard errors, intervals, a test of "no change" and bands.

Every metric is a divergence of the registry, named (``"psi"``: the population stability index,
which is the Jeffreys divergence; ``"chi2"``: the Pearson χ² divergence χ²(current‖reference) =
Σ (c − r)²/r, a divergence, not the two-sample χ² statistic; ``"wasserstein"``, see below; ``"js"``,
``"hellinger"``, ``"kl"``, ..., and divergences a user registered with :func:`divergences.register`)
or given with its parameters as a value, ``dv.spec("js", beta=0.3)`` (:func:`resolve` is the one place
that reads what a metric is). Values come from :func:`divergences.divergence` with P = current,
Q = reference: ``"kl"`` is KL(current‖reference). What a metric is and shows is read from its
record, never from its name: its conventional drift threshold and bands (the record's ``drift``
fact: the PSI bands of Jeffreys, Evidently's thresholds of JS, KL and Hellinger), whether it
compares ordered categories (``inputs="ordered"``: placed at the bins, below) or raw vectors
(``inputs="vectors"``, cosine: refused, it compares no distributions).

Uncertainty (counts c ~ Multinomial(N, p) for the current, r ~ Multinomial(M, q) for the
reference, independent). The delta method gives

.. math:: \operatorname{Var} \hat D \approx \frac{1}{N}\Big[\sum_i p_i g_i^2 - \big(\sum_i p_i g_i\big)^2\Big]
          + \frac{1}{M}\Big[\sum_i q_i h_i^2 - \big(\sum_i q_i h_i\big)^2\Big]

with g = ∂D/∂p and h = ∂D/∂q. For an f-divergence D = Σ q f(p/q), r = p/q:
g_i = f'(r_i) and h_i = f(r_i) − r_i f'(r_i), read from the generator (for Jeffreys this is the
variance in REFERENCE.md). Other registered divergences are differentiated by central differences.
At p = q the gradient vanishes and the delta method degenerates; there the test uses the χ²
scaling: for f twice differentiable at 1, D̂ ≈ ½ f''(1) Σ (p̂ − q̂)²/q, so

.. math:: T = \frac{NM}{N+M}\,\frac{2\hat D}{f''(1)} \;\to\; \chi^2_{k-1} \quad\text{under "no change"}

(for PSI, f''(1) = 2 and T = NM/(N+M)·PSI). The plug-in value is biased upward: under no change its
mean is about ½ f''(1)(k − 1)(1/N + 1/M) (reported as ``null_mean``; (k−1)(1/N+1/M) for PSI).

Ordered comparisons (the record ``"wasserstein"``, W1 over ordered categories): the two binned
distributions placed at the reference's per-bin means and divided by the reference's standard
deviation (so the value is unit-free): W = Σ_i |F_P(i) − F_Q(i)| (x_{i+1} − x_i) / σ_ref. Numeric
columns only (NaN for categories). It has a delta-method standard error but no χ² test (p-value NaN).

Smoothing: bins empty in both samples are dropped (they carry no information). By default
(``smoothing="auto"``) values are the textbook plug-in values on the observed shares (PSI and IV =
Σ (p − q) ln(p/q)); only a column with a bin empty on one side gets a pseudo-count of 0.5 (the
Jeffreys / Krichevsky–Trofimov pseudo-count) added to every remaining bin of both samples, and the
comparison reports it per column. With ``smoothing=α`` every column gets α; with ``smoothing=0``
an empty bin on one side gives +inf for PSI and KL, honestly.
"""

from __future__ import annotations

import functools
import math
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

from ..core.conventions import PSI, DriftRule
from ..core.divergence import Divergence, spec
from ..core.record import available, get
from ..core.terms import Generator, Pointwise
from ..exact.generic import divergence as exact_divergence

__all__ = ["AUTO_PSEUDO_COUNT", "PERMUTATIONS", "PERMUTATION_BELOW", "Metric", "applied_smoothing", "evaluate",
           "frequencies", "iv_band", "needs_permutation", "permutation_p_value", "psi_band", "resolve",
           "second_derivative_at_one"]


def psi_band(value: float) -> str:
    """Conventional PSI band (the drift fact of the Jeffreys record): < 0.1 stable, 0.1–0.25
    moderate, ≥ 0.25 significant.

    :param value: a PSI value.
    :returns: the band's label, ``""`` for NaN.

    >>> psi_band(0.05), psi_band(0.1), psi_band(0.3)
    ('stable', 'moderate', 'significant')
    """
    return PSI.band(value)


def iv_band(value: float) -> str:
    """Conventional information-value band: < .02 useless, .02–.1 weak, .1–.3 medium, .3–.5 strong,
    > .5 suspicious (too good to be true: check for leakage).

    :param value: an information value.
    :returns: the band's label, ``""`` for NaN.

    >>> iv_band(0.01), iv_band(0.2), iv_band(0.7)
    ('useless', 'medium', 'suspicious')
    """
    if math.isnan(value):
        return ""
    for limit, band in ((0.02, "useless"), (0.1, "weak"), (0.3, "medium"), (0.5, "strong")):
        if value < limit:
            return band
    return "suspicious"


@dataclass(frozen=True)
class Metric:
    """A metric as the user names it (``name``: ``"psi"``) and the divergence it computes (``spec``,
    its parameters inside); ``band_rule``: bands of its own (the information value's), else the
    divergence's conventional drift bands."""

    name: str
    spec: Divergence
    band_rule: Callable[[float], str] | None = None

    @property
    def divergence(self) -> str:
        """The record's own name (``"jeffreys"`` for ``"psi"``)."""
        return self.spec.name

    @property
    def params(self) -> dict[str, Any]:
        return self.spec.params

    @property
    def ordered(self) -> bool:
        """A comparison of ordered categories (``inputs="ordered"``): placed at the bins' locations
        and divided by the reference's standard deviation, numeric columns only."""
        record = self.spec.record
        return record is not None and record.inputs == "ordered"

    @property
    def numeric_only(self) -> bool:
        return self.ordered

    @property
    def drift(self) -> DriftRule | None:
        """The divergence's conventional drift rule (threshold, bands), None where it has none."""
        return self.spec.attribute("drift")

    @property
    def has_bands(self) -> bool:
        drift = self.drift
        return self.band_rule is not None or (drift is not None and bool(drift.bands))

    def band(self, value: float) -> str:
        """The band of ``value`` (``""`` without bands)."""
        if self.band_rule is not None:
            return self.band_rule(value)
        drift = self.drift
        return drift.band(value) if drift is not None else ""


def resolve(metric: Any, params: Mapping[str, Any] | None = None) -> Metric:
    """The :class:`Metric` for ``metric``: a name (aliases are the registry's: ``"psi"`` → Jeffreys,
    ``"chi2"`` → Pearson), a ``(name, params)`` pair, a :func:`divergences.spec` value (or anything
    it accepts: a term object or class, a generator f(t)) or a Metric; ``params`` are the
    divergence's parameters for a name. This is the one place where the tabular layer reads what a
    metric is.

    :param metric: the metric as the user gives it.
    :param params: the divergence's parameters (with a name).
    :returns: the Metric (named as given; a value by its record's name).
    :raises ValueError: naming ``metrics`` for an unknown name, bad parameters, a comparison of raw
        vectors (``inputs="vectors"``: cosine) or a sum that is no divergence (cross-entropy).

    >>> resolve("psi").divergence, resolve("chi2").divergence
    ('jeffreys', 'pearson')
    >>> resolve(("alpha", {"alpha": 0.5})).params
    {'alpha': 0.5}
    >>> import divergences as dv
    >>> m = resolve(dv.spec("js", beta=0.3))
    >>> m.name, m.params
    ('js', {'beta': 0.3})
    """
    if isinstance(metric, Metric):
        return metric
    if isinstance(metric, tuple) and len(metric) == 2 and isinstance(metric[1], Mapping):
        metric, params = metric
    if isinstance(metric, str):
        try:
            get(metric)
        except ValueError:
            names = ", ".join([*available(), *available(inputs="ordered")])
            raise ValueError(f"metrics: unknown metric {metric!r}; use psi, chi2, wasserstein or a registered "
                             f"divergence ({names})") from None
    elif isinstance(metric, (tuple, list, Mapping, bytes)) or not (callable(metric) or isinstance(metric, Pointwise)):
        raise ValueError(f"metrics: each metric is a name, a (name, params) pair or dv.spec(...), got {metric!r}")
    try:
        value = spec(metric, **dict(params or {}))
        is_divergence = value.attribute("is_divergence")
    except (TypeError, ValueError) as exc:
        raise ValueError(f"metrics: bad parameters for {metric!r}: {exc}") from None
    name = metric if isinstance(metric, str) else value.name
    record = value.record
    if record is not None and record.inputs == "vectors":
        raise ValueError(f"metrics: {name!r} compares raw vectors (inputs='vectors'), not distributions: it is no "
                         "drift metric")
    if not is_divergence:  # read from the record: cross-entropy is a pointwise sum, not a divergence
        raise ValueError(f"metrics: {name!r} is not a divergence (it is not zero for equal distributions)")
    return Metric(name, value)


# ---------------------------------------------------------------------------------------------
# values and gradients
# ---------------------------------------------------------------------------------------------


def _gradient(metric: Metric, p: np.ndarray, q: np.ndarray, loc: np.ndarray | None, scale: float | None):
    """(∂D/∂p, ∂D/∂q) at (p, q); NaN where the derivative does not exist (an empty bin).

    Pointwise divergences (every f-divergence) read the partials of their term; the others are
    differentiated by central differences."""
    if metric.ordered:
        return _wasserstein_gradient(p, q, loc, scale)
    if metric.spec.pointwise:  # every f-divergence and any other pointwise term (Jensen–Tsallis): the term's partials
        term = metric.spec.term()
        if getattr(term, "has_closed_form_gradient", True):
            try:
                with np.errstate(all="ignore"):
                    gp, gq = term.partials(p, q)
            except NotImplementedError:  # a user generator without derivatives
                return _numeric_gradient(metric, p, q)
            inside = (p > 0) & (q > 0)
            return (np.where(inside, np.asarray(gp, dtype=np.float64), np.nan),
                    np.where(inside, np.asarray(gq, dtype=np.float64), np.nan))
    return _numeric_gradient(metric, p, q)


def _numeric_gradient(metric: Metric, p: np.ndarray, q: np.ndarray):
    def value(a, b):
        return float(exact_divergence(metric.spec, a, b, normalize=True))

    gp, gq = np.empty_like(p), np.empty_like(q)
    for x, g, first in ((p, gp, True), (q, gq, False)):
        for i in range(x.size):
            h = 1e-6 * max(x[i], 1e-3)
            up, down = x.copy(), x.copy()
            up[i] += h
            down[i] = max(down[i] - h, 0.0)
            with np.errstate(all="ignore"):
                hi = value(up, q) if first else value(p, up)
                lo = value(down, q) if first else value(p, down)
            g[i] = (hi - lo) / (up[i] - down[i])
    return gp, gq


def _wasserstein(p, q, loc, scale) -> float:
    if loc is None or not scale or not math.isfinite(scale) or scale <= 0:
        return math.nan
    gaps = np.diff(loc)
    return float(np.sum(np.abs(np.cumsum(p)[:-1] - np.cumsum(q)[:-1]) * gaps) / scale)


def _wasserstein_gradient(p, q, loc, scale):
    if loc is None or not scale or not math.isfinite(scale) or scale <= 0:
        nan = np.full_like(p, np.nan)
        return nan, nan
    s = np.sign(np.cumsum(p)[:-1] - np.cumsum(q)[:-1]) * np.diff(loc) / scale
    # ∂/∂p_j of Σ_{i ≥ j} s_i: a reversed cumulative sum (the last bin enters no CDF difference)
    g = np.append(np.cumsum(s[::-1])[::-1], 0.0)
    return g, -g


def _multinomial_variance(prob: np.ndarray, grad: np.ndarray, n: float) -> float:
    used = prob > 0
    if not np.all(np.isfinite(grad[used])):
        return math.nan
    g, w = grad[used], prob[used]
    mean = float(np.sum(w * g))
    return max(float(np.sum(w * (g - mean) ** 2)), 0.0) / n


def second_derivative_at_one(metric: Metric) -> float:
    """f''(1) of an f-divergence metric (the χ² scaling of its test), NaN for other metrics.

    :param metric: the metric.
    :returns: f''(1) when finite and positive, else NaN.
    """
    if metric.spec.kind != "f":
        return math.nan
    term = metric.spec.term()
    if not isinstance(term, Generator):  # pragma: no cover - an "f" record's term is a generator
        return math.nan
    with np.errstate(all="ignore"):
        v = float(term.f_second(np.asarray(1.0)))
    return v if math.isfinite(v) and v > 0 else math.nan


# ---------------------------------------------------------------------------------------------
# the one entry point
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Estimate:
    value: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    null_mean: float
    band: str


#: the pseudo-count of ``smoothing="auto"`` for a column with a bin empty on one side (Jeffreys / KT)
AUTO_PSEUDO_COUNT = 0.5


def applied_smoothing(current: np.ndarray, reference: np.ndarray, smoothing: float | str) -> float:
    """The pseudo-count that ``smoothing`` adds to this pair of count vectors: a number is itself;
    ``"auto"`` is 0 when no bin (among those not empty in both) is empty on one side, else
    :data:`AUTO_PSEUDO_COUNT`.

    >>> applied_smoothing(np.array([3, 0, 1]), np.array([2, 0, 2]), "auto")
    0.0
    >>> applied_smoothing(np.array([3, 1, 0]), np.array([2, 0, 2]), "auto")
    0.5
    """
    if smoothing != "auto":
        return float(smoothing)
    c, r = np.asarray(current), np.asarray(reference)
    kept = (c + r) > 0
    return AUTO_PSEUDO_COUNT if bool(np.any(c[kept] == 0) or np.any(r[kept] == 0)) else 0.0


def frequencies(current: np.ndarray, reference: np.ndarray, smoothing: float | str):
    """Frequencies (p, q) after dropping bins empty in both and adding ``smoothing`` to the others,
    and the mask of kept bins.

    >>> p, q, kept = frequencies(np.array([1, 0, 3]), np.array([2, 0, 2]), 0.0)
    >>> p.tolist(), q.tolist(), kept.tolist()
    ([0.25, 0.75], [0.5, 0.5], [True, False, True])
    """
    smoothing = applied_smoothing(current, reference, smoothing)
    c = np.asarray(current, dtype=np.float64)
    r = np.asarray(reference, dtype=np.float64)
    kept = (c + r) > 0
    c, r = c[kept] + smoothing, r[kept] + smoothing
    return c / c.sum(), r / r.sum(), kept


def evaluate(
    metric: Metric,
    current: np.ndarray,
    reference: np.ndarray,
    *,
    smoothing: float | str = "auto",
    confidence: float = 0.95,
    locations: np.ndarray | None = None,
    scale: float | None = None,
    null_smoothing: float | str | None = None,
) -> Estimate:
    """Value, delta-method standard error, interval, p-value of "no change", null mean and band
    of ``metric`` between the counts ``current`` (P, N draws) and ``reference`` (Q, M draws).

    The p-value is the χ² scaling's where it is accurate, and a permutation test of the counts
    where it is not (small samples, sparse bins; see :func:`permutation_p_value`), so that it is
    calibrated at every sample size. ``null_smoothing`` is the smoothing *rule* the permuted tables
    get (``"auto"`` or a number; default: ``smoothing``). The band is the conventional band of the
    value when the change is significant (p < 1 − ``confidence``), else the band of no change
    (``stable``): a band never calls "significant" what the test cannot tell from noise.

    >>> e = evaluate(resolve("psi"), np.array([2600, 2400]), np.array([2500, 2500]), smoothing=0.0)
    >>> round(e.value, 6), round(e.p_value, 4)  # nm/(n+m) = 2500: the χ² scaling, T = 2500·PSI ~ χ²(1)
    (0.001601, 0.0454)
    >>> small = evaluate(resolve("psi"), np.array([60, 40]), np.array([50, 50]), smoothing=0.0)
    >>> round(small.value, 6), round(small.p_value, 4)  # 50 < 2500: a permutation p-value (χ² scaling: 0.1545)
    (0.040547, 0.1959)
    """
    from scipy.special import chdtrc  # χ² survival function (scipy.stats costs seconds to import)

    n, m = float(np.sum(current)), float(np.sum(reference))
    p, q, kept = frequencies(current, reference, smoothing)
    k = int(kept.sum())
    loc = None if locations is None else np.asarray(locations, dtype=np.float64)[kept]
    if metric.ordered:
        value = _wasserstein(p, q, loc, scale)
    else:
        value = float(exact_divergence(metric.spec, p, q))
    band = metric.band(value)
    if math.isnan(value):
        return Estimate(value, math.nan, math.nan, math.nan, math.nan, math.nan, band)
    if math.isinf(value):
        return Estimate(value, math.inf, value, value, 0.0, math.nan, band)
    gp, gq = _gradient(metric, p, q, loc, scale)
    se = math.sqrt(_multinomial_variance(p, gp, n) + _multinomial_variance(q, gq, m))
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    lo, hi = max(value - z * se, 0.0), value + z * se
    f2 = second_derivative_at_one(metric)
    null_mean = 0.5 * f2 * (k - 1) * (1 / n + 1 / m)
    if math.isnan(f2):
        p_value = math.nan
    elif k <= 1:
        p_value = 1.0
    else:
        t = n * m / (n + m) * 2 * value / f2
        p_value = float(chdtrc(k - 1, t))
        if needs_permutation(np.asarray(current)[kept], np.asarray(reference)[kept]):
            rule = smoothing if null_smoothing is None else null_smoothing
            p_value = permutation_p_value(metric, current, reference, rule, value, p_value)
    if metric.has_bands and not (p_value < 1 - confidence or math.isnan(p_value)):
        band = metric.band(0.0)  # not distinguishable from no change
    return Estimate(value, se, lo, hi, p_value, null_mean, band)


@functools.lru_cache(maxsize=32)
def _splits(key: bytes, permutations: int) -> tuple[np.ndarray, np.ndarray]:
    """Random splits of the pooled counts (current, reference), seeded by the counts (``key``: the
    current then the reference counts as int64 bytes); cached, so every metric of a column shares them."""
    both = np.frombuffer(key, dtype=np.int64)
    c, r = both[: both.size // 2], both[both.size // 2:]
    pooled = c + r
    rng = np.random.default_rng(zlib.crc32(key))
    draws = rng.multivariate_hypergeometric(pooled, int(c.sum()), size=permutations).astype(np.float64)
    draws.flags.writeable = False
    others = pooled - draws
    others.flags.writeable = False
    return draws, others


#: permutations of a permutation p-value (its Monte-Carlo standard error at p = 0.05 is 0.005)
PERMUTATIONS = 2000
#: the χ² scaling is used alone when nm/(n+m) is at least this and every expected count is at least 5
PERMUTATION_BELOW = 2500
#: permutations are skipped (χ² scaling only) beyond this many bins × permutations (work bound)
PERMUTATION_WORK = 4 * 10**7


def needs_permutation(current: np.ndarray, reference: np.ndarray) -> bool:
    """Whether the χ² scaling of the p-value is not trusted for these counts (bins empty in both
    tables already dropped): nm/(n+m) < :data:`PERMUTATION_BELOW`, or an expected count below 5 under
    pooling, within the work bound :data:`PERMUTATION_WORK`."""
    c, r = np.asarray(current, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    n, m = c.sum(), r.sum()
    if c.size < 2 or n <= 0 or m <= 0 or c.size * PERMUTATIONS > PERMUTATION_WORK:
        return False
    pooled = (c + r) / (n + m)
    return bool(n * m / (n + m) < PERMUTATION_BELOW or pooled.min() * min(n, m) < 5)


def permutation_p_value(metric: Metric, current, reference, smoothing: float | str, observed: float,
                        asymptotic: float = math.nan, permutations: int = PERMUTATIONS) -> float:
    r"""p-value of "no change" by permutation: the rows of both tables pooled and split again at
    random (the current table's counts drawn from the multivariate hypergeometric law of the pooled
    counts, the reference's the rest), the metric recomputed on each split with the same smoothing
    rule, p = (1 + #{splits with a value ≥ the observed}) / (1 + permutations). Exact in level (up to
    Monte-Carlo error, 0.005 at p = 0.05 with 2000 splits) at any sample size. The draws are seeded
    by the counts: the same tables give the same p-value. Where no split reaches the observed value,
    the p-value is min(``asymptotic``, 1/(1 + permutations)): the permutations bound it, the χ²
    scaling gives its order of magnitude.

    >>> p = permutation_p_value(resolve("psi"), np.array([30, 10]), np.array([10, 30]), "auto", 0.8)
    >>> p < 0.01
    True
    """
    c = np.asarray(current, dtype=np.int64)
    r = np.asarray(reference, dtype=np.int64)
    kept = (c + r) > 0
    c, r = c[kept], r[kept]
    draws, others = _splits(np.ascontiguousarray(np.concatenate([c, r])).tobytes(), permutations)
    if smoothing == "auto":
        empty = np.any(draws == 0, axis=1) | np.any(others == 0, axis=1)
        a = np.where(empty, AUTO_PSEUDO_COUNT, 0.0)[:, None]
    else:
        a = float(smoothing)
    p = (draws + a) / (draws + a).sum(axis=1, keepdims=True)
    q = (others + a) / (others + a).sum(axis=1, keepdims=True)
    with np.errstate(all="ignore"):
        values = np.asarray(exact_divergence(metric.spec, p, q, axis=-1), dtype=np.float64)
    exceed = int(np.sum(values >= observed - 1e-12 * max(abs(observed), 1e-300)))
    if exceed == 0:
        bound = 1.0 / (permutations + 1)
        return float(min(asymptotic, bound)) if not math.isnan(asymptotic) else bound
    return (1.0 + exceed) / (permutations + 1.0)
