"""Speculative-decoding draft losses: acceptance = 1 − TV exactly, −log acceptance, gradients.

References written here: NumPy sums of min(p, q) in float64, SciPy's logsumexp for tiny acceptances, a
Monte-Carlo simulation of speculative sampling's accept/reject step, and torch.autograd.gradcheck.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from scipy.special import logsumexp  # noqa: E402

from divergences.torch import DistillOptions, acceptance_rate, divergence_loss, draft_loss, log_acceptance_rate  # noqa: E402


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _logits(*shape, seed=0, scale=2.0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return scale * torch.randn(*shape, generator=g, dtype=dtype)


@pytest.mark.parametrize("temperature", [1.0, 0.5, 3.0])
def test_acceptance_is_the_sum_of_minima(temperature):
    d, t = _logits(3, 7, 40, seed=1), _logits(3, 7, 40, seed=2)
    p = _softmax(t.numpy() / temperature)
    q = _softmax(d.numpy() / temperature)
    expected = np.minimum(p, q).sum(-1)
    got = acceptance_rate(d, t, temperature=temperature)
    assert got.shape == (3, 7)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12, atol=1e-14)
    # 1 − TV, the registry's "tv" through the distillation engine
    tv = divergence_loss(d, t, "tv", options=DistillOptions(temperature=temperature, reduction="none"))
    np.testing.assert_allclose(got.numpy(), 1 - tv.numpy(), atol=1e-12)
    assert torch.allclose(log_acceptance_rate(d, t, temperature=temperature), got.log(), atol=1e-12)


def test_acceptance_is_symmetric_and_one_for_equal_models():
    d, t = _logits(5, 30, seed=3), _logits(5, 30, seed=4)
    assert torch.allclose(acceptance_rate(d, t), acceptance_rate(t, d), atol=1e-14)
    assert torch.allclose(acceptance_rate(d, d), torch.ones(5, dtype=torch.float64))
    assert torch.all(draft_loss(d, d, reduction="none") == 0)


def test_acceptance_matches_simulated_speculative_sampling():
    """Draw x ~ q, accept with probability min(1, p(x)/q(x)): the accepted share converges to α."""
    d, t = _logits(1, 12, seed=5, scale=1.5), _logits(1, 12, seed=6, scale=1.5)
    p, q = _softmax(t.numpy()[0]), _softmax(d.numpy()[0])
    rng = np.random.default_rng(0)
    n = 400_000
    x = rng.choice(12, size=n, p=q)
    accepted = rng.random(n) < np.minimum(1.0, p[x] / q[x])
    alpha = float(acceptance_rate(d, t)[0])
    assert abs(accepted.mean() - alpha) < 4 * math.sqrt(alpha * (1 - alpha) / n)
    # and the output of accept-or-resample is distributed as p (the identity behind α = 1 − TV)
    residual = np.maximum(p - q, 0)
    residual /= residual.sum()
    out = np.where(accepted, x, rng.choice(12, size=n, p=residual))
    np.testing.assert_allclose(np.bincount(out, minlength=12) / n, p, atol=4e-3)


def test_neg_log_acceptance_keeps_relative_precision_at_both_ends():
    # a nearly perfect draft: −log α ≈ TV, small; compared with TV formed from float64 probabilities
    for dtype, step, rtol in ((torch.float64, 1e-9, 1e-5), (torch.float32, 1e-3, 2e-3)):
        t = _logits(4, 64, seed=7, dtype=dtype)
        d = t + step * _logits(4, 64, seed=8, dtype=dtype)
        p = _softmax(t.double().numpy())
        q = _softmax(d.double().numpy())
        tv = 0.5 * np.abs(p - q).sum(-1)
        expected = -np.log1p(-tv)
        got = draft_loss(d, t, reduction="none").double().numpy()
        assert np.all(expected > 0)
        np.testing.assert_allclose(got, expected, rtol=rtol)
    # a hopeless draft: α ≈ e^-100, beyond 1 − TV in any precision
    t = torch.tensor([[100.0, 0.0, 0.0]])
    d = torch.tensor([[0.0, 100.0, 0.0]])
    a = torch.log_softmax(t.double(), -1).numpy()
    b = torch.log_softmax(d.double(), -1).numpy()
    expected = -logsumexp(np.minimum(a, b), axis=-1)
    np.testing.assert_allclose(draft_loss(d, t, reduction="none").double().numpy(), expected, rtol=1e-6)
    assert expected[0] > 98


@pytest.mark.parametrize("objective", ["neg_log_acceptance", "tv"])
def test_gradients_by_gradcheck(objective):
    d = _logits(3, 9, seed=9).requires_grad_(True)
    t = _logits(3, 9, seed=10).requires_grad_(True)
    labels = torch.tensor([1, -100, 4])

    def f(d, t):
        return draft_loss(d, t, objective, labels=labels, temperature=1.3)

    assert torch.autograd.gradcheck(f, (d, t), eps=1e-6, atol=1e-7)
    assert torch.autograd.gradcheck(lambda d, t: log_acceptance_rate(d, t, chunk_size=1), (d, t), eps=1e-6, atol=1e-7)


def test_gradient_is_minus_the_gradient_of_log_alpha_written_out():
    """d(−log α)/dz_draft = −(1/α) Σ_{x: q<p} ∂q_x/∂z (the softmax Jacobian), written with NumPy."""
    d = _logits(6, seed=11).requires_grad_(True)
    t = _logits(6, seed=12)
    draft_loss(d[None], t[None], reduction="sum").backward()
    p, q = _softmax(t.numpy()), _softmax(d.detach().numpy())
    below = (q < p).astype(float)
    alpha = np.minimum(p, q).sum()
    jac = np.diag(q) - np.outer(q, q)  # ∂q_x/∂z_j
    np.testing.assert_allclose(d.grad.numpy(), -(below @ jac) / alpha, rtol=1e-10, atol=1e-14)


def test_tv_objective_is_the_engine_tv_and_reductions_follow_divergence_loss():
    d, t = _logits(2, 5, 33, seed=13), _logits(2, 5, 33, seed=14)
    labels = torch.tensor([[0, 1, -100, 3, 4], [-100, -100, 2, 2, 2]])
    mask = torch.tensor([[True, True, True, False, True], [True] * 5])
    for reduction in ("mean", "sum", "batchmean", "none"):
        got = draft_loss(d, t, "tv", labels=labels, mask=mask, reduction=reduction)
        ref = divergence_loss(d, t, "tv", labels=labels, mask=mask, options=DistillOptions(reduction=reduction))
        assert torch.allclose(got, ref, atol=1e-14)
        # −log α reduces over the same tokens
        per = -log_acceptance_rate(d, t)
        keep = (labels != -100) & mask
        nl = draft_loss(d, t, labels=labels, mask=mask, reduction=reduction)
        expected = {"sum": per[keep].sum(), "mean": per[keep].mean(), "batchmean": per[keep].sum() / 2,
                    "none": torch.where(keep, per, torch.zeros_like(per))}[reduction]
        assert torch.allclose(nl, expected, atol=1e-14)


def test_chunked_equals_unchunked_and_low_precision_is_computed_in_float32():
    d, t = _logits(10, 50, seed=15), _logits(10, 50, seed=16)
    assert torch.allclose(log_acceptance_rate(d, t, chunk_size=3), log_acceptance_rate(d, t), atol=1e-15)
    out = acceptance_rate(d.to(torch.bfloat16), t.to(torch.bfloat16))
    assert out.dtype == torch.float32


def test_disjoint_supports_give_inf_with_finite_gradients():
    d = torch.tensor([[0.0, -math.inf, 1.0], [0.0, 1.0, 2.0]], requires_grad=True)
    t = torch.tensor([[-math.inf, 0.0, -math.inf], [0.0, 1.0, 2.0]])
    per = draft_loss(d, t, reduction="none")
    assert per[0] == math.inf and per[1] == 0
    draft_loss(d, t, reduction="sum").backward()
    assert torch.isfinite(d.grad).all()
    # a dropped position does not poison the reduction
    assert float(draft_loss(d, t, labels=torch.tensor([-100, 1])).detach()) == 0.0


def test_bad_inputs_are_named():
    d, t = _logits(2, 5, seed=17), _logits(2, 5, seed=18)
    with pytest.raises(ValueError, match="objective"):
        draft_loss(d, t, "kl")
    with pytest.raises(ValueError, match="same vocabulary"):
        draft_loss(d, t[:, :4])
    with pytest.raises(ValueError, match="leading shape"):
        acceptance_rate(d, t[:1])
    with pytest.raises(ValueError, match="temperature"):
        acceptance_rate(d, t, temperature=0.0)
    with pytest.raises(ValueError, match="reduction"):
        draft_loss(d, t, reduction="avg")
    bad = t.clone()
    bad[0, 0] = math.nan
    with pytest.raises(ValueError, match="target_logits"):
        acceptance_rate(d, bad)
    with pytest.raises(ValueError, match="draft_logits"):
        acceptance_rate(d.numpy(), t)


def test_properties_on_random_logits():
    hypothesis = pytest.importorskip("hypothesis")
    from hypothesis import given, settings
    from hypothesis import strategies as st
    from hypothesis.extra.numpy import arrays

    finite = st.floats(-30, 30, allow_nan=False, allow_infinity=False)

    @settings(max_examples=60, deadline=None)
    @given(arrays(np.float64, (2, 7), elements=finite), st.floats(0.3, 4.0))
    def check(z, temperature):
        d, t = torch.tensor(z[0:1]), torch.tensor(z[1:2])
        alpha = acceptance_rate(d, t, temperature=temperature)
        assert 0 <= float(alpha) <= 1 + 1e-12
        assert torch.allclose(alpha, acceptance_rate(t, d, temperature=temperature), atol=1e-12)  # symmetric
        tv = divergence_loss(d, t, "tv", options=DistillOptions(temperature=temperature, reduction="none"))
        assert torch.allclose(alpha, 1 - tv, atol=1e-12)
        nl = draft_loss(d, t, temperature=temperature, reduction="none")
        assert float(nl) >= 0 and float(nl) >= float(tv) - 1e-12  # −log(1 − x) ≥ x

    del hypothesis
    check()
