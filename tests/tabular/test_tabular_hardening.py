"""Careless and hostile input (issue 10): nothing lost, nothing silent, nothing unclear."""

from __future__ import annotations

import json
import threading

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from divergences.binning import bin_counts, quantile_edges
from divergences.tabular import InputError, Profile, compare, profile

# -- categories compare by value ---------------------------------------------------------------


def test_integer_codes_equal_the_same_codes_upcast_to_float(tmp_path):
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4, 1000)
    ref = pd.DataFrame({"code": codes})
    floats = codes.astype(float)
    floats[7] = np.nan  # pandas upcasts an integer column with a missing value
    cur = pd.DataFrame({"code": floats})
    path = tmp_path / "cur.csv"
    cur.to_csv(path, index=False)
    for source in (cur, pl.from_pandas(cur), str(path), duckdb.from_df(cur)):
        c = compare(ref, source, categorical=["code"])
        col = c["code"]
        assert col.histogram.labels == ("0", "1", "2", "3", "<other>") or sorted(col.histogram.labels[:4]) == \
            ["0", "1", "2", "3"]
        assert col["psi"].value < 1e-5 and not col.drifted and col.unseen_share == 0.0
        assert col.missing_current == pytest.approx(0.001)


def test_booleans_and_their_text_forms_are_one_category():
    flags = [True, False, True, True, None] * 40
    ref = pd.DataFrame({"f": pd.array(flags, dtype="boolean")})
    text = pd.DataFrame({"f": [{True: "TRUE", False: "false", None: None}[v] for v in flags]})
    mixed = pd.DataFrame({"f": [{True: "True", False: "FALSE", None: None}[v] for v in flags]})
    for cur in (text, mixed, pl.from_pandas(text)):
        c = compare(ref, cur)
        assert c["f"]["psi"].value == 0.0 and c["f"].unseen_share == 0.0


def test_float_categories_use_the_shortest_round_trip_text():
    ref = pd.DataFrame({"v": [0.1, 0.5, 2.0, 0.1] * 25})
    cur_duck = duckdb.from_df(ref)
    a, b = profile(ref, categorical=["v"]).columns["v"], profile(cur_duck, categorical=["v"]).columns["v"]
    assert a.categories == b.categories == ["0.1", "0.5", "2"]


# -- dates and times ---------------------------------------------------------------------------


def _times(seed, shift_days=0):
    rng = np.random.default_rng(seed)
    base = np.datetime64("2024-01-01T00:00:00", "s")
    secs = rng.integers(0, 86400 * 365, 800) + shift_days * 86400
    ts = (base + secs.astype("timedelta64[s]")).astype("datetime64[us]")
    return pd.DataFrame({"when": ts, "day": ts.astype("datetime64[D]").astype("datetime64[s]"), "x": rng.normal(size=800)})


def test_datetime_columns_are_compared_as_time_with_iso_labels(tmp_path):
    ref, cur = _times(0), _times(1, shift_days=60)
    default = compare(ref, cur)  # dates drift on every time split: left out unless named
    assert [col.column for col in default.columns] == ["x"]
    assert [s.column for s in default.skipped] == ["when", "day"] and "date/time" in default.skipped[0].reason
    c = compare(ref, cur, columns=["when", "day", "x"])
    assert [col.column for col in c.columns] == ["when", "day", "x"] and c.skipped == ()
    when = c["when"]
    assert when.kind == "datetime" and when.drifted and c.summary.columns == 3
    assert when.histogram.labels[0].startswith("(-inf, 2024-") and when.histogram.labels[0].endswith("Z]")
    # the same numbers as binning the epoch seconds directly
    secs = ref["when"].astype("int64").to_numpy() / 1e6
    edges = quantile_edges(secs, 10)
    np.testing.assert_allclose(profile(ref, columns=["when"]).columns["when"].edges, edges, rtol=1e-15)
    counts, _ = bin_counts(cur["when"].astype("int64").to_numpy() / 1e6, edges)
    assert list(when.histogram.current) == counts.tolist()
    # every engine agrees: Parquet (DuckDB), Polars (dates as pl.Date too), PyArrow
    rp, cp_ = tmp_path / "r.parquet", tmp_path / "c.parquet"
    ref.to_parquet(rp)
    cur.to_parquet(cp_)
    named = ["when", "day", "x"]
    for other in (compare(str(rp), str(cp_), columns=named),
                  compare(pl.from_pandas(ref), pl.from_pandas(cur), columns=named),
                  compare(pa.Table.from_pandas(ref), pa.Table.from_pandas(cur), columns=named)):
        assert other.histograms == c.histograms
        assert other["when"]["psi"].value == pytest.approx(when["psi"].value, rel=1e-12)
    pl_dates = pl.from_pandas(ref).with_columns(pl.col("day").dt.date())
    assert profile(pl_dates, columns=["day"]).columns["day"].edges == pytest.approx(
        profile(ref, columns=["day"]).columns["day"].edges, rel=1e-15)


