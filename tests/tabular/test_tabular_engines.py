"""Profiles and comparisons: the same numbers from every engine, and the same bins as binning.py."""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from divergences.binning import bin_counts, quantile_edges
from divergences.tabular import Profile, compare, information_value, profile


def make_frames(seed=0, n=3000, shift=0.0):
    rng = np.random.default_rng(seed)
    x = rng.normal(shift, 1.0, n)
    x[rng.random(n) < 0.03] = np.nan
    ties = rng.integers(0, 4, n).astype(float)  # few distinct values: quantiles tie
    cat = rng.choice(["a", "b", "c", "d'q", "é"], n, p=[0.4, 0.3, 0.15, 0.1, 0.05]).astype(object)
    cat[rng.random(n) < 0.02] = None
    flag = rng.random(n) < 0.3 + shift / 10
    y = (rng.random(n) < 1 / (1 + np.exp(-x))).astype(int) if shift == 0 else rng.integers(0, 2, n)
    return pd.DataFrame({"x": x, "ties": ties, "code": rng.integers(0, 3, n), "cat": cat, "flag": flag, "y": y})


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    ref, cur = make_frames(0), make_frames(1, n=2000, shift=0.3)
    cur.loc[5, "cat"] = "unseen"
    folder = tmp_path_factory.mktemp("data")
    paths = {}
    for name, df in (("ref", ref), ("cur", cur)):
        df.to_parquet(folder / f"{name}.parquet")
        df.to_csv(folder / f"{name}.csv", index=False)
        paths[name] = folder / f"{name}.parquet"
        paths[name + "_csv"] = folder / f"{name}.csv"
    return ref, cur, paths


def test_profile_uses_the_reference_quantiles_and_counts(frames):
    ref, _, _ = frames
    prof = profile(ref, bins=10)
    for c in ("x", "ties"):
        edges = quantile_edges(ref[c].to_numpy(), 10)
        np.testing.assert_allclose(prof.columns[c].edges, edges, rtol=1e-15)
        counts, missing = bin_counts(ref[c].to_numpy(), np.asarray(prof.columns[c].edges))
        assert prof.columns[c].counts == counts.tolist() and prof.columns[c].missing == missing
    assert len(prof.columns["ties"].edges) == 3  # four distinct values: ties merged, no empty bins
    cp = prof.columns["cat"]
    expected = ref["cat"].value_counts()
    assert cp.categories == list(expected.index) and cp.counts == [*expected.tolist(), 0]
    assert cp.missing == int(ref["cat"].isna().sum())
    assert prof.columns["flag"].categories == ["false", "true"]
    assert prof.columns["code"].kind == "numeric"
    assert sorted(profile(ref, categorical=["code"]).columns["code"].categories) == ["0", "1", "2"]


def test_profile_json_round_trip_gives_the_same_comparison(frames, tmp_path):
    ref, cur, _ = frames
    prof = profile(ref, columns=["x", "cat", "flag"])
    path = tmp_path / "profile.json"
    prof.to_json(str(path))
    again = Profile.from_json(str(path))
    assert again == prof
    a = compare(prof, cur).to_pandas()
    b = compare(again, cur).to_pandas()
    pd.testing.assert_frame_equal(a, b)
    direct = compare(ref, cur, columns=["x", "cat", "flag"]).to_pandas()
    ks = ["ks_statistic", "ks_p_value"]  # a profile has bins only: KS on the bins; both tables: on the values
    pd.testing.assert_frame_equal(a.drop(columns=ks), direct.drop(columns=ks))


def _numbers(comparison):
    df = comparison.to_pandas()
    text = ["column", "kind", "status", "reasons"] + [c for c in df.columns if c.endswith("_band")]
    return df.drop(columns=text).to_numpy(dtype=float)


def test_results_identical_across_engines(frames):
    ref, cur, paths = frames
    base = compare(ref, cur, metrics=("psi", "js", "wasserstein"))
    others = {
        "polars": compare(pl.from_pandas(ref), pl.from_pandas(cur), metrics=("psi", "js", "wasserstein")),
        "pyarrow": compare(pa.Table.from_pandas(ref), pa.Table.from_pandas(cur), metrics=("psi", "js", "wasserstein")),
        "parquet": compare(paths["ref"], paths["cur"], metrics=("psi", "js", "wasserstein")),
        "csv": compare(str(paths["ref_csv"]), str(paths["cur_csv"]), metrics=("psi", "js", "wasserstein")),
        "duckdb": compare(duckdb.read_parquet(str(paths["ref"])), duckdb.read_parquet(str(paths["cur"])),
                          metrics=("psi", "js", "wasserstein")),
    }
    for name, other in others.items():
        assert other.histograms == base.histograms, name
        np.testing.assert_allclose(_numbers(other), _numbers(base), rtol=1e-9, atol=1e-15, err_msg=name)
        assert other.drifted == base.drifted


def test_unseen_categories_go_to_other_and_missing_is_reported(frames):
    ref, cur, _ = frames
    c = compare(ref, cur, columns=["cat", "x"])
    hist = c.histograms["cat"]
    assert hist["labels"][-1] == "<other>" and hist["current"][-1] == 1 and hist["reference"][-1] == 0
    row = c.rows[0]
    assert row["missing_current"] == pytest.approx(cur["cat"].isna().mean())
    assert row["missing_reference"] == pytest.approx(ref["cat"].isna().mean())
    assert math.isnan(c.rows[0]["wasserstein"]) and c.rows[1]["wasserstein"] > 0


