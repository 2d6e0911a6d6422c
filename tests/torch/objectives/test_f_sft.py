"""f-divergence SFT objectives: against a direct definition in the g-form, SFT as the KL case, the
minimiser (the data distribution) and its value, gradients, masks and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import divergences as dv
from divergences.core.record import get_generator
from divergences.core.terms import Generator
from divergences.torch import DistillOptions, f_sft_loss

#: every registered f-divergence (the record's kind) at its default parameters, and one more order of α
F_DIVS = [(name, {}) for name in dv.available("f")] + [("alpha", {"alpha": 2.0})]
#: those whose f is differentiable (the term's ``smooth`` fact: not TV, whose f′ is a subgradient at 1)
SMOOTH = [(name, params) for name, params in F_DIVS if dv.spec(name, **params).term().smooth]


def _direct(z, r, y, name, params):
    """Direct definition, written in the g-form with g(v) = v f(1/v), g′ by autograd of the generator's f:
    ℓ = −g′(v_y) + Σ_v π_ref(v) (v g′(v) − g(v)), v = π_θ/π_ref (probability space, float64)."""
    gen = get_generator(name, **params)
    p_t = z.double().softmax(-1)
    p_r = r.double().softmax(-1)
    v = (p_t / p_r).detach().requires_grad_(True)
    g = v * gen.f(1.0 / v)
    (gp,) = torch.autograd.grad(g.sum(), v)
    v = v.detach()
    trace = (p_r * (v * gp - g.detach())).sum(-1)
    data = gp.gather(-1, y.unsqueeze(-1)).squeeze(-1)
    return (-data + trace).mean()


@pytest.mark.parametrize(("name", "params"), F_DIVS, ids=[f"{n}{p}" for n, p in F_DIVS])
def test_value_equals_the_g_form(name, params):
    torch.manual_seed(0)
    z, r = torch.randn(6, 9, dtype=torch.float64), torch.randn(6, 9, dtype=torch.float64)
    y = torch.randint(0, 9, (6,))
    got = f_sft_loss(z, r, y, dv.spec(name, **params))
    want = _direct(z, r, y, name, params)
    assert torch.isclose(got, want, rtol=1e-9, atol=1e-12), (got, want)


def test_reverse_kl_is_sft_plus_a_constant_and_has_the_cross_entropy_gradient():
    torch.manual_seed(1)
    z = torch.randn(2, 5, 11, dtype=torch.float64, requires_grad=True)
    r = torch.randn(2, 5, 11, dtype=torch.float64)
    y = torch.randint(0, 11, (2, 5))
    y[0, 1] = -100
    loss = f_sft_loss(z, r, y, beta=0.3)
    ce = F.cross_entropy(z.reshape(-1, 11), y.reshape(-1))
    keep = y.reshape(-1) != -100
    ref_lp = r.reshape(-1, 11).log_softmax(-1)[keep].gather(-1, y.reshape(-1)[keep].unsqueeze(-1)).mean()
    assert torch.isclose(loss, 0.3 * (ce + ref_lp), rtol=1e-12)
    (g1,) = torch.autograd.grad(loss, z)
    (g2,) = torch.autograd.grad(0.3 * ce, z)
    assert torch.allclose(g1, g2, rtol=1e-10, atol=1e-13)


def test_the_trace_term_is_constant_only_for_the_kl_case():
    """The paper's observation: with DPO's KL the regulariser's term has no gradient; other f keep it."""
    torch.manual_seed(2)
    z = torch.randn(4, 7, dtype=torch.float64, requires_grad=True)
    r = torch.randn(4, 7, dtype=torch.float64)
    from divergences.torch import divergence_loss
    from divergences.torch.objectives.f_sft import _RewardTrace

    for name, constant in (("reverse_kl", True), ("kl", False), ("js", False), ("pearson", False)):
        trace = divergence_loss(z, r, _RewardTrace(get_generator(name)), options=DistillOptions(reduction="sum"))
        (g,) = torch.autograd.grad(trace, z)
        assert bool(torch.all(g.abs() < 1e-12)) is constant, name
        if constant:
            assert torch.isclose(trace, torch.tensor(4.0, dtype=torch.float64))  # Σ π_θ = 1 per token


@pytest.mark.parametrize(("name", "params"), [("kl", {}), ("js", {}), ("hellinger", {}), ("pearson", {}),
                                              ("alpha", {"alpha": 0.5}), ("reverse_kl", {})])
