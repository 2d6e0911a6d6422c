"""BD-KD's balanced forward/reverse KL with the entropy-gap weight: against a direct definition."""

from __future__ import annotations

import pytest
import torch

from divergences.torch import DistillOptions, balanced_kl_loss, divergence_loss, entropy_gap_weight, mixture


def _direct(z, t, T=1.0, sharpness=None, flip=False, keep=None, weights=None):
    """Written with probabilities: H, KL(p‖q), KL(q‖p) per token, gate, mean over kept tokens."""
    q = torch.softmax(z.double() / T, -1)
    p = torch.softmax(t.double() / T, -1)
    hq = -(q * q.log()).sum(-1)
    hp = -(p * p.log()).sum(-1)
    gap = (hp - hq) if flip else (hq - hp)
    w = torch.sigmoid(sharpness * gap) if sharpness else (gap > 0).double() + 0.5 * (gap == 0).double()
    fwd = (p * (p.log() - q.log())).sum(-1)
    rev = (q * (q.log() - p.log())).sum(-1)
    per = (1 - w) * fwd + w * rev
    if weights is not None:
        per = per * weights
    keep = torch.ones_like(per, dtype=torch.bool) if keep is None else keep
    return per[keep].sum() / keep.sum(), w


@pytest.mark.parametrize("sharpness", [None, 0.7, 5.0])
@pytest.mark.parametrize("flip", [False, True])
def test_equals_direct_definition(sharpness, flip):
    torch.manual_seed(0)
    z = torch.randn(3, 4, 13, dtype=torch.float64) * torch.linspace(0.2, 3, 4).view(1, 4, 1)
    t = torch.randn(3, 4, 13, dtype=torch.float64) * 1.5
    labels = torch.randint(0, 13, (3, 4))
    labels[1, 2] = -100
    wts = torch.rand(3, 4, dtype=torch.float64)
    gate = "student_more_confident" if flip else "student_more_uncertain"
    got = balanced_kl_loss(z, t, sharpness=sharpness, reverse_when=gate, labels=labels, weights=wts, options=DistillOptions(temperature=1.7))
    want, w = _direct(z, t, 1.7, sharpness, flip, labels != -100, wts)
    assert torch.isclose(got, want, rtol=1e-10)
    w_got = entropy_gap_weight(z, t, temperature=1.7, sharpness=sharpness, reverse_when=gate)
    assert torch.allclose(w_got, w, rtol=1e-10, atol=1e-12)
    assert not w_got.requires_grad


def test_gradient_treats_the_gate_as_a_constant():
    torch.manual_seed(1)
    z = torch.randn(5, 7, dtype=torch.float64, requires_grad=True)
    t = torch.randn(5, 7, dtype=torch.float64)
    w = entropy_gap_weight(z, t, sharpness=2.0)
    # the gate is held at its value (gradcheck's finite differences would otherwise move it)
    fixed = mixture({"kl": 1.0})
    assert torch.autograd.gradcheck(
        lambda x: divergence_loss(x, t, fixed, weights=1 - w) + divergence_loss(x, t, "reverse_kl", weights=w), (z,))
    loss = balanced_kl_loss(z, t, sharpness=2.0, options=DistillOptions(reduction="sum"))
    ref = (divergence_loss(z, t, "kl", weights=1 - w, options=DistillOptions(reduction="sum"))
           + divergence_loss(z, t, "reverse_kl", weights=w, options=DistillOptions(reduction="sum")))
    g1, g2 = torch.autograd.grad(loss, z)[0], torch.autograd.grad(ref, z)[0]
    assert torch.allclose(g1, g2, rtol=1e-12)


def test_special_cases_and_extremes():
    torch.manual_seed(2)
    z, t = torch.randn(6, 9), torch.randn(6, 9)
    # the two gates are complementary: their losses add up to Jeffreys = 2 × torchtune's symmetric KL
    both = balanced_kl_loss(z, t) + balanced_kl_loss(z, t, reverse_when="student_more_confident")
    assert torch.isclose(both, 2 * divergence_loss(z, t, mixture({"kl": 0.5, "reverse_kl": 0.5})), rtol=1e-5)
    # identical distributions: zero loss
    assert float(balanced_kl_loss(t, t)) == pytest.approx(0.0, abs=1e-6)
    # logits of ±1e4, -inf masks, bfloat16: finite values and gradients
    # (a vocabulary entry masked in the teacher only would make the reverse KL +inf, correctly)
    z = torch.tensor([[1e4, 0.0, float("-inf"), -1e4], [0.0, 0.0, 0.0, 0.0]], requires_grad=True)
    t = torch.tensor([[0.0, 1.0, float("-inf"), 2.0], [5.0, 0.0, 0.0, -1e4]])
    loss = balanced_kl_loss(z, t, sharpness=1.0)
    loss.backward()
    assert torch.isfinite(loss) and bool(torch.isfinite(z.grad).all())
    lo = balanced_kl_loss(torch.randn(3, 5).bfloat16(), torch.randn(3, 5).bfloat16(), options=DistillOptions(reduction="none"))
    assert lo.shape == (3,) and bool(torch.isfinite(lo).all())


def test_bad_input():
    z = torch.zeros(2, 4)
    with pytest.raises(ValueError, match="reverse_when"):
        balanced_kl_loss(z, z, reverse_when="always")
    with pytest.raises(ValueError, match="sharpness"):
        entropy_gap_weight(z, z, sharpness=0.0)
    with pytest.raises(ValueError, match="weights"):
        balanced_kl_loss(z, z, weights=torch.ones(3))
    with pytest.raises(ValueError, match="teacher logits"):
        balanced_kl_loss(z, torch.zeros(2, 5))


def test_one_divergence_for_every_loss_path():
    """balanced_kl() as divergence=: dense, fused (LM head) and top-k with k = V give the same loss."""
    from divergences.torch import balanced_kl, fused_linear_divergence_loss, topk_divergence_loss

    torch.manual_seed(3)
    h = torch.randn(7, 12, dtype=torch.float64)
    w = torch.randn(30, 12, dtype=torch.float64) / 3
    t = torch.randn(7, 30, dtype=torch.float64) * 2
    div = balanced_kl(sharpness=3.0)
    dense = divergence_loss(h @ w.T, t, div, options=DistillOptions(temperature=1.3))
    fused = fused_linear_divergence_loss(h, w, t, div, options=DistillOptions(temperature=1.3))
    vals, idx = torch.log_softmax(t / 1.3, -1).topk(30, dim=-1)
    top = topk_divergence_loss(h @ w.T, vals * 1.0, idx, div, options=DistillOptions(temperature=1.3))
    want, _ = _direct(h @ w.T, t, 1.3, 3.0)
    for got in (dense, fused):
        assert torch.isclose(got, want, rtol=1e-10)
    assert torch.isclose(top, want, rtol=1e-6)