# -- nothing dropped silently ------------------------------------------------------------------


def test_columns_that_cannot_be_compared_are_listed_with_the_reason():
    ref = pa.table({"x": np.arange(50.0), "tags": [[1, 2]] * 50, "blob": [b"ab"] * 50})
    c = compare(ref, ref)
    assert [col.column for col in c.columns] == ["x"]
    reasons = {s.column: s.reason for s in c.skipped}
    assert set(reasons) == {"tags", "blob"} and "cannot be binned" in reasons["tags"]
    assert c.summary.skipped == 2 and "2 skipped" in c.summary.headline
    assert json.loads(c.to_json())["skipped"][0]["column"] == "tags"
    with pytest.raises(InputError, match="column 'tags': has type"):
        compare(ref, ref, columns=["tags"])


def test_pandas_index_in_parquet_is_not_a_feature(tmp_path):
    df = pd.DataFrame({"x": np.arange(30.0)}, index=np.arange(30) * 7)
    path = tmp_path / "i.parquet"
    df.to_parquet(path)  # pandas stores the index as __index_level_0__
    assert "__index_level_0__" in pq.read_schema(path).names
    c = compare(str(path), str(path))
    assert [col.column for col in c.columns] == ["x"]
    assert [s.column for s in c.skipped] == ["__index_level_0__"] and "index" in c.skipped[0].reason


def test_all_missing_current_column_is_a_drifted_row_named_as_such():
    ref = pd.DataFrame({"c": ["a", "b"] * 10, "x": np.arange(20.0)})
    for cur, name in ((ref.assign(c=np.nan), "c"), (ref.assign(x=np.nan), "x")):  # all NaN is no "type change"
        col = compare(ref, cur)[name]
        assert col.status == "all missing" and col.drifted
        assert col.reasons == ("every value is missing in the current table",)
        assert col.missing.current == 1.0 and col.missing.p_value < 1e-6


# -- CSV files read wrongly are input errors ----------------------------------------------------


def test_csv_read_as_one_text_column_is_refused(tmp_path):
    one = tmp_path / "one.csv"
    one.write_text('"a,b,c"\n"1,2,3"\n"4,5,6"\n')
    with pytest.raises(InputError, match="one.csv: was read as one text column named 'a,b,c'.*delimiter"):
        profile(str(one))
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("x,y,z\n1,2,3\n4,5,6\n7,8,9,10\n1,2,3\n")
    with pytest.raises(InputError, match="ragged.csv: .*delimiter"):
        profile(str(ragged))


def test_ragged_row_deep_in_a_csv_names_the_line(tmp_path):
    path = tmp_path / "big.csv"
    with open(path, "w") as fh:
        fh.write("x,y\n")
        fh.writelines(f"{i},{i % 7}\n" for i in range(60_000))
        fh.write("1,2,3\n")
    with pytest.raises(InputError, match=r"big.csv: line 60002: expected 2 fields, found 3"):
        compare(str(path), str(path))


def test_delimiter_option(tmp_path):
    path = tmp_path / "semi.csv"
    pd.DataFrame({"x": np.arange(40.0), "c": ["a,b", "c"] * 20}).to_csv(path, sep=";", index=False)
    c = compare(str(path), str(path), delimiter=";")
    assert [col.column for col in c.columns] == ["x", "c"] and c["c"].histogram.labels[:2] == ("a,b", "c")
    with pytest.raises(InputError, match="semi.csv"):
        compare(str(path), str(path), delimiter="|")


