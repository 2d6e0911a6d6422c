"""Metrics on bin counts: values, delta-method standard errors, χ² p-values, smoothing, bands."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

import divergences as dv
from divergences.tabular.metrics import evaluate, frequencies, iv_band, psi_band, resolve

from ._records import divergences


def jeffreys_variance(p, q, n, m):
    """REFERENCE.md's delta-method variance of the plug-in Jeffreys divergence, written out."""
    a = np.log(p / q) + 1 - q / p
    c = np.log(q / p) + 1 - p / q
    return (np.sum(p * a * a) - np.sum(p * a) ** 2) / n + (np.sum(q * c * c) - np.sum(q * c) ** 2) / m


def test_psi_value_and_se_match_the_reference_formulas():
    cur, ref = np.array([120, 300, 380, 200]), np.array([250, 250, 250, 250])
    e = evaluate(resolve("psi"), cur, ref, smoothing=0.0)
    p, q = cur / cur.sum(), ref / ref.sum()
    assert e.value == pytest.approx(np.sum((p - q) * np.log(p / q)), rel=1e-12)
    assert e.se == pytest.approx(math.sqrt(jeffreys_variance(p, q, 1000, 1000)), rel=1e-10)
    z = stats.norm.ppf(0.975)
    assert (e.ci_low, e.ci_high) == pytest.approx((e.value - z * e.se, e.value + z * e.se), rel=1e-12)
    assert e.band == psi_band(e.value)


@pytest.mark.parametrize("name", [d.name for d in divergences("f")])
def test_generator_gradient_matches_finite_differences(name):
    """The delta method's gradient (f'(r), f(r) − r f'(r)) against a numerical derivative of the value."""
    from divergences.tabular.metrics import _gradient

    m = resolve(name)
    p, q = np.array([0.1, 0.2, 0.3, 0.4]), np.array([0.25, 0.35, 0.15, 0.25])
    gp, gq = _gradient(m, p, q, None, None)
    h = 1e-7
    for x, g, first in ((p, gp, True), (q, gq, False)):
        for i in range(4):
            up, down = x.copy(), x.copy()
            up[i] += h
            down[i] -= h
            f = (lambda a: dv.divergence(m.divergence, a, q, validate=False)) if first else \
                (lambda b: dv.divergence(m.divergence, p, b, validate=False))
            assert g[i] == pytest.approx((float(f(up)) - float(f(down))) / (2 * h), rel=1e-5, abs=1e-7)


def test_standard_error_matches_simulation():
    """The delta-method SE against the spread of PSI over simulated multinomial samples."""
    rng = np.random.default_rng(0)
    p, q = np.array([0.1, 0.2, 0.3, 0.4]), np.array([0.25, 0.25, 0.25, 0.25])
    n = m = 4000
    cur, ref = rng.multinomial(n, p, size=4000), rng.multinomial(m, q, size=4000)
    pp, qq = cur / n, ref / m
    values = np.sum((pp - qq) * np.log(pp / qq), axis=1)
    e = evaluate(resolve("psi"), np.round(p * n).astype(int), np.round(q * m).astype(int), smoothing=0.0)
    assert e.se == pytest.approx(values.std(), rel=0.06)


def test_null_p_value_is_calibrated_and_matches_the_chi2_scaling():
    rng = np.random.default_rng(1)
    q = np.array([0.1, 0.15, 0.2, 0.25, 0.3])
    n, m = 2000, 3000
    pvals = []
    for _ in range(1000):
        e = evaluate(resolve("psi"), rng.multinomial(n, q), rng.multinomial(m, q), smoothing=0.0)
        pvals.append(e.p_value)
    assert np.mean(np.asarray(pvals) < 0.05) == pytest.approx(0.05, abs=0.02)
    cur, ref = np.array([380, 420, 410, 390, 400]), np.array([600, 590, 610, 620, 580])
    e = evaluate(resolve("psi"), cur, ref, smoothing=0.0)
    t = 2000 * 3000 / 5000 * float(dv.jeffreys(cur / 2000, ref / 3000))
    # nm/(n+m) = 1200 < 2500: a permutation p-value, within Monte-Carlo error of the χ² scaling here
    assert e.p_value == pytest.approx(stats.chi2.sf(t, 4), abs=0.03)
    # the null mean of the plug-in PSI is (k − 1)(1/N + 1/M)
    assert e.null_mean == pytest.approx(4 * (1 / 2000 + 1 / 3000))
    big_cur, big_ref = cur * 5, ref * 5  # nm/(n+m) = 6000: the χ² scaling itself
    e = evaluate(resolve("psi"), big_cur, big_ref, smoothing=0.0)
    t = 10000 * 15000 / 25000 * float(dv.jeffreys(big_cur / 10000, big_ref / 15000))
    assert e.p_value == pytest.approx(stats.chi2.sf(t, 4), rel=1e-10)


