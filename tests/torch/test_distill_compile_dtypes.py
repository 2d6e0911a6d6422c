"""Issue 22, engine defects: torch.compile(fullgraph=True), left padding, mixed dtypes, repeated backward."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

import divergences as dv  # noqa: E402
from divergences.torch import (  # noqa: E402
    DistillOptions,
    divergence_loss,
    fused_linear_divergence_loss,
    topk_divergence_loss,
)

from ._distill_reference import direct  # noqa: E402

F64 = torch.float64


def _r(*shape, seed=0, dtype=F64, scale=1.5):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=dtype) * scale


# --- torch.compile(fullgraph=True) on CPU inductor -------------------------------------------------------


@pytest.mark.slow
def test_dense_fused_and_topk_losses_compile_with_fullgraph_on_inductor():
    torch._dynamo.reset()
    labels = torch.tensor([[1, 2, -100, 4, 5], [-100, 3, 3, 3, 3]])
    w = torch.tensor([[1.0, 0.5, 2.0, 1.0, 1.0], [1.0, 1.0, 0.0, 3.0, 1.0]])
    z, t = _r(2, 5, 17, seed=1, dtype=torch.float32), _r(2, 5, 17, seed=2, dtype=torch.float32)
    h, W = _r(2, 5, 6, seed=3, dtype=torch.float32), _r(17, 6, seed=4, dtype=torch.float32, scale=0.5)

    def dense(z, t):  # labels with dropped tokens, per-token weights, a hard term: the traced plan walks every row
        return divergence_loss(z, t, dv.spec("js", beta=0.3), labels=labels, weights=w, options=DistillOptions(hard_weight=0.5, temperature=1.5))

    def fused(h, W, t):
        return fused_linear_divergence_loss(h, W, t, "kl", labels=labels)

    lp, ix = t.log_softmax(-1).topk(4)

    def topk(z, lp, ix):
        return topk_divergence_loss(z, lp, ix, "reverse_kl", labels=labels, options=DistillOptions(temperature=0.7))

    for fn, args, n_grad in ((dense, (z, t), 2), (fused, (h, W, t), 2), (topk, (z, lp, ix), 1)):
        want_in = [a.clone().requires_grad_(i < n_grad) for i, a in enumerate(args)]
        want = fn(*want_in)
        want_grads = torch.autograd.grad(want, want_in[:n_grad])
        got_in = [a.clone().requires_grad_(i < n_grad) for i, a in enumerate(args)]
        compiled = torch.compile(fn, fullgraph=True, backend="inductor")
        got = compiled(*got_in)
        got_grads = torch.autograd.grad(got, got_in[:n_grad])
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
        for g, r in zip(got_grads, want_grads):
            torch.testing.assert_close(g, r, rtol=1e-5, atol=1e-6)
        if fn is dense:  # the finiteness check, traced: an asynchronous assertion naming the tensor
            bad = z.clone()
            bad[1, 2, 3] = math.nan
            with pytest.raises(RuntimeError, match="student_logits holds NaN"):
                compiled(bad, t)


def test_traced_plan_equals_the_compacted_plan(monkeypatch):
    """The plan used under torch.compile (every row walked, dropped ones zeroed) gives the eager values,
    checked eagerly by pretending to trace (no compile time)."""
    from divergences.torch import _checks, _engine, _plan

    labels = torch.tensor([[1, 2, -100, 4, 5, 0], [-100, 3, 3, 3, -100, 3]])
    w = _r(2, 6, seed=5).abs()
    z, t = _r(2, 6, 11, seed=6), _r(2, 6, 11, seed=7)
    z[0, 2] = 1e4  # a dropped row whose χ² loss overflows must not turn the sum into NaN
    want = {}
    for red in ("mean", "sum", "none", "batchmean"):
        for div in ("js", "pearson"):
            zz = z.clone().requires_grad_()
            out = divergence_loss(zz, t, div, labels=labels, weights=w, options=DistillOptions(reduction=red, hard_weight=0.3))
            want[red, div] = (out.detach(), torch.autograd.grad(out.sum(), zz)[0])
    monkeypatch.setattr(_checks, "compiling", lambda: True)
    monkeypatch.setattr(_engine, "compiling", lambda: True)
    monkeypatch.setattr(_plan, "compiling", lambda: True)
    monkeypatch.setattr(torch, "_assert_async", lambda ok, msg: None if bool(ok) else (_ for _ in ()).throw(
        RuntimeError(msg)))
    for (red, div), (out_w, g_w) in want.items():
        zz = z.clone().requires_grad_()
        out = divergence_loss(zz, t, div, labels=labels, weights=w, options=DistillOptions(reduction=red, hard_weight=0.3))
        g = torch.autograd.grad(out.sum(), zz)[0]
        torch.testing.assert_close(out.detach(), out_w, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(g, g_w, rtol=1e-12, atol=1e-12)
        assert bool(torch.isfinite(out).all())
    with pytest.raises(RuntimeError, match=r"labels of kept tokens must lie in \[0, 11\)"):
        divergence_loss(z, t, "kl", labels=labels.masked_fill(labels == 4, 11), options=DistillOptions(hard_weight=0.3))


# --- the backward pass: no host read of the incoming gradient on CUDA, repeated backward --------------------


def test_backward_scales_by_the_incoming_gradient_and_can_run_twice():
    z, t = _r(5, 9, seed=8).requires_grad_(), _r(5, 9, seed=9).requires_grad_()
    p, q = torch.softmax(t.detach(), -1), None
    loss = divergence_loss(z, t, dv.spec("js", beta=0.4))
    (g1,) = torch.autograd.grad(3.0 * loss, [z], retain_graph=True)
    (g2,) = torch.autograd.grad(3.0 * loss, [z], retain_graph=True)
    assert torch.equal(g1, g2)  # reentrant: the same incoming gradient gives the same result, bit for bit
    (g3,) = torch.autograd.grad(-0.5 * loss, [z], retain_graph=True)
    torch.testing.assert_close(g3, g1 * (-0.5 / 3.0), rtol=1e-13, atol=1e-15)
    zz = z.detach().clone().requires_grad_()
    q = torch.softmax(zz, -1)
    (ref,) = torch.autograd.grad(3.0 * direct("js", p, q, beta=0.4).mean(), [zz])
    torch.testing.assert_close(g1, ref, rtol=1e-10, atol=1e-13)
    # a first backward with an incoming gradient of 0 clears what the loss holds: a second is an error, not a 0
    loss = divergence_loss(z, t, "kl")
    (g0,) = torch.autograd.grad(0.0 * loss, [z], retain_graph=True)
    assert bool((g0 == 0).all())
    with pytest.raises(RuntimeError, match="compute the loss again"):
        torch.autograd.grad(loss, [z])


def test_fused_per_token_backward_can_run_twice():
    h, W, t = _r(7, 4, seed=10).requires_grad_(), _r(9, 4, seed=11).requires_grad_(), _r(7, 9, seed=12)
    per = fused_linear_divergence_loss(h, W, t, "kl", options=DistillOptions(reduction="none", chunk_size=3))
    v = _r(7, seed=13)
    a = torch.autograd.grad(per, [h, W], grad_outputs=v, retain_graph=True)
    b = torch.autograd.grad(per, [h, W], grad_outputs=v)
    for x, y in zip(a, b):
        assert torch.equal(x, y)


# --- mixed dtypes in the fused loss -------------------------------------------------------------------------


@pytest.mark.parametrize("h_dtype, w_dtype", [(torch.bfloat16, torch.float32), (torch.float32, torch.bfloat16),
                                              (torch.float16, torch.float32), (torch.float32, torch.float64)])
def test_fused_loss_with_mixed_dtypes_upcasts(h_dtype, w_dtype):
    h = _r(6, 8, seed=14, dtype=torch.float32).to(h_dtype).requires_grad_()
    W = _r(20, 8, seed=15, dtype=torch.float32, scale=0.4).to(w_dtype).requires_grad_()
    b = _r(20, seed=16, dtype=torch.float32).to(h_dtype).requires_grad_()
    t = _r(6, 20, seed=17, dtype=torch.float32)
    loss = fused_linear_divergence_loss(h, W, t, "kl", bias=b, options=DistillOptions(temperature=1.3))
    loss.backward()
    assert (h.grad.dtype, W.grad.dtype, b.grad.dtype) == (h_dtype, w_dtype, h_dtype)
    wide = torch.promote_types(h_dtype, w_dtype)
    hh, WW, bb = (x.detach().to(wide).requires_grad_() for x in (h, W, b))
    ref = divergence_loss(hh @ WW.T + bb, t, "kl", options=DistillOptions(temperature=1.3))
    ref.backward()
    tol = dict(rtol=1e-2, atol=1e-3) if torch.float16 in (h_dtype, w_dtype) or torch.bfloat16 in (
        h_dtype, w_dtype) else dict(rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(loss.to(wide), ref, **tol)
    for got, want in ((h.grad, hh.grad), (W.grad, WW.grad), (b.grad, bb.grad)):
        torch.testing.assert_close(got.to(wide), want, **tol)
