"""Information projections (M and I) against numerical optimisation with SciPy, closed forms (the binomial
MLE, the saturated family), Csiszár's Pythagorean identities, and gradients by gradcheck."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize, special

from divergences.projection import Projection, i_projection, m_projection


def _kl(a, b):
    m = a > 0
    return float(np.sum(a[m] * np.log(a[m] / b[m])))


def _family(theta, stats, log_base):
    z = log_base + stats @ theta
    return np.exp(z - special.logsumexp(z))


def _problem(seed, n=25, d=2):
    rng = np.random.default_rng(seed)
    x = np.linspace(-2, 2, n)
    stats = np.stack([x, x**2, np.sin(3 * x)][:d], axis=1)
    return rng.dirichlet(np.ones(n)), stats, rng.uniform(0.2, 2.0, n)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("d", [1, 2, 3])
def test_m_projection_matches_scipy_on_the_dual(seed, d):
    p, stats, h = _problem(seed, d=d)
    mu = p @ stats

    def dual(theta):  # A(θ) − θ·μ and its gradient, written independently of the module
        z = np.log(h) + stats @ theta
        a = special.logsumexp(z)
        return a - theta @ mu, np.exp(z - a) @ stats - mu

    ref = optimize.minimize(dual, np.zeros(d), jac=True, method="BFGS", options={"gtol": 1e-12, "maxiter": 10_000})
    got = m_projection(p, stats, base=h)
    assert isinstance(got, Projection)
    np.testing.assert_allclose(got.natural_parameters, ref.x, rtol=1e-6, atol=1e-7)
    q_ref = _family(ref.x, stats, np.log(h))
    np.testing.assert_allclose(got.distribution, q_ref, atol=1e-9)
    np.testing.assert_allclose(got.moments, mu, atol=1e-9)
    assert got.kl == pytest.approx(_kl(p, q_ref), abs=1e-9)
    assert got.log_partition == pytest.approx(special.logsumexp(np.log(h) + stats @ got.natural_parameters))


@pytest.mark.parametrize("seed", [0, 3])
def test_i_projection_matches_the_constrained_primal_solved_by_scipy(seed):
    p, stats, _ = _problem(seed, n=12, d=2)
    target = np.array([0.3, 1.1])
    cons = [{"type": "eq", "fun": lambda q: q.sum() - 1}, {"type": "eq", "fun": lambda q: q @ stats - target}]

    def primal(q):
        q = np.clip(q, 1e-300, None)
        return float(np.sum(q * np.log(q / p))), np.log(q / p) + 1

    ref = optimize.minimize(primal, p.copy(), jac=True, method="SLSQP", bounds=[(0, 1)] * len(p), constraints=cons,
                            options={"ftol": 1e-15, "maxiter": 1000})
    got = i_projection(p, stats, target)
    np.testing.assert_allclose(got.distribution, ref.x, atol=2e-6)
    np.testing.assert_allclose(got.moments, target, atol=1e-9)
    assert got.kl == pytest.approx(_kl(got.distribution, p), abs=1e-12)
    # KL(q*‖p) = θ·t − A(θ), A the cumulant generating function of T under p
    theta = got.natural_parameters
    assert got.kl == pytest.approx(theta @ target - special.logsumexp(np.log(p) + stats @ theta), abs=1e-10)
    assert got.kl <= ref.fun + 1e-9


def test_pythagorean_identities():
    p, stats, h = _problem(4)
    m = m_projection(p, stats, base=h)
    rng = np.random.default_rng(5)
    for _ in range(3):  # any member r of the family: KL(p‖r) = KL(p‖q*) + KL(q*‖r)
        r = _family(rng.normal(size=2), stats, np.log(h))
        assert _kl(p, r) == pytest.approx(m.kl + _kl(m.distribution, r), rel=1e-9)
    target = np.array([0.2, 1.5])
    proj = i_projection(p, stats, target)
    for w in (0.2, 0.7):  # any q with the moments: KL(q‖p) = KL(q‖q*) + KL(q*‖p)
        other = i_projection(rng.dirichlet(np.ones(len(p))), stats, target).distribution
        q = w * other + (1 - w) * proj.distribution
        np.testing.assert_allclose(q @ stats, target, atol=1e-9)
        assert _kl(q, p) == pytest.approx(_kl(q, proj.distribution) + proj.kl, rel=1e-9)


def test_m_projection_of_samples_is_the_binomial_mle():
    n_trials = 10
    support = np.arange(n_trials + 1)
    rng = np.random.default_rng(6)
    samples = rng.binomial(n_trials, 0.3, size=500)
    counts = np.bincount(samples, minlength=n_trials + 1)
    base = special.comb(n_trials, support)
    got = m_projection(counts, support.astype(float), base=base, normalize=True)
    pi_hat = samples.mean() / n_trials
    assert got.natural_parameters[0] == pytest.approx(math.log(pi_hat / (1 - pi_hat)), rel=1e-9)
    from scipy.stats import binom

    np.testing.assert_allclose(got.distribution, binom.pmf(support, n_trials, pi_hat), atol=1e-12)


def test_saturated_family_returns_p_and_dependent_statistics_change_nothing():
    p, stats, h = _problem(7, n=6)
    onehot = np.eye(6)[:, :-1]  # every distribution on 6 points is a member
    sat = m_projection(p, onehot)
    np.testing.assert_allclose(sat.distribution, p, atol=1e-10)
    assert abs(sat.kl) < 1e-10
    one = m_projection(p, stats[:, :1], base=h)
    twice = m_projection(p, np.concatenate([stats[:, :1], 2 * stats[:, :1]], axis=1), base=h)
    np.testing.assert_allclose(twice.distribution, one.distribution, atol=1e-10)
    assert twice.kl == pytest.approx(one.kl, abs=1e-10)


def test_zero_probabilities_and_zero_base():
    p = np.array([0.0, 0.5, 0.5, 0.0])
    stats = np.array([0.0, 1.0, 2.0, 3.0])
    r = i_projection(p, stats, [1.2])
    assert r.distribution[0] == 0 and r.distribution[3] == 0  # the tilt stays on the support of p
    assert r.distribution @ stats == pytest.approx(1.2)
    m = m_projection(p, stats, base=np.array([0.0, 1.0, 1.0, 1.0]))
    assert m.distribution[0] == 0
    with pytest.raises(ValueError, match="base is 0"):
        m_projection(np.full(4, 0.25), stats, base=np.array([0.0, 1.0, 1.0, 1.0]))


def test_boundary_moments_converge_to_the_closure_and_outside_moments_are_refused():
    stats = np.arange(5.0)
    r = m_projection(np.array([1.0, 0, 0, 0, 0]), stats)  # all mass at an extreme point: θ → −∞
    assert r.distribution[0] > 1 - 1e-9 and r.natural_parameters[0] < -15
    with pytest.raises(ValueError, match="outside the range"):
        i_projection(np.full(5, 0.2), stats, [4.5 + 1.0])
    # inside each coordinate's range but outside the hull of (x, x²): Newton cannot match it
    two = np.stack([stats, stats**2], axis=1)
    with pytest.raises(ValueError, match="not matched"):
        i_projection(np.full(5, 0.2), two, [2.0, 1.0], max_iter=50)  # E[x²] ≥ E[x]² = 4 > 1


def test_torch_gradients_by_gradcheck_and_the_implicit_derivative():
    torch = pytest.importorskip("torch")
    p, stats, h = _problem(8, n=9)
    pt = torch.tensor(p, requires_grad=True)
    st = torch.tensor(stats, requires_grad=True)
    ht = torch.tensor(h, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b, c: m_projection(a, b, base=c, normalize=True, tol=1e-13).kl, (pt, st, ht))
    target = torch.tensor([0.1, 1.2], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, t: i_projection(a, st.detach(), t, normalize=True, tol=1e-13).distribution, (pt, target))
    # dθ/dt = Cov_q(T)⁻¹
    r = i_projection(pt.detach(), st.detach(), target, tol=1e-13)
    jac = torch.stack([torch.autograd.grad(r.natural_parameters[i], target, retain_graph=True)[0] for i in range(2)])
    q = r.distribution.detach()
    m = q @ st.detach()
    cov = ((st.detach() - m) * q[:, None]).T @ (st.detach() - m)
    assert torch.allclose(jac, torch.linalg.inv(cov), atol=1e-8)


def test_backends_and_dtypes():
    torch = pytest.importorskip("torch")
    p, stats, _ = _problem(9, n=7)
    r = m_projection(torch.tensor(p, dtype=torch.float32), torch.tensor(stats, dtype=torch.float32))
    assert isinstance(r.distribution, torch.Tensor) and r.distribution.dtype == torch.float32
    ref = m_projection(p, stats)
    np.testing.assert_allclose(r.distribution.numpy(), ref.distribution, atol=1e-6)
    assert isinstance(ref.distribution, np.ndarray)
    with pytest.raises(ValueError, match="different array libraries"):
        m_projection(torch.tensor(p), stats)


def test_bad_inputs_are_named():
    p, stats, _ = _problem(10, n=5)
    with pytest.raises(ValueError, match="p does not sum to 1"):
        m_projection(p * 2, stats)
    with pytest.raises(ValueError, match="negative"):
        m_projection(np.array([1.2, -0.2, 0, 0, 0]), stats)
    with pytest.raises(ValueError, match="p contains NaN"):
        m_projection(np.array([np.nan, 1, 0, 0, 0]), stats)
    with pytest.raises(ValueError, match="statistics must have shape"):
        m_projection(p, stats[:4])
    with pytest.raises(ValueError, match="statistics contains"):
        m_projection(p, np.full((5, 2), np.inf))
    with pytest.raises(ValueError, match="base must have shape"):
        m_projection(p, stats, base=np.ones(3))
    with pytest.raises(ValueError, match="moments must have shape"):
        i_projection(p, stats, [0.0])
    with pytest.raises(ValueError, match="moments must be given"):
        i_projection(p, stats, None)
    with pytest.raises(ValueError, match="max_iter"):
        m_projection(p, stats, max_iter=0)
    with pytest.raises(ValueError, match="tol"):
        m_projection(p, stats, tol=-1)
    with pytest.raises(ValueError, match="normalize"):
        m_projection(p, stats, normalize="yes")
    with pytest.raises(ValueError, match="zero total mass"):
        m_projection(np.zeros(5), stats, normalize=True)