def test_other_f_divergences_use_their_second_derivative():
    cur, ref = np.array([380, 420, 410, 390, 400]), np.array([600, 590, 610, 620, 580])
    js = evaluate(resolve("js"), cur, ref, smoothing=0.0)
    psi = evaluate(resolve("psi"), cur, ref, smoothing=0.0)
    # f''(1) is 1/4 for JS and 2 for Jeffreys: both statistics are ≈ Pearson's, so the p-values agree
    assert js.p_value == pytest.approx(psi.p_value, rel=0.01)
    assert math.isnan(evaluate(resolve("tv"), cur, ref).p_value)  # TV has no second derivative at 1


def test_user_registered_divergence_is_a_metric():
    dv.register("sq_hellinger_user", lambda t: (np.sqrt(t) - 1) ** 2)
    try:
        cur, ref = np.array([30, 50, 20]), np.array([40, 40, 20])
        e = evaluate(resolve("sq_hellinger_user"), cur, ref, smoothing=0.0)
        h = evaluate(resolve("hellinger"), cur, ref, smoothing=0.0)
        assert e.value == pytest.approx(2 * h.value, rel=1e-9)  # Σ(√p−√q)² = 2 H²
        assert e.se == pytest.approx(2 * h.se, rel=1e-4)
        assert e.p_value == pytest.approx(h.p_value, rel=1e-3)
        renyi = evaluate(resolve("renyi"), cur, ref, smoothing=0.0)  # a "function" divergence
        assert renyi.value == pytest.approx(float(dv.renyi(cur / 100, ref / 100)))
        assert renyi.se > 0
    finally:
        dv.unregister("sq_hellinger_user")


def test_wasserstein_matches_scipy_on_bin_locations():
    loc = np.array([-1.5, -0.2, 0.4, 2.0])
    cur, ref = np.array([10, 40, 30, 20]), np.array([25, 25, 25, 25])
    e = evaluate(resolve("wasserstein"), cur, ref, smoothing=0.0, locations=loc, scale=2.0)
    expected = stats.wasserstein_distance(loc, loc, cur, ref) / 2.0
    assert e.value == pytest.approx(expected, rel=1e-12)
    assert e.se > 0 and math.isnan(e.p_value)


def test_smoothing_is_explicit():
    cur, ref = np.array([0, 50, 50]), np.array([30, 40, 30])
    assert evaluate(resolve("psi"), cur, ref, smoothing=0.0).value == math.inf
    smoothed = evaluate(resolve("psi"), cur, ref, smoothing=0.5)
    p, q, kept = frequencies(cur, ref, 0.5)
    assert p.tolist() == pytest.approx([0.5 / 101.5, 50.5 / 101.5, 50.5 / 101.5])
    assert smoothed.value == pytest.approx(float(dv.jeffreys(p, q)))
    # bins empty in both tables are dropped, not smoothed
    _, _, kept = frequencies(np.array([3, 0, 1]), np.array([2, 0, 2]), 0.5)
    assert kept.tolist() == [True, False, True]


def test_bands():
    assert [psi_band(x) for x in (0.0, 0.099, 0.1, 0.249, 0.25, math.inf)] == \
        ["stable", "stable", "moderate", "moderate", "significant", "significant"]
    assert [iv_band(x) for x in (0.01, 0.05, 0.2, 0.4, 0.6)] == ["useless", "weak", "medium", "strong", "suspicious"]


def test_unknown_metric_is_refused():
    with pytest.raises(ValueError, match="metrics"):
        resolve("nope")
    with pytest.raises(ValueError, match="not a divergence"):
        resolve("cross_entropy")
