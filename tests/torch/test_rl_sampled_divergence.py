"""sampled_divergence: exact unbiasedness by enumeration, control variates, gradients, extremes."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import divergences as dv
from divergences.core import record as registry
from divergences.core import terms
from divergences.torch import kl_penalty, sampled_divergence

#: non-default parameters exercised besides every built-in f-divergence at its defaults (a new one joins by itself)
PARAMS = [
    ("js", {"beta": 0.2}), ("alpha", {"alpha": -0.7}), ("alpha", {"alpha": 2.5}), ("alpha", {"alpha": 0.0}),
    ("alpha", {"alpha": 1.0}), ("skew_kl", {"skew": 0.1}), ("skew_reverse_kl", {"skew": 0.3}),
]
CASES = [(n, {}) for n in registry.available("f") if registry.get(n).builtin] + PARAMS
IDS = [f"{n}-{p}" if p else n for n, p in CASES]


def _pair(seed, n=6, zeros_in=None):
    rng = np.random.default_rng(seed)
    p, q = rng.gamma(1.0, size=n), rng.gamma(1.0, size=n)
    if zeros_in == "q":
        q[[1, 4]] = 0.0
    if zeros_in == "p":
        p[[0, 3]] = 0.0
    return p / p.sum(), q / q.sum()


def _expectation(p, q, name, params, side, cv, clip=None):
    """E over the sampling side of the per-sample values, every category an item (enumeration)."""
    with np.errstate(divide="ignore"):
        logp, logq = torch.tensor(np.log(p)), torch.tensor(np.log(q))
    weights = p if side == "p" else q
    keep = weights > 0
    v = sampled_divergence(logp[keep], logq[keep], dv.spec(name, **params), samples_from=side, control_variate=cv, clip=clip)
    return float((torch.tensor(weights[keep]) * v).sum()), v.numpy(), weights[keep]


@pytest.mark.parametrize("side", ["p", "q"])
@pytest.mark.parametrize("cv", [False, True])
@pytest.mark.parametrize(("name", "params"), CASES, ids=IDS)
def test_unbiased_by_enumeration(name, params, side, cv):
    for seed in range(3):
        p, q = _pair(seed)
        mean, _, _ = _expectation(p, q, name, params, side, cv)
        exact = float(dv.divergence(name, p, q, **params))
        assert mean == pytest.approx(exact, rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("side", ["p", "q"])
@pytest.mark.parametrize(("name", "params"), CASES, ids=IDS)
def test_zeros_on_the_unsampled_side_are_exact(name, params, side):
    # samples from P see q = 0 (value p·lim f(t)/t); samples from Q see p = 0 (value q·f(0)):
    # the sampled side's support contains the other's, so the mean is still the divergence
    p, q = _pair(7, zeros_in="q" if side == "p" else "p")
    mean, _, _ = _expectation(p, q, name, params, side, cv=True)
    exact = float(dv.divergence(name, p, q, **params))
    if math.isinf(exact):
        assert mean == math.inf
    else:
        assert mean == pytest.approx(exact, rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("side", ["p", "q"])
@pytest.mark.parametrize(("name", "params"), CASES, ids=IDS)
def test_control_variate_values_are_nonnegative(name, params, side):
    p, q = _pair(3)
    _, v, _ = _expectation(p, q, name, params, side, cv=True)
    assert (v >= -1e-12).all()


def _variance(values, weights):
    mean = (weights * values).sum()
    return float((weights * (values - mean) ** 2).sum())


@pytest.mark.parametrize("side", ["p", "q"])
@pytest.mark.parametrize(
    ("name", "params"),
    [("kl", {}), ("reverse_kl", {}), ("skew_kl", {"skew": 0.1}), ("skew_reverse_kl", {"skew": 0.3}),
     ("alpha", {"alpha": 1.0})],
)
def test_control_variate_lowers_the_variance(name, params, side):
    # policies a few tens of percent apart, as between a policy and its reference
    rng = np.random.default_rng(11)
    p = rng.gamma(1.0, size=50)
    p /= p.sum()
    q = p * np.exp(0.3 * rng.standard_normal(50))
    q /= q.sum()
    _, plain, w = _expectation(p, q, name, params, side, cv=False)
    _, controlled, _ = _expectation(p, q, name, params, side, cv=True)
    exact_plain, exact_cv = _variance(plain, w), _variance(controlled, w)
    assert exact_cv < 0.2 * exact_plain
    # and measured on simulated samples: same mean (within 4 standard errors), smaller spread
    gen = torch.Generator().manual_seed(0)
    idx = torch.multinomial(torch.tensor(w), 20000, replacement=True, generator=gen)
    sim_plain, sim_cv = torch.tensor(plain)[idx], torch.tensor(controlled)[idx]
    exact = float(dv.divergence(name, p, q, **params))
    for sim in (sim_plain, sim_cv):
        assert abs(float(sim.mean()) - exact) < 4 * float(sim.std()) / math.sqrt(len(sim))
    assert float(sim_cv.var()) < 0.2 * float(sim_plain.var())


@pytest.mark.parametrize("name", ["js", "tv", "hellinger", "pearson", "neyman", "triangular", "jeffreys"])
def test_control_variate_is_a_no_op_when_f_prime_one_is_zero(name):
    p, q = _pair(4)
    for side in "pq":
        _, plain, _ = _expectation(p, q, name, {}, side, cv=False)
        _, controlled, _ = _expectation(p, q, name, {}, side, cv=True)
        np.testing.assert_array_equal(plain, controlled)


def test_k3_is_the_control_variate_of_kl_and_reverse_kl():
    rng = np.random.default_rng(5)
    lp, ref = torch.tensor(rng.normal(-3, 1, 20)), torch.tensor(rng.normal(-3, 1, 20))
    k3 = kl_penalty(lp, ref, "k3")
    torch.testing.assert_close(sampled_divergence(ref, lp, "reverse_kl", samples_from="q"), k3)
    torch.testing.assert_close(sampled_divergence(lp, ref, "kl", samples_from="p"), k3)


def test_user_generators_work():
    # f(t) = t² − 1 generates Pearson χ² with f'(1) = 2: its control variate is Pearson's own term
    registry.register("test_rl_shifted_pearson", lambda t: t * t - 1)
    try:
        p, q = _pair(9)
        for side in "pq":
            for cv in (False, True):
                mean, v, _ = _expectation(p, q, "test_rl_shifted_pearson", {}, side, cv)
                assert mean == pytest.approx(float(dv.pearson(p, q)), rel=1e-8)
            _, own, _ = _expectation(p, q, "pearson", {}, side, cv=True)
            np.testing.assert_allclose(v, own, rtol=1e-6, atol=1e-9)
    finally:
        registry.unregister("test_rl_shifted_pearson")
    # a Generator object and a bare callable are accepted as well
    gen = terms.Generator(lambda t: (t - 1) ** 2, f_prime=lambda t: 2 * (t - 1))
    lp, lq = torch.tensor([-1.0, -2.0]), torch.tensor([-1.5, -1.0])
    expected = sampled_divergence(lp, lq, "pearson")
    torch.testing.assert_close(sampled_divergence(lp, lq, gen), expected)
    torch.testing.assert_close(sampled_divergence(lp, lq, lambda t: (t - 1) ** 2), expected)


@pytest.mark.parametrize("side", ["p", "q"])
@pytest.mark.parametrize(("name", "params"), CASES, ids=IDS)
def test_gradcheck(name, params, side):
    gen = torch.Generator().manual_seed(1)
    a = (-3 * torch.rand(5, generator=gen, dtype=torch.float64)).requires_grad_()
    b = (-3 * torch.rand(5, generator=gen, dtype=torch.float64)).requires_grad_()
    torch.autograd.gradcheck(lambda x, y: sampled_divergence(x, y, dv.spec(name, **params), samples_from=side), (a, b))


@pytest.mark.parametrize("side", ["p", "q"])
@pytest.mark.parametrize(("name", "params"), CASES, ids=IDS)
def test_log_ratios_of_100_in_float32_stay_finite(name, params, side):
    vals = torch.tensor([-100.0, -30.0, 0.0, 30.0, 100.0])
    a = vals.repeat_interleave(5).clone().requires_grad_()
    b = vals.repeat(5).clone().requires_grad_()
    v = sampled_divergence(a, b, dv.spec(name, **params), samples_from=side)
    assert v.dtype == torch.float32
    assert torch.isfinite(v).all()
    v.sum().backward()
    assert torch.isfinite(a.grad).all() and torch.isfinite(b.grad).all()


def test_beyond_the_limit_the_log_tail_stays_exact():
    # forward KL from reference samples: log r + 1/r − 1, linear in ℓ = log r for large ℓ
    ell = torch.tensor([50.0, 400.0, 2000.0], dtype=torch.float64, requires_grad=True)
    v = sampled_divergence(ell, torch.zeros(3, dtype=torch.float64), "kl", samples_from="p")
    torch.testing.assert_close(v, ell.detach() - 1 + torch.exp(-ell.detach()))
    v.sum().backward()
    torch.testing.assert_close(ell.grad, 1 - torch.exp(-ell.detach()))


def test_dtypes_and_shapes():
    lp = torch.zeros(3, 1, dtype=torch.float16)
    lq = torch.full((4,), -1.0, dtype=torch.bfloat16)
    out = sampled_divergence(lp, lq, "kl")
    assert out.shape == (3, 4) and out.dtype == torch.float32
    assert sampled_divergence(torch.zeros(2, dtype=torch.float64), torch.zeros(2), "js").dtype == torch.float64


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"samples_from": "r"}, "samples_from"),
        ({"divergence": "renyi"}, "not an f-divergence"),
        ({"divergence": "cross_entropy"}, "not an f-divergence"),
        ({"divergence": "no_such_divergence"}, "unknown divergence"),
        ({"clip": -1.0}, "clip"),

    ],
)
def test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sampled_divergence(torch.zeros(2), torch.zeros(2), **kwargs)


def test_shapes_must_broadcast():
    with pytest.raises(ValueError, match="logp and logq must broadcast"):
        sampled_divergence(torch.zeros(2), torch.zeros(3))


@settings(max_examples=12, deadline=None)
@given(st.lists(st.floats(-60.0, 60.0), min_size=1, max_size=8), st.sampled_from(["p", "q"]))
def test_property_control_variate_values_are_nonnegative_and_finite(ells, side):
    ell = torch.tensor(ells, dtype=torch.float64)
    for name, params in CASES:
        v = sampled_divergence(ell, torch.zeros_like(ell), dv.spec(name, **params), samples_from=side)
        assert torch.isfinite(v).all()
        assert (v >= -1e-9 * (1 + v.abs())).all(), (name, params)


def test_divergence_parameters_travel_inside_the_divergence():
    with pytest.raises(ValueError, match="parameter"):
        sampled_divergence(torch.zeros(2), torch.zeros(2), dv.spec("alpha", skew=0.1))
    with pytest.raises(TypeError, match=r"divergence=dv.spec\('alpha', alpha=...\)"):
        sampled_divergence(torch.zeros(2), torch.zeros(2), "alpha", alpha=0.5)  # type: ignore[call-arg]