def test_renamed_or_generated_column_names_are_refused(tmp_path):
    dup = tmp_path / "dup.csv"
    dup.write_text("a,a,,b\n1,2,3,4\n5,6,7,8\n")
    with pytest.raises(InputError, match=r"dup.csv: has duplicate or empty column names .*'a' → 'a_1'"):
        profile(str(dup))
    nohead = tmp_path / "nohead.csv"
    nohead.write_text("1,2,3\n4,5,6\n7,8,9\n")
    with pytest.raises(InputError, match="nohead.csv: has no header row"):
        profile(str(nohead))


# -- large settings on small tables ------------------------------------------------------------


def test_many_bins_and_categories_on_pandas_do_not_recurse():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.normal(size=300), "c": rng.integers(0, 400, 300).astype(str)})
    c = compare(df, df, bins=1000, max_categories=1000)
    assert c["x"]["psi"].value == 0.0 and c["c"]["psi"].value == 0.0
    edges = quantile_edges(df["x"].to_numpy(), 1000)
    assert profile(df, bins=1000).columns["x"].edges == pytest.approx(edges.tolist(), rel=1e-15)
    # DuckDB bins wide columns with NumPy: the same counts
    assert profile(duckdb.from_df(df), bins=1000).columns["x"].counts == profile(df, bins=1000).columns["x"].counts


def test_upper_bounds_are_documented_and_enforced():
    df = pd.DataFrame({"x": np.arange(10.0)})
    with pytest.raises(ValueError, match="bins must be a positive integer .at most 10000"):
        profile(df, bins=100_000)
    with pytest.raises(ValueError, match="max_categories must be a positive integer .at most 100000"):
        profile(df, max_categories=10 ** 6)


# -- concurrency -------------------------------------------------------------------------------


def test_threads_on_relations_of_one_connection_equal_the_serial_results():
    con = duckdb.connect()
    rng = np.random.default_rng(0)
    ref = con.from_arrow(pa.table({"x": rng.normal(size=3000), "c": rng.choice(list("abc"), 3000)}))
    curs = [con.from_arrow(pa.table({"x": rng.normal(0.1 * i, size=3000), "c": rng.choice(list("abcd"), 3000)}))
            for i in range(4)]
    serial = [compare(ref, c).to_json() for c in curs]
    out, errors = [None] * 4, []

    def run(i):
        try:
            out[i] = compare(ref, curs[i]).to_json()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == [] and out == serial


# -- unseen categories -------------------------------------------------------------------------


def test_all_new_id_values_are_reported_and_flagged():
    ref = pd.DataFrame({"id": [f"u{i}" for i in range(2000)], "x": np.arange(2000.0)})
    cur = pd.DataFrame({"id": [f"v{i}" for i in range(2000)], "x": np.arange(2000.0)})
    assert [s.column for s in compare(ref, cur).skipped] == ["id"]  # an identifier is no feature ...
    c = compare(ref, cur, max_categories=20, columns=["id"])  # ... unless named
    col = c["id"]
    assert col["psi"].band == "stable"  # every value lands in <other> on both sides ...
    assert col.unseen_share == 1.0 and col.unseen_flag  # ... but none of them was ever seen
    half = pd.DataFrame({"id": [f"u{i}" for i in range(1000)] + [f"v{i}" for i in range(1000)]})
    for source in (half, duckdb.from_df(half), pl.from_pandas(half)):
        assert compare(ref, source, max_categories=20, columns=["id"])["id"].unseen_share == 0.5
    same = compare(ref, ref, max_categories=20, columns=["id"])["id"]
    assert same.unseen_share == 0.0 and not same.unseen_flag


# -- saved profiles are validated --------------------------------------------------------------


def _doc():
    df = pd.DataFrame({"x": np.arange(20.0), "c": ["a", "b"] * 10})
    return json.loads(profile(df, bins=4).to_json())


