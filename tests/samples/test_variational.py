"""Variational lower bounds (f-GAN / NWJ / Donsker–Varadhan) and the causal propensity bound."""

from __future__ import annotations

import numpy as np
import pytest

import divergences as dv
from divergences.samples import causal_f_bound, donsker_varadhan_bound, f_gan_bound, nwj_bound, optimal_critic

#: every registered f-divergence (by the record's kind) and those with a closed-form conjugate (by the term's fact)
F_DIVERGENCES = dv.available("f")
WITH_CONJUGATE = [name for name in F_DIVERGENCES if dv.spec(name).term().has_conjugate]


def _pair(seed, k=6):
    rng = np.random.default_rng(seed)
    p, q = rng.random(k) + 0.05, rng.random(k) + 0.05
    return p / p.sum(), q / q.sum()


@pytest.mark.parametrize("name", WITH_CONJUGATE)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_f_gan_at_optimal_critic_equals_exact(name, seed):
    p, q = _pair(seed)
    t = optimal_critic(p, q, name)  # a non-smooth f (TV) gives a subgradient, optimal as well
    exact = float(dv.divergence(name, p, q))
    assert f_gan_bound(t, t, name, weights_p=p, weights_q=q) == pytest.approx(exact, rel=1e-10, abs=1e-14)


@pytest.mark.parametrize("name", WITH_CONJUGATE)
def test_f_gan_is_a_lower_bound_for_any_critic(name):
    """Critics away from the optimum (shrunk towards 0 and perturbed) give less; outside the conjugate's
    domain the bound is −inf (still below)."""
    p, q = _pair(5)
    exact = float(dv.divergence(name, p, q))
    best = optimal_critic(p, q, name)
    rng = np.random.default_rng(9)
    finite = 0
    for _ in range(50):
        t = rng.uniform(0.5, 1.0) * best + 0.05 * rng.normal(size=len(p))
        value = f_gan_bound(t, t, name, weights_p=p, weights_q=q)
        assert value <= exact + 1e-12
        finite += bool(np.isfinite(value))
    assert finite >= 10  # the check is not only −inf ≤ exact


def test_dv_and_nwj_kl():
    p, q = _pair(3)
    kl = float(dv.kl(p, q))
    log_ratio = np.log(p / q)
    for c in (0.0, 3.0, -50.0):  # DV is invariant to a constant shift
        assert donsker_varadhan_bound(log_ratio + c, log_ratio + c, weights_p=p, weights_q=q) == pytest.approx(kl, rel=1e-10)
    assert nwj_bound(1 + log_ratio, 1 + log_ratio, weights_p=p, weights_q=q) == pytest.approx(kl, rel=1e-10)
    # DV ≥ NWJ for any critic, both ≤ KL
    rng = np.random.default_rng(0)
    for _ in range(20):
        t = rng.normal(size=len(p))
        dvb = donsker_varadhan_bound(t, t, weights_p=p, weights_q=q)
        assert nwj_bound(t, t, weights_p=p, weights_q=q) <= dvb + 1e-12 <= kl + 2e-12
    # large critic values: no overflow
    assert np.isfinite(donsker_varadhan_bound([800.0, 0.0], [800.0, 700.0]))


def test_samples_estimate_kl_of_gaussians():
    """From samples with the optimal critic log p/q of two known normals: the bound ≈ KL."""
    rng = np.random.default_rng(1)
    x, y = rng.normal(1.0, 1.0, 200_000), rng.normal(0.0, 1.0, 200_000)
    critic = lambda z: z - 0.5  # log N(z; 1, 1) − log N(z; 0, 1)  # noqa: E731
    assert donsker_varadhan_bound(critic(x), critic(y)) == pytest.approx(0.5, abs=0.02)
    assert nwj_bound(critic(x) + 1, critic(y) + 1) == pytest.approx(0.5, abs=0.02)


