"""Bootstrap interval methods: BCa against SciPy on the same replicates, the delete-a-group jackknife,
the bias-corrected methods, and coverage of a plug-in divergence (reduced version of the docs' table)."""

from __future__ import annotations

import types

import numpy as np
import pytest
from scipy import stats

import divergences as dv
from divergences.samples import bootstrap
from divergences.samples.resampling import BOOTSTRAP_METHODS


def _log_ratio(a, b, axis=-1):
    return np.log(b.mean(axis=axis)) - np.log(a.mean(axis=axis))


def _scipy_interval(x, y, res, statistic=_log_ratio):
    """SciPy's BCa interval on our replicates (``bootstrap_result`` with ``n_resamples=0``)."""
    previous = types.SimpleNamespace(bootstrap_distribution=res.distribution)
    ci = stats.bootstrap((x, y), statistic, n_resamples=0, bootstrap_result=previous, method="BCa").confidence_interval
    return ci.low, ci.high


def test_bca_equals_scipy_on_the_same_replicates():
    rng = np.random.default_rng(0)
    x, y = rng.exponential(size=30), rng.exponential(2.0, size=25)
    res = bootstrap(x, y, _log_ratio, 999, seed=1, method="bca", vectorized=True)
    low, high = _scipy_interval(x, y, res)
    assert res.method == "bca"
    assert res.low == pytest.approx(low, rel=1e-12) and res.high == pytest.approx(high, rel=1e-12)
    loop = bootstrap(x, y, lambda a, b: _log_ratio(a, b), 999, seed=1, method="bca")
    assert (loop.low, loop.high) == pytest.approx((res.low, res.high), rel=1e-12)


def test_bca_jackknife_of_repeated_rows_is_exact():
    """Labels with 10 distinct values: one leave-one-out value per distinct row is SciPy's full jackknife."""
    rng = np.random.default_rng(1)
    x, y = rng.integers(0, 10, size=300).astype(float), rng.integers(0, 10, size=250).astype(float) ** 1.1
    res = bootstrap(x, y, _log_ratio, 499, seed=2, method="bca", vectorized=True)
    assert (res.low, res.high) == pytest.approx(_scipy_interval(x, y, res), rel=1e-10)


def test_bca_grouped_jackknife_close_to_exact():
    """More than 100 distinct rows: the delete-a-group jackknife estimates the same acceleration."""
    rng = np.random.default_rng(2)
    x, y = rng.lognormal(size=400), rng.lognormal(0.3, 1.0, size=300)
    res = bootstrap(x, y, _log_ratio, 1999, seed=3, method="bca", vectorized=True)
    low, high = _scipy_interval(x, y, res)
    width = high - low
    assert abs(res.low - low) < 0.05 * width and abs(res.high - high) < 0.05 * width


def test_methods_share_replicates_and_bias():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=80), rng.normal(0.4, 1.0, size=90)
    gap = lambda a, b: b.mean(axis=-1) - a.mean(axis=-1)  # noqa: E731
    out = {m: bootstrap(x, y, gap, 999, seed=5, method=m, vectorized=True) for m in BOOTSTRAP_METHODS}
    reps = out["normal"].distribution
    for m, r in out.items():
        np.testing.assert_array_equal(r.distribution, reps)
        assert r.method == m and r.bias == pytest.approx(reps.mean() - r.value)
    lo, hi = np.quantile(reps, [0.025, 0.975])
    assert (out["percentile"].low, out["percentile"].high) == pytest.approx((lo, hi))
    assert (out["basic"].low, out["basic"].high) == pytest.approx((2 * out["basic"].value - hi, 2 * out["basic"].value - lo))
    centre, se = 2 * out["normal"].value - reps.mean(), reps.std(ddof=1)
    assert (out["normal"].low, out["normal"].high) == pytest.approx((centre - 1.959964 * se, centre + 1.959964 * se))
    # an unbiased, symmetric statistic: every method agrees to within a tenth of the width
    for r in out.values():
        assert abs(r.low - lo) < 0.1 * (hi - lo) and abs(r.high - hi) < 0.1 * (hi - lo)


def test_bca_warns_when_every_replicate_is_above():
    x = np.arange(8.0)
    moved = lambda a, b: float(not np.array_equal(a, x))  # noqa: E731 - 0 on the data, 1 on (almost) every resample
    with pytest.warns(UserWarning, match="one side of the observed value"):
        res = bootstrap(x, x, moved, 50, seed=0, method="bca")
    assert np.isfinite(res.low) and np.isfinite(res.high)


def test_bca_names_a_statistic_that_fails_on_a_jackknife_sample():
    from divergences.samples import mmd

    with pytest.raises(ValueError, match="method='bca' needs the statistic with a group of x left out"):
        bootstrap(np.array([0.0, 1.0]), np.array([0.5, 2.0, 3.0]), lambda a, b: mmd(a, b, bandwidth=1.0), 20,
                  seed=0, method="bca")


K = 10
Q = np.linspace(1.0, 2.0, K) / np.linspace(1.0, 2.0, K).sum()


def _psi(x, y):
    c = np.stack([np.bincount(row, minlength=K) for row in np.atleast_2d(x)]).astype(float)
    r = np.stack([np.bincount(row, minlength=K) for row in np.atleast_2d(y)]).astype(float)
    c, r = c + 0.5, r + 0.5  # every bin kept: the statistic stays finite on every resample
    p, q = c / c.sum(1, keepdims=True), r / r.sum(1, keepdims=True)
    return ((p - q) * np.log(p / q)).sum(1)


@pytest.mark.slow
@pytest.mark.parametrize("shift", [0.0, 0.25])
def test_default_interval_covers_a_plug_in_divergence(shift):
    """PSI of 10 categories, N = M = 200 (reduced from the docs' table): the default covers the truth at
    least 88 % of the time over 100 data sets, where the percentile interval fails at P = Q."""
    w = Q * np.exp(shift * np.linspace(-1, 1, K))
    p = w / w.sum()
    truth = float(dv.jeffreys(p, Q))
    rng = np.random.default_rng(11)
    hits = {"normal": 0, "percentile": 0, "basic": 0}
    runs = 100
    for _ in range(runs):
        x, y = rng.choice(K, size=200, p=p), rng.choice(K, size=200, p=Q)
        res = bootstrap(x, y, _psi, 199, seed=rng, vectorized=True)
        assert res.method == "normal"
        hits["normal"] += res.low <= truth <= res.high
        for m in ("percentile", "basic"):
            r = bootstrap(x, y, _psi, 199, seed=rng, method=m, vectorized=True)
            hits[m] += r.low <= truth <= r.high
    assert hits["basic"] >= 0.88 * runs and hits["normal"] >= 0.88 * runs
    if shift == 0:
        assert hits["percentile"] == 0  # every replicate of a plug-in PSI is > 0 = truth
