"""topk_divergence_loss: k teacher entries plus one tail bucket against the student's same buckets."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

import divergences as dv  # noqa: E402
from divergences.torch import DistillOptions, divergence_loss, topk_divergence_loss  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from _distill_reference import CASES, direct  # noqa: E402

F64 = torch.float64


def _rand(*shape, seed, scale=2.0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=F64) * scale


def _buckets(probs_full_teacher, q, idx):
    pk = probs_full_teacher.gather(-1, idx)
    qk = q.gather(-1, idx)
    return (torch.cat([pk, 1 - pk.sum(-1, keepdim=True)], -1), torch.cat([qk, 1 - qk.sum(-1, keepdim=True)], -1))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0] + "".join(f"-{v}" for v in c[1].values()))
def test_topk_equals_bucket_formula_with_gradients(case):
    name, params = case
    z = _rand(2, 3, 12, seed=1).requires_grad_()
    t = _rand(2, 3, 12, seed=2)
    lp, ix = torch.log_softmax(t, -1).topk(4)
    y = torch.tensor([[1, -100, 3], [0, 5, 2]])
    got = topk_divergence_loss(z, lp, ix, dv.spec(name, **params), labels=y, options=DistillOptions(temperature=1.5, chunk_size=2))
    p, q = _buckets(torch.softmax(t, -1), torch.softmax(z / 1.5, -1), ix)
    keep = (y != -100).to(F64)
    want = (direct(name, p, q, **params) * keep).sum() / keep.sum()
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(torch.autograd.grad(got, z)[0], torch.autograd.grad(want, z)[0], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", ["kl", "js", "hellinger", "renyi"])
def test_gradcheck_topk(name):
    z = _rand(3, 6, seed=3).requires_grad_()
    lp, ix = torch.log_softmax(_rand(3, 6, seed=4), -1).topk(2)
    assert torch.autograd.gradcheck(lambda a: topk_divergence_loss(a, lp, ix, name, options=DistillOptions(reduction="none", chunk_size=2)),
                                    (z,))


def test_full_k_equals_dense_and_topk_is_a_lower_bound():
    z, t = _rand(4, 9, seed=5), _rand(4, 9, seed=6)
    lp, ix = torch.log_softmax(t, -1).topk(9)
    torch.testing.assert_close(topk_divergence_loss(z, lp, ix, "jeffreys"), divergence_loss(z, t, "jeffreys"))
    full = divergence_loss(z, t, "kl", options=DistillOptions(reduction="none"))
    for k in (1, 3, 6):
        lp, ix = torch.log_softmax(t, -1).topk(k)
        assert torch.all(topk_divergence_loss(z, lp, ix, "kl", options=DistillOptions(reduction="none")) <= full + 1e-12)


def test_extremes_topk():
    z = _rand(3, 8, seed=7, scale=1.0).sign().mul(1e4).float().requires_grad_()
    lp, ix = torch.log_softmax(_rand(3, 8, seed=8).float() * 5e3, -1).topk(3)
    loss = topk_divergence_loss(z, lp, ix, "js")
    (g,) = torch.autograd.grad(loss, z)
    assert torch.isfinite(loss) and torch.isfinite(g).all()
    # teacher mass entirely in the top-k (empty tail), student logits masked outside it
    z2 = torch.full((2, 6), -math.inf, dtype=F64)
    z2[:, :3] = _rand(2, 3, seed=9)
    z2.requires_grad_()
    lp2, ix2 = torch.log_softmax(_rand(2, 3, seed=10), -1), torch.tensor([[0, 1, 2], [2, 1, 0]])
    loss2 = topk_divergence_loss(z2, lp2, ix2, "kl")
    (g2,) = torch.autograd.grad(loss2, z2)
    assert torch.isfinite(loss2) and torch.isfinite(g2).all()


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda lp, ix: (lp, ix.clone().fill_(0)), "distinct"),
        (lambda lp, ix: (lp, ix + 100), r"\[0, 8\)"),
        (lambda lp, ix: (lp + 1.0, ix), "log-probabilities|more than 1"),
        (lambda lp, ix: (lp[..., :2], ix), "shape"),
        (lambda lp, ix: (lp, ix.double()), "integer"),
    ],
)
def test_topk_bad_input(mutate, match):
    z = _rand(2, 8, seed=11)
    lp, ix = torch.log_softmax(_rand(2, 8, seed=12), -1).topk(3)
    lp, ix = mutate(lp, ix)
    with pytest.raises(ValueError, match=match):
        topk_divergence_loss(z, lp, ix, "kl")
