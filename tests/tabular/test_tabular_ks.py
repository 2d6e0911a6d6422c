"""The two-sample Kolmogorov–Smirnov test on the values (issue 21): equal to scipy.stats.ks_2samp."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import ks_2samp

from divergences.tabular import compare
from divergences.tabular.stat_tests import KS_EXACT_MAX, ks_values


def _counts(x):
    return np.unique(np.asarray(x, dtype=np.float64), return_counts=True)


samples = st.lists(st.one_of(st.integers(-3, 3).map(float), st.floats(-1e3, 1e3), st.sampled_from([np.inf, -np.inf])),
                   min_size=1, max_size=80)


@settings(max_examples=80, deadline=None)
@given(samples, samples)
def test_ks_values_equals_scipy_with_ties_and_infinities(a, b):
    d, p = ks_values(*_counts(b), *_counts(a))
    want = ks_2samp(np.asarray(b), np.asarray(a))
    assert d == pytest.approx(want.statistic, abs=1e-12) and p == pytest.approx(want.pvalue, rel=1e-9, abs=1e-300)


@pytest.mark.parametrize("n, m", [(9_000, 10_000), (10_001, 12_000), (40_000, 25_000)])
def test_exact_and_asymptotic_modes_follow_scipy_auto(n, m):
    rng = np.random.default_rng(n)
    a = np.round(rng.normal(size=n), 2)  # many ties
    b = np.round(rng.normal(0.03, size=m), 2)
    d, p = ks_values(*_counts(b), *_counts(a))
    auto = ks_2samp(b, a)
    assert d == pytest.approx(auto.statistic, abs=1e-12) and p == pytest.approx(auto.pvalue, rel=1e-9)
    mode = "exact" if max(n, m) <= KS_EXACT_MAX else "asymp"
    assert p == pytest.approx(ks_2samp(b, a, method=mode).pvalue, rel=1e-9)


@pytest.mark.parametrize("wrap", [lambda f: f, duckdb.from_df], ids=["pandas", "duckdb"])
def test_compare_runs_ks_on_the_values_not_the_deciles(wrap, tmp_path):
    rng = np.random.default_rng(3)
    ref = pd.DataFrame({"x": rng.normal(size=600), "t": pd.Timestamp("2024-01-01")
                        + pd.to_timedelta(rng.integers(0, 10**6, 600), unit="s")})
    cur = pd.DataFrame({"x": rng.normal(0.25, size=600), "t": pd.Timestamp("2024-01-02")
                        + pd.to_timedelta(rng.integers(0, 10**6, 600), unit="s")})
    c = compare(wrap(ref), wrap(cur), columns=["x", "t"])
    for col, a, b in (("x", ref["x"], cur["x"]),
                      ("t", ref["t"].astype("int64") / 1e9, cur["t"].astype("int64") / 1e9)):
        test = c[col].tests["ks"]
        want = ks_2samp(b, a)
        assert test.on == "values" and test.statistic == pytest.approx(want.statistic, abs=1e-12)
        assert test.p_value == pytest.approx(want.pvalue, rel=1e-9)
    r, k = tmp_path / "r.parquet", tmp_path / "c.parquet"
    ref.to_parquet(r)
    cur.to_parquet(k)
    files = compare(str(r), str(k))["x"].tests["ks"]
    assert files.p_value == pytest.approx(ks_2samp(cur["x"], ref["x"]).pvalue, rel=1e-9)


# -- the large-table path: D from cut points and the few intervals that may hold the maximum ------------

from divergences.tabular.stat_tests import _ks_scaled, _SortedSample  # noqa: E402


def _direct_scaled(a, b):
    """max |m·C(t) − n·R(t)| over every value of either sample, by the definition (counts by searchsorted)."""
    a, b = np.sort(np.asarray(a, dtype=np.float64)), np.sort(np.asarray(b, dtype=np.float64))
    t = np.concatenate([a, b])
    return int(np.max(np.abs(np.searchsorted(a, t, "right") * b.size - np.searchsorted(b, t, "right") * a.size)))


@settings(max_examples=150, deadline=None)
@given(samples, samples, st.integers(1, 9), st.booleans())
def test_cut_point_bound_is_exact_for_every_spacing(a, b, step, by_count):
    """Any spacing of the cut points gives the exact maximum (sorted values or distinct values + counts)."""
    if by_count:
        cur, ref = _SortedSample(*_counts(a), None), _SortedSample(*_counts(b), None)
    else:
        cur, ref = _SortedSample(np.sort(a), None), _SortedSample(np.sort(b), None)
    assert int(_ks_scaled(cur, ref, step=step)) == _direct_scaled(a, b)


def _large(kind, rng):
    n, m = 30_000, 23_000
    if kind == "continuous, same law":
        return rng.normal(size=n), rng.normal(size=m)
    if kind == "continuous, small shift":
        return rng.normal(0.02, size=n), rng.normal(size=m)
    if kind == "continuous, large shift":
        return rng.normal(0.5, 2.0, size=n), rng.normal(size=m)
    if kind == "discrete":
        return rng.poisson(3.0, n).astype(float), rng.poisson(3.1, m).astype(float)
    if kind == "heavy tail with infinities":
        a, b = rng.pareto(1.2, n), rng.pareto(1.25, m)
        a[:40], b[:7] = np.inf, -np.inf
        return a, b
    if kind == "rounded (ties)":
        return np.round(rng.normal(size=n), 1), np.round(rng.normal(0.01, size=m), 1)
    a = np.concatenate([np.full(n // 2, 1.0), rng.normal(size=n - n // 2)])  # an atom inside a continuous part
    return a, np.concatenate([np.full(m // 3, 1.0), rng.normal(size=m - m // 3)])


@pytest.mark.parametrize("kind", ["continuous, same law", "continuous, small shift", "continuous, large shift",
                                  "discrete", "heavy tail with infinities", "rounded (ties)", "atom"])
def test_large_tables_equal_scipy_in_both_forms(kind):
    rng = np.random.default_rng(len(kind))
    cur, ref = _large(kind, rng)
    want = ks_2samp(cur, ref)
    for d, p in (ks_values(np.sort(cur), None, np.sort(ref), None), ks_values(*_counts(cur), *_counts(ref))):
        assert d == pytest.approx(want.statistic, abs=1e-12) and p == pytest.approx(want.pvalue, rel=1e-9)
