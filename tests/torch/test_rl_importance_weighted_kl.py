"""importance_weighted_kl: the bias-corrected (importance-ratio) KL estimator beside k1/k2/k3.

Checked by enumeration on small categorical policies: the expectation under the *sampling* policy of the
estimate equals KL(π_θ‖π_ref) written from its definition, and the expectation of its gradient equals the
gradient of that KL (autograd through the exact formula); plus TRL's ``use_bias_correction_kl`` formula.
"""

import numpy as np
import pytest
import torch

from divergences.torch import importance_weighted_kl, kl_penalty


def _policies(seed):
    g = torch.Generator().manual_seed(seed)
    theta = torch.randn(9, generator=g, dtype=torch.float64)
    ref = torch.randn(9, generator=g, dtype=torch.float64)
    old = torch.randn(9, generator=g, dtype=torch.float64)
    return theta, torch.log_softmax(ref, -1), torch.log_softmax(old, -1)


@pytest.mark.parametrize("estimator", ["k1", "k3"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_expectation_under_the_sampler_is_the_kl_and_its_gradient(estimator, seed):
    theta, ref, old = _policies(seed)
    theta.requires_grad_(True)
    lp = torch.log_softmax(theta, -1)
    # E_{x ~ π_old}[estimate(x)], by enumeration of the 9 outcomes
    expectation = (old.exp() * importance_weighted_kl(lp, ref, old, estimator)).sum()
    exact = (lp.exp() * (lp - ref)).sum()  # KL(π_θ‖π_ref) from its definition
    assert torch.isclose(expectation, exact, rtol=1e-12)
    (g_est,) = torch.autograd.grad(expectation, theta)
    (g_exact,) = torch.autograd.grad((torch.softmax(theta, -1) * (torch.log_softmax(theta, -1) - ref)).sum(), theta)
    assert torch.allclose(g_est, g_exact, atol=1e-12)


def test_plain_k3_on_old_samples_is_biased_and_its_on_policy_gradient_is_the_forward_kl():
    theta, ref, old = _policies(3)
    lp = torch.log_softmax(theta, -1)
    biased = (old.exp() * kl_penalty(lp, ref, "k3")).sum()
    exact = (lp.exp() * (lp - ref)).sum()
    assert abs(float(biased - exact)) > 1e-3
    # on-policy (π_old = π_θ detached): ρ's gradient restores the reverse-KL gradient
    theta.requires_grad_(True)
    lp = torch.log_softmax(theta, -1)
    with_ratio = (lp.detach().exp() * importance_weighted_kl(lp, ref, lp.detach())).sum()
    (g,) = torch.autograd.grad(with_ratio, theta)
    (g_exact,) = torch.autograd.grad((torch.softmax(theta, -1) * (torch.log_softmax(theta, -1) - ref)).sum(), theta)
    assert torch.allclose(g, g_exact, atol=1e-12)


def test_matches_trl_bias_correction_formula():
    """TRL: per_token_kl = exp(ref − lp) − (ref − lp) − 1, times coef_1 = exp(lp − old)."""
    rng = np.random.default_rng(4)
    lp = torch.tensor(rng.normal(-2, 1, size=(3, 5)))
    ref = torch.tensor(rng.normal(-2, 1, size=(3, 5)))
    old = torch.tensor(rng.normal(-2, 1, size=(3, 5)))
    trl = (torch.exp(ref - lp) - (ref - lp) - 1) * torch.exp(lp - old)
    assert torch.allclose(importance_weighted_kl(lp, ref, old), trl, rtol=1e-12)


def test_dtypes_clip_and_bad_inputs():
    lp, ref, old = torch.tensor([-1.0, -400.0]), torch.tensor([-2.0, -1.0]), torch.tensor([-1.0, -900.0])
    out = importance_weighted_kl(lp, ref, old)
    assert out.dtype == torch.float32 and torch.isfinite(out).all() and float(out[1]) == float(torch.tensor(1e30))
    assert importance_weighted_kl(lp.double(), ref, old).dtype == torch.float64
    assert importance_weighted_kl(lp, ref, old.double()).dtype == torch.float64
    with pytest.raises(ValueError, match="estimator"):
        importance_weighted_kl(lp, ref, old, "k4")
    with pytest.raises(ValueError, match="sampling_logprobs"):
        importance_weighted_kl(lp, ref, torch.zeros(3))
    with pytest.raises(ValueError, match="clip"):
        importance_weighted_kl(lp, ref, old, clip=-1)
