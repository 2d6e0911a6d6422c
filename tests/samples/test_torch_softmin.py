"""The tiled soft-min of the torch Sinkhorn solver (``_torch_softmin``) against a direct
``torch.logsumexp`` over the whole cost matrix: row panels, column panels combined by ``logaddexp``,
the closed-form backward (p = 2) and the autograd one (other p) by gradcheck, and exponents far below
the exp floor (ε tiny against the costs) giving the same value as the unfloored direct form."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from divergences.samples._torch_softmin import panels, plan_entries, softmin  # noqa: E402


def _direct(x, y, h, eps, p):
    cost = torch.cdist(x, y, compute_mode="donot_use_mm_for_euclid_dist") ** p
    return -eps * torch.logsumexp(h[:, None, :] - cost / eps, dim=-1)


def _data(B=2, n=9, m=13, d=3, seed=0):
    rng = np.random.default_rng(seed)
    return (torch.tensor(rng.normal(size=(B, n, d))), torch.tensor(rng.normal(size=(B, m, d)) + 0.3),
            torch.tensor(rng.normal(size=(B, m))))


def test_panels_cover_every_pair_once():
    for n, m, block in ((9, 13, 2), (9, 13, 4), (9, 13, 100), (1, 1, 1), (5, 40, 3)):
        seen = np.zeros((n, m), int)
        for i0, i1, j0, j1 in panels(n, m, block):
            assert (i1 - i0) * (j1 - j0) <= block * block
            seen[i0:i1, j0:j1] += 1
        assert (seen == 1).all(), (n, m, block)


@pytest.mark.parametrize("p", [2, 1, 1.5])
@pytest.mark.parametrize("block", [2, 3, 4, 100])  # column panels (2, 3), full-row panels (4, 100)
def test_softmin_equals_direct_logsumexp(p, block):
    x, y, h = _data()
    for eps in (0.05, 0.7, 5.0):
        got = softmin(x, y, h, eps, p, block)
        torch.testing.assert_close(got, _direct(x, y, h, eps, p), rtol=1e-12, atol=1e-12)


def test_softmin_below_the_exp_floor():
    """ε = 1e-4 against costs of order 1: almost every exponent is below −700 (floored before exp)."""
    x, y, h = _data()
    for block in (3, 100):
        torch.testing.assert_close(softmin(x, y, h, 1e-4, 2, block), _direct(x, y, h, 1e-4, 2), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("p", [2, 1.5])
@pytest.mark.parametrize("block", [2, 4, 100])
def test_softmin_gradcheck(p, block):
    x, y, h = (t.requires_grad_() for t in _data(n=5, m=6, d=2))
    assert torch.autograd.gradcheck(lambda a, b, c: softmin(a, b, c, 0.6, p, block), (x, y, h))
    # and equal to autograd through the direct form
    gx, gy, gh = torch.autograd.grad(softmin(x, y, h, 0.6, p, block).square().sum(), (x, y, h))
    wx, wy, wh = torch.autograd.grad(_direct(x, y, h, 0.6, p).square().sum(), (x, y, h))
    for got, want in ((gx, wx), (gy, wy), (gh, wh)):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


def test_plan_entries_are_the_large_entries_of_the_plan():
    x, y, _ = _data(B=1, n=30, m=40, d=2)
    x, y = x[0], y[0]
    eps = 0.2
    rng = np.random.default_rng(1)
    u, v = torch.tensor(rng.normal(size=30)), torch.tensor(rng.normal(size=40))
    logp = u[:, None] + v[None, :] - torch.cdist(x, y) ** 2 / eps
    row = torch.logsumexp(logp, 1)
    for block in (3, 7, 100):
        rows, cols, vals = plan_entries(x, y, u, v, row, eps, 2, block, 1e-3, 10**6)
        keep = (logp >= row[:, None] + np.log(1e-3)).numpy()
        got = np.zeros((30, 40))
        got[rows, cols] = vals
        np.testing.assert_allclose(got, np.where(keep, logp.exp().numpy(), 0.0), rtol=1e-11, atol=0)
        assert len(rows) == keep.sum()
        assert plan_entries(x, y, u, v, row, eps, 2, block, 1e-3, int(keep.sum()) - 1) is None