@pytest.mark.parametrize(("edit", "key"), [
    (lambda d: d.pop("bins"), "field 'bins': Field required"),
    (lambda d: d.update(rows="20"), "field 'rows': Input should be a valid integer"),
    (lambda d: d.update(extra=1), "field 'extra': Extra inputs are not permitted"),
    (lambda d: d["columns"][0].pop("counts"), r"field 'columns\[0\].counts': Field required"),
    (lambda d: d["columns"][0].update(counts=[1, 2]), r"field 'columns\[0\].counts': must have 4 entries"),
    (lambda d: d["columns"][0].update(edges=[3.0, 1.0, 2.0]), r"field 'columns\[0\].edges': must be strictly increasing"),
    (lambda d: d["columns"][1].update(categories=None), r"field 'columns\[1\].categories': required"),
    (lambda d: d["columns"][1].update(kind="text"), r"field 'columns\[1\].kind': Input should be 'numeric'"),
    (lambda d: d["columns"][1].update(name=3), r"field 'columns\[1\].name': Input should be a valid string"),
    (lambda d: d.update(columns=[]), "field 'columns': List should have at least 1 item"),
])
def test_damaged_profile_json_names_the_key(tmp_path, edit, key):
    doc = _doc()
    edit(doc)
    path = tmp_path / "p.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError, match=f"p.json: not a valid profile: {key}"):
        Profile.from_json(str(path))


def test_profile_format_version_and_round_trip():
    doc = _doc()
    assert doc["format"] == "divergences.profile/2"
    again = Profile.from_json(json.dumps(doc))
    assert again.columns["c"].seen == ["a", "b"]
    doc["format"] = "divergences.profile/1"  # the first format is still read
    for c in doc["columns"]:  # a first-format document has none of the later fields
        for key in ("seen", "seen_counts", "finite", "mean", "minimum", "maximum", "quantiles"):
            c.pop(key, None)
    doc.pop("skipped")
    old = Profile.from_json(json.dumps(doc))
    assert old.columns["c"].seen is None and old.columns["x"].edges == again.columns["x"].edges
    doc["format"] = "divergences.profile/9"
    with pytest.raises(InputError, match="expected format 'divergences.profile/2', found 'divergences.profile/9'"):
        Profile.from_json(json.dumps(doc))


def test_a_lazy_polars_frame_is_an_input():
    rng = np.random.default_rng(5)
    ref = pl.DataFrame({"x": rng.normal(size=500), "c": rng.choice(["a", "b"], 500)})
    cur = pl.DataFrame({"x": rng.normal(0.4, size=500), "c": rng.choice(["a", "b"], 500)})
    lazy = compare(ref.lazy(), cur.lazy())
    assert lazy.to_json().replace("current", "") == compare(ref, cur).to_json().replace("current", "")
    assert lazy["x"].drifted


def test_nan_never_comes_out_for_valid_tables():
    rng = np.random.default_rng(6)
    ref = pd.DataFrame({"x": rng.normal(size=200), "c": rng.choice(["a", "b", "c"], 200)})
    cur = pd.DataFrame({"x": rng.normal(3, size=200), "c": ["a"] * 200})
    c = compare(ref, cur)
    for col in c.columns:
        for m in col.metrics.values():
            if m.metric.startswith("wasserstein") and col.kind != "numeric":
                continue
            assert np.isfinite(m.value) and m.value >= 0, (col.column, m)
            assert np.isfinite(m.se) or m.metric == "wasserstein_raw", (col.column, m)  # W1 raw has no SE
    assert c["c"].smoothing == 0.5  # current has empty bins: smoothed, and it says so


@pytest.mark.parametrize(("kwargs", "word"), [({"smoothing": -1}, "smoothing"), ({"confidence": 2}, "confidence"),
                                              ({"bins": "3"}, "bins"), ({"target": 5}, "target")])
def test_information_value_checks_its_keywords(kwargs, word):
    from divergences.tabular import information_value

    df = pd.DataFrame({"x": np.arange(20.0), "y": [0, 1] * 10})
    args = {"target": "y", **kwargs}
    with pytest.raises(ValueError, match=word):
        information_value(df, args.pop("target"), **args)
