"""Property tests: engine binning equals the NumPy reference binning for arbitrary data."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import example, given, settings
from hypothesis import strategies as st

from divergences.binning import bin_counts, quantile_edges
from divergences.tabular import compare, profile

values = st.lists(st.one_of(st.integers(-5, 5).map(float), st.floats(-1e6, 1e6), st.just(float("nan"))),
                  min_size=1, max_size=60).filter(lambda xs: any(x == x for x in xs))


@settings(max_examples=40, deadline=None)
@given(values, st.integers(1, 12))
@example(xs=[0.0, 1.0, 5e-324], bins=2)  # a subnormal one ulp above a zero minimum is data, not rounding
def test_engines_bin_like_numpy(xs, bins):
    x = np.asarray(xs, dtype=np.float64)
    edges = quantile_edges(x, bins)
    distinct = np.unique(x[np.isfinite(x)])
    if len(edges) < bins - 1 and distinct.size == 1:  # a constant: the bins below, at and above it
        edges = np.array([np.nextafter(distinct[0], -np.inf), distinct[0]])
    elif len(edges) < bins - 1 and distinct.size <= bins:  # ties, few values: one bin per distinct value
        edges = distinct[:-1]
    counts, missing = bin_counts(x, edges)
    for source in (pd.DataFrame({"v": x}), duckdb.from_arrow(pa.table({"v": x}))):
        cp = profile(source, bins=bins).columns["v"]
        # engines interpolate quantiles with other rounding: equal up to rounding at the data's scale
        scale = float(np.nanmax(np.abs(x[np.isfinite(x)]), initial=0.0))
        np.testing.assert_allclose(cp.edges, edges, rtol=1e-12, atol=1e-12 * scale)
        assert cp.counts == counts.tolist() and cp.missing == missing


@settings(max_examples=25, deadline=None)
@given(values, values)
def test_psi_of_a_table_with_itself_is_zero_and_never_negative(a, b):
    ref = pd.DataFrame({"v": np.asarray(a)})
    same = compare(ref, ref, metrics=("psi", "js", "hellinger"))
    assert same.rows[0]["psi"] == 0.0 and not same.drifted
    other = compare(ref, pd.DataFrame({"v": np.asarray(b)}), metrics=("psi", "js", "hellinger"))
    row = other.rows[0]
    assert row["psi"] >= 0 and 0 <= row["js"] <= np.log(2) and 0 <= row["hellinger"] <= 1
    assert row["psi_ci_low"] <= row["psi"] <= row["psi_ci_high"]
