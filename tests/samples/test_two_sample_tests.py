"""Two-sample and independence tests: statistics against references, null calibration at several n, power."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import divergences.samples.two_sample as ts
from divergences.samples import (
    block_mmd_test,
    dcov_test,
    hsic_test,
    linear_mmd_test,
    median_bandwidth,
    mmd,
    mmd_agg_test,
    mmd_test,
    power_bandwidth,
)


def _rejections(test, draw, runs, rng, alpha=0.05):
    pvalues = np.array([test(*draw(rng), rng) for _ in range(runs)])
    return pvalues, float(np.mean(pvalues <= alpha))


def _valid(rate, runs, alpha=0.05):
    """Rejection rate within 3 binomial standard deviations above α (validity)."""
    return rate <= alpha + 3 * np.sqrt(alpha * (1 - alpha) / runs)


def test_mmd_test_statistic_and_bandwidth_are_the_library_values():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 2)), rng.normal(0.3, 1.0, size=(35, 2))
    res = mmd_test(x, y, n_permutations=99, seed=1)
    assert res.bandwidth == pytest.approx(median_bandwidth(x, y), rel=1e-12)
    assert res.statistic == pytest.approx(mmd(x, y), rel=1e-10)
    fixed = mmd_test(x * 1e-200, y * 1e-200, bandwidth=2e-200, n_permutations=99, seed=1)
    assert fixed.statistic == pytest.approx(mmd(x, y, bandwidth=2.0), rel=1e-10)
    assert fixed.bandwidth == pytest.approx(2e-200)


def test_permuted_statistics_are_mmd_of_the_splits():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(12, 2)), rng.normal(size=(9, 2))
    pooled = np.concatenate([x, y])
    gram = np.exp(-0.5 * ts._sq_dists(pooled, pooled))
    rows = ts._permutation_indicators(12, 21, 5, rng)
    values = ts._mmd_u_rows(gram, rows, 12, 9)
    for row, value in zip(rows, values):
        first = row.astype(bool)
        assert value == pytest.approx(mmd(pooled[first], pooled[~first], bandwidth=1.0), rel=1e-10)


@pytest.mark.slow
@pytest.mark.parametrize("n", [10, 30, 100])
def test_null_calibration_permutation_tests(n):
    """Under P = Q every permutation test rejects at most α (plus binomial slack) at several n."""
    runs = 200 if n < 100 else 120

    def same(rng):
        return rng.normal(size=(n, 2)), rng.normal(size=(n + 3, 2))

    def paired(rng):
        return rng.normal(size=(n, 2)), rng.normal(size=(n, 1))

    tests = {
        "mmd": (same, lambda x, y, r: mmd_test(x, y, n_permutations=99, seed=r).pvalue),
        "mmd_agg": (same, lambda x, y, r: mmd_agg_test(x, y, n_permutations=99, seed=r).pvalue),
        "dcov": (paired, lambda x, y, r: dcov_test(x, y, 99, seed=r).pvalue),
        "hsic": (paired, lambda x, y, r: hsic_test(x, y, n_permutations=99, seed=r).pvalue),
    }
    if n >= 30:
        tests["mmd_power"] = (same, lambda x, y, r: mmd_test(x, y, "power", n_permutations=99, seed=r).pvalue)
    for name, (draw, test) in tests.items():
        pvalues, rate = _rejections(test, draw, runs, np.random.default_rng(n))
        assert _valid(rate, runs), (name, n, rate)
        assert pvalues.min() >= 1 / 100 and pvalues.max() <= 1
        assert stats.kstest(pvalues, "uniform").pvalue > 1e-3, (name, n)  # discrete p-values: loose uniformity


@pytest.mark.slow
@pytest.mark.parametrize("n", [60, 300])
def test_null_calibration_gamma_hsic(n):
    runs = 300
    draw = lambda rng: (rng.normal(size=(n, 1)), rng.standard_t(5, size=(n, 1)))  # noqa: E731
    _, rate = _rejections(lambda x, y, r: hsic_test(x, y, method="gamma").pvalue, draw, runs, np.random.default_rng(3))
    assert 0.01 <= rate <= 0.05 + 4 * np.sqrt(0.05 * 0.95 / runs), rate  # the approximation is slightly liberal


@pytest.mark.slow
@pytest.mark.parametrize("n", [1000, 4000])
def test_null_calibration_linear_and_block(n):
    runs = 200

    def draw(rng):
        return rng.normal(size=(n, 2)), rng.normal(size=(n, 2))

    for test in (lambda x, y, r: linear_mmd_test(x, y).pvalue, lambda x, y, r: block_mmd_test(x, y).pvalue):
        pvalues, rate = _rejections(test, draw, runs, np.random.default_rng(n))
        assert 0.01 <= rate <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / runs), rate
        assert stats.kstest(pvalues, "uniform").pvalue > 1e-3


def test_power_against_simple_alternatives():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(60, 2)), rng.normal(0.8, 1.0, size=(60, 2))
    assert mmd_test(x, y, n_permutations=199, seed=0).pvalue <= 0.01
    assert mmd_agg_test(x, y, n_permutations=199, seed=0).pvalue <= 0.01
    wide = rng.normal(0.0, 2.5, size=(60, 2))  # a change in scale, same mean
    assert mmd_agg_test(x, wide, n_permutations=199, seed=0).pvalue <= 0.01
    big_x, big_y = rng.normal(size=(20000, 2)), rng.normal(0.1, 1.0, size=(20000, 2))
    assert block_mmd_test(big_x, big_y).pvalue < 1e-3
    t = rng.normal(size=150)
    assert dcov_test(t, t**2 + 0.3 * rng.normal(size=150), 199, seed=0).pvalue <= 0.01
    assert hsic_test(t, np.sin(2 * t) + 0.3 * rng.normal(size=150), n_permutations=199, seed=0).pvalue <= 0.01


@pytest.mark.slow
def test_dcov_test_against_dcor():
    dcor = pytest.importorskip("dcor")
    rng = np.random.default_rng(5)
    x = rng.normal(size=(50, 2))
    y = x[:, :1] ** 2 + rng.normal(size=(50, 1))
    ours = dcov_test(x, y, 1999, seed=0)
    assert ours.statistic == pytest.approx(dcor.distance_covariance_sqr(x, y), rel=1e-10)
    theirs = dcor.independence.distance_covariance_test(x, y, num_resamples=1999, random_state=0)
    assert abs(ours.pvalue - theirs.pvalue) < 0.04
    scaled = dcov_test(x * 1e-200, y * 1e160, 1999, seed=0)
    assert scaled.pvalue == ours.pvalue
    assert scaled.statistic == pytest.approx(ours.statistic * 1e-40, rel=1e-9)


def _hsic_direct(x, y, sx, sy):
    n = len(x)
    k = np.exp(-((x[:, None, :] - x[None, :, :]) ** 2).sum(-1) / (2 * sx**2))
    l = np.exp(-((y[:, None, :] - y[None, :, :]) ** 2).sum(-1) / (2 * sy**2))
    h = np.eye(n) - np.ones((n, n)) / n
    return np.trace(k @ h @ l @ h) / n**2


def test_hsic_statistic_and_gamma_against_permutation():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(80, 1))
    y = 0.4 * x + rng.normal(size=(80, 1))
    perm = hsic_test(x, y, bandwidth=(1.0, 1.5), n_permutations=2999, seed=0)
    assert perm.statistic == pytest.approx(_hsic_direct(x, y, 1.0, 1.5), rel=1e-10)
    gam = hsic_test(x, y, bandwidth=(1.0, 1.5), method="gamma")
    assert gam.statistic == pytest.approx(perm.statistic, rel=1e-12)
    assert abs(gam.pvalue - perm.pvalue) < 0.03
    median = hsic_test(x, y, n_permutations=9, seed=0)
    from scipy.spatial.distance import pdist

    assert median.bandwidth == pytest.approx((np.median(pdist(x)), np.median(pdist(y))), rel=1e-10)


def test_power_bandwidth_maximises_its_criterion():
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(80, 1)), rng.normal(0.0, 0.7, size=(80, 1))
    grid = [0.05, 0.2, 0.5, 1.0, 3.0, 10.0]
    ratios = [ts._power_ratio(x, y, g) for g in grid]
    assert power_bandwidth(x, y, grid) == grid[int(np.argmax(ratios))]
    assert power_bandwidth(x * 1e-100, y * 1e-100, [g * 1e-100 for g in grid]) == pytest.approx(grid[int(np.argmax(ratios))] * 1e-100)


def test_bad_input(monkeypatch):
    rng = np.random.default_rng(8)
    x, y = rng.normal(size=(10, 2)), rng.normal(size=(10, 2))
    with pytest.raises(ValueError, match="n_permutations"):
        mmd_test(x, y, n_permutations=0)
    with pytest.raises(ValueError, match="'median' or 'power'"):
        mmd_test(x, y, bandwidth="mean")
    with pytest.raises(ValueError, match="one bandwidth"):
        mmd_test(x, y, bandwidth=[1.0, 2.0])
    with pytest.raises(ValueError, match="same number of rows"):
        dcov_test(x, y[:8])
    with pytest.raises(ValueError, match="method must be"):
        hsic_test(x, y, method="chi2")
    with pytest.raises(ValueError, match="at least 2 blocks"):
        block_mmd_test(x, y, block_size=8)
    with pytest.raises(ValueError, match="all points coincide"):
        mmd_test(np.zeros((5, 2)), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="y is constant"):
        hsic_test(x, np.ones((10, 1)))
    monkeypatch.setattr(ts, "MAX_POOLED", 15)
    with pytest.raises(ValueError, match="linear_mmd_test or block_mmd_test"):
        mmd_test(x, y)
