"""Unbalanced entropic OT (issue 23, item 2): against POT's ot.unbalanced (primal objective of its plan),
GeomLoss's debiased reach-Sinkhorn, the balanced limit, gradients, loud failures."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from divergences.samples import SinkhornConvergenceError, sinkhorn, unbalanced_sinkhorn

ot = pytest.importorskip("ot")
torch = pytest.importorskip("torch")


def _case(seed=0, n=12, m=9):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(n, 2)), rng.normal(size=(m, 2)) + 1.0
    return x, y, rng.uniform(0.5, 1.5, n) / 10, rng.uniform(0.5, 1.5, m) / 5


def _kl(mu, nu):
    return float(np.sum(mu * np.log(mu / nu) - mu + nu))


def _pot_value(x, y, a, b, eps, rho, p=2):
    """The primal objective of POT's plan: ⟨π, C⟩ + ε KL(π‖a⊗b) + ρ KL(π1‖a) + ρ KL(πᵀ1‖b)."""
    cost = cdist(x, y, "sqeuclidean") if p == 2 else cdist(x, y) ** p
    plan = ot.unbalanced.sinkhorn_unbalanced(a, b, cost, eps, rho, reg_type="kl", stopThr=1e-15, numItermax=200_000)
    return (float(np.sum(plan * cost)) + eps * _kl(plan, np.outer(a, b)) + rho * _kl(plan.sum(1), a)
            + rho * _kl(plan.sum(0), b))


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize(("eps", "rho", "p"), [(0.3, 0.7, 2), (0.05, 2.0, 2), (0.5, 0.1, 2), (0.2, 1.0, 1)])
def test_against_pot_unbalanced(backend, eps, rho, p):
    x, y, a, b = _case(int(10 * rho))
    conv = (lambda v: torch.tensor(v)) if backend == "torch" else (lambda v: v)
    got = float(unbalanced_sinkhorn(conv(x), conv(y), epsilon=eps, rho=rho, p=p, weights=(conv(a), conv(b)),
                                    debiased=False, tol=1e-12, max_iter=100_000))
    assert got == pytest.approx(_pot_value(x, y, a, b, eps, rho, p), rel=1e-9)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_debiased_from_pot_terms_and_geomloss(backend):
    """S = OT(α,β) − ½OT(α,α) − ½OT(β,β) + ε/2 (m(α) − m(β))², each term from POT; GeomLoss (cost ‖·‖²/2, ε = blur²,
    ρ = reach²: half our value at blur = √(ε/2), reach = √(ρ/2)) approaches it as its scaling tends to 1."""
    geomloss = pytest.importorskip("geomloss")
    x, y, a, b = _case(3)
    eps, rho = 0.4, 0.8
    conv = (lambda v: torch.tensor(v)) if backend == "torch" else (lambda v: v)
    got = float(unbalanced_sinkhorn(conv(x), conv(y), epsilon=eps, rho=rho, weights=(conv(a), conv(b)), tol=1e-12))
    want = (_pot_value(x, y, a, b, eps, rho) - 0.5 * _pot_value(x, x, a, a, eps, rho)
            - 0.5 * _pot_value(y, y, b, b, eps, rho) + 0.5 * eps * (a.sum() - b.sum()) ** 2)
    assert got == pytest.approx(want, rel=1e-8)
    loss = geomloss.SamplesLoss("sinkhorn", p=2, blur=(eps / 2) ** 0.5, reach=(rho / 2) ** 0.5, scaling=0.999,
                                backend="tensorized")
    from divergences.samples._threads import solver_threads

    with solver_threads(0):  # GeomLoss's 3000 levels of small log-sum-exps, on one thread
        ref = 2 * float(loss(torch.tensor(a), torch.tensor(x), torch.tensor(b), torch.tensor(y)))
    assert got == pytest.approx(ref, rel=2e-4)


