"""Verdicts a data team can trust (issue 21): constant columns, missing values, broken columns."""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest, chi2_contingency, fisher_exact

from divergences.tabular import compare, profile
from divergences.tabular.missing import missing_share_test

# -- a constant reference column sees any change ---------------------------------------------------


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_constant_reference_column_is_not_blind(engine):
    ref = pd.DataFrame({"x": np.zeros(300)})
    shifted = pd.DataFrame({"x": np.full(300, 7.0)})
    some_ones = pd.DataFrame({"x": np.r_[np.zeros(210), np.ones(90)]})
    below = pd.DataFrame({"x": np.r_[np.zeros(200), -np.ones(100)]})
    wrap = (lambda f: f) if engine == "pandas" else duckdb.from_df
    for cur in (shifted, some_ones, below):
        col = compare(wrap(ref), wrap(cur))["x"]
        assert col.drifted and col["psi"].value > 0.25 and col.tests["ks"].p_value < 1e-10
    col = compare(wrap(ref), wrap(shifted))["x"]
    assert col.histogram.labels == ("(-inf, 0)", "= 0", "(0, inf)")
    assert col.histogram.reference == (0, 300, 0) and col.histogram.current == (0, 0, 300)
    same = compare(wrap(ref), wrap(ref))["x"]
    assert same["psi"].value == 0.0 and not same.drifted


def test_few_distinct_values_get_a_bin_each():
    # 95 % zeros: every decile is 0, yet 1 and 2 are distinct values and must not share a bin
    ref = pd.DataFrame({"y": np.r_[np.zeros(950), np.ones(30), np.full(20, 2.0)]})
    cp = profile(ref).columns["y"]
    assert cp.edges == [0.0, 1.0] and cp.counts == [950, 30, 20]
    cur = pd.DataFrame({"y": np.r_[np.zeros(950), np.full(50, 2.0)]})
    col = compare(ref, cur)["y"]
    assert col.histogram.current == (950, 0, 50)
    # a datetime constant gets the same three bins, labelled in ISO 8601
    when = pd.DataFrame({"t": pd.to_datetime(["2024-01-01"] * 50)})
    assert profile(when, columns=["t"]).columns["t"].labels() == [
        "(-inf, 2024-01-01T00:00:00Z)", "= 2024-01-01T00:00:00Z", "(2024-01-01T00:00:00Z, inf)"]


# -- missing values are a drift signal -------------------------------------------------------------


def test_missing_share_going_up_is_drift_with_its_reason():
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"x": rng.normal(size=1000)})
    cur = pd.DataFrame({"x": np.where(rng.random(1000) < 0.8, np.nan, rng.normal(size=1000))})
    col = compare(ref, cur)["x"]
    assert col["psi"].value < 0.1  # the values that remain look the same
    assert col.drifted and col.missing.drifted and col.missing.difference == pytest.approx(col.missing_current)
    assert col.reasons[0].startswith(f"missing share 0.0% → {col.missing_current:.1%}, p-value ")
    assert col.missing.ci_low < col.missing.difference < col.missing.ci_high
    row = compare(ref, cur).rows[0]
    assert row["missing_p_value"] == col.missing.p_value and row["reasons"] == col.reasons[0]
    # a small change is not material
    cur2 = pd.DataFrame({"x": np.where(rng.random(1000) < 0.01, np.nan, rng.normal(size=1000))})
    assert not compare(ref, cur2)["x"].missing.drifted


