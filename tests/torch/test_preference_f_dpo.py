"""f-DPO: DPO for reverse KL, the closed forms of the f-DPO paper, TRL's conventions, gradients."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import divergences as dv
from divergences import catalogue
from divergences.core import record as registry
from divergences.core import terms
from divergences.torch import f_dpo_loss
from divergences.torch.preference import f_dpo_score

BUILTIN = sorted(n for n in registry.available("f") if registry.get(n).builtin)


def _batch(seed, n=16, scale=3.0):
    rng = np.random.default_rng(seed)
    cw, rl = rng.normal(-40, 10, n), rng.normal(-40, 10, n)
    rcw, rrl = cw - scale * rng.standard_normal(n), rl - scale * rng.standard_normal(n)
    return [torch.tensor(x) for x in (cw, rl, rcw, rrl)]


def _loss(s_w, s_l, beta):
    return (-F.logsigmoid(beta * (s_w - s_l))).mean()


def test_reverse_kl_is_dpo_everywhere():
    for scale in (1.0, 30.0, 800.0):  # sequence log-ratios up to thousands of nats
        cw, rl, rcw, rrl = _batch(0, scale=scale)
        dpo = _loss(cw - rcw, rl - rrl, 0.1)  # −log σ(β[(log π_w − log π_ref,w) − (log π_l − log π_ref,l)])
        torch.testing.assert_close(f_dpo_loss(cw, rl, rcw, rrl, beta=0.1), dpo, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(f_dpo_loss(cw, rl, rcw, rrl, beta=0.1, divergence=dv.spec("alpha", alpha=0.0)), dpo)


CLOSED = {
    "kl": lambda u: -torch.exp(-u),
    "js": lambda u: 0.5 * F.logsigmoid(u),
    "jeffreys": lambda u: u - torch.exp(-u),
    "pearson": lambda u: -torch.exp(-2 * u),
    "neyman": lambda u: 2 * torch.exp(u),
    "hellinger": lambda u: -0.5 * torch.exp(-u / 2),
    "triangular": lambda u: -4 * torch.sigmoid(-u) ** 2,  # −3 + 8σ(u) − 4σ(u)², up to a constant
}


@pytest.mark.parametrize("name", sorted(CLOSED))
def test_closed_forms(name):
    cw, rl, rcw, rrl = _batch(1)
    expected = _loss(CLOSED[name](cw - rcw), CLOSED[name](rl - rrl), 0.2)
    torch.testing.assert_close(f_dpo_loss(cw, rl, rcw, rrl, beta=0.2, divergence=name), expected)


@pytest.mark.parametrize("alpha", [0.1, 0.5, 0.9, 2.0, -0.5])
def test_alpha_and_trl_conventions(alpha):
    cw, rl, rcw, rrl = _batch(2, scale=2.0)
    uw, ul = cw - rcw, rl - rrl
    ours = f_dpo_loss(cw, rl, rcw, rrl, beta=0.1, divergence=dv.spec("alpha", alpha=alpha))
    # the f-DPO paper's α: S(u) = −e^{−αu}/α
    torch.testing.assert_close(ours, _loss(-torch.exp(-alpha * uw) / alpha, -torch.exp(-alpha * ul) / alpha, 0.1))
    # TRL's current code with coefficient c: scores e^{(c−1)u}/(c−1) (exponent clamped at 80) ↔ α = 1 − c
    c = 1 - alpha

    def trl_score(u):
        return torch.exp(torch.clamp((c - 1) * u, max=80.0)) / (c - 1)

    torch.testing.assert_close(ours, _loss(trl_score(uw), trl_score(ul), 0.1))
    # TRL's earlier code: logits = (e^{−c u_l} − e^{−c u_w})/c ↔ α = c
    old = (torch.exp(-alpha * ul) - torch.exp(-alpha * uw)) / alpha
    torch.testing.assert_close(ours, (-F.logsigmoid(0.1 * old)).mean())


def test_trl_forward_kl_and_js():
    cw, rl, rcw, rrl = _batch(3, scale=2.0)
    uw, ul = cw - rcw, rl - rrl
    trl_fkl = _loss(-torch.exp(-uw), -torch.exp(-ul), 0.1)
    torch.testing.assert_close(f_dpo_loss(cw, rl, rcw, rrl, beta=0.1, divergence="kl"), trl_fkl)
    trl_js = _loss(F.logsigmoid(uw), F.logsigmoid(ul), 0.1)  # TRL's js_divergence at β
    torch.testing.assert_close(f_dpo_loss(cw, rl, rcw, rrl, beta=0.2, divergence="js"), trl_js)  # ours at 2β


@pytest.mark.parametrize("name", BUILTIN)
def test_score_from_f_alone_matches_the_closed_form(name):
    # S derived from f and a numerical f' (user path) equals the generator's closed form
    gen = registry.get_generator(name)
    user = terms.Generator(gen.f, f_zero=gen.value_p_zero, slope_inf=gen.value_q_zero)
    u = torch.linspace(-5, 5, 21, dtype=torch.float64)
    closed, numeric = f_dpo_score(u, name), f_dpo_score(u, user)
    torch.testing.assert_close(numeric, closed, rtol=1e-5, atol=1e-5 * float(closed.abs().max()))


def test_user_registered_generator():
    registry.register("test_fdpo_shifted_pearson", lambda t: t * t - 1)  # Pearson χ² with f'(1) = 2
    try:
        cw, rl, rcw, rrl = _batch(4, scale=1.0)
        got = f_dpo_loss(cw, rl, rcw, rrl, beta=0.3, divergence="test_fdpo_shifted_pearson")
        torch.testing.assert_close(got, f_dpo_loss(cw, rl, rcw, rrl, beta=0.3, divergence="pearson"), rtol=1e-6, atol=1e-8)
    finally:
        registry.unregister("test_fdpo_shifted_pearson")
    # the JS mixture weight is given through the generator: S(u) = −(1−β) log(β e^{−u} + 1 − β)
    b = 0.3
    cw, rl, rcw, rrl = _batch(5, scale=1.0)

    def score(u):
        return -(1 - b) * torch.log(b * torch.exp(-u) + 1 - b)

    got = f_dpo_loss(cw, rl, rcw, rrl, divergence=catalogue.JensenShannon(beta=b))
    torch.testing.assert_close(got, _loss(score(cw - rcw), score(rl - rrl), 0.1))


@pytest.mark.parametrize("name", BUILTIN)
def test_gradcheck(name):
    cw, rl, rcw, rrl = [x[:4].clone().requires_grad_() for x in _batch(6, scale=1.0)]
    torch.autograd.gradcheck(lambda a, b, c, d: f_dpo_loss(a, b, c, d, beta=0.5, divergence=name), (cw, rl, rcw, rrl))


@pytest.mark.parametrize("name", BUILTIN)
def test_log_ratios_of_100_in_float32_stay_finite(name):
    cw = torch.tensor([-100.0, 0.0, -100.0, 0.0], requires_grad=True)
    rl = torch.tensor([0.0, -100.0, -100.0, 0.0], requires_grad=True)
    ref = torch.tensor([0.0, 0.0, 0.0, -100.0])
    loss = f_dpo_loss(cw, rl, ref, ref.flip(0), beta=0.1, divergence=name, reduction="none")
    assert loss.dtype == torch.float32 and torch.isfinite(loss).all()
    loss.sum().backward()
    assert torch.isfinite(cw.grad).all() and torch.isfinite(rl.grad).all()


def test_reductions_and_errors():
    cw, rl, rcw, rrl = _batch(7)
    none = f_dpo_loss(cw, rl, rcw, rrl, reduction="none")
    assert none.shape == (16,)
    torch.testing.assert_close(f_dpo_loss(cw, rl, rcw, rrl, reduction="sum"), none.sum())
    with pytest.raises(ValueError, match="reduction"):
        f_dpo_loss(cw, rl, rcw, rrl, reduction="batchmean")
    with pytest.raises(ValueError, match="not an f-divergence"):
        f_dpo_loss(cw, rl, rcw, rrl, divergence="renyi")
    with pytest.raises(ValueError, match="shapes do not broadcast"):
        f_dpo_loss(cw, rl[:3], rcw, rrl)
    with pytest.raises(ValueError, match="beta"):
        f_dpo_loss(cw, rl, rcw, rrl, beta=float("nan"))
