"""SinKD loss: against a probability-domain reference written differently, gradients, bad input."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from divergences.torch import sinkhorn_distillation_loss  # noqa: E402


def _reference(student, teacher, epsilon, iterations, temperature):
    """Plain matrix scaling of the Gibbs kernel (columns summing to 1, as in the SinKD paper's code)."""
    s = torch.softmax(student / temperature, dim=-1)
    t = torch.softmax(teacher / temperature, dim=-1)
    cost = (s[:, None, :] - t[None, :, :]).abs().sum(-1)
    plan = torch.exp(-cost / epsilon)
    for _ in range(iterations):
        plan = plan / plan.sum(dim=1, keepdim=True)
        plan = plan / plan.sum(dim=0, keepdim=True)
    return (plan * cost).sum() / student.shape[0]


@pytest.mark.parametrize("epsilon,iterations,temperature", [(0.1, 20, 2.0), (0.5, 3, 1.0), (0.05, 50, 4.0)])
def test_matches_reference(epsilon, iterations, temperature):
    gen = torch.Generator().manual_seed(0)
    s, t = torch.randn(6, 11, generator=gen, dtype=torch.float64), torch.randn(6, 11, generator=gen, dtype=torch.float64)
    ours = sinkhorn_distillation_loss(s, t, epsilon=epsilon, iterations=iterations, temperature=temperature)
    assert float(ours) == pytest.approx(float(_reference(s, t, epsilon, iterations, temperature)), rel=1e-10)


def test_small_epsilon_is_stable():
    # e^{−C/ε} underflows in probability space at ε = 1e-3 (C ≈ 1): the log-domain loss stays finite
    gen = torch.Generator().manual_seed(1)
    s, t = torch.randn(5, 7, generator=gen) * 5, torch.randn(5, 7, generator=gen) * 5
    value = sinkhorn_distillation_loss(s, t, epsilon=1e-3, temperature=1.0)
    assert torch.isfinite(value) and float(value) > 0
    assert float(sinkhorn_distillation_loss(s, s, epsilon=1e-2)) < 1e-6


def test_gradcheck_and_leading_axes():
    gen = torch.Generator().manual_seed(2)
    s = torch.randn(4, 5, generator=gen, dtype=torch.float64, requires_grad=True)
    t = torch.randn(4, 5, generator=gen, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda z: sinkhorn_distillation_loss(z, t, iterations=5), (s,))
    flat = sinkhorn_distillation_loss(s, t)
    folded = sinkhorn_distillation_loss(s.reshape(2, 2, 5), t.reshape(2, 2, 5))
    assert float(flat.detach()) == pytest.approx(float(folded.detach()), rel=1e-12)
    assert sinkhorn_distillation_loss(s.float(), t.float()).dtype == torch.float32


def test_bad_input():
    s = torch.zeros(3, 4)
    with pytest.raises(ValueError, match="same shape"):
        sinkhorn_distillation_loss(s, torch.zeros(3, 5))
    for bad in (0.0, -1.0):
        with pytest.raises(ValueError, match="epsilon"):
            sinkhorn_distillation_loss(s, s, epsilon=bad)
        with pytest.raises(ValueError, match="temperature"):
            sinkhorn_distillation_loss(s, s, temperature=bad)
    with pytest.raises(ValueError, match="iterations"):
        sinkhorn_distillation_loss(s, s, iterations=0)
    with pytest.raises(ValueError, match="shape"):
        sinkhorn_distillation_loss(torch.zeros(4), torch.zeros(4))
    with pytest.raises(ValueError, match="NaN"):
        sinkhorn_distillation_loss(torch.full((2, 3), float("nan")), s[:2, :3])
