"""D2O: the loss of the D2O paper written directly, gradients, extremes, shapes."""

import numpy as np
import pytest
import torch

from divergences.torch import d2o_loss


def _inputs(seed, batch=6, k=4):
    rng = np.random.default_rng(seed)
    neg, ref_neg = rng.normal(-30, 5, batch), rng.normal(-30, 5, batch)
    s, ref_s = rng.normal(-20, 5, (batch, k)), rng.normal(-20, 5, (batch, k))
    return [torch.tensor(x) for x in (neg, ref_neg, s, ref_s)]


def _direct(neg, ref_neg, s, ref_s, beta, alpha):
    """−log σ((β/K) Σ_i log π_θ(y_i)/π_ref(y_i) − α log π_θ(y_l)/π_ref(y_l)), per prompt, in NumPy."""
    k = s.shape[-1]
    z = beta / k * (s - ref_s).sum(-1) - alpha * (neg - ref_neg)
    return np.log1p(np.exp(-z))


@pytest.mark.parametrize(("beta", "alpha", "k"), [(0.1, 0.1, 4), (0.5, 0.02, 1), (1.0, 0.3, 8)])
def test_matches_direct_definition(beta, alpha, k):
    neg, ref_neg, s, ref_s = _inputs(k, k=k)
    got = d2o_loss(neg, ref_neg, s, ref_s, beta=beta, alpha=alpha, reduction="none")
    expected = _direct(*(x.numpy() for x in (neg, ref_neg, s, ref_s)), beta, alpha)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)
    assert float(d2o_loss(neg, ref_neg, s, ref_s, beta=beta, alpha=alpha)) == pytest.approx(expected.mean(), rel=1e-12)
    assert float(d2o_loss(neg, ref_neg, s, ref_s, beta=beta, alpha=alpha, reduction="sum")) == pytest.approx(
        expected.sum(), rel=1e-12)


def test_gradcheck():
    xs = [x[:3, ...].clone().requires_grad_() for x in _inputs(1, k=3)]
    torch.autograd.gradcheck(lambda a, b, c, d: d2o_loss(a, b, c, d, beta=0.7, alpha=0.2), xs)


def test_log_ratios_of_100_in_float32_stay_finite():
    neg = torch.tensor([-100.0, 0.0], requires_grad=True)
    s = torch.tensor([[0.0, -100.0], [-100.0, -100.0]], requires_grad=True)
    loss = d2o_loss(neg, torch.tensor([0.0, -100.0]), s, torch.tensor([[-100.0, 0.0], [0.0, 0.0]]),
                    beta=1.0, alpha=1.0, reduction="none")
    assert loss.dtype == torch.float32 and torch.isfinite(loss).all()
    loss.sum().backward()
    assert torch.isfinite(neg.grad).all() and torch.isfinite(s.grad).all()


def test_bad_input():
    neg, ref_neg, s, ref_s = _inputs(2)
    with pytest.raises(ValueError, match="must match sample_logps"):
        d2o_loss(neg[:4], ref_neg[:4], s, ref_s)
    with pytest.raises(ValueError, match="K ≥ 1"):
        d2o_loss(neg, ref_neg, s[:, :0], ref_s[:, :0])
    with pytest.raises(ValueError, match="reduction"):
        d2o_loss(neg, ref_neg, s, ref_s, reduction="avg")
    with pytest.raises(ValueError, match="alpha"):
        d2o_loss(neg, ref_neg, s, ref_s, alpha=float("inf"))
