"""f_prime, f_weight (r²f''(r)) and SequenceMatch's χ² mixture, against closed forms."""

import math

import numpy as np
import pytest
import torch

import divergences as dv
from divergences.core import record as registry
from divergences.torch import f_prime, f_weight, sequence_match_chi2

ELL = torch.linspace(-6.0, 6.0, 25, dtype=torch.float64)


def _closed_forms():
    """(name, params, f'(r), r²f''(r)) written from the generators' formulas, in the registry's scale."""
    b, lam = 0.3, 0.2
    return [
        ("kl", {}, lambda r: torch.log(r) + 1, lambda r: r),
        ("reverse_kl", {}, lambda r: -1 / r, lambda r: torch.ones_like(r)),
        ("jeffreys", {}, lambda r: torch.log(r) + 1 - 1 / r, lambda r: 1 + r),
        ("js", {}, lambda r: 0.5 * torch.log(2 * r / (r + 1)), lambda r: 0.5 * r / (1 + r)),
        ("js", {"beta": b}, lambda r: b * torch.log(r / (b * r + 1 - b)), lambda r: b * (1 - b) * r / (b * r + 1 - b)),
        ("hellinger", {}, lambda r: 0.5 * (1 - r**-0.5), lambda r: 0.25 * r**0.5),
        ("pearson", {}, lambda r: 2 * (r - 1), lambda r: 2 * r**2),
        ("neyman", {}, lambda r: 1 - r**-2, lambda r: 2 / r),
        ("triangular", {}, lambda r: (r - 1) * (r + 3) / (r + 1) ** 2, lambda r: 8 * r**2 / (r + 1) ** 3),
        ("alpha", {"alpha": 0.5}, lambda r: (r**-0.5 - 1) / -0.5, lambda r: r**0.5),
        ("alpha", {"alpha": 1 - 1e-9}, lambda r: torch.log(r), lambda r: r),
        ("skew_kl", {"skew": lam}, lambda r: torch.log(r / (lam * r + 1 - lam)) + (1 - lam) / (lam * r + 1 - lam),
         lambda r: (1 - lam) ** 2 * r / (lam * r + 1 - lam) ** 2),
    ]


@pytest.mark.parametrize(("name", "params", "fp", "w"), _closed_forms(), ids=lambda x: x if isinstance(x, str) else "")
def test_closed_forms(name, params, fp, w):
    r = torch.exp(ELL)
    torch.testing.assert_close(f_prime(ELL, dv.spec(name, **params)), fp(r), rtol=1e-7, atol=1e-6)
    torch.testing.assert_close(f_weight(ELL, dv.spec(name, **params)), w(r), rtol=1e-7, atol=1e-9)


def test_reference_weights_up_to_the_registry_scale():
    # REFERENCE: reverse KL 1, forward KL r, JS r/(1+r), Neyman 1/r, Hellinger √r, Jeffreys 1+r
    r = torch.exp(ELL)
    for name, scale, ref in [("reverse_kl", 1, torch.ones_like(r)), ("kl", 1, r), ("js", 0.5, r / (1 + r)),
                             ("neyman", 2, 1 / r), ("hellinger", 0.25, r.sqrt()), ("jeffreys", 1, 1 + r)]:
        torch.testing.assert_close(f_weight(ELL, name), scale * ref)


def test_user_generator_numerical_derivatives():
    registry.register("test_rl_weight_user", lambda t: (t - 1) ** 2 / (t + 1))  # triangular, f only
    try:
        ell = torch.linspace(-4.0, 4.0, 17, dtype=torch.float64)
        torch.testing.assert_close(f_prime(ell, "test_rl_weight_user"), f_prime(ell, "triangular"), rtol=1e-6, atol=1e-8)
        torch.testing.assert_close(f_weight(ell, "test_rl_weight_user"), f_weight(ell, "triangular"), rtol=1e-4, atol=1e-6)
    finally:
        registry.unregister("test_rl_weight_user")


