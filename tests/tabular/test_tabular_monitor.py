"""monitor(): windows computed in the engine, each compared with one reference profile."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from divergences.tabular import InputError, compare, monitor, profile
from divergences.tabular.windows import parse_every


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    rng = np.random.default_rng(0)
    n = 3000
    ref = pd.DataFrame({"x": rng.normal(size=n), "c": rng.choice(list("abc"), n, p=[0.5, 0.3, 0.2])})
    start = np.datetime64("2024-03-01T00:00:00", "s")  # a Friday
    secs = np.sort(rng.integers(0, 35 * 86400, n))
    when = (start + secs.astype("timedelta64[s]")).astype("datetime64[us]")
    late = secs >= 21 * 86400
    x = rng.normal(size=n) + np.where(late, 1.0, 0.0)
    c = np.where(late & (rng.random(n) < 0.5), "c", rng.choice(list("abc"), n, p=[0.5, 0.3, 0.2]))
    cur = pd.DataFrame({"when": when, "x": x, "c": c})
    cur.loc[10, "when"] = pd.NaT
    folder = tmp_path_factory.mktemp("mon")
    cur.to_parquet(folder / "cur.parquet")
    ref.to_parquet(folder / "ref.parquet")
    return ref, cur, folder


def test_weekly_windows_equal_compare_on_each_week(tables):
    ref, cur, _ = tables
    m = monitor(ref, cur, by="when", every="1w")
    # independent windows: DuckDB's own time_bucket (weeks start on Monday)
    weeks = duckdb.sql("SELECT time_bucket(INTERVAL '1 week', \"when\") AS w FROM cur").df()["w"]
    expected = sorted(pd.Series(weeks.dropna().unique()).dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert list(m.windows) == expected and m.missing_by == 1
    prof = profile(ref)
    for w in m.windows:
        start = pd.Timestamp(w.rstrip("Z"))
        part = cur[(cur["when"] >= start) & (cur["when"] < start + pd.Timedelta(weeks=1))].drop(columns="when")
        direct = compare(prof, part)
        window = m.comparisons[w]
        assert window.histograms == direct.histograms
        assert window["x"]["psi"].value == pytest.approx(direct["x"]["psi"].value, rel=1e-12)
        row = next(r for r in m.rows if r.window == w and r.column == "x")
        assert row.value == window["x"]["psi"].value and row.se == window["x"]["psi"].se
    assert m.first_drift["x"] is not None and m.first_drift["x"] >= "2024-03-18"
    assert all(not r.drifted for r in m.rows if r.window < "2024-03-18")
    assert m.to_pandas().shape[0] == 2 * len(m.windows)


def test_every_engine_gives_the_same_windows(tables):
    ref, cur, folder = tables
    base = monitor(ref, cur, by="when", every="1w").to_dict()
    for cur_in in (str(folder / "cur.parquet"), pl.from_pandas(cur), pl.from_pandas(cur).lazy(),
                   pa.Table.from_pandas(cur), duckdb.read_parquet(str(folder / "cur.parquet"))):
        other = monitor(str(folder / "ref.parquet"), cur_in, by="when", every="1w").to_dict()
        assert other["windows"] == base["windows"] and other["first_drift"] == base["first_drift"]
        for a, b in zip(other["rows"], base["rows"]):
            assert (a["window"], a["column"], a["n_current"]) == (b["window"], b["column"], b["n_current"])
            assert a["value"] == pytest.approx(b["value"], rel=1e-9)


def test_calendar_windows_and_fixed_widths(tables):
    ref, cur, _ = tables
    months = monitor(ref, cur, by="when", every="1mo", metrics="psi")
    assert months.windows == ("2024-03-01T00:00:00Z", "2024-04-01T00:00:00Z")
    days = monitor(ref, cur, by="when", every="7d", metrics="psi")
    assert days.windows == monitor(ref, cur, by="when", every="1w", metrics="psi").windows
    assert parse_every("12h").seconds == 43200 and parse_every("q").months == 3


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"every": "fortnight"}, "every must be a count and a unit"),
    ({"every": "0d"}, "positive count"),
    ({"by": "x"}, "by= must name a date or time column"),
    ({"by": "nope"}, "unknown time column"),
    ({"by": 3}, "by must be the name"),
])
def test_bad_arguments_are_named(tables, kwargs, message):
    ref, cur, _ = tables
    args = {"by": "when", "every": "1w", **kwargs}
    with pytest.raises((ValueError, InputError), match=message):
        monitor(ref, cur, **args)
