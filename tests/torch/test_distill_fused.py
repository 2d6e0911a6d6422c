"""FusedLinearDivergenceLoss: equal in value and gradients to the unfused loss on h·Wᵀ + b."""

from __future__ import annotations

import dataclasses

import pytest

torch = pytest.importorskip("torch")

import divergences as dv  # noqa: E402
from divergences.torch import (  # noqa: E402
    DistillOptions,
    FusedLinearDivergenceLoss,
    TeacherHead,
    divergence_loss,
    fused_linear_divergence_loss,
)

F64 = torch.float64


def _rand(*shape, seed, dtype=F64, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=dtype) * scale


def _inputs(dtype=F64):
    h = _rand(2, 5, 8, seed=1, dtype=dtype).requires_grad_()
    w = _rand(19, 8, seed=2, dtype=dtype).requires_grad_()
    b = _rand(19, seed=3, dtype=dtype).requires_grad_()
    return h, w, b


@pytest.mark.parametrize("name, params", [("js", {"beta": 0.3}), ("kl", {}), ("tv", {}), ("bhattacharyya", {})])
@pytest.mark.parametrize("reduction", ["mean", "sum", "batchmean"])
def test_fused_equals_unfused(name, params, reduction):
    h, w, b = _inputs()
    t = _rand(2, 5, 19, seed=4, scale=2.0)
    y = torch.tensor([[1, -100, 3, 4, 18], [0, 0, -100, 7, 2]])
    mask = torch.tensor([[True] * 5, [True, False, True, True, True]])
    wts = torch.linspace(0.2, 1.5, 10, dtype=F64).reshape(2, 5)
    kw = dict(labels=y, mask=mask, weights=wts)
    opts = DistillOptions(temperature=1.7, reduction=reduction, hard_weight=0.25, t_squared=True)
    div = dv.spec(name, **params)
    fused = fused_linear_divergence_loss(h, w, t, div, bias=b, **kw, options=dataclasses.replace(opts, chunk_size=3))
    g_fused = torch.autograd.grad(fused, [h, w, b])
    plain = divergence_loss(h @ w.T + b, t, div, **kw, options=opts)
    g_plain = torch.autograd.grad(plain, [h, w, b])
    torch.testing.assert_close(fused, plain, rtol=1e-12, atol=1e-12)
    for a, c in zip(g_fused, g_plain):
        torch.testing.assert_close(a, c, rtol=1e-10, atol=1e-12)


def test_teacher_from_hidden_and_weight_equals_teacher_logits():
    h, w, b = _inputs()
    th, tw, tb = _rand(2, 5, 6, seed=5), _rand(19, 6, seed=6), _rand(19, seed=7)
    mod = FusedLinearDivergenceLoss("reverse_kl", options=DistillOptions(chunk_size=4))
    a = mod(h, w, TeacherHead(th, tw, tb), bias=b)
    c = mod(h, w, th @ tw.T + tb, bias=b)
    torch.testing.assert_close(a, c)


def test_gradcheck_fused():
    h, w, b = (_rand(*s, seed=i).requires_grad_() for i, s in enumerate([(2, 3, 4), (7, 4), (7,)]))
    t = _rand(2, 3, 7, seed=8)
    assert torch.autograd.gradcheck(
        lambda h_, w_, b_: fused_linear_divergence_loss(h_, w_, t, dv.spec("js", beta=0.5), bias=b_, options=DistillOptions(chunk_size=2)), (h, w, b)
    )


def test_backward_scales_with_upstream_gradient():
    h, w, _ = _inputs()
    t = _rand(2, 5, 19, seed=9)
    (g1,) = torch.autograd.grad(3.0 * fused_linear_divergence_loss(h, w, t, "kl"), [w])
    (g2,) = torch.autograd.grad(fused_linear_divergence_loss(h, w, t, "kl"), [w])
    torch.testing.assert_close(g1, 3.0 * g2)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_fused(dtype):
    h, w, b = (x.detach().to(dtype).requires_grad_() for x in _inputs(torch.float32))
    t = _rand(2, 5, 19, seed=10, dtype=dtype)
    loss = fused_linear_divergence_loss(h, w, t, "js", bias=b, options=DistillOptions(chunk_size=3))
    loss.backward()
    ref = divergence_loss((h.float() @ w.float().T + b.float()).detach(), t.float(), "js")
    torch.testing.assert_close(loss, ref, rtol=2e-2, atol=2e-3)
    for x in (h, w, b):
        assert x.grad.dtype == dtype and torch.isfinite(x.grad).all()


def test_zero_kept_tokens_fused():
    h, w, b = _inputs()
    t = _rand(2, 5, 19, seed=11)
    loss = fused_linear_divergence_loss(h, w, t, "kl", labels=torch.full((2, 5), -100), bias=b)
    loss.backward()
    assert loss == 0 and torch.all(h.grad == 0) and torch.all(w.grad == 0) and torch.all(b.grad == 0)


def test_fused_errors():
    h, w, b = _inputs()
    t = _rand(2, 5, 19, seed=12)
    with pytest.raises(ValueError, match=r"teacher must be the teacher's logits \(a tensor\) or TeacherHead"):
        fused_linear_divergence_loss(h, w, None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"teacher_hidden=: give the teacher as the third argument.*TeacherHead"):
        fused_linear_divergence_loss(h, w, teacher_hidden=t, teacher_weight=w)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"teacher_logits=: give the teacher's logits as the third argument"):
        fused_linear_divergence_loss(h, w, teacher_logits=t)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="vocabulary mismatch"):
        fused_linear_divergence_loss(h, w, _rand(2, 5, 21, seed=13))
    with pytest.raises(ValueError, match="hidden size"):
        fused_linear_divergence_loss(h, w[:, :5], t)
    with pytest.raises(ValueError, match="reduction"):
        FusedLinearDivergenceLoss("kl", options=DistillOptions(reduction="avg"))


def test_fused_vocab_crop_matches_unfused():
    h, w, b = _inputs()
    t = _rand(2, 5, 23, seed=14)
    a = fused_linear_divergence_loss(h, w, t, "kl", options=DistillOptions(vocab_mismatch="crop", chunk_size=4))
    c = divergence_loss(h @ w.T, t, "kl", options=DistillOptions(vocab_mismatch="crop"))
    torch.testing.assert_close(a, c)
