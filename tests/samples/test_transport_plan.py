"""The transport plan and its potentials (issue 23, item 1): against POT's dense log-domain plan on small
cases, NumPy and torch; lazy products equal the dense ones; memory stays a panel's at large n."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from divergences.samples import SinkhornConvergenceError, TransportPlan, sinkhorn, sinkhorn_plan

ot = pytest.importorskip("ot")
torch = pytest.importorskip("torch")


def _case(seed=0, n=12, m=9, d=2):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(n, d)), rng.normal(0.5, 1.2, size=(m, d))
    a, b = rng.uniform(0.2, 1.0, size=n), rng.uniform(0.2, 1.0, size=m)
    return x, y, a / a.sum(), b / b.sum()


def _pot(x, y, a, b, eps, p):
    cost = cdist(x, y, "sqeuclidean") if p == 2 else cdist(x, y) ** p
    plan, log = ot.sinkhorn(a, b, cost, eps, method="sinkhorn_log", stopThr=1e-14, numItermax=50_000, log=True)
    return cost, plan, log


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize(("p", "eps"), [(2, 0.5), (2, 0.1), (1, 0.2)])
def test_plan_and_potentials_against_pot(backend, p, eps):
    x, y, a, b = _case(p)
    cost, want, log = _pot(x, y, a, b, eps, p)
    conv = (lambda v: torch.tensor(v)) if backend == "torch" else (lambda v: v)
    plan = sinkhorn_plan(conv(x), conv(y), epsilon=eps, p=p, weights=(conv(a), conv(b)), tol=1e-12, max_iter=100_000)
    dense = np.asarray(plan.dense())
    np.testing.assert_allclose(dense, want, atol=1e-10)
    # POT's scalings: π = exp(log u − C/ε + log v), so f = ε(log u − log a) + c and g = ε(log v − log b) − c
    f, g = np.asarray(plan.f), np.asarray(plan.g)
    df, dg = f - eps * (log["log_u"] - np.log(a)), g - eps * (log["log_v"] - np.log(b))
    assert np.ptp(df) < 1e-8 and np.ptp(dg) < 1e-8 and abs(df.mean() + dg.mean()) < 1e-8
    # the entropic value from POT's plan, ⟨π, C⟩ + ε KL(π‖a⊗b)
    kl = float(np.sum(want * np.log(want / np.outer(a, b))))
    assert float(plan.value) == pytest.approx(float(np.sum(want * cost)) + eps * kl, rel=1e-9)
    assert float(plan.value) == pytest.approx(float(sinkhorn(conv(x), conv(y), epsilon=eps, p=p, debiased=False,
                                                             weights=(conv(a), conv(b)), tol=1e-12)), rel=1e-9)
    # lazy products against the dense plan
    rng = np.random.default_rng(1)
    v, u, vk = rng.normal(size=len(y)), rng.normal(size=len(x)), rng.normal(size=(len(y), 3))
    np.testing.assert_allclose(np.asarray(plan.apply(conv(v))), want @ v, atol=1e-10)
    np.testing.assert_allclose(np.asarray(plan.apply(conv(vk))), want @ vk, atol=1e-10)
    np.testing.assert_allclose(np.asarray(plan.apply_transpose(conv(u))), want.T @ u, atol=1e-10)
    np.testing.assert_allclose(np.asarray(plan.row_marginal()), a, atol=1e-10)
    np.testing.assert_allclose(np.asarray(plan.column_marginal()), b, atol=1e-12)
    np.testing.assert_allclose(np.asarray(plan.barycentric_map()), (want @ y) / want.sum(1)[:, None], atol=1e-9)
    assert plan.marginal_error < 1e-12 and plan.iterations >= 1
    if backend == "torch":
        assert isinstance(plan.f, torch.Tensor) and isinstance(plan.apply(conv(v)), torch.Tensor)


def test_plan_across_panels_and_at_large_coordinates(monkeypatch):
    """Row panels smaller than the problem give the same products; coordinates of 1e150 (rescaled inside)
    give the plan of the unit problem."""
    import divergences.samples.plan as pl

    x, y, a, b = _case(3, n=30, m=20)
    whole = sinkhorn_plan(x, y, epsilon=0.3, weights=(a, b), tol=1e-12)
    monkeypatch.setattr(pl, "PANEL_PAIRS", 7)  # one row per panel
    v = np.arange(20.0)
    for backend in (lambda t: t, torch.tensor):
        small = sinkhorn_plan(backend(x), backend(y), epsilon=0.3, weights=(a, b), tol=1e-12)
        np.testing.assert_allclose(np.asarray(small.apply(backend(v))), whole.apply(v), rtol=1e-9)
        np.testing.assert_allclose(np.asarray(small.apply_transpose(backend(a))), whole.apply_transpose(a), rtol=1e-9)
        huge = sinkhorn_plan(backend(x * 1e150), backend(y * 1e150), epsilon=0.3e300, weights=(a, b), tol=1e-12)
        np.testing.assert_allclose(np.asarray(huge.dense()), whole.dense(), atol=1e-9)
        assert float(huge.value) == pytest.approx(whole.value * 1e300, rel=1e-8)


def test_zero_weights_give_zero_rows_and_the_c_transform():
    x, y, a, b = _case(4)
    a0 = a.copy()
    a0[[2, 5]] = 0.0
    plan = sinkhorn_plan(x, y, epsilon=0.2, weights=(a0, b), tol=1e-12)
    dense = plan.dense()
    assert np.all(dense[[2, 5]] == 0.0) and np.isfinite(plan.f).all()
    _, want, _ = _pot(np.delete(x, [2, 5], 0), y, np.delete(a0, [2, 5]) / a0.sum(), b, 0.2, 2)
    np.testing.assert_allclose(np.delete(dense, [2, 5], 0), want, atol=1e-10)
    # the potential of a weight-0 point is the soft c-transform: -ε log Σ_j b_j exp((g_j − C_ij)/ε)
    c = cdist(x[[2]], y, "sqeuclidean")[0]
    ctrans = -0.2 * np.log(np.sum(b * np.exp((plan.g - c) / 0.2)))
    assert plan.f[2] == pytest.approx(ctrans, rel=1e-10)


def test_plan_from_given_potentials_and_bad_input():
    x, y, a, b = _case(5)
    cost = cdist(x, y, "sqeuclidean")
    rng = np.random.default_rng(0)
    f, g = rng.normal(size=len(x)), rng.normal(size=len(y))
    plan = TransportPlan(x, y, f, g, epsilon=0.7, weights=(a, b))
    direct = np.outer(a, b) * np.exp((f[:, None] + g[None, :] - cost) / 0.7)
    np.testing.assert_allclose(plan.dense(), direct, rtol=1e-12)
    assert np.isnan(plan.value) and "TransportPlan(n=12, m=9" in repr(plan)
    with pytest.raises(ValueError, match="f must have shape"):
        TransportPlan(x, y, f[:3], g, epsilon=0.7)
    with pytest.raises(ValueError, match="epsilon"):
        TransportPlan(x, y, f, g, epsilon=-1.0)
    with pytest.raises(ValueError, match="v must have shape"):
        plan.apply(np.ones(4))
    with pytest.raises(ValueError, match="u must have shape"):
        plan.apply_transpose(np.ones((4, 2)))
    with pytest.raises(ValueError, match="epsilon"):
        sinkhorn_plan(x, y, epsilon=0.0)
    with pytest.raises(ValueError, match="block"):
        sinkhorn_plan(x, y, epsilon=0.1, block=0)
    with pytest.raises(SinkhornConvergenceError, match="sinkhorn_plan did not converge: marginal error"):
        sinkhorn_plan(x, y, epsilon=1e-3, max_iter=2)
    with pytest.warns(UserWarning, match="marginal error"):
        sinkhorn_plan(x, y, epsilon=1e-3, max_iter=2, on_failure="warn")


CHILD = r"""
import json, sys
import torch
from divergences.samples import TransportPlan

