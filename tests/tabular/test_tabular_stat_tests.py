"""Tests beside the divergences, multiple-testing verdicts and textbook values (issue 14)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from divergences.tabular import compare
from divergences.tabular.stat_tests import (
    anderson_darling_binned,
    benjamini_hochberg,
    chi2_homogeneity,
    holm,
    ks_binned,
)

counts = st.lists(st.integers(0, 40), min_size=2, max_size=8)


def _samples(cur, ref):
    """The binned samples themselves: every value replaced by its bin index."""
    return np.repeat(np.arange(len(cur)), cur), np.repeat(np.arange(len(ref)), ref)


@settings(max_examples=60, deadline=None)
@given(counts, counts)
def test_ks_equals_scipy_on_the_binned_samples(a, b):
    k = min(len(a), len(b))
    cur, ref = np.array(a[:k]), np.array(b[:k])
    if cur.sum() == 0 or ref.sum() == 0:
        return
    x, y = _samples(cur, ref)
    d, p = ks_binned(cur, ref)
    expected = stats.ks_2samp(x, y, method="asymp")
    assert d == pytest.approx(expected.statistic, abs=1e-12)
    assert p == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(counts, counts)
def test_anderson_darling_equals_scipy_on_the_binned_samples(a, b):
    k = min(len(a), len(b))
    cur, ref = np.array(a[:k]), np.array(b[:k])
    x, y = _samples(cur, ref)
    if len(x) < 2 or len(y) < 2 or len(np.unique(np.concatenate([x, y]))) < 2:
        return
    stat, p = anderson_darling_binned(cur, ref)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = stats.anderson_ksamp([x, y], midrank=True)
    assert stat == pytest.approx(expected.statistic, rel=1e-9, abs=1e-9)
    assert p == pytest.approx(expected.pvalue, rel=1e-9)


def test_anderson_darling_at_large_n_uses_the_limits():
    rng = np.random.default_rng(0)
    cur = rng.multinomial(3_000_000, [0.2, 0.3, 0.5])
    ref = rng.multinomial(3_000_000, [0.2, 0.3, 0.5])
    stat, p = anderson_darling_binned(cur, ref)
    assert np.isfinite(stat) and 0.001 <= p <= 0.25


@settings(max_examples=60, deadline=None)
@given(counts, counts)
def test_chi2_homogeneity_equals_scipy(a, b):
    k = min(len(a), len(b))
    cur, ref = np.array(a[:k]), np.array(b[:k])
    kept = (cur + ref) > 0
    if kept.sum() < 2 or cur.sum() == 0 or ref.sum() == 0:
        return
    stat, p = chi2_homogeneity(cur, ref)
    expected = stats.chi2_contingency(np.vstack([cur[kept], ref[kept]]), correction=False)
    assert stat == pytest.approx(expected.statistic, rel=1e-10, abs=1e-12)
    assert p == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-15)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.one_of(st.floats(0, 1), st.just(float("nan"))), min_size=1, max_size=12))
def test_holm_and_bh_against_their_definitions(ps):
    p = np.array(ps)
    ok = ~np.isnan(p)
    h, b = holm(p), benjamini_hochberg(p)
    assert np.array_equal(np.isnan(h), ~ok) and np.array_equal(np.isnan(b), ~ok)
    if ok.sum() == 0:
        return
    np.testing.assert_allclose(b[ok], stats.false_discovery_control(p[ok], method="bh"), rtol=1e-12)
    # Holm written out: the i-th smallest p times (m − i + 1), running maximum, capped at 1
    q = np.sort(p[ok])
    m = q.size
    direct = np.minimum(np.maximum.accumulate([(m - i) * q[i] for i in range(m)]), 1.0)
    np.testing.assert_allclose(np.sort(h[ok]), direct, rtol=1e-12)
    assert np.all(h[ok] >= b[ok] - 1e-15)  # Holm is never less conservative than BH


def test_tests_beside_the_divergences_in_the_result():
    rng = np.random.default_rng(4)
    n = 500
    ref = pd.DataFrame({"x": rng.normal(size=n), "c": rng.choice(list("abcd"), n)})
    cur = pd.DataFrame({"x": rng.normal(0.3, size=n), "c": rng.choice(list("abcd"), n, p=[0.4, 0.2, 0.2, 0.2])})
    c = compare(ref, cur)
    x, cat = c["x"], c["c"]
    cur_x, ref_x = np.asarray(x.histogram.current), np.asarray(x.histogram.reference)
    from scipy.stats import ks_2samp

    assert x.tests["ks"].on == "values"  # both tables at hand: KS on the values, as SciPy
    assert x.tests["ks"].p_value == pytest.approx(ks_2samp(cur["x"], ref["x"]).pvalue, rel=1e-12)
    assert x.tests["ks"].p_value < 0.05
    from divergences.tabular import profile

    binned = compare(profile(ref), cur)["x"].tests["ks"]  # a saved profile has bins only
    assert binned.on == "bins" and binned.p_value == ks_binned(cur_x, ref_x)[1]
    cur_c, ref_c = np.asarray(cat.histogram.current), np.asarray(cat.histogram.reference)
    assert cat.tests["chi2_test"].statistic == pytest.approx(chi2_homogeneity(cur_c, ref_c)[0])
    assert "tests" in c.options.__dataclass_fields__
    assert compare(ref, cur, tests=False)["x"].tests == {}


def test_dataset_verdicts_share_rule_and_multiple_testing():
    rng = np.random.default_rng(7)
    n = 3000
    cols = {f"s{i}": rng.normal(size=n) for i in range(6)}
    ref = pd.DataFrame(cols)
    cur = pd.DataFrame({k: (v + 1.0 if k in ("s0", "s1") else rng.normal(size=n)) for k, v in cols.items()})
    c = compare(ref, cur)
    s = c.summary
    assert c.drifted == ["s0", "s1"] and s.drifted == 2 and s.drifted_share == pytest.approx(1 / 3)
    assert not s.dataset_drift and s.drift_share == 0.5
    assert compare(ref, cur, drift_share=0.3).summary.dataset_drift
    assert set(s.holm_drifted) == set(s.bh_drifted) == {"s0", "s1"} and s.holm_dataset_drift
    raw = np.array([c[k]["psi"].p_value for k in cols])
    np.testing.assert_allclose([s.adjusted_p_values[k]["holm"] for k in cols], holm(raw))
    np.testing.assert_allclose([s.adjusted_p_values[k]["bh"] for k in cols], benjamini_hochberg(raw))
    assert "2 of 6 columns drifted" in s.headline


def test_textbook_psi_and_iv_without_empty_bins():
    """No empty bin: the plug-in Σ (p − q) ln(p/q) on the observed shares, no pseudo-count."""
    rng = np.random.default_rng(8)
    ref = pd.DataFrame({"x": rng.normal(size=1000), "y": rng.integers(0, 2, 1000)})
    cur = pd.DataFrame({"x": rng.normal(0.2, size=1000), "y": rng.integers(0, 2, 1000)})
    c = compare(ref, cur, target="y")
    x = c["x"]
    p = np.asarray(x.histogram.current, float)
    q = np.asarray(x.histogram.reference, float)
    p, q = p / p.sum(), q / q.sum()
    assert x.smoothing == 0.0 and not x.smoothed
    assert x["psi"].value == pytest.approx(np.sum((p - q) * np.log(p / q)), rel=1e-12)
    iv = [r for r in c.information_value if r["feature"] == "x" and r["table"] == "reference"][0]
    g = np.array([b["good"] for b in iv["woe"]], float)
    b = np.array([b["bad"] for b in iv["woe"]], float)
    g, b = g / g.sum(), b / b.sum()
    assert iv["smoothing"] == 0.0 and iv["iv"] == pytest.approx(np.sum((g - b) * np.log(g / b)), rel=1e-12)


def test_smoothing_only_where_a_bin_is_empty_and_named():
    ref = pd.DataFrame({"c": list("aabbcc") * 50, "d": list("aabbcc") * 50})
    cur = pd.DataFrame({"c": list("aabb") * 75, "d": list("abcabc") * 50})
    c = compare(ref, cur)
    assert c["c"].smoothing == 0.5 and c["c"].smoothed and np.isfinite(c["c"]["psi"].value)
    assert c["d"].smoothing == 0.0
    assert compare(ref, cur, smoothing=0)["c"]["psi"].value == np.inf
    assert compare(ref, cur, smoothing=1.0)["d"].smoothing == 1.0
    assert c.to_dict()["columns"][0]["smoothing"] == 0.5


@pytest.mark.parametrize("total", [4, 5, 37, 1000, 300_001])
def test_anderson_darling_harmonic_terms_in_closed_form_equal_their_sums(total):
    from divergences.tabular.stat_tests import _harmonic_terms

    i = np.arange(1, total, dtype=np.float64)
    h = math.fsum(1.0 / i)
    # g = Σ_{i ≤ N−2} (H_{N−1} − H_i)/(N − i), with H_i the partial sums (math.fsum: exactly rounded)
    partial = np.cumsum(1.0 / i)
    g = math.fsum((partial[-1] - partial[:-1]) / (total - i[:-1]))
    if total <= 37:  # the double sum as written by Scholz & Stephens
        assert g == pytest.approx(sum(1 / ((total - a) * b) for a in range(1, total - 1) for b in range(a + 1, total)),
                                  rel=1e-14)
    got_h, got_g = _harmonic_terms(total)
    assert got_h == pytest.approx(h, rel=1e-13) and got_g == pytest.approx(g, rel=1e-11)