def test_torch_is_differentiable_and_matches_numpy():
    torch = pytest.importorskip("torch")
    p, q = _pair(4)
    t = torch.tensor(np.log(p / q) * 0.5, dtype=torch.float64, requires_grad=True)
    for fn in (lambda a, b: donsker_varadhan_bound(a, b, weights_p=p, weights_q=q),
               lambda a, b: f_gan_bound(a, b, "pearson", weights_p=p, weights_q=q)):
        value = fn(t, t)
        assert float(value.detach()) == pytest.approx(fn(t.detach().numpy(), t.detach().numpy()), rel=1e-12)
        assert torch.autograd.gradcheck(lambda s, fn=fn: fn(s, s), (t,))
    # gradient ascent on the critic reaches the divergence
    t = torch.zeros(len(p), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([t], lr=0.1)
    for _ in range(400):
        opt.zero_grad()
        (-donsker_varadhan_bound(t, t, weights_p=p, weights_q=q)).backward()
        opt.step()
    assert float(donsker_varadhan_bound(t.detach(), t.detach(), weights_p=p, weights_q=q)) == pytest.approx(float(dv.kl(p, q)), rel=1e-4)


def test_outside_conjugate_domain_is_minus_inf():
    assert f_gan_bound([0.0], [0.5], "reverse_kl") == -np.inf
    assert f_gan_bound([0.0], [0.9], "tv") == -np.inf


def test_bad_input():
    with pytest.raises(ValueError, match="critic_p"):
        f_gan_bound([np.nan], [0.0])
    with pytest.raises(ValueError, match="critic_q"):
        donsker_varadhan_bound([0.0], [])
    with pytest.raises(ValueError, match="weights_p"):
        nwj_bound([0.0, 1.0], [0.0], weights_p=[1.0])
    with pytest.raises(ValueError, match="renyi"):
        f_gan_bound([0.0], [0.0], "renyi")
    with pytest.raises(ValueError, match="propensity"):
        causal_f_bound(0.0)
    with pytest.raises(ValueError, match="propensity"):
        causal_f_bound([0.5, float("nan")])


def _confounded(seed):
    """P(u), P(a=1 | u), P(y | a=1, u) on small discrete spaces."""
    rng = np.random.default_rng(seed)
    pu = rng.dirichlet(np.ones(3))
    pa = rng.uniform(0.1, 0.9, 3)
    py = rng.dirichlet(np.ones(4), size=3)
    e = float((pu * pa).sum())
    obs = (pu * pa) @ py / e  # P(y | A=1) = Σ_u P(u | A=1) P(y | 1, u)
    do = pu @ py  # P(y | do(A=1)) = Σ_u P(u) P(y | 1, u)
    return e, obs, do


@pytest.mark.parametrize("name", F_DIVERGENCES)
@pytest.mark.parametrize("seed", range(5))
def test_causal_bound_holds_on_confounded_models(name, seed):
    e, obs, do = _confounded(seed)
    assert float(dv.divergence(name, obs, do)) <= causal_f_bound(e, name) + 1e-12


@pytest.mark.parametrize("name", F_DIVERGENCES)
def test_causal_bound_is_sharp(name):
    """Attained when the untreated units' outcomes are disjoint from the treated ones'."""
    e = 0.3
    obs = np.array([0.5, 0.5, 0.0, 0.0])
    do = e * obs + (1 - e) * np.array([0.0, 0.0, 0.4, 0.6])
    assert causal_f_bound(e, name) == pytest.approx(float(dv.divergence(name, obs, do)), rel=1e-9)
    assert causal_f_bound(1.0, name) == 0.0


def test_causal_bound_closed_forms_and_torch():
    e = np.array([0.1, 0.5, 1.0])
    np.testing.assert_allclose(causal_f_bound(e, "kl"), -np.log(e))
    np.testing.assert_allclose(causal_f_bound(e, "tv"), 1 - e)
    assert np.isinf(causal_f_bound(0.5, "reverse_kl")) and causal_f_bound(1.0, "reverse_kl") == 0.0
    torch = pytest.importorskip("torch")
    et = torch.tensor([0.2, 0.7], dtype=torch.float64, requires_grad=True)
    value = causal_f_bound(et, "kl").sum()
    value.backward()
    np.testing.assert_allclose(et.grad.numpy(), -1 / et.detach().numpy())


@pytest.mark.parametrize(("name", "params"), [("kl", {}), ("alpha", {"alpha": 0.5}), ("js", {"beta": 0.3})])
def test_a_spec_gives_the_name_and_keywords_value(name, params):
    """Issue 20: ``dv.spec(name, **params)`` is accepted wherever the name is, with the same value."""
    p, q = _pair(4)
    d = dv.spec(name, **params)
    np.testing.assert_array_equal(optimal_critic(p, q, d), optimal_critic(p, q, name, **params))
    e = np.array([0.2, 0.7, 1.0])
    np.testing.assert_array_equal(causal_f_bound(e, d), causal_f_bound(e, name, **params))
    t = optimal_critic(p, q, d)
    assert f_gan_bound(t, t, d, weights_p=p, weights_q=q) == f_gan_bound(t, t, name, weights_p=p, weights_q=q, **params)
    assert f_gan_bound(t, t, d, weights_p=p, weights_q=q) == pytest.approx(float(d(p, q)), rel=1e-10)
    # the divergence's parameters go inside the spec, not beside it
    with pytest.raises(ValueError, match="inside dv.spec"):
        causal_f_bound(0.5, d, alpha=2.0)


def test_f_gan_needs_a_conjugate_and_an_f_divergence():
    with pytest.raises(ValueError, match="conjugate"):  # a user generator has no closed-form f*
        f_gan_bound([0.0], [0.0], lambda t: (t - 1) ** 2)
    with pytest.raises(ValueError, match="not an f-divergence"):
        causal_f_bound(0.5, dv.spec("renyi", alpha=2.0))
    with pytest.raises(ValueError, match="takes no parameter"):
        optimal_critic([0.5], [0.5], "kl", beta=0.3)
