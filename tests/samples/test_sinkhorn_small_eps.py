"""Sinkhorn at small ε converges with the default arguments (issue 13): ε ∈ {0.01, 0.05} on two
standardised clouds of 200 points in 2-D and 10-D, NumPy and torch (float64 and float32).

References: POT's log-domain Sinkhorn (``ot.bregman.sinkhorn_log``) from a cold start gives a dual
value that is a lower bound of OT_ε (block ascent on the concave dual) and, warm-started at our
potentials, must stay there (our potentials are its fixed point) with the same value; GeomLoss's
debiased ``SamplesLoss("sinkhorn")`` (annealing only, no convergence test) must approach our value
as its ``scaling`` tends to 1. Convention map for GeomLoss (p = 2): its cost is ‖x − y‖²/2 and its
ε is blur², so our S_ε (cost ‖x − y‖²) is twice its value at blur = √(ε/2).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from divergences.samples import sinkhorn
from divergences.samples._sinkhorn_numpy import cost_matrix as _cost
from divergences.samples._sinkhorn_numpy import entropic_ot as _entropic_ot

ot = pytest.importorskip("ot")

CASES = [(d, eps) for d in (2, 10) for eps in (0.05, 0.01)]


def _clouds(d, n=200, seed=6):
    rng = np.random.default_rng(seed + d)
    x, y = rng.normal(size=(n, d)), rng.normal(size=(n, d)) + 0.5
    return (x - x.mean(0)) / x.std(0), (y - y.mean(0)) / y.std(0)


def _pot_dual(x, y, eps, iterations, warmstart=None):
    """POT's log-domain Sinkhorn: its dual value ⟨a, f⟩ + ⟨b, g⟩ − ε(Σπ − 1) and its plan's L1 marginal
    error (its last update makes the rows exact: the columns carry the error)."""
    n, m = len(x), len(y)
    a, b = np.full(n, 1 / n), np.full(m, 1 / m)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # POT warns when it stops at numItermax
        plan, log = ot.bregman.sinkhorn_log(a, b, ot.dist(x, y), eps, numItermax=iterations, stopThr=0.0, log=True,
                                            warmstart=warmstart)
    f, g = eps * (log["log_u"] - np.log(a)), eps * (log["log_v"] - np.log(b))
    return float(a @ f + b @ g - eps * (plan.sum() - 1)), float(np.abs(plan.sum(0) - b).sum())


@pytest.mark.parametrize(("d", "eps"), CASES)
def test_defaults_converge_and_are_pots_fixed_point(d, eps):
    x, y = _clouds(d)
    n = len(x)
    a = np.full(n, 1 / n)
    value, iterations, err, finite, f, g = _entropic_ot(_cost(x, y, 2), a, a, eps, max_iter=10_000, tol=1e-6,
                                                        scaling=0.5)
    assert finite and err < 1e-6 and iterations < 200
    # the public function with its defaults: no error (on_failure="raise"), the same value
    assert sinkhorn(x, y, epsilon=eps, debiased=False) == pytest.approx(value, rel=1e-12)
    # POT, warm-started at our potentials, stays there: same value, marginal error still small
    pot_value, pot_err = _pot_dual(x, y, eps, 200, warmstart=(np.log(a) + f / eps, np.log(a) + g / eps))
    assert pot_value == pytest.approx(value, rel=1e-7)
    assert pot_err < 1e-6


@pytest.mark.slow
@pytest.mark.parametrize(("d", "eps"), CASES)
def test_cold_pot_is_a_lower_bound_and_converges_to_ours(d, eps):
    """From zero, POT's iterates are dual values below OT_ε, converging to ours from below (only
    2-D at ε = 0.05 converges in 3000 of its iterations; the rest stay within 1e-5 below). Ours is a
    dual value too, at a marginal error below 1e-6: equal within 1e-8."""
    x, y = _clouds(d)
    ours = sinkhorn(x, y, epsilon=eps, debiased=False)
    pot, pot_err = _pot_dual(x, y, eps, 3000)
    assert pot <= ours * (1 + 1e-8)
    assert (ours - pot) / ours < (1e-8 if pot_err < 1e-8 else 1e-5)


@pytest.mark.parametrize(("d", "eps"), CASES)
def test_torch_float64_and_float32_converge_with_defaults(d, eps):
    torch = pytest.importorskip("torch")
    x, y = _clouds(d)
    ref = sinkhorn(x, y, epsilon=eps)  # debiased, NumPy
    # both backends stop at a marginal error below 1e-6, each on its own path (rounding differs: torch's
    # matrix-product scores, NumPy's exact distances), so they agree within what that tolerance leaves of
    # the converged value (measured 3e-7 from it at 2-D, ε = 0.05), and much closer in practice (≤ 2e-8)
    converged = sinkhorn(x, y, epsilon=eps, tol=1e-11, max_iter=100_000)
    assert ref == pytest.approx(converged, rel=1e-6)
    for dtype, rel in ((torch.float64, 5e-8), (torch.float32, 1e-5)):
        xt = torch.tensor(x, dtype=dtype, requires_grad=True)
        value = sinkhorn(xt, torch.tensor(y, dtype=dtype), epsilon=eps)
        (grad,) = torch.autograd.grad(value, xt)
        assert value.dtype == dtype and grad.dtype == dtype and bool(torch.isfinite(grad).all())
        assert float(value.detach()) == pytest.approx(ref, rel=rel)
        assert float(value.detach()) == pytest.approx(converged, rel=1e-6)


@pytest.mark.parametrize(("d", "eps"), CASES)
def test_debiased_against_geomloss_as_its_scaling_tends_to_one(d, eps):
    torch = pytest.importorskip("torch")
    geomloss = pytest.importorskip("geomloss")
    x, y = _clouds(d)
    ours = sinkhorn(x, y, epsilon=eps)
    xt, yt = torch.tensor(x), torch.tensor(y)

    def geom(scaling):
        loss = geomloss.SamplesLoss("sinkhorn", p=2, blur=(eps / 2) ** 0.5, debias=True, scaling=scaling,
                                    backend="tensorized")
        return 2 * float(loss(xt, yt))

    coarse, fine = abs(geom(0.9) - ours), abs(geom(0.995) - ours)
    assert fine < coarse
    assert fine / ours < 2e-3


def test_batched_torch_newton_equals_loop_and_numpy():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(3, 40, 2)), rng.normal(size=(3, 30, 2)) + 0.5
    got = sinkhorn(torch.tensor(x), torch.tensor(y), epsilon=0.01, debiased=False)
    for k in range(3):
        assert float(got[k]) == pytest.approx(sinkhorn(x[k], y[k], epsilon=0.01, debiased=False), rel=1e-8)


def test_too_dense_plan_falls_back_to_sinkhorn_updates(monkeypatch):
    """With no room for a Newton system the steps are Sinkhorn updates: same value, still converged."""
    import divergences.samples._sinkhorn_newton as sn

    calls = []
    direction = sn._direction
    monkeypatch.setattr(sn, "_direction", lambda *args: calls.append(1) or direction(*args))
    x, y = _clouds(2, n=60)
    want = sinkhorn(x, y, epsilon=0.1, debiased=False, tol=1e-9)
    assert calls  # Newton steps were taken
    calls.clear()
    monkeypatch.setattr(sn, "MAX_ENTRIES", 0)
    assert sinkhorn(x, y, epsilon=0.1, debiased=False, tol=1e-9) == pytest.approx(want, rel=1e-9)
    assert not calls


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_newton_only_when_sinkhorn_would_be_slow(monkeypatch, backend):
    """At ε = 0.5 (60 points) Sinkhorn's measured rate reaches tol within NEWTON_WORTH more iterations,
    so no Newton system is built; at ε = 0.1 it would not, and Newton steps are taken. Same value either way
    as with Newton switched off (NEWTON_AFTER beyond max_iter)."""
    import divergences.samples._convergence as tr
    import divergences.samples._sinkhorn_newton as sn

    calls = []
    direction = sn._direction
    monkeypatch.setattr(sn, "_direction", lambda *args: calls.append(1) or direction(*args))
    x, y = _clouds(2, n=60)
    if backend == "torch":
        torch = pytest.importorskip("torch")
        x, y = torch.tensor(x), torch.tensor(y)
    for eps, newton in ((0.5, False), (0.1, True)):
        calls.clear()
        got = float(sinkhorn(x, y, epsilon=eps, debiased=False, tol=1e-9))
        assert bool(calls) is newton, eps
        monkeypatch.setattr(tr, "NEWTON_AFTER", 10**9)
        plain = float(sinkhorn(x, y, epsilon=eps, debiased=False, tol=1e-9, max_iter=100_000))
        monkeypatch.setattr(tr, "NEWTON_AFTER", 50)
        assert got == pytest.approx(plain, rel=1e-8, abs=1e-10), eps


def test_torch_exact_start_decided_on_the_largest_cost_as_numpy(monkeypatch):
    """The exact-dual start is for ε below 1e-4 of the largest cost. The torch path's ε path starts at the
    bounding box's squared diameter, which in 10-D is far above the largest cost: deciding on it started
    moderate-ε problems from an exact solve (a POT import and a dense LP: 2× the time, 10× the memory)."""
    import torch

    from divergences.samples import _convergence, _torch_transport

    calls = []
    real = _convergence.exact_start

    def counting(cost, a, b):
        calls.append(cost.max())
        return real(cost, a, b)

    monkeypatch.setattr(_torch_transport, "exact_start", counting)
    x, y = (torch.as_tensor(c) for c in _clouds(10))
    largest = float(torch.cdist(x - x.mean(0), y - x.mean(0)).square().max())
    box = float((torch.cat([x, y]).amax(0) - torch.cat([x, y]).amin(0)).square().sum())
    eps = 2e-4 * largest  # between the two thresholds: not "small" for this problem
    assert 1e-4 * largest < eps < 1e-4 * box
    numpy_value = sinkhorn(x.numpy(), y.numpy(), epsilon=eps, debiased=False)
    assert float(sinkhorn(x, y, epsilon=eps, debiased=False)) == pytest.approx(numpy_value, rel=1e-6)
    assert calls == []
    small = 0.5e-4 * largest  # below: both start from the exact dual
    float(sinkhorn(x, y, epsilon=small, debiased=False))
    assert len(calls) == 1
