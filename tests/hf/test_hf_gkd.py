"""The GKD drop-in equals TRL's ``GKDTrainer.generalized_jsd_loss`` (run side by side when TRL imports) and a
direct re-implementation written with probabilities (always)."""

from __future__ import annotations

import itertools
import math
import os

import pytest

torch = pytest.importorskip("torch")

from divergences.hf import generalized_jsd_loss  # noqa: E402


def _trl_loss():
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    try:
        from trl.experimental.gkd import GKDTrainer
    except Exception as exc:  # TRL missing or incompatible with the installed transformers
        pytest.skip(f"TRL's GKDTrainer does not import: {exc}")
    return GKDTrainer.generalized_jsd_loss


def _direct(s, t, labels, beta, T, reduction, n_items):
    """Per-entry terms p·(log p − log m) with 0·log 0 = 0, then TRL's reductions as its docstring states them."""
    lp, lq = torch.log_softmax(t / T, -1), torch.log_softmax(s / T, -1)
    p, q = lp.exp(), lq.exp()

    def plogr(w, lw, lo):  # w·(log w − lo), 0 where w = 0
        return torch.where(w > 0, w * (lw - lo), torch.zeros_like(w))

    if beta == 0:
        terms = plogr(p, lp, lq)
    elif beta == 1:
        terms = plogr(q, lq, lp)
    else:
        lm = torch.logaddexp(lp + math.log(beta), lq + math.log1p(-beta))
        terms = beta * plogr(p, lp, lm) + (1 - beta) * plogr(q, lq, lm)
    if labels is not None:
        terms = terms[labels != -100]
    if n_items is not None:
        return terms.sum() / n_items
    if reduction == "batchmean":
        return terms.sum() / (max(int((labels != -100).sum()), 1) if labels is not None else s.shape[0])
    if reduction == "mean" and terms.numel() == 0:
        return terms.sum()  # our documented choice: 0, not TRL's NaN
    return {"sum": terms.sum(), "mean": terms.mean(), "none": terms}[reduction]


CASES = list(itertools.product([0.0, 0.1, 0.5, 1.0], [1.0, 2.0], ["batchmean", "sum", "mean", "none"],
                               [True, False]))


@pytest.fixture(scope="module")
def data():
    g = torch.Generator().manual_seed(0)
    s = torch.randn(3, 6, 17, dtype=torch.float64, generator=g) * 3
    t = torch.randn(3, 6, 17, dtype=torch.float64, generator=g) * 3
    labels = torch.randint(0, 17, (3, 6), generator=g)
    labels[0, :2] = -100
    labels[2, 4:] = -100
    return s, t, labels