def test_gradcheck_f_prime():
    ell = torch.tensor([-2.0, -0.3, 0.4, 1.7], dtype=torch.float64, requires_grad=True)
    for name in ("kl", "reverse_kl", "js", "hellinger", "alpha"):
        torch.autograd.gradcheck(lambda x, n=name: f_prime(x, n), (ell,))
    torch.autograd.gradcheck(lambda x: f_weight(x, "js"), (ell,))


@pytest.mark.parametrize("name", sorted(n for n in registry.available("f")
                                        if registry.get(n).builtin))
def test_log_ratios_of_100_in_float32_stay_finite(name):
    for fn in (f_prime, f_weight):
        ell = torch.tensor([-100.0, -1.0, 0.0, 1.0, 100.0], requires_grad=True)
        value = fn(ell, name)
        assert value.dtype == torch.float32 and torch.isfinite(value).all()
        value.sum().backward()
        assert torch.isfinite(ell.grad).all()


def test_f_prime_beyond_the_limit_continues_the_log():
    ell = torch.tensor([500.0, -500.0], dtype=torch.float64)
    torch.testing.assert_close(f_prime(ell, "kl"), ell + 1)


def test_bad_input():
    with pytest.raises(ValueError, match="not an f-divergence"):
        f_weight(torch.zeros(2), "bhattacharyya")
    with pytest.raises(ValueError, match="log_ratio"):
        f_prime(object(), "kl")


# --- SequenceMatch -----------------------------------------------------------------------------


def _chi2_mixture(p, q):
    m = (p + q) / 2
    return ((p - m) ** 2 / m).sum(-1)


def test_sequence_match_exact_matches_definition():
    rng = np.random.default_rng(3)
    p, q = rng.dirichlet(np.ones(7), size=4), rng.dirichlet(np.ones(7), size=4)
    p[0, 2] = 0.0
    p[0] /= p[0].sum()
    with np.errstate(divide="ignore"):
        logp = np.log(p)
    got = sequence_match_chi2(torch.tensor(logp), torch.tensor(np.log(q)))
    np.testing.assert_allclose(got.numpy(), _chi2_mixture(p, q), rtol=1e-12)
    np.testing.assert_allclose(got.numpy(), 0.5 * dv.triangular(p, q), rtol=1e-12)
    assert ((got >= 0) & (got <= 1)).all()
    logits = torch.tensor([[1e4, 0.0, -1e4]], dtype=torch.float32)
    out = sequence_match_chi2(torch.log_softmax(logits, -1), torch.log_softmax(-logits, -1))
    assert torch.isfinite(out).all() and float(out) == pytest.approx(1.0)


def test_sequence_match_samples_are_unbiased():
    rng = np.random.default_rng(4)
    p, q = rng.dirichlet(np.ones(6)), rng.dirichlet(np.ones(6))
    exact = float(_chi2_mixture(p, q))
    for side, w in (("p", p), ("q", q)):
        v = sequence_match_chi2(torch.tensor(np.log(p)), torch.tensor(np.log(q)), samples_from=side)
        assert float((torch.tensor(w) * v).sum()) == pytest.approx(exact, rel=1e-12)


def test_sequence_match_gradcheck_and_errors():
    a = torch.log_softmax(torch.tensor([0.2, -0.5, 1.0], dtype=torch.float64), -1).requires_grad_()
    b = torch.log_softmax(torch.tensor([0.0, 0.3, -1.0], dtype=torch.float64), -1).requires_grad_()
    torch.autograd.gradcheck(lambda x, y: sequence_match_chi2(x, y), (a, b))
    with pytest.raises(ValueError, match="category dimension"):
        sequence_match_chi2(torch.tensor(0.0), torch.tensor(0.0))
    assert math.isfinite(float(sequence_match_chi2(torch.tensor([0.0]), torch.tensor([-100.0]), samples_from="q")))
