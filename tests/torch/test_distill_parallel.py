"""The chunk engine's block workers (issue 22): the same values and gradients under every thread policy.

The policies run the same blocks in different threads: ``"workers"`` shares them out to worker threads
with one intra-op thread each, ``"single"`` runs them in the caller on one thread, ``"intra-op"`` in the
caller on torch's intra-op threads. Tiny cache blocks (patched) give many blocks on small inputs, so the
workers really interleave. The tensors are below torch's parallel grain, so every policy computes each
block on one thread and the results must agree bit for bit.
"""

from __future__ import annotations

import math
import multiprocessing
import threading

import pytest

torch = pytest.importorskip("torch")

import divergences as dv  # noqa: E402
from divergences.catalogue import JensenShannon  # noqa: E402
from divergences.torch import (  # noqa: E402
    DistillOptions,
    _engine,
    _parallel,
    divergence_loss,
    fused_linear_divergence_loss,
    token_entropy,
    topk_divergence_loss,
)

from ._distill_reference import direct  # noqa: E402

F64 = torch.float64


@pytest.fixture
def tiny_blocks(monkeypatch):
    monkeypatch.setattr(_engine, "CPU_BLOCK_ELEMENTS", 48)  # 4 rows of 12 per block
    if torch.get_num_threads() < 2:
        monkeypatch.setattr(_parallel, "workers_for", lambda device: 3)


def _r(*shape, seed=0, dtype=F64, scale=1.5):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=dtype) * scale


def _grads(fn, *tensors):
    xs = [t.detach().clone().requires_grad_() for t in tensors]
    out = fn(*xs)
    out.sum().backward()
    return out.detach(), [x.grad for x in xs]


def _same_under_policies(fn, *tensors):
    results = {}
    for name in _parallel.POLICIES:
        with _parallel.policy(name):
            results[name] = _grads(fn, *tensors)
    ref_out, ref_grads = results["single"]
    for name, (out, grads) in results.items():
        assert torch.equal(out, ref_out), name
        for g, r in zip(grads, ref_grads):
            assert torch.equal(g, r), name
    return ref_out, ref_grads


LABELS = torch.tensor([[1, -100, 2, 3, 0, 5, -100, 7, 8, 9, 10, 11, 1],
                       [-100, 0, 1, 2, 3, 4, 5, 6, -100, -100, 2, 2, 2]])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_dense_loss_agrees_across_policies_and_with_the_formula(tiny_blocks, reduction):
    z, t = _r(2, 13, 12, seed=1), _r(2, 13, 12, seed=2)
    w = _r(2, 13, seed=3).abs()

    def fn(z, t):
        return divergence_loss(z, t, dv.spec("js", beta=0.3), labels=LABELS, weights=w, options=DistillOptions(reduction=reduction, hard_weight=0.25))

    out, (gz, gt) = _same_under_policies(fn, z, t)
    keep = LABELS != -100
    per = direct("js", t.softmax(-1), z.softmax(-1), beta=0.3)
    ce = -z.log_softmax(-1).gather(-1, LABELS.clamp_min(0).unsqueeze(-1)).squeeze(-1)
    want = torch.where(keep, (per + 0.25 * ce) * w, torch.zeros_like(per))
    if reduction == "mean":
        want = want.sum() / keep.sum()
    elif reduction == "sum":
        want = want.sum()
    torch.testing.assert_close(out, want, rtol=1e-12, atol=1e-13)
    assert gt is not None and gz is not None and bool(gz[~keep].eq(0).all())
    if torch.get_num_threads() >= 2:  # the blocks did run in worker threads
        assert any(th.name == "divergences-block-worker" for th in threading.enumerate())


def test_fused_loss_agrees_across_policies_and_with_the_dense_loss(tiny_blocks):
    h, W, t = _r(37, 5, seed=4), _r(12, 5, seed=5, scale=0.5), _r(37, 12, seed=6)

    def fused(h, W):
        return fused_linear_divergence_loss(h, W, t, "reverse_kl", options=DistillOptions(chunk_size=9, temperature=1.5))

    out, grads = _same_under_policies(fused, h, W)
    want, want_grads = _grads(lambda h, W: divergence_loss(h @ W.T, t, "reverse_kl", options=DistillOptions(temperature=1.5)), h, W)
    torch.testing.assert_close(out, want, rtol=1e-12, atol=1e-13)
    for g, r in zip(grads, want_grads):
        torch.testing.assert_close(g, r, rtol=1e-11, atol=1e-12)

    def fused_none(h, W):  # per-token losses: the backward pass runs the blocks again
        return fused_linear_divergence_loss(h, W, t, "kl", options=DistillOptions(chunk_size=9, reduction="none"))

    _same_under_policies(fused_none, h, W)


