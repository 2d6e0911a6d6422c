"""Nearly equal normals keep their digits: KL, Rényi, Bhattacharyya, Hellinger against 60-digit mpmath."""

from __future__ import annotations

import numpy as np
import pytest

from divergences import gaussian

mpmath = pytest.importorskip("mpmath")
mp = mpmath.mp


def _mp_matrix(a):
    a = np.diag(a) if np.ndim(a) == 1 else a
    return mpmath.matrix([[mpmath.mpf(float(v)) for v in row] for row in np.atleast_2d(a)])


def _mp_reference(m0, c0, m1, c1, alpha):
    """Rényi D_α (α ≠ 1) or KL (α = 1) from the float64 inputs, in 60-digit arithmetic (direct formulas)."""
    with mp.workdps(60):
        s0, s1 = _mp_matrix(c0), _mp_matrix(c1)
        delta = mpmath.matrix([mpmath.mpf(float(b)) - mpmath.mpf(float(a)) for a, b in zip(m0, m1)])
        d = len(m0)
        if alpha == 1:
            inv1 = s1**-1
            tr = sum((inv1 * s0)[i, i] for i in range(d))
            maha = (delta.T * inv1 * delta)[0, 0]
            return mpmath.mpf("0.5") * (tr - d + maha + mpmath.log(mpmath.det(s1)) - mpmath.log(mpmath.det(s0)))
        a = mpmath.mpf(alpha)
        sa = a * s1 + (1 - a) * s0
        maha = (delta.T * sa**-1 * delta)[0, 0]
        logdets = mpmath.log(mpmath.det(sa)) - (1 - a) * mpmath.log(mpmath.det(s0)) - a * mpmath.log(mpmath.det(s1))
        return a / 2 * maha - logdets / (2 * (a - 1))


def _case(delta, full, shift_mean, seed=0):
    rng = np.random.default_rng(seed)
    d = 3
    m0 = rng.normal(size=d)
    m1 = m0 + delta * rng.normal(size=d) if shift_mean else m0.copy()
    if full:
        a = rng.normal(size=(d, d))
        c0 = a @ a.T / d + np.eye(d)
        e = rng.normal(size=(d, d))
        c1 = c0 + delta * (e + e.T)
    else:
        c0 = rng.uniform(0.5, 2.0, size=d)
        c1 = c0 * (1 + delta * rng.normal(size=d))
    return m0, c0, m1, c1


DELTAS = [1e-4, 1e-6, 1e-8, 1e-10, 1e-12]


@pytest.mark.parametrize("delta", DELTAS)
@pytest.mark.parametrize("full", [True, False])
@pytest.mark.parametrize("shift_mean", [True, False])
def test_near_equal_normals_against_mpmath(delta, full, shift_mean):
    m0, c0, m1, c1 = _case(delta, full, shift_mean)
    args = (m0, c0, m1, c1)
    tol = 1e-9
    kl = _mp_reference(*args, 1)
    assert float(gaussian.kl(*args)) == pytest.approx(float(kl), rel=tol, abs=0)
    for alpha in (0.3, 0.5, 2.0):
        ref = _mp_reference(*args, alpha)
        assert float(gaussian.renyi(*args, alpha=alpha)) == pytest.approx(float(ref), rel=tol, abs=0)
    half = _mp_reference(*args, 0.5)
    with mp.workdps(60):
        d_b = half / 2
        hel = -mpmath.expm1(-d_b)
    assert float(gaussian.bhattacharyya(*args)) == pytest.approx(float(d_b), rel=tol, abs=0)
    value = float(gaussian.hellinger(*args))
    assert value > 0 and value == pytest.approx(float(hel), rel=tol, abs=0)


@pytest.mark.parametrize("delta", [1e-3, 0.05, 0.3, 0.45, 0.6, 2.0])
def test_both_sides_of_the_series_and_near_switches(delta):
    """Around |μ| = 0.1 (series ↔ direct) and ½ (eigenvalue ↔ Cholesky forms) the values stay exact."""
    for full in (True, False):
        m0, c0, m1, c1 = _case(delta / 3, full, True, seed=1)
        args = (m0, c0, m1, c1)
        assert float(gaussian.kl(*args)) == pytest.approx(float(_mp_reference(*args, 1)), rel=1e-11, abs=0)
        for alpha in (0.3, 2.0, 5.0):
            value = float(gaussian.renyi(*args, alpha=alpha))
            mix = alpha * (c1 if full else np.diag(c1)) + (1 - alpha) * (c0 if full else np.diag(c0))
            if np.linalg.eigvalsh(mix)[0] <= 0:
                assert value == np.inf
                continue
            assert value == pytest.approx(float(_mp_reference(*args, alpha)), rel=1e-10, abs=0)


def test_near_equal_torch_matches_numpy_and_gradients_finite():
    torch = pytest.importorskip("torch")
    m0, c0, m1, c1 = _case(1e-9, True, True)
    tensors = [torch.tensor(a, requires_grad=True) for a in (m0, c0, m1, c1)]
    for name in ("kl", "bhattacharyya", "hellinger"):
        value = getattr(gaussian, name)(*tensors)
        assert float(value.detach()) == pytest.approx(float(getattr(gaussian, name)(m0, c0, m1, c1)), rel=1e-12)
        grads = torch.autograd.grad(value, tensors)
        assert all(bool(torch.isfinite(g).all()) for g in grads)
    value = gaussian.renyi(*tensors, alpha=0.3)
    assert float(value.detach()) == pytest.approx(float(gaussian.renyi(m0, c0, m1, c1, alpha=0.3)), rel=1e-12)


def test_near_equal_gradcheck():
    torch = pytest.importorskip("torch")
    m0, c0, m1, c1 = _case(1e-3, True, True)
    m0t, m1t = torch.tensor(m0, requires_grad=True), torch.tensor(m1, requires_grad=True)
    a0 = torch.tensor(np.linalg.cholesky(c0), requires_grad=True)
    a1 = torch.tensor(np.linalg.cholesky(c1), requires_grad=True)
    for fn in (gaussian.kl, gaussian.bhattacharyya, lambda *a: gaussian.renyi(*a, alpha=2.0)):
        assert torch.autograd.gradcheck(lambda p, q, r, s, f=fn: f(p, q @ q.T, r, s @ s.T), (m0t, a0, m1t, a1))
