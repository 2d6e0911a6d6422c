"""Typed results and the options object: records read by field, exports, checked keywords."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from divergences.core.divergence import spec
from divergences.core.record import get
from divergences.tabular import (
    ColumnComparison,
    CompareOptions,
    Comparison,
    MetricEstimate,
    compare,
    profile,
)
from divergences.tabular.engines import opened
from divergences.tabular.engines.base import Engine
from divergences.tabular.metrics import _gradient, resolve

from ._records import divergences


@pytest.fixture(scope="module")
def pair():
    rng = np.random.default_rng(1)
    n = 2000
    ref = pd.DataFrame({"x": rng.normal(0, 1, n), "c": rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2])})
    cur = pd.DataFrame({"x": rng.normal(0.5, 1, n), "c": rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2])})
    return ref, cur


def test_records_are_typed_and_read_by_field(pair):
    ref, cur = pair
    c = compare(ref, cur)
    assert isinstance(c, Comparison) and all(isinstance(col, ColumnComparison) for col in c.columns)
    x = c["x"]
    assert isinstance(x["psi"], MetricEstimate) and x["psi"].divergence == "jeffreys"
    assert x["chi2"].divergence == "pearson" and x.kind == "numeric" and x.drifted
    assert set(x.tests) == {"ks", "anderson_darling"} and set(c["c"].tests) == {"chi2_test"}
    assert c.summary.columns == 2 and c.summary.drifted == len(c.drifted) == 1
    assert c.summary.drifted_share == 0.5 and c.summary.dataset_drift  # 0.5 ≥ drift_share 0.5
    # the legacy flat rows are derived from the records
    row = c.rows[0]
    assert row["psi"] == x["psi"].value and row["psi_se"] == x["psi"].se and row["drifted"] is True
    assert c.histograms["c"]["labels"] == ["a", "b", "c", "<other>"]
    with pytest.raises(KeyError):
        c["nope"]


def test_exports_dict_json_arrow_pandas(pair):
    ref, cur = pair
    c = compare(ref, cur, metrics="psi,js")
    doc = json.loads(c.to_json())
    assert doc["format"] == "divergences.comparison/2" and doc["metrics"] == ["psi", "js"]
    assert doc["summary"]["dataset_drift"] is True and "headline" in doc["summary"]
    assert doc["columns"][0]["metrics"]["psi"]["value"] == pytest.approx(c["x"]["psi"].value)
    assert doc["columns"][1]["metrics"]["psi"]["band"] in ("stable", "moderate", "significant")
    assert doc["options"]["metrics"] == ["psi", "js"] and doc["skipped"] == []
    with_raw = compare(ref, cur, quantiles=True)
    assert with_raw.metrics == ("psi", "js", "hellinger", "wasserstein", "chi2", "wasserstein_raw")
    assert compare(ref, cur).metrics[-1] == "chi2" and compare(ref, cur)["x"].quantiles is None
    assert with_raw["x"].quantiles is not None and with_raw["c"].quantiles is None
    table = c.to_arrow()
    assert table.num_rows == 4 and table.column_names[:3] == ["column", "kind", "metric"]
    assert table.column("value").to_pylist()[0] == c["x"]["psi"].value
    df = c.to_pandas()
    assert list(df["column"]) == ["x", "c"] and "ks_p_value" in df.columns and "unseen_share" in df.columns


def test_short_repr_and_notebook_html(pair):
    ref, cur = pair
    c = compare(ref, cur)
    text = repr(c)
    assert len(text) < 300 and "1 of 2 columns drifted" in text
    assert "x" in repr(c["x"]) and "psi=" in repr(c["x"]["psi"])
    html = c._repr_html_()
    assert html.count("<tr>") == 3 and "drift" in html and "<script" not in html
    hostile = pd.DataFrame({"<b>x</b>": [1.0, 2.0, 3.0, 4.0]})
    assert "<b>x</b>" not in compare(hostile, hostile)._repr_html_()


def test_options_object_and_keywords_are_the_same():
    rng = np.random.default_rng(2)
    ref = pd.DataFrame({"x": rng.normal(size=500)})
    cur = pd.DataFrame({"x": rng.normal(0.3, size=500)})
    opts = CompareOptions(bins=5, metrics=("psi", "hellinger"), threshold=0.05, confidence=0.9)
    a, b = compare(ref, cur, opts), compare(ref, cur, bins=5, metrics=["psi", "hellinger"], threshold=0.05,
                                             confidence=0.9)
    assert a.to_json() == b.to_json()
    # keywords replace fields of a given options object
    assert compare(ref, cur, opts, bins=3)["x"].bins <= 3
    with pytest.raises(TypeError, match="unknown keyword 'bin'"):
        compare(ref, cur, bin=5)


@pytest.mark.parametrize(("kwargs", "word"), [
    ({"threshold": "0.1"}, "threshold must be a number"),
    ({"threshold": math.nan}, "threshold must be a finite number"),
    ({"threshold": -1}, "threshold"),
    ({"confidence": "0.9"}, "confidence must be a number"),
    ({"confidence": math.nan}, "confidence"),
    ({"bins": 2.5}, "bins must be an integer"),
    ({"bins": True}, "bins must be an integer"),
    ({"bins": 10_001}, "bins must be a positive integer"),
    ({"max_categories": 0}, "max_categories"),
    ({"max_categories": "5"}, "max_categories"),
    ({"smoothing": "lots"}, "smoothing"),
    ({"smoothing": math.inf}, "smoothing"),
    ({"drift_share": 0}, "drift_share"),
    ({"drift_share": 1.5}, "drift_share"),
    ({"tests": "yes"}, "tests"),
    ({"metrics": []}, "metrics"),
    ({"metrics": 3}, "metrics"),
    ({"metrics": ("psi", "psi")}, "metrics"),
    ({"drift_metric": 3}, "drift_metric"),
    ({"drift_metric": "kl"}, "drift_metric"),
    ({"unseen_threshold": 2}, "unseen_threshold"),
    ({"target": 3}, "target"),
    ({"columns": "x"}, "columns"),
    ({"columns": [1]}, "columns"),
    ({"delimiter": ";;"}, "delimiter"),
])
def test_every_keyword_is_checked_with_its_name(kwargs, word):
    df = pd.DataFrame({"x": np.arange(20.0)})
    with pytest.raises(ValueError, match=word):
        compare(df, df, **kwargs)


def test_metrics_as_one_string_and_with_parameters():
    rng = np.random.default_rng(3)
    ref = pd.DataFrame({"x": rng.normal(size=400)})
    cur = pd.DataFrame({"x": rng.normal(0.5, size=400)})
    c = compare(ref, cur, metrics="psi")  # not "p", "s", "i"
    assert c.metrics == ("psi",)
    c = compare(ref, cur, metrics=("psi", ("alpha", {"alpha": 0.3})))
    half = compare(ref, cur, metrics=("psi", ("alpha", {"alpha": 0.7})))
    assert c["x"]["alpha"].value != half["x"]["alpha"].value
    import divergences as dv

    p = np.asarray(c["x"].histogram.current, float)
    q = np.asarray(c["x"].histogram.reference, float)
    assert c["x"]["alpha"].value == pytest.approx(float(dv.divergence("alpha", p / p.sum(), q / q.sum(), alpha=0.3)))


@pytest.mark.parametrize("name", [d.name for d in divergences("f")])
def test_delta_method_gradient_is_the_registry_records_partials(name):
    """The tabular layer restates no formula: its gradient is the record's ∂φ/∂p, ∂φ/∂q."""
    m = resolve(name)
    p, q = np.array([0.1, 0.2, 0.3, 0.4]), np.array([0.25, 0.35, 0.15, 0.25])
    gp, gq = _gradient(m, p, q, None, None)
    ep, eq = spec(name).term().partials(p, q)
    np.testing.assert_array_equal(gp, ep)
    np.testing.assert_array_equal(gq, eq)
    # and against a direct definition: for D = Σ q f(p/q), ∂/∂p = f'(r), ∂/∂q = f(r) − r f'(r)
    gen = get(name).generator()
    r = p / q
    np.testing.assert_allclose(gp, gen.f_prime(r), rtol=1e-12)
    np.testing.assert_allclose(gq, gen.f(r) - r * gen.f_prime(r), rtol=1e-10, atol=1e-14)


