"""kl_penalty: the per-token estimators of the RL frameworks, checked against direct definitions."""

import numpy as np
import pytest
import torch

import divergences as dv
from divergences.torch import kl_penalty

ESTIMATORS = ["k1", "kl", "abs", "k2", "mse", "k3", "low_var_kl", "k1+", "k3+", "low_var_kl+"]


def _direct(k, estimator):
    """The estimators written from their definitions in NumPy (r = log π_θ − log π_ref)."""
    base = estimator.rstrip("+")
    if base in ("k1", "kl"):
        return k
    if base == "abs":
        return np.abs(k)
    if base in ("k2", "mse"):
        return k**2 / 2
    if base == "k3":
        return np.exp(-k) - 1 + k
    c = np.clip(-k, -20, 20)  # verl / OpenRLHF: kl = clamp(ref − logp), clamp(exp(kl) − kl − 1, ±10)
    return np.clip(np.exp(c) - c - 1, -10, 10)


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_matches_direct_definition(estimator):
    k = np.array([-30.0, -12.0, -3.0, -0.5, 0.0, 0.7, 2.5, 25.0])
    lp = torch.tensor(k - 4.0, dtype=torch.float64)
    ref = torch.full_like(lp, -4.0)
    got = kl_penalty(lp, ref, estimator).numpy()
    np.testing.assert_allclose(got, _direct(k, estimator), rtol=1e-12, atol=1e-12)


def test_unbiasedness_by_enumeration():
    rng = np.random.default_rng(0)
    pi, ref = rng.gamma(1.0, size=8), rng.gamma(1.0, size=8)
    pi, ref = pi / pi.sum(), ref / ref.sum()
    exact = float(dv.kl(pi, ref))  # KL(π_θ‖π_ref)
    lp, lr = torch.tensor(np.log(pi)), torch.tensor(np.log(ref))
    for estimator in ("k1", "k3", "k1+", "k3+"):
        assert float((torch.tensor(pi) * kl_penalty(lp, lr, estimator)).sum()) == pytest.approx(exact, rel=1e-12)
    biased = float((torch.tensor(pi) * kl_penalty(lp, lr, "k2")).sum())
    assert abs(biased - exact) > 1e-3


def test_straight_through_gradient_is_k2s():
    lp = torch.tensor([-1.0, -3.0, -0.2], dtype=torch.float64, requires_grad=True)
    ref = torch.tensor([-2.0, -1.0, -0.3], dtype=torch.float64)
    (g_k2,) = torch.autograd.grad(kl_penalty(lp, ref, "k2").sum(), lp)
    for estimator in ("k1+", "k3+", "low_var_kl+"):
        value = kl_penalty(lp, ref, estimator)
        torch.testing.assert_close(value, kl_penalty(lp, ref, estimator[:-1]))
        (g,) = torch.autograd.grad(value.sum(), lp)
        torch.testing.assert_close(g, g_k2)
    # the on-policy mean of k2's gradient is ∇KL(π_θ‖π_ref) (checked on logits by enumeration)
    logits = torch.tensor([0.3, -1.0, 0.8, 0.1], dtype=torch.float64, requires_grad=True)
    ref_logp = torch.log_softmax(torch.tensor([0.0, 0.5, -0.5, 0.2], dtype=torch.float64), -1)
    logp = torch.log_softmax(logits, -1)
    surrogate = (logp.exp().detach() * kl_penalty(logp, ref_logp, "k3+")).sum()
    (g_sur,) = torch.autograd.grad(surrogate, logits)
    (g_true,) = torch.autograd.grad(dv.kl(torch.softmax(logits, -1), ref_logp.exp()), logits)
    torch.testing.assert_close(g_sur, g_true)


@pytest.mark.parametrize("estimator", ["k1", "k2", "k3", "abs"])
def test_gradcheck(estimator):
    lp = torch.tensor([-1.0, -3.0, -0.2, -5.0], dtype=torch.float64, requires_grad=True)
    ref = torch.tensor([-2.0, -1.0, -0.3, -4.0], dtype=torch.float64, requires_grad=True)
    torch.autograd.gradcheck(lambda a, b: kl_penalty(a, b, estimator), (lp, ref))


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_log_ratios_of_100_in_float32_stay_finite(estimator):
    lp = torch.tensor([-100.0, 0.0, -100.0, -50.0], requires_grad=True)
    ref = torch.tensor([0.0, -100.0, -100.0, -0.5], requires_grad=True)
    value = kl_penalty(lp, ref, estimator)
    assert value.dtype == torch.float32 and torch.isfinite(value).all()
    value.sum().backward()
    assert torch.isfinite(lp.grad).all() and torch.isfinite(ref.grad).all()


def test_k3_clip_is_documented_value():
    value = kl_penalty(torch.tensor([-100.0]), torch.tensor([0.0]), "k3")
    assert float(value) == pytest.approx(1e30, rel=1e-6)
    exact = kl_penalty(torch.tensor([-100.0], dtype=torch.float64), torch.tensor([0.0], dtype=torch.float64),
                       "k3", clip=None)
    assert float(exact) == pytest.approx(np.exp(100.0) - 101.0, rel=1e-12)


def test_dtypes():
    assert kl_penalty(torch.zeros(2, dtype=torch.float64), torch.zeros(2, dtype=torch.float64)).dtype == torch.float64
    assert kl_penalty(torch.zeros(2, dtype=torch.bfloat16), torch.zeros(2, dtype=torch.bfloat16)).dtype == torch.float32


def test_bad_input():
    with pytest.raises(ValueError, match="estimator"):
        kl_penalty(torch.zeros(2), torch.zeros(2), "k4")
    with pytest.raises(ValueError, match="logprobs and ref_logprobs must broadcast"):
        kl_penalty(torch.zeros(2), torch.zeros(3))
