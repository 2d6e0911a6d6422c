"""Hostile input to the torch losses (issue 19): a correct value or a ValueError naming the argument.

Classes: temperatures whose 1/T overflows; NaN/inf per-token weights; num_items_in_batch tensors of 0, < 0,
NaN; options the loss does not use, and a vocab_size that contradicts the logits; divergences that are 0 for
every pair (JSD at β = 0 or 1: TRL users port β = 0 as the forward KL); user generators that branch on the
array type; meta tensors; and the RL / preference losses against NaN, +inf log-probabilities and bad β.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

import divergences as dv  # noqa: E402
from divergences.catalogue import JensenShannon, SkewKL  # noqa: E402
from divergences.torch import (  # noqa: E402
    DistillOptions,
    DivergenceLoss,
    d2o_loss,
    divergence_loss,
    f_dpo_loss,
    f_dpo_score,
    f_prime,
    f_weight,
    fused_linear_divergence_loss,
    kl_penalty,
    sampled_divergence,
    sequence_match_chi2,
    token_entropy,
    topk_divergence_loss,
)

from ._distill_reference import direct  # noqa: E402

F64 = torch.float64


def _r(*shape, seed=0, dtype=F64, scale=1.5):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=dtype) * scale


# --- temperature: 1/T overflow refused, tiny T correct (never NaN) -----------------------------------------


@pytest.mark.parametrize("dtype, bad, good", [(torch.float32, 1e-39, 3e-39), (F64, 1e-309, 6e-309)])
def test_temperature_whose_reciprocal_overflows_is_refused(dtype, bad, good):
    z, t = _r(3, 7, seed=1, dtype=dtype), _r(3, 7, seed=2, dtype=dtype)
    with pytest.raises(ValueError, match="temperature=.*1/T overflows"):
        divergence_loss(z, t, "kl", options=DistillOptions(temperature=bad))
    zz = z.clone().requires_grad_()
    loss = divergence_loss(zz, t, "js", options=DistillOptions(temperature=good))
    loss.backward()
    assert not bool(torch.isnan(loss)) and not bool(torch.isnan(zz.grad).any())


@settings(max_examples=40)
@given(log10_t=st.floats(-300, 0), seed=st.integers(0, 2**16), name=st.sampled_from(["kl", "reverse_kl", "js", "tv"]))
def test_small_temperatures_give_the_limit_or_the_formula_never_nan(log10_t, seed, name):
    T = 10.0**log10_t
    z, t = _r(4, 9, seed=seed), _r(4, 9, seed=seed + 1)
    zz = z.clone().requires_grad_()
    per = divergence_loss(zz, t, name, options=DistillOptions(temperature=T, reduction="none"))
    per.sum().backward()
    assert not bool(torch.isnan(per).any()) and not bool(torch.isnan(zz.grad).any())
    # reference: the direct formula on the shifted scaled logits ((z − max z)/T: the same distributions), the
    # KLs in log space (probability space underflows where the loss does not)
    a = torch.log_softmax((t - t.amax(-1, keepdim=True)) / T, -1)
    b = torch.log_softmax((z - z.amax(-1, keepdim=True)) / T, -1)
    p, q = a.exp(), b.exp()
    if name in ("kl", "reverse_kl"):
        x, y = (a, b) if name == "kl" else (b, a)
        want = torch.where(x.exp() > 0, x.exp() * (x - y), torch.zeros_like(x)).sum(-1)
    else:
        want = direct(name, p, q)
    finite = torch.isfinite(want)
    torch.testing.assert_close(per[finite], want[finite], rtol=1e-6, atol=1e-9)
    assert bool((per[~finite] == math.inf).all())


def test_temperature_below_one_in_every_loss_path():
    z, t = _r(5, 11, seed=3), _r(5, 11, seed=4)
    lp, ix = t.log_softmax(-1).topk(4)
    for T in (0.3, 1e-3, 1e-200):
        zz = z.clone().requires_grad_()
        loss = topk_divergence_loss(zz, lp, ix, "kl", options=DistillOptions(temperature=T))
        loss.backward()
        assert not bool(torch.isnan(loss)) and not bool(torch.isnan(zz.grad).any())
        h, W = _r(5, 4, seed=5), _r(11, 4, seed=6)
        fused = fused_linear_divergence_loss(h, W, t, "reverse_kl", options=DistillOptions(temperature=T))
        want = divergence_loss(h @ W.T, t, "reverse_kl", options=DistillOptions(temperature=T))
        assert not bool(torch.isnan(fused))
        torch.testing.assert_close(fused, want, rtol=1e-9, atol=0)
        ent = token_entropy(z, temperature=T)
        assert bool(torch.isfinite(ent).all()) and bool((ent >= 0).all())


# --- per-token weights and num_items_in_batch -------------------------------------------------------------


@settings(max_examples=40)
@given(data=st.data(), bad=st.sampled_from([math.nan, math.inf, -math.inf, 1e300]))
def test_non_finite_weights_are_refused(data, bad):
    n = data.draw(st.integers(1, 12))
    w = torch.tensor(data.draw(st.lists(st.floats(-5, 5), min_size=n, max_size=n)), dtype=F64)
    z, t = _r(n, 6, seed=n), _r(n, 6, seed=n + 1)
    got = divergence_loss(z, t, "kl", weights=w, options=DistillOptions(reduction="sum"))
    want = (direct("kl", t.softmax(-1), z.softmax(-1)) * w).sum()
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    i = data.draw(st.integers(0, n - 1))
    w[i] = bad
    if bad == 1e300:  # finite in float64, beyond float32: refused for float32 logits only
        divergence_loss(z, t, "kl", weights=w)
        z, t = z.float(), t.float()
    with pytest.raises(ValueError, match="weights must be finite"):
        divergence_loss(z, t, "kl", weights=w)


@pytest.mark.parametrize("value", [torch.tensor(0), torch.tensor(-3.0), torch.tensor(math.nan), torch.tensor(math.inf),
                                   torch.tensor(True), torch.tensor([2.0, 3.0]), 0, -1.0, math.nan, "7"])
def test_bad_num_items_in_batch_is_refused(value):
    z, t = _r(3, 5, seed=7), _r(3, 5, seed=8)
    with pytest.raises(ValueError, match="num_items_in_batch"):
        divergence_loss(z, t, "kl", num_items_in_batch=value)
    with pytest.raises(ValueError, match="num_items_in_batch"):
        fused_linear_divergence_loss(_r(3, 2), _r(5, 2), t, "kl", num_items_in_batch=value)


def test_num_items_in_batch_tensor_divides():
    z, t = _r(3, 5, seed=9), _r(3, 5, seed=10)
    got = divergence_loss(z, t, "kl", num_items_in_batch=torch.tensor(12))
    torch.testing.assert_close(got, divergence_loss(z, t, "kl", options=DistillOptions(reduction="sum")) / 12)


# --- options a loss does not use, vocab_size -------------------------------------------------------------


def test_options_the_loss_does_not_use_are_refused():
    z, t = _r(3, 5, seed=11), _r(3, 5, seed=12)
    lp, ix = t.log_softmax(-1).topk(2)
    for opts in (DistillOptions(softcap=30.0), DistillOptions(logit_scale=0.5)):
        with pytest.raises(ValueError, match="does not apply to divergence_loss"):
            divergence_loss(z, t, "kl", options=opts)
        with pytest.raises(ValueError, match="does not apply to topk_divergence_loss"):
            topk_divergence_loss(z, lp, ix, "kl", options=opts)
        fused_linear_divergence_loss(_r(3, 2), _r(5, 2), t, "kl", options=opts)  # the fused loss uses them
    with pytest.raises(ValueError, match="vocab_mismatch.*does not apply to topk_divergence_loss"):
        topk_divergence_loss(z, lp, ix, "kl", options=DistillOptions(vocab_mismatch="crop"))
    with pytest.raises(ValueError, match="does not apply"):
        DivergenceLoss("kl", options=DistillOptions(softcap=3.0))(z, t)


@pytest.mark.parametrize("size", [4, 6])
def test_vocab_size_that_contradicts_the_logits_is_refused(size):
    z, t = _r(3, 5, seed=13), _r(3, 5, seed=14)
    lp, ix = t.log_softmax(-1).topk(2)
    opts = DistillOptions(vocab_size=size)
    for call in (lambda: divergence_loss(z, t, "kl", options=opts),
                 lambda: fused_linear_divergence_loss(_r(3, 2), _r(5, 2), t, "kl", options=opts),
                 lambda: topk_divergence_loss(z, lp, ix, "kl", options=opts)):
        with pytest.raises(ValueError, match=f"vocab_size={size} contradicts"):
            call()
    divergence_loss(z, t, "kl", options=DistillOptions(vocab_size=5))


# --- divergences that are 0 everywhere ---------------------------------------------------------------------


def test_js_at_the_ends_and_other_zero_divergences_are_refused_everywhere():
    z, t = _r(3, 5, seed=15), _r(3, 5, seed=16)
    lp, ix = t.log_softmax(-1).topk(2)
    cases = [("js", {"beta": 0.0}, "'kl'"), ("js", {"beta": 1.0}, "'reverse_kl'"),
             (JensenShannon(beta=0.0), {}, "'kl'"), ("skew_kl", {"skew": 1.0}, ""), (SkewKL(skew=1.0), {}, "")]
    for div, params, kl in cases:
        calls = (lambda d: divergence_loss(z, t, d),
                 lambda d: topk_divergence_loss(z, lp, ix, d),
                 lambda d: fused_linear_divergence_loss(_r(3, 2), _r(5, 2), t, d),
                 lambda d: DivergenceLoss(d),
                 lambda d: sampled_divergence(z[:, 0], t[:, 0], d))
        for call in calls:
            with pytest.raises(ValueError, match=f"is 0 for every pair.*{kl}"):
                call(dv.spec(div, **params) if params else div)
    with pytest.raises(ValueError, match="is 0 for every pair"):
        f_dpo_loss(z[:, 0], z[:, 1], t[:, 0], t[:, 1], divergence=JensenShannon(beta=1.0))
    # close to the ends the JSD is small but not 0: accepted
    assert float(divergence_loss(z, t, dv.spec("js", beta=1e-6))) > 0


# --- user generators that branch on the array type ----------------------------------------------------------


def _kl_generator_branching(u):
    if isinstance(u, torch.Tensor):
        return u * torch.log(u)
    return u * math.log(u) if u > 0 else 0.0


def test_a_generator_branching_on_torch_tensors_is_served():
    z, t = _r(4, 6, seed=17).requires_grad_(), _r(4, 6, seed=18)
    got = divergence_loss(z, t, _kl_generator_branching)
    want = divergence_loss(z, t, "kl")
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)
    (g,) = torch.autograd.grad(got, z)
    (h,) = torch.autograd.grad(want, z)
    torch.testing.assert_close(g, h, rtol=1e-6, atol=1e-8)
    p, q = np.array([0.2, 0.8]), np.array([0.5, 0.5])
    assert math.isclose(float(dv.divergence(_kl_generator_branching, p, q)), float(dv.kl(p, q)), rel_tol=1e-12)


def test_a_math_only_generator_is_still_refused_for_tensors_with_the_reason():
    def math_only(u):
        return (math.sqrt(u) - 1) ** 2

    z, t = _r(4, 6, seed=19), _r(4, 6, seed=20)
    with pytest.raises(ValueError, match="math-based"):
        divergence_loss(z, t, math_only)


# --- meta tensors -----------------------------------------------------------------------------------------------


def test_meta_tensors_get_a_clear_error_naming_the_argument():
    m, z = torch.empty(3, 5, device="meta"), _r(3, 5, seed=21)
    cases = {
        "student_logits": lambda: divergence_loss(m, z, "kl"),
        "teacher_logits": lambda: divergence_loss(z, m, "kl"),
        "weights": lambda: divergence_loss(z, z, "kl", weights=torch.empty(3, device="meta")),
        "labels": lambda: divergence_loss(z, z, "kl", labels=torch.empty(3, device="meta", dtype=torch.long)),
        "mask": lambda: divergence_loss(z, z, "kl", mask=torch.empty(3, device="meta", dtype=torch.bool)),
        "num_items_in_batch": lambda: divergence_loss(z, z, "kl", num_items_in_batch=torch.empty((), device="meta")),
        "student_hidden": lambda: fused_linear_divergence_loss(torch.empty(3, 2, device="meta"), _r(5, 2), z),
        "lm_head_weight": lambda: fused_linear_divergence_loss(_r(3, 2), torch.empty(5, 2, device="meta"), z),
        "teacher_topk_logprobs": lambda: topk_divergence_loss(z, torch.empty(3, 2, device="meta"),
                                                              torch.zeros(3, 2, dtype=torch.long)),
        "logprobs": lambda: kl_penalty(torch.empty(3, device="meta"), z[:, 0]),
    }
    for name, call in cases.items():
        with pytest.raises(ValueError, match=f"{name} is a meta tensor"):
            call()


# --- RL and preference losses ----------------------------------------------------------------------------------

_RL_CALLS = {
    "kl_penalty": (("logprobs", "ref_logprobs"), lambda a, b: kl_penalty(a, b, "k3")),
    "sampled_divergence": (("logp", "logq"), lambda a, b: sampled_divergence(a, b, "js")),
    "sequence_match_chi2": (("logp", "logq"), lambda a, b: sequence_match_chi2(a, b, samples_from="q")),
    "f_dpo_loss": (("chosen_logps", "ref_chosen_logps"), lambda a, b: f_dpo_loss(a, a - 1, b, b, beta=0.2)),
    "d2o_loss": (("negative_logps", "sample_logps"),
                 lambda a, b: d2o_loss(a, b, torch.stack([a, b], -1), torch.stack([b, a], -1))),
}


@settings(max_examples=60)
@given(data=st.data(), which=st.sampled_from(sorted(_RL_CALLS)), side=st.integers(0, 1),
       bad=st.sampled_from([math.nan, math.inf]))
def test_rl_and_preference_losses_refuse_nan_and_positive_infinite_log_probabilities(data, which, side, bad):
    names, call = _RL_CALLS[which]
    n = data.draw(st.integers(1, 8))
    a = torch.tensor(data.draw(st.lists(st.floats(-30, 0), min_size=n, max_size=n)), dtype=F64)
    b = torch.tensor(data.draw(st.lists(st.floats(-30, 0), min_size=n, max_size=n)), dtype=F64)
    out = call(a, b)
    assert not bool(torch.isnan(out).any())
    i = data.draw(st.integers(0, n - 1))
    x = (a, b)[side].clone()
    x[i] = bad
    args = (x, b) if side == 0 else (a, x)
    with pytest.raises(ValueError, match=f"{names[side]} holds NaN"):
        call(*args)
    y = (a, b)[side].clone()
    y[i] = -math.inf  # an impossible item: allowed
    call(*((y, b) if side == 0 else (a, y)))


def test_log_ratio_functions_refuse_nan_but_take_infinite_ratios():
    for fn in (f_prime, f_weight, f_dpo_score):
        with pytest.raises(ValueError, match="log_ratio holds NaN"):
            fn(torch.tensor([0.0, math.nan]))
        assert not bool(torch.isnan(fn(torch.tensor([-math.inf, 0.0, math.inf]), "reverse_kl")).any())


@pytest.mark.parametrize("beta", [0.0, -0.1, math.nan, math.inf, True, "0.1", torch.tensor([0.1, 0.2])])
def test_bad_beta_is_refused_by_the_preference_losses(beta):
    a, b = torch.tensor([-3.0, -2.0]), torch.tensor([-2.5, -2.0])
    with pytest.raises(ValueError, match="beta"):
        f_dpo_loss(a, b, b, a, beta=beta)
    with pytest.raises(ValueError, match="beta"):
        d2o_loss(a, b, torch.stack([a, b], -1), torch.stack([b, a], -1), beta=beta)


def test_bad_alpha_clip_and_dim_are_refused():
    a, b = torch.tensor([-3.0, -2.0]), torch.tensor([-2.5, -2.0])
    with pytest.raises(ValueError, match="alpha must be ≥ 0"):
        d2o_loss(a, b, torch.stack([a, b], -1), torch.stack([b, a], -1), alpha=-1.0)
    with pytest.raises(ValueError, match="clip"):
        kl_penalty(a, b, clip=True)
    with pytest.raises(ValueError, match="dim must be an axis"):
        sequence_match_chi2(torch.log_softmax(_r(2, 3), -1), torch.log_softmax(_r(2, 3, seed=1), -1), dim=2)