def test_aliases_come_from_the_registry():
    assert resolve("psi").divergence == get("psi").name == "jeffreys"
    assert resolve("chi2").divergence == get("chi2").name == "pearson"
    assert resolve("psi").name == "psi"  # the user's name is kept for display


class _Counting(Engine):
    """An engine that records whether it was closed."""

    def __init__(self):
        self.closed = False

    def close(self):
        self.closed = True


def test_engines_are_context_managers_and_only_owned_ones_are_closed(tmp_path):
    given = _Counting()
    with opened(given, "x") as e:
        assert e is given
    assert not given.closed  # the caller owns it
    with given as e:
        pass
    assert given.closed
    path = tmp_path / "t.csv"
    pd.DataFrame({"x": [1.0, 2.0]}).to_csv(path, index=False)
    with opened(str(path), "x") as e:
        assert e.schema() == {"x": "numeric"}
    assert e._con is None
    assert profile(str(path), bins=2).columns["x"].counts == [1, 1]


def test_wasserstein_on_raw_values_from_engine_quantiles(tmp_path):
    rng = np.random.default_rng(9)
    a, b = rng.normal(size=4000), rng.normal(0.3, 1.5, size=4000)
    ref, cur = pd.DataFrame({"x": a}), pd.DataFrame({"x": b})
    path_r, path_c = tmp_path / "r.parquet", tmp_path / "c.parquet"
    ref.to_parquet(path_r)
    cur.to_parquet(path_c)
    u = np.arange(1, 100) / 100
    direct = np.mean(np.abs(np.quantile(b, u) - np.quantile(a, u))) * 99 / 100 / a.std()
    for c in (compare(ref, cur, quantiles=True), compare(str(path_r), str(path_c), quantiles=True)):
        x = c["x"]
        assert x["wasserstein_raw"].value == pytest.approx(direct, rel=1e-9)
        assert x.quantiles.levels[0] == 0.01 and x.quantiles.reference == pytest.approx(np.quantile(a, u).tolist())
        assert x.quantiles.current == pytest.approx(np.quantile(b, u).tolist())
    from scipy.stats import wasserstein_distance

    full = wasserstein_distance(a, b) / a.std()  # the tails beyond the 1st and 99th percentiles are left out
    assert 0.9 * full < c["x"]["wasserstein_raw"].value <= full


def test_compare_keywords_are_the_option_fields():
    """compare(..., **keywords) and monitor(...) are typed by CompareKeywords: it must list every option field
    (a type checker then reports a misspelt keyword, and run time names it too)."""
    from dataclasses import fields

    from divergences.tabular import compare
    from divergences.tabular.options import CompareKeywords, CompareOptions

    assert set(CompareKeywords.__annotations__) == {f.name for f in fields(CompareOptions)}
    with pytest.raises(TypeError, match="threshhold"):
        compare({"a": [1.0, 2.0]}, {"a": [1.0, 2.0]}, threshhold=0.1)  # pyright: ignore[reportCallIssue]