def test_topk_and_entropy_agree_across_policies(tiny_blocks):
    z, t = _r(30, 12, seed=7), _r(30, 12, seed=8)
    lp, ix = t.log_softmax(-1).topk(4)
    _same_under_policies(lambda z: topk_divergence_loss(z, lp, ix, "tv"), z)
    _same_under_policies(lambda z: topk_divergence_loss(z, lp, ix, dv.spec("renyi", alpha=0.7)), z)  # autograd kernel
    ents = {}
    for name in _parallel.POLICIES:
        with _parallel.policy(name):
            ents[name] = token_entropy(t)
    for e in ents.values():
        assert torch.equal(e, ents["single"])
    torch.testing.assert_close(ents["single"], -(t.softmax(-1) * t.log_softmax(-1)).sum(-1))


def test_a_user_generator_and_an_error_inside_a_block_reach_the_caller(tiny_blocks):
    z, t = _r(40, 12, seed=9), _r(40, 12, seed=10)
    _same_under_policies(lambda z, t: divergence_loss(z, t, JensenShannon(beta=0.6)), z, t)

    class Boom(JensenShannon):
        calls = 0

        def _phi_dphi(self, a, b, xp):
            Boom.calls += 1
            if Boom.calls == 3:
                raise ArithmeticError("raised in a block")
            return super()._phi_dphi(a, b, xp)

    with _parallel.policy("workers"), pytest.raises(ArithmeticError, match="raised in a block"):
        divergence_loss(z.requires_grad_(), t, Boom(beta=0.4))


def test_grad_and_inference_modes_reach_the_workers(tiny_blocks):
    z, t = _r(40, 12, seed=11), _r(40, 12, seed=12)
    want = divergence_loss(z, t, "kl", options=DistillOptions(reduction="none"))
    with torch.inference_mode():
        zi, ti = z.clone(), t.clone()
        got = divergence_loss(zi, ti, "kl", options=DistillOptions(reduction="none"))
    assert torch.equal(got, want)
    with torch.no_grad():
        assert torch.equal(divergence_loss(z, t, "kl", options=DistillOptions(reduction="none")), want)


def test_concurrent_callers_share_the_workers(tiny_blocks):
    z, t = _r(40, 12, seed=13), _r(40, 12, seed=14)
    want = divergence_loss(z, t, "hellinger")
    got: list = [None] * 4

    def call(i):
        got[i] = divergence_loss(z, t, "hellinger")

    threads = [threading.Thread(target=call, args=(i,)) for i in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    assert all(g is not None and torch.equal(g, want) for g in got)


def _child(queue):
    from divergences.torch import _engine as eng
    from divergences.torch import divergence_loss as loss

    eng.CPU_BLOCK_ELEMENTS = 48
    g = torch.Generator().manual_seed(0)
    z, t = torch.randn(40, 12, generator=g, dtype=F64), torch.randn(40, 12, generator=g, dtype=F64)
    queue.put(float(loss(z, t, "kl")))


def test_a_forked_child_starts_its_own_workers(tiny_blocks):
    g = torch.Generator().manual_seed(0)
    z, t = torch.randn(40, 12, generator=g, dtype=F64), torch.randn(40, 12, generator=g, dtype=F64)
    want = float(divergence_loss(z, t, "kl"))  # the parent's workers exist now
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(queue,))
    proc.start()
    try:
        got = queue.get(timeout=60)
    finally:
        proc.join(timeout=30)
        if proc.is_alive():
            proc.kill()
    assert math.isclose(got, want, rel_tol=1e-14)


def test_the_workers_leave_the_callers_thread_count_alone(tiny_blocks):
    before = torch.get_num_threads()
    z, t = _r(40, 12, seed=15), _r(40, 12, seed=16)
    divergence_loss(z, t, "kl")
    assert torch.get_num_threads() == before
    seen: list[int] = []
    th = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))  # a thread started afterwards
    th.start()
    th.join()
    assert seen == [before]
    with pytest.raises(ValueError, match="policy"):
        _parallel.set_policy("fast")
