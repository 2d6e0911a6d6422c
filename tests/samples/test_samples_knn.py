"""kNN entropy and KL: against brute-force definitions, known Gaussian answers, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.spatial.distance import cdist
from scipy.special import digamma, gammaln

from divergences import gaussian
from divergences.samples import knn_entropy, knn_kl


def _brute_kl(x, y, k):
    n, d = x.shape
    rho = np.sort(cdist(x, x), axis=1)[:, k]  # column 0 is the point itself
    nu = np.sort(cdist(x, y), axis=1)[:, k - 1]
    return d / n * np.sum(np.log(nu / rho)) + math.log(len(y) / (n - 1))


def _brute_entropy(x, k):
    n, d = x.shape
    rho = np.sort(cdist(x, x), axis=1)[:, k]
    log_vd = d / 2 * math.log(math.pi) - gammaln(d / 2 + 1)
    return digamma(n) - digamma(k) + log_vd + d / n * np.sum(np.log(rho))


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("d", [1, 3])
def test_matches_brute_force(k, d):
    rng = np.random.default_rng(d * 10 + k)
    x, y = rng.normal(size=(60, d)), rng.normal(0.5, 1.2, size=(45, d))
    assert knn_kl(x, y, k=k) == pytest.approx(_brute_kl(x, y, k), rel=1e-10)
    assert knn_entropy(x, k=k) == pytest.approx(_brute_entropy(x, k), rel=1e-10)


def test_one_dimensional_vectors_accepted():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=50), rng.normal(size=40)
    assert knn_kl(x, y) == knn_kl(x[:, None], y[:, None])


def test_gaussian_known_answers():
    rng = np.random.default_rng(7)
    d, n = 2, 5000
    cov = np.array([[1.0, 0.3], [0.3, 0.5]])
    x = rng.multivariate_normal(np.zeros(d), cov, size=n)
    y = rng.multivariate_normal(np.full(d, 0.7), np.eye(d), size=n)
    true_h = 0.5 * math.log(np.linalg.det(2 * math.pi * math.e * cov))
    assert knn_entropy(x, k=3) == pytest.approx(true_h, abs=0.05)
    true_kl = float(gaussian.kl(np.zeros(d), cov, np.full(d, 0.7), np.eye(d)))
    assert knn_kl(x, y, k=3) == pytest.approx(true_kl, abs=0.08)
    assert abs(knn_kl(x, rng.multivariate_normal(np.zeros(d), cov, size=n), k=3)) < 0.05


def test_duplicates_documented_behaviour():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(30, 2))
    dup = np.concatenate([x, x[:3]])
    with pytest.warns(UserWarning, match="zero k-NN distance within x"):
        assert knn_entropy(dup) == -math.inf
    with pytest.warns(UserWarning, match="zero k-NN distance within x"):
        assert knn_kl(dup, rng.normal(size=(20, 2))) == math.inf
    y = np.concatenate([rng.normal(size=(20, 2)), x[:2]])
    with pytest.warns(UserWarning, match="from x to y"):
        assert knn_kl(x, y) == -math.inf
    # k larger than the multiplicity of the ties: finite
    assert math.isfinite(knn_kl(np.concatenate([x, x[:1]]), y[:20], k=2))


def test_bad_input():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(10, 2)), rng.normal(size=(10, 2))
    with pytest.raises(ValueError, match="x needs at least 4"):
        knn_kl(x[:3], y, k=3)
    with pytest.raises(ValueError, match="y needs at least 3"):
        knn_kl(x, y[:2], k=3)
    with pytest.raises(ValueError, match="x needs at least 2"):
        knn_entropy(x[:1])
    with pytest.raises(ValueError, match="dimension"):
        knn_kl(x, rng.normal(size=(10, 3)))
    bad = x.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="x contains NaN"):
        knn_kl(bad, y)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        knn_kl(x, y, k=0)
    with pytest.raises(ValueError, match="shape"):
        knn_entropy(np.zeros((2, 2, 2)))
