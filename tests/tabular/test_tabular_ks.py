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