def test_missing_share_test_against_scipy():
    for a, m, b, n in ((10, 1000, 40, 1200), (0, 500, 30, 500), (3, 40, 0, 35), (1, 10, 6, 12), (200, 400, 100, 400)):
        t = missing_share_test(a, m, b, n)
        table = [[a, m - a], [b, n - b]]
        expected = np.outer([m, n], [a + b, m + n - a - b]) / (m + n)
        if expected.min() >= 5:
            assert t.test == "z"
            assert t.p_value == pytest.approx(chi2_contingency(table, correction=False).pvalue, rel=1e-9)
        else:
            assert t.test == "fisher" and t.p_value == pytest.approx(fisher_exact(table).pvalue, rel=1e-12)
        # Newcombe's hybrid score interval, from SciPy's Wilson intervals
        w1 = binomtest(a, m).proportion_ci(method="wilson")
        w2 = binomtest(b, n).proportion_ci(method="wilson")
        d = b / n - a / m
        low = d - math.sqrt((b / n - w2.low) ** 2 + (w1.high - a / m) ** 2)
        high = d + math.sqrt((w2.high - b / n) ** 2 + (a / m - w1.low) ** 2)
        assert (t.ci_low, t.ci_high) == pytest.approx((low, high), rel=1e-9, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 400), st.integers(1, 400), st.data())
def test_missing_share_test_is_always_finite_and_ordered(m, n, data):
    a, b = data.draw(st.integers(0, m)), data.draw(st.integers(0, n))
    t = missing_share_test(a, m, b, n)
    assert 0.0 <= t.p_value <= 1.0 and -1.0 <= t.ci_low <= t.difference <= t.ci_high <= 1.0
    if a * n == b * m:
        assert not t.drifted


def test_broken_columns_are_drifted_rows_with_exit_statuses_not_errors(tmp_path):
    ref = pd.DataFrame({"a": np.arange(100.0), "b": ["u", "v"] * 50, "c": np.arange(100.0), "d": np.arange(100.0)})
    cur = pd.DataFrame({"a": [str(i) for i in range(100)], "b": [None] * 100, "d": np.arange(100.0)})
    result = compare(ref, cur)
    status = {c.column: c.status for c in result.columns}
    assert status == {"a": "type changed", "b": "all missing", "c": "dropped", "d": "compared"}
    assert result.drifted == ["a", "b", "c"] and set(result.summary.holm_drifted) == {"a", "b", "c"}
    doc = result.to_dict()
    assert [c["status"] for c in doc["columns"]] == ["type changed", "all missing", "dropped", "compared"]
    result.to_html()  # renders


# -- columns that are no features --------------------------------------------------------------------


