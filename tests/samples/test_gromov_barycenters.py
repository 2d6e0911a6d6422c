"""Entropic (fused) Gromov–Wasserstein and barycenters (issue 23, item 4): against POT on small cases, run side
by side, and against closed forms (isometries, one-dimensional and commuting Gaussians)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from divergences.samples import (
    SinkhornConvergenceError,
    bures_barycenter,
    fused_gromov_wasserstein,
    gromov_wasserstein,
    wasserstein,
    wasserstein_barycenter,
)

ot = pytest.importorskip("ot")


def _clouds(seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(15, 2)), rng.normal(size=(12, 3))


@pytest.mark.parametrize("eps", [0.5, 1.0])
@pytest.mark.parametrize("metric", ["sqeuclidean", "euclidean"])
def test_gromov_against_pot(eps, metric):
    x, y = _clouds()
    rng = np.random.default_rng(1)
    a, b = rng.uniform(0.5, 1.0, 15), rng.uniform(0.5, 1.0, 12)
    a, b = a / a.sum(), b / b.sum()
    c1, c2 = ot.dist(x, x, metric=metric), ot.dist(y, y, metric=metric)
    plan, log = ot.gromov.entropic_gromov_wasserstein(c1, c2, a, b, epsilon=eps, log=True, max_iter=2000, tol=1e-12,
                                                      numItermax=100_000, stopThr=1e-13)
    ours = gromov_wasserstein(x, y, epsilon=eps, metric=metric, weights=(a, b))
    assert ours.value == pytest.approx(log["gw_dist"], rel=1e-8)
    np.testing.assert_allclose(ours.plan, plan, atol=1e-8)
    # precomputed distance matrices give the same
    pre = gromov_wasserstein(c1, c2, epsilon=eps, metric="precomputed", weights=(a, b))
    assert pre.value == pytest.approx(ours.value, rel=1e-12)


def test_fused_gromov_against_pot():
    x, y = _clouds(2)
    fx, fy = x[:, :1] * 2, y[:, :1]
    m = ot.dist(fx, fy)
    c1, c2 = ot.dist(x, x), ot.dist(y, y)
    for alpha in (0.0, 0.3, 1.0):
        plan, log = ot.gromov.entropic_fused_gromov_wasserstein(m, c1, c2, epsilon=0.5, alpha=alpha, log=True,
                                                                max_iter=2000, tol=1e-12, numItermax=100_000,
                                                                stopThr=1e-13)
        ours = fused_gromov_wasserstein(x, y, (fx, fy), epsilon=0.5, alpha=alpha)
        assert ours.value == pytest.approx(log["fgw_dist"], rel=1e-8), alpha
        np.testing.assert_allclose(ours.plan, plan, atol=1e-8)


def test_gromov_isometry_invariance_and_small_epsilon():
    """A rotated, reflected, translated copy: energy 0 at small ε and the plan matches each point to its image
    (ε = 0.005, where POT's scaling-domain inner Sinkhorn overflows; at 0.05 the entropic blur shares the mass of
    two close points, energy 1.5e-3); the energy decreases with ε."""
    x, _ = _clouds(3)
    q, _ = np.linalg.qr(np.random.default_rng(4).normal(size=(2, 2)))
    res = gromov_wasserstein(x, x @ q + 7.0, epsilon=0.005)
    assert res.value < 1e-8
    assert gromov_wasserstein(x, x @ q, epsilon=0.05).value < gromov_wasserstein(x, x @ q, epsilon=0.5).value
    assert (res.plan.argmax(1) == np.arange(len(x))).all()
    # not isometric: GW > 0, and symmetric in its arguments
    y = x * np.array([1.0, 3.0])
    assert gromov_wasserstein(x, y, epsilon=0.5).value == pytest.approx(gromov_wasserstein(y, x, epsilon=0.5).value,
                                                                        rel=1e-6)


def test_gromov_failures_and_bad_input():
    x, y = _clouds(5)
    with pytest.raises(SinkhornConvergenceError, match="plan still moved"):
        gromov_wasserstein(x, y, epsilon=0.5, max_iter=1)
    with pytest.warns(UserWarning, match="plan still moved"):
        gromov_wasserstein(x, y, epsilon=0.5, max_iter=1, on_failure="warn")
    with pytest.raises(SinkhornConvergenceError, match="transport step"):
        gromov_wasserstein(x, y, epsilon=1e-3, sinkhorn_max_iter=2)
    for call, name in [(lambda: gromov_wasserstein(x, y, epsilon=0.0), "epsilon"),
                       (lambda: gromov_wasserstein(x, y, epsilon=0.1, metric="cosine"), "metric"),
                       (lambda: gromov_wasserstein(np.ones((3, 4)), y, epsilon=0.1, metric="precomputed"), "x"),
                       (lambda: gromov_wasserstein(x, y, epsilon=0.1, tol=-1.0), "tol"),
                       (lambda: fused_gromov_wasserstein(x, y, (x, y), epsilon=0.1), "features"),
                       (lambda: fused_gromov_wasserstein(x, y, (x, y[:, :2]), epsilon=0.1, alpha=2), "alpha"),
                       (lambda: fused_gromov_wasserstein(x, y, x, epsilon=0.1), "features")]:
        with pytest.raises(ValueError, match=name):
            call()


def test_free_support_barycenter_against_pot():
    rng = np.random.default_rng(6)
    measures = [rng.normal(size=(20, 2)) + k for k in range(3)]
    weights = [rng.uniform(0.5, 1.0, 20) for _ in range(3)]
    weights = [w / w.sum() for w in weights]
    lam = np.array([0.2, 0.5, 0.3])
    start = rng.normal(size=(10, 2))
    ours = wasserstein_barycenter(measures, weights=lam, measure_weights=weights, init=start)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pot = ot.lp.free_support_barycenter(measures, weights, start, weights=lam, stopThr=0.0, numItermax=100)
    np.testing.assert_allclose(ours.support, pot, atol=1e-10)
    # its cost is the weighted sum of W2² to each measure, and no worse than the start
    want = sum(w * wasserstein(ours.support, m, p=2, weights=(None, mw)) ** 2
               for w, m, mw in zip(lam, measures, weights))
    assert ours.cost == pytest.approx(want, rel=1e-9)
    start_cost = sum(w * wasserstein(start, m, p=2, weights=(None, mw)) ** 2 for w, m, mw in zip(lam, measures, weights))
    assert ours.cost <= start_cost


def test_free_support_barycenter_closed_forms():
    """Translates of one cloud: the barycenter is the cloud moved by the mean translation; one measure: itself."""
    rng = np.random.default_rng(7)
    base = rng.normal(size=(8, 2))
    shifts = np.array([[0.0, 0.0], [4.0, -2.0], [1.0, 3.0]])
    lam = np.array([0.5, 0.25, 0.25])
    res = wasserstein_barycenter([base + s for s in shifts], weights=lam, init=base + 0.01)
    np.testing.assert_allclose(np.sort(res.support, 0), np.sort(base + lam @ shifts, 0), atol=1e-10)
    one = wasserstein_barycenter([base])
    np.testing.assert_allclose(np.sort(one.support, 0), np.sort(base, 0), atol=1e-12)
    with pytest.raises(ValueError, match="measures"):
        wasserstein_barycenter([])
    with pytest.raises(ValueError, match=r"measures\[1\]"):
        wasserstein_barycenter([base, np.ones((3, 3))])
    with pytest.raises(ValueError, match="weights"):
        wasserstein_barycenter([base, base], weights=[1.0])
    with pytest.raises(ValueError, match="support_size"):
        wasserstein_barycenter([base], support_size=100)


def test_bures_barycenter_against_pot_and_closed_forms():
    rng = np.random.default_rng(8)
    a = rng.normal(size=(4, 3, 3))
    cov = a @ a.transpose(0, 2, 1) + 0.1 * np.eye(3)
    means = rng.normal(size=(4, 3))
    lam = np.array([0.1, 0.2, 0.3, 0.4])
    m, s = bures_barycenter(means, cov, weights=lam)
    mp, sp = ot.gaussian.bures_wasserstein_barycenter(means, cov, lam, num_iter=10_000, eps=1e-15)
    np.testing.assert_allclose(m, mp, atol=1e-14)
    np.testing.assert_allclose(s, sp, rtol=1e-9, atol=1e-11)
    # the fixed-point equation itself
    vals, vecs = np.linalg.eigh(s)
    root = (vecs * np.sqrt(vals)) @ vecs.T

    def sqrtm(c):
        w, v = np.linalg.eigh(c)
        return (v * np.sqrt(np.maximum(w, 0))) @ v.T

    np.testing.assert_allclose(sum(w * sqrtm(root @ c @ root) for w, c in zip(lam, cov)), s, rtol=1e-9)
    # one dimension: σ = Σ λ_k σ_k; commuting (diagonal): the square of the mean square root
    _, s1 = bures_barycenter([[0.0], [1.0], [5.0]], [[[4.0]], [[9.0]], [[1.0]]], weights=[0.5, 0.25, 0.25])
    assert s1[0, 0] == pytest.approx((0.5 * 2 + 0.25 * 3 + 0.25 * 1) ** 2, rel=1e-12)
    diag = np.array([np.diag([1.0, 4.0]), np.diag([9.0, 1e-2])])
    _, sd = bures_barycenter(np.zeros((2, 2)), diag)
    np.testing.assert_allclose(sd, np.diag([4.0, (2.0 + 0.1) ** 2 / 4]), rtol=1e-10)
    # scale: covariances of 1e-200 and 1e200 follow the homogeneity
    _, tiny = bures_barycenter(means, cov * 1e-200, weights=lam)
    np.testing.assert_allclose(tiny * 1e200, s, rtol=1e-9)


def test_bures_bad_input_and_failure():
    cov = np.array([np.eye(2), np.diag([1.0, 4.0])])
    with pytest.raises(ValueError, match="covariances"):
        bures_barycenter(np.zeros((2, 2)), cov[:, :1])
    with pytest.raises(ValueError, match=r"covariances\[1\] is not symmetric"):
        bures_barycenter(np.zeros((2, 2)), np.array([np.eye(2), [[1.0, 0.5], [0.0, 1.0]]]))
    with pytest.raises(ValueError, match=r"covariances\[0\] is not positive"):
        bures_barycenter(np.zeros((2, 2)), np.array([-np.eye(2), np.eye(2)]))
    with pytest.raises(ValueError, match="means"):
        bures_barycenter(np.zeros(2), cov)
    a = np.random.default_rng(9).normal(size=(3, 4, 4))
    with pytest.raises(SinkhornConvergenceError, match="relative change"):
        bures_barycenter(np.zeros((3, 4)), a @ a.transpose(0, 2, 1) + np.eye(4), max_iter=1)
