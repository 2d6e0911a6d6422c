"""Every llm score on hostile arrays (NaN, ±inf, huge and tiny values, negative variances, impossible
frequencies): a ValueError naming the argument, or a valid value checked against a direct NumPy formula.
The defect classes: NaN derivatives read as radius +inf, NaN q/k deciding a head's pattern, NaN reference
statistics making the test never reject, a negative variance giving a complex ε, frequencies above 1 or inf,
NaN metric values in the composite score."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

torch = pytest.importorskip("torch")

from divergences.llm import (  # noqa: E402
    FrequencyTable,
    StepRadiusCap,
    binary_step_radius,
    calibrated_epsilon,
    choose_pattern,
    composite_score,
    concentration_epsilon,
    dcpdd_score,
    false_positive_rate,
    metric_agreement,
    perplexity_entropy_gap,
    step_radius,
    topk_js,
    zero_shot_test,
)

HOSTILE = st.one_of(st.floats(-1e3, 1e3), st.sampled_from([math.nan, math.inf, -math.inf, 1e300, -1e300, 0.0,
                                                           5e-324, -1e-300]))


def _arr(shape, elements=HOSTILE):
    return arrays(np.float64, shape, elements=elements)


def _names(message: str, *names: str) -> bool:
    return any(re.search(rf"(^|[\s(]){re.escape(n)}(\[|\s|$|:|\))", message) for n in names)


# ---- safe step radius -------------------------------------------------------------------------------------

@settings(max_examples=200)
@given(_arr(st.tuples(st.integers(1, 4), st.integers(2, 5))))
def test_step_radius_refuses_nan_or_follows_pi_over_spread(a):
    try:
        got = step_radius(torch.tensor(a), reduce=False)
    except ValueError as exc:
        assert _names(str(exc), "a") and not np.isfinite(a).all(), str(exc)
        return
    assert np.isfinite(a).all()
    with np.errstate(over="ignore", divide="ignore"):
        spread = a.max(-1) - a.min(-1)
        want = np.where(spread > 0, math.pi / spread, math.inf)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)
    assert not torch.isnan(got).any()


def test_nan_derivatives_are_not_a_safe_step():
    a = torch.tensor([[0.0, math.nan, 1.0], [0.0, 0.0, 0.0]])
    with pytest.raises(ValueError, match=r"^a \(the directional logit derivatives\) holds NaN"):
        step_radius(a)
    with pytest.raises(ValueError, match=r"^a \(the directional logit derivatives\) holds NaN"):
        binary_step_radius(torch.tensor([1.0, 2.0]), torch.tensor([math.nan, 1.0]))
    with pytest.raises(ValueError, match=r"^logits holds NaN"):
        binary_step_radius(torch.tensor([math.nan, 2.0]), torch.tensor([1.0, 1.0]))
    with pytest.raises(ValueError, match=r"^c must be a finite number"):
        StepRadiusCap(None, None, c=math.inf)


@settings(max_examples=150)
@given(_arr(st.integers(1, 6)), _arr(st.integers(1, 6)))
def test_binary_radius_refuses_nan_or_follows_the_formula(z, a):
    n = min(z.size, a.size)
    z, a = z[:n], a[:n]
    try:
        got = binary_step_radius(torch.tensor(z), torch.tensor(a), reduce=False)
    except ValueError as exc:
        assert _names(str(exc), "a", "logits") and not (np.isfinite(z).all() and np.isfinite(a).all()), str(exc)
        return
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        want = np.where(np.abs(a) > 0, np.hypot(z, math.pi) / np.abs(a), math.inf)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)


def test_a_nan_step_is_undone_and_refused():
    model = torch.nn.Linear(3, 4).double()
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    cap = StepRadiusCap(opt, model)
    before = [p.detach().clone() for p in model.parameters()]
    for p in model.parameters():
        p.grad = torch.full_like(p, math.nan)
    with pytest.raises(ValueError, match=r"^optimizer: its step holds NaN"):
        cap.step(torch.ones(2, 3, dtype=torch.float64))
    assert all(torch.equal(p, b) for p, b in zip(model.parameters(), before))


# ---- zero-shot test -----------------------------------------------------------------------------------------

@settings(max_examples=200)
@given(n=st.one_of(HOSTILE, st.integers(-3, 500)), alpha=st.one_of(HOSTILE, st.floats(0, 1)),
       bound=st.one_of(st.none(), HOSTILE), variance=st.one_of(st.none(), HOSTILE), two_sided=st.booleans())
def test_concentration_epsilon_is_a_finite_real_or_refused(n, alpha, bound, variance, two_sided):
    try:
        eps = concentration_epsilon(n, alpha, bound=bound, variance=variance, two_sided=two_sided)
    except ValueError as exc:
        assert _names(str(exc), "alpha", "bound", "variance", "n") or "exactly one" in str(exc), str(exc)
        return
    assert isinstance(eps, float) and not isinstance(eps, complex) and math.isfinite(eps) and eps >= 0
    if variance is not None:
        factor = 1 / math.sqrt(alpha) if two_sided else math.sqrt((1 - alpha) / alpha)
        assert eps == pytest.approx(math.sqrt(variance) * factor, rel=1e-12)
    else:
        log_term = math.log(2 / alpha) if two_sided else math.log(1 / alpha)
        assert eps == pytest.approx(bound * math.sqrt(2 * log_term / n), rel=1e-12)


def test_negative_variance_is_refused_not_complex():
    with pytest.raises(ValueError, match=r"^variance must be finite and >= 0"):
        concentration_epsilon(10, 0.05, variance=-0.25)
    with pytest.raises(ValueError, match=r"^variance must be finite and >= 0"):
        concentration_epsilon(10, 0.05, variance=torch.tensor([0.1, -0.1]))
    with pytest.raises(ValueError, match=r"^n must be finite counts"):
        concentration_epsilon(math.nan, 0.05, bound=1.0)


@settings(max_examples=200)
@given(reference=_arr(st.integers(0, 12)), alpha=st.floats(0.01, 0.99), two_sided=st.booleans())
def test_calibration_refuses_nan_references_and_bounds_the_false_positive_rate(reference, alpha, two_sided):
    try:
        eps = calibrated_epsilon(reference, alpha, two_sided=two_sided)
    except ValueError as exc:
        assert _names(str(exc), "reference"), str(exc)
        assert reference.size == 0 or not np.isfinite(reference).all()
        return
    assert math.isfinite(eps)
    assert false_positive_rate(reference, eps, two_sided=two_sided) <= alpha + 1e-12
    rejected = zero_shot_test(torch.tensor(reference), eps, two_sided=two_sided)
    assert rejected.dtype == torch.bool and int(rejected.sum()) <= math.floor(alpha * reference.size + 1e-9)


def test_nan_statistics_never_decide_silently():
    with pytest.raises(ValueError, match=r"^reference holds NaN"):
        calibrated_epsilon([0.1, math.nan, 0.3], 0.1)
    with pytest.raises(ValueError, match=r"^statistic holds NaN"):
        zero_shot_test(torch.tensor([0.1, math.nan]), 0.2)
    with pytest.raises(ValueError, match=r"^epsilon holds NaN"):
        zero_shot_test(torch.tensor([0.1, 5.0]), math.nan)
    with pytest.raises(ValueError, match=r"^epsilon must be >= 0 for a two-sided test"):
        zero_shot_test(torch.tensor([0.1]), -0.5, two_sided=True)
    with pytest.raises(ValueError, match=r"^statistic_of_a holds NaN"):
        false_positive_rate([math.nan], 0.1)


@settings(max_examples=100)
@given(_arr(st.tuples(st.integers(1, 2), st.integers(2, 4), st.integers(2, 5))), st.integers(0, 2**16))
def test_gap_refuses_nan_logits_or_is_the_direct_formula(z, seed):
    ids = np.random.default_rng(seed).integers(0, z.shape[-1], z.shape[:2])
    try:
        res = perplexity_entropy_gap(torch.tensor(z), torch.tensor(ids))
    except ValueError as exc:
        assert _names(str(exc), "logits"), str(exc)
        assert np.isnan(z).any() or (z == math.inf).any() or (z == -math.inf).all(-1).any()
        return
    assert not np.isnan(z).any() and not (z == math.inf).any()
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        m = z.max(-1, keepdims=True)
        logp = z - m - np.log(np.exp(z - m).sum(-1, keepdims=True))
        p = np.exp(logp)
        ent = -np.where(p > 0, p * logp, 0.0).sum(-1)
    tok = np.take_along_axis(logp[:, :-1], ids[:, 1:, None], -1)[..., 0]
    ell, h = -tok.mean(-1), ent[:, :-1].mean(-1)
    np.testing.assert_allclose(res.log_perplexity.numpy(), ell, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(res.entropy.numpy(), h, rtol=1e-9, atol=1e-9)
    assert not torch.isnan(res.gap).any()


# ---- DC-PDD -------------------------------------------------------------------------------------------------

@settings(max_examples=150)
@given(table=_arr(st.just(5), st.one_of(st.floats(-1, 2), st.sampled_from([math.nan, math.inf, 0.0, 1.0, 0.2]))),
       a=st.one_of(HOSTILE, st.just(0.01)))
def test_dcpdd_refuses_impossible_frequencies_or_is_bounded_by_a(table, a):
    g = torch.Generator().manual_seed(0)
    z, ids = torch.randn(2, 6, 5, generator=g, dtype=torch.float64), torch.randint(0, 5, (2, 6), generator=g)
    try:
        score = dcpdd_score(z, ids, table, a=a)
    except ValueError as exc:
        assert _names(str(exc), "table", "a"), str(exc)
        ok_table = np.isfinite(table).all() and (table > 0).all() and (table <= 1).all() and table.sum() <= 1 + 1e-6
        assert not (ok_table and math.isfinite(a) and a > 0)
        return
    assert torch.isfinite(score).all() and (score >= 0).all() and (score <= a + 1e-12).all()


def test_frequencies_above_one_or_infinite_are_refused():
    z, ids = torch.randn(1, 4, 3, dtype=torch.float64), torch.tensor([[0, 1, 2, 1]])
    for bad in ([0.5, 1.5, 0.1], [0.5, math.inf, 0.1], [0.6, 0.3, 0.2]):
        with pytest.raises(ValueError, match=r"^table frequencies"):
            dcpdd_score(z, ids, bad)
    table = FrequencyTable(np.array([2**62, 2**61, 1]))  # an int64 sum would wrap negative
    assert (table.frequencies() > 0).all() and table.frequencies().sum() == pytest.approx(1.0)
    assert torch.isfinite(dcpdd_score(z, ids, table)).all()


# ---- unlearning ---------------------------------------------------------------------------------------------

@settings(max_examples=150)
@given(p=_arr((2, 3, 6)), q=_arr((2, 3, 6)), k=st.integers(1, 6), eps=st.one_of(st.just(1e-10), HOSTILE))
def test_topk_js_refuses_nan_logits_or_is_bounded(p, q, k, eps):
    try:
        js = topk_js(torch.tensor(p), torch.tensor(q), k=k, eps=eps)
    except ValueError as exc:
        assert _names(str(exc), "p_logits", "q_logits", "eps"), str(exc)
        return
    assert torch.isfinite(js).all() and (js >= -1e-12).all() and (js <= math.log(2) + 1e-12).all()


METRIC = _arr(st.just(5), st.one_of(st.floats(-1e6, 1e6), st.sampled_from([math.nan, math.inf, 1e308, -1e308])))


@settings(max_examples=150)
@given(m1=METRIC, m2=METRIC, oracle=METRIC, standardize=st.booleans(),
       min_weight=st.one_of(st.just(0.01), st.sampled_from([math.nan, math.inf, -1.0, 0.0])))
def test_composite_refuses_nan_metrics_or_is_a_weighted_sum(m1, m2, oracle, standardize, min_weight):
    metrics = {"forget": m1, "retain": m2}
    try:
        composite, weights = composite_score(metrics, oracle, higher_is_better={"forget": False},
                                             standardize=standardize, min_weight=min_weight)
    except ValueError as exc:
        assert _names(str(exc), "metrics['forget']", "metrics['retain']", "oracle_distance", "min_weight") or \
            "no metric correlates" in str(exc), str(exc)
        return
    assert np.isfinite(composite).all()
    assert sum(weights.values()) == pytest.approx(1.0) and all(w >= 0 for w in weights.values())
    if not standardize:
        np.testing.assert_allclose(composite, -weights["forget"] * m1 + weights["retain"] * m2, rtol=1e-12)


def test_nan_metric_values_are_refused_by_name():
    with pytest.raises(ValueError, match=r"^metrics\['b'\] holds NaN"):
        composite_score({"a": [1.0, 2.0, 3.0], "b": [1.0, math.nan, 0.0]}, [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match=r"^oracle_distance holds NaN"):
        composite_score({"a": [1.0, 2.0, 3.0]}, [0.1, math.nan, 0.3])
    with pytest.raises(ValueError, match=r"^metrics\['a'\] holds NaN"):
        metric_agreement({"a": [1.0, math.nan, 3.0], "b": [1.0, 2.0, 3.0]})
    with pytest.raises(ValueError, match=r"^higher_is_better names metrics that are not in metrics: \['c'\]"):
        metric_agreement({"a": [1.0, 2.0, 3.0], "b": [1.0, 2.0, 3.0]}, higher_is_better={"c": False})


# ---- FlexPrefill --------------------------------------------------------------------------------------------

@settings(max_examples=100)
@given(q=_arr((1, 8, 4)), k=_arr((1, 8, 4)), tau=st.one_of(st.just(0.1), HOSTILE))
def test_choose_pattern_refuses_nan_or_decides_on_a_finite_distance(q, k, tau):
    try:
        choice = choose_pattern(torch.tensor(q), torch.tensor(k), block_size=4, tau=tau)
    except ValueError as exc:
        assert _names(str(exc), "q", "k", "tau") or str(exc).startswith("q and k"), str(exc)
        return
    assert torch.isfinite(choice.distance).all()
    assert (choice.distance >= 0).all() and (choice.distance <= math.sqrt(math.log(2)) + 1e-9).all()
    assert torch.equal(choice.query_aware, choice.distance < tau)


def test_nan_queries_never_mark_a_head_query_aware():
    q = torch.randn(1, 2, 16, 8, dtype=torch.float64)
    q[0, 1, 3, 2] = math.nan
    with pytest.raises(ValueError, match=r"^q holds NaN"):
        choose_pattern(q, q.nan_to_num(), block_size=4)
    with pytest.raises(ValueError, match=r"^k holds NaN"):
        choose_pattern(q.nan_to_num(), q, block_size=4)
    huge = torch.full((1, 16, 8), 1e30)
    with pytest.raises(ValueError, match=r"^q and k: q·kᵀ/√d overflows"):
        choose_pattern(huge, huge, block_size=4)


# ---- n-gram prior -------------------------------------------------------------------------------------------

def test_ngram_tokens_outside_the_vocabulary_are_refused():
    from divergences.llm import NGramPrior

    prior = NGramPrior.fit([[0, 1, 2, 1]], vocab_size=3, order=2)
    with pytest.raises(ValueError, match=r"^context holds token id 3 outside \[0, vocab_size=3\)"):
        prior.log_prob([[3]])
    with pytest.raises(ValueError, match=r"^sequence holds token id -1"):  # used to wrap around to the last token
        prior.token_log_probs([0, -1])
    with pytest.raises(ValueError, match=r"^sequences\[1\] holds token id 5"):
        prior.perplexity([[0, 1], [5]])
    with pytest.raises(ValueError, match=r"^start must be an integer >= 0"):
        prior.perplexity([[0, 1, 2]], start=-1)
    with pytest.raises(ValueError, match=r"^k must be a finite number > 0"):
        NGramPrior.fit([[0]], vocab_size=2, k=math.inf)
    with pytest.raises(ValueError, match=r"^weights must be 2 non-negative numbers summing to 1"):
        NGramPrior.fit([[0]], vocab_size=2, order=2, weights=(math.inf, -math.inf))
