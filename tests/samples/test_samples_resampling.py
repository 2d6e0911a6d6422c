"""Permutation test calibration and power; bootstrap intervals."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from divergences.samples import bootstrap, mmd, permutation_test


def _mean_gap(x, y):
    """|mean(x) − mean(y)| over the last sample axis; works on one sample pair or a batch."""
    return np.abs(x.mean(axis=-1) - y.mean(axis=-1))


def test_permutation_pvalues_uniform_under_null():
    rng = np.random.default_rng(0)
    runs, b = 300, 99
    pvalues = np.array([
        permutation_test(rng.normal(size=8), rng.normal(size=8), _mean_gap, b, seed=rng, vectorized=True).pvalue
        for _ in range(runs)
    ])
    assert pvalues.min() >= 1 / (b + 1) and pvalues.max() <= 1
    # validity at the usual levels (binomial slack of 3 standard deviations) and overall uniformity
    for level in (0.05, 0.1, 0.25, 0.5):
        assert np.mean(pvalues <= level) <= level + 3 * np.sqrt(level * (1 - level) / runs)
    assert stats.kstest(pvalues, "uniform").pvalue > 0.01


def test_vectorized_equals_loop_and_power():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=12), rng.normal(1.5, 1.0, size=15)
    vec = permutation_test(x, y, _mean_gap, 199, seed=3, vectorized=True)
    loop = permutation_test(x, y, _mean_gap, 199, seed=3)
    np.testing.assert_allclose(vec.null_distribution, loop.null_distribution)
    assert vec.pvalue == loop.pvalue
    assert vec.value == pytest.approx(abs(x.mean() - y.mean()))
    assert vec.pvalue <= 0.01


def test_alternatives():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=10), rng.normal(size=10)
    diff = lambda a, b: a.mean() - b.mean()  # noqa: E731
    g = permutation_test(x, y, diff, 199, seed=0, alternative="greater")
    s = permutation_test(x, y, diff, 199, seed=0, alternative="less")
    t = permutation_test(x, y, diff, 199, seed=0, alternative="two-sided")
    assert t.pvalue == pytest.approx(min(1.0, 2 * min(g.pvalue, s.pvalue)))
    assert g.pvalue + s.pvalue >= 1


def test_with_a_divergence_estimator():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(25, 2)), rng.normal(1.0, 1.0, size=(25, 2))
    res = permutation_test(x, y, lambda a, b: mmd(a, b, bandwidth=1.0), 49, seed=1)
    assert res.pvalue == pytest.approx(1 / 50)
    res0 = permutation_test(x, rng.normal(size=(25, 2)), lambda a, b: mmd(a, b, bandwidth=1.0), 49, seed=1)
    assert res0.pvalue > 0.02


def test_bootstrap_interval():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=200), rng.normal(0.5, 1.0, size=150)
    gap = lambda a, b: b.mean(axis=-1) - a.mean(axis=-1)  # noqa: E731
    res = bootstrap(x, y, gap, 999, seed=0, vectorized=True, method="percentile")
    se = np.sqrt(1 / 200 + 1 / 150)
    assert res.standard_error == pytest.approx(se, rel=0.15)
    assert res.low < res.value < res.high
    assert res.high - res.low == pytest.approx(2 * 1.96 * se, rel=0.15)
    basic = bootstrap(x, y, gap, 999, seed=0, vectorized=True, method="basic")
    assert basic.low == pytest.approx(2 * res.value - res.high)
    loop = bootstrap(x, y, gap, 50, seed=1)
    assert loop.distribution.shape == (50,)


def test_bad_input():
    x, y = np.zeros(5), np.ones(5)
    with pytest.raises(ValueError, match="n_permutations"):
        permutation_test(x, y, _mean_gap, 0)
    with pytest.raises(ValueError, match="alternative"):
        permutation_test(x, y, _mean_gap, alternative="bigger")
    with pytest.raises(ValueError, match="x contains NaN"):
        permutation_test(np.array([np.nan, 1.0]), y, _mean_gap)
    with pytest.raises(ValueError, match="same shape per sample"):
        permutation_test(np.zeros((5, 2)), np.zeros((5, 3)), _mean_gap)
    with pytest.raises(ValueError, match="one value per resample"):
        permutation_test(x, y, lambda a, b: 1.0, 10, vectorized=True)
    with pytest.raises(ValueError, match="confidence"):
        bootstrap(x, y, _mean_gap, confidence=1.5)
    with pytest.raises(ValueError, match="method"):
        bootstrap(x, y, _mean_gap, method="bca2")
    with pytest.raises(ValueError, match="n_resamples >= 2"):
        bootstrap(x, y, _mean_gap, 1, method="bca")
