"""Documented mappings to TRL's generalized_jsd_loss, Liger's chunked JSD and torchtune's forward KL.

TRL and torchtune are not installed in CI: their formulas are re-stated here from their documented
semantics (TRL: GKD trainer's ``generalized_jsd_loss``; torchtune: ``ForwardKLLoss``). Liger-Kernel is
compared directly when it is installed (its chunked loss runs on CPU with ``compiled=False``).
"""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

import divergences as dv  # noqa: E402
from divergences.torch import DistillOptions, TeacherHead, divergence_loss, fused_linear_divergence_loss  # noqa: E402

F64 = torch.float64


def _rand(*shape, seed, scale=2.0, dtype=F64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=dtype) * scale


def trl_generalized_jsd(student_logits, teacher_logits, labels=None, beta=0.5, temperature=1.0, reduction="batchmean"):
    """TRL's semantics: β = 0 → KL(teacher‖student), β = 1 → KL(student‖teacher), else the mixture form."""
    s = F.log_softmax(student_logits / temperature, -1)
    t = F.log_softmax(teacher_logits / temperature, -1)
    if beta == 0:
        per = F.kl_div(s, t, reduction="none", log_target=True)
    elif beta == 1:
        per = F.kl_div(t, s, reduction="none", log_target=True)
    else:
        mix = torch.logsumexp(torch.stack([s + math.log(1 - beta), t + math.log(beta)]), dim=0)
        per = beta * F.kl_div(mix, t, reduction="none", log_target=True) + (1 - beta) * F.kl_div(
            mix, s, reduction="none", log_target=True)
    if labels is not None:
        keep = labels != -100
        per = per[keep]
    if reduction == "batchmean":
        return per.sum() / (keep.sum() if labels is not None else per.size(0))
    if reduction == "sum":
        return per.sum()
    if reduction == "mean":
        return per.mean()
    return per


@pytest.mark.parametrize("beta, name", [(0.0, "kl"), (1.0, "reverse_kl"), (0.5, "js"), (0.1, "js"), (0.9, "js")])
@pytest.mark.parametrize("with_labels", [True, False])
def test_trl_generalized_jsd_mapping(beta, name, with_labels):
    z, t = _rand(3, 4, 10, seed=1), _rand(3, 4, 10, seed=2)
    y = torch.tensor([[1, 2, -100, 0], [-100, -100, 3, 3], [9, 8, 7, 6]]) if with_labels else None
    params = {"beta": beta} if name == "js" else {}
    div = dv.spec(name, **params)
    # TRL batchmean: per-token mean over labelled tokens (with labels), else sum / batch size
    want = trl_generalized_jsd(z, t, y, beta=beta, temperature=2.0)
    got = divergence_loss(z, t, div, labels=y,
                          options=DistillOptions(temperature=2.0, reduction="mean" if with_labels else "batchmean"))
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)
    # TRL sum: same; TRL mean: also averages over the vocabulary axis
    torch.testing.assert_close(divergence_loss(z, t, div, labels=y, options=DistillOptions(temperature=2.0, reduction="sum")),
                               trl_generalized_jsd(z, t, y, beta=beta, temperature=2.0, reduction="sum"))
    torch.testing.assert_close(divergence_loss(z, t, div, labels=y, options=DistillOptions(temperature=2.0)) / 10,
                               trl_generalized_jsd(z, t, y, beta=beta, temperature=2.0, reduction="mean"))


def test_js_at_beta_endpoints_is_refused_naming_the_kl_trl_uses():
    """The JSD formula is 0 at β = 0 and 1 (it would train nothing); TRL special-cases the ends as KLs: the
    loss refuses them with a message naming the KL, which equals TRL's value there."""
    z, t = _rand(2, 6, seed=3), _rand(2, 6, seed=4)
    for beta, kl in ((0.0, "'kl'"), (1.0, "'reverse_kl'")):
        with pytest.raises(ValueError, match=f"is 0 for every pair.*beta={beta:g}.*use divergence={kl}"):
            divergence_loss(z, t, dv.spec("js", beta=beta))
    assert trl_generalized_jsd(z, t, beta=0.0) > 0
    torch.testing.assert_close(trl_generalized_jsd(z, t, beta=0.0), divergence_loss(z, t, "kl", options=DistillOptions(reduction="batchmean")))
    torch.testing.assert_close(trl_generalized_jsd(z, t, beta=1.0), divergence_loss(z, t, "reverse_kl", options=DistillOptions(reduction="batchmean")))


def test_torchtune_forward_kl_is_cross_entropy():
    # torchtune ForwardKLLoss: −Σ_v p_teacher log q_student, averaged over tokens whose label != ignore_index
    z, t = _rand(2, 5, 8, seed=5), _rand(2, 5, 8, seed=6)
    y = torch.tensor([[1, -100, 2, 3, 4], [0, 1, -100, -100, 7]])
    keep = (y != -100).reshape(-1)
    tt = -(torch.softmax(t, -1) * torch.log_softmax(z, -1)).sum(-1).reshape(-1)
    want = (tt * keep).sum() / keep.sum()
    got = divergence_loss(z, t, "cross_entropy", labels=y)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    # it differs from the forward KL by the teacher entropy (no gradient for the student)
    ent = -(torch.softmax(t, -1) * torch.log_softmax(t, -1)).sum(-1).reshape(-1)
    torch.testing.assert_close(got - divergence_loss(z, t, "kl", labels=y), (ent * keep).sum() / keep.sum())


@pytest.mark.parametrize("beta", [0.0, 0.5, 0.2, 1.0])
def test_liger_fused_linear_jsd_mapping(beta):
    liger = pytest.importorskip("liger_kernel.chunked_loss")
    h, w = _rand(10, 8, seed=7, dtype=torch.float32, scale=1.0), _rand(16, 8, seed=8, dtype=torch.float32, scale=1.0)
    th, tw = _rand(10, 6, seed=9, dtype=torch.float32, scale=1.0), _rand(16, 6, seed=10, dtype=torch.float32, scale=1.0)
    y = torch.tensor([1, 2, -100, 4, 5, -100, 7, 8, 9, 0])
    name, params = ("kl", {}) if beta == 0 else ("reverse_kl", {}) if beta == 1 else ("js", {"beta": beta})
    h1, w1 = h.clone().requires_grad_(), w.clone().requires_grad_()
    ref = liger.LigerFusedLinearJSDLoss(weight_hard_loss=0.3, weight_soft_loss=0.7, beta=beta, temperature=1.5,
                                        compiled=False, chunk_size=4)(h1, w1, th, tw, y)
    ref.backward()
    h2, w2 = h.clone().requires_grad_(), w.clone().requires_grad_()
    got = fused_linear_divergence_loss(h2, w2, TeacherHead(th, tw), dv.spec(name, **params), labels=y, options=DistillOptions(hard_weight=0.3, soft_weight=0.7, temperature=1.5, chunk_size=3))
    got.backward()
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(h2.grad, h1.grad, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(w2.grad, w1.grad, rtol=1e-4, atol=1e-6)
