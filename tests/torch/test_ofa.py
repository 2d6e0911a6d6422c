"""OFA-KD's target-enhanced loss against the reference formula written in NumPy, with gradients."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from divergences.torch import DistillOptions, divergence_loss, ofa_loss  # noqa: E402


def _reference(s: np.ndarray, t: np.ndarray, y: np.ndarray, gamma: float, temperature: float) -> np.ndarray:
    """Per row: −Σ_c ((p_c + 1[c = y])^γ − 1[c = y]) log q_c, from the definition."""
    out = []
    for zs, zt, label in zip(s, t, y):
        ls = zs / temperature - np.log(np.exp(zs / temperature - (zs / temperature).max()).sum()) - (zs / temperature).max()
        p = np.exp(zt / temperature - zt.max() / temperature)
        p /= p.sum()
        e = np.zeros_like(p)
        e[label] = 1.0
        out.append(-np.sum(((p + e) ** gamma - e) * ls))
    return np.array(out)


def _data(n=6, c=11, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return (2 * torch.randn(n, c, generator=g, dtype=dtype), 2 * torch.randn(n, c, generator=g, dtype=dtype),
            torch.randint(0, c, (n,), generator=g))


@pytest.mark.parametrize("gamma,temperature", [(1.0, 1.0), (1.5, 1.0), (2.0, 2.0), (0.7, 0.5)])
def test_value_matches_the_reference(gamma, temperature):
    s, t, y = _data()
    got = ofa_loss(s, t, y, gamma=gamma, temperature=temperature, reduction="none")
    np.testing.assert_allclose(got.numpy(), _reference(s.numpy(), t.numpy(), y.numpy(), gamma, temperature),
                               rtol=1e-12)
    assert torch.isclose(ofa_loss(s, t, y, gamma=gamma, temperature=temperature), got.mean())


def test_gamma_one_is_the_cross_entropy_and_kl_plus_teacher_entropy():
    s, t, y = _data(seed=1)
    ce = divergence_loss(s, t, "cross_entropy", options=DistillOptions(reduction="none"))
    assert torch.allclose(ofa_loss(s, t, y, reduction="none"), ce, atol=1e-12)
    p = torch.softmax(t, -1)
    entropy = -(p * p.log()).sum(-1)
    assert torch.allclose(ofa_loss(s, t, y, reduction="none") - entropy, divergence_loss(s, t, "kl", options=DistillOptions(reduction="none")))


def test_paper_form_is_ours_plus_the_hard_cross_entropy():
    s, t, y = _data(seed=2)
    gamma = 1.7
    q = torch.log_softmax(s, -1)
    p = torch.softmax(t, -1)
    rows = torch.arange(len(y))
    paper = -(1 + p[rows, y]) ** gamma * q[rows, y] - ((p**gamma) * q).sum(-1) + (p[rows, y] ** gamma) * q[rows, y]
    hard = -q[rows, y]
    assert torch.allclose(ofa_loss(s, t, y, gamma=gamma, reduction="none") + hard, paper, atol=1e-12)


def test_gradcheck_and_no_teacher_gradient():
    s, t, y = _data(n=4, c=7, seed=3)
    s.requires_grad_(True)
    y[1] = -100
    assert torch.autograd.gradcheck(lambda s: ofa_loss(s, t, y, gamma=1.8, temperature=1.5, chunk_size=2), (s,))
    t.requires_grad_(True)
    ofa_loss(s, t, y).backward()
    assert t.grad is None or torch.all(t.grad == 0)


def test_ignored_tokens_and_masked_classes():
    s, t, y = _data(seed=4)
    y[0] = -100
    full = ofa_loss(s, t, y, reduction="none")
    assert full[0] == 0
    assert torch.isclose(ofa_loss(s, t, y), full[1:].mean())
    s2, t2 = s.clone(), t.clone()
    s2[:, 3] = -math.inf
    t2[:, 3] = -math.inf
    y2 = torch.where(y == 3, torch.zeros_like(y), y)
    out = ofa_loss(s2, t2, y2, gamma=2.0, reduction="none")
    assert torch.isfinite(out).all()


def test_bad_inputs():
    s, t, y = _data(seed=5)
    with pytest.raises(ValueError, match="gamma"):
        ofa_loss(s, t, y, gamma=0)
    with pytest.raises(ValueError, match="labels"):
        ofa_loss(s, t, y + 100)
    with pytest.raises(ValueError, match="labels"):
        ofa_loss(s, t, y.double())
    with pytest.raises(ValueError, match="same vocabulary"):
        ofa_loss(s, t[:, :-1], y)