def test_same_data_does_not_drift_and_shifted_data_does(frames):
    ref, _, _ = frames
    same = compare(ref, ref.sample(frac=1.0, random_state=3))
    assert same.drifted == [] and all(r["psi"] < 1e-3 for r in same.rows)
    shifted = ref.assign(x=ref["x"] + 1.0)
    assert "x" in compare(ref, shifted).drifted


def test_max_categories_caps_the_kept_categories(frames):
    ref, _, _ = frames
    cp = profile(ref, columns=["cat"], max_categories=2).columns["cat"]
    assert cp.categories == ["a", "b"]
    assert sum(cp.counts) == int(ref["cat"].notna().sum())


def test_information_value_matches_a_direct_computation(frames):
    ref, _, paths = frames
    t = information_value(ref, "y", columns=["x", "cat"], bins=5, smoothing=0.0)
    row = t.set_index("feature").loc["x"]
    woe = row["woe"]
    g = np.array([b["good"] for b in woe], dtype=float)
    b = np.array([b["bad"] for b in woe], dtype=float)
    g, b = g / g.sum(), b / b.sum()
    assert row["iv"] == pytest.approx(np.sum((g - b) * np.log(g / b)), rel=1e-12)
    assert [w["woe"] for w in woe] == pytest.approx(np.log(g / b).tolist())
    assert woe[0]["woe"] < 0 < woe[-1]["woe"] or woe[0]["woe"] > 0 > woe[-1]["woe"]
    assert row["iv_band"] in ("medium", "strong", "suspicious")
    assert row["n_good"] + row["n_bad"] == int(ref["x"].notna().sum())  # missing x is counted apart
    from_file = information_value(str(paths["ref"]), "y", columns=["x", "cat"], bins=5, smoothing=0.0)
    pd.testing.assert_frame_equal(t, from_file)


def test_raw_nan_and_infinities_in_parquet(tmp_path):
    """NaN stored as a float (not as null) and ±inf: missing vs binned, the same in every engine.

    Regression: DuckDB folds isnan(x) to false inside CASE from Parquet statistics (which leave NaN out)."""
    rng = np.random.default_rng(0)
    v = rng.normal(size=1000)
    v[:5], v[5:8], v[8] = np.nan, np.inf, -np.inf
    table = pa.table({"v": v})
    path = tmp_path / "nan.parquet"
    import pyarrow.parquet as pq

    pq.write_table(table, path)
    expected_edges = quantile_edges(v, 10)
    counts, missing = bin_counts(v, expected_edges)
    for source in (str(path), table, pl.from_arrow(table), duckdb.read_parquet(str(path))):
        cp = profile(source).columns["v"]
        assert cp.counts == counts.tolist() and cp.missing == missing == 5
        np.testing.assert_allclose(cp.edges, expected_edges, rtol=1e-15)


def test_unseen_shares_and_counts_by_value_agree_across_engines(tmp_path):
    # more distinct reference values than max_categories: the unseen share needs the reference's
    # list of values (DuckDB counts these columns by value in its counting pass, other engines
    # look them up in a second pass); checked against a direct pandas computation
    n = 1500

    def table(values, new, seed):
        r = np.random.default_rng(seed)
        s = r.choice([f"v{i}" for i in range(values)] + [f"new{i}" for i in range(new)], n).astype(object)
        s[r.random(n) < 0.05] = None
        flag = r.choice(["True", "true", "FALSE", "false"], n).astype(object)
        flag[r.random(n) < 0.03] = None
        code = r.integers(0, 12 + new, n).astype(float)
        code[r.random(n) < 0.04] = np.nan
        return pd.DataFrame({"s": s, "flag": flag, "code": code, "x": r.normal(size=n)})

    ref, cur = table(30, 0, 1), table(30, 7, 2)
    for name, df in (("ref", ref), ("cur", cur)):
        df.to_parquet(tmp_path / f"{name}.parquet")
        df.to_csv(tmp_path / f"{name}.csv", index=False)
    kw = {"categorical": ["code"], "max_categories": 5, "metrics": ("psi", "js")}
    base = compare(ref, cur, **kw)
    for name, (a, b) in {"parquet": (str(tmp_path / "ref.parquet"), str(tmp_path / "cur.parquet")),
                         "csv": (str(tmp_path / "ref.csv"), str(tmp_path / "cur.csv")),
                         "duckdb": (duckdb.from_df(ref), duckdb.from_df(cur))}.items():
        other = compare(a, b, **kw)
        assert other.histograms == base.histograms, name
        for c in ("s", "flag", "code"):
            assert other[c].unseen_share == base[c].unseen_share, (name, c)
    text = {"s": lambda v: v, "flag": lambda v: v.lower(), "code": lambda v: str(int(v))}
    for c, canon in text.items():
        seen = {canon(v) for v in ref[c].dropna()}
        values = [canon(v) for v in cur[c].dropna()]
        assert base[c].unseen_share == pytest.approx(sum(v not in seen for v in values) / len(values), rel=1e-15)
    assert base["s"].unseen_share > 0 and base["code"].unseen_share > 0 and base["flag"].unseen_share == 0
    kept = profile(ref, **{k: v for k, v in kw.items() if k != "metrics"}).columns["s"].categories
    counts = cur["s"].dropna().value_counts()
    assert list(base.histograms["s"]["current"]) == [*(int(counts.get(v, 0)) for v in kept),
                                                      int(counts.sum() - sum(counts.get(v, 0) for v in kept))]
