"""Exact Wasserstein and log-domain Sinkhorn: SciPy, POT, assignment, limits, loud failures."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist
from scipy.stats import wasserstein_distance

from divergences.samples import SinkhornConvergenceError, SinkhornConvergenceWarning, sinkhorn, wasserstein

ot = pytest.importorskip("ot")


def test_wasserstein_1d_against_scipy_with_weights():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=40), rng.gamma(2.0, size=30)
    wx, wy = rng.uniform(size=40), rng.uniform(size=30)
    assert wasserstein(x, y) == pytest.approx(wasserstein_distance(x, y), rel=1e-12)
    assert wasserstein(x, y, weights=(wx, wy)) == pytest.approx(wasserstein_distance(x, y, wx, wy), rel=1e-12)
    assert wasserstein(x, y, weights=(wx, None)) == pytest.approx(wasserstein_distance(x, y, wx), rel=1e-12)


def test_wasserstein_1d_p2_against_network_simplex():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=25), rng.normal(1.0, 2.0, size=35)
    cost = (x[:, None] - y[None, :]) ** 2
    exact = ot.emd2(np.full(25, 1 / 25), np.full(35, 1 / 35), cost)
    assert wasserstein(x, y, p=2) == pytest.approx(np.sqrt(exact), rel=1e-9)


@pytest.mark.parametrize("p", [1, 2, 3])
def test_wasserstein_nd_against_assignment(p):
    # equal sizes and uniform weights: an optimal plan is a permutation (Birkhoff)
    rng = np.random.default_rng(p)
    x, y = rng.normal(size=(30, 3)), rng.normal(0.5, 1.0, size=(30, 3))
    cost = cdist(x, y) ** p
    rows, cols = linear_sum_assignment(cost)
    assert wasserstein(x, y, p=p) == pytest.approx(cost[rows, cols].mean() ** (1 / p), rel=1e-9)


def _pot_entropic(x, y, eps, a=None, b=None):
    """⟨π, C⟩ + ε KL(π‖a⊗b) from POT's log-domain plan, C = squared Euclidean."""
    a = np.full(len(x), 1 / len(x)) if a is None else a
    b = np.full(len(y), 1 / len(y)) if b is None else b
    cost = cdist(x, y, "sqeuclidean")
    plan = ot.sinkhorn(a, b, cost, eps, method="sinkhorn_log", stopThr=1e-13, numItermax=100_000)
    mask = plan > 0
    kl = np.sum(plan[mask] * np.log(plan[mask] / np.outer(a, b)[mask]))
    return float(np.sum(plan * cost) + eps * kl)


@pytest.mark.parametrize("eps", [1.0, 0.05])
def test_sinkhorn_against_pot(eps):
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(40, 2)), rng.normal(0.8, 1.0, size=(30, 2))
    ours = sinkhorn(x, y, epsilon=eps, debiased=False, tol=1e-11, max_iter=100_000)
    assert ours == pytest.approx(_pot_entropic(x, y, eps), rel=1e-7)


def test_debiased_sinkhorn_against_pot():
    # POT's alternating iterations converge on the symmetric problems OT(x, x) only for large ε
    rng = np.random.default_rng(4)
    x, y, eps = rng.normal(size=(40, 2)), rng.normal(0.8, 1.0, size=(30, 2)), 1.0
    debiased = sinkhorn(x, y, epsilon=eps, tol=1e-11, max_iter=100_000)
    expected = _pot_entropic(x, y, eps) - 0.5 * _pot_entropic(x, x, eps) - 0.5 * _pot_entropic(y, y, eps)
    assert debiased == pytest.approx(expected, rel=1e-6)


def test_sinkhorn_weights_against_pot():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(20, 2)), rng.normal(size=(25, 2)) + 1
    a, b = rng.uniform(size=20), rng.uniform(size=25)
    ours = sinkhorn(x, y, epsilon=0.3, debiased=False, weights=(a, b), tol=1e-11, max_iter=100_000)
    assert ours == pytest.approx(_pot_entropic(x, y, 0.3, a / a.sum(), b / b.sum()), rel=1e-7)


def test_sinkhorn_small_epsilon_tends_to_w2_squared():
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(30, 2)), rng.normal(1.0, 1.0, size=(30, 2))
    w2sq = wasserstein(x, y, p=2) ** 2
    # at ε = 1e-2, e^{−C/ε} underflows to 0 for C > 7.5 (here C reaches ≈ 20): the log domain is needed
    assert (np.exp(-cdist(x, y, "sqeuclidean") / 1e-2) == 0).any()
    value = sinkhorn(x, y, epsilon=1e-2, scaling=0.5, max_iter=20_000, tol=1e-4)
    assert np.isfinite(value)
    assert value == pytest.approx(w2sq, rel=0.02)
    assert sinkhorn(x, x, epsilon=0.1) == pytest.approx(0.0, abs=1e-9)


def test_sinkhorn_loud_failure():
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(30, 2)), rng.normal(size=(30, 2)) + 2
    with pytest.raises(SinkhornConvergenceError, match="did not converge"):
        sinkhorn(x, y, epsilon=1e-3, max_iter=5)
    with pytest.warns(SinkhornConvergenceWarning, match="did not converge"):
        value = sinkhorn(x, y, epsilon=1e-3, max_iter=5, on_failure="warn")
    assert np.isfinite(value)


def test_bad_input():
    x, y = np.zeros((3, 2)), np.ones((4, 2))
    for eps in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="epsilon"):
            sinkhorn(x, y, epsilon=eps)
    with pytest.raises(ValueError, match="dimension"):
        sinkhorn(x, np.ones((4, 3)), epsilon=0.1)
    with pytest.raises(ValueError, match="on_failure"):
        sinkhorn(x, y, epsilon=0.1, on_failure="ignore")
    with pytest.raises(ValueError, match="scaling"):
        sinkhorn(x, y, epsilon=0.1, scaling=1.5)
    with pytest.raises(ValueError, match="p must be"):
        wasserstein(x, y, p=0.5)
    with pytest.raises(ValueError, match="weights"):
        wasserstein(x, y, weights=np.ones(3))
    with pytest.raises(ValueError, match=r"weights\[1\]"):
        wasserstein(x, y, weights=(None, -np.ones(4)))
    with pytest.raises(ValueError, match="x contains NaN"):
        wasserstein(np.array([np.nan, 1.0]), np.array([0.0]))
