"""One sort per numeric column answers every question about it (issue 21, speed): the summary, the
bins, the counts with their sums, the current counts and the KS test, checked against the engine's
own SQL passes and against NumPy written directly."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import ks_2samp

from divergences.tabular import compare, profile
from divergences.tabular.engines.base import numpy_bin_counts
from divergences.tabular.engines.duckdb_engine import DuckDBEngine
from divergences.tabular.sorted_values import (
    bin_counts_of,
    distinct_count,
    distinct_finite,
    summary_of,
)

values = st.lists(st.one_of(st.integers(-4, 4).map(float), st.floats(-1e6, 1e6),
                            st.sampled_from([np.inf, -np.inf, np.nan])), min_size=0, max_size=60)
edge_lists = st.lists(st.one_of(st.integers(-4, 4).map(float), st.floats(-1e6, 1e6)), min_size=0, max_size=8)


@settings(max_examples=150, deadline=None)
@given(values, edge_lists, st.booleans())
def test_counts_and_sums_equal_numpy_binning(xs, edges, by_count):
    x = np.asarray(xs, dtype=np.float64)
    e = np.unique(np.asarray(edges, dtype=np.float64))
    want = numpy_bin_counts(x, e, sums=True)
    kept = np.sort(x[~np.isnan(x)])
    pair = np.unique(kept, return_counts=True) if by_count else (kept, None)
    got = bin_counts_of(pair[0], pair[1], x.size, e, sums=True)
    assert got.counts.tolist() == want.counts.tolist() and got.missing == want.missing
    assert want.sums is not None and got.sums is not None
    np.testing.assert_allclose(got.sums, want.sums, rtol=1e-12, atol=1e-6)


@settings(max_examples=100, deadline=None)
@given(values)
def test_summary_and_distinct_values_equal_numpy(xs):
    x = np.asarray(xs, dtype=np.float64)
    kept = np.sort(x[~np.isnan(x)])
    levels = np.array([0.1, 0.5, 0.9])
    s = summary_of(kept, x.size + 3, levels)
    finite = x[np.isfinite(x)]
    assert (s.rows, s.nonmissing, s.finite) == (x.size + 3, kept.size, finite.size)
    if finite.size:
        assert (s.minimum, s.maximum) == (finite.min(), finite.max())
        assert s.mean == pytest.approx(finite.mean(), rel=1e-12, abs=1e-9)
        assert s.std == pytest.approx(finite.std(), rel=1e-9, abs=1e-6)
        np.testing.assert_array_equal(s.quantiles, np.quantile(finite, levels))
    else:
        assert np.isnan(s.minimum) and np.isnan(s.quantiles).all()
    assert distinct_finite(kept, None).tolist() == np.unique(finite).tolist()
    assert distinct_finite(kept, None, 2).tolist() == np.unique(finite)[:3].tolist()
    assert distinct_count(kept, None) == np.unique(kept).size


def _frame(n=3000, seed=0, shift=0.0):
    rng = np.random.default_rng(seed)
    x = rng.normal(shift, 1.0, n)
    x[rng.random(n) < 0.05] = np.nan
    x[:3] = [np.inf, -np.inf, np.inf]
    return pd.DataFrame({
        "x": x,
        "few": rng.integers(0, 4, n).astype(float),  # ties: one bin per value
        "const": np.full(n, 2.5),  # a constant column: bins below, at and above it
        "heavy": rng.pareto(1.1, n) + shift,
        "id": np.arange(n, dtype=np.int64),  # an identifier, left out
        "c": rng.choice(list("abc"), n),
    })


def test_profile_from_sorted_values_equals_the_engines_own_passes(tmp_path):
    path = tmp_path / "r.parquet"
    _frame().to_parquet(path)
    with DuckDBEngine.from_path(str(path)) as local:
        by_values = profile(local)
    with DuckDBEngine.from_path(str(path)) as in_sql:
        in_sql.values_local = False  # the summaries, distinct values and counts asked of DuckDB in SQL
        by_sql = profile(in_sql)
    assert list(by_values.columns) == list(by_sql.columns) == ["x", "few", "const", "heavy", "c"]
    assert by_values.skipped == by_sql.skipped and by_values.skipped[0]["column"] == "id"
    for c in ("x", "few", "const", "heavy"):
        a, b = by_values.columns[c], by_sql.columns[c]
        np.testing.assert_allclose(a.edges, b.edges, rtol=1e-15)
        assert a.counts == b.counts and a.missing == b.missing and (a.minimum, a.maximum) == (b.minimum, b.maximum)
        np.testing.assert_allclose(a.locations, b.locations, rtol=1e-12)
        assert a.scale == pytest.approx(b.scale, rel=1e-12) and a.mean == pytest.approx(b.mean, rel=1e-12)
    assert by_values.columns["const"].edges == [np.nextafter(2.5, -np.inf), 2.5]
    assert by_values.columns["few"].edges == [0.0, 1.0, 2.0]


@pytest.mark.parametrize("budget", [0, 2**30], ids=["fetched again", "kept"])
def test_current_counts_from_values_equal_the_counting_pass(tmp_path, budget, monkeypatch):
    r, k = tmp_path / "r.parquet", tmp_path / "c.parquet"
    ref, cur = _frame(seed=1), _frame(seed=2, shift=0.3)
    cur.loc[:10, "x"] = 50.0  # above the reference's range
    ref.to_parquet(r)
    cur.to_parquet(k)
    monkeypatch.setattr("divergences.tabular.sorted_values.KEEP_BUDGET", budget)
    with_ks = compare(str(r), str(k), quantiles=True)
    counted = compare(str(r), str(k), tests=False, quantiles=True)  # the engine's own counting pass
    for c in ("x", "few", "const", "heavy"):
        assert with_ks[c].histogram == counted[c].histogram and with_ks[c].missing == counted[c].missing
        assert with_ks[c].quantiles is not None and counted[c].quantiles is not None
        np.testing.assert_allclose(with_ks[c].quantiles.current, counted[c].quantiles.current, rtol=1e-12)
        a, b = ref[c].to_numpy(), cur[c].to_numpy()
        want = ks_2samp(b[~np.isnan(b)], a[~np.isnan(a)])
        assert with_ks[c].tests["ks"].statistic == pytest.approx(want.statistic, abs=1e-12)
        assert with_ks[c].tests["ks"].p_value == pytest.approx(want.pvalue, rel=1e-9)
    assert with_ks.quality.out_of_range == counted.quality.out_of_range and "x" in with_ks.quality.out_of_range
    assert with_ks.quality.constant_current == ("const",)


def test_a_csv_is_read_in_large_batches(tmp_path):
    path = tmp_path / "r.csv"
    _frame(200).to_csv(path, index=False)
    with DuckDBEngine.from_path(str(path)) as engine:
        assert engine.fetch_budget == 256 * 2**20 and engine.values_local
    rel = duckdb.from_df(_frame(200))
    assert DuckDBEngine(rel, "reference").fetch_budget == 16 * 2**20