def test_minimised_at_the_data_distribution_with_value_minus_the_divergence(name, params):
    """E_{y∼data} ℓ over the policy: minimised at π_θ = data, where it is −D_f(π_ref‖data)."""
    rng = np.random.default_rng(3)
    V = 6
    data = rng.dirichlet(np.ones(V))
    ref = rng.dirichlet(np.ones(V))
    r = torch.tensor(np.log(ref)).expand(V, V)
    y = torch.arange(V)
    w = torch.tensor(data)

    def expected(z_row):
        return f_sft_loss(z_row.expand(V, V), r, y, dv.spec(name, **params), weights=w, reduction="sum")

    z = torch.zeros(V, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([z], lr=1, max_iter=500, tolerance_grad=1e-13, tolerance_change=1e-15,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = expected(z)
        loss.backward()
        return loss

    opt.step(closure)
    got = z.detach().softmax(-1).numpy()
    np.testing.assert_allclose(got, data, rtol=1e-5, atol=1e-7)
    at_data = expected(torch.tensor(np.log(data)))
    want = -dv.divergence(dv.spec(name, **params), ref, data)
    assert math.isclose(float(at_data), float(want), rel_tol=1e-9, abs_tol=1e-12)


@pytest.mark.parametrize(("name", "params"), SMOOTH[:8], ids=[n + str(p) for n, p in SMOOTH[:8]])
def test_gradcheck(name, params):
    torch.manual_seed(4)
    z = torch.randn(3, 5, dtype=torch.float64, requires_grad=True)
    r = torch.randn(3, 5, dtype=torch.float64)
    y = torch.tensor([1, 4, 0])
    assert torch.autograd.gradcheck(lambda x: f_sft_loss(x, r, y, dv.spec(name, **params)), (z,))


def test_user_generator_and_reductions_and_masks():
    torch.manual_seed(5)
    z, r = torch.randn(2, 3, 8, dtype=torch.float64), torch.randn(2, 3, 8, dtype=torch.float64)
    y = torch.randint(0, 8, (2, 3))
    user = Generator(lambda t: (t - 1) ** 2)
    a = f_sft_loss(z, r, y, user, reduction="none")
    b = f_sft_loss(z, r, y, "pearson", reduction="none")
    assert torch.allclose(a, b, rtol=1e-6)
    mask = torch.tensor([[True, False, True], [True, True, False]])
    per = f_sft_loss(z, r, y, "kl", mask=mask, reduction="none")
    assert bool((per[~mask] == 0).all())
    assert torch.isclose(f_sft_loss(z, r, y, "kl", mask=mask), per.sum() / 4)
    assert torch.isclose(f_sft_loss(z, r, y, "kl", mask=mask, num_items_in_batch=8), per.sum() / 8)
    assert torch.isclose(f_sft_loss(z, r, y, "kl", mask=mask, reduction="sum"), per.sum())


def test_masked_vocabulary_and_extreme_logits_stay_finite():
    z = torch.tensor([[1e4, 0.0, -1e4, 0.0]], dtype=torch.float32, requires_grad=True)
    r = torch.tensor([[0.0, 1.0, float("-inf"), 2.0]])
    y = torch.tensor([1])
    for name in ("reverse_kl", "kl", "js", "hellinger"):
        loss = f_sft_loss(z, r, y, name)
        (g,) = torch.autograd.grad(loss, z)
        assert torch.isfinite(loss) and bool(torch.isfinite(g).all()), name
    lo = f_sft_loss(z.detach().half(), r.half(), y, "js")
    assert lo.dtype == torch.float32 and torch.isfinite(lo)


def test_bad_input_names_the_argument():
    z, r, y = torch.zeros(2, 4), torch.zeros(2, 4), torch.tensor([0, 1])
    with pytest.raises(ValueError, match="not an f-divergence"):
        f_sft_loss(z, r, y, "renyi")
    with pytest.raises(ValueError, match="ref_logits"):
        f_sft_loss(z, torch.zeros(2, 5), y)
    with pytest.raises(ValueError, match="labels"):
        f_sft_loss(z, r, torch.tensor([0, 4]))
    with pytest.raises(ValueError, match="labels"):
        f_sft_loss(z, r, torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="beta"):
        f_sft_loss(z, r, y, beta=0.0)
    with pytest.raises(ValueError, match="reduction"):
        f_sft_loss(z, r, y, reduction="batchmean")
    with pytest.raises(ValueError, match="policy_logits"):
        f_sft_loss(torch.full((2, 4), float("nan")), r, y)


def test_divergence_parameters_travel_in_the_spec_and_never_meet_the_loss_beta():
    """Issue 20: JS's mixture weight β (inside dv.spec) and the loss's weight β are two parameters."""
    torch.manual_seed(6)
    z, r = torch.randn(4, 7, dtype=torch.float64), torch.randn(4, 7, dtype=torch.float64)
    y = torch.randint(0, 7, (4,))
    js = dv.spec("js", beta=0.3)
    got = f_sft_loss(z, r, y, js, beta=0.5)
    assert torch.isclose(got, 0.5 * _direct(z, r, y, "js", {"beta": 0.3}), rtol=1e-9)
    assert not torch.isclose(got, 0.5 * _direct(z, r, y, "js", {}), rtol=1e-6)
    # the term object of the spec, and the record called with its parameters, are the same divergence
    assert torch.equal(f_sft_loss(z, r, y, js.term(), beta=0.5), got)
    assert torch.equal(f_sft_loss(z, r, y, dv.get("js")(beta=0.3), beta=0.5), got)
    # the old spelling, a divergence parameter beside the name, says where it goes now
    with pytest.raises(TypeError, match=r"dv\.spec"):
        f_sft_loss(z, r, y, "alpha", alpha=0.5)
    with pytest.raises(ValueError, match="not an f-divergence"):
        f_sft_loss(z, r, y, dv.spec("renyi", alpha=2.0))
    with pytest.raises(ValueError, match="ref_logits"):
        f_sft_loss(z, torch.full_like(r, float("inf")), y)
    with pytest.raises(ValueError, match="all -inf"):
        f_sft_loss(torch.full_like(z, float("-inf")), r, y)
