"""Safe step radius: JVP vs explicit Jacobian, radius vs the complex zeros of the partition function,
binary exact form, and the step-capping optimizer wrapper."""

from __future__ import annotations

import cmath
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from divergences.llm import (  # noqa: E402
    StepRadiusCap,
    binary_step_radius,
    directional_logit_derivatives,
    step_radius,
)

F64 = torch.float64


def _mlp(seed=0, out=4):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, out)).to(F64)


def test_jvp_matches_explicit_jacobian():
    model = _mlp()
    x = torch.randn(6, 3, dtype=F64)
    params = dict(model.named_parameters())
    v = {n: torch.randn_like(p) for n, p in params.items()}
    logits, a = directional_logit_derivatives(lambda p, x: torch.func.functional_call(model, p, (x,)), params, v, x)
    names = list(params)

    def flat_fn(*ps):
        return torch.func.functional_call(model, dict(zip(names, ps)), (x,))

    jac = torch.autograd.functional.jacobian(flat_fn, tuple(params[n].detach() for n in names))
    want = sum((j.reshape(*logits.shape, -1) @ v[n].reshape(-1)) for j, n in zip(jac, names))
    torch.testing.assert_close(a, want)
    torch.testing.assert_close(logits, model(x))


def _nearest_zero(z, a_int):
    """Smallest |τ| with Σₖ exp(zₖ + τ aₖ) = 0, aₖ integers: roots w of a polynomial in w = e^τ."""
    coeffs = np.zeros(max(a_int) + 1, dtype=complex)
    for zk, ak in zip(z, a_int):
        coeffs[ak] += math.exp(zk)
    roots = np.roots(coeffs[::-1])
    return min(abs(cmath.log(w) + 2j * math.pi * m) for w in roots for m in range(-3, 4))


@pytest.mark.parametrize("seed", range(5))
def test_multiclass_radius_is_a_lower_bound_on_the_nearest_ghost(seed):
    rng = np.random.default_rng(seed)
    a_int = [0, 1, 2, 3]
    z = rng.normal(size=4) * 2
    rho = step_radius(torch.tensor([a_int], dtype=F64)).item()
    assert rho == pytest.approx(math.pi / 3)
    assert rho <= _nearest_zero(z, a_int) + 1e-9


@pytest.mark.parametrize("delta", [0.0, 0.7, -2.5])
def test_binary_radius_is_exact(delta):
    da = 1.3
    exact = abs((1j * math.pi - delta) / da)  # δ + τΔa = iπ: the nearest zero of 1 + e^{margin}
    two = binary_step_radius(torch.tensor([[0.0, delta]], dtype=F64), torch.tensor([[0.2, 0.2 + da]], dtype=F64))
    one = binary_step_radius(torch.tensor([delta], dtype=F64), torch.tensor([da], dtype=F64))
    assert two.item() == pytest.approx(exact) and one.item() == pytest.approx(exact)
    assert step_radius(torch.tensor([[0.2, 0.2 + da]], dtype=F64)).item() <= two.item() + 1e-12
    assert _nearest_zero([0.0, delta], [0, 1]) == pytest.approx(math.sqrt(delta**2 + math.pi**2))


def test_bad_direction_shape():
    model = _mlp()
    params = dict(model.named_parameters())
    v = {n: torch.zeros_like(p) for n, p in params.items()}
    v["0.weight"] = torch.zeros(2, 2, dtype=F64)
    with pytest.raises(ValueError, match="direction"):
        directional_logit_derivatives(lambda p, x: torch.func.functional_call(model, p, (x,)), params, v,
                                      torch.randn(2, 3, dtype=F64))
    with pytest.raises(ValueError, match="direction"):
        directional_logit_derivatives(lambda w: w * 2, torch.zeros(3), torch.zeros(4))


@pytest.mark.parametrize("lr,c", [(1e-3, 1.0), (50.0, 1.0), (50.0, 0.5)])
def test_step_cap_wrapper(lr, c):
    x = torch.randn(16, 3, dtype=F64, generator=torch.Generator().manual_seed(0))
    y = torch.randint(0, 4, (16,), generator=torch.Generator().manual_seed(1))
    model, ref = _mlp(), _mlp()
    opt = StepRadiusCap(torch.optim.SGD(model.parameters(), lr=lr), model, c=c)
    before = [p.detach().clone() for p in model.parameters()]
    opt.zero_grad()
    torch.nn.functional.cross_entropy(model(x), y).backward()
    rec = opt.step(x)
    grads = [p.grad.detach().clone() for p in model.parameters()]
    tau = math.sqrt(sum(float((lr * g).pow(2).sum()) for g in grads))
    # ρ recomputed independently: the JVP along the unit SGD direction at the old parameters
    names = [n for n, _ in ref.named_parameters()]
    direction = {n: -lr * g / tau for n, g in zip(names, grads)}
    _, a = directional_logit_derivatives(lambda p: torch.func.functional_call(ref, p, (x,)),
                                         dict(ref.named_parameters()), direction)
    rho = math.pi / float((a.amax(-1) - a.amin(-1)).max())
    assert rec["tau"] == pytest.approx(tau) and rec["rho"] == pytest.approx(rho) and rec["r"] == pytest.approx(tau / rho)
    applied = math.sqrt(sum(float((p.detach() - b).pow(2).sum()) for p, b in zip(model.parameters(), before)))
    if tau <= c * rho:
        assert not rec["capped"] and applied == pytest.approx(tau)
    else:
        assert rec["capped"] and applied == pytest.approx(c * rho) and rec["applied_tau"] == pytest.approx(c * rho)
    assert opt.history[-1] is rec


def test_step_cap_wraps_adam_and_keeps_r_logged():
    x = torch.randn(16, 3, dtype=F64, generator=torch.Generator().manual_seed(0))
    y = torch.randint(0, 4, (16,), generator=torch.Generator().manual_seed(1))
    model = _mlp()
    opt = StepRadiusCap(torch.optim.Adam(model.parameters(), lr=5.0), model, c=0.5)
    for _ in range(3):
        before = [p.detach().clone() for p in model.parameters()]
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        rec = opt.step(x)
        moved = math.sqrt(sum(float((p.detach() - b).pow(2).sum()) for p, b in zip(model.parameters(), before)))
        assert moved == pytest.approx(rec["applied_tau"]) and moved <= 0.5 * rec["rho"] * (1 + 1e-9)
        assert rec["r"] == pytest.approx(rec["tau"] / rec["rho"])
    assert len(opt.history) == 3 and all(math.isfinite(h["r"]) for h in opt.history)