def status(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":")) * 1024

n = int(sys.argv[1])
g = torch.Generator().manual_seed(0)
x, y = torch.randn(n, 5, generator=g, dtype=torch.float64), torch.randn(n, 5, generator=g, dtype=torch.float64)
plan = TransportPlan(x, y, torch.zeros(n, dtype=torch.float64), torch.zeros(n, dtype=torch.float64), epsilon=1.0)
plan.apply(torch.ones(100, dtype=torch.float64).repeat(n // 100))  # warm-up
before = status("VmRSS")
out = plan.apply_transpose(plan.apply(torch.ones(n, dtype=torch.float64)))
print(json.dumps({"growth": status("VmHWM") - before, "finite": bool(torch.isfinite(out).all())}))
"""


@pytest.mark.slow
def test_lazy_products_hold_no_matrix():
    """π v and πᵀ u at n = m = 8000 (one n × m float64 matrix: 488 MiB) grow the resident set by about one
    8 MiB panel and its temporaries, far below a matrix."""
    if not os.path.exists("/proc/self/status"):
        pytest.skip("needs /proc/self/status (Linux)")
    n = 8000
    out = subprocess.run([sys.executable, "-c", CHILD, str(n)], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["finite"]
    assert r["growth"] < 64 << 20, f"{r['growth'] / 2**20:.0f} MiB"
