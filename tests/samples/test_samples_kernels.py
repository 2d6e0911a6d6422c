"""MMD², energy distance and Cauchy–Schwarz: direct definitions, closed forms, SciPy, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.spatial.distance import cdist, pdist
from scipy.stats import energy_distance

from divergences.samples import cauchy_schwarz, energy, median_bandwidth, mmd
from divergences.samples.kernels import _energy_pairwise


@pytest.fixture
def xy():
    rng = np.random.default_rng(0)
    return rng.normal(size=(70, 3)), rng.normal(0.3, 1.1, size=(55, 3))


def _gram(a, b, sigma, kernel="rbf"):
    d = cdist(a, b)
    return np.exp(-(d**2) / (2 * sigma**2)) if kernel == "rbf" else np.exp(-d / sigma)


@pytest.mark.parametrize("kernel", ["rbf", "laplacian"])
@pytest.mark.parametrize("block", [16, 2048])
def test_mmd_matches_direct_definition(xy, kernel, block):
    x, y = xy
    s = 1.3
    kxx, kyy, kxy = _gram(x, x, s, kernel), _gram(y, y, s, kernel), _gram(x, y, s, kernel)
    n, m = len(x), len(y)
    u = ((kxx.sum() - np.trace(kxx)) / (n * (n - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
         - 2 * kxy.mean())
    v = kxx.mean() + kyy.mean() - 2 * kxy.mean()
    assert mmd(x, y, kernel=kernel, bandwidth=s, block=block) == pytest.approx(u, rel=1e-10)
    assert mmd(x, y, kernel=kernel, bandwidth=s, unbiased=False, block=block) == pytest.approx(v, rel=1e-10)


def test_mmd_against_gaussian_closed_form():
    # E k(X, Y) for X ~ N(a, A), Y ~ N(b, B), RBF width σ: det(I + (A+B)/σ²)^{-1/2} exp(−½ δᵀ(σ²I + A + B)⁻¹ δ)
    def ek(delta, cov, s):
        d = len(delta)
        return np.linalg.det(np.eye(d) + cov / s**2) ** -0.5 * math.exp(
            -0.5 * delta @ np.linalg.solve(s**2 * np.eye(d) + cov, delta))

    rng = np.random.default_rng(3)
    d, n, s = 2, 2000, 1.0
    mu, cov_q = np.array([0.5, -0.2]), np.diag([1.5, 0.7])
    x = rng.normal(size=(n, d))
    y = rng.multivariate_normal(mu, cov_q, size=n)
    truth = ek(np.zeros(d), 2 * np.eye(d), s) + ek(np.zeros(d), 2 * cov_q, s) - 2 * ek(mu, np.eye(d) + cov_q, s)
    assert mmd(x, y, bandwidth=s) == pytest.approx(truth, abs=0.012)
    same = mmd(x, rng.normal(size=(n, d)), bandwidth=s)
    assert abs(same) < 0.005


def test_median_bandwidth(xy):
    x, y = xy
    assert median_bandwidth(x, y) == pytest.approx(np.median(pdist(np.concatenate([x, y]))))
    with pytest.raises(ValueError, match="all points coincide"):
        median_bandwidth(np.zeros((3, 2)), np.zeros((2, 2)))
    # the default bandwidth is the median heuristic
    assert mmd(x, y) == mmd(x, y, bandwidth=median_bandwidth(x, y))


def test_energy_scale_matches_scipy():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=300), rng.exponential(size=250)
    assert energy(a, b) == pytest.approx(energy_distance(a, b), rel=1e-12)
    # the blocked pairwise path, on 1-D data, against SciPy's sorted-CDF formula
    assert _energy_pairwise(a[:, None], b[:, None], 64) == pytest.approx(energy_distance(a, b), rel=1e-9)


def test_energy_nd_direct(xy):
    x, y = xy
    direct = math.sqrt(2 * cdist(x, y).mean() - cdist(x, x).mean() - cdist(y, y).mean())
    assert energy(x, y, block=8) == pytest.approx(direct, rel=1e-10)
    assert energy(x, x) < 1e-6  # exact up to rounding, amplified by the square root


def test_cauchy_schwarz_two_points():
    for delta, sigma in [(3.0, 1.5), (0.1, 2.0), (40.0, 0.5)]:  # the last underflows outside log space
        a, b = np.array([[0.0, 0.0]]), np.array([[delta, 0.0]])
        assert cauchy_schwarz(a, b, bandwidth=sigma) == pytest.approx(delta**2 / sigma**2, rel=1e-10)


def test_cauchy_schwarz_direct_and_properties(xy):
    x, y = xy
    s = 0.9
    direct = -math.log(_gram(x, y, s).mean() ** 2 / (_gram(x, x, s).mean() * _gram(y, y, s).mean()))
    assert cauchy_schwarz(x, y, bandwidth=s, block=10) == pytest.approx(direct, rel=1e-10)
    assert cauchy_schwarz(y, x, bandwidth=s) == pytest.approx(direct, rel=1e-10)
    assert cauchy_schwarz(x, x, bandwidth=s) == pytest.approx(0.0, abs=1e-12)


def test_bad_input(xy):
    x, y = xy
    with pytest.raises(ValueError, match="bandwidth"):
        mmd(x, y, bandwidth=0.0)
    with pytest.raises(ValueError, match="bandwidth"):
        cauchy_schwarz(x, y, bandwidth="scott")
    with pytest.raises(ValueError, match="kernel"):
        mmd(x, y, kernel="cosine")
    with pytest.raises(ValueError, match="dimension"):
        energy(x, y[:, :2])
    with pytest.raises(ValueError, match="x needs at least 2"):
        mmd(x[:1], y)
    assert mmd(x[:1], y, unbiased=False, bandwidth=1.0) >= 0
    bad = y.copy()
    bad[3, 1] = np.inf
    with pytest.raises(ValueError, match="y contains an infinite value"):
        energy(x, bad)
    with pytest.raises(ValueError, match="block"):
        mmd(x, y, block=0)
