"""Gaussian closed forms added for issue 13 / issue 10: entropy, W2 between degenerate covariances,
KL at extreme scales (never NaN)."""

from __future__ import annotations

import numpy as np
import pytest

from divergences import gaussian


def _spd(rng, d):
    a = rng.normal(size=(d, d))
    return a @ a.T + 0.1 * np.eye(d)


def test_entropy_against_scipy_and_torch():
    from scipy.stats import multivariate_normal

    rng = np.random.default_rng(0)
    for d in (1, 3):
        cov = _spd(rng, d)
        assert gaussian.entropy(np.zeros(d), cov) == pytest.approx(multivariate_normal(np.zeros(d), cov).entropy(), rel=1e-12)
        var = rng.random(d) + 0.1
        assert gaussian.entropy(np.zeros(d), var) == pytest.approx(
            multivariate_normal(np.zeros(d), np.diag(var)).entropy(), rel=1e-12)
    torch = pytest.importorskip("torch")
    covs = np.stack([_spd(rng, 2) for _ in range(3)])
    mt = torch.zeros(3, 2, dtype=torch.float64)
    ct = torch.tensor(covs, requires_grad=True)
    ours = gaussian.entropy(mt, ct)
    ref = torch.distributions.MultivariateNormal(mt, ct).entropy()
    torch.testing.assert_close(ours, ref)
    (g,) = torch.autograd.grad(ours.sum(), ct)
    torch.testing.assert_close(g, 0.5 * torch.linalg.inv(ct.detach()))  # ∂ ½ log det Σ / ∂Σ = ½ Σ⁻¹
    # extreme scales stay finite
    assert np.isfinite(gaussian.entropy(np.zeros(2), np.full(2, 1e300)))
    assert np.isfinite(gaussian.entropy(np.zeros(2), np.eye(2) * 1e-300))


def test_w2_degenerate_covariances_against_pot():
    ot = pytest.importorskip("ot")
    from scipy.linalg import sqrtm

    rng = np.random.default_rng(1)
    for _ in range(5):
        v = rng.normal(size=(3, 1))
        s0 = v @ v.T  # rank 1
        w = rng.normal(size=(3, 2))
        s1 = w @ w.T  # rank 2
        m0, m1 = rng.normal(size=3), rng.normal(size=3)
        r1 = np.real(sqrtm(s1))
        direct = np.sum((m0 - m1) ** 2) + np.trace(s0) + np.trace(s1) - 2 * np.trace(np.real(sqrtm(r1 @ s0 @ r1)))
        ours = float(gaussian.wasserstein2(m0, s0, m1, s1))
        assert ours == pytest.approx(np.sqrt(max(direct, 0.0)), rel=1e-6, abs=1e-7)
        try:  # POT's sqrtm takes √ of eigenvalues rounded below 0: NaN, then LinAlgError, on some of these
            with np.errstate(invalid="ignore"):
                ref = float(ot.gaussian.bures_wasserstein_distance(m0, m1, s0, s1))
        except np.linalg.LinAlgError:
            ref = np.nan
        if np.isfinite(ref):
            assert ours == pytest.approx(ref, rel=1e-6, abs=1e-7)
    # a point mass against a normal: W2² = |δ|² + tr Σ
    s = _spd(rng, 2)
    assert float(gaussian.wasserstein2(np.zeros(2), np.zeros((2, 2)), np.ones(2), s, squared=True)) == pytest.approx(
        2 + np.trace(s), rel=1e-9)
    assert float(gaussian.wasserstein2(np.zeros(2), np.zeros(2), np.zeros(2), np.array([4.0, 0.0]))) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="cov1 is not positive semi-definite"):
        gaussian.wasserstein2(np.zeros(2), np.eye(2), np.zeros(2), np.diag([1.0, -1.0]))
    with pytest.raises(ValueError, match="cov0"):
        gaussian.wasserstein2(np.zeros(2), np.array([-1.0, 1.0]), np.zeros(2), np.ones(2))


@pytest.mark.parametrize("full", [False, True])
def test_kl_extreme_scales_never_nan(full):
    def cov(v):
        return np.eye(2) * v if full else np.full(2, v)

    big_small = gaussian.kl(np.zeros(2), cov(1e300), np.zeros(2), cov(1e-300))
    assert big_small == np.inf
    small_big = gaussian.kl(np.zeros(2), cov(1e-300), np.zeros(2), cov(1e300))
    # per coordinate ½(r − 1 − log r) with r = 1e-600: ½(−1 + 600 log 10)
    assert small_big == pytest.approx(2 * 0.5 * (-1 + 600 * np.log(10)), rel=1e-12)
    for a, b in [(1e-300, 1e-300), (1e300, 1e300), (1e-200, 1e200), (1e150, 1.0)]:
        value = gaussian.kl(np.zeros(2), cov(a), np.ones(2), cov(b))
        assert not np.isnan(value) and value >= 0
    # near-equal normals keep relative precision
    assert gaussian.kl(np.zeros(2), cov(1.0 + 1e-9), np.zeros(2), cov(1.0)) == pytest.approx(2 * 0.25 * 1e-18, rel=1e-6)


def test_kl_extremes_torch_gradients_finite():
    torch = pytest.importorskip("torch")
    var = torch.tensor([1e-300, 1.0, 1e300], dtype=torch.float64, requires_grad=True)
    value = gaussian.kl(torch.zeros(3, dtype=torch.float64), var, torch.zeros(3, dtype=torch.float64),
                        torch.ones(3, dtype=torch.float64))
    assert float(value.detach()) == pytest.approx(0.5 * 1e300, rel=1e-12)  # ½(r − 1 − log r), r = 1e300
    (g,) = torch.autograd.grad(value, var)
    assert not torch.isnan(g).any()
    var2 = torch.tensor([1e-300, 1.0, 3.0], dtype=torch.float64, requires_grad=True)
    value = gaussian.kl(torch.zeros(3, dtype=torch.float64), var2, torch.zeros(3, dtype=torch.float64),
                        torch.ones(3, dtype=torch.float64))
    (g,) = torch.autograd.grad(value, var2)
    assert torch.isfinite(value) and not torch.isnan(g).any()
