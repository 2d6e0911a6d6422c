"""Closed forms between normals: numerical integration (1-D), Monte Carlo (d = 5), identities, torch."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, linalg, stats

from divergences import gaussian

FUNCS = ("kl", "bhattacharyya", "hellinger", "wasserstein2")


def _spd(rng, d, shift=0.5):
    a = rng.normal(size=(d, d))
    return a @ a.T / d + shift * np.eye(d)


# -- 1-D: against numerical integration of the densities ----------------------------------------

CASES_1D = [(0.0, 1.0, 1.0, 2.0), (-1.5, 0.3, 2.0, 1.7), (0.2, 4.0, 0.1, 0.5)]


def _integrate(fn, m0, s0, m1, s1):
    lo = min(m0 - 12 * s0, m1 - 12 * s1)
    hi = max(m0 + 12 * s0, m1 + 12 * s1)
    return integrate.quad(fn, lo, hi, limit=400, epsabs=1e-13, epsrel=1e-11, points=[m0, m1])[0]


@pytest.mark.parametrize("m0,v0,m1,v1", CASES_1D)
def test_one_dimensional_against_quadrature(m0, v0, m1, v1):
    s0, s1 = math.sqrt(v0), math.sqrt(v1)
    p, q = stats.norm(m0, s0), stats.norm(m1, s1)
    args = (np.array([m0]), np.array([v0]), np.array([m1]), np.array([v1]))

    kl = _integrate(lambda t: p.pdf(t) * (p.logpdf(t) - q.logpdf(t)), m0, s0, m1, s1)
    assert gaussian.kl(*args) == pytest.approx(kl, rel=1e-7, abs=1e-10)

    bc = _integrate(lambda t: math.sqrt(p.pdf(t) * q.pdf(t)), m0, s0, m1, s1)
    assert gaussian.bhattacharyya(*args) == pytest.approx(-math.log(bc), rel=1e-7, abs=1e-10)
    assert gaussian.hellinger(*args) == pytest.approx(1 - bc, rel=1e-7, abs=1e-10)

    for alpha in (0.3, 2.0):
        if alpha * v1 + (1 - alpha) * v0 <= 0:
            continue
        integral = _integrate(lambda t, a=alpha: math.exp(a * p.logpdf(t) + (1 - a) * q.logpdf(t)), m0, s0, m1, s1)
        assert gaussian.renyi(*args, alpha=alpha) == pytest.approx(math.log(integral) / (alpha - 1), rel=1e-6)

    # W2² = ∫₀¹ (F₀⁻¹(u) − F₁⁻¹(u))² du (quantile coupling)
    w2sq = integrate.quad(lambda u: (p.ppf(u) - q.ppf(u)) ** 2, 0, 1, limit=200)[0]
    assert gaussian.wasserstein2(*args, squared=True) == pytest.approx(w2sq, rel=1e-6)


def test_renyi_infinite_when_mixture_covariance_is_not_positive_definite():
    # α v1 + (1 − α) v0 = 3·1 − 2·4 < 0
    value = gaussian.renyi(np.zeros(1), np.full(1, 4.0), np.zeros(1), np.ones(1), alpha=3.0)
    assert value == math.inf
    full = gaussian.renyi(np.zeros(2), np.diag([4.0, 1.0]), np.zeros(2), np.eye(2), alpha=3.0)
    assert full == math.inf


# -- d = 5: against Monte Carlo and an independent matrix-square-root formula ------------------


def test_monte_carlo_d5():
    rng = np.random.default_rng(1)
    d, n = 5, 200_000
    m0, m1 = rng.normal(size=d), rng.normal(size=d) * 0.5
    c0, c1 = _spd(rng, d, 1.0), _spd(rng, d, 1.0)
    x = rng.multivariate_normal(m0, c0, size=n)
    llr = stats.multivariate_normal(m0, c0).logpdf(x) - stats.multivariate_normal(m1, c1).logpdf(x)

    def close(value, samples, transform=lambda v: v):
        se = samples.std() / math.sqrt(n)
        return abs(value - transform(samples.mean())) < 5 * se * max(1.0, abs(value)) + 1e-3

    assert close(gaussian.kl(m0, c0, m1, c1), llr)
    # Bhattacharyya: −log E_P[√(q/p)];  Rényi(α): log E_P[(p/q)^{α−1}] / (α − 1)
    ratio = np.exp(-0.5 * llr)
    assert abs(gaussian.bhattacharyya(m0, c0, m1, c1) + math.log(ratio.mean())) < 5 * ratio.std() / math.sqrt(n) / ratio.mean()
    alpha = 0.7
    w = np.exp((alpha - 1) * llr)
    assert abs(gaussian.renyi(m0, c0, m1, c1, alpha=alpha) - math.log(w.mean()) / (alpha - 1)) < (
        5 * w.std() / math.sqrt(n) / w.mean() / (1 - alpha))


def test_wasserstein2_against_sqrtm_formula():
    rng = np.random.default_rng(2)
    d = 5
    m0, m1, c0, c1 = rng.normal(size=d), rng.normal(size=d), _spd(rng, d), _spd(rng, d)
    r = linalg.sqrtm(c1)
    expected = np.sum((m0 - m1) ** 2) + np.trace(c0 + c1 - 2 * linalg.sqrtm(r @ c0 @ r)).real
    assert gaussian.wasserstein2(m0, c0, m1, c1, squared=True) == pytest.approx(expected, rel=1e-10)
    assert gaussian.wasserstein2(m0, c0, m1, c1) == pytest.approx(math.sqrt(expected), rel=1e-10)


# -- identities and structure ---------------------------------------------------------------


@pytest.fixture
def pair5():
    rng = np.random.default_rng(3)
    return rng.normal(size=5), _spd(rng, 5), rng.normal(size=5), _spd(rng, 5)


def test_identities(pair5):
    b = gaussian.bhattacharyya(*pair5)
    assert b == pytest.approx(gaussian.renyi(*pair5, alpha=0.5) / 2, rel=1e-12)
    assert gaussian.hellinger(*pair5) == pytest.approx(1 - math.exp(-b), rel=1e-12)
    kl = gaussian.kl(*pair5)
    assert gaussian.renyi(*pair5, alpha=1.0) == kl
    for a in (1 - 1e-6, 1 + 1e-6):
        assert gaussian.renyi(*pair5, alpha=a) == pytest.approx(kl, rel=1e-5)
    # monotone in α
    values = [gaussian.renyi(*pair5, alpha=a) for a in (0.1, 0.5, 0.9, 1.0, 1.1)]
    assert all(np.diff(values) > 0)


def test_zero_for_equal_and_nonnegative(pair5):
    m0, c0, m1, c1 = pair5
    for name in FUNCS:
        assert abs(getattr(gaussian, name)(m0, c0, m0, c0)) < 1e-12
        assert getattr(gaussian, name)(*pair5) > 0


def test_diagonal_equals_full():
    rng = np.random.default_rng(4)
    m0, m1 = rng.normal(size=4), rng.normal(size=4)
    v0, v1 = rng.uniform(0.2, 3, 4), rng.uniform(0.2, 3, 4)
    for name in FUNCS:
        fn = getattr(gaussian, name)
        diag = fn(m0, v0, m1, v1)
        assert diag == pytest.approx(fn(m0, np.diag(v0), m1, np.diag(v1)), rel=1e-10)
        assert diag == pytest.approx(fn(m0, v0, m1, np.diag(v1)), rel=1e-10)  # mixed
    assert gaussian.renyi(m0, v0, m1, v1, alpha=2.5) == pytest.approx(
        gaussian.renyi(m0, np.diag(v0), m1, np.diag(v1), alpha=2.5), rel=1e-10)


def test_vae_kl_to_standard_normal():
    mu, var = np.array([0.5, -1.0]), np.array([0.3, 2.0])
    expected = 0.5 * np.sum(var + mu**2 - 1 - np.log(var))
    assert gaussian.kl(mu, var, np.zeros(2), np.ones(2)) == pytest.approx(expected, rel=1e-13)


def test_batched_and_broadcast():
    rng = np.random.default_rng(5)
    means = rng.normal(size=(4, 3))
    covs = np.stack([_spd(rng, 3) for _ in range(4)])
    m1, c1 = np.zeros(3), np.eye(3)
    for name in FUNCS:
        fn = getattr(gaussian, name)
        batched = fn(means, covs, m1, c1)
        assert batched.shape == (4,)
        for i in range(4):
            assert batched[i] == pytest.approx(fn(means[i], covs[i], m1, c1), rel=1e-12)
    # a (d, d) array is a full covariance unless diagonal=True
    vars3 = rng.uniform(0.5, 2, size=(3, 3))
    out = gaussian.kl(means[:3], vars3, m1, np.ones(3), diagonal=True)
    assert out.shape == (3,)
    assert out[1] == pytest.approx(gaussian.kl(means[1], vars3[1], m1, np.ones(3)), rel=1e-12)


def test_bad_input():
    z, one = np.zeros(2), np.ones(2)
    with pytest.raises(ValueError, match="cov1 is not positive definite"):
        gaussian.kl(z, np.eye(2), z, np.array([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(ValueError, match="cov0 is not positive definite"):
        gaussian.kl(z, np.array([1.0, 0.0]), z, one)
    with pytest.raises(ValueError, match="cov0 is not symmetric"):
        gaussian.kl(z, np.array([[1.0, 0.5], [0.0, 1.0]]), z, np.eye(2))
    with pytest.raises(ValueError, match="mean1 contains NaN"):
        gaussian.kl(z, one, np.array([np.nan, 0.0]), one)
    with pytest.raises(ValueError, match="dimension"):
        gaussian.kl(z, one, np.zeros(3), np.ones(3))
    with pytest.raises(ValueError, match="cov1 with shape"):
        gaussian.kl(z, one, z, np.ones(3))
    with pytest.raises(ValueError, match="alpha"):
        gaussian.renyi(z, one, z, one, alpha=0.0)


# -- torch: same values, gradients by gradcheck --------------------------------------------------


def test_torch_matches_numpy_and_gradcheck(pair5):
    torch = pytest.importorskip("torch")
    m0, c0, m1, c1 = pair5
    for name in FUNCS:
        fn = getattr(gaussian, name)
        t = [torch.tensor(a) for a in pair5]
        assert float(fn(*t)) == pytest.approx(float(fn(*pair5)), rel=1e-12)

    def sym(a):
        return a @ a.T + 0.5 * torch.eye(3, dtype=torch.float64)

    gen = torch.Generator().manual_seed(0)
    args = [torch.randn(3, dtype=torch.float64, generator=gen, requires_grad=True),
            torch.randn(3, 3, dtype=torch.float64, generator=gen, requires_grad=True),
            torch.randn(3, dtype=torch.float64, generator=gen, requires_grad=True),
            torch.randn(3, 3, dtype=torch.float64, generator=gen, requires_grad=True)]

    for name in FUNCS:
        fn = getattr(gaussian, name)
        assert torch.autograd.gradcheck(lambda a, b, c, d, f=fn: f(a, sym(b), c, sym(d)), args)
    assert torch.autograd.gradcheck(lambda a, b, c, d: gaussian.renyi(a, sym(b), c, sym(d), alpha=0.3), args)
    # diagonal (VAE) path
    mu = torch.randn(2, 3, dtype=torch.float64, generator=gen, requires_grad=True)
    logvar = torch.randn(2, 3, dtype=torch.float64, generator=gen, requires_grad=True)
    zeros, ones = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda m, lv: gaussian.kl(m, lv.exp(), zeros, ones), (mu, logvar))
    out = gaussian.kl(mu, logvar.exp(), zeros, ones)
    assert out.shape == (2,) and isinstance(out, torch.Tensor)


def test_torch_float32_stays_float32():
    torch = pytest.importorskip("torch")
    out = gaussian.kl(torch.zeros(2), torch.ones(2), torch.ones(2), torch.ones(2))
    assert out.dtype == torch.float32
    assert float(out) == pytest.approx(1.0)


def test_kl_keeps_relative_precision_for_close_normals():
    rng = np.random.default_rng(8)
    d, delta = 4, 1e-7
    c0 = _spd(rng, d)
    # Σ₁ = (1 + δ)Σ₀: KL = d/2 (1/(1+δ) − 1 + log(1+δ)), written with log1p for the reference
    expected = d / 2 * (-delta / (1 + delta) + math.log1p(delta))
    assert gaussian.kl(np.zeros(d), c0, np.zeros(d), (1 + delta) * c0) == pytest.approx(expected, rel=1e-6)
    v0 = rng.uniform(0.5, 2.0, d)
    assert gaussian.kl(np.zeros(d), v0, np.zeros(d), (1 + delta) * v0) == pytest.approx(expected, rel=1e-6)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_properties_random_normals(d, seed):
    rng = np.random.default_rng(seed)
    m0, m1 = rng.normal(size=d) * 3, rng.normal(size=d) * 3
    c0 = _spd(rng, d, 0.1) if seed % 2 else rng.uniform(0.05, 5.0, d)
    c1 = _spd(rng, d, 0.1)
    kl, b, h2 = gaussian.kl(m0, c0, m1, c1), gaussian.bhattacharyya(m0, c0, m1, c1), gaussian.hellinger(m0, c0, m1, c1)
    assert kl >= 0 and b >= 0 and 0 <= h2 <= 1
    assert b == pytest.approx(gaussian.bhattacharyya(m1, c1, m0, c0), rel=1e-9, abs=1e-12)  # symmetric
    assert gaussian.wasserstein2(m0, c0, m1, c1) == pytest.approx(gaussian.wasserstein2(m1, c1, m0, c0), rel=1e-9)
    assert gaussian.renyi(m0, c0, m1, c1, alpha=0.5) <= kl + 1e-9  # D_α non-decreasing in α
    assert 1 - math.exp(-b) == pytest.approx(h2, rel=1e-9, abs=1e-15)
