"""kNN KL on correlated data and at extreme scales: whitening, adaptive k, the Gaussian bias correction."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import cdist
from scipy.special import digamma

from divergences import gaussian
from divergences.samples import knn_entropy, knn_kl


def _toeplitz(d, rho):
    i = np.arange(d)
    return rho ** np.abs(i[:, None] - i[None, :])


def _brute_fixed(x, y, k):
    n, d = x.shape
    rho = np.sort(cdist(x, x), axis=1)[:, k]
    nu = np.sort(cdist(x, y), axis=1)[:, k - 1]
    return d / n * np.sum(np.log(nu / rho)) + math.log(len(y) / (n - 1))


def _brute_adaptive(x, y, k):
    """Per point: radius max(ρ_k, ν_k); counts inside it (capped at 4k); exact distances; ψ corrections."""
    n, d = x.shape
    dx = np.sort(cdist(x, x), axis=1)[:, 1:]
    dy = np.sort(cdist(x, y), axis=1)
    total = 0.0
    for i in range(n):
        eps = max(dx[i, k - 1], dy[i, k - 1])
        ki = min(int(np.sum(dx[i] <= eps)), 4 * k, n - 1)
        li = min(int(np.sum(dy[i] <= eps)), 4 * k, len(y))
        total += d * math.log(dy[i, li - 1] / dx[i, ki - 1]) + digamma(ki) - digamma(li)
    return total / n + math.log(len(y) / (n - 1))


@pytest.mark.parametrize("k", [1, 2])
def test_adaptive_matches_its_definition(k):
    rng = np.random.default_rng(k)
    x, y = rng.normal(size=(70, 2)), rng.normal(0.3, 1.5, size=(55, 2))
    assert knn_kl(x, y, k=k, estimator="adaptive") == pytest.approx(_brute_adaptive(x, y, k), rel=1e-10)


@pytest.mark.parametrize("d", [2, 9])
def test_ensemble_matches_its_definition(d):
    from scipy.special import gamma

    rng = np.random.default_rng(d)
    x, y = rng.normal(size=(60, d)), rng.normal(0.3, 1.4, size=(50, d))
    ks = np.arange(1, 11)
    orders = max(1, d // 4)
    a = np.array([[1.0] * 10] + [[gamma(k + 2 * l / d) / gamma(k) for k in ks] for l in range(1, orders + 1)])
    rhs = np.zeros(len(a))
    rhs[0] = 1.0
    w = np.linalg.lstsq(a, rhs, rcond=None)[0]  # the minimum-norm solution of the constraints
    assert w.sum() == pytest.approx(1.0)
    expected = sum(wk * _brute_fixed(x, y, int(k)) for wk, k in zip(w, ks))
    assert knn_kl(x, y, estimator="ensemble") == pytest.approx(expected, rel=1e-9)


def test_whitening_is_the_estimate_on_whitened_data():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(80, 3))
    y = rng.normal(size=(60, 3)) @ np.array([[1.0, 0.0, 0.0], [0.8, 0.5, 0.0], [0.1, 0.2, 2.0]])
    chol = np.linalg.cholesky(np.cov(y, rowvar=False))
    wx, wy = np.linalg.solve(chol, x.T).T, np.linalg.solve(chol, y.T).T
    assert knn_kl(x, y, whiten="y") == pytest.approx(_brute_fixed(wx, wy, 1), rel=1e-9)
    pooled = np.concatenate([x, y])
    chol = np.linalg.cholesky(np.cov(pooled, rowvar=False))
    wx, wy = np.linalg.solve(chol, x.T).T, np.linalg.solve(chol, y.T).T
    assert knn_kl(x, y, whiten="pooled") == pytest.approx(_brute_fixed(wx, wy, 1), rel=1e-9)


def test_whitened_estimate_is_affine_invariant():
    """KL is invariant under a common invertible affine map; the whitened estimator is too (exactly)."""
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(200, 4)), rng.normal(0.4, 1.3, size=(150, 4))
    a, b = rng.normal(size=(4, 4)) + 3 * np.eye(4), rng.normal(size=4) * 100
    for mode in ("y", "pooled"):
        assert knn_kl(x @ a.T + b, y @ a.T + b, whiten=mode) == pytest.approx(knn_kl(x, y, whiten=mode), rel=1e-8)
    # without whitening only similarities (rotation, scale, shift) leave it unchanged
    q, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    assert knn_kl(3 * x @ q + b, 3 * y @ q + b) == pytest.approx(knn_kl(x, y), rel=1e-9)


def test_gaussian_correction_holds_on_correlated_ten_d():
    """10-D, Q = N(0, Toeplitz(0.6)): the fixed-k estimate is about −85 % off at n = 1000; whitening
    by y recovers part; the Gaussian bias correction is within 10 %."""
    d, n = 10, 1000
    cov = _toeplitz(d, 0.6)
    truth = float(gaussian.kl(np.zeros(d), np.eye(d), np.zeros(d), cov))
    rng = np.random.default_rng(5)
    chol = np.linalg.cholesky(cov)
    est = {"fixed": [], "y": [], "corr": [], "ens": []}
    for r in range(3):
        x, y = rng.normal(size=(n, d)), rng.normal(size=(n, d)) @ chol.T
        est["fixed"].append(knn_kl(x, y))
        est["y"].append(knn_kl(x, y, whiten="y"))
        est["corr"].append(knn_kl(x, y, correction="gaussian", seed=r))
        est["ens"].append(knn_kl(x, y, estimator="ensemble"))
    rel = {key: np.mean(v) / truth - 1 for key, v in est.items()}
    assert rel["fixed"] < -0.6
    assert rel["fixed"] < rel["y"] < 0
    assert rel["fixed"] < rel["ens"] < 0
    assert abs(rel["corr"]) < 0.1


def test_gaussian_correction_on_isotropic_gaussians_two_d():
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(3000, 2)), rng.normal(0.5, 1.4, size=(3000, 2))
    truth = float(gaussian.kl(np.zeros(2), np.ones(2), np.full(2, 0.5), np.full(2, 1.96)))
    assert knn_kl(x, y, correction="gaussian", correction_draws=5) == pytest.approx(truth, abs=0.05)
    # the correction is reproducible (seeded) and changes with the seed
    assert knn_kl(x, y, correction="gaussian", seed=1) == knn_kl(x, y, correction="gaussian", seed=1)


@settings(max_examples=15, deadline=None)
@given(exponent=st.floats(-250, 250), d=st.integers(1, 3))
def test_scale_law_at_extreme_scales(exponent, d):
    """KL is unchanged and entropy shifts by d·log s for data scaled by s = 10^exponent."""
    rng = np.random.default_rng(d)
    x, y = rng.normal(size=(40, d)), rng.normal(0.5, 1.2, size=(30, d))
    s = 10.0**exponent
    base_kl, base_h = knn_kl(x, y), knn_entropy(x)
    for options in ({}, {"estimator": "adaptive"}, {"whiten": "y"}):
        assert knn_kl(x * s, y * s, **options) == pytest.approx(knn_kl(x, y, **options), rel=1e-9, abs=1e-12)
    assert knn_kl(x * s, y * s) == pytest.approx(base_kl, rel=1e-9, abs=1e-12)
    assert knn_entropy(x * s) == pytest.approx(base_h + d * math.log(s), rel=1e-9, abs=1e-9)


def test_extreme_offsets_and_tiny_spreads():
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(50, 2)), rng.normal(0.5, 1.0, size=(50, 2))
    ref = knn_kl(x, y)
    assert knn_kl(1e150 + 1e145 * x, 1e150 + 1e145 * y) == pytest.approx(ref, rel=1e-6)
    assert knn_kl(1e-300 * x, 1e-300 * y) == pytest.approx(ref, rel=1e-9)
    assert math.isfinite(knn_entropy(1e-300 * x)) and math.isfinite(knn_entropy(1e300 * x))


def test_bad_options():
    rng = np.random.default_rng(8)
    x, y = rng.normal(size=(20, 2)), rng.normal(size=(20, 2))
    with pytest.raises(ValueError, match="whiten must be"):
        knn_kl(x, y, whiten="x")
    with pytest.raises(ValueError, match="estimator must be"):
        knn_kl(x, y, estimator="bagged")
    with pytest.raises(ValueError, match="correction must be"):
        knn_kl(x, y, correction="kde")
    with pytest.raises(ValueError, match="correction_draws must be a positive integer"):
        knn_kl(x, y, correction="gaussian", correction_draws=0)
    flat = np.column_stack([x[:, 0], 2 * x[:, 0]])  # on a line: no 2-D density
    with pytest.raises(ValueError, match="singular"):
        knn_kl(flat, np.column_stack([y[:, 0], 2 * y[:, 0]]), whiten="pooled")
    with pytest.raises(ValueError, match="needs more than d = 2 samples"):
        knn_kl(x, y[:2], whiten="y")