def test_ids_and_dates_are_left_out_of_the_verdict_unless_named(tmp_path):
    rng = np.random.default_rng(1)
    n = 400

    def table(start, shift):
        return pd.DataFrame({"user": [f"u{start + i}" for i in range(n)], "row": np.arange(start, start + n),
                             "day": pd.date_range(f"{2020 + start // n}-01-01", periods=n, freq="D"),
                             "x": rng.normal(shift, 1, n), "code": rng.integers(0, 5, n)})

    ref, cur = table(0, 0.0), table(n, 0.0)
    c = compare(ref, cur)
    assert [col.column for col in c.columns] == ["x", "code"] and c.summary.columns == 2
    reasons = {s.column: s.reason for s in c.skipped}
    assert set(reasons) == {"user", "row", "day"}
    assert "identifier" in reasons["user"] and "identifier" in reasons["row"] and "date/time" in reasons["day"]
    assert not c.summary.dataset_drift
    path_r, path_c = tmp_path / "r.parquet", tmp_path / "c.parquet"
    ref.to_parquet(path_r)
    cur.to_parquet(path_c)
    assert {s.column for s in compare(str(path_r), str(path_c)).skipped} == {"user", "row", "day"}
    named = compare(ref, cur, columns=["user", "day", "x"])
    assert named["user"].unseen_share == 1.0 and named["day"].drifted
    assert [col.column for col in compare(ref, cur, exclude=["code"]).columns] == ["x"]
    with pytest.raises(ValueError, match="exclude"):
        compare(ref, cur, exclude="code")


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_unseen_share_at_any_cardinality(engine):
    n = 30_000  # more distinct values than the former 10 000 cap
    ref = pd.DataFrame({"id": [f"k{i}" for i in range(n)]})
    cur = pd.DataFrame({"id": [f"k{i}" for i in range(n // 3)] + [f"new{i}" for i in range(2 * n // 3)]})
    wrap = (lambda f: f) if engine == "pandas" else duckdb.from_df
    col = compare(wrap(ref), wrap(cur), columns=["id"])["id"]
    assert col.unseen_share == pytest.approx(2 / 3) and col.unseen_flag


# -- European CSV files ------------------------------------------------------------------------------


def test_decimal_comma_csv_is_detected_and_read_with_decimal(tmp_path):
    from typer.testing import CliRunner

    from divergences.cli import app

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"amount": rng.normal(100, 10, 300).round(2), "c": rng.choice(list("ab"), 300)})
    r, c = tmp_path / "r.csv", tmp_path / "c.csv"
    df.to_csv(r, sep=";", decimal=",", index=False)
    df.assign(amount=df["amount"] + 5).to_csv(c, sep=";", decimal=",", index=False)
    with pytest.warns(UserWarning, match="'amount' look like numbers with a decimal comma") as seen:
        misread = compare(str(r), str(c))
    assert len(seen) == 2 and len(misread.warnings) == 2  # one per file, said once
    assert misread.to_dict()["warnings"] == list(misread.warnings)
    right = compare(str(r), str(c), decimal=",")
    assert right["amount"].kind == "numeric" and right["amount"].drifted and right.warnings == ()
    out = CliRunner().invoke(app, ["compare", str(r), str(c)])
    assert out.exit_code == 0 and "warning: " in out.output and "--decimal ," in out.output
    out = CliRunner().invoke(app, ["compare", str(r), str(c), "--decimal", ",", "--format", "compact"])
    assert out.exit_code == 0 and "warning" not in out.output and "amount    num" in out.output
    with pytest.raises(ValueError, match="decimal must be"):
        compare(str(r), str(c), decimal=";")


def test_smaller_defects_target_classes_and_empty_file(tmp_path):
    from divergences.tabular import InputError, information_value

    df = pd.DataFrame({"x": np.arange(50.0), "y": np.arange(50) % 5})
    with pytest.raises(InputError, match="the target must have exactly two values, found 5 "):
        information_value(df, "y")
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match=r"empty.csv: is empty \(0 bytes\)"):
        compare(str(empty), df)


# -- data-quality checks beside drift ---------------------------------------------------------------


def test_data_quality_checks_in_the_summary_json_and_report(tmp_path):
    rng = np.random.default_rng(0)
    n = 400
    ref = pd.DataFrame({"x": rng.normal(size=n), "k": np.zeros(n), "d": rng.normal(size=n),
                        "s": rng.choice(list("ab"), n), "m": rng.normal(size=n), "t": rng.normal(size=n)})
    cur = pd.DataFrame({"x": rng.normal(size=n) * 3, "k": np.zeros(n), "s": ["b"] * n, "new": np.ones(n),
                        "m": np.where(rng.random(n) < 0.5, np.nan, 1.0), "t": ["a"] * n})
    c = compare(ref, cur)
    q = c.quality
    assert q.new_columns == ("new",) and q.dropped_columns == ("d",) and q.type_changes == ("t",)
    assert q.missing_changes == ("m",) and q.constant_reference == ("k",) and set(q.constant_current) >= {"k", "s"}
    lo, hi = ref["x"].min(), ref["x"].max()
    below, above = int((cur["x"] < lo).sum()), int((cur["x"] > hi).sum())
    assert q.out_of_range["x"] == {"below": below, "above": above, "share": (below + above) / n}
    assert c["x"].histogram.current == compare(ref, cur, columns=["x"])["x"].histogram.current
    assert sum(c["x"].histogram.current) == n  # the range edges are merged back into the profile's bins
    doc = c.to_dict()["quality"]
    assert doc["new_columns"] == ["new"] and doc["issues"] == q.issues
    html = c.to_html()
    assert "id='quality'" in html and "outside the reference&#x27;s range: x" in html
    from divergences.cli.render import markdown

    assert "**Data quality**" in markdown(c)
    clean = compare(ref, ref)
    assert clean.quality.issues == len(clean.quality.constant_reference) + len(clean.quality.constant_current)