def test_properties_balanced_limit_outliers_and_reach():
    x, y, a, b = _case(5)
    a, b = a / a.sum(), b / b.sum()
    # ρ → ∞ with equal masses: the balanced S_ε
    balanced = sinkhorn(x, y, epsilon=0.3, weights=(a, b), tol=1e-10)
    assert unbalanced_sinkhorn(x, y, epsilon=0.3, rho=1e7, weights=(a, b), tol=1e-10) == pytest.approx(balanced, rel=1e-5)
    # equal measures: 0; non-negative otherwise
    assert unbalanced_sinkhorn(x, x, epsilon=0.3, rho=1.0, weights=(a, a)) == pytest.approx(0.0, abs=1e-12)
    assert unbalanced_sinkhorn(x, y, epsilon=0.3, rho=1.0, weights=(a, b)) > 0
    # an outlier far away moves the balanced value a lot, the unbalanced one little
    far = np.vstack([y, [[1e3, 1e3]]])
    bf = np.append(b * 0.99, 0.01)
    grow_bal = sinkhorn(x, far, epsilon=0.3, weights=(a, bf)) - balanced
    grow_unb = (unbalanced_sinkhorn(x, far, epsilon=0.3, rho=1.0, weights=(a, bf))
                - unbalanced_sinkhorn(x, y, epsilon=0.3, rho=1.0, weights=(a, b)))
    assert grow_bal > 1e3 and abs(grow_unb) < 0.1
    # reach is GeomLoss's spelling: ρ = reach^p
    assert unbalanced_sinkhorn(x, y, epsilon=0.3, reach=2.0) == unbalanced_sinkhorn(x, y, epsilon=0.3, rho=4.0)
    # the scale law: S(sx, sy; s²ε, s²ρ) = s² S(x, y; ε, ρ), also at 1e150 (rescaled inside)
    for s in (1e-3, 1e150):
        assert unbalanced_sinkhorn(x * s, y * s, epsilon=0.3 * s**2, rho=s**2) == pytest.approx(
            unbalanced_sinkhorn(x, y, epsilon=0.3, rho=1.0) * s**2, rel=1e-8)


@pytest.mark.slow
def test_gradcheck_in_points_and_masses():
    rng = np.random.default_rng(6)
    x = torch.tensor(rng.normal(size=(5, 2)), requires_grad=True)
    y = torch.tensor(rng.normal(size=(4, 2)) + 0.5, requires_grad=True)
    a = torch.tensor(rng.uniform(0.2, 1.0, 5), requires_grad=True)
    kw = dict(epsilon=0.5, rho=0.7, tol=1e-13, max_iter=100_000)
    assert torch.autograd.gradcheck(lambda s, t, w: unbalanced_sinkhorn(s, t, weights=(w, None), **kw), (x, y, a),
                                    atol=1e-6)
    assert torch.autograd.gradcheck(lambda s, t: unbalanced_sinkhorn(s, t, p=1, debiased=False, **kw), (x, y),
                                    atol=1e-6)


def test_loud_failure_and_bad_input():
    x, y, a, b = _case(7)
    with pytest.raises(SinkhornConvergenceError, match="relative marginal error .* after 3 iterations"):
        unbalanced_sinkhorn(x, y, epsilon=1e-3, rho=10.0, max_iter=3)
    with pytest.warns(UserWarning, match="relative marginal error"):
        unbalanced_sinkhorn(torch.tensor(x), torch.tensor(y), epsilon=1e-3, rho=10.0, max_iter=3, on_failure="warn")
    for kw, name in [({}, "rho"), ({"rho": 1.0, "reach": 1.0}, "rho"), ({"rho": -1.0}, "rho"),
                     ({"reach": float("nan")}, "reach"), ({"rho": 1.0, "weights": (-a, None)}, r"weights\[0\]"),
                     ({"rho": 1.0, "weights": (a[:3], None)}, r"weights\[0\]"), ({"rho": 1.0, "weights": a}, "weights"),
                     ({"rho": 1.0, "debiased": "no"}, "debiased"), ({"rho": 1.0, "epsilon": 0.0}, "epsilon")]:
        kw = {"epsilon": 0.1, **kw}
        with pytest.raises(ValueError, match=name):
            unbalanced_sinkhorn(x, y, **kw)
    with pytest.raises(ValueError, match=r"weights\[1\]"):
        unbalanced_sinkhorn(torch.tensor(x), torch.tensor(y), epsilon=0.1, rho=1.0, weights=(None, np.zeros(9)))