@pytest.mark.parametrize("beta, T, reduction, with_labels", CASES)
def test_equals_direct_definition(data, beta, T, reduction, with_labels):
    s, t, labels = data
    lab = labels if with_labels else None
    got = generalized_jsd_loss(s, t, lab, beta=beta, temperature=T, reduction=reduction)
    assert torch.allclose(got, _direct(s, t, lab, beta, T, reduction, None), rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("beta, T, reduction, with_labels", CASES[::3])
def test_equals_trl(data, beta, T, reduction, with_labels):
    trl = _trl_loss()
    s, t, labels = data
    lab = labels if with_labels else None
    got = generalized_jsd_loss(s, t, lab, beta=beta, temperature=T, reduction=reduction)
    ref = trl(s, t, lab, beta=beta, temperature=T, reduction=reduction)
    assert got.shape == ref.shape
    assert torch.allclose(got, ref, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("beta", [0.0, 0.5, 0.9, 1.0])
def test_num_items_and_gradients_equal_trl(data, beta):
    trl = _trl_loss()
    s, t, labels = data
    s1 = s.clone().requires_grad_(True)
    s2 = s.clone().requires_grad_(True)
    got = generalized_jsd_loss(s1, t, labels, beta=beta, num_items_in_batch=torch.tensor(40))
    ref = trl(s2, t, labels, beta=beta, num_items_in_batch=torch.tensor(40))
    got.backward()
    ref.backward()
    assert torch.allclose(got, ref, rtol=1e-10)
    assert torch.allclose(s1.grad, s2.grad, rtol=1e-8, atol=1e-13)


def test_float32_extreme_logits_stay_finite():
    s = torch.tensor([[[1e4, -1e4, 0.0]]])
    t = torch.tensor([[[-1e4, 1e4, 0.0]]])
    out = generalized_jsd_loss(s, t, beta=0.5)
    assert torch.isfinite(out) and 0 <= float(out) <= float(torch.log(torch.tensor(2.0))) + 1e-6


def test_bad_arguments():
    s = torch.zeros(1, 2, 3)
    with pytest.raises(ValueError, match="beta"):
        generalized_jsd_loss(s, s, beta=1.5)
    with pytest.raises(ValueError, match="reduction"):
        generalized_jsd_loss(s, s, reduction="avg")
    with pytest.raises(ValueError, match="teacher_logits"):
        generalized_jsd_loss(s, torch.zeros(1, 2, 4), reduction="none")


@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0])
def test_fused_compute_loss_equals_trl_compute_loss(beta, hfh, encoded):
    """TRL's own GKDTrainer.compute_loss and ours on the same tiny models and batch (GKD-style keys included)."""
    from types import SimpleNamespace

    from divergences.hf import fused_gkd_trainer

    _trl_loss()
    from trl.experimental.gkd import GKDTrainer

    cls = fused_gkd_trainer()
    assert issubclass(cls, GKDTrainer)
    student = hfh.tiny_llama(300, seed=0).double()
    teacher = hfh.tiny_llama(300, seed=1, hidden=48).double()
    batch = hfh.make_batch(encoded[:3])
    batch["labels"][:, :3] = -100  # the prompt
    batch["prompts"] = batch["input_ids"][:, :3]
    batch["prompt_attention_mask"] = batch["attention_mask"][:, :3]
    fake = SimpleNamespace(beta=beta, teacher_model=teacher, generalized_jsd_loss=GKDTrainer.generalized_jsd_loss)
    for n_items in (None, torch.tensor(17)):
        ref = GKDTrainer.compute_loss(fake, student, batch, num_items_in_batch=n_items)
        got = cls.compute_loss(fake, student, batch, num_items_in_batch=n_items)
        assert torch.allclose(got, ref, rtol=1e-10)
    (g_ref,) = torch.autograd.grad(GKDTrainer.compute_loss(fake, student, batch), student.lm_head.weight)
    (g_got,) = torch.autograd.grad(cls.compute_loss(fake, student, batch), student.lm_head.weight)
    assert torch.allclose(g_got, g_ref, rtol=1e-8, atol=1e-13)


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=40)
@given(beta=st.floats(0.0, 1.0), T=st.floats(0.25, 4.0), scale=st.floats(0.1, 30.0), seed=st.integers(0, 2**16),
       reduction=st.sampled_from(["batchmean", "sum", "mean"]), V=st.integers(2, 9))
def test_property_equals_direct(beta, T, scale, seed, reduction, V):
    g = torch.Generator().manual_seed(seed)
    s = torch.randn(2, 3, V, dtype=torch.float64, generator=g) * scale
    t = torch.randn(2, 3, V, dtype=torch.float64, generator=g) * scale
    labels = torch.randint(-1, V, (2, 3), generator=g).masked_fill_(lambda_mask(g), -100)
    got = generalized_jsd_loss(s, t, labels, beta=beta, temperature=T, reduction=reduction)
    ref = _direct(s, t, labels, beta, T, reduction, None)
    assert torch.isfinite(got)
    assert torch.allclose(got, ref, rtol=1e-7, atol=1e-10)


def lambda_mask(g):
    return torch.rand(2, 3, generator=g) < 0.3
