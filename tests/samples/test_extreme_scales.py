"""Samples at extreme scales: scale-invariant statistics computed scale-invariantly, homogeneous ones
following their scale law, weights whose sum overflows, one point mass against itself."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from divergences.samples import cauchy_schwarz, energy, mmd

torch = pytest.importorskip("torch")
dcor = pytest.importorskip("dcor")

from divergences.torch.objectives.dcov import ccdcov, distance_correlation, distance_covariance, jdcov  # noqa: E402

EXPONENTS = st.integers(-300, 300)


def _pair(seed=0, n=25):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    return x, x[:, :1] ** 2 + 0.5 * rng.normal(size=(n, 1))


@settings(max_examples=25, deadline=None)
@given(ex=EXPONENTS, ey=EXPONENTS)
def test_distance_correlation_and_covariance_scale_law(ex, ey):
    x, y = _pair()
    ref_cor = dcor.distance_correlation(x, y)
    ref_cov = dcor.distance_covariance_sqr(x, y)
    sx, sy = 10.0**ex, 10.0**ey
    xt, yt = torch.tensor(x * sx, requires_grad=True), torch.tensor(y * sy)
    assert float(distance_correlation(xt, yt).detach()) == pytest.approx(ref_cor, rel=1e-9)
    cov = distance_covariance(xt, yt)
    log_expected = math.log(ref_cov) + math.log(sx) + math.log(sy)
    if -700 < log_expected < 700:  # representable in float64 (away from the subnormal range)
        assert math.log(float(cov.detach())) == pytest.approx(log_expected, abs=1e-9)
        (grad,) = torch.autograd.grad(cov, xt)
        assert bool(torch.isfinite(grad).all())
    for unbiased in (True, False):
        u = float(distance_covariance(torch.tensor(x * sx), torch.tensor(y), unbiased=unbiased))
        base = float(distance_covariance(torch.tensor(x), torch.tensor(y), unbiased=unbiased))
        if 1e-290 < abs(base * sx) < 1e290:
            assert u == pytest.approx(base * sx, rel=1e-9)


@settings(max_examples=20, deadline=None)
@given(ex=EXPONENTS, ey=EXPONENTS)
def test_standardised_jdcov_and_ccdcov_scale_invariant(ex, ey):
    x, y = _pair(1)
    base = float(jdcov(torch.tensor(x), torch.tensor(y)))
    scaled = float(jdcov(torch.tensor(x * 10.0**ex), torch.tensor(y * 10.0**ey)))
    assert scaled == pytest.approx(base, rel=1e-9)
    z = torch.tensor(x[:, :1])
    base_cc = float(ccdcov(z, torch.tensor(y)))
    assert float(ccdcov(z, torch.tensor(y * 10.0**ey))) == pytest.approx(base_cc, rel=1e-9)


def test_jdcov_small_data_is_not_constant():
    x, y = _pair(2)
    assert float(jdcov(torch.tensor(x * 1e-200), torch.tensor(y * 1e-200))) > 0
    with pytest.raises(ValueError, match=r"variables\[1\] is constant"):
        jdcov(torch.tensor(x), torch.ones(len(x), 1, dtype=torch.float64))


@settings(max_examples=25, deadline=None)
@given(e=st.integers(-300, 307))
def test_energy_weights_of_any_scale(e):
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(12, 2)), rng.normal(1.0, 1.0, size=(9, 2))
    w = rng.uniform(0.1, 1.0, size=12)
    base = energy(x, y, weights=(w, None))
    # 10^e·w may hold subnormals (e < -300): they carry fewer digits, hence the tolerance
    assert energy(x, y, weights=(w * 10.0**e, None)) == pytest.approx(base, rel=1e-6)
    assert energy(x[:, 0], y[:, 0], weights=(w * 10.0**e, None)) == pytest.approx(energy(x[:, 0], y[:, 0], weights=(w, None)), rel=1e-6)
    t = energy(torch.tensor(x), torch.tensor(y), weights=(torch.tensor(w * 10.0**e), None))
    assert float(t) == pytest.approx(base, rel=1e-6)


def test_weights_whose_sum_overflows():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(10, 2)), rng.normal(1.0, 1.0, size=(8, 2))
    w = np.full(10, 1.5e308)  # the sum is inf
    assert energy(x, y, weights=(w, None)) == pytest.approx(energy(x, y), rel=1e-12)
    t = energy(torch.tensor(x), torch.tensor(y), weights=(torch.tensor(w), None))
    assert float(t) == pytest.approx(energy(x, y), rel=1e-12)


@settings(max_examples=20, deadline=None)
@given(e=st.integers(-250, 250))
def test_median_bandwidth_statistics_scale_invariant(e):
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(30, 2)), rng.normal(0.7, 1.0, size=(25, 2))
    s = 10.0**e
    assert mmd(x * s, y * s) == pytest.approx(mmd(x, y), rel=1e-9, abs=1e-15)
    assert cauchy_schwarz(x * s, y * s) == pytest.approx(cauchy_schwarz(x, y), rel=1e-9, abs=1e-15)
    assert float(mmd(torch.tensor(x * s), torch.tensor(y * s))) == pytest.approx(mmd(x, y), rel=1e-9, abs=1e-15)


@pytest.mark.parametrize("point", [0.0, 1e-250, 3e200])
def test_one_point_mass_against_itself_is_zero(point):
    x, y = np.full((5, 2), point), np.full((4, 2), point)
    assert mmd(x, y) == 0.0 and mmd(x, y, unbiased=False) == 0.0
    assert cauchy_schwarz(x, y) == 0.0
    xt = torch.tensor(x, requires_grad=True)
    value = mmd(xt, torch.tensor(y))
    assert float(value.detach()) == 0.0
    (grad,) = torch.autograd.grad(value, xt)
    assert bool((grad == 0).all())
    assert float(cauchy_schwarz(torch.tensor(x), torch.tensor(y))) == 0.0


def test_two_point_masses_use_their_distance():
    x, y = np.zeros((5, 1)), np.full((4, 1), 2.0)
    # median distance between distinct pooled points is 2: k(x, y) = e^{-1/2}
    assert mmd(x, y, unbiased=False) == pytest.approx(2 - 2 * math.exp(-0.5))


def test_data_at_the_top_of_float64():
    """Data up to 1.7e308: the power-of-two rescaling stops at 2^1023 (2^1024 overflows) and still works."""
    from divergences.samples import knn_entropy, knn_kl

    rng = np.random.default_rng(9)
    x, y = rng.normal(size=(30, 2)), rng.normal(0.5, 1.0, size=(30, 2))
    top = max(np.abs(x).max(), np.abs(y).max())
    x, y = x / top, y / top
    big = 1.7e308
    assert knn_kl(x * big, y * big) == pytest.approx(knn_kl(x, y), rel=1e-9)
    assert knn_entropy(x * big) == pytest.approx(knn_entropy(x) + 2 * math.log(big), rel=1e-12)
    assert mmd(x * big, y * big) == pytest.approx(mmd(x, y), rel=1e-9)
    assert cauchy_schwarz(x * big, y * big) == pytest.approx(cauchy_schwarz(x, y), rel=1e-9)
    assert energy(x * big, y * big) == pytest.approx(energy(x, y) * math.sqrt(big), rel=1e-9)
    assert float(mmd(torch.tensor(x * big), torch.tensor(y * big))) == pytest.approx(mmd(x, y), rel=1e-9)
    assert float(energy(torch.tensor(x * big), torch.tensor(y * big))) == pytest.approx(energy(x, y) * math.sqrt(big),
                                                                                        rel=1e-9)
